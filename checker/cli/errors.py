"""The one error boundary of every `netcheck` command: what escapes a command becomes an exit code.

SpecError: the diagnostics, exit 2. ClusterError (Ray missing or unreachable): one line, exit 2.
InternalError and any other exception: a bug in netcheck, exit 4, said in one line without a traceback
(NETCHECK_DEBUG=1 lets the traceback through). KeyboardInterrupt: exit 130. click's own exceptions (usage
errors, `ctx.exit`) and `sys.exit` pass untouched.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import click
from netcheck.model.lang.errors import SpecError

from ..engine.cluster import ClusterError
from ..engine.vocabulary import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE


def internal_error(err: Exception) -> NoReturn:
    """A bug in netcheck, not in the spec: exit 4 (NETCHECK_DEBUG=1 shows the Python traceback)."""
    if os.environ.get("NETCHECK_DEBUG"):
        raise err
    click.echo(f"netcheck: internal error: {type(err).__name__}: {err} "
               "(a bug in netcheck; NETCHECK_DEBUG=1 shows where)", err=True)
    sys.exit(EXIT_INTERNAL)


def spec_error(err: SpecError) -> NoReturn:
    """An invalid spec: its diagnostics on stderr, exit 2."""
    click.echo(str(err), err=True)
    sys.exit(EXIT_USAGE)


@contextmanager
def boundary() -> Iterator[None]:
    """Map what escapes the body to netcheck's exit codes (see the module docstring)."""
    try:
        yield
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise   # usage errors (exit 2) and the commands' own exits
    except SpecError as err:
        spec_error(err)
    except ClusterError as err:
        click.echo(f"netcheck: {err}", err=True)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        click.echo("netcheck: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as err:  # noqa: BLE001 - a bug in netcheck: say so, never a traceback
        if _disagreement(err):
            click.echo(f"netcheck: internal error: {err}", err=True)
            sys.exit(EXIT_INTERNAL)
        internal_error(err)


def _disagreement(err: Exception) -> bool:
    """Is `err` the checker's own InternalError (the evaluator and z3 disagreed), which says what it is? Its
    module is imported only by then (it loads z3, which start-up leaves out)."""
    verdicts = sys.modules.get("netcheck.checker.engine.verdicts")
    return verdicts is not None and isinstance(err, verdicts.InternalError)


class Commands(click.Group):
    """The command group: every command runs inside `boundary()`, so that exit codes mean the same under
    every command and a bug is never reported as a verdict."""

    def invoke(self, ctx: click.Context) -> object:
        with boundary():
            return super().invoke(ctx)
