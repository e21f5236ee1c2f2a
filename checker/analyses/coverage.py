"""Coverage: which spec statements reachable transitions execute, and which `if`/`either` branches they take.

The runtime counts as it explores (model/semantics/runtime.py `Counts`): `settle` counts the invisible nodes it
runs, each `if` condition which way it went, and the explorer each visible step that fires with at
least one result. Here those per-node counts of every thread instance are summed per spec statement
(one statement is inlined at every call site, in every instance), and the branches are derived.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from netcheck.model.lang.errors import Span
from netcheck.model.lang.rcucallbacks import callback_thread
from netcheck.model.lang.spec import (
    Assert,
    Assign,
    Await,
    CallRcu,
    CounterOp,
    Either,
    ForEach,
    If,
    IndirectCall,
    Invoke,
    Label,
    ListOp,
    LockOp,
    Rcu,
    Spec,
    Stmt,
    While,
)
from netcheck.model.lang.works import worker_name
from netcheck.model.semantics import ir
from netcheck.model.semantics.program import walk_statements
from netcheck.model.semantics.runtime import Executions
from netcheck.model.semantics.system import TransitionSystem

# Statements that do something of their own; label, goto, break, continue and return only move control,
# so they are not counted (the statements around them are).
COUNTED = (Assign, Invoke, IndirectCall, ListOp, LockOp, CounterOp, Rcu, If, While, ForEach, Either, Assert, Await,
           CallRcu)


@dataclass(frozen=True)
class StatementRuns:
    """One spec statement: how often reachable transitions executed it, and in which threads: entries."""

    span: Span
    text: str
    count: int
    threads: tuple[str, ...]
    assert_name: str = ""    # an assert: the property it reports as


@dataclass(frozen=True)
class BranchRuns:
    """One way out of an `if` ("then", "else") or one named branch of an `either`, and how often it was
    taken; `reached` tells whether the `if`/`either` itself ever ran."""

    span: Span
    text: str
    decision: str    # if, either
    branch: str
    count: int
    reached: bool


@dataclass(frozen=True)
class Coverage:
    """Every counted statement and every branch of the spec, in file order. On an incomplete run
    (`complete` false) a count of 0 means "not reached before the search stopped", nothing more."""

    complete: bool
    statements: tuple[StatementRuns, ...]
    branches: tuple[BranchRuns, ...]

    @property
    def statements_run(self) -> int:
        return sum(1 for s in self.statements if s.count)

    @property
    def branches_taken(self) -> int:
        return sum(1 for b in self.branches if b.count)

    @property
    def unreached(self) -> tuple[StatementRuns, ...]:
        return tuple(s for s in self.statements if s.count == 0)

    @property
    def untaken(self) -> tuple[BranchRuns, ...]:
        """Branches never taken although their `if`/`either` ran (those of unreached ones are unreached)."""
        return tuple(b for b in self.branches if b.reached and b.count == 0)

    @property
    def unreached_asserts(self) -> tuple[StatementRuns, ...]:
        return tuple(s for s in self.unreached if s.assert_name)


def summarize(system: TransitionSystem, executions: Executions, complete: bool) -> Coverage:
    """Per spec statement and branch, the executions of all its program points in all thread instances."""
    spec = system.spec
    runs: dict[Span, int] = {}
    threads: dict[Span, set[str]] = {}
    true: dict[Span, int] = {}
    false: dict[Span, int] = {}
    for thread, ran, outcomes in zip(system.threads, executions.ran, executions.outcomes, strict=True):
        for pc, node in enumerate(thread.nodes):
            if node.stmt is None or not ran[pc]:
                continue
            span = node.stmt.span
            runs[span] = runs.get(span, 0) + ran[pc]
            threads.setdefault(span, set()).add(thread.decl)
            if isinstance(node, ir.Branch) and node.counted:
                true[span] = true.get(span, 0) + outcomes[2 * pc]
                false[span] = false.get(span, 0) + outcomes[2 * pc + 1]
    order = {f: i for i, f in enumerate(spec.files)}

    def place(s: Stmt) -> tuple[int, int, int]:
        return order.get(s.span.file, len(order)), s.span.line, s.span.col

    counted = sorted((s for s in _statements(spec) if isinstance(s, COUNTED)), key=place)
    statements = tuple(StatementRuns(s.span, s.text, runs.get(s.span, 0), tuple(sorted(threads.get(s.span, ()))),
                                     s.name if isinstance(s, Assert) else "") for s in counted)
    branches: list[BranchRuns] = []
    for s in counted:
        reached = s.span in runs
        if isinstance(s, If):
            branches.append(BranchRuns(s.span, s.text, "if", "then", true.get(s.span, 0), reached))
            branches.append(BranchRuns(s.span, s.text, "if", "else", false.get(s.span, 0), reached))
        elif isinstance(s, Either):
            for name, body in s.branches:
                guard = _guard(body)
                taken = runs.get(guard.span if guard is not None else s.span, 0)
                branches.append(BranchRuns(s.span, s.text, "either", name, taken, reached))
    return Coverage(complete, statements, tuple(branches))


def _statements(spec: Spec) -> Iterator[Stmt]:
    """Every statement of every procedure, each once (a procedure is walked once, however often called); the
    workers' loops (model/lang/works.py), the RCU callback threads' and kfree_rcu's procedures
    (model/lang/rcucallbacks.py) are netcheck's, not the spec's: they are not counted."""
    workers = {t.proc for t in spec.threads if t.name in {worker_name(o) for o in
                                                          (*(q.name for q in spec.workqueues),
                                                           *(w.name for w in spec.works))}}
    for d in spec.rcu_callbacks:
        workers |= {callback_thread(d.name, True), *((d.name,) if d.kfree else ())}
    for proc in spec.procedures:
        if proc.name not in workers:
            yield from walk_statements(proc.body)


def _guard(body: tuple[Stmt, ...]) -> Stmt | None:
    """The statement whose execution takes an `either` branch: its first one, labels skipped; None when
    the branch is empty or starts with a jump (goto, break, continue, return): then it is taken whenever
    the `either` runs."""
    first = next((s for s in body if not isinstance(s, Label)), None)
    return first if isinstance(first, COUNTED) else None
