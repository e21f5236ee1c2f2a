"""The search engine on toy systems built in a few lines (no YAML, no compiler): exact state, transition
and depth counts worked out by hand, labelled replay, paths, observers, limits and stuck threads."""

from __future__ import annotations

import gc
from pathlib import Path
from types import SimpleNamespace

import pytest
from netcheck.checker.engine.bfs import search
from netcheck.checker.engine.limits import Limits, peak_rss_mb, release_freed_memory, restart_peak_rss
from netcheck.checker.engine.observers import Observer
from netcheck.checker.engine.paths import path_to
from netcheck.checker.engine.result import ExplicitResult, Finding
from netcheck.checker.engine.store import NATIVE_STORE, StateStore
from netcheck.checker.engine.stuck import stuck_masks
from netcheck.checker.engine.system import ExplicitSystem, Transition
from netcheck.model.semantics.runtime import ActionInfo, Violation


class Counters:
    """n threads; thread t counts its own counter from 0 up to `top`. A state is the tuple of counters."""

    def __init__(self, n: int, top: int):
        self.thread_count, self.top = n, top
        self.actions = tuple(ActionInfo(t, 0, False) for t in range(n))

    def initial(self) -> list[tuple]:
        return [(0,) * self.thread_count]

    def fire(self, s: tuple, action: int) -> list[tuple]:
        return [s[:action] + (s[action] + 1,) + s[action + 1:]] if s[action] < self.top else []

    def expand(self, s: tuple) -> tuple[list[Transition], int]:
        return [Transition(t, t, 0, False, r) for t in range(self.thread_count) for r in self.fire(s, t)], 0

    def quiescent(self, s: tuple, tid: int) -> bool:
        return s[tid] == self.top

    def position(self, s: tuple, tid: int) -> int:
        return s[tid]

    def woken_positions(self, tid: int) -> frozenset[int]:
        return frozenset()


class Abba(Counters):
    """Two threads, locks A and B: thread 0 takes A then B, thread 1 B then A, each releasing in reverse.
    A state is (pc0, pc1); pc 4 is done. Who holds what follows from the pcs."""

    FIRST, SECOND = ("A", "B"), ("B", "A")

    def __init__(self) -> None:
        super().__init__(2, 4)

    def holder(self, s: tuple, lock: str) -> int:
        for t in (0, 1):
            if (s[t] in (1, 2, 3) and self.FIRST[t] == lock) or (s[t] == 2 and self.SECOND[t] == lock):
                return t
        return -1

    def fire(self, s: tuple, action: int) -> list[tuple]:
        pc = s[action]
        wanted = {0: self.FIRST[action], 1: self.SECOND[action]}.get(pc)
        if pc == 4 or (wanted is not None and self.holder(s, wanted) != -1):
            return []
        return [s[:action] + (pc + 1,) + s[action + 1:]]

    def expand(self, s: tuple) -> tuple[list[Transition], int]:
        out, blocked = super().expand(s)
        return out, sum(1 << t for t in (0, 1) if s[t] != 4 and not self.fire(s, t))


class Coin(Counters):
    """One thread flips a coin (one action, two outcomes) then checks it: heads is a violation."""

    def __init__(self) -> None:
        super().__init__(1, 2)
        self.actions = (ActionInfo(0, 0, False), ActionInfo(0, 1, False))

    def initial(self) -> list[tuple]:
        return [(0, None)]

    def fire(self, s: tuple, action: int) -> list:
        if s[0] != action:
            return []
        if action == 0:
            return [(1, "tails"), (1, "heads")]
        return [Violation("fair", "heads", 0, 1)] if s[1] == "heads" else [(2, s[1])]

    def expand(self, s: tuple) -> tuple[list[Transition], int]:
        return [Transition(0, a, c, False, r) for a in (0, 1) for c, r in enumerate(self.fire(s, a))], 0


def run(system: ExplicitSystem, limits: Limits | None = None, observers: tuple[Observer, ...] = ()) -> ExplicitResult:
    result = ExplicitResult(system, store=StateStore(system.thread_count))  # type: ignore[arg-type]
    return search(system, result, limits, observers, measure_memory=False)


