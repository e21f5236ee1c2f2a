"""Symmetry: the entities whose elements the spec treats alike, and the permutations of a state that swap
them (`verify --symmetry on`).

Two namespaces `net0` and `net1` that nothing in the spec tells apart behave alike: swapping them
everywhere in a state (in every slot indexed by them, in every value that names them, and the threads
bound to them, with every lock owner, reader, queue entry and grace-period wait that names a thread)
gives a state with the same future, up to the same swap. The explorer then stores one state per class,
the least image (by its program counters and the other slots no permutation maps a value of, then by
a total order on states: checker/engine/store.py, `Canonical`), and remembers per edge which
permutation it applied, so that per-thread analyses (stuck threads) and traces (concretized by
replaying, checker/analyses/symmetric.py) stay exact.

An entity with two or more elements is symmetric unless something tells its elements apart (the reason
is reported): an element or a proper subset of them named in the code, a thread argument or a
property; an ordering of its elements (`<`, `min`, `first` of a set); a loop over a set of them (it
visits them in index order); threads bound to only some of them; a lock with per-instance lockdep
classes over it; an initial state that is not invariant under the swap; or threads bound to two
elements whose programs differ. The search also samples states and checks that the successors of a
state's image are the images of its successors (checker/engine/explore.py, `SymmetryCheck`): a failure
is an internal error, never a verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import permutations, product

from ..lang.expr import Call, Compare, Const, Expr, Quant, walk
from ..lang.spec import CallbackTable, LockClasses
from ..lang.types import ListT, RefT, SetT, WaitQueueT
from . import ir
from .discipline import spec_expressions, statement_at
from .layout import Slot, SlotKind, sort_type
from .locks import READ_BITS

ORDERING = ("<", "<=", ">", ">=")
ORDERED_CALLS = ("min", "max", "first", "last", "next", "prev", "index", "before")
MAX_PERMUTATIONS = 720   # 6! : a larger group costs more per state than it saves


@dataclass(frozen=True)
class Symmetry:
    """The symmetric entities, why the others are not, and per permutation (the identity first) the
    thread map and the function giving a state's image."""

    entities: tuple[str, ...]
    broken: tuple[tuple[str, str], ...]               # (entity, the first thing that tells its elements apart)
    thread_maps: tuple[tuple[int, ...], ...]          # per permutation: tid -> the tid it becomes
    images: tuple[Callable[[tuple], tuple], ...]      # per permutation: state -> its image
    # per permutation, the state slots its image's program counters, then its other plain slots (those
    # whose values name no element or thread), are read from: the image's ordering key, with no image built
    order: tuple[tuple[int, ...], ...] = ()
    # per permutation, what `images` is compiled from (None: the identity): image slot j reads state slot
    # source[j] through maps[j] (None: as it is); the native extension builds images from it
    plans: tuple[tuple[tuple[int, ...], tuple[Callable | None, ...]] | None, ...] = ()

    @property
    def size(self) -> int:
        return len(self.images)

    def describe(self) -> str:
        """One line for reports: what is symmetric, and why the rest is not."""
        parts = [f"{', '.join(self.entities)} ({self.size} permutations)"] if self.entities else ["none"]
        parts += [f"not {entity}: {why}" for entity, why in self.broken]
        return "; ".join(parts)


