"""Deciding state properties: z3 is the judge, once per distinct valuation of the slots a property reads.

The fast evaluator runs beside it on every new valuation; if the two ever disagree netcheck stops with an
internal error rather than report either answer. A property that applies a partial operation outside its
domain (a null index, next() of an element not on the list) is not judged on that state: the state
violates `runtime_safety` instead, and both evaluators must agree that it does (docs/semantics.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from netcheck.model.semantics.evaluate import EvalError
from netcheck.model.semantics.memo import valuation
from netcheck.model.semantics.smt import SmtEncoder, list_room
from netcheck.model.semantics.system import StateProperty, TransitionSystem

from .observers import Findings, Observer
from .result import ExplicitResult, Finding

Failure = tuple[str, str]   # (violated property, message): the property's own name, or runtime_safety
StateCheck = Callable[[tuple], Sequence[Failure]]   # the failures of some properties in a state


class InternalError(RuntimeError):
    """The two semantics disagree: a bug in netcheck, never a verdict."""


@dataclass(frozen=True)
class Verdict:
    """A property in one state: holds or not; `error` says why it could not be evaluated (then it is not judged)."""

    holds: bool
    error: str = ""


class PropertyChecker:
    def __init__(self, system: TransitionSystem, use_z3: bool = True):
        self.system = system
        self.use_z3 = use_z3
        self.encoder = SmtEncoder(system.layout, system.env.entity_sizes, system.env.positions,
                                  list_room=list_room(system))
        self.cache: dict[str, dict[tuple, Verdict]] = {}
        self.getters: dict[str, object] = {}
        self.formulas: dict[str, tuple[object, object]] = {}
        self.unknown: dict[str, str] = {}
        self.z3_checks = 0

    def question_checker(self, questions: list[StateProperty]) -> StateCheck | None:
        """The reachability questions reached in a state, and runtime_safety if a condition cannot be
        evaluated there. Their conditions may read thread positions (running()), which change in nearly
        every state, so they are evaluated directly; z3 confirms the first witness of each outcome, and
        tests/test_evaluators.py compares the two everywhere."""
        if not questions:
            return None
        confirmed: set[str] = set()   # names (or runtime_safety) whose first witness z3 confirmed

        def reached(state: tuple) -> Sequence[Failure]:
            out: list[Failure] | None = None   # made only when a question is reached (rarely)
            for prop in questions:
                try:
                    if prop.fn(state):   # type: ignore[operator]  # the negated condition: not reached (hot path)
                        continue
                except EvalError:
                    pass
                failure = self.failure(prop, _evaluate(prop, state))
                if failure is None:
                    continue
                if failure[0] not in confirmed:
                    self.decide(prop, state)
                    confirmed.add(failure[0])
                if out is None:
                    out = []
                out.append(failure)
            return out if out is not None else ()
        return reached

    def invariant_checker(self, invariants: list[StateProperty]) -> StateCheck:
        """One function for all invariants: their failures in a state, cached per valuation of their slots."""
        slots = sorted({i for p in invariants for i in p.slots})
        if not invariants:
            return lambda state: ()
        getter = valuation(slots)
        cache: dict = {}

        def violated(state: tuple) -> tuple[Failure, ...]:
            key = getter(state)
            failures = cache.get(key)
            if failures is None:
                failures = cache[key] = self.failures(invariants, state)
            return failures
        return violated

    def failures(self, props: list[StateProperty], state: tuple) -> tuple[Failure, ...]:
        """The properties false in a state, and a runtime_safety failure for each one that cannot be evaluated."""
        out = (self.failure(p, self.verdict(p, state)) for p in props)
        return tuple(f for f in out if f is not None)

    @staticmethod
    def failure(prop: StateProperty, verdict: Verdict) -> Failure | None:
        if verdict.error:
            decl = prop.decl
            return "runtime_safety", f"{decl.kind} {decl.name} ({decl.expr.span}): {verdict.error}"
        return None if verdict.holds else (prop.decl.name, "")

    def verdict(self, prop: StateProperty, state: tuple) -> Verdict:
        """`decide`, cached per valuation of the slots the property reads."""
        name = prop.decl.name
        cache = self.cache.get(name)
        if cache is None:
            cache = self.cache[name] = {}
            slots = prop.slots
            self.getters[name] = valuation(slots)
        key = self.getters[name](state)  # type: ignore[operator]
        verdict = cache.get(key)
        if verdict is None:
            verdict = cache[key] = self.decide(prop, state)
        return verdict

    def decide(self, prop: StateProperty, state: tuple) -> Verdict:
        """z3's verdict, checked against the evaluator's: first whether the property is defined, then its value."""
        fast = _evaluate(prop, state)
        if not self.use_z3:
            return fast
        name = prop.decl.name
        formulas = self.formulas.get(name)
        if formulas is None:
            formulas = self.formulas[name] = (self.encoder.term(prop.expr), self.encoder.defined(prop.expr))
        value, defined = formulas
        self.z3_checks += 1
        judged = self.encoder.decide(defined, state, prop.slots)  # type: ignore[arg-type]
        if judged is True:
            judged = self.encoder.decide(value, state, prop.slots)  # type: ignore[arg-type]
            got = f"z3 says {judged}"
            agree = not fast.error and judged == fast.holds
        else:
            got = "z3 says it is undefined"
            agree = judged is None or bool(fast.error)
        if judged is None:
            self.unknown[name] = "z3 returned unknown"
            return Verdict(True)
        if not agree:
            said = f"it is undefined ({fast.error})" if fast.error else str(fast.holds)
            raise InternalError(f"property {name}: {got}, the evaluator says {said} on state {state}")
        return fast


def _evaluate(prop: StateProperty, state: tuple) -> Verdict:
    """The fast evaluator's verdict."""
    try:
        return Verdict(bool(prop.fn(state)))  # type: ignore[operator]
    except EvalError as err:
        return Verdict(True, str(err))


