"""The validated spec: frozen dataclasses with a source span on every node (excluded from equality)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum

from .errors import Span
from .expr import Expr, LockRef
from .types import Type

# ---------------------------------------------------------------- statements


@dataclass(frozen=True)
class WorkCall:
    """The workqueue call a lowered statement comes from (model/lang/works.py): the call, its queue and item
    ('' where it names none), the local receiving its bool (None), and which of its steps the statement is
    (cancel_work_sync has two). The explorers run the lowered statement; the reference explorer
    (tests/reference_explorer.py) interprets the call itself from this."""

    op: str
    queue: str = ""
    work: str = ""
    result: Expr | None = None
    step: int = 0


@dataclass(frozen=True)
class Stmt:
    span: Span = field(compare=False)
    text: str = field(compare=False)
    slow: bool = field(default=False, compare=False, kw_only=True)  # `slow: true`: a long step (for wait-for analyses)
    work_call: WorkCall | None = field(default=None, compare=False, kw_only=True)   # lowered from this call


@dataclass(frozen=True)
class Assign(Stmt):
    targets: tuple[Expr, ...] = ()
    values: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class Invoke(Stmt):
    """A procedure call; `result` is the lvalue receiving the returned value, if any."""

    proc: str = ""
    args: tuple[Expr, ...] = ()
    result: Expr | None = None


@dataclass(frozen=True)
class IndirectCall(Stmt):
    """A call through an element's callback slot, `o.init(n)` (the kernel's `ops->init(net)`): `targets[i]` is
    the procedure element i binds to `slot` ('' when unset: calling it is a NULL-pointer call, a
    runtime_safety violation; so is a null `via`). `via` is a local, a parameter or an element."""

    via: Expr | None = None
    entity: str = ""
    slot: str = ""
    args: tuple[Expr, ...] = ()
    result: Expr | None = None
    targets: tuple[str, ...] = ()


@dataclass(frozen=True)
class ListOp(Stmt):
    """list_add / list_add_tail / list_add_before / list_del on a list location."""

    fn: str = ""
    args: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class LockOp(Stmt):
    """A kernel lock API call; `on_fail` runs when a killable wait is interrupted or a trylock fails."""

    op: str = ""
    lock: LockRef | None = None
    on_fail: tuple[Stmt, ...] | None = None
    subclass: int = 0   # lockdep subclass of a _nested acquire (op is then the plain one it runs as)


@dataclass(frozen=True)
class CounterOp(Stmt):
    """A refcount_t, atomic_t or completion operation (model/lang/counterapi.py) on the counter `target`;
    `value` for refcount_set/atomic_set; a bool result stored in `result` or, when false (or the wait
    killed or timed out), `on_fail` run instead of going on."""

    op: str = ""
    target: Expr | None = None
    value: Expr | None = None
    result: Expr | None = None
    on_fail: tuple[Stmt, ...] | None = None


@dataclass(frozen=True)
class WaitOp(Stmt):
    """A wait-queue operation (model/lang/waitapi.py) on the wait queue `queue` (None for schedule);
    `cond` the condition of the wait_event family; `on_fail` runs when a killable or timed wait ends with
    the condition false."""

    op: str = ""
    queue: Expr | None = None
    cond: Expr | None = None
    on_fail: tuple[Stmt, ...] | None = None


@dataclass(frozen=True)
class Rcu(Stmt):
    op: str = ""  # rcu_read_lock, rcu_read_unlock, synchronize_rcu, rcu_barrier, or an SRCU operation
    domain: str = ""  # the srcu lock an SRCU operation names ('' for RCU)


@dataclass(frozen=True)
class CallRcu(Stmt):
    """`call_rcu: f(x)`, `kfree_rcu: x`: queue the callback `name` (a procedure) of the rcu_head embedded in
    element `item` (None: a static rcu_head) to run after a grace period (model/lang/rcucallbacks.py).
    `kfree`: kfree_rcu, whose null `item` does nothing."""

    name: str = ""
    item: Expr | None = None
    kfree: bool = False


@dataclass(frozen=True)
class CallbackGrace(Stmt):
    """A callback thread waits for the grace period its call_rcu() started (model/lang/rcucallbacks.py)."""


@dataclass(frozen=True)
class Free(Stmt):
    """`kfree: x`: the element's memory goes back; no reader may still reach it (docs/semantics.md 7.3)."""

    item: Expr | None = None


@dataclass(frozen=True)
class If(Stmt):
    cond: Expr | None = None
    then: tuple[Stmt, ...] = ()
    orelse: tuple[Stmt, ...] = ()


@dataclass(frozen=True)
class While(Stmt):
    cond: Expr | None = None
    body: tuple[Stmt, ...] = ()


