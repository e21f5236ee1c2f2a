"""Breadth-first search partitioned among worker processes on Ray (`verify --workers N`, `--ray ADDRESS`),
with the same result as the one-process search (engine/bfs.py), id for id.

Each state belongs to one worker, chosen by a stable hash of its packing (CRC-32: the same in every
process, where Python's `hash` is keyed per process). States travel and rest packed in the native
store's encoding (engine/store.py, `state_codec`; pickles where it was not built). A worker keeps its
states' ids and packings, the frontier among them, and its own copies of the search's observers. The
search goes level by level:

1. every worker expands its frontier and sends each successor to its owner, batched: one message per
   pair of workers and level, each distinct packing once;
2. each owner looks the successors up; a new one is known by its discovery key, the least (source id,
   edge index) of the edges that reach it, which is the edge the one-process search would find it by;
3. the coordinator numbers the level's new states in the order of their keys, which is the order the
   one-process search would give them ids in (sorting plain integers, not states);
4. the owners record the ids and say where every edge of the level goes, and at once (in the same
   call) expand the next level, running the state observers on each state before expanding it; while
   they do, the coordinator records the level, and it sends the next lookups as soon as they return.

The coordinator keeps the graph (parent edges, every edge, depths, blocked masks), which the stuck-thread
decision, liveness and the analyses read as a whole, and one stable 64-bit fingerprint per state to find
a state's id; a state itself is replayed from its parent edges when a trace asks for it, as the
fingerprint store does (engine/store.py). Findings carry the point of the one-process search they would
have been made at (the expanded state, then the edge), so the first finding of each property is the
same one; a stop rule (--fail-fast, --stop-on, --max-states) that falls inside a level cuts the level
back to that point exactly, the run counts included. Clock, memory and Ctrl-C are looked at between
levels. A worker that dies ends the run at the last complete level, unknown, with the reason.
"""

from __future__ import annotations

import hashlib
import pickle
import time
import zlib
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from netcheck.model.lang.spec import Spec
from netcheck.model.semantics.discipline import Reduction
from netcheck.model.semantics.memo import remember
from netcheck.model.semantics.runtime import Violation
from netcheck.model.semantics.system import RunCounts, TransitionSystem

from .bfs import DEADLOCK
from .cluster import forget, kept
from .limits import (
    STOPPED_AT_VIOLATION,
    Interrupt,
    Limits,
    Progress,
    ProgressInfo,
    peak_rss_mb,
    release_freed_memory,
    restart_peak_rss,
    stop_on_reason,
)
from .observers import Findings, ObserverFactory, defines
from .result import ExplicitResult, Finding
from .store import (
    ACTIONS_UNKNOWN,
    Canonical,
    FingerprintStore,
    FingerprintTable,
    PackedIndex,
    StoreKind,
    fingerprint,
    fingerprint_table,
    state_codec,
)

EDGE_BITS = 24            # a discovery key is source id << EDGE_BITS | edge index
AFTER_EDGES = 1 << 40     # the point, within an expanded state, after its last edge (terminal, expanded hooks)
_MASK64 = (1 << 64) - 1
PICKLE = 5
POOL = "partition"        # the name the workers are kept under on the cluster (cluster.py's `kept`)


def owner_of(packed: bytes, workers: int) -> int:
    """The worker a packed state belongs to: the same in every process."""
    return zlib.crc32(packed) % workers


def stable_fingerprint(packed: bytes) -> int:
    """A packed state's 64-bit fingerprint, the same in every process (never 0, the table's empty mark)."""
    return int.from_bytes(hashlib.blake2b(packed, digest_size=8).digest(), "little") or 1


@dataclass(frozen=True)
class Job:
    """What every worker of one search builds its part from: the spec (data, pickled), its compilation
    options, how owners store states, the limits, and what makes the search's observers (picklable)."""

    spec: Spec
    reduction: Reduction
    symmetric: bool
    store: StoreKind
    limits: Limits
    deadlock: bool
    observers: ObserverFactory
    memo: bool = True   # the workers fire steps through the step memo (the driver's choice)


