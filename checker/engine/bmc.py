"""Bounded model checking with z3 over the spec's transition relation (model/semantics/relation.py).

The relation has one micro-step per IR node; the explorer's steps are a visible micro-step followed by
the stepping thread's invisible ones (settling), and those of the rwsem waiters the step grants. The
unrolling keeps that granularity in **macro-frames**: frame f is a settled state (every thread at a
visible node or finished), the state after f steps. One transition is
- one visible micro-step of one thread (a selector picks the thread, node, fatal signal and case; every
  slot's next value is an if-chain over the cases that write it);
- then settle slots, per thread: invisible micro-steps only touch their thread's own program counter and
  locals, so the threads settle side by side, each in as many slots as its longest chain of invisible
  nodes, and stutter once settled;
- or a stutter: a path may end early (`run[f]` false, and then every later frame stutters too).

Per depth d the solver is asked, under push/pop, whether a property is violated after d steps: a state
condition at frame d (an invariant false, a final property false in a final state, a property undefined:
runtime_safety), or a violating d-th step from frame d - 1 (a visible micro-step, or an invisible one while
the step settles: a separate copy of the step in which a thread may stop anywhere). Depths are tried
in order, so the first satisfiable one is the shortest violation, the length the explicit search reports.
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

import z3
from netcheck.model.semantics import ir
from netcheck.model.semantics.relation import Case, Relation
from netcheck.model.semantics.runtime import Violation
from netcheck.model.semantics.system import TransitionSystem

from .deadlocks import DeadlockForm, explicit_form
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


class BmcError(ValueError):
    """A spec the bounded engine cannot unroll."""


@dataclass(frozen=True)
class Option:
    """One successor case of a visible micro-step: thread, program point, fatal signal, the case."""

    tid: int
    pc: int
    signal: bool
    case: Case


@dataclass
class BmcResult(EngineResult):
    """A bounded run: the findings with their paths (`paths` by property, violations and witnesses alike),
    the depth asked for, the deepest depth every open property was decided to, and seconds per depth."""

    depth: int = 0
    reached: int = -1
    paths: dict[str, Path] = field(default_factory=dict)
    covered: tuple[str, ...] = ()     # the properties bounded model checking decides, in report order
    times: list[float] = field(default_factory=list)


def longest_settle(thread_name: str, nodes: list[ir.Node]) -> int:
    """The most invisible nodes a thread can run in a row (BmcError on a cycle of them)."""
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
    return max(memo.values(), default=0)


class Unrolling:
    """The macro-frames of the unrolled relation in one incremental, seeded solver."""

    def __init__(self, system: TransitionSystem, timeout_ms: int = 0):
        self.system = system
        rel = self.rel = Relation(system)
        z3.set_param("smt.random_seed", SEED)
        z3.set_param("sat.random_seed", SEED)
        self.solver = z3.Solver()
        self.solver.set("random_seed", SEED)
        if timeout_ms:
            self.solver.set("timeout", timeout_ms)
        self.n = len(system.layout.slots)
        self.base = [rel.pre.slot(i) for i in range(self.n)]
        self._src = (z3.Ast * self.n)()
        for i, c in enumerate(self.base):
            self._src[i] = c.as_ast()
        self._arrays: dict[int, tuple[list[z3.ExprRef], object]] = {}
        self.visible: list[Option] = []
        self.visible_violations: dict[str, list[tuple[int, int, bool, z3.BoolRef]]] = {}
        self.enabled: dict[tuple[int, int], z3.BoolRef] = {}
        self.own: list[list[int]] = []
        self.invisible: list[dict[int, list[Case]]] = []
        self.settle_len: list[int] = []
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
            self.settle_len.append(longest_settle(t.name, t.nodes))
        if rel.pre.local_consts:
            raise BmcError("a local slot is read at a type other than its pool's: the bounded engine cannot "
                           "encode it")
        self.frames: list[list[z3.ExprRef]] = []
        self.sel: list[z3.ArithRef] = []
        self.run: list[z3.BoolRef] = []
        self.violating: dict[int, tuple[z3.ArithRef, dict[str, z3.BoolRef]]] = {}
        self.frames.append(self._fresh("f0"))
        initial = [z3.And(*[self.frames[0][i] == rel.pre.value(i, v) for i, v in enumerate(s) if v is not None])
                   for s in system.initial_states]
        self.solver.add(z3.Or(*initial) if initial else z3.BoolVal(False))

    # -- terms

    def _fresh(self, tag: str) -> list[z3.ExprRef]:
        return [z3.Const(f"{c}@{tag}", c.sort()) for c in self.base]

    def at(self, term: z3.ExprRef, state: list[z3.ExprRef]) -> z3.ExprRef:
        """A term over the relation's state-before constants, read in `state` (z3's substitution through its
        C API: the Python wrapper checks every pair's sorts on each call, which dominates building)."""
        key = id(state)
        cached = self._arrays.get(key)
        if cached is None or cached[0] is not state:
            dst = (z3.Ast * self.n)()
            for i, c in enumerate(state):
                dst[i] = c.as_ast()
            cached = self._arrays[key] = (state, dst)
        ctx = term.ctx
        return z3.z3._to_expr_ref(z3.z3core.Z3_substitute(ctx.ref(), term.as_ast(), self.n, self._src, cached[1]), ctx)

    def pc(self, state: list[z3.ExprRef], tid: int) -> z3.ArithRef:
        return state[self.system.threads[tid].pcslot]

    # -- one step

    def _visible_step(self, before: list[z3.ExprRef], tag: str) -> tuple[z3.ArithRef, list[z3.ExprRef], z3.BoolRef]:
        """(selector, the state after one visible micro-step, the constraint linking them)."""
        sel = z3.Int(f"sel@{tag}")
        after = self._fresh(f"m{tag}")
        chosen = []
        writes: dict[int, list[tuple[int, z3.ExprRef | None]]] = {}
        for k, o in enumerate(self.visible):
            chosen.append(z3.And(sel == k, self.pc(before, o.tid) == o.pc, self.at(o.case.guard, before)))
            for i, update in o.case.updates.items():
                writes.setdefault(i, []).append((k, None if update is None else self.at(update, before)))
        links = [z3.Or(*chosen) if chosen else z3.BoolVal(False)]
        for i in range(self.n):
            value: z3.ExprRef = before[i]
            unused = False
            for k, v in writes.get(i, []):
                if v is None:
                    unused = True
                    continue
                value = z3.If(sel == k, v, value)
            if unused:   # the slot becomes unused: any value
                unused_by = z3.Or(*[sel == k for k, v in writes[i] if v is None])
                links.append(z3.Or(unused_by, after[i] == value))
            else:
                links.append(after[i] == value)
        return sel, after, z3.And(*links)

    def _settle(self, mid: list[z3.ExprRef], tag: str, settled: bool
                ) -> tuple[list[z3.ExprRef], z3.BoolRef, dict[str, list[z3.BoolRef]]]:
        """The threads settling after a visible micro-step, side by side, as terms: per slot, the first
        successor case whose program point and guard hold moves the thread (an `either` by a fresh choice),
        none keeps it (settled, or stopped at a violation). Returns the state after the settle slots, the
        constraint (with `settled`: every thread ends at a visible node, so no violation stopped it), and per
        property when an invisible micro-step on the way breaks it."""
        state = list(mid)
        links: list[z3.BoolRef] = []
        broken: dict[str, list[z3.BoolRef]] = {}
        for t in self.system.threads:
            inv, own, length = self.invisible[t.tid], self.own[t.tid], self.settle_len[t.tid]
            if not inv or not length:
                continue
            for j in range(length):
                pc = state[t.pcslot]
                nxt = list(state)
                choice = z3.Int(f"either@{tag}.{t.tid}.{j}")
                moves: list[tuple[z3.BoolRef, Case]] = []
                for p, cases in inv.items():
                    either = 0
                    for case in cases:
                        guard = z3.And(pc == p, self.at(case.guard, state))
                        if case.violation:
                            broken.setdefault(case.violation, []).append(guard)
                            continue
                        if isinstance(self.system.threads[t.tid].nodes[p], ir.Choose):
                            guard = z3.And(guard, choice == either)
                            either += 1
                        moves.append((guard, case))
                for i in own:
                    value = state[i]
                    for guard, case in reversed(moves):
                        if i in case.updates:
                            update = case.updates[i]
                            new = state[i] if update is None else self.at(update, state)
                            value = z3.If(guard, new, value)
                    if value is state[i]:
                        continue
                    # a fresh constant per settle slot keeps the next slot's terms small (its guards read it)
                    fresh = z3.Const(f"{self.base[i]}@s{tag}.{j}", value.sort())
                    links.append(fresh == value)
                    nxt[i] = fresh
                state = nxt
            if settled:
                links.append(z3.Not(z3.Or(*[state[t.pcslot] == p for p in inv])))
        return state, z3.And(*links) if links else z3.BoolVal(True), broken

    def extend(self, depth: int) -> None:
        """Transitions until frame `depth` exists."""
        while len(self.frames) <= depth:
            f = len(self.frames) - 1
            before = self.frames[f]
            sel, mid, link = self._visible_step(before, str(f))
            settled, settle, _ = self._settle(mid, str(f), settled=True)
            after = self._fresh(f"f{f + 1}")
            run = z3.Bool(f"run@{f}")
            stay = z3.And(*[a == b for a, b in zip(after, before)])
            moved = z3.And(link, settle, *[a == b for a, b in zip(after, settled)])
            self.solver.add(z3.If(run, moved, stay))
            if f > 0:
                self.solver.add(z3.Implies(run, self.run[f - 1]))
            self.sel.append(sel)
            self.run.append(run)
            self.frames.append(after)

    def violating_step(self, f: int) -> tuple[z3.ArithRef, dict[str, z3.BoolRef]]:
        """A step from frame f that breaks a property, per property: a visible micro-step's violation, or an
        invisible one while the step settles (a copy of the step behind the literal `viol@f`)."""
        if f not in self.violating:
            before = self.frames[f]
            sel, mid, link = self._visible_step(before, f"v{f}")
            _, settle, broken = self._settle(mid, f"v{f}", settled=False)
            flag = z3.Bool(f"viol@{f}")
            self.solver.add(z3.Implies(flag, z3.And(link, settle)))
            out: dict[str, z3.BoolRef] = {}
            for prop, guards in broken.items():
                out[prop] = z3.And(flag, z3.Or(*guards))
            for prop, found in self.visible_violations.items():
                direct = z3.Or(*[z3.And(self.pc(before, tid) == pc, self.at(g, before)) for tid, pc, _, g in found])
                out[prop] = z3.Or(out[prop], direct) if prop in out else direct
            self.violating[f] = (sel, out)
        return self.violating[f]

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


