"""Hypothesis strategies for small random *valid* netcheck specs, as YAML text.

`specs()` draws a whole spec: 1-3 entities of 1-2 elements (sometimes split into groups), sometimes an
enum type, 1-3 locks (mutex, rwsem, spinlock; some per entity), 1-4 state variables (bool, int, enum,
element, set, list; bool/int/enum sometimes per one or two entities), 0-2 helper procedures with
parameters and return values, 2-3 thread instances (single, `for:` an entity or group, `count: 2`,
sometimes a daemon), `slow: true` marks, invariants, final properties, the two questions (`reachable:`,
often about `running(PROC)`, and `waits_on_slow:`) and options (wake policy, signals, deadlock).

Extending it as the language grows:

- a statement form: write `c_NAME(draw, ctx, depth) -> [YAML statement, ...]` and add a `Construct` row
  (name, weight, when it applies) to `CONSTRUCTS`; `block()` recurses for nested bodies;
- an expression form: add an option to `gen_bool`/`gen_int`/`gen_ref`/`gen_set`/`gen_list`/`gen_enum`
  (`safe=True` is for properties: nothing that can fail at runtime, no locals);
- a type: a `Ty` kind, its `text()`, a `gen_*` function and an `init_value` case.

Generated specs are kept small (a per-procedure statement budget, shallow nesting, loops bounded by
entity sizes or a counter) so that both explorers finish in well under a second. Patterns that trigger
known production bugs are left out unless the `World.allow_*` flag is set (`BUG_PATTERNS` sets them
all; the bugs are in tests/test_reference_agreement.py).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from netcheck.model.lang.errors import SpecError
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.system import TransitionSystem

Draw = Callable[[st.SearchStrategy], object]


# ---------------------------------------------------------------- types


@dataclass(frozen=True)
class Ty:
    kind: str                 # bool, int, ref, set, list, enum
    entity: str = ""          # the entity of ref/set/list, the type name of an enum
    nullable: bool = False
    lo: int = 0
    hi: int = 2

    def text(self) -> str:
        if self.kind == "bool":
            return "bool"
        if self.kind in COUNTER_TYPES:
            return COUNTER_TYPES[self.kind].format(lo=self.lo, hi=self.hi)
        if self.kind == "int":
            return f"int[{self.lo}..{self.hi}]"
        if self.kind == "ref":
            return self.entity + ("?" if self.nullable else "")
        if self.kind == "enum":
            return self.entity
        return f"{self.kind}<{self.entity}>"


BOOL = Ty("bool")
# Counters (refcount_t, atomic_t, completion): kept in World.counters, apart from World.vars, so that the
# constructs that assign, compare or await variables never meet one (only c_counter changes them).
COUNTER_TYPES = {"refcount": "refcount_t[0..{hi}]", "atomic": "atomic_t[{lo}..{hi}]", "completion": "completion[{hi}]"}
COUNTER_OPS = {
    "refcount": ["refcount_set", "refcount_inc", "refcount_inc", "refcount_inc_not_zero", "refcount_dec",
                 "refcount_dec_and_test", "refcount_dec_and_test"],
    "atomic": ["atomic_set", "atomic_inc", "atomic_inc_not_zero", "atomic_dec", "atomic_dec_and_test"],
    "completion": ["init_completion", "reinit_completion", "complete", "complete", "complete_all",
                   "wait_for_completion", "wait_for_completion_killable", "wait_for_completion_timeout",
                   "try_wait_for_completion"],
}
COUNTER_TESTS = {"refcount_inc_not_zero", "refcount_dec_and_test", "atomic_inc_not_zero", "atomic_dec_and_test",
                 "try_wait_for_completion"}
COUNTER_FAILS = {"wait_for_completion_killable", "wait_for_completion_timeout"}


def int_ty(lo: int = 0, hi: int = 2) -> Ty:
    return Ty("int", lo=lo, hi=hi)


# ---------------------------------------------------------------- the spec being built


@dataclass
class Proc:
    name: str
    params: list[tuple[str, Ty]]
    returns: Ty | None
    reads: dict[str, int] = field(default_factory=dict)   # max rwsem read nesting per lock inside


@dataclass
class World:
    entities: dict[str, list[str]] = field(default_factory=dict)   # entity -> element names
    groups: dict[str, str] = field(default_factory=dict)           # group -> entity
    enums: dict[str, list[str]] = field(default_factory=dict)      # enum type -> value names
    vars: dict[str, tuple[Ty, tuple[str, ...]]] = field(default_factory=dict)  # name -> (type, per entities)
    locks: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (kind, per entity or "")
    counters: dict[str, tuple[Ty, tuple[str, ...]]] = field(default_factory=dict)  # refcount_t, atomic_t, completion
    procs: list[Proc] = field(default_factory=list)
    counter: int = 0
    budget: int = 0           # statements left for the procedure being generated
    max_budget: int = 8       # the most a thread procedure gets
    # Known production bugs, left out of random specs unless enabled:
    allow_nonnull_ref_locals: bool = False   # non-nullable ref locals in called procedures
    allow_state_lock_keys: bool = False      # lock keys that read shared state (rwsem waits re-evaluate them)
    allow_null_lock_keys: bool = False       # lock keys that may be null (a null lock index crashes)
    allow_deep_reads: bool = False           # a 4th nested read hold (granted from the queue, it overflows)
    min_counters: int = 0                    # at least this many counters (tests of refcount_t & co set 1)
    min_wait_queues: int = 0                 # this many wait queues at least (tests of wait queues set 1)
    contexts: bool = False                   # irq-context threads, spinlock irq/bh forms, raw spinlocks (tests of
    #                                          interrupt contexts set it; the other generated specs stay as they were)
    wait_queues: dict[str, tuple[str, ...]] = field(default_factory=dict)   # wait_queue_head_t -> per
    wait_variants: bool = False              # exclusive and interruptible waits too (WAIT_VARIANT_OPS; tests of them)
    min_rcu_lists: int = 0                   # this many RCU lists at least (tests of RCU lists set 1)
    min_works: int = 0                       # this many work items at least (tests of workqueues set 1)
    works: dict[str, str] = field(default_factory=dict)      # work item -> its workqueue
    workqueues: dict[str, bool] = field(default_factory=dict)   # workqueue -> ordered
    rcu_lists: dict[str, str] = field(default_factory=dict)   # RCU list -> its entity
    callbacks: bool = False                  # a callbacks: table and calls through elements (tests of callbacks)
    cb_entity: str = ""                      # the entity with the table
    cb_slots: list[Proc] = field(default_factory=list)    # its slots (a slot's signature as a Proc's)
    cb_procs: dict[str, list[Proc]] = field(default_factory=dict)   # slot -> the procedures that may be bound
    call_rcu: bool = False                   # RCU callbacks: call_rcu, kfree_rcu, rcu_barrier (tests of call_rcu)
    rcu_callbacks: dict[str, str] = field(default_factory=dict)   # callback procedure -> its entity ('' : static)
    min_srcu: int = 0                        # this many SRCU domains at least (tests of SRCU set 1)
    srcu: list[str] = field(default_factory=list)   # the SRCU domains (apart from World.locks: no lock statements)
    # A loop counter assigned in its loop may loop for ever without a visible step: both explorers report
    # "does not terminate" once the step has spent its fuel (100,000 nodes run; reference_explorer.py
    # `fuel_cost`), which costs the reference explorer seconds.
    # Tests that need to be quick leave it out (the other generated specs stay as they were).
    endless_local_loops: bool = True
    loop_counters: set[str] = field(default_factory=set)

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"


@dataclass
class Ctx:
    """Where a statement is being generated: the procedure, its locals, loops and held locks."""

    world: World
    proc: Proc
    locals: dict[str, Ty]                  # everything in scope: params, declared locals, loop cursors
    declared: dict[str, Ty]                # what goes under locals:
    nonnull: dict[str, list[str]]          # entity -> local names known to hold an element (not null)
    loop: str = ""                         # "", "for" (break/continue ok) or "while" (break only)
    in_section: bool = False               # inside a lock/RCU section: no jumps out of it
    reads: dict[str, int] = field(default_factory=dict)   # rwsem read holds taken around here
    helpers: list[Proc] = field(default_factory=list)     # procedures this one may call
    daemon: bool = False

    def child(self, **changes) -> Ctx:
        c = Ctx(self.world, self.proc, self.locals, self.declared, {k: list(v) for k, v in self.nonnull.items()},
                self.loop, self.in_section, dict(self.reads), self.helpers, self.daemon)
        for k, v in changes.items():
            setattr(c, k, v)
        return c


# ---------------------------------------------------------------- expressions


def shared_of(ctx: Ctx | None, world: World, pred: Callable[[Ty], bool]) -> list[tuple[str, Ty, tuple[str, ...]]]:
    """(name, type, per entities) of the state variables whose type satisfies pred."""
    return [(n, t, per) for n, (t, per) in world.vars.items() if pred(t)]


def shared_names(world: World, pred: Callable[[Ty], bool]) -> list[str]:
    return [n for n, (t, _) in world.vars.items() if pred(t)]


def locals_of(ctx: Ctx | None, pred: Callable[[Ty], bool]) -> list[tuple[str, Ty]]:
    if ctx is None:
        return []
    return [(n, t) for n, t in ctx.locals.items() if pred(t)]


def element(draw: Draw, world: World, entity: str) -> str:
    return draw(st.sampled_from(world.entities[entity]))


def key_expr(draw: Draw, world: World, ctx: Ctx | None, entity: str) -> str:
    """An index of a per-entity variable or lock: an element, or a local known to be non-null."""
    options = list(world.entities[entity])
    if ctx is not None:
        options += ctx.nonnull.get(entity, [])
    return draw(st.sampled_from(options))


def var_ref(draw: Draw, world: World, ctx: Ctx | None, name: str) -> str:
    t, per = world.vars[name]
    return f"{name}[{', '.join(key_expr(draw, world, ctx, e) for e in per)}]" if per else name


def lock_ref(draw: Draw, world: World, ctx: Ctx | None, name: str) -> str:
    _, per = world.locks[name]
    if not per:
        return name
    if world.allow_state_lock_keys and ctx is not None and draw(st.integers(0, 3)) == 0:
        lists = shared_of(ctx, world, lambda t: t.kind == "list" and t.entity == per)
        if lists:
            return f"{name}[first({draw(st.sampled_from(lists))[0]})]"
    if world.allow_null_lock_keys and ctx is not None and draw(st.integers(0, 3)) == 0:
        maybe_null = [n for n, t in ctx.locals.items() if t.kind == "ref" and t.entity == per and t.nullable]
        if maybe_null:
            return f"{name}[{draw(st.sampled_from(maybe_null))}]"
    return f"{name}[{key_expr(draw, world, ctx, per)}]"


def gen_expr(draw: Draw, world: World, ctx: Ctx | None, ty: Ty, depth: int = 2, safe: bool = False,
             bound: tuple[tuple[str, str], ...] = ()) -> str:
    """An expression of type `ty`. safe: only what properties may use (no locals, nothing that can fail)."""
    fn = {"bool": gen_bool, "int": gen_int, "ref": gen_ref, "set": gen_set, "list": gen_list, "enum": gen_enum}[ty.kind]
    return fn(draw, world, ctx, ty, depth, safe, bound)


def _pick(draw: Draw, options: list[Callable[[], str]]) -> str:
    return draw(st.sampled_from(options))()


def gen_bool(draw, world, ctx, ty, depth, safe, bound) -> str:
    options: list[Callable[[], str]] = [lambda: draw(st.sampled_from(["true", "false"]))]
    for n in shared_names(world, lambda t: t.kind == "bool"):
        options.append(lambda n=n: var_ref(draw, world, None if safe else ctx, n))
    for n, _ in locals_of(None if safe else ctx, lambda t: t.kind == "bool"):
        options.append(lambda n=n: n)
    for name, (kind, _) in world.locks.items():
        fns = ["locked"] + (["read_locked", "write_locked"] if kind == "rwsem" else [])
        if not safe and ctx is not None:   # inside a procedure: held by the current thread
            fns += ["held"] + (["held_read", "held_write"] if kind == "rwsem" else [])
        options.append(lambda name=name, fns=fns: f"{draw(st.sampled_from(fns))}"
                       f"({lock_ref(draw, world, None if safe else ctx, name)})")
    if depth > 0:
        sub = depth - 1
        options += [
            lambda: f"not ({gen_bool(draw, world, ctx, BOOL, sub, safe, bound)})",
            lambda: f"({gen_bool(draw, world, ctx, BOOL, sub, safe, bound)}) "
                    f"{draw(st.sampled_from(['and', 'or']))} ({gen_bool(draw, world, ctx, BOOL, sub, safe, bound)})",
            lambda: f"{gen_int(draw, world, ctx, int_ty(), sub, safe, bound)} "
                    f"{draw(st.sampled_from(['==', '!=', '<', '<=']))} {gen_int(draw, world, ctx, int_ty(), sub, safe, bound)}",
        ]
        for enum in world.enums:
            e_ty = Ty("enum", enum)
            options.append(lambda e_ty=e_ty: f"{gen_enum(draw, world, ctx, e_ty, sub, safe, bound)} "
                                             f"{draw(st.sampled_from(['==', '!=']))} {gen_enum(draw, world, ctx, e_ty, sub, safe, bound)}")
        for entity in world.entities:
            ref = Ty("ref", entity, nullable=True)
            options += [
                lambda e=entity, r=ref: f"{gen_ref(draw, world, ctx, r, sub, safe, bound)} "
                                        f"{draw(st.sampled_from(['in', 'not in']))} "
                                        f"{gen_collection(draw, world, ctx, e, sub, safe, bound)}",
                lambda r=ref: f"{gen_ref(draw, world, ctx, r, sub, safe, bound)} == "
                              f"{gen_ref(draw, world, ctx, r, sub, safe, bound)}",
                lambda e=entity: f"empty({gen_collection(draw, world, ctx, e, sub, safe, bound)})",
            ]
            lists = shared_of(ctx, world, lambda t, e=entity: t.kind == "list" and t.entity == e)
            if lists:
                options.append(lambda e=entity, lists=lists: f"before({var_ref(draw, world, None, draw(st.sampled_from(lists))[0])}, "
                               f"{element(draw, world, e)}, {element(draw, world, e)})")
            if len(bound) < 2:
                options.append(lambda e=entity: quantifier(draw, world, ctx, e, sub, safe, bound))
    return _pick(draw, options)


def quantifier(draw, world, ctx, entity, depth, safe, bound) -> str:
    """all/any(BODY for q in DOMAIN [if COND] [for q' in DOMAIN'])."""
    q = f"q{len(bound)}"
    inner = bound + ((q, entity),)
    kind = draw(st.sampled_from(["all", "any"]))
    gens = f"for {q} in {gen_collection(draw, world, ctx, entity, 0, safe, bound)}"
    if draw(st.integers(0, 3)) == 0:
        gens += f" if {gen_bool(draw, world, ctx, BOOL, 0, safe, inner)}"
    if len(inner) < 2 and draw(st.integers(0, 2)) == 0:
        other = draw(st.sampled_from(sorted(world.entities)))
        q2 = f"q{len(inner)}"
        gens += f" for {q2} in {other}"
        inner = inner + ((q2, other),)
    body = gen_bool(draw, world, ctx, BOOL, depth, safe, inner)
    return f"{kind}({body} {gens})"


def gen_int(draw, world, ctx, ty, depth, safe, bound) -> str:
    options: list[Callable[[], str]] = [lambda: str(draw(st.integers(ty.lo, ty.hi)))]
    for n in shared_names(world, lambda t: t.kind == "int"):
        options.append(lambda n=n: var_ref(draw, world, None if safe else ctx, n))
    for n, _ in locals_of(None if safe else ctx, lambda t: t.kind == "int"):
        options.append(lambda n=n: n)
    if depth > 0:
        sub = depth - 1
        options.append(lambda: f"{gen_int(draw, world, ctx, ty, sub, safe, bound)} "
                               f"{draw(st.sampled_from(['+', '-']))} {draw(st.integers(1, 2))}")
        options.append(lambda: f"({gen_int(draw, world, ctx, ty, sub, safe, bound)} if "
                               f"{gen_bool(draw, world, ctx, BOOL, sub, safe, bound)} else "
                               f"{gen_int(draw, world, ctx, ty, sub, safe, bound)})")
        options.append(lambda: f"{draw(st.sampled_from(['min', 'max']))}("
                               f"{gen_int(draw, world, ctx, ty, sub, safe, bound)}, "
                               f"{gen_int(draw, world, ctx, ty, sub, safe, bound)})")
        for entity in world.entities:
            options.append(lambda e=entity: f"len({gen_collection(draw, world, ctx, e, sub, safe, bound)})")
            if len(bound) < 2:
                q = f"q{len(bound)}"
                options.append(lambda e=entity, q=q: f"count({gen_bool(draw, world, ctx, BOOL, sub, safe, bound + ((q, e),))} "
                                                     f"for {q} in {e})")
            q = f"q{len(bound)}"
            per_ints = [n for n, t, per in shared_of(ctx, world, lambda t: t.kind == "int") if per == (entity,)]
            options.append(lambda e=entity, q=q, per_ints=per_ints: f"sum({draw(st.sampled_from(per_ints))}[{q}] for {q} in {e})"
                           if per_ints and draw(st.booleans()) else
                           f"sum({gen_int(draw, world, ctx, int_ty(), 0, safe, bound + ((q, e),))} for {q} in {e})")
            lists = shared_of(ctx, world, lambda t, e=entity: t.kind == "list" and t.entity == e)
            if lists:
                options.append(lambda e=entity, lists=lists: f"index({draw(st.sampled_from(lists))[0]}, "
                                                             f"{element(draw, world, e)})")
    return _pick(draw, options)


def gen_enum(draw, world, ctx, ty, depth, safe, bound) -> str:
    options: list[Callable[[], str]] = [lambda: draw(st.sampled_from(world.enums[ty.entity]))]
    for n in shared_names(world, lambda t: t == ty):
        options.append(lambda n=n: var_ref(draw, world, None if safe else ctx, n))
    for n, _ in locals_of(None if safe else ctx, lambda t: t == ty):
        options.append(lambda n=n: n)
    if depth > 0:
        options.append(lambda: f"({gen_enum(draw, world, ctx, ty, depth - 1, safe, bound)} if "
                               f"{gen_bool(draw, world, ctx, BOOL, depth - 1, safe, bound)} else "
                               f"{gen_enum(draw, world, ctx, ty, depth - 1, safe, bound)})")
    return _pick(draw, options)


def gen_ref(draw, world, ctx, ty, depth, safe, bound) -> str:
    e = ty.entity
    options: list[Callable[[], str]] = [lambda: element(draw, world, e)]
    options += [lambda q=q: q for q, ent in bound if ent == e]
    if ty.nullable:
        options.append(lambda: "null")
        for n in shared_names(world, lambda t: t.kind == "ref" and t.entity == e):
            options.append(lambda n=n: var_ref(draw, world, None if safe else ctx, n))
        for n in shared_names(world, lambda t: t.kind == "list" and t.entity == e):
            options.append(lambda n=n: f"{draw(st.sampled_from(['first', 'last']))}({n})")
        for n, _ in locals_of(None if safe else ctx, lambda t: t.kind == "ref" and t.entity == e):
            options.append(lambda n=n: n)
        if not safe and depth > 0:
            for n in shared_names(world, lambda t: t.kind == "list" and t.entity == e):
                # can fail at runtime (the element is not on the list): a runtime_safety violation
                options.append(lambda n=n: f"{draw(st.sampled_from(['next', 'prev']))}({n}, " + _not_null_literal(
                    draw, world, gen_ref(draw, world, ctx, Ty('ref', e, True), 0, safe, bound), e) + ")")
    else:
        for n in shared_names(world, lambda t: t.kind == "ref" and t.entity == e and not t.nullable):
            options.append(lambda n=n: var_ref(draw, world, None if safe else ctx, n))
        if ctx is not None and not safe:
            options += [lambda n=n: n for n in ctx.nonnull.get(e, [])]
    return _pick(draw, options)


def gen_collection(draw, world, ctx, entity, depth, safe, bound) -> str:
    """A set or a list of `entity` (never the untyped empty list literal: 'x in []' does not type-check)."""
    if draw(st.booleans()):
        return gen_set(draw, world, ctx, Ty("set", entity), depth, safe, bound)
    return gen_list(draw, world, ctx, Ty("list", entity), depth, safe, bound, typed=True)


def _not_null_literal(draw: Draw, world: World, text: str, entity: str) -> str:
    """{null} does not type-check: a maybe-null *expression* is fine (it fails at runtime when null)."""
    return element(draw, world, entity) if text == "null" else text


def gen_set(draw, world, ctx, ty, depth, safe, bound) -> str:
    e = ty.entity
    options: list[Callable[[], str]] = [lambda: e, lambda: "{" + element(draw, world, e) + "}"]
    options += [lambda g=g: g for g, ent in world.groups.items() if ent == e]
    for n in shared_names(world, lambda t: t.kind == "set" and t.entity == e):
        options.append(lambda n=n: var_ref(draw, world, None if safe else ctx, n))
    for n, _ in locals_of(None if safe else ctx, lambda t: t.kind == "set" and t.entity == e):
        options.append(lambda n=n: n)
    if not safe:
        # a set literal of a maybe-null element may fail at runtime
        options.append(lambda: "{" + _not_null_literal(draw, world, gen_ref(draw, world, ctx, Ty("ref", e, True), 0,
                                                                            safe, bound), e) + "}")
    if depth > 0:
        options.append(lambda: f"({gen_set(draw, world, ctx, ty, depth - 1, safe, bound)} "
                               f"{draw(st.sampled_from(['|', '&', '-']))} {gen_set(draw, world, ctx, ty, depth - 1, safe, bound)})")
    return _pick(draw, options)


def gen_list(draw, world, ctx, ty, depth, safe, bound, typed: bool = False) -> str:
    e = ty.entity
    options: list[Callable[[], str]] = [
        lambda: "[]" if not typed else f"[{element(draw, world, e)}]",
        lambda: "[" + ", ".join(draw(st.permutations(world.entities[e]))[:draw(st.integers(1, len(world.entities[e])))]) + "]",
    ]
    for n in shared_names(world, lambda t: t.kind == "list" and t.entity == e):
        options.append(lambda n=n: n)
    for n, _ in locals_of(None if safe else ctx, lambda t: t.kind == "list" and t.entity == e):
        options.append(lambda n=n: n)
    return _pick(draw, options)


# ---------------------------------------------------------------- statements: one function per construct


def targets(ctx: Ctx, pred: Callable[[Ty], bool] = lambda t: True) -> list[tuple[str, Ty]]:
    """Assignable places: shared variables (indexed when per:), declared locals and parameters
    (loop cursors are never assigned; nor are loop counters, unless World.endless_local_loops)."""
    out = [(n, t) for n, (t, per) in ctx.world.vars.items() if pred(t)]
    own = set(ctx.declared) | {n for n, _ in ctx.proc.params}
    if not ctx.world.endless_local_loops:
        own -= ctx.world.loop_counters
    out += [(n, t) for n, t in ctx.locals.items() if pred(t) and n in own]
    return out


def place_text(draw: Draw, ctx: Ctx, name: str) -> str:
    return var_ref(draw, ctx.world, ctx, name) if name in ctx.world.vars and name not in ctx.locals else name


def new_local(draw: Draw, ctx: Ctx, ty: Ty | None = None) -> tuple[str, Ty]:
    world = ctx.world
    if ty is None:
        entity = draw(st.sampled_from(sorted(world.entities)))
        choices = [BOOL, int_ty(), Ty("ref", entity, True), Ty("set", entity), Ty("list", entity)]
        choices += [Ty("enum", e) for e in sorted(world.enums)]
        if world.allow_nonnull_ref_locals:
            choices.append(Ty("ref", entity, False))
        ty = draw(st.sampled_from(choices))
    name = world.fresh("x")
    ctx.locals[name] = ty
    ctx.declared[name] = ty
    return name, ty


def c_assign(draw: Draw, ctx: Ctx, depth: int) -> list:
    """target = expression (a shared variable or a local, existing or new)."""
    shared = [(n, t) for n, (t, per) in ctx.world.vars.items()]
    local = [o for o in targets(ctx) if o[0] not in ctx.world.vars]
    roll = draw(st.integers(0, 9))
    if shared and (roll < 7 or not local and roll < 9):
        name, ty = draw(st.sampled_from(shared))
    elif local and roll < 9:
        name, ty = draw(st.sampled_from(local))
    else:
        name, ty = new_local(draw, ctx)
    value = gen_expr(draw, ctx.world, ctx, ty, 1)
    return [f"{place_text(draw, ctx, name)} = {value}"]


def c_increment(draw: Draw, ctx: Ctx, depth: int) -> list:
    """v += 1 / v -= 1 on an int, sometimes guarded to stay in range."""
    name, ty = draw(st.sampled_from(targets(ctx, lambda t: t.kind == "int")))
    place = place_text(draw, ctx, name)
    op = draw(st.sampled_from(["+=", "-="]))
    stmt = f"{place} {op} 1"
    if draw(st.booleans()):
        return [{"if": f"{place} {'<' if op == '+=' else '>'} {ty.hi if op == '+=' else ty.lo}", "then": [stmt]}]
    return [stmt]


def c_multi_assign(draw: Draw, ctx: Ctx, depth: int) -> list:
    """a, b = e1, e2 (simultaneous)."""
    options = targets(ctx)
    a = draw(st.sampled_from(options))
    rest = [o for o in options if o[0] != a[0]]
    if not rest:
        rest = [new_local(draw, ctx)]
    b = draw(st.sampled_from(rest))
    pa, pb = place_text(draw, ctx, a[0]), place_text(draw, ctx, b[0])
    return [f"{pa}, {pb} = {gen_expr(draw, ctx.world, ctx, a[1], 1)}, {gen_expr(draw, ctx.world, ctx, b[1], 1)}"]


def c_set_update(draw: Draw, ctx: Ctx, depth: int) -> list:
    """S = S | {x} or S = S - {x} on a set variable."""
    name, ty = draw(st.sampled_from(targets(ctx, lambda t: t.kind == "set")))
    place = place_text(draw, ctx, name)
    x = gen_ref(draw, ctx.world, ctx, Ty("ref", ty.entity), 0, False, ())
    return [f"{place} = {place} {draw(st.sampled_from(['|', '-']))} {{{x}}}"]


def c_list_op(draw: Draw, ctx: Ctx, depth: int) -> list:
    """list_add / list_add_tail / list_add_before / list_del, usually guarded by a membership test."""
    name, ty = draw(st.sampled_from(targets(ctx, lambda t: t.kind == "list")))
    place = place_text(draw, ctx, name)
    x = gen_ref(draw, ctx.world, ctx, Ty("ref", ty.entity), 0, False, ())
    fn = draw(st.sampled_from(["list_add", "list_add_tail", "list_add_before", "list_del"]))
    if fn == "list_add_before":
        pos = gen_ref(draw, ctx.world, ctx, Ty("ref", ty.entity, True), 0, False, ())
        stmt = f"list_add_before({place}, {x}, {pos})"
    else:
        stmt = f"{fn}({place}, {x})"
    if draw(st.integers(0, 4)) == 0:
        return [stmt]
    guard = f"{x} in {place}" if fn == "list_del" else f"{x} not in {place}"
    return [{"if": guard, "then": [stmt]}]


def c_rcu_list(draw: Draw, ctx: Ctx, depth: int) -> list:
    """An RCU list statement: a reader walking it (in a read-side section, or sometimes not), an RCU edit (usually
    guarded by a membership test), a grace period, or a kfree."""
    name = draw(st.sampled_from(sorted(ctx.world.rcu_lists)))
    entity = ctx.world.rcu_lists[name]
    x = gen_ref(draw, ctx.world, ctx, Ty("ref", entity), 0, False, ())
    kind = draw(st.sampled_from(["walk", "walk", "edit", "edit", "edit", "synchronize", "kfree"]))
    if kind == "walk":
        it = _cursor(draw, ctx, entity)
        inner = ctx.child(loop="for")
        inner.nonnull.setdefault(entity, []).append(it)
        walk = {"list_for_each_entry_rcu": f"{it} in {name}", "do": block(draw, inner, max(depth - 1, 0), 0, 1)}
        return [walk] if draw(st.integers(0, 5)) == 0 else ["rcu_read_lock", walk, "rcu_read_unlock"]
    if kind == "synchronize":
        return ["synchronize_rcu"]
    if kind == "kfree":
        return [{"kfree": x}]
    fn = draw(st.sampled_from(["list_add_rcu", "list_add_tail_rcu", "list_del_rcu", "list_del_rcu", "list_del_rcu"]))
    stmt = f"{fn}({name}, {x})"
    if draw(st.integers(0, 4)) == 0:
        return [stmt]
    return [{"if": f"{x} in {name}" if fn == "list_del_rcu" else f"{x} not in {name}", "then": [stmt]}]


def c_call_rcu(draw: Draw, ctx: Ctx, depth: int) -> list:
    """call_rcu of a callback (on an element, maybe null, or a static rcu_head; maybe one already queued),
    kfree_rcu of an element, or rcu_barrier."""
    kind = draw(st.sampled_from(["call_rcu", "call_rcu", "call_rcu", "kfree_rcu", "rcu_barrier"]))
    if kind == "rcu_barrier":
        return ["rcu_barrier"]
    if kind == "kfree_rcu":
        entity = draw(st.sampled_from(sorted(ctx.world.entities)))
        x = gen_ref(draw, ctx.world, ctx, Ty("ref", entity, True), 0, False, ())
        return [{"kfree_rcu": ctx.world.entities[entity][0] if x == "null" else x}]   # a literal null has no entity
    name = draw(st.sampled_from(sorted(ctx.world.rcu_callbacks)))
    entity = ctx.world.rcu_callbacks[name]
    if not entity:
        return [{"call_rcu": name}]
    return [{"call_rcu": f"{name}({gen_ref(draw, ctx.world, ctx, Ty('ref', entity, True), 0, False, ())})"}]


def gen_rcu_callbacks(draw: Draw, world: World, helpers: list[Proc], procedures: dict) -> None:
    """One or two RCU callbacks: procedures of one element (the object embedding the rcu_head) or none."""
    for i in range(draw(st.integers(1, 2))):
        entity = draw(st.sampled_from(["", *sorted(world.entities)]))
        world.rcu_callbacks[f"rcb{i}"] = entity
    for name, entity in world.rcu_callbacks.items():
        params = [("x", Ty("ref", entity))] if entity else []
        key, value, _ = gen_procedure(draw, world, "h" + name, params, None, helpers, 1, 2)
        procedures[key.replace("h" + name, name, 1)] = value


def c_counter(draw: Draw, ctx: Ctx, depth: int) -> list:
    """A refcount_t, atomic_t or completion operation; a bool result goes to on_fail: or a new local, a
    killable or timed wait has on_fail:."""
    world = ctx.world
    name = draw(st.sampled_from(sorted(world.counters)))
    ty, per = world.counters[name]
    place = f"{name}[{', '.join(key_expr(draw, world, ctx, e) for e in per)}]" if per else name
    op = draw(st.sampled_from(COUNTER_OPS[ty.kind]))
    arg = f"{place}, {draw(st.integers(ty.lo - 1, ty.hi))}" if op.endswith("_set") else place
    out: dict = {op: arg}
    if op in COUNTER_TESTS and draw(st.booleans()):
        out["result"], _ = new_local(draw, ctx, BOOL)
    elif op in COUNTER_TESTS or op in COUNTER_FAILS:
        out["on_fail"] = block(draw, ctx, depth - 1, 0, 1) if depth > 0 else []
    return [out]


WAIT_OPS = ["wait_event", "wait_event", "wait_event_killable", "wait_event_timeout", "wake_up", "wake_up",
            "wake_up_all", "prepare_to_wait", "finish_wait", "schedule", "open_coded", "open_coded", "test_first"]
WAIT_VARIANT_OPS = ["wait_event_interruptible", "wait_event_idle_exclusive", "wait_event_idle_exclusive",
                    "wait_event_interruptible_exclusive", "prepare_to_wait_exclusive", "open_coded_exclusive",
                    "open_coded_exclusive", "wake_up"]
WAIT_CONDS = ("wait_event", "wait_event_killable", "wait_event_timeout", "wait_event_interruptible",
              "wait_event_idle_exclusive", "wait_event_interruptible_exclusive", "open_coded", "open_coded_exclusive",
              "test_first")


def c_wait_queue(draw: Draw, ctx: Ctx, depth: int) -> list:
    """A wait-queue operation: the wait_event family (killable and timed waits with on_fail:), a wake-up,
    the open-coded parts, the kernel's open-coded wait loop, or the lost-wake-up pattern (test, then join)."""
    world = ctx.world
    name = draw(st.sampled_from(sorted(world.wait_queues)))
    per = world.wait_queues[name]
    queue = f"{name}[{', '.join(key_expr(draw, world, ctx, e) for e in per)}]" if per else name
    op = draw(st.sampled_from(WAIT_OPS + WAIT_VARIANT_OPS if world.wait_variants else WAIT_OPS))
    if op == "schedule":
        return ["schedule"]
    cond = gen_bool(draw, world, ctx, BOOL, 1, False, ()) if op in WAIT_CONDS else ""
    if op.startswith("open_coded"):   # prepare_to_wait(_exclusive), test, schedule, until the test holds; finish_wait
        prepare = "prepare_to_wait_exclusive" if op.endswith("_exclusive") else "prepare_to_wait"
        return [{"while": "true", "do": [{prepare: queue}, {"if": cond, "then": ["break"]}, "schedule"]},
                {"finish_wait": queue}]
    if op == "test_first":   # the lost wake-up: the test comes before the thread is on the queue
        return [{"if": f"not ({cond})", "then": [{"prepare_to_wait": queue}, "schedule", {"finish_wait": queue}]}]
    if not cond:
        return [{op: queue}]
    out: dict = {op: f"{queue}, {cond}"}
    if op not in ("wait_event", "wait_event_idle_exclusive"):
        out["on_fail"] = block(draw, ctx, depth - 1, 0, 1) if depth > 0 else []
    return [out]


