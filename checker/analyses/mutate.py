"""Lock necessity by mutation: weaken the locking of a spec one way at a time and see what catches it.

Mutants are made at the Spec level (dataclasses.replace on the frozen statements of model/lang/spec.py), so
each keeps the spec's locations. A mutant is *caught* when a property fails on it (or its lock-order
graph has a strong cycle), *survives* when everything still holds on its complete state space, and is
*invalid* when it does not compile. A survivor means the lock is not needed for the stated properties
at these bounds, or that the properties are too weak to notice its absence.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

from netcheck.model.lang.errors import SpecError
from netcheck.model.lang.lockapi import LOCK_API, lock_wrappers
from netcheck.model.lang.parse import load_spec
from netcheck.model.lang.spec import (
    CounterOp,
    Either,
    ForEach,
    If,
    Invoke,
    Label,
    LockOp,
    Procedure,
    Spec,
    Stmt,
    While,
)
from netcheck.model.semantics import ir
from netcheck.model.semantics.program import CompileError
from netcheck.model.semantics.system import TransitionSystem

from ..engine.explore import explore
from ..engine.limits import Limits
from ..engine.result import ExplicitResult
from ..engine.vocabulary import PropertyKind
from . import liveness
from .liveness import LivenessAnswer
from .lockorder import lock_order
from .trace import counterexample

KINDS = ("remove_pair", "write_to_read", "unkillable", "swap_nested", "release_early")
DEFAULT_MAX_STATES = 3_000_000

Address = tuple  # a statement's place in a procedure body: (i0,) or (i0, "then", i1), (i0, "branch1", i1), ...


@dataclass(frozen=True)
class Mutation:
    kind: str
    procedure: str
    address: Address
    description: str
    location: str       # file:line of the statement the mutation is about

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.procedure}:{'/'.join(map(str, self.address))}"


@dataclass(frozen=True)
class MutantResult:
    mutation: Mutation
    status: str                 # caught, survived, invalid, unknown (a limit was hit, nothing violated)
    caught_by: tuple[str, ...] = ()
    trace_length: int | None = None
    states: int = 0
    seconds: float = 0.0
    message: str = ""


@dataclass(frozen=True)
class MutationRun:
    spec: str
    bounds: tuple[tuple[str, int], ...]
    baseline: MutantResult      # the unmutated spec (status survived: every property holds)
    results: tuple[MutantResult, ...]
    seconds: float
    workers: int


# ---------------------------------------------------------------- statement addressing


def _children(stmt: Stmt) -> list[tuple[str, tuple[Stmt, ...]]]:
    if isinstance(stmt, If):
        return [("then", stmt.then), ("orelse", stmt.orelse)]
    if isinstance(stmt, (While, ForEach)):
        return [("body", stmt.body)]
    if isinstance(stmt, Either):
        return [(f"branch{k}", body) for k, (_, body) in enumerate(stmt.branches)]
    if isinstance(stmt, (LockOp, CounterOp)) and stmt.on_fail:
        return [("on_fail", stmt.on_fail)]
    return []


def _with_child(stmt: Stmt, field: str, block: tuple[Stmt, ...]) -> Stmt:
    if field.startswith("branch"):
        assert isinstance(stmt, Either)
        k = int(field[len("branch"):])
        branches = list(stmt.branches)
        branches[k] = (branches[k][0], block)
        return replace(stmt, branches=tuple(branches))
    return replace(stmt, **{field: block})  # type: ignore[arg-type]


def walk(block: tuple[Stmt, ...], prefix: Address = ()) -> Iterator[tuple[Address, Stmt]]:
    """Every statement with its address, in source order (pre-order)."""
    for i, stmt in enumerate(block):
        yield prefix + (i,), stmt
        for field, child in _children(stmt):
            yield from walk(child, prefix + (i, field))


def edit_block(block: tuple[Stmt, ...], where: Address, fn: Callable[[tuple[Stmt, ...]], tuple[Stmt, ...]]
               ) -> tuple[Stmt, ...]:
    """Replace the block at address `where` (a statement address without its last index) by fn(block)."""
    if not where:
        return fn(block)
    i, field, rest = where[0], where[1], where[2:]
    child = dict(_children(block[i]))[field]
    return block[:i] + (_with_child(block[i], field, edit_block(child, rest, fn)),) + block[i + 1:]


def statement_at(block: tuple[Stmt, ...], address: Address) -> Stmt:
    for where, stmt in walk(block):
        if where == address:
            return stmt
    raise KeyError(address)


def delete(body: tuple[Stmt, ...], addresses: Sequence[Address]) -> tuple[Stmt, ...]:
    """The body without the statements at these addresses."""
    for address in sorted(addresses, reverse=True):
        i: int = address[-1]

        def drop(b: tuple[Stmt, ...], i: int = i) -> tuple[Stmt, ...]:
            return b[:i] + b[i + 1:]
        body = edit_block(body, address[:-1], drop)
    return body


def substitute(body: tuple[Stmt, ...], address: Address, stmt: Stmt) -> tuple[Stmt, ...]:
    """The body with the statement at `address` replaced."""
    i: int = address[-1]

    def put(b: tuple[Stmt, ...]) -> tuple[Stmt, ...]:
        return b[:i] + (stmt,) + b[i + 1:]
    return edit_block(body, address[:-1], put)


# ---------------------------------------------------------------- lock statements


@dataclass(frozen=True)
class LockUse:
    """An acquire or release: a lock API statement, or a call of a wrapper such as rtnl_lock()."""

    address: Address
    stmt: Stmt
    lock: object        # the LockRef (equality ignores spans)
    op: str             # the lock API op (the wrapper's op for a call)
    acquire: bool


def lock_uses(proc: Procedure, wrappers: Mapping[str, LockOp]) -> list[LockUse]:
    out = []
    for address, stmt in walk(proc.body):
        op_stmt = stmt if isinstance(stmt, LockOp) else \
            wrappers.get(stmt.proc) if isinstance(stmt, Invoke) and not stmt.args and stmt.result is None else None
        if op_stmt is None or op_stmt.lock is None:
            continue
        info = LOCK_API[op_stmt.op]
        if info.acquires:
            out.append(LockUse(address, stmt, op_stmt.lock, op_stmt.op, True))
        elif info.releases:
            out.append(LockUse(address, stmt, op_stmt.lock, op_stmt.op, False))
    return out


def releases_of(uses: Sequence[LockUse], acquire: LockUse) -> list[LockUse]:
    """The releases that pair with an acquire: later releases of the same lock (and API), up to the next
    acquire of that lock."""
    out = []
    after = False
    for use in uses:
        if use is acquire:
            after = True
            continue
        if not after or use.lock != acquire.lock:
            continue
        if use.acquire:
            break
        if use.op == LOCK_API[acquire.op].release:
            out.append(use)
    return out


# ---------------------------------------------------------------- generating mutants


def _loc(stmt: Stmt) -> str:
    return stmt.span.short


def mutations(spec: Spec) -> tuple[Mutation, ...]:
    """Every mutation of every procedure, in procedure order then source order."""
    wrappers = lock_wrappers(spec)
    out: list[Mutation] = []
    for proc in spec.procedures:
        if proc.name in wrappers:
            continue
        uses = lock_uses(proc, wrappers)
        name = proc.name
        for use in uses:
            if not use.acquire:
                continue
            pair = releases_of(uses, use)
            if pair:
                rel = ", ".join(sorted({u.stmt.text for u in pair}))
                out.append(Mutation("remove_pair", name, use.address,
                                    f"remove {use.stmt.text} / {rel} in {name}()", _loc(use.stmt)))
            info = LOCK_API[use.op]
            if info.weaker and isinstance(use.stmt, LockOp):
                out.append(Mutation("write_to_read", name, use.address,
                                    f"{use.stmt.text} -> {info.weaker} (and up_write -> up_read) in {name}()",
                                    _loc(use.stmt)))
            if info.killable and isinstance(use.stmt, LockOp):
                out.append(Mutation("unkillable", name, use.address,
                                    f"{use.stmt.text} -> {info.plain} in {name}()",
                                    _loc(use.stmt)))
        for address, stmt in _nested_pairs(uses):
            out.append(Mutation("swap_nested", name, address,
                                f"swap {stmt[0].text} and {stmt[1].text} in {name}()", _loc(stmt[0])))
        for use in uses:
            if use.acquire:
                continue
            block = _block(proc.body, use.address)
            j = _previous_statement(block, use.address[-1])
            if j is None:
                continue
            prev = block[j]
            if any(u.acquire and u.stmt is prev and u.lock == use.lock for u in uses):
                continue   # moving a release above its own acquire is not "earlier", it is broken
            out.append(Mutation("release_early", name, use.address,
                                f"{use.stmt.text} moved above {_clip(prev.text)} in {name}()", _loc(use.stmt)))
    return tuple(out)


def _clip(text: str, width: int = 36) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def _block(body: tuple[Stmt, ...], address: Address) -> tuple[Stmt, ...]:
    block = body
    where = address[:-1]
    while where:
        block = dict(_children(block[where[0]]))[where[1]]
        where = where[2:]
    return block


def _previous_statement(block: tuple[Stmt, ...], i: int) -> int | None:
    j = i - 1
    while j >= 0 and isinstance(block[j], Label):
        j -= 1
    return j if j >= 0 else None


def _nested_pairs(uses: Sequence[LockUse]) -> list[tuple[Address, tuple[Stmt, Stmt]]]:
    """Acquisitions B taken while A is held, both in the same block with no release of A between."""
    out = []
    for i, a in enumerate(uses):
        if not a.acquire:
            continue
        for b in uses[i + 1:]:
            if b.address[:-1] != a.address[:-1]:
                continue
            if not b.acquire:
                if b.lock == a.lock:
                    break
                continue
            out.append((a.address, (a.stmt, b.stmt)))
            break
    return out


def apply(spec: Spec, mutation: Mutation) -> Spec:
    """The mutant: the spec with one procedure body changed."""
    wrappers = lock_wrappers(spec)
    proc = spec.procedure(mutation.procedure)
    uses = lock_uses(proc, wrappers)
    use = next(u for u in uses if u.address == mutation.address)
    body = proc.body
    kind = mutation.kind
    if kind == "remove_pair":
        body = delete(body, [use.address, *(u.address for u in releases_of(uses, use))])
    elif kind == "write_to_read":
        assert isinstance(use.stmt, LockOp)
        for rel in releases_of(uses, use):
            if isinstance(rel.stmt, LockOp):
                body = substitute(body, rel.address, replace(rel.stmt, op="up_read",
                                                            text=rel.stmt.text.replace("up_write", "up_read")))
        weaker = LOCK_API[use.op].weaker
        assert weaker is not None
        body = substitute(body, use.address, replace(use.stmt, op=weaker,
                                                     text=use.stmt.text.replace(use.op, weaker)))
    elif kind == "unkillable":
        assert isinstance(use.stmt, LockOp)
        plain = LOCK_API[use.op].plain
        assert plain is not None
        body = substitute(body, use.address, replace(use.stmt, op=plain, on_fail=None,
                                                     text=use.stmt.text.replace(use.op, plain)))
    elif kind == "swap_nested":
        other = next(b for a, (_, b) in _nested_pairs(uses) if a == use.address)
        i = use.address[-1]
        j = next(u.address[-1] for u in uses if u.stmt is other and u.address[:-1] == use.address[:-1])
        body = edit_block(body, use.address[:-1],
                          lambda b: b[:i] + (b[j],) + b[i + 1:j] + (b[i],) + b[j + 1:])
    elif kind == "release_early":
        i = use.address[-1]
        j = _previous_statement(_block(body, use.address), i)
        assert j is not None
        body = edit_block(body, use.address[:-1], lambda b: b[:j] + (b[i],) + b[j:i] + b[i + 1:])
    else:
        raise ValueError(f"unknown mutation kind {kind}")
    procedures = tuple(replace(p, body=body) if p.name == proc.name else p for p in spec.procedures)
    return replace(spec, procedures=procedures)


# ---------------------------------------------------------------- verifying mutants


@dataclass(frozen=True)
class _Task:
    path: str
    bounds: tuple[tuple[str, int], ...]
    key: str            # '' for the unmutated spec
    max_states: int


def _check(spec: Spec, mutation: Mutation, max_states: int) -> MutantResult:
    started = time.perf_counter()
    try:
        system = TransitionSystem(spec)
    except (SpecError, CompileError) as err:
        return MutantResult(mutation, "invalid", message=str(err).splitlines()[0])
    except Exception as err:  # noqa: BLE001 - any failure to build the mutant makes it invalid, not a crash
        return MutantResult(mutation, "invalid", message=f"{type(err).__name__}: {err}")
    exp = explore(system, Limits(max_states=max_states, fail_fast=True), measure_memory=False)
    seconds = time.perf_counter() - started
    names = tuple(sorted(exp.violations))   # answered questions (witnesses) are never catches
    if names:
        lengths = [len(counterexample(exp, exp.violations[n]).steps) for n in names]
        return MutantResult(mutation, "caught", names, min(lengths), exp.state_count, seconds)
    vacuous = tuple(p.name for p in spec.properties if p.kind == PropertyKind.FINAL) \
        if exp.complete and not exp.finals else ()
    if vacuous:   # no final state left: the final properties were checked on no state (semantics.md)
        return MutantResult(mutation, "caught", vacuous, None, exp.state_count, seconds, "vacuous")
    if exp.complete:
        caught = _liveness(exp, mutation)
        if caught is not None:
            name, answer = caught
            length = len(answer.lasso.path.labels) if answer.lasso is not None else None
            return MutantResult(mutation, "caught", (name,), length, exp.state_count,
                                time.perf_counter() - started, answer.message)
    order = lock_order(exp)
    if order.cycles:
        depth = max(exp.store.depth[d.state] for d in order.cycles[0].deps)
        return MutantResult(mutation, "caught", ("lock_order",), depth, exp.state_count,
                            time.perf_counter() - started, order.cycles[0].chain)
    if not exp.complete:
        return MutantResult(mutation, "unknown", states=exp.state_count, seconds=seconds, message=exp.stop_reason)
    return MutantResult(mutation, "survived", states=exp.state_count, seconds=time.perf_counter() - started)


IMPLIED = "returns_when_killed"   # what an unkillable mutant is judged by when no property says it


def _liveness(exp: ExplicitResult, mutation: Mutation) -> tuple[str, LivenessAnswer] | None:
    """The first liveness property the mutant violates: the spec's own, then, for an `unkillable` mutant,
    the promise the spec's killable wait made: a killed thread leaves it at once. The mutant's plain wait
    breaks it when a blocked thread can wait there forever on a fair run, or while the threads it waits
    for complete a slow step (a grace period a killed task would sleep through, unkillable)."""
    system = exp.system
    for p in system.spec.properties:
        if PropertyKind(p.kind).is_liveness:
            answer = liveness.check(exp, p.name)
            if answer.holds is False:
                return p.name, answer
    if mutation.kind != "unkillable":
        return None
    positions = {t.tid: frozenset(pc for pc, node in enumerate(t.nodes)
                                  if isinstance(node, (ir.LockCall, ir.LockWait)) and node.stmt is not None
                                  and node.stmt.span.short == mutation.location)
                 for t in system.threads}
    positions = {tid: pcs for tid, pcs in positions.items() if pcs}
    answer = liveness.killed_at(exp, IMPLIED, positions)
    return (f"{IMPLIED} (implied by the killable wait)", answer) if answer.holds is False else None


BASELINE = Mutation("none", "", (), "the spec as written", "")


def run_task(task: _Task) -> MutantResult:
    """Worker entry point: re-create the mutant from the spec path and the mutation key, then verify it."""
    spec = load_spec(task.path, dict(task.bounds))
    if not task.key:
        return _check(spec, BASELINE, task.max_states)
    mutation = next(m for m in mutations(spec) if m.key == task.key)
    return _check(apply(spec, mutation), mutation, task.max_states)


def run_mutants(path: str, bounds: Mapping[str, int] | None = None, workers: int | None = None,
                max_states: int = DEFAULT_MAX_STATES, kinds: Sequence[str] = KINDS) -> MutationRun:
    """Generate every mutant of a spec and verify them in parallel (a process per core by default)."""
    started = time.perf_counter()
    spec = load_spec(path, dict(bounds or {}))
    chosen = [m for m in mutations(spec) if m.kind in kinds]
    frozen_bounds = tuple(sorted((bounds or {}).items()))
    tasks = [_Task(path, frozen_bounds, "", max_states)] + [_Task(path, frozen_bounds, m.key, max_states)
                                                           for m in chosen]
    workers = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
    if workers == 1:
        results = [run_task(t) for t in tasks]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(run_task, tasks))
    return MutationRun(path, spec.bounds, results[0], tuple(results[1:]), time.perf_counter() - started, workers)

