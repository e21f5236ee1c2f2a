"""The kernel wait-queue API a spec may call: wait_event() and its open-coded parts, one table.

A wait queue is a state variable of type wait_queue_head_t (per: an entity for one per object). It holds
the threads sleeping on it; it is not a value (expressions cannot read it). Each thread has one wait
entry (DEFINE_WAIT): it is on at most one queue at a time. What each operation does, as rules, is
model/semantics/waitqueues.py.

Kernel references: include/linux/wait.h (wait_event(), ___wait_event(): prepare_to_wait_event(), test
the condition, schedule(), finish_wait()), kernel/sched/wait.c (prepare_to_wait(), finish_wait(),
autoremove_wake_function(): a woken entry leaves the queue and its task runs, __wake_up(), and
__wake_up_common() with nr_exclusive 1: every non-exclusive entry and one exclusive entry are woken;
prepare_to_wait_exclusive() sets WQ_FLAG_EXCLUSIVE and queues at the tail),
Documentation/memory-barriers.txt ("SLEEP AND WAKE-UP FUNCTIONS": set the task state before testing the
condition, or the wake-up can be lost).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class WaitOpInfo:
    """One wait-queue operation.

    `queue`: takes the wait queue (all but schedule). `cond`: takes a condition after it (the wait_event
    family: `wait_event: WQ, COND`). `sleeps`: may sleep (forbidden in atomic context: under a spinlock,
    in an RCU read-side section). `killable`: a fatal signal ends the wait; `interruptible`: any signal
    ends it (-ERESTARTSYS; the model has one kind of signal, so it ends the same way as a killable wait);
    `timeout`: the wait may give up (all three need on_fail:, where the wait ends with the condition
    false). `exclusive`: the thread's entry joins the queue as an exclusive waiter (WQ_FLAG_EXCLUSIVE):
    wake_up() wakes one of them, wake_up_all() all.
    """

    name: str
    queue: bool = True
    cond: bool = False
    sleeps: bool = False
    killable: bool = False
    timeout: bool = False
    interruptible: bool = False
    exclusive: bool = False

    @property
    def signalled(self) -> bool:
        """A signal ends the wait (the killable and interruptible forms)."""
        return self.killable or self.interruptible

    @property
    def needs_on_fail(self) -> bool:
        """The wait can end with the condition false: on_fail: says what happens then."""
        return self.signalled or self.timeout

    @property
    def joins(self) -> bool:
        """The operation puts the thread's wait entry on the queue (prepare_to_wait*, wait_event*)."""
        return self.cond or self.name.startswith("prepare_to_wait")


# In the order they are listed to spec authors.
_TABLE = (
    WaitOpInfo("wait_event", cond=True, sleeps=True),
    WaitOpInfo("wait_event_killable", cond=True, sleeps=True, killable=True),
    WaitOpInfo("wait_event_interruptible", cond=True, sleeps=True, interruptible=True),
    WaitOpInfo("wait_event_timeout", cond=True, sleeps=True, timeout=True),
    WaitOpInfo("wait_event_idle_exclusive", cond=True, sleeps=True, exclusive=True),
    WaitOpInfo("wait_event_interruptible_exclusive", cond=True, sleeps=True, interruptible=True, exclusive=True),
    WaitOpInfo("wake_up"),
    WaitOpInfo("wake_up_all"),
    WaitOpInfo("prepare_to_wait"),
    WaitOpInfo("prepare_to_wait_exclusive", exclusive=True),
    WaitOpInfo("schedule", queue=False, sleeps=True),
    WaitOpInfo("finish_wait"),
)
WAIT_API: Mapping[str, WaitOpInfo] = MappingProxyType({info.name: info for info in _TABLE})


__all__ = ["WAIT_API", "WaitOpInfo"]
