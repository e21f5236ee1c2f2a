"""Fast CI runs: a spec that expects violations stops once they are all found (and says so), several specs
are verified in parallel with the output of a sequential run, `diff` fails on a verdict that regresses,
`locks --format dot`, directories read *.yml too, and -q names what fails."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import ABBA, EXAMPLES, SPECS
from netcheck.checker.cli import main

STOPPED = "stopped: every violation expect: lists is found"
# an invariant broken at once, and a lock-order cycle that later steps show (under a gate lock g, so that it
# never deadlocks): the early stop at the invariant leaves lock_order undecided, so the run explores to the end
LATE_CYCLE = """
netcheck: 1
name: late_cycle
expect: {violated: [flag_clear, lock_order]}
locks: {g: mutex, a: mutex, b: mutex}
state:
  flag: "int[0..1]"
procedures:
  raise_flag():
    - flag = 1
  path_ab():
    - mutex_lock: g
    - mutex_lock: a
    - mutex_lock: b
    - mutex_unlock: b
    - mutex_unlock: a
    - mutex_unlock: g
  path_ba():
    - mutex_lock: g
    - mutex_lock: b
    - mutex_lock: a
    - mutex_unlock: a
    - mutex_unlock: b
    - mutex_unlock: g
threads:
  raiser: raise_flag()
  ab: path_ab()
  ba: path_ba()
properties:
  flag_clear: {invariant: flag == 0}
