"""`netcheck verify` (explore and judge specs, in every output format) and `netcheck check` (load only)."""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click
from netcheck.model.lang.errors import SpecError

from ..engine.limits import Limits
from ..engine.vocabulary import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, worst_exit_code
from ..render.formats import FORMATS, RenderOptions
from .options import (
    GRAPH_SUFFIXES,
    GRAPH_VIEWS,
    bound_option,
    cluster_options,
    cluster_spec,
    format_option,
    jobs_option,
    limit_options,
    no_timing_option,
    output_option,
)
from .parallel import VerifyJob, verify_all
from .run import (
    GRAPH_MAX_STATES,
    ExplorationCache,
    GraphRefused,
    GraphRequest,
    atomic_write,
    expand_specs,
    load_system,
    parse_bounds,
    shared_cache,
)

if TYPE_CHECKING:
    from ..report.build import SpecReport


@click.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path())
@limit_options()
@click.option("--max-memory", type=click.FloatRange(min=1), metavar="MB",
              help="Stop when the process (with --workers: it and its workers together) uses this much memory "
                   "(verdict unknown).")
@format_option(sorted(FORMATS))
@output_option("Write the chosen format to FILE (atomically); the terminal gets the text summary.")
@click.option("--trace", "trace_style", type=click.Choice(["cpu", "steps"]), default="cpu", show_default=True,
              help="Counterexamples as CPU columns or as a numbered list of steps.")
@click.option("--width", type=click.IntRange(min=40), metavar="N",
              help="Fit CPU-column counterexamples in N columns (default: the terminal's width on a terminal, "
                   "else no limit).")
