"""Bounded lists in z3: the z3 meaning of a list value (a `list<E>` variable or local, an rwsem's wait queue).

A list holds at most `capacity` items: a list of an entity's elements holds each element at most once
(adding one already on it is a runtime error), so its capacity is the entity's size; a wait queue holds
one entry per waiting thread, so its capacity is the number of threads. Such a list is one z3 value of a
record sort per capacity, `ListC(len, e0, ..., eC-1)`, whose unused items are -1, so that two lists are
equal exactly when their records are. Every operation below builds a record from the fields of its
arguments: a formula over lists is linear integer arithmetic once z3 projects the fields, with no
sequence theory (whose solver could not decide one step of the net specs).
"""

from __future__ import annotations

from collections.abc import Sequence

import z3

_SORTS: dict[int, z3.DatatypeSortRef] = {}
_CAPACITY: dict[str, int] = {}   # sort name -> capacity
UNUSED = -1


class ListTooLong(ValueError):
    """A list value with more items than its list can hold (a literal that repeats an element)."""


def list_sort(capacity: int) -> z3.DatatypeSortRef:
    """The record sort of lists of at most `capacity` items (one per capacity, made once)."""
    sort = _SORTS.get(capacity)
    if sort is None:
        record = z3.Datatype(f"List{capacity}")
        record.declare(f"list{capacity}", ("len", z3.IntSort()),
                       *((f"e{k}", z3.IntSort()) for k in range(capacity)))
        sort = _SORTS[capacity] = record.create()
        _CAPACITY[sort.name()] = capacity
    return sort


def is_list(x: z3.ExprRef | z3.SortRef) -> bool:
    """Whether `x` is a bounded list (or `x` the sort of one)."""
    sort = x if isinstance(x, z3.SortRef) else x.sort()
    return sort.name() in _CAPACITY


def capacity(x: z3.ExprRef | z3.SortRef) -> int:
    """How many items the list `x` (or a list of sort `x`) holds at most."""
    sort = x if isinstance(x, z3.SortRef) else x.sort()
    return _CAPACITY[sort.name()]


def length(x: z3.ExprRef) -> z3.ArithRef:
    return x.sort().accessor(0, 0)(x)


def item(x: z3.ExprRef, k: int) -> z3.ArithRef:
    """Item k (a constant position), -1 past the end."""
    return x.sort().accessor(0, k + 1)(x)


def items(x: z3.ExprRef) -> list[z3.ArithRef]:
    return [item(x, k) for k in range(capacity(x))]


def make(sort: z3.DatatypeSortRef, n: z3.ArithRef | int, values: Sequence[z3.ArithRef | int]) -> z3.ExprRef:
    """The list of sort `sort` with length `n` and these items (padded with -1)."""
    cap = capacity(sort)
    padded = [*values, *([UNUSED] * (cap - len(values)))][:cap]
    return sort.constructor(0)(n, *padded)


def fit(x: z3.ExprRef, sort: z3.SortRef) -> z3.ExprRef:
    """`x` as a list of sort `sort` (an empty display `[]` is made with no room, and grows to where it goes);
    anything else unchanged."""
    if not is_list(x) or x.sort() == sort or not is_list(sort):
        return x
    return make(sort, length(x), items(x))


def same(a: z3.ExprRef, b: z3.ExprRef) -> tuple[z3.ExprRef, z3.ExprRef]:
    """Two values of one sort: the smaller list grown to the larger's capacity."""
    if is_list(a) and is_list(b) and a.sort() != b.sort():
        return (fit(a, b.sort()), b) if capacity(a) < capacity(b) else (a, fit(b, a.sort()))
    return a, b


def literal(values: Sequence[int], cap: int) -> z3.ExprRef:
    """A concrete list."""
    return of([z3.IntVal(v) for v in values], cap)


def of(values: Sequence[z3.ArithRef], cap: int) -> z3.ExprRef:
    """The list of these items, in order (a list display)."""
    if len(values) > cap:
        raise ListTooLong(f"a list of {len(values)} items where at most {cap} fit")
    return make(list_sort(cap), len(values), values)


