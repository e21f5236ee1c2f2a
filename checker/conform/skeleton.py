"""Lock skeletons: the lock, RCU and call operations of a function in order, with its branches kept.

One data model for both sides of a conformance check: a kernel C function (csource.py) and a spec
procedure (`from_procedure` here) become the same `Skeleton`, whose `events` are compared (compare.py).
Which C calls are lock operations comes from the spec language's table (model/lang/lockapi.py), plus the
kernel's variants of those calls (`C_ALIASES`: spin_lock_irqsave is a spin_lock, mutex_lock_nested a
mutex_lock) and the spec's own lock wrappers (a procedure `rtnl_lock()` whose body is one lock operation).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum

from netcheck.model.lang import spec as S
from netcheck.model.lang.errors import Span
from netcheck.model.lang.lockapi import LOCK_API, RCU_API, lock_wrappers


class FailArm(Enum):
    """Which arm of a branch is where the acquire just before it failed (runs without that lock)."""

    NONE = "none"
    THEN = "then"       # a spec's on_fail:, C's `if (rv < 0)` after a killable acquire, `if (!mutex_trylock())`
    ELSE = "else"       # C's `if (mutex_trylock(...)) { ... } else { ... }`, `if (!rv)` after a killable


class OpKind(Enum):
    """What an operation does to the locks (or that it is a call)."""

    ACQUIRE = "acquire"
    RELEASE = "release"
    DOWNGRADE = "downgrade"
    RCU_LOCK = "rcu_read_lock"
    RCU_UNLOCK = "rcu_read_unlock"
    RCU_WAIT = "rcu_wait"
    CALL = "call"


# Kernel variants of the table's operations: same lock, same mode (irq/bh/nesting annotations aside).
C_ALIASES: Mapping[str, str] = {
    "mutex_lock_nested": "mutex_lock", "mutex_lock_io": "mutex_lock",
    "mutex_lock_interruptible": "mutex_lock_killable", "mutex_lock_killable_nested": "mutex_lock_killable",
    "mutex_lock_interruptible_nested": "mutex_lock_killable",
    "down_read_nested": "down_read", "down_read_interruptible": "down_read_killable",
    "down_write_nested": "down_write",
    **{f"{base}{suffix}": base for base in ("spin_lock", "spin_unlock", "spin_trylock", "raw_spin_lock",
                                            "raw_spin_unlock") for suffix in ("_irq", "_irqsave", "_bh",
                                                                              "_nested", "_irqrestore")},
    "raw_spin_lock": "spin_lock", "raw_spin_unlock": "spin_unlock", "raw_spin_trylock": "spin_trylock",
}


@dataclass(frozen=True)
class Op:
    """One operation: `name` as written (mutex_lock_killable, rtnl_lock, setup_net); `api` the lock-table
    operation it stands for ('' for a call); `lock` normalised ('' for RCU and calls)."""

    kind: OpKind
    name: str
    at: Span = field(compare=False)
    api: str = ""
    lock: str = ""
    mode: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What two operations must share to be the same step: kind, operation, lock, mode."""
        return (self.kind.value, self.api or self.name, self.lock, self.mode)

    def describe(self) -> str:
        if self.kind is OpKind.CALL:
            return f"{self.name}()"
        shown = self.name if not self.lock else f"{self.name}({self.lock})"
        return shown if self.api in ("", self.name) or not self.lock else f"{shown} [{self.api}]"


@dataclass(frozen=True)
class Branch:
    """if/else (or a killable acquire's on_fail:, or either:): both arms kept. `failed`: the arm where the
    acquire just before it failed, which runs without the lock."""

    cond: str
    then: tuple[Node, ...]
    orelse: tuple[Node, ...]
    at: Span = field(compare=False)
    failed: FailArm = FailArm.NONE


@dataclass(frozen=True)
class Loop:
    head: str
    body: tuple[Node, ...]
    at: Span = field(compare=False)


@dataclass(frozen=True)
class Label:
    name: str
    at: Span = field(compare=False)


@dataclass(frozen=True)
class Goto:
    name: str
    at: Span = field(compare=False)


@dataclass(frozen=True)
class Return:
    at: Span = field(compare=False)


Node = Op | Branch | Loop | Label | Goto | Return


@dataclass(frozen=True)
class Skeleton:
    """A function's (or a procedure's) lock skeleton."""

    function: str
    at: Span = field(compare=False)
    body: tuple[Node, ...]


Held = tuple[str, ...]          # the locks held, outermost first (an rwsem read hold as `name(read)`)


@dataclass(frozen=True)
class Event:
    """An operation on the straight line of its skeleton, with the sets of locks that may be held just
    before it: one per way of reaching it (an early return's unlock does not release for the code after)."""

    op: Op
    held: frozenset[Held]


@dataclass(frozen=True)
class Exit:
    """A return (or the end of the body) and the locks held there, per way of reaching it."""

    at: Span
    held: frozenset[Held]


# ---------------------------------------------------------------- classifying calls


