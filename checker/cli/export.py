"""`netcheck export --promela`: a spec as a Promela model for SPIN (model/semantics/promela.py), one SPIN
state per netcheck state; a construct with no faithful translation is refused (exit 2), named."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..engine.vocabulary import EXIT_USAGE
from .options import bound_option, output_option
from .run import atomic_write, load_system, parse_bounds


@click.command()
@click.argument("spec", type=click.Path())
@click.option("--promela", is_flag=True, help="Export a Promela model for SPIN (the only format so far).")
@bound_option
@output_option("Write the model to FILE (atomically) instead of stdout.")
def export(spec: str, promela: bool, bounds: tuple[str, ...], output: Path | None) -> None:
    """Export SPEC as a model for another checker: --promela writes Promela for SPIN.

    The model compiles the same program points and lock rules netcheck explores, one SPIN step per
    netcheck step: with `spin -a`, `gcc -DSAFETY -DNOREDUCE` and `./pan`, SPIN stores exactly
    netcheck's states, reports assertion violations named V_<property> and deadlocks as invalid end
    states. A construct the exporter cannot translate faithfully is an error (exit 2) naming it.
    """
    if not promela:
        raise click.UsageError("say which format: --promela")
    from netcheck.model.semantics.promela import PromelaError, export_promela
    system = load_system(spec, parse_bounds(bounds))
    try:
        text = export_promela(system)
    except PromelaError as err:
        click.echo(f"netcheck: {spec}: cannot export to Promela: {err}", err=True)
        sys.exit(EXIT_USAGE)
    if output is None:
        click.echo(text, nl=False)
    else:
        atomic_write(output, text)
