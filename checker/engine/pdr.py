"""PDR (IC3) through z3's Spacer: inductive invariants as constrained Horn clauses over the macro-step.

Per query, one uninterpreted relation Inv over the state slots and the clauses
    Inv(s)                <- Init(s)
    Inv(t)                <- Inv(s), WF(s), Step(s, t) (symbolic.py: a visible micro-step, then the settle)
    false                 <- Inv(s), WF(s), Bad(s)     (the property broken in s, or by a step from s)
WF is the conjunction of the facts Houdini proved inductive first (symbolic.py `well_formed`): the slot
facts, and those read off a sample of reachable states (mining.py `strengthen`: values, implications,
affine equalities, and the properties themselves, each one proved when Houdini keeps it). Every reachable
state satisfies WF, so the least solution still contains every reachable state, and Spacer need not
rediscover that a program counter stands at a statement or a list is well formed (without it, three of
producer_consumer's properties time out).
The properties open are asked together first (one invariant may prove them all), then one by one. Spacer
answers
- unsat (no derivation of Bad): Inv's solution is an inductive invariant. It is not taken on trust: a plain
  z3 solver checks it again (initiation: Init implies it; consecution: it, WF and a step imply it in the
  next state; safety: with WF it excludes Bad; Inv and WF together are then inductive). Only when all
  three are unsat is the property `holds` (a proof for every reachable state); otherwise unknown, saying
  which check failed;
- sat (a violation is reachable): Spacer's ground derivation gives its length, and bmc.py finds a shortest
  counterexample within it, decoded and replayed against the explicit semantics as any BMC trace is; when
  BMC cannot find it (a limit), the property is unknown, never violated without a trace;
- unknown, a timeout or an error (Spacer does not decide every theory: sequences, for lists and rwsem
  queues, often defeat it): unknown, with z3's reason.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import z3
from netcheck.model.semantics.system import TransitionSystem

from .bmc import bmc, constants
from .limits import Interrupt
from .mining import SAMPLE_STATES, strengthen
from .result import Finding, Path
from .simulate import reaches_final_state
from .symbolic import Frame, Proof, ProofResult, Symbolic

TRACE_DEPTH = 40   # the longest counterexample BMC looks for when Spacer cannot say how long it is
FINAL_QUERY_SECONDS = 20.0   # the most Spacer spends on whether a final state is reachable
HOUDINI_SHARE = 0.25   # of the time, the most Houdini's pass may take (Spacer gets the rest)


def pdr(system: TransitionSystem, timeout: float | None = None, fail_fast: bool = False,
        stop_on: frozenset[str] = frozenset(), sample: int = SAMPLE_STATES) -> ProofResult:
    """Every property the engine decides proved (a re-checked inductive invariant), violated (a replayed
    trace) or unknown with the reason. First Houdini over the facts read off `sample` reachable states
    (mining.py `strengthen`; 0: none): a property in the invariant it keeps is proved, and the rest of it
    is assumed in Spacer's step. A spec bmc.py cannot unroll: BmcError."""
    started = time.perf_counter()
    deadline = started + timeout if timeout else None
    sy = Symbolic(system)
    sy.houdini(_ms(deadline))
    result = ProofResult(sy.system, engine="pdr", depth=0, reached=0)
    result.unknown.update(sy.undecided)
    result.covered = sy.decided
    for v in sy.system.initial_violations:   # while computing the initial states
        if v.prop not in result.violations:
            result.violations[v.prop] = Finding(v.prop, -1, v.tid, v.message)
            result.paths[v.prop] = Path((), ())
    open_ = [p for p in sy.decided if p not in result.violations]
    if sample and open_:
        result.proofs.update(strengthen(sy, open_, sample, deadline, HOUDINI_SHARE))
        open_ = [p for p in open_ if p not in result.proofs]
    result.well_formed = tuple(c.text for c in sy.well_formed_facts)
    # the state and step properties together first; deadlock freedom (a larger bad-state formula, which
    # makes a joint query harder) on its own, last
    open_.sort(key=lambda p: sy.goals[p].kind == "deadlock")
    joint_ = [p for p in open_ if sy.goals[p].kind != "deadlock"]
    # with stop_on, only those are asked alone (the joint query may still prove the others): the time left
    # after the joint query is theirs (`prove PROPERTY`), as --stop-on's "other verdicts: unknown" says
    alone = [p for p in open_ if not stop_on or p in stop_on]
    with Interrupt() as interrupt:
        groups = ([joint_] if len(joint_) > 1 else []) + [[p] for p in alone]
        for group in groups:
            group = [p for p in group if p in open_]
            if not group or _stop(result, fail_fast, stop_on):
                continue
            if interrupt.raised or (deadline is not None and time.perf_counter() > deadline):
                why = "interrupted" if interrupt.raised else f"timeout after {timeout:g} s"
                for p in open_:
                    result.unknown.setdefault(p, f"PDR stopped: {why}")
                result.complete, result.stop_reason = False, why
                break
            joint = len(group) > 1
            budget = _budget(deadline, 2 if joint else len([p for p in alone if p in open_]))
            done = _query(sy, result, group, budget, joint)
            open_ = [p for p in open_ if p not in done]
    for p in open_:
        result.unknown.setdefault(p, "PDR found neither an invariant nor a violation" if p in alone else
                                  "not looked for on its own: PDR asks alone only about the --stop-on properties")
    if any(p not in alone for p in open_) and not result.stop_reason:
        ran_out = deadline is not None and time.perf_counter() > deadline
        result.complete = False
        result.stop_reason = f"timeout after {timeout:g} s" if ran_out else \
            "stopped at the --stop-on properties" if _stop(result, fail_fast, stop_on) else \
            "asked only about the --stop-on properties"
    result.deadlock_partial = sy.deadlock_partial(result.proofs)
    result.final_reachable = finals_reachable(sy, result.proofs, deadline)
    result.seconds = time.perf_counter() - started
    return result


