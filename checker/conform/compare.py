"""Does the spec say what the code does? Spec procedures against C functions, and a spec's changes
(relative to the spec it extends) against a patch's.

A procedure is paired with the C function named by its `source:` key, or else of its own name. Both
skeletons are read as their straight-line events (skeleton.py) and diffed: lock and RCU operations
always, calls only to procedures both sides can know about (the callee is defined in the C sources given,
or called by that name on both sides). A patch is compared change by change: every lock operation it adds
or removes in a function must be added or removed in the procedure for it, and nothing else.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import Enum

from netcheck.model.lang import spec as S
from netcheck.model.lang.errors import Span

from .patch import Change, Hunk, function_changes
from .skeleton import Event, Exit, Op, OpKind, Skeleton, events, from_procedure, inline, walk


class DiffKind(Enum):
    MISSING = "missing"                 # the spec has it, the C does not
    EXTRA = "extra"                     # the C has it, the spec does not
    LOCK = "different lock"
    MODE = "different mode"
    OPERATION = "different operation"   # same lock and mode, another call (mutex_lock / mutex_lock_killable)
    ORDER = "different order"
    HELD = "held across a different call"
    EXIT = "returns holding"            # a way out of the function with locks the other side never keeps


@dataclass(frozen=True)
class Difference:
    kind: DiffKind
    message: str
    spec_at: Span
    c_at: Span


@dataclass(frozen=True)
class Pair:
    """A spec procedure and the C function it models, and how their lock operations differ."""

    procedure: str
    function: str
    spec_at: Span
    c_at: Span
    compared: int                       # events compared (spec side)
    differences: tuple[Difference, ...]
    unmodelled: tuple[Op, ...] = ()     # C operations on locks the spec does not declare (not compared)


@dataclass(frozen=True)
class SourceReport:
    spec: str
    sources: tuple[str, ...]
    pairs: tuple[Pair, ...]
    not_found: tuple[str, ...]          # procedures with a source: key no C file given defines

    @property
    def differences(self) -> int:
        return sum(len(p.differences) for p in self.pairs)

    @property
    def unmodelled(self) -> int:
        return sum(len(p.unmodelled) for p in self.pairs)


def c_name(proc: S.Procedure) -> str:
    """The C function a procedure models."""
    return proc.source or proc.name


def compare_sources(spec: S.Spec, skeletons: Sequence[Skeleton], sources: tuple[str, ...]) -> SourceReport:
    """Every procedure that has a C function among `skeletons`, compared with it."""
    by_name = {sk.function: sk for sk in reversed(skeletons)}   # the first definition wins
    to_c = {p.name: c_name(p) for p in spec.procedures}
    from_c = {c: p for p, c in reversed(list(to_c.items()))}
    helpers = {name: sk for name, sk in by_name.items() if name not in from_c}
    locks = frozenset(lock.name for lock in spec.locks)
    pairs = []
    for proc in spec.procedures:
        c_sk = by_name.get(to_c[proc.name])
        if c_sk is not None:
            pairs.append(_pair(proc, from_procedure(proc, spec), inline(c_sk, helpers), to_c, from_c, set(by_name),
                               locks))
    missing = tuple(p.name for p in spec.procedures if p.source and p.source not in by_name)
    return SourceReport(spec.files[0], sources, tuple(pairs), missing)


def _pair(proc: S.Procedure, spec_sk: Skeleton, c_sk: Skeleton, to_c: dict[str, str], from_c: dict[str, str],
          defined: set[str], locks: frozenset[str]) -> Pair:
    spec_events, spec_exits = walk(spec_sk)
    c_events, c_exits = walk(c_sk)
    spec_ev = [Event(replace(e.op, name=to_c.get(e.op.name, e.op.name)) if e.op.kind is OpKind.CALL else e.op,
                     e.held) for e in spec_events]
    spec_calls = {e.op.name for e in spec_ev if e.op.kind is OpKind.CALL}
    c_calls = {e.op.name for e in c_events if e.op.kind is OpKind.CALL}
    spec_ev = [e for e in spec_ev if e.op.kind is not OpKind.CALL or e.op.name in defined or e.op.name in c_calls]
    c_ev = [e for e in c_events if e.op.kind is not OpKind.CALL
            or (e.op.name in from_c and (e.op.name in defined or e.op.name in spec_calls))]
    c_ev, unmodelled = _declared_locks(c_ev, locks)
    diffs, touched = _diff(spec_ev, c_ev, spec_sk.at, c_sk.at)
    diffs += _exits(spec_exits, c_exits, touched, spec_sk.at, c_sk.at)
    diffs.sort(key=lambda d: (d.spec_at.line, d.c_at.line, d.kind.value))
    return Pair(proc.name, c_sk.function, spec_sk.at, c_sk.at, len(spec_ev), tuple(diffs), unmodelled)


def spec_lock(c_lock: str, locks: frozenset[str]) -> str | None:
    """The spec's lock a normalised C lock expression is: the same name, or (a lock declared `per:` an
    entity) the last field of `net->lock` / `dev.lock`."""
    if c_lock in locks:
        return c_lock
    last = c_lock.replace("->", ".").rsplit(".", 1)[-1]
    return last if last in locks else None


def _declared_locks(c_ev: list[Event], locks: frozenset[str]) -> tuple[list[Event], tuple[Op, ...]]:
    """The C events with their locks named as the spec names them, and the operations on locks the spec
    does not declare (outside the model: not compared)."""
    kept: list[Event] = []
    outside: list[Op] = []
    for e in c_ev:
        if not e.op.lock:
            kept.append(e)
        elif (name := spec_lock(e.op.lock, locks)) is not None:
            kept.append(Event(replace(e.op, lock=name), e.held))
        else:
            outside.append(e.op)
    return kept, tuple(outside)


def _diff(a: list[Event], b: list[Event], a_start: Span, b_start: Span) -> tuple[list[Difference], set[str]]:
    """The differences between the spec's events `a` and the C's `b`, and the locks they concern."""
    matcher = difflib.SequenceMatcher(None, [e.op.key for e in a], [e.op.key for e in b], autojunk=False)
    out: list[Difference] = []
    matched: list[tuple[Event, Event]] = []
    missing: list[tuple[Event, Span]] = []
    extra: list[tuple[Event, Span]] = []
    touched: set[str] = set()           # locks with a difference of their own: not reported again as held
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        a_near = a[a0 - 1].op.at if a0 else a_start
        b_near = b[b0 - 1].op.at if b0 else b_start
        if tag == "equal":
            matched.extend(zip(a[a0:a1], b[b0:b1]))
            continue
        left, right = list(a[a0:a1]), list(b[b0:b1])
        while left and right and left[0].op.kind is right[0].op.kind and left[0].op.kind is not OpKind.CALL:
            s_op, c_op = left.pop(0).op, right.pop(0).op
            touched |= {s_op.lock, c_op.lock}
            out.append(_changed(s_op, c_op))
        missing.extend((e, b_near) for e in left)
        extra.extend((e, a_near) for e in right)
    touched |= {e.op.lock for e, _ in (*missing, *extra)}
    out.extend(_moves_and_leftovers(missing, extra))
    out.extend(_held(matched, touched))
    return out, touched


def _changed(s: Op, c: Op) -> Difference:
    if s.lock != c.lock:
        kind, what = DiffKind.LOCK, f"{s.describe()} in the spec, {c.describe()} in the C"
    elif s.mode != c.mode:
        kind, what = DiffKind.MODE, f"{s.describe()} ({s.mode}) in the spec, {c.describe()} ({c.mode}) in the C"
    else:
        kind, what = DiffKind.OPERATION, f"{s.describe()} in the spec, {c.describe()} in the C"
    return Difference(kind, what, s.at, c.at)


def _moves_and_leftovers(missing: list[tuple[Event, Span]], extra: list[tuple[Event, Span]]) -> list[Difference]:
    out = []
    for e, near in missing:
        twin = next((x for x in extra if x[0].op.key == e.op.key), None)
        if twin is not None:
            extra.remove(twin)
            out.append(Difference(DiffKind.ORDER, f"{e.op.describe()} stands elsewhere in the order of operations",
                                  e.op.at, twin[0].op.at))
        else:
            out.append(Difference(DiffKind.MISSING, f"{e.op.describe()} is in the spec, not in the C", e.op.at, near))
    out.extend(Difference(DiffKind.EXTRA, f"{x.op.describe()} is in the C, not in the spec", near, x.op.at)
               for x, near in extra)
    return out


def _held(matched: list[tuple[Event, Event]], touched: set[str]) -> list[Difference]:
    """Calls made on both sides with other locks held (locks already reported otherwise left out)."""
    out = []
    for s, c in matched:
        if s.op.kind is OpKind.CALL and _sets(s.held, touched) != _sets(c.held, touched):
            out.append(Difference(DiffKind.HELD, f"{s.op.describe()} called holding {_locks(s.held)} in the spec, "
                                  f"{_locks(c.held)} in the C", s.op.at, c.op.at))
    return out


def _exits(spec_exits: tuple[Exit, ...], c_exits: tuple[Exit, ...], touched: set[str], spec_start: Span,
           c_start: Span) -> list[Difference]:
    """Ways out of the function with locks held that the other side never returns with (a dropped unlock on
    an error path)."""
    spec_sets = {h for x in spec_exits for h in _sets(x.held, touched)}
    c_sets = {h for x in c_exits for h in _sets(x.held, touched)}
    out = []
    for x in c_exits:
        for h in sorted(_sets(x.held, touched) - spec_sets, key=sorted):
            out.append(Difference(DiffKind.EXIT, f"the C returns here holding {_one(h)}; the spec never returns "
                                  "holding that", spec_start, x.at))
    for x in spec_exits:
        for h in sorted(_sets(x.held, touched) - c_sets, key=sorted):
            out.append(Difference(DiffKind.EXIT, f"the spec returns here holding {_one(h)}; the C never returns "
                                  "holding that", x.at, c_start))
    return out


def _sets(held: frozenset[tuple[str, ...]], touched: set[str]) -> frozenset[frozenset[str]]:
    return frozenset(frozenset(h for h in alt if h.removesuffix("(read)") not in touched) for alt in held)


def _one(h: frozenset[str]) -> str:
    return ", ".join(sorted(h)) if h else "no lock"


def _locks(held: frozenset[tuple[str, ...]]) -> str:
    shown = sorted({", ".join(alt) if alt else "no lock" for alt in held})
    return " or ".join(f"[{x}]" for x in shown) if shown else "[unreachable]"


# ---------------------------------------------------------------- patches


class Verdict(Enum):
    MATCH = "match"                     # the patch and the spec both make this change
    PATCH_ONLY = "patch only"           # the patch makes it, the spec does not
    SPEC_ONLY = "spec only"             # the spec makes it, the patch does not
    NOT_MODELLED = "not modelled"       # the patch changes a function the spec has no procedure for
    ORDER = "order"                     # the patched function's operations stand in another order in the spec


@dataclass(frozen=True)
class ChangeMatch:
    verdict: Verdict
    sign: str                           # + added, - removed
    operation: str
    function: str                       # the C function ('' for a spec-only change)
    procedure: str                      # the spec procedure ('' when not modelled)
    c_at: Span | None                   # C file:line of the changed line (pre-image for -, post-image for +)
    patch_at: Span | None               # the line of the patch
    spec_at: Span | None                # the spec line that adds it (or the base spec's that it removes)


@dataclass(frozen=True)
class PatchReport:
    spec: str
    base: str
    patch: str
    changes: tuple[ChangeMatch, ...]

    def count(self, verdict: Verdict) -> int:
        return sum(c.verdict is verdict for c in self.changes)

    @property
    def differences(self) -> int:
        return self.count(Verdict.PATCH_ONLY) + self.count(Verdict.SPEC_ONLY) + self.count(Verdict.ORDER)


def spec_changes(child: S.Spec, base: S.Spec) -> dict[str, list[tuple[str, Op]]]:
    """Per procedure of `child`, the operations it adds (+) and removes (-) relative to `base`."""
    to_c = {p.name: c_name(p) for p in (*base.procedures, *child.procedures)}
    base_procs = {p.name: p for p in base.procedures}
    out: dict[str, list[tuple[str, Op]]] = {}
    for proc in child.procedures:
        new = _ops(from_procedure(proc, child), to_c)
        old = _ops(from_procedure(base_procs[proc.name], base), to_c) if proc.name in base_procs else []
        matcher = difflib.SequenceMatcher(None, [o.key for o in old], [o.key for o in new], autojunk=False)
        changed: list[tuple[str, Op]] = []
        for tag, a0, a1, b0, b1 in matcher.get_opcodes():
            if tag != "equal":
                changed.extend(("-", o) for o in old[a0:a1])
                changed.extend(("+", o) for o in new[b0:b1])
        if changed:
            out[proc.name] = changed
    return out


def _ops(sk: Skeleton, to_c: dict[str, str]) -> list[Op]:
    return [replace(e.op, name=to_c.get(e.op.name, e.op.name)) if e.op.kind is OpKind.CALL else e.op
            for e in events(sk)]


def compare_patch(child: S.Spec, base: S.Spec, hunks: tuple[Hunk, ...], patch: str,
                  wrappers: dict[str, S.LockOp]) -> PatchReport:
    """Each lock change of the patch matched with the spec's changes to the procedure for its function."""
    from_c = {c_name(p): p.name for p in reversed(child.procedures)}
    keep: Callable[[Op], bool] = lambda op: op.kind is not OpKind.CALL or op.name in from_c  # noqa: E731
    wanted = spec_changes(child, base)
    out: list[ChangeMatch] = []
    to_c = {p.name: c_name(p) for p in child.procedures}
    for fc in function_changes(hunks, wrappers, keep):
        proc = from_c.get(fc.function, "")
        pending = wanted.get(proc, [])
        for change in fc.changes:
            out.append(_match(change, fc.function, proc, pending))
        if proc:
            out.extend(_order(fc.post, _ops(from_procedure(child.procedure(proc), child), to_c), fc.function, proc))
    for proc, rest in wanted.items():
        out.extend(ChangeMatch(Verdict.SPEC_ONLY, sign, op.describe(), "", proc, None, None, op.at)
                   for sign, op in rest)
    return PatchReport(child.files[0], base.files[0], patch, tuple(out))


