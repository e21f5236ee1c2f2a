"""Who waits for whom, described: stuck threads and deadlocks explained, and chains of waits that end at
a thread inside a slow step (synchronize_rcu(), rcu_barrier(), `slow: true`). The wait-for edges
themselves come from model/semantics/waits.py.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import networkx as nx
from netcheck.model.semantics import ir
from netcheck.model.semantics.system import TransitionSystem
from netcheck.model.semantics.waits import LOCK_RELATIONS, MUTEX_WAITS, WaitEdge, blockers, holds

from ..engine.observers import Findings, Observer, replay
from ..engine.result import ExplicitResult, Finding
from .trace import Trace, counterexample

# ---------------------------------------------------------------- describing waits


def _name(system: TransitionSystem, tid: int) -> str:
    return system.threads[tid].name


Names = Callable[[int], str]


def describe(system: TransitionSystem, edge: WaitEdge, previous: WaitEdge | None = None,
             names: Names | None = None) -> str:
    """The wait as words, without the waiter: "waits for net_mutex held by netns_wq"."""
    name = names or (lambda tid: _name(system, tid))
    target = name(edge.target) if edge.target >= 0 else ""
    if edge.relation == "held":
        return f"waits for {edge.lock} held by {target}"
    if edge.relation in ("held_read", "held_write"):
        mode = "read" if edge.relation == "held_read" else "write"
        if previous is not None and previous.lock == edge.lock:
            return f"waits for the {mode} hold of {target}"
        return f"waits for {edge.lock} ({edge.want}) held for {mode} by {target}"
    if edge.relation == "queued_writer":
        return f"waits for {edge.lock} (read) behind queued writer {target}"
    if edge.relation == "queued_ahead":
        return f"waits for {edge.lock} ({edge.want}) behind {target}, queued ahead of it"
    if edge.relation == "work":
        return f"waits in {edge.statement} for {target} to finish work item {edge.lock}"
    if edge.relation == "callback":
        return f"waits in {edge.statement} for {target} to run the RCU callback {edge.lock}()"
    if edge.relation == "rcu_reader":
        kind = f"{edge.lock} SRCU" if edge.lock else "RCU"
        return f"waits in {edge.statement} for the {kind} read-side critical section of {target}"
    return f"waits at `{edge.statement}` ({edge.location}) for a condition no thread makes true"


def sentence(system: TransitionSystem, chain: Sequence[WaitEdge], names: Names | None = None) -> str:
    """A chain of waits as one sentence: "A waits for L held by B, which waits for ..."."""
    if not chain:
        return ""
    name = names or (lambda tid: _name(system, tid))
    parts = [f"{name(chain[0].waiter)} {describe(system, chain[0], None, names)}"]
    for prev, edge in zip(chain, chain[1:]):
        parts.append(f"which {describe(system, edge, prev, names)}")
    return ", ".join(parts)


def thread_line(system: TransitionSystem, s: Sequence, tid: int, edges: Sequence[WaitEdge]) -> str:
    """`T at FILE:LINE: STATEMENT: waits for ...` (the prefix is the documented `stuck` format)."""
    node = system.node_at(s, tid)
    where = f"{system.threads[tid].name} at {node.stmt.span.short}: {node.stmt.text}" \
        if node is not None and node.stmt is not None else system.threads[tid].name
    if not edges:
        return where
    return where + ": " + "; ".join(describe(system, e) for e in edges)


# ---------------------------------------------------------------- deadlocks


@dataclass(frozen=True)
class DeadlockExplanation:
    """Why a stuck state is stuck: the kind, the cycle (or chain) of waits, and every thread's waits."""

    kind: str                          # abba, self, grace_period, condition, orphaned_lock, busy_holder, unknown
    summary: str                       # "self-deadlock: A waits for ..."
    chain: tuple[WaitEdge, ...]        # the cycle (its last edge returns to the first waiter) or chain
    cycle: bool
    threads: tuple[str, ...]           # one line per stuck thread
    stuck: tuple[int, ...] = ()        # the stuck threads

    @property
    def text(self) -> str:
        return self.summary


KIND_TITLES = {"abba": "ABBA lock-order inversion", "self": "self-deadlock",
               "grace_period": "a grace period that can never complete",
               "condition": "a wait on a condition that can never become true",
               "orphaned_lock": "a wait on a lock whose holder has finished",
               "busy_holder": "a wait on a thread that goes on but never lets it through",
               "unknown": "threads that can never step again"}


