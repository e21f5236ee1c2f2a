"""Where a thread stands, in the spec's own words: each visible step of a thread as a place `FILE:LINE` (the
statement's file name and line), `FILE:LINE#K` when the thread reaches that statement at several visible
steps (the K-th in program order: a procedure called twice, a statement with several steps), and
`finished`. Lemmas ask `at(THREAD, PLACE, ...)` (model/lang/expr.py); smt.py resolves places through this
table, and `netcheck prove` writes sets of program counters back as places. The table also says where each
local name of a thread is in use, and in which slot (`local(THREAD, NAME)`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..lang.expr import PLACE_FINISHED
from .program import locals_by_frame, locals_named

if TYPE_CHECKING:
    from .system import Thread


class PlaceError(ValueError):
    """An at() place that is no visible statement of that thread, or a local() it never has."""


@dataclass(frozen=True)
class ThreadPlaces:
    """One thread instance's places: place -> its program counters (visible steps, in program order)."""

    tid: int
    name: str
    pcslot: int
    places: Mapping[str, tuple[int, ...]]
    finished: int
    # local name -> (program counter, its slot there) at every visible step where a frame declaring it runs
    locals: Mapping[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)

    def local(self, name: str) -> tuple[tuple[int, int], ...]:
        """Where the local `name` is in use, and its slot there (PlaceError: nowhere)."""
        found = self.locals.get(name)
        if not found:
            known = ", ".join(sorted(self.locals)) or "none"
            raise PlaceError(f"{self.name} runs no procedure with a local '{name}' (its locals: {known})")
        return found

    def pcs(self, place: str) -> tuple[int, ...]:
        """The program counters of a place as written (`FILE:LINE`, a path ending in FILE, `#K`, finished)."""
        if place == PLACE_FINISHED:
            return (self.finished,)
        where, _, k = place.partition("#")
        file, _, line = where.rpartition(":")
        found = self.places.get(f"{os.path.basename(file)}:{line}")
        if found is None or (k and not 1 <= int(k) <= len(found)):
            known = ", ".join(sorted(self.places, key=_order)) or "none"
            raise PlaceError(f"{self.name} has no visible statement at {place} (its places: {known}, finished)")
        return (found[int(k) - 1],) if k else found

    def place(self, pc: int) -> str:
        """The place of one program counter: `FILE:LINE`, with `#K` when the statement has several steps."""
        if pc == self.finished:
            return PLACE_FINISHED
        for where, pcs in self.places.items():
            if pc in pcs:
                return where if len(pcs) == 1 else f"{where}#{pcs.index(pc) + 1}"
        raise KeyError(pc)

    def written(self, pcs: frozenset[int]) -> tuple[str, ...]:
        """A set of program counters as few places as say exactly that set, in program order."""
        out: list[str] = []
        for where, own in sorted(self.places.items(), key=lambda kv: _order(kv[0])):
            inside = [p for p in own if p in pcs]
            if len(inside) == len(own):
                out.append(where)
            else:
                out.extend(f"{where}#{own.index(p) + 1}" for p in inside)
        if self.finished in pcs:
            out.append(PLACE_FINISHED)
        return tuple(out)


def thread_places(threads: list[Thread]) -> dict[str, ThreadPlaces]:
    """Thread instance name -> its places."""
    out = {}
    for t in threads:
        places: dict[str, list[int]] = {}
        named, by_frame = locals_named(t.nodes), locals_by_frame(t.nodes)
        locals_: dict[str, list[tuple[int, int]]] = {}
        for pc, step in enumerate(t.steps):
            if step is not None and pc < len(named):
                for name, slot in (*named[pc].items(), *by_frame[pc].items()):
                    locals_.setdefault(name, []).append((pc, slot))
            node = t.nodes[pc] if pc < len(t.nodes) else None
            if step is None or node is None or node.stmt is None:
                continue
            span = node.stmt.span
            places.setdefault(f"{os.path.basename(span.file)}:{span.line}", []).append(pc)
        out[t.name] = ThreadPlaces(t.tid, t.name, t.pcslot, {k: tuple(v) for k, v in places.items()}, t.finished,
                                   {k: tuple(v) for k, v in locals_.items()})
    return out


def _order(place: str) -> tuple[str, int]:
    file, _, line = place.rpartition(":")
    return file, int(line)


__all__ = ["PlaceError", "ThreadPlaces", "thread_places"]
