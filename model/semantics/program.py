"""Inlining procedures into one control-flow graph per thread instance: typed IR nodes (ir.py).

Procedures are inlined at every call site, so a thread's program counter alone says where it is, and
each inlined frame has its own local slots, taken from a per-thread pool of slots of the same sort (a
local slot always holds values of one z3 sort). Jumps (goto, break, continue, return, calls) become
edges. Nodes keep expressions as data; nothing here compiles a closure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..lang.callbacks import NULL_CALL
from ..lang.errors import Span
from ..lang.expr import Compare, Const, Expr, Local, LockRef, Shared
from ..lang.lockapi import LOCK_API, RCU_API, RCU_LIST_OPS
from ..lang.rcucallbacks import head_var, instances
from ..lang.spec import (
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
    Rcu,
    Return,
    Spec,
    Stmt,
    WaitOp,
    While,
    walk_statements,
)
from ..lang.types import BOOL, BoolT, EnumT, IntT, ListT, RefT, SetT, Type
from . import ir
from .evaluate import THREADS, Env, reads_state
from .layout import Layout, Slot, SlotKind, local_sort

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
    result: ir.Place | None   # where a `return` writes, in the caller
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
        self.nodes: list[ir.Node] = []
        self.local_slots: list[int] = []
        self.slow_depth = 0         # > 0 while compiling a statement marked slow (and what it calls)
        # this thread's local slots per sort, each pool used as a stack by nested frames
        self.pool: dict[str, list[int]] = {}
        self.top: dict[str, int] = {}
        self.frames = 0
        # parameter bindings, for the proof engines' frame facts: (the callee's env, its parameter's slot, the
        # caller's slot passed or None, the constant passed); and each frame's env -> its caller's
        self.bindings: list[tuple[int, int, int | None, object]] = []
        self.callers: dict[int, int] = {}

    def emit(self, node: ir.Node, frame: Frame | None, then: int = -1) -> int:
        if len(self.nodes) >= MAX_NODES:
            raise CompileError(node.stmt.span if node.stmt is not None else self.cycle_span(),
                               f"thread {self.name}: inlining its procedures gives more than {MAX_NODES:,} steps",
                               "procedures are inlined at every call: call fewer procedures from loops and "
                               "from each other, or lower the bounds")
        node.slow = self.slow_depth > 0
        if frame is not None:
            node.frame, node.env = frame.chain, frame.env
        node.next = then
        self.nodes.append(node)
        return len(self.nodes) - 1

    def jump(self, target: int = -1) -> int:
        self.nodes.append(ir.Jump(next=target))
        return len(self.nodes) - 1

    # -- frames

    def local_slot(self, t: Type) -> int:
        """The next free local slot of `t`'s sort, added to the layout when the pool runs out."""
        sort = local_sort(t)
        pool = self.pool.setdefault(sort, [])
        top = self.top.get(sort, 0)
        if top == len(pool):
            shown = f"{self.name}.local{len(self.local_slots)}"
            slot = self.layout.add(Slot(shown, SlotKind.LOCAL, None, thread=self.tid, sort=sort))
            self.defaults[slot] = None
            pool.append(slot)
            self.local_slots.append(slot)
        self.top[sort] = top + 1
        return pool[top]

    def new_frame(self, proc: Procedure, chain: tuple[str, ...], return_to: int, result: ir.Place | None) -> Frame:
        """A frame's locals take the thread's next free pooled slots; sibling calls reuse them."""
        self.frames += 1
        slots: dict[str, int] = {}
        slot_list = []
        types: dict[str, Type] = {}
        for name, t in (*proc.params, *proc.locals, *self.loop_vars(proc)):
            if name in slots:
                continue
            slot = self.local_slot(t)
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
        end = self.emit(ir.End(), None)
        frame = self.new_frame(proc, (proc.name,), end, None)
        params = {frame.env.locals[n]: v for (n, _), v in zip(proc.params, args)}
        self.bindings += [(id(frame.env), slot, None, v) for slot, v in params.items()]
        self.initial_values = {slot: params.get(slot, default_value(frame.types[name]))
                               for name, slot in frame.env.locals.items()}
        reset = self.emit(ir.Reset(slots=tuple(frame.slots)), frame, end)
        self.nodes[frame.exit_node].next = reset
        return self.block(proc.body, frame, frame.exit_node, None)

    # -- statements (compiled back to front: each knows what follows it)

    def block(self, stmts: tuple[Stmt, ...], frame: Frame, then: int, loop: tuple[int, int] | None) -> int:
        for stmt in reversed(stmts):
            then = self.statement(stmt, frame, then, loop)
        return then

    @staticmethod
    def place(e: Expr, frame: Frame) -> ir.Place:
        """An lvalue resolved in the frame it is written in."""
        assert isinstance(e, (Local, Shared))
        return ir.Place(e, frame.env)

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
            visible = any(isinstance(t, Shared) for t in stmt.targets) or any(
                reads_state(x) for x in (*stmt.values, *stmt.targets))
            return self.emit(ir.Assign(stmt=stmt, writes=tuple(self.place(t, frame) for t in stmt.targets),
                                       values=tuple(stmt.values), visible=visible), frame, then)
        if isinstance(stmt, Invoke):
            return self.invoke(stmt, self.spec.procedure(stmt.proc), frame, then)
        if isinstance(stmt, IndirectCall):
            return self.indirect_call(stmt, frame, then)
        if isinstance(stmt, Return):
            if stmt.value is None or frame.result is None:  # the thread's own procedure drops the value
                assert stmt.value is None or frame.proc.returns is not None
                return frame.exit_node
            target = frame.result.target
            visible = reads_state(stmt.value) or isinstance(target, Shared)
            return self.emit(ir.Assign(stmt=stmt, writes=(frame.result,), values=(stmt.value,), visible=visible),
                             frame, frame.exit_node)
        if isinstance(stmt, If):
            assert stmt.cond is not None
            node = self.emit(ir.Branch(stmt=stmt, cond=stmt.cond, counted=True, visible=reads_state(stmt.cond)), frame)
            self.nodes[node].next = self.block(stmt.then, frame, then, loop)
            self.nodes[node].alt = self.block(stmt.orelse, frame, then, loop)
            return node
        if isinstance(stmt, While):
            assert stmt.cond is not None
            head = self.jump()
            node = self.emit(ir.Branch(stmt=stmt, cond=stmt.cond, visible=reads_state(stmt.cond)), frame)
            self.nodes[head].next = node
            self.nodes[node].next = self.block(stmt.body, frame, head, (then, head))
            self.nodes[node].alt = then
            return head
        if isinstance(stmt, ForEach):
            return self.for_each(stmt, frame, then)
        if isinstance(stmt, Either):
            targets = tuple((name, self.block(body, frame, then, loop)) for name, body in stmt.branches)
            return self.emit(ir.Choose(stmt=stmt, branches=targets), frame)
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
            return self.emit(ir.Check(stmt=stmt, cond=stmt.cond, name=stmt.name, visible=reads_state(stmt.cond)),
                             frame, then)
        if isinstance(stmt, Await):
            assert stmt.cond is not None
            return self.emit(ir.Await(stmt=stmt, cond=stmt.cond, idle=stmt.idle, sleeps=stmt.sleeps, visible=True),
                             frame, then)
        if isinstance(stmt, ListOp):
            visible = isinstance(stmt.args[0], Shared) or any(reads_state(a) for a in stmt.args)
            return self.emit(ir.ListEdit(stmt=stmt, fn=stmt.fn, place=self.place(stmt.args[0], frame),
                                         items=tuple(stmt.args[1:]), visible=visible), frame, then)
        if isinstance(stmt, LockOp):
            return self.lock_op(stmt, frame, then, loop)
        if isinstance(stmt, Rcu):
            return self.rcu(stmt, frame, then)
        if isinstance(stmt, Free):
            return self.emit(ir.Free(stmt=stmt, item=stmt.item, visible=True), frame, then)
        if isinstance(stmt, CallRcu):
            return self.call_rcu(stmt, frame, then)
        if isinstance(stmt, CallbackGrace):   # the callback thread's own grace period (call_rcu started it)
            return self.emit(ir.GraceWait(stmt=stmt, op="synchronize_rcu", visible=True), frame, then)
        if isinstance(stmt, CounterOp):
            return self.counter_op(stmt, frame, then, loop)
        if isinstance(stmt, WaitOp):
            return self.wait_op(stmt, frame, then, loop)
        raise AssertionError(f"unknown statement {stmt!r}")

    def invoke(self, stmt: Invoke | IndirectCall, proc: Procedure, frame: Frame, then: int) -> int:
        """Inline a call: an entry step (arguments, fresh locals), the body, then a reset of the frame."""
        if len(frame.chain) >= MAX_CALL_DEPTH:
            raise CompileError(stmt.span, f"calls nest more than {MAX_CALL_DEPTH} deep ({' > '.join(frame.chain[:3])}"
                               " > ...)", "procedures are inlined: flatten the call chain")
        result = self.place(stmt.result, frame) if stmt.result is not None else None
        saved_top = dict(self.top)
        callee = self.new_frame(proc, frame.chain + (proc.name,), then, result)
        writes = [ir.Place(Local(t, stmt.span, n), callee.env) for n, t in proc.params]
        values: list[Expr] = list(stmt.args)
        self.callers[id(callee.env)] = id(frame.env)
        for (name, _), arg in zip(proc.params, stmt.args):
            if isinstance(arg, Local) and arg.name in frame.env.locals:
                self.bindings.append((id(callee.env), callee.env.locals[name], frame.env.locals[arg.name], None))
            elif isinstance(arg, Const):
                self.bindings.append((id(callee.env), callee.env.locals[name], None, arg.value))
        for name, t in callee.types.items():
            if name not in dict(proc.params):   # a fresh local: its default, no range check
                writes.append(ir.Place(Local(t, stmt.span, name), callee.env, checked=False))
                values.append(Const(t, stmt.span, default_value(t)))
        reset = self.emit(ir.Reset(slots=tuple(callee.slots)), callee, then)
        self.nodes[callee.exit_node].next = reset
        body = self.block(proc.body, callee, callee.exit_node, None)
        self.top = saved_top
        return self.emit(ir.Assign(stmt=stmt, writes=tuple(writes), values=tuple(values), call=proc.name,
                                   params=tuple(n for n, _ in proc.params),
                                   visible=any(reads_state(a) for a in stmt.args)), frame, body)

    def indirect_call(self, stmt: IndirectCall, frame: Frame, then: int) -> int:
        """`o.slot(args)`: a switch on o, local steps like an `if` on a local, to the inlined call of each bound
        procedure (elements binding the same one share it); an unset slot or a null o is a runtime_safety
        violation, the kernel's call through a NULL pointer."""
        assert stmt.via is not None
        span, entity = stmt.span, stmt.entity
        by_target: dict[str, int] = {}
        for index, proc in enumerate(stmt.targets):
            by_target[proc] = by_target.get(proc, 0) | 1 << index
        if isinstance(stmt.via, Const):   # an element named: no switch
            assert isinstance(stmt.via.value, int)
            return self.dispatch(stmt, stmt.targets[stmt.via.value], 1 << stmt.via.value, frame, then)
        otherwise = self.null_call(stmt, f"{stmt.text}: '{stmt.via.name}' is null" if isinstance(stmt.via, Local)
                                   else f"{stmt.text}: null", frame)
        for proc, mask in reversed(by_target.items()):
            case = self.dispatch(stmt, proc, mask, frame, then)
            cond = Compare(BOOL, span, "in", stmt.via, Const(SetT(entity), span, mask))
            node = self.emit(ir.Branch(cond=cond, visible=False), frame)
            self.nodes[node].next, self.nodes[node].alt = case, otherwise
            otherwise = node
        return otherwise

    def dispatch(self, stmt: IndirectCall, proc: str, unset: int, frame: Frame, then: int) -> int:
        """The call of one bound procedure, or the violation of calling an unset slot."""
        if proc:
            return self.invoke(stmt, self.spec.procedure(proc), frame, then)
        elements = [n for i, n in enumerate(self.base_env.element_names[stmt.entity]) if unset >> i & 1]
        return self.null_call(stmt, f"{stmt.text}: {stmt.entity} {', '.join(elements)} "
                              f"{'has' if len(elements) == 1 else 'have'} no {stmt.slot} ({NULL_CALL})", frame)

    def null_call(self, stmt: IndirectCall, message: str, frame: Frame) -> int:
        return self.emit(ir.Check(stmt=stmt, cond=Const(BOOL, stmt.span, False), name="runtime_safety",
                                  message=message), frame)

    def for_each(self, stmt: ForEach, frame: Frame, then: int) -> int:
        source = stmt.source
        assert source is not None and isinstance(source.type, (ListT, SetT))
        nodes = [cls(stmt=stmt, cursor=frame.env.locals[stmt.var], source=source, order=stmt.order, var=stmt.var,
                     entity=source.type.entity, start=cls is ir.LoopStart, visible=reads_state(source) or stmt.rcu,
                     rcu=stmt.rcu)
                 for cls in (ir.LoopStep, ir.LoopStart)]
        advance, start = (self.emit(node, frame) for node in nodes)
        body = self.block(stmt.body, frame, advance, (then, advance))
        for node in nodes:
            node.next, node.alt = body, then
        return start

    def lock_op(self, stmt: LockOp, frame: Frame, then: int, loop: tuple[int, int] | None) -> int:
        assert isinstance(stmt.lock, LockRef)
        fail = self.block(stmt.on_fail, frame, then, loop) if stmt.on_fail is not None else -1
        call = ir.LockCall(stmt=stmt, op=stmt.op, lock=stmt.lock, visible=True,
                           lock_kind=self.layout.lock_kinds[stmt.lock.name])
        node = self.emit(call, frame, then)
        call.alt = fail
        if LOCK_API[stmt.op].queues:
            call.wait = self.emit(ir.LockWait(stmt=stmt, op=stmt.op, lock=stmt.lock, visible=True), frame, then)
            self.nodes[call.wait].alt = fail
        return node

    def counter_op(self, stmt: CounterOp, frame: Frame, then: int, loop: tuple[int, int] | None) -> int:
        """One step on the counter; a false result (or a killed or timed-out wait) goes to on_fail:."""
        assert stmt.target is not None
        fail = self.block(stmt.on_fail, frame, then, loop) if stmt.on_fail is not None else then
        result = self.place(stmt.result, frame) if stmt.result is not None else None
        call = ir.CounterCall(stmt=stmt, op=stmt.op, place=self.place(stmt.target, frame), value=stmt.value,
                              result=result, visible=True)
        node = self.emit(call, frame, then)
        call.alt = fail
        return node

    def wait_op(self, stmt: WaitOp, frame: Frame, then: int, loop: tuple[int, int] | None) -> int:
        """One step on the wait queue; a killed or timed-out wait with the condition false goes to on_fail:."""
        fail = self.block(stmt.on_fail, frame, then, loop) if stmt.on_fail is not None else then
        place = self.place(stmt.queue, frame) if stmt.queue is not None else None
        call = ir.WaitCall(stmt=stmt, op=stmt.op, place=place, cond=stmt.cond, visible=True)
        node = self.emit(call, frame, then)
        call.alt = fail
        return node

    def call_rcu(self, stmt: CallRcu, frame: Frame, then: int) -> int:
        """call_rcu() / kfree_rcu(): the rcu_head's slot, and the grace-period slot of the thread that runs the
        callback (per element of the object's entity)."""
        names = self.base_env.element_names
        decl = next(d for d in self.spec.rcu_callbacks if d.name == stmt.name)
        threads = instances(decl, names[decl.entity] if decl.entity else ())
        gp = tuple(self.layout.gp_wait[names[THREADS].index(t)] for t in threads)
        head = Shared(next(v.type for v in self.spec.vars if v.name == head_var(stmt.name)), stmt.span,
                      head_var(stmt.name), (stmt.item,) if decl.entity and stmt.item is not None else ())
        return self.emit(ir.CallRcu(stmt=stmt, head=self.place(head, frame), item=stmt.item, gp=gp, kfree=stmt.kfree,
                                    visible=True), frame, then)

    def rcu(self, stmt: Rcu, frame: Frame, then: int) -> int:
        node = self.emit(ir.RcuCall(stmt=stmt, op=stmt.op, domain=stmt.domain, visible=True), frame, then)
        if stmt.op == "rcu_barrier" and self.spec.rcu_idle is not None:   # waits for every callback queued
            self.nodes[node].next = self.emit(ir.Await(stmt=stmt, cond=self.spec.rcu_idle, sleeps=False, visible=True),
                                              frame, then)
        elif RCU_API[stmt.op].waits:
            self.nodes[node].next = self.emit(ir.GraceWait(stmt=stmt, op=stmt.op, domain=stmt.domain, visible=True),
                                              frame, then)
        return node

    # -- jump elimination

    def frame_facts(self) -> tuple[tuple[frozenset[int], int, int | None, object], ...]:
        """Per parameter binding, the program points inside the call (its frame or one it calls), the
        parameter's slot, and the caller's slot or the constant passed: candidate facts (`param == arg`
        there) for the proof engines' Houdini, which keeps those no step breaks."""
        inside: dict[int, set[int]] = {}
        for pc, node in enumerate(self.nodes):
            env = id(node.env) if node.env is not None else None
            while env is not None:
                inside.setdefault(env, set()).add(pc)
                env = self.callers.get(env)
        return tuple((frozenset(inside.get(env, ())), param, slot, value)
                     for env, param, slot, value in self.bindings if inside.get(env))

    def resolve(self) -> None:
        """Point every edge past jump nodes; a cycle of jumps is a loop that never takes a step."""
        def follow(i: int) -> int:
            seen = set()
            while i >= 0 and isinstance(self.nodes[i], ir.Jump):
                if i in seen:
                    raise CompileError(self.cycle_span(), "a loop that never takes a step",
                                       "give the loop a condition or a statement that reads state")
                seen.add(i)
                i = self.nodes[i].next
            return i
        for node in self.nodes:
            if isinstance(node, ir.Jump):
                continue
            node.next = follow(node.next)
            node.alt = follow(node.alt)
            if isinstance(node, ir.Choose):
                node.branches = tuple((n, follow(t)) for n, t in node.branches)
            if isinstance(node, ir.LockCall) and node.wait >= 0:
                node.wait = follow(node.wait)
        self.entry_follow = follow

    def cycle_span(self) -> Span:
        for node in self.nodes:
            if node.stmt is not None:
                return node.stmt.span
        return Span(self.spec.files[0], 1, 1)


