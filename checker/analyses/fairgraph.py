"""The explored state graph as arrays, and what liveness needs of it: strongly connected components of a
part of it, which components a fair run can stay in forever, and which states can reach one.

A run is *weakly fair* when no thread stays able to step from some point on without ever stepping, and
*strongly fair* when no thread is able to step again and again without ever stepping. A thread is able
to step (enabled) in a state when it has a step there that is not a fatal signal: a signal is something
that may happen to a thread, never something fairness makes happen. A state where nothing can step
(every thread finished, or stuck) is a run that stays there forever, and fair.

A part of the graph is given as the states it keeps (`inside`) and, optionally, a key per state: only the
edges between states of equal key count (a thread waiting at one program point: the edges that leave it
there). Components come from an iterative Tarjan over the store's edge arrays. A component with an edge
is fair under weak fairness when every thread either steps inside it or is disabled somewhere in it (a
run going round every edge of it is then fair); under strong fairness when every thread steps inside it
or is disabled everywhere in it; otherwise the states where an offending thread is enabled are removed
and what is left is split again (Emerson and Lei's recursion).
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from ..engine.result import ExplicitResult, Label


class Fairness(str, Enum):
    """Which runs count: weak or strong fairness per thread."""

    WEAK = "weak"
    STRONG = "strong"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Core:
    """A set of states a fair run can go round forever (a component, or part of one under strong
    fairness), with the threads that step inside it; `terminal`: one state where nothing can step."""

    states: frozenset[int]
    moved: int = 0
    terminal: bool = False


class FairGraph:
    """The explored graph in compressed rows (`first[s]` to `first[s + 1]` are the edges out of `s`),
    each edge's thread, and each state's enabled threads as a mask. States the search did not expand
    have no edges and are neither enabled nor terminal: a part of the graph should leave them out."""

    def __init__(self, exp: ExplicitResult):
        store, system = exp.store, exp.system
        self.exp = exp
        self.n = n = len(store)
        edges = len(store.edges_dst)
        self.expanded = store.expanded
        self.first = array("I", store.first_edge)
        self.first.extend(array("I", [edges]) * (n - self.expanded + 1))
        self.dst, self.action, self.choice = store.edges_dst, store.edges_action, store.edges_choice
        action_tid = [a.tid for a in system.actions]
        self.tid = array("H", (action_tid[a] for a in store.edges_action))
        self.signal = bytearray(edges)
        for e in store.signal_edges:
            self.signal[e] = 1
        enabled = [0] * n
        first, tid, signal = self.first, self.tid, self.signal
        for s in range(self.expanded):
            mask = 0
            for e in range(first[s], first[s + 1]):
                if not signal[e]:
                    mask |= 1 << tid[e]
            enabled[s] = mask
        # a step that violates a property is not an edge (the path ends there), but its thread is enabled
        for s in store.violating:
            enabled[s] = 0
            for tid_, _, _, sig, _ in system.expand(store.states[s])[0]:
                if not sig:
                    enabled[s] |= 1 << tid_
        self.enabled = enabled
        self.terminal = bytearray(n)   # nothing can step
        for s in range(self.expanded):
            if first[s] == first[s + 1]:
                self.terminal[s] = 1
        for s in store.violating:
            self.terminal[s] = 0
        self._rfirst: array | None = None
        self._redge: array | None = None
        self._src: array | None = None

    @classmethod
    def of(cls, exp: ExplicitResult) -> FairGraph:
        """The graph of a result, built once and kept with it."""
        graph = exp.cache.get("fair_graph")
        if not isinstance(graph, FairGraph):
            graph = exp.cache["fair_graph"] = cls(exp)
        return graph

    def out(self, s: int) -> range:
        return range(self.first[s], self.first[s + 1])

    def label(self, e: int) -> Label:
        return Label(self.tid[e], self.action[e], self.choice[e], bool(self.signal[e]))

    def reverse(self) -> tuple[array, array]:
        """The edges into each state (compressed rows of edge indices), built once."""
        if self._rfirst is None or self._redge is None:
            n, dst = self.n, self.dst
            count = array("I", [0]) * (n + 1)
            for w in dst:
                count[w + 1] += 1
            for i in range(n):
                count[i + 1] += count[i]
            slot = array("I", count)
            redge = array("I", [0]) * len(dst)
            first = self.first
            for s in range(self.expanded):
                for e in range(first[s], first[s + 1]):
                    w = dst[e]
                    redge[slot[w]] = e
                    slot[w] += 1
            self._rfirst, self._redge = count, redge
        return self._rfirst, self._redge

    def sources(self) -> array:
        """The state each edge leaves, built once."""
        if self._src is None:
            src = array("I", [0]) * len(self.dst)
            first = self.first
            for s in range(self.expanded):
                for e in range(first[s], first[s + 1]):
                    src[e] = s
            self._src = src
        return self._src


Key = Sequence[int] | None   # per state: edges count only between states of equal key (None: every edge)


def components(g: FairGraph, roots: Iterable[int], inside: bytearray, key: Key) -> list[list[int]]:
    """The strongly connected components of the part of `g` reachable from `roots` within `inside`, in
    reverse topological order (a component comes after every component it reaches), by an iterative
    Tarjan."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    out: list[list[int]] = []
    first, dst = g.first, g.dst
    counter = 0
    for root in roots:
        if root in index or not inside[root]:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work = [(root, first[root])]
        while work:
            v, e = work[-1]
            end = first[v + 1]
            kv = key[v] if key is not None else 0
            descended = False
            while e < end:
                w = dst[e]
                e += 1
                if not inside[w] or (key is not None and key[w] != kv):
                    continue
                if w not in index:
                    work[-1] = (v, e)
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, first[w]))
                    descended = True
                    break
                if w in on_stack and index[w] < low[v]:
                    low[v] = index[w]
            if descended:
                continue
            work.pop()
            if work:
                u = work[-1][0]
                if low[v] < low[u]:
                    low[u] = low[v]
            if low[v] == index[v]:
                comp: list[int] = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
    return out


