"""The search partitioned among Ray workers (checker/engine/partition.py, `verify --workers N`) against the
one-process search: the same ids, parent edges, depths, edges, blocked masks, findings, stuck threads,
finals, run counts and observations, every replayed state equal to the one the one-process store keeps,
and the same JSON report but for the timings; under every stop rule (cut inside a level exactly),
with symmetry, the reduction and fingerprints; on the shipped specs, the examples and generated specs.
A worker that dies ends the run unknown, never with a verdict. One local Ray cluster of 2 CPUs serves
the whole file."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import SLOW, SLOW_MARKS
from netcheck.checker.cli import main
from netcheck.checker.engine.cluster import ClusterSpec, cluster
from netcheck.checker.engine.explore import explore
from netcheck.checker.engine.limits import Limits, ProgressInfo
from netcheck.checker.engine.result import ExplicitResult
from netcheck.checker.engine.store import StoreKind
from netcheck.checker.render.json import report_object
from netcheck.checker.report.build import build_report, report_observers
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.discipline import Reduction
from netcheck.model.semantics.system import TransitionSystem
from spec_generator import generated_systems
from test_store import GRAPH

pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parent.parent
VERSIONS = sorted((ROOT / "specs").glob("*.yaml"))
BUGS = sorted((ROOT / "specs" / "bugs").glob("*.yaml"))
EXAMPLES = sorted((ROOT / "docs" / "examples").rglob("*.yaml"))
WORKERS = 2


@pytest.fixture(scope="module", autouse=True)
def ray_cluster() -> Iterator[int]:
    with cluster(ClusterSpec(WORKERS)) as workers:
        yield workers


def same_search(system: TransitionSystem, limits: Limits | None = None, workers: int = WORKERS,
                store: StoreKind = StoreKind.FULL) -> tuple[ExplicitResult, ExplicitResult]:
    """`system` explored in one process and on `workers` workers, checked to be the same search."""
    one = explore(system, limits, observers=report_observers, store=store)
    split = explore(system, limits, observers=report_observers, store=store, workers=workers)
    assert len(split.worker_memory_mb) == workers and all(m > 0 for m in split.worker_memory_mb)
    assert len(split.store) == len(one.store) and split.transitions == one.transitions
    for name in GRAPH:
        assert getattr(split.store, name) == getattr(one.store, name), name
    assert (split.violations, split.witnesses, split.stuck, split.deadlocks, split.finals) == \
        (one.violations, one.witnesses, one.stuck, one.deadlocks, one.finals)
    assert list(split.violations) == list(one.violations), "findings in the order they were made"
    assert (split.complete, split.stop_reason, split.unknown) == (one.complete, one.stop_reason, one.unknown)
    assert split.executions == one.executions, "the run counts of the same expansions"
    assert split.observations == one.observations
    assert list(split.store.states) == list(one.store.states), "every state replayed from its parent edge"
    for sid in range(0, len(one.store), max(1, len(one.store) // 50)):
        assert split.store.id_of(one.store.states[sid]) == sid
    a = report_object(build_report("spec.yaml", one), timing=False)
    b = report_object(build_report("spec.yaml", split), timing=False)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True), "the same report, traces included"
    return one, split


@pytest.mark.parametrize("path", BUGS, ids=[p.stem for p in BUGS])
def test_the_bug_specs_search_alike(path: Path) -> None:
    same_search(TransitionSystem(load_spec(path)), Limits(max_states=5_000))


@pytest.mark.parametrize("path", VERSIONS, ids=[p.stem for p in VERSIONS])
def test_the_versions_search_alike_up_to_a_cap(path: Path) -> None:
    same_search(TransitionSystem(load_spec(path)), Limits(max_states=5_000))


@pytest.mark.parametrize("path", [pytest.param(p, marks=SLOW_MARKS, id=p.stem) for p in [*VERSIONS, *BUGS]])
def test_the_shipped_specs_search_alike_to_the_end(path: Path) -> None:
    same_search(TransitionSystem(load_spec(path)))


@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(ROOT / "docs" / "examples")) for p in EXAMPLES])
def test_the_examples_search_alike(path: Path) -> None:
    same_search(TransitionSystem(load_spec(path)), Limits(max_states=5_000))


def test_generated_specs_search_alike() -> None:
    generated_systems(40 if SLOW else 12)(lambda system: same_search(system, Limits(max_states=3_000)))()


def test_one_and_three_workers_search_alike() -> None:
    """Ownership depends on the number of workers; ids never do. Three workers on two CPUs share them."""
    system = TransitionSystem(load_spec(ROOT / "specs" / "bugs" / "setup_undo_exits_all.yaml"))
    same_search(system, Limits(max_states=8_000), workers=1)


@pytest.mark.parametrize("limits", [
    Limits(fail_fast=True), Limits(stop_on=frozenset({"init_exit_pairing"})), Limits(max_states=4_321),
    Limits(max_depth=9), Limits(max_states=1), Limits(fail_fast=True, max_states=700)],
    ids=["fail-fast", "stop-on", "max-states", "max-depth", "one-state", "fail-fast+max-states"])
def test_a_stop_inside_a_level_is_taken_exactly_where_one_process_takes_it(limits: Limits) -> None:
    """The level is cut back to the state the one-process search stops after: states, edges, run counts."""
    same_search(TransitionSystem(load_spec(ROOT / "specs" / "bugs" / "setup_undo_exits_all.yaml")), limits)


def test_deadlocks_found_during_the_search_are_the_same() -> None:
    """With --fail-fast the wait-cycle observer proves stuck threads as it goes; its first cycle is kept."""
    path = ROOT / "specs" / "bugs" / "rtnl_before_net_sem.yaml"
    one, _ = same_search(TransitionSystem(load_spec(path)), Limits(stop_on=frozenset({"deadlock_free"})))
    assert "deadlock_free" in one.violations


def test_symmetry_the_reduction_and_fingerprints_search_alike() -> None:
    path = ROOT / "specs" / "bugs" / "rtnl_before_net_sem.yaml"
    same_search(TransitionSystem(load_spec(path), Reduction.PROTECTED, symmetry=True), Limits(max_states=6_000))
    one, split = same_search(TransitionSystem(load_spec(path)), Limits(max_states=6_000), store=StoreKind.HASH)
    assert split.store.kind is StoreKind.HASH and split.store.omission_probability() == one.store.omission_probability()


def test_verify_workers_prints_what_one_process_prints() -> None:
    """Through the command line, bug specs and a correct one: the same text and JSON, the same exit code
    (the cluster the file started is joined, not started again)."""
    runner = CliRunner()
    for spec in (ROOT / "docs" / "examples" / "bugs" / "consumer_peeks_unlocked.yaml",
                 ROOT / "docs" / "examples" / "bugs" / "abba.yaml", ROOT / "docs" / "examples" / "producer_consumer.yaml"):
        for fmt in ("text", "json"):
            args = ["verify", "--no-timing", "--format", fmt, str(spec)]
            one = runner.invoke(main, args)
            split = runner.invoke(main, [*args, "--workers", "2"])
            assert split.exit_code == one.exit_code and split.output == one.output, (spec.name, fmt)


def test_verify_workers_refuses_what_it_cannot_split(tmp_path: Path) -> None:
    spec = str(ROOT / "docs" / "examples" / "producer_consumer.yaml")
    runner = CliRunner()
    for extra in (["--graph", str(tmp_path / "g.dot")], ["--engine", "bmc", "--depth", "2"], ["--jobs", "2"]):
        refused = runner.invoke(main, ["verify", "--workers", "2", *extra, spec])
        assert refused.exit_code == 2 and "--workers/--ray" in refused.output, extra


def test_without_ray_the_workers_option_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "ray", None)
    result = CliRunner().invoke(main, ["verify", "--workers", "2", str(ROOT / "docs" / "examples" / "producer_consumer.yaml")])
    assert result.exit_code == 2 and "pip install 'netcheck[ray]'" in result.output


def _parent(pid: int) -> int:
    """The parent of `pid` (0 once it has gone): the field after the name in /proc/PID/stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat[stat.rindex(")") + 2:].split()[1])