def at(x: z3.ExprRef, i: z3.ArithRef) -> z3.ArithRef:
    """Item i (a term), -1 outside 0..len-1."""
    n, out = length(x), z3.IntVal(UNUSED)
    for k in reversed(range(capacity(x))):
        out = z3.If(z3.And(i == k, k < n), item(x, k), out)
    return out


def contains(x: z3.ExprRef, v: z3.ArithRef) -> z3.BoolRef:
    n = length(x)
    return z3.Or(*[z3.And(k < n, item(x, k) == v) for k in range(capacity(x))])


def index(x: z3.ExprRef, v: z3.ArithRef) -> z3.ArithRef:
    """The first position of v, -1 when it is not on the list."""
    n, out = length(x), z3.IntVal(-1)
    for k in reversed(range(capacity(x))):
        out = z3.If(z3.And(k < n, item(x, k) == v), z3.IntVal(k), out)
    return out


def append(x: z3.ExprRef, v: z3.ArithRef) -> z3.ExprRef:
    n = length(x)
    return make(x.sort(), n + 1, [z3.If(n == k, v, e) for k, e in enumerate(items(x))])


def prepend(x: z3.ExprRef, v: z3.ArithRef) -> z3.ExprRef:
    return make(x.sort(), length(x) + 1, [v, *items(x)[:-1]])


def remove_at(x: z3.ExprRef, i: z3.ArithRef) -> z3.ExprRef:
    """Without item i; the list itself when i is not a position on it."""
    n, old = length(x), items(x)
    valid = z3.And(i >= 0, i < n)
    later = [*old[1:], z3.IntVal(UNUSED)]
    return make(x.sort(), z3.If(valid, n - 1, n),
                [z3.If(z3.Or(z3.Not(valid), k < i), e, later[k]) for k, e in enumerate(old)])


def insert_at(x: z3.ExprRef, i: z3.ArithRef, v: z3.ArithRef) -> z3.ExprRef:
    """v inserted before item i (0 <= i <= len)."""
    old = items(x)
    earlier = [z3.IntVal(UNUSED), *old[:-1]]
    return make(x.sort(), length(x) + 1,
                [z3.If(k < i, e, z3.If(k == i, v, earlier[k])) for k, e in enumerate(old)])


def compact(sort: z3.DatatypeSortRef, entries: Sequence[tuple[z3.BoolRef, z3.ArithRef]]) -> z3.ExprRef:
    """The list of the entries (keep, value) that are kept, in order."""
    cap = capacity(sort)
    before: list[z3.ArithRef] = []   # per entry: how many kept entries precede it
    count: z3.ArithRef = z3.IntVal(0)
    for keep, _ in entries:
        before.append(count)
        count = count + z3.If(keep, 1, 0)
    out = []
    for j in range(cap):
        value: z3.ArithRef = z3.IntVal(UNUSED)
        for (keep, v), b in reversed(list(zip(entries, before))):
            value = z3.If(z3.And(keep, b == j), v, value)
        out.append(value)
    return make(sort, count, out)


def well_formed(x: z3.ExprRef) -> z3.BoolRef:
    """Length within 0..capacity and every unused item -1: the shape every list value has."""
    n = length(x)
    return z3.And(n >= 0, n <= capacity(x), *[z3.Implies(k >= n, item(x, k) == UNUSED) for k in range(capacity(x))])


def value(v: z3.ExprRef) -> tuple[int, ...]:
    """A list in a model, as a tuple of its items (None when the model leaves it unknown)."""
    n = z3.simplify(length(v))
    if not z3.is_int_value(n):
        raise ValueError(f"a list of unknown length: {v}")
    return tuple(z3.simplify(item(v, k)).as_long() for k in range(min(n.as_long(), capacity(v))))  # type: ignore[attr-defined]


__all__ = ["ListTooLong", "append", "at", "capacity", "compact", "contains", "fit", "index", "insert_at",
           "is_list", "same",
           "item", "items", "length", "list_sort", "literal", "make", "of", "prepend", "remove_at", "value",
           "well_formed"]
