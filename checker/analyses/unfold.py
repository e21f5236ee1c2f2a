"""Paths of a reduced search (model/semantics/discipline.py) as real executions of the full semantics.

A step of the reduced system is one step of the full system followed by the folded steps it ran at once:
those of its thread and of the threads it woke; an initial state of the reduced system is one of the full
system after the folded steps its threads start with. Unfolding fires each of them in the full system, in
turn (the stepping thread first, then the others by id), and keeps the one order of `either` branches
that reaches the reduced step's target; a path that does not unfold is an internal error.
"""

from __future__ import annotations

from netcheck.model.semantics.runtime import Violation
from netcheck.model.semantics.system import TransitionSystem

from ..engine.result import Label, Path
from ..engine.verdicts import InternalError

Steps = list[tuple[Label, tuple]]   # a label and the state it leads to


def unfold(reduced: TransitionSystem, path: Path, prop: str = "") -> Path:
    """`path` of `reduced` as a path of `reduced.unreduced()`: same start and end, every step a step of
    the full semantics; `prop`: the property the path's violating last step (if any) breaks."""
    full = reduced.unreduced()
    if not path.states:   # a violation while computing the initial states
        return path
    states, labels = _from_initial(reduced, full, path.states[0])
    for before, after, label in zip(path.states, path.states[1:], path.labels):
        steps = _extend(reduced, full, before, _full_label(reduced, full, label), after, "")
        if steps is None:
            raise InternalError(f"the reduced step {label} does not unfold into full steps")
        for step, state in steps:
            labels.append(step)
            states.append(state)
    last = None
    if path.last is not None:
        steps = _extend(reduced, full, states[-1], _full_label(reduced, full, path.last), None, prop)
        if steps is None:
            raise InternalError(f"the reduced violating step {path.last} does not unfold into full steps")
        for step, state in steps[:-1]:
            labels.append(step)
            states.append(state)
        last = steps[-1][0]
    return Path(tuple(states), tuple(labels), last, (), False)


def _from_initial(reduced: TransitionSystem, full: TransitionSystem, start: tuple) -> tuple[list[tuple], list[Label]]:
    """The full steps from an initial state of `full` to the reduced initial state `start` (a thread whose
    first steps are folded takes them while the initial states are computed): their states and labels."""
    initial = [s for s in full.initial() if not isinstance(s, Violation)]
    if start in initial:
        return [start], []
    for state in initial:
        steps = _folded(reduced, full, state, 0, start, "")
        if steps is not None:
            return [state, *(s for _, s in steps)], [label for label, _ in steps]
    raise InternalError("the reduced initial state is reached by no folded steps from a full one")


def _full_label(reduced: TransitionSystem, full: TransitionSystem, label: Label) -> Label:
    """The full system's label of the same thread's step at the same program point."""
    info = reduced.actions[label.action]
    step = full.threads[info.tid].steps[info.pc]
    assert step is not None
    return label._replace(action=step.sig_action if info.signal else step.action)


def _extend(reduced: TransitionSystem, full: TransitionSystem, state: tuple, first: Label, target: tuple | None,
            prop: str) -> Steps | None:
    """Full steps from `state`, `first` (any of its choices) then folded steps, that end in `target`, or
    (target None) in a violation of `prop`."""
    for choice, outcome in enumerate(full.fire(state, first.action)):
        label = first._replace(choice=choice)
        if isinstance(outcome, Violation):
            if target is None and outcome.prop == prop:
                return [(label, state)]
            continue
        rest = _folded(reduced, full, outcome, first.tid, target, prop)
        if rest is not None:
            return [(label, outcome), *rest]
    return None


def _folded(reduced: TransitionSystem, full: TransitionSystem, state: tuple, tid: int, target: tuple | None,
            prop: str) -> Steps | None:
    """The folded steps that take `state` to `target` (or to a violation of `prop`)."""
    if target is not None and state == target:   # a thread may stand before a folded step that fails
        return []
    # the stepping thread first, then the others by id; a thread may stand before a folded step that fails
    # while the others run theirs, so each is tried in turn
    for t in dict.fromkeys(t for t in (tid, *range(reduced.thread_count)) if _at_folded(reduced, state, t)):
        step = full.threads[t].steps[state[full.threads[t].pcslot]]
        assert step is not None
        steps = _extend(reduced, full, state, Label(t, step.action, 0, False), target, prop)
        if steps is not None:
            return steps
    return None


def _at_folded(system: TransitionSystem, state: tuple, tid: int) -> bool:
    node = system.node_at(state, tid)
    return node is not None and node.folded
