"""Kernel C to lock skeletons, with tree-sitter-c (the optional `conform` extra; imported when first used).

tree-sitter recovers from what it cannot parse (kernel macros, GNU extensions): an ERROR node's children
are still walked, so a call inside an unparsed region is kept. A `list_for_each_entry(...)` macro with no
`;` after it is a loop over the statement that follows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from netcheck.model.lang import spec as S
from netcheck.model.lang.errors import Diagnostic, Span, SpecError
from netcheck.model.lang.lockapi import LOCK_API

from .skeleton import Branch, FailArm, Goto, Label, Loop, Node, Op, OpKind, Return, Skeleton, classify

INSTALL_HINT = ("install the conform extra: `.venv/bin/pip install -e '.[conform]'` in the netcheck clone, or "
                "`pip install tree-sitter tree-sitter-c` (the PyPI packages)")
MAX_SOURCE = 8 * 1024 * 1024


class ToolsMissing(Exception):
    """tree-sitter or its C grammar is not installed."""


def _parser() -> Any:
    try:
        import tree_sitter
        import tree_sitter_c
    except ImportError as err:
        raise ToolsMissing(f"netcheck: this command needs tree-sitter-c: {INSTALL_HINT}") from err
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_c.language()))


def _error(path: str, line: int, col: int, message: str, hint: str) -> SpecError:
    return SpecError([Diagnostic(Span(path, line, col), "NC501", message, hint)])


def read_source(path: str) -> bytes:
    """The file's bytes; a missing, huge or binary file is a located error (NC501)."""
    p = Path(path)
    if not p.is_file():
        raise _error(path, 1, 1, "no such C source file, or not a regular file", "give the path of a .c file")
    data = p.read_bytes()
    if len(data) > MAX_SOURCE:
        raise _error(path, 1, 1, f"the file is larger than {MAX_SOURCE // (1024 * 1024)} MiB", "give one .c file")
    if b"\0" in data:
        raise _error(path, 1, 1, "a binary file, not C source", "give the path of a .c file")
    return data


def parse_source(path: str, wrappers: Mapping[str, S.LockOp], data: bytes | None = None) -> tuple[Skeleton, ...]:
    """Every function defined in the C file at `path`, as a skeleton, in file order."""
    data = read_source(path) if data is None else data
    tree = _parser().parse(data)
    functions = list(_definitions(tree.root_node))
    if not functions:
        bad = _first_error(tree.root_node)
        line, col = (bad.start_point[0] + 1, bad.start_point[1] + 1) if bad is not None else (1, 1)
        raise _error(path, line, col, "no C function definition found"
                     + (" (the file does not parse as C)" if bad is not None else ""),
                     "give a kernel .c file that defines the functions to compare")
    return tuple(_Walker(path, wrappers).function(node) for node in functions)


def _definitions(node: Any) -> Iterator[Any]:
    for child in node.named_children:
        if child.type == "function_definition":
            if _name(child):
                yield child
        elif child.type in ("ERROR", "preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif",
                            "linkage_specification", "declaration_list"):
            yield from _definitions(child)


def _first_error(node: Any) -> Any | None:
    if node.type == "ERROR" or node.is_missing:
        return node
    for child in node.children:
        found = _first_error(child)
        if found is not None:
            return found
    return None


def _name(fn: Any) -> str:
    """The function's name, through pointer declarators (`struct net *copy_net_ns(...)`)."""
    decl = fn.child_by_field_name("declarator")
    while decl is not None and decl.type != "function_declarator":
        decl = decl.child_by_field_name("declarator")
    if decl is None:
        return ""
    ident = decl.child_by_field_name("declarator")
    return _text(ident) if ident is not None and ident.type == "identifier" else ""


def _text(node: Any) -> str:
    return bytes(node.text).decode("utf-8", errors="replace")


