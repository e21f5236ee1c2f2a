"""Liveness properties on the explored graph, under weak or strong fairness per thread (fairgraph.py):

- `eventually: P`: every fair run reaches a state where P holds;
- `leads_to: {from: P, to: Q}`: every fair run through a P state reaches a Q state then or later;
- `progress: THREAD`: every wait of an instance at a lock ends (it gets the lock, or a fatal signal ends
  a killable wait) on every fair run;
- `returns_when_killed: THREAD`: a fatal signal gets an instance out of every wait: a killable wait ends
  at once; any other lock wait must end on every fair run, and while an instance sits in one, the
  threads it waits for (lock holders, queued writers ahead, and whom those wait for) may complete at most
  `within:` slow steps (a killed task that waits through grace periods is the 20-second `unshare -n` hang
  of the seed, unkillable).

Each is the same question about a part of the graph (the states where the goal is not reached yet, or
where an instance waits, keyed by its program point): can a run from one of the starting states stay in
it forever, fairly? A violation is a lasso: a shortest path to the starting state, the way into the fair
part, and a fair cycle round it (empty when the run ends in a state where nothing can step).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from netcheck.model.lang.lockapi import LOCK_API
from netcheck.model.semantics import ir
from netcheck.model.semantics.system import StateProperty, TransitionSystem
from netcheck.model.semantics.waits import waited_for

from ..engine.paths import path_to
from ..engine.result import ExplicitResult, Finding, Path
from ..engine.verdicts import PropertyChecker
from .fairgraph import Core, FairGraph, Fairness, Key, can_reach, components, cores, fair_cycle, walk
from .latency import completes_slow_step


@dataclass(frozen=True)
class Lasso:
    """A run that never gets there: `path` from an initial state, whose steps from `cycle_start` on lead
    back to the state before step `cycle_start` and repeat forever (`cycle_start == len(path.labels)`: it
    stays in its last state, where nothing can step; -1: a finite run, the witness of a count);
    `awaiting` is the step from which it waits."""

    path: Path
    cycle_start: int
    awaiting: int = 0
    fair: bool = True   # False: a cycle a run can go round as often as it likes, though not forever fairly


@dataclass(frozen=True)
class LivenessAnswer:
    """One liveness property: holds (True), violated (False, with a lasso) or unknown (None)."""

    holds: bool | None
    message: str = ""
    lasso: Lasso | None = None
    checked: int = 0     # the states where the goal was awaited (a thread waited)


def check(exp: ExplicitResult, name: str) -> LivenessAnswer:
    """The answer for the spec's liveness property `name`."""
    system = exp.system
    decl = next(p for p in system.spec.properties if p.name == name)
    fairness = Fairness(decl.fairness or system.spec.options.fairness)
    if decl.kind in ("eventually", "leads_to"):
        source, goal = system.goals[name]
        return _goal(exp, name, source, goal, fairness)
    killed = decl.kind == "returns_when_killed"
    answer = LivenessAnswer(True)
    for t in (t for t in system.threads if t.decl == decl.target):
        found = _waits(exp, name, t.tid, fairness, killed, decl.within)
        answer = LivenessAnswer(answer.holds, answer.message, answer.lasso, answer.checked + found.checked) \
            if found.holds else found
        if found.holds is False:
            break
    return _complete(exp, answer)


def _complete(exp: ExplicitResult, answer: LivenessAnswer) -> LivenessAnswer:
    """A violation stands on a partial graph (its states were expanded); a pass does not."""
    if answer.holds and not exp.complete:
        return LivenessAnswer(None, f"exploration stopped: {exp.stop_reason}", checked=answer.checked)
    return answer


def _goal(exp: ExplicitResult, name: str, source: StateProperty | None, goal: StateProperty,
          fairness: Fairness) -> LivenessAnswer:
    """eventually (no source: the runs from the initial states) and leads_to."""
    g = FairGraph.of(exp)
    checker = PropertyChecker(exp.system)
    states = exp.store.states
    inside = bytearray(g.n)
    starts: list[int] = []
    for s in range(g.expanded):
        reached = _judge(checker, goal, states[s])
        if isinstance(reached, str):
            return LivenessAnswer(None, reached)
        if reached:
            continue
        inside[s] = 1
        if source is None:
            if exp.store.depth[s] == 0:
                starts.append(s)
            continue
        begins = _judge(checker, source, states[s])
        if isinstance(begins, str):
            return LivenessAnswer(None, begins)
        if begins:
            starts.append(s)
    if source is not None:   # a from: state where the goal holds already is fine; count the others too
        checked = len(starts)
    else:
        checked = sum(inside)
    found = escape(exp, g, name, inside, None, starts, fairness)
    if found is None:
        return _complete(exp, LivenessAnswer(True, checked=checked))
    lasso, terminal = found
    goal_text = goal.decl.target_text or goal.decl.text
    step = f"after step {lasso.awaiting}" if lasso.awaiting else "in the initial state"
    since = f"{step}, where {source.decl.source_text} holds, " if source is not None else ""
    how = ("it ends in a state where nothing can step" if terminal else "it goes round the marked cycle forever")
    return LivenessAnswer(False, f"{since}{goal_text} never holds on this {fairness}ly fair run: {how}", lasso,
                          checked)


