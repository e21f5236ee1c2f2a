"""Frozen results of verifying one spec: per-property verdicts, counterexamples, statistics, exit code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netcheck.model.evaluate import format_value
from netcheck.model.system import TransitionSystem

from .coverage import Coverage, summarize
from .explore import Exploration
from .lockorder import LockOrder, cycle_message, lock_order, report_section
from .lockorder import to_json as lock_order_json
from .trace import Trace, counterexample, lock_rows
from .waitfor import DeadlockExplanation, deadlock_json, explain_deadlock, slow_chains

EXIT_OK, EXIT_VIOLATED, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_INTERNAL = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class PropertyResult:
    name: str
    kind: str
    status: str            # holds, violated, unknown
    location: str          # file:line of the declaration (or of the violating step for built-in properties)
    about: str
    message: str = ""
    trace: Trace | None = None
    context: tuple[tuple[str, str], ...] = ()   # relevant part of the final state: (name, value)
    waits: tuple[str, ...] = ()                 # for deadlocks: what each stuck thread waits for
    explanation: DeadlockExplanation | None = None   # for deadlocks: the cycle (or chain) of waits, classified


@dataclass(frozen=True)
class Stats:
    states: int
    transitions: int
    depth: int
    seconds: float
    states_per_second: float
    peak_memory_mb: float
    deadlocked_states: int
    final_states: int


@dataclass(frozen=True)
class SpecReport:
    spec: str
    name: str
    files: tuple[str, ...]
    bounds: tuple[tuple[str, int], ...]
    complete: bool
    stop_reason: str
    properties: tuple[PropertyResult, ...]
    stats: Stats
    # analyses beyond the properties (lock order, wait-for chains, ...): text sections and JSON members
    sections: tuple[tuple[str, tuple[str, ...]], ...] = ()
    extra_json: tuple[tuple[str, object], ...] = ()
    coverage: Coverage | None = None
    strict_coverage: bool = False   # --strict-coverage: a statement no reachable transition runs fails the run

    @property
    def coverage_failed(self) -> bool:
        """Under --strict-coverage, a complete run left a statement unexecuted."""
        cov = self.coverage
        return self.strict_coverage and cov is not None and cov.complete and bool(cov.unreached)

    @property
    def exit_code(self) -> int:
        if any(p.status == "violated" for p in self.properties) or self.coverage_failed:  # questions never fail
            return EXIT_VIOLATED
        if not self.complete or any(p.status == "unknown" for p in self.properties):
            return EXIT_INCOMPLETE
        return EXIT_OK


def build_report(path: str, exp: Exploration, order: LockOrder | None = None) -> SpecReport:
    """Every property's verdict (lock_order included: pass `order` when already computed)."""
    system = exp.system
    results = []
    extra: list[tuple[str, object]] = []
    for name, kind, about, span in system.property_kinds():
        found = exp.found.get(name)
        location = span.short if span is not None else ""
        if kind in QUESTIONS:
            results.append(answer(exp, name, kind, about, location))
            continue
        if found is not None:
            trace = counterexample(exp, found)
            if not location and trace.steps:
                location = trace.steps[-1].location
            final = trace.states[-1] if trace.states else system.base_state
            context = relevant_state(system, name, kind, final)
            message = found.message or _default_message(kind)
            explanation = None
            waits: tuple[str, ...] = ()
            if kind == "deadlock":
                explanation = explain_deadlock(system, final)
                message, waits = explanation.summary, explanation.threads
                extra.append(("deadlock", deadlock_json(system, explanation)))
            results.append(PropertyResult(name, kind, "violated", location, about, message, trace, context, waits,
                                          explanation))
        elif not exp.complete:
            results.append(PropertyResult(name, kind, "unknown", location, about,
                                          f"exploration stopped: {exp.stop_reason}"))
        elif name in exp.unknown:
            results.append(PropertyResult(name, kind, "unknown", location, about, exp.unknown[name]))
        else:
            results.append(PropertyResult(name, kind, "holds", location, about))
    order = order if order is not None else lock_order(exp)
    after = next((i + 1 for i, r in enumerate(results) if r.kind == "deadlock"),
                 next((i for i, r in enumerate(results) if r.kind == "lock_discipline"), len(results)))
    results.insert(after, lock_order_result(order, exp))
    extra.insert(0, ("lock_order", lock_order_json(order)))
    seconds = exp.seconds
    stats = Stats(len(exp.states), exp.transitions, exp.max_depth, round(seconds, 3),
                  round(len(exp.states) / seconds, 1) if seconds > 0 else 0.0, round(exp.peak_memory_mb, 1),
                  len(exp.deadlocks), len(exp.finals))
    sections = (("Lock order (lockdep rules):", tuple(report_section(order))),)
    coverage = summarize(system, exp.executions, exp.complete) if exp.executions is not None else None
    return SpecReport(path, system.spec.name, system.spec.files, system.spec.bounds, exp.complete, exp.stop_reason,
                      tuple(results), stats, sections, tuple(extra), coverage)


