"""What an engine returns: per-property findings, paths, statistics and why it stopped.

`EngineResult` is engine-neutral: every report and renderer reads it, and a symbolic engine fills the
same fields. `ExplicitResult` adds the state store and what only a whole explored graph gives (stuck
threads per state, final states, coverage, observations); analyses that need the graph ask for it.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from .store import Canonical, StateStore
from .system import State

if TYPE_CHECKING:
    from netcheck.model.semantics.runtime import Executions
    from netcheck.model.semantics.system import TransitionSystem


@dataclass(frozen=True)
class Finding:
    """A property violated (or a question answered) at a state: where it shows, or the state a violating
    step leaves from; then also that step's thread and label. State -1: while computing initial states."""

    prop: str
    state: int
    tid: int = -1
    message: str = ""
    by_signal: bool = False
    action: int = -1
    choice: int = 0


class Label(NamedTuple):
    """How a path moves from one state to the next (see engine/system.py)."""

    tid: int
    action: int
    choice: int
    signal: bool


@dataclass(frozen=True)
class Path:
    """A path from an initial state: `labels[i]` takes `states[i]` to `states[i + 1]`; `last` is the
    violating step taken from the final state, if the path ends in one. `ids` are the store's ids of the
    states (explicit engines); `fewest_switches` says whether it is switch-minimal among shortest paths."""

    states: tuple[State, ...]
    labels: tuple[Label, ...]
    last: Label | None = None
    ids: tuple[int, ...] = ()
    fewest_switches: bool = True


@dataclass
class EngineResult:
    """Findings, statistics and the stop reason of one search, whatever the engine."""

    system: TransitionSystem
    violations: dict[str, Finding] = field(default_factory=dict)
    witnesses: dict[str, Finding] = field(default_factory=dict)   # answered questions (`reachable:`)
    complete: bool = True
    stop_reason: str = ""
    seconds: float = 0.0
    peak_memory_mb: float = 0.0
    unknown: dict[str, str] = field(default_factory=dict)       # properties z3 could not decide, and why
    transitions: int = 0
    worker_memory_mb: tuple[float, ...] = ()   # a partitioned search: each worker's peak memory


@dataclass
class ExplicitResult(EngineResult):
    """An explicit-state search: the findings, plus the store and the graph's stuck threads and finals."""

    store: StateStore = field(default_factory=lambda: StateStore(0))
    deadlocks: list[int] = field(default_factory=list)   # states where some thread is stuck, in BFS order
    stuck: dict[int, int] = field(default_factory=dict)  # those states: mask of the stuck threads
    finals: list[int] = field(default_factory=list)
    executions: Executions | None = None   # what reachable transitions ran (checker/analyses/coverage.py)
    observations: dict[str, object] = field(default_factory=dict)   # what observers collected, by name
    # cached searches over this result (the fewest-switch search), kept with it and freed with it
    cache: dict[str, object] = field(default_factory=dict, repr=False, compare=False)
    # after a reduced search: the same spec searched again without the reduction up to the violations it
    # found, whose counterexamples (shortest, as an unreduced search's are) the report shows (engine/explore.py)
    traces: ExplicitResult | None = field(default=None, repr=False, compare=False)

    @property
    def state_count(self) -> int:
        return len(self.store)

    def blocked_masks(self) -> array | list:
        """Per expanded state, the mask of its blocked threads. The search stores 0 for a state with a
        violating step (what follows it is unknown, so stuck-thread detection must not count on it); the
        analyses that ask who waits where get those states' real masks, expanded again. Built once."""
        masks = self.cache.get("blocked_masks")
        if masks is None:
            masks = self.cache["blocked_masks"] = self.store.blocked[:]
            states = self.store.states
            for sid in self.store.violating:
                masks[sid] = self.system.expand(states[sid])[1]
        return masks   # type: ignore[return-value]

    @property
    def max_depth(self) -> int:
        return self.store.max_depth

    def ids_of(self, states: Iterable[State]) -> list[int]:
        """The store ids of those of `states` the search stored (under symmetry: stored as their canonical
        images), in order: a trace's states as graph nodes."""
        symmetry = self.system.symmetry if self.system.symmetric else None
        canonical = Canonical.of(symmetry) if symmetry is not None else None
        ids = (self.store.id_of(canonical(s)[1] if canonical is not None else s) for s in states)
        return [sid for sid in ids if sid is not None]
