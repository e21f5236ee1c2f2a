"""The two compilations of the semantics agree: the explorer's closures and the z3 transition relation.

model/semantics/relation.py turns every IR node into guarded cases and a two-state z3 relation; the
explorer runs closures (model/semantics/runtime.py). On sampled reachable states of every shipped spec,
of the docs' examples and of generated specs, for every thread, every micro-step from the state and
from the unsettled states it leads to (until each thread stands at a visible step again), checks:
- soundness: every successor the explorer computes satisfies the relation R(s, s');
- completeness: R(s, s') admits no successor the explorer does not compute (z3: unsat);
- violations: the relation's violation conditions hold in s exactly for the properties the explorer's
  step breaks there, with the same message (lock discipline and asserts).
Slots the explorer holds None (locals of no active frame) carry no information and are not compared.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import z3
from hypothesis import HealthCheck, given, note, settings
from netcheck.checker.engine.explore import explore
from netcheck.checker.engine.limits import Limits
from netcheck.model.lang.errors import SpecError
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.relation import ATOMIC, Relation
from netcheck.model.semantics.runtime import Violation
from netcheck.model.semantics.system import TransitionSystem
from spec_generator import generated_systems, specs
from test_reference_agreement import CORNERS, KNOWN_BUGS, QUESTION_CORNERS, WAKE_ORDER, load_text

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted(p for p in (ROOT / "specs").rglob("*.yaml")) + sorted((ROOT / "docs" / "examples").rglob("*.yaml"))
SAMPLES = 16                 # sampled reachable states per spec
MICRO_STEPS = 400            # micro-steps checked at most per sampled state
EXAMPLES = int(os.environ.get("NETCHECK_RELATION_EXAMPLES") or 60)


class Agreement:
    """Checks micro-steps of one system against its relation; counts what it checked."""

    def __init__(self, system: TransitionSystem):
        self.system = system
        self.rel = Relation(system)
        self.checked = 0       # micro-steps compared
        self.violations = 0    # of which violating
        self.sampled = 0       # sampled states where some thread has a step
        self.solver = z3.Solver()
        self.solver.set("timeout", 60_000)

    def pairs(self, enc_slot, enc_value, state: tuple) -> list[tuple[z3.ExprRef, z3.ExprRef]]:
        return [(enc_slot(i), enc_value(i, v)) for i, v in enumerate(state) if v is not None]

    def agree(self, s: tuple, tid: int, signal: bool) -> list[tuple]:
        """Compare one micro-step; its successor states."""
        system, rel = self.system, self.rel
        thread = system.threads[tid]
        pc = s[thread.pcslot]
        results = system.micro_step(s, tid, signal)
        states = sorted({r for r in results if isinstance(r, tuple)}, key=repr)
        broken = {r.prop for r in results if isinstance(r, Violation)}
        where = f"thread {thread.name} at pc {pc} ({thread.nodes[pc].kind}{', signal' if signal else ''}) in {s}"
        pre = self.pairs(rel.pre.slot, rel.pre.value, s)
        decided = {prop for prop, cond in rel.violates(tid, pc, signal).items()
                   if self.decide(z3.substitute(cond, *pre), f"{prop} for {where}")}
        assert decided == broken, f"violations: explorer {broken}, relation {decided}, {where}"
        node = thread.nodes[pc]
        for v in results:
            if isinstance(v, Violation) and v.prop != "runtime_safety" and node.kind != "end":
                said = {c.message for c in rel.cases(tid, pc, signal)
                        if c.violation == v.prop and self.decide(z3.substitute(c.guard, *pre), where)}
                assert v.message in said or any(ATOMIC in m for m in said), \
                    f"the explorer says {v.message!r}, the relation {said}, {where}"
        self.violations += bool(broken)
        relation = z3.substitute(rel.successor(tid, pc, signal), *pre)
        solver = self.solver
        for m in states:
            solver.push()
            solver.add(relation, *[a == b for a, b in self.pairs(rel.post.slot, rel.post.value, m)])
            assert solver.check() == z3.sat, f"the relation refuses the explorer's successor {m} of {where}"
            solver.pop()
        solver.push()
        solver.add(relation)
        for m in states:
            solver.add(z3.Not(z3.And(*[a == b for a, b in self.pairs(rel.post.slot, rel.post.value, m)])))
        answer = solver.check()
        extra = solver.model() if answer == z3.sat else None
        solver.pop()
        assert answer == z3.unsat, f"the relation admits a successor the explorer does not compute from {where}:" \
                                   f"\n{extra}\nexplorer: {states}"
        self.checked += 1
        return states

    def decide(self, formula: z3.BoolRef, what: str) -> bool:
        """The truth of a formula over the state before (given): it must not depend on unused slots."""
        value = z3.simplify(formula)
        if z3.is_true(value) or z3.is_false(value):
            return z3.is_true(value)
        answers = []
        for goal in (z3.Not(formula), formula):
            self.solver.push()
            self.solver.add(goal)
            answers.append(self.solver.check())
            self.solver.pop()
        assert z3.unsat in answers, f"undecided: {what}"
        return answers[0] == z3.unsat

    def from_state(self, s: tuple) -> None:
        """Every visible step (and fatal-signal exit) from `s`, then the micro-steps that settle it."""
        system = self.system
        pending: list[tuple] = []
        for thread in system.threads:
            pc = s[thread.pcslot]
            if pc == thread.finished:
                continue
            step = thread.steps[pc]
            if step is None:
                continue
            pending += self.agree(s, thread.tid, False)
            if step.sig is not None:
                pending += self.agree(s, thread.tid, True)
        budget = MICRO_STEPS
        seen: set[tuple] = set()
        while pending and budget > 0:
            m = pending.pop()
            if m in seen:
                continue
            seen.add(m)
            for thread in system.threads:
                pc = m[thread.pcslot]
                if pc != thread.finished and thread.steps[pc] is None:
                    pending += self.agree(m, thread.tid, False)
                    budget -= 1


def generated_specs_agree_with_the_relation(world_flags: dict, examples: int) -> int:
    """Random specs drawn with `world_flags`: the explorer's steps and z3's relation agree on sampled states;
    how many states were checked."""
    checked = [0]

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None, print_blob=False,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(specs(world_flags))
    def check(text: str) -> None:
        note(text)
        agreement = check_system(TransitionSystem(load_text(text)), max_states=2_000, samples=8)
        checked[0] += agreement.checked

    check()
    return checked[0]


def check_system(system: TransitionSystem, max_states: int = 20_000, samples: int = SAMPLES) -> Agreement:
    exp = explore(system, Limits(max_states=max_states), measure_memory=False)
    states = exp.store.states
    agreement = Agreement(system)
    stride = max(1, len(states) // samples)
    for sid in range(0, len(states), stride):
        agreement.from_state(states[sid])
        agreement.sampled += any(states[sid][t.pcslot] != t.finished for t in system.threads)
    return agreement


def small_bounds(path: Path) -> dict[str, int] | None:
    try:
        load_spec(path, {"net": 1})
        return {"net": 1}
    except SpecError:
        return None


@pytest.mark.parametrize("path", SPECS, ids=[str(p.relative_to(ROOT)) for p in SPECS])
def test_explorer_and_relation_agree_on_shipped_specs(path: Path) -> None:
    try:
        system = TransitionSystem(load_spec(path, small_bounds(path)))
    except SpecError:
        pytest.skip("the spec does not load (a bad-input example)")
    agreement = check_system(system)
    assert agreement.sampled and agreement.checked >= agreement.sampled


SMALL = [(c.name, c.text) for c in (*CORNERS, *QUESTION_CORNERS)] + [(b.name, b.text) for b in KNOWN_BUGS] + [
    (f"wake_order_{policy}", WAKE_ORDER.replace("POLICY", policy)) for policy in ("head_run", "all_readers")]


@pytest.mark.parametrize(("name", "text"), SMALL, ids=[name for name, _ in SMALL])
def test_explorer_and_relation_agree_on_every_state_of_the_semantic_corners(name: str, text: str) -> None:
    """The hand-counted corner specs of the reference cross-check (lock, rwsem, RCU, list corners) and
    its known-bug specs: every reachable state."""
    try:
        system = TransitionSystem(load_text(text))
    except SpecError:
        pytest.skip("a spec the loader refuses")
    agreement = check_system(system, samples=10**9)
    assert agreement.checked >= agreement.sampled


def test_explorer_and_relation_agree_on_generated_specs() -> None:
    checked: list[int] = []

    @generated_systems(EXAMPLES)
    def check(system: TransitionSystem) -> None:
        agreement = check_system(system, max_states=3_000, samples=6)
        checked.append(agreement.checked)

    check()
    assert len(checked) >= EXAMPLES // 2 and sum(checked) > 10 * len(checked)
