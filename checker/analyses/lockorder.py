"""A lockdep-style lock-order graph, built from the explored states (during the search, by an observer),
and its strong cycles.

An edge A -> B (lock classes: a lock name; the instances of a per-entity lock share one class unless it
is declared `classes: per_instance`; a `_nested` acquisition with subclass n is in class "A/n") means
some thread acquires, or waits for, B while holding A. Each dependency carries the modes of both locks and
the spec sites of both acquisitions. Following lockdep (Documentation/locking/lockdep-design.rst), a
dependency has one of four kinds, from the held lock (E: exclusive, S: shared) and the acquired one
(R: recursive reader, N: anything else); a cycle is a potential deadlock only if it is *strong*: it
never enters a lock as a recursive reader (-(*R)->) and leaves it as a shared holder (-(S*)->).
Trylocks create no dependency.

Two things about a cycle go beyond lockdep. Its *gate*: the lock instances (outside the cycle) held
exclusively at every acquisition on every edge of the cycle, in every explored state; two threads cannot
both be at such acquisitions, so the deadlock is never reached. And the spec's `known_cycles:` waivers: a
waived cycle is listed apart with its reason; a waiver that matches no cycle of a complete exploration is
stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import product

import networkx as nx
from netcheck.model.lang.lockapi import LOCK_API, acquire_modes
from netcheck.model.lang.rcucallbacks import BUSY as CALLBACK_BUSY
from netcheck.model.lang.rcucallbacks import RCU_HEAD_STATES, callback_map, head_var, instances
from netcheck.model.lang.spec import Await, KnownCycle, LockClasses, LockOp, Spec
from netcheck.model.lang.works import BUSY, WORK_STATES, Works, map_holders, queue_map, work_map
from netcheck.model.semantics import ir
from netcheck.model.semantics.discipline import successors
from netcheck.model.semantics.locks import read_depth
from netcheck.model.semantics.system import TransitionSystem

from ..engine.observers import Observer, earliest, replay
from ..engine.paths import parent_path
from ..engine.result import ExplicitResult
from .irqsafety import IrqConflict, Usage, irq_conflicts, usage_bits
from .lockdeps import NO_SITE, Dependency, Site, lock_wrappers, node_site
from .lockdeps import RECURSIVE_MODES as RECURSIVE_MODES  # re-exported: the renderers' vocabulary
from .lockdeps import SHARED_MODES as SHARED_MODES
from .lockdeps import dep_kind as dep_kind
from .lockdeps import mode_suffix as mode_suffix
from .symmetric import real_states

# acquiring lock API -> the mode it asks for ("rread": a recursive reader; no spec op asks for it today)
ACQUIRE_MODES = acquire_modes(waiting_only=True)
EXCLUSIVE_MODES = ("mutex", "spin", "write")   # a lock held in these modes keeps every other thread out
MAX_CYCLES = 50


@dataclass(frozen=True)
class Cycle:
    """A strong cycle: locks[0] -> locks[1] -> ... -> locks[0], one dependency per edge. `gate`: lock
    instances held at every acquisition of every dependency on its edges (a complete exploration only):
    the cycle is never reached."""

    locks: tuple[str, ...]
    deps: tuple[Dependency, ...]
    gate: tuple[str, ...] = ()

    @property
    def recursive(self) -> bool:
        """A self edge: lockdep's "possible recursive locking"."""
        return len(self.locks) == 1

    @property
    def chain(self) -> str:
        return " --> ".join((*self.locks, self.locks[0]))


@dataclass(frozen=True)
class Waived:
    """A strong cycle the spec declares known (`known_cycles:`), with the declaration."""

    cycle: Cycle
    known: KnownCycle