WORK_OPS = ["queue_work", "queue_work", "queue_work", "flush_work", "flush_work", "cancel_work_sync",
            "flush_workqueue", "test_state"]


def c_work(draw: Draw, ctx: Ctx, depth: int) -> list:
    """A workqueue call (queue_work and cancel_work_sync sometimes with result: a new local), or a test of an
    item's state (its work_state variable)."""
    world = ctx.world
    item = draw(st.sampled_from(sorted(world.works)))
    queue = world.works[item]
    op = draw(st.sampled_from(WORK_OPS))
    if op == "test_state":
        state = draw(st.sampled_from(["WORK_IDLE", "WORK_PENDING", "WORK_RUNNING", "WORK_REQUEUED", "WORK_CANCELING"]))
        return [{"if": f"{item} == {state}", "then": block(draw, ctx, depth - 1, 1, 1) if depth > 0 else ["pass"]}]
    out: dict = {op: f"{queue}, {item}" if op == "queue_work" else queue if op == "flush_workqueue" else item}
    if op in ("queue_work", "cancel_work_sync") and draw(st.booleans()):
        out["result"], _ = new_local(draw, ctx, BOOL)
    return [out]


def gen_works(draw: Draw, world: World, helpers: list[Proc]) -> tuple[dict, dict, dict]:
    """`workqueues:`, `works:` and the items' procedures: one or two queues (ordered or unbound), one to three
    items, each running a small procedure of its own (which may queue, flush or cancel items too)."""
    queues = {f"q{i}": draw(st.booleans()) for i in range(draw(st.integers(1, 2)))}
    world.workqueues = queues
    items = {f"wk{i}": draw(st.sampled_from(sorted(queues))) for i in range(draw(st.integers(world.min_works, 3)))}
    world.works = items
    procedures: dict = {}
    for item in items:
        key, value, _ = gen_procedure(draw, world, f"h{item}", [], None, helpers, 1, 2)
        procedures[key] = value
    return ({q: {"ordered": ordered} for q, ordered in queues.items()},
            {item: {"queue": q, "run": f"h{item}"} for item, q in items.items()}, procedures)


