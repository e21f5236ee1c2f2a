"""The analysis commands: `netcheck locks`, `netcheck slow`, `netcheck overtakes`, `netcheck mutate`,
`netcheck diff`.

They print and exit; the analyses themselves are pure functions in their own modules, imported by the
command that runs them.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from ..engine.limits import Limits
from ..engine.vocabulary import EXIT_INCOMPLETE, EXIT_OK, EXIT_VIOLATED
from .options import (
    MUTANT_MAX_STATES,
    MUTATION_KINDS,
    bound_option,
    format_option,
    jobs_option,
    limit_options,
    max_states_option,
)
from .run import explore_spec, load_system, parse_bounds

if TYPE_CHECKING:
    from netcheck.model.semantics.system import TransitionSystem

    from ..analyses.latency import SlowWaited
    from ..analyses.lockorder import LockOrder
    from ..analyses.waitfor import SlowWitness
    from ..engine.result import ExplicitResult

FORMATS = ("text", "json")


def _header(path: str, exp: ExplicitResult) -> list[str]:
    spec = exp.system.spec
    chain = f" (extends {', '.join(spec.files[1:])})" if len(spec.files) > 1 else ""
    bounds = ", ".join(f"{n}={v}" for n, v in spec.bounds)
    done = "" if exp.complete else f" (INCOMPLETE: {exp.stop_reason})"
    return [f"netcheck: {path}{chain}", f"  bounds: {bounds or 'none'}",
            f"  explored {exp.state_count:,} states, depth {exp.max_depth}{done}"]


# ---------------------------------------------------------------- locks


def locks_text(path: str, exp: ExplicitResult, order: LockOrder) -> str:
    from ..render.lockorder import render_conflict, render_cycle, render_graph, summary, waiver_lines
    lines = _header(path, exp) + ["", f"Lock order (lockdep rules): {summary(order)}", ""]
    lines += render_graph(order)
    waivers = waiver_lines(order)
    if waivers:
        lines += ["", *waivers]
    for cycle in order.cycles:
        lines.append("")
        lines.extend(render_cycle(cycle))
    if order.more_cycles:
        lines += ["", f"... and {order.more_cycles} more strong cycles"]
    for conflict in order.irq:
        lines.append("")
        lines.extend(render_conflict(conflict))
    lines.append("")
    if order.irq and not order.cycles:
        lines.append(f"INTERRUPT-UNSAFE LOCKING: {len(order.irq)} interrupt-safety conflict(s) (exit 1)")
    elif order.cycles:
        never = sum(1 for c in order.cycles if c.gate)
        gated = f", {never} never reached (gated)" if never else ""
        lines.append(f"POTENTIAL DEADLOCK: {len(order.cycles) + order.more_cycles} strong cycle(s){gated} (exit 1)")
    elif order.stale:
        lines.append(f"STALE WAIVER: {len(order.stale)} known cycle(s) not in the lock-order graph (exit 1)")
    elif not exp.complete:
        lines.append("UNKNOWN: no strong cycle among the states explored, but exploration stopped early (exit 3)")
    else:
        known = f" besides {len(order.waived)} known one(s)" if order.waived else ""
        lines.append(f"OK: the lock order has no strong cycle{known} (exit 0)")
    return "\n".join(lines) + "\n"


@click.command("locks")
@click.argument("spec", type=click.Path())
@limit_options(depth=False)
@format_option((*FORMATS, "dot"))
def locks(spec: str, bounds: tuple[str, ...], max_states: int | None, timeout: float | None, fmt: str) -> None:
    """Print SPEC's lock-order graph (lockdep's rules) and every strong cycle; `--format dot` writes the
    graph for Graphviz (`| dot -Tsvg`), the edges of strong cycles in red.

    Exit 0: no cycle (besides the spec's known_cycles:); 1: a strong cycle (a potential deadlock, reached or
    not; a cycle the exploration shows is gated is marked "never reached") or a stale waiver; 2: invalid spec
    or usage; 3: no cycle among the states explored, but exploration stopped early.
    """
    from ..analyses.lockorder import LockDependencies, lock_order
    from ..render.lockorder import to_dot
    from ..render.lockorder import to_json as lock_order_json
    exp = explore_spec(spec, parse_bounds(bounds), Limits(max_states, None, timeout),
                       lambda system: [LockDependencies(system)])
    order = lock_order(exp)
    if fmt == "json":
        data = {"spec": spec, "bounds": dict(exp.system.spec.bounds), "states": exp.state_count,
                "complete": exp.complete, **lock_order_json(order)}
        click.echo(json.dumps(data, indent=2))
    elif fmt == "dot":
        done = "" if exp.complete else f" (INCOMPLETE: {exp.stop_reason})"
        click.echo(to_dot(order, f"{spec}: lock order, {exp.state_count:,} states{done}"), nl=False)
    else:
        click.echo(locks_text(spec, exp, order), nl=False)
    sys.exit(EXIT_VIOLATED if order.failed else EXIT_OK if exp.complete else EXIT_INCOMPLETE)


# ---------------------------------------------------------------- slow


def witness_text(w: SlowWitness, trace: bool) -> list[str]:
    from ..render.text import cpu_table
    lines = [f"  {w.text}", f"    shortest trace: {len(w.trace.steps)} steps"]
    if trace:
        lines.append("")
        lines.extend("  " + row for row in cpu_table(w.trace) or [])
        lines.append("")
    return lines


def _waited_through(exp: ExplicitResult, decls: list[str], procedure: str) -> dict[str, tuple[SlowWaited, ...]]:
    """`slow --during`: per thread declaration that ever stands inside `procedure`, the two counts."""
    from ..analyses.latency import slow_steps_waited
    system = exp.system
    inside = dict(system.env.positions[procedure])
    out: dict[str, tuple[SlowWaited, ...]] = {}
    for decl in decls:
        tids = [t for t in system.threads if t.decl == decl]
        if any(s[t.pcslot] in inside[t.pcslot] for s in exp.store.states for t in tids):
            out[decl] = slow_steps_waited(exp, decl, procedure)
        else:
            out[decl] = ()
    return out


def waited_text(decl: str, procedure: str, pair: tuple[SlowWaited, ...]) -> list[str]:
    """`slow --during` in words, with the run that reaches the most (CPU columns)."""
    from ..render.text import cpu_table
    if not pair:
        return [f"{decl}: never inside {procedure}()"]
    every, direct = pair
    def count(w: SlowWaited) -> str:
        return "unboundedly many" if w.most is None else f"at most {w.most}"
    bound = "" if every.complete else " (in the states explored: a lower bound)"
    lines = [f"{decl}: in {procedure}(), other threads complete {count(every)} slow steps while it is blocked"
             f"{bound}; {count(direct).replace('at most ', '')} when it does not wait behind a queued writer"]
    if every.most != 0 and every.trace is not None:
        lines.append(f"  {', '.join(every.waited)}" + (" (then round again)" if every.most is None else ""))
        lines.append(f"    a run that reaches it: {len(every.trace.steps)} steps"
                     + (f", the cycle from step {every.cycle_start + 1}" if every.most is None else ""))
        lines.append("")
        lines.extend("  " + row for row in cpu_table(every.trace) or [])
    return lines


def waited_json(pair: tuple[SlowWaited, ...]) -> dict | None:
    if not pair:
        return None
    every, direct = pair
    return {"procedure": every.procedure, "most": every.most, "most_not_behind_queued_writer": direct.most,
            "unbounded": every.most is None, "complete": every.complete, "waited": list(every.waited),
            "trace_steps": len(every.trace.steps) if every.trace is not None else 0}


def thread_declarations(system: TransitionSystem, threads: tuple[str, ...]) -> list[str]:
    """The spec's `threads:` entries, sorted; BadParameter (exit 2) for a --thread naming none of them."""
    decls = sorted({t.decl for t in system.threads})
    for name in threads:
        if name not in decls:
            raise click.BadParameter(f"no threads: entry '{name}' (there are: {', '.join(decls)})",
                                     param_hint="--thread")
    return decls


