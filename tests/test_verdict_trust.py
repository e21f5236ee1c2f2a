"""Verdicts a reviewer can trust: a thread that can never step again is reported however busy the other
threads are; a final property checked on no state is vacuous, never "holds"."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from click.testing import CliRunner
from helpers import BUSY_POLLER, EXAMPLES
from netcheck.checker.cli import main

BYSTANDER = EXAMPLES / "bugs" / "abba_busy_bystander.yaml"
NEVER_FINAL = EXAMPLES / "bugs" / "final_never_checked.yaml"
HEADER = "netcheck: 1\nname: t\n"


def run(*args: object):
    """The plain verdicts (--ignore-expect: these bug examples also state what they must violate)."""
    words = [str(a) for a in args]
    return CliRunner().invoke(main, words[:1] + ["--ignore-expect"] + words[1:] if words[0] == "verify" else words)


def test_abba_next_to_a_busy_daemon_is_reported_at_the_stuck_statements() -> None:
    result = run("verify", "--format", "json", "--no-timing", "--reduce", "none", BYSTANDER)
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    prop = next(p for p in data["properties"] if p["name"] == "deadlock_free")
    assert prop["status"] == "violated"
    # located where the two paths wait (their second mutex_lock), not at the last step of the trace
    lines = [loc.rsplit(":", 1)[1] for loc in prop["stuck_locations"]]
    assert sorted(lines) == ["19", "24"] and prop["location"] == prop["stuck_locations"][0]
    assert data["deadlock"]["stuck_threads"] == ["ab", "ba"] and data["deadlock"]["kind"] == "abba"
    assert data["stats"]["deadlocked_states"] == 6    # the deadlock, times the poller's 6 states
    assert not any("poller" in line for line in prop["stuck"])


def test_sarif_gives_one_location_per_stuck_thread() -> None:
    result = run("verify", "--format", "sarif", "--no-timing", BYSTANDER)
    assert result.exit_code == 1, result.output
    results = json.loads(result.output)["runs"][0]["results"]
    stuck = next(r for r in results if r["ruleId"] == "deadlock_free")
    lines = [loc["physicalLocation"]["region"]["startLine"] for loc in stuck["locations"]]
    assert sorted(lines) == [19, 24]
    assert "The stuck threads wait at" in stuck["message"]["text"]


def test_text_names_only_the_stuck_threads() -> None:
    result = run("verify", "--no-timing", BYSTANDER)
    assert result.exit_code == 1
    section = result.output.split("Stuck threads:")[1].split("Final state:")[0]
    assert "ab at " in section and "ba at " in section and "poller" not in section


def test_fail_fast_stops_at_a_wait_cycle(run_spec) -> None:
    full = run_spec(BYSTANDER.read_text())
    early = run_spec(BYSTANDER.read_text(), fail_fast=True)
    assert full.complete and "deadlock_free" in full.violations
    assert not early.complete and "deadlock_free" in early.violations
    assert early.state_count < full.state_count
    assert early.stuck[early.violations["deadlock_free"].state] == 0b11   # ab and ba, not the poller


def test_a_fatal_signal_is_no_way_out(run_spec) -> None:
    """Killable waits in an ABBA: each thread could be killed, but a task hung in mutex_lock_killable()
    is hung (semantics.md); the busy poller does not hide it either."""
    exp = run_spec(HEADER + """
locks: {a: mutex, b: mutex, stat_lock: spinlock}
state: {polls: "int[0..1]"}
procedures:
  path_ab():
    - mutex_lock_killable: a
      on_fail: [return]
    - mutex_lock_killable: b
      on_fail: [{mutex_unlock: a}, return]
    - mutex_unlock: b
    - mutex_unlock: a
  path_ba():
    - mutex_lock_killable: b
      on_fail: [return]
    - mutex_lock_killable: a
      on_fail: [{mutex_unlock: b}, return]
    - mutex_unlock: a
    - mutex_unlock: b
""" + BUSY_POLLER + """
threads:
  ab: path_ab()
  ba: path_ba()
  poller: {run: poller(), daemon: true}
