"""After a reduced search: the shortest traces of what it found, from a second search without the reduction.

A reduced search (model/semantics/discipline.py) decides every verdict and answer, but its traces, unfolded
into full steps, may be longer than the shortest. So a second, breadth-first search of the same spec
without the reduction and without symmetry (same limits and store) runs until it has found every violation and
reached every question the first one answered, and no deeper than the longest of the first search's
unfolded traces: it finds each one at the depth of a shortest trace. Its results go to `result.traces`;
the report takes each trace from there when it has one. Stuck threads are proved on the whole graph, so a
deadlock's trace from there need not be the shortest: the report takes the shorter of it and the reduced
search's own.
"""

from __future__ import annotations

from dataclasses import replace

from netcheck.model.semantics.discipline import Reduction
from netcheck.model.semantics.system import TransitionSystem

from ..engine.limits import Limits
from ..engine.observers import Observer
from ..engine.paths import parent_path, path_to
from ..engine.result import ExplicitResult, Finding
from .symmetric import concretize
from .unfold import unfold
from .waitfor import SlowWaits, slow_chains


def shortest_traces(result: ExplicitResult, limits: Limits | None = None) -> None:
    """Search `result`'s spec again without its reduction, into `result.traces`, until every finding of
    `result` (violations and reached questions) is found again or the depth of its longest unfolded trace
    is passed. Nothing happens after an unreduced search or one that found nothing."""
    from ..engine.explore import explore  # looked up when run (tests stand in for it)
    system, limits = result.system, limits or Limits()
    if system.reduction is Reduction.NONE:
        return
    lengths = {name: unfolded_length(result, finding) for name, finding in {**result.witnesses,
                                                                             **result.violations}.items()}
    for p in system.spec.properties:   # answered during the search when the caller watched for them, else now
        if p.kind == "waits_on_slow" and p.name not in lengths:
            witness = slow_chains(result, p.target)
            if witness is not None:
                lengths[p.name] = len(witness.trace.steps)
    if not lengths:
        return
    deepest = max(lengths.values())
    # without symmetry too: its traces then have the fewest thread switches and name the elements as the
    # spec's readers expect (a symmetric search keeps the lengths, not that)
    full = TransitionSystem(system.spec, Reduction.NONE, False)
    # one level more than the deepest trace: a state with stuck threads shows when it is expanded
    bounded = replace(limits, stop_on=frozenset(lengths), fail_fast=False,
                      max_depth=min(deepest + 1, limits.max_depth or deepest + 1))
    again = explore(full, bounded, measure_memory=False, observers=question_observers, store=result.store.kind,
                    workers=len(result.worker_memory_mb))
    result.traces = again   # its time counts in the report's (report/build.py)


def question_observers(system: TransitionSystem) -> list[Observer]:
    """What answers the waits_on_slow questions during the search (the other findings the search makes)."""
    return [SlowWaits(system, p.target, first_only=True, question=p.name)
            for p in system.spec.properties if p.kind == "waits_on_slow"]


def unfolded_length(result: ExplicitResult, finding: Finding) -> int:
    """How many full steps the reduced search's trace to `finding` takes (its violating step included)."""
    system = result.system
    path = path_to(result, replace(finding, state=-1))   # only the violating step, if any
    if finding.state >= 0:   # the BFS parent path (a shortest one: the fewest-switch search is not needed)
        path = replace(parent_path(result, finding.state), last=path.last)
    path = unfold(system, concretize(system, path, finding.prop), finding.prop)
    return len(path.labels) + (path.last is not None)