def find_symmetry(system: object) -> Symmetry:
    """The symmetry of a compiled `TransitionSystem`."""
    spec, layout, threads = system.spec, system.layout, system.threads   # type: ignore[attr-defined]
    broken: dict[str, str] = {}
    candidates = [e.name for e in spec.entities if len(e.elements) >= 2]
    for entity in candidates:
        why = _breaks(system, entity)
        if why:
            broken[entity] = why
    symmetric = [e for e in candidates if e not in broken]
    sizes = {e.name: len(e.elements) for e in spec.entities}
    total = 1
    for e in symmetric:
        total *= _factorial(sizes[e])
    while symmetric and total > MAX_PERMUTATIONS:
        dropped = symmetric.pop()
        total //= _factorial(sizes[dropped])
        broken[dropped] = f"more than {MAX_PERMUTATIONS} permutations in all"
    per = {v.name: v.per for v in spec.vars} | {lock.name: lock.per for lock in spec.locks}
    perms = [dict(zip(symmetric, p)) for p in product(*(list(permutations(range(sizes[e]))) for e in symmetric))]
    thread_maps, plans = [], []
    for perm in perms:
        tmap = _thread_map(spec, threads, perm)
        if tmap is None:
            broken.update({e: "its threads differ in their programs" for e in symmetric})
            return Symmetry((), tuple(sorted(broken.items())), ((*range(len(threads)),),), (_identity,))
        thread_maps.append(tmap)
        plans.append(_plan(layout.slots, threads, perm, tmap, per) if not _is_identity(perm)
                     else (list(range(len(layout.slots))), [None] * len(layout.slots)))
    # slots no permutation maps a value of (locals aside: None while unused does not order with a value)
    pcs = [t.pcslot for t in threads]
    plain = [j for j, s in enumerate(layout.slots) if s.kind not in (SlotKind.LOCAL, SlotKind.PC)
             and all(maps[j] is None for _, maps in plans)]
    images = tuple(_identity if _is_identity(perm) else _compiled(*plan) for perm, plan in zip(perms, plans))
    order = tuple(tuple(source[j] for j in (*pcs, *plain)) for source, _ in plans)
    compiled = tuple(None if _is_identity(perm) else (tuple(source), tuple(maps))
                     for perm, (source, maps) in zip(perms, plans))
    sym = Symmetry(tuple(symmetric), tuple(sorted(broken.items())), tuple(thread_maps), images, order, compiled)
    if symmetric and not _initial_invariant(sym, system.initial_states):   # type: ignore[attr-defined]
        broken.update({e: "the initial state tells its elements apart" for e in symmetric})
        return Symmetry((), tuple(sorted(broken.items())), ((*range(len(threads)),),), (_identity,))
    return sym


def _identity(s: tuple) -> tuple:
    return s


def inverse(tmap: tuple[int, ...]) -> tuple[int, ...]:
    """The thread map undoing `tmap`."""
    out = [0] * len(tmap)
    for t, to in enumerate(tmap):
        out[to] = t
    return tuple(out)


def _factorial(n: int) -> int:
    out = 1
    for i in range(2, n + 1):
        out *= i
    return out


# ---------------------------------------------------------------- what tells elements apart


def _breaks(system: object, entity: str) -> str:
    """Why the elements of `entity` are not interchangeable, or ''."""
    spec = system.spec   # type: ignore[attr-defined]
    size = len(spec.entity(entity).elements)
    full = (1 << size) - 1
    for lock in spec.locks:
        if entity in lock.per and lock.classes is LockClasses.PER_INSTANCE:
            return f"lock {lock.name} has a lockdep class per instance"
    for table in spec.callbacks:
        if table.entity == entity and len(set(table.bindings)) > 1:
            return f"its elements bind different callbacks ({_binding_difference(table, spec.entity(entity).elements)})"
    for decl in spec.threads:
        if decl.var and decl.domain and entity_of(spec, decl.domain[0]) == entity \
                and sorted(decl.domain) != sorted(spec.entity(entity).elements):
            return f"threads {decl.name} run for some of its elements only ({decl.span.short})"
    for where, e in spec_expressions(system):
        for x in walk(e):
            if isinstance(x, Const):
                t = x.type
                if isinstance(t, RefT) and t.entity == entity and x.value != -1:
                    return f"{where} names one of its elements"
                if isinstance(t, SetT) and t.entity == entity and x.value not in (0, full):
                    return f"{where} names some of its elements"
                if isinstance(t, ListT) and t.entity == entity and x.value:
                    return f"{where} lists its elements in an order"
            elif isinstance(x, Compare) and x.op in ORDERING and _of(x.left, entity):
                return f"{where} orders its elements ({x.op})"
            elif isinstance(x, Call) and x.fn in ORDERED_CALLS and x.args and (
                    _of(x.args[0], entity) or (isinstance(x.args[0].type, SetT) and x.args[0].type.entity == entity)):
                return f"{where} orders its elements ({x.fn}())"
            elif isinstance(x, Quant) and x.kind == "sum" and x.body is not None and _of(x.body, entity):
                return f"{where} adds up its elements"
    for thread in system.threads:   # type: ignore[attr-defined]
        for node in thread.nodes:
            if isinstance(node, ir.LoopStep) and not node.is_list and node.source is not None \
                    and isinstance(node.source.type, SetT) and node.source.type.entity == entity:
                return f"{statement_at(node)} walks a set of its elements in index order"
    return ""


