"""The state store an explicit engine owns: every state interned to an id once, the parent edge of each
(its source and label: a shortest path back to an initial state), depths, every labelled edge, and per
expanded state the mask of its blocked threads.

Ids follow discovery order, so in a breadth-first search they are sorted by depth. The store is the only
place that hashes a state; everything after the search speaks ids.

States are stored encoded, with no Python object per state, in the native store (`Arena`, built from
engine/_arena.c when netcheck is installed where a C compiler is): one byte arena of every state's
encoding (about a byte per slot), interned through an open-addressing table of 32-bit ids. Where it was
not built, each state is a single bytes object (`Packer`: the state tuple pickled without memo, so that
equal states always pack to equal bytes) in a dict, hashed once and compared as bytes. Either way
`states[i]` decodes, and ids are the same.

`FingerprintStore` (`verify --store hash`) keeps only a 64-bit fingerprint of each state, as SPIN's
hash compaction and TLC's fingerprint set do: an expanded state is released, and computed again when
asked for by replaying its parent edges from its initial state. Two states with the same fingerprint
would count as one, so a run says how likely that was.
"""

from __future__ import annotations

import io
import pickle
from array import array
from collections.abc import Callable, Iterator, Sequence
from enum import Enum
from operator import itemgetter
from typing import overload

from .system import State

try:   # the native store: optional, so that netcheck installs and runs where no C compiler is
    from ._arena import INTERN, Arena, Fingerprints, Image, ImageOrder, decode, least_state
except ImportError:   # pragma: no cover - exercised where the extension was not built
    Arena = Fingerprints = Image = ImageOrder = None   # type: ignore[assignment,misc]
    decode = least_state = INTERN = None   # type: ignore[assignment]

NATIVE_STORE = Arena is not None
ACTIONS_UNKNOWN = 2 ** 31   # a store told no action count keeps 4 bytes an action
PROTOCOL = 2   # the smallest encoding of small ints and tuples, with no frame header


class Packer:
    """A state tuple (ints, bools, None and tuples of them) to bytes and back. Pickle's memo is off (fast
    mode): with it, a tuple object that two slots share would pack differently from two equal ones, and
    equal states must pack to equal bytes. The store unpickles only what this packer produced."""

    __slots__ = ("dump", "getvalue", "seek", "truncate")

    def __init__(self) -> None:
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, PROTOCOL)
        pickler.fast = True
        # bound methods, which the search's hot path calls directly (Packer.__call__ without the call)
        self.dump, self.getvalue, self.seek, self.truncate = pickler.dump, buffer.getvalue, buffer.seek, buffer.truncate

    def __call__(self, state: State) -> bytes:
        self.dump(state)
        packed = self.getvalue()
        self.seek(0)
        self.truncate()
        return packed


unpack = pickle.loads


def state_codec(native: bool = NATIVE_STORE) -> tuple[Callable[[State], bytes], Callable[[bytes], State]]:
    """A state to bytes and back, for states kept or sent outside a store (a partitioned search's workers):
    the native store's encoding where it was built (a third of a pickle's size on the net specs), else
    pickles. Both are canonical: equal states, equal bytes."""
    if native and Arena is not None:
        return Arena().encode, decode
    return Packer(), unpack


class Canonical:
    """Under symmetry, a state's representative: of the state's images (`images`, the identity first), the
    least by (its program counters, its other plain slots, then a total order on states), with the index
    of the permutation that gave it. An image's program counters and other plain slots are read straight
    from the state (`order`: per image, the slots they come from), so only the images that tie on them
    are built (usually one). Where the native extension was built, the first choice, the images and the
    total order run there (`ImageOrder`, `Image`, `least_state`). Any order of the images would do, as
    long as it depends on the image alone."""

    __slots__ = ("images", "ties", "pack")

    def __init__(self, images: Sequence[Callable[[State], State]], pack: Callable[[State], bytes],
                 order: Sequence[Sequence[int]] = (), plans: Sequence[tuple[Sequence[int], Sequence] | None] = ()):
        if Image is not None and plans:
            images = [images[k] if plan is None else Image(*plan) for k, plan in enumerate(plans)]
        self.images = tuple(images)
        self.ties: Callable[[State], list[int]] = _least_rows(order) if order else _all_rows(len(self.images))
        self.pack = pack

    @classmethod
    def of(cls, symmetry: object, pack: Callable[[State], bytes] | None = None) -> Canonical:
        """The representative function of a symmetry (model/semantics/symmetry.py), packing with `pack`."""
        return cls(symmetry.images, pack or Packer(), symmetry.order, symmetry.plans)   # type: ignore[attr-defined]

    def __call__(self, state: State) -> tuple[bytes, State, int]:
        """(the representative's packing, the representative, the permutation's index)."""
        best, k = self.least(state)
        return self.pack(best), best, k

    def least(self, state: State) -> tuple[State, int]:
        """The representative and the permutation's index (nothing packed: a store that encodes states its
        own way takes it as it is)."""
        ties = self.ties(state)
        images = self.images
        k = ties[0]
        best = images[k](state) if k else state
        if len(ties) == 1:
            return best, k
        candidates = [best, *(images[k2](state) for k2 in ties[1:])]
        i = _pick_least(candidates)
        return candidates[i], ties[i]


