"""Hunt's counterexamples as paths, made shorter: a depth-first search's path to a violation is long, and
most of its steps do not matter.

A finding's labels are first replayed from its initial state against the semantics (`fire(state, action)
[choice]`, engine/system.py): a label that is not enabled, or a path that does not end in the violation,
is an internal error. Then, keeping a path that ends in a violation of the same property (engine/judge.py
decides where one shows):

1. a bounded breadth-first search from the initial states (one for all findings) that finds a violation
   of the property gives a shortest path to one, and nothing else is needed;
2. otherwise the path is cut at the first state that shows the violation;
3. shortcuts: from each state, a step to a later state of the path (or the state itself again, a cycle)
   skips the steps between;
4. dropped steps (delta debugging): chunks of steps, halving in size down to single steps, are left out
   while the other steps, each taken when its thread is where it was (else skipped), still end in a
   violation of the property;
5. the breadth-first search's shortest path to a state of the path replaces the path's way there.

Steps 3-5 repeat while the path gets shorter. The result is a real path of the semantics, but only (1)
makes it a shortest one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from netcheck.model.semantics.runtime import Violation
from netcheck.model.semantics.system import TransitionSystem

from ..engine.hunt import HuntFinding
from ..engine.judge import Failure, Judge
from ..engine.result import Label, Path
from ..engine.store import Packer
from ..engine.verdicts import InternalError

SHORTEN_STATES = 50_000   # the most states the breadth-first search stores
ROUNDS = 4                # the most rounds of shortcuts, dropped steps and splicing
DROP_BUDGET = 2_000_000   # the steps replayed while leaving steps out, in one round


@dataclass(frozen=True)
class Shortened:
    """A finding's path after shortening, the message of the violation it ends in, the steps of the search's
    own path, and whether it is a shortest path to a violation of the property (the breadth-first search
    found it)."""

    path: Path
    message: str
    found_steps: int
    shortest: bool


def replay(system: TransitionSystem, judge: Judge, finding: HuntFinding) -> Path:
    """The finding's path, its states computed by replaying its labels from its initial state; it must end
    in a violation of the finding's property (a violating last step, or a last state that shows one)."""
    if finding.start < 0:
        return Path((), (), None, (), False)
    state = system.initial_states[finding.start]
    states = [state]
    for label in finding.labels:
        outcomes = system.fire(state, label.action)
        if system.actions[label.action].tid != label.tid or label.choice >= len(outcomes) \
                or not isinstance(outcomes[label.choice], tuple):
            raise InternalError(f"hunt's step {label} of thread {label.tid} does not replay")
        state = outcomes[label.choice]   # type: ignore[assignment]
        states.append(state)
    last = finding.last
    if last is not None:
        outcomes = system.fire(state, last.action)
        end = outcomes[last.choice] if last.choice < len(outcomes) else None
        if not isinstance(end, Violation) or end.prop != finding.prop:
            raise InternalError(f"hunt's violating step {last} does not replay to a violation of {finding.prop}")
    elif _shows(system, judge, state, finding.prop) is None:
        raise InternalError(f"hunt's path does not end in a violation of {finding.prop}")
    return Path(tuple(states), finding.labels, last, (), False)


class BreadthFirst:
    """A breadth-first search from the initial states up to `max_states` stored states, noting the first
    (shallowest) state showing each of `props` and, for a violating step, the step."""

    def __init__(self, system: TransitionSystem, judge: Judge, props: Collection[str], max_states: int):
        self.system, self.pack = system, Packer()
        self.index: dict[bytes, int] = {}
        self.states: list[tuple] = []
        self.parent: list[tuple[int, Label | None]] = []
        self.depth: list[int] = []
        self.found: dict[str, tuple[int, Label | None]] = {}
        for state in system.initial_states:
            self._add(state, -1, None, 0, max_states)
        i = 0
        while i < len(self.states) and not set(props) <= self.found.keys():
            state = self.states[i]
            transitions, blocked = system.expand(state)
            for failure in _failures(judge, state, transitions, blocked):
                if failure.prop in props:
                    self.found.setdefault(failure.prop, (i, failure.step))
            for tid, action, choice, signal, target in transitions:
                if target.__class__ is tuple:
                    self._add(target, i, Label(tid, action, choice, signal), self.depth[i] + 1, max_states)
            i += 1

    def _add(self, state: tuple, parent: int, label: Label | None, depth: int, max_states: int) -> None:
        key = self.pack(state)
        if key not in self.index and len(self.states) < max_states:
            self.index[key] = len(self.states)
            self.states.append(state)
            self.parent.append((parent, label))
            self.depth.append(depth)

    def path_to(self, sid: int, last: Label | None = None) -> Path:
        """The parent path from an initial state to state `sid` (a shortest one), then `last`."""
        ids = [sid]
        while self.parent[ids[-1]][0] >= 0:
            ids.append(self.parent[ids[-1]][0])
        ids.reverse()
        labels = tuple(self.parent[i][1] for i in ids[1:])
        return Path(tuple(self.states[i] for i in ids), labels, last, (), False)   # type: ignore[arg-type]


def shorten_all(system: TransitionSystem, judge: Judge, findings: Mapping[str, HuntFinding],
                max_states: int = SHORTEN_STATES) -> dict[str, Shortened]:
    """Each finding's path replayed and shortened (see the module docstring), by property."""
    with system.uncounted():   # the run counts (coverage) are not this search's
        paths = {prop: replay(system, judge, f) for prop, f in findings.items()}
        bfs = BreadthFirst(system, judge, [p for p, path in paths.items() if path.states], max_states)
        out = {}
        for prop, path in paths.items():
            steps = len(path.labels) + (path.last is not None)
            if not path.states:
                out[prop] = Shortened(path, findings[prop].message, 0, True)
                continue
            shortest = prop in bfs.found
            path = bfs.path_to(*bfs.found[prop]) if shortest else _shorten(system, judge, bfs, path, prop)
            out[prop] = Shortened(path, _message(system, judge, path, prop), steps, shortest)
        return out


