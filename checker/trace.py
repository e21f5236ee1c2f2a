"""Counterexamples: the shortest path to a violation with the fewest thread switches, replayed step by step
to describe each step (what it did, which variables and locks it changed)."""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from netcheck.model.evaluate import EvalError, format_value
from netcheck.model.locks import read_depth, reader_tids
from netcheck.model.program import IR
from netcheck.model.runtime import SETTLE_FUEL, Violation
from netcheck.model.system import Thread, TransitionSystem

from .explore import Exploration, Found


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
    # the statement kind (model/program.py IR kinds: assign, call, branch, loop_start, loop_next, listop, lock,
    # lockwait, rcu, gpwait, await, assert, choose) and, for lock and RCU statements, the API call
    kind: str = ""
    op: str = ""

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
    steps: tuple[TraceStep, ...]
    states: tuple[tuple, ...]   # the state before each step, and the last state (len(steps) + 1, or equal for
    #                             a violating step, which has no successor)
    violating: bool             # the last step itself violates the property
    message: str = ""
    fewest_switches: bool = False  # no shortest path to the same violation has fewer thread switches

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


def traced_fire(thread: Thread, s: tuple, by_signal: bool) -> list[tuple[tuple[str, ...], object]]:
    """Like the step's fire, but each result comes with the `either` branches taken while settling."""
    step = thread.steps[s[thread.pcslot]]
    if step is None:
        return []
    builder = thread.builder
    plain = builder.settle

    def traced(l: list, out: list) -> None:
        """runtime.make_settle's loop, step for step (the same fuel, the same error handling), recording
        the `either` branches taken: (choices, result) pairs."""
        pcslot, runs = thread.pcslot, thread.runs
        choices: tuple[str, ...] = ()
        run = runs[l[pcslot]]
        if run is None:
            out.append((choices, tuple(l)))
            return
        fuel = SETTLE_FUEL
        stack: list[tuple[list, tuple[str, ...]]] = []
        while True:
            pc = l[pcslot]
            try:
                r = run(l)
            except EvalError as err:
                out.append((choices, Violation("runtime_safety", str(err), thread.tid, pc)))
                r = None
            if r.__class__ is int:
                l[pcslot] = r
            elif r.__class__ is list:
                branches = thread.nodes[pc].data["branches"]
                for alt, (name, _) in zip(r[1:], branches[1:]):
                    copy = l.copy()
                    copy[pcslot] = alt
                    stack.append((copy, choices + (name,)))
                l[pcslot] = r[0]
                choices = choices + (branches[0][0],)
            else:
                if r is not None:
                    out.append((choices, r))
                if not stack:
                    return
                l, choices = stack.pop()
            run = runs[l[pcslot]]
            while run is None:
                out.append((choices, tuple(l)))
                if not stack:
                    return
                l, choices = stack.pop()
                run = runs[l[pcslot]]
            fuel -= 1
            if fuel < 0:
                out.append((choices, Violation("runtime_safety", "local computation does not terminate",
                                               thread.tid, l[pcslot])))
                return
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
        note = words(note, "; " if note else "", "either: " + ", ".join(choices))
    span = node.stmt.span if node.stmt else None
    text = node.stmt.text if node.stmt else node.kind
    if node.kind == "lockwait":
        text = f"(waiting in {text})"
    elif node.kind == "gpwait":
        text = f"(in {text})"
    elif node.kind == "assign" and node.data.get("call"):
        text = _call_text(system, thread, node, after)
    kind = "call" if node.kind == "assign" and node.data.get("call") else node.kind
    op = node.data.get("op", "") if node.kind in ("lock", "lockwait", "rcu", "gpwait") else ""
    return TraceStep(tid, thread.name, span.short if span else "", text, node.frame, note, by_signal, kind=kind,
                     op=op)


def _call_text(system: TransitionSystem, thread: Thread, node: IR, after: object) -> str:
    """`setup_net(net=net1)`: a call with the argument values it received."""
    if not isinstance(after, tuple):
        return node.stmt.text if node.stmt else ""
    parts = []
    for name, (slot, _, t) in zip(node.data["params"], node.data["writes"]):
        parts.append(f"{name}={format_value(after[slot], t, system.names)}")
    return f"{node.data['call']}({', '.join(parts)})"


def _note(system: TransitionSystem, thread: Thread, node: IR, before: tuple, after: object,
          by_signal: bool) -> Prose:
    if node.kind == "lock" and isinstance(after, tuple) and not by_signal:
        new_pc = after[thread.pcslot]
        if "wait" in node.data and new_pc == node.data["wait"]:
            return words("sleeps: ", why_wait(system, node, before, after))
        if node.alt >= 0 and node.data["op"].endswith("trylock") and new_pc != node.next:
            return words("fails: lock busy")
    return words(_plain_note(system, thread, node, before, after, by_signal))