def _order_key(value: object) -> tuple:
    """The total order of native `least_state`, in Python: None, booleans, ints, strings, bytes, then
    tuples item by item (a shorter tuple before a longer one it begins)."""
    if value is None:
        return (0,)
    if value is True or value is False:
        return (1, value)
    if isinstance(value, int):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    if isinstance(value, bytes):
        return (4, value)
    if isinstance(value, tuple):
        return (5, tuple(_order_key(v) for v in value))
    raise TypeError(f"a state holds a {type(value).__name__}, which has no place in the order of states")


def _least_state(states: Sequence[State]) -> int:
    """The index of the first least state by `_order_key`."""
    keys = [_order_key(s) for s in states]
    return keys.index(min(keys))


def _least_rows(order: Sequence[Sequence[int]]) -> Callable[[State], list[int]]:
    """state -> the images (ascending) whose ordering keys, the slots `order` gives per image, are least."""
    if ImageOrder is not None:
        return ImageOrder(order).least
    keys = [itemgetter(*row) if len(row) > 1 else (lambda s, row=tuple(row): tuple(s[i] for i in row))
            for row in order]

    def least(state: State) -> list[int]:
        found = [key(state) for key in keys]
        low = min(found)
        return [k for k, key in enumerate(found) if key == low]
    return least


_pick_least: Callable[[Sequence[State]], int] = least_state if least_state is not None else _least_state


def _all_rows(count: int) -> Callable[[State], list[int]]:
    """No ordering key: every image ties."""
    every = list(range(count))
    return lambda state: every


class PackedIndex:
    """Packed states -> ids the caller chooses, as a dict's `get` and `setdefault` (a partitioned search's
    worker: the ids are the coordinator's): the packings kept in a raw native arena, the ids in a flat
    array, no Python object per entry; a dict where the native store was not built."""

    __slots__ = ("arena", "ids", "fallback")

    def __init__(self) -> None:
        self.arena = Arena(raw=True) if Arena is not None else None
        self.ids = array("Q")
        self.fallback: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self.ids) if self.arena is not None else len(self.fallback)

    def get(self, packed: bytes, default: int | None = None) -> int | None:
        if self.arena is None:
            return self.fallback.get(packed, default)
        k = self.arena.find(packed)
        return default if k < 0 else self.ids[k]

    def setdefault(self, packed: bytes, sid: int) -> int:
        """The id stored under `packed`, or `sid` after storing it there."""
        if self.arena is None:
            return self.fallback.setdefault(packed, sid)
        k = self.arena.intern(packed)
        if k == len(self.ids):
            self.ids.append(sid)
            return sid
        return self.ids[k]


