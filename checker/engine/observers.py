"""Observers: analyses that run during a search instead of walking the store again afterwards.

An observer sees each new state, each transition between stored states, each expanded state (with its
blocked threads) and each terminal state, and may record findings. The same observer's state hook can
also be run over a finished explicit result's store (`replay`): that is how an analysis asked for after
the search gets its answer without a second engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .result import Finding

if TYPE_CHECKING:
    from netcheck.model.semantics.system import TransitionSystem

    from .result import ExplicitResult
    from .system import State

# what makes a search's observers for a compiled spec (a module-level function, or a partial of one, so
# that a partitioned search can send it to its workers)
ObserverFactory = Callable[["TransitionSystem"], Sequence["Observer"]]


class Findings:
    """The first (shortest) finding per property, violations apart from answered questions."""

    def __init__(self, violations: dict[str, Finding], witnesses: dict[str, Finding]):
        self.violations = violations
        self.witnesses = witnesses

    def violate(self, finding: Finding) -> None:
        self.violations.setdefault(finding.prop, finding)

    def witness(self, finding: Finding) -> None:
        self.witnesses.setdefault(finding.prop, finding)


class Observer:
    """A search observer; every hook is optional (the engine calls only the ones a subclass defines)."""

    name = ""

    def start(self, result: ExplicitResult, findings: Findings) -> None:
        """Called once before the initial states are interned."""

    def on_state(self, sid: int, state: State) -> None:
        """A state seen for the first time."""

    def on_transition(self, source: int, target: int, action: int, choice: int) -> None:
        """A transition between two stored states, with its label (every edge the store records)."""

    def on_expanded(self, sid: int, state: State, blocked: int, violating: bool) -> None:
        """A state with transitions, all taken: `blocked` masks its blocked threads, `violating` says
        whether some step from it broke a property."""

    def on_terminal(self, sid: int, state: State, final: bool) -> None:
        """A state without transitions: `final` when every thread is quiescent there."""

    def finish(self, result: ExplicitResult) -> None:
        """Called once after the search; store what was observed in `result.observations[self.name]`."""

    def part(self) -> object:
        """What this observer saw on one worker of a partitioned search (engine/partition.py), picklable,
        for its coordinator copy to `merge`."""
        return None

    def merge(self, parts: Sequence[object], states: int, expanded: int) -> None:
        """In a partitioned search, before `finish`: take in what this observer's copies on the workers
        saw (`part`), keeping only what the states below id `states` and the expansions of the states
        below id `expanded` gave (a stop rule may cut the last level short). An observer that cannot be
        merged cannot watch a partitioned search."""
        raise NotImplementedError(f"the observer {self.name or type(self).__name__} cannot watch a partitioned search")


def earliest(parts: Iterable[dict[Any, int]], below: int) -> dict[Any, int]:
    """Per key, the least state id any part saw it at, keeping only ids below `below`: the merge of
    observations kept as 'the first state where ...'."""
    out: dict[Any, int] = {}
    for part in parts:
        for key, sid in part.items():
            if sid < below and sid < out.get(key, below):
                out[key] = sid
    return out


def defines(observer: Observer, hook: str) -> bool:
    """Whether an observer's class overrides a hook (so that the engine skips no-op calls)."""
    return getattr(type(observer), hook) is not getattr(Observer, hook)


def replay(result: ExplicitResult, observer: Observer) -> None:
    """Run an observer's state hook over every state of a finished search, in id order, and finish it:
    for an analysis asked for after the search."""
    observer.start(result, Findings({}, {}))
    if defines(observer, "on_state"):
        for sid, state in enumerate(result.store.states):
            observer.on_state(sid, state)
    observer.finish(result)
