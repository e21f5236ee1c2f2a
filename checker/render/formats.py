"""Output formats for `netcheck verify --format`: name -> renderer of a list of reports.

A renderer is a pure function `(reports, options) -> str`. New formats register here. The renderers'
modules are imported when a renderer runs: the command line reads the names at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from netcheck.model.lang.errors import SpecError

    from ..report.build import SpecReport


@dataclass(frozen=True)
class RenderOptions:
    trace_style: str = "cpu"   # cpu | steps
    timing: bool = True
    verbosity: int = 1         # 0 quiet, 1 normal, 2 verbose
    color: bool = False
    several: bool = False      # several specs were asked for (JSON: an array even if only one loaded)
    coverage: bool = False     # --coverage: every statement's run count, not only the unreached ones
    width: int | None = None   # text: fit counterexamples in this many columns (None: the fixed layout)
    # specs that did not load: (path, error). The CI formats (junit, sarif) report them as results too.
    spec_errors: tuple[tuple[str, SpecError], ...] = ()

    def with_spec_error(self, path: str, error: SpecError) -> RenderOptions:
        return replace(self, spec_errors=(*self.spec_errors, (path, error)))


Renderer = Callable[[list["SpecReport"], RenderOptions], str]


def _text(reports: list[SpecReport], options: RenderOptions) -> str:
    from .text import render_text
    return "".join(render_text(r, options.trace_style, options.timing, options.verbosity, options.color,
                               options.coverage, options.width) for r in reports)


def _json(reports: list[SpecReport], options: RenderOptions) -> str:
    from .json import render_json
    return render_json(reports, options.timing, options.several, options.coverage)


def _junit(reports: list[SpecReport], options: RenderOptions) -> str:
    from .junit import render_junit
    return render_junit(reports, options.spec_errors, options.trace_style, options.timing)


def _sarif(reports: list[SpecReport], options: RenderOptions) -> str:
    from .sarif import render_sarif
    return render_sarif(reports, options.spec_errors)


FORMATS: dict[str, Renderer] = {"text": _text, "json": _json, "junit": _junit, "sarif": _sarif}
