"""Workqueues: work items, their queues and workers, and the four calls, written in the language's own terms.

A spec declares `workqueues: {netns_wq: {ordered: true}}` and `works: {cleanup_work: {queue: netns_wq,
run: cleanup_net}}`. Each work item is a shared variable of enum type `work_state` (WORK_IDLE,
WORK_PENDING, WORK_RUNNING, WORK_REQUEUED: running and queued again, WORK_CANCELING: running while
cancel_work_sync() holds its pending bit), readable in expressions and shown in traces. An ordered queue
holding several items also keeps each one's place in the queue (`<work>_pos`, 1 = the head, 0 = not queued).

The calls become ordinary statements here, so that every compilation (runtime, z3, Promela) and the
reference explorer run the same steps:

* `queue_work: WQ, WORK` -- one step: an idle item becomes pending, a running one requeued (it runs again
  after this run), a pending, requeued or canceling one is left alone; `result:` gets whether it was
  queued (the kernel's bool return).
* `flush_work: WORK` -- waits until the item is idle. `cancel_work_sync: WORK` -- one step takes the item
  off the queue (`result:`: whether it was pending) and marks a running one canceling, a second waits until
  that run returns. `flush_workqueue: WQ` -- waits until every item of the queue is idle.
* The workers are daemon threads: an ordered queue has one (`<wq>_worker`) running its items one at a time
  in queue order; an unbound queue one per item (`<work>_worker`): different items run concurrently, one
  item never runs twice at once (the kernel's non-reentrancy). A worker rests at an idle wait; waking is a
  step, taking the first pending item another (none when a cancel_work_sync() took it off in between, as
  worker_thread() finds the worklist empty under the pool lock), then it calls the item's procedure, and
  marks it done in one more step (also after taking none).

Where the kernel is finer (kernel/workqueue.c): flush_work() and flush_workqueue() wait only for the
instances queued before the flush; here they wait until the item (the queue) is idle, which differs only
when another thread queues it again while the flush waits.

lockdep (the lock-order analysis, checker/analyses/lockorder.py): a worker holds `(wq_completion)WQ` and
`(work_completion)(&WORK)` while the item's procedure runs (process_one_work()); flush_work() and
cancel_work_sync() acquire the work's map (__flush_work()), flush_work() also the queue's (exclusively on an
ordered queue, as a recursive reader on an unbound one: start_flush_work()), flush_workqueue() the queue's.
Each await carries the maps it acquires (`Await.maps`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from .errors import Span
from .expr import Expr, Scope, parse_condition, parse_expr
from .spec import Assign, Await, If, Invoke, Procedure, Stmt, ThreadDecl, While, WorkCall, WorkDecl, WorkqueueDecl
from .types import EnumT, IntT

WORK_STATE = "work_state"
IDLE, PENDING, RUNNING, REQUEUED, CANCELING = (
    "WORK_IDLE", "WORK_PENDING", "WORK_RUNNING", "WORK_REQUEUED", "WORK_CANCELING")
WORK_STATES = (IDLE, PENDING, RUNNING, REQUEUED, CANCELING)
WORK_TYPE = EnumT(WORK_STATE, WORK_STATES)
BUSY = (RUNNING, REQUEUED, CANCELING)   # a worker is running the item: it holds the item's lockdep map
WORKQUEUE_KEYS = ("ordered", "about")
WORK_KEYS = ("queue", "run", "about")
WORK_CALLS = ("queue_work", "flush_work", "cancel_work_sync", "flush_workqueue")


def work_map(work: str) -> str:
    """The lockdep class of a work item's map, as lockdep prints it."""
    return f"(work_completion)(&{work})"


def queue_map(queue: str) -> str:
    """The lockdep class of a workqueue's map."""
    return f"(wq_completion){queue}"


@dataclass(frozen=True)
class Works:
    """The declared queues and items, and the names the spec uses for them."""

    queues: tuple[WorkqueueDecl, ...]
    works: tuple[WorkDecl, ...]

    def queue(self, name: str) -> WorkqueueDecl:
        return next(q for q in self.queues if q.name == name)

    def work(self, name: str) -> WorkDecl:
        return next(w for w in self.works if w.name == name)

    def items(self, queue: str) -> tuple[WorkDecl, ...]:
        return tuple(w for w in self.works if w.queue == queue)

    def positioned(self, queue: str) -> bool:
        """The queue keeps its items' places (ordered, more than one item)."""
        return self.queue(queue).ordered and len(self.items(queue)) > 1

    def pos(self, work: str) -> str | None:
        """The variable holding the item's place in its queue, if its queue keeps one."""
        return position_var(work) if self.positioned(self.work(work).queue) else None

    def worker(self, work: str) -> str:
        """The thread that runs the item."""
        w = self.work(work)
        return worker_name(w.queue if self.queue(w.queue).ordered else w.name)


