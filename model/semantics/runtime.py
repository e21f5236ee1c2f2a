"""Runtime step functions: each IR node (ir.py) becomes a closure over the flat state.

A visible node (one that touches shared state or a lock) is a `Step` whose `fire(s)` returns the
successor states of the thread taking that step, [] when it is blocked, or a `Violation`. Invisible
nodes (local computation, control flow, `either`) run eagerly after each step: `settle` executes them
until the thread stands at its next visible node, so they never add interleavings. Lock and RCU steps
are compiled from their rules (actions.py), the same rules model/semantics/relation.py gives z3.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

from ..lang.expr import Expr, Local, Shared
from ..lang.lockapi import LOCK_API, RCU_LIST_OPS
from ..lang.rcucallbacks import RCU_HEAD_STATES
from ..lang.types import IntT, RefT
from . import ir
from .actions import Effect, Rule, Test, Then, lock_rules, rcu_rules
from .contexts import MAX_BH_DEPTH, Context
from .counters import CEffect, CRule, CTest, counter_rules, high
from .discipline import Hold
from .evaluate import Env, EvalError, Fn, compile_expr, key_index, lock_base
from .layout import Layout, SlotKind, free_checks, ghost_slots, wait_queue_slots
from .locks import MAX_READ_DEPTH, READ_BITS, read_depth, rw_dequeue, rw_grant, rw_read_now, rw_write_now
from .program import CompileError
from .waitqueues import WEffect, WRule, WTest, WThen, exclusive_bit, wait_rules, woken_by_wake_up

SETTLE_FUEL = 100_000
# node runs a settle that has run a folded step (reduced systems) may take before it gives up folding: the
# thread then stands before its first folded step, as when a folded step fails (a busy loop on protected
# data, which the full semantics runs as steps of its own, would otherwise burn the whole SETTLE_FUEL)
FOLDED_FUEL = 2_000
RCU_WALK_OUTSIDE = "outside an RCU read-side critical section (lockdep: suspicious RCU usage)"


def rcu_corruption(var: str) -> str:
    """An RCU walk's cursor on an element no grace period protects it on."""
    return (f"list corruption: the element under the cursor '{var}' was removed from the list, and no grace "
            "period protects this reader on it (list_del instead of list_del_rcu, or the reader left its "
            "read-side section since)")


def use_after_free(name: str, readers: int, slots: Sequence) -> str:
    """The message of a free or reuse while readers may still be on a list_del_rcu()'d element."""
    who = ", ".join(s.name.removesuffix(".rcu_read_depth") for t, s in enumerate(
        x for x in slots if x.kind == SlotKind.RCU_NEST and not x.var) if readers >> t & 1)
    were = "were" if readers & (readers - 1) else "was"
    return (f"use-after-free: taken off {name} by list_del_rcu() while {who} {were} inside an RCU read-side "
            "section, and no grace period has ended since: they may still reach it")


HEAD_IDLE, HEAD_PENDING, HEAD_RUNNING, HEAD_REQUEUED = range(len(RCU_HEAD_STATES))


def rcu_text(node: ir.CallRcu) -> str:
    return node.stmt.text if node.stmt else "call_rcu"


def double_call_rcu(node: ir.CallRcu) -> str:
    """The message of call_rcu() on a queued rcu_head (CONFIG_DEBUG_OBJECTS_RCU_HEAD: "ODEBUG: activate active")."""
    if node.kfree:
        return f"{rcu_text(node)}: already queued by kfree_rcu() and not freed yet (double free)"
    return (f"{rcu_text(node)}: the rcu_head is already queued and its callback has not run (double call_rcu(); "
            "debug objects: activate active)")


class Violation:
    """A step that breaks a property: which property, what happened, which thread and program point."""

    __slots__ = ("prop", "message", "tid", "pc")

    def __init__(self, prop: str, message: str, tid: int, pc: int):
        self.prop, self.message, self.tid, self.pc = prop, message, tid, pc

    def __repr__(self) -> str:
        return f"Violation({self.prop!r}, {self.message!r}, tid={self.tid}, pc={self.pc})"


class Step:
    """The visible step at one program point of one thread. `action` and `sig_action` are its
    compile-time action ids (the step, and the fatal signal ending its wait), set by the system."""

    __slots__ = ("fire", "sig", "idle", "pc", "action", "sig_action")

    def __init__(self, fire: Callable, sig: Callable | None, idle: bool, pc: int):
        self.fire, self.sig, self.idle, self.pc = fire, sig, idle, pc
        self.action = self.sig_action = -1


Settle = Callable[[list, list], None]
Act = Callable[[Sequence, int, object], list]   # a rule's action: (state, lock slot, its test's answer)


class ActionInfo(NamedTuple):
    """A compile-time action: a thread's visible step at one program point, or the fatal signal ending
    its wait there. The system numbers them thread by thread, in program-point order."""

    tid: int
    pc: int
    signal: bool


@dataclass(frozen=True)
class Executions:
    """What one exploration executed, per thread instance: runs per program point, and `if` outcomes
    per program point ([2 * pc] true, [2 * pc + 1] false)."""

    ran: tuple[tuple[int, ...], ...]
    outcomes: tuple[tuple[int, ...], ...]


class Counts:
    """How often each program point of one thread ran, and which way each `if` went: what coverage
    (checker/analyses/coverage.py) is computed from. `settle` counts the invisible nodes it runs, the explorer
    the visible steps that fire with a result; `initial` keeps what computing the initial states ran."""

    __slots__ = ("ran", "outcomes", "initial", "weight")

    def __init__(self, size: int, weight: list[int] | None = None):
        self.ran = [0] * size             # [pc]: runs of the node at pc
        self.outcomes = [0] * (2 * size)  # [2 * pc]: an `if` condition was true, [2 * pc + 1]: false
        # what each run adds ([0]; 1 but while the step memo (memo.py) replays runs it remembered, one
        # list for all threads of a system: a step settles the threads it wakes too)
        self.weight = weight if weight is not None else [1]
        self.initial: tuple[list[int], list[int]] = ([0] * size, [0] * (2 * size))

    def keep_initial(self) -> None:
        """Remember the counts so far (the initial states' settling) as the start of every exploration."""
        self.initial = (self.ran.copy(), self.outcomes.copy())

    def restart(self) -> None:
        """Back to the initial counts, in place (the closures hold these very lists)."""
        self.ran[:] = self.initial[0]
        self.outcomes[:] = self.initial[1]


