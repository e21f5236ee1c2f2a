"""Interrupt contexts as data: per thread, what it runs as, on whose CPU, when it may step, why it may not sleep.

A process-context thread is a CPU. A thread in hardirq or softirq context that `interrupts:` one runs on
that CPU: it starts with an arrival step (an `ir.IrqArrive` node), enabled only while the CPU would take
the interrupt, and from then until it finishes the threads it interrupted do not step (docs/semantics.md
section 3.1). Hardirqs preempt a softirq on their CPU; neither nests in its own kind. An irq-context thread
without `interrupts:` runs on a CPU of its own: it may arrive at any time. model/semantics/runtime.py,
relation.py and promela.py compile these conditions; nothing here is a closure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..lang.lockapi import LOCK_API
from ..lang.spec import LockOp, Spec, ThreadDecl
from .layout import Layout, Slot, SlotKind
from .program import walk_statements


@dataclass(frozen=True)
class Irq:
    """An irq-context thread as the others see it: active (arrived, not finished) unless its program
    counter (slot `pcslot`) is `entry` (not arrived yet) or `finished`."""

    tid: int
    pcslot: int
    entry: int
    finished: int


@dataclass(frozen=True)
class Context:
    """One thread's context. Its steps need every thread in `preempted_by` inactive; its arrival (an
    irq-context thread that interrupts a CPU) also needs every thread in `arrive_after` inactive and every
    slot in `arrive_clear` 0 (hardirqs, or softirqs, enabled where it lands). `irqs_off` and `bh_depth` are
    its own slots (-1: the spec never disables hardirqs, or softirqs)."""

    kind: str = "process"
    cpu: int = -1                          # the thread it interrupts (-1: none)
    preempted_by: tuple[Irq, ...] = ()
    arrive_after: tuple[Irq, ...] = ()
    arrive_clear: tuple[int, ...] = ()
    irqs_off: int = -1
    bh_depth: int = -1

    @property
    def in_irq(self) -> bool:
        return self.kind != "process"

    def atomic_reasons(self) -> tuple[tuple[str, int], ...]:
        """(message, slot) per state-dependent reason this thread may not sleep, from its own slots (the
        static one, irq context, is `in_irq`; spinlocks and RCU are the callers')."""
        out = []
        if self.irqs_off >= 0:
            out.append(("sleeps with interrupts disabled", self.irqs_off))
        if self.bh_depth >= 0:
            out.append(("sleeps with softirqs disabled", self.bh_depth))
        return tuple(out)

    @property
    def irqs_start(self) -> int:
        """The thread's hardirqs-disabled flag when it starts, and when it must finish: a hardirq handler
        runs with hardirqs disabled."""
        return int(self.kind == "hardirq")

    def end_problem(self, s: Sequence) -> str:
        """Why the thread may not finish in state `s` with its interrupt state, or ''."""
        if self.irqs_off >= 0 and s[self.irqs_off] != self.irqs_start:
            return ("interrupt handler finished with interrupts enabled" if self.irqs_start
                    else "thread finished with interrupts disabled")
        if self.bh_depth >= 0 and s[self.bh_depth]:
            return "thread finished with softirqs disabled"
        return ""


MAX_BH_DEPTH = 3    # spin_lock_bh nesting (the kernel counts 8 bits of SOFTIRQ_DISABLE_OFFSET; a model bound)


def irq_uses(spec: Spec) -> tuple[bool, bool, frozenset[str]]:
    """Whether the spec disables hardirqs, whether it disables softirqs, and the locks it takes with
    spin_lock_irqsave (each instance keeps the flags saved)."""
    ops = [s for p in spec.procedures for s in walk_statements(p.body) if isinstance(s, LockOp)]
    irqs = {LOCK_API[s.op].irq for s in ops}
    saved = frozenset(s.lock.name for s in ops if LOCK_API[s.op].irq == "irqsave" and s.lock is not None)
    return bool(irqs & {"irq", "irqsave"}), "bh" in irqs, saved


def context_slots(spec: Spec, layout: Layout, names: Sequence[str], kinds: Sequence[str],
                  defaults: dict[int, object]) -> None:
    """The slots of the interrupt state, after the RCU slots: per thread its hardirqs-disabled flag and its
    softirq-disable depth (only when the spec changes them), per instance of a lock taken with
    spin_lock_irqsave the flags saved. A hardirq handler starts with hardirqs disabled."""
    irqs, bh, saved = irq_uses(spec)
    if irqs:
        for tid, name in enumerate(names):
            slot = layout.add(Slot(f"{name}.irqs_off", SlotKind.IRQS_OFF, None, thread=tid))
            layout.irqs_off.append(slot)
            defaults[slot] = Context(kinds[tid]).irqs_start
    if bh:
        for tid, name in enumerate(names):
            layout.bh_depth.append(slot := layout.add(Slot(f"{name}.bh_depth", SlotKind.BH_DEPTH, None, thread=tid)))
            defaults[slot] = 0
    for i, s in enumerate(list(layout.slots)):
        if s.kind == SlotKind.LOCK_OWNER and s.var in saved:
            layout.irq_flags[i] = slot = layout.add(Slot(s.name.rsplit(".", 1)[0] + ".saved_irqs_off",
                                                         SlotKind.IRQ_FLAGS, None, var=s.var, key=s.key))
            defaults[slot] = 0


def cpu_of(decl: ThreadDecl, instance: str, by_name: dict[str, int]) -> int:
    """The thread an instance of an irq-context entry interrupts: the single instance of its `interrupts:`
    entry, or the instance bound to the same element (-1: none)."""
    if not decl.interrupts:
        return -1
    if decl.interrupts in by_name:
        return by_name[decl.interrupts]
    element = instance[instance.index("["):] if "[" in instance else ""
    return by_name.get(f"{decl.interrupts}{element}", -1)


def thread_contexts(layout: Layout, decls: Sequence[ThreadDecl], names: Sequence[str],
                    irqs: Sequence[Irq | None]) -> list[Context]:
    """Every thread's context (`decls[tid]` its threads: entry, `irqs[tid]` its Irq when it has an arrival)."""
    by_name = {name: tid for tid, name in enumerate(names)}
    cpus = [cpu_of(d, n, by_name) for d, n in zip(decls, names)]

    def on(cpu: int, kind: str, but: int) -> tuple[Irq, ...]:
        return tuple(i for t, i in enumerate(irqs) if i is not None and cpus[t] == cpu and decls[t].context == kind
                     and t != but)

    def clear(tid: int) -> list[int]:
        return [layout.irqs_off[tid]] if layout.irqs_off else []

    out = []
    for tid, decl in enumerate(decls):
        irqs_off = layout.irqs_off[tid] if layout.irqs_off else -1
        bh_depth = layout.bh_depth[tid] if layout.bh_depth else -1
        cpu = cpus[tid]
        if decl.context == "process":
            preempting = on(tid, "softirq", -1) + on(tid, "hardirq", -1)
            out.append(Context("process", -1, preempting, (), (), irqs_off, bh_depth))
        elif cpu < 0:
            out.append(Context(decl.context, -1, (), (), (), irqs_off, bh_depth))
        elif decl.context == "softirq":   # runs on irq exit or in ksoftirqd: hardirqs and softirqs enabled
            bh = [layout.bh_depth[cpu]] if layout.bh_depth else []
            out.append(Context("softirq", cpu, on(cpu, "hardirq", -1), on(cpu, "softirq", tid),
                               tuple(clear(cpu) + bh), irqs_off, bh_depth))
        else:   # a hardirq lands on whatever runs there: the CPU's thread, or a softirq on it
            landing = clear(cpu) + [c for s in on(cpu, "softirq", -1) for c in clear(s.tid)]
            out.append(Context("hardirq", cpu, (), on(cpu, "hardirq", tid), tuple(landing), irqs_off, bh_depth))
    return out


__all__ = ["Context", "Irq", "MAX_BH_DEPTH", "context_slots", "irq_uses", "thread_contexts"]
