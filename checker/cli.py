"""The `netcheck` command line: the only place that prints and sets exit codes."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import click
from netcheck.model.errors import SpecError
from netcheck.model.parse import load_spec
from netcheck.model.system import TransitionSystem

from . import __version__
from .engine.explore import explore
from .engine.limits import Limits, ProgressInfo
from .engine.result import ExplicitResult
from .engine.verdicts import InternalError
from .formats import FORMATS, RenderOptions
from .graph import FORMATS as GRAPH_FORMATS
from .graph import write_graph
from .report import EXIT_INTERNAL, EXIT_USAGE, SpecReport, build_report, report_observers

EXIT_INTERRUPTED = 130


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
    """Files as given; a directory stands for every *.yaml below it, in sorted order."""
    out: list[str] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            found = sorted(str(f) for f in p.rglob("*.yaml") if f.is_file())
            if not found:
                raise click.BadParameter(f"no *.yaml files under {path}", param_hint="SPECS")
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


class ProgressLine:
    """A progress line on stderr once an exploration runs longer than two seconds (terminals only),
    and a warning when the frontier keeps growing fast."""

    def __init__(self, enabled: bool, warn: bool, bounds_hint: str):
        self.enabled = enabled
        self.warn = warn
        self.bounds_hint = bounds_hint
        self.shown = False
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
        self.shown = True
        rate = info.states / info.seconds if info.seconds else 0
        click.echo(f"\r  {info.states:,} states, depth {info.depth}, {rate:,.0f} states/s ...", err=True, nl=False)

    def clear(self) -> None:
        if self.shown:
            click.echo("\r" + " " * 70 + "\r", err=True, nl=False)
            self.shown = False


def check_stop_on(path: str, system: TransitionSystem, names: frozenset[str]) -> None:
    """--stop-on names properties that exploring decides (not lock_order or waits_on_slow: they are
    answered from the whole explored graph)."""
    known = [name for name, kind, _, _ in system.property_kinds() if kind != "waits_on_slow"]
    unknown = sorted(names - set(known))
    if unknown:
        raise click.BadParameter(f"{path} has no property '{unknown[0]}' that exploring can violate; it has: "
                                 f"{', '.join(known)}", param_hint="--stop-on")


def verify_one(path: str, bounds: dict[str, int], limits: Limits, graph: Path | None,
               progress_enabled: bool, use_expect: bool = True) -> tuple[SpecReport, ExplicitResult]:
    spec = load_spec(path, bounds)
    system = TransitionSystem(spec)
    check_stop_on(path, system, limits.stop_on)
    hint = ", ".join(f"--bound {n}={max(0, v - 1)}" for n, v in spec.bounds if v > 1) or "--max-states"
    progress = ProgressLine(progress_enabled, sys.stderr.isatty() or progress_enabled, hint)
    exp = explore(system, limits, progress, observers=report_observers(system))
    progress.clear()
    report = build_report(path, exp, use_expect=use_expect)
    if graph is not None:
        violated = next((p for p in report.properties if p.trace is not None), None)
        highlight = None
        if violated is not None and violated.trace is not None:
            ids = (exp.store.id_of(s) for s in violated.trace.states)
            highlight = [sid for sid in ids if sid is not None]
        write_graph(exp, graph, highlight)
    return report, exp


class Commands(click.Group):
    """The command group: any command failing with an unexpected exception is a bug in netcheck, reported
    as an internal error (exit 4) without a traceback, never as a verdict."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise   # usage errors (exit 2) and the commands' own exits
        except InternalError as err:
            click.echo(f"netcheck: internal error: {err}", err=True)
            sys.exit(EXIT_INTERNAL)
        except Exception as err:  # noqa: BLE001 - a bug in netcheck: say so, never a traceback
            internal_error(err)
            raise   # not reached: internal_error exits


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="netcheck")
def main() -> None:
    """Model-check kernel locking protocols written as YAML specs."""


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path())
@click.option("--bound", "bounds", multiple=True, metavar="NAME=N",
              help="Override an entity or group size (repeat, or NAME=N,NAME=N).")
@click.option("--max-states", type=click.IntRange(min=1), help="Stop after this many states (verdict unknown).")
@click.option("--max-depth", type=click.IntRange(min=1), help="Stop beyond this depth (verdict unknown).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Stop after this long (verdict unknown).")
@click.option("--max-memory", type=click.FloatRange(min=1), metavar="MB",
              help="Stop when the process uses this much memory (verdict unknown).")
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default="text", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write the chosen format to FILE (atomically); the terminal gets the text summary.")
@click.option("--trace", "trace_style", type=click.Choice(["cpu", "steps"]), default="cpu", show_default=True,
              help="Counterexamples as CPU columns or as a numbered list of steps.")
@click.option("--graph", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help=f"Write the state graph ({', '.join(GRAPH_FORMATS)}).")
@click.option("--fail-fast", is_flag=True, help="Stop at the first violation (other verdicts: unknown).")
@click.option("--stop-on", "stop_on", multiple=True, metavar="PROPERTY",
              help="Stop as soon as this property is violated (repeat: once all are); other verdicts: unknown.")
@click.option("--coverage", "show_coverage", is_flag=True,
              help="List every statement and branch with how often reachable transitions ran it (by default "
                   "only a warning names the first few never run).")
@click.option("--strict-coverage", is_flag=True,
              help="Exit 1 when a complete run leaves a statement never run, even if every property holds.")
