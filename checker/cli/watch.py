"""`verify --watch`: verify again whenever a spec file (or a file it extends) changes, until Ctrl-C.

A polling loop over the files' modification times and sizes, no dependency: editors that save by
writing a new file and renaming it over the old one are seen as well.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable

import click

from ..engine.vocabulary import EXIT_INTERRUPTED
from .run import expand_specs

POLL_SECONDS = 0.3
Stamp = tuple[int, int] | None   # (mtime in ns, size), None for a file that is not there
Run = Callable[[], tuple[int, set[str]]]   # verify once: the exit code and the files the specs were read from


def watched_specs(specs: tuple[str, ...]) -> list[str]:
    """The spec files the arguments stand for now (a directory: those below it now; none while it holds
    none, until one appears)."""
    try:
        return expand_specs(specs)
    except click.BadParameter:
        return []


def stamps(files: Iterable[str]) -> dict[str, Stamp]:
    """Each file's modification time and size, or None when it cannot be read."""
    out: dict[str, Stamp] = {}
    for name in sorted(set(files)):
        try:
            st = os.stat(name)
        except OSError:
            out[name] = None
            continue
        out[name] = (st.st_mtime_ns, st.st_size)
    return out


def watch(run: Run, given: Callable[[], set[str]]) -> None:
    """Run, then run again after each change of the files it read or of the `given` ones (which a
    directory argument can add to), until Ctrl-C (exit 130) or a run that was itself interrupted."""
    seen = stamps(given())
    while True:
        code, files = run()
        if code == EXIT_INTERRUPTED:
            sys.exit(EXIT_INTERRUPTED)
        seen = {**stamps(files - set(seen)), **seen}   # files first read by this run
        click.echo(f"netcheck: watching {len(seen)} file{'s' * (len(seen) != 1)} for changes (Ctrl-C to stop)",
                   err=True)
        seen, changed = _wait_for_change(seen, given)
        click.echo(f"\nnetcheck: {', '.join(changed)} changed: verifying again", err=True)


def _wait_for_change(seen: dict[str, Stamp], given: Callable[[], set[str]]) -> tuple[dict[str, Stamp], list[str]]:
    """Poll until a watched file changes (or a new spec appears): the new stamps and what changed."""
    while True:
        time.sleep(POLL_SECONDS)
        now = stamps({*seen, *given()})
        changed = [name for name, stamp in now.items() if seen.get(name, None) != stamp or name not in seen]
        if changed:
            return now, changed
