"""The JSON Schema of the spec format, built from the parser's own tables (top-level keys, section keys,
statement forms, the lock and RCU API, options), so that it cannot drift from what the parser accepts.

It describes the shape of a spec file (which keys, which kinds of value), for editors with the YAML
language server: completion, hover text and early marks. The parser checks more (types, expressions,
names, bounds); a file the schema accepts can still be refused with a diagnostic. schema/ in the
repository holds the published copy (`netcheck schema -o schema/netcheck-spec.schema.json`).
"""

from __future__ import annotations

import json
from typing import Any

from .callbacks import TABLE_KEYS
from .counterapi import COUNTER_API, CounterOpInfo
from .edits import OPERAND_KEYS, OPERATIONS
from .lockapi import LOCK_API, NESTED_API, RCU_API, LockOpInfo, NestedOpInfo
from .parse import (
    CONTEXTS,
    EXPECT_HOLDS,
    EXPECT_KEYS,
    FAIRNESS,
    KNOWN_CYCLE_KEYS,
    LEADS_TO_KEYS,
    LOCK_CLASSES,
    LOCK_KEYS,
    LOCK_KINDS,
    MAX_GROUP,
    MAX_THREAD_COUNT,
    NAME_RE,
    OPTION_FLAGS,
    PROPERTY_KINDS,
    RWSEM_WAKE,
    STATE_KEYS,
    THREAD_KEYS,
    TOP_KEYS,
)
from .statements import FORM_KEYS, MAPPING_FORMS, PROCEDURE_KEYS
from .waitapi import WAIT_API, WaitOpInfo

Schema = dict[str, Any]

SCALAR: Schema = {"type": ["string", "number", "boolean"]}   # an expression, as YAML may type it
TEXT: Schema = {"type": "string"}
FLAG: Schema = {"type": "boolean"}
NAMES: Schema = {"anyOf": [TEXT, {"type": "array", "items": TEXT}]}
BLOCK: Schema = {"$ref": "#/$defs/block"}
# The value of each statement form's own key (forms not listed take an expression).
FORM_VALUE: dict[str, Schema] = {
    "either": {"type": "object", "minProperties": 1, "additionalProperties": BLOCK},
    "label": TEXT, "goto": TEXT, "call": TEXT,
    "return": {"type": ["string", "number", "boolean", "null"]},
    **{op: {"type": ["string", "null"]} if not info.srcu else TEXT for op, info in RCU_API.items()},
    **{op: {**TEXT, "pattern": ",\\s*\\S"} for op in NESTED_API},
}
# The value of each extra key of a statement mapping.
EXTRA_VALUE: dict[str, Schema] = {"on_fail": BLOCK, "then": BLOCK, "else": BLOCK, "do": BLOCK, "result": TEXT,
                                  "name": TEXT, "about": TEXT, "idle": FLAG, "slow": FLAG}
