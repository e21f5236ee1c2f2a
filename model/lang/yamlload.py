"""Safe YAML reading into a located tree: no object construction, no aliases, bounded size and depth."""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml

from .errors import Diagnostic, Span, SpecError, shorten

MAX_BYTES = 1 << 20
MAX_DEPTH = 64
MAX_NODES = 200_000

STANDARD_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:map",
}


@dataclass(frozen=True, eq=False)
class Node:
    span: Span


@dataclass(frozen=True, eq=False)
class Scalar(Node):
    """A scalar with its raw text and its YAML-resolved value (str, int, bool, float or None)."""

    text: str
    value: object
    quoted: bool = False

    def expr_span(self) -> Span:
        """Where the first character of the scalar's text is (past an opening quote)."""
        return self.span.shifted(1) if self.quoted else self.span


@dataclass(frozen=True, eq=False)
class Seq(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, eq=False)
class Map(Node):
    entries: tuple[tuple[Scalar, Node], ...]
    index: dict[str, int] = field(default_factory=dict, compare=False)

    def get(self, key: str) -> Node | None:
        at = self.index.get(key)
        return None if at is None else self.entries[at][1]

    def keys(self) -> list[str]:
        return [k.text for k, _ in self.entries]

    def key_node(self, key: str) -> Scalar:
        return self.entries[self.index[key]][0]


def describe(node: Node) -> str:
    if isinstance(node, Map):
        return "a mapping"
    if isinstance(node, Seq):
        return "a list"
    assert isinstance(node, Scalar)
    if node.value is None:
        return "null"
    return f"{type(node.value).__name__} {shorten(node.text)!r}"


class _Mark(Protocol):  # yaml.Mark, or the libyaml one on events
    line: int
    column: int


def _span(mark: _Mark | None, path: str) -> Span:
    if mark is None:
        return Span(path, 1, 1)
    return Span(path, mark.line + 1, mark.column + 1)


def _fail(span: Span, code: str, message: str, hint: str = "") -> SpecError:
    return SpecError([Diagnostic(span, code, message, hint)])


