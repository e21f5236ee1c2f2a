"""`netcheck hunt`: the randomised depth-first search on its own (no Ray), the swarm on one local Ray cluster
of 2 CPUs started once for this file, the traces (real runs of the semantics, ending in the violation, no
shorter than the breadth-first search's), every shipped bug found with the properties its expect: names,
every correct spec giving exit 3 and never "holds", the JSON shape, the exit codes."""

from __future__ import annotations

import json
import os
import signal
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import ABBA, SLOW_MARKS, SPECS, expected_violations
from netcheck.checker.analyses.shorten import BreadthFirst, replay, shorten_all
from netcheck.checker.analyses.trace import replay as replay_trace
from netcheck.checker.cli import main
from netcheck.checker.cli.hunt import HELP_DEPTH_LIMIT
from netcheck.checker.engine.bfs import DEADLOCK
from netcheck.checker.engine.cluster import ClusterError
from netcheck.checker.engine.explore import explore
from netcheck.checker.engine.hunt import DEPTH_LIMIT, BitTable, Goal, HuntConfig, Hunter, hunt, luby
from netcheck.checker.engine.judge import Judge, judged
from netcheck.checker.engine.limits import Limits
from netcheck.checker.engine.swarm import hunt_here, member_configs, member_seed
from netcheck.checker.engine.verdicts import InternalError
from netcheck.checker.report.hunt import HuntSettings, build_hunt_report
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.discipline import Reduction
from netcheck.model.semantics.runtime import Violation
from netcheck.model.semantics.system import TransitionSystem
from spec_generator import generated_systems

BUGS = sorted((SPECS / "bugs").glob("*.yaml"))
CORRECT = [SPECS / "net_mutex.yaml", SPECS / "net_sem.yaml", SPECS / "pernet_ops_rwsem.yaml",
           *sorted((SPECS / "looping").glob("*.yaml"))]
# the bugs a 2-worker swarm finds in a test of its own (the others: in the slow tier)
SWARM_BUGS = ("register_takes_read.yaml", "rtnl_before_net_sem.yaml")
GENERATED = 60


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def system_of(path: Path, reduction: str = "none", symmetric: bool = False) -> TransitionSystem:
    return TransitionSystem(load_spec(path), Reduction(reduction), symmetric)


def looked_for_expected(system: TransitionSystem) -> frozenset[str]:
    """What the spec's expect: lists that hunt looks for (lock_order is decided by verify only)."""
    assert system.spec.expect is not None
    return frozenset(system.spec.expect.violated) & frozenset(judged(system))


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray cluster of 2 CPUs for the file: `cluster()` joins it instead of starting its own."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


# ---------------------------------------------------------------- the pieces


def test_the_bit_table_remembers_keys_and_its_key_changes_the_bits() -> None:
    table = BitTable(12, 7)
    assert table.add(b"state a") and not table.add(b"state a") and table.add(b"state b")
    one, other = BitTable(12, 7), BitTable(12, 8)
    one.add(b"state a")
    other.add(b"state a")
    assert one.table != other.table and sum(bin(byte).count("1") for byte in other.table) in (1, 2)


def test_luby_and_the_member_seeds() -> None:
    assert [luby(i) for i in range(15)] == [1, 1, 2, 1, 1, 2, 4, 1, 1, 2, 1, 1, 2, 4, 8]
    assert member_seed(0, 0) == member_seed(0, 0) != member_seed(0, 1) != member_seed(1, 1)
    one, four = member_configs(5, 1, 100), member_configs(5, 4, 100)
    assert one[0] == four[0], "a single worker is member 0 of every swarm with its seed"
    assert len({(c.restart_states, c.first_depth) for c in four}) >= 3, "the members vary, as SPIN's swarm"


def test_goals() -> None:
    assert not Goal().met({"a"}) and Goal(first=True).met({"a"}) and not Goal(first=True).met(set())
    assert Goal(props=frozenset({"a", "b"})).met({"a", "b", "c"}) and not Goal(props=frozenset({"a", "b"})).met({"a"})


