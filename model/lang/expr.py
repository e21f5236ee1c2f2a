"""The expression language: a whitelisted subset of Python syntax, type-checked into a small frozen AST.

Nothing here evaluates anything: `ast.parse` only builds a syntax tree, and every node kind that is not
explicitly allowed is refused with a located error.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from .errors import Span, did_you_mean, shorten
from .types import BOOL, INT, NULL, BoolT, EnumT, IntT, ListT, LockT, NullT, RefT, SetT, Type, WaitQueueT

MAX_EXPR_CHARS = 2000
PLACE_RE = re.compile(r"^(finished|[^:\s]+:[0-9]+(#[0-9]+)?)$")
MAX_EXPR_NODES = 400
MAX_INT = 1 << 20

ERRNO = {"EPERM": 1, "ENOENT": 2, "EINTR": 4, "EIO": 5, "EAGAIN": 11, "ENOMEM": 12, "EBUSY": 16,
         "EEXIST": 17, "EINVAL": 22, "ENOSPC": 28}


class ExprError(Exception):
    """A problem in an expression, located at the offending sub-expression."""

    def __init__(self, span: Span, code: str, message: str, hint: str = "", follow_on: bool = False):
        super().__init__(message)
        self.span, self.code, self.message, self.hint = span, code, message, hint
        # A follow-on error only repeats a problem already reported (a use of a name whose declaration
        # was refused): callers drop it, so that each problem gets one message.
        self.follow_on = follow_on


# ---------------------------------------------------------------- AST


@dataclass(frozen=True)
class Expr:
    type: Type
    span: Span = field(compare=False, repr=False)


@dataclass(frozen=True)
class Const(Expr):
    """A constant; `value` uses the state encoding: bool, int, element index (-1 null), set bitmask, list tuple."""

    value: object = None


@dataclass(frozen=True)
class Local(Expr):
    name: str = ""


@dataclass(frozen=True)
class Bound(Expr):
    """A variable bound by a quantifier (`for o in ops`)."""

    name: str = ""


@dataclass(frozen=True)
class Shared(Expr):
    name: str = ""
    keys: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class LockRef(Expr):
    name: str = ""
    keys: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class Unary(Expr):
    op: str = ""  # not, neg
    arg: Expr | None = None


@dataclass(frozen=True)
class Binary(Expr):
    op: str = ""  # + - (ints), | & - (sets: union, intersection, difference)
    left: Expr | None = None
    right: Expr | None = None


@dataclass(frozen=True)
class Compare(Expr):
    op: str = ""  # == != < <= > >= in
    left: Expr | None = None
    right: Expr | None = None


@dataclass(frozen=True)
class BoolOp(Expr):
    op: str = ""  # and, or
    items: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class IfExp(Expr):
    cond: Expr | None = None
    then: Expr | None = None
    orelse: Expr | None = None


@dataclass(frozen=True)
class Call(Expr):
    fn: str = ""
    args: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class Running(Expr):
    """running(PROC): how many threads are inside that procedure now (properties only)."""

    proc: str = ""


@dataclass(frozen=True)
class At(Expr):
    """at(THREAD, PLACE, ...): that thread instance stands at one of the places (lemmas only). A place is
    `FILE:LINE` (every visible step of the statement there), `FILE:LINE#K` (its K-th step in program order,
    when the thread reaches that statement more than once) or `finished`."""

    thread: str = ""
    places: tuple[str, ...] = ()


@dataclass(frozen=True)
class ThreadLocal(Expr):
    """local(THREAD, NAME): the value of that thread instance's local variable (a parameter, a declared
    local or a loop variable of a procedure it runs) where a procedure declaring it is running; elsewhere
    null, 0, false or empty (lemmas only)."""

    thread: str = ""
    name: str = ""


@dataclass(frozen=True)
class HeldBy(Expr):
    """held_by(LOCK, THREAD): that thread instance owns the mutex or spinlock, or holds the rwsem for write;
    `mode` read: read_held_by(RWSEM, THREAD), it holds the rwsem for read; queued: queued(RWSEM, THREAD), it
    waits in the rwsem's queue (lemmas only)."""

    arg: Expr | None = None   # the LockRef
    thread: str = ""
    mode: str = "own"         # own, read, queued


@dataclass(frozen=True)
class Quant(Expr):
    """all/any/count/sum over a finite domain: an entity, a set or a list."""

    kind: str = ""
    var: str = ""
    domain: Expr | None = None
    cond: Expr | None = None
    body: Expr | None = None


@dataclass(frozen=True)
class SetLit(Expr):
    items: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class ListLit(Expr):
    items: tuple[Expr, ...] = ()


