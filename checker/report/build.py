"""Frozen results of verifying one spec: per-property verdicts, counterexamples, statistics, exit code."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from netcheck.model.semantics.discipline import Reduction
from netcheck.model.semantics.system import TransitionSystem

from ..analyses import liveness
from ..analyses.coverage import Coverage, summarize
from ..analyses.fairgraph import Fairness
from ..analyses.hangs import HiddenHang, hidden_hangs
from ..analyses.latency import slow_steps_waited
from ..analyses.lockorder import LockDependencies, LockOrder, cycle_message, lock_order
from ..analyses.trace import Trace, counterexample, describe_path, lock_rows
from ..analyses.waitfor import DeadlockExplanation, SlowWaits, explain_deadlock, explain_stuck, slow_chains
from ..engine.deadlocks import explicit_form
from ..engine.limits import STOPPED_AT_VIOLATION
from ..engine.observers import Observer
from ..engine.result import ExplicitResult

if TYPE_CHECKING:
    from ..engine.bdd import BddResult
    from ..engine.bmc import BmcResult
    from ..engine.symbolic import ProofResult
from ..engine.vocabulary import (
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_VIOLATED,
    PropertyKind,
    Status,
    worst_exit_code,
)

# the stop reason of a run that ended once every violation its spec's expect: lists was found
STOPPED_AT_EXPECTED = "stopped: every violation expect: lists is found"


@dataclass(frozen=True)
class WaitedThrough:
    """A waits_on_slow question's `during:` answer: the most slow steps other threads complete while a thread
    of it, inside `procedure`, is blocked (None: unboundedly many), also not counting waits behind a queued
    writer; the slow steps of a run that reaches the most."""

    procedure: str
    most: int | None
    most_not_behind_queued_writer: int | None
    steps: tuple[str, ...]
    complete: bool     # False: the run was cut short, the numbers are lower bounds

    @property
    def sentence(self) -> str:
        def count(n: int | None) -> str:
            return "unboundedly many" if n is None else f"at most {n}"
        bound = "" if self.complete else " (in the states explored: a lower bound)"
        return (f"inside {self.procedure}(), other threads can complete {count(self.most)} slow steps while it is "
                f"blocked{bound}, {count(self.most_not_behind_queued_writer).replace('at most ', '')} when it "
                f"does not wait behind a queued writer")


@dataclass(frozen=True)
class PropertyResult:
    name: str
    kind: PropertyKind
    status: Status         # holds, violated, vacuous (a final property with no final state), unknown; questions:
                           # reachable, unreachable, unknown
    location: str          # file:line of the declaration (or of the violating step for built-in properties)
    about: str
    message: str = ""
    trace: Trace | None = None
    context: tuple[tuple[str, str], ...] = ()   # relevant part of the final state: (name, value)
    waits: tuple[str, ...] = ()                 # for deadlocks: what each stuck thread waits for
    explanation: DeadlockExplanation | None = None   # for deadlocks: the cycle (or chain) of waits, classified
    # for deadlocks: where each stuck thread is blocked (file:line), the first also being `location`
    locations: tuple[str, ...] = ()
    # on how many reachable states the property was checked (final properties: the final states); -1 unknown
    checked_states: int = -1
    expected: bool = False      # violated, and the spec's `expect:` says it must be
    expression: str = ""        # the property's expression (an assertion's condition) as written
    # the trace is a shortest one; not so for stuck threads a run stopped early proved: a shallower
    # state may have stuck threads that only the unexplored rest of the graph would prove
    shortest: bool = True
    waited: WaitedThrough | None = None   # waits_on_slow with during: how many slow steps it can wait through
    reduced: bool = False       # found by a reduced search (--reduce): the trace is unfolded, maybe not shortest


@dataclass(frozen=True)
class Stats:
    states: int
    transitions: int
    depth: int
    seconds: float
    states_per_second: float
    peak_memory_mb: float
    deadlocked_states: int
    final_states: int
    worker_memory_mb: tuple[float, ...] = ()   # a search on Ray workers: each one's peak memory


@dataclass(frozen=True)
class ExpectationResult:
    """The spec's `expect:` checked against the verdicts: met, not met (with what differed), or undecided."""

    violated: tuple[str, ...]          # the properties the spec expects to be violated (none: expect: holds)
    met: bool | None                   # None: undecided, the run was cut short before it could tell
    differences: tuple[str, ...] = ()  # what differed, in words
    location: str = ""                 # file:line of the spec's expect:


