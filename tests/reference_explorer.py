"""A deliberately naive second explorer for netcheck's transition semantics (a test oracle).

It shares no code with the production engine beyond the spec loader: it reads the frozen `Spec`
dataclasses (model/lang/spec.py), the `Expr` AST classes (model/lang/expr.py) and the value types (model/lang/types.py),
and interprets them directly. Nothing from evaluate.py, program.py, runtime.py, system.py, locks.py,
layout.py or checker/ is imported.

Representation (all plain dicts, lists and sets, copied wholesale at every step):

* a thread is `None` once finished, else its call stack: a list of frames
  `{"proc", "path", "phase", "locals", "result"}` where `path` addresses the statement the frame stands
  at inside the procedure body ((i,) at top level, then (..., "then"|"else"|"do"|"fail"|"bK", i) for
  nested blocks) and `phase` distinguishes the program points of multi-step statements:
  "" (the statement itself; for a loop, its first test), "next" (a loop's later advances), "wait"
  (queued on an rwsem), "gp" (inside synchronize_rcu/rcu_barrier);
* shared state: `{var: {key tuple: value}}` (key () for variables without per:);
* locks: `{lock: {key tuple: {"owner"}}}` for mutexes and spinlocks and
  `{"writer", "readers": {tid: depth}, "queue": [(tid, is_writer)]}` for rwsems;
* RCU: per thread read-side nesting and the set of readers its grace period still waits for;
* interrupts: per thread hardirqs off (0/1) and softirq-disable depth, a spinlock's "saved" hardirq state
  (spin_lock_irqsave), and per thread whether its interrupt is still to arrive (`pending`).

Values: bool, int, element index (int) or None for null, frozenset of element indices, tuple of element
indices for lists. The visited set holds `canonical(state)`: frames as (proc, path, phase, sorted
locals) -- so locals of returned frames and of finished threads cannot distinguish states.

Semantics (docs/semantics.md, docs/spec-language.md and the docstrings of model/semantics/locks.py and
model/semantics/runtime.py; where the documents are silent, as the production engine does):

* a visible statement (reads or writes shared state or a lock, or is a lock/RCU/await step) is one
  atomic step; every other statement runs eagerly right after the step that reached it (`settle`);
* mutexes/spinlocks: an owner only; any thread may take a free one; killable waits may be interrupted;
* rwsems: a reader enters at once only when no writer holds and nobody waits, else it queues (FIFO);
  releases grant the head writer, or the readers at the head (`head_run`) / every queued reader
  (`all_readers`); granted threads move past their wait inside the releasing step;
* fatal signals interrupt killable waits; they are steps but not progress for deadlock detection;
* synchronize_rcu / rcu_barrier: enter, then leave (synchronize_rcu only when every reader that was
  inside a read-side section at entry has left it);
* sleeping (a blocking lock call, await, synchronize_rcu/rcu_barrier) under a spinlock or inside an RCU
  read-side section is a lock_discipline violation; trylocks never sleep, and one on a lock the thread
  already holds fails;
* stuck: a thread that is not quiescent (finished, or a daemon resting at an idle await) and that no
  sequence of non-signal transitions from the state ever lets step again (its own step, or being moved
  on by another thread's: an rwsem grant). Decided after the search, per thread, by a backward search
  from the states where it steps; deadlock_free is violated when some reachable state has a stuck thread.
* a call through an element (`o.slot(args)`, an `IndirectCall`) is a call of the procedure o's element
  binds (its `targets`), resolved when the thread reaches it from o's current value; a null o or an unset
  slot is a runtime_safety violation right there (the statement is then not a step of its own);
* a property whose condition applies a partial operation outside its domain (a null index, next() of an
  element not on the list) is not judged in that state, which violates runtime_safety instead;
  held(), held_read(), held_write() ask about the thread executing the statement.
* contexts: a thread with `interrupts: T` first arrives (a step of its own) on T's CPU, when no interrupt
  it may not nest in is running there (hardirqs: another hardirq; softirqs: any) and hardirqs are enabled
  in T and in every softirq on T's CPU (softirqs: also T's softirqs); until it finishes, T (and a softirq
  under a hardirq) does not step. In irq context, with hardirqs or softirqs disabled, sleeping is a
  lock_discipline violation; finishing with hardirqs or softirqs not as they started is one too;
* wait queues: a queue is the set of its sleepers as (tid, exclusive); wake_up wakes every non-exclusive
  sleeper and one exclusive one (a successor per choice), wake_up_all all; a signal ends the killable and
  interruptible waits alike;
* workqueues (model/lang/works.py's documented meaning, interpreted here from the call each lowered
  statement carries, `Stmt.work_call`, never from the lowered assignments): a work item is pending (queued)
  and/or running on its worker, and "canceling" while a cancel_work_sync() holds its pending bit during a
  run; an ordered queue keeps its pending items in queue order. queue_work on a pending or canceling item
  does nothing and gives false; flush_work waits until the item is neither pending nor running;
  cancel_work_sync takes it off the queue (true if it was pending), then waits for a run under way;
  flush_workqueue waits until every item of the queue is idle; flush_work and the waits sleep (atomic
  context: lock_discipline). A worker thread (one per ordered queue, one per item of an unbound one) rests,
  wakes (a step) when its queue has a pending item, takes the first (a step; none if a cancel took it in
  between), runs the item's procedure and marks the item done (a step): pending again if it was queued
  during the run. The item's state and queue place are published into the `work_state` variables the
  spec's expressions read;
* coverage: a statement runs each time settle executes it, and each time a step (or a fatal signal)
  executes it from an explored state with at least one result; `if` counts the way it went; an `either`
  branch is taken when its first statement (labels skipped) runs, or whenever the either runs when it
  has none or that statement is a jump (goto, break, continue, return).

Deliberate choices where production differs (the known bugs in tests/test_reference_agreement.py):
a called procedure's locals start at their defaults without a range check ("a non-nullable element
type starts as null too", spec-language.md section 8); a null lock index is a runtime_safety violation;
a queued waiter waits on the lock whose queue holds it (its index is not re-evaluated); a 4th read hold
is a violation also when the down_read would queue (semantics.md section 4).
Choices that follow production where the documents say nothing: thread arguments are stored without a
range check; `x in S` for a set S is false for a null x without evaluating S ("null in S is false").
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from netcheck.model.lang.expr import (
    Binary,
    BoolOp,
    Bound,
    Call,
    Compare,
    Const,
    Expr,
    IfExp,
    ListLit,
    Local,
    LockRef,
    Quant,
    Running,
    SetLit,
    Shared,
    Unary,
)
from netcheck.model.lang.parse import load_spec
from netcheck.model.lang.rcucallbacks import callback_thread, head_var
from netcheck.model.lang.spec import (
    Assert,
    Assign,
    Await,
    Break,
    CallbackGrace,
    CallRcu,
    Continue,
    CounterOp,
    Either,
    ForEach,
    Free,
    Goto,
    If,
    IndirectCall,
    Invoke,
    Label,
    ListOp,
    LockOp,
    Procedure,
    PropertyDecl,
    Rcu,
    Return,
    Spec,
    Stmt,
    WaitOp,
    While,
)
from netcheck.model.lang.types import BoolT, EnumT, IntT, ListT, NullT, RefT, SetT, WaitQueueT

MAX_READ_DEPTH = 3       # rwsem read holds per thread (the documented 2 bits of count)
MAX_RCU_DEPTH = 3        # rcu_read_lock nesting
SETTLE_FUEL = 100_000    # fuel one step may spend on invisible statements before "does not terminate"

EXIT = ("<exit>",)       # the position past the end of a procedure body
WORKER = "<worker>"      # the frame of a workqueue's worker thread (its path: the queue or item it serves)

MUTEX_TAKE = ("mutex_lock", "mutex_lock_killable", "spin_lock", "mutex_trylock", "spin_trylock")
SPIN_SUFFIXES = ("", "_irq", "_irqsave", "_bh")          # spin_lock + suffix; the unlocks: "", _irq, _irqrestore, _bh
MAX_BH_DEPTH = 3
# wait queues: the waits a signal ends (one kind of signal: fatal), the operations that join as exclusive waiters
SIGNALLED_WAITS = ("wait_event_killable", "wait_event_interruptible", "wait_event_interruptible_exclusive")
EXCLUSIVE_JOINS = ("wait_event_idle_exclusive", "wait_event_interruptible_exclusive", "prepare_to_wait_exclusive")
SLEEPING = ("mutex_lock", "mutex_lock_killable", "down_read", "down_read_killable", "down_write",
            "down_write_killable")


class RefError(Exception):
    """A runtime error of the spec (null index, element not on a list, ...): a runtime_safety violation."""


@dataclass(frozen=True)
class Viol:
    prop: str
    message: str = ""


@dataclass
class RefResult:
    states: int = 0
    deadlocks: int = 0
    finals: int = 0
    violated: set[str] = field(default_factory=set)
    complete: bool = True
    messages: dict[str, str] = field(default_factory=dict)
    state_list: list[dict] = field(default_factory=list)   # every reachable state (keep_states=True)
    # the states with a stuck thread as a multiset: per thread, where it stands (`where`) and whether it is stuck
    deadlocked: Counter = field(default_factory=Counter)
    # coverage: executions per statement (span), and (span, branch) -> times taken for `if` ("then",
    # "else") and `either` (the branch name)
    runs: Counter = field(default_factory=Counter)
    taken: Counter = field(default_factory=Counter)


# ---------------------------------------------------------------- values


def decode(value: object, t: object) -> object:
    """A constant of the spec (stored in the loader's encoding) as a reference value."""
    if isinstance(t, WaitQueueT):
        return frozenset()   # the sleepers: nobody at first
    if isinstance(t, SetT):
        mask = int(value)  # type: ignore[call-overload]
        return frozenset(i for i in range(mask.bit_length()) if mask >> i & 1)
    if isinstance(t, (RefT, NullT)):
        return None if value == -1 else value
    if isinstance(t, ListT):
        return tuple(None if v == -1 else v for v in value)  # type: ignore[union-attr]
    return value


def default(t: object) -> object:
    """A fresh variable of type t."""
    if isinstance(t, BoolT):
        return False
    if isinstance(t, IntT):
        return 0 if t.lo is None or t.lo <= 0 <= t.hi else t.lo  # type: ignore[operator]
    if isinstance(t, SetT):
        return frozenset()
    if isinstance(t, ListT):
        return ()
    if isinstance(t, EnumT):
        return 0
    return None


def fits(t: object, v: object) -> str:
    """Why v cannot be stored in a variable declared t, or ''."""
    if isinstance(t, IntT) and t.lo is not None and not t.lo <= v <= t.hi:  # type: ignore[operator]
        return f"value {v} is outside {t}"
    if isinstance(t, RefT) and not t.nullable and v is None:
        return f"null stored in a {t}"
    return ""


def reads_state(e: Expr) -> bool:
    """Whether evaluating e looks at shared variables or locks."""
    stack = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, Shared):
            return True
        if isinstance(x, Call) and x.fn in ("locked", "read_locked", "write_locked", "held", "held_read",
                                            "held_write"):
            return True
        for name in ("arg", "left", "right", "cond", "then", "orelse", "domain", "body"):
            sub = getattr(x, name, None)
            if isinstance(sub, Expr):
                stack.append(sub)
        for name in ("keys", "items", "args"):
            stack.extend(getattr(x, name, ()))
    return False