def wait_graph(system: TransitionSystem, s: Sequence, stuck: int | None = None) -> dict[int, tuple[WaitEdge, ...]]:
    """The waits of the stuck threads (a mask; by default every thread that is not quiescent)."""
    return {t.tid: blockers(system, s, t.tid) for t in system.threads
            if (stuck >> t.tid & 1 if stuck is not None else not system.quiescent(s, t.tid))}


def _cycles(waits: dict[int, tuple[WaitEdge, ...]]) -> list[list[int]]:
    graph = nx.DiGraph()
    for tid, edges in waits.items():
        for e in edges:
            if e.target >= 0:
                graph.add_edge(tid, e.target)
    return [list(c) for c in nx.simple_cycles(graph)]


def _edge(waits: dict[int, tuple[WaitEdge, ...]], a: int, b: int) -> WaitEdge:
    order = {r: i for i, r in enumerate(("held", "held_write", "held_read", "queued_writer", "queued_ahead",
                                          "rcu_reader"))}
    return min((e for e in waits[a] if e.target == b), key=lambda e: (order.get(e.relation, 9), e))


def explain_deadlock(system: TransitionSystem, s: Sequence, stuck: int | None = None) -> DeadlockExplanation:
    """Classify why the stuck threads of a state (a mask; by default every thread that is not quiescent)
    can never step: a cycle of waits (ABBA, self-deadlock, grace period), or a chain ending at a condition
    that can never hold, at a lock whose holder has finished, or at one whose holder runs on without it."""
    waits = wait_graph(system, s, stuck)
    stuck_tids = tuple(sorted(waits))
    lines = tuple(thread_line(system, s, tid, edges) for tid, edges in sorted(waits.items()))
    cycles = _cycles(waits)
    if cycles:
        def self_waiters(c: list[int]) -> list[int]:
            return [t for t in c if holds(system, s, t, _edge(waits, t, c[(c.index(t) + 1) % len(c)]).lock)]

        def rank(c: list[int]) -> tuple:
            i = c.index(min(c))
            return (not self_waiters(c), len(c), sorted(c), c[i:] + c[:i])
        best = min(cycles, key=rank)
        first = (self_waiters(best) or [min(best)])[0]
        i = best.index(first)
        best = best[i:] + best[:i]
        chain = tuple(_edge(waits, a, b) for a, b in zip(best, best[1:] + best[:1]))
        if self_waiters(best):
            kind = "self"
        elif any(e.relation == "rcu_reader" for e in chain):
            kind = "grace_period"
        else:
            kind = "abba"
        return DeadlockExplanation(kind, f"{KIND_TITLES[kind]}: {sentence(system, chain)}", chain, True, lines,
                                   stuck_tids)
    # no cycle: the longest chain of waits explains the most; follow it to where it ends
    chains = []
    for tid in sorted(waits):
        chain_list: list[WaitEdge] = []
        seen = {tid}
        current = tid
        while waits.get(current):   # a wait on another stuck thread explains more than one on a running one
            edge = min(waits[current], key=lambda e: (0 <= e.target and e.target not in waits, e))
            chain_list.append(edge)
            if edge.target < 0 or edge.target in seen:
                break
            seen.add(edge.target)
            current = edge.target
        if chain_list:
            chains.append(chain_list)
    if not chains:
        return DeadlockExplanation("unknown", KIND_TITLES["unknown"], (), False, lines, stuck_tids)
    chain_list = max(chains, key=len)   # max() keeps the first (lowest thread) of equally long chains
    last = chain_list[-1]
    if any(e.relation == "rcu_reader" for e in chain_list):
        kind = "grace_period"
    elif last.relation == "condition":
        kind = "condition"
    elif last.target >= 0 and system.node_at(s, last.target) is None:
        kind = "orphaned_lock"
    elif last.target >= 0 and last.target not in waits and last.relation in LOCK_RELATIONS:
        kind = "busy_holder"
    else:
        kind = "unknown"
    text = sentence(system, chain_list)
    if kind == "orphaned_lock":
        text += ", which has finished without releasing it"
    elif kind == "busy_holder":
        text += ", which is not stuck itself but never lets it through"
    return DeadlockExplanation(kind, f"{KIND_TITLES[kind]}: {text}", tuple(chain_list), False, lines, stuck_tids)


LOOKAHEAD_EXPLAINED = 200   # states explained at most while looking for how a running holder ends up


