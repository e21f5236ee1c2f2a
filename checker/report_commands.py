"""The `explain` and `report` commands (registered on `netcheck` at the end of checker/cli.py).

Both explore like `verify` (through `cli.verify_one`) and share its options for bounds and limits; both
exit like `verify`: 0 holds, 1 violated, 2 invalid spec or usage, 3 incomplete.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from netcheck.model.errors import SpecError, did_you_mean

from .engine.limits import Limits
from .explain import explain as explain_text
from .html_report import Section, find_dot, page, spec_section
from .render_text import render_text
from .report import EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE, EXIT_VIOLATED


def _cli():
    from . import cli  # cli imports this module at its end
    return cli


def _limit_options(f):
    f = click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
                     help="Stop after this long (verdict unknown).")(f)
    f = click.option("--max-depth", type=click.IntRange(min=1), help="Stop beyond this depth (verdict unknown).")(f)
    f = click.option("--max-states", type=click.IntRange(min=1),
                     help="Stop after this many states (verdict unknown).")(f)
    return click.option("--bound", "bounds", multiple=True, metavar="NAME=N",
                        help="Override an entity or group size (repeat, or NAME=N,NAME=N).")(f)


@click.command()
@click.argument("spec", type=click.Path())
@click.argument("properties", nargs=-1)
@_limit_options
def explain(spec: str, properties: tuple[str, ...], bounds: tuple[str, ...], max_states: int | None,
            max_depth: int | None, timeout: float | None) -> None:
    """Explain PROPERTIES of SPEC (all of them when none is named) in plain words.

    For each property: what it says (its about: text and its expression), its verdict, and, when it is
    violated, the shortest counterexample told step by step in sentences.
    """
    cli = _cli()
    try:
        report, exp = cli.verify_one(spec, cli.parse_bounds(bounds), Limits(max_states, max_depth, timeout), None,
                                     sys.stderr.isatty())
    except SpecError as err:
        click.echo(str(err), err=True)
        sys.exit(EXIT_USAGE)
    known = [p.name for p in report.properties]
    for name in properties:
        if name not in known:
            raise click.BadParameter(f"no property '{name}' in {spec}; {did_you_mean(name, known)}",
                                     param_hint="PROPERTY")
    click.echo(explain_text(report, exp, properties), nl=False)
    if not properties:
        sys.exit(report.exit_code)
    statuses = {p.status for p in report.properties if p.name in properties}
    failed = bool(statuses & {"violated", "vacuous"})
    sys.exit(EXIT_VIOLATED if failed else EXIT_INCOMPLETE if "unknown" in statuses else EXIT_OK)


@click.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path())
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="The HTML file to write (atomically).")
@_limit_options
@click.option("--no-timing", is_flag=True, help="Leave out timings and memory (for byte-identical output).")
def report(specs: tuple[str, ...], output: Path, bounds: tuple[str, ...], max_states: int | None,
           max_depth: int | None, timeout: float | None, no_timing: bool) -> None:
    """Write one self-contained HTML page about SPECS (files, or directories of *.yaml).

    A summary table, every counterexample as a CPU-column table and in words, each spec's lock-order
    graph and, for state spaces under 500 states, the state graph with the counterexample in red. The
    pictures are inline SVG drawn with Graphviz's dot where it is installed; the page needs no network.
    """
    cli = _cli()
    bound_values = cli.parse_bounds(bounds)
    limits = Limits(max_states, max_depth, timeout)
    dot = find_dot()
    sections: list[Section] = []
    errors: list[str] = []
    codes: list[int] = []
    for path in cli.expand_specs(specs):
        try:
            result, exp = cli.verify_one(path, bound_values, limits, None, sys.stderr.isatty())
        except SpecError as err:
            click.echo(str(err), err=True)
            errors.append(str(err))
            codes.append(EXIT_USAGE)
            continue
        sections.append(spec_section(result, exp, len(sections), dot, timing=not no_timing))
        codes.append(result.exit_code)
        del exp
        click.echo(render_text(result, verbosity=0), nl=False)
    code = cli.worst_exit_code(codes)
    cli.atomic_write(output, page(sections, errors, dot, code))
    click.echo(f"netcheck: wrote {output}" + ("" if dot else " (Graphviz not installed: no pictures)"))
    sys.exit(code)


def register_report_commands(main: click.Group) -> None:
    main.add_command(explain)
    main.add_command(report)
