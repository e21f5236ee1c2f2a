"""Regenerate the golden output files in tests/golden/ (`make golden`); tests/test_outputs.py compares them.

Every output format (text, text with --trace steps, json, junit, sarif) and `netcheck explain`, on the
flagship spec and on one bug, all with --no-timing: the outputs hold no timings and no absolute paths, so
they are the same bytes on every machine. tests/golden/MANIFEST.tsv records each file's command and exit
code. Run with --check to compare instead of writing (exit 1 on a difference).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli_runs import ROOT, run, shared_explorations  # noqa: E402

GOLDEN_DIR = ROOT / "tests" / "golden"
SPEC = "specs/net_sem.yaml"
BUG = "specs/bugs/setup_undo_exits_all.yaml"


def cases() -> list[tuple[str, str]]:
    """(golden file name, command line)."""
    out = []
    # the bug's text and JSON show its expect: met; its JUnit and SARIF judge the plain verdicts
    # (--ignore-expect), so that they show violations as CI tools see them: failures, alerts
    for stem, spec, plain in (("net_sem", SPEC, ""), ("setup_undo_exits_all", BUG, " --ignore-expect")):
        out += [(f"{stem}.txt", f"netcheck verify --no-timing {spec}"),
                (f"{stem}.json", f"netcheck verify --no-timing --format json {spec}"),
                (f"{stem}.junit.xml", f"netcheck verify --no-timing{plain} --format junit {spec}"),
                (f"{stem}.sarif", f"netcheck verify --no-timing{plain} --format sarif {spec}")]
    out += [("setup_undo_exits_all.steps.txt", f"netcheck verify --no-timing --trace steps {BUG}"),
            ("net_sem.explain.txt", f"netcheck explain {SPEC} init_exit_pairing"),
            ("setup_undo_exits_all.explain.txt", f"netcheck explain {BUG} init_exit_pairing exits_in_reverse_order")]
    return out


def generate() -> dict[str, tuple[str, int, str]]:
    """file name -> (command, exit code, output)."""
    results = {}
    with shared_explorations():
        for name, command in cases():
            r = run(command)
            results[name] = (command, r.exit_code, r.stdout)
    return results


def manifest(results: dict[str, tuple[str, int, str]]) -> str:
    lines = ["# file\texit\tcommand (run from the repository root; regenerate with `make golden`)"]
    lines += [f"{name}\t{code}\t{command}" for name, (command, code, _) in results.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    results = generate()
    files = {name: out for name, (_, _, out) in results.items()}
    files["MANIFEST.tsv"] = manifest(results)
    if "--check" in argv:
        stale = [n for n, text in files.items()
                 if not (GOLDEN_DIR / n).exists() or (GOLDEN_DIR / n).read_text(encoding="utf-8") != text]
        for name in stale:
            print(f"golden file differs: tests/golden/{name}")
        return 1 if stale else 0
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (GOLDEN_DIR / name).write_text(text, encoding="utf-8")
        print(f"wrote tests/golden/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
