"""The text report: verdict lines, and counterexamples drawn as kernel-style CPU columns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ..analyses.coverage import BranchRuns, Coverage
from ..analyses.trace import ThreadRef, Trace, TraceStep, by_name
from ..engine.vocabulary import Status
from ..report.build import STOPPED_AT_EXPECTED, PropertyResult, SpecReport
from .lockorder import report_section

COLUMN = 44        # the widest a CPU column gets
MIN_COLUMN = 18    # the narrowest, when fitting a terminal (narrower: the steps are listed instead)
COVERAGE_SHOWN = 5   # unreached statements and untaken branches the default coverage warning lists
STATUS = {"holds": "holds   ", "violated": "VIOLATED", "vacuous": "VACUOUS", "unknown": "UNKNOWN ",
          "reachable": "REACHABLE", "unreachable": "unreachable", "bounded": "BOUNDED"}


def render_text(report: SpecReport, trace_style: str = "cpu", timing: bool = True, verbosity: int = 1,
                color: bool = False, coverage: bool = False, width: int | None = None) -> str:
    """The report as text. verbosity 0: the summary line only; 1: verdicts and counterexamples.
    `coverage`: every statement and branch with its run count, not only a warning about unreached ones.
    `width`: fit the CPU columns of counterexamples in that many columns (None: the fixed layout)."""
    summary = _summary(report)
    if color:
        summary = _paint(summary, report.exit_code)
    if verbosity <= 0:
        return f"{report.spec}: {summary}\n"
    lines = [_header(report, timing)]
    for prop in report.properties:
        line = _verdict_line(prop)
        lines.append(_paint(line, {"holds": 0, "violated": 1, "vacuous": 1}.get(prop.status, 3)) if color else line)
    for prop in report.properties:
        if prop.status in (Status.VIOLATED, Status.REACHABLE, Status.VACUOUS):
            lines.append("")
            lines.extend(_violation(prop, trace_style, width))
    for title, body in sections(report):
        lines.append("")
        lines.append(title)
        lines.extend(body)
    if report.coverage is not None:
        shown = coverage_lines(report.coverage, _ambiguous_files(report.files), coverage)
        lines.extend([""] + shown if shown else [])
    lines.append("")
    lines.append(summary)
    return "\n".join(lines) + "\n"


def sections(report: SpecReport) -> list[tuple[str, list[str]]]:
    """The analyses shown after the properties: (title, lines)."""
    out = [] if report.lock_order is None else [("Lock order (lockdep rules):", report_section(report.lock_order))]
    if report.hangs:
        lines: list[str] = []
        for hang in report.hangs:
            lines += ([""] if lines else []) + [f"  {line}" for line in hang.lines]
            if hang.trace is not None:
                lines.append(f"  ({trace_summary(hang.trace, 'the run that shows it')})")
        out.append((f"Hidden hangs ({len(report.hangs)}): killable waits that can last with no warning", lines))
    return out


def _paint(text: str, code: int) -> str:
    import click
    return click.style(text, fg={0: "green", 1: "red"}.get(code, "yellow"))


# the header line of the unbounded symbolic engines (checker/engine/kinduction.py, pdr.py)
ENGINE_WORDS = {
    "kind": "  k-induction (z3) to depth {depth}: base case every path of up to {depth} steps, induction step from "
            "any well-formed state; a proof covers every reachable state",
    "pdr": "  PDR (z3 Spacer, after Houdini over facts read off reachable states): inductive invariants, each "
           "checked again with a plain solver; a proof covers every reachable state",
}


def _header(report: SpecReport, timing: bool) -> str:
    s = report.stats
    chain = f" (extends {', '.join(report.files[1:])})" if len(report.files) > 1 else ""
    bounds = ", ".join(f"{n}={v}" for n, v in report.bounds)
    head = f"netcheck: {report.spec}{chain}\n  bounds: {bounds or 'none'}\n"
    if report.engine == "bmc":
        head += (f"  bounded model checking (z3) to depth {report.depth_bound}: every path of up to "
                 f"{report.depth_bound} steps, decided to depth {s.depth}"
                 f"{' (stopped: ' + report.stop_reason + ')' if report.stop_reason else ''}")
        return head + (f"\n  {s.seconds:.2f} s" if timing else "") + "\n"
    if report.engine == "bdd":
        reach = "a fixpoint: every reachable state" if report.complete else \
            f"no fixpoint within {report.depth_bound} steps" if report.depth_bound is not None else "no fixpoint"
        head += (f"  BDD layers (CUDD): {s.states:,} states in {s.depth + 1} layers, {reach}"
                 f"{' (stopped: ' + report.stop_reason + ')' if report.stop_reason else ''}")
        return head + (f"\n  {s.seconds:.2f} s" if timing else "") + "\n"
    if report.engine in ENGINE_WORDS:
        head += ENGINE_WORDS[report.engine].format(depth=report.depth_bound)
        head += f" (stopped: {report.stop_reason})" if report.stop_reason else ""
        return head + (f"\n  {s.seconds:.2f} s" if timing else "") + "\n"
    head += (f"  explored {s.states:,} states, {s.transitions:,} transitions, depth {s.depth}"
             f"{'' if report.reduction == 'none' else ' (reduction: ' + report.reduction + ')'}"
             f"{'' if report.complete else ' (INCOMPLETE: ' + report.stop_reason + ')'}")
    if report.symmetry:
        head += f"\n  symmetry: {report.symmetry}"
    if report.store == "hash":
        head += (f"\n  store: 64-bit fingerprints; the probability that a collision hid a state is at most "
                 f"{report.omission_probability:.1e}")
    if timing:
        head += f"\n  {s.seconds:.2f} s, {s.states_per_second:,.0f} states/s, peak memory {s.peak_memory_mb:.0f} MB"
        if s.worker_memory_mb:
            workers = ", ".join(f"{m:.0f} MB" for m in s.worker_memory_mb)
            head += f" (of which {len(s.worker_memory_mb)} workers: {workers})"
    return head + "\n"


def _verdict_line(prop: PropertyResult) -> str:
    where = f"  [{prop.location}]" if prop.location and prop.kind.has_site else ""
    waited = ""
    if prop.waited is not None:
        most = "unboundedly many" if prop.waited.most is None else f"at most {prop.waited.most}"
        waited = f"  ({most} slow steps waited through in {prop.waited.procedure}())"
    return (f"  {STATUS[prop.status]:<11} {prop.name} ({prop.kind}){where}{'  (expected)' if prop.expected else ''}"
            f"{waited}")


def _summary(report: SpecReport) -> str:
    props = [p for p in report.properties if not p.kind.is_question]
    counts = {k: sum(1 for p in props if p.status == k)
              for k in ("holds", "violated", "vacuous", "unknown", "bounded")}
    cov = report.coverage
    never_run = _plural(len(cov.unreached), "statement") + " never run" if cov and cov.complete and cov.unreached \
        else ""
    if report.expectation is not None:
        verdict = _expectation(report, props)
    elif counts["violated"]:
        verdict = f"VIOLATED: {counts['violated']} of {len(props)} properties fail ({_names(props, 'violated')})"
        if counts["vacuous"]:
            verdict += f", {counts['vacuous']} vacuous (checked on no state: {_names(props, 'vacuous')})"
    elif counts["vacuous"]:
        verdict = (f"VACUOUS: {counts['vacuous']} of {len(props)} properties checked on no state "
                   f"({_names(props, 'vacuous')})")
    elif report.coverage_failed:
        verdict = f"FAILED: {never_run} (--strict-coverage); all {len(props)} properties hold"
        never_run = ""
    elif counts["bounded"]:
        verdict = (f"BOUNDED: no violation within {report.depth_bound} steps of {counts['bounded']} of {len(props)} "
                   f"properties ({_names(props, 'bounded')}), which is not a proof")
        if counts["unknown"]:
            verdict += f"; {counts['unknown']} undecided ({_names(props, 'unknown')})"
    elif counts["unknown"]:
        why = _undecided_why(report, props)
        verdict = f"UNKNOWN: {counts['unknown']} properties undecided ({_names(props, 'unknown')}: {why})"
    else:
        verdict = f"OK: all {len(props)} properties hold on every reachable state"
    if never_run:
        verdict += f"; {never_run}"
    questions = [p for p in report.properties if p.kind.is_question]
    if questions:
        answers = {k: sum(1 for p in questions if p.status == k) for k in ("reachable", "unreachable", "unknown")}
        verdict += "; questions: " + ", ".join(f"{n} {k}" for k, n in answers.items() if n)
    return f"{verdict} (exit {report.exit_code})"


def _undecided_why(report: SpecReport, props: list[PropertyResult]) -> str:
    """Why the undecided properties are: the run's stop, else each one's reason, once."""
    return report.stop_reason or "; ".join(dict.fromkeys(p.message or "solver unknown" for p in props
                                                        if p.status == "unknown"))


def _names(props: list[PropertyResult], status: str) -> str:
    """The names of the properties with `status`, in report order."""
    return ", ".join(p.name for p in props if p.status == status)


def _expectation(report: SpecReport, props: list[PropertyResult]) -> str:
    """The summary of a run that tests the spec's `expect:`."""
    expectation = report.expectation
    assert expectation is not None
    listed = ", ".join(expectation.violated)
    wanted = f"violated: {listed}" if listed else "every property holds"
    if expectation.met is False:
        return f"NOT AS EXPECTED (expect: {wanted}): " + "; ".join(expectation.differences)
    if expectation.met is None:
        undecided = sum(1 for p in props if p.status == "unknown")
        found = _names(props, "violated")
        why = _undecided_why(report, props)
        return f"UNKNOWN: expect: {wanted}; {undecided} properties undecided ({why})" \
            + (f"; violated so far: {found}" if found else "")
    others = len(props) - len(expectation.violated)
    if report.engine == "bmc":
        return (f"AS EXPECTED: violated: {listed} (bounded model checking; the other {others} properties were not "
                "proved)")
    if report.engine in ENGINE_WORDS or report.engine == "bdd":
        proved = sum(1 for p in props if p.status == "holds")
        return f"AS EXPECTED: violated: {listed}; {proved} of the other {others} properties proved"
    if not report.complete:
        rerun = "; --explore-all checks them" if report.stop_reason == STOPPED_AT_EXPECTED else ""
        return f"AS EXPECTED: violated: {listed} (stopped there: the other {others} properties were not checked{rerun})"
    if listed:
        return f"AS EXPECTED: violated: {listed}; the other {others} properties hold on every reachable state"
    return f"AS EXPECTED: all {len(props)} properties hold on every reachable state"


