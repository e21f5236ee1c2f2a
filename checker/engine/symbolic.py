"""The unbounded engines' view of the transition system: states as z3 frames, one macro-step as a formula.

k-induction (kinduction.py) and PDR (pdr.py) reason about arbitrary states, not only about paths from an
initial one, so they need what bmc.py's `Unrolling` builds (a visible case, then the ways the threads it
moved settle) as formulas of their own rather than constraints in BMC's solver:
- `step(s, t, tag)`: t is a successor of s by one macro-step (no stutter), its selectors (the visible
  case, the settle ways) and the values of the slots it leaves unused fresh per tag;
- per property p, `bad(p, s)`: p is broken at s (an invariant false in s, a final property false in a
  final s, a property undefined in s) or by a step from s (an assert, lock_discipline, runtime_safety:
  the visible case's violation guard, or an invisible node's on a way, both conditions on s);
  `good(p, s)`: its negation;
- `well_formed`: the type and range facts of the slots (program counters at a visible node or finished,
  owners a thread or none, ranges of declared types), each first proved inductive (Houdini: the candidates
  true in every initial state, then those preserved by every step from a state where all of them hold), so
  assuming them of any state is sound.
A model's frame is read back into a state tuple (`state_of`) for the lock table and thread positions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import partial

import networkx as nx
import z3
from netcheck.model.lang.expr import Expr, Local, Shared
from netcheck.model.lang.lockapi import LOCK_API
from netcheck.model.lang.types import IntT, ListT, RefT
from netcheck.model.semantics import ir, smtlist
from netcheck.model.semantics.discipline import held_locks, read_depth_bounds
from netcheck.model.semantics.layout import SlotKind, sort_type
from netcheck.model.semantics.locks import MAX_READ_DEPTH, READ_BITS
from netcheck.model.semantics.program import locals_in_use
from netcheck.model.semantics.relation import read_depth_term
from netcheck.model.semantics.system import Thread, TransitionSystem

from .bmc import RUNTIME, BmcResult, Unrolling, covered, goals_of
from .deadlocks import has_cycle, program_graph, why_partial

Frame = list[z3.ExprRef]
Blocker = Callable[[z3.ModelRef, Frame], "Candidate | None"]   # a clause a model's frame breaks, or None

# what the unbounded engines decide: the state and step properties bmc.py decides (a question: unreachable),
# and deadlock freedom in its state-local form (deadlocks.py)
DECIDED = ("invariant", "final", "reachable", "assert", "lock_discipline", "runtime", "deadlock")
RCU_MAX_NEST = 3


@dataclass(frozen=True)
class Cti:
    """A counterexample to induction: states s0 .. sk, each a successor of the one before, where the
    property is not broken in s0 .. sk-1 (as far as a condition on a state says) and is broken in sk.
    States of no run from an initial state, as far as anyone knows: a stronger invariant excludes them."""

    prop: str
    states: tuple[tuple, ...]


@dataclass(frozen=True)
class Proof:
    """How a property was proved: by k-induction at `k`, or by an inductive invariant (PDR, a lemma),
    re-checked with a plain solver (`checks`: initiation, consecution, implies the property)."""

    prop: str
    engine: str
    k: int = -1
    invariant: z3.BoolRef | None = None
    invariant_text: str = ""
    size: int = 0                       # conjuncts of the invariant
    with_others: tuple[tuple[str, z3.BoolRef], ...] = ()   # Houdini: the other properties it kept, by name (the
    #                                                          step may need them)
    checks: tuple[tuple[str, bool], ...] = ()
    seconds: float = 0.0


@dataclass
class ProofResult(BmcResult):
    """An unbounded engine's run: BMC's findings (the base case, or the trace of a violation), then the
    properties proved (`proofs`) and, for those neither proved nor violated, why (`unknown`) and the
    counterexample to induction when there is one (`ctis`)."""

    engine: str = "kind"
    proofs: dict[str, Proof] = field(default_factory=dict)
    ctis: dict[str, Cti] = field(default_factory=dict)
    well_formed: tuple[str, ...] = ()   # the slot facts proved inductive and assumed of every state
    # '' when a proof of the deadlock form (deadlocks.py) is one of deadlock_free, else why it is not
    deadlock_partial: str = ""
    # after a final property is proved: whether a final state is reachable (None: not decided); a proof over
    # no final state checks it on no state
    final_reachable: bool | None = None


@dataclass(frozen=True)
class Candidate:
    """A well-formedness fact about one slot, as a function of a frame, and how it reads."""

    slot: int
    text: str
    fact: Callable[[Frame], z3.BoolRef]


class Symbolic:
    """Formulas over frames for one (unreduced) system; `Unrolling` supplies the cases and the settle."""

    def __init__(self, system: TransitionSystem, timeout_ms: int = 0):
        self.system = system.unreduced()
        self.u = Unrolling(self.system, timeout_ms)
        self.n = self.u.n
        self.goals = goals_of(self.u)
        why = covered(self.system)
        kinds = {info.name: info.kind for info in self.system.property_kinds()}
        self.decided = tuple(name for name, w in why.items()
                             if not w and kinds.get(name, "runtime") in DECIDED and name in self.goals)
        self.undecided = {name: w for name, w in why.items() if w}
        if not self.system.initial_states:   # an invariant of no state is no proof: nothing is decided
            self.undecided.update((name, self.system.why_no_state()) for name in self.decided)
            self.decided = ()
        self.well_formed_facts: tuple[Candidate, ...] = ()
        self._in_use: dict[int, list[frozenset[int]]] = {}   # per thread: locals_in_use

    # -- frames and steps

    def frame(self, tag: str) -> Frame:
        return self.u._fresh(tag)

    def init(self, s: Frame) -> z3.BoolRef:
        pre = self.u.rel.pre
        states = [z3.And(*[s[i] == pre.value(i, v) for i, v in enumerate(st) if v is not None])
                  for st in self.system.initial_states]
        return z3.Or(*states) if states else z3.BoolVal(False)

    def step(self, s: Frame, t: Frame, tag: str) -> z3.BoolRef:
        """t follows s by one macro-step: a visible micro-step, then every thread settled."""
        return self.u.macro(s, t, tag)[1]

    # -- properties

    def bad(self, name: str, s: Frame) -> z3.BoolRef:
        """`name` is broken in s, or by a step from s: a condition on s alone."""
        goal = self.goals[name]
        parts = [goal.state(s)] if callable(goal.state) else []
        if goal.kind == "step":
            parts.append(self.u.breaking(name, s))
        return z3.Or(*parts) if parts else z3.BoolVal(False)

    def good(self, name: str, s: Frame) -> z3.BoolRef:
        """`name` is broken neither in s nor by a step from s."""
        return z3.Not(self.bad(name, s))

    # -- well-formedness

    def candidates(self) -> list[Candidate]:
        """Type and range facts, one per slot where there is one; Houdini keeps the inductive ones."""
        system = self.system
        out: list[Candidate] = []
        threads = len(system.threads)
        sizes = system.env.entity_sizes
        for i, slot in enumerate(system.layout.slots):
            if slot.kind == SlotKind.PC:
                thread = system.threads[slot.thread]
                pcs = [p for p, st in enumerate(thread.steps) if st is not None] + [thread.finished]
                out.append(_one_of(i, f"{slot.name} at a visible statement or finished", pcs))
            elif slot.kind == SlotKind.LOCK_OWNER:
                out.append(_between(i, slot.name, -1, threads - 1))
            elif slot.kind == SlotKind.LOCK_READERS:
                out.append(_between(i, slot.name, 0, (1 << (READ_BITS * threads)) - 1))
            elif slot.kind == SlotKind.LOCK_QUEUE:
                out.append(_short(i, slot.name, threads))
                out.append(_entries(i, slot.name, 2 * threads - 1))
                out.append(_distinct(i, slot.name))
                out.append(Candidate(i, f"{slot.name} empty unless {slot.var} is held", partial(_waits_on_a_holder, i)))
                out += self._queue_candidates(i, slot.name, slot.var)
            elif slot.kind == SlotKind.RCU_NEST:
                out.append(_between(i, slot.name, 0, RCU_MAX_NEST))
            elif slot.kind == SlotKind.GP_WAIT:
                out.append(_between(i, slot.name, 0, (1 << threads) - 1))
            elif slot.kind == SlotKind.LOCAL:
                out += self._local_candidates(i)
            elif slot.kind == SlotKind.SHARED and slot.type is not None:
                ty = slot.type
                if isinstance(ty, IntT) and ty.lo is not None and ty.hi is not None:
                    out.append(_between(i, slot.name, ty.lo, ty.hi))
                elif isinstance(ty, RefT) and ty.entity in sizes and self.u.rel.pre.sort(i) == z3.IntSort():
                    out.append(_between(i, slot.name, -1 if ty.nullable else 0, sizes[ty.entity] - 1))
                elif isinstance(ty, ListT) and ty.entity in sizes:
                    out.append(_short(i, slot.name, self.u.rel.pre.capacity(ty.entity)))
                    out.append(_entries(i, slot.name, sizes[ty.entity] - 1))
                    out.append(_distinct(i, slot.name))
        for thread in system.threads:
            out += self._frame_candidates(thread)
            out += self._holding_candidates(thread)
        return out

    def _queue_candidates(self, queue: int, name: str, lock: str) -> list[Candidate]:
        """Per thread, an rwsem's wait queue (slot `queue`, its read holds and writer the slots before)
        holds it to read or write only where it sleeps to, and as a reader only below the deepest read
        nesting (a down_read() past it is a violation, not a wait); where it sleeps, it is queued or has been
        granted the lock; and it holds no more reads than its program takes at its place. Without them a
        step from an ill-formed state queues a thread twice, overflows the queue, grants a read past a
        thread's bits, or wakes a waiter nobody granted, and the shape of the queue, the range of the read
        holds and who holds the lock are not inductive."""
        out = []
        for t in self.system.threads:
            waits = {mode: frozenset(p for p, node in enumerate(t.nodes) if p < len(t.steps) and t.steps[p] is not None
                                     and isinstance(node, ir.LockWait) and node.lock is not None
                                     and node.lock.name == lock and LOCK_API[node.op].mode == mode)
                     for mode in ("read", "write")}
            for mode, entry in (("read", 2 * t.tid), ("write", 2 * t.tid + 1)):
                places = sorted(waits[mode])
                out.append(Candidate(queue, f"{t.name} queued in {name} to {mode} only where it waits to", partial(
                    _queued_only_at, queue, z3.IntVal(entry), t.pcslot, places)))
                if places:
                    out.append(Candidate(queue, f"{t.name} queued in {name} or granted it, where it waits to {mode}",
                                         _at_places(t.pcslot, places, partial(_queued_or_granted, queue, t.tid, mode))))
            out.append(Candidate(queue, f"{t.name} queued in {name} to read only below the deepest read nesting",
                                 partial(_queued_reader_below, queue, t.tid)))
            bounds = self._read_bounds(t, lock, waits["read"])
            if bounds:
                out.append(Candidate(queue - 1, f"{t.name}'s read holds of {lock} no more than its program takes",
                                     partial(_reads_within, queue, t.tid, t.pcslot, bounds, waits["read"])))
        return out

    def _read_bounds(self, t: Thread, lock: str, read_waits: frozenset[int]) -> dict[int, int]:
        """Visible place -> the most read holds of `lock` thread t may have there (discipline.py
        `read_depth_bounds`), none at its end; the places where the program sets no bound below the deepest
        nesting (counting, where it sleeps to read, the one a releaser grants it) left out."""
        entry = self.system.initial_states[0][t.pcslot] if self.system.initial_states else None
        if entry is None or entry == t.finished:
            return {}
        bounds = read_depth_bounds(t.nodes, entry, lock, MAX_READ_DEPTH)
        out = {p: d for p, d in bounds.items() if p < len(t.steps) and t.steps[p] is not None}
        out[t.finished] = 0
        return {p: d for p, d in sorted(out.items()) if d + (p in read_waits) <= MAX_READ_DEPTH}

    def _holding_candidates(self, thread: Thread) -> list[Candidate]:
        """Where the thread surely holds a lock exclusively (discipline.py's must-analysis of its program),
        the lock's owner (a mutex's or spinlock's, an rwsem's writer) is that thread."""
        system = self.system
        out: list[Candidate] = []
        entry = system.initial_states[0][thread.pcslot] if system.initial_states else None
        if entry is None or entry == thread.finished:
            return out
        where: dict[str, list[int]] = {}
        for p, held in held_locks(thread.nodes, entry).items():
            if p < len(thread.steps) and thread.steps[p] is not None:
                for hold in held:
                    if hold.exclusive and hold.lock in system.layout.locks:
                        where.setdefault(hold.lock, []).append(p)
        for lock, pcs in sorted(where.items()):
            owner = system.layout.locks[lock][0]
            fact = _at_places(thread.pcslot, sorted(pcs), partial(_equals_value, owner, z3.IntVal(thread.tid)))
            out.append(Candidate(owner, f"{lock} held by {thread.name} where it surely holds it", fact))
        return out

    def _frame_candidates(self, thread: Thread) -> list[Candidate]:
        """A parameter equals the caller's variable (or the constant) passed for it, wherever the call runs:
        nothing but the callee writes the caller's frame while it runs (Houdini drops a parameter the
        callee assigns)."""
        pre, out = self.u.rel.pre, []
        slots = self.system.layout.slots
        for inside, param, arg, value in thread.frame_facts:
            pcs = sorted(p for p in inside if p < len(thread.steps) and thread.steps[p] is not None)
            if not pcs or (arg is not None and pre.sort(arg) != pre.sort(param)):
                continue
            if arg is None:
                equal = partial(_equals_value, param, pre.value(param, value))
                text = f"{slots[param].name} == {value} inside its call"
            else:
                equal = partial(_equals_slot, param, arg)
                text = f"{slots[param].name} == {slots[arg].name} inside its call"
            out.append(Candidate(param, text, _at_places(thread.pcslot, pcs, equal)))
        return out

    def _local_candidates(self, i: int) -> list[Candidate]:
        """A local of an element reference or a list, where its thread's program counter says it is in use:
        an element or null; a well-formed list of distinct elements. (Elsewhere the step leaves the slot
        free, so an unconditional fact would never be inductive.)"""
        slot = self.system.layout.slots[i]
        t = sort_type(slot.sort)
        if not isinstance(t, (RefT, ListT)) or t.entity not in self.system.env.entity_sizes:
            return []
        size = self.system.env.entity_sizes[t.entity]
        thread = self.system.threads[slot.thread]
        if thread.tid not in self._in_use:
            self._in_use[thread.tid] = locals_in_use(thread.nodes)
        in_use = self._in_use[thread.tid]
        idle = [p for p, st in enumerate(thread.steps) if st is not None and i not in in_use[p]]
        idle.append(thread.finished)
        pc = thread.pcslot

        def where(fact: Callable[[Frame], z3.BoolRef]) -> Callable[[Frame], z3.BoolRef]:
            return lambda s: z3.Or(*[s[pc] == p for p in idle], fact(s))
        facts = [_between(i, slot.name, -1, size - 1)] if isinstance(t, RefT) else \
            [_short(i, slot.name, self.u.rel.pre.capacity(t.entity)), _entries(i, slot.name, size - 1),
             _distinct(i, slot.name)]
        return [Candidate(i, f"{c.text} where in use", where(c.fact)) for c in facts]

    def houdini(self, timeout_ms: int = 0, extra: Sequence[Candidate] = (), until: float | None = None,
                protect: Collection[Candidate] = (), block: Blocker | None = None, most_blocked: int = 0
                ) -> tuple[Candidate, ...]:
        """The largest subset of the candidates (the slot facts, and `extra`) that holds initially and is
        preserved by every step from a state satisfying all of it (z3 unknown, or past `until` on the
        perf_counter clock: the facts kept are dropped too, to stay sound).

        With `block`: when a step from a state s that satisfies every candidate left breaks one in `protect`
        (or a clause learned so), `block(model, s)` may return a clause that s breaks, true in every
        initial state (at most `most_blocked` of them); it joins the candidates and nothing is dropped that
        round, so s is no longer a reason to drop. Whatever joins, the result is still a set of candidates
        Houdini has shown inductive together."""
        keep = self._initially([*self.candidates(), *extra], timeout_ms)
        s, t = self.frame("wf0"), self.frame("wf1")
        solver = _solver(timeout_ms)
        solver.add(self.step(s, t, "wf"))
        # one solver for every round: each candidate assumed in s through a literal, and named in t, so
        # that what z3 learns in one round serves the next
        assumed: list[z3.BoolRef] = []
        holds: list[z3.BoolRef] = []

        def join(c: Candidate) -> int:
            k = len(assumed)
            assumed.append(z3.Bool(f"houdini.assumed{k}"))
            holds.append(z3.Bool(f"houdini.holds{k}"))
            solver.add(z3.Implies(assumed[k], c.fact(s)), holds[k] == c.fact(t))
            return k

        for c in keep:
            join(c)
        guarded = {k for k, c in enumerate(keep) if c in protect}
        alive = list(range(len(keep)))
        rounds = learned = 0
        while alive:
            if until is not None and time.perf_counter() > until:
                alive = []
                break
            asked = z3.Bool(f"houdini.round{rounds}")   # this round's question: one of them fails in t
            rounds += 1
            solver.add(z3.Implies(asked, z3.Or(*[z3.Not(holds[k]) for k in alive])))
            answer = solver.check(asked, *[assumed[k] for k in alive])
            if answer == z3.unsat:
                break
            if answer == z3.unknown:
                alive = []
                break
            model = solver.model()
            solver.add(z3.Not(asked))
            broken = [k for k in alive if not z3.is_true(model.eval(holds[k], model_completion=True))]
            if block is not None and learned < most_blocked and guarded & set(broken):
                clause = block(model, s)
                if clause is not None and self._initially([clause], timeout_ms):
                    keep.append(clause)
                    learned += 1
                    k = join(clause)
                    guarded.add(k)
                    alive.append(k)
                    continue
            alive = [k for k in alive if k not in broken]
        self.well_formed_facts = tuple(keep[k] for k in alive)
        return self.well_formed_facts

    def _initially(self, candidates: Sequence[Candidate], timeout_ms: int = 0) -> list[Candidate]:
        """The candidates every initial state satisfies (z3 unknown: not kept)."""
        s = self.frame("wfi")
        solver = _solver(timeout_ms)
        solver.add(self.init(s))
        out = []
        for c in candidates:
            solver.push()
            solver.add(z3.Not(c.fact(s)))
            if solver.check() == z3.unsat:
                out.append(c)
            solver.pop()
        return out

    def well_formed(self, s: Frame) -> z3.BoolRef:
        return z3.And(*[c.fact(s) for c in self.well_formed_facts]) if self.well_formed_facts else z3.BoolVal(True)

    # -- runs that end

    def deadlock_partial(self, proved: Collection[str], assume: Sequence[z3.BoolRef] = ()) -> str:
        """'' when a proof of deadlock freedom's state-local form is all of it (deadlocks.py `why_partial`):
        asked of `finite` only when `proved` holds a deadlock property (after the engine's own queries:
        Spacer's search depends on what z3 built before it). `assume`: conditions on the relation's
        state-before constants that hold in every reachable state (proved lemmas)."""
        kinds = {info.name: info.kind for info in self.system.property_kinds()}
        asked = any(kinds.get(name) == "deadlock" for name in proved)
        return why_partial(self.system, partial(self.finite, assume=assume) if asked else None)

    def finite(self, thread: Thread, assume: Sequence[z3.BoolRef] = (), timeout_ms: int = 10_000) -> str:
        """'' when the thread takes finitely many steps on every run in which the threads that are no
        daemons do, else why that is not shown. Its loops over a list or set that nothing changes while it
        is inside them end (`_bounded_loops`); a cycle of its program through none of them must, for a
        daemon, pass an idle await and a step after which that await's condition is false, where no
        daemon's step makes the condition true: then each turn needs a step of a thread that is no daemon.
        Shown for well-formed states (Houdini's facts: `houdini` first) satisfying `assume`; z3 unknown:
        not shown."""
        u, t = self.u, thread
        s, after = self.frame("fin0"), self.frame("fin1")
        select, step = u.macro(s, after, "fin")
        solver = _solver(timeout_ms)
        solver.add(self.well_formed(s), *[u.at(a, s) for a in assume], step)
        bounded = self._bounded_loops(t, solver, s, after)
        if not has_cycle(t.nodes, bounded):
            return ""
        if not t.daemon:
            return "a loop of it may not end"
        idle = frozenset(pc for pc, node in enumerate(t.nodes)
                         if isinstance(node, ir.Await) and node.idle and t.steps[pc] is not None)
        if has_cycle(t.nodes, bounded | idle):
            return "a loop of it passes no idle wait"
        if any(u.rel.cases(t.tid, pc, True) for pc in idle):
            return "a fatal signal may end its idle wait"

        def waiting_ends(frame: Frame) -> z3.BoolRef:   # some idle await of the daemon could pass
            return z3.Or(*[u.at(case.guard, frame) for pc in idle
                           for case in u.rel.cases(t.tid, pc, False) if not case.violation])
        solver.add(waiting_ends(after))
        daemons = [b for b, o in zip(select, u.visible) if self.system.threads[o.tid].daemon]
        if solver.check(z3.Not(waiting_ends(s)), z3.Or(*daemons)) != z3.unsat:
            return "a daemon's step may make the condition of its idle wait true"
        emptying = frozenset(pc for pc, st in enumerate(t.steps) if st is not None and pc not in idle and
                             solver.check(z3.Or(*[b for b, o in zip(select, u.visible)
                                                  if o.tid == t.tid and o.pc == pc] or [z3.BoolVal(False)]),
                                          u.pc(s, t.tid) == pc) == z3.unsat)
        if has_cycle(t.nodes, bounded | emptying):
            return "a loop of it passes no step that makes its idle wait's condition false"
        return ""

    def _bounded_loops(self, t: Thread, solver: z3.Solver, s: Frame, after: Frame) -> frozenset[int]:
        """The cursor steps of the thread's loops that end: each walks a list or set (not through deleted
        elements) whose slot no step from inside the loop to inside it changes, and nothing inside writes
        the cursor; each entry then takes at most as many turns as the walk has elements."""
        out = set()
        for pc, node in enumerate(t.nodes):
            if type(node) is not ir.LoopStep or node.rcu or node.source is None:
                continue
            start = next((q for q, other in enumerate(t.nodes) if isinstance(other, ir.LoopStart)
                          and other.cursor == node.cursor and other.next == node.next and other.alt == node.alt),
                         None)
            walked = _slot_of(node.source, node, self.system)
            if start is None or walked is None:
                continue
            inside = _loop_region(t.nodes, start, pc)
            if any(_writes_slot(t.nodes[q], node.cursor) for q in inside if q != pc):
                continue
            visible = [q for q in inside | {pc} if t.steps[q] is not None]
            if not visible or solver.check(z3.Or(*[self.u.pc(s, t.tid) == q for q in visible]),
                                           z3.Or(*[self.u.pc(after, t.tid) == q for q in visible]),
                                           s[walked] != after[walked]) == z3.unsat:
                out.add(pc)
        return frozenset(out)

    # -- reading a model

    def state_of(self, model: z3.ModelRef, s: Frame) -> tuple:
        """A frame of a model as a state tuple (ints, bit masks as ints, sequences as tuples)."""
        return tuple(value_of(model.eval(x, model_completion=True)) for x in s)


def _at_places(pc: int, pcs: Sequence[int], fact: Callable[[Frame], z3.BoolRef]) -> Callable[[Frame], z3.BoolRef]:
    """`fact` wherever the program counter in slot `pc` is one of `pcs`."""
    return lambda s: z3.Or(z3.Not(z3.Or(*[s[pc] == q for q in pcs])), fact(s))


def _queued_only_at(queue: int, entry: z3.ExprRef, pc: int, waits: Sequence[int], s: Frame) -> z3.BoolRef:
    return z3.Or(z3.Not(smtlist.contains(s[queue], entry)), *[s[pc] == p for p in waits])


def _queued_or_granted(queue: int, tid: int, mode: str, s: Frame) -> z3.BoolRef:
    """Thread `tid` waits in the queue, or a releaser has granted it the lock (its wait then runs on)."""
    if mode == "write":
        return z3.Or(smtlist.contains(s[queue], z3.IntVal(2 * tid + 1)), s[queue - 2] == tid)
    return z3.Or(smtlist.contains(s[queue], z3.IntVal(2 * tid)), read_depth_term(s[queue - 1], tid) > 0)


def _waits_on_a_holder(queue: int, s: Frame) -> z3.BoolRef:
    """An rwsem's queue is empty, or someone holds it (a release hands a free lock to the head at once)."""
    return z3.Or(smtlist.length(s[queue]) == 0, s[queue - 2] != -1, s[queue - 1] != 0)


def _reads_within(queue: int, tid: int, pc: int, bounds: dict[int, int], waits: frozenset[int], s: Frame
                  ) -> z3.BoolRef:
    """At each place, thread `tid` holds at most the bound's reads (where it sleeps to read and is no longer
    queued, one more: the read it was granted)."""
    depth = read_depth_term(s[queue - 1], tid)
    granted = z3.Not(smtlist.contains(s[queue], z3.IntVal(2 * tid)))
    return z3.And(*[z3.Implies(s[pc] == p, depth <= (z3.If(granted, d + 1, d) if p in waits else d))
                    for p, d in bounds.items()])


def _queued_reader_below(queue: int, tid: int, s: Frame) -> z3.BoolRef:
    return z3.Implies(smtlist.contains(s[queue], z3.IntVal(2 * tid)),
                      read_depth_term(s[queue - 1], tid) < MAX_READ_DEPTH)


def _equals_value(i: int, value: z3.ExprRef, s: Frame) -> z3.BoolRef:
    return s[i] == value


def _equals_slot(i: int, j: int, s: Frame) -> z3.BoolRef:
    return s[i] == s[j]


def _slot_of(e: Expr, node: ir.Node, system: TransitionSystem) -> int | None:
    """The slot of a plain variable (a shared one with no index, or a local of the node's frame)."""
    if isinstance(e, Shared) and not e.keys and e.name in system.layout.shared:
        return system.layout.shared[e.name][0]
    if isinstance(e, Local) and node.env is not None:
        return node.env.locals.get(e.name)
    return None


def _loop_region(nodes: Sequence[ir.Node], start: int, step: int) -> set[int]:
    """The program points inside a loop: reached from its body's entry, and reaching its cursor step, without
    passing the loop's start (or, going forward, its cursor step)."""
    graph, entry = program_graph(nodes), nodes[start].next
    ahead = graph.subgraph(set(graph) - {start, step})
    forward = nx.descendants(ahead, entry) | {entry} if entry in ahead else set()
    behind = graph.subgraph(set(graph) - {start})
    backward = set().union(*(nx.ancestors(behind, p) | {p} for p in graph.predecessors(step) if p != start))
    return forward & backward


def _writes_slot(node: ir.Node, slot: int) -> bool:
    """Whether a node may write a local slot (an assignment to it, a frame reset, a loop cursor)."""
    if isinstance(node, ir.Assign):
        return any(isinstance(w.target, Local) and w.env.locals.get(w.target.name) == slot for w in node.writes)
    if isinstance(node, ir.Reset):
        return slot in node.slots
    if isinstance(node, ir.LoopStep):
        return node.cursor == slot
    return False


def _between(i: int, name: str, lo: int, hi: int) -> Candidate:
    """lo <= slot i <= hi."""
    return Candidate(i, f"{lo} <= {name} <= {hi}", lambda s: z3.And(s[i] >= lo, s[i] <= hi))


def _one_of(i: int, text: str, values: list[int]) -> Candidate:
    return Candidate(i, text, lambda s: z3.Or(*[s[i] == v for v in values]))


def _short(i: int, name: str, most: int) -> Candidate:
    """A list of at most `most` items, its unused ones -1 (smtlist.py: the shape of every list value); a
    wait queue's `most` is the number of threads (a thread queues once)."""
    return Candidate(i, f"len({name}) <= {most}, the rest of it unused", lambda s: smtlist.well_formed(s[i]))


def _entries(i: int, name: str, hi: int) -> Candidate:
    """Every item of a list within 0..hi (an element of its entity; a queue entry, 2 * thread + writer)."""
    def fact(s: Frame) -> z3.BoolRef:
        n = smtlist.length(s[i])
        return z3.And(*[z3.Implies(k < n, z3.And(e >= 0, e <= hi)) for k, e in enumerate(smtlist.items(s[i]))])
    return Candidate(i, f"the items of {name} within 0..{hi}", fact)


def _distinct(i: int, name: str) -> Candidate:
    """No item twice among a list's used items (adding an element already on a list is a runtime error; a
    thread queues once): without it, a list one item short of its room may overflow in one step, and its
    shape is not inductive."""
    def fact(s: Frame) -> z3.BoolRef:
        n, xs = smtlist.length(s[i]), smtlist.items(s[i])
        return z3.And(*[z3.Implies(b < n, xs[a] != xs[b]) for a in range(len(xs)) for b in range(a + 1, len(xs))])
    return Candidate(i, f"no item twice in {name}", fact)


def value_of(v: z3.ExprRef) -> object:
    """A z3 value as the Python value a state holds (int, bool, list, or its text)."""
    if z3.is_int_value(v):
        return v.as_long()
    if z3.is_bv_value(v):
        return v.as_long()
    if z3.is_true(v) or z3.is_false(v):
        return z3.is_true(v)
    if smtlist.is_list(v):
        return smtlist.value(v)
    return str(v)


def _solver(timeout_ms: int = 0) -> z3.Solver:
    solver = z3.Solver()
    solver.set("random_seed", 0)
    if timeout_ms:
        solver.set("timeout", timeout_ms)
    return solver


def frames_differ(a: Sequence[z3.ExprRef], b: Sequence[z3.ExprRef]) -> z3.BoolRef:
    return z3.Or(*[x != y for x, y in zip(a, b)])


__all__ = ["DECIDED", "RUNTIME", "Candidate", "Cti", "Frame", "Proof", "ProofResult", "Symbolic", "frames_differ"]
