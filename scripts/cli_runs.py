"""Run `netcheck` command lines in-process, the way a shell would, for the generated docs and golden files.

`run("netcheck verify --no-timing specs/net_sem.yaml")` gives the exit code and what the terminal shows
(stdout, and stderr where it is interleaved). Runs go through the real command line (click's CliRunner on
`netcheck.checker.cli.main`) from the repository root. Within `shared_explorations()`, every exploration
of the same spec with the same bounds and limits is done once and reused by later commands, so that
several output formats of one spec cost one exploration.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner
from netcheck.checker import cli

ROOT = Path(__file__).resolve().parent.parent
_CACHE: dict[tuple, tuple] = {}


@dataclass(frozen=True)
class Run:
    command: str
    exit_code: int
    stdout: str
    output: str    # stdout and stderr as a terminal shows them


def _memo(original):
    def verify_one(path, bounds, limits, graph, progress_enabled, use_expect=True):
        if graph is not None:
            return original(path, bounds, limits, graph, progress_enabled, use_expect)
        key = (str(path), tuple(sorted(bounds.items())), limits, use_expect)
        if key not in _CACHE:
            _CACHE[key] = original(path, bounds, limits, graph, False, use_expect)
        return _CACHE[key]
    verify_one.shared = True  # type: ignore[attr-defined]
    return verify_one


@contextlib.contextmanager
def shared_explorations() -> Iterator[None]:
    """Reuse explorations across the commands run inside (the cache lives as long as the process)."""
    original = cli.verify_one
    if getattr(original, "shared", False):
        yield
        return
    cli.verify_one = _memo(original)
    try:
        yield
    finally:
        cli.verify_one = original


def forget() -> None:
    """Drop the shared explorations (they hold every state of every spec explored)."""
    _CACHE.clear()


def run(command: str) -> Run:
    """Run one `netcheck ...` command line from the repository root."""
    argv = shlex.split(command)
    assert argv[0] == "netcheck", command
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        env = {"NO_COLOR": "1", "COLUMNS": "100"}
        result = CliRunner(env=env).invoke(cli.main, argv[1:], prog_name="netcheck")
    finally:
        os.chdir(cwd)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise RuntimeError(f"{command}: {result.exception!r}") from result.exception
    return Run(command, result.exit_code, result.stdout, result.output)