@dataclass(frozen=True)
class SpecReport:
    spec: str
    name: str
    files: tuple[str, ...]
    bounds: tuple[tuple[str, int], ...]
    complete: bool
    stop_reason: str
    properties: tuple[PropertyResult, ...]
    stats: Stats
    lock_order: LockOrder | None = None    # the lock-order analysis behind the lock_order property
    threads: tuple[str, ...] = ()          # thread instance names, by thread id (wait-for chains name them)
    about: str = ""                        # the spec's `about:`
    expectation: ExpectationResult | None = None
    coverage: Coverage | None = None
    strict_coverage: bool = False   # --strict-coverage: a statement no reachable transition runs fails the run
    reduction: str = "none"         # the search's reduction (model/semantics/discipline.py)
    symmetry: str = ""              # with --symmetry on: what is symmetric and why the rest is not ('' when off)
    store: str = "full"             # engine/store.py StoreKind: states whole, or 64-bit fingerprints
    omission_probability: float = 0.0   # with fingerprints: a bound on the chance that a collision hid a state
    # killable waits that can last forever or through unboundedly many grace periods, unseen by the
    # hung-task detector: looked for in the threads a progress: or returns_when_killed: property names
    hangs: tuple[HiddenHang, ...] = ()
    # explicit (the search), bmc (bounded model checking, engine/bmc.py), bdd (BDD layers, engine/bdd.py), kind
    # (k-induction, engine/kinduction.py) or pdr (z3's Spacer, engine/pdr.py)
    engine: str = "explicit"
    depth_bound: int | None = None  # bmc, kind, bdd: the depth asked for (--depth)

    @property
    def coverage_failed(self) -> bool:
        """Under --strict-coverage, a complete run left a statement unexecuted."""
        cov = self.coverage
        return self.strict_coverage and cov is not None and cov.complete and bool(cov.unreached)

    @property
    def exit_code(self) -> int:
        if self.stop_reason == "interrupted":   # Ctrl-C: the command exits 130, and the summary says so
            return EXIT_INTERRUPTED
        if self.coverage_failed:
            return EXIT_VIOLATED
        if self.expectation is not None:   # the run is a test of the spec's expected verdicts
            met = self.expectation.met
            return EXIT_OK if met else EXIT_VIOLATED if met is False else EXIT_INCOMPLETE
        codes = [p.status.exit_code for p in self.properties]   # questions never fail a run
        return worst_exit_code(codes + ([] if self.complete else [EXIT_INCOMPLETE]))