def test_the_help_names_the_engines_depth_limit() -> None:
    assert HELP_DEPTH_LIMIT == DEPTH_LIMIT


# ---------------------------------------------------------------- one search, without Ray


def test_a_search_finds_the_abba_deadlock_with_a_replayable_path(write_spec) -> None:
    system = TransitionSystem(load_spec(write_spec(ABBA)))
    result = hunt(system, HuntConfig(seed=1), seconds=10, goal=Goal(first=True))
    (finding,) = result.findings
    assert finding.prop == DEADLOCK and finding.last is None
    judge = Judge(system)
    path = replay(system, judge, finding)
    assert any(f.prop == DEADLOCK for f in judge.expanded(path.states[-1], *system.expand(path.states[-1])))


def test_a_path_that_does_not_replay_is_an_internal_error(write_spec) -> None:
    system = TransitionSystem(load_spec(write_spec(ABBA)))
    (finding,) = hunt(system, HuntConfig(seed=1), seconds=10, goal=Goal(first=True)).findings
    wrong = replace(finding, labels=(*finding.labels[:-1], finding.labels[-1]._replace(choice=7)))
    with pytest.raises(InternalError, match="does not replay"):
        replay(system, Judge(system), wrong)
    with pytest.raises(InternalError, match="does not end in a violation"):
        replay(system, Judge(system), replace(finding, labels=finding.labels[:-1]))


def test_the_same_seed_gives_the_same_search() -> None:
    system = system_of(SPECS / "bugs" / "register_takes_read.yaml")
    config = HuntConfig(seed=2, max_states=5000)
    first, again = hunt(system, config), hunt(system, config)
    assert first.findings and [(f.prop, f.labels, f.last) for f in first.findings] == \
        [(f.prop, f.labels, f.last) for f in again.findings]
    assert first.coverage.states == again.coverage.states == 5000 and first.coverage.transitions == \
        again.coverage.transitions
    other = hunt(system, HuntConfig(seed=7, max_states=5000))
    assert [f.labels for f in other.findings] != [f.labels for f in first.findings]


def test_a_search_resumes_where_it_stopped() -> None:
    system = system_of(SPECS / "net_mutex.yaml")
    hunter = Hunter(system, HuntConfig(seed=3, max_states=3000, restart_states=None))
    pieces = [hunter.run(None, cancelled=lambda: True) for _ in range(3)]
    assert [p.coverage.states for p in pieces] == sorted({p.coverage.states for p in pieces})
    whole = hunt(system, HuntConfig(seed=3, max_states=3000, restart_states=None))
    rest = hunter.run(None)
    assert rest.done and rest.coverage.states == whole.coverage.states == 3000
    assert rest.coverage.transitions == whole.coverage.transitions


def test_a_small_space_is_searched_to_its_end(write_spec) -> None:
    """With no state cut off, a run stores every state it reaches: the search ends, exhausted, with the
    explorer's state count when its table is large enough for no two states to share their bits."""
    system = TransitionSystem(load_spec(write_spec(ABBA)))
    result = hunt(system, HuntConfig(seed=2))
    assert result.done and result.coverage.exhausted and result.coverage.states == explore(system).state_count


def test_the_depth_limit_cuts_off_and_deepens() -> None:
    system = system_of(SPECS / "bugs" / "setup_undo_exits_all.yaml")
    result = hunt(system, HuntConfig(seed=4, depth_limit=40, first_depth=5, restart_states=None), seconds=20)
    cov = result.coverage
    assert cov.truncated > 0 and cov.max_depth <= 40 and cov.runs >= 4 and cov.depth_limit == 40


@pytest.mark.parametrize("path", BUGS, ids=[p.name for p in BUGS])
def test_one_worker_finds_every_bug_with_the_properties_its_expect_names(path: Path) -> None:
    system = system_of(path)
    wanted = looked_for_expected(system)
    assert expected_violations(path)[0] in wanted   # the property that catches it, named first
    result = hunt_here(system, member_configs(0, 1, DEPTH_LIMIT)[0], 60, Goal(props=wanted))
    assert result.stop_reason == "goal"
    assert set(result.first()) <= set(expected_violations(path)), "nothing expect: does not list"