class KeyedFindings(Findings):
    """Findings kept with the point of the one-process search they would have been made at (`at`): per
    property the earliest one, so that merging the workers' findings gives the one-process search's."""

    def __init__(self) -> None:
        super().__init__({}, {})
        self.at: tuple[int, int] = (-1, 0)
        self.keys: dict[tuple[bool, str], tuple[int, int]] = {}
        self.fresh: list[tuple[tuple[int, int], bool, Finding]] = []

    def violate(self, finding: Finding) -> None:
        self._keep(True, finding)

    def witness(self, finding: Finding) -> None:
        self._keep(False, finding)

    def _keep(self, violation: bool, finding: Finding) -> None:
        old = self.keys.get((violation, finding.prop))
        if old is None or self.at < old:
            self.keys[(violation, finding.prop)] = self.at
            (self.violations if violation else self.witnesses)[finding.prop] = finding
            self.fresh.append((self.at, violation, finding))

    def take(self) -> list[tuple[tuple[int, int], bool, Finding]]:
        """The findings kept since the last call."""
        fresh, self.fresh = self.fresh, []
        return fresh


@dataclass
class Expanded:
    """What a worker tells the coordinator about the level it expanded: per state (in id order) its id,
    its stored edges (state targets), all its transitions, its blocked mask; per stored edge its label
    (and permutation under symmetry); which edges are fatal signals (indices into these edges); the
    violating, final and wait-cycle states; the findings; its memory."""

    ids: array
    stored: array
    transitions: array
    blocked: array | list
    actions: array
    choices: array
    perms: array
    signals: array
    violating: list[int]
    finals: list[int]
    stuck: dict[int, int]
    findings: list
    memory_mb: float


@dataclass
class Assigned:
    """What an owner tells the coordinator after numbering: where each edge of the level that reached it
    goes (the edge as a key, source id << EDGE_BITS | edge index, and its target id), the stable
    fingerprints of its new states (in id order), the findings its state observers made, its memory."""

    edges: array
    targets: array
    fingerprints: array
    findings: list
    memory_mb: float


class Frontier:
    """States to expand, in id order: ids, packings, and the discovery keys that say where the one-process
    search found each (-1 - k for the k-th initial state). Flat sequences, not an object per state."""

    __slots__ = ("ids", "packings", "keys")

    def __init__(self) -> None:
        self.ids = array("I")
        self.packings: list[bytes] = []
        self.keys = array("q")

    def add(self, sid: int, packed: bytes, key: int) -> None:
        self.ids.append(sid)
        self.packings.append(packed)
        self.keys.append(key)


def _point(key: int) -> tuple[int, int]:
    """The point of the one-process search where a state with this discovery key was found: while
    expanding its source, at its edge (or, for an initial state, while interning the initial states)."""
    if key < 0:
        return (-1, -1 - key)
    return (key >> EDGE_BITS, 2 * (key & ((1 << EDGE_BITS) - 1)))


