"""Runs end cleanly and repeat exactly: limits give unknown (exit 3), Ctrl-C gives a partial result
(exit 130) and never a half-written file, and output is byte-identical across runs, hash seeds and
Python versions."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import ROOT, SLOW_MARKS, SPECS

NETCHECK = [sys.executable, "-m", "netcheck.checker.cli"]


def run(args: list[str], seed: str = "0", **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    return subprocess.run(NETCHECK + args, cwd=ROOT, env=env, capture_output=True, text=True, **kw)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_output_is_identical_across_hash_seeds(fmt: str) -> None:
    args = ["verify", "--no-timing", "--format", fmt, "--bound", "net=1",
            "specs/net_sem.yaml", "specs/bugs/rtnl_before_net_sem.yaml"]
    outputs = {run(args, seed).stdout for seed in ("0", "1", "12345")}
    assert len(outputs) == 1
    assert "VIOLATED" in outputs.pop().upper()


# ---------------------------------------------------------------- across Python versions

DETERMINISM_ARGS = ["verify", "--no-timing", "--bound", "net=1", "specs/net_sem.yaml",
                    "specs/bugs/rtnl_before_net_sem.yaml", "specs/bugs/register_takes_read.yaml"]


def supported_minors() -> list[tuple[int, int]]:
    """The 3.N versions pyproject.toml's requires-python admits (">=3.M"), up to 3.14."""
    m = re.search(r'^requires-python\s*=\s*">=3\.(\d+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert m, "pyproject.toml must say requires-python = \">=3.N\""
    return [(3, n) for n in range(int(m.group(1)), 15)]


def version_of(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=30).stdout.split()
    except OSError:
        return None
    return (int(out[0]), int(out[1])) if len(out) == 2 else None


def other_pythons() -> dict[str, str]:
    """'3.N' -> an interpreter of every other supported minor version on this machine: NETCHECK_PYTHONS
    (paths separated by os.pathsep) when set, else python3.N on PATH and pyenv's installed versions."""
    if os.environ.get("NETCHECK_PYTHONS"):
        candidates = os.environ["NETCHECK_PYTHONS"].split(os.pathsep)
    else:
        pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
        candidates = [shutil.which(f"python3.{n}") or "" for _, n in supported_minors()]
        candidates += sorted(str(p) for p in pyenv.glob("3.*/bin/python3"))
    found: dict[str, str] = {}
    for python in filter(None, candidates):
        version = version_of(python)
        if version in supported_minors() and version != sys.version_info[:2]:
            found.setdefault(f"{version[0]}.{version[1]}", python)
    return dict(sorted(found.items()))


OTHER_PYTHONS = other_pythons()


def netcheck_for(version: str, python: str) -> Path:
    """netcheck installed (not editable) with its runtime dependencies in .venv/pythons/VERSION, rebuilt
    when pyproject.toml or a module (the native store's C source too) changes. Built without the Cython
    modules (NETCHECK_PURE=1: compiling them took 50 of the 58 s an install took), so the comparison is
    also the compiled engine here against the Python source there."""
    venv = ROOT / ".venv" / "pythons" / version
    digest = hashlib.sha256(b"pure")
    for path in [ROOT / "pyproject.toml", *sorted(ROOT.glob("model/**/*.py")), *sorted(ROOT.glob("checker/**/*.py")),
                 *sorted(ROOT.glob("checker/**/*.c"))]:
        digest.update(str(path.relative_to(ROOT)).encode() + path.read_bytes())
    stamp = venv / ".netcheck-sources"
    if stamp.exists() and stamp.read_text() == digest.hexdigest() and (venv / "bin" / "netcheck").exists():
        return venv / "bin" / "netcheck"
    if not (venv / "bin" / "python").exists():
        subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(ROOT)],
                         timeout=900, capture_output=True, text=True, env={**os.environ, "NETCHECK_PURE": "1"})
    assert pip.returncode == 0, f"installing netcheck for Python {version} failed:\n{pip.stderr[-3000:]}"
    stamp.write_text(digest.hexdigest())
    return venv / "bin" / "netcheck"


@pytest.mark.skipif(not OTHER_PYTHONS, reason="no other supported Python version on this machine "
                    "(set NETCHECK_PYTHONS to interpreters to compare)")
# the oldest and the newest other version in the fast tier, every one in the slow tier
@pytest.mark.parametrize("version", [pytest.param(v, marks=SLOW_MARKS if 0 < i < len(OTHER_PYTHONS) - 1 else ())
                                     for i, v in enumerate(OTHER_PYTHONS)] or ["none"])
def test_output_is_identical_across_python_versions(version: str) -> None:
    """Text and JSON output under this interpreter and under another supported minor version (with
    whatever dependency versions pip picks for it) are the same bytes."""
    netcheck = netcheck_for(version, OTHER_PYTHONS[version])
    for fmt in ("text", "json"):
        args = [*DETERMINISM_ARGS, "--format", fmt]
        here = run(args, seed="7")
        there = subprocess.run([str(netcheck), *args], cwd=ROOT, capture_output=True, text=True,
                               env={**os.environ, "PYTHONHASHSEED": "99"}, timeout=600)
        assert "Traceback" not in there.stderr, there.stderr
        assert (there.returncode, there.stdout) == (here.returncode, here.stdout), f"{fmt} differs under {version}"
        assert here.returncode == 0 and here.stdout.upper().count("VIOLATED") >= 2   # as its expect: says