def normalise_lock(text: str) -> str:
    """`&net_mutex` -> net_mutex, `&(net->lock)` -> net->lock; whitespace and casts dropped."""
    t = re.sub(r"\s+", "", text)
    t = re.sub(r"^\((?:struct)?[A-Za-z_]\w*\*?\)", "", t)
    while True:
        stripped = t.removeprefix("&")
        if stripped.startswith("(") and stripped.endswith(")") and _balanced(stripped[1:-1]):
            stripped = stripped[1:-1]
        if stripped == t:
            return t
        t = stripped


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def lock_api_name(name: str) -> str | None:
    """The lock-table operation a C function name stands for, irq/bh/nesting annotations aside (its own name,
    or a kernel variant's base: spin_lock for spin_lock_irqsave, which the spec language also has)."""
    base = name
    while base in C_ALIASES:
        base = C_ALIASES[base]
    return base if base in LOCK_API else None


def classify(name: str, first_arg: str, at: Span, wrappers: Mapping[str, S.LockOp]) -> Op:
    """A C call (`name(first_arg, ...)`) as a skeleton operation."""
    api = lock_api_name(name)
    if api is not None:
        return lock_operation(name, api, normalise_lock(first_arg), at)
    if name in RCU_API:
        return rcu_operation(name, at)
    wrapped = wrappers.get(name)
    if wrapped is not None and wrapped.lock is not None:
        return lock_operation(name, wrapped.op, wrapped.lock.name, at)
    return Op(OpKind.CALL, name, at)


def lock_operation(name: str, api: str, lock: str, at: Span) -> Op:
    api = lock_api_name(api) or api
    info = LOCK_API[api]
    kind = OpKind.ACQUIRE if info.acquires else OpKind.RELEASE if info.releases else OpKind.DOWNGRADE
    return Op(kind, name, at, api, lock, info.mode)


def rcu_operation(name: str, at: Span) -> Op:
    info = RCU_API[name]
    kind = OpKind.RCU_WAIT if info.waits else OpKind.RCU_LOCK if name.endswith("rcu_read_lock") else OpKind.RCU_UNLOCK
    return Op(kind, name, at, name)


def is_lock_relevant(name: str, wrappers: Mapping[str, S.LockOp]) -> bool:
    """Is a call of `name` a lock or RCU operation (not an ordinary call)?"""
    return lock_api_name(name) is not None or name in RCU_API or name in wrappers


# ---------------------------------------------------------------- spec procedures


def from_procedure(proc: S.Procedure, spec: S.Spec) -> Skeleton:
    """A spec procedure's lock skeleton (its lock wrappers' calls shown as the lock operations they are)."""
    return Skeleton(proc.name, proc.span, _stmts(proc.body, lock_wrappers(spec)))


def _stmts(body: tuple[S.Stmt, ...], wrappers: Mapping[str, S.LockOp]) -> tuple[Node, ...]:
    out: list[Node] = []
    for stmt in body:
        out.extend(_stmt(stmt, wrappers))
    return tuple(out)


def _stmt(stmt: S.Stmt, wrappers: Mapping[str, S.LockOp]) -> list[Node]:
    at = stmt.span
    if isinstance(stmt, S.LockOp) and stmt.lock is not None:
        op = lock_operation(stmt.op, stmt.op, stmt.lock.name, at)
        if stmt.on_fail is None:
            return [op]
        return [op, Branch("on failure", _stmts(stmt.on_fail, wrappers), (), at, failed=FailArm.THEN)]
    if isinstance(stmt, S.Rcu):
        return [rcu_operation(stmt.op, at)]
    if isinstance(stmt, S.Invoke):
        wrapped = wrappers.get(stmt.proc)
        if wrapped is not None and wrapped.lock is not None:
            return [lock_operation(stmt.proc, wrapped.op, wrapped.lock.name, at)]
        return [Op(OpKind.CALL, stmt.proc, at)]
    if isinstance(stmt, S.If):
        return [Branch(stmt.text, _stmts(stmt.then, wrappers), _stmts(stmt.orelse, wrappers), at)]
    if isinstance(stmt, (S.While, S.ForEach)):
        return [Loop(stmt.text, _stmts(stmt.body, wrappers), at)]
    if isinstance(stmt, S.Either):
        return _either(stmt.branches, wrappers, at)
    if isinstance(stmt, S.Label):
        return [Label(stmt.name, at)]
    if isinstance(stmt, S.Goto):
        return [Goto(stmt.name, at)]
    if isinstance(stmt, S.Return):
        return [Return(at)]
    return []


def _either(branches: tuple[tuple[str, tuple[S.Stmt, ...]], ...], wrappers: Mapping[str, S.LockOp],
            at: Span) -> list[Node]:
    if not branches:
        return []
    (name, body), rest = branches[0], branches[1:]
    return [Branch(f"either: {name}", _stmts(body, wrappers), tuple(_either(rest, wrappers, at)), at)]


# ---------------------------------------------------------------- the straight line


MAX_ALTERNATIVES = 32           # held-lock sets tracked per point (more are merged into one)
States = frozenset[Held]
NONE: States = frozenset()      # reached by no path