def coverage_lines(cov: Coverage, ambiguous: set[str], full: bool) -> list[str]:
    """The coverage section: by default a warning listing the first few statements never run and branches
    never taken (nothing when all ran); `full`: every statement and branch with its run count."""
    numbers = (f"{cov.statements_run} of {len(cov.statements)} statements run, {cov.branches_taken} of "
               f"{len(cov.branches)} branches taken")
    if not cov.complete:
        head = f"Coverage is partial (the run stopped early): {numbers} so far"
        return [head + ":", *_all_runs(cov, ambiguous)] if full else [head]
    head = f"Coverage: {numbers}"
    if full:
        return [head + " (runs: executions by reachable transitions):", *_all_runs(cov, ambiguous)]
    if not cov.unreached and not cov.untaken:
        return []
    warnings = [f"  warning: assert {s.assert_name} ({_short(s.span.short, ambiguous)}) never runs: it checks "
                "nothing" for s in cov.unreached_asserts]
    items = [f"  {_short(s.span.short, ambiguous)}  never run: {s.text}" for s in cov.unreached]
    items += [f"  {_short(b.span.short, ambiguous)}  {_branch_text(b)}" for b in cov.untaken]
    more = [f"  ... and {len(items) - COVERAGE_SHOWN} more"] if len(items) > COVERAGE_SHOWN else []
    return [head + " (--coverage: every count):", *warnings, *items[:COVERAGE_SHOWN], *more]