def _plain_note(system: TransitionSystem, thread: Thread, node: IR, before: tuple, after: object,
                by_signal: bool) -> str:
    """The note of a step that names no thread."""
    if isinstance(after, Violation):
        signal = "fatal signal while waiting: fails with -EINTR; " if by_signal else ""
        return f"{signal}VIOLATION: {after.message}"
    if by_signal:
        return "fatal signal while waiting: fails with -EINTR"
    assert isinstance(after, tuple)
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


def thread_ref(system: TransitionSystem, tid: int) -> ThreadRef:
    """A reference to thread `tid` of the system."""
    return ThreadRef(tid, system.threads[tid].name)


def why_wait(system: TransitionSystem, node: IR, before: tuple, after: tuple) -> Prose:
    """Why a thread that just queued on an rwsem (at `node`, whose lock is the one it names in `before`)
    sleeps in `after`."""
    base = system.lock_slot(node, before)
    if base is None:
        return words("queued")
    writer, readers, queue = after[base], after[base + 1], after[base + 2]
    if writer != -1:
        return words("held for write by ", thread_ref(system, writer))
    writers_queued = [words(thread_ref(system, w >> 1)) for w in queue[:-1] if w & 1]
    if writers_queued and node.data["op"].startswith("down_read"):
        return words("a writer is queued (", joined(", ", writers_queued), "): readers wait behind it")
    holders = [words(thread_ref(system, t)) for t in reader_tids(readers)]
    return words("held for read by ", joined(", ", holders)) if holders else words("queued")


def counterexample(exp: Exploration, found: Found) -> Trace:
    """A shortest path to the violation, with the fewest thread switches among the shortest paths to the same
    state, each step described by replaying it."""
    system = exp.system
    path, fewest = switch_minimal_path(exp, found)
    states: list[tuple] = [exp.states[sid] for sid, _ in path]
    steps: list[TraceStep] = []
    involved = {tid for _, tid in path[1:]} | ({found.tid} if found.tid >= 0 else set())
    for (prev_id, _), (next_id, tid) in zip(path, path[1:]):
        before, target = exp.states[prev_id], exp.states[next_id]
        step = _replay_step(system, before, tid, target)
        steps.append(_with_changes(system, step, before, target, involved))
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
    return Trace(tuple(steps), tuple(states), violating, found.message, fewest)


# ---------------------------------------------------------------- fewest thread switches

# A forward pass over the BFS layers of the state store up to the violation's depth: for every state and
# the thread of the step that reached it, the fewest switches of a shortest path from an initial state.
# A state on a shortest path to a state at depth d sits at depth i after i steps, so only steps from
# depth i to depth i + 1 count. Beyond this many states the pass is skipped and the BFS parent path is used.
SWITCH_SEARCH_LIMIT = 1_500_000
_UNREACHED = 0xFFFF


class SwitchSearch:
    """Fewest thread switches over shortest paths, extended lazily to the depth a trace needs and kept per
    exploration (one pass serves every property of a spec)."""

    def __init__(self, exp: Exploration):
        self.exp = exp
        self.threads = len(exp.system.threads)
        self.width = self.threads + 1      # the last column: "no step yet" (initial states)
        self.index: dict[tuple, int] = {}
        self.cost = array("H")
        self.back = array("i")
        self.expanded = 0                  # states below this id have had their successors relaxed

    def reach(self, depth: int) -> None:
        """Make the costs of every state at depth <= `depth` final."""
        exp, width = self.exp, self.width
        end = bisect_right(exp.depth, depth)
        known = len(self.cost) // width
        if end > known:
            states = exp.states
            self.index.update(zip(states[known:end], range(known, end)))
            self.cost.extend(array("H", [_UNREACHED]) * ((end - known) * width))
            self.back.extend(array("i", [-1]) * ((end - known) * width))
            for sid in range(known, end):
                if exp.depth[sid] == 0:
                    self.cost[sid * width + self.threads] = 0
        self._relax(bisect_right(exp.depth, depth - 1))

    def _relax(self, upto: int) -> None:
        exp, system, width, none = self.exp, self.exp.system, self.width, self.threads
        cost, back, index, depths, states = self.cost, self.back, self.index, exp.depth, exp.states
        for sid in range(self.expanded, upto):
            base = sid * width
            row = cost[base:base + width]
            least = min(row)
            if least == _UNREACHED:
                continue
            via_any = base + row.index(least)
            next_depth = depths[sid] + 1
            for tid, _, result in system.successors(states[sid]):
                if result.__class__ is not tuple:
                    continue
                j = index.get(result)
                if j is None or depths[j] != next_depth:
                    continue
                # continuing with the same thread (or starting) costs nothing; any other thread one switch
                if row[none] <= row[tid]:
                    c, frm = row[none], base + none
                else:
                    c, frm = row[tid], base + tid
                if least + 1 < c:
                    c, frm = least + 1, via_any
                k = j * width + tid
                if c < cost[k]:
                    cost[k] = c
                    back[k] = frm
        self.expanded = max(self.expanded, upto)

    def path(self, target: int, last_tid: int) -> list[tuple[int, int]]:
        """[(state id, thread that reached it)] to `target`, the fewest switches (plus one if the step of
        `last_tid` follows, and it is another thread)."""
        width, none = self.width, self.threads
        best, k = _UNREACHED + 1, -1
        for t in range(width):
            c = self.cost[target * width + t]
            if c == _UNREACHED:
                continue
            c += 1 if last_tid >= 0 and t not in (last_tid, none) else 0
            if c < best:
                best, k = c, target * width + t
        out = []
        while k >= 0:
            sid, t = divmod(k, width)
            out.append((sid, -1 if t == none else t))
            k = self.back[k]
        out.reverse()
        return out


