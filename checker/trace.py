"""Counterexamples: the shortest path to a violation, replayed step by step to describe each step."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netcheck.model.evaluate import format_value
from netcheck.model.program import IR
from netcheck.model.runtime import Violation
from netcheck.model.system import Thread, TransitionSystem

from .explore import Exploration, Found


@dataclass(frozen=True)
class TraceStep:
    """One step of one thread: where (spec line), what (the statement) and how it went (note)."""

    tid: int
    thread: str
    location: str          # file:line
    statement: str
    frame: tuple[str, ...]  # procedure call chain, outermost first
    note: str = ""
    by_signal: bool = False


@dataclass(frozen=True)
class Trace:
    steps: tuple[TraceStep, ...]
    states: tuple[tuple, ...]   # the state before each step, and the last state (len(steps) + 1, or equal for
    #                             a violating step, which has no successor)
    violating: bool             # the last step itself violates the property
    message: str = ""

    @property
    def threads(self) -> list[int]:
        """The threads taking part, in order of first appearance."""
        seen: list[int] = []
        for step in self.steps:
            if step.tid not in seen:
                seen.append(step.tid)
        return seen


def traced_fire(thread: Thread, s: tuple, by_signal: bool) -> list[tuple[tuple[str, ...], object]]:
    """Like the step's fire, but each result comes with the `either` branches taken while settling."""
    step = thread.steps[s[thread.pcslot]]
    if step is None:
        return []
    builder = thread.builder
    plain = builder.settle

    def traced(l: list, out: list) -> None:
        stack = [(l, ())]
        while stack:
            l, choices = stack.pop()
            while True:
                pc = l[thread.pcslot]
                run = thread.runs[pc]
                if run is None:
                    out.append((choices, tuple(l)))
                    break
                r = run(l)
                if r.__class__ is int:
                    l[thread.pcslot] = r
                elif r.__class__ is list:
                    branches = thread.nodes[pc].data["branches"]
                    for alt, (name, _) in zip(r[1:], branches[1:]):
                        copy = l.copy()
                        copy[thread.pcslot] = alt
                        stack.append((copy, choices + (name,)))
                    l[thread.pcslot] = r[0]
                    choices = choices + (branches[0][0],)
                else:
                    out.append((choices, r))
                    break
    builder.settle = traced
    try:
        fn = step.sig if by_signal else step.fire
        results = fn(s) if fn is not None else []
    finally:
        builder.settle = plain
    return [r if isinstance(r, tuple) else ((), r) for r in results]


def describe(system: TransitionSystem, s: tuple, tid: int, after: object, by_signal: bool,
             choices: tuple[str, ...]) -> TraceStep:
    thread = system.threads[tid]
    node = thread.nodes[s[thread.pcslot]]
    note = _note(system, thread, node, s, after, by_signal)
    if choices:
        note = (note + "; " if note else "") + "either: " + ", ".join(choices)
    span = node.stmt.span if node.stmt else None
    text = node.stmt.text if node.stmt else node.kind
    if node.kind == "lockwait":
        text = f"(waiting in {text})"
    elif node.kind == "gpwait":
        text = f"(in {text})"
    elif node.kind == "assign" and node.data.get("call"):
        text = _call_text(system, thread, node, after)
    return TraceStep(tid, thread.name, span.short if span else "", text, node.frame, note, by_signal)


def _call_text(system: TransitionSystem, thread: Thread, node: IR, after: object) -> str:
    """`setup_net(net=net1)`: a call with the argument values it received."""
    if not isinstance(after, tuple):
        return node.stmt.text if node.stmt else ""
    parts = []
    for name, (slot, _, t) in zip(node.data["params"], node.data["writes"]):
        parts.append(f"{name}={format_value(after[slot], t, system.names)}")
    return f"{node.data['call']}({', '.join(parts)})"