@dataclass(frozen=True)
class ForEach(Stmt):
    """A loop over a list (live, kernel semantics) or over a set/entity (live, in element order).

    order: forward, reverse, or continue_reverse (start at the element before the cursor's current value).
    """

    var: str = ""
    source: Expr | None = None
    order: str = "forward"
    body: tuple[Stmt, ...] = ()
    rcu: bool = False   # list_for_each_entry_rcu: inside an RCU read-side section, across list_del_rcu


@dataclass(frozen=True)
class Either(Stmt):
    branches: tuple[tuple[str, tuple[Stmt, ...]], ...] = ()


@dataclass(frozen=True)
class Label(Stmt):
    name: str = ""


@dataclass(frozen=True)
class Goto(Stmt):
    name: str = ""


@dataclass(frozen=True)
class Return(Stmt):
    value: Expr | None = None


@dataclass(frozen=True)
class Break(Stmt):
    pass


@dataclass(frozen=True)
class Continue(Stmt):
    pass


@dataclass(frozen=True)
class Assert(Stmt):
    cond: Expr | None = None
    name: str = ""
    about: str = ""


@dataclass(frozen=True)
class Await(Stmt):
    """Block until `cond` holds (wait_event); an `idle` await is where a daemon rests when there is no work."""

    cond: Expr | None = None
    idle: bool = False
    # lockdep maps the wait acquires and releases first, (class, mode): flush_work(), cancel_work_sync(),
    # flush_workqueue() (model/lang/works.py)
    maps: tuple[tuple[str, str], ...] = ()
    sleeps: bool = True   # False: netcheck's own wait (an RCU callback thread's), not a sleep of the spec's code


# ---------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Group:
    name: str
    elements: tuple[str, ...]
    counted: bool  # declared by a count: --bound can change it


@dataclass(frozen=True)
class Entity:
    name: str
    groups: tuple[Group, ...]
    span: Span = field(compare=False)

    @property
    def elements(self) -> tuple[str, ...]:
        return tuple(e for g in self.groups for e in g.elements)


class LockClasses(Enum):
    """How a per: lock's instances map to lockdep classes."""

    SHARED = "shared"              # one class for every instance (the kernel's default: one lock key)
    PER_INSTANCE = "per_instance"  # a class per instance (lockdep_set_class() with a key per object)


@dataclass(frozen=True)
class LockDecl:
    name: str
    kind: str  # mutex, rwsem, spinlock
    per: tuple[str, ...]
    span: Span = field(compare=False)
    classes: LockClasses = LockClasses.SHARED


@dataclass(frozen=True)
class KnownCycle:
    """`known_cycles:` a lock-order cycle the spec declares intended: its lock classes (`l`, `l/1`,
    `l[e0]`), and why. It never fails lock_order, and is listed with its reason."""

    locks: tuple[str, ...]
    reason: str
    span: Span = field(compare=False)


@dataclass(frozen=True)
class WorkqueueDecl:
    """`workqueues:` a queue; `ordered`: one worker runs its items one at a time in queue order (else a worker
    per item: unbound)."""

    name: str
    ordered: bool
    span: Span = field(compare=False)


@dataclass(frozen=True)
class WorkDecl:
    """`works:` a work item, the queue its worker runs on, and the procedure it runs (no parameters)."""

    name: str
    queue: str
    run: str
    span: Span = field(compare=False)


@dataclass(frozen=True)
class RcuCallbackDecl:
    """An RCU callback a `call_rcu:` (or `kfree_rcu:`) queues: the procedure, and the entity whose elements
    embed its rcu_head ('' : one static rcu_head). model/lang/rcucallbacks.py gives it a state variable and
    a softirq thread."""

    name: str
    entity: str
    kfree: bool
    span: Span = field(compare=False)


@dataclass(frozen=True)
class VarDecl:
    name: str
    type: Type
    per: tuple[str, ...]
    init: tuple[object, ...]  # one encoded value per key (a single one when per is empty)
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Procedure:
    name: str
    params: tuple[tuple[str, Type], ...]
    returns: Type | None
    locals: tuple[tuple[str, Type], ...]
    body: tuple[Stmt, ...]
    span: Span = field(compare=False)
    source: str = ""  # `source:` the kernel C function it models, when not of the same name (netcheck conform)


@dataclass(frozen=True)
class CallbackSlot:
    """One function pointer of an entity's callback table (`init: "(net n) -> int[-12..0]"`)."""

    name: str
    params: tuple[tuple[str, Type], ...]
    returns: Type | None
    span: Span = field(compare=False)


@dataclass(frozen=True)
class CallbackTable:
    """`callbacks:` of one entity, as `struct pernet_operations` declares `.init`, `.exit`: its slots, and per
    element (in element order) the procedure bound to each slot ('' : unset, NULL)."""

    entity: str
    slots: tuple[CallbackSlot, ...]
    bindings: tuple[tuple[str, ...], ...]   # per element, per slot: a procedure name or ''
    span: Span = field(compare=False)

    def slot_index(self, name: str) -> int:
        return next(i for i, s in enumerate(self.slots) if s.name == name)

    def targets(self, slot: str) -> tuple[str, ...]:
        """Per element, the procedure bound to `slot` ('' : unset)."""
        i = self.slot_index(slot)
        return tuple(row[i] for row in self.bindings)


