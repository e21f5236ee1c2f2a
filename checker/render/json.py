"""The JSON report (documented in docs/json-format.md); other tools read it, so its shape is stable."""

from __future__ import annotations

import json
from typing import Any

from .. import __version__
from ..analyses.coverage import BranchRuns, Coverage, StatementRuns
from ..report.build import PropertyResult, SpecReport
from .lockorder import to_json as lock_order_json
from .waits import deadlock_json


def report_object(report: SpecReport, timing: bool = True, coverage: bool = False) -> dict:
    """The report as JSON data; `coverage`: with the run count of every statement and branch."""
    stats: dict[str, float] = {
        "states": report.stats.states,
        "transitions": report.stats.transitions,
        "depth": report.stats.depth,
        "deadlocked_states": report.stats.deadlocked_states,
        "final_states": report.stats.final_states,
    }
    if timing:
        stats.update({"seconds": report.stats.seconds, "states_per_second": report.stats.states_per_second,
                      "peak_memory_mb": report.stats.peak_memory_mb})
        if report.stats.worker_memory_mb:
            stats["worker_memory_mb"] = list(report.stats.worker_memory_mb)   # type: ignore[assignment]
    out: dict[str, Any] = {
        "netcheck": __version__,
        "spec": report.spec,
        "name": report.name,
        "files": list(report.files),
        "bounds": dict(report.bounds),
        "reduction": report.reduction,
        "symmetry": report.symmetry or None,
        "store": report.store,
        "omission_probability": report.omission_probability,
        "complete": report.complete,
        "stop_reason": report.stop_reason or None,
        "exit_code": report.exit_code,
        "properties": [property_object(p) for p in report.properties],
        "stats": stats,
    }
    if report.engine != "explicit":   # bounded model checking: the engine and the depth asked for
        out["engine"], out["depth"] = report.engine, report.depth_bound
    if report.expectation is not None:
        e = report.expectation
        out["expect"] = {"violated": list(e.violated), "met": e.met, "differences": list(e.differences)}
    if report.lock_order is not None:
        out["lock_order"] = lock_order_json(report.lock_order)
    deadlock = next((p.explanation for p in report.properties if p.explanation is not None), None)
    if deadlock is not None:
        out["deadlock"] = deadlock_json(report.threads, deadlock)
    if report.hangs:
        out["hidden_hangs"] = [{"thread": h.thread, "wait": h.wait, "location": h.location, "forever": h.forever,
                                "fairness": str(h.fairness), "slow_steps": list(dict.fromkeys(h.steps)),
                                "steps": len(h.trace.steps) if h.trace is not None else 0,
                                "cycle_start": h.trace.cycle if h.trace is not None else None}
                               for h in report.hangs]
    if report.coverage is not None:
        out["coverage"] = {**_coverage(report.coverage, coverage), "strict": report.strict_coverage}
    return out


def _coverage(cov: Coverage, full: bool) -> dict:
    """Totals, the statements not run and branches not taken, and (`full`) every count."""
    out: dict = {
        "complete": cov.complete,
        "statements": len(cov.statements),
        "statements_run": cov.statements_run,
        "branches": len(cov.branches),
        "branches_taken": cov.branches_taken,
        "not_run": [_statement(s) for s in cov.unreached],
        "not_taken": [_branch(b) for b in cov.untaken],
    }
    if full:
        out["statement_runs"] = [_statement(s) for s in cov.statements]
        out["branch_runs"] = [_branch(b) for b in cov.branches]
    return out


def _statement(s: StatementRuns) -> dict:
    return {"location": s.span.short, "column": s.span.col, "statement": s.text, "runs": s.count,
            "threads": list(s.threads), "assert": s.assert_name or None}


def _branch(b: BranchRuns) -> dict:
    return {"location": b.span.short, "column": b.span.col, "statement": b.text, "decision": b.decision,
            "branch": b.branch, "runs": b.count}


def property_object(p: PropertyResult) -> dict:
    """One property's verdict as JSON data (with its trace when it has one)."""
    out: dict = {"name": p.name, "kind": p.kind, "status": p.status, "location": p.location or None,
                 "about": p.about, "message": p.message or None}
    if p.trace is not None:
        out["trace"] = [{"thread": s.thread, "location": s.location, "statement": s.statement,
                         "function": s.frame[-1] if s.frame else None, "note": s.note or None,
                         "signal": s.by_signal,
                         "changes": [{"name": n, "old": a, "new": b} for n, a, b in s.changes],
                         "locks": [{"lock": n, "old": a, "new": b} for n, a, b in s.locks]}
                        for s in p.trace.steps]
        out["trace_summary"] = {"steps": len(p.trace.steps), "threads": len(p.trace.threads),
                                "switches": p.trace.switches, "fewest_switches": p.trace.fewest_switches,
                                "settled": p.trace.settled, "cycle_start": p.trace.cycle,
                                "cycle_repeats_forever": p.trace.cycle_fair if p.trace.cycle is not None else None}
        out["final_state"] = dict(p.context)
    if p.waits:
        out["stuck"] = list(p.waits)
    if p.locations:
        out["stuck_locations"] = list(p.locations)
    if p.expected:
        out["expected"] = True
    if p.waited is not None:
        w = p.waited
        out["slow_steps_waited"] = {"procedure": w.procedure, "most": w.most,
                                    "most_not_behind_queued_writer": w.most_not_behind_queued_writer,
                                    "unbounded": w.most is None, "complete": w.complete, "waited": list(w.steps)}
    return out


def render_json(reports: list[SpecReport], timing: bool = True, several: bool = False, coverage: bool = False) -> str:
    """One object for one spec; an array when several specs were given."""
    objects = [report_object(r, timing, coverage) for r in reports]
    data = objects[0] if len(objects) == 1 and not several else objects
    return json.dumps(data, indent=2) + "\n"
