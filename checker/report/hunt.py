"""`netcheck hunt` as frozen data: the violations a swarm found (the first per property, with who found it,
when, and its shortened trace), each member's coverage, and the spec's `expect:` compared with what was
found. A hunt never says a property holds: finding nothing is not a proof (exit 3).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from netcheck.model.semantics.discipline import Reduction
from netcheck.model.semantics.system import PropertyInfo, TransitionSystem

from ..analyses.shorten import SHORTEN_STATES, Shortened, shorten_all
from ..analyses.trace import describe_path
from ..analyses.unfold import unfold
from ..engine.hunt import HuntConfig, HuntCoverage
from ..engine.judge import JUDGED_KINDS, Judge, judged
from ..engine.swarm import SwarmResult
from ..engine.vocabulary import EXIT_INCOMPLETE, EXIT_VIOLATED, PropertyKind, Status
from .build import PropertyResult, default_message, relevant_state, state_deadlock


@dataclass(frozen=True)
class HuntSettings:
    """What the hunt was asked for: workers, the seed the members' seeds derive from, the time budget, the
    depth limit, the state budget per member, and when to stop early (`until`: time, first, expected, all)."""

    workers: int
    seed: int
    seconds: float
    depth_limit: int
    until: str
    max_states: int | None = None


@dataclass(frozen=True)
class HuntViolation:
    """The first violation of a property the swarm found: the verdict with its (shortened) trace, the member
    and its seed, after how much of its hunting time, and how many steps the search's own path had."""

    result: PropertyResult
    member: int
    seed: int
    seconds: float
    found_steps: int


@dataclass(frozen=True)
class MemberCoverage:
    """One member: its configuration and how far it got."""

    member: int
    config: HuntConfig
    coverage: HuntCoverage


@dataclass(frozen=True)
class HuntExpectation:
    """The spec's `expect:` against the findings: which expected violations were found, which it looks for
    but did not find, which it does not look for (decided by `verify` only), and which were found unexpected.
    Neither way a proof: the hunt may have missed a violation, and finds no proof that the others hold."""

    violated: tuple[str, ...]
    found: tuple[str, ...]
    missing: tuple[str, ...]
    not_looked_for: tuple[str, ...]
    unexpected: tuple[str, ...]
    location: str

    @property
    def met(self) -> bool:
        """Every expected violation it looks for found, and no other."""
        return not self.missing and not self.unexpected


@dataclass(frozen=True)
class HuntReport:
    spec: str
    name: str
    files: tuple[str, ...]
    bounds: tuple[tuple[str, int], ...]
    reduction: str
    symmetry: str
    settings: HuntSettings
    seconds: float
    setup_seconds: float
    stop_reason: str
    violations: tuple[HuntViolation, ...]   # in report order
    members: tuple[MemberCoverage, ...]
    looked_for: tuple[str, ...]
    not_looked_for: tuple[str, ...]
    expectation: HuntExpectation | None = None

    @property
    def total(self) -> HuntCoverage:
        """Every member's coverage added up (the deepest state over all of them)."""
        cov = [m.coverage for m in self.members]
        return HuntCoverage(sum(c.states for c in cov), sum(c.transitions for c in cov),
                            max((c.max_depth for c in cov), default=0), sum(c.truncated for c in cov),
                            self.seconds, all(c.ended for c in cov), runs=sum(c.runs for c in cov),
                            exhausted=any(c.exhausted for c in cov))

    @property
    def exit_code(self) -> int:
        """1 when something was found, else 3: nothing found is not a proof."""
        return EXIT_VIOLATED if self.violations else EXIT_INCOMPLETE


def build_hunt_report(path: str, system: TransitionSystem, swarm: SwarmResult, settings: HuntSettings,
                      shorten_states: int = SHORTEN_STATES) -> HuntReport:
    """The report of a swarm's hunt on `system`: each property's first finding replayed, shortened
    (analyses/shorten.py) and described, told in the full semantics after a reduced search."""
    judge = Judge(system)
    first = swarm.first()
    short = shorten_all(system, judge, {prop: f for prop, (_, f) in first.items()}, shorten_states)
    violations = []
    kinds = system.property_kinds()
    for info in kinds:
        if info.name in first:
            member, finding = first[info.name]
            result = _result(system, PropertyKind(info.kind), info, short[info.name])
            violations.append(HuntViolation(result, member, swarm.configs[member].seed, finding.seconds,
                                            short[info.name].found_steps))
    looked_for = judged(system)
    expectation = _expectation(system, [v.result.name for v in violations], looked_for)
    if expectation is not None:
        violations = [_mark_expected(v) if v.result.name in expectation.violated else v for v in violations]
    spec = system.spec
    return HuntReport(path, spec.name, spec.files, spec.bounds, system.reduction.value,
                      system.symmetry.describe() if system.symmetry is not None else "", settings,
                      swarm.seconds, swarm.setup_seconds, swarm.stop_reason, tuple(violations),
                      tuple(MemberCoverage(i, c, cov) for i, (c, cov) in enumerate(zip(swarm.configs, swarm.coverage))),
                      looked_for, tuple(p.name for p in kinds if p.kind not in JUDGED_KINDS) + ("lock_order",),
                      expectation)


def _expectation(system: TransitionSystem, found: list[str], looked_for: tuple[str, ...]) -> HuntExpectation | None:
    """The spec's `expect:` (if any) against the properties found violated."""
    expect = system.spec.expect
    if expect is None:
        return None
    expected = expect.violated
    return HuntExpectation(expected, tuple(p for p in expected if p in found),
                           tuple(p for p in expected if p in looked_for and p not in found),
                           tuple(p for p in expected if p not in looked_for),
                           tuple(p for p in found if p not in expected), expect.span.short)


def _mark_expected(v: HuntViolation) -> HuntViolation:
    return replace(v, result=replace(v.result, expected=True))


def _result(system: TransitionSystem, kind: PropertyKind, info: PropertyInfo, short: Shortened) -> PropertyResult:
    """The verdict of a property the hunt found violated, with its trace told in the full semantics."""
    name, path = info.name, short.path
    if system.reduction is not Reduction.NONE:
        path = unfold(system, path, name)
    told = system.unreduced()
    message = short.message or default_message(kind)
    trace = describe_path(told, path, message, path.last is not None)
    final = trace.states[-1] if trace.states else told.base_state
    location = info.span.short if info.span is not None else (trace.steps[-1].location if trace.steps else "")
    explanation = None
    locations: tuple[str, ...] = ()
    waits: tuple[str, ...] = ()
    if kind is PropertyKind.DEADLOCK:
        explanation, locations = state_deadlock(told, final)
        message, waits = explanation.summary, explanation.threads
        location = locations[0] if locations else location
    shortest = short.shortest and system.reduction is Reduction.NONE and kind is not PropertyKind.DEADLOCK
    return PropertyResult(name, kind, Status.VIOLATED, location, info.about, message, trace,
                          relevant_state(told, name, kind, final), waits, explanation, locations,
                          shortest=shortest, expression=info.text)