def _judge(checker: PropertyChecker, prop: StateProperty, state: tuple) -> bool | str:
    """The condition in a state, or why it cannot be evaluated there."""
    verdict = checker.verdict(prop, state)
    if verdict.error:
        return f"{prop.decl.name}: cannot be evaluated in a reachable state ({verdict.error}), so it is not judged"
    return verdict.holds


def escape(exp: ExplicitResult, g: FairGraph, name: str, inside: bytearray, key: Key, starts: Sequence[int],
            fairness: Fairness) -> tuple[Lasso, bool] | None:
    """A lasso from the shallowest start that can stay `inside` forever on a fair run, and whether it
    ends in a terminal state; None when no start can."""
    found = cores(g, inside, key, fairness)
    if not found:
        return None
    core_of: dict[int, Core] = {}
    for core in found:
        for s in core.states:
            core_of.setdefault(s, core)
    bad = can_reach(g, core_of, inside, key)
    start = min((s for s in starts if bad[s]), default=None)
    if start is None:
        return None
    src = g.sources()

    def along(e: int, w: int) -> bool:
        return bool(inside[w]) and (key is None or key[w] == key[src[e]])
    leg = [] if start in core_of else walk(g, start, along, lambda e, w: w in core_of and along(e, w))
    assert leg is not None, "a state that can reach a fair core has a path to one"
    entry = g.dst[leg[-1]] if leg else start
    core = core_of[entry]
    cycle = fair_cycle(g, core, entry, fairness, exp.system.thread_count)
    stem = path_to(exp, Finding(name, start))
    return Lasso(_extend(g, stem, leg + cycle), len(stem.labels) + len(leg), len(stem.labels)), core.terminal


def _extend(g: FairGraph, path: Path, edges: Sequence[int]) -> Path:
    """`path` followed by the edges (indices of `g`)."""
    store = g.exp.store
    states = path.states + tuple(store.states[g.dst[e]] for e in edges)
    ids = path.ids + tuple(g.dst[e] for e in edges) if path.ids else ()
    return Path(states, path.labels + tuple(g.label(e) for e in edges), None, ids, False)


def wait_positions(system: TransitionSystem, tid: int, killable: bool = True) -> frozenset[int]:
    """The program points where a thread can wait for a lock: an acquire that waits, or an rwsem queue;
    `killable` False leaves out the waits a fatal signal can end."""
    signals = system.spec.options.fatal_signals
    out = set()
    for pc, node in enumerate(system.threads[tid].nodes):
        if isinstance(node, (ir.LockCall, ir.LockWait)) and node.op in LOCK_API:
            info = LOCK_API[node.op]
            if (isinstance(node, ir.LockWait) or info.waits) and (killable or not (info.killable and signals)):
                out.add(pc)
    return frozenset(out)


def wait_text(system: TransitionSystem, state: tuple, tid: int) -> str:
    """`mutex_lock(net_mutex) (spec.yaml:40, in copy_net_ns())`: the wait a thread stands at."""
    node = system.node_at(state, tid)
    if node is None or node.stmt is None:
        return "a lock"
    where = f", in {node.frame[-1]}()" if node.frame else ""
    return f"{node.stmt.text} ({node.stmt.span.short}{where})"


def killed_at(exp: ExplicitResult, name: str, positions: dict[int, frozenset[int]],
              fairness: Fairness = Fairness.WEAK) -> LivenessAnswer:
    """returns_when_killed with `within: 0` at the given program points only (per thread id): the answer
    `netcheck mutate` gives a wait its mutant made unkillable, which the spec wrote killable."""
    answer = LivenessAnswer(True)
    for tid, pcs in sorted(positions.items()):
        found = _waits(exp, name, tid, fairness, True, 0, pcs)
        if found.holds is False:
            return found
    return _complete(exp, answer)


