"""Bounded lists in z3 (model/semantics/smtlist.py) against Python's lists: every operation, evaluated by z3 on
concrete lists, gives what the explicit semantics computes; equal lists are equal records whatever built
them; a list read back from a model is the list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import z3
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from netcheck.checker.cli import main
from netcheck.model.lang.types import EnumT, ListT, RefT
from netcheck.model.semantics import smtlist
from netcheck.model.semantics.evaluate import format_value

CAP = 4


def lists(cap: int = CAP):
    """Lists of distinct elements of an entity of `cap` elements (what a list<E> holds)."""
    return st.lists(st.integers(0, cap - 1), unique=True, max_size=cap)


def value(term: z3.ExprRef) -> object:
    out = z3.simplify(term)
    if smtlist.is_list(out):
        return list(smtlist.value(out))
    if z3.is_true(out) or z3.is_false(out):
        return z3.is_true(out)
    return out.as_long()   # type: ignore[attr-defined]


def lit(items: list[int], cap: int = CAP) -> z3.ExprRef:
    return smtlist.literal(items, cap)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(lists(), st.integers(-2, CAP + 1), st.integers(0, CAP - 1))
def test_each_operation_is_the_python_list_operation(items: list[int], i: int, x: int) -> None:
    xs, n = lit(items), len(items)
    assert value(smtlist.length(xs)) == n
    assert value(smtlist.at(xs, z3.IntVal(i))) == (items[i] if 0 <= i < n else -1)
    assert value(smtlist.contains(xs, z3.IntVal(x))) == (x in items)
    assert value(smtlist.index(xs, z3.IntVal(x))) == (items.index(x) if x in items else -1)
    assert value(smtlist.remove_at(xs, z3.IntVal(i))) == (items[:i] + items[i + 1:] if 0 <= i < n else items)
    if x not in items:   # adding an element already on the list is a runtime error before any of these
        assert value(smtlist.append(xs, z3.IntVal(x))) == [*items, x]
        assert value(smtlist.prepend(xs, z3.IntVal(x))) == [x, *items]
        if 0 <= i <= n:
            assert value(smtlist.insert_at(xs, z3.IntVal(i), z3.IntVal(x))) == items[:i] + [x] + items[i:]


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 2 * CAP - 1)), max_size=CAP))
def test_compact_keeps_the_kept_entries_in_order(entries: list[tuple[bool, int]]) -> None:
    sort = smtlist.list_sort(CAP)
    kept = smtlist.compact(sort, [(z3.BoolVal(keep), z3.IntVal(v)) for keep, v in entries])
    assert value(kept) == [v for keep, v in entries if keep]
    assert z3.is_true(z3.simplify(smtlist.well_formed(kept)))


@settings(max_examples=100, deadline=None, derandomize=True)
@given(lists(), st.integers(0, CAP - 1))
def test_equal_lists_are_equal_records_whatever_built_them(items: list[int], x: int) -> None:
    """Unused items are -1 in every list an operation builds, so `==` on records is `==` on lists."""
    xs = lit(items)
    if x not in items:
        grown = smtlist.append(xs, z3.IntVal(x))
        assert z3.is_true(z3.simplify(grown == lit([*items, x])))
        back = smtlist.remove_at(grown, smtlist.index(grown, z3.IntVal(x)))
        assert z3.is_true(z3.simplify(back == xs))
        assert z3.is_true(z3.simplify(smtlist.well_formed(grown)))
    if items:
        assert z3.is_false(z3.simplify(xs == lit(items[:-1])))


def test_an_empty_display_grows_to_the_list_it_meets() -> None:
    empty = smtlist.of([], 0)
    xs = lit([2, 0])
    a, b = smtlist.same(empty, xs)
    assert a.sort() == b.sort() == xs.sort()
    assert z3.is_false(z3.simplify(a == b))
    assert z3.is_true(z3.simplify(smtlist.fit(empty, xs.sort()) == lit([])))


def test_a_longer_literal_than_the_list_holds_is_refused() -> None:
    with pytest.raises(smtlist.ListTooLong):
        smtlist.literal([0, 1, 0], 2)


def test_a_list_reads_back_from_a_model() -> None:
    x = z3.Const("x", smtlist.list_sort(CAP))
    solver = z3.Solver()
    solver.add(smtlist.well_formed(x), smtlist.length(x) == 2, smtlist.contains(x, z3.IntVal(3)),
               smtlist.item(x, 0) == 1)
    assert solver.check() == z3.sat
    assert smtlist.value(solver.model().eval(x, model_completion=True)) == (1, 3)


REPEATS = """
netcheck: 1
entities: {obj: 2}
state:
  l: {type: "list<obj>"}
procedures:
  fill(obj o):
    body:
      - l = [o, o]
      - list_add_tail(l, obj1)
threads:
  t: {for: o in obj, run: fill(o)}
properties:
  short:
    invariant: "len(l) <= 3"
  repeats:
    invariant: "l == [] or l[0] == l[1]"
"""


def test_a_list_display_that_repeats_an_element_fits_in_z3(tmp_path: Path) -> None:
    """A display can repeat an element (list_add cannot), so lists get room past the entity's size: the
    explicit search's z3 checks and bounded model checking both take `[o, o]` plus one more."""
    spec = tmp_path / "repeats.yaml"
    spec.write_text(REPEATS.replace("l[0] == l[1]", "first(l) == next(l, first(l))"), encoding="utf-8")
    explicit = CliRunner().invoke(main, ["verify", str(spec), "--reduce", "none", "--format", "json"])
    bmc = CliRunner().invoke(main, ["verify", str(spec), "--engine", "bmc", "--depth", "6", "--format", "json"])
    ran = {p["name"]: p["status"] for p in json.loads(explicit.output)["properties"]}
    bounded = {p["name"]: p["status"] for p in json.loads(bmc.output)["properties"]}
    assert ran["short"] == ran["repeats"] == "holds", explicit.output
    assert ran["runtime_safety"] == "violated", "adding obj1 twice (o = obj1) is refused"
    assert bounded["short"] == bounded["repeats"] == "bounded"
    assert bounded["runtime_safety"] == "violated"


def test_a_made_up_state_prints_numbers_outside_a_type_instead_of_failing() -> None:
    """A counterexample to induction is a state z3 made up: its lists and references may hold numbers no
    element has (before the well-formedness facts exclude them); they print as #N."""
    names = {"item": ("item0", "item1")}
    assert format_value((0, 25), ListT("item"), names) == "[item0, #25]"
    assert format_value(-3, RefT("item"), names) == "#-3"
    assert format_value(1, RefT("item"), names) == "item1"
    assert format_value(7, EnumT("state", ("idle", "busy")), names) == "#7"
