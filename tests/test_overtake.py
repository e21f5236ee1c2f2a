"""Bounded waiting (checker/analyses/overtake.py, `netcheck overtakes`): how often other threads take a lock
while a thread waits for it, on small specs whose answers are worked out by hand, on the three versions,
and against networkx on generated specs; every witness replays."""

from __future__ import annotations

import json
import random
from pathlib import Path
from textwrap import dedent

import networkx as nx
import pytest
from click.testing import CliRunner
from helpers import SPECS
from hypothesis import strategies as st
from netcheck.checker.analyses.overtake import Overtaken, acquisition_sites, overtakes, strongly_connected
from netcheck.checker.cli import main
from netcheck.checker.engine.explore import explore
from netcheck.checker.engine.limits import Limits
from netcheck.checker.engine.result import ExplicitResult
from netcheck.model.lang.lockapi import LOCK_API
from netcheck.model.semantics import ir
from netcheck.model.semantics.locks import read_depth
from netcheck.model.semantics.system import TransitionSystem
from spec_generator import generated_systems
from test_reference_agreement import load_text

# each thread takes m once. A thread is blocked at mutex_lock only while another holds m, and that one
# never takes it again: with two threads nobody is overtaken (0); with three, the third can take m
# between the holder's release and the waiter's turn, once (1), and nobody else is left to do it again
ONCE = """
    netcheck: 1
    locks: {m: mutex}
    procedures:
      once():
        - mutex_lock: m
        - mutex_unlock: m
    threads:
      a: once()
      b: once()
"""
THREE = ONCE + "      c: once()\n"

# b takes and releases m for ever: each time m is free, a could take it, and b takes it first
STEALING = """
    netcheck: 1
    locks: {m: mutex}
    procedures:
      once():
        - mutex_lock: m
        - mutex_unlock: m
      loop():
        - while: "true"
          do:
            - mutex_lock: m
            - mutex_unlock: m
    threads:
      a: once()
      b: loop()
    options: {deadlock: false}
"""

# a reader holds s, the writer queues, a second reader arrives. The rwsem is FIFO: the second reader
# queues behind the writer, so nothing takes s while the writer waits (0); a reader can wait behind the
# writer, which takes s first (1)
FIFO = """
    netcheck: 1
    locks: {s: rwsem}
    procedures:
      reader():
        - down_read: s
        - up_read: s
      writer():
        - down_write: s
        - up_write: s
    threads:
      first: reader()
      writer: writer()
      second: reader()
"""

# the holder has s for write; two readers and a writer queue behind it (the writer only once the holder
# has s). Releasing, the holder grants the run of readers at the head of the queue: both, in one step,
# when both queued ahead of the writer (2)
READERS_AHEAD = """
    netcheck: 1
    locks: {s: rwsem}
    state: {taken: bool}
    procedures:
      holder():
        - down_write: s
        - taken = true
        - up_write: s
      reader():
        - down_read: s
        - up_read: s
      writer():
        - await: taken
        - down_write: s
        - up_write: s
    threads:
      holder: holder()
      reader: {run: reader(), count: 2}
      writer: writer()
"""


def explored(text: str, limits: Limits | None = None) -> ExplicitResult:
    return explore(TransitionSystem(load_text(dedent(text))), limits or Limits())


def answer(text: str, thread: str) -> Overtaken:
    rows = overtakes(explored(text), thread)
    assert len(rows) == 1
    return rows[0]


def test_two_threads_taking_a_mutex_once_never_overtake() -> None:
    row = answer(ONCE, "a")
    assert row.waits and row.most == 0 and row.trace is None and row.overtakers == ()
    assert row.site == f"mutex_lock(&m) at {row.location} in once()"


def test_a_third_thread_overtakes_once() -> None:
    exp = explored(THREE)
    for decl in ("a", "b", "c"):
        row = overtakes(exp, decl)[0]
        assert row.most == 1 and len(row.overtakers) == 2 and len(row.overtaken_at) == 1
        assert_witness(exp, row)


def test_a_looping_thread_overtakes_unboundedly_by_stealing() -> None:
    exp = explored(STEALING)
    row = overtakes(exp, "a")[0]
    assert row.most is None and row.overtakers == ("b",)
    assert not row.starvation, "a is enabled whenever m is free: b steals it, it is never starved while blocked"
    assert row.trace is not None and 0 <= row.cycle_start < len(row.trace.steps)
    assert_witness(exp, row)
    assert overtakes(exp, "b")[0].most == 0, "a takes m once: b waits behind it, then nobody is left"


