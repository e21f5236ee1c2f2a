"""The spec's own lock discipline, read from its IR: which locks each thread surely holds at each program
point, which shared variables are protected (no two threads can ever access one at the same time in a
conflicting way), and which steps the protected-data reduction may fold into the thread's previous step.

Held locks are a must-analysis over each thread's control-flow graph: a lock is held at a point when
every path from the thread's entry acquires it (the success edge of an acquire, or the wake-up edge of
an rwsem wait) without releasing it since. Only locks with a single instance (no `[keys]`) are tracked;
the others are never counted as held, which is on the safe side.

A variable is protected when every two accesses to it by different threads, at least one a write, hold a
common lock, at least one of them exclusively (a mutex, a spinlock, an rwsem for write): they can never
run at the same time, whatever the interleaving. Data only one thread writes and no other reads, and
data nobody writes, are protected too.

A step that only reads and writes protected variables and the thread's locals is a both-mover (Lipton):
no other thread can touch its data between the thread's previous step and it, so running it at once,
as part of that previous step, reaches the same states where no thread stands before such a step.
It stays a step of its own (visible) when a property can see it: it writes a variable an invariant or a
`reachable:` question reads, it is marked `slow: true`, or a property asks `running(PROC)` and the
thread stands next in other procedures than at the step.

The release of a mutex or spinlock the thread surely holds is a left-mover (Lipton): no other thread's
step can come between the thread's previous step and the release and be changed by it, as long as no
other thread looks at the lock without blocking on it. So it is folded too, unless another thread
tries it (a trylock fails while it is held), waits for it killably (a fatal signal ends that wait only
while it is held), or asks about it in a condition (`locked()`, `held()`), or a property reads it. A
blocking acquire by another thread is no look: it cannot run while the lock is held. Acquisitions stay
steps of their own (killable waits and the rwsem's FIFO queue make them non-movers), and so do rwsem
releases (they grant the lock to queued waiters). model/semantics/system.py folds the others
when built with `Reduction.PROTECTED`, and the runtime checks, each time a folded step runs, that its
thread holds the locks this analysis says it holds (an analysis error is an internal error, never a
silently wrong verdict).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from ..lang.expr import LOCK_PREDICATES, Call, Expr, LockRef, Running, Shared, walk
from ..lang.lockapi import LOCK_API, SPIN_KINDS
from ..lang.spec import Spec
from . import ir


class Reduction(str, Enum):
    """How much of the interleaving the explorer may skip (`verify --reduce`)."""

    NONE = "none"              # every interleaving of visible steps
    PROTECTED = "protected"    # steps on protected data and locals run with the thread's previous step


@dataclass(frozen=True, order=True)
class Hold:
    """A lock a thread holds: `exclusive` for a mutex, a spinlock or an rwsem held for write."""

    lock: str
    exclusive: bool


@dataclass(frozen=True)
class Access:
    """A visible program point of thread `tid` reading (or writing) shared variable `var`, and the locks
    the thread surely holds there."""

    tid: int
    pc: int
    var: str
    write: bool
    held: frozenset[Hold]


@dataclass(frozen=True)
class Discipline:
    held: tuple[Mapping[int, frozenset[Hold]], ...]   # per thread: program point -> locks surely held
    accesses: tuple[Access, ...]
    protected: frozenset[str]
    # per unprotected variable, one pair of accesses that may run at the same time (a possible data race)
    races: tuple[tuple[Access, Access], ...]


def successors(node: ir.Node) -> list[int]:
    """The program points control may go to from `node` (the end of the thread is not one)."""
    out = [pc for pc in (node.next, node.alt) if pc >= 0]
    if isinstance(node, ir.Choose):
        out.extend(pc for _, pc in node.branches)
    if isinstance(node, ir.LockCall) and node.wait >= 0:
        out.append(node.wait)
    return out


def _after(node: ir.Node, to: int, held: frozenset[Hold]) -> frozenset[Hold]:
    """The locks surely held on the edge from `node` to program point `to`."""
    if not isinstance(node, ir.LOCK_NODES) or node.lock is None:
        return held
    info, name = LOCK_API[node.op], node.lock.name
    if info.releases:
        return frozenset(h for h in held if h.lock != name)
    if info.downgrades:
        return frozenset(Hold(h.lock, False) if h.lock == name else h for h in held)
    acquired = info.acquires and to == node.next and not node.lock.keys and (
        isinstance(node, ir.LockWait) or to != node.wait)
    return held | {Hold(name, info.mode != "read")} if acquired else held


def held_locks(nodes: Sequence[ir.Node], entry: int) -> dict[int, frozenset[Hold]]:
    """Program point -> the locks held on every path from `entry` (points never reached are absent)."""
    held: dict[int, frozenset[Hold]] = {entry: frozenset()}
    work = [entry]
    while work:
        pc = work.pop()
        node = nodes[pc]
        for to in successors(node):
            if to >= len(nodes):
                continue
            out = _after(node, to, held[pc])
            if to not in held:
                held[to] = out
                work.append(to)
            elif not held[to] <= out:
                held[to] &= out
                work.append(to)
    return held


def read_depth_bounds(nodes: Sequence[ir.Node], entry: int, lock: str, most: int) -> dict[int, int]:
    """Program point -> the most read holds of the (unindexed) rwsem `lock` a path from `entry` may have taken
    there, a down_read() adding one (on the edge where it takes it: at once, or after its wait), an up_read()
    dropping one, downgrade_write() turning the write hold into one; `most + 1` where it may be more than
    `most` (a loop that keeps taking it). Points never reached are absent."""
    def after(node: ir.Node, to: int, depth: int) -> int:
        if not isinstance(node, ir.LOCK_NODES) or node.lock is None or node.lock.name != lock or node.lock.keys:
            return depth
        info = LOCK_API[node.op]
        if info.releases:
            return max(depth - 1, 0) if info.mode == "read" else depth
        if info.downgrades:
            return depth + 1
        takes = info.acquires and info.mode == "read" and to == node.next and (
            isinstance(node, ir.LockWait) or to != node.wait)
        return depth + 1 if takes else depth

    bound = {entry: 0}
    work = [entry]
    while work:
        pc = work.pop()
        for to in successors(nodes[pc]):
            if to >= len(nodes):
                continue
            out = min(after(nodes[pc], to, bound[pc]), most + 1)
            if out > bound.get(to, -1):
                bound[to] = out
                work.append(to)
    return bound


def expressions(node: ir.Node) -> Iterator[Expr]:
    """Every expression a node evaluates (the keys of the places it writes and of its lock included)."""
    if isinstance(node, ir.Assign):
        yield from node.values
        yield from (k for p in node.writes if isinstance(p.target, Shared) for k in p.target.keys)
    elif isinstance(node, (ir.Branch, ir.Check, ir.Await)) and node.cond is not None:
        yield node.cond
    elif isinstance(node, ir.LoopStep) and node.source is not None:
        yield node.source
    elif isinstance(node, ir.ListEdit):
        yield from node.items
        if node.place is not None:
            yield node.place.target
    elif isinstance(node, ir.LOCK_NODES) and node.lock is not None:
        yield from node.lock.keys
    elif isinstance(node, ir.CounterCall) and node.place is not None:
        yield node.place.target
        if node.value is not None:
            yield node.value
    elif isinstance(node, ir.CallRcu) and node.head is not None:
        yield node.head.target
    elif isinstance(node, ir.WaitCall):
        if node.place is not None and isinstance(node.place.target, Shared):
            yield from node.place.target.keys
        if node.cond is not None:
            yield node.cond


def statement_at(node: ir.Node) -> str:
    """A node's statement and where it is, for messages."""
    return f"'{node.stmt.text}' ({node.stmt.span.short})" if node.stmt is not None else node.kind


