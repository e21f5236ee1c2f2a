"""Patch-sized `extends:`: a child spec changes one statement of an inherited procedure without copying it.

    procedures:
      setup_net:
        locals: {undone: bool}          # optional: added to the parent's locals
        edit:
          - after: "inits[n, o] += 1"   # the statement as the parent writes it (a mapping statement:
            insert: [...]               #  `mutex_lock: net_mutex`, or its first key alone: `either`)
          - before: {label: out_undo}
            insert: [...]
          - replace: "list_for_each_entry_continue_reverse: o in pernet_list"
            with: [...]                 # [] deletes it
          - delete: rcu_barrier
          - wrap: "call: rtnl_lock"
            before: [...]
            after: [...]

Each edit names exactly one statement of the parent's procedure (nested blocks included): none or
several is an error at the edit, listing what it could mean. Edits apply in order to the tree, before
anything is parsed, so statements they add are checked (and located) like any other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from .errors import Diagnostic, Span, SpecError, shorten
from .yamlload import Map, Node, Scalar, Seq

EDIT_KEYS = ("locals", "edit")
OPERATIONS = ("after", "before", "replace", "delete", "wrap")
# the extra keys each operation takes (`before`/`after` are statement lists under `wrap`)
OPERAND_KEYS = {"after": ("insert",), "before": ("insert",), "replace": ("with",), "delete": (),
                "wrap": ("before", "after")}
FORM = ("edit: [{after: STATEMENT, insert: [...]}, {before: ..., insert: [...]}, {replace: ..., with: [...]}, "
        "{delete: ...}, {wrap: ..., before: [...], after: [...]}]")

Path = tuple[int, ...]   # where a statement is: indices into nested statement lists (see `_lists`)


def is_edit(value: Node) -> bool:
    """A procedure entry that edits the parent's procedure instead of replacing it."""
    return isinstance(value, Map) and value.get("edit") is not None


def apply_edits(name: str, parent: Node, child: Map) -> Node:
    """The parent's procedure entry (a statement list, or {locals:, body:, ...}) with the child's edits and
    extra locals applied."""
    _check_keys(child, EDIT_KEYS, "an edited procedure takes edit: and locals:")
    body = parent.get("body") if isinstance(parent, Map) else parent
    if not isinstance(body, Seq):
        raise _error(child.span, f"procedure {name} has no statement list to edit", "give it whole instead of edit:")
    edits = child.get("edit")
    if not isinstance(edits, Seq):
        raise _error(child.span, "edit: takes a list of edits", FORM)
    for edit in edits.items:
        body = _apply(name, body, edit)
    locals_ = _merged_locals(parent, child.get("locals"))
    if isinstance(parent, Map):
        entries = [(k, body if k.text == "body" else locals_ if k.text == "locals" and locals_ is not None else v)
                   for k, v in parent.entries]
        if locals_ is not None and parent.get("locals") is None:
            entries.insert(0, (Scalar(child.span, "locals", "locals"), locals_))
        return Map(parent.span, tuple(entries), {k.text: i for i, (k, _) in enumerate(entries)})
    if locals_ is None:
        return body
    entries = [(Scalar(child.span, "locals", "locals"), locals_), (Scalar(child.span, "body", "body"), body)]
    return Map(parent.span, tuple(entries), {"locals": 0, "body": 1})


def _merged_locals(parent: Node, extra: Node | None) -> Node | None:
    if extra is None:
        return None
    if not isinstance(extra, Map):
        raise _error(extra.span, "locals: takes a mapping NAME: TYPE", "locals: {undone: bool}")
    old = parent.get("locals") if isinstance(parent, Map) else None
    entries = list(old.entries) if isinstance(old, Map) else []
    names = {k.text for k, _ in entries}
    for key, value in extra.entries:
        if key.text in names:
            raise _error(key.span, f"local '{key.text}' is already declared by the parent",
                         "name the new local differently")
        entries.append((key, value))
    return Map(extra.span, tuple(entries), {k.text: i for i, (k, _) in enumerate(entries)})


def _apply(name: str, body: Seq, edit: Node) -> Seq:
    if not isinstance(edit, Map):
        raise _error(edit.span, "an edit is a mapping", FORM)
    ops = [op for op in OPERATIONS if edit.get(op) is not None]
    if "wrap" in ops:
        ops = ["wrap"]
    if len(ops) != 1:
        raise _error(edit.span, "an edit has exactly one of after:, before:, replace:, delete:, wrap:", FORM)
    op = ops[0]
    _check_keys(edit, (op, *OPERAND_KEYS[op]), f"{op}: takes " + (", ".join(f"{k}:" for k in OPERAND_KEYS[op])
                                                                 or "nothing else"))
    target = edit.get(op)
    assert target is not None
    path = _find(name, body, target)
    if op in ("after", "before"):
        new = _statements(edit, "insert")
        return _splice(body, path, lambda stmt: (*new, stmt) if op == "before" else (stmt, *new))
    if op == "replace":
        new = _statements(edit, "with")
        return _splice(body, path, lambda stmt: new)
    if op == "delete":
        return _splice(body, path, lambda stmt: ())
    before = _statements(edit, "before", required=False)
    after = _statements(edit, "after", required=False)
    return _splice(body, path, lambda stmt: (*before, stmt, *after))