def _search_for(exp: Exploration) -> SwitchSearch:
    """The exploration's fewest-switch search, made once and stored on the exploration itself (a module
    cache would keep every exploration alive: the search refers to it)."""
    if not isinstance(exp.switch_search, SwitchSearch):
        exp.switch_search = SwitchSearch(exp)
    return exp.switch_search


def switch_minimal_path(exp: Exploration, found: Found) -> tuple[list[tuple[int, int]], bool]:
    """A shortest path to the violation's state with the fewest thread switches, and whether the search ran
    (False: too many states below that depth; the BFS parent path is returned)."""
    if found.state < 0:
        return [], True
    depth = exp.depth[found.state]
    if depth == 0:
        return exp.path_to(found.state), True
    if bisect_right(exp.depth, depth) > SWITCH_SEARCH_LIMIT:
        return exp.path_to(found.state), False
    search = _search_for(exp)
    search.reach(depth)
    path = search.path(found.state, found.tid)
    if not path or path[-1][0] != found.state:
        return exp.path_to(found.state), False
    return path, True


# ---------------------------------------------------------------- what a step changed


def _with_changes(system: TransitionSystem, step: TraceStep, before: tuple, after: tuple,
                  involved: set[int]) -> TraceStep:
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
                 involved: set[int] | None = None) -> tuple[tuple[str, Prose, Prose], ...]:
    """(lock, old, new) for every row of the lock table (holders, waiters) that differs; "free" when empty."""
    old, new = lock_rows(system, before, involved), lock_rows(system, after, involved)
    out = []
    for lock in _lock_names(system):
        a, b = old.get(lock, FREE), new.get(lock, FREE)
        if a != b:
            out.append((lock, a, b))
    return tuple(out)


def lock_rows(system: TransitionSystem, state: Sequence, involved: set[int] | None = None) -> dict[str, Prose]:
    """Lock -> who holds it and who waits, for every lock held or waited for, worded as in the report's
    lock table. Threads standing at a mutex_lock() count as waiting only when in `involved` (if given):
    threads that never step in a trace are not part of its story."""
    rows = {}
    for index, slot in enumerate(system.layout.slots):
        if slot.kind != "lock_owner":
            continue
        if system.layout.lock_kinds[slot.var] == "rwsem":
            parts = _rwsem_row(system, state, index)
        else:
            parts = _mutex_row(system, state, index, involved)
        if parts:
            rows[slot.name.rsplit(".", 1)[0]] = joined("; ", parts)
    return rows


def _rwsem_row(system: TransitionSystem, state: Sequence, index: int) -> list[Prose]:
    """`held for write by W`, `held for read by R (x2)`, `queue: T (write)`: the parts of an rwsem's row."""
    owner, holds, queue = state[index], state[index + 1], state[index + 2]
    parts = []
    if owner != -1:
        parts.append(words("held for write by ", thread_ref(system, owner)))
    readers = [words(thread_ref(system, t), f" (x{read_depth(holds, t)})" if read_depth(holds, t) > 1 else "")
               for t in reader_tids(holds)]
    if readers:
        parts.append(words("held for read by ", joined(", ", readers)))
    if queue:
        waiters = [words(thread_ref(system, w >> 1), " (write)" if w & 1 else " (read)") for w in queue]
        parts.append(words("queue: ", joined(", ", waiters)))
    return parts


def _mutex_row(system: TransitionSystem, state: Sequence, index: int, involved: set[int] | None) -> list[Prose]:
    """`held by T`, `wanted by U`: the parts of a mutex's or spinlock's row."""
    owner = state[index]
    if owner == -1:
        return []
    parts = [words("held by ", thread_ref(system, owner))]
    waiters = [words(thread_ref(system, t.tid)) for t in system.threads
               if (involved is None or t.tid in involved) and t.tid != owner
               and system.mutex_wait_slot(state, t.tid) == index]
    if waiters:
        parts.append(words("wanted by ", joined(", ", waiters)))
    return parts


def _lock_names(system: TransitionSystem) -> list[str]:
    return [slot.name.rsplit(".", 1)[0] for slot in system.layout.slots if slot.kind == "lock_owner"]


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
