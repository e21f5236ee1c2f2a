"""Exhaustive breadth-first exploration of every interleaving, into a compact state store.

States are interned to ids the first time they are seen; parents, the thread of the discovering step,
depths and every edge are kept in flat arrays, so that counterexamples are shortest paths, stuck threads
are decided on the whole graph (checker/stuck.py) and the networkx graph can be built (checker/graph.py).
"""

from __future__ import annotations

import resource
import signal
import sys
import threading
import time
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from netcheck.model.system import StateProperty, TransitionSystem

from . import coverage
from .stuck import mask_array, stuck_masks, wait_cycle
from .verdicts import PropertyChecker

# the stop reasons of a search the user asked to end at violations (--fail-fast, --stop-on), not at a limit
STOPPED_AT_VIOLATION = ("stopped at the first violation", "stopped: every --stop-on property is violated")


@dataclass(frozen=True)
class Limits:
    max_states: int | None = None
    max_depth: int | None = None
    timeout: float | None = None
    fail_fast: bool = False   # stop at the first violation (it is still the shortest for its property)
    max_memory_mb: float | None = None
    stop_on: frozenset[str] = frozenset()  # stop once all these properties are violated


@dataclass(frozen=True)
class Found:
    """A property violation: the state where it shows (or the state before a violating step)."""

    prop: str
    state: int
    tid: int = -1           # the thread whose step violates (step violations), else -1
    message: str = ""
    by_signal: bool = False


@dataclass
class Exploration:
    """The result of exploring: the state store, the first (shortest) violation per property, statistics."""

    system: TransitionSystem
    states: list[tuple]
    parent: array
    via: array
    depth: array
    # every transition to a state, in BFS order of its source: the targets and the threads that took them;
    # the transitions of expanded state i are edges first_edge[i] up to first_edge[i + 1] (or the end)
    edges_dst: array
    edges_tid: array
    first_edge: array
    signal_edges: array = field(default_factory=lambda: array("I"))  # edges that are fatal signals
    blocked: array | list = field(default_factory=list)  # per expanded state: mask of blocked threads
    found: dict[str, Found] = field(default_factory=dict)
    deadlocks: list[int] = field(default_factory=list)   # states where some thread is stuck, in BFS order
    stuck: dict[int, int] = field(default_factory=dict)  # those states: mask of the stuck threads
    finals: list[int] = field(default_factory=list)
    complete: bool = True
    stop_reason: str = ""
    seconds: float = 0.0
    peak_memory_mb: float = 0.0
    unknown: dict[str, str] = field(default_factory=dict)
    transitions: int = 0
    executions: coverage.Executions | None = None   # what reachable transitions ran (checker/coverage.py)
    # trace.py's fewest-switch search over this exploration, kept with it (and freed with it)
    switch_search: object = field(default=None, repr=False, compare=False)

    def edge_range(self, state: int) -> range:
        """The indices of the edges leaving an expanded state."""
        first = self.first_edge
        return range(first[state], first[state + 1] if state + 1 < len(first) else len(self.edges_dst))

    def edges(self) -> Iterator[tuple[int, int, int]]:
        """Every (source, target, thread) edge."""
        dst, tid = self.edges_dst, self.edges_tid
        for state in range(len(self.first_edge)):
            for e in self.edge_range(state):
                yield state, dst[e], tid[e]

    @property
    def max_depth(self) -> int:
        return max(self.depth) if len(self.depth) else 0

    def path_to(self, state: int) -> list[tuple[int, int]]:
        """[(state id, thread that reached it)] from an initial state to `state`."""
        path = []
        while state >= 0:
            path.append((state, self.via[state]))
            state = self.parent[state]
        path.reverse()
        return path


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


@dataclass(frozen=True)
class ProgressInfo:
    """What a progress callback sees: totals so far and the sizes of the last two BFS levels."""

    states: int
    depth: int
    seconds: float
    level: int          # states at the depth being expanded
    previous_level: int  # states one level above


Progress = Callable[[ProgressInfo], None]


