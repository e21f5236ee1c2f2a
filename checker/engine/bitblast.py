"""z3 terms over Booleans and bit-vectors as binary decision diagrams: each Boolean a BDD, each bit-vector
a list of BDDs, least significant bit first (the circuits a SAT bit-blaster builds, built from BDD
operations instead of clauses). The symbolic search (engine/bdd.py) uses it on the narrow bit-vector
translation of the relation (engine/finite.py), whose integers are exact within their interval bounds.

Constants are the BDD variables `bits(name, width)` names; an operator it does not know raises
`Untranslatable`, as the translation does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import z3

from .finite import Untranslatable
from .intervals import postorder

CHECK_EVERY = 256      # terms blasted between two calls of the caller's check (its deadline)

Node: TypeAlias = Any                 # a BDD node of dd.cudd
Bits: TypeAlias = "list[Node]"        # a bit-vector: its bits, least significant first
Blasted: TypeAlias = "Node | Bits"


class Blaster:
    """Terms to BDDs over one manager; `variable(name, width)` gives a constant's bits (0 for a Boolean)."""

    def __init__(self, bdd: Any, variable: Callable[[str, int], Node | Bits], check: Callable[[], None] | None = None):
        """`check`: called every CHECK_EVERY terms (a deadline, which raises to stop)."""
        self.bdd = bdd
        self.variable = variable
        self.check = check
        self.memo: dict[int, Blasted] = {}
        self.kept: list[z3.ExprRef] = []      # the terms memo's AST ids belong to, kept alive

    def __call__(self, term: z3.ExprRef) -> Blasted:
        hit = self.memo.get(term.get_id())
        if hit is None:
            for e, children in postorder(term, self.memo):
                self.memo[e.get_id()] = self._blast(e, [self.memo[c.get_id()] for c in children])
                self.kept.append(e)
                if self.check is not None and len(self.kept) % CHECK_EVERY == 0:
                    self.check()
            hit = self.memo[term.get_id()]
        return hit

    def formula(self, term: z3.BoolRef) -> Node:
        out = self(term)
        assert not isinstance(out, list)
        return out

    # -- one operator

    def _blast(self, e: z3.ExprRef, a: list[Blasted]) -> Blasted:
        bdd = self.bdd
        if z3.is_true(e):
            return bdd.true
        if z3.is_false(e):
            return bdd.false
        if z3.is_bv_value(e):
            value, width = e.as_long(), e.size()
            return [bdd.true if value >> k & 1 else bdd.false for k in range(width)]
        if z3.is_quantifier(e) or z3.is_var(e):
            raise Untranslatable("a quantifier")
        kind = e.decl().kind()
        if z3.is_const(e) and kind == z3.Z3_OP_UNINTERPRETED:
            sort = e.sort()
            if sort.kind() == z3.Z3_BOOL_SORT:
                return self.variable(e.decl().name(), 0)
            if sort.kind() == z3.Z3_BV_SORT:
                return self.variable(e.decl().name(), sort.size())
            raise Untranslatable(f"a constant of sort {sort}")
        op = _BOOLEAN.get(kind)
        if op is not None:
            return op(bdd, a)
        op = _VECTOR.get(kind)
        if op is not None:
            return op(bdd, a)
        params = e.params()
        if kind == z3.Z3_OP_ITE:
            c, x, y = a
            if isinstance(x, list):
                return [bdd.ite(c, p, q) for p, q in zip(x, y)]
            return bdd.ite(c, x, y)
        if kind == z3.Z3_OP_EQ or kind == z3.Z3_OP_DISTINCT:
            pairs = [_equal(bdd, x, y) for i, x in enumerate(a) for y in a[i + 1:]]
            return _all(bdd, pairs) if kind == z3.Z3_OP_EQ else ~_any(bdd, pairs)
        if kind == z3.Z3_OP_EXTRACT:
            hi, lo = params
            return a[0][lo:hi + 1]
        if kind == z3.Z3_OP_CONCAT:
            out: Bits = []
            for part in reversed(a):   # the first argument holds the most significant bits
                out += part
            return out
        if kind == z3.Z3_OP_SIGN_EXT:
            return a[0] + [a[0][-1]] * params[0]
        if kind == z3.Z3_OP_ZERO_EXT:
            return a[0] + [bdd.false] * params[0]
        if kind in (z3.Z3_OP_PB_AT_MOST, z3.Z3_OP_PB_AT_LEAST, z3.Z3_OP_PB_LE, z3.Z3_OP_PB_GE, z3.Z3_OP_PB_EQ):
            return _pseudo_boolean(bdd, kind, params, a)
        raise Untranslatable(f"the operation {e.decl()}")


def _all(bdd: Any, xs: Sequence[Node]) -> Node:
    out = bdd.true
    for x in xs:
        out &= x
    return out


