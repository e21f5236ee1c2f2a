"""Procedure signatures and bodies: YAML statement forms to `Stmt` nodes, with scope and flow checks."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import replace

from .callbacks import indirect_call, possible_targets
from .counterapi import COUNTER_API
from .errors import Diagnostics, Span, did_you_mean, shorten
from .expr import (
    MUTATORS,
    AssignForm,
    CallForm,
    Const,
    Expr,
    ExprError,
    Local,
    LockRef,
    Scope,
    Shared,
    _syntax_tree,
    assignable,
    check_expr_node,
    parse_condition,
    parse_expr,
    parse_statement,
)
from .lockapi import LOCK_API, MAX_SUBCLASS, NESTED_API, RCU_API, RCU_LIST_OPS, SRCU_KIND, SUBCLASS_CONSTANTS
from .rcucallbacks import RCU_CALLS, head_var, kfree_callback
from .spec import (
    Assert,
    Assign,
    Await,
    Break,
    CallbackTable,
    CallRcu,
    Continue,
    CounterOp,
    Either,
    ForEach,
    Free,
    Goto,
    If,
    Invoke,
    Label,
    ListOp,
    LockOp,
    Procedure,
    Rcu,
    RcuCallbackDecl,
    Return,
    Stmt,
    WaitOp,
    While,
)
from .types import (
    BoolT,
    EnumT,
    IntT,
    ListT,
    LockT,
    NullT,
    RefT,
    SetT,
    Type,
    TypeSyntaxError,
    WaitQueueT,
    is_counter,
    parse_type,
)
from .waitapi import WAIT_API
from .works import WORK_CALLS, Lowering
from .yamlload import Map, Node, Scalar, Seq, describe

LOOPS = {"list_for_each_entry": "forward", "list_for_each_entry_reverse": "reverse",
         "list_for_each_entry_continue_reverse": "continue_reverse", "for_each": "forward",
         "list_for_each_entry_rcu": "forward"}
WAIT_FORMS = tuple(op for op, info in WAIT_API.items() if info.queue)   # schedule is a plain string statement
MAPPING_FORMS = (*LOCK_API, *NESTED_API, *RCU_API, *COUNTER_API, *WAIT_FORMS, *LOOPS, "call", "if", "while", "either",
                 "label", "goto", "return", "assert", "await", "kfree", *WORK_CALLS, *RCU_CALLS)
PROCEDURE_KEYS = ("locals", "body", "about", "source")
# The keys a statement mapping takes besides its form, by form (lock operations: on_fail:, loops: do:);
# every form also takes slow:.
FORM_KEYS = {"call": ("result",), "if": ("then", "else"), "while": ("do",), "assert": ("name", "about"),
             "await": ("idle",), **{op: ("on_fail",) for op in (*LOCK_API, *NESTED_API)},
             **{loop: ("do",) for loop in LOOPS}, "queue_work": ("result",), "cancel_work_sync": ("result",),
             **{op: ("on_fail", "result") if info.tests else ("on_fail",) if info.can_fail else ()
                for op, info in COUNTER_API.items()},
             **{op: ("on_fail",) for op, info in WAIT_API.items() if info.needs_on_fail}}
EXTRA_KEYS = {key for keys in FORM_KEYS.values() for key in keys} | {"slow"}

Signature = tuple[str, tuple[tuple[str, Type], ...], Type | None]
MAX_SIGNATURE = 1000


def parse_signature(text: str, entities: set[str], aliases: dict[str, Type]) -> Signature:
    """`name(p: T, q: T) -> T` into its parts; raises TypeSyntaxError."""
    # Split by hand, not with one regex: adjacent optional parts with \s* between them backtrack
    # cubically on a long run of spaces, and a quoted or '? ' key can be arbitrarily long.
    if len(text) > MAX_SIGNATURE:
        raise TypeSyntaxError(f"procedure signature longer than {MAX_SIGNATURE} characters",
                              "write name(param: TYPE, ...) -> TYPE")
    m = re.match(r"\s*([A-Za-z_]\w*)", text)
    head, arrow, returns_text = text[m.end():].partition("->") if m else ("", "", "")
    head = head.strip()
    if not m or (head and not (head.startswith("(") and head.endswith(")"))) or (arrow and not returns_text.strip()):
        raise TypeSyntaxError(f"malformed procedure signature '{shorten(text.strip())}'",
                              "write name(param: TYPE, ...) -> TYPE")
    params: list[tuple[str, Type]] = []
    for part in _split_top(head[1:-1]):
        pm = re.match(r"^\s*([A-Za-z_]\w*)\s*:\s*(.+?)\s*$", part)  # name: TYPE (quoted keys)
        cm = re.match(r"^\s*(.+?)\s+([A-Za-z_]\w*)\s*$", part)       # TYPE name (C order)
        if pm:
            pname, ptype = pm.group(1), pm.group(2)
        elif cm:
            pname, ptype = cm.group(2), cm.group(1)
        else:
            raise TypeSyntaxError(f"parameter '{shorten(part.strip())}' needs a type", "write 'TYPE name', e.g. net n")
        if pname in (n for n, _ in params):
            raise TypeSyntaxError(f"parameter '{pname}' appears twice", "rename one of them")
        params.append((pname, parse_type(ptype, entities, aliases)))
    returns = parse_type(returns_text.strip(), entities, aliases) if arrow else None
    if any(t is not None and is_counter(t) for t in (*dict(params).values(), returns)):
        raise TypeSyntaxError("a refcount_t, atomic_t or completion is shared state, not a parameter or result",
                              "pass the element that owns it (count[n]: declare the counter per: that entity)")
    if any(isinstance(t, WaitQueueT) for t in (*dict(params).values(), returns)):
        raise TypeSyntaxError("a wait_queue_head_t is shared state, not a parameter or result",
                              "pass the element that owns it (wq[n]: declare the wait queue per: that entity)")
    return m.group(1), tuple(params), returns


def _split_top(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "<{[(":
            depth += 1
        elif ch in ">}])":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if text.strip():
        parts.append(text[start:])
    return parts


# Kernel calls a spec may reach for that netcheck has no primitive for, with what to write instead (a
# near name would suggest the wrong primitive: spin_lock_irqsave is not spin_lock, call_rcu is not call).
UNMODELLED = {
    "local_irq_save": "interrupts are disabled with the lock that needs it: 'spin_lock_irqsave: L' (or "
                      "spin_lock_irq) saves and disables them, spin_unlock_irqrestore restores them",
    "local_irq_disable": "interrupts are disabled with the lock that needs it: 'spin_lock_irq: L'",
    "local_bh_disable": "softirqs are disabled with the lock that needs it: 'spin_lock_bh: L'",
    "mutex_lock_interruptible": "any signal ends an interruptible wait; netcheck models fatal signals only: "
                                "'mutex_lock_killable: M' with on_fail: is the nearest (its -EINTR path)",
    "down_read_interruptible": "netcheck models fatal signals only: 'down_read_killable: S' with on_fail: is the "
                               "nearest",
    "down_write_interruptible": "netcheck models fatal signals only: 'down_write_killable: S' with on_fail: is the "
                                "nearest",
    "wake_up_interruptible": "wake_up_interruptible() wakes only the interruptible sleepers, which the model does "
                             "not tell apart: 'wake_up: WQ' is the nearest",
    "msleep": "time is not modelled: a long step can be marked 'slow: true'",
}


class BodyParser:
    """Parses every procedure body against the shared scope and the table of procedure signatures."""

    def __init__(self, scope: Scope, signatures: Mapping[str, Signature], entities: set[str],
                 aliases: dict[str, Type], diag: Diagnostics):
        self.scope = scope
        self.signatures = signatures
        self.entities = entities
        self.aliases = aliases
        self.diag = diag
        self.asserts: list[Assert] = []
        self.assert_names: set[str] = set()
        self.calls: dict[str, list[tuple[str, Span]]] = {}
        self.lowering: Lowering | None = None   # the spec's workqueues and work items (model/lang/works.py)
        self.callbacks: Mapping[str, CallbackTable] = {}   # entity -> its callbacks: (model/lang/callbacks.py)
        self.rcu_callbacks: dict[str, RcuCallbackDecl] = {}   # what call_rcu:/kfree_rcu: queue, first use first

    def err(self, span: Span, code: str, message: str, hint: str = "") -> None:
        self.diag.error(span, code, message, hint)

    # -- a procedure

    def procedure(self, key: Scalar, value: Node, sig: Signature) -> Procedure | None:
        name, params, returns = sig
        locals_: dict[str, Type] = dict(params)
        self.broken_locals: set[str] = set()
        body_node: Node | None = value
        source = ""
        if isinstance(value, Map):
            for k, _ in value.entries:
                if k.text not in PROCEDURE_KEYS:
                    self.err(k.span, "NC104", f"unknown key '{k.text}' in a procedure",
                             did_you_mean(k.text, PROCEDURE_KEYS))
            body_node = value.get("body")
            source = self.source_key(value.get("source"))
            declared = value.get("locals")
            if isinstance(declared, Map):
                for lk, lv in declared.entries:
                    self.declare_local(lk, lv, locals_)
            elif declared is not None:
                self.err(declared.span, "NC101", "locals: takes a mapping of name: TYPE",
                         'locals: {err: "int[-12..0]", o: "ops?"}')
        if body_node is None or (isinstance(body_node, Scalar) and body_node.value is None):
            body_node = Seq(value.span, ())
        if not isinstance(body_node, Seq):
            self.err(body_node.span, "NC101", f"the body of {name} must be a list of statements, not "
                     f"{describe(body_node)}", "write each statement as a '- ' list item")
            return None
        self.current = name
        self.returns = returns
        self.local_types = locals_
        self.labels: dict[str, tuple[tuple[int, ...], Span]] = {}
        self.gotos: list[tuple[str, tuple[int, ...], Span]] = []
        self.loop_path: tuple[int, ...] = ()
        self.loop_counter = 0
        self.calls[name] = []
        reported = len(self.diag.items)
        body = self.block(body_node)
        for label, path, span in self.gotos:
            if label not in self.labels:
                self.err(span, "NC201", f"goto to undefined label '{label}'",
                         did_you_mean(label, self.labels) or "define it with '- label: NAME' in the same procedure")
            elif self.labels[label][0] != path[: len(self.labels[label][0])]:
                self.err(span, "NC202", f"goto '{label}' jumps into a loop", "jump only out of loops")
        # (Only for a body without errors: a refused return statement is missing from `body`.)
        if returns is not None and len(self.diag.items) == reported and _falls_through(body):
            self.err(key.span, "NC205", f"{name}() can reach the end of its body without returning a value",
                     f"it is declared '-> {returns}': end every path with 'return VALUE'")
        local_list = tuple((n, t) for n, t in locals_.items() if n not in dict(params))
        return Procedure(name, params, returns, local_list, body, key.span, source)

    def source_key(self, node: Node | None) -> str:
        """`source: FUNCTION`: the kernel C function the procedure models (netcheck conform)."""
        if node is None:
            return ""
        if not isinstance(node, Scalar) or not isinstance(node.value, str) or not node.text.isidentifier():
            self.err(node.span, "NC102", "source: takes the name of a C function",
                     "source: rtnl_lock_unregistering_all")
            return ""
        return node.text

    def declare_local(self, key: Scalar, value: Node, locals_: dict[str, Type]) -> None:
        if key.text in locals_:
            self.err(key.span, "NC103", f"local '{key.text}' is declared twice", "rename or remove one of them")
            return
        if key.text in self.scope.shared or key.text in self.scope.elements or key.text in self.scope.entities:
            self.err(key.span, "NC103", f"local '{key.text}' hides a global name", "rename it")
            return
        if not (isinstance(value, Scalar) and isinstance(value.value, str)):
            self.err(value.span, "NC108", "a local is declared as name: TYPE", 'e.g. err: "int[-12..0]"')
            self.broken_locals.add(key.text)
            return
        try:
            t = parse_type(value.value, self.entities, self.aliases)
            if isinstance(t, EnumT) and t.name.startswith("enum{"):
                raise TypeSyntaxError(f"an inline {t.name} has no usable values",
                                      "declare the enum under types: and use its name")
        except TypeSyntaxError as err:
            self.err(value.span, "NC108", str(err), err.hint)
            self.broken_locals.add(key.text)
            return
        if is_counter(t) or isinstance(t, WaitQueueT):
            code, what = ("NC217", "a wait queue") if isinstance(t, WaitQueueT) else ("NC214", "a counter")
            self.err(value.span, code, f"local '{key.text}' is a {t}: {what} is shared state",
                     "declare it under state: (per: an entity for one per object)")
            self.broken_locals.add(key.text)
            return
        locals_[key.text] = t

    def scoped(self) -> Scope:
        return self.scope.with_locals(self.local_types, frozenset(self.broken_locals))

    # -- blocks and statements

    def block(self, node: Node | None) -> tuple[Stmt, ...]:
        if node is None or (isinstance(node, Scalar) and node.value is None):
            return ()
        if isinstance(node, Scalar):
            node = Seq(node.span, (node,))
        if not isinstance(node, Seq):
            self.err(node.span, "NC101", f"expected a list of statements, not {describe(node)}",
                     "write each statement as a '- ' list item")
            return ()
        out: list[Stmt] = []
        for item in node.items:
            stmt = self.statement(item)
            if isinstance(stmt, tuple):   # a workqueue call: its steps
                out.extend(stmt)
            elif stmt is not None:
                out.append(stmt)
        return tuple(out)

    def statement(self, node: Node) -> Stmt | tuple[Stmt, ...] | None:
        try:
            if isinstance(node, Scalar):
                return self.string_statement(node)
            if isinstance(node, Map):
                return self.mapping_statement(node)
            self.err(node.span, "NC203", "a statement is a string or a mapping, not a list",
                     "indent nested statements under then:, do: or a branch name")
        except ExprError as err:
            if not err.follow_on:
                self.err(err.span, err.code, err.message, err.hint)
        return None

    def string_statement(self, node: Scalar) -> Stmt | None:
        text = node.text.strip() if isinstance(node.value, str) else node.text
        span = node.expr_span()
        word = text.split()[0] if text.split() else ""
        if text == "break":
            return self.loop_only(Break(span, text), span)
        if text == "continue":
            return self.loop_only(Continue(span, text), span)
        if text == "pass":
            return None
        if word == "return":
            rest = text[len("return"):]
            return self.return_stmt(rest.strip() or None, span, span.shifted(len("return") + len(rest) -
                                                                               len(rest.lstrip())), text)
        if word == "goto":
            return self.goto(text[4:].strip(), span, text)
        if text in RCU_API or text.rstrip("()") in RCU_API:
            op = text.rstrip("()")
            if RCU_API[op].srcu:
                raise ExprError(span, "NC219", f"{op} names its SRCU domain", f"write '- {op}: DOMAIN' (an srcu lock)")
            return Rcu(span, op + "()", op)
        if text in ("schedule", "schedule()") and "schedule" not in self.signatures:
            return WaitOp(span, "schedule()", "schedule")
        printed = re.fullmatch(r"(\w+)\s*\(\s*&?\s*([\w\[\], ]*?)\s*\)", text)
        if printed and printed.group(1) in (*LOCK_API, *NESTED_API):   # a lock call the way netcheck prints it
            op, lock = printed.group(1), printed.group(2) or "LOCK"
            info = NESTED_API[op].info if op in NESTED_API else LOCK_API[op]
            if info.irq == "irqsave":   # spin_lock_irqsave(&l, flags): the flags travel with the lock
                lock = lock.split(",")[0].strip()
            raise ExprError(span, "NC207", f"'{text}': a lock operation is a mapping statement",
                            f"write it as '- {op}: {lock}'" + (" with on_fail:" if info.can_fail else ""))
        if printed and printed.group(1) in COUNTER_API:   # a counter call written the way C writes it
            op, arg = printed.group(1), printed.group(2) or "COUNTER"
            raise ExprError(span, "NC207", f"'{text}': a counter operation is a mapping statement",
                            f"write it as '- {op}: {arg}'" + (" with on_fail: or result:" if COUNTER_API[op].tests
                                                               else " with on_fail:" if COUNTER_API[op].can_fail
                                                               else ""))
        if printed and printed.group(1) in WAIT_FORMS:   # a wait-queue call written the way C writes it
            op, arg = printed.group(1), printed.group(2) or "WQ"
            raise ExprError(span, "NC207", f"'{text}': a wait-queue operation is a mapping statement",
                            f"write it as '- {op}: {arg}'" + (" with on_fail:" if WAIT_API[op].needs_on_fail else ""))
        if printed and printed.group(1) in ("kfree", *(op for op, i in RCU_API.items() if i.srcu)):
            op, arg = printed.group(1), printed.group(2) or "X"
            raise ExprError(span, "NC207", f"'{text}': {op} is a mapping statement", f"write it as '- {op}: {arg}'")
        called = word.split("(")[0]
        if called in RCU_CALLS and called not in self.signatures:   # call_rcu(&n->rcu, free_net) written the C way
            args = [a.strip() for a in text[text.find("(") + 1:text.rfind(")")].split(",")] if "(" in text else []
            obj = re.sub(r"^&|->\s*\w+$|\.\s*\w+$", "", args[0]).strip() if args else "x"
            hint = f"write '- call_rcu: {args[1] if len(args) > 1 else 'CALLBACK'}({obj})' (the callback gets the " \
                "object its rcu_head is in)" if called == "call_rcu" else f"write '- kfree_rcu: {obj or 'x'}'"
            raise ExprError(span, "NC207", f"'{shorten(text)}': {called} is a mapping statement", hint)
        if called in UNMODELLED and called not in self.signatures:
            raise ExprError(span, "NC207", f"'{called}' is a kernel call netcheck does not model", UNMODELLED[called])
        if text in self.scope.broken:  # a call of a procedure whose signature was refused
            return None
        if text in self.signatures:
            text += "()"
        form = parse_statement(text, self.scoped(), span, self.signatures)
        if isinstance(form, CallForm):
            return self.call_form(form, text, span, None)
        assert isinstance(form, AssignForm)
        if form.indirect is not None:
            return self.indirect(form.indirect, text, span, form.targets[0])
        if form.call is not None:
            proc, arg_nodes, call_span = form.call
            return self.invoke(proc, arg_nodes, text, call_span, span, form.targets[0])
        for target, value in zip(form.targets, form.values):
            self.check_assign(target, value)
        return Assign(span, text, form.targets, form.values)

    def check_assign(self, target: Expr, value: Expr) -> None:
        if not isinstance(target, (Local, Shared)):
            raise ExprError(target.span, "NC204", "only variables can be assigned",
                            "assign to a state variable or a local")
        if is_counter(target.type):
            raise ExprError(target.span, "NC214", f"'{target.name}' is a {target.type}: only its API changes it",
                            _counter_hint(target.type))
        if not assignable(target.type, value.type):
            raise ExprError(value.span, "NC303", f"cannot store {value.type} in {target.type} '{target.name}'",
                            f"the value must be a {target.type}")

    def call_form(self, form: CallForm, text: str, span: Span, result: Expr | None) -> Stmt:
        if not form.fn:
            return self.indirect(form.node, text, span, result)
        if form.fn in MUTATORS:
            return self.list_op(form, text, span)
        return self.invoke(form.fn, tuple(form.node.args), text, form.span, span, result)

    def list_op(self, form: CallForm, text: str, span: Span) -> Stmt:
        arity = MUTATORS[form.fn]
        if len(form.node.args) != arity or form.node.keywords:
            raise ExprError(form.span, "NC307", f"{form.fn}() takes {arity} arguments, got {len(form.node.args)}",
                            "list_add(L, x), list_add_tail(L, x), list_add_before(L, x, pos), list_del(L, x)")
        args = tuple(check_expr_node(self.scoped(), span, text, a) for a in form.node.args)
        target = args[0]
        if not (isinstance(target, (Local, Shared)) and isinstance(target.type, ListT)):
            raise ExprError(target.span, "NC303", f"{form.fn}() changes a list variable, got {target.type}",
                            "pass a variable declared as list<ENTITY> first")
        if form.fn in RCU_LIST_OPS:
            self.rcu_list(form.fn, target)
        for a in args[1:]:
            ok = isinstance(a.type, RefT) and a.type.entity == target.type.entity
            if a is args[2 if arity == 3 else 1] and arity == 3 and isinstance(a.type, NullT):
                ok = True
            if not ok:
                raise ExprError(a.span, "NC303", f"{form.fn}() takes {target.type.entity} elements, got {a.type}",
                                f"pass elements of {target.type.entity}")
        return ListOp(span, text, form.fn, args)

    @staticmethod
    def rcu_list(what: str, target: Expr) -> None:
        """An RCU list is a state variable without per: (its deleted elements' successors are state of their own)."""
        if not isinstance(target, Shared) or target.keys:
            raise ExprError(target.span, "NC218", f"{what} needs a state list without per:, got "
                            f"{'a local' if isinstance(target, Local) else 'an indexed variable'}",
                            "declare the RCU list under state: as list<ENTITY>, without per:")

    def invoke(self, proc: str, arg_nodes: tuple[ast.AST, ...], text: str, call_span: Span, span: Span,
               result: Expr | None) -> Stmt:
        _, params, returns = self.signatures[proc]
        if len(arg_nodes) != len(params):
            raise ExprError(call_span, "NC117", f"{proc}() takes {len(params)} argument(s), got {len(arg_nodes)}",
                            f"signature: {proc}({', '.join(f'{n}: {t}' for n, t in params)})")
        args = []
        for a, (pname, ptype) in zip(arg_nodes, params):
            e = check_expr_node(self.scoped(), span, text, a)
            if not assignable(ptype, e.type):
                raise ExprError(e.span, "NC117", f"argument '{pname}' of {proc}() is {ptype}, got {e.type}",
                                f"signature: {proc}({', '.join(f'{n}: {t}' for n, t in params)})")
            args.append(e)
        if result is not None:
            if returns is None:
                raise ExprError(call_span, "NC205", f"{proc}() returns no value", f"declare '{proc}(...) -> TYPE'")
            if not isinstance(result, (Local, Shared)):
                raise ExprError(result.span, "NC204", "only variables can receive a result",
                                "assign the result to a state variable or a local")
            if not assignable(result.type, returns):
                raise ExprError(result.span, "NC303", f"cannot store {returns} in {result.type}",
                                f"{proc}() returns {returns}: store it in a variable of that type")
        self.calls[self.current].append((proc, call_span))
        return Invoke(span, text, proc, tuple(args), result)

    def indirect(self, call: ast.Call, text: str, span: Span, result: Expr | None) -> Stmt:
        """`o.slot(args)`: a call through an element (model/lang/callbacks.py); for the recursion check, a
        call of every procedure it may run."""
        stmt = indirect_call(self.scoped(), self.callbacks, call, text, span, result)
        self.calls[self.current].extend((proc, span) for proc in possible_targets(stmt))
        return stmt

    def return_stmt(self, value_text: object, span: Span, value_span: Span, text: str) -> Stmt:
        value = None
        if value_text is not None:
            if self.returns is None:
                raise ExprError(span, "NC205", f"{self.current}() returns no value",
                                f"declare '{self.current}(...) -> TYPE'")
            value = parse_expr(value_text, self.scoped(), value_span)
            if not assignable(self.returns, value.type):
                raise ExprError(value_span, "NC303", f"{self.current}() returns {self.returns}, got {value.type}",
                                f"return a {self.returns}, or change the declared '-> TYPE'")
        elif self.returns is not None:
            raise ExprError(span, "NC205", f"{self.current}() must return a {self.returns}", "return VALUE")
        return Return(span, text, value)

    def goto(self, label: str, span: Span, text: str) -> Stmt | None:
        if not re.match(r"^[A-Za-z_]\w*$", label):
            self.err(span, "NC201", f"goto takes a label name, got '{label}'", "goto: NAME, with '- label: NAME'")
            return None
        self.gotos.append((label, self.loop_path, span))
        return Goto(span, text, label)

    def loop_only(self, stmt: Stmt, span: Span) -> Stmt | None:
        if not self.loop_path:
            self.err(span, "NC206", f"'{stmt.text}' outside a loop",
                     "break and continue belong in the do: of while:, for_each: or list_for_each_entry:")
            return None
        return stmt

    def mapping_statement(self, node: Map) -> Stmt | tuple[Stmt, ...] | None:
        forms = [k for k in node.keys() if k in MAPPING_FORMS]
        if len(forms) != 1:
            unknown = [k for k in node.keys() if k not in MAPPING_FORMS and k not in EXTRA_KEYS]
            if unknown:
                key = node.key_node(unknown[0])
                self.err(key.span, "NC207", f"unknown statement '{unknown[0]}'",
                         UNMODELLED.get(unknown[0]) or did_you_mean(unknown[0], MAPPING_FORMS))
            else:
                self.err(node.span, "NC207", "a statement mapping has exactly one statement keyword",
                         f"found {', '.join(forms) or 'none'}")
            return None
        form = forms[0]
        allowed = {*FORM_KEYS.get(form, ()), "slow"}
        for k in node.keys():
            if k != form and k not in allowed:
                self.err(node.key_node(k).span, "NC104", f"'{k}' does not belong to {form}:",
                         did_you_mean(k, allowed))
        value = node.get(form)
        assert value is not None
        span = node.key_node(form).span
        stmt: Stmt | tuple[Stmt, ...] | None
        if form in WORK_CALLS:
            stmt = self.work_call(form, node, value, span)
        elif form in LOCK_API or form in NESTED_API:
            stmt = self.lock_op(form, node, value, span)
        elif form in COUNTER_API:
            stmt = self.counter_op(form, node, value, span)
        elif form in WAIT_API:
            stmt = self.wait_op(form, node, value, span)
        else:
            stmt = getattr(self, "form_" + (form if form not in LOOPS else "loop"))(form, node, value, span)
        slow = node.get("slow")
        if slow is not None:
            if not (isinstance(slow, Scalar) and isinstance(slow.value, bool)):
                self.err(slow.span, "NC101", "slow: takes true or false", "slow: true marks a long step")
            elif slow.value and isinstance(stmt, tuple):
                stmt = tuple(replace(st, slow=True) for st in stmt)
            elif slow.value and isinstance(stmt, Stmt):
                stmt = replace(stmt, slow=True)
        return stmt

    def work_call(self, op: str, node: Map, value: Node, span: Span) -> tuple[Stmt, ...] | None:
        """`- queue_work: WQ, WORK` (result: a local bool: was it queued), `- flush_work: WORK`,
        `- cancel_work_sync: WORK` (result: was it pending), `- flush_workqueue: WQ`: the steps
        model/lang/works.py lowers them to."""
        text, vspan = self.expr_of(value, op)
        parts = [p.strip().lstrip("&").strip() for p in _split_top(str(text))]
        usage = {"queue_work": "queue_work: WORKQUEUE, WORK", "flush_workqueue": "flush_workqueue: WORKQUEUE"}.get(
            op, f"{op}: WORK")
        lowering = self.lowering
        works = lowering.works if lowering is not None else None
        queues = [q.name for q in works.queues] if works is not None else []
        items = [w.name for w in works.works] if works is not None else []
        if len(parts) != (2 if op == "queue_work" else 1):
            raise ExprError(vspan, "NC216", f"{op} takes {2 if op == 'queue_work' else 1} argument(s), got "
                            f"{len(parts)}", f"write '{usage}'")
        if lowering is None or works is None:
            raise ExprError(vspan, "NC216", f"{op}: the spec declares no work items",
                            "declare workqueues: {WQ: {ordered: true}} and works: {WORK: {queue: WQ, run: PROC}}")
        if op in ("queue_work", "flush_workqueue") and parts[0] not in queues:
            raise ExprError(vspan, "NC216", f"{op}: '{parts[0]}' is not a workqueue",
                            did_you_mean(parts[0], queues) or f"declare it under workqueues: ({usage})")
        work = parts[-1] if op != "flush_workqueue" else ""
        if work and work not in items:
            raise ExprError(vspan, "NC216", f"{op}: '{work}' is not a work item",
                            did_you_mean(work, items) or f"declare it under works: ({usage})")
        if op == "queue_work" and works.work(work).queue != parts[0]:
            raise ExprError(vspan, "NC216", f"queue_work: '{work}' runs on '{works.work(work).queue}', not "
                            f"'{parts[0]}'", f"write 'queue_work: {works.work(work).queue}, {work}' (a work item "
                            "is declared with the queue whose worker runs it)")
        result: Expr | None = None
        result_node = node.get("result")
        shown = f"{op}({', '.join(('&' + p) if p in items else p for p in parts)})"
        if result_node is not None:
            rtext, rspan = self.expr_of(result_node, "result")
            result = parse_expr(rtext, self.scoped(), rspan)
            if not isinstance(result, Local) or not isinstance(result.type, BoolT):
                raise ExprError(result.span, "NC216", f"{op} returns a bool: result: takes a local bool",
                                "result: queued (a local declared as queued: bool)")
            shown = f"{str(rtext).strip()} = {shown}"
        scope = self.scoped()
        if op == "queue_work":
            return lowering.queue_work(work, result, scope, span, shown)
        if op == "flush_work":
            return lowering.flush_work(work, scope, span, shown)
        if op == "cancel_work_sync":
            return lowering.cancel_work_sync(work, result, scope, span, shown)
        return lowering.flush_workqueue(parts[0], scope, span, shown)

    def expr_of(self, node: Node, what: str) -> tuple[object, Span]:
        if isinstance(node, Scalar):
            return node.value if not isinstance(node.value, str) else node.value, node.expr_span()
        raise ExprError(node.span, "NC101", f"{what} takes an expression, not {describe(node)}",
                        "write the expression as one (quoted) string")

    def subclass(self, op: str, text: object, vspan: Span) -> tuple[str, int, str]:
        """A _nested acquire's value 'LOCK, SUBCLASS': the lock's text, the subclass and how it is written."""
        form = f"write '{op}: LOCK, SUBCLASS', e.g. '{op}: rq_lock[b], SINGLE_DEPTH_NESTING'"
        lock, comma, sub = str(text).rpartition(",")
        if not comma or not lock.strip():
            raise ExprError(vspan, "NC213", f"{op} takes the lock and a lockdep subclass", form)
        at = vspan.shifted(len(lock) + 1 + len(sub) - len(sub.lstrip()))
        sub = sub.strip()
        value = SUBCLASS_CONSTANTS.get(sub, int(sub) if sub.isdigit() and len(sub) < 4 else -1)
        if not 0 <= value <= MAX_SUBCLASS:
            raise ExprError(at, "NC213", f"'{shorten(sub)}' is not a lockdep subclass",
                            f"an integer from 0 to {MAX_SUBCLASS} (lockdep has {MAX_SUBCLASS + 1} subclasses) or "
                            + ", ".join(SUBCLASS_CONSTANTS))
        return lock, value, sub

    def lock_op(self, op: str, node: Map, value: Node, span: Span) -> Stmt | None:
        text, vspan = self.expr_of(value, op)
        written, subclass, sub_text = op, 0, ""
        if op in NESTED_API:
            text, subclass, sub_text = self.subclass(op, text, vspan)
            op = NESTED_API[op].plain
        elif LOCK_API[op].irq == "irqsave" and isinstance(text, str) and len(parts := _split_top(text)) > 1:
            raise ExprError(vspan, "NC230", f"{op} takes the lock only: the flags travel with the lock",
                            f"write '{op}: {parts[0].strip()}': the interrupt state the irqsave acquire of a lock "
                            "saves is what the irqrestore release of that lock restores")
        scope = self.scoped()
        m = re.match(r"\s*([A-Za-z_]\w*)\s*(\[|$)", text) if isinstance(text, str) else None
        if m and m.group(1) not in scope.locks and m.group(1) not in scope.names():
            name = m.group(1)
            if name in scope.broken:
                raise ExprError(vspan, "NC208", f"'{name}' was not declared correctly", "", follow_on=True)
            raise ExprError(vspan, "NC208", f"{written} on undefined lock '{name}'",
                            did_you_mean(name, scope.locks) or "declare it under locks:")
        lock = parse_expr(text, scope, vspan)
        if not isinstance(lock, LockRef) and m and m.group(1) in scope.broken:  # a refused lock declaration
            raise ExprError(vspan, "NC208", f"'{m.group(1)}' was not declared correctly", "", follow_on=True)
        if not isinstance(lock, LockRef):
            raise ExprError(vspan, "NC208", f"{written} takes a lock, got {lock.type}",
                            did_you_mean(str(text), scope.locks) if scope.locks else "declare it under locks:")
        assert isinstance(lock.type, LockT)
        info = LOCK_API[op]
        if lock.type.kind != info.kind:
            raise ExprError(vspan, "NC208", f"{written} needs a {info.kind}, but '{lock.name}' is a {lock.type.kind}",
                            f"use the {lock.type.kind} API")
        on_fail_node = node.get("on_fail")
        on_fail = None
        if info.can_fail:
            if on_fail_node is None:
                self.err(span, "NC209", f"{written} can fail: say what happens with on_fail:",
                         "on_fail: return, on_fail: goto LABEL, or a list of statements")
                return None
            on_fail = self.block(on_fail_node)
        elif on_fail_node is not None:
            self.err(node.key_node("on_fail").span, "NC209", f"{written} cannot fail", "remove on_fail:")
        shown = f"{_lock_text(text)}, {sub_text}" if written != op else _lock_text(text)
        return LockOp(span, f"{written}({shown})", op, lock, on_fail, subclass)

    def operands(self, op: str, value: Node, names: tuple[str, ...], code: str) -> list[tuple[str, Span]]:
        """An operation's comma-separated operands, each with where it starts: exactly as many as `names`
        (else a located error showing the usage, `op: NAME, NAME`)."""
        text, vspan = self.expr_of(value, op)
        parts = _split_top(str(text))
        if len(parts) != len(names):
            raise ExprError(vspan, code, f"{op} takes {len(names)} argument(s), got {len(parts)}",
                            f"write '{op}: {', '.join(names)}'")
        out = [(parts[0], vspan)]
        offset = len(parts[0]) + 1
        for part in parts[1:]:
            out.append((part, vspan.shifted(offset + len(part) - len(part.lstrip()))))
            offset += len(part) + 1
        return out

    def counter_op(self, op: str, node: Map, value: Node, span: Span) -> Stmt | None:
        """`- refcount_inc: n.count`, `- refcount_set: count[n], 1`, `- wait_for_completion: done` with
        on_fail: (a false result, a fatal signal, a timeout) or result: (a bool the operation returns)."""
        info = COUNTER_API[op]
        parts = self.operands(op, value, ("COUNTER", "VALUE") if info.value else ("COUNTER",), "NC214")
        scope = self.scoped()
        target = parse_expr(parts[0][0], scope, parts[0][1])
        if not (isinstance(target, Shared) and is_counter(target.type, info.kind)):
            raise ExprError(target.span, "NC214", f"{op} takes a {info.kind.value}, got {target.type}",
                            f"declare it under state: as {_counter_example(info.kind)}")
        args = [text.strip() for text, _ in parts]
        count: Expr | None = None
        if info.value:
            count = parse_expr(parts[1][0], scope, parts[1][1])
            if not isinstance(count.type, IntT):
                raise ExprError(count.span, "NC303", f"{op} sets an integer, got {count.type}", f"{op}: COUNTER, 1")
        shown = f"{op}(&{', '.join(args)})"
        result: Expr | None = None
        result_node = node.get("result")
        if result_node is not None:
            rtext, rspan = self.expr_of(result_node, "result")
            result = parse_expr(rtext, scope, rspan)
            if not isinstance(result, Local) or not isinstance(result.type, BoolT):
                raise ExprError(result.span, "NC303", f"{op} returns a bool: result: takes a local bool",
                                "result: ok (a local declared as ok: bool)")
            shown = f"{str(rtext).strip()} = {shown}"
        on_fail_node = node.get("on_fail")
        on_fail = None
        if on_fail_node is not None:
            on_fail = self.block(on_fail_node)
        elif info.needs_on_fail:
            self.err(span, "NC209", f"{op} can end without the completion: say what happens with on_fail:",
                     "on_fail: return, on_fail: goto LABEL, or a list of statements")
            return None
        elif info.tests and result is None:
            self.err(span, "NC209", f"{op} returns a bool the kernel marks __must_check: say what happens when it is "
                     "false with on_fail:, or store it with result:", "on_fail: return, or result: ok")
            return None
        return CounterOp(span, shown, op, target, count, result, on_fail)

    def wait_op(self, op: str, node: Map, value: Node, span: Span) -> Stmt | None:
        """`- wake_up: wq[n]`, `- prepare_to_wait: wq`, `- wait_event: wq, done[n]` (and _killable,
        _timeout with on_fail:, run when the wait ends with the condition false)."""
        info = WAIT_API[op]
        parts = self.operands(op, value, ("WQ", "CONDITION") if info.cond else ("WQ",), "NC217")
        scope = self.scoped()
        queue = parse_expr(parts[0][0], scope, parts[0][1], wait_queue=True)
        if not (isinstance(queue, Shared) and isinstance(queue.type, WaitQueueT)):
            raise ExprError(queue.span, "NC217", f"{op} takes a wait queue, got {queue.type}",
                            "declare it under state: as {type: wait_queue_head_t}")
        args = [text.strip() for text, _ in parts]
        cond: Expr | None = None
        if info.cond:
            cond = parse_condition(parts[1][0], scope, parts[1][1])
        shown = f"{op}({', '.join(args)})" if info.cond else f"{op}(&{args[0]})"
        on_fail_node = node.get("on_fail")
        on_fail = None
        if on_fail_node is not None:
            on_fail = self.block(on_fail_node)
        elif info.needs_on_fail:
            why = "a fatal signal" if info.killable else "a signal" if info.interruptible else "a timeout"
            self.err(span, "NC209", f"{op} can end by {why} with the condition false: say what happens with on_fail:",
                     "on_fail: return, on_fail: goto LABEL, or a list of statements")
            return None
        return WaitOp(span, shown, op, queue, cond, on_fail)

    def form_call(self, form: str, node: Map, value: Node, span: Span) -> Stmt | None:
        text, vspan = self.expr_of(value, "call")
        text = str(text)
        result_node = node.get("result")
        result = None
        if result_node is not None:
            rtext, rspan = self.expr_of(result_node, "result")
            result = parse_expr(rtext, self.scoped(), rspan)
        if re.fullmatch(r"\s*[A-Za-z_]\w*\s*", text):
            text = text.strip() + "()"
        if self.scope.has_callbacks() and re.match(r"^\s*[A-Za-z_]\w*\s*\.\s*[A-Za-z_]\w*\s*(\(|$)", text):
            text = text.strip() + ("()" if text.rstrip()[-1] != ")" else "")
            through = _syntax_tree(text, vspan, "eval")
            if isinstance(through, ast.Expression) and isinstance(through.body, ast.Call):
                shown = text if result is None else f"{result_node.value} = {text}"  # type: ignore[union-attr]
                return _retext(self.indirect(through.body, text, vspan, result), shown)
        # The same size, depth and syntax checks as every other expression.
        tree = _syntax_tree(text, vspan, "eval") if re.match(r"^\s*[A-Za-z_]\w*\s*\(", text) else None
        if not (isinstance(tree, ast.Expression) and isinstance(tree.body, ast.Call)
                and isinstance(tree.body.func, ast.Name)):
            raise ExprError(vspan, "NC117", f"call: takes 'procedure(args)', got '{shorten(text)}'",
                            "call: setup_net(n)")
        fn = tree.body.func.id
        if fn not in self.signatures:
            raise ExprError(vspan, "NC116", f"undefined procedure '{fn}'",
                            did_you_mean(fn, self.signatures) or "define it under procedures:",
                            follow_on=fn in self.scope.broken)
        shown = text if result is None else f"{result_node.value} = {text}"  # type: ignore[union-attr]
        return self.invoke(fn, tuple(tree.body.args), text, vspan, vspan, result) if result is None else \
            _retext(self.invoke(fn, tuple(tree.body.args), text, vspan, vspan, result), shown)

    def form_if(self, form: str, node: Map, value: Node, span: Span) -> Stmt:
        text, vspan = self.expr_of(value, "if")
        cond = parse_condition(text, self.scoped(), vspan)
        if node.get("then") is None and node.get("else") is None:
            raise ExprError(span, "NC207", "if: without then: or else:",
                            "indent then: under if:, level with it: '- if: COND' / '  then: [...]'")
        then = self.block(node.get("then"))
        orelse = self.block(node.get("else"))
        return If(span, f"if ({text})", cond, then, orelse)

    def form_while(self, form: str, node: Map, value: Node, span: Span) -> Stmt:
        text, vspan = self.expr_of(value, "while")
        cond = parse_condition(text, self.scoped(), vspan)
        body = self.loop_body(node.get("do"))
        return While(span, f"while ({text})", cond, body)

    def loop_body(self, node: Node | None) -> tuple[Stmt, ...]:
        self.loop_counter += 1
        saved = self.loop_path
        self.loop_path = saved + (self.loop_counter,)
        try:
            return self.block(node)
        finally:
            self.loop_path = saved

    def form_loop(self, form: str, node: Map, value: Node, span: Span) -> Stmt:
        text, vspan = self.expr_of(value, form)
        m = re.match(r"^\s*([A-Za-z_]\w*)\s+in\s+(.+)$", str(text), re.S)
        if not m:
            raise ExprError(vspan, "NC210", f"{form}: takes 'x in LIST', got '{shorten(str(text))}'",
                            f"{form}: o in pernet_list")
        var = m.group(1)
        source = parse_expr(m.group(2), self.scoped(), vspan.shifted(m.start(2)))
        order = LOOPS[form]
        if form == "for_each":
            if not isinstance(source.type, (SetT, ListT)):
                raise ExprError(source.span, "NC210", f"for_each ranges over a set, list or entity, got {source.type}",
                                "for_each: x in ENTITY, GROUP, or a set or list variable")
        elif not (isinstance(source.type, ListT) and isinstance(source, (Local, Shared))):
            raise ExprError(source.span, "NC210", f"{form} walks a list variable, got {source.type}",
                            "list_for_each_entry walks a list: declare it as list<ENTITY>")
        rcu = form == "list_for_each_entry_rcu"
        if rcu:
            self.rcu_list(form, source)
        assert isinstance(source.type, (SetT, ListT))
        entity = source.type.entity
        existing = self.local_types.get(var)
        if existing is None:
            if order == "continue_reverse":
                raise ExprError(vspan, "NC210", f"{form} continues from the cursor '{var}', which is not a local",
                                "declare it and let an earlier loop leave it on an element")
            if var in self.scope.shared or var in self.scope.elements:
                raise ExprError(vspan, "NC103", f"loop variable '{var}' hides a global name", "rename it")
            self.local_types[var] = RefT(entity, True)
        elif not (isinstance(existing, RefT) and existing.entity == entity):
            raise ExprError(vspan, "NC303", f"loop variable '{var}' is {existing}, the list holds {entity}",
                            f"declare it as {entity}?, or use another name")
        elif not existing.nullable:
            raise ExprError(vspan, "NC303", f"loop variable '{var}' must be {entity}? (null at the end)",
                            f"declare it as {entity}?")
        body = self.loop_body(node.get("do"))
        return ForEach(span, f"{form}({var}, {m.group(2).strip()})", var, source, order, body, rcu)

    def form_either(self, form: str, node: Map, value: Node, span: Span) -> Stmt | None:
        if not isinstance(value, Map) or not value.entries:
            self.err(value.span, "NC211", "either: takes named branches", "either: {ok: [...], fail: [...]}")
            return None
        branches = tuple((k.text, self.block(v)) for k, v in value.entries)
        return Either(span, "either", branches)

    def form_label(self, form: str, node: Map, value: Node, span: Span) -> Stmt | None:
        name = value.text if isinstance(value, Scalar) else ""
        if not re.match(r"^[A-Za-z_]\w*$", name):
            self.err(value.span, "NC201", "label: takes a name", "label: out_undo")
            return None
        if name in self.labels:
            self.err(value.span, "NC201", f"label '{name}' is defined twice in {self.current}()",
                     "rename one of them")
            return None
        self.labels[name] = (self.loop_path, value.span)
        return Label(span, f"{name}:", name)

    def form_goto(self, form: str, node: Map, value: Node, span: Span) -> Stmt | None:
        name = value.text if isinstance(value, Scalar) else ""
        return self.goto(name, span, f"goto {name}")

    def form_return(self, form: str, node: Map, value: Node, span: Span) -> Stmt:
        text, vspan = self.expr_of(value, "return")
        if isinstance(value, Scalar) and value.value is None:
            return self.return_stmt(None, span, span, "return")
        return self.return_stmt(text, span, vspan, f"return {value.text if isinstance(value, Scalar) else ''}")

    def form_assert(self, form: str, node: Map, value: Node, span: Span) -> Stmt | None:
        text, vspan = self.expr_of(value, "assert")
        cond = parse_condition(text, self.scoped(), vspan)
        name_node = node.get("name")
        if name_node is not None:
            name = name_node.text if isinstance(name_node, Scalar) else ""
            if not re.match(r"^[A-Za-z_]\w*$", name):
                self.err(name_node.span, "NC102", "name: takes an identifier", "use letters, digits and _")
                return None
        else:
            name = f"assert_{span.file.rsplit('/', 1)[-1].split('.')[0]}_{span.line}"
        about_node = node.get("about")
        about = about_node.text if isinstance(about_node, Scalar) else ""
        stmt = Assert(span, f"assert({text})", cond, name, about)
        if name in self.assert_names:
            self.err(span, "NC103", f"assert name '{name}' is used twice", "give each assert its own name")
            return None
        self.assert_names.add(name)
        self.asserts.append(stmt)
        return stmt

    def form_await(self, form: str, node: Map, value: Node, span: Span) -> Stmt | None:
        text, vspan = self.expr_of(value, "await")
        cond = parse_condition(text, self.scoped(), vspan)
        idle_node = node.get("idle")
        idle = bool(idle_node.value) if isinstance(idle_node, Scalar) and isinstance(idle_node.value, bool) else False
        if idle_node is not None and not (isinstance(idle_node, Scalar) and isinstance(idle_node.value, bool)):
            self.err(idle_node.span, "NC101", "idle: takes true or false", "idle: true")
        return Await(span, f"wait_event({text})", cond, idle)

    def form_rcu_read_lock(self, form: str, node: Map, value: Node, span: Span) -> Stmt:
        return Rcu(span, f"{form}()", form)

    form_rcu_read_unlock = form_synchronize_rcu = form_rcu_barrier = form_rcu_read_lock

    def form_srcu_read_lock(self, form: str, node: Map, value: Node, span: Span) -> Stmt:
        """srcu_read_lock: D, srcu_read_unlock: D, synchronize_srcu: D on an srcu lock D (include/linux/srcu.h)."""
        text, vspan = self.expr_of(value, form)
        name = str(text).strip() if text is not None else ""
        lock = self.scope.locks.get(name)
        if lock is None or lock[0] != SRCU_KIND:
            what = f"a {lock[0]}" if lock else "not an srcu lock"
            raise ExprError(vspan, "NC219", f"{form} takes an SRCU domain; '{name}' is {what}",
                            did_you_mean(name, [k for k, (kind, _) in self.scope.locks.items() if kind == SRCU_KIND])
                            or "declare it under locks: as 'NAME: srcu'")
        return Rcu(span, f"{form}(&{name})", form, name)

    form_srcu_read_unlock = form_synchronize_srcu = form_srcu_read_lock

    def freed_element(self, form: str, value: Node, code: str) -> tuple[str, Expr, str]:
        """What `kfree: x` and `kfree_rcu: x` free: its text, the element, its entity (else error `code`)."""
        text, vspan = self.expr_of(value, form)
        item = parse_expr(str(text), self.scoped(), vspan)
        if not isinstance(item.type, RefT):
            raise ExprError(item.span, code, f"{form} takes an element, got {item.type}",
                            f"{form}: x, with x an element (or null: then nothing happens)")
        return str(text).strip(), item, item.type.entity

    def form_kfree(self, form: str, node: Map, value: Node, span: Span) -> Stmt:
        """kfree: x frees an element: no list may still hold it, no RCU reader still reach it."""
        text, item, _ = self.freed_element(form, value, "NC218")
        return Free(span, f"kfree({text})", item)

    def form_call_rcu(self, form: str, node: Map, value: Node, span: Span) -> Stmt:
        """`call_rcu: f(x)` (the kernel's call_rcu(&x->rcu, f)) or `call_rcu: f` (a static rcu_head): queue the
        procedure f to run after a grace period (model/lang/rcucallbacks.py)."""
        text, vspan = self.expr_of(value, form)
        m = re.fullmatch(r"\s*([A-Za-z_]\w*)\s*(?:\((.*)\))?\s*", str(text), re.S)
        usage = "call_rcu: free_net_rcu(n), the callback called with the object its rcu_head is embedded in"
        if not m:
            raise ExprError(vspan, "NC250", f"call_rcu takes the callback call, got '{shorten(str(text))}'", usage)
        name, arg = m.group(1), (m.group(2) or "").strip()
        if name not in self.signatures:
            raise ExprError(vspan, "NC116", f"undefined procedure '{name}'",
                            did_you_mean(name, self.signatures) or "define it under procedures:",
                            follow_on=name in self.scope.broken)
        _, params, returns = self.signatures[name]
        if returns is not None or len(params) > 1 or (params and not isinstance(params[0][1], RefT)):
            raise ExprError(vspan, "NC250", f"{name}() cannot be an RCU callback: a callback gets only its rcu_head "
                            "(void (*)(struct rcu_head *)) and returns nothing",
                            "give it one element parameter (the object embedding the rcu_head, as container_of() "
                            "finds it) or none (a static rcu_head), and no result")
        item: Expr | None = None
        param = params[0][1] if params else None
        entity = param.entity if isinstance(param, RefT) else ""
        if entity:
            if not arg:
                raise ExprError(vspan, "NC250", f"call_rcu: {name}() takes the {entity} its rcu_head is in",
                                f"write 'call_rcu: {name}(x)', x a {entity}")
            item = parse_expr(arg, self.scoped(), vspan.shifted(m.start(2)))
            if not (isinstance(item.type, RefT) and item.type.entity == entity) and not isinstance(item.type, NullT):
                raise ExprError(item.span, "NC250", f"call_rcu: {name}() takes a {entity}, got {item.type}",
                                f"pass the {entity} whose rcu_head is queued")
        elif arg:
            raise ExprError(vspan, "NC250", f"call_rcu: {name}() takes no argument (a static rcu_head)",
                            f"write 'call_rcu: {name}'")
        self.rcu_callbacks.setdefault(name, RcuCallbackDecl(name, entity, False, span))
        shown = f"call_rcu(&{arg}->rcu, {name})" if params else f"call_rcu(&{head_var(name)}, {name})"
        return CallRcu(span, shown, name, item)

    def form_kfree_rcu(self, form: str, node: Map, value: Node, span: Span) -> Stmt:
        """`kfree_rcu: x` (the kernel's kfree_rcu(x, rcu)): free x after a grace period."""
        text, item, entity = self.freed_element(form, value, "NC251")
        name = kfree_callback(entity)
        self.rcu_callbacks.setdefault(name, RcuCallbackDecl(name, entity, True, span))
        return CallRcu(span, f"kfree_rcu({text}, rcu)", name, item, True)

    # -- whole-spec checks

    def check_recursion(self, procedures: list[Procedure]) -> None:
        """Procedures are inlined into threads, so calls must not form a cycle."""
        state: dict[str, int] = {}
        for root in self.calls:
            if state.get(root):
                continue
            stack: list[tuple[str, int]] = [(root, 0)]
            path: list[str] = []
            while stack:
                name, i = stack.pop()
                if i == 0:
                    state[name] = 1
                    path.append(name)
                callees = self.calls.get(name, [])
                if i < len(callees):
                    stack.append((name, i + 1))
                    callee, span = callees[i]
                    if state.get(callee) == 1:
                        cycle = " -> ".join(path[path.index(callee):] + [callee])
                        self.err(span, "NC212", f"recursive call {cycle}",
                                 "procedures are inlined into threads: rewrite the recursion as a loop")
                    elif not state.get(callee):
                        stack.append((callee, 0))
                else:
                    state[name] = 2
                    path.pop()


def _falls_through(stmts: tuple[Stmt, ...]) -> bool:
    """Whether control can run off the end of `stmts` (conservative: any label may be jumped to)."""
    reachable = True
    for stmt in stmts:
        if isinstance(stmt, Label):
            reachable = True
        elif reachable:
            reachable = _stmt_falls_through(stmt)
    return reachable


def _stmt_falls_through(stmt: Stmt) -> bool:
    if isinstance(stmt, (Return, Goto, Break, Continue)):
        return False
    if isinstance(stmt, If):
        return _falls_through(stmt.then) or _falls_through(stmt.orelse)
    if isinstance(stmt, Either):
        return any(_falls_through(body) for _, body in stmt.branches)
    if isinstance(stmt, While):
        endless = isinstance(stmt.cond, Const) and stmt.cond.value is True
        return not endless or _breaks(stmt.body)
    return True


def _breaks(stmts: tuple[Stmt, ...]) -> bool:
    """Whether a break in `stmts` (outside nested loops) leaves the loop whose body they are."""
    for stmt in stmts:
        if isinstance(stmt, Break):
            return True
        if isinstance(stmt, If) and (_breaks(stmt.then) or _breaks(stmt.orelse)):
            return True
        if isinstance(stmt, Either) and any(_breaks(body) for _, body in stmt.branches):
            return True
        if isinstance(stmt, (LockOp, CounterOp, WaitOp)) and stmt.on_fail and _breaks(stmt.on_fail):
            return True
    return False


def _counter_example(kind: object) -> str:
    return {"refcount_t": "refcount_t[0..3]", "atomic_t": "atomic_t[0..3]"}.get(getattr(kind, "value", ""),
                                                                                 "completion[2]")


def _counter_hint(t: Type) -> str:
    kind = getattr(t, "counter", None)
    return {"refcount_t": "refcount_set: X, N / refcount_inc: X / refcount_dec: X",
            "atomic_t": "atomic_set: X, N / atomic_inc: X / atomic_dec: X"}.get(
        getattr(kind, "value", ""), "init_completion: X / complete: X / wait_for_completion: X")


def _lock_text(text: object) -> str:
    return f"&{str(text).strip()}"


def _retext(stmt: Stmt, text: str) -> Stmt:
    return replace(stmt, text=text)


__all__ = ["BodyParser", "parse_signature", "EnumT"]