"""


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


def states(output: str) -> int:
    return int(json.loads(output)["stats"]["states"])


def test_a_spec_expecting_violations_stops_once_they_are_all_found(write_spec) -> None:
    path = write_spec(ABBA)
    early = run("verify", "--format", "json", "--no-timing", path)
    full = run("verify", "--format", "json", "--no-timing", "--explore-all", path)
    assert early.exit_code == full.exit_code == 0, early.output + full.output
    e, f = json.loads(early.output), json.loads(full.output)
    assert e["complete"] is False and e["stop_reason"] == STOPPED and f["complete"] is True
    assert states(early.output) < states(full.output)
    assert {p["name"]: p["status"] for p in e["properties"]}["lock_discipline"] == "unknown"
    assert {p["name"]: p["status"] for p in f["properties"]}["lock_discipline"] == "holds"
    quiet = run("verify", "-q", path).output
    assert quiet.endswith("AS EXPECTED: violated: deadlock_free, lock_order (stopped there: the other 2 properties "
                          "were not checked; --explore-all checks them) (exit 0)\n"), quiet
    text = run("verify", "--no-timing", path).output
    assert f"(INCOMPLETE: {STOPPED})" in text and "  UNKNOWN     lock_discipline" in text


def test_no_early_stop_without_expect_or_with_ignore_expect_or_a_stop_rule(write_spec) -> None:
    plain = write_spec("\n".join(line for line in ABBA.splitlines() if not line.startswith("expect:")), "plain.yaml")
    for args in (["--ignore-expect", write_spec(ABBA)], [plain]):
        result = json.loads(run("verify", "--format", "json", *args).output)
        assert result["complete"] is True, args
    result = json.loads(run("verify", "--format", "json", "--stop-on", "deadlock_free", write_spec(ABBA)).output)
    assert result["stop_reason"] == "stopped: every --stop-on property is violated"


def test_an_expected_violation_judged_on_the_whole_graph_is_explored_to_the_end(write_spec) -> None:
    result = run("verify", "--format", "json", "--no-timing", write_spec(LATE_CYCLE))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    status = {p["name"]: p["status"] for p in report["properties"]}
    assert report["complete"] is True and status["flag_clear"] == status["lock_order"] == "violated"
    assert status["lock_discipline"] == "holds"


def test_the_early_stop_leaves_the_other_properties_to_explore_all(write_spec) -> None:
    """What an early stop does not check, it says it did not check; --explore-all finds a violation
    expect: does not list."""
    spec = write_spec(LATE_CYCLE.replace("[flag_clear, lock_order]", "[flag_clear]"))
    result = run("verify", "-q", spec)
    assert result.exit_code == 0 and "were not checked; --explore-all checks them" in result.output, result.output
    full = run("verify", "-q", "--explore-all", spec)
    assert full.exit_code == 1 and "lock_order is violated, but expect: does not list it" in full.output


def test_stuck_threads_found_by_an_early_stop_make_no_claim_of_a_shortest_trace() -> None:
    """Stuck threads are proved on the explored graph: stopped early, a shallower state may have stuck
    threads only the rest of the graph proves, so the trace is not called shortest (here it is 13
    steps; the whole graph gives 3)."""
    spec = SPECS / "bugs" / "recursive_read_in_init.yaml"
    early = run("verify", "--reduce", "none", spec).output
    deadlock = early[early.index("deadlock_free: VIOLATED"):]
    assert deadlock.split("\n")[4].startswith("  Counterexample (the run stopped early: a shorter one may exist): 13 steps")
    full = run("verify", "--reduce", "none", "--explore-all", spec).output
    deadlock = full[full.index("deadlock_free: VIOLATED"):]
    assert deadlock.split("\n")[4].startswith("  Shortest counterexample: 3 steps"), deadlock
    # by default a run to the end is reduced: no claim either, the reduced search's own trace is shorter than
    # the second search's (stopped early at the expected violations, the default searches in full, as above)
    default = run("verify", "--explore-all", spec).output
    deadlock = default[default.index("deadlock_free: VIOLATED"):]
    assert deadlock.split("\n")[4].startswith("  Counterexample (reduced search: a shorter one may exist): 3 steps")


def corpus(tmp_path: Path) -> Path:
    """A folder of small specs: two bugs (one as .yml), a clean one, and one that does not load."""
    folder = tmp_path / "specs"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(EXAMPLES / "bugs" / "abba.yaml", folder / "abba.yaml")
    shutil.copy(EXAMPLES / "bugs" / "sleep_under_spinlock.yaml", folder / "sub" / "sleep.yml")
    shutil.copy(EXAMPLES / "steps.yaml", folder / "steps.yaml")
    (folder / "broken.yaml").write_text("netcheck: 1\nname: broken\nthreads: {t: nosuch()}\n")
    (folder / "notes.txt").write_text("not a spec\n")
    return folder


def test_a_directory_reads_yml_too_and_parallel_output_is_the_sequential_output(tmp_path: Path) -> None:
    folder = corpus(tmp_path)
    runs = {}
    for jobs in ("1", "2"):
        result = subprocess.run([sys.executable, "-m", "netcheck.checker.cli", "verify", "--no-timing", "--jobs", jobs, str(folder)],
                                capture_output=True, text=True, cwd=tmp_path)
        runs[jobs] = (result.returncode, result.stdout, result.stderr)
    assert runs["1"] == runs["2"]
    code, out, err = runs["2"]
    assert code == 2 and "nosuch" in err and "Traceback" not in err
    order = [line.split()[1] for line in out.splitlines() if line.startswith("netcheck: ")]
    assert order == [str(folder / name) for name in ("abba.yaml", "steps.yaml", "sub/sleep.yml")]


def test_jobs_is_a_whole_number_of_processes(tmp_path: Path) -> None:
    assert run("verify", "--jobs", "0", corpus(tmp_path)).exit_code == 2


def test_diff_exits_1_when_a_verdict_regresses() -> None:
    good, bad = EXAMPLES / "producer_consumer.yaml", EXAMPLES / "bugs" / "consumer_peeks_unlocked.yaml"
    worse = run("diff", good, bad)
    assert worse.exit_code == 1 and "REGRESSED: runtime_safety" in worse.output, worse.output
    assert json.loads(run("diff", "--format", "json", good, bad).output)["regressions"] == ["runtime_safety"]
    better = run("diff", bad, good)
    assert better.exit_code == 0 and "REGRESSED" not in better.output, better.output
    assert run("diff", good, good).exit_code == 0


def test_locks_as_dot(write_spec) -> None:
    result = run("locks", "--format", "dot", write_spec(ABBA))
    assert result.exit_code == 1, result.output
    assert result.output.startswith('digraph "lock order" {') and result.output.endswith("}\n")
    assert '"a" -> "b" [label="[EN]\\npath_ab()", color=red' in result.output
    clean = run("locks", "--format", "dot", EXAMPLES / "steps.yaml")
    assert clean.exit_code == 0 and " -> " not in clean.output
    if shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed: the DOT text is not rendered")
    svg = subprocess.run(["dot", "-Tsvg"], input=result.output, capture_output=True, text=True)
    assert svg.returncode == 0 and "<svg" in svg.stdout, svg.stderr


def test_quiet_names_vacuous_properties() -> None:
    spec = EXAMPLES / "bugs" / "final_never_checked.yaml"
    result = run("verify", "-q", "--ignore-expect", spec)
    assert result.exit_code == 1
    assert result.output.endswith("VACUOUS: 1 of 5 properties checked on no state (everything_queued) (exit 1)\n")


def test_quiet_names_what_an_undecided_expectation_has_found_so_far() -> None:
    spec = SPECS / "bugs" / "register_takes_read.yaml"
    result = run("verify", "-q", "--reduce", "none", "--bound", "net=1", "--max-states", "3000", spec)
    assert result.exit_code == 3 and "; violated so far: init_exit_pairing, exits_in_reverse_order;" in result.output
