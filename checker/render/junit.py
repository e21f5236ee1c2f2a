"""The JUnit XML report (`--format junit`): one test suite per spec, one test case per property.

A violated property is a `<failure>` whose message is the verdict and the counterexample as a numbered
list of steps (what Jenkins shows as the error message), and whose text is the counterexample as the
text report draws it (CPU columns, or steps with --trace steps); an
undecided one (a limit was hit, or z3 said unknown) is `<skipped>` with the reason, never a pass; a spec
that does not load is a suite with one `<error>` test case holding its diagnostics. The elements and
attributes are the ones Jenkins' JUnit schema allows (testcase: name, classname, time; no file/line), so
Jenkins, GitLab and the GitHub test-report actions all read it. No timestamps or host names: with
`--no-timing` the output is byte-for-byte reproducible.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from netcheck.model.lang.errors import SpecError

from ..analyses.trace import Trace
from ..report.build import PropertyResult, SpecReport
from .text import cpu_names, sections, trace_summary, violation_text


def classname(spec: str) -> str:
    """`specs/bugs/register_takes_read.yaml` -> `specs.bugs.register_takes_read` (package.class for Jenkins)."""
    stem = spec[:-5] if spec.endswith(".yaml") else spec[:-4] if spec.endswith(".yml") else spec
    return stem.strip("./").replace("/", ".").replace("\\", ".") or "spec"


def compact_steps(trace: Trace) -> str:
    """One line per step: `3. CPU1 creator[net0] down_read(&net_sem) (net_sem.yaml:23) -> sleeps: ...`."""
    cpus = cpu_names(trace)
    return "\n".join(f"{i}. {cpus[s.thread]} {s.thread} {s.statement}" + (f" ({s.location})" if s.location else "")
                     + (f" -> {s.note}" if s.note else "") for i, s in enumerate(trace.steps, 1))


def _count(report: SpecReport, status: str) -> int:
    return sum(1 for p in report.properties if p.status == status)


def _unmet(report: SpecReport, prop: PropertyResult) -> bool:
    """A property the spec's `expect:` lists as violated that holds."""
    return report.expectation is not None and prop.name in report.expectation.violated and prop.status == "holds"


def _failures(report: SpecReport) -> int:
    """Testcases that fail: violations and vacuous verdicts the spec does not expect, unmet expectations."""
    return sum(1 for p in report.properties
               if (p.status in ("violated", "vacuous") and not p.expected) or _unmet(report, p))


def _testcase(suite: ET.Element, report: SpecReport, prop: PropertyResult, trace_style: str) -> None:
    case = ET.SubElement(suite, "testcase", name=prop.name, classname=classname(report.spec))
    where = f" at {prop.location}" if prop.location else ""
    said = f"{prop.name} ({prop.kind}) violated{where}, as the spec's expect: says\n" if prop.expected else ""
    if prop.expected:
        pass   # a pass: the spec expects this violation
    elif _unmet(report, prop):
        ET.SubElement(case, "failure", message=f"{prop.name} ({prop.kind}) holds{where}, but expect: says it is "
                      "violated", type="expectation")
    elif prop.status == "violated":
        message = f"{prop.name} ({prop.kind}) violated{where}: {prop.message}"
        if prop.trace is not None and prop.trace.steps:
            message += "\n" + trace_summary(prop.trace) + ":\n" + compact_steps(prop.trace)
        failure = ET.SubElement(case, "failure", message=message, type=prop.kind)
        failure.text = violation_text(prop, trace_style)
    elif prop.status == "vacuous":
        ET.SubElement(case, "failure", message=f"{prop.name} ({prop.kind}) VACUOUS{where}: {prop.message}",
                      type="vacuous").text = prop.message
    elif prop.status == "unknown":
        ET.SubElement(case, "skipped", message=f"UNKNOWN (not a pass): {prop.message}")
    if said or prop.about:
        ET.SubElement(case, "system-out").text = said + (f"{prop.kind}{where}: {prop.about}\n" if prop.about else "")


def _suite(root: ET.Element, report: SpecReport, trace_style: str, timing: bool) -> None:
    attrs = {"name": report.name, "tests": str(len(report.properties)),
             "failures": str(_failures(report)),
             "errors": "0", "skipped": str(_count(report, "unknown"))}
    if timing:
        attrs["time"] = f"{report.stats.seconds:.3f}"
    attrs["file"] = report.spec
    suite = ET.SubElement(root, "testsuite", attrs)
    props = ET.SubElement(suite, "properties")
    s = report.stats
    for name, value in (("spec", report.spec), ("files", " ".join(report.files)),
                        ("bounds", ", ".join(f"{n}={v}" for n, v in report.bounds) or "none"),
                        ("states", str(s.states)), ("transitions", str(s.transitions)), ("depth", str(s.depth)),
                        ("complete", "true" if report.complete else f"false: {report.stop_reason}"),
                        ("exit_code", str(report.exit_code))):
        ET.SubElement(props, "property", name=name, value=value)
    for prop in report.properties:
        _testcase(suite, report, prop, trace_style)
    if sections(report):
        lines = []
        for title, body in sections(report):
            lines.append(title)
            lines.extend(body)
        ET.SubElement(suite, "system-out").text = "\n".join(lines) + "\n"


def _error_suite(root: ET.Element, path: str, error: SpecError) -> None:
    suite = ET.SubElement(root, "testsuite", name=path, tests="1", failures="0", errors="1", skipped="0", file=path)
    case = ET.SubElement(suite, "testcase", name="load", classname=classname(path))
    first = error.diagnostics[0] if error.diagnostics else None
    message = f"invalid spec: {first.span}: error[{first.code}]: {first.message}" if first else "invalid spec"
    ET.SubElement(case, "error", message=message, type="SpecError").text = str(error) + "\n"


def render_junit(reports: Sequence[SpecReport], spec_errors: Sequence[tuple[str, SpecError]] = (),
                 trace_style: str = "cpu", timing: bool = True) -> str:
    tests = sum(len(r.properties) for r in reports) + len(spec_errors)
    attrs = {"name": "netcheck", "tests": str(tests),
             "failures": str(sum(_failures(r) for r in reports)), "errors": str(len(spec_errors))}
    if timing:
        attrs["time"] = f"{sum(r.stats.seconds for r in reports):.3f}"
    root = ET.Element("testsuites", attrs)
    for report in reports:
        _suite(root, report, trace_style, timing)
    for path, error in spec_errors:
        _error_suite(root, path, error)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