def _any(bdd: Any, xs: Sequence[Node]) -> Node:
    out = bdd.false
    for x in xs:
        out |= x
    return out


def _equal(bdd: Any, x: Blasted, y: Blasted) -> Node:
    if isinstance(x, list):
        return _all(bdd, [p.equiv(q) for p, q in zip(x, y)])
    return x.equiv(y)


def _xor(bdd: Any, p: Node, q: Node) -> Node:
    return bdd.apply("xor", p, q)


def _add(bdd: Any, x: Bits, y: Bits, carry: Node) -> Bits:
    out = []
    for p, q in zip(x, y):
        half = _xor(bdd, p, q)
        out.append(_xor(bdd, half, carry))
        carry = (p & q) | (carry & half)
    return out


def _neg(bdd: Any, x: Bits) -> Bits:
    return _add(bdd, [~p for p in x], [bdd.false] * len(x), bdd.true)


def _sub(bdd: Any, x: Bits, y: Bits) -> Bits:
    return _add(bdd, x, [~q for q in y], bdd.true)


def _mul(bdd: Any, x: Bits, y: Bits) -> Bits:
    out = [bdd.false] * len(x)
    for k, q in enumerate(y):
        shifted = [bdd.false] * k + [p & q for p in x[:len(x) - k]]
        out = _add(bdd, out, shifted, bdd.false)
    return out


def _unsigned_less(bdd: Any, x: Bits, y: Bits, strict: bool) -> Node:
    """x < y (or x <= y), unsigned: from the least significant bit up, the higher bit decides."""
    out = bdd.false if strict else bdd.true
    for p, q in zip(x, y):
        out = (~p & q) | (p.equiv(q) & out)
    return out


def _signed_less(bdd: Any, x: Bits, y: Bits, strict: bool) -> Node:
    """Signed: the sign bits swapped make it an unsigned comparison."""
    return _unsigned_less(bdd, [*x[:-1], ~x[-1]], [*y[:-1], ~y[-1]], strict)


def _divide(bdd: Any, x: Bits, y: Bits) -> tuple[Bits, Bits]:
    """Unsigned quotient and remainder, by restoring division (by 0: all ones and x, as SMT-LIB says)."""
    width = len(x)
    rem = [bdd.false] * width
    quot = [bdd.false] * width
    for k in reversed(range(width)):
        rem = [x[k], *rem[:-1]]
        ge = ~_unsigned_less(bdd, rem, y, True)
        diff = _sub(bdd, rem, y)
        rem = [bdd.ite(ge, d, r) for d, r in zip(diff, rem)]
        quot[k] = ge
    return quot, rem


def _signed_divide(bdd: Any, x: Bits, y: Bits, remainder: bool) -> Bits:
    """bvsdiv and bvsrem: on the magnitudes, then the sign (the quotient's from both, the remainder's from x)."""
    sx, sy = x[-1], y[-1]
    ax = [bdd.ite(sx, n, p) for n, p in zip(_neg(bdd, x), x)]
    ay = [bdd.ite(sy, n, p) for n, p in zip(_neg(bdd, y), y)]
    quot, rem = _divide(bdd, ax, ay)
    out, sign = (rem, sx) if remainder else (quot, _xor(bdd, sx, sy))
    return [bdd.ite(sign, n, p) for n, p in zip(_neg(bdd, out), out)]


def _pseudo_boolean(bdd: Any, kind: int, params: list, a: list[Node]) -> Node:
    """A weighted sum of Booleans against a bound: the sums so far as BDDs, one per value (small bounds)."""
    if kind in (z3.Z3_OP_PB_AT_MOST, z3.Z3_OP_PB_AT_LEAST):
        bound, weights = params[0], [1] * len(a)
    else:
        bound, weights = params[0], list(params[1:])
    total = sum(weights)
    sums = {0: bdd.true}     # value -> the assignments whose sum so far is that value
    for x, w in zip(a, weights):
        nxt: dict[int, Node] = {}
        for value, when in sums.items():
            for v, cond in ((value, when & ~x), (value + w, when & x)):
                nxt[v] = nxt.get(v, bdd.false) | cond
        sums = nxt
    if total > 4096:
        raise Untranslatable("a cardinality constraint over too large a sum")
    if kind in (z3.Z3_OP_PB_AT_MOST, z3.Z3_OP_PB_LE):
        return _any(bdd, [c for v, c in sums.items() if v <= bound])
    if kind in (z3.Z3_OP_PB_AT_LEAST, z3.Z3_OP_PB_GE):
        return _any(bdd, [c for v, c in sums.items() if v >= bound])
    return _any(bdd, [c for v, c in sums.items() if v == bound])


