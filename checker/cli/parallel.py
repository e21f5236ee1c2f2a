"""Several specs verified side by side: one worker process per spec, up to --jobs at a time, the results
handed back in the order the specs were given, so that the output is the same as one after the other."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netcheck.model.lang.errors import Diagnostic, SpecError

from ..engine.cluster import ClusterSpec
from ..engine.limits import Limits
from .run import ExplorationCache, GraphRequest, verify_bdd, verify_bmc, verify_one, verify_proof

if TYPE_CHECKING:
    from ..report.build import SpecReport


@dataclass(frozen=True)
class VerifyJob:
    """What every spec of one `verify` run is verified with."""

    bounds: dict[str, int]
    limits: Limits
    use_expect: bool = True
    stop_at_expected: bool = True
    reduction: str = "auto"     # none, protected (model/semantics/discipline.py) or auto (cli/run.py compile_system)
    symmetry: str = "auto"      # off, on (model/semantics/symmetry.py) or auto
    # explicit, bmc (bounded model checking to `depth` steps), kind (k-induction to `depth`) or pdr
    engine: str = "explicit"
    depth: int | None = None
    store: str = "full"         # engine/store.py StoreKind: every state whole, or fingerprints
    cluster: ClusterSpec | None = None   # explore each spec on Ray workers (engine/partition.py)


def verify_all(paths: Sequence[str], job: VerifyJob, graph: GraphRequest | None, progress: bool, jobs: int | None,
               cache: ExplorationCache | None) -> Iterator[tuple[str, SpecReport | SpecError]]:
    """Each spec's report, or the SpecError it does not load with, in the order of `paths`. In this process
    one after the other (with a progress line) when there is one spec, one job, a graph to write or a
    shared cache; otherwise in up to `jobs` worker processes (default: one per core). With a Ray cluster,
    one after the other, each spec explored on all its workers."""
    if job.cluster is not None:
        from ..engine.cluster import cluster
        with cluster(job.cluster) as count:
            yield from _serial(paths, job, graph, progress, cache, count)
        return
    workers = min(jobs or os.cpu_count() or 1, len(paths))
    if workers <= 1 or graph is not None or cache is not None:
        yield from _serial(paths, job, graph, progress, cache)
        return
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for path, (done, diagnostics) in zip(paths, pool.map(_verify_in_worker, paths, [job] * len(paths))):
            yield path, done if done is not None else SpecError(diagnostics)


def _serial(paths: Sequence[str], job: VerifyJob, graph: GraphRequest | None, progress: bool,
            cache: ExplorationCache | None, workers: int = 0) -> Iterator[tuple[str, SpecReport | SpecError]]:
    """Each spec's report (or SpecError) in this process, one after the other, each with its own peak
    memory."""
    for k, path in enumerate(paths):
        if k:
            _start_afresh()
        try:
            report = _one(path, job, graph, progress, cache, workers)
        except SpecError as err:
            yield path, err
            continue
        yield path, report


def _one(path: str, job: VerifyJob, graph: GraphRequest | None, progress: bool,
         cache: ExplorationCache | None, workers: int = 0) -> SpecReport:
    """One spec's report, by the job's engine."""
    if job.engine == "bmc":
        assert job.depth is not None
        return verify_bmc(path, job.bounds, job.depth, job.limits, job.use_expect)
    if job.engine == "bdd":
        return verify_bdd(path, job.bounds, job.depth, job.limits, job.use_expect)
    if job.engine in ("kind", "pdr"):
        return verify_proof(path, job.bounds, job.engine, job.depth, job.limits, job.use_expect)
    report, _ = verify_one(path, job.bounds, job.limits, graph, progress, job.use_expect, cache, job.stop_at_expected,
                           job.reduction, job.symmetry, job.store, workers)
    return report


def _start_afresh() -> None:
    """Before another spec in the same process: give what the last one freed back to the system, and measure
    the peak memory from here (engine/limits.py)."""
    from ..engine.limits import release_freed_memory, restart_peak_rss
    release_freed_memory()
    restart_peak_rss()


def _verify_in_worker(path: str, job: VerifyJob) -> tuple[SpecReport | None, tuple[Diagnostic, ...]]:
    """One spec verified in a worker process, without a progress line: its report, or the diagnostics it
    does not load with (a SpecError itself does not survive pickling). The process may have verified other
    specs before: the peak memory reported is this one's."""
    _start_afresh()
    try:
        report = _one(path, job, None, False, None)
    except SpecError as err:
        return None, err.diagnostics
    return report, ()
