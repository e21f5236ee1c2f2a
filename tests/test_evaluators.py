"""One semantics, two interpreters: the fast evaluator and z3 agree on every state of every shipped
spec, for every invariant, final property and assert (once per distinct valuation of what it reads)."""

from __future__ import annotations

from operator import itemgetter

import pytest
import z3
from helpers import SPECS
from netcheck.checker.explore import explore
from netcheck.model.evaluate import EvalError
from netcheck.model.parse import load_spec
from netcheck.model.smt import SmtEncoder, seq_literal
from netcheck.model.system import TransitionSystem
from netcheck.model.types import BoolT, ListT, SetT


def literal(value, t, enc: SmtEncoder):
    if isinstance(t, BoolT):
        return z3.BoolVal(bool(value))
    if isinstance(t, SetT):
        return z3.BitVecVal(value, enc.width(t.entity))
    if isinstance(t, ListT):
        return seq_literal(value)
    return z3.IntVal(value)


def decide(formula, pairs) -> bool:
    concrete = z3.simplify(z3.substitute(formula, *pairs)) if pairs else z3.simplify(formula)
    assert z3.is_true(concrete) or z3.is_false(concrete), concrete
    return z3.is_true(concrete)


@pytest.mark.parametrize("name", ["net_mutex.yaml", "net_sem.yaml", "pernet_ops_rwsem.yaml"])
def test_fast_evaluator_equals_z3_on_every_state(name: str) -> None:
    system = TransitionSystem(load_spec(SPECS / name))
    exp = explore(system)
    enc = SmtEncoder(system.layout, system.env.entity_sizes)
    checked = 0
    for prop in (*system.invariants, *system.finals):
        formula = enc.term(prop.decl.expr)
        getter = itemgetter(*prop.slots)
        seen = {}
        for state in exp.states:
            key = getter(state)
            if key in seen:
                continue
            pairs = [(enc.slot(i), enc.value(i, state[i])) for i in prop.slots]
            seen[key] = decide(formula, pairs)
            assert seen[key] == bool(prop.fn(state)), (prop.decl.name, state)
            checked += 1
    # asserts: evaluated wherever a thread stands at one (they read shared state, so they are steps)
    for thread in system.threads:
        for pc, node in enumerate(thread.nodes):
            if node.kind != "assert" or not node.visible:
                continue
            stmt = node.stmt
            env = _frame_env(system, thread, node)
            formula = enc.term(stmt.cond, env)
            slots = sorted(system.mentioned_slots(stmt.cond) | set(env.values()))
            getter = itemgetter(*slots)
            seen = {}
            for state in exp.states:
                if state[thread.pcslot] != pc or getter(state) in seen:
                    continue
                seen[getter(state)] = True
                pairs = [(enc.slot(i), enc.value(i, state[i])) for i in system.mentioned_slots(stmt.cond)]
                pairs += [(enc.local(slot, t), literal(state[slot], t, enc)) for (n, t), slot in
                          ((item, env[item[0]]) for item in _local_types(stmt.cond))]
                try:
                    fast = bool(node.data["cond"](state))
                except EvalError:
                    continue
                assert decide(formula, pairs) == fast, (stmt.name, state)
                checked += 1
    assert checked > 100


@pytest.mark.parametrize("name", ["net_mutex.yaml", "pernet_ops_rwsem.yaml"])
def test_reachability_questions_agree_with_z3_on_every_state(name: str) -> None:
    """Questions read thread positions (running()), so their valuations are nearly all states: checked on
    a smaller bound, every state."""
    system = TransitionSystem(load_spec(SPECS / name, {"net": 1}))
    exp = explore(system)
    enc = SmtEncoder(system.layout, system.env.entity_sizes, system.env.positions)
    assert system.reachables
    for prop in system.reachables:
        formula = enc.term(prop.expr)
        seen = set()
        getter = itemgetter(*prop.slots)
        for state in exp.states:
            key = getter(state)
            if key in seen:
                continue
            seen.add(key)
            pairs = [(enc.slot(i), enc.value(i, state[i])) for i in prop.slots]
            assert decide(formula, pairs) == bool(prop.fn(state)), (prop.decl.name, state)


def _local_types(expr):
    from netcheck.model.expr import Local, walk
    return sorted({(x.name, x.type) for x in walk(expr) if isinstance(x, Local)}, key=lambda p: p[0])


def _frame_env(system, thread, node) -> dict[str, int]:
    """Local name -> slot for the frame an assert node was compiled in (recovered from its closure)."""
    from netcheck.model.expr import Local, walk
    names = {x.name for x in walk(node.stmt.cond) if isinstance(x, Local)}
    return {name: node.data["locals"][name] for name in names}