@click.option("--graph", "graph_file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help=f"Write the state graph ({', '.join(GRAPH_SUFFIXES)}), as --graph-view says.")
@click.option("--graph-view", type=click.Choice(GRAPH_VIEWS),
              help="With --graph (default full): full: every state; trace: the first counterexample and its "
                   "neighbours; pc: states merged by thread positions (which code positions follow which); "
                   "locks: states merged by lock table; code: per thread declaration, which statements follow "
                   "which (small on any spec).")
@click.option("--graph-max-states", "graph_max", type=click.IntRange(min=1), default=GRAPH_MAX_STATES,
              show_default=True, metavar="N",
              help="Refuse (exit 2, nothing written) a --graph view with more nodes than this.")
@click.option("--reduce", "reduction", type=click.Choice(["auto", "none", "protected"]), default="auto",
              show_default=True,
              help="protected: run each step on lock-protected data or locals together with its thread's "
                   "previous step (the same verdicts from fewer states; the counterexamples and witnesses come "
                   "from a second, unreduced search that stops once it has found them all, so they stay "
                   "shortest); none: every interleaving of every step; auto: protected, but none for a spec "
                   "with liveness properties, with --graph, or when the run stops at the violations expect: "
                   "lists. docs/semantics.md, 'Reduction'.")
@click.option("--symmetry", type=click.Choice(["auto", "off", "on"]), default="auto", show_default=True,
              help="on: store one state per class of states that differ only by a permutation of the elements "
                   "of an entity the spec treats alike (the report says which, and what breaks it for the "
                   "others); liveness is then unknown; auto: on where some entity is symmetric, but off where "
                   "--reduce auto is none. docs/semantics.md, 'Symmetry'.")
@click.option("--store", "store", type=click.Choice(["full", "hash"]), default="full", show_default=True,
              help="hash: keep a 64-bit fingerprint of each state instead of the state (about 40 % of the memory; "
                   "states are replayed when a trace needs them); the report gives the probability that a "
                   "collision hid a state. docs/semantics.md, 'Fingerprint store'.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first violation (other verdicts: unknown).")
@click.option("--stop-on", "stop_on", multiple=True, metavar="PROPERTY",
              help="Stop as soon as this property is violated, or this reachable: question is reached (repeat: once "
                   "all are); other verdicts: unknown. With --engine bmc, only these are looked for (a smaller "
                   "question at each depth).")
@click.option("--explore-all", is_flag=True,
              help="Explore to the end even when a spec's expect: violations are all found (by default the "
                   "run stops there and the other verdicts are unknown).")
@click.option("--coverage", "show_coverage", is_flag=True,
              help="List every statement and branch with how often reachable transitions ran it (by default "
                   "only a warning names the first few never run).")
@click.option("--strict-coverage", is_flag=True,
              help="Exit 1 when a complete run leaves a statement never run, even if every property holds.")
@no_timing_option
@click.option("--quiet", "-q", is_flag=True, help="Print only one summary line per spec.")
@click.option("--verbose", "-v", is_flag=True, help="Print progress even when not on a terminal.")
@click.option("--ignore-expect", is_flag=True,
              help="Judge the verdicts alone, as if the specs had no expect: (a bug spec then exits 1).")
@jobs_option
@cluster_options
@click.option("--engine", type=click.Choice(["explicit", "bmc", "bdd", "kind", "pdr"]), default="explicit",
              show_default=True,
              help="explicit: explore every reachable state; bmc: bounded model checking with z3 to --depth steps "
                   "(violations found are real and shortest; none found is 'bounded', exit 3, never 'holds'); "
                   "bdd: the reachable states as BDDs, layer by layer (shortest violations; at the fixpoint a "
                   "proof; needs netcheck[bdd]); "
                   "kind: k-induction to --depth (a proof, a real counterexample, or unknown); pdr: z3's Spacer "
                   "(a re-checked inductive invariant, a real counterexample, or unknown). docs/analyses.md, "
                   "'Bounded model checking' and 'Proofs'.")
@click.option("--depth", type=click.IntRange(min=0), metavar="K",
              help="With --engine bmc: check every path of up to K steps; with --engine kind: the largest k tried "
                   "(required for both); with --engine bdd: at most K layers (default: until the fixpoint).")
@click.option("--watch", is_flag=True,
              help="Verify again whenever a spec file (or a file it extends) changes, until Ctrl-C (exit 130).")
def verify(specs: tuple[str, ...], bounds: tuple[str, ...], max_states: int | None, max_depth: int | None,
           timeout: float | None, max_memory: float | None, fmt: str, output: Path | None, trace_style: str,
           width: int | None, graph_file: Path | None, graph_view: str | None, graph_max: int, reduction: str,
           symmetry: str, store: str, fail_fast: bool,
           stop_on: tuple[str, ...], explore_all: bool, show_coverage: bool, strict_coverage: bool, no_timing: bool,
           quiet: bool, verbose: bool, ignore_expect: bool, jobs: int | None, workers: int | None,
           ray_address: str | None, engine: str, depth: int | None, watch: bool) -> None:
    """Explore every interleaving of each SPEC (a file, or a directory of *.yaml and *.yml) and check its
    properties. A spec whose expect: lists violations stops once they are all found (--explore-all: to
    the end); several specs are verified in parallel (--jobs), reported in the order given. With
    --workers or --ray, each spec's search is split among Ray workers, with the same states, verdicts and
    counterexamples as in one process (docs/scaling.md).

    Exit 0: every property holds on the complete state space (a spec with expect: gets exactly the
    expected verdicts); 1: a property is violated or vacuous (or the verdicts differ from expect:, or,
    with --strict-coverage, a statement never runs); 2: invalid spec or usage; 3: incomplete (a limit
    was hit, nothing violated); 4: internal error; 130: interrupted (--watch: how it ends).
    """
    bound_values = parse_bounds(bounds)
    paths = expand_specs(specs)
    graph = _graph_request(graph_file, graph_view, graph_max, len(paths))
    _check_engine(engine, depth, graph, reduction, max_states, max_depth, max_memory, show_coverage or strict_coverage)
    if symmetry == "on" and (engine != "explicit" or graph is not None):
        raise click.BadParameter("the explicit search stores symmetric states once; a state graph (--graph) and "
                                 "the z3 engines need every state", param_hint="--symmetry on")
    if store == "hash" and (engine != "explicit" or graph is not None):
        raise click.BadParameter("it stores the explicit search's states as fingerprints; a state graph (--graph) "
                                 "needs every state, and the z3 engines store none", param_hint="--store hash")
    on_ray = cluster_spec(workers, ray_address)
    if on_ray is not None and (engine != "explicit" or graph is not None or jobs is not None):
        used = "--engine " + engine if engine != "explicit" else "--graph" if graph is not None else "--jobs"
        raise click.BadParameter(f"it splits one explicit search among workers; {used} does not go with it",
                                 param_hint="--workers/--ray")
    limits = Limits(max_states, max_depth, timeout, fail_fast, max_memory, frozenset(stop_on))
    on_terminal = sys.stdout.isatty()
    if width is None and on_terminal:
        width = shutil.get_terminal_size().columns
    options = RenderOptions(trace_style, not no_timing, 0 if quiet else 1,
                            on_terminal and "NO_COLOR" not in os.environ, len(paths) > 1, show_coverage,
                            width=width)
    job = VerifyJob(bound_values, limits, not ignore_expect, not explore_all, reduction, symmetry, engine,
                    depth, store, on_ray)
    progress = verbose or sys.stderr.isatty()

    if not watch:
        sys.exit(_verify_and_print(paths, job, graph, progress, jobs, shared_cache(), options, fmt, output,
                                   strict_coverage)[0])
    from .watch import watch as watch_loop
    from .watch import watched_specs

    def run() -> tuple[int, set[str]]:   # a directory is read again each time: new specs join
        return _verify_and_print(watched_specs(specs), job, graph, progress, jobs, None, options, fmt, output,
                                 strict_coverage)
    watch_loop(run, lambda: set(watched_specs(specs)))


def _check_engine(engine: str, depth: int | None, graph: GraphRequest | None, reduction: str,
                  max_states: int | None, max_depth: int | None, max_memory: float | None, coverage: bool) -> None:
    """--depth goes with --engine bmc or kind (and is required there); what only the explicit search has is
    refused by the z3 engines."""
    if engine in ("explicit", "pdr"):
        if depth is not None:
            why = "the explicit search limits depth with --max-depth" if engine == "explicit" else "PDR has no depth"
            raise click.BadParameter(f"it needs --engine bmc or kind ({why})", param_hint="--depth")
        if engine == "explicit":
            return
    elif depth is None and engine != "bdd":
        raise click.BadParameter(f"--engine {engine} needs --depth K (every path of up to K steps is checked)",
                                 param_hint="--depth")
    refused = [name for name, used in (("--graph", graph is not None), ("--reduce", reduction == "protected"),
                                       ("--max-states", max_states is not None), ("--max-depth", max_depth is not None),
                                       ("--max-memory", max_memory is not None), ("--coverage", coverage)) if used]
    if refused:
        raise click.BadParameter(f"{refused[0]} belongs to the explicit search", param_hint=f"--engine {engine}")


def _graph_request(path: Path | None, view: str | None, max_nodes: int, specs: int) -> GraphRequest | None:
    """The --graph options checked: a known suffix, a single spec, no view without a file."""
    if path is None:
        if view is not None:
            raise click.BadParameter("it needs --graph FILE",
                                     param_hint="--graph-view")
        return None
    if path.suffix.lower() not in GRAPH_SUFFIXES:
        raise click.BadParameter(f"use a file ending in {', '.join(GRAPH_SUFFIXES)}", param_hint="--graph")
    if specs > 1:
        raise click.BadParameter("--graph takes a single SPEC", param_hint="--graph")
    return GraphRequest(path, view or "full", max_nodes)


def _verify_and_print(paths: list[str], job: VerifyJob, graph: GraphRequest | None, progress: bool, jobs: int | None,
                      cache: ExplorationCache | None, options: RenderOptions, fmt: str, output: Path | None,
                      strict_coverage: bool) -> tuple[int, set[str]]:
    """Verify and print the specs once: the exit code, and every file the specs were read from."""
    reports: list[SpecReport] = []
    errors = False
    files = set(paths)
    refused = None
    try:
        for path, outcome in verify_all(paths, job, graph, progress, jobs, cache):
            if isinstance(outcome, SpecError):   # reported, and the other specs still run
                errors = True
                files.update(d.span.file for d in outcome.diagnostics)   # an extended file may be the one to fix
                click.echo(str(outcome), err=True)
                options = options.with_spec_error(path, outcome)   # junit/sarif report spec errors as results
                continue
            reports.append(replace(outcome, strict_coverage=strict_coverage))
            if outcome.stop_reason == "interrupted":
                break
    except GraphRefused as err:   # the verdicts all the same, then why there is no graph (exit 2)
        refused = err
        reports.append(replace(err.report, strict_coverage=strict_coverage))
    _print(reports, options, fmt, output)
    files.update(f for r in reports for f in r.files)
    if refused is not None:
        click.echo(f"netcheck: {refused.message}", err=True)
        return EXIT_USAGE, files
    if reports and reports[-1].stop_reason == "interrupted":
        click.echo("netcheck: interrupted; the result above is partial", err=True)
        return EXIT_INTERRUPTED, files
    codes = [r.exit_code for r in reports] + ([EXIT_USAGE] if errors else [])
    return worst_exit_code(codes), files


def _print(reports: list[SpecReport], options: RenderOptions, fmt: str, output: Path | None) -> None:
    """The reports in `fmt`, on stdout or to `output` (then the text summary on stdout)."""
    anything = bool(reports) or bool(options.spec_errors and fmt in ("junit", "sarif"))
    if output is not None:
        if anything:
            atomic_write(output, FORMATS[fmt](reports, options))
        quiet = RenderOptions(options.trace_style, options.timing, 0, options.color)
        click.echo(FORMATS["text"](reports, quiet), nl=False)
    elif anything:
        click.echo(FORMATS[fmt](reports, options), nl=False)


@click.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path())
@bound_option
@click.option("--timing", is_flag=True, help="Also print how long loading and compiling each spec took.")
def check(specs: tuple[str, ...], bounds: tuple[str, ...], timing: bool) -> None:
    """Validate each SPEC (parse, type-check, compile) without exploring it."""
    bound_values = parse_bounds(bounds)
    failed = False
    for path in expand_specs(specs):
        started = time.perf_counter()
        try:
            system = load_system(path, bound_values)
        except SpecError as err:
            failed = True
            click.echo(str(err), err=True)
            continue
        took = f", {time.perf_counter() - started:.2f} s" if timing else ""
        click.echo(f"{path}: ok ({len(system.threads)} threads, {len(system.layout.slots)} state slots, "
                   f"{len(system.property_kinds())} properties{took})")
    sys.exit(EXIT_USAGE if failed else EXIT_OK)
