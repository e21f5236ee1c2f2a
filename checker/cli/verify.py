"""`netcheck verify` (explore and judge specs, in every output format) and `netcheck check` (load only)."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import click
from netcheck.model.lang.errors import SpecError

from ..analyses.state_graph import FORMATS as GRAPH_FORMATS
from ..engine.limits import Limits
from ..engine.vocabulary import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, worst_exit_code
from ..render.formats import FORMATS, RenderOptions
from ..report.build import SpecReport
from .options import bound_option, format_option, limit_options, no_timing_option, output_option
from .run import atomic_write, expand_specs, load_system, parse_bounds, shared_cache, verify_one


@click.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path())
@limit_options()
@click.option("--max-memory", type=click.FloatRange(min=1), metavar="MB",
              help="Stop when the process uses this much memory (verdict unknown).")
@format_option(sorted(FORMATS))
@output_option("Write the chosen format to FILE (atomically); the terminal gets the text summary.")
@click.option("--trace", "trace_style", type=click.Choice(["cpu", "steps"]), default="cpu", show_default=True,
              help="Counterexamples as CPU columns or as a numbered list of steps.")
@click.option("--graph", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help=f"Write the state graph ({', '.join(GRAPH_FORMATS)}).")
@click.option("--fail-fast", is_flag=True, help="Stop at the first violation (other verdicts: unknown).")
@click.option("--stop-on", "stop_on", multiple=True, metavar="PROPERTY",
              help="Stop as soon as this property is violated (repeat: once all are); other verdicts: unknown.")
@click.option("--coverage", "show_coverage", is_flag=True,
              help="List every statement and branch with how often reachable transitions ran it (by default "
                   "only a warning names the first few never run).")
@click.option("--strict-coverage", is_flag=True,
              help="Exit 1 when a complete run leaves a statement never run, even if every property holds.")
@no_timing_option
@click.option("--quiet", "-q", is_flag=True, help="Print only one summary line per spec.")
@click.option("--verbose", "-v", is_flag=True, help="Print progress even when not on a terminal.")
@click.option("--ignore-expect", is_flag=True,
              help="Judge the verdicts alone, as if the specs had no expect: (a bug spec then exits 1).")
def verify(specs: tuple[str, ...], bounds: tuple[str, ...], max_states: int | None, max_depth: int | None,
           timeout: float | None, max_memory: float | None, fmt: str, output: Path | None, trace_style: str,
           graph: Path | None, fail_fast: bool, stop_on: tuple[str, ...], show_coverage: bool, strict_coverage: bool,
           no_timing: bool, quiet: bool, verbose: bool, ignore_expect: bool) -> None:
    """Explore every interleaving of each SPEC (a file, or a directory of *.yaml) and check its properties.

    Exit 0: every property holds on the complete state space (a spec with expect: gets exactly the
    expected verdicts); 1: a property is violated or vacuous (or the verdicts differ from expect:, or,
    with --strict-coverage, a statement never runs); 2: invalid spec or usage; 3: incomplete (a limit
    was hit, nothing violated); 4: internal error; 130: interrupted.
    """
    bound_values = parse_bounds(bounds)
    paths = expand_specs(specs)
    if graph is not None and graph.suffix.lower() not in GRAPH_FORMATS:
        raise click.BadParameter(f"use a file ending in {', '.join(GRAPH_FORMATS)}", param_hint="--graph")
    if graph is not None and len(paths) > 1:
        raise click.BadParameter("--graph takes a single SPEC", param_hint="--graph")
    limits = Limits(max_states, max_depth, timeout, fail_fast, max_memory, frozenset(stop_on))
    on_terminal = sys.stdout.isatty()
    options = RenderOptions(trace_style, not no_timing, 0 if quiet else 1,
                            on_terminal and "NO_COLOR" not in os.environ, len(paths) > 1, show_coverage)
    cache = shared_cache()
    reports: list[SpecReport] = []
    errors = False
    interrupted = False
    for path in paths:
        try:
            report, exp = verify_one(path, bound_values, limits, graph, verbose or sys.stderr.isatty(),
                                     not ignore_expect, cache)
        except SpecError as err:   # reported, and the other specs still run
            errors = True
            click.echo(str(err), err=True)
            options = options.with_spec_error(path, err)   # junit/sarif report spec errors as results
            continue
        reports.append(replace(report, strict_coverage=strict_coverage))
        if exp.stop_reason == "interrupted":
            interrupted = True
            break
    if output is not None:
        if reports or (options.spec_errors and fmt in ("junit", "sarif")):
            atomic_write(output, FORMATS[fmt](reports, options))
        click.echo(FORMATS["text"](reports, RenderOptions(trace_style, not no_timing, 0, options.color)), nl=False)
    elif reports or (options.spec_errors and fmt in ("junit", "sarif")):
        click.echo(FORMATS[fmt](reports, options), nl=False)
    if interrupted:
        click.echo("netcheck: interrupted; the result above is partial", err=True)
        sys.exit(EXIT_INTERRUPTED)
    codes = [r.exit_code for r in reports] + ([EXIT_USAGE] if errors else [])
    sys.exit(worst_exit_code(codes))


@click.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path())
@bound_option
@click.option("--timing", is_flag=True, help="Also print how long loading and compiling each spec took.")
def check(specs: tuple[str, ...], bounds: tuple[str, ...], timing: bool) -> None:
    """Validate each SPEC (parse, type-check, compile) without exploring it."""
    bound_values = parse_bounds(bounds)
    failed = False
    for path in expand_specs(specs):
        started = time.perf_counter()
        try:
            system = load_system(path, bound_values)
        except SpecError as err:
            failed = True
            click.echo(str(err), err=True)
            continue
        took = f", {time.perf_counter() - started:.2f} s" if timing else ""
        click.echo(f"{path}: ok ({len(system.threads)} threads, {len(system.layout.slots)} state slots, "
                   f"{len(system.property_kinds())} properties{took})")
    sys.exit(EXIT_USAGE if failed else EXIT_OK)
