"""The looping variants of the three versions (specs/looping/): creators create and drop namespaces and
modules load and unload for ever. Each verifies clean with a pinned state count; every reachable state
can come back to the initial one, through every creator's and module's loop; the waits_on_slow
question's `during: copy_net_ns` answers are pinned (unbounded on the first two versions, 3 on the last);
and edits that break a promise of the loops are caught by the property the spec header says keeps it."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from textwrap import dedent

import networkx as nx
import pytest
from click.testing import CliRunner
from helpers import SPECS
from netcheck.checker.analyses.latency import slow_steps_waited
from netcheck.checker.cli import main
from netcheck.checker.cli.run import expand_specs
from netcheck.checker.engine.explore import explore
from netcheck.checker.engine.result import ExplicitResult
from netcheck.checker.report.build import SpecReport, build_report
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.system import TransitionSystem

LOOPING = SPECS / "looping"
QUESTIONS = ("reachable", "waits_on_slow")
# (spec, states, depth, slow steps a creator waits through in copy_net_ns(): every one / not behind a
# queued writer, None: unboundedly many): pinned at the default bounds (net=2, subsys=0, device=1)
PINNED = [
    ("net_mutex_loop", 46_151, 108, None, None),
    ("net_sem_loop", 64_523, 116, None, None),
    ("pernet_ops_rwsem_loop", 64_540, 108, 3, 2),
]
NAMES = [p[0] for p in PINNED]
# the last statement of each loop: the round is over and the thread goes round again
CLOSES = {"creator": "freed[n] = false", "subsys_module": "inits[n, o], exits[n, o] = inits[n, o] - exits[n, o], 0",
          "device_module": "link_unregistered = false"}


@cache
def run(name: str, bounds: tuple[tuple[str, int], ...] = ()) -> tuple[ExplicitResult, SpecReport]:
    path = LOOPING / f"{name}.yaml"
    exp = explore(TransitionSystem(load_spec(path, dict(bounds))), measure_memory=False)
    return exp, build_report(str(path), exp)


@pytest.mark.parametrize(("name", "states", "depth", "most", "direct"), PINNED, ids=NAMES)
def test_looping_spec_verifies(name: str, states: int, depth: int, most: int | None, direct: int | None) -> None:
    exp, report = run(name)
    assert exp.complete and (exp.state_count, exp.max_depth) == (states, depth)
    assert [p.name for p in report.properties if p.kind not in QUESTIONS and p.status != "holds"] == []
    assert report.exit_code == 0 and exp.deadlocks == []
    # no state has every thread at rest: the final property of the base spec is deleted, not vacuous
    assert exp.finals == [] and "all_namespaces_freed" not in {p.name for p in report.properties}
    answers = {p.name: p.status for p in report.properties if p.kind in QUESTIONS}
    assert answers == {"parallel_setup": "reachable" if name == "pernet_ops_rwsem_loop" else "unreachable",
                       "creator_waits_on_grace_period": "reachable"}
    waited = next(p.waited for p in report.properties if p.name == "creator_waits_on_grace_period")
    assert waited is not None and waited.complete and waited.procedure == "copy_net_ns"
    assert (waited.most, waited.most_not_behind_queued_writer) == (most, direct)
    # coverage: what never runs is the subsys module's, left out by default (its loop, subsys_module()
    # and the bodies of register_pernet_subsys() and unregister_pernet_subsys()): with it, all of it runs
    assert report.coverage is not None and report.coverage.complete and len(report.coverage.unreached) == 13
    _, with_subsys = run(name, (("net", 1), ("subsys", 1)))
    assert with_subsys.coverage is not None and with_subsys.coverage.complete
    assert {str(s.span) for s in report.coverage.unreached} & {str(s.span) for s in with_subsys.coverage.unreached} \
        == set()


@pytest.mark.parametrize("bounds", [(), (("net", 1), ("subsys", 1))], ids=["default", "net=1,subsys=1"])
@pytest.mark.parametrize("name", NAMES)
def test_every_state_comes_back_through_every_loop(name: str, bounds: tuple[tuple[str, int], ...]) -> None:
    """The state graph is one strongly connected component: from every reachable state the initial one is
    reached again, and each creator and module closes its loop on it (with one net, the subsys module
    too). The base specs' graphs, where every creator and module finishes, have no such cycle."""
    exp, report = run(name, bounds)
    assert report.exit_code == 0
    system = exp.system
    g = nx.DiGraph()
    g.add_nodes_from(range(exp.state_count))
    closed = set()
    for src, dst, action, _ in exp.store.edges():
        g.add_edge(src, dst)
        info = system.actions[action]
        thread = system.threads[info.tid]
        node = thread.nodes[info.pc]
        if node.stmt is not None and node.stmt.text == CLOSES.get(thread.decl) and not info.signal \
                and f"{thread.decl}_loop" in node.frame:
            closed.add(thread.name)
    assert nx.is_strongly_connected(g)
    assert closed == {t.name for t in system.threads if t.decl != "netns_wq"}