def _binding_difference(table: CallbackTable, names: tuple[str, ...]) -> str:
    """The first slot two elements bind differently: `init: a for x0, b for x1` (unset: NULL)."""
    for k, slot in enumerate(table.slots):
        seen: dict[str, str] = {}
        for name, row in zip(names, table.bindings):
            seen.setdefault(row[k], name)
        if len(seen) > 1:
            return f"{slot.name}: " + ", ".join(f"{proc or 'NULL'} for {name}" for proc, name in seen.items())
    return ""


def entity_of(spec: object, element: str) -> str:
    """The entity an element belongs to."""
    return next(e.name for e in spec.entities if element in e.elements)   # type: ignore[attr-defined]


def _of(e: Expr | None, entity: str) -> bool:
    return e is not None and isinstance(e.type, RefT) and e.type.entity == entity


# ---------------------------------------------------------------- permuting a state


def _thread_map(spec: object, threads: Sequence, perm: dict[str, tuple[int, ...]]) -> tuple[int, ...] | None:
    """tid -> tid under `perm`: a thread bound to element e of a permuted entity becomes the instance of
    the same declaration bound to perm(e); None when the two instances' programs differ."""
    by_name = {t.name: t.tid for t in threads}
    out = list(range(len(threads)))
    for decl in spec.threads:   # type: ignore[attr-defined]
        if not decl.var or not decl.domain:
            continue
        entity = entity_of(spec, decl.domain[0])
        if entity not in perm:
            continue
        elements = spec.entity(entity).elements   # type: ignore[attr-defined]
        for el in decl.domain:
            src = by_name[f"{decl.name}[{el}]"]
            dst = by_name[f"{decl.name}[{elements[perm[entity][elements.index(el)]]}]"]
            a, b = threads[src], threads[dst]
            if len(a.nodes) != len(b.nodes) or [n.kind for n in a.nodes] != [n.kind for n in b.nodes] or \
                    len(a.local_slots) != len(b.local_slots):
                return None
            out[src] = dst
    return tuple(out)


def _image(slots: Sequence[Slot], threads: Sequence, perm: dict[str, tuple[int, ...]], tmap: tuple[int, ...],
           per: dict[str, tuple[str, ...]]) -> Callable[[tuple], tuple]:
    """The function from a state to its image under `perm` (and its thread map)."""
    if _is_identity(perm):
        return _identity
    return _compiled(*_plan(slots, threads, perm, tmap, per))


def _is_identity(perm: dict[str, tuple[int, ...]]) -> bool:
    return all(p == tuple(range(len(p))) for p in perm.values())


def _plan(slots: Sequence[Slot], threads: Sequence, perm: dict[str, tuple[int, ...]], tmap: tuple[int, ...],
          per: dict[str, tuple[str, ...]]) -> tuple[list[int], list[Callable | None]]:
    """Per slot of the image: the slot of the state it reads, and the value map it goes through (None
    where the slot's values name no element or thread)."""
    index = {(s.kind, s.thread, s.var, s.key): i for i, s in enumerate(slots)}
    local_pos = {slot: (t.tid, k) for t in threads for k, slot in enumerate(t.local_slots)}
    source = [0] * len(slots)
    maps: list[Callable | None] = [None] * len(slots)
    for i, s in enumerate(slots):
        if s.kind == SlotKind.LOCAL:
            tid, k = local_pos[i]
            j = threads[tmap[tid]].local_slots[k]
            maps[j] = _local_map(s.sort, perm)
        elif s.thread >= 0:   # pc, rcu nesting, grace-period wait: the thread's own slots
            j = index[(s.kind, tmap[s.thread], s.var, s.key)]
            if s.kind == SlotKind.GP_WAIT:
                maps[j] = _thread_bits(tmap, 1)
        elif s.kind in (SlotKind.GHOST_NEXT, SlotKind.GHOST_READERS):   # per element of an RCU list
            entity = s.type.entity   # type: ignore[union-attr]
            key = (perm[entity][s.key[0]],) if entity in perm else s.key
            j = index[(s.kind, s.thread, s.var, key)]
            maps[j] = _value_map(s.type, perm) if s.kind == SlotKind.GHOST_NEXT else _thread_bits(tmap, 1)
        else:
            key = _permuted_key(s, perm, per)
            j = index[(s.kind, s.thread, s.var, key)]
            if s.kind == SlotKind.SHARED:   # a wait queue holds its sleepers, one bit per thread
                maps[j] = _sleeper_bits(tmap) if isinstance(s.type, WaitQueueT) else _value_map(s.type, perm)
            elif s.kind == SlotKind.LOCK_OWNER:
                maps[j] = _thread_value(tmap)
            elif s.kind == SlotKind.LOCK_READERS:
                maps[j] = _thread_bits(tmap, READ_BITS)
            elif s.kind == SlotKind.LOCK_QUEUE:
                maps[j] = _queue_map(tmap)
        source[j] = i
    return source, maps