class PropertyObserver(Observer):
    """The spec's state properties, judged during the search: invariants and reachability questions on
    every new state, finals on every final state."""

    name = "properties"

    def __init__(self, system: TransitionSystem):
        self.system = system
        self.checker = PropertyChecker(system)

    def start(self, result: ExplicitResult, findings: Findings) -> None:
        self.findings = findings
        self.on_state = self._state_check(findings)   # type: ignore[method-assign,assignment]

    def on_state(self, sid: int, state: tuple) -> None:
        """Replaced in `start` by a closure for the properties the spec has (the hot path)."""

    def _state_check(self, findings: Findings) -> Callable[[int, tuple], None]:
        invariants = self.checker.invariant_checker(self.system.invariants) if self.system.invariants else None
        questions = self.checker.question_checker(self.system.reachables)
        violate, witness = findings.violate, findings.witness

        def check(sid: int, state: tuple) -> None:
            if invariants is not None:
                for name, message in invariants(state):
                    violate(Finding(name, sid, message=message))
            if questions is not None:
                for name, message in questions(state):
                    # a reached question is answered; one that cannot be evaluated is a runtime_safety failure
                    (violate if name == "runtime_safety" else witness)(Finding(name, sid, message=message))

        if invariants is None and questions is None:
            return _nothing
        if questions is None and invariants is not None:
            def check_invariants(sid: int, state: tuple) -> None:
                for name, message in invariants(state):
                    violate(Finding(name, sid, message=message))
            return check_invariants
        return check

    def on_terminal(self, sid: int, state: tuple, final: bool) -> None:
        if final:
            for name, message in self.checker.failures(self.system.finals, state):
                self.findings.violate(Finding(name, sid, message=message))

    def finish(self, result: ExplicitResult) -> None:
        result.unknown.update(self.checker.unknown)

    def part(self) -> object:
        return dict(self.checker.unknown)

    def merge(self, parts: Sequence[object], states: int, expanded: int) -> None:
        """The properties some worker's z3 could not decide (on any state it judged)."""
        for unknown in parts:
            assert isinstance(unknown, dict)
            for name, why in unknown.items():
                self.checker.unknown.setdefault(name, why)


def _nothing(sid: int, state: tuple) -> None:
    """No state property to check."""
