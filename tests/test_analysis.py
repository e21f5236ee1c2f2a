"""Analyses: the lockdep-style lock-order graph, deadlocks explained, waits on slow steps, lock necessity by
mutation, and spec diffs. Rules are unit-tested on synthetic graphs; results are pinned on the shipped
specs and bugs, and every cycle or chain printed is checked against a replayable trace or its sites."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache

import pytest
from click.testing import CliRunner
from helpers import ABBA, SPECS
from netcheck.checker.analyses.lockorder import (
    Dependency,
    Site,
    acquisition_site,
    analyze_graph,
    dep_kind,
    lock_order,
    strong_choice,
)
from netcheck.checker.analyses.mutate import BASELINE, _check, apply, mutations, run_mutants, run_task
from netcheck.checker.analyses.mutate import _Task as MutantTask
from netcheck.checker.analyses.trace import counterexample, replay
from netcheck.checker.analyses.waitfor import (
    blockers,
    explain_deadlock,
    explain_stuck,
    holds,
    slow_chains,
    slow_witnesses,
)
from netcheck.checker.cli import main
from netcheck.checker.engine.explore import explore
from netcheck.checker.engine.result import ExplicitResult, Finding
from netcheck.checker.render.diff import render_text
from netcheck.checker.render.json import render_json
from netcheck.checker.render.lockorder import render_cycle, scenario
from netcheck.checker.render.mutate import to_json
from netcheck.checker.render.text import render_text as render_report
from netcheck.checker.report.build import build_report
from netcheck.checker.report.diff import compare, summarize
from netcheck.model.lang.parse import load_spec
from netcheck.model.lang.spec import LockOp
from netcheck.model.semantics.system import TransitionSystem

ONE_NET = (("net", 1),)
NO_MODULES = (("device", 0), ("subsys", 0))


@cache
def explored(name: str, bounds: tuple[tuple[str, int], ...] = ()) -> ExplicitResult:
    """A complete exploration of a spec under specs/, shared by the tests that read it."""
    exp = explore(TransitionSystem(load_spec(SPECS / name, dict(bounds))), measure_memory=False)
    assert exp.complete
    return exp


# ---------------------------------------------------------------- lockdep rules on synthetic graphs


def dep(a: str, am: str, b: str, bm: str, state: int = 0, thread: str = "t") -> Dependency:
    return Dependency(a, am, b, bm, Site(f"x.yaml:{state}", "f", f"take({a})"), Site(f"x.yaml:{state + 1}", "f",
                                                                                   f"take({b})"), (thread,), state)


@pytest.mark.parametrize(("held", "acquired", "kind"), [
    ("mutex", "mutex", "EN"), ("spin", "mutex", "EN"), ("write", "write", "EN"), ("write", "read", "EN"),
    ("read", "write", "SN"), ("read", "read", "SN"), ("read", "rread", "SR"), ("write", "rread", "ER"),
    ("rread", "mutex", "SN"),
])
def test_dependency_kinds(held: str, acquired: str, kind: str) -> None:
    """down_read is a non-recursive reader (N): it can be blocked by a waiting writer; only a recursive
    reader (rread) is R. A read hold is shared (S), a write or mutex hold exclusive (E)."""
    assert dep_kind(held, acquired) == kind


CYCLES = [
    ("abba mutexes", [("A", "mutex", "B", "mutex"), ("B", "mutex", "A", "mutex")], ["A --> B --> A"]),
    ("read hold vs writer", [("A", "read", "B", "mutex"), ("B", "mutex", "A", "write")], ["A --> B --> A"]),
    ("read hold vs non-recursive reader (a queued writer blocks it)",
     [("A", "read", "B", "mutex"), ("B", "mutex", "A", "read")], ["A --> B --> A"]),
    ("entered as recursive reader, left as shared holder",
     [("A", "mutex", "B", "rread"), ("B", "rread", "A", "mutex")], []),
    ("two recursive readers", [("A", "rread", "B", "rread"), ("B", "rread", "A", "rread")], []),
    ("recursive reader blocked by an exclusive holder",
     [("A", "mutex", "B", "mutex"), ("B", "rread", "A", "rread")], ["A --> B --> A"]),
    ("one strong kind among several",
     [("A", "mutex", "B", "rread"), ("A", "mutex", "B", "mutex"), ("B", "read", "A", "mutex")], ["A --> B --> A"]),
    ("three locks, weak at B", [("A", "mutex", "B", "rread"), ("B", "rread", "C", "mutex"),
                                ("C", "mutex", "A", "mutex")], []),
    ("three locks, strong", [("A", "mutex", "B", "mutex"), ("B", "read", "C", "mutex"),
                             ("C", "mutex", "A", "mutex")], ["A --> B --> C --> A"]),
    ("recursive locking of a non-recursive reader", [("A", "read", "A", "read")], ["A --> A"]),
    ("recursive reader inside a read hold", [("A", "rread", "A", "rread")], []),
    ("mutex taken twice", [("A", "mutex", "A", "mutex")], ["A --> A"]),
    ("no cycle", [("A", "mutex", "B", "mutex"), ("B", "mutex", "C", "mutex")], []),
]


@pytest.mark.parametrize(("deps", "chains"), [c[1:] for c in CYCLES], ids=[c[0] for c in CYCLES])
def test_strong_cycles_on_synthetic_graphs(deps: list[tuple[str, str, str, str]], chains: list[str]) -> None:
    order = analyze_graph([], [dep(*d, state=i) for i, d in enumerate(deps)])
    assert [c.chain for c in order.cycles] == chains
    for cycle in order.cycles:
        kinds = [d.kind for d in cycle.deps]
        assert strong_choice([{k} for k in kinds]) is not None, "the witnessing dependencies form a strong cycle"
        for (a, b), d in zip(zip(cycle.locks, cycle.locks[1:] + cycle.locks[:1]), cycle.deps):
            assert (d.held, d.acquired) == (a, b)


def test_strong_rule_includes_the_wraparound() -> None:
    assert strong_choice([{"SR"}, {"SN"}]) is None      # ... -(SR)-> X -(SN)-> ... back to the start
    assert strong_choice([{"SN"}, {"SR"}]) is None      # the same cycle, rotated
    assert strong_choice([{"EN"}, {"SR"}]) == ("EN", "SR")
    assert strong_choice([{"SR", "SN"}, {"SN"}]) == ("SN", "SN")


def test_scenario_ladders() -> None:
    abba = analyze_graph([], [dep("A", "mutex", "B", "mutex"), dep("B", "mutex", "A", "mutex", 1)]).cycles[0]
    assert scenario(abba) == [
        " Possible unsafe locking scenario:", "",
        "       CPU0                            CPU1",
        "       ----                            ----",
        "  lock(A);",
        "                                       lock(B);",
        "                                       lock(A);",
        "  lock(B);",
        "", " *** DEADLOCK ***"]
    reads = analyze_graph([], [dep("S", "read", "S", "read")]).cycles[0]
    ladder = scenario(reads)
    assert ladder[2].split() == ["CPU0", "CPU1"], "the second CPU is the writer queueing in between"
    assert [line.strip() for line in ladder[4:7]] == ["rlock(S);", "lock(S);", "rlock(S);"]
    twice = analyze_graph([], [dep("M", "mutex", "M", "mutex")]).cycles[0]
    assert scenario(twice)[2].split() == ["CPU0"]
    assert scenario(twice)[-1] == " May be due to missing lock nesting notation"
    assert "WARNING: possible recursive locking detected" in render_cycle(twice)
    three = analyze_graph([], [dep("A", "mutex", "B", "mutex"), dep("B", "mutex", "C", "mutex", 1),
                               dep("C", "mutex", "A", "mutex", 2)]).cycles[0]
    text = render_cycle(three)
    assert "WARNING: possible circular locking dependency detected" in text
    assert "  A --> B --> C --> A" in text
    assert scenario(three)[2].split() == ["CPU0", "CPU1", "CPU2"]


# ---------------------------------------------------------------- lock order of the shipped specs and bugs


def edges(order) -> set[str]:
    return {f"{d.held}:{d.held_mode} -> {d.acquired}:{d.acquired_mode}" for d in order.deps}


@pytest.mark.parametrize(("name", "expected"), [
    ("net_mutex.yaml", {"net_mutex:mutex -> rtnl_mutex:mutex"}),
    ("net_sem.yaml", {"net_mutex:mutex -> rtnl_mutex:mutex", "net_sem:read -> net_mutex:mutex",
                      "net_sem:read -> rtnl_mutex:mutex", "net_sem:write -> rtnl_mutex:mutex"}),
    ("pernet_ops_rwsem.yaml", {"pernet_ops_rwsem:read -> net_rwsem:write", "pernet_ops_rwsem:read -> rtnl_mutex:mutex",
                               "pernet_ops_rwsem:write -> rtnl_mutex:mutex"}),
])
def test_shipped_specs_have_a_clean_lock_order(name: str, expected: set[str]) -> None:
    """The documented orders: net_sem(R) -> net_mutex -> rtnl_mutex, net_sem(W) -> rtnl_mutex (net_sem.yaml);
    pernet_ops_rwsem(R|W) -> rtnl_mutex, pernet_ops_rwsem(R) -> net_rwsem(W) (pernet_ops_rwsem.yaml)."""
    order = lock_order(explored(name, ONE_NET))
    assert order.cycles == () and order.status == "holds"
    assert edges(order) == expected


def test_rtnl_before_net_sem_is_a_lock_order_cycle_and_a_deadlock() -> None:
    exp = explored("bugs/rtnl_before_net_sem.yaml", ONE_NET)
    order = lock_order(exp)
    chains = [c.chain for c in order.cycles]
    assert chains[0] == "net_sem --> rtnl_mutex --> net_sem"
    first = order.cycles[0]
    assert [(d.held_mode, d.acquired_mode, d.kind) for d in first.deps] == [("read", "mutex", "SN"),
                                                                            ("mutex", "write", "EN")]
    assert first.deps[1].acquired_site.location.endswith("specs/net_sem.yaml:90")   # the parent wrote it
    assert first.deps[1].acquired_site.function == "rtnl_link_unregister"
    assert "net_mutex --> rtnl_mutex --> net_sem --> net_mutex" in chains
    assert exp.deadlocks
    # the first stuck thread is the module, queued behind the creator's read hold: from there on the
    # creator always ends up in the ABBA cycle with the device module
    first = explain_stuck(exp, exp.deadlocks[0])
    assert first.kind == "busy_holder" and first.stuck == (2,)
    abba = ("ABBA lock-order inversion: creator[net0] waits for rtnl_mutex held by device_module[device0], which "
            "waits for net_sem (write) held for read by creator[net0]")
    assert first.summary == ("a wait on a thread that goes on but never lets it through: subsys_module[subsys0] "
                             "waits for net_sem (write) held for read by creator[net0], which is not stuck itself "
                             "but never lets it through; where that leads: " + abba)
    cycle = next(i for i in exp.deadlocks if explain_deadlock(exp.system, exp.store.states[i], exp.stuck[i]).cycle)
    explanation = explain_deadlock(exp.system, exp.store.states[cycle], exp.stuck[cycle])
    assert explanation.kind == "abba" and explanation.summary == abba


def test_recursive_read_in_init_is_recursive_locking_and_a_self_deadlock() -> None:
    exp = explored("bugs/recursive_read_in_init.yaml", ONE_NET)
    order = lock_order(exp)
    recursive = [c for c in order.cycles if c.recursive]
    assert [c.chain for c in recursive] == ["pernet_ops_rwsem --> pernet_ops_rwsem"]
    d = recursive[0].deps[0]
    assert (d.held_mode, d.acquired_mode) == ("read", "read")
    assert d.held_site.location.endswith("specs/pernet_ops_rwsem.yaml:46")          # copy_net_ns(): down_read_killable
    assert d.acquired_site.location.endswith("specs/bugs/recursive_read_in_init.yaml:15")   # ops_init(): down_read
    assert "WARNING: possible recursive locking detected" in render_cycle(recursive[0])
    assert exp.deadlocks


def _witness_thread(exp: ExplicitResult, d: Dependency) -> int:
    """The thread that, in the dependency's witness state, stands at the second acquisition holding the first."""
    system = exp.system
    s = exp.store.states[d.state]
    for t in system.threads:
        node = system.node_at(s, t.tid)
        if t.name in d.threads and node is not None and node.stmt is not None \
                and node.stmt.span.short == d.acquired_site.location \
                and any(holds(system, s, t.tid, name) for name in _instances(system, d.held)):
            return t.tid
    raise AssertionError(f"no thread witnesses {d}")