def children(e: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of `e`."""
    out: list[Expr] = []
    for name in ("arg", "left", "right", "cond", "then", "orelse", "domain", "body"):
        sub = getattr(e, name, None)
        if isinstance(sub, Expr):
            out.append(sub)
    for name in ("keys", "items", "args"):
        out.extend(getattr(e, name, ()))
    return tuple(out)


def walk(e: Expr) -> Iterator[Expr]:
    """Every sub-expression of `e`, iteratively (no recursion limit)."""
    stack = [e]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


# ---------------------------------------------------------------- scope


@dataclass(frozen=True)
class VarInfo:
    type: Type
    per: tuple[str, ...] = ()


@dataclass
class Scope:
    """What names mean where an expression is written."""

    entities: Mapping[str, tuple[str, ...]]          # entity -> element names
    groups: Mapping[str, tuple[str, int]]              # group name -> (entity, bitmask)
    elements: Mapping[str, tuple[str, int]]            # element name -> (entity, index)
    enums: Mapping[str, tuple[EnumT, int]]             # enum value name -> (type, index)
    shared: Mapping[str, VarInfo]
    locks: Mapping[str, tuple[str, tuple[str, ...]]]   # lock -> (kind, per)
    constants: Mapping[str, Const] = field(default_factory=dict)
    locals: Mapping[str, Type] = field(default_factory=dict)
    broken: frozenset[str] = frozenset()               # declared, but the declaration was refused
    procedures: frozenset[str] = frozenset()           # names running() may take (only in properties)
    in_thread: bool = False                            # a current thread exists (held() may be asked)
    threads: frozenset[str] = frozenset()              # thread instances at() and held_by() may name (lemmas only)
    callbacks: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # entity -> slot -> elements setting it
    # local(THREAD, NAME) (lemmas only): each local name of the spec's procedures and its type (None: the
    # name has different types in different procedures)
    thread_locals: Mapping[str, Type | None] = field(default_factory=dict)

    def with_locals(self, local_types: Mapping[str, Type], broken: frozenset[str] = frozenset()) -> Scope:
        """The scope inside a procedure: its locals, and the thread running it as the current thread."""
        return Scope(self.entities, self.groups, self.elements, self.enums, self.shared, self.locks,
                     self.constants, dict(local_types), self.broken | broken, self.procedures, True,
                     callbacks=self.callbacks)

    def with_procedures(self, names: frozenset[str]) -> Scope:
        return Scope(self.entities, self.groups, self.elements, self.enums, self.shared, self.locks,
                     self.constants, self.locals, self.broken, names, self.in_thread, self.threads, self.callbacks)

    def with_threads(self, names: frozenset[str], locals_: Mapping[str, Type | None] | None = None) -> Scope:
        """The scope of lemmas: properties' names, and at()/held_by()/local() of these thread instances."""
        return Scope(self.entities, self.groups, self.elements, self.enums, self.shared, self.locks,
                     self.constants, self.locals, self.broken, self.procedures, self.in_thread, names,
                     callbacks=self.callbacks, thread_locals=dict(locals_ or {}))

    def has_callbacks(self) -> bool:
        """Whether the spec declares callbacks: (maybe refused: `o.slot` is then a follow-on error)."""
        return bool(self.callbacks) or any(name.endswith(".") for name in self.broken)

    def names(self) -> list[str]:
        return [*self.entities, *self.groups, *self.elements, *self.enums, *self.shared, *self.constants,
                *self.locals, *self.locks, *ERRNO]

    def undefined(self, span: Span, name: str, extra: list[str] | None = None) -> ExprError:
        """The error for a name that means nothing here (a follow-on one if its declaration was refused)."""
        if name in self.broken:
            return ExprError(span, "NC306", f"'{name}' was not declared correctly", "", follow_on=True)
        # Errno constants only clutter the suggestions for a lower-case name.
        choices = [n for n in self.names() if n not in ERRNO or name.isupper()] + (extra or [])
        return ExprError(span, "NC306", f"undefined name '{shorten(name)}'", did_you_mean(name, choices))


# ---------------------------------------------------------------- parsing

PURE_FUNCTIONS = {
    "len": 1, "first": 1, "last": 1, "next": 2, "prev": 2, "index": 2, "before": 3, "empty": 1,
    "locked": 1, "read_locked": 1, "write_locked": 1, "held": 1, "held_read": 1, "held_write": 1,
    "min": 2, "max": 2, "refcount_read": 1, "atomic_read": 1, "completion_done": 1,
}
ANY_HOLDER = ("locked", "read_locked", "write_locked")    # held by any thread
BY_ME = ("held", "held_read", "held_write")               # held by the current thread
LOCK_PREDICATES = ANY_HOLDER + BY_ME
QUANTIFIERS = ("all", "any", "count", "sum")
SIGNATURES = {"len": "len(L)", "first": "first(L)", "last": "last(L)", "next": "next(L, x)", "prev": "prev(L, x)",
              "index": "index(L, x)", "before": "before(L, a, b)", "empty": "empty(L)", "locked": "locked(LOCK)",
              "read_locked": "read_locked(LOCK)", "write_locked": "write_locked(LOCK)", "held": "held(LOCK)",
              "held_read": "held_read(RWSEM)", "held_write": "held_write(RWSEM)", "min": "min(a, b)",
              "max": "max(a, b)", "refcount_read": "refcount_read(REFCOUNT)", "atomic_read": "atomic_read(ATOMIC)",
              "completion_done": "completion_done(COMPLETION)",
              "running": "running(PROCEDURE)", "at": 'at(THREAD, "FILE:LINE", ...)',
              "held_by": "held_by(LOCK, THREAD)", "read_held_by": "read_held_by(RWSEM, THREAD)",
              "queued": "queued(RWSEM, THREAD)", "local": "local(THREAD, NAME) or local(THREAD, PROCEDURE.NAME)"}
PLACE_FINISHED = "finished"   # at(THREAD, "finished"): the thread has returned from its procedure


class _Checker:
    """Turns a Python `ast` expression into a typed `Expr`, refusing everything outside the whitelist."""

    def __init__(self, scope: Scope, base: Span, text: str):
        self.scope = scope
        self.base = base
        self.text = text
        self.bound: dict[str, Type] = {}
        self.bound_within: dict[str, int] = {}   # a variable bound over an entity or a group: its elements' bitmask

    def span(self, node: ast.AST) -> Span:
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0)
        if line == 1:
            return self.base.shifted(col)
        return Span(self.base.file, self.base.line + line - 1, col + 1)

    def fail(self, node: ast.AST, message: str, hint: str = "", code: str = "NC301") -> ExprError:
        return ExprError(self.span(node), code, message, hint)

    # -- entry points

    def expr(self, node: ast.AST) -> Expr:
        method: Callable[[ast.AST], Expr] | None = getattr(self, "x_" + type(node).__name__, None)
        if isinstance(node, ast.Attribute) and self.scope.has_callbacks() and isinstance(node.value, ast.Name):
            test = self.callback_set(node)
            if test is not None:
                return test
        if isinstance(node, ast.Attribute):
            # Point at the '.' and name the attribute: "x.__class__" must not read as a problem with x.
            value = node.value
            dot = ast.Constant(0, lineno=value.end_lineno or node.lineno, col_offset=value.end_col_offset or 0)
            raise self.fail(dot, f"attribute access '.{node.attr}' is not allowed in spec expressions",
                            "values have no attributes: use names, indexing and the built-in functions", "NC302")
        if method is None:
            raise self.fail(node, f"'{_describe_node(node)}' is not allowed in spec expressions",
                            "expressions use names, numbers, comparisons, and/or/not, + -, indexing, "
                            "all/any/count/sum(... for x in ...) and the list functions", "NC302")
        return method(node)

    def callback_set(self, node: ast.Attribute) -> Expr | None:
        """`o.init`: is o's callback slot set (the kernel's `if (ops->init)`)? `o in {the elements setting it}`,
        false for a null o (model/lang/callbacks.py). None when o is no element of an entity with callbacks."""
        assert isinstance(node.value, ast.Name)
        if node.value.id.startswith("__"):
            return None
        value = self.expr(node.value)
        entity = value.type.entity if isinstance(value.type, RefT) else ""
        if entity not in self.scope.callbacks:
            if {".", f"{entity}."} & self.scope.broken:   # its callbacks: were refused (and reported)
                raise ExprError(self.span(node), "NC240", "", follow_on=True)
            if entity:
                raise self.fail(node, f"'{node.value.id}.{node.attr}': {entity} has no callbacks:",
                                f"o.SLOT asks whether an element's callback is set; declare callbacks: {{{entity}: "
                                "{slots: ..., bind: ...}}", "NC240")
            return None
        slots = self.scope.callbacks[entity]
        if node.attr not in slots:
            error = self.fail(node, f"{entity} has no callback slot '{node.attr}'", did_you_mean(node.attr, slots),
                              "NC240")
            error.follow_on = f"{entity}.{node.attr}" in self.scope.broken
            raise error
        mask = Const(SetT(entity), self.span(node), slots[node.attr])
        return Compare(BOOL, self.span(node), "in", value, mask)

    def boolean(self, node: ast.AST) -> Expr:
        e = self.expr(node)
        if not isinstance(e.type, BoolT):
            raise self.fail(node, f"expected a condition (bool), got {e.type}", "compare it with == or use 'in'",
                            "NC303")
        return e

    # -- leaves

    def x_Constant(self, node: ast.Constant) -> Expr:
        v = node.value
        if isinstance(v, bool):
            return Const(BOOL, self.span(node), v)
        if isinstance(v, int):
            if abs(v) > MAX_INT:
                raise self.fail(node, f"integer {v} is too large", f"stay within ±{MAX_INT}", "NC304")
            return Const(INT, self.span(node), v)
        if v is None:
            return Const(NULL, self.span(node), -1)
        raise self.fail(node, f"{type(v).__name__} constants are not part of the language",
                        "use names, integers, true/false and null", "NC302")

    def x_Name(self, node: ast.Name) -> Expr:
        name, sp, sc = node.id, self.span(node), self.scope
        if name.startswith("__"):
            raise self.fail(node, f"name '{name}' is not allowed", "dunder names have no meaning in specs", "NC302")
        if name in self.bound:
            return Bound(self.bound[name], sp, name)
        if name in sc.locals:
            return Local(sc.locals[name], sp, name)
        if name in sc.shared:
            info = sc.shared[name]
            if info.per:
                raise self.fail(node, f"'{name}' is indexed by {', '.join(info.per)}",
                                f"write {name}[{', '.join(info.per)}], or quantify: all(... for x in ENTITY)",
                                "NC305")
            return Shared(info.type, sp, name)
        if name in ("true", "True"):
            return Const(BOOL, sp, True)
        if name in ("false", "False"):
            return Const(BOOL, sp, False)
        if name in ("null", "None"):
            return Const(NULL, sp, -1)
        if name in sc.constants:
            c = sc.constants[name]
            return Const(c.type, sp, c.value)
        if name in sc.elements:
            entity, index = sc.elements[name]
            return Const(RefT(entity), sp, index)
        if name in sc.entities:
            return Const(SetT(name), sp, (1 << len(sc.entities[name])) - 1)
        if name in sc.groups:
            entity, mask = sc.groups[name]
            return Const(SetT(entity), sp, mask)
        if name in sc.enums:
            t, index = sc.enums[name]
            return Const(t, sp, index)
        if name in ERRNO:
            return Const(INT, sp, ERRNO[name])
        if name in sc.locks:
            kind, per = sc.locks[name]
            self._not_srcu(node, name, kind)
            if per:
                raise self.fail(node, f"lock '{name}' is indexed by {', '.join(per)}",
                                f"write {name}[{', '.join(per)}]", "NC305")
            return LockRef(LockT(kind), sp, name)
        raise sc.undefined(sp, name, list(self.bound))

    def x_Subscript(self, node: ast.Subscript) -> Expr:
        if not isinstance(node.value, ast.Name):
            raise self.fail(node, "only variables and locks declared with per: can be indexed",
                            "index a name: var[x], or use first(L), next(L, x) for lists", "NC305")
        name = node.value.id
        sl = node.slice
        key_nodes = list(sl.elts) if isinstance(sl, ast.Tuple) else [sl]
        if name in self.scope.shared:
            per = self.scope.shared[name].per
            t = self.scope.shared[name].type
            keys = self._keys(node, name, per, key_nodes)
            return Shared(t, self.span(node), name, keys)
        if name in self.scope.locks:
            kind, per = self.scope.locks[name]
            self._not_srcu(node, name, kind)
            keys = self._keys(node, name, per, key_nodes)
            return LockRef(LockT(kind), self.span(node), name, keys)
        if name in self.bound or name in self.scope.names():  # an element, a constant, a local, ...
            raise self.fail(node, f"'{name}' is not indexed", "only state and locks declared with per: take [...]",
                            "NC305")
        raise self.scope.undefined(self.span(node.value), name, list(self.bound))

    def _keys(self, node: ast.AST, name: str, per: tuple[str, ...], key_nodes: list[ast.expr]) -> tuple[Expr, ...]:
        if not per:
            raise self.fail(node, f"'{name}' is not indexed", "declare it with per: [ENTITY, ...]", "NC305")
        if len(key_nodes) != len(per):
            raise self.fail(node, f"'{name}' takes {len(per)} index(es) ({', '.join(per)}), got {len(key_nodes)}",
                            f"write {name}[{', '.join(per)}] with one element of each", "NC305")
        keys = []
        for k, entity in zip(key_nodes, per):
            e = self.expr(k)
            if not (isinstance(e.type, RefT) and e.type.entity == entity):
                raise self.fail(k, f"index of '{name}' must be a {entity}, got {e.type}",
                                f"index it with an element of {entity}", "NC303")
            keys.append(e)
        return tuple(keys)

    # -- operators

    def x_BoolOp(self, node: ast.BoolOp) -> Expr:
        op = "and" if isinstance(node.op, ast.And) else "or"
        return BoolOp(BOOL, self.span(node), op, tuple(self.boolean(v) for v in node.values))

    def x_UnaryOp(self, node: ast.UnaryOp) -> Expr:
        if isinstance(node.op, ast.Not):
            return Unary(BOOL, self.span(node), "not", self.boolean(node.operand))
        if isinstance(node.op, ast.USub):
            arg = self.expr(node.operand)
            if not isinstance(arg.type, IntT):
                raise self.fail(node, f"'-' needs an integer, got {arg.type}", "negate integers only", "NC303")
            if isinstance(arg, Const):
                return Const(INT, self.span(node), -int(arg.value))  # type: ignore[call-overload]
            return Unary(INT, self.span(node), "neg", arg)
        raise self.fail(node, f"operator '{_describe_node(node)}' is not allowed", "use not, or -x on integers",
                        "NC302")

    def x_BinOp(self, node: ast.BinOp) -> Expr:
        ops = {ast.Add: "+", ast.Sub: "-", ast.BitOr: "|", ast.BitAnd: "&"}
        op = ops.get(type(node.op))
        if op is None:
            raise self.fail(node, f"operator '{_describe_node(node)}' is not allowed",
                            "integers take + and -, sets take |, & and -", "NC302")
        left, right = self.expr(node.left), self.expr(node.right)
        if isinstance(left.type, IntT) and isinstance(right.type, IntT) and op in "+-":
            return Binary(INT, self.span(node), op, left, right)
        if isinstance(left.type, SetT) and left.type == right.type and op in "|&-":
            return Binary(left.type, self.span(node), op, left, right)
        raise self.fail(node, f"cannot apply '{op}' to {left.type} and {right.type}",
                        "integers take + and -, sets of one entity take |, & and -", "NC303")

    def x_Compare(self, node: ast.Compare) -> Expr:
        parts = []
        left_node = node.left
        for op, right_node in zip(node.ops, node.comparators):
            parts.append(self._compare(node, op, left_node, right_node))
            left_node = right_node
        if len(parts) == 1:
            return parts[0]
        return BoolOp(BOOL, self.span(node), "and", tuple(parts))

    def _compare(self, node: ast.AST, op: ast.cmpop, left_node: ast.AST, right_node: ast.AST) -> Expr:
        sp = self.span(node)
        if isinstance(op, (ast.In, ast.NotIn)):
            left = self.expr(left_node)
            if isinstance(right_node, ast.Tuple):  # x in (a, b): a disjunction of equalities
                items = [self._equal(sp, left, self.expr(e), e) for e in right_node.elts]
                e: Expr = BoolOp(BOOL, sp, "or", tuple(items)) if items else Const(BOOL, sp, False)
            else:
                right = self.expr(right_node)
                if not isinstance(right.type, (SetT, ListT)):
                    raise self.fail(right_node, f"'in' needs a set, a list or an entity, got {right.type}",
                                    "write x in ENTITY, x in GROUP, x in a set or list variable, or x in (a, b)",
                                    "NC303")
                if not (isinstance(left.type, RefT) and left.type.entity == right.type.entity) and not isinstance(
                        left.type, NullT):
                    raise self.fail(left_node, f"{left.type} cannot be an element of {right.type}",
                                    "only elements of the collection's entity can be in it", "NC303")
                e = Compare(BOOL, sp, "in", left, right)
            return Unary(BOOL, sp, "not", e) if isinstance(op, ast.NotIn) else e
        left, right = self.expr(left_node), self.expr(right_node)
        if isinstance(op, (ast.Eq, ast.Is)):
            return self._equal(sp, left, right, node)
        if isinstance(op, (ast.NotEq, ast.IsNot)):
            return Unary(BOOL, sp, "not", self._equal(sp, left, right, node))
        names = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
        if not (isinstance(left.type, IntT) and isinstance(right.type, IntT)):
            raise self.fail(node, f"ordering compares integers, got {left.type} and {right.type}",
                            "use before(list, a, b) for list order", "NC303")
        return Compare(BOOL, sp, names[type(op)], left, right)

    def _equal(self, sp: Span, left: Expr, right: Expr, node: ast.AST) -> Expr:
        if isinstance(left.type, LockT) or isinstance(right.type, LockT):
            raise self.fail(node, "a lock is not a value and cannot be compared",
                            "ask locked(L), held(L), read_locked(L) or write_locked(L)", "NC303")
        if not comparable(left.type, right.type):
            raise self.fail(node, f"cannot compare {left.type} with {right.type}",
                            "compare values of one type; len(L) is the length of a list or set", "NC303")
        return Compare(BOOL, sp, "==", left, right)

    def x_IfExp(self, node: ast.IfExp) -> Expr:
        cond = self.boolean(node.test)
        then, orelse = self.expr(node.body), self.expr(node.orelse)
        if isinstance(then.type, LockT) or isinstance(orelse.type, LockT):
            raise self.fail(node, "a lock is not a value and cannot be chosen with 'if'",
                            "choose between the tests instead: locked(a) if C else locked(b)", "NC303")
        t = unify(then.type, orelse.type)
        if t is None:
            raise self.fail(node, f"both branches must have one type, got {then.type} and {orelse.type}",
                            "make both branches the same kind of value", "NC303")
        return IfExp(t, self.span(node), cond, then, orelse)

    def x_Set(self, node: ast.Set) -> Expr:
        items = tuple(self.expr(e) for e in node.elts)
        entities = {i.type.entity for i in items if isinstance(i.type, RefT)}
        if len(entities) != 1 or not all(isinstance(i.type, RefT) for i in items):
            raise self.fail(node, "a set literal holds elements of one entity", "write {a, b} with elements only",
                            "NC303")
        return SetLit(SetT(entities.pop()), self.span(node), items)

    def x_List(self, node: ast.List) -> Expr:
        items = tuple(self.expr(e) for e in node.elts)
        if not items:
            return ListLit(ListT(""), self.span(node), ())
        entities = {i.type.entity for i in items if isinstance(i.type, RefT)}
        if len(entities) != 1 or not all(isinstance(i.type, RefT) for i in items):
            raise self.fail(node, "a list literal holds elements of one entity", "write [a, b] with elements only",
                            "NC303")
        return ListLit(ListT(entities.pop()), self.span(node), items)

    def x_Call(self, node: ast.Call) -> Expr:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, "only the built-in functions can be called", _functions_hint(), "NC307")
        fn = node.func.id
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(node, f"{fn}() takes plain positional arguments", "remove name= and *", "NC307")
        if fn in QUANTIFIERS:
            return self._quantifier(node, fn)
        if fn == "running":
            return self._running(node)
        if fn in ("at", "held_by", "read_held_by", "queued"):
            return self._at(node) if fn == "at" else self._held_by(node, fn)
        if fn == "local" and self.scope.threads:
            return self._local(node)
        if fn in self.scope.broken:  # a procedure whose signature was refused
            raise ExprError(self.span(node), "NC307", f"'{fn}' was not declared correctly", "", follow_on=True)
        if fn.startswith("__"):
            raise self.fail(node, f"name '{fn}' is not allowed", "dunder names have no meaning in specs", "NC302")
        if fn not in PURE_FUNCTIONS:
            raise self.fail(node, f"unknown function '{fn}'",
                            did_you_mean(fn, [*PURE_FUNCTIONS, *QUANTIFIERS]) or _functions_hint(), "NC307")
        if len(node.args) != PURE_FUNCTIONS[fn]:
            raise self.fail(node, f"{fn}() takes {PURE_FUNCTIONS[fn]} argument(s), got {len(node.args)}",
                            f"write {SIGNATURES[fn]}", "NC307")
        args = tuple(self.expr(a) for a in node.args)
        return self._typed_call(node, fn, args)

    def _running(self, node: ast.Call) -> Expr:
        """running(proc): how many threads are inside that procedure now (properties only)."""
        if not self.scope.procedures:
            raise self.fail(node, "running() can only be used in properties",
                            "it counts threads by where they are; procedures cannot see that", "NC307")
        if len(node.args) != 1 or not isinstance(node.args[0], ast.Name):
            raise self.fail(node, "running() takes one procedure name", "write running(setup_net)", "NC307")
        name = node.args[0].id
        if name not in self.scope.procedures:
            raise self.fail(node.args[0], f"undefined procedure '{shorten(name)}'",
                            did_you_mean(name, self.scope.procedures) or "name a procedure", "NC306")
        return Running(INT, self.span(node), name)

    def _thread(self, node: ast.Call, arg: ast.AST, fn: str) -> str:
        """A thread instance named as its threads: entry writes it: `worker`, `worker[0]`, `creator[net0]`."""
        if not self.scope.threads:
            raise self.fail(node, f"{fn}() can only be used in lemmas",
                            "it asks where a thread stands or what it holds; write it under lemmas:", "NC307")
        name = ast.unparse(arg).replace(" ", "") if isinstance(arg, (ast.Name, ast.Subscript)) else ""
        if name not in self.scope.threads:
            raise self.fail(arg, f"no thread instance '{shorten(name or ast.unparse(arg))}'",
                            did_you_mean(name, sorted(self.scope.threads)) or "name a thread instance such as "
                            "worker, worker[0] or creator[net0]", "NC306")
        return name

    def _threads(self, node: ast.Call, arg: ast.AST, fn: str) -> list[tuple[Expr | None, str]]:
        """The thread instances an argument names: one (`worker`, `creator[net0]`), or `creator[n]` with `n`
        bound by an enclosing quantifier: per element n can be (of the entity or group it ranges over, else of
        its entity), (n == element, its instance or '' when the family has none for it)."""
        var = arg.slice.id if isinstance(arg, ast.Subscript) and isinstance(arg.slice, ast.Name) else ""
        if not (var in self.bound and isinstance(arg, ast.Subscript) and isinstance(arg.value, ast.Name)
                and self.scope.threads):
            return [(None, self._thread(node, arg, fn))]
        ref = self.bound[var]
        assert isinstance(ref, RefT)
        within = self.bound_within.get(var, -1)
        names = [(k, f"{arg.value.id}[{element}]") for k, element in enumerate(self.scope.entities[ref.entity])
                 if within >> k & 1]
        if not any(name in self.scope.threads for _, name in names):
            raise self.fail(arg, f"no thread instance '{arg.value.id}[...]' runs for an element of {ref.entity}",
                            did_you_mean(names[0][1], sorted(self.scope.threads)) or "name a thread family that "
                            f"runs for each element of {ref.entity}", "NC306")
        sp = self.span(arg)
        return [(Compare(BOOL, sp, "==", Bound(ref, sp, var), Const(RefT(ref.entity), sp, k)),
                 name if name in self.scope.threads else "") for k, name in names]

    @staticmethod
    def _per_thread(threads: list[tuple[Expr | None, str]], make: Callable[[str], Expr]) -> Expr:
        """`make` of the one instance, or of each instance chosen by its condition (the last one otherwise)."""
        out = make(threads[-1][1])
        for cond, name in reversed(threads[:-1]):
            assert cond is not None
            out = IfExp(out.type, out.span, cond, make(name), out)
        return out

    def _at(self, node: ast.Call) -> Expr:
        """at(THREAD, "FILE:LINE", ...): where a thread instance stands (lemmas only)."""
        if len(node.args) < 2:
            raise self.fail(node, "at() takes a thread and at least one place", f"write {SIGNATURES['at']}",
                            "NC307")
        threads = self._threads(node, node.args[0], "at")
        places = []
        for a in node.args[1:]:
            if not (isinstance(a, ast.Constant) and isinstance(a.value, str) and PLACE_RE.match(a.value)):
                raise self.fail(a, "a place is a quoted \"FILE:LINE\", \"FILE:LINE#K\" or \"finished\"",
                                'write at(worker, "spec.yaml:12") with the line of a statement', "NC307")
            places.append(a.value)
        sp = self.span(node)
        return self._per_thread(threads, lambda t: At(BOOL, sp, t, tuple(places)) if t else Const(BOOL, sp, False))

    def _held_by(self, node: ast.Call, fn: str) -> Expr:
        """held_by(LOCK, THREAD): a thread instance owns a lock; read_held_by(RWSEM, THREAD), queued(RWSEM,
        THREAD): it holds an rwsem for read, waits in its queue (lemmas only)."""
        if len(node.args) != 2:
            raise self.fail(node, f"{fn}() takes a lock and a thread", f"write {SIGNATURES[fn]}", "NC307")
        threads = self._threads(node, node.args[1], fn)
        lock = self.expr(node.args[0])
        if not isinstance(lock, LockRef):
            raise self.fail(node.args[0], f"{fn}() takes a lock first, got {lock.type}", "name a lock", "NC303")
        mode = {"held_by": "own", "read_held_by": "read", "queued": "queued"}[fn]
        if mode != "own" and self.scope.locks[lock.name][0] != "rwsem":
            raise self.fail(node.args[0], f"{fn}() takes an rwsem, got the {self.scope.locks[lock.name][0]} "
                            f"{lock.name}", "use held_by() for a mutex or spinlock", "NC303")
        sp = self.span(node)
        return self._per_thread(threads, lambda t: HeldBy(BOOL, sp, lock, t, mode) if t else Const(BOOL, sp, False))

    def _local(self, node: ast.Call) -> Expr:
        """local(THREAD, NAME): a thread instance's local variable (lemmas only)."""
        qualified = node.args[1] if len(node.args) == 2 else None
        if isinstance(qualified, ast.Attribute) and isinstance(qualified.value, ast.Name):
            name = f"{qualified.value.id}.{qualified.attr}"   # PROC.NAME: that procedure's frame
        elif isinstance(qualified, ast.Name):
            name = qualified.id
        else:
            raise self.fail(node, "local() takes a thread and a local variable's name",
                            f"write {SIGNATURES['local']}", "NC307")
        threads = self._threads(node, node.args[0], "local")
        if any(not thread for _, thread in threads):
            element = ast.unparse(node.args[0]).replace(" ", "")
            raise self.fail(node.args[0], f"{element} names no thread instance for every element it ranges over",
                            "quantify over the elements the threads run for, or name one instance", "NC306")
        if name not in self.scope.thread_locals:
            raise self.fail(node.args[1], f"no procedure has a local '{shorten(name)}'",
                            did_you_mean(name, sorted(self.scope.thread_locals)) or
                            "name a parameter, a local or a loop variable", "NC306")
        t = self.scope.thread_locals[name]
        if t is None:
            raise self.fail(node.args[1], f"the locals named '{shorten(name)}' have different types",
                            "rename one of them", "NC303")
        sp = self.span(node)
        return self._per_thread(threads, lambda thread: ThreadLocal(t, sp, thread, name))

    def _typed_call(self, node: ast.AST, fn: str, args: tuple[Expr, ...]) -> Expr:
        sp = self.span(node)
        first = args[0].type
        if fn in LOCK_PREDICATES:
            if not isinstance(first, LockT):
                raise self.fail(node, f"{fn}() takes a lock, got {first}", "pass a lock declared under locks:",
                                "NC303")
            if fn in BY_ME:
                self._check_held(node, fn, args[0])
            return Call(BOOL, sp, fn, args)
        if fn in ("refcount_read", "atomic_read", "completion_done"):
            want = {"refcount_read": "refcount_t", "atomic_read": "atomic_t"}.get(fn, "completion")
            counter = getattr(first, "counter", None)
            if counter is None or counter.value != want:
                raise self.fail(node, f"{fn}() takes a {want}, got {first}", f"pass a variable declared as {want}",
                                "NC303")
            if fn == "completion_done":   # done != 0: a wait would not sleep
                return Compare(BOOL, sp, "!=", args[0], Const(INT, sp, 0))
            return args[0]   # the counter's value itself
        if fn in ("min", "max"):
            for a in args:
                if not isinstance(a.type, IntT):
                    raise self.fail(node, f"{fn}() takes two integers, got {a.type}", f"{fn}(a, b) of int values",
                                    "NC303")
            return Call(INT, sp, fn, args)
        if fn in ("len", "empty"):
            if not isinstance(first, (SetT, ListT)):
                raise self.fail(node, f"{fn}() takes a list or a set, got {first}", "pass a list or set variable",
                                "NC303")
            return Call(INT if fn == "len" else BOOL, sp, fn, args)
        if not isinstance(first, ListT) or not first.entity:
            raise self.fail(node, f"{fn}() takes a list first, got {first}", "pass a list variable", "NC303")
        for i, a in enumerate(args[1:]):
            if i == 0 and fn in ("next", "prev") and isinstance(a.type, NullT):
                continue  # null is the list head: next(L, null) is the first element
            if not (isinstance(a.type, RefT) and a.type.entity == first.entity):
                raise self.fail(node, f"{fn}() takes elements of {first.entity}, got {a.type}",
                                f"pass elements of {first.entity}", "NC303")
        results: dict[str, Type] = {"first": RefT(first.entity, True), "last": RefT(first.entity, True),
                                    "next": RefT(first.entity, True), "prev": RefT(first.entity, True),
                                    "index": INT, "before": BOOL}
        return Call(results[fn], sp, fn, args)

    def _not_srcu(self, node: ast.AST, name: str, kind: str) -> None:
        """An srcu_struct is an SRCU domain, not a lock: only the SRCU statements name it."""
        if kind == "srcu":
            raise self.fail(node, f"'{name}' is an SRCU domain, not a lock a condition or lock call can name",
                            f"srcu_read_lock: {name} / srcu_read_unlock: {name} / synchronize_srcu: {name}", "NC219")

    def _check_held(self, node: ast.AST, fn: str, lock: Expr) -> None:
        """held(), held_read(), held_write() ask about the current thread, and the last two about an rwsem."""
        assert isinstance(lock, LockRef) and isinstance(lock.type, LockT)
        if not self.scope.in_thread:
            raise self.fail(node, f"{fn}() asks about the current thread, and there is none here",
                            "use it in a procedure (assert:, if:, while:, await:); in properties write locked(), "
                            "read_locked() or write_locked(), which mean held by any thread", "NC307")
        if fn != "held" and lock.type.kind != "rwsem":
            raise self.fail(node, f"{fn}() takes an rwsem; '{lock.name}' is a {lock.type.kind}",
                            f"a {lock.type.kind} has one owner and no modes: write held({lock.name})", "NC303")

    def _quantifier(self, node: ast.Call, fn: str) -> Expr:
        if len(node.args) != 1 or not isinstance(node.args[0], ast.GeneratorExp):
            raise self.fail(node, f"{fn}() takes a generator: {fn}(... for x in DOMAIN)",
                            "list, set and dict comprehensions and lambdas are not part of the language", "NC307")
        gen = node.args[0]
        return self._generators(node, fn, gen, list(gen.generators))

    def _generators(self, node: ast.AST, fn: str, gen: ast.GeneratorExp, comps: list[ast.comprehension]) -> Expr:
        comp = comps[0]
        if comp.is_async or not isinstance(comp.target, ast.Name):
            raise self.fail(comp, "generators bind one plain name: for x in DOMAIN", "write ... for x in DOMAIN",
                            "NC307")
        var = comp.target.id
        if var in self.bound or var in self.scope.locals or var in self.scope.shared:
            raise self.fail(comp.target, f"'{var}' already has a meaning here", "pick another name", "NC308")
        domain = self.expr(comp.iter)
        if not isinstance(domain.type, (SetT, ListT)) or not domain.type.entity:
            raise self.fail(comp.iter, f"cannot range over {domain.type}",
                            "range over an entity, a group, a set or a list", "NC303")
        self.bound[var] = RefT(domain.type.entity)
        if isinstance(domain, Const) and isinstance(domain.value, int):
            self.bound_within[var] = domain.value
        try:
            conds = [self.boolean(c) for c in comp.ifs]
            if len(comps) > 1:
                inner_kind = fn if fn in ("all", "any") else ("sum" if fn == "sum" else "count")
                body = self._generators(node, inner_kind, gen, comps[1:])
                kind = fn if fn in ("all", "any") else "sum"
            else:
                body = self.expr(gen.elt)
                kind = fn
                if fn in ("all", "any", "count") and not isinstance(body.type, BoolT):
                    raise self.fail(gen.elt, f"{fn}() needs a condition, got {body.type}",
                                    "use sum() to add up integers" if fn == "count" else
                                    "write a comparison such as x == 0", "NC303")
                if fn == "sum" and not isinstance(body.type, IntT):
                    raise self.fail(gen.elt, f"sum() needs integers, got {body.type}",
                                    "use count() to count the elements where a condition holds", "NC303")
        finally:
            del self.bound[var]
            self.bound_within.pop(var, None)
        cond: Expr | None = None
        if conds:
            cond = conds[0] if len(conds) == 1 else BoolOp(BOOL, conds[0].span, "and", tuple(conds))
        result = BOOL if kind in ("all", "any") else INT
        return Quant(result, self.span(node), kind, var, domain, cond, body)


