"""k-induction with simple-path constraints, over bmc.py's macro-frames (symbolic.py's formulas).

A property P (not broken in a state, nor by a step from it) holds in every reachable state when
- base: no path of at most K steps from an initial state breaks it (bmc.py to depth K: a violation found
  there is a real counterexample, decoded and replayed), and
- step, for some k <= K: no path s0 .. sk of k macro-steps whose states are pairwise distinct (a simple
  path), all well-formed (symbolic.py: slot facts proved inductive), with P not broken in s0 .. sk-1,
  breaks P in sk.
A shortest path to a violation is simple and its states before the last do not break P, so when both are
unsat no path does, of any length. "holds" needs both unsat; z3 `unknown` is never a pass. When the step
is still satisfiable at K, the property is unknown and the model is the counterexample to induction (CTI):
states no path from an initial state need reach, which a stronger invariant (a lemma, PDR) rules out.
The properties open at a depth are tried together first (each one's hypothesis helps the others), then
one by one.

First of all, the state facts are strengthened (mining.py `strengthen`): Houdini runs over the slot facts,
the facts every state of a sample of reachable states satisfies and the properties, and keeps the
largest subset that holds initially and that every step preserves. A property in it is proved (the
subset is an inductive invariant: no base case needed); the rest of it is assumed of every frame of the
steps.
"""

from __future__ import annotations

import time

import z3
from netcheck.model.semantics.system import TransitionSystem

from .bmc import bmc
from .limits import Interrupt
from .mining import SAMPLE_STATES, strengthen
from .pdr import finals_reachable
from .symbolic import Cti, Proof, ProofResult, Symbolic, frames_differ
from .verdicts import InternalError


def kinduction(system: TransitionSystem, depth: int, timeout: float | None = None,
               fail_fast: bool = False, stop_on: frozenset[str] = frozenset(), sample: int = SAMPLE_STATES
               ) -> ProofResult:
    """Every property the engine decides proved by an invariant Houdini finds (from `sample` reachable
    states; 0: none) or by k-induction for some k <= depth, violated (BMC's counterexample), or unknown
    with the reason and the CTI. A spec bmc.py cannot unroll: BmcError."""
    started = time.perf_counter()
    deadline = started + timeout if timeout else None
    sy = Symbolic(system, _ms(deadline))
    sy.houdini(_ms(deadline))
    # a property broken while the initial states are computed is broken before any step an invariant covers
    broken = {v.prop for v in sy.system.initial_violations}
    proofs = strengthen(sy, [p for p in sy.decided if p not in broken], sample, deadline) if sample else {}
    left = None if deadline is None else max(0.001, deadline - time.perf_counter())
    base = bmc(system, depth, left, fail_fast, stop_on)
    # the base case ran on what Houdini left of the budget: a timeout is the whole run's
    stop_reason = f"timeout after {timeout:g} s" if timeout and base.stop_reason.startswith("timeout") else \
        base.stop_reason
    result = ProofResult(base.system, dict(base.violations), dict(base.witnesses), base.complete, stop_reason,
                         unknown=dict(base.unknown), depth=depth, reached=base.reached, paths=dict(base.paths),
                         covered=base.covered, times=list(base.times), engine="kind",
                         well_formed=tuple(c.text for c in sy.well_formed_facts))
    contradicted = sorted(set(proofs) & {*base.violations, *base.witnesses})
    if contradicted:
        raise InternalError(f"k-induction: Houdini proves {', '.join(contradicted)}, which bounded model checking "
                            "finds broken")
    for p, proof in proofs.items():   # an inductive invariant needs no base case
        result.proofs[p] = proof
        result.unknown.pop(p, None)
    open_ = [p for p in sy.decided if p not in result.violations and p not in result.witnesses
             and p not in result.unknown and p not in result.proofs]
    if base.reached >= depth:
        _step(sy, result, open_, depth, deadline)
    else:   # the base case is incomplete: nothing more is proved
        reached = f"reached depth {base.reached} of {depth}" if base.reached >= 0 else f"decided no depth of {depth}"
        for p in open_:
            result.unknown[p] = (f"its base case (bounded model checking) {reached} ({stop_reason or 'stopped'}), so "
                                 "no induction step was asked")
    result.deadlock_partial = sy.deadlock_partial(result.proofs)
    result.final_reachable = finals_reachable(sy, result.proofs, deadline)
    result.seconds = time.perf_counter() - started
    return result