def _instances(system: TransitionSystem, cls: str) -> list[str]:
    return [s.name.rsplit(".", 1)[0] for s in system.layout.slots if s.kind == "lock_owner" and s.var == cls]


@pytest.mark.parametrize("name", ["bugs/rtnl_before_net_sem.yaml", "bugs/recursive_read_in_init.yaml"])
def test_every_cycle_edge_is_backed_by_a_replayable_trace_and_its_sites(name: str) -> None:
    exp = explored(name, ONE_NET)
    system = exp.system
    for cycle in lock_order(exp).cycles:
        for d in cycle.deps:
            trace = counterexample(exp, Finding("lock_order", d.state))
            assert replay(system, trace)
            tid = _witness_thread(exp, d)
            base = next(i for i, s in enumerate(system.layout.slots) if s.kind == "lock_owner" and s.var == d.held
                        and holds(system, trace.states[-1], tid, s.name.rsplit(".", 1)[0]))
            assert acquisition_site(exp, d.state, tid, base) == d.held_site
            # the thread itself took that step (it acquired there, or queued there and was granted later)
            assert any(step.tid == tid and step.location == d.held_site.location for step in trace.steps)


def test_verify_reports_lock_order_and_explains_the_deadlock() -> None:
    path = SPECS / "bugs" / "recursive_read_in_init.yaml"
    report = build_report(str(path), explored("bugs/recursive_read_in_init.yaml", ONE_NET))
    props = {p.name: p for p in report.properties}
    assert props["lock_order"].status == "violated" and props["lock_order"].kind == "lock_order"
    names = [p.name for p in report.properties]
    assert names.index("lock_order") == names.index("deadlock_free") + 1
    deadlock = props["deadlock_free"]
    # stuck first: the module, queued for write behind the device module's write hold and the creator,
    # queued for read, which can still get the lock but only to queue again behind the module
    assert deadlock.message == (
        "a wait on a thread that goes on but never lets it through: subsys_module[subsys0] waits for "
        "pernet_ops_rwsem (write) behind creator[net0], queued ahead of it, which is not stuck itself but never "
        "lets it through; where that leads: self-deadlock: creator[net0] waits for pernet_ops_rwsem (read) behind "
        "queued writer subsys_module[subsys0], which waits for the read hold of creator[net0]")
    assert deadlock.explanation is not None and deadlock.explanation.kind == "busy_holder"
    assert deadlock.waits == (
        f"subsys_module[subsys0] at {SPECS}/pernet_ops_rwsem.yaml:77: down_write(&pernet_ops_rwsem): waits for "
        "pernet_ops_rwsem (write) held for write by device_module[device0]; waits for pernet_ops_rwsem (write) "
        "behind creator[net0], queued ahead of it",)
    assert deadlock.location == deadlock.locations[0] == f"{SPECS}/pernet_ops_rwsem.yaml:77"
    text = render_report(report, "steps", timing=False)
    assert "Lock order (lockdep rules):" in text and "*** DEADLOCK ***" in text
    data = json.loads(render_json([report], timing=False))
    kinds = {p["name"]: (p["kind"], p["status"]) for p in data["properties"]}
    assert kinds["lock_order"] == ("lock_order", "violated")
    assert data["lock_order"]["cycles"][0]["chain"] == "pernet_ops_rwsem --> pernet_ops_rwsem"
    assert data["lock_order"]["cycles"][0]["dependencies"][0]["held_site"]["location"].endswith(
        "specs/pernet_ops_rwsem.yaml:46")
    assert data["deadlock"]["kind"] == "busy_holder" and data["deadlock"]["stuck_threads"] == ["subsys_module[subsys0]"]
    assert [e["relation"] for e in data["deadlock"]["chain"]] == ["queued_ahead"]
    stuck = next(p for p in data["properties"] if p["name"] == "deadlock_free")
    assert stuck["location"] == f"{SPECS}/pernet_ops_rwsem.yaml:77" and stuck["stuck_locations"] == [stuck["location"]]


