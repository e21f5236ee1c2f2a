"""Candidate invariants read off a sample of reachable states, for Houdini to keep or drop (symbolic.py).

A slot fact that every sampled state satisfies may be an invariant; z3 decides. Two kinds of candidate:
- **values**: slot j takes only the values the sample shows (`exits[net0, core0] in {0, 1}`);
- **implications**: whenever a control slot i (a program counter, a lock owner, a shared slot of at most
  four values) has value a, slot j takes only the values it takes with it in the sample
  (`creator[net0].pc == 12 -> net_mutex.owner in {0}`), kept only where that says more than the first kind.
- **affine equalities**: a linear equation with integer coefficients that every sampled state satisfies,
  over the state's numbers (`features`: an int slot, a Boolean as 0 or 1, a list's length, whether an
  element is on a list or in a set, and for a program counter or a lock owner whether it holds given
  values), e.g. `accepted + [acceptor[0].pc in {4, 5, ..., 14}] + [acceptor[1].pc in {4, 5, ..., 14}] == 2`:
  counters that move together, a count of the threads not yet past a place. They are the null space of
  the sample's matrix (`affine_relations`, in exact integer arithmetic): the equalities Karr's analysis
  would find if the sample were every reachable state.
A slot that is unused (None) in some of the states a candidate would read it in is left out of that
candidate: an unused slot holds any value in z3. The sample is the first states of a breadth-first
search, possibly of a bigger state space than it finishes (`sample_states`): Houdini drops every
candidate that is not inductive, so a candidate from an incomplete sample is never trusted, only tried.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial, reduce
from math import gcd
from operator import and_, mul
from typing import Any

import z3
from netcheck.model.semantics import smtlist
from netcheck.model.semantics.layout import SlotKind
from netcheck.model.semantics.system import TransitionSystem

from .explore import explore
from .limits import Limits
from .symbolic import Candidate, Frame, Proof, Symbolic, value_of

SAMPLE_STATES = 20_000     # the states a proof engine samples for candidates
MOST_VALUES = 64           # a candidate names at most this many values of a slot
CONTROL_VALUES = 4         # a shared slot with at most this many values is a control slot
MOST_CANDIDATES = 5_000    # values first, then affine equalities, then implications by control slot
STRENGTHEN_SHARE = 0.5     # of the time left, the most `strengthen` may take (the engine gets the rest)
STRENGTHEN_SECONDS = 120.0 # the most it may take without a timeout
MOST_FEATURES = 240        # affine equalities only over at most this many numbers of a state
MOST_BLOCKED = 2_000      # clauses Houdini may learn from states the sample does not cover
MOST_ROWS = 5_000          # ... read off at most this many distinct states of the sample (evenly spread)


def sample_states(system: TransitionSystem, count: int = SAMPLE_STATES) -> list[tuple]:
    """The first `count` states of a breadth-first search of `system` (all of them when it has fewer), each
    as it is, not a representative of its symmetry class."""
    if system.symmetric:
        system = TransitionSystem(system.spec)
    result = explore(system, Limits(max_states=count), measure_memory=False)
    return list(result.store.states)


def mined_candidates(sy: Symbolic, states: Sequence[tuple], most: int = MOST_CANDIDATES) -> list[Candidate]:
    """Value, affine and implication candidates (module docstring) that every state of `states` satisfies."""
    if not states:
        return []
    slots = sy.system.layout.slots
    columns = list(zip(*states))
    values = [set(column) for column in columns]
    literal = sy.u.rel.pre.value
    out: list[Candidate] = []

    def one_of(j: int, seen: set) -> Candidate:
        ordered = sorted(seen, key=repr)
        lits = [literal(j, v) for v in ordered]
        return Candidate(j, f"{slots[j].name} in {{{', '.join(map(repr, ordered))}}}",
                         lambda s: z3.Or(*[s[j] == lit for lit in lits]))

    def usable(seen: set) -> bool:
        return None not in seen and len(seen) <= MOST_VALUES

    out += [one_of(j, seen) for j, seen in enumerate(values) if usable(seen) and len(seen) < _room(sy, j)]
    control = [i for i, slot in enumerate(slots)
               if None not in values[i] and (slot.kind in (SlotKind.PC, SlotKind.LOCK_OWNER) or
                                             (slot.kind == SlotKind.SHARED and len(values[i]) <= CONTROL_VALUES))]
    out += affine_candidates(sy, states, values)
    for i in control:
        if len(values[i]) < 2:
            continue
        for j in range(len(slots)):
            if j == i:
                continue
            with_: dict[object, set] = {}
            for a, b in set(zip(columns[i], columns[j])):
                with_.setdefault(a, set()).add(b)
            for a in sorted(with_, key=repr):
                seen = with_[a]
                if usable(seen) and len(seen) < len(values[j]):
                    out.append(_implication(sy, i, a, one_of(j, seen)))
        if len(out) >= most:
            break
    return out[:most]


@dataclass(frozen=True)
class Feature:
    """A number read off a state: `read` on the state's values, `term` on a z3 frame, `text` as printed."""

    text: str
    read: Callable[[tuple], int]
    term: Callable[[Frame], z3.ArithRef]
    slot: int = -1              # of a program counter or lock owner: the slot, and the value it indicates
    value: int = 0