""")
    assert exp.complete and "deadlock_free" in (exp.violations | exp.witnesses)
    assert exp.stuck[(exp.violations | exp.witnesses)["deadlock_free"].state] == 0b11


def test_a_thread_that_may_still_be_woken_is_not_stuck(run_spec) -> None:
    """The waiter waits for a flag the setter sets after a long detour: never stuck, however long the
    detour; and in a run cut short before the flag is set nothing is reported stuck either."""
    spec = HEADER + """
state: {flag: bool, n: "int[0..3]"}
procedures:
  waiter():
    - await: flag
  setter():
    - n = 1
    - n = 2
    - n = 3
    - flag = true
threads:
  waiter: waiter()
  setter: setter()
"""
    exp = run_spec(spec)
    assert exp.complete and not (exp.violations | exp.witnesses) and exp.deadlocks == []
    cut = run_spec(spec, max_states=3)
    assert not cut.complete and cut.deadlocks == [] and "deadlock_free" not in cut.violations


# ---------------------------------------------------------------- vacuous final properties


def test_a_final_property_with_no_final_state_is_vacuous_not_holds() -> None:
    text = run("verify", "--no-timing", NEVER_FINAL)
    assert text.exit_code == 1, text.output
    assert "VACUOUS     everything_queued (final)" in text.output
    assert text.output.rstrip().endswith("VACUOUS: 1 of 5 properties checked on no state (everything_queued) (exit 1)")
    data = json.loads(run("verify", "--format", "json", "--no-timing", NEVER_FINAL).output)
    prop = next(p for p in data["properties"] if p["name"] == "everything_queued")
    assert prop["status"] == "vacuous" and "no final state is reachable" in prop["message"]
    assert data["stats"]["final_states"] == 0 and data["exit_code"] == 1


def test_vacuous_in_junit_sarif_explain_and_html(tmp_path) -> None:
    junit = ET.fromstring(run("verify", "--format", "junit", "--no-timing", NEVER_FINAL).output)
    case = next(c for c in junit.iter("testcase") if c.get("name") == "everything_queued")
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "vacuous"
    sarif = json.loads(run("verify", "--format", "sarif", "--no-timing", NEVER_FINAL).output)
    result = next(r for r in sarif["runs"][0]["results"] if r["ruleId"] == "everything_queued")
    assert result["level"] == "error" and "is vacuous" in result["message"]["text"]
    assert sarif["runs"][0]["properties"]["specs"][0]["verdicts"]["everything_queued"] == "vacuous"
    explained = run("explain", NEVER_FINAL)
    assert "It is VACUOUS, not a pass" in explained.output
    page = tmp_path / "r.html"
    assert run("report", "-o", page, NEVER_FINAL).exit_code == 0   # the example's expect: lists it
    assert 'class="vacuous">VACUOUS<' in page.read_text()


def test_explain_says_on_how_many_states_a_property_was_checked() -> None:
    good = EXAMPLES / "producer_consumer.yaml"
    data = json.loads(run("verify", "--format", "json", "--no-timing", "--reduce", "none", "--symmetry", "off", good).output)
    finals, states = data["stats"]["final_states"], data["stats"]["states"]
    assert 0 < finals < states
    out = " ".join(run("explain", good).output.split())
    assert f"checked on the {finals:,} final states (of {states:,} reachable states)" in out
    assert f"checked on all {states:,} reachable states" in out


def test_a_run_cut_short_is_unknown_not_vacuous() -> None:
    result = run("verify", "--format", "json", "--no-timing", "--max-states", "5", NEVER_FINAL)
    assert result.exit_code == 3
    prop = next(p for p in json.loads(result.output)["properties"] if p["name"] == "everything_queued")
    assert prop["status"] == "unknown"


# ---------------------------------------------------------------- no state to check on

STARTS_BROKEN = HEADER + """
locks: {m: mutex}
state: {x: "int[0..3]"}
procedures:
  check():
    - assert: "1 == 2"      # reads no shared state: run while the initial states are computed
      name: never_true
    - x = 1
  bump():
    - mutex_lock: m
    - x += 2
    - mutex_unlock: m
threads:
  checker: check()
  worker: bump()
properties:
  always_locked: {invariant: "locked(m)"}
  one_at_end: {final: "x == 1"}
  worker_done: {eventually: "x == 2"}
