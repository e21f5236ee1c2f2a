"""`netcheck prove` as text and JSON: per property its status, the invariant in spec syntax with the three
checks, the lemmas' checks, and counterexamples to induction as thread positions and a lock table."""

from __future__ import annotations

import json

from ..engine.lemmas import Check
from ..engine.vocabulary import CheckStatus, ProofStatus
from ..report.proof import CtiView, LemmaCheck, PropertyProof, ProveReport, StateView
from .json import property_object
from .text import violation_text

CHECK_NAMES = {"initiation": "initiation", "consecution": "consecution", "safety": "implies the property"}
HOW = {"lemmas": "by the lemmas", "pdr": "by PDR (z3 Spacer)", "kind": "by k-induction",
       "houdini": "by Houdini (facts read off reachable states)"}


def checks_summary(checks: tuple[Check, ...]) -> list[tuple[str, str]]:
    """(check, passed | failed: CONJUNCTS | unknown: CONJUNCTS) per kind, in order."""
    out = []
    for kind, title in CHECK_NAMES.items():
        own = [c for c in checks if c.kind == kind]
        bad = [c for c in own if c.status is not CheckStatus.PASSED]
        if not bad:
            out.append((title, f"passed ({len(own)} quer{'y' if len(own) == 1 else 'ies'})"))
        else:
            status = "failed" if any(c.status is CheckStatus.FAILED for c in bad) else "unknown"
            out.append((title, f"{status}: " + ", ".join(c.conjunct for c in bad)))
    return out


def state_lines(view: StateView, indent: str) -> list[str]:
    width = max((len(t) for t, _, _ in view.positions), default=0)
    values = view.locals or tuple(() for _ in view.positions)
    out = [f"{indent}{t.ljust(width)}  at {p}" + (f": {s}" if s else "") +
           (f"  [{', '.join(f'{n} = {v}' for n, v in mine)}]" if mine else "")
           for (t, p, s), mine in zip(view.positions, values)]
    out.append(f"{indent}locks: " + ("; ".join(f"{lk}: {row}" for lk, row in view.locks) or "all free"))
    if view.shared:
        out.append(f"{indent}shared: " + ", ".join(f"{n} = {v}" for n, v in view.shared))
    return out


def cti_lines(cti: CtiView, indent: str = "  ") -> list[str]:
    if cti.kind == "safety":
        head = "a state where every conjunct holds and the property is broken (or a step from it breaks it)"
    elif cti.kind == "consecution":
        head = f"a state where every conjunct holds, and a step to one where {cti.conjunct} does not"
    else:
        head = f"{len(cti.states)} states, each a step from the one before, the property broken in the last"
    out = [f"{indent}Counterexample to induction: {head}.",
           f"{indent}Its first state is {cti.reachable}."]
    for n, view in enumerate(cti.states, 1):
        out.append(f"{indent}  state {n}:")
        out.extend(state_lines(view, indent + "    "))
    return out


def _lemma_lines(lemmas: LemmaCheck) -> list[str]:
    verdict = "inductive" if lemmas.inductive else "not inductive"
    out = [f"  The lemmas with the property: {verdict}"]
    out.extend(f"    {name.ljust(22)} {status}" for name, status in checks_summary(lemmas.checks))
    if lemmas.cti is not None:
        out.extend(cti_lines(lemmas.cti, "  "))
    return out


