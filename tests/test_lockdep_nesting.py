"""lockdep nesting and waivers: `_nested` acquires (subclass classes), `classes: per_instance`, gated
cycles ("never reached"), `known_cycles:` waivers and stale ones; each answer worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import EXAMPLES
from netcheck.checker.analyses.lockorder import LockOrder, lock_order
from netcheck.checker.cli import main
from netcheck.checker.engine.explore import explore
from netcheck.checker.engine.limits import Limits
from netcheck.model.lang.errors import SpecError
from netcheck.model.lang.lockapi import LOCK_API, NESTED_API
from netcheck.model.lang.parse import load_spec
from netcheck.model.lang.spec import LockOp
from netcheck.model.semantics.system import TransitionSystem
from test_reference_agreement import assert_agree, production, reference
from test_relation import check_system

# Two per-object mutexes; each thread locks the pair as FIRST then SECOND (placeholders), push with
# (rq0, rq1), pull with (rq1, rq0).
PAIR = """
netcheck: 1
entities: {{rq: 2}}
locks:
  rq_lock: {{kind: mutex, per: [rq]{classes}}}
state:
  rq_order: {{type: list<rq>, init: [rq0, rq1]}}
procedures:
  double_rq_lock(rq a, rq b):
{body}
    - mutex_unlock: rq_lock[a]
    - mutex_unlock: rq_lock[b]
threads:
  push: double_rq_lock(rq0, rq1)
  pull: double_rq_lock(rq1, rq0)