STOP = object()   # what a folded step returns to settle when it would fail: the thread stops before it


class ReductionError(Exception):
    """A folded step ran where the assumption of the protected-data reduction does not hold: an error in
    the analysis (model/semantics/discipline.py), which ends the run as an internal error."""


class Tracing:
    """Whether a thread's `settle` records the `either` branches it takes (when replaying a step for a
    trace): then each result it appends is a pair (branch names, result) instead of the bare result."""

    __slots__ = ("on",)

    def __init__(self) -> None:
        self.on = False


def make_settle(runs: list, pcslot: int, tid: int, ran: list[int], branch_names: dict[int, tuple[str, ...]],
                tracing: Tracing, fold_mark: list | None = None, weight: list[int] | None = None) -> Settle:
    """Run a thread's invisible nodes until it reaches a visible one; append the results to `out`.
    Each node run is counted in `ran` (`weight[0]` times). With `tracing.on`, each result comes with the
    `either` branches taken to reach it (by name, from `branch_names[pc]`). `fold_mark[0]`: the state
    before the first folded step this settle ran (set by the folded step, reduced systems only): a
    violation later on the same path is not folded either, the thread stands before that step instead
    (its own step then fails)."""
    mark = fold_mark if fold_mark is not None else [None]
    counted = weight if weight is not None else [1]
    folding_ends = SETTLE_FUEL - FOLDED_FUEL   # the fuel left when a settle that folded gives up

    def unfolded(r: object) -> object:
        """A violation after a folded step: the state before the first folded step of the path."""
        return mark[0] if r.__class__ is Violation and mark[0] is not None else r

    def settle(l: list, out: list) -> None:
        pc = l[pcslot]
        run = runs[pc]
        traced = tracing.on
        mark[0] = None
        choices: tuple[str, ...] = ()
        if run is None:
            out.append((choices, tuple(l)) if traced else tuple(l))
            return
        fuel = SETTLE_FUEL
        stack: list = []
        while True:
            ran[pc] += counted[0]
            try:
                r = run(l)
            except EvalError as err:
                v = unfolded(Violation("runtime_safety", str(err), tid, pc))
                out.append((choices, v) if traced else v)
                r = None
            if r.__class__ is int:
                l[pcslot] = r
            elif r.__class__ is list:
                names = branch_names[pc] if traced else ()
                for k in range(1, len(r)):
                    copy = l.copy()
                    copy[pcslot] = r[k]
                    stack.append((copy, choices + (names[k],) if traced else choices, mark[0]))
                if traced:
                    choices = choices + (names[0],)
                l[pcslot] = r[0]
            else:
                if r is STOP:    # a folded step that would fail: the thread stands before it
                    r = tuple(l)
                if r is not None:
                    if r.__class__ is Violation and mark[0] is not None:   # unfold: see unfolded()
                        r = mark[0]
                    out.append((choices, r) if traced else r)
                if not stack:
                    return
                l, choices, mark[0] = stack.pop()
            pc = l[pcslot]
            run = runs[pc]
            while run is None:
                out.append((choices, tuple(l)) if traced else tuple(l))
                if not stack:
                    return
                l, choices, mark[0] = stack.pop()
                pc = l[pcslot]
                run = runs[pc]
            fuel -= 1
            if fuel < 0 or (fuel < folding_ends and mark[0] is not None):
                v = unfolded(Violation("runtime_safety", "local computation does not terminate", tid, pc))
                out.append((choices, v) if traced else v)
                return
    return settle


class Threads:
    """What a step needs to know about the other threads: to move a woken waiter past its wait."""

    def __init__(self) -> None:
        self.pcslots: list[int] = []
        self.nodes: list[list[ir.Node]] = []
        self.settles: list[Settle] = []


