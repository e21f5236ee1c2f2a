"""Paths of a symmetric search (model/semantics/symmetry.py) as real executions.

The store holds one state per symmetry class, and each edge leads to the canonical image of the real
successor: a path of stored states is a path of classes, whose labels name threads as each stored
state numbers them. Concretizing replays it from its initial state (the initial states are closed
under the symmetry, so the stored one is real): each label's thread is renamed into the real state's
numbering, its step fired, and the outcome whose class is the next stored state kept. The real path is
then renamed as a whole so that it ends in the stored final state itself, the state the findings
(stuck threads, the final property's context) speak of. A path that does not replay is an internal
error, never a counterexample.
"""

from __future__ import annotations

from netcheck.model.semantics.runtime import Violation
from netcheck.model.semantics.symmetry import inverse
from netcheck.model.semantics.system import TransitionSystem

from ..engine.result import Label, Path
from ..engine.store import Canonical, Packer
from ..engine.verdicts import InternalError


def concretize(system: TransitionSystem, path: Path, prop: str = "") -> Path:
    """`path` of stored states as a real path of `system` ending in the same state; `prop`: the property
    its violating last step (if any) breaks."""
    sym = system.symmetry
    if sym is None or sym.size == 1 or not path.states:
        return path
    pack = Packer()
    canonical = Canonical.of(sym, pack)
    actions = {(a.tid, a.pc, a.signal): i for i, a in enumerate(system.actions)}

    def real_action(label: Label, rename: tuple[int, ...]) -> int:
        info = system.actions[label.action]
        return actions[(rename[info.tid], info.pc, info.signal)]

    # forward: real states, and per state how stored thread numbers map to the real ones
    states = [path.states[0]]
    steps: list[int] = []
    rename = tuple(range(system.thread_count))
    for label, stored in zip(path.labels, path.states[1:]):
        action = real_action(label, rename)
        want = pack(stored)
        found = next((o for o in system.fire(states[-1], action)
                      if o.__class__ is tuple and canonical(o)[0] == want), None)   # type: ignore[arg-type]
        if found is None:
            raise InternalError(f"a step of the symmetric search ({label}) does not replay")
        assert isinstance(found, tuple)
        k = next(k for k, image in enumerate(sym.images) if image(found) == stored)
        rename = inverse(sym.thread_maps[k])
        states.append(found)
        steps.append(action)
    last_action = real_action(path.last, rename) if path.last is not None else -1
    # rename the whole real path so that it ends in the stored final state
    k = next(k for k, image in enumerate(sym.images) if image(states[-1]) == path.states[-1])
    image, tmap = sym.images[k], sym.thread_maps[k]
    renamed = [image(s) for s in states]
    labels = [_label(system, renamed[i], _renamed(system, a, tmap, actions), renamed[i + 1])
              for i, a in enumerate(steps)]
    last = None
    if path.last is not None:
        action = _renamed(system, last_action, tmap, actions)
        outcomes = system.fire(renamed[-1], action)
        choice = next((c for c, o in enumerate(outcomes) if isinstance(o, Violation) and o.prop == prop), None)
        if choice is None:
            raise InternalError(f"the violating step of the symmetric search ({path.last}) does not replay")
        info = system.actions[action]
        last = Label(info.tid, action, choice, info.signal)
    return Path(tuple(renamed), tuple(labels), last, (), False)


def _renamed(system: TransitionSystem, action: int, tmap: tuple[int, ...], actions: dict) -> int:
    info = system.actions[action]
    return actions[(tmap[info.tid], info.pc, info.signal)]


def _label(system: TransitionSystem, before: tuple, action: int, after: tuple) -> Label:
    """The label of the step `action` from `before` to `after` (its choice found by firing it again)."""
    info = system.actions[action]
    choice = next((c for c, o in enumerate(system.fire(before, action)) if o == after), None)
    if choice is None:
        raise InternalError("a renamed step of the symmetric search does not replay")
    return Label(info.tid, action, choice, info.signal)


def real_states(system: TransitionSystem, path: Path) -> tuple[tuple, ...]:
    """The states of a stored path as a real execution passes through them."""
    return concretize(system, path).states

