"""Safe YAML reading into a located tree: no object construction, no aliases, bounded size and depth."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import Diagnostic, Span, SpecError

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
    return f"{type(node.value).__name__} {node.text!r}"


def _span(mark: yaml.Mark | None, path: str) -> Span:
    if mark is None:
        return Span(path, 1, 1)
    return Span(path, mark.line + 1, mark.column + 1)


def _fail(span: Span, code: str, message: str, hint: str = "") -> SpecError:
    return SpecError([Diagnostic(span, code, message, hint)])


def read_text(path: Path, shown: str) -> str:
    """The file's text, or a located error for unreadable, oversized or non-UTF-8 files."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _fail(Span(shown, 1, 1), "NC001", "no such spec file", "check the path") from None
    except OSError as err:
        raise _fail(Span(shown, 1, 1), "NC001", f"cannot read spec: {err.strerror}") from None
    if len(data) > MAX_BYTES:
        raise _fail(Span(shown, 1, 1), "NC002", f"spec is {len(data)} bytes, over the {MAX_BYTES} limit",
                    "split it with extends:")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        before = data[: err.start]
        line = before.count(b"\n") + 1
        col = err.start - (before.rfind(b"\n") + 1) + 1
        raise _fail(Span(shown, line, col), "NC003", f"not UTF-8: byte 0x{data[err.start]:02x}",
                    "save the spec as UTF-8") from None


def _check_events(text: str, shown: str) -> None:
    """Refuse aliases, custom tags, absurd nesting and huge documents before composing anything."""
    depth = 0
    count = 0
    documents = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        span = _span(event.start_mark, shown)
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _fail(span, "NC005", "more than one YAML document in a spec",
                            "remove the '---' separator")
        if isinstance(event, yaml.AliasEvent):
            raise _fail(span, "NC006", "YAML aliases are not allowed in specs",
                        "write the value out, or share it with a procedure or extends:")
        if isinstance(event, yaml.NodeEvent) and getattr(event, "anchor", None):
            raise _fail(span, "NC006", f"YAML anchor '&{event.anchor}' is not allowed in specs",
                        "remove the anchor; specs share code with procedures and extends:")
        tag = getattr(event, "tag", None)
        if tag is not None and tag not in STANDARD_TAGS and tag != "!":
            raise _fail(span, "NC007", f"YAML tag '{tag}' is not allowed",
                        "specs are plain data: remove the tag")
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


def _convert(node: yaml.Node, shown: str) -> Node:
    span = _span(node.start_mark, shown)
    if isinstance(node, yaml.ScalarNode):
        return Scalar(span, node.value, _scalar_value(node, span), node.style in ("'", '"'))
    if isinstance(node, yaml.SequenceNode):
        return Seq(span, tuple(_convert(item, shown) for item in node.value))
    assert isinstance(node, yaml.MappingNode)
    entries: list[tuple[Scalar, Node]] = []
    index: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = _convert(key_node, shown)
        if not isinstance(key, Scalar):
            raise _fail(key.span, "NC009", "mapping keys must be plain names", "")
        if key.text == "<<" and key_node.tag == "tag:yaml.org,2002:merge":
            raise _fail(key.span, "NC006", "YAML merge keys are not allowed", "use extends:")
        if key.text in index:
            first = entries[index[key.text]][0].span
            raise _fail(key.span, "NC010", f"duplicate key '{key.text}' (first at line {first.line})",
                        "YAML would silently keep only the last one: remove or rename one")
        index[key.text] = len(entries)
        entries.append((key, _convert(value_node, shown)))
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
            raise _fail(span, "NC011", f"unsupported integer form {text!r}", "write a decimal number") from None
    if tag == "tag:yaml.org,2002:float":
        try:
            return float(text.replace("_", ""))
        except ValueError:
            return text
    return text


def load_yaml(path: Path, shown: str) -> Map:
    """Read one spec file into a located tree; raise SpecError for anything that is not plain YAML data."""
    text = read_text(path, shown)
    if not text.strip() or all(line.lstrip().startswith("#") or not line.strip() for line in text.splitlines()):
        raise _fail(Span(shown, 1, 1), "NC004", "the spec is empty", "start with 'netcheck: 1' and a name")
    try:
        _check_events(text, shown)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "invalid YAML"
        raise _fail(_span(mark, shown), "NC005", f"YAML syntax error: {problem}",
                    "check indentation, colons and quoting around this point") from None
    except yaml.YAMLError as err:
        raise _fail(Span(shown, 1, 1), "NC005", f"YAML error: {err}", "") from None
    except RecursionError:
        raise _fail(Span(shown, 1, 1), "NC008", "nesting too deep", "flatten the spec") from None
    if root is None:
        raise _fail(Span(shown, 1, 1), "NC004", "the spec is empty", "start with 'netcheck: 1' and a name")
    tree = _convert(root, shown)
    if not isinstance(tree, Map):
        raise _fail(tree.span, "NC012", f"a spec must be a mapping, not {describe(tree)}",
                    "start with keys such as 'netcheck: 1', 'name:', 'threads:'")
    return tree
