"""`netcheck explain`: a property in plain words, and its counterexample told as a story.

Each step of the trace becomes one sentence, chosen by the kind of the IR node the step executes (see
model/program.py): lock and unlock calls say who takes what in which mode and who else holds or is
queued on it, loops say which element they reached, assignments and list operations say which shared
values changed from what to what, and the violating step says what broke. The words come from the spec
(statements, `about:` texts, element names) and from the states of the trace, never from guesswork.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

from netcheck.model.errors import SpecError
from netcheck.model.extends import load_with_extends
from netcheck.model.lockapi import LOCK_API
from netcheck.model.locks import read_depth, reader_tids
from netcheck.model.program import IR
from netcheck.model.system import TransitionSystem
from netcheck.model.yamlload import Map, Scalar

from .engine.result import ExplicitResult
from .render_text import cpu_labels, cpu_names, trace_summary
from .report import PropertyResult, SpecReport
from .trace import ThreadRef, Trace, TraceStep, why_wait
from .vocabulary import PropertyKind

WIDTH = 100
ACQUIRE = {name: info.rw_mode for name, info in LOCK_API.items() if info.acquires}   # op -> read, write or ''
RELEASE = {name: info.rw_mode for name, info in LOCK_API.items() if info.releases}
MODE_WORDS = {"read": "for reading", "write": "for writing", "": ""}


def property_expression(spec_path: str, name: str, kind: str) -> str:
    """The expression text of a declared invariant/final property, as written in the spec ('' if none)."""
    try:
        tree, _ = load_with_extends(Path(spec_path), spec_path)
    except (SpecError, OSError):
        return ""
    props = tree.get("properties")
    entry = props.get(name) if isinstance(props, Map) else None
    value = entry.get(kind) if isinstance(entry, Map) else None
    return value.text if isinstance(value, Scalar) else ""


def _assert_text(system: TransitionSystem, name: str) -> str:
    for a in system.spec.asserts:
        if a.name == name:
            return a.text
    return ""


class Narrator:
    """Turns the steps of one trace into sentences."""

    def __init__(self, system: TransitionSystem, trace: Trace):
        self.system = system
        self.trace = trace
        self.cpus = cpu_labels(trace)

    def who(self, tid: int) -> str:
        name = self.system.threads[tid].name
        cpu = self.cpus.get(tid)
        return f"{cpu} ({name})" if cpu else name

    def show(self, ref: ThreadRef) -> str:
        """A thread named in a note, as the sentences name it."""
        return self.who(ref.tid)

    def node(self, i: int) -> IR | None:
        step = self.trace.steps[i]
        return self.system.node_at(self.trace.states[i], step.tid)

    def sentences(self) -> list[str]:
        out = []
        frames: dict[int, tuple[str, ...]] = {}
        for i, step in enumerate(self.trace.steps):
            prev = self.trace.steps[i - 1] if i else None
            if prev is None or prev.tid != step.tid:
                subject = self.who(step.tid)
            else:
                subject = "It then"
            where = ""
            if step.frame and frames.get(step.tid, ())[-1:] != step.frame[-1:]:
                where = f", in {step.frame[-1]}(),"
            frames[step.tid] = step.frame
            text = f"{subject}{where} {self.action(i, step)}"
            loc = f" ({step.location})" if step.location else ""
            out.append(_capital(text.rstrip(".")) + loc + ".")
        return out

    # -- one step

    def action(self, i: int, step: TraceStep) -> str:
        node = self.node(i)
        after = self.trace.states[i + 1] if i + 1 < len(self.trace.states) else None
        verb = self.verb(i, step, node, after)
        extra = [self.changes(step)] if step.changes and step.kind not in ("listop",) else []
        note = step.note
        if "either: " in note:
            extra.append("the nondeterministic `either` goes: " + note.split("either: ", 1)[1])
        if note.startswith("VIOLATION: "):
            extra.append("which fails" if step.kind == "assert" else
                         "and this step breaks the property: " + note.removeprefix("VIOLATION: "))
        extra = [e for e in extra if e]
        if extra[-1:] == ["which fails"]:
            return "; ".join([verb] + extra[:-1]) + ", which fails"
        return "; ".join([verb] + extra)

    def verb(self, i: int, step: TraceStep, node: IR | None, after: tuple | None) -> str:
        kind, op, text = step.kind, step.op, step.statement
        if step.by_signal:
            return f"gets a fatal signal while waiting in {text}: the wait fails with -EINTR"
        if kind == "lock" and node is not None:
            return self.lock_verb(i, step, node, after)
        if kind == "lockwait" and node is not None:
            lock = self.lock_name(node, self.trace.states[i])
            mode = MODE_WORDS[ACQUIRE.get(op, "")]
            return f"wakes up holding {lock}{' ' + mode if mode else ''}"
        if kind == "call":
            return f"calls {text}"
        if kind == "branch":
            return f"tests {text}: {step.note or 'taken'}"
        if kind in ("loop_start", "loop_next"):
            head = text
            if step.note.startswith("loop ends") or not step.note:
                return f"finishes {head}" if kind == "loop_next" else f"finds nothing to walk in {head}"
            current = step.note.split(";")[0]
            return f"{'starts' if kind == 'loop_start' else 'continues'} {head} with {current}"
        if kind == "listop":
            return f"does {text}" + (f": {self.changes(step)}" if step.changes else "")
        if kind == "assign":
            return f"runs `{text}`" if step.changes else f"runs `{text}`, which changes no shared value"
        if kind == "assert":
            return f"checks {text}"
        if kind == "await":
            return (f"wakes up: there is work ({text})" if step.note.startswith("woken")
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

    def lock_name(self, node: IR, state: Sequence) -> str:
        """The lock instance a lock statement names (its text when the index does not evaluate)."""
        base = self.system.lock_slot(node, state)
        if base is None:
            return node.data["lock"] if "lock" in node.data else "the lock"
        return self.system.layout.slots[base].name.rsplit(".", 1)[0]

    def lock_verb(self, i: int, step: TraceStep, node: IR, after: tuple | None) -> str:
        op = step.op
        before = self.trace.states[i]
        base = self.system.lock_slot(node, before)
        if base is None:   # a null lock index: the step is the runtime_safety violation itself
            return f"does {step.statement}, whose lock index does not evaluate"
        lock = self.system.layout.slots[base].name.rsplit(".", 1)[0]
        if op in RELEASE:
            mode = RELEASE[op]
            text = f"releases {lock}" + (f" (its {mode} hold)" if mode else "")
            waiting = self.mutex_waiters(after, base, step.tid) if after is not None and not mode else []
            return text + (f", which {_and(waiting)} {'is' if len(waiting) == 1 else 'are'} waiting for"
                           if waiting else "")
        mode = ACQUIRE.get(op, "")
        words = MODE_WORDS[mode]
        if step.note.startswith("sleeps") and after is not None:
            why = why_wait(self.system, node, before, after).spell(self.show)
            return f"tries to take {lock} {words}".rstrip() + f" but has to sleep: {why}"
        if step.note.startswith("fails"):
            return f"tries {op}({lock}) and fails: the lock is busy"
        took = f"takes {lock}" + (f" {words}" if words else "")
        if after is None:
            return took
        if node.data.get("lock_kind") != "rwsem":
            waiting = self.mutex_waiters(after, base, step.tid)
            return took + (f" while {_and(waiting)} {'waits' if len(waiting) == 1 else 'wait'} for it"
                           if waiting else "")
        others = [t for t in reader_tids(after[base + 1]) if t != step.tid]
        queue = [w for w in after[base + 2]]
        parts = []
        if others:
            parts.append(", ".join(self.who(t) for t in others) + (" also holds" if len(others) == 1 else
                                                                     " also hold") + " it for reading")
        if queue:
            parts.append(", ".join(f"{self.who(w >> 1)} ({'write' if w & 1 else 'read'})" for w in queue)
                         + (" is" if len(queue) == 1 else " are") + " queued on it")
        depth = read_depth(after[base + 1], step.tid)
        if depth > 1:
            parts.append(f"it now holds it for reading {depth} times")
        return took + (" while " + " and ".join(parts) if parts else "")

    def mutex_waiters(self, state: Sequence, base: int, tid: int) -> list[str]:
        """The threads of the trace standing at a lock call on the mutex (or spinlock) at `base`, but `tid`."""
        return [self.who(t.tid) for t in self.system.threads
                if t.tid != tid and t.tid in self.cpus and self.system.mutex_wait_slot(state, t.tid) == base]

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


def ending(system: TransitionSystem, prop: PropertyResult) -> list[str]:
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
    else:
        lines.append(f"That step violates {prop.name}: {prop.message}.")
    return lines


def explain_property(report: SpecReport, exp: ExplicitResult, prop: PropertyResult) -> list[str]:
    system = exp.system
    declared = f", declared at {prop.location}" if prop.location and prop.kind.has_site else ""
    out = _wrap(f"{prop.name}: {prop.kind.words}{declared}.", "", "  ")
    if prop.about:
        out.extend(_wrap(f"In words: {prop.about}.", "  ", "    "))
    expression = property_expression(report.spec, prop.name, prop.kind) \
        if prop.kind in (PropertyKind.INVARIANT, PropertyKind.FINAL) \
        else _assert_text(system, prop.name) if prop.kind is PropertyKind.ASSERT else ""
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
            out.extend(line for title, body in report.sections if title.startswith("Lock order") for line in body)
        return out
    if not trace.steps:
        out.extend(_wrap(f"It is VIOLATED already in the initial state: {prop.message}.", "  "))
        return out
    threads = ", ".join(f"{cpu} is {name}" for name, cpu in cpu_names(trace).items())
    out.extend(_wrap(f"It is VIOLATED. {trace_summary(trace)}; {threads}.", "  "))
    out.append("")
    narrator = Narrator(system, trace)
    for n, sentence in enumerate(narrator.sentences(), 1):
        out.extend(_wrap(sentence, f"  {n:>3}. ", " " * 7))
    out.append("")
    for line in ending(system, prop):
        out.extend(_wrap(line, "  ", "    ") if not line.startswith("  - ") else _wrap(line, "  ", "      "))
    return out


def checked_on(report: SpecReport, prop: PropertyResult) -> str:
    """On what a property that holds was checked: every reachable state, the final states, or each time a
    thread ran the statement."""
    states = report.stats.states
    if prop.kind == "final":
        return f"checked on the {prop.checked_states:,} final states (of {states:,} reachable states)"
    if prop.checked_states >= 0:
        return f"checked on all {prop.checked_states:,} reachable states"
    if prop.kind == "assert":
        return "checked each time a thread ran it"
    return f"checked at every step from the {states:,} reachable states"


def explain(report: SpecReport, exp: ExplicitResult, names: Sequence[str] = ()) -> str:
    """The explanation of the named properties (all of them when none are named)."""
    chain = f" (extends {', '.join(report.files[1:])})" if len(report.files) > 1 else ""
    bounds = ", ".join(f"{n}={v}" for n, v in report.bounds) or "none"
    state_words = f"{report.stats.states:,} reachable states" if report.complete else \
        f"{report.stats.states:,} states explored, INCOMPLETE: {report.stop_reason}"
    about = exp.system.spec.about
    out = [f"netcheck explain: {report.spec}{chain}", f"  {report.name}" + (f": {about}" if about else ""),
           f"  bounds: {bounds}; {state_words}", ""]
    chosen = [p for p in report.properties if not names or p.name in names]
    for i, prop in enumerate(chosen):
        if i:
            out.append("")
        out.extend(explain_property(report, exp, prop))
    return "\n".join(out).rstrip() + "\n"