# What the sections that extends: merges entry by entry say in a child spec to delete an inherited entry.
DELETE: Schema = {"type": "null"}
# Hover text of the statement forms besides the lock operations (whose text comes from LOCK_API).
FORM_TEXT = {
    "rcu_read_lock": "enter an RCU read-side section", "rcu_read_unlock": "leave the RCU read-side section",
    "synchronize_rcu": "wait for every RCU reader that started before (a slow step)",
    "rcu_barrier": "wait until every RCU callback queued before has run (call_rcu, kfree_rcu)",
    "srcu_read_lock": "'DOMAIN' (an srcu lock): enter an SRCU read-side section (the reader may sleep)",
    "srcu_read_unlock": "'DOMAIN': leave the SRCU read-side section",
    "synchronize_srcu": "'DOMAIN': wait for the domain's readers that started before (a slow step)",
    "kfree": "'x': free an element: on no list, no RCU reader since its list_del_rcu left",
    "call_rcu": "'CALLBACK(x)': call_rcu(&x->rcu, CALLBACK): run the procedure in softirq context after a grace "
                "period (CALLBACK: a static rcu_head)",
    "kfree_rcu": "'x': kfree_rcu(x, rcu): free the element after a grace period",
    "list_for_each_entry_rcu": "'x in LIST': inside rcu_read_lock, walk the list, through elements list_del_rcu "
                               "takes off",
    "list_for_each_entry": "'x in LIST': run do: for each element, first to last",
    "list_for_each_entry_reverse": "'x in LIST': run do: for each element, last to first",
    "list_for_each_entry_continue_reverse": "'x in LIST': backwards from the element before the cursor x",
    "for_each": "'x in SET, LIST, ENTITY or GROUP': run do: for each element",
    "call": "'procedure(args)', or 'o.SLOT(args)' through an element's callbacks:, with result: VARIABLE for its "
            "return value",
    "if": "a condition, with then: and/or else: statements", "while": "a condition, with do: statements",
    "either": "a nondeterministic choice: BRANCH_NAME: statements, ...",
    "label": "a name goto can jump to", "goto": "a label of this procedure (never into a loop)",
    "return": "leave the procedure (with a value when it declares -> TYPE)",
    "assert": "a condition that must hold here (name: it for expect:)",
    "queue_work": "'WORKQUEUE, WORK': queue a work item (result: a local bool, false when it was already pending)",
    "flush_work": "'WORK': wait until the work item is idle (lockdep: acquires (work_completion)(&WORK))",
    "cancel_work_sync": "'WORK': take the item off its queue and wait for a running instance (result: was it "
                        "pending)",
    "flush_workqueue": "'WORKQUEUE': wait until every item of the queue is idle (lockdep: (wq_completion)WQ)",
    "await": "sleep until the condition holds (wait_event); idle: true when resting here counts as finished",
}
# Hover text of the top-level keys (docs/spec-language.md section 2 says more).
TOP_TEXT = {
    "netcheck": "the spec language version: 1",
    "name": "the spec's name in reports (default: the file name)",
    "about": "one line describing the spec",
    "extends": "a parent spec file, relative to this one: its sections are merged entry by entry (null deletes)",
    "entities": "bounded sets of things: NAME: COUNT, a list of element names, or a mapping of groups",
    "types": "named types, mainly enums: NAME: \"enum{a, b}\"",
    "locks": "NAME: mutex, rwsem, spinlock or srcu, or {kind: KIND, per: ENTITY}",
    "state": "shared variables: NAME: {type: TYPE, per: ENTITY, init: VALUE}",
    "procedures": "code paths: 'name(TYPE param, ...) -> TYPE': a list of statements, or {locals:, body:}",
    "threads": "what runs: NAME: {run: 'proc(args)', for: 'x in ENTITY' or count: N, daemon: true}",
    "properties": "NAME: {invariant: EXPR} (every state), {final: EXPR} (the end), {eventually: EXPR}, "
                  "{leads_to: {from: EXPR, to: EXPR}}, {progress: THREAD}, {returns_when_killed: THREAD} (every "
                  "fair run), {reachable: EXPR} or {waits_on_slow: THREAD, during: PROCEDURE} (questions), with about:",
    "lemmas": "candidate invariants for `netcheck prove`: NAME: EXPR over shared state, locks, running(PROC), "
              "at(THREAD, \"FILE:LINE\", ...), held_by(LOCK, THREAD), read_held_by(RWSEM, THREAD), "
              "queued(RWSEM, THREAD) and local(THREAD, NAME or PROC.NAME), "
              "THREAD an instance or a family indexed by a quantified variable (creator[n]); checked for "
              "inductiveness, never changing a verdict of verify",
    "options": "deadlock, fatal_signals (true/false), rwsem_wake (head_run/all_readers), fairness (weak/strong)",
    "expect": "the verdicts verifying must give: holds, or {violated: [PROPERTY, ...]}",
    "pinned": "bounds --bound may lower but not raise, with the reason: BOUND: REASON",
    "known_cycles": "lock-order cycles known to be safe, each {locks: [CLASS, ...], reason: TEXT}: listed, never "
                    "failing lock_order (a lock class is NAME, NAME/SUBCLASS or, per_instance, NAME[ELEMENT])",
    "workqueues": "workqueues: NAME: {ordered: true} (one worker, items in queue order) or {} (unbound: a worker per "
                  "item)",
    "works": "work items: NAME: {queue: WORKQUEUE, run: PROCEDURE} (a procedure without parameters)",
    "callbacks": "function pointers per entity, as struct pernet_operations has .init/.exit: ENTITY: {slots: {SLOT: "
                 "'(TYPE param, ...) -> TYPE'}, bind: {ENTITY, GROUP or ELEMENT: {SLOT: PROCEDURE or null}}}; "
                 "called as o.SLOT(args), tested as o.SLOT",
}