class Partition:
    """One worker (a Ray actor): the states owned, the frontier among them, an expander, observers. An
    actor serves one search after another (`load`, `unload`), so that a run over several specs starts
    its worker processes once."""

    def load(self, index: int, workers: int, job: Job) -> int:
        """Start a search: this worker is number `index` of `workers`."""
        self.index, self.workers, self.job = index, workers, job
        restart_peak_rss()   # this process may have served a search before: report this one's peak
        system = self.system = TransitionSystem(job.spec, job.reduction, job.symmetric)
        if job.memo:
            remember(system)
        system.restart_counts()
        self.start_counts = system.run_counts()
        self.encode, self.decode = state_codec()
        self.canon = _canonical(system)
        self.ids: PackedIndex | FingerprintTable = PackedIndex() if job.store is StoreKind.FULL else fingerprint_table()
        # the states to expand next: id, packing, and the point their state observers run at
        self.frontier = Frontier()
        # the levels expanded lately, by depth: their states and the run counts before them (for `recount`)
        self.expanded: dict[int, tuple[Frontier, RunCounts]] = {}
        self.depth = -1
        # the level's lookups: new states by key (an index j into new_keys/new_packings), each batch's
        # packings resolved (an id, or -1 - j for a new state), and the order of the new states' keys
        self.pending: dict[Any, int] = {}
        self.new_keys: list[int] = []
        self.new_packings: list[bytes] = []
        self.incoming: list[tuple[array, array, list[int]]] = []
        self.order: list[int] = []
        self.findings = KeyedFindings()
        self.scratch = ExplicitResult(system, store=None)   # type: ignore[arg-type]
        self.observers = list(job.observers(system))
        for o in self.observers:
            if defines(o, "on_transition"):
                raise ValueError(f"the observer {o.name or type(o).__name__} watches transitions, which a "
                                 "partitioned search does not show it")
            o.start(self.scratch, self.findings)
        self.on_state = [o.on_state for o in self.observers if defines(o, "on_state")]
        self.on_expanded = [o.on_expanded for o in self.observers if defines(o, "on_expanded")]
        self.on_terminal = [o.on_terminal for o in self.observers if defines(o, "on_terminal")]
        return index

    def unload(self) -> None:
        """Drop the search (its states and observers), keeping the process for the next one, and give the
        memory they held back to the system."""
        self.__dict__.clear()
        release_freed_memory()

    def add_initial(self, states: Sequence[tuple[int, bytes, int]]) -> None:
        """Own these initial states: (id, packing, position among the initial states)."""
        for sid, packed, k in states:
            self.ids.setdefault(packed if self.job.store is StoreKind.FULL else fingerprint(packed), sid)   # type: ignore[arg-type]
            self.frontier.add(sid, packed, -1 - k)

    def expand(self) -> tuple:
        """Watch and expand the frontier: an `Expanded` for the coordinator, then one batch per owner (the
        distinct packings sent there, and per edge its key, source id << EDGE_BITS | its index among
        the source's stored edges, and its packing's index in the batch)."""
        self.depth += 1
        level, self.frontier = self.frontier, Frontier()
        self.expanded[self.depth] = (level, self.system.run_counts())
        self.expanded.pop(self.depth - 2, None)
        workers, canon, expand, encode, decode = self.workers, self.canon, self.system.expand, self.encode, self.decode
        quiescent, tids = self.system.quiescent, range(self.system.thread_count)
        findings, deadlock, on_state = self.findings, self.job.deadlock, self.on_state
        uniques: list[dict[bytes, int]] = [{} for _ in range(workers)]
        batches = [(array("q"), array("I")) for _ in range(workers)]
        out = Expanded(array("I"), array("I"), array("I"), array("Q") if self.system.thread_count <= 64 else [],
                       array("I"), array("H"), array("H"), array("I"), [], [], {}, [], 0.0)
        perms, signals, actions, choices = out.perms, out.signals, out.actions, out.choices
        for sid, packed, key in zip(level.ids, level.packings, level.keys):
            s = decode(packed)
            if on_state:
                findings.at = _point(key)
                for hook in on_state:
                    hook(sid, s)
            edges, blocked = expand(s)
            violating = False
            b = 0
            for tid, action, choice, signal, target in edges:
                if target.__class__ is tuple:
                    if canon is not None:
                        target, perm = canon.least(target)
                        perms.append(perm)
                    p = encode(target)
                    owner = zlib.crc32(p) % workers
                    unique = uniques[owner]
                    u = unique.setdefault(p, len(unique))
                    keys, refs = batches[owner]
                    keys.append(sid << EDGE_BITS | b)
                    refs.append(u)
                    if signal:
                        signals.append(len(actions))
                    actions.append(action)
                    choices.append(choice)
                    b += 1
                else:
                    assert isinstance(target, Violation)
                    violating = violating or not signal
                    findings.at = (sid, 2 * b - 1)   # after the stored edges before it, before the next
                    findings.violate(Finding(target.prop, sid, tid, target.message, signal, action, choice))
            out.ids.append(sid)
            out.stored.append(b)
            out.transitions.append(len(edges))
            out.blocked.append(0 if violating else blocked)
            if violating:
                out.violating.append(sid)
            findings.at = (sid, AFTER_EDGES)
            if edges:
                for watch in self.on_expanded:
                    watch(sid, s, blocked, violating)
            else:
                final = all(quiescent(s, t) for t in tids)
                if final:
                    out.finals.append(sid)
                elif deadlock:
                    findings.violate(Finding(DEADLOCK, sid))
                for end in self.on_terminal:
                    end(sid, s, final)
        out.stuck = dict(self.scratch.stuck)
        self.scratch.stuck.clear()
        out.findings = findings.take()
        out.memory_mb = peak_rss_mb()
        # each batch pickled here, in C: Ray's own serializer calls Python code for every object it meets
        return (out, *(pickle.dumps((list(uniques[w]), *batches[w]), PICKLE) for w in range(workers)))

    def resolve(self, *batches: bytes) -> array:
        """Look up the successors sent here (each batch pickled: its distinct packings, and per edge its key
        and its packing's index): the discovery keys of the new ones, sorted."""
        ids, pending, new_keys, new_packings = self.ids, self.pending, self.new_keys, self.new_packings
        whole = self.job.store is StoreKind.FULL
        for batch in batches:
            packings, keys, refs = pickle.loads(batch)
            found: list[int] = []
            for p in packings:
                k = p if whole else fingerprint(p)
                sid = ids.get(k)   # type: ignore[arg-type]
                if sid is None:
                    j = pending.get(k)
                    if j is None:
                        j = pending[k] = len(new_keys)
                        new_keys.append(_MASK64)
                        new_packings.append(p)
                    found.append(-1 - j)
                else:
                    found.append(sid)
            for dkey, u in zip(keys, refs):
                v = found[u]
                if v < 0 and dkey < new_keys[-1 - v]:
                    new_keys[-1 - v] = dkey
            self.incoming.append((keys, refs, found))
        self.order = sorted(range(len(new_keys)), key=new_keys.__getitem__)
        self.pending = {}
        return array("q", [new_keys[j] for j in self.order])

    def step(self, ids: array, expand_next: bool) -> tuple:
        """Record the new states' ids (given in the order of their keys) and resolve every edge of the
        level (an `Assigned`); then, with `expand_next`, expand the next level at once (what `expand`
        returns), else an empty `Expanded` and no batches."""
        fingerprints = array("Q")
        own, frontier = self.ids.setdefault, self.frontier
        whole = self.job.store is StoreKind.FULL
        new_keys, new_packings = self.new_keys, self.new_packings
        assigned = [0] * len(new_keys)
        for j, sid in zip(self.order, ids):
            packed = new_packings[j]
            assigned[j] = sid
            own(packed if whole else fingerprint(packed), sid)   # type: ignore[arg-type]
            frontier.add(sid, packed, new_keys[j])
            fingerprints.append(stable_fingerprint(packed))
        out = Assigned(array("q"), array("I"), fingerprints, [], 0.0)
        for keys, refs, found in self.incoming:
            targets = [v if v >= 0 else assigned[-1 - v] for v in found]
            out.edges.extend(keys)
            out.targets.extend([targets[u] for u in refs])
        self.incoming, self.order, self.new_keys, self.new_packings = [], [], [], []
        if expand_next:
            return (out, *self.expand())
        for sid, packed, key in zip(frontier.ids, frontier.packings, frontier.keys) if self.on_state else ():
            self.findings.at = _point(key)   # found, never expanded: still watched
            state = self.decode(packed)
            for hook in self.on_state:
                hook(sid, state)
        out.findings = self.findings.take()
        out.memory_mb = peak_rss_mb()
        return (out, None, *(pickle.dumps(([], array("q"), array("I")), PICKLE) for _ in range(self.workers)))

    def recount(self, depth: int, last: int) -> None:
        """Run counts as if level `depth` had been expanded only up to state `last` (a stop rule fell
        there) and nothing after it."""
        level, counts = self.expanded[depth]
        self.system.set_run_counts(counts)
        for sid, packed in zip(level.ids, level.packings):
            if sid > last:
                break
            self.system.expand(self.decode(packed))

    def results(self) -> tuple[RunCounts, list[object]]:
        """The run counts this worker added, per thread, and what its observers saw."""
        added = [([a - b for a, b in zip(now[0], then[0])], [a - b for a, b in zip(now[1], then[1])])
                 for now, then in zip(self.system.run_counts(), self.start_counts)]
        return added, [o.part() for o in self.observers]