@dataclass(frozen=True)
class ThreadDecl:
    """`count` identical instances, or one instance per element of `domain` bound to `var`."""

    name: str
    proc: str
    args: tuple[Expr, ...]
    var: str
    domain: tuple[str, ...]  # element names the instances are bound to (empty: `count` instances)
    count: int
    daemon: bool
    span: Span = field(compare=False)
    context: str = "process"   # process, softirq or hardirq: what the instances run as (docs/semantics.md 3.1)
    interrupts: str = ""       # an irq-context entry: the process-context threads: entry whose CPU it interrupts


def thread_instances(t: ThreadDecl) -> tuple[str, ...]:
    """The names of a threads: entry's instances, as traces show them: `worker`, `worker[0]`, `creator[net0]`."""
    if t.var:
        return tuple(f"{t.name}[{el}]" for el in t.domain)
    return (t.name,) if t.count == 1 else tuple(f"{t.name}[{i}]" for i in range(t.count))


@dataclass(frozen=True)
class PropertyDecl:
    name: str
    # invariant, final; on every fair run: eventually, leads_to, progress, returns_when_killed; questions (they
    # do not fail a run): reachable, waits_on_slow
    kind: str
    expr: Expr   # the condition (leads_to: its to:; the thread kinds: true)
    about: str
    span: Span = field(compare=False)
    target: str = ""  # waits_on_slow: the threads: entry whose instances may wait behind slow steps
    during: str = ""  # waits_on_slow: also count the slow steps they can wait through inside this procedure
    text: str = field(default="", compare=False)  # the expression as written in the spec
    fairness: str = ""  # liveness kinds: weak or strong ('' : the spec's options: fairness:)
    within: int = 0     # returns_when_killed: the slow steps a killed thread may still wait through
    source: Expr | None = None   # leads_to: its from: condition
    source_text: str = field(default="", compare=False)   # leads_to: from: and to: as written
    target_text: str = field(default="", compare=False)


@dataclass(frozen=True)
class Lemma:
    """A candidate invariant (`lemmas:`): a condition on states that `netcheck prove` checks for
    inductiveness together with the other lemmas; it never changes a verdict of `verify`."""

    name: str
    expr: Expr
    span: Span = field(compare=False)
    text: str = field(default="", compare=False)


@dataclass(frozen=True)
class Options:
    deadlock: bool = True
    fatal_signals: bool = True
    rwsem_wake: str = "head_run"  # head_run (3.10/4.x rwsem-xadd) or all_readers (phase-fair, >= 5.x)
    fairness: str = "weak"  # the liveness properties' fairness unless they say: weak or strong, per thread


@dataclass(frozen=True)
class Expectation:
    """`expect:` the properties this spec must violate (none: `expect: holds`), every other one holding."""

    violated: tuple[str, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Spec:
    name: str
    about: str
    files: tuple[str, ...]  # the spec file first, then what it extends
    entities: tuple[Entity, ...]
    enums: tuple[tuple[str, tuple[str, ...]], ...]
    locks: tuple[LockDecl, ...]
    vars: tuple[VarDecl, ...]
    procedures: tuple[Procedure, ...]
    threads: tuple[ThreadDecl, ...]
    properties: tuple[PropertyDecl, ...]
    asserts: tuple[Assert, ...]
    options: Options
    bounds: tuple[tuple[str, int], ...]  # the bound names in force and their values
    expect: Expectation | None = None
    known_cycles: tuple[KnownCycle, ...] = ()
    workqueues: tuple[WorkqueueDecl, ...] = ()
    works: tuple[WorkDecl, ...] = ()
    lemmas: tuple[Lemma, ...] = ()
    callbacks: tuple[CallbackTable, ...] = ()
    rcu_callbacks: tuple[RcuCallbackDecl, ...] = ()
    rcu_idle: Expr | None = None   # no RCU callback queued or running: what rcu_barrier() waits for

    def procedure(self, name: str) -> Procedure:
        return next(p for p in self.procedures if p.name == name)

    def entity(self, name: str) -> Entity:
        return next(e for e in self.entities if e.name == name)


def walk_statements(stmts: tuple[Stmt, ...]) -> Iterator[Stmt]:
    """Every statement in a body, nested ones included, iteratively."""
    stack = list(reversed(stmts))
    while stack:
        s = stack.pop()
        yield s
        nested: list[Stmt] = []
        if isinstance(s, If):
            nested = [*s.then, *s.orelse]
        elif isinstance(s, (While, ForEach)):
            nested = list(s.body)
        elif isinstance(s, Either):
            nested = [x for _, body in s.branches for x in body]
        elif isinstance(s, (LockOp, CounterOp, WaitOp)) and s.on_fail:
            nested = list(s.on_fail)
        stack.extend(reversed(nested))