def test_the_rwsem_queue_is_fifo() -> None:
    exp = explored(FIFO)
    writer = overtakes(exp, "writer")[0]
    assert writer.waits and writer.most == 0, "the second reader queues behind the writer"
    for decl in ("first", "second"):
        row = overtakes(exp, decl)[0]
        assert row.most == 1 and row.overtakers == ("writer",)
        assert_witness(exp, row)


def test_a_release_grants_the_readers_at_the_head() -> None:
    exp = explored(READERS_AHEAD)
    row = overtakes(exp, "writer")[0]
    assert row.most == 2 and row.overtakers == ("reader[0]", "reader[1]")
    assert_witness(exp, row)
    # one step grants both readers: an overtake each
    assert len(row.overtaken_at) == 2 and len(set(row.overtaken_at)) == 1


def test_never_blocked_there() -> None:
    row = answer(ONCE.replace("      b: once()\n", ""), "a")
    assert not row.waits and row.most == 0


# ---------------------------------------------------------------- witnesses


def site_pcs(system: TransitionSystem, tid: int, row: Overtaken) -> set[int]:
    """The program points of the row's acquisition in thread `tid` (every inlined copy, its rwsem waits)."""
    site = acquisition_sites(system, tid)
    nodes = system.threads[tid].nodes
    return {pc for pc, at in enumerate(site) if at >= 0 and nodes[at].stmt is not None
            and nodes[at].stmt.span.short == row.location and nodes[at].stmt.text == row.statement}


def taken_by_others(system: TransitionSystem, before: tuple, after: tuple, waiter: int) -> int:
    """How many threads other than the waiter hold the lock it stands at after the step and did not before,
    or hold one more read hold of it without having been its writer (written apart from the analysis)."""
    node = system.node_at(before, waiter)
    assert isinstance(node, (ir.LockCall, ir.LockWait))
    b = system.lock_slot(node, before)
    if b is None:   # a lock index that does not evaluate: no lock to take (the waiter's step is a violation)
        return 0
    rwsem = isinstance(node, ir.LockWait) or node.lock_kind == "rwsem"
    count = 0
    for x in range(len(system.threads)):
        if x == waiter or before[b] == x:
            continue
        if after[b] == x or (rwsem and read_depth(after[b + 1], x) > read_depth(before[b + 1], x)):
            count += 1
    return count


def assert_witness(exp: ExplicitResult, row: Overtaken) -> None:
    """Each step is a transition of the system; from the first state where the waiter is blocked at the
    acquisition it stays there; the overtakes after that are `most` (unbounded: the cycle returns to the
    state it starts from and takes the lock at least once)."""
    system, trace = exp.system, row.trace
    assert trace is not None
    for step, before, after in zip(trace.steps, trace.states, trace.states[1:]):
        assert after in system.fire(before, step.action)
    waiter = next(t.tid for t in system.threads if t.name == row.instance)
    pcs, pcslot = site_pcs(system, waiter, row), system.threads[waiter].pcslot
    first = next(i for i, s in enumerate(trace.states) if s[pcslot] in pcs and system.expand(s)[1] >> waiter & 1)
    assert first == row.blocked_after
    assert all(s[pcslot] in pcs for s in trace.states[first:])
    counted = [i for i in range(first, len(trace.steps))
               for _ in range(taken_by_others(system, trace.states[i], trace.states[i + 1], waiter))]
    assert tuple(counted) == row.overtaken_at
    if row.most is None:
        assert first <= row.cycle_start and trace.states[row.cycle_start] == trace.states[-1]
        assert any(i >= row.cycle_start for i in counted)
    else:
        assert len(counted) == row.most


# ---------------------------------------------------------------- the three versions