def test_deadlock_chain_matches_the_stuck_state_and_its_trace_replays() -> None:
    for name in ("bugs/rtnl_before_net_sem.yaml", "bugs/recursive_read_in_init.yaml"):
        exp = explored(name, ONE_NET)
        system = exp.system
        trace = counterexample(exp, (exp.violations | exp.witnesses)["deadlock_free"])
        assert replay(system, trace)
        assert trace.states[-1] == exp.store.states[exp.deadlocks[0]]
        # where the cycle closes: the first state whose stuck threads wait for each other
        cycle = next(i for i in exp.deadlocks if explain_deadlock(system, exp.store.states[i], exp.stuck[i]).cycle)
        final = exp.store.states[cycle]
        explanation = explain_deadlock(system, final, exp.stuck[cycle])
        assert explanation.chain[-1].target == explanation.chain[0].waiter, "a closed cycle"
        for edge in explanation.chain:
            assert edge in blockers(system, final, edge.waiter)
            if edge.relation.startswith("held"):
                assert holds(system, final, edge.target, edge.lock)
            if edge.relation == "queued_writer":
                base = next(i for i, s in enumerate(system.layout.slots)
                            if s.kind == "lock_queue" and s.name.rsplit(".", 1)[0] == edge.lock)
                queue = final[base]
                assert queue.index(edge.target * 2 + 1) < queue.index(edge.waiter * 2)