def build_report(path: str, exp: ExplicitResult, order: LockOrder | None = None, use_expect: bool = True) -> SpecReport:
    """Every property's verdict (lock_order included: pass `order` when already computed), checked against
    the spec's `expect:` unless `use_expect` is off."""
    system = exp.system
    reduced = system.reduction
    results = []
    unreduced: set[str] = set()   # the properties whose counterexample the unreduced search gave
    for name, kind_name, about, span, _ in system.property_kinds():
        kind = PropertyKind(kind_name)
        found = exp.violations.get(name)
        location = span.short if span is not None else ""
        if kind.is_question:
            results.append(answer(exp, name, kind, about, location))
            if retraced(exp, name) is not exp:
                unreduced.add(name)
            continue
        if found is None and exp.complete and exp.state_count == 0:
            results.append(PropertyResult(name, kind, Status.VACUOUS, location, about, no_state(system),
                                          checked_states=0))
            continue
        if kind.is_liveness:
            results.append(liveness_result(exp, name, kind, about, location))
            continue
        if found is not None:
            reads = next((f.slots for f in system.finals if f.decl.name == name), None) \
                if kind is PropertyKind.FINAL else None
            # after a reduced search, the unreduced one's shortest counterexample when it has one
            source = retraced(exp, name)
            trace = counterexample(source, source.violations[name], focus=reads)
            if source is not exp and kind is PropertyKind.DEADLOCK:
                # stuck threads the second search proved before its stop need not be the shallowest: the
                # reduced search's own trace (its whole graph proves them) may be shorter
                own = counterexample(exp, found)
                if len(own.steps) < len(trace.steps):
                    source, trace = exp, own
            if source is not exp:
                unreduced.add(name)
                found = source.violations[name]
            if not location and trace.steps:
                location = trace.steps[-1].location
            final = trace.states[-1] if trace.states else system.base_state
            context = relevant_state(system, name, kind, final)
            message = found.message or default_message(kind)
            explanation = None
            waits: tuple[str, ...] = ()
            locations: tuple[str, ...] = ()
            if kind is PropertyKind.DEADLOCK:
                explanation = explain_stuck(source, found.state)
                message, waits = explanation.summary, explanation.threads
                locations = stuck_locations(system, final, explanation)
                location = locations[0] if locations else location
            results.append(PropertyResult(name, kind, Status.VIOLATED, location, about, message, trace, context,
                                          waits, explanation, locations,
                                          shortest=(reduced is Reduction.NONE or source is not exp) and (
                                              source.complete or kind is not PropertyKind.DEADLOCK)))
        elif not exp.complete:
            results.append(PropertyResult(name, kind, Status.UNKNOWN, location, about,
                                          f"exploration stopped: {exp.stop_reason}"))
        elif name in exp.unknown:
            results.append(PropertyResult(name, kind, Status.UNKNOWN, location, about, exp.unknown[name]))
        elif kind is PropertyKind.FINAL and not exp.finals:
            results.append(PropertyResult(name, kind, Status.VACUOUS, location, about, VACUOUS_MESSAGE,
                                          checked_states=0))
        else:
            results.append(PropertyResult(name, kind, Status.HOLDS, location, about,
                                          checked_states=checked_states(exp, kind)))
    if reduced is not Reduction.NONE:
        results = [replace(r, reduced=True) if r.trace is not None and r.name not in unreduced else r
                   for r in results]
    texts = {p.name: p.text for p in system.property_kinds()}
    results = [replace(r, expression=texts[r.name]) if texts.get(r.name) else r for r in results]
    order = order if order is not None else lock_order(exp)
    after = next((i + 1 for i, r in enumerate(results) if r.kind is PropertyKind.DEADLOCK),
                 next((i for i, r in enumerate(results) if r.kind is PropertyKind.LOCK_DISCIPLINE), len(results)))
    results.insert(after, lock_order_result(order, exp))
    # the time includes the second, unreduced search for traces (analyses/retrace.py); the rate is the search's
    seconds = exp.seconds + (exp.traces.seconds if exp.traces is not None else 0.0)
    stats = Stats(exp.state_count, exp.transitions, exp.max_depth, round(seconds, 3),
                  round(exp.state_count / exp.seconds, 1) if exp.seconds > 0 else 0.0, round(exp.peak_memory_mb, 1),
                  len(exp.deadlocks), len(exp.finals), tuple(round(m, 1) for m in exp.worker_memory_mb))
    expectation = None
    if system.spec.expect is not None and use_expect:
        expect = system.spec.expect
        expectation = replace(check_expectation(expect.violated, results, stopped_at_violation(exp)),
                              location=expect.span.short)
        results = [replace(r, expected=True) if r.status is Status.VIOLATED and r.name in expectation.violated else r
                   for r in results]
    coverage = summarize(system, exp.executions, exp.complete) if exp.executions is not None else None
    return SpecReport(path, system.spec.name, system.spec.files, system.spec.bounds, exp.complete, exp.stop_reason,
                      tuple(results), stats, order, tuple(t.name for t in system.threads), system.spec.about,
                      expectation, coverage, reduction=reduced.value, hangs=hangs_of(exp),
                      symmetry=system.symmetry.describe() if system.symmetry is not None else "",
                      store=exp.store.kind.value, omission_probability=exp.store.omission_probability())


