"""The state graph as a networkx DiGraph, and its export through networkx's writers."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx

from ..engine.result import ExplicitResult

FORMATS = (".dot", ".gv", ".graphml", ".json")


def state_graph(exp: ExplicitResult) -> nx.DiGraph:
    """Nodes are state ids (attribute `state`: the tuple); edges carry the thread and the spec location."""
    system = exp.system
    g = nx.DiGraph(spec=system.spec.name)
    for sid, depth in enumerate(exp.store.depth):
        g.add_node(sid, depth=depth)
    for sid in exp.deadlocks:
        g.nodes[sid]["deadlock"] = True
    for sid in exp.finals:
        g.nodes[sid]["final"] = True
    threads, actions = system.threads, system.actions
    for src, dst, action, _ in exp.store.edges():
        tid = actions[action].tid
        node = threads[tid].nodes[actions[action].pc]
        location = node.stmt.span.short if node.stmt else ""
        g.add_edge(src, dst, thread=threads[tid].name, location=location,
                   statement=node.stmt.text if node.stmt else node.kind)
    return g


def state_label(exp: ExplicitResult, sid: int) -> str:
    system = exp.system
    state = exp.store.states[sid]
    parts = []
    for t in system.threads:
        node = system.node_at(state, t.tid)
        parts.append(f"{t.name}: {node.stmt.span.short if node is not None and node.stmt else 'done'}")
    for i, slot in enumerate(system.layout.slots):
        if slot.kind == "shared":
            parts.append(f"{slot.name}={system.slot_text(i, state[i])}")
    return "\n".join(parts)


def write_graph(exp: ExplicitResult, path: Path, highlight: list[int] | None = None) -> None:
    """Write the state graph; the format follows the file suffix (.dot/.gv, .graphml, .json)."""
    g = state_graph(exp)
    on_path = set(zip(highlight, highlight[1:])) if highlight else set()
    for sid in g.nodes:
        g.nodes[sid]["label"] = state_label(exp, sid)
    for u, v, data in g.edges(data=True):
        data["label"] = f"{data['thread']}: {data['statement']} ({data['location']})"
        if (u, v) in on_path:
            data["color"] = "red"
            data["penwidth"] = 2
    suffix = path.suffix.lower()
    tmp = path.with_name(path.name + ".tmp")
    if suffix in (".dot", ".gv"):
        tmp.write_text(_dot(g), encoding="utf-8")
    elif suffix == ".graphml":
        nx.write_graphml(g, tmp)
    elif suffix == ".json":
        tmp.write_text(json.dumps(nx.node_link_data(g, edges="edges"), indent=1, default=str), encoding="utf-8")
    else:
        raise ValueError(f"unknown graph format '{suffix}': use one of {', '.join(FORMATS)}")
    tmp.replace(path)


def _dot(g: nx.DiGraph) -> str:
    """DOT text written by hand from the networkx graph (pydot/pygraphviz are optional and absent here)."""
    def q(text: object) -> str:
        return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    lines = [f"digraph {q(g.graph.get('spec', 'netcheck'))} {{", "  node [shape=box, fontsize=9];"]
    for sid, data in g.nodes(data=True):
        style = ', style=filled, fillcolor="#f4cccc"' if data.get("deadlock") else (
            ', style=filled, fillcolor="#d9ead3"' if data.get("final") else "")
        lines.append(f"  {sid} [label={q(data['label'])}{style}];")
    for u, v, data in g.edges(data=True):
        extra = f", color={data['color']}, penwidth={data['penwidth']}" if "color" in data else ""
        lines.append(f"  {u} -> {v} [label={q(data['label'])}{extra}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