DEADLOCKS = {
    "condition": """
        netcheck: 1
        name: never_set
        locks: {m: mutex}
        state: {ready: bool}
        procedures:
          waiter():
            - mutex_lock: m
            - await: ready
            - mutex_unlock: m
          other():
            - mutex_lock: m
            - ready = true
            - mutex_unlock: m
        threads:
          waiter: waiter()
          other: other()
        """,
    "grace_period": """
        netcheck: 1
        name: gp_vs_mutex
        locks: {m: mutex}
        state: {x: "int[0..1]"}
        procedures:
          reader():
            - rcu_read_lock
            - mutex_lock: m
            - x = 1
            - mutex_unlock: m
            - rcu_read_unlock
          updater():
            - mutex_lock: m
            - synchronize_rcu
            - mutex_unlock: m
        threads:
          reader: reader()
          updater: updater()
        """,
    "abba": ABBA,
}


@pytest.mark.parametrize("kind", sorted(DEADLOCKS))
def test_deadlock_kinds_on_small_specs(kind: str, run_spec) -> None:
    exp = run_spec(DEADLOCKS[kind])
    system = exp.system
    if kind == "grace_period":
        # sleeping inside an RCU read-side section is itself a violation (so it never counts as a deadlock):
        # explain the state just before it, the reader at mutex_lock() inside its section
        stuck = [i for i, s in enumerate(exp.store.states)
                 if all(blockers(system, s, t.tid) for t in system.threads)]
    else:
        stuck = exp.deadlocks
    assert stuck
    explanation = explain_deadlock(system, exp.store.states[stuck[0]])
    assert explanation.kind == kind, explanation.summary
    if kind == "condition":
        assert explanation.summary == ("a wait on a condition that can never become true: other waits for m held "
                                       "by waiter, which waits at `wait_event(ready)` "
                                       f"({explanation.chain[-1].location}) for a condition no thread makes true")
    if kind == "grace_period":
        assert explanation.summary == ("a grace period that can never complete: reader waits for m held by "
                                       "updater, which waits in synchronize_rcu() for the RCU read-side critical "
                                       "section of reader")
    if kind == "abba":
        assert explanation.summary == ("ABBA lock-order inversion: ab waits for b held by ba, which waits for a "
                                       "held by ab")
        assert [c.chain for c in lock_order(exp).cycles] == ["a --> b --> a"]


