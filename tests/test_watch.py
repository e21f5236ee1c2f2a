"""`netcheck verify --watch`, driven in a subprocess as a user runs it: a first run, a second one after
the spec is saved, a spec error that does not end the loop, a spec added to a watched folder, and
Ctrl-C ending it with exit 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from netcheck.checker.cli.tools import SCAFFOLD
from netcheck.checker.cli.watch import stamps

WAIT = 60.0   # seconds to wait for an expected output (a loaded machine is slow to start Python)


class Watch:
    """A running `netcheck verify --watch -q --no-timing TARGET`, its output in files."""

    def __init__(self, proc: subprocess.Popen, out: Path, err: Path):
        self.proc, self.out, self.err = proc, out, err
        self.code: int | None = None

    def wait_for(self, text: str, count: int = 1, stderr: bool = False) -> None:
        """Until `text` was written `count` times (to stdout, or to stderr)."""
        where = self.err if stderr else self.out
        deadline = time.monotonic() + WAIT
        while where.read_text().count(text) < count:
            assert self.proc.poll() is None, f"netcheck --watch ended early with exit {self.proc.returncode}"
            assert time.monotonic() < deadline, f"timed out waiting for {text!r}"
            time.sleep(0.05)

    def interrupt(self) -> None:
        """Ctrl-C, and the exit code it ends with."""
        self.proc.send_signal(signal.SIGINT)
        self.code = self.proc.wait(timeout=WAIT)


@contextmanager
def watching(tmp_path: Path, target: str) -> Iterator[Watch]:
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "netcheck.checker.cli", "verify", "--watch", "-q",
                                 "--no-timing", target], stdout=stdout, stderr=stderr, cwd=tmp_path,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=_terminal_sigint)
        try:
            yield Watch(proc, out, err)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _terminal_sigint() -> None:
    """In the child, Ctrl-C as a terminal delivers it: a test process that runs a library which leaves
    SIGINT ignored (an ignored signal stays ignored across exec) must not make the watch deaf to it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def scaffold(path: Path) -> Path:
    path.write_text(SCAFFOLD.format(name=path.stem, quoted=path.stem, file=path.name), encoding="utf-8")
    return path


def test_watch_reruns_on_save_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    spec = scaffold(tmp_path / "w.yaml")
    with watching(tmp_path, "w.yaml") as watch:
        watch.wait_for("OK: all 6 properties hold")
        watch.wait_for("watching 1 file for changes (Ctrl-C to stop)", stderr=True)
        spec.write_text(spec.read_text().replace('"writers <= 1"', '"writers <= 0"'), encoding="utf-8")
        watch.wait_for("VIOLATED: 1 of 6 properties fail (one_writer)")
        assert "w.yaml changed: verifying again" in watch.err.read_text()
        spec.write_text(spec.read_text().replace("mutex_lock: outer_lock", "mutex_lok: outer_lock"), encoding="utf-8")
        watch.wait_for("error[NC207]: unknown statement 'mutex_lok'", stderr=True)
        watch.wait_for("watching 1 file", count=3, stderr=True)
        watch.interrupt()
    err = watch.err.read_text()
    assert watch.code == 130 and watch.out.read_text().count("properties") == 2
    assert err.endswith("netcheck: interrupted\n") and "Traceback" not in err


def test_watching_a_folder_picks_up_a_new_spec(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    scaffold(tmp_path / "specs" / "a.yaml")
    with watching(tmp_path, "specs") as watch:
        watch.wait_for("watching 1 file", stderr=True)
        scaffold(tmp_path / "specs" / "b.yml")
        watch.wait_for("watching 2 files", stderr=True)
        watch.interrupt()
    assert watch.code == 130 and "specs/b.yml changed: verifying again" in watch.err.read_text()
    assert [line.split(":")[0] for line in watch.out.read_text().splitlines()] == ["specs/a.yaml", "specs/a.yaml",
                                                                                   "specs/b.yml"]


def test_a_missing_file_has_no_stamp_and_a_saved_one_a_new_one(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    assert stamps([str(path)]) == {str(path): None}
    path.write_text("a", encoding="utf-8")
    first = stamps([str(path)])[str(path)]
    path.write_text("ab", encoding="utf-8")
    assert first is not None and stamps([str(path)])[str(path)] not in (None, first)
