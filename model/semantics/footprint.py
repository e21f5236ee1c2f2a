"""The footprint of each visible step: every slot it may read or write, the settling after it included.

A step's outcomes are a function of the slots in its footprint alone, and they differ from the state
before only there. So two states that agree on a step's footprint have the same outcomes from it, up
to the other slots, which stay as they are: what the step memo (memo.py) relies on to fire each step
once per valuation of its footprint instead of once per state.

The footprints are read off the Promela translation of the IR (promela.py), a compilation that mirrors
relation.py case by case and names every slot it touches as `var(slot)`. A step's footprint is what
its node's decision tree mentions (the step and its fatal-signal exit), with
- the invisible nodes its thread then runs, followed from each move of the thread's program counter
  until it stands at a node `settle` stops at (runtime.py), and what those mention;
- the locks a folded step's thread must hold there (the reduction's check reads them, discipline.py);
- when the step may grant an rwsem (`g_woken`), every thread that can wait in one: its program counter
  and the settling from each of its waits' wake-up points;
- the program counters of the interrupts that may hold the thread's CPU (they gate every step of it).
A step the translation does not cover has no footprint (None): it is fired on every state. The memo
checks the footprints during the search (a sample of its answers fired again), so a slot missing here
is an internal error, never a wrong successor.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from . import ir
from .promela import Go, Model, Ordered, Tree, _NodeTrees
from .promela_expr import PromelaError
from .system import Thread, TransitionSystem

SLOT = re.compile(r"\bv(\d+)\b")   # promela_expr.var's name of a slot
GRANT = "g_woken"                  # the Promela temporary an rwsem grant sets (promela.py, _RuleTrees.grant)
Footprint = tuple[int, ...]


def footprints(system: TransitionSystem) -> list[list[Footprint | None]]:
    """Per thread, per program point: the footprint of the visible step there (sorted slots), or None
    where there is no step or the Promela translation does not cover it."""
    try:
        model = Model(system)
    except PromelaError:
        return [[None] * len(t.steps) for t in system.threads]
    return _Footprints(system, model).all()


class _Footprints:
    def __init__(self, system: TransitionSystem, model: Model):
        self.system, self.model = system, model
        self.texts: dict[tuple[int, int, bool, bool], list[str] | None] = {}
        self.waiters = [(t, [n.next for n in t.nodes if isinstance(n, ir.LockWait)]) for t in system.threads]

    def all(self) -> list[list[Footprint | None]]:
        return [[self.step(t, pc) if step is not None else None for pc, step in enumerate(t.steps)]
                for t in self.system.threads]

    def step(self, thread: Thread, pc: int) -> Footprint | None:
        slots = {thread.pcslot}
        grants = False
        for signal in (False, True):
            texts = self.text(thread, pc, signal, visible=True)
            if texts is None:
                return None
            slots.update(_slots(texts))
            grants = grants or any(GRANT in t for t in texts)
            if not self.settle(thread, self.moves(thread, texts), slots):
                return None
        if grants:
            for waiter, wakeups in self.waiters:
                if wakeups:
                    slots.add(waiter.pcslot)
                    if not self.settle(waiter, wakeups, slots):
                        return None
        slots.update(irq.pcslot for irq in self.system.contexts[thread.tid].preempted_by)
        return tuple(sorted(slots))

    def settle(self, thread: Thread, starts: Iterable[int], slots: set[int]) -> bool:
        """Add what the nodes `settle` runs from `starts` mention (False: one is not translated)."""
        layout = self.system.layout
        folded = thread.builder.folded
        seen: set[int] = set()
        todo = list(starts)
        while todo:
            pc = todo.pop()
            if pc in seen or pc >= len(thread.runs) or thread.runs[pc] is None:
                continue   # settle stops here: a visible node, a finished thread
            seen.add(pc)
            texts = self.text(thread, pc, False, visible=False)
            if texts is None:
                return False
            slots.update(_slots(texts))
            for hold in folded.get(pc, ()):
                base = layout.locks[hold.lock][0]
                slots.add(base if hold.exclusive else base + 1)
            todo.extend(self.moves(thread, texts))
        return True

    def text(self, thread: Thread, pc: int, signal: bool, visible: bool) -> list[str] | None:
        """The conditions and statements of a node's tree ([] for none), None when it does not translate."""
        key = (thread.tid, pc, signal, visible)
        if key not in self.texts:
            try:
                tree = _NodeTrees(self.model, thread.tid, pc).build(signal, visible=visible)
            except PromelaError:
                self.texts[key] = None
            else:
                self.texts[key] = _texts(tree, [])
        return self.texts[key]

    @staticmethod
    def moves(thread: Thread, texts: list[str]) -> set[int]:
        """The program points a tree moves its thread to."""
        move = re.compile(rf"\bv{thread.pcslot} = (\d+)")
        return {int(m) for t in texts for m in move.findall(t)}


def _texts(tree: Tree | None, out: list[str]) -> list[str]:
    if isinstance(tree, Go):
        out.extend(tree.code)
    elif isinstance(tree, Ordered):
        for cond, sub in tree.cases:
            out.append(cond)
            _texts(sub, out)
        _texts(tree.otherwise, out)
    return out


def _slots(texts: list[str]) -> set[int]:
    return {int(m) for t in texts for m in SLOT.findall(t)}
