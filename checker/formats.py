"""Output formats for `netcheck verify --format`: name -> renderer of a list of reports.

A renderer is a pure function `(reports, options) -> str`. New formats register here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .render_json import render_json
from .render_text import render_text
from .report import SpecReport


@dataclass(frozen=True)
class RenderOptions:
    trace_style: str = "cpu"   # cpu | steps
    timing: bool = True
    verbosity: int = 1         # 0 quiet, 1 normal, 2 verbose
    color: bool = False
    several: bool = False      # several specs were asked for (JSON: an array even if only one loaded)


Renderer = Callable[[list[SpecReport], RenderOptions], str]


def _text(reports: list[SpecReport], options: RenderOptions) -> str:
    return "".join(render_text(r, options.trace_style, options.timing, options.verbosity, options.color)
                   for r in reports)


def _json(reports: list[SpecReport], options: RenderOptions) -> str:
    return render_json(reports, options.timing, options.several)


FORMATS: dict[str, Renderer] = {"text": _text, "json": _json}
