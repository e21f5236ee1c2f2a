"""Run `netcheck` command lines in-process, the way a shell would, for the generated docs and golden files.

`run("netcheck verify --no-timing specs/net_sem.yaml")` gives the exit code and what the terminal shows
(stdout, and stderr where it is interleaved). Runs go through the real command line (click's CliRunner on
`netcheck.checker.cli.main`) from the repository root. Within `shared_explorations()`, every exploration
of the same spec with the same bounds and limits is done once and reused by later commands, so that
several output formats of one spec cost one exploration: the runs hand the command line one
`ExplorationCache` as click's context object, and the commands look their verifications up there.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner
from netcheck.checker.cli import main
from netcheck.checker.cli.run import ExplorationCache

ROOT = Path(__file__).resolve().parent.parent
CACHE = ExplorationCache()
_sharing = 0   # how many shared_explorations() blocks are open


@dataclass(frozen=True)
class Run:
    command: str
    exit_code: int
    stdout: str
    output: str    # stdout and stderr as a terminal shows them


@contextlib.contextmanager
def shared_explorations() -> Iterator[None]:
    """Reuse explorations across the commands run inside (the cache lives as long as the process)."""
    global _sharing
    _sharing += 1
    try:
        yield
    finally:
        _sharing -= 1


def cache() -> ExplorationCache | None:
    """The shared explorations inside shared_explorations(), else None."""
    return CACHE if _sharing else None


def forget() -> None:
    """Drop the shared explorations (they hold every state of every spec explored)."""
    CACHE.clear()


def run_process(command: str) -> Run:
    """Run one `netcheck ...` command line in a process of its own, from the repository root: for outputs that
    depend on z3's state (Spacer's invariants follow the terms built before them in the same process)."""
    argv = shlex.split(command)
    assert argv[0] == "netcheck", command
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    done = subprocess.run([sys.executable, "-m", "netcheck.checker.cli", *argv[1:]], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode == 4:
        raise RuntimeError(f"{command}: {done.stderr}")
    return Run(command, done.returncode, done.stdout, done.stdout + done.stderr)


def run(command: str) -> Run:
    """Run one `netcheck ...` command line from the repository root."""
    argv = shlex.split(command)
    assert argv[0] == "netcheck", command
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        env = {"NO_COLOR": "1", "COLUMNS": "100"}
        result = CliRunner(env=env).invoke(main, argv[1:], prog_name="netcheck", obj=cache())
    finally:
        os.chdir(cwd)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise RuntimeError(f"{command}: {result.exception!r}") from result.exception
    return Run(command, result.exit_code, result.stdout, result.output)