def test_counters_exact_counts() -> None:
    # (top + 1) ** n states; each of the n threads steps in (top + 1) ** (n - 1) * top of them
    result = run(Counters(2, 3))
    assert result.complete and result.state_count == 16 and result.transitions == 24
    assert result.max_depth == 6 and result.finals == [15] and not result.violations
    three = run(Counters(3, 2))
    assert three.state_count == 27 and three.transitions == 3 * 9 * 2 and three.max_depth == 6


def test_abba_deadlock_counts_and_stuck_threads() -> None:
    # 25 pc pairs, minus 5 where both would hold a lock ((1,2) (2,2) (3,2) (2,1) (2,3)) and (3,3): to be at
    # pc 3 both threads passed pc 2 holding both locks, and the second to pass needs the first done
    system = Abba()
    result = run(system)
    states = result.store.states
    assert result.state_count == 19 and result.transitions == 22 and result.max_depth == 8
    assert [states[i] for i in result.finals] == [(4, 4)]
    deadlock = result.violations["deadlock_free"]
    assert states[deadlock.state] == (1, 1) and result.store.depth[deadlock.state] == 2
    stuck = stuck_masks(system, result.store)
    assert {states[i]: mask for i, mask in stuck.items()} == {(1, 1): 0b11}


class KillableAbba(Abba):
    """Abba where thread 0's wait for B is killable: a fatal signal there (action 2) ends the thread
    holding A, which violates `held_at_exit`."""

    def __init__(self) -> None:
        super().__init__()
        self.actions = (*self.actions, ActionInfo(0, 1, True))

    def expand(self, s: tuple) -> tuple[list[Transition], int]:
        out, blocked = super().expand(s)
        if s[0] == 1 and blocked & 1:
            out.append(Transition(0, 2, 0, True, Violation("held_at_exit", "exits holding A", 0, 1)))
        return out, blocked


def test_a_violating_signal_exit_is_no_way_out_of_a_deadlock() -> None:
    # the signal exit is found (as a signal step), yet both threads stay stuck at (1, 1): a thread that
    # only a signal moves is blocked, whatever the signal leads to
    system = KillableAbba()
    result = run(system)
    states = result.store.states
    killed = result.violations["held_at_exit"]
    assert states[killed.state] == (1, 1) and killed.by_signal and killed.action == 2
    assert {states[i]: mask for i, mask in stuck_masks(system, result.store).items()} == {(1, 1): 0b11}


def test_labels_replay_and_paths_are_shortest_with_fewest_switches() -> None:
    system = Counters(2, 2)
    result = run(system)
    store = result.store
    for src, dst, action, choice in store.edges():
        assert system.fire(store.states[src], action)[choice] == store.states[dst]
    goal = store.id_of((2, 2))
    assert goal is not None
    path = path_to(result, Finding("goal", goal))
    assert path.states[0] == (0, 0) and path.states[-1] == (2, 2) and len(path.labels) == 4
    for before, after, label in zip(path.states, path.states[1:], path.labels):
        assert system.fire(before, label.action)[label.choice] == after
    tids = [label.tid for label in path.labels]
    assert path.fewest_switches and sum(a != b for a, b in zip(tids, tids[1:])) == 1


def test_choices_label_outcomes_and_a_violating_step_is_found_with_its_label() -> None:
    system = Coin()
    result = run(system)
    assert result.state_count == 4   # start, tails, heads, tails checked
    assert result.transitions == 4   # two flips, one check passes, one violates
    found = result.violations["fair"]
    assert result.store.states[found.state] == (1, "heads") and (found.action, found.choice) == (1, 0)
    path = path_to(result, found)
    assert path.labels[0].choice == 1 and path.last is not None and path.last.action == 1
    assert isinstance(system.fire(path.states[-1], path.last.action)[path.last.choice], Violation)


class Recorder(Observer):
    name = "recorder"

    def __init__(self) -> None:
        self.seen: list[int] = []
        self.edges: list[tuple[int, int, int, int]] = []
        self.ends: list[tuple[int, bool]] = []

    def on_state(self, sid: int, state: tuple) -> None:
        self.seen.append(sid)

    def on_transition(self, source: int, target: int, action: int, choice: int) -> None:
        self.edges.append((source, target, action, choice))

    def on_terminal(self, sid: int, state: tuple, final: bool) -> None:
        self.ends.append((sid, final))

    def finish(self, result: ExplicitResult) -> None:
        result.observations[self.name] = len(self.seen)


