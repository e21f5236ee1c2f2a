"""RCU callbacks: call_rcu() and kfree_rcu(), written in the language's own terms (as works.py does workqueues).

`call_rcu: free_net_rcu(n)` is the kernel's `call_rcu(&n->rcu, free_net_rcu)`: the callback is a spec procedure
that takes the object its rcu_head is embedded in (one element: the kernel's container_of()) or nothing (a
static rcu_head), and returns nothing. `kfree_rcu: x` is `kfree_rcu(x, rcu)`: its callback is netcheck's
procedure `kfree_rcu_<entity>(x)`, whose body is `kfree: x`. Each callback (each procedure, per element of its
entity) is one rcu_head:

* a state variable `<callback>_rcu_head` (`per:` the entity) of enum type `rcu_head_state`: RCU_HEAD_IDLE,
  RCU_HEAD_PENDING (queued), RCU_HEAD_RUNNING (its callback runs), RCU_HEAD_REQUEUED (it runs and was queued
  again by call_rcu(), as a callback may re-post itself), readable in expressions and shown in traces;
* a daemon thread `<callback>_rcu_cb` (one per element) in softirq context, as rcu_core() runs callbacks from
  RCU_SOFTIRQ (kernel/rcu/tree.c; an offloaded CPU's rcuoc kthread runs them with softirqs disabled): it rests
  while its rcu_head is not queued, then waits for the grace period (`CallbackGrace`: its own grace-period
  slot, which the call_rcu() step filled with the readers inside an RCU read-side section at that moment, and
  which each of them clears when it leaves its outermost section), marks the head running (rcu_do_batch()
  dequeues it before invoking it), calls the procedure, and marks it idle (or queued again). Its own waits
  are not sleeps of the spec's code (`Await.sleeps` false); a sleeping call in the callback is one, in softirq
  context: a lock_discipline violation.

The call_rcu() step itself is an IR node of its own (model/semantics/ir.py `CallRcu`): a queued rcu_head is a
runtime_safety violation ("double call_rcu", as CONFIG_DEBUG_OBJECTS_RCU_HEAD reports it; for kfree_rcu a double
free), else the head is queued and the daemon's grace period starts. Readers that enter a read-side section
after the call do not delay the callback. rcu_barrier() waits until every rcu_head is idle (`Spec.rcu_idle`);
the kernel's waits only for callbacks queued before it, which differs when one is queued again meanwhile.

lockdep has no map for rcu_barrier(); netcheck's lock-order graph gives each callback one,
`(rcu_callback)<callback>`, held while the daemon runs it and acquired by rcu_barrier()
(checker/analyses/lockorder.py), so that rcu_barrier() under a lock a callback takes is a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from .errors import Span
from .expr import Expr, Local, Scope, parse_condition, parse_expr
from .spec import Assign, Await, CallbackGrace, Entity, Free, Invoke, Procedure, RcuCallbackDecl, ThreadDecl, While
from .types import EnumT, RefT

RCU_HEAD_STATE = "rcu_head_state"
IDLE, PENDING, RUNNING, REQUEUED = "RCU_HEAD_IDLE", "RCU_HEAD_PENDING", "RCU_HEAD_RUNNING", "RCU_HEAD_REQUEUED"
RCU_HEAD_STATES = (IDLE, PENDING, RUNNING, REQUEUED)
RCU_HEAD_TYPE = EnumT(RCU_HEAD_STATE, RCU_HEAD_STATES)
QUEUED = (PENDING, REQUEUED)   # call_rcu() of the head now is a double call_rcu
BUSY = (RUNNING, REQUEUED)     # the daemon runs the callback: it holds the callback's lock-order map
RCU_CALLS = ("call_rcu", "kfree_rcu")


def head_var(callback: str) -> str:
    """The state variable holding the callback's rcu_head state."""
    return f"{callback}_rcu_head"


def callback_thread(callback: str, proc: bool = False) -> str:
    """The threads: entry whose instances run the callback, or (`proc`) the procedure they run."""
    return f"{callback}_rcu_cb" + ("_thread" if proc else "")


def instances(decl: RcuCallbackDecl, elements: Sequence[str]) -> tuple[str, ...]:
    """The names of the callback's thread instances, one per rcu_head (`elements`: its entity's): instance k runs
    the callback of element k's rcu_head, whose slot is the k-th of the head variable."""
    name = callback_thread(decl.name)
    return tuple(f"{name}[{el}]" for el in elements) if decl.entity else (name,)


