"""The `netcheck` command line: the only place that prints and sets exit codes.

This module holds the click group and registers the commands; the commands live in verify.py, analyses.py
and reports.py (which never import this module), what they share in options.py and run.py, and the error
boundary every command runs inside in errors.py.
"""

from __future__ import annotations

import click

from .. import __version__
from .analyses import diff, locks, mutate, slow
from .errors import Commands
from .reports import explain, report
from .verify import check, verify


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="netcheck")
def main() -> None:
    """Model-check kernel locking protocols written as YAML specs."""


for _command in (verify, check, locks, slow, mutate, diff, explain, report):
    main.add_command(_command)
