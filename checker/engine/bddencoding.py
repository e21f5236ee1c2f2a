"""The spec's state, initial states and steps as BDDs (CUDD, through the `dd` package), for the BDD search
(engine/bdd.py) and its stuck threads (engine/bddstuck.py).

- **States as bits.** Every integer slot is a bit-vector of the width of its interval, through the narrow
  translation of engine/finite.py, so every translated term is its integer value while the slots lie in their
  intervals; terms become BDDs through engine/bitblast.py. Each case knows where it would write a value
  outside a slot's interval (`Encoding._outside`), which the search checks on every layer. A slot left unused
  holds one value, so that a state is one assignment.
- **One relation per visible case** (a partitioned transition relation), kept as conjuncts: its guard and the
  ways the threads it moves settle, and one equality per slot it writes; the others are not in it, so an
  image quantifies and renames only what the case writes, and it conjoins them with the states first
  (`CaseImage`, `Encoding.image`).
"""

from __future__ import annotations

import time
from typing import Any

import z3

from .bitblast import Bits, Blaster, Node
from .bmc import BmcError, Option, Unrolling
from .finite import NarrowTranslator
from .intervals import Bounds, Value, hull
from .verdicts import InternalError


class OutOfTime(Exception):
    """The time given ran out while the relation or a goal's condition was being built."""


class BddUnavailable(BmcError):
    """The `dd` package with CUDD is not installed (pip install 'netcheck[bdd]')."""


def cudd() -> Any:
    try:
        from dd import cudd as module
    except ImportError:
        raise BddUnavailable("the BDD engine needs the dd package built with CUDD: pip install 'netcheck[bdd]'") \
            from None
    return module


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


class CaseImage:
    """One visible case's relation, kept as conjuncts (a partitioned relation): `taken`, its guard and the
    ways the threads it moves settle (over the state before and the ways), and per slot it writes the
    equality of that slot's next bits with its new value. An image conjoins them with the states first,
    so that every intermediate BDD is about those states only, then quantifies `gone` (the written slots'
    bits before, the ways) and renames the next bits to the state's (`rename`)."""

    def __init__(self, option: Option, taken: Node, equalities: list[Node], gone: list[str],
                 rename: dict[str, str], written: list[int], outside: list[tuple[int, Node]]):
        self.option, self.taken, self.equalities = option, taken, equalities
        self.gone, self.rename, self.written, self.outside = gone, rename, written, outside
        self.unrename = {p: n for n, p in rename.items()}   # the written slots' state bits -> their next bits


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

    def _case(self, k: int) -> CaseImage:
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
        return CaseImage(u.visible[k], taken, equalities, gone, rename, written, outside)

    def _outside(self, i: int, value: z3.ExprRef) -> Node | None:
        """Where slot i's new value lies outside the slot's interval (over the state before and the ways) when
        its bounds say it may, and the interval it may take then (`outside`); None when it cannot."""
        term = value if not self.free else z3.substitute(value, *self.free)
        bound = self.translator.bounds(term)
        if _inside(bound, self.slots[i]):
            return None
        self.outside[i] = hull(self.outside.get(i, self.slots[i]), bound)
        return ~self.formula(_within(term, self.slots[i]))

    def _step(self, states: Node, case: CaseImage, escaped: set[int]) -> Node:
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
            self.check_time()   # a layer of a large spec takes long: the deadline is kept between its cases
            step = self._step(states, case, escaped)
            if step != self.bdd.false:
                out |= self.bdd.let(case.rename, step)
        return out, escaped

    def predecessor(self, state: dict[str, bool], layer: Node) -> tuple[Option, dict[str, bool]]:
        """A state of `layer` with a step to `state` (an assignment of the state bits), and that step's case."""
        bdd = self.bdd
        for case in self.cases:
            conj = bdd.cube({case.unrename.get(v, v): value for v, value in state.items()}) & layer & case.taken
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


__all__ = ["BddUnavailable", "CaseImage", "Encoding", "OutOfTime", "cudd"]
