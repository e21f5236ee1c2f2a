"""The command line through click's CliRunner: exit codes, JSON shape, traces, graph export."""

from __future__ import annotations

import json

import networkx as nx
import pytest
from click.testing import CliRunner
from helpers import SPECS
from netcheck.checker import __version__
from netcheck.checker.cli import main

GOOD = """
netcheck: 1
name: good
locks: {m: mutex}
state: {n: "int[0..2]"}
procedures:
  w():
    - mutex_lock: m
    - n += 1
    - mutex_unlock: m
threads:
  w: {count: 2, run: w()}
properties:
  counted: {final: "n == 2"}
"""
BAD = GOOD.replace("    - mutex_lock: m\n", "").replace("    - mutex_unlock: m\n", "").replace(
    "    - n += 1\n", "    - \"tmp = n\"\n    - n = tmp + 1\n").replace(
    "  w():\n", "  w():\n    locals: {tmp: \"int[0..2]\"}\n    body:\n").replace("    - \"tmp", "      - \"tmp").replace(
    "    - n = tmp", "      - n = tmp")


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0 and __version__ in result.output


def test_holds_exit_0(write_spec) -> None:
    result = run("verify", str(write_spec(GOOD)))
    assert result.exit_code == 0, result.output
    assert "OK: all" in result.output and "holds       counted" in result.output


def test_violation_exit_1_with_cpu_trace(write_spec) -> None:
    result = run("verify", str(write_spec(BAD)))
    assert result.exit_code == 1, result.output
    assert "VIOLATED    counted" in result.output
    assert "CPU0 w[0]" in result.output and "CPU1 w[1]" in result.output
    assert "t.yaml:" in result.output


def test_trace_steps(write_spec) -> None:
    result = run("verify", "--trace", "steps", str(write_spec(BAD)))
    assert result.exit_code == 1
    assert "  1. CPU0" in result.output


def test_json_shape(write_spec) -> None:
    result = run("verify", "--format", "json", str(write_spec(BAD)))
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["netcheck"] == __version__ and data["complete"] is True
    assert set(data["stats"]) >= {"states", "transitions", "depth", "seconds", "states_per_second",
                                  "peak_memory_mb"}
    props = {p["name"]: p for p in data["properties"]}
    assert props["counted"]["status"] == "violated" and props["counted"]["kind"] == "final"
    assert props["deadlock_free"]["status"] == "holds"
    step = props["counted"]["trace"][0]
    assert set(step) >= {"thread", "location", "statement"}
    assert step["location"].startswith(data["spec"].rsplit("/", 1)[-1]) or ".yaml:" in step["location"]


def test_json_for_several_specs_is_an_array_and_exit_is_worst(write_spec) -> None:
    good, bad = write_spec(GOOD, "good.yaml"), write_spec(BAD, "bad.yaml")
    result = run("verify", "--format", "json", str(good), str(bad))
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert [d["name"] for d in data] == ["good", "good"] and [d["exit_code"] for d in data] == [0, 1]


def test_limit_gives_unknown_and_exit_3(write_spec) -> None:
    result = run("verify", "--max-states", "3", str(write_spec(GOOD)))
    assert result.exit_code == 3, result.output
    assert "UNKNOWN" in result.output and "holds " not in result.output.replace("holds on", "")


def test_timeout_and_depth_limits(write_spec) -> None:
    assert run("verify", "--max-depth", "2", str(write_spec(GOOD))).exit_code == 3
    assert run("verify", "--timeout", "0.000001", str(SPECS / "net_mutex.yaml")).exit_code == 3


def test_stop_on_a_question_says_it_was_reached_not_violated() -> None:
    """A reachable: question named in --stop-on is reached, never violated: the stop reason says so, in the
    single-process search and in the partitioned one."""
    spec = str(SPECS / "pernet_ops_rwsem.yaml")
    for workers in ("1", "2"):
        result = run("verify", "--format", "json", "--workers", workers, "--stop-on", "parallel_setup", spec)
        report = json.loads(result.output)
        assert result.exit_code == 3 and report["complete"] is False, workers
        assert report["stop_reason"] == "stopped: every --stop-on property is violated or, a question, reached"
        status = {p["name"]: p["status"] for p in report["properties"]}
        assert status["parallel_setup"] == "reachable" and status["init_exit_pairing"] == "unknown"


