"""Bounded model checking with z3 over the spec's transition relation (model/semantics/relation.py).

The relation has one micro-step per IR node; the explorer's steps are a visible micro-step followed by
the stepping thread's invisible ones (settling), and those of the rwsem waiters the step grants. The
unrolling keeps that granularity in **macro-frames**: frame f is a settled state (every thread at a
visible node or finished), the state after f steps. One transition is
- one visible case of one thread (its node, fatal signal and case), then, for each thread it moved, one
  way that thread settles: the invisible nodes it runs until it stands at a visible node again. Both are
  computed once for the spec (a large-block encoding): a visible case is its guard and writes, a way
  its condition and writes, all terms over the state before the step (paths through the invisible
  nodes that meet merge, so a way is one node where the thread settles and one branch at each `either`).
  A Boolean selects each; exactly one visible case, and one way per thread it moved, are selected, so a
  settled state before fixes every slot after by unit propagation;
- or a stutter: a path may end early (`run[f]` false, and then every later frame stutters too).
An invisible case on a way that breaks a property (runtime_safety, an assert) is recorded as
that property's condition on the state before: a step from it breaks the property.

Interleavings that differ only in the order of commuting steps reach the same states at the same length,
so only one of them is unrolled: its **lexicographic normal form** (Anisimov and Knuth). Two visible cases
commute when neither writes a slot the other reads or writes (their guards, writes and ways to settle,
read off the terms); a path is kept only if no step could move before an earlier, higher-numbered case
past steps that all commute with it. Every path is such a reordering of one kept path of the same length
whose last frame is the same, and a goal reads only the last frame (or the one before, with a step that is
not unrolled): no violation is lost and none is found later than its shortest length (`order=False`
unrolls every interleaving, for the tests).

The solver works on bit-vectors (engine/finite.py: the integer terms translated to one width), or on
integers when a term does not translate (`finite=False` asks for them, for the tests). The width comes from
**interval bounds** (engine/intervals.py): each frame's slots get the interval of the values the step can
give them from the frame before's (every case and way at once, guards unread), starting from the initial
states, with an unused slot (a local nothing reads until it is written again; None in the explicit state)
fixed at 0 instead of free. When every integer the steps to depth d and the goal compute is bounded, the
question is asked at a width that holds them all, without overflow conditions, of a solver of its own
(`FiniteSolver.exact`); otherwise the solver watches for overflow and widens when one is reachable.

Per depth d the solver is asked, under push/pop, whether a property is violated after d steps: a state
condition at frame d (an invariant false, a final property false in a final state, a property undefined:
runtime_safety), or a violating d-th step from frame d - 1 (a visible micro-step's violation, or an
invisible one on a way: both conditions on frame d - 1). Depths are tried
in order, so the first satisfiable one is the shortest violation, the length the explicit search reports.
A depth refuted for some goals makes their conditions at it false on every path, a fact that prunes the
questions after it (`Unrolling.fact`: on register_takes_read, depths 0 to 14 in 750 s against 1,019).
A model is decoded into the explicit engine's `Path` by replaying each chosen step with `system.fire`
and matching the outcome against the model's next frame; a model that does not replay is an internal
error (exit 4), never a counterexample. z3 `unknown` is never a pass: the property is then unknown.

BMC decides invariants, final properties, asserts, lock_discipline, runtime_safety and `reachable:`
questions. Deadlock freedom, liveness, lock order and `waits_on_slow:` need the whole state graph: they
are reported unknown, with the reason (`UNDECIDED`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property, reduce
from typing import TypeVar

import z3
from netcheck.model.semantics import ir
from netcheck.model.semantics.relation import Case, Relation
from netcheck.model.semantics.runtime import Violation
from netcheck.model.semantics.system import TransitionSystem

from .deadlocks import DeadlockForm, explicit_form
from .finite import FiniteSolver, Untranslatable, asts
from .intervals import Bounds, Value, hull, widened
from .limits import Interrupt
from .result import EngineResult, Finding, Label, Path
from .verdicts import InternalError, PropertyChecker
from .verdicts import _evaluate as evaluate

SEED = 0
RUNTIME = "runtime_safety"
UNDECIDED = {
    "deadlock": "bounded model checking does not decide deadlock freedom (stuck threads need the whole state "
                "graph): use the explicit engine",
    "lock_order": "the lock-order graph is built by the explicit search: use the explicit engine",
    "waits_on_slow": "answered on the explicit search's state graph: use the explicit engine",
    "liveness": "liveness is decided on fair cycles of the whole state graph, which bounded model checking does "
                "not build: use the explicit engine",
}


_R = TypeVar("_R", bound="BmcResult")
MAX_WAYS = 50_000   # the most ways threads may settle, over all visible cases of a spec
HORIZON = 8   # the fewest frames the bit-vector widths of a question are taken over (`horizon`)


class BmcError(ValueError):
    """A spec the bounded engine cannot unroll."""


@dataclass(frozen=True)
class Option:
    """One successor case of a visible micro-step: thread, program point, fatal signal, the case."""

    tid: int
    pc: int
    signal: bool
    case: Case


@dataclass(frozen=True)
class Settle:
    """One way a thread settles after a visible case (`option`, an index into `Unrolling.visible`) moved
    it: to one visible node (one branch at each `either` on the way). `cond`: when, a condition on the
    state before the step (the visible case's guard aside); `writes`: the thread's slots it changes, each
    to a term over the state before (a slot left unused: `Unrolling.free`'s constant, any value)."""

    option: int
    tid: int
    cond: z3.BoolRef
    writes: dict[int, z3.ExprRef]


_Path = tuple[z3.BoolRef, list[z3.ExprRef]]   # (condition, state) while settling


def _merge(into: dict, key: object, path: _Path) -> None:
    """Add a path to `into[key]`: two paths to one place under exclusive conditions become one."""
    have = into.get(key)
    if have is None:
        into[key] = path
        return
    (c1, s1), (c2, s2) = have, path
    into[key] = (z3.Or(c1, c2), [a if a.eq(b) else z3.If(c1, a, b) for a, b in zip(s1, s2)])


def _substitute(term: z3.ExprRef, src: object, dst: object) -> z3.ExprRef:
    """`term` with each constant of `src` replaced by the same place of `dst` (`asts` arrays of one length),
    through z3's C API: the Python wrapper checks every pair's sorts on each call, which dominates building."""
    ctx = term.ctx
    return z3.z3._to_expr_ref(z3.z3core.Z3_substitute(ctx.ref(), term.as_ast(), len(src), src, dst),  # type: ignore[arg-type]
                              ctx)


@dataclass
class BmcResult(EngineResult):
    """A bounded run: the findings with their paths (`paths` by property, violations and witnesses alike),
    the depth asked for, the deepest depth every open property was decided to, and seconds per depth."""

    depth: int = 0
    reached: int = -1
    paths: dict[str, Path] = field(default_factory=dict)
    covered: tuple[str, ...] = ()     # the properties bounded model checking decides, in report order
    times: list[float] = field(default_factory=list)


def constants(*terms: z3.ExprRef) -> dict[int, z3.ExprRef]:
    """The uninterpreted constants occurring in the terms, by AST id."""
    found: dict[int, z3.ExprRef] = {}
    seen: set[int] = set()
    todo = list(terms)
    while todo:
        term = todo.pop()
        key = term.get_id()
        if key in seen:
            continue
        seen.add(key)
        if z3.is_const(term) and term.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            found[key] = term
        else:
            todo.extend(term.children())
    return found


def _slots_in(terms: list[z3.ExprRef], slot_of: dict[int, int]) -> set[int]:
    """The slots whose state-before constants (`slot_of`: AST id -> slot) occur in the terms."""
    return {slot_of[key] for key in constants(*terms) if key in slot_of}


def settle_ranks(thread_name: str, nodes: list[ir.Node]) -> dict[int, int]:
    """Per invisible node, the most invisible nodes a thread can run in a row from it (BmcError on a cycle
    of them). A node's rank is above that of every invisible node it leads to."""
    memo: dict[int, int] = {}
    for root in range(len(nodes)):
        stack: list[tuple[int, bool]] = [(root, False)]
        active: set[int] = set()
        while stack:
            pc, done = stack.pop()
            if pc < 0 or pc >= len(nodes) or nodes[pc].visible or isinstance(nodes[pc], ir.Jump):
                continue
            node = nodes[pc]
            nexts = [n for n in (node.next, node.alt) if n >= 0] + \
                ([p for _, p in node.branches] if isinstance(node, ir.Choose) else [])
            if done:
                active.discard(pc)
                memo[pc] = 1 + max((memo.get(n, 0) for n in nexts), default=0)
                continue
            if pc in memo:
                continue
            if pc in active or any(n in active for n in nexts):
                raise BmcError(f"thread {thread_name} can run local computation in a loop (no shared access "
                               "inside): the bounded engine cannot unroll it; use the explicit engine")
            active.add(pc)
            stack.append((pc, True))
            stack.extend((n, False) for n in nexts)
    return memo


class Unrolling:
    """The macro-frames of the unrolled relation in one incremental, seeded solver."""

    def __init__(self, system: TransitionSystem, timeout_ms: int = 0, order: bool = True, finite: bool = False):
        """`finite`: the solver works on the bit-vector translation (engine/finite.py), until a term does not
        translate (`integers` then takes over)."""
        self.system = system
        self.order = order
        rel = self.rel = Relation(system)
        z3.set_param("smt.random_seed", SEED)
        z3.set_param("sat.random_seed", SEED)
        self.timeout_ms = timeout_ms
        self.solver: z3.Solver | FiniteSolver = FiniteSolver(timeout_ms) if finite else self._integer_solver()
        self.n = len(system.layout.slots)
        self.base = [rel.pre.slot(i) for i in range(self.n)]
        self._src = asts(self.base)
        self._arrays: dict[int, tuple[list[z3.ExprRef], object]] = {}
        self.visible: list[Option] = []
        self.visible_violations: dict[str, list[tuple[int, int, bool, z3.BoolRef]]] = {}
        self.enabled: dict[tuple[int, int], z3.BoolRef] = {}
        self.own: list[list[int]] = []
        self.invisible: list[dict[int, list[Case]]] = []
        self.ranks: list[dict[int, int]] = []
        for t in system.threads:
            own = [t.pcslot, *t.local_slots]
            self.own.append(own)
            inv: dict[int, list[Case]] = {}
            for pc, node in enumerate(t.nodes):
                if isinstance(node, ir.Jump):
                    continue
                if t.steps[pc] is not None:
                    guards = []
                    for signal in (False, True):
                        for case in rel.cases(t.tid, pc, signal):
                            guards.append(case.guard)
                            if case.violation:
                                self.visible_violations.setdefault(case.violation, []).append(
                                    (t.tid, pc, signal, case.guard))
                            else:
                                self.visible.append(Option(t.tid, pc, signal, case))
                    self.enabled[(t.tid, pc)] = z3.Or(*guards) if guards else z3.BoolVal(False)
                elif not node.visible:
                    cases = rel.cases(t.tid, pc)
                    for case in cases:
                        if set(case.updates) - set(own):
                            raise BmcError(f"thread {t.name}: a local step at pc {pc} writes shared state "
                                           "(a reduced system?): the bounded engine needs the full semantics")
                    inv[pc] = cases
            self.invisible.append(inv)
            self.ranks.append(settle_ranks(t.name, t.nodes))
        if rel.pre.local_consts:
            raise BmcError("a local slot is read at a type other than its pool's: the bounded engine cannot "
                           "encode it")
        self.frames: list[list[z3.ExprRef]] = []
        self.frees: dict[str, list[z3.ExprRef]] = {}       # per step's tag, its free values (`macro`)
        self.sel: list[list[z3.BoolRef]] = []
        self.run: list[z3.BoolRef] = []
        self.violating: dict[int, dict[str, z3.BoolRef]] = {}
        self.guards: list[z3.BoolRef] = []                 # per visible case, over the state before
        self.writes: list[dict[int, z3.ExprRef]] = []      # per visible case, the slots it changes
        self.settles: list[Settle] = []
        self.moved: list[tuple[int, int]] = []             # (visible case, thread it moves)
        self.broken: dict[str, z3.BoolRef] = {}
        self.plain_breaks: list[z3.BoolRef] = []   # when a step that is no fatal signal breaks a property
        self._encode_steps()
        self.movable: list[list[z3.BoolRef]] = []      # per step and case: it could move before that step
        self.frames.append(self._fresh("f0"))
        self.bounds: list[list[Value]] = []      # per frame, each slot's interval (`ranges`)
        self._step_bounds: dict[int, Bounds] = {}
        initial = [z3.And(*[self.frames[0][i] == (rel.pre.value(i, v) if v is not None else self.unused[i])
                            for i, v in enumerate(s) if v is not None or self.unused[i] is not None])
                   for s in system.initial_states]
        self.solver.add(z3.Or(*initial) if initial else z3.BoolVal(False))

    @cached_property
    def unused(self) -> list[z3.ExprRef | None]:
        """Per slot, the value it holds while unused (a local not yet or no longer live, which nothing reads)
        on the bit-vector solver: 0, or a record of 0s; None for a Boolean or a set (any value). Fixed, so
        that every integer of every frame is bounded (`ranges`); the explicit state holds None there."""
        out: list[z3.ExprRef | None] = []
        for c in self.base:
            sort = c.sort()
            if not isinstance(self.solver, FiniteSolver):
                out.append(None)
            elif sort.kind() == z3.Z3_INT_SORT:
                out.append(z3.IntVal(0))
            elif isinstance(sort, z3.DatatypeSortRef) and sort.num_constructors() == 1:
                record = sort.constructor(0)
                fields = [record.domain(k) for k in range(record.arity())]
                ints = all(f.kind() == z3.Z3_INT_SORT for f in fields)
                out.append(record(*[z3.IntVal(0)] * len(fields)) if ints else None)
            else:
                out.append(None)
        return out

    def _integer_solver(self) -> z3.Solver:
        solver = z3.Solver()
        solver.set("random_seed", SEED)
        if self.timeout_ms:
            solver.set("timeout", self.timeout_ms)
        return solver

    def integers(self) -> None:
        """Go on with the integer solver (a term the bit-vector translation does not cover): the constraints and
        facts so far, none of the question asked."""
        if isinstance(self.solver, FiniteSolver):
            constraints = [*self.solver.levels[0], *self.solver.facts]
            self.solver = self._integer_solver()
            self.solver.add(*constraints)

    def fact(self, *formulas: z3.BoolRef) -> None:
        """Formulas true of every path of the unrolling, which prune the search (`FiniteSolver.fact`)."""
        if isinstance(self.solver, FiniteSolver):
            self.solver.fact(*formulas)
        else:
            self.solver.add(*formulas)

    # -- terms

    def _fresh(self, tag: str) -> list[z3.ExprRef]:
        return [z3.Const(f"{c}@{tag}", c.sort()) for c in self.base]

    def at(self, term: z3.ExprRef, state: list[z3.ExprRef]) -> z3.ExprRef:
        """A term over the relation's state-before constants, read in `state` (a frame: its array is kept)."""
        key = id(state)
        cached = self._arrays.get(key)
        if cached is None or cached[0] is not state:
            cached = self._arrays[key] = (state, asts(state))
        return _substitute(term, self._src, cached[1])

    def pc(self, state: list[z3.ExprRef], tid: int) -> z3.ArithRef:
        return state[self.system.threads[tid].pcslot]

    # -- one step

    def _encode_steps(self) -> None:
        """Every way one macro-step goes, computed once over the relation's state-before constants: per
        visible case its guard and writes, then per thread it moves the ways that thread settles
        (`Settle`s; each thread on its own, so a step that moves several threads is a sum of their ways,
        not a product), and per property when an invisible node on the way breaks it (conditions on the
        state before)."""
        base, threads = self.base, self.system.threads
        self.free = [z3.Const(f"any.{i}", c.sort()) for i, c in enumerate(base)]
        broken: dict[str, list[z3.BoolRef]] = {}
        for k, o in enumerate(self.visible):
            guard = z3.simplify(z3.And(self.pc(base, o.tid) == o.pc, o.case.guard))
            self.guards.append(guard)
            state = list(base)
            for i, update in o.case.updates.items():
                state[i] = self.free[i] if update is None else update
            self.writes.append({i: v for i, v in enumerate(state) if not v.eq(base[i])})
            if z3.is_false(guard):
                continue
            for t in threads:
                if not self.invisible[t.tid] or state[t.pcslot].eq(base[t.pcslot]):
                    continue   # not moved: settled already (every state a macro-step starts from is)
                found: dict[str, list[z3.BoolRef]] = {}
                self.moved.append((k, t.tid))   # one of its ways must follow (none: the case cannot complete)
                for cond, after in self._settle_thread(t.tid, state, found):
                    self.settles.append(Settle(k, t.tid, cond, {i: after[i] for i in self.own[t.tid]
                                                                if not after[i].eq(state[i])}))
                for prop, conds in found.items():
                    broken.setdefault(prop, []).append(z3.And(guard, z3.Or(*conds)))
                    if not o.signal:
                        self.plain_breaks.append(z3.And(guard, z3.Or(*conds)))
            if len(self.settles) > MAX_WAYS:
                raise BmcError(f"the steps have more than {MAX_WAYS} ways to settle: the bounded engine cannot "
                               "encode them; use the explicit engine")
        self.broken = {prop: z3.Or(*conds) for prop, conds in broken.items()}
        self._template()

    def _settle_thread(self, tid: int, state: list[z3.ExprRef], broken: dict[str, list[z3.BoolRef]]
                       ) -> list[_Path]:
        """The ways thread `tid` settles from `state` (its program counter a term over the state before):
        through each invisible node, every case whose guard may hold, until a visible node. The cases of a
        node exclude each other (relation.py orders them), so paths that meet at a node merge into one (its
        condition the disjunction, each slot an if-then-else), nodes taken in rank order; the branches
        of an `either` are choices, and paths that chose differently stay apart."""
        inv, rank, pcslot = self.invisible[tid], self.ranks[tid], self.system.threads[tid].pcslot
        nodes = self.system.threads[tid].nodes
        pending: dict[tuple[int, tuple[int, ...]], _Path] = {}
        done: dict[tuple[object, tuple[int, ...]], _Path] = {}

        def arrive(cond: z3.BoolRef, state: list[z3.ExprRef], choices: tuple[int, ...]) -> None:
            for c, pc in self._pcs(tid, state[pcslot]):
                when = z3.simplify(z3.And(cond, c))
                if z3.is_false(when):
                    continue
                at = list(state)
                at[pcslot] = pc
                number = pc.as_long() if z3.is_int_value(pc) else None
                if number is not None and number in inv:
                    _merge(pending, (number, choices), (when, at))
                else:
                    _merge(done, (number if number is not None else pc.get_id(), choices), (when, at))

        arrive(z3.BoolVal(True), state, ())
        while pending:
            key = max(pending, key=lambda k: rank[k[0]])   # every way into a node is in before it is left
            cond, state = pending.pop(key)
            pc, choices = key
            choose = isinstance(nodes[pc], ir.Choose)
            here = asts(state)
            for index, case in enumerate(inv[pc]):
                when = z3.simplify(z3.And(cond, _substitute(case.guard, self._src, here)))
                if z3.is_false(when):
                    continue
                if case.violation:
                    broken.setdefault(case.violation, []).append(when)
                    continue
                after = list(state)
                for i, update in case.updates.items():
                    after[i] = self.free[i] if update is None else z3.simplify(_substitute(update, self._src, here))
                arrive(when, after, (*choices, index) if choose else choices)
        return list(done.values())

    def _pcs(self, tid: int, term: z3.ExprRef) -> list[tuple[z3.BoolRef, z3.ExprRef]]:
        """A program counter term as (condition, value) pairs: the leaves of its if-then-else tree; a leaf
        that is no number split over the thread's invisible nodes (and none of them)."""
        term = z3.simplify(term)
        if z3.is_app_of(term, z3.Z3_OP_ITE):
            c, a, b = term.children()
            return [(z3.And(c, x), v) for x, v in self._pcs(tid, a)] + \
                [(z3.And(z3.Not(c), x), v) for x, v in self._pcs(tid, b)]
        if z3.is_int_value(term) or term.eq(self.base[self.system.threads[tid].pcslot]):
            return [(z3.BoolVal(True), term)]
        inv = sorted(self.invisible[tid])
        return [(term == p, z3.IntVal(p)) for p in inv] + [(z3.And(*[term != p for p in inv]), term)]

    def _template(self) -> None:
        """The macro-step as one formula over the state-before constants, the next frame's (`self.next`),
        a selector per visible case and per settle way, and a free value per slot (what a slot left unused
        may hold): exactly one visible case is selected and its guard holds; for each thread it moves,
        exactly one of that thread's ways after it, whose condition holds; each slot takes the value its
        way writes, else the visible case's, else keeps its value."""
        self.next = self._fresh("next")
        self.select = [z3.Bool(f"case{k}") for k in range(len(self.visible))]
        ways = [z3.Bool(f"way{j}") for j in range(len(self.settles))]
        parts: list[z3.BoolRef] = [z3.Or(*self.select) if self.select else z3.BoolVal(False)]
        if len(self.select) > 1:
            parts.append(z3.AtMost(*self.select, 1))
        parts += [z3.Implies(b, g) for b, g in zip(self.select, self.guards)]
        groups: dict[tuple[int, int], list[z3.BoolRef]] = {moved: [] for moved in self.moved}
        for w, settle in zip(ways, self.settles):
            groups.setdefault((settle.option, settle.tid), []).append(w)
            parts.append(z3.Implies(w, z3.And(self.select[settle.option], settle.cond)))
        for (k, _), group in groups.items():
            parts.append(z3.Implies(self.select[k], z3.Or(*group) if group else z3.BoolVal(False)))
            if len(group) > 1:
                parts.append(z3.AtMost(*group, 1))
        shadow: list[z3.BoolRef] = []
        self.values: list[z3.ExprRef] = []   # per slot, the value a step gives it
        for i in range(self.n):
            value: z3.ExprRef = self.base[i]
            for k in reversed(range(len(self.visible))):
                if i in self.writes[k]:
                    value = z3.If(self.select[k], self.writes[k][i], value)
            for j in reversed(range(len(self.settles))):
                if i in self.settles[j].writes:
                    value = z3.If(ways[j], self.settles[j].writes[i], value)
            parts.append(self.next[i] == value)
            self.values.append(value)
            shadow.append(value == value)   # the value computed, whatever the next frame holds
        self.step_template = z3.And(*parts)
        # the same step with its writes computed but not made: what the finite-domain solver watches for overflow
        self.shadow_template = z3.And(*parts[:len(parts) - self.n], *shadow)
        self._template_consts = [*self.base, *self.next, *self.select, *ways, *self.free]
        self._template_src = asts(self._template_consts)

    @cached_property
    def commuting(self) -> list[list[int]]:
        """Per visible case, the cases that commute with it: neither writes a slot the other reads or writes
        (with every way to settle after it: a way's condition and writes are read, its slots written)."""
        slot_of = {c.get_id(): i for i, c in enumerate(self.base)}
        reads = [_slots_in([self.guards[k], *self.writes[k].values()], slot_of) for k in range(len(self.visible))]
        writes = [set(w) for w in self.writes]
        for settle in self.settles:
            reads[settle.option] |= _slots_in([settle.cond, *settle.writes.values()], slot_of)
            writes[settle.option] |= settle.writes.keys()
        touched = [r | w for r, w in zip(reads, writes)]
        return [[b for b in range(len(self.visible))
                 if b != a and not writes[a] & touched[b] and not writes[b] & reads[a]]
                for a in range(len(self.visible))]

    def _keep_normal_form(self, f: int) -> None:
        """Step f (f >= 1) takes no case that could move before an earlier, higher-numbered case past steps
        that all commute with it. `movable[a]` (one per step) is forced true when case a commutes with the
        step before and that step's case is higher, or a was movable before it too."""
        before, now = self.sel[f - 1], self.sel[f]
        movable = [z3.Bool(f"movable{a}@{f}") for a in range(len(self.visible))]
        for a, others in enumerate(self.commuting):
            if not others:
                continue
            higher = [before[b] for b in others if b > a]
            if higher:
                self.solver.add(z3.Implies(z3.Or(*higher), movable[a]))
            if f >= 2:
                self.solver.add(z3.Implies(z3.And(z3.Or(*[before[b] for b in others]), self.movable[f - 1][a]),
                                           movable[a]))
            self.solver.add(z3.Implies(z3.And(self.run[f], now[a]), z3.Not(movable[a])))
        self.movable.append(movable)

    def macro(self, before: list[z3.ExprRef], after: list[z3.ExprRef], tag: str, template: z3.BoolRef | None = None
              ) -> tuple[list[z3.BoolRef], z3.BoolRef]:
        """One macro-step from `before` to `after` (no stutter): its visible-case selectors (fresh per tag)
        and the formula (of `template`, by default the step's)."""
        select = [z3.Bool(f"case{k}@{tag}") for k in range(len(self.visible))]
        ways = [z3.Bool(f"way{j}@{tag}") for j in range(len(self.settles))]
        free = self.frees.setdefault(tag, [z3.Const(f"any.{i}@{tag}", c.sort()) for i, c in enumerate(self.base)])
        template = self.step_template if template is None else template
        consts = [*before, *after, *select, *ways, *free]
        step = _substitute(template, self._template_src, asts(consts))
        if isinstance(self.solver, FiniteSolver):   # translated as the template's translation, renamed
            self.solver.instance(step, template, self._template_consts, consts)
        return select, step

    def option_of(self, model: z3.ModelRef, select: list[z3.BoolRef]) -> Option:
        """The visible case a model's step took."""
        for b, option in zip(select, self.visible):
            if z3.is_true(model.eval(b, model_completion=True)):
                return option
        raise InternalError("bounded model checking: a step of the model selects no visible case")

    def extend(self, depth: int) -> None:
        """Transitions until frame `depth` exists."""
        while len(self.frames) <= depth:
            f = len(self.frames) - 1
            before = self.frames[f]
            after = self._fresh(f"f{f + 1}")
            select, moved = self.macro(before, after, str(f))
            if isinstance(self.solver, FiniteSolver):
                # any step from frame f must compute its values exactly: the step's own selectors, free where
                # the path stops before it
                self.solver.watch(self.macro(before, after, str(f), self.shadow_template)[1])
            run = z3.Bool(f"run@{f}")
            stay = z3.And(*[a == b for a, b in zip(after, before)])
            self.solver.add(z3.If(run, moved, stay))
            self.solver.add(*[z3.Const(f"any.{i}@{f}", c.sort()) == v
                              for i, (c, v) in enumerate(zip(self.base, self.unused)) if v is not None])
            if f > 0:
                self.solver.add(z3.Implies(run, self.run[f - 1]))
            self.sel.append(select)
            self.run.append(run)
            self.frames.append(after)
            if f > 0 and self.order:
                self._keep_normal_form(f)
            else:
                self.movable.append([])

    def violating_step(self, f: int) -> dict[str, z3.BoolRef]:
        """Per property, a step from frame f breaks it (`breaking`)."""
        if f not in self.violating:
            props = sorted({*self.broken, *self.visible_violations})   # in one order whatever the hash seed
            self.violating[f] = {prop: self.breaking(prop, self.frames[f]) for prop in props}
        return self.violating[f]

    def breaking(self, prop: str, before: list[z3.ExprRef]) -> z3.BoolRef:
        """A step from `before` breaks `prop`: a visible micro-step's violation, or an invisible node's on a
        way the step settles (a condition on `before`; false when no step can)."""
        parts = [self.at(self.broken[prop], before)] if prop in self.broken else []
        parts += [z3.And(self.pc(before, tid) == pc, self.at(g, before))
                  for tid, pc, _, g in self.visible_violations.get(prop, [])]
        return z3.Or(*parts) if parts else z3.BoolVal(False)

    def violating_plain(self) -> z3.BoolRef:
        """A step from the state before (`base`) that is no fatal signal breaks some property: the explicit
        search counts every thread of such a state as free, since what follows is unknown (engine/bfs.py)."""
        parts = [*self.plain_breaks, *[z3.And(self.pc(self.base, tid) == pc, g)
                                       for cases in self.visible_violations.values()
                                       for tid, pc, signal, g in cases if not signal]]
        return z3.Or(*parts) if parts else z3.BoolVal(False)

    def final(self, state: list[z3.ExprRef]) -> z3.BoolRef:
        """A terminal state where every thread is quiescent: finished, or a daemon at an idle await that
        cannot step (and nothing else can step)."""
        parts = []
        for t in self.system.threads:
            pc = state[t.pcslot]
            idle = [z3.And(pc == p, z3.Not(self.at(self.enabled[(t.tid, p)], state)))
                    for p, step in enumerate(t.steps) if t.daemon and step is not None and step.idle]
            parts.append(z3.Or(pc == t.finished, *idle))
        return z3.And(*parts)

    def ranges(self, frame: int) -> list[Value]:
        """Each slot's interval in frame `frame` on every path (engine/intervals.py): the initial states' values,
        then per frame the values the step computes from the frame before (every case and way at once, each
        unused value the fixed one)."""
        while len(self.bounds) <= frame:
            if not self.bounds:
                first: list[Value] = [None] * self.n
                for state in self.system.initial_states:
                    for i, v in enumerate(state):
                        term = self.rel.pre.value(i, v) if v is not None else self.unused[i]
                        here = Bounds({})(term) if term is not None else None
                        first[i] = here if state is self.system.initial_states[0] else hull(first[i], here)
                self.bounds.append(first)
                continue
            bounds = self.step_bounds(len(self.bounds) - 1)
            self.bounds.append([bounds.memo[v.get_id()] for v in self.values])
        return self.bounds[frame]

    def env(self, frame: int) -> dict[int, Value]:
        """The intervals of the template's constants for a step from `frame` (its unused values fixed)."""
        env = {c.get_id(): b for c, b in zip(self.base, self.ranges(frame))}
        for c, v in zip(self.free, self.unused):
            if v is not None:
                env[c.get_id()] = Bounds({})(v)
        return env

    def constant_bounds(self, horizon: int) -> dict[int, Value]:
        """The interval of every constant of the unrolling (engine/finite.py's `NarrowTranslator`): a slot's
        in any frame, the hull of its ranges over the frames to `horizon` (at least the frames made so
        far), widened to the whole range of its width (`widened`); the same in the template, whose
        translation each frame's step renames; a free value's, the unused value it is fixed at. The
        horizon and the widening keep the bounds, and with them the translation, the same over several
        depths."""
        slots = self.slot_bounds(max(horizon + 1, len(self.frames)))
        env: dict[int, Value] = {}
        for state in (self.base, self.next, *self.frames):
            env.update((c.get_id(), v) for c, v in zip(state, slots))
        for i, v in enumerate(self.unused):
            if v is not None:
                fixed = Bounds({})(v)
                env.update((free[i].get_id(), fixed) for free in (self.free, *self.frees.values()))
        return env

    def slot_bounds(self, frames: int) -> list[Value]:
        """Each slot's interval over frames 0 to `frames` - 1 (the hull of `ranges`), widened to the whole
        range of its width (`widened`)."""
        return [widened(reduce(hull, column)) for column in zip(*(self.ranges(f) for f in range(frames)))]

    def step_bounds(self, frame: int) -> Bounds:
        """The bounds of the step from `frame` (every subterm of its guards, conditions and values)."""
        bounds = self._step_bounds.get(frame)
        if bounds is None:
            bounds = self._step_bounds[frame] = Bounds(self.env(frame))
            bounds(self.shadow_template)
        return bounds

    def exact_bits(self, depth: int, goals: list[Goal]) -> int | None:
        """Signed bits that hold every integer a question about `goals` at `depth` computes, on any path:
        the steps to it and the goals' conditions (None: some integer is unbounded)."""
        peak = 0
        for f in range(depth):
            bounds = self.step_bounds(f)
            if not bounds.bounded:
                return None
            peak = max(peak, bounds.peak)
        for goal in goals:
            for frame, term in condition_parts(self, goal, depth, self.base):
                bounds = Bounds(self.env(frame))
                bounds(term)
                if not bounds.bounded:
                    return None
                peak = max(peak, bounds.peak)
        return peak.bit_length() + 1


@dataclass
class Goal:
    """A property's condition at depth d: (in frame d, from frame d - 1 by a violating step)."""

    name: str
    kind: str              # invariant, final, reachable (a witness), step (asserts, built-ins), deadlock, stuck
    state: object = None   # callable: frame -> BoolRef, or None


def goals_of(u: Unrolling, deadlock_form: bool = True) -> dict[str, Goal]:
    """Each property's goal; deadlock freedom as its state-local form (deadlocks.py), or (`deadlock_form`
    False) as a goal of kind `stuck` with no condition, which the BDD search decides at its fixpoint."""
    system = u.system
    goals: dict[str, Goal] = {}
    pre = u.rel.pre
    undefined: list = []
    for p in system.invariants:
        defined, term = pre.defined(p.expr), pre.term(p.expr)
        goals[p.decl.name] = Goal(p.decl.name, "invariant",
                                   lambda s, d=defined, t=term: u.at(z3.And(d, z3.Not(t)), s))
        undefined.append(lambda s, d=defined: u.at(z3.Not(d), s))
    for p in system.reachables:   # the negated condition: a witness is where it is false
        defined, term = pre.defined(p.expr), pre.term(p.expr)
        goals[p.decl.name] = Goal(p.decl.name, "reachable",
                                   lambda s, d=defined, t=term: u.at(z3.And(d, z3.Not(t)), s))
        undefined.append(lambda s, d=defined: u.at(z3.Not(d), s))
    for p in system.finals:
        defined, term = pre.defined(p.expr), pre.term(p.expr)
        goals[p.decl.name] = Goal(p.decl.name, "final",
                                   lambda s, d=defined, t=term: z3.And(u.final(s), u.at(z3.And(d, z3.Not(t)), s)))
        undefined.append(lambda s, d=defined: z3.And(u.final(s), u.at(z3.Not(d), s)))
    goals[RUNTIME] = Goal(RUNTIME, "step", (lambda s: z3.Or(*[f(s) for f in undefined])) if undefined else None)
    for info in system.property_kinds():
        if info.kind in ("assert", "lock_discipline") and info.name not in goals:
            goals[info.name] = Goal(info.name, "step")
        elif info.kind == "deadlock" and not deadlock_form:
            goals[info.name] = Goal(info.name, "stuck")
        elif info.kind == "deadlock":   # its state-local form (deadlocks.py)
            form = DeadlockForm(u.rel, u.at)
            goals[info.name] = Goal(info.name, "deadlock", form.bad)
    return goals


def covered(system: TransitionSystem) -> dict[str, str]:
    """Property -> '' when bounded model checking decides it, else why not."""
    out = {}
    for info in system.property_kinds():
        if info.kind in ("invariant", "final", "reachable", "assert", "lock_discipline", "runtime", "deadlock"):
            out[info.name] = ""
        elif info.kind in ("eventually", "leads_to", "progress", "returns_when_killed"):
            out[info.name] = UNDECIDED["liveness"]
        else:
            out[info.name] = UNDECIDED[info.kind]
    out["lock_order"] = UNDECIDED["lock_order"]
    return out


def begin(result: _R) -> _R:
    """A symbolic run's result before its search: the properties it decides (`covered`), the others unknown
    with the reason, and the violations found while computing the initial states (a step with no path)."""
    decides = covered(result.system)
    result.covered = tuple(name for name, why in decides.items() if not why)
    result.unknown.update({name: why for name, why in decides.items() if why})
    for v in result.system.initial_violations:
        if v.prop not in result.violations:
            result.violations[v.prop] = Finding(v.prop, -1, v.tid, v.message)
            result.paths[v.prop] = Path((), ())
    return result


def bmc(system: TransitionSystem, depth: int, timeout: float | None = None, fail_fast: bool = False,
        stop_on: frozenset[str] = frozenset(), order: bool = True, finite: bool = True) -> BmcResult:
    """The shortest violation (or witness) of every property bounded model checking decides, within `depth`
    steps (`order`: unroll one interleaving of commuting steps; `finite`: on bit-vectors, engine/finite.py,
    else integers); with `stop_on`, of those properties only (the others unknown). A spec it cannot
    unroll: BmcError."""
    started = time.perf_counter()
    system = system.unreduced()
    result = begin(BmcResult(system, depth=depth))
    deadline = started + timeout if timeout else None
    u = Unrolling(system, int(timeout * 1000) if timeout else 0, order, finite)
    goals = {name: g for name, g in goals_of(u).items() if name in result.covered}
    if stop_on:   # only what the run stops on is looked for: each depth's query asks less (the rest: unknown)
        result.unknown.update({name: "not looked for: bounded model checking asks only about the --stop-on "
                               "properties" for name in goals if name not in stop_on and name not in result.violations})
        goals = {name: g for name, g in goals.items() if name in stop_on}
    open_ = [name for name in goals if name not in result.violations]
    with Interrupt() as interrupt:
        for d in range(depth + 1):
            if not open_ or _stop(result, fail_fast, stop_on):
                break
            if interrupt.raised or (deadline is not None and time.perf_counter() > deadline):
                result.complete = False
                result.stop_reason = "interrupted" if interrupt.raised else f"timeout after {timeout:g} s"
                break
            began = time.perf_counter()
            try:
                _depth(result, u, goals, open_, d, deadline, fail_fast, stop_on)
            except Untranslatable:
                u.integers()
                _depth(result, u, goals, open_, d, deadline, fail_fast, stop_on)
            result.times.append(time.perf_counter() - began)
            result.reached = d
    if open_ and result.reached < depth and not result.stop_reason and _stop(result, fail_fast, stop_on):
        result.complete = False
        result.stop_reason = "stopped at the first violation" if fail_fast else "stopped at the --stop-on properties"
    result.seconds = time.perf_counter() - started
    return result


def _depth(result: BmcResult, u: Unrolling, goals: dict[str, Goal], open_: list[str], d: int,
           deadline: float | None, fail_fast: bool, stop_on: frozenset[str]) -> None:
    """Every open property violated at depth d, recorded (and no longer open); z3 `unknown` makes the
    properties asked about unknown."""
    u.extend(d)
    conds = {name: _condition(u, goals[name], d) for name in open_}
    conds = {name: c for name, c in conds.items() if not z3.is_false(z3.simplify(c))}
    while conds:
        if deadline is not None:   # each query gets the time left, so that --timeout bounds the run
            u.solver.set("timeout", max(1, int((deadline - time.perf_counter()) * 1000)))
        if isinstance(u.solver, FiniteSolver):
            bits = u.exact_bits(d, [goals[name] for name in conds])
            u.solver.exact(bits, u.constant_bounds(horizon(d, result.depth)) if bits is not None else None)
        u.solver.push()
        try:
            u.solver.add(z3.Or(*conds.values()))
            answer = u.solver.check()
            if answer == z3.unknown:
                why = f"z3 could not decide at depth {d}: {u.solver.reason_unknown()}"
                for name in conds:
                    result.unknown[name] = why
                    open_.remove(name)
                return
            if answer == z3.sat:
                model = u.solver.model()
                hit = [name for name, c in conds.items() if z3.is_true(model.eval(c, model_completion=True))]
                for name in hit:
                    _record(result, u, model, goals[name], d)
                    open_.remove(name)
                    del conds[name]
        finally:
            u.solver.pop()
        if answer == z3.unsat:
            # no path of d steps reaches them: a fact of every longer path too, which prunes the next questions
            u.fact(*[z3.Not(c) for c in conds.values()])
            return
        if _stop(result, fail_fast, stop_on):
            return


def horizon(d: int, depth: int) -> int:
    """The frame to which the bit-vector widths of a question at depth d are taken (`constant_bounds`): the
    next power of two from d, at least HORIZON, at most the run's depth; the translation is made again
    only when it moves (a few times a run)."""
    return min(depth, max(HORIZON, 1 << d.bit_length()))


def _stop(result: BmcResult, fail_fast: bool, stop_on: frozenset[str]) -> bool:
    return bool((fail_fast and result.violations) or (stop_on and stop_on <= result.violations.keys()))


def _condition(u: Unrolling, goal: Goal, d: int) -> z3.BoolRef:
    """The goal reached at depth d: in frame d, or by a violating d-th step from frame d - 1."""
    parts = [term for _, term in condition_parts(u, goal, d)]
    return z3.Or(*parts) if parts else z3.BoolVal(False)


def condition_parts(u: Unrolling, goal: Goal, d: int, state: list[z3.ExprRef] | None = None
                     ) -> list[tuple[int, z3.BoolRef]]:
    """The parts of `_condition`, each with the frame it reads; over `state` instead of that frame when
    given (the template: `u.base`)."""
    parts = []
    if callable(goal.state):
        parts.append((d, goal.state(u.frames[d] if state is None else state)))
    if d > 0 and goal.kind == "step":
        if state is None:
            broken = u.violating_step(d - 1)
            if goal.name in broken:
                parts.append((d - 1, broken[goal.name]))
        elif goal.name in u.broken or goal.name in u.visible_violations:
            parts.append((d - 1, u.breaking(goal.name, state)))
    return parts


def disjuncts(term: z3.BoolRef) -> list[z3.BoolRef]:
    """The disjuncts of a disjunction, nested ones flattened (the term itself otherwise)."""
    if z3.is_or(term):
        return [d for child in term.children() for d in disjuncts(child)]
    return [term]



# -- decoding a model into an explicit path


def _record(result: BmcResult, u: Unrolling, model: z3.ModelRef, goal: Goal, d: int) -> None:
    """The model's path to the goal at depth d, replayed with the explicit semantics, as a finding."""
    in_state = callable(goal.state) and z3.is_true(model.eval(goal.state(u.frames[d]), model_completion=True))
    steps = d if in_state else d - 1
    moves = []
    for f in range(steps):
        if not z3.is_true(model.eval(u.run[f], model_completion=True)):
            raise InternalError(f"bounded model checking: the model of a violation at depth {d} stops at step {f}")
        moves.append((u.option_of(model, u.sel[f]), [model.eval(x, model_completion=True) for x in u.frames[f + 1]]))
    replay(result, u, [model.eval(x, model_completion=True) for x in u.frames[0]], moves, goal, in_state)


def replay(result: BmcResult, u: Unrolling, first: list[z3.ExprRef], moves: list[tuple[Option, list[z3.ExprRef]]],
           goal: Goal, in_state: bool) -> None:
    """A symbolic path (the first state's slot values, then per step the visible case and the values after it)
    replayed with the explicit semantics and recorded as the goal's finding: reached in the last state
    (`in_state`) or by a step from it. A path that does not replay is an internal error; so is a last state
    that does not meet the goal (a stuck thread: the caller checks it)."""
    system = u.system
    states = [_initial(u, first)]
    labels: list[Label] = []
    for f, (option, want) in enumerate(moves):
        action = _action(system, option.tid, option.pc, option.signal)
        outcomes = system.fire(states[-1], action)
        choice = next((c for c, r in enumerate(outcomes) if isinstance(r, tuple) and _matches(u, r, want)), None)
        if choice is None:
            raise InternalError(f"a symbolic counterexample: its step {f + 1} ({system.threads[option.tid].name}"
                                f" at pc {option.pc}) does not replay with the explicit semantics")
        labels.append(Label(option.tid, action, choice, option.signal))
        reached = outcomes[choice]
        assert isinstance(reached, tuple)
        states.append(reached)
    last = None
    message = ""
    tid = -1
    if in_state:
        if goal.kind == "step":   # a property undefined in the state (runtime_safety)
            message = _undefined_message(system, states[-1])
        elif goal.kind == "deadlock":
            message = _deadlock_message(system, states[-1])
    else:
        last, message = _violating_label(system, states[-1], goal.name)
        tid = last.tid
    path = Path(tuple(states), tuple(labels), last, (), False)
    finding = Finding(goal.name, len(states) - 1, tid, message, last.signal if last else False,
                      last.action if last else -1, last.choice if last else 0)
    result.paths[goal.name] = path
    (result.witnesses if goal.kind == "reachable" else result.violations)[goal.name] = finding
    if goal.kind not in ("step", "stuck") and not _state_goal_holds(system, goal, states[-1]):
        raise InternalError(f"a symbolic counterexample: {goal.name} is not reached in the replayed state")


def _initial(u: Unrolling, want: list[z3.ExprRef]) -> tuple:
    for s in u.system.initial_states:
        if _matches(u, s, want):
            return s
    raise InternalError("a symbolic counterexample: its first state is no initial state")


def _matches(u: Unrolling, state: tuple, want: list[z3.ExprRef]) -> bool:
    pre = u.rel.pre
    return all(v is None or z3.is_true(z3.simplify(pre.value(i, v) == want[i])) for i, v in enumerate(state))


def _action(system: TransitionSystem, tid: int, pc: int, signal: bool) -> int:
    step = system.threads[tid].steps[pc]
    assert step is not None
    return step.sig_action if signal else step.action


def _violating_label(system: TransitionSystem, state: tuple, prop: str) -> tuple[Label, str]:
    """A step from `state` that breaks `prop`, replayed: each thread's step (then its fatal-signal exit) in
    turn; the outcome that is that violation."""
    for t in system.threads:
        pc = state[t.pcslot]
        step = None if pc == t.finished else t.steps[pc]
        if step is None:
            continue
        for signal in (False, True) if step.sig is not None else (False,):
            action = _action(system, t.tid, pc, signal)
            for choice, r in enumerate(system.fire(state, action)):
                if isinstance(r, Violation) and r.prop == prop:
                    return Label(t.tid, action, choice, signal), r.message
    raise InternalError(f"a symbolic counterexample: its step breaking {prop} does not replay with the "
                        "explicit semantics")


def _undefined_message(system: TransitionSystem, state: tuple) -> str:
    """What the explicit engine says of a property undefined in a state (verdicts.py words it); an
    InternalError when the evaluator finds every property defined there."""
    final = all(system.quiescent(state, t.tid) for t in system.threads)
    for prop in (*system.invariants, *system.reachables, *(system.finals if final else ())):
        failure = PropertyChecker.failure(prop, evaluate(prop, state))
        if failure is not None and failure[0] == RUNTIME:
            return failure[1]
    raise InternalError("a symbolic counterexample: the solver finds a property undefined in a state where the "
                        "evaluator defines them all")


def _deadlock_message(system: TransitionSystem, state: tuple) -> str:
    """An InternalError unless the explicit test of the deadlock form holds in the replayed state (the report
    explains the waits: checker/analyses/waitfor.py)."""
    if not explicit_form(system, state):
        raise InternalError("a symbolic counterexample: the solver finds a deadlock (a global deadlock or a wait cycle)"
                            " in a state where the explicit semantics finds none")
    return ""


def _state_goal_holds(system: TransitionSystem, goal: Goal, state: tuple) -> bool:
    """The explicit evaluator agrees: the invariant or final property is false, the question's condition true."""
    if goal.kind == "deadlock":
        return bool(explicit_form(system, state))
    props = {p.decl.name: p for p in (*system.invariants, *system.finals, *system.reachables)}
    fn = props[goal.name].fn
    try:
        value = fn(state)   # type: ignore[operator]
    except Exception:       # noqa: BLE001 - undefined: z3 said defined, so this is a disagreement
        return False
    if goal.kind == "final" and not all(system.quiescent(state, t.tid) for t in system.threads):
        return False
    return not value


__all__ = ["BmcError", "BmcResult", "Goal", "begin", "bmc", "condition_parts", "constants", "covered", "disjuncts",
           "goals_of", "replay", "settle_ranks"]
