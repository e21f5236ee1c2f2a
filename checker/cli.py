"""The `netcheck` command line: the only place that prints and sets exit codes."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from netcheck.model.errors import SpecError
from netcheck.model.parse import load_spec
from netcheck.model.system import TransitionSystem

from . import __version__
from .explore import Exploration, Limits, explore
from .graph import FORMATS, write_graph
from .render_json import render_json
from .render_text import render_text
from .report import EXIT_INTERNAL, EXIT_USAGE, SpecReport, build_report
from .verdicts import InternalError


def parse_bounds(values: tuple[str, ...]) -> dict[str, int]:
    bounds = {}
    for value in values:
        name, sep, number = value.partition("=")
        if not sep or not name.strip().isidentifier() or not number.strip().isdigit():
            raise click.BadParameter(f"'{value}' is not NAME=N", param_hint="--bound")
        bounds[name.strip()] = int(number)
    return bounds


class ProgressLine:
    """A progress line on stderr once an exploration runs longer than two seconds (terminals only)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.shown = False

    def __call__(self, states: int, depth: int, seconds: float) -> None:
        if not self.enabled or seconds < 2.0:
            return
        self.shown = True
        rate = states / seconds if seconds else 0
        click.echo(f"\r  {states:,} states, depth {depth}, {rate:,.0f} states/s ...", err=True, nl=False)

    def done(self) -> None:
        if self.shown:
            click.echo("\r" + " " * 70 + "\r", err=True, nl=False)


def verify_one(path: str, bounds: dict[str, int], limits: Limits, graph: Path | None) -> SpecReport:
    spec = load_spec(path, bounds)
    system = TransitionSystem(spec)
    progress = ProgressLine(sys.stderr.isatty())
    exp: Exploration = explore(system, limits, progress, record_edges=graph is not None)
    progress.done()
    report = build_report(path, exp)
    if graph is not None:
        violated = next((p for p in report.properties if p.trace is not None), None)
        highlight = None
        if violated is not None and violated.trace is not None:
            index = {s: i for i, s in enumerate(exp.states)}
            highlight = [index[s] for s in violated.trace.states if s in index]
        write_graph(exp, graph, highlight)
    return report


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="netcheck")
def main() -> None:
    """Model-check kernel locking protocols written as YAML specs."""


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--bound", "bounds", multiple=True, metavar="NAME=N", help="Override an entity or group size.")
@click.option("--max-states", type=click.IntRange(min=1), help="Stop after this many states (verdict unknown).")
@click.option("--max-depth", type=click.IntRange(min=1), help="Stop beyond this depth (verdict unknown).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Stop after this long (verdict unknown).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--trace", "trace_style", type=click.Choice(["cpu", "steps"]), default="cpu", show_default=True,
              help="Counterexamples as CPU columns or as a numbered list of steps.")
@click.option("--graph", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help=f"Write the state graph ({', '.join(FORMATS)}).")
@click.option("--fail-fast", is_flag=True, help="Stop at the first violation (other verdicts: unknown).")
@click.option("--no-timing", is_flag=True, help="Leave out timings and memory (for byte-identical output).")
def verify(specs: tuple[str, ...], bounds: tuple[str, ...], max_states: int | None, max_depth: int | None,
           timeout: float | None, fmt: str, trace_style: str, graph: Path | None, fail_fast: bool,
           no_timing: bool) -> None:
    """Explore every interleaving of each SPEC and check its properties.

    Exit 0: every property holds on the complete state space; 1: a property is violated;
    2: invalid spec or usage; 3: incomplete (a limit was hit, nothing violated).
    """
    bound_values = parse_bounds(bounds)
    if graph is not None and graph.suffix.lower() not in FORMATS:
        raise click.BadParameter(f"use a file ending in {', '.join(FORMATS)}", param_hint="--graph")
    if graph is not None and len(specs) > 1:
        raise click.BadParameter("--graph takes a single SPEC", param_hint="--graph")
    limits = Limits(max_states, max_depth, timeout, fail_fast)
    reports: list[SpecReport] = []
    errors = False
    for path in specs:
        try:
            reports.append(verify_one(path, bound_values, limits, graph))
        except SpecError as err:
            errors = True
            click.echo(str(err), err=True)
        except InternalError as err:
            click.echo(f"netcheck: internal error: {err}", err=True)
            sys.exit(EXIT_INTERNAL)
    if fmt == "json":
        if reports:
            click.echo(render_json(reports, not no_timing), nl=False)
    else:
        for report in reports:
            click.echo(render_text(report, trace_style, not no_timing), nl=False)
    codes = [r.exit_code for r in reports] + ([EXIT_USAGE] if errors else [])
    sys.exit(_worst(codes))


def _worst(codes: list[int]) -> int:
    """Violations dominate, then bad input, then incomplete runs."""
    for code in (1, 2, 3):
        if code in codes:
            return code
    return 0


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--bound", "bounds", multiple=True, metavar="NAME=N", help="Override an entity or group size.")
def check(specs: tuple[str, ...], bounds: tuple[str, ...]) -> None:
    """Validate each SPEC (parse, type-check, compile) without exploring it."""
    bound_values = parse_bounds(bounds)
    failed = False
    for path in specs:
        try:
            started = time.perf_counter()
            system = TransitionSystem(load_spec(path, bound_values))
            threads = len(system.threads)
            click.echo(f"{path}: ok ({threads} threads, {len(system.layout.slots)} state slots, "
                       f"{len(system.property_kinds())} properties, {time.perf_counter() - started:.2f} s)")
        except SpecError as err:
            failed = True
            click.echo(str(err), err=True)
    sys.exit(EXIT_USAGE if failed else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
