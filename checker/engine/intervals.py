"""Interval bounds of the integer terms of bounded model checking's unrolling, so that the bit-vector
translation (finite.py) is known exact without asking the solver.

Each integer-valued subterm (and each integer field of a list record) gets the interval of the values it can
take when every constant lies in its own interval (`env`). If-then-else takes both branches and guards are
not read, so the bounds hold on every path, taken or not. `Bounds.peak` is the largest magnitude of any
integer subterm, operand or intermediate of the translation (a Euclidean division's `r + y`); a term with
no bound (an operator not listed, a constant outside `env`, a division by an interval holding 0) makes
`Bounds.bounded` false. When every subterm of a formula is bounded and `peak` fits a signed width, no
operation of its translation at that width overflows on any assignment within the intervals.
"""

from __future__ import annotations

from collections.abc import Container, Iterator, Mapping
from typing import TypeAlias

import z3

Interval: TypeAlias = tuple[int, int]
Value: TypeAlias = "Interval | list[Interval] | None"   # an Int's bounds, a record's per field; None: unbounded


def hull(a: Value, b: Value) -> Value:
    """The smallest bounds holding both (None when either is unbounded)."""
    if a is None or b is None:
        return None
    if isinstance(a, list) and isinstance(b, list):
        return [(min(x[0], y[0]), max(x[1], y[1])) for x, y in zip(a, b)]
    if isinstance(a, tuple) and isinstance(b, tuple):
        return (min(a[0], b[0]), max(a[1], b[1]))
    return None


def widened(v: Value) -> Value:
    """The whole range of the bits `v` needs: [0, 2^k - 1] for one that is never negative, else
    [-2^k, 2^k - 1] (per field of a record). Widened bounds change only when a width does."""
    if v is None:
        return None
    if isinstance(v, list):
        return [widened(field) for field in v]   # type: ignore[misc]
    lo, hi = v
    if lo >= 0:
        return (0, (1 << hi.bit_length()) - 1)
    k = max(-lo - 1, hi).bit_length()
    return (-(1 << k), (1 << k) - 1)


def _product(a: Interval, b: Interval) -> Interval:
    corners = [x * y for x in a for y in b]
    return (min(corners), max(corners))


def _magnitude(v: Interval) -> int:
    return max(abs(v[0]), abs(v[1]))


def postorder(root: z3.ExprRef, done: Container[int]) -> Iterator[tuple[z3.ExprRef, list[z3.ExprRef]]]:
    """Each subterm of `root` whose AST id is not in `done`, with its children, after them, once, with a stack of
    its own (a step's if-then-else chains nest hundreds deep: deeper than Python's recursion). `done` is read
    as the walk goes, so a caller that records each term it is given skips shared subterms. The children are
    the walk's own (z3's Python API makes them anew on every `children()` call)."""
    stack: list[tuple[z3.ExprRef, list[z3.ExprRef] | None]] = [(root, None)]
    while stack:
        e, children = stack.pop()
        if e.get_id() in done:
            continue
        if children is None:
            children = e.children() if z3.is_app(e) else []
            stack.append((e, children))
            stack.extend((c, None) for c in children if c.get_id() not in done)
            continue
        yield e, children


class Bounds:
    """Intervals of terms under `env` (AST id of a constant -> its bounds), memoised; `peak` and `bounded`
    cover every term evaluated so far."""

    def __init__(self, env: Mapping[int, Value]):
        self.env = env
        self.memo: dict[int, Value] = {}
        self.peak = 0
        self.bounded = True

    def __call__(self, root: z3.ExprRef) -> Value:
        """The bounds of `root` (None unless it is an Int or a record of Ints), every subterm visited once."""
        memo = self.memo
        for e, children in postorder(root, memo):
            key = e.get_id()
            value = self._eval(e, children)
            memo[key] = value
            integer = e.sort().kind() in (z3.Z3_INT_SORT, z3.Z3_DATATYPE_SORT)
            if integer and value is None:
                self.bounded = False
            elif isinstance(value, tuple):
                self.peak = max(self.peak, _magnitude(value))
            elif isinstance(value, list):
                self.peak = max([self.peak, *map(_magnitude, value)])
        return memo[root.get_id()]

    def _eval(self, e: z3.ExprRef, children: list[z3.ExprRef]) -> Value:
        kind = e.sort().kind()
        if kind not in (z3.Z3_INT_SORT, z3.Z3_DATATYPE_SORT):
            return None     # a Boolean or a set: its children were bounded on the way
        if z3.is_int_value(e):
            v = e.as_long()
            return (v, v)
        if z3.is_quantifier(e) or not z3.is_app(e):
            return None
        op = e.decl().kind()
        if op == z3.Z3_OP_UNINTERPRETED and e.num_args() == 0:
            return self.env.get(e.get_id())
        args = [self.memo[c.get_id()] for c in children]
        if op == z3.Z3_OP_ITE:
            return hull(args[1], args[2])
        if op == z3.Z3_OP_DT_CONSTRUCTOR:
            fields = [a for a in args if isinstance(a, tuple)]
            return fields if len(fields) == len(args) else None
        if op == z3.Z3_OP_DT_ACCESSOR:
            record = args[0]
            if not isinstance(record, list):
                return None
            sort = children[0].sort()
            assert isinstance(sort, z3.DatatypeSortRef)
            index = next(k for k in range(sort.constructor(0).arity()) if sort.accessor(0, k).eq(e.decl()))
            return record[index]
        if any(not isinstance(a, tuple) for a in args):
            if op == z3.Z3_OP_BV2INT:
                return (0, (1 << children[0].sort().size()) - 1)
            return None
        ints: list[Interval] = args     # type: ignore[assignment]
        if op == z3.Z3_OP_ADD:
            return (sum(a[0] for a in ints), sum(a[1] for a in ints))
        if op == z3.Z3_OP_SUB:
            out = ints[0]
            for b in ints[1:]:
                out = (out[0] - b[1], out[1] - b[0])
            return out
        if op == z3.Z3_OP_UMINUS:
            return (-ints[0][1], -ints[0][0])
        if op == z3.Z3_OP_MUL:
            out = ints[0]
            for b in ints[1:]:
                out = _product(out, b)
            return out
        if op in (z3.Z3_OP_IDIV, z3.Z3_OP_MOD):
            x, y = ints
            if y[0] <= 0 <= y[1]:
                return None
            big = _magnitude(y)
            self.peak = max(self.peak, _magnitude(x) + big, 2 * big)   # the translation's x - r, r + y and r - y
            if op == z3.Z3_OP_MOD:
                return (0, big - 1)
            return (-_magnitude(x), _magnitude(x))
        return None


__all__ = ["Bounds", "Interval", "Value", "hull", "postorder", "widened"]
