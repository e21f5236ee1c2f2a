"""`netcheck hunt` as text and JSON: the violations found, each with the worker that found it and its
shortened trace in CPU columns (render/text.py), then the coverage reached. Never a "holds".
"""

from __future__ import annotations

import json
from typing import Any

from .. import __version__
from ..engine.hunt import HuntCoverage
from ..report.hunt import HuntReport, HuntViolation, MemberCoverage
from .json import property_object
from .text import violation_text

UNTIL = {"time": "for the whole time", "first": "until the first violation",
         "expected": "until every violation expect: lists that it looks for is found",
         "all": "until every property it looks for is violated"}
STOPPED = {"time": "the time is up", "goal": "what it hunted for is found",
           "ended": "every worker's search ended (or spent its state budget)",
           "exhausted": "a worker's search stored every state it reached, nothing cut off by the depth limit (only "
                        "states its table skipped are left)",
           "interrupted": "interrupted (Ctrl-C): what was found so far"}
NOT_A_PROOF = ("a bitstate search skips a state when its bits are taken: finding nothing proves nothing, and a "
               "trace is shortened, not necessarily the shortest")


def render_hunt_text(report: HuntReport, trace_style: str = "cpu", timing: bool = True,
                     width: int | None = None) -> str:
    """The hunt as text: header, one line per violation found, their traces, the coverage, the summary."""
    lines = _header(report, timing)
    for v in report.violations:
        lines.append(_found_line(v, timing))
    for v in report.violations:
        lines.append("")
        lines.extend(violation_text(v.result, trace_style, width, _trace_title(v)).rstrip("\n").split("\n"))
    lines.append("")
    lines.append("Coverage (per worker; states counted once per run, a run starting afresh):")
    lines.extend(_coverage_table(report, timing))
    if report.expectation is not None:
        lines.append("")
        lines.extend(_expectation(report))
    lines.append("")
    lines.append(_summary(report, timing))
    return "\n".join(lines) + "\n"


def _header(report: HuntReport, timing: bool) -> list[str]:
    s = report.settings
    chain = f" (extends {', '.join(report.files[1:])})" if len(report.files) > 1 else ""
    bounds = ", ".join(f"{n}={v}" for n, v in report.bounds)
    e = report.expectation
    hunted = [p for p in e.violated if p not in e.not_looked_for] if e is not None else []
    until = UNTIL["time"] if s.until == "expected" and not hunted else UNTIL[s.until]
    budget = f", at most {s.max_states:,} states each" if s.max_states else ""
    lines = [f"netcheck hunt: {report.spec}{chain}", f"  bounds: {bounds or 'none'}",
             f"  swarm: {_plural(s.workers, 'worker')} from seed {s.seed}, {s.seconds:g} s{budget}, {until}; "
             f"depth limit {s.depth_limit}"
             f"{'' if report.reduction == 'none' else '; reduction: ' + report.reduction}"]
    if report.symmetry:
        lines.append(f"  symmetry: {report.symmetry}")
    lines.append(f"  looks for: {', '.join(report.looked_for)}")
    if report.not_looked_for:
        lines.append(f"  not looked for (netcheck verify decides them): {', '.join(report.not_looked_for)}")
    lines.append(f"  {NOT_A_PROOF}")
    stopped = f"  stopped: {STOPPED.get(report.stop_reason, report.stop_reason)}"
    if timing:
        stopped += f" after {report.seconds:.2f} s (and {report.setup_seconds:.2f} s to start)"
    return lines + [stopped, ""]


def _found_line(v: HuntViolation, timing: bool) -> str:
    r = v.result
    where = f"  [{r.location}]" if r.location and r.kind.has_site else ""
    when = f", after {v.seconds:.2f} s" if timing else ""
    return (f"  FOUND       {r.name} ({r.kind}){where}{'  (expected)' if r.expected else ''}  "
            f"by worker {v.member} (seed {v.seed}){when}")


def _trace_title(v: HuntViolation) -> str:
    steps = _plural(v.found_steps, "step")
    if v.result.shortest:
        return f"Shortest counterexample (found again breadth-first; hunt's own path had {steps})"
    trace = v.result.trace
    if trace is not None and len(trace.steps) < v.found_steps:
        return f"Counterexample from hunt, shortened from {steps} (not necessarily the shortest)"
    return "Counterexample from hunt (not necessarily the shortest)"


