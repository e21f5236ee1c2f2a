"""Lock skeletons (conform/skeleton.py) as indented text and as JSON."""

from __future__ import annotations

from collections.abc import Sequence

from ..conform.patch import FunctionChanges
from ..conform.skeleton import Branch, FailArm, Goto, Label, Loop, Node, Op, Return, Skeleton

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
                failed = "  (the acquire failed)" if node.failed is FailArm.THEN and node.cond != "on failure" else ""
                out.append(_row(depth, node.cond + failed, node.at.short))
                out.extend(then or [f"{INDENT * (depth + 1)}-"])
                if orelse or node.failed is FailArm.ELSE:
                    out.append(f"{INDENT * depth}else" + ("  (the acquire failed)" if node.failed is FailArm.ELSE
                                                         else ""))
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


def node_json(node: Node, calls: bool = True) -> dict:
    """One skeleton node as JSON: {"op": ...} with its location, nested for branches and loops (without
    the ordinary calls unless `calls`)."""
    where = {"file": node.at.file, "line": node.at.line}
    if isinstance(node, Op):
        return {"op": node.kind.value, "name": node.name, "api": node.api or None, "lock": node.lock or None,
                "mode": node.mode or None, **where}
    if isinstance(node, Branch):
        return {"op": "branch", "cond": node.cond, "failed": node.failed.value, **where,
                "then": _nodes_json(node.then, calls), "else": _nodes_json(node.orelse, calls)}
    if isinstance(node, Loop):
        return {"op": "loop", "head": node.head, **where, "body": _nodes_json(node.body, calls)}
    if isinstance(node, Label):
        return {"op": "label", "name": node.name, **where}
    if isinstance(node, Goto):
        return {"op": "goto", "label": node.name, **where}
    return {"op": "return", **where}


def _nodes_json(nodes: tuple[Node, ...], calls: bool) -> list[dict]:
    return [node_json(n, calls) for n in nodes if calls or not (isinstance(n, Op) and n.kind.value == "call")]


def to_json(skeletons: Sequence[Skeleton], calls: bool = True) -> dict:
    return {"functions": [{"function": sk.function, "file": sk.at.file, "line": sk.at.line,
                           "skeleton": _nodes_json(sk.body, calls)} for sk in skeletons]}


def patch_text(functions: Sequence[FunctionChanges], calls: bool = True) -> str:
    """Per function the hunks touch, its lock operations in the hunks: + added, - removed, unchanged
    indented; each at its C line (pre-image for a removed one) and the patch's line."""
    out: list[str] = []
    for fc in functions:
        if out:
            out.append("")
        out.append(f"{fc.function}()  {fc.file}")
        rows = [c for c in fc.merged if calls or c.op.kind.value != "call"]
        for c in rows:
            out.append(f"{c.sign} {c.op.describe():<44} {c.op.at.short:<34} {c.patch_at.short}")
        if not rows:
            out.append("  (no lock operations in the hunks)")
    return "\n".join(out) + "\n"


def patch_json(functions: Sequence[FunctionChanges], calls: bool = True) -> dict:
    return {"functions": [{"function": fc.function, "file": fc.file, "operations": [
        {**node_json(c.op), "sign": c.sign, "patch_line": c.patch_at.line} for c in fc.merged
        if calls or c.op.kind.value != "call"]} for fc in functions]}