def internal_edges(g: FairGraph, comp: Iterable[int], members: set[int]) -> Iterable[int]:
    """The edges of `g` between two states of a component."""
    first, dst = g.first, g.dst
    for v in comp:
        for e in range(first[v], first[v + 1]):
            if dst[e] in members:
                yield e


def fair_cores(g: FairGraph, comp: list[int], fairness: Fairness) -> list[Core]:
    """The parts of a component a fair run can stay in forever (none for a component without an edge)."""
    members = set(comp)
    moved, has_edge = 0, False
    for e in internal_edges(g, comp, members):
        moved |= 1 << g.tid[e]
        has_edge = True
    if not has_edge:
        return []
    enabled = g.enabled
    if fairness is Fairness.WEAK:
        always = -1
        for v in comp:
            always &= enabled[v]
        return [Core(frozenset(comp), moved)] if always & ~moved == 0 else []
    ever = 0
    for v in comp:
        ever |= enabled[v]
    offending = ever & ~moved
    if offending == 0:
        return [Core(frozenset(comp), moved)]
    rest = [v for v in comp if not enabled[v] & offending]
    if not rest:
        return []
    inside = bytearray(g.n)
    for v in rest:
        inside[v] = 1
    return [core for sub in components(g, rest, inside, None) for core in fair_cores(g, sub, fairness)]


def cores(g: FairGraph, inside: bytearray, key: Key, fairness: Fairness) -> list[Core]:
    """Every place within `inside` where a fair run can stay forever: fair cores of its components, and
    its terminal states."""
    roots = [s for s in range(g.expanded) if inside[s]]
    out = [Core(frozenset((s,)), terminal=True) for s in roots if g.terminal[s]]
    for comp in components(g, roots, inside, key):
        if len(comp) > 1 or any(g.dst[e] == comp[0] for e in g.out(comp[0])):
            out.extend(fair_cores(g, comp, fairness))
    return out


def can_reach(g: FairGraph, targets: Iterable[int], inside: bytearray, key: Key) -> bytearray:
    """The states within `inside` with a path (within it, along edges of equal key) to a target."""
    rfirst, redge = g.reverse()
    seen = bytearray(g.n)
    todo: deque[int] = deque()
    src = g.sources()
    for t in targets:
        if not seen[t]:
            seen[t] = 1
            todo.append(t)
    while todo:
        w = todo.popleft()
        kw = key[w] if key is not None else 0
        for i in range(rfirst[w], rfirst[w + 1]):
            v = src[redge[i]]
            if not seen[v] and inside[v] and (key is None or key[v] == kw):
                seen[v] = 1
                todo.append(v)
    return seen


def walk(g: FairGraph, start: int, allowed: Callable[[int, int], bool],
         goal: Callable[[int, int], bool]) -> list[int] | None:
    """A shortest path (edge indices) from `start` along edges `allowed(edge, target)` whose last edge
    meets `goal(edge, target)`; None when there is none."""
    back: dict[int, int] = {start: -1}
    todo = deque([start])
    dst = g.dst
    while todo:
        v = todo.popleft()
        for e in g.out(v):
            w = dst[e]
            if not allowed(e, w):
                continue
            if goal(e, w):
                path = [e]
                src = g.sources()
                while v != start:
                    path.append(back[v])
                    v = src[back[v]]
                path.reverse()
                return path
            if w not in back:
                back[w] = e
                todo.append(w)
    return None


def fair_cycle(g: FairGraph, core: Core, entry: int, fairness: Fairness, threads: int) -> list[int]:
    """A cycle (edge indices) from `entry` round `core` and back that is fair: it takes a step of every
    thread that steps in the core, and (weak fairness) passes a state where each other thread is disabled;
    empty for a terminal state."""
    if core.terminal:
        return []
    states, enabled, dst = core.states, g.enabled, g.dst
    inside: Callable[[int, int], bool] = lambda e, w: w in states   # noqa: E731
    cycle: list[int] = []
    at = entry
    for t in range(threads):
        bit = 1 << t
        if core.moved & bit:
            if any(g.tid[e] == t for e in cycle):
                continue
            leg = walk(g, at, inside, _step_of(g, states, t))
        else:
            if fairness is Fairness.STRONG or not enabled[at] & bit or \
                    any(not enabled[dst[e]] & bit for e in cycle):
                continue
            leg = walk(g, at, inside, _disabled(g, states, bit))
        assert leg is not None, "a fair core keeps what fairness asks of it"
        cycle += leg
        at = dst[leg[-1]]
    if at != entry or not cycle:
        back = walk(g, at, inside, lambda e, w: w == entry)
        assert back is not None
        cycle += back
    return cycle


def _step_of(g: FairGraph, states: frozenset[int], t: int) -> Callable[[int, int], bool]:
    """Edges of thread `t` within `states`."""
    return lambda e, w: w in states and g.tid[e] == t


def _disabled(g: FairGraph, states: frozenset[int], bit: int) -> Callable[[int, int], bool]:
    """Edges into a state of `states` where the thread of mask `bit` is disabled."""
    return lambda e, w: w in states and not g.enabled[w] & bit