# ---------------------------------------------------------------- expressions


class Evaluator:
    """Evaluates expressions over a reference state, a frame's locals and quantifier bindings."""

    def __init__(self, spec: Spec):
        self.sizes = {e.name: len(e.elements) for e in spec.entities}
        self.lock_kinds = {lk.name: lk.kind for lk in spec.locks}
        self.tid: int | None = None   # the thread whose statement is evaluated (held()); None in properties

    def ev(self, e: Expr, w: dict, loc: Mapping[str, object], bound: Mapping[str, object] | None = None) -> object:
        bound = bound or {}
        if isinstance(e, Const):
            return decode(e.value, e.type)
        if isinstance(e, Bound):
            return bound[e.name]
        if isinstance(e, Local):
            return loc[e.name]
        if isinstance(e, Shared):
            return w["shared"][e.name][self.keys(e.keys, w, loc, bound)]
        if isinstance(e, LockRef):
            raise RefError("a lock is not a value")
        if isinstance(e, Unary):
            v = self.ev(e.arg, w, loc, bound)  # type: ignore[arg-type]
            return (not v) if e.op == "not" else -v  # type: ignore[operator]
        if isinstance(e, Binary):
            a = self.ev(e.left, w, loc, bound)  # type: ignore[arg-type]
            b = self.ev(e.right, w, loc, bound)  # type: ignore[arg-type]
            if isinstance(e.type, SetT):
                return {"|": a | b, "&": a & b, "-": a - b}[e.op]  # type: ignore[operator]
            return a + b if e.op == "+" else a - b  # type: ignore[operator]
        if isinstance(e, Compare):
            a = self.ev(e.left, w, loc, bound)  # type: ignore[arg-type]
            if e.op == "in" and isinstance(e.right.type, SetT) and a is None:  # type: ignore[union-attr]
                return False   # "null in S is false" (spec-language.md): S is not even evaluated
            b = self.ev(e.right, w, loc, bound)  # type: ignore[arg-type]
            if e.op == "in":
                return a in b  # type: ignore[operator]
            if e.op == "==":
                return a == b
            return {"<": lambda: a < b, "<=": lambda: a <= b, ">": lambda: a > b,  # type: ignore[operator]
                    ">=": lambda: a >= b}[e.op]()  # type: ignore[operator]
        if isinstance(e, BoolOp):
            if e.op == "and":
                for item in e.items:
                    if not self.ev(item, w, loc, bound):
                        return False
                return True
            for item in e.items:
                if self.ev(item, w, loc, bound):
                    return True
            return False
        if isinstance(e, IfExp):
            c = self.ev(e.cond, w, loc, bound)  # type: ignore[arg-type]
            return self.ev(e.then if c else e.orelse, w, loc, bound)  # type: ignore[arg-type]
        if isinstance(e, Running):   # properties only: threads with a frame of that procedure
            return sum(1 for th in w["threads"] if th is not None and any(f["proc"] == e.proc for f in th))
        if isinstance(e, Call):
            return self.call(e, w, loc, bound)
        if isinstance(e, Quant):
            return self.quant(e, w, loc, bound)
        if isinstance(e, SetLit):
            out = set()
            for item in e.items:
                v = self.ev(item, w, loc, bound)
                if v is None:
                    raise RefError("null in a set literal")
                out.add(v)
            return frozenset(out)
        if isinstance(e, ListLit):
            return tuple(self.ev(item, w, loc, bound) for item in e.items)
        raise AssertionError(f"unknown expression {e!r}")

    def keys(self, keys: tuple[Expr, ...], w: dict, loc: Mapping, bound: Mapping) -> tuple:
        out = []
        for k in keys:
            v = self.ev(k, w, loc, bound)
            if v is None:
                raise RefError("index is null")
            out.append(v)
        return tuple(out)

    def lock(self, ref: LockRef, w: dict, loc: Mapping) -> dict:
        return w["locks"][ref.name][self.keys(ref.keys, w, loc, {})]

    def call(self, e: Call, w: dict, loc: Mapping, bound: Mapping) -> object:
        fn = e.fn
        if fn in ("locked", "read_locked", "write_locked"):
            ref = e.args[0]
            assert isinstance(ref, LockRef)
            lk = w["locks"][ref.name][self.keys(ref.keys, w, loc, bound)]
            if self.lock_kinds[ref.name] != "rwsem":
                return False if fn == "read_locked" else lk["owner"] is not None
            if fn == "read_locked":
                return bool(lk["readers"])
            if fn == "write_locked":
                return lk["writer"] is not None
            return lk["writer"] is not None or bool(lk["readers"])
        if fn in ("held", "held_read", "held_write"):   # held by the current thread
            ref = e.args[0]
            assert isinstance(ref, LockRef) and self.tid is not None
            lk = w["locks"][ref.name][self.keys(ref.keys, w, loc, bound)]
            if self.lock_kinds[ref.name] != "rwsem":
                return lk["owner"] == self.tid
            writing, reading = lk["writer"] == self.tid, self.tid in lk["readers"]
            return {"held": writing or reading, "held_read": reading, "held_write": writing}[fn]
        args = [self.ev(a, w, loc, bound) for a in e.args]
        x = args[0]
        if fn in ("min", "max"):
            return (min if fn == "min" else max)(x, args[1])  # type: ignore[type-var]
        if fn == "len":
            return len(x)  # type: ignore[arg-type]
        if fn == "empty":
            return len(x) == 0  # type: ignore[arg-type]
        if fn == "first":
            return x[0] if x else None  # type: ignore[index]
        if fn == "last":
            return x[-1] if x else None  # type: ignore[index]
        items = list(x)  # type: ignore[call-overload]
        y = args[1]
        if fn in ("next", "prev"):
            if y is None:
                if not items:
                    return None
                return items[0] if fn == "next" else items[-1]
            if y not in items:
                raise RefError(f"{fn}(): element is not on the list")
            i = items.index(y) + (1 if fn == "next" else -1)
            return items[i] if 0 <= i < len(items) else None
        if fn == "index":
            return items.index(y) if y in items else -1
        if fn == "before":
            z = args[2]
            return y in items and z in items and items.index(y) < items.index(z)
        raise AssertionError(fn)

    def quant(self, e: Quant, w: dict, loc: Mapping, bound: Mapping) -> object:
        domain = self.ev(e.domain, w, loc, bound)  # type: ignore[arg-type]
        members = sorted(x for x in set(domain) if x is not None)  # type: ignore[call-overload]
        total = 0
        for x in members:
            inner = {**bound, e.var: x}
            if e.cond is not None and not self.ev(e.cond, w, loc, inner):
                continue
            v = self.ev(e.body, w, loc, inner)  # type: ignore[arg-type]
            if e.kind == "all":
                if not v:
                    return False
            elif e.kind == "any":
                if v:
                    return True
            elif e.kind == "count":
                total += 1 if v else 0
            else:
                total += v  # type: ignore[operator]
        if e.kind == "all":
            return True
        if e.kind == "any":
            return False
        return total


# ---------------------------------------------------------------- states


def clone(w: dict) -> dict:
    threads = []
    for th in w["threads"]:
        if th is None:
            threads.append(None)
        else:
            threads.append([{**f, "locals": dict(f["locals"])} for f in th])
    locks = {}
    for name, instances in w["locks"].items():
        copies = {}
        for key, lk in instances.items():
            if "owner" in lk:
                copies[key] = {"owner": lk["owner"], "saved": lk["saved"]}
            else:
                copies[key] = {"writer": lk["writer"], "readers": dict(lk["readers"]), "queue": list(lk["queue"])}
        locks[name] = copies
    return {"threads": threads, "shared": {n: dict(d) for n, d in w["shared"].items()}, "locks": locks,
            "rcu": list(w["rcu"]), "gp": [set(g) for g in w["gp"]],
            "ghosts": {n: dict(g) for n, g in w["ghosts"].items()},
            "srcu": {d: list(v) for d, v in w["srcu"].items()}, "sgp": {d: [set(g) for g in v] for d, v in w["sgp"].items()},
            "irq": list(w["irq"]), "bh": list(w["bh"]), "pending": list(w["pending"]),
            "work": dict(w["work"]), "fifo": dict(w["fifo"])}


def canonical(w: dict) -> tuple:
    threads = tuple(None if th is None else tuple(
        (f["proc"], f["path"], f["phase"], tuple(sorted(f["locals"].items()))) for f in th) for th in w["threads"])
    shared = tuple((n, tuple(sorted(d.items()))) for n, d in sorted(w["shared"].items()))
    locks = []
    for name, instances in sorted(w["locks"].items()):
        for key, lk in sorted(instances.items()):
            if "owner" in lk:
                locks.append((name, key, lk["owner"], lk["saved"]))
            else:
                locks.append((name, key, lk["writer"], tuple(sorted(lk["readers"].items())), tuple(lk["queue"])))
    return (threads, shared, tuple(locks), tuple(w["rcu"]), tuple(frozenset(g) for g in w["gp"]),
            tuple((n, tuple(sorted(g.items()))) for n, g in sorted(w["ghosts"].items())),
            tuple((d, tuple(v), tuple(frozenset(g) for g in w["sgp"][d])) for d, v in sorted(w["srcu"].items())),
            tuple(w["irq"]), tuple(w["bh"]), tuple(w["pending"]), tuple(sorted(w["work"].items())),
            tuple(sorted(w["fifo"].items())))


# ---------------------------------------------------------------- the interpreter


def sub_block(s: Stmt, name: str) -> tuple[Stmt, ...]:
    if isinstance(s, If):
        return s.then if name == "then" else s.orelse
    if isinstance(s, (While, ForEach)):
        return s.body
    if isinstance(s, Either):
        return s.branches[int(name[1:])][1]
    if isinstance(s, (LockOp, CounterOp, WaitOp)):
        return s.on_fail or ()
    raise AssertionError(name)