def _ms(deadline: float | None) -> int:
    return max(1, int((deadline - time.perf_counter()) * 1000)) if deadline is not None else 0


def _step(sy: Symbolic, result: ProofResult, open_: list[str], depth: int, deadline: float | None) -> None:
    """The induction steps k = 0 .. depth for the open properties: proofs, CTIs, unknowns into `result`."""
    solver = z3.Solver()
    solver.set("random_seed", 0)
    acts = {p: z3.Bool(f"hyp@{p}") for p in open_}
    frames = [sy.frame("k0")]
    solver.add(sy.well_formed(frames[0]))
    last: dict[str, z3.ModelRef] = {}
    with Interrupt() as interrupt:
        for k in range(depth + 1):
            if not open_:
                return
            if interrupt.raised or (deadline is not None and time.perf_counter() > deadline):
                why = "interrupted" if interrupt.raised else "timeout"
                for p in open_:
                    result.unknown[p] = f"k-induction stopped before the step at depth {k}: {why}"
                return
            if deadline is not None:
                solver.set("timeout", _ms(deadline))
            began = time.perf_counter()
            fk = frames[k]
            bad = {p: sy.bad(p, fk) for p in open_}
            proved, undecided = _try(solver, bad, acts, open_, last, deadline)
            for p in proved:
                result.proofs[p] = Proof(p, "kind", k=k, seconds=time.perf_counter() - began)
            for p, why in undecided.items():
                result.unknown[p] = f"z3 could not decide the induction step at depth {k}: {why}"
            open_ = [p for p in open_ if p not in proved and p not in undecided]
            if k == depth:
                break
            for p in open_:   # the hypothesis: p is not broken in frame k
                solver.add(z3.Implies(acts[p], sy.good(p, fk)))
            nxt = sy.frame(f"k{k + 1}")
            solver.add(sy.well_formed(nxt), sy.step(fk, nxt, f"s{k}"))
            solver.add(*[frames_differ(f, nxt) for f in frames])
            frames.append(nxt)
    for p in open_:
        model = last[p]
        result.ctis[p] = Cti(p, tuple(sy.state_of(model, f) for f in frames))
        result.unknown[p] = (f"not proved by k-induction to depth {depth}: the induction step fails (a "
                             f"counterexample to induction of {depth} steps); no violation within {depth} steps")


def _try(solver: z3.Solver, bad: dict[str, z3.BoolRef], acts: dict[str, z3.BoolRef], open_: list[str],
         last: dict[str, z3.ModelRef], deadline: float | None = None) -> tuple[list[str], dict[str, str]]:
    """The open properties together, then one by one: (proved, undecided with z3's reason); the model
    of a failed step per property into `last`. Each query gets the time left before `deadline`."""
    def check(*assumptions: z3.BoolRef) -> z3.CheckSatResult:
        if deadline is not None:
            solver.set("timeout", _ms(deadline))
        return solver.check(*assumptions)
    solver.push()
    solver.add(z3.Or(*[bad[p] for p in open_]))
    answer = check(*[acts[p] for p in open_])
    solver.pop()
    if answer == z3.unsat:
        return list(open_), {}
    proved: list[str] = []
    undecided: dict[str, str] = {}
    for p in open_:
        solver.push()
        solver.add(bad[p])
        answer = check(acts[p])
        if answer == z3.unsat:
            proved.append(p)
        elif answer == z3.unknown:
            undecided[p] = solver.reason_unknown()
        else:
            last[p] = solver.model()
        solver.pop()
    return proved, undecided


__all__ = ["kinduction"]