TRYLOCK = """
    netcheck: 1
    name: trylock_inversion
    locks: {a: mutex, b: mutex}
    procedures:
      ab():
        - mutex_lock: a
        - mutex_lock: b
        - mutex_unlock: b
        - mutex_unlock: a
      ba():
        - mutex_lock: b
        - mutex_trylock: a
          on_fail:
            - mutex_unlock: b
            - return
        - mutex_unlock: a
        - mutex_unlock: b
    threads:
      ab: ab()
      ba: ba()
    """


def test_a_trylock_creates_no_dependency_but_a_lock_it_took_does(run_spec) -> None:
    """Lockdep: a trylock never waits, so b -> a is no edge; a lock taken by trylock is still held."""
    exp = run_spec(TRYLOCK)
    order = lock_order(exp)
    assert edges(order) == {"a:mutex -> b:mutex"}
    assert order.status == "holds" and exp.deadlocks == []


# ---------------------------------------------------------------- waits on slow steps


@pytest.mark.parametrize("name", ["net_mutex.yaml", "net_sem.yaml"])
def test_creator_waits_on_cleanup_net_synchronize_rcu_through_net_mutex(name: str) -> None:
    exp = explored(name, NO_MODULES)
    w = slow_chains(exp, "creator")
    assert w is not None
    assert (w.slow_thread, w.slow_function, w.slow_statement) == ("netns_wq", "cleanup_net", "synchronize_rcu()")
    assert [(e.lock, e.relation) for e in w.chain] == [("net_mutex", "held")]
    assert w.text.startswith(f"{w.waiter} waits for net_mutex held by netns_wq, which is in synchronize_rcu() in "
                             "cleanup_net()")
    assert replay(exp.system, w.trace)
    final = w.trace.states[-1]
    assert exp.store.states[w.state] == final
    waiter = next(t.tid for t in exp.system.threads if t.name == w.waiter)
    assert exp.system.in_slow_step(final, w.chain[-1].target)
    assert w.chain[0] in blockers(exp.system, final, waiter)
    if name == "net_sem.yaml":
        assert holds(exp.system, final, waiter, "net_sem"), "the creator waits holding net_sem for read"


def test_pernet_ops_rwsem_creator_never_waits_on_a_slow_step_without_modules() -> None:
    exp = explored("pernet_ops_rwsem.yaml", NO_MODULES)
    assert slow_chains(exp, "creator") is None
    assert slow_witnesses(exp, "creator") == ()