def comparable(a: Type, b: Type) -> bool:
    if isinstance(a, NullT) or isinstance(b, NullT):
        other = b if isinstance(a, NullT) else a
        return isinstance(other, (RefT, NullT))
    if isinstance(a, RefT) and isinstance(b, RefT):
        return a.entity == b.entity
    if isinstance(a, IntT) and isinstance(b, IntT):
        return True
    if isinstance(a, ListT) and isinstance(b, ListT):
        return a.entity == b.entity or "" in (a.entity, b.entity)
    return type(a) is type(b) and (a == b or isinstance(a, BoolT))


def unify(a: Type, b: Type) -> Type | None:
    """The common type of two values, or None."""
    if isinstance(a, NullT) and isinstance(b, RefT):
        return RefT(b.entity, True)
    if isinstance(b, NullT) and isinstance(a, RefT):
        return RefT(a.entity, True)
    if isinstance(a, RefT) and isinstance(b, RefT) and a.entity == b.entity:
        return RefT(a.entity, a.nullable or b.nullable)
    if isinstance(a, IntT) and isinstance(b, IntT):
        return INT
    if isinstance(a, ListT) and isinstance(b, ListT):
        return a if a.entity else b
    return a if a == b else None


def assignable(target: Type, value: Type) -> bool:
    """Whether a value of type `value` may be stored where `target` is declared."""
    if isinstance(target, RefT):
        if isinstance(value, NullT):
            return target.nullable
        return isinstance(value, RefT) and value.entity == target.entity
    if isinstance(target, IntT):
        return isinstance(value, IntT)
    if isinstance(target, ListT):
        return isinstance(value, ListT) and value.entity in (target.entity, "")
    return target == value or (isinstance(target, BoolT) and isinstance(value, BoolT))