@dataclass
class _Goal:
    """A property's condition at depth d: (in frame d, from frame d - 1 by a violating step)."""

    name: str
    kind: str              # invariant, final, reachable (a witness), step (asserts, built-ins)
    state: object = None   # callable: frame -> BoolRef, or None


def _goals(u: Unrolling) -> dict[str, _Goal]:
    system = u.system
    goals: dict[str, _Goal] = {}
    pre = u.rel.pre
    undefined: list = []
    for p in system.invariants:
        defined, term = pre.defined(p.expr), pre.term(p.expr)
        goals[p.decl.name] = _Goal(p.decl.name, "invariant",
                                   lambda s, d=defined, t=term: u.at(z3.And(d, z3.Not(t)), s))
        undefined.append(lambda s, d=defined: u.at(z3.Not(d), s))
    for p in system.reachables:   # the negated condition: a witness is where it is false
        defined, term = pre.defined(p.expr), pre.term(p.expr)
        goals[p.decl.name] = _Goal(p.decl.name, "reachable",
                                   lambda s, d=defined, t=term: u.at(z3.And(d, z3.Not(t)), s))
        undefined.append(lambda s, d=defined: u.at(z3.Not(d), s))
    for p in system.finals:
        defined, term = pre.defined(p.expr), pre.term(p.expr)
        goals[p.decl.name] = _Goal(p.decl.name, "final",
                                   lambda s, d=defined, t=term: z3.And(u.final(s), u.at(z3.And(d, z3.Not(t)), s)))
        undefined.append(lambda s, d=defined: z3.And(u.final(s), u.at(z3.Not(d), s)))
    goals[RUNTIME] = _Goal(RUNTIME, "step", (lambda s: z3.Or(*[f(s) for f in undefined])) if undefined else None)
    for info in system.property_kinds():
        if info.kind in ("assert", "lock_discipline") and info.name not in goals:
            goals[info.name] = _Goal(info.name, "step")
        elif info.kind == "deadlock":   # its state-local form (deadlocks.py)
            form = DeadlockForm(u.rel, u.at)
            goals[info.name] = _Goal(info.name, "deadlock", form.bad)
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


