"""A compiled spec as a Promela model for SPIN: one SPIN state per netcheck state, from the same IR.

The translation is a third compilation of the IR (ir.py) and the lock and RCU rules (actions.py), next
to runtime.py and relation.py, and mirrors relation.py case by case. The state vector becomes one global
per slot (a short where its values fit 16 bits), its values encoded as the explorer holds them: ints, -1
for null, set bitmasks, 0/1 for bools, `NONE` (-SHORT - 1 in a short) for an unused local; a list (or an
rwsem wait queue) is one number, its elements (plus one) as digits of a base larger than any element, so
equal lists are equal numbers. One process runs every thread: its loop offers, per thread and visible
program point, one `atomic` option (the step, its fatal-signal exit) whose guard is "not blocked"; the
option runs the step, the eager settling of the thread's invisible nodes and of the threads an rwsem
release grants the lock, then returns to the loop head. SPIN stores no state inside an atomic sequence,
so its stored states are netcheck's states.

Violations are assertions on hidden constants named after the property (`V_<property>`); an
invariant is checked by an option enabled where it is false; a state with no step where every thread
is finished or idle (SPIN's `timeout`) checks the final properties; any other state with no step is an
invalid end state, SPIN's deadlock. With several initial states (or violations while computing them),
the first step chooses one, so SPIN stores one state more (`extra_states`). Temporaries are globals
zeroed at the end of every option, so they add no states. A construct with no faithful translation
raises `PromelaError` naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..lang.expr import Expr, Local, Shared
from ..lang.lockapi import LOCK_API, RCU_LIST_OPS
from ..lang.types import BoolT, EnumT, IntT, RefT, SetT
from . import ir
from .actions import Effect, Rule, Test, Then, lock_rules, rcu_rules
from .contexts import MAX_BH_DEPTH, Irq
from .counters import CEffect, CTest, counter_rules, high
from .layout import SlotKind, free_checks, ghost_slots, wait_queue_slots
from .locks import MAX_READ_DEPTH, READ_BITS
from .promela_expr import Encoding, Exprs, Lists, PromelaError, all_of, any_of, is_list_slot, negate, var
from .runtime import HEAD_IDLE, HEAD_PENDING, HEAD_REQUEUED
from .system import TransitionSystem
from .waitqueues import WEffect, WTest, WThen, exclusive_bit, wait_rules

NONE = -1_000_000_007           # an unused local slot (the explorer's None): no int range reaches it
SHORT = 32_767                  # a slot whose values stay within +-SHORT is a Promela short (-SHORT - 1: unused)
RUNTIME, DISCIPLINE = "runtime_safety", "lock_discipline"
TEMPS = ("g_self", "g_woken", "g_q", "g_rest", "g_mult", "g_e", "g_taking")


@dataclass(frozen=True)
class Go:
    """The step goes on: these statements (they set the program counter)."""

    code: tuple[str, ...]


@dataclass(frozen=True)
class Violate:
    prop: str


@dataclass(frozen=True)
class Block:
    """No step."""


@dataclass(frozen=True)
class Ordered:
    """The first case whose condition holds applies, else `otherwise`."""

    cases: tuple[tuple[str, Tree], ...]
    otherwise: Tree


Tree = Go | Violate | Block | Ordered


def ordered(cases: Sequence[tuple[str, Tree]], otherwise: Tree) -> Tree:
    """An `Ordered` without conditions that are constant false (and stopping at constant true)."""
    kept: list[tuple[str, Tree]] = []
    for cond, tree in cases:
        if cond == "0":
            continue
        if cond == "1":
            return Ordered(tuple(kept), tree) if kept else tree
        kept.append((cond, tree))
    return Ordered(tuple(kept), otherwise) if kept else otherwise


def blocked(tree: Tree) -> str:
    """When the tree leads to no step, as a Promela condition ("0": never)."""
    if isinstance(tree, Block):
        return "1"
    if not isinstance(tree, Ordered):
        return "0"
    out = blocked(tree.otherwise)
    for cond, sub in reversed(tree.cases):
        inner = blocked(sub)
        if inner == "0" and out == "0":
            continue
        out = f"(({cond}) -> {inner} : {out})"
    return out


def code(tree: Tree, indent: str) -> list[str]:
    """The statements of a tree, one a line, separated by `;` (a Block leaf is never reached: the
    guard of the step excludes it)."""
    if isinstance(tree, Go):
        return [indent + c + (";" if i < len(tree.code) - 1 else "") for i, c in enumerate(tree.code)]
    if isinstance(tree, Violate):
        return [f"{indent}assert(V_{tree.prop}); goto DONE"]
    if isinstance(tree, Block):
        return [f"{indent}assert(0)   /* unreachable: blocked */"]
    cond, sub = tree.cases[0]
    rest = Ordered(tree.cases[1:], tree.otherwise) if len(tree.cases) > 1 else tree.otherwise
    return [f"{indent}if", f"{indent}:: ({cond}) ->", *code(sub, indent + "   "), f"{indent}:: else ->",
            *code(rest, indent + "   "), f"{indent}fi"]


class Model:
    """The Promela text of one transition system."""

    def __init__(self, system: TransitionSystem):
        self.system = system
        self.enc = Encoding(system)
        self.queues = Lists(self.enc.queue_base, self.enc.queue_cap)
        # the magnitude an int local (an int, an enum index, an element) reaches: every write is range checked
        self.int_local_bound: int | None = max([1, *system.env.entity_sizes.values(),
                                                *(len(values) for values in system.enums.values())])
        for thread in system.threads:
            for node in thread.nodes:
                for place in node.writes if isinstance(node, ir.Assign) else ():
                    t = place.type
                    if not isinstance(t, IntT):
                        continue
                    if t.lo is None or t.hi is None or max(-t.lo, t.hi) >= 2 ** 29:
                        raise PromelaError(f"the int range {t} (Promela ints are 32 bits, {NONE} marks unused)")
                    if isinstance(place.target, Local) and self.int_local_bound is not None:
                        self.int_local_bound = max(self.int_local_bound, -t.lo, t.hi)
        self.props: set[str] = {RUNTIME, DISCIPLINE}
        # the values the globals start with: the initial state (the first one, when there are several)
        self.start = system.initial_states[0] if system.initial_states else system.base_state
        self.temps_used = 0
        self.lock_instances = {name: [base + i * width for i in range(self._instances(name))]
                               for name, (base, width, _) in system.layout.locks.items()}

    def prop(self, name: str) -> None:
        """A property some assertion names (V_<name>: a Promela identifier)."""
        if not name.isidentifier() or not name.isascii():
            raise PromelaError(f"the property name {name!r} (not a Promela identifier)")
        self.props.add(name)

    def _instances(self, name: str) -> int:
        return sum(1 for s in self.system.layout.slots if s.var == name and s.kind == SlotKind.LOCK_OWNER)

    def bound(self, slot: int) -> int | None:
        """The largest magnitude a slot's values reach (None: not known, an int local of any range)."""
        s, enc = self.system.layout.slots[slot], self.enc
        threads = len(self.system.threads)
        if s.kind == SlotKind.PC:
            return len(self.system.threads[s.thread].nodes)
        if s.kind == SlotKind.LOCK_QUEUE:
            return enc.queue_base ** enc.queue_cap
        if s.kind in (SlotKind.LOCK_READERS, SlotKind.GP_WAIT, SlotKind.GHOST_READERS):
            return 1 << (READ_BITS * threads)
        if s.kind == SlotKind.GHOST_NEXT:
            return max(self.system.env.entity_sizes.values())
        if s.kind in (SlotKind.LOCK_OWNER, SlotKind.RCU_NEST, SlotKind.IRQS_OFF, SlotKind.BH_DEPTH,
                      SlotKind.IRQ_FLAGS):
            return threads + MAX_READ_DEPTH + MAX_BH_DEPTH
        sizes = self.system.env.entity_sizes
        if is_list_slot(s.kind, s.type, s.sort):
            return enc.list_base ** enc.list_cap
        if s.sort.startswith("set<"):
            return 1 << sizes[s.sort[4:-1]]
        if s.sort == "bool":
            return 1
        if s.kind == SlotKind.LOCAL:
            return self.int_local_bound
        t = s.type
        if isinstance(t, SetT):
            return 1 << sizes[t.entity]
        if isinstance(t, IntT) and t.lo is not None and t.hi is not None:
            return max(-t.lo, t.hi)
        if isinstance(t, (BoolT, RefT, EnumT)):
            return max(sizes.get(getattr(t, "entity", ""), 1), len(getattr(t, "values", ())), 1)
        return None

    def short(self, slot: int) -> bool:
        bound = self.bound(slot)
        return bound is not None and bound < SHORT

    def value(self, slot: int, v: object) -> int:
        s = self.system.layout.slots[slot]
        if is_list_slot(s.kind, s.type, s.sort):
            if v is None:
                return -1
            base = self.enc.queue_base if s.kind == SlotKind.LOCK_QUEUE else self.enc.list_base
            return self.enc.seq(v, base)  # type: ignore[arg-type]
        if v is None:
            return -SHORT - 1 if self.short(slot) else NONE
        if isinstance(v, bool):
            return int(v)
        if not isinstance(v, int):
            raise PromelaError(f"a value {v!r} in slot {s.name}")
        return v

    def none(self, slot: int) -> int:
        return self.value(slot, None)

    # -- the text

    def text(self) -> str:
        system = self.system
        init = self.start
        lines = [f"/* {system.spec.name}: generated by netcheck export --promela; one SPIN state per netcheck state */",
                 f"/* lists: base {self.enc.list_base}; rwsem queues: base {self.enc.queue_base}; unused: {NONE:d} */"]
        for i, slot in enumerate(system.layout.slots):
            kind = "short" if self.short(i) else "int"
            lines.append(f"{kind} {var(i)} = {self.value(i, init[i])};   /* {slot.name} */")
        lines.append("int " + ", ".join(TEMPS) + ";")
        body = self.options()
        steps = self.settles()
        temps = [f"t{k}" for k in range(self.temps_used)]
        if temps:
            lines.append("int " + ", ".join(temps) + ";")
        lines += [f"hidden byte V_{p};" for p in sorted(self.props)]
        lines += ["", "active proctype netcheck() {"]
        lines += self.initial_choice()
        lines.append("end_loop:" if not system.spec.options.deadlock else "loop:")
        lines += ["  do", "  :: atomic {", "    if"]
        lines += body
        lines += ["    fi;", "WAKE:"]
        lines += self.wake()
        lines += steps
        lines += ["DONE:", "    " + "; ".join(f"{t} = 0" for t in (*TEMPS, *temps))]
        lines += ["  }", "  od", "}", ""]
        return "\n".join(lines)

    def initial_choice(self) -> list[str]:
        """With several initial states (an `either` before a thread's first visible step), or violations
        while computing them, the first step chooses one: SPIN has one state more than netcheck, the one
        before the choice."""
        states, violations = self.system.initial_states, self.system.initial_violations
        if extra_states(self.system) == 0:
            return []
        out = ["  atomic {   /* the initial states: SPIN's one extra state is the one before this choice */", "    if"]
        for state in states:
            changes = [f"{var(i)} = {self.value(i, v)}" for i, v in enumerate(state) if v != self.start[i]]
            out.append("    :: " + ("; ".join(changes) or "skip"))
        for violation in violations:
            self.prop(violation.prop)
            out.append(f"    :: assert(V_{violation.prop})")
        return [*out, "    fi", "  };"]

    def options(self) -> list[str]:
        """The loop's options: every visible step (and fatal-signal exit), the property monitors."""
        out: list[str] = []
        for thread in self.system.threads:
            for pc, step in enumerate(thread.steps):
                if step is None:
                    continue
                node = thread.nodes[pc]
                for signal in (False, True):
                    tree = _NodeTrees(self, thread.tid, pc).build(signal, visible=True)
                    if tree is None or isinstance(tree, Block):
                        continue
                    guard = all_of(f"{var(thread.pcslot)} == {pc}", negate(blocked(tree)),
                                   inactive(self.system.contexts[thread.tid].preempted_by))
                    kind = f"{node.kind}{' (fatal signal)' if signal else ''}"
                    out.append(f"    :: ({guard}) ->   /* {thread.name} {pc}: {kind} */")
                    out += code(tree, "       ")
        ex = Exprs(self.system, self.enc, {}, -1)
        for prop in self.system.invariants:   # a monitor, enabled only where the invariant fails
            self.prop(prop.decl.name)
            defined, holds = ex.defined(prop.expr), ex.term(prop.expr)
            if defined != "1":
                out.append(f"    :: {negate(defined)} ->   /* {prop.decl.name} cannot be evaluated */")
                out.append(f"       assert(V_{RUNTIME}); goto DONE")
            out.append(f"    :: {all_of(defined, negate(holds))} ->   /* invariant {prop.decl.name} */")
            out.append(f"       assert(V_{prop.decl.name}); goto DONE")
        finals = []
        for prop in self.system.finals:
            self.prop(prop.decl.name)
            defined, holds = ex.defined(prop.expr), ex.term(prop.expr)
            finals.append(f"       assert(V_{RUNTIME} || {defined});")
            finals.append(f"       assert(V_{prop.decl.name} || {holds});")
        quiescent = all_of(*[self.quiescent(t.tid) for t in self.system.threads])
        out.append(f"    :: timeout && {quiescent} ->   /* a final state */")
        out += finals + ["       goto DONE"]
        return out

    def quiescent(self, tid: int) -> str:
        thread = self.system.threads[tid]
        pcs = [thread.finished] + ([pc for pc, st in enumerate(thread.steps) if st is not None and st.idle]
                                   if thread.daemon else [])
        return any_of(*[f"{var(thread.pcslot)} == {pc}" for pc in pcs])

    def wake(self) -> list[str]:
        """After a step: settle the threads an rwsem release granted the lock, then the stepping thread."""
        out = ["    if"]
        for thread in self.system.threads:
            waits = [(pc, n.next) for pc, n in enumerate(thread.nodes) if isinstance(n, ir.LockWait)]
            if not waits:
                continue
            bit = 1 << thread.tid
            moves = " ".join(f":: {var(thread.pcslot)} == {pc} -> {var(thread.pcslot)} = {nxt}" for pc, nxt in waits)
            out.append(f"    :: (g_woken & {2 * bit - 1}) == {bit} -> g_woken = g_woken & ~{bit};")
            out.append(f"       if {moves} :: else -> assert(0) fi; goto S{thread.tid}")
        for thread in self.system.threads:
            out.append(f"    :: g_woken == 0 && g_self == {thread.tid + 1} -> g_self = 0; goto S{thread.tid}")
        out.append("    :: else -> goto DONE")
        out.append("    fi;")
        return out

    def settles(self) -> list[str]:
        """Per thread, its invisible nodes run until it stands at a visible one (runtime.settle)."""
        out: list[str] = []
        for thread in self.system.threads:
            out.append(f"S{thread.tid}: /* {thread.name} settles */")
            out.append("    do")
            for pc, node in enumerate(thread.nodes):
                if thread.steps[pc] is not None or isinstance(node, ir.Jump):
                    continue
                tree = _NodeTrees(self, thread.tid, pc).build(False, visible=False)
                assert tree is not None
                if blocked(tree) != "0":
                    raise PromelaError(f"an invisible {node.kind} node that may block")
                out.append(f"    :: {var(thread.pcslot)} == {pc} ->   /* {node.kind} */")
                out += code(tree, "       ")
            out += ["    :: else -> break", "    od;", "    goto WAKE;"]
        return out


