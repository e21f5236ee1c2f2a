"""Breadth-first search over every interleaving of an `ExplicitSystem`, into the engine's state store.

States get ids in discovery order, so a state's parent edge ends a shortest path and the lowest id with
a finding is a shortest one. Every labelled edge and every expanded state's blocked threads are kept,
so that stuck threads can be decided on the whole graph afterwards (engine/stuck.py). What else happens
during the search is up to observers (engine/observers.py): property checks, lock-order dependencies,
early proofs of stuck threads.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from netcheck.model.semantics.runtime import Violation

from .limits import (
    STOPPED_AT_VIOLATION,
    Interrupt,
    Limits,
    Progress,
    ProgressInfo,
    level_size,
    peak_rss_mb,
    stop_on_reason,
)
from .observers import Findings, Observer, defines
from .result import ExplicitResult, Finding
from .store import INTERN, Canonical, StateStore
from .system import ExplicitSystem, State

DEADLOCK = "deadlock_free"
POLL_EVERY = 64      # states expanded between two looks at the clock
POLL_SECONDS = 0.25  # seconds between two looks at the limits, memory, Ctrl-C and progress


def search(system: ExplicitSystem, result: ExplicitResult, limits: Limits | None = None,
           observers: Sequence[Observer] = (), progress: Progress | None = None, deadlock: bool = True,
           measure_memory: bool = True) -> ExplicitResult:
    """Explore `system` breadth-first into `result` (whose store must be empty). With `deadlock`, a
    state without transitions where some thread is not quiescent violates `deadlock_free`."""
    started = time.perf_counter()
    limits = limits or Limits()
    store: StateStore = result.store
    findings = Findings(result.violations, result.witnesses)
    for o in observers:
        o.start(result, findings)
    on_state = [o.on_state for o in observers if defines(o, "on_state")]
    on_transition = [o.on_transition for o in observers if defines(o, "on_transition")]
    on_expanded = [o.on_expanded for o in observers if defines(o, "on_expanded")]
    on_terminal = [o.on_terminal for o in observers if defines(o, "on_terminal")]
    violations, witnesses = result.violations, result.witnesses
    intern = store.intern
    # the hot path interns inline (StateStore.intern, without the call): one encoding and one hash per
    # transition, in the native store (`arena`) or as a packing in a dict
    arena = store.arena
    states: Any = arena if arena is not None else store.states.packed   # type: ignore[union-attr]
    arena_intern: Any = arena.intern if arena is not None else None
    add_state: Any = states.append if arena is None else None
    setdefault, pack, unpack = store.index.setdefault, store.pack, store.unpack
    parents, parent_actions, parent_choices, add_depth = (store.parent.append, store.parent_action.append,
                                                          store.parent_choice.append, store.depth.append)
    dst, actions, choices, first_edge = store.edges_dst, store.edges_action, store.edges_choice, store.first_edge
    signal_edges, blocked_masks, depth = store.signal_edges, store.blocked, store.depth
    add_dst, add_action, add_choice = dst.append, actions.append, choices.append
    # a fingerprint store interns each packing under its fingerprint, and releases it once expanded
    fingerprint, release = store.fingerprint, store.releases
    tids = range(system.thread_count)
    expand, seen = system.expand, _fan_out(on_state)
    # symmetry: each state stored as its canonical image, each edge with the permutation that gave it
    symmetry = getattr(system, "symmetry", None)
    canon = None
    if symmetry is not None and symmetry.size > 1:
        canon = Canonical.of(symmetry, store.pack)
    perms = store.edges_perm
    # the step memo's native expander interns the successors itself (no tuple made but for new states), into
    # the native store, where nothing is done to a successor before it is interned (no symmetry)
    memo: Any = getattr(system, "memo", None)
    expand_into: Any = getattr(memo, "interning", lambda: None)()
    fused = (expand_into is not None and arena is not None and canon is None and fingerprint is None
             and INTERN is not None and dst.itemsize == 4 and actions.itemsize in (2, 4) and choices.itemsize == 2)
    width = actions.itemsize

    for target in system.initial():
        if isinstance(target, Violation):
            findings.violate(Finding(target.prop, -1, target.tid, target.message))
            continue
        if canon is not None:
            target = canon(target)[1]
        n = len(states)
        if intern(target, -1, -1, 0, 0) == n and seen is not None:   # type: ignore[arg-type]
            seen(n, target)   # type: ignore[arg-type]

    fail_fast, stop_on = limits.fail_fast, limits.stop_on
    max_states, max_depth, max_memory = limits.max_states, limits.max_depth, limits.max_memory_mb
    deadline = started + limits.timeout if limits.timeout else None
    transitions = 0
    i = 0
    next_poll, next_look = POLL_EVERY, started + POLL_SECONDS
    with Interrupt() as interrupt, collector_paused():
        while i < len(states):
            if i >= next_poll:
                next_poll, now = i + POLL_EVERY, time.perf_counter()
                if now >= next_look:
                    next_look = now + POLL_SECONDS
                    gc.collect(1)
                    stop = _poll(interrupt, deadline, now, max_memory, limits)
                    if stop:
                        result.complete, result.stop_reason = False, stop
                        break
                    if progress is not None:
                        cur = depth[i]
                        progress(ProgressInfo(len(states), cur, now - started, level_size(depth, cur), level_size(
                            depth, cur - 1), level_size(depth, cur + 1), peak_rss_mb()))
            s = states[i] if arena is not None else unpack(states[i])
            d = depth[i] + 1
            if max_depth is not None and d > max_depth:
                result.complete, result.stop_reason = False, f"max depth {max_depth} reached"
                break
            violating = False
            first_edge.append(len(dst))
            if fused:
                blocked, targets, acts, chs, signalled, events = expand_into(s, memo.counting, INTERN, arena, width)
                base = len(dst)
                dst.frombytes(targets)
                actions.frombytes(acts)
                choices.frombytes(chs)
                for k in signalled:
                    signal_edges.append(base + k)
                moved = bool(targets or events)
                transitions += len(dst) - base
                for event in events:
                    if len(event) == 4:   # a new state: (id, action, choice, state)
                        j, action, choice, target = event
                        parents(i)
                        parent_actions(action)
                        parent_choices(choice)
                        add_depth(d)
                        if seen is not None:
                            seen(j, target)
                    else:                 # a violating step: (tid, action, choice, signal, violation)
                        tid, action, choice, signal, target = event
                        transitions += 1
                        violating = violating or not signal
                        if target.prop not in violations:
                            findings.violate(Finding(target.prop, i, tid, target.message, signal, action, choice))
            else:
                edges, blocked = expand(s)
                moved = bool(edges)
                transitions += len(edges)
                for tid, action, choice, signal, target in edges:
                    if target.__class__ is tuple:
                        n = len(states)
                        if arena_intern is not None:
                            if canon is not None:
                                target, perm = canon.least(target)   # the arena encodes it: no packing
                                perms.append(perm)
                            j = arena_intern(target)
                        else:
                            if canon is None:
                                packed = pack(target)
                            else:
                                packed, target, perm = canon(target)
                                perms.append(perm)
                            j = setdefault(packed if fingerprint is None else fingerprint(packed), n)
                            if j == n:
                                add_state(packed)
                        if j == n:
                            parents(i)
                            parent_actions(action)
                            parent_choices(choice)
                            add_depth(d)
                            if seen is not None:
                                seen(j, target)
                        if signal:
                            signal_edges.append(len(dst))
                        add_dst(j)
                        add_action(action)
                        add_choice(choice)
                    else:
                        # a violating step ends its path unexplored; a fatal signal's exit is no way out anyway
                        violating = violating or not signal
                        assert isinstance(target, Violation)
                        if target.prop not in violations:
                            findings.violate(Finding(target.prop, i, tid, target.message, signal, action, choice))
            if on_transition:
                for e in range(first_edge[i], len(dst)):
                    for hook in on_transition:
                        hook(i, dst[e], actions[e], choices[e])
            # what follows a violating step is unknown, so it may be a way out for all
            if release:
                states[i] = None   # type: ignore[call-overload]
            blocked_masks.append(0 if violating else blocked)
            if violating:
                store.violating.append(i)
            if moved:
                for watch in on_expanded:
                    watch(i, s, blocked, violating)
            else:
                final = all(system.quiescent(s, t) for t in tids)
                if final:
                    result.finals.append(i)
                elif deadlock:
                    findings.violate(Finding(DEADLOCK, i))
                for end in on_terminal:
                    end(i, s, final)
            if (fail_fast and violations) or (stop_on and all(p in violations or p in witnesses for p in stop_on)):
                result.complete = False
                result.stop_reason = STOPPED_AT_VIOLATION[0] if fail_fast else stop_on_reason(stop_on, violations)
                break
            if max_states is not None and len(states) >= max_states and i + 1 < len(states):
                result.complete, result.stop_reason = False, f"max states {max_states} reached"
                break
            i += 1
    result.seconds = time.perf_counter() - started
    result.transitions = transitions
    for o in observers:
        o.finish(result)
    if measure_memory:
        result.peak_memory_mb = peak_rss_mb()
    return result


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for the duration (the search collects the young generations
    at each look at the clock instead): a search allocates tuples for every transition and makes hardly any
    reference cycles, and the collector's passes over them cost about 4% of an unreduced search."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _fan_out(hooks: Sequence[Callable[[int, State], None]]) -> Callable[[int, State], None] | None:
    """One callable for a list of state hooks (the hook itself when there is one), or None for none."""
    if len(hooks) <= 1:
        return hooks[0] if hooks else None

    def all_hooks(sid: int, state: State) -> None:
        for hook in hooks:
            hook(sid, state)
    return all_hooks


def _poll(interrupt: Interrupt, deadline: float | None, now: float, max_memory: float | None,
          limits: Limits) -> str:
    """Why the search must stop now (Ctrl-C, the timeout, the memory limit), or ''."""
    if interrupt.raised:
        return "interrupted"
    if deadline is not None and now > deadline:
        return f"timeout after {limits.timeout:g} s"
    if max_memory is not None and peak_rss_mb() > max_memory:
        return f"memory limit {max_memory:g} MB reached"
    return ""
