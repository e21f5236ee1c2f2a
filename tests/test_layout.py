"""The package layout is the pipeline: each layer imports only itself and the layers before it.

    model/lang  <-  model/semantics  <-  checker/engine  <-  checker/analyses  <-  checker/conform
                <-  checker/report   <-  checker/render   <-  checker/cli

Every import is read from the source (function-local ones included), so a cycle or a backward import
cannot hide behind a lazy import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("model.lang", "model.semantics", "checker.engine", "checker.analyses", "checker.conform", "checker.report",
          "checker.render", "checker.cli")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for top in ("model", "checker") for p in sorted((ROOT / top).rglob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `name` imports (a package's `from . import x` counts as importing module x)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("netcheck."):
                base = node.module.removeprefix("netcheck.")
            else:
                continue
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name.removeprefix("netcheck.") for a in node.names if a.name.startswith("netcheck.")]
        else:
            continue
        out.update(t for t in targets if t in known)
    return out


def layer(name: str) -> int | None:
    """A module's layer; None for the two package roots (they hold only the version)."""
    return next((i for i, prefix in enumerate(LAYERS) if name == prefix or name.startswith(prefix + ".")), None)


def test_every_module_has_a_layer() -> None:
    assert sorted(n for n in modules() if layer(n) is None) == ["checker", "model"]


def test_imports_only_go_to_earlier_layers() -> None:
    known = modules()
    backwards = []
    for name, path in known.items():
        for target in imports(name, path, set(known)):
            here, there = layer(name), layer(target)
            if there is not None and (here is None or there > here):
                backwards.append(f"{name} ({LAYERS[here] if here is not None else 'root'}) imports {target}")
    assert backwards == []


def test_no_import_cycle() -> None:
    known = modules()
    graph = nx.DiGraph((name, target) for name, path in known.items() for target in imports(name, path, set(known)))
    assert list(nx.simple_cycles(graph)) == []


def test_architecture_lists_every_module() -> None:
    """ARCHITECTURE.md has a row for every module of each layer (a row may name several, `a.py / b.py`)."""
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8").replace("\\_", "_")
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    named = {word for row in rows for word in row.replace("/", " ").replace("|", " ").split() if word.endswith(".py")}
    missing = [str(path.relative_to(ROOT)) for name, path in modules().items()
               if layer(name) is not None and path.name != "__init__.py" and path.name not in named]
    assert not missing, f"modules without a row in ARCHITECTURE.md: {missing}"
