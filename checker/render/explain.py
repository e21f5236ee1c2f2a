"""`netcheck explain`: a property in plain words, and its counterexample told as a story.

Each step of the trace becomes one sentence, chosen by the kind of the IR node the step executes (see
model/semantics/program.py): lock and unlock calls say who takes what in which mode and who else holds or is
queued on it, loops say which element they reached, assignments and list operations say which shared
values changed from what to what, and the violating step says what broke. The words come from the spec
(statements, `about:` texts, element names) and from the states of the trace, never from guesswork.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from netcheck.model.lang.lockapi import LOCK_API

from ..analyses.trace import LockFacts, Outcome, ThreadRef, Trace, TraceStep
from ..engine.vocabulary import PropertyKind
from ..report.build import PropertyResult, SpecReport
from .text import cpu_labels, cpu_names, sections, trace_summary

WIDTH = 100
ACQUIRE = {name: info.rw_mode for name, info in LOCK_API.items() if info.acquires}   # op -> read, write or ''
RELEASE = {name: info.rw_mode for name, info in LOCK_API.items() if info.releases}
MODE_WORDS = {"read": "for reading", "write": "for writing", "": ""}


class Narrator:
    """Turns the steps of one trace into sentences (from the trace alone: what each step did is on it)."""

    def __init__(self, trace: Trace):
        self.trace = trace
        self.cpus = cpu_labels(trace)

    def who(self, ref: ThreadRef) -> str:
        """A thread as the sentences name it: its CPU column and instance name."""
        cpu = self.cpus.get(ref.tid)
        return f"{cpu} ({ref.name})" if cpu else ref.name

    def sentences(self) -> list[str]:
        out = []
        frames: dict[int, tuple[str, ...]] = {}
        for i, step in enumerate(self.trace.steps):
            prev = self.trace.steps[i - 1] if i else None
            if prev is None or prev.tid != step.tid:
                subject = self.who(ThreadRef(step.tid, step.thread))
            else:
                subject = "It then"
            where = ""
            if step.frame and frames.get(step.tid, ())[-1:] != step.frame[-1:]:
                where = f", in {step.frame[-1]}(),"
            frames[step.tid] = step.frame
            text = f"{subject}{where} {self.action(step)}"
            loc = f" ({step.location})" if step.location else ""
            out.append(_capital(text.rstrip(".")) + loc + ".")
        return out

    # -- one step

    def action(self, step: TraceStep) -> str:
        verb = self.verb(step)
        extra = [self.changes(step)] if step.changes and step.kind not in ("listop",) else []
        if step.choices:
            extra.append("the nondeterministic `either` goes: " + ", ".join(step.choices))
        if step.outcome is Outcome.VIOLATES and not step.by_signal:
            extra.append("which fails" if step.kind == "assert" else
                         "and this step breaks the property: " + step.violation)
        extra = [e for e in extra if e]
        if extra[-1:] == ["which fails"]:
            return "; ".join([verb] + extra[:-1]) + ", which fails"
        return "; ".join([verb] + extra)

    def verb(self, step: TraceStep) -> str:
        kind, op, text = step.kind, step.op, step.statement
        if step.by_signal:
            return f"gets a fatal signal while waiting in {text}: the wait fails with -EINTR"
        if kind == "lock" and step.lock is not None:
            return self.lock_verb(step, step.lock)
        if kind == "lockwait" and step.lock is not None:
            lock = step.lock.lock or "the lock"
            mode = MODE_WORDS[ACQUIRE.get(op, "")]
            return f"wakes up holding {lock}{' ' + mode if mode else ''}"
        if kind == "call":
            return f"calls {text}"
        if kind == "branch":
            return f"tests {text}: {step.note or 'taken'}"
        if kind in ("loop_start", "loop_next"):
            head = text
            if step.outcome is Outcome.LOOP_ENDS or not step.detail.spell():
                return f"finishes {head}" if kind == "loop_next" else f"finds nothing to walk in {head}"
            current = step.detail.spell()
            return f"{'starts' if kind == 'loop_start' else 'continues'} {head} with {current}"
        if kind == "listop":
            return f"does {text}" + (f": {self.changes(step)}" if step.changes else "")
        if kind == "assign":
            return f"runs `{text}`" if step.changes else f"runs `{text}`, which changes no shared value"
        if kind == "assert":
            return f"checks {text}"
        if kind == "await":
            return (f"wakes up: there is work ({text})" if step.outcome is Outcome.WOKEN
                    else f"waits in {text} and finds it true")
        if kind == "rcu":
            return {"synchronize_rcu": "calls synchronize_rcu() and starts waiting for an RCU grace period",
                    "rcu_barrier": "calls rcu_barrier() and starts waiting for pending RCU callbacks",
                    "rcu_read_lock": "enters an RCU read-side critical section",
                    "rcu_read_unlock": "leaves its RCU read-side critical section"}.get(op, f"does {text}")
        if kind == "gpwait":
            return ("sees the grace period end: synchronize_rcu() returns" if op == "synchronize_rcu"
                    else "sees the pending RCU callbacks done: rcu_barrier() returns")
        return f"does {text}"

    def lock_verb(self, step: TraceStep, facts: LockFacts) -> str:
        op, lock = step.op, facts.lock
        if not lock:   # a null lock index: the step is the runtime_safety violation itself
            return f"does {step.statement}, whose lock index does not evaluate"
        done = step.outcome is not Outcome.VIOLATES
        if op in RELEASE:
            mode = RELEASE[op]
            text = f"releases {lock}" + (f" (its {mode} hold)" if mode else "")
            waiting = [self.who(t) for t in facts.waiting] if done and not mode else []
            return text + (f", which {_and(waiting)} {'is' if len(waiting) == 1 else 'are'} waiting for"
                           if waiting else "")
        mode = ACQUIRE.get(op, "")
        words = MODE_WORDS[mode]
        if step.outcome is Outcome.SLEEPS:
            return f"tries to take {lock} {words}".rstrip() + f" but has to sleep: {facts.why.spell(self.who)}"
        if step.outcome is Outcome.FAILS:
            return f"tries {op}({lock}) and fails: the lock is busy"
        took = f"takes {lock}" + (f" {words}" if words else "")
        if not done:
            return took
        if not facts.rwsem:
            waiting = [self.who(t) for t in facts.waiting]
            return took + (f" while {_and(waiting)} {'waits' if len(waiting) == 1 else 'wait'} for it"
                           if waiting else "")
        parts = []
        if facts.readers:
            parts.append(", ".join(self.who(t) for t in facts.readers) + (" also holds" if len(facts.readers) == 1
                                                                        else " also hold") + " it for reading")
        if facts.queue:
            parts.append(", ".join(f"{self.who(t)} ({'write' if writer else 'read'})" for t, writer in facts.queue)
                         + (" is" if len(facts.queue) == 1 else " are") + " queued on it")
        if facts.depth > 1:
            parts.append(f"it now holds it for reading {facts.depth} times")
        return took + (" while " + " and ".join(parts) if parts else "")

    @staticmethod
    def changes(step: TraceStep) -> str:
        return ", ".join(f"{name} goes from {old} to {new}" for name, old, new in step.changes)


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _wrap(text: str, indent: str, hanging: str | None = None) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=hanging or indent,
                         break_long_words=False, break_on_hyphens=False) or [indent.rstrip()]


def ending(prop: PropertyResult) -> list[str]:
    """What the last state (or step) means for the property."""
    lines = []
    values = ", ".join(f"{n} = {v}" for n, v in prop.context if not n.startswith("(")) if prop.context else ""
    if prop.kind == "invariant":
        lines.append(f"Now the invariant is false{': ' + values if values else ''}.")
    elif prop.kind == "final":
        lines.append(f"Every thread has finished, and the final property is false{': ' + values if values else ''}.")
    elif prop.kind == "deadlock":
        lines.append(f"Now no thread can ever take a step: {prop.message}.")
        lines.extend(f"  - {w}" for w in prop.waits)
    elif prop.kind.is_liveness:
        trace = prop.trace
        if trace is not None and trace.cycle is not None:
            n = len(trace.steps)
            lines.append("Then nothing can step any more: the run stays in that state forever." if trace.cycle == n
                         else f"After step {n} the run is back in the state before step {trace.cycle + 1}, so steps "
                              f"{trace.cycle + 1} to {n} can repeat " +
                              ("forever." if trace.cycle_fair else "as often as one likes."))
        lines.append(f"So {prop.name} is violated: {prop.message}.")
    else:
        lines.append(f"That step violates {prop.name}: {prop.message}.")
    return lines


def explain_property(report: SpecReport, prop: PropertyResult) -> list[str]:
    declared = f", declared at {prop.location}" if prop.location and prop.kind.has_site else ""
    out = _wrap(f"{prop.name}: {prop.kind.words}{declared}.", "", "  ")
    if prop.about:
        out.extend(_wrap(f"In words: {prop.about}.", "  ", "    "))
    expression = prop.expression if prop.kind in (PropertyKind.INVARIANT, PropertyKind.FINAL,
                                                  PropertyKind.ASSERT) else ""
    if expression:
        out.extend(_wrap(f"As written: {expression}", "  ", "    "))
    out.append("")
    if prop.status == "holds":
        out.extend(_wrap(f"It HOLDS: {checked_on(report, prop)} (the exploration is complete).", "  "))
        return out
    if prop.status == "vacuous":
        out.extend(_wrap(f"It is VACUOUS, not a pass: {prop.message}.", "  "))
        return out
    if prop.status == "unknown":
        out.extend(_wrap(f"It is UNKNOWN, not a pass: {prop.message}.", "  "))
        return out
    if prop.status == "unreachable":
        out.extend(_wrap(f"It cannot happen: no reachable state out of {report.stats.states:,} shows it.", "  "))
        return out
    trace = prop.trace
    if trace is None:
        out.extend(_wrap(f"It is VIOLATED: {prop.message}.", "  "))
        if prop.kind == "lock_order":
            out.extend(line for title, body in sections(report) if title.startswith("Lock order") for line in body)
        return out
    if not trace.steps:
        out.extend(_wrap(f"It is VIOLATED already in the initial state: {prop.message}.", "  "))
        return out
    threads = ", ".join(f"{cpu} is {name}" for name, cpu in cpu_names(trace).items())
    out.extend(_wrap(f"It is VIOLATED. {trace_summary(trace)}; {threads}.", "  "))
    out.append("")
    narrator = Narrator(trace)
    for n, sentence in enumerate(narrator.sentences(), 1):
        out.extend(_wrap(sentence, f"  {n:>3}. ", " " * 7))
    out.append("")
    for line in ending(prop):
        out.extend(_wrap(line, "  ", "    ") if not line.startswith("  - ") else _wrap(line, "  ", "      "))
    return out


def checked_on(report: SpecReport, prop: PropertyResult) -> str:
    """On what a property that holds was checked: every reachable state, the final states, or each time a
    thread ran the statement."""
    states = report.stats.states
    if prop.kind.is_liveness:
        waited = f"; {prop.checked_states:,} of them wait for it" if prop.checked_states >= 0 else ""
        return f"checked on every fair run of the complete state graph ({states:,} states{waited})"
    if prop.kind == "final":
        return f"checked on the {prop.checked_states:,} final states (of {states:,} reachable states)"
    if prop.checked_states >= 0:
        return f"checked on all {prop.checked_states:,} reachable states"
    if prop.kind == "assert":
        return "checked each time a thread ran it"

    return f"checked at every step from the {states:,} reachable states"


def explain(report: SpecReport, names: Sequence[str] = ()) -> str:
    """The explanation of the named properties (all of them when none are named)."""
    chain = f" (extends {', '.join(report.files[1:])})" if len(report.files) > 1 else ""
    bounds = ", ".join(f"{n}={v}" for n, v in report.bounds) or "none"
    state_words = f"{report.stats.states:,} reachable states" if report.complete else \
        f"{report.stats.states:,} states explored, INCOMPLETE: {report.stop_reason}"
    about = report.about
    out = [f"netcheck explain: {report.spec}{chain}", f"  {report.name}" + (f": {about}" if about else ""),
           f"  bounds: {bounds}; {state_words}", ""]
    chosen = [p for p in report.properties if not names or p.name in names]
    for i, prop in enumerate(chosen):
        if i:
            out.append("")
        out.extend(explain_property(report, prop))
    return "\n".join(out).rstrip() + "\n"