def kfree_callback(entity: str) -> str:
    """The procedure kfree_rcu() of an `entity` element queues."""
    return f"kfree_rcu_{entity}"


def callback_map(callback: str) -> str:
    """The lock-order class of the callback (netcheck's: lockdep has none)."""
    return f"(rcu_callback){callback}"


def generated_names(decl: RcuCallbackDecl) -> tuple[str, ...]:
    """The names netcheck declares for a callback: its rcu_head variable, its thread, the thread's procedure,
    and kfree_rcu's procedure."""
    names = (head_var(decl.name), callback_thread(decl.name), callback_thread(decl.name, True))
    return (*names, decl.name) if decl.kfree else names


def state_vars(decls: Sequence[RcuCallbackDecl]) -> list[tuple[str, object, tuple, Span]]:
    """(name, type, per, span) of each callback's rcu_head variable."""
    return [(head_var(d.name), RCU_HEAD_TYPE, (d.entity,) if d.entity else (), d.span) for d in decls]


def _head(decl: RcuCallbackDecl) -> str:
    return f"{head_var(decl.name)}[x]" if decl.entity else head_var(decl.name)


def _parsed(scope: Scope, span: Span, text: str) -> Expr:
    return parse_expr(text, scope, span)


def idle_condition(decls: Sequence[RcuCallbackDecl], scope: Scope, span: Span) -> Expr | None:
    """No callback queued or running: what rcu_barrier() waits for (None: the spec has no callbacks)."""
    parts = [f"all({head_var(d.name)}[e] == {IDLE} for e in {d.entity})" if d.entity
             else f"{head_var(d.name)} == {IDLE}" for d in decls]
    return parse_condition(" and ".join(parts), scope, span) if parts else None


def threads(decls: Sequence[RcuCallbackDecl], entities: Sequence[Entity], scope: Scope) -> tuple[
        list[Procedure], list[ThreadDecl]]:
    """kfree_rcu's procedures, and per callback the procedure and the softirq daemon thread that runs it."""
    procs: list[Procedure] = []
    out: list[ThreadDecl] = []
    for d in decls:
        span = Span(d.span.file, d.span.line, 0)   # netcheck's statements: never the call's own (coverage)
        params = (("x", RefT(d.entity)),) if d.entity else ()
        x = Local(RefT(d.entity), span, "x")
        if d.kfree:
            procs.append(Procedure(d.name, params, None, (), (Free(span, "kfree(x)", x),), span))
        local_scope = scope.with_locals(dict(params))
        head = _head(d)
        e = partial(_parsed, local_scope, span)
        ready = Await(span, f"rcu_core(): {d.name} queued", parse_condition(f"{head} == {PENDING}", local_scope, span),
                      True, sleeps=False)
        grace = CallbackGrace(span, "rcu_do_batch(): wait for its grace period")
        take = Assign(span, "rcu_do_batch(): dequeue the rcu_head", (e(head),), (e(RUNNING),))
        call = Invoke(span, f"{d.name}({'x' if d.entity else ''})", d.name, (x,) if d.entity else ())
        done = Assign(span, f"{d.name}() returned", (e(head),),
                      (e(f"{PENDING} if {head} == {REQUEUED} else {IDLE}"),))
        loop = While(span, "rcu_core()", parse_condition("True", local_scope, span), (ready, grace, take, call, done))
        procs.append(Procedure(callback_thread(d.name, True), params, None, (), (loop,), span))
        domain = next(e.elements for e in entities if e.name == d.entity) if d.entity else ()
        out.append(ThreadDecl(callback_thread(d.name), callback_thread(d.name, True), (x,) if d.entity else (),
                              "x" if d.entity else "", domain, 1, True, span, "softirq"))
    return procs, out


__all__ = ["BUSY", "IDLE", "PENDING", "QUEUED", "RCU_CALLS", "RCU_HEAD_STATE", "RCU_HEAD_STATES", "RCU_HEAD_TYPE",
           "REQUEUED", "RUNNING", "callback_map", "callback_thread", "generated_names", "head_var",
           "idle_condition", "instances", "kfree_callback", "state_vars", "threads"]
