"""Two specs side by side under the same bounds: verdicts, lock-order edges, waits on slow steps, sizes.

Each spec is explored once (in parallel when there are cores to spare) and boiled down to a picklable
`SpecSummary`; `compare` is a pure function of two summaries.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from netcheck.model.parse import load_spec
from netcheck.model.system import TransitionSystem

from .engine.explore import explore
from .engine.limits import Limits
from .lockorder import Dependency, dep_kind, lock_order, mode_suffix
from .report import build_report
from .waitfor import SlowWitness, slow_witnesses

EdgeKey = tuple[str, str, str, str]   # held, held mode, acquired, acquired mode


@dataclass(frozen=True, order=True)
class SlowChain:
    """One way a thread declaration waits on a slow step, as thread declarations and locks."""

    place: str        # the slow step: `synchronize_rcu() in cleanup_net()`
    locks: str        # the locks on the way: `net_sem(R) via a queued writer`
    shape: str        # the whole chain in words
    length: int       # steps of its shortest trace


@dataclass(frozen=True)
class SlowAnswer:
    """For one thread declaration: every distinct chain from it to a slow step."""

    decl: str
    chains: tuple[SlowChain, ...]

    @property
    def waits(self) -> bool:
        return bool(self.chains)

    @property
    def shortest(self) -> int | None:
        return min((c.length for c in self.chains), default=None)


def chain_locks(w: SlowWitness) -> str:
    """The locks a chain goes through, in order: `net_mutex`, `net_sem(R) via a queued writer`."""
    names: list[str] = []
    for e in w.chain:
        name = f"{e.lock}{mode_suffix(e.want)}"
        if not names or names[-1] != name and not names[-1].startswith(f"{e.lock}("):
            names.append(name)
    queued = any(e.relation == "queued_writer" for e in w.chain)
    return " > ".join(names) + (" via a queued writer" if queued else "")


@dataclass(frozen=True)
class SpecSummary:
    path: str
    name: str
    bounds: tuple[tuple[str, int], ...]
    states: int
    transitions: int
    depth: int
    complete: bool
    stop_reason: str
    verdicts: tuple[tuple[str, str, str], ...]   # (property, kind, status)
    classes: tuple[str, ...]
    deps: tuple[Dependency, ...]
    cycles: tuple[str, ...]
    slow: tuple[SlowAnswer, ...]


def summarize(path: str, bounds: Mapping[str, int] | None = None, limits: Limits | None = None) -> SpecSummary:
    """Explore one spec and keep what a comparison needs."""
    system = TransitionSystem(load_spec(path, dict(bounds or {})))
    exp = explore(system, limits or Limits(), measure_memory=False)
    order = lock_order(exp)
    report = build_report(path, exp, order)
    decls = sorted({t.decl for t in system.threads})
    slow = tuple(SlowAnswer(d, tuple(sorted(SlowChain(f"{w.slow_statement} in {w.slow_function}()", chain_locks(w),
                                                      w.shape, len(w.trace.steps))
                                            for w in slow_witnesses(exp, d))))
                 for d in decls)
    return SpecSummary(path, system.spec.name, system.spec.bounds, exp.state_count, exp.transitions, exp.max_depth,
                       exp.complete, exp.stop_reason, tuple((p.name, p.kind, p.status) for p in report.properties),
                       order.classes, order.deps, tuple(c.chain for c in order.cycles), slow)


def _summarize_task(args: tuple[str, tuple[tuple[str, int], ...], Limits]) -> SpecSummary:
    path, bounds, limits = args
    return summarize(path, dict(bounds), limits)


def summarize_both(a: str, b: str, bounds: Mapping[str, int] | None = None, limits: Limits | None = None,
                   workers: int | None = None) -> tuple[SpecSummary, SpecSummary]:
    """Both summaries, explored side by side in two processes when there are two cores."""
    frozen = tuple(sorted((bounds or {}).items()))
    tasks = [(a, frozen, limits or Limits()), (b, frozen, limits or Limits())]
    if (workers or os.cpu_count() or 1) < 2:
        first, second = (_summarize_task(t) for t in tasks)
        return first, second
    with ProcessPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(_summarize_task, tasks)
    return first, second


# ---------------------------------------------------------------- comparing


@dataclass(frozen=True)
class EdgeChange:
    key: EdgeKey
    change: str                     # added, removed, changed
    added_in: tuple[str, ...]       # procedures now holding the first lock when taking the second
    removed_in: tuple[str, ...]
    kept_in: tuple[str, ...]


@dataclass(frozen=True)
class SpecDiff:
    a: SpecSummary
    b: SpecSummary
    verdicts: tuple[tuple[str, str, str, str], ...]   # (property, kind, status in a, status in b), changed only
    unchanged: int
    classes_added: tuple[str, ...]
    classes_removed: tuple[str, ...]
    edges: tuple[EdgeChange, ...]
    cycles_added: tuple[str, ...]
    cycles_removed: tuple[str, ...]
    slow: tuple[tuple[str, SlowAnswer | None, SlowAnswer | None], ...]   # per declaration in either spec


def _edges(deps: tuple[Dependency, ...]) -> dict[EdgeKey, set[str]]:
    out: dict[EdgeKey, set[str]] = {}
    for d in deps:
        out.setdefault((d.held, d.held_mode, d.acquired, d.acquired_mode), set()).add(
            d.held_site.context or d.held_site.function)
    return out


def compare(a: SpecSummary, b: SpecSummary) -> SpecDiff:
    va = {name: (kind, status) for name, kind, status in a.verdicts}
    vb = {name: (kind, status) for name, kind, status in b.verdicts}
    verdicts = []
    unchanged = 0
    for name in [n for n, _, _ in a.verdicts] + [n for n, _, _ in b.verdicts if n not in va]:
        sa, sb = va.get(name, ("", "absent")), vb.get(name, ("", "absent"))
        if sa[1] == sb[1]:
            unchanged += 1
        else:
            verdicts.append((name, sa[0] or sb[0], sa[1], sb[1]))
    ea, eb = _edges(a.deps), _edges(b.deps)
    edges = []
    for key in sorted(set(ea) | set(eb)):
        fa, fb = ea.get(key, set()), eb.get(key, set())
        if fa == fb:
            continue
        change = "added" if not fa else "removed" if not fb else "changed"
        edges.append(EdgeChange(key, change, tuple(sorted(fb - fa)), tuple(sorted(fa - fb)), tuple(sorted(fa & fb))))
    sa_ = {s.decl: s for s in a.slow}
    sb_ = {s.decl: s for s in b.slow}
    slow = tuple((d, sa_.get(d), sb_.get(d)) for d in sorted(set(sa_) | set(sb_)))
    return SpecDiff(a, b, tuple(verdicts), unchanged,
                    tuple(sorted(set(b.classes) - set(a.classes))), tuple(sorted(set(a.classes) - set(b.classes))),
                    tuple(edges), tuple(sorted(set(b.cycles) - set(a.cycles))),
                    tuple(sorted(set(a.cycles) - set(b.cycles))), slow)


# ---------------------------------------------------------------- rendering


def _edge_name(key: EdgeKey) -> str:
    a, am, b, bm = key
    return f"{a}{mode_suffix(am)} --> {b}{mode_suffix(bm)}  [{dep_kind(am, bm)}]"


def _funcs(names: tuple[str, ...]) -> str:
    return ", ".join(f"{n}()" for n in names)


def _answer(ans: SlowAnswer | None) -> str:
    if ans is None:
        return "(no such thread)"
    if not ans.waits:
        return "never"
    n = len(ans.chains)
    return f"yes, shortest after {ans.shortest} steps ({n} way{'s' if n != 1 else ''})"


def render_text(d: SpecDiff, chains: bool = False) -> str:
    """The comparison as text; `chains` lists every chain to a slow step (+ new, - gone, = kept)."""
    a, b = d.a, d.b
    out = [f"netcheck diff: {a.path} -> {b.path}"]
    ba, bb = ", ".join(f"{n}={v}" for n, v in a.bounds), ", ".join(f"{n}={v}" for n, v in b.bounds)
    out.append(f"  bounds: {ba}" + ("" if ba == bb else f" -> {bb}  (WARNING: the bounds differ)"))
    ratio = f" (x{b.states / a.states:.2f})" if a.states else ""
    out.append(f"  states: {a.states:,} -> {b.states:,}{ratio}; transitions {a.transitions:,} -> {b.transitions:,};"
               f" depth {a.depth} -> {b.depth}")
    for s in (a, b):
        if not s.complete:
            out.append(f"  WARNING: {s.path}: exploration incomplete ({s.stop_reason}); verdicts may be unknown")
    out += ["", "Properties:"]
    if not d.verdicts:
        statuses = sorted({st for _, _, st in (*a.verdicts, *b.verdicts)})
        out.append(f"  no verdict changes ({d.unchanged} properties; {' / '.join(statuses)} in both)")
    for name, kind, sa, sb in d.verdicts:
        out.append(f"  {name} ({kind}): {sa} -> {sb}")
    if d.verdicts and d.unchanged:
        out.append(f"  ({d.unchanged} other properties keep their verdict)")
    out += ["", "Lock order (lockdep rules):"]
    if d.classes_added or d.classes_removed:
        out.append("  lock classes: " + ", ".join([f"+ {c}" for c in d.classes_added] +
                                                  [f"- {c}" for c in d.classes_removed]))
    if not d.edges:
        out.append("  no dependency changes")
    for e in d.edges:
        if e.change == "added":
            out.append(f"  + {_edge_name(e.key)}  held in {_funcs(e.added_in)}")
        elif e.change == "removed":
            out.append(f"  - {_edge_name(e.key)}  held in {_funcs(e.removed_in)}")
        else:
            parts = []
            if e.added_in:
                parts.append(f"now also held in {_funcs(e.added_in)}")
            if e.removed_in:
                parts.append(f"no longer held in {_funcs(e.removed_in)}")
            out.append(f"  ~ {_edge_name(e.key)}  {'; '.join(parts)}; still in {_funcs(e.kept_in) or 'none'}")
    if d.cycles_added or d.cycles_removed:
        out.extend([f"  + strong cycle {c}" for c in d.cycles_added]
                   + [f"  - strong cycle {c}" for c in d.cycles_removed])
    else:
        out.append(f"  strong cycles: {'none in either' if not a.cycles else 'the same in both'}")
    out += ["", "Waits on slow steps (blocked on a lock, through holders and queued writers, behind a thread in "
            "synchronize_rcu(), rcu_barrier() or a slow statement); per slow step, the locks on the way:"]
    for decl, slow_a, slow_b in d.slow:
        out.append(f"  {decl}: {_answer(slow_a)} -> {_answer(slow_b)}")
        out.extend(_slow_lines(slow_a, slow_b, chains))
    return "\n".join(out) + "\n"


def _by_place(ans: SlowAnswer | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for c in ans.chains if ans else ():
        if c.locks not in out.setdefault(c.place, []):
            out[c.place].append(c.locks)
    return out


def _slow_lines(sa: SlowAnswer | None, sb: SlowAnswer | None, chains: bool) -> list[str]:
    out = []
    pa, pb = _by_place(sa), _by_place(sb)
    same = 0
    for place in sorted(set(pa) | set(pb)):
        la, lb = sorted(pa.get(place, [])), sorted(pb.get(place, []))
        if la == lb:
            same += 1
            continue
        out.append(f"    behind {place}: {'; '.join(la) or 'never'} -> {'; '.join(lb) or 'never'}")
    if same:
        out.append(f"    ({same} slow step{'s' if same != 1 else ''} reached through the same locks in both)")
    if chains:
        shapes_a = {c.shape: c.length for c in sa.chains} if sa else {}
        shapes_b = {c.shape: c.length for c in sb.chains} if sb else {}
        for shape in sorted(set(shapes_a) | set(shapes_b), key=lambda x: (x not in shapes_b, x)):
            mark = "=" if shape in shapes_a and shape in shapes_b else "+" if shape in shapes_b else "-"
            out.append(f"      {mark} {shape}  ({shapes_b.get(shape, shapes_a.get(shape))} steps)")
    return out


def _answer_json(ans: SlowAnswer | None) -> dict | None:
    if ans is None:
        return None
    return {"waits": ans.waits, "shortest": ans.shortest,
            "chains": [{"slow_step": c.place, "locks": c.locks, "shape": c.shape, "trace_length": c.length}
                       for c in ans.chains]}


def to_json(d: SpecDiff) -> dict:
    return {"a": d.a.path, "b": d.b.path, "bounds": {"a": dict(d.a.bounds), "b": dict(d.b.bounds)},
            "states": {"a": d.a.states, "b": d.b.states}, "depth": {"a": d.a.depth, "b": d.b.depth},
            "complete": {"a": d.a.complete, "b": d.b.complete},
            "verdict_changes": [{"property": n, "kind": k, "a": sa, "b": sb} for n, k, sa, sb in d.verdicts],
            "classes": {"added": list(d.classes_added), "removed": list(d.classes_removed)},
            "edges": [{"held": e.key[0], "held_mode": e.key[1], "acquired": e.key[2], "acquired_mode": e.key[3],
                       "change": e.change, "added_in": list(e.added_in), "removed_in": list(e.removed_in),
                       "kept_in": list(e.kept_in)} for e in d.edges],
            "cycles": {"added": list(d.cycles_added), "removed": list(d.cycles_removed)},
            "slow": {decl: {"a": _answer_json(sa), "b": _answer_json(sb)} for decl, sa, sb in d.slow}}