def features(sy: Symbolic, values: Sequence[set]) -> list[Feature]:
    """The numbers of a state the affine candidates relate (module docstring), for the slots that are in use
    in every sampled state and take more than one value there; a program counter or lock owner by its values
    but the first."""
    slots, pre = sy.system.layout.slots, sy.u.rel.pre
    out: list[Feature] = []
    for j, seen in enumerate(values):
        if None in seen or len(seen) < 2:
            continue
        sort, name = pre.sort(j), slots[j].name
        if sort == z3.BoolSort():
            out.append(_number(name, j, int, lambda x: z3.If(x, 1, 0)))
        elif smtlist.is_list(sort) and all(isinstance(v, tuple) for v in seen):
            out.append(_number(f"len({name})", j, len, smtlist.length))
            out += [_member(f"[{e} in {name}]", j, e, lambda x, e: smtlist.contains(x, z3.IntVal(e)))
                    for e in sorted({e for v in seen for e in v})]
        elif isinstance(sort, z3.BitVecSortRef) and all(isinstance(v, int) for v in seen):
            out += [_member(f"[{b} in {name}]", j, b, lambda x, b: z3.Extract(b, b, x) == 1, bit=True)
                    for b in sorted({b for v in seen for b in range(sort.size()) if v >> b & 1})]
        elif sort == z3.IntSort() and all(isinstance(v, int) for v in seen):
            if slots[j].kind in (SlotKind.PC, SlotKind.LOCK_OWNER):
                out += [_indicator(sy, j, {a}) for a in sorted(seen)[1:]]
            else:
                out.append(_number(name, j, int, lambda x: x))
    return out


def _number(text: str, j: int, read: Callable[[Any], int], term: Callable[[z3.ExprRef], z3.ArithRef]) -> Feature:
    """A number read off slot j: `read` of its value, `term` of its z3 constant."""
    return Feature(text, lambda s: read(s[j]), lambda f: term(f[j]))


def _member(text: str, j: int, e: int, holds: Callable[[z3.ExprRef, int], z3.BoolRef], bit: bool = False) -> Feature:
    """1 when e is on the list in slot j (with `bit`: bit e of the set in slot j is set), else 0."""
    def read(s: tuple) -> int:
        return (s[j] >> e & 1) if bit else int(e in s[j])
    return Feature(text, read, lambda f: z3.If(holds(f[j], e), 1, 0))