def spec_schema() -> Schema:
    """The JSON Schema (draft 2020-12) of a spec file."""
    sections = {"entities": _entities(), "types": _named({**TEXT, "description": "a type, e.g. int[0..3]"}),
                "locks": _named(_lock()), "state": _named(_state()), "procedures": _procedures(),
                "threads": _named(_thread()), "properties": _named(_property()),
                "lemmas": _named({**SCALAR, "description": "a condition on states (docs/proofs.md)"}),
                "options": _options()}
    properties: Schema = {
        "netcheck": {"const": 1},
        "name": TEXT, "about": TEXT,
        "extends": TEXT,
        **sections,
        "expect": _expect(),
        "pinned": {"type": "object", "additionalProperties": TEXT},
        "known_cycles": _known_cycles(),
        "workqueues": _named({"type": ["object", "null"], "properties": {"ordered": FLAG, "about": TEXT},
                              "additionalProperties": False}),
        "works": _named(_keys({"queue": TEXT, "run": TEXT, "about": TEXT}, ("queue", "run"))),
        "callbacks": _named(_callbacks()),
    }
    missing = [key for key in TOP_KEYS if key not in properties or key not in TOP_TEXT]
    if missing:   # a new top-level key needs its value schema and its hover text here
        raise AssertionError(f"no schema for the top-level keys {missing}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "netcheck spec",
        "description": "A netcheck spec: entities, locks, state, procedures, threads and properties.",
        "type": "object",
        "required": ["netcheck"],
        "properties": {key: {**properties[key], "description": TOP_TEXT[key]} for key in TOP_KEYS},
        "additionalProperties": False,
        "$defs": {"block": _block(), "statement": _statement()},
    }


def schema_text() -> str:
    """The schema as the published file holds it: sorted keys, two-space indent, a final newline."""
    return json.dumps(spec_schema(), indent=2, sort_keys=True) + "\n"


def _named(entry: Schema, deletable: bool = True) -> Schema:
    """A section: a mapping from plain names to `entry` (or null, which deletes an inherited entry)."""
    value = {"anyOf": [entry, DELETE]} if deletable else entry
    return {"type": "object", "propertyNames": {"pattern": NAME_RE.pattern}, "additionalProperties": value}


def _keys(properties: Schema, required: tuple[str, ...] = ()) -> Schema:
    """A mapping with these keys and no others, `required` among them."""
    out: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        out["required"] = list(required)
    return out


def _entities() -> Schema:
    count = {"type": "integer", "minimum": 0, "maximum": MAX_GROUP, "description": "a counted entity (--bound)"}
    elements = {"type": "array", "items": {"type": "string", "pattern": NAME_RE.pattern}}
    groups = _named({"anyOf": [count, elements]}, deletable=False)
    return _named({"anyOf": [count, elements, groups]})


def _lock() -> Schema:
    kind = {"enum": list(LOCK_KINDS)}
    values = {"kind": kind, "per": NAMES,
              "classes": {"enum": list(LOCK_CLASSES), "description": "lockdep classes of a per: lock: one shared "
                                                                     "class (default) or one per instance"}}
    return {"anyOf": [kind, _keys({k: values[k] for k in LOCK_KEYS}, ("kind",))]}


def _known_cycles() -> Schema:
    if KNOWN_CYCLE_KEYS != ("locks", "reason"):
        raise AssertionError(f"no schema for the known_cycles: keys {KNOWN_CYCLE_KEYS}")
    locks = {"type": "array", "minItems": 1, "items": TEXT, "description": "the lock classes on the cycle"}
    reason = {**TEXT, "minLength": 1, "description": "why this cycle cannot deadlock"}
    return {"type": "array", "items": _keys({"locks": locks, "reason": reason}, KNOWN_CYCLE_KEYS)}