def build_bmc_report(path: str, result: BmcResult, use_expect: bool = True) -> SpecReport:
    """The verdicts of a bounded run (engine/bmc.py): violated with the decoded counterexample, `bounded`
    (no violation within the depth: not a proof), reachable, or unknown with the reason (a property bounded
    model checking does not decide, z3 `unknown`, a run stopped early)."""
    depth = result.depth

    def open_result(name: str, kind: PropertyKind, location: str, about: str) -> PropertyResult:
        what = "not reachable" if kind.is_question else "no violation"
        return PropertyResult(name, kind, Status.BOUNDED, location, about,
                              f"{what} within {depth} steps (bounded model checking: not a proof)")
    return _symbolic_report(path, result, use_expect, open_result, "bmc", depth)


def build_bdd_report(path: str, result: BddResult, use_expect: bool = True) -> SpecReport:
    """The verdicts of the BDD search (engine/bdd.py): violated with the decoded counterexample; at a fixpoint
    `holds` (unreachable for a question, vacuous for a final property with no final state reachable), else
    `bounded` within the depth asked, or unknown when the search stopped short of it."""
    if result.fixpoint or result.depth < 0:   # no depth asked, or none left to reach: nothing stopped short
        result = replace(result, depth=result.reached)

    def open_result(name: str, kind: PropertyKind, location: str, about: str) -> PropertyResult:
        if not result.fixpoint:
            if not result.complete:
                return PropertyResult(name, kind, Status.UNKNOWN, location, about, "the BDD search stopped after "
                                      f"{max(result.reached, 0)} steps: {result.stop_reason}")
            what = "not reachable" if kind.is_question else "no violation"
            return PropertyResult(name, kind, Status.BOUNDED, location, about,
                                  f"{what} within {result.depth} steps (BDD layers, no fixpoint yet: not a proof)")
        how = (f"checked on all {result.states:,} reachable states (BDD layers to a fixpoint after "
               f"{result.reached} steps)")
        if kind is PropertyKind.FINAL and not result.final_reachable:
            return PropertyResult(name, kind, Status.VACUOUS, location, about,
                                  f"no final state is reachable ({how}), so it was checked on no state")
        if kind is PropertyKind.DEADLOCK:   # decided exactly at the fixpoint (engine/bddstuck.py)
            how = f"no thread is stuck in any reachable state: {how}"
        return PropertyResult(name, kind, Status.UNREACHABLE if kind.is_question else Status.HOLDS, location,
                              about, how)
    report = _symbolic_report(path, result, use_expect, open_result, "bdd", None if result.fixpoint else result.depth,
                              stuck=result.stuck_mask)
    return replace(report, complete=result.fixpoint, stats=replace(report.stats, states=result.states))


def build_proof_report(path: str, result: ProofResult, use_expect: bool = True) -> SpecReport:
    """The verdicts of an unbounded run (engine/kinduction.py, engine/pdr.py): violated with the decoded
    counterexample (BMC's, replayed), `holds` for a property proved on every reachable state (unreachable
    for a question), or unknown with the reason (a failed induction step, z3 `unknown`, a limit)."""
    def open_result(name: str, kind: PropertyKind, location: str, about: str) -> PropertyResult:
        proof = result.proofs.get(name)
        if proof is None:
            return PropertyResult(name, kind, Status.UNKNOWN, location, about,
                                  result.unknown.get(name, "not proved"))
        if proof.engine == "kind":
            how = f"proved by k-induction at k = {proof.k} (no violation within {result.depth} steps)"
        elif proof.engine == "houdini":
            how = (f"proved by an inductive invariant of {proof.size} facts (slot facts and facts read off "
                   "sampled reachable states; Houdini kept those every step preserves)")
        else:
            how = (f"proved by PDR (z3 Spacer): an inductive invariant of {proof.size} conjuncts, checked again "
                   "(initiation, consecution, implies the property)")
        if kind is PropertyKind.FINAL and result.final_reachable is not True:
            if result.final_reachable is False:
                return PropertyResult(name, kind, Status.VACUOUS, location, about,
                                      "no final state is reachable (z3 Spacer), so it was checked on no state")
            return PropertyResult(name, kind, Status.UNKNOWN, location, about, f"{how}, for every final state; "
                                  "whether any final state is reachable was not decided (a proof over no state is no "
                                  "pass)")
        if kind is PropertyKind.DEADLOCK:
            how = f"no global deadlock and no wait cycle in any reachable state: {how}"
            if result.deadlock_partial:   # the form proved is not all of it: a thread may still wait forever
                return PropertyResult(name, kind, Status.UNKNOWN, location, about,
                                      f"{how}; not a proof of deadlock freedom, since {result.deadlock_partial} "
                                      "(a thread stuck in a livelock is decided only by the explicit search)")
        return PropertyResult(name, kind, Status.UNREACHABLE if kind.is_question else Status.HOLDS, location,
                              about, how)
    return _symbolic_report(path, result, use_expect, open_result, result.engine,
                            result.depth if result.engine == "kind" else None)


