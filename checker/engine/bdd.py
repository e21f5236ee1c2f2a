"""Symbolic breadth-first search: the reachable states held as binary decision diagrams (CUDD, through the
`dd` package), one layer per depth, over the same transition relation bounded model checking unrolls
(engine/bmc.py's `Unrolling`).

BMC asks a SAT solver about every path of d steps; paths that meet at a state are never merged, and each
depth costs more than the one before (about 1.5 times on the net-namespace bug specs, which stop it near
17 steps). Here a depth costs one image of the set of states first reached at the depth before, whatever
the paths to them: the layers are the explicit search's, as sets.

- **States as bits.** Every integer slot is a bit-vector of the width of its interval (engine/
  intervals.py's bounds of the first HORIZON frames), through the narrow translation of engine/finite.py,
  so every translated term is its integer value while the slots lie in their intervals. Each case knows
  where it would write a value outside a slot's interval (`Encoding._outside`); when a layer holds such a
  state, that layer is still exact but the next is not, so the search widens the slot and starts again
  (`bdd_search`). A slot left unused holds one value, so a state is one assignment and the fixpoint counts
  the explicit search's states.
- **One relation per visible case** (a partitioned transition relation), kept as conjuncts: its guard and
  the ways the threads it moves settle, and one equality per slot it writes; the others are not in it, so
  an image quantifies and renames only what the case writes, and it conjoins them with the layer first
  (`_Case`, `Encoding.image`).
- **Layers.** Layer d is the states first reached after d steps. A property is violated at depth d when
  layer d meets its condition, or layer d - 1 meets "a step from here breaks it"; the depths are those of
  the explicit search's shortest counterexamples, and a counterexample is read back from the layers (a
  state of layer d, a predecessor of it in layer d - 1, ...), decoded into slot values and replayed with
  the explicit semantics (`bmc.replay`) before it is reported.
- **Fixpoint.** When a layer is empty, every reachable state has been seen: a property not violated holds
  (`BddResult.fixpoint`), as after the explicit search.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import z3
from netcheck.model.semantics.system import TransitionSystem

from .bitblast import Bits, Blaster, Node
from .bmc import HORIZON, BmcError, BmcResult, Option, Unrolling, _condition_parts, _Goal, _goals, begin, replay
from .finite import NarrowTranslator, Untranslatable
from .intervals import Bounds, Value, hull, widened
from .limits import Interrupt
from .verdicts import InternalError

MOST_BITS = 32          # the widest integer slot (a wider one: the spec is not encoded)
MOST_REBUILDS = 64      # times the search may widen the bounds and start again


class OutOfTime(Exception):
    """The time given ran out while the relation or a goal's condition was being built."""


class BddUnavailable(BmcError):
    """The `dd` package with CUDD is not installed (pip install 'netcheck[bdd]')."""


@dataclass
class BddResult(BmcResult):
    """A symbolic breadth-first search: BMC's findings, plus whether it reached a fixpoint (every reachable
    state seen), how many states each layer holds, the largest BDD (nodes) and how often the slot bounds
    were widened."""

    fixpoint: bool = False
    layers: list[int] = field(default_factory=list)
    states: int = 0
    peak_nodes: int = 0
    final_reachable: bool | None = None
    rebuilds: int = 0
    escaped: list[int] | None = None   # slots a step from a reached state would leave (the run is void)


def cudd() -> Any:
    try:
        from dd import cudd as module
    except ImportError:
        raise BddUnavailable("the BDD engine needs the dd package built with CUDD: pip install 'netcheck[bdd]'") \
            from None
    return module


def _bits(v: Value) -> int:
    if isinstance(v, list):
        return max((_bits(f) for f in v), default=0)
    if v is None:
        return 0
    return max(abs(v[0]), abs(v[1])).bit_length() + 1