def _note(system: TransitionSystem, thread: Thread, node: IR, before: tuple, after: object, by_signal: bool) -> str:
    if isinstance(after, Violation):
        return f"VIOLATION: {after.message}"
    if by_signal:
        return "fatal signal while waiting: fails with -EINTR"
    assert isinstance(after, tuple)
    new_pc = after[thread.pcslot]
    if node.kind == "lock":
        if "wait" in node.data and new_pc == node.data["wait"]:
            return "sleeps: " + _why_wait(system, node, after)
        if node.alt >= 0 and node.data["op"].endswith("trylock") and new_pc != node.next:
            return "fails: lock busy"
    if node.kind == "lockwait":
        return "woken: now holds the lock"
    if node.kind == "rcu" and node.data["op"] in ("synchronize_rcu", "rcu_barrier"):
        return "waits for a grace period" if node.data["op"] == "synchronize_rcu" else "waits for RCU callbacks"
    if node.kind == "gpwait":
        return "grace period over" if node.data["op"] == "synchronize_rcu" else "callbacks done"
    if node.kind == "await" and node.data.get("idle"):
        return "woken: work to do"
    if node.kind == "branch":
        try:
            taken = bool(node.data["cond"](before))
        except Exception:  # noqa: BLE001 - a failing condition shows as a violation instead
            return ""
        return ("true" if taken else "false") if node.stmt is not None else ""
    if node.kind in ("loop_start", "loop_next"):
        cursor = after[node.data["cursor"]]
        if cursor is None or cursor < 0:
            return "loop ends"
        entity = node.data["source_type"]
        return f"{node.data['var']} = {system.names[entity][cursor]}"
    return ""


def _why_wait(system: TransitionSystem, node: IR, after: tuple) -> str:
    base = node.data["base"]
    writer, readers, queue = after[base], after[base + 1], after[base + 2]
    if writer != -1:
        return f"held for write by {system.threads[writer].name}"
    from netcheck.model.locks import reader_tids
    writers_queued = [system.threads[w >> 1].name for w in queue[:-1] if w & 1]
    if writers_queued and node.data["op"].startswith("down_read"):
        return f"a writer is queued ({', '.join(writers_queued)}): readers wait behind it"
    holders = [system.threads[t].name for t in reader_tids(readers)]
    return f"held for read by {', '.join(holders)}" if holders else "queued"


def counterexample(exp: Exploration, found: Found) -> Trace:
    """The shortest path to the violation, each step described by replaying it."""
    system = exp.system
    path = exp.path_to(found.state) if found.state >= 0 else []
    states: list[tuple] = [exp.states[sid] for sid, _ in path]
    steps: list[TraceStep] = []
    for (prev_id, _), (next_id, tid) in zip(path, path[1:]):
        before, target = exp.states[prev_id], exp.states[next_id]
        steps.append(_replay_step(system, before, tid, target))
    violating = found.tid >= 0
    if violating and states:
        before = states[-1]
        match = None
        for by_signal in (False, True):
            for choices, r in traced_fire(system.threads[found.tid], before, by_signal):
                if isinstance(r, Violation) and r.message == found.message:
                    match = describe(system, before, found.tid, r, by_signal, choices)
                    break
            if match:
                break
        if match is None:
            raise AssertionError("the violating step did not replay")
        steps.append(match)
    return Trace(tuple(steps), tuple(states), violating, found.message)


def _replay_step(system: TransitionSystem, before: tuple, tid: int, target: tuple) -> TraceStep:
    for by_signal in (False, True):
        for choices, r in traced_fire(system.threads[tid], before, by_signal):
            if r == target:
                return describe(system, before, tid, r, by_signal, choices)
    raise AssertionError(f"step of thread {tid} did not replay")


def replay(system: TransitionSystem, trace: Trace) -> bool:
    """Re-execute a trace from an initial state through the step semantics; True if every step is possible."""
    if not trace.states:
        return trace.violating
    if trace.states[0] not in system.initial_states:
        return False
    for i, step in enumerate(trace.steps):
        before = trace.states[i]
        thread = system.threads[step.tid]
        fn = thread.steps[before[thread.pcslot]]
        if fn is None:
            return False
        results = (fn.sig(before) if fn.sig else []) if step.by_signal else fn.fire(before)
        if i + 1 < len(trace.states):
            if trace.states[i + 1] not in results:
                return False
        elif not any(isinstance(r, Violation) for r in results):
            return False
    return True


def changed_slots(system: TransitionSystem, before: Sequence, after: Sequence) -> list[int]:
    return [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