def _symbolic_report(path: str, result: BmcResult, use_expect: bool,
                     open_result: Callable[[str, PropertyKind, str, str], PropertyResult], engine: str,
                     depth: int | None, stuck: int = 0) -> SpecReport:
    """The verdicts of a symbolic engine's run: its findings with their decoded traces, the reasons it
    leaves a property unknown, and `open_result` for the rest (no finding, no reason). `stuck`: the threads
    the engine decided stuck in deadlock_free's last state (the BDD search; 0: those of its form)."""
    system = result.system
    results = []
    for name, kind_name, about, span, _ in system.property_kinds():
        kind = PropertyKind(kind_name)
        location = span.short if span is not None else ""
        found = result.witnesses.get(name) if kind.is_question else result.violations.get(name)
        if found is not None:
            trace = counterexample(result, found)
            if not location and trace.steps:
                location = trace.steps[-1].location
            final = trace.states[-1] if trace.states else system.base_state
            status = Status.REACHABLE if kind.is_question else Status.VIOLATED
            message = found.message or ("reachable: the trace below is a shortest way there" if kind.is_question
                                        else default_message(kind))
            explanation: DeadlockExplanation | None = None
            waits: tuple[str, ...] = ()
            locations: tuple[str, ...] = ()
            if kind is PropertyKind.DEADLOCK:
                explanation, locations = state_deadlock(system, final, stuck)
                message, waits = explanation.summary, explanation.threads
                location = locations[0] if locations else location
            results.append(PropertyResult(name, kind, status, location, about, message, trace,
                                          relevant_state(system, name, kind, final), waits, explanation, locations))
        elif not system.initial_states and not kind.is_question:
            results.append(PropertyResult(name, kind, Status.VACUOUS, location, about, system.why_no_state()))
        elif name in result.unknown and name not in getattr(result, "proofs", {}):
            results.append(PropertyResult(name, kind, Status.UNKNOWN, location, about, result.unknown[name]))
        elif result.reached < result.depth:
            results.append(PropertyResult(name, kind, Status.UNKNOWN, location, about,
                                          f"bounded model checking stopped at depth {max(result.reached, 0)}: "
                                          f"{result.stop_reason}"))
        else:
            results.append(open_result(name, kind, location, about))
    texts = {p.name: p.text for p in system.property_kinds()}
    results = [replace(r, expression=texts[r.name]) if texts.get(r.name) else r for r in results]
    after = next((i + 1 for i, r in enumerate(results) if r.kind is PropertyKind.DEADLOCK),
                 next((i for i, r in enumerate(results) if r.kind is PropertyKind.LOCK_DISCIPLINE), len(results)))
    results.insert(after, PropertyResult("lock_order", PropertyKind.LOCK_ORDER, Status.UNKNOWN, "", LOCK_ORDER_ABOUT,
                                         result.unknown.get("lock_order", "")))
    stats = Stats(0, 0, max(result.reached, 0), round(result.seconds, 3), 0.0, round(result.peak_memory_mb, 1), 0, 0)
    expectation = None
    if system.spec.expect is not None and use_expect:
        expect = system.spec.expect
        expectation = replace(check_expectation(expect.violated, results, True), location=expect.span.short)
        results = [replace(r, expected=True) if r.status is Status.VIOLATED and r.name in expectation.violated else r
                   for r in results]
    return SpecReport(path, system.spec.name, system.spec.files, system.spec.bounds, False, result.stop_reason,
                      tuple(results), stats, None, tuple(t.name for t in system.threads), system.spec.about,
                      expectation, None, engine=engine, depth_bound=depth)


