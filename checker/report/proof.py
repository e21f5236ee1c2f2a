"""`netcheck prove`: per property, a proof with an invariant in spec syntax checked again, or a violation with
its trace, or unknown with the counterexample to induction told as a lock table and thread positions.

Per property the engine decides (engine/bmc.py `covered`):
1. the spec's `lemmas:` with the property, 1-induction (engine/lemmas.py): proved when inductive, else the CTI;
2. unless --lemmas-only, PDR (engine/pdr.py) with a time budget: its invariant written in spec syntax
   (analyses/proof.py), parsed back, shrunk (a conjunct is dropped while the rest is still inductive and
   still proves the property) and checked again by engine/lemmas.py: initiation, consecution, safety;
3. then k-induction to --depth: a proof at some k, a violation (BMC's replayed trace), or the CTI.
"Proved" needs a passed check of a written invariant or a k-induction proof; z3 unknown is never a pass.
Deadlock freedom (when named) is proved in its state-local form the same way, and is proved only when
every run is shown finite too (engine/symbolic.py `Symbolic.finite`, with the proved lemmas assumed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial

import z3
from netcheck.model.lang.errors import Diagnostic, SpecError
from netcheck.model.lang.expr import MAX_EXPR_CHARS, ExprError
from netcheck.model.semantics.evaluate import format_value
from netcheck.model.semantics.layout import SlotKind, sort_type
from netcheck.model.semantics.places import PlaceError, thread_places
from netcheck.model.semantics.program import locals_by_frame, locals_named
from netcheck.model.semantics.system import TransitionSystem

from ..analyses.proof import Unwritable, Writer, compile_condition, engine_text, parse_back, split_invariant
from ..analyses.trace import lock_rows
from ..engine.explore import explore
from ..engine.kinduction import kinduction
from ..engine.lemmas import Check, InductionCti, check_induction, check_lemmas
from ..engine.limits import Limits
from ..engine.pdr import finals_reachable, pdr
from ..engine.symbolic import Cti, ProofResult, Symbolic
from ..engine.vocabulary import EXIT_INCOMPLETE, EXIT_OK, EXIT_VIOLATED, CheckStatus, ProofStatus, ProveEngine
from .build import PropertyResult, build_proof_report
from .forked import Ask, forked

REACHABILITY_STATES = 200_000   # the explicit search that says whether a CTI's first state is reachable


@dataclass(frozen=True)
class StateView:
    """One state as `explain` tells it: where each thread stands, the lock table, the shared variables."""

    positions: tuple[tuple[str, str, str], ...]   # (thread, place, statement text)
    locks: tuple[tuple[str, str], ...]            # (lock, holders and waiters)
    shared: tuple[tuple[str, str], ...]           # (variable, value)
    locals: tuple[tuple[tuple[str, str], ...], ...] = ()   # per thread: (local, value) where in use


@dataclass(frozen=True)
class CtiView:
    """A counterexample to induction: the states, what fails in the last, and whether the first is reachable."""

    kind: str           # consecution, safety, k-induction
    conjunct: str       # the lemma (or `the property`) false after the step
    states: tuple[StateView, ...]
    reachable: str      # reachable, unreachable, or why it is not known


@dataclass(frozen=True)
class LemmaCheck:
    """The spec's lemmas with the property: every check, and the CTI of the first failure."""

    checks: tuple[Check, ...]
    cti: CtiView | None
    inductive: bool


@dataclass(frozen=True)
class PropertyProof:
    name: str
    status: ProofStatus
    engine: str = ""                    # lemmas, pdr, kind (how it was proved or violated)
    invariant: tuple[str, ...] = ()     # the inductive invariant's conjuncts, in spec syntax
    checks: tuple[Check, ...] = ()      # the written invariant checked again
    k: int = -1
    lemmas: LemmaCheck | None = None
    cti: CtiView | None = None          # k-induction's, when unknown
    reason: str = ""
    violation: PropertyResult | None = None
    unnamed: tuple[str, ...] = ()       # the invariant's conjuncts over state spec syntax cannot name, in z3's notation
    with_properties: tuple[str, ...] = ()   # other properties that are conjuncts of the invariant (its step needs them)


