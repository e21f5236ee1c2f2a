"""The IR: one typed node per program point of a thread, after inlining (model/semantics/program.py).

A node is data: the statement it comes from, the expressions it evaluates (lowered `Expr`s with the
`Env` of their frame, never closures), the places it writes, and its successors `next`/`alt` (program
points of the same thread, -1 for none). model/semantics/runtime.py compiles nodes to the explorer's
closures, model/semantics/relation.py to a z3 transition relation. `kind` names the node class in
traces and reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..lang.expr import Expr, Local, LockRef, Shared
from ..lang.spec import Stmt
from ..lang.types import ListT, Type
from .evaluate import Env


@dataclass(frozen=True)
class Place:
    """Where an assignment writes: a local or a shared variable (maybe indexed), resolved in `env`.
    `checked`: the value must fit the declared type (an int range, a non-null reference)."""

    target: Local | Shared
    env: Env
    checked: bool = True

    @property
    def type(self) -> Type:
        return self.target.type


@dataclass(eq=False, kw_only=True)
class Node:
    """A program point. `visible` nodes are interleaving points (they read or write shared state or a
    lock); the others run eagerly after the thread's previous visible step."""

    kind: ClassVar[str] = "node"
    stmt: Stmt | None = None
    frame: tuple[str, ...] = ()     # the call chain, outermost procedure first
    env: Env | None = None          # how the frame's names resolve
    next: int = -1
    alt: int = -1
    visible: bool = False
    slow: bool = False              # inside a statement (or a call) marked `slow: true`
    folded: bool = False            # a step on protected data run with the thread's previous step
    #                                 (the protected-data reduction, model/semantics/discipline.py)


@dataclass(eq=False, kw_only=True)
class Jump(Node):
    """A placeholder edge (labels, loop heads, frame exits), removed by resolving jumps."""

    kind: ClassVar[str] = "jump"


@dataclass(eq=False, kw_only=True)
class End(Node):
    """The thread finishes here (checking that it holds no lock)."""

    kind: ClassVar[str] = "end"


@dataclass(eq=False, kw_only=True)
class Reset(Node):
    """A frame ends: its local slots go back to unused (None)."""

    kind: ClassVar[str] = "reset"
    slots: tuple[int, ...] = ()


@dataclass(eq=False, kw_only=True)
class Assign(Node):
    """`a, b = x, y` (all values evaluated first), a `return` into the caller's place, or a call's
    entry (arguments into the callee's parameters, its other locals to their defaults)."""

    kind: ClassVar[str] = "assign"
    writes: tuple[Place, ...] = ()
    values: tuple[Expr, ...] = ()
    call: str = ""                  # the procedure entered, for a call
    params: tuple[str, ...] = ()    # its parameters (the first writes)


@dataclass(eq=False, kw_only=True)
class Branch(Node):
    """`if` or `while`: `next` when `cond` holds, else `alt`."""

    kind: ClassVar[str] = "branch"
    cond: Expr | None = None
    counted: bool = False           # an `if` (branch coverage counts which way it goes)


@dataclass(eq=False, kw_only=True)
class Choose(Node):
    """`either`: every branch is a successor."""

    kind: ClassVar[str] = "choose"
    branches: tuple[tuple[str, int], ...] = ()


@dataclass(eq=False, kw_only=True)
class LoopStep(Node):
    """A `for_each` cursor step: the first element (`start`) or the one after the cursor; `next` enters
    the body, `alt` leaves the loop."""

    kind: ClassVar[str] = "loop_next"
    cursor: int = -1                # the cursor's local slot
    source: Expr | None = None      # the list or set walked
    order: str = "forward"
    var: str = ""
    entity: str = ""
    start: bool = False
    rcu: bool = False               # list_for_each_entry_rcu: in a read-side section, through deleted elements

    @property
    def is_list(self) -> bool:
        assert self.source is not None
        return isinstance(self.source.type, ListT)


@dataclass(eq=False, kw_only=True)
class LoopStart(LoopStep):
    kind: ClassVar[str] = "loop_start"


@dataclass(eq=False, kw_only=True)
class ListEdit(Node):
    """list_add, list_add_tail, list_add_before, list_del on a list place."""

    kind: ClassVar[str] = "listop"
    fn: str = ""
    place: Place | None = None
    items: tuple[Expr, ...] = ()    # the element, then the position (list_add_before)


@dataclass(eq=False, kw_only=True)
class Free(Node):
    """`kfree: item`: a runtime_safety violation while a list holds the element or an RCU reader may still
    reach it (a list_del_rcu() whose grace period has not ended); else nothing changes."""

    kind: ClassVar[str] = "kfree"
    item: Expr | None = None