@dataclass
class Level:
    """One level's contribution to the graph, before it is added to the store (and perhaps cut short)."""

    first: int                 # the first id of the level
    size: int
    starts: Any                # per state: its first stored edge, counted from the level's first edge
    transitions: Any           # per state: every transition, violating steps included
    blocked: Any
    actions: Any
    choices: Any
    perms: Any
    signals: Any
    targets: Any
    new_keys: Any              # the new states' discovery keys, in id order
    new_fingerprints: Any
    violating: list[int] = field(default_factory=list)
    finals: list[int] = field(default_factory=list)


def search(system: TransitionSystem, result: ExplicitResult, limits: Limits, workers: int,
           observers: ObserverFactory, progress: Progress | None = None, deadlock: bool = True) -> None:
    """Explore `system` into `result` (its store a `PartitionedStore`, empty) on `workers` Ray actors,
    each watching its part with the observers `observers` makes (a picklable callable: the workers run
    it too); the coordinator's own copies merge what the workers' saw, then finish."""
    import numpy as np

    from .cluster import import_ray
    ray = import_ray()
    started = time.perf_counter()
    store = result.store
    assert isinstance(store, PartitionedStore)
    job = Job(system.spec, system.reduction, system.symmetric, store.owners, limits, deadlock, observers,
              system.memo is not None)
    died = (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError)
    actors = _actors(ray, workers)
    run = Run(ray, np, actors, store, limits)
    added: Sequence = ()
    parts: Sequence = ()
    with Interrupt() as interrupt:
        try:
            ray.get([a.load.remote(k, workers, job) for k, a in enumerate(actors)])
            _initial(system, run)
            expanding = [a.expand.options(num_returns=workers + 1).remote() for a in actors]
            run.search(expanding, interrupt, progress, started, result)
            added, parts = zip(*ray.get([a.results.remote() for a in actors]))
        except ray.exceptions.RayTaskError as err:
            if not interrupt.raised:
                _raise_cause(err)
            result.complete, result.stop_reason = False, "interrupted"
        except died as err:
            result.complete, result.stop_reason = False, f"a worker died ({_first_line(err)})"
        finally:
            _release(ray, actors, died)
    result.seconds = time.perf_counter() - started
    result.transitions = run.transitions
    run.findings_into(result)
    for more in added:
        system.add_run_counts(more)
    coordinator = observers(system)
    findings = Findings(result.violations, result.witnesses)
    for k, o in enumerate(coordinator):
        o.start(result, findings)
        if parts:
            o.merge([p[k] for p in parts], len(store), store.expanded)
        o.finish(result)
    result.worker_memory_mb = tuple(run.memory)


