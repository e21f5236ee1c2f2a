"""The z3 two-state transition relation of a compiled spec, one micro-step per IR node.

A micro-step is what one IR node does (ir.py), before any settling: the visible steps the explorer
takes are a micro-step followed by the thread's invisible micro-steps (and those of the threads an
rwsem release moves past their wait). Each node becomes a list of guarded `Case`s over the state before
the step (frame ""): a guard, the slots it updates (a term over the state before; None: the slot becomes
unused), and the property it violates ('' for a successor). The relation of a node is the disjunction of
its successor cases, each with the frame condition that every slot it does not update keeps its value
(mypyvy-style: one translator, parameterised by time frame, see smt.py). Lock, rwsem and RCU steps
come from their rules (actions.py), which model/semantics/runtime.py compiles for the explorer too.

tests/test_relation.py proves the explorer's micro-steps (system.micro_step) and this relation agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import reduce

import z3

from ..lang.expr import Expr, Local, Shared
from ..lang.lockapi import LOCK_API, RCU_LIST_OPS
from ..lang.types import IntT, RefT, SetT
from . import ir, smtlist
from .actions import Effect, Rule, Test, Then, lock_rules, rcu_rules
from .contexts import MAX_BH_DEPTH, Irq
from .counters import CEffect, CTest, counter_rules, high
from .layout import SlotKind, free_checks, ghost_slots, wait_queue_slots
from .locks import MAX_READ_DEPTH, READ_BITS
from .places import thread_places
from .runtime import HEAD_IDLE, HEAD_PENDING, HEAD_REQUEUED, RCU_WALK_OUTSIDE, rcu_corruption
from .smt import SmtEncoder, list_room
from .system import TransitionSystem
from .waitqueues import WEffect, WTest, WThen, exclusive_bit, wait_rules

Updates = Mapping[int, z3.ExprRef | None]
RUNTIME, DISCIPLINE = "runtime_safety", "lock_discipline"
UNDEFINED = "a partial operation outside its domain (docs/semantics.md)"
ATOMIC = ("sleeps in atomic context (irq context, a spinlock held, inside an RCU read-side section, hardirqs or "
          "softirqs disabled)")


@dataclass(frozen=True)
class Case:
    """One way a micro-step goes: when `guard` holds in the state before, the slots in `updates` take
    their new values (None: unused from now on) and every other slot keeps its value; or, with a
    `violation`, the step breaks that property instead (and has no successor)."""

    guard: z3.BoolRef
    updates: Updates
    violation: str = ""
    message: str = ""      # what the violation says (the explorer's message may add values)


class _Ordered:
    """Cases tried in order, the first whose condition holds applies (guards made exclusive)."""

    def __init__(self, within: z3.BoolRef | None = None):
        self.rest: list[z3.BoolRef] = [] if within is None else [within]
        self.cases: list[Case] = []

    def when(self, cond: z3.BoolRef | bool, updates: Updates | None = None, violation: str = "",
             blocked: bool = False, message: str = "") -> None:
        """`cond` (after every earlier one failed) leads to `updates`, a violation, or nothing (blocked)."""
        c = z3.BoolVal(cond) if isinstance(cond, bool) else cond
        guard = z3.And(*self.rest, c) if self.rest else c
        self.rest.append(z3.Not(c))
        if not blocked:
            self.cases.append(Case(guard, dict(updates or {}), violation, message))

    def otherwise(self, updates: Updates | None = None, blocked: bool = False) -> None:
        self.when(True, updates, blocked=blocked)

    def choices(self, cond: z3.BoolRef, outcomes: list[tuple[z3.BoolRef, Updates]]) -> None:
        """`cond` (after every earlier one failed) leads to each outcome whose own condition holds (several
        may: a nondeterministic choice)."""
        guard = z3.And(*self.rest, cond) if self.rest else cond
        self.rest.append(z3.Not(cond))
        self.cases.extend(Case(z3.And(guard, when), dict(updates)) for when, updates in outcomes)


def _pow2(exponent: z3.ArithRef, width: int) -> z3.ArithRef:
    """2 ** exponent for 0 <= exponent < width, as an if-chain (z3 integers have no shifts)."""
    return reduce(lambda rest, i: z3.If(exponent == i, z3.IntVal(1 << i), rest), range(width - 2, -1, -1),
                  z3.IntVal(1 << (width - 1)))


def _bit(mask: z3.ArithRef, i: int) -> z3.BoolRef:
    return (mask / (1 << i)) % 2 == 1


class Relation:
    """The micro-step cases and relation of every (thread, program point, signal) of a system."""

    def __init__(self, system: TransitionSystem):
        self.system = system
        layout = system.layout
        sizes, positions = system.env.entity_sizes, system.env.positions
        places = thread_places(system.threads)
        room = list_room(system)
        self.pre = SmtEncoder(layout, sizes, positions, places=places, list_room=room)
        self.post = SmtEncoder(layout, sizes, positions, frame="'", places=places, list_room=room)
        self.slot_count = len(layout.slots)
        self._cases: dict[tuple[int, int, bool], list[Case]] = {}
        self.lock_instances = {name: [base + i * width for i in range(self._instances(name))]
                               for name, (base, width, _) in layout.locks.items()}

    def _instances(self, name: str) -> int:
        return sum(1 for s in self.system.layout.slots if s.var == name and s.kind == SlotKind.LOCK_OWNER)

    def cases(self, tid: int, pc: int, signal: bool = False) -> list[Case]:
        """The cases of the node thread `tid` has at `pc` (its fatal-signal exit with `signal`)."""
        key = (tid, pc, signal)
        if key not in self._cases:
            cases = _NodeCases(self, tid, pc).build(signal)
            thread = self.system.threads[tid]
            preempted = self.system.contexts[tid].preempted_by
            if preempted and thread.steps[pc] is not None:   # no step while an interrupt holds the CPU
                idle = self.inactive(preempted)
                cases = [Case(z3.And(idle, c.guard), c.updates, c.violation, c.message) for c in cases]
            self._cases[key] = cases
        return self._cases[key]

    def inactive(self, irqs: Sequence[Irq]) -> z3.BoolRef:
        """None of these irq-context threads is active (contexts.py): each has not arrived or has finished."""
        pc = self.pre.slot
        return z3.And(*[z3.Or(pc(i.pcslot) == i.entry, pc(i.pcslot) == i.finished) for i in irqs])

    def successor(self, tid: int, pc: int, signal: bool = False) -> z3.BoolRef:
        """R(s, s'): the state after (frame "'") is a successor of the state before by that micro-step."""
        pre, post = self.pre.slot, self.post.slot
        parts = []
        for case in self.cases(tid, pc, signal):
            if case.violation:
                continue
            eqs = [case.guard]
            for i in range(self.slot_count):
                if i not in case.updates:
                    eqs.append(post(i) == pre(i))
                elif (value := case.updates[i]) is not None:
                    eqs.append(post(i) == value)
            parts.append(z3.And(*eqs))
        return z3.Or(*parts) if parts else z3.BoolVal(False)

    def lock_instances_at(self, tid: int, pc: int) -> tuple[z3.BoolRef, list[tuple[int, z3.BoolRef]]]:
        """The lock instances the lock statement at (tid, pc) may name: (its index evaluates, [(instance base
        slot, the index names it)]), over the state before."""
        node = self.system.threads[tid].nodes[pc]
        assert isinstance(node, ir.LOCK_NODES)
        return _RuleCases(_NodeCases(self, tid, pc), node).instance_guards()

    def violates(self, tid: int, pc: int, signal: bool = False) -> dict[str, z3.BoolRef]:
        """Property -> when that micro-step breaks it (a condition on the state before)."""
        out: dict[str, list[z3.BoolRef]] = {}
        for case in self.cases(tid, pc, signal):
            if case.violation:
                out.setdefault(case.violation, []).append(case.guard)
        return {prop: z3.Or(*guards) for prop, guards in out.items()}


class _NodeCases:
    """The cases of one node: its expressions read the state before, in the node's frame."""

    def __init__(self, rel: Relation, tid: int, pc: int):
        self.rel, self.tid, self.pc = rel, tid, pc
        self.system = rel.system
        self.thread = self.system.threads[tid]
        self.pcslot = self.thread.pcslot
        self.node = self.thread.nodes[pc]
        self.locals = dict(self.node.env.locals) if self.node.env is not None else {}
        self.text = self.node.stmt.text if self.node.stmt is not None else self.node.kind
        self.pre = rel.pre

    # -- reading the state before

    def term(self, e: Expr) -> z3.ExprRef:
        return self.pre.term(e, self.locals, tid=self.tid)

    def defined(self, *exprs: Expr) -> z3.BoolRef:
        return z3.And(*[self.pre.defined(e, self.locals, tid=self.tid) for e in exprs]) if exprs else z3.BoolVal(True)

    def slot(self, i: int) -> z3.ExprRef:
        return self.pre.slot(i)

    def goto(self, target: int) -> dict[int, z3.ExprRef | None]:
        return {self.pcslot: z3.IntVal(target)}

    # -- the node kinds

    def build(self, signal: bool) -> list[Case]:
        node = self.node
        if isinstance(node, (ir.LockCall, ir.LockWait, ir.RcuCall, ir.GraceWait)):
            return _RuleCases(self, node).build(signal)
        if isinstance(node, ir.CounterCall):
            return self.counter(node, signal)
        if isinstance(node, ir.WaitCall):
            return self.wait_queue(node, signal)
        if signal:
            return []
        if isinstance(node, ir.Assign):
            return self.assign(node)
        if isinstance(node, ir.Reset):
            return [Case(z3.BoolVal(True), {**{s: None for s in node.slots}, **self.goto(node.next)})]
        if isinstance(node, ir.Branch):
            assert node.cond is not None
            o = _Ordered()
            o.when(z3.Not(self.defined(node.cond)), violation=RUNTIME, message=UNDEFINED)
            o.when(self.term(node.cond), self.goto(node.next))
            o.otherwise(self.goto(node.alt))
            return o.cases
        if isinstance(node, ir.Choose):
            return [Case(z3.BoolVal(True), self.goto(target)) for _, target in node.branches]
        if isinstance(node, ir.Check):
            assert node.cond is not None
            o = _Ordered()
            o.when(z3.Not(self.defined(node.cond)), violation=RUNTIME, message=UNDEFINED)
            o.when(z3.Not(self.term(node.cond)), violation=node.name, message=node.message or f"{self.text} failed")
            o.otherwise(self.goto(node.next))
            return o.cases
        if isinstance(node, ir.Await):
            assert node.cond is not None
            o = _Ordered()
            if node.sleeps:
                o.when(self.atomic(), violation=DISCIPLINE, message=f"{self.text}: {ATOMIC}")
            o.when(z3.Not(self.defined(node.cond)), violation=RUNTIME, message=UNDEFINED)
            o.when(self.term(node.cond), self.goto(node.next))
            o.otherwise(blocked=True)
            return o.cases
        if isinstance(node, ir.End):
            o = _Ordered()
            o.when(self.holds_anything(), violation=DISCIPLINE, message="thread finished while holding a lock")
            o.otherwise(self.goto(self.thread.finished))
            return o.cases
        if isinstance(node, ir.IrqArrive):
            context = self.system.contexts[self.tid]
            clear = [self.slot(x) == 0 for x in context.arrive_clear]
            return [Case(z3.And(self.rel.inactive(context.arrive_after), *clear), self.goto(node.next))]
        if isinstance(node, ir.LoopStep):
            return self.loop(node)
        if isinstance(node, ir.ListEdit):
            return self.list_edit(node)
        if isinstance(node, ir.Free):
            return self.free(node)
        if isinstance(node, ir.CallRcu):
            return self.call_rcu(node)
        raise AssertionError(f"no relation for {node.kind} nodes")

    # -- places

    def place_slots(self, place: ir.Place) -> tuple[list[int], z3.ExprRef | None, z3.BoolRef]:
        """(candidate slots, offset term or None when static, when the place's keys evaluate)."""
        target = place.target
        if isinstance(target, Local):
            return [place.env.locals[target.name]], None, z3.BoolVal(True)
        base, strides = self.system.layout.shared[target.name]
        count = sum(1 for s in self.system.layout.slots if s.var == target.name and s.kind == SlotKind.SHARED)
        locals_ = dict(place.env.locals)
        ok = self.pre.keys_defined(target.keys, locals_, self.tid)
        offset = z3.simplify(self.pre.index(target.keys, strides, locals_, self.tid)) if target.keys else z3.IntVal(0)
        if z3.is_int_value(offset):
            return [base + offset.as_long()], None, ok
        return [base + i for i in range(count)], offset, ok

    @staticmethod
    def write(updates: dict[int, z3.ExprRef | None], slots: list[int], offset: z3.ExprRef | None,
              value: z3.ExprRef, pre: SmtEncoder) -> None:
        """Write `value` to the place (a static slot, or the candidate at `offset`), after earlier writes."""
        value = smtlist.fit(value, pre.slot(slots[0]).sort())   # an empty display `[]` grows to its list
        if offset is None:
            updates[slots[0]] = value
            return
        base = slots[0]
        for i in slots:
            old = updates.get(i, pre.slot(i))
            assert old is not None
            updates[i] = z3.If(offset == i - base, value, old)

    def fits(self, place: ir.Place, value: z3.ExprRef) -> z3.BoolRef:
        """The range check of a checked place: an int in its range, a non-null reference."""
        t = place.type
        if not place.checked:
            return z3.BoolVal(True)
        if isinstance(t, IntT) and t.lo is not None and t.hi is not None:
            return z3.And(value >= t.lo, value <= t.hi)
        if isinstance(t, RefT) and not t.nullable:
            return value != -1
        return z3.BoolVal(True)

    def assign(self, node: ir.Assign) -> list[Case]:
        values = [self.term(v) for v in node.values]
        places = [self.place_slots(p) for p in node.writes]
        o = _Ordered()
        o.when(z3.Not(z3.And(self.defined(*node.values), *[ok for _, _, ok in places])), violation=RUNTIME,
               message=UNDEFINED)
        o.when(z3.Not(z3.And(*[self.fits(p, v) for p, v in zip(node.writes, values)])), violation=RUNTIME,
               message=f"{self.text}: a value outside its type")
        updates: dict[int, z3.ExprRef | None] = {}
        for (slots, offset, _), value in zip(places, values):
            self.write(updates, slots, offset, value, self.pre)
        updates.update(self.goto(node.next))
        o.otherwise(updates)
        return o.cases

    # -- counters (refcount_t, atomic_t, completions): their rules (counters.py)

    def counter(self, node: ir.CounterCall, signal: bool) -> list[Case]:
        assert node.place is not None and isinstance(node.place.type, IntT)
        t = node.place.type
        assert t.lo is not None and t.hi is not None and t.counter is not None
        if signal and not self.system.spec.options.fatal_signals:
            return []
        rules = counter_rules(node.op, signal)
        if not rules:
            return []
        slots, offset, keys_ok = self.place_slots(node.place)
        v = self.select(slots, offset)
        x = self.term(node.value) if node.value is not None else None
        top = high(t.lo, t.hi, t.counter)
        o = _Ordered()
        o.when(z3.Not(z3.And(keys_ok, self.defined(*([node.value] if node.value is not None else [])))),
               violation=RUNTIME, message=UNDEFINED)
        tests = {CTest.ALWAYS: z3.BoolVal(True), CTest.ATOMIC: self.atomic(), CTest.ZERO: v == 0, CTest.ONE: v == 1,
                 CTest.LOW: v == t.lo, CTest.HIGH: v == top, CTest.ALL: v == t.hi,
                 CTest.OUTSIDE: z3.Or(x < t.lo, x > t.hi) if x is not None else z3.BoolVal(False)}
        for rule in rules:
            cond = tests[rule.test]
            if rule.then is Then.BLOCK:
                o.when(cond, blocked=True)
            elif rule.then is Then.VIOLATE:
                o.when(cond, violation=rule.prop, message=f"{self.text}: {rule.message or ATOMIC}")
            else:
                effect = {CEffect.NONE: v, CEffect.INC: v + 1, CEffect.DEC: v - 1, CEffect.CLEAR: z3.IntVal(0),
                          CEffect.ALL: z3.IntVal(t.hi), CEffect.SET: x}[rule.effect]
                assert effect is not None
                updates: dict[int, z3.ExprRef | None] = {}
                self.write(updates, slots, offset, effect, self.pre)
                if node.result is not None:
                    rslots, roffset, rok = self.place_slots(node.result)
                    assert z3.is_true(z3.simplify(rok))
                    self.write(updates, rslots, roffset, z3.BoolVal(rule.then is Then.NEXT), self.pre)
                updates.update(self.goto(node.next if rule.then is Then.NEXT else node.alt))
                o.when(cond, updates)
            if rule.test is CTest.ALWAYS:
                break
        return o.cases

    # -- wait queues: their rules (waitqueues.py)

    def wait_queue(self, node: ir.WaitCall, signal: bool) -> list[Case]:
        if signal and not self.system.spec.options.fatal_signals:
            return []
        rules = wait_rules(node.op, signal)
        if not rules:
            return []
        o = _Ordered()
        queues = wait_queue_slots(self.system.layout)
        tid = self.tid
        if node.place is not None:
            slots, offset, keys_ok = self.place_slots(node.place)
            o.when(z3.Not(keys_ok), violation=RUNTIME, message=UNDEFINED)
            v = self.select(slots, offset)
            elsewhere = z3.Or(*[z3.And(_bit(self.slot(j), tid), z3.Not(self.selects(slots, offset, j)))
                                for j in queues])
        else:
            slots, offset, v, elsewhere = [], None, z3.IntVal(0), z3.BoolVal(False)
        tests = {WTest.ALWAYS: z3.BoolVal(True), WTest.ATOMIC: self.atomic(), WTest.ELSEWHERE: elsewhere,
                 WTest.QUEUED: z3.Or(*[_bit(self.slot(j), tid) for j in queues]), WTest.ON: _bit(v, tid),
                 WTest.COND: self.term(node.cond) if node.cond is not None else z3.BoolVal(False)}
        bit, n = 1 << tid, len(self.system.threads)
        xbit = exclusive_bit(tid, n)
        off = v - z3.If(_bit(v, tid), bit, 0) - z3.If(_bit(v, n + tid), xbit, 0)   # the entry off the queue
        effects = {WEffect.NONE: v, WEffect.ADD: off + bit, WEffect.ADD_EXCLUSIVE: off + bit + xbit,
                   WEffect.REMOVE: off, WEffect.WAKE: z3.IntVal(0)}
        targets = {WThen.NEXT: node.next, WThen.FAIL: node.alt, WThen.STAY: self.pc}
        for rule in rules:
            if WTest.COND in rule.tests and node.cond is not None:   # the condition is evaluated here
                before = [tests[t] for t in rule.tests if t is not WTest.COND]
                o.when(z3.And(*before, z3.Not(self.defined(node.cond))), violation=RUNTIME, message=UNDEFINED)
            cond = z3.And(*[tests[t] for t in rule.tests])
            if rule.then is WThen.BLOCK:
                o.when(cond, blocked=True)
            elif rule.then is WThen.VIOLATE:
                o.when(cond, violation=rule.prop, message=f"{self.text}: {rule.message or ATOMIC}")
            elif rule.effect is WEffect.WAKE_ONE:
                o.choices(cond, [(when, self.wait_update(slots, offset, value, targets[rule.then]))
                                 for when, value in self.woken(v, n)])
            else:
                o.when(cond, self.wait_update(slots, offset, effects[rule.effect] if rule.effect is not WEffect.NONE
                                              else None, targets[rule.then]))
        return o.cases

    def wait_update(self, slots: list[int], offset: z3.ArithRef | None, value: z3.ArithRef | None,
                    target: int) -> dict[int, z3.ExprRef | None]:
        updates: dict[int, z3.ExprRef | None] = {}
        if slots and value is not None:
            self.write(updates, slots, offset, value, self.pre)
        updates.update(self.goto(target))
        return updates

    @staticmethod
    def woken(v: z3.ArithRef, n: int) -> list[tuple[z3.BoolRef, z3.ArithRef]]:
        """wake_up() on a queue holding v (waitqueues.woken_by_wake_up): per exclusive sleeper t, when it is
        one, the exclusive sleepers but t stay; with none, the queue empties."""
        kept = [z3.If(_bit(v, n + u), (1 << u) + exclusive_bit(u, n), 0) for u in range(n)]
        out = [(_bit(v, n + t), z3.Sum(*[k for u, k in enumerate(kept) if u != t], z3.IntVal(0)))
               for t in range(n)]
        return [*out, (z3.And(*[z3.Not(_bit(v, n + t)) for t in range(n)]), z3.IntVal(0))]

    # -- loops and lists

    def loop(self, node: ir.LoopStep) -> list[Case]:
        if node.rcu:
            return self.rcu_loop(node)
        assert node.source is not None
        items, cur = self.term(node.source), self.slot(node.cursor)
        reverse = node.order != "forward"
        restart = node.start and node.order != "continue_reverse"
        o = _Ordered()
        o.when(z3.Not(self.defined(node.source)), violation=RUNTIME, message=UNDEFINED)

        def moved(c: z3.ArithRef) -> None:
            o.when(c >= 0, {node.cursor: c, self.pcslot: z3.IntVal(node.next)})
            o.otherwise({node.cursor: c, self.pcslot: z3.IntVal(node.alt)})

        if node.is_list:
            n = smtlist.length(items)
            if restart:
                moved(smtlist.at(items, n - 1 if reverse else z3.IntVal(0)))
                return o.cases
            o.when(z3.And(cur >= 0, z3.Not(smtlist.contains(items, cur))), violation=RUNTIME,
                   message=f"list corruption: the element under the cursor '{node.var}' was removed from the list")
            if not node.start:
                o.when(cur < 0, self.goto(node.alt))
            i = z3.If(cur >= 0, smtlist.index(items, cur), n)
            moved(smtlist.at(items, i - 1 if reverse else i + 1))
            return o.cases
        assert isinstance(node.source.type, SetT)
        width = self.pre.width(node.source.type.entity)
        members = [z3.Extract(k, k, items) == 1 for k in range(width)]
        # the candidate elements in walking order, each with the cursor positions that lead to it
        order = list(range(width - 1, -1, -1)) if reverse else list(range(width))
        if restart:
            after = [(k, members[k]) for k in order]
        elif reverse:
            after = [(k, z3.And(members[k], z3.Or(cur < 0, cur > k))) for k in order]
        else:
            after = [(k, z3.And(members[k], cur < k)) for k in order]
        found = reduce(lambda rest, kc: z3.If(kc[1], z3.IntVal(kc[0]), rest), reversed(after), z3.IntVal(-1))
        moved(z3.simplify(found))
        return o.cases

    def rcu_loop(self, node: ir.LoopStep) -> list[Case]:
        """list_for_each_entry_rcu (runtime.py's rcu_loop): the successor a deleted element had, for its readers."""
        assert isinstance(node.source, Shared)
        layout = self.system.layout
        items, cur = self.term(node.source), self.slot(node.cursor)
        ghost_next, ghost_readers, size = layout.rcu_lists[node.source.name]
        o = _Ordered()
        o.when(self.slot(layout.rcu_nest[self.tid]) == 0, violation=DISCIPLINE,
               message=f"{self.text}: {RCU_WALK_OUTSIDE}")

        def moved(c: z3.ArithRef) -> None:
            o.when(c >= 0, {node.cursor: c, self.pcslot: z3.IntVal(node.next)})
            o.otherwise({node.cursor: c, self.pcslot: z3.IntVal(node.alt)})

        if node.start:
            moved(smtlist.at(items, z3.IntVal(0)))
            return o.cases
        o.when(cur < 0, self.goto(node.alt))
        on = smtlist.contains(items, cur)
        mine = [(k, _bit(self.slot(ghost_readers + k), self.tid)) for k in range(size)]
        protected = z3.Or(*[z3.And(cur == k, bit) for k, bit in mine])
        o.when(z3.And(z3.Not(on), z3.Not(protected)), violation=RUNTIME, message=rcu_corruption(node.var))
        i = smtlist.index(items, cur) + 1
        ghost = reduce(lambda rest, k: z3.If(cur == k, self.slot(ghost_next + k), rest), range(size), z3.IntVal(-1))
        moved(z3.If(on, smtlist.at(items, i), ghost))
        return o.cases

    def free(self, node: ir.Free) -> list[Case]:
        """kfree (runtime.py's free): on no list, no reader of a list_del_rcu() left to end its section."""
        assert node.item is not None and isinstance(node.item.type, RefT)
        layout = self.system.layout
        x = self.term(node.item)
        holders, ghosts = free_checks(layout, node.item.type.entity)
        o = _Ordered()
        o.when(z3.Not(self.defined(node.item)), violation=RUNTIME, message=UNDEFINED)
        o.when(x < 0, self.goto(node.next))
        for slot in holders:
            o.when(smtlist.contains(self.slot(slot), x), violation=RUNTIME, message=f"{self.text}: still on a list")
        size = self.pre.width(node.item.type.entity)
        for _, readers in ghosts:
            pending = z3.Or(*[z3.And(x == k, self.slot(readers + k) != 0) for k in range(size)])
            o.when(pending, violation=RUNTIME, message=f"{self.text}: use-after-free")
        o.otherwise(self.goto(node.next))
        return o.cases

    def call_rcu(self, node: ir.CallRcu) -> list[Case]:
        """call_rcu() / kfree_rcu() (runtime.py's call_rcu): queue the rcu_head, start its thread's grace period."""
        assert node.head is not None
        o = _Ordered()
        x: z3.ArithRef | int = 0
        if node.item is not None:
            o.when(z3.Not(self.defined(node.item)), violation=RUNTIME, message=UNDEFINED)
            x = self.term(node.item)
            if node.kfree:
                o.when(x < 0, self.goto(node.next))
            else:
                o.when(x < 0, violation=RUNTIME, message=f"{self.text}: the object is null")
        slots, offset, keys_ok = self.place_slots(node.head)
        o.when(z3.Not(keys_ok), violation=RUNTIME, message=UNDEFINED)
        head = self.select(slots, offset)
        o.when(z3.Or(head == HEAD_PENDING, head == HEAD_REQUEUED), violation=RUNTIME,
               message=f"{self.text}: double call_rcu")
        updates: dict[int, z3.ExprRef | None] = {}
        self.write(updates, slots, offset, z3.If(head == HEAD_IDLE, z3.IntVal(HEAD_PENDING), z3.IntVal(HEAD_REQUEUED)),
                   self.pre)
        readers = [z3.If(self.slot(n) != 0, 1 << t, 0) for t, n in enumerate(self.system.layout.rcu_nest)]
        now = z3.Sum(*readers) if readers else z3.IntVal(0)
        for k, gp in enumerate(node.gp):
            updates[gp] = now if len(node.gp) == 1 and node.item is None else z3.If(x == k, now, self.slot(gp))
        updates.update(self.goto(node.next))
        o.otherwise(updates)
        return o.cases

    def list_edit(self, node: ir.ListEdit) -> list[Case]:
        assert node.place is not None
        slots, offset, keys_ok = self.place_slots(node.place)
        items = self.select(slots, offset)
        x = self.term(node.items[0])
        pos = self.term(node.items[1]) if len(node.items) > 1 else None
        has_x = smtlist.contains(items, x)
        o = _Ordered()
        o.when(z3.Not(z3.And(keys_ok, self.defined(*node.items[:1]))), violation=RUNTIME, message=UNDEFINED)
        o.when(x < 0, violation=RUNTIME, message=f"{self.text}: the element is null")
        target = node.place.target
        rcu = self.system.layout.rcu_lists.get(target.name) if isinstance(target, Shared) else None
        fn = RCU_LIST_OPS.get(node.fn, node.fn)

        def result(value: z3.ExprRef, more: Updates | None = None) -> dict[int, z3.ExprRef | None]:
            updates: dict[int, z3.ExprRef | None] = {}
            self.write(updates, slots, offset, value, self.pre)
            updates.update(self.goto(node.next))
            updates.update(more or {})
            return updates

        if fn == "list_del":
            o.when(z3.Not(has_x), violation=RUNTIME, message=f"{self.text}: the element is not on the list")
            at = smtlist.index(items, x)
            ghosts = self.deleted(rcu, items, x, at) if rcu is not None and node.fn == "list_del_rcu" else {}
            o.otherwise(result(smtlist.remove_at(items, at), ghosts))
            return o.cases
        o.when(has_x, violation=RUNTIME, message=f"{self.text}: the element is already on the list")
        if rcu is not None:
            readers = z3.Or(*[z3.And(x == k, self.slot(rcu[1] + k) != 0) for k in range(rcu[2])])
            o.when(readers, violation=RUNTIME, message=f"{self.text}: use-after-free")
        if fn == "list_add":
            o.otherwise(result(smtlist.prepend(items, x)))
        elif fn == "list_add_tail":
            o.otherwise(result(smtlist.append(items, x)))
        else:
            assert pos is not None
            o.when(z3.Not(self.defined(node.items[1])), violation=RUNTIME, message=UNDEFINED)
            o.when(pos < 0, result(smtlist.append(items, x)))
            o.when(z3.Not(smtlist.contains(items, pos)), violation=RUNTIME,
                   message=f"{self.text}: the position is not on the list")
            o.otherwise(result(smtlist.insert_at(items, smtlist.index(items, pos), x)))
        return o.cases

    def deleted(self, rcu: tuple[int, int, int], items: z3.ExprRef, x: z3.ArithRef, at: z3.ArithRef) -> Updates:
        """list_del_rcu's ghost of x: its successor and the readers inside a section now (none: no ghost)."""
        ghost_next, ghost_readers, size = rcu
        readers = z3.Sum(*[z3.If(self.slot(n) != 0, 1 << t, 0) for t, n in enumerate(self.system.layout.rcu_nest)])
        succ = smtlist.at(items, at + 1)
        updates: dict[int, z3.ExprRef | None] = {}
        for k in range(size):
            here = z3.And(x == k, readers != 0)
            updates[ghost_next + k] = z3.If(here, succ, self.slot(ghost_next + k))
            updates[ghost_readers + k] = z3.If(here, readers, self.slot(ghost_readers + k))
        return updates

    @staticmethod
    def selects(slots: list[int], offset: z3.ExprRef | None, j: int) -> z3.BoolRef:
        """The place (a static slot, or the candidate at `offset`) is slot j."""
        if offset is None or j not in slots:
            return z3.BoolVal(bool(slots) and j == slots[0] and offset is None)
        return offset == j - slots[0]

    def select(self, slots: list[int], offset: z3.ExprRef | None) -> z3.ExprRef:
        if offset is None:
            return self.slot(slots[0])
        base = slots[0]
        return reduce(lambda rest, i: z3.If(offset == i - base, self.slot(i), rest), reversed(slots[:-1]),
                      self.slot(slots[-1]))

    # -- atomic context, held locks, RCU

    def rcu_nest(self, tid: int | None = None) -> z3.ArithRef | None:
        nests = self.system.layout.rcu_nest
        return self.slot(nests[self.tid if tid is None else tid]) if nests else None

    def rcu_gp(self) -> z3.ArithRef | None:
        gps = self.system.layout.gp_wait
        return self.slot(gps[self.tid]) if gps else None

    def atomic(self) -> z3.BoolRef:
        """Sleeping is forbidden here: the thread runs in irq context, holds a spinlock, is inside an RCU
        read-side section, or has disabled hardirqs or softirqs."""
        context = self.system.contexts[self.tid]
        if context.in_irq:
            return z3.BoolVal(True)
        spin = [self.slot(i) == self.tid for i in self.thread.builder.spin_slots]
        nest = self.rcu_nest()
        disabled = [self.slot(slot) != 0 for _, slot in context.atomic_reasons()]
        return z3.Or(*spin, *([nest != 0] if nest is not None else []), *disabled)

    def holds_anything(self) -> z3.BoolRef:
        parts = []
        for name, instances in self.rel.lock_instances.items():
            rwsem = self.system.layout.lock_kinds[name] == "rwsem"
            for b in instances:
                parts.append(self.slot(b) == self.tid)
                if rwsem:
                    parts.append(read_depth_term(self.slot(b + 1), self.tid) != 0)
        nest = self.rcu_nest()
        if nest is not None:
            parts.append(nest != 0)
        parts += [self.slot(nests[self.tid]) != 0 for nests in self.system.layout.srcu_nest.values()]
        context = self.system.contexts[self.tid]
        if context.irqs_off >= 0:
            parts.append(self.slot(context.irqs_off) != context.irqs_start)
        if context.bh_depth >= 0:
            parts.append(self.slot(context.bh_depth) != 0)
        return z3.Or(*parts) if parts else z3.BoolVal(False)


def read_depth_term(readers: z3.ArithRef, tid: int) -> z3.ArithRef:
    """The read holds of thread `tid` in an rwsem's readers slot."""
    return (readers / (1 << (READ_BITS * tid))) % (1 << READ_BITS)


class _RuleCases:
    """A lock or RCU step from its rules (actions.py), per place it may act on: the lock instance its
    index names (a null index is a runtime_safety violation), the instance whose queue holds a waiter,
    or none (RCU)."""

    def __init__(self, at: _NodeCases, node: ir.LockCall | ir.LockWait | ir.RcuCall | ir.GraceWait):
        self.at, self.node, self.tid = at, node, at.tid
        self.shown = at.text if isinstance(node, ir.LOCK_NODES) else f"{node.op}()"
        self.domain = "" if isinstance(node, ir.LOCK_NODES) else node.domain
        self.system = at.system
        self.all_readers = self.system.spec.options.rwsem_wake == "all_readers"
        self.fatal_signals = self.system.spec.options.fatal_signals
        self.entry = 2 * self.tid + (1 if isinstance(node, ir.LOCK_NODES) and LOCK_API[node.op].mode == "write"
                                     else 0)

    def build(self, signal: bool) -> list[Case]:
        node = self.node
        if isinstance(node, (ir.RcuCall, ir.GraceWait)):
            return [] if signal else self.apply(rcu_rules(node.op, isinstance(node, ir.GraceWait)), -1, None)
        waiting = isinstance(node, ir.LockWait)
        rules = lock_rules(node.op, waiting, signal) if self.fatal_signals or not signal else ()
        if not rules:
            return []
        ok, instances = self.instance_guards()
        if waiting:   # the first instance whose queue holds this waiter, or none
            cases: list[Case] = []
            earlier: list[z3.BoolRef] = []
            for b, _ in instances:
                queued = smtlist.contains(self.at.slot(b + 2), z3.IntVal(self.entry))
                cases += self.apply(rules, b, z3.And(*earlier, queued))
                earlier.append(z3.Not(queued))
            return cases + self.apply(rules, -1, z3.And(*earlier))
        cases = [Case(z3.Not(ok), {}, RUNTIME, UNDEFINED)]
        for b, named in instances:
            cases += self.apply(rules, b, z3.And(ok, named))
        return cases

    def instance_guards(self) -> tuple[z3.BoolRef, list[tuple[int, z3.BoolRef]]]:
        """(the index evaluates, [(instance base slot, the index names it)])."""
        assert isinstance(self.node, ir.LOCK_NODES) and self.node.lock is not None
        lock = self.node.lock
        instances = self.at.rel.lock_instances[lock.name]
        if not lock.keys:
            return z3.BoolVal(True), [(instances[0], z3.BoolVal(True))]
        _, width, strides = self.system.layout.locks[lock.name]
        pre, locals_, tid = self.at.pre, self.at.locals, self.tid
        ok = pre.keys_defined(lock.keys, locals_, tid)
        index = z3.simplify(pre.index(lock.keys, tuple(st // width for st in strides), locals_, tid))
        if z3.is_int_value(index):
            return ok, [(instances[index.as_long()], z3.BoolVal(True))]
        return ok, [(b, index == i) for i, b in enumerate(instances)]

    def apply(self, rules: tuple[Rule, ...], b: int, where: z3.BoolRef | None) -> list[Case]:
        """The rules acting on instance `b` (-1: none), when `where` holds: the first whose test holds."""
        at, node = self.at, self.node
        targets = {Then.NEXT: node.next, Then.FAIL: node.alt,
                   Then.WAIT: node.wait if isinstance(node, ir.LockCall) else -1}
        o = _Ordered(where)
        for rule in rules:
            test = self.test(rule.test, b)
            if test is None or z3.is_false(test):
                continue   # never true in this spec, or on no instance
            if rule.then is Then.BLOCK:
                o.when(test, blocked=True)
            elif rule.then is Then.VIOLATE:
                o.when(test, violation=DISCIPLINE, message=f"{self.shown}: {rule.message or ATOMIC}")
            else:
                o.when(test, {**self.effects(rule.effects, b), **at.goto(targets[rule.then])})
        return o.cases

    def test(self, test: Test, b: int) -> z3.BoolRef | None:
        at, tid = self.at, self.tid
        if test is Test.ALWAYS:
            return z3.BoolVal(True)
        if test is Test.QUEUED:
            return z3.BoolVal(b >= 0)
        context = self.system.contexts[tid]
        if test is Test.ATOMIC:
            return at.atomic() if (self.system.layout.rcu_nest or at.thread.builder.spin_slots or context.in_irq
                                   or context.atomic_reasons()) else None
        if test in (Test.HARDIRQ, Test.IRQS_OFF):
            if context.kind == "hardirq":
                return z3.BoolVal(True)
            return at.slot(context.irqs_off) != 0 if test is Test.IRQS_OFF and context.irqs_off >= 0 else None
        if test in (Test.BH_FULL, Test.BH_OUT):
            bh = at.slot(context.bh_depth)
            return bh >= MAX_BH_DEPTH if test is Test.BH_FULL else bh == 0
        nests, gps = self.system.layout.domain(self.domain)
        if test in (Test.RCU_FULL, Test.RCU_OUT, Test.RCU_IN):
            if not nests:
                return None
            nest = at.slot(nests[tid])
            return {Test.RCU_FULL: nest >= 3, Test.RCU_OUT: nest == 0, Test.RCU_IN: nest != 0}[test]
        if test is Test.GP_PENDING:
            return at.slot(gps[tid]) != 0 if gps else None
        owner = at.slot(b)
        if test in (Test.FREE, Test.MINE, Test.NOT_MINE, Test.OTHERS):   # every lock kind has an owner
            return {Test.FREE: owner == -1, Test.MINE: owner == tid, Test.NOT_MINE: owner != tid,
                    Test.OTHERS: z3.And(owner != -1, owner != tid)}[test]
        readers, queue = at.slot(b + 1), at.slot(b + 2)                 # an rwsem's
        mine = read_depth_term(readers, tid)
        return {
            Test.HELD: z3.Or(owner == tid, mine != 0),
            Test.NOT_READING: mine == 0,
            Test.READ_FULL: mine >= MAX_READ_DEPTH,
            Test.READ_NOW: z3.And(owner == -1, smtlist.length(queue) == 0),
            Test.WRITE_NOW: z3.And(owner == -1, readers == 0, smtlist.length(queue) == 0),
        }[test]

    def effects(self, effects: tuple[Effect, ...], b: int) -> dict[int, z3.ExprRef | None]:
        """The slots the effects change, in order, as terms over the state before."""
        at, tid = self.at, self.tid
        layout = self.system.layout
        updates: dict[int, z3.ExprRef | None] = {}

        def now(i: int) -> z3.ExprRef:
            value = updates.get(i, at.slot(i))
            assert value is not None
            return value
        bit = 1 << (READ_BITS * tid)
        nests, gps = layout.domain(self.domain)
        for effect in effects:
            if effect is Effect.TAKE:
                updates[b] = z3.IntVal(tid)
            elif effect is Effect.DROP:
                updates[b] = z3.IntVal(-1)
            elif effect in (Effect.READ_UP, Effect.READ_DOWN):
                updates[b + 1] = now(b + 1) + (bit if effect is Effect.READ_UP else -bit)
            elif effect is Effect.ENQUEUE:
                updates[b + 2] = smtlist.append(now(b + 2), z3.IntVal(self.entry))
            elif effect is Effect.DEQUEUE:
                queue = now(b + 2)
                updates[b + 2] = smtlist.remove_at(queue, smtlist.index(queue, z3.IntVal(self.entry)))
            elif effect is Effect.GRANT:
                updates.update(self.grant(b, now(b), now(b + 1), now(b + 2)))
            elif effect in (Effect.RCU_UP, Effect.RCU_DOWN):
                nest = nests[tid]
                updates[nest] = now(nest) + (1 if effect is Effect.RCU_UP else -1)
                if effect is Effect.RCU_DOWN:
                    out = now(nest) == 0
                    for g in gps:
                        old = now(g)
                        updates[g] = z3.If(z3.And(out, _bit(old, tid)), old - (1 << tid), old)
                    for nxt, ghost in ([] if self.domain else ghost_slots(layout)):
                        old = now(ghost)
                        left = z3.And(out, _bit(old, tid))
                        updates[ghost] = z3.If(left, old - (1 << tid), old)
                        updates[nxt] = z3.If(z3.And(left, old == (1 << tid)), z3.IntVal(-1), now(nxt))
            elif effect is Effect.GP_START:
                if gps:
                    readers = [z3.If(now(n) != 0, 1 << t, 0) for t, n in enumerate(nests)]
                    updates[gps[tid]] = z3.Sum(*readers) if readers else z3.IntVal(0)
            else:
                updates.update(self.irq_effect(effect, b, now))
        return updates

    def irq_effect(self, effect: Effect, b: int, now: Callable[[int], z3.ExprRef]) -> dict[int, z3.ExprRef]:
        """An effect on the thread's interrupt state (and the flags a lock instance keeps)."""
        context, flags = self.system.contexts[self.tid], self.system.layout.irq_flags
        irqs, bh = context.irqs_off, context.bh_depth
        if effect is Effect.IRQ_SAVE:
            return {flags[b]: now(irqs)}
        if effect in (Effect.IRQ_OFF, Effect.IRQ_ON):
            return {irqs: z3.IntVal(int(effect is Effect.IRQ_OFF))}
        if effect is Effect.IRQ_RESTORE:
            return {irqs: now(flags[b])}
        if effect in (Effect.BH_UP, Effect.BH_DOWN):
            return {bh: now(bh) + (1 if effect is Effect.BH_UP else -1)}
        return {}

    def grant(self, b: int, owner: z3.ExprRef, readers: z3.ExprRef, queue: z3.ExprRef) -> dict[int, z3.ExprRef | None]:
        """A free (or read-held) rwsem handed to the head of its queue, as locks.rw_grant does: the new
        owner, readers and queue, and the pcs of the threads granted it (moved past their wait)."""
        threads = self.system.threads
        count = len(threads)
        width = READ_BITS * count
        updates: dict[int, z3.ExprRef | None] = {}
        # per queue length n (a thread queues at most once): who is granted, what is left
        woken: list[list[z3.BoolRef]] = [[] for _ in range(count)]
        new_owner, new_readers, new_queue = owner, readers, queue
        for n in range(count, 0, -1):
            entries = [smtlist.item(queue, k) for k in range(n)]
            writer = [e % 2 == 1 for e in entries]
            who = [e / 2 for e in entries]
            free = owner == -1
            # a writer at the head takes it when there are no read holds
            head_writer = z3.And(free, writer[0], readers == 0)
            # else the run of readers at the head (or every reader, all_readers)
            taking = []
            for k in range(n):
                before = [z3.Not(writer[j]) for j in range(k)]
                taking.append(z3.And(free, z3.Not(writer[0]), z3.Not(writer[k]),
                                     *([] if self.all_readers else before)))
            added = z3.Sum(*[z3.If(taking[k], _pow2(2 * who[k], width), 0) for k in range(n)])
            rest = smtlist.compact(queue.sort(), [(z3.Not(z3.Or(taking[k], z3.And(head_writer, k == 0))), entries[k])
                                                  for k in range(n)])
            is_n = smtlist.length(queue) == n
            new_owner = z3.If(z3.And(is_n, head_writer), who[0], new_owner)
            new_readers = z3.If(is_n, readers + added, new_readers)
            new_queue = z3.If(is_n, rest, new_queue)
            for t in range(count):
                woken[t].append(z3.And(is_n, z3.Or(z3.And(head_writer, who[0] == t),
                                                   *[z3.And(taking[k], who[k] == t) for k in range(n)])))
        updates[b], updates[b + 1], updates[b + 2] = new_owner, new_readers, new_queue
        for t, thread in enumerate(threads):
            waits = [(pc, n.next) for pc, n in enumerate(thread.nodes) if isinstance(n, ir.LockWait)]
            if t == self.tid or not waits or not woken[t]:
                continue
            pc = self.at.slot(thread.pcslot)
            moved = reduce(lambda rest, w: z3.If(pc == w[0], z3.IntVal(w[1]), rest), waits, pc)
            updates[thread.pcslot] = z3.If(z3.Or(*woken[t]), moved, pc)
        return updates


__all__ = ["Case", "Relation"]