def _compiled(source: list[int], maps: list[Callable | None]) -> Callable[[tuple], tuple]:
    """The image function of a plan, compiled once to one tuple display: each image slot reads one slot
    of the state, through its value map if it has one."""
    names: dict[str, object] = {}
    parts = []
    for j, (i, fn) in enumerate(zip(source, maps)):
        if fn is None:
            parts.append(f"s[{i}]")
        else:
            names[f"f{j}"] = fn
            parts.append(f"f{j}(s[{i}])")
    code = f"lambda s: ({', '.join(parts)},)"
    # the source holds only slot numbers and the names of the value maps above: nothing from the spec
    return eval(code, {"__builtins__": {}, **names})   # noqa: S307


class _Memo(dict):
    """A value map's results, computed once per value: the same few values recur in millions of states."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable) -> None:
        super().__init__()
        self.fn = fn

    def __missing__(self, value: object) -> object:
        out = self[value] = self.fn(value)
        return out


def _memo(fn: Callable) -> Callable:
    """`fn` as a C-level dict lookup once a value has been seen."""
    return _Memo(fn).__getitem__


def _permuted_key(s: Slot, perm: dict[str, tuple[int, ...]], per: dict[str, tuple[str, ...]]) -> tuple[int, ...]:
    """A shared or lock slot's key with the permuted entities' elements swapped (`per`: the entities
    each shared variable's and lock's key ranges over)."""
    return tuple(perm[e][k] if e in perm else k for e, k in zip(per[s.var], s.key))


def _value_map(t: object, perm: dict[str, tuple[int, ...]]) -> Callable | None:
    """How a value of type `t` changes under `perm` (None: it does not)."""
    if isinstance(t, RefT) and t.entity in perm:
        table = (*perm[t.entity], -1)   # -1 (null) is the last entry
        return table.__getitem__
    if isinstance(t, SetT) and t.entity in perm:
        p = perm[t.entity]
        bits = tuple(sum(1 << p[i] for i in range(len(p)) if mask >> i & 1) for mask in range(1 << len(p)))
        return bits.__getitem__
    if isinstance(t, ListT) and t.entity in perm:
        p = perm[t.entity]
        return _memo(lambda items: tuple(p[x] for x in items))
    return None


def _local_map(sort: str, perm: dict[str, tuple[int, ...]]) -> Callable | None:
    """How a local slot's value changes (locals of element references and lists keep to one entity's
    slots; None stands for an unused slot)."""
    fn = _value_map(sort_type(sort), perm)
    if fn is None:
        return None
    return _memo(lambda v: None if v is None else fn(v))


def _thread_value(tmap: tuple[int, ...]) -> Callable:
    table = (*tmap, -1)   # a lock owner: a tid, or -1
    return table.__getitem__


def _sleeper_bits(tmap: tuple[int, ...]) -> Callable:
    """A wait queue: a bit per sleeping thread, then a bit per exclusive sleeper (waitqueues.py), both moved."""
    moved, n = _thread_bits(tmap, 1), len(tmap)
    low = (1 << n) - 1
    return _memo(lambda v: moved(v & low) | moved(v >> n) << n)


def _thread_bits(tmap: tuple[int, ...], width: int) -> Callable:
    """A value made of `width`-bit fields per thread (read holds, grace-period waits), fields moved."""
    field = (1 << width) - 1

    def moved(v: int) -> int:
        out = 0
        for t, to in enumerate(tmap):
            out |= (v >> (width * t) & field) << (width * to)
        return out
    return _memo(moved)


def _queue_map(tmap: tuple[int, ...]) -> Callable:
    """An rwsem wait queue: entries tid * 2 + (1 for a writer)."""
    return _memo(lambda queue: tuple(tmap[e >> 1] * 2 + (e & 1) for e in queue))


def _initial_invariant(sym: Symmetry, initial: Sequence[tuple]) -> bool:
    states = set(initial)
    return all(image(s) in states for image in sym.images for s in initial)