def hangs_of(exp: ExplicitResult) -> tuple[HiddenHang, ...]:
    """The hidden hangs of the threads the spec's progress: and returns_when_killed: properties name, under
    their fairness (on the full graph only)."""
    system = exp.system
    if system.reduction is not Reduction.NONE or system.symmetric:
        return ()
    out: dict[tuple[str, str], HiddenHang] = {}
    for p in system.spec.properties:
        if p.kind in ("progress", "returns_when_killed"):
            fairness = Fairness(p.fairness or system.spec.options.fairness)
            for hang in hidden_hangs(exp, [p.target], fairness):
                out.setdefault((hang.thread, hang.location), hang)
    return tuple(out.values())


def stopped_at_violation(exp: ExplicitResult) -> bool:
    """Did the run stop on request at violations (--fail-fast, --stop-on, the violations expect: lists)?"""
    return exp.stop_reason in STOPPED_AT_VIOLATION or exp.stop_reason == STOPPED_AT_EXPECTED


def report_observers(system: TransitionSystem) -> list[Observer]:
    """What `build_report` reads, collected during the search rather than by walking the store again:
    the lock-order dependencies and the first wait behind a slow step of each `waits_on_slow:` question."""
    return [LockDependencies(system), *(SlowWaits(system, p.target, first_only=True, question=p.name)
                                        for p in system.spec.properties if p.kind == "waits_on_slow")]


def check_expectation(expected: tuple[str, ...], results: Sequence[PropertyResult],
                      stopped_at_violation: bool) -> ExpectationResult:
    """Met when exactly the expected properties are violated and every other one holds. A run stopped on
    request at a violation (--fail-fast, --stop-on) meets it when all it found was expected and it found
    every expected one: the others were not checked, as the user asked. A limit leaves it undecided."""
    status = {r.name: r.status for r in results if not r.kind.is_question}
    failed = {name for name, s in status.items() if s.fails}
    differences = [f"{name} is {status[name]}, but expect: does not list it" for name in sorted(failed - set(expected))]
    differences += [f"{name} holds, but expect: says it is violated" for name in expected
                    if status[name] is Status.HOLDS]
    if differences:
        return ExpectationResult(expected, False, tuple(differences))
    undecided = [name for name, s in status.items() if s in (Status.UNKNOWN, Status.BOUNDED)]
    if not undecided or (stopped_at_violation and set(expected) <= failed and failed):
        return ExpectationResult(expected, True)
    return ExpectationResult(expected, None)


VACUOUS_MESSAGE = ("no final state is reachable, so it was checked on no state: some thread never finishes "
                   "(or a daemon never rests at an idle await)")


def checked_states(exp: ExplicitResult, kind: PropertyKind) -> int:
    """On how many reachable states a property that holds was checked (-1: per execution, not per state)."""
    if kind is PropertyKind.FINAL:
        return len(exp.finals)
    return exp.state_count if kind in (PropertyKind.INVARIANT, PropertyKind.DEADLOCK) else -1


def answer(exp: ExplicitResult, name: str, kind: PropertyKind, about: str, location: str) -> PropertyResult:
    """A question's answer: reachable (with the shortest witness trace), unreachable, or unknown."""
    system = exp.system
    trace, message = None, ""
    context: tuple[tuple[str, str], ...] = ()
    source = retraced(exp, name)   # after a reduced search, the unreduced one's shortest witness
    shortest = system.reduction is Reduction.NONE or source is not exp
    if kind is PropertyKind.REACHABLE:
        found = source.witnesses.get(name)
        if found is not None:
            trace = counterexample(source, found)
            final = trace.states[-1] if trace.states else system.base_state
            context = relevant_state(system, name, kind, final)
            message = "reachable: the trace below is a shortest way there" if shortest \
                else "reachable: the trace below is a way there"
    else:
        decl = next(p for p in system.spec.properties if p.name == name)
        witness = slow_chains(source, decl.target)
        if witness is not None:
            trace = witness.trace
            message = witness.text
        if decl.during:
            waited = waited_through(exp, decl.target, decl.during)
            message = f"{message}; {waited.sentence}" if message else f"{decl.target}: {waited.sentence}"
            if trace is None and exp.complete:
                return PropertyResult(name, kind, Status.UNREACHABLE, location, about, message, waited=waited)
            if trace is not None:
                return PropertyResult(name, kind, Status.REACHABLE, location, about, message, trace, context,
                                      shortest=shortest, waited=waited)
    if trace is not None:
        return PropertyResult(name, kind, Status.REACHABLE, location, about, message, trace, context,
                              shortest=shortest)
    if not exp.complete:
        return PropertyResult(name, kind, Status.UNKNOWN, location, about, f"exploration stopped: {exp.stop_reason}")
    return PropertyResult(name, kind, Status.UNREACHABLE, location, about, "no reachable state: it cannot happen")