def _all_runs(cov: Coverage, ambiguous: set[str]) -> list[str]:
    """Every statement, then every branch, with its run count and a mark on those never run or taken
    (on a partial run: not so far)."""
    never_run, never_taken = ("NEVER RUN", "NEVER TAKEN") if cov.complete else ("not run so far", "not taken so far")
    spans = [s.span for s in cov.statements] + [b.span for b in cov.branches]
    places = [_short(span.short, ambiguous) for span in spans]
    width = max((len(p) for p in places), default=0)
    out = [f"  {'runs':>9}  {'where'.ljust(width)}  statement"]
    for s, place in zip(cov.statements, places):
        who = f"[{', '.join(s.threads)}]" if s.count else never_run
        out.append(f"  {s.count:>9}  {place.ljust(width)}  {s.text}  {who}")
    out.append(f"  {'taken':>9}  {'where'.ljust(width)}  branch")
    for b, place in zip(cov.branches, places[len(cov.statements):]):
        mark = f"  {never_taken}" if b.reached and not b.count else ""
        out.append(f"  {b.count:>9}  {place.ljust(width)}  {_branch_name(b)}{mark}")
    return out


def _branch_name(b: BranchRuns) -> str:
    return f"{b.text}: {b.branch}"


def _branch_text(b: BranchRuns) -> str:
    """How an untaken branch reads in the warning."""
    if b.decision == "if":
        return f"{b.text}: never {'true' if b.branch == 'then' else 'false'} ('{b.branch}' never taken)"
    return f"either: branch '{b.branch}' never taken"


