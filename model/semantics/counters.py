"""refcount_t, atomic_t and completions as data: per operation, the ordered rules of its one step.

A rule is a test on the counter's value v (in the declared range lo..hi; a completion's hi encodes
complete_all(), the kernel's UINT_MAX), an effect on it, and where the thread goes: on (a true result),
the failure path (a false result, on_fail:), nowhere (blocked), or a violation with the kernel's message.
The first rule whose test holds applies. model/semantics/runtime.py compiles the rules to the explorer's
closures, model/semantics/relation.py to z3 and model/semantics/promela.py to Promela, so the meaning is
written here once (tests/reference_explorer.py implements it again, independently, from the docs).

Kernel references: include/linux/refcount.h (the saturation warnings: "addition on 0; use-after-free",
"underflow; use-after-free", "decrement hit 0; leaking memory"), kernel/sched/completion.c (complete()
saturates at UINT_MAX, complete_all() sets it, a waiter takes one unless it is UINT_MAX).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cache

from ..lang.counterapi import COUNTER_API
from ..lang.types import Counter
from .actions import Then


class CTest(Enum):
    """What a rule asks about the counter's value v (and the thread)."""

    ALWAYS = "always"
    ATOMIC = "atomic"      # sleeping is forbidden here (a spinlock held, inside an RCU read side)
    ZERO = "zero"          # v == 0
    ONE = "one"            # v == 1
    LOW = "low"            # v == lo: one less leaves the declared range
    HIGH = "high"          # v == hi: one more leaves the declared range (a completion: hi - 1, hi is "all")
    ALL = "all"            # a completion after complete_all() (v == hi)
    OUTSIDE = "outside"    # the value to set is outside the declared range


class CEffect(Enum):
    NONE = "none"
    INC = "inc"
    DEC = "dec"
    CLEAR = "clear"        # v = 0
    ALL = "all"            # v = hi (complete_all)
    SET = "set"            # v = the operation's value


@dataclass(frozen=True)
class CRule:
    test: CTest
    effect: CEffect = CEffect.NONE
    then: Then = Then.NEXT
    message: str = ""      # with VIOLATE
    prop: str = "runtime_safety"


RUNTIME, DISCIPLINE = "runtime_safety", "lock_discipline"
ADD_ON_ZERO = "refcount_t: addition on 0; use-after-free"
UNDERFLOW = "refcount_t: underflow; use-after-free"
DEC_LEAK = "refcount_t: decrement hit 0; leaking memory"


def _violate(test: CTest, message: str, prop: str = RUNTIME) -> CRule:
    return CRule(test, then=Then.VIOLATE, message=message, prop=prop)


def _beyond(kind: Counter) -> str:
    """The message when a counter would leave its declared range (the model's bound, not a kernel limit)."""
    if kind is Counter.COMPLETION:
        return "more complete() calls pending than the declared completion[N] counts"
    return f"leaves the declared {kind.value} range"


@cache
def counter_rules(op: str, signal: bool = False) -> tuple[CRule, ...]:
    """The rules of a counter operation's step; with `signal`, of the fatal signal that ends a killable
    wait (() when there is none)."""
    info = COUNTER_API[op]
    if signal:
        return (CRule(CTest.ZERO, then=Then.FAIL),) if info.killable else ()
    beyond = _violate(CTest.HIGH, _beyond(info.kind))
    below = _violate(CTest.LOW, _beyond(info.kind))
    set_value = (_violate(CTest.OUTSIDE, _beyond(info.kind)), CRule(CTest.ALWAYS, CEffect.SET))
    rules: dict[str, tuple[CRule, ...]] = {
        "refcount_set": set_value,
        "refcount_inc": (_violate(CTest.ZERO, ADD_ON_ZERO), beyond, CRule(CTest.ALWAYS, CEffect.INC)),
        "refcount_inc_not_zero": (CRule(CTest.ZERO, then=Then.FAIL), beyond, CRule(CTest.ALWAYS, CEffect.INC)),
        "refcount_dec": (_violate(CTest.ZERO, UNDERFLOW), _violate(CTest.ONE, DEC_LEAK),
                         CRule(CTest.ALWAYS, CEffect.DEC)),
        "refcount_dec_and_test": (_violate(CTest.ZERO, UNDERFLOW), CRule(CTest.ONE, CEffect.DEC),
                                  CRule(CTest.ALWAYS, CEffect.DEC, Then.FAIL)),
        "atomic_set": set_value,
        "atomic_inc": (beyond, CRule(CTest.ALWAYS, CEffect.INC)),
        "atomic_inc_not_zero": (CRule(CTest.ZERO, then=Then.FAIL), beyond, CRule(CTest.ALWAYS, CEffect.INC)),
        "atomic_dec": (below, CRule(CTest.ALWAYS, CEffect.DEC)),
        "atomic_dec_and_test": (below, CRule(CTest.ONE, CEffect.DEC), CRule(CTest.ALWAYS, CEffect.DEC, Then.FAIL)),
        "init_completion": (CRule(CTest.ALWAYS, CEffect.CLEAR),),
        "reinit_completion": (CRule(CTest.ALWAYS, CEffect.CLEAR),),
        "complete": (CRule(CTest.ALL), beyond, CRule(CTest.ALWAYS, CEffect.INC)),
        "complete_all": (CRule(CTest.ALWAYS, CEffect.ALL),),
        "try_wait_for_completion": (CRule(CTest.ZERO, then=Then.FAIL), CRule(CTest.ALL),
                                    CRule(CTest.ALWAYS, CEffect.DEC)),
    }
    if info.waits:
        sleep = _violate(CTest.ATOMIC, "", DISCIPLINE)
        empty = CRule(CTest.ZERO, then=Then.FAIL if info.timeout else Then.BLOCK)
        return (sleep, empty, CRule(CTest.ALL), CRule(CTest.ALWAYS, CEffect.DEC))
    return rules[op]


def high(lo: int, hi: int, kind: Counter) -> int:
    """The value at which CTest.HIGH holds: one more leaves the range (a completion's hi is "all")."""
    return hi - 1 if kind is Counter.COMPLETION else hi


__all__ = ["CEffect", "CRule", "CTest", "counter_rules", "high", "ADD_ON_ZERO", "UNDERFLOW", "DEC_LEAK"]
