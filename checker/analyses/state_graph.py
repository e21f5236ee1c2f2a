"""The state graph as networkx DiGraphs, in four views, each counted before it is built:

- `full`: every explored state and transition;
- `trace`: a counterexample's states and their direct neighbours (predecessors and successors);
- `pc`: the quotient by program positions: one node per tuple of thread positions, so that an edge says
  which code positions can follow which;
- `locks`: the quotient by the lock table (each lock's owner, readers and queue); steps that leave the
  lock table as it is are not edges;
- `code`: per thread declaration, the code positions its threads stand at (one node per statement, and
  `done`), and which follows which in some explored step: small enough to read on any spec.

State-level nodes are state ids; quotient nodes are numbered in the order their first state was found.
Attributes are structural (depth, counts, flags, action ids); checker/analyses/graph_export.py words them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence

import networkx as nx

from ..engine.result import ExplicitResult

VIEWS = ("full", "trace", "pc", "locks", "code")


class GraphTooLarge(ValueError):
    """A view with more nodes than the cap allows; nothing was built."""

    def __init__(self, view: str, nodes: int, cap: int):
        super().__init__(f"the {view} view has {nodes:,} nodes, more than {cap:,}")
        self.view, self.nodes, self.cap = view, nodes, cap


def state_graph(exp: ExplicitResult) -> nx.DiGraph:
    """Every state (node: state id, attributes depth, deadlock, final) and transition (attributes thread,
    statement, location, signal, action)."""
    return _states(exp, None, [])


def view_graph(exp: ExplicitResult, view: str, path: Sequence[int] = (), cap: int | None = None) -> nx.DiGraph:
    """The `view` of the explored graph, `path` (state ids) marked `on_path`; GraphTooLarge when it would
    have more than `cap` nodes (counted first, nothing built). The trace view needs a path."""
    nodes, members = _members(exp, view, path)
    if cap is not None and nodes > cap:
        raise GraphTooLarge(view, nodes, cap)
    if view == "code":
        return _code(exp, path)
    if isinstance(members, list):
        return _quotient(exp, members, path, drop_loops=view == "locks")
    return _states(exp, members, path)


def view_size(exp: ExplicitResult, view: str, path: Sequence[int] = ()) -> int:
    """How many nodes `view_graph` would build."""
    return _members(exp, view, path)[0]


def _members(exp: ExplicitResult, view: str, path: Sequence[int]) -> tuple[int, set[int] | list[Hashable] | None]:
    """The view's node count, and which states it keeps (a set; None: all) or each state's key (a list)."""
    if view not in VIEWS:
        raise ValueError(f"unknown graph view '{view}': use one of {', '.join(VIEWS)}")
    if view == "trace":
        if not path:
            raise ValueError("the trace view needs a counterexample")
        keep = neighbourhood(exp, path)
        return len(keep), keep
    if view == "full":
        return len(exp.store), None
    if view == "code":
        return len(_code_positions(exp)), None
    key = _KEYS[view](exp)
    keys = [key(s) for s in exp.store.states]
    return len(set(keys)), keys


def neighbourhood(exp: ExplicitResult, path: Sequence[int]) -> set[int]:
    """The states of `path` and every state one transition away from one of them, either way."""
    on_path = set(path)
    out = set(on_path)
    for src, dst, _, _ in exp.store.edges():
        if src in on_path:
            out.add(dst)
        elif dst in on_path:
            out.add(src)
    return out


def lock_key(exp: ExplicitResult) -> Callable[[tuple], Hashable]:
    """The `locks` view's key: a state's lock table (what `trace.lock_holders` reads) as raw slots, so that
    two states share a key exactly when their lock tables are equal: each lock's owner slots (an rwsem's
    three), and each thread's held mutex it stands at an acquire of (not its own)."""
    system = exp.system
    owners = [i for i, slot in enumerate(system.layout.slots) if slot.kind == "lock_owner"]
    width = {i: 3 if system.layout.lock_kinds[system.layout.slots[i].var] == "rwsem" else 1 for i in owners}
    mutexes = [i for i in owners if width[i] == 1]
    tids = range(len(system.threads))

    def key(state: tuple) -> Hashable:
        slots = tuple(state[i:i + width[i]] for i in owners)
        if all(state[i] == -1 for i in mutexes):
            return slots
        waits = (system.mutex_wait_slot(state, t) for t in tids)
        return slots, tuple(w if w is not None and state[w] not in (-1, t) else None for t, w in zip(tids, waits))
    return key


def _position_key(exp: ExplicitResult) -> Callable[[tuple], Hashable]:
    pcs = [t.pcslot for t in exp.system.threads]
    return lambda state: tuple(state[i] for i in pcs)


_KEYS: dict[str, Callable[[ExplicitResult], Callable[[tuple], Hashable]]] = {"pc": _position_key, "locks": lock_key}


