"""Counterexamples: the shortest path to a violation with the fewest thread switches, replayed step by step
to describe each step (what it did, which variables and locks it changed)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import Enum

from netcheck.model.lang.spec import Rcu
from netcheck.model.semantics import ir
from netcheck.model.semantics.discipline import Reduction
from netcheck.model.semantics.evaluate import EvalError, compile_expr, format_value
from netcheck.model.semantics.locks import read_depth, reader_tids
from netcheck.model.semantics.runtime import Violation
from netcheck.model.semantics.system import Thread, TransitionSystem

from ..engine.paths import path_to
from ..engine.result import EngineResult, ExplicitResult, Finding, Label, Path
from ..engine.verdicts import InternalError
from .focus import focused
from .symmetric import concretize
from .unfold import unfold


@dataclass(frozen=True)
class ThreadRef:
    """A thread named in a note or a lock-table row; each renderer decides how to show it."""

    tid: int
    name: str   # the instance name


def by_name(ref: ThreadRef) -> str:
    """A thread shown by its instance name."""
    return ref.name


@dataclass(frozen=True)
class Prose:
    """Words that name threads: literal text and thread references in order, never text with names spliced
    in, so that a renderer can show each thread its own way (instance name, CPU column, HTML element)."""

    parts: tuple[str | ThreadRef, ...] = ()

    def spell(self, show: Callable[[ThreadRef], str] = by_name) -> str:
        """The text, each thread shown by `show` (by default its instance name)."""
        return "".join(p if isinstance(p, str) else show(p) for p in self.parts)

    def __bool__(self) -> bool:
        return bool(self.parts)


def words(*parts: str | ThreadRef | Prose) -> Prose:
    """Prose from text, thread references and prose, in order."""
    return Prose(tuple(q for p in parts for q in (p.parts if isinstance(p, Prose) else (p,)) if q != ""))


def joined(separator: str, items: Iterable[Prose]) -> Prose:
    """The items with `separator` between them."""
    out: list[str | ThreadRef | Prose] = []
    for item in items:
        out.extend((separator, item) if out else (item,))
    return words(*out)


class Outcome(str, Enum):
    """How a step went, beyond running its statement."""

    DONE = ""
    SLEEPS = "sleeps"          # an acquire that has to wait for the lock
    FAILS = "fails"            # a trylock that finds the lock busy
    WOKEN = "woken"            # a waiter granted the lock, or a daemon's idle await that finds work
    LOOP_ENDS = "loop_ends"    # a loop step that finds no next element
    VIOLATES = "violates"      # the step breaks a property (`TraceStep.violation` says how)


@dataclass(frozen=True)
class LockFacts:
    """What a lock statement did to its lock instance, for the sentences that tell a trace: the instance
    ('' when its index does not evaluate: the step is then a runtime_safety violation) and, after the step,
    who else holds or wants it (only threads that take part in the trace are named as mutex waiters)."""

    lock: str
    rwsem: bool = False
    waiting: tuple[ThreadRef, ...] = ()               # mutex, spinlock: threads standing at an acquire of it
    readers: tuple[ThreadRef, ...] = ()               # rwsem: the other threads holding it for reading
    queue: tuple[tuple[ThreadRef, bool], ...] = ()    # rwsem: the wait queue, (thread, wants to write)
    depth: int = 0                                    # rwsem: the stepping thread's read holds
    why: Prose = Prose()                              # an acquire that sleeps: why


@dataclass(frozen=True)
class TraceStep:
    """One step of one thread: where (spec line), what (the statement) and how it went (remark)."""

    tid: int
    thread: str
    location: str          # file:line
    statement: str
    frame: tuple[str, ...]  # procedure call chain, outermost first
    remark: Prose = Prose()
    by_signal: bool = False
    # what the step changed: shared variables (name, old, new), and lock-table rows (lock, old, new) where a
    # row says who holds the lock and who waits for it ("free" when nobody does)
    changes: tuple[tuple[str, str, str], ...] = ()
    lock_table: tuple[tuple[str, Prose, Prose], ...] = ()
    # the statement kind (IR kinds of model/semantics/program.py: assign, call, branch, loop_start, loop_next,
    # listop, lock, lockwait, rcu, gpwait, await, assert, choose) and, for lock and RCU statements, the API call
    kind: str = ""
    op: str = ""
    action: int = -1       # the step's label (engine/system.py): replaying it is fire(state, action)[choice]
    choice: int = 0
    outcome: Outcome = Outcome.DONE
    violation: str = ""            # the message of the property the step breaks
    choices: tuple[str, ...] = ()  # the `either` branches the thread took after the statement
    detail: Prose = Prose()        # the remark without the branches: `x = net1`, `true`, ...
    lock: LockFacts | None = None  # lock statements: the instance and who else holds or wants it

    @property
    def note(self) -> str:
        """The remark, threads shown by their instance names."""
        return self.remark.spell()

    @property
    def locks(self) -> tuple[tuple[str, str, str], ...]:
        """The lock-table rows the step changed, threads shown by their instance names."""
        return tuple((lock, old.spell(), new.spell()) for lock, old, new in self.lock_table)


@dataclass(frozen=True)
class Trace:
    """A path described for people: its steps and states."""

    steps: tuple[TraceStep, ...]
    states: tuple[tuple, ...]   # the state before each step, and the last state (len(steps) + 1, or equal for
    #                             a violating step, which has no successor)
    violating: bool             # the last step itself violates the property
    message: str = ""
    fewest_switches: bool = False  # no shortest path to the same violation has fewer thread switches
    # final-state counterexamples: the steps after the first `settled` change nothing the property reads,
    # they only take the other threads to their end (None: every step matters); see analyses/focus.py
    settled: int | None = None
    # liveness counterexamples (a lasso): the steps from `cycle` on lead back to the state before step
    # `cycle` and repeat forever (== len(steps): the run stays in its last state); `cycle_fair`: False when
    # the cycle can be repeated as often as one likes but not forever on a fair run (a count's witness)
    cycle: int | None = None
    cycle_fair: bool = True

    @property
    def run_out(self) -> tuple[TraceStep, ...]:
        """The steps after the point that matters, which a report may summarise."""
        return self.steps[self.settled:] if self.settled is not None else ()

    @property
    def switches(self) -> int:
        """How often consecutive steps belong to different threads."""
        return sum(1 for a, b in zip(self.steps, self.steps[1:]) if a.tid != b.tid)

    @property
    def threads(self) -> list[int]:
        """The threads taking part, in order of first appearance."""
        seen: list[int] = []
        for step in self.steps:
            if step.tid not in seen:
                seen.append(step.tid)
        return seen


def describe(system: TransitionSystem, s: tuple, label: Label, after: object, choices: tuple[str, ...],
             involved: frozenset[int] = frozenset()) -> TraceStep:
    """A step described: the statement its label runs in `s`, what happened (`after`), the branches taken;
    `involved`: the threads taking part in the trace."""
    tid, by_signal = label.tid, label.signal
    thread = system.threads[tid]
    node = thread.nodes[s[thread.pcslot]]
    outcome = _outcome(thread, node, after, by_signal)
    # an acquire that sleeps leaves a tuple: why it waits is part of its note and of its lock facts
    why = why_wait(system, node, s, after) if outcome is Outcome.SLEEPS and isinstance(after, tuple) else Prose()
    detail = _note(system, thread, node, s, after, by_signal, outcome, why)
    note = detail
    if choices:
        note = words(note, "; " if note else "", "either: " + ", ".join(choices))
    span = node.stmt.span if node.stmt else None
    text = node.stmt.text if node.stmt else node.kind
    if isinstance(node, ir.LockWait):
        text = f"(waiting in {text})"
    elif isinstance(node, ir.GraceWait) or (isinstance(node, ir.Await) and isinstance(node.stmt, Rcu)):
        text = f"(in {text})"
    elif isinstance(node, ir.Assign) and node.call:
        text = _call_text(system, node, s, after)
    kind = "call" if isinstance(node, ir.Assign) and node.call else node.kind
    op = node.op if isinstance(node, (ir.LockCall, ir.LockWait, ir.RcuCall, ir.GraceWait)) else ""
    return TraceStep(tid, thread.name, span.short if span else "", text, node.frame, note, by_signal, kind=kind,
                     op=op, action=label.action, choice=label.choice, outcome=outcome,
                     violation=after.message if isinstance(after, Violation) else "", choices=choices, detail=detail,
                     lock=_lock_facts(system, node, tid, s, after, involved, why))


def _lock_facts(system: TransitionSystem, node: ir.Node, tid: int, before: tuple, after: object,
                involved: frozenset[int], why: Prose) -> LockFacts | None:
    if not isinstance(node, ir.LOCK_NODES):
        return None
    base = system.lock_slot(node, before)
    if base is None:   # a waiter names the lock it asked for; an acquire whose index fails names none
        return LockFacts(node.lock.name if isinstance(node, ir.LockWait) and node.lock else "")
    lock = system.layout.slots[base].name.rsplit(".", 1)[0]
    rwsem = isinstance(node, ir.LockCall) and node.lock_kind == "rwsem"
    if not isinstance(after, tuple):
        return LockFacts(lock, rwsem)
    if not rwsem:
        waiting = tuple(thread_ref(system, t.tid) for t in system.threads
                        if t.tid != tid and t.tid in involved and system.mutex_wait_slot(after, t.tid) == base)
        return LockFacts(lock, False, waiting)
    readers = tuple(thread_ref(system, t) for t in reader_tids(after[base + 1]) if t != tid)
    queue = tuple((thread_ref(system, w >> 1), bool(w & 1)) for w in after[base + 2])
    return LockFacts(lock, True, (), readers, queue, read_depth(after[base + 1], tid), why)


def _outcome(thread: Thread, node: ir.Node, after: object, by_signal: bool) -> Outcome:
    if isinstance(after, Violation):
        return Outcome.VIOLATES
    if by_signal or not isinstance(after, tuple):
        return Outcome.DONE
    if isinstance(node, ir.LockCall):
        new_pc = after[thread.pcslot]
        if node.wait >= 0 and new_pc == node.wait:
            return Outcome.SLEEPS
        if node.alt >= 0 and node.op.endswith("trylock") and new_pc != node.next:
            return Outcome.FAILS
    if isinstance(node, ir.LockWait) or (isinstance(node, ir.Await) and node.idle):
        return Outcome.WOKEN
    if isinstance(node, ir.LoopStep):
        cursor = after[node.cursor]
        return Outcome.LOOP_ENDS if cursor is None or cursor < 0 else Outcome.DONE
    return Outcome.DONE


def _call_text(system: TransitionSystem, node: ir.Assign, before: tuple, after: object) -> str:
    """`setup_net(net=net1)`: a call with the argument values it received, computed in the caller's frame
    before the step (the callee may have returned within the step, its parameters reset)."""
    if not isinstance(after, tuple) or node.env is None:
        return node.stmt.text if node.stmt else ""
    parts = []
    for name, place, value in zip(node.params, node.writes, node.values):
        try:
            received = compile_expr(value, node.env)(before)
        except EvalError:
            return node.stmt.text if node.stmt else ""
        parts.append(f"{name}={format_value(received, place.type, system.names)}")
    return f"{node.call}({', '.join(parts)})"


def _note(system: TransitionSystem, thread: Thread, node: ir.Node, before: tuple, after: object, by_signal: bool,
          outcome: Outcome, why: Prose) -> Prose:
    if outcome is Outcome.SLEEPS:
        return words("sleeps: ", why)
    if outcome is Outcome.FAILS:
        return words("fails: lock busy")
    return words(_plain_note(system, thread, node, before, after, by_signal))


def _plain_note(system: TransitionSystem, thread: Thread, node: ir.Node, before: tuple, after: object,
                by_signal: bool) -> str:
    """The note of a step that names no thread."""
    if isinstance(after, Violation):
        signal = "fatal signal while waiting: fails with -EINTR; " if by_signal else ""
        return f"{signal}VIOLATION: {after.message}"
    if by_signal:
        return "fatal signal while waiting: fails with -EINTR"
    assert isinstance(after, tuple)
    if isinstance(node, ir.LockWait):
        return "woken: now holds the lock"
    if isinstance(node, ir.RcuCall) and node.op in ("synchronize_rcu", "rcu_barrier"):
        return "waits for a grace period" if node.op == "synchronize_rcu" else "waits for RCU callbacks"
    if isinstance(node, ir.GraceWait):
        return "grace period over" if node.op == "synchronize_rcu" else "callbacks done"
    if isinstance(node, ir.Await) and isinstance(node.stmt, Rcu):   # rcu_barrier() with callbacks to wait for
        return "callbacks done"
    if isinstance(node, ir.Await) and node.idle:
        return "woken: work to do"
    if isinstance(node, ir.Branch):
        try:
            taken = bool(system.condition(node)(before))
        except Exception:  # noqa: BLE001 - a failing condition shows as a violation instead
            return ""
        return ("true" if taken else "false") if node.stmt is not None else ""
    if isinstance(node, ir.LoopStep):
        cursor = after[node.cursor]
        if cursor is None or cursor < 0:
            return "loop ends"
        return f"{node.var} = {system.names[node.entity][cursor]}"
    return ""


def thread_ref(system: TransitionSystem, tid: int) -> ThreadRef:
    """A reference to thread `tid` of the system."""
    return ThreadRef(tid, system.threads[tid].name)


def why_wait(system: TransitionSystem, node: ir.Node, before: tuple, after: tuple) -> Prose:
    """Why a thread that just queued on an rwsem (at `node`, whose lock is the one it names in `before`)
    sleeps in `after`."""
    assert isinstance(node, ir.LockCall)
    base = system.lock_slot(node, before)
    if base is None:
        return words("queued")
    writer, readers, queue = after[base], after[base + 1], after[base + 2]
    if writer != -1:
        return words("held for write by ", thread_ref(system, writer))
    writers_queued = [words(thread_ref(system, w >> 1)) for w in queue[:-1] if w & 1]
    if writers_queued and node.op.startswith("down_read"):
        return words("a writer is queued (", joined(", ", writers_queued), "): readers wait behind it")
    holders = [words(thread_ref(system, t)) for t in reader_tids(readers)]
    return words("held for read by ", joined(", ", holders)) if holders else words("queued")


def counterexample(result: EngineResult, finding: Finding, focus: Collection[int] | None = None) -> Trace:
    """A shortest path to the finding, with the fewest thread switches among the shortest paths to the same
    state (explicit engines), each step described by replaying its label. `focus`: the slots a final
    property reads; the path is then brought to the point (analyses/focus.py)."""
    paths = getattr(result, "paths", None)   # a symbolic engine's result (engine/bmc.py) keeps its paths
    if isinstance(result, ExplicitResult):
        path = path_to(result, finding)
    elif paths is not None:
        path = paths[finding.prop]
    else:
        raise TypeError("this result has no paths")
    system = result.system
    if system.symmetric:   # a path of symmetry classes, as a real execution
        path = concretize(system, path, finding.prop)
    if system.reduction is not Reduction.NONE:   # told in the steps of the full semantics
        path, system = unfold(system, path, finding.prop), system.unreduced()
    settled = None
    if focus is not None:
        path, settled = focused(system, path, focus)
    # a violation while computing the initial states has no path, but it is a thread's step
    return replace(describe_path(system, path, finding.message, finding.tid >= 0), settled=settled)


def describe_path(system: TransitionSystem, path: Path, message: str = "", violating: bool | None = None) -> Trace:
    """A path described step by step: each label replayed (never matched against the next state).
    `violating`: whether its last step breaks a property (by default: whether it ends in a violating step)."""
    steps: list[TraceStep] = []
    involved = frozenset({label.tid for label in path.labels} | ({path.last.tid} if path.last else set()))
    for before, after, label in zip(path.states, path.states[1:], path.labels):
        choices, target = _replay(system, before, label)
        if target != after:
            raise InternalError(f"step {label} of thread {label.tid} replays to another state")
        step = describe(system, before, label, target, choices, involved)
        steps.append(_with_changes(system, step, before, after, involved))
    if path.last is not None and path.states:
        choices, target = _replay(system, path.states[-1], path.last)
        if not isinstance(target, Violation):
            raise InternalError(f"the violating step {path.last} did not replay to a violation")
        steps.append(describe(system, path.states[-1], path.last, target, choices, involved))
    violating = path.last is not None if violating is None else violating
    return Trace(tuple(steps), path.states, violating, message, path.fewest_switches)


def _replay(system: TransitionSystem, before: tuple, label: Label) -> tuple[tuple[str, ...], object]:
    outcomes = system.fire_traced(before, label.action)
    if label.choice >= len(outcomes):
        raise InternalError(f"step {label} of thread {label.tid} is not enabled")
    return outcomes[label.choice]


# ---------------------------------------------------------------- what a step changed


def _with_changes(system: TransitionSystem, step: TraceStep, before: tuple, after: tuple,
                  involved: Collection[int]) -> TraceStep:
    return replace(step, changes=variable_changes(system, before, after),
                   lock_table=lock_changes(system, before, after, involved))


def variable_changes(system: TransitionSystem, before: Sequence, after: Sequence) -> tuple[tuple[str, str, str], ...]:
    """(name, old, new) for every shared variable slot whose value differs."""
    out = []
    for i in changed_slots(system, before, after):
        slot = system.layout.slots[i]
        if slot.kind == "shared":
            out.append((slot.name, format_value(before[i], slot.type, system.names),
                        format_value(after[i], slot.type, system.names)))
    return tuple(out)


FREE = words("free")


def lock_changes(system: TransitionSystem, before: Sequence, after: Sequence,
                 involved: Collection[int] | None = None) -> tuple[tuple[str, Prose, Prose], ...]:
    """(lock, old, new) for every row of the lock table (holders, waiters) that differs; "free" when empty."""
    old, new = lock_rows(system, before, involved), lock_rows(system, after, involved)
    out = []
    for lock in _lock_names(system):
        a, b = old.get(lock, FREE), new.get(lock, FREE)
        if a != b:
            out.append((lock, a, b))
    return tuple(out)


@dataclass(frozen=True)
class LockHolders:
    """One lock instance in one state: who holds it and who waits for it, as thread ids."""

    rwsem: bool
    writer: int = -1                               # a mutex's owner or an rwsem's writer; -1: none
    readers: tuple[tuple[int, int], ...] = ()      # an rwsem's readers: (thread, read depth)
    queue: tuple[tuple[int, bool], ...] = ()       # an rwsem's FIFO queue: (thread, wants to write)
    wanted_by: tuple[int, ...] = ()                # threads standing at a mutex_lock() of a held mutex


def lock_holders(system: TransitionSystem, state: Sequence,
                 involved: Collection[int] | None = None) -> dict[str, LockHolders]:
    """Lock -> its holders and waiters, for every lock held or waited for (the rows of `lock_rows`)."""
    out = {}
    for index, slot in enumerate(system.layout.slots):
        if slot.kind != "lock_owner":
            continue
        if system.layout.lock_kinds[slot.var] == "rwsem":
            held = _rwsem_holders(state, index)
        else:
            held = _mutex_holders(system, state, index, involved)
        if held is not None:
            out[slot.name.rsplit(".", 1)[0]] = held
    return out


def lock_rows(system: TransitionSystem, state: Sequence, involved: Collection[int] | None = None) -> dict[str, Prose]:
    """Lock -> who holds it and who waits, for every lock held or waited for, worded as in the report's
    lock table. Threads standing at a mutex_lock() count as waiting only when in `involved` (if given):
    threads that never step in a trace are not part of its story."""
    return {lock: lock_row(system, held) for lock, held in lock_holders(system, state, involved).items()}


def lock_row(system: TransitionSystem, held: LockHolders) -> Prose:
    """`held for write by W; held for read by R (x2); queue: T (write)` for an rwsem, `held by T; wanted
    by U` for a mutex or spinlock."""
    def ref(tid: int) -> Prose:
        if not 0 <= tid < len(system.threads):   # a counterexample to induction is any well-formed-looking state
            return words(f"no thread (#{tid})")
        return words(thread_ref(system, tid))
    parts = []
    if held.writer != -1:
        parts.append(words("held for write by " if held.rwsem else "held by ", ref(held.writer)))
    if held.readers:
        parts.append(words("held for read by ", joined(", ", (words(ref(t), f" (x{d})" if d > 1 else "")
                                                             for t, d in held.readers))))
    if held.queue:
        parts.append(words("queue: ", joined(", ", (words(ref(t), " (write)" if w else " (read)")
                                                   for t, w in held.queue))))
    if held.wanted_by:
        parts.append(words("wanted by ", joined(", ", (ref(t) for t in held.wanted_by))))
    return joined("; ", parts)


def _rwsem_holders(state: Sequence, index: int) -> LockHolders | None:
    owner, holds, queue = state[index], state[index + 1], state[index + 2]
    held = LockHolders(True, owner, tuple((t, read_depth(holds, t)) for t in reader_tids(holds)),
                       tuple((w >> 1, bool(w & 1)) for w in queue))
    return held if owner != -1 or held.readers or held.queue else None


def _mutex_holders(system: TransitionSystem, state: Sequence, index: int,
                   involved: Collection[int] | None) -> LockHolders | None:
    owner = state[index]
    if owner == -1:
        return None
    waiting = tuple(t.tid for t in system.threads if (involved is None or t.tid in involved) and t.tid != owner
                    and system.mutex_wait_slot(state, t.tid) == index)
    return LockHolders(False, owner, wanted_by=waiting)


def _lock_names(system: TransitionSystem) -> list[str]:
    return [slot.name.rsplit(".", 1)[0] for slot in system.layout.slots if slot.kind == "lock_owner"]


def replay(system: TransitionSystem, trace: Trace) -> bool:
    """Re-execute a trace from an initial state through the step semantics: each step's label must be
    enabled and lead to the next state of the trace (to a violation, for a violating last step)."""
    if not trace.states:
        return trace.violating
    if trace.states[0] not in system.initial_states:
        return False
    for i, step in enumerate(trace.steps):
        if step.action < 0 or system.actions[step.action].tid != step.tid:
            return False
        outcomes = system.fire(trace.states[i], step.action)
        if step.choice >= len(outcomes):
            return False
        after = outcomes[step.choice]
        if i + 1 < len(trace.states):
            if after != trace.states[i + 1]:
                return False
        elif not isinstance(after, Violation):
            return False
    return True


def changed_slots(system: TransitionSystem, before: Sequence, after: Sequence) -> list[int]:
    return [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
