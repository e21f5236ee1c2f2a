"""Two specs side by side under the same bounds: verdicts, lock-order edges, waits on slow steps, sizes.

Each spec is explored once (in parallel when there are cores to spare) and boiled down to a picklable
`SpecSummary`; `compare` is a pure function of two summaries.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from netcheck.model.lang.parse import load_spec
from netcheck.model.lang.spec import Spec, Stmt
from netcheck.model.semantics.system import TransitionSystem

from ..analyses.lockorder import Dependency, lock_order, mode_suffix
from ..analyses.waitfor import SlowWitness, slow_witnesses
from ..engine.explore import explore
from ..engine.limits import Limits
from ..engine.vocabulary import Status
from .build import build_report

EdgeKey = tuple[str, str, str, str]
FAILING = (Status.VIOLATED, Status.VACUOUS)   # held, held mode, acquired, acquired mode


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
    # waits_on_slow questions with during:: (question, procedure, most, most not behind a queued writer)
    waited: tuple[tuple[str, str, int | None, int | None], ...] = ()
    # every procedure's statements in order, nested blocks flattened: (procedure, ((text, file:line), ...))
    code: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()


def statements(spec: Spec) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """Each procedure's statements, depth first, as (text, file:line); nested ones indented by depth."""
    def walk(stmts: tuple[Stmt, ...], depth: int) -> list[tuple[str, str]]:
        out = []
        for s in stmts:
            out.append(("  " * depth + s.text, s.span.short))
            for attr in ("then", "els", "body", "on_fail"):
                nested = getattr(s, attr, None)
                if isinstance(nested, tuple):
                    out += walk(nested, depth + 1)
            for _, branch in getattr(s, "branches", ()) or ():
                out += walk(branch, depth + 1)
        return out
    return tuple((p.name, tuple(walk(p.body, 0))) for p in spec.procedures)


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
                       order.classes, order.deps, tuple(c.chain for c in order.cycles), slow,
                       tuple((p.name, p.waited.procedure, p.waited.most, p.waited.most_not_behind_queued_writer)
                             for p in report.properties if p.waited is not None), statements(system.spec))


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
    # per waits_on_slow question with during: in either spec: (question, procedure, (most, not behind a queued
    # writer) in a, the same in b; None where that spec does not ask it)
    waited: tuple[tuple[str, str, tuple[int | None, int | None] | None, tuple[int | None, int | None] | None],
                  ...] = ()
    # procedures whose statements differ: (procedure, added/removed/changed, lines "- text  at" / "+ text  at")
    code: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    @property
    def regressions(self) -> tuple[tuple[str, str, str, str], ...]:
        """The verdict changes that are regressions: a property holding in `a` fails in `b` (violated, or
        vacuous)."""
        return tuple(v for v in self.verdicts if v[2] == Status.HOLDS and v[3] in FAILING)


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
    wa = {(q, proc): (most, direct) for q, proc, most, direct in a.waited}
    wb = {(q, proc): (most, direct) for q, proc, most, direct in b.waited}
    waited = tuple((q, proc, wa.get((q, proc)), wb.get((q, proc))) for q, proc in sorted(set(wa) | set(wb)))
    return SpecDiff(a, b, tuple(verdicts), unchanged,
                    tuple(sorted(set(b.classes) - set(a.classes))), tuple(sorted(set(a.classes) - set(b.classes))),
                    tuple(edges), tuple(sorted(set(b.cycles) - set(a.cycles))),
                    tuple(sorted(set(a.cycles) - set(b.cycles))), slow, waited, code_changes(a.code, b.code))


Code = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]   # per procedure: its (statement, file:line)


def code_changes(a: Code, b: Code) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """The procedures whose statements differ (by text; a statement only moved to another line is the
    same), each with the statements removed (`-`) and added (`+`), where they are written."""
    pa, pb = dict(a), dict(b)
    out = []
    for name in [n for n, _ in a] + [n for n, _ in b if n not in pa]:
        sa, sb = pa.get(name), pb.get(name)
        if sa is not None and sb is not None and [t for t, _ in sa] == [t for t, _ in sb]:
            continue
        change = "added" if sa is None else "removed" if sb is None else "changed"
        ta, tb = [t for t, _ in sa or ()], [t for t, _ in sb or ()]
        lines = []
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=ta, b=tb, autojunk=False).get_opcodes():
            if op == "equal":
                continue
            lines += [f"- {t}  ({at})" for t, at in (sa or ())[i1:i2]]
            lines += [f"+ {t}  ({at})" for t, at in (sb or ())[j1:j2]]
        out.append((name, change, tuple(lines)))
    return tuple(out)