@pytest.mark.parametrize("path,reduction,symmetric", [
    (SPECS / "bugs" / "rtnl_before_net_sem.yaml", "protected", False),
    (SPECS / "bugs" / "register_takes_read.yaml", "none", True),
    (SPECS / "bugs" / "cleanup_unlocks_early.yaml", "protected", True)], ids=["reduced", "symmetric", "both"])
def test_reduced_and_symmetric_hunts_give_real_traces(path: Path, reduction: str, symmetric: bool) -> None:
    system = system_of(path, reduction, symmetric)
    wanted = looked_for_expected(system)
    swarm = hunt_here(system, member_configs(1, 1, DEPTH_LIMIT)[0], 60, Goal(props=wanted))
    assert wanted <= set(swarm.first())
    report = build_hunt_report(str(path), system, swarm, HuntSettings(1, 1, 60, DEPTH_LIMIT, "expected"))
    full = system.unreduced()
    for v in report.violations:
        assert v.result.trace is not None and replay_trace(full, v.result.trace)
        _ends_in_the_violation(full, v.result.name, v.result.trace)


def test_ctrl_c_ends_the_hunt_with_what_was_found() -> None:
    system = system_of(SPECS / "net_sem.yaml")
    timer = threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        result = hunt_here(system, member_configs(0, 1, DEPTH_LIMIT)[0], 60, Goal())
    finally:
        timer.cancel()
    assert result.stop_reason == "interrupted" and result.seconds < 10 and result.coverage[0].states > 0


# ---------------------------------------------------------------- traces


def _ends_in_the_violation(system: TransitionSystem, prop: str, trace) -> None:
    """The trace's last step breaks `prop`, or its last state shows it (judged afresh)."""
    if trace.violating:
        last = trace.steps[-1]
        outcome = system.fire(trace.states[-1], last.action)[last.choice]
        assert isinstance(outcome, Violation) and outcome.prop == prop
        return
    final = tuple(trace.states[-1])
    judge = Judge(system)
    shown = [name for name, _ in judge.state(final)] + [f.prop for f in judge.expanded(final, *system.expand(final))]
    assert prop in shown


@pytest.mark.parametrize("name", ["cleanup_unlocks_early.yaml", "link_unregister_unlocked.yaml",
                                  "first_device_not_advanced.yaml"])
def test_traces_replay_end_in_the_violation_and_are_no_shorter_than_the_shortest(name: str) -> None:
    """Shortening without the breadth-first search (max_states 1: only the path's own steps) still gives a
    real path to the violation, at least as long as the explorer's shortest and no longer than the search's."""
    path = SPECS / "bugs" / name
    system = system_of(path)
    swarm = hunt_here(system, member_configs(2, 1, DEPTH_LIMIT)[0], 60, Goal(props=looked_for_expected(system)))
    shortest = explore(system, Limits(stop_on=frozenset(swarm.first())))
    findings = {prop: finding for prop, (_, finding) in swarm.first().items()}
    for budget in (1, 20_000):
        short = shorten_all(system, Judge(system), findings, budget)
        report = build_hunt_report(str(path), system, swarm, HuntSettings(1, 2, 60, DEPTH_LIMIT, "expected"), budget)
        assert {v.result.name for v in report.violations} == set(findings)
        for v in report.violations:
            prop, trace, finding = v.result.name, v.result.trace, findings[v.result.name]
            steps = len(short[prop].path.labels) + (short[prop].path.last is not None)
            assert _shortest(shortest, prop) <= steps <= len(finding.labels) + (finding.last is not None)
            assert trace is not None and len(trace.steps) == steps and replay_trace(system, trace)
            _ends_in_the_violation(system, prop, trace)


def _shortest(result, prop: str) -> int:
    """The steps of the explorer's shortest counterexample to `prop`."""
    found = result.violations[prop]
    return 0 if found.state < 0 else result.store.depth[found.state] + (found.action >= 0)