def _statements(edit: Map, key: str, required: bool = True) -> tuple[Node, ...]:
    node = edit.get(key)
    if node is None:
        if required:
            raise _error(edit.span, f"this edit needs {key}: [STATEMENTS]", FORM)
        return ()
    return node.items if isinstance(node, Seq) else (node,)


def header(stmt: Node) -> str:
    """How an edit names a statement: its text (`rv = setup_net(n)`), or a mapping statement's first key
    and scalar value (`mutex_lock: net_mutex`, `label: out_undo`), or that key alone (`either`)."""
    if isinstance(stmt, Scalar):
        return _norm(_text(stmt))
    if isinstance(stmt, Map) and stmt.entries:
        key, value = stmt.entries[0]
        return _norm(f"{key.text}: {_text(value)}") if isinstance(value, Scalar) else key.text
    return ""


def _text(scalar: Scalar) -> str:
    """A scalar as written, without its quotes."""
    return scalar.value if isinstance(scalar.value, str) else scalar.text


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _target_text(target: Node) -> str:
    if isinstance(target, Scalar):
        return _norm(_text(target))
    if isinstance(target, Map) and len(target.entries) == 1:
        key, value = target.entries[0]
        if isinstance(value, Scalar):
            return _norm(f"{key.text}: {_text(value)}")
    raise _error(target.span, "name the statement as the parent writes it", '"x = 1", "mutex_lock: m" or {label: L}')


def _lists(body: Seq, path: Path = ()) -> Iterator[tuple[Path, Node]]:
    """Every statement with its path: index in the list, then for a nested list the statement's entry
    index and the list (or the either-branch entry index and its list), then the index in that list."""
    for i, stmt in enumerate(body.items):
        yield (*path, i), stmt
        if isinstance(stmt, Map):
            for j, (_, value) in enumerate(stmt.entries):
                if isinstance(value, Seq):
                    yield from _lists(value, (*path, i, j, -1))
                elif isinstance(value, Map):   # either: {branch: [...]}
                    for k, (_, branch) in enumerate(value.entries):
                        if isinstance(branch, Seq):
                            yield from _lists(branch, (*path, i, j, k))


def _find(name: str, body: Seq, target: Node) -> Path:
    want = _target_text(target)
    found = [(path, stmt) for path, stmt in _lists(body) if header(stmt) == want]
    if len(found) == 1:
        return found[0][0]
    if not found:
        near = sorted({header(s) for _, s in _lists(body) if header(s)},
                      key=lambda h: (want.split(":")[0] not in h, h))[:6]
        raise _error(target.span, f"procedure {name} has no statement '{shorten(want)}'",
                     "one of: " + "; ".join(near) if near else "name a statement of the parent's procedure")
    lines = ", ".join(str(stmt.span.line) for _, stmt in found)
    raise _error(target.span, f"procedure {name} has {len(found)} statements '{shorten(want)}' (lines {lines})",
                 "edit the procedure whole, or name a statement that occurs once")


def _splice(body: Seq, path: Path, make: Callable[[Node], tuple[Node, ...]]) -> Seq:
    """`body` with the statement at `path` replaced by `make(statement)`."""
    i, rest = path[0], path[1:]
    items = list(body.items)
    if not rest:
        items[i:i + 1] = make(items[i])
        return Seq(body.span, tuple(items))
    stmt = items[i]
    assert isinstance(stmt, Map)
    j, k, rest = rest[0], rest[1], rest[2:]
    entries = list(stmt.entries)
    key, value = entries[j]
    if k < 0:
        assert isinstance(value, Seq)
        entries[j] = (key, _splice(value, rest, make))
    else:
        assert isinstance(value, Map)
        branches = list(value.entries)
        bkey, branch = branches[k]
        assert isinstance(branch, Seq)
        branches[k] = (bkey, _splice(branch, rest, make))
        entries[j] = (key, Map(value.span, tuple(branches), value.index))
    items[i] = Map(stmt.span, tuple(entries), stmt.index)
    return Seq(body.span, tuple(items))


def _check_keys(node: Map, allowed: tuple[str, ...], hint: str) -> None:
    for key, _ in node.entries:
        if key.text not in allowed:
            raise _error(key.span, f"unknown key '{key.text}' in an edit", hint)


def _error(span: Span, message: str, hint: str) -> SpecError:
    return SpecError([Diagnostic(span, "NC022", message, hint)])
