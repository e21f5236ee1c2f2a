"""State-graph views (`verify --graph FILE --graph-view full|trace|pc|locks`): each view's node count against
an independent count, the size cap, lock owners and queues in the labels, and the JSON export's fields."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest
from click.testing import CliRunner
from helpers import ABBA, SPECS
from netcheck.checker.analyses.graph_export import described, graph_dot
from netcheck.checker.analyses.state_graph import VIEWS, state_graph, view_graph, view_size
from netcheck.checker.analyses.trace import lock_rows
from netcheck.checker.cli import main
from netcheck.checker.cli.run import counterexample_ids, verify_one
from netcheck.checker.engine.limits import Limits
from netcheck.checker.engine.result import ExplicitResult

# a reader holds the rwsem while a writer queues behind it and a second reader queues behind the writer;
# the writer then takes it with a second read unlocked: lock_discipline fails (a counterexample)
RWSEM = """
netcheck: 1
name: queued
locks: {s: rwsem}
state: {x: "int[0..2]"}
procedures:
  reader():
    - down_read: s
    - x = 1
    - up_read: s
  writer():
    - down_write: s
    - x = 2
    - up_write: s
    - up_read: s
threads:
  r: {count: 2, run: reader()}
  w: writer()
"""


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("graphs")
    (folder / "queued.yaml").write_text(RWSEM)
    (folder / "abba.yaml").write_text(ABBA)
    return folder


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def explored(path: Path) -> tuple[ExplicitResult, list[int]]:
    report, exp = verify_one(str(path), {}, Limits(), None, False)
    return exp, counterexample_ids(report, exp)


@pytest.mark.parametrize("name", ["queued.yaml", "abba.yaml"])
def test_each_view_counts_what_it_should(specs: Path, name: str) -> None:
    exp, path = explored(specs / name)
    assert path, "both specs have a counterexample"
    system, states = exp.system, exp.store.states
    full = state_graph(exp)
    assert view_size(exp, "full") == full.number_of_nodes() == len(states)
    around = set(path).union(*(set(full.successors(s)) | set(full.predecessors(s)) for s in path))
    assert view_size(exp, "trace", path) == len(around)
    assert set(view_graph(exp, "trace", path)) == around
    by_position = {tuple(system.position(s, t) for t in range(system.thread_count)) for s in states}
    assert view_size(exp, "pc", path) == len(by_position)
    by_lock_table = {tuple((lock, row.spell()) for lock, row in lock_rows(system, s).items()) for s in states}
    assert view_size(exp, "locks", path) == len(by_lock_table)
    transitions = sum(1 for _ in exp.store.edges())
    pc = described(exp, "pc", path)
    assert pc.number_of_nodes() == len(by_position)
    assert sum(d["count"] for _, _, d in pc.edges(data=True)) == transitions          # every step, loops kept
    assert sum(d["states"] for _, d in pc.nodes(data=True)) == len(states)
    locks = described(exp, "locks", path)
    changing = sum(1 for src, dst, _, _ in exp.store.edges()
                   if lock_rows(system, states[src]) != lock_rows(system, states[dst]))
    assert sum(d["count"] for _, _, d in locks.edges(data=True)) == changing            # steps inside one: none
    for view in VIEWS:   # the counterexample is marked in every view, from its first node to its last
        g = view_graph(exp, view, path)
        assert sum(1 for _, d in g.nodes(data=True) if d["on_path"]) >= 2
        assert any(d["on_path"] for _, _, d in g.edges(data=True))


def test_labels_name_lock_owners_readers_and_queues(specs: Path) -> None:
    exp, path = explored(specs / "queued.yaml")
    labels = [d["label"] for _, d in described(exp, "full").nodes(data=True)]
    assert any("[s] held for read by r[0]; queue: w (write), r[1] (read)" in label for label in labels)
    assert any("[s] held for write by w" in label for label in labels)
    assert any("x=2" in label for label in labels)                   # shared values that changed
    dot = graph_dot(described(exp, "locks", path))
    assert "held for read by r[0], r[1]" in dot and "no lock held or waited for" in dot


def test_json_export_has_structured_fields(specs: Path, tmp_path: Path) -> None:
    out = tmp_path / "g.json"
    assert run("verify", "--graph", str(out), str(specs / "queued.yaml")).exit_code == 1
    data = json.loads(out.read_text())
    assert data["graph"]["view"] == "full" and data["graph"]["spec"] == "queued"
    queued = next(n for n in data["nodes"] if n["locks"] and n["locks"]["s"]["queue"][:1] == [
        {"thread": "w", "mode": "write"}])
    assert {"id", "depth", "deadlock", "final", "on_path", "threads", "locks", "shared", "label"} <= set(queued)
    row = queued["locks"]["s"]
    assert row["kind"] == "rwsem" and row["owner"] is None and row["readers"] == [{"thread": "r[0]", "depth": 1}]
    w = next(t for t in queued["threads"] if t["thread"] == "w")
    assert w["done"] is False and w["file"].endswith("queued.yaml") and w["line"] == 12
    assert w["statement"] == "down_write(&s)"
    assert set(queued["shared"]) == {"x"}
    edge = next(e for e in data["edges"] if e["on_path"])
    assert {"source", "target", "thread", "statement", "location", "signal", "label"} <= set(edge)
    assert edge["location"].endswith(f"queued.yaml:{edge['location'].rsplit(':', 1)[1]}")
    assert sum(1 for e in data["edges"] if e["on_path"]) == len(counterexample_ids(*verify_one(
        str(specs / "queued.yaml"), {}, Limits(), None, False))) - 1


def test_quotient_json_counts_merged_states(specs: Path, tmp_path: Path) -> None:
    out = tmp_path / "pc.json"
    assert run("verify", "--explore-all", "--graph", str(out), "--graph-view", "pc", str(specs / "abba.yaml")).exit_code == 0
    data = json.loads(out.read_text())
    exp, _ = explored(specs / "abba.yaml")
    assert sum(n["states"] for n in data["nodes"]) == len(exp.store.states) == data["graph"]["states"]
    assert all(len(n["threads"]) == 2 and "shared" not in n for n in data["nodes"])
    step = data["edges"][0]["steps"][0]
    assert {"thread", "statement", "location", "signal", "count"} <= set(step)
    graphml = tmp_path / "locks.graphml"
    assert run("verify", "--explore-all", "--graph", str(graphml), "--graph-view", "locks",
               str(specs / "abba.yaml")).exit_code == 0
    g = nx.read_graphml(graphml)
    assert g.number_of_nodes() == view_size(exp, "locks") and all("label" in d for _, d in g.nodes(data=True))


def test_a_view_over_the_cap_is_refused_and_nothing_written(specs: Path, tmp_path: Path) -> None:
    out = tmp_path / "g.dot"
    exp, _ = explored(specs / "queued.yaml")
    states = len(exp.store.states)
    result = run("verify", "--graph", str(out), "--graph-max-states", str(states - 1), str(specs / "queued.yaml"))
    assert result.exit_code == 2 and not out.exists() and not list(tmp_path.iterdir())
    assert f"the full view of {specs / 'queued.yaml'} has {states:,} nodes, more than --graph-max-states " \
           f"{states - 1:,}; {out} was not written" in result.output
    assert "--graph-view trace|pc|locks" in result.output and "Traceback" not in result.output
    assert "VIOLATED" in result.stdout and "lock_discipline" in result.stdout     # the verdicts all the same
    assert result.stderr.startswith("netcheck: --graph: the full view")
    ok = run("verify", "--graph", str(out), "--graph-max-states", str(states), str(specs / "queued.yaml"))
    assert ok.exit_code == 1 and out.read_text().count(" -> ") == state_graph(exp).number_of_edges()


def test_graph_view_usage_errors(specs: Path, tmp_path: Path) -> None:
    holds = tmp_path / "holds.yaml"
    holds.write_text(RWSEM.replace("    - up_read: s\nthreads", "threads"))
    result = run("verify", "--graph", str(tmp_path / "g.dot"), "--graph-view", "trace", str(holds))
    assert result.exit_code == 2 and "has no counterexample" in result.output
    assert not (tmp_path / "g.dot").exists()
    result = run("verify", "--graph-view", "pc", str(holds))
    assert result.exit_code == 2 and "--graph-view" in result.output and "--graph FILE" in result.output
    assert run("verify", "--graph", str(tmp_path / "g.dot"), "--graph-view", "nosuch", str(holds)).exit_code == 2


def test_lock_and_position_views_on_a_shipped_bug() -> None:
    """The lock-state key (raw slots, for speed) merges exactly the states whose lock table reads the same."""
    report, exp = verify_one(str(SPECS / "bugs" / "rtnl_before_net_sem.yaml"), {}, Limits(), None, False,
                             stop_at_expected=True)
    system, states = exp.system, exp.store.states
    by_lock_table = {tuple((lock, row.spell()) for lock, row in lock_rows(system, s).items()) for s in states}
    assert view_size(exp, "locks") == len(by_lock_table) > 100
    by_position = {tuple(system.position(s, t) for t in range(system.thread_count)) for s in states}
    assert view_size(exp, "pc") == len(by_position)
    path = counterexample_ids(report, exp)
    assert 2 <= len(path) < view_size(exp, "trace", path) < 100


def test_code_view_is_each_declaration_s_statements_and_what_follows_what(specs: Path) -> None:
    exp, path = explored(specs / "queued.yaml")
    threads = exp.system.threads
    stood = {(t.decl, s[t.pcslot]) for s in exp.store.states for t in threads}
    moves: dict[tuple[str, int, int], int] = {}
    for src, dst, _, _ in exp.store.edges():
        for t in threads:
            a, b = exp.store.states[src][t.pcslot], exp.store.states[dst][t.pcslot]
            if a != b:
                moves[(t.decl, a, b)] = moves.get((t.decl, a, b), 0) + 1
    assert view_size(exp, "code") == len(stood) < len(exp.store)
    g = described(exp, "code", path)
    assert {(d["thread"], d["pc"]) for _, d in g.nodes(data=True)} == stood
    assert {(g.nodes[u]["thread"], g.nodes[u]["pc"], g.nodes[v]["pc"]): d["count"]
            for u, v, d in g.edges(data=True)} == moves
    # the writer's rwsem wait ends in a reader's up_read (a wake-up, not the writer's own step)
    assert any(d["woken"] and g.nodes[u]["thread"] == "w" for u, _, d in g.edges(data=True))
    statements = {d["statement"] for _, d in g.nodes(data=True)}
    assert {"down_read(&s)", "x = 2", "done"} <= statements
    assert any(d["on_path"] for _, d in g.nodes(data=True))
    dot = graph_dot(g)
    assert 'subgraph cluster_0 {\n    label="r";' in dot and 'label="w";' in dot