def _callbacks() -> Schema:
    if TABLE_KEYS != ("slots", "bind", "about"):
        raise AssertionError(f"no schema for the callbacks: keys {TABLE_KEYS}")
    slots = _named({**TEXT, "pattern": "^\\s*\\(", "description": "the slot's signature: '(TYPE param, ...) -> TYPE'"})
    procedure = {"anyOf": [{"type": "string", "pattern": NAME_RE.pattern}, DELETE],
                 "description": "the procedure bound to the slot, or null (no callback)"}
    bind = _named({"type": "object", "additionalProperties": procedure,
                   "description": "an element, a group or the entity: SLOT: PROCEDURE"})
    return _keys({"slots": slots, "bind": bind, "about": TEXT})   # a child of extends: may give bind: alone


def _state() -> Schema:
    values = {"type": TEXT, "per": NAMES, "init": {}}
    return {"anyOf": [TEXT, _keys({k: values[k] for k in STATE_KEYS}, ("type",))]}


def _procedures() -> Schema:
    values = {"locals": {"type": "object", "additionalProperties": TEXT}, "body": BLOCK, "about": TEXT,
              "source": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
                         "description": "the kernel C function it models (netcheck conform)"}}
    full = _keys({k: values[k] for k in PROCEDURE_KEYS})
    target = {"anyOf": [TEXT, {"type": "object", "maxProperties": 1}],
              "description": "a statement of the parent's procedure, as the parent writes it"}
    edit = {"anyOf": [_keys({op: target, **{k: BLOCK for k in OPERAND_KEYS[op]}}, (op,)) for op in OPERATIONS
                      if op != "wrap"] + [_keys({"wrap": target, "before": BLOCK, "after": BLOCK}, ("wrap",))]}
    edited = _keys({"locals": values["locals"], "edit": {"type": "array", "items": edit,
                                                         "description": "edits of the parent's procedure"}},
                   ("edit",))
    return {"type": "object", "description": "signature (e.g. 'setup(net n) -> int[0..1]') -> body, or a "
                                             "procedure's name -> edit: (extends:)",
            "additionalProperties": {"anyOf": [BLOCK, full, edited]}}


def _thread() -> Schema:
    values = {"run": TEXT, "for": TEXT, "count": {"type": "integer", "minimum": 0, "maximum": MAX_THREAD_COUNT},
              "daemon": FLAG, "about": TEXT,
              "context": {"enum": list(CONTEXTS), "description": "what the thread runs as (default process)"},
              "interrupts": {**TEXT, "description": "the process-context thread whose CPU this irq thread interrupts"}}
    return {"anyOf": [TEXT, _keys({k: values[k] for k in THREAD_KEYS}, ("run",))]}


def _property() -> Schema:
    """Exactly one kind, and about: (with during:, fairness: or within: where they apply)."""
    extras: dict[str, Schema] = {
        "during": {**TEXT, "description": "waits_on_slow: also count the slow steps the thread can wait through "
                                          "inside this procedure"},
        "fairness": {"enum": list(FAIRNESS), "description": "weak (default) or strong fairness per thread"},
        "within": {"type": "integer", "minimum": 0,
                   "description": "the slow steps a killed thread may still wait through (default 0)"}}
    applies = {"waits_on_slow": ("during",), "eventually": ("fairness",), "leads_to": ("fairness",),
               "progress": ("fairness",), "returns_when_killed": ("fairness", "within")}
    leads_to = _keys({"from": TEXT, "to": TEXT}, LEADS_TO_KEYS)
    return {"anyOf": [_keys({kind: leads_to if kind == "leads_to" else SCALAR, "about": TEXT,
                             **{k: extras[k] for k in applies.get(kind, ())}}, (kind,))
                      for kind in PROPERTY_KINDS]}


def _options() -> Schema:
    values: Schema = {**{flag: FLAG for flag in OPTION_FLAGS}, "rwsem_wake": {"enum": list(RWSEM_WAKE)},
                      "fairness": {"enum": list(FAIRNESS)}}
    return _keys(values)


