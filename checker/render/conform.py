"""Conformance reports (conform/compare.py) as text, JSON and SARIF 2.1.0."""

from __future__ import annotations

import json
from itertools import groupby

from netcheck.model.lang.errors import Span

from .. import __version__
from ..conform.compare import ChangeMatch, Pair, PatchReport, SourceReport, Verdict
from .sarif import SCHEMA, physical_location


def _where(span: Span | None) -> str:
    return span.short if span is not None else "-"


# ---------------------------------------------------------------- against C sources


def source_text(r: SourceReport, strict: bool = False) -> str:
    out = [f"netcheck conform: {r.spec} against {', '.join(r.sources)}"]
    for p in r.pairs:
        status = "agree" if not p.differences else \
            f"{len(p.differences)} difference{'s' if len(p.differences) != 1 else ''}"
        out.append(f"  {p.procedure} ({p.spec_at.short}) ~ {p.function}() ({p.c_at.short}): {status}"
                   f" ({p.compared} operations in the spec)")
        for d in p.differences:
            out.append(f"    {d.kind.value}: {d.message}")
            out.append(f"      spec {d.spec_at.short}   C {d.c_at.short}")
        if p.unmodelled:
            out.append("    not compared (locks the spec does not declare): "
                       + ", ".join(f"{op.describe()} {op.at.short}" for op in p.unmodelled))
    for name in r.not_found:
        out.append(f"  {name}: its source: function is in none of the C files given")
    pairs_off = sum(bool(p.differences) for p in r.pairs)
    outside = f"; {r.unmodelled} operations on locks the spec does not declare" if r.unmodelled else ""
    if r.differences or (strict and r.unmodelled):
        out.append(f"DIFFERENT: {r.differences} difference{'s' if r.differences != 1 else ''} in {pairs_off} of "
                   f"{len(r.pairs)} procedures{outside} (exit 1)")
    else:
        out.append(f"OK: the {len(r.pairs)} procedures with a C function agree with it{outside} (exit 0)")
    return "\n".join(out) + "\n"


def _pair_json(p: Pair) -> dict:
    return {"procedure": p.procedure, "function": p.function, "spec": p.spec_at.short, "source": p.c_at.short,
            "operations": p.compared,
            "not_compared": [{"operation": op.describe(), "source": op.at.short} for op in p.unmodelled],
            "differences": [{"kind": d.kind.value, "message": d.message, "spec": d.spec_at.short,
                             "source": d.c_at.short} for d in p.differences]}


def source_json(r: SourceReport) -> dict:
    return {"spec": r.spec, "sources": list(r.sources), "agree": r.differences == 0,
            "differences": r.differences, "pairs": [_pair_json(p) for p in r.pairs], "not_found": list(r.not_found)}


# ---------------------------------------------------------------- against a patch


def patch_text(r: PatchReport, strict: bool = False) -> str:
    out = [f"netcheck conform: {r.spec} (its changes to {r.base}) against {r.patch}"]
    for (function, proc), items in groupby(r.changes, key=lambda c: (c.function, c.procedure)):
        title = f"{function}()" if function else f"(spec) {proc}"
        if function and proc and proc != function:
            title += f" ~ {proc}"
        if not proc:
            title += ": not modelled (the spec has no procedure for it)"
        out.append(title)
        for c in items:
            out.append(f"  {c.verdict.value:<12} {c.sign} {c.operation:<40} C {_where(c.c_at):<34} "
                       f"spec {_where(c.spec_at)}")
    out.append(_summary(r, strict))
    return "\n".join(out) + "\n"


