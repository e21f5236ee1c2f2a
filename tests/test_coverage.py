"""Coverage: which statements reachable transitions run, how often, and which branches they take.

Exact counts on small specs (docs/examples/coverage.yaml and hand-counted ones), the CLI (warning,
--coverage, --strict-coverage, partial runs, JSON), and a differential check against the reference
explorer's own count (tests/reference_explorer.py) on generated specs and on real specs.
"""

from __future__ import annotations

import json
import tempfile
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import EXAMPLES, ROOT
from hypothesis import HealthCheck, assume, given, note, settings
from netcheck.checker.analyses.coverage import Coverage, summarize
from netcheck.checker.cli import main
from netcheck.checker.engine.explore import explore
from netcheck.checker.engine.limits import Limits
from netcheck.checker.engine.result import ExplicitResult
from netcheck.checker.report.build import build_report
from netcheck.model.lang.parse import load_spec
from netcheck.model.lang.spec import Either, If
from netcheck.model.semantics.program import walk_statements
from netcheck.model.semantics.system import TransitionSystem
from reference_explorer import Reference
from spec_generator import specs

COVERAGE_SPEC = EXAMPLES / "coverage.yaml"


def coverage_of(exp: ExplicitResult) -> Coverage:
    assert exp.executions is not None
    return summarize(exp.system, exp.executions, exp.complete)


def runs(cov: Coverage) -> dict[tuple[int, str], int]:
    """(line, statement text) -> run count."""
    return {(s.span.line, s.text): s.count for s in cov.statements}


def branches(cov: Coverage) -> dict[tuple[int, str], int]:
    """(line, branch) -> times taken."""
    return {(b.span.line, b.branch): b.count for b in cov.branches}


def explore_file(path: Path, bounds: dict[str, int] | None = None, **limits) -> ExplicitResult:
    return explore(TransitionSystem(load_spec(path, bounds)), Limits(**limits), measure_memory=False)


# ---------------------------------------------------------------- exact counts


def test_regression_spec_exact_coverage() -> None:
    """docs/examples/coverage.yaml: every property holds, yet an `if` is never true, an `either` branch
    waits for what never happens and the assert behind it never runs (counts by hand: 25 states)."""
    exp = explore_file(COVERAGE_SPEC)
    cov = coverage_of(exp)
    assert exp.complete and exp.state_count == 25
    assert runs(cov) == {
        (18, "mutex_lock(&big_lock)"): 4,      # each user takes the lock from 2 states
        (19, "if (closed)"): 4,                # local: runs inside the mutex_lock step
        (21, "rejected += 1"): 0,
        (23, "users += 1"): 4,
        (25, "mutex_unlock(&big_lock)"): 10,
        (28, "wait_event(users == 2)"): 3,     # the idle await fires from 3 states
        (30, "closed = true"): 3,
        (31, "either"): 3,
        (34, "wait_event(users > 2)"): 0,
        (36, "assert(users == 0)"): 0,
    }
    assert branches(cov) == {(19, "then"): 0, (19, "else"): 4, (31, "done"): 3, (31, "drain"): 0}
    assert [(s.span.line, s.text) for s in cov.unreached] == [
        (21, "rejected += 1"), (34, "wait_event(users > 2)"), (36, "assert(users == 0)")]
    assert [(b.span.line, b.branch) for b in cov.untaken] == [(19, "then"), (31, "drain")]
    assert [s.assert_name for s in cov.unreached_asserts] == ["drained"]
    assert {s.span.line: s.threads for s in cov.statements if s.count} == {
        18: ("user",), 19: ("user",), 23: ("user",), 25: ("user",), 28: ("closer",), 30: ("closer",),
        31: ("closer",)}


STEPS_COUNTS = {
    (15, "x = 1"): 2,             # local prefix: run once per worker while computing the initial state
    (16, "x = x + 1"): 2,
    (17, "shared += x"): 6,       # visible: fires from the 3 states where that worker stands there
    (18, "x = 0"): 6,             # local: rides along with each of those 6 steps
    (19, "x = shared"): 6,
}


def test_counts_sum_instances_and_count_the_initial_settling() -> None:
    """docs/examples/steps.yaml (the 3 x 3 grid): per statement, the runs of both worker instances."""
    cov = coverage_of(explore_file(EXAMPLES / "steps.yaml"))
    assert runs(cov) == STEPS_COUNTS
    assert not cov.unreached and cov.complete