def _xor_all(bdd: Any, a: list[Node]) -> Node:
    out = bdd.false
    for x in a:
        out = _xor(bdd, out, x)
    return out


def _chain(bdd: Any, a: list[Node]) -> Node:   # x = y = z on Booleans
    return _all(bdd, [x.equiv(y) for x, y in zip(a, a[1:])])


def _fold(op: Callable[[Any, Bits, Bits], Bits]) -> Callable[[Any, list], Bits]:
    def apply(bdd: Any, a: list) -> Bits:
        out = a[0]
        for b in a[1:]:
            out = op(bdd, out, b)
        return out
    return apply


def _shift(left: bool, arithmetic: bool = False) -> Callable[[Any, list], Bits]:
    """A shift by a constant amount (a symbolic amount: Untranslatable)."""
    def apply(bdd: Any, a: list) -> Bits:
        x, by = a
        if not all(b is bdd.true or b is bdd.false or b == bdd.true or b == bdd.false for b in by):
            raise Untranslatable("a shift by a symbolic amount")
        n = sum(1 << k for k, b in enumerate(by) if b == bdd.true)
        width = len(x)
        n = min(n, width)
        if left:
            return [bdd.false] * n + x[:width - n]
        fill = x[-1] if arithmetic else bdd.false
        return x[n:] + [fill] * n
    return apply


_BOOLEAN: dict[int, Callable[[Any, list], Node]] = {
    z3.Z3_OP_AND: _all,
    z3.Z3_OP_OR: _any,
    z3.Z3_OP_NOT: lambda bdd, a: ~a[0],
    z3.Z3_OP_IMPLIES: lambda bdd, a: ~a[0] | a[1],
    z3.Z3_OP_XOR: _xor_all,
    z3.Z3_OP_IFF: _chain,
    z3.Z3_OP_ULEQ: lambda bdd, a: _unsigned_less(bdd, a[0], a[1], False),
    z3.Z3_OP_ULT: lambda bdd, a: _unsigned_less(bdd, a[0], a[1], True),
    z3.Z3_OP_UGEQ: lambda bdd, a: _unsigned_less(bdd, a[1], a[0], False),
    z3.Z3_OP_UGT: lambda bdd, a: _unsigned_less(bdd, a[1], a[0], True),
    z3.Z3_OP_SLEQ: lambda bdd, a: _signed_less(bdd, a[0], a[1], False),
    z3.Z3_OP_SLT: lambda bdd, a: _signed_less(bdd, a[0], a[1], True),
    z3.Z3_OP_SGEQ: lambda bdd, a: _signed_less(bdd, a[1], a[0], False),
    z3.Z3_OP_SGT: lambda bdd, a: _signed_less(bdd, a[1], a[0], True),
}

_VECTOR: dict[int, Callable[[Any, list], Bits]] = {
    z3.Z3_OP_BADD: _fold(lambda bdd, x, y: _add(bdd, x, y, bdd.false)),
    z3.Z3_OP_BSUB: _fold(_sub),
    z3.Z3_OP_BMUL: _fold(_mul),
    z3.Z3_OP_BNEG: lambda bdd, a: _neg(bdd, a[0]),
    z3.Z3_OP_BAND: _fold(lambda bdd, x, y: [p & q for p, q in zip(x, y)]),
    z3.Z3_OP_BOR: _fold(lambda bdd, x, y: [p | q for p, q in zip(x, y)]),
    z3.Z3_OP_BXOR: _fold(lambda bdd, x, y: [_xor(bdd, p, q) for p, q in zip(x, y)]),
    z3.Z3_OP_BNOT: lambda bdd, a: [~p for p in a[0]],
    z3.Z3_OP_BSDIV: lambda bdd, a: _signed_divide(bdd, a[0], a[1], False),
    z3.Z3_OP_BSDIV_I: lambda bdd, a: _signed_divide(bdd, a[0], a[1], False),
    z3.Z3_OP_BSREM: lambda bdd, a: _signed_divide(bdd, a[0], a[1], True),
    z3.Z3_OP_BSREM_I: lambda bdd, a: _signed_divide(bdd, a[0], a[1], True),
    z3.Z3_OP_BUDIV: lambda bdd, a: _divide(bdd, a[0], a[1])[0],
    z3.Z3_OP_BUDIV_I: lambda bdd, a: _divide(bdd, a[0], a[1])[0],
    z3.Z3_OP_BUREM: lambda bdd, a: _divide(bdd, a[0], a[1])[1],
    z3.Z3_OP_BUREM_I: lambda bdd, a: _divide(bdd, a[0], a[1])[1],
    z3.Z3_OP_BSHL: _shift(True),
    z3.Z3_OP_BLSHR: _shift(False),
    z3.Z3_OP_BASHR: _shift(False, arithmetic=True),
}