def rcu_list_names(statements: Iterable[Stmt]) -> list[str]:
    """The RCU lists: the state lists a list_*_rcu statement or list_for_each_entry_rcu names, first use first."""
    names: dict[str, None] = {}
    for s in statements:
        target = s.args[0] if isinstance(s, ListOp) and s.fn in RCU_LIST_OPS else \
            s.source if isinstance(s, ForEach) and s.rcu else None
        if isinstance(target, Shared):
            names[target.name] = None
    return list(names)


def locals_in_use(nodes: Sequence[ir.Node]) -> list[frozenset[int]]:
    """Per program point of a thread, the local slots in use there: those of every frame on its call chain
    (a frame's slots are fixed by the chain, since nested frames take each sort's pool as a stack). Every
    other local slot is None in a state whose program counter is that point (ir.Reset clears a frame's)."""
    return [frozenset(named.values()) | hidden for named, hidden in _locals_at(nodes)]


def locals_named(nodes: Sequence[ir.Node]) -> list[dict[str, int]]:
    """Per program point of a thread, each local name there and its slot: the innermost frame on the call
    chain that declares the name (lemmas' local(THREAD, NAME))."""
    return [named for named, _ in _locals_at(nodes)]


def _frames(nodes: Sequence[ir.Node]) -> dict[tuple[str, ...], dict[str, int]]:
    """Per call chain, the names its frame declares and their slots."""
    frames: dict[tuple[str, ...], dict[str, int]] = {}
    for node in nodes:
        if node.frame and node.env is not None:
            frames.setdefault(node.frame, {}).update(node.env.locals)
    return frames