def test_counts_are_those_of_the_exploration_not_of_later_replays() -> None:
    """Counterexamples and graph rebuilds fire steps again after exploring; exploring the same system a
    second time starts again from the initial counts."""
    system = TransitionSystem(load_spec(EXAMPLES / "bugs" / "abba.yaml"))
    exp = explore(system, measure_memory=False)
    before = coverage_of(exp)
    report = build_report("abba.yaml", exp)   # replays the counterexamples, rebuilds edges for lock order
    assert report.coverage == before
    assert coverage_of(explore(system, measure_memory=False)) == before


def test_a_lock_never_acquired_is_not_run(write_spec) -> None:
    """A thread standing at a mutex_lock it can never take has not run it, nor anything after it; an
    either branch whose first statement is that lock is never taken, an empty one always."""
    path = write_spec("""
        netcheck: 1
        locks: {m: mutex}
        state: {x: "int[0..2]", stop: bool, held: bool}
        procedures:
          holder():
            - mutex_lock: m
            - held = true
            - await: stop
          other():
            - await: held
            - either:
                skip: []
                take:
                  - mutex_lock: m
                  - x = 1
                  - mutex_unlock: m
        threads:
          holder: holder()
          other: other()
        """)
    exp = explore_file(path)
    cov = coverage_of(exp)
    assert "deadlock_free" in (exp.violations | exp.witnesses)
    assert runs(cov) == {(6, "mutex_lock(&m)"): 1, (7, "held = true"): 1, (8, "wait_event(stop)"): 0,
                         (10, "wait_event(held)"): 1, (11, "either"): 1, (14, "mutex_lock(&m)"): 0,
                         (15, "x = 1"): 0, (16, "mutex_unlock(&m)"): 0}
    assert branches(cov) == {(11, "skip"): 1, (11, "take"): 0}


def test_branches_of_local_and_visible_ifs_and_jumping_either_branches(write_spec) -> None:
    """An `if` on a local and one on shared state count which way they went; an either branch that
    starts with a jump (here `goto`) is taken whenever the either runs."""
    path = write_spec("""
        netcheck: 1
        state: {flag: bool, n: "int[0..3]"}
        procedures:
          t():
            locals: {mine: bool}
            body:
              - if: mine
                then: [n = 3]
              - if: flag
                then: [n = 2]
                else: [n = 1]
              - either:
                  out: [goto done]
                  on: [flag = true]
              - label: done
          unused():
            - n = 0
        threads:
          t: {run: t(), count: 2}
        """)
    cov = coverage_of(explore_file(path))
    by_line = runs(cov)
    assert by_line[(7, "if (mine)")] == 2 and by_line[(8, "n = 3")] == 0
    assert by_line[(17, "n = 0")] == 0       # a procedure no thread calls
    b = branches(cov)
    assert (b[(7, "then")], b[(7, "else")]) == (0, 2)
    assert b[(9, "then")] > 0 and b[(9, "else")] > 0 and b[(9, "then")] + b[(9, "else")] == by_line[(9, "if (flag)")]
    assert b[(12, "out")] == by_line[(12, "either")] > 0
    assert [(u.span.line, u.branch) for u in cov.untaken] == [(7, "then")]


def test_a_goto_into_an_either_branch_does_not_take_it(write_spec) -> None:
    """A branch holding only a label is taken when the either runs; a goto to that label skips the either
    (found by the differential check below)."""
    path = write_spec("""
        netcheck: 1
        state: {v: bool}
        procedures:
          t():
            - v = true
            - if: "true"
              then: [goto inside]
            - either:
                b0: [{label: inside}]
                b1: []
        threads:
          t: t()
        """)
    exp = explore_file(path)
    cov = coverage_of(exp)
    assert runs(cov) == {(5, "v = true"): 1, (6, "if (true)"): 1, (8, "either"): 0}
    assert branches(cov) == {(6, "then"): 1, (6, "else"): 0, (8, "b0"): 0, (8, "b1"): 0}
    assert not coverage_differences(exp)


# ---------------------------------------------------------------- the command line and reports


def verify(*args: str):
    return CliRunner().invoke(main, ["verify", "--no-timing", *args])


def test_text_warns_and_the_exit_code_stays_ok() -> None:
    result = verify(str(COVERAGE_SPEC))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Coverage: 7 of 10 statements run, 2 of 4 branches taken" in out
    assert "warning: assert drained (coverage.yaml:36) never runs: it checks nothing" in out
    assert "coverage.yaml:21  never run: rejected += 1" in out
    assert "coverage.yaml:19  if (closed): never true ('then' never taken)" in out
    assert "coverage.yaml:31  either: branch 'drain' never taken" in out
    assert out.rstrip().endswith("OK: all 6 properties hold on every reachable state; 3 statements never run (exit 0)")


