"""Deadlock freedom as a bad-state predicate for the symbolic engines (bmc.py, kinduction.py, pdr.py).

The explicit search decides `deadlock_free` on the whole state graph: a thread is stuck in a state when it
has not finished, is not an idle daemon, and no path of non-signal steps leads to a state where it can step
(engine/stuck.py). That is not a condition on one state. What the symbolic engines decide instead is the
state-local form below, over relation.py's enabledness; every state it holds in has a stuck thread, so a
state the engines find is a deadlock the explicit search reports too:

- **global deadlock**: no thread has a non-signal step enabled (a violating step counts as enabled), and
  some thread is blocked (neither finished nor an idle daemon);
- **wait cycle** (the explicit search's `WaitCycles`, engine/explore.py, extended to finished holders):
  blocked threads in a cycle of necessary waits (a mutex or spinlock acquire waits for the owner; an rwsem
  waiter in the queue for the writer holding it, for the writers queued ahead of it and, a writer, for the
  readers holding it and everyone queued ahead; synchronize_rcu()
  for the readers its grace period waits for), or waiting, directly or along such waits, for a lock held
  by a thread that has finished. Each wait needs its target to step, so none of them ever steps again;

in a state where no step breaks a property (the explicit search counts a violating state's threads as free:
what follows a violation is unknown). "Some thread waits forever" in a livelock (a thread at an `await`
whose condition the others, running forever, never make true) is not of this form, and is decided only by
the explicit search. When every run is finite (no daemon, no loop in any thread's program: `why_partial`
is ''), the form is the whole property: from a state with a stuck thread, running the others on reaches a
state where nothing can step, a global deadlock.

The predicate is quantifier-free over one frame (the cycle test is the explicit test's peeling, unrolled
once per thread), so k-induction may assume its negation. `explicit_form` is the same test on a state
tuple: a decoded counterexample must pass it, or the disagreement is an internal error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import networkx as nx
import z3
from netcheck.model.lang.lockapi import LOCK_API, mutex_wait_modes
from netcheck.model.semantics import ir, smtlist
from netcheck.model.semantics.discipline import successors
from netcheck.model.semantics.locks import READ_BITS
from netcheck.model.semantics.relation import Relation
from netcheck.model.semantics.runtime import Violation
from netcheck.model.semantics.system import Thread, TransitionSystem

from .explore import wait_cycle

MUTEX_WAITS = mutex_wait_modes()


class DeadlockForm:
    """The global-deadlock-or-wait-cycle predicate of a relation's system, as a function of a frame (`at`
    reads a term over the relation's state-before constants in a frame: bmc.py's `Unrolling.at`)."""

    def __init__(self, rel: Relation, at: Callable[[z3.ExprRef, list[z3.ExprRef]], z3.ExprRef]):
        self.rel, self.at = rel, at
        system = self.system = rel.system
        self.threads = len(system.threads)
        # per thread: [(pc, no non-signal step enabled there, an idle daemon there)] at its visible nodes
        self.stops = [thread_stops(rel, t) for t in system.threads]
        violations = [z3.And(rel.pre.slot(t.pcslot) == pc, c.guard)
                      for t in system.threads for pc, step in enumerate(t.steps) if step is not None
                      for signal in (False, True) for c in rel.cases(t.tid, pc, signal) if c.violation]
        # a step from the state breaks a property (a visible micro-step's violation)
        self.violating = z3.Or(*violations) if violations else z3.BoolVal(False)
        self.edges = {(i, j): self._edge(i, j) for i in range(self.threads) for j in range(self.threads) if i != j}
        self.sinks = [not system.contexts[t.tid].in_irq for t in system.threads]
        self.why_partial = why_partial(system)
        self._term = self._build()

    # -- over the relation's state-before constants

    def _pc(self, tid: int) -> z3.ArithRef:
        return self.rel.pre.slot(self.system.threads[tid].pcslot)

    def _edge(self, i: int, j: int) -> z3.BoolRef:
        """Thread i stands at a wait that needs thread j to release a lock or leave a read-side section."""
        system, rel, pc = self.system, self.rel, self._pc(i)
        slot = rel.pre.slot
        parts: list[z3.BoolRef] = []
        for p, node in enumerate(system.threads[i].nodes):
            if system.threads[i].steps[p] is None:
                continue
            if isinstance(node, ir.LockCall) and node.op in MUTEX_WAITS:
                ok, instances = rel.lock_instances_at(i, p)
                parts.append(z3.And(pc == p, ok, z3.Or(*[z3.And(named, slot(b) == j) for b, named in instances])))
            elif isinstance(node, ir.LockWait):
                _, instances = rel.lock_instances_at(i, p)
                writer = LOCK_API[node.op].mode == "write"
                entry = z3.IntVal(2 * i + writer)
                holds = []
                for b, _ in instances:
                    queue = slot(b + 2)
                    # FIFO: a reader waits for the writers queued ahead of it, a writer for everyone ahead
                    ahead = [z3.IntVal(2 * j + 1)] + ([z3.IntVal(2 * j)] if writer else [])
                    holds.append(z3.And(smtlist.contains(queue, entry), z3.Or(
                        slot(b) == j, *([_reads(slot(b + 1), j)] if writer else []),
                        *[z3.And(smtlist.contains(queue, e), smtlist.index(queue, e) < smtlist.index(queue, entry))
                          for e in ahead])))
                parts.append(z3.And(pc == p, z3.Or(*holds)))
            elif isinstance(node, ir.GraceWait) and node.op in ("synchronize_rcu", "synchronize_srcu"):
                pending = system.layout.domain(node.domain)[1]
                if pending:
                    parts.append(z3.And(pc == p, (slot(pending[i]) / (1 << j)) % 2 == 1))
        return z3.Or(*parts) if parts else z3.BoolVal(False)

    def _build(self) -> z3.BoolRef:
        finished = [self._pc(t.tid) == t.finished for t in self.system.threads]
        blocked = [z3.Or(*[z3.And(self._pc(t) == p, off) for p, off, idle in stops if not idle])
                   for t, stops in enumerate(self.stops)]
        quiet = [z3.Or(finished[t], *[z3.And(self._pc(t) == p, off) for p, off, _ in stops])
                 for t, stops in enumerate(self.stops)]
        stalled = z3.And(z3.And(*quiet), z3.Or(*blocked))
        # the wait cycle: peel off, once per thread, the blocked threads none of whose waits leads to a
        # blocked thread still in, or to a finished holder (which never releases)
        alive = list(blocked)
        for _ in range(self.threads):
            alive = [z3.And(alive[i], z3.Or(*[z3.And(z3.Or(alive[j], finished[j]) if self.sinks[j] else alive[j],
                                                     self.edges[(i, j)])
                                              for j in range(self.threads) if j != i]))
                     for i in range(self.threads)]
        cycle = z3.Or(*alive) if alive else z3.BoolVal(False)
        return z3.simplify(z3.And(z3.Or(stalled, cycle), z3.Not(self.violating)))

    def bad(self, s: Sequence[z3.ExprRef]) -> z3.BoolRef:
        """A global deadlock or a wait cycle in frame s."""
        return self.at(self._term, list(s))


def thread_stops(rel: Relation, t: Thread) -> list[tuple[int, z3.BoolRef, bool]]:
    """Where a thread may stop: at each of its visible nodes (pc), when no non-signal step is enabled there
    (a violating one counts as enabled), and whether it is an idle daemon's node."""
    stops = []
    for pc, step in enumerate(t.steps):
        if step is None:
            continue
        cases = rel.cases(t.tid, pc, False)
        stops.append((pc, z3.Not(z3.Or(*[c.guard for c in cases])) if cases else z3.BoolVal(True),
                      t.daemon and step.idle))
    return stops