def test_the_breadth_first_search_gives_shortest_paths() -> None:
    system = system_of(SPECS / "bugs" / "rtnl_before_net_sem.yaml")
    bfs = BreadthFirst(system, Judge(system), [DEADLOCK], 100_000)
    sid, _ = bfs.found[DEADLOCK]
    explored = explore(system, Limits(stop_on=frozenset([DEADLOCK])))
    assert len(bfs.path_to(sid).labels) == _shortest(explored, DEADLOCK)


def test_on_generated_specs_what_hunt_finds_the_explorer_finds_no_shorter() -> None:
    found: list[int] = []

    @generated_systems(GENERATED)
    def check(system: TransitionSystem) -> None:
        result = hunt(system, HuntConfig(seed=5, max_states=3000))
        if not result.findings:
            return
        explored = explore(system, Limits(max_states=200_000))
        if not explored.complete:
            return
        short = shorten_all(system, Judge(system), {f.prop: f for f in result.findings})
        for finding in result.findings:
            assert finding.prop in explored.violations, f"hunt found {finding.prop}, the explorer did not"
            path = short[finding.prop].path
            assert len(path.labels) + (path.last is not None) >= _shortest(explored, finding.prop)
        found.append(len(result.findings))

    check()
    assert len(found) >= 5, "generated specs with violations for hunt to find"


# ---------------------------------------------------------------- the command


def test_the_command_reports_a_bug_with_its_trace_and_coverage() -> None:
    result = invoke("hunt", str(SPECS / "bugs" / "rtnl_before_net_sem.yaml"), "--time", "30", "--no-timing")
    assert result.exit_code == 1, result.output
    out = result.output
    assert "FOUND       deadlock_free (deadlock)  (expected)  by worker 0 (seed " in out
    assert "CPU0 " in out and "CPU1 " in out and "not necessarily the shortest" in out
    assert "Coverage (per worker" in out
    assert any(line.startswith("  not looked for (netcheck verify decides them): ") and line.endswith("lock_order")
               for line in out.splitlines())
    assert "holds" not in out and "after " not in out and out.rstrip().endswith("(exit 1)")


@pytest.mark.parametrize("path", CORRECT, ids=[p.name for p in CORRECT])
def test_a_correct_spec_gives_exit_3_and_never_holds(path: Path) -> None:
    result = invoke("hunt", str(path), "--time", "30", "--max-states", "2000", "--no-timing")
    assert result.exit_code == 3, result.output
    assert "holds" not in result.output and "\n  FOUND " not in result.output
    assert "NOTHING FOUND by 1 worker (2,000 states" in result.output and "not a proof (exit 3)" in result.output


def test_the_same_seed_prints_the_same_hunt() -> None:
    args = ("hunt", str(SPECS / "bugs" / "register_takes_read.yaml"), "--seed", "9", "--max-states", "3000",
            "--until", "time", "--no-timing", "--format", "json")
    first, again = invoke(*args), invoke(*args)
    assert first.exit_code == again.exit_code == 1 and first.output == again.output


HUNT_SCHEMA = {
    "type": "object",
    "required": ["netcheck", "command", "spec", "name", "files", "bounds", "reduction", "symmetry", "swarm",
                 "stop_reason", "exit_code", "looked_for", "not_looked_for", "violations", "coverage"],
    "properties": {
        "command": {"const": "hunt"},
        "exit_code": {"enum": [1, 3]},
        "stop_reason": {"enum": ["time", "goal", "ended", "exhausted", "interrupted"]},
        "swarm": {"type": "object", "required": ["workers", "seed", "seconds", "depth_limit", "until", "max_states"]},
        "violations": {"type": "array", "items": {
            "type": "object",
            "required": ["worker", "seed", "search_steps", "shortest", "name", "kind", "status", "trace",
                         "trace_summary", "final_state"],
            "properties": {"status": {"const": "violated"}, "trace": {"type": "array", "minItems": 1}}}},
        "coverage": {"type": "object", "required": ["workers", "total"], "properties": {
            "workers": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["worker", "seed", "states", "transitions", "max_depth", "runs",
                                               "cut_off", "ended", "exhausted", "table_bits"]}}}},
        "expect": {"type": "object", "required": ["violated", "found", "missing", "not_looked_for", "unexpected",
                                                  "met"]},
    },
}