def _ambiguous_files(files: tuple[str, ...]) -> set[str]:
    """File names (without directories) that two files of a spec share."""
    names = [f.rsplit("/", 1)[-1] for f in files]
    return {n for n in names if names.count(n) > 1}


def violation_text(prop: PropertyResult, style: str = "cpu", width: int | None = None, title: str | None = None) -> str:
    """One violated property as the text report shows it: what, why, the counterexample, the final state;
    `title` names the counterexample (by default: shortest or not, and why)."""
    return "\n".join(_violation(prop, style, width, title)) + "\n"


def _violation(prop: PropertyResult, style: str, width: int | None = None, title: str | None = None) -> list[str]:
    out = [f"{prop.name}: {STATUS[prop.status]} ({prop.kind}{', ' + prop.location if prop.location else ''})"]
    if prop.about:
        out.append(f"  {prop.about}")
    if prop.message:
        out.append(f"  {prop.message}")
    trace = prop.trace
    if trace is not None:
        out.append("")
        out.append("  " + trace_summary(trace, title or _trace_title(prop)))
        out.append("")
        if trace.steps:
            shown = point(trace)
            table = cpu_table(shown, width) if style == "cpu" else None
            if style == "cpu" and table is None:
                out.append(f"  ({len(shown.threads)} threads do not fit in {width} columns side by side: "
                           "the steps in order; --width N widens)")
                out.append("")
            out.extend(table if table is not None else step_list(shown))
            out.extend(run_out_summary(trace, prop.name))
        else:
            out.append("  (already so in the initial state: no step needed)")
    if prop.waits:
        out.append("")
        out.append("  Stuck threads:")
        out.extend(f"    {w}" for w in prop.waits)
    if prop.context:
        out.append("")
        out.append("  Final state:")
        width = max(len(n) for n, _ in prop.context)
        out.extend(f"    {n.ljust(width)} = {v}" for n, v in prop.context)
    return out


LASSO_TITLE = "Counterexample, a run that repeats forever (not necessarily the shortest)"


def _trace_title(prop: PropertyResult) -> str:
    """`Shortest counterexample`, or what it is when it may not be the shortest."""
    if prop.trace is not None and prop.trace.cycle is not None:
        return LASSO_TITLE
    if prop.kind.is_liveness:
        return "Witness (not necessarily the shortest)"
    what = "witness" if prop.status == "reachable" else "counterexample"
    if prop.shortest:
        return f"Shortest {what}"
    why = "reduced search" if prop.reduced else "the run stopped early"
    return f"{what.capitalize()} ({why}: a shorter one may exist)"


def point(trace: Trace) -> Trace:
    """The trace up to the point that matters (all of it unless a run-out is marked)."""
    if trace.settled is None:
        return trace
    return replace(trace, steps=trace.steps[:trace.settled], states=trace.states[:trace.settled + 1],
                   settled=None)


