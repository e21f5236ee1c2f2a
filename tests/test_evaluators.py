"""One semantics, two interpreters: the fast evaluator and z3 agree on every state of every shipped
spec, for every invariant, final property and assert (once per distinct valuation of what it reads), and
on random expressions over random states: whether an expression is defined, and its value where it is."""

from __future__ import annotations

import os
import random
from dataclasses import replace
from operator import itemgetter

import pytest
import z3
from helpers import SLOW_MARKS, SPECS
from hypothesis import given, note, settings
from hypothesis import strategies as st
from netcheck.checker.engine.explore import explore
from netcheck.model.lang.errors import Span
from netcheck.model.lang.expr import (
    ANY_HOLDER,
    LOCK_PREDICATES,
    Binary,
    BoolOp,
    Bound,
    Call,
    Compare,
    Const,
    Expr,
    IfExp,
    ListLit,
    LockRef,
    Quant,
    SetLit,
    Shared,
    Unary,
)
from netcheck.model.lang.parse import load_spec
from netcheck.model.lang.types import BOOL, INT, NULL, BoolT, IntT, ListT, LockT, NullT, RefT, SetT, Type
from netcheck.model.semantics import ir, smtlist
from netcheck.model.semantics.evaluate import EvalError, compile_expr
from netcheck.model.semantics.locks import READ_BITS
from netcheck.model.semantics.smt import SmtEncoder
from netcheck.model.semantics.system import TransitionSystem


def literal(value, t, enc: SmtEncoder):
    if isinstance(t, BoolT):
        return z3.BoolVal(bool(value))
    if isinstance(t, SetT):
        return z3.BitVecVal(value, enc.width(t.entity))
    if isinstance(t, ListT):
        return smtlist.literal(value, enc.capacity(t.entity))
    return z3.IntVal(value)


def decide(formula, pairs) -> bool:
    concrete = z3.simplify(z3.substitute(formula, *pairs)) if pairs else z3.simplify(formula)
    assert z3.is_true(concrete) or z3.is_false(concrete), concrete
    return z3.is_true(concrete)


# net_sem and pernet_ops_rwsem extend net_mutex and judge the same properties: the slow tier checks them too
@pytest.mark.parametrize("name", ["net_mutex.yaml", *(pytest.param(n, marks=SLOW_MARKS)
                                                      for n in ("net_sem.yaml", "pernet_ops_rwsem.yaml"))])
def test_fast_evaluator_equals_z3_on_every_state(name: str) -> None:
    system = TransitionSystem(load_spec(SPECS / name))
    exp = explore(system)
    enc = SmtEncoder(system.layout, system.env.entity_sizes)
    checked = 0
    for prop in (*system.invariants, *system.finals):
        formula = enc.term(prop.decl.expr)
        getter = itemgetter(*prop.slots)
        seen = {}
        for state in exp.store.states:
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
            if not isinstance(node, ir.Check) or not node.visible:
                continue
            stmt = node.stmt
            env = _frame_env(system, thread, node)
            formula = enc.term(stmt.cond, env, tid=thread.tid)
            defined = enc.defined(stmt.cond, env, tid=thread.tid)
            slots = sorted(system.mentioned_slots(stmt.cond) | set(env.values()))
            getter = itemgetter(*slots)
            seen = {}
            for state in exp.store.states:
                if state[thread.pcslot] != pc or getter(state) in seen:
                    continue
                seen[getter(state)] = True
                pairs = [(enc.slot(i), enc.value(i, state[i])) for i in system.mentioned_slots(stmt.cond)]
                pairs += [(enc.local(slot, t), literal(state[slot], t, enc)) for (n, t), slot in
                          ((item, env[item[0]]) for item in _local_types(stmt.cond))]
                try:
                    fast = bool(system.condition(node)(state))
                except EvalError:
                    assert not decide(defined, pairs), (stmt.name, state)
                    continue
                assert decide(defined, pairs) and decide(formula, pairs) == fast, (stmt.name, state)
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
        for state in exp.store.states:
            key = getter(state)
            if key in seen:
                continue
            seen.add(key)
            pairs = [(enc.slot(i), enc.value(i, state[i])) for i in prop.slots]
            assert decide(formula, pairs) == bool(prop.fn(state)), (prop.decl.name, state)