def test_pernet_ops_rwsem_creator_waits_on_cleanup_only_behind_a_queued_writer() -> None:
    """Default bounds: ~500k states, the slowest test here (not cached: it is large)."""
    exp = explore(TransitionSystem(load_spec(SPECS / "pernet_ops_rwsem.yaml")), measure_memory=False)
    system = exp.system
    decl = {t.name: t.decl for t in system.threads}
    witnesses = slow_witnesses(exp, "creator")
    assert witnesses
    modules = {"subsys_module", "device_module"}
    for w in witnesses:
        assert replay(system, w.trace)
        # every way goes through a module: it holds pernet_ops_rwsem for write, or is a writer queued ahead
        assert any(decl[system.threads[e.target].name] in modules for e in w.chain), w.text
    cleanup = [w for w in witnesses if w.slow_function == "cleanup_net"]
    assert cleanup and all(w.through_queued_writer for w in cleanup)
    assert cleanup[0].text.startswith("creator[net1] waits for pernet_ops_rwsem (read) behind queued writer")
    shortest = slow_chains(exp, "creator")
    assert shortest is not None and shortest.state == min(w.state for w in witnesses)


# ---------------------------------------------------------------- mutation


def test_mutations_of_net_sem() -> None:
    spec = load_spec(SPECS / "net_sem.yaml")
    ms = mutations(spec)
    kinds = {k: sum(1 for m in ms if m.kind == k) for k in
             ("remove_pair", "write_to_read", "unkillable", "swap_nested", "release_early")}
    assert kinds == {"remove_pair": 16, "write_to_read": 5, "unkillable": 2, "swap_nested": 4, "release_early": 15}
    assert len({m.key for m in ms}) == len(ms)
    weak = next(m for m in ms if m.kind == "write_to_read" and m.procedure == "register_pernet_subsys")
    body = apply(spec, weak).procedure("register_pernet_subsys").body
    ops = [s.op for s in body if isinstance(s, LockOp)]
    assert ops == ["down_read", "up_read"]
    assert weak.location.endswith("specs/net_sem.yaml:62")
    gone = next(m for m in ms if m.kind == "remove_pair" and m.procedure == "cleanup_net" and "net_mutex" in
                m.description)
    cleaned = apply(spec, gone).procedure("cleanup_net").body
    assert not any(isinstance(s, LockOp) and s.lock.name == "net_mutex" for s in cleaned)
    swap = next(m for m in ms if m.kind == "swap_nested" and m.procedure == "rtnl_link_unregister")
    swapped = apply(spec, swap).procedure("rtnl_link_unregister").body
    assert [s.text for s in swapped[:2]] == ["rtnl_lock()", "down_write(&net_sem)"]
    early = next(m for m in ms if m.kind == "release_early" and m.procedure == "register_pernet_subsys")
    moved = apply(spec, early).procedure("register_pernet_subsys").body
    assert [s.text for s in moved[:2]] == ["down_write(&net_sem)", "up_write(&net_sem)"]
    unkillable = next(m for m in ms if m.kind == "unkillable" and "net_mutex" in m.description)
    plain = apply(spec, unkillable).procedure("copy_net_ns").body[1]
    assert isinstance(plain, LockOp) and (plain.op, plain.on_fail) == ("mutex_lock", None)
    assert spec.procedure("copy_net_ns").body[1].op == "mutex_lock_killable", "the spec itself is untouched"


@pytest.mark.parametrize(("kind", "procedure", "what", "status", "caught_by"), [
    ("swap_nested", "rtnl_link_unregister", "", "caught", ("deadlock_free",)),    # the rtnl_before_net_sem bug
    ("write_to_read", "register_pernet_subsys", "", "caught", ("init_exit_pairing",)),   # register_takes_read
    ("swap_nested", "cleanup_net", "down_read", "caught", ("lock_order",)),       # never deadlocks in 1 net, but
    ("remove_pair", "device_module", "", "survived", ()),                        # rtnl is not needed by any property
])
def test_mutant_verdicts(kind: str, procedure: str, what: str, status: str, caught_by: tuple[str, ...]) -> None:
    spec = load_spec(SPECS / "net_sem.yaml", dict(ONE_NET))
    m = next(m for m in mutations(spec) if m.kind == kind and m.procedure == procedure and what in m.description)
    result = run_task(MutantTask(str(SPECS / "net_sem.yaml"), ONE_NET, m.key, 1_000_000))
    assert (result.status, result.caught_by) == (status, caught_by)
    assert result.mutation == m
    if status == "caught":
        assert result.trace_length and result.trace_length > 0


