"""Inductive invariants in the spec's own words, and spec conditions as z3 terms.

PDR's invariant is a formula over state slots (engine/pdr.py). Each of its conjuncts is written in the
expression language of lemmas (docs/proofs.md): shared variables by name (`refs[obj0]`), lock owners as
`held_by(m, creator[net0])` or `locked(m)`, thread positions as `at(creator[net0], "spec.yaml:12", ...)`,
locals as `local(worker, x)`, list items by position (`index(queue, item0) == 0`, `len(queue) <= 1`) and
set members (`item0 in consumed`).
A literal over one slot of a finite domain (a program counter, a lock owner, an element) is written as the
set of values that satisfy it (found by evaluating it on each value the slot can take); a literal mixing
such a slot with integers, as one case per value. The text is parsed back with the expression parser and
compiled again (`compile_condition`), so what is printed is what the plain solver checks: a conjunct that
cannot be written (it reads a wait queue, RCU state, or a local slot two names share) raises `Unwritable`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

import z3
from netcheck.model.lang.errors import NOWHERE, Span
from netcheck.model.lang.expr import Expr, parse_condition
from netcheck.model.lang.parse import lemma_scope
from netcheck.model.lang.types import BoolT, IntT, ListT, RefT, SetT
from netcheck.model.semantics import smtlist
from netcheck.model.semantics.layout import SlotKind, value_type
from netcheck.model.semantics.places import ThreadPlaces, thread_places
from netcheck.model.semantics.system import TransitionSystem

MAX_CASES = 64   # the most value combinations one literal is split into


class Unwritable(ValueError):
    """A conjunct over slots the expression language cannot name (wait queues, RCU state, shared locals)."""


class Writer:
    """Slot formulas of one system written as spec conditions."""

    def __init__(self, system: TransitionSystem, base: Sequence[z3.ExprRef]):
        self.system = system
        self.base = list(base)
        self.index = {c.get_id(): i for i, c in enumerate(self.base)}
        self.places = thread_places(system.threads)
        self.by_pcslot = {p.pcslot: p for p in self.places.values()}
        self.scope = lemma_scope(system.spec)
        names: dict[int, set[str]] = {}   # a local slot -> the local() terms naming it somewhere
        for where in self.places.values():
            for name, uses in where.locals.items():
                if "." in name:   # PROC.NAME: the plain name says the same where one name is all a slot holds
                    continue
                for _, slot in uses:
                    names.setdefault(slot, set()).add(f"local({where.name}, {name})")
        self.local_names = names

    def name_of(self, i: int) -> str:
        """How a condition names slot i: a shared variable by its name, a local as local(THREAD, NAME) when
        one name is all its slot ever holds."""
        slot = self.system.layout.slots[i]
        if slot.kind == SlotKind.LOCAL:
            names = self.local_names.get(i, set())
            if len(names) != 1:
                raise Unwritable(f"local slot {slot.name} holds {len(names)} local variables")
            return next(iter(names))
        return slot.name

    # -- finite domains

    def domain(self, i: int) -> list[int] | None:
        """The values slot i takes in a well-formed state, when it is a position, an owner or an element."""
        slot = self.system.layout.slots[i]
        if slot.kind == SlotKind.PC:
            where = self.by_pcslot[i]
            return sorted({pc for pcs in where.places.values() for pc in pcs} | {where.finished})
        if slot.kind == SlotKind.LOCK_OWNER:
            return list(range(-1, len(self.system.threads)))
        if slot.kind == SlotKind.SHARED and isinstance(slot.type, RefT):
            size = self.system.env.entity_sizes[slot.type.entity]
            return list(range(-1 if slot.type.nullable else 0, size))
        t = value_type(slot)
        if slot.kind == SlotKind.LOCAL and isinstance(t, RefT):
            return list(range(-1, self.system.env.entity_sizes[t.entity]))
        return None

    def slots_of(self, f: z3.ExprRef) -> list[int]:
        out: set[int] = set()
        todo = [f]
        while todo:
            e = todo.pop()
            if z3.is_const(e) and e.decl().kind() == z3.Z3_OP_UNINTERPRETED:
                if e.get_id() not in self.index:
                    raise Unwritable(f"{e} is no state slot")
                out.add(self.index[e.get_id()])
            else:
                todo.extend(e.children())
        return sorted(out)

    def element_list(self, t: z3.ExprRef) -> tuple[int, int] | None:
        """(the slot, the position) when t is item k of a shared list of elements, else None."""
        if not (z3.is_app(t) and t.num_args() == 1 and t.decl().kind() == z3.Z3_OP_DT_ACCESSOR):
            return None
        x = t.arg(0)
        i = self.index.get(x.get_id())
        if i is None or not smtlist.is_list(x):
            return None
        slot = self.system.layout.slots[i]
        if slot.kind != SlotKind.SHARED or not isinstance(slot.type, ListT):
            return None
        items = [x.sort().accessor(0, k + 1).get_id() for k in range(smtlist.capacity(x))]   # field 0: length
        return (i, items.index(t.decl().get_id())) if t.decl().get_id() in items else None

    def items_of(self, f: z3.ExprRef) -> list[z3.ExprRef]:
        """The list items (item k of a shared list of elements) f reads, each once, in a fixed order."""
        found: dict[str, z3.ExprRef] = {}
        todo = [f]
        while todo:
            e = todo.pop()
            if self.element_list(e) is not None:
                found.setdefault(str(e), e)
            elif z3.is_app(e):
                todo.extend(e.children())
        return [found[k] for k in sorted(found)]

    # -- formulas

    def write(self, f: z3.ExprRef) -> str:
        """A boolean formula over the slots as a spec condition."""
        if z3.is_true(f):
            return "true"
        if z3.is_false(f):
            return "false"
        if z3.is_and(f) or z3.is_or(f):
            if self._one_finite_slot(f):   # the set of the slot's values that satisfy it: at(t, "a", "b")
                return self.literal(f)
            op = " and " if z3.is_and(f) else " or "
            items = sorted({self._grouped(c, op) for c in f.children()})
            return op.join(items)
        if z3.is_not(f) and (z3.is_and(f.arg(0)) or z3.is_or(f.arg(0))):
            return f"not ({self.write(f.arg(0))})"
        if z3.is_implies(f):
            return self.write(z3.Or(z3.Not(f.arg(0)), f.arg(1)))
        return self.literal(f)

    def _one_finite_slot(self, f: z3.ExprRef) -> bool:
        try:
            slots = self.slots_of(f)
        except Unwritable:
            return False
        return len(slots) == 1 and self.domain(slots[0]) is not None and not self.items_of(f)

    def _grouped(self, f: z3.ExprRef, op: str) -> str:
        text = self.write(f)
        inner = " or " if op == " and " else " and "
        return f"({text})" if inner in text else text

    def literal(self, f: z3.ExprRef) -> str:
        """An atom or its negation: by its finite-domain slots' values, then integer arithmetic (a sum of
        conditional terms, `(1 if at(t, "spec.yaml:12") else 0)`, as it is: its cases would be too many)."""
        if _conditional(f):
            try:
                return self.arithmetic(f)
            except Unwritable:
                pass
        slots = self.slots_of(f)
        finite: list[z3.ExprRef | int] = [i for i in slots if self.domain(i) is not None]
        finite += self.items_of(f)
        if not finite:
            return self.arithmetic(f)
        domains = [self.domain_of(x) for x in finite]
        combos = list(itertools.product(*domains))
        if len(combos) > MAX_CASES:
            raise Unwritable(f"{f} splits into {len(combos)} cases")
        cases: dict[str, list[tuple[int, ...]]] = {}
        terms = [self.base[x] if isinstance(x, int) else x for x in finite]
        for combo in combos:
            residue = z3.simplify(z3.substitute(f, *[(t, z3.IntVal(v)) for t, v in zip(terms, combo)]))
            cases.setdefault(self.write(residue), []).append(combo)
        if "false" in cases and len(cases) == 2:   # one kind of value makes it true outright, or a residue
            other = next(k for k in cases if k != "false")
            return self._when(finite, cases[other], other)
        parts = [self._when(finite, combos_, text) for text, combos_ in sorted(cases.items()) if text != "false"]
        return " or ".join(f"({p})" if " and " in p or " or " in p else p for p in parts) or "false"

    def domain_of(self, x: z3.ExprRef | int) -> list[int]:
        """The values of a finite-domain slot, or of a list item: an element of the list's entity, or -1
        (past the end)."""
        if isinstance(x, int):
            return self.domain(x) or []
        i, _ = self.element_list(x) or (0, 0)
        slot = self.system.layout.slots[i]
        return list(range(-1, self.system.env.entity_sizes[slot.type.entity]))   # type: ignore[union-attr]

    def _when(self, slots: list, combos: list[tuple[int, ...]], then: str) -> str:
        """`(the slots take one of these value combinations) and then`."""
        if len(slots) == 1:
            cond = self.values(slots[0], {c[0] for c in combos})
        else:
            options = sorted({" and ".join(self.values(i, {v}) for i, v in zip(slots, c)) for c in combos})
            cond = " or ".join(f"({o})" for o in options) if len(options) > 1 else options[0]
        if then == "true":
            return cond
        cond = f"({cond})" if " or " in cond else cond
        then = f"({then})" if " or " in then else then
        return f"{cond} and {then}"

    def values(self, i: z3.ExprRef | int, vals: set[int]) -> str:
        """Slot i (or a list item) has one of `vals` (out of its domain)."""
        if not isinstance(i, int):
            return self.item_values(i, vals)
        domain = self.domain(i) or []
        if set(domain) <= vals:
            return "true"
        slot = self.system.layout.slots[i]
        if slot.kind == SlotKind.PC:
            where = self.by_pcslot[i]
            rest = set(domain) - vals
            if len(where.written(frozenset(rest))) < len(where.written(frozenset(vals))):
                return "not " + _at(where, rest)
            return _at(where, vals)
        if slot.kind == SlotKind.LOCK_OWNER:
            return self._owners(i, vals, set(domain) - vals)
        names = self.system.env.element_names[value_type(slot).entity]   # type: ignore[union-attr]
        shown = [("null" if v == -1 else names[v]) for v in sorted(vals)]
        name = self.name_of(i)
        return f"{name} == {shown[0]}" if len(shown) == 1 else f"{name} in ({', '.join(shown)})"

    def item_values(self, item: z3.ExprRef, vals: set[int]) -> str:
        """Item k of a list is one of `vals`: element e as `index(L, e) == k` (its items are distinct, a
        well-formedness fact), -1 as `len(L) <= k` (past the end)."""
        i, k = self.element_list(item) or (0, 0)
        slot = self.system.layout.slots[i]
        names = self.system.env.element_names[slot.type.entity]   # type: ignore[union-attr]
        if set(self.domain_of(item)) <= vals:
            return "true"
        parts = [f"len({slot.name}) <= {k}" if v == -1 else f"index({slot.name}, {names[v]}) == {k}"
                 for v in sorted(vals)]
        return " or ".join(parts)

    def _owners(self, i: int, vals: set[int], rest: set[int]) -> str:
        slot = self.system.layout.slots[i]
        lock = slot.name.rsplit(".", 1)[0]
        rwsem = self.system.layout.lock_kinds[slot.var] == "rwsem"
        free = "not write_locked" if rwsem else "not locked"
        flip = len(rest) < len(vals)
        chosen = rest if flip else vals
        parts = [f"{free}({lock})" if v == -1 else f"held_by({lock}, {self.system.threads[v].name})"
                 for v in sorted(chosen)]
        text = " or ".join(parts)
        if not flip:
            return text
        if len(parts) == 1:
            return parts[0][4:] if parts[0].startswith("not ") else f"not {parts[0]}"
        return f"not ({text})"

    def arithmetic(self, f: z3.ExprRef) -> str:
        """A comparison of integer terms (or a boolean slot) over shared variables."""
        if z3.is_not(f):
            a = f.arg(0)
            flips = {z3.Z3_OP_LE: ">", z3.Z3_OP_GE: "<", z3.Z3_OP_LT: ">=", z3.Z3_OP_GT: "<=", z3.Z3_OP_EQ: "!="}
            if a.decl().kind() in flips and a.num_args() == 2:
                return f"{self.term(a.arg(0))} {flips[a.decl().kind()]} {self.term(a.arg(1))}"
            return f"not {self.arithmetic(a)}"
        ops = {z3.Z3_OP_LE: "<=", z3.Z3_OP_GE: ">=", z3.Z3_OP_LT: "<", z3.Z3_OP_GT: ">", z3.Z3_OP_EQ: "==",
               z3.Z3_OP_DISTINCT: "!="}
        kind = f.decl().kind()
        if kind in (z3.Z3_OP_EQ, z3.Z3_OP_DISTINCT) and f.num_args() == 2 and z3.is_bv(f.arg(0)):
            return self.sets_compared(f.arg(0), f.arg(1), kind == z3.Z3_OP_EQ)
        if kind in ops and f.num_args() == 2:
            return f"{self.term(f.arg(0))} {ops[kind]} {self.term(f.arg(1))}"
        if z3.is_const(f) and z3.is_bool(f):
            return self.term(f)
        member = self.membership(f)
        if member:
            return member
        raise Unwritable(f"no spec syntax for {f}")

    def sets_compared(self, a: z3.ExprRef, b: z3.ExprRef, equal: bool) -> str:
        """Two sets (bit masks: set slots or constants) equal, or not."""
        if z3.is_bv_value(a):
            a, b = b, a
        if z3.is_app(a) and a.decl().kind() == z3.Z3_OP_EXTRACT and z3.is_bv_value(b):
            hi, lo = a.params()
            text = self._bit(a.arg(0), lo) if hi == lo else ""
            if not text:
                raise Unwritable(f"no spec syntax for the bits {a}")
            return text if (b.as_long() == 1) == equal else f"not {text}"   # one bit of a set: in it, or not
        left, entity = self.set_slot(a)
        if z3.is_bv_value(b):
            mask = b.as_long()
            if mask == 0:
                return f"empty({left})" if equal else f"not empty({left})"
            names = self.system.env.element_names[entity]
            right = "{" + ", ".join(n for k, n in enumerate(names) if mask >> k & 1) + "}"
        else:
            right, _ = self.set_slot(b)
        return f"{left} {'==' if equal else '!='} {right}"

    def set_slot(self, t: z3.ExprRef) -> tuple[str, str]:
        """A set slot: (its name, its entity)."""
        i = self.index.get(t.get_id())
        ty = value_type(self.system.layout.slots[i]) if i is not None else None
        if i is None or not isinstance(ty, SetT):
            raise Unwritable(f"no spec syntax for the set term {t}")
        return self.name_of(i), ty.entity

    def membership(self, f: z3.ExprRef) -> str:
        """Bit k of a set's bit mask (bit2bool, or a one-bit extract equal to 1) as `ELEMENT in SET` ('' when
        f is no such bit)."""
        if z3.is_eq(f) and z3.is_app(f.arg(0)) and f.arg(0).decl().kind() == z3.Z3_OP_EXTRACT and \
                z3.is_bv_value(f.arg(1)) and f.arg(1).as_long() == 1:
            hi, lo = f.arg(0).params()
            return self._bit(f.arg(0).arg(0), lo) if hi == lo else ""
        if not (z3.is_app(f) and f.decl().kind() == z3.Z3_OP_BIT2BOOL and f.num_args() == 1):
            return ""
        return self._bit(f.arg(0), f.decl().params()[0])

    def _bit(self, x: z3.ExprRef, k: int) -> str:
        i = self.index.get(x.get_id())
        if i is None:
            return ""
        ty = value_type(self.system.layout.slots[i])
        if not isinstance(ty, SetT):
            return ""
        return f"{self.system.env.element_names[ty.entity][k]} in {self.name_of(i)}"

    def term(self, t: z3.ExprRef) -> str:
        if z3.is_int_value(t):
            return str(t.as_long())
        if z3.is_app(t) and t.num_args() == 1 and t.decl().kind() == z3.Z3_OP_DT_ACCESSOR and \
                smtlist.is_list(t.arg(0)) and t.decl().get_id() == t.arg(0).sort().accessor(0, 0).get_id():
            i = self.index.get(t.arg(0).get_id(), -1)
            slot = self.system.layout.slots[i] if i >= 0 else None
            if slot is not None and slot.kind == SlotKind.SHARED and isinstance(slot.type, ListT):
                return f"len({slot.name})"
        if z3.is_const(t) and t.get_id() in self.index:
            i = self.index[t.get_id()]
            slot = self.system.layout.slots[i]
            if slot.kind == SlotKind.LOCAL and slot.sort in ("int", "bool"):
                return self.name_of(i)
            if slot.kind != SlotKind.SHARED or not isinstance(slot.type, (IntT, BoolT)):
                raise Unwritable(f"slot {slot.name} ({slot.kind.value}) has no name in the expression language")
            return slot.name
        if z3.is_app(t) and t.decl().kind() == z3.Z3_OP_ITE:
            return f"({self.term(t.arg(1))} if {self.write(t.arg(0))} else {self.term(t.arg(2))})"
        if z3.is_add(t):
            return " + ".join(self.term(c) for c in t.children())
        if z3.is_mul(t) and t.num_args() == 2 and z3.is_int_value(t.arg(0)):
            k = t.arg(0).as_long()
            inner = self.term(t.arg(1))
            if k == -1:
                return f"-{inner}" if " " not in inner else f"-({inner})"
            if 0 < k <= 8:
                return " + ".join([inner] * k)
            if -8 <= k < 0:
                return "-(" + " + ".join([inner] * -k) + ")"
        if z3.is_sub(t):
            return " - ".join(self.term(c) if i == 0 else _paren(self.term(c)) for i, c in enumerate(t.children()))
        raise Unwritable(f"no spec syntax for the term {t}")


def _conditional(f: z3.ExprRef) -> bool:
    """Whether an integer if-then-else occurs in f."""
    todo = [f]
    while todo:
        e = todo.pop()
        if z3.is_app(e) and e.decl().kind() == z3.Z3_OP_ITE and z3.is_int(e):
            return True
        todo.extend(e.children())
    return False


def _paren(text: str) -> str:
    return f"({text})" if " " in text else text


def _at(where: ThreadPlaces, pcs: set[int]) -> str:
    places = ", ".join(f'"{p}"' for p in where.written(frozenset(pcs)))
    return f"at({where.name}, {places})"


def conjuncts_of(f: z3.BoolRef) -> list[z3.BoolRef]:
    """The top-level conjuncts of a formula (nested ands flattened)."""
    todo, out = [f], []
    while todo:
        e = todo.pop()
        if z3.is_and(e):
            todo.extend(reversed(e.children()))
        elif not z3.is_true(e):
            out.append(e)
    return out


def split_invariant(system: TransitionSystem, base: Sequence[z3.ExprRef], invariant: z3.BoolRef
                    ) -> tuple[list[tuple[str, z3.BoolRef]], list[z3.BoolRef]]:
    """Each conjunct of the invariant that can be written in spec syntax, as (text, the conjunct), sorted by
    text (two conjuncts may read the same: the text may say less than the term, a caller that needs the
    same meaning checks it), and those that cannot be written (over state the expression language cannot
    name), as they are."""
    writer = Writer(system, base)
    written, unwritten = [], []
    for c in conjuncts_of(invariant):
        try:
            written.append((writer.write(c), c))
        except Unwritable:
            unwritten.append(c)
    return sorted(written, key=lambda pair: pair[0]), unwritten


def engine_text(term: z3.ExprRef) -> str:
    """A z3 term in z3's notation on one line, each state constant by its slot's name (`exit.pc`,
    `net_namespace_list.deleted_next[net1]`): for facts the spec language cannot write."""
    return re.sub(r"\bs\d+:", "", " ".join(str(term).split()))


def parse_back(system: TransitionSystem, text: str, span: Span = NOWHERE) -> Expr:
    """A condition in lemma syntax, parsed and type-checked against the system's spec (ExprError)."""
    return parse_condition(text, lemma_scope(system.spec), span)


def compile_condition(encoder: object, e: Expr) -> z3.BoolRef:
    """A lemma's z3 meaning over the pre-state constants: defined and true (an undefined one is false).
    PlaceError for an at() place that is no statement of its thread."""
    defined = encoder.defined(e)   # type: ignore[attr-defined]
    return z3.simplify(z3.And(defined, encoder.term(e)))   # type: ignore[attr-defined]


__all__ = ["Unwritable", "Writer", "compile_condition", "conjuncts_of", "engine_text", "parse_back", "split_invariant"]