def retraced(exp: ExplicitResult, name: str) -> ExplicitResult:
    """Where the trace of a finding comes from: after a reduced search, the unreduced search that found it
    again at a shortest depth (analyses/retrace.py), when it did; else the search itself."""
    again = exp.traces
    if again is not None and (name in again.violations or name in again.witnesses):
        return again
    return exp


def liveness_result(exp: ExplicitResult, name: str, kind: PropertyKind, about: str, location: str) -> PropertyResult:
    """A liveness property's verdict on the explored graph: a lasso when violated (analyses/liveness.py)."""
    system = exp.system
    if system.reduction is not Reduction.NONE:
        return PropertyResult(name, kind, Status.UNKNOWN, location, about,
                              "liveness is decided on the full graph: verify with --reduce none")
    if system.symmetric:
        return PropertyResult(name, kind, Status.UNKNOWN, location, about,
                              "liveness is decided on the full graph, per thread: verify with --symmetry off")
    found = liveness.check(exp, name)
    if found.holds is None:
        return PropertyResult(name, kind, Status.UNKNOWN, location, about, found.message)
    if found.holds:
        if found.checked == 0 and kind is not PropertyKind.EVENTUALLY:
            what = ("no reachable state satisfies its from: condition" if kind is PropertyKind.LEADS_TO else
                    "no instance of the thread ever waits at a lock it cannot take")
            return PropertyResult(name, kind, Status.VACUOUS, location, about, f"{what}, so it was checked on no "
                                  "state", checked_states=0)
        return PropertyResult(name, kind, Status.HOLDS, location, about, checked_states=found.checked)
    lasso = found.lasso
    assert lasso is not None
    trace = describe_path(system, lasso.path, found.message, violating=False)
    trace = replace(trace, cycle=lasso.cycle_start if lasso.cycle_start >= 0 else None, cycle_fair=lasso.fair)
    final = trace.states[-1] if trace.states else system.base_state
    return PropertyResult(name, kind, Status.VIOLATED, location, about, found.message, trace,
                          tuple(lock_table(system, final)), shortest=False)


def waited_through(exp: ExplicitResult, thread: str, procedure: str) -> WaitedThrough:
    """The `during:` count of a waits_on_slow question (analyses/latency.py)."""
    every, direct = slow_steps_waited(exp, thread, procedure)
    return WaitedThrough(procedure, every.most, direct.most, every.waited, exp.complete)


LOCK_ORDER_ABOUT = ("no strong cycle in the lock-order graph (lockdep's rules): no potential ABBA inversion or "
                    "recursive locking, reached or not")


