"""One randomised depth-first search with bitstate storage, for configurations too large to explore whole
(`netcheck hunt`; engine/swarm.py runs several of them with different seeds, as SPIN's swarm does).

The search keeps no state graph: a fixed-size bit table (SPIN's bitstate hashing, Holzmann's supertrace)
marks each state seen with two bits chosen by a keyed BLAKE2b hash of its packing, the same in every process
(Python's `hash` of bytes is salted per process). Two states whose bits coincide count as one, so states
can be skipped: what the search finds is real, what it does not find is not ruled out. The stack is the
path: a violation's trace is the labels from an initial state to it, which the driver replays against the
semantics (checker/analyses/shorten.py) and shortens.

The seed orders the initial states and each state's successors (a seeded Mersenne Twister: the same order
on every platform), and keys the hash; with the same seed, spec and budget in states the search is the same.
States beyond the depth limit are judged but not stored or expanded (`truncated` counts them).

A search is a sequence of runs, each with a fresh table, hash key and order. A depth-first search spends
its time deep in the subtree of its first few choices; restarting it (as SAT solvers and TLC's random
simulation do) revisits the choices near the initial state in new orders. The n-th run stores at most
`restart_states` times the n-th term of the Luby sequence (1 1 2 1 1 2 4 1 ...) states, so that ever
longer runs come back now and then. A member may also start shallower than its depth limit (`first_depth`,
as SPIN's swarm varies the depth bound): a run that ends with states cut off is followed by one twice as
deep (iterative deepening). A run that ends with nothing cut off stored every state it could reach, and
ends the search; so does one that ends at the depth limit when there are no restarts.

Under `--reduce protected` the search runs on the reduced system; under `--symmetry on` it steps through
real states and marks each state's canonical image, so that its labels are real steps (no renaming).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from hashlib import blake2b

from netcheck.model.semantics.runtime import Violation
from netcheck.model.semantics.system import TransitionSystem

from .judge import Failure, Judge
from .result import Label
from .store import Canonical, Packer

DEPTH_LIMIT = 10_000   # SPIN's default -m
TABLE_BITS = 26        # 2^26 bits: an 8 MiB table
MIN_TABLE_BITS = 16    # the smallest table of a run with a budget
RESTART_STATES = 200   # the states of the shortest runs of a search with restarts
POLL_EVERY = 64        # states stored between two looks at the clock


@dataclass(frozen=True)
class HuntConfig:
    """One member of a swarm: its seed, how deep it goes (its first run to `first_depth`, None: the limit),
    its table's size, the states of its shortest runs (None: one run, no restarts) and (for a search that
    must be the same every time) its budget in states."""

    seed: int
    depth_limit: int = DEPTH_LIMIT
    table_bits: int = TABLE_BITS
    max_states: int | None = None
    first_depth: int | None = None
    restart_states: int | None = RESTART_STATES


@dataclass(frozen=True)
class Goal:
    """When a hunt may end before its time: at the first violation (`first`), or once every property of
    `props` is violated; neither: never."""

    first: bool = False
    props: frozenset[str] = frozenset()

    def met(self, found: Collection[str]) -> bool:
        if self.first:
            return bool(found)
        return bool(self.props) and self.props <= set(found)


@dataclass(frozen=True)
class HuntFinding:
    """The first violation of a property one search found: the path to it as labels from initial state
    `start` (-1: while computing the initial states, no path), the violating step taken from its last state
    (`last`, or None when the last state itself violates the property), and when it was found."""

    prop: str
    message: str
    start: int
    labels: tuple[Label, ...]
    last: Label | None
    seconds: float
    states: int   # the states the search had stored by then


@dataclass(frozen=True)
class HuntCoverage:
    """How far a search got, over its runs: states stored in its tables (a state stored by two runs counts
    twice), transitions taken, the deepest state, the steps the depth limit cut off, its hunting time,
    whether it ended (its last run left nothing on its stack), its runs, the last one's table size, depth
    limit and states, and whether its last run ended with nothing cut off (`exhausted`: it stored every state it
    reached, so that only states its table skipped are left unexplored)."""

    states: int = 0
    transitions: int = 0
    max_depth: int = 0
    truncated: int = 0
    seconds: float = 0.0
    ended: bool = False
    table_bits: int = TABLE_BITS
    runs: int = 1
    depth_limit: int = DEPTH_LIMIT
    exhausted: bool = False
    run_states: int = 0

    @property
    def hash_factor(self) -> float:
        """Table bits per state the last run stored (SPIN's hash factor): the larger, the fewer states
        skipped by two states' bits coinciding (above 100 few are; near 1 most are)."""
        return (1 << self.table_bits) / max(1, self.run_states)


@dataclass(frozen=True)
class HuntSlice:
    """What a search did in one call of `Hunter.run`: the findings new since the last call, its coverage so
    far, and why it stopped (`done`: it ended or spent its state budget; else time or the goal)."""

    findings: tuple[HuntFinding, ...]
    coverage: HuntCoverage
    done: bool


class BitTable:
    """A bitstate table of 2^bits bits: a key is present when both of its bits are set."""

    __slots__ = ("bits", "mask", "salt", "table")

    def __init__(self, bits: int, seed: int):
        self.bits, self.mask = bits, (1 << bits) - 1
        self.salt = seed.to_bytes(16, "little", signed=False)[:16]
        self.table = bytearray(1 << max(0, bits - 3))

    def add(self, key: bytes) -> bool:
        """Set the key's bits; whether it was new (one of them was clear)."""
        h = int.from_bytes(blake2b(key, digest_size=16, salt=self.salt).digest(), "little")
        a, b = h & self.mask, (h >> 64) & self.mask
        table = self.table
        ia, ib, ma, mb = a >> 3, b >> 3, 1 << (a & 7), 1 << (b & 7)
        if table[ia] & ma and table[ib] & mb:
            return False
        table[ia] |= ma
        table[ib] |= mb
        return True


class Hunter:
    """A randomised depth-first search that can be resumed: each `run` goes on where the last one stopped
    (Ray actors hunt in slices, engine/swarm.py)."""

    def __init__(self, system: TransitionSystem, config: HuntConfig):
        self.system, self.config = system, config
        self.judge = Judge(system)
        self.rng = random.Random(config.seed)
        pack = Packer()
        canon = Canonical.of(system.symmetry, pack) if system.symmetric else None
        self.key: Callable[[tuple], bytes] = (lambda s: canon(s)[0]) if canon is not None else pack
        self.found: dict[str, HuntFinding] = {}
        self.new: list[HuntFinding] = []
        self.initial = [s for s in system.initial() if isinstance(s, tuple)]
        self.count = self.transitions = self.max_depth = self.truncated = self.runs = 0
        self.elapsed, self.started = 0.0, time.perf_counter()   # hunting time before this slice; its start
        self.ended = False
        self.depth = min(config.first_depth or config.depth_limit, config.depth_limit)
        self._new_run()
        for v in system.initial():
            if isinstance(v, Violation):
                self._record(Failure(v.prop, v.message), path=False)

    def _new_run(self) -> None:
        """A fresh table (with a hash key of its own) and stack, the initial states in a new order."""
        self.runs += 1
        self.cut = 0   # states this run's depth limit cut off
        restart = self.config.restart_states
        budget = restart * luby(self.runs - 1) if restart else None   # the most states this run stores
        self.run_start = self.count
        self.run_end = self.count + budget if budget else None
        # a run with a budget gets a table of about 128 bits per state it may store (cheap to start afresh)
        bits = self.config.table_bits if not budget else \
            min(self.config.table_bits, max(MIN_TABLE_BITS, (128 * budget).bit_length()))
        self.table = BitTable(bits, self.rng.getrandbits(128))
        # the stack: per state on the path, the state, its transitions (shuffled) and the next one to take;
        # labels[i] takes states[i] to states[i + 1]; `start` is the index of states[0] among the initial states
        self.states: list[tuple] = []
        self.edges: list[list] = []
        self.next: list[int] = []
        self.labels: list[Label] = []
        self.start = -1
        self.roots = list(range(len(self.initial)))
        self.rng.shuffle(self.roots)
        self.roots.reverse()   # taken from the end

    # -- results

    def coverage(self) -> HuntCoverage:
        return HuntCoverage(self.count, self.transitions, self.max_depth, self.truncated, round(self.elapsed, 3),
                            self.ended, self.table.bits, self.runs, self.depth,
                            self.ended and not self.cut, self.count - self.run_start)

    def _record(self, failure: Failure, path: bool = True) -> None:
        """The first finding of a property: the current path, or (path False) none."""
        if failure.prop in self.found:
            return
        seconds = self.elapsed + time.perf_counter() - self.started
        finding = HuntFinding(failure.prop, failure.message, self.start if path else -1,
                              tuple(self.labels) if path else (), failure.step, round(seconds, 3), self.count)
        self.found[failure.prop] = finding
        self.new.append(finding)

    # -- the search

    def run(self, seconds: float | None, goal: Goal = Goal(), cancelled: Callable[[], bool] | None = None) -> HuntSlice:
        """Search on for up to `seconds` (None: no limit), until `goal` is met by this search's findings, the
        state budget is spent, `cancelled()` says so, or the search ends."""
        self.started = started = time.perf_counter()
        deadline = started + seconds if seconds is not None else None
        budget = self.config.max_states
        done = self.ended or (budget is not None and self.count >= budget)
        poll = self.count + POLL_EVERY
        while not done and not goal.met(self.found):
            if self.count >= poll:
                poll = self.count + POLL_EVERY
                if _expired(deadline) or (cancelled is not None and cancelled()):
                    break
            if not self._step():
                self.ended = done = True
            elif budget is not None and self.count >= budget:
                done = True
        self.elapsed += time.perf_counter() - started
        self.started = time.perf_counter()
        new, self.new = tuple(self.new), []
        return HuntSlice(new, self.coverage(), done)

    def _step(self) -> bool:
        """Take transitions off the stack up to the next new state (judged, expanded and pushed; a state
        seen is skipped, an exhausted one popped), or start from the next initial state, or (the run over)
        the next, deeper run; False when the search ends."""
        states, edges, nexts, labels = self.states, self.edges, self.next, self.labels
        while states:
            top = len(states) - 1
            k = nexts[top]
            out = edges[top]
            if k == len(out):
                states.pop()
                edges.pop()
                nexts.pop()
                if labels:
                    labels.pop()
                continue
            nexts[top] = k + 1
            tid, action, choice, signal, target = out[k]
            if target.__class__ is not tuple:
                continue   # a violating step: recorded when its source was expanded
            if top == self.depth:
                self._cut(target, Label(tid, action, choice, signal))
                continue
            if self.table.add(self.key(target)):
                labels.append(Label(tid, action, choice, signal))
                self._enter(target)
                return True
        if self.roots:
            self.start = self.roots.pop()
            root = self.initial[self.start]
            if self.table.add(self.key(root)):
                self._enter(root)
            return True
        if self.cut and self.depth < self.config.depth_limit:
            self.depth = min(2 * self.depth, self.config.depth_limit)
        elif not (self.cut and self.config.restart_states):
            return False
        self._new_run()
        return True

    def _cut(self, state: tuple, label: Label) -> None:
        """A state beyond the depth limit: judged, neither stored nor expanded."""
        self.cut += 1
        self.truncated += 1
        self.labels.append(label)
        for name, message in self.judge.state(state):
            self._record(Failure(name, message))
        self.labels.pop()

    def _enter(self, state: tuple) -> None:
        """A state stored for the first time (its label already on the path): judge it, expand it, push it."""
        self.count += 1
        depth = len(self.states)
        if depth > self.max_depth:
            self.max_depth = depth
        for name, message in self.judge.state(state):
            self._record(Failure(name, message))
        transitions, blocked = self.system.expand(state)
        self.transitions += len(transitions)
        for failure in self.judge.expanded(state, transitions, blocked):
            self._record(failure)
        if self.count == self.run_end:   # the run's budget spent: the next one starts afresh
            self._new_run()
            return
        self.rng.shuffle(transitions)
        self.states.append(state)
        self.edges.append(transitions)
        self.next.append(0)

def luby(i: int) -> int:
    """The i-th term (from 0) of the Luby sequence 1 1 2 1 1 2 4 1 1 2 1 1 2 4 8 ...: run lengths within a
    factor of the best fixed length for any distribution of run times (Luby, Sinclair and Zuckerman, 1993)."""
    size, exponent = 1, 0
    while size < i + 1:
        exponent += 1
        size = 2 * size + 1
    while size - 1 != i:
        size = (size - 1) >> 1
        exponent -= 1
        i %= size
    return 1 << exponent


def _expired(deadline: float | None) -> bool:
    return deadline is not None and time.perf_counter() >= deadline


def hunt(system: TransitionSystem, config: HuntConfig, seconds: float | None = None, goal: Goal = Goal(),
         cancelled: Callable[[], bool] | None = None) -> HuntSlice:
    """One search of `system`, from the start, for up to `seconds` (None: until it ends, meets `goal` or
    spends its state budget)."""
    return Hunter(system, config).run(seconds, goal, cancelled)