"""
ORDERED = """    - if: index(rq_order, a) < index(rq_order, b)
      then:
        - {first}: rq_lock[a]{sub}
        - {second}: rq_lock[b]{sub2}
      else:
        - {first}: rq_lock[b]{sub}
        - {second}: rq_lock[a]{sub2}"""
CALLER_ORDER = """    - {first}: rq_lock[a]{sub}
    - {second}: rq_lock[b]{sub2}"""


def pair(write_spec, body: str, classes: str = "", first: str = "mutex_lock", second: str = "mutex_lock",
         sub: str = "", sub2: str = "") -> Path:
    text = PAIR.format(classes=classes, body=body.format(first=first, second=second, sub=sub, sub2=sub2))
    return write_spec(text)


def order_of(path: Path, **limits: int) -> LockOrder:
    """The lock order of a spec, explored to the end (or to the limits given)."""
    return lock_order(explore(TransitionSystem(load_spec(path)), Limits(**limits)))


def edges(order: LockOrder) -> set[tuple[str, str]]:
    return {(d.held, d.acquired) for d in order.deps}


def chains(order: LockOrder) -> list[str]:
    return [c.chain for c in order.cycles]


# ---------------------------------------------------------------- the table and the parser


def test_nested_ops_name_a_plain_acquire_of_the_same_kind() -> None:
    for name, info in NESTED_API.items():
        plain = LOCK_API[info.plain]
        assert plain.acquires and not plain.trylock and name.endswith("_nested")
        assert name.removesuffix("_nested") == info.plain


def test_a_nested_acquire_is_its_plain_op_with_a_subclass(write_spec) -> None:
    path = pair(write_spec, ORDERED, second="mutex_lock_nested", sub2=", SINGLE_DEPTH_NESTING")
    spec = load_spec(path)
    body = spec.procedure("double_rq_lock").body
    nested = [s for branch in (body[0].then, body[0].orelse) for s in branch if isinstance(s, LockOp)]
    assert [(s.op, s.subclass) for s in nested] == [("mutex_lock", 0), ("mutex_lock", 1)] * 2
    assert nested[1].text == "mutex_lock_nested(&rq_lock[b], SINGLE_DEPTH_NESTING)"


def test_nested_runs_exactly_as_plain(write_spec) -> None:
    """Same states, same transitions: the subclass only names a lock class."""
    plain = TransitionSystem(load_spec(pair(write_spec, ORDERED)))
    nested = TransitionSystem(load_spec(write_spec(PAIR.format(classes="", body=ORDERED.format(
        first="mutex_lock", second="mutex_lock_nested", sub="", sub2=", 1")), "n.yaml")))
    a, b = explore(plain, Limits()), explore(nested, Limits())
    assert (a.state_count, a.transitions) == (b.state_count, b.transitions)
    assert a.store.states == b.store.states
    agreement = check_system(nested, samples=10**9)   # and z3's relation agrees on every state
    assert agreement.checked >= agreement.sampled > 0


@pytest.mark.parametrize("name", ["double_lock_nested.yaml", "bugs/nested_same_subclass.yaml",
                                  "bugs/nested_hides_abba.yaml"])
def test_the_reference_explorer_agrees_on_the_nested_examples(name: str) -> None:
    spec = load_spec(EXAMPLES / name)
    prod, ref = production(spec), reference(spec)
    assert prod is not None and ref is not None
    assert_agree(spec, prod, ref)


@pytest.mark.parametrize(("value", "col", "message"), [
    ("rq_lock[b]", 26, "takes the lock and a lockdep subclass"),
    ("rq_lock[b], 8", 38, "'8' is not a lockdep subclass"),
    ("rq_lock[b], TWO", 38, "'TWO' is not a lockdep subclass"),
    ("rq_lock[b], -1", 38, "'-1' is not a lockdep subclass"),
])
def test_bad_subclass_is_a_located_error(write_spec, value: str, col: int, message: str) -> None:
    path = pair(write_spec, CALLER_ORDER, second="mutex_lock_nested")
    text = path.read_text().replace("mutex_lock_nested: rq_lock[b]", f"mutex_lock_nested: {value}")
    path.write_text(text)
    with pytest.raises(SpecError) as err:
        load_spec(path)
    (diag,) = err.value.diagnostics
    assert diag.code == "NC213" and message in diag.message, diag
    assert (diag.span.line, diag.span.col) == (10, col), diag


def test_a_killable_nested_acquire_needs_on_fail(write_spec) -> None:
    path = pair(write_spec, CALLER_ORDER, second="mutex_lock_killable_nested", sub2=", 1")
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert [d.code for d in err.value.diagnostics] == ["NC209"]
    assert "mutex_lock_killable_nested can fail" in err.value.diagnostics[0].message


def test_the_printed_form_gets_a_hint(write_spec) -> None:
    path = pair(write_spec, "    - mutex_lock_nested(&rq_lock[a], 1)")
    with pytest.raises(SpecError) as err:
        load_spec(path)
    (diag,) = err.value.diagnostics
    assert diag.code == "NC207" and diag.hint == "write it as '- mutex_lock_nested: rq_lock[a], 1'"


@pytest.mark.parametrize(("extra", "message"), [
    ("known_cycles: {locks: [a]}", "known_cycles: takes a list"),
    ("known_cycles: [{locks: [a, b]}]", "needs its reason"),
    ("known_cycles: [{locks: [a, b], reason: ' '}]", "needs its reason"),
    ("known_cycles: [{reason: r}]", "needs locks:"),
    ("known_cycles: [{locks: [a, c], reason: r}]", "no lock 'c'"),
    ("known_cycles: [{locks: [a, a], reason: r}]", "listed twice"),
    ("known_cycles: [{locks: [a/8, b], reason: r}]", "subclasses 0 to 7"),
    ("known_cycles: [{locks: ['a[x]', b], reason: r}]", "share one lock class"),
    ("known_cycles: [{locks: [a, b], reason: r}, {locks: [b, a], reason: s}]", "already declared"),
    ("known_cycles: [{locks: [a, b], reason: r, why: s}]", "unknown key 'why'"),
])
def test_bad_waivers_are_located_errors(write_spec, extra: str, message: str) -> None:
    path = write_spec((EXAMPLES / "bugs" / "abba.yaml").read_text() + extra + "\n")
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert any(message in d.message for d in err.value.diagnostics), err.value.diagnostics
    assert all(d.span.line >= 25 for d in err.value.diagnostics)


@pytest.mark.parametrize(("classes", "waiver", "message"), [
    (", classes: per_lock", "", "classes: takes shared or per_instance"),
    (", classes: per_instance", "known_cycles: [{locks: [rq_lock], reason: r}]", "name one"),
    (", classes: per_instance", "known_cycles: [{locks: ['rq_lock[rq7]'], reason: r}]", "no instance [rq7]"),
])
def test_bad_lock_classes(write_spec, classes: str, waiver: str, message: str) -> None:
    path = write_spec(PAIR.format(classes=classes, body=CALLER_ORDER.format(
        first="mutex_lock", second="mutex_lock", sub="", sub2="")) + waiver + "\n")
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert [d.code for d in err.value.diagnostics] == ["NC124"] and message in err.value.diagnostics[0].message


def test_per_instance_needs_per(write_spec) -> None:
    path = write_spec((EXAMPLES / "bugs" / "abba.yaml").read_text().replace("a: mutex", "a: {kind: mutex, "
                                                                              "classes: per_instance}"))
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert [d.code for d in err.value.diagnostics] == ["NC124"] and "one instance" in err.value.diagnostics[0].message


# ---------------------------------------------------------------- lock classes in the graph


def test_double_lock_without_nesting_is_recursive_locking(write_spec) -> None:
    order = order_of(pair(write_spec, ORDERED))
    assert edges(order) == {("rq_lock", "rq_lock")} and chains(order) == ["rq_lock --> rq_lock"]
    assert order.cycles[0].gate == ()


def test_double_lock_in_index_order_with_nesting_is_clean(write_spec) -> None:
    order = order_of(pair(write_spec, ORDERED, second="mutex_lock_nested", sub2=", 1"))
    assert edges(order) == {("rq_lock", "rq_lock/1")} and not order.failed and order.status == "holds"
    assert order.classes == ("rq_lock", "rq_lock/1")


def test_same_subclass_both_ways_is_recursive_locking_of_the_subclass(write_spec) -> None:
    order = order_of(pair(write_spec, ORDERED, first="mutex_lock_nested", second="mutex_lock_nested",
                             sub=", 1", sub2=", 1"))
    assert edges(order) == {("rq_lock/1", "rq_lock/1")} and chains(order) == ["rq_lock/1 --> rq_lock/1"]


def test_nesting_can_hide_an_abba_that_exploration_still_finds(write_spec) -> None:
    path = pair(write_spec, CALLER_ORDER, second="mutex_lock_nested", sub2=", 1")
    order = order_of(path)
    assert edges(order) == {("rq_lock", "rq_lock/1")} and not order.cycles
    result = CliRunner().invoke(main, ["verify", "-q", "--explore-all", str(path)])
    assert result.exit_code == 1 and "VIOLATED: 1 of 4 properties fail (deadlock_free)" in result.output


def test_per_instance_classes_in_index_order_are_clean(write_spec) -> None:
    order = order_of(pair(write_spec, ORDERED, classes=", classes: per_instance"))
    assert edges(order) == {("rq_lock[rq0]", "rq_lock[rq1]")} and not order.failed
    assert order.classes == ("rq_lock[rq0]", "rq_lock[rq1]")


def test_per_instance_classes_in_caller_order_are_an_abba(write_spec) -> None:
    order = order_of(pair(write_spec, CALLER_ORDER, classes=", classes: per_instance"))
    assert chains(order) == ["rq_lock[rq0] --> rq_lock[rq1] --> rq_lock[rq0]"]


def test_rwsem_and_spinlock_nesting(write_spec) -> None:
    text = """
    netcheck: 1
    entities: {obj: 2}
    locks:
      sem: {kind: rwsem, per: [obj]}
      spin: {kind: spinlock, per: [obj]}
    procedures:
      both(obj a, obj b):
        - down_write: sem[a]
        - down_read_nested: sem[b], 1
        - spin_lock: spin[a]
        - spin_lock_nested: spin[b], 2
        - spin_unlock: spin[b]
        - spin_unlock: spin[a]
        - up_read: sem[b]
        - up_write: sem[a]
    threads:
      t: both(obj0, obj1)
    """
    order = order_of(write_spec(text))
    assert {(d.held, d.held_mode, d.acquired, d.acquired_mode) for d in order.deps} == {
        ("sem", "write", "sem/1", "read"), ("sem", "write", "spin", "spin"), ("sem", "write", "spin/2", "spin"),
        ("sem/1", "read", "spin", "spin"), ("sem/1", "read", "spin/2", "spin"), ("spin", "spin", "spin/2", "spin")}
    assert not order.failed


# ---------------------------------------------------------------- gates: "never reached"


GATED = (EXAMPLES / "bugs" / "gated_abba.yaml").read_text()


def test_a_gated_abba_names_its_gate(write_spec) -> None:
    order = order_of(write_spec(GATED))
    assert chains(order) == ["a --> b --> a"] and order.cycles[0].gate == ("gate",)
    assert order.failed   # lockdep reports it too: still a violation unless waived


def test_an_abba_without_gate(write_spec) -> None:
    order = order_of(write_spec((EXAMPLES / "bugs" / "abba.yaml").read_text()))
    assert chains(order) == ["a --> b --> a"] and order.cycles[0].gate == ()


def test_a_gate_held_for_read_is_no_gate(write_spec) -> None:
    text = GATED.replace("gate: mutex", "gate: rwsem").replace("mutex_lock: gate", "down_read: gate") \
        .replace("mutex_unlock: gate", "up_read: gate")
    order = order_of(write_spec(text))
    assert chains(order) == ["a --> b --> a"] and order.cycles[0].gate == ()


def test_a_gate_held_on_one_path_only_is_no_gate(write_spec) -> None:
    text = GATED.replace("""  path_ba():
    - mutex_lock: gate""", """  path_ba():
    - pass""").replace("""    - mutex_unlock: b
    - mutex_unlock: gate