def _waits(exp: ExplicitResult, name: str, tid: int, fairness: Fairness, killed: bool,
           within: int, positions: frozenset[int] | None = None) -> LivenessAnswer:
    """progress (every lock wait of thread `tid`) or returns_when_killed (its waits a fatal signal cannot
    end, or the given `positions`) for one instance."""
    system, g = exp.system, FairGraph.of(exp)
    thread = system.threads[tid]
    if positions is None:
        positions = wait_positions(system, tid, killable=not killed)
    states, pcslot = exp.store.states, thread.pcslot
    key = [s[pcslot] for s in states]
    inside = bytearray(g.n)
    for s in range(g.expanded):
        if key[s] in positions:
            inside[s] = 1
    blocked, bit = exp.blocked_masks(), 1 << tid
    starts = [s for s in range(g.expanded) if inside[s] and blocked[s] & bit]
    found = escape(exp, g, name, inside, key, starts, fairness)
    who = thread.name
    if found is not None:
        lasso, terminal = found
        wait = wait_text(system, lasso.path.states[lasso.awaiting], tid)
        lead = f"a killed {who} cannot leave {wait}: the wait is not killable, and" if killed else \
            f"{who} can wait at {wait} forever:"
        how = ("nothing can step any more" if terminal else
               f"on this {fairness}ly fair run round the marked cycle it never gets the lock")
        return LivenessAnswer(False, f"{lead} {how}", lasso, len(starts))
    if killed:
        most = slow_steps(exp, g, name, tid, inside, key, starts)
        if most is not None and (most[0] is None or most[0] > within):
            count, lasso, steps = most
            wait = wait_text(system, lasso.path.states[lasso.awaiting], tid)
            amount = "unboundedly many slow steps" if count is None else \
                f"{count} slow step{'' if count == 1 else 's'}"
            listed = "; ".join(dict.fromkeys(steps))
            return LivenessAnswer(False, f"a killed {who} stays in {wait}, which is not killable, while the "
                                         f"threads it waits for complete {amount} ({listed}); within: {within} "
                                         f"allows {within}", lasso, len(starts))
    return LivenessAnswer(True, checked=len(starts))


def slow_steps(exp: ExplicitResult, g: FairGraph, name: str, tid: int, inside: bytearray, key: Key,
                starts: Sequence[int]) -> tuple[int | None, Lasso, list[str]] | None:
    """The most slow steps the threads that thread `tid` waits for complete while it is blocked at one of
    its waits (None: unboundedly many, on a cycle), with a run that shows it; None when none can."""
    system, store = exp.system, exp.store
    states, blocked, bit = store.states, exp.blocked_masks(), 1 << tid
    src = g.sources()

    def weight(e: int) -> int:
        u, w = src[e], g.dst[e]
        mover = g.tid[e]
        return int(mover != tid and bool(blocked[u] & bit)
                   and completes_slow_step(system, states[u], states[w], mover)
                   and mover in waited_for(system, states[u], tid))
    comps = components(g, starts, inside, key)
    comp_of = {s: i for i, comp in enumerate(comps) for s in comp}
    best = [0] * len(comps)
    via: list[int] = [-1] * len(comps)
    for i, comp in enumerate(comps):   # reverse topological: successors first
        for s in comp:
            for e in g.out(s):
                w = g.dst[e]
                j = comp_of.get(w)
                if j is None or (key is not None and key[w] != key[s]):
                    continue
                if j == i:
                    if weight(e):   # a cycle through a completion: unboundedly many
                        back = walk(g, w, _within(comp_of, i), _at(s)) or []
                        stem = path_to(exp, Finding(name, s))
                        cycle = [e] if w == s else [e, *back]
                        lasso = Lasso(_extend(g, stem, cycle), len(stem.labels), len(stem.labels), fair=False)
                        return None, lasso, _named_steps(exp, g, cycle, weight)
                    continue
                total = weight(e) + best[j]
                if total > best[i]:
                    best[i], via[i] = total, e
    heaviest = max((comp_of[s] for s in starts if s in comp_of), key=lambda i: best[i], default=None)
    if heaviest is None or best[heaviest] == 0:
        return None
    start = min(s for s in comps[heaviest] if s in set(starts))
    edges: list[int] = []
    at, i = start, heaviest
    while via[i] >= 0:
        e = via[i]
        u = src[e]
        if u != at:
            edges += walk(g, at, _within(comp_of, i), _at(u)) or []
        edges.append(e)
        at, i = g.dst[e], comp_of[g.dst[e]]
    stem = path_to(exp, Finding(name, start))
    lasso = Lasso(_extend(g, stem, edges), -1, len(stem.labels))
    return best[heaviest], lasso, _named_steps(exp, g, edges, weight)


def _within(comp_of: dict[int, int], i: int) -> Callable[[int, int], bool]:
    """Edges into component `i`."""
    return lambda e, w: comp_of.get(w) == i


def _at(target: int) -> Callable[[int, int], bool]:
    """Edges into `target`."""
    return lambda e, w: w == target


def _named_steps(exp: ExplicitResult, g: FairGraph, edges: Sequence[int], weight: Callable[[int], int]) -> list[str]:
    """The slow steps completed on the weighted edges, as `synchronize_rcu() in cleanup_net()`."""
    out = []
    src = g.sources()
    for e in edges:
        if weight(e):
            node = exp.system.node_at(exp.store.states[src[e]], g.tid[e])
            where = f" in {node.frame[-1]}()" if node is not None and node.frame else ""
            out.append(f"{node.stmt.text if node is not None and node.stmt else 'a slow step'}{where}")
    return out