@dataclass(frozen=True)
class ProveReport:
    spec: str
    lemmas: tuple[tuple[str, str], ...]
    well_formed: tuple[str, ...]
    properties: tuple[PropertyProof, ...]

    @property
    def exit_code(self) -> int:
        statuses = {p.status for p in self.properties}
        if statuses & {ProofStatus.VIOLATED, ProofStatus.VACUOUS}:
            return EXIT_VIOLATED
        return EXIT_INCOMPLETE if ProofStatus.UNKNOWN in statuses else EXIT_OK


@dataclass(frozen=True)
class ProveOptions:
    timeout: float = 60.0     # PDR's budget per property, seconds
    depth: int = 8            # k-induction's largest k
    lemmas_only: bool = False
    engine: ProveEngine = ProveEngine.AUTO   # after the lemmas: PDR, then k-induction, or one of them


def provable(system: TransitionSystem) -> list[str]:
    """The properties prove decides, in report order (requirements only: no reachable: questions; not deadlock
    freedom, whose proved form (engine/deadlocks.py) `verify --engine kind/pdr` reports)."""
    from ..engine.bmc import covered
    kinds = {info.name: info.kind for info in system.property_kinds()}
    return [name for name, why in covered(system).items()
            if not why and kinds.get(name, "runtime") not in ("reachable", "deadlock")]


def provable_when_named(system: TransitionSystem) -> list[str]:
    """`provable`, and deadlock freedom (its state-local form, engine/deadlocks.py), proved when named."""
    kinds = {info.name: info.kind for info in system.property_kinds()}
    return [*provable(system), *[name for name, kind in kinds.items() if kind == "deadlock"]]


def prove(path: str, system: TransitionSystem, names: list[str], options: ProveOptions) -> ProveReport:
    system = system.unreduced()
    sy = Symbolic(system)
    sy.houdini()
    lemmas = compiled_lemmas(system, sy)
    # the lemmas' own questions, asked once here for every property (engine/lemmas.py)
    alone = check_lemmas(sy, lemmas) if lemmas else None
    reach = _Reachability(system)
    # each property in a child forked from this same state (forked.py): its proof is the one found alone
    out = [forked(partial(_prove_one, path, system, sy, lemmas, alone, name, options), reach) for name in names]
    return ProveReport(path, tuple((lm.name, lm.text) for lm in system.spec.lemmas),
                       tuple(c.text for c in sy.well_formed_facts), tuple(out))


def compiled_lemmas(system: TransitionSystem, sy: Symbolic) -> list[tuple[str, z3.BoolRef]]:
    """The spec's lemmas as z3 terms; an at() place that is no statement of its thread: SpecError NC125."""
    out, errors = [], []
    for lemma in system.spec.lemmas:
        try:
            out.append((lemma.name, compile_condition(sy.u.rel.pre, lemma.expr)))
        except PlaceError as err:
            errors.append(Diagnostic(lemma.span, "NC125", f"lemma {lemma.name}: {err}",
                                     'write at(THREAD, "FILE:LINE") with the line of one of its statements'))
    if errors:
        raise SpecError(errors)
    return out


