"""netcheck's Python API: load a spec, verify it, render the report (docs/python-api.md).

    import netcheck
    spec = netcheck.load("specs/net_sem.yaml", bounds={"net": 1})
    report = netcheck.verify(spec)               # or netcheck.verify("specs/net_sem.yaml")
    print(netcheck.render(report))               # the text `netcheck verify` prints
    report.exit_code, [(p.name, p.status.value) for p in report.properties]

The public names are `load`, `verify`, `render`, `SpecError`, `Diagnostic` and `__version__`; everything
under `netcheck.model` and `netcheck.checker` is internal. Importing this package is cheap: the parser,
z3 and networkx are imported by the first call that needs them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from netcheck.model.lang.errors import Diagnostic, SpecError

if TYPE_CHECKING:
    from netcheck.checker.report.build import SpecReport
    from netcheck.model.lang.spec import Spec

__all__ = ["load", "verify", "render", "SpecError", "Diagnostic"]
PathLike = str | os.PathLike[str]


def load(path: PathLike, bounds: Mapping[str, int] | None = None) -> Spec:
    """The spec at `path`, parsed, merged (extends:) and validated; `bounds` sets entity and group sizes
    (as `--bound NAME=N`). Raises SpecError (every problem, each at file:line:col) for an invalid spec
    or a file that cannot be read, TypeError for arguments of the wrong type."""
    from netcheck.model.lang.parse import load_spec
    return load_spec(_path(path), _bounds(bounds))


def verify(spec: PathLike | Spec, bounds: Mapping[str, int] | None = None, *, max_states: int | None = None,
           max_depth: int | None = None, timeout: float | None = None, max_memory: float | None = None,
           explore_all: bool = False, use_expect: bool = True, reduce: str = "auto",
           symmetry: str = "auto") -> SpecReport:
    """Verify a spec (a path, or what `load` returned) as `netcheck verify` does, and return its report.

    The limits are those of the command (`max_memory` in MB); a run they cut short has `complete` false
    and unknown verdicts. A spec whose expect: lists violations stops once they are all found unless
    `explore_all`; `use_expect=False` judges the verdicts alone (`--ignore-expect`). `bounds` go with a
    path (a loaded spec has its bounds already). `reduce` ("auto", "none", "protected") and `symmetry`
    ("auto", "off", "on") are `--reduce` and `--symmetry`. Nothing is printed. Raises SpecError for an
    invalid spec, TypeError or ValueError for bad arguments.
    """
    from netcheck.checker.cli.run import compile_system, load_system, verify_system
    from netcheck.checker.engine.limits import Limits
    from netcheck.model.lang.spec import Spec
    for name, value in (("max_states", max_states), ("max_depth", max_depth), ("timeout", timeout),
                        ("max_memory", max_memory)):
        _check_limit(name, value, integral=name.startswith("max_") and name != "max_memory")
    for option, mode, choices in (("reduce", reduce, ("auto", "none", "protected")),
                                 ("symmetry", symmetry, ("auto", "off", "on"))):
        if mode not in choices:
            raise ValueError(f"verify(): {option} must be one of {', '.join(choices)}, not {mode!r}")
    limits = Limits(max_states, max_depth, timeout, False, max_memory)
    if isinstance(spec, Spec):
        if bounds is not None:
            raise TypeError("verify(): bounds go with a path; load(path, bounds) a spec with other bounds")
        path, system = spec.files[0], compile_system(spec, reduce, symmetry)
    else:
        path = _path(spec)
        system = load_system(path, _bounds(bounds), reduce, symmetry)
    report, _ = verify_system(path, system, limits, warn=False, use_expect=use_expect,
                               early=use_expect and not explore_all)
    return report


def render(report: SpecReport, format: str = "text") -> str:
    """The report as `netcheck verify --format FORMAT` prints it (text, json, junit or sarif), without
    colour."""
    from netcheck.checker.render.formats import FORMATS, RenderOptions
    if format not in FORMATS:
        raise ValueError(f"render(): format must be one of {', '.join(sorted(FORMATS))}, not {format!r}")
    return FORMATS[format]([report], RenderOptions())


def __getattr__(name: str) -> str:
    """`__version__`, read from the installed metadata when first asked for."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from netcheck.checker import __version__
    return __version__


def _path(path: object) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"a spec is a path (str or os.PathLike) or what netcheck.load returned, not "
                        f"{type(path).__name__}")
    return os.fspath(path)  # type: ignore[return-value]


def _bounds(bounds: object) -> dict[str, int]:
    if bounds is None:
        return {}
    if not isinstance(bounds, Mapping) or not all(isinstance(k, str) and type(v) is int for k, v in bounds.items()):
        raise TypeError(f"bounds is a mapping from entity or group names to whole numbers, not {bounds!r}")
    return dict(bounds)


def _check_limit(name: str, value: object, integral: bool) -> None:
    """A limit is None or a positive number (a whole one for counts)."""
    kinds: tuple[type, ...] = (int,) if integral else (int, float)
    if value is not None and (isinstance(value, bool) or not isinstance(value, kinds) or value <= 0):  # type: ignore[operator]
        what = "a positive whole number" if integral else "a positive number"
        raise ValueError(f"verify(): {name} must be {what} or None, not {value!r}")