def nested(s: Stmt) -> list[tuple[str, tuple[Stmt, ...]]]:
    if isinstance(s, If):
        return [("then", s.then), ("else", s.orelse)]
    if isinstance(s, (While, ForEach)):
        return [("do", s.body)]
    if isinstance(s, Either):
        return [(f"b{k}", body) for k, (_, body) in enumerate(s.branches)]
    if isinstance(s, (LockOp, CounterOp, WaitOp)) and s.on_fail is not None:
        return [("fail", s.on_fail)]
    return []


class ProcInfo:
    """A procedure's statements by path, its labels and every local it owns (loop cursors included)."""

    def __init__(self, proc: Procedure):
        self.proc = proc
        self.at: dict[tuple, Stmt] = {}
        self.labels: dict[str, tuple] = {}
        self.loop_vars: list[tuple[str, object]] = []
        declared = {n for n, _ in (*proc.params, *proc.locals)}

        def visit(block: tuple[Stmt, ...], prefix: tuple) -> None:
            for i, s in enumerate(block):
                path = prefix + (i,)
                self.at[path] = s
                if isinstance(s, Label):
                    self.labels[s.name] = path
                if isinstance(s, ForEach) and s.var not in declared:
                    declared.add(s.var)
                    self.loop_vars.append((s.var, RefT(s.source.type.entity, True)))  # type: ignore[union-attr]
                for name, body in nested(s):
                    visit(body, path + (name,))
        visit(proc.body, ())

    def block(self, prefix: tuple) -> tuple[Stmt, ...]:
        if not prefix:
            return self.proc.body
        return sub_block(self.at[prefix[:-1]], prefix[-1])

    def fresh_locals(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for name, t in (*self.proc.params, *self.proc.locals, *self.loop_vars):
            if name not in out:
                out[name] = default(t)
        return out

    # -- where control goes

    def after(self, path: tuple) -> tuple:
        """The position following the statement at `path` when it completes."""
        block = self.block(path[:-1])
        if path[-1] + 1 < len(block):
            return path[:-1] + (path[-1] + 1,), ""
        return self.block_end(path[:-2])

    def block_end(self, owner: tuple) -> tuple:
        """Where control goes when a block nested in the statement at `owner` (() = the body) ends."""
        if not owner:
            return EXIT
        s = self.at[owner]
        if isinstance(s, While):
            return owner, ""
        if isinstance(s, ForEach):
            return owner, "next"
        return self.after(owner)

    def enter(self, owner: tuple, name: str) -> tuple:
        if sub_block(self.at[owner], name):
            return owner + (name, 0), ""
        return self.block_end(owner)

    def start(self) -> tuple:
        return ((0,), "") if self.proc.body else EXIT

    def loop_of(self, path: tuple) -> tuple:
        """The innermost loop statement enclosing `path`."""
        owner = path[:-2]
        while owner:
            if isinstance(self.at[owner], (While, ForEach)):
                return owner
            owner = owner[:-2]
        raise AssertionError("break/continue outside a loop")


class Reference:
    """The reference interpreter and its breadth-first explorer."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.evaluator = Evaluator(spec)
        self.ev = self.evaluator.ev
        self.procs = {p.name: ProcInfo(p) for p in spec.procedures}
        self.lock_kind = {lk.name: lk.kind for lk in spec.locks}
        self.all_readers = spec.options.rwsem_wake == "all_readers"
        self.signals = spec.options.fatal_signals
        self.instances = self._instances()
        # the RCU lists: state lists a list_*_rcu statement or list_for_each_entry_rcu names
        stack = [st for p in spec.procedures for st in p.body]
        self.rcu_lists: list[str] = []
        while stack:
            st = stack.pop()
            stack += [x for _, body in nested(st) for x in body]
            target = st.args[0] if isinstance(st, ListOp) and st.fn.endswith("_rcu") else \
                st.source if isinstance(st, ForEach) and st.rcu else None
            if isinstance(target, Shared) and target.name not in self.rcu_lists:
                self.rcu_lists.append(target.name)
        self.list_entity = {v.name: v.type.entity for v in spec.vars if isinstance(v.type, ListT)}
        self.decls = {t.name: t for t in spec.threads}
        self.kinds = [self.decls[decl].context for _, _, _, decl in self.instances]
        self.cpus = self._cpus()
        # workqueues: per worker thread (named after the ordered queue or the unbound queue's item it serves),
        # the items it runs and the span its program points show; the items' queues
        self.work_queue = {wk.name: wk.queue for wk in spec.works}
        self.ordered = {q.name: q.ordered for q in spec.workqueues}
        self.work_run = {wk.name: wk.run for wk in spec.works}
        self.worker_items: dict[str, tuple[str, ...]] = {}
        self.worker_span: dict[str, object] = {}
        for q in spec.workqueues:
            items = tuple(wk for wk in spec.works if wk.queue == q.name)
            for owner, group, span in ([(q.name, items, q.span)] if q.ordered else [(wk.name, (wk,), wk.span)
                                                                                    for wk in items]):
                if group:
                    self.worker_items[f"{owner}_worker"] = tuple(wk.name for wk in group)
                    self.worker_span[f"{owner}_worker"] = span
        self.work_states = dict(spec.enums).get("work_state", ())
        self.runs: Counter = Counter()    # coverage, as in RefResult
        self.taken: Counter = Counter()

    # -- setup

    def _instances(self) -> list[tuple[str, list[object], bool, str]]:
        """(procedure, arguments, daemon, threads: entry) of every thread instance, in thread id order."""
        out = []
        for t in self.spec.threads:
            if t.var:
                if not t.domain:
                    continue
                entity = next(e for e in self.spec.entities if t.domain[0] in e.elements)
                bindings: list[dict[str, object]] = [{t.var: entity.elements.index(el)} for el in t.domain]
            else:
                bindings = [{} for _ in range(t.count)]
            for binding in bindings:
                args = [self.ev(a, {"shared": {}, "locks": {}}, binding) for a in t.args]
                out.append((t.proc, args, t.daemon, t.name))
        return out

    def _cpus(self) -> list[int]:
        """Per thread, the thread whose CPU it interrupts (-1: none); `names` the instances' names."""
        names: list[str] = []
        self.names = names
        for t in self.spec.threads:
            if t.var:
                names += [f"{t.name}[{el}]" for el in t.domain]
            else:
                names += [t.name] if t.count == 1 else [f"{t.name}[{i}]" for i in range(t.count)]
        out = []
        for name, (_, _, _, decl) in zip(names, self.instances):
            target = self.decls[decl].interrupts
            if not target:
                out.append(-1)
                continue
            suffix = name[name.index("["):] if "[" in name and target not in names else ""
            out.append(names.index(target + suffix))
        return out

    def initial(self) -> dict:
        shared: dict[str, dict[tuple, object]] = {}
        for var in self.spec.vars:
            keys: list[tuple] = [()]
            for ent in var.per:
                keys = [k + (i,) for k in keys for i in range(len(self.spec.entity(ent).elements))]
            shared[var.name] = {k: decode(v, var.type) for k, v in zip(keys, var.init, strict=True)}
        locks: dict[str, dict[tuple, dict]] = {}
        for lk in self.spec.locks:
            if lk.kind == "srcu":
                continue
            keys = [()]
            for ent in lk.per:
                keys = [k + (i,) for k in keys for i in range(len(self.spec.entity(ent).elements))]
            if lk.kind == "rwsem":
                locks[lk.name] = {k: {"writer": None, "readers": {}, "queue": []} for k in keys}
            else:
                locks[lk.name] = {k: {"owner": None, "saved": 0} for k in keys}
        threads = []
        for proc, args, _, decl in self.instances:
            if decl in self.worker_items:   # a worker thread: resting, nothing taken
                threads.append([{"proc": WORKER, "path": decl, "phase": "idle", "locals": {"cur": None},
                                 "result": None}])
                continue
            info = self.procs[proc]
            loc = info.fresh_locals()
            for (name, _), v in zip(info.proc.params, args, strict=True):
                loc[name] = v    # thread arguments are constants: stored as given
            threads.append([{"proc": proc, "path": None, "phase": "", "locals": loc, "result": None}])
        n = len(threads)
        domains = [lk.name for lk in self.spec.locks if lk.kind == "srcu"]
        # RCU lists: per list, its ghosts: element -> (successor when list_del_rcu took it off, its readers)
        w = {"threads": threads, "shared": shared, "locks": locks, "rcu": [0] * n, "gp": [set() for _ in range(n)],
             "ghosts": {name: {} for name in self.rcu_lists}, "srcu": {d: [0] * n for d in domains},
             "sgp": {d: [set() for _ in range(n)] for d in domains},
             "irq": [int(k == "hardirq") for k in self.kinds], "bh": [0] * n, "pending": [c >= 0 for c in self.cpus],
             # workqueues: per item (pending, running, canceling); per ordered queue its pending items in order
             "work": {wk: (False, False, False) for wk in self.work_queue},
             "fifo": {q: () for q, ordered in self.ordered.items() if ordered}}
        for tid in range(n):
            if threads[tid][0]["proc"] == WORKER:
                continue
            if not w["pending"][tid]:   # an interrupt enters its procedure when it arrives
                problem = self.move(w, tid, self.procs[threads[tid][0]["proc"]].start())
                assert problem is None
        return w

    # -- positions

    def top(self, w: dict, tid: int) -> dict:
        return w["threads"][tid][-1]

    def stmt(self, frame: dict) -> Stmt:
        return self.procs[frame["proc"]].at[frame["path"]]

    def move(self, w: dict, tid: int, pos: tuple) -> Viol | None:
        """Put the thread at `pos`; past the end of a procedure: return to the caller, or finish."""
        th = w["threads"][tid]
        while pos is EXIT:
            th.pop()
            if not th:
                problem = self.held_at_end(w, tid)
                if problem:
                    return Viol("lock_discipline", "thread finished while holding " + problem)
                w["threads"][tid] = None
                return None
            caller = th[-1]
            if caller["proc"] == WORKER:   # the item's procedure returned: the worker marks it done next
                caller["phase"] = "done"
                return None
            pos = self.procs[caller["proc"]].after(caller["path"])
        th[-1]["path"], th[-1]["phase"] = pos
        return None

    def held_at_end(self, w: dict, tid: int) -> str:
        held = []
        for name, instances in w["locks"].items():
            for key, lk in instances.items():
                if lk.get("owner") == tid or lk.get("writer") == tid:
                    held.append(f"{name}{list(key)}")
                elif tid in lk.get("readers", {}):
                    held.append(f"{name}{list(key)} (read)")
        if w["rcu"][tid]:
            held.append("rcu_read_lock")
        held += [f"srcu {d}" for d, depths in w["srcu"].items() if depths[tid]]
        if w["irq"][tid] != int(self.kinds[tid] == "hardirq") or w["bh"][tid]:
            held.append("an interrupt state other than at the start")
        return ", ".join(held)

    def visible(self, w: dict, tid: int) -> bool:
        th = w["threads"][tid]
        if th is None:
            return True        # a finished thread rests
        if w["pending"][tid]:
            return True        # the interrupt arrives
        frame = th[-1]
        if frame["proc"] == WORKER:
            return True
        s = self.stmt(frame)
        if isinstance(s, (LockOp, Rcu, Await, CounterOp, WaitOp, Free, CallRcu, CallbackGrace)) or s.work_call is not None:
            return True
        if isinstance(s, Assign):
            return any(isinstance(t, Shared) for t in s.targets) or any(
                reads_state(x) for x in (*s.values, *s.targets))
        if isinstance(s, Invoke):
            return any(reads_state(a) for a in s.args)
        if isinstance(s, IndirectCall):   # a NULL call breaks right where the thread gets to it
            return self.callee(s, frame["locals"]) != "" and any(reads_state(a) for a in s.args)
        if isinstance(s, Return):
            if s.value is None or frame["result"] is None:
                return False
            return reads_state(s.value) or isinstance(frame["result"], Shared)
        if isinstance(s, (If, While, Assert)):
            return reads_state(s.cond)  # type: ignore[arg-type]
        if isinstance(s, ForEach):
            return s.rcu or reads_state(s.source)  # type: ignore[arg-type]
        if isinstance(s, ListOp):
            return isinstance(s.args[0], Shared) or any(reads_state(a) for a in s.args)
        return False           # either, label, goto, break, continue

    def quiescent(self, w: dict, tid: int) -> bool:
        """Finished, or a daemon resting at an idle await."""
        th = w["threads"][tid]
        if th is None:
            return True
        if w["pending"][tid]:
            return False
        if th[-1]["proc"] == WORKER:
            return th[-1]["phase"] == "idle"
        s = self.stmt(th[-1])
        return self.instances[tid][2] and isinstance(s, Await) and s.idle

    # -- eager local computation

    def settle(self, w: dict, tid: int) -> list:
        """Run the thread's invisible statements until it stands at a visible one (or has finished)."""
        out: list = []
        stack = [w]
        fuel = SETTLE_FUEL
        while stack:
            cur = stack.pop()
            while True:
                if self.visible(cur, tid):
                    out.append(cur)
                    break
                self.ran(self.position(cur, tid))
                cost, depth = self.fuel_cost(cur, tid), len(cur["threads"][tid])
                results = self.execute(cur, tid)
                out.extend(r for r in results if isinstance(r, Viol))
                states = [r for r in results if not isinstance(r, Viol)]
                if not states:
                    break
                cur = states[0]
                stack.extend(states[1:])
                returned = cur["threads"][tid]
                fuel -= cost + (depth - len(returned) if returned is not None and len(returned) < depth else 0)
                if fuel < 0:
                    return out + [Viol("runtime_safety", "local computation does not terminate")]
        return out

    def fuel_cost(self, w: dict, tid: int) -> int:
        """What the statement the thread stands at spends of a step's fuel, as production counts it: one
        per node run. A label, goto, break, continue or a return that stores nothing is only a jump (no
        node); a call through a pointer first tests the element (model/semantics/program.py
        `indirect_call`); each frame a return or the end of a body pops back into a caller is one more
        (the node that resets the callee's locals)."""
        frame = w["threads"][tid][-1]
        if frame["proc"] == WORKER:
            return 1
        s = self.stmt(frame)
        if isinstance(s, (Label, Goto, Break, Continue)):
            return 0
        if isinstance(s, Return):
            return int(s.value is not None and frame["result"] is not None)
        if isinstance(s, IndirectCall) and not isinstance(s.via, Const):
            # the switch on o: one test per procedure the elements bind ('' for none), in element order,
            # up to the one o's element binds; then the call
            order = list(dict.fromkeys(s.targets))   # type: ignore[arg-type]
            target = self.callee(s, frame["locals"])
            return 1 + (order.index(target) + 1 if target in order else len(order))
        return 1

    # -- one statement

    def place(self, target: Expr, w: dict, loc: Mapping) -> tuple:
        if isinstance(target, Local):
            return ("local", target.name)
        assert isinstance(target, Shared)
        return ("shared", target.name, self.evaluator.keys(target.keys, w, loc, {}))

    def store(self, w: dict, loc: dict, place: tuple, v: object) -> None:
        if place[0] == "local":
            loc[place[1]] = v
        else:
            w["shared"][place[1]][place[2]] = v

    def load(self, w: dict, loc: Mapping, place: tuple) -> object:
        if place[0] == "local":
            return loc[place[1]]
        return w["shared"][place[1]][place[2]]

    def execute(self, w: dict, tid: int) -> list:
        """Execute the statement the thread stands at, in place: [w] (or several states for `either`),
        [] when it blocks, [Viol] when it breaks a property."""
        self.evaluator.tid = tid
        try:
            return self._execute(w, tid)
        except RefError as err:
            return [Viol("runtime_safety", str(err))]

    def _go(self, w: dict, tid: int, pos: tuple) -> list:
        problem = self.move(w, tid, pos)
        return [problem] if problem else [w]

    def _execute(self, w: dict, tid: int) -> list:
        frame = self.top(w, tid)
        if frame["proc"] == WORKER:
            return self.worker_step(w, tid, frame)
        info = self.procs[frame["proc"]]
        path, phase, loc = frame["path"], frame["phase"], frame["locals"]
        s = info.at[path]
        ev = self.ev
        if s.work_call is not None:
            return self.work_op(w, tid, s, info, path, loc)
        if isinstance(s, Assign):
            values = [ev(v, w, loc) for v in s.values]
            places = [self.place(t, w, loc) for t in s.targets]
            for t, p, v in zip(s.targets, places, values, strict=True):
                problem = fits(t.type, v)
                if problem:
                    return [Viol("runtime_safety", f"{s.text}: {problem}")]
                self.store(w, loc, p, v)
            return self._go(w, tid, info.after(path))
        if isinstance(s, (Invoke, IndirectCall)):
            target = s.proc if isinstance(s, Invoke) else self.callee(s, loc)
            if not target:
                return [Viol("runtime_safety", f"{s.text}: a call through a NULL pointer")]
            callee = self.procs[target]
            args = [ev(a, w, loc) for a in s.args]
            fresh = callee.fresh_locals()
            for (name, t), v in zip(callee.proc.params, args, strict=True):
                problem = fits(t, v)
                if problem:
                    return [Viol("runtime_safety", f"{s.text}: {problem}")]
                fresh[name] = v
            w["threads"][tid].append({"proc": target, "path": None, "phase": "", "locals": fresh,
                                      "result": s.result})
            return self._go(w, tid, callee.start())
        if isinstance(s, Return):
            target = frame["result"]
            if s.value is not None and target is not None:
                v = ev(s.value, w, loc)
                caller_locals = w["threads"][tid][-2]["locals"]
                p = self.place(target, w, caller_locals)
                problem = fits(target.type, v)
                if problem:
                    return [Viol("runtime_safety", f"{s.text}: {problem}")]
                self.store(w, caller_locals, p, v)
            return self._go(w, tid, EXIT)
        if isinstance(s, If):
            branch = "then" if ev(s.cond, w, loc) else "else"
            self.taken[(s.span, branch)] += 1
            return self._go(w, tid, info.enter(path, branch))
        if isinstance(s, While):
            return self._go(w, tid, info.enter(path, "do") if ev(s.cond, w, loc) else info.after(path))
        if isinstance(s, ForEach):
            return self.loop_step(w, tid, s, info, path, phase, loc)
        if isinstance(s, Either):
            out = []
            for name, body in s.branches:
                if guard(body) is None:   # no statement of its own first: taken whenever the either runs
                    self.taken[(s.span, name)] += 1
            for k in range(len(s.branches)):
                copy = w if k == len(s.branches) - 1 else clone(w)
                out.extend(self._go(copy, tid, info.enter(path, f"b{k}")))
            return out
        if isinstance(s, Label):
            return self._go(w, tid, info.after(path))
        if isinstance(s, Goto):
            return self._go(w, tid, (info.labels[s.name], ""))
        if isinstance(s, Break):
            return self._go(w, tid, info.after(info.loop_of(path)))
        if isinstance(s, Continue):
            loop = info.loop_of(path)
            return self._go(w, tid, (loop, "next" if isinstance(info.at[loop], ForEach) else ""))
        if isinstance(s, Assert):
            if not ev(s.cond, w, loc):
                return [Viol(s.name, f"{s.text} failed")]
            return self._go(w, tid, info.after(path))
        if isinstance(s, Await):
            problem = self.atomic(w, tid) if s.sleeps else ""   # an RCU callback thread's own wait never sleeps
            if problem:   # wait_event() may sleep: not under a spinlock, not in an RCU read-side section
                return [Viol("lock_discipline", f"{s.text}: {problem}")]
            if not ev(s.cond, w, loc):
                return []
            return self._go(w, tid, info.after(path))
        if isinstance(s, ListOp):
            return self.list_op(w, tid, s, info, path, loc)
        if isinstance(s, Free):
            return self.free(w, s, info, path, tid, loc)
        if isinstance(s, LockOp):
            return self.lock_op(w, tid, s, info, path, phase, loc)
        if isinstance(s, Rcu):
            return self.rcu_op(w, tid, s, info, path, phase)
        if isinstance(s, CounterOp):
            return self.counter_op(w, tid, s, info, path, loc)
        if isinstance(s, WaitOp):
            return self.wait_op(w, tid, s, info, path, loc)
        if isinstance(s, CallRcu):
            return self.call_rcu(w, tid, s, info, path, loc)
        if isinstance(s, CallbackGrace):   # the callback thread waits for the readers call_rcu() saw
            return [] if w["gp"][tid] else self._go(w, tid, info.after(path))
        raise AssertionError(f"unknown statement {s!r}")

    def rcu_walk(self, w: dict, tid: int, s: ForEach, info: ProcInfo, path: tuple, phase: str, loc: dict) -> list:
        """list_for_each_entry_rcu: a deleted element leads on to the successor it had, for its readers."""
        if not w["rcu"][tid]:
            return [Viol("lock_discipline", f"{s.text}: outside an RCU read-side critical section")]
        items = list(self.ev(s.source, w, loc))  # type: ignore[arg-type, call-overload]
        cur = loc[s.var]
        ghost = w["ghosts"][s.source.name].get(cur)  # type: ignore[union-attr]
        if phase != "next":
            nxt = items[0] if items else None
        elif cur is None:
            return self._go(w, tid, info.after(path))
        elif cur in items:
            nxt = items[items.index(cur) + 1] if items.index(cur) + 1 < len(items) else None
        elif ghost is not None and tid in ghost[1]:
            nxt = ghost[0]
        else:
            return [Viol("runtime_safety", f"list corruption under the RCU cursor '{s.var}'")]
        loc[s.var] = nxt
        return self._go(w, tid, info.after(path) if nxt is None else info.enter(path, "do"))

    def free(self, w: dict, s: Free, info: ProcInfo, path: tuple, tid: int, loc: dict) -> list:
        x = self.ev(s.item, w, loc)  # type: ignore[arg-type]
        if x is not None:
            entity = s.item.type.entity  # type: ignore[union-attr]
            for var in self.spec.vars:
                if isinstance(var.type, ListT) and var.type.entity == entity and \
                        any(x in items for items in w["shared"][var.name].values()):
                    return [Viol("runtime_safety", f"{s.text}: still on {var.name}")]
            for name, ghosts in w["ghosts"].items():
                if self.list_entity[name] == entity and x in ghosts:
                    return [Viol("runtime_safety", f"{s.text}: use-after-free")]
        return self._go(w, tid, info.after(path))

    def call_rcu(self, w: dict, tid: int, s: CallRcu, info: ProcInfo, path: tuple, loc: dict) -> list:
        """call_rcu()/kfree_rcu(): the rcu_head (0 idle, 1 pending, 2 running, 3 requeued) must not be queued; it
        is queued, and the callback thread's grace period waits for the readers inside now."""
        x = self.ev(s.item, w, loc) if s.item is not None else 0
        if x is None:
            return self._go(w, tid, info.after(path)) if s.kfree else [Viol("runtime_safety", f"{s.text}: null")]
        entity = next(d.entity for d in self.spec.rcu_callbacks if d.name == s.name)
        key = (x,) if entity else ()
        head = w["shared"][head_var(s.name)]
        if head[key] in (1, 3):
            return [Viol("runtime_safety", f"{s.text}: double call_rcu")]
        head[key] = 1 if head[key] == 0 else 3
        thread = callback_thread(s.name) + (f"[{self.spec.entity(entity).elements[x]}]" if entity else "")
        w["gp"][self.names.index(thread)] = {t for t, depth in enumerate(w["rcu"]) if depth}
        return self._go(w, tid, info.after(path))

    def callee(self, s: IndirectCall, loc: Mapping) -> str:
        """The procedure `o.slot(...)` runs: the one o's element binds ('' for a null o or an unset slot)."""
        element = self.ev(s.via, {}, loc)   # type: ignore[arg-type]
        return "" if element is None else s.targets[element]   # type: ignore[index]

    def loop_step(self, w: dict, tid: int, s: ForEach, info: ProcInfo, path: tuple, phase: str, loc: dict) -> list:
        if s.rcu:
            return self.rcu_walk(w, tid, s, info, path, phase, loc)
        source = self.ev(s.source, w, loc)  # type: ignore[arg-type]
        cur = loc[s.var]
        reverse = s.order != "forward"
        starting = phase != "next"          # "" when control first reaches the loop
        first = starting and s.order != "continue_reverse"
        if isinstance(s.source.type, ListT):  # type: ignore[union-attr]
            items = list(source)  # type: ignore[call-overload]
            if first:
                nxt = (items[-1] if reverse else items[0]) if items else None
            else:
                if cur is not None and cur not in items:
                    return [Viol("runtime_safety", f"list corruption: the element under the cursor '{s.var}' "
                                 "was removed from the list while the loop walked it")]
                if cur is None and not starting:
                    return self._go(w, tid, info.after(path))
                i = items.index(cur) if cur is not None else len(items)
                j = i - 1 if reverse else i + 1
                nxt = items[j] if 0 <= j < len(items) else None
        else:
            members = sorted(source)  # type: ignore[call-overload]
            if first:
                nxt = (members[-1] if reverse else members[0]) if members else None
            elif reverse:
                below = [x for x in members if cur is None or x < cur]
                nxt = below[-1] if below else None
            else:
                above = [x for x in members if cur is None or x > cur]
                nxt = above[0] if above else None
        loc[s.var] = nxt
        if nxt is None:
            return self._go(w, tid, info.after(path))
        return self._go(w, tid, info.enter(path, "do"))

    def list_op(self, w: dict, tid: int, s: ListOp, info: ProcInfo, path: tuple, loc: dict) -> list:
        p = self.place(s.args[0], w, loc)
        items = list(self.load(w, loc, p))  # type: ignore[call-overload]
        x = self.ev(s.args[1], w, loc)
        ghosts = w["ghosts"].get(s.args[0].name) if isinstance(s.args[0], Shared) else None
        fn = s.fn.removesuffix("_rcu")
        if x is None:
            return [Viol("runtime_safety", f"{s.text}: the element is null")]
        if fn == "list_del":
            if x not in items:
                return [Viol("runtime_safety", f"{s.text}: the element is not on the list")]
            i = items.index(x)
            items.remove(x)
            readers = frozenset(t for t, depth in enumerate(w["rcu"]) if depth)
            if s.fn == "list_del_rcu" and readers:
                ghosts[x] = (items[i] if i < len(items) else None, readers)  # type: ignore[index]
        elif x in items:
            return [Viol("runtime_safety", f"{s.text}: the element is already on the list")]
        elif ghosts is not None and x in ghosts:
            return [Viol("runtime_safety", f"{s.text}: use-after-free (reused before its grace period)")]
        elif fn == "list_add":
            items.insert(0, x)
        elif fn == "list_add_tail":
            items.append(x)
        else:
            pos = self.ev(s.args[2], w, loc)
            if pos is None:
                items.append(x)
            elif pos not in items:
                return [Viol("runtime_safety", f"{s.text}: the position is not on the list")]
            else:
                items.insert(items.index(pos), x)
        self.store(w, loc, p, tuple(items))
        return self._go(w, tid, info.after(path))

    # -- locks

    def atomic(self, w: dict, tid: int) -> str:
        """Why the thread may not sleep here (irq context, a spinlock held, inside an RCU read-side section,
        hardirqs or softirqs disabled), or ''."""
        if self.kinds[tid] != "process":
            return f"sleeps in {self.kinds[tid]} context"
        if self.holds_spin(w, tid):
            return "sleeps while holding a spinlock"
        if w["rcu"][tid]:
            return "sleeps inside an RCU read-side critical section"
        if w["irq"][tid]:
            return "sleeps with interrupts disabled"
        if w["bh"][tid]:
            return "sleeps with softirqs disabled"
        return ""

    def holds_spin(self, w: dict, tid: int) -> bool:
        return any(lk["owner"] == tid for name, inst in w["locks"].items()
                   if self.lock_kind[name] in ("spinlock", "raw_spinlock") for lk in inst.values())

    # -- interrupts

    def active(self, w: dict, t: int) -> bool:
        """An irq-context thread that has arrived and not finished."""
        return self.cpus[t] >= 0 and not w["pending"][t] and w["threads"][t] is not None

    def runs_now(self, w: dict, tid: int) -> bool:
        """Whether the thread's CPU runs it: no interrupt above it is active there."""
        if self.kinds[tid] == "hardirq":
            return True
        cpu = tid if self.kinds[tid] == "process" else self.cpus[tid]
        above = ("softirq", "hardirq") if self.kinds[tid] == "process" else ("hardirq",)
        return not any(self.cpus[t] == cpu and self.kinds[t] in above and self.active(w, t)
                       for t in range(len(self.instances)))

    def arrives(self, w: dict, tid: int) -> bool:
        """Whether the pending interrupt of `tid` may arrive now on its CPU."""
        cpu, kind = self.cpus[tid], self.kinds[tid]
        here = [t for t in range(len(self.instances)) if self.cpus[t] == cpu and t != tid]
        if kind == "hardirq":
            return not any(self.kinds[t] == "hardirq" and self.active(w, t) for t in here) and not w["irq"][cpu] \
                and not any(self.kinds[t] == "softirq" and w["irq"][t] for t in here)
        return not any(self.active(w, t) for t in here) and not w["irq"][cpu] and not w["bh"][cpu]

    def spin_op(self, w: dict, tid: int, op: str, lk: dict) -> str:
        """The interrupt side of a spinlock operation that succeeds (the lock side done by the caller); a
        problem that makes it a violation instead, checked before anything changes."""
        base = op.removeprefix("raw_")
        hard = self.kinds[tid] == "hardirq"
        if base == "spin_lock_bh":
            if hard:
                return "softirqs disabled in hardirq context (local_bh_disable() warns)"
            if w["bh"][tid] >= MAX_BH_DEPTH:
                return "softirq-disable nesting too deep"
            w["bh"][tid] += 1
        elif base == "spin_unlock_bh":
            if hard or w["irq"][tid]:
                return "softirqs enabled with hardirqs disabled (local_bh_enable() warns)"
            if not w["bh"][tid]:
                return "softirqs are not disabled (no matching spin_lock_bh)"
            w["bh"][tid] -= 1
        elif base == "spin_lock_irqsave":
            lk["saved"] = w["irq"][tid]
            w["irq"][tid] = 1
        elif base == "spin_lock_irq":
            w["irq"][tid] = 1
        elif base == "spin_unlock_irq":
            w["irq"][tid] = 0
        elif base == "spin_unlock_irqrestore":
            w["irq"][tid] = lk["saved"]
        return ""

    def queued_on(self, w: dict, tid: int) -> dict | None:
        """The rwsem whose wait queue holds this thread (a thread waits on at most one)."""
        for name, inst in w["locks"].items():
            if self.lock_kind[name] == "rwsem":
                for lk in inst.values():
                    if any(t == tid for t, _ in lk["queue"]):
                        return lk
        return None

    def grant(self, lk: dict) -> list[int]:
        """Hand a released rwsem to the head of its queue; the threads granted it."""
        queue = lk["queue"]
        if not queue or lk["writer"] is not None:
            return []
        head, head_writes = queue[0]
        if head_writes:
            if lk["readers"]:
                return []
            lk["writer"] = head
            del queue[0]
            return [head]
        granted = []
        rest = []
        writer_seen = False
        for t, writes in queue:
            if writes:
                writer_seen = True
                rest.append((t, writes))
            elif writer_seen and not self.all_readers:
                rest.append((t, writes))
            else:
                granted.append(t)
        for t in granted:
            lk["readers"][t] = lk["readers"].get(t, 0) + 1
        lk["queue"] = rest
        return granted

    def wake(self, w: dict, woken: list[int]) -> list:
        """Move granted waiters past their wait, eagerly (inside the releasing step)."""
        states: list = [w]
        violations: list = []
        for t in woken:
            moved = []
            for st in states:
                frame = self.top(st, t)
                assert frame["phase"] == "wait"
                problem = self.move(st, t, self.procs[frame["proc"]].after(frame["path"]))
                if problem:
                    violations.append(problem)
                    continue
                for r in self.settle(st, t):
                    (violations if isinstance(r, Viol) else moved).append(r)
            states = moved
        return violations + states

    def release_then(self, w: dict, tid: int, lk: dict, pos: tuple) -> list:
        woken = self.grant(lk)
        out = []
        for r in self.wake(w, woken):
            out.extend([r] if isinstance(r, Viol) else self._go(r, tid, pos))
        return out

    def lock_op(self, w: dict, tid: int, s: LockOp, info: ProcInfo, path: tuple, phase: str, loc: dict) -> list:
        op = s.op
        after = info.after(path)
        fail = info.enter(path, "fail") if s.on_fail is not None else None

        def bad(message: str) -> list:
            return [Viol("lock_discipline", f"{s.text}: {message}")]

        if phase == "wait":
            lk = self.queued_on(w, tid)
            if lk is not None:
                return []
            return self._go(w, tid, after)
        assert s.lock is not None
        lk = self.evaluator.lock(s.lock, w, loc)
        atomic = self.atomic(w, tid) if op in SLEEPING else ""
        trying = op.endswith("trylock")
        base = op.removeprefix("raw_")
        if base in [f"spin_lock{x}" for x in SPIN_SUFFIXES] and base != "spin_lock":
            if base == "spin_lock_bh" and (self.kinds[tid] == "hardirq" or w["bh"][tid] >= MAX_BH_DEPTH):
                return bad(self.spin_op(w, tid, op, lk))
            if lk["owner"] is None:
                lk["owner"] = tid
                self.spin_op(w, tid, op, lk)
                return self._go(w, tid, after)
            if lk["owner"] == tid:
                return bad("already held by this thread (self-deadlock)")
            return []
        if base in ("spin_unlock_irq", "spin_unlock_irqrestore", "spin_unlock_bh"):
            if lk["owner"] != tid:
                return bad("this thread does not hold it")
            problem = self.spin_op(w, tid, op, lk)
            if problem:
                return bad(problem)
            lk["owner"] = None
            return self._go(w, tid, after)
        op = base
        if op in MUTEX_TAKE:
            if atomic:
                return bad(atomic)
            if lk["owner"] is None:
                lk["owner"] = tid
                return self._go(w, tid, after)
            if trying:
                return self._go(w, tid, fail)  # type: ignore[arg-type]
            if lk["owner"] == tid:
                return bad("already held by this thread (self-deadlock)")
            return []
        if op in ("mutex_unlock", "spin_unlock"):
            if lk["owner"] != tid:
                return bad("this thread does not hold it")
            lk["owner"] = None
            return self._go(w, tid, after)
        depth = lk["readers"].get(tid, 0) if "readers" in lk else 0
        if op.startswith("down_read"):
            if lk["writer"] == tid:   # a trylock of a lock the thread holds simply fails
                return self._go(w, tid, fail) if trying else bad(  # type: ignore[arg-type]
                    "already held for write by this thread (self-deadlock)")
            if atomic:
                return bad(atomic)
            if depth >= MAX_READ_DEPTH:   # a 4th read hold, whether it would be taken at once or queue
                return bad("read-side nesting too deep")
            if lk["writer"] is None and not lk["queue"]:
                lk["readers"][tid] = depth + 1
                return self._go(w, tid, after)
            if op == "down_read_trylock":
                return self._go(w, tid, fail)  # type: ignore[arg-type]
            lk["queue"].append((tid, False))
            frame = self.top(w, tid)
            frame["phase"] = "wait"
            return [w]
        if op.startswith("down_write"):
            if lk["writer"] == tid or depth:
                return self._go(w, tid, fail) if trying else bad(  # type: ignore[arg-type]
                    "already held by this thread (self-deadlock)")
            if atomic:
                return bad(atomic)
            if lk["writer"] is None and not lk["readers"] and not lk["queue"]:
                lk["writer"] = tid
                return self._go(w, tid, after)
            if op == "down_write_trylock":
                return self._go(w, tid, fail)  # type: ignore[arg-type]
            lk["queue"].append((tid, True))
            self.top(w, tid)["phase"] = "wait"
            return [w]
        if op == "up_read":
            if not depth:
                return bad("this thread does not hold it for read")
            if depth == 1:
                del lk["readers"][tid]
            else:
                lk["readers"][tid] = depth - 1
            return self.release_then(w, tid, lk, after)
        if op in ("up_write", "downgrade_write"):
            if lk["writer"] != tid:
                return bad("this thread does not hold it for write")
            lk["writer"] = None
            if op == "downgrade_write":
                lk["readers"][tid] = depth + 1
            return self.release_then(w, tid, lk, after)
        raise AssertionError(op)

    def signal(self, w: dict, tid: int) -> list:
        """A fatal signal interrupting the thread's killable wait: [] when it is not in one."""
        th = w["threads"][tid]
        if not self.signals or th is None:
            return []
        frame = th[-1]
        if frame["proc"] == WORKER:
            return []
        s = self.stmt(frame)
        info = self.procs[frame["proc"]]
        if isinstance(s, WaitOp) and s.op in SIGNALLED_WAITS:
            try:
                return self.wait_signal(w, tid, s, info, frame["path"], frame["locals"])
            except RefError as err:
                return [Viol("runtime_safety", str(err))]
        if isinstance(s, CounterOp) and s.op == "wait_for_completion_killable":
            assert s.target is not None
            if self.load(w, frame["locals"], self.place(s.target, w, frame["locals"])) != 0:
                return []
            return self._go(w, tid, info.enter(frame["path"], "fail"))
        if not (isinstance(s, LockOp) and s.op.endswith("_killable")):
            return []
        fail = info.enter(frame["path"], "fail")
        if s.op == "mutex_lock_killable":
            try:
                lk = self.evaluator.lock(s.lock, w, frame["locals"])  # type: ignore[arg-type]
            except RefError:
                return []
            if lk["owner"] is None or lk["owner"] == tid:
                return []
            return self._go(w, tid, fail)
        if frame["phase"] != "wait":
            return []
        lk = self.queued_on(w, tid)
        if lk is None:
            return []
        lk["queue"] = [(t, x) for t, x in lk["queue"] if t != tid]
        return self.release_then(w, tid, lk, fail)

    # -- wait queues (spec-language.md, semantics.md): a queue is the set of its sleepers, (tid, exclusive)

    def sleeping_on(self, w: dict, tid: int) -> list[tuple[str, tuple]]:
        """The wait queues (variable, key) the thread's wait entry is on (at most one)."""
        return [(v.name, k) for v in self.spec.vars if isinstance(v.type, WaitQueueT)
                for k, sleepers in w["shared"][v.name].items() if any(t == tid for t, _ in sleepers)]

    @staticmethod
    def without(sleepers: frozenset, tid: int) -> frozenset:
        return frozenset(e for e in sleepers if e[0] != tid)

    def wait_op(self, w: dict, tid: int, s: WaitOp, info: ProcInfo, path: tuple, loc: dict) -> list:
        """One atomic step: wake the sleepers, join or leave the queue, sleep in schedule() while on one,
        or one round of wait_event's loop (done, join the queue and stay, or asleep)."""
        op = s.op
        queue = self.place(s.queue, w, loc)[1:] if s.queue is not None else None
        if (op == "schedule" or op.startswith("wait_event")) and self.atomic(w, tid):
            return [Viol("lock_discipline", f"{s.text}: {self.atomic(w, tid)}")]
        if op == "schedule":
            return [] if self.sleeping_on(w, tid) else self._go(w, tid, info.after(path))
        assert queue is not None
        name, key = queue
        sleepers = w["shared"][name][key]
        exclusive = op in EXCLUSIVE_JOINS
        if op == "wake_up_all":
            w["shared"][name][key] = frozenset()
            return self._go(w, tid, info.after(path))
        if op == "wake_up":   # every non-exclusive sleeper, and one exclusive one: each a choice
            chosen = sorted(e for e in sleepers if e[1]) or [None]
            out = []
            for k, e in enumerate(chosen):
                copy = w if k == len(chosen) - 1 else clone(w)
                copy["shared"][name][key] = frozenset(x for x in sleepers if x[1] and x != e)
                out += self._go(copy, tid, info.after(path))
            return out
        if any(q != queue for q in self.sleeping_on(w, tid)):
            return [Viol("runtime_safety", f"{s.text}: the wait entry is on another wait queue")]
        if op.startswith("prepare_to_wait"):   # on the queue, flagged exclusive or not
            w["shared"][name][key] = self.without(sleepers, tid) | {(tid, exclusive)}
            return self._go(w, tid, info.after(path))
        if op == "finish_wait":
            w["shared"][name][key] = self.without(sleepers, tid)
            return self._go(w, tid, info.after(path))
        if any(t == tid for t, _ in sleepers):   # asleep: only the timeout ends it
            if op != "wait_event_timeout":
                return []
            w["shared"][name][key] = self.without(sleepers, tid)
            ok = self.ev(s.cond, w, loc)  # type: ignore[arg-type]
            return self._go(w, tid, info.after(path) if ok else info.enter(path, "fail"))
        if self.ev(s.cond, w, loc):  # type: ignore[arg-type]
            return self._go(w, tid, info.after(path))
        w["shared"][name][key] = sleepers | {(tid, exclusive)}
        return [w]   # on the queue, still at wait_event

    def wait_signal(self, w: dict, tid: int, s: WaitOp, info: ProcInfo, path: tuple, loc: dict) -> list:
        """A signal in a killable or interruptible wait_event: off the queue; done if the condition holds,
        else on_fail:."""
        assert s.queue is not None
        name, key = self.place(s.queue, w, loc)[1:]
        if self.atomic(w, tid) or any(q != (name, key) for q in self.sleeping_on(w, tid)):
            return []
        on = any(t == tid for t, _ in w["shared"][name][key])
        if self.ev(s.cond, w, loc):  # type: ignore[arg-type]
            if not on:
                return []
            w["shared"][name][key] = self.without(w["shared"][name][key], tid)
            return self._go(w, tid, info.after(path))
        w["shared"][name][key] = self.without(w["shared"][name][key], tid)
        return self._go(w, tid, info.enter(path, "fail"))

    # -- workqueues (model/lang/works.py): items pending/running/canceling, ordered queues in queue order

    def idle_item(self, w: dict, item: str) -> bool:
        pending, running, _ = w["work"][item]
        return not pending and not running

    def publish(self, w: dict) -> None:
        """The items' states and queue places as the spec's expressions read them (`work_state`, `<item>_pos`)."""
        for item, (pending, running, canceling) in w["work"].items():
            name = ("WORK_CANCELING" if canceling else "WORK_REQUEUED" if pending else "WORK_RUNNING") if running \
                else "WORK_PENDING" if pending else "WORK_IDLE"
            w["shared"][item][()] = self.work_states.index(name)
            fifo = w["fifo"].get(self.work_queue[item], ())
            if f"{item}_pos" in w["shared"]:
                w["shared"][f"{item}_pos"][()] = fifo.index(item) + 1 if item in fifo else 0

    def work_op(self, w: dict, tid: int, s: Stmt, info: ProcInfo, path: tuple, loc: dict) -> list:
        call = s.work_call
        assert call is not None
        item, result = call.work, call.result
        if call.op in ("flush_work", "flush_workqueue") or call.step == 1:   # the waits sleep
            problem = self.atomic(w, tid)
            if problem:
                return [Viol("lock_discipline", f"{s.text}: {problem}")]
            if call.op == "flush_work":
                ready = self.idle_item(w, item)
            elif call.op == "flush_workqueue":
                ready = all(self.idle_item(w, x) for x, q in self.work_queue.items() if q == call.queue)
            else:   # cancel_work_sync: the run it found under way has returned
                ready = not w["work"][item][2]
            return self._go(w, tid, info.after(path)) if ready else []
        pending, running, canceling = w["work"][item]
        fifo = w["fifo"].get(call.queue)
        if call.op == "queue_work":   # test_and_set of the pending bit (held by a canceler too)
            outcome = not pending and not canceling
            if outcome:
                w["work"][item] = (True, running, canceling)
                if fifo is not None:
                    w["fifo"][call.queue] = fifo + (item,)
        else:                         # cancel_work_sync: off the queue; a run under way is waited for
            outcome = pending
            w["work"][item] = (False, running, running)
            if fifo is not None:
                w["fifo"][call.queue] = tuple(x for x in fifo if x != item)
        if result is not None:
            self.store(w, loc, self.place(result, w, loc), outcome)
        self.publish(w)
        return self._go(w, tid, info.after(path))

    def worker_step(self, w: dict, tid: int, frame: dict) -> list:
        """A worker wakes when its queue has a pending item, takes the first one (and runs its procedure), and
        marks it done after the run."""
        phase, items = frame["phase"], self.worker_items[frame["path"]]
        queue = self.work_queue[items[0]]
        fifo = w["fifo"].get(queue)
        waiting = [x for x in (fifo if fifo is not None else items) if w["work"][x][0] and not w["work"][x][1]]
        if phase == "idle":
            if not waiting:
                return []
            frame["phase"] = "woken"
            return [w]
        if phase == "done":
            item = frame["locals"]["cur"]
            if item is not None:   # a requeued item is pending again (and keeps its place in the queue)
                w["work"][item] = (w["work"][item][0], False, False)
                self.publish(w)
            frame["locals"]["cur"], frame["phase"] = None, "idle"
            return [w]
        assert phase == "woken"
        if not waiting:           # a cancel took it off in between: nothing to run
            frame["phase"] = "done"
            return [w]
        item = waiting[0]
        w["work"][item] = (False, True, False)
        if fifo is not None:
            w["fifo"][queue] = fifo[1:]
        self.publish(w)
        frame["locals"]["cur"], frame["phase"] = item, "run"
        callee = self.procs[self.work_run[item]]
        w["threads"][tid].append({"proc": callee.proc.name, "path": None, "phase": "", "locals": callee.fresh_locals(),
                                  "result": None})
        return self._go(w, tid, callee.start())

    # -- counters: refcount_t, atomic_t, completions (spec-language.md, semantics.md)

    def counter_op(self, w: dict, tid: int, s: CounterOp, info: ProcInfo, path: tuple, loc: dict) -> list:
        """One atomic step on the counter; a false result (a timed-out wait) goes to on_fail: (or on)."""
        assert s.target is not None and isinstance(s.target.type, IntT)
        t = s.target.type
        lo, hi = t.lo, t.hi
        assert lo is not None and hi is not None
        place = self.place(s.target, w, loc)
        v = self.load(w, loc, place)
        op = s.op
        completion = op in ("init_completion", "reinit_completion", "complete", "complete_all") or \
            "completion" in op

        def bad(message: str, prop: str = "runtime_safety") -> list:
            return [Viol(prop, f"{s.text}: {message}")]

        def done(new: int, ok: bool = True) -> list:
            self.store(w, loc, place, new)
            if s.result is not None:
                self.store(w, loc, self.place(s.result, w, loc), ok)
            return self._go(w, tid, info.after(path) if ok else info.enter(path, "fail"))

        outside = "more complete() calls pending than the declared completion[N] counts" if completion else \
            f"leaves the declared {t.counter.value if t.counter else 'int'} range"
        if op in ("refcount_set", "atomic_set"):
            x = self.ev(s.value, w, loc)  # type: ignore[arg-type]
            return bad(f"value {x} {outside}") if not lo <= x <= hi else done(x)
        if op == "refcount_inc":
            if v == 0:
                return bad("refcount_t: addition on 0; use-after-free")
            return bad(outside) if v == hi else done(v + 1)
        if op in ("refcount_inc_not_zero", "atomic_inc_not_zero"):
            if v == 0:
                return done(v, False)
            return bad(outside) if v == hi else done(v + 1)
        if op in ("refcount_dec", "refcount_dec_and_test"):
            if v == 0:
                return bad("refcount_t: underflow; use-after-free")
            if v == 1 and op == "refcount_dec":
                return bad("refcount_t: decrement hit 0; leaking memory")
            return done(v - 1, v == 1)
        if op == "atomic_inc":
            return bad(outside) if v == hi else done(v + 1)
        if op in ("atomic_dec", "atomic_dec_and_test"):
            return bad(outside) if v == lo else done(v - 1, v == 1 or op == "atomic_dec")
        # completions: 0..hi-1 pending complete() calls, hi after complete_all()
        if op in ("init_completion", "reinit_completion"):
            return done(0)
        if op == "complete":
            if v == hi:
                return done(v)
            return bad(outside) if v == hi - 1 else done(v + 1)
        if op == "complete_all":
            return done(hi)
        sleeps = op.startswith("wait_for_completion")
        problem = self.atomic(w, tid) if sleeps else ""
        if problem:
            return bad(problem, "lock_discipline")
        if v == 0:
            return [] if op in ("wait_for_completion", "wait_for_completion_killable") else done(v, False)
        return done(v if v == hi else v - 1)

    # -- RCU

    def srcu_op(self, w: dict, tid: int, s: Rcu, info: ProcInfo, path: tuple, phase: str) -> list:
        """SRCU on the domain the statement names: readers may sleep; a grace period waits for its own."""
        after, name, depths, gps = info.after(path), s.op, w["srcu"][s.domain], w["sgp"][s.domain]
        if name == "srcu_read_lock":
            if depths[tid] >= MAX_RCU_DEPTH:
                return [Viol("lock_discipline", f"{s.text}: read-side nesting too deep")]
            depths[tid] += 1
            return self._go(w, tid, after)
        if name == "srcu_read_unlock":
            if not depths[tid]:
                return [Viol("lock_discipline", f"{s.text}: not inside an SRCU read-side critical section")]
            depths[tid] -= 1
            if not depths[tid]:
                for g in gps:
                    g.discard(tid)
            return self._go(w, tid, after)
        if phase == "gp":
            return [] if gps[tid] else self._go(w, tid, after)
        if depths[tid]:
            return [Viol("lock_discipline", f"{s.text}: called inside a read-side critical section of the same "
                         "SRCU domain (self-deadlock)")]
        problem = self.atomic(w, tid)
        if problem:
            return [Viol("lock_discipline", f"{s.text}: {problem}")]
        gps[tid] = {t for t, depth in enumerate(depths) if depth}
        self.top(w, tid)["phase"] = "gp"
        return [w]

    def rcu_op(self, w: dict, tid: int, s: Rcu, info: ProcInfo, path: tuple, phase: str) -> list:
        if s.domain:
            return self.srcu_op(w, tid, s, info, path, phase)
        after = info.after(path)
        name = s.op
        if name == "rcu_read_lock":
            if w["rcu"][tid] >= MAX_RCU_DEPTH:
                return [Viol("lock_discipline", "rcu_read_lock(): read-side nesting too deep")]
            w["rcu"][tid] += 1
            return self._go(w, tid, after)
        if name == "rcu_read_unlock":
            if not w["rcu"][tid]:
                return [Viol("lock_discipline", "rcu_read_unlock(): not inside an RCU read-side critical section")]
            w["rcu"][tid] -= 1
            if not w["rcu"][tid]:
                for g in w["gp"]:
                    g.discard(tid)
                for ghosts in w["ghosts"].values():   # deleted elements this reader may have been on
                    for x, (succ, readers) in list(ghosts.items()):
                        if tid in readers:
                            if readers == {tid}:
                                del ghosts[x]
                            else:
                                ghosts[x] = (succ, readers - {tid})
            return self._go(w, tid, after)
        if phase == "gp":
            if name == "synchronize_rcu" and w["gp"][tid]:
                return []
            if name == "rcu_barrier" and any(v for d in self.spec.rcu_callbacks
                                             for v in w["shared"][head_var(d.name)].values()):
                return []   # a callback is still queued or running
            return self._go(w, tid, after)
        if w["rcu"][tid]:
            return [Viol("lock_discipline", f"{name}(): called inside an RCU read-side critical section")]
        if self.atomic(w, tid):
            return [Viol("lock_discipline", f"{name}(): {self.atomic(w, tid)}")]
        if name == "synchronize_rcu":
            w["gp"][tid] = {t for t, depth in enumerate(w["rcu"]) if depth}
        self.top(w, tid)["phase"] = "gp"
        return [w]

    # -- the two entry points of a state

    def fire(self, state: dict, tid: int) -> list:
        """Every result of the thread's visible step from `state`: settled states and violations."""
        if state["threads"][tid] is None or not self.runs_now(state, tid):
            return []
        w = clone(state)
        where = self.position(w, tid)
        out = []
        if w["pending"][tid]:   # the interrupt arrives (no statement of the procedure runs)
            if not self.arrives(w, tid):
                return []
            w["pending"][tid] = False
            problem = self.move(w, tid, self.procs[w["threads"][tid][0]["proc"]].start())
            return [problem] if problem else self.settle(w, tid)
        results = self.execute(w, tid)
        if results:
            self.ran(where)
        for r in results:
            out.extend([r] if isinstance(r, Viol) else self.settle(r, tid))
        return out

    def fire_signal(self, state: dict, tid: int) -> list:
        if state["threads"][tid] is None or state["pending"][tid] or not self.runs_now(state, tid):
            return []
        w = clone(state)
        out = []
        self.evaluator.tid = tid   # a wait's condition tested on the signal path may ask held()
        try:
            results = self.signal(w, tid)
        except RefError as err:
            results = [Viol("runtime_safety", str(err))]
        if results:
            self.ran(self.position(state, tid))
        for r in results:
            out.extend([r] if isinstance(r, Viol) else self.settle(r, tid))
        return out

    # -- coverage

    def position(self, w: dict, tid: int) -> tuple[str, tuple]:
        """(procedure, path) of the statement the thread stands at."""
        frame = self.top(w, tid)
        return frame["proc"], frame["path"]

    def ran(self, where: tuple[str, tuple]) -> None:
        """One execution of the statement at `where`; executing the guard of an `either` branch takes it."""
        proc, path = where
        if proc == WORKER:
            return
        info = self.procs[proc]
        s = info.at[path]
        self.runs[s.span] += 1
        if len(path) >= 3 and str(path[-2]).startswith("b"):
            either = info.at[path[:-2]]
            assert isinstance(either, Either)
            name, body = either.branches[int(path[-2][1:])]
            if guard(body) is s:
                self.taken[(either.span, name)] += 1

    # -- queries for tests

    def waiting(self, w: dict, tid: int) -> bool:
        """Whether the thread is queued on an rwsem (standing at the wait of a down_read/down_write)."""
        th = w["threads"][tid]
        return th is not None and th[-1]["phase"] == "wait"

    def at(self, w: dict, tid: int) -> str:
        """The text of the statement the thread stands at ('' once finished)."""
        th = w["threads"][tid]
        return "" if th is None else "worker_thread" if th[-1]["proc"] == WORKER else self.stmt(th[-1]).text

    def where(self, w: dict) -> tuple:
        """Per thread, the file:line:col of the statement it stands at, or None once finished."""
        decls = [self.decls[decl] for _, _, _, decl in self.instances]
        return tuple(None if th is None else str(decls[tid].span) if w["pending"][tid] else
                     str(self.worker_span[th[-1]["path"]]) if th[-1]["proc"] == WORKER else str(self.stmt(th[-1]).span)
                     for tid, th in enumerate(w["threads"]))

    # -- waits behind slow steps (waits_on_slow questions)

    def in_slow_step(self, w: dict, tid: int) -> bool:
        """Inside synchronize_rcu()/rcu_barrier(), or at (or inside a block or call of) a `slow: true`
        statement, in any frame of the call stack."""
        th = w["threads"][tid]
        if th is None or w["pending"][tid]:
            return False
        if th[-1]["phase"] == "gp":
            return True
        for frame in th:
            if frame["proc"] == WORKER:
                continue
            at = self.procs[frame["proc"]].at
            path = frame["path"]
            if any(at[path[:n]].slow for n in range(1, len(path) + 1, 2)):
                return True
        return False

    def lock_waits(self, w: dict, tid: int) -> list[int]:
        """The threads `tid` waits for on a lock: a mutex's or spinlock's owner, or on an rwsem the holders
        it waits for and the writers queued ahead of it (all queued ahead of it, when it is a writer)."""
        th = w["threads"][tid]
        if th is None or w["pending"][tid]:
            return []
        frame = th[-1]
        if frame["proc"] == WORKER:
            return []
        s = self.stmt(frame)
        if not isinstance(s, LockOp):
            return []
        if frame["phase"] == "wait":
            lk = self.queued_on(w, tid)
            if lk is None:
                return []
            ahead = lk["queue"][:[t for t, _ in lk["queue"]].index(tid)]
            writing = s.op.startswith("down_write")
            out = [] if lk["writer"] is None else [lk["writer"]]
            if writing:
                return out + list(lk["readers"]) + [t for t, _ in ahead]
            return out + [t for t, wr in ahead if wr]
        waiting = ("mutex_lock", "mutex_lock_killable", *(f"spin_lock{x}" for x in SPIN_SUFFIXES))
        if s.op.removeprefix("raw_") not in waiting or s.lock is None:
            return []
        try:
            owner = self.evaluator.lock(s.lock, w, frame["locals"])["owner"]
        except RefError:
            return []
        return [] if owner in (None, tid) else [owner]

    def waits_on_slow(self, w: dict, tid: int) -> bool:
        """Whether `tid` is blocked on a lock and its lock waits lead to another thread in a slow step."""
        seen, todo = {tid}, [tid]
        while todo:
            for t in self.lock_waits(w, todo.pop()):
                if t not in seen:
                    if self.in_slow_step(w, t):
                        return True
                    seen.add(t)
                    todo.append(t)
        return False

    # -- properties

    def value(self, p: PropertyDecl, w: dict, note) -> bool | None:
        """A property's value in a state; None when it applies a partial operation outside its domain: then it
        is not judged there, and the state violates runtime_safety (semantics.md, "Partial operations")."""
        self.evaluator.tid = None
        try:
            return bool(self.ev(p.expr, w, {}))
        except RefError as err:
            note(Viol("runtime_safety", f"{p.kind} {p.name}: {err}"))
            return None

    # -- the explorer

    def explore(self, max_states: int | None = None, keep_states: bool = False) -> RefResult:
        self.runs, self.taken = Counter(), Counter()
        result = RefResult(runs=self.runs, taken=self.taken)
        violated = result.violated

        def note(v: Viol) -> None:
            if v.prop not in violated:
                violated.add(v.prop)
                result.messages[v.prop] = v.message

        invariants = [p for p in self.spec.properties if p.kind == "invariant"]
        finals = [p for p in self.spec.properties if p.kind == "final"]
        reachables = [p for p in self.spec.properties if p.kind == "reachable"]
        slow_waiters = [(p, [tid for tid, inst in enumerate(self.instances) if inst[3] == p.target])
                        for p in self.spec.properties if p.kind == "waits_on_slow"]
        seen: dict = {}
        queue: deque = deque()
        graph: list[list[tuple[int, int, bool]]] = []   # per state id: (successor id, thread, by a signal)
        steps: list[set[int]] = []                      # per state id: the threads with a non-signal step
        ends: set[int] = set()                          # state ids with a violating non-signal step
        worlds: list[dict] = []

        def add(w: dict) -> int:
            key = canonical(w)
            if key in seen:
                return seen[key]
            seen[key] = len(worlds)
            worlds.append(w)
            graph.append([])
            steps.append(set())
            queue.append(w)
            if keep_states:
                result.state_list.append(w)
            for p in invariants:
                if self.value(p, w, note) is False:
                    note(Viol(p.name, "invariant violated"))
            for p in reachables:   # questions: "violated" here means reached (an answer, not a failure)
                if self.value(p, w, note):
                    note(Viol(p.name, "reached"))
            for p, waiters in slow_waiters:
                if p.name not in violated and any(self.waits_on_slow(w, tid) for tid in waiters):
                    note(Viol(p.name, "waits behind a slow step"))
            return seen[key]

        starts = [self.initial()]
        for tid in range(len(self.instances)):
            settled = []
            for w in starts:
                for r in self.settle(w, tid):
                    (note(r) if isinstance(r, Viol) else settled.append(r))
            starts = settled
        for w in starts:
            add(w)
        while queue:
            if max_states is not None and len(seen) > max_states:
                result.complete = False
                break
            w = queue.popleft()
            sid = seen[canonical(w)]
            progressed = False
            for tid in range(len(self.instances)):
                for r in self.fire(w, tid):
                    progressed = True
                    steps[sid].add(tid)
                    if isinstance(r, Viol):
                        ends.add(sid)
                        note(r)
                    else:
                        graph[sid].append((add(r), tid, False))
                for r in self.fire_signal(w, tid):
                    if isinstance(r, Viol):
                        note(r)
                    else:
                        graph[sid].append((add(r), tid, True))
            if not progressed and all(self.quiescent(w, tid) for tid in range(len(self.instances))):
                result.finals += 1
                for p in finals:
                    if self.value(p, w, note) is False:
                        note(Viol(p.name, "final property violated"))
        result.states = len(seen)
        if result.complete:
            for sid, stuck in self.stuck_threads(worlds, graph, steps, ends).items():
                result.deadlocks += 1
                result.deadlocked[tuple((where, tid in stuck) for tid, where in enumerate(self.where(worlds[sid])))] += 1
            if result.deadlocks and self.spec.options.deadlock:
                note(Viol("deadlock_free", "stuck threads"))
        return result

    def stuck_threads(self, worlds: list[dict], graph: list[list[tuple[int, int, bool]]],
                      steps: list[set[int]], ends: set[int]) -> dict[int, set[int]]:
        """{state id: its stuck threads}: per thread, the states from which some path of non-signal
        transitions reaches one where the thread steps (or is moved on) are found by a backward search;
        a thread outside them that is not quiescent is stuck. A violating step ends its path with nothing
        known after it: the states it leaves count as a way on for every thread."""
        back: list[list[int]] = [[] for _ in worlds]
        for sid, edges in enumerate(graph):
            for dst, _, by_signal in edges:
                if not by_signal:
                    back[dst].append(sid)
        out: dict[int, set[int]] = {}
        def position(w: dict, tid: int) -> object:
            th = w["threads"][tid]
            return None if th is None else [(f["proc"], f["path"], f["phase"]) for f in th]
        for tid in range(len(self.instances)):
            can = {sid for sid, w in enumerate(worlds) if tid in steps[sid] or self.quiescent(w, tid) or sid in ends}
            can |= {sid for sid, edges in enumerate(graph) for dst, _, by_signal in edges
                    if not by_signal and position(worlds[dst], tid) != position(worlds[sid], tid)}
            todo = list(can)
            while todo:
                for before in back[todo.pop()]:
                    if before not in can:
                        can.add(before)
                        todo.append(before)
            for sid in range(len(worlds)):
                if sid not in can:
                    out.setdefault(sid, set()).add(tid)
        return out


def guard(body: tuple[Stmt, ...]) -> Stmt | None:
    """The statement that takes an `either` branch when it runs: the first one, labels skipped; None when
    there is none or it is a jump (the branch is then taken whenever the either runs)."""
    first = next((x for x in body if not isinstance(x, Label)), None)
    return None if isinstance(first, (Goto, Break, Continue, Return)) else first


def explore_spec(spec: Spec, max_states: int | None = None) -> RefResult:
    return Reference(spec).explore(max_states)


def explore_file(path: str | Path, bounds: Mapping[str, int] | None = None,
                 max_states: int | None = None) -> RefResult:
    return explore_spec(load_spec(path, bounds), max_states)


__all__ = ["Reference", "RefResult", "explore_spec", "explore_file", "canonical"]