@dataclass(frozen=True)
class LockOrder:
    """The result: every lock class, every dependency, every strong cycle not waived (at most MAX_CYCLES),
    the waived ones, and the waivers that match no cycle (stale: only decided on a complete exploration)."""

    classes: tuple[str, ...]
    deps: tuple[Dependency, ...]
    cycles: tuple[Cycle, ...]
    more_cycles: int = 0        # strong cycles found beyond MAX_CYCLES
    complete: bool = True       # built from a complete exploration
    waived: tuple[Waived, ...] = ()
    stale: tuple[KnownCycle, ...] = ()
    irq: tuple[IrqConflict, ...] = ()    # lockdep's interrupt-safety rules broken (irqsafety.py)

    @property
    def failed(self) -> bool:
        """A strong cycle nobody waived, an interrupt-safety conflict, or a stale waiver."""
        return bool(self.cycles or self.irq or self.stale)

    @property
    def status(self) -> str:
        if self.failed:
            return "violated"
        return "holds" if self.complete else "unknown"


# ---------------------------------------------------------------- building the graph from states


@dataclass(frozen=True)
class _Instance:
    cls: str
    base: int
    kind: str            # mutex, spinlock, rwsem
    name: str = ""       # the instance: rq_lock[rq0]
    per_instance: bool = False

    def lock_class(self, subclass: int = 0) -> str:
        """Its lockdep class when taken with `subclass`: rq_lock, rq_lock/1, rq_lock[rq0] (per_instance)."""
        return (self.name if self.per_instance else self.cls) + (f"/{subclass}" if subclass else "")


def _instances(system: TransitionSystem) -> list[_Instance]:
    per_instance = {lock.name for lock in system.spec.locks if lock.classes is LockClasses.PER_INSTANCE}
    out = []
    for index, slot in enumerate(system.layout.slots):
        if slot.kind == "lock_owner":
            out.append(_Instance(slot.var, index, system.layout.lock_kinds[slot.var], slot.name.rpartition(".")[0],
                                 slot.var in per_instance))
    return out


def subclass_of(node: ir.Node | None) -> int:
    """The lockdep subclass of a lock statement (0 unless it is a _nested acquire)."""
    return node.stmt.subclass if node is not None and isinstance(node.stmt, LockOp) else 0


def lock_classes(spec: Spec) -> list[str]:
    """The lock classes a spec declares (a per_instance lock's instances each; subclasses appear when used)."""
    out: list[str] = []
    for lock in spec.locks:
        if lock.classes is LockClasses.PER_INSTANCE:
            keys = [""]
            for entity in lock.per:
                keys = [f"{k}, {e}" if k else e for k in keys for e in spec.entity(entity).elements]
            out.extend(f"{lock.name}[{k}]" for k in keys)
        else:
            out.append(lock.name)
    out.extend(queue_map(q.name) for q in spec.workqueues)
    out.extend(work_map(w.name) for w in spec.works)
    out.extend(callback_map(d.name) for d in spec.rcu_callbacks)
    return out


@dataclass(frozen=True)
class _Map:
    """A lockdep map a thread holds while slot `slot` has one of the values `held`: a worker while it runs a
    work item (process_one_work(); the item's state is busy), an SRCU reader while it is inside a read-side
    section of the domain (srcu_read_lock() acquires the domain's map as a recursive reader)."""

    cls: str
    tid: int
    slot: int
    site: Site
    held: frozenset[int] = frozenset(WORK_STATES.index(b) for b in BUSY)
    mode: str = "mutex"


SRCU_MAP_MODES = {"srcu_read_lock": "rread", "synchronize_srcu": "write"}   # include/linux/srcu.h, srcutree.c


def _srcu_maps(system: TransitionSystem) -> list[_Map]:
    """Each thread's SRCU domains, held while it is inside one of their read-side sections (at depth 1 to 3)."""
    out: list[_Map] = []
    wrappers = lock_wrappers(system.spec)
    for domain, nests in system.layout.srcu_nest.items():
        for t in system.threads:
            first = next((n for n in t.nodes if isinstance(n, ir.RcuCall) and n.domain == domain
                          and n.op == "srcu_read_lock"), None)
            if first is not None:
                out.append(_Map(domain, t.tid, nests[t.tid], node_site(first, wrappers), frozenset((1, 2, 3)), "rread"))
    return out