def _expect() -> Schema:
    if EXPECT_KEYS != ("violated",):
        raise AssertionError(f"no schema for the expect: keys {EXPECT_KEYS}")
    violated = {"anyOf": [TEXT, {"type": "array", "minItems": 1, "items": TEXT}]}
    return {"anyOf": [{"const": EXPECT_HOLDS}, _keys({"violated": violated}, ("violated",))]}


def _block() -> Schema:
    """A list of statements (one statement alone, or nothing, is allowed too)."""
    statement = {"$ref": "#/$defs/statement"}
    return {"anyOf": [{"type": "array", "items": statement}, statement, {"type": "null"}]}


def _statement() -> Schema:
    """A statement: a string (an assignment, a call, break, return ...) or a mapping with one form key."""
    forms = []
    for form in MAPPING_FORMS:
        text = (_lock_op_text(LOCK_API[form]) if form in LOCK_API else
                _nested_op_text(NESTED_API[form]) if form in NESTED_API else
                _counter_op_text(COUNTER_API[form]) if form in COUNTER_API else
                _wait_op_text(WAIT_API[form]) if form in WAIT_API else FORM_TEXT.get(form))
        if text is None:   # a new statement form needs its hover text here
            raise AssertionError(f"no hover text for the statement form {form}")
        value = {**FORM_VALUE.get(form, SCALAR), "description": text}
        extra = {key: EXTRA_VALUE[key] for key in (*FORM_KEYS.get(form, ()), "slow")}
        forms.append(_keys({form: value, **extra}, (form,)))
    return {"anyOf": [SCALAR, *forms]}


def _nested_op_text(info: NestedOpInfo) -> str:
    """A _nested acquire: its plain operation's text, and the subclass."""
    return (f"{info.plain} with a lockdep subclass: 'LOCK, SUBCLASS' (0 to 7 or SINGLE_DEPTH_NESTING); the "
            f"acquisition is in lock class LOCK/SUBCLASS" + (" (can fail: say what happens with on_fail:)"
                                                            if info.info.can_fail else ""))


def _counter_op_text(info: CounterOpInfo) -> str:
    """A counter operation in a few words, for an editor's hover text."""
    args = "the counter and the value, e.g. 'count[n], 1'" if info.value else "the counter, e.g. 'count[n]'"
    waits = " (sleeps until the completion is done)" if info.waits else ""
    fails = " (returns a bool: on_fail: when false, or result: LOCAL)" if info.tests else \
        " (can end without it: say what happens with on_fail:)" if info.can_fail else ""
    return f"a {info.kind.value} operation{waits}: {args}{fails}"


def _wait_op_text(info: WaitOpInfo) -> str:
    """A wait-queue operation in a few words, for an editor's hover text."""
    if info.cond:
        ends = " (a fatal signal ends it: on_fail:)" if info.killable else " (a signal ends it: on_fail:)" \
            if info.interruptible else " (may time out: on_fail:)" if info.timeout else ""
        how = " as an exclusive waiter (wake_up wakes one of them)" if info.exclusive else ""
        return f"sleeps on the wait queue{how} until the condition holds, e.g. 'wq, done'{ends}"
    what = {"wake_up": "wakes every non-exclusive sleeper on the wait queue and one exclusive sleeper",
            "wake_up_all": "wakes every sleeper on the wait queue",
            "prepare_to_wait": "puts the thread on the wait queue (about to sleep): test, then schedule",
            "prepare_to_wait_exclusive": "puts the thread on the wait queue as an exclusive waiter (wake_up wakes "
                                         "one of them): test, then schedule",
            "finish_wait": "takes the thread off the wait queue (running)"}[info.name]
    return f"{what}, e.g. 'wq[n]'"


def _lock_op_text(info: LockOpInfo) -> str:
    """A lock operation in a few words, for an editor's hover text: what it does, on which lock kind."""
    action = "acquires" if info.acquires else "releases" if info.releases else "downgrades"
    mode = f" for {info.mode}" if info.rw_mode else ""
    fails = " (can fail: say what happens with on_fail:)" if info.can_fail else ""
    return f"{action} a {info.kind}{mode}: the lock, e.g. 'rtnl' or 'lk[n]'{fails}"