@click.option("--no-timing", is_flag=True, help="Leave out timings and memory (for byte-identical output).")
@click.option("--quiet", "-q", is_flag=True, help="Print only one summary line per spec.")
@click.option("--verbose", "-v", is_flag=True, help="Print progress even when not on a terminal.")
@click.option("--ignore-expect", is_flag=True,
              help="Judge the verdicts alone, as if the specs had no expect: (a bug spec then exits 1).")
def verify(specs: tuple[str, ...], bounds: tuple[str, ...], max_states: int | None, max_depth: int | None,
           timeout: float | None, max_memory: float | None, fmt: str, output: Path | None, trace_style: str,
           graph: Path | None, fail_fast: bool, stop_on: tuple[str, ...], show_coverage: bool, strict_coverage: bool,
           no_timing: bool, quiet: bool, verbose: bool, ignore_expect: bool) -> None:
    """Explore every interleaving of each SPEC (a file, or a directory of *.yaml) and check its properties.

    Exit 0: every property holds on the complete state space (a spec with expect: gets exactly the
    expected verdicts); 1: a property is violated or vacuous (or the verdicts differ from expect:, or,
    with --strict-coverage, a statement never runs); 2: invalid spec or usage; 3: incomplete (a limit
    was hit, nothing violated); 4: internal error; 130: interrupted.
    """
    bound_values = parse_bounds(bounds)
    paths = expand_specs(specs)
    if graph is not None and graph.suffix.lower() not in GRAPH_FORMATS:
        raise click.BadParameter(f"use a file ending in {', '.join(GRAPH_FORMATS)}", param_hint="--graph")
    if graph is not None and len(paths) > 1:
        raise click.BadParameter("--graph takes a single SPEC", param_hint="--graph")
    limits = Limits(max_states, max_depth, timeout, fail_fast, max_memory, frozenset(stop_on))
    on_terminal = sys.stdout.isatty()
    options = RenderOptions(trace_style, not no_timing, 0 if quiet else 1,
                            on_terminal and "NO_COLOR" not in os.environ, len(paths) > 1, show_coverage)
    reports: list[SpecReport] = []
    errors = False
    interrupted = False
    for path in paths:
        try:
            report, exp = verify_one(path, bound_values, limits, graph, verbose or sys.stderr.isatty(),
                                     not ignore_expect)
            reports.append(replace(report, strict_coverage=strict_coverage))
            if exp.stop_reason == "interrupted":
                interrupted = True
                break
        except SpecError as err:
            errors = True
            click.echo(str(err), err=True)
            options = options.with_spec_error(path, err)   # junit/sarif report spec errors as results
        except InternalError as err:
            click.echo(f"netcheck: internal error: {err}", err=True)
            sys.exit(EXIT_INTERNAL)
        except click.ClickException:
            raise   # a usage error found once the spec is loaded (--stop-on): exit 2
        except Exception as err:  # noqa: BLE001 - a bug in netcheck: say so, never a traceback
            internal_error(err)
    if output is not None:
        if reports or (options.spec_errors and fmt in ("junit", "sarif")):
            atomic_write(output, FORMATS[fmt](reports, options))
        click.echo(FORMATS["text"](reports, RenderOptions(trace_style, not no_timing, 0, options.color)), nl=False)
    elif reports or (options.spec_errors and fmt in ("junit", "sarif")):
        click.echo(FORMATS[fmt](reports, options), nl=False)
    if interrupted:
        click.echo("netcheck: interrupted; the result above is partial", err=True)
        sys.exit(EXIT_INTERRUPTED)
    codes = [r.exit_code for r in reports] + ([EXIT_USAGE] if errors else [])
    sys.exit(worst_exit_code(codes))


def internal_error(err: Exception) -> None:
    """A bug in netcheck, not in the spec: exit 4 (NETCHECK_DEBUG=1 shows the Python traceback)."""
    if os.environ.get("NETCHECK_DEBUG"):
        raise err
    click.echo(f"netcheck: internal error: {type(err).__name__}: {err} "
               "(a bug in netcheck; NETCHECK_DEBUG=1 shows where)", err=True)
    sys.exit(EXIT_INTERNAL)


def worst_exit_code(codes: list[int]) -> int:
    """Violations dominate, then bad input, then incomplete runs."""
    for code in (1, 2, 3):
        if code in codes:
            return code
    return 0


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path())
@click.option("--bound", "bounds", multiple=True, metavar="NAME=N",
              help="Override an entity or group size (repeat, or NAME=N,NAME=N).")
def check(specs: tuple[str, ...], bounds: tuple[str, ...]) -> None:
    """Validate each SPEC (parse, type-check, compile) without exploring it."""
    bound_values = parse_bounds(bounds)
    failed = False
    for path in expand_specs(specs):
        try:
            started = time.perf_counter()
            system = TransitionSystem(load_spec(path, bound_values))
            click.echo(f"{path}: ok ({len(system.threads)} threads, {len(system.layout.slots)} state slots, "
                       f"{len(system.property_kinds())} properties, {time.perf_counter() - started:.2f} s)")
        except SpecError as err:
            failed = True
            click.echo(str(err), err=True)
        except Exception as err:  # noqa: BLE001
            internal_error(err)
    sys.exit(EXIT_USAGE if failed else 0)


from .analysis_commands import register_analysis_commands  # noqa: E402 - registers on `main`

register_analysis_commands(main)

from .report_commands import register_report_commands  # noqa: E402 - registers explain, report on `main`

register_report_commands(main)

if __name__ == "__main__":  # pragma: no cover
    main()