@pytest.mark.parametrize("name", ["net_mutex_loop", "net_sem_loop"])
def test_a_creator_starves_in_a_weakly_fair_run(name: str) -> None:
    """The unbounded answer is not a run in which some thread could step all along and never does: in the
    witness's cycle, every thread that takes no step is blocked in some state of it (a creator starved of
    net_mutex, which is not FIFO, while the other threads take it again and again)."""
    exp, _ = run(name)
    every, direct = slow_steps_waited(exp, "creator", "copy_net_ns")
    assert every.most is None and direct.most is None and every.trace is not None and every.cycle_start >= 0
    system, trace = exp.system, every.trace
    cycle = trace.states[every.cycle_start:]
    movers = {step.thread for step in trace.steps[every.cycle_start:]}
    for thread in system.threads:
        if thread.name not in movers:
            assert not all(any(tid == thread.tid and not signal for tid, _, _, signal, _ in system.expand(s)[0])
                           for s in cycle), f"{thread.name} could step all round the cycle"


# edits of net_mutex_loop.yaml (at net=1) that break a promise of the loops, and what must catch them
LEAK = """
    put_net(net n):
      - pass
"""
IDLE_WAIT = LEAK + """
    creator_loop(net n):
      - while: true
        do:
          - call: creator(n)
          - await: freed[n]
            idle: true
          - call: net_alloc(n)
"""
NO_REARM = """
    device_module_loop(ops o):
      - while: true
        do:
          - call: device_module(o)
          - for_each: n in net
            do:
              - call: forget_pair(n, o)
"""
NO_FORGET = """
    subsys_module_loop(ops o):
      - while: true
        do:
          - call: subsys_module(o)
"""


@pytest.mark.parametrize(("procedures", "bounds", "violated"), [
    (LEAK, {}, {"deadlock_free"}),                 # a namespace never freed: its creator is stuck
    (IDLE_WAIT, {}, set()),                         # why the creator's wait is not idle: it would hide that
    (NO_REARM, {}, {"no_orphan_links"}),           # a reloaded link type creates devices again
    (NO_FORGET, {"subsys": 1}, {"init_exit_pairing", "runtime_safety"}),   # a second ->init of one pair
], ids=["leak", "leak_behind_an_idle_wait", "no_rearm", "no_forget"])
def test_the_loops_keep_the_promises(tmp_path: Path, procedures: str, bounds: dict[str, int],
                                     violated: set[str]) -> None:
    spec = tmp_path / "edit.yaml"
    spec.write_text(f"netcheck: 1\nextends: {LOOPING / 'net_mutex_loop.yaml'}\nprocedures:\n"
                    + dedent(procedures).replace("\n", "\n  "))
    exp = explore(TransitionSystem(load_spec(spec, {"net": 1, **bounds})), measure_memory=False)
    report = build_report(str(spec), exp)
    assert exp.complete
    assert {p.name for p in report.properties if p.status == "violated"} == violated


def test_a_final_property_would_be_vacuous(tmp_path: Path) -> None:
    spec = tmp_path / "final.yaml"
    spec.write_text(f"netcheck: 1\nextends: {LOOPING / 'net_mutex_loop.yaml'}\nproperties:\n"
                    "  all_namespaces_freed:\n    final: \"all(freed[n] for n in net)\"\n")
    exp = explore(TransitionSystem(load_spec(spec, {"net": 1})), measure_memory=False)
    report = build_report(str(spec), exp)
    assert next(p.status for p in report.properties if p.name == "all_namespaces_freed") == "vacuous"
    assert report.exit_code == 1


def test_a_folder_of_specs_includes_the_looping_ones() -> None:
    """`netcheck verify specs/` recurses: the looping specs are verified with the others (and must hold,
    having no expect:), and `netcheck check specs/looping` loads each."""
    found = expand_specs((str(SPECS),))
    assert [f for f in found if "/looping/" in f] == [str(LOOPING / f"{n}.yaml") for n in sorted(NAMES)]
    assert all(load_spec(LOOPING / f"{n}.yaml").expect is None for n in NAMES)
    result = CliRunner().invoke(main, ["check", str(LOOPING)])
    assert result.exit_code == 0 and result.output.count(": ok (") == 3, result.output
