"""The SARIF 2.1.0 report (`--format sarif`), for GitHub code scanning and other SARIF viewers.

One run for all specs. One result per violated property, located at the spec line of the violating step
(the last step of the counterexample), with the declaration as a related location and the counterexample
as a code flow: one thread flow per CPU, every step carrying its global `executionOrder`, the variables and
locks it changed as the location's `state`, and SARIF's location kinds (acquire/release lock, branch,
call, danger for the violating step). Specs that do not load give one result per diagnostic (rule = the
diagnostic code). Undecided properties are tool notifications, not results: they are neither a pass nor
a finding. Paths stay as given on the command line (relative ones against %SRCROOT%), and nothing depends
on time, so the output is reproducible.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from urllib.parse import quote

from netcheck.model.lang.errors import Diagnostic, SpecError
from netcheck.model.lang.lockapi import lock_ops

from .. import __version__
from ..analyses.hangs import HiddenHang
from ..analyses.trace import Trace, TraceStep
from ..engine.vocabulary import EXIT_USAGE, Status, worst_exit_code
from ..report.build import PropertyResult, SpecReport
from .text import cpu_names, trace_summary

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
BUILTIN_RULES = {
    "deadlock_free": "DeadlockFree", "lock_discipline": "LockDiscipline", "runtime_safety": "RuntimeSafety",
    "lock_order": "LockOrder",
}
LOCK_KINDS = {**dict.fromkeys(lock_ops("acquires"), "acquire"), **dict.fromkeys(lock_ops("releases"), "release")}


def artifact_location(path: str) -> dict:
    """A relative path stays relative to the source root; an absolute one becomes a file: URI."""
    posix = path.replace("\\", "/")
    if posix.startswith("/"):
        return {"uri": "file://" + quote(posix)}
    return {"uri": quote(posix.removeprefix("./")), "uriBaseId": "%SRCROOT%"}


def physical_location(location: str, column: int = 0) -> dict | None:
    """`file:line` (as in reports) to a SARIF physicalLocation."""
    path, _, line = location.rpartition(":")
    if not path or not line.isdigit():
        return None
    region: dict = {"startLine": max(1, int(line))}
    if column > 0:
        region["startColumn"] = column
    return {"artifactLocation": artifact_location(path), "region": region}


def _rule_name(prop: str) -> str:
    return BUILTIN_RULES.get(prop) or "".join(part.capitalize() for part in prop.split("_"))


class _Rules:
    """The run's rules in first-use order; results refer to them by id and index."""

    def __init__(self) -> None:
        self.rules: list[dict] = []
        self.index: dict[str, int] = {}

    def use(self, rule_id: str, make: Callable[[], dict]) -> int:
        if rule_id not in self.index:
            self.index[rule_id] = len(self.rules)
            self.rules.append(make())
        return self.index[rule_id]


def _property_rule(prop: PropertyResult) -> dict:
    text = prop.about or f"the {prop.kind} property {prop.name}"
    return {"id": prop.name, "name": _rule_name(prop.name),
            "shortDescription": {"text": f"{prop.name} ({prop.kind})"},
            "fullDescription": {"text": text},
            "defaultConfiguration": {"level": "error"},
            "help": {"text": f"{text}. To read the counterexample in words: netcheck explain SPEC {prop.name}",
                     "markdown": f"{text}.\n\nTo read the counterexample in words: "
                                 f"`netcheck explain SPEC {prop.name}`"},
            "properties": {"kind": prop.kind, "tags": ["concurrency", "locking", prop.kind]}}


def _diagnostic_rule(d: Diagnostic) -> dict:
    return {"id": d.code, "name": "SpecError", "shortDescription": {"text": f"invalid spec ({d.code})"},
            "fullDescription": {"text": "The spec does not load: netcheck reports every error it finds, "
                                        "located, with a stable code and a hint (exit status 2)."},
            "defaultConfiguration": {"level": "error"},
            "help": {"text": "Fix the spec at the reported location; `netcheck check SPEC` lists every error."},
            "properties": {"tags": ["spec-error"]}}


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def _step_message(step: TraceStep, cpu: str, number: int) -> str:
    where = f"{step.frame[-1]}(): " if step.frame else ""
    note = f" -> {step.note}" if step.note else ""
    return f"{number}. {cpu} {step.thread}: {where}{step.statement}{note}"