QUESTIONS = ("reachable", "waits_on_slow")  # asked, not required: they never fail a run


def answer(exp: Exploration, name: str, kind: str, about: str, location: str) -> PropertyResult:
    """A question's answer: reachable (with the shortest witness trace), unreachable, or unknown."""
    system = exp.system
    trace, message = None, ""
    context: tuple[tuple[str, str], ...] = ()
    if kind == "reachable":
        found = exp.found.get(name)
        if found is not None:
            trace = counterexample(exp, found)
            final = trace.states[-1] if trace.states else system.base_state
            context = relevant_state(system, name, kind, final)
            message = "reachable: the trace below is a shortest way there"
    else:
        decl = next(p for p in system.spec.properties if p.name == name)
        witness = slow_chains(exp, decl.target)
        if witness is not None:
            trace = witness.trace
            message = witness.text
    if trace is not None:
        return PropertyResult(name, kind, "reachable", location, about, message, trace, context)
    if not exp.complete:
        return PropertyResult(name, kind, "unknown", location, about, f"exploration stopped: {exp.stop_reason}")
    return PropertyResult(name, kind, "unreachable", location, about, "no reachable state: it cannot happen")


LOCK_ORDER_ABOUT = ("no strong cycle in the lock-order graph (lockdep's rules): no potential ABBA inversion or "
                    "recursive locking, reached or not")


def lock_order_result(order: LockOrder, exp: Exploration) -> PropertyResult:
    """The lock_order property: violated by any strong cycle, even one exploration never deadlocked on."""
    if order.cycles:
        dep = order.cycles[0].deps[-1]
        return PropertyResult("lock_order", "lock_order", "violated", dep.acquired_site.location, LOCK_ORDER_ABOUT,
                              cycle_message(order) + " (see 'Lock order' below)")
    if not exp.complete:
        return PropertyResult("lock_order", "lock_order", "unknown", "", LOCK_ORDER_ABOUT,
                              f"exploration stopped: {exp.stop_reason}")
    return PropertyResult("lock_order", "lock_order", "holds", "", LOCK_ORDER_ABOUT)


def _default_message(kind: str) -> str:
    return {"invariant": "the invariant is false in this state", "final": "false when every thread has finished",
            "deadlock": "no thread can take a step, and not every thread has finished"}.get(kind, "")


def slot_value(system: TransitionSystem, index: int, value: object) -> str:
    info = system.layout.slots[index]
    return format_value(value, info.type, system.names)


def relevant_state(system: TransitionSystem, name: str, kind: str, state: Sequence) -> tuple[tuple[str, str], ...]:
    """The part of the final state a reader needs: what the property reads, or the lock table."""
    slots: set[int] = set()
    for prop in (*system.invariants, *system.finals):
        if prop.decl.name == name:
            slots = set(prop.slots)
    for a in system.spec.asserts:
        if a.name == name and a.cond is not None:
            slots = system.mentioned_slots(a.cond)
    shared = [i for i in sorted(slots) if system.layout.slots[i].kind == "shared"]
    initial = system.base_state
    changed = [i for i in shared if state[i] != initial[i]]
    shown = changed if changed and len(shared) > 6 else shared
    out = [(system.layout.slots[i].name, slot_value(system, i, state[i])) for i in shown]
    if len(shown) < len(shared):
        out.append((f"(the other {len(shared) - len(shown)} values it reads)", "unchanged since the start"))
    if kind in ("deadlock", "lock_discipline") or not out:
        out.extend(lock_table(system, state))
    return tuple(out)


def lock_table(system: TransitionSystem, state: Sequence) -> list[tuple[str, str]]:
    """Every lock that is held or waited for, with its holders and waiters."""
    return list(lock_rows(system, state).items())


def blocked_threads(system: TransitionSystem, state: Sequence) -> list[str]:
    """One line per unfinished thread of a stuck state: where it is and what it waits for."""
    lines = []
    for t in system.threads:
        if system.quiescent(state, t.tid):
            continue
        node = system.node_at(state, t.tid)
        assert node is not None and node.stmt is not None
        lines.append(f"{t.name} at {node.stmt.span.short}: {node.stmt.text}")
    return lines
