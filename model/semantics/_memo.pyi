"""Type stub of the step memo's native expander (model/semantics/_memo.c)."""

from collections.abc import Callable

class Expander:
    """TransitionSystem.expand through the step memo (memo.py's `StepMemo`), in C."""

    def __init__(self, threads: list[tuple[int, int, list, bool, list[tuple[int, ...] | None]]],
                 miss: Callable[[int, int, tuple], tuple], check: Callable[[int, int, tuple, tuple], None],
                 plain: Callable[[int, int, tuple], tuple[list, list]], check_every: int) -> None: ...
    def expand(self, state: tuple, counting: bool, /) -> tuple[list, int]:
        """(transitions, blocked mask) of `state`; answers from the memo count as pending runs if `counting`."""
    def expand_into(self, state: tuple, counting: bool, intern: object, store: object, action_bytes: int, /) -> tuple:
        """`expand` with each successor interned into `store` by `intern` (a capsule): (blocked mask, target ids,
        actions, choices, signal edge offsets, events in edge order)."""
    def pending(self, limit: int, /) -> list[tuple[int, int, tuple, int]]:
        """Up to `limit` (all: -1) entries with pending runs, as (thread, program point, footprint valuation,
        answers), which are then forgotten."""
    def forget(self) -> None:
        """Drop every pending run."""
    @property
    def answers(self) -> int:
        """Answers from the memo so far."""
    @property
    def entries(self) -> int:
        """Entries remembered."""


class Valuation:
    """Called on a state, the encoding of its values at `slots` (bytes): a compact dict key."""

    def __init__(self, slots: tuple[int, ...]) -> None: ...
    def __call__(self, state: tuple, /) -> bytes: ...
