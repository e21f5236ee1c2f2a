"""`Expr` to Promela expressions, as model/semantics/smt.py gives them to z3: a value (`term`) and when
evaluating it raises no error (`defined`, with the same short-circuits). Lists (and rwsem wait queues)
are numbers: the elements plus one as the digits of a base larger than any of them, so that equal
lists are equal numbers; `Lists` builds the Promela expressions of their operations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..lang.expr import (
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
    children,
)
from ..lang.types import BoolT, ListT, NullT, SetT, Type
from .layout import SlotKind
from .locks import READ_BITS
from .system import TransitionSystem

LOCK_PREDICATES = ("locked", "read_locked", "write_locked", "held", "held_read", "held_write")


class PromelaError(Exception):
    """The spec uses a construct the exporter cannot translate faithfully (the message names it)."""


class Encoding:
    """How values are numbers: the bases of lists and queues, the value of an unused slot."""

    def __init__(self, system: TransitionSystem):
        sizes = system.env.entity_sizes
        self.list_cap = max([1, *sizes.values()])
        self.list_base = self.list_cap + 1
        self.threads = len(system.threads)
        self.queue_cap = max(1, self.threads)
        self.queue_base = 2 * self.threads + 1
        queues = any(s.kind == SlotKind.LOCK_QUEUE for s in system.layout.slots)   # threads that never queue
        for base, cap in ((self.list_base, self.list_cap), *(((self.queue_base, self.queue_cap),) if queues else ())):
            if base ** cap >= 2 ** 31:
                raise PromelaError(f"lists of up to {cap} elements do not fit a Promela int (lower the bounds)")

    def seq(self, items: Sequence[int], base: int) -> int:
        return sum((x + 1) * base ** k for k, x in enumerate(items))


def is_list_slot(kind: SlotKind, t: Type | None, sort: str) -> bool:
    return kind == SlotKind.LOCK_QUEUE or isinstance(t, ListT) or sort.startswith("list<")


class Lists:
    """Promela expressions over lists encoded as numbers with `base` and at most `cap` elements."""

    def __init__(self, base: int, cap: int):
        self.base, self.cap = base, cap

    def digit(self, items: str, k: int) -> str:
        return f"(({items} / {self.base ** k}) % {self.base})"

    def elem(self, items: str, k: int) -> str:
        return f"({self.digit(items, k)} - 1)" if k < self.cap else "(-1)"

    def contains(self, items: str, x: str) -> str:
        return f"(({x}) >= 0 && ({' || '.join(f'{self.digit(items, k)} == ({x}) + 1' for k in range(self.cap))}))"

    def length(self, items: str) -> str:
        return "(" + " + ".join(f"({items} >= {self.base ** k} -> 1 : 0)" for k in range(self.cap)) + ")"

    def chain(self, cases: Sequence[tuple[str, str]], otherwise: str) -> str:
        out = otherwise
        for cond, value in reversed(cases):
            out = f"(({cond}) -> {value} : {out})"
        return out

    def index(self, items: str, x: str) -> str:
        found = self.chain([(f"{self.digit(items, k)} == ({x}) + 1", str(k)) for k in range(self.cap)], "-1")
        return f"(({x}) < 0 -> -1 : {found})"

    def first(self, items: str) -> str:
        return self.elem(items, 0)

    def last(self, items: str) -> str:
        return self.chain([(f"{items} >= {self.base ** k}", self.elem(items, k))
                           for k in reversed(range(self.cap))], "-1")

    def next(self, items: str, y: str) -> str:
        after = self.chain([(f"{self.digit(items, k)} == ({y}) + 1", self.elem(items, k + 1))
                            for k in range(self.cap)], "-1")
        return f"(({y}) == -1 -> {self.first(items)} : {after})"

    def prev(self, items: str, y: str) -> str:
        before = self.chain([(f"{self.digit(items, k)} == ({y}) + 1", self.elem(items, k - 1) if k else "-1")
                             for k in range(self.cap)], "-1")
        return f"(({y}) == -1 -> {self.last(items)} : {before})"

    def append(self, items: str, x: str) -> str:
        mult = self.chain([(f"{items} >= {self.base ** k}", str(self.base ** (k + 1)))
                           for k in reversed(range(self.cap))], "1")
        return f"({items} + (({x}) + 1) * {mult})"

    def prepend(self, items: str, x: str) -> str:
        return f"({items} * {self.base} + ({x}) + 1)"

    def delete(self, items: str, x: str) -> str:
        b = self.base
        return self.chain([(f"{self.digit(items, k)} == ({x}) + 1",
                            f"({items} % {b ** k} + ({items} / {b ** (k + 1)}) * {b ** k})")
                           for k in range(self.cap)], items)

    def insert_before(self, items: str, x: str, pos: str) -> str:
        b = self.base
        return self.chain([(f"{self.digit(items, k)} == ({pos}) + 1",
                            f"({items} % {b ** k} + (({x}) + 1) * {b ** k} + ({items} / {b ** k}) * {b ** (k + 1)})")
                           for k in range(self.cap)], items)

    def literal(self, items: Sequence[str]) -> str:
        return "(" + " + ".join([f"(({x}) + 1) * {self.base ** k}" for k, x in enumerate(items)] or ["0"]) + ")"


def var(slot: int) -> str:
    return f"v{slot}"


def all_of(*parts: str) -> str:
    kept = [p for p in parts if p != "1"]
    if "0" in kept:
        return "0"
    return "(" + " && ".join(kept) + ")" if kept else "1"


def any_of(*parts: str) -> str:
    kept = [p for p in parts if p != "0"]
    if "1" in kept:
        return "1"
    return "(" + " || ".join(kept) + ")" if kept else "0"


def negate(p: str) -> str:
    return {"0": "1", "1": "0"}.get(p, f"!({p})")


class Exprs:
    """`Expr` to Promela, as smt.py gives it to z3: `term` its value, `defined` when evaluating it raises
    no error (the same short-circuits)."""

    def __init__(self, system: TransitionSystem, enc: Encoding, locals_: Mapping[str, int], tid: int):
        self.system, self.enc, self.locals, self.tid = system, enc, locals_, tid
        self.lists = Lists(enc.list_base, enc.list_cap)
        self.bound: dict[str, int] = {}
        self.sizes = system.env.entity_sizes

    def term(self, e: Expr) -> str:
        if isinstance(e, Const):
            return self.const(e)
        if isinstance(e, Bound):
            return str(self.bound[e.name])
        if isinstance(e, Local):
            return var(self.locals[e.name])
        if isinstance(e, Shared):
            base, strides = self.system.layout.shared[e.name]
            return self.select(base, self.count(e.name), self.index(e.keys, strides))
        if isinstance(e, Unary):
            assert e.arg is not None
            return f"(!{self.term(e.arg)})" if e.op == "not" else f"(-{self.term(e.arg)})"
        if isinstance(e, Binary):
            assert e.left is not None and e.right is not None
            a, b = self.term(e.left), self.term(e.right)
            if isinstance(e.type, SetT):
                return {"|": f"({a} | {b})", "&": f"({a} & {b})", "-": f"({a} & ~{b})"}[e.op]
            if isinstance(e.type, ListT):
                raise PromelaError(f"list operator {e.op}")
            return f"({a} {e.op} {b})"
        if isinstance(e, Compare):
            return self.compare(e)
        if isinstance(e, BoolOp):
            items = [self.term(i) for i in e.items]
            return (all_of if e.op == "and" else any_of)(*items)
        if isinstance(e, IfExp):
            assert e.cond is not None and e.then is not None and e.orelse is not None
            return f"({self.term(e.cond)} -> {self.term(e.then)} : {self.term(e.orelse)})"
        if isinstance(e, Running):
            table = self.system.env.positions[e.proc]
            parts = [f"({any_of(*[f'{var(slot)} == {pc}' for pc in sorted(pcs)])} -> 1 : 0)"
                     for slot, pcs in table if pcs]
            return "(" + " + ".join(parts) + ")" if parts else "0"
        if isinstance(e, Call):
            return self.call(e)
        if isinstance(e, Quant):
            return self.quant(e)
        if isinstance(e, SetLit):
            return "(" + " | ".join([f"(1 << {self.term(i)})" for i in e.items] or ["0"]) + ")"
        if isinstance(e, ListLit):
            return self.lists.literal([self.term(i) for i in e.items])
        raise PromelaError(f"expression {type(e).__name__}")

    def const(self, e: Const) -> str:
        t, v = e.type, e.value
        if isinstance(t, BoolT):
            return "1" if v else "0"
        if isinstance(t, ListT):
            return str(self.enc.seq(v, self.enc.list_base))  # type: ignore[arg-type]
        if v is None:
            return "-1"
        return str(int(v))  # type: ignore[call-overload]

    def count(self, name: str) -> int:
        return sum(1 for s in self.system.layout.slots if s.var == name and s.kind == SlotKind.SHARED)

    def index(self, keys: tuple[Expr, ...], strides: tuple[int, ...]) -> str | int:
        """The offset of a key tuple: an int when constant."""
        if all(isinstance(k, (Const, Bound)) for k in keys):
            return sum(int(self.term(k)) * st for k, st in zip(keys, strides))
        return "(" + " + ".join(f"{self.term(k)} * {st}" for k, st in zip(keys, strides)) + ")"

    def select(self, base: int, count: int, index: str | int) -> str:
        """Slot `base + index` of `count` (an index out of range picks the last, as smt.py does)."""
        if isinstance(index, int):
            return var(base + index) if 0 <= index < count else var(base + count - 1)
        return self.lists.chain([(f"{index} == {i}", var(base + i)) for i in range(count - 1)],
                                var(base + count - 1))

    def compare(self, e: Compare) -> str:
        assert e.left is not None and e.right is not None
        a, b = self.term(e.left), self.term(e.right)
        if e.op == "in":
            if isinstance(e.right.type, SetT):
                return f"(({a}) >= 0 && ((({b}) >> ({a})) & 1) == 1)"
            return self.lists.contains(b, a)
        if e.op == "==" and isinstance(e.left.type, NullT) and isinstance(e.right.type, NullT):
            return "1"
        return f"({a} {e.op} {b})"

    def lock_slots(self, lock: LockRef) -> tuple[str, str | None]:
        base, width, strides = self.system.layout.locks[lock.name]
        count = sum(1 for s in self.system.layout.slots if s.var == lock.name and s.kind == SlotKind.LOCK_OWNER)
        index = self.index(lock.keys, tuple(st // width for st in strides)) if lock.keys else 0

        def pick(offset: int) -> str:
            if isinstance(index, int):
                return var(base + (index if 0 <= index < count else count - 1) * width + offset)
            return self.lists.chain([(f"{index} == {i}", var(base + i * width + offset)) for i in range(count - 1)],
                                    var(base + (count - 1) * width + offset))
        return pick(0), pick(1) if width == 3 else None

    def call(self, e: Call) -> str:
        fn = e.fn
        if fn in LOCK_PREDICATES:
            return self.lock_predicate(e)
        args = [self.term(a) for a in e.args]
        x, t0, lists = args[0], e.args[0].type, self.lists
        if fn in ("min", "max"):
            y = args[1]
            return f"(({x} <= {y}) -> ({x}) : ({y}))" if fn == "min" else f"(({x} >= {y}) -> ({x}) : ({y}))"
        if fn == "len":
            if isinstance(t0, SetT):
                return "(" + " + ".join(f"(({x} >> {i}) & 1)" for i in range(self.sizes[t0.entity])) + ")" \
                    if self.sizes[t0.entity] else "0"
            return lists.length(x)
        if fn == "empty":
            return f"({x} == 0)"
        if fn == "first":
            return lists.first(x)
        if fn == "last":
            return lists.last(x)
        if fn == "index":
            return lists.index(x, args[1])
        if fn == "next":
            return lists.next(x, args[1])
        if fn == "prev":
            return lists.prev(x, args[1])
        if fn == "before":
            a, b = lists.index(x, args[1]), lists.index(x, args[2])
            return f"({a} >= 0 && {b} >= 0 && {a} < {b})"
        raise PromelaError(f"function {fn}()")

    def lock_predicate(self, e: Call) -> str:
        lock = e.args[0]
        assert isinstance(lock, LockRef)
        owner, readers = self.lock_slots(lock)
        fn = e.fn
        if fn in ("locked", "read_locked", "write_locked"):
            if fn == "read_locked":
                return "0" if readers is None else f"({readers} != 0)"
            if fn == "write_locked" or readers is None:
                return f"({owner} != -1)"
            return f"({owner} != -1 || {readers} != 0)"
        if self.tid < 0:
            raise PromelaError(f"{fn}() outside a thread")
        mine = f"({owner} == {self.tid})"
        if fn == "held_write" or readers is None:
            return mine
        reading = f"((({readers} >> {READ_BITS * self.tid}) & {(1 << READ_BITS) - 1}) != 0)"
        return reading if fn == "held_read" else f"({mine} || {reading})"

    def quant(self, e: Quant) -> str:
        assert e.domain is not None and e.body is not None
        dtype = e.domain.type
        assert isinstance(dtype, (SetT, ListT))
        dom = self.term(e.domain)
        parts = []
        saved = self.bound.get(e.var)
        for i in range(self.sizes[dtype.entity]):
            guard = f"((({dom}) >> {i}) & 1) == 1" if isinstance(dtype, SetT) else self.lists.contains(dom, str(i))
            self.bound[e.var] = i
            conds = all_of(guard, *([self.term(e.cond)] if e.cond is not None else []))
            parts.append((conds, self.term(e.body)))
        self._unbind(e.var, saved)
        if e.kind == "all":
            return all_of(*[any_of(negate(g), b) for g, b in parts])
        if e.kind == "any":
            return any_of(*[all_of(g, b) for g, b in parts])
        if e.kind == "count":
            return "(" + " + ".join([f"({all_of(g, b)} -> 1 : 0)" for g, b in parts] or ["0"]) + ")"
        return "(" + " + ".join([f"({g} -> {b} : 0)" for g, b in parts] or ["0"]) + ")"

    def _unbind(self, name: str, saved: int | None) -> None:
        if saved is None:
            self.bound.pop(name, None)
        else:
            self.bound[name] = saved

    # -- definedness (smt.py's `defined`)

    def defined(self, e: Expr) -> str:
        if isinstance(e, (Const, Bound, Local)):
            return "1"
        if isinstance(e, (Shared, LockRef)):
            return self.keys_defined(e.keys)
        if isinstance(e, BoolOp):
            return self.sequence_defined(e.items, stop_at=e.op == "or")
        if isinstance(e, IfExp):
            assert e.cond is not None and e.then is not None and e.orelse is not None
            then, orelse = self.defined(e.then), self.defined(e.orelse)
            both = then if then == orelse else f"({self.term(e.cond)} -> {then} : {orelse})"
            return all_of(self.defined(e.cond), both)
        if isinstance(e, Compare) and e.op == "in" and e.right is not None and isinstance(e.right.type, SetT):
            assert e.left is not None
            right = self.defined(e.right)
            null = f"({self.term(e.left)} == -1)"
            return all_of(self.defined(e.left), right if right == "1" else any_of(null, right))
        if isinstance(e, Call):
            return self.call_defined(e)
        if isinstance(e, Quant):
            return self.quant_defined(e)
        parts = [self.defined(x) for x in children(e)]
        if isinstance(e, SetLit):
            parts += [f"({self.term(x)} != -1)" for x in e.items]
        return all_of(*parts)

    def keys_defined(self, keys: tuple[Expr, ...]) -> str:
        return all_of(*[all_of(self.defined(k), self.not_null(k)) for k in keys])

    def not_null(self, k: Expr) -> str:
        t = self.term(k)
        if isinstance(k, (Const, Bound)):
            return "0" if t == "-1" else "1"
        return f"({t} != -1)"

    def sequence_defined(self, items: tuple[Expr, ...], stop_at: bool) -> str:
        out: list[str] = []
        reached: list[str] = []
        for item in items:
            d = self.defined(item)
            out.append(any_of(negate(all_of(*reached)), d) if reached else d)
            value = self.term(item)
            reached.append(negate(value) if stop_at else value)
        return all_of(*out)

    def call_defined(self, e: Call) -> str:
        if e.fn in LOCK_PREDICATES:
            lock = e.args[0]
            assert isinstance(lock, LockRef)
            return self.keys_defined(lock.keys)
        parts = [self.defined(a) for a in e.args]
        if e.fn in ("next", "prev"):
            items, x = self.term(e.args[0]), self.term(e.args[1])
            parts.append(any_of(f"({x} == -1)", self.lists.contains(items, x)))
        return all_of(*parts)

    def quant_defined(self, e: Quant) -> str:
        assert e.domain is not None and e.body is not None
        dtype = e.domain.type
        assert isinstance(dtype, (SetT, ListT))
        size = self.sizes[dtype.entity]
        if size == 0:
            return "1"
        dom = self.term(e.domain)
        out = [self.defined(e.domain)]
        reached: list[str] = []
        saved = self.bound.get(e.var)
        for i in range(size):
            member = f"((({dom}) >> {i}) & 1) == 1" if isinstance(dtype, SetT) else self.lists.contains(dom, str(i))
            self.bound[e.var] = i
            if e.cond is None:
                selected, element_ok = member, self.defined(e.body)
            else:
                cond = self.term(e.cond)
                selected = all_of(member, cond)
                body_ok = self.defined(e.body)
                element_ok = all_of(self.defined(e.cond), any_of(negate(cond), body_ok))
            if element_ok != "1":
                out.append(any_of(negate(all_of(*reached, member)), element_ok))
            if e.kind in ("all", "any"):
                body = self.term(e.body)
                reached.append(negate(all_of(selected, negate(body) if e.kind == "all" else body)))
        self._unbind(e.var, saved)
        return all_of(*out)


__all__ = ["Encoding", "Exprs", "Lists", "PromelaError", "all_of", "any_of", "is_list_slot", "negate", "var"]