def explain_stuck(exp: ExplicitResult, sid: int) -> DeadlockExplanation:
    """Why the stuck threads of explored state `sid` can never step. When a chain ends at a holder that
    still runs, it says how that holder ends up: the nearest state reached from there in which the holder
    is stuck on a cycle of waits (as lockdep would show it), or else the nearest in which it is stuck."""
    system = exp.system
    explanation = explain_deadlock(system, exp.store.states[sid], exp.stuck.get(sid))
    if explanation.kind != "busy_holder":
        return explanation
    holder = explanation.chain[-1].target
    best: DeadlockExplanation | None = None
    for count, later in enumerate(_stuck_after(exp, sid, holder)):
        end = explain_deadlock(system, exp.store.states[later], exp.stuck[later])
        if best is None or _telling(end) > _telling(best):
            best = end
        if end.cycle or count >= LOOKAHEAD_EXPLAINED:
            break
    if best is None:
        return explanation
    return replace(explanation, summary=f"{explanation.summary}; where that leads: {best.summary}")


def _telling(explanation: DeadlockExplanation) -> int:
    """How much an explanation tells: a cycle, then a chain that ends somewhere, then one ending at a
    holder that runs on."""
    return 2 if explanation.cycle else 0 if explanation.kind in ("busy_holder", "unknown") else 1


def _stuck_after(exp: ExplicitResult, sid: int, tid: int) -> Iterator[int]:
    """The states reachable from `sid` where thread `tid` is stuck, nearest first (then by id)."""
    dst, expanded = exp.store.edges_dst, exp.store.expanded
    seen = {sid}
    level = [sid]
    while level:
        yield from sorted(s for s in level if exp.stuck.get(s, 0) >> tid & 1)
        following = []
        for s in level:
            for e in exp.store.edge_range(s) if s < expanded else ():
                if dst[e] not in seen:
                    seen.add(dst[e])
                    following.append(dst[e])
        level = following


# ---------------------------------------------------------------- chains to slow steps


@dataclass(frozen=True)
class SlowWitness:
    """A state where `waiter` is blocked on a lock and its waits lead to a thread inside a slow step."""

    waiter: str
    chain: tuple[WaitEdge, ...]     # from the waiter to the thread in the slow step
    slow_thread: str
    slow_location: str              # the slow statement, file:line
    slow_statement: str
    slow_function: str
    state: int                      # state id (BFS order: the trace to it is a shortest one)
    text: str                       # the chain as one sentence
    shape: str                      # the chain with thread declarations instead of instances
    trace: Trace

    @property
    def through_queued_writer(self) -> bool:
        return any(e.relation == "queued_writer" for e in self.chain)


def _blocked_pcs(system: TransitionSystem, tids: Sequence[int]) -> list[tuple[int, int, dict]]:
    """(tid, pc slot, {pc: node}) where a thread can be blocked on a lock."""
    out = []
    for tid in tids:
        t = system.threads[tid]
        nodes = {pc: n for pc, n in enumerate(t.nodes)
                 if (isinstance(n, ir.LockCall) and n.op in MUTEX_WAITS) or isinstance(n, ir.LockWait)}
        out.append((tid, t.pcslot, nodes))
    return out


def slow_chain_at(system: TransitionSystem, s: Sequence, tid: int) -> tuple[WaitEdge, ...] | None:
    """The shortest chain of lock waits from `tid` to a thread inside a slow step, or None."""
    first = blockers(system, s, tid, conditions=False)
    if not first:
        return None
    parent: dict[int, WaitEdge | None] = {tid: None}
    queue = deque([tid])
    while queue:
        current = queue.popleft()
        edges = first if current == tid else blockers(system, s, current, conditions=False)
        for edge in sorted(edges):
            if edge.relation not in LOCK_RELATIONS or edge.target in parent:
                continue
            parent[edge.target] = edge
            if system.in_slow_step(s, edge.target):
                chain = [edge]
                while (back := parent[chain[-1].waiter]) is not None:
                    chain.append(back)
                return tuple(reversed(chain))
            queue.append(edge.target)
    return None


def _slow_place(system: TransitionSystem, s: Sequence, tid: int) -> tuple[str, str]:
    """(`synchronize_rcu() in cleanup_net()`, file:line) for a thread inside a slow step."""
    node = system.node_at(s, tid)
    assert node is not None and node.stmt is not None
    return f"{node.stmt.text} in {node.frame[-1] if node.frame else ''}()", node.stmt.span.short


def _shape(system: TransitionSystem, chain: Sequence[WaitEdge], where: str) -> str:
    """The chain in words with thread declarations for instances: what stays the same across bounds."""
    decl = {t.tid: t.decl for t in system.threads}
    return f"{sentence(system, chain, lambda tid: decl[tid])}, which is in {where}"