class RuntimeBuilder:
    """Turns the IR of one thread into step and run closures."""

    def __init__(self, layout: Layout, tid: int, pcslot: int, nodes: list[ir.Node], all_readers: bool,
                 fatal_signals: bool, spin_slots: list[int], rcu: tuple[list[int], list[int]],
                 end_check: Callable, finished: int, defaults: dict[int, object], others: Threads,
                 folded: Mapping[int, frozenset[Hold]] | None = None, context: Context | None = None,
                 weight: list[int] | None = None):
        self.others = others
        self.context = context or Context()
        self.folded = folded or {}   # folded steps (discipline.py) -> the locks the thread must hold there
        self.layout = layout
        self.defaults = defaults
        self.tid = tid
        self.pcslot = pcslot
        self.nodes = nodes
        self.all_readers = all_readers
        self.fatal_signals = fatal_signals
        self.spin_slots = [s for s in spin_slots]
        self.rcu_nest, self.gp_wait = rcu
        self.end_check = end_check
        self.finished = finished
        self.runs: list = [None] * (len(nodes) + 1)
        self.steps: list[Step | None] = [None] * (len(nodes) + 1)
        self.counts = Counts(len(nodes) + 1, weight)
        self.tracing = Tracing()
        branch_names = {pc: tuple(name for name, _ in node.branches)
                        for pc, node in enumerate(nodes) if isinstance(node, ir.Choose)}
        self.fold_mark: list = [None]   # the state before the first folded step of a settle (make_settle)
        self.settle = make_settle(self.runs, pcslot, tid, self.counts.ran, branch_names, self.tracing,
                                  self.fold_mark, self.counts.weight)

    def build(self) -> None:
        for pc, node in enumerate(self.nodes):
            if isinstance(node, ir.Jump):
                continue
            if node.visible:
                self.steps[pc] = self.step(pc, node)
            elif pc in self.folded:   # run at once by settle, and a step of its own where it would fail
                run = self.release(node) if isinstance(node, ir.LockCall) else self.apply(pc, node)
                self.runs[pc] = self.holding(self.folded[pc], run, node)
                self.steps[pc] = self.step(pc, node)
            else:
                self.runs[pc] = self.apply(pc, node)
        if self.context.preempted_by:
            self.steps = [self.preemptible(step) if step is not None else None for step in self.steps]

    def preemptible(self, step: Step) -> Step:
        """A step of a thread whose CPU an interrupt may hold: none while one of them is active
        (contexts.py: arrived and not finished)."""
        irqs = [(i.pcslot, i.entry, i.finished) for i in self.context.preempted_by]

        def gate(fn: Callable) -> Callable:
            def fire(s: Sequence) -> list:
                for pcslot, entry, finished in irqs:
                    if s[pcslot] != entry and s[pcslot] != finished:
                        return []
                return fn(s)
            return fire
        return Step(gate(step.fire), gate(step.sig) if step.sig is not None else None, step.idle, step.pc)

    def irq_arrive(self, pc: int, node: ir.IrqArrive) -> Step:
        """An interrupt arrives: once every interrupt it may not nest in is inactive and the CPU has
        interrupts (or softirqs) enabled."""
        irqs = [(i.pcslot, i.entry, i.finished) for i in self.context.arrive_after]
        clear, nxt = self.context.arrive_clear, node.next

        def fire(s: Sequence) -> list:
            for pcslot, entry, finished in irqs:
                if s[pcslot] != entry and s[pcslot] != finished:
                    return []
            if any(s[x] for x in clear):
                return []
            return self.goto(list(s), nxt)
        return Step(fire, None, False, pc)

    def holding(self, holds: frozenset[Hold], run: Callable, node: ir.Node) -> Callable:
        """A folded step's closure for settle. It first checks the reduction's assumption: the thread holds
        every lock the discipline analysis says it holds there (the lock's only instance). A step that
        would fail (a violation) is not folded: the thread stops before it (STOP), where its own step
        reports the violation while the other threads go on."""
        tid = self.tid
        exclusive = [self.layout.locks[h.lock][0] for h in holds if h.exclusive]
        shared = [self.layout.locks[h.lock][0] + 1 for h in holds if not h.exclusive]
        where = node.stmt.span.short if node.stmt is not None else node.kind
        mark = self.fold_mark

        def checked(l: list) -> object:
            if any(l[b] != tid for b in exclusive) or any(not read_depth(l[b], tid) for b in shared):
                raise ReductionError(f"the protected-data reduction assumed thread {tid} holds "
                                     f"{', '.join(sorted(h.lock for h in holds))} at {where}, and it does not")
            before = l.copy()
            try:
                r = run(l)
            except EvalError:
                r = STOP
            if r.__class__ is Violation or r is STOP:
                l[:] = before
                return STOP
            if mark[0] is None:
                mark[0] = tuple(before)
            return r
        return checked

    def release(self, node: ir.LockCall) -> Callable:
        """A folded release (a left-mover: discipline.py) for settle. `holding` has checked that the thread
        holds the lock, the case where the release's rules only drop it."""
        rules = lock_rules(node.op)
        assert rules[-1] == Rule(Test.ALWAYS, (Effect.DROP,), Then.NEXT) and all(
            r.test is Test.NOT_MINE and r.then is Then.VIOLATE for r in rules[:-1]), f"{node.op} is no plain release"
        slot, nxt = self.lock_place(node)[0], node.next

        def release(l: list) -> int:
            l[slot] = -1
            return nxt
        return release

    # -- shared helpers

    @staticmethod
    def fn(e: Expr | None, env: Env | None) -> Fn:
        """The closure of an expression in its frame; a compile-time failure is the expression's error."""
        assert e is not None and env is not None
        try:
            return compile_expr(e, env)
        except EvalError as err:
            raise CompileError(e.span, str(err)) from None

    def place(self, p: ir.Place) -> tuple[int, Fn | None]:
        """(static slot, dynamic offset closure or None) of a place."""
        target = p.target
        if isinstance(target, Local):
            return p.env.locals[target.name], None
        base, strides = self.layout.shared[target.name]
        try:
            static, dynamic = key_index(target.keys, strides, p.env, [10_000])
        except EvalError as err:
            raise CompileError(target.span, str(err)) from None
        return base + static, dynamic

    @staticmethod
    def lock_place(node: ir.LockCall | ir.LockWait) -> tuple[int, Fn | None]:
        assert node.lock is not None and node.env is not None
        try:
            return lock_base(node.lock, node.env)
        except EvalError as err:
            raise CompileError(node.lock.span, str(err)) from None

    def violation(self, prop: str, message: str, pc: int) -> Violation:
        return Violation(prop, message, self.tid, pc)

    def wrap(self, pc: int, apply: Callable) -> Step:
        """A visible step from a mutating apply function."""
        pcslot, tid = self.pcslot, self.tid

        def fire(s: Sequence) -> list:
            l = list(s)
            try:
                r = apply(l)
            except EvalError as err:
                return [Violation("runtime_safety", str(err), tid, pc)]
            if r.__class__ is int:
                l[pcslot] = r
                out: list = []
                self.settle(l, out)
                return out
            return [r]
        return Step(fire, None, False, pc)

    def goto(self, l: list, target: int) -> list:
        l[self.pcslot] = target
        out: list = []
        self.settle(l, out)
        return out

    def wake(self, l: list, woken: list[int], target: int) -> list:
        """Move the threads just granted a lock past their wait (eagerly), then this thread to `target`."""
        states = [l]
        out: list = []
        others = self.others
        for w in woken:
            pcslot, nodes, settle = others.pcslots[w], others.nodes[w], others.settles[w]
            moved: list = []
            for st in states:
                st[pcslot] = nodes[st[pcslot]].next
                settled: list = []
                settle(st, settled)
                for r in settled:
                    if r.__class__ is Violation:
                        out.append(r)
                    else:
                        moved.append(list(r))
            states = moved
        for st in states:
            st[self.pcslot] = target
            self.settle(st, out)
        return out

    def holds_spin(self, s: Sequence) -> bool:
        tid = self.tid
        return any(s[x] == tid for x in self.spin_slots)

    def atomic_context(self) -> Callable[[Sequence], str] | None:
        """A check for sleeping where it is forbidden (irq context, spinlock held, RCU read side, hardirqs or
        softirqs disabled), or None if the spec has none of them."""
        spin = bool(self.spin_slots)
        nest = self.rcu_nest[self.tid] if self.rcu_nest else -1
        reasons = self.context.atomic_reasons()
        if self.context.in_irq:
            always = f"sleeps in {self.context.kind} context"
            return lambda s: always
        if not spin and nest < 0 and not reasons:
            return None

        def problem(s: Sequence) -> str:
            if spin and self.holds_spin(s):
                return "sleeps while holding a spinlock"
            if nest >= 0 and s[nest]:
                return "sleeps inside an RCU read-side critical section"
            for message, slot in reasons:
                if s[slot]:
                    return message
            return ""
        return problem

    # -- invisible (and shared-state) node semantics

    def apply(self, pc: int, node: ir.Node) -> Callable:
        nxt, alt = node.next, node.alt
        if isinstance(node, ir.Assign):
            return self.assign(pc, node)
        if isinstance(node, ir.Reset):
            slots = node.slots

            def reset(l: list) -> int:
                for slot in slots:
                    l[slot] = None
                return nxt
            return reset
        if isinstance(node, ir.Branch):
            cond = self.fn(node.cond, node.env)
            if node.counted:
                return self.counted_branch(pc, cond, nxt, alt)
            return lambda l: nxt if cond(l) else alt
        if isinstance(node, ir.Choose):
            targets = [t for _, t in node.branches]
            return lambda l: list(targets)
        if isinstance(node, ir.LoopStep):
            return self.loop(pc, node)
        if isinstance(node, ir.ListEdit):
            return self.list_op(pc, node)
        if isinstance(node, ir.Free):
            return self.free(pc, node)
        if isinstance(node, ir.CallRcu):
            return self.call_rcu(pc, node)
        if isinstance(node, ir.Check):
            cond, text = self.fn(node.cond, node.env), node.stmt.text if node.stmt else ""
            violated = self.violation(node.name, node.message or f"{text} failed", pc)
            return lambda l: nxt if cond(l) else violated
        if isinstance(node, ir.End):
            check, finished, tid = self.end_check, self.finished, self.tid

            def end(l: list) -> object:
                problem = check(l, tid)
                if problem:
                    return Violation("lock_discipline", problem, tid, pc)
                return finished
            return end
        raise AssertionError(f"node kind {node.kind} cannot run invisibly")

    def counted_branch(self, pc: int, cond: Callable, nxt: int, alt: int) -> Callable:
        """An `if` condition that counts which way it goes (branch coverage)."""
        outcomes, true, false, weight = self.counts.outcomes, 2 * pc, 2 * pc + 1, self.counts.weight

        def branch(l: list) -> int:
            if cond(l):
                outcomes[true] += weight[0]
                return nxt
            outcomes[false] += weight[0]
            return alt
        return branch

    def assign(self, pc: int, node: ir.Assign) -> Callable:
        writes = [(*self.place(p), p.type if p.checked else None) for p in node.writes]
        values = [self.fn(v, node.env) for v in node.values]
        nxt = node.next
        text = node.stmt.text if node.stmt else ""
        checks = [self.range_check(slot, t, pc, text) for slot, _, t in writes]
        if len(writes) == 1 and writes[0][1] is None and checks[0] is None:
            slot, value = writes[0][0], values[0]

            def assign1(l: list) -> int:
                l[slot] = value(l)
                return nxt
            return assign1
        if len(writes) == 1:
            slot, dyn, _ = writes[0]
            value, check = values[0], checks[0]

            def assign_one(l: list) -> object:
                v = value(l)
                place = slot + dyn(l) if dyn is not None else slot
                if check is not None:
                    problem = check(v, place)
                    if problem is not None:
                        return problem
                l[place] = v
                return nxt
            return assign_one
        if all(c is None for c in checks) and all(dyn is None for _, dyn, _ in writes):
            slots = [slot for slot, _, _ in writes]
            pairs = list(zip(slots, values))

            def assign_many(l: list) -> int:
                vals = [f(l) for _, f in pairs]
                for slot, v in zip(slots, vals):
                    l[slot] = v
                return nxt
            return assign_many
        def assign(l: list) -> object:
            vals = [f(l) for f in values]
            places = [slot + dyn(l) if dyn is not None else slot for slot, dyn, _ in writes]
            for check, place, v in zip(checks, places, vals):
                if check is not None:
                    problem = check(v, place)
                    if problem is not None:
                        return problem
                l[place] = v
            return nxt
        return assign

    def range_check(self, slot: int, t: object, pc: int, text: str) -> Callable | None:
        layout = self.layout
        if isinstance(t, IntT) and t.lo is not None:
            lo, hi = t.lo, t.hi

            def int_check(v: int, place: int) -> Violation | None:
                if lo <= v <= hi:  # type: ignore[operator]
                    return None
                name = layout.slots[place].name if layout.slots[place].kind == SlotKind.SHARED else text
                return self.violation("runtime_safety", f"{name}: value {v} is outside {t}", pc)
            return int_check
        if isinstance(t, RefT) and not t.nullable:
            def ref_check(v: int, place: int) -> Violation | None:
                if v != -1:
                    return None
                return self.violation("runtime_safety", f"{text}: null stored in a {t}", pc)
            return ref_check
        return None

    def loop(self, pc: int, node: ir.LoopStep) -> Callable:
        if node.rcu:
            return self.rcu_loop(pc, node)
        nxt, alt = node.next, node.alt
        cursor, source, order, is_list = node.cursor, self.fn(node.source, node.env), node.order, node.is_list
        start = node.start
        reverse = order != "forward"
        corrupt = self.violation("runtime_safety",
                                 f"list corruption: the element under the cursor '{node.var}' was removed from the "
                                 "list while the loop walked it", pc)

        def step_list(l: list) -> object:
            items = source(l)
            cur = l[cursor]
            if start and order != "continue_reverse":
                c = (items[-1] if reverse else items[0]) if items else -1
            else:
                if cur >= 0 and cur not in items:
                    return corrupt
                if cur < 0 and not start:
                    return alt
                i = items.index(cur) if cur >= 0 else len(items)
                j = i - 1 if reverse else i + 1
                c = items[j] if 0 <= j < len(items) else -1
            l[cursor] = c
            return nxt if c >= 0 else alt

        def step_set(l: list) -> object:
            mask = source(l)
            cur = l[cursor]
            if start and order != "continue_reverse":
                c = (mask.bit_length() - 1 if reverse else (mask & -mask).bit_length() - 1) if mask else -1
            elif reverse:
                below = mask & ((1 << cur) - 1) if cur >= 0 else mask
                c = below.bit_length() - 1 if below else -1
            else:
                above = mask >> (cur + 1) << (cur + 1)
                c = (above & -above).bit_length() - 1 if above else -1
            l[cursor] = c
            return nxt if c >= 0 else alt
        return step_list if is_list else step_set

    def rcu_loop(self, pc: int, node: ir.LoopStep) -> Callable:
        """list_for_each_entry_rcu (include/linux/rculist.h): inside a read-side section only; from an element
        list_del_rcu() took off while this reader was inside one, on to the successor it had then."""
        assert isinstance(node.source, Shared)
        nxt, alt, cursor, start = node.next, node.alt, node.cursor, node.start
        source = self.fn(node.source, node.env)
        nest, bit = self.rcu_nest[self.tid], 1 << self.tid
        ghost_next, ghost_readers, _ = self.layout.rcu_lists[node.source.name]
        outside = self.violation("lock_discipline", f"{node.stmt.text if node.stmt else 'list_for_each_entry_rcu'}: "
                                 f"{RCU_WALK_OUTSIDE}", pc)
        corrupt = self.violation("runtime_safety", rcu_corruption(node.var), pc)

        def step(l: list) -> object:
            if not l[nest]:
                return outside
            items = source(l)
            cur = l[cursor]
            if start:
                c = items[0] if items else -1
            elif cur < 0:
                return alt
            elif cur in items:
                i = items.index(cur) + 1
                c = items[i] if i < len(items) else -1
            elif l[ghost_readers + cur] & bit:
                c = l[ghost_next + cur]
            else:
                return corrupt
            l[cursor] = c
            return nxt if c >= 0 else alt
        return step

    def free(self, pc: int, node: ir.Free) -> Callable:
        """kfree: no list may hold the element, no RCU reader since its list_del_rcu() still reach it."""
        assert node.item is not None and isinstance(node.item.type, RefT)
        item, nxt, tid = self.fn(node.item, node.env), node.next, self.tid
        holders, ghosts = free_checks(self.layout, node.item.type.entity)
        text, names = node.stmt.text if node.stmt else "kfree", self.layout.slots

        def free(l: list) -> object:
            x = item(l)
            if x < 0:
                return nxt
            for slot in holders:
                if x in l[slot]:
                    return Violation("runtime_safety", f"{text}: still on {names[slot].name}", tid, pc)
            for name, readers in ghosts:
                if l[readers + x]:
                    return Violation("runtime_safety", f"{text}: {use_after_free(name, l[readers + x], names)}",
                                     tid, pc)
            return nxt
        return free

    def call_rcu(self, pc: int, node: ir.CallRcu) -> Callable:
        """call_rcu() / kfree_rcu() (ir.CallRcu): a queued rcu_head is a double call_rcu; else it is queued and
        the grace period of the callback's thread starts with the readers inside now."""
        assert node.head is not None
        slot, dyn = self.place(node.head)
        item = self.fn(node.item, node.env) if node.item is not None else None
        gp, nests, nxt, kfree = node.gp, self.rcu_nest, node.next, node.kfree
        null = self.violation("runtime_safety", f"{rcu_text(node)}: the object is null (a NULL rcu_head)", pc)
        double = self.violation("runtime_safety", double_call_rcu(node), pc)

        def call_rcu(l: list) -> object:
            k = item(l) if item is not None else 0
            if k < 0:
                return nxt if kfree else null
            place = slot + dyn(l) if dyn is not None else slot
            head = l[place]
            if head == HEAD_PENDING or head == HEAD_REQUEUED:
                return double
            l[place] = HEAD_PENDING if head == HEAD_IDLE else HEAD_REQUEUED
            l[gp[k]] = sum(1 << t for t, n in enumerate(nests) if l[n])
            return nxt
        return call_rcu

    def list_op(self, pc: int, node: ir.ListEdit) -> Callable:
        nxt, fn = node.next, node.fn
        assert node.place is not None
        slot, dyn = self.place(node.place)
        item = self.fn(node.items[0], node.env)
        pos_fn = self.fn(node.items[1], node.env) if len(node.items) > 1 else None
        text = node.stmt.text if node.stmt else fn
        layout = self.layout
        tid = self.tid
        rcu = layout.rcu_lists.get(node.place.target.name) if isinstance(node.place.target, Shared) else None
        if rcu is not None:
            ghost_next, ghost_readers, _ = rcu
            nests = self.rcu_nest
        fn = RCU_LIST_OPS.get(fn, fn)

        deleting_rcu = node.fn == "list_del_rcu"

        def list_op(l: list) -> object:
            place = slot + dyn(l) if dyn is not None else slot
            items = l[place]
            x = item(l)
            name = layout.slots[place].name
            if x < 0:
                return Violation("runtime_safety", f"{text}: the element is null", tid, pc)
            if fn == "list_del":
                if x not in items:
                    return Violation("runtime_safety", f"{text}: the element is not on {name} (double list_del?)",
                                     tid, pc)
                l[place] = tuple(i for i in items if i != x)
                if deleting_rcu:   # rculist.h: ->next stays for the readers on it
                    readers = sum(1 << t for t, n in enumerate(nests) if l[n])
                    if readers:
                        i = items.index(x) + 1
                        l[ghost_next + x] = items[i] if i < len(items) else -1
                        l[ghost_readers + x] = readers
                return nxt
            if x in items:
                return Violation("runtime_safety", f"{text}: the element is already on {name} (list corruption)",
                                 tid, pc)
            if rcu is not None and l[ghost_readers + x]:
                uaf = use_after_free(name, l[ghost_readers + x], layout.slots)
                return Violation("runtime_safety", f"{text}: {uaf}", tid, pc)
            if fn == "list_add":
                l[place] = (x,) + items
            elif fn == "list_add_tail":
                l[place] = items + (x,)
            else:
                assert pos_fn is not None
                pos = pos_fn(l)
                if pos < 0:
                    l[place] = items + (x,)
                elif pos not in items:
                    return Violation("runtime_safety", f"{text}: the position is not on {name} (a dangling list "
                                     "pointer)", tid, pc)
                else:
                    i = items.index(pos)
                    l[place] = items[:i] + (x,) + items[i:]
            return nxt
        return list_op

    # -- visible steps

    def step(self, pc: int, node: ir.Node) -> Step:
        if isinstance(node, ir.LockCall):
            return self.guarded(pc, self.lock(pc, node))
        if isinstance(node, ir.LockWait):
            return self.lock_wait(pc, node)
        if isinstance(node, ir.RcuCall):
            return self.rcu(pc, node)
        if isinstance(node, ir.GraceWait):
            return self.gp_wait_step(pc, node)
        if isinstance(node, ir.Await):
            return self.await_step(pc, node)
        if isinstance(node, ir.CounterCall):
            return self.guarded(pc, self.counter(pc, node))
        if isinstance(node, ir.WaitCall):
            return self.guarded(pc, self.wait_queue(pc, node))
        if isinstance(node, ir.IrqArrive):
            return self.irq_arrive(pc, node)
        return self.wrap(pc, self.apply(pc, node))

    def guarded(self, pc: int, step: Step) -> Step:
        """A step whose evaluation may fail (a null lock index): the failure is a runtime_safety violation."""
        tid = self.tid

        def wrap(fn: Callable) -> Callable:
            def checked(s: Sequence) -> list:
                try:
                    return fn(s)
                except EvalError as err:
                    return [Violation("runtime_safety", str(err), tid, pc)]
            return checked
        return Step(wrap(step.fire), wrap(step.sig) if step.sig is not None else None, step.idle, step.pc)

    def await_step(self, pc: int, node: ir.Await) -> Step:
        cond, nxt, tid = self.fn(node.cond, node.env), node.next, self.tid
        atomic = self.atomic_context() if node.sleeps else None
        shown = node.stmt.text if node.stmt else "await"

        def fire(s: Sequence) -> list:
            if atomic is not None:
                problem = atomic(s)
                if problem:
                    return [Violation("lock_discipline", f"{shown}: {problem}", tid, pc)]
            try:
                ok = cond(s)
            except EvalError as err:
                return [Violation("runtime_safety", str(err), tid, pc)]
            if not ok:
                return []
            return self.goto(list(s), nxt)
        return Step(fire, None, node.idle, pc)

    # -- counter steps (refcount_t, atomic_t, completions): their rules (counters.py) compiled to closures

    def counter(self, pc: int, node: ir.CounterCall) -> Step:
        assert node.place is not None and isinstance(node.place.type, IntT)
        t = node.place.type
        assert t.lo is not None and t.hi is not None and t.counter is not None
        fire = self.counter_rules(pc, node, counter_rules(node.op), t.lo, t.hi, high(t.lo, t.hi, t.counter))
        sig = None
        if self.fatal_signals and (rules := counter_rules(node.op, signal=True)):
            sig = self.counter_rules(pc, node, rules, t.lo, t.hi, high(t.lo, t.hi, t.counter))
        return Step(fire, sig, False, pc)

    def counter_rules(self, pc: int, node: ir.CounterCall, rules: tuple[CRule, ...], lo: int, hi: int,
                      top: int) -> Callable[[Sequence], list]:
        """The closure of a counter step: the first rule whose test holds on the value v applies."""
        assert node.place is not None
        slot, dyn = self.place(node.place)
        value = self.fn(node.value, node.env) if node.value is not None else None
        result = self.place(node.result) if node.result is not None else None
        atomic = self.atomic_context()
        tid, shown = self.tid, node.stmt.text if node.stmt else node.op
        targets = {Then.NEXT: node.next, Then.FAIL: node.alt}
        tests: dict[CTest, Callable[[Sequence, int, object], object]] = {
            CTest.ALWAYS: lambda s, v, x: True,
            CTest.ATOMIC: (lambda s, v, x: atomic(s)) if atomic is not None else (lambda s, v, x: ""),
            CTest.ZERO: lambda s, v, x: v == 0,
            CTest.ONE: lambda s, v, x: v == 1,
            CTest.LOW: lambda s, v, x: v == lo,
            CTest.HIGH: lambda s, v, x: v == top,
            CTest.ALL: lambda s, v, x: v == hi,
            CTest.OUTSIDE: lambda s, v, x: not lo <= x <= hi,   # type: ignore[operator]
        }
        effects: dict[CEffect, Callable[[int, object], int]] = {
            CEffect.NONE: lambda v, x: v, CEffect.INC: lambda v, x: v + 1, CEffect.DEC: lambda v, x: v - 1,
            CEffect.CLEAR: lambda v, x: 0, CEffect.ALL: lambda v, x: hi, CEffect.SET: lambda v, x: x}  # type: ignore
        plan = [(tests[r.test], r, effects[r.effect], targets.get(r.then, -1)) for r in rules]

        def fire(s: Sequence) -> list:
            place = slot + dyn(s) if dyn is not None else slot
            v = s[place]
            x = value(s) if value is not None else None
            for test, rule, effect, target in plan:
                found = test(s, v, x)
                if not found:
                    continue
                if rule.then is Then.BLOCK:
                    return []
                if rule.then is Then.VIOLATE:
                    message = rule.message or str(found)
                    if rule.test is CTest.OUTSIDE:
                        message = f"value {x} {message}"
                    return [Violation(rule.prop, f"{shown}: {message}", tid, pc)]
                l = list(s)
                l[place] = effect(v, x)
                if result is not None:
                    rslot, rdyn = result
                    l[rslot + rdyn(s) if rdyn is not None else rslot] = rule.then is Then.NEXT
                return self.goto(l, target)
            return []
        return fire

    # -- wait-queue steps: their rules (waitqueues.py) compiled to closures

    def wait_queue(self, pc: int, node: ir.WaitCall) -> Step:
        fire = self.wait_rules(pc, node, wait_rules(node.op))
        sig = None
        if self.fatal_signals and (rules := wait_rules(node.op, signal=True)):
            sig = self.wait_rules(pc, node, rules)
        return Step(fire, sig, False, pc)

    def wait_rules(self, pc: int, node: ir.WaitCall, rules: tuple[WRule, ...]) -> Callable[[Sequence], list]:
        """The closure of a wait-queue step: the first rule whose tests all hold applies (the condition is
        evaluated only when a rule asks for it; an undefined one is a runtime_safety violation)."""
        slot, dyn = self.place(node.place) if node.place is not None else (-1, None)
        cond = self.fn(node.cond, node.env) if node.cond is not None else None
        atomic = self.atomic_context()
        queues = wait_queue_slots(self.layout)
        tid, bit, shown = self.tid, 1 << self.tid, node.stmt.text if node.stmt else node.op
        targets = {WThen.NEXT: node.next, WThen.FAIL: node.alt, WThen.STAY: pc}
        tests: dict[WTest, Callable[[Sequence, int], object]] = {
            WTest.ALWAYS: lambda s, q: True,
            WTest.ATOMIC: (lambda s, q: atomic(s)) if atomic is not None else (lambda s, q: ""),
            WTest.ELSEWHERE: lambda s, q: any(s[j] & bit for j in queues if j != q),
            WTest.QUEUED: lambda s, q: any(s[j] & bit for j in queues),
            WTest.ON: lambda s, q: s[q] & bit,
            WTest.COND: lambda s, q: cond(s),   # type: ignore[misc]
        }
        threads = len(self.layout.pc)
        entry = bit | exclusive_bit(tid, threads)   # the thread's bits: on the queue, exclusive
        effects: dict[WEffect, Callable[[int], tuple[int, ...]]] = {
            WEffect.NONE: lambda v: (v,), WEffect.ADD: lambda v: (v & ~entry | bit,),
            WEffect.ADD_EXCLUSIVE: lambda v: (v | entry,), WEffect.REMOVE: lambda v: (v & ~entry,),
            WEffect.WAKE: lambda v: (0,), WEffect.WAKE_ONE: lambda v: woken_by_wake_up(v, threads)}
        plan = [([tests[t] for t in r.tests], r, effects[r.effect], targets.get(r.then, -1)) for r in rules]

        def fire(s: Sequence) -> list:
            q = slot + dyn(s) if dyn is not None else slot
            for checks, rule, effect, target in plan:
                found: object = True
                for check in checks:
                    found = check(s, q)
                    if not found:
                        break
                if not found:
                    continue
                if rule.then is WThen.BLOCK:
                    return []
                if rule.then is WThen.VIOLATE:
                    return [Violation(rule.prop, f"{shown}: {rule.message or found}", tid, pc)]
                if q < 0:
                    return self.goto(list(s), target)
                out: list = []
                for value in effect(s[q]):   # several values: which exclusive sleeper wake_up() wakes
                    l = list(s)
                    l[q] = value
                    out += self.goto(l, target)
                return out
            return []
        return fire

    # -- lock and RCU steps: their rules (actions.py) compiled to closures

    def lock(self, pc: int, node: ir.LockCall) -> Step:
        (base, dyn), info = self.lock_place(node), LOCK_API[node.op]

        def where(s: Sequence) -> int:
            return base + dyn(s) if dyn is not None else base
        shown = node.stmt.text if node.stmt else node.op
        entry = self.tid * 2 + (1 if info.mode == "write" else 0)
        fire = self.rules(pc, lock_rules(node.op), where if dyn is not None else base, node, shown, entry)
        sig = None
        if self.fatal_signals and (rules := lock_rules(node.op, signal=True)):
            sig = self.rules(pc, rules, where if dyn is not None else base, node, shown, entry)
        return Step(fire, sig, False, pc)

    def lock_wait(self, pc: int, node: ir.LockWait) -> Step:
        (base, dyn), op = self.lock_place(node), node.op
        assert node.lock is not None
        name = node.lock.name
        entry = self.tid * 2 + (1 if LOCK_API[op].mode == "write" else 0)
        # The waiter sits in the queue of the instance it asked for; with an index that reads shared
        # state the index may have changed since, so look for the queue that holds it.
        first, width, _ = self.layout.locks[name]
        instances = [base] if dyn is None else [
            first + i * width for i, slot in enumerate(self.layout.slots[first::width])
            if slot.var == name and slot.kind == SlotKind.LOCK_OWNER]

        def queued_at(s: Sequence) -> int:
            for b in instances:
                if entry in s[b + 2]:
                    return b
            return -1
        shown = node.stmt.text if node.stmt else op
        fire = self.rules(pc, lock_rules(op, waiting=True), queued_at, node, shown, entry)
        sig = None
        if self.fatal_signals and (rules := lock_rules(op, waiting=True, signal=True)):
            sig = self.rules(pc, rules, queued_at, node, shown, entry)
        return Step(fire, sig, False, pc)

    def rcu(self, pc: int, node: ir.RcuCall) -> Step:
        return Step(self.rules(pc, rcu_rules(node.op), -1, node, f"{node.op}()"), None, False, pc)

    def gp_wait_step(self, pc: int, node: ir.GraceWait) -> Step:
        return Step(self.rules(pc, rcu_rules(node.op, waiting=True), -1, node, f"{node.op}()"), None, False, pc)

    def tests(self, domain: str = "") -> dict[Test, Callable[[Sequence, int], object] | None]:
        """Each rule test as a closure over (state, lock instance slot); None: always false here (this
        spec has no such state: no spinlock, no RCU reader). QUEUED is the wait's lookup itself. The RCU
        tests ask about RCU, or the SRCU `domain`."""
        tid = self.tid
        mine = MAX_READ_DEPTH << (READ_BITS * tid)   # this thread's read holds (at most MAX_READ_DEPTH)
        nests, gps = self.layout.domain(domain)
        nest = nests[tid] if nests else -1
        gp = gps[tid] if gps else -1
        atomic = self.atomic_context()
        context = self.context
        irqs, bh = context.irqs_off, context.bh_depth
        hardirq = context.kind == "hardirq"
        return {
            Test.ATOMIC: (lambda s, b: atomic(s)) if atomic is not None else None,
            Test.FREE: lambda s, b: s[b] == -1,
            Test.MINE: lambda s, b: s[b] == tid,
            Test.NOT_MINE: lambda s, b: s[b] != tid,
            Test.OTHERS: lambda s, b: s[b] != -1 and s[b] != tid,
            Test.HELD: lambda s, b: s[b] == tid or s[b + 1] & mine,
            Test.NOT_READING: lambda s, b: not s[b + 1] & mine,
            Test.READ_FULL: lambda s, b: s[b + 1] & mine == mine,
            Test.READ_NOW: rw_read_now,
            Test.WRITE_NOW: rw_write_now,
            Test.RCU_FULL: lambda s, b: s[nest] >= 3,
            Test.RCU_OUT: lambda s, b: s[nest] == 0,
            Test.RCU_IN: (lambda s, b: s[nest]) if nest >= 0 else None,
            Test.GP_PENDING: (lambda s, b: s[gp]) if gp >= 0 else None,
            Test.HARDIRQ: (lambda s, b: True) if hardirq else None,
            Test.IRQS_OFF: (lambda s, b: True) if hardirq else (lambda s, b: s[irqs]) if irqs >= 0 else None,
            Test.BH_FULL: lambda s, b: s[bh] >= MAX_BH_DEPTH,
            Test.BH_OUT: lambda s, b: s[bh] == 0,
        }

    def effects(self, entry: int, domain: str = "") -> dict[Effect, Callable[[list, int], None]]:
        """Each rule effect but GRANT (which `act` applies last) as a closure updating (state list, lock
        instance slot). The RCU effects act on RCU, or the SRCU `domain`."""
        tid, bit = self.tid, 1 << (READ_BITS * self.tid)
        nests, gp_slots = self.layout.domain(domain)
        nest = nests[tid] if nests else -1
        clear = ~(1 << tid)
        gp = gp_slots[tid] if gp_slots else -1
        ghosts = [] if domain else ghost_slots(self.layout)

        def take(l: list, b: int) -> None:
            l[b] = tid

        def drop(l: list, b: int) -> None:
            l[b] = -1

        def read_up(l: list, b: int) -> None:
            l[b + 1] += bit

        def read_down(l: list, b: int) -> None:
            l[b + 1] -= bit

        def enqueue(l: list, b: int) -> None:
            l[b + 2] = l[b + 2] + (entry,)

        def dequeue(l: list, b: int) -> None:
            rw_dequeue(l, b, entry)

        def rcu_up(l: list, b: int) -> None:
            l[nest] += 1

        def rcu_down(l: list, b: int) -> None:
            l[nest] -= 1
            if l[nest] == 0:
                for g in gp_slots:
                    l[g] &= clear
                for nxt, readers in ghosts:   # deleted list elements this reader may have been on
                    if l[readers] & ~clear:
                        l[readers] &= clear
                        if not l[readers]:
                            l[nxt] = -1

        def gp_start(l: list, b: int) -> None:
            if gp >= 0:
                l[gp] = sum(1 << t for t, n in enumerate(nests) if l[n])
        irqs, bh, flags = self.context.irqs_off, self.context.bh_depth, self.layout.irq_flags

        def irq_save(l: list, b: int) -> None:
            l[flags[b]] = l[irqs]

        def irq_off(l: list, b: int) -> None:
            l[irqs] = 1

        def irq_on(l: list, b: int) -> None:
            l[irqs] = 0

        def irq_restore(l: list, b: int) -> None:
            l[irqs] = l[flags[b]]

        def bh_up(l: list, b: int) -> None:
            l[bh] += 1

        def bh_down(l: list, b: int) -> None:
            l[bh] -= 1
        return {Effect.TAKE: take, Effect.DROP: drop, Effect.READ_UP: read_up, Effect.READ_DOWN: read_down,
                Effect.ENQUEUE: enqueue, Effect.DEQUEUE: dequeue, Effect.RCU_UP: rcu_up,
                Effect.RCU_DOWN: rcu_down, Effect.GP_START: gp_start, Effect.IRQ_SAVE: irq_save,
                Effect.IRQ_OFF: irq_off, Effect.IRQ_ON: irq_on, Effect.IRQ_RESTORE: irq_restore,
                Effect.BH_UP: bh_up, Effect.BH_DOWN: bh_down}

    def rules(self, pc: int, rules: tuple[Rule, ...], where: Callable[[Sequence], int] | int, node: ir.Node,
              shown: str, entry: int = -1) -> Callable[[Sequence], list]:
        """The closure of a step given by rules: the first rule whose test holds applies. `where` gives
        the lock instance's first slot (a constant when it does not depend on the state)."""
        domain = getattr(node, "domain", "")
        tests, effects = self.tests(domain), self.effects(entry, domain)
        targets = {Then.NEXT: node.next, Then.FAIL: node.alt,
                   Then.WAIT: node.wait if isinstance(node, ir.LockCall) else -1}
        acts = [self.act(pc, rule, targets.get(rule.then, -1), shown, effects) for rule in rules]
        if rules[0].test is Test.QUEUED:   # a wait: `where` finds the queue holding the thread, or -1
            assert callable(where) and all(rule.test is Test.ALWAYS for rule in rules[1:])
            locate, queued, rest = where, acts[0], acts[1] if len(acts) > 1 else None

            def waiting(s: Sequence) -> list:
                b = locate(s)
                if b >= 0:
                    return queued(s, b, True) if queued is not None else []
                return rest(s, b, True) if rest is not None else []
            return waiting
        tested: list[tuple[Callable[[Sequence, int], object], Act | None]] = []
        last: Act | None = None    # the rule that applies when no test holds (None: blocked)
        for rule, act in zip(rules, acts):
            if rule.test is Test.ALWAYS:
                last = act
                break
            test = tests[rule.test]
            if test is not None:   # else never true in this spec
                tested.append((test, act))

        def first(b: int, s: Sequence) -> list:
            for test, act in tested:
                found = test(s, b)
                if found:
                    return act(s, b, found) if act is not None else []
            return last(s, b, True) if last is not None else []
        if isinstance(where, int):
            return partial(first, where)
        locate = where
        return lambda s: first(locate(s), s)

    def act(self, pc: int, rule: Rule, target: int, shown: str,
            effects: dict[Effect, Callable[[list, int], None]]) -> Act | None:
        """What a rule does once its test holds (`found`: the test's answer, the message of an atomic
        context): nothing (None: blocked), a violation, or its effects and the move to `target`."""
        tid, goto, wake = self.tid, self.goto, self.wake
        if rule.then is Then.BLOCK:
            return None
        if rule.then is Then.VIOLATE:
            message = rule.message
            return lambda s, b, found: [Violation("lock_discipline", f"{shown}: {message or found}", tid, pc)]
        changes = tuple(effects[e] for e in rule.effects if e is not Effect.GRANT)
        if Effect.GRANT in rule.effects:
            assert rule.effects[-1] is Effect.GRANT
            all_readers = self.all_readers

            def granting(s: Sequence, b: int, found: object) -> list:
                l = list(s)
                for change in changes:
                    change(l, b)
                woken = rw_grant(l, b, all_readers)
                return wake(l, woken, target) if woken else goto(l, target)
            return granting
        if len(rule.effects) == 1 and rule.effects[0] in (Effect.TAKE, Effect.DROP):
            owner = tid if rule.effects[0] is Effect.TAKE else -1   # the hottest effects, inline

            def owning(s: Sequence, b: int, found: object) -> list:
                l = list(s)
                l[b] = owner
                return goto(l, target)
            return owning
        if len(changes) == 1:
            change = changes[0]

            def changing(s: Sequence, b: int, found: object) -> list:
                l = list(s)
                change(l, b)
                return goto(l, target)
            return changing
        if changes:
            def applying(s: Sequence, b: int, found: object) -> list:
                l = list(s)
                for change in changes:
                    change(l, b)
                return goto(l, target)
            return applying
        return lambda s, b, found: goto(list(s), target)
