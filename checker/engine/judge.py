"""The properties a search can judge on one state at a time, without the whole state graph: for searches
that never hold the graph (engine/hunt.py's randomised depth-first search, and the shortening of its
traces, checker/analyses/shorten.py).

- invariants (and a `runtime_safety` failure of one that cannot be evaluated), on every state seen, through
  engine/verdicts.py's `PropertyChecker` (z3 judges each valuation once, the evaluator beside it);
- violating steps (asserts, `lock_discipline`, `runtime_safety`): transitions whose target is a `Violation`;
- finals, on a state without transitions where every thread is quiescent;
- `deadlock_free` in its state-local form (engine/deadlocks.py): nothing but fatal signals enabled while a
  thread is blocked, or a cycle of waits among blocked threads. Every state it holds in has a stuck thread,
  so what it finds the breadth-first search reports too; a thread waiting forever in a livelock is decided
  only by the whole graph (engine/stuck.py).

Not judged here: `lock_order` (the lock-order graph of every explored transition), liveness and questions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from netcheck.model.semantics.runtime import Violation
from netcheck.model.semantics.system import TransitionSystem

from .bfs import DEADLOCK
from .deadlocks import expanded_form
from .result import Label
from .verdicts import PropertyChecker

# the property kinds a state-by-state search judges (engine/vocabulary.py PropertyKind values)
JUDGED_KINDS = ("invariant", "final", "assert", "deadlock", "lock_discipline", "runtime")


def judged(system: TransitionSystem) -> tuple[str, ...]:
    """The properties a judge of `system` looks for, in report order."""
    return tuple(p.name for p in system.property_kinds() if p.kind in JUDGED_KINDS)


class Failure(NamedTuple):
    """A property violated in a state, or (`step` set) by a step leaving it."""

    prop: str
    message: str = ""
    step: Label | None = None


class Judge:
    """The state-local properties of one compiled spec (see the module docstring)."""

    def __init__(self, system: TransitionSystem):
        self.system = system
        checker = PropertyChecker(system)
        self.checker = checker
        self._invariants = checker.invariant_checker(system.invariants) if system.invariants else None
        self.deadlock = system.spec.options.deadlock
        self._tids = range(system.thread_count)

    def state(self, state: tuple) -> Sequence[tuple[str, str]]:
        """The invariants false in `state` (a `runtime_safety` failure for one that cannot be evaluated)."""
        return self._invariants(state) if self._invariants is not None else ()

    def expanded(self, state: tuple, transitions: Sequence[tuple], blocked: int) -> list[Failure]:
        """What `state`'s expansion shows: its violating steps, a false final property when no thread can
        step and all are quiescent, a deadlock."""
        out = [Failure(t[4].prop, t[4].message, Label(t[0], t[1], t[2], t[3]))
               for t in transitions if t[4].__class__ is Violation]
        system = self.system
        if not transitions and all(system.quiescent(state, tid) for tid in self._tids):
            out.extend(Failure(name, message) for name, message in self.checker.failures(system.finals, state))
        elif self.deadlock and blocked and not out and expanded_form(system, state, transitions, blocked):
            out.append(Failure(DEADLOCK))
        return out