def _prove_one(path: str, system: TransitionSystem, sy: Symbolic, lemmas: list[tuple[str, z3.BoolRef]],
               alone: tuple[Check, ...] | None, name: str, options: ProveOptions, reach: Ask) -> PropertyProof:
    lemma_check = None
    if any(v.prop == name for v in system.initial_violations):   # broken before any step: PDR reports it
        found = forked(partial(_by_pdr, path, system, sy, name, options, None), reach)
        return found if isinstance(found, PropertyProof) else PropertyProof(name, ProofStatus.UNKNOWN, reason=found)
    if not system.initial_states:   # every property would be checked on no state: vacuous, never proved
        return PropertyProof(name, ProofStatus.VACUOUS, reason=system.why_no_state())
    if lemmas:
        induction = check_induction(sy, name, lemmas, lemmas=alone)
        lemma_check = LemmaCheck(induction.checks, _cti_view(system, induction.cti, reach), induction.inductive)
        if induction.inductive:
            reachable = partial(finals_reachable, sy, [name], time.perf_counter() + options.timeout)
            return _caveat(sy, reachable, PropertyProof(name, ProofStatus.PROVED, "lemmas", tuple(
                f"{n}: {t}" for n, t in _lemma_texts(system)), induction.checks, lemmas=lemma_check),
                [term for _, term in lemmas])
    if options.lemmas_only:
        why = "the lemmas are not inductive" if lemmas else "the spec has no lemmas"
        return PropertyProof(name, ProofStatus.UNKNOWN, lemmas=lemma_check, reason=f"{why} (--lemmas-only: no search)")
    # PDR, then k-induction, each in a child forked from here: how far Spacer got before its time ran out
    # changes the z3 state, which would change what k-induction and the shrink find after it
    pdr_reason = None
    if options.engine is not ProveEngine.KIND:
        by_pdr = forked(partial(_by_pdr, path, system, sy, name, options, lemma_check), reach)
        if isinstance(by_pdr, PropertyProof):
            return by_pdr
        if options.engine is ProveEngine.PDR:
            return PropertyProof(name, ProofStatus.UNKNOWN, lemmas=lemma_check,
                                 reason=f"PDR: {by_pdr}; k-induction: not tried (--engine pdr)")
        pdr_reason = by_pdr
    return forked(partial(_by_kind, path, system, sy, name, options, lemma_check, pdr_reason), reach)


def _by_pdr(path: str, system: TransitionSystem, sy: Symbolic, name: str, options: ProveOptions,
            lemma_check: LemmaCheck | None, reach: Ask) -> PropertyProof | str:
    """PDR's proof (its invariant written and checked again) or violation; else why not."""
    result = pdr(system, options.timeout, stop_on=frozenset({name}), sample=0)   # Houdini comes third
    if name in result.violations:
        return _violated(path, result, name, "pdr", lemma_check)
    if name not in result.proofs or result.proofs[name].invariant is None:
        return result.unknown.get(name, "PDR found no invariant")
    written = _written(system, sy, name, result.proofs[name].invariant, "pdr")
    if isinstance(written, PropertyProof):
        return _caveat(sy, lambda: result.final_reachable, replace(written, lemmas=lemma_check))
    return written


def _by_kind(path: str, system: TransitionSystem, sy: Symbolic, name: str, options: ProveOptions,
             lemma_check: LemmaCheck | None, pdr_reason: str | None, reach: Ask) -> PropertyProof:
    """k-induction's proof (Houdini's invariant written and checked again, or a k), violation, or unknown
    with the reasons and the counterexample to induction. `pdr_reason`: why PDR did not decide it (None:
    PDR was not tried)."""
    kind = kinduction(system, options.depth, options.timeout, stop_on=frozenset({name}))
    if name in kind.violations:
        return _violated(path, kind, name, "kind", lemma_check)
    reasons = [("PDR", pdr_reason)] if pdr_reason is not None else []
    why_not_pdr = "; ".join(f"{e}: {r}" for e, r in reasons)
    proof = kind.proofs.get(name)
    if proof is not None and proof.engine == "houdini" and proof.invariant is not None:
        alone = not proof.with_others or check_induction(sy, name, [("houdini", proof.invariant)]).inductive
        # else its step needs the other properties Houdini kept: conjuncts of the invariant, shown by name
        written = _written(system, sy, name, proof.invariant, "houdini", () if alone else proof.with_others)
        if isinstance(written, PropertyProof):
            return _caveat(sy, lambda: kind.final_reachable, replace(written, lemmas=lemma_check, reason=why_not_pdr))
        reasons.append(("Houdini", written))
    elif proof is not None:
        return _caveat(sy, lambda: kind.final_reachable, PropertyProof(name, ProofStatus.PROVED, "kind", k=proof.k,
                                                                       lemmas=lemma_check, reason=why_not_pdr))
    reasons.append(("k-induction", kind.unknown.get(name, "k-induction did not decide it")))
    cti = _kind_cti(system, kind.ctis.get(name), reach)
    return PropertyProof(name, ProofStatus.UNKNOWN, lemmas=lemma_check, cti=cti,
                         reason="; ".join(f"{e}: {r}" for e, r in reasons))


