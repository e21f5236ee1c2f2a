"""The fast evaluator: compiles an `Expr` into a Python closure over the flat state.

Quantifiers are unrolled over their entity at compile time; closures only index the state and compute.
`model/semantics/smt.py` gives the same expressions a z3 meaning; the tests prove the two agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..lang.expr import (
    ANY_HOLDER,
    BY_ME,
    LOCK_PREDICATES,
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
from ..lang.types import ListT, RefT, SetT
from .layout import Layout
from .locks import read_depth

# A state value: an int (ints, enum indices, element indices with -1 for null, set bitmasks, lock owners),
# a bool, or a tuple (lists, rwsem wait queues). Which one an expression yields is fixed by its type,
# checked when the spec is parsed; the closures do not check it again.
Value = Any
Fn = Callable[[Sequence[Value]], Value]
MAX_UNROLL = 20_000


class EvalError(Exception):
    """A runtime error in the spec's semantics (null index, element not on a list, ...)."""


@dataclass(frozen=True)
class Env:
    """How names resolve for one compiled expression: local slots, quantifier values, the layout."""

    layout: Layout
    entity_sizes: Mapping[str, int]
    locals: Mapping[str, int]
    bound: Mapping[str, int]
    element_names: Mapping[str, tuple[str, ...]]
    # procedure -> ((pc slot, program counters inside that procedure), ...) per thread, for running()
    positions: Mapping[str, tuple[tuple[int, frozenset[int]], ...]] = field(default_factory=dict)
    tid: int = -1   # the current thread (whose statement this is), for held(); -1 in properties

    def bind(self, name: str, value: int) -> Env:
        return replace(self, bound={**self.bound, name: value})


def constant(e: Expr, env: Env) -> tuple[bool, Value]:
    """(True, value) when `e` does not depend on the state."""
    if isinstance(e, Const):
        return True, e.value
    if isinstance(e, Bound):
        return True, env.bound[e.name]
    return False, None


def compile_expr(e: Expr, env: Env, budget: list[int] | None = None) -> Fn:
    """A closure computing `e` on a state (tuple or list)."""
    budget = budget if budget is not None else [MAX_UNROLL]
    budget[0] -= 1
    if budget[0] < 0:
        raise EvalError("expression unrolls to too many terms: lower the bounds or simplify it")
    is_const, value = constant(e, env)
    if is_const:
        return lambda s: value
    if isinstance(e, Local):
        slot = env.locals[e.name]
        return lambda s: s[slot]
    if isinstance(e, Shared):
        return _shared(e, env, budget)
    if isinstance(e, LockRef):
        raise EvalError("a lock is not a value")
    if isinstance(e, Unary):
        assert e.arg is not None
        f = compile_expr(e.arg, env, budget)
        if e.op == "not":
            return lambda s: not f(s)
        return lambda s: -f(s)
    if isinstance(e, Binary):
        return _binary(e, env, budget)
    if isinstance(e, Compare):
        return _compare(e, env, budget)
    if isinstance(e, BoolOp):
        fs = [compile_expr(i, env, budget) for i in e.items]
        if e.op == "and":
            return lambda s: all(f(s) for f in fs)
        return lambda s: any(f(s) for f in fs)
    if isinstance(e, IfExp):
        assert e.cond and e.then and e.orelse
        c, a, b = (compile_expr(x, env, budget) for x in (e.cond, e.then, e.orelse))
        return lambda s: a(s) if c(s) else b(s)
    if isinstance(e, Running):
        return _running(e, env)
    if isinstance(e, Call):
        return _call(e, env, budget)
    if isinstance(e, Quant):
        return _quant(e, env, budget)
    if isinstance(e, SetLit):
        fs = [compile_expr(i, env, budget) for i in e.items]

        def set_lit(s: Sequence) -> int:
            mask = 0
            for f in fs:
                v = f(s)
                if v < 0:
                    raise EvalError("null in a set literal")
                mask |= 1 << v
            return mask
        return set_lit
    if isinstance(e, ListLit):
        fs = [compile_expr(i, env, budget) for i in e.items]
        return lambda s: tuple(f(s) for f in fs)
    raise AssertionError(f"unknown expression {e!r}")


def key_index(keys: tuple[Expr, ...], strides: tuple[int, ...], env: Env,
              budget: list[int]) -> tuple[int, Callable[[Sequence], int] | None]:
    """(static offset, None) for constant keys, else (0, closure computing the offset)."""
    parts = [constant(k, env) for k in keys]
    if all(c for c, _ in parts):
        return sum(int(v) * st for (_, v), st in zip(parts, strides)), None
    fs = [compile_expr(k, env, budget) for k in keys]
    pairs = list(zip(fs, strides))

    def offset(s: Sequence) -> int:
        total = 0
        for f, st in pairs:
            v = f(s)
            if v < 0:
                raise EvalError("index is null")
            total += v * st
        return total
    return 0, offset


