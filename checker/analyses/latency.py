"""How many slow steps a thread can wait through: the seed's latency story as a number.

For the threads of one declaration and one procedure they call (a creator's `copy_net_ns()`), the most
slow steps (a `synchronize_rcu()` or `rcu_barrier()` whose wait ends, or a `slow: true` statement left)
that *other* threads complete while the thread is inside that procedure and blocked (at a lock it cannot
take, in an rwsem queue, or at an await), over every explored run. Decided on the explored graph: the
states where the thread is inside the procedure, the transitions among them weighted 1 for such a
completion; a cycle through a weighted transition makes the number unbounded, otherwise it is the heaviest
path of the acyclic graph of strongly connected components (networkx). A run cut short gives a lower
bound only, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
from netcheck.model.semantics.system import TransitionSystem
from netcheck.model.semantics.waits import blockers

from ..engine.paths import path_to
from ..engine.result import ExplicitResult, Finding, Label, Path
from .trace import Trace, describe_path


@dataclass(frozen=True)
class SlowWaited:
    """The answer for one thread declaration and procedure."""

    thread: str                  # the threads: entry
    procedure: str
    most: int | None             # the most slow steps waited through in one call; None: unbounded
    waited: tuple[str, ...] = ()  # the slow steps of the witness, in order (`synchronize_rcu() in cleanup_net()`)
    trace: Trace | None = None    # a run that reaches the most (unbounded: up to the cycle, then once round it)
    cycle_start: int = -1         # unbounded: the step at which the witness's cycle begins (once round it)
    complete: bool = True         # the whole state space was explored (otherwise `most` is a lower bound)


def slow_steps_waited(exp: ExplicitResult, thread: str, procedure: str) -> tuple[SlowWaited, SlowWaited]:
    """The most slow steps other threads complete while a `thread` instance, inside `procedure`, is blocked:
    counting every wait, and counting none where it waits in an rwsem queue behind a queued writer."""
    best: list[SlowWaited] = []
    for t in (t for t in exp.system.threads if t.decl == thread):
        answers = _for_instance(exp, t.tid, procedure)
        best = list(answers) if not best else [a if _more(a, b) else b for a, b in zip(answers, best)]
    assert best, f"no thread of {thread}"
    return best[0], best[1]


def _more(a: SlowWaited, b: SlowWaited) -> bool:
    return b.most is not None and (a.most is None or a.most > b.most)


def completes_slow_step(system: TransitionSystem, before: tuple, after: tuple, tid: int) -> bool:
    """Thread `tid` leaves a slow step: inside one before, not after."""
    return system.in_slow_step(before, tid) and not system.in_slow_step(after, tid)


def _for_instance(exp: ExplicitResult, tid: int, procedure: str) -> tuple[SlowWaited, SlowWaited]:
    """The answer for one thread instance: counting every wait, and counting none behind a queued writer."""
    system, store = exp.system, exp.store
    thread = system.threads[tid]
    inside = next(pcs for pcslot, pcs in system.env.positions[procedure] if pcslot == thread.pcslot)
    states, bit, masks = store.states, 1 << tid, exp.blocked_masks()
    member = {sid for sid, s in enumerate(states) if s[thread.pcslot] in inside}
    g = nx.DiGraph()
    g.add_nodes_from(member)
    for src, dst, action, choice in store.edges():
        if src in member and dst in member:
            mover = system.actions[action].tid
            blocked = masks[src] if src < len(masks) else 0
            done = int(mover != tid and bool(blocked & bit)
                       and completes_slow_step(system, states[src], states[dst], mover))
            direct = done and not any(e.relation == "queued_writer" for e in blockers(system, states[src], tid))
            if not g.has_edge(src, dst) or g[src][dst]["all"] < done:
                g.add_edge(src, dst, all=done, direct=int(direct), action=action, choice=choice)
    component: dict[int, int] = {}
    for n, members in enumerate(nx.strongly_connected_components(g)):
        for sid in members:
            component[sid] = n
    dag = nx.condensation(g, _components(component))
    mapping = dag.graph["mapping"]
    for u, v, data in g.edges(data=True):
        cu, cv = mapping[u], mapping[v]
        if cu != cv:
            for key in ("all", "direct"):
                if dag[cu][cv].get(key, -1) < data[key]:
                    dag[cu][cv][key], dag[cu][cv][f"via_{key}"] = data[key], (u, v)
    return tuple(_heaviest(exp, tid, procedure, g, component, dag, key) for key in ("all", "direct"))  # type: ignore


def _heaviest(exp: ExplicitResult, tid: int, procedure: str, g: nx.DiGraph, component: dict[int, int],
              dag: nx.DiGraph, key: str) -> SlowWaited:
    """The heaviest path of `g` by edge attribute `key` (unbounded: a cycle through a weighted edge), on the
    condensation `dag` of its strongly connected components."""
    name = exp.system.threads[tid].decl
    if not any(w for _, _, w in g.edges(data=key)):
        return SlowWaited(name, procedure, 0, complete=exp.complete)
    for u, v, w in g.edges(data=key):
        if w and component[u] == component[v]:   # a cycle through a completion: unbounded
            back = nx.shortest_path(g.subgraph([s for s in component if component[s] == component[u]]), v, u)
            return _answer(exp, tid, procedure, None, [u, *back], g, key)
    heaviest = nx.dag_longest_path(dag, weight=key, default_weight=0)
    most = sum(dag[a][b][key] for a, b in zip(heaviest, heaviest[1:]))
    segment: list[int] = []
    for a, b in zip(heaviest, heaviest[1:]):
        u, v = dag[a][b][f"via_{key}"]
        segment += nx.shortest_path(g, segment[-1], u)[1:] if segment else [u]
        segment.append(v)
    return _answer(exp, tid, procedure, most, segment, g, key)


def _components(component: dict[int, int]) -> list[set[int]]:
    out: dict[int, set[int]] = {}
    for sid, n in component.items():
        out.setdefault(n, set()).add(sid)
    return [out[n] for n in sorted(out)]


def _answer(exp: ExplicitResult, tid: int, procedure: str, most: int | None, segment: list[int], g: nx.DiGraph,
            key: str) -> SlowWaited:
    """The answer with its witness: a shortest path to the segment's first state, then the segment."""
    system, store = exp.system, exp.store
    stem = path_to(exp, Finding("slow_steps_waited", segment[0]))
    labels, states, waited = list(stem.labels), list(stem.states), []
    for u, v in zip(segment, segment[1:]):
        data = g[u][v]
        info = system.actions[data["action"]]
        labels.append(Label(info.tid, data["action"], data["choice"], info.signal))
        states.append(store.states[v])
        if data[key]:
            node = system.node_at(store.states[u], info.tid)
            where = f" in {node.frame[-1]}()" if node is not None and node.frame else ""
            waited.append(f"{node.stmt.text if node is not None and node.stmt else 'a slow step'}{where}")
    trace = describe_path(system, Path(tuple(states), tuple(labels), None, (), False))
    return SlowWaited(system.threads[tid].decl, procedure, most, tuple(waited), trace,
                      len(stem.labels) if most is None else -1, exp.complete)
