"""The compiled transition system: state layout, initial states, one program per thread, properties."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import NamedTuple, Protocol

from ..lang.errors import Diagnostic, Span, SpecError
from ..lang.expr import Expr, LockRef, Running, Shared, Unary, walk
from ..lang.lockapi import RCU_API, SPIN_KINDS, mutex_wait_modes
from ..lang.spec import PropertyDecl, Rcu, Spec, Stmt
from ..lang.types import BOOL, ListT, RefT
from . import ir
from .contexts import Context, Irq, context_slots, thread_contexts
from .discipline import Hold, Reduction, discipline, foldable
from .evaluate import THREADS, Env, EvalError, Fn, compile_expr, format_value, lock_base, reads_state
from .layout import Layout, LayoutTooLarge, Slot, SlotKind, shared_layout
from .locks import read_depth
from .program import CompileError, ThreadProgram, rcu_list_names, walk_statements
from .runtime import ActionInfo, Executions, RuntimeBuilder, Settle, Step, Threads, Violation
from .symmetry import Symmetry, find_symmetry

MUTEX_WAIT_OPS = tuple(mutex_wait_modes())   # acquires that wait while a mutex or spinlock is held
STUCK_ABOUT = ("no reachable state where a thread is stuck: not finished, not idle, and unable to ever step again "
               "whatever the other threads do")
BUILTIN_KINDS = {"deadlock_free": "deadlock", "lock_discipline": "lock_discipline", "runtime_safety": "runtime"}


@dataclass
class Thread:
    tid: int
    name: str          # instance name, e.g. creator[net0]
    decl: str          # the threads: entry it comes from
    pcslot: int
    steps: list[Step | None]
    runs: list
    nodes: list[ir.Node]
    settle: Settle
    finished: int
    daemon: bool
    local_slots: list[int]
    builder: RuntimeBuilder
    # (program points inside a call, a parameter's slot, the caller's slot passed or the constant): ThreadProgram
    frame_facts: tuple[tuple[frozenset[int], int, int | None, object], ...] = ()


Transition = tuple[int, int, int, bool, "tuple | Violation"]   # (tid, action, choice, signal, target)
RunCounts = list[tuple[list[int], list[int]]]   # per thread: runs per program point, `if` outcomes


class PropertyInfo(NamedTuple):
    """A property as the reports list it: name, kind, what it says, where it is declared (None: built in),
    and its expression (or assertion) as written."""

    name: str
    kind: str
    about: str
    span: Span | None
    text: str = ""


@dataclass(frozen=True)
class StateProperty:
    """An invariant, final or reachability property compiled for evaluation: the closure, the slots it
    reads, and the expression both the closure and z3 evaluate (negated for reachability)."""

    decl: PropertyDecl
    fn: object
    slots: tuple[int, ...]
    expr: Expr


class Memo(Protocol):
    """A memo of the steps' outcomes (memo.py's `StepMemo`) that `expand` goes through, keeping the run counts
    exact: runs it answered are pending until `flush`, dropped by `forget`, not counted while not `counting`."""

    counting: bool

    def expand(self, s: tuple) -> tuple[list[Transition], int]: ...
    def flush(self) -> None: ...
    def forget(self) -> None: ...


class TransitionSystem:
    """What the explorer needs: initial states and, per thread, the step at each program counter."""

    def __init__(self, spec: Spec, reduction: Reduction = Reduction.NONE, symmetry: bool = False):
        self.spec = spec
        self.reduction = reduction
        self._weight = [1]   # runtime.Counts.weight, shared by every thread's counts
        self._unreduced: TransitionSystem | None = None
        self._lock_places: dict[int, tuple[int, Fn | None]] = {}
        self._conditions: dict[int, Fn] = {}
        self.layout = Layout()
        self.names = {e.name: e.elements for e in spec.entities}
        self.enums = dict(spec.enums)
        try:
            self._compile()
        except CompileError as err:
            raise SpecError([Diagnostic(err.span, "NC401", err.message, err.hint)]) from None
        except LayoutTooLarge as err:
            where = spec.vars[0].span if spec.vars else Span(spec.files[0], 1, 1)
            raise SpecError([Diagnostic(where, "NC402", str(err), "lower the bounds, or index fewer "
                                        "variables and locks by entities (per:)")]) from None
        # what `expand` goes through once a search attaches it (memo.py's `remember`): the same transitions
        self.memo: Memo | None = None
        # the entities whose elements are interchangeable, when asked for (model/semantics/symmetry.py)
        self.symmetry: Symmetry | None = find_symmetry(self) if symmetry else None

    # -- compilation

    def _compile(self) -> None:
        spec, layout = self.spec, self.layout
        instances = self._instances()
        for i, (name, _, _, _) in enumerate(instances):
            layout.pc.append(layout.add(Slot(f"{name}.pc", SlotKind.PC, None, thread=i)))
        self.names[THREADS] = tuple(name for name, _, _, _ in instances)   # wait queues show their sleepers
        shared_layout(spec, layout)
        statements = [s for p in spec.procedures for s in walk_statements(p.body)]
        rcu_lists = rcu_list_names(statements)
        self.uses_rcu_readers = bool(rcu_lists) or bool(spec.rcu_callbacks) or any(
            isinstance(s, Rcu) and RCU_API[s.op].reader and not s.domain for s in statements)
        if self.uses_rcu_readers:
            for i, (name, _, _, _) in enumerate(instances):
                layout.rcu_nest.append(layout.add(Slot(f"{name}.rcu_read_depth", SlotKind.RCU_NEST, None, thread=i)))
            for i, (name, _, _, _) in enumerate(instances):
                layout.gp_wait.append(layout.add(Slot(f"{name}.gp_waits_for", SlotKind.GP_WAIT, None, thread=i)))
        for lock in spec.locks:   # an SRCU domain: each thread's nesting and grace-period wait in it
            if lock.kind == "srcu":
                layout.srcu_nest[lock.name] = [layout.add(Slot(f"{name}.srcu_read_depth({lock.name})",
                                                               SlotKind.RCU_NEST, None, thread=i, var=lock.name))
                                               for i, (name, _, _, _) in enumerate(instances)]
                layout.srcu_gp[lock.name] = [layout.add(Slot(f"{name}.srcu_gp_waits_for({lock.name})",
                                                             SlotKind.GP_WAIT, None, thread=i, var=lock.name))
                                             for i, (name, _, _, _) in enumerate(instances)]
        for list_name in rcu_lists:   # per element: its successor when list_del_rcu() took it off, its readers
            list_type = next(v.type for v in spec.vars if v.name == list_name)
            assert isinstance(list_type, ListT)
            elements = spec.entity(list_type.entity).elements
            element = RefT(list_type.entity, True)   # the key's entity
            nexts = [layout.add(Slot(f"{list_name}.deleted_next[{el}]", SlotKind.GHOST_NEXT, element, var=list_name,
                                     key=(k,))) for k, el in enumerate(elements)]
            readers = [layout.add(Slot(f"{list_name}.deleted_readers[{el}]", SlotKind.GHOST_READERS, element,
                                       var=list_name, key=(k,))) for k, el in enumerate(elements)]
            layout.rcu_lists[list_name] = (nexts[0] if nexts else len(layout.slots), readers[0] if readers else
                                           len(layout.slots), len(elements))
        defaults: dict[int, object] = {}
        decls = {t.name: t for t in spec.threads}
        self.decls = [decls[decl] for _, decl, _, _ in instances]
        context_slots(spec, layout, [name for name, _, _, _ in instances], [d.context for d in self.decls], defaults)
        for var in spec.vars:
            base, _ = layout.shared[var.name]
            for i, value in enumerate(var.init):
                defaults[base + i] = value
        for slot_index, slot in enumerate(layout.slots):
            if slot.kind in (SlotKind.PC, SlotKind.RCU_NEST, SlotKind.GP_WAIT, SlotKind.LOCK_READERS,
                             SlotKind.GHOST_READERS):
                defaults.setdefault(slot_index, 0)
            elif slot.kind in (SlotKind.LOCK_OWNER, SlotKind.GHOST_NEXT):
                defaults[slot_index] = -1
            elif slot.kind == SlotKind.LOCK_QUEUE:
                defaults[slot_index] = ()
        self.env = Env(layout, {e.name: len(e.elements) for e in spec.entities}, {}, {}, self.names)
        spin_slots = [layout.locks[lk.name][0] + i for lk in spec.locks if lk.kind in SPIN_KINDS
                      for i in range(self._lock_count(lk.name))]
        self.threads: list[Thread] = []
        others = Threads()
        programs = []
        for tid, (name, _, proc, args) in enumerate(instances):
            program = ThreadProgram(spec, layout, tid, name, self.env, defaults)
            entry = program.build(spec.procedure(proc), args)
            program.resolve()
            entry = program.entry_follow(entry)
            thread_decl = self.decls[tid]
            if thread_decl.interrupts:   # an interrupt of another thread's CPU: it starts by arriving there
                text = f"{thread_decl.context} arrives on {thread_decl.interrupts}'s CPU"
                entry = program.emit(ir.IrqArrive(stmt=Stmt(thread_decl.span, text), visible=True), None, entry)
            defaults[layout.pc[tid]] = entry
            defaults.update(program.initial_values)
            programs.append((program, entry))
        irqs = [Irq(tid, layout.pc[tid], entry, len(p.nodes)) if isinstance(p.nodes[entry], ir.IrqArrive) else None
                for tid, (p, entry) in enumerate(programs)]
        self.contexts: list[Context] = thread_contexts(layout, self.decls, self.names[THREADS], irqs)
        folds = self._fold([(p.nodes, entry) for p, entry in programs])
        for tid, ((name, decl, _, _), (program, _)) in enumerate(zip(instances, programs)):
            finished = len(program.nodes)
            builder = RuntimeBuilder(layout, tid, layout.pc[tid], program.nodes, spec.options.rwsem_wake ==
                                     "all_readers", spec.options.fatal_signals, spin_slots,
                                     (layout.rcu_nest, layout.gp_wait), self._end_check, finished, defaults, others,
                                     folds[tid], self.contexts[tid], self._weight)
            builder.build()
            others.pcslots.append(layout.pc[tid])
            others.nodes.append(program.nodes)
            others.settles.append(builder.settle)
            daemon = next(t.daemon for t in spec.threads if t.name == decl)
            self.threads.append(Thread(tid, name, decl, layout.pc[tid], builder.steps, builder.runs, program.nodes,
                                       builder.settle, finished, daemon, program.local_slots, builder,
                                       program.frame_facts()))
        self.defaults = defaults
        self.actions = self._number_actions()
        self._expansion = [(t.tid, t.pcslot, t.steps, 1 << t.tid, t.daemon, t.builder.counts.ran)
                           for t in self.threads]
        self.initial_violations: list[Violation] = []
        self.initial_states = self._initial_states()
        for thread in self.threads:
            thread.builder.counts.keep_initial()
        self.env = Env(layout, self.env.entity_sizes, {}, {}, self.names, self._positions())
        self.invariants = [self._state_property(p) for p in spec.properties if p.kind == "invariant"]
        self.finals = [self._state_property(p) for p in spec.properties if p.kind == "final"]
        # "can this ever happen?": checked like an invariant saying it never does; a violation is a witness
        self.reachables = [self._state_property(p, negate=True) for p in spec.properties if p.kind == "reachable"]
        # eventually: and leads_to: by name: the from: condition (leads_to only) and the goal
        self.goals = {p.name: (self.state_property(replace(p, name=f"{p.name}.from"), p.source) if p.source else None,
                               self._state_property(p))
                      for p in spec.properties if p.kind in ("eventually", "leads_to")}

    def unreduced(self) -> TransitionSystem:
        """The same spec without reduction (this system when it has none): traces are told in its steps."""
        if self.reduction is Reduction.NONE:
            return self
        if self._unreduced is None:
            self._unreduced = TransitionSystem(self.spec)
        return self._unreduced

    @property
    def symmetric(self) -> bool:
        """Whether the search stores one state per symmetry class (some entity is symmetric)."""
        return self.symmetry is not None and self.symmetry.size > 1

    def _fold(self, threads: list[tuple[list[ir.Node], int]]) -> list[dict[int, frozenset[Hold]]]:
        """Under the protected-data reduction, the steps folded into their thread's previous step (made
        invisible, marked `folded`), per thread with the locks the thread must hold there."""
        if self.reduction is Reduction.NONE or any(c.preempted_by for c in self.contexts):
            # an interrupt may stop a thread between two steps the reduction would fold: none is folded
            return [{} for _ in threads]
        rules = discipline(threads)
        out = []
        for tid, points in enumerate(foldable(self.spec, threads, rules)):
            nodes = threads[tid][0]
            for pc in points:
                nodes[pc].visible, nodes[pc].folded = False, True
            out.append({pc: rules.held[tid][pc] for pc in sorted(points)})
        return out

    def _number_actions(self) -> tuple[ActionInfo, ...]:
        actions: list[ActionInfo] = []
        for thread in self.threads:
            for pc, step in enumerate(thread.steps):
                if step is None:
                    continue
                step.action = len(actions)
                actions.append(ActionInfo(thread.tid, pc, False))
                if step.sig is not None:
                    step.sig_action = len(actions)
                    actions.append(ActionInfo(thread.tid, pc, True))
        return tuple(actions)

    def _lock_count(self, name: str) -> int:
        return sum(1 for s in self.layout.slots if s.var == name and s.kind == SlotKind.LOCK_OWNER)

    def _instances(self) -> list[tuple[str, str, str, list[object]]]:
        """(instance name, thread decl, procedure, constant argument values) for every thread instance."""
        out = []
        for t in self.spec.threads:
            if t.var and not t.domain:
                continue
            if t.var:
                entity = next(e for e in self.spec.entities if t.domain[0] in e.elements)
                bindings = [(f"{t.name}[{el}]", {t.var: entity.elements.index(el)}) for el in t.domain]
            elif t.count == 1:
                bindings = [(t.name, {})]
            else:
                bindings = [(f"{t.name}[{i}]", {}) for i in range(t.count)]
            for name, bound in bindings:
                args = []
                for a in t.args:
                    if reads_state(a):
                        raise CompileError(a.span, "thread arguments must be constants", "pass elements or null")
                    env = Env(self.layout, {e.name: len(e.elements) for e in self.spec.entities},
                              {var: i for i, var in enumerate(bound)}, {}, self.names)
                    args.append(compile_expr(a, env)(tuple(bound.values())))
                out.append((name, t.name, t.proc, args))
        return out

    def _end_check(self, l: Sequence, tid: int) -> str:
        """Why a finishing thread breaks lock discipline, or ''."""
        if self._lock_slots is None:
            self._lock_slots = [(base + i * width, width, self.layout.slots[base + i * width].name.rsplit(".", 1)[0])
                                for name, (base, width, _) in self.layout.locks.items()
                                for i in range(self._lock_count(name))]
        held = []
        for b, width, lock in self._lock_slots:
            if l[b] == tid:
                held.append(lock)
            elif width == 3 and read_depth(l[b + 1], tid):
                held.append(lock + " (read)")
        if self.layout.rcu_nest and l[self.layout.rcu_nest[tid]]:
            held.append("rcu_read_lock")
        held.extend(f"srcu_read_lock(&{domain})" for domain, nests in self.layout.srcu_nest.items() if l[nests[tid]])
        if held:
            return "thread finished while holding " + ", ".join(held)
        return self.contexts[tid].end_problem(l)

    _lock_slots: list[tuple[int, int, str]] | None = None

    def _initial_states(self) -> list[tuple]:
        base = [self.defaults.get(i, 0) for i in range(len(self.layout.slots))]
        self.base_state = tuple(base)
        states = [base]
        for thread in self.threads:
            out: list = []
            for l in states:
                thread.settle(list(l), out)
            states = []
            for r in out:
                if isinstance(r, Violation):
                    self.initial_violations.append(r)
                else:
                    states.append(list(r))
        return [tuple(s) for s in states]

    def why_no_state(self) -> str:
        """Why no state can be checked ('' when there is an initial state): every way to start breaks a
        property while the threads settle into their first visible steps."""
        if self.initial_states:
            return ""
        broken = sorted({v.prop for v in self.initial_violations})
        how = f"breaks {', '.join(broken)}" if broken else "ends"
        return (f"there is no initial state (every way to start {how} while the threads settle), so it was "
                "checked on no state")

    def _state_property(self, decl: PropertyDecl, negate: bool = False) -> StateProperty:
        return self.state_property(decl, Unary(BOOL, decl.expr.span, "not", decl.expr) if negate else decl.expr)

    def state_property(self, decl: PropertyDecl, expr: Expr) -> StateProperty:
        """A condition of a property compiled for evaluation (a liveness property has several)."""
        try:
            fn = compile_expr(expr, self.env)
        except EvalError as err:
            raise CompileError(decl.expr.span, str(err)) from None
        return StateProperty(decl, fn, tuple(sorted(self.mentioned_slots(expr))), expr)

    def _positions(self) -> dict[str, tuple[tuple[int, frozenset[int]], ...]]:
        """For each procedure, each thread's pc slot and the program counters inside that procedure."""
        out: dict[str, tuple[tuple[int, frozenset[int]], ...]] = {}
        for proc in self.spec.procedures:
            out[proc.name] = tuple((t.pcslot, frozenset(pc for pc, node in enumerate(t.nodes)
                                                        if proc.name in node.frame and not isinstance(node, ir.Jump)))
                                   for t in self.threads)
        return out

    def mentioned_slots(self, e: Expr) -> set[int]:
        """Every slot an expression may read (all of a variable's slots when its index is not constant)."""
        slots: set[int] = set()
        for x in walk(e):
            if isinstance(x, Running):
                slots.update(self.layout.pc)
            if isinstance(x, Shared):
                base, _ = self.layout.shared[x.name]
                slots.update(i for i in range(base, len(self.layout.slots))
                             if self.layout.slots[i].var == x.name and self.layout.slots[i].kind == SlotKind.SHARED)
            elif isinstance(x, LockRef):
                slots.update(i for i, s in enumerate(self.layout.slots)
                             if s.var == x.name and s.kind.is_lock)
        return slots

    # -- queries used by the explorer and the reports

    def quiescent(self, s: Sequence, tid: int) -> bool:
        """A thread that has finished, or a daemon (threads: daemon: true) resting at an idle await."""
        thread = self.threads[tid]
        pc = s[thread.pcslot]
        if pc == thread.finished:
            return True
        step = thread.steps[pc]
        return thread.daemon and step is not None and step.idle

    def slot_text(self, index: int, value: object) -> str:
        """A slot's value as the spec would write it (element names, enum names, lists)."""
        return format_value(value, self.layout.slots[index].type, self.names)

    def in_slow_step(self, s: Sequence, tid: int) -> bool:
        """Whether a thread is inside a slow step: waiting in synchronize_rcu()/rcu_barrier(), or at a
        statement (or inside a call) the spec marks `slow: true`."""
        node = self.node_at(s, tid)
        return node is not None and (isinstance(node, ir.GraceWait) or node.slow or (
            isinstance(node, ir.Await) and isinstance(node.stmt, Rcu)))   # rcu_barrier() waiting for callbacks

    def lock_slot(self, node: ir.LockCall | ir.LockWait, s: Sequence) -> int | None:
        """The first slot of the lock instance a lock statement names in state `s`; None when its key
        does not evaluate (a null index: the statement's step is a runtime_safety violation)."""
        place = self._lock_places.get(id(node))
        if place is None:
            assert node.lock is not None and node.env is not None
            place = self._lock_places[id(node)] = lock_base(node.lock, node.env)
        base, dyn = place
        try:
            return base + (dyn(s) if dyn is not None else 0)
        except EvalError:
            return None

    def condition(self, node: ir.Branch | ir.Await | ir.Check) -> Fn:
        """The closure of a node's condition (for analyses and tests; the runtime has its own)."""
        fn = self._conditions.get(id(node))
        if fn is None:
            assert node.cond is not None and node.env is not None
            fn = self._conditions[id(node)] = compile_expr(node.cond, node.env)
        return fn

    def mutex_wait_slot(self, s: Sequence, tid: int) -> int | None:
        """The slot of the mutex or spinlock a thread stands at a waiting acquire of (MUTEX_WAIT_OPS), or
        None: elsewhere, or at one whose index does not evaluate."""
        node = self.node_at(s, tid)
        if not isinstance(node, ir.LockCall) or node.op not in MUTEX_WAIT_OPS:
            return None
        return self.lock_slot(node, s)

    def node_at(self, s: Sequence, tid: int) -> ir.Node | None:
        thread = self.threads[tid]
        pc = s[thread.pcslot]
        return None if pc == thread.finished else thread.nodes[pc]

    # -- the engine protocol (checker/engine/system.py)

    @property
    def thread_count(self) -> int:
        return len(self.threads)

    def initial(self) -> list[tuple | Violation]:
        """The initial states, and the violations raised while computing them."""
        return [*self.initial_violations, *self.initial_states]

    def expand(self, s: tuple) -> tuple[list[Transition], int]:
        """Every labelled transition from `s`, and the mask of the threads blocked there. Counts each
        visible step that fires (coverage)."""
        if self.memo is not None:
            return self.memo.expand(s)
        return self.expand_each(s)

    def expand_each(self, s: tuple) -> tuple[list[Transition], int]:
        """`expand` without the step memo: every step fired on `s`."""
        out: list[Transition] = []
        blocked = 0
        for tid, pcslot, steps, bit, daemon, ran in self._expansion:
            pc = s[pcslot]
            step = steps[pc]
            if step is None:
                continue
            results = step.fire(s)
            if results:
                ran[pc] += 1
                if len(results) == 1:
                    out.append((tid, step.action, 0, False, results[0]))
                else:
                    action = step.action
                    out += [(tid, action, choice, False, r) for choice, r in enumerate(results)]
            elif not (daemon and step.idle):
                blocked |= bit
            if step.sig is not None:
                # a fatal signal is not progress: a thread that only a signal can move is still blocked
                signalled = step.sig(s)
                if signalled:
                    ran[pc] += 1
                    action = step.sig_action
                    out += [(tid, action, choice, True, r) for choice, r in enumerate(signalled)]
        return out, blocked

    def fire(self, s: tuple, action: int) -> list[tuple | Violation]:
        """The outcomes of one action in `s`, in choice order ([] when its thread is elsewhere)."""
        step = self._step(s, action)
        if step is None:
            return []
        fn = step.sig if self.actions[action].signal else step.fire
        return fn(s) if fn is not None else []

    def fire_traced(self, s: tuple, action: int) -> list[tuple[tuple[str, ...], tuple | Violation]]:
        """Like `fire`, each outcome with the `either` branches its thread took (for describing a trace)."""
        step = self._step(s, action)
        if step is None:
            return []
        info = self.actions[action]
        tracing = self.threads[info.tid].builder.tracing
        tracing.on = True
        try:
            fn = step.sig if info.signal else step.fire
            results = fn(s) if fn is not None else []
        finally:
            tracing.on = False
        # a step that fails before settling returns its violation bare
        return [r if r.__class__ is tuple else ((), r) for r in results]

    def micro_step(self, s: tuple, tid: int, signal: bool = False) -> list[tuple | Violation]:
        """The outcomes of the one IR node thread `tid` stands at in `s`, without settling anything
        afterwards (threads a releaser grants an rwsem are moved past their wait, not further): the
        steps model/semantics/relation.py gives a z3 meaning. `s` may be an unsettled state."""
        thread = self.threads[tid]
        pc = s[thread.pcslot]
        if pc == thread.finished:
            return []
        step = thread.steps[pc]
        if step is not None:
            fn = step.sig if signal else step.fire
            if fn is None:
                return []
            with self._unsettled():
                return fn(s)
        if signal:
            return []
        l = list(s)
        try:
            r = thread.runs[pc](l)
        except EvalError as err:
            return [Violation("runtime_safety", str(err), tid, pc)]
        if r.__class__ is int:
            l[thread.pcslot] = r
            return [tuple(l)]
        if r.__class__ is list:
            return [tuple(l[:thread.pcslot] + [target] + l[thread.pcslot + 1:]) for target in r]
        return [r]

    @contextmanager
    def uncounted(self) -> Iterator[None]:
        """Steps fired meanwhile leave the run counts (coverage) as they were: for checks that expand a
        state again."""
        # the lists as they are: the memo's pending runs are left alone (it adds none meanwhile)
        saved = [(t.builder.counts.ran.copy(), t.builder.counts.outcomes.copy()) for t in self.threads]
        counting = self.memo.counting if self.memo is not None else True
        if self.memo is not None:
            self.memo.counting = False
        try:
            yield
        finally:
            if self.memo is not None:
                self.memo.counting = counting
            self._set_lists(saved)

    def run_counts(self) -> RunCounts:
        """A copy of the run counts so far, per thread (runs per program point, `if` outcomes)."""
        if self.memo is not None:
            self.memo.flush()
        return [(t.builder.counts.ran.copy(), t.builder.counts.outcomes.copy()) for t in self.threads]

    def set_run_counts(self, counts: RunCounts) -> None:
        """Back to counts `run_counts` gave, in place (the compiled steps hold these very lists)."""
        if self.memo is not None:
            self.memo.forget()
        self._set_lists(counts)

    def _set_lists(self, counts: RunCounts) -> None:
        for t, (ran, outcomes) in zip(self.threads, counts):
            t.builder.counts.ran[:] = ran
            t.builder.counts.outcomes[:] = outcomes

    def add_run_counts(self, more: RunCounts) -> None:
        """Add counts made elsewhere (a partitioned search's workers) to these, in place."""
        for t, (ran, outcomes) in zip(self.threads, more):
            counts = t.builder.counts
            counts.ran[:] = [a + b for a, b in zip(counts.ran, ran)]
            counts.outcomes[:] = [a + b for a, b in zip(counts.outcomes, outcomes)]

    @contextmanager
    def _unsettled(self) -> Iterator[None]:
        """Every thread's `settle` stops at once (micro steps), for the duration."""
        def stop(l: list, out: list) -> None:
            out.append(tuple(l))
        builders = [t.builder for t in self.threads]
        others = builders[0].others if builders else None
        saved = [b.settle for b in builders]
        for b in builders:
            b.settle = stop
        if others is not None:
            others.settles[:] = [stop] * len(others.settles)
        try:
            yield
        finally:
            for b, settle in zip(builders, saved):
                b.settle = settle
            if others is not None:
                others.settles[:] = saved

    def _step(self, s: tuple, action: int) -> Step | None:
        info = self.actions[action]
        thread = self.threads[info.tid]
        return thread.steps[info.pc] if s[thread.pcslot] == info.pc else None

    def position(self, s: tuple, tid: int) -> int:
        return s[self.threads[tid].pcslot]

    def woken_positions(self, tid: int) -> frozenset[int]:
        """Where another thread's step may move this thread on: its rwsem waits (the releaser grants)."""
        return frozenset(pc for pc, n in enumerate(self.threads[tid].nodes) if isinstance(n, ir.LockWait))

    def restart_counts(self) -> None:
        """Back to the run counts of computing the initial states, before an exploration."""
        if self.memo is not None:
            self.memo.forget()
        for thread in self.threads:
            thread.builder.counts.restart()

    def executions(self) -> Executions:
        """The run counts so far (an exploration's, when taken right after it)."""
        if self.memo is not None:
            self.memo.flush()
        counts = [thread.builder.counts for thread in self.threads]
        return Executions(tuple(tuple(c.ran) for c in counts), tuple(tuple(c.outcomes) for c in counts))

    def property_kinds(self) -> list[PropertyInfo]:
        """Every property, in report order."""
        out: list[PropertyInfo] = []
        for p in self.spec.properties:   # invariant, final, reachable, waits_on_slow
            out.append(PropertyInfo(p.name, p.kind, p.about, p.span, p.text))
        for a in self.spec.asserts:
            out.append(PropertyInfo(a.name, "assert", a.about or a.text, a.span, a.text))
        if self.spec.options.deadlock:
            out.append(PropertyInfo("deadlock_free", "deadlock", STUCK_ABOUT, None))
        out.append(PropertyInfo("lock_discipline", "lock_discipline",
                                "no unlock of a lock not held, no re-acquiring a held lock, no finishing with a lock "
                                "held", None))
        out.append(PropertyInfo("runtime_safety", "runtime",
                                "no list corruption, no out-of-range value, no null dereference", None))
        return out