@click.command("slow")
@click.argument("spec", type=click.Path())
@click.option("--thread", "threads", multiple=True, metavar="NAME",
              help="A threads: entry to ask about (repeatable; default: every one).")
@click.option("--all", "every", is_flag=True, help="Every distinct chain, not only the shortest one.")
@click.option("--during", "procedure", metavar="PROCEDURE",
              help="Also count: the most slow steps other threads complete while a thread, inside PROCEDURE "
                   "(e.g. copy_net_ns), is blocked, with a run that reaches it.")
@limit_options(depth=False)
@format_option(FORMATS)
def slow(spec: str, threads: tuple[str, ...], every: bool, procedure: str | None, bounds: tuple[str, ...],
         max_states: int | None, timeout: float | None, fmt: str) -> None:
    """Can a thread of SPEC end up waiting, through lock holders and queued writers, on a thread inside a
    slow step (synchronize_rcu(), rcu_barrier(), a `slow: true` statement)? Shortest witness per thread.

    Exit 0: no thread can; 1: some thread can; 2: invalid spec or usage; 3: exploration stopped early.
    """
    from ..analyses.waitfor import SlowWaits, slow_chains, slow_witnesses
    from ..engine.explore import explore
    from ..render.waits import witness_json
    system = load_system(spec, parse_bounds(bounds))
    decls = thread_declarations(system, threads)
    asked = list(threads) or decls
    if procedure is not None and procedure not in system.env.positions:
        raise click.BadParameter(f"no procedure '{procedure}' in {spec}", param_hint="--during")
    watch = [SlowWaits(system, decl, first_only=not every) for decl in asked]
    exp = explore(system, Limits(max_states, None, timeout), measure_memory=False, observers=watch)
    waited = _waited_through(exp, asked, procedure) if procedure is not None else {}
    answers: dict[str, tuple[SlowWitness, ...]] = {}
    for decl in asked:
        if every:
            answers[decl] = slow_witnesses(exp, decl)
        else:
            first = slow_chains(exp, decl)
            answers[decl] = (first,) if first is not None else ()
    if fmt == "json":
        names = [t.name for t in exp.system.threads]
        data = {"spec": spec, "bounds": dict(exp.system.spec.bounds), "states": exp.state_count,
                "complete": exp.complete,
                "threads": {d: [witness_json(names, w) for w in ws] for d, ws in answers.items()}}
        if procedure is not None:
            data["slow_steps_waited"] = {d: waited_json(pair) for d, pair in waited.items()}
        click.echo(json.dumps(data, indent=2))
    else:
        lines = _header(spec, exp)
        for decl, found in answers.items():
            lines.append("")
            if not found:
                lines.append(f"{decl}: never waits on a slow step"
                             + ("" if exp.complete else " (in the states explored)"))
                continue
            lines.append(f"{decl}: can wait on a slow step")
            for i, w in enumerate(found):
                lines.extend(witness_text(w, trace=i == 0))
        for decl, pair in waited.items():
            lines.append("")
            lines.extend(waited_text(decl, procedure or "", pair))
        click.echo("\n".join(lines) + "\n", nl=False)
    # a witness exits 1 here, though `verify` never fails a run on a waits_on_slow question: `slow` is the
    # question asked on its own, its answer the exit code
    if any(answers.values()):
        sys.exit(EXIT_VIOLATED)
    sys.exit(EXIT_OK if exp.complete else EXIT_INCOMPLETE)