def _summary(r: PatchReport, strict: bool) -> str:
    found, patch_only = r.count(Verdict.MATCH), r.count(Verdict.PATCH_ONLY)
    spec_only, outside = r.count(Verdict.SPEC_ONLY), r.count(Verdict.NOT_MODELLED)
    modelled = found + patch_only
    funcs = sorted({c.function for c in r.changes if c.verdict is Verdict.NOT_MODELLED})
    text = (f"{found} of {modelled} lock changes the patch makes in modelled functions are the spec's; "
            f"{patch_only} only in the patch, {spec_only} only in the spec")
    if r.count(Verdict.ORDER):
        text += f"; {r.count(Verdict.ORDER)} function(s) whose operations the spec orders otherwise"
    if outside:
        text += f"; {outside} in functions the spec does not model ({', '.join(f'{f}()' for f in funcs)})"
    failed = r.differences or (strict and outside)
    return ("DIFFERENT: " if failed else "OK: ") + text + f" (exit {1 if failed else 0})"


def _change_json(c: ChangeMatch) -> dict:
    return {"verdict": c.verdict.value, "sign": c.sign, "operation": c.operation, "function": c.function or None,
            "procedure": c.procedure or None, "source": c.c_at.short if c.c_at else None,
            "patch": c.patch_at.short if c.patch_at else None, "spec": c.spec_at.short if c.spec_at else None}


def patch_json(r: PatchReport) -> dict:
    return {"spec": r.spec, "base": r.base, "patch": r.patch, "agree": r.differences == 0,
            "counts": {v.value: r.count(v) for v in Verdict}, "changes": [_change_json(c) for c in r.changes]}


# ---------------------------------------------------------------- SARIF


def _result(rule: str, message: str, primary: Span | None, related: list[tuple[Span | None, str]]) -> dict:
    result: dict = {"ruleId": rule, "level": "error", "message": {"text": message}}
    loc = physical_location(primary.short) if primary is not None else None
    if loc is not None:
        result["locations"] = [{"physicalLocation": loc}]
    rel = [{"id": i, "physicalLocation": pl, "message": {"text": text}}
           for i, (span, text) in enumerate(related) if span is not None
           and (pl := physical_location(span.short)) is not None]
    if rel:
        result["relatedLocations"] = rel
    return result


def _log(results: list[dict], rules: list[str]) -> str:
    used = sorted({r["ruleId"] for r in results} | set(rules))
    driver = {"name": "netcheck", "version": __version__, "semanticVersion": __version__,
              "rules": [{"id": rule, "shortDescription": {"text": rule.replace("conform/", "conformance: ")}}
                        for rule in used]}
    index = {rule: i for i, rule in enumerate(used)}
    for r in results:
        r["ruleIndex"] = index[r["ruleId"]]
    log = {"$schema": SCHEMA, "version": "2.1.0", "runs": [{"tool": {"driver": driver}, "results": results}]}
    return json.dumps(log, indent=2) + "\n"


def source_sarif(r: SourceReport) -> str:
    """One result per difference, at the C line, with the spec line related."""
    results = [_result(f"conform/{d.kind.name.lower()}", f"{p.procedure}: {d.message}", d.c_at,
                       [(d.spec_at, "the spec")]) for p in r.pairs for d in p.differences]
    return _log(results, [])


def patch_sarif(r: PatchReport) -> str:
    """One result per change the patch and the spec do not share."""
    results = []
    for c in r.changes:
        if c.verdict is Verdict.PATCH_ONLY:
            results.append(_result("conform/patch_only", f"{c.function}(): the patch makes '{c.sign} {c.operation}' "
                                   f"but the spec's {c.procedure} does not", c.c_at, [(c.patch_at, "the patch")]))
        elif c.verdict is Verdict.ORDER:
            results.append(_result("conform/order", f"{c.function}(): {c.operation} stands elsewhere in the "
                                   f"order of the spec's {c.procedure}", c.c_at, [(c.spec_at, "the spec")]))
        elif c.verdict is Verdict.SPEC_ONLY:
            results.append(_result("conform/spec_only", f"{c.procedure}: the spec makes '{c.sign} {c.operation}' "
                                   "but the patch does not", c.spec_at, []))
    return _log(results, [])