def property_text(p: PropertyProof) -> list[str]:
    if p.status is ProofStatus.VIOLATED and p.violation is not None:
        return [f"{p.name}: VIOLATED (found {HOW.get(p.engine, p.engine)}; the trace replays)",
                *["  " + line if line else "" for line in violation_text(p.violation).rstrip("\n").split("\n")]]
    if p.status is ProofStatus.PROVED:
        how = HOW.get(p.engine, p.engine) + (f" at k = {p.k}" if p.engine == "kind" else "")
        out = [f"{p.name}: PROVED {how}"]
    else:
        out = [f"{p.name}: {p.status.upper()}"]
    if p.lemmas is not None and (p.engine != "lemmas" or p.status is not ProofStatus.PROVED):
        out.extend(_lemma_lines(p.lemmas))
    if p.invariant or p.unnamed or p.with_properties:
        size = len(p.invariant) + len(p.unnamed) + len(p.with_properties)
        out.append(f"  Inductive invariant ({size} conjunct{'s' if size != 1 else ''}, with the property):")
        out.extend(f"    {c}" for c in p.invariant)
        if p.unnamed:
            out.append(f"    and {len(p.unnamed)} in z3's notation (over state spec syntax cannot name, such as RCU "
                       "grace periods, or that its text would not say exactly):")
            out.extend(f"    {c}" for c in p.unnamed)
        if p.with_properties:
            many = len(p.with_properties) != 1
            out.append(f"    and {'these' if many else 'this'} other propert{'ies' if many else 'y'}, as the spec "
                       f"states {'them' if many else 'it'} (its step needs {'them' if many else 'it'}; checked with "
                       "the rest):")
            out.extend(f"    {q}" for q in p.with_properties)
    elif p.checks:
        out.append("  Inductive by itself, with the well-formedness facts (no other conjunct needed)")
    if p.checks:
        out.append("  Checked again with a plain z3 solver:")
        out.extend(f"    {name.ljust(22)} {status}" for name, status in checks_summary(p.checks))
    if p.engine == "kind" and p.status is ProofStatus.PROVED:
        out.append("  (k-induction proves it without a one-state invariant: none to show)")
    if p.reason:
        out.append(f"  Why: {p.reason}")
    if p.cti is not None:
        out.extend(cti_lines(p.cti))
    return out


def render_prove_text(report: ProveReport) -> str:
    out = [f"netcheck prove {report.spec}"]
    if report.lemmas:
        out.append("  lemmas: " + ", ".join(name for name, _ in report.lemmas))
    for p in report.properties:
        out.append("")
        out.extend(property_text(p))
    counts = {s: sum(1 for p in report.properties if p.status is s) for s in ProofStatus}
    out.append("")
    out.append(", ".join(f"{n} {s.value}" for s, n in counts.items() if n) or "no property to prove")
    return "\n".join(out) + "\n"


def _state(view: StateView) -> dict:
    values = view.locals or tuple(() for _ in view.positions)
    return {"threads": [{"thread": t, "at": p, "statement": s or None, "locals": dict(mine)}
                        for (t, p, s), mine in zip(view.positions, values)],
            "locks": dict(view.locks), "shared": dict(view.shared)}


def _cti(cti: CtiView | None) -> dict | None:
    if cti is None:
        return None
    return {"kind": cti.kind, "fails": cti.conjunct, "first_state": cti.reachable,
            "states": [_state(s) for s in cti.states]}


def _checks(checks: tuple[Check, ...]) -> list[dict]:
    return [{"check": CHECK_NAMES[c.kind], "conjunct": c.conjunct, "status": c.status.value} for c in checks]


def prove_object(report: ProveReport) -> dict:
    props = []
    for p in report.properties:
        obj: dict = {"name": p.name, "status": p.status.value, "engine": p.engine or None,
                     "invariant": list(p.invariant), "unnamed": list(p.unnamed),
                     "with_properties": list(p.with_properties), "checks": _checks(p.checks),
                     "k": p.k if p.engine == "kind" else None, "reason": p.reason or None, "cti": _cti(p.cti)}
        if p.lemmas is not None:
            obj["lemmas"] = {"inductive": p.lemmas.inductive, "checks": _checks(p.lemmas.checks),
                             "cti": _cti(p.lemmas.cti)}
        if p.violation is not None:
            obj["violation"] = property_object(p.violation)
        props.append(obj)
    return {"spec": report.spec, "lemmas": [{"name": n, "expr": e} for n, e in report.lemmas],
            "well_formed": list(report.well_formed), "properties": props, "exit_code": report.exit_code}


def render_prove_json(report: ProveReport) -> str:
    return json.dumps(prove_object(report), indent=2) + "\n"


__all__ = ["render_prove_json", "render_prove_text"]
