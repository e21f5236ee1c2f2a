"""Runs end cleanly and repeat exactly: limits give unknown (exit 3), Ctrl-C gives a partial result
(exit 130) and never a half-written file, and output is byte-identical across runs and hash seeds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from helpers import ROOT, SPECS

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


def test_limits_say_unknown_and_exit_3() -> None:
    for extra in (["--max-states", "500"], ["--max-depth", "5"], ["--timeout", "0.2"], ["--max-memory", "1"]):
        result = run(["verify", "--no-timing", str(SPECS / "net_sem.yaml"), *extra])
        assert result.returncode == 3, (extra, result.stdout, result.stderr)
        assert "UNKNOWN" in result.stdout and "INCOMPLETE" in result.stdout
        assert "holds   " not in result.stdout


def test_violation_before_the_limit_is_reported_with_exit_1() -> None:
    result = run(["verify", str(SPECS / "bugs" / "first_device_not_advanced.yaml"), "--max-states", "100000"])
    assert result.returncode == 1
    assert "VIOLATED    first_device_valid" in result.stdout and "Shortest counterexample" in result.stdout


def test_ctrl_c_prints_the_partial_result_and_exits_130(tmp_path) -> None:
    out = tmp_path / "result.json"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.Popen(NETCHECK + ["verify", "--format", "json", "--output", str(out),
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


def test_fast_growing_state_space_is_warned_about_early(capsys) -> None:
    from netcheck.checker.cli import ProgressLine
    from netcheck.checker.explore import ProgressInfo

    progress = ProgressLine(enabled=False, warn=True, bounds_hint="--bound net=1")
    progress(ProgressInfo(states=150_000, depth=20, seconds=6.0, level=40_000, previous_level=20_000))
    assert capsys.readouterr().err == ""          # not yet large enough to worry
    progress(ProgressInfo(states=300_000, depth=21, seconds=8.0, level=80_000, previous_level=40_000))
    err = capsys.readouterr().err
    assert "growing fast" in err and "--bound net=1" in err and "x2.0 per level" in err
    progress(ProgressInfo(states=600_000, depth=22, seconds=12.0, level=160_000, previous_level=80_000))
    assert capsys.readouterr().err == ""          # said once
