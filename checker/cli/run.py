"""What the commands share besides options: reading arguments, loading specs, one verification run,
the progress line, and writing output files. The Python API (`netcheck.verify`) runs `verify_one`, or
`verify_system` for a spec already loaded.

`verify_one` takes an `ExplorationCache`: runs that repeat the same verification (the golden files and
the tutorial, through scripts/cli_runs.py) hand one to the command line as click's context object
(`main(..., obj=cache)`), and `shared_cache()` finds it there.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..engine.limits import Limits, ProgressInfo
from ..engine.vocabulary import EXIT_USAGE, PropertyKind

if TYPE_CHECKING:
    from netcheck.model.lang.spec import Spec
    from netcheck.model.semantics.system import TransitionSystem

    from ..engine.observers import Observer
    from ..engine.result import ExplicitResult
    from ..report.build import SpecReport

Verification = tuple["SpecReport", "ExplicitResult"]
SPEC_SUFFIXES = (".yaml", ".yml")   # the files a directory argument stands for
CacheKey = tuple[str, tuple[tuple[str, int], ...], Limits, bool, bool, str, bool | str, str]


GRAPH_MAX_STATES = 5000   # the default cap on the nodes of a --graph view


@dataclass(frozen=True)
class GraphRequest:
    """`verify --graph`: the file to write, the view (analyses/state_graph.py VIEWS) and its most nodes."""

    path: Path
    view: str = "full"
    max_nodes: int = GRAPH_MAX_STATES


class GraphRefused(click.ClickException):
    """A --graph view that cannot be written (too large, or no counterexample for the trace view): exit 2,
    nothing written. It carries the spec's report, so that `verify` still prints the verdicts."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, report: SpecReport):
        super().__init__(message)
        self.report = report


def parse_bounds(values: tuple[str, ...]) -> dict[str, int]:
    """Entity and group sizes from --bound options, each NAME=N or a comma-separated list of them
    (`--bound a=0,b=0` is `--bound a=0 --bound b=0`); a later value for a name wins."""
    bounds = {}
    for value in values:
        for part in value.split(","):
            name, sep, number = part.partition("=")
            number = number.strip()
            if not sep or not name.strip().isidentifier() or not (number.isascii() and number.isdigit()) \
                    or len(number) > 6:
                raise click.BadParameter(f"'{part.strip() or value}' is not NAME=N (N a small whole number)",
                                         param_hint="--bound")
            bounds[name.strip()] = int(number)
    return bounds


def expand_specs(paths: tuple[str, ...]) -> list[str]:
    """Files as given; a directory stands for every *.yaml and *.yml below it, in sorted order."""
    out: list[str] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            found = sorted(str(f) for f in p.rglob("*") if f.suffix in SPEC_SUFFIXES and f.is_file())
            if not found:
                raise click.BadParameter(f"no *.yaml or *.yml files under {path}", param_hint="SPECS")
            out.extend(found)
        else:
            out.append(path)
    return out