# ---------------------------------------------------------------- overtakes


@click.command("overtakes")
@click.argument("spec", type=click.Path())
@click.option("--thread", "threads", multiple=True, metavar="NAME",
              help="A threads: entry to ask about (repeatable; default: every one).")
@click.option("--trace", "show_trace", is_flag=True,
              help="Print, for each answer above 0, a run that shows it (CPU columns; JSON: its steps).")
@limit_options(depth=False)
@format_option(FORMATS)
def overtakes(spec: str, threads: tuple[str, ...], show_trace: bool, bounds: tuple[str, ...],
              max_states: int | None, timeout: float | None, fmt: str) -> None:
    """Bounded waiting: for each lock acquisition a thread of SPEC waits at, the most times other threads
    take that lock while it waits (it is blocked there, then stays there until it gets the lock), or
    unbounded, with whether the waiter starves (blocked all round the cycle) or loses races it could win.

    Exit 0: answered on the whole state space; 2: invalid spec or usage; 3: exploration stopped early (the
    numbers are lower bounds).
    """
    from ..analyses.overtake import overtakes as overtaken
    from ..engine.explore import explore
    from ..render.overtake import overtakes_json, overtakes_text
    system = load_system(spec, parse_bounds(bounds))
    decls = thread_declarations(system, threads)
    exp = explore(system, Limits(max_states, None, timeout), measure_memory=False)
    answers = {decl: overtaken(exp, decl) for decl in (list(dict.fromkeys(threads)) or decls)}
    if fmt == "json":
        click.echo(json.dumps({"spec": spec, "bounds": dict(exp.system.spec.bounds), "states": exp.state_count,
                               "complete": exp.complete, "overtakes": overtakes_json(answers, show_trace)},
                              indent=2))
    else:
        lines = _header(spec, exp)
        for decl, rows in answers.items():
            lines.append("")
            lines.extend(overtakes_text(decl, rows, show_trace))
        click.echo("\n".join(lines) + "\n", nl=False)
    sys.exit(EXIT_OK if exp.complete else EXIT_INCOMPLETE)