def _caveat(sy: Symbolic, final_reachable: Callable[[], bool | None], proof: PropertyProof,
            assume: Sequence[z3.BoolRef] = ()) -> PropertyProof:
    """A proof of a final property counts when a final state is reachable (`final_reachable`: the engine's
    answer, or the question asked): vacuous where none is (it was checked on no state), unknown where that
    is not decided.
    A proof of deadlock freedom proves its state-local form (no global deadlock, no wait cycle); that is
    all of it only when every run is finite (engine/deadlocks.py `why_partial`), else it stays unknown."""
    if proof.status is ProofStatus.PROVED and sy.goals[proof.name].kind == "final":
        reachable = final_reachable()
        if reachable is not True:
            why = "no final state is reachable (z3 Spacer), so it was checked on no state" if reachable is False \
                else "whether any final state is reachable was not decided (a proof over no state is no pass)"
            return replace(proof, status=ProofStatus.VACUOUS if reachable is False else ProofStatus.UNKNOWN,
                           reason=f"true in every final state, but {why}")
    if proof.status is not ProofStatus.PROVED or proof.name not in _deadlock_names(sy.system):
        return proof
    what = "no global deadlock and no wait cycle in any reachable state"
    partial = sy.deadlock_partial({proof.name}, assume)
    if not partial:
        return replace(proof, reason="; ".join(r for r in (what + " (every run is finite, so no thread waits "
                                                           "forever)", proof.reason) if r))
    return replace(proof, status=ProofStatus.UNKNOWN, reason=f"{what}, proved; not a proof of deadlock freedom, since "
                   f"{partial} (a thread stuck in a livelock is decided only by the explicit search)")


def _deadlock_names(system: TransitionSystem) -> set[str]:
    return {info.name for info in system.property_kinds() if info.kind == "deadlock"}


def _lemma_texts(system: TransitionSystem) -> list[tuple[str, str]]:
    return [(lm.name, lm.text) for lm in system.spec.lemmas]


def _violated(path: str, result: ProofResult, name: str, engine: str, lemma_check: LemmaCheck | None) -> PropertyProof:
    report = build_proof_report(path, result, use_expect=False)
    prop = next(p for p in report.properties if p.name == name)
    return PropertyProof(name, ProofStatus.VIOLATED, engine, lemmas=lemma_check, violation=prop)


def _written(system: TransitionSystem, sy: Symbolic, name: str, invariant: z3.BoolRef, engine: str,
             others: Sequence[tuple[str, z3.BoolRef]] = ()) -> PropertyProof | str:
    """An engine's invariant in spec syntax, parsed back, shrunk (`_shrink`) and checked again;
    or why not. A conjunct whose spec-syntax form does not mean what it says in z3 (under the
    well-formedness facts), and Houdini's facts over state the spec language cannot name (clauses learned
    over an RCU grace period's waiters), are checked with the rest as z3 terms and shown in z3's notation
    (`unnamed`). `others`: other properties (name, the state condition that they hold) that are conjuncts
    too, shown by name (`with_properties`)."""
    whose = {"pdr": "PDR's invariant", "houdini": "Houdini's invariant"}[engine]
    written, unwritten = split_invariant(system, sy.u.base, invariant)
    if unwritten and engine != "houdini":
        try:
            Writer(system, sy.u.base).write(unwritten[0])   # raises Unwritable, saying why
        except Unwritable as err:
            return f"{whose} cannot be written in spec syntax ({err}): not shown, not a proof here"
    same = _Equivalence(sy)
    terms: dict[str, z3.BoolRef] = {}
    unnamed = list(unwritten)
    for text, fact in written:
        if len(text) > MAX_EXPR_CHARS:   # longer than a spec may write (another property, written out)
            unnamed.append(fact)
            continue
        try:
            term = compile_condition(sy.u.rel.pre, parse_back(system, text))
        except (ExprError, PlaceError) as err:
            return f"{whose} written in spec syntax does not parse back ({err}): a bug in netcheck"
        if not same(fact, term):
            unnamed.append(fact)
        elif text != "true":
            terms.setdefault(text, term)
    shown = {engine_text(term): term for term in unnamed}
    props = {f"property {q}": q for q, _ in others}
    kept = _shrink(sy, name, [*terms.items(), *sorted(shown.items()), *((f"property {q}", t) for q, t in others)])
    induction = check_induction(sy, name, kept)
    if not induction.inductive:
        failed = ", ".join(f"{c.kind} of {c.conjunct}" for c in induction.checks if c.status is not CheckStatus.PASSED)
        return f"{whose}, written in spec syntax, does not check again ({failed}): not a proof"
    conjuncts = tuple(t for t, _ in kept if t not in shown and t not in props)
    return PropertyProof(name, ProofStatus.PROVED, engine, conjuncts, induction.checks,
                         unnamed=tuple(t for t, _ in kept if t in shown),
                         with_properties=tuple(props[t] for t, _ in kept if t in props))


