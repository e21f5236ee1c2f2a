"""A state-graph view (checker/analyses/state_graph.py) given its words, and written as DOT, GraphML or JSON.

Every node gets structured fields (thread positions, the lock table, shared variables) and a text label
built from them; every edge its step (thread, statement, location, signal) or, in a quotient, its steps
with counts. JSON keeps the structure (docs/analyses.md, "State graphs"); DOT and GraphML get the labels.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import networkx as nx
from netcheck.model.semantics.system import Thread

from ..engine.result import ExplicitResult
from .state_graph import step_fields, view_graph
from .trace import LockHolders, lock_holders, lock_row

FORMATS = (".dot", ".gv", ".graphml", ".json")
EDGE_LABEL_STEPS = 4   # a quotient edge's label names this many steps, then "+N more"


def described(exp: ExplicitResult, view: str, path: Sequence[int] = (), cap: int | None = None) -> nx.DiGraph:
    """`view_graph` with every node's and edge's fields and label (see the module docstring). Labels name
the shared variables whose value differs from the first initial state's."""
    g = view_graph(exp, view, path, cap)
    g.graph.update(view=view, states=len(exp.store))
    if view == "code":
        return _code_described(exp, g)
    initial = shared_values(exp, exp.store.states[0]) if len(exp.store) else {}
    for node, data in g.nodes(data=True):
        sid = data.get("first", node)
        state = exp.store.states[sid]
        data.update(state_fields(exp, state, view))
        if view != "locks":
            data["threads"] = thread_positions(exp, state)
        data["label"] = node_label(data, initial)
    for _, _, data in g.edges(data=True):
        if "steps" in data:
            data["steps"] = [{**step_fields(exp, a), "count": n} for a, n in sorted(data["steps"].items())]
            data["count"] = sum(s["count"] for s in data["steps"])
        data["label"] = edge_label(data)
    return g


def _code_described(exp: ExplicitResult, g: nx.DiGraph) -> nx.DiGraph:
    """The `code` view's words: each node its statement (file, line, text) or `done`, in a cluster per
    thread declaration; each edge its steps with counts, and how many of its moves were wake-ups."""
    first: dict[str, Thread] = {}
    for t in exp.system.threads:
        first.setdefault(t.decl, t)
    for _, data in g.nodes(data=True):
        thread = first[data["thread"]]
        node = thread.nodes[data["pc"]] if data["pc"] < len(thread.nodes) else None
        if node is None or node.stmt is None:
            data.update(done=node is None, statement="done" if node is None else node.kind)
        else:
            data.update(done=False, file=node.stmt.span.file, line=node.stmt.span.line, statement=node.stmt.text)
        data["cluster"] = data["thread"]
        where = f"{Path(data['file']).name}:{data['line']} " if "line" in data else ""
        data["label"] = f"{where}{data['statement']}\n{data['states']:,} state{'s' if data['states'] != 1 else ''}"
    for _, _, data in g.edges(data=True):
        data["steps"] = [{**step_fields(exp, a), "count": n} for a, n in sorted(data["steps"].items())]
        data["count"] = sum(step["count"] for step in data["steps"])
        woken = f"\n(woken {data['woken']:,}x)" if data["woken"] else ""
        data["label"] = f"x{data['count']:,}{woken}"
    return g


def state_fields(exp: ExplicitResult, state: tuple, view: str) -> dict[str, object]:
    """The lock table, and (for a single state) the shared variables."""
    system = exp.system
    out: dict[str, object] = {"locks": {lock: holders_fields(exp, held)
                                        for lock, held in lock_holders(system, state).items()}}
    if view in ("full", "trace"):
        out["shared"] = shared_values(exp, state)
    return out


def shared_values(exp: ExplicitResult, state: tuple) -> dict[str, str]:
    """Every shared variable (maps flattened by key) with its value as the spec would write it."""
    system = exp.system
    return {slot.name: system.slot_text(i, state[i]) for i, slot in enumerate(system.layout.slots)
            if slot.kind == "shared"}


def holders_fields(exp: ExplicitResult, held: LockHolders) -> dict[str, object]:
    """One lock's row as data: owner (or writer), readers with depths, queue with modes, mutex waiters,
    and the row as the report words it."""
    name = {t.tid: t.name for t in exp.system.threads}
    return {"kind": "rwsem" if held.rwsem else "mutex",
            "owner": name[held.writer] if held.writer != -1 else None,
            "readers": [{"thread": name[t], "depth": d} for t, d in held.readers],
            "queue": [{"thread": name[t], "mode": "write" if w else "read"} for t, w in held.queue],
            "waiting": [name[t] for t in held.wanted_by],
            "text": lock_row(exp.system, held).spell()}


def thread_positions(exp: ExplicitResult, state: tuple) -> list[dict[str, object]]:
    """Each thread's position: the statement it stands at (file, line, text), or done."""
    out: list[dict[str, object]] = []
    for t in exp.system.threads:
        node = exp.system.node_at(state, t.tid)
        if node is None:
            out.append({"thread": t.name, "done": True})
        elif node.stmt is None:
            out.append({"thread": t.name, "done": False, "statement": node.kind})
        else:
            span = node.stmt.span
            out.append({"thread": t.name, "done": False, "file": span.file, "line": span.line,
                        "statement": node.stmt.text})
    return out


