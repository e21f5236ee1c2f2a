"""Compiled hot modules, used only while fresh.

The install compiles a few hot modules of the explicit engine with Cython (setup.py's COMPILED) and
records, in `_compiled.json` beside them, the SHA-256 of the source each was built from. Python would
import a compiled module before its source even after the source changed; `prefer_fresh`, called by each
package that has compiled modules, makes the import run the source instead wherever the record does not
match it (an edited checkout not yet rebuilt): slower, never different. `status()` says which ran.
NETCHECK_PURE=1 in the environment runs every source (to debug or time the plain Python engine).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from pathlib import Path

MANIFEST = "_compiled.json"


class _SourceFirst(MetaPathFinder):
    """Finds the stale compiled modules' sources (any other module: the usual finders)."""

    def __init__(self) -> None:
        self.sources: dict[str, Path] = {}

    def find_spec(self, fullname: str, path: Sequence[str] | None = None, target: object = None) -> ModuleSpec | None:
        source = self.sources.get(fullname)
        return None if source is None else importlib.util.spec_from_file_location(fullname, source)


_FINDER = _SourceFirst()
_COMPILED: dict[str, bool] = {}   # module -> its compiled form is used (True) or stale (False)


def prefer_fresh(package: str, path: Sequence[str]) -> None:
    """Send the imports of `package`'s stale compiled modules to their sources. `path`: its `__path__`."""
    for directory in map(Path, path):
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            for built in sorted(directory.glob(f"*{suffix}")):
                name = built.name[: -len(suffix)]
                source = directory / f"{name}.py"
                if not source.exists():
                    continue   # a C extension (the state store): no source to go stale
                fullname = f"{package}.{name}"
                fresh = not os.environ.get("NETCHECK_PURE") and \
                    _recorded(built).get(name) == hashlib.sha256(source.read_bytes()).hexdigest()
                _COMPILED[fullname] = fresh
                if not fresh:
                    _FINDER.sources[fullname] = source
    if _FINDER.sources and _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def _recorded(built: Path) -> dict[str, str]:
    """The source hashes recorded at the build of the compiled module `built` (none: an older build)."""
    try:
        return json.loads((built.resolve().parent / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}


def status() -> tuple[int, int]:
    """(compiled modules in use, compiled modules whose source changed since the build), over the packages
    imported so far."""
    used = sum(_COMPILED.values())
    return used, len(_COMPILED) - used
