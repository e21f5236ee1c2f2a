"""`netcheck hunt`: a swarm of randomised depth-first searches for configurations too large to explore
whole. It reports what it finds, with traces; finding nothing is not a proof (exit 3), never "holds"."""

from __future__ import annotations

import shutil
import sys
from typing import TYPE_CHECKING

import click

from .options import bound_option, cluster_options, format_option, max_states_option, no_timing_option
from .run import load_system, parse_bounds

if TYPE_CHECKING:
    from netcheck.model.semantics.system import TransitionSystem

    from ..engine.hunt import Goal
    from ..engine.swarm import SwarmResult

UNTIL = ("time", "first", "expected", "all")
HELP_DEPTH_LIMIT = 10_000   # engine/hunt.py DEPTH_LIMIT, named here without importing the engine at start-up


@click.command()
@click.argument("spec", type=click.Path())
@cluster_options
@click.option("--time", "seconds", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
              metavar="SECONDS", help="How long each worker hunts.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, metavar="S",
              help="The seed every worker's seed derives from: the same seed and workers, the same searches.")
@bound_option
@click.option("--depth-limit", type=click.IntRange(min=1), metavar="K",
              help=f"Go at most K steps deep (default {HELP_DEPTH_LIMIT:,}, as SPIN's -m); some workers start "
                   "shallower and go deeper run by run.")
@click.option("--until", type=click.Choice(UNTIL), default="expected", show_default=True,
              help="End early: time: never; first: at the first violation; expected: once every violation the "
                   "spec's expect: lists (of those hunt looks for) is found; all: once every property it looks for "
                   "is violated.")
@max_states_option()
@click.option("--reduce", "reduction", type=click.Choice(["none", "protected"]), default="none", show_default=True,
              help="protected: search the reduced system (docs/semantics.md, 'Reduction'); traces are told in "
                   "full steps.")
@click.option("--symmetry", type=click.Choice(["off", "on"]), default="off", show_default=True,
              help="on: mark one state per symmetry class in the tables (docs/semantics.md, 'Symmetry').")
@format_option(["text", "json"])
@no_timing_option
def hunt(spec: str, workers: int | None, ray_address: str | None, seconds: float, seed: int, bounds: tuple[str, ...],
         depth_limit: int | None, until: str, max_states: int | None, reduction: str, symmetry: str, fmt: str,
         no_timing: bool) -> None:
    """Hunt for violations of SPEC's properties with a swarm of randomised depth-first searches (different
    seeds, depth limits and bitstate tables, as SPIN's swarm verification), for configurations too large to
    explore whole. One worker (the default, without --ray) runs in this process, without Ray; more run on
    Ray. --max-states is each worker's budget. Reports the first violation of each property found, with a
    replayed, shortened trace, then the coverage reached. Ctrl-C ends the hunt with what it found so far.

    Exit 1: a violation was found; 3: nothing found, which is not a proof; 2: invalid spec or usage (Ray
    missing for more than one worker); 4: internal error.
    """
    from ..engine.hunt import DEPTH_LIMIT
    from ..render.hunt import render_hunt_json, render_hunt_text
    from ..report.hunt import HuntSettings, build_hunt_report

    system = load_system(spec, parse_bounds(bounds), reduction, symmetry == "on")
    limit = depth_limit or DEPTH_LIMIT
    goal = _goal(system, until)
    swarm = _swarm(system, workers, ray_address, seed, limit, max_states, seconds, goal)
    settings = HuntSettings(len(swarm.configs), seed, seconds, limit, until, max_states)
    report = build_hunt_report(spec, system, swarm, settings)
    if fmt == "json":
        click.echo(render_hunt_json(report, not no_timing), nl=False)
    else:
        width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
        click.echo(render_hunt_text(report, timing=not no_timing, width=width), nl=False)
    sys.exit(report.exit_code)


def _goal(system: TransitionSystem, until: str) -> Goal:
    """What may end the hunt before its time (--until)."""
    from ..engine.hunt import Goal
    from ..engine.judge import judged
    looked_for = frozenset(judged(system))
    if until == "first":
        return Goal(first=True)
    if until == "all":
        return Goal(props=looked_for)
    expect = system.spec.expect
    if until == "expected" and expect is not None:
        return Goal(props=frozenset(expect.violated) & looked_for)
    return Goal()


def _swarm(system: TransitionSystem, workers: int | None, address: str | None, seed: int, depth_limit: int,
           max_states: int | None, seconds: float, goal: Goal) -> SwarmResult:
    """One worker in this process, or a swarm on Ray (a local cluster, or the one at `address`)."""
    from ..engine.swarm import hunt_here, hunt_on_ray, member_configs
    if address is None and (workers or 1) == 1:
        return hunt_here(system, member_configs(seed, 1, depth_limit, max_states=max_states)[0], seconds, goal)
    from ..engine.cluster import ClusterSpec, cluster, import_ray
    with cluster(ClusterSpec(workers, address)) as n:
        return hunt_on_ray(import_ray(), system, member_configs(seed, n, depth_limit, max_states=max_states),
                           seconds, goal)
