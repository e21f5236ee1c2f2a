"""Bounded model checking on bit-vectors: the relation's z3 terms translated to one width of bit-vectors
and Booleans, for z3's SAT-based finite-domain solver (logic QF_FD, incremental).

The relation (model/semantics/relation.py) speaks integer arithmetic: ints, program counters and elements
are `Int`s, lists are records of `Int` fields (smtlist.py), sets are bit-vectors already. Every value a
state holds is small, so each `Int` becomes a signed bit-vector of `width` bits, a record its fields, and
z3 bit-blasts the unrolling into one SAT problem that grows with the depth instead of a search of the
arithmetic solver (on docs/examples/bugs/exit_batch_rtnl_takes_rtnl.yaml, 16 steps in 45 s where the
integer unrolling did not reach 14 in 120 s).

**Soundness.** The two readings agree on a path as long as no arithmetic on it overflows the width.
Every translated operation that can overflow (+, -, *, negation, division) has an overflow condition,
counted only where the term's value matters (`Translator`); a constant too large widens at once. bmc.py
has the solver watch every step from every frame (`FiniteSolver.watch`: the step with its writes computed
but not made, its selectors free where the path stops before it), and each question is asked as "the
goal, or a watched overflow": unsatisfiable means no path of that length overflows and none reaches the
goal, so none does with unbounded integers either (a path that overflowed first at some step agrees with
the integers up to that step, and then stutters with the overflow condition true). A model counts only
when the goal holds and no overflow condition on its own path does; otherwise the solver widens the
bit-vectors (`GROW` bits more) and asks again. Where bmc.py's interval bounds (engine/intervals.py) show
that no path of the question's length computes a value beyond a width, it says so (`FiniteSolver.exact`):
the question is then asked without the overflow conditions (on register_takes_read's `init_exit_pairing`,
most of each question's cost), each term at the width of its own interval (`NarrowTranslator`: program
counters and flags take a few bits, only an rwsem's packed read counts many), of a fresh solver, which
simplifies the whole problem first (the incremental one keeps every variable for later questions): depth 10
in 39 s, where one width for all took 110 and the overflow questions longer still.
A term it cannot translate (a quantifier, an unknown operator), or values beyond `MAX_WIDTH` bits, raise
`Untranslatable`, and bmc.py uses the integer solver instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeAlias

import z3

from .intervals import Bounds, Value, postorder
from .verdicts import InternalError

START_WIDTH = 8     # bits of a translated Int to begin with (a constant that needs more widens at once)
GROW = 4            # bits added each time an overflow condition is satisfiable
MAX_WIDTH = 64


def asts(terms: list[z3.ExprRef]) -> object:
    """The terms as the C array z3's C API takes (bmc.py's substitutions, `_connective`)."""
    out = (z3.Ast * len(terms))()
    for i, t in enumerate(terms):
        out[i] = t.as_ast()
    return out


def _connective(make: Callable, args: list[z3.ExprRef]) -> z3.BoolRef:
    """A conjunction or disjunction (`make`: z3's C constructor) of Booleans, through the C API: the Python
    wrapper casts and checks every argument's sort, which dominated translating a step's wide ones."""
    ctx = args[0].ctx
    return z3.BoolRef(make(ctx.ref(), len(args), asts(args)), ctx)


# operators whose arguments may change sort (Int to bit-vector): made again from the translated arguments
_GENERIC = {
    z3.Z3_OP_EQ: lambda a: a[0] == a[1],
    z3.Z3_OP_DISTINCT: lambda a: z3.Distinct(*a),
    z3.Z3_OP_ITE: lambda a: z3.If(a[0], a[1], a[2]),
    z3.Z3_OP_AND: lambda a: _connective(z3.z3core.Z3_mk_and, a) if a else z3.BoolVal(True),
    z3.Z3_OP_OR: lambda a: _connective(z3.z3core.Z3_mk_or, a) if a else z3.BoolVal(False),
    z3.Z3_OP_NOT: lambda a: z3.Not(a[0]),
    z3.Z3_OP_IMPLIES: lambda a: z3.Implies(a[0], a[1]),
    z3.Z3_OP_XOR: lambda a: z3.Xor(a[0], a[1]),
}


class Untranslatable(ValueError):
    """A term the bit-vector translation does not cover."""


class _TooNarrow(Exception):
    """The width cannot hold a constant (or a set) of the formula: `need` bits would."""

    def __init__(self, need: int):
        super().__init__(need)
        self.need = need


Translated: TypeAlias = "z3.ExprRef | list[z3.ExprRef]"   # a record: its fields


def _signed_bits(value: int) -> int:
    """Bits of a two's-complement number that holds `value`."""
    return (value if value >= 0 else ~value).bit_length() + 1


class Translator:
    """Terms over Int, list records, bit-vectors and Booleans as terms of one bit-vector width, each with its
    overflow condition (`overflow`): when one of its operations overflows where the term's value matters.
    The branch an if-then-else does not take, and the consequent of a false implication, do not matter (a
    case the step does not select, a slot left unused: values nobody reads may be anything)."""

    checked = True   # operations record overflow conditions (NarrowTranslator's cannot overflow)

    def __init__(self, width: int):
        self.width = width
        self.memo: dict[int, tuple[Translated, z3.BoolRef | None]] = {}
        self.kept: list[z3.ExprRef] = []          # the terms memo's AST ids belong to, kept alive
        self._own: list[z3.BoolRef] = []          # the overflow conditions of the operation being translated

    def formula(self, f: z3.BoolRef) -> tuple[z3.BoolRef, z3.BoolRef | None]:
        """The translated formula and its overflow condition (None: it cannot overflow)."""
        out = self(f)
        assert isinstance(out, z3.BoolRef)
        return out, self.overflow(f)

    def seed(self, term: z3.ExprRef, template: z3.ExprRef, src: list[z3.ExprRef], dst: list[z3.ExprRef]) -> None:
        """Translate `term`, which is `template` with the constants `src` replaced by `dst`, by translating the
        template once and replacing the translated constants (translation commutes with renaming constants):
        one substitution per frame instead of a walk over the whole step."""
        key = term.get_id()
        if key in self.memo:
            return
        translated, overflow = self(template), self.overflow(template)
        pairs: list[tuple[z3.ExprRef, z3.ExprRef]] = []
        for a, b in zip(src, dst):
            ta, tb = self(a), self(b)
            for x, y in zip(ta, tb) if isinstance(ta, list) else [(ta, tb)]:   # type: ignore[arg-type]
                if not x.eq(y):
                    pairs.append((x, y))
        self.memo[key] = (z3.substitute(translated, *pairs) if pairs else translated,
                          z3.substitute(overflow, *pairs) if pairs and overflow is not None else overflow)
        self.kept.append(term)

    def overflow(self, e: z3.ExprRef) -> z3.BoolRef | None:
        self(e)
        return self.memo[e.get_id()][1]

    def __call__(self, e: z3.ExprRef) -> Translated:
        hit = self.memo.get(e.get_id())
        if hit is None:
            self._translate_all(e)
            hit = self.memo[e.get_id()]
        return hit[0]

    def _translate_all(self, root: z3.ExprRef) -> None:
        """Translate `root` and every subterm not yet translated, children first (`postorder`)."""
        memo = self.memo
        for e, children in postorder(root, memo):
            key = e.get_id()
            self._own = []
            term = self._translate(e, children)     # its children are translated: memo hits, no recursion
            memo[key] = (term, self._combine(e, children, self._own))
            self.kept.append(e)

    def _combine(self, e: z3.ExprRef, kids: list[z3.ExprRef], own: list[z3.BoolRef]) -> z3.BoolRef | None:
        """A term's overflow condition: its own operation's, or a child's where that child matters."""
        overflows = [self.memo[c.get_id()][1] for c in kids]
        kind = e.decl().kind() if z3.is_app(e) else None
        parts = list(own)
        if kind in (z3.Z3_OP_AND, z3.Z3_OP_OR) and any(o is not None for o in overflows):
            # the value differs only if a child's may, and no child whose value is certain decides it alone
            # (a false conjunct, a true disjunct)
            values = [self(c) for c in kids]
            decides = (lambda v: v) if kind == z3.Z3_OP_AND else z3.Not
            parts.append(z3.And(z3.Or(*[o for o in overflows if o is not None]),
                                *[decides(v) if o is None else z3.Or(decides(v), o)
                                  for v, o in zip(values, overflows)]))
        elif kind == z3.Z3_OP_ITE and kids:
            cond = self(kids[0])
            parts.append(overflows[0])
            if overflows[1] is not None:
                parts.append(z3.And(cond, overflows[1]))
            if overflows[2] is not None:
                parts.append(z3.And(z3.Not(cond), overflows[2]))
        elif kind == z3.Z3_OP_IMPLIES:
            parts.append(overflows[0])
            if overflows[1] is not None:
                parts.append(z3.And(self(kids[0]), overflows[1]))
        else:
            parts += overflows
        parts = [p for p in parts if p is not None]
        return z3.Or(*parts) if len(parts) > 1 else parts[0] if parts else None

    # -- widths

    def _bits(self, e: z3.ExprRef) -> int:
        """The width of an Int term's translation."""
        return self.width

    def _field_bits(self, e: z3.ExprRef) -> list[int]:
        """The widths of a record term's fields."""
        return [self.width] * len(self._fields(e.sort()))

    @staticmethod
    def _fit(t: z3.ExprRef, bits: int) -> z3.ExprRef:
        """A translated Int at `bits` bits: sign-extended, or its low bits (exact where the value fits, and in
        the ring operations, which are exact modulo 2^bits)."""
        size = t.size()   # type: ignore[attr-defined]
        return t if size == bits else z3.SignExt(bits - size, t) if size < bits else z3.Extract(bits - 1, 0, t)

    def _common(self, args: list[z3.ExprRef]) -> list[z3.ExprRef]:
        """Translated Ints at the widest of their widths (to be compared)."""
        if not all(z3.is_bv(a) for a in args):
            return args
        bits = max(a.size() for a in args)   # type: ignore[attr-defined]
        return [self._fit(a, bits) for a in args]

    # -- leaves

    def _int(self, value: int, e: z3.ExprRef) -> z3.BitVecRef:
        if _signed_bits(value) > self.width:
            raise _TooNarrow(_signed_bits(value))
        return z3.BitVecVal(value, self.width)

    def _const(self, e: z3.ExprRef) -> Translated:
        name, sort = e.decl().name(), e.sort()
        if sort.kind() == z3.Z3_INT_SORT:
            return z3.BitVec(name, self._bits(e))
        if sort.kind() == z3.Z3_DATATYPE_SORT:
            return [z3.BitVec(f"{name}.{k}", bits) for k, bits in enumerate(self._field_bits(e))]
        if sort.kind() in (z3.Z3_BOOL_SORT, z3.Z3_BV_SORT):
            return e
        raise Untranslatable(f"a constant of sort {sort}")

    @staticmethod
    def _fields(sort: z3.SortRef) -> list[z3.FuncDeclRef]:
        assert isinstance(sort, z3.DatatypeSortRef)
        if sort.num_constructors() != 1:
            raise Untranslatable(f"the datatype {sort} (one record constructor only)")
        cons = sort.constructor(0)
        for k in range(cons.arity()):
            if cons.domain(k).kind() != z3.Z3_INT_SORT:
                raise Untranslatable(f"the datatype {sort} (Int fields only)")
        return [sort.accessor(0, k) for k in range(cons.arity())]

    # -- operations

    def _translate(self, e: z3.ExprRef, children: list[z3.ExprRef]) -> Translated:
        if z3.is_int_value(e):
            return self._int(e.as_long(), e)
        if z3.is_const(e) and e.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            return self._const(e)
        if z3.is_quantifier(e) or z3.is_var(e):
            raise Untranslatable("a quantifier")
        kind = e.decl().kind()
        args = [self(c) for c in children]
        sort = e.sort()
        if sort.kind() == z3.Z3_DATATYPE_SORT:
            bits = self._field_bits(e)
            if kind == z3.Z3_OP_DT_CONSTRUCTOR:
                return [self._fit(self._scalar(a), w) for a, w in zip(args, bits)]
            if kind == z3.Z3_OP_ITE:
                c, a, b = args
                return [z3.If(c, self._fit(x, w), self._fit(y, w))   # type: ignore[arg-type]
                        for x, y, w in zip(self._record(a), self._record(b), bits)]
            raise Untranslatable(f"the record operation {e.decl()}")
        if kind == z3.Z3_OP_DT_ACCESSOR:
            fields = self._fields(children[0].sort())
            index = next(k for k, f in enumerate(fields) if f.eq(e.decl()))
            return self._record(args[0])[index]
        if kind in (z3.Z3_OP_EQ, z3.Z3_OP_DISTINCT) and isinstance(args[0], list):
            pairs = [z3.And(*[x == y for x, y in map(self._common, map(list, zip(self._record(a), self._record(b))))])
                     for i, a in enumerate(args) for b in args[i + 1:]]
            return z3.And(*pairs) if kind == z3.Z3_OP_EQ else z3.Not(z3.Or(*pairs))
        scalars = [self._scalar(a) for a in args]
        arith = self._arith(kind, scalars, e)
        if arith is not None:
            return arith
        if all(a.eq(c) for a, c in zip(scalars, children)):
            return e       # nothing of Int inside: Booleans, sets, cardinality constraints
        generic = _GENERIC.get(kind)
        if generic is not None:
            if kind in (z3.Z3_OP_EQ, z3.Z3_OP_DISTINCT):
                scalars = self._common(scalars)
            elif kind == z3.Z3_OP_ITE and sort.kind() == z3.Z3_INT_SORT:
                scalars = [scalars[0], *[self._fit(b, self._bits(e)) for b in scalars[1:]]]
            return generic(scalars)
        if sort.kind() in (z3.Z3_BOOL_SORT, z3.Z3_BV_SORT) and all(a.sort().eq(c.sort())
                                                                  for a, c in zip(scalars, children)):
            return e.decl()(*scalars)
        raise Untranslatable(f"the operation {e.decl()}")

    @staticmethod
    def _scalar(t: Translated) -> z3.ExprRef:
        if isinstance(t, list):
            raise Untranslatable("a record where a scalar belongs")
        return t

    @staticmethod
    def _record(t: Translated) -> list[z3.ExprRef]:
        if not isinstance(t, list):
            raise Untranslatable("a scalar where a record belongs")
        return t

    def _overflow(self, *conds: z3.BoolRef) -> None:
        if self.checked:
            self._own.extend(conds)

    def _arith(self, kind: int, a: list[z3.ExprRef], e: z3.ExprRef) -> z3.ExprRef | None:
        """The bit-vector form of an integer operation (its overflow conditions recorded), or None when
        `kind` is no integer operation."""
        if kind in (z3.Z3_OP_ADD, z3.Z3_OP_SUB, z3.Z3_OP_MUL, z3.Z3_OP_UMINUS, z3.Z3_OP_BV2INT):
            w = self._bits(e)
            a = [self._fit(x, w) for x in a] if kind != z3.Z3_OP_BV2INT else a
        elif kind in (z3.Z3_OP_IDIV, z3.Z3_OP_MOD, z3.Z3_OP_LE, z3.Z3_OP_LT, z3.Z3_OP_GE, z3.Z3_OP_GT):
            a = self._common(a)
            w = a[0].size() if z3.is_bv(a[0]) else self.width   # type: ignore[attr-defined]
        else:
            w = self.width
        if kind == z3.Z3_OP_ADD:
            out = a[0]
            for b in a[1:]:
                self._overflow(z3.Not(z3.BVAddNoOverflow(out, b, True)), z3.Not(z3.BVAddNoUnderflow(out, b)))
                out = out + b
            return out
        if kind == z3.Z3_OP_SUB:
            out = a[0]
            for b in a[1:]:
                self._overflow(z3.Not(z3.BVSubNoOverflow(out, b)), z3.Not(z3.BVSubNoUnderflow(out, b, True)))
                out = out - b
            return out
        if kind == z3.Z3_OP_MUL:
            out = a[0]
            for b in a[1:]:
                self._overflow(z3.Not(z3.BVMulNoOverflow(out, b, True)), z3.Not(z3.BVMulNoUnderflow(out, b)))
                out = out * b
            return out
        if kind == z3.Z3_OP_UMINUS:
            self._overflow(a[0] == z3.BitVecVal(-(1 << (w - 1)), w))
            return -a[0]
        if kind in (z3.Z3_OP_IDIV, z3.Z3_OP_MOD):
            # SMT-LIB's integer division is Euclidean: the remainder is never negative
            x, y = self._division_operands(a[0], a[1])
            r = z3.SRem(x, y)
            r = z3.If(r < 0, z3.If(y < 0, r - y, r + y), r)
            if kind == z3.Z3_OP_MOD:
                return self._fit(r, self._bits(e))
            self._overflow(z3.Not(z3.BVSDivNoOverflow(x, y)))
            return self._fit((x - r) / y, self._bits(e))
        if kind == z3.Z3_OP_LE:
            return a[0] <= a[1]
        if kind == z3.Z3_OP_LT:
            return a[0] < a[1]
        if kind == z3.Z3_OP_GE:
            return a[0] >= a[1]
        if kind == z3.Z3_OP_GT:
            return a[0] > a[1]
        if kind == z3.Z3_OP_BV2INT:
            size = a[0].size()
            if size + 1 > w:
                raise _TooNarrow(size + 1)
            return z3.ZeroExt(w - size, a[0]) if size < w else a[0]
        if kind == z3.Z3_OP_INT2BV:
            size, w = e.sort().size(), a[0].size()
            return z3.Extract(size - 1, 0, a[0]) if size <= w else z3.SignExt(size - w, a[0])
        if kind in (z3.Z3_OP_TO_REAL, z3.Z3_OP_TO_INT, z3.Z3_OP_REM, z3.Z3_OP_DIV, z3.Z3_OP_POWER, z3.Z3_OP_ABS):
            raise Untranslatable(f"the operation {e.decl()}")
        return None

    def _division_operands(self, x: z3.ExprRef, y: z3.ExprRef) -> tuple[z3.ExprRef, z3.ExprRef]:
        """The operands of a Euclidean division, at the width its intermediates need (`r + y`, `x - r`)."""
        return x, y

    # -- reading a model back

    def value(self, model: z3.ModelRef, term: z3.ExprRef) -> z3.ExprRef:
        """`term`'s value in a model of the translation, as a value of the term's own sort."""
        t = self(term)
        sort = term.sort()
        if sort.kind() == z3.Z3_INT_SORT:
            return z3.IntVal(self._number(model, self._scalar(t)))
        if sort.kind() == z3.Z3_DATATYPE_SORT:
            assert isinstance(sort, z3.DatatypeSortRef)
            return sort.constructor(0)(*[z3.IntVal(self._number(model, f)) for f in self._record(t)])
        return model.eval(self._scalar(t), model_completion=True)

    @staticmethod
    def _number(model: z3.ModelRef, bv: z3.ExprRef) -> int:
        v = model.eval(bv, model_completion=True)
        assert isinstance(v, z3.BitVecNumRef)
        return v.as_signed_long()


class NarrowTranslator(Translator):
    """Each Int term at the width of its own interval (engine/intervals.py, under `env`: every constant's
    bounds), and no overflow conditions: where every constant lies in its interval, every term's
    translation is its integer value. Program counters, flags and indices then take a few bits each, and
    only the terms that need many (an rwsem's packed read counts) have them: a smaller SAT problem than
    one width for all. A term with no bounds: Untranslatable."""

    checked = False

    def __init__(self, env: Mapping[int, Value]):
        super().__init__(0)
        self.bounds = Bounds(env)

    def _interval(self, e: z3.ExprRef) -> Value:
        value = self.bounds.memo.get(e.get_id()) if e.get_id() in self.bounds.memo else self.bounds(e)
        if value is None:
            raise Untranslatable(f"a term with no interval bounds: {str(e)[:80]}")
        return value

    def _bits(self, e: z3.ExprRef) -> int:
        value = self._interval(e)
        if not isinstance(value, tuple):
            raise Untranslatable("a record where an integer belongs")
        return max(map(_signed_bits, value))

    def _field_bits(self, e: z3.ExprRef) -> list[int]:
        value = self._interval(e)
        if not isinstance(value, list):
            raise Untranslatable("an integer where a record belongs")
        return [max(map(_signed_bits, field)) for field in value]

    def _int(self, value: int, e: z3.ExprRef) -> z3.BitVecRef:
        return z3.BitVecVal(value, _signed_bits(value))

    def _division_operands(self, x: z3.ExprRef, y: z3.ExprRef) -> tuple[z3.ExprRef, z3.ExprRef]:
        bits = max(x.size(), y.size()) + 2   # type: ignore[attr-defined]
        return self._fit(x, bits), self._fit(y, bits)


def _within_bounds(narrow: NarrowTranslator, model: z3.ModelRef) -> None:
    """Every constant of a model of a narrow translation lies in its interval, which is what makes each term's
    translation its integer value; one outside would make the bounds wrong: an internal error."""
    for key, bound in narrow.bounds.env.items():
        hit = narrow.memo.get(key)
        if hit is None or bound is None:
            continue
        translated = hit[0]
        pairs = zip(translated, bound) if isinstance(translated, list) and isinstance(bound, list) else \
            [(translated, bound)]
        for term, interval in pairs:
            if not z3.is_bv(term) or not isinstance(interval, tuple):
                continue
            value = model.eval(term, model_completion=True)
            assert isinstance(value, z3.BitVecNumRef)
            if not interval[0] <= value.as_signed_long() <= interval[1]:
                raise InternalError(f"bounded model checking: {term} = {value.as_signed_long()} in a model, outside "
                                    f"its interval bounds {interval}")


class FiniteModel:
    """A model of the translated problem, read in the original terms (what bmc.py evaluates)."""

    def __init__(self, model: z3.ModelRef, translator: Translator):
        self.model, self.translator = model, translator

    def eval(self, term: z3.ExprRef, model_completion: bool = True) -> z3.ExprRef:
        return self.translator.value(self.model, term)


class FiniteSolver:
    """An incremental solver with z3.Solver's interface over the translation, for bmc.py's unrolling: the
    formulas added outside any push are the constraints; after a push, the ones added are the question, which
    `check` asks together with the overflows not yet ruled out (the module's docstring). Every formula is kept,
    and translated at one width only when a question needs it (`_sync`: the narrow translation answers most
    questions of its own), so that a wider translation can be made from them too."""

    def __init__(self, timeout_ms: int = 0, width: int = START_WIDTH):
        self.timeout_ms = timeout_ms
        self.levels: list[list[z3.BoolRef]] = [[]]
        self.facts: list[z3.BoolRef] = []
        self.watched: list[z3.BoolRef] = []
        self.seeds: list[tuple[z3.ExprRef, z3.ExprRef, list[z3.ExprRef], list[z3.ExprRef]]] = []
        self.width = width
        self._rebuild()

    def _rebuild(self) -> None:
        """The translation at `self.width`, made again from nothing (widening while a constant does not fit)."""
        self.translator = Translator(self.width)
        self.solver = self._asking = z3.SolverFor("QF_FD")
        if self.timeout_ms:
            self.solver.set("timeout", self.timeout_ms)
        self.pending: list[z3.BoolRef] = []
        self.terms: list[z3.BoolRef] = []     # the constraints translated (for `_check_exact`)
        self.checks: list[z3.BoolRef] = []   # per constraint, when its value may be wrong
        self._synced = (0, 0, 0)              # the seeds, constraints and watched formulas translated so far

    def _sync(self) -> None:
        """Translate at one width what was added since the last time (the seeds first: a constraint's step is
        a seed's renaming); made lazily, only for a question the narrow translation does not answer."""
        while True:
            try:
                seeds, constraints, watched = self._synced
                for seed in self.seeds[seeds:]:
                    self.translator.seed(*seed)
                for f in self.levels[0][constraints:]:
                    self._constraint(f)
                for f in self.watched[max(watched, self._ruled_out):]:
                    self._watch(f)
                self._synced = (len(self.seeds), len(self.levels[0]), len(self.watched))
                return
            except _TooNarrow as narrow:
                self._widen(narrow.need)
                self._rebuild()

    def _widen(self, need: int = 0) -> None:
        width = max(self.width + GROW, need)
        if width > MAX_WIDTH:
            raise Untranslatable(f"values need more than {MAX_WIDTH} bits")
        self.width = width

    def set(self, key: str, value: object) -> None:
        if key == "timeout":
            self.timeout_ms = int(value)   # type: ignore[call-overload]
        self.solver.set(key, value)

    def add(self, *formulas: z3.BoolRef) -> None:
        """Keep the formulas (a constraint is translated when a question needs the one-width translation)."""
        self.levels[-1].extend(formulas)

    def _constraint(self, f: z3.BoolRef) -> None:
        term, overflow = self.translator.formula(f)
        self.solver.add(term)
        self.terms.append(term)
        if overflow is not None:
            self.checks.append(overflow)

    def instance(self, term: z3.ExprRef, template: z3.ExprRef, src: list[z3.ExprRef], dst: list[z3.ExprRef]) -> None:
        """`term` is `template` with the constants `src` renamed `dst` (bmc.py: a step of the unrolling): its
        translation is the template's, renamed (`Translator.seed`)."""
        self.seeds.append((term, template, src, dst))

    def watch(self, f: z3.BoolRef) -> None:
        """A formula whose overflow must be ruled out under the constraints before an answer counts (bmc.py:
        any step from a frame, its values computed), not itself a constraint."""
        self.watched.append(f)

    def _watch(self, f: z3.BoolRef) -> None:
        overflow = self.translator.overflow(f)
        if overflow is not None:
            self.pending.append(overflow)

    def fact(self, *formulas: z3.BoolRef) -> None:
        """Formulas true of every path (bmc.py: no shorter path reaches a goal), which only prune: the narrow
        translation, exact by its bounds, adds them; the one-width translation, whose terms may overflow,
        leaves them out."""
        self.facts.extend(formulas)

    def push(self) -> None:
        self.levels.append([])

    def pop(self) -> None:
        if len(self.levels) == 1:
            raise z3.Z3Exception("pop without a push")
        if self._asked:
            self.solver.pop()
            self._asked = False
        self.levels.pop()

    _asked = False      # the question's scope is open in the inner solver
    _ruled_out = 0      # the watched formulas before this one overflow on no path within the constraints' depth
    _exact: int | None = None
    _env: Mapping[int, Value] | None = None

    def exact(self, bits: int | None, env: Mapping[int, Value] | None = None) -> None:
        """Every integer the next question computes, on any path, fits `bits` signed bits (bmc.py's interval
        bounds, engine/intervals.py): it is asked without the overflow conditions, each term at the width of
        its own interval when `env` (every constant's bounds) is given (`NarrowTranslator`), else at one
        width at least `bits`. None (or more bits than `MAX_WIDTH`): not known, so they are asked."""
        self._exact = bits if bits is not None and bits <= MAX_WIDTH else None
        self._env = env if self._exact is not None else None

    def check(self) -> z3.CheckSatResult:
        """Whether the constraints and the question (every formula added since the push) hold together: sat
        only with a model in which no operation overflows; unsat only when no overflow is reachable either."""
        if len(self.levels) > 2:
            raise z3.Z3Exception("the finite-domain solver asks one question at a time (one push)")
        question = [f for level in self.levels[1:] for f in level]
        if self._env is not None:
            answer = self._check_narrow(question)
            if answer is not None:
                return answer
        while True:
            if self._asked:
                self.solver.pop()
                self._asked = False
            try:
                self._sync()
                asked = [self.translator.formula(f) for f in question]
                goal = [term for term, _ in asked]
                overflows = self.pending + [o for _, o in asked if o is not None]
            except _TooNarrow as narrow:
                self._widen(narrow.need)
                self._rebuild()
                continue
            if self._exact is not None:
                if self._exact > self.width:
                    self._widen(self._exact)
                    self._rebuild()
                    continue
                return self._check_exact(goal, [o for _, o in asked if o is not None])
            self._asking = self.solver
            self.solver.push()
            self._asked = True
            self.solver.add(z3.Or(z3.And(*goal), *overflows))
            answer = self.solver.check()
            if answer == z3.unsat:
                self._rule_out()
                return answer
            self.pending = overflows   # not ruled out: asked again with the next question
            if answer == z3.sat:
                model = self.solver.model()
                path = self.checks + [o for _, o in asked if o is not None]   # on the model's own path
                if z3.is_true(model.eval(z3.And(*goal), model_completion=True)) and \
                        not any(z3.is_true(model.eval(o, model_completion=True)) for o in path):
                    self._model, self._reader = model, None
                    return answer
                self.solver.pop()
                self._asked = False
                self._widen()
                self._rebuild()
                continue
            return answer

    def _rule_out(self) -> None:
        """No overflow is reachable within the constraints' depth: none of the watched formulas so far need
        asking again."""
        self.pending = []
        self._ruled_out = len(self.watched)

    def _check_exact(self, goal: list[z3.BoolRef], overflows: list[z3.BoolRef]) -> z3.CheckSatResult:
        """The question with no overflow possible (`exact`): asked of a solver of its own, which may simplify
        the whole problem before solving (the module's docstring). A model with an overflow on its
        path (the steps' or the question's own) would make the bounds wrong: an internal error."""
        solver = self._asking = z3.SolverFor("QF_FD")
        if self.timeout_ms:
            solver.set("timeout", self.timeout_ms)
        solver.add(*self.terms, *goal)
        answer = solver.check()
        if answer != z3.unknown:
            self._rule_out()
        if answer == z3.sat:
            model = solver.model()
            if any(z3.is_true(model.eval(o, model_completion=True)) for o in self.checks + overflows):
                raise InternalError("bounded model checking: an operation overflows on a path where the interval "
                                    "bounds say none can")
            self._model, self._reader = model, None
        return answer

    def _check_narrow(self, question: list[z3.BoolRef]) -> z3.CheckSatResult | None:
        """The question with every term at its own width (`NarrowTranslator`), asked of a solver of its own;
        None where a term has no bounds (the caller asks at one width). The translation is kept for the next
        question while the constants it has seen keep their bounds (the frames' bounds settle after a few)."""
        env = self._env or {}
        narrow = self._narrow
        if narrow is None or any(env.get(k) != v for k, v in narrow.bounds.env.items()):
            narrow = self._narrow = NarrowTranslator(env)
        narrow.bounds.env = env
        try:
            for seed in self.seeds:
                narrow.seed(*seed)
            terms = [narrow(f) for f in [*self.levels[0], *question]]
        except Untranslatable:
            self._narrow = None   # its memo holds the term with no bounds
            return None
        terms += self._narrow_facts(narrow)
        solver = self._asking = z3.SolverFor("QF_FD")
        if self.timeout_ms:
            solver.set("timeout", self.timeout_ms)
        solver.add(*terms)
        answer = solver.check()
        if answer != z3.unknown:
            self._rule_out()
        if answer == z3.sat:
            self._model, self._reader = solver.model(), narrow
            _within_bounds(narrow, self._model)
        return answer

    def _narrow_facts(self, narrow: NarrowTranslator) -> list[z3.ExprRef]:
        """The facts, translated; one with no bounds (over frames already bounded: it stays so) is left out from
        now on, which only prunes less."""
        kept, terms = [], []
        for f in self.facts:
            try:
                terms.append(narrow(f))
                kept.append(f)
            except Untranslatable:
                continue
        self.facts = kept
        return terms

    _reader: Translator | None = None   # the translation the model is of, when not `translator`
    _narrow: NarrowTranslator | None = None

    def model(self) -> FiniteModel:
        return FiniteModel(self._model, self._reader or self.translator)

    def reason_unknown(self) -> str:
        return self._asking.reason_unknown()