def lock_order_result(order: LockOrder, exp: ExplicitResult) -> PropertyResult:
    """The lock_order property: violated by any strong cycle the spec does not declare in known_cycles:, even
    one exploration never deadlocked on (gated: lockdep reports it too), and by a stale waiver."""
    if order.cycles:
        dep = order.cycles[0].deps[-1]
        return PropertyResult("lock_order", PropertyKind.LOCK_ORDER, Status.VIOLATED, dep.acquired_site.location,
                              LOCK_ORDER_ABOUT, cycle_message(order) + " (see 'Lock order' below)")
    if order.irq:
        conflict = order.irq[0]
        where = conflict.deps[-1].acquired_site if conflict.deps else conflict.unsafe.site
        return PropertyResult("lock_order", PropertyKind.LOCK_ORDER, Status.VIOLATED, where.location,
                              LOCK_ORDER_ABOUT, cycle_message(order) + " (see 'Lock order' below)")
    if order.stale:
        return PropertyResult("lock_order", PropertyKind.LOCK_ORDER, Status.VIOLATED, order.stale[0].span.short,
                              LOCK_ORDER_ABOUT, cycle_message(order) + ": remove the waiver")
    if not exp.complete:
        return PropertyResult("lock_order", PropertyKind.LOCK_ORDER, Status.UNKNOWN, "", LOCK_ORDER_ABOUT,
                              f"exploration stopped: {exp.stop_reason}")
    if exp.state_count == 0:
        return PropertyResult("lock_order", PropertyKind.LOCK_ORDER, Status.VACUOUS, "", LOCK_ORDER_ABOUT,
                              no_state(exp.system))
    return PropertyResult("lock_order", PropertyKind.LOCK_ORDER, Status.HOLDS, "", LOCK_ORDER_ABOUT)


def no_state(system: TransitionSystem) -> str:
    """Why a complete search checked a property on no state."""
    return system.why_no_state() or "no state was explored"


def default_message(kind: PropertyKind) -> str:
    return {PropertyKind.INVARIANT: "the invariant is false in this state",
            PropertyKind.FINAL: "false when every thread has finished",
            PropertyKind.DEADLOCK: "some threads can never step again, whatever the others do"}.get(kind, "")


def relevant_state(system: TransitionSystem, name: str, kind: PropertyKind,
                   state: Sequence) -> tuple[tuple[str, str], ...]:
    """The part of the final state a reader needs: what the property reads, or the lock table."""
    slots: set[int] = set()
    for prop in (*system.invariants, *system.finals):
        if prop.decl.name == name:
            slots = set(prop.slots)
    for a in system.spec.asserts:
        if a.name == name and a.cond is not None:
            slots = system.mentioned_slots(a.cond)
    shared = [i for i in sorted(slots) if system.layout.slots[i].kind == "shared"]
    initial = system.base_state
    changed = [i for i in shared if state[i] != initial[i]]
    shown = changed if changed and len(shared) > 6 else shared
    out = [(system.layout.slots[i].name, system.slot_text(i, state[i])) for i in shown]
    if len(shown) < len(shared):
        out.append((f"(the other {len(shared) - len(shown)} values it reads)", "unchanged since the start"))
    if kind in (PropertyKind.DEADLOCK, PropertyKind.LOCK_DISCIPLINE) or not out:
        out.extend(lock_table(system, state))
    return tuple(out)


def lock_table(system: TransitionSystem, state: Sequence) -> list[tuple[str, str]]:
    """Every lock that is held or waited for, with its holders and waiters."""
    return [(lock, row.spell()) for lock, row in lock_rows(system, state).items()]


def state_deadlock(system: TransitionSystem, final: Sequence, stuck: int = 0
                   ) -> tuple[DeadlockExplanation, tuple[str, ...]]:
    """Why the threads of a state are stuck, and where each one is blocked: those of `stuck` (a mask, when the
    engine decided them: the BDD search), else those of the deadlock form the state shows by itself (engine/
    deadlocks.py, the symbolic engines' and hunt's)."""
    explanation = explain_deadlock(system, final, stuck or explicit_form(system, tuple(final)) or None)
    return explanation, stuck_locations(system, final, explanation)


def stuck_locations(system: TransitionSystem, state: Sequence, explanation: DeadlockExplanation) -> tuple[str, ...]:
    """file:line of the statement each stuck thread is blocked at: the first waiter of the explanation's
    cycle or chain first, then the others in thread order."""
    first = [explanation.chain[0].waiter] if explanation.chain else []
    tids = first + sorted(set(explanation.stuck) - set(first))
    out = []
    for tid in tids:
        node = system.node_at(state, tid)
        if node is not None and node.stmt is not None and node.stmt.span.short not in out:
            out.append(node.stmt.span.short)
    return tuple(out)