def _step_kinds(step: TraceStep, last: bool, violating: bool) -> list[str]:
    kinds = []
    if step.kind in ("lock", "lockwait") and step.op in LOCK_KINDS:
        kinds = [LOCK_KINDS[step.op], "lock"]
    elif step.kind == "call":
        kinds = ["call", "function"]
    elif step.kind == "branch":
        kinds = ["branch"] + ([step.note] if step.note in ("true", "false") else [])
    if last and violating:
        kinds.append("danger")
    return kinds


def code_flow(trace: Trace, fallback: str) -> dict:
    """The counterexample: one thread flow per CPU; executionOrder gives the interleaving."""
    cpus = cpu_names(trace)
    flows: dict[str, dict] = {}
    for number, step in enumerate(trace.steps, 1):
        cpu = cpus[step.thread]
        flow = flows.setdefault(step.thread, {"id": step.thread, "message": {"text": f"{cpu} {step.thread}"},
                                              "locations": []})
        location: dict = {"message": {"text": _step_message(step, cpu, number)}}
        physical = physical_location(step.location or fallback)
        if physical is not None:
            location["physicalLocation"] = physical
        entry: dict = {"location": location, "executionOrder": number,
                       "nestingLevel": max(0, len(step.frame) - 1)}
        kinds = _step_kinds(step, number == len(trace.steps), trace.violating)
        if kinds:
            entry["kinds"] = kinds
        state = {name: {"text": f"{old} -> {new}"} for name, old, new in step.changes}
        state.update({f"[{lock}]": {"text": new} for lock, _, new in step.locks})
        if state:
            entry["state"] = state
        flow["locations"].append(entry)
    return {"message": {"text": trace_summary(trace)}, "threadFlows": list(flows.values())}


def _violation(report: SpecReport, prop: PropertyResult, rules: _Rules) -> dict:
    index = rules.use(prop.name, lambda: _property_rule(prop))
    trace = prop.trace
    at = prop.locations[0] if prop.locations else trace.steps[-1].location \
        if trace is not None and trace.steps and trace.steps[-1].location else prop.location or f"{report.spec}:1"
    text = f"{prop.name} ({prop.kind}) is {prop.status} in {report.name} ({report.spec}): {prop.message}"
    if prop.about:
        text += f". The property: {prop.about}"
    if trace is not None and trace.steps:
        threads = ", ".join(f"{cpu} {name}" for name, cpu in cpu_names(trace).items())
        last = trace.steps[-1]
        text += f". {trace_summary(trace)}: {threads}; the last step is {last.statement} at {last.location or at}"
    if prop.locations:
        text += f". The stuck threads wait at {', '.join(prop.locations)}"
    result: dict = {"ruleId": prop.name, "ruleIndex": index, "level": "error", "message": {"text": text + "."}}
    # a stuck-thread violation is where the stuck threads wait: one location each, the first the primary
    places = [physical_location(x) for x in prop.locations] if prop.locations else [physical_location(at)]
    if any(p is not None for p in places):
        result["locations"] = [{"physicalLocation": p} for p in places if p is not None]
    declared = physical_location(prop.location) if prop.location and prop.kind.has_site else None
    if declared is not None:
        result["relatedLocations"] = [{"id": 1, "physicalLocation": declared,
                                       "message": {"text": f"{prop.name} is declared here"}}]
    if trace is not None and trace.steps:
        result["codeFlows"] = [code_flow(trace, at)]
    result["partialFingerprints"] = {"netcheckProperty/v1": _fingerprint(report.spec, report.name, prop.name)}
    if prop.expected:   # a known bug the spec records: suppressed, so code scanning shows no open alert
        result["suppressions"] = [{"kind": "inSource", "status": "accepted",
                                   "justification": "the spec's expect: says this property is violated"}]
    bag: dict = {"spec": report.spec, "specName": report.name, "kind": prop.kind}
    if trace is not None:
        bag.update({"steps": len(trace.steps), "threads": len(trace.threads), "switches": trace.switches})
    if prop.context:
        bag["finalState"] = dict(prop.context)
    if prop.waits:
        bag["stuck"] = list(prop.waits)
    result["properties"] = bag
    return result


def _unmet(report: SpecReport, prop: PropertyResult, rules: _Rules) -> dict:
    """A property the spec's `expect:` says is violated, but that holds: the expectation failed."""
    index = rules.use(prop.name, lambda: _property_rule(prop))
    result: dict = {"ruleId": prop.name, "ruleIndex": index, "level": "error",
                    "message": {"text": f"{prop.name} ({prop.kind}) holds in {report.name} ({report.spec}), but "
                                        "the spec's expect: says it is violated."},
                    "partialFingerprints": {"netcheckProperty/v1": _fingerprint(report.spec, report.name,
                                                                                prop.name)}}
    where = report.expectation.location if report.expectation is not None else f"{report.spec}:1"
    physical = physical_location(where)
    if physical is not None:
        result["locations"] = [{"physicalLocation": physical}]
    return result


