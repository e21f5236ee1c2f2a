"""Who a blocked thread waits for in one state: the wait-for edges that deadlock explanations, stuck-thread
detection and wait chains behind slow steps are built from.

A thread blocked on a mutex waits for its owner. A thread queued on an rwsem waits for the holders
that exclude it and, as Linux rwsems are FIFO, for the waiters queued ahead that exclude it: a reader
waits behind every queued writer ahead of it (which itself waits for the read holders), a writer
behind everyone ahead. A thread in synchronize_rcu() waits for the readers its grace period waits for.
A thread in wait_for_completion() on a completion nobody has completed waits, like one in wait_event(), for
a condition (done > 0) that any thread may make true with complete(): an edge to no thread in particular.
A thread asleep on a wait queue (wait_event(), schedule() after prepare_to_wait()) waits for a wake_up().
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..lang.counterapi import COUNTER_API
from ..lang.lockapi import LOCK_API, mutex_wait_modes
from ..lang.rcucallbacks import head_var, instances
from ..lang.spec import Await, Rcu
from ..lang.waitapi import WAIT_API
from ..lang.works import Works, queue_map, work_map
from . import ir
from .evaluate import compile_expr
from .layout import wait_queue_slots
from .locks import read_depth, reader_tids
from .system import TransitionSystem

LOCK_RELATIONS = ("held", "held_read", "held_write", "queued_writer", "queued_ahead")
MUTEX_WAITS = mutex_wait_modes()   # acquires that wait on a mutex or spinlock held -> mutex or spin


@dataclass(frozen=True, order=True)
class WaitEdge:
    """`waiter` cannot go on until `target` does something: releases `lock`, leaves its RCU read-side
    section, or (target -1) until a condition holds."""

    waiter: int
    target: int
    relation: str      # held, held_read, held_write, queued_writer, queued_ahead, rcu_reader, work, callback,
    #                    condition
    lock: str = ""     # lock instance ('' for grace periods and conditions)
    want: str = ""     # mutex, spin, read, write, grace period, condition
    location: str = ""  # where the waiter stands
    statement: str = ""


def _lock_name(system: TransitionSystem, base: int) -> str:
    return system.layout.slots[base].name.rsplit(".", 1)[0]


def blockers(system: TransitionSystem, s: Sequence, tid: int, conditions: bool = True) -> tuple[WaitEdge, ...]:
    """What thread `tid` waits for in state `s` (empty when it can step, or has finished)."""
    node = system.node_at(s, tid)
    if node is None or node.stmt is None:
        return ()
    loc, text = node.stmt.span.short, node.stmt.text
    # a lock index that does not evaluate (None) is no wait: that step is a runtime_safety violation
    if isinstance(node, ir.LockCall) and node.op in MUTEX_WAITS:
        b = system.lock_slot(node, s)
        if b is None or s[b] in (-1, tid):
            return ()
        return (WaitEdge(tid, s[b], "held", _lock_name(system, b), MUTEX_WAITS[node.op], loc, text),)
    if isinstance(node, ir.LockWait):
        b = system.lock_slot(node, s)
        if b is None:
            return ()
        writer = LOCK_API[node.op].mode == "write"
        entry = tid * 2 + writer
        queue = s[b + 2]
        if entry not in queue:
            return ()
        name, want = _lock_name(system, b), "write" if writer else "read"
        out = []
        if s[b] != -1:
            out.append(WaitEdge(tid, s[b], "held_write", name, want, loc, text))
        ahead = queue[:queue.index(entry)]
        if writer:
            out.extend(WaitEdge(tid, r, "held_read", name, want, loc, text) for r in reader_tids(s[b + 1]))
            out.extend(WaitEdge(tid, w >> 1, "queued_ahead", name, want, loc, text) for w in ahead)
        else:
            out.extend(WaitEdge(tid, w >> 1, "queued_writer", name, want, loc, text) for w in ahead if w & 1)
        return tuple(out)
    if isinstance(node, ir.GraceWait) and node.op in ("synchronize_rcu", "synchronize_srcu") and \
            system.layout.domain(node.domain)[1]:
        pending = s[system.layout.domain(node.domain)[1][tid]]
        return tuple(WaitEdge(tid, r, "rcu_reader", node.domain, "grace period", loc, text)
                     for r in range(len(system.threads)) if pending >> r & 1)
    if conditions and isinstance(node, ir.CounterCall) and COUNTER_API[node.op].waits and not \
            COUNTER_API[node.op].timeout:
        assert node.place is not None
        try:
            done = compile_expr(node.place.target, node.place.env)(s)
        except Exception:  # noqa: BLE001 - a failing index is reported as runtime_safety
            return ()
        if done == 0:
            return (WaitEdge(tid, -1, "condition", "", "completion", loc, text),)
        return ()
    if conditions and isinstance(node, ir.WaitCall) and WAIT_API[node.op].sleeps and \
            any(s[j] >> tid & 1 for j in wait_queue_slots(system.layout)):
        # asleep on a wait queue: it waits for a wake_up() that any thread may call
        return (WaitEdge(tid, -1, "condition", "", "wake_up", loc, text),)
    if isinstance(node, ir.Await) and isinstance(node.stmt, Await) and node.stmt.maps:
        workers = _flush_workers(system, s, node)
        if workers:
            return tuple(WaitEdge(tid, w, "work", lock, "flush", loc, text) for w, lock in workers if w != -1)
    if isinstance(node, ir.Await) and isinstance(node.stmt, Rcu):   # rcu_barrier() waiting for callbacks
        return tuple(WaitEdge(tid, t, "callback", name, "rcu_barrier", loc, text) for t, name in _callbacks(system, s))
    if conditions and isinstance(node, ir.Await):
        try:
            ready = bool(system.condition(node)(s))
        except Exception:  # noqa: BLE001 - a failing condition is reported as runtime_safety
            ready = False
        if not ready:
            return (WaitEdge(tid, -1, "condition", "", "condition", loc, text),)
    return ()


def _flush_workers(system: TransitionSystem, s: Sequence, node: ir.Await) -> list[tuple[int, str]]:
    """(worker thread, work item) for each item a flush (an await with lockdep maps) waits for: an item of
    the flushed work or queue that is not idle (model/lang/works.py)."""
    spec = system.spec
    works = Works(spec.workqueues, spec.works)
    names = {cls for cls, _ in node.stmt.maps} if isinstance(node.stmt, Await) else set()
    by_decl = {t.decl: t.tid for t in system.threads}
    out = []
    for w in spec.works:
        if work_map(w.name) in names or (queue_map(w.queue) in names and len(names) == 1):
            if s[system.layout.shared[w.name][0]] != 0:
                out.append((by_decl.get(works.worker(w.name), -1), w.name))
    return out


def _callbacks(system: TransitionSystem, s: Sequence) -> list[tuple[int, str]]:
    """(thread, callback) for each RCU callback queued or running (model/lang/rcucallbacks.py)."""
    out = []
    by_name = {t.name: t.tid for t in system.threads}
    for d in system.spec.rcu_callbacks:
        base = system.layout.shared[head_var(d.name)][0]
        for k, name in enumerate(instances(d, system.spec.entity(d.entity).elements if d.entity else ())):
            if s[base + k] != 0:
                out.append((by_name[name], d.name))
    return sorted(out)


def waited_for(system: TransitionSystem, s: Sequence, tid: int) -> frozenset[int]:
    """Every thread `tid` waits for in state `s`, directly or through the threads those wait for (lock
    holders, queued writers ahead, RCU readers a grace period waits for)."""
    seen: set[int] = set()
    todo = [tid]
    while todo:
        for edge in blockers(system, s, todo.pop(), conditions=False):
            if edge.target not in seen and edge.target != tid:
                seen.add(edge.target)
                todo.append(edge.target)
    return frozenset(seen)


def holds(system: TransitionSystem, s: Sequence, tid: int, lock: str) -> bool:
    """Whether `tid` holds the lock instance named `lock` in any mode."""
    for index, slot in enumerate(system.layout.slots):
        if slot.kind == "lock_owner" and slot.name.rsplit(".", 1)[0] == lock:
            return s[index] == tid or (system.layout.lock_kinds[slot.var] == "rwsem"
                                       and bool(read_depth(s[index + 1], tid)))
    return False
