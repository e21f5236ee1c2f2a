"""Is a set of conditions, with a property, inductive? The IVy/mypyvy check, one plain z3 solver per question.

The conditions are a spec's `lemmas:` or an invariant written back in spec syntax (analyses/proof.py), as z3
terms over the relation's state-before constants; with the property's own condition on a state
(symbolic.py `good`), their conjunction I is an inductive invariant proving the property when
- initiation: every initial state satisfies each conjunct of I;
- consecution: from every well-formed state satisfying I, every macro-step reaches a state satisfying each
  conjunct of I (the well-formedness facts are proved inductive by Houdini first, so assuming them of both
  states is sound);
- safety: no state satisfying I breaks the property, nor does a step from it.
Each question is asked once per conjunct, so a failure names the conjunct; z3 `unknown` is never a pass. A
failed consecution gives a counterexample to induction: a state satisfying I and its successor violating
the named conjunct (a failed safety: the state, and the step from it when a step breaks the property).

When the lemmas are inductive on their own (`check_lemmas`: each holds initially and is preserved from every
well-formed state satisfying all of them), that answer serves every property: what is left per property is
its own initiation and consecution (assuming the lemmas too) and safety. L inductive and P preserved under
L and P make L and P inductive together, so the proof is the same; `prove` with several properties asks the
lemmas' questions once instead of once per property.
"""

from __future__ import annotations

from dataclasses import dataclass

import z3

from .symbolic import Symbolic
from .vocabulary import CheckStatus

PROPERTY = "the property"   # the name of the property's own conjunct in checks and CTIs


@dataclass(frozen=True)
class Check:
    """One question: (`initiation`, `consecution` or `safety`, the conjunct it is about, its answer)."""

    kind: str
    conjunct: str
    status: CheckStatus


@dataclass(frozen=True)
class InductionCti:
    """A counterexample to induction: a state satisfying every conjunct and a successor where `conjunct` is
    false (for a failed safety, `after` is the state the breaking step leads to, or absent)."""

    kind: str
    conjunct: str
    before: tuple
    after: tuple | None = None


@dataclass(frozen=True)
class Induction:
    """The answers for one property and its conjuncts; `inductive` only when every check passed."""

    prop: str
    checks: tuple[Check, ...]
    cti: InductionCti | None = None

    @property
    def inductive(self) -> bool:
        return bool(self.checks) and all(c.status is CheckStatus.PASSED for c in self.checks)

    @property
    def unknown(self) -> bool:
        return any(c.status is CheckStatus.UNKNOWN for c in self.checks)


def _solver(timeout_ms: int) -> z3.Solver:
    solver = z3.Solver()
    solver.set("random_seed", 0)
    if timeout_ms:
        solver.set("timeout", timeout_ms)
    return solver


def check_lemmas(sy: Symbolic, conjuncts: list[tuple[str, z3.BoolRef]], timeout_ms: int = 0) -> tuple[Check, ...]:
    """Initiation and consecution of the lemmas alone (no property assumed), for `check_induction(lemmas=...)`,
    up to the first that does not pass (the lemmas may need the property then: each property asks again);
    `sy.houdini()` must have run."""
    return tuple(_inductive(sy, "", conjuncts, timeout_ms, None, until_failed=True)[0])


def check_induction(sy: Symbolic, prop: str, conjuncts: list[tuple[str, z3.BoolRef]],
                    timeout_ms: int = 0, lemmas: tuple[Check, ...] | None = None) -> Induction:
    """Initiation, consecution and safety of `conjuncts` (name, term over the pre-state constants) with the
    property's own condition; `sy.houdini()` must have run. The first failure's CTI. `lemmas`: what
    `check_lemmas` answered for these conjuncts; when every check passed, only the property's own questions
    are asked (the answers are the same)."""
    given, names = lemmas or (), [name for name, _ in conjuncts]
    # only answers about these conjuncts (initiation, then consecution, of each), all passed
    reuse = bool(given) and [c.conjunct for c in given] == names + names and \
        all(c.status is CheckStatus.PASSED for c in given)
    checks, cti, s, befores = _inductive(sy, prop, conjuncts, timeout_ms, given if reuse else None)
    safe = _solver(timeout_ms)
    safe.add(sy.well_formed(s), *befores)
    status, model = _ask(safe, sy.bad(prop, s))
    checks.append(Check("safety", PROPERTY, status))
    if model is not None and cti is None:
        cti = InductionCti("safety", PROPERTY, sy.state_of(model, s))
    return Induction(prop, tuple(checks), cti)


def _inductive(sy: Symbolic, prop: str, conjuncts: list[tuple[str, z3.BoolRef]], timeout_ms: int,
               known: tuple[Check, ...] | None, until_failed: bool = False
               ) -> tuple[list[Check], InductionCti | None, list[z3.ExprRef], list[z3.BoolRef]]:
    """Initiation, then consecution, of each conjunct and of the property's condition (none when `prop` is
    empty), all of them assumed in the state before; with `known`, the conjuncts' answers are those. Also
    the state before and the conjuncts on it (for safety). `until_failed`: no question after one not passed."""
    s, t = sy.frame("i0"), sy.frame("i1")
    parts = [(name, sy.u.at(term, s), sy.u.at(term, t)) for name, term in conjuncts]
    if prop:
        parts.append((PROPERTY, sy.good(prop, s), sy.good(prop, t)))
    asked = parts if known is None else parts[len(conjuncts):]
    checks: list[Check] = []
    cti: InductionCti | None = None
    init = _solver(timeout_ms)
    init.add(sy.init(s))
    step = _solver(timeout_ms)
    # the successor is well formed too (the facts are inductive): a conjunct written with len() and index()
    # equals the solver's item terms only on well-formed lists
    step.add(sy.well_formed(s), *[before for _, before, _ in parts], sy.step(s, t, "ind"), sy.well_formed(t))
    checks.extend(c for c in known or () if c.kind == "initiation")
    for name, before, _after in asked:
        if until_failed and checks and checks[-1].status is not CheckStatus.PASSED:
            return checks, cti, s, []
        status, _ = _ask(init, z3.Not(before))
        checks.append(Check("initiation", name, status))
    checks.extend(c for c in known or () if c.kind == "consecution")
    for name, _before, after in asked:
        if until_failed and checks and checks[-1].status is not CheckStatus.PASSED:
            return checks, cti, s, []
        status, model = _ask(step, z3.Not(after))
        checks.append(Check("consecution", name, status))
        if model is not None and cti is None:
            cti = InductionCti("consecution", name, sy.state_of(model, s), sy.state_of(model, t))
    return checks, cti, s, [before for _, before, _ in parts]


def _ask(solver: z3.Solver, query: z3.BoolRef) -> tuple[CheckStatus, z3.ModelRef | None]:
    """Is `query` unsatisfiable with what the solver holds: (passed | failed | unknown, a model when failed)."""
    solver.push()
    solver.add(query)
    answer = solver.check()
    model = solver.model() if answer == z3.sat else None
    solver.pop()
    status = CheckStatus.PASSED if answer == z3.unsat else CheckStatus.FAILED if answer == z3.sat \
        else CheckStatus.UNKNOWN
    return status, model


__all__ = ["PROPERTY", "Check", "Induction", "InductionCti", "check_induction", "check_lemmas"]
