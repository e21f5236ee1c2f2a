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
from .skeleton import Event, Op, OpKind, Skeleton, events, from_procedure


class DiffKind(Enum):
    MISSING = "missing"                 # the spec has it, the C does not
    EXTRA = "extra"                     # the C has it, the spec does not
    LOCK = "different lock"
    MODE = "different mode"
    OPERATION = "different operation"   # same lock and mode, another call (mutex_lock / mutex_lock_killable)
    ORDER = "different order"
    HELD = "held across a different call"


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


@dataclass(frozen=True)
class SourceReport:
    spec: str
    sources: tuple[str, ...]
    pairs: tuple[Pair, ...]
    not_found: tuple[str, ...]          # procedures with a source: key no C file given defines

    @property
    def differences(self) -> int:
        return sum(len(p.differences) for p in self.pairs)


def c_name(proc: S.Procedure) -> str:
    """The C function a procedure models."""
    return proc.source or proc.name


def compare_sources(spec: S.Spec, skeletons: Sequence[Skeleton], sources: tuple[str, ...]) -> SourceReport:
    """Every procedure that has a C function among `skeletons`, compared with it."""
    by_name = {sk.function: sk for sk in reversed(skeletons)}   # the first definition wins
    to_c = {p.name: c_name(p) for p in spec.procedures}
    from_c = {c: p for p, c in reversed(list(to_c.items()))}
    pairs = []
    for proc in spec.procedures:
        c_sk = by_name.get(to_c[proc.name])
        if c_sk is not None:
            pairs.append(_pair(proc, from_procedure(proc, spec), c_sk, to_c, from_c, set(by_name)))
    missing = tuple(p.name for p in spec.procedures if p.source and p.source not in by_name)
    return SourceReport(spec.files[0], sources, tuple(pairs), missing)


def _pair(proc: S.Procedure, spec_sk: Skeleton, c_sk: Skeleton, to_c: dict[str, str], from_c: dict[str, str],
          defined: set[str]) -> Pair:
    spec_ev = [Event(replace(e.op, name=to_c.get(e.op.name, e.op.name)) if e.op.kind is OpKind.CALL else e.op,
                     e.held) for e in events(spec_sk)]
    c_ev = list(events(c_sk))
    spec_calls = {e.op.name for e in spec_ev if e.op.kind is OpKind.CALL}
    c_calls = {e.op.name for e in c_ev if e.op.kind is OpKind.CALL}
    spec_ev = [e for e in spec_ev if e.op.kind is not OpKind.CALL or e.op.name in defined or e.op.name in c_calls]
    c_ev = [e for e in c_ev if e.op.kind is not OpKind.CALL
            or (e.op.name in from_c and (e.op.name in defined or e.op.name in spec_calls))]
    diffs = _diff(spec_ev, c_ev, spec_sk.at, c_sk.at)
    return Pair(proc.name, c_sk.function, spec_sk.at, c_sk.at, len(spec_ev), tuple(diffs))


def _diff(a: list[Event], b: list[Event], a_start: Span, b_start: Span) -> list[Difference]:
    """The differences between the spec's events `a` and the C's `b`, in spec order."""
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
    return sorted(out, key=lambda d: (d.spec_at.line, d.c_at.line, d.kind.value))


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
        if s.op.kind is not OpKind.CALL:
            continue
        sh = tuple(h for h in s.held if h.removesuffix("(read)") not in touched)
        ch = tuple(h for h in c.held if h.removesuffix("(read)") not in touched)
        if set(sh) != set(ch):
            out.append(Difference(DiffKind.HELD, f"{s.op.describe()} called holding {_locks(s.held)} in the spec, "
                                  f"{_locks(c.held)} in the C", s.op.at, c.op.at))
    return out


def _locks(held: tuple[str, ...]) -> str:
    return ", ".join(held) if held else "no lock"


# ---------------------------------------------------------------- patches


class Verdict(Enum):
    MATCH = "match"                     # the patch and the spec both make this change
    PATCH_ONLY = "patch only"           # the patch makes it, the spec does not
    SPEC_ONLY = "spec only"             # the spec makes it, the patch does not
    NOT_MODELLED = "not modelled"       # the patch changes a function the spec has no procedure for


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
        return self.count(Verdict.PATCH_ONLY) + self.count(Verdict.SPEC_ONLY)


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
    for fc in function_changes(hunks, wrappers, keep):
        proc = from_c.get(fc.function, "")
        pending = wanted.get(proc, [])
        for change in fc.changes:
            out.append(_match(change, fc.function, proc, pending))
    for proc, rest in wanted.items():
        out.extend(ChangeMatch(Verdict.SPEC_ONLY, sign, op.describe(), "", proc, None, None, op.at)
                   for sign, op in rest)
    return PatchReport(child.files[0], base.files[0], patch, tuple(out))


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
