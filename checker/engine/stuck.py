"""Stuck threads: a thread that has not finished, is not idle, and can never take another step in any
continuation from a state, whatever the other threads do (a fatal signal ending a killable wait is not
a way out: a task hung in mutex_lock_killable() is hung).

Decided exactly on the explored graph. Per state the explorer records which threads are blocked (not
quiescent, no step enabled); a thread can still progress from a state when it can step there, or when
some path of non-signal transitions leads to a state where it can, or where it has been moved on (an
rwsem waiter granted the lock inside the releaser's step). That is a backward closure, computed for all
threads at once as bit masks over the BFS-numbered states. States the search did not expand (an
incomplete run) count as "might progress", so every stuck thread reported is really stuck.

During the search a cheaper, partial test catches stuck threads early (for --fail-fast: the `WaitCycles`
observer of engine/explore.py): a cycle of lock waits among blocked threads, none of which can leave its
wait but by a signal. `stuck_from` checks one state by the same definition, on the states reachable from
it (the BDD search's counterexamples, engine/bddstuck.py).
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Callable

from .store import StateStore, mask_array
from .system import ExplicitSystem


def stuck_masks(system: ExplicitSystem, store: StateStore) -> dict[int, int]:
    """{state id: mask of the threads stuck there}, for every explored state with a stuck thread."""
    blocked = store.blocked
    expanded = len(blocked)
    if not any(blocked):
        return {}
    full = (1 << system.thread_count) - 1
    # can[s]: the threads that can still progress from s; unexpanded states might, so all of them (masks
    # and state ids in flat arrays: no int object per state)
    can = mask_array(system.thread_count)
    can.extend(full & ~b for b in blocked)
    can.extend([full] * (len(store) - expanded))
    ends = _Ends(store.first_edge, len(store.edges_dst))
    signal = set(store.signal_edges)
    # only a thread another thread's step can move on (an rwsem waiter): (tid, bit, those positions)
    waiters = [(tid, 1 << tid, system.woken_positions(tid)) for tid in range(system.thread_count)]
    waiters = [w for w in waiters if w[2]]
    pending = array("I", (s for s in range(expanded - 1, -1, -1) if can[s] != full))
    symmetry = getattr(system, "symmetry", None)
    maps = symmetry.thread_maps if symmetry is not None and len(store.edges_perm) else None
    while True:
        pending = _close(store, can, ends, signal, pending, full, maps)
        if not _moved_on(system, store, can, ends, signal, waiters, pending, maps):
            break
    return {s: blocked[s] & ~can[s] for s in sorted(pending) if blocked[s] & ~can[s]}


STUCK_CHECK_STATES = 200_000   # the most states `stuck_from` explores before it gives up


def stuck_from(system: ExplicitSystem, state: tuple, mask: int, most: int = STUCK_CHECK_STATES) -> bool | None:
    """Whether every thread of `mask` is stuck in `state`: blocked there and in every state that non-signal
    steps reach from it, and never moved on by another thread's step; None when more than `most` states
    are reachable from it (not decided). A state with a violating step is a way out, as in the search
    (what follows a violation is unknown)."""
    tids = [t for t in range(system.thread_count) if mask >> t & 1]
    seen = {state}
    todo = [state]
    while todo:
        here = todo.pop()
        transitions, blocked = system.expand(here)
        if mask & ~blocked:
            return False
        for _, _, _, signal, after in transitions:
            if signal or after in seen:
                continue
            if not isinstance(after, tuple):
                return False
            if any(system.position(after, t) != system.position(here, t) for t in tids):
                return False
            if len(seen) >= most:
                return None
            seen.add(after)
            todo.append(after)
    return True


class _Ends:
    """Where each expanded state's edges end (the next one's first edge; the last: all edges), read off the
    store's first edges without a copy of them (the analysis runs when the store is at its largest)."""

    def __init__(self, first: array, total: int):
        self.first, self.last, self.total = first, len(first) - 1, total

    def __getitem__(self, s: int) -> int:
        return self.first[s + 1] if s < self.last else self.total


def _close(store: StateStore, can: array | list[int], ends: _Ends, signal: set[int], pending: array,
           full: int, maps: tuple[tuple[int, ...], ...] | None = None) -> array:
    """Propagate `can` backwards over non-signal edges to a fixed point; the states still not full.
    BFS numbering makes most edges lead to higher ids, so a few passes in decreasing order do it. Under
    symmetry (`maps`), an edge's target is stored as its image under a permutation, whose thread t is the
    successor's thread maps[perm][t]: masks are read back through it."""
    first, dst, perms = store.first_edge, store.edges_dst, store.edges_perm
    with_signal = {bisect_right(first, e) - 1 for e in signal}   # the states signal edges leave
    back = [_mask_back(m) for m in maps] if maps is not None else None
    changed = True
    while changed:
        changed = False
        kept = 0   # the states still not full, compacted in place (no second array of them)
        for s in pending:
            m = can[s]
            if back is not None:
                for e in range(first[s], ends[s]):
                    if e not in signal:
                        p = perms[e]
                        m |= back[p](can[dst[e]]) if p else can[dst[e]]
            elif s in with_signal:
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
                pending[kept] = s
                kept += 1
        del pending[kept:]
    return pending


def _mask_back(tmap: tuple[int, ...]) -> Callable[[int], int]:
    """A thread mask of an image back in the frame of the state it is the image of."""
    def back(mask: int) -> int:
        return sum(1 << t for t, to in enumerate(tmap) if mask >> to & 1)
    return back


def _moved_on(system: ExplicitSystem, store: StateStore, can: array | list[int], ends: _Ends, signal: set[int],
              waiters: list[tuple[int, int, frozenset[int]]], pending: array,
              maps: tuple[tuple[int, ...], ...] | None = None) -> bool:
    """Add the waiters that another thread's step moves on (an rwsem releaser grants them the lock,
    inside its own step) where nothing else showed they progress; whether any was added. Under
    symmetry, a thread of an edge's target is looked up through the edge's permutation."""
    states, first, dst, perms = store.states, store.first_edge, store.edges_dst, store.edges_perm
    position = system.position
    added = False
    for s in pending:
        here = states[s]
        missing = store.blocked[s] & ~can[s]
        for tid, bit, positions in waiters:
            if missing & bit and (at := position(here, tid)) in positions and any(
                    position(states[dst[e]], maps[perms[e]][tid] if maps else tid) != at
                    for e in range(first[s], ends[s]) if e not in signal):
                can[s] |= bit
                added = True
    return added