def _env(u: Unrolling, slots: list[Value]) -> dict[int, Value]:
    """Intervals of the relation's constants: each slot's before and after the step, each value left unused."""
    env: dict[int, Value] = {}
    for state in (u.base, u.next):
        env.update((c.get_id(), v) for c, v in zip(state, slots))
    for c, v in zip(u.free, u.unused):
        if v is not None:
            env[c.get_id()] = Bounds({})(v)
    return env


def _inside(inner: Value, outer: Value) -> bool:
    """Every value of `inner` lies in `outer` (an interval, or a record's per field)."""
    if isinstance(inner, list) and isinstance(outer, list):
        return all(_inside(a, b) for a, b in zip(inner, outer))
    if isinstance(inner, tuple) and isinstance(outer, tuple):
        return outer[0] <= inner[0] and inner[1] <= outer[1]
    return False


def _within(term: z3.ExprRef, bound: Value) -> z3.BoolRef:
    """`term` (an Int, or a record of Ints) lies in `bound`."""
    if isinstance(bound, list):
        sort = term.sort()
        assert isinstance(sort, z3.DatatypeSortRef)
        return z3.And(*[_within(sort.accessor(0, k)(term), field) for k, field in enumerate(bound)])
    assert isinstance(bound, tuple)
    return z3.And(bound[0] <= term, term <= bound[1])


class _Case:
    """One visible case's relation, kept as conjuncts (a partitioned relation): `taken`, its guard and the
    ways the threads it moves settle (over the state before and the ways), and per slot it writes the
    equality of that slot's next bits with its new value. An image conjoins them with the states first,
    so that every intermediate BDD is about those states only, then quantifies `gone` (the written slots'
    bits before, the ways) and renames the next bits to the state's (`rename`)."""

    def __init__(self, option: Option, taken: Node, equalities: list[Node], gone: list[str],
                 rename: dict[str, str], written: list[int], outside: list[tuple[int, Node]]):
        self.option, self.taken, self.equalities = option, taken, equalities
        self.gone, self.rename, self.written, self.outside = gone, rename, written, outside


