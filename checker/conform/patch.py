"""Unified diffs (plain, or inside a mail such as a patch posted to a list) to the lock operations each
changed function gains and loses.

A hunk's lines belong to the function named by its header's context (`@@ ... @@ static void f(...)`)
until a line of the hunk starts another function definition, or a `}` in column 0 ends it. Each
function's pre-image (context and removed lines, in order, across its hunks) and post-image (context and
added lines) are read for operations, and the two sequences diffed: what the post-image has that the
pre-image lacks is added, and the reverse removed, so that a line rewritten without changing its lock
operation (`rv = mutex_lock_killable(&net_mutex);` moved down) is no change.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from netcheck.model.lang import spec as S
from netcheck.model.lang.errors import Diagnostic, Span, SpecError

from .skeleton import Op, OpKind, classify

MAX_PATCH = 8 * 1024 * 1024
HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")
CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
DEFINITION = re.compile(r"^[A-Za-z_][\w\s\*]*?\b([A-Za-z_]\w*)\s*\(")
NOT_FUNCTIONS = frozenset({"if", "for", "while", "switch", "return", "sizeof", "typeof", "__typeof__", "defined"})


@dataclass(frozen=True)
class PatchLine:
    kind: str            # " " context, "+" added, "-" removed
    text: str
    old: int             # line in the pre-image (0 for an added line)
    new: int             # line in the post-image (0 for a removed line)
    at: Span = field(compare=False)   # where the line stands in the patch file


@dataclass(frozen=True)
class Hunk:
    old_file: str
    new_file: str
    context: str         # the function context of the header
    lines: tuple[PatchLine, ...]
    at: Span = field(compare=False)


@dataclass(frozen=True)
class Change:
    """An operation the patch adds (+) or removes (-) in a function; `op.at` is its C file:line (the
    post-image's line for an added one, the pre-image's for a removed one)."""

    sign: str
    op: Op
    patch_at: Span


@dataclass(frozen=True)
class FunctionChanges:
    """A function's changes; its post-image operations in order; both images merged (the hunks' skeleton:
    unchanged operations signed ' ')."""

    function: str
    file: str
    changes: tuple[Change, ...]
    post: tuple[Change, ...] = ()
    merged: tuple[Change, ...] = ()


def _error(path: str, line: int, message: str, hint: str) -> SpecError:
    return SpecError([Diagnostic(Span(path, line, 1), "NC503", message, hint)])


def read_patch(path: str) -> tuple[Hunk, ...]:
    """Every hunk of the patch at `path`; a patch that cannot be read, has no hunk, a malformed hunk header
    or a hunk cut short is a located error (NC503)."""
    p = Path(path)
    if not p.is_file():
        raise _error(path, 1, "no such patch file, or not a regular file", "give a unified diff or a mail with one")
    data = p.read_bytes()
    if len(data) > MAX_PATCH or b"\0" in data:
        raise _error(path, 1, "not a patch (binary, or larger than 8 MiB)", "give a unified diff or a mail with one")
    return parse_patch(data.decode("utf-8", errors="replace"), path)


def parse_patch(text: str, path: str) -> tuple[Hunk, ...]:
    lines = text.splitlines()
    hunks: list[Hunk] = []
    old_file = new_file = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            old_file, new_file = _file_name(line[4:]), _file_name(lines[i + 1][4:])
            i += 2
            continue
        if line.startswith("@@"):
            if not new_file:
                raise _error(path, i + 1, "a hunk before any '--- a/FILE' / '+++ b/FILE' header",
                             "a unified diff names its files before its hunks (git diff, diff -u)")
            hunk, i = _hunk(lines, i, path, old_file, new_file)
            hunks.append(hunk)
            continue
        i += 1
    if not hunks:
        raise _error(path, 1, "no hunk found: not a unified diff",
                     "give the output of git diff / git format-patch, or a mail containing one")
    return tuple(hunks)


def _file_name(text: str) -> str:
    name = text.split("\t")[0].strip()
    return name[2:] if name[:2] in ("a/", "b/") else name


def _hunk(lines: list[str], i: int, path: str, old_file: str, new_file: str) -> tuple[Hunk, int]:
    m = HUNK.match(lines[i])
    if m is None:
        raise _error(path, i + 1, f"malformed hunk header '{lines[i][:60]}'",
                     "a hunk header reads '@@ -START,COUNT +START,COUNT @@ [function context]'")
    old, old_n = int(m.group(1)), int(m.group(2) or 1)
    new, new_n = int(m.group(3)), int(m.group(4) or 1)
    header = Span(path, i + 1, 1)
    out: list[PatchLine] = []
    i += 1
    while old_n > 0 or new_n > 0:
        if i >= len(lines):
            raise _error(path, i, f"the hunk at line {header.line} is cut short: {old_n} old and {new_n} new "
                         "lines missing", "the counts in the hunk header must match its lines")
        text = lines[i]
        kind = text[:1] if text else " "   # a mailer may strip the space of an empty context line
        if text.startswith("\\"):
            i += 1
            continue
        if kind not in " +-" or (kind in " -" and old_n == 0) or (kind in " +" and new_n == 0):
            raise _error(path, i + 1, f"the hunk at line {header.line} ends early: {old_n} old and {new_n} new "
                         "lines missing", "the counts in the hunk header must match its lines")
        out.append(PatchLine(kind, text[1:], old if kind != "+" else 0, new if kind != "-" else 0,
                             Span(path, i + 1, 1)))
        old += kind != "+"
        old_n -= kind != "+"
        new += kind != "-"
        new_n -= kind != "-"
        i += 1
    return Hunk(old_file, new_file, m.group(5).strip(), tuple(out), header), i


# ---------------------------------------------------------------- functions and their operations


def defined_function(text: str) -> str:
    """The function a line starts the definition of (`int register_pernet_subsys(struct ...`), or ''."""
    if not text or text[0].isspace() or text.rstrip().endswith(";") or "=" in text.split("(", 1)[0]:
        return ""
    m = DEFINITION.match(text)
    if m is None or m.group(1) in NOT_FUNCTIONS or m.group(1).isupper():
        return ""
    return m.group(1)


def line_ops(text: str, at: Span, wrappers: Mapping[str, S.LockOp]) -> list[Op]:
    """The calls on one line of C (comments left out), in order."""
    code = re.sub(r"/\*.*?\*/", "", text).split("//")[0]
    if code.lstrip().startswith(("*", "/*", "#")):
        return []
    ops = []
    for m in CALL.finditer(code):
        if m.group(1) not in NOT_FUNCTIONS:
            ops.append(classify(m.group(1), _first_arg(code, m.end()), Span(at.file, at.line, m.start(1) + 1),
                                wrappers))
    return ops


def _first_arg(code: str, start: int) -> str:
    depth = 0
    for j in range(start, len(code)):
        ch = code[j]
        if ch in "([":
            depth += 1
        elif ch in ")]" and depth:
            depth -= 1
        elif ch in ",)" and depth == 0:
            return code[start:j]
    return code[start:]


def function_changes(hunks: tuple[Hunk, ...], wrappers: Mapping[str, S.LockOp], keep: Callable[[Op], bool],
                     keep_unchanged: bool = False) -> tuple[FunctionChanges, ...]:
    """Per function the hunks touch (first-seen order), the operations `keep` selects that the patch adds or
    removes (only functions with such a change, unless `keep_unchanged`)."""
    images: dict[tuple[str, str], tuple[list[tuple[Op, Span]], list[tuple[Op, Span]]]] = {}
    for hunk in hunks:
        current = defined_function(hunk.context)
        for line in hunk.lines:
            current = defined_function(line.text) or ("" if line.text.startswith("}") else current)
            if not current or line.text.startswith("}"):
                continue
            pre, post = images.setdefault((hunk.new_file, current), ([], []))
            if line.kind != "+":
                pre.extend((op, line.at) for op in line_ops(line.text, Span(hunk.old_file, line.old, 1), wrappers)
                           if keep(op))
            if line.kind != "-":
                post.extend((op, line.at) for op in line_ops(line.text, Span(hunk.new_file, line.new, 1), wrappers)
                            if keep(op))
    out = []
    for (file, function), (pre, post) in images.items():
        merged = _changes(pre, post)
        changes = tuple(c for c in merged if c.sign != " ")
        if changes or keep_unchanged:
            out.append(FunctionChanges(function, file, changes, tuple(Change(" ", op, at) for op, at in post),
                                       merged))
    return tuple(out)


def _changes(pre: list[tuple[Op, Span]], post: list[tuple[Op, Span]]) -> tuple[Change, ...]:
    """Both images merged in order: unchanged operations (sign ' ', at their post-image line), removed
    ones (-) and added ones (+)."""
    matcher = difflib.SequenceMatcher(None, [op.key for op, _ in pre], [op.key for op, _ in post], autojunk=False)
    out: list[Change] = []
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            out.extend(Change(" ", op, at) for op, at in post[b0:b1])
            continue
        out.extend(Change("-", op, at) for op, at in pre[a0:a1])
        out.extend(Change("+", op, at) for op, at in post[b0:b1])
    return tuple(out)


def is_lock_op(op: Op) -> bool:
    return op.kind is not OpKind.CALL