class _Walker:
    def __init__(self, path: str, wrappers: Mapping[str, S.LockOp]):
        self.path = path
        self.wrappers = wrappers
        self.last: Op | None = None     # the previous statement's last operation (an if may test its failure)

    def at(self, node: Any) -> Span:
        return Span(self.path, node.start_point[0] + 1, node.start_point[1] + 1)

    def function(self, fn: Any) -> Skeleton:
        body = fn.child_by_field_name("body")
        return Skeleton(_name(fn), self.at(fn), self.block(body.named_children) if body is not None else ())

    def block(self, children: list[Any]) -> tuple[Node, ...]:
        out: list[Node] = []
        i = 0
        while i < len(children):
            child = children[i]
            loop = _macro_loop(child)
            if loop is not None and i + 1 < len(children):
                out.extend(self.label_prefix(child))
                out.append(Loop(_text(loop).split("(", 1)[0] + "(...)", self.statement(children[i + 1]),
                                self.at(loop)))
                i += 2
                continue
            done = self.statement(child)
            out.extend(done)
            self.last = done[-1] if done and isinstance(done[-1], Op) else None
            i += 1
        return tuple(out)

    def label_prefix(self, node: Any) -> list[Node]:
        out: list[Node] = []
        while node.type == "labeled_statement":
            label = node.child_by_field_name("label")
            out.append(Label(_text(label) if label is not None else "", self.at(node)))
            node = node.named_children[-1]
        return out

    def statement(self, node: Any) -> tuple[Node, ...]:
        kind = node.type
        if kind == "comment":
            return ()
        if kind == "compound_statement":
            return self.block(node.named_children)
        if kind == "if_statement":
            return self.if_statement(node)
        if kind in ("for_statement", "while_statement", "do_statement"):
            return self.loop(node)
        if kind == "switch_statement":
            cond = node.child_by_field_name("condition")
            body = node.child_by_field_name("body")
            return (*self.calls(cond), Branch(f"switch {_text(cond) if cond else ''}",
                                              self.statement(body) if body is not None else (), (), self.at(node)))
        if kind == "case_statement":
            return self.block([c for c in node.named_children if c != node.child_by_field_name("value")])
        if kind == "labeled_statement":
            label = node.child_by_field_name("label")
            inner = [c for c in node.named_children if c != label]
            return (Label(_text(label) if label is not None else "", self.at(node)), *self.block(inner))
        if kind == "goto_statement":
            label = node.child_by_field_name("label")
            return (Goto(_text(label) if label is not None else "", self.at(node)),)
        if kind == "return_statement":
            return (*self.calls(node), Return(self.at(node)))
        if kind == "ERROR":
            return self.block(node.named_children)
        return self.calls(node)

    def if_statement(self, node: Any) -> tuple[Node, ...]:
        cond = node.child_by_field_name("condition")
        then = node.child_by_field_name("consequence")
        alt = node.child_by_field_name("alternative")
        if alt is not None and alt.type == "else_clause":
            alt = alt.named_children[0] if alt.named_children else None
        text = " ".join(_text(cond).split()) if cond is not None else ""
        before = self.last
        tested = self.calls(cond)
        failed = _tests_failure(next((op for op in tested if isinstance(op, Op) and op.kind is OpKind.ACQUIRE),
                                     before), text)
        return (*tested, Branch(f"if {text}", self.statement(then) if then is not None else (),
                                self.statement(alt) if alt is not None else (), self.at(node), failed=failed))

    def loop(self, node: Any) -> tuple[Node, ...]:
        body = node.child_by_field_name("body")
        head = [c for c in node.named_children if c != body]
        ops = tuple(op for c in head for op in self.calls(c))
        word = node.type.split("_")[0]
        return (*ops, Loop(word, self.statement(body) if body is not None else (), self.at(node)))

    def calls(self, node: Any | None) -> tuple[Node, ...]:
        """The calls in an expression or declaration, in evaluation order (arguments first)."""
        if node is None:
            return ()
        out: list[Node] = []
        for call in _calls(node):
            fn = call.child_by_field_name("function")
            args = call.child_by_field_name("arguments")
            if fn is None:
                continue
            first = args.named_children[0] if args is not None and args.named_children else None
            name = "".join(_text(fn).split())
            if fn.type == "identifier":
                out.append(classify(name, _text(first) if first is not None else "", self.at(call), self.wrappers))
            else:   # a call through a pointer: ops->init(net)
                out.append(Op(OpKind.CALL, name, self.at(call)))
        return tuple(out)


def _tests_failure(op: Op | None, cond: str) -> FailArm:
    """Which arm of an if is the failure of `op`: a killable acquire's `if (rv < 0)` (then) or `if (!rv)`
    (else); a trylock's `if (!mutex_trylock())` (then) or `if (mutex_trylock())` (else)."""
    if op is None or op.kind is not OpKind.ACQUIRE:
        return FailArm.NONE
    info = LOCK_API[op.api]
    if not info.can_fail:
        return FailArm.NONE
    negated = cond.lstrip("( ").startswith("!") or "== 0" in cond
    return FailArm.THEN if negated == info.trylock else FailArm.ELSE


def _calls(node: Any) -> Iterator[Any]:
    """call_expression nodes below `node`, post-order (a call's arguments are evaluated before it)."""
    for child in node.children:
        if child.type not in ("compound_statement",):
            yield from _calls(child)
    if node.type == "call_expression":
        yield node


def _macro_loop(node: Any) -> Any | None:
    """A `*for_each*(...)` macro statement with no `;`: the loop header of the statement after it."""
    while node.type == "labeled_statement":
        node = node.named_children[-1]
    if node.type != "expression_statement" or any(c.type == ";" and not c.is_missing for c in node.children):
        return None
    call = node.named_children[0] if node.named_children else None
    if call is None or call.type != "call_expression":
        return None
    fn = call.child_by_field_name("function")
    return call if fn is not None and "for_each" in _text(fn) else None