def _worker_pids() -> list[int]:
    """The processes running a partition actor of this test's own Ray session (Ray names them after the
    actor class; the session's raylet is a child of this process, so another suite's workers, running
    on the same machine, are not counted)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if cmdline.startswith(b"ray::Partition"):
                pid = int(entry)
                while pid > 1 and pid != os.getpid():
                    pid = _parent(pid)
                if pid == os.getpid():
                    pids.append(int(entry))
    return pids


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the worker processes through /proc")
def test_one_command_starts_its_workers_once() -> None:
    """Searches one after another (`verify --workers 2 specs/bugs/`) run on the same two worker processes."""
    small = TransitionSystem(load_spec(ROOT / "docs" / "examples" / "bugs" / "lost_wake_up.yaml"))
    explore(small, observers=report_observers, workers=WORKERS)
    before = sorted(_worker_pids())
    same_search(TransitionSystem(load_spec(ROOT / "specs" / "bugs" / "register_takes_read.yaml")), Limits(max_states=2_000))
    explore(small, observers=report_observers, workers=WORKERS)
    assert len(before) == WORKERS and sorted(_worker_pids()) == before


def test_a_worker_that_dies_ends_the_run_unknown() -> None:
    """Killed between two levels: the run stops at the last complete level, unknown, with the reason;
    the next search gets a new worker."""
    system = TransitionSystem(load_spec(ROOT / "specs" / "net_mutex.yaml"))

    def kill_at_depth_six(info: ProgressInfo) -> None:
        if info.depth == 6:
            for pid in _worker_pids()[:1]:
                os.kill(pid, signal.SIGKILL)

    result = explore(system, progress=kill_at_depth_six, observers=report_observers, workers=WORKERS)
    assert not result.complete and result.stop_reason.startswith("a worker died"), result.stop_reason
    assert result.store.max_depth <= 7 and len(result.store) == len(result.store.parent)
    report = build_report("net_mutex.yaml", result)
    assert report.exit_code == 3 and all(p.status != "holds" for p in report.properties)
    # the dead worker is replaced for the next search
    same_search(TransitionSystem(load_spec(ROOT / "specs" / "bugs" / "register_takes_read.yaml")), Limits(max_states=2_000))