def _local_types(expr):
    from netcheck.model.lang.expr import Local, walk
    return sorted({(x.name, x.type) for x in walk(expr) if isinstance(x, Local)}, key=lambda p: p[0])


def _frame_env(system, thread, node) -> dict[str, int]:
    """Local name -> slot for the frame an assert node was compiled in."""
    from netcheck.model.lang.expr import Local, walk
    names = {x.name for x in walk(node.stmt.cond) if isinstance(x, Local)}
    return {name: node.env.locals[name] for name in names}


# ---------------------------------------------------------------- generated expressions over generated states

UNIVERSE = """
netcheck: 1
name: universe
entities: {node: 3}
locks:
  m: mutex
  sem: rwsem
  per_node: {kind: mutex, per: [node]}
state:
  l: {type: list<node>}
  set: {type: set<node>}
  cur: {type: "node?"}
  other: {type: "node?"}
  next_of: {type: "node?", per: [node]}
  count: "int[0..3]"
  flag: {type: bool, per: [node]}
procedures:
  idle(): []
threads:
  t: {count: 2, run: idle()}
"""
NODES = 3
SP = Span("generated", 1, 1)
NODE, NODE_OPT, NODE_LIST, NODE_SET = RefT("node"), RefT("node", True), ListT("node"), SetT("node")
TYPES = (BOOL, INT, NODE_OPT, NODE_SET, NODE_LIST)


@pytest.fixture(scope="module")
def universe(tmp_path_factory) -> TransitionSystem:
    path = tmp_path_factory.mktemp("universe") / "universe.yaml"
    path.write_text(UNIVERSE, encoding="utf-8")
    return TransitionSystem(load_spec(path))


def random_state(rng: random.Random, system: TransitionSystem) -> tuple:
    """Any value of each slot's type: lists of distinct elements, nulls where the type allows them, lock
    owners and read holds of either thread (slots expressions do not read keep their initial value)."""
    out = []
    threads = len(system.threads)
    for index, slot in enumerate(system.layout.slots):
        t = slot.type
        if slot.kind == "lock_owner":
            out.append(rng.randrange(-1, threads))
        elif slot.kind == "lock_readers":
            out.append(sum(rng.randrange(4) << (READ_BITS * tid) for tid in range(threads)))
        elif slot.kind != "shared":
            out.append(system.base_state[index])
        elif isinstance(t, BoolT):
            out.append(rng.random() < 0.5)
        elif isinstance(t, IntT):
            out.append(rng.randint(t.lo, t.hi))
        elif isinstance(t, RefT):
            out.append(rng.randrange(-1 if t.nullable else 0, NODES))
        elif isinstance(t, ListT):
            out.append(tuple(rng.sample(range(NODES), rng.randint(0, NODES))))
        else:
            out.append(rng.randrange(1 << NODES))
    return tuple(out)