def _canonical(system: TransitionSystem) -> Canonical | None:
    """Under a symmetry with more than one permutation, the canonical image of a state (else None)."""
    symmetry = system.symmetry
    return Canonical.of(symmetry) if system.symmetric and symmetry is not None and symmetry.size > 1 else None


def _actors(ray: Any, workers: int) -> list:
    """The `workers` partition actors of this Ray session (one CPU each, spread over the cluster's nodes):
    made by the first search that asks for them and kept for the next ones while the cluster lasts
    (cluster.py's `kept`). A search on another number of workers replaces them (they hold the CPUs)."""
    held: list = kept(POOL, list)
    if len(held) != workers:
        for a in held:
            ray.kill(a)
        actor = ray.remote(num_cpus=1, max_restarts=0)(Partition)
        held[:] = [actor.options(scheduling_strategy="SPREAD").remote() for _ in range(workers)]
    return list(held)


def _release(ray: Any, actors: list, died: tuple[type[Exception], ...]) -> None:
    """Free the workers' states for the next search; if a worker failed, every one is killed, not reused."""
    failed = False
    for a in actors:
        try:
            ray.get(a.unload.remote())
        except (*died, ray.exceptions.RayTaskError):
            failed = True
    if failed:
        for a in actors:
            ray.kill(a)
        forget(POOL)


def _initial(system: TransitionSystem, run: Run) -> None:
    """The initial states, interned in the order the system gives them, each sent to its owner."""
    canon = _canonical(system)
    initial: list[list[tuple[int, bytes, int]]] = [[] for _ in run.actors]
    seen: set[bytes] = set()
    for k, target in enumerate(system.initial()):
        if isinstance(target, Violation):
            run.found([((-1, k), True, Finding(target.prop, -1, target.tid, target.message))])
            continue
        if canon is not None:
            target = canon.least(target)[0]
        packed = run.store.encode(target)
        if packed not in seen:
            seen.add(packed)
            initial[owner_of(packed, len(run.actors))].append((len(run.store), packed, k))
            run.store.add_initial(target, stable_fingerprint(packed))
    run.ray.get([a.add_initial.remote(initial[w]) for w, a in enumerate(run.actors)])


