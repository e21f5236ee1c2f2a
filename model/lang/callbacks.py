"""Callbacks as values: per entity a table of function pointers (`callbacks:`), bound per element, and calls
through an element (`o.init(n)`, the kernel's `ops->init(net)`).

```yaml
callbacks:
  ops:                                     # struct pernet_operations
    slots:
      init: "(net n) -> int[-12..0]"       # int (*init)(struct net *net);
      exit: "(net n)"                      # void (*exit)(struct net *net);
    bind:                                  # static struct pernet_operations X = { .init = ..., };
      ops: {exit: plain_exit}              # every element (the entity's name)
      device: {init: device_init}          # a group: overrides the entity's binding, slot by slot
      subsys0: {exit: null}                # an element: overrides its group's; null is NULL (unset)
```

A call through an element is resolved here to one procedure per element (`IndirectCall.targets`): the
compiler (model/semantics/program.py) turns it into a branch over the elements, each inlining its
procedure, so nothing downstream sees a function value. `o.exit` in an expression asks whether o's slot is
set (`if (ops->exit)`): it is `o in {the elements binding exit}`. Under `extends:` the section merges slot
by slot and binding by binding (model/lang/extends.py), so a child adds an element's callbacks or rebinds one.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping, Sequence

from .errors import Diagnostics, Span, did_you_mean, shorten
from .expr import Const, Expr, ExprError, Local, Scope, Shared, assignable, check_expr_node
from .spec import CallbackSlot, CallbackTable, Entity, IndirectCall
from .types import RefT, Type, TypeSyntaxError
from .yamlload import Map, Node, Scalar, describe

TABLE_KEYS = ("slots", "bind", "about")
Signature = tuple[str, tuple[tuple[str, Type], ...], Type | None]
NULL_CALL = "a call through a NULL function pointer"


def signature_text(params: Sequence[tuple[str, Type]], returns: Type | None) -> str:
    out = f"({', '.join(f'{t} {n}' for n, t in params)})"
    return out + (f" -> {returns}" if returns is not None else "")


def masks(tables: Sequence[CallbackTable]) -> dict[str, dict[str, int]]:
    """Per entity and slot, the bit mask of the elements that set it (what `o.slot` tests)."""
    out: dict[str, dict[str, int]] = {}
    for table in tables:
        out[table.entity] = {slot.name: sum(1 << i for i, row in enumerate(table.bindings) if row[k])
                             for k, slot in enumerate(table.slots)}
    return out


# ---------------------------------------------------------------- the callbacks: section


class CallbackParser:
    """Parses `callbacks:` against the entities and the procedure signatures (bodies are not needed)."""

    def __init__(self, entities: Sequence[Entity], signatures: Mapping[str, Signature], diag: Diagnostics,
                 parse_sig: Callable[[str], Signature]):
        self.entities = {e.name: e for e in entities}
        self.signatures = signatures
        self.diag = diag
        self.parse_sig = parse_sig   # text -> Signature (statements.parse_signature with the spec's types)
        # what was refused, so that its uses are not reported again: ENTITY.SLOT, ENTITY. (a whole table), or
        # '.' (a table of an unknown entity)
        self.refused: set[str] = set()

    def err(self, span: Span, code: str, message: str, hint: str = "") -> None:
        self.diag.error(span, code, message, hint)

    def section(self, node: Node | None) -> list[CallbackTable]:
        if node is None:
            return []
        if not isinstance(node, Map):
            self.err(node.span, "NC135", f"callbacks: must be a mapping, not {describe(node)}",
                     "callbacks: {ENTITY: {slots: {NAME: SIGNATURE}, bind: {ELEMENT: {NAME: PROCEDURE}}}}")
            return []
        out = []
        for key, value in node.entries:
            table = self.table(key, value)
            if table is not None:
                out.append(table)
        return out

    def table(self, key: Scalar, value: Node) -> CallbackTable | None:
        entity = self.entities.get(key.text)
        self.refused.add(f"{key.text}." if entity is not None else ".")
        if entity is None:
            self.err(key.span, "NC107", f"callbacks: of an unknown entity '{shorten(key.text)}'",
                     did_you_mean(key.text, self.entities) or "declare the entity under entities:")
            return None
        if not isinstance(value, Map):
            self.err(value.span, "NC135", f"callbacks: of {entity.name} takes slots: and bind:, not {describe(value)}",
                     'slots: {init: "(net n) -> int[-12..0]"}, bind: {ELEMENT: {init: PROCEDURE}}')
            return None
        for k, _ in value.entries:
            if k.text not in TABLE_KEYS:
                self.err(k.span, "NC104", f"unknown key '{k.text}' in callbacks: of {entity.name}",
                         did_you_mean(k.text, TABLE_KEYS))
        slots = self.slots(entity, value.get("slots"), value.span)
        if slots is None:
            return None
        bindings = self.bindings(entity, slots, value.get("bind"))
        self.refused.discard(f"{entity.name}.")
        return CallbackTable(entity.name, tuple(slots), bindings, key.span)

    def slots(self, entity: Entity, node: Node | None, at: Span) -> list[CallbackSlot] | None:
        if not isinstance(node, Map) or not node.entries:
            self.err(node.span if node is not None else at, "NC135",
                     f"callbacks: of {entity.name} needs slots:, a mapping of NAME: SIGNATURE",
                     'slots: {init: "(net n) -> int[-12..0]", exit: "(net n)"}')
            return None
        out = []
        for key, value in node.entries:
            self.refused.add(f"{entity.name}.{key.text}")
            if not key.text.isidentifier() or key.text.startswith("__"):
                self.err(key.span, "NC102", f"callback slot name '{shorten(key.text)}' is not a plain identifier",
                         "use letters, digits and _")
                continue
            text = value.value if isinstance(value, Scalar) else None
            if not isinstance(text, str) or not text.strip().startswith("("):
                self.err(value.span, "NC135", f"slot {entity.name}.{key.text} takes a signature '(PARAMS) -> TYPE'",
                         'e.g. "(net n) -> int[-12..0]", "(net n)" or "()"')
                continue
            try:
                _, params, returns = self.parse_sig(key.text + text)
            except TypeSyntaxError as err:
                self.err(value.span, "NC135", f"slot {entity.name}.{key.text}: {err}", err.hint)
                continue
            out.append(CallbackSlot(key.text, params, returns, key.span))
            self.refused.discard(f"{entity.name}.{key.text}")
        return out

    def bindings(self, entity: Entity, slots: list[CallbackSlot], node: Node | None) -> tuple[tuple[str, ...], ...]:
        """Per element, per slot, the bound procedure: the entity's binding, then its group's, then its own."""
        rows = [["" for _ in slots] for _ in entity.elements]
        if node is None:
            return tuple(tuple(r) for r in rows)
        if not isinstance(node, Map):
            self.err(node.span, "NC135", f"bind: takes a mapping of ELEMENT or GROUP: {{SLOT: PROCEDURE}}, not "
                     f"{describe(node)}", "bind: {device: {init: device_init}}")
            return tuple(tuple(r) for r in rows)
        groups = {g.name: g.elements for g in entity.groups if g.name != entity.name}
        ranked: list[tuple[int, Scalar, Node, tuple[str, ...]]] = []
        for key, value in node.entries:
            if key.text == entity.name:
                ranked.append((0, key, value, entity.elements))
            elif key.text in groups:
                ranked.append((1, key, value, groups[key.text]))
            elif key.text in entity.elements:
                ranked.append((2, key, value, (key.text,)))
            else:
                self.err(key.span, "NC135", f"bind: '{shorten(key.text)}' is not {entity.name}, one of its groups "
                         "or one of its elements", did_you_mean(key.text, [entity.name, *groups, *entity.elements]))
        index = {el: i for i, el in enumerate(entity.elements)}
        for _, key, value, elements in sorted(ranked, key=lambda r: r[0]):
            for k, proc in self.binding(entity, slots, key, value):
                for el in elements:
                    rows[index[el]][k] = proc
        return tuple(tuple(r) for r in rows)

    def binding(self, entity: Entity, slots: list[CallbackSlot], key: Scalar, value: Node) -> list[tuple[int, str]]:
        """`{init: PROC, exit: null}`: (slot index, procedure or '') per slot it names, each checked."""
        if not isinstance(value, Map):
            self.err(value.span, "NC135", f"bind: {key.text} takes a mapping of SLOT: PROCEDURE, not {describe(value)}",
                     "{init: device_init, exit: null}")
            return []
        names = [s.name for s in slots]
        out = []
        for k, v in value.entries:
            if f"{entity.name}.{k.text}" in self.refused:   # its declaration was refused (and reported)
                continue
            if k.text not in names:
                self.err(k.span, "NC135", f"{entity.name} has no callback slot '{shorten(k.text)}'",
                         did_you_mean(k.text, names) or "declare it under slots:")
                continue
            slot = slots[names.index(k.text)]
            if isinstance(v, Scalar) and v.value is None:
                out.append((names.index(k.text), ""))
                continue
            proc = v.text if isinstance(v, Scalar) and isinstance(v.value, str) else ""
            if proc not in self.signatures:
                self.err(v.span, "NC116", f"undefined procedure '{shorten(proc or describe(v))}' bound to "
                         f"{entity.name}.{slot.name}", did_you_mean(proc, self.signatures) or
                         "define it under procedures:, or write null for no callback")
                continue
            _, params, returns = self.signatures[proc]
            if [t for _, t in params] != [t for _, t in slot.params] or returns != slot.returns:
                self.err(v.span, "NC136", f"{proc}{signature_text(params, returns)} does not fit "
                         f"{entity.name}.{slot.name}: {signature_text(slot.params, slot.returns)}",
                         "a bound procedure takes the slot's parameter types, in order, and returns its type")
                continue
            out.append((names.index(k.text), proc))
        return out


# ---------------------------------------------------------------- calls through an element


def indirect_call(scope: Scope, tables: Mapping[str, CallbackTable], call: ast.Call, text: str, span: Span,
                  result: Expr | None) -> IndirectCall:
    """`o.slot(args)` checked: o a local, parameter or element of an entity with callbacks, the slot one of
    its table, the arguments and the result of the slot's types."""
    func = call.func
    assert isinstance(func, ast.Attribute)
    via = check_expr_node(scope, span, text, func.value)
    where = via.span
    if not isinstance(via.type, RefT) or via.type.entity not in tables:
        raise ExprError(where, "NC240", f"a call through '{shorten(ast.unparse(func.value))}' ({via.type}): only "
                        "an element of an entity with callbacks: has callback slots",
                        "declare callbacks: {ENTITY: {slots: ..., bind: ...}} and call o.SLOT(args) with o an element",
                        follow_on=refused(scope, via.type))
    if not isinstance(via, (Local, Const)):
        raise ExprError(where, "NC240", f"a call through '{shorten(ast.unparse(func.value))}': the element must be a "
                        "local, a parameter or an element name", "copy it to a local first: o = ...; o.init(n)")
    table = tables[via.type.entity]
    names = [s.name for s in table.slots]
    if func.attr not in names:
        raise ExprError(where, "NC240", f"{table.entity} has no callback slot '{func.attr}'",
                        did_you_mean(func.attr, names), follow_on=refused(scope, via.type, func.attr))
    slot = table.slots[names.index(func.attr)]
    shown = f"{table.entity}.{slot.name}{signature_text(slot.params, slot.returns)}"
    if call.keywords or len(call.args) != len(slot.params):
        raise ExprError(span, "NC117", f"{table.entity}.{slot.name}() takes {len(slot.params)} argument(s), got "
                        f"{len(call.args) + len(call.keywords)}", f"slot {shown}")
    args = []
    for node, (pname, ptype) in zip(call.args, slot.params):
        e = check_expr_node(scope, span, text, node)
        if not assignable(ptype, e.type):
            raise ExprError(e.span, "NC117", f"argument '{pname}' of {table.entity}.{slot.name}() is {ptype}, got "
                            f"{e.type}", f"slot {shown}")
        args.append(e)
    if result is not None:
        if slot.returns is None:
            raise ExprError(span, "NC205", f"{table.entity}.{slot.name}() returns no value", f"slot {shown}")
        if not isinstance(result, (Local, Shared)):
            raise ExprError(result.span, "NC204", "only variables can receive a result",
                            "assign the result to a state variable or a local")
        if not assignable(result.type, slot.returns):
            raise ExprError(result.span, "NC303", f"cannot store {slot.returns} in {result.type}",
                            f"{table.entity}.{slot.name}() returns {slot.returns}")
    targets = table.targets(slot.name)
    if isinstance(via, Const):
        assert isinstance(via.value, int)
        targets = tuple(t if i == via.value else "" for i, t in enumerate(targets))
    return IndirectCall(span, text, via, table.entity, slot.name, tuple(args), result, targets)


def refused(scope: Scope, t: Type, slot: str = "") -> bool:
    """Whether the callbacks: declaration behind `o.slot` was refused (and reported): a follow-on error."""
    entity = t.entity if isinstance(t, RefT) else ""
    return bool({".", f"{entity}.", f"{entity}.{slot}"} & scope.broken) if entity else "." in scope.broken


def possible_targets(stmt: IndirectCall) -> list[str]:
    """The procedures a call through an element may run (for the recursion check), each once."""
    return list(dict.fromkeys(t for t in stmt.targets if t))


__all__ = ["CallbackParser", "NULL_CALL", "indirect_call", "masks", "possible_targets", "refused",
           "signature_text"]