class _NodeTrees:
    """The decision tree of one node of one thread (relation.py's `_NodeCases`, as Promela)."""

    def __init__(self, model: Model, tid: int, pc: int):
        self.model, self.tid, self.pc = model, tid, pc
        self.system = model.system
        self.thread = self.system.threads[tid]
        self.pcslot = self.thread.pcslot
        self.node = self.thread.nodes[pc]
        self.ex = Exprs(self.system, model.enc, dict(self.node.env.locals) if self.node.env is not None else {}, tid)
        self.visible = False        # set by build: a visible step settles (WAKE) after its move

    def go(self, *stmts: str, target: int) -> Go:
        """Statements, then the move to `target`; a visible step then settles (WAKE)."""
        tail = [f"{var(self.pcslot)} = {target}"]
        if self.visible:
            tail.append(f"g_self = {self.tid + 1}; goto WAKE")
        return Go(tuple(stmts) + tuple(tail))

    def build(self, signal: bool, visible: bool) -> Tree | None:
        """The node's tree (of its fatal-signal exit with `signal`; None: it has none)."""
        self.visible = visible
        node = self.node
        if isinstance(node, (ir.LockCall, ir.LockWait, ir.RcuCall, ir.GraceWait)):
            return _RuleTrees(self, node).build(signal)
        if isinstance(node, ir.CounterCall):
            return self.counter(node, signal)
        if isinstance(node, ir.WaitCall):
            return self.wait_queue(node, signal)
        if signal:
            return None
        ex = self.ex
        if isinstance(node, ir.Assign):
            return self.assign(node)
        if isinstance(node, ir.Reset):
            return self.go(*[f"{var(s)} = {self.model.none(s)}" for s in node.slots], target=node.next)
        if isinstance(node, ir.Branch):
            assert node.cond is not None
            return ordered([(negate(ex.defined(node.cond)), Violate(RUNTIME)),
                            (ex.term(node.cond), self.go(target=node.next))], self.go(target=node.alt))
        if isinstance(node, ir.Choose):
            if self.visible:
                raise PromelaError("a visible `either`")
            options = " ".join(f":: {var(self.pcslot)} = {t}" for _, t in node.branches)
            return Go((f"if {options} fi",))
        if isinstance(node, ir.Check):
            assert node.cond is not None
            self.model.prop(node.name)
            return ordered([(negate(ex.defined(node.cond)), Violate(RUNTIME)),
                            (negate(ex.term(node.cond)), Violate(node.name))], self.go(target=node.next))
        if isinstance(node, ir.Await):
            assert node.cond is not None
            return ordered([(self.atomic() if node.sleeps else "0", Violate(DISCIPLINE)),
                            (negate(ex.defined(node.cond)), Violate(RUNTIME)),
                            (ex.term(node.cond), self.go(target=node.next))], Block())
        if isinstance(node, ir.End):
            return ordered([(self.holds_anything(), Violate(DISCIPLINE))], self.go(target=self.thread.finished))
        if isinstance(node, ir.IrqArrive):
            context = self.system.contexts[self.tid]
            arrives = all_of(inactive(context.arrive_after), *[f"{var(x)} == 0" for x in context.arrive_clear])
            return ordered([(arrives, self.go(target=node.next))], Block())
        if isinstance(node, ir.LoopStep):
            return self.loop(node)
        if isinstance(node, ir.ListEdit):
            return self.list_edit(node)
        if isinstance(node, ir.Free):
            return self.free(node)
        if isinstance(node, ir.CallRcu):
            return self.call_rcu(node)
        raise PromelaError(f"{node.kind} nodes")

    # -- places

    def place(self, place: ir.Place) -> tuple[list[int], str | None, str]:
        """(candidate slots, offset or None when static, when the keys evaluate)."""
        target = place.target
        if isinstance(target, Local):
            return [place.env.locals[target.name]], None, "1"
        base, strides = self.system.layout.shared[target.name]
        ex = Exprs(self.system, self.model.enc, dict(place.env.locals), self.tid)
        ok = ex.keys_defined(target.keys)
        offset = ex.index(target.keys, strides) if target.keys else 0
        if isinstance(offset, int):
            return [base + offset], None, ok
        return [base + i for i in range(ex.count(target.name))], offset, ok

    @staticmethod
    def write(slots: list[int], offset: str | None, value: str) -> str:
        if not slots:   # an element of an empty domain: never written (its keys do not evaluate)
            return "assert(0)"
        if offset is None:
            return f"{var(slots[0])} = {value}"
        base = slots[0]
        options = " ".join(f":: {offset} == {i - base} -> {var(i)} = {value}" for i in slots)
        return f"if {options} :: else -> assert(0) fi"

    def fits(self, place: ir.Place, value: str) -> str:
        t = place.type
        if not place.checked:
            return "1"
        if isinstance(t, IntT) and t.lo is not None and t.hi is not None:
            return f"({value} >= {t.lo} && {value} <= {t.hi})"
        if isinstance(t, RefT) and not t.nullable:
            return f"({value} != -1)"
        return "1"

    def temp(self, k: int) -> str:
        self.model.temps_used = max(self.model.temps_used, k + 1)
        return f"t{k}"

    def assign(self, node: ir.Assign) -> Tree:
        ex = self.ex
        values = [self.as_value(v) for v in node.values]
        places = [self.place(p) for p in node.writes]
        undefined = negate(all_of(*[ex.defined(v) for v in node.values], *[ok for _, _, ok in places]))
        # every value first (into temporaries), then the range checks, then the writes in order
        temps = [self.temp(k) for k in range(len(values))]
        stmts = [f"{t} = {v}" for t, v in zip(temps, values)]
        outside = negate(all_of(*[self.fits(p, t) for p, t in zip(node.writes, temps)]))
        writes = tuple(self.write(slots, offset, t) for (slots, offset, _), t in zip(places, temps))
        return ordered([(undefined, Violate(RUNTIME))],
                       Go((*stmts, "\n".join(code(ordered([(outside, Violate(RUNTIME))],
                                                          self.go(*writes, target=node.next)), "")))))

    def as_value(self, e: Expr) -> str:
        t = self.ex.term(e)
        return f"({t} -> 1 : 0)" if isinstance(e.type, BoolT) else t

    # -- loops and lists

    def rcu_loop(self, node: ir.LoopStep) -> Tree:
        """list_for_each_entry_rcu (runtime.py's rcu_loop)."""
        assert isinstance(node.source, Shared)
        ex, lists, layout = self.ex, self.ex.lists, self.system.layout
        items, cur = ex.term(node.source), var(node.cursor)
        ghost_next, ghost_readers, size = layout.rcu_lists[node.source.name]
        outside: tuple[str, Tree] = (f"{var(layout.rcu_nest[self.tid])} == 0", Violate(DISCIPLINE))

        def moved(c: str) -> Tree:
            return ordered([(f"({c}) >= 0", self.go(f"{cur} = {c}", target=node.next))],
                           self.go(f"{cur} = {c}", target=node.alt))
        if node.start:
            return ordered([outside], moved(lists.first(items)))
        mine = any_of(*[f"({cur} == {k} && (({var(ghost_readers + k)} >> {self.tid}) & 1) == 1)" for k in range(size)])
        ghost = lists.chain([(f"{cur} == {k}", var(ghost_next + k)) for k in range(size)], "-1")
        return ordered([outside, (f"{cur} < 0", self.go(target=node.alt)),
                        (lists.contains(items, cur), moved(lists.next(items, cur))),
                        (negate(mine), Violate(RUNTIME))], moved(ghost))

    def free(self, node: ir.Free) -> Tree:
        """kfree (runtime.py's free)."""
        assert node.item is not None and isinstance(node.item.type, RefT)
        ex, x = self.ex, self.ex.term(node.item)
        holders, ghosts = free_checks(self.system.layout, node.item.type.entity)
        size = ex.sizes[node.item.type.entity]
        cases: list[tuple[str, Tree]] = [(negate(ex.defined(node.item)), Violate(RUNTIME)),
                                         (f"({x}) < 0", self.go(target=node.next))]
        cases += [(ex.lists.contains(var(slot), x), Violate(RUNTIME)) for slot in holders]
        cases += [(any_of(*[f"(({x}) == {k} && {var(readers + k)} != 0)" for k in range(size)]), Violate(RUNTIME))
                  for _, readers in ghosts]
        return ordered(cases, self.go(target=node.next))

    def call_rcu(self, node: ir.CallRcu) -> Tree:
        """call_rcu() / kfree_rcu() (runtime.py's call_rcu)."""
        assert node.head is not None
        ex = self.ex
        cases: list[tuple[str, Tree]] = []
        x = "0"
        if node.item is not None:
            x = ex.term(node.item)
            cases += [(negate(ex.defined(node.item)), Violate(RUNTIME)),
                      (f"({x}) < 0", self.go(target=node.next) if node.kfree else Violate(RUNTIME))]
        slots, offset, keys_ok = self.place(node.head)
        head = ex.select(slots[0], len(slots), offset) if offset is not None else var(slots[0])
        cases += [(negate(keys_ok), Violate(RUNTIME)),
                  (f"({head}) == {HEAD_PENDING} || ({head}) == {HEAD_REQUEUED}", Violate(RUNTIME))]
        nests = self.system.layout.rcu_nest
        readers = " + ".join(f"({var(n)} != 0 -> {1 << t} : 0)" for t, n in enumerate(nests)) or "0"
        stmts = [f"{self.temp(0)} = (({head}) == {HEAD_IDLE} -> {HEAD_PENDING} : {HEAD_REQUEUED})",
                 f"{self.temp(1)} = {readers}", self.write(slots, offset, "t0")]
        stmts += [f"{var(gp)} = t1" if len(node.gp) == 1 and node.item is None else
                  f"if :: ({x}) == {k} -> {var(gp)} = t1 :: else -> skip fi" for k, gp in enumerate(node.gp)]
        return ordered(cases, self.go(*stmts, target=node.next))

    def loop(self, node: ir.LoopStep) -> Tree:
        if node.rcu:
            return self.rcu_loop(node)
        assert node.source is not None
        ex = self.ex
        items, cur = ex.term(node.source), var(node.cursor)
        reverse = node.order != "forward"
        restart = node.start and node.order != "continue_reverse"
        undefined: tuple[str, Tree] = (negate(ex.defined(node.source)), Violate(RUNTIME))

        def moved(c: str) -> list[tuple[str, Tree]]:
            return [(f"({c}) >= 0", self.go(f"{cur} = {c}", target=node.next))]

        def otherwise(c: str) -> Tree:
            return self.go(f"{cur} = {c}", target=node.alt)

        lists = ex.lists
        if node.is_list:
            n = lists.length(items)
            if restart:
                c = lists.last(items) if reverse else lists.first(items)
                return ordered([undefined, *moved(c)], otherwise(c))
            corrupt = all_of(f"{cur} >= 0", negate(lists.contains(items, cur)))
            cases: list[tuple[str, Tree]] = [undefined, (corrupt, Violate(RUNTIME))]
            if not node.start:
                cases.append((f"{cur} < 0", self.go(target=node.alt)))
            i = f"({cur} >= 0 -> {lists.index(items, cur)} : {n})"
            j = f"({i} - 1)" if reverse else f"({i} + 1)"
            c = lists.chain([(f"{j} == {k}", lists.elem(items, k)) for k in range(lists.cap)], "-1")
            return ordered([*cases, *moved(c)], otherwise(c))
        assert isinstance(node.source.type, SetT)
        width = ex.sizes[node.source.type.entity]
        members = [f"((({items}) >> {k}) & 1) == 1" for k in range(width)]
        order = list(range(width - 1, -1, -1)) if reverse else list(range(width))
        if restart:
            after = [(k, members[k]) for k in order]
        elif reverse:
            after = [(k, all_of(members[k], f"({cur} < 0 || {cur} > {k})")) for k in order]
        else:
            after = [(k, all_of(members[k], f"{cur} < {k}")) for k in order]
        c = lists.chain([(cond, str(k)) for k, cond in after], "-1")
        return ordered([undefined, *moved(c)], otherwise(c))

    # -- counters (refcount_t, atomic_t, completions): their rules (counters.py)

    def counter(self, node: ir.CounterCall, signal: bool) -> Tree | None:
        assert node.place is not None and isinstance(node.place.type, IntT)
        t = node.place.type
        assert t.lo is not None and t.hi is not None and t.counter is not None
        rules = counter_rules(node.op, signal) if self.system.spec.options.fatal_signals or not signal else ()
        if not rules:
            return None
        ex = self.ex
        slots, offset, keys_ok = self.place(node.place)
        v = ex.select(slots[0], len(slots), offset) if offset is not None else var(slots[0])
        x = self.as_value(node.value) if node.value is not None else "0"
        undefined = negate(all_of(keys_ok, *([ex.defined(node.value)] if node.value is not None else [])))
        tests = {CTest.ALWAYS: "1", CTest.ATOMIC: self.atomic(), CTest.ZERO: f"({v}) == 0", CTest.ONE: f"({v}) == 1",
                 CTest.LOW: f"({v}) == {t.lo}", CTest.HIGH: f"({v}) == {high(t.lo, t.hi, t.counter)}",
                 CTest.ALL: f"({v}) == {t.hi}", CTest.OUTSIDE: f"(({x}) < {t.lo} || ({x}) > {t.hi})"}
        effects = {CEffect.NONE: None, CEffect.INC: f"({v}) + 1", CEffect.DEC: f"({v}) - 1", CEffect.CLEAR: "0",
                   CEffect.ALL: str(t.hi), CEffect.SET: x}
        cases: list[tuple[str, Tree]] = [(undefined, Violate(RUNTIME))]
        for rule in rules:
            if rule.then is Then.BLOCK:
                tree: Tree = Block()
            elif rule.then is Then.VIOLATE:
                tree = Violate(rule.prop)
            else:
                value = effects[rule.effect]   # into a temporary first: the write selects the slot again
                stmts = [f"{self.temp(0)} = {value}", self.write(slots, offset, "t0")] if value is not None else []
                if node.result is not None:
                    rslots, roffset, _ = self.place(node.result)
                    stmts.append(self.write(rslots, roffset, "1" if rule.then is Then.NEXT else "0"))
                tree = self.go(*stmts, target=node.next if rule.then is Then.NEXT else node.alt)
            cases.append((tests[rule.test], tree))
        return ordered(cases, Block())

    # -- wait queues: their rules (waitqueues.py)

    def wait_queue(self, node: ir.WaitCall, signal: bool) -> Tree | None:
        rules = wait_rules(node.op, signal) if self.system.spec.options.fatal_signals or not signal else ()
        if not rules:
            return None
        ex, tid = self.ex, self.tid
        queues = wait_queue_slots(self.system.layout)
        cases: list[tuple[str, Tree]] = []
        slots: list[int] = []
        offset: str | None = None
        v = "0"
        if node.place is not None:
            slots, offset, keys_ok = self.place(node.place)
            v = ex.select(slots[0], len(slots), offset) if offset is not None else var(slots[0])
            cases.append((negate(keys_ok), Violate(RUNTIME)))

        def on(q: str) -> str:
            return f"((({q}) >> {tid}) & 1) == 1"

        def selects(j: int) -> str:
            if offset is None or j not in slots:
                return "1" if slots and j == slots[0] and offset is None else "0"
            return f"({offset}) == {j - slots[0]}"
        tests = {WTest.ALWAYS: "1", WTest.ATOMIC: self.atomic(),
                 WTest.ELSEWHERE: any_of(*[all_of(on(var(j)), negate(selects(j))) for j in queues]),
                 WTest.QUEUED: any_of(*[on(var(j)) for j in queues]), WTest.ON: on(v),
                 WTest.COND: ex.term(node.cond) if node.cond is not None else "0"}
        n = len(self.system.threads)
        bit, full = 1 << tid, (1 << 2 * n) - 1          # the sleeper bits, then the exclusive ones
        entry = bit | exclusive_bit(tid, n)
        effects = {WEffect.NONE: None, WEffect.ADD: f"(({v}) & {full & ~entry}) | {bit}",
                   WEffect.ADD_EXCLUSIVE: f"({v}) | {entry}", WEffect.REMOVE: f"({v}) & {full & ~entry}",
                   WEffect.WAKE: "0"}
        targets = {WThen.NEXT: node.next, WThen.FAIL: node.alt, WThen.STAY: self.pc}
        for rule in rules:
            if WTest.COND in rule.tests and node.cond is not None:   # the condition is evaluated here
                before = [tests[t] for t in rule.tests if t is not WTest.COND]
                cases.append((all_of(*before, negate(ex.defined(node.cond))), Violate(RUNTIME)))
            cond = all_of(*[tests[t] for t in rule.tests])
            if rule.then is WThen.BLOCK:
                tree: Tree = Block()
            elif rule.then is WThen.VIOLATE:
                tree = Violate(rule.prop)
            elif rule.effect is WEffect.WAKE_ONE and slots:   # one option per exclusive sleeper it may wake
                t0 = self.temp(0)
                kept = " | ".join(f"((({v}) >> {n + u}) & 1) * {(1 << u) | exclusive_bit(u, n)}" for u in range(n))
                options = " ".join(f":: ((({v}) >> {n + t}) & 1) == 1 -> {t0} = ({kept}) & "
                                   f"{full & ~((1 << t) | exclusive_bit(t, n))}" for t in range(n))
                nobody = " && ".join(f"((({v}) >> {n + t}) & 1) == 0" for t in range(n))
                tree = self.go(f"if {options} :: {nobody} -> {t0} = 0 fi", self.write(slots, offset, t0),
                               target=targets[rule.then])
            else:
                value = effects[rule.effect] if slots else None   # into a temporary: the write selects again
                stmts = [f"{self.temp(0)} = {value}", self.write(slots, offset, "t0")] if value is not None else []
                tree = self.go(*stmts, target=targets[rule.then])
            cases.append((cond, tree))
        return ordered(cases, Block())

    def list_edit(self, node: ir.ListEdit) -> Tree:
        assert node.place is not None
        ex, lists = self.ex, self.ex.lists
        slots, offset, keys_ok = self.place(node.place)
        items = ex.select(slots[0], len(slots), offset) if offset is not None else var(slots[0])
        x = ex.term(node.items[0])
        has_x = lists.contains(items, x)
        cases: list[tuple[str, Tree]] = [(negate(all_of(keys_ok, ex.defined(node.items[0]))), Violate(RUNTIME)),
                                         (f"({x}) < 0", Violate(RUNTIME))]

        target = node.place.target
        rcu = self.system.layout.rcu_lists.get(target.name) if isinstance(target, Shared) else None
        fn = RCU_LIST_OPS.get(node.fn, node.fn)

        def result(value: str, *more: str) -> Go:
            return self.go(*more, self.write(slots, offset, value), target=node.next)

        if fn == "list_del":
            ghost: list[str] = []
            if rcu is not None and node.fn == "list_del_rcu":   # the ghost first: it reads the list before
                ghost_next, ghost_readers, size = rcu
                nests = self.system.layout.rcu_nest
                readers = " + ".join(f"({var(n)} != 0 -> {1 << t} : 0)" for t, n in enumerate(nests))
                ghost = [f"{self.temp(1)} = {readers}"] + [
                    f"if :: ({x}) == {k} && t1 != 0 -> {var(ghost_next + k)} = {lists.next(items, x)}; "
                    f"{var(ghost_readers + k)} = t1 :: else -> skip fi" for k in range(size)]
            return ordered([*cases, (negate(has_x), Violate(RUNTIME))], result(lists.delete(items, x), *ghost))
        cases.append((has_x, Violate(RUNTIME)))
        if rcu is not None:
            cases.append((any_of(*[f"(({x}) == {k} && {var(rcu[1] + k)} != 0)" for k in range(rcu[2])]),
                          Violate(RUNTIME)))
        if fn == "list_add":
            return ordered(cases, result(lists.prepend(items, x)))
        if fn == "list_add_tail":
            return ordered(cases, result(lists.append(items, x)))
        pos = ex.term(node.items[1])
        return ordered([*cases, (negate(ex.defined(node.items[1])), Violate(RUNTIME)),
                        (f"({pos}) < 0", result(lists.append(items, x))),
                        (negate(lists.contains(items, pos)), Violate(RUNTIME))],
                       result(lists.insert_before(items, x, pos)))

    # -- atomic context, held locks

    def rcu_nest(self, tid: int | None = None) -> str | None:
        nests = self.system.layout.rcu_nest
        return var(nests[self.tid if tid is None else tid]) if nests else None

    def atomic(self) -> str:
        context = self.system.contexts[self.tid]
        if context.in_irq:
            return "1"
        spin = [f"{var(i)} == {self.tid}" for i in self.thread.builder.spin_slots]
        nest = self.rcu_nest()
        disabled = [f"{var(slot)} != 0" for _, slot in context.atomic_reasons()]
        return any_of(*spin, *([f"{nest} != 0"] if nest is not None else []), *disabled)

    def holds_anything(self) -> str:
        parts = []
        for name, instances in self.model.lock_instances.items():
            rwsem = self.system.layout.lock_kinds[name] == "rwsem"
            for b in instances:
                parts.append(f"{var(b)} == {self.tid}")
                if rwsem:
                    parts.append(f"{_depth(var(b + 1), self.tid)} != 0")
        nest = self.rcu_nest()
        if nest is not None:
            parts.append(f"{nest} != 0")
        parts += [f"{var(nests[self.tid])} != 0" for nests in self.system.layout.srcu_nest.values()]
        context = self.system.contexts[self.tid]
        if context.irqs_off >= 0:
            parts.append(f"{var(context.irqs_off)} != {context.irqs_start}")
        if context.bh_depth >= 0:
            parts.append(f"{var(context.bh_depth)} != 0")
        return any_of(*parts)


