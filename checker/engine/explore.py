"""Exploring a compiled spec: the breadth-first engine with netcheck's observers, then the stuck threads
decided on the whole graph, and the run counts coverage reads.

`explore` is what every command runs; an analysis that wants to watch the search passes its own
observers (lock-order dependencies, waits behind slow steps) so that it needs no second pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from netcheck.model.semantics.memo import remember
from netcheck.model.semantics.runtime import Violation
from netcheck.model.semantics.system import TransitionSystem
from netcheck.model.semantics.waits import blockers

from .bfs import DEADLOCK, search
from .limits import Limits, Progress, peak_rss_mb
from .observers import Findings, Observer, ObserverFactory
from .result import ExplicitResult, Finding
from .store import Canonical, FingerprintStore, StateStore, StoreKind
from .stuck import stuck_masks
from .verdicts import InternalError, PropertyObserver


def explore(system: TransitionSystem, limits: Limits | None = None, progress: Progress | None = None,
            measure_memory: bool = True, observers: Sequence[Observer] | ObserverFactory = (),
            store: StoreKind = StoreKind.FULL, workers: int = 0, memo: bool = True) -> ExplicitResult:
    """Breadth-first search over all interleavings of a compiled spec: invariants and questions on new
    states, finals at final states, and afterwards which threads are stuck where. `store`: every state
    packed whole, or only its fingerprint (engine/store.py). `observers`: the analyses' own, or what
    makes them for a system. `workers`: search on that many Ray workers (engine/partition.py, inside
    engine/cluster.py's `cluster`), with the same result; `observers` must then be a (picklable) factory.
    `memo`: the steps fired through the step memo (model/semantics/memo.py; one is attached unless the
    system has one), else on every state (any memo detached): the same result."""
    limits = limits or Limits()
    if not memo:
        system.memo = None
    elif system.memo is None:
        remember(system)
    check_deadlock = system.spec.options.deadlock
    system.restart_counts()
    if workers:
        from .partition import PartitionedStore
        from .partition import search as partitioned
        if observers and not callable(observers):
            raise TypeError("a partitioned search takes its observers as a factory, which each worker runs")
        result = ExplicitResult(system, store=PartitionedStore(system.thread_count, _replay_step(system), store,
                                                               len(system.actions)))
        everything = partial(search_observers, limits=limits, extra=observers or None)   # type: ignore[arg-type]
        partitioned(system, result, limits, workers, everything, progress, check_deadlock)
    else:
        made = observers(system) if callable(observers) else observers
        result = ExplicitResult(system, store=new_store(system, store))
        search(system, result, limits, [*search_observers(system, limits), *made], progress, check_deadlock,
               measure_memory=False)
    result.executions = system.executions()
    _stuck(system, result, check_deadlock)
    if measure_memory:
        result.peak_memory_mb = peak_rss_mb() + sum(result.worker_memory_mb)
    return result


def search_observers(system: TransitionSystem, limits: Limits,
                     extra: ObserverFactory | None = None) -> list[Observer]:
    """What every explicit search of a compiled spec watches with: the properties, wait cycles when the
    search may stop at a deadlock, the symmetry's check; then what `extra` makes (the analyses')."""
    watching: list[Observer] = [PropertyObserver(system)]
    if system.spec.options.deadlock and (limits.fail_fast or DEADLOCK in limits.stop_on):
        watching.append(WaitCycles(system))
    if system.symmetric:
        watching.append(SymmetryCheck(system))
    return [*watching, *(extra(system) if extra is not None else ())]


def new_store(system: TransitionSystem, kind: StoreKind) -> StateStore:
    """An empty store of the kind asked for; a fingerprint store replays a released state's parent steps."""
    if kind is StoreKind.FULL:
        return StateStore(system.thread_count, actions=len(system.actions))
    return FingerprintStore(system.thread_count, _replay_step(system), len(system.actions))


def _replay_step(system: TransitionSystem) -> Callable[[tuple, int, int], tuple | None]:
    """How a store that keeps no states computes one from its parent's: `fire` (leaving the run counts
    alone), the outcome's canonical image under symmetry."""
    canonical = Canonical.of(system.symmetry) if system.symmetric else None

    def successor(state: tuple, action: int, choice: int) -> tuple | None:
        with system.uncounted():
            outcomes = system.fire(state, action)
        out = outcomes[choice] if choice < len(outcomes) else None
        if not isinstance(out, tuple):
            return None
        return canonical(out)[1] if canonical is not None else out
    return successor