def bmc(system: TransitionSystem, depth: int, timeout: float | None = None, fail_fast: bool = False,
        stop_on: frozenset[str] = frozenset()) -> BmcResult:
    """The shortest violation (or witness) of every property bounded model checking decides, within `depth`
    steps. A spec it cannot unroll: BmcError."""
    started = time.perf_counter()
    system = system.unreduced()
    result = BmcResult(system, depth=depth)
    decides = covered(system)
    result.covered = tuple(name for name, why in decides.items() if not why)
    result.unknown.update({name: why for name, why in decides.items() if why})
    for v in system.initial_violations:   # while computing the initial states: a step with no path
        if v.prop not in result.violations:
            result.violations[v.prop] = Finding(v.prop, -1, v.tid, v.message)
            result.paths[v.prop] = Path((), ())
    deadline = started + timeout if timeout else None
    u = Unrolling(system, int(timeout * 1000) if timeout else 0)
    goals = {name: g for name, g in _goals(u).items() if name in result.covered}
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
            u.extend(d)
            conds = {name: _condition(u, goals[name], d) for name in open_}
            conds = {name: c for name, c in conds.items() if not z3.is_false(z3.simplify(c))}
            while conds:
                if deadline is not None:   # each query gets the time left, so that --timeout bounds the run
                    u.solver.set("timeout", max(1, int((deadline - time.perf_counter()) * 1000)))
                u.solver.push()
                u.solver.add(z3.Or(*conds.values()))
                answer = u.solver.check()
                if answer == z3.unknown:
                    why = f"z3 could not decide at depth {d}: {u.solver.reason_unknown()}"
                    u.solver.pop()
                    for name in conds:
                        result.unknown[name] = why
                        open_.remove(name)
                    break
                if answer == z3.unsat:
                    u.solver.pop()
                    break
                model = u.solver.model()
                hit = [name for name, c in conds.items() if z3.is_true(model.eval(c, model_completion=True))]
                for name in hit:
                    _record(result, u, model, goals[name], d)
                    open_.remove(name)
                    del conds[name]
                u.solver.pop()
                if _stop(result, fail_fast, stop_on):
                    break
            result.times.append(time.perf_counter() - began)
            result.reached = d
    if open_ and result.reached < depth and not result.stop_reason and _stop(result, fail_fast, stop_on):
        result.complete = False
        result.stop_reason = "stopped at the first violation" if fail_fast else "stopped at the --stop-on properties"
    result.seconds = time.perf_counter() - started
    return result