def atomic_write(path: Path, text: str) -> None:
    """Write a file so that it is either complete or absent: a temporary file renamed into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load_system(path: str, bounds: dict[str, int], reduction: str = "none",
                symmetry: bool | str = False) -> TransitionSystem:
    """The spec at `path`, parsed and compiled (SpecError when it is invalid), with that reduction and
    symmetry (`compile_system`)."""
    from netcheck.model.lang.parse import load_spec
    return compile_system(load_spec(path, bounds), reduction, symmetry)


def compile_system(spec: Spec, reduction: str = "none", symmetry: bool | str = False) -> TransitionSystem:
    """`spec` compiled with a reduction (model/semantics/discipline.py: none, protected) and symmetry
    (model/semantics/symmetry.py: off, on). `auto`, verify's default, chooses both wherever every verdict
    is decided under them: not for a spec with liveness properties (decided on the full graph); and
    symmetry only where some entity is symmetric. (`verify` also searches every state when it writes a
    state graph or stops at the violations the spec's expect: lists: `_verify`.)"""
    from netcheck.model.semantics.discipline import Reduction
    from netcheck.model.semantics.system import TransitionSystem
    liveness = any(PropertyKind(p.kind).is_liveness for p in spec.properties)
    if reduction == "auto":
        reduction = "none" if liveness else "protected"
    symmetric = not liveness if symmetry == "auto" else symmetry in (True, "on")
    system = TransitionSystem(spec, Reduction(reduction), symmetric)
    if symmetry == "auto" and not system.symmetric:
        system.symmetry = None   # nothing here is symmetric: nothing to say about it
    return system


def explore_spec(path: str, bounds: dict[str, int], limits: Limits,
                 observers: Callable[[TransitionSystem], Sequence[Observer]] = lambda system: ()) -> ExplicitResult:
    """The spec explored within `limits`, without a progress line or memory measurements (the analyses)."""
    from ..engine.explore import explore
    system = load_system(path, bounds)
    return explore(system, limits, measure_memory=False, observers=observers(system))


class ProgressLine:
    """A progress line on stderr once an exploration runs longer than two seconds (terminals only),
    and a warning when the frontier keeps growing fast."""

    def __init__(self, enabled: bool, warn: bool, bounds_hint: str, label: str = ""):
        self.enabled = enabled
        self.warn = warn
        self.bounds_hint = bounds_hint
        self.label = label      # the spec and its bounds
        self.shown = 0          # the length of the line on screen
        self.warned = False

    def __call__(self, info: ProgressInfo) -> None:
        if self.warn and not self.warned and info.seconds > 5 and info.previous_level > 0 \
                and info.level > 1.5 * info.previous_level and info.states > 200_000:
            self.warned = True
            self.clear()
            click.echo(f"netcheck: warning: the state space is still growing fast ({info.states:,} states, "
                       f"x{info.level / info.previous_level:.1f} per level at depth {info.depth}); "
                       f"consider lowering a bound ({self.bounds_hint}) or --max-states", err=True)
        if not self.enabled or info.seconds < 2.0:
            return
        width = shutil.get_terminal_size().columns - 1
        line = progress_text(info, self.label)
        if len(line) > width:   # the bounds go first, then the end of the line
            line = progress_text(info, self.label.split(" (")[0])[:width]
        click.echo("\r" + line.ljust(self.shown), err=True, nl=False)
        self.shown = len(line)

    def clear(self) -> None:
        if self.shown:
            click.echo("\r" + " " * self.shown + "\r", err=True, nl=False)
            self.shown = 0


def progress_text(info: ProgressInfo, label: str = "") -> str:
    """`  net_sem.yaml (net=2): 412,345 states, depth 31, 63,100 states/s, 7 s, 410 MB; about 80 % done,
    2 s left ...`: the estimate only while the BFS levels shrink (ProgressInfo.remaining)."""
    rate = info.states / info.seconds if info.seconds else 0.0
    text = (f"  {label + ': ' if label else ''}{info.states:,} states, depth {info.depth}, {rate:,.0f} states/s, "
            f"{info.seconds:,.0f} s, {info.memory_mb:,.0f} MB")
    remaining = info.remaining()
    if remaining is not None:
        done = info.states / (info.states + remaining)
        text += f"; about {100 * done:.0f} % done, {remaining / rate if rate else 0:,.0f} s left"
    elif info.previous_level:
        growth = info.level / info.previous_level
        text += f"; levels growing x{growth:.2f}" if growth >= 1.05 else "; levels steady, no estimate yet"
    return text + " ..."


def check_stop_on(path: str, system: TransitionSystem, names: frozenset[str]) -> None:
    """--stop-on names properties that exploring decides (not lock_order, waits_on_slow or liveness: they
    are answered from the whole explored graph)."""
    known = [p.name for p in system.property_kinds()
             if p.kind != PropertyKind.WAITS_ON_SLOW and not PropertyKind(p.kind).is_liveness]
    unknown = sorted(names - set(known))
    if unknown:
        raise click.BadParameter(f"{path} has no property '{unknown[0]}' that exploring can violate; it has: "
                                 f"{', '.join(known)}", param_hint="--stop-on")


class ExplorationCache:
    """Verifications kept by (spec, bounds, limits, use of expect:, stop at expected violations, reduction,
    symmetry, store), for a
    process that runs the same one several times (the golden files, the tutorial): each spec is explored
    once."""

    def __init__(self) -> None:
        self._runs: dict[CacheKey, Verification] = {}
        # explorations by what decides them (spec, bounds, limits with the stop rule in force, reduction,
        # symmetry, store): a run judged with and without expect: (verify --ignore-expect, explain) shares one
        self.explorations: dict[tuple, ExplicitResult] = {}

    def get(self, key: CacheKey) -> Verification | None:
        return self._runs.get(key)

    def put(self, key: CacheKey, run: Verification) -> None:
        self._runs[key] = run

    def clear(self) -> None:
        """Drop every kept verification (they hold every state of every spec explored)."""
        self._runs.clear()
        self.explorations.clear()

    def __len__(self) -> int:
        return len(self._runs)


def shared_cache() -> ExplorationCache | None:
    """The cache the command line was invoked with (click's context object), if any."""
    ctx = click.get_current_context(silent=True)
    return ctx.find_object(ExplorationCache) if ctx is not None else None


def verify_one(path: str, bounds: dict[str, int], limits: Limits, graph: GraphRequest | None, progress_enabled: bool,
               use_expect: bool = True, cache: ExplorationCache | None = None,
               stop_at_expected: bool = False, reduction: str = "none", symmetry: bool | str = False,
               store: str = "full", workers: int = 0) -> Verification:
    """Load, explore and judge one spec (and write its state graph to `graph`). With a `cache`, a run
    without a graph is looked up there first and kept there after (its progress line is off). With
    `stop_at_expected`, a spec whose expect: lists violations stops once they are all found. `workers`:
    explore on that many Ray workers (inside engine/cluster.py's `cluster`; the same result)."""
    early = stop_at_expected and use_expect
    symmetry = symmetry if symmetry == "auto" else symmetry in (True, "on")   # one key for on and True
    if cache is None or graph is not None:
        return _verify(path, bounds, limits, graph, progress_enabled, use_expect, early, reduction, symmetry, store,
                       workers=workers)
    key = (str(path), tuple(sorted(bounds.items())), limits, use_expect, early, reduction, symmetry, store)
    run = cache.get(key)
    if run is None:
        run = _verify(path, bounds, limits, None, False, use_expect, early, reduction, symmetry, store, cache, workers)
        cache.put(key, run)
    return run


def expected_stop(system: TransitionSystem, limits: Limits) -> frozenset[str]:
    """The properties whose violations end a run early: those the spec's expect: lists that exploring
    decides (not lock_order or liveness, judged on the explored graph afterwards). Empty, to explore to the end, when
    the spec expects no violation or the user set a stop rule of their own."""
    expect = system.spec.expect
    if expect is None or limits.fail_fast or limits.stop_on:
        return frozenset()
    decided = {p.name for p in system.property_kinds()
               if p.kind != PropertyKind.WAITS_ON_SLOW and not PropertyKind(p.kind).is_liveness}
    return frozenset(expect.violated) & decided


def _verify(path: str, bounds: dict[str, int], limits: Limits, graph: GraphRequest | None, progress_enabled: bool,
            use_expect: bool, early: bool, reduction: str = "none", symmetry: bool | str = False,
            store: str = "full", cache: ExplorationCache | None = None, workers: int = 0) -> Verification:
    from netcheck.model.lang.parse import load_spec
    spec = load_spec(path, bounds)
    stops_at_expected = early and spec.expect is not None and spec.expect.violated and not (
        limits.fail_fast or limits.stop_on)
    if graph is not None or stops_at_expected:
        # every state: a state graph shows them all; a run that stops at the violations it expects wants
        # their shortest traces, which only the full search gives (a reduced one would need it after)
        reduction = "none" if reduction == "auto" else reduction
        symmetry = False if symmetry == "auto" else symmetry
    return verify_system(path, compile_system(spec, reduction, symmetry), limits, graph=graph,
                         progress_enabled=progress_enabled, use_expect=use_expect, early=early, store=store,
                         cache=cache, workers=workers)


def verify_system(path: str, system: TransitionSystem, limits: Limits, *, graph: GraphRequest | None = None,
                  progress_enabled: bool = False, warn: bool | None = None, use_expect: bool = True,
                  early: bool = False, store: str = "full", cache: ExplorationCache | None = None,
                  workers: int = 0) -> Verification:
    """Explore and judge a compiled spec (`path` names it in the report). `warn`: say on stderr when the
    state space keeps growing fast (None: when stderr is a terminal or the progress line is on); `early`:
    stop once every violation the spec's expect: lists is found; `cache`: explorations to reuse and keep;
    `workers`: explore on that many Ray workers."""
    from ..report.build import STOPPED_AT_EXPECTED
    spec = system.spec
    check_stop_on(path, system, limits.stop_on)
    hint = ", ".join(f"--bound {n}={max(0, v - 1)}" for n, v in spec.bounds if v > 1) or "--max-states"
    label = path.rsplit("/", 1)[-1] + (f" ({', '.join(f'{n}={v}' for n, v in spec.bounds)})" if spec.bounds else "")
    progress = ProgressLine(progress_enabled, sys.stderr.isatty() or progress_enabled if warn is None else warn, hint,
                            label)
    stop = expected_stop(system, limits) if early else frozenset()
    report, exp = _judge(path, system, replace(limits, stop_on=stop) if stop else limits, progress, use_expect,
                         bool(stop), store, cache, workers)
    expectation = report.expectation
    if stop and expectation is not None and expectation.met is None and report.stop_reason == STOPPED_AT_EXPECTED:
        # every expected violation exploring decides was found, but not one judged on the whole graph
        # (a lock-order cycle): explore to the end after all
        report, exp = _judge(path, system, limits, progress, use_expect, store=store, cache=cache, workers=workers)
    if graph is not None:
        _write_graph(report, exp, graph)
    return report, exp


def _judge(path: str, system: TransitionSystem, limits: Limits, progress: ProgressLine, use_expect: bool,
           early: bool = False, store: str = "full", cache: ExplorationCache | None = None,
           workers: int = 0) -> Verification:
    """One exploration of `system` within `limits` (kept in, or taken from, `cache`), judged. `early`: the
    stop rule is expected_stop's, and a stop there says so."""
    from ..analyses.retrace import shortest_traces
    from ..engine.explore import explore
    from ..engine.limits import STOPPED_AT_VIOLATION
    from ..engine.store import StoreKind
    from ..report.build import STOPPED_AT_EXPECTED, build_report, report_observers
    key = (path, system.spec.bounds, limits, system.reduction, system.symmetric, store)
    exp = cache.explorations.get(key) if cache is not None else None
    if exp is None:
        exp = explore(system, limits, progress, observers=report_observers, store=StoreKind(store), workers=workers)
        shortest_traces(exp, limits)
        if cache is not None:
            cache.explorations[key] = exp
    progress.clear()
    if early and exp.stop_reason in STOPPED_AT_VIOLATION[1:]:
        exp.stop_reason = STOPPED_AT_EXPECTED
    return build_report(path, exp, use_expect=use_expect), exp


def verify_bmc(path: str, bounds: dict[str, int], depth: int, limits: Limits, use_expect: bool = True) -> SpecReport:
    """Bounded model checking of one spec to `depth` steps (engine/bmc.py), judged (report/build.py); the
    search's --timeout, --fail-fast and --stop-on apply. A spec the engine cannot unroll: every property
    unknown, with the reason."""
    from ..engine.bmc import BmcError, BmcResult, bmc, covered
    from ..report.build import build_bmc_report
    system = load_system(path, bounds)
    check_stop_on(path, system, limits.stop_on)
    try:
        result = bmc(system, depth, limits.timeout, limits.fail_fast, limits.stop_on)
    except BmcError as err:
        result = BmcResult(system, depth=depth, complete=False, stop_reason=str(err))
        result.unknown.update({name: why or str(err) for name, why in covered(system).items()})
    return build_bmc_report(path, result, use_expect)


def verify_bdd(path: str, bounds: dict[str, int], depth: int | None, limits: Limits, use_expect: bool = True
               ) -> SpecReport:
    """The BDD search of one spec (engine/bdd.py) to `depth` steps or its fixpoint, judged (report/build.py);
    --timeout, --fail-fast and --stop-on apply. A spec it cannot encode: every property unknown, with the
    reason."""
    from ..engine.bdd import BddResult, bdd_search
    from ..engine.bmc import BmcError, covered
    from ..report.build import build_bdd_report
    system = load_system(path, bounds)
    check_stop_on(path, system, limits.stop_on)
    try:
        result = bdd_search(system, depth, limits.timeout, limits.fail_fast, limits.stop_on)
    except BmcError as err:
        result = BddResult(system, depth=depth if depth is not None else -1, complete=False, stop_reason=str(err))
        result.unknown.update({name: why or str(err) for name, why in covered(system).items()})
    return build_bdd_report(path, result, use_expect)


def verify_proof(path: str, bounds: dict[str, int], engine: str, depth: int | None, limits: Limits,
                 use_expect: bool = True) -> SpecReport:
    """An unbounded proof attempt on one spec (engine/kinduction.py to `depth`, or engine/pdr.py), judged
    (report/build.py); --timeout, --fail-fast and --stop-on apply. A spec the engines cannot unroll: every
    property unknown, with the reason."""
    from ..engine.bmc import BmcError, covered
    from ..engine.kinduction import kinduction
    from ..engine.pdr import pdr
    from ..engine.symbolic import ProofResult
    from ..report.build import build_proof_report
    system = load_system(path, bounds)
    check_stop_on(path, system, limits.stop_on)
    try:
        if engine == "kind":
            assert depth is not None
            result = kinduction(system, depth, limits.timeout, limits.fail_fast, limits.stop_on)
        else:
            result = pdr(system, limits.timeout, limits.fail_fast, limits.stop_on)
    except BmcError as err:
        result = ProofResult(system, depth=depth or 0, complete=False, stop_reason=str(err), engine=engine)
        result.unknown.update({name: why or str(err) for name, why in covered(system).items()})
    return build_proof_report(path, result, use_expect)


def _write_graph(report: SpecReport, exp: ExplicitResult, graph: GraphRequest) -> None:
    """The requested view of the state graph to `graph.path`, the first counterexample highlighted;
    GraphRefused (and no file) when the view has more nodes than allowed or needs a missing counterexample."""
    from ..analyses.graph_export import described, write_graph
    from ..analyses.state_graph import VIEWS, GraphTooLarge
    highlight = counterexample_ids(report, exp)
    if graph.view == "trace" and not highlight:
        raise GraphRefused(f"--graph-view trace: {report.spec} has no counterexample to show; use "
                           "--graph-view full, pc or locks", report)
    try:
        g = described(exp, graph.view, highlight, cap=graph.max_nodes)
    except GraphTooLarge as err:
        others = [v for v in VIEWS if v != graph.view and (v != "trace" or highlight)]
        raise GraphRefused(f"--graph: the {graph.view} view of {report.spec} has {err.nodes:,} nodes, more than "
                           f"--graph-max-states {err.cap:,}; {graph.path} was not written. Use --graph-view "
                           f"{'|'.join(others)} for a smaller view, or a larger --graph-max-states", report) from None
    write_graph(g, graph.path)


def counterexample_ids(report: SpecReport, exp: ExplicitResult) -> list[int]:
    """The state ids of the report's first counterexample (empty when there is none)."""
    trace = next((p.trace for p in report.properties if p.trace is not None), None)
    if trace is None:
        return []
    return exp.ids_of(trace.states)