def _shared(e: Shared, env: Env, budget: list[int]) -> Fn:
    base, strides = env.layout.shared[e.name]
    static, dynamic = key_index(e.keys, strides, env, budget)
    slot = base + static
    if dynamic is None:
        return lambda s: s[slot]
    return lambda s: s[base + dynamic(s)]


def lock_base(lock: LockRef, env: Env) -> tuple[int, Fn | None]:
    base, _, strides = env.layout.locks[lock.name]
    static, dynamic = key_index(lock.keys, strides, env, [MAX_UNROLL])
    return base + static, dynamic


def _binary(e: Binary, env: Env, budget: list[int]) -> Fn:
    assert e.left and e.right
    a, b = compile_expr(e.left, env, budget), compile_expr(e.right, env, budget)
    if isinstance(e.type, SetT):
        if e.op == "|":
            return lambda s: a(s) | b(s)
        if e.op == "&":
            return lambda s: a(s) & b(s)
        return lambda s: a(s) & ~b(s)
    if e.op == "+":
        return lambda s: a(s) + b(s)
    return lambda s: a(s) - b(s)


def _compare(e: Compare, env: Env, budget: list[int]) -> Fn:
    assert e.left and e.right
    a, b = compile_expr(e.left, env, budget), compile_expr(e.right, env, budget)
    op = e.op
    if op == "in":
        if isinstance(e.right.type, SetT):
            def in_set(s: Sequence) -> bool:
                x = a(s)
                return x >= 0 and bool(b(s) >> x & 1)
            return in_set
        return lambda s: a(s) in b(s)
    if op == "==":
        return lambda s: a(s) == b(s)
    if op == "<":
        return lambda s: a(s) < b(s)
    if op == "<=":
        return lambda s: a(s) <= b(s)
    if op == ">":
        return lambda s: a(s) > b(s)
    return lambda s: a(s) >= b(s)


def list_next(items: tuple, x: int) -> int:
    """The successor of x (null: the list head) or -1 at the end; x must be on the list."""
    if x < 0:
        return items[0] if items else -1
    try:
        i = items.index(x)
    except ValueError:
        raise EvalError("next(): element is not on the list") from None
    return items[i + 1] if i + 1 < len(items) else -1


def list_prev(items: tuple, x: int) -> int:
    if x < 0:
        return items[-1] if items else -1
    try:
        i = items.index(x)
    except ValueError:
        raise EvalError("prev(): element is not on the list") from None
    return items[i - 1] if i > 0 else -1


def _running(e: Running, env: Env) -> Fn:
    if e.proc not in env.positions:
        raise EvalError("running() can only be used in properties")
    table = env.positions[e.proc]

    def running(s: Sequence) -> int:   # a loop: a generator costs more than the count (every state's questions)
        n = 0
        for slot, pcs in table:
            if s[slot] in pcs:
                n += 1
        return n
    return running


def _call(e: Call, env: Env, budget: list[int]) -> Fn:
    fn = e.fn
    if fn in LOCK_PREDICATES:
        return _lock_predicate(e, env)
    fs = [compile_expr(a, env, budget) for a in e.args]
    f0 = fs[0]
    if fn in ("min", "max"):
        g0, g1, pick = fs[0], fs[1], min if fn == "min" else max
        return lambda s: pick(g0(s), g1(s))
    if fn == "len":
        if isinstance(e.args[0].type, SetT):
            return lambda s: bin(f0(s)).count("1")
        return lambda s: len(f0(s))
    if fn == "empty":
        return lambda s: not f0(s)
    if fn == "first":
        return lambda s: f0(s)[0] if f0(s) else -1
    if fn == "last":
        return lambda s: f0(s)[-1] if f0(s) else -1
    f1 = fs[1]
    if fn == "next":
        return lambda s: list_next(f0(s), f1(s))
    if fn == "prev":
        return lambda s: list_prev(f0(s), f1(s))
    if fn == "index":
        def index(s: Sequence) -> int:
            items, x = f0(s), f1(s)
            return items.index(x) if x in items else -1
        return index
    f2 = fs[2]

    def before(s: Sequence) -> bool:
        items, x, y = f0(s), f1(s), f2(s)
        return x in items and y in items and items.index(x) < items.index(y)
    return before


