"""The lock API and RCU as data: per operation, the ordered rules of its step, from one table.

A rule is a test on the lock instance (or the thread's RCU state), the effects on it, and where the
thread goes: on to the next statement, to the failure path (trylock, fatal signal), into the rwsem's
wait queue, nowhere (blocked), or a `lock_discipline` violation with its message. The first rule whose
test holds applies. `lock_rules` derives every operation's rules from its flags in LOCK_API
(model/lang/lockapi.py); model/semantics/runtime.py compiles them to the explorer's closures and
model/semantics/relation.py to z3, so the lock semantics is written here once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cache

from ..lang.lockapi import LOCK_API


class Test(Enum):
    """What a rule asks about a lock instance and the current thread (or its RCU state)."""

    ALWAYS = "always"
    ATOMIC = "atomic"              # sleeping is forbidden here: a spinlock held, inside an RCU read side
    FREE = "free"                  # no owner (a mutex's or spinlock's holder, an rwsem's writer)
    MINE = "mine"                  # this thread is the owner
    NOT_MINE = "not_mine"
    OTHERS = "others"              # another thread is the owner
    HELD = "held"                  # this thread owns it or holds it for read
    NOT_READING = "not_reading"    # this thread holds no read hold
    READ_FULL = "read_full"        # this thread's read holds are at the maximum depth
    READ_NOW = "read_now"          # a reader gets it at once: no writer, nobody queued
    WRITE_NOW = "write_now"        # a writer gets it at once: no writer, no reader, nobody queued
    QUEUED = "queued"              # this thread waits in the queue (of the instance that holds it)
    RCU_FULL = "rcu_full"          # read-side nesting at its maximum
    RCU_OUT = "rcu_out"            # not inside an RCU read-side section
    RCU_IN = "rcu_in"              # inside one
    IRQS_OFF = "irqs_off"          # hardirqs are disabled (or the thread is a hardirq handler)
    HARDIRQ = "hardirq"            # the thread runs in hardirq context
    BH_FULL = "bh_full"            # softirq-disable nesting at its maximum
    BH_OUT = "bh_out"              # softirqs are not disabled by this thread
    GP_PENDING = "gp_pending"      # readers the thread's synchronize_rcu() waits for are still inside


class Effect(Enum):
    TAKE = "take"                  # this thread becomes the owner
    DROP = "drop"                  # no owner
    READ_UP = "read_up"            # one more read hold of this thread
    READ_DOWN = "read_down"
    ENQUEUE = "enqueue"            # this thread joins the tail of the wait queue
    DEQUEUE = "dequeue"            # this thread leaves the wait queue
    GRANT = "grant"                # hand the lock to the head of the queue (locks.rw_grant), moving them on
    RCU_UP = "rcu_up"
    RCU_DOWN = "rcu_down"          # and, leaving the outermost section, no longer hold up grace periods (nor,
    #                                for RCU, keep deleted list elements: their readers lose this thread)
    GP_START = "gp_start"          # a grace period starts: wait for the readers inside now
    IRQ_SAVE = "irq_save"          # the lock instance keeps the thread's hardirq state (spin_lock_irqsave)
    IRQ_OFF = "irq_off"            # hardirqs disabled
    IRQ_ON = "irq_on"              # hardirqs enabled
    IRQ_RESTORE = "irq_restore"    # hardirqs as the lock instance saved them (spin_unlock_irqrestore)
    BH_UP = "bh_up"                # softirqs disabled one level deeper (local_bh_disable())
    BH_DOWN = "bh_down"


class Then(Enum):
    NEXT = "next"
    FAIL = "fail"                  # the failure path (on_fail:)
    WAIT = "wait"                  # the program point where it sleeps in the queue
    BLOCK = "block"                # no step
    VIOLATE = "violate"            # a lock_discipline violation


@dataclass(frozen=True)
class Rule:
    test: Test
    effects: tuple[Effect, ...] = ()
    then: Then = Then.NEXT
    message: str = ""              # with VIOLATE ('' for ATOMIC: the message says which atomic context)


def _violate(test: Test, message: str = "") -> Rule:
    return Rule(test, then=Then.VIOLATE, message=message)


# The interrupt side of a spinlock operation (LockOpInfo.irq; "un" + it for the release): the checks before
# it (the warnings of __local_bh_disable_ip() and __local_bh_enable_ip() in kernel/softirq.c) and the effects
# after taking or dropping the lock. An acquire disables first, then spins; a blocked one changes nothing.
IRQ_EFFECTS: dict[str, tuple[tuple[Rule, ...], tuple[Effect, ...]]] = {
    "": ((), ()),
    "irq": ((), (Effect.IRQ_OFF,)),
    "irqsave": ((), (Effect.IRQ_SAVE, Effect.IRQ_OFF)),
    "bh": ((_violate(Test.HARDIRQ, "softirqs disabled in hardirq context (local_bh_disable() warns)"),
            _violate(Test.BH_FULL, "softirq-disable nesting too deep")), (Effect.BH_UP,)),
    "unirq": ((), (Effect.IRQ_ON,)),
    "unirqsave": ((), (Effect.IRQ_RESTORE,)),
    "unbh": ((_violate(Test.IRQS_OFF, "softirqs enabled with hardirqs disabled (local_bh_enable() warns)"),
              _violate(Test.BH_OUT, "softirqs are not disabled (no matching spin_lock_bh)")), (Effect.BH_DOWN,)),
}


@cache
def lock_rules(op: str, waiting: bool = False, signal: bool = False) -> tuple[Rule, ...]:
    """The rules of a lock operation's step: the call itself, or (`waiting`) its wait in an rwsem queue;
    with `signal`, the step a fatal signal takes there (() when there is none)."""
    info = LOCK_API[op]
    if waiting:
        if signal:
            return (Rule(Test.QUEUED, (Effect.DEQUEUE, Effect.GRANT), Then.FAIL),) if info.killable else ()
        return (Rule(Test.QUEUED, then=Then.BLOCK), Rule(Test.ALWAYS))
    if signal:
        killable_mutex = info.killable and not info.rw_mode
        return (Rule(Test.OTHERS, then=Then.FAIL),) if killable_mutex else ()
    atomic = (_violate(Test.ATOMIC),) if info.sleeps else ()
    fail_or_busy = Rule(Test.ALWAYS, then=Then.FAIL) if info.trylock else None
    if not info.rw_mode and info.acquires:
        busy = (fail_or_busy,) if fail_or_busy else (
            _violate(Test.MINE, "already held by this thread (self-deadlock)"), Rule(Test.ALWAYS, then=Then.BLOCK))
        checks, irq = IRQ_EFFECTS[info.irq]
        return (*atomic, *checks, Rule(Test.FREE, (Effect.TAKE, *irq)), *busy)
    if not info.rw_mode:
        checks, irq = IRQ_EFFECTS["un" + info.irq if info.irq else ""]
        return (_violate(Test.NOT_MINE, "this thread does not hold it"), *checks,
                Rule(Test.ALWAYS, (Effect.DROP, *irq)))
    queue = (fail_or_busy,) if fail_or_busy else (Rule(Test.ALWAYS, (Effect.ENQUEUE,), Then.WAIT),)
    if info.acquires and info.mode == "read":
        held = Rule(Test.MINE, then=Then.FAIL) if info.trylock else \
            _violate(Test.MINE, "already held for write by this thread (self-deadlock)")
        return (held, *atomic, _violate(Test.READ_FULL, "read-side nesting too deep"),
                Rule(Test.READ_NOW, (Effect.READ_UP,)), *queue)
    if info.acquires:
        held = Rule(Test.HELD, then=Then.FAIL) if info.trylock else \
            _violate(Test.HELD, "already held by this thread (self-deadlock)")
        return (held, *atomic, Rule(Test.WRITE_NOW, (Effect.TAKE,)), *queue)
    if info.mode == "read":
        return (_violate(Test.NOT_READING, "this thread does not hold it for read"),
                Rule(Test.ALWAYS, (Effect.READ_DOWN, Effect.GRANT)))
    effects = (Effect.DROP, Effect.READ_UP, Effect.GRANT) if info.downgrades else (Effect.DROP, Effect.GRANT)
    return (_violate(Test.NOT_MINE, "this thread does not hold it for write"), Rule(Test.ALWAYS, effects))


@cache
def rcu_rules(op: str, waiting: bool = False) -> tuple[Rule, ...]:
    """The rules of an RCU call's step, or (`waiting`) of the wait that follows synchronize_rcu() or
    rcu_barrier() (only a grace period has readers to wait for).

    The SRCU operations act on the domain their node names (its nesting and grace-period slots): an SRCU
    reader may sleep, and synchronize_srcu() inside the domain's own read-side section is a self-deadlock."""
    if waiting:
        pending = (Rule(Test.GP_PENDING, then=Then.BLOCK),) if op in ("synchronize_rcu", "synchronize_srcu") else ()
        return (*pending, Rule(Test.ALWAYS))
    srcu = "S" if op.startswith("srcu") else ""
    if op in ("rcu_read_lock", "srcu_read_lock"):
        return (_violate(Test.RCU_FULL, "read-side nesting too deep"), Rule(Test.ALWAYS, (Effect.RCU_UP,)))
    if op in ("rcu_read_unlock", "srcu_read_unlock"):
        return (_violate(Test.RCU_OUT, f"not inside an {srcu}RCU read-side critical section"),
                Rule(Test.ALWAYS, (Effect.RCU_DOWN,)))
    if op == "synchronize_srcu":
        return (_violate(Test.RCU_IN, "called inside a read-side critical section of the same SRCU domain "
                         "(self-deadlock)"), _violate(Test.ATOMIC), Rule(Test.ALWAYS, (Effect.GP_START,)))
    start = (Effect.GP_START,) if op == "synchronize_rcu" else ()
    return (_violate(Test.RCU_IN, "called inside an RCU read-side critical section (deadlock)"),
            _violate(Test.ATOMIC), Rule(Test.ALWAYS, start))


__all__ = ["Effect", "Rule", "Test", "Then", "lock_rules", "rcu_rules"]
