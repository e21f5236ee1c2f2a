"""The z3 meaning of expressions: the reference semantics the fast evaluator is checked against.

Every state slot is a z3 constant (Bool, Int, BitVec for sets, a bounded list record for lists and wait
queues: smtlist.py), so a property is a formula over the state vector; the symbolic engines use the same
encoding.

Partial operations (a null index, next()/prev() of an element not on the list, null in a set literal)
get a value z3 chooses freely; `defined` is the side condition under which an expression evaluates
without such an error, following the fast evaluator's order: left to right, and `and`, `or`,
`A if C else B`, `all`/`any` and `x in SET` stop as soon as the result is known (docs/semantics.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import reduce
from typing import TYPE_CHECKING

import z3

from ..lang.expr import (
    ANY_HOLDER,
    LOCK_PREDICATES,
    At,
    Binary,
    BoolOp,
    Bound,
    Call,
    Compare,
    Const,
    Expr,
    HeldBy,
    IfExp,
    ListLit,
    Local,
    LockRef,
    Quant,
    Running,
    SetLit,
    Shared,
    ThreadLocal,
    Unary,
    children,
    walk,
)
from ..lang.types import BoolT, EnumT, IntT, ListT, NullT, RefT, SetT, Type
from . import smtlist
from .discipline import spec_expressions
from .layout import Layout, SlotKind, local_sort, sort_type
from .locks import READ_BITS

if TYPE_CHECKING:
    from .places import ThreadPlaces

class SmtEncoder:
    """z3 terms for expressions over one layout; slot constants are created once and reused."""

    def __init__(self, layout: Layout, entity_sizes: Mapping[str, int],
                 positions: Mapping[str, tuple[tuple[int, frozenset[int]], ...]] | None = None, frame: str = "",
                 places: Mapping[str, ThreadPlaces] | None = None, list_room: Mapping[str, int] | None = None):
        """`frame` tells apart the constants of two time frames (the state before a step, and after it:
        frame="'"); properties use the unnamed one. `list_room`: the room lists need past their entity's
        size (`list_room`, below)."""
        self.layout = layout
        self.frame = frame
        self.sizes = entity_sizes
        self.room = list_room or {}
        self.positions = positions or {}
        self.places = places or {}   # thread instance -> its places, for at() and held_by() (lemmas)
        self.consts: dict[int, z3.ExprRef] = {}
        self.local_consts: dict[tuple[int, str], z3.ExprRef] = {}
        self.literals: dict[tuple[int, object], z3.ExprRef] = {}   # (slot, value) -> its z3 literal

    # -- state slots

    def width(self, entity: str) -> int:
        return max(1, self.sizes[entity])

    def capacity(self, entity: str) -> int:
        """How many items a list of `entity`'s elements holds at most (`list_room`); 0 for the entity-less
        empty display `[]`, which grows to the list it is stored in or compared with."""
        return self.sizes.get(entity, 0) + self.room.get(entity, 0)

    def slot(self, index: int) -> z3.ExprRef:
        c = self.consts.get(index)
        if c is None:
            info = self.layout.slots[index]
            name = f"s{index}:{info.name}{self.frame}"
            c = self.consts[index] = z3.Const(name, self.sort(index))
        return c

    def sort(self, index: int) -> z3.SortRef:
        """The z3 sort of a slot: from its type, or for a local from the sort of its pool."""
        info = self.layout.slots[index]
        t, sort = info.type, info.sort
        if isinstance(t, BoolT) or sort == "bool":
            return z3.BoolSort()
        if isinstance(t, SetT):
            return z3.BitVecSort(self.width(t.entity))
        if sort.startswith("set<"):
            return z3.BitVecSort(self.width(sort[4:-1]))
        if info.kind == SlotKind.LOCK_QUEUE:   # one entry per waiting thread
            return smtlist.list_sort(len(self.layout.pc))
        if isinstance(t, ListT):
            return smtlist.list_sort(self.capacity(t.entity))
        if sort.startswith("list<"):
            return smtlist.list_sort(self.capacity(sort[5:-1]))
        return z3.IntSort()

    def local(self, index: int, t: Type) -> z3.ExprRef:
        """A local slot as a z3 constant of its declared type: the slot's own constant when the slot is
        typed (of `t`'s sort), else one constant per (slot, type)."""
        info = self.layout.slots[index]
        if info.kind == SlotKind.LOCAL and info.sort == local_sort(t):
            return self.slot(index)
        key = (index, str(t))
        c = self.local_consts.get(key)
        if c is None:
            name = f"l{index}:{t}"
            if isinstance(t, BoolT):
                c = z3.Bool(name)
            elif isinstance(t, SetT):
                c = z3.BitVec(name, self.width(t.entity))
            elif isinstance(t, ListT):
                c = z3.Const(name, smtlist.list_sort(self.capacity(t.entity)))
            else:
                c = z3.Int(name)
            self.local_consts[key] = c
        return c

    def unused(self, index: int) -> z3.ExprRef:
        """The value a local slot reads as where no frame uses it: null, 0, false, empty."""
        sort = self.sort(index)
        if sort == z3.BoolSort():
            return z3.BoolVal(False)
        if isinstance(sort, z3.BitVecSortRef):
            return z3.BitVecVal(0, sort.size())
        if smtlist.is_list(sort):
            return smtlist.literal((), smtlist.capacity(sort))
        return z3.IntVal(-1 if isinstance(sort_type(self.layout.slots[index].sort), RefT) else 0)

    def value(self, index: int, v: object) -> z3.ExprRef:
        """The z3 literal of a concrete slot value, made once per (slot, value): the same few values recur
        in every state a property is decided on."""
        literal = self.literals.get((index, v))
        if literal is None:
            literal = self.literals[(index, v)] = self._literal(index, v)
        return literal

    def _literal(self, index: int, v: object) -> z3.ExprRef:
        sort = self.sort(index)
        if sort == z3.BoolSort():
            return z3.BoolVal(bool(v))
        if isinstance(sort, z3.BitVecSortRef):
            return z3.BitVecVal(int(v), sort.size())  # type: ignore[call-overload]
        if smtlist.is_list(sort):
            return smtlist.literal(v, smtlist.capacity(sort))  # type: ignore[arg-type]
        return z3.IntVal(int(v))  # type: ignore[call-overload]

    # -- expressions

    def term(self, e: Expr, locals_: Mapping[str, int] | None = None, bound: Mapping[str, int] | None = None,
             tid: int = -1) -> z3.ExprRef:
        """The value of `e`; `tid` is the current thread (held()), -1 in properties."""
        return _Translator(self, locals_ or {}, dict(bound or {}), tid).term(e)

    def defined(self, e: Expr, locals_: Mapping[str, int] | None = None, bound: Mapping[str, int] | None = None,
                tid: int = -1) -> z3.ExprRef:
        """When evaluating `e` applies no partial operation outside its domain (simplified)."""
        return z3.simplify(_Translator(self, locals_ or {}, dict(bound or {}), tid).defined(e))

    def index(self, keys: tuple[Expr, ...], strides: tuple[int, ...], locals_: Mapping[str, int] | None = None,
              tid: int = -1) -> z3.ExprRef:
        """The offset `sum(key * stride)` of an indexed slot (see `defined` for a null key)."""
        return _Translator(self, locals_ or {}, {}, tid).index_term(keys, strides)

    def keys_defined(self, keys: tuple[Expr, ...], locals_: Mapping[str, int] | None = None,
                     tid: int = -1) -> z3.ExprRef:
        """When every index of an indexed slot or lock evaluates and none is null."""
        return _Translator(self, locals_ or {}, {}, tid).keys_defined(keys)

    def decide(self, formula: z3.ExprRef, state: Sequence, slots: Sequence[int]) -> bool | None:
        """The truth of a formula in a concrete state: True, False, or None when z3 answers unknown."""
        pairs = [(self.slot(i), self.value(i, state[i])) for i in slots]
        concrete = z3.simplify(z3.substitute(formula, *pairs)) if pairs else z3.simplify(formula)
        if z3.is_true(concrete):
            return True
        if z3.is_false(concrete):
            return False
        solver = z3.Solver()
        solver.set("random_seed", 0)
        solver.set("timeout", 10_000)
        solver.add(z3.Not(concrete))
        answer = solver.check()
        if answer == z3.unsat:
            return True
        if answer == z3.sat:
            solver2 = z3.Solver()
            solver2.set("timeout", 10_000)
            solver2.add(concrete)
            if solver2.check() == z3.unsat:
                return False
        return None


def list_room(system: object) -> dict[str, int]:
    """Per entity, how many items a list of its elements may hold past the entity's size. list_add refuses
    an element already on the list, so only a list display (`[a, b]`, or an initial value) can repeat
    one: a list holds at most size + (the longest display of the entity's elements - 1) items."""
    longest: dict[str, int] = {}

    def seen(t: object, count: int) -> None:
        if isinstance(t, ListT) and count > 1:
            longest[t.entity] = max(longest.get(t.entity, 0), count - 1)

    for _, root in spec_expressions(system):
        for e in walk(root):
            if isinstance(e, ListLit):
                seen(e.type, len(e.items))
            elif isinstance(e, Const) and isinstance(e.value, tuple):
                seen(e.type, len(e.value))
    for var in system.spec.vars:   # type: ignore[attr-defined]
        for v in var.init:
            if isinstance(v, tuple):
                seen(var.type, len(v))
    return longest


class _Translator:
    def __init__(self, enc: SmtEncoder, locals_: Mapping[str, int], bound: dict[str, int], tid: int):
        self.enc = enc
        self.locals = locals_
        self.bound = bound
        self.tid = tid

    def const(self, e: Const) -> z3.ExprRef:
        t, v = e.type, e.value
        if isinstance(t, BoolT):
            return z3.BoolVal(bool(v))
        if isinstance(t, SetT):
            return z3.BitVecVal(int(v), self.enc.width(t.entity))  # type: ignore[call-overload]
        if isinstance(t, ListT):
            return smtlist.literal(v, self.enc.capacity(t.entity))  # type: ignore[arg-type]
        return z3.IntVal(int(v))  # type: ignore[call-overload]

    def term(self, e: Expr) -> z3.ExprRef:
        if isinstance(e, Const):
            return self.const(e)
        if isinstance(e, Bound):
            return z3.IntVal(self.bound[e.name])
        if isinstance(e, Local):
            return self.enc.local(self.locals[e.name], e.type)
        if isinstance(e, Shared):
            return self.shared(e)
        if isinstance(e, Unary):
            assert e.arg is not None
            a = self.term(e.arg)
            return z3.Not(a) if e.op == "not" else -a
        if isinstance(e, Binary):
            assert e.left is not None and e.right is not None
            a, b = self.term(e.left), self.term(e.right)
            if isinstance(e.type, SetT):
                return {"|": lambda: a | b, "&": lambda: a & b, "-": lambda: a & ~b}[e.op]()
            return a + b if e.op == "+" else a - b
        if isinstance(e, Compare):
            return self.compare(e)
        if isinstance(e, BoolOp):
            items = [self.term(i) for i in e.items]
            return z3.And(*items) if e.op == "and" else z3.Or(*items)
        if isinstance(e, IfExp):
            assert e.cond is not None and e.then is not None and e.orelse is not None
            return z3.If(self.term(e.cond), *smtlist.same(self.term(e.then), self.term(e.orelse)))
        if isinstance(e, Running):
            return self.running(e)
        if isinstance(e, At):   # PlaceError for a place that is no statement of the thread
            where = self.enc.places[e.thread]
            pcs = sorted({pc for place in e.places for pc in where.pcs(place)})
            return z3.Or(*[self.enc.slot(where.pcslot) == pc for pc in pcs])
        if isinstance(e, ThreadLocal):   # its slot where it is in use; elsewhere the unused value
            where = self.enc.places[e.thread]
            uses = where.local(e.name)
            pc = self.enc.slot(where.pcslot)
            out = self.enc.unused(uses[0][1])
            for at, slot in uses:
                out = z3.If(pc == at, self.enc.slot(slot), out)
            return out
        if isinstance(e, HeldBy):
            assert isinstance(e.arg, LockRef)
            owner, readers = self.lock_slots(e.arg)
            tid = self.enc.places[e.thread].tid
            if e.mode == "read":   # READ_BITS of read holds per thread
                assert readers is not None
                return (readers / (1 << (READ_BITS * tid))) % (1 << READ_BITS) >= 1
            if e.mode == "queued":   # an entry tid * 2 + is_writer among the queue's used items
                queue = self.lock_slot(e.arg, 2)
                used = smtlist.length(queue)
                return z3.Or(*[z3.And(k < used, item / 2 == tid) for k, item in enumerate(smtlist.items(queue))])
            return owner == tid
        if isinstance(e, Call):
            return self.call(e)
        if isinstance(e, Quant):
            return self.quant(e)
        if isinstance(e, SetLit):
            assert isinstance(e.type, SetT)
            width = self.enc.width(e.type.entity)
            zero = z3.BitVecVal(0, width)
            parts = [self.element_bit(self.term(i), width) for i in e.items]
            return reduce(lambda x, y: x | y, parts, zero)
        if isinstance(e, ListLit):
            assert isinstance(e.type, ListT)
            return smtlist.of([self.term(i) for i in e.items], self.enc.capacity(e.type.entity))
        raise AssertionError(f"no z3 meaning for {e!r}")

    def element_bit(self, x: z3.ExprRef, width: int) -> z3.ExprRef:
        out = z3.BitVecVal(0, width)
        for i in reversed(range(width)):
            out = z3.If(x == i, z3.BitVecVal(1 << i, width), out)
        return out

    def index_term(self, keys: tuple[Expr, ...], strides: tuple[int, ...]) -> z3.ExprRef:
        """`sum(key * stride)` where every key is one of its type's values, -1 where one is not (null): as
        if-then-else over the keys' values when each key's type bounds them (no arithmetic, so nothing for
        the bit-vector translation of bounded model checking to watch for overflow), else as the sum. Keys
        index a per-entity array, so their types are entities."""
        terms = [self.term(k) for k in keys]
        sizes = [self.key_size(k.type) for k in keys]
        if any(size is None for size in sizes):
            total = z3.IntVal(0)
            for t, st in zip(terms, strides):
                total = total + t * st
            return z3.simplify(total)

        def offset(j: int, at: int) -> z3.ExprRef:
            if j == len(terms):
                return z3.IntVal(at)
            size = sizes[j]
            assert size is not None
            out: z3.ExprRef = z3.IntVal(-1)
            for v in reversed(range(size)):
                out = z3.If(terms[j] == v, offset(j + 1, at + v * strides[j]), out)
            return out
        return z3.simplify(offset(0, 0))

    def key_size(self, t: Type) -> int | None:
        """How many values an index of type `t` takes (an entity's elements: 0 to size - 1), None when its
        type does not say."""
        return self.enc.sizes.get(t.entity) if isinstance(t, RefT) else None

    def select(self, base: int, count: int, index: z3.ExprRef) -> z3.ExprRef:
        """Slot `base + index` of `count`; an index out of range (null: `defined` is false) picks the last."""
        if z3.is_int_value(index) and 0 <= index.as_long() < count:
            return self.enc.slot(base + index.as_long())
        out = self.enc.slot(base + count - 1)
        for i in reversed(range(count - 1)):
            out = z3.If(index == i, self.enc.slot(base + i), out)
        return out

    def shared(self, e: Shared) -> z3.ExprRef:
        base, strides = self.enc.layout.shared[e.name]
        if not e.keys:
            return self.enc.slot(base)
        count = sum(1 for s in self.enc.layout.slots if s.var == e.name and s.kind == SlotKind.SHARED)
        return self.select(base, count, self.index_term(e.keys, strides))

    def compare(self, e: Compare) -> z3.ExprRef:
        assert e.left is not None and e.right is not None
        a, b = self.term(e.left), self.term(e.right)
        if e.op == "in":
            rt = e.right.type
            if isinstance(rt, SetT):
                width = self.enc.width(rt.entity)
                return z3.Or(*[z3.And(a == i, z3.Extract(i, i, b) == 1) for i in range(width)])
            return smtlist.contains(b, a)
        if e.op == "==":
            if isinstance(e.left.type, NullT) and isinstance(e.right.type, NullT):
                return z3.BoolVal(True)
            a, b = smtlist.same(a, b)
            return a == b
        return {"<": lambda: a < b, "<=": lambda: a <= b, ">": lambda: a > b, ">=": lambda: a >= b}[e.op]()

    def lock_slots(self, lock: LockRef) -> tuple[z3.ExprRef, z3.ExprRef | None]:
        """The lock instance's owner (an rwsem's writer) and, for an rwsem, its read holds."""
        width = self.enc.layout.locks[lock.name][1]
        return self.lock_slot(lock, 0), self.lock_slot(lock, 1) if width == 3 else None

    def lock_slot(self, lock: LockRef, offset: int) -> z3.ExprRef:
        """One slot of the lock instance: 0 the owner or writer; an rwsem's 1 read holds, 2 wait queue."""
        base, width, strides = self.enc.layout.locks[lock.name]
        count = sum(1 for s in self.enc.layout.slots if s.var == lock.name and s.kind == SlotKind.LOCK_OWNER)
        index = self.index_term(lock.keys, tuple(st // width for st in strides)) if lock.keys else z3.IntVal(0)
        if z3.is_int_value(index) and 0 <= index.as_long() < count:
            return self.enc.slot(base + index.as_long() * width + offset)
        out = self.enc.slot(base + (count - 1) * width + offset)
        for i in reversed(range(count - 1)):
            out = z3.If(index == i, self.enc.slot(base + i * width + offset), out)
        return out

    def running(self, e: Running) -> z3.ExprRef:
        table = self.enc.positions[e.proc]
        return z3.Sum(*[z3.If(z3.Or(*[self.enc.slot(slot) == pc for pc in sorted(pcs)]), 1, 0)
                        for slot, pcs in table if pcs]) if any(pcs for _, pcs in table) else z3.IntVal(0)

    def call(self, e: Call) -> z3.ExprRef:
        fn = e.fn
        if fn in LOCK_PREDICATES:
            return self.lock_predicate(e)
        args = [self.term(a) for a in e.args]
        x = args[0]
        t0 = e.args[0].type
        if fn in ("min", "max"):
            y = args[1]
            return z3.If(x <= y, x, y) if fn == "min" else z3.If(x >= y, x, y)
        if fn == "len":
            if isinstance(t0, SetT):
                width = self.enc.width(t0.entity)
                return z3.Sum(*[z3.If(z3.Extract(i, i, x) == 1, 1, 0) for i in range(width)])
            return smtlist.length(x)
        if fn == "empty":
            if isinstance(t0, SetT):
                return x == 0
            return smtlist.length(x) == 0
        n = smtlist.length(x)
        first, last = smtlist.at(x, z3.IntVal(0)), smtlist.at(x, n - 1)   # -1 when empty
        if fn == "first":
            return first
        if fn == "last":
            return last
        y = args[1]
        at = smtlist.index(x, y)
        if fn == "index":
            return at
        if fn == "next":
            return z3.If(y == -1, first, smtlist.at(x, at + 1))
        if fn == "prev":
            return z3.If(y == -1, last, z3.If(at > 0, smtlist.at(x, at - 1), -1))
        at2 = smtlist.index(x, args[2])
        return z3.And(at >= 0, at2 >= 0, at < at2)

    def lock_predicate(self, e: Call) -> z3.ExprRef:
        """locked() and friends (held by anyone), held() and friends (held by thread `tid`)."""
        lock = e.args[0]
        assert isinstance(lock, LockRef)
        owner, readers = self.lock_slots(lock)
        fn = e.fn
        if fn in ANY_HOLDER:
            if fn == "read_locked":
                return z3.BoolVal(False) if readers is None else readers != 0
            if fn == "write_locked" or readers is None:
                return owner != -1
            return z3.Or(owner != -1, readers != 0)
        assert self.tid >= 0, "held() has a meaning only for a current thread"
        mine = owner == self.tid
        if fn == "held_write" or readers is None:
            return mine
        reading = (readers / (1 << (READ_BITS * self.tid))) % (1 << READ_BITS) != 0
        return reading if fn == "held_read" else z3.Or(mine, reading)

    def quant(self, e: Quant) -> z3.ExprRef:
        assert e.domain is not None and e.body is not None
        dtype = e.domain.type
        assert isinstance(dtype, (SetT, ListT))
        dom = self.term(e.domain)
        parts = []
        for i in range(self.enc.sizes[dtype.entity]):
            if isinstance(dtype, SetT):
                guard = z3.Extract(i, i, dom) == 1
            else:
                guard = smtlist.contains(dom, z3.IntVal(i))
            self.bound[e.var] = i
            conds = [guard] + ([self.term(e.cond)] if e.cond is not None else [])
            body = self.term(e.body)
            parts.append((z3.And(*conds), body))
        self.bound.pop(e.var, None)
        if e.kind == "all":
            return z3.And(*[z3.Implies(g, b) for g, b in parts]) if parts else z3.BoolVal(True)
        if e.kind == "any":
            return z3.Or(*[z3.And(g, b) for g, b in parts]) if parts else z3.BoolVal(False)
        if e.kind == "count":
            return z3.Sum(*[z3.If(z3.And(g, b), 1, 0) for g, b in parts]) if parts else z3.IntVal(0)
        return z3.Sum(*[z3.If(g, b, 0) for g, b in parts]) if parts else z3.IntVal(0)

    # -- definedness

    def defined(self, e: Expr) -> z3.ExprRef:
        """When evaluating `e` the way model/semantics/evaluate.py does raises no error (docs/semantics.md, "Partial
        operations"): strict operations need every operand defined; `and`, `or`, `if`, `all`, `any` and
        `x in SET` only the operands they evaluate."""
        if isinstance(e, (Const, Bound, Local)):
            return z3.BoolVal(True)
        if isinstance(e, ThreadLocal):   # always (null, 0, false or empty where no frame declaring it runs)
            self.enc.places[e.thread].local(e.name)   # PlaceError: the thread never has it
            return z3.BoolVal(True)
        if isinstance(e, (Shared, LockRef)):
            return self.keys_defined(e.keys)
        if isinstance(e, BoolOp):
            return self.sequence_defined(e.items, stop_at=e.op == "or")
        if isinstance(e, IfExp):
            assert e.cond is not None and e.then is not None and e.orelse is not None
            return z3.And(self.defined(e.cond), z3.If(self.term(e.cond), self.defined(e.then), self.defined(e.orelse)))
        if isinstance(e, Compare) and e.op == "in" and e.right is not None and isinstance(e.right.type, SetT):
            assert e.left is not None
            return z3.And(self.defined(e.left), z3.Implies(self.term(e.left) != -1, self.defined(e.right)))
        if isinstance(e, Call):
            return self.call_defined(e)
        if isinstance(e, Quant):
            return self.quant_defined(e)
        parts = [self.defined(x) for x in children(e)]
        if isinstance(e, SetLit):
            parts += [self.term(x) != -1 for x in e.items]
        return z3.And(*parts) if parts else z3.BoolVal(True)

    def keys_defined(self, keys: tuple[Expr, ...]) -> z3.ExprRef:
        """Every index evaluates and none is null."""
        return z3.And(*[z3.And(self.defined(k), self.term(k) != -1) for k in keys]) if keys else z3.BoolVal(True)

    def sequence_defined(self, items: tuple[Expr, ...], stop_at: bool) -> z3.ExprRef:
        """Conditions evaluated in order until one is `stop_at` (`or` stops at true, `and` at false)."""
        out: list[z3.ExprRef] = []
        reached: list[z3.ExprRef] = []
        for item in items:
            out.append(z3.Implies(z3.And(*reached), self.defined(item)) if reached else self.defined(item))
            value = self.term(item)
            reached.append(z3.Not(value) if stop_at else value)
        return z3.And(*out)

    def call_defined(self, e: Call) -> z3.ExprRef:
        if e.fn in LOCK_PREDICATES:
            lock = e.args[0]
            assert isinstance(lock, LockRef)
            return self.keys_defined(lock.keys)
        parts = [self.defined(a) for a in e.args]
        if e.fn in ("next", "prev"):
            items, x = self.term(e.args[0]), self.term(e.args[1])
            parts.append(z3.Or(x == -1, smtlist.contains(items, x)))
        return z3.And(*parts) if parts else z3.BoolVal(True)

    def quant_defined(self, e: Quant) -> z3.ExprRef:
        """The domain (unless constant) once there is an element to test, then each element in index order
        until all() meets a false body or any() a true one; a filter guards its body."""
        assert e.domain is not None and e.body is not None
        dtype = e.domain.type
        assert isinstance(dtype, (SetT, ListT))
        size = self.enc.sizes[dtype.entity]
        if size == 0:
            return z3.BoolVal(True)
        dom = self.term(e.domain)
        out = [self.defined(e.domain)]
        reached: list[z3.ExprRef] = []   # the elements before this one did not decide all()/any()
        for i in range(size):
            member = z3.Extract(i, i, dom) == 1 if isinstance(dtype, SetT) else smtlist.contains(dom, z3.IntVal(i))
            self.bound[e.var] = i
            if e.cond is None:
                selected, element_ok = member, self.defined(e.body)
            else:
                cond = self.term(e.cond)
                selected = z3.And(member, cond)
                element_ok = z3.And(self.defined(e.cond), z3.Implies(cond, self.defined(e.body)))
            out.append(z3.Implies(z3.And(*reached, member), element_ok))
            if e.kind in ("all", "any"):
                body = self.term(e.body)
                reached.append(z3.Not(z3.And(selected, z3.Not(body) if e.kind == "all" else body)))
        self.bound.pop(e.var, None)
        return z3.And(*out)


__all__ = ["SmtEncoder", "IntT", "EnumT", "RefT"]