class Run:
    """The coordinator's side of one partitioned search: the level loop, the findings (the earliest per
    property), the wait cycles the workers proved, their memory."""

    def __init__(self, ray: Any, np: Any, actors: list, store: PartitionedStore, limits: Limits):
        self.ray, self.np, self.actors, self.store, self.limits = ray, np, actors, store, limits
        self.best: dict[tuple[bool, str], tuple[tuple[int, int], Finding]] = {}
        self.stuck: dict[int, int] = {}
        self.memory = [0.0] * len(actors)
        self.transitions = 0

    def found(self, fresh: list) -> None:
        best = self.best
        for at, violation, finding in fresh:
            old = best.get((violation, finding.prop))
            if old is None or at < old[0]:
                best[(violation, finding.prop)] = (at, finding)

    def findings_into(self, result: ExplicitResult) -> None:
        """The earliest finding of each property, in the order the one-process search makes them (made by
        an expansion the store records: a run that lost a worker ends at its last complete level)."""
        expanded = self.store.expanded
        for (violation, _), (at, finding) in sorted(self.best.items(), key=lambda item: item[1][0]):
            if at[0] >= expanded:
                continue
            (result.violations if violation else result.witnesses).setdefault(finding.prop, finding)
        dead = result.violations.get(DEADLOCK)
        if dead is not None and dead.state in self.stuck:
            result.stuck[dead.state] = self.stuck[dead.state]   # the wait cycle that proved it (WaitCycles)

    def search(self, expanding: list, interrupt: Interrupt, progress: Progress | None, started: float,
               result: ExplicitResult) -> None:
        """Level after level: look the successors up, number the new states, record the level's edges
        while the workers expand the next one; stop where the one-process search would."""
        ray, np, actors, store, limits = self.ray, self.np, self.actors, self.store, self.limits
        workers = len(actors)
        first, size, depth = 0, len(store), 0
        expanded = self._expanded(ray.get([e[0] for e in expanding]))
        looking_up = self._resolve(expanding)
        while True:
            keys = [np.frombuffer(k, dtype=np.int64) if len(k) else np.zeros(0, np.int64) for k in ray.get(looking_up)]
            every = np.concatenate(keys)
            order = np.argsort(every, kind="stable")
            ids = np.empty(len(every), dtype=np.int64)
            ids[order] = np.arange(first + size, first + size + len(every), dtype=np.int64)
            cuts = np.cumsum([0, *map(len, keys)])
            # whether the next level will be expanded: not past --max-depth, nor after Ctrl-C, the clock or memory
            stop = _poll(interrupt, started, limits, sum(self.memory) + peak_rss_mb())
            deeper = limits.max_depth is None or depth + 2 <= limits.max_depth
            go_on = bool(len(every)) and not stop and deeper
            stepping = [a.step.options(num_returns=workers + 2).remote(
                array("I", ids[cuts[o]:cuts[o + 1]].astype(np.uint32).tobytes()), go_on) for o, a in enumerate(actors)]
            level = _level_of(np, expanded, first, size, store)
            assigned: list[Assigned] = ray.get([s[0] for s in stepping])
            if go_on:
                # the next level's lookups run while this one is recorded
                looking_up = self._resolve([s[1:] for s in stepping])
                # its expansion watched the states this level found: those findings count here
                expanded = self._expanded(ray.get([s[1] for s in stepping]))
            for w, part in enumerate(assigned):
                self.found(part.findings)
                self.memory[w] = max(self.memory[w], part.memory_mb)
            _targets(np, level, assigned, every, order)
            last, reason = _stop_point(np, level, self.best, limits, len(store))
            if last is not None:
                level = _cut(np, level, last)
                ray.get([a.recount.remote(depth, last) for a in actors])
                self.best = {k: v for k, v in self.best.items() if v[0] <= (last, AFTER_EDGES)}
                result.complete, result.stop_reason = False, reason
            self.transitions += int(level.transitions.sum())
            _add_level(np, store, result, level, depth)
            if last is not None:
                return
            first, size, depth = first + size, len(store) - first - size, depth + 1
            if not size:
                return
            if not go_on:
                result.complete = False
                result.stop_reason = stop or f"max depth {limits.max_depth} reached"
                return
            if progress is not None:
                progress(ProgressInfo(len(store), depth, time.perf_counter() - started, size,
                                      _level(store, depth - 1), 0, sum(self.memory) + peak_rss_mb()))

    def _resolve(self, expanding: list) -> list:
        """Send each owner the batches the workers' expansion made for it (object refs, worker to worker)."""
        workers = len(self.actors)
        return [self.actors[o].resolve.remote(*(expanding[w][1 + o] for w in range(workers)))
                for o in range(workers)]

    def _expanded(self, expanded: list[Expanded]) -> list[Expanded]:
        """Take in what the workers say about the level they expanded: findings, wait cycles, memory."""
        for w, part in enumerate(expanded):
            self.found(part.findings)
            self.stuck.update(part.stuck)
            self.memory[w] = max(self.memory[w], part.memory_mb)
        return expanded