def _order(post: tuple[Change, ...], spec_ops: list[Op], function: str, proc: str) -> list[ChangeMatch]:
    """The patched function's operations (those the procedure has at all) must come in the procedure's order:
    the first one that does not is reported."""
    keys = {op.key for op in spec_ops}
    rest = iter(op.key for op in spec_ops)
    for seen in post:
        if seen.op.key in keys and not any(k == seen.op.key for k in rest):
            return [ChangeMatch(Verdict.ORDER, " ", seen.op.describe(), function, proc, seen.op.at, seen.patch_at,
                                next(op.at for op in spec_ops if op.key == seen.op.key))]
    return []


def _match(change: Change, function: str, proc: str, pending: list[tuple[str, Op]]) -> ChangeMatch:
    if not proc:
        return ChangeMatch(Verdict.NOT_MODELLED, change.sign, change.op.describe(), function, "", change.op.at,
                           change.patch_at, None)
    found = next((i for i, (sign, op) in enumerate(pending)
                  if sign == change.sign and op.key == change.op.key), None)
    if found is None:
        return ChangeMatch(Verdict.PATCH_ONLY, change.sign, change.op.describe(), function, proc, change.op.at,
                           change.patch_at, None)
    _, op = pending.pop(found)
    return ChangeMatch(Verdict.MATCH, change.sign, change.op.describe(), function, proc, change.op.at,
                       change.patch_at, op.at)