def _states(exp: ExplicitResult, keep: set[int] | None, path: Sequence[int]) -> nx.DiGraph:
    """States (all, or those in `keep`) and the transitions between them."""
    system = exp.system
    g = nx.DiGraph(spec=system.spec.name)
    for sid, depth in enumerate(exp.store.depth):
        if keep is None or sid in keep:
            g.add_node(sid, depth=depth, deadlock=False, final=False, on_path=False)
    for flag, ids in (("deadlock", exp.deadlocks), ("final", exp.finals), ("on_path", path)):
        for sid in ids:
            if sid in g:
                g.nodes[sid][flag] = True
    steps = set(zip(path, path[1:]))
    for src, dst, action, _ in exp.store.edges():
        if src in g and dst in g:
            g.add_edge(src, dst, action=action, on_path=(src, dst) in steps, **step_fields(exp, action))
    return g


def step_fields(exp: ExplicitResult, action: int) -> dict[str, object]:
    """thread, statement, location (file:line) and signal of an action."""
    info = exp.system.actions[action]
    thread = exp.system.threads[info.tid]
    node = thread.nodes[info.pc]
    return {"thread": thread.name, "statement": node.stmt.text if node.stmt else node.kind,
            "location": node.stmt.span.short if node.stmt else "", "signal": info.signal}


def _quotient(exp: ExplicitResult, keys: list[Hashable], path: Sequence[int], drop_loops: bool) -> nx.DiGraph:
    """One node per distinct key (numbered by first state), with `states`, `deadlocks`, `finals`, `depth`
    (the least), `first` (its first state); one edge per pair of nodes some transition joins, with `steps`
    (action id -> how many transitions)."""
    number: dict[Hashable, int] = {}
    block = [number.setdefault(k, len(number)) for k in keys]
    g = nx.DiGraph(spec=exp.system.spec.name)
    for sid, b in enumerate(block):
        if b not in g:
            g.add_node(b, first=sid, depth=exp.store.depth[sid], states=0, deadlocks=0, finals=0, on_path=False)
        g.nodes[b]["states"] += 1
    for sid in exp.deadlocks:
        g.nodes[block[sid]]["deadlocks"] += 1
    for sid in exp.finals:
        g.nodes[block[sid]]["finals"] += 1
    for sid in path:
        g.nodes[block[sid]]["on_path"] = True
    steps = {(block[a], block[b]) for a, b in zip(path, path[1:])}
    for src, dst, action, _ in exp.store.edges():
        u, v = block[src], block[dst]
        if drop_loops and u == v:
            continue
        if not g.has_edge(u, v):
            g.add_edge(u, v, steps=Counter(), on_path=(u, v) in steps)
        g[u][v]["steps"][action] += 1
    return g


def _code_positions(exp: ExplicitResult) -> dict[tuple[str, int], int]:
    """(thread declaration, program point; the thread's end: past its last point) -> how many explored
    states have a thread of that declaration standing there."""
    threads = [(t.decl, t.pcslot) for t in exp.system.threads]
    out: Counter[tuple[str, int]] = Counter()
    for state in exp.store.states:
        for key in {(decl, state[pcslot]) for decl, pcslot in threads}:
            out[key] += 1
    return out


def _code(exp: ExplicitResult, path: Sequence[int]) -> nx.DiGraph:
    """The `code` view: nodes (declaration, point) with `thread`, `pc`, `states`, `on_path`; an edge for
    each pair of points one thread moves between in some transition, with `steps` (action id -> count) and
    `woken` (moves made by another thread's step: an rwsem releaser granting the lock)."""
    threads = exp.system.threads
    positions = _code_positions(exp)
    g = nx.DiGraph(spec=exp.system.spec.name)
    for (decl, pc), count in sorted(positions.items()):
        g.add_node(f"{decl}@{pc}", thread=decl, pc=pc, states=count, on_path=False)
    states = exp.store.states
    for sid in path:
        for t in threads:
            g.nodes[f"{t.decl}@{states[sid][t.pcslot]}"]["on_path"] = True
    on_path = set(zip(path, path[1:]))
    for src, dst, action, _ in exp.store.edges():
        before, after = states[src], states[dst]
        mover = exp.system.actions[action].tid
        for t in threads:
            if before[t.pcslot] == after[t.pcslot]:
                continue
            u, v = f"{t.decl}@{before[t.pcslot]}", f"{t.decl}@{after[t.pcslot]}"
            if not g.has_edge(u, v):
                g.add_edge(u, v, steps=Counter(), woken=0, on_path=False)
            g[u][v]["steps"][action] += 1
            g[u][v]["woken"] += t.tid != mover
            if (src, dst) in on_path and t.tid == mover:
                g[u][v]["on_path"] = True
    return g