def _callback_maps(system: TransitionSystem) -> list[_Map]:
    """Each RCU callback's map (netcheck's: lockdep has none), held by the thread running it while its rcu_head
    is running or requeued (model/lang/rcucallbacks.py)."""
    out: list[_Map] = []
    held = frozenset(RCU_HEAD_STATES.index(b) for b in CALLBACK_BUSY)
    by_name = {t.name: t.tid for t in system.threads}
    for d in system.spec.rcu_callbacks:
        base = system.layout.shared[head_var(d.name)][0]
        for k, name in enumerate(instances(d, system.spec.entity(d.entity).elements if d.entity else ())):
            site = Site(d.span.short, name, f"rcu_do_batch: {d.name}()  [RCU callback]", (name,), d.name)
            out.append(_Map(callback_map(d.name), by_name[name], base + k, site, held))
    return out


def rcu_barrier_maps(spec: Spec) -> tuple[tuple[str, str], ...]:
    """What rcu_barrier() acquires in the lock-order graph: every RCU callback's map."""
    return tuple((callback_map(d.name), "mutex") for d in spec.rcu_callbacks)


def _maps(system: TransitionSystem) -> list[_Map]:
    """The maps each worker thread holds while running each of its items, the queue's first; the maps of RCU
    callbacks and SRCU domains."""
    spec = system.spec
    if not spec.works:
        return _callback_maps(system) + _srcu_maps(system)
    works = Works(spec.workqueues, spec.works)
    holders = map_holders(works)
    out: list[_Map] = []
    for t in system.threads:
        for work, classes in holders.get(t.decl, ()):
            decl = works.work(work)
            site = Site(decl.span.short, t.name, f"process_one_work: {decl.run}()  [work item {work}]", (t.name,),
                        decl.run)
            slot = system.layout.shared[work][0]
            out.extend(_Map(cls, t.tid, slot, site) for cls in classes)
    return out + _callback_maps(system) + _srcu_maps(system)


def map_acquisitions(node: ir.Node | None, barrier: tuple[tuple[str, str], ...] = ()) -> tuple[tuple[str, str], ...]:
    """The lockdep maps a wait acquires (flush_work, cancel_work_sync, flush_workqueue), an SRCU domain's
    map srcu_read_lock() and synchronize_srcu() acquire, and what rcu_barrier() does (`barrier`), (class, mode)."""
    if isinstance(node, ir.RcuCall) and node.op in SRCU_MAP_MODES:
        return ((node.domain, SRCU_MAP_MODES[node.op]),)
    if isinstance(node, ir.RcuCall) and node.op == "rcu_barrier":
        return barrier
    return node.stmt.maps if node is not None and isinstance(node.stmt, Await) else ()


def _held(s: Sequence, tid: int, instances: list[_Instance]) -> tuple[tuple[int, str], ...]:
    """(instance index, mode) of every lock instance `tid` holds in `s`."""
    out = []
    for i, inst in enumerate(instances):
        b = inst.base
        if s[b] == tid:
            out.append((i, "write" if inst.kind == "rwsem" else ("spin" if inst.kind == "spinlock" else "mutex")))
        elif inst.kind == "rwsem" and read_depth(s[b + 1], tid):
            out.append((i, "read"))
    return tuple(out)


def _hold_level(s: Sequence, tid: int, inst: _Instance) -> int:
    b = inst.base
    level = 1 if s[b] == tid else 0
    return level + (read_depth(s[b + 1], tid) if inst.kind == "rwsem" else 0)


def site_of(system: TransitionSystem, s: Sequence, tid: int) -> Site:
    """The statement thread `tid` stands at in `s`."""
    return node_site(system.node_at(s, tid), lock_wrappers(system.spec))