class _Interrupt:
    """Turns SIGINT into a flag the search loop polls, so that the partial result stays consistent."""

    def __init__(self) -> None:
        self.raised = False
        self.previous: Callable[[int, FrameType | None], Any] | int | None = None

    def __enter__(self) -> _Interrupt:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self.handle)
        return self

    def handle(self, signum: int, frame: object) -> None:
        self.raised = True

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def explore(system: TransitionSystem, limits: Limits = Limits(), progress: Progress | None = None,
            measure_memory: bool = True) -> Exploration:
    """Breadth-first search over all interleavings; checks invariants on new states, finals at terminal
    states, and afterwards which threads are stuck where (on every edge, which the search keeps)."""
    started = time.perf_counter()
    index: dict[tuple, int] = {}
    states: list[tuple] = []
    parent, via, depth = array("q"), array("h"), array("I")
    dst, tids, first_edge = array("I"), array("H"), array("I")
    result = Exploration(system, states, parent, via, depth, dst, tids, first_edge)
    signal_edges = result.signal_edges
    blocked_masks = result.blocked = mask_array(len(system.threads))
    checker = PropertyChecker(system)
    found = result.found
    invariants: list[StateProperty] = system.invariants
    check_deadlock = system.spec.options.deadlock
    threads = [(t.tid, t.pcslot, t.steps, 1 << t.tid, t.daemon, ran)
               for t, ran in zip(system.threads, coverage.start(system))]
    for v in system.initial_violations:
        found.setdefault(v.prop, Found(v.prop, -1, v.tid, v.message))

    violated_invariants = checker.invariant_checker(invariants)
    reached_questions = checker.question_checker(system.reachables)

    def add(state: tuple, from_id: int, tid: int, d: int) -> int:
        sid = len(states)
        index[state] = sid
        states.append(state)
        parent.append(from_id)
        via.append(tid)
        depth.append(d)
        if violated_invariants is not None:
            for name, message in violated_invariants(state):
                if name not in found:
                    found[name] = Found(name, sid, message=message)
        if reached_questions is not None:
            for name, message in reached_questions(state):
                if name not in found:
                    found[name] = Found(name, sid, message=message)
        return sid

    for s in system.initial_states:
        if s not in index:
            add(s, -1, -1, 0)
    setdefault = index.setdefault
    transitions = 0
    if not invariants:
        violated_invariants = None  # type: ignore[assignment]
    fail_fast = limits.fail_fast
    stop_on = limits.stop_on
    # a wait cycle among blocked threads proves them stuck at once: worth testing when the search may stop
    early_stuck = check_deadlock and (fail_fast or "deadlock_free" in stop_on)
    questions = {p.decl.name for p in system.reachables}  # witnesses are answers, not violations
    max_states = limits.max_states
    max_depth = limits.max_depth
    deadline = started + limits.timeout if limits.timeout else None
    i = 0
    next_check = 2048
    max_memory = limits.max_memory_mb
    interrupt = _Interrupt().__enter__()
    while i < len(states):
        if i >= next_check:
            next_check = i + 2048
            now = time.perf_counter()
            if interrupt.raised:
                result.complete, result.stop_reason = False, "interrupted"
                break
            if progress is not None:
                cur = depth[i]
                progress(ProgressInfo(len(states), cur, now - started, level_size(depth, cur),
                                      level_size(depth, cur - 1)))
            if deadline is not None and now > deadline:
                result.complete, result.stop_reason = False, f"timeout after {limits.timeout:g} s"
                break
            if max_memory is not None and peak_rss_mb() > max_memory:
                result.complete, result.stop_reason = False, f"memory limit {max_memory:g} MB reached"
                break
        s = states[i]
        d = depth[i] + 1
        if max_depth is not None and d > max_depth:
            result.complete, result.stop_reason = False, f"max depth {max_depth} reached"
            break
        progressed = violating = False
        blocked = 0
        first_edge.append(len(dst))
        for tid, pcslot, steps, bit, daemon, ran in threads:
            pc = s[pcslot]
            step = steps[pc]
            if step is None:
                continue
            results = step.fire(s)
            if results:
                ran[pc] += 1
                transitions += len(results)
            elif not (daemon and step.idle):
                blocked |= bit
            for r in results:
                progressed = True
                if r.__class__ is tuple:
                    n = len(states)
                    j = setdefault(r, n)
                    if j == n:
                        states.append(r)
                        parent.append(i)
                        via.append(tid)
                        depth.append(d)
                        if violated_invariants is not None:
                            for name, message in violated_invariants(r):
                                if name not in found:
                                    found[name] = Found(name, j, message=message)
                        if reached_questions is not None:
                            for name, message in reached_questions(r):
                                if name not in found:
                                    found[name] = Found(name, j, message=message)
                    dst.append(j)
                    tids.append(tid)
                else:
                    violating = True
                    if r.prop not in found:
                        found[r.prop] = Found(r.prop, i, tid, r.message)
            if step.sig is not None:
                # a fatal signal is not progress: a state where only signals can move is still a deadlock
                signalled = step.sig(s)
                if signalled:
                    ran[pc] += 1
                for r in signalled:
                    transitions += 1
                    if r.__class__ is tuple:
                        known = index.get(r)
                        j = add(r, i, tid, d) if known is None else known
                        signal_edges.append(len(dst))
                        dst.append(j)
                        tids.append(tid)
                    elif r.prop not in found:
                        found[r.prop] = Found(r.prop, i, tid, r.message, True)
        # a violating step ends its path unexplored: what follows is unknown, so it may be a way out for all
        blocked_masks.append(0 if violating else blocked)
        if not progressed:
            _terminal(system, result, checker, i, s, check_deadlock)
        elif early_stuck and blocked and "deadlock_free" not in found:
            cycle = wait_cycle(system, s, blocked)
            if cycle:
                result.stuck[i] = cycle
                found["deadlock_free"] = Found("deadlock_free", i)
        if (fail_fast and len(found) > len(questions & found.keys())) or (stop_on and stop_on <= found.keys()):
            result.complete = False
            result.stop_reason = STOPPED_AT_VIOLATION[0] if fail_fast else STOPPED_AT_VIOLATION[1]
            break
        if max_states is not None and len(states) >= max_states and i + 1 < len(states):
            result.complete, result.stop_reason = False, f"max states {max_states} reached"
            break
        i += 1
    interrupt.__exit__()
    result.seconds = time.perf_counter() - started
    result.transitions = transitions
    result.executions = coverage.finish(system)
    _stuck(result, check_deadlock)
    if measure_memory:
        result.peak_memory_mb = peak_rss_mb()
    result.unknown.update(checker.unknown)
    return result


