"""Wait queues as data: per operation, the ordered rules of its one step.

A wait queue's slot holds the threads sleeping on it, one bit per thread, and above those (bit N + t, N
threads) a bit per exclusive sleeper (WQ_FLAG_EXCLUSIVE). Each thread has one wait entry
(DEFINE_WAIT): it is on at most one queue at a time, and it sleeps (its task state is not TASK_RUNNING)
exactly while it is on one, because every waker in the kernel's wait_event() family wakes with
autoremove_wake_function(): a woken entry leaves the queue and its task runs again.

- prepare_to_wait(wq): the entry joins wq and the task state becomes "about to sleep" (one step: the
  kernel does both under wq's lock). prepare_to_wait_exclusive(wq): the same as an exclusive waiter
  (prepare_to_wait() clears the flag again).
- schedule(): blocks while the thread is on a queue; a thread already woken (or never queued: its task
  state is TASK_RUNNING) goes on at once. That is what makes prepare_to_wait, test, schedule safe: a
  wake-up between the test and schedule() takes the thread off the queue, so schedule() does not sleep.
- finish_wait(wq): off the queue, running.
- wake_up(wq): every non-exclusive sleeper on wq leaves it and runs, and one exclusive sleeper
  (__wake_up_common() with nr_exclusive 1). The kernel wakes the exclusive entry queued first; the model
  lets it be any one (one outcome per exclusive sleeper: the kernel's choice among them). wake_up_all(wq):
  every sleeper.
- wait_event(wq, COND): the loop of include/linux/wait.h ___wait_event() as one program point. Off the
  queue, it tests COND: true, it is done; false, it joins the queue (prepare_to_wait_event() and the test
  that follows are one step: a wake-up in between takes it off again, and the next test sees COND). On
  the queue, it sleeps until a wake_up takes it off, and tests again. The first test before joining is
  wait_event()'s fast path.
- wait_event_killable: a fatal signal ends the sleep; the kernel tests COND once more (a true COND is a
  success), else the wait returns -ERESTARTSYS (on_fail:).
- wait_event_interruptible: as wait_event_killable (any signal ends it; the model has one kind of signal).
- wait_event_idle_exclusive, wait_event_interruptible_exclusive: as wait_event and
  wait_event_interruptible, the entry joining as an exclusive waiter (___wait_event() with exclusive 1).
- wait_event_timeout: on the queue, the timeout may expire at any time (nondeterministically): COND true
  then is still a success (___wait_cond_timeout()), else the wait returns 0 (on_fail:).

The waits sleep: in atomic context (a spinlock held, inside an RCU read-side section) they are a
`lock_discipline` violation, as might_sleep() and "scheduling while atomic" report. prepare_to_wait,
finish_wait and the wait_event family on a queue other than the one the thread's entry is on are a
`runtime_safety` violation (the kernel would leave the entry where it is: list_empty() fails).

model/semantics/runtime.py compiles these rules to the explorer's closures, relation.py to z3 and
promela.py to Promela (tests/reference_explorer.py implements them again, from docs/semantics.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cache

from ..lang.waitapi import WAIT_API


class WTest(Enum):
    """What a rule asks (all of a rule's tests must hold)."""

    ALWAYS = "always"
    ATOMIC = "atomic"          # sleeping is forbidden here (a spinlock held, inside an RCU read side)
    ELSEWHERE = "elsewhere"    # the thread's entry is on another wait queue than this one
    QUEUED = "queued"          # the thread's entry is on some wait queue (it sleeps in schedule())
    ON = "on"                  # the thread's entry is on this wait queue
    COND = "cond"              # the wait's condition holds


class WEffect(Enum):
    NONE = "none"
    ADD = "add"                # the thread joins this queue
    ADD_EXCLUSIVE = "add_exclusive"   # the thread joins this queue as an exclusive waiter
    REMOVE = "remove"          # the thread leaves this queue
    WAKE = "wake"              # every thread on this queue leaves it
    WAKE_ONE = "wake_one"      # every non-exclusive thread leaves it, and one exclusive thread (each a choice)


class WThen(Enum):
    NEXT = "next"
    FAIL = "fail"              # on_fail: (a killed or timed-out wait with the condition false)
    STAY = "stay"              # the same program point (it now sleeps on the queue)
    BLOCK = "block"            # no step
    VIOLATE = "violate"


@dataclass(frozen=True)
class WRule:
    tests: tuple[WTest, ...]
    effect: WEffect = WEffect.NONE
    then: WThen = WThen.NEXT
    message: str = ""          # with VIOLATE ("" for ATOMIC: the atomic context's own description)
    prop: str = "runtime_safety"


RUNTIME, DISCIPLINE = "runtime_safety", "lock_discipline"
ELSEWHERE_MESSAGE = "the thread's wait entry is still on another wait queue (finish_wait() it first)"

_A, _E, _Q, _O, _C = WTest.ATOMIC, WTest.ELSEWHERE, WTest.QUEUED, WTest.ON, WTest.COND
_ALWAYS = (WTest.ALWAYS,)
_SLEEP = WRule((_A,), then=WThen.VIOLATE, prop=DISCIPLINE)
_MISPLACED = WRule((_E,), then=WThen.VIOLATE, message=ELSEWHERE_MESSAGE)
# wait_event's loop: sleeping on the queue, done when COND holds, else join the queue and sleep
_WAIT = (WRule((_O,), then=WThen.BLOCK), WRule((_C,)), WRule(_ALWAYS, WEffect.ADD, WThen.STAY))
_WAIT_EXCLUSIVE = (*_WAIT[:2], WRule(_ALWAYS, WEffect.ADD_EXCLUSIVE, WThen.STAY))


def exclusive_bit(tid: int, threads: int) -> int:
    """The bit marking thread `tid`'s entry on a wait queue as exclusive (`threads` threads in all)."""
    return 1 << (threads + tid)


def woken_by_wake_up(v: int, threads: int) -> tuple[int, ...]:
    """The queue's possible values after wake_up(): the non-exclusive sleepers leave, and one of the
    exclusive ones (each its own outcome); no exclusive sleeper: the queue is empty."""
    low = (1 << threads) - 1
    exclusive = v >> threads & low
    kept = exclusive | exclusive << threads
    out = tuple(kept & ~(1 << t | exclusive_bit(t, threads)) for t in range(threads) if exclusive >> t & 1)
    return out or (0,)


@cache
def wait_rules(op: str, signal: bool = False) -> tuple[WRule, ...]:
    """The rules of a wait-queue operation's step; with `signal`, of the fatal signal that ends a killable
    wait (() when there is none)."""
    info = WAIT_API[op]
    if signal:
        if not info.signalled:
            return ()
        return (WRule((_A,), then=WThen.BLOCK), WRule((_E,), then=WThen.BLOCK),
                WRule((_O, _C), WEffect.REMOVE), WRule((_C,), then=WThen.BLOCK),
                WRule(_ALWAYS, WEffect.REMOVE, WThen.FAIL))
    if info.timeout:
        return (_SLEEP, _MISPLACED, WRule((_O, _C), WEffect.REMOVE), WRule((_O,), WEffect.REMOVE, WThen.FAIL),
                *_WAIT[1:])
    if info.cond:
        return (_SLEEP, _MISPLACED, *(_WAIT_EXCLUSIVE if info.exclusive else _WAIT))
    rules: dict[str, tuple[WRule, ...]] = {
        "prepare_to_wait": (_MISPLACED, WRule(_ALWAYS, WEffect.ADD)),
        "prepare_to_wait_exclusive": (_MISPLACED, WRule(_ALWAYS, WEffect.ADD_EXCLUSIVE)),
        "finish_wait": (_MISPLACED, WRule(_ALWAYS, WEffect.REMOVE)),
        "schedule": (_SLEEP, WRule((_Q,), then=WThen.BLOCK), WRule(_ALWAYS)),
        "wake_up": (WRule(_ALWAYS, WEffect.WAKE_ONE),),
        "wake_up_all": (WRule(_ALWAYS, WEffect.WAKE),),
    }
    return rules[op]


__all__ = ["ELSEWHERE_MESSAGE", "WEffect", "WRule", "WTest", "WThen", "exclusive_bit", "wait_rules", "woken_by_wake_up"]
