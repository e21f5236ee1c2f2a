"""Lock skeletons (conform/skeleton.py) as indented text and as JSON."""

from __future__ import annotations

from collections.abc import Sequence

from ..conform.skeleton import Branch, Goto, Label, Loop, Node, Op, Return, Skeleton

INDENT = "  "


def render_text(skeletons: Sequence[Skeleton], calls: bool = True) -> str:
    """One block per function: `name()  file:line`, then its operations, indented by structure."""
    out: list[str] = []
    for sk in skeletons:
        if out:
            out.append("")
        out.append(f"{sk.function}()  {sk.at.short}")
        body = _lines(sk.body, 1, calls)
        out.extend(body or [f"{INDENT}(no lock operations)"])
    return "\n".join(out) + "\n"


def _row(depth: int, text: str, where: str) -> str:
    left = f"{INDENT * depth}{text}"
    return f"{left:<48} {where}" if len(left) < 48 else f"{left}  {where}"


def _lines(nodes: tuple[Node, ...], depth: int, calls: bool) -> list[str]:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, Op):
            if calls or node.kind.value != "call":
                out.append(_row(depth, node.describe(), node.at.short))
        elif isinstance(node, Branch):
            then, orelse = _lines(node.then, depth + 1, calls), _lines(node.orelse, depth + 1, calls)
            if then or orelse:
                out.append(_row(depth, node.cond, node.at.short))
                out.extend(then or [f"{INDENT * (depth + 1)}-"])
                if orelse:
                    out.append(f"{INDENT * depth}else")
                    out.extend(orelse)
        elif isinstance(node, Loop):
            body = _lines(node.body, depth + 1, calls)
            if body:
                out.append(_row(depth, f"loop {node.head}", node.at.short))
                out.extend(body)
        elif isinstance(node, Label):
            out.append(_row(max(depth - 1, 0), f"{node.name}:", node.at.short))
        elif isinstance(node, Goto):
            out.append(_row(depth, f"goto {node.name}", node.at.short))
        elif isinstance(node, Return):
            out.append(_row(depth, "return", node.at.short))
    return out


def node_json(node: Node) -> dict:
    """One skeleton node as JSON: {"op": ...} with its location, nested for branches and loops."""
    where = {"file": node.at.file, "line": node.at.line}
    if isinstance(node, Op):
        return {"op": node.kind.value, "name": node.name, "api": node.api or None, "lock": node.lock or None,
                "mode": node.mode or None, **where}
    if isinstance(node, Branch):
        return {"op": "branch", "cond": node.cond, **where, "then": [node_json(n) for n in node.then],
                "else": [node_json(n) for n in node.orelse]}
    if isinstance(node, Loop):
        return {"op": "loop", "head": node.head, **where, "body": [node_json(n) for n in node.body]}
    if isinstance(node, Label):
        return {"op": "label", "name": node.name, **where}
    if isinstance(node, Goto):
        return {"op": "goto", "label": node.name, **where}
    return {"op": "return", **where}


def to_json(skeletons: Sequence[Skeleton]) -> dict:
    return {"functions": [{"function": sk.function, "file": sk.at.file, "line": sk.at.line,
                           "skeleton": [node_json(n) for n in sk.body]} for sk in skeletons]}