def _describe_node(node: ast.AST) -> str:
    names = {"Attribute": "attribute access (.)", "Lambda": "lambda", "ListComp": "list comprehension",
             "SetComp": "set comprehension", "DictComp": "dict comprehension", "Dict": "dict literal",
             "JoinedStr": "f-string", "Starred": "*", "Await": "await", "Yield": "yield",
             "NamedExpr": ":=", "Slice": "slice", "Pow": "**", "Mult": "*", "Div": "/", "Mod": "%",
             "FloorDiv": "//", "LShift": "<<", "RShift": ">>", "BitXor": "^", "Invert": "~", "UAdd": "+x",
             "MatMult": "@", "BinOp": "operator", "UnaryOp": "operator", "GeneratorExp": "generator expression",
             "Tuple": "tuple", "Expr": "bare expression", "Import": "import", "ImportFrom": "import",
             "Delete": "del", "AnnAssign": "annotated assignment", "Pass": "pass", "Assert": "assert",
             "If": "if", "While": "while", "For": "for", "FunctionDef": "def", "ClassDef": "class",
             "Global": "global", "Nonlocal": "nonlocal", "Raise": "raise", "Try": "try", "With": "with",
             "Return": "return", "Break": "break", "Continue": "continue", "Match": "match",
             "Subscript": "indexing", "Name": "name", "Constant": "constant", "Call": "call"}
    name = type(node).__name__
    if isinstance(node, ast.BinOp):
        name = type(node.op).__name__
    if isinstance(node, ast.UnaryOp):
        name = type(node.op).__name__
    return names.get(name, name)


