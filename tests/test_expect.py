"""Expected verdicts in the spec (`expect:`), so that a bug corpus is a real CI gate; internal errors
exit 4 in every command; -q names what fails; --bound takes the comma form."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import EXAMPLES, ROOT, SPECS
from netcheck.checker.cli import main
from netcheck.model.semantics import system

ABBA = EXAMPLES / "bugs" / "abba.yaml"
BUG_SPECS = sorted((SPECS / "bugs").glob("*.yaml")) + sorted((EXAMPLES / "bugs").glob("*.yaml"))


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


def child(write_spec, expect: str, parent: Path = ABBA) -> Path:
    """A spec that extends `parent` and states `expect`."""
    return write_spec(f"netcheck: 1\nextends: {parent}\n{expect}\n", name="child.yaml")


def test_the_bug_corpus_is_one_command() -> None:
    """Every shipped bug spec meets its expectation: one plain run over both bug folders exits 0 (in a
    process of its own: the default bounds take a few hundred MB per spec)."""
    result = subprocess.run([sys.executable, "-m", "netcheck.checker.cli", "verify", "-q", str(SPECS / "bugs"),
                             str(EXAMPLES / "bugs")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(BUG_SPECS) and all(": AS EXPECTED: violated: " in line for line in lines), lines


def test_a_wrong_expectation_names_every_difference(write_spec) -> None:
    path = child(write_spec, "expect: {violated: [deadlock_free, runtime_safety]}")
    result = run("verify", "-q", path)
    assert result.exit_code == 1
    assert "NOT AS EXPECTED (expect: violated: deadlock_free, runtime_safety): lock_order is violated, but " \
           "expect: does not list it; runtime_safety holds, but expect: says it is violated" in result.output


def test_expect_holds_on_a_bug_fails_and_on_a_good_spec_passes(write_spec) -> None:
    assert run("verify", "-q", child(write_spec, "expect: holds")).exit_code == 1
    good = child(write_spec, "expect: holds", EXAMPLES / "producer_consumer.yaml")
    result = run("verify", "-q", good)
    assert result.exit_code == 0 and "AS EXPECTED: all 7 properties hold" in result.output


def test_expect_is_not_inherited(write_spec) -> None:
    """abba.yaml expects its violations; a spec extending it states its own expectation, or none."""
    plain = write_spec(f"netcheck: 1\nextends: {ABBA}\n", name="plain.yaml")
    result = run("verify", "-q", plain)
    assert result.exit_code == 1 and "VIOLATED: 2 of 4 properties fail (deadlock_free, lock_order)" in result.output


def test_a_spec_that_no_longer_loads_exits_2_even_with_expect(write_spec) -> None:
    path = write_spec("netcheck: 1\nexpect: {violated: [deadlock_free]}\nthreads: {t: nowhere()}\n")
    assert run("verify", "-q", path).exit_code == 2


@pytest.mark.parametrize(("expect", "message"), [
    ("expect: {violated: [no_such]}", "expect: no property 'no_such' that can be violated"),
    ("expect: {violated: []}", "expect: violated: is empty"),
    ("expect: {violated: [lock_order, lock_order]}", "listed twice"),
    ("expect: {violated: [lock_order], typo: 1}", "typo"),
    ("expect: sometimes", "expect: takes 'holds' or {violated: [...]}"),
])
def test_bad_expectations_are_located_errors(write_spec, expect: str, message: str) -> None:
    path = child(write_spec, expect)
    result = run("verify", path)
    assert result.exit_code == 2 and message in result.output and f"{path}:3:" in result.output
    assert "Traceback" not in result.output


def test_a_question_cannot_be_expected(write_spec) -> None:
    spec = (EXAMPLES / "producer_consumer.yaml").read_text() + \
        '  can_fill: {reachable: "len(queue) == 2"}\nexpect: {violated: [can_fill]}\n'
    result = run("verify", write_spec(spec))
    assert result.exit_code == 2 and "no property 'can_fill' that can be violated" in result.output


def test_json_junit_and_sarif_show_expected_violations_as_expected(write_spec) -> None:
    data = json.loads(run("verify", "--format", "json", "--no-timing", ABBA).output)
    assert data["expect"] == {"violated": ["deadlock_free", "lock_order"], "met": True, "differences": []}
    assert data["exit_code"] == 0
    assert {p["name"] for p in data["properties"] if p.get("expected")} == {"deadlock_free", "lock_order"}
    suite = ET.fromstring(run("verify", "--format", "junit", "--no-timing", ABBA).output)
    assert suite.get("failures") == "0"
    case = next(c for c in suite.iter("testcase") if c.get("name") == "deadlock_free")
    assert case.find("failure") is None and "as the spec's expect: says" in (case.findtext("system-out") or "")
    results = json.loads(run("verify", "--format", "sarif", "--no-timing", ABBA).output)["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"deadlock_free", "lock_order"}
    assert all(r["suppressions"][0]["kind"] == "inSource" for r in results)
    # an expected violation that holds is a failure in each format
    unmet = child(write_spec, "expect: {violated: [deadlock_free, lock_order, runtime_safety]}")
    suite = ET.fromstring(run("verify", "--format", "junit", unmet).output)
    case = next(c for c in suite.iter("testcase") if c.get("name") == "runtime_safety")
    assert case.find("failure") is not None and suite.get("failures") == "1"
    results = json.loads(run("verify", "--format", "sarif", unmet).output)["runs"][0]["results"]
    unmet_result = next(r for r in results if r["ruleId"] == "runtime_safety")
    assert "suppressions" not in unmet_result and unmet_result["level"] == "error"
    assert unmet_result["locations"][0]["physicalLocation"]["region"]["startLine"] == 3


def test_fail_fast_meets_the_expectation_at_the_expected_violation() -> None:
    for stop in (["--stop-on", "deadlock_free"], ["--fail-fast"]):
        result = run("verify", "-q", *stop, ABBA)
        assert result.exit_code == 0, result.output
        assert "(stopped there: the other 2 properties were not checked)" in result.output
    result = run("verify", "-q", "--max-states", "2", ABBA)
    assert result.exit_code == 3, result.output


def test_quiet_names_the_violated_properties(write_spec) -> None:
    plain = write_spec(f"netcheck: 1\nextends: {ABBA}\n", name="plain.yaml")
    assert run("verify", "-q", plain).output.strip().endswith(
        "VIOLATED: 2 of 4 properties fail (deadlock_free, lock_order) (exit 1)")


def test_bounds_in_the_comma_form() -> None:
    spec = SPECS / "net_sem.yaml"
    one = json.loads(run("verify", "--format", "json", "--no-timing", "--bound", "net=1,subsys=0", spec).output)
    two = json.loads(run("verify", "--format", "json", "--no-timing", "--bound", "net=1", "--bound", "subsys=0",
                         spec).output)
    assert one == two and one["bounds"]["net"] == 1 and one["bounds"]["subsys"] == 0
    assert run("verify", "--bound", "net=1,", spec).exit_code == 2


@pytest.mark.parametrize("args", [["locks", ABBA], ["explain", ABBA], ["report", ABBA, "-o", "REPORT"],
                                  ["mutate", "--jobs", "1", ABBA], ["diff", ABBA, ABBA],
                                  ["slow", ABBA, "--thread", "ab"], ["verify", ABBA], ["check", ABBA]],
                         ids=lambda a: a[0])
def test_an_internal_error_exits_4_in_every_command(monkeypatch, tmp_path, args: list) -> None:
    def fail(*_: object) -> None:
        raise RuntimeError("injected failure")
    monkeypatch.setattr(system.TransitionSystem, "_compile", fail)
    result = run(*[tmp_path / "r.html" if a == "REPORT" else a for a in args])
    assert result.exit_code == 4, result.output
    assert isinstance(result.exception, SystemExit)      # handled: no traceback, not a verdict
    assert "internal error: RuntimeError: injected failure" in result.output