def _message(system: TransitionSystem, judge: Judge, path: Path, prop: str) -> str:
    """What the violation a path ends in says: its violating step's message, or its last state's."""
    state = path.states[-1]
    if path.last is not None:
        return system.fire(state, path.last.action)[path.last.choice].message   # type: ignore[union-attr]
    shown = next((message for name, message in judge.state(state) if name == prop), None)
    if shown is None:
        shown = next((f.message for f in judge.expanded(state, *system.expand(state)) if f.prop == prop), "")
    return shown


def _shorten(system: TransitionSystem, judge: Judge, bfs: BreadthFirst, path: Path, prop: str) -> Path:
    path = _cut_at_first(system, judge, path, prop)
    for _ in range(ROUNDS):
        before = len(path.labels)
        path = _splice(bfs, _drop_steps(system, judge, _shortcuts(system, bfs.pack, path), prop))
        if len(path.labels) >= before:
            break
    return path


def _failures(judge: Judge, state: tuple, transitions: Sequence[tuple], blocked: int) -> list[Failure]:
    return [Failure(name, message) for name, message in judge.state(state)] + \
        judge.expanded(state, transitions, blocked)


def _shows(system: TransitionSystem, judge: Judge, state: tuple, prop: str) -> Failure | None:
    """How `state` shows a violation of `prop` (itself, or by a step leaving it), or None."""
    transitions, blocked = system.expand(state)
    return next((f for f in _failures(judge, state, transitions, blocked) if f.prop == prop), None)


def _cut_at_first(system: TransitionSystem, judge: Judge, path: Path, prop: str) -> Path:
    """The path up to the first of its states that shows the violation."""
    for i, state in enumerate(path.states[:-1]):
        shown = _shows(system, judge, state, prop)
        if shown is not None:
            return Path(path.states[:i + 1], path.labels[:i], shown.step, (), False)
    return path


def _shortcuts(system: TransitionSystem, pack: Packer, path: Path) -> Path:
    """From each state, on to the latest state of the path it is (a cycle) or has a step to."""
    where = {pack(s): i for i, s in enumerate(path.states)}   # each state's last position
    i, n = where[pack(path.states[0])], len(path.labels)
    states, labels = [path.states[i]], []
    while i < n:
        best, step = i + 1, path.labels[i]
        for tid, action, choice, signal, target in system.expand(path.states[i])[0]:
            j = where.get(pack(target), -1) if target.__class__ is tuple else -1
            if j > best:
                best, step = j, Label(tid, action, choice, signal)
        labels.append(step)
        states.append(path.states[best])
        i = best
    return Path(tuple(states), tuple(labels), path.last, (), False)


def _drop_steps(system: TransitionSystem, judge: Judge, path: Path, prop: str, budget: int = DROP_BUDGET) -> Path:
    """Delta debugging (Zeller's ddmin, one pass per chunk size): leave out a chunk of steps, halving the
    chunk size down to single steps, and keep the result when the other steps, replayed leniently
    (`_lenient`), still end in the violation; `budget` bounds the steps fired in all."""
    labels = [*path.labels, *([path.last] if path.last is not None else [])]
    start = path.states[0]
    chunk = len(labels) // 2
    while chunk >= 1 and budget > 0:
        i = 0
        while i < len(labels) and budget > 0:
            budget -= len(labels)
            shorter = _lenient(system, judge, start, labels[:i] + labels[i + chunk:], prop)
            if shorter is not None and len(shorter.labels) < len(path.labels):
                path = shorter
                labels = [*path.labels, *([path.last] if path.last is not None else [])]
            else:
                i += chunk
        chunk //= 2
    return path


def _lenient(system: TransitionSystem, judge: Judge, start: tuple, labels: Sequence[Label], prop: str) -> Path | None:
    """The path from `start` taking each label in turn that is enabled (the others skipped), cut at the first
    violation of `prop`; None when none shows."""
    states, used = [start], list[Label]()
    state = start
    for label in labels:
        outcomes = system.fire(state, label.action)
        if label.choice >= len(outcomes):
            continue
        after = outcomes[label.choice]
        if not isinstance(after, tuple):
            if after.prop == prop:
                return Path(tuple(states), tuple(used), label, (), False)
            continue
        state = after
        states.append(state)
        used.append(label)
        if any(name == prop for name, _ in judge.state(state)):
            return Path(tuple(states), tuple(used), None, (), False)
    shown = _shows(system, judge, state, prop)
    return Path(tuple(states), tuple(used), shown.step, (), False) if shown is not None else None


def _splice(bfs: BreadthFirst, path: Path) -> Path:
    """The path from the state of it that the breadth-first search reached with the fewest steps in all."""
    n = len(path.labels)
    best, at = n, -1
    for j, state in enumerate(path.states):
        sid = bfs.index.get(bfs.pack(state))
        if sid is not None and bfs.depth[sid] + n - j < best:
            best, at = bfs.depth[sid] + n - j, j
    if at < 0:
        return path
    head = bfs.path_to(bfs.index[bfs.pack(path.states[at])])
    return Path(head.states + path.states[at + 1:], head.labels + path.labels[at:], path.last, (), False)
