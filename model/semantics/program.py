"""Inlining procedures into one control-flow graph per thread instance (the IR).

Procedures are inlined at every call site, so a thread's program counter alone says where it is, and
each inlined frame has its own local slots. Jumps (goto, break, continue, return, calls) become edges.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ..lang.errors import Span
from ..lang.expr import Expr, Local, LockRef, Shared
from ..lang.lockapi import LOCK_API, RCU_API
from ..lang.spec import (
    Assert,
    Assign,
    Await,
    Break,
    Continue,
    Either,
    ForEach,
    Goto,
    If,
    Invoke,
    Label,
    ListOp,
    LockOp,
    Procedure,
    Rcu,
    Return,
    Spec,
    Stmt,
    While,
)
from ..lang.types import BoolT, EnumT, IntT, ListT, RefT, SetT, Type
from .evaluate import Env, EvalError, Fn, compile_expr, key_index, lock_base, reads_state
from .layout import Layout, Slot, SlotKind


@dataclass
class IR:
    """One program point of a thread. `next`/`alt` are IR indices; `data` holds compiled closures."""

    kind: str
    stmt: Stmt | None
    frame: tuple[str, ...]
    next: int = -1
    alt: int = -1
    data: dict = field(default_factory=dict)
    visible: bool = False


MAX_NODES = 100_000      # program points per thread after inlining
MAX_CALL_DEPTH = 64      # nested calls (each is inlined)


class CompileError(Exception):
    def __init__(self, span: Span, message: str, hint: str = ""):
        super().__init__(message)
        self.span, self.message, self.hint = span, message, hint


def default_value(t: Type) -> object:
    if isinstance(t, BoolT):
        return False
    if isinstance(t, IntT):
        assert t.lo is not None and t.hi is not None
        return 0 if t.lo <= 0 <= t.hi else t.lo
    if isinstance(t, RefT):
        return -1
    if isinstance(t, ListT):
        return ()
    return 0


@dataclass
class Frame:
    proc: Procedure
    env: Env
    slots: list[int]
    chain: tuple[str, ...]
    labels: dict[str, int]
    return_to: int
    result: tuple[int, object, Type] | None  # (static slot, dynamic slot fn, type) in caller
    exit_node: int
    types: dict[str, Type]


class ThreadProgram:
    """Builds the IR of one thread instance by inlining its procedure and everything it calls."""

    def __init__(self, spec: Spec, layout: Layout, tid: int, name: str, base_env: Env, defaults: dict[int, object]):
        self.spec = spec
        self.layout = layout
        self.tid = tid
        self.name = name
        self.base_env = base_env
        self.defaults = defaults
        self.nodes: list[IR] = []
        self.local_slots: list[int] = []
        self.slow_depth = 0         # > 0 while compiling a statement marked slow (and what it calls)
        self.pool: list[int] = []   # this thread's local slots, used as a stack by nested frames
        self.top = 0
        self.frames = 0

    def emit(self, kind: str, stmt: Stmt | None, frame: Frame | None, **data: object) -> int:
        if len(self.nodes) >= MAX_NODES:
            raise CompileError(stmt.span if stmt is not None else self.cycle_span(),
                               f"thread {self.name}: inlining its procedures gives more than {MAX_NODES:,} steps",
                               "procedures are inlined at every call: call fewer procedures from loops and "
                               "from each other, or lower the bounds")
        if self.slow_depth:
            data["slow"] = True
        self.nodes.append(IR(kind, stmt, frame.chain if frame else (), data=data))
        return len(self.nodes) - 1

    def jump(self, target: int = -1) -> int:
        self.nodes.append(IR("jump", None, (), next=target))
        return len(self.nodes) - 1

    # -- frames

    def new_frame(self, proc: Procedure, chain: tuple[str, ...], return_to: int,
                  result: tuple[int, object, Type] | None) -> Frame:
        """A frame's locals take the thread's next free pooled slots; sibling calls reuse them."""
        self.frames += 1
        slots: dict[str, int] = {}
        slot_list = []
        types: dict[str, Type] = {}
        for name, t in (*proc.params, *proc.locals, *self.loop_vars(proc)):
            if name in slots:
                continue
            if self.top == len(self.pool):
                shown = f"{self.name}.local{len(self.pool)}"
                slot = self.layout.add(Slot(shown, SlotKind.LOCAL, None, thread=self.tid))
                self.defaults[slot] = None
                self.pool.append(slot)
                self.local_slots.append(slot)
            slot = self.pool[self.top]
            self.top += 1
            slots[name] = slot
            types[name] = t
            slot_list.append(slot)
        env = Env(self.layout, self.base_env.entity_sizes, slots, {}, self.base_env.element_names, tid=self.tid)
        exit_node = self.jump(return_to)
        labels = {}
        for stmt in walk_statements(proc.body):
            if isinstance(stmt, Label):
                labels[stmt.name] = self.jump()
        return Frame(proc, env, slot_list, chain, labels, return_to, result, exit_node, types)

    def loop_vars(self, proc: Procedure) -> list[tuple[str, Type]]:
        declared = {n for n, _ in (*proc.params, *proc.locals)}
        out: list[tuple[str, Type]] = []
        for stmt in walk_statements(proc.body):
            if isinstance(stmt, ForEach) and stmt.var not in declared:
                assert stmt.source is not None and isinstance(stmt.source.type, (ListT, SetT))
                out.append((stmt.var, RefT(stmt.source.type.entity, True)))
                declared.add(stmt.var)
        return out

    def build(self, proc: Procedure, args: list[object]) -> int:
        """The entry of the thread: its procedure with constant arguments, then the end node."""
        end = self.emit("end", None, None)
        frame = self.new_frame(proc, (proc.name,), end, None)
        params = {frame.env.locals[n]: v for (n, _), v in zip(proc.params, args)}
        self.initial_values = {slot: params.get(slot, default_value(frame.types[name]))
                               for name, slot in frame.env.locals.items()}
        reset = self.emit("reset", None, frame, slots=list(frame.slots))
        self.nodes[reset].next = end
        self.nodes[frame.exit_node].next = reset
        return self.block(proc.body, frame, frame.exit_node, None)

    # -- statements (compiled back to front: each knows what follows it)

    def block(self, stmts: tuple[Stmt, ...], frame: Frame, then: int, loop: tuple[int, int] | None) -> int:
        for stmt in reversed(stmts):
            then = self.statement(stmt, frame, then, loop)
        return then

    def expr(self, e: Expr, frame: Frame) -> Fn:
        try:
            return compile_expr(e, frame.env)
        except EvalError as err:
            raise CompileError(e.span, str(err)) from None

    def target(self, e: Expr, frame: Frame) -> tuple[int, object, Type]:
        """(static slot, dynamic offset closure or None, declared type) of an lvalue."""
        if isinstance(e, Local):
            return frame.env.locals[e.name], None, e.type
        assert isinstance(e, Shared)
        base, strides = self.layout.shared[e.name]
        static, dynamic = key_index(e.keys, strides, frame.env, [10_000])
        return base + static, dynamic, e.type

    def statement(self, stmt: Stmt, frame: Frame, then: int, loop: tuple[int, int] | None) -> int:
        if not stmt.slow:
            return self.plain_statement(stmt, frame, then, loop)
        self.slow_depth += 1
        try:
            return self.plain_statement(stmt, frame, then, loop)
        finally:
            self.slow_depth -= 1

    def plain_statement(self, stmt: Stmt, frame: Frame, then: int, loop: tuple[int, int] | None) -> int:
        if isinstance(stmt, Assign):
            writes = [self.target(t, frame) for t in stmt.targets]
            values = [self.expr(v, frame) for v in stmt.values]
            visible = any(isinstance(t, Shared) for t in stmt.targets) or any(
                reads_state(x) for x in (*stmt.values, *stmt.targets))
            node = self.emit("assign", stmt, frame, writes=writes, values=values)
            self.nodes[node].visible = visible
            self.nodes[node].next = then
            return node
        if isinstance(stmt, Invoke):
            return self.invoke(stmt, frame, then)
        if isinstance(stmt, Return):
            if stmt.value is None:
                return frame.exit_node
            assert frame.result is not None or frame.proc.returns is not None
            if frame.result is None:  # the thread's own procedure: the value is dropped
                return frame.exit_node
            node = self.emit("assign", stmt, frame, writes=[frame.result], values=[self.expr(stmt.value, frame)])
            self.nodes[node].visible = reads_state(stmt.value) or frame.result[1] is not None or \
                frame.result[0] >= 0 and self.layout.slots[frame.result[0]].kind == SlotKind.SHARED
            self.nodes[node].next = frame.exit_node
            return node
        if isinstance(stmt, If):
            assert stmt.cond is not None
            node = self.emit("branch", stmt, frame, cond=self.expr(stmt.cond, frame))
            self.nodes[node].visible = reads_state(stmt.cond)
            self.nodes[node].next = self.block(stmt.then, frame, then, loop)
            self.nodes[node].alt = self.block(stmt.orelse, frame, then, loop)
            return node
        if isinstance(stmt, While):
            assert stmt.cond is not None
            head = self.jump()
            node = self.emit("branch", stmt, frame, cond=self.expr(stmt.cond, frame))
            self.nodes[node].visible = reads_state(stmt.cond)
            self.nodes[head].next = node
            self.nodes[node].next = self.block(stmt.body, frame, head, (then, head))
            self.nodes[node].alt = then
            return head
        if isinstance(stmt, ForEach):
            return self.for_each(stmt, frame, then)
        if isinstance(stmt, Either):
            targets = [(name, self.block(body, frame, then, loop)) for name, body in stmt.branches]
            return self.emit("choose", stmt, frame, branches=targets)
        if isinstance(stmt, Label):
            self.nodes[frame.labels[stmt.name]].next = then
            return frame.labels[stmt.name]
        if isinstance(stmt, Goto):
            return frame.labels[stmt.name]
        if isinstance(stmt, Break):
            assert loop is not None
            return loop[0]
        if isinstance(stmt, Continue):
            assert loop is not None
            return loop[1]
        if isinstance(stmt, Assert):
            assert stmt.cond is not None
            node = self.emit("assert", stmt, frame, cond=self.expr(stmt.cond, frame), name=stmt.name,
                             locals=dict(frame.env.locals))
            self.nodes[node].visible = reads_state(stmt.cond)
            self.nodes[node].next = then
            return node
        if isinstance(stmt, Await):
            assert stmt.cond is not None
            node = self.emit("await", stmt, frame, cond=self.expr(stmt.cond, frame), idle=stmt.idle)
            self.nodes[node].visible = True
            self.nodes[node].next = then
            return node
        if isinstance(stmt, ListOp):
            return self.list_op(stmt, frame, then)
        if isinstance(stmt, LockOp):
            return self.lock_op(stmt, frame, then, loop)
        if isinstance(stmt, Rcu):
            return self.rcu(stmt, frame, then)
        raise AssertionError(f"unknown statement {stmt!r}")

    def invoke(self, stmt: Invoke, frame: Frame, then: int) -> int:
        """Inline a call: an entry step (arguments, fresh locals), the body, then a reset of the frame."""
        proc = self.spec.procedure(stmt.proc)
        if len(frame.chain) >= MAX_CALL_DEPTH:
            raise CompileError(stmt.span, f"calls nest more than {MAX_CALL_DEPTH} deep ({' > '.join(frame.chain[:3])}"
                               " > ...)", "procedures are inlined: flatten the call chain")
        result = self.target(stmt.result, frame) if stmt.result is not None else None
        saved_top = self.top
        callee = self.new_frame(proc, frame.chain + (proc.name,), then, result)
        values = [self.expr(a, frame) for a in stmt.args]
        writes: list[tuple[int, None, Type | None]] = [(callee.env.locals[n], None, t) for n, t in proc.params]
        for name, t in callee.types.items():
            if name not in dict(proc.params):
                value = default_value(t)
                writes.append((callee.env.locals[name], None, None))  # a fresh local: no range check
                values.append(_always(value))
        reset = self.emit("reset", None, callee, slots=list(callee.slots))
        self.nodes[reset].next = then
        self.nodes[callee.exit_node].next = reset
        body = self.block(proc.body, callee, callee.exit_node, None)
        self.top = saved_top
        node = self.emit("assign", stmt, frame, writes=writes, values=values, call=proc.name,
                         params=[n for n, _ in proc.params])
        self.nodes[node].visible = any(reads_state(a) for a in stmt.args)
        self.nodes[node].next = body
        return node

    def for_each(self, stmt: ForEach, frame: Frame, then: int) -> int:
        assert stmt.source is not None
        cursor = frame.env.locals[stmt.var]
        source = stmt.source
        is_list = isinstance(source.type, ListT)
        visible = reads_state(source)
        entity = source.type.entity  # type: ignore[union-attr]
        advance = self.emit("loop_next", stmt, frame, cursor=cursor, source=self.expr(source, frame),
                            order=stmt.order, is_list=is_list, var=stmt.var, source_type=entity)
        start = self.emit("loop_start", stmt, frame, cursor=cursor, source=self.expr(source, frame),
                          order=stmt.order, is_list=is_list, var=stmt.var, source_type=entity)
        body = self.block(stmt.body, frame, advance, (then, advance))
        for node in (start, advance):
            self.nodes[node].visible = visible
            self.nodes[node].next = body
            self.nodes[node].alt = then
        return start

    def list_op(self, stmt: ListOp, frame: Frame, then: int) -> int:
        target = stmt.args[0]
        slot = self.target(target, frame)
        items = [self.expr(a, frame) for a in stmt.args[1:]]
        node = self.emit("listop", stmt, frame, fn=stmt.fn, slot=slot, items=items)
        self.nodes[node].visible = isinstance(target, Shared) or any(reads_state(a) for a in stmt.args)
        self.nodes[node].next = then
        return node

    def lock_op(self, stmt: LockOp, frame: Frame, then: int, loop: tuple[int, int] | None) -> int:
        assert isinstance(stmt.lock, LockRef)
        base, dynamic = lock_base(stmt.lock, frame.env)
        fail = self.block(stmt.on_fail, frame, then, loop) if stmt.on_fail is not None else -1
        node = self.emit("lock", stmt, frame, op=stmt.op, base=base, dyn=dynamic, lock=stmt.lock.name,
                         lock_kind=self.layout.lock_kinds[stmt.lock.name])
        self.nodes[node].visible = True
        self.nodes[node].alt = fail
        if LOCK_API[stmt.op].queues:
            wait = self.emit("lockwait", stmt, frame, op=stmt.op, base=base, dyn=dynamic, lock=stmt.lock.name)
            self.nodes[wait].visible = True
            self.nodes[wait].next = then
            self.nodes[wait].alt = fail
            self.nodes[node].data["wait"] = wait
        self.nodes[node].next = then
        return node

    def rcu(self, stmt: Rcu, frame: Frame, then: int) -> int:
        node = self.emit("rcu", stmt, frame, op=stmt.op)
        self.nodes[node].visible = True
        self.nodes[node].next = then
        if RCU_API[stmt.op].waits:
            wait = self.emit("gpwait", stmt, frame, op=stmt.op)
            self.nodes[wait].visible = True
            self.nodes[wait].next = then
            self.nodes[node].next = wait
        return node

    # -- jump elimination

    def resolve(self) -> None:
        """Point every edge past jump nodes; a cycle of jumps is a loop that never takes a step."""
        def follow(i: int) -> int:
            seen = set()
            while i >= 0 and self.nodes[i].kind == "jump":
                if i in seen:
                    raise CompileError(self.cycle_span(), "a loop that never takes a step",
                                       "give the loop a condition or a statement that reads state")
                seen.add(i)
                i = self.nodes[i].next
            return i
        for node in self.nodes:
            if node.kind == "jump":
                continue
            node.next = follow(node.next)
            node.alt = follow(node.alt)
            if node.kind == "choose":
                node.data["branches"] = [(n, follow(t)) for n, t in node.data["branches"]]
            if "wait" in node.data:
                node.data["wait"] = follow(node.data["wait"])
        self.entry_follow = follow

    def cycle_span(self) -> Span:
        for node in self.nodes:
            if node.stmt is not None:
                return node.stmt.span
        return Span(self.spec.files[0], 1, 1)


def _always(value: object) -> Fn:
    """A closure that ignores the state and gives `value`."""
    return lambda s: value


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
        elif isinstance(s, LockOp) and s.on_fail:
            nested = list(s.on_fail)
        stack.extend(reversed(nested))


__all__ = ["IR", "ThreadProgram", "CompileError", "default_value", "walk_statements", "EnumT"]
