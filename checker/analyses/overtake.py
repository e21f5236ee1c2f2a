"""Bounded waiting: how often other threads take a lock while a thread waits for it.

For a thread waiting at an acquisition (a `mutex_lock`, `spin_lock`, `down_read`, `down_write` or a
killable form: a waiting acquire, and for an rwsem the queue it sleeps in), the most times other threads
acquire that lock instance before it does, over every explored run, or unbounded with a cycle that shows
it. An *overtake* is a transition, taken while the waiter stays at that acquisition, after which another
thread holds the lock where it did not, or holds one more read hold of it: a thread taking a mutex, an
rwsem writer, a reader joining other readers, and every thread an rwsem release grants the lock to
(counted once each). Counting starts where the waiter is blocked there (the explored state's blocked
mask): a thread standing at a free lock has not waited yet.

Decided on the explored graph, per thread instance, once for all its acquisitions: the states reachable,
by transitions that keep it at one acquisition, from a state where it is blocked at it; an overtake weighs
the number of threads that acquire. An overtake inside a strongly connected component (Tarjan's
algorithm, iterative, over the store's edge arrays) makes the answer unbounded; otherwise it is the
heaviest path through the acyclic graph of components. An unbounded answer also says whether some such
cycle keeps the waiter blocked in every state (starvation: no fairness assumption gets it the lock) or
whether every one passes through states where it could take the lock and another thread takes it first
(mutex stealing: weak fairness allows that for ever, only strong fairness rules it out). A run cut short
gives lower bounds, and says so.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from netcheck.model.lang.lockapi import LOCK_API
from netcheck.model.semantics import ir
from netcheck.model.semantics.locks import read_depth, reader_tids
from netcheck.model.semantics.system import TransitionSystem

from ..engine.paths import path_to
from ..engine.result import ExplicitResult, Finding, Label, Path
from .trace import Trace, describe_path


@dataclass(frozen=True)
class Overtaken:
    """The answer for one thread declaration and one acquisition written in the spec (over every thread
    instance of the declaration and every inlined copy of the statement: the worst)."""

    thread: str                   # the threads: entry
    statement: str                # the acquisition as written: mutex_lock_killable(&net_mutex)
    location: str                 # file:line
    procedure: str                # the procedure it is written in
    waits: bool                   # some instance is blocked there in some explored state
    most: int | None              # the most overtakes in one wait; None: unbounded
    instance: str = ""            # the instance the answer (and witness) is for
    overtakers: tuple[str, ...] = ()  # the threads that take the lock while that instance waits there
    starvation: bool = False      # unbounded with the waiter blocked all round the cycle
    trace: Trace | None = None    # a run reaching `most` (unbounded: to the cycle, then once round it)
    cycle_start: int = -1         # unbounded: the step at which the witness's cycle begins
    overtaken_at: tuple[int, ...] = ()   # the witness's steps that are overtakes (0-based; one entry per overtake)
    blocked_after: int = 0        # the witness's step after which the waiter is blocked there (0: from the start)
    complete: bool = True         # the whole state space was explored (otherwise `most` is a lower bound)

    @property
    def site(self) -> str:
        return f"{self.statement} at {self.location} in {self.procedure}()"


def acquisition_sites(system: TransitionSystem, tid: int) -> list[int]:
    """Per program point of a thread: the acquisition it belongs to (the pc of the waiting acquire, also for
    the rwsem wait it queues at), or -1; one entry more for `finished`."""
    nodes = system.threads[tid].nodes
    site = [-1] * (len(nodes) + 1)
    for pc, node in enumerate(nodes):
        if isinstance(node, ir.LockCall) and LOCK_API[node.op].waits:
            site[pc] = pc
            if node.wait >= 0:
                site[node.wait] = pc
    return site


def acquirers(before: Sequence, after: Sequence, base: int, rwsem: bool, waiter: int) -> list[int]:
    """The threads other than `waiter` that acquire the lock whose first slot is `base` from `before` to
    `after`: a new owner (a mutex's, a spinlock's, an rwsem's writer), and every thread with one more read
    hold that was not the writer (a downgrade_write is no acquisition)."""
    out = []
    owner = after[base]
    if owner != before[base] and owner >= 0 and owner != waiter:
        out.append(owner)
    if rwsem and before[base + 1] != after[base + 1]:
        was, now = before[base + 1], after[base + 1]
        out += [x for x in reader_tids(now) if x != waiter and x != before[base]
                and read_depth(now, x) > read_depth(was, x)]
    return out


@dataclass
class _Graph:
    """One thread instance's waits: the states reachable from a state where it is blocked at an
    acquisition by transitions that keep it there, as arrays of local ids (CSR)."""

    sids: list[int]               # local id -> state id (the roots first, then breadth-first)
    parent: list[int]             # local id -> the local edge that first reached it (-1: a root)
    start: list[int]              # the edges leaving local id i: start[i] up to start[i + 1]
    src: list[int] = field(default_factory=list)
    dst: list[int] = field(default_factory=list)
    weight: list[int] = field(default_factory=list)
    edge: list[int] = field(default_factory=list)    # the store's edge index
    site: list[int] = field(default_factory=list)    # local id -> its acquisition (pc)
    blocked: list[bool] = field(default_factory=list)
    takers: dict[int, list[int]] = field(default_factory=dict)   # local edge -> the threads acquiring


def _subgraph(exp: ExplicitResult, tid: int, site_of: list[int]) -> _Graph:
    system, store = exp.system, exp.store
    thread = system.threads[tid]
    pcslot, nodes, bit = thread.pcslot, thread.nodes, 1 << tid
    states, masks = store.states, exp.blocked_masks()
    first, targets, expanded, edge_count = store.first_edge, store.edges_dst, store.expanded, len(store.edges_dst)
    roots = [sid for sid in range(len(masks)) if masks[sid] & bit and site_of[states[sid][pcslot]] >= 0]
    index = {sid: i for i, sid in enumerate(roots)}
    g = _Graph(list(roots), [-1] * len(roots), [])
    i = 0
    while i < len(g.sids):
        u = g.sids[i]
        s = states[u]
        pc = s[pcslot]
        site = site_of[pc]
        g.start.append(len(g.dst))
        g.site.append(site)
        g.blocked.append(u < len(masks) and bool(masks[u] & bit))
        if u < expanded:
            node = nodes[pc]
            base = system.lock_slot(node, s)   # type: ignore[arg-type]
            rwsem = _is_rwsem(node)
            for e in range(first[u], first[u + 1] if u + 1 < expanded else edge_count):
                v = targets[e]
                t = states[v]
                if site_of[t[pcslot]] != site:
                    continue
                j = index.get(v)
                if j is None:
                    j = index[v] = len(g.sids)
                    g.sids.append(v)
                    g.parent.append(len(g.dst))
                taken = [] if base is None or (t[base] == s[base] and (not rwsem or t[base + 1] == s[base + 1])) \
                    else acquirers(s, t, base, rwsem, tid)
                if taken:
                    g.takers[len(g.dst)] = taken
                g.src.append(i)
                g.dst.append(j)
                g.weight.append(len(taken))
                g.edge.append(e)
        i += 1
    g.start.append(len(g.dst))
    return g


def strongly_connected(n: int, start: Sequence[int], dst: Sequence[int],
                       keep: Sequence[bool] | None = None) -> tuple[list[int], int]:
    """Tarjan's strongly connected components of a CSR graph (iteratively), over the nodes `keep` allows
    (all by default): per node its component (-1: left out), and how many. Components are numbered in
    reverse topological order: every edge between two of them goes to a lower number."""
    order = [-1] * n
    low = [0] * n
    comp = [-1] * n
    on_stack = [False] * n
    stack: list[int] = []
    counter = count = 0
    for root in range(n):
        if order[root] >= 0 or (keep is not None and not keep[root]):
            continue
        order[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        work = [(root, start[root])]
        while work:
            v, e = work[-1]
            end = start[v + 1]
            descended = False
            while e < end:
                w = dst[e]
                e += 1
                if keep is not None and not keep[w]:
                    continue
                if order[w] < 0:
                    work[-1] = (v, e)
                    order[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = True
                    work.append((w, start[w]))
                    descended = True
                    break
                if on_stack[w] and order[w] < low[v]:
                    low[v] = order[w]
            if descended:
                continue
            work.pop()
            if low[v] == order[v]:
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    comp[w] = count
                    if w == v:
                        break
                count += 1
            if work:
                u = work[-1][0]
                if low[v] < low[u]:
                    low[u] = low[v]
    return comp, count


@dataclass
class _SiteAnswer:
    """One instance at one acquisition (pc): the number and its witness as local edges from a root."""

    most: int | None
    overtakers: set[int]
    starvation: bool = False
    edges: list[int] = field(default_factory=list)   # local edges, from a root
    cycle_at: int = -1                               # unbounded: the index in `edges` where the cycle starts


def _inner_path(g: _Graph, comp: list[int], a: int, b: int) -> list[int]:
    """The local edges of a shortest path from a to b inside their component."""
    c = comp[a]
    if a == b:
        return []
    via = {a: -1}
    queue = deque([a])
    while queue:
        u = queue.popleft()
        for e in range(g.start[u], g.start[u + 1]):
            v = g.dst[e]
            if v not in via and comp[v] == c:
                via[v] = e
                if v == b:
                    out = []
                    while v != a:
                        out.append(via[v])
                        v = g.src[via[v]]
                    return out[::-1]
                queue.append(v)
    raise AssertionError("no path inside a strongly connected component")


def _from_root(g: _Graph, node: int) -> list[int]:
    """The local edges from a root to `node` along the breadth-first tree."""
    out = []
    while g.parent[node] >= 0:
        out.append(g.parent[node])
        node = g.src[g.parent[node]]
    return out[::-1]


def _cycle(g: _Graph, comp: list[int], edge: int) -> list[int]:
    """Once round a cycle through `edge` (inside its component), starting at its source."""
    return [edge, *_inner_path(g, comp, g.dst[edge], g.src[edge])]


def _answers(exp: ExplicitResult, tid: int, site_of: list[int]) -> tuple[_Graph, dict[int, _SiteAnswer]]:
    """Per acquisition (pc) where the instance is ever blocked: the most overtakes and a witness."""
    g = _subgraph(exp, tid, site_of)
    n = len(g.sids)
    comp, count = strongly_connected(n, g.start, g.dst)
    out: dict[int, _SiteAnswer] = {}
    for i in range(n):
        out.setdefault(g.site[i], _SiteAnswer(0, set()))
    for e, taken in g.takers.items():
        out[g.site[g.src[e]]].overtakers.update(taken)
    # unbounded: an overtake inside a component; prefer one the waiter is blocked all round (starvation),
    # then the one whose source the search reached first
    held, _ = strongly_connected(n, g.start, g.dst, g.blocked)
    depth = exp.store.depth
    cyclic: dict[int, tuple[bool, int, int]] = {}
    for e in g.takers:
        u, v = g.src[e], g.dst[e]
        if comp[u] == comp[v]:
            key = (not (held[u] >= 0 and held[u] == held[v]), depth[g.sids[u]], e)
            if g.site[u] not in cyclic or key < cyclic[g.site[u]]:
                cyclic[g.site[u]] = key
    for site, (fed, _, e) in cyclic.items():
        stem = _from_root(g, g.src[e])
        answer = out[site]
        answer.most, answer.starvation, answer.cycle_at = None, not fed, len(stem)
        answer.edges = stem + _cycle(g, comp if fed else held, e)
    # bounded: the heaviest path over the components, in topological order (highest number first)
    members: list[list[int]] = [[] for _ in range(count)]
    for i in range(n):
        members[comp[i]].append(i)
    best = [0] * count
    via = [-1] * count
    for c in range(count - 1, -1, -1):
        here = best[c]
        for u in members[c]:
            for e in range(g.start[u], g.start[u + 1]):
                cv = comp[g.dst[e]]
                if cv != c and here + g.weight[e] > best[cv]:
                    best[cv], via[cv] = here + g.weight[e], e
    heaviest: dict[int, int] = {}
    for c in range(count):
        site = g.site[members[c][0]]
        if site not in cyclic and best[c] > 0 and (site not in heaviest or best[c] > best[heaviest[site]]):
            heaviest[site] = c
    for site, c in heaviest.items():
        out[site].most, out[site].edges = best[c], _heaviest_path(g, comp, via, c)
        assert sum(g.weight[e] for e in out[site].edges) == best[c]
    return g, out


def _heaviest_path(g: _Graph, comp: list[int], via: list[int], end: int) -> list[int]:
    """The local edges of the heaviest path into component `end`: from a root along the breadth-first tree
    to the first edge of its chain of best incoming edges, then each edge joined to the next inside the
    component between them."""
    chain = []
    c = end
    while via[c] >= 0:
        chain.append(via[c])
        c = comp[g.src[via[c]]]
    chain.reverse()
    edges = _from_root(g, g.src[chain[0]])
    for k, e in enumerate(chain):
        edges.append(e)
        if k + 1 < len(chain):
            edges += _inner_path(g, comp, g.dst[e], g.src[chain[k + 1]])
    return edges


def overtakes(exp: ExplicitResult, thread: str) -> list[Overtaken]:
    """Per waiting acquisition the threads of declaration `thread` ever stand at (by where it is written:
    the spec's own file first, then the files it extends), the most overtakes while one of them waits there
    (the worst instance, and among inlined copies of the statement the worst)."""
    system, store = exp.system, exp.store
    rows: dict[tuple, tuple[tuple, ir.Node, int, _Graph, _SiteAnswer | None]] = {}
    for t in (t for t in system.threads if t.decl == thread):
        site_of = acquisition_sites(system, t.tid)
        stands = {pc for pc in set(s[t.pcslot] for s in store.states) if site_of[pc] >= 0}
        g, answers = _answers(exp, t.tid, site_of)
        for pc in sorted(stands):
            node = t.nodes[site_of[pc]]
            assert node.stmt is not None
            span = node.stmt.span
            key = (span.file, span.line, span.col)
            answer = answers.get(site_of[pc])
            rank = (-1,) if answer is None else (answer.most is None, answer.starvation, answer.most or 0)
            if key not in rows or rank > rows[key][0]:
                rows[key] = (rank, node, t.tid, g, answer)
    out = []
    files = system.spec.files
    for key in sorted(rows, key=lambda k: (files.index(k[0]) if k[0] in files else len(files), *k)):
        _, node, tid, g, answer = rows[key]
        assert node.stmt is not None
        row = Overtaken(thread, node.stmt.text, node.stmt.span.short, node.frame[-1] if node.frame else "",
                        answer is not None, 0 if answer is None else answer.most, system.threads[tid].name,
                        complete=exp.complete)
        if answer is not None:
            row = _with_witness(exp, row, tid, g, answer)
        out.append(row)
    return out


def _with_witness(exp: ExplicitResult, row: Overtaken, tid: int, g: _Graph, answer: _SiteAnswer) -> Overtaken:
    """The row with its overtakers and its witness: a shortest path to the state the heaviest path (or the
    way to the cycle) starts from, then that path; the wait starts at the first state of the longest run
    of states at the acquisition ending there in which the thread is blocked."""
    system, store = exp.system, exp.store
    names = tuple(system.threads[x].name for x in sorted(answer.overtakers))
    if not answer.edges:
        return replace(row, overtakers=names)
    stem = path_to(exp, Finding("overtaken", g.sids[g.src[answer.edges[0]]]))
    labels, states = list(stem.labels), list(stem.states)
    for e in answer.edges:
        action = store.edges_action[g.edge[e]]
        info = system.actions[action]
        labels.append(Label(info.tid, action, store.edges_choice[g.edge[e]], info.signal))
        states.append(store.states[g.sids[g.dst[e]]])
    trace = describe_path(system, Path(tuple(states), tuple(labels), None, (), False))
    site_of, pcslot, site = acquisition_sites(system, tid), system.threads[tid].pcslot, g.site[g.src[answer.edges[0]]]
    first, masks = len(stem.labels), exp.blocked_masks()
    for i in range(len(stem.labels), -1, -1):
        if site_of[states[i][pcslot]] != site:
            break
        sid = stem.ids[i] if stem.ids else store.id_of(states[i])
        if sid is not None and sid < len(masks) and masks[sid] >> tid & 1:
            first = i
    at: list[int] = []
    for i in range(first, len(labels)):
        node = system.node_at(states[i], tid)
        assert isinstance(node, (ir.LockCall, ir.LockWait))
        base = system.lock_slot(node, states[i])
        if base is not None:
            at += [i] * len(acquirers(states[i], states[i + 1], base, _is_rwsem(node), tid))
    start = len(stem.labels) + answer.cycle_at if answer.most is None else -1
    return replace(row, overtakers=names, starvation=answer.starvation, trace=trace, cycle_start=start,
                   overtaken_at=tuple(at), blocked_after=first)


def _is_rwsem(node: ir.Node) -> bool:
    return isinstance(node, ir.LockWait) or (isinstance(node, ir.LockCall) and node.lock_kind == "rwsem")
