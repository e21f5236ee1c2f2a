"""Type stub of the native state store (engine/_arena.c)."""

class Arena:
    """States interned into one byte arena: intern, find, len, [id] decodes. A raw arena (`raw=True`)
    stores bytes keys as they are, and [id] gives them back."""

    def __init__(self, *, raw: bool = False) -> None: ...
    def intern(self, state: tuple | bytes, /) -> int:
        """The id of an equal stored state, or the next id after storing it (== len before)."""
    def find(self, state: tuple | bytes, /) -> int:
        """The id of an equal stored state, or -1."""
    def encoded(self, sid: int, /) -> bytes:
        """The stored encoding of state `sid`."""
    def encode(self, state: tuple, /) -> bytes:
        """The encoding of `state` (nothing stored)."""
    def __len__(self) -> int: ...
    def __getitem__(self, sid: int, /) -> tuple | bytes: ...
    @property
    def nbytes(self) -> int:
        """Bytes the store has allocated."""


def decode(data: bytes, /) -> tuple:
    """The state `Arena.encode` encoded to `data` (ValueError if the bytes are no such encoding)."""


class Fingerprints:
    """64-bit fingerprint (never 0) -> state id: store.py's FingerprintTable in native code."""

    def __init__(self, capacity: int = 4096) -> None: ...
    def setdefault(self, key: int, sid: int, /) -> int:
        """The id stored under `key`, or `sid` after storing it there."""
    def get(self, key: int, default: int | None = None, /) -> int | None: ...
    def __len__(self) -> int: ...
    @property
    def mask(self) -> int:
        """The capacity minus one."""
    @property
    def nbytes(self) -> int:
        """Bytes the table has allocated."""


class ImageOrder:
    """Per image of a state (a row; the identity's first), the state slots its ordering key reads."""

    def __init__(self, rows: object) -> None: ...
    def least(self, state: tuple, /) -> list[int]:
        """The rows, ascending, whose keys read from `state` are least (compared as tuples compare)."""


class Image:
    """A state's image under one permutation: slot j is maps[j](state[source[j]]) (None: as it is)."""

    def __init__(self, source: object, maps: object) -> None: ...
    def __call__(self, state: tuple, /) -> tuple: ...

def least_state(states: object, /) -> int:
    """The index of the first least state by a total order on what states hold (None, booleans, ints,
    strings, bytes, then tuples item by item)."""


INTERN: object
"""How an expansion that encodes its successors itself interns them into an Arena (a capsule: _codec.h)."""