def finals_reachable(sy: Symbolic, proved: Iterable[str], deadline: float | None) -> bool | None:
    """When a final property is among `proved`: whether a final state is reachable (None: not decided, or no
    final property proved). Random runs of the explicit semantics look for one (simulate.py); where none
    ends in one, Spacer is asked, for at most FINAL_QUERY_SECONDS of the time left."""
    if not any(sy.goals[p].kind == "final" for p in proved):
        return None
    if reaches_final_state(sy.system, deadline):
        return True
    cap = time.perf_counter() + FINAL_QUERY_SECONDS
    s, t = sy.frame("q0"), sy.frame("q1")
    fp, _, query = horn(sy, sy.u.final(s), s, t, _ms(min(deadline, cap) if deadline is not None else cap))
    try:
        answer = fp.query(query)
    except z3.Z3Exception:
        return None
    return True if answer == z3.sat else False if answer == z3.unsat else None


def _stop(result: ProofResult, fail_fast: bool, stop_on: frozenset[str]) -> bool:
    return bool((fail_fast and result.violations) or (stop_on and stop_on <= result.violations.keys()))


def _budget(deadline: float | None, share: int) -> float | None:
    """A query's deadline: its share of the time left (the joint query half of it)."""
    if deadline is None:
        return None
    now = time.perf_counter()
    return now + max(0.0, deadline - now) / max(1, share)


def _ms(deadline: float | None) -> int:
    return max(1, int((deadline - time.perf_counter()) * 1000)) if deadline is not None else 0


def horn(sy: Symbolic, bad: z3.BoolRef, s: Frame, t: Frame, timeout_ms: int) -> tuple[z3.Fixedpoint, z3.FuncDeclRef,
                                                                                         z3.BoolRef]:
    """The clauses of one query in a seeded Spacer instance: (the engine, Inv, the query)."""
    sorts = [c.sort() for c in s]
    inv = z3.Function("Inv", *sorts, z3.BoolSort())
    fp = z3.Fixedpoint()
    fp.set(engine="spacer")
    fp.set("spacer.random_seed", 0)
    if timeout_ms:
        fp.set("timeout", timeout_ms)
    fp.register_relation(inv)
    for body, head in ((sy.init(s), inv(*s)), (z3.And(inv(*s), sy.well_formed(s), sy.step(s, t, "p")), inv(*t))):
        fp.declare_var(*_constants(z3.And(body, head)))
        fp.rule(head, body)
    query = z3.And(inv(*s), sy.well_formed(s), bad)
    fp.declare_var(*_constants(query))
    return fp, inv, query


