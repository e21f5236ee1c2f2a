"""The symbolic breadth-first search over BDDs (checker/engine/bdd.py, checker/engine/bitblast.py) against the
explicit search.

- shipped bug specs: at the fixpoint the BDDs hold exactly as many states as the explicit search stores, each
  property it decides is violated at exactly the explicit search's shortest length, and every counterexample
  replays step by step;
- stuck threads (engine/bddstuck.py): at the fixpoint, exactly as many states with a stuck thread as the explicit
  search finds, and deadlock_free violated at its length, on deadlock, lost-wake-up and livelock specs alike
  (where the state-local form of the other symbolic engines sees none or a later one); without a fixpoint,
  deadlock_free is unknown;
- a counter that outgrows the interval bounds of the first steps: the search widens its bits and starts again,
  still exact;
- a depth bound: a violation beyond it is not reported, and no fixpoint is claimed;
- generated specs: the same state counts and the same shortest lengths as the explicit search;
- the bit-blaster's arithmetic against z3 on every pair of small bit-vectors.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import z3
from netcheck.checker.engine.bmc import BmcError
from netcheck.checker.engine.explore import explore
from netcheck.checker.engine.limits import Limits
from netcheck.checker.engine.stuck import stuck_from
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.system import TransitionSystem
from spec_generator import generated_systems
from test_bmc import DEADLOCK, explicit_lengths, length, replays

pytest.importorskip("dd.cudd", reason="the BDD engine needs dd with CUDD (pip install 'netcheck[bdd]')")
from netcheck.checker.engine.bdd import BddResult, bdd_search  # noqa: E402
from netcheck.checker.engine.bitblast import Blaster  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BUGS = ROOT / "docs" / "examples" / "bugs"
SHIPPED = ["abba", "caller_must_hold", "completion_complete_one", "consumer_peeks_unlocked", "exclusive_wake_up_one",
           "exit_batch_rtnl_takes_rtnl", "final_never_checked", "interruptible_wait_leaks_lock",
           "invariant_next_off_list", "irq_inversion", "killable_leaks_lock", "lost_wake_up", "nested_hides_abba"]
STUCK = ["abba_busy_bystander", "completion_complete_one", "exclusive_wake_up_one", "exit_batch_rtnl_takes_rtnl",
         "irq_self_deadlock", "rcu_barrier_under_spinlock", "rwsem_recursive_read", "srcu_rtnl_deadlock"]
EXAMPLES = int(os.environ.get("NETCHECK_BDD_EXAMPLES") or 12)

COUNTER = """\
netcheck: 1
name: counter
about: "one thread counts to 30, past the interval bounds of the first steps"
state:
  n: {type: "int[0..40]"}
procedures:
  count():
    - while: n < 30
      do:
        - n += 1
threads:
  counter: {run: count()}
properties:
  small:
    invariant: n < 25
