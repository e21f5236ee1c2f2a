"""From a located YAML tree to a validated `Spec`: declarations, bounds, threads and properties."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from . import rcucallbacks
from .callbacks import CallbackParser, masks
from .errors import Diagnostics, Span, did_you_mean, shorten
from .expr import ERRNO, Const, Expr, ExprError, Scope, VarInfo, parse_condition, parse_expr
from .extends import load_with_extends, proc_name
from .lockapi import MAX_SUBCLASS
from .spec import (
    Assert,
    CallbackTable,
    Entity,
    Expectation,
    ForEach,
    Group,
    KnownCycle,
    Lemma,
    LockClasses,
    LockDecl,
    Options,
    Procedure,
    PropertyDecl,
    RcuCallbackDecl,
    Spec,
    ThreadDecl,
    VarDecl,
    WorkDecl,
    WorkqueueDecl,
    thread_instances,
    walk_statements,
)
from .statements import BodyParser, Signature, parse_signature
from .types import BOOL, BoolT, EnumT, IntT, ListT, RefT, SetT, Type, TypeSyntaxError, WaitQueueT, parse_type
from .works import WORK_KEYS, WORK_STATE, WORK_STATES, WORKQUEUE_KEYS, Lowering, Works, state_vars
from .yamlload import Map, Node, Scalar, Seq, describe

TOP_KEYS = ("netcheck", "name", "about", "extends", "entities", "types", "locks", "state", "procedures",
            "threads", "properties", "lemmas", "options", "expect", "pinned", "known_cycles", "workqueues", "works",
            "callbacks")
QUESTION_KINDS = ("reachable", "waits_on_slow")   # asked, never violated
LOCK_KINDS = ("mutex", "rwsem", "spinlock", "raw_spinlock", "srcu")
# The keys each section's entries take (the parser and the JSON Schema of model/lang/schema.py read these).
LOCK_KEYS = ("kind", "per", "classes")
LOCK_CLASSES = tuple(c.value for c in LockClasses)   # the values of a lock's classes:
KNOWN_CYCLE_KEYS = ("locks", "reason")
# A lock class as known_cycles: names it: NAME, NAME/SUBCLASS, NAME[ELEMENT, ...] (classes: per_instance)
CLASS_RE = re.compile(r"\s*([A-Za-z_]\w*)\s*(?:\[([^\]]*)\])?\s*(?:/\s*(\d+))?\s*")
STATE_KEYS = ("type", "per", "init")
THREAD_KEYS = ("run", "for", "count", "daemon", "about", "context", "interrupts")
CONTEXTS = ("process", "softirq", "hardirq")
MAX_THREAD_COUNT = 16
LIVENESS_KINDS = ("eventually", "leads_to", "progress", "returns_when_killed")   # on every fair run
THREAD_KINDS = ("waits_on_slow", "progress", "returns_when_killed")   # they name a threads: entry
PROPERTY_KINDS = ("invariant", "final", "reachable", "waits_on_slow", *LIVENESS_KINDS)
# during: waits_on_slow only; fairness: the liveness kinds; within: returns_when_killed
PROPERTY_KEYS = (*PROPERTY_KINDS, "about", "during", "fairness", "within")
LEADS_TO_KEYS = ("from", "to")
FAIRNESS = ("weak", "strong")                  # the values of fairness: (a property's, or options:)
OPTION_FLAGS = ("deadlock", "fatal_signals")   # true or false
RWSEM_WAKE = ("head_run", "all_readers")       # the values of options: rwsem_wake:
OPTION_KEYS = (*OPTION_FLAGS, "rwsem_wake", "fairness")
EXPECT_KEYS = ("violated",)
EXPECT_HOLDS = "holds"
BUILTIN_PROPERTIES = ("deadlock_free", "lock_discipline", "runtime_safety")
MAX_GROUP = 16
MAX_KEYS = 10_000  # slots of one per: variable
MAX_ENTITY = 30
NAME_RE = re.compile(r"^[A-Za-z_]\w*$")


def base_scope(entities: Sequence[Entity], enums: Sequence[tuple[str, tuple[str, ...]]],
           locks: Sequence[LockDecl], shared: dict[str, VarInfo], broken: frozenset[str] = frozenset()) -> Scope:
    """What names mean in the spec's expressions: entities, groups, elements, enum values, state, locks."""
    ents = {e.name: e.elements for e in entities}
    elements: dict[str, tuple[str, int]] = {}
    groups: dict[str, tuple[str, int]] = {}
    for e in entities:
        index = 0
        for g in e.groups:
            mask = 0
            for el in g.elements:
                elements[el] = (e.name, index)
                mask |= 1 << index
                index += 1
            if g.name != e.name:
                groups[g.name] = (e.name, mask)
    enum_values = {}
    for name, values in enums:
        t = EnumT(name, values)
        for i, v in enumerate(values):
            enum_values[v] = (t, i)
    lock_map = {lk.name: (lk.kind, lk.per) for lk in locks}
    return Scope(ents, groups, elements, enum_values, shared, lock_map, broken=broken)


def lemma_scope(spec: Spec) -> Scope:
    """The scope lemmas are written in, rebuilt from a loaded spec (`netcheck prove` parses the invariants it
    writes back in it)."""
    scope = base_scope(spec.entities, spec.enums, spec.locks, {v.name: VarInfo(v.type, v.per) for v in spec.vars})
    return scope.with_procedures(frozenset(p.name for p in spec.procedures)) \
        .with_threads(frozenset(n for t in spec.threads for n in thread_instances(t)), local_types(spec.procedures))


def local_types(procedures: Sequence[Procedure]) -> dict[str, Type | None]:
    """Every local name of the spec's procedures (parameters, locals, loop variables: a nullable element)
    and its type, joined over the procedures declaring it (an element of the same entity, nullable if one
    is; integers, the union of the ranges); None for a name whose types do not join (lemmas' local())."""
    out: dict[str, Type | None] = {}
    for proc in procedures:
        declared = {name for name, _ in (*proc.params, *proc.locals)}
        loops = [(s.var, RefT(s.source.type.entity, True)) for s in walk_statements(proc.body)
                 if isinstance(s, ForEach) and s.var not in declared and s.source is not None
                 and isinstance(s.source.type, (ListT, SetT))]
        for name, t in (*proc.params, *proc.locals, *loops):
            out[name] = _join(out[name], t) if name in out else t
            out[f"{proc.name}.{name}"] = t   # local(THREAD, PROC.NAME): that procedure's own frame
    return out


def _join(a: Type | None, b: Type) -> Type | None:
    if a == b or a is None:
        return a
    if isinstance(a, RefT) and isinstance(b, RefT) and a.entity == b.entity:
        return RefT(a.entity, a.nullable or b.nullable)
    if isinstance(a, IntT) and isinstance(b, IntT) and None not in (a.lo, a.hi, b.lo, b.hi) and not a.counter \
            and not b.counter:
        return IntT(min(a.lo, b.lo), max(a.hi, b.hi))   # type: ignore[type-var]
    return None


def load_spec(path: str | Path, bounds: Mapping[str, int] | None = None) -> Spec:
    """Load, merge (extends:) and validate a spec file; raise SpecError with every problem found."""
    shown = str(path)
    tree, files = load_with_extends(Path(path), shown)
    return SpecParser(tree, files, dict(bounds or {})).parse()


