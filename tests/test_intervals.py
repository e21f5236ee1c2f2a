"""Interval bounds (checker/engine/intervals.py) and their use by bounded model checking: the bounds hold
every value a term takes, and each frame's slot bounds hold every state the explicit search reaches within
that many steps, so that the bit-vector translation is exact where bmc.py asks without overflow conditions."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import z3
from netcheck.checker.engine import finite
from netcheck.checker.engine.bmc import Unrolling, bmc
from netcheck.checker.engine.intervals import Bounds
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.system import TransitionSystem

ROOT = Path(__file__).resolve().parent.parent


def bounds_of(term: z3.ExprRef, **env: tuple[int, int]) -> tuple[object, Bounds]:
    b = Bounds({z3.Int(name).get_id(): v for name, v in env.items()})
    return b(term), b


def test_bounds_by_hand() -> None:
    x, y = z3.Int("x"), z3.Int("y")
    env = {"x": (-2, 3), "y": (1, 4)}
    cases = [(x + y, (-1, 7)), (x - y, (-6, 2)), (x * y, (-8, 12)), (-x, (-3, 2)), (z3.If(x > y, x, y), (-2, 4)),
             (x % y, (0, 3)), (x / 2, (-3, 3)), (z3.BV2Int(z3.BitVec("s", 8)), (0, 255)), (x + 7, (5, 10))]
    for term, expected in cases:
        value, b = bounds_of(term, **env)
        assert value == expected, term
        assert b.bounded
    _, b = bounds_of(x * y, **env)
    assert b.peak == 12
    _, b = bounds_of(x % 4, **env)
    assert b.peak == 8      # the translation's remainder plus or minus the divisor


@pytest.mark.parametrize("make", [lambda x, y, z: x / (y - 2), lambda x, y, z: x + z, lambda x, y, z: x % (y - 1)])
def test_an_unbounded_term_is_said(make) -> None:
    """A division by an interval holding 0, or a constant with no interval, bounds nothing."""
    value, b = bounds_of(make(z3.Int("x"), z3.Int("y"), z3.Int("z")), x=(-2, 3), y=(1, 4))
    assert value is None and not b.bounded


def random_term(rng: random.Random, leaves: list[z3.ArithRef], depth: int) -> z3.ArithRef:
    if depth == 0 or rng.random() < 0.2:
        return rng.choice(leaves) if rng.random() < 0.7 else z3.IntVal(rng.randint(-5, 5))
    a, b = random_term(rng, leaves, depth - 1), random_term(rng, leaves, depth - 1)
    op = rng.choice(["+", "-", "*", "neg", "ite", "div", "mod"])
    if op == "ite":
        return z3.If(a < b, a, random_term(rng, leaves, depth - 1))
    if op in ("div", "mod"):
        k = rng.choice([-3, -2, 2, 3, 4])
        return a / k if op == "div" else a % k
    return {"+": a + b, "-": a - b, "*": a * b, "neg": -a}[op]


NAMES = ["a", "b", "c"]
LEAVES = [z3.Int(n) for n in NAMES]


def random_case(rng: random.Random, low: int, span: int) -> tuple[dict[str, tuple[int, int]], z3.ArithRef]:
    """Random intervals of the constants a, b and c (each starting within +-low, at most span wide) and a
    random term over them."""
    env = {}
    for n in NAMES:
        lo = rng.randint(-low, low)
        env[n] = (lo, lo + rng.randint(0, span))
    return env, random_term(rng, LEAVES, 4)


def subterms(term: z3.ExprRef) -> list[z3.ExprRef]:
    out, seen, todo = [], set(), [term]
    while todo:
        e = todo.pop()
        if e.get_id() not in seen:
            seen.add(e.get_id())
            out.append(e)
            todo.extend(e.children())
    return out


def test_bounds_hold_every_value_of_random_terms() -> None:
    """Random terms over three constants with random intervals, evaluated at random points of the intervals:
    every integer subterm's value lies in its bounds, and within `peak`."""
    rng = random.Random(7)
    checked = 0
    for _ in range(150):
        env, term = random_case(rng, 20, 15)
        b = Bounds({z3.Int(n).get_id(): v for n, v in env.items()})
        b(term)
        assert b.bounded
        for _ in range(10):
            point = [(z3.Int(n), z3.IntVal(rng.randint(*env[n]))) for n in NAMES]
            for sub in subterms(term):
                if sub.sort().kind() != z3.Z3_INT_SORT:
                    continue
                value = z3.simplify(z3.substitute(sub, *point))
                assert z3.is_int_value(value)
                lo, hi = b.memo[sub.get_id()]    # type: ignore[misc]
                assert lo <= value.as_long() <= hi and abs(value.as_long()) <= b.peak, sub
                checked += 1
    assert checked > 5_000


def within_each_depth(system: TransitionSystem, depth: int) -> list[list[tuple]]:
    """Per depth d, every state the explicit semantics reaches in at most d steps."""
    seen = dict.fromkeys(system.initial_states)
    out = [list(seen)]
    layer = list(seen)
    for _ in range(depth):
        layer = [t for s in layer for *_, t in system.expand(s)[0] if isinstance(t, tuple) and t not in seen]
        seen.update(dict.fromkeys(layer))
        out.append(list(seen))
    return out


@pytest.mark.parametrize("spec", ["docs/examples/bugs/consumer_peeks_unlocked.yaml", "docs/examples/rwsem_config.yaml",
                                  "docs/examples/bugs/double_call_rcu.yaml", "specs/bugs/register_takes_read.yaml"])
