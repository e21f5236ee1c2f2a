"""The value types of the spec language and the parser for type strings such as `list<ops>` or `int[0..2]`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True)
class BoolT:
    def __str__(self) -> str:
        return "bool"


class Counter(Enum):
    """The kernel counter types: integers that only their own API changes (model/lang/counterapi.py)."""

    REFCOUNT = "refcount_t"
    ATOMIC = "atomic_t"
    COMPLETION = "completion"


@dataclass(frozen=True)
class IntT:
    """Integers; `lo`/`hi` bound stored variables (expressions are unbounded). A `counter` is a refcount_t,
    atomic_t or completion: an int to expressions, changed only by its API. A completion's `done` counts
    0..hi-1 pending complete() calls; `hi` itself encodes complete_all() (the kernel's UINT_MAX)."""

    lo: int | None = None
    hi: int | None = None
    counter: Counter | None = None

    def __str__(self) -> str:
        if self.counter is Counter.COMPLETION:
            return f"completion[{(self.hi or 1) - 1}]"
        if self.counter is not None:
            return f"{self.counter.value}[{self.lo}..{self.hi}]"
        return "int" if self.lo is None else f"int[{self.lo}..{self.hi}]"


@dataclass(frozen=True)
class EnumT:
    name: str
    values: tuple[str, ...]

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class RefT:
    """An element of an entity; `nullable` admits null (for a list position: the list head)."""

    entity: str
    nullable: bool = False

    def __str__(self) -> str:
        return self.entity + ("?" if self.nullable else "")


@dataclass(frozen=True)
class SetT:
    entity: str

    def __str__(self) -> str:
        return f"set<{self.entity}>"


@dataclass(frozen=True)
class ListT:
    """A kernel `list_head` list of distinct elements of an entity."""

    entity: str

    def __str__(self) -> str:
        return f"list<{self.entity}>" if self.entity else "[] (an empty list)"


@dataclass(frozen=True)
class NullT:
    def __str__(self) -> str:
        return "null"


@dataclass(frozen=True)
class LockT:
    kind: str

    def __str__(self) -> str:
        return self.kind


@dataclass(frozen=True)
class WaitQueueT:
    """A `wait_queue_head_t`: the threads sleeping on it (model/lang/waitapi.py). Not a value: only the
    wait-queue statements name it."""

    def __str__(self) -> str:
        return "wait_queue_head_t"


Type = BoolT | IntT | EnumT | RefT | SetT | ListT | NullT | LockT | WaitQueueT

BOOL = BoolT()
INT = IntT()
WAIT_QUEUE = WaitQueueT()
NULL = NullT()

_TYPE_RE = re.compile(
    r"^\s*(?:(?P<bool>bool)|(?P<waitq>wait_queue_head_t)|(?P<counter>refcount_t|atomic_t|completion)\s*(?:\[\s*(?P<clo>-?\d{1,6})\s*"
    r"(?:\.\.\s*(?P<chi>-?\d{1,6})\s*)?\])?|int\s*\[\s*(?P<lo>-?\d+)\s*\.\.\s*(?P<hi>-?\d+)\s*\]|(?P<int>int)"
    r"|(?P<coll>set|list)\s*<\s*(?P<elem>[A-Za-z_]\w*)\s*>"
    r"|enum\s*\{(?P<enum>[^}]*)\}|(?P<name>[A-Za-z_]\w*)\s*(?P<q>\?)?)\s*$"
)


MAX_TYPE = 1000


def _short(text: str) -> str:
    text = text.strip()
    return text if len(text) <= 60 else text[:57] + "..."


class TypeSyntaxError(ValueError):
    """Raised with a message and a hint for a malformed type string."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.hint = hint


def parse_type(text: str, entities: set[str], aliases: dict[str, Type], enum_name: str = "") -> Type:
    """Parse a type string; entity names and `types:` aliases are the only names it knows."""
    hint = ("types are bool, int[LO..HI], enum{A, B}, ENTITY, ENTITY?, set<ENTITY>, list<ENTITY>, refcount_t[0..N], "
            "atomic_t[LO..HI], completion[N], wait_queue_head_t")
    if len(text) > MAX_TYPE:  # (also keeps the regex's backtracking on long runs of spaces cheap)
        raise TypeSyntaxError(f"type longer than {MAX_TYPE} characters", hint)
    m = _TYPE_RE.match(text)
    if not m:
        raise TypeSyntaxError(f"malformed type '{_short(text)}'", hint)
    if m["bool"]:
        return BOOL
    if m["waitq"]:
        return WAIT_QUEUE
    if m["counter"]:
        return _counter(Counter(m["counter"]), m["clo"], m["chi"])
    if m["int"]:
        raise TypeSyntaxError("stored integers need a range", "write int[0..3]")
    if m["lo"] is not None:
        if max(len(m["lo"]), len(m["hi"])) > 12:  # int() of thousands of digits fails (or takes long)
            raise TypeSyntaxError(f"bad integer range in '{_short(text)}'", "keep ranges small")
        lo, hi = int(m["lo"]), int(m["hi"])
        if lo > hi or hi - lo > 1 << 16:
            raise TypeSyntaxError(f"bad integer range {lo}..{hi}", "LO must not exceed HI; keep ranges small")
        return IntT(lo, hi)
    if m["coll"]:
        elem = m["elem"]
        if elem not in entities:
            raise TypeSyntaxError(f"unknown entity '{elem}' in type '{_short(text)}'", "declare it under entities:")
        return SetT(elem) if m["coll"] == "set" else ListT(elem)
    if m["enum"] is not None:
        values = tuple(v.strip() for v in m["enum"].split(","))
        if not values or any(not re.fullmatch(r"[A-Za-z_]\w*", v) for v in values) or len(set(values)) != len(values):
            raise TypeSyntaxError(f"malformed enum '{_short(text)}'", "write enum{a, b, c} with distinct names")
        return EnumT(enum_name or "enum{" + ", ".join(values) + "}", values)
    name = m["name"]
    if name in entities:
        return RefT(name, bool(m["q"]))
    if name in aliases and not m["q"]:
        return aliases[name]
    raise TypeSyntaxError(f"unknown type '{_short(name)}'", hint)


MAX_COMPLETIONS = 8   # pending complete() calls a completion counts at most (completion[N])


def _counter(kind: Counter, lo_text: str | None, hi_text: str | None) -> IntT:
    """refcount_t[0..N], atomic_t[LO..HI], completion or completion[N] (N pending complete() calls, default 2)."""
    if kind is Counter.COMPLETION:
        if hi_text is not None:
            raise TypeSyntaxError("completion[N] takes one bound", "write completion[2]: at most 2 pending complete()")
        n = 2 if lo_text is None else int(lo_text)
        if not 1 <= n <= MAX_COMPLETIONS:
            raise TypeSyntaxError(f"completion[{n}]: the bound must be 1..{MAX_COMPLETIONS}",
                                  "it bounds the complete() calls nobody has waited for yet")
        return IntT(0, n + 1, kind)
    if lo_text is None or hi_text is None:
        raise TypeSyntaxError(f"{kind.value} needs a range (the state must stay finite)",
                              f"write {kind.value}[0..3]: going beyond it is a runtime_safety violation")
    lo, hi = int(lo_text), int(hi_text)
    if lo > hi or hi - lo > 1 << 16:
        raise TypeSyntaxError(f"bad {kind.value} range {lo}..{hi}", "LO must not exceed HI; keep ranges small")
    if kind is Counter.REFCOUNT and (lo != 0 or hi < 1):
        raise TypeSyntaxError(f"refcount_t[{lo}..{hi}]: a reference count ranges from 0",
                              "write refcount_t[0..N] with N >= 1")
    return IntT(lo, hi, kind)


def is_counter(t: Type, kind: Counter | None = None) -> bool:
    """A refcount_t, atomic_t or completion (of that kind, if given)."""
    return isinstance(t, IntT) and t.counter is not None and (kind is None or t.counter is kind)


def is_scalar(t: Type) -> bool:
    return isinstance(t, (BoolT, IntT, EnumT, RefT))