def acquisition(exp: ExplicitResult, state: int, tid: int, base: int) -> tuple[Site, int]:
    """Where `tid` last acquired the lock instance at slot `base`, on the shortest path to `state`, and
    the lockdep subclass it used there."""
    system = exp.system
    inst = next(i for i in _instances(system) if i.base == base)
    if system.symmetric:   # the stored path renames threads along the way: walk the real one
        states = real_states(system, parent_path(exp, state))
    else:
        states = tuple(exp.store.states[sid] for sid in exp.store.parent_path(state))
    wrappers = lock_wrappers(system.spec)
    for before, after in zip(reversed(states[:-1]), reversed(states[1:])):
        if _hold_level(after, tid, inst) > _hold_level(before, tid, inst):
            node = system.node_at(before, tid)
            return node_site(node, wrappers), subclass_of(node)
    return NO_SITE, 0


def acquisition_site(exp: ExplicitResult, state: int, tid: int, base: int) -> Site:
    """Where `tid` last acquired the lock instance at slot `base`, on the shortest path to `state`."""
    return acquisition(exp, state, tid, base)[0]


def held_acquisitions(system: TransitionSystem, tid: int) -> list[dict[str, frozenset[int]]]:
    """Per program point of a thread, per lock name, the acquisitions (their program points) of that lock
    that may still be held there: a may-analysis over the thread's control flow (an acquisition adds
    itself on its success edge, a release of a lock with one instance removes them; a per-element lock's
    release removes nothing, since another instance may still be held)."""
    thread = system.threads[tid]
    nodes = thread.nodes
    at: list[dict[str, frozenset[int]] | None] = [None] * (len(nodes) + 1)
    entry = system.defaults[thread.pcslot]
    assert isinstance(entry, int)
    at[entry] = {}
    work = [entry]
    while work:
        pc = work.pop()
        if pc >= len(nodes):
            continue
        node, here = nodes[pc], at[pc]
        assert here is not None
        for to in successors(node):
            out = here
            if isinstance(node, ir.LOCK_NODES) and node.lock is not None:
                info, name = LOCK_API[node.op], node.lock.name
                if info.acquires and to == node.next:
                    out = {**here, name: here.get(name, frozenset()) | {pc}}
                elif info.releases and not node.lock.keys:
                    out = {k: v for k, v in here.items() if k != name}
            old = at[to]
            merged = out if old is None else {k: old.get(k, frozenset()) | out.get(k, frozenset())
                                              for k in old.keys() | out.keys()}
            if merged != old:
                at[to] = merged
                work.append(to)
    return [x or {} for x in at]


def held_subclasses(system: TransitionSystem, s: Sequence, tid: int, pc: int, inst: _Instance, mode: str,
                    acquisitions: list[dict[str, frozenset[int]]]) -> set[int]:
    """The subclasses thread `tid`, at `pc` in state `s`, may hold lock instance `inst` in (with `mode`):
    those of the acquisitions that may still be held there, of that instance (their key evaluated now)
    and that mode; all of them when none matches (a key that changed since, a downgraded hold)."""
    nodes = system.threads[tid].nodes
    sites = [n for a in acquisitions[pc].get(inst.cls, frozenset())
             if isinstance(n := nodes[a], ir.LOCK_NODES)]
    matching = {subclass_of(n) for n in sites
                if system.lock_slot(n, s) == inst.base and LOCK_API[n.op].mode == mode}
    return matching or {subclass_of(n) for n in sites}


def _acquiring_nodes(system: TransitionSystem) -> list[tuple[int, int, dict]]:
    """(tid, pc slot, {pc: IR node}) for each thread: the nodes where it acquires or waits for a lock, or
    acquires a lockdep map (a flush)."""
    out = []
    barrier = rcu_barrier_maps(system.spec)
    for t in system.threads:
        nodes = {pc: n for pc, n in enumerate(t.nodes)
                 if (isinstance(n, ir.LOCK_NODES) and n.op in ACQUIRE_MODES) or map_acquisitions(n, barrier)}
        out.append((t.tid, t.pcslot, nodes))
    return out