def c_if(draw: Draw, ctx: Ctx, depth: int) -> list:
    cond = gen_bool(draw, ctx.world, ctx, BOOL, 1, False, ())
    out: dict = {"if": cond, "then": block(draw, ctx, depth - 1, 1, 2)}
    if draw(st.booleans()):
        out["else"] = block(draw, ctx, depth - 1, 0, 2)
    return [out]


def c_either(draw: Draw, ctx: Ctx, depth: int) -> list:
    n = draw(st.integers(2, 3))
    return [{"either": {f"b{i}": block(draw, ctx, depth - 1, 0, 2) for i in range(n)}}]


def c_while_counter(draw: Draw, ctx: Ctx, depth: int) -> list:
    """A bounded loop on a local counter (no continue: it would skip the increment)."""
    k = ctx.world.fresh("k")
    ctx.world.loop_counters.add(k)
    ctx.locals[k] = ctx.declared[k] = int_ty(0, 3)
    limit = draw(st.integers(1, 2))
    body = block(draw, ctx.child(loop="while"), depth - 1, 1, 2)
    return [f"{k} = 0", {"while": f"{k} < {limit}", "do": body + [f"{k} += 1"]}]


def c_while_shared(draw: Draw, ctx: Ctx, depth: int) -> list:
    """A loop whose condition reads shared state (every test is a step)."""
    name, ty, per = draw(st.sampled_from(shared_of(ctx, ctx.world, lambda t: t.kind == "bool")))
    ref = var_ref(draw, ctx.world, ctx, name)
    body = block(draw, ctx.child(loop="while"), depth - 1, 0, 1)
    return [{"while": f"not {ref}" if draw(st.booleans()) else ref, "do": body + [f"{ref} = not {ref}"]}]