def test_json_output_follows_its_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    result = invoke("hunt", str(SPECS / "bugs" / "setup_undo_exits_all.yaml"), "--time", "30", "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    jsonschema.validate(data, HUNT_SCHEMA)
    assert data["expect"]["met"] and sorted(data["expect"]["found"]) == sorted(
        expected_violations(SPECS / "bugs" / "setup_undo_exits_all.yaml"))
    assert {v["name"] for v in data["violations"]} == set(data["expect"]["found"]) and "seconds" in data
    nothing = json.loads(invoke("hunt", str(SPECS / "net_mutex.yaml"), "--max-states", "500", "--no-timing",
                                "--format", "json").output)
    jsonschema.validate(nothing, HUNT_SCHEMA)
    assert nothing["exit_code"] == 3 and nothing["violations"] == [] and "seconds" not in nothing


def test_bad_input_exits_2(write_spec, monkeypatch) -> None:
    broken = invoke("hunt", str(write_spec("netcheck: 1\nname: broken\nthreads: {t: nosuch()}\n")))
    assert broken.exit_code == 2 and "t.yaml:3:" in broken.output and "nosuch" in broken.output
    assert invoke("hunt", str(write_spec(ABBA)), "--time", "0").exit_code == 2

    def no_ray():
        raise ClusterError("the parallel search runs on Ray, which is not installed (pip install 'netcheck[ray]')")
    monkeypatch.setattr("netcheck.checker.engine.cluster.import_ray", no_ray)
    missing = invoke("hunt", str(write_spec(ABBA)), "--workers", "2")
    assert missing.exit_code == 2 and "netcheck: the parallel search runs on Ray" in missing.output


def test_an_internal_error_exits_4(write_spec, monkeypatch) -> None:
    monkeypatch.delenv("NETCHECK_DEBUG", raising=False)

    def boom(*args: object, **kwargs: object):
        raise RuntimeError("injected")
    monkeypatch.setattr("netcheck.checker.engine.swarm.hunt_here", boom)
    result = invoke("hunt", str(write_spec(ABBA)))
    assert result.exit_code == 4 and "internal error: RuntimeError: injected" in result.output


# ---------------------------------------------------------------- the swarm on Ray


@pytest.mark.parametrize("name", [pytest.param(p.name, marks=() if p.name in SWARM_BUGS else SLOW_MARKS)
                                  for p in BUGS])
def test_two_workers_find_every_bug(ray_cluster, name: str) -> None:
    path = SPECS / "bugs" / name
    result = invoke("hunt", str(path), "--workers", "2", "--time", "60", "--format", "json")
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    assert data["swarm"]["workers"] == 2 and len(data["coverage"]["workers"]) == 2
    assert data["expect"]["met"] and data["expect"]["found"]
    assert expected_violations(path)[0] in data["expect"]["found"]


def test_a_swarm_on_a_correct_spec_reports_every_worker_and_no_verdict(ray_cluster) -> None:
    result = invoke("hunt", str(SPECS / "net_sem.yaml"), "--workers", "2", "--time", "2")
    assert result.exit_code == 3, result.output
    assert "NOTHING FOUND in " in result.output and "by 2 workers" in result.output and "holds" not in result.output
    assert "  total " in result.output and "stopped: the time is up" in result.output


def test_expect_is_reported_but_is_no_proof(write_spec) -> None:
    """A violation expect: does not list is reported as such; one hunt cannot look for is said to be
    verify's; the exit code says what was found, whatever expect: says."""
    text = ABBA.replace("expect: {violated: [deadlock_free, lock_order]}", "expect: {violated: [lock_order]}")
    result = invoke("hunt", str(write_spec(text)), "--time", "30", "--no-timing")
    assert result.exit_code == 1, result.output
    assert "found, but expect: does not list: deadlock_free" in result.output
    assert "not looked for: lock_order (netcheck verify decides them)" in result.output
    assert "swarm: 1 worker from seed 0, 30 s, for the whole time" in result.output
    assert "stopped: a worker's search stored every state it reached" in result.output