class LockDependencies(Observer):
    """Collects, during the search (or over a finished result's store), the first state where each thread
    stands at an acquire holding locks; `finish` turns them into dependencies (observation `lock_order`)."""

    name = "lock_order"

    def __init__(self, system: TransitionSystem):
        self.system = system
        self.instances = _instances(system)
        self.maps = _maps(system)
        self.acquiring = [(tid, pcslot, nodes) for tid, pcslot, nodes in _acquiring_nodes(system) if nodes]
        self.first: dict[tuple, int] = {}
        # usage bits (irqsafety.py), only when some thread runs in irq context: (tid, pc, target, bits) -> state
        self.contexts = system.contexts if any(c.in_irq for c in system.contexts) else None
        self.used: dict[tuple, int] = {}
        if not self.acquiring:
            self.on_state = _nothing   # type: ignore[method-assign]

    def on_state(self, sid: int, s: tuple) -> None:
        first, instances, lock_slot = self.first, self.instances, self.system.lock_slot
        for tid, pcslot, nodes in self.acquiring:
            node = nodes.get(s[pcslot])
            if node is None:
                continue
            if self.contexts is not None and isinstance(node, ir.LOCK_NODES):
                self.note_usage(sid, s, tid, node)
            held = _held(s, tid, instances)
            if self.maps:
                held += tuple((len(instances) + i, m.mode) for i, m in enumerate(self.maps)
                              if m.tid == tid and s[m.slot] in m.held)
            if not held:
                continue
            target = lock_slot(node, s) if isinstance(node, ir.LOCK_NODES) else -1
            if target is None:   # a lock key that fails to evaluate shows as runtime_safety
                continue
            key = (tid, s[pcslot], held, target)
            if key not in first:
                first[key] = sid

    def note_usage(self, sid: int, s: tuple, tid: int, node: ir.LockCall | ir.LockWait) -> None:
        assert self.contexts is not None
        target = self.system.lock_slot(node, s)
        key = (tid, s[self.system.threads[tid].pcslot], target, usage_bits(self.contexts[tid], node.op, s))
        if target is not None and key not in self.used:
            self.used[key] = sid

    def usages(self) -> tuple[Usage, ...]:
        """Every usage bit seen: its lock class, the first site and state, the threads."""
        by_base = {inst.base: inst for inst in self.instances}
        wrappers = lock_wrappers(self.system.spec)
        found: dict[tuple[str, str, Site], tuple[int, set[str]]] = {}
        for (tid, pc, target, bits), sid in self.used.items():
            node = self.system.threads[tid].nodes[pc]
            cls, site = by_base[target].lock_class(subclass_of(node)), node_site(node, wrappers)
            for bit in bits:
                earliest, threads = found.get((cls, bit, site), (sid, set()))
                threads.add(self.system.threads[tid].name)
                found[(cls, bit, site)] = (min(earliest, sid), threads)
        return tuple(sorted(Usage(cls, bit, site, tuple(sorted(threads)), sid)
                            for (cls, bit, site), (sid, threads) in found.items()))

    def _held_class(self, exp: ExplicitResult, sid: int, tid: int, index: int) -> tuple[str, Site]:
        """The class and acquisition site of a held entry: a lock instance (its plain class) or a worker's map."""
        if index >= len(self.instances):
            m = self.maps[index - len(self.instances)]
            return m.cls, m.site
        inst = self.instances[index]
        site, subclass = acquisition(exp, sid, tid, inst.base)
        return inst.lock_class(subclass), site

    def finish(self, result: ExplicitResult) -> None:
        result.observations[self.name] = self.dependencies(result)
        result.observations[USAGE] = self.usages()

    def part(self) -> object:
        return self.first, self.used

    def merge(self, parts: Sequence[object], states: int, expanded: int) -> None:
        """The first state of each acquisition with locks held, and of each usage bit, over all workers."""
        pairs = [p for p in parts if isinstance(p, tuple)]
        self.first = earliest((first for first, _ in pairs), states)
        self.used = earliest((used for _, used in pairs), states)

    def dependencies(self, exp: ExplicitResult) -> tuple[Dependency, ...]:
        """Every dependency seen, deduplicated by (classes, modes, sites), sorted.

        The state does not record the subclass a lock is held in: each subclass an acquisition that may
        still be held there used (`held_subclasses`) gives a dependency. The site printed as "held at"
        is the acquisition on the shortest path to the first state showing it.
        """
        system, instances = self.system, self.instances
        nested = any(subclass_of(n) for t in system.threads for n in t.nodes)
        acquisitions = {t.tid: held_acquisitions(system, t.tid) for t in system.threads} if nested else {}
        by_base = {inst.base: inst for inst in instances}
        found: dict[tuple[str, str, str, str, Site, Site], tuple[int, set[str], frozenset[str]]] = {}
        wrappers = lock_wrappers(system.spec)
        for (tid, pc, held, target), sid in self.first.items():
            node = system.threads[tid].nodes[pc]
            maps = map_acquisitions(node, rcu_barrier_maps(system.spec))
            if maps:
                acquired_site = node_site(node, wrappers)
                for index, mode in held:
                    map_class, held_site = self._held_class(exp, sid, tid, index)
                    for cls, acquired_mode in maps:
                        dep_key = (map_class, mode, cls, acquired_mode, held_site, acquired_site)
                        earliest, threads, common = found.get(dep_key, (sid, set(), frozenset()))
                        threads.add(system.threads[tid].name)
                        found[dep_key] = (min(earliest, sid), threads, frozenset())
                continue
            assert isinstance(node, ir.LOCK_NODES) and node.lock is not None
            acquired = (by_base[target].lock_class(subclass_of(node)) if target in by_base
                        else node.lock.name)
            acquired_site = node_site(node, wrappers)
            exclusive = {instances[i].base: instances[i].name for i, mode in held
                         if i < len(instances) and mode in EXCLUSIVE_MODES}
            recursive = target in {instances[i].base for i, _ in held if i < len(instances)}   # the same instance
            for index, mode in held:
                if index >= len(instances):   # a work or workqueue map a worker holds
                    map_class, held_site = self._held_class(exp, sid, tid, index)
                    dep_key = (map_class, mode, acquired, ACQUIRE_MODES[node.op], held_site, acquired_site)
                    earliest, threads, common = found.get(dep_key, (sid, set(), frozenset()))
                    threads.add(system.threads[tid].name)
                    found[dep_key] = (min(earliest, sid), threads, frozenset())
                    continue
                inst = instances[index]
                held_site, subclass = acquisition(exp, sid, tid, inst.base)
                gate = frozenset() if recursive else frozenset(
                    name for base, name in exclusive.items() if base not in (inst.base, target))
                classes = {subclass}
                if nested:
                    classes |= held_subclasses(system, exp.store.states[sid], tid, pc, inst, mode, acquisitions[tid])
                for held_class in sorted(classes):
                    dep_key = (inst.lock_class(held_class), mode, acquired, ACQUIRE_MODES[node.op], held_site,
                               acquired_site)
                    earliest, threads, common = found.get(dep_key, (sid, set(), gate))
                    threads.add(system.threads[tid].name)
                    found[dep_key] = (min(earliest, sid), threads, common & gate)
        return tuple(sorted(Dependency(a, am, b, bm, hs, bs, tuple(sorted(threads)), sid, tuple(sorted(common)))
                            for (a, am, b, bm, hs, bs), (sid, threads, common) in found.items()))


