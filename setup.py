"""The native parts of the build (pyproject.toml holds the rest of the package's metadata).

- The state store (checker/engine/_arena.c) and the step memo's expander (model/semantics/_memo.c), C
  extensions.
- The explicit engine's hot modules (`COMPILED`), compiled from their unchanged Python source with Cython
  (the step functions, the search loop, the property checks: about 1.5x faster per state). Each
  compiled module is recorded with its source's SHA-256 in `_compiled.json` beside it; at import,
  netcheck runs the Python source instead of a compiled module whose source has changed since the build
  (netcheck/_compiled.py), so a stale build is slower, never different.

Both are optional: where no C compiler (or Cython) is, the install says so and netcheck runs as plain
Python, with the same results.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# module -> its source: kept in step with the Makefile's COMPILED (tests/test_cli_package.py checks)
COMPILED = {
    "netcheck.model.semantics.runtime": "model/semantics/runtime.py",
    "netcheck.model.semantics.evaluate": "model/semantics/evaluate.py",
    "netcheck.model.semantics.system": "model/semantics/system.py",
    "netcheck.model.semantics.memo": "model/semantics/memo.py",
    "netcheck.checker.engine.bfs": "checker/engine/bfs.py",
    "netcheck.checker.engine.stuck": "checker/engine/stuck.py",
    "netcheck.checker.engine.verdicts": "checker/engine/verdicts.py",
}
MANIFEST = "_compiled.json"
# Python's own semantics throughout: no C typing from annotations, functions that behave as Python's
DIRECTIVES = {"language_level": 3, "binding": True, "annotation_typing": False}


def source_hash(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def compiled_extensions() -> list[Extension]:
    """The hot modules as Cython extensions, or none where Cython is missing (NETCHECK_PURE=1 at the build:
    none; at run time it makes netcheck run their sources)."""
    if os.environ.get("NETCHECK_PURE"):
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("netcheck: Cython is missing: the engine runs as plain Python (same results, slower)", file=sys.stderr)
        return []
    extensions = [Extension(name, [path], optional=True, extra_compile_args=["-O2"]) for name, path in COMPILED.items()]
    # force: regenerated and recompiled on every build, so that what `_compiled.json` records is what was
    # built (a timestamp check would keep a module built from other source with an older date)
    return cythonize(extensions, compiler_directives=DIRECTIVES, build_dir="build/cython", quiet=True, force=True)


class BuildExt(build_ext):
    """build_ext that records, beside each compiled module it built, the hash of the source it came from."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if self.parallel is None:   # the extensions compiled side by side, one per core
            self.parallel = os.cpu_count() or 1
        self.force = True

    def run(self) -> None:
        # a module that fails to build this time must not leave the last build's in place, recorded afresh
        for name in COMPILED:
            built = self.get_ext_fullpath(name)
            for stale in (built, os.path.join(os.path.dirname(built), MANIFEST)):
                if os.path.exists(stale):
                    os.remove(stale)
        super().run()
        manifests: dict[str, dict[str, str]] = {}
        for name, path in COMPILED.items():
            built = self.get_ext_fullpath(name)
            if os.path.exists(built):
                manifests.setdefault(os.path.dirname(built), {})[name.rsplit(".", 1)[1]] = source_hash(path)
        for directory, hashes in manifests.items():
            with open(os.path.join(directory, MANIFEST), "w") as f:
                json.dump(hashes, f, indent=1, sort_keys=True)
                f.write("\n")

    def get_outputs(self) -> list[str]:
        """The manifests too, so that an editable install links them next to the modules."""
        outputs = super().get_outputs()
        extra = {os.path.join(os.path.dirname(self.get_ext_fullpath(name)), MANIFEST) for name in COMPILED}
        return outputs + sorted(extra)


# both include model/semantics/_codec.h (the state encoding and the interning table they share)
arena = Extension("netcheck.checker.engine._arena", ["checker/engine/_arena.c"], optional=True,
                  include_dirs=["model/semantics"], depends=["model/semantics/_codec.h"], extra_compile_args=["-O2"])
memo = Extension("netcheck.model.semantics._memo", ["model/semantics/_memo.c"], optional=True,
                 include_dirs=["model/semantics"], depends=["model/semantics/_codec.h"], extra_compile_args=["-O2"])
setup(ext_modules=[arena, memo, *compiled_extensions()], cmdclass={"build_ext": BuildExt})