def affine_relations(rows: Sequence[Sequence[int]]) -> list[list[int]]:
    """A basis of the integer vectors c with sum(c[k] * row[k]) == 0 for every row (each row ends in 1, so
    the last coefficient is the equation's constant), primitive (gcd 1) and in a fixed order: the null
    space, narrowed row by row (fraction-free, exact)."""
    if not rows:
        return []
    width = len(rows[0])
    basis = [[int(k == i) for k in range(width)] for i in range(width)]
    for row in rows:
        dots = [sum(map(mul, row, v)) for v in basis]
        pivot = next((i for i, d in enumerate(dots) if d), None)
        if pivot is None:
            continue
        p, pv = dots[pivot], basis[pivot]
        narrowed = []
        for i, (d, v) in enumerate(zip(dots, basis)):
            if i == pivot:
                continue
            if d:
                v = [p * x - d * y for x, y in zip(v, pv)]
                g = reduce(gcd, v)
                v = [x // g for x in v] if g > 1 else v
            narrowed.append(v)
        basis = narrowed
        if not basis:
            break
    return [v if next(x for x in v if x) > 0 else [-x for x in v] for v in basis]


def affine_candidates(sy: Symbolic, states: Sequence[tuple], values: Sequence[set]) -> list[Candidate]:
    """The affine equalities every sampled state satisfies (module docstring), as candidates (`values`: the
    values each slot takes in `states`)."""
    feats = features(sy, values)
    if not feats or len(feats) > MOST_FEATURES:
        return []
    rows = sorted({(*[f.read(s) for f in feats], 1) for s in states})
    if len(rows) > MOST_ROWS:
        rows = [rows[k * len(rows) // MOST_ROWS] for k in range(MOST_ROWS)]
    out = []
    for c in affine_relations(rows):
        terms = _grouped(sy, [(k, f) for k, f in zip(c, feats) if k])
        left = [(k, f) for k, f in terms if k > 0]
        right = [(-k, f) for k, f in terms if k < 0]
        if not left and not right:
            continue
        out.append(_equation(left, right, -c[-1]))
    return out


def _equation(left: list[tuple[int, Feature]], right: list[tuple[int, Feature]], constant: int) -> Candidate:
    """sum(left) == sum(right) + constant, as a candidate."""
    def fact(s: Frame) -> z3.BoolRef:
        return _sum(left, 0, s) == _sum(right, constant, s)
    return Candidate(-1, f"{_sum_text(left, 0)} == {_sum_text(right, constant)}", fact)


def _indicator(sy: Symbolic, j: int, values: set[int]) -> Feature:
    """1 when slot j (a program counter, a lock owner) holds one of `values`, else 0."""
    lits = [sy.u.rel.pre.value(j, a) for a in sorted(values)]
    shown = ", ".join(map(str, sorted(values)))
    return Feature(f"[{sy.system.layout.slots[j].name} in {{{shown}}}]", lambda s: int(s[j] in values),
                   lambda f: z3.If(z3.Or(*[f[j] == lit for lit in lits]), 1, 0), j, min(values))


def _grouped(sy: Symbolic, terms: list[tuple[int, Feature]]) -> list[tuple[int, Feature]]:
    """The terms with the indicators of one slot that have one coefficient merged (k*[pc == 3] + k*[pc == 5]
    is k*[pc in {3, 5}]: the slot holds one value at a time)."""
    merged: dict[tuple[int, int], set[int]] = {}
    out: list[tuple[int, Feature]] = []
    for k, f in terms:
        if f.slot < 0:
            out.append((k, f))
        else:
            merged.setdefault((f.slot, k), set()).add(f.value)
    out += [(k, _indicator(sy, j, values)) for (j, k), values in sorted(merged.items())]
    return out


def _sum(terms: Sequence[tuple[int, Feature]], constant: int, s: Frame) -> z3.ArithRef:
    """sum(k * feature) + constant over a frame (no product for k == 1, no 0 added)."""
    parts = [f.term(s) if k == 1 else k * f.term(s) for k, f in terms]
    if constant or not parts:
        parts.append(z3.IntVal(constant))
    return z3.Sum(parts) if len(parts) > 1 else parts[0]


def _sum_text(terms: Sequence[tuple[int, Feature]], constant: int) -> str:
    parts = [f.text if k == 1 else f"{k}*{f.text}" for k, f in terms]
    if constant or not parts:
        parts.append(str(constant))
    return " + ".join(parts)


def strengthen(sy: Symbolic, props: list[str], sample: int, deadline: float | None,
               share: float = STRENGTHEN_SHARE) -> dict[str, Proof]:
    """Houdini again, over the slot facts, the candidates read off `sample` reachable states and the
    properties themselves: a property in the inductive invariant it keeps is proved (its Proof); the
    invariant's facts are assumed of every state from then on. Then, for the properties left, Houdini once
    more from that invariant, blocking the states that break them (`SampleBlocker`); when that does not
    finish, the first invariant stands. Nothing when the first does not finish within `share` of the time
    left."""
    began = time.perf_counter()
    slot_facts = sy.well_formed_facts
    goods = {p: Candidate(-1, f"property {p}", partial(sy.good, p)) for p in props}
    states = sample_states(sy.system, sample)
    mined = mined_candidates(sy, states)
    now = time.perf_counter()
    until = now + (share * (deadline - now) if deadline is not None else STRENGTHEN_SECONDS)
    kept = sy.houdini(_ms(deadline), extra=[*mined, *goods.values()], until=until)
    if not {c.text for c in slot_facts} <= {c.text for c in kept}:   # z3 unknown or out of time: nothing proved
        sy.well_formed_facts = slot_facts
        return {}
    proofs = _proofs(sy, goods, kept, began)
    left = [c for c in goods.values() if c not in kept]
    if left and MOST_BLOCKED:
        first = kept
        own = {c.text for c in sy.candidates()}
        kept = sy.houdini(_ms(deadline), extra=[*[c for c in first if c.text not in own], *left], until=until,
                          protect=left, block=SampleBlocker(sy, states), most_blocked=MOST_BLOCKED)
        if not {c.text for c in slot_facts} <= {c.text for c in kept}:
            kept = sy.well_formed_facts = first
        proofs = {**_proofs(sy, goods, kept, began), **proofs}   # the first pass's proofs do not depend on the second
    return proofs


def _proofs(sy: Symbolic, goods: dict[str, Candidate], kept: Sequence[Candidate], began: float) -> dict[str, Proof]:
    """The properties among the facts Houdini kept, each proved by the others (the invariant prove.py writes):
    the facts kept that are no property, and apart (`with_others`) the other properties kept, which the step
    of one may need (the whole set is inductive, not always the facts with one property)."""
    facts = [c.fact(sy.u.base) for c in kept if c not in goods.values()]
    invariant = z3.And(*facts) if facts else z3.BoolVal(True)
    seconds = time.perf_counter() - began
    proofs = {}
    for p, good in goods.items():
        if good in kept:
            others = tuple((q, c.fact(sy.u.base)) for q, c in goods.items() if q != p and c in kept)
            proofs[p] = Proof(p, "houdini", k=0, invariant=invariant, size=len(kept), seconds=seconds,
                              with_others=others)
    return proofs


class SampleBlocker:
    """Clauses that exclude a state no sampled state covers (IC3's blocking, with the sample standing in
    for the reachable states): the fewest slot values of the state that, together, no sampled state has.
    A sampled state where a slot is unused (None) has every value there, as in z3."""

    def __init__(self, sy: Symbolic, states: Sequence[tuple]):
        self.sy = sy
        slots = sy.system.layout.slots
        self.everyone = (1 << len(states)) - 1
        self.unused = [0] * len(slots)
        self.having: list[list[tuple[z3.ExprRef, int]]] = []   # per slot: (value as a literal, states with it)
        by_value: list[dict[object, int]] = [{} for _ in slots]
        for k, state in enumerate(states):
            bit = 1 << k
            for j, v in enumerate(state):
                if v is None:
                    self.unused[j] |= bit
                else:
                    by_value[j][v] = by_value[j].get(v, 0) | bit
        literal = sy.u.rel.pre.value
        for j, seen in enumerate(by_value):
            self.having.append([(literal(j, v), bits) for v, bits in sorted(seen.items(), key=lambda vb: repr(vb[0]))])

    def __call__(self, model: z3.ModelRef, s: Frame) -> Candidate | None:
        """A clause s breaks and every sampled state satisfies, or None (s is like a sampled state)."""
        matching = []
        for j, values in enumerate(self.having):
            bits = self.unused[j]
            for lit, having in values:
                if z3.is_true(model.eval(s[j] == lit, model_completion=True)):
                    bits |= having
            matching.append(bits)
        cube: list[int] = []
        left = self.everyone
        while left:   # greedy cover: the slot whose value rules out most of the states still left
            j = min(range(len(matching)), key=lambda j: ((left & matching[j]).bit_count(), j))
            if left & matching[j] == left:
                return None
            cube.append(j)
            left &= matching[j]
        for j in list(cube):   # a value the others rule out without it goes
            rest = [i for i in cube if i != j]
            if not reduce(and_, (matching[i] for i in rest), self.everyone):
                cube = rest
        pairs = [(j, model.eval(s[j], model_completion=True)) for j in sorted(cube)]
        slots = self.sy.system.layout.slots
        text = " and ".join(f"{slots[j].name} == {value_of(v)!r}" for j, v in pairs)
        return Candidate(-1, f"not ({text})", lambda f: z3.Not(z3.And(*[f[j] == v for j, v in pairs])))


def _ms(deadline: float | None) -> int:
    return max(1, int((deadline - time.perf_counter()) * 1000)) if deadline is not None else 0


def _implication(sy: Symbolic, i: int, a: object, then: Candidate) -> Candidate:
    when = sy.u.rel.pre.value(i, a)

    def fact(s: Frame) -> z3.BoolRef:
        return z3.Implies(s[i] == when, then.fact(s))
    return Candidate(then.slot, f"{sy.system.layout.slots[i].name} == {a!r} -> {then.text}", fact)


def _room(sy: Symbolic, j: int) -> int:
    """How many values slot j can hold at most, as far as a candidate needs to know (2 for a Boolean:
    naming both says nothing); a large number otherwise."""
    return 2 if sy.u.rel.pre.sort(j) == z3.BoolSort() else 1 << 30


__all__ = ["MOST_CANDIDATES", "SAMPLE_STATES", "affine_candidates", "affine_relations", "features", "mined_candidates",
           "sample_states", "strengthen"]
