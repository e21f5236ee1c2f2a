"""Final-state counterexamples brought to the point: the threads whose steps change nothing the property
reads are moved to the end of the path (only when the reordered path replays, step by step, to the same
final state: it is then just as real and just as short), and the steps after the last step of a thread
that does change it are marked as the run-out, which a report summarises instead of drawing.

Invariant and assertion counterexamples end at their violating state and need none of this; deadlock
counterexamples end at the first state with a stuck thread.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from netcheck.model.semantics.discipline import writes
from netcheck.model.semantics.system import TransitionSystem

from ..engine.result import Label, Path

# a run-out shorter than this is drawn in full: summarising it would save nothing
MIN_RUN_OUT = 3


def focused(system: TransitionSystem, path: Path, reads: Collection[int]) -> tuple[Path, int | None]:
    """`path` (to a final state, no violating last step) with bystander threads moved last where that
    replays to the same final state, and the number of leading steps that matter: after them only threads
    that change no slot in `reads` step (None: every step matters, or the run-out is too short to
    summarise)."""
    if path.last is not None or not path.labels:
        return path, None
    reads = frozenset(reads)
    best = path
    for tid in _bystanders(system, path, reads):
        moved = _moved_last(path=best, tid=tid)
        replayed = _replay(system, best.states[0], moved)
        if replayed is not None and replayed[-1] == path.states[-1]:
            best = Path(replayed, moved, None, (), path.fewest_switches and _switches(moved) <= _switches(path.labels))
    bystanders = set(_bystanders(system, best, reads))
    settled = max((k + 1 for k, lb in enumerate(best.labels) if lb.tid not in bystanders), default=0)
    return best, settled if len(best.labels) - settled >= MIN_RUN_OUT else None


def _bystanders(system: TransitionSystem, path: Path, reads: frozenset[int]) -> list[int]:
    """The threads none of whose steps on the path changes a slot in `reads` or assigns a variable with a
    slot there (even its old value: a lost update), in order of first step."""
    read_vars = {system.layout.slots[i].var for i in reads}
    order: list[int] = []
    relevant: set[int] = set()
    for before, after, label in zip(path.states, path.states[1:], path.labels):
        if label.tid not in order:
            order.append(label.tid)
        if any(before[i] != after[i] for i in reads) or _assigns(system, before, label.tid) & read_vars:
            relevant.add(label.tid)
    return [tid for tid in order if tid not in relevant]


def _assigns(system: TransitionSystem, state: tuple, tid: int) -> set[str]:
    """The shared variables the step of `tid` from `state` assigns (only its visible node touches them)."""
    node = system.node_at(state, tid)
    return writes(node) if node is not None else set()


def _moved_last(path: Path, tid: int) -> tuple[Label, ...]:
    """The labels with thread `tid`'s steps taken out and appended, in their order."""
    return (*(lb for lb in path.labels if lb.tid != tid), *(lb for lb in path.labels if lb.tid == tid))


def _replay(system: TransitionSystem, start: tuple, labels: Sequence[Label]) -> tuple[tuple, ...] | None:
    """The states the labels lead through from `start`, or None when one is not enabled or violates."""
    states = [start]
    for label in labels:
        outcomes = system.fire(states[-1], label.action)
        if label.choice >= len(outcomes) or outcomes[label.choice].__class__ is not tuple:
            return None
        states.append(outcomes[label.choice])   # type: ignore[arg-type]
    return tuple(states)


def _switches(labels: Sequence[Label]) -> int:
    return sum(1 for a, b in zip(labels, labels[1:]) if a.tid != b.tid)