class _Equivalence:
    """Whether two terms over the state-before constants agree in every well-formed state (z3 unsat)."""

    def __init__(self, sy: Symbolic):
        self.solver = z3.Solver()
        self.solver.set("random_seed", 0)
        self.solver.add(sy.well_formed(sy.u.base))

    def __call__(self, a: z3.BoolRef, b: z3.BoolRef) -> bool:
        self.solver.push()
        self.solver.add(z3.Xor(a, b))
        answer = self.solver.check()
        self.solver.pop()
        return answer == z3.unsat


def _needed(sy: Symbolic, name: str, terms: list[tuple[str, z3.BoolRef]]) -> list[tuple[str, z3.BoolRef]]:
    """Of an inductive invariant (with the property), the conjuncts the property's step needs, those their
    steps need, and so on: each step's unsat core, every conjunct assumed of the state before through a
    literal, in one solver (z3 asked for small cores). The conjuncts found are inductive with the property
    by construction (each one's step follows from them); `terms` itself when z3 does not say unsat."""
    s, t = sy.frame("need0"), sy.frame("need1")
    solver = z3.Solver()
    solver.set("random_seed", 0)
    solver.set("core.minimize", True)
    solver.add(sy.well_formed(s), sy.good(name, s), sy.step(s, t, "need"), sy.well_formed(t))
    assumed = [z3.Bool(f"need.assumed{k}") for k in range(len(terms))]
    for a, (_, term) in zip(assumed, terms):
        solver.add(z3.Implies(a, sy.u.at(term, s)))
    needed: set[int] = set()
    todo: list[int] = [-1]   # -1: the property
    while todo:
        k = todo.pop()
        broken = z3.Bool(f"need.broken{k}")
        solver.add(z3.Implies(broken, z3.Not(sy.good(name, t) if k < 0 else sy.u.at(terms[k][1], t))))
        if solver.check(broken, *assumed) != z3.unsat:
            return terms
        core = {c.get_id() for c in solver.unsat_core()}
        for j, a in enumerate(assumed):
            if a.get_id() in core and j not in needed:
                needed.add(j)
                todo.append(j)
    return [terms[j] for j in sorted(needed)]


SHRINK_ONE_BY_ONE = 64   # conjuncts: more than this are first dropped in runs, halving the run each pass
SHRINK_CHECKS = 64       # induction checks at most: then the conjuncts left stay (a count, not a time, so
                         # that what prove prints does not depend on the machine's load)


