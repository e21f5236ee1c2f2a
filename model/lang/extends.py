"""`extends:` resolution: a spec is its parent's tree with sections merged entry by entry."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from .edits import apply_edits, is_edit
from .errors import Diagnostic, Span, SpecError, shorten
from .yamlload import Map, Node, Scalar, load_yaml

SECTIONS = ("entities", "types", "locks", "state", "procedures", "threads", "properties", "lemmas", "options",
            "pinned", "workqueues", "works", "callbacks")
MAX_CHAIN = 16


def proc_name(key: str) -> str:
    """The procedure name in a signature key such as `setup_net(net: net) -> int`."""
    m = re.match(r"\s*([A-Za-z_]\w*)", key)
    return m.group(1) if m else key


Entry = tuple[Scalar, Node]


def _replace(old: Entry, new: Entry) -> Entry:
    return new


def merge_entries(parent: Node, child: Node, combine: Callable[[Entry, Entry], Entry] = _replace,
                  name: Callable[[str], str] = str, keep_null: bool = False) -> Node:
    """The child's entries over the parent's: an entry both have is `combine`d in the parent's place, new ones
    follow; a null entry deletes the parent's (unless `keep_null`). Entries match by `name` of their keys."""
    if not (isinstance(parent, Map) and isinstance(child, Map)):
        return child
    entries = list(parent.entries)
    position = {name(k.text): i for i, (k, _) in enumerate(entries)}
    removed: set[int] = set()
    for key, value in child.entries:
        entry = name(key.text)
        deleting = isinstance(value, Scalar) and value.value is None and not keep_null
        if entry in position:
            if deleting:
                removed.add(position[entry])
            else:
                entries[position[entry]] = combine(entries[position[entry]], (key, value))
        elif not deleting:
            position[entry] = len(entries)
            entries.append((key, value))
    kept = [e for i, e in enumerate(entries) if i not in removed]
    return Map(child.span, tuple(kept), {k.text: i for i, (k, _) in enumerate(kept)})


def _procedure(old: Entry, new: Entry) -> Entry:
    """A child's procedure replaces the parent's whole, or edits it (`edit:`)."""
    key, value = new
    if not is_edit(value):
        return new
    assert isinstance(value, Map)
    return old[0], apply_edits(proc_name(key.text), old[1], value)


def merge_callbacks(parent: Node, child: Node) -> Node:
    """`callbacks:` entity by entity (null deletes a table); in a table, slots: slot by slot (null deletes
    one), bind: key by key (null deletes a key's bindings) and then slot by slot, where null stays: it is a
    NULL callback (unset), not a deletion."""
    return merge_entries(parent, child, lambda old, new: (new[0], merge_entries(old[1], new[1], _table_entry)))


def _table_entry(old: Entry, new: Entry) -> Entry:
    key, value = new
    if key.text == "slots":
        return key, merge_entries(old[1], value)
    if key.text == "bind":
        return key, merge_entries(old[1], value, lambda o, n: (n[0], merge_entries(o[1], n[1], keep_null=True)))
    return new


def _merge_section(section: str, parent: Node, child: Node) -> Node:
    if section == "callbacks":
        return merge_callbacks(parent, child)
    if section != "procedures" or not (isinstance(parent, Map) and isinstance(child, Map)):
        return merge_entries(parent, child, keep_null=section == "options")
    names = {proc_name(k.text) for k, _ in parent.entries}
    for key, value in child.entries:
        if is_edit(value) and proc_name(key.text) not in names:
            raise SpecError([Diagnostic(key.span, "NC022", f"edit: of a procedure '{proc_name(key.text)}' the "
                                        "parent does not have", "give the procedure whole (a signature and its "
                                        "statements)")])
    return merge_entries(parent, child, _procedure, proc_name)


def merge(parent: Map, child: Map) -> Map:
    """The child's top-level keys replace the parent's; sections merge per entry; a null entry deletes.
    A spec's name and its expected verdicts (`expect:`) are its own: they are never inherited."""
    entries = [(k, v) for k, v in parent.entries if k.text not in ("extends", "name", "expect")]
    index = {k.text: i for i, (k, _) in enumerate(entries)}
    for key, value in child.entries:
        if key.text == "extends":
            continue
        if key.text in index:
            at = index[key.text]
            old = entries[at][1]
            entries[at] = (key, _merge_section(key.text, old, value) if key.text in SECTIONS else value)
        else:
            index[key.text] = len(entries)
            entries.append((key, value))
    return Map(child.span, tuple(entries), {k.text: i for i, (k, _) in enumerate(entries)})


def load_with_extends(path: Path, shown: str | None = None) -> tuple[Map, tuple[str, ...]]:
    """Load a spec and everything it extends; returns the merged tree and the chain of files (child first)."""
    shown = shown if shown is not None else str(path)
    chain: list[tuple[Path, str]] = []
    trees: list[Map] = []
    current, current_shown = path, shown
    via: Span | None = None
    while True:
        try:
            resolved = current.resolve()
        except (ValueError, OSError, RuntimeError):  # a NUL in the name, a symlink loop
            if via is None:
                raise SpecError([Diagnostic(Span(shown, 1, 1), "NC001", "not a valid spec path",
                                            "check the path")]) from None
            raise SpecError([Diagnostic(via, "NC021", f"extends: {shorten(current_shown)!r} cannot be resolved "
                                        "(a NUL character or a symlink loop)", "extends: base.yaml")]) from None
        if any(p == resolved for p, _ in chain):
            assert via is not None
            cycle = " -> ".join([s for _, s in chain] + [current_shown])
            raise SpecError([Diagnostic(via, "NC020", f"extends: cycle {cycle}", "remove one of the extends:")])
        if len(chain) >= MAX_CHAIN:
            assert via is not None
            raise SpecError([Diagnostic(via, "NC020", f"extends: chain longer than {MAX_CHAIN}",
                                        "merge some of the specs in the chain")])
        try:
            tree = load_yaml(current, current_shown)
        except SpecError as err:
            if via is not None and err.diagnostics and err.diagnostics[0].code == "NC001":
                # The file cannot be read at all: the extends: line is what to fix.
                problem = err.diagnostics[0].message
                message = f"extends: file '{shorten(current_shown)}' not found" if problem == "no such spec file" \
                    else f"extends: cannot use '{shorten(current_shown)}': {problem}"
                raise SpecError([Diagnostic(via, "NC021", message,
                                            "the path is relative to the extending spec's folder")]) from None
            raise
        chain.append((resolved, current_shown))
        trees.append(tree)
        parent = tree.get("extends")
        if parent is None:
            break
        if not (isinstance(parent, Scalar) and isinstance(parent.value, str) and parent.value.strip()):
            raise SpecError([Diagnostic(parent.span, "NC021", "extends: takes a file name", "extends: base.yaml")])
        via = parent.span
        current = current.parent / parent.value
        current_shown = os.path.normpath(os.path.join(os.path.dirname(current_shown), parent.value))
    merged = trees[-1]
    for tree in reversed(trees[:-1]):
        merged = merge(merged, tree)
    return merged, tuple(s for _, s in chain)
