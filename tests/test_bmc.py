"""Bounded model checking (checker/engine/bmc.py) against the explicit search.

- shipped bug specs: BMC finds each violation it decides at exactly the length of the explicit search's
  shortest counterexample, and the counterexample replays step by step (describe_path);
- correct specs: `bounded` (exit 3), never `holds`;
- deadlocks (engine/deadlocks.py: a global deadlock or a wait cycle) at the explicit search's shortest length
  on the shipped deadlock specs;
- generated specs: within the depth explored, the engines agree on the shortest violation of every property
  BMC decides (explicit: shortest depth d <= K iff BMC finds one at depth d); a deadlock BMC finds is one the
  explicit search finds, as short or shorter (a thread may be stuck before the form shows it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import SLOW_MARKS
from netcheck.checker.analyses.trace import describe_path
from netcheck.checker.cli import main
from netcheck.checker.engine.bmc import BmcError, BmcResult, Unrolling, bmc, covered
from netcheck.checker.engine.deadlocks import explicit_form
from netcheck.checker.engine.explore import explore
from netcheck.checker.engine.limits import Limits
from netcheck.checker.engine.paths import path_to
from netcheck.checker.engine.result import Path as EnginePath
from netcheck.checker.engine.vocabulary import Status
from netcheck.checker.report.build import build_bmc_report
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.system import TransitionSystem
from spec_generator import generated_systems

ROOT = Path(__file__).resolve().parent.parent
BUGS = ROOT / "docs" / "examples" / "bugs"
# bug specs whose violated property BMC decides, with a short shortest counterexample (the others: a
# counterexample too deep or a spec too big for z3 in a test: bench/proofs.py, docs/results.md)
SHIPPED = ["abba", "abba_busy_bystander", "caller_must_hold", "interruptible_wait_leaks_lock", "invariant_next_off_list",
           "invariant_null_index", "irq_self_deadlock", "killable_leaks_lock", "lost_wake_up", "nested_hides_abba",
           "nested_same_subclass", "rcu_free_without_grace_period", "rcu_list_free_without_grace_period",
           "refcount_get_dying_net", "sleep_in_irq", "sleep_under_spinlock", "wait_queue_lost_wake_up"]
DEADLOCK = "deadlock_free"
DEPTH = 7
EXAMPLES = int(os.environ.get("NETCHECK_BMC_EXAMPLES") or 10)
GENERATED_DEPTH = 4


def length(path: EnginePath) -> int:
    """Steps of a counterexample: its labels, and the violating step."""
    return len(path.labels) + (path.last is not None)


def explicit_lengths(system: TransitionSystem, decided: tuple[str, ...], max_states: int | None = None
                     ) -> tuple[dict[str, int], bool]:
    exp = explore(system, Limits(max_states=max_states), measure_memory=False)
    found = {**exp.violations, **exp.witnesses}
    return {name: length(path_to(exp, f)) for name, f in found.items() if name in decided}, exp.complete


def bmc_lengths(result: BmcResult) -> dict[str, int]:
    return {name: length(result.paths[name]) for name in {**result.violations, **result.witnesses}}


def replays(result: BmcResult) -> None:
    """Every counterexample replays with the explicit semantics (describe_path raises otherwise)."""
    for name, finding in {**result.violations, **result.witnesses}.items():
        trace = describe_path(result.system, result.paths[name], finding.message)
        assert len(trace.steps) == length(result.paths[name])


@pytest.mark.parametrize("name", SHIPPED)
def test_bmc_finds_each_shipped_bug_at_the_explicit_shortest_length(name: str) -> None:
    system = TransitionSystem(load_spec(BUGS / f"{name}.yaml"))
    expected, complete = explicit_lengths(system, tuple(n for n, why in covered(system).items() if not why))
    assert complete and expected and max(expected.values()) <= DEPTH
    result = bmc(system, max(expected.values()) + 1)   # and nothing else one step further
    assert bmc_lengths(result) == expected
    replays(result)
    report = build_bmc_report(name, result)
    statuses = {p.name: p.status for p in report.properties}
    assert all(statuses[prop] is Status.VIOLATED for prop in expected)
    assert Status.HOLDS not in statuses.values()
    assert statuses["lock_order"] is Status.UNKNOWN


@pytest.mark.parametrize("name", ["lost_wake_up", "rcu_free_without_grace_period", "refcount_get_dying_net"])
def test_stop_on_looks_only_for_the_named_property(name: str) -> None:
    """With stop_on, each depth asks z3 about those properties only: the bug is found at the explicit
    length when it is named, and not looked for (unknown, never bounded or holds) when another is."""
    system = TransitionSystem(load_spec(BUGS / f"{name}.yaml"))
    decided = tuple(n for n, why in covered(system).items() if not why)
    expected, complete = explicit_lengths(system, decided)
    assert complete and len(expected) == 1
    [(prop, depth)] = expected.items()
    found = bmc(system, depth, stop_on=frozenset({prop}))
    assert bmc_lengths(found) == expected
    replays(found)
    statuses = {p.name: p.status for p in build_bmc_report(name, found).properties}
    assert statuses[prop] is Status.VIOLATED and all(s is Status.UNKNOWN for n, s in statuses.items() if n != prop)
    other = next(n for n in decided if n != prop)   # one that holds
    missed = bmc(system, depth, stop_on=frozenset({other}))
    assert not missed.violations and "not looked for" in missed.unknown[prop]
    statuses = {p.name: p.status for p in build_bmc_report(name, missed).properties}
    assert statuses[other] is Status.BOUNDED and statuses[prop] is Status.UNKNOWN


@pytest.mark.parametrize("spec, prop, depth", [
    pytest.param("setup_undo_exits_all", "init_exit_pairing", 12, marks=SLOW_MARKS),
    pytest.param("setup_undo_exits_all", "exits_in_reverse_order", 14, marks=SLOW_MARKS)])
def test_stop_on_reaches_a_net_namespace_bug_all_properties_together_do_not(spec: str, prop: str, depth: int) -> None:
    """specs/bugs/setup_undo_exits_all.yaml: asked about every property, BMC does not reach these depths in
    60 s (docs/results.md); asked about one property alone, it finds it at the explicit length."""
    system = TransitionSystem(load_spec(ROOT / "specs" / "bugs" / f"{spec}.yaml"))
    expected, complete = explicit_lengths(system, (prop,))
    assert complete and expected == {prop: depth}
    result = bmc(system, depth, stop_on=frozenset({prop}))
    assert bmc_lengths(result) == expected
    replays(result)


def test_correct_spec_is_bounded_never_holds_and_exits_3() -> None:
    spec = str(ROOT / "docs" / "examples" / "producer_consumer.yaml")
    out = CliRunner().invoke(main, ["verify", "--engine", "bmc", "--depth", "4", "--format", "json", "--no-timing",
                                    spec])
    assert out.exit_code == 3, out.output
    report = json.loads(out.output)
    assert report["engine"] == "bmc" and report["depth"] == 4
    statuses = {p["name"]: p["status"] for p in report["properties"]}
    assert statuses["consumed_were_produced"] == "bounded" and "holds" not in statuses.values()
    assert statuses["deadlock_free"] == "bounded"
    text = CliRunner().invoke(main, ["verify", "--engine", "bmc", "--depth", "3", "--no-timing", spec]).output
    assert "BOUNDED     consumed_were_produced" in text and "not a proof" in text


def test_cli_prints_the_counterexample_in_cpu_columns_and_checks_options() -> None:
    spec = str(BUGS / "sleep_under_spinlock.yaml")
    out = CliRunner().invoke(main, ["verify", "--engine", "bmc", "--depth", "3", "--ignore-expect", spec])
    assert out.exit_code == 1 and "CPU0" in out.output and "VIOLATED    lock_discipline" in out.output
    assert CliRunner().invoke(main, ["verify", "--engine", "bmc", spec]).exit_code == 2
    assert CliRunner().invoke(main, ["verify", "--depth", "3", spec]).exit_code == 2
    assert CliRunner().invoke(main, ["verify", "--engine", "bmc", "--depth", "3", "--reduce", "protected",
                                     spec]).exit_code == 2


def test_bmc_agrees_with_the_explicit_search_on_generated_specs() -> None:
    compared: list[int] = []

    @generated_systems(EXAMPLES)
    def check(system: TransitionSystem) -> None:
        try:
            result = bmc(system, GENERATED_DEPTH, timeout=3)
        except BmcError:   # local computation in a loop: not unrollable, said so
            return
        if result.reached < GENERATED_DEPTH or any(why.startswith("z3") for why in result.unknown.values()):
            return
        expected, complete = explicit_lengths(system, result.covered, max_states=20_000)
        if not complete:
            return
        within = {name: n for name, n in expected.items() if n <= GENERATED_DEPTH and name != DEADLOCK}
        found = bmc_lengths(result)
        if DEADLOCK in found:   # the form's states have stuck threads: the explicit search finds them too
            assert expected[DEADLOCK] <= found.pop(DEADLOCK)
        assert found == within
        replays(result)
        compared.append(len(within))

    check()
    assert len(compared) >= EXAMPLES // 3 and sum(compared) > 0


def test_a_deadlock_the_explicit_search_sees_earlier_is_found_when_its_wait_cycle_forms() -> None:
    """rwsem_recursive_read: the explicit search sees the writer stuck after 2 steps (the reader holding the
    lock will queue behind it); the wait cycle (reader behind the queued writer, writer for the reader's hold)
    forms 2 steps later, where BMC finds it, replayed, with the explicit test of the form holding there."""
    system = TransitionSystem(load_spec(BUGS / "rwsem_recursive_read.yaml"))
    expected, complete = explicit_lengths(system, (DEADLOCK,))
    assert complete and expected == {DEADLOCK: 2}
    result = bmc(system, 4, stop_on=frozenset({DEADLOCK}))
    assert bmc_lengths(result) == {DEADLOCK: 4}
    replays(result)
    assert explicit_form(system, result.paths[DEADLOCK].states[-1])
    report = build_bmc_report("rwsem_recursive_read", result)
    found = next(p for p in report.properties if p.name == DEADLOCK)
    assert found.status is Status.VIOLATED and found.explanation is not None and found.explanation.cycle


def z3_successors_match(system: TransitionSystem, samples: int, seed: int = 0) -> int:
    """From `samples` reachable states, z3's macro-step (Unrolling.macro) reaches each explicit successor
    and nothing else (a slot the explicit state leaves unused may hold anything). Returns the states
    checked."""
    import random

    import z3
    u = Unrolling(system)
    pre = u.rel.pre
    exp = explore(system, Limits(max_states=5_000), measure_memory=False)
    ids = random.Random(seed).sample(range(exp.state_count), min(samples, exp.state_count))
    before, after = u._fresh("b"), u._fresh("a")
    _, step = u.macro(before, after, "t")

    def equal(frame: list, state: tuple) -> z3.BoolRef:
        return z3.And(*[frame[i] == pre.value(i, v) for i, v in enumerate(state) if v is not None])

    for sid in ids:
        state = exp.store.states[sid]
        successors = [t for _, _, _, _, t in system.expand(state)[0] if isinstance(t, tuple)]
        solver = z3.Solver()
        solver.add(step, equal(before, state))
        for t in successors:
            assert solver.check(equal(after, t)) == z3.sat
        solver.add(*[z3.Not(equal(after, t)) for t in successors])
        assert solver.check() == z3.unsat
    return len(ids)


@pytest.mark.parametrize("spec", ["specs/net_sem.yaml", "docs/examples/bugs/rwsem_recursive_read.yaml",
                                  "docs/examples/bugs/exclusive_wake_up_one.yaml", "docs/examples/coverage.yaml",
                                  "docs/examples/pernet_callbacks.yaml", "docs/examples/wait_event_handshake.yaml"])
def test_the_z3_step_has_exactly_the_explicit_successors(spec: str) -> None:
    """The large-block step (a visible case, then the ways each moved thread settles) against `expand`,
    from sampled reachable states: every explicit successor is one, and there is no other."""
    assert z3_successors_match(TransitionSystem(load_spec(ROOT / spec)), 40) > 0


def test_the_z3_step_has_exactly_the_explicit_successors_on_generated_specs() -> None:
    checked: list[int] = []

    @generated_systems(EXAMPLES * 3)
    def check(system: TransitionSystem) -> None:
        try:
            checked.append(z3_successors_match(system, 10))
        except BmcError:   # local computation in a loop: not unrollable, said so
            return

    check()
    assert len(checked) >= EXAMPLES and sum(checked) > 0


def states_within(system: TransitionSystem, depth: int) -> list[tuple]:
    """Every state the explicit semantics reaches in at most `depth` steps (breadth first)."""
    seen = dict.fromkeys(system.initial_states)
    layer = list(seen)
    for _ in range(depth):
        layer = [t for s in layer for *_, t in system.expand(s)[0] if isinstance(t, tuple) and t not in seen]
        seen.update(dict.fromkeys(layer))
    return list(seen)


@pytest.mark.parametrize("spec", ["docs/examples/bugs/consumer_peeks_unlocked.yaml",
                                  "docs/examples/bugs/abba_busy_bystander.yaml", "docs/examples/rcu_replace.yaml"])
@pytest.mark.parametrize("finite", [False, True])
def test_the_ordered_unrolling_reaches_every_state_within_its_depth(spec: str, finite: bool) -> None:
    """Keeping one interleaving of commuting steps loses no state: each state the explicit search reaches in
    at most d steps is a model of the ordered unrolling's frame d (a path may stop early), and there are
    commuting cases to order. `finite`: the bit-vector solver's unrolling, whose unused slots are fixed at 0
    (the explicit state holds None there), read with the integer solver."""
    import z3
    system = TransitionSystem(load_spec(ROOT / spec))
    u = Unrolling(system, finite=finite)
    assert any(u.commuting)
    depth = 5
    u.extend(depth)
    if finite:
        assert any(v is not None for v in u.unused)
        u.integers()
    pre, last = u.rel.pre, u.frames[depth]
    states = states_within(system, depth)
    for state in states:
        assert u.solver.check(*[last[i] == pre.value(i, v) for i, v in enumerate(state) if v is not None]) == z3.sat
    assert len(states) > 30


def same_lengths_on_generated_specs(base: dict[str, bool], options: dict[str, bool], timeout: float) -> None:
    """On generated specs, BMC with `base` and with `options` added finds the same properties at the same
    lengths, one step deeper than the comparison with the explicit search."""
    compared: list[int] = []

    @generated_systems(EXAMPLES)
    def check(system: TransitionSystem) -> None:
        try:
            default = bmc(system, GENERATED_DEPTH + 1, timeout=timeout, **base)
            other = bmc(system, GENERATED_DEPTH + 1, timeout=timeout, **{**base, **options})
        except BmcError:
            return
        if min(default.reached, other.reached) < GENERATED_DEPTH + 1 or \
                any(why.startswith("z3") for why in (*default.unknown.values(), *other.unknown.values())):
            return
        assert bmc_lengths(default) == bmc_lengths(other)
        replays(default)
        compared.append(len(bmc_lengths(other)))

    check()
    assert len(compared) >= EXAMPLES // 3 and sum(compared) > 0


def test_ordering_commuting_steps_changes_no_shortest_length_on_generated_specs() -> None:
    same_lengths_on_generated_specs({"finite": False}, {"order": False}, 3)


def test_too_many_ways_to_settle_is_said_not_guessed(monkeypatch) -> None:
    """A spec whose steps have more ways to settle than the encoding takes is refused with a reason
    (BmcError: exit 2 from the CLI), never encoded in part."""
    import netcheck.checker.engine.bmc as bmc_module
    system = TransitionSystem(load_spec(ROOT / "specs" / "net_sem.yaml"))
    monkeypatch.setattr(bmc_module, "MAX_WAYS", 10)
    with pytest.raises(BmcError, match="ways to settle"):
        bmc(system, 1)


def test_bit_vectors_and_integers_agree_on_generated_specs() -> None:
    """The finite-domain unrolling (engine/finite.py, the default) and the integer one agree."""
    same_lengths_on_generated_specs({}, {"finite": False}, 5)


GROWING = """
netcheck: 1
name: growing
state:
  total: "int[0..1000]"
procedures:
  add():
    locals: {i: "int[0..9]"}
    body:
      - i = 0
      - while: "i < 9"
        do:
          - total += 100
          - i = i + 1
threads:
  adder: {run: add(), count: 1}
properties:
  below_eight_hundred: {invariant: "total < 800"}
  triple_below_two_thousand: {invariant: "total + total + total < 2000"}
  triple_not_negative: {invariant: "total + total + total >= 0"}
"""


@pytest.mark.parametrize("grow", [1, 4])
@pytest.mark.parametrize("bounded", [True, False])
def test_values_beyond_the_width_widen_the_bit_vectors_and_are_found(tmp_path: Path, monkeypatch, grow: int,
                                                                     bounded: bool) -> None:
    """`total` reaches 1000 and three times it 3000. With the bit-vectors widened one bit at a time, the
    constants leave 12 bits (2000 fits, 2100 does not): three times 700 wraps around to a negative number, so
    the violation of `triple_below_two_thousand` at 7 steps is found only because the overflow is caught
    (and the solver widened), and `triple_not_negative`, which holds, is never reported from a wrapped value.
    `bounded`: the interval bounds choose the width before each question (engine/intervals.py); without
    them, the overflow conditions are asked."""
    import netcheck.checker.engine.finite as finite
    monkeypatch.setattr(finite, "GROW", grow)
    if not bounded:
        monkeypatch.setattr(Unrolling, "exact_bits", lambda self, depth, goals: None)
    spec = tmp_path / "growing.yaml"
    spec.write_text(GROWING)
    system = TransitionSystem(load_spec(spec))
    expected, complete = explicit_lengths(system, ("below_eight_hundred", "triple_below_two_thousand",
                                                   "triple_not_negative"))
    assert complete and expected == {"below_eight_hundred": 8, "triple_below_two_thousand": 7}
    result = bmc(system, 10)
    assert bmc_lengths(result) == expected and result.reached == 10
    replays(result)
    assert bmc_lengths(bmc(system, 10, finite=False)) == expected


def test_a_term_the_bit_vectors_cannot_hold_falls_back_to_integers(monkeypatch) -> None:
    """A formula the translation does not cover (here: any width beyond 8 bits refused) is not guessed at:
    the run goes on with the integer solver and finds the same violations."""
    import netcheck.checker.engine.finite as finite
    system = TransitionSystem(load_spec(BUGS / "killable_leaks_lock.yaml"))
    expected = bmc_lengths(bmc(system, 5))
    monkeypatch.setattr(finite, "MAX_WIDTH", 4)
    fallen = bmc(system, 5)
    assert bmc_lengths(fallen) == expected and expected
    replays(fallen)


def test_terms_deeper_than_python_recursion_translate() -> None:
    """A step's if-then-else chains nest hundreds deep (specs/bugs/recursive_read_in_init.yaml's did past
    Python's recursion limit): the bit-vector translation walks them with a stack of its own, and the
    finite-domain solver answers as the integer one does."""
    import z3
    from netcheck.checker.engine.finite import FiniteSolver
    x, y = z3.Int("x"), z3.Int("y")
    term: z3.ArithRef = y
    for i in range(5_000):
        term = z3.If(x == i, z3.IntVal(i % 50), term)
    for goal, expected in [(z3.And(x == 4_321, term == 21), z3.sat), (z3.And(x == 4_321, term == 22), z3.unsat)]:
        finite, integers = FiniteSolver(), z3.Solver()
        for solver in (finite, integers):
            solver.add(y == 7)
            solver.push()
            solver.add(goal)
        assert finite.check() == integers.check() == expected