"""


def explicit_states(system: TransitionSystem) -> int:
    exp = explore(system.unreduced(), Limits(), measure_memory=False)
    assert exp.complete
    return len(exp.store)


def bdd_lengths(result: BddResult) -> dict[str, int]:
    return {name: length(result.paths[name]) for name in {**result.violations, **result.witnesses}}


def agrees(system: TransitionSystem, result: BddResult, max_states: int | None = None) -> bool:
    """Same shortest lengths as the explicit search (deadlock_free's, at a fixpoint: without one it is unknown);
    False when the explicit search did not finish."""
    expected, complete = explicit_lengths(system, result.covered, max_states)
    if not complete:
        return False
    if not result.fixpoint and DEADLOCK in result.covered:
        assert DEADLOCK not in result.violations and DEADLOCK in result.unknown
        expected.pop(DEADLOCK, None)
    assert bdd_lengths(result) == expected
    replays(result)
    return True


def explicit_stuck_states(system: TransitionSystem) -> int:
    exp = explore(system.unreduced(), Limits(), measure_memory=False)
    assert exp.complete
    return len(exp.deadlocks)


@pytest.mark.parametrize("name", SHIPPED)
def test_the_fixpoint_holds_the_explicit_states_and_the_shortest_violations(name: str) -> None:
    system = TransitionSystem(load_spec(BUGS / f"{name}.yaml"))
    result = bdd_search(system, timeout=120)
    assert result.fixpoint and result.complete
    assert result.states == explicit_states(system) == sum(result.layers)
    assert agrees(system, result)


@pytest.mark.parametrize("name", STUCK)
def test_stuck_threads_at_the_fixpoint_are_the_explicit_searchs(name: str) -> None:
    system = TransitionSystem(load_spec(BUGS / f"{name}.yaml"))
    result = bdd_search(system, timeout=120)
    assert result.fixpoint and DEADLOCK not in result.unknown
    assert result.stuck_states == explicit_stuck_states(system)
    assert agrees(system, result)
    if DEADLOCK in result.violations:   # the threads reported stuck are blocked in the last state
        with system.uncounted():
            _, blocked = system.expand(result.paths[DEADLOCK].states[-1])
        assert result.stuck_mask and result.stuck_mask & ~blocked == 0


def test_a_thread_at_a_lost_wake_up_is_stuck_where_the_state_local_form_sees_nothing() -> None:
    """exclusive_wake_up_one: a waiter at schedule() that nothing will wake is no wait cycle and no global
    deadlock (the other thread runs on), yet stuck at step 13, as the explicit search says."""
    from netcheck.checker.engine.deadlocks import explicit_form
    system = TransitionSystem(load_spec(BUGS / "exclusive_wake_up_one.yaml"))
    result = bdd_search(system, stop_on=frozenset({DEADLOCK}))
    path = result.paths[DEADLOCK]
    assert length(path) == 13
    assert not explicit_form(system, path.states[-1])
    # the explicit check of the stuck threads, on the states reachable from there: they are; not in the first
    with system.uncounted():
        assert stuck_from(system, path.states[-1], result.stuck_mask) is True
        assert stuck_from(system, path.states[0], result.stuck_mask) is False


def test_without_a_fixpoint_deadlock_freedom_is_unknown() -> None:
    system = TransitionSystem(load_spec(BUGS / "exclusive_wake_up_one.yaml"))
    result = bdd_search(system, depth=20)
    assert not result.fixpoint and DEADLOCK not in result.violations
    assert "before its fixpoint" in result.unknown[DEADLOCK]


def test_cli_says_why_deadlock_freedom_is_undecided_short_of_the_fixpoint() -> None:
    from click.testing import CliRunner
    from netcheck.checker.cli import main
    out = CliRunner().invoke(main, ["verify", "--engine", "bdd", "--depth", "3", "--no-timing", str(BUGS / "abba.yaml")])
    assert out.exit_code == 3
    assert "UNKNOWN     deadlock_free (deadlock)" in out.output
    assert "undecided (a stuck thread is decided on every reachable state: the search stopped after 3 steps, " \
           "before its fixpoint" in out.output
    whole = CliRunner().invoke(main, ["verify", "--engine", "bdd", "--no-timing", str(BUGS / "abba.yaml")])
    # at the fixpoint it is found; lock_order, which expect: lists too, needs the explicit search
    assert "VIOLATED    deadlock_free (deadlock)  (expected)" in whole.output
    assert "1 properties undecided (the lock-order graph is built by the explicit search" in whole.output
    assert whole.exit_code == 3


def test_a_counter_past_the_first_bounds_widens_and_stays_exact(tmp_path: Path) -> None:
    spec = tmp_path / "counter.yaml"
    spec.write_text(COUNTER, encoding="utf-8")
    system = TransitionSystem(load_spec(spec))
    result = bdd_search(system)
    assert result.rebuilds >= 1
    assert "small" in result.violations
    assert agrees(system, result)


def test_a_depth_bound_reports_nothing_beyond_it_and_claims_no_fixpoint(tmp_path: Path) -> None:
    spec = tmp_path / "counter.yaml"
    spec.write_text(COUNTER, encoding="utf-8")
    system = TransitionSystem(load_spec(spec))
    expected, _ = explicit_lengths(system, ("small",))
    result = bdd_search(system, depth=expected["small"] - 1)
    assert not result.violations and not result.fixpoint
    assert result.reached == expected["small"] - 1
    assert bdd_lengths(bdd_search(system, depth=expected["small"])) == expected


def test_the_bdd_search_agrees_with_the_explicit_search_on_generated_specs() -> None:
    compared: list[int] = []

    @generated_systems(EXAMPLES)
    def check(system: TransitionSystem) -> None:
        try:
            result = bdd_search(system, timeout=20)
        except BmcError:   # local computation in a loop: not encoded, said so
            return
        if not result.fixpoint:
            return
        if not agrees(system, result, max_states=50_000):
            return
        assert result.states == explicit_states(system)
        if DEADLOCK in result.covered:
            assert result.stuck_states == explicit_stuck_states(system)
        compared.append(result.states)

    check()
    assert len(compared) >= EXAMPLES // 3


@pytest.mark.parametrize("make", [
    lambda x, y: x + y, lambda x, y: x - y, lambda x, y: x * y, lambda x, y: -x,
    lambda x, y: x / y, lambda x, y: z3.SRem(x, y), lambda x, y: z3.UDiv(x, y), lambda x, y: z3.URem(x, y),
    lambda x, y: x & y, lambda x, y: x | y, lambda x, y: x ^ y, lambda x, y: ~x,
    lambda x, y: z3.Concat(z3.Extract(1, 0, x), z3.Extract(3, 2, y)), lambda x, y: z3.SignExt(2, x),
    lambda x, y: z3.ZeroExt(2, y), lambda x, y: x << 1, lambda x, y: z3.LShR(x, 2), lambda x, y: x >> 1,
])
def test_bit_vector_operations_match_z3_on_every_pair(make) -> None:
    x, y = z3.BitVec("x", 4), z3.BitVec("y", 4)
    term = make(x, y)
    bdd, blaster, points = small_vectors()
    bits = blaster(term)
    for a, b, point in points:
        got = sum(1 << k for k, bit in enumerate(bits) if bdd.let(point, bit) == bdd.true)
        want = z3.simplify(z3.substitute(term, (x, z3.BitVecVal(a, 4)), (y, z3.BitVecVal(b, 4)))).as_long()
        assert got == want, (str(term), a, b)


def small_vectors() -> tuple:
    """A BDD manager with 4-bit vectors x and y, their blaster, and every assignment of them (a, b, bits)."""
    import dd.cudd
    bdd = dd.cudd.BDD()
    names = {"x": [f"x{b}" for b in range(4)], "y": [f"y{b}" for b in range(4)]}
    bdd.declare(*names["x"], *names["y"])
    blaster = Blaster(bdd, lambda name, width: [bdd.var(v) for v in names[name]])
    points = [(a, b, {**{v: bool(a >> k & 1) for k, v in enumerate(names["x"])},
                      **{v: bool(b >> k & 1) for k, v in enumerate(names["y"])}})
              for a in range(16) for b in range(16)]
    return bdd, blaster, points


@pytest.mark.parametrize("make", [
    lambda x, y: z3.ULT(x, y), lambda x, y: z3.ULE(x, y), lambda x, y: z3.UGT(x, y), lambda x, y: z3.UGE(x, y),
    lambda x, y: x < y, lambda x, y: x <= y, lambda x, y: x > y, lambda x, y: x >= y, lambda x, y: x == y,
    lambda x, y: z3.Distinct(x, y),
    lambda x, y: z3.AtMost(z3.Extract(0, 0, x) == 1, z3.Extract(1, 1, x) == 1, z3.Extract(2, 2, y) == 1, 1),
    lambda x, y: z3.PbLe([(z3.Extract(0, 0, x) == 1, 2), (z3.Extract(3, 3, y) == 1, 3)], 4),
])
def test_comparisons_match_z3_on_every_pair(make) -> None:
    x, y = z3.BitVec("x", 4), z3.BitVec("y", 4)
    term = make(x, y)
    bdd, blaster, points = small_vectors()
    node = blaster.formula(term)
    for a, b, point in points:
        want = z3.is_true(z3.simplify(z3.substitute(term, (x, z3.BitVecVal(a, 4)), (y, z3.BitVecVal(b, 4)))))
        assert (bdd.let(point, node) == bdd.true) == want, (str(term), a, b)


def test_cli_reports_holds_at_the_fixpoint_with_the_state_count_in_text_and_json() -> None:
    from click.testing import CliRunner
    from netcheck.checker.cli import main
    spec = str(ROOT / "docs" / "examples" / "producer_consumer.yaml")
    text = CliRunner().invoke(main, ["verify", "--engine", "bdd", "--no-timing", spec])
    assert "BDD layers (CUDD): 72 states in 22 layers, a fixpoint: every reachable state" in text.output
    assert "holds       consumed_were_produced (invariant)" in text.output
    # a daemon runs forever, yet deadlock freedom is decided (on every reachable state); lock_order needs the graph
    assert "holds       deadlock_free (deadlock)" in text.output
    assert "UNKNOWN     lock_order" in text.output and text.exit_code == 3
    out = CliRunner().invoke(main, ["verify", "--engine", "bdd", "--format", "json", spec])
    data = json.loads(out.output)
    report = data["specs"][0] if "specs" in data else data
    assert report["engine"] == "bdd" and report["depth"] is None
    statuses = {p["name"]: p["status"] for p in report["properties"]}
    assert statuses["everything_consumed"] == "holds" and statuses["lock_order"] == "unknown"


def test_cli_finds_a_violation_beyond_bmc_reach_at_the_explicit_length() -> None:
    """double_call_rcu's callbacks_done: 36 steps (BMC reaches depth 25 in 500 s; docs/results.md)."""
    from click.testing import CliRunner
    from netcheck.checker.cli import main
    spec = str(BUGS / "double_call_rcu.yaml")
    out = CliRunner().invoke(main, ["verify", "--engine", "bdd", "--stop-on", "callbacks_done", "--no-timing", spec])
    assert "VIOLATED    callbacks_done (assert)" in out.output
    assert "Shortest counterexample: 36 steps" in out.output


def test_cli_depth_short_of_the_violation_is_bounded_and_exits_3(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from netcheck.checker.cli import main
    spec = tmp_path / "counter.yaml"
    spec.write_text(COUNTER, encoding="utf-8")
    out = CliRunner().invoke(main, ["verify", "--engine", "bdd", "--depth", "3", "--no-timing", str(spec)])
    assert "BOUNDED     small (invariant)" in out.output, out.output
    assert "no fixpoint within 3 steps" in out.output and out.exit_code == 3
    out = CliRunner().invoke(main, ["verify", "--engine", "bdd", "--no-timing", str(spec)])
    assert "VIOLATED    small (invariant)" in out.output and out.exit_code == 1


def test_a_timeout_while_building_leaves_every_property_unknown_never_holds() -> None:
    system = TransitionSystem(load_spec(BUGS / "exit_batch_rtnl_takes_rtnl.yaml"))
    result = bdd_search(system, timeout=0.001)
    assert not result.complete and not result.fixpoint and not result.violations
    assert set(result.covered) <= set(result.unknown)
    assert "timeout" in result.stop_reason


def test_a_timeout_inside_a_layer_keeps_the_complete_layers_and_what_they_found(monkeypatch: pytest.MonkeyPatch
                                                                                 ) -> None:
    """The deadline is kept between the cases of one image (a layer of a large spec takes long): the search
    ends at the last complete layer, incomplete, with the violations found by then and nothing said to hold."""
    system = TransitionSystem(load_spec(BUGS / "double_call_rcu.yaml"))
    full = bdd_search(system)
    assert full.fixpoint and full.violations
    shallow = {name for name in full.violations if length(full.paths[name]) <= 9}
    assert shallow and shallow != set(full.violations), "a violation within the first layers and one after them"
    from netcheck.checker.engine.bddencoding import Encoding
    original, images = Encoding.image, []

    def image(self: Encoding, states: object) -> object:
        images.append(states)
        if len(images) == 10:   # the image of layer 9: its deadline has passed when its first case starts
            self.deadline = 0.0
        return original(self, states)
    monkeypatch.setattr(Encoding, "image", image)
    cut = bdd_search(system, timeout=600)
    assert not cut.complete and not cut.fixpoint and cut.stop_reason == "timeout after 600 s"
    assert cut.layers == full.layers[:10] and cut.reached == 9
    assert set(cut.violations) == shallow
    assert all(length(cut.paths[name]) == length(full.paths[name]) for name in shallow)
    from netcheck.checker.engine.vocabulary import Status
    from netcheck.checker.report.build import build_bdd_report
    statuses = {p.name: p.status for p in build_bdd_report("double_call_rcu", cut).properties}
    assert Status.HOLDS not in statuses.values() and statuses["callbacks_done"] is not Status.VIOLATED


def test_fail_fast_leaves_the_rest_unknown_not_bounded() -> None:
    system = TransitionSystem(load_spec(BUGS / "caller_must_hold.yaml"))
    result = bdd_search(system, fail_fast=True)
    assert result.violations and not result.complete and result.stop_reason == "stopped at the first violation"
    from netcheck.checker.engine.vocabulary import Status
    from netcheck.checker.report.build import build_bdd_report
    statuses = {p.name: p.status for p in build_bdd_report("caller_must_hold", result).properties}
    assert Status.BOUNDED not in statuses.values() and Status.HOLDS not in statuses.values()
    assert statuses["runtime_safety"] is Status.UNKNOWN