USAGE = "lock_usage"


def _nothing(sid: int, s: tuple) -> None:
    """No thread ever acquires a lock."""


def dependencies(exp: ExplicitResult) -> tuple[Dependency, ...]:
    """Every dependency the explored states show: observed during the search when the caller asked for
    it (a `LockDependencies` observer), else collected from the store now."""
    if LockDependencies.name not in exp.observations:
        replay(exp, LockDependencies(exp.system))
    deps = exp.observations[LockDependencies.name]
    assert isinstance(deps, tuple)
    return deps


def usages(exp: ExplicitResult) -> tuple[Usage, ...]:
    """Every lock-class usage bit the explored states show (with the dependencies, by the same observer)."""
    dependencies(exp)
    used = exp.observations.get(USAGE, ())
    assert isinstance(used, tuple)
    return used


def dependency_graph(classes: Iterable[str], deps: Iterable[Dependency]) -> nx.DiGraph:
    """The graph over lock classes; each edge's `deps` attribute lists its dependencies (sorted)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(sorted(classes))
    for dep in sorted(deps):
        if graph.has_edge(dep.held, dep.acquired):
            graph[dep.held][dep.acquired]["deps"] += (dep,)
        else:
            graph.add_edge(dep.held, dep.acquired, deps=(dep,))
    return graph


# ---------------------------------------------------------------- strong cycles


def strong_choice(edges: Sequence[Iterable[str]]) -> tuple[str, ...] | None:
    """Kinds, one per edge of a cycle (each edge offers a set of kinds), such that no -(*R)-> edge is
    followed by an -(S*)-> edge, the last edge followed by the first included; None if there are none."""
    def ok(a: str, b: str) -> bool:
        return not (a[1] == "R" and b[0] == "S")

    for start in sorted(edges[0]):
        # back[i][kind] = the kind chosen for edge i-1 that allows `kind` on edge i
        reach: dict[str, str | None] = {start: None}
        back = [reach]
        for options in edges[1:]:
            reach = {k: next(p for p in sorted(reach) if ok(p, k)) for k in sorted(options)
                     if any(ok(p, k) for p in reach)}
            back.append(reach)
        for last in sorted(reach):
            if ok(last, start):
                chosen = [last]
                for level in range(len(back) - 1, 0, -1):
                    chosen.append(back[level][chosen[-1]])  # type: ignore[arg-type]
                return tuple(reversed(chosen))
    return None


def _rotate(cycle: list[str]) -> tuple[str, ...]:
    i = cycle.index(min(cycle))
    return tuple(cycle[i:] + cycle[:i])


def _witnesses(edges: list[tuple[Dependency, ...]], kinds: tuple[str, ...]) -> tuple[Dependency, ...]:
    """One dependency per edge: strong, from as many different threads as possible, then the earliest.

    Small cycles try every combination (a cycle through several threads reads best); large ones take the
    earliest dependency of each kind `strong_choice` picked.
    """
    options = [sorted(deps, key=lambda d: (d.state, d)) for deps in edges]
    combos = 1
    for deps in options:
        combos *= len(deps)
    if combos <= 4096:
        best: tuple[tuple[int, int], tuple[Dependency, ...]] | None = None
        for combo in product(*options):
            if strong_choice([{d.kind} for d in combo]) is None:
                continue
            seen: set[str] = set()
            overlap = 0
            for d in combo:
                overlap += bool(seen & set(d.threads))
                seen.update(d.threads)
            score = (overlap, sum(d.state for d in combo))
            if best is None or score < best[0]:
                best = (score, combo)
        if best is not None:
            return best[1]
    return tuple(next(d for d in deps if d.kind == k) for deps, k in zip(options, kinds))


def class_lock(cls: str) -> str:
    """The lock a class belongs to: rq_lock for rq_lock/1 and rq_lock[rq0]."""
    return cls.partition("/")[0].partition("[")[0]


def gate(locks: Sequence[str], edges: Sequence[Sequence[Dependency]]) -> tuple[str, ...]:
    """The lock instances, of locks not on the cycle, held exclusively at every acquisition of every
    dependency on its edges: while a thread is at one of them, no other thread can be at another."""
    on_cycle = {class_lock(c) for c in locks}
    common: set[str] | None = None
    for deps in edges:
        for dep in deps:
            common = set(dep.held_with) if common is None else common & set(dep.held_with)
    return tuple(sorted(i for i in common or () if class_lock(i) not in on_cycle))


def strong_cycles(graph: nx.DiGraph, limit: int = MAX_CYCLES, gated: bool = False,
                  known: Sequence[KnownCycle] = ()) -> tuple[tuple[Cycle, ...], int, tuple[Waived, ...]]:
    """Every strong simple cycle (shortest first, then by name), at most `limit`; how many more; and the
    ones `known` waives (never counted against the limit). With `gated`, each cycle's gate."""
    waivers = {frozenset(k.locks): k for k in known}
    candidates = sorted({_rotate(c) for c in nx.simple_cycles(graph)}, key=lambda c: (len(c), c))
    found: list[Cycle] = []
    waived: list[Waived] = []
    more = 0
    for locks in candidates:
        edges = [graph[a][b]["deps"] for a, b in zip(locks, locks[1:] + locks[:1])]
        kinds = strong_choice([{d.kind for d in deps} for deps in edges])
        if kinds is None:
            continue
        waiver = waivers.get(frozenset(locks))
        if waiver is None and len(found) >= limit:
            more += 1
            continue
        cycle = Cycle(locks, _witnesses(edges, kinds), gate(locks, edges) if gated else ())
        if waiver is not None:
            waived.append(Waived(cycle, waiver))
        else:
            found.append(cycle)
    return tuple(found), more, tuple(waived)


