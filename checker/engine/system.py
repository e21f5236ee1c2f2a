"""What an explicit-state engine explores: a small protocol that the compiled spec implements
(model/semantics/system.py `TransitionSystem`) and that a test implements with a toy system in a few lines.

States are immutable tuples. A transition is labelled: the thread that takes it, a compile-time action
id (one per visible program point of a thread, and one more for a fatal signal ending its wait), the
choice among that action's outcomes (an `either` branch, a trylock that succeeds or fails, in the order
`fire` returns them), whether it is a fatal signal, and its target: a state, or a `Violation` when the
step breaks a property. Replaying a label is `fire(state, action)[choice]`: traces never match states.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

from netcheck.model.semantics.runtime import ActionInfo, Violation

State = tuple
Target = State | Violation


class Transition(NamedTuple):
    """One labelled transition (the compiled system returns plain 5-tuples in this order)."""

    tid: int
    action: int
    choice: int
    signal: bool
    target: Target


class ExplicitSystem(Protocol):
    """A system of threads an explicit-state engine can explore."""

    @property
    def thread_count(self) -> int: ...

    @property
    def actions(self) -> Sequence[ActionInfo]: ...

    def initial(self) -> Sequence[Target]:
        """The initial states (and violations raised while computing them)."""

    def expand(self, state: State) -> tuple[Sequence[tuple[int, int, int, bool, Target]], int]:
        """Every transition from `state`, and the mask of its blocked threads: not quiescent and without
        a transition that is not a fatal signal."""

    def fire(self, state: State, action: int) -> Sequence[Target]:
        """The outcomes of one action in `state`, in choice order (empty when it is not enabled)."""

    def quiescent(self, state: State, tid: int) -> bool:
        """Whether a thread is done (finished, or a daemon idle at its wait for work)."""

    def position(self, state: State, tid: int) -> int:
        """A thread's program point in `state`."""

    def woken_positions(self, tid: int) -> frozenset[int]:
        """The program points where another thread's step may move this thread on (an rwsem waiter
        granted the lock by its releaser); empty when only its own steps move it."""