def _functions_hint() -> str:
    return "functions: " + ", ".join([*PURE_FUNCTIONS, *QUANTIFIERS, "running"])


def _syntax_tree(text: str, base: Span, mode: str) -> ast.AST:
    if len(text) > MAX_EXPR_CHARS:
        raise ExprError(base, "NC309", f"expression longer than {MAX_EXPR_CHARS} characters", "split it up")
    try:
        with warnings.catch_warnings():  # e.g. "1in x" warns on stderr: the spec's problems are errors or nothing
            warnings.simplefilter("ignore")
            tree = ast.parse(text.strip(), mode=mode)
    except SyntaxError as err:
        col = (err.offset or 1) - 1
        line = err.lineno or 1
        span = base.shifted(col) if line == 1 else Span(base.file, base.line + line - 1, col + 1)
        raise ExprError(span, "NC310", f"syntax error in expression: {err.msg}", "check the expression") from None
    except (RecursionError, MemoryError, ValueError):
        raise ExprError(base, "NC309", "expression too deeply nested", "simplify it") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_EXPR_NODES:
        raise ExprError(base, "NC309", f"expression has {count} parts, over the {MAX_EXPR_NODES} limit",
                        "split it into several properties or use quantifiers")
    return tree


def parse_expr(text: object, scope: Scope, base: Span, wait_queue: bool = False) -> Expr:
    """Parse and type-check one expression written in a spec. A wait queue is not a value: it may only be
    the whole expression, and only where `wait_queue` says a wait-queue statement names it."""
    source = _expr_text(text, base)
    tree = _syntax_tree(source, base, "eval")
    assert isinstance(tree, ast.Expression)
    e = _Checker(scope, base, source).expr(tree.body)
    return no_wait_queue(e, e if wait_queue else None)