def _coverage_table(report: HuntReport, timing: bool) -> list[str]:
    head = ["worker", "seed", "states", "transitions", "max depth", "runs", "cut off", "hash factor"]
    head += ["seconds"] if timing else []
    rows = [_row(str(m.member), str(m.config.seed), m.coverage, timing) for m in report.members]
    if len(report.members) > 1:
        rows.append(_row("total", "", report.total, timing, hash_factor=False))
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return ["  " + "  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in [head, *rows]]


def _row(name: str, seed: str, c: HuntCoverage, timing: bool, hash_factor: bool = True) -> list[str]:
    row = [name, seed, f"{c.states:,}", f"{c.transitions:,}", str(c.max_depth), str(c.runs), f"{c.truncated:,}",
           f"{c.hash_factor:,.0f}" if hash_factor else ""]
    return row + [f"{c.seconds:.2f}"] if timing else row


def _expectation(report: HuntReport) -> list[str]:
    e = report.expectation
    assert e is not None
    looked = [p for p in e.violated if p not in e.not_looked_for]
    lines = [f"expect: ({e.location}) lists {', '.join(e.violated)}"]
    lines.append(f"  found {len(e.found)} of the {len(looked)} it looks for"
                 f"{': ' + ', '.join(e.found) if e.found else ''}")
    if e.missing:
        lines.append(f"  not found: {', '.join(e.missing)} (hunt may miss what is there)")
    if e.not_looked_for:
        lines.append(f"  not looked for: {', '.join(e.not_looked_for)} (netcheck verify decides them)")
    if e.unexpected:
        lines.append(f"  found, but expect: does not list: {', '.join(e.unexpected)}")
    return lines


def _summary(report: HuntReport, timing: bool) -> str:
    total = report.total
    took = f" in {report.seconds:.2f} s" if timing else ""
    if report.violations:
        return (f"FOUND: {_plural(len(report.violations), 'property')} violated{took} "
                f"({total.states:,} states); traces are real runs (exit {report.exit_code})")
    every = "; a search stored every state it reached" if total.exhausted else ""
    return (f"NOTHING FOUND{took} by {_plural(report.settings.workers, 'worker')} ({total.states:,} states, "
            f"depth {total.max_depth}{every}): not a proof (exit {report.exit_code})")


def _plural(n: int, word: str) -> str:
    return f"{n} {word[:-1] + 'ies' if word.endswith('y') and n != 1 else word + ('' if n == 1 else 's')}"


# ---------------------------------------------------------------- JSON


def hunt_object(report: HuntReport, timing: bool = True) -> dict[str, Any]:
    """The hunt as JSON data (docs/scaling.md, "Swarm hunting")."""
    s = report.settings
    out: dict[str, Any] = {
        "netcheck": __version__, "command": "hunt", "spec": report.spec, "name": report.name,
        "files": list(report.files), "bounds": dict(report.bounds), "reduction": report.reduction,
        "symmetry": report.symmetry or None,
        "swarm": {"workers": s.workers, "seed": s.seed, "seconds": s.seconds, "depth_limit": s.depth_limit,
                  "until": s.until, "max_states": s.max_states},
        "stop_reason": report.stop_reason, "exit_code": report.exit_code,
        "looked_for": list(report.looked_for), "not_looked_for": list(report.not_looked_for),
        "violations": [_violation(v, timing) for v in report.violations],
        "coverage": {"workers": [_member(m, timing) for m in report.members],
                     "total": _coverage(report.total, False)},
    }
    if timing:
        out["seconds"], out["setup_seconds"] = report.seconds, report.setup_seconds
    if report.expectation is not None:
        e = report.expectation
        out["expect"] = {"violated": list(e.violated), "found": list(e.found), "missing": list(e.missing),
                         "not_looked_for": list(e.not_looked_for), "unexpected": list(e.unexpected),
                         "met": e.met}
    return out


def _violation(v: HuntViolation, timing: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"worker": v.member, "seed": v.seed, "search_steps": v.found_steps,
                           "shortest": v.result.shortest}
    if timing:
        out["seconds"] = v.seconds
    return {**out, **property_object(v.result)}


def _member(m: MemberCoverage, timing: bool) -> dict[str, Any]:
    c = m.config
    return {"worker": m.member, "seed": c.seed, "depth_limit": c.depth_limit, "first_depth": c.first_depth,
            "restart_states": c.restart_states, "table_bits": c.table_bits, **_coverage(m.coverage, timing)}


def _coverage(c: HuntCoverage, timing: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"states": c.states, "transitions": c.transitions, "max_depth": c.max_depth,
                           "runs": c.runs, "cut_off": c.truncated, "ended": c.ended, "exhausted": c.exhausted}
    if timing:
        out["seconds"] = c.seconds
    return out


def render_hunt_json(report: HuntReport, timing: bool = True) -> str:
    return json.dumps(hunt_object(report, timing), indent=2) + "\n"