def test_limits_say_unknown_and_exit_3() -> None:
    for extra in (["--max-states", "500"], ["--max-depth", "5"], ["--timeout", "0.2"], ["--max-memory", "1"]):
        result = run(["verify", "--no-timing", str(SPECS / "net_sem.yaml"), *extra])
        assert result.returncode == 3, (extra, result.stdout, result.stderr)
        assert "UNKNOWN" in result.stdout and "INCOMPLETE" in result.stdout
        assert "holds   " not in result.stdout


def test_violation_before_the_limit_is_reported_with_exit_1() -> None:
    result = run(["verify", "--ignore-expect", str(SPECS / "bugs" / "first_device_not_advanced.yaml"),
                  "--max-states", "100000"])
    assert result.returncode == 1
    assert "VIOLATED    first_device_valid" in result.stdout and "Shortest counterexample" in result.stdout


def test_ctrl_c_prints_the_partial_result_and_exits_130(tmp_path) -> None:
    out = tmp_path / "result.json"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    # a search of about a minute (subsys=2), so that the signal comes while it runs
    proc = subprocess.Popen(NETCHECK + ["verify", "--format", "json", "--output", str(out), "--bound", "subsys=2",
                                        str(SPECS / "pernet_ops_rwsem.yaml")],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3.0)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, (stdout, stderr)
    assert "interrupted" in stdout + stderr
    assert "Traceback" not in stderr
    # the output file is complete (valid JSON saying incomplete) -- never half-written
    import json
    data = json.loads(out.read_text())
    assert data["complete"] is False and data["stop_reason"] == "interrupted"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_ctrl_c_ends_prove_and_the_searches_it_forked() -> None:
    """prove runs each property in a forked child (report/forked.py): Ctrl-C at the terminal (SIGINT to the
    whole process group) once a child searches exits 130 with no traceback, and no process of the group is
    left running."""
    proc = subprocess.Popen(NETCHECK + ["prove", str(ROOT / "docs" / "examples" / "pernet_callbacks.yaml")], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    if not children.exists():
        proc.kill()
        pytest.skip("no /proc children list to see the forked search in")
    waited = 0.0
    while not children.read_text().split() and proc.poll() is None and waited < 60:
        time.sleep(0.1)
        waited += 0.1
    assert proc.poll() is None and children.read_text().split(), "prove forked no search"
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, (stdout, stderr)
    assert "interrupted" in stderr and "Traceback" not in stderr
    for _ in range(50):   # the children end with their parent
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail("a process forked by prove outlived it")


def test_fast_growing_state_space_is_warned_about_early(capsys) -> None:
    from netcheck.checker.cli.run import ProgressLine
    from netcheck.checker.engine.limits import ProgressInfo

    progress = ProgressLine(enabled=False, warn=True, bounds_hint="--bound net=1")
    progress(ProgressInfo(states=150_000, depth=20, seconds=6.0, level=40_000, previous_level=20_000))
    assert capsys.readouterr().err == ""          # not yet large enough to worry
    progress(ProgressInfo(states=300_000, depth=21, seconds=8.0, level=80_000, previous_level=40_000))
    err = capsys.readouterr().err
    assert "growing fast" in err and "--bound net=1" in err and "x2.0 per level" in err
    progress(ProgressInfo(states=600_000, depth=22, seconds=12.0, level=160_000, previous_level=80_000))
    assert capsys.readouterr().err == ""          # said once


def test_progress_line_names_the_run_and_estimates_the_rest_while_levels_shrink(capsys) -> None:
    from netcheck.checker.cli.run import ProgressLine, progress_text
    from netcheck.checker.engine.limits import ProgressInfo

    growing = ProgressInfo(states=50_000, depth=12, seconds=4.0, level=6_000, previous_level=4_000,
                           next_level=1_000, memory_mb=120.4)
    assert growing.remaining() is None
    text = progress_text(growing, "net_sem.yaml (net=2)")
    assert text.startswith("  net_sem.yaml (net=2): 50,000 states, depth 12, 12,500 states/s, 4 s, 120 MB")
    assert "levels growing x1.50" in text and "done" not in text
    # halving levels: 2,000 + 1,000 + 500 + ... = 4,000 still to come, 1,500 of them already found
    shrinking = ProgressInfo(states=100_000, depth=40, seconds=10.0, level=4_000, previous_level=8_000,
                             next_level=1_500, memory_mb=300.0)
    assert shrinking.remaining() == 4_000 - 1_500
    assert "about 98 % done, 0 s left" in progress_text(shrinking)
    steady = ProgressInfo(states=100_000, depth=40, seconds=10.0, level=7_950, previous_level=8_000)
    assert steady.remaining() is None and "levels steady, no estimate yet" in progress_text(steady)
    # the line is drawn after two seconds only, and cleared to its full length
    line = ProgressLine(enabled=True, warn=False, bounds_hint="", label="x.yaml")
    line(ProgressInfo(states=10, depth=1, seconds=1.0, level=1, previous_level=1))
    assert capsys.readouterr().err == ""
    line(shrinking)
    drawn = capsys.readouterr().err
    assert drawn.startswith("\r  x.yaml: 100,000 states") and line.shown == len(drawn) - 1
    line.clear()
    assert capsys.readouterr().err == "\r" + " " * (len(drawn) - 1) + "\r"