def blocked_term(rel: Relation, t: Thread) -> z3.BoolRef:
    """Thread t is blocked (explicit semantics: `expand`'s mask): at a visible node with no non-signal step
    enabled, and not an idle daemon there; over the relation's state-before constants."""
    pc = rel.pre.slot(t.pcslot)
    return z3.Or(*[z3.And(pc == p, off) for p, off, idle in thread_stops(rel, t) if not idle])


def _reads(readers: z3.ArithRef, tid: int) -> z3.BoolRef:
    return (readers / (1 << (READ_BITS * tid))) % (1 << READ_BITS) != 0


def why_partial(system: TransitionSystem, finite: Callable[[Thread], str] | None = None) -> str:
    """'' when every run of the system is finite, so that the form is all of deadlock freedom; otherwise what
    keeps it from being. Without `finite`: when no thread is a daemon and no thread's program has a cycle.
    With it (symbolic.py `Symbolic.finite`): when it says '' of every thread, each thread taking finitely
    many steps on every run in which the threads that are no daemons do (they all do, then)."""
    if finite is None:
        daemon = next((t for t in system.threads if t.daemon), None)
        if daemon is not None:
            return f"a daemon thread runs forever ({daemon.name})"
        looping = next((t for t in system.threads if has_cycle(t.nodes)), None)
        return f"thread {looping.name} has a loop" if looping is not None else ""
    for t in system.threads:
        why = finite(t)
        if why:
            return f"{'a daemon thread' if t.daemon else 'thread'} {t.name} may run forever: {why}"
    return ""


def program_graph(nodes: Sequence[ir.Node], cut: frozenset[int] = frozenset()) -> nx.DiGraph:
    """A thread's program as a graph of its program points (the end of the thread is none), without those in
    `cut`."""
    graph = nx.DiGraph()
    graph.add_nodes_from(pc for pc in range(len(nodes)) if pc not in cut)
    graph.add_edges_from((pc, q) for pc in list(graph) for q in successors(nodes[pc]) if q in graph)
    return graph


def has_cycle(nodes: Sequence[ir.Node], cut: frozenset[int] = frozenset()) -> bool:
    """Whether the program has a cycle that passes none of the program points in `cut`."""
    return not nx.is_directed_acyclic_graph(program_graph(nodes, cut))


def explicit_form(system: TransitionSystem, state: tuple) -> int:
    """The threads the form finds stuck in a state tuple, as a mask (0: the form does not hold there): the
    same test as `DeadlockForm`, with every wait edge waits.py knows."""
    with system.uncounted():   # no run counts of coverage
        transitions, blocked = system.expand(state)
    return expanded_form(system, state, transitions, blocked)


def expanded_form(system: TransitionSystem, state: tuple, transitions: Sequence[tuple], blocked: int) -> int:
    """`explicit_form` of a state already expanded (its transitions and blocked mask, as `expand` gives them):
    for a search that tests each state it expands (engine/hunt.py)."""
    if not blocked or any(isinstance(t[4], Violation) for t in transitions):
        return 0
    if not any(not t[3] for t in transitions):
        return blocked
    finished = frozenset(t.tid for t in system.threads
                         if state[t.pcslot] == t.finished and not system.contexts[t.tid].in_irq)
    return wait_cycle(system, state, blocked, finished)


__all__ = ["DeadlockForm", "blocked_term", "explicit_form", "expanded_form", "has_cycle", "program_graph",
           "thread_stops", "why_partial"]