def spec_expressions(system: object) -> Iterator[tuple[str, Expr]]:
    """Every expression a compiled spec evaluates, with where it is: the threads' code, their arguments,
    the properties."""
    spec = system.spec   # type: ignore[attr-defined]
    for thread in system.threads:   # type: ignore[attr-defined]
        for node in thread.nodes:
            for e in expressions(node):
                yield statement_at(node), e
    for decl in spec.threads:
        for a in decl.args:
            yield f"thread {decl.name}'s arguments ({decl.span.short})", a
    for p in spec.properties:
        if p.expr is not None:
            yield f"property {p.name}", p.expr
        if p.source is not None:
            yield f"property {p.name}", p.source


def reads(node: ir.Node) -> set[str]:
    return {x.name for e in expressions(node) for x in walk(e) if isinstance(x, Shared)}


def writes(node: ir.Node) -> set[str]:
    places = node.writes if isinstance(node, ir.Assign) else \
        (node.place,) if isinstance(node, ir.ListEdit) and node.place is not None else \
        (node.head,) if isinstance(node, ir.CallRcu) and node.head is not None else ()
    return {p.target.name for p in places if isinstance(p.target, Shared)}


def reads_locks(node: ir.Node) -> bool:
    """Whether the node's expressions ask about locks (held(), locked(), ...)."""
    return any(isinstance(x, (LockRef, Running)) or (isinstance(x, Call) and x.fn in LOCK_PREDICATES)
               for e in expressions(node) for x in walk(e))


def _excluded(a: frozenset[Hold], b: frozenset[Hold]) -> bool:
    """Two accesses holding these locks never run at the same time."""
    return any(x.lock == y.lock and (x.exclusive or y.exclusive) for x in a for y in b)


def discipline(threads: Sequence[tuple[Sequence[ir.Node], int]]) -> Discipline:
    """The lock discipline of the threads, each given as (its IR nodes, its entry point)."""
    held = tuple(held_locks(nodes, entry) for nodes, entry in threads)
    found: list[Access] = []
    for tid, (nodes, _) in enumerate(threads):
        for pc, node in enumerate(nodes):
            if pc in held[tid] and node.visible:
                w = writes(node)
                found.extend(Access(tid, pc, var, var in w, held[tid][pc]) for var in sorted(reads(node) | w))
    by_var: dict[str, list[Access]] = {}
    for a in found:
        by_var.setdefault(a.var, []).append(a)
    races = []
    for var in sorted(by_var):
        race = next(((a, b) for a, b in _pairs(by_var[var])
                     if a.tid != b.tid and (a.write or b.write) and not _excluded(a.held, b.held)), None)
        if race is not None:
            races.append(race)
    unprotected = {a.var for a, _ in races}
    return Discipline(held, tuple(found), frozenset(by_var) - unprotected, tuple(races))


