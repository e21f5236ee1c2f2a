"""The lock-order graph's vocabulary: where a lock is taken (`Site`), one dependency A -> B with lockdep's
kind (`Dependency`), the lock wrappers a site looks through. lockorder.py builds the graph and its cycles,
irqsafety.py lockdep's interrupt-safety rules over it."""

from __future__ import annotations

from dataclasses import dataclass, field

from netcheck.model.lang.lockapi import lock_wrappers as wrapper_ops
from netcheck.model.lang.spec import Spec
from netcheck.model.semantics import ir

SHARED_MODES = ("read", "rread")
RECURSIVE_MODES = ("rread",)


def dep_kind(held_mode: str, acquired_mode: str) -> str:
    """lockdep's dependency kind: EN, ER, SN or SR."""
    return ("S" if held_mode in SHARED_MODES else "E") + ("R" if acquired_mode in RECURSIVE_MODES else "N")


def mode_suffix(mode: str) -> str:
    """`(R)`, `(W)` or `` for a class name printed with the mode it is held or taken in."""
    return {"read": "(R)", "rread": "(RR)", "write": "(W)"}.get(mode, "")


@dataclass(frozen=True, order=True)
class Site:
    """An acquisition in the spec: file:line, the procedure, the statement."""

    location: str
    function: str
    statement: str
    stack: tuple[str, ...] = ()   # the procedure call chain, outermost first (the thread's procedure)
    context: str = ""             # the innermost procedure that is not a lock wrapper such as rtnl_lock()

    def __str__(self) -> str:
        if not self.location:
            return self.statement
        callers = " < ".join(f"{f}()" for f in reversed(self.stack[:-1]))
        return f"{self.location} {self.function}(): {self.statement}" + (f"  [from {callers}]" if callers else "")


NO_SITE = Site("", "", "(held from the initial state)")


def lock_wrappers(spec: Spec) -> frozenset[str]:
    """Procedures whose whole body is one lock operation (rtnl_lock(), rtnl_unlock())."""
    return frozenset(wrapper_ops(spec))


def node_site(node: ir.Node | None, wrappers: frozenset[str] = frozenset()) -> Site:
    """The site of an IR node: its statement, procedure and call chain."""
    if node is None or node.stmt is None:
        return NO_SITE
    frame = tuple(node.frame)
    context = next((f for f in reversed(frame) if f not in wrappers), frame[-1] if frame else "")
    return Site(node.stmt.span.short, frame[-1] if frame else "", node.stmt.text, frame, context)


@dataclass(frozen=True, order=True)
class Dependency:
    """One A -> B dependency: `held` (in held_mode, taken at held_site) is held while `acquired` is taken."""

    held: str
    held_mode: str
    acquired: str
    acquired_mode: str
    held_site: Site
    acquired_site: Site
    threads: tuple[str, ...] = ()   # thread instances seen doing it
    state: int = -1                  # first (BFS-order) state witnessing it; -1 for synthetic graphs
    # the lock instances held exclusively (mutex, spinlock, rwsem for write) in every explored state showing
    # it, the two it is about excepted: the candidates for a gate
    held_with: tuple[str, ...] = field(default=(), compare=False)

    @property
    def kind(self) -> str:
        return dep_kind(self.held_mode, self.acquired_mode)


__all__ = ["NO_SITE", "RECURSIVE_MODES", "SHARED_MODES", "Dependency", "Site", "dep_kind", "lock_wrappers",
           "mode_suffix", "node_site"]