class ExprGen:
    """Random well-typed expressions, partial operations (null indexes, next() of any element, null in set
    literals) included. Types are those of the parser, and so is what it refuses (x[null] with a literal null,
    held_read() of a mutex)."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def expr(self, t: Type, depth: int, bound: tuple[str, ...] = ()) -> Expr:
        if depth <= 0 or self.rng.random() < 0.2:
            return self.leaf(t, bound)
        forms = {BoolT: self.boolean, IntT: self.integer, RefT: self.ref, SetT: self.set, ListT: self.list}
        return forms[type(t)](depth - 1, bound)

    def leaf(self, t: Type, bound: tuple[str, ...]) -> Expr:
        rng = self.rng
        if isinstance(t, BoolT):
            return rng.choice([Const(BOOL, SP, rng.random() < 0.5), self.lock_predicate(0, bound)])
        if isinstance(t, IntT):
            return rng.choice([Const(INT, SP, rng.randint(-2, 3)), Shared(IntT(0, 3), SP, "count")])
        if isinstance(t, RefT):
            return rng.choice([self.element(bound), Const(NULL, SP, -1), Shared(NODE_OPT, SP, "cur"),
                               Shared(NODE_OPT, SP, "other")])
        if isinstance(t, ListT):
            return Shared(NODE_LIST, SP, "l")
        return rng.choice([Shared(NODE_SET, SP, "set"), Const(NODE_SET, SP, rng.randrange(1 << NODES))])

    def element(self, bound: tuple[str, ...]) -> Expr:
        names = [Bound(NODE, SP, name) for name in bound]
        return self.rng.choice([Const(NODE, SP, i) for i in range(NODES)] + names)

    def key(self, depth: int, bound: tuple[str, ...]) -> Expr:
        """An index: any element-valued expression but a literal null, which the parser refuses."""
        e = self.expr(NODE_OPT, depth, bound)
        return self.element(bound) if isinstance(e.type, NullT) else e

    def lock_predicate(self, depth: int, bound: tuple[str, ...]) -> Expr:
        rng = self.rng
        lock = rng.choice([LockRef(LockT("mutex"), SP, "m"), LockRef(LockT("rwsem"), SP, "sem"),
                           LockRef(LockT("mutex"), SP, "per_node", (self.key(depth, bound),))])
        fns = LOCK_PREDICATES if lock.name == "sem" else (*ANY_HOLDER, "held")
        return Call(BOOL, SP, rng.choice(fns), (lock,))

    def boolean(self, d: int, bound: tuple[str, ...]) -> Expr:
        rng, x = self.rng, self.expr
        form = rng.randrange(12)
        if form == 0:
            return Shared(BOOL, SP, "flag", (self.key(d, bound),))
        if form == 1:
            return Compare(BOOL, SP, "==", x(NODE_OPT, d, bound), x(NODE_OPT, d, bound))
        if form == 2:
            return Compare(BOOL, SP, rng.choice(["<", "<=", ">", ">="]), x(INT, d, bound), x(INT, d, bound))
        if form == 3:
            return Compare(BOOL, SP, "in", x(NODE_OPT, d, bound), x(rng.choice([NODE_SET, NODE_LIST]), d, bound))
        if form == 4:
            items = tuple(x(BOOL, d, bound) for _ in range(rng.randint(2, 3)))
            return BoolOp(BOOL, SP, rng.choice(["and", "or"]), items)
        if form == 5:
            return Unary(BOOL, SP, "not", x(BOOL, d, bound))
        if form == 6:
            return IfExp(BOOL, SP, x(BOOL, d, bound), x(BOOL, d, bound), x(BOOL, d, bound))
        if form == 7:
            return Call(BOOL, SP, "empty", (x(rng.choice([NODE_SET, NODE_LIST]), d, bound),))
        if form == 8:
            return Call(BOOL, SP, "before", (x(NODE_LIST, d, bound), x(NODE_OPT, d, bound), x(NODE_OPT, d, bound)))
        if form == 9:
            return self.lock_predicate(d, bound)
        return self.quantifier(BOOL, d, bound)

    def integer(self, d: int, bound: tuple[str, ...]) -> Expr:
        rng, x = self.rng, self.expr
        form = rng.randrange(6)
        if form == 0:
            return Binary(INT, SP, rng.choice("+-"), x(INT, d, bound), x(INT, d, bound))
        if form == 1:
            return Unary(INT, SP, "neg", x(INT, d, bound))
        if form == 2:
            return Call(INT, SP, "len", (x(rng.choice([NODE_SET, NODE_LIST]), d, bound),))
        if form == 3:
            return Call(INT, SP, "index", (x(NODE_LIST, d, bound), x(NODE_OPT, d, bound)))
        if form == 4:
            return IfExp(INT, SP, x(BOOL, d, bound), x(INT, d, bound), x(INT, d, bound))
        return self.quantifier(INT, d, bound)

    def ref(self, d: int, bound: tuple[str, ...]) -> Expr:
        rng, x = self.rng, self.expr
        form = rng.randrange(4)
        if form == 0:
            return Shared(NODE_OPT, SP, "next_of", (self.key(d, bound),))
        if form == 1:
            return Call(NODE_OPT, SP, rng.choice(["first", "last"]), (x(NODE_LIST, d, bound),))
        if form == 2:
            return Call(NODE_OPT, SP, rng.choice(["next", "prev"]), (x(NODE_LIST, d, bound), x(NODE_OPT, d, bound)))
        return IfExp(NODE_OPT, SP, x(BOOL, d, bound), x(NODE_OPT, d, bound), x(NODE_OPT, d, bound))

    def set(self, d: int, bound: tuple[str, ...]) -> Expr:
        if self.rng.random() < 0.5:
            return SetLit(NODE_SET, SP, tuple(self.expr(NODE_OPT, d, bound) for _ in range(self.rng.randint(1, 3))))
        return Binary(NODE_SET, SP, self.rng.choice("|&-"), self.expr(NODE_SET, d, bound), self.expr(NODE_SET, d, bound))

    def list(self, d: int, bound: tuple[str, ...]) -> Expr:
        return ListLit(NODE_LIST, SP, tuple(self.expr(NODE_OPT, d, bound) for _ in range(self.rng.randint(0, 3))))

    def quantifier(self, t: Type, d: int, bound: tuple[str, ...]) -> Expr:
        """all/any (bool) or count/sum (int) over the entity, a set or a list, with or without a filter."""
        rng = self.rng
        var = f"x{len(bound)}"
        inner = (*bound, var)
        kind = rng.choice(["all", "any"] if isinstance(t, BoolT) else ["count", "sum"])
        domain = rng.choice([Const(NODE_SET, SP, (1 << NODES) - 1), self.expr(NODE_SET, d, bound),
                             self.expr(NODE_LIST, d, bound)])
        cond = self.expr(BOOL, d, inner) if rng.random() < 0.5 else None
        body = self.expr(INT if kind == "sum" else BOOL, d, inner)
        return Quant(t, SP, kind, var, domain, cond, body)


@settings(derandomize=True, deadline=None, max_examples=int(os.environ.get("NETCHECK_HYPOTHESIS_EXAMPLES") or 100),
          database=None)
@given(rng=st.randoms(use_true_random=True))
def test_generated_expressions_agree_on_generated_states(universe: TransitionSystem, rng: random.Random) -> None:
    """On random states, z3 and the fast evaluator agree whether random expressions are defined (no partial
    operation applied outside its domain) and, where they are, on their values; held() asks about either thread.
    Four expressions of each type, each for one thread on three states, per example (its z3 terms built once)."""
    enc = SmtEncoder(universe.layout, universe.env.entity_sizes)
    for t in TYPES:
        for _ in range(4):
            e = ExprGen(rng).expr(t, 4)
            slots = sorted(universe.mentioned_slots(e))
            tid = rng.randrange(len(universe.threads))
            terms = (enc.defined(e, tid=tid), enc.term(e, tid=tid))
            for _ in range(3):
                agree(universe, enc, e, t, tid, random_state(rng, universe), slots, terms)


def agree(system: TransitionSystem, enc: SmtEncoder, e: Expr, t: Type, tid: int, state: tuple, slots: list[int],
          terms: tuple[z3.BoolRef, z3.ExprRef]) -> None:
    """z3 (`terms`: the expression's definedness and value for thread `tid`) and the fast evaluator agree in
    `state`."""
    env = replace(system.env, tid=tid)
    try:
        fast, error = compile_expr(e, env)(state), ""
    except EvalError as err:
        fast, error = None, str(err)
    note(f"{e!r}\nthread {tid}, state {state}: evaluator {fast!r} {error}")
    defined, value = terms
    assert enc.decide(defined, state, slots) is (not error)
    if not error:
        if isinstance(t, BoolT):
            same = value if fast else z3.Not(value)
        else:
            ours, expected = smtlist.same(value, z3_literal(fast, t, enc))
            same = ours == expected
        assert enc.decide(same, state, slots) is True


def z3_literal(value, t: Type, enc: SmtEncoder):
    """A value in the state encoding as a z3 literal of the type's sort."""
    if isinstance(t, SetT):
        return z3.BitVecVal(value, enc.width(t.entity))
    if isinstance(t, ListT):
        return smtlist.literal(value, enc.capacity(t.entity))
    return z3.IntVal(value)
