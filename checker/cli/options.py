"""Options that several commands share, each declared once: the same name, type and help everywhere.

Each is a decorator (or a factory of one) for a click command; a command's function takes the option's
value under the parameter name given here (`bounds`, `max_states`, `max_depth`, `timeout`, `fmt`,
`output`, `no_timing`, `workers`, `address`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from ..engine.cluster import ClusterSpec

F = TypeVar("F", bound=Callable[..., Any])

# the state-graph files `verify --graph` writes and its views (analyses/graph_export.py and state_graph.py,
# read only when a graph is written)
GRAPH_SUFFIXES = (".dot", ".gv", ".graphml", ".json")
GRAPH_VIEWS = ("full", "trace", "pc", "locks", "code")
# the mutation kinds of `mutate --kind` (analyses/mutate.py), and its per-mutant state cap
MUTATION_KINDS = ("remove_pair", "write_to_read", "unkillable", "swap_nested", "release_early")
MUTANT_MAX_STATES = 3_000_000

bound_option = click.option("--bound", "bounds", multiple=True, metavar="NAME=N",
                            help="Override an entity or group size (repeat, or NAME=N,NAME=N).")
timeout_option = click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
                              help="Stop exploring after this long (what is undecided by then is unknown).")
max_depth_option = click.option("--max-depth", type=click.IntRange(min=1),
                                help="Stop exploring beyond this depth (what is undecided by then is unknown).")
jobs_option = click.option("--jobs", "-j", type=click.IntRange(min=1), metavar="N",
                           help="Worker processes (default: one per core).")


def cluster_options(f: F) -> F:
    """--workers and --ray: the search on Ray workers (engine/cluster.py, docs/scaling.md)."""
    f = click.option("--ray", "ray_address", metavar="ADDRESS",
                     help="Run the workers on the Ray cluster at ADDRESS ('auto' for the one this machine "
                          "belongs to; `ray start --head` prints it) instead of a local one started for the "
                          "command.")(f)
    return click.option("--workers", type=click.IntRange(min=1), metavar="N",
                        help="Worker processes on Ray (pip install 'netcheck[ray]'): a local cluster of N started "
                             "for the command, or N workers on the cluster --ray names (default there: one per "
                             "CPU it has).")(f)


def cluster_spec(workers: int | None, address: str | None) -> ClusterSpec | None:
    """What --workers and --ray ask for (None: search in this process)."""
    if workers is None and address is None:
        return None
    return ClusterSpec(workers, address)


no_timing_option = click.option("--no-timing", is_flag=True,
                                help="Leave out timings and memory (for byte-identical output).")
# the searches past one process (engine/cluster.py, docs/scaling.md)
def max_states_option(default: int | None = None, help: str | None = None) -> Callable[[F], F]:
    """--max-states; `mutate` gives its per-mutant cap a default and says so."""
    text = help or "Stop exploring after this many states (what is undecided by then is unknown)."
    return click.option("--max-states", type=click.IntRange(min=1), default=default, show_default=default is not None,
                        help=text)


def limit_options(depth: bool = True) -> Callable[[F], F]:
    """--bound, --max-states, --max-depth (unless `depth` is off) and --timeout, in that order."""
    def decorate(f: F) -> F:
        f = timeout_option(f)
        if depth:
            f = max_depth_option(f)
        return bound_option(max_states_option()(f))
    return decorate


def format_option(choices: Sequence[str]) -> Callable[[F], F]:
    """--format, one of `choices`, text by default."""
    return click.option("--format", "fmt", type=click.Choice(list(choices)), default="text", show_default=True)


def output_option(help: str, required: bool = False) -> Callable[[F], F]:
    """--output/-o FILE, written atomically."""
    return click.option("--output", "-o", required=required, type=click.Path(dir_okay=False, path_type=Path),
                        metavar="FILE", help=help)