def _query(sy: Symbolic, result: ProofResult, group: list[str], deadline: float | None, joint: bool) -> list[str]:
    """One Spacer query for `group` (all broken together: any of them); returns the properties it settles."""
    began = time.perf_counter()
    s, t = sy.frame("p0"), sy.frame("p1")
    bad = z3.Or(*[sy.bad(p, s) for p in group])
    fp, inv, query = horn(sy, bad, s, t, _ms(deadline))
    try:
        answer = fp.query(query)
    except z3.Z3Exception as err:   # Spacer gives up with an exception on some theories ('canceled' on timeout)
        reason = err.value.decode() if isinstance(err.value, bytes) else str(err.value)
        if not joint:
            result.unknown[group[0]] = f"z3 Spacer could not decide it: {reason}"
        return [] if joint else group
    if answer == z3.unknown:
        if not joint:
            result.unknown[group[0]] = f"z3 Spacer could not decide it: {fp.reason_unknown()}"
        return [] if joint else group
    if answer == z3.sat:
        if joint:
            return []
        _violation(sy, result, group[0], _length(fp), deadline)
        return group
    invariant = z3.simplify(z3.substitute_vars(fp.get_cover_delta(-1, inv), *sy.u.base))
    checks = recheck(sy, invariant, bad, s, t, _ms(deadline))
    if not all(ok for _, ok in checks):
        failed = ", ".join(name for name, ok in checks if not ok)
        if not joint:
            result.unknown[group[0]] = f"the invariant z3 Spacer returned does not check again ({failed}): not a proof"
        return [] if joint else group
    seconds = time.perf_counter() - began
    for p in group:
        result.proofs[p] = Proof(p, "pdr", invariant=invariant, size=len(conjuncts(invariant)), checks=checks,
                                 seconds=seconds)
    return group


def recheck(sy: Symbolic, invariant: z3.BoolRef, bad: z3.BoolRef, s: Frame, t: Frame,
            timeout_ms: int = 0) -> tuple[tuple[str, bool], ...]:
    """The invariant (over the relation's state-before constants) checked by a plain solver, in frames s and
    t (`bad` over s), with the well-formedness facts (`sy.houdini()` has run, or there are none): each pair
    (check, unsat)."""
    before, after = sy.u.at(invariant, s), sy.u.at(invariant, t)
    wf = sy.well_formed(s)
    queries = (("initiation", z3.And(sy.init(s), z3.Not(before))),
               ("consecution", z3.And(wf, before, sy.step(s, t, "r"), sy.well_formed(t), z3.Not(after))),
               ("implies the property", z3.And(wf, before, bad)))
    out = []
    for name, q in queries:
        solver = z3.Solver()
        solver.set("random_seed", 0)
        if timeout_ms:
            solver.set("timeout", timeout_ms)
        solver.add(q)
        out.append((name, solver.check() == z3.unsat))
    return tuple(out)


def conjuncts(f: z3.BoolRef) -> list[z3.BoolRef]:
    return list(f.children()) if z3.is_and(f) else [] if z3.is_true(f) else [f]


def _length(fp: z3.Fixedpoint) -> int | None:
    """How many steps Spacer's derivation of the violation takes: its rules along the trace are the query,
    one per step and the initial one (None: it does not say)."""
    try:
        rules = fp.get_rules_along_trace()
    except z3.Z3Exception:
        return None
    return max(0, len(rules) - 2) if len(rules) >= 2 else None


def _violation(sy: Symbolic, result: ProofResult, prop: str, length: int | None, deadline: float | None) -> None:
    """A shortest counterexample by BMC (depth: Spacer's, else TRACE_DEPTH), replayed, into `result`."""
    depth = TRACE_DEPTH if length is None else length + 1
    remaining = None if deadline is None else max(1.0, deadline - time.perf_counter())
    found = bmc(sy.system, depth, remaining, stop_on=frozenset({prop}))
    finding = found.witnesses.get(prop) or found.violations.get(prop)
    if finding is None:
        result.unknown[prop] = (f"z3 Spacer finds {prop} broken, but bounded model checking found no trace within "
                                f"{depth} steps: unknown, never violated without a trace")
        return
    (result.witnesses if prop in found.witnesses else result.violations)[prop] = finding
    result.paths[prop] = found.paths[prop]
    result.reached = max(result.reached, len(found.paths[prop].labels))


def _constants(f: z3.ExprRef) -> list[z3.ExprRef]:
    """The uninterpreted constants of a formula, each once, in a fixed order (the clause's variables)."""
    by_name = {str(c): c for c in constants(f).values()}
    return [by_name[k] for k in sorted(by_name)]


__all__ = ["TRACE_DEPTH", "conjuncts", "horn", "pdr", "recheck"]