def test_observers_see_every_state_once_every_edge_and_every_terminal_state() -> None:
    recorder = Recorder()
    result = run(Abba(), observers=(recorder,))
    assert recorder.seen == list(range(19)) and result.observations["recorder"] == 19
    assert recorder.edges == list(result.store.edges()) and len(recorder.edges) == 22
    states = result.store.states
    assert sorted((states[sid], final) for sid, final in recorder.ends) == [((1, 1), False), ((4, 4), True)]


def test_limits_leave_the_result_incomplete_and_say_why() -> None:
    cut = run(Counters(2, 3), Limits(max_states=5))
    assert not cut.complete and cut.stop_reason == "max states 5 reached"
    shallow = run(Counters(2, 3), Limits(max_depth=2))
    assert not shallow.complete and shallow.stop_reason == "max depth 2 reached"
    assert shallow.store.max_depth == 2 and shallow.state_count == 6   # depths 0, 1, 2: 1 + 2 + 3 states
    stopped = run(Abba(), Limits(fail_fast=True))
    assert not stopped.complete and "deadlock_free" in stopped.violations


@pytest.mark.parametrize("native", [True, False], ids=["native", "packed"])
def test_the_store_packs_equal_states_to_one_id_whatever_objects_they_share(native: bool) -> None:
    """States are stored encoded; two equal states are one state even when one of them holds the same
    tuple object in two slots (a packing that remembered shared objects would tell them apart), and
    decoding gives back the state itself: in the native store and in the dict of packed states."""
    if native and not NATIVE_STORE:
        pytest.skip("the native store was not built here (no C compiler at install)")
    store = StateStore(2, native=native)
    assert (store.arena is not None) is native
    shared = tuple([3, 1])
    first = store.intern((shared, shared, None, -1, True), -1, -1, 0, 0)
    again = store.intern((tuple([3, 1]), tuple([3, 1]), None, -1, True), 0, 0, 0, 1)
    other = store.intern(((3, 1), (1, 3), None, -1, True), 0, 0, 0, 1)
    assert (first, again, other) == (0, 0, 1)
    assert len(store) == 2 and store.depth.tolist() == [0, 1]
    assert store.states[0] == ((3, 1), (3, 1), None, -1, True) and store.states[1][1] == (1, 3)
    assert list(store.states) == [store.states[0], store.states[1]] and store.states[:1] == [store.states[0]]
    assert store.id_of(((3, 1), (1, 3), None, -1, True)) == 1 and store.id_of((0,)) is None
    assert isinstance(store.states.encoded(0), bytes) and store.states.encoded(0) != store.states.encoded(1)


def test_the_peak_memory_measure_restarts_where_linux_allows() -> None:
    """A worker process serving its next search reports that search's peak, not its lifetime's."""
    ballast = bytearray(300 * 2**20)   # touched: resident
    ballast[:: 4096] = b"\x01" * len(range(0, len(ballast), 4096))
    high = peak_rss_mb()
    del ballast
    if not restart_peak_rss():
        pytest.skip("this system keeps only the lifetime peak")
    assert high - peak_rss_mb() > 200


def resident_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split("kB")[0]) / 2**10


def test_memory_a_finished_search_held_in_cycles_goes_back_to_the_system() -> None:
    """What a search leaves behind in reference cycles (observers and closures) is collected and returned to
    the system before the next search on the same process, so that its peak starts low."""
    if not Path("/proc/self/status").exists():
        pytest.skip("no /proc/self/status to read resident memory from")
    gc.disable()
    try:
        pairs = []
        for _ in range(200):
            a, b = SimpleNamespace(), SimpleNamespace(other=None)
            a.other, b.other = b, a
            a.data = bytearray(2**20)
            a.data[:: 4096] = b"\x01" * len(range(0, 2**20, 4096))
            pairs.append(a)
        held = resident_mb()
        del pairs, a, b
        assert resident_mb() > held - 50   # unreachable, but not freed: the cycles wait for the collector
        release_freed_memory()
        assert held - resident_mb() > 150
    finally:
        gc.enable()
