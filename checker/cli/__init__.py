"""The `netcheck` command line: the only place that prints and sets exit codes.

This module holds the click group and registers the commands; the commands live in verify.py,
analyses.py, conform.py, reports.py, tools.py, export.py, prove.py and hunt.py (which never import this
module), what they share in options.py and run.py, and the error boundary every command runs inside in
errors.py. Start-up stays fast: the command modules import the checker itself (the parser, z3, networkx,
the engine, the renderers) inside the commands that run it.
"""

from __future__ import annotations

import os

import click

from .analyses import diff, locks, mutate, overtakes, slow
from .conform import conform, skeleton
from .errors import Commands
from .export import export
from .hunt import hunt
from .prove import prove
from .reports import explain, report
from .tools import init, schema
from .verify import check, verify


def print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """--version: the installed version (read only when asked for)."""
    if not value or ctx.resilient_parsing:
        return
    from .. import __version__
    from ..engine.store import NATIVE_STORE
    click.echo(f"netcheck, version {__version__}")
    click.echo("state store: native" if NATIVE_STORE else "state store: packed states in a dict (the native store "
               "was not built: reinstall where a C compiler and Python's headers are, for less memory per state)")
    import netcheck.model.semantics  # noqa: F401 - the packages with compiled modules say which are in use
    from netcheck._compiled import status
    used, stale = status()
    if os.environ.get("NETCHECK_PURE"):
        click.echo(f"engine: plain Python (NETCHECK_PURE is set: {stale} compiled modules left unused)")
    elif stale:
        click.echo(f"engine: {used} compiled modules, {stale} run from their changed source (reinstall to "
                   "compile them)")
    elif used:
        click.echo(f"engine: {used} compiled modules")
    else:
        click.echo("engine: plain Python (compiled modules were not built: reinstall where a C compiler is, for "
                   "about 1.5x the states per second)")
    ctx.exit()


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=print_version,
              help="Show the version and exit.")
def main() -> None:
    """Model-check kernel locking protocols written as YAML specs."""


for _command in (verify, check, prove, hunt, locks, slow, overtakes, mutate, diff, conform, skeleton, explain, report,
                 schema, init, export):
    main.add_command(_command)