def _witness(exp: ExplicitResult, sid: int, tid: int, chain: tuple[WaitEdge, ...]) -> SlowWitness:
    system = exp.system
    s = exp.store.states[sid]
    slow = chain[-1].target
    node = system.node_at(s, slow)
    assert node is not None and node.stmt is not None
    where, location = _slow_place(system, s, slow)
    text = f"{sentence(system, chain)}, which is in {where} ({location})"
    trace = counterexample(exp, Finding("slow_chain", sid))
    return SlowWitness(system.threads[tid].name, chain, system.threads[slow].name, location, node.stmt.text,
                       node.frame[-1] if node.frame else "", sid, text, _shape(system, chain, where), trace)


class SlowWaits(Observer):
    """Watches, during the search (or over a finished result's store), for states where a `waiter_decl`
    thread is blocked on a lock whose waits lead to a thread inside a slow step: the first state of each
    chain shape (only the very first with `first_only`). Observation `slow:<decl>` or `slow:<decl>:all`.
    `question`: the waits_on_slow property asked, which the first such state then answers as a witness
    (so that a search told to stop once it is reached, --stop-on, stops there)."""

    def __init__(self, system: TransitionSystem, waiter_decl: str, first_only: bool, question: str = ""):
        self.system, self.first_only, self.question = system, first_only, question
        self.findings: Findings | None = None
        self.name = f"slow:{waiter_decl}" + ("" if first_only else ":all")
        tids = [t.tid for t in system.threads if t.decl == waiter_decl]
        if not tids and not any(t.name == waiter_decl for t in system.spec.threads):
            raise ValueError(f"no thread declaration '{waiter_decl}'")
        # declared, but with no instance at these bounds: nobody can wait
        self.watched = _blocked_pcs(system, tids) if tids else []
        self.found: dict[str, tuple[int, int, tuple[WaitEdge, ...]]] = {}

    def start(self, result: ExplicitResult, findings: Findings) -> None:
        self.findings = findings

    def on_state(self, sid: int, s: tuple) -> None:
        if self.first_only and self.found:
            return
        system = self.system
        for tid, pcslot, nodes in self.watched:
            if s[pcslot] not in nodes:
                continue
            chain = slow_chain_at(system, s, tid)
            if chain is None:
                continue
            shape = _shape(system, chain, _slow_place(system, s, chain[-1].target)[0])
            if shape not in self.found:
                if not self.found and self.question and self.findings is not None:
                    self.findings.witness(Finding(self.question, sid, tid))
                self.found[shape] = (sid, tid, chain)
                if self.first_only:
                    return

    def part(self) -> object:
        return self.found

    def merge(self, parts: Sequence[object], states: int, expanded: int) -> None:
        """The first state of each chain shape over all workers (with `first_only`, the very first)."""
        found: dict[str, tuple[int, int, tuple[WaitEdge, ...]]] = {}
        for part in parts:
            assert isinstance(part, dict)
            for shape, seen in part.items():
                if seen[0] < states and (shape not in found or seen[0] < found[shape][0]):
                    found[shape] = seen
        if self.first_only and found:
            shape = min(found, key=lambda s: found[s][0])
            found = {shape: found[shape]}
        self.found = found

    def finish(self, result: ExplicitResult) -> None:
        witnesses = [_witness(result, sid, tid, chain) for sid, tid, chain in self.found.values()]
        result.observations[self.name] = tuple(sorted(witnesses, key=lambda w: (w.state, w.shape)))


def _scan(exp: ExplicitResult, waiter_decl: str, first_only: bool) -> tuple[SlowWitness, ...]:
    """The witnesses observed during the search when the caller asked for them, else found in the store now."""
    observer = SlowWaits(exp.system, waiter_decl, first_only)
    if observer.name not in exp.observations:
        replay(exp, observer)
    witnesses = exp.observations[observer.name]
    assert isinstance(witnesses, tuple)
    return witnesses


def slow_chains(exp: ExplicitResult, waiter_decl: str) -> SlowWitness | None:
    """The shortest trace (BFS order) to a state where a `waiter_decl` thread is blocked on a lock and
    its waits lead, through lock holders and queued writers, to a thread inside a slow step; or None."""
    found = _scan(exp, waiter_decl, first_only=True)
    return found[0] if found else None


def slow_witnesses(exp: ExplicitResult, waiter_decl: str) -> tuple[SlowWitness, ...]:
    """One shortest witness per distinct chain shape (locks, relations, thread declarations, slow step)."""
    return _scan(exp, waiter_decl, first_only=False)
