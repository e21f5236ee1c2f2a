"""`netcheck schema` (the JSON Schema of the spec format, for editors) and `netcheck init` (a new spec
from a commented skeleton that verifies as written)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NoReturn

import click

from ..engine.vocabulary import EXIT_USAGE
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


SCAFFOLD = """\
# {name}: a locking protocol to model-check with netcheck.
# Fill in the locks, the shared state, the code paths (procedures), the threads that run them and the
# properties that must hold, then run: netcheck verify {file}
# The language: docs/spec-language.md in netcheck's sources. For completion in an editor with the YAML
# language server, write the schema next to this file (netcheck schema -o netcheck-spec.schema.json) and
# make this the first line: # yaml-language-server: $schema=netcheck-spec.schema.json
netcheck: 1                         # the spec language version
name: {quoted}
about: "two threads update a shared counter, each under both locks taken in the same order"

locks:                              # NAME: mutex, rwsem or spinlock (add per: ENTITY for one per element)
  outer_lock: mutex
  inner_lock: mutex

state:                              # shared variables: {{type: TYPE}}, optionally init: VALUE
  counter: {{type: "int[0..2]"}}      # a stored integer needs a range
  writers: {{type: "int[0..2]"}}      # threads inside the critical section

procedures:                         # code paths; each statement is one step of the thread running it
  update():
    locals: {{seen: "int[0..2]"}}     # each thread's own variables
    body:
      - mutex_lock: outer_lock
      - mutex_lock: inner_lock      # a path taking inner_lock first would deadlock with this one (ABBA)
      - writers = writers + 1
      - seen = counter              # reading and writing counter are two steps: without the locks,
      - counter = seen + 1          # another thread can update it in between and that update is lost
      - writers = writers - 1
      - mutex_unlock: inner_lock
      - mutex_unlock: outer_lock

threads:                            # what runs concurrently (for: x in ENTITY runs one per element)
  first: {{run: update()}}
  second: {{run: update()}}

properties:                         # checked on every reachable state (invariant) or at the end (final)
  one_writer:
    invariant: "writers <= 1"
    about: "the locks keep the updates apart"
  both_counted:
    final: "counter == 2"
    about: "when both threads are done, neither update was lost"
  both_inside:                      # a question: answered with a witness trace, never fails a run
    reachable: "writers == 2"
    about: "can both threads be inside at once? (they should not)"

# Built in and always checked: deadlock_free, lock_discipline (no unlock of a lock not held, ...),
# runtime_safety, lock_order. To turn this spec into a test, say what verifying it must give:
# expect: holds
"""


@click.command()
@click.argument("name")
def init(name: str) -> None:
    """Write a commented spec skeleton to NAME.yaml (locks, state, a pair of threads, properties).

    It verifies as written (`netcheck verify NAME.yaml` exits 0); edit it into your protocol. An existing
    file is never overwritten (exit 2).
    """
    path = Path(name if name.endswith((".yaml", ".yml")) else f"{name}.yaml")
    text = SCAFFOLD.format(name=path.stem, quoted=json.dumps(path.stem), file=path)
    try:
        with path.open("x", encoding="utf-8") as out:
            out.write(text)
    except FileExistsError:
        _refuse(f"{path} already exists", "choose another NAME, or remove the file first")
    except OSError as err:
        _refuse(f"cannot write {path}: {err.strerror}", "NAME may include a folder, which must exist")
    click.echo(f"wrote {path}; check it with: netcheck verify {path}")


def _refuse(message: str, hint: str) -> NoReturn:
    """A usage error without click's usage text: the message, a hint, exit 2."""
    click.echo(f"netcheck: error: {message}\n  hint: {hint}", err=True)
    sys.exit(EXIT_USAGE)
