"""Mutation runs (analyses/mutate.py) as a table and as JSON."""

from __future__ import annotations

from ..analyses.mutate import MutantResult, MutationRun


def result_text(r: MutantResult) -> str:
    if r.status == "caught":
        steps = f" ({r.trace_length} steps)" if r.trace_length is not None else ""
        return f"caught by {', '.join(r.caught_by)}{steps}"
    if r.status == "invalid":
        return f"invalid: {r.message}"
    if r.status == "unknown":
        return f"unknown: {r.message}"
    return "survived"


def render_text(run: MutationRun) -> str:
    counts = {s: sum(1 for r in run.results if r.status == s) for s in ("caught", "survived", "invalid", "unknown")}
    bounds = ", ".join(f"{n}={v}" for n, v in run.bounds)
    lines = [f"netcheck mutate: {run.spec}", f"  bounds: {bounds or 'none'}; {len(run.results)} mutants, "
             f"{run.workers} worker{'s' if run.workers != 1 else ''}"]
    if run.baseline.status != "survived":
        lines.append(f"  WARNING: the spec itself does not verify ({result_text(run.baseline)}): "
                     "mutants caught by the same property say nothing")
    lines.append("")
    width = max([len(r.mutation.description) for r in run.results] + [8])
    loc_width = max([len(r.mutation.location) for r in run.results] + [8])
    lines.append(f"  {'#':>3}  {'mutation'.ljust(width)}  {'location'.ljust(loc_width)}  result")
    for i, r in enumerate(run.results, 1):
        lines.append(f"  {i:>3}  {r.mutation.description.ljust(width)}  {r.mutation.location.ljust(loc_width)}  "
                     f"{result_text(r)}")
    lines.append("")
    lines.append(f"{len(run.results)} mutants: {counts['caught']} caught, {counts['survived']} survived, "
                 f"{counts['invalid']} invalid" + (f", {counts['unknown']} unknown" if counts["unknown"] else "")
                 + f" ({run.seconds:.1f} s wall)")
    if counts["survived"]:
        lines.append("A survivor means the lock (or lock mode, or ordering) it weakens is not needed for the "
                     "stated properties at these bounds, or the properties are too weak to notice.")
    return "\n".join(lines) + "\n"


def to_json(run: MutationRun) -> dict:
    return {"spec": run.spec, "bounds": dict(run.bounds), "seconds": round(run.seconds, 1), "workers": run.workers,
            "baseline": run.baseline.status,
            "mutants": [{"mutation": r.mutation.description, "kind": r.mutation.kind,
                         "procedure": r.mutation.procedure, "location": r.mutation.location,
                         "status": r.status, "caught_by": list(r.caught_by), "trace_length": r.trace_length,
                         "states": r.states, "message": r.message or None} for r in run.results]}
