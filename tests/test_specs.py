"""End to end: every shipped spec verifies with pinned state counts; every bug is caught by the
property its header names; every counterexample replays against the semantics."""

from __future__ import annotations

import pytest
from helpers import SPECS, expected_violations
from netcheck.checker.analyses.trace import replay
from netcheck.checker.engine.explore import explore
from netcheck.checker.engine.limits import Limits
from netcheck.checker.report.build import build_report
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.system import TransitionSystem

# (spec, states, depth): pinned; a change here is a change of semantics and must be explained.
CORRECT = [
    ("net_mutex.yaml", 226_304, 114),
    ("net_sem.yaml", 471_883, 122),
    ("pernet_ops_rwsem.yaml", 496_243, 114),
]
BUGS = sorted(p.name for p in (SPECS / "bugs").glob("*.yaml"))


@pytest.mark.parametrize(("name", "states", "depth"), CORRECT, ids=[c[0] for c in CORRECT])
def test_shipped_spec_verifies(name: str, states: int, depth: int) -> None:
    path = SPECS / name
    exp = explore(TransitionSystem(load_spec(path)))
    report = build_report(str(path), exp)
    assert exp.complete
    answers = {p.name: p.status for p in report.properties if p.kind in ("reachable", "waits_on_slow")}
    assert [p.name for p in report.properties if p.status != "holds" and p.name not in answers] == []
    # the questions: two setup_net() run at once only without net_mutex; a creator can always end up
    # waiting behind cleanup_net()'s synchronize_rcu() (directly, or behind a queued writer)
    assert answers == {"parallel_setup": "reachable" if name == "pernet_ops_rwsem.yaml" else "unreachable",
                       "creator_waits_on_grace_period": "reachable"}
    assert report.exit_code == 0
    assert (exp.state_count, exp.max_depth) == (states, depth)
    assert exp.deadlocks == []
    assert exp.finals, "some run must finish"
    # coverage: every statement runs; with one device module, unregister_pernet_device() always finds
    # its own ops as first_device, so that `if` is never false
    assert report.coverage is not None and report.coverage.complete and not report.coverage.unreached
    assert [(b.text, b.branch) for b in report.coverage.untaken] == [("if (first_device == o)", "else")]


def test_at_least_six_bugs() -> None:
    assert len(BUGS) >= 6


@pytest.mark.parametrize("name", BUGS)
def test_bug_is_caught_and_trace_replays(name: str) -> None:
    path = SPECS / "bugs" / name
    expected = expected_violations(path)
    system = TransitionSystem(load_spec(path))
    # stop once every expected property the search decides is violated: BFS makes each counterexample a
    # shortest one (lock_order is decided on the explored graph afterwards)
    stop_on = frozenset(expected) - {"lock_order"}
    exp = explore(system, Limits(max_states=3_000_000, stop_on=stop_on))
    report = build_report(str(path), exp)
    for prop in expected:
        result = next(p for p in report.properties if p.name == prop)
        assert result.status == "violated" and result.expected, f"{name}: {prop} is {result.status}"
        if prop != "lock_order":
            assert result.trace is not None and result.trace.steps
            assert replay(system, result.trace), f"{name}: the counterexample of {prop} does not replay"
    assert report.exit_code == 0, report.expectation   # as expected, stopped on request


def test_every_violation_of_a_bug_replays() -> None:
    """All properties a full run finds violated come with a trace that replays (one mid-size bug)."""
    path = SPECS / "bugs" / "setup_undo_exits_all.yaml"
    system = TransitionSystem(load_spec(path))
    exp = explore(system)
    report = build_report(str(path), exp)
    violated = [p for p in report.properties if p.status == "violated"]
    assert {p.name for p in violated} >= {"init_exit_pairing", "exits_in_reverse_order"}
    for p in violated:
        assert p.trace is not None and replay(system, p.trace), p.name


def test_bound_scales_the_scenario() -> None:
    small = TransitionSystem(load_spec(SPECS / "net_mutex.yaml", {"net": 1, "subsys": 0}))
    assert [t.name for t in small.threads] == ["creator[net0]", "netns_wq", "device_module[device0]"]
    exp = explore(small)
    assert exp.complete and not (exp.violations | exp.witnesses)