def test_frame_bounds_hold_every_state_within_the_depth(spec: str) -> None:
    """Each integer slot (a list's every field) of each state the explicit search reaches within d steps lies in
    the unrolling's bounds for frame d: lists, rwsem read counts, queues and locals included."""
    system = TransitionSystem(load_spec(ROOT / spec))
    u = Unrolling(system, finite=True)
    depth = 4
    pre = u.rel.pre
    checked = 0
    for d, states in enumerate(within_each_depth(system, depth)):
        ranges = u.ranges(d)
        for state in states:
            for i, v in enumerate(state):
                if v is None or ranges[i] is None and pre.sort(i).kind() not in (z3.Z3_INT_SORT, z3.Z3_DATATYPE_SORT):
                    continue
                value = Bounds({})(pre.value(i, v))
                assert value is not None and ranges[i] is not None, u.base[i]
                pairs = [(value, ranges[i])] if isinstance(value, tuple) else zip(value, ranges[i])  # type: ignore[arg-type]
                for (a, b), (lo, hi) in pairs:
                    assert lo <= a and b <= hi, (u.base[i], d, value, ranges[i])
                    checked += 1
    assert checked > 300


def test_narrow_translation_is_the_integer_value_of_random_terms() -> None:
    """Random terms over constants with random intervals, each subterm at the width of its own interval
    (finite.NarrowTranslator), evaluated at random points of the intervals: the integer value, and each
    comparison's truth."""
    rng = random.Random(11)
    checked = 0
    for _ in range(120):
        env, term = random_case(rng, 40, 30)
        other = random_term(rng, LEAVES, 2)
        narrow = finite.NarrowTranslator({z3.Int(n).get_id(): v for n, v in env.items()})
        for _ in range(8):
            point = {n: rng.randint(*env[n]) for n in NAMES}
            ints = [(z3.Int(n), z3.IntVal(v)) for n, v in point.items()]
            bits = [(narrow(z3.Int(n)), z3.BitVecVal(v, narrow(z3.Int(n)).size())) for n, v in point.items()]
            for sub in subterms(term):
                if sub.sort().kind() != z3.Z3_INT_SORT:
                    continue
                value = z3.simplify(z3.substitute(narrow(sub), *bits))
                assert value.as_signed_long() == z3.simplify(z3.substitute(sub, *ints)).as_long(), sub
                checked += 1
            for cmp in (term < other, term == other, term >= other):
                assert z3.is_true(z3.simplify(z3.substitute(narrow(cmp), *bits))) == \
                    z3.is_true(z3.simplify(z3.substitute(cmp, *ints)))
    assert checked > 3_000


def test_bmc_asks_without_overflow_conditions_where_the_bounds_fit(monkeypatch) -> None:
    """On a bug spec with lists and arithmetic, every question is asked in the bounded way, each term at its
    own width (with the refuted depths as facts, and no one-width translation made), and the violations are
    the ones found at one width and the ones the overflow-watching way finds (neither with the facts), at
    the same lengths."""
    asked: list[int | None] = []
    narrow: list[object] = []
    synced: list[int] = []
    facts: list[int] = []
    exact, check_narrow = finite.FiniteSolver.exact, finite.FiniteSolver._check_narrow
    sync, fact = finite.FiniteSolver._sync, finite.FiniteSolver.fact
    monkeypatch.setattr(finite.FiniteSolver, "exact",
                        lambda self, bits, env=None: (asked.append(bits), exact(self, bits, env))[1])
    monkeypatch.setattr(finite.FiniteSolver, "_check_narrow",
                        lambda self, question: (narrow.append(check_narrow(self, question)), narrow[-1])[1])
    monkeypatch.setattr(finite.FiniteSolver, "_sync", lambda self: (synced.append(1), sync(self))[1])
    monkeypatch.setattr(finite.FiniteSolver, "fact", lambda self, *fs: (facts.append(len(fs)), fact(self, *fs))[1])
    system = TransitionSystem(load_spec(ROOT / "docs/examples/bugs/consumer_peeks_unlocked.yaml"))
    bounded = bmc(system, 14)
    assert asked and all(bits is not None for bits in asked)
    assert narrow and all(answer is not None for answer in narrow)
    assert not synced, "the one-width translation was made though the narrow one answered every question"
    assert len(facts) >= 13, "each depth refuted before the violation at 14 is a fact"
    found = {name: len(p.labels) + (p.last is not None) for name, p in bounded.paths.items()}
    monkeypatch.setattr(finite.FiniteSolver, "exact", lambda self, bits, env=None: exact(self, bits, None))
    one_width = bmc(system, 14)
    monkeypatch.setattr(Unrolling, "exact_bits", lambda self, depth, goals: None)
    watched = bmc(system, 14)
    for other in (one_width, watched):
        assert found == {name: len(p.labels) + (p.last is not None) for name, p in other.paths.items()} and found


def test_a_fact_with_no_bounds_is_left_out_and_the_question_stays_narrow() -> None:
    """Facts only prune: one the narrow translation cannot bound (y has no interval) is dropped, and the
    others still take part (the question x == 2 is refuted by the fact x != 2, which only the narrow
    translation includes), so the question is not pushed to the one-width translation."""
    x, y = z3.Int("x"), z3.Int("y")
    solver = finite.FiniteSolver()
    solver.add(x >= 0, x <= 3)
    solver.fact(y > 5, x != 2)
    solver.exact(3, {x.get_id(): (0, 3)})
    solver.push()
    solver.add(x == 2)
    assert solver.check() == z3.unsat
    solver.pop()
    assert len(solver.facts) == 1 and solver.facts[0].eq(x != 2)
    solver.push()
    solver.add(x == 3)
    assert solver.check() == z3.sat and solver.model().eval(x).as_long() == 3
    solver.pop()