def run_out_summary(trace: Trace, prop: str) -> list[str]:
    """The steps after the point that matters, one line per thread: how many and where."""
    rest = trace.run_out
    if not rest:
        return []
    out = ["", f"  Then {_plural(len(rest), 'more step')} to the final state, by threads that change nothing "
                f"{prop} reads:"]
    ambiguous = _ambiguous(trace)
    for tid in dict.fromkeys(s.tid for s in rest):
        steps = [s for s in rest if s.tid == tid]
        where = [_short(s.location, ambiguous) for s in (steps[0], steps[-1]) if s.location]
        span = f" ({_span(where[0], where[-1])})" if where else ""
        out.append(f"    {steps[0].thread}: {_plural(len(steps), 'step')}{span}")
    return out


def _span(first: str, last: str) -> str:
    """`a.yaml:3-9` for two locations in one file, `a.yaml:3 .. b.yaml:9` otherwise."""
    (file1, _, line1), (file2, _, line2) = first.rpartition(":"), last.rpartition(":")
    if first == last or not last:
        return first
    same = file1 == file2 and line1.isdigit() and line2.isdigit() and int(line1) < int(line2)
    return f"{first}-{line2}" if same else f"{first} .. {last}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 'es' if word.endswith('ch') else 's'}"


def trace_summary(trace: Trace, title: str | None = None) -> str:
    """`Shortest counterexample: 14 steps, 2 threads, 1 thread switch (...)`."""
    if title is None:
        title = LASSO_TITLE if trace.cycle is not None else "Shortest counterexample"
    text = (f"{title}: {_plural(len(trace.steps), 'step')}, {_plural(len(trace.threads), 'thread')}, "
            f"{_plural(trace.switches, 'thread switch')}")
    if trace.cycle is not None:
        n = len(trace.steps)
        again = "repeat forever" if trace.cycle_fair else "can repeat as often as one likes"
        return text + ("; then it stays in its last state forever" if trace.cycle == n else
                       f"; steps {trace.cycle + 1}-{n} {again}")
    if trace.fewest_switches and len(trace.threads) > 1:
        text += " (no shortest path to this state has fewer)"
    return text


def cpu_names(trace: Trace) -> dict[str, str]:
    """Thread instance name -> `CPU0`, `CPU1`, ... in order of first appearance."""
    names = {s.tid: s.thread for s in trace.steps}
    return {names[tid]: f"CPU{i}" for i, tid in enumerate(trace.threads)}


def cpu_labels(trace: Trace) -> dict[int, str]:
    """Thread id -> `CPU0`, `CPU1`, ... in order of first appearance."""
    return {tid: f"CPU{i}" for i, tid in enumerate(trace.threads)}


def by_cpu(trace: Trace) -> Callable[[ThreadRef], str]:
    """Shows a thread as its CPU column (by its instance name if it has none: it takes no step)."""
    labels = cpu_labels(trace)
    return lambda ref: labels.get(ref.tid, ref.name)


def change_lines(step: TraceStep, show: Callable[[ThreadRef], str] = by_name) -> list[str]:
    """`name: old -> new` for each variable the step changed, then `[lock] holders; waiters` for each row of
    the lock table it changed, as it is after the step, threads shown by `show`."""
    lines = [f"{name}: {old} -> {new}" for name, old, new in step.changes]
    lines.extend(f"[{lock}] {new.spell(show)}" for lock, _, new in step.lock_table)
    return lines


def _short(location: str, ambiguous: set[str]) -> str:
    """`net_sem.yaml:75` rather than `specs/net_sem.yaml:75`, unless two files share that name."""
    path, _, line = location.rpartition(":")
    base = path.rsplit("/", 1)[-1]
    return location if base in ambiguous else f"{base}:{line}"


def _ambiguous(trace: Trace) -> set[str]:
    paths: dict[str, set[str]] = {}
    for step in trace.steps:
        path = step.location.rpartition(":")[0]
        paths.setdefault(path.rsplit("/", 1)[-1], set()).add(path)
    return {base for base, full in paths.items() if len(full) > 1}


def _cell(step: TraceStep, width: int, ambiguous: set[str], new_frame: bool,
          show: Callable[[ThreadRef], str]) -> list[str]:
    lines = []
    if new_frame and step.frame:
        lines.extend(_wrap(f"{step.frame[-1]}():", width))
    where = _short(step.location, ambiguous) if step.location else ""
    text = "  " + step.statement
    if where and len(text) + 2 + len(where) <= width:
        lines.append(text.ljust(width - len(where)) + where)
    else:
        lines.extend(_wrap(text, width))
        if where:   # too long for a narrow column: its end (the line number) matters most
            lines.append(where.rjust(width) if len(where) <= width else "..." + where[3 - width:])
    if step.remark:
        lines.extend(_wrap("    -> " + step.remark.spell(show), width))
    for change in change_lines(step, show):
        lines.extend(_wrap("    " + change, width))
    return lines