def _stop(result: BmcResult, fail_fast: bool, stop_on: frozenset[str]) -> bool:
    return bool((fail_fast and result.violations) or (stop_on and stop_on <= result.violations.keys()))


def _condition(u: Unrolling, goal: _Goal, d: int) -> z3.BoolRef:
    """The goal reached at depth d: in frame d, or by a violating d-th step from frame d - 1."""
    parts = []
    if callable(goal.state):
        parts.append(goal.state(u.frames[d]))
    if d > 0 and goal.kind == "step":
        _, broken = u.violating_step(d - 1)
        if goal.name in broken:
            parts.append(broken[goal.name])
    return z3.Or(*parts) if parts else z3.BoolVal(False)


# -- decoding a model into an explicit path


def _record(result: BmcResult, u: Unrolling, model: z3.ModelRef, goal: _Goal, d: int) -> None:
    """The model's path to the goal at depth d, replayed with the explicit semantics, as a finding."""
    system = u.system
    in_state = callable(goal.state) and z3.is_true(model.eval(goal.state(u.frames[d]), model_completion=True))
    steps = d if in_state else d - 1
    states = [_initial(u, model)]
    labels: list[Label] = []
    for f in range(steps):
        if not z3.is_true(model.eval(u.run[f], model_completion=True)):
            raise InternalError(f"bounded model checking: the model of a violation at depth {d} stops at step {f}")
        option = u.visible[model.eval(u.sel[f], model_completion=True).as_long()]
        action = _action(system, option.tid, option.pc, option.signal)
        want = [model.eval(x, model_completion=True) for x in u.frames[f + 1]]
        outcomes = system.fire(states[-1], action)
        choice = next((c for c, r in enumerate(outcomes) if isinstance(r, tuple) and _matches(u, r, want)), None)
        if choice is None:
            raise InternalError(f"bounded model checking: step {f + 1} of the model ({system.threads[option.tid].name}"
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
        last, message = _violating_label(u, model, d - 1, states[-1], goal.name)
        tid = last.tid
    path = Path(tuple(states), tuple(labels), last, (), False)
    finding = Finding(goal.name, len(states) - 1, tid, message, last.signal if last else False,
                      last.action if last else -1, last.choice if last else 0)
    result.paths[goal.name] = path
    (result.witnesses if goal.kind == "reachable" else result.violations)[goal.name] = finding
    if goal.kind != "step" and not _state_goal_holds(system, goal, states[-1]):
        raise InternalError(f"bounded model checking: {goal.name} is not reached in the replayed state")


def _initial(u: Unrolling, model: z3.ModelRef) -> tuple:
    want = [model.eval(x, model_completion=True) for x in u.frames[0]]
    for s in u.system.initial_states:
        if _matches(u, s, want):
            return s
    raise InternalError("bounded model checking: the model's first state is no initial state")


def _matches(u: Unrolling, state: tuple, want: list[z3.ExprRef]) -> bool:
    pre = u.rel.pre
    return all(v is None or z3.is_true(z3.simplify(pre.value(i, v) == want[i])) for i, v in enumerate(state))


def _action(system: TransitionSystem, tid: int, pc: int, signal: bool) -> int:
    step = system.threads[tid].steps[pc]
    assert step is not None
    return step.sig_action if signal else step.action


def _violating_label(u: Unrolling, model: z3.ModelRef, f: int, state: tuple, prop: str) -> tuple[Label, str]:
    """The step from `state` (frame f) that breaks `prop`: the visible micro-step whose violation guard holds,
    else the violating copy's chosen step; replayed, the outcome that is that violation."""
    system = u.system
    candidates: list[tuple[int, int, bool]] = []
    for tid, pc, signal, guard in u.visible_violations.get(prop, []):
        if z3.is_true(model.eval(z3.And(u.pc(u.frames[f], tid) == pc, u.at(guard, u.frames[f])),
                                 model_completion=True)):
            candidates.append((tid, pc, signal))
    sel, _ = u.violating_step(f)
    k = model.eval(sel, model_completion=True)
    if z3.is_int_value(k) and 0 <= k.as_long() < len(u.visible):
        o = u.visible[k.as_long()]
        candidates.append((o.tid, o.pc, o.signal))
    for tid, pc, signal in candidates:
        action = _action(system, tid, pc, signal)
        for choice, r in enumerate(system.fire(state, action)):
            if isinstance(r, Violation) and r.prop == prop:
                return Label(tid, action, choice, signal), r.message
    raise InternalError(f"bounded model checking: the model's step breaking {prop} does not replay with the "
                        "explicit semantics")


def _undefined_message(system: TransitionSystem, state: tuple) -> str:
    """What the explicit engine says of a property undefined in a state (verdicts.py words it); an
    InternalError when the evaluator finds every property defined there."""
    final = all(system.quiescent(state, t.tid) for t in system.threads)
    for prop in (*system.invariants, *system.reachables, *(system.finals if final else ())):
        failure = PropertyChecker.failure(prop, evaluate(prop, state))
        if failure is not None and failure[0] == RUNTIME:
            return failure[1]
    raise InternalError("bounded model checking: z3 finds a property undefined in a state where the evaluator "
                        "defines them all")


def _deadlock_message(system: TransitionSystem, state: tuple) -> str:
    """An InternalError unless the explicit test of the deadlock form holds in the replayed state (the report
    explains the waits: checker/analyses/waitfor.py)."""
    if not explicit_form(system, state):
        raise InternalError("bounded model checking: z3 finds a deadlock (a global deadlock or a wait cycle) in a "
                            "state where the explicit semantics finds none")
    return ""


def _state_goal_holds(system: TransitionSystem, goal: _Goal, state: tuple) -> bool:
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


__all__ = ["BmcError", "BmcResult", "bmc", "covered", "longest_settle"]