class SpecParser:
    def __init__(self, tree: Map, files: tuple[str, ...], bounds: dict[str, int]):
        self.tree = tree
        self.files = files
        self.bounds = bounds
        self.diag = Diagnostics()
        # Names whose declaration was refused (and reported): their uses are not reported again.
        self.broken: set[str] = set()
        self.pins: dict[str, tuple[str, Span]] = {}   # pinned: bounds --bound may not change
        self.entity_decls: list[Entity] = []
        self.callbacks: list[CallbackTable] = []      # callbacks: (model/lang/callbacks.py)

    # -- helpers

    def err(self, span: Span, code: str, message: str, hint: str = "") -> None:
        self.diag.error(span, code, message, hint)

    def section(self, key: str) -> Map | None:
        node = self.tree.get(key)
        if node is None:
            return None
        if not isinstance(node, Map):
            self.err(node.span, "NC101", f"'{key}' must be a mapping, not {describe(node)}",
                     f"write '{key}:' followed by indented 'NAME: ...' entries")
            return None
        return node

    def text(self, node: Node | None, what: str) -> str | None:
        if node is None:
            return None
        if isinstance(node, Scalar) and isinstance(node.value, str):
            return node.value
        self.err(node.span, "NC101", f"{what} must be text, not {describe(node)}", 'quote it: "..."')
        return None

    def check_name(self, key: Scalar, what: str) -> bool:
        if not NAME_RE.match(key.text) or key.text.startswith("__"):
            self.err(key.span, "NC102", f"{what} name '{key.text}' is not a plain identifier",
                     "use letters, digits and _")
            return False
        if key.text in self.taken:
            self.err(key.span, "NC103", f"{what} name '{key.text}' is already used as {self.taken[key.text]}",
                     "names of entities, elements, groups, locks, state, enum values must be distinct")
            return False
        self.taken[key.text] = what
        return True

    # -- the whole spec

    def parse(self) -> Spec:
        self.taken: dict[str, str] = {n: "an errno constant" for n in ERRNO}
        for reserved in ("true", "false", "null", "True", "False", "None", *BUILTIN_PROPERTIES):
            self.taken[reserved] = "a reserved word"
        for key, value in self.tree.entries:
            if key.text not in TOP_KEYS:
                self.err(key.span, "NC104", f"unknown top-level key '{key.text}'", did_you_mean(key.text, TOP_KEYS))
                if isinstance(value, Map):  # a misspelt section: what it declares is not there
                    self.broken.update(proc_name(k.text) for k, _ in value.entries)
        version = self.tree.get("netcheck")
        if version is None:
            self.err(self.tree.span, "NC105", "missing 'netcheck: 1' (the spec language version)",
                     "add 'netcheck: 1' as the first line")
        elif not (isinstance(version, Scalar) and version.value == 1):
            self.err(version.span, "NC105", "unsupported spec language version", "write 'netcheck: 1'")
        name_node = self.tree.get("name")
        name = self.text(name_node, "name") or Path(self.files[0]).stem
        about = self.text(self.tree.get("about"), "about") or ""
        self.pins = self.pinned()
        entities = self.parse_entities()
        enums, aliases = self.parse_types(entities)
        locks = self.parse_locks(entities)
        known_cycles = self.parse_known_cycles(locks, entities)
        works = self.parse_works()
        if works.works:
            enums.append((WORK_STATE, WORK_STATES))
        entity_names = {e.name for e in entities}
        scope = self.base_scope(entities, enums, locks, {})
        variables = self.parse_state(entity_names, aliases, scope)
        variables.extend(VarDecl(name, t, (), (init,), span) for name, t, init, span in state_vars(works))  # type: ignore[arg-type]
        scope = self.base_scope(entities, enums, locks, {v.name: VarInfo(v.type, v.per) for v in variables})
        lowering = Lowering(works)
        self.entity_decls = entities
        procedures, asserts = self.parse_procedures(scope, entity_names, aliases, lowering)
        scope = replace(scope, callbacks=masks(self.callbacks), broken=scope.broken | frozenset(self.broken))
        self.check_works(works, procedures)
        worker_procs, workers = lowering.workers(scope) if works.works and not self.diag.items else ([], [])
        threads = self.parse_threads(scope, procedures)
        self.check_contexts(threads)
        rcu_decls = self.check_rcu_callbacks(threads, procedures, variables)
        scope, rcu_procs, rcu_threads, rcu_idle = self.rcu_callbacks(rcu_decls, entities, enums, locks, variables,
                                                                     scope)
        procedures = [*procedures, *worker_procs, *rcu_procs]
        threads = [*threads, *workers, *rcu_threads]
        properties = self.parse_properties(scope, asserts, threads, procedures)
        lemmas = self.parse_lemmas(scope, threads, procedures)
        options = self.parse_options()
        expect = self.parse_expect(properties, asserts, options)
        self.check_bounds_used(entities)
        self.diag.raise_if_any()
        bounds = tuple((g.name, len(g.elements)) for e in entities for g in e.groups if g.counted)
        return Spec(name, about, self.files, tuple(entities), tuple(enums), tuple(locks), tuple(variables),
                    tuple(procedures), tuple(threads), tuple(properties), tuple(asserts), options, bounds,
                    expect, tuple(known_cycles), works.queues, works.works, tuple(lemmas), tuple(self.callbacks),
                    tuple(rcu_decls) if rcu_procs else (), rcu_idle)

    # -- entities

    def parse_entities(self) -> list[Entity]:
        section = self.section("entities")
        out: list[Entity] = []
        if section is None:
            return out
        for key, value in section.entries:
            if not self.check_name(key, "entity"):
                continue
            groups: list[Group] = []
            if isinstance(value, Map):
                for gkey, gvalue in value.entries:
                    if self.check_name(gkey, "group"):
                        groups.append(self.parse_group(gkey.text, gvalue))
            else:
                groups.append(self.parse_group(key.text, value, own=True))
            total = sum(len(g.elements) for g in groups)
            if total > MAX_ENTITY:
                self.err(value.span, "NC106", f"entity '{key.text}' has {total} elements, over {MAX_ENTITY}",
                         "lower the bounds")
            out.append(Entity(key.text, tuple(groups), key.span))
        return out

    def pinned(self) -> dict[str, tuple[str, Span]]:
        """`pinned: {BOUND: REASON}`: bounds --bound may lower but not raise, with why (and where it is said)."""
        node = self.tree.get("pinned")
        if node is None:
            return {}
        if not isinstance(node, Map):
            self.err(node.span, "NC101", "pinned: takes a mapping BOUND: REASON",
                     'pinned: {device: "one link type is modelled"}')
            return {}
        out = {}
        for key, value in node.entries:
            reason = self.text(value, "a pinned bound's reason")
            if reason:
                out[key.text] = (reason, key.span)
        return out

    def parse_group(self, name: str, node: Node, own: bool = False) -> Group:
        if isinstance(node, Scalar) and isinstance(node.value, int) and not isinstance(node.value, bool):
            count = self.bounds.get(name, node.value)
            pin = self.pins.get(name)
            if pin is not None and count > node.value:   # fewer is fewer of the same; more may mean nothing
                self.err(pin[1], "NC106", f"--bound {name}={count}: the spec pins {name} at most {node.value}: "
                         f"{pin[0]}", f"use {name} from 0 to {node.value}, or extend the spec with pinned: "
                         f"{{{name}: null}} once more is meaningful")
                count = node.value
            if not 0 <= count <= MAX_GROUP:
                self.err(node.span, "NC106", f"bound {name}={shorten(str(count))} is outside 0..{MAX_GROUP}",
                         f"use a count from 0 to {MAX_GROUP}")
                count = 0
            elements = tuple(f"{name}{i}" for i in range(count))
            for e in elements:
                if e in self.taken:
                    self.err(node.span, "NC103", f"element name '{e}' is already used as {self.taken[e]}",
                             "rename the entity, group or other name that clashes")
                self.taken[e] = "an element"
            if not own:
                self.taken.pop(name, None)
                self.taken[name] = "a group"
            return Group(name, elements, True)
        if isinstance(node, Seq):
            names: list[str] = []
            for item in node.items:
                if isinstance(item, Scalar) and self.check_name(item, "element"):
                    names.append(item.text)
                elif not isinstance(item, Scalar):
                    self.err(item.span, "NC101", f"element names must be text, not {describe(item)}",
                             "net: [init_net, other_net]")
            return Group(name, tuple(names), False)
        self.err(node.span, "NC101", f"'{name}' must be a count, a list of element names, or a mapping of groups",
                 "entities: {net: 2, ops: {subsys: 1, device: 1}}")
        return Group(name, (), False)

    def check_bounds_used(self, entities: list[Entity]) -> None:
        counted = {g.name for e in entities for g in e.groups if g.counted}
        for name, (_, span) in self.pins.items():
            if name not in counted:
                self.err(span, "NC107", f"pinned: no entity or group '{name}' is declared with a count",
                         did_you_mean(name, counted) or "pin a bound the entities: section declares")
        # Point at the entities: section, where the names --bound can set are declared.
        where = self.tree.key_node("entities").span if self.tree.get("entities") is not None else self.tree.span
        for name in self.bounds:
            if name not in counted:
                self.err(where, "NC107", f"--bound {name}: no entity or group of that name "
                         "is declared with a count",
                         did_you_mean(name, counted) or "this spec declares no counted entity or group")

    # -- types and locks

    def parse_types(self, entities: list[Entity]) -> tuple[list[tuple[str, tuple[str, ...]]], dict[str, Type]]:
        section = self.section("types")
        enums: list[tuple[str, tuple[str, ...]]] = []
        aliases: dict[str, Type] = {}
        if section is None:
            return enums, aliases
        names = {e.name for e in entities}
        for key, value in section.entries:
            text = self.text(value, "a type")
            if text is None or not self.check_name(key, "type"):
                continue
            try:
                t = parse_type(text, names, aliases, key.text)
            except TypeSyntaxError as err:
                self.err(value.span, "NC108", str(err), err.hint)
                self.broken.add(key.text)
                continue
            aliases[key.text] = t
            if isinstance(t, EnumT):
                enums.append((key.text, t.values))
                for v in t.values:
                    if v in self.taken:
                        self.err(value.span, "NC103", f"enum value '{v}' is already used as {self.taken[v]}",
                                 "rename the enum value")
                    self.taken[v] = "an enum value"
        return enums, aliases

    def parse_locks(self, entities: list[Entity]) -> list[LockDecl]:
        section = self.section("locks")
        out: list[LockDecl] = []
        if section is None:
            return out
        names = {e.name for e in entities}
        for key, value in section.entries:
            if not self.check_name(key, "lock"):
                self.broken.add(key.text)
                continue
            kind_node: Node | None = value
            per: tuple[str, ...] = ()
            misspelt = False
            classes = LockClasses.SHARED
            if isinstance(value, Map):
                misspelt = self.unknown_keys(value, LOCK_KEYS)
                kind_node = value.get("kind")
                per = self.parse_per(value.get("per"), names)
                classes = self.lock_classes(value.get("classes"), key.text, bool(per))
            if kind_node is None:
                if not misspelt:  # else the unknown key was reported
                    self.err(value.span, "NC109", f"lock '{key.text}' needs a kind", "kind: mutex, rwsem or spinlock")
                self.broken.add(key.text)
                continue
            kind = self.text(kind_node, "a lock kind")
            if kind not in LOCK_KINDS:
                if kind is not None:
                    self.err(kind_node.span, "NC109", f"unknown lock kind '{shorten(kind)}'",
                             did_you_mean(kind, LOCK_KINDS))
                self.broken.add(key.text)
                continue
            if kind == "srcu" and (per or classes is not LockClasses.SHARED):
                self.err(value.span, "NC126", f"srcu lock '{key.text}' has per: or classes:",
                         "declare one SRCU domain per srcu_struct: 'NAME: srcu'")
                self.broken.add(key.text)
                continue
            instances = 1
            for entity in per:
                instances *= max(1, len(next(e for e in entities if e.name == entity).elements))
            if instances > MAX_KEYS:
                self.err(value.span, "NC110", f"lock '{key.text}' has {instances:,} instances (per: {', '.join(per)}),"
                         f" over {MAX_KEYS:,}", "lower the bounds or index it by fewer entities")
                self.broken.add(key.text)
                continue
            out.append(LockDecl(key.text, kind, per, key.span, classes))
        return out

    def lock_classes(self, node: Node | None, name: str, per: bool) -> LockClasses:
        """A per: lock's `classes:`: shared (one lockdep class, the default) or per_instance."""
        if node is None:
            return LockClasses.SHARED
        if not (isinstance(node, Scalar) and node.text in LOCK_CLASSES):
            text = node.text if isinstance(node, Scalar) else describe(node)
            self.err(node.span, "NC124", f"classes: takes {' or '.join(LOCK_CLASSES)}, got '{shorten(text)}'",
                     "classes: per_instance gives each instance its own lockdep class")
            return LockClasses.SHARED
        if not per and node.text != LockClasses.SHARED.value:
            self.err(node.span, "NC124", f"classes: {node.text} on lock '{name}', which has one instance",
                     "classes: applies to a lock with per:")
        return LockClasses(node.text)

    def parse_known_cycles(self, locks: list[LockDecl], entities: list[Entity]) -> list[KnownCycle]:
        """`known_cycles: [{locks: [CLASS, ...], reason: TEXT}, ...]`: intended lock-order cycles."""
        node = self.tree.get("known_cycles")
        if node is None:
            return []
        form = 'known_cycles: [{locks: [A, B], reason: "..."}]'
        if not isinstance(node, Seq):
            self.err(node.span, "NC124", f"known_cycles: takes a list, not {describe(node)}", form)
            return []
        out: list[KnownCycle] = []
        seen: dict[frozenset[str], Span] = {}
        for item in node.items:
            if not isinstance(item, Map):
                self.err(item.span, "NC124", f"a known_cycles: entry is a mapping, not {describe(item)}", form)
                continue
            self.unknown_keys(item, KNOWN_CYCLE_KEYS)
            reason_node = item.get("reason")
            reason = self.text(reason_node, "a known cycle's reason")
            if reason_node is None or (reason is not None and not reason.strip()):
                self.err(item.span, "NC124", "a known cycle needs its reason",
                         'reason: "why this order cannot deadlock"')
            listed = item.get("locks")
            classes = self.cycle_classes(listed, locks, entities, form) if listed is not None else None
            if listed is None:
                self.err(item.span, "NC124", "a known cycle needs locks:, the lock classes on it", form)
            if classes is None or reason is None or not reason.strip():
                continue
            key = frozenset(classes)
            if key in seen:
                self.err(item.span, "NC124", f"the cycle through {', '.join(classes)} is already declared at "
                         f"{seen[key].short}", "declare each known cycle once")
                continue
            seen[key] = item.span
            out.append(KnownCycle(classes, reason.strip(), item.span))
        return out

    def cycle_classes(self, node: Node, locks: list[LockDecl], entities: list[Entity],
                      form: str) -> tuple[str, ...] | None:
        """The lock classes a known cycle names, normalised (`l/0` is `l`); None after an error."""
        items = node.items if isinstance(node, Seq) else ()
        if not isinstance(node, Seq) or not items:
            self.err(node.span, "NC124", "locks: takes a non-empty list of lock classes", form)
            return None
        declared = {lock.name: lock for lock in locks}
        out: list[str] = []
        ok = True
        for item in items:
            text = item.text if isinstance(item, Scalar) else describe(item)
            m = CLASS_RE.fullmatch(text) if isinstance(item, Scalar) and isinstance(item.value, str) else None
            cls = self.lock_class(m, declared, entities, item.span, text) if m else None
            if m is None:
                self.err(item.span, "NC124", f"'{shorten(text)}' is not a lock class",
                         "a lock name, with /SUBCLASS for a _nested acquisition (rq_lock/1), or [ELEMENT] for "
                         "a lock with classes: per_instance")
            if cls is None:
                ok = False
            elif cls in out:
                self.err(item.span, "NC124", f"lock class '{cls}' is listed twice", "a cycle passes each class once")
                ok = False
            else:
                out.append(cls)
        return tuple(out) if ok else None

    def lock_class(self, m: re.Match, declared: dict[str, LockDecl], entities: list[Entity], span: Span,
                   text: str) -> str | None:
        name, index, sub = m.group(1), m.group(2), m.group(3)
        lock = declared.get(name)
        if lock is None:
            if name not in self.broken:
                self.err(span, "NC124", f"known_cycles: no lock '{name}'",
                         did_you_mean(name, declared) or "name a lock declared under locks:")
            return None
        if sub is not None and int(sub) > MAX_SUBCLASS:
            self.err(span, "NC124", f"subclass {sub} of '{name}': lockdep has subclasses 0 to {MAX_SUBCLASS}",
                     f"write {name}/1 for SINGLE_DEPTH_NESTING")
            return None
        per_instance = lock.classes is LockClasses.PER_INSTANCE
        if per_instance and index is None:
            self.err(span, "NC124", f"'{name}' has a lockdep class per instance: name one",
                     f"write {name}[ELEMENT]")
            return None
        if index is not None:
            if not per_instance:
                self.err(span, "NC124", f"'{shorten(text)}': the instances of '{name}' share one lock class",
                         f"write {name}, or declare it with classes: per_instance")
                return None
            elements = ", ".join(part.strip() for part in index.split(","))
            keys = instance_names(entities, lock.per)
            if elements not in keys:
                self.err(span, "NC124", f"'{name}' has no instance [{elements}]",
                         did_you_mean(elements, keys) or "name elements of " + ", ".join(lock.per))
                return None
            name = f"{name}[{elements}]"
        return name + (f"/{int(sub)}" if sub is not None and int(sub) else "")

    def parse_per(self, node: Node | None, entities: set[str]) -> tuple[str, ...]:
        if node is None:
            return ()
        items = node.items if isinstance(node, Seq) else (node,)
        out = []
        for item in items:
            if isinstance(item, Scalar) and item.text in entities:
                out.append(item.text)
            else:
                text = item.text if isinstance(item, Scalar) else describe(item)
                self.err(item.span, "NC110", f"per: takes entity names, got '{shorten(text)}'",
                         did_you_mean(text, entities) or "declare the entity under entities:")
        return tuple(out)

    def unknown_keys(self, node: Map, allowed: tuple[str, ...]) -> bool:
        """Report keys outside `allowed`; whether there were any."""
        found = False
        for key, _ in node.entries:
            if key.text not in allowed:
                self.err(key.span, "NC104", f"unknown key '{shorten(key.text)}'", did_you_mean(key.text, allowed))
                found = True
        return found

    # -- scope

    def base_scope(self, entities: list[Entity], enums: list[tuple[str, tuple[str, ...]]],
                   locks: list[LockDecl], shared: dict[str, VarInfo]) -> Scope:
        return base_scope(entities, enums, locks, shared, frozenset(self.broken))

    # -- state

    def parse_state(self, entities: set[str], aliases: dict[str, Type], scope: Scope) -> list[VarDecl]:
        section = self.section("state")
        out: list[VarDecl] = []
        if section is None:
            return out
        for key, value in section.entries:
            if not self.check_name(key, "state variable"):
                continue
            type_node: Node | None = value
            per: tuple[str, ...] = ()
            init_node: Node | None = None
            misspelt = False
            if isinstance(value, Map):
                misspelt = self.unknown_keys(value, STATE_KEYS)
                type_node = value.get("type")
                per = self.parse_per(value.get("per"), entities)
                init_node = value.get("init")
            text = self.text(type_node, "a type") if type_node is not None else None
            if text is None:
                if type_node is None and not misspelt:  # else the unknown key was reported
                    self.err(value.span, "NC108", f"state '{key.text}' needs a type", "write {type: TYPE}")
                self.broken.add(key.text)
                continue
            try:
                t = parse_type(text, entities, aliases)
                anonymous_enum(t)
            except TypeSyntaxError as err:
                assert type_node is not None
                if text.strip() not in self.broken:  # else the type alias was reported
                    self.err(type_node.span, "NC108", str(err), err.hint)
                self.broken.add(key.text)
                continue
            keys = 1
            for entity in per:
                keys *= len(scope.entities[entity])
            if keys > MAX_KEYS:
                self.err(value.span, "NC110", f"'{key.text}' has {keys:,} keys (per: {', '.join(per)}), over "
                         f"{MAX_KEYS:,}", "lower the bounds or index it by fewer entities")
                self.broken.add(key.text)
                continue
            if isinstance(t, WaitQueueT) and init_node is not None:
                self.err(init_node.span, "NC217", f"'{key.text}' is a wait queue: it starts empty",
                         "remove init: (DECLARE_WAIT_QUEUE_HEAD has no sleepers)")
                init_node = None
            init = self.parse_init(key.text, t, per, init_node, scope, keys, value.span)
            out.append(VarDecl(key.text, t, per, init, key.span))
        return out

    def parse_init(self, name: str, t: Type, per: tuple[str, ...], node: Node | None, scope: Scope,
                   keys: int, span: Span) -> tuple[object, ...]:
        default = self.default_value(name, t, node is None, span)
        if not per:
            return (default if node is None else self.encode(t, node, scope),)
        values = [default] * keys
        if node is None:
            return tuple(values)
        if not isinstance(node, Map):
            value = self.encode(t, node, scope)
            return tuple([value] * keys)
        for key, item in node.entries:
            parts = [p.strip() for p in key.text.split(",")]
            index = 0
            ok = len(parts) == len(per)
            for part, entity in zip(parts, per):
                found = scope.elements.get(part)
                if found is None or found[0] != entity:
                    ok = False
                    break
                index = index * len(scope.entities[entity]) + found[1]
            if not ok:
                self.err(key.span, "NC111", f"'{shorten(key.text)}' is not a key of {name} (per: {', '.join(per)})",
                         "write the element names separated by commas, e.g. 'net0, ops1'")
                continue
            values[index] = self.encode(t, item, scope)
        return tuple(values)

    def default_value(self, name: str, t: Type, needed: bool, span: Span) -> object:
        if isinstance(t, BoolT):
            return False
        if isinstance(t, WaitQueueT):
            return 0   # the sleepers, one bit per thread: none
        if isinstance(t, IntT):
            assert t.lo is not None and t.hi is not None
            return 0 if t.lo <= 0 <= t.hi else t.lo
        if isinstance(t, RefT):
            if not t.nullable and needed:
                self.err(span, "NC112", f"'{name}' has type {t} and needs an init: value", f"or make it {t}?")
            return -1
        if isinstance(t, SetT):
            return 0
        if isinstance(t, ListT):
            return ()
        return 0

    def encode(self, t: Type, node: Node, scope: Scope) -> object:
        """The state encoding of a literal init value written in YAML."""
        try:
            if isinstance(t, (SetT, ListT)):
                if not isinstance(node, Seq):
                    raise ValueError(f"expected a list of {t.entity} elements")
                indices = []
                for item in node.items:  # each bad item is reported where it is
                    try:
                        index = self.element(t.entity, item, scope)
                        if index in indices:
                            raise ValueError(f"'{shorten(item.text)}' appears twice")  # type: ignore[attr-defined]
                        indices.append(index)
                    except ValueError as err:
                        self.err(item.span, "NC111", f"bad init value: {err}", f"the type is {t}")
                if isinstance(t, SetT):
                    return sum(1 << i for i in set(indices))
                return tuple(indices)
            if not isinstance(node, Scalar):
                raise ValueError(f"expected a {t} value, got {describe(node)}")
            if isinstance(t, BoolT):
                if not isinstance(node.value, bool):
                    raise ValueError("expected true or false")
                return node.value
            if isinstance(t, IntT):
                if not isinstance(node.value, int) or isinstance(node.value, bool):
                    raise ValueError("expected an integer")
                assert t.lo is not None and t.hi is not None
                if not t.lo <= node.value <= t.hi:
                    raise ValueError(f"{node.value} is outside {t}")
                return node.value
            if isinstance(t, EnumT):
                if node.text not in t.values:
                    raise ValueError(f"'{shorten(node.text)}' is not one of {', '.join(t.values)}")
                return t.values.index(node.text)
            if isinstance(t, RefT):
                if node.value is None:
                    if not t.nullable:
                        raise ValueError(f"null is not a {t}")
                    return -1
                return self.element(t.entity, node, scope)
        except ValueError as err:
            self.err(node.span, "NC111", f"bad init value: {err}", f"the type is {t}")
        return None

    def element(self, entity: str, node: Node, scope: Scope) -> int:
        if not isinstance(node, Scalar):
            raise ValueError(f"expected an element of {entity}")
        found = scope.elements.get(node.text)
        if found is None or found[0] != entity:
            hint = did_you_mean(node.text, scope.entities.get(entity, ()))
            raise ValueError(f"'{shorten(node.text)}' is not an element of {entity} ({hint})")
        return found[1]

    # -- procedures

    def parse_procedures(self, scope: Scope, entities: set[str], aliases: dict[str, Type],
                         lowering: Lowering | None = None) -> tuple[list[Procedure], list[Assert]]:
        section = self.section("procedures")
        if section is None:
            self.callbacks = self.parse_callbacks({}, entities, aliases)
            return [], []
        signatures = {}
        for key, value in section.entries:
            try:
                sig = parse_signature(key.text, entities, aliases)
            except TypeSyntaxError as err:
                self.err(key.span, "NC113", str(err), err.hint)
                self.broken.add(proc_name(key.text))
                continue
            if sig[0] in signatures or sig[0] in self.taken:
                what = "another procedure" if sig[0] in signatures else self.taken[sig[0]]
                self.err(key.span, "NC103", f"procedure name '{sig[0]}' is already used by {what}",
                         "rename one of them")
                continue
            signatures[sig[0]] = (key, value, sig)
        self.callbacks = self.parse_callbacks({n: s[2] for n, s in signatures.items()}, entities, aliases)
        scope = replace(scope.with_locals({}, frozenset(self.broken)), callbacks=masks(self.callbacks))
        body_parser = BodyParser(scope, {n: s[2] for n, s in signatures.items()}, entities, aliases, self.diag)
        body_parser.lowering = lowering
        body_parser.callbacks = {t.entity: t for t in self.callbacks}
        procedures = []
        for name, (key, value, sig) in signatures.items():
            proc = body_parser.procedure(key, value, sig)
            if proc is not None:
                procedures.append(proc)
            else:  # its body was refused (and reported)
                self.broken.add(name)
        body_parser.check_recursion(procedures)
        self.rcu_decls = list(body_parser.rcu_callbacks.values())
        return procedures, body_parser.asserts

    def parse_callbacks(self, signatures: Mapping[str, Signature], entities: set[str],
                        aliases: dict[str, Type]) -> list[CallbackTable]:
        """`callbacks:` (model/lang/callbacks.py), once the procedures' signatures are known."""
        parser = CallbackParser(self.entity_decls, signatures, self.diag,
                                lambda text: parse_signature(text, entities, aliases))
        tables = parser.section(self.tree.get("callbacks"))
        self.broken.update(parser.refused)
        return tables

    # -- workqueues

    def parse_works(self) -> Works:
        """`workqueues: {WQ: {ordered: BOOL}}` and `works: {WORK: {queue: WQ, run: PROC}}` (the procedure is
        checked once procedures are parsed: check_works)."""
        queues: list[WorkqueueDecl] = []
        section = self.section("workqueues")
        for key, value in section.entries if section is not None else ():
            if not self.check_name(key, "workqueue"):
                continue
            ordered = False
            if isinstance(value, Map):
                self.unknown_keys(value, WORKQUEUE_KEYS)
                node = value.get("ordered")
                if node is not None:
                    if isinstance(node, Scalar) and isinstance(node.value, bool):
                        ordered = node.value
                    else:
                        self.err(node.span, "NC215", "ordered: takes true or false",
                                 "ordered: true (alloc_ordered_workqueue: one worker, items in queue order)")
            elif not (isinstance(value, Scalar) and value.value is None):
                self.err(value.span, "NC215", f"a workqueue is a mapping, not {describe(value)}",
                         "netns_wq: {ordered: true}")
            queues.append(WorkqueueDecl(key.text, ordered, key.span))
        items: list[WorkDecl] = []
        section = self.section("works")
        names = [q.name for q in queues]
        for key, value in section.entries if section is not None else ():
            if not self.check_name(key, "work item"):
                continue
            form = "cleanup_work: {queue: netns_wq, run: cleanup_net}"
            if not isinstance(value, Map):
                self.err(value.span, "NC215", f"a work item is a mapping, not {describe(value)}", form)
                continue
            self.unknown_keys(value, WORK_KEYS)
            queue, run = self.text(value.get("queue"), "queue:"), self.text(value.get("run"), "run:")
            if queue is None or run is None:
                self.err(value.span, "NC215", f"work item '{key.text}' needs queue: and run:", form)
                continue
            if queue.strip() not in names:
                node = value.get("queue")
                assert node is not None
                self.err(node.span, "NC215", f"no workqueue '{queue.strip()}'",
                         did_you_mean(queue.strip(), names) or "declare it under workqueues: {NAME: {ordered: true}}")
                continue
            items.append(WorkDecl(key.text, queue.strip(), re.sub(r"\(\s*\)$", "", run.strip()), value.span))
        for name, *_ in state_vars(Works(tuple(queues), tuple(items))):
            if name not in {w.name for w in items} and name in self.taken:
                self.err(self.tree.span, "NC215", f"the place variable '{name}' is already used as {self.taken[name]}",
                         "rename the work item or the other name")
        return Works(tuple(queues), tuple(items))

    def check_works(self, works: Works, procedures: Sequence[Procedure]) -> None:
        """Each work item's run: names a procedure without parameters or result."""
        procs = {p.name: p for p in procedures}
        for w in works.works:
            proc = procs.get(w.run)
            if proc is None:
                if w.run not in self.broken:
                    self.err(w.span, "NC215", f"work item '{w.name}': run: '{w.run}' is not a procedure",
                             did_you_mean(w.run, procs) or "run: PROC, a procedure without parameters")
            elif proc.params or proc.returns is not None:
                self.err(w.span, "NC215", f"work item '{w.name}': {w.run}() takes parameters or returns a value",
                         "a work function is called as func(work): give it no parameters and no result")

    @staticmethod
    def entity_of(entities: Sequence[Entity], name: str) -> Entity:
        return next(e for e in entities if e.name == name)

    def check_rcu_callbacks(self, threads: Sequence[ThreadDecl], procedures: Sequence[Procedure],
                            variables: Sequence[VarDecl]) -> list[RcuCallbackDecl]:
        """The callbacks call_rcu: and kfree_rcu: queue (model/lang/rcucallbacks.py), once the names they need
        (an rcu_head variable, a thread, kfree_rcu's procedure) are known to be free."""
        decls: list[RcuCallbackDecl] = getattr(self, "rcu_decls", [])
        used = {**{t.name: "a thread" for t in threads}, **{p.name: "a procedure" for p in procedures},
                **{v.name: "a state variable" for v in variables}, **self.taken}
        for d in decls:
            for name in rcucallbacks.generated_names(d):
                if name in used:
                    self.err(d.span, "NC140", f"the RCU callback {d.name}() needs the name '{name}', already used as "
                             f"{used[name]}", "rename it: netcheck declares the callback's rcu_head variable "
                             f"{rcucallbacks.head_var(d.name)}, its thread {rcucallbacks.callback_thread(d.name)}"
                             + (f" and the procedure {d.name}" if d.kfree else ""))
        for value in rcucallbacks.RCU_HEAD_STATES if decls else ():
            if value in used:
                self.err(decls[0].span, "NC140", f"call_rcu needs the enum value '{value}', already used as "
                         f"{used[value]}", "rename it: an rcu_head's state is one of " +
                         ", ".join(rcucallbacks.RCU_HEAD_STATES))
        return decls

    def rcu_callbacks(self, decls: list[RcuCallbackDecl], entities: list[Entity], enums: list, locks: list[LockDecl],
                      variables: list[VarDecl], scope: Scope) -> tuple[Scope, list[Procedure], list[ThreadDecl],
                                                                      Expr | None]:
        """Each callback's rcu_head variable (readable in properties, so in the scope returned), its procedure and
        thread, and what rcu_barrier() waits for (model/lang/rcucallbacks.py); `enums` and `variables` grow."""
        if not decls or self.diag.items:
            return scope, [], [], None
        enums.append((rcucallbacks.RCU_HEAD_STATE, rcucallbacks.RCU_HEAD_STATES))
        for name, t, per, span in rcucallbacks.state_vars(decls):
            keys = len(self.entity_of(entities, per[0]).elements) if per else 1
            variables.append(VarDecl(name, t, per, (0,) * keys, span))  # type: ignore[arg-type]
        scope = replace(self.base_scope(entities, enums, locks, {v.name: VarInfo(v.type, v.per) for v in variables}),
                        callbacks=scope.callbacks)
        procs, threads = rcucallbacks.threads(decls, entities, scope)
        return scope, procs, threads, rcucallbacks.idle_condition(decls, scope, self.tree.span)

    # -- threads

    def parse_threads(self, scope: Scope, procedures: Sequence[Procedure]) -> list[ThreadDecl]:
        section = self.section("threads")
        out: list[ThreadDecl] = []
        if section is None or not section.entries:
            where = section.span if section is not None else self.tree.span
            self.err(where, "NC114", "the spec has no threads", "add threads: {NAME: {run: 'proc()'}}")
            return out
        procs = {p.name: p for p in procedures}
        for key, value in section.entries:
            if not self.check_name(key, "thread"):
                continue
            if isinstance(value, Scalar):
                value = Map(value.span, ((Scalar(value.span, "run", "run"), value),), {"run": 0})
            if not isinstance(value, Map):
                self.err(value.span, "NC101", f"a thread is a mapping or a call, not {describe(value)}",
                         "{run: 'proc(args)', for: 'x in ENTITY', count: N}")
                continue
            self.unknown_keys(value, THREAD_KEYS)
            thread = self.parse_thread(key, value, scope, procs)
            if thread is not None:
                out.append(thread)
        return out

    def parse_thread(self, key: Scalar, value: Map, scope: Scope, procs: Mapping[str, Procedure]) -> ThreadDecl | None:
        run = value.get("run")
        run_text = self.text(run, "run:")
        if run is None or run_text is None:
            if run is None:
                self.err(value.span, "NC115", f"thread '{key.text}' needs run: 'procedure(args)'",
                         "e.g. {for: n in net, run: 'creator(n)'}")
            return None
        m = re.match(r"^\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$", run_text, re.S)
        if not m:
            self.err(run.span, "NC115", f"run: takes a procedure call, got '{shorten(run_text)}'",
                     "run: 'creator(n)'")
            return None
        proc_name_ = m.group(1)
        if proc_name_ not in procs:
            if proc_name_ not in self.broken:  # else its declaration was reported
                self.err(run.span, "NC116", f"undefined procedure '{proc_name_}'",
                         did_you_mean(proc_name_, procs) or "define it under procedures:")
            return None
        var = ""
        domain: tuple[str, ...] = ()
        local_types: dict[str, Type] = {}
        for_node = value.get("for")
        if for_node is not None:
            text = self.text(for_node, "for:") or ""
            fm = re.match(r"^\s*([A-Za-z_]\w*)\s+in\s+([A-Za-z_]\w*)\s*$", text)
            target = fm.group(2) if fm else ""
            if fm and target in scope.entities:
                var, domain, entity = fm.group(1), scope.entities[target], target
            elif fm and target in scope.groups:
                entity, mask = scope.groups[target]
                var = fm.group(1)
                domain = tuple(el for i, el in enumerate(scope.entities[entity]) if mask >> i & 1)
            else:
                self.err(for_node.span, "NC115", f"for: takes 'x in ENTITY_OR_GROUP', got '{shorten(text)}'",
                         did_you_mean(target, [*scope.entities, *scope.groups]) if fm else "for: n in net")
                return None
            local_types[var] = RefT(entity)
        count = 1
        count_node = value.get("count")
        if count_node is not None:
            if for_node is not None:
                self.err(count_node.span, "NC115", "use either for: or count:, not both",
                         "for: runs one thread per element, count: N runs N copies")
            elif not (isinstance(count_node, Scalar) and isinstance(count_node.value, int)
                      and not isinstance(count_node.value, bool) and 0 <= count_node.value <= MAX_THREAD_COUNT):
                self.err(count_node.span, "NC115", f"count: takes a number from 0 to {MAX_THREAD_COUNT}", "count: 2")
            else:
                count = count_node.value
        daemon_node = value.get("daemon")
        daemon = False
        if daemon_node is not None:
            if isinstance(daemon_node, Scalar) and isinstance(daemon_node.value, bool):
                daemon = daemon_node.value
            else:
                self.err(daemon_node.span, "NC101", "daemon: takes true or false", "daemon: true")
        context, interrupts = self.thread_context(key, value, daemon)
        proc = procs[proc_name_]
        arg_scope = scope.with_locals(local_types)
        assert isinstance(run, Scalar)
        args = self.call_args(run, run_text, m.start(2), m.group(2), arg_scope, proc)
        if args is None:
            return None
        return ThreadDecl(key.text, proc_name_, args, var, domain, count, daemon, key.span, context, interrupts)

    def thread_context(self, key: Scalar, value: Map, daemon: bool) -> tuple[str, str]:
        """A thread's `context:` (process, softirq, hardirq) and the entry its `interrupts:` names."""
        node, target = value.get("context"), value.get("interrupts")
        context = "process"
        if node is not None:
            text = node.value if isinstance(node, Scalar) else None
            if text in CONTEXTS:
                context = str(text)
            else:
                self.err(node.span, "NC130", f"context: takes {', '.join(CONTEXTS)}, got {describe(node)}",
                         did_you_mean(str(text), CONTEXTS) or "context: hardirq")
        if context != "process" and daemon:
            self.err(key.span, "NC132", f"thread '{key.text}' runs in {context} context and cannot be a daemon",
                     "an interrupt handler runs to completion: remove daemon: true")
        interrupts = ""
        if target is not None:
            name = target.value if isinstance(target, Scalar) else None
            if context == "process":
                self.err(target.span, "NC131", "interrupts: is for a thread in softirq or hardirq context",
                         "add context: hardirq (or softirq)")
            elif not isinstance(name, str):
                self.err(target.span, "NC131", f"interrupts: names a threads: entry, got {describe(target)}",
                         "interrupts: writer")
            else:
                interrupts = name
        return context, interrupts

    def check_contexts(self, threads: Sequence[ThreadDecl]) -> None:
        """Each `interrupts:` names a process-context threads: entry whose instances pair with this one's:
        it has a single instance, or both run one instance per element of the same domain."""
        by_name = {t.name: t for t in threads}
        for t in threads:
            if not t.interrupts:
                continue
            cpu = by_name.get(t.interrupts)
            problem, hint = "", "name a process-context thread with one instance, or one per element as for: here"
            if cpu is None:
                problem = f"'{t.interrupts}' is not a threads: entry"
                hint = did_you_mean(t.interrupts, by_name) or hint
            elif cpu.context != "process":
                problem = f"'{cpu.name}' runs in {cpu.context} context: an interrupt interrupts a process"
            elif (cpu.var or cpu.count != 1) and not (cpu.var and t.var and cpu.domain == t.domain):
                problem = f"the instances of '{t.name}' and '{cpu.name}' do not pair up"
            if problem:
                self.err(t.span, "NC131", f"thread '{t.name}' interrupts: {problem}", hint)

    def call_args(self, node: Scalar, text: str, offset: int, args_text: str, scope: Scope,
                  proc: Procedure) -> tuple[Expr, ...] | None:
        from .expr import assignable
        base = node.expr_span().shifted(offset)
        parts = _split_args(args_text)
        if len(parts) != len(proc.params):
            self.err(node.expr_span(), "NC117", f"{proc.name}() takes {len(proc.params)} argument(s), got {len(parts)}",
                     f"signature: {proc.name}({', '.join(f'{n}: {t}' for n, t in proc.params)})")
            return None
        out = []
        for (start, part), (pname, ptype) in zip(parts, proc.params):
            try:
                e = parse_expr(part, scope, base.shifted(start))
            except ExprError as err:
                if not err.follow_on:
                    self.err(err.span, err.code, err.message, err.hint)
                return None
            if not assignable(ptype, e.type):
                self.err(base.shifted(start), "NC117", f"argument '{pname}' of {proc.name}() is {ptype}, got {e.type}",
                         f"signature: {proc.name}({', '.join(f'{n}: {t}' for n, t in proc.params)})")
                return None
            if isinstance(ptype, IntT) and isinstance(e, Const) and ptype.lo is not None and ptype.hi is not None \
                    and not ptype.lo <= e.value <= ptype.hi:  # type: ignore[operator]
                self.err(base.shifted(start), "NC117", f"argument '{pname}' of {proc.name}() is {ptype}, got {e.value}",
                         f"pass a value from {ptype.lo} to {ptype.hi}")
                return None
            out.append(e)
        return tuple(out)

    # -- properties and options

    def parse_properties(self, scope: Scope, asserts: list[Assert], threads: list[ThreadDecl],
                         procedures: list) -> list[PropertyDecl]:
        """Properties (invariant:, final:) and questions (reachable:, waits_on_slow:)."""
        section = self.section("properties")
        out: list[PropertyDecl] = []
        names = {a.name for a in asserts}
        if section is None:
            return out
        scope = scope.with_procedures(frozenset(p.name for p in procedures))
        for key, value in section.entries:
            if not self.check_name(key, "property"):
                continue
            if key.text in names:
                self.err(key.span, "NC103", f"property '{key.text}' has the name of an assert", "rename one of them")
                continue
            if not isinstance(value, Map):
                self.err(value.span, "NC101", f"a property is a mapping, not {describe(value)}",
                         "{invariant: EXPR} or {final: EXPR}, with about:")
                continue
            self.unknown_keys(value, PROPERTY_KEYS)
            kinds = [k for k in PROPERTY_KINDS if value.get(k) is not None]
            if len(kinds) != 1:
                self.err(value.span, "NC118", "a property has exactly one of " + ", ".join(f"{k}:" for k in
                         PROPERTY_KINDS), "invariant: holds in every state, final: when every thread has finished;"
                         " eventually:, leads_to:, progress: and returns_when_killed: on every fair run; reachable:"
                         " and waits_on_slow: ask whether something can happen")
                continue
            kind = kinds[0]
            expr_node = value.get(kind)
            assert expr_node is not None
            about = self.text(value.get("about"), "about") or ""
            if not self.property_keys_fit(kind, value):
                continue
            fairness = self.fairness(value.get("fairness"))
            within = self.within(value.get("within"))
            if fairness is None or within is None:
                continue
            if kind == "leads_to":
                decl = self.leads_to(key, expr_node, about, scope, fairness)
                if decl is not None:
                    out.append(decl)
                continue
            if not isinstance(expr_node, Scalar):
                self.err(expr_node.span, "NC101", f"{kind}: takes an expression, not {describe(expr_node)}",
                         "write the expression as one (quoted) string")
                continue
            if kind in THREAD_KINDS:
                thread_names = [t.name for t in threads]
                if expr_node.text not in thread_names:
                    self.err(expr_node.expr_span(), "NC119", f"{kind}: takes a thread name, got "
                             f"'{expr_node.text}'", did_you_mean(expr_node.text, thread_names) or "name a thread")
                    continue
                during = self.during(value.get("during"), procedures)
                if during is None:
                    continue
                out.append(PropertyDecl(key.text, kind, Const(BOOL, expr_node.span, True), about,
                                        key.span, expr_node.text, during=during, fairness=fairness, within=within))
                continue
            e = self.condition(expr_node, scope)
            if e is not None:
                out.append(PropertyDecl(key.text, kind, e, about, key.span, text=expr_node.text, fairness=fairness))
        return out

    def parse_lemmas(self, scope: Scope, threads: list[ThreadDecl], procedures: list) -> list[Lemma]:
        """`lemmas: {NAME: COND}`: candidate invariants over shared state, locks, running(), and where thread
        instances stand (at()) and what they hold (held_by()); checked by `netcheck prove` only."""
        section = self.section("lemmas")
        out: list[Lemma] = []
        if section is None:
            return out
        scope = scope.with_procedures(frozenset(p.name for p in procedures)) \
            .with_threads(frozenset(n for t in threads for n in thread_instances(t)), local_types(procedures))
        for key, value in section.entries:
            if not self.check_name(key, "lemma"):
                continue
            if not isinstance(value, Scalar):
                self.err(value.span, "NC125", f"a lemma is a condition, not {describe(value)}",
                         'write NAME: "COND", e.g. held: "not at(worker, \"spec.yaml:12\") or locked(m)"')
                continue
            e = self.condition(value, scope)
            if e is not None:
                out.append(Lemma(key.text, e, key.span, value.text))
        return out

    def property_keys_fit(self, kind: str, value: Map) -> bool:
        """during:, fairness: and within: only where they mean something."""
        allowed = {"during": ("waits_on_slow",), "fairness": LIVENESS_KINDS, "within": ("returns_when_killed",)}
        for extra, kinds in allowed.items():
            misplaced = value.get(extra)
            if misplaced is not None and kind not in kinds:
                code = "NC122" if extra == "during" else "NC123"
                owner = "a waits_on_slow: question" if extra == "during" else \
                    " or ".join(f"{k}:" for k in kinds)
                self.err(misplaced.span, code, f"{extra}: belongs to {owner}", f"remove it from this {kind}: property")
                return False
        return True

    def fairness(self, node: Node | None) -> str | None:
        """A property's fairness: weak or strong ('' when absent: the spec's options: decide; None after an error)."""
        if node is None:
            return ""
        if isinstance(node, Scalar) and node.text in FAIRNESS:
            return node.text
        self.err(node.span, "NC123", "fairness: takes weak or strong",
                 "weak: a thread that can step from some point on steps; strong: one that can step again and "
                 "again steps")
        return None

    def within(self, node: Node | None) -> int | None:
        """returns_when_killed's within: how many slow steps a killed thread may still wait through (default 0)."""
        if node is None:
            return 0
        if isinstance(node, Scalar) and isinstance(node.value, int) and not isinstance(node.value, bool) \
                and node.value >= 0:
            return node.value
        self.err(node.span, "NC123", "within: takes a number of slow steps, 0 or more", "within: 0")
        return None

    def condition(self, node: Scalar, scope: Scope) -> Expr | None:
        """A property's condition, or None after an error."""
        try:
            return parse_condition(node.value, scope, node.expr_span())
        except ExprError as err:
            if not err.follow_on:
                self.err(err.span, err.code, err.message, err.hint)
            return None

    def leads_to(self, key: Scalar, node: Node, about: str, scope: Scope, fairness: str) -> PropertyDecl | None:
        """`leads_to: {from: COND, to: COND}`: every fair run from a `from` state reaches a `to` state."""
        form = 'leads_to: {from: "COND", to: "COND"}'
        if not isinstance(node, Map):
            self.err(node.span, "NC101", f"leads_to: takes a mapping, not {describe(node)}", form)
            return None
        self.unknown_keys(node, LEADS_TO_KEYS)
        parts = []
        for part in LEADS_TO_KEYS:
            sub = node.get(part)
            if not isinstance(sub, Scalar):
                self.err(node.span if sub is None else sub.span, "NC101",
                         f"leads_to: needs {part}: as an expression", form)
                return None
            parts.append((sub, self.condition(sub, scope)))
        (src_node, src), (dst_node, dst) = parts
        if src is None or dst is None:
            return None
        return PropertyDecl(key.text, "leads_to", dst, about, key.span, text=f"{src_node.text} ~> {dst_node.text}",
                            fairness=fairness, source=src, source_text=src_node.text, target_text=dst_node.text)

    def during(self, node: Node | None, procedures: list) -> str | None:
        """A waits_on_slow question's during: PROCEDURE ('' when absent; None after an error)."""
        if node is None:
            return ""
        names = [p.name for p in procedures]
        if not isinstance(node, Scalar) or node.text not in names:
            text = node.text if isinstance(node, Scalar) else describe(node)
            self.err(node.span, "NC122", f"during: takes a procedure name, got '{text}'",
                     did_you_mean(text, names) or "name a procedure the thread calls")
            return None
        return node.text

    def parse_options(self) -> Options:
        section = self.section("options")
        if section is None:
            return Options()
        self.unknown_keys(section, OPTION_KEYS)
        values: dict[str, object] = {}
        for name in OPTION_FLAGS:
            node = section.get(name)
            if node is not None:
                if isinstance(node, Scalar) and isinstance(node.value, bool):
                    values[name] = node.value
                else:
                    self.err(node.span, "NC101", f"{name}: takes true or false", f"{name}: true")
        node = section.get("rwsem_wake")
        if node is not None:
            if isinstance(node, Scalar) and node.text in RWSEM_WAKE:
                values["rwsem_wake"] = node.text
            else:
                self.err(node.span, "NC101", "rwsem_wake: takes head_run or all_readers", "rwsem_wake: head_run")
        node = section.get("fairness")
        if node is not None:
            fairness = self.fairness(node)
            if fairness:
                values["fairness"] = fairness
        return Options(**values)  # type: ignore[arg-type]


    # -- expected verdicts

    def parse_expect(self, properties: list[PropertyDecl], asserts: list[Assert],
                     options: Options) -> Expectation | None:
        """`expect: holds`, or `expect: {violated: [NAME, ...]}` naming properties that can be violated."""
        node = self.tree.get("expect")
        if node is None:
            return None
        form = "expect: holds, or expect: {violated: [PROPERTY, ...]}"
        if isinstance(node, Scalar) and node.text == EXPECT_HOLDS:
            return Expectation((), node.span)
        if not isinstance(node, Map):
            self.err(node.span, "NC120", "expect: takes 'holds' or {violated: [...]}", form)
            return None
        self.unknown_keys(node, EXPECT_KEYS)
        listed = node.get("violated")
        if listed is None:
            self.err(node.span, "NC120", "expect: needs a 'violated:' list", form)
            return None
        items = listed.items if isinstance(listed, Seq) else [listed]
        known = [p.name for p in properties if p.kind not in QUESTION_KINDS] + [a.name for a in asserts]
        known += (["deadlock_free"] if options.deadlock else []) + ["lock_order", "lock_discipline", "runtime_safety"]
        names: list[str] = []
        for item in items:
            if not (isinstance(item, Scalar) and isinstance(item.value, str)):
                self.err(item.span, "NC120", "expect: violated: takes property names", form)
            elif item.text not in known:
                self.err(item.span, "NC121", f"expect: no property '{item.text}' that can be violated",
                         "one of: " + ", ".join(known))
            elif item.text in names:
                self.err(item.span, "NC121", f"expect: '{item.text}' is listed twice", "list each property once")
            else:
                names.append(item.text)
        if not items:
            self.err(listed.span, "NC120", "expect: violated: is empty", "write expect: holds instead")
        return Expectation(tuple(names), node.span)


def instance_names(entities: list[Entity], per: tuple[str, ...]) -> list[str]:
    """The instances of a per: lock as written inside its brackets ("net0, ops1"), in index order (as the
    state layout names them)."""
    names = [""]
    for entity in per:
        elements = next(e for e in entities if e.name == entity).elements
        names = [f"{t}, {el}" if t else el for t in names for el in elements]
    return names


def anonymous_enum(t: Type) -> None:
    """An enum written inline has no names for its values: enums are declared under types:."""
    if isinstance(t, EnumT) and t.name.startswith("enum{"):
        raise TypeSyntaxError(f"an inline {t.name} has no usable values",
                              "declare it under types: (e.g. types: {mode: \"enum{idle, busy}\"}) and use its name")


def _split_args(text: str) -> list[tuple[int, str]]:
    """Split call arguments at top-level commas, keeping each one's offset."""
    parts: list[tuple[int, str]] = []
    depth, start = 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append((start, text[start:i]))
            start = i + 1
    if text.strip():
        parts.append((start, text[start:]))
    return [(s + len(p) - len(p.lstrip()), p.strip()) for s, p in parts]


__all__ = ["load_spec", "proc_name", "Const"]
