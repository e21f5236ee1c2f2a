"""Stuck threads: a thread that has not finished, is not idle, and can never take another step in any
continuation from a state, whatever the other threads do (a fatal signal ending a killable wait is not
a way out: a task hung in mutex_lock_killable() is hung).

Decided exactly on the explored graph. Per state the explorer records which threads are blocked (not
quiescent, no step enabled); a thread can still progress from a state when it can step there, or when
some path of non-signal transitions leads to a state where it can, or where it has been moved on (an
rwsem waiter granted the lock inside the releaser's step). That is a backward closure, computed for all
threads at once as bit masks over the BFS-numbered states. States the search did not expand (an
incomplete run) count as "might progress", so every stuck thread reported is really stuck.

During the search a cheaper, partial test catches stuck threads early (for --fail-fast): a cycle of
lock waits among blocked threads, none of which can leave its wait but by a signal.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Sequence
from typing import TYPE_CHECKING

from netcheck.model.system import TransitionSystem

from .waits import blockers

if TYPE_CHECKING:
    from .explore import Exploration


def mask_array(threads: int) -> array | list:
    """Per-state thread masks: 64-bit words when they fit, Python ints beyond 64 threads."""
    return array("Q") if threads <= 64 else []


def stuck_masks(exp: Exploration) -> dict[int, int]:
    """{state id: mask of the threads stuck there}, for every explored state with a stuck thread."""
    blocked = exp.blocked
    expanded = len(blocked)
    if not any(blocked):
        return {}
    full = (1 << len(exp.system.threads)) - 1
    # can[s]: the threads that can still progress from s; unexpanded states might, so all of them
    can: list[int] = [full & ~b for b in blocked] + [full] * (len(exp.states) - expanded)
    ends = array("I", exp.first_edge[1:])
    ends.append(len(exp.edges_dst))
    signal = set(exp.signal_edges)
    # only an rwsem waiter can be moved on by another thread's step: (bit, pc slot, its wait pcs)
    waiters = [(1 << t.tid, t.pcslot, frozenset(pc for pc, n in enumerate(t.nodes) if n.kind == "lockwait"))
               for t in exp.system.threads]
    waiters = [w for w in waiters if w[2]]
    pending = [s for s in range(expanded - 1, -1, -1) if can[s] != full]
    while True:
        pending = _close(exp, can, ends, signal, pending, full)
        if not _moved_on(exp, can, ends, signal, waiters, pending):
            break
    return {s: blocked[s] & ~can[s] for s in sorted(pending) if blocked[s] & ~can[s]}


def _close(exp: Exploration, can: list[int], ends: array, signal: set[int], pending: list[int],
           full: int) -> list[int]:
    """Propagate `can` backwards over non-signal edges to a fixed point; the states still not full.
    BFS numbering makes most edges lead to higher ids, so a few passes in decreasing order do it."""
    first, dst = exp.first_edge, exp.edges_dst
    with_signal = {bisect_right(first, e) - 1 for e in signal}   # the states signal edges leave
    changed = True
    while changed:
        changed = False
        still = []
        for s in pending:
            m = can[s]
            if s in with_signal:
                for e in range(first[s], ends[s]):
                    if e not in signal:
                        m |= can[dst[e]]
            else:
                for d in dst[first[s]:ends[s]]:
                    m |= can[d]
            if m != can[s]:
                can[s] = m
                changed = True
            if m != full:
                still.append(s)
        pending = still
    return pending


def _moved_on(exp: Exploration, can: list[int], ends: array, signal: set[int],
              waiters: list[tuple[int, int, frozenset[int]]], pending: list[int]) -> bool:
    """Add the rwsem waiters that another thread's step moves on (the releaser grants them the lock,
    inside its own step) where nothing else showed they progress; whether any was added."""
    states, first, dst = exp.states, exp.first_edge, exp.edges_dst
    added = False
    for s in pending:
        here = states[s]
        missing = exp.blocked[s] & ~can[s]
        for bit, slot, pcs in waiters:
            if missing & bit and here[slot] in pcs and any(
                    states[dst[e]][slot] != here[slot] for e in range(first[s], ends[s]) if e not in signal):
                can[s] |= bit
                added = True
    return added


def wait_cycle(system: TransitionSystem, s: Sequence, blocked: int) -> int:
    """The blocked threads of state `s` that a cycle of lock or grace-period waits holds forever, as a
    mask (0: none). Every wait edge is necessary (a waiter needs each thread it waits for to release a
    lock or leave a read-side section), so the threads on a cycle, and those waiting for them, can
    never step again."""
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
        free = {t for t in alive if not (graph[t] & alive)}
        if not free:
            return sum(1 << t for t in alive)
        alive -= free