@dataclass(eq=False, kw_only=True)
class Check(Node):
    """`assert`: a violation of property `name` when `cond` is false (also a call through a NULL callback:
    `runtime_safety` with a constant false, model/semantics/program.py)."""

    kind: ClassVar[str] = "assert"
    cond: Expr | None = None
    name: str = ""
    message: str = ""               # the violation's message ('': the statement's text and "failed")


@dataclass(eq=False, kw_only=True)
class Await(Node):
    """Blocks until `cond` holds; `idle`: a daemon resting here is quiescent."""

    kind: ClassVar[str] = "await"
    cond: Expr | None = None
    idle: bool = False
    sleeps: bool = True             # False: netcheck's own wait (an RCU callback thread's, rcu_barrier()'s)


@dataclass(eq=False, kw_only=True)
class LockCall(Node):
    """A lock API call on one lock instance; `alt` is its failure path (trylock, killable), `wait` the
    program point where it sleeps queued on an rwsem (-1: it never queues)."""

    kind: ClassVar[str] = "lock"
    op: str = ""
    lock: LockRef | None = None
    lock_kind: str = ""
    wait: int = -1


@dataclass(eq=False, kw_only=True)
class LockWait(Node):
    """Sleeping in an rwsem's wait queue until a releaser grants the lock (`next`), or a fatal signal
    (`alt`)."""

    kind: ClassVar[str] = "lockwait"
    op: str = ""
    lock: LockRef | None = None


@dataclass(eq=False, kw_only=True)
class RcuCall(Node):
    kind: ClassVar[str] = "rcu"
    op: str = ""
    domain: str = ""                # the SRCU domain (an srcu lock), '' for RCU


@dataclass(eq=False, kw_only=True)
class GraceWait(Node):
    """Waiting for a grace period (or for callbacks) to end, after synchronize_rcu() or rcu_barrier()."""

    kind: ClassVar[str] = "gpwait"
    op: str = ""
    domain: str = ""


@dataclass(eq=False, kw_only=True)
class CallRcu(Node):
    """call_rcu() or kfree_rcu() (model/lang/rcucallbacks.py), one step: a null `item` is a runtime_safety
    violation (kfree_rcu: nothing happens); a queued rcu_head at `head` one too, "double call_rcu"; else the head
    is queued (idle to pending, running to requeued) and the grace period of the callback's thread starts: its
    grace-period slot, `gp[k]` for element k of the item's entity (`gp[0]` without item), gets the threads
    inside an RCU read-side section now."""

    kind: ClassVar[str] = "call_rcu"
    head: Place | None = None
    item: Expr | None = None
    gp: tuple[int, ...] = ()
    kfree: bool = False


@dataclass(eq=False, kw_only=True)
class CounterCall(Node):
    """A refcount_t, atomic_t or completion operation on the counter at `place`, one atomic step
    (model/semantics/counters.py has its rules): `next` when it succeeds (a true result), `alt` when it
    returns false, its wait is killed or times out (the on_fail: path; `next` when it has none). `value`: the
    value refcount_set/atomic_set stores; `result`: where a bool result goes."""

    kind: ClassVar[str] = "counter"
    op: str = ""
    place: Place | None = None
    value: Expr | None = None
    result: Place | None = None


@dataclass(eq=False, kw_only=True)
class WaitCall(Node):
    """A wait-queue operation (model/semantics/waitqueues.py has its rules) on the wait queue at `place`
    (None for schedule), one atomic step: `next` when it is done, `alt` when a killable or timed wait ends
    with the condition false (the on_fail: path). `cond`: the wait_event family's condition."""

    kind: ClassVar[str] = "wait_queue"
    op: str = ""
    place: Place | None = None
    cond: Expr | None = None


@dataclass(eq=False, kw_only=True)
class IrqArrive(Node):
    """The arrival of an interrupt: the first step of a thread in hardirq or softirq context that interrupts
    another thread's CPU, enabled while that CPU takes it (model/semantics/contexts.py); its statement is
    the threads: entry."""

    kind: ClassVar[str] = "irq_arrive"


LOCK_NODES = (LockCall, LockWait)

__all__ = ["Assign", "Await", "Branch", "CallRcu", "Check", "Choose", "CounterCall", "End", "Free", "GraceWait",
           "IrqArrive", "Jump", "ListEdit", "LockCall", "LockWait", "LoopStart", "LoopStep", "Node", "Place", "RcuCall",
           "Reset", "WaitCall",
           "LOCK_NODES"]
