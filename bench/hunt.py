"""How fast `netcheck hunt` finds each shipped bug at `--bound net=3`, with 1 and 2 workers, next to
`netcheck verify` (the breadth-first search, which stops once every violation expect: lists is found):
a Markdown table.

Each hunt is `netcheck hunt SPEC --bound net=3 --workers W --seed S --time LIMIT --format json` in a fresh
process (2 workers: a local Ray cluster started by the command), run for several seeds. Per bug and worker
count the table gives the medians over the seeds of: the hunting time until the first violation the bug's
expect: names was found ("first"), until every one hunt looks for was ("all"), and the wall time of the
command (start-up, Ray and compiling the spec in each worker, shortening the traces); a seed that did not
find them all within the limit counts as the limit (shown as `>LIMIT`).

    python bench/hunt.py [--seeds 3] [--limit 120] [--no-verify]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NETCHECK = str(Path(sys.executable).with_name("netcheck"))
BOUNDS = ("--bound", "net=3")


def run(args: list[str], limit: float) -> tuple[str, float, bool]:
    """A netcheck command's output, its wall time, and whether it ended within `limit` seconds."""
    started = time.perf_counter()
    try:
        out = subprocess.run([NETCHECK, *args], cwd=ROOT, capture_output=True, text=True, timeout=limit, check=False)
    except subprocess.TimeoutExpired:
        return "", time.perf_counter() - started, False
    if out.returncode not in (0, 1, 3):
        raise SystemExit(f"netcheck {' '.join(args)} failed ({out.returncode}):\n{out.stderr}")
    return out.stdout, time.perf_counter() - started, True


def hunt(spec: str, workers: int, seed: int, limit: float) -> tuple[float, float, float]:
    """(first, all, wall) seconds of one hunt; the limit where it found too little."""
    out, wall, _ = run(["hunt", spec, *BOUNDS, "--workers", str(workers), "--seed", str(seed), "--time", str(limit),
                        "--format", "json"], limit + 120)
    data = json.loads(out)
    found = {v["name"]: v["seconds"] for v in data["violations"]}
    expect = data["expect"]
    wanted = [p for p in expect["violated"] if p not in expect["not_looked_for"]]
    first = found.get(expect["violated"][0], limit)
    every = max((found.get(p, limit) for p in wanted), default=limit) if not expect["missing"] else limit
    return first, every, wall


def verify(spec: str, limit: float) -> float | None:
    """The wall time of `netcheck verify` (None: over the limit)."""
    _, wall, ended = run(["verify", spec, *BOUNDS, "-q"], limit)
    return wall if ended else None


def cell(values: list[float], limit: float) -> str:
    median = statistics.median(values)
    return f">{limit:g}" if median >= limit else f"{median:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--limit", type=float, default=120.0)
    parser.add_argument("--no-verify", action="store_true")
    args = parser.parse_args()
    seeds = range(args.seeds)
    print(f"netcheck hunt at net=3: medians over seeds {', '.join(map(str, seeds))}; first / all: hunting time (s) "
          f"until the first expected violation / every one hunt looks for; wall: the whole command (s)")
    print()
    head = "| bug | 1 worker: first | all | wall | 2 workers: first | all | wall |"
    rule = "|---|---:|---:|---:|---:|---:|---:|"
    if not args.no_verify:
        head, rule = head + " verify (s) |", rule + "---:|"
    print(head)
    print(rule)
    for path in sorted((ROOT / "specs" / "bugs").glob("*.yaml")):
        spec = str(path.relative_to(ROOT))
        row = [path.stem]
        for workers in (1, 2):
            runs = [hunt(spec, workers, seed, args.limit) for seed in seeds]
            row += [cell([r[0] for r in runs], args.limit), cell([r[1] for r in runs], args.limit),
                    f"{statistics.median(r[2] for r in runs):.1f}"]
        if not args.no_verify:
            took = verify(spec, args.limit)
            row.append(f"{took:.1f}" if took is not None else f">{args.limit:g}")
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
