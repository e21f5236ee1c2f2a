"""The state store an explicit engine owns: every state interned to an id once, the parent edge of each
(its source and label: a shortest path back to an initial state), depths, every labelled edge, and per
expanded state the mask of its blocked threads.

Ids follow discovery order, so in a breadth-first search they are sorted by depth. The store is the only
place that hashes a state; everything after the search speaks ids.

States are stored packed: each one is a single bytes object (`Packer`: the state tuple pickled without
memo, so that equal states always pack to equal bytes), about a quarter of the tuple's memory, hashed
once and compared as bytes. `states[i]` unpacks. A fingerprint or sharded store can stand behind the
same methods.
"""

from __future__ import annotations

import io
import pickle
from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import overload

from .system import State

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


class Canonical:
    """Under symmetry, a state's representative: of the state's images (`images`, the identity first), the
    least by (its threads' program counters, its packing), with its packing and the index of the
    permutation that gave it. The program counters of each image (`positions`) are read straight from
    the state, so only the images that tie on them are built and packed (usually one)."""

    __slots__ = ("images", "positions", "pack")

    def __init__(self, images: Sequence[Callable[[State], State]], pack: Packer,
                 positions: Sequence[Callable[[State], object]] = ()):
        self.images = tuple(images)
        self.positions = tuple(positions) if positions else tuple(lambda s: () for _ in images)
        self.pack = pack

    @classmethod
    def of(cls, symmetry: object, pack: Packer | None = None) -> Canonical:
        """The representative function of a symmetry (model/semantics/symmetry.py), packing with `pack`."""
        return cls(symmetry.images, pack or Packer(), symmetry.positions)   # type: ignore[attr-defined]

    def __call__(self, state: State) -> tuple[bytes, State, int]:
        keys = [position(state) for position in self.positions]
        least = min(keys)   # type: ignore[type-var]
        ties = [k for k, key in enumerate(keys) if key == least]
        pack, images = self.pack, self.images
        k = ties[0]
        best_state = images[k](state) if k else state
        best = pack(best_state)
        for k2 in ties[1:]:
            other = images[k2](state)
            packed = pack(other)
            if packed < best:
                best, best_state, k = packed, other, k2
        return best, best_state, k


class PackedStates(Sequence[State]):
    """The stored states in id order, packed; indexing and iterating unpack them."""

    __slots__ = ("packed",)

    def __init__(self) -> None:
        self.packed: list[bytes] = []

    def __len__(self) -> int:
        return len(self.packed)

    @overload
    def __getitem__(self, i: int) -> State: ...

    @overload
    def __getitem__(self, i: slice) -> list[State]: ...

    def __getitem__(self, i: int | slice) -> State | list[State]:
        if isinstance(i, slice):
            return [unpack(p) for p in self.packed[i]]
        return unpack(self.packed[i])

    def __iter__(self) -> Iterator[State]:
        return map(unpack, self.packed)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PackedStates):
            return self.packed == other.packed
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None   # type: ignore[assignment]


def mask_array(threads: int) -> array | list:
    """Per-state thread masks: 64-bit words when they fit, Python ints beyond 64 threads."""
    return array("Q") if threads <= 64 else []


class StateStore:
    """Interned states, parent edges, depths and (for expanded states) edges and blocked masks."""

    def __init__(self, threads: int):
        self.pack = Packer()
        self.index: dict[bytes, int] = {}   # packed state -> id
        self.states = PackedStates()
        self.parent = array("q")          # the source of the edge that discovered each state (-1: initial)
        self.parent_action = array("i")   # that edge's action (-1: initial)
        self.parent_choice = array("H")   # and its choice
        self.depth = array("I")
        # the edges leaving expanded state i are first_edge[i] up to first_edge[i + 1] (or the end)
        self.first_edge = array("I")
        self.edges_dst = array("I")
        self.edges_action = array("I")
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
        packed = self.pack(state)
        sid = self.index.setdefault(packed, n)
        if sid == n:
            self.states.packed.append(packed)
            self.parent.append(parent)
            self.parent_action.append(action)
            self.parent_choice.append(choice)
            self.depth.append(depth)
        return sid

    def id_of(self, state: State) -> int | None:
        return self.index.get(self.pack(state))

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