class StoredStates(Sequence[State]):
    """The stored states in id order; indexing (`_state`) and iterating decode them."""

    __slots__ = ()

    def _state(self, i: int) -> State:
        raise NotImplementedError

    @overload
    def __getitem__(self, i: int) -> State: ...

    @overload
    def __getitem__(self, i: slice) -> list[State]: ...

    def __getitem__(self, i: int | slice) -> State | list[State]:
        if isinstance(i, slice):
            return [self._state(k) for k in range(len(self))[i]]
        return self._state(i)

    def __iter__(self) -> Iterator[State]:
        return map(self._state, range(len(self)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None   # type: ignore[assignment]


class ArenaStates(StoredStates):
    """The states of the native store."""

    __slots__ = ("arena",)

    def __init__(self, arena: Arena) -> None:
        self.arena = arena

    def __len__(self) -> int:
        return len(self.arena)

    def _state(self, i: int) -> State:
        return self.arena[i]   # type: ignore[return-value]

    def encoded(self, i: int) -> bytes:
        """State i as stored."""
        return self.arena.encoded(i)


class PackedStates(StoredStates):
    """The stored states packed, one bytes object each (`unpack` reads one back)."""

    __slots__ = ("packed", "unpack")

    def __init__(self, unpack: Callable[[bytes], State] = unpack) -> None:
        self.packed: list[bytes] = []
        self.unpack = unpack

    def __len__(self) -> int:
        return len(self.packed)

    def add(self, packed: bytes, initial: bool) -> None:
        """Append the next state's packing (`initial`: an initial state's)."""
        self.packed.append(packed)

    def _state(self, i: int) -> State:
        return self.unpack(self.packed[i])

    def __iter__(self) -> Iterator[State]:
        return map(self.unpack, self.packed)

    def encoded(self, i: int) -> bytes:
        """State i as stored."""
        packed = self.packed[i]
        if packed is None:
            raise IndexError(f"state {i} was released")
        return packed

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PackedStates):
            return self.packed == other.packed
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None   # type: ignore[assignment]


def mask_array(threads: int) -> array | list:
    """Per-state thread masks: the narrowest unsigned words they fit (8 to 64 bits), Python ints beyond
    64 threads."""
    for typecode in "BHIQ":
        if threads <= 8 * array(typecode).itemsize:
            return array(typecode)
    return []


class StoreKind(str, Enum):
    """How the explicit search stores states (`verify --store`)."""

    FULL = "full"   # every state packed whole: exact
    HASH = "hash"   # a 64-bit fingerprint per state: less memory, a small chance that a collision hides one


class StateStore:
    """Interned states, parent edges, depths and (for expanded states) edges and blocked masks."""

    kind = StoreKind.FULL
    # the key a packed state is interned under (None: the packing itself); see FingerprintStore
    fingerprint: Callable[[bytes], object] | None = None
    releases = False   # whether the search drops a state's packing once it is expanded

    def __init__(self, threads: int, native: bool = NATIVE_STORE, actions: int = ACTIONS_UNKNOWN):
        """`actions`: how many actions the system numbers (below 2^15, the action columns take 2 bytes)."""
        # a state to bytes and back where the store keeps bytes (no native store, or a fingerprint store)
        self.pack: Callable[[State], bytes] = Packer()
        self.unpack: Callable[[bytes], State] = unpack
        # the native store, or (None) a dict of packed states (or their fingerprints) -> id
        self.arena = Arena() if native and Arena is not None else None
        self.index: dict[object, int] = {}
        self.states: PackedStates | ArenaStates = PackedStates() if self.arena is None else ArenaStates(self.arena)
        self.parent = array("i")          # the source of the edge that discovered each state (-1: initial)
        narrow = actions < 2 ** 15
        self.parent_action = array("h" if narrow else "i")   # that edge's action (-1: initial)
        self.parent_choice = array("H")   # and its choice
        self.depth = array("I")
        # the edges leaving expanded state i are first_edge[i] up to first_edge[i + 1] (or the end)
        self.first_edge = array("I")
        self.edges_dst = array("I")
        self.edges_action = array("H" if narrow else "I")
        self.edges_choice = array("H")
        self.signal_edges = array("I")    # the indices of the edges that are fatal signals
        # under symmetry, per edge: the permutation whose image of the successor is the stored state
        self.edges_perm = array("H")
        self.blocked = mask_array(threads)  # per expanded state: the mask of its blocked threads
        self.violating = array("I")       # the expanded states with a step that violates a property

    def __len__(self) -> int:
        return len(self.states)

    def intern(self, state: State, parent: int, action: int, choice: int, depth: int) -> int:
        """The id of `state`, added with this parent edge if it is new."""
        n = len(self.states)
        if self.arena is not None:
            sid = self.arena.intern(state)
        else:
            packed = self.pack(state)
            sid = self.index.setdefault(self.key(packed), n)
            if sid == n:
                self.states.add(packed, parent < 0)   # type: ignore[union-attr]
        if sid == n:
            self.parent.append(parent)
            self.parent_action.append(action)
            self.parent_choice.append(choice)
            self.depth.append(depth)
        return sid

    def id_of(self, state: State) -> int | None:
        if self.arena is not None:
            sid = self.arena.find(state)
            return None if sid < 0 else sid   # type: ignore[no-any-return]
        return self.index.get(self.key(self.pack(state)))

    def replays_to(self, state: State, sid: int) -> bool:
        """Whether a replayed state is the one stored as `sid` (a store that keeps no states checks it)."""
        return self.id_of(state) == sid

    def key(self, packed: bytes) -> object:
        """What a packed state is interned under: itself, or its fingerprint."""
        return packed if self.fingerprint is None else self.fingerprint(packed)

    @property
    def expanded(self) -> int:
        """How many states (the lowest ids) have had their edges recorded."""
        return len(self.first_edge)

    def edge_range(self, sid: int) -> range:
        """The indices of the edges leaving an expanded state."""
        first = self.first_edge
        return range(first[sid], first[sid + 1] if sid + 1 < len(first) else len(self.edges_dst))

    def edges(self) -> Iterator[tuple[int, int, int, int]]:
        """Every (source, target, action, choice) edge, in the order the search recorded them."""
        dst, action, choice = self.edges_dst, self.edges_action, self.edges_choice
        for sid in range(len(self.first_edge)):
            for e in self.edge_range(sid):
                yield sid, dst[e], action[e], choice[e]

    def parent_path(self, sid: int) -> list[int]:
        """The state ids from an initial state to `sid` along parent edges."""
        out = []
        while sid >= 0:
            out.append(sid)
            sid = self.parent[sid]
        out.reverse()
        return out

    @property
    def max_depth(self) -> int:
        return max(self.depth) if len(self.depth) else 0

    def omission_probability(self) -> float:
        """The chance that two distinct states were stored as one (0: every state is stored whole)."""
        return 0.0


FINGERPRINT_BITS = 64
REPLAY_MEMO = 1 << 16   # replayed states kept for the next lookups (a path asks for each of its states)
_MASK64 = (1 << 64) - 1


def fingerprint(packed: bytes) -> int:
    """A packed state's 64-bit fingerprint, never 0 (the table's empty mark): Python's SipHash of the bytes."""
    return (hash(packed) & _MASK64) or 1


class FingerprintTable:
    """Fingerprint -> id, in two flat arrays (12 bytes a slot, where a dict spends about 110 per entry on
    its int objects): open addressing with linear probing on the fingerprint's low bits, 0 marking an empty
    slot, the capacity doubled at three quarters full. `setdefault` and `get` as a dict's."""

    __slots__ = ("keys", "ids", "mask", "size")

    def __init__(self, capacity: int = 1 << 12):
        self.keys = array("Q", bytes(8 * capacity))
        self.ids = array("I", bytes(4 * capacity))
        self.mask, self.size = capacity - 1, 0

    def __len__(self) -> int:
        return self.size

    def setdefault(self, key: int, sid: int) -> int:
        """The id stored under `key`, or `sid` after storing it there."""
        i = self._slot(key)
        if self.keys[i]:
            return self.ids[i]
        self.keys[i], self.ids[i] = key, sid
        self.size += 1
        if 4 * self.size > 3 * self.mask:
            self._grow()
        return sid

    def get(self, key: int, default: int | None = None) -> int | None:
        i = self._slot(key)
        return self.ids[i] if self.keys[i] else default

    def _slot(self, key: int) -> int:
        """Where `key` is, or the empty slot that ends its probe run."""
        keys, mask = self.keys, self.mask
        i = key & mask
        while True:
            k = keys[i]
            if k == key or not k:
                return i
            i = (i + 1) & mask

    def _grow(self) -> None:
        old_keys, old_ids = self.keys, self.ids
        capacity = 2 * (self.mask + 1)
        keys, ids = array("Q", bytes(8 * capacity)), array("I", bytes(4 * capacity))
        mask = capacity - 1
        for k, sid in zip(old_keys, old_ids):
            if k:
                i = k & mask
                while keys[i]:
                    i = (i + 1) & mask
                keys[i], ids[i] = k, sid
        self.keys, self.ids, self.mask = keys, ids, mask


def fingerprint_table() -> FingerprintTable:
    """An empty fingerprint table: the native one (engine/_arena.c's `Fingerprints`, the same table without an
    interpreted loop per probe) where it was built."""
    return Fingerprints() if Fingerprints is not None else FingerprintTable()   # type: ignore[return-value]


class FingerprintStore(StateStore):
    """A store of fingerprints (`verify --store hash`): each state is interned under Python's 64-bit
    SipHash of its packing (keyed per process, so a collision, should one happen, is not repeated by the
    next run) in a `FingerprintTable`, and the search releases a state's packing once it has expanded it.
    The graph (parent edges, every edge, blocked masks) is kept whole, so every analysis still works;
    `states[i]` of a released state replays its parent path (`ReplayedStates`)."""

    kind = StoreKind.HASH
    fingerprint = staticmethod(fingerprint)
    releases = True

    def __init__(self, threads: int, successor: Callable[[State, int, int], State | None],
                 actions: int = ACTIONS_UNKNOWN):
        super().__init__(threads, native=False, actions=actions)
        self.index = fingerprint_table()   # type: ignore[assignment]
        self.pack, self.unpack = state_codec()   # the native encoding where it was built: a third of a pickle
        self.states: ReplayedStates = ReplayedStates(self, successor)

    def omission_probability(self) -> float:
        """A bound on the chance that a collision hid a state: each of the n states, when new, met one of
        the fewer than n fingerprints already stored with probability below n / 2^64 (the birthday bound
        n(n-1)/2^65, the figure TLC calls optimistic)."""
        n = len(self)
        return n * (n - 1) / 2 ** (FINGERPRINT_BITS + 1)


class ReplayedStates(PackedStates):
    """The states of a fingerprint store in id order: the packings the search has not released (the
    frontier, and the initial states), and the released ones computed again from their parent: the
    store's `successor(state, action, choice)` is the stored image of that step's outcome (None: no such
    outcome). Iterating replays each state once from its parent (two BFS levels kept); indexing replays
    the parent path, keeping up to REPLAY_MEMO states. A replay that misses the stored fingerprint is an
    error."""

    __slots__ = ("store", "successor", "roots", "memo")

    def __init__(self, store: FingerprintStore, successor: Callable[[State, int, int], State | None]):
        super().__init__(store.unpack)
        self.packed: list[bytes | None] = []   # type: ignore[assignment]
        self.store, self.successor = store, successor
        self.roots: dict[int, bytes] = {}
        self.memo: dict[int, State] = {}

    def __getitem__(self, i: int | slice) -> State | list[State]:   # type: ignore[override]
        if isinstance(i, slice):
            return [self._one(k) for k in range(len(self.packed))[i]]
        return self._one(i)

    def add(self, packed: bytes, initial: bool) -> None:
        self.packed.append(packed)
        if initial:
            self.roots[len(self.packed) - 1] = packed

    def _one(self, i: int) -> State:
        """State `i`, replayed from the nearest state at hand on its parent path."""
        if i < 0:
            i += len(self.packed)
        kept = self._kept(i)
        if kept is not None:
            return kept
        chain = []
        sid = i
        while (state := self._kept(sid)) is None:
            chain.append(sid)
            sid = self.store.parent[sid]
        if len(self.memo) + len(chain) > REPLAY_MEMO:
            self.memo.clear()
        for sid in reversed(chain):
            state = self._step(state, sid)
            self.memo[sid] = state
        return state

    def __iter__(self) -> Iterator[State]:
        parent, depth = self.store.parent, self.store.depth
        above: dict[int, State] = {}
        level: dict[int, State] = {}
        current = 0
        for sid in range(len(self.packed)):
            if depth[sid] != current:
                above, level, current = level, {}, depth[sid]
            state = self._kept(sid)
            level[sid] = state if state is not None else self._step(above[parent[sid]], sid)
            yield level[sid]

    def _kept(self, sid: int) -> State | None:
        """State `sid` if it is at hand (not released, an initial state, or replayed lately), else None."""
        packed = self.packed[sid]
        if packed is None:
            packed = self.roots.get(sid)
            if packed is None:
                return self.memo.get(sid)
        return self.unpack(packed)

    def _step(self, state: State, sid: int) -> State:
        """The state `sid` from its parent's state, checked against its fingerprint."""
        store = self.store
        out = self.successor(state, store.parent_action[sid], store.parent_choice[sid])
        if out is None or not store.replays_to(out, sid):
            raise RuntimeError(f"replaying the parent edge of state {sid} does not give the stored state")
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None   # type: ignore[assignment]
