"""lockdep's interrupt-safety rules over the lock-order graph (Documentation/locking/lockdep-design.rst,
"Single-lock state rules" and "Multi-lock dependency rules").

Each acquisition marks its lock class with usage bits, as `mark_usage()` in kernel/locking/lockdep.c does:
IN-HARDIRQ-W (taken in hardirq context) or IN-SOFTIRQ-W (softirq context), not for a trylock; HARDIRQ-ON-W
(taken with hardirqs enabled) and, with softirqs enabled too, SOFTIRQ-ON-W. A class that is IN-HARDIRQ-W
(IRQ-safe) and HARDIRQ-ON-W (IRQ-unsafe) is an "inconsistent lock state": the interrupt may arrive on the
CPU holding it. A path A -> ... -> B in the graph from an IRQ-safe A to an IRQ-unsafe B is an "IRQ-safe ->
IRQ-unsafe lock order": the interrupt taking A on a CPU that holds B, while another CPU holding A waits for
B, deadlocks. The same for softirqs. lockdep reports both without the deadlock ever happening; so does
`netcheck locks` (the lock_order property).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from netcheck.model.lang.lockapi import LOCK_API
from netcheck.model.semantics.contexts import Context

from .lockdeps import Dependency, Site

IRQ_KINDS = ("HARDIRQ", "SOFTIRQ")
MAX_CONFLICTS = 50


@dataclass(frozen=True, order=True)
class Usage:
    """A lock class's usage bit (IN-HARDIRQ-W, HARDIRQ-ON-W, ...), where it was first seen and by whom."""

    lock: str
    usage: str
    site: Site
    threads: tuple[str, ...] = ()
    state: int = -1


@dataclass(frozen=True)
class IrqConflict:
    """An IRQ-safe class and an IRQ-unsafe one: the same class (`inconsistent`), or reached from the safe
    one by `deps` (an IRQ-safe -> IRQ-unsafe order, `chain` the classes from one to the other)."""

    irq: str                                  # HARDIRQ or SOFTIRQ
    safe: Usage
    unsafe: Usage
    chain: tuple[str, ...]
    deps: tuple[Dependency, ...] = ()

    @property
    def inconsistent(self) -> bool:
        return len(self.chain) == 1

    @property
    def title(self) -> str:
        if self.inconsistent:
            return "WARNING: inconsistent lock state"
        return f"WARNING: {self.irq}-safe -> {self.irq}-unsafe lock order detected"

    @property
    def message(self) -> str:
        if self.inconsistent:
            return f"inconsistent {{{self.safe.usage}}} -> {{{self.unsafe.usage}}} usage of {self.chain[0]}"
        return (f"{self.irq}-safe -> {self.irq}-unsafe lock order: {' --> '.join(self.chain)} "
                f"({self.chain[0]} is taken in {self.irq.lower()} context, {self.chain[-1]} with "
                f"{self.irq.lower()}s enabled)")


def usage_bits(context: Context, op: str, s: Sequence) -> tuple[str, ...]:
    """The usage bits an acquisition by `op` in state `s` marks, from the thread's context and its interrupt
    state once the operation's own disabling is done (spin_lock_irqsave takes the lock with hardirqs off)."""
    info = LOCK_API[op]
    suffix = "R" if info.mode == "read" else "W"
    hardirq, softirq = context.kind == "hardirq", context.kind == "softirq"
    irqs_off = hardirq or info.irq in ("irq", "irqsave") or (context.irqs_off >= 0 and bool(s[context.irqs_off]))
    bh_off = softirq or info.irq == "bh" or (context.bh_depth >= 0 and bool(s[context.bh_depth]))
    out = []
    if not info.trylock:
        out += [f"IN-HARDIRQ-{suffix}"] if hardirq else []
        out += [f"IN-SOFTIRQ-{suffix}"] if softirq else []
    if not irqs_off:
        out.append(f"HARDIRQ-ON-{suffix}")
        if not bh_off:
            out.append(f"SOFTIRQ-ON-{suffix}")
    return tuple(out)


def irq_conflicts(deps: Sequence[Dependency], usages: Sequence[Usage]) -> tuple[IrqConflict, ...]:
    """Every inconsistent class and every shortest IRQ-safe -> IRQ-unsafe path, hardirqs first, then by
    name (at most MAX_CONFLICTS)."""
    first: dict[tuple[str, str], Usage] = {}
    for u in sorted(usages, key=lambda u: (u.state, u)):
        first.setdefault((u.lock, u.usage), u)
    edges: dict[str, dict[str, Dependency]] = {}
    for d in sorted(deps, key=lambda d: (d.state, d)):
        edges.setdefault(d.held, {}).setdefault(d.acquired, d)
    out: list[IrqConflict] = []
    for irq in IRQ_KINDS:
        safe = sorted((lock, u) for (lock, bit), u in first.items() if bit == f"IN-{irq}-W")
        unsafe = {lock: u for (lock, bit), u in first.items() if bit == f"{irq}-ON-W"}
        for lock, u in safe:
            if lock in unsafe:
                out.append(IrqConflict(irq, u, unsafe[lock], (lock,)))
            for path in _paths_to(lock, unsafe, edges):
                out.append(IrqConflict(irq, u, unsafe[path[-1].acquired], (lock, *(d.acquired for d in path)),
                                       tuple(path)))
    return tuple(out[:MAX_CONFLICTS])


def _paths_to(start: str, targets: dict[str, Usage], edges: dict[str, dict[str, Dependency]]) -> list[list[Dependency]]:
    """A shortest path (its dependencies) from `start` to each target class other than itself, by name."""
    back: dict[str, Dependency | None] = {start: None}
    todo = deque([start])
    while todo:
        at = todo.popleft()
        for to in sorted(edges.get(at, {})):
            if to not in back:
                back[to] = edges[at][to]
                todo.append(to)
    out = []
    for target in sorted(targets):
        if target == start or target not in back:
            continue
        path: list[Dependency] = []
        at = target
        while (dep := back[at]) is not None:
            path.append(dep)
            at = dep.held
        out.append(path[::-1])
    return out


__all__ = ["IrqConflict", "Usage", "irq_conflicts", "usage_bits"]
