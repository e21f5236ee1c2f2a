"""Paths out of an explicit result: the shortest path to a finding with the fewest thread switches among
the shortest ones, as an engine-neutral `Path` of states and labels.

The fewest-switch search is a forward pass over the BFS layers of the store up to the finding's depth:
for every state and the thread of the step that reached it, the fewest switches of a shortest path from
an initial state. A state on a shortest path to a state at depth d sits at depth i after i steps, so only
edges from depth i to depth i + 1 count. It reads the recorded edges (states the search did not expand
are expanded again on demand). Beyond SWITCH_SEARCH_LIMIT states the BFS parent path is used.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable

from .result import ExplicitResult, Finding, Label, Path

SWITCH_SEARCH_LIMIT = 1_500_000
_UNREACHED = 0xFFFF


class SwitchSearch:
    """Fewest thread switches over shortest paths, extended lazily to the depth a path needs and kept per
    result (one pass serves every property of a spec)."""

    def __init__(self, result: ExplicitResult):
        self.result = result
        self.threads = result.system.thread_count
        self.action_tid = array("H", (a.tid for a in result.system.actions))
        self.width = self.threads + 1      # the last column: "no step yet" (initial states)
        self.cost = array("H")
        self.back = array("i")             # the cost cell this one was reached from
        self.label = array("i")            # and that step: an edge index, -1 none, -2 - i for extra[i]
        self.extra: list[tuple[int, int]] = []   # (action, choice) of steps out of unexpanded states
        self.expanded = 0                  # states below this id have had their edges relaxed

    def reach(self, depth: int) -> None:
        """Make the costs of every state at depth <= `depth` final."""
        store, width = self.result.store, self.width
        end = bisect_right(store.depth, depth)
        known = len(self.cost) // width
        if end > known:
            self.cost.extend(array("H", [_UNREACHED]) * ((end - known) * width))
            self.back.extend(array("i", [-1]) * ((end - known) * width))
            self.label.extend(array("i", [-1]) * ((end - known) * width))
            for sid in range(known, end):
                if store.depth[sid] == 0:
                    self.cost[sid * width + self.threads] = 0
        self._relax(bisect_right(store.depth, depth - 1))

    def _edges(self, sid: int) -> Iterable[tuple[int, int, int]]:
        """(target id, thread, label) of every edge out of `sid`."""
        store, action_tid = self.result.store, self.action_tid
        if sid < store.expanded:
            dst, actions = store.edges_dst, store.edges_action
            for e in store.edge_range(sid):
                yield dst[e], action_tid[actions[e]], e
            return
        transitions, _ = self.result.system.expand(store.states[sid])
        for tid, action, choice, _, target in transitions:
            j = store.id_of(target) if target.__class__ is tuple else None
            if j is not None:
                self.extra.append((action, choice))
                yield j, tid, -1 - len(self.extra)   # -2, -3, ...: an index into `extra`

    def _relax(self, upto: int) -> None:
        width, none = self.width, self.threads
        cost, back, label, depths = self.cost, self.back, self.label, self.result.store.depth
        for sid in range(self.expanded, upto):
            base = sid * width
            row = cost[base:base + width]
            least = min(row)
            if least == _UNREACHED:
                continue
            via_any = base + row.index(least)
            next_depth = depths[sid] + 1
            for j, tid, edge in self._edges(sid):
                if depths[j] != next_depth:
                    continue
                # continuing with the same thread (or starting) costs nothing; any other thread one switch
                if row[none] <= row[tid]:
                    c, frm = row[none], base + none
                else:
                    c, frm = row[tid], base + tid
                if least + 1 < c:
                    c, frm = least + 1, via_any
                k = j * width + tid
                if c < cost[k]:
                    cost[k] = c
                    back[k] = frm
                    label[k] = edge
        self.expanded = max(self.expanded, upto)

    def path(self, target: int, last_tid: int) -> list[tuple[int, int]]:
        """[(state id, label of the step into it or -1)] to `target`, the fewest switches (plus one if the
        step of `last_tid` follows, and it is another thread)."""
        width, none = self.width, self.threads
        best, k = _UNREACHED + 1, -1
        for t in range(width):
            c = self.cost[target * width + t]
            if c == _UNREACHED:
                continue
            c += 1 if last_tid >= 0 and t not in (last_tid, none) else 0
            if c < best:
                best, k = c, target * width + t
        out = []
        while k >= 0:
            out.append((k // width, self.label[k]))
            k = self.back[k]
        out.reverse()
        return out

    def step_label(self, edge: int) -> Label:
        store, system = self.result.store, self.result.system
        if edge >= 0:
            action, choice = store.edges_action[edge], store.edges_choice[edge]
        else:
            action, choice = self.extra[-2 - edge]
        info = system.actions[action]
        return Label(info.tid, action, choice, info.signal)


def _search_for(result: ExplicitResult) -> SwitchSearch:
    """The result's fewest-switch search, made once and kept on the result itself (a module cache would
    keep every result alive: the search refers to it)."""
    search = result.cache.get("switch_search")
    if not isinstance(search, SwitchSearch):
        search = result.cache["switch_search"] = SwitchSearch(result)
    return search


def path_to(result: ExplicitResult, finding: Finding) -> Path:
    """A shortest path to the finding's state, with the fewest thread switches among the shortest ones
    when the store is small enough (`fewest_switches` says), ending with the violating step if any."""
    store = result.store
    last = None
    if finding.action >= 0:
        last = Label(finding.tid, finding.action, finding.choice, finding.by_signal)
    if finding.state < 0:
        return Path((), (), last, (), True)
    depth = store.depth[finding.state]
    fewest = True
    if depth == 0:
        ids, labels = [finding.state], []
    elif bisect_right(store.depth, depth) > SWITCH_SEARCH_LIMIT or getattr(result.system, "symmetric", False):
        # (under symmetry an edge may rename the threads: switches are counted on the real path only)
        ids, labels, fewest = *_parent_path(result, finding.state), False
    else:
        search = _search_for(result)
        search.reach(depth)
        steps = search.path(finding.state, finding.tid)
        if not steps or steps[-1][0] != finding.state:
            ids, labels, fewest = *_parent_path(result, finding.state), False
        else:
            ids = [sid for sid, _ in steps]
            labels = [search.step_label(edge) for _, edge in steps[1:]]
    states = tuple(store.states[sid] for sid in ids)
    return Path(states, tuple(labels), last, tuple(ids), fewest)


def parent_path(result: ExplicitResult, sid: int) -> Path:
    """The BFS parent path to `sid` (a shortest one), as a `Path`."""
    ids, labels = _parent_path(result, sid)
    return Path(tuple(result.store.states[i] for i in ids), tuple(labels), None, tuple(ids), False)


def _parent_path(result: ExplicitResult, sid: int) -> tuple[list[int], list[Label]]:
    """The BFS parent path to `sid`: its state ids and labels."""
    store, actions = result.store, result.system.actions
    ids = store.parent_path(sid)
    labels = []
    for j in ids[1:]:
        action = store.parent_action[j]
        info = actions[action]
        labels.append(Label(info.tid, action, store.parent_choice[j], info.signal))
    return ids, labels