def no_wait_queue(e: Expr, allowed: Expr | None = None) -> Expr:
    """`e`, checked not to use a wait queue as a value (`allowed`: the one place that names a queue)."""
    for x in walk(e):
        if isinstance(x, Shared) and isinstance(x.type, WaitQueueT) and x is not allowed:
            raise ExprError(x.span, "NC217", f"'{x.name}' is a wait queue, not a value",
                            "only wait_event, wake_up, prepare_to_wait and finish_wait name it; test the "
                            "condition the sleepers wait for instead")
    return e


def parse_condition(text: object, scope: Scope, base: Span) -> Expr:
    e = parse_expr(text, scope, base)
    if not isinstance(e.type, BoolT):
        raise ExprError(base, "NC303", f"expected a condition (bool), got {e.type}",
                        "write a comparison such as x == 0, or a test such as empty(L)")
    return e


def _expr_text(text: object, base: Span) -> str:
    if isinstance(text, bool):
        return "true" if text else "false"
    if isinstance(text, int) or text is None:
        return "null" if text is None else str(text)
    if not isinstance(text, str):
        raise ExprError(base, "NC303", "expected an expression", "write the expression as text")
    return text


# ---------------------------------------------------------------- statement strings


@dataclass(frozen=True)
class AssignForm:
    """`a = e`, `a, b = e1, e2`, `a += e`, or `x = proc(args)`; targets are lvalue Exprs."""

    targets: tuple[Expr, ...]
    values: tuple[Expr, ...]
    call: tuple[str, tuple[ast.AST, ...], Span] | None = None
    indirect: ast.Call | None = None   # x = o.slot(args): a call through an element (model/lang/callbacks.py)