class Encoding:
    """The spec's state, initial states, steps and goals as BDDs over one CUDD manager, each integer slot at
    the width of its interval in `slots`. A step that would give slot i a value outside its interval voids
    the image (`image`); the search widens it to `outside[i]`, the values a step may give it, and starts
    again."""

    def __init__(self, u: Unrolling, slots: list[Value], deadline: float | None = None):
        self.u = u
        self.deadline = deadline
        self.slots = slots
        dd = cudd()
        self.and_exists = dd.and_exists
        # a conjunct simplified where the case's guard and ways hold (an image conjoins them anyway): smaller
        self.restrict = dd.restrict
        bdd = self.bdd = dd.BDD()
        bdd.configure(reordering=True)
        self.translator = NarrowTranslator(_env(u, slots))
        self.names: dict[str, list[str]] = {}       # a translated constant's name -> its variables
        self.aux: set[str] = set()                  # variables of no slot (ways, values left unused)
        for j in range(len(u.settles)):   # the ways first: a case's relation branches on them before any slot
            self._variable(f"way{j}", 0)
        self.pre: list[list[list[str]]] = []        # per slot, per part (a record's fields), its bits
        self.post: list[list[str]] = []
        order: list[tuple[int, list[str], list[str]]] = []
        for i, (before, after) in enumerate(zip(u.base, u.next)):
            slot_pre: list[list[str]] = []
            slot_post: list[str] = []
            for k, ((name, width), (name_after, _)) in enumerate(zip(self._parts(before), self._parts(after))):
                bits_pre, bits_post = [], []
                for b in range(max(width, 1)):
                    bits_pre.append(f"s{i}.{k}.{b}")
                    bits_post.append(f"n{i}.{k}.{b}")
                order.append((len(bits_pre), bits_pre, bits_post))
                self.names[name], self.names[name_after] = bits_pre, bits_post
                slot_pre.append(bits_pre)
                slot_post += bits_post
            self.pre.append(slot_pre)
            self.post.append(slot_post)
        # narrow parts first (program counters, owners, list items), each bit before and after side by side: a
        # wide number (an rwsem's packed read counts) is then read after what decides how it changes
        for _, bits_pre, bits_post in sorted(order, key=lambda part: part[0]):
            for before_bit, after_bit in zip(bits_pre, bits_post):
                bdd.declare(before_bit, after_bit)
        self.state_vars = [v for slot in self.pre for bits in slot for v in bits]
        self.blast = Blaster(bdd, self._variable, self.check_time)
        # a slot left unused holds one value (nothing reads it), so that a state is one assignment, as in the
        # explicit store: BMC's (0), and False or the empty set where BMC leaves it free
        self.idle = [v if v is not None else _nothing(c.sort()) for c, v in zip(u.base, u.unused)]
        self.free = [(c, v) for c, v in zip(u.free, self.idle) if v is not None]
        self.outside: dict[int, Value] = {}
        self.cases = []
        try:
            self.init = self._initial()
            for k in range(len(u.visible)):
                self.check_time()
                case = self._case(k)
                if case.taken != bdd.false:
                    self.cases.append(case)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Drop every BDD this encoding holds, before its manager goes (CUDD's manager must outlive its nodes,
        and the encoding and its blaster refer to each other, so the garbage collector would pick the order)."""
        self.cases = []
        self.init = None
        blast = getattr(self, "blast", None)
        if blast is not None:
            blast.memo.clear()
            blast.kept.clear()
            blast.variable = blast.check = None   # type: ignore[assignment]

    def check_time(self) -> None:
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise OutOfTime

    def _parts(self, const: z3.ExprRef) -> list[tuple[str, int]]:
        t = self.translator(const)
        parts = t if isinstance(t, list) else [t]
        return [(p.decl().name(), p.size() if z3.is_bv(p) else 0) for p in parts]

    def _variable(self, name: str, width: int) -> Node | Bits:
        names = self.names.get(name)
        if names is None:
            names = self.names[name] = [f"a{len(self.aux) + b}" for b in range(max(width, 1))]
            self.aux.update(names)
            self.bdd.declare(*names)
        if width == 0:
            return self.bdd.var(names[0])
        return [self.bdd.var(v) for v in names]

    def formula(self, term: z3.BoolRef) -> Node:
        """A Boolean term over the state before (and the step's constants) as a BDD."""
        if self.free:
            term = z3.substitute(term, *self.free)
        translated = self.translator(term)
        assert isinstance(translated, z3.BoolRef)
        # z3's bit-vector rewriting first: a division or remainder by a power of two becomes bits
        return self.blast.formula(z3.simplify(translated))

    def _initial(self) -> Node:
        u, out = self.u, self.bdd.false
        pre = u.rel.pre
        for s in u.system.initial_states:
            out |= self.formula(z3.And(*[u.base[i] == (pre.value(i, v) if v is not None else self.idle[i])
                                         for i, v in enumerate(s) if v is not None or self.idle[i] is not None]))
        return out

    def _case(self, k: int) -> _Case:
        """Visible case k's relation (bmc.py's step template with case k selected), and where it writes a value
        outside a slot's interval (`_outside`)."""
        u, bdd = self.u, self.bdd
        ways = [j for j, s in enumerate(u.settles) if s.option == k]
        parts: list[z3.BoolRef] = [u.guards[k]]
        groups: dict[int, list[z3.BoolRef]] = {tid: [] for kk, tid in u.moved if kk == k}
        for j in ways:
            way = z3.Bool(f"way{j}")
            groups.setdefault(u.settles[j].tid, []).append(way)
            parts.append(z3.Implies(way, u.settles[j].cond))
        for group in groups.values():
            parts.append(z3.Or(*group) if group else z3.BoolVal(False))
            if len(group) > 1:
                parts.append(z3.AtMost(*group, 1))
        taken = self.formula(z3.And(*parts))
        written = sorted({*u.writes[k], *[i for j in ways for i in u.settles[j].writes]})
        equalities: list[Node] = []
        outside: list[tuple[int, Node]] = []
        for i in written:
            if taken == bdd.false:
                break
            value = u.writes[k].get(i, u.base[i])
            for j in reversed(ways):
                if i in u.settles[j].writes:
                    value = z3.If(z3.Bool(f"way{j}"), u.settles[j].writes[i], value)
            equalities.append(self.restrict(self.formula(u.next[i] == value), taken))
            if self.slots[i] is not None:
                out = self._outside(i, value)
                if out is not None:
                    outside.append((i, self.restrict(out, taken)))
        used = set().union(bdd.support(taken), *[bdd.support(e) for e in equalities]) & self.aux
        gone = [v for i in written for bits in self.pre[i] for v in bits] + sorted(used)
        rename = {n: p for i in written for n, p in zip(self.post[i], (v for b in self.pre[i] for v in b))}
        self.blast.memo.clear()   # the BDDs of the case's subterms: few are shared with another case's
        self.blast.kept.clear()
        return _Case(u.visible[k], taken, equalities, gone, rename, written, outside)

    def _outside(self, i: int, value: z3.ExprRef) -> Node | None:
        """Where slot i's new value lies outside the slot's interval (over the state before and the ways) when
        its bounds say it may, and the interval it may take then (`outside`); None when it cannot."""
        term = value if not self.free else z3.substitute(value, *self.free)
        bound = self.translator.bounds(term)
        if _inside(bound, self.slots[i]):
            return None
        self.outside[i] = hull(self.outside.get(i, self.slots[i]), bound)
        return ~self.formula(_within(term, self.slots[i]))

    def _step(self, states: Node, case: _Case, escaped: set[int]) -> Node:
        """The states a case's step reaches from `states`, over the next bits of the slots it writes; a slot
        the step would give a value outside its interval joins `escaped`."""
        bdd = self.bdd
        conj = states & case.taken
        if conj == bdd.false:
            return conj
        escaped.update(i for i, out in case.outside if i not in escaped and conj & out != bdd.false)
        for eq in case.equalities[:-1]:
            conj &= eq
            if conj == bdd.false:
                return conj
        if case.equalities:
            return self.and_exists(conj, case.equalities[-1], case.gone)
        return bdd.exist(case.gone, conj)

    def image(self, states: Node) -> tuple[Node, set[int]]:
        """The states one step from `states` reaches, and the slots a step from them would take outside their
        intervals (then the image is void: the search widens them and starts again)."""
        out = self.bdd.false
        escaped: set[int] = set()
        for case in self.cases:
            step = self._step(states, case, escaped)
            if step != self.bdd.false:
                out |= self.bdd.let(case.rename, step)
        return out, escaped

    def predecessor(self, state: dict[str, bool], layer: Node) -> tuple[Option, dict[str, bool]]:
        """A state of `layer` with a step to `state` (an assignment of the state bits), and that step's case."""
        bdd = self.bdd
        for case in self.cases:
            inverse = {p: n for n, p in case.rename.items()}
            conj = bdd.cube({inverse.get(v, v): value for v, value in state.items()}) & layer & case.taken
            for eq in case.equalities:
                if conj == bdd.false:
                    break
                conj &= eq
            if conj != bdd.false:
                return case.option, self.pick(bdd.exist([*case.rename, *sorted(bdd.support(conj) & self.aux)], conj))
        raise InternalError("symbolic search: a state of a layer has no predecessor in the layer before")

    def pick(self, states: Node) -> dict[str, bool]:
        """One state of a nonempty set, every state bit assigned."""
        assignment = self.bdd.pick(states, care_vars=self.state_vars)
        assert assignment is not None
        return {v: bool(assignment.get(v, False)) for v in self.state_vars}

    def values(self, state: dict[str, bool]) -> list[z3.ExprRef]:
        """An assignment of the state bits as each slot's z3 value (bmc.replay's `want`)."""
        out = []
        for i, c in enumerate(self.u.base):
            numbers = [(sum(1 << b for b, v in enumerate(bits) if state[v]), len(bits)) for bits in self.pre[i]]
            sort = c.sort()
            if sort.kind() == z3.Z3_BOOL_SORT:
                out.append(z3.BoolVal(bool(numbers[0][0])))
            elif sort.kind() == z3.Z3_BV_SORT:
                out.append(z3.BitVecVal(numbers[0][0], sort.size()))
            elif sort.kind() == z3.Z3_INT_SORT:
                out.append(z3.IntVal(_signed(*numbers[0])))
            else:
                assert isinstance(sort, z3.DatatypeSortRef)
                out.append(sort.constructor(0)(*[z3.IntVal(_signed(*n)) for n in numbers]))
        return out

    def count(self, states: Node) -> int:
        return int(self.bdd.count(states, nvars=len(self.state_vars)))


def _nothing(sort: z3.SortRef) -> z3.ExprRef | None:
    """The value an unused Boolean or set slot holds here (None: a sort BMC fixes itself)."""
    if sort.kind() == z3.Z3_BOOL_SORT:
        return z3.BoolVal(False)
    if sort.kind() == z3.Z3_BV_SORT:
        return z3.BitVecVal(0, sort.size())
    return None


def _signed(raw: int, width: int) -> int:
    return raw - (1 << width) if width and raw >> (width - 1) & 1 else raw


def bdd_search(system: TransitionSystem, depth: int | None = None, timeout: float | None = None,
               fail_fast: bool = False, stop_on: frozenset[str] = frozenset()) -> BddResult:
    """The shortest violation (or witness) of every property bounded model checking decides, by layers of
    BDDs to `depth` steps (None: until the fixpoint); with `stop_on`, of those properties only. A spec it
    cannot encode: BmcError (BddUnavailable without dd)."""
    started = time.perf_counter()
    deadline = started + timeout if timeout else None
    cudd()
    system = system.unreduced()
    u = Unrolling(system, finite=True)
    horizon = HORIZON if depth is None else min(depth, HORIZON)
    slots = u.slot_bounds(horizon + 1)
    rebuilds = 0
    with Interrupt() as interrupt:
        while True:
            enc = None
            try:
                enc = Encoding(u, slots, deadline)
                result = _search(system, enc, depth, deadline, fail_fast, stop_on, interrupt)
            except Untranslatable as err:
                raise BmcError(f"the symbolic search cannot encode the spec: {err}") from None
            except OutOfTime:
                result = begin(BddResult(system, depth=depth if depth is not None else -1, complete=False,
                                         stop_reason=f"timeout after {timeout:g} s (building the BDDs)"))
                result.unknown.update({name: f"the BDDs were not built within {timeout:g} s"
                                       for name in result.covered if name not in result.violations})
                break
            finally:
                if enc is not None:
                    enc.close()
            result.rebuilds = rebuilds
            if result.escaped is None:
                break
            rebuilds += 1
            slots = list(slots)
            for i in result.escaped:
                slots[i] = widened(enc.outside[i])
                if _bits(slots[i]) > MOST_BITS or rebuilds > MOST_REBUILDS:
                    raise BmcError(f"{system.layout.slots[i].name} takes values beyond {MOST_BITS} bits, or its "
                                   "bounds kept growing: the symbolic search cannot encode it")
    if result.stop_reason == "timeout":
        result.stop_reason = f"timeout after {timeout:g} s"
    result.seconds = time.perf_counter() - started
    return result


def _search(system: TransitionSystem, enc: Encoding, depth: int | None, deadline: float | None, fail_fast: bool,
            stop_on: frozenset[str], interrupt: Interrupt) -> BddResult:
    """The layers of one encoding, until a fixpoint, `depth`, the goals are found or a layer holds a state
    from which a step leaves a slot's interval (`escaped`: those slots; the search goes no further)."""
    u, bdd = enc.u, enc.bdd
    result = begin(BddResult(system, depth=depth if depth is not None else -1))
    goals = {name: g for name, g in _goals(u).items() if name in result.covered}
    if stop_on:
        result.unknown.update({name: "not looked for: the search asks only about the --stop-on properties"
                               for name in goals if name not in stop_on and name not in result.violations})
        goals = {name: g for name, g in goals.items() if name in stop_on}
    conditions = {}
    for name, g in goals.items():
        enc.check_time()
        conditions[name] = _conditions(enc, u, g)
    open_ = [name for name in goals if name not in result.violations]
    layers = [enc.init]
    reached = enc.init
    result.layers.append(enc.count(enc.init))
    d = 0
    while True:
        began = time.perf_counter()
        for name in list(open_):
            here, by_step = conditions[name]
            hits = _meets(bdd, layers[d], here)
            if hits != bdd.false:
                _found(result, enc, layers, goals[name], d, hits, True)
                open_.remove(name)
                continue
            hits = _meets(bdd, layers[d - 1], by_step) if d > 0 else bdd.false
            if hits != bdd.false:
                _found(result, enc, layers, goals[name], d, hits, False)
                open_.remove(name)
        result.reached = d
        result.times.append(time.perf_counter() - began)
        if not open_:
            break
        if (fail_fast and result.violations) or (stop_on and stop_on <= result.violations.keys()):
            result.complete = False   # the properties left open were not searched further
            result.stop_reason = ("stopped at the first violation" if fail_fast else
                                  "stopped at the --stop-on properties")
            break
        if d > 0 and layers[d] == bdd.false:
            result.fixpoint = True
            break
        if depth is not None and d >= depth:
            break
        if interrupt.raised or (deadline is not None and time.perf_counter() > deadline):
            result.complete = False
            result.stop_reason = "interrupted" if interrupt.raised else "timeout"
            break
        after, escaped = enc.image(layers[d]) if layers[d] != bdd.false else (bdd.false, set())
        if escaped:   # layers 0 to d are exact; the next one is not: widen and search again
            result.escaped = sorted(escaped)
            return result
        layer = after & ~reached
        reached |= layer
        layers.append(layer)
        result.layers.append(enc.count(layer))
        result.peak_nodes = max(result.peak_nodes, len(reached), len(layer))
        d += 1
    result.states = enc.count(reached)
    if result.fixpoint:
        result.final_reachable = reached & enc.formula(u.final(u.base)) != bdd.false
    return result


def _conditions(enc: Encoding, u: Unrolling, goal: _Goal) -> tuple[list[Node], list[Node]]:
    """A goal's condition on a state (reached there) and on the state before a step that reaches it, each as
    the BDDs of its disjuncts: runtime_safety's is the union of every way a property can be undefined or an
    assert broken, whose BDD is far larger than a layer's intersection with each of them."""
    here: list[Node] = []
    by_step: list[Node] = []
    for frame, term in _condition_parts(u, goal, 1, u.base):
        parts = _disjuncts(term)
        (here if frame == 1 else by_step).extend(enc.formula(part) for part in parts)
    return here, by_step


def _disjuncts(term: z3.BoolRef) -> list[z3.BoolRef]:
    """The disjuncts of a disjunction, nested ones flattened (the term itself otherwise)."""
    if z3.is_or(term):
        return [d for child in term.children() for d in _disjuncts(child)]
    return [term]


def _meets(bdd: Any, states: Node, parts: list[Node]) -> Node:
    """The states of `states` that meet some of `parts` (false when none does)."""
    hits = bdd.false
    for part in parts:
        hits |= states & part
    return hits


def _found(result: BddResult, enc: Encoding, layers: list[Node], goal: _Goal, d: int, hits: Node,
           in_state: bool) -> None:
    """A path to the goal read back from the layers, replayed and recorded (bmc.replay)."""
    last = d if in_state else d - 1
    state = enc.pick(hits)
    moves: list[tuple[Option, list[z3.ExprRef]]] = []
    for f in range(last, 0, -1):
        option, before = enc.predecessor(state, layers[f - 1])
        moves.append((option, enc.values(state)))
        state = before
    moves.reverse()
    replay(result, enc.u, enc.values(state), moves, goal, in_state)


__all__ = ["BddResult", "BddUnavailable", "Encoding", "bdd_search"]