def _pairs(items: list[Access]) -> Iterable[tuple[Access, Access]]:
    for i, a in enumerate(items):
        for b in items[i + 1:]:
            yield a, b


def visible_to_properties(spec: Spec) -> tuple[set[str], set[str]]:
    """The shared variables invariants and `reachable:` questions read, and the procedures a property asks
    `running(PROC)` about (thread positions)."""
    seen = [x for p in spec.properties if p.kind in ("invariant", "reachable") for x in walk(p.expr)]
    running = {x.proc for p in spec.properties for x in walk(p.expr) if isinstance(x, Running)}
    return {x.name for x in seen if isinstance(x, Shared)}, running


FOLDABLE = (ir.Assign, ir.Branch, ir.LoopStep, ir.ListEdit, ir.Check)
LEFT_MOVER_RELEASES = frozenset(op for op, info in LOCK_API.items()
                                if info.releases and info.kind in ("mutex", *SPIN_KINDS) and not info.irq)


def lock_names(e: Expr) -> set[str]:
    """The locks an expression names (lock predicates, lock references)."""
    return {x.name for x in walk(e) if isinstance(x, LockRef)}


def observed_locks(spec: Spec, threads: Sequence[tuple[Sequence[ir.Node], int]]) -> list[set[str]]:
    """Per thread, the locks it looks at without blocking on them: trylocks, killable waits (when fatal
    signals are on), lock predicates in its conditions."""
    out = []
    for nodes, _ in threads:
        seen: set[str] = set()
        for node in nodes:
            if isinstance(node, ir.LOCK_NODES) and node.lock is not None:
                info = LOCK_API[node.op]
                if info.trylock or (info.killable and spec.options.fatal_signals):
                    seen.add(node.lock.name)
            if not isinstance(node, ir.LOCK_NODES):
                seen.update(name for e in expressions(node) for name in lock_names(e))
        out.append(seen)
    return out


def _left_mover_release(node: ir.Node, held: frozenset[Hold], looked_at: set[str]) -> bool:
    """A release of a single-instance mutex or spinlock the thread surely holds, that no other thread
    and no property looks at without blocking."""
    return (isinstance(node, ir.LockCall) and node.op in LEFT_MOVER_RELEASES and node.lock is not None
            and not node.lock.keys and Hold(node.lock.name, True) in held and node.lock.name not in looked_at
            and not node.slow)


def _next_stops(nodes: Sequence[ir.Node], pc: int) -> set[int]:
    """Where a thread at visible point `pc` stands next: the visible points (len(nodes): finished) that its
    invisible steps lead to after the step at `pc`."""
    stops: set[int] = set()
    seen: set[int] = set()
    work = successors(nodes[pc])
    while work:
        to = work.pop()
        if to in seen:
            continue
        seen.add(to)
        if to >= len(nodes) or nodes[to].visible or isinstance(nodes[to], ir.End):
            stops.add(to)
        else:
            work.extend(successors(nodes[to]) or [len(nodes)])
    return stops


def _same_procedures(nodes: Sequence[ir.Node], pc: int, procs: set[str]) -> bool:
    """Folding the step at `pc` changes no `running(PROC)` count: where the thread stands next is inside
    the same procedures of `procs` as `pc`."""
    def inside(at: int) -> frozenset[str]:
        return frozenset(procs & set(nodes[at].frame)) if at < len(nodes) else frozenset()
    here = inside(pc)
    return all(inside(to) == here for to in _next_stops(nodes, pc))


def foldable(spec: Spec, threads: Sequence[tuple[Sequence[ir.Node], int]],
             rules: Discipline | None = None) -> tuple[frozenset[int], ...]:
    """Per thread, the visible program points the protected-data reduction folds into the previous step."""
    rules = rules or discipline(threads)
    seen_by_properties, running = visible_to_properties(spec)
    locks_in_properties = {name for p in spec.properties for name in lock_names(p.expr)}
    observed = observed_locks(spec, threads)
    out = []
    for tid, (nodes, _) in enumerate(threads):
        points = set()
        looked_at = locks_in_properties.union(*(seen for t, seen in enumerate(observed) if t != tid))
        for pc, node in enumerate(nodes):
            if pc in rules.held[tid] and node.visible and _left_mover_release(node, rules.held[tid][pc], looked_at) \
                    and (not running or _same_procedures(nodes, pc, running)):
                points.add(pc)
            elif (pc in rules.held[tid] and node.visible and isinstance(node, FOLDABLE) and not node.slow
                    and not reads_locks(node) and reads(node) | writes(node) <= rules.protected
                    and not writes(node) & seen_by_properties
                    and (not running or _same_procedures(nodes, pc, running))):
                points.add(pc)
        out.append(frozenset(points))
    return tuple(out)