class WaitCycles(Observer):
    """Stuck threads proved during the search: a cycle of lock or grace-period waits among blocked threads."""

    name = "wait_cycles"

    def __init__(self, system: TransitionSystem):
        self.system = system

    def start(self, result: ExplicitResult, findings: Findings) -> None:
        self.result, self.findings = result, findings

    def merge(self, parts: Sequence[object], states: int, expanded: int) -> None:
        """Nothing to merge: the partitioned search keeps the cycle that proved its first deadlock."""

    def on_expanded(self, sid: int, state: tuple, blocked: int, violating: bool) -> None:
        if blocked and DEADLOCK not in self.findings.violations:
            cycle = wait_cycle(self.system, state, blocked)
            if cycle:
                self.result.stuck[sid] = cycle
                self.findings.violate(Finding(DEADLOCK, sid))


class SymmetryCheck(Observer):
    """The symmetry's assumption checked during the search, on every CHECK_EVERY-th expanded state: the
    successors of one of the state's images (the permutations taken in turn) are the images of its
    successors (as classes), with the same violations, and its blocked threads are the renamed ones. A
    failure is an internal error."""

    name = "symmetry_check"
    CHECK_EVERY = 64

    def __init__(self, system: TransitionSystem):
        assert system.symmetry is not None
        self.system, self.symmetry = system, system.symmetry
        self.canonical = Canonical.of(self.symmetry)

    def on_expanded(self, sid: int, state: tuple, blocked: int, violating: bool) -> None:
        if sid % self.CHECK_EVERY or self.symmetry.size < 2:
            return
        k = 1 + sid // self.CHECK_EVERY % (self.symmetry.size - 1)
        image, tmap = self.symmetry.images[k], self.symmetry.thread_maps[k]
        with self.system.uncounted():
            here = self._successors(state)
            there = self._successors(image(state))
        renamed = (here[0], sum(1 << tmap[t] for t in range(len(tmap)) if here[1] >> t & 1))
        if there != renamed:
            raise InternalError(f"the symmetry ({self.symmetry.describe()}) does not hold: the "
                                f"successors of state {sid} and of its image differ")

    def merge(self, parts: Sequence[object], states: int, expanded: int) -> None:
        """Nothing to merge: each worker checks the states it expands."""

    def _successors(self, state: tuple) -> tuple[list, int]:
        transitions, blocked = self.system.expand(state)
        return sorted(t[4].prop.encode() if isinstance(t[4], Violation) else self.canonical(t[4])[0]
                      for t in transitions), blocked


def wait_cycle(system: TransitionSystem, s: tuple, blocked: int, sinks: frozenset[int] = frozenset()) -> int:
    """The blocked threads of state `s` that a cycle of lock or grace-period waits holds forever, as a
    mask (0: none). Every wait edge is necessary (a waiter needs each thread it waits for to release a
    lock or leave a read-side section), so the threads on a cycle, and those waiting for them, can
    never step again; so can those waiting for one of `sinks` (threads that never step again: finished
    holders, engine/deadlocks.py)."""
    graph: dict[int, set[int]] = {}
    rest = blocked
    while rest:
        low = rest & -rest
        tid = low.bit_length() - 1
        rest ^= low
        graph[tid] = {e.target for e in blockers(system, s, tid, conditions=False) if e.target >= 0}
    # a cycle exists iff repeatedly removing threads with no waits inside the graph leaves some
    alive = set(graph)
    while True:
        free = {t for t in alive if not (graph[t] & (alive | sinks))}
        if not free:
            return sum(1 << t for t in alive)
        alive -= free


def _stuck(system: TransitionSystem, result: ExplicitResult, check_deadlock: bool) -> None:
    """Every state with a stuck thread; `deadlock_free` is violated first at the lowest such state id,
    which BFS numbering makes a shortest one."""
    for sid, mask in stuck_masks(system, result.store).items():
        result.stuck[sid] = result.stuck.get(sid, 0) | mask
    result.deadlocks = sorted(result.stuck)
    if check_deadlock and result.deadlocks:
        first = result.deadlocks[0]
        known = result.violations.get(DEADLOCK)
        if known is None or known.state > first:
            result.violations[DEADLOCK] = Finding(DEADLOCK, first)
