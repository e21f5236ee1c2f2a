"""Two versions of a protocol compared (report/diff.py), as text and as JSON."""

from __future__ import annotations

from ..analyses.lockorder import dep_kind, mode_suffix
from ..report.diff import EdgeKey, SlowAnswer, SpecDiff


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
    out += ["", "Code (procedures whose statements differ):"]
    if not d.code:
        out.append("  no procedure changed")
    for name, change, lines in d.code:
        out.append(f"  {name}(): {change}")
        out.extend(f"    {line}" for line in lines)
    out += ["", "Properties:"]
    if not d.verdicts:
        statuses = sorted({st for _, _, st in (*a.verdicts, *b.verdicts)})
        out.append(f"  no verdict changes ({d.unchanged} properties; {' / '.join(statuses)} in both)")
    for name, kind, sa, sb in d.verdicts:
        out.append(f"  {name} ({kind}): {sa} -> {sb}")
    if d.verdicts and d.unchanged:
        out.append(f"  ({d.unchanged} other properties keep their verdict)")
    if d.regressions:
        out.append(f"  REGRESSED: {', '.join(name for name, _, _, _ in d.regressions)} (held in {a.path}; exit 1)")
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
    if d.waited:
        out += ["", "Slow steps other threads can complete while a thread waits (waits_on_slow questions with "
                "during:; in parentheses: not counting waits behind a queued writer):"]
        out.extend(f"  {q} in {proc}(): {_waited(wa)} -> {_waited(wb)}" for q, proc, wa, wb in d.waited)
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


def _waited(counts: tuple[int | None, int | None] | None) -> str:
    """`4 (3)`, `unbounded`, or `not asked`."""
    if counts is None:
        return "not asked"
    def one(n: int | None) -> str:
        return "unbounded" if n is None else str(n)
    return f"{one(counts[0])} ({one(counts[1])})"


def _waited_json(counts: tuple[int | None, int | None] | None) -> dict | None:
    return None if counts is None else {"most": counts[0], "most_not_behind_queued_writer": counts[1],
                                        "unbounded": counts[0] is None}


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
            "code": [{"procedure": name, "change": change, "lines": list(lines)} for name, change, lines in d.code],
            "verdict_changes": [{"property": n, "kind": k, "a": sa, "b": sb} for n, k, sa, sb in d.verdicts],
            "regressions": [n for n, _, _, _ in d.regressions],
            "classes": {"added": list(d.classes_added), "removed": list(d.classes_removed)},
            "edges": [{"held": e.key[0], "held_mode": e.key[1], "acquired": e.key[2], "acquired_mode": e.key[3],
                       "change": e.change, "added_in": list(e.added_in), "removed_in": list(e.removed_in),
                       "kept_in": list(e.kept_in)} for e in d.edges],
            "cycles": {"added": list(d.cycles_added), "removed": list(d.cycles_removed)},
            "slow": {decl: {"a": _answer_json(sa), "b": _answer_json(sb)} for decl, sa, sb in d.slow},
            "slow_steps_waited": [{"question": q, "procedure": proc, "a": _waited_json(wa), "b": _waited_json(wb)}
                                  for q, proc, wa, wb in d.waited]}