def _cursor(draw: Draw, ctx: Ctx, entity: str) -> str:
    it = ctx.world.fresh("it")
    ctx.locals[it] = Ty("ref", entity, True)
    return it


def c_list_loop(draw: Draw, ctx: Ctx, depth: int) -> list:
    """list_for_each_entry / list_for_each_entry_reverse over a list variable."""
    lists = [(n, t) for n, t in ctx.locals.items() if t.kind == "list"] + \
            [(n, t) for n, (t, per) in ctx.world.vars.items() if t.kind == "list" and not per]
    name, ty = draw(st.sampled_from(lists))
    it = _cursor(draw, ctx, ty.entity)
    inner = ctx.child(loop="for")
    inner.nonnull.setdefault(ty.entity, []).append(it)
    form = draw(st.sampled_from(["list_for_each_entry", "list_for_each_entry_reverse"]))
    return [{form: f"{it} in {name}", "do": block(draw, inner, depth - 1, 1, 2)}]


def c_continue_reverse(draw: Draw, ctx: Ctx, depth: int) -> list:
    """Walk forward until a condition breaks out, then undo backwards from there (setup_net's shape)."""
    lists = [(n, t) for n, (t, per) in ctx.world.vars.items() if t.kind == "list" and not per]
    name, ty = draw(st.sampled_from(lists))
    c = ctx.world.fresh("c")
    ctx.locals[c] = ctx.declared[c] = Ty("ref", ty.entity, True)
    inner = ctx.child(loop="for")
    inner.nonnull.setdefault(ty.entity, []).append(c)
    forward = block(draw, inner, depth - 1, 0, 1) + [{"if": gen_bool(draw, ctx.world, inner, BOOL, 1, False, ()),
                                                        "then": ["break"]}]
    backward = block(draw, inner, depth - 1, 1, 1)
    return [{"list_for_each_entry": f"{c} in {name}", "do": forward},
            {"list_for_each_entry_continue_reverse": f"{c} in {name}", "do": backward}]