def _level_of(np: Any, expanded: list[Expanded], first: int, size: int, store: PartitionedStore) -> Level:
    """The level of ids [first, first + size) from what the workers expanded, its edges' targets still
    unknown."""
    stored = np.zeros(size, dtype=np.int64)
    transitions = np.zeros(size, dtype=np.int64)
    blocked = np.zeros(size, dtype=np.uint64) if isinstance(store.blocked, array) else [0] * size
    for part in expanded:
        local = _np(np, part.ids, np.int64) - first
        stored[local] = _np(np, part.stored, np.int64)
        transitions[local] = _np(np, part.transitions, np.int64)
        if isinstance(blocked, list):
            for i, mask in zip(local.tolist(), part.blocked):
                blocked[i] = mask
        else:
            blocked[local] = _np(np, part.blocked, np.uint64)
    starts = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(stored, out=starts[1:])
    total = int(starts[-1])
    actions = np.zeros(total, dtype=np.uint32)
    choices = np.zeros(total, dtype=np.uint16)
    perms = np.zeros(total if any(len(p.perms) for p in expanded) else 0, dtype=np.uint16)
    signals = []
    for part in expanded:
        if not len(part.ids):
            continue
        local = _np(np, part.ids, np.int64) - first
        counts = _np(np, part.stored, np.int64)
        offsets = np.repeat(starts[local] - (np.cumsum(counts) - counts), counts)
        where = offsets + np.arange(len(part.actions), dtype=np.int64)
        actions[where] = _np(np, part.actions, np.uint32)
        choices[where] = _np(np, part.choices, np.uint16)
        if len(perms):
            perms[where] = _np(np, part.perms, np.uint16)
        if len(part.signals):
            signals.append(where[_np(np, part.signals, np.int64)])
    return Level(first, size, starts, transitions, blocked, actions, choices, perms,
                 np.sort(np.concatenate(signals)) if signals else np.zeros(0, np.int64),
                 np.zeros(total, dtype=np.uint32), np.zeros(0, np.int64), np.zeros(0, np.uint64),
                 sorted(s for p in expanded for s in p.violating), sorted(s for p in expanded for s in p.finals))


def _targets(np: Any, level: Level, assigned: list[Assigned], keys: Any, order: Any) -> None:
    """Fill in where the level's edges go and the states it found: `keys` their discovery keys as the
    owners listed them (owner after owner), `order` the permutation that sorts them into id order."""
    for part in assigned:
        edges = _np(np, part.edges, np.int64)
        where = level.starts[(edges >> EDGE_BITS) - level.first] + (edges & ((1 << EDGE_BITS) - 1))
        level.targets[where] = _np(np, part.targets, np.uint32)
    level.new_keys = keys[order]
    level.new_fingerprints = np.concatenate([_np(np, p.fingerprints, np.uint64) for p in assigned])[order]
def _np(np: Any, values: array | list, dtype: Any) -> Any:
    """An array's values as a numpy array of `dtype`."""
    if isinstance(values, list):
        return np.asarray(values, dtype=dtype)
    return np.frombuffer(values, values.typecode).astype(dtype)


def _stop_point(np: Any, level: Level, best: dict, limits: Limits, known: int) -> tuple[int | None, str]:
    """Where in this level the one-process search would have stopped by a stop rule: the last state it
    would have expanded, and why (None: it would not have stopped here)."""
    first, size = level.first, level.size
    candidates: list[tuple[int, int, str]] = []
    times = {prop: at[0] for (violation, prop), (at, _) in best.items() if violation}
    violated = set(times)
    if limits.fail_fast and times:
        candidates.append((max(first, min(times.values())), 0, STOPPED_AT_VIOLATION[0]))
    times |= {prop: at[0] for (violation, prop), (at, _) in best.items() if not violation and prop not in times}
    if limits.stop_on and limits.stop_on <= times.keys():
        candidates.append((max(first, max(times[p] for p in limits.stop_on)), 0,
                           stop_on_reason(limits.stop_on, violated)))
    if limits.max_states is not None:
        parents = level.new_keys >> EDGE_BITS
        expanded = np.arange(first, first + size, dtype=np.int64)
        states = known + np.searchsorted(parents, expanded, side="right")
        hit = np.nonzero((states >= limits.max_states) & (expanded + 1 < states))[0]
        if len(hit):
            candidates.append((first + int(hit[0]), 1, f"max states {limits.max_states} reached"))
    if not candidates:
        return None, ""
    last, _, reason = min(candidates)
    return (last, reason) if last < first + size else (None, "")


def _cut(np: Any, level: Level, last: int) -> Level:
    """The level as expanded only up to state `last`, with the states found up to there."""
    keep = last - level.first + 1
    edges = int(level.starts[keep])
    new = int(np.searchsorted(level.new_keys >> EDGE_BITS, last, side="right"))
    return Level(level.first, keep, level.starts[:keep + 1], level.transitions[:keep], level.blocked[:keep],
                 level.actions[:edges], level.choices[:edges], level.perms[:edges] if len(level.perms) else level.perms,
                 level.signals[level.signals < edges], level.targets[:edges], level.new_keys[:new],
                 level.new_fingerprints[:new], [s for s in level.violating if s <= last],
                 [s for s in level.finals if s <= last])


