"""`netcheck explain` (properties and counterexamples in words) and `netcheck report` (one HTML page).

Both explore like `verify` (through `run.verify_one`) and share its options for bounds and limits; both
exit like `verify`: 0 holds, 1 violated, 2 invalid spec or usage, 3 incomplete.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from netcheck.model.lang.errors import SpecError, did_you_mean

from ..engine.limits import Limits
from ..engine.vocabulary import EXIT_USAGE, worst_exit_code
from .options import limit_options, no_timing_option, output_option
from .run import atomic_write, expand_specs, parse_bounds, shared_cache, verify_one

if TYPE_CHECKING:
    from ..render.html import Section


@click.command()
@click.argument("spec", type=click.Path())
@click.argument("properties", nargs=-1)
@limit_options()
def explain(spec: str, properties: tuple[str, ...], bounds: tuple[str, ...], max_states: int | None,
            max_depth: int | None, timeout: float | None) -> None:
    """Explain PROPERTIES of SPEC (all of them when none is named) in plain words.

    For each property: what it says (its about: text and its expression), its verdict, and, when it is
    violated, the shortest counterexample told step by step in sentences.
    """
    from ..render.explain import explain as explain_text
    report, exp = verify_one(spec, parse_bounds(bounds), Limits(max_states, max_depth, timeout), None,
                             sys.stderr.isatty(), cache=shared_cache())
    known = [p.name for p in report.properties]
    for name in properties:
        if name not in known:
            raise click.BadParameter(f"no property '{name}' in {spec}; {did_you_mean(name, known)}",
                                     param_hint="PROPERTY")
    click.echo(explain_text(report, properties), nl=False)
    if not properties:
        sys.exit(report.exit_code)
    sys.exit(worst_exit_code(p.status.exit_code for p in report.properties if p.name in properties))


@click.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path())
@output_option("The HTML file to write (atomically).", required=True)
@limit_options()
@no_timing_option
def report(specs: tuple[str, ...], output: Path, bounds: tuple[str, ...], max_states: int | None,
           max_depth: int | None, timeout: float | None, no_timing: bool) -> None:
    """Write one self-contained HTML page about SPECS (files, or directories of *.yaml).

    A summary grouped by spec (failing specs first), every counterexample as a CPU-column table and in
    words, each spec's lock-order graph, for state spaces under 500 states the state graph with the
    counterexample in red, and the counterexample's states and neighbours labelled with thread positions
    and lock owners (up to 80 nodes; with no counterexample, the states merged by positions). The
    pictures are inline SVG drawn with Graphviz's dot where it is installed; the page needs no network.
    """
    from ..render.html import find_dot, page, spec_section
    from ..render.text import render_text
    bound_values = parse_bounds(bounds)
    limits = Limits(max_states, max_depth, timeout)
    cache = shared_cache()
    dot = find_dot()
    sections: list[Section] = []
    errors: list[str] = []
    codes: list[int] = []
    for path in expand_specs(specs):
        try:
            result, exp = verify_one(path, bound_values, limits, None, sys.stderr.isatty(), cache=cache)
        except SpecError as err:   # reported, and the other specs still run
            click.echo(str(err), err=True)
            errors.append(str(err))
            codes.append(EXIT_USAGE)
            continue
        sections.append(spec_section(result, exp, len(sections), dot, timing=not no_timing))
        codes.append(result.exit_code)
        del exp
        click.echo(render_text(result, verbosity=0), nl=False)
    code = worst_exit_code(codes)
    atomic_write(output, page(sections, errors, dot, code))
    click.echo(f"netcheck: wrote {output}" + ("" if dot else " (Graphviz not installed: no pictures)"))
    sys.exit(code)