def c_for_each(draw: Draw, ctx: Ctx, depth: int) -> list:
    """for_each over an entity, a group, a set or a list (live: re-read at every iteration)."""
    entity = draw(st.sampled_from(sorted(ctx.world.entities)))
    sources = [entity] + [g for g, e in ctx.world.groups.items() if e == entity]
    sources += [n for n, (t, per) in ctx.world.vars.items() if t.kind in ("set", "list") and t.entity == entity
                and not per]
    sources += [n for n, t in ctx.locals.items() if t.kind in ("set", "list") and t.entity == entity]
    it = _cursor(draw, ctx, entity)
    inner = ctx.child(loop="for")
    inner.nonnull.setdefault(entity, []).append(it)
    return [{"for_each": f"{it} in {draw(st.sampled_from(sources))}", "do": block(draw, inner, depth - 1, 1, 2)}]


def c_break_continue(draw: Draw, ctx: Ctx, depth: int) -> list:
    word = draw(st.sampled_from(["break", "continue"] if ctx.loop == "for" else ["break"]))
    return [{"if": gen_bool(draw, ctx.world, ctx, BOOL, 1, False, ()), "then": [word]}]


def c_return(draw: Draw, ctx: Ctx, depth: int) -> list:
    ret = ctx.proc.returns
    stmt = "return" if ret is None else f"return {gen_expr(draw, ctx.world, ctx, ret, 1)}"
    return [{"if": gen_bool(draw, ctx.world, ctx, BOOL, 1, False, ()), "then": [stmt]}]


def _on_fail(draw: Draw, ctx: Ctx, label: str) -> list:
    """What an interrupted wait or a failed trylock does: skip the section, or return."""
    if not ctx.in_section and draw(st.integers(0, 2)) == 0:
        ret = ctx.proc.returns
        return ["return" if ret is None else f"return {gen_expr(draw, ctx.world, ctx, ret, 0)}"]
    return [f"goto {label}"]


SECTIONS = {
    "mutex": [("mutex_lock", "mutex_unlock"), ("mutex_lock_killable", "mutex_unlock"),
              ("mutex_trylock", "mutex_unlock")],
    "spinlock": [("spin_lock", "spin_unlock"), ("spin_trylock", "spin_unlock")],
    "rwsem": [("down_read", "up_read"), ("down_read_killable", "up_read"), ("down_read_trylock", "up_read"),
              ("down_write", "up_write"), ("down_write_killable", "up_write"), ("down_write_trylock", "up_write"),
              ("down_write", "downgrade_write")],
}


# with World.contexts: spinlocks taken with their interrupt-disabling forms too, raw spinlocks
SPIN_SECTIONS = [(f"{take}{x}", f"{release}{y}") for x, y in (("", ""), ("_irq", "_irq"), ("_irqsave", "_irqrestore"),
                                                              ("_bh", "_bh"), ("_irqsave", ""), ("_irq", "_irqrestore"))
                 for take, release in (("spin_lock", "spin_unlock"),)]
CONTEXT_SECTIONS = {**SECTIONS, "spinlock": SPIN_SECTIONS,
                    "raw_spinlock": [(f"raw_{a}", f"raw_{b}") for a, b in SPIN_SECTIONS]}


def c_lock_section(draw: Draw, ctx: Ctx, depth: int) -> list:
    """acquire; body; release -- killable and trylock acquisitions jump past the release on failure."""
    name = draw(st.sampled_from(sorted(ctx.world.locks)))
    kind, per = ctx.world.locks[name]
    take, release = draw(st.sampled_from((CONTEXT_SECTIONS if ctx.world.contexts else SECTIONS)[kind]))
    reading = take.startswith("down_read") or release == "downgrade_write"
    if reading and ctx.reads.get(name, 0) >= 2 and not ctx.world.allow_deep_reads:
        take, release = "down_write_trylock", "up_write"
        reading = False
    ref = lock_ref(draw, ctx.world, ctx, name)
    label = ctx.world.fresh("skip")
    acquire: dict = {take: ref}
    failing = take.endswith(("_killable", "_trylock"))
    if failing:
        acquire["on_fail"] = _on_fail(draw, ctx, label)
    inner = ctx.child(in_section=True)
    if reading:
        inner.reads[name] = inner.reads.get(name, 0) + 1
    body = block(draw, inner, depth - 1, 0, 2)
    if draw(st.booleans()):   # a long step under the lock: others may wait behind it (waits_on_slow)
        marks = [st_ for st_ in body if isinstance(st_, dict) and "label" not in st_]
        if marks and draw(st.booleans()):
            draw(st.sampled_from(marks))["slow"] = True   # a local-only statement is never stood at
        else:
            body.insert(draw(st.integers(0, len(body))), "synchronize_rcu")
    out: list = [acquire, *body]
    if release == "downgrade_write":
        out += [{"downgrade_write": ref}, *block(draw, inner, depth - 1, 0, 1), {"up_read": ref}]
    else:
        out.append({release: ref})
    if failing:
        out.append({"label": label})
    return out


def c_sloppy_lock(draw: Draw, ctx: Ctx, depth: int) -> list:
    """A lone lock operation: a release of what may not be held, or an acquire never released."""
    name = draw(st.sampled_from(sorted(ctx.world.locks)))
    kind, per = ctx.world.locks[name]
    ops = {"mutex": ["mutex_lock", "mutex_unlock"], "spinlock": ["spin_lock", "spin_unlock"],
           "rwsem": ["down_write", "up_read", "up_write", "downgrade_write"]}.get(kind, [])
    if ctx.world.contexts and kind in ("spinlock", "raw_spinlock"):
        prefix = "raw_" if kind == "raw_spinlock" else ""
        ops = [f"{prefix}{op}" for op in ("spin_lock_irq", "spin_unlock_irq", "spin_unlock_irqrestore", "spin_lock_bh",
                                          "spin_unlock_bh", "spin_unlock")]
    return [{draw(st.sampled_from(ops)): lock_ref(draw, ctx.world, ctx, name)}]


def c_rcu(draw: Draw, ctx: Ctx, depth: int) -> list:
    form = draw(st.sampled_from(["section", "synchronize_rcu", "rcu_barrier"]))
    if form != "section":
        return [form]
    return ["rcu_read_lock", *block(draw, ctx.child(in_section=True), depth - 1, 0, 2), "rcu_read_unlock"]


SRCU_FORMS = ["section"] * 6 + ["synchronize"] * 4 + ["under_lock"] * 5


def c_srcu(draw: Draw, ctx: Ctx, depth: int, forms: list[str] = SRCU_FORMS) -> list:
    """An SRCU read-side section (nesting at most 3 deep, often taking a sleeping lock inside: SRCU readers may
    sleep), synchronize_srcu (alone or under a sleeping lock: the rtnl_link_unregister() deadlock when a reader
    takes that lock; rarely inside a section of its own domain, a self-deadlock), or, rarely, a lone
    srcu_read_unlock. forms: the forms drawn from ("rtnl" is a section with a sleeping lock inside)."""
    world = ctx.world
    form = draw(st.sampled_from(forms))
    rtnl = form == "rtnl"
    form = "section" if rtnl else form
    open_ = [d for d in world.srcu if ctx.reads.get(d, 0) < 2]
    if form == "section" and open_:
        domain = draw(st.sampled_from(open_))
        inner = ctx.child(in_section=True)
        inner.reads[domain] = inner.reads.get(domain, 0) + 1
        body = block(draw, inner, depth - 1, 0, 1) if depth > 0 else []
        if rtnl or draw(st.booleans()):
            at = draw(st.integers(0, len(body)))
            body[at:at] = _sleeping_section(draw, inner, [])
        return [{"srcu_read_lock": domain}, *body, {"srcu_read_unlock": domain}]
    # (the rare choices are the high values: Hypothesis tries the low ones first)
    if form == "synchronize" and draw(st.integers(0, 19)) == 19:
        return [{"srcu_read_unlock": draw(st.sampled_from(world.srcu))}]
    outside = [d for d in world.srcu if not ctx.reads.get(d)]
    if outside and draw(st.integers(0, 5)) < 5:
        domain = draw(st.sampled_from(outside))
    elif draw(st.booleans()):   # any domain: inside a section of its own one, a self-deadlock (lock_discipline)
        domain = draw(st.sampled_from(world.srcu))
    else:
        return []
    wait = {"synchronize_srcu": domain}
    if form == "under_lock" or form == "section":
        return _sleeping_section(draw, ctx, [wait])
    return [wait]