def test_violation_found_before_a_limit_is_still_reported(write_spec) -> None:
    result = run("verify", "--fail-fast", str(write_spec(BAD)))
    assert result.exit_code == 1 and "VIOLATED" in result.output


def test_stop_on_a_property() -> None:
    """--stop-on stops once the named property is violated: it is reported with its trace (exit 1), and
    a property exploring does not decide, or an unknown name, is a usage error (exit 2)."""
    bug = str(SPECS / "bugs" / "cleanup_unlocks_early.yaml")
    result = run("verify", "--format", "json", "--ignore-expect", "--stop-on", "exit_matches_init", bug)
    report = json.loads(result.output)
    assert result.exit_code == 1 and report["complete"] is False
    assert report["stop_reason"] == "stopped: every --stop-on property is violated"
    status = {p["name"]: p for p in report["properties"]}
    assert status["exit_matches_init"]["status"] == "violated" and status["exit_matches_init"]["trace"]
    for name in ("nosuch", "creator_waits_on_grace_period", "lock_order"):
        result = run("verify", "--stop-on", name, bug)
        assert result.exit_code == 2 and "--stop-on" in result.output and "exit_matches_init" in result.output, name


def test_spec_error_exit_2(write_spec) -> None:
    result = run("verify", str(write_spec("netcheck: 1\nname: x\nthreads: {t: nosuch()}\n")))
    assert result.exit_code == 2
    assert "t.yaml:3:" in result.output and "Traceback" not in result.output


def test_bad_bound_is_usage_error(write_spec) -> None:
    assert run("verify", "--bound", "nonsense", str(write_spec(GOOD))).exit_code == 2
    assert run("verify", "--bound", "nosuch=2", str(write_spec(GOOD))).exit_code == 2


def test_check_only(write_spec) -> None:
    result = run("check", str(write_spec(GOOD)))
    assert result.exit_code == 0 and ": ok (" in result.output


@pytest.mark.parametrize("suffix", [".dot", ".graphml", ".json"])
def test_graph_export(write_spec, tmp_path, suffix: str) -> None:
    out = tmp_path / f"g{suffix}"
    result = run("verify", "--graph", str(out), str(write_spec(BAD)))
    assert result.exit_code == 1
    text = out.read_text()
    if suffix == ".graphml":
        g = nx.read_graphml(out)
        assert g.number_of_nodes() > 1 and g.number_of_edges() >= g.number_of_nodes() - 1
    elif suffix == ".json":
        data = json.loads(text)
        assert data["nodes"] and data["edges"]
    else:
        assert text.startswith("digraph") and "color=red" in text


def test_no_timing_output_is_reproducible(write_spec) -> None:
    spec = str(write_spec(BAD))
    first = run("verify", "--no-timing", "--format", "json", spec).output
    assert first == run("verify", "--no-timing", "--format", "json", spec).output
    assert "seconds" not in first


def test_bound_takes_a_comma_separated_list() -> None:
    """`--bound a=0,b=0` (the form docs/analyses.md uses) means `--bound a=0 --bound b=0`, in every command
    that takes --bound; a bad item in the list is a usage error naming it."""
    spec = str(SPECS / "net_mutex.yaml")
    comma = run("verify", "--format", "json", "--bound", "net=1,subsys=0", spec)
    repeated = run("verify", "--format", "json", "--bound", "net=1", "--bound", "subsys=0", spec)
    assert comma.exit_code == repeated.exit_code == 0, comma.output
    assert json.loads(comma.output)["bounds"] == json.loads(repeated.output)["bounds"]
    assert json.loads(comma.output)["bounds"]["subsys"] == 0
    assert json.loads(comma.output)["stats"]["states"] == json.loads(repeated.output)["stats"]["states"]
    locks = run("locks", "--bound", "net=1,subsys=0", spec)
    assert locks.exit_code == 0, locks.output
    bad = run("verify", "--bound", "net=1,subsys", spec)
    assert bad.exit_code == 2 and "'subsys' is not NAME=N" in bad.output
