"""The kernel counter APIs a spec may call: refcount_t, atomic_t and completions, one table.

A counter is a variable of type refcount_t[0..N], atomic_t[LO..HI] or completion[N] (model/lang/types.py).
Expressions read it as an int (refcount_read(x), atomic_read(x) or plainly x); only these operations change
it, each one atomic step. What each does, as rules, is model/semantics/counters.py.
Kernel references: include/linux/refcount.h, include/linux/atomic/atomic-instrumented.h,
kernel/sched/completion.c, Documentation/scheduler/completion.rst.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .types import Counter


@dataclass(frozen=True)
class CounterOpInfo:
    """One counter operation.

    `value`: takes a second argument, the value to set (refcount_set, atomic_set). `tests`: returns a bool
    the kernel marks __must_check (the spec says what happens when it is false with on_fail:, or stores it
    with result:). `waits`: sleeps until the completion is done (forbidden in atomic context). `killable`:
    a fatal signal may end the wait; `timeout`: the wait may give up (both need on_fail:).
    """

    name: str
    kind: Counter
    value: bool = False
    tests: bool = False
    waits: bool = False
    killable: bool = False
    timeout: bool = False

    @property
    def can_fail(self) -> bool:
        """The operation has a failure path: a false result, a fatal signal, a timeout."""
        return self.tests or self.killable or self.timeout

    @property
    def needs_on_fail(self) -> bool:
        """A wait that can end without the completion (killable, timeout): on_fail: is required."""
        return self.killable or self.timeout


_R, _A, _C = Counter.REFCOUNT, Counter.ATOMIC, Counter.COMPLETION
# In the order they are listed to spec authors.
_TABLE = (
    CounterOpInfo("refcount_set", _R, value=True),
    CounterOpInfo("refcount_inc", _R),
    CounterOpInfo("refcount_inc_not_zero", _R, tests=True),
    CounterOpInfo("refcount_dec", _R),
    CounterOpInfo("refcount_dec_and_test", _R, tests=True),
    CounterOpInfo("atomic_set", _A, value=True),
    CounterOpInfo("atomic_inc", _A),
    CounterOpInfo("atomic_inc_not_zero", _A, tests=True),
    CounterOpInfo("atomic_dec", _A),
    CounterOpInfo("atomic_dec_and_test", _A, tests=True),
    CounterOpInfo("init_completion", _C),
    CounterOpInfo("reinit_completion", _C),
    CounterOpInfo("complete", _C),
    CounterOpInfo("complete_all", _C),
    CounterOpInfo("wait_for_completion", _C, waits=True),
    CounterOpInfo("wait_for_completion_killable", _C, waits=True, killable=True),
    CounterOpInfo("wait_for_completion_timeout", _C, waits=True, timeout=True),
    CounterOpInfo("try_wait_for_completion", _C, tests=True),
)
COUNTER_API: Mapping[str, CounterOpInfo] = MappingProxyType({info.name: info for info in _TABLE})

# Reading a counter in an expression, by kind (the value itself).
COUNTER_READS: Mapping[str, Counter] = MappingProxyType({"refcount_read": _R, "atomic_read": _A})


def counter_op(name: str) -> CounterOpInfo | None:
    """The counter operation of that name, or None."""
    return COUNTER_API.get(name)


__all__ = ["COUNTER_API", "COUNTER_READS", "CounterOpInfo", "counter_op"]
