"""How many slow steps a thread can wait through (checker/analyses/latency.py, `netcheck slow --during`),
on small specs whose answers are worked out by hand, and on the three versions."""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent

import pytest
from click.testing import CliRunner
from helpers import SPECS
from netcheck.checker.analyses.latency import slow_steps_waited
from netcheck.checker.cli import main
from netcheck.checker.engine.explore import explore
from netcheck.model.semantics.system import TransitionSystem
from test_reference_agreement import load_text

# the holder takes m and completes two grace periods under it; the creator, inside create(), blocks on m:
# it can wait through both (it blocks before the first one ends), never more
TWO_UNDER_A_MUTEX = """
    netcheck: 1
    locks: {m: mutex}
    procedures:
      holder():
        - mutex_lock: m
        - synchronize_rcu
        - synchronize_rcu
        - mutex_unlock: m
      create():
        - mutex_lock: m
        - mutex_unlock: m
      creator():
        - call: create
    threads:
      holder: holder()
      creator: creator()
"""

# a reader holds s across two grace periods; a writer queues; the creator's down_read queues behind the
# writer (FIFO): both grace periods pass while it waits behind a queued writer, none otherwise
BEHIND_A_QUEUED_WRITER = """
    netcheck: 1
    locks: {s: rwsem}
    state: {w_queued: bool}
    procedures:
      reader():
        - down_read: s
        - await: w_queued
        - synchronize_rcu
        - synchronize_rcu
        - up_read: s
      writer():
        - w_queued = true
        - down_write: s
        - up_write: s
      create():
        - down_read: s
        - up_read: s
      creator():
        - await: w_queued
        - call: create
    threads:
      reader: reader()
      writer: writer()
      creator: creator()
"""

# the holder keeps m and waits for grace periods for ever: unboundedly many while the creator blocks
FOR_EVER = TWO_UNDER_A_MUTEX.replace("""        - synchronize_rcu
        - synchronize_rcu
        - mutex_unlock: m
""", """        - while: "true"
          do:
            - synchronize_rcu
""") + "    options: {deadlock: false}\n"


def answers(text: str, thread: str = "creator", procedure: str = "create"):
    exp = explore(TransitionSystem(load_text(dedent(text))))
    return slow_steps_waited(exp, thread, procedure)


def test_two_grace_periods_under_a_mutex() -> None:
    every, direct = answers(TWO_UNDER_A_MUTEX)
    assert (every.most, direct.most) == (2, 2)
    assert every.waited == ("synchronize_rcu() in holder()",) * 2
    assert every.trace is not None and every.complete


def test_behind_a_queued_writer_is_counted_apart() -> None:
    every, direct = answers(BEHIND_A_QUEUED_WRITER)
    assert (every.most, direct.most) == (2, 0)


def test_a_loop_of_grace_periods_is_unbounded() -> None:
    every, _ = answers(FOR_EVER)
    assert every.most is None and every.cycle_start >= 0
    assert every.trace is not None and len(every.trace.steps) > every.cycle_start


def test_no_slow_step_no_wait() -> None:
    every, direct = answers(TWO_UNDER_A_MUTEX.replace("        - synchronize_rcu\n", ""))
    assert (every.most, direct.most) == (0, 0)


def test_the_witness_replays_and_the_creator_is_blocked_at_each_counted_step() -> None:
    system = TransitionSystem(load_text(dedent(TWO_UNDER_A_MUTEX)))
    exp = explore(system)
    every, _ = slow_steps_waited(exp, "creator", "create")
    trace = every.trace
    creator = next(t for t in system.threads if t.decl == "creator")
    counted = 0
    for i, step in enumerate(trace.steps):
        before, after = trace.states[i], trace.states[i + 1]
        assert after in system.fire(before, step.action)
        if step.thread == "holder" and system.in_slow_step(before, step.tid) \
                and not system.in_slow_step(after, step.tid):
            _, blocked = system.expand(before)
            counted += bool(blocked >> creator.tid & 1)
    assert counted == every.most


# at one namespace: the module unloads' two rcu_barrier() calls (subsys and device), one of them behind a
# queued writer once net_sem is an rwsem (two namespaces: docs/results.md)
@pytest.mark.parametrize(("name", "most", "direct"), [("net_mutex", 2, 2), ("net_sem", 2, 1),
                                                      ("pernet_ops_rwsem", 2, 1)])