def node_label(data: dict, initial: dict[str, str] | None = None) -> str:
    """How many states a quotient node merges, thread positions, lock rows, and the shared variables whose
    value differs from `initial` (all of them when None)."""
    lines = []
    if "states" in data:
        lines.append(f"{data['states']:,} state{'s' if data['states'] != 1 else ''}")
    for pos in data.get("threads", ()):
        where = "done" if pos["done"] else f"{Path(pos['file']).name}:{pos['line']} {pos['statement']}" \
            if "line" in pos else pos["statement"]
        lines.append(f"{pos['thread']}: {where}")
    lines.extend(f"[{lock}] {row['text']}" for lock, row in data["locks"].items())
    if not data["locks"] and "threads" not in data:
        lines.append("no lock held or waited for")
    initial = initial or {}
    lines.extend(f"{name}={value}" for name, value in data.get("shared", {}).items() if initial.get(name) != value)
    return "\n".join(lines)


def edge_label(data: dict) -> str:
    """`thread: statement (file:line)`; a quotient edge: its first steps with counts, then how many more."""
    def one(step: dict) -> str:
        signal = " [fatal signal]" if step["signal"] else ""
        return f"{step['thread']}: {step['statement']} ({Path(step['location']).name}){signal}"
    if "steps" not in data:
        return one(data)
    steps = data["steps"]
    lines = [one(s) + (f" x{s['count']}" if s["count"] > 1 else "") for s in steps[:EDGE_LABEL_STEPS]]
    if len(steps) > EDGE_LABEL_STEPS:
        lines.append(f"+{len(steps) - EDGE_LABEL_STEPS} more")
    return "\n".join(lines)


def write_graph(g: nx.DiGraph, path: Path) -> None:
    """Write a described view; the format follows the file suffix (.dot/.gv, .graphml, .json)."""
    suffix = path.suffix.lower()
    tmp = path.with_name(path.name + ".tmp")
    if suffix in (".dot", ".gv"):
        tmp.write_text(graph_dot(g), encoding="utf-8")
    elif suffix == ".graphml":
        nx.write_graphml(_scalars(g), tmp)
    elif suffix == ".json":
        tmp.write_text(json.dumps(nx.node_link_data(g, edges="edges"), indent=1, default=str), encoding="utf-8")
    else:
        raise ValueError(f"unknown graph format '{suffix}': use one of {', '.join(FORMATS)}")
    tmp.replace(path)


def _scalars(g: nx.DiGraph) -> nx.DiGraph:
    """A copy keeping only the attributes GraphML can hold (numbers, strings, booleans)."""
    def keep(data: dict) -> dict:
        return {k: v for k, v in data.items() if isinstance(v, (str, int, float, bool))}
    out = nx.DiGraph(**keep(g.graph))
    out.add_nodes_from((n, keep(d)) for n, d in g.nodes(data=True))
    out.add_edges_from((u, v, keep(d)) for u, v, d in g.edges(data=True))
    return out


def graph_dot(g: nx.DiGraph) -> str:
    """DOT text written by hand from a described view (pydot/pygraphviz are optional and absent here):
    deadlocked nodes pink, final ones green, the counterexample in red."""
    def q(text: object, end: str = "\\l") -> str:   # \l: a left-aligned line
        return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", end) + end + '"'

    def ident(node: object) -> str:   # state ids as they are, the code view's names quoted
        return str(node) if isinstance(node, int) else q(node, "")
    lines = [f"digraph {q(g.graph.get('spec', 'netcheck'), '')} {{", "  node [shape=box, fontsize=9];",
             "  edge [fontsize=8];"]
    clusters: dict[str, list[str]] = {}
    for node, data in g.nodes(data=True):
        deadlock, final = data.get("deadlock") or data.get("deadlocks"), data.get("final") or data.get("finals")
        style = ', style=filled, fillcolor="#f4cccc"' if deadlock else (
            ', style=filled, fillcolor="#d9ead3"' if final else "")
        border = ", color=red, penwidth=2" if data.get("on_path") else ""
        clusters.setdefault(data.get("cluster", ""), []).append(
            f"  {ident(node)} [label={q(data['label'])}{style}{border}];")
    for n, (cluster, nodes) in enumerate(clusters.items()):
        if cluster:   # the code view: one box per thread declaration
            lines.extend([f"  subgraph cluster_{n} {{", f"    label={q(cluster, '')};", *nodes, "  }"])
        else:
            lines.extend(nodes)
    for u, v, data in g.edges(data=True):
        extra = ", color=red, penwidth=2" if data.get("on_path") else ""
        lines.append(f"  {ident(u)} -> {ident(v)} [label={q(data['label'])}{extra}];")
    lines.append("}")
    return "\n".join(lines) + "\n"