def _diagnostic(path: str, d: Diagnostic, rules: _Rules) -> dict:
    index = rules.use(d.code, lambda: _diagnostic_rule(d))
    text = f"{d.message}" + (f" (hint: {d.hint})" if d.hint else "")
    result: dict = {"ruleId": d.code, "ruleIndex": index, "level": "error", "message": {"text": text}}
    if d.span.line > 0:
        physical = physical_location(f"{d.span.file}:{d.span.line}", d.span.col)
        if physical is not None:
            result["locations"] = [{"physicalLocation": physical}]
    result["partialFingerprints"] = {"netcheckSpecError/v1": _fingerprint(path, d.code, d.message)}
    result["properties"] = {"spec": path}
    return result


HANG_RULE = "hidden_hang"


def _hang_rule() -> dict:
    text = ("a killable wait (TASK_KILLABLE) that can last forever on a fair run, or through unboundedly many "
            "slow steps (grace periods) of the threads it waits for: the hung-task detector skips such sleeps")
    return {"id": HANG_RULE, "name": "HiddenHang", "shortDescription": {"text": "hidden hang (killable wait)"},
            "fullDescription": {"text": text}, "defaultConfiguration": {"level": "warning"},
            "help": {"text": f"{text}. docs/analyses.md, 'Hidden hangs'."},
            "properties": {"tags": ["concurrency", "locking", "latency"]}}


def _hang(report: SpecReport, hang: HiddenHang, rules: _Rules) -> dict:
    index = rules.use(HANG_RULE, _hang_rule)
    result: dict = {"ruleId": HANG_RULE, "ruleIndex": index, "level": "warning",
                    "message": {"text": f"{report.name} ({report.spec}): {hang.summary}."}}
    physical = physical_location(hang.location) if hang.location else None
    if physical is not None:
        result["locations"] = [{"physicalLocation": physical}]
    if hang.trace is not None and hang.trace.steps:
        result["codeFlows"] = [code_flow(hang.trace, hang.location or f"{report.spec}:1")]
    result["partialFingerprints"] = {"netcheckHang/v1": _fingerprint(report.spec, hang.thread, hang.location)}
    return result


def sarif_log(reports: Sequence[SpecReport], spec_errors: Sequence[tuple[str, SpecError]] = ()) -> dict:
    rules = _Rules()
    results = [_violation(r, p, rules) for r in reports for p in r.properties if p.status.fails]
    results += [_unmet(r, p, rules) for r in reports if r.expectation is not None for p in r.properties
                if p.name in r.expectation.violated and p.status is Status.HOLDS]
    results += [_diagnostic(path, d, rules) for path, err in spec_errors for d in err.diagnostics]
    results += [_hang(r, h, rules) for r in reports for h in r.hangs]
    notifications = [{"level": "warning", "descriptor": {"id": "unknown"},
                      "message": {"text": f"{r.spec}: {p.name} ({p.kind}) is UNKNOWN, not a pass: {p.message}"}}
                     for r in reports for p in r.properties if p.status is Status.UNKNOWN]
    exit_code = worst_exit_code([r.exit_code for r in reports] + ([EXIT_USAGE] if spec_errors else []))
    invocation: dict = {"executionSuccessful": not spec_errors, "exitCode": exit_code}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    specs = [{"spec": r.spec, "name": r.name, "files": list(r.files), "bounds": dict(r.bounds),
              "states": r.stats.states, "transitions": r.stats.transitions, "complete": r.complete,
              "stopReason": r.stop_reason or None, "exitCode": r.exit_code,
              "verdicts": {p.name: p.status for p in r.properties}} for r in reports]
    run = {"tool": {"driver": {"name": "netcheck", "version": __version__, "semanticVersion": __version__,
                               "rules": rules.rules}},
           "invocations": [invocation],
           "columnKind": "unicodeCodePoints",
           "results": results,
           "properties": {"specs": specs}}
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def render_sarif(reports: Sequence[SpecReport], spec_errors: Sequence[tuple[str, SpecError]] = ()) -> str:
    return json.dumps(sarif_log(reports, spec_errors), indent=2) + "\n"
