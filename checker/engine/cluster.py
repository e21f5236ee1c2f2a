"""Ray for the searches that go past one process (`verify --workers N`, `verify --ray ADDRESS`, `hunt`):
a local cluster started for one command, or an existing one joined, and left (or shut down) after it.

Ray is an optional extra (`pip install 'netcheck[ray]'`): it is imported here only, and only when a
command asks for workers, so that the default install and start-up stay small.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

INSTALL_HINT = "pip install 'netcheck[ray]'"

# what lives as long as this process is attached to its cluster (partition.py's workers: a Ray actor
# lives while a handle to it does), by name
_kept: dict[str, Any] = {}


class ClusterError(Exception):
    """Ray is missing, or the cluster asked for cannot be reached: a usage problem (exit 2), said in one line."""


@dataclass(frozen=True)
class ClusterSpec:
    """Where a search's workers run: `workers` worker processes on a local Ray cluster started for the
    command, or on the cluster at `address` (`workers` None there: one per CPU the cluster has)."""

    workers: int | None = None
    address: str | None = None

    def describe(self) -> str:
        count = f"{self.workers} workers" if self.workers else "a worker per CPU"
        return f"{count} on the Ray cluster at {self.address}" if self.address else f"{count} on a local Ray cluster"


def import_ray() -> ModuleType:
    """The `ray` module, or a ClusterError that says how to install it."""
    try:
        import ray
    except ImportError as err:
        raise ClusterError(f"the parallel search runs on Ray, which is not installed ({INSTALL_HINT})") from err
    return ray


@contextmanager
def cluster(spec: ClusterSpec) -> Iterator[int]:
    """Ray started (or joined) for the body, which gets the number of workers to use; a cluster this
    process started is shut down after it, a joined one is left as it was (only disconnected)."""
    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        # quiet: Ray's own logging and banners would mix with netcheck's output
        os.environ.setdefault("RAY_DEDUP_LOGS", "0")
        # Ray lowers its workers' priority (nice 15) to keep a driver responsive; netcheck's coordinator
        # mostly waits for them, and they are the search: the priority a one-process search would have
        os.environ.setdefault("RAY_worker_niceness", "0")
        logging.getLogger("ray").setLevel(logging.ERROR)
        options = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
        try:
            if spec.address:
                ray.init(address=spec.address, **options)
            else:
                ray.init(num_cpus=spec.workers or os.cpu_count() or 1, **options)
        except (ConnectionError, RuntimeError, ValueError) as err:
            where = f"the Ray cluster at {spec.address}" if spec.address else "a local Ray cluster"
            raise ClusterError(f"cannot start or reach {where}: {err}") from err
    try:
        yield spec.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    finally:
        if started_here:
            _kept.clear()
            ray.shutdown()


def kept(name: str, make: Callable[[], Any]) -> Any:
    """What `make` made the first time `name` was asked for on this cluster, kept until the `cluster` that
    attached this process ends (or `forget`), so that a run over several specs starts its workers once."""
    if name not in _kept:
        _kept[name] = make()
    return _kept[name]


def forget(name: str) -> None:
    """Stop keeping `name` (its workers failed): the next search makes it afresh."""
    _kept.pop(name, None)
