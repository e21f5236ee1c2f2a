"""`netcheck schema` (the JSON Schema of the spec format, for editors) and `netcheck init` (a new spec)."""

from __future__ import annotations

from pathlib import Path

import click

from .options import output_option
from .run import atomic_write


@click.command()
@output_option("Write the schema to FILE (atomically) instead of stdout.")
def schema(output: Path | None) -> None:
    """Print the JSON Schema of the spec format, generated from the parser's tables.

    Editors with the YAML language server use it to complete and check specs; the repository publishes
    it as schema/netcheck-spec.schema.json (`make schema` regenerates it).
    """
    from netcheck.model.lang.schema import schema_text
    text = schema_text()
    if output is None:
        click.echo(text, nl=False)
    else:
        atomic_write(output, text)