@dataclass(frozen=True)
class CallForm:
    """A bare call statement: a mutating list builtin or a procedure (args left unchecked for procedures); `fn`
    '' : a call through an element, `o.slot(args)`."""

    fn: str
    node: ast.Call
    span: Span


MUTATORS = {"list_add": 2, "list_add_tail": 2, "list_add_before": 3, "list_del": 2,
            "list_add_rcu": 2, "list_add_tail_rcu": 2, "list_del_rcu": 2}


def parse_statement(text: str, scope: Scope, base: Span, procedures: Mapping[str, object]) -> AssignForm | CallForm:
    """Parse a one-line statement string: an assignment or a call."""
    tree = _syntax_tree(text, base, "exec")
    assert isinstance(tree, ast.Module)
    if len(tree.body) != 1:
        raise ExprError(base, "NC311", "write one statement per list item", "split it into several items")
    node = tree.body[0]
    checker = _Checker(scope, base, text)
    if scope.has_callbacks() and isinstance(node, ast.Expr) and _indirect(node.value):
        assert isinstance(node.value, ast.Call)
        return CallForm("", node.value, checker.span(node.value))
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name):
        fn = node.value.func.id
        if fn in MUTATORS or fn in procedures:
            return CallForm(fn, node.value, checker.span(node.value))
        error = checker.fail(node.value, f"unknown statement '{fn}(...)'",
                             did_you_mean(fn, [*MUTATORS, *procedures]) or "call a procedure or a list function",
                             "NC311")
        error.follow_on = fn in scope.broken  # a procedure whose signature was refused
        raise error
    if isinstance(node, ast.AugAssign):
        if not isinstance(node.op, (ast.Add, ast.Sub, ast.BitOr, ast.BitAnd)):
            raise checker.fail(node, "only +=, -=, |= and &= are allowed", "write x = EXPR", "NC311")
        target = checker.expr(node.target)
        value = checker.expr(ast.BinOp(left=node.target, op=node.op, right=node.value,
                                       lineno=node.lineno, col_offset=node.col_offset))
        return AssignForm((no_wait_queue(target),), (no_wait_queue(value),))
    if isinstance(node, ast.Assign):
        if len(node.targets) != 1:
            raise checker.fail(node, "chained assignment is not allowed", "assign one target", "NC311")
        tnode = node.targets[0]
        tnodes = list(tnode.elts) if isinstance(tnode, ast.Tuple) else [tnode]
        targets = tuple(no_wait_queue(checker.expr(t)) for t in tnodes)
        v = node.value
        if scope.has_callbacks() and _indirect(v) and len(targets) == 1:
            assert isinstance(v, ast.Call)
            return AssignForm(targets, (), indirect=v)
        if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id in procedures:
            if len(targets) != 1:
                raise checker.fail(node, "a procedure returns one value", "assign its result to one variable",
                                   "NC311")
            return AssignForm(targets, (), (v.func.id, tuple(v.args), checker.span(v)))
        vnodes = list(v.elts) if isinstance(v, ast.Tuple) and len(tnodes) > 1 else [v]
        if len(vnodes) != len(tnodes):
            raise checker.fail(node, f"{len(tnodes)} targets but {len(vnodes)} values",
                               "write one value per target: a, b = x, y", "NC311")
        values = tuple(no_wait_queue(checker.expr(x)) for x in vnodes)
        return AssignForm(targets, values)
    if isinstance(node, ast.Expr):
        raise checker.fail(node, f"'{shorten(text.strip())}' is an expression, not a statement",
                           "statements are assignments (x = e) and calls; conditions go under if:, await: or assert:",
                           "NC311")
    raise checker.fail(node, f"'{_describe_node(node)}' is not a statement the spec language knows",
                       "statements are assignments (x = e), calls, or the mapping forms (if:, while:, ...)",
                       "NC311")


def _indirect(node: ast.AST) -> bool:
    """`o.slot(args)`: a call through an element's callback slot."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value,
                                                                                                ast.Name)


def check_expr_node(scope: Scope, base: Span, text: str, node: ast.AST) -> Expr:
    """Type-check one sub-tree of a parsed statement (used for call arguments)."""
    return no_wait_queue(_Checker(scope, base, text).expr(node))
