"""`netcheck prove`: proofs a student can read (report/proof.py), printed as text or JSON.

Exit 0: every property asked for is proved; 1: one is violated (its trace printed as verify prints it) or
vacuous (checked on no state: no initial state, or no final state for a final property); 2: invalid spec or
usage (an unknown property, a bad lemma); 3: one is unknown; 4: internal error.
"""

from __future__ import annotations

import sys

import click
from netcheck.model.lang.errors import did_you_mean

from ..engine.vocabulary import ProveEngine
from .options import bound_option, format_option
from .run import load_system, parse_bounds


@click.command()
@click.argument("spec", type=click.Path())
@click.argument("properties", nargs=-1)
@bound_option
@click.option("--time-per-property", "time_per_property", type=click.FloatRange(min=0, min_open=True), default=60.0,
              show_default=True, metavar="SECONDS",
              help="PDR's time budget per property (then k-induction gets as long).")
@click.option("--depth", type=click.IntRange(min=0), default=8, show_default=True, metavar="K",
              help="k-induction's largest k, tried when PDR gives no invariant.")
@click.option("--engine", type=click.Choice([e.value for e in ProveEngine]), default=ProveEngine.AUTO.value,
              show_default=True,
              help="After the lemmas: PDR, then k-induction with Houdini (auto), or one of them alone (kind: no "
                   "PDR time budget, so no answer that depends on the machine's speed).")
@click.option("--lemmas-only", is_flag=True,
              help="Check only the spec's lemmas: with the property, are they inductive? (no PDR, no k-induction)")
@format_option(["text", "json"])
def prove(spec: str, properties: tuple[str, ...], bounds: tuple[str, ...], time_per_property: float, depth: int,
          engine: str, lemmas_only: bool, fmt: str) -> None:
    """Prove PROPERTIES of SPEC (every invariant, final property, assert, lock_discipline and runtime_safety
    when none is named) for every reachable state, without exploring them.

    Per property: the spec's lemmas: with it, checked for inductiveness; then PDR, whose invariant is
    printed in spec syntax and checked again (initiation, consecution, implies the property); then
    k-induction to --depth (--engine picks one of the two). A failed induction is shown as a
    counterexample to induction: where each thread stands and who holds which lock, and whether that
    state is reachable. docs/proofs.md.

    Exit 0: all proved; 1: one violated (with its trace) or vacuous (checked on no state); 2: invalid spec
    or usage; 3: one unknown; 4: internal error.
    """
    from ..render.proof import render_prove_json, render_prove_text
    from ..report.proof import ProveOptions, provable, provable_when_named
    from ..report.proof import prove as prove_spec
    system = load_system(spec, parse_bounds(bounds))
    known, named = provable(system), provable_when_named(system)
    for name in properties:
        if name not in named:
            others = [p.name for p in system.property_kinds()]
            why = "it is not a state or step property the z3 engines decide" if name in others else \
                did_you_mean(name, named)
            raise click.BadParameter(f"no property '{name}' to prove in {spec}; {why} (provable: "
                                     f"{', '.join(named)})", param_hint="PROPERTY")
    options = ProveOptions(time_per_property, depth, lemmas_only, ProveEngine(engine))
    report = prove_spec(spec, system, list(properties) or known, options)
    click.echo(render_prove_json(report) if fmt == "json" else render_prove_text(report), nl=False)
    sys.exit(report.exit_code)