def _add_level(np: Any, store: PartitionedStore, result: ExplicitResult, level: Level, depth: int) -> None:
    """Append a level's expansions and the states it found to the store."""
    base = store.edge_count()
    store.first_edge.frombytes((level.starts[:level.size] + base).astype(np.uint32).tobytes())
    if isinstance(store.blocked, array):
        store.blocked.frombytes(np.asarray(level.blocked, dtype=store.blocked.typecode).tobytes())
    else:
        store.blocked.extend(level.blocked)
    store.edges_dst.frombytes(level.targets.astype(np.uint32).tobytes())
    store.edges_action.frombytes(level.actions.astype(store.edges_action.typecode).tobytes())
    store.edges_choice.frombytes(level.choices.astype(np.uint16).tobytes())
    if len(level.perms):
        store.edges_perm.frombytes(level.perms.astype(np.uint16).tobytes())
    store.signal_edges.frombytes((level.signals + base).astype(np.uint32).tobytes())
    store.violating.extend(level.violating)
    result.finals.extend(level.finals)
    parents = level.new_keys >> EDGE_BITS
    where = level.starts[parents - level.first] + (level.new_keys & ((1 << EDGE_BITS) - 1))
    store.add_states(parents, level.actions[where], level.choices[where], depth + 1, level.new_fingerprints)


def _level(store: PartitionedStore, depth: int) -> int:
    from .limits import level_size
    return level_size(store.depth, depth) if depth >= 0 else 0


def _poll(interrupt: Interrupt, started: float, limits: Limits, memory_mb: float) -> str:
    """Why the search must stop before the next level (Ctrl-C, the timeout, the memory limit), or ''."""
    if interrupt.raised:
        return "interrupted"
    if limits.timeout and time.perf_counter() - started > limits.timeout:
        return f"timeout after {limits.timeout:g} s"
    if limits.max_memory_mb is not None and memory_mb > limits.max_memory_mb:
        return f"memory limit {limits.max_memory_mb:g} MB reached"
    return ""


def _raise_cause(err: Exception) -> None:
    """A worker's exception raised here as itself (an internal error stays one), not as Ray's wrapper."""
    cause = getattr(err, "cause", None)
    if isinstance(cause, Exception):
        raise cause from None
    raise err


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


class PartitionedStore(FingerprintStore):
    """The coordinator's store of a partitioned search: the whole graph, and per state a stable 64-bit
    fingerprint; every state but the initial ones is replayed from its parent edges when asked for, and
    checked against its fingerprint. `id_of` indexes the fingerprints the first time it is asked (few
    runs ask: traces under symmetry, paths of a run cut short). Whether states were compared whole or by
    fingerprint is the owners' store (`owners`), and that is the kind the report gives."""

    fingerprint = staticmethod(stable_fingerprint)

    def __init__(self, threads: int, successor: Callable[[tuple, int, int], tuple | None], owners: StoreKind,
                 actions: int = ACTIONS_UNKNOWN):
        super().__init__(threads, successor, actions)
        self.owners = owners
        self.kind = owners   # type: ignore[misc]
        self.fingerprints = array("Q")   # of each state's encoding as the workers pack it
        self.encode = state_codec()[0]
        self.indexed = 0   # how many of the fingerprints `index` holds

    def omission_probability(self) -> float:
        return 0.0 if self.owners is StoreKind.FULL else super().omission_probability()

    def edge_count(self) -> int:
        return len(self.edges_dst)

    def id_of(self, state: tuple) -> int | None:
        index, fingerprints = self.index, self.fingerprints
        for sid in range(self.indexed, len(fingerprints)):
            index.setdefault(fingerprints[sid], sid)
        self.indexed = len(fingerprints)
        return index.get(stable_fingerprint(self.encode(state)))

    def replays_to(self, state: tuple, sid: int) -> bool:
        return self.fingerprints[sid] == stable_fingerprint(self.encode(state))

    def add_initial(self, state: tuple, key: int) -> None:
        """An initial state, kept whole (replays start from it), and its fingerprint."""
        self.fingerprints.append(key)
        self.states.add(self.pack(state), True)
        self.parent.append(-1)
        self.parent_action.append(-1)
        self.parent_choice.append(0)
        self.depth.append(0)

    def add_states(self, parents: Any, actions: Any, choices: Any, depth: int, keys: Any) -> None:
        """The states a level found, in id order: their parent edges and fingerprints."""
        count = len(keys)
        self.parent.frombytes(parents.astype("int32").tobytes())
        self.parent_action.frombytes(actions.astype(self.parent_action.typecode).tobytes())
        self.parent_choice.frombytes(choices.astype("uint16").tobytes())
        self.depth.extend([depth] * count)
        self.states.packed.extend([None] * count)
        self.fingerprints.frombytes(keys.astype("uint64").tobytes())