def events(skeleton: Skeleton) -> tuple[Event, ...]:
    """Every operation in source order, each with the locks that may be held before it."""
    return walk(skeleton)[0]


def exits(skeleton: Skeleton) -> tuple[Exit, ...]:
    """Every way out of the function, with the locks held there."""
    return walk(skeleton)[1]


def walk(skeleton: Skeleton) -> tuple[tuple[Event, ...], tuple[Exit, ...]]:
    """Events and exits; a second pass carries what a backward goto (`goto retry`) brings to its label."""
    first = _Walk({})
    first.block(skeleton.body, frozenset({()}))
    w = _Walk(first.at_label)
    end = w.block(skeleton.body, frozenset({()}))
    if end:
        w.exits.append(Exit(skeleton.at, end))
    return tuple(w.out), tuple(w.exits)


def inline(skeleton: Skeleton, callees: Mapping[str, Skeleton], depth: int = 2) -> Skeleton:
    """`skeleton` with each call of a function in `callees` replaced by that function's lock operations
    (its returns dropped): `rtnl_lock_unregistering_all()` becomes the rtnl_lock() it makes."""
    return replace(skeleton, body=_inline(skeleton.body, callees, depth, {skeleton.function}))


def _inline(nodes: tuple[Node, ...], callees: Mapping[str, Skeleton], depth: int, seen: set[str]) -> tuple[Node, ...]:
    out: list[Node] = []
    for node in nodes:
        if isinstance(node, Op) and node.kind is OpKind.CALL and node.name in callees and node.name not in seen \
                and depth > 0:
            callee = callees[node.name]
            out.extend(_inline(_no_returns(callee.body), callees, depth - 1, seen | {node.name}))
        elif isinstance(node, Branch):
            out.append(replace(node, then=_inline(node.then, callees, depth, seen),
                               orelse=_inline(node.orelse, callees, depth, seen)))
        elif isinstance(node, Loop):
            out.append(replace(node, body=_inline(node.body, callees, depth, seen)))
        else:
            out.append(node)
    return tuple(out)


def _no_returns(nodes: tuple[Node, ...]) -> tuple[Node, ...]:
    out: list[Node] = []
    for node in nodes:
        if isinstance(node, Branch):
            out.append(replace(node, then=_no_returns(node.then), orelse=_no_returns(node.orelse)))
        elif isinstance(node, Loop):
            out.append(replace(node, body=_no_returns(node.body)))
        elif not isinstance(node, Return):
            out.append(node)
    return tuple(out)


class _Walk:
    """Source-order walk over sets of held-lock tuples; gotos carry theirs to the label."""

    def __init__(self, at_label: dict[str, States]) -> None:
        self.out: list[Event] = []
        self.exits: list[Exit] = []
        self.at_label: dict[str, States] = dict(at_label)

    def block(self, nodes: tuple[Node, ...], held: States) -> States:
        for node in nodes:
            held = self.node(node, held)
        return held

    def node(self, node: Node, held: States) -> States:
        if isinstance(node, Op):
            self.out.append(Event(node, held))
            return _cap(frozenset(_apply(node, h) for h in held))
        if isinstance(node, Branch):
            failing = held
            if node.failed is not FailArm.NONE and self.out and self.out[-1].op.kind is OpKind.ACQUIRE:
                failing = frozenset(_without(h, _hold_name(self.out[-1].op)) for h in held)
            then_in, else_in = (failing, held) if node.failed is not FailArm.ELSE else (held, failing)
            return _cap(self.block(node.then, then_in) | self.block(node.orelse, else_in))
        if isinstance(node, Loop):
            return _cap(held | self.block(node.body, held))
        if isinstance(node, Label):
            return _cap(held | self.at_label.get(node.name, NONE))
        if isinstance(node, Goto):
            self.at_label[node.name] = self.at_label.get(node.name, NONE) | held
        elif held:
            self.exits.append(Exit(node.at, held))
        return NONE


def _cap(states: States) -> States:
    if len(states) <= MAX_ALTERNATIVES:
        return states
    merged: list[str] = []
    for h in sorted(states):
        merged.extend(x for x in h if x not in merged)
    return frozenset({tuple(merged)})


def _hold_name(op: Op) -> str:
    return f"{op.lock}(read)" if op.mode == "read" else op.lock


def _apply(op: Op, held: Held) -> Held:
    if op.kind is OpKind.ACQUIRE:
        return (*held, _hold_name(op))
    if op.kind is OpKind.RELEASE:
        return _without(held, _hold_name(op))
    if op.kind is OpKind.DOWNGRADE:
        return tuple(f"{op.lock}(read)" if h == op.lock else h for h in held)
    if op.kind is OpKind.RCU_LOCK:
        return (*held, "rcu")
    if op.kind is OpKind.RCU_UNLOCK:
        return _without(held, "rcu")
    return held


def _without(held: Held, name: str) -> Held:
    """`held` less the innermost hold of `name` (unchanged when it is not held)."""
    if name not in held:
        return held
    i = len(held) - 1 - held[::-1].index(name)
    return held[:i] + held[i + 1:]