def _lock_predicate(e: Call, env: Env) -> Fn:
    """locked() and friends (held by anyone), held() and friends (held by the current thread)."""
    lock = e.args[0]
    assert isinstance(lock, LockRef)
    base, dyn = lock_base(lock, env)
    rw = env.layout.lock_kinds[lock.name] == "rwsem"

    def at(s: Sequence) -> int:
        return base + (dyn(s) if dyn else 0)
    fn = e.fn
    if fn in ANY_HOLDER:
        if fn == "write_locked" or not rw:
            if fn == "read_locked":
                def no_readers(s: Sequence) -> bool:
                    at(s)  # a mutex or spinlock has no readers, but a null index is still an error
                    return False
                return no_readers
            return lambda s: s[at(s)] != -1
        if fn == "read_locked":
            return lambda s: s[at(s) + 1] != 0
        return lambda s: s[at(s)] != -1 or s[at(s) + 1] != 0
    assert fn in BY_ME
    tid = env.tid
    assert tid >= 0, "the parser allows held() only where there is a current thread"
    if fn == "held_write" or not rw:
        return lambda s: s[at(s)] == tid
    if fn == "held_read":
        return lambda s: read_depth(s[at(s) + 1], tid) != 0
    return lambda s: s[at(s)] == tid or read_depth(s[at(s) + 1], tid) != 0


def _quant(e: Quant, env: Env, budget: list[int]) -> Fn:
    assert e.domain is not None and e.body is not None
    dtype = e.domain.type
    assert isinstance(dtype, (SetT, ListT))
    size = env.entity_sizes[dtype.entity]
    static, dom_value = constant(e.domain, env)
    dom = None if static else compile_expr(e.domain, env, budget)
    parts: list[tuple[Fn | None, Fn | None, Fn]] = []
    for i in range(size):
        if static and isinstance(dtype, SetT) and not (int(dom_value) >> i & 1):
            continue
        if static and isinstance(dtype, ListT) and i not in dom_value:
            continue
        inner = env.bind(e.var, i)
        guard = None
        if dom is not None:
            guard = _member(dom, i, isinstance(dtype, SetT))
        cond = compile_expr(e.cond, inner, budget) if e.cond is not None else None
        parts.append((guard, cond, compile_expr(e.body, inner, budget)))
    kind = e.kind

    def quant(s: Sequence) -> object:
        total = 0
        for guard, cond, body in parts:
            if guard is not None and not guard(s):
                continue
            if cond is not None and not cond(s):
                continue
            v = body(s)
            if kind == "all":
                if not v:
                    return False
            elif kind == "any":
                if v:
                    return True
            elif kind == "count":
                total += 1 if v else 0
            else:
                total += v
        if kind == "all":
            return True
        if kind == "any":
            return False
        return total
    return quant


def _member(dom: Fn, i: int, is_set: bool) -> Fn:
    if is_set:
        return lambda s: bool(dom(s) >> i & 1)
    return lambda s: i in dom(s)


def reads_state(e: Expr) -> bool:
    """Whether evaluating `e` reads shared state (variables or locks), i.e. is visible to other threads."""
    from ..lang.expr import walk
    return any(isinstance(x, Shared) or (isinstance(x, Call) and x.fn in LOCK_PREDICATES) for x in walk(e))


THREADS = "<threads>"   # the key of the thread names among the element names (no entity is called that)


def _named(names: Sequence[str], i: int) -> str:
    """Element (or enum value) i by its name; `#i` for a number outside the type, which only a state z3
    made up can hold (a counterexample to induction, before the well-formedness facts exclude it)."""
    return names[i] if 0 <= i < len(names) else f"#{i}"


def format_value(value: Value, t: object, names: Mapping[str, tuple[str, ...]],
                 enums: Mapping[str, tuple[str, ...]] | None = None) -> str:
    """A state value in spec syntax: element names, [a, b] lists, {a, b} sets, null, true/false."""
    from ..lang.types import BoolT, EnumT, WaitQueueT
    if isinstance(t, WaitQueueT):   # the sleepers, one bit per thread, then one per exclusive sleeper
        threads = names.get(THREADS, ())
        n, v = len(threads), int(value)
        if not n:   # no thread names: the bits
            return "{" + ", ".join(f"#{i}" for i in range(v.bit_length()) if v >> i & 1) + "}"
        return "{" + ", ".join(threads[i] + (" (exclusive)" if v >> (n + i) & 1 else "") for i in range(n)
                               if v >> i & 1) + "}"
    if isinstance(t, BoolT):
        return "true" if value else "false"
    if isinstance(t, EnumT):
        return _named(t.values, int(value))
    if isinstance(t, RefT):
        return "null" if value == -1 else _named(names[t.entity], int(value))
    if isinstance(t, ListT):
        return "[" + ", ".join(_named(names[t.entity], i) for i in value) + "]"
    if isinstance(t, SetT):
        return "{" + ", ".join(n for i, n in enumerate(names[t.entity])
                               if int(value) >> i & 1) + "}"
    return str(value)