def level_size(depth: array, level: int) -> int:
    """States at one BFS level: the depth array is sorted, since states are numbered in BFS order."""
    return bisect_right(depth, level) - bisect_left(depth, level)


def _terminal(system: TransitionSystem, result: Exploration, checker: PropertyChecker, i: int, s: tuple,
              check_deadlock: bool) -> None:
    """A state where no thread can make progress: all done (check finals), or every unfinished thread is
    stuck (a total deadlock, reported at once; `_stuck` finds it again with the rest)."""
    if all(system.quiescent(s, t.tid) for t in system.threads):
        result.finals.append(i)
        for name, message in checker.failures(system.finals, s):
            if name not in result.found:
                result.found[name] = Found(name, i, message=message)
    elif check_deadlock and "deadlock_free" not in result.found:
        result.found["deadlock_free"] = Found("deadlock_free", i)


def _stuck(result: Exploration, check_deadlock: bool) -> None:
    """Every state with a stuck thread; `deadlock_free` is violated first at the lowest such state id,
    which BFS numbering makes a shortest one."""
    for sid, mask in stuck_masks(result).items():
        result.stuck[sid] = result.stuck.get(sid, 0) | mask
    result.deadlocks = sorted(result.stuck)
    if check_deadlock and result.deadlocks:
        first = result.deadlocks[0]
        known = result.found.get("deadlock_free")
        if known is None or known.state > first:
            result.found["deadlock_free"] = Found("deadlock_free", first)
