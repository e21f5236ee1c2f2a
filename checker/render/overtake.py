"""Overtakes (checker/analyses/overtake.py) as text and JSON: one row per thread declaration and
acquisition, and with `trace` the run that shows the answer in CPU columns."""

from __future__ import annotations

from ..analyses.overtake import Overtaken
from .text import cpu_table


def count_text(row: Overtaken) -> str:
    """The answer in words: `never waits there`, `at most 2`, `at least 2 (in the states explored)`,
    `unbounded`."""
    if not row.waits:
        return "never waits there" + ("" if row.complete else " (in the states explored)")
    if row.most is None:
        return "unbounded"
    return f"at most {row.most}" if row.complete else f"at least {row.most} (in the states explored)"


def fairness_text(row: Overtaken) -> str:
    """Why an unbounded answer is unbounded: starvation or stealing."""
    if row.starvation:
        return (f"taken round a cycle while {row.instance} stays blocked throughout: starvation, "
                "no fairness assumption helps")
    return (f"taken round a cycle in which {row.instance} could take it each time and another thread takes it "
            "first: lock stealing, only strong fairness rules it out")


def row_text(row: Overtaken, trace: bool) -> list[str]:
    lines = [f"  {row.site}: {count_text(row)}"]
    if row.waits and row.overtakers:
        lines.append(f"    overtaken by {', '.join(row.overtakers)} (waiting: {row.instance})")
    if row.most is None:
        lines.append(f"    {fairness_text(row)}")
    if trace and row.trace is not None:
        cycle = f", the cycle from step {row.cycle_start + 1}" if row.most is None else ""
        at = sorted(set(row.overtaken_at))
        since = f"after step {row.blocked_after}" if row.blocked_after else "from the start"
        lines.append(f"    a run that shows it: {len(row.trace.steps)} steps{cycle}; {row.instance} blocked there "
                     f"{since}, overtaken at step{'s' if len(at) > 1 else ''} {', '.join(str(i + 1) for i in at)}")
        lines.append("")
        lines.extend("    " + line for line in cpu_table(row.trace) or [])
        lines.append("")
    return lines


def overtakes_text(thread: str, rows: list[Overtaken], trace: bool) -> list[str]:
    """One thread declaration's answers."""
    if not rows:
        return [f"{thread}: never stands at a waiting lock acquisition"]
    lines = [f"{thread}: how often other threads take a lock while it waits for it"]
    for row in rows:
        lines.extend(row_text(row, trace))
    return lines


def row_json(row: Overtaken, trace: bool) -> dict:
    data: dict = {"statement": row.statement, "location": row.location, "procedure": row.procedure,
                  "waits": row.waits, "most": row.most, "unbounded": row.waits and row.most is None,
                  "starvation": row.starvation, "instance": row.instance, "overtakers": list(row.overtakers),
                  "complete": row.complete, "trace_steps": len(row.trace.steps) if row.trace is not None else 0,
                  "cycle_start": row.cycle_start if row.most is None else None,
                  "overtaken_at": list(row.overtaken_at), "blocked_after": row.blocked_after}
    if trace and row.trace is not None:
        data["trace"] = [{"thread": st.thread, "location": st.location, "statement": st.statement,
                          "note": st.note or None} for st in row.trace.steps]
    return data


def overtakes_json(answers: dict[str, list[Overtaken]], trace: bool) -> dict:
    return {thread: [row_json(row, trace) for row in rows] for thread, rows in answers.items()}