def _sleeping_section(draw: Draw, ctx: Ctx, body: list) -> list:
    """body under a mutex or an rwsem (written, or read when not nested too deep), when the spec has one."""
    sleeping = sorted(n for n, (kind, _) in ctx.world.locks.items() if kind in ("mutex", "rwsem"))
    if not sleeping:
        return body
    name = sleeping[0] if draw(st.booleans()) else draw(st.sampled_from(sleeping))   # often one "RTNL" for all
    ref = lock_ref(draw, ctx.world, ctx, name)
    if ctx.world.locks[name][0] == "mutex":
        take, release = "mutex_lock", "mutex_unlock"
    elif ctx.reads.get(name, 0) < 2 and draw(st.booleans()):
        take, release = "down_read", "up_read"
    else:
        take, release = "down_write", "up_write"
    return [{take: ref}, *body, {release: ref}]


def c_assert(draw: Draw, ctx: Ctx, depth: int) -> list:
    return [{"assert": gen_bool(draw, ctx.world, ctx, BOOL, 1, False, ()), "name": ctx.world.fresh("a")}]


def c_await(draw: Draw, ctx: Ctx, depth: int) -> list:
    """wait_event(cond); sometimes an idle wait (where a daemon may rest)."""
    out: dict = {"await": gen_bool(draw, ctx.world, ctx, BOOL, 1, False, ())}
    if draw(st.integers(0, 3)) == 0:
        out["idle"] = True
    return [out]


def c_call(draw: Draw, ctx: Ctx, depth: int) -> list:
    """A call of an earlier procedure, its result (if any) stored in a matching variable or dropped."""
    callable_ = [p for p in ctx.helpers if ctx.world.allow_deep_reads or
                 all(ctx.reads.get(lk, 0) + n <= 3 for lk, n in p.reads.items())]
    proc = draw(st.sampled_from(callable_))
    args = ", ".join(gen_expr(draw, ctx.world, ctx, t, 1) for _, t in proc.params)
    _note_call_reads(ctx, proc)
    return _call_statement(draw, ctx, f"{proc.name}({args})", proc.returns)


def _note_call_reads(ctx: Ctx, proc: Proc) -> None:
    """The read holds the caller nests when it calls `proc`."""
    for lk, n in proc.reads.items():
        ctx.proc.reads[lk] = max(ctx.proc.reads.get(lk, 0), ctx.reads.get(lk, 0) + n)


def _call_statement(draw: Draw, ctx: Ctx, call: str, ret: Ty | None) -> list:
    """The call as a statement in one of its forms, its result (if any) stored in a matching variable or
    dropped."""
    if ret is not None and draw(st.integers(0, 3)) > 0:
        options = targets(ctx, lambda t: t == ret or (t.kind == ret.kind == "int") or
                          (t.kind == ret.kind == "ref" and t.entity == ret.entity and t.nullable))
        if options and draw(st.booleans()):
            name, _ = draw(st.sampled_from(options))
        else:
            name, _ = new_local(draw, ctx, ret if ret.kind != "ref" else Ty("ref", ret.entity, True))
        place = place_text(draw, ctx, name)
        if draw(st.booleans()):
            return [{"call": call, "result": place}]
        return [f"{place} = {call}"]
    return [{"call": call} if draw(st.booleans()) else call]


def c_indirect_call(draw: Draw, ctx: Ctx, depth: int) -> list:
    """A call through an element's callback slot, `o.slot(args)`, often guarded by `if: o.slot` (unguarded,
    an unset slot or a null o is a runtime_safety violation)."""
    world = ctx.world
    entity = world.cb_entity
    via = draw(st.sampled_from([n for n, t in ctx.locals.items() if t.kind == "ref" and t.entity == entity]
                               + world.entities[entity]))
    slot = draw(st.sampled_from(world.cb_slots))
    for proc in world.cb_procs[slot.name]:
        _note_call_reads(ctx, proc)
    args = ", ".join(gen_expr(draw, world, ctx, t, 1) for _, t in slot.params)
    out = _call_statement(draw, ctx, f"{via}.{slot.name}({args})", slot.returns)
    return [{"if": f"{via}.{slot.name}", "then": out}] if draw(st.integers(0, 3)) else out


def gen_callbacks(draw: Draw, world: World, helpers: list[Proc]) -> tuple[dict, dict]:
    """A callbacks: table of one entity (one or two slots, a procedure or two for each, bound to the entity,
    a group, an element, some left unset) and the procedures bound."""
    entity = draw(st.sampled_from(sorted(world.entities)))
    world.cb_entity = entity
    procedures: dict = {}
    slots: dict = {}
    for k in range(draw(st.integers(1, 2))):
        params = [(f"p{j}", gen_param_type(draw, world)) for j in range(draw(st.integers(0, 1)))]
        slot = Proc(f"s{k}", params, draw(st.sampled_from([None, int_ty()])))
        slots[slot.name] = "(" + ", ".join(f"{t.text()} {n}" for n, t in params) + ")" + (
            f" -> {slot.returns.text()}" if slot.returns is not None else "")
        world.cb_slots.append(slot)
        world.cb_procs[slot.name] = []
        for v in range(draw(st.integers(1, 2))):
            key, value, proc = gen_procedure(draw, world, f"hs{k}{v}", params, slot.returns, list(helpers), 1, 2)
            procedures[key] = value
            world.cb_procs[slot.name].append(proc)
    keys = [entity, *(g for g, e in world.groups.items() if e == entity), *world.entities[entity]]
    bind: dict = {}
    for key in draw(st.lists(st.sampled_from(keys), min_size=1, max_size=3, unique=True)):
        bind[key] = {s.name: draw(st.sampled_from([p.name for p in world.cb_procs[s.name]] + [None]))
                     for s in world.cb_slots if draw(st.integers(0, 3))}
    return procedures, {entity: {"slots": slots, "bind": bind}}


def c_retry(draw: Draw, ctx: Ctx, depth: int) -> list:
    """label; work; if SHARED_COND: goto label -- a backward jump (the condition is a step of its own)."""
    label = ctx.world.fresh("retry")
    name = draw(st.sampled_from(shared_names(ctx.world, lambda t: t.kind == "bool")))
    flag = var_ref(draw, ctx.world, ctx, name)
    body = block(draw, ctx, depth - 1, 0, 2)
    # flip the flag on the way back, so that the retry loop can end
    return [{"label": label}, *body, {"if": flag, "then": [f"{flag} = false", f"goto {label}"]}]


def c_goto_into_branch(draw: Draw, ctx: Ctx, depth: int) -> list:
    """A forward goto into the middle of a later either/if branch (jumping into a loop is refused)."""
    label = ctx.world.fresh("into")
    # both conditions first: a loop in the blocks below adds its cursor to the locals in scope, and a
    # condition written before that loop must not name it
    jump_if = gen_bool(draw, ctx.world, ctx, BOOL, 1, False, ())
    target_if = gen_bool(draw, ctx.world, ctx, BOOL, 1, False, ())
    skipped = block(draw, ctx, depth - 1, 0, 1)
    before, after = block(draw, ctx, depth - 1, 0, 1), block(draw, ctx, depth - 1, 0, 1)
    branch = [*before, {"label": label}, *after]
    other = block(draw, ctx, depth - 1, 0, 1)
    if draw(st.booleans()):
        target: dict = {"either": {"b0": branch, "b1": other}}
    else:
        target = {"if": target_if, "then": other, "else": branch}
    return [{"if": jump_if, "then": [f"goto {label}"]}, *skipped, target]


@dataclass(frozen=True)
class Construct:
    name: str
    weight: int
    applies: Callable[[Ctx, int], bool]
    build: Callable[[Draw, Ctx, int], list]


def _has_shared(pred: Callable[[Ty], bool]) -> Callable[[Ctx, int], bool]:
    return lambda ctx, depth: any(pred(t) for t, _ in ctx.world.vars.values())


def _has_target(pred: Callable[[Ty], bool]) -> Callable[[Ctx, int], bool]:
    return lambda ctx, depth: bool(targets(ctx, pred))


CONSTRUCTS: list[Construct] = [
    Construct("assign", 8, lambda ctx, d: True, c_assign),
    Construct("increment", 3, _has_target(lambda t: t.kind == "int"), c_increment),
    Construct("multi_assign", 1, lambda ctx, d: len(targets(ctx)) >= 2, c_multi_assign),
    Construct("set_update", 2, _has_target(lambda t: t.kind == "set"), c_set_update),
    Construct("list_op", 3, _has_target(lambda t: t.kind == "list"), c_list_op),
    Construct("if", 3, lambda ctx, d: d > 0, c_if),
    Construct("either", 2, lambda ctx, d: d > 0, c_either),
    Construct("while_counter", 1, lambda ctx, d: d > 0, c_while_counter),
    Construct("while_shared", 1, lambda ctx, d: d > 0 and _has_shared(lambda t: t.kind == "bool")(ctx, d),
              c_while_shared),
    Construct("list_loop", 2, lambda ctx, d: d > 0 and (
        any(t.kind == "list" for t in ctx.locals.values()) or
        any(t.kind == "list" and not per for t, per in ctx.world.vars.values())), c_list_loop),
    Construct("continue_reverse", 1, lambda ctx, d: d > 0 and any(
        t.kind == "list" and not per for t, per in ctx.world.vars.values()), c_continue_reverse),
    Construct("for_each", 2, lambda ctx, d: d > 0, c_for_each),
    Construct("retry", 1, lambda ctx, d: d > 0 and not ctx.in_section and
              _has_shared(lambda t: t.kind == "bool")(ctx, d), c_retry),
    Construct("goto_into_branch", 1, lambda ctx, d: d > 0 and not ctx.in_section, c_goto_into_branch),
    Construct("break_continue", 2, lambda ctx, d: bool(ctx.loop) and not ctx.in_section, c_break_continue),
    Construct("return", 1, lambda ctx, d: not ctx.in_section and not ctx.daemon, c_return),
    Construct("lock_section", 8, lambda ctx, d: d > 0 and bool(ctx.world.locks), c_lock_section),
    Construct("sloppy_lock", 1, lambda ctx, d: bool(ctx.world.locks), c_sloppy_lock),
    Construct("rcu", 2, lambda ctx, d: d > 0, c_rcu),
    Construct("assert", 2, lambda ctx, d: True, c_assert),
    Construct("counter", 4, lambda ctx, d: bool(ctx.world.counters), c_counter),
    Construct("wait_queue", 5, lambda ctx, d: bool(ctx.world.wait_queues), c_wait_queue),
    Construct("rcu_list", 16, lambda ctx, d: bool(ctx.world.rcu_lists), c_rcu_list),
    Construct("call_rcu", 6, lambda ctx, d: bool(ctx.world.rcu_callbacks), c_call_rcu),
    Construct("work", 10, lambda ctx, d: bool(ctx.world.works), c_work),
    Construct("srcu", 12, lambda ctx, d: bool(ctx.world.srcu), c_srcu),
    Construct("await", 2, lambda ctx, d: bool(ctx.world.vars), c_await),
    Construct("indirect_call", 4, lambda ctx, d: bool(ctx.world.cb_slots) and ctx.proc.name.startswith("t") and all(
        ctx.world.allow_deep_reads or ctx.reads.get(lk, 0) + n <= 3 for procs in ctx.world.cb_procs.values()
        for p in procs for lk, n in p.reads.items()), c_indirect_call),
    Construct("call", 5, lambda ctx, d: any(all(ctx.reads.get(lk, 0) + n <= 3 for lk, n in p.reads.items())
                                            for p in ctx.helpers), c_call),
]


