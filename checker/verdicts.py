"""Deciding state properties: z3 is the judge, once per distinct valuation of the slots a property reads.

The fast evaluator runs beside it on every new valuation; if the two ever disagree netcheck stops with an
internal error rather than report either answer.
"""

from __future__ import annotations

from operator import itemgetter

from netcheck.model.evaluate import EvalError
from netcheck.model.smt import SmtEncoder
from netcheck.model.system import StateProperty, TransitionSystem


class InternalError(RuntimeError):
    """The two semantics disagree: a bug in netcheck, never a verdict."""


class PropertyChecker:
    def __init__(self, system: TransitionSystem, use_z3: bool = True):
        self.system = system
        self.use_z3 = use_z3
        self.encoder = SmtEncoder(system.layout, system.env.entity_sizes, system.env.positions)
        self.cache: dict[str, dict[tuple, bool]] = {}
        self.getters: dict[str, object] = {}
        self.formulas: dict[str, object] = {}
        self.unknown: dict[str, str] = {}
        self.z3_checks = 0

    def question_checker(self, questions: list[StateProperty]):
        """The reachability questions whose condition holds in a state. Their conditions may read thread
        positions (running()), which change in nearly every state, so they are evaluated directly; z3
        confirms each witness (`confirm`), and tests/test_evaluators.py compares the two everywhere."""
        if not questions:
            return None
        pairs = [(p.decl.name, p.fn) for p in questions]

        def reached(state: tuple) -> list[str]:
            return [name for name, fn in pairs if not fn(state)]  # type: ignore[operator]
        return reached

    def confirm(self, prop: StateProperty, state: tuple) -> None:
        """z3's word on one state (a witness): raises InternalError if it disagrees with the evaluator."""
        self.decide(prop, state)

    def invariant_checker(self, invariants: list[StateProperty]):
        """One function for all invariants: the names violated in a state, cached per valuation of their slots."""
        slots = sorted({i for p in invariants for i in p.slots})
        if not invariants:
            return lambda state: ()
        getter = itemgetter(*slots) if len(slots) > 1 else (lambda s, i=slots[0] if slots else 0: (s[i],))
        cache: dict = {}

        def violated(state: tuple) -> tuple[str, ...]:
            key = getter(state)
            names = cache.get(key)
            if names is None:
                names = cache[key] = tuple(p.decl.name for p in invariants if not self.holds(p, state))
            return names
        return violated

    def holds(self, prop: StateProperty, state: tuple) -> bool:
        name = prop.decl.name
        cache = self.cache.get(name)
        if cache is None:
            cache = self.cache[name] = {}
            slots = prop.slots
            self.getters[name] = (itemgetter(*slots) if len(slots) > 1 else
                                  (lambda s, i=slots[0]: (s[i],)) if slots else (lambda s: ()))
        key = self.getters[name](state)  # type: ignore[operator]
        verdict = cache.get(key)
        if verdict is None:
            verdict = cache[key] = self.decide(prop, state)
        return verdict

    def decide(self, prop: StateProperty, state: tuple) -> bool:
        name = prop.decl.name
        try:
            fast = bool(prop.fn(state))  # type: ignore[operator]
        except EvalError:
            fast = False
        if not self.use_z3:
            return fast
        formula = self.formulas.get(name)
        if formula is None:
            formula = self.formulas[name] = self.encoder.term(prop.expr)
        self.z3_checks += 1
        judged = self.encoder.decide(formula, state, prop.slots)  # type: ignore[arg-type]
        if judged is None:
            self.unknown[name] = "z3 returned unknown"
            return True
        if judged != fast:
            raise InternalError(f"property {name}: z3 says {judged}, the evaluator says {fast} on state {state}")
        return judged
