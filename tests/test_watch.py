"""`netcheck verify --watch`, driven in a subprocess as a user runs it: a first run, a second one after
the spec is saved, a spec error that does not end the loop, and Ctrl-C ending it with exit 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from netcheck.checker.cli.tools import SCAFFOLD
from netcheck.checker.cli.watch import stamps

WAIT = 60.0   # seconds to wait for an expected output (a loaded machine is slow to start Python)


def wait_for(what: Callable[[], bool], proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + WAIT
    while not what():
        assert proc.poll() is None, f"netcheck --watch ended early with exit {proc.returncode}"
        assert time.monotonic() < deadline, "timed out waiting for --watch"
        time.sleep(0.05)


def test_watch_reruns_on_save_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    spec = tmp_path / "w.yaml"
    spec.write_text(SCAFFOLD.format(name="w", quoted="w", file="w.yaml"), encoding="utf-8")
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "netcheck.checker.cli", "verify", "--watch", "-q",
                                 "--no-timing", str(spec)], stdout=stdout, stderr=stderr, cwd=tmp_path,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            def shown(text: str, count: int = 1, where: Path = out) -> Callable[[], bool]:
                return lambda: where.read_text().count(text) >= count
            wait_for(shown("OK: all 6 properties hold"), proc)
            wait_for(shown("watching 1 file for changes (Ctrl-C to stop)", where=err), proc)
            spec.write_text(spec.read_text().replace('"writers <= 1"', '"writers <= 0"'), encoding="utf-8")
            wait_for(shown("VIOLATED: 1 of 6 properties fail (one_writer)"), proc)
            assert "w.yaml changed: verifying again" in err.read_text()
            spec.write_text(spec.read_text().replace("mutex_lock: outer_lock", "mutex_lok: outer_lock"),
                            encoding="utf-8")
            wait_for(shown("error[NC207]: unknown statement 'mutex_lok'", where=err), proc)
            wait_for(shown("watching 1 file", count=3, where=err), proc)
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=WAIT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert code == 130
    assert out.read_text().count("properties") == 2 and err.read_text().endswith("netcheck: interrupted\n")
    assert "Traceback" not in err.read_text()


def test_a_missing_file_has_no_stamp_and_a_saved_one_a_new_one(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    assert stamps([str(path)]) == {str(path): None}
    path.write_text("a", encoding="utf-8")
    first = stamps([str(path)])[str(path)]
    path.write_text("ab", encoding="utf-8")
    assert first is not None and stamps([str(path)])[str(path)] not in (None, first)