def analyze_graph(classes: Iterable[str], deps: Iterable[Dependency], complete: bool = True,
                  known: Sequence[KnownCycle] = (), used: Sequence[Usage] = ()) -> LockOrder:
    """The lock order of these dependencies: cycles (with their gates when `complete`), waivers applied, and
    with the classes' usage bits lockdep's interrupt-safety conflicts."""
    deps = tuple(sorted(deps))
    classes = tuple(sorted(set(classes) | {d.held for d in deps} | {d.acquired for d in deps}))
    cycles, more, waived = strong_cycles(dependency_graph(classes, deps), gated=complete, known=known)
    waivers = {w.known for w in waived}
    stale = tuple(k for k in known if k not in waivers) if complete else ()
    return LockOrder(classes, deps, cycles, more, complete, waived, stale, irq_conflicts(deps, used))


def lock_order(exp: ExplicitResult) -> LockOrder:
    """The lock-order graph of everything explored, its strong cycles and interrupt-safety conflicts, the
    spec's known cycles."""
    spec = exp.system.spec
    return analyze_graph(lock_classes(spec), dependencies(exp), exp.complete, spec.known_cycles, usages(exp))


def gate_text(cycle: Cycle) -> str:
    """"never reached: every path to it holds G" for a gated cycle, else ''."""
    if not cycle.gate:
        return ""
    return f"never reached: every path to it holds {' and '.join(cycle.gate)}"


def cycle_message(order: LockOrder) -> str:
    if not order.cycles and order.irq:
        more = len(order.irq) - 1
        return order.irq[0].message + (f" (and {more} more interrupt-safety conflict{'s' if more != 1 else ''})"
                                       if more else "")
    if not order.cycles:
        if order.stale:
            k = order.stale[0]
            return (f"stale waiver: known cycle {' --> '.join((*k.locks, k.locks[0]))} ({k.span.short}) is not in "
                    "the lock-order graph")
        return ""
    first = order.cycles[0]
    what = "recursive locking" if first.recursive else "circular locking dependency"
    more = len(order.cycles) + order.more_cycles - 1
    gated = f" ({gate_text(first)})" if first.gate else ""
    return f"{what}: {first.chain}{gated}" + (f" (and {more} more cycle{'s' if more != 1 else ''})" if more else "")