MUTABLE = """
    netcheck: 1
    name: counter
    locks: {m: mutex}
    state: {count: "int[0..2]"}
    procedures:
      bump():
        locals: {c: "int[0..2]"}
        body:
          - mutex_lock_killable: m
            on_fail: return
          - c = count
          - count = c + 1
          - mutex_unlock: m
    threads:
      bumper: {run: bump(), count: 2}
    properties:
      counted:
        final: "count == 2"
    options: {fatal_signals: false}
    """


def test_run_mutants_in_parallel(write_spec) -> None:
    path = write_spec(MUTABLE)
    run = run_mutants(str(path), workers=2)
    data = to_json(run)
    assert data["spec"] == str(path) and run.baseline.status == "survived"
    rows = {m["mutation"]: m for m in data["mutants"]}
    assert set(next(iter(rows.values()))) >= {"mutation", "location", "status", "caught_by", "trace_length"}
    removed = rows["remove mutex_lock_killable(&m) / mutex_unlock(&m) in bump()"]
    assert (removed["status"], removed["caught_by"]) == ("caught", ["counted"])
    assert removed["location"] == f"{path}:9"
    assert removed["trace_length"] == 4      # both read count, both write it back
    assert rows["mutex_lock_killable(&m) -> mutex_lock in bump()"]["status"] == "survived"
    early = rows["mutex_unlock(&m) moved above count = c + 1 in bump()"]
    assert early["status"] == "caught"


def test_a_question_answered_is_never_a_catch(write_spec) -> None:
    """A `reachable:` witness is an answer: the unmutated spec still verifies and no mutant is caught by it."""
    asked = MUTABLE.replace("    options:", '      both_inside: {reachable: "running(bump) == 2"}\n    options:')
    spec = load_spec(write_spec(asked))
    question = next(p for p in spec.properties if p.kind == "reachable")
    assert question.name == "both_inside"
    assert _check(spec, BASELINE, 100_000).status == "survived"
    results = [_check(apply(spec, m), m, 100_000) for m in mutations(spec)]
    assert results and all("both_inside" not in r.caught_by for r in results)
    removed = next(r for r in results if r.mutation.kind == "remove_pair")
    assert removed.status == "caught" and removed.caught_by == ("counted",)


def test_a_mutant_that_does_not_compile_is_invalid(write_spec) -> None:
    spec = load_spec(write_spec(MUTABLE))
    m = mutations(spec)[0]
    broken = replace(apply(spec, m), procedures=())
    assert _check(broken, m, 1000).status == "invalid"


# ---------------------------------------------------------------- diff


def test_diff_of_the_seed_patch() -> None:
    a = summarize(str(SPECS / "net_mutex.yaml"), dict(ONE_NET))
    b = summarize(str(SPECS / "net_sem.yaml"), dict(ONE_NET))
    d = compare(a, b)
    assert d.verdicts == () and d.unchanged == len(a.verdicts)
    assert d.classes_added == ("net_sem",) and d.classes_removed == ()
    by_key = {e.key: e for e in d.edges}
    assert {k for k, e in by_key.items() if e.change == "added"} == {
        ("net_sem", "read", "net_mutex", "mutex"), ("net_sem", "read", "rtnl_mutex", "mutex"),
        ("net_sem", "write", "rtnl_mutex", "mutex")}
    kept = by_key[("net_mutex", "mutex", "rtnl_mutex", "mutex")]
    assert kept.change == "changed" and kept.kept_in == ("cleanup_net", "copy_net_ns")
    assert "register_pernet_device" in kept.removed_in and kept.added_in == ()
    text = render_text(d)
    assert "no verdict changes" in text and "+ net_sem(R) --> net_mutex" in text
    assert "behind rcu_barrier() in unregister_pernet_operations(): net_mutex -> net_sem(R)" in text


# ---------------------------------------------------------------- command line


def test_locks_command_exit_codes() -> None:
    runner = CliRunner()
    clean = runner.invoke(main, ["locks", str(SPECS / "net_sem.yaml"), "--bound", "net=1"])
    assert clean.exit_code == 0, clean.output
    assert "net_sem(R) --> net_mutex  [SN]" in clean.output and "OK: the lock order has no strong cycle" in clean.output
    bug = runner.invoke(main, ["locks", str(SPECS / "bugs" / "rtnl_before_net_sem.yaml"), "--bound", "net=1"])
    assert bug.exit_code == 1
    assert "Chain exists of:\n  net_sem --> rtnl_mutex --> net_sem" in bug.output
    assert " *** DEADLOCK ***" in bug.output
    as_json = runner.invoke(main, ["locks", str(SPECS / "bugs" / "rtnl_before_net_sem.yaml"), "--bound", "net=1",
                                   "--format", "json"])
    assert json.loads(as_json.output)["status"] == "violated"
    assert runner.invoke(main, ["locks", "no/such/spec.yaml"]).exit_code == 2
    assert runner.invoke(main, ["locks", str(SPECS / "net_sem.yaml"), "--bound", "nets=1"]).exit_code == 2