def _shrink(sy: Symbolic, name: str, terms: list[tuple[str, z3.BoolRef]]) -> list[tuple[str, z3.BoolRef]]:
    """Drop conjuncts, last first, while the rest is still inductive with the property (at most
    SHRINK_CHECKS checks; deterministic), starting from those the property needs (`_needed`, given the
    shortest texts first: of two facts that say the same, z3's core then keeps the shorter). A large
    invariant loses whole runs of conjuncts first, so that it takes some dozens of checks rather than one
    per conjunct."""
    shortest_first = sorted(terms, key=lambda term: (len(term[0]), term[0]))   # z3's cores prefer them
    needed = _needed(sy, name, shortest_first)
    if needed is shortest_first and not check_induction(sy, name, terms).inductive:
        return terms
    chosen = {id(term) for term in needed}
    kept = [term for term in terms if id(term) in chosen]   # in the invariant's own order again
    run = len(kept) // 2 if len(kept) > SHRINK_ONE_BY_ONE else 1
    checks = 0
    while run >= 1:
        end = len(kept)
        while end > 0 and checks < SHRINK_CHECKS:
            checks += 1
            start = max(0, end - run)
            trial = kept[:start] + kept[end:]
            if check_induction(sy, name, trial).inductive:
                kept = trial
            end = start
        run //= 2
    return kept


# -- states as explain tells them


def state_view(system: TransitionSystem, s: tuple) -> StateView:
    places = thread_places(system.threads)
    positions = []
    locals_ = []
    for t in system.threads:
        pc = s[t.pcslot]
        named = locals_named(t.nodes)[pc] if pc < len(t.nodes) else {}
        shown = set(named.values())   # and an outer frame's local an inner one hides, as PROC.NAME
        hidden = {name: slot for name, slot in (locals_by_frame(t.nodes)[pc] if pc < len(t.nodes) else {}).items()
                  if slot not in shown}
        locals_.append(tuple((name, format_value(s[slot], sort_type(system.layout.slots[slot].sort), system.names))
                             for name, slot in (*named.items(), *hidden.items())))
        node = system.node_at(s, t.tid)
        text = node.stmt.text if node is not None and node.stmt is not None else ""
        try:
            place = places[t.name].place(pc)
        except KeyError:
            place = f"pc {pc}"
        positions.append((t.name, place, text))
    locks = tuple((lock, row.spell()) for lock, row in lock_rows(system, s).items())
    shared = tuple((slot.name, format_value(s[i], slot.type, system.names))
                   for i, slot in enumerate(system.layout.slots) if slot.kind == SlotKind.SHARED)
    return StateView(tuple(positions), locks, shared, tuple(locals_))



class _Reachability:
    """Whether a state is reachable, by one explicit search (at most REACHABILITY_STATES states), run once.
    A z3 state gives every slot a value; an explicit one leaves the locals of finished threads out (None)."""

    def __init__(self, system: TransitionSystem):
        self.system = system
        self._states: list[tuple] | None = None
        self._complete = False

    def __call__(self, s: tuple) -> str:
        if self._states is None:
            exp = explore(self.system, Limits(max_states=REACHABILITY_STATES), measure_memory=False)
            self._states = list(exp.store.states)
            self._complete = exp.complete
        if any(all(e is None or e == c for e, c in zip(state, s)) for state in self._states):
            return "reachable"
        if self._complete:
            return f"unreachable: the explicit search of all {len(self._states):,} reachable states never visits it"
        return f"not known: the explicit search stopped at {len(self._states):,} states"


def _cti_view(system: TransitionSystem, cti: InductionCti | None, reach: Ask) -> CtiView | None:
    if cti is None:
        return None
    states = (cti.before,) if cti.after is None else (cti.before, cti.after)
    return CtiView(cti.kind, cti.conjunct, tuple(state_view(system, s) for s in states), reach(cti.before))


def _kind_cti(system: TransitionSystem, cti: Cti | None, reach: Ask) -> CtiView | None:
    if cti is None:
        return None
    return CtiView("k-induction", "the property", tuple(state_view(system, s) for s in cti.states),
                   reach(cti.states[0]))


__all__ = ["CtiView", "LemmaCheck", "PropertyProof", "ProveOptions", "ProveReport", "StateView", "prove",
           "provable", "state_view"]