def inactive(irqs: Sequence[Irq]) -> str:
    """None of these irq-context threads is active: each has not arrived or has finished (contexts.py)."""
    return all_of(*[f"({var(i.pcslot)} == {i.entry} || {var(i.pcslot)} == {i.finished})" for i in irqs])


def _depth(readers: str, tid: int) -> str:
    return f"(({readers} >> {READ_BITS * tid}) & {(1 << READ_BITS) - 1})"


class _RuleTrees:
    """A lock or RCU step from its rules (relation.py's `_RuleCases`, as Promela)."""

    def __init__(self, at: _NodeTrees, node: ir.LockCall | ir.LockWait | ir.RcuCall | ir.GraceWait):
        self.at, self.node, self.tid = at, node, at.tid
        self.system = at.system
        self.all_readers = self.system.spec.options.rwsem_wake == "all_readers"
        self.fatal_signals = self.system.spec.options.fatal_signals
        self.entry = 2 * self.tid + (1 if isinstance(node, ir.LOCK_NODES) and LOCK_API[node.op].mode == "write"
                                     else 0)
        self.queues = at.model.queues
        self.domain = "" if isinstance(node, ir.LOCK_NODES) else node.domain

    def build(self, signal: bool) -> Tree | None:
        node = self.node
        if isinstance(node, (ir.RcuCall, ir.GraceWait)):
            return None if signal else self.apply(rcu_rules(node.op, isinstance(node, ir.GraceWait)), -1)
        waiting = isinstance(node, ir.LockWait)
        rules = lock_rules(node.op, waiting, signal) if self.fatal_signals or not signal else ()
        if not rules:
            return None
        ok, instances = self.instance_guards()
        if waiting:   # the first instance whose queue holds this waiter, or none
            cases = [(self.queues.contains(var(b + 2), str(self.entry)), self.apply(rules, b)) for b, _ in instances]
            return ordered(cases, self.apply(rules, -1))
        return ordered([(negate(ok), Violate(RUNTIME)), *[(named, self.apply(rules, b)) for b, named in instances]],
                       Violate(RUNTIME))

    def instance_guards(self) -> tuple[str, list[tuple[int, str]]]:
        assert isinstance(self.node, ir.LOCK_NODES) and self.node.lock is not None
        lock = self.node.lock
        instances = self.at.model.lock_instances[lock.name]
        if not lock.keys:
            return "1", [(instances[0], "1")]
        _, width, strides = self.system.layout.locks[lock.name]
        ex = self.at.ex
        ok = ex.keys_defined(lock.keys)
        index = ex.index(lock.keys, tuple(st // width for st in strides))
        if isinstance(index, int):
            return ok, [(instances[index], "1")]
        return ok, [(b, f"{index} == {i}") for i, b in enumerate(instances)]

    def apply(self, rules: tuple[Rule, ...], b: int) -> Tree:
        node = self.node
        targets = {Then.NEXT: node.next, Then.FAIL: node.alt,
                   Then.WAIT: node.wait if isinstance(node, ir.LockCall) else -1}
        cases: list[tuple[str, Tree]] = []
        for rule in rules:
            test = self.test(rule.test, b)
            if test is None or test == "0":
                continue
            if rule.then is Then.BLOCK:
                tree: Tree = Block()
            elif rule.then is Then.VIOLATE:
                tree = Violate(DISCIPLINE)
            else:
                tree = self.at.go(*self.effects(rule.effects, b), target=targets[rule.then])
            cases.append((test, tree))
        return ordered(cases, Block())

    def test(self, test: Test, b: int) -> str | None:
        at, tid = self.at, self.tid
        if test is Test.ALWAYS:
            return "1"
        if test is Test.QUEUED:
            return "1" if b >= 0 else "0"
        context = self.system.contexts[tid]
        if test is Test.ATOMIC:
            return at.atomic() if (self.system.layout.rcu_nest or at.thread.builder.spin_slots or context.in_irq
                                   or context.atomic_reasons()) else None
        if test in (Test.HARDIRQ, Test.IRQS_OFF):
            if context.kind == "hardirq":
                return "1"
            return f"{var(context.irqs_off)} != 0" if test is Test.IRQS_OFF and context.irqs_off >= 0 else None
        if test in (Test.BH_FULL, Test.BH_OUT):
            bh = var(context.bh_depth)
            return f"{bh} >= {MAX_BH_DEPTH}" if test is Test.BH_FULL else f"{bh} == 0"
        nests, gps = self.system.layout.domain(self.domain)
        if test in (Test.RCU_FULL, Test.RCU_OUT, Test.RCU_IN):
            if not nests:
                return None
            nest = var(nests[tid])
            return {Test.RCU_FULL: f"{nest} >= 3", Test.RCU_OUT: f"{nest} == 0", Test.RCU_IN: f"{nest} != 0"}[test]
        if test is Test.GP_PENDING:
            return f"{var(gps[tid])} != 0" if gps else None
        owner = var(b)
        if test in (Test.FREE, Test.MINE, Test.NOT_MINE, Test.OTHERS):
            return {Test.FREE: f"{owner} == -1", Test.MINE: f"{owner} == {tid}", Test.NOT_MINE: f"{owner} != {tid}",
                    Test.OTHERS: f"({owner} != -1 && {owner} != {tid})"}[test]
        readers, queue = var(b + 1), var(b + 2)
        mine = _depth(readers, tid)
        return {
            Test.HELD: f"({owner} == {tid} || {mine} != 0)",
            Test.NOT_READING: f"{mine} == 0",
            Test.READ_FULL: f"{mine} >= {MAX_READ_DEPTH}",
            Test.READ_NOW: f"({owner} == -1 && {queue} == 0)",
            Test.WRITE_NOW: f"({owner} == -1 && {readers} == 0 && {queue} == 0)",
        }[test]

    def effects(self, effects: tuple[Effect, ...], b: int) -> list[str]:
        """The effects as statements, in order (each sees the ones before)."""
        tid = self.tid
        layout = self.system.layout
        out: list[str] = []
        bit = 1 << (READ_BITS * tid)
        nests, gps = layout.domain(self.domain)
        for effect in effects:
            if effect is Effect.TAKE:
                out.append(f"{var(b)} = {tid}")
            elif effect is Effect.DROP:
                out.append(f"{var(b)} = -1")
            elif effect in (Effect.READ_UP, Effect.READ_DOWN):
                out.append(f"{var(b + 1)} = {var(b + 1)} {'+' if effect is Effect.READ_UP else '-'} {bit}")
            elif effect is Effect.ENQUEUE:
                out.append(f"{var(b + 2)} = {self.queues.append(var(b + 2), str(self.entry))}")
            elif effect is Effect.DEQUEUE:
                out.append(f"{var(b + 2)} = {self.queues.delete(var(b + 2), str(self.entry))}")
            elif effect is Effect.GRANT:
                out += self.grant(b)
            elif effect in (Effect.RCU_UP, Effect.RCU_DOWN):
                nest = var(nests[tid])
                out.append(f"{nest} = {nest} {'+' if effect is Effect.RCU_UP else '-'} 1")
                if effect is Effect.RCU_DOWN:
                    for g in gps:
                        out.append(f"if :: {nest} == 0 -> {var(g)} = {var(g)} & ~{1 << tid} :: else -> skip fi")
                    for nxt, ghost in ([] if self.domain else ghost_slots(layout)):
                        out.append(f"if :: {nest} == 0 && (({var(ghost)} >> {tid}) & 1) == 1 -> "
                                   f"{var(ghost)} = {var(ghost)} & ~{1 << tid}; "
                                   f"if :: {var(ghost)} == 0 -> {var(nxt)} = -1 :: else -> skip fi "
                                   ":: else -> skip fi")
            elif effect is Effect.GP_START:
                if gps:
                    readers = " + ".join(f"({var(n)} != 0 -> {1 << t} : 0)" for t, n in enumerate(nests))
                    out.append(f"{var(gps[tid])} = {readers or '0'}")
            else:
                out.append(self.irq_effect(effect, b))
        return out

    def irq_effect(self, effect: Effect, b: int) -> str:
        """An effect on the thread's interrupt state (and the flags a lock instance keeps)."""
        context, flags = self.system.contexts[self.tid], self.system.layout.irq_flags
        irqs, bh = var(context.irqs_off), var(context.bh_depth)
        return {Effect.IRQ_SAVE: lambda: f"{var(flags[b])} = {irqs}", Effect.IRQ_OFF: lambda: f"{irqs} = 1",
                Effect.IRQ_ON: lambda: f"{irqs} = 0", Effect.IRQ_RESTORE: lambda: f"{irqs} = {var(flags[b])}",
                Effect.BH_UP: lambda: f"{bh} = {bh} + 1", Effect.BH_DOWN: lambda: f"{bh} = {bh} - 1"}[effect]()

    def grant(self, b: int) -> list[str]:
        """locks.rw_grant: a free rwsem handed to the head of its queue; the threads granted it in g_woken."""
        owner, readers, queue = var(b), var(b + 1), var(b + 2)
        base = self.queues.base
        stop = "" if self.all_readers else " g_taking = 0;"
        return ["\n".join([
            f"if :: ({owner} == -1 && {queue} != 0) ->",
            f"   g_e = {queue} % {base} - 1;",
            "   if",
            "   :: (g_e & 1) == 1 ->",
            f"      if :: {readers} == 0 -> {owner} = g_e / 2; {queue} = {queue} / {base}; "
            "g_woken = g_woken | (1 << (g_e / 2)) :: else -> skip fi",
            "   :: else ->",
            f"      g_q = {queue}; g_rest = 0; g_mult = 1; g_taking = 1;",
            "      do",
            "      :: g_q == 0 -> break",
            "      :: else ->",
            f"         g_e = g_q % {base} - 1; g_q = g_q / {base};",
            "         if",
            f"         :: (g_e & 1) == 1 -> g_rest = g_rest + (g_e + 1) * g_mult; g_mult = g_mult * {base};{stop}",
            f"         :: (g_e & 1) == 0 && g_taking == 1 -> {readers} = {readers} + (1 << ({READ_BITS} * (g_e / 2))); "
            "g_woken = g_woken | (1 << (g_e / 2))",
            f"         :: else -> g_rest = g_rest + (g_e + 1) * g_mult; g_mult = g_mult * {base}",
            "         fi",
            "      od;",
            f"      {queue} = g_rest",
            "   fi",
            ":: else -> skip",
            "fi"])]


def extra_states(system: TransitionSystem) -> int:
    """How many more states SPIN stores than netcheck for the exported model: 1 with several initial
    states or violations while computing them (the state before the first step chooses), else 0."""
    return int(len(system.initial_states) > 1 or bool(system.initial_violations))


def export_promela(system: TransitionSystem) -> str:
    """The Promela model of a compiled spec (PromelaError: a construct with no faithful translation)."""
    return Model(system).text()


__all__ = ["PromelaError", "export_promela", "extra_states"]