# ---------------------------------------------------------------- mutate


@click.command("mutate")
@click.argument("spec", type=click.Path())
@bound_option
@click.option("--kind", "kinds", multiple=True, type=click.Choice(MUTATION_KINDS),
              help="Only these mutation kinds (repeatable; default: all).")
@jobs_option
@max_states_option(MUTANT_MAX_STATES,
                   "State cap per mutant (a mutant hitting it without a violation is 'unknown').")
@click.option("--list", "list_only", is_flag=True, help="List the mutants without verifying them.")
@format_option(FORMATS)
def mutate(spec: str, bounds: tuple[str, ...], kinds: tuple[str, ...], jobs: int | None, max_states: int,
           list_only: bool, fmt: str) -> None:
    """Weaken SPEC's locking one way at a time and verify every mutant in parallel.

    Mutations: remove an acquire/release pair, down_write -> down_read, a killable acquisition made
    unconditional, two nested acquisitions swapped, a release moved one statement earlier. Each mutant is
    caught (by which property, shortest counterexample length), survived, or invalid. A survivor means
    the lock is not needed for the stated properties at these bounds, or the properties are too weak.
    Exit 0 when done, 2 for an invalid spec or usage.
    """
    from ..analyses import mutate as mutate_mod
    from ..render import mutate as mutate_view
    bound_values = parse_bounds(bounds)
    loaded = load_system(spec, bound_values).spec
    if list_only:
        for m in mutate_mod.mutations(loaded):
            if not kinds or m.kind in kinds:
                click.echo(f"{m.location:<28} {m.kind:<14} {m.description}")
        sys.exit(EXIT_OK)
    run = mutate_mod.run_mutants(spec, bound_values, jobs, max_states, kinds or MUTATION_KINDS)
    if fmt == "json":
        click.echo(json.dumps(mutate_view.to_json(run), indent=2))
    else:
        click.echo(mutate_view.render_text(run), nl=False)
    sys.exit(EXIT_OK)


# ---------------------------------------------------------------- diff


@click.command("diff")
@click.argument("spec_a", type=click.Path())
@click.argument("spec_b", type=click.Path())
@limit_options(depth=False)
@click.option("--chains", is_flag=True, help="List every chain to a slow step (+ new, - gone, = in both).")
@format_option(FORMATS)
def diff(spec_a: str, spec_b: str, bounds: tuple[str, ...], max_states: int | None, timeout: float | None,
         chains: bool, fmt: str) -> None:
    """Compare two specs under the same bounds: verdicts that change, lock-order edges that appear or
    vanish, which threads can wait on slow steps, and the state counts.

    Exit 0: no verdict regresses; 1: a property that holds in SPEC_A is violated or vacuous in SPEC_B;
    2: invalid spec or usage.
    """
    from ..render import diff as diff_view
    from ..report import diff as diff_mod
    bound_values = parse_bounds(bounds)
    for path in (spec_a, spec_b):   # both valid before either is explored
        load_system(path, bound_values)
    a, b = diff_mod.summarize_both(spec_a, spec_b, bound_values, Limits(max_states, None, timeout))
    result = diff_mod.compare(a, b)
    if fmt == "json":
        click.echo(json.dumps(diff_view.to_json(result), indent=2))
    else:
        click.echo(diff_view.render_text(result, chains), nl=False)
    sys.exit(EXIT_VIOLATED if result.regressions else EXIT_OK)