def test_slow_command() -> None:
    runner = CliRunner()
    none = runner.invoke(main, ["slow", str(SPECS / "pernet_ops_rwsem.yaml"), "--bound", "subsys=0",
                                "--bound", "device=0", "--thread", "creator"])
    assert none.exit_code == 0 and "creator: never waits on a slow step" in none.output
    some = runner.invoke(main, ["slow", str(SPECS / "net_mutex.yaml"), "--bound", "subsys=0", "--bound", "device=0",
                                "--thread", "creator", "--format", "json"])
    assert some.exit_code == 1
    [w] = json.loads(some.output)["threads"]["creator"]
    assert w["slow_function"] == "cleanup_net" and w["chain"][0]["lock"] == "net_mutex"
    assert runner.invoke(main, ["slow", str(SPECS / "net_mutex.yaml"), "--thread", "nobody"]).exit_code == 2


def test_mutate_and_diff_commands(write_spec) -> None:
    runner = CliRunner()
    listed = runner.invoke(main, ["mutate", str(SPECS / "net_sem.yaml"), "--list", "--kind", "swap_nested"])
    assert listed.exit_code == 0 and len(listed.output.splitlines()) == 4
    path = write_spec(MUTABLE)
    run = runner.invoke(main, ["mutate", str(path), "--jobs", "1"])
    assert run.exit_code == 0 and "caught by counted" in run.output and "survived" in run.output
    out = runner.invoke(main, ["diff", str(SPECS / "net_mutex.yaml"), str(SPECS / "net_sem.yaml"), "--bound", "net=1",
                               "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["verdict_changes"] == [] and data["classes"]["added"] == ["net_sem"]
    assert runner.invoke(main, ["diff", str(SPECS / "net_mutex.yaml"), "no/such.yaml"]).exit_code == 2


# ---------------------------------------------------------------- regression: a lock index that does not evaluate

NULL_LOCK_INDEX = """\
netcheck: 1
name: null_lock_index
entities:
  ea: 1
locks:
  m: {kind: mutex, per: [ea]}
state:
  v: {type: bool}
procedures:
  holder():
    locals:
      which: ea?
    body:
      - mutex_lock: m[which]
      - synchronize_rcu
      - mutex_unlock: m[which]
  other():
    - v = true
threads:
  h: holder()
  o: other()
properties:
  h_waits: {waits_on_slow: h}
"""


@pytest.mark.parametrize("command", [["verify"], ["verify", "--format", "json"], ["explain"], ["slow"],
                                     ["report", "-o", "{tmp}/r.html"], ["locks"]])
def test_regression_null_lock_index_in_every_command(tmp_path, command):
    """A thread standing at mutex_lock(m[null]) (its step is a runtime_safety violation) once crashed the
    wait analyses (`waits_on_slow`, deadlock explanation) and the narrated trace with an internal error."""
    path = tmp_path / "spec.yaml"
    path.write_text(NULL_LOCK_INDEX)
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    result = CliRunner().invoke(main, [*args, str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "internal error" not in result.output and "Traceback" not in result.output
    if command[0] == "verify":
        assert result.exit_code == 1
        assert "runtime_safety" in result.output and "index is null" in result.output
        assert ("unreachable h_waits" in result.output if len(command) == 1 else
                json.loads(result.output)["properties"][0]["status"] == "unreachable")
    if command[0] == "explain":
        assert "whose lock index does not evaluate" in result.output


def test_a_call_whose_callee_returns_within_the_step_shows_the_arguments_it_received(tmp_path) -> None:
    """The callee runs to its return in the call's own step (its parameters are reset by then): the trace
    still names the values passed, computed in the caller's frame."""
    spec = tmp_path / "call.yaml"
    spec.write_text("""netcheck: 1
name: call_returns_at_once
entities:
  ea: [ga]
locks:
  m0: mutex
procedures:
  h(ea p, bool q):
    body:
    - p = ga
  t(ea n):
    body:
    - h(n, locked(m0))
    - assert: locked(m0)
      name: held
threads:
  t:
    for: n in ea
    run: t(n)
""", encoding="utf-8")
    result = CliRunner().invoke(main, ["verify", str(spec)])
    assert result.exit_code == 1, result.output
    assert "h(p=ga, q=false)" in result.output