""", """    - mutex_unlock: b
""")
    order = order_of(write_spec(text))
    assert order.cycles[0].gate == ()


@pytest.mark.parametrize(("second", "gate"), [("grp0", ("g[grp0]",)), ("grp1", ())])
def test_a_per_entity_gate_must_be_the_same_instance(write_spec, second: str, gate: tuple[str, ...]) -> None:
    text = f"""
    netcheck: 1
    entities: {{grp: 2}}
    locks:
      g: {{kind: mutex, per: [grp]}}
      a: mutex
      b: mutex
    procedures:
      path(grp x, bool ab):
        - mutex_lock: g[x]
        - if: ab
          then: [{{mutex_lock: a}}, {{mutex_lock: b}}, {{mutex_unlock: b}}, {{mutex_unlock: a}}]
          else: [{{mutex_lock: b}}, {{mutex_lock: a}}, {{mutex_unlock: a}}, {{mutex_unlock: b}}]
        - mutex_unlock: g[x]
    threads:
      ab: path(grp0, true)
      ba: path({second}, false)
    """
    order = order_of(write_spec(text))
    assert chains(order) == ["a --> b --> a"] and order.cycles[0].gate == gate


def test_gates_need_a_complete_exploration(write_spec) -> None:
    order = order_of(write_spec(GATED), max_states=18)
    assert not order.complete and order.cycles and order.cycles[0].gate == ()


# ---------------------------------------------------------------- waivers


def test_a_waived_cycle_is_listed_not_failed() -> None:
    order = order_of(EXAMPLES / "gated_abba_known.yaml")
    assert not order.cycles and not order.failed and order.status == "holds"
    (waived,) = order.waived
    assert waived.cycle.chain == "a --> b --> a" and waived.cycle.gate == ("gate",)
    assert waived.known.reason == "a and b are only ever taken together under gate"


def test_a_waiver_with_a_subclass_matches_the_subclass_class(write_spec) -> None:
    path = write_spec(PAIR.format(classes="", body=ORDERED.format(
        first="mutex_lock_nested", second="mutex_lock_nested", sub=", 1", sub2=", 1"))
        + "known_cycles: [{locks: [rq_lock/1], reason: nested twice on purpose}]\n")
    order = order_of(path)
    assert not order.cycles and [w.cycle.chain for w in order.waived] == ["rq_lock/1 --> rq_lock/1"]


def test_a_stale_waiver_fails_lock_order(write_spec) -> None:
    path = write_spec((EXAMPLES / "bugs" / "abba.yaml").read_text().replace(
        "expect: {violated: [deadlock_free, lock_order]}", "") + "known_cycles: [{locks: [a], reason: r}]\n")
    order = order_of(path)
    assert [k.locks for k in order.stale] == [("a",)] and order.failed
    result = CliRunner().invoke(main, ["locks", str(path)])
    assert result.exit_code == 1 and "STALE WAIVER at" in result.output and "t.yaml:25" in result.output


def test_a_waiver_is_not_stale_on_an_incomplete_exploration(write_spec) -> None:
    path = write_spec(GATED + "known_cycles: [{locks: [a, gate], reason: r}]\n")
    assert [k.locks for k in order_of(path).stale] == [("a", "gate")]
    order = order_of(path, max_states=5)
    assert not order.complete and not order.stale


def test_locks_command_text_and_json() -> None:
    gated = str(EXAMPLES / "bugs" / "gated_abba.yaml")
    text = CliRunner().invoke(main, ["locks", gated])
    assert text.exit_code == 1
    assert " never reached: every path to it holds gate" in text.output
    assert "known_cycles: [{locks: [a, b], reason: \"...\"}]" in text.output
    assert "POTENTIAL DEADLOCK: 1 strong cycle(s), 1 never reached (gated) (exit 1)" in text.output
    known = CliRunner().invoke(main, ["locks", "--format", "json", str(EXAMPLES / "gated_abba_known.yaml")])
    assert known.exit_code == 0
    data = json.loads(known.output)
    assert data["status"] == "holds" and data["cycles"] == [] and data["stale_waivers"] == []
    (waived,) = data["known_cycles"]
    assert (waived["chain"], waived["gate"], waived["never_reached"]) == ("a --> b --> a", ["gate"], True)
    assert waived["waiver"]["reason"] == "a and b are only ever taken together under gate"
    assert waived["waiver"]["location"].endswith("gated_abba_known.yaml:10")


def test_verify_reports_the_gate_and_the_waiver() -> None:
    result = CliRunner().invoke(main, ["verify", "--ignore-expect", str(EXAMPLES / "bugs" / "gated_abba.yaml")])
    assert result.exit_code == 1
    assert "circular locking dependency: a --> b --> a (never reached: every path to it holds gate)" in result.output
    known = CliRunner().invoke(main, ["verify", str(EXAMPLES / "gated_abba_known.yaml")])
    assert known.exit_code == 0 and "known cycle (waived at" in known.output
    assert "reason: a and b are only ever taken together under gate" in known.output


def test_every_subclass_a_held_lock_may_have_been_taken_in_counts(write_spec) -> None:
    """Both branches of the `either` reach one state, holding `a` in subclass 0 or 1: the state cannot
    tell which, so both a -> m and a/1 -> m are dependencies, and with m -> a/1 that is a cycle (the
    exploration's deadlock confirms it)."""
    path = write_spec("""
    netcheck: 1
    locks: {a: mutex, m: mutex}
    procedures:
      one():
        body:
          - either:
              plain:
                - mutex_lock: a
              nested:
                - mutex_lock_nested: a, 1
          - mutex_lock: m
          - mutex_unlock: m
          - mutex_unlock: a
      two():
        body:
          - mutex_lock: m
          - mutex_lock_nested: a, 1
          - mutex_unlock: a
          - mutex_unlock: m
    threads:
      one: one()
      two: two()
    """)
    order = order_of(path)
    assert edges(order) == {("a", "m"), ("a/1", "m"), ("m", "a/1")}
    assert chains(order) == ["a/1 --> m --> a/1"]
    result = CliRunner().invoke(main, ["verify", "-q", "--explore-all", str(path)])
    assert result.exit_code == 1 and "deadlock_free" in result.output and "lock_order" in result.output