def statement(draw: Draw, ctx: Ctx, depth: int) -> list:
    ctx.world.budget -= 1
    if ctx.world.budget < 0:
        depth = 0
    options = [c for c in CONSTRUCTS if c.applies(ctx, depth) for _ in range(c.weight)]
    construct = draw(st.sampled_from(options))
    out = construct.build(draw, ctx, depth)
    if out and isinstance(out[0], dict) and draw(st.integers(0, 9)) == 0:
        out[0]["slow"] = True   # a long step (for a call, a lock section's acquire, a loop: all it runs)
    return out


def block(draw: Draw, ctx: Ctx, depth: int, lo: int, hi: int) -> list:
    if ctx.world.budget <= 0:
        hi = lo
    n = draw(st.integers(lo, hi))
    out: list = []
    for _ in range(n):
        out += statement(draw, ctx, depth)
    return out


# ---------------------------------------------------------------- declarations


def gen_entities(draw: Draw, world: World) -> dict:
    out: dict = {}
    for i, name in enumerate(["ea", "eb", "ec"][:draw(st.integers(1, 3))]):
        if i == 0 and draw(st.integers(0, 3)) == 0:
            groups = {"ga": 1, "gb": draw(st.integers(0, 1))}
            out[name] = groups
            world.entities[name] = [f"{g}{j}" for g, n in groups.items() for j in range(n)]
            for g in groups:
                world.groups[g] = name
        else:
            size = draw(st.integers(1, 2))
            out[name] = size
            world.entities[name] = [f"{name}{j}" for j in range(size)]
    return out


def gen_types(draw: Draw, world: World) -> dict:
    """Sometimes an enum type (types: {mode: "enum{mode_a, ...}"})."""
    if draw(st.integers(0, 2)):
        return {}
    values = [f"mode_{c}" for c in "abc"[:draw(st.integers(2, 3))]]
    world.enums["mode"] = values
    return {"mode": "enum{" + ", ".join(values) + "}"}


def gen_locks(draw: Draw, world: World) -> dict:
    out: dict = {}
    kinds = draw(st.lists(st.sampled_from(["mutex", "rwsem", "rwsem", "mutex", "spinlock"]), min_size=1, max_size=3))
    if world.contexts:   # spinlocks mostly, one at least
        kinds = [draw(st.sampled_from(["spinlock", "raw_spinlock"])), *draw(st.lists(st.sampled_from(
            ["spinlock", "spinlock", "raw_spinlock", "mutex"]), max_size=1))]
    for i, kind in enumerate(kinds):
        name = {"mutex": "m", "rwsem": "r", "spinlock": "s", "raw_spinlock": "z"}[kind] + str(i)
        per = ""
        if draw(st.integers(0, 3)) == 0:
            per = draw(st.sampled_from(sorted(world.entities)))
            out[name] = {"kind": kind, "per": [per]}
        else:
            out[name] = kind
        world.locks[name] = (kind, per)
    if world.min_srcu:   # (drawn only when asked for: the other generated specs stay as they were)
        for i in range(max(world.min_srcu, draw(st.sampled_from([1, 1, 2])))):
            out[f"sd{i}"] = "srcu"
            world.srcu.append(f"sd{i}")
    return out


def init_value(draw: Draw, world: World, ty: Ty) -> object:
    if ty.kind == "bool":
        return draw(st.booleans())
    if ty.kind == "int":
        return draw(st.integers(ty.lo, ty.hi))
    if ty.kind == "ref":
        options: list = list(world.entities[ty.entity]) + ([None] if ty.nullable else [])
        return draw(st.sampled_from(options))
    if ty.kind == "enum":
        return draw(st.sampled_from(world.enums[ty.entity]))
    elements = world.entities[ty.entity]
    return list(draw(st.permutations(elements)))[:draw(st.integers(0, len(elements)))]


def gen_state(draw: Draw, world: World) -> dict:
    out: dict = {}
    n = draw(st.integers(1, 4))
    for i in range(n):
        entity = draw(st.sampled_from(sorted(world.entities)))
        ty = draw(st.sampled_from([BOOL, BOOL, int_ty(), int_ty(-1, 1), Ty("set", entity), Ty("list", entity),
                                   Ty("list", entity), Ty("ref", entity, True), Ty("ref", entity, False),
                                   *[Ty("enum", e) for e in sorted(world.enums)]]))
        name = f"v{i}"
        decl: dict = {"type": ty.text()}
        per: tuple[str, ...] = ()
        if ty.kind in ("bool", "int", "enum") and draw(st.integers(0, 3)) == 0:
            per = tuple(draw(st.lists(st.sampled_from(sorted(world.entities)), min_size=1, max_size=2)))
            decl["per"] = list(per)
        if ty.kind == "ref" and not ty.nullable or draw(st.booleans()):
            decl["init"] = init_value(draw, world, ty)
        out[name] = decl
        world.vars[name] = (ty, per)
    for i in range(max(world.min_counters, draw(st.sampled_from([0, 0, 1, 1, 2])))):
        kind = draw(st.sampled_from(sorted(COUNTER_TYPES)))
        ty = Ty(kind, lo=-1 if kind == "atomic" and draw(st.booleans()) else 0, hi=draw(st.integers(1, 2)))
        decl = {"type": ty.text()}
        per = ()
        if draw(st.integers(0, 2)) == 0:
            per = (draw(st.sampled_from(sorted(world.entities))),)
            decl["per"] = list(per)
        if draw(st.booleans()):
            decl["init"] = draw(st.integers(ty.lo, ty.hi))
        out[f"cnt{i}"] = decl
        world.counters[f"cnt{i}"] = (ty, per)
    if world.min_wait_queues:   # (drawn only when asked for: the other generated specs stay as they were)
        for i in range(draw(st.integers(world.min_wait_queues, 2))):
            decl = {"type": "wait_queue_head_t"}
            wper: tuple[str, ...] = ()
            if draw(st.integers(0, 2)) == 0:
                wper = (draw(st.sampled_from(sorted(world.entities))),)
                decl["per"] = list(wper)
            out[f"wq{i}"] = decl
            world.wait_queues[f"wq{i}"] = wper
    for i in range(world.min_rcu_lists):   # (drawn only when asked for, as the wait queues)
        entity = draw(st.sampled_from(sorted(world.entities)))
        out[f"rl{i}"] = {"type": f"list<{entity}>", "init": list(world.entities[entity])}
        world.rcu_lists[f"rl{i}"] = entity
    return out


def gen_procedure(draw: Draw, world: World, name: str, params: list[tuple[str, Ty]], returns: Ty | None,
                  helpers: list[Proc], lo: int, hi: int, daemon: bool = False) -> tuple[str, object, Proc]:
    proc = Proc(name, params, returns)
    # Each procedure gets its own statement budget: threads more than helpers.
    world.budget = draw(st.integers(1, 3)) if name.startswith("h") else draw(st.integers(3, world.max_budget))
    ctx = Ctx(world, proc, dict(params), {}, {}, helpers=helpers, daemon=daemon)
    for pname, t in params:
        if t.kind == "ref" and not t.nullable:
            ctx.nonnull.setdefault(t.entity, []).append(pname)
    if draw(st.integers(0, 2)) == 0:
        new_local(draw, ctx)
    if daemon:
        name_, ty, per = draw(st.sampled_from(shared_of(ctx, world, lambda t: t.kind == "bool")))
        flag = var_ref(draw, world, ctx, name_)
        work = block(draw, ctx.child(loop="while"), 2, 0, 2)
        body = [{"while": "true", "do": [{"await": flag, "idle": True}, f"{flag} = false", *work]}]
    else:
        # an SRCU section or grace period in every thread, first or last (outside every section of the body;
        # drawn first when it comes first, as it must not name the body's loop cursors)
        srcu = world.srcu and name.startswith("t")
        first = c_srcu(draw, ctx, 1, ["rtnl", "under_lock"]) if srcu and draw(st.booleans()) else []
        body = first + block(draw, ctx, 2, lo, hi)
        if world.cb_slots and name.startswith("t"):   # a call through an element in every thread
            body += c_indirect_call(draw, ctx, 1)
        if srcu and not first:
            body += c_srcu(draw, ctx, 1, ["rtnl", "under_lock"])
    if returns is not None:  # every path must end in a return (NC205)
        body.append(f"return {gen_expr(draw, world, ctx, returns, 1)}")
    param_text = ", ".join(f"{t.text()} {n}" for n, t in params)
    key = f"{name}({param_text})" + (f" -> {returns.text()}" if returns is not None else "")
    if ctx.declared:
        value: object = {"locals": {n: t.text() for n, t in ctx.declared.items()}, "body": body}
    else:
        value = body
    for lk, n in ctx.proc.reads.items():
        proc.reads[lk] = n
    _note_reads(body, proc)
    return key, value, proc