def test_slow_during_on_the_three_versions(name: str, most: int, direct: int) -> None:
    result = CliRunner().invoke(main, ["slow", str(SPECS / f"{name}.yaml"), "--thread", "creator",
                                       "--during", "copy_net_ns", "--bound", "net=1", "--format", "json"])
    data = json.loads(result.output)
    waited = data["slow_steps_waited"]["creator"]
    assert waited["complete"] and (waited["most"], waited["most_not_behind_queued_writer"]) == (most, direct)
    assert waited["waited"] == ["rcu_barrier() in unregister_pernet_operations()"] * 2


def test_slow_during_names_an_unknown_procedure() -> None:
    result = CliRunner().invoke(main, ["slow", str(SPECS / "net_mutex.yaml"), "--during", "copy_net"])
    assert result.exit_code == 2 and "no procedure 'copy_net'" in result.output


DURING = """
    netcheck: 1
    extends: SPEC
    properties:
      creator_waits_on_grace_period:
        waits_on_slow: creator
        during: WHERE
"""


def test_during_answers_in_verify_and_json(tmp_path: Path) -> None:
    spec = tmp_path / "during.yaml"
    spec.write_text(dedent(DURING).replace("SPEC", str(SPECS / "net_mutex.yaml")).replace("WHERE", "copy_net_ns"))
    text = CliRunner().invoke(main, ["verify", "--no-timing", "--bound", "net=1", str(spec)]).output
    assert "REACHABLE   creator_waits_on_grace_period (waits_on_slow)  (at most 2 slow steps waited through in " \
           "copy_net_ns())" in text
    assert "inside copy_net_ns(), other threads can complete at most 2 slow steps while it is blocked" in text
    data = json.loads(CliRunner().invoke(main, ["verify", "--format", "json", "--bound", "net=1", str(spec)]).output)
    prop = next(p for p in data["properties"] if p["name"] == "creator_waits_on_grace_period")
    assert prop["slow_steps_waited"] == {
        "procedure": "copy_net_ns", "most": 2, "most_not_behind_queued_writer": 2, "unbounded": False,
        "complete": True, "waited": ["rcu_barrier() in unregister_pernet_operations()"] * 2}


@pytest.mark.parametrize(("where", "message"), [
    ("copy_net", "during: takes a procedure name, got 'copy_net'"),
    ("[a, b]", "during: takes a procedure name"),
])
def test_during_names_a_procedure(tmp_path: Path, where: str, message: str) -> None:
    spec = tmp_path / "during.yaml"
    spec.write_text(dedent(DURING).replace("SPEC", str(SPECS / "net_mutex.yaml")).replace("WHERE", where))
    result = CliRunner().invoke(main, ["check", str(spec)])
    assert result.exit_code == 2 and "NC122" in result.output and message in result.output


def test_during_belongs_to_waits_on_slow(tmp_path: Path) -> None:
    spec = tmp_path / "during.yaml"
    spec.write_text(dedent(DURING).replace("SPEC", str(SPECS / "net_mutex.yaml")).replace(
        "waits_on_slow: creator", 'reachable: "true"').replace("WHERE", "copy_net_ns"))
    result = CliRunner().invoke(main, ["check", str(spec)])
    assert result.exit_code == 2 and "during: belongs to a waits_on_slow: question" in result.output


def test_diff_gives_the_seed_series_effect_as_a_number(tmp_path: Path) -> None:
    """net_sem.yaml against pernet_ops_rwsem.yaml, without modules: a creator's copy_net_ns() sleeps through
    cleanup_net()'s grace period in the first (1) and never in the second (0)."""
    paths = []
    for name in ("net_sem", "pernet_ops_rwsem"):
        path = tmp_path / f"{name}.yaml"
        path.write_text(dedent(DURING).replace("SPEC", str(SPECS / f"{name}.yaml")).replace("WHERE", "copy_net_ns"))
        paths.append(str(path))
    result = CliRunner().invoke(main, ["diff", *paths, "--bound", "subsys=0", "--bound", "device=0",
                                       "--format", "json"])
    waited = json.loads(result.output)["slow_steps_waited"]
    assert waited == [{"question": "creator_waits_on_grace_period", "procedure": "copy_net_ns",
                       "a": {"most": 1, "most_not_behind_queued_writer": 1, "unbounded": False},
                       "b": {"most": 0, "most_not_behind_queued_writer": 0, "unbounded": False}}]