def test_full_listing_and_strict_mode() -> None:
    full = verify("--coverage", "--reduce", "none", str(COVERAGE_SPEC)).output   # the runs of every interleaving
    assert "          0  coverage.yaml:21  rejected += 1  NEVER RUN" in full
    assert "         10  coverage.yaml:25  mutex_unlock(&big_lock)  [user]" in full
    assert "          0  coverage.yaml:31  either: drain  NEVER TAKEN" in full
    strict = verify("--strict-coverage", "-q", str(COVERAGE_SPEC))
    assert strict.exit_code == 1
    assert "FAILED: 3 statements never run (--strict-coverage); all 6 properties hold (exit 1)" in strict.output
    fully_covered = verify("--strict-coverage", "-q", str(EXAMPLES / "steps.yaml"))
    assert fully_covered.exit_code == 0, fully_covered.output


def test_a_partial_run_never_claims_unreached() -> None:
    result = verify("--max-states", "10", "--strict-coverage", str(COVERAGE_SPEC))
    assert result.exit_code == 3
    assert "Coverage is partial (the run stopped early): 4 of 10 statements run, 1 of 4 branches taken so far" \
        in result.output
    assert "never" not in result.output.split("Coverage is partial")[1]
    full = verify("--max-states", "10", "--coverage", str(COVERAGE_SPEC)).output
    assert "NEVER" not in full and "rejected += 1  not run so far" in full
    data = json.loads(verify("--max-states", "10", "--format", "json", str(COVERAGE_SPEC)).output)
    assert data["coverage"]["complete"] is False


def base(location: str) -> str:
    return location.rsplit("/", 1)[-1]


def test_json_coverage() -> None:
    data = json.loads(verify("--format", "json", str(COVERAGE_SPEC)).output)["coverage"]
    assert {k: data[k] for k in ("complete", "statements", "statements_run", "branches", "branches_taken",
                                 "strict")} == {"complete": True, "statements": 10, "statements_run": 7,
                                                "branches": 4, "branches_taken": 2, "strict": False}
    assert [(base(s["location"]), s["column"], s["statement"], s["assert"]) for s in data["not_run"]] == [
        ("coverage.yaml:21", 11, "rejected += 1", None),
        ("coverage.yaml:34", 13, "wait_event(users > 2)", None),
        ("coverage.yaml:36", 13, "assert(users == 0)", "drained")]
    assert [(base(b["location"]), b["decision"], b["branch"]) for b in data["not_taken"]] == [
        ("coverage.yaml:19", "if", "then"), ("coverage.yaml:31", "either", "drain")]
    assert "statement_runs" not in data
    reduced = json.loads(verify("--format", "json", "--coverage", str(COVERAGE_SPEC)).output)["coverage"]
    full = json.loads(verify("--format", "json", "--coverage", "--reduce", "none", str(COVERAGE_SPEC)).output)["coverage"]
    # the reduction runs fewer interleavings, so fewer runs, but never leaves a statement or branch out
    assert [s["runs"] > 0 for s in reduced["statement_runs"]] == [s["runs"] > 0 for s in full["statement_runs"]]
    assert [b["runs"] > 0 for b in reduced["branch_runs"]] == [b["runs"] > 0 for b in full["branch_runs"]]
    assert len(full["statement_runs"]) == 10 and len(full["branch_runs"]) == 4
    assert full["statement_runs"][4] == {"location": str(COVERAGE_SPEC) + ":25", "column": 7,
                                         "statement": "mutex_unlock(&big_lock)", "runs": 10, "threads": ["user"],
                                         "assert": None}


# ---------------------------------------------------------------- against the reference explorer


def coverage_differences(exp: ExplicitResult) -> list[str]:
    """Where production's coverage and the reference explorer's own count disagree: every statement's
    run count, every `if` branch's count, and whether each `either` branch was taken."""
    spec = exp.system.spec
    ref = Reference(spec).explore()
    assert ref.complete
    cov = coverage_of(exp)
    out = [f"{s.span} {s.text}: production {s.count}, reference {ref.runs[s.span]}"
           for s in cov.statements if s.count != ref.runs[s.span]]
    for b in cov.branches:
        theirs = ref.taken[(b.span, b.branch)]
        if (b.count != theirs) if b.decision == "if" else (bool(b.count) != bool(theirs)):
            out.append(f"{b.span} {b.text} {b.branch}: production {b.count}, reference {theirs}")
    return out


def test_every_decision_is_in_the_branch_list() -> None:
    """The differential check below compares every branch production lists: it must list them all."""
    spec = load_spec(ROOT / "docs" / "examples" / "tour.yaml")
    cov = coverage_of(explore(TransitionSystem(spec), Limits(max_states=10), measure_memory=False))
    decisions = [s for p in spec.procedures for s in walk_statements(p.body) if isinstance(s, (If, Either))]
    expected = sum(2 if isinstance(s, If) else len(s.branches) for s in decisions)  # type: ignore[union-attr]
    assert len(cov.branches) == expected