def position_var(work: str) -> str:
    return f"{work}_pos"


def worker_name(owner: str) -> str:
    return f"{owner}_worker"


def worker_proc(owner: str) -> str:
    return f"{owner}_worker_thread"


def state_vars(works: Works) -> list[tuple[str, object, int, Span]]:
    """(name, type, initial value, span) of the variables the items need: each item's state, and its
    place on an ordered queue holding several."""
    out: list[tuple[str, object, int, Span]] = []
    for w in works.works:
        out.append((w.name, WORK_TYPE, 0, w.span))
    for w in works.works:
        if works.positioned(w.queue):
            out.append((position_var(w.name), IntT(0, len(works.items(w.queue))), 0, w.span))
    return out


class Lowering:
    """Builds the statements of the calls and of the workers, parsing generated expression text in a scope."""

    def __init__(self, works: Works):
        self.works = works

    def _e(self, text: str, scope: Scope, span: Span) -> Expr:
        return parse_expr(text, scope, span)

    def _c(self, text: str, scope: Scope, span: Span) -> Expr:
        return parse_condition(text, scope, span)

    def _assign(self, pairs: Sequence[tuple[str, str]], scope: Scope, span: Span, text: str) -> Assign:
        return Assign(span, text, tuple(self._e(t, scope, span) for t, _ in pairs),
                      tuple(self._e(v, scope, span) for _, v in pairs))

    def _shift(self, work: str, removed: str) -> list[tuple[str, str]]:
        """The other items of `work`'s queue move up one place when `removed` (a condition) takes it off."""
        pos = self.works.pos(work)
        if pos is None:
            return []
        out = []
        for other in self.works.items(self.works.work(work).queue):
            p = position_var(other.name)
            if other.name != work:
                out.append((p, f"{p} - 1 if ({removed}) and {p} > {pos} else {p}"))
        out.append((pos, "0" if removed == "True" else f"0 if ({removed}) else {pos}"))
        return out

    def queue_work(self, work: str, result: Expr | None, scope: Scope, span: Span, text: str) -> tuple[Stmt, ...]:
        queued = f"{work} == {IDLE} or {work} == {RUNNING}"
        pairs = [(work, f"{PENDING} if {work} == {IDLE} else ({REQUEUED} if {work} == {RUNNING} else {work})")]
        pos = self.works.pos(work)
        if pos is not None:
            queue = self.works.work(work).queue
            count = " + ".join(f"(1 if {position_var(o.name)} > 0 else 0)" for o in self.works.items(queue))
            pairs.append((pos, f"{count} + 1 if ({queued}) else {pos}"))
        stmt = self._assign(pairs, scope, span, text)
        if result is not None:
            stmt = Assign(span, text, (result, *stmt.targets), (self._c(queued, scope, span), *stmt.values))
        return (replace(stmt, work_call=WorkCall("queue_work", self.works.work(work).queue, work, result)),)

    def flush_work(self, work: str, scope: Scope, span: Span, text: str) -> tuple[Stmt, ...]:
        queue = self.works.queue(self.works.work(work).queue)
        maps = ((work_map(work), "mutex"), (queue_map(queue.name), "mutex" if queue.ordered else "rread"))
        return (Await(span, text, self._c(f"{work} == {IDLE}", scope, span), False, maps,
                      work_call=WorkCall("flush_work", queue.name, work)),)

    def cancel_work_sync(self, work: str, result: Expr | None, scope: Scope, span: Span,
                         text: str) -> tuple[Stmt, ...]:
        pending = f"{work} == {PENDING} or {work} == {REQUEUED}"
        running = f"{work} == {RUNNING} or {work} == {REQUEUED} or {work} == {CANCELING}"
        pairs = [(work, f"{CANCELING} if ({running}) else {IDLE}"), *self._shift(work, pending)]
        grab = self._assign(pairs, scope, span, text)
        if result is not None:
            grab = Assign(span, text, (result, *grab.targets), (self._c(pending, scope, span), *grab.values))
        call = WorkCall("cancel_work_sync", self.works.work(work).queue, work, result)
        wait = Await(span, text, self._c(f"{work} != {CANCELING}", scope, span), False, ((work_map(work), "mutex"),),
                     work_call=replace(call, step=1))
        return replace(grab, work_call=call), wait

    def flush_workqueue(self, queue: str, scope: Scope, span: Span, text: str) -> tuple[Stmt, ...]:
        items = self.works.items(queue)
        cond = " and ".join(f"{w.name} == {IDLE}" for w in items) or "True"
        return (Await(span, text, self._c(cond, scope, span), False, ((queue_map(queue), "mutex"),),
                      work_call=WorkCall("flush_workqueue", queue)),)

    # -- the workers

    def workers(self, scope: Scope) -> tuple[list[Procedure], list[ThreadDecl]]:
        """One procedure and one daemon thread per ordered queue, and per item of an unbound queue."""
        procs, threads = [], []
        for q in self.works.queues:
            items = self.works.items(q.name)
            groups = [(q.name, items, q.span)] if q.ordered else [(w.name, (w,), w.span) for w in items]
            for owner, group, span in groups:
                if not group:
                    continue
                proc = self._worker(owner, group, scope, span)
                procs.append(proc)
                threads.append(ThreadDecl(worker_name(owner), proc.name, (), "", (), 1, True, span))
        return procs, threads

    def _worker(self, owner: str, group: tuple[WorkDecl, ...], scope: Scope, span: Span) -> Procedure:
        local_scope = scope.with_locals({"cur": IntT(-1, len(group) - 1)})
        queue = group[0].queue
        ordered = self.works.positioned(queue)

        def head(w: WorkDecl) -> str:
            return f"{position_var(w.name)} == 1" if ordered else f"{w.name} == {PENDING}"

        wait = Await(span, f"{worker_proc(owner)}: wait for work", self._c(
            " or ".join(head(w) for w in group), local_scope, span), True)
        cur = " else ".join(f"{i} if {head(w)}" for i, w in enumerate(group)) + " else -1"
        pairs = [("cur", cur)]
        for w in group:
            pairs.append((w.name, f"{RUNNING} if {head(w)} else {w.name}"))
        if ordered:
            pairs.extend((position_var(w.name), f"max({position_var(w.name)} - 1, 0)") for w in group)
        take = self._assign(pairs, local_scope, span, "process_one_work: take the first pending item")
        calls: tuple[Stmt, ...] = ()
        for i, w in reversed(list(enumerate(group))):
            call = Invoke(w.span, f"{w.run}()", w.run, ())
            calls = (If(w.span, f"{w.name}->func()", self._c(f"cur == {i}", local_scope, w.span), (call,), calls),)
        # the item's state after its run; `cur` back to its first value, so that a resting worker does not
        # remember which item it ran last (the kernel's worker keeps nothing of it)
        done = self._assign([*((w.name, f"{PENDING} if {w.name} == {REQUEUED} else ({IDLE} if {w.name} == {RUNNING} "
                                f"or {w.name} == {CANCELING} else {w.name})") for w in group), ("cur", "0")],
                            local_scope, span, "process_one_work: the item returned")
        loop = While(span, "worker_thread", self._c("True", local_scope, span), (wait, take, *calls, done))
        return Procedure(worker_proc(owner), (), None, (("cur", IntT(-1, len(group) - 1)),), (loop,), span)


def map_holders(works: Works) -> Mapping[str, tuple[tuple[str, tuple[str, ...]], ...]]:
    """Per worker thread name, the items it runs and the lockdep maps it holds while one of them is busy."""
    out: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for w in works.works:
        out.setdefault(works.worker(w.name), []).append((w.name, (queue_map(w.queue), work_map(w.name))))
    return {k: tuple(v) for k, v in out.items()}


__all__ = ["BUSY", "Lowering", "WORK_CALLS", "WORK_KEYS", "WORK_STATE", "WORK_STATES", "WORK_TYPE",
           "WORKQUEUE_KEYS", "Works", "map_holders", "queue_map", "state_vars", "work_map", "worker_name"]