def locals_by_frame(nodes: Sequence[ir.Node]) -> list[dict[str, int]]:
    """Per program point, each local as `PROC.NAME` and its slot, for every frame on the call chain (the
    innermost frame of a procedure on it twice); lemmas' local(THREAD, PROC.NAME)."""
    frames = _frames(nodes)
    out = []
    for node in nodes:
        named: dict[str, int] = {}
        for j in range(1, len(node.frame) + 1):
            for name, slot in frames.get(node.frame[:j], {}).items():
                named[f"{node.frame[j - 1]}.{name}"] = slot
        out.append(named)
    return out


def _locals_at(nodes: Sequence[ir.Node]) -> list[tuple[dict[str, int], frozenset[int]]]:
    """Per program point: (name -> slot as the innermost frame declaring it resolves it, the slots of names
    an inner frame hides)."""
    frames = _frames(nodes)
    out = []
    for node in nodes:
        named: dict[str, int] = {}
        hidden: set[int] = set()
        for j in range(1, len(node.frame) + 1):
            for name, slot in frames.get(node.frame[:j], {}).items():
                if name in named:
                    hidden.add(named[name])
                named[name] = slot
        out.append((named, frozenset(hidden)))
    return out


__all__ = ["ThreadProgram", "CompileError", "default_value", "locals_by_frame", "locals_in_use", "locals_named",
           "rcu_list_names", "walk_statements", "EnumT"]