def test_random_specs_coverage_agrees_with_the_reference() -> None:
    compared: list[int] = []

    @settings(max_examples=150, deadline=None, derandomize=True, database=None, print_blob=False,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(specs())
    def check(text: str) -> None:
        note(text)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "spec.yaml"
            path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
            exp = explore_file(path, max_states=3_000)
            assume(exp.complete)
            diff = coverage_differences(exp)
        assert not diff, "coverage disagrees:\n  " + "\n  ".join(diff)
        compared.append(exp.state_count)

    check()
    assert len(compared) >= 135


ENDLESS_LOCAL_LOOP = """\
netcheck: 1
name: endless
state:
  g:
    type: int[0..3]
    init: 0
procedures:
  inc(int[0..3] p) -> int[0..3]:
  - if: p > 2
    then:
    - return 0
  - return p + 1
  dec(int[0..3] p) -> int[0..3]:
  - if: p > 0
    then:
    - return p - 1
  - return 0
  nothing():
  - if: 'false'
    then:
    - return
  t1():
    locals:
      k: int[0..3]
      j: int[0..3]
    body:
    - g = 1
    - label: top
    - k = 0
    - while: k < 2
      do:
      - k = inc(k)
      - nothing()
      - while: j < 3
        do:
        - j += 1
        - if: j > 1
          then:
          - continue
        - break
      - j = 0
      - k = dec(k)
      - if: k > 5
        then:
        - goto top
threads:
  t1: t1()
properties: {}
"""


ENDLESS_THROUGH_POINTERS = """\
netcheck: 1
name: loop6
entities:
  ops:
    a: 1
    b: 2
state:
  g: {type: "int[0..3]"}
callbacks:
  ops:
    slots:
      f: "(int[0..3] x) -> int[0..3]"
    bind:
      a: {f: fa}
      b: {f: fb}
procedures:
  fa(int[0..3] x) -> int[0..3]:
    - return 1
  fb(int[0..3] x) -> int[0..3]:
    - return 0
  t1():
    locals: {k: "int[0..3]", o: "ops?", s: "set<ops>", v: "int[0..3]", l: "list<ops>"}
    body:
      - g = 1
      - s = {a0, b0, b1}
      - while: k < 2
        do:
          - for_each: o in s
            do:
              - v = o.f(k)
              - if: v > 2
                then:
                  - continue
          - o = b1
          - k = o.f(k)
          - k = k + 1
          - o = a0
          - either:
              one: [v = 1]
              two: []
          - if: a0 not in l
            then:
              - list_add_tail(l, a0)
            else:
              - list_del(l, a0)
          - k = o.f(k)
          - k = k - 1
threads:
  t1: t1()
properties: {}
"""


@pytest.mark.parametrize("text", [ENDLESS_LOCAL_LOOP, ENDLESS_THROUGH_POINTERS], ids=["calls", "pointers"])
def test_a_local_loop_that_never_ends_counts_as_the_reference_does(tmp_path: Path, text: str) -> None:
    """The step gives up after a fixed fuel ("does not terminate"); both explorers spend it alike, so the
    counts of the runs before it agree too: labels, gotos, break, continue and a return that stores nothing
    are jumps that cost nothing, a call's return into its caller costs one more, a call through a pointer
    one per element test (a generated spec with a label before such a loop once differed by one run per
    step)."""
    path = tmp_path / "endless.yaml"
    path.write_text(text, encoding="utf-8")
    exp = explore_file(path)
    assert exp.complete
    assert any(v.message == "local computation does not terminate" for v in exp.violations.values())
    assert max(runs(coverage_of(exp)).values()) > 5_000
    assert not coverage_differences(exp)


@pytest.mark.parametrize("name", ["coverage.yaml", "steps.yaml", "producer_consumer.yaml", "lock_api.yaml",
                                  "rwsem_config.yaml", "rcu_replace.yaml", "lists.yaml"])
def test_examples_coverage_agrees_with_the_reference(name: str) -> None:
    exp = explore_file(EXAMPLES / name, max_states=5_000)
    assert exp.complete
    assert not coverage_differences(exp)


@pytest.mark.parametrize("name", ["net_mutex.yaml", "net_sem.yaml", "pernet_ops_rwsem.yaml"])
def test_shipped_coverage_agrees_with_the_reference(name: str) -> None:
    """The shipped specs with one namespace (--bound net=1: a few thousand states, seconds each)."""
    exp = explore_file(ROOT / "specs" / name, {"net": 1})
    assert exp.complete and not coverage_differences(exp)