def read_text(path: Path, shown: str) -> str:
    """The file's text, or a located error for unreadable, oversized or non-UTF-8 files."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            # Devices, FIFOs and directories: reading them could block or never end.
            raise _fail(Span(shown, 1, 1), "NC001", "not a regular file", "give the path of a .yaml spec file")
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise _fail(Span(shown, 1, 1), "NC001", "no such spec file", "check the path") from None
    except ValueError:  # a NUL character in the path
        raise _fail(Span(shown, 1, 1), "NC001", "not a valid file name", "check the path") from None
    except OSError as err:
        raise _fail(Span(shown, 1, 1), "NC001", f"cannot read spec: {err.strerror}",
                    "check the path and its permissions") from None
    if len(data) > MAX_BYTES:
        raise _fail(Span(shown, 1, 1), "NC002", f"spec is over the {MAX_BYTES} byte limit",
                    "split it with extends:")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        before = data[: err.start]
        line = before.count(b"\n") + 1
        # The column counts characters, like YAML marks: decode the valid start of the line.
        col = len(before[before.rfind(b"\n") + 1:].decode("utf-8", "replace")) + 1
        raise _fail(Span(shown, line, col), "NC003", f"not UTF-8: byte 0x{data[err.start]:02x}",
                    "save the spec as UTF-8") from None


def _check_events(text: str, shown: str) -> tuple[list[Diagnostic], bool]:
    """Refuse aliases, custom tags, absurd nesting and huge documents before composing anything.

    Nesting and size stop the scan at once; tags and anchors are all collected (one message per anchor,
    however often it is used). Returns the problems and whether the text uses aliases."""
    problems: list[Diagnostic] = []
    anchors: dict[str, tuple[Span, int]] = {}
    unknown_aliases: set[str] = set()
    depth = 0
    count = 0
    documents = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        span = _span(event.start_mark, shown)
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                problems.append(Diagnostic(span, "NC005", "more than one YAML document in a spec",
                                           "remove the '---' separator"))
                break
        if isinstance(event, yaml.AliasEvent):
            name = event.anchor or ""
            if name in anchors:
                anchors[name] = (anchors[name][0], anchors[name][1] + 1)
            elif name not in unknown_aliases:
                unknown_aliases.add(name)
                problems.append(Diagnostic(span, "NC006", f"YAML alias '*{shorten(name)}' is not allowed in specs",
                                           "write the value out, or share it with a procedure or extends:"))
        elif isinstance(event, yaml.NodeEvent) and event.anchor:
            anchors.setdefault(event.anchor, (span, 0))
        tag = getattr(event, "tag", None)
        if tag is not None and tag not in STANDARD_TAGS and tag != "!":
            problems.append(Diagnostic(span, "NC007", f"YAML tag '{shorten(tag)}' is not allowed",
                                       "specs are plain data: remove the tag"))
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise _fail(span, "NC008", f"nesting deeper than {MAX_DEPTH} levels",
                            "flatten the spec: use procedures")
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
        count += 1
        if count > MAX_NODES:
            raise _fail(span, "NC002", f"more than {MAX_NODES} YAML nodes", "split the spec")
    for name, (span, uses) in anchors.items():
        used = f" (used by {uses} alias{'es' if uses != 1 else ''})" if uses else ""
        problems.append(Diagnostic(span, "NC006", f"YAML anchor '&{shorten(name)}'{used} is not allowed in specs",
                                   "write the value out; specs share code with procedures and extends:"))
    return problems, bool(anchors or unknown_aliases)


def _convert(node: yaml.Node, shown: str, problems: list[Diagnostic]) -> Node:
    """The located tree; problems (duplicate keys, complex keys, odd integers) are appended to `problems`."""
    span = _span(node.start_mark, shown)
    if isinstance(node, yaml.ScalarNode):
        try:
            value = _scalar_value(node, span)
        except SpecError as err:
            problems.extend(err.diagnostics)
            value = node.value
        return Scalar(span, node.value, value, node.style in ("'", '"'))
    if isinstance(node, yaml.SequenceNode):
        return Seq(span, tuple(_convert(item, shown, problems) for item in node.value))
    assert isinstance(node, yaml.MappingNode)
    entries: list[tuple[Scalar, Node]] = []
    index: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = _convert(key_node, shown, problems)
        if not isinstance(key, Scalar):
            problems.append(Diagnostic(key.span, "NC009", f"mapping keys must be plain names, not {describe(key)}",
                                       "write a name before the colon; '? ' starts a complex key"))
            continue
        if key.text == "<<" and key_node.tag == "tag:yaml.org,2002:merge":
            problems.append(Diagnostic(key.span, "NC006", "YAML merge keys are not allowed", "use extends:"))
            continue
        if key.text in index:
            first = entries[index[key.text]][0].span
            problems.append(Diagnostic(key.span, "NC010", f"duplicate key '{shorten(key.text)}' (first at line "
                                       f"{first.line})", "YAML would silently keep only the last one: remove or "
                                       "rename one"))
            continue
        index[key.text] = len(entries)
        entries.append((key, _convert(value_node, shown, problems)))
    return Map(span, tuple(entries), index)


def _scalar_value(node: yaml.ScalarNode, span: Span) -> object:
    tag, text = node.tag, node.value
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:bool":
        return text.lower() in ("true", "yes", "on", "y")
    if tag == "tag:yaml.org,2002:int":
        cleaned = text.replace("_", "")
        try:
            return int(cleaned, 0)
        except ValueError:
            raise _fail(span, "NC011", f"unsupported integer form {shorten(text)!r}",
                        "write a decimal number (YAML reads 012 as octal, 1:30 as base 60)") from None
    if tag == "tag:yaml.org,2002:float":
        try:
            return float(text.replace("_", ""))
        except ValueError:
            return text
    return text


def _syntax_error(err: yaml.MarkedYAMLError, shown: str) -> SpecError:
    """One located NC005 for a PyYAML syntax error, pointing at the construct that is left open when the
    file ends inside it (an unclosed quote or bracket), else at the offending character."""
    problem = err.problem or err.context or "invalid YAML"
    context = err.context or ""
    mark = err.problem_mark or err.context_mark
    hint = "check indentation, colons and quoting around this point"
    if "end of stream" in problem or "<stream end>" in problem:
        hint = "close the quote or bracket opened here"
        start = err.context_mark
        if start is not None and mark is not None and (start.line, start.column) < (mark.line, mark.column):
            mark = start
            opened = context.replace("while scanning", "").replace("while parsing", "").strip()
            opened = {"a quoted scalar": "a quoted string", "a flow sequence": "a [...] list",
                      "a flow mapping": "a {...} mapping"}.get(opened, opened or "a value")
            problem = f"the file ends inside {opened} that starts here"
        else:
            problem = "the file ends inside an unclosed bracket or quote"
            hint = "close every [, { and quote that is opened before this point"
    elif "'\\t'" in problem or "\t" in problem:
        hint = "indent with spaces: YAML does not allow tabs there"
    return _fail(_span(mark, shown), "NC005", f"YAML syntax error: {problem}", hint)


def load_yaml(path: Path, shown: str) -> Map:
    """Read one spec file into a located tree; raise SpecError for anything that is not plain YAML data."""
    text = read_text(path, shown)
    if not text.strip() or all(line.lstrip().startswith("#") or not line.strip() for line in text.splitlines()):
        raise _fail(Span(shown, 1, 1), "NC004", "the spec is empty", "start with 'netcheck: 1' and a name")
    try:
        problems, aliases = _check_events(text, shown)
        if aliases or any(d.code == "NC005" for d in problems):
            raise SpecError(problems)  # converting a tree with aliases could multiply it: stop here
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        raise _syntax_error(err, shown) from None
    except yaml.reader.ReaderError as err:
        before = text[: err.position]
        span = Span(shown, before.count("\n") + 1, err.position - (before.rfind("\n") + 1) + 1)
        raise _fail(span, "NC003", f"character U+{err.character:04X} is not allowed in YAML",
                    "remove the control character") from None
    except yaml.YAMLError as err:
        raise _fail(Span(shown, 1, 1), "NC005", f"YAML error: {err}", "check the YAML syntax") from None
    except RecursionError:
        raise _fail(Span(shown, 1, 1), "NC008", "nesting too deep", "flatten the spec") from None
    if root is None:
        raise _fail(Span(shown, 1, 1), "NC004", "the spec is empty", "start with 'netcheck: 1' and a name")
    tree = _convert(root, shown, problems)
    if problems:
        raise SpecError(problems)
    if not isinstance(tree, Map):
        raise _fail(tree.span, "NC012", f"a spec must be a mapping, not {describe(tree)}",
                    "start with keys such as 'netcheck: 1', 'name:', 'threads:'")
    return tree