def _wrap(text: str, width: int) -> list[str]:
    out = []
    indent = text[: len(text) - len(text.lstrip())]
    while len(text) > width:
        cut = text.rfind(" ", len(indent) + 8, width)
        cut = cut if cut > 0 else width
        out.append(text[:cut])
        text = indent + "   " + text[cut:].lstrip()
    out.append(text)
    return out


def cpu_table(trace: Trace, fit: int | None = None) -> list[str] | None:
    """One column per thread (CPU0, CPU1, ...), one row per step, each cell the statement and its line.
    `fit`: narrow the columns (cells wrap) so that no line is longer; None when even columns of
    MIN_COLUMN do not fit."""
    order = trace.threads
    column = {tid: i for i, tid in enumerate(order)}
    names = {s.tid: s.thread for s in trace.steps}
    ambiguous = _ambiguous(trace)
    show = by_cpu(trace)
    longest = max((len(s.statement) + len(_short(s.location, ambiguous)) + 4 for s in trace.steps), default=20)
    longest = max([longest] + [len(line) + 4 for s in trace.steps for line in change_lines(s, show)])
    width = max(30, min(COLUMN, longest))
    gap = 3
    if fit is not None and 2 + (width + gap) * len(order) - gap > fit:
        width = (fit - 2 + gap) // max(1, len(order)) - gap
        if width < MIN_COLUMN:
            return None
    heads = [f"CPU{i} {names[t]}"[:width] for i, t in enumerate(order)]
    rows = ["  " + "".join(h.ljust(width + gap) for h in heads).rstrip(),
            "  " + "".join(("-" * len(h)).ljust(width + gap) for h in heads).rstrip()]
    frames: dict[int, tuple[str, ...]] = {}
    marks = cycle_marks(trace)
    rule = max(len(r) for r in rows) - 2
    for i, step in enumerate(trace.steps):
        if i in marks:
            rows.append("  " + _marker(marks[i], rule))
            frames.clear()
        new_frame = frames.get(step.tid) != step.frame
        frames[step.tid] = step.frame
        for line in _cell(step, width, ambiguous, new_frame, show):
            rows.append(("  " + " " * ((width + gap) * column[step.tid]) + line).rstrip())
    if len(trace.steps) in marks:
        rows.append("  " + _marker(marks[len(trace.steps)], rule))
    return rows


def cycle_marks(trace: Trace) -> dict[int, str]:
    """For a run that repeats forever: the lines to show before a step (or after the last, at its index)."""
    if trace.cycle is None:
        return {}
    n = len(trace.steps)
    if trace.cycle == n:
        return {n: "then nothing can step: the run stays in this state forever"}
    again = "repeats forever" if trace.cycle_fair else "can repeat as often as one likes"
    return {trace.cycle: f"cycle: from here the run {again}",
            n: f"back to the state at the start of the cycle (before step {trace.cycle + 1})"}


def _marker(text: str, width: int) -> str:
    """`==== text ====`, at least `width` wide."""
    side = max(4, (width - len(text) - 2) // 2)
    return f"{'=' * side} {text} {'=' * side}"


def step_list(trace: Trace) -> list[str]:
    """The `--trace steps` form: a numbered list of steps."""
    cpu = {tid: i for i, tid in enumerate(trace.threads)}
    rows = []
    marks = cycle_marks(trace)
    for i, step in enumerate(trace.steps, 1):
        if i - 1 in marks:
            rows.append("  " + _marker(marks[i - 1], 60))
        note = f"  -> {step.note}" if step.note else ""
        rows.append(f"  {i:3}. CPU{cpu[step.tid]} {step.thread:<24} {step.location:<28} {step.statement}{note}")
        rows.extend(f"         {line}" for line in change_lines(step))
    if len(trace.steps) in marks:
        rows.append("  " + _marker(marks[len(trace.steps)], 60))
    return rows