def _note_reads(body: list, proc: Proc) -> None:
    """Record (over-approximately) how deep this procedure nests read holds of each rwsem."""
    def walk(items: list, depth: dict[str, int]) -> None:
        for item in items:
            if not isinstance(item, dict):
                continue
            here = dict(depth)
            for key, value in item.items():
                if key.startswith("down_read") or key in ("downgrade_write", "srcu_read_lock"):
                    lock = str(value).split("[")[0]
                    here[lock] = here.get(lock, 0) + 1
                    proc.reads[lock] = max(proc.reads.get(lock, 0), here[lock])
            for key in ("then", "else", "do", "on_fail"):
                if isinstance(item.get(key), list):
                    walk(item[key], here)
            if isinstance(item.get("either"), dict):
                for branch in item["either"].values():
                    walk(branch, here)
            depth.update(here)
    walk(body, {})


def gen_param_type(draw: Draw, world: World) -> Ty:
    entity = draw(st.sampled_from(sorted(world.entities)))
    return draw(st.sampled_from([Ty("ref", entity), Ty("ref", entity), Ty("ref", entity, True), int_ty(), BOOL]))


def const_expr(draw: Draw, world: World, ty: Ty) -> str:
    """A constant (thread arguments must be constants)."""
    if ty.kind == "bool":
        return draw(st.sampled_from(["true", "false"]))
    if ty.kind == "int":
        return str(draw(st.integers(ty.lo, ty.hi)))
    assert ty.kind == "ref"
    return draw(st.sampled_from(world.entities[ty.entity] + (["null"] if ty.nullable else [])))


def gen_properties(draw: Draw, world: World, procs: list[str], threads: list[str]) -> dict:
    """Invariants, a final property and, sometimes, the two questions: `reachable:` (often about
    running(PROC)) and `waits_on_slow:`."""
    out: dict = {}
    for i in range(draw(st.integers(0, 2))):
        out[f"inv{i}"] = {"invariant": gen_bool(draw, world, None, BOOL, 2, True, ())}
    if draw(st.booleans()):
        out["fin0"] = {"final": gen_bool(draw, world, None, BOOL, 2, True, ())}
    if draw(st.integers(0, 2)) == 0:
        running = f"running({draw(st.sampled_from(procs))})"
        out["q_reach"] = {"reachable": draw(st.sampled_from([
            f"{running} >= {draw(st.integers(1, 2))}",
            f"{running} + running({draw(st.sampled_from(procs))}) >= 2",
            f"{running} >= 1 and {gen_bool(draw, world, None, BOOL, 1, True, ())}",
            gen_bool(draw, world, None, BOOL, 2, True, ())]))}
    if draw(st.integers(0, 2)) == 0:
        out["q_slow"] = {"waits_on_slow": draw(st.sampled_from(threads))}
    return out


@st.composite
def spec_dicts(draw: Draw, world_flags: dict | None = None) -> dict:
    """A random spec as a Python mapping (see `to_yaml`)."""
    world = World(**(world_flags or {}))
    spec: dict = {"netcheck": 1, "name": "generated"}
    spec["entities"] = gen_entities(draw, world)
    types = gen_types(draw, world)
    if types:
        spec["types"] = types
    spec["locks"] = gen_locks(draw, world)
    spec["state"] = gen_state(draw, world)
    procedures: dict = {}
    helpers: list[Proc] = []
    for i in range(draw(st.integers(0, 2))):
        params = [(f"p{j}", gen_param_type(draw, world)) for j in range(draw(st.integers(0, 2)))]
        returns = draw(st.sampled_from([None, None, int_ty(), BOOL,
                                        Ty("ref", sorted(world.entities)[0], True)]))
        key, value, proc = gen_procedure(draw, world, f"h{i}", params, returns, list(helpers), 1, 2)
        procedures[key] = value
        helpers.append(proc)
    if world.callbacks:
        bound, spec["callbacks"] = gen_callbacks(draw, world, helpers)
        procedures.update(bound)
    if world.call_rcu:
        gen_rcu_callbacks(draw, world, helpers, procedures)
    if world.min_works:   # (drawn only when asked for: the other generated specs stay as they were)
        spec["workqueues"], spec["works"], work_procs = gen_works(draw, world, helpers)
        procedures.update(work_procs)
    threads: dict = {}
    instances = 0
    target = draw(st.integers(2, 3))
    has_bool = any(t.kind == "bool" for t, _ in world.vars.values())
    i = 0
    while instances < target:
        room = target - instances
        shape = draw(st.sampled_from(["single", "for", "count", "daemon"]))
        if shape == "daemon" and (not has_bool or any(isinstance(t, dict) and t.get("daemon")
                                                                for t in threads.values())):
            shape = "single"
        name = f"t{i}"
        entity = draw(st.sampled_from(sorted(world.entities)))
        domains = [(entity, len(world.entities[entity]))] + [
            (g, sum(1 for el in world.entities[entity] if el.startswith(g))) for g, e in world.groups.items()
            if e == entity]
        domain, size = draw(st.sampled_from([d for d in domains if d[1] > 0]))
        if shape == "for" and size <= room:
            key, value, _ = gen_procedure(draw, world, name, [("n", Ty("ref", entity))], None, helpers, 3, 5)
            threads[name] = {"for": f"n in {domain}", "run": f"{name}(n)"}
            instances += size
        elif shape == "count" and room >= 2:
            key, value, _ = gen_procedure(draw, world, name, [], None, helpers, 3, 5)
            threads[name] = {"run": f"{name}()", "count": 2}
            instances += 2
        elif shape == "daemon":
            key, value, _ = gen_procedure(draw, world, name, [], None, helpers, 0, 0, daemon=True)
            threads[name] = {"run": f"{name}()", "daemon": True}
            instances += 1
        else:
            params = [(f"p{j}", gen_param_type(draw, world)) for j in range(draw(st.integers(0, 1)))]
            key, value, _ = gen_procedure(draw, world, name, params, None, helpers, 3, 5)
            args = ", ".join(const_expr(draw, world, t) for _, t in params)
            threads[name] = f"{name}({args})" if draw(st.booleans()) else {"run": f"{name}({args})"}
            instances += 1
        procedures[key] = value
        i += 1
    if world.contexts:
        gen_irq_threads(draw, world, helpers, threads, procedures)
    spec["procedures"] = procedures
    spec["threads"] = threads
    names = sorted(key.split("(")[0] for key in procedures)
    spec["properties"] = gen_properties(draw, world, names, sorted(threads))
    options: dict = {}
    if draw(st.booleans()):
        options["rwsem_wake"] = draw(st.sampled_from(["head_run", "all_readers"]))
    if draw(st.integers(0, 3)) == 0:
        options["fatal_signals"] = False
    if draw(st.integers(0, 5)) == 0:
        options["deadlock"] = False
    if options:
        spec["options"] = options
    return spec


def gen_irq_threads(draw: Draw, world: World, helpers: list[Proc], threads: dict, procedures: dict) -> None:
    """One or two threads in hardirq or softirq context, most interrupting a single-instance thread."""
    cpus = [name for name, t in threads.items() if isinstance(t, str) or ("for" not in t and "count" not in t)]
    for j in range(draw(st.sampled_from([1, 1, 2]))):
        name = f"irq{j}"
        key, value, _ = gen_procedure(draw, world, name, [], None, helpers, 1, 3)
        entry: dict = {"run": f"{name}()", "context": draw(st.sampled_from(["hardirq", "hardirq", "softirq"]))}
        if cpus and draw(st.integers(0, 4)):
            entry["interrupts"] = draw(st.sampled_from(cpus))
        threads[name] = entry
        procedures[key] = value


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: object) -> bool:
        return True


def to_yaml(spec: dict) -> str:
    return yaml.dump(spec, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=4096,
                     allow_unicode=True)


BUG_PATTERNS = {"allow_nonnull_ref_locals": True, "allow_state_lock_keys": True, "allow_null_lock_keys": True,
                "allow_deep_reads": True}


def specs(world_flags: dict | None = None) -> st.SearchStrategy[str]:
    """Random valid specs as YAML text."""
    return spec_dicts(world_flags).map(to_yaml)


def generated_systems(examples: int, texts: st.SearchStrategy[str] | None = None
                      ) -> Callable[[Callable[[TransitionSystem], None]], Callable[[], None]]:
    """Decorates a check of one compiled spec to run on `examples` random specs (bug patterns included,
    or drawn from `texts`), derandomized, with no deadline (a spec the checker rejects is skipped): the
    setup the cross-checks against the other compilations share."""
    def decorate(check: Callable[[TransitionSystem], None]) -> Callable[[], None]:
        def compiled(text: str) -> None:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "spec.yaml"
                path.write_text(text, encoding="utf-8")
                try:
                    system = TransitionSystem(load_spec(path))
                except SpecError:
                    assume(False)
                    return
            check(system)
        return settings(max_examples=examples, deadline=None, derandomize=True, database=None, print_blob=False,
                        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                               HealthCheck.filter_too_much])(
            given(texts if texts is not None else specs(BUG_PATTERNS))(compiled))
    return decorate


__all__ = ["generated_systems", "specs", "spec_dicts", "to_yaml", "CONSTRUCTS", "Construct", "World", "Ctx", "Ty", "BUG_PATTERNS"]