# at one namespace: the creator waits at its rwsem (or net_mutex) behind the modules, and at RTNL behind
# the device module's three RTNL sections; with net_sem it never waits at net_mutex (only cleanup_net()
# takes it too, and the namespace is cleaned up after its creator is done)
PINNED = {
    "net_mutex": {"mutex_lock(&rtnl_mutex)": 3, "mutex_lock_killable(&net_mutex)": 4},
    "net_sem": {"down_read_killable(&net_sem)": 1, "mutex_lock_killable(&net_mutex)": None,
                "mutex_lock(&rtnl_mutex)": 3},
    "pernet_ops_rwsem": {"down_write(&net_rwsem)": None, "down_read_killable(&pernet_ops_rwsem)": 1,
                         "mutex_lock(&rtnl_mutex)": 3},
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_the_creator_on_the_three_versions(name: str) -> None:
    result = CliRunner().invoke(main, ["overtakes", str(SPECS / f"{name}.yaml"), "--thread", "creator",
                                       "--bound", "net=1", "--format", "json", "--trace"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["complete"] and list(data["overtakes"]) == ["creator"]
    rows = data["overtakes"]["creator"]
    assert {r["statement"]: (r["most"] if r["waits"] else None) for r in rows} == PINNED[name]
    for r in rows:
        assert not r["unbounded"] and (r["trace_steps"] > 0) == bool(r["most"])
        assert len(r["overtaken_at"]) == (r["most"] or 0) and ("trace" in r) == bool(r["most"])


def test_witnesses_on_a_shipped_spec_replay() -> None:
    from netcheck.model.lang.parse import load_spec
    exp = explore(TransitionSystem(load_spec(SPECS / "net_sem.yaml", {"net": 1})), Limits())
    rows = [r for decl in ("creator", "device_module") for r in overtakes(exp, decl) if r.trace is not None]
    assert len(rows) >= 4
    for row in rows:
        assert_witness(exp, row)


# ---------------------------------------------------------------- the command


def test_the_command_in_text(tmp_path: Path) -> None:
    spec = tmp_path / "stealing.yaml"
    spec.write_text(dedent(STEALING))
    result = CliRunner().invoke(main, ["overtakes", str(spec), "--trace"])
    assert result.exit_code == 0, result.output
    assert f"  mutex_lock(&m) at {spec}:6 in once(): unbounded" in result.output
    assert "overtaken by b (waiting: a)" in result.output
    assert "only strong fairness rules it out" in result.output
    assert "the cycle from step 3; a blocked there after step 1, overtaken at step 3" in result.output
    assert "CPU0 b" in result.output
    assert "b: how often other threads take a lock while it waits for it" in result.output


def test_the_command_exit_codes(tmp_path: Path) -> None:
    spec = tmp_path / "three.yaml"
    spec.write_text(dedent(THREE))
    runner = CliRunner()
    assert runner.invoke(main, ["overtakes", str(spec), "--thread", "a"]).exit_code == 0
    cut = runner.invoke(main, ["overtakes", str(spec), "--max-states", "5"])
    assert cut.exit_code == 3 and "(in the states explored)" in cut.output
    bad = runner.invoke(main, ["overtakes", str(spec), "--thread", "d"])
    assert bad.exit_code == 2 and "no threads: entry 'd'" in bad.output
    assert runner.invoke(main, ["overtakes", str(tmp_path / "missing.yaml")]).exit_code == 2


# ---------------------------------------------------------------- against networkx


def test_strongly_connected_agrees_with_networkx() -> None:
    rng = random.Random(14)
    for _ in range(300):
        n = rng.randint(1, 12)
        edges = sorted({(rng.randrange(n), rng.randrange(n)) for _ in range(rng.randint(0, 3 * n))})
        keep = [rng.random() < 0.8 for _ in range(n)]
        start, dst = [0] * (n + 1), []
        for u in range(n):
            dst += [v for a, v in edges if a == u]
            start[u + 1] = len(dst)
        for allowed in (None, keep):
            comp, count = strongly_connected(n, start, dst, allowed)
            g = nx.DiGraph()
            g.add_nodes_from(u for u in range(n) if allowed is None or allowed[u])
            g.add_edges_from((u, v) for u, v in edges if u in g and v in g)
            expected = {frozenset(c) for c in nx.strongly_connected_components(g)}
            assert {frozenset(u for u in range(n) if comp[u] == c) for c in range(count)} == expected
            assert all(comp[u] == -1 for u in range(n) if u not in g)
            # reverse topological numbering: every edge between components goes to a lower number
            assert all(comp[u] >= comp[v] for u, v in g.edges)


def reference(exp: ExplicitResult, decl: str) -> dict[tuple[str, str], tuple[int | None, bool]]:
    """The answers recomputed with networkx from the definition: per acquisition of each instance, the
    states where it stands there and the transitions that keep it there, from the states where it is
    blocked there; the heaviest path, or unbounded (and starved: a cycle among blocked states)."""
    system, store = exp.system, exp.store
    out: dict[tuple[str, str], tuple[int | None, bool]] = {}
    for t in (t for t in system.threads if t.decl == decl):
        for pc, node in enumerate(t.nodes):
            if not isinstance(node, ir.LockCall) or not LOCK_API[node.op].waits:
                continue
            pcs = {pc, node.wait} - {-1}
            g = nx.DiGraph()
            members = {sid for sid, s in enumerate(store.states) if s[t.pcslot] in pcs}
            for sid in members:
                if sid >= store.expanded:
                    continue
                for e in store.edge_range(sid):
                    dst = store.edges_dst[e]
                    if dst in members:
                        w = taken_by_others(system, store.states[sid], store.states[dst], t.tid)
                        g.add_edge(sid, dst, w=w)
            # who is blocked: expanded again, so a state with a violating step counts too (its stored mask is 0)
            blocked = {sid for sid in members if sid < store.expanded
                       and system.expand(store.states[sid])[1] >> t.tid & 1}
            if not blocked:
                continue
            reach = set(blocked).union(*(nx.descendants(g, r) for r in blocked if r in g))
            h = g.subgraph(reach).copy()
            h.add_nodes_from(blocked)

            def cyclic(graph: nx.DiGraph) -> bool:
                comp = {u: i for i, c in enumerate(nx.strongly_connected_components(graph)) for u in c}
                return any(w and comp[u] == comp[v] for u, v, w in graph.edges(data="w"))
            if cyclic(h):
                most, starved = None, cyclic(h.subgraph(blocked))
            else:
                dag = nx.condensation(h)
                mapping = dag.graph["mapping"]
                for u, v, w in h.edges(data="w"):
                    a, b = mapping[u], mapping[v]
                    if a != b:
                        dag[a][b]["w"] = max(dag[a][b].get("w", 0), w)
                most, starved = nx.dag_longest_path_length(dag, weight="w", default_weight=0), False
            key = (node.stmt.span.short, node.stmt.text) if node.stmt else ("", "")
            old = out.get(key)
            if old is None or (old[0] is not None and (most is None or most > old[0])) \
                    or (most is None and old[0] is None and starved):
                out[key] = (most, starved)
    return out


# the critical sections a contended spec's threads run: a mutex, an rwsem for read or for write, a spinlock
SECTIONS = {"mutex": ("mutex_lock: m", "mutex_unlock: m"), "read": ("down_read: s", "up_read: s"),
            "write": ("down_write: s", "up_write: s"), "spin": ("spin_lock: p", "spin_unlock: p")}


@st.composite
def contended_specs(draw: st.DrawFn) -> str:
    """Random specs whose two to four threads take the same few locks, some of them for ever: the general
    generator rarely makes a thread wait while others take its lock, which is what this analysis is about."""
    lines = ["netcheck: 1", "locks: {m: mutex, s: rwsem, p: spinlock}", "procedures:"]
    procs = draw(st.integers(1, 3))
    for k in range(procs):
        body = [f"  - {line}" for kind in draw(st.lists(st.sampled_from(sorted(SECTIONS)), min_size=1, max_size=3))
                for line in SECTIONS[kind]]
        if draw(st.booleans()) and draw(st.booleans()):
            body = ['  - while: "true"', "    do:"] + [f"    {line}" for line in body]
        lines += [f"  p{k}():"] + [f"  {line}" for line in body]
    lines.append("threads:")
    for t in range(draw(st.integers(2, 4))):
        lines.append(f"  t{t}: p{draw(st.integers(0, procs - 1))}()")
    lines.append("options: {deadlock: false}")
    return "\n".join(lines) + "\n"


def test_generated_specs_agree_with_networkx_and_witnesses_replay() -> None:
    seen = {"bounded": 0, "unbounded": 0}

    def check(system: TransitionSystem) -> None:
        exp = explore(system, Limits(max_states=3_000))
        for decl in sorted({t.decl for t in system.threads}):
            rows = overtakes(exp, decl)
            got = {(r.location, r.statement): (r.most, r.starvation) for r in rows if r.waits}
            assert got == reference(exp, decl)
            for row in rows:
                if row.trace is not None:
                    assert_witness(exp, row)
                    seen["unbounded" if row.most is None else "bounded"] += 1

    generated_systems(100)(check)()
    generated_systems(40, contended_specs())(check)()
    assert seen["bounded"] > 0 and seen["unbounded"] > 0, seen