lemmas:
  anything: "x <= 3"
"""


def test_no_initial_state_is_checked_on_no_state_by_every_engine(tmp_path) -> None:
    """Every way to start breaks never_true before the first visible step: there is no state, so no other
    property holds (always_locked would be false in any state there was)."""
    spec = tmp_path / "starts_broken.yaml"
    spec.write_text(STARTS_BROKEN)
    for engine in (["--engine", "explicit"], ["--engine", "bmc", "--depth", "3"], ["--engine", "kind", "--depth", "3"],
                   ["--engine", "pdr"]):
        result = run("verify", "--format", "json", "--no-timing", *engine, spec)
        verdicts = {p["name"]: (p["status"], p["message"]) for p in json.loads(result.output)["properties"]}
        assert result.exit_code == 1 and verdicts.pop("never_true")[0] == "violated", (engine, verdicts)
        if engine[1] != "explicit":
            assert verdicts.pop("lock_order")[0] == "unknown"   # decided by the explicit search only
        assert all(status == "vacuous" and "no initial state" in message and "never_true" in message
                   for status, message in verdicts.values()), (engine, verdicts)
    proved = run("prove", "--format", "json", spec)
    statuses = {p["name"]: p["status"] for p in json.loads(proved.output)["properties"]}
    assert proved.exit_code == 1 and statuses.pop("never_true") == "violated"
    assert set(statuses.values()) == {"vacuous"}, statuses   # the lemmas, inductive over no state, prove nothing
    for args in (["--lemmas-only"], []):
        alone = run("prove", *args, "--format", "json", spec, "always_locked")
        shown = json.loads(alone.output)["properties"][0]
        assert shown["status"] == "vacuous" and "no initial state" in shown["reason"] and alone.exit_code == 1
    text = run("prove", spec, "always_locked").output
    assert "always_locked: VACUOUS" in text and "1 vacuous" in text


def test_a_property_broken_while_some_starts_settle_is_never_proved(tmp_path) -> None:
    """One branch of the first choice breaks never_true before any visible step, the other starts: an
    invariant of the states after it (Houdini's, the lemmas') says nothing of the way there."""
    spec = tmp_path / "some_starts_broken.yaml"
    spec.write_text(STARTS_BROKEN.replace('''    - assert: "1 == 2"      # reads no shared state: run while the initial states are computed
      name: never_true''', '''    - either:
        bad: [{assert: "1 == 2", name: never_true}]
        fine: []'''))
    for engine in (["--engine", "explicit"], ["--engine", "kind", "--depth", "3"], ["--engine", "pdr"]):
        result = run("verify", "--format", "json", "--no-timing", *engine, spec)
        verdicts = {p["name"]: p["status"] for p in json.loads(result.output)["properties"]}
        assert verdicts["never_true"] == "violated" and verdicts["always_locked"] == "violated", (engine, verdicts)
    for args in ([], ["--lemmas-only"]):
        proved = run("prove", "--format", "json", *args, spec, "never_true")
        assert json.loads(proved.output)["properties"][0]["status"] == "violated" and proved.exit_code == 1


def test_a_final_property_proved_of_no_final_state_is_not_a_pass() -> None:
    for engine in (["--engine", "kind", "--depth", "3"], ["--engine", "pdr"]):
        data = json.loads(run("verify", "--format", "json", "--no-timing", *engine, NEVER_FINAL).output)
        prop = next(p for p in data["properties"] if p["name"] == "everything_queued")
        assert prop["status"] == "vacuous" and "no final state is reachable" in prop["message"], engine
    shown = run("prove", "--format", "json", NEVER_FINAL, "everything_queued")
    proved = json.loads(shown.output)["properties"][0]
    assert proved["status"] == "vacuous" and "no final state is reachable" in proved["reason"] and shown.exit_code == 1
    good = EXAMPLES / "producer_consumer.yaml"
    data = json.loads(run("verify", "--format", "json", "--no-timing", "--engine", "pdr", good).output)
    finals = [p for p in data["properties"] if p["kind"] == "final"]
    assert finals and all(p["status"] == "holds" for p in finals)   # a final state is reachable there
