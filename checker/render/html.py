"""`netcheck report`: one self-contained HTML page for a set of specs.

The page needs nothing but itself: CSS is inline, pictures are inline SVG drawn by Graphviz's `dot`
(called as a subprocess) or, where Graphviz is missing, replaced by a notice and their DOT source. It
holds a summary table of every spec and property, each counterexample as a CPU-column table (one column
per thread, one row per step, with what each step changed) and as sentences, the lock-order graph of each
spec, for state spaces under STATE_GRAPH_LIMIT states the state graph with the counterexample path in red,
and a labelled picture a person can read: the counterexample's states and their neighbours (with no
counterexample, the states merged by thread positions), up to READABLE_GRAPH_LIMIT nodes. The summary
groups the properties by spec, failing specs first, and gives the properties that hold one row per spec.

The lock-order picture is drawn by `lock_order_graph()` from the lock-order analysis the report carries
(checker/analyses/lockorder.py).
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx

from .. import __version__
from ..analyses.graph_export import described, graph_dot
from ..analyses.lockorder import LockOrder
from ..analyses.state_graph import view_size
from ..analyses.trace import Prose, ThreadRef, Trace, TraceStep
from ..engine.result import ExplicitResult
from ..report.build import PropertyResult, SpecReport, WaitedThrough
from .explain import Narrator, ending
from .text import cpu_labels, cpu_names, cycle_marks, trace_summary

STATE_GRAPH_LIMIT = 500
READABLE_GRAPH_LIMIT = 80   # the labelled picture (counterexample neighbourhood, or positions) at most
READABLE_CODE_LIMIT = 400   # the code view stays readable larger: one box per thread declaration
DOT_TIMEOUT = 60.0
STATUS_WORDS = {"holds": "holds", "violated": "VIOLATED", "vacuous": "VACUOUS", "unknown": "UNKNOWN",
                "reachable": "REACHABLE", "unreachable": "unreachable"}

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 2em 3em; color: #1d2330; }
h1 { margin-bottom: .2em; } h2 { border-bottom: 2px solid #d0d7e2; padding-bottom: .2em; margin-top: 2em; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 12.5px; }
table { border-collapse: collapse; margin: .6em 0; }
th, td { border: 1px solid #d0d7e2; padding: .25em .6em; vertical-align: top; text-align: left; }
th { background: #eef2f7; }
.holds { color: #176b2c; font-weight: 600; } .violated { color: #b3261e; font-weight: 700; }
.unknown { color: #8a5a00; font-weight: 700; } .vacuous { color: #b3261e; font-weight: 700; }
.notice { border-left: 4px solid #8a5a00; background: #fff6e0; padding: .5em 1em; }
.info { border-left: 4px solid #3563b8; background: #eef3fc; padding: .5em 1em; }
table.trace td { min-width: 16em; max-width: 34em; } table.trace td.n { min-width: 2em; color: #667; }
table.trace td.empty { background: #fafbfc; }
pre.warning { background: #fff8e6; border-left: 4px solid #e0a040; padding: 0.5em; white-space: pre-wrap; }
table.trace tr.cycle td { background: #fff4e0; color: #8a5300; font-weight: 600; text-align: center; }
table.trace tr.in-cycle td.n { border-left: 3px solid #e0a040; }
p.cycle { color: #8a5300; font-weight: 600; margin: .3em 0; } ol.in-cycle { border-left: 3px solid #e0a040; }
.fn { color: #3563b8; font-size: 12px; } .loc { color: #667; font-size: 12px; white-space: nowrap; }
.note { color: #7a4b00; } .viol { color: #b3261e; font-weight: 700; }
.thread { text-decoration: underline dotted; cursor: help; }
ul.changes { margin: .2em 0 0 0; padding-left: 1.1em; color: #2d5b2d; }
figure { margin: 1em 0; overflow: auto; max-width: 100%; border: 1px solid #e3e8ef; padding: .5em; }
figure svg { max-width: 100%; height: auto; } figure.viewgraph svg { max-width: none; }
figcaption { color: #556; font-size: 12.5px; }
details { margin: .5em 0; } summary { cursor: pointer; color: #3563b8; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: .1em 1em; }
tr.spechead th { background: #dde4ee; } tr.rest td { color: #445; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
figure.waited svg { max-width: 100%; } table.waited td.num { text-align: right; white-space: nowrap; }
"""


@dataclass(frozen=True)
class Section:
    """One spec's part of the page, rendered as soon as the spec is explored (its exploration can go)."""

    report: SpecReport
    anchor: str
    html: str


def find_dot() -> str | None:
    """The Graphviz `dot` binary, if installed."""
    return shutil.which("dot")


def dot_version(dot: str) -> str:
    try:
        out = subprocess.run([dot, "-V"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    m = re.search(r"version\s+(\S+)", out.stderr + out.stdout)
    return m.group(1) if m else ""


def render_svg(dot_source: str, dot: str | None) -> tuple[str | None, str]:
    """(inline SVG, '') or (None, why not)."""
    if dot is None:
        return None, "Graphviz is not installed"
    try:
        out = subprocess.run([dot, "-Tsvg"], input=dot_source, capture_output=True, text=True, timeout=DOT_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, f"Graphviz took longer than {DOT_TIMEOUT:g} s"
    except OSError as err:
        return None, f"Graphviz could not run: {err}"
    if out.returncode != 0 or "<svg" not in out.stdout:
        return None, f"Graphviz failed: {out.stderr.strip()[:200]}"
    svg = out.stdout[out.stdout.index("<svg"):]
    return re.sub(r"<!--.*?-->\n?", "", svg, flags=re.S).strip(), ""


def _q(text: object) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _note(prop: PropertyResult) -> str:
    """Why a property is neither a pass nor a violation with a trace: unknown or vacuous."""
    return f"<br><em>{_e(prop.message)}</em>" if prop.status in ("unknown", "vacuous") else ""


def _anchor(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", "-".join(parts)).strip("-")


# ---------------------------------------------------------------- lock order


def lock_order_graph(order: LockOrder | None) -> nx.DiGraph | None:
    """Lock classes and held -> acquired dependencies; edge attributes `modes`, `functions`, `cycle`."""
    if order is None:
        return None
    g = nx.DiGraph()
    g.add_nodes_from(order.classes)
    for dep in order.deps:
        a, b = dep.held, dep.acquired
        if not g.has_edge(a, b):
            g.add_edge(a, b, modes=set(), functions=set(), cycle=False)
        g[a][b]["modes"].add(f"{dep.held_mode} -> {dep.acquired_mode}")
        g[a][b]["functions"].add(dep.acquired_site.function or "?")
    for cycle in order.cycles:
        locks = list(cycle.locks)
        for a, b in zip(locks, locks[1:] + locks[:1]):
            if g.has_edge(a, b):
                g[a][b]["cycle"] = True
    return g


def lock_order_dot(g: nx.DiGraph, name: str) -> str:
    lines = [f"digraph {_q('lock order: ' + name)} {{", "  rankdir=LR;",
             '  node [shape=box, style="rounded,filled", fillcolor="#eef2f7", fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9, color="#556070"];']
    for node in sorted(g.nodes):
        lines.append(f"  {_q(node)};")
    for a, b in sorted(g.edges):
        data = g[a][b]
        label = "\\n".join(sorted(data["modes"]))
        tip = "taken in " + ", ".join(f"{f}()" for f in sorted(data["functions"]))
        extra = ', color="#b3261e", fontcolor="#b3261e", penwidth=2.2' if data["cycle"] else ""
        lines.append(f"  {_q(a)} -> {_q(b)} [label={_q(label)}, tooltip={_q(tip)}{extra}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- state graph


def state_graph_dot(exp: ExplicitResult, highlight: Sequence[int]) -> str:
    g = described(exp, "full", highlight)
    on_path = set(zip(highlight, highlight[1:]))
    path_nodes = set(highlight)
    lines = [f"digraph {_q('states: ' + exp.system.spec.name)} {{", "  graph [ranksep=0.35, nodesep=0.12];",
             '  node [shape=circle, width=0.22, height=0.22, fixedsize=true, label="", style=filled, '
             'fillcolor="#c9d3e0", color="#8792a2"];',
             '  edge [arrowsize=0.4, color="#b0b8c4"];']
    for sid, data in g.nodes(data=True):
        fill = "#b3261e" if sid in path_nodes else "#f4a7a1" if data.get("deadlock") else \
            "#9fd3a8" if data.get("final") else ""
        shape = ", shape=doublecircle" if data.get("depth") == 0 else ""
        style = f', fillcolor="{fill}"' if fill else ""
        tip = f"state {sid}\n{data['label']}"
        lines.append(f"  {sid} [tooltip={_q(tip)}{style}{shape}];")
    for u, v, data in g.edges(data=True):
        tip = f"{data['thread']}: {data['statement']} ({data['location']})"
        extra = ', color="#b3261e", penwidth=2.5, arrowsize=0.7' if (u, v) in on_path else ""
        lines.append(f"  {u} -> {v} [tooltip={_q(tip)}{extra}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def readable_graph(exp: ExplicitResult, path: Sequence[int], violated: str, dot: str | None) -> str:
    """A labelled picture a person can read: the counterexample's states and their neighbours, or with no
    counterexample each thread declaration's statements and which follows which (the code view); a
    sentence instead when it has too many nodes."""
    view = "trace" if path else "code"
    nodes = view_size(exp, view, path)
    limit = READABLE_GRAPH_LIMIT if path else READABLE_CODE_LIMIT
    what = (f"The counterexample to {violated} (red) and every state one step from it" if path else
            "Each thread's statements and which can follow which (a box per thread declaration)")
    if nodes > limit:
        return (f'<p class="info">{_e(what)}: {nodes:,} nodes, drawn only up to {limit}. '
                f"<code>netcheck verify --graph g.dot --graph-view {view}</code> writes it (and "
                "<code>--graph-view locks</code> the lock-state graph).</p>")
    caption = (f"{what}: {nodes} nodes, " + ("each with its threads' positions, lock owners and queues and shared "
                                               "variables; pink: deadlocked, green: final." if path else
                                               "each with how many explored states have a thread there, each "
                                               "edge with how many steps take it."))
    return _figure("viewgraph", graph_dot(described(exp, view, path)), caption, dot)


def _path_ids(exp: ExplicitResult, trace: Trace | None) -> list[int]:
    if trace is None:
        return []
    return exp.ids_of(trace.states)


# ---------------------------------------------------------------- HTML pieces


def _prose(prose: Prose, show: dict[int, str], title: dict[int, str]) -> str:
    """Prose as HTML: each thread a `thread` element showing `show[tid]` (its instance name when absent), with
    `title[tid]` as its tooltip."""
    out = []
    for part in prose.parts:
        if isinstance(part, ThreadRef):
            label, tip = show.get(part.tid, part.name), title.get(part.tid, part.name)
            out.append(f'<span class="thread" title="{_e(tip)}">{_e(label)}</span>')
        else:
            out.append(_e(part))
    return "".join(out)


def _change_items(step: TraceStep, cpus: dict[int, str], names: dict[int, str]) -> list[str]:
    """What a step changed, as list items: variables, then lock-table rows with threads as CPU columns."""
    items = [_e(f"{name}: {old} -> {new}") for name, old, new in step.changes]
    items.extend(f"{_e(f'[{lock}]')} {_prose(new, cpus, names)}" for lock, _, new in step.lock_table)
    return items


def trace_table(trace: Trace) -> str:
    """The counterexample as an HTML table: one column per CPU, one row per step. Notes name threads by
    instance name, lock-table rows by CPU column; each such thread carries the other as its tooltip."""
    cpus = cpu_names(trace)
    order = list(cpus)
    labels = cpu_labels(trace)
    names = {s.tid: s.thread for s in trace.steps}
    head = "".join(f"<th>{_e(cpus[name])} {_e(name)}</th>" for name in order)
    rows = []
    frames: dict[str, tuple[str, ...]] = {}
    marks = cycle_marks(trace)
    span = len(order) + 1

    def mark(i: int) -> None:
        if i in marks:
            rows.append(f'<tr class="cycle"><td colspan="{span}">&#x21bb; {_e(marks[i])}</td></tr>')
    for n, step in enumerate(trace.steps, 1):
        mark(n - 1)
        parts = []
        if frames.get(step.thread) != step.frame and step.frame:
            parts.append(f'<div class="fn">{_e(step.frame[-1])}()</div>')
        frames[step.thread] = step.frame
        parts.append(f"<code>{_e(step.statement)}</code>")
        if step.location:
            parts.append(f' <span class="loc">{_e(step.location)}</span>')
        if step.remark:
            cls = "viol" if step.note.startswith("VIOLATION") else "note"
            parts.append(f'<div class="{cls}">&rarr; {_prose(step.remark, names, labels)}</div>')
        changes = _change_items(step, labels, names)
        if changes:
            parts.append('<ul class="changes">' + "".join(f"<li class=\"mono\">{c}</li>" for c in changes)
                         + "</ul>")
        cells = "".join(f'<td class="step">{"".join(parts)}</td>' if name == step.thread else '<td class="empty"></td>'
                        for name in order)
        looped = ' class="in-cycle"' if trace.cycle is not None and n > trace.cycle else ""
        rows.append(f'<tr{looped}><td class="n">{n}</td>{cells}</tr>')
    mark(len(trace.steps))
    return (f'<table class="trace"><thead><tr><th>#</th>{head}</tr></thead><tbody>'
            + "\n".join(rows) + "</tbody></table>")


def _violation(report: SpecReport, prop: PropertyResult, anchor: str) -> str:
    out = [f'<article class="violation" id="{anchor}">',
           f'<h3>{_e(prop.name)}: <span class="violated">VIOLATED</span> <small>({_e(prop.kind)}'
           f'{", " + _e(prop.location) if prop.location else ""})</small></h3>']
    if prop.about:
        out.append(f"<p>{_e(prop.about)}</p>")
    expression = prop.expression if prop.kind in ("invariant", "final") else ""
    if expression:
        out.append(f"<p>As written: <code>{_e(expression)}</code></p>")
    out.append(f'<p class="viol">{_e(prop.message)}</p>')
    trace = prop.trace
    if trace is not None and trace.steps:
        out.append(f"<p><strong>{_e(trace_summary(trace))}</strong></p>")
        out.append(trace_table(trace))
        out.append("<details open><summary>The counterexample in words</summary>" + _words(trace)
                   + _ending(ending(prop)) + "</details>")
    if prop.waits and not (trace is not None and trace.steps and prop.kind == "deadlock"):   # else in words
        out.append("<h4>Stuck threads</h4><ul>" + "".join(f"<li class=\"mono\">{_e(w)}</li>" for w in prop.waits)
                   + "</ul>")
    if prop.context:
        out.append(f'<h4>{_e(_context_heading(trace))}</h4><table class="kv">' + "".join(
            f"<tr><th class=\"mono\">{_e(n)}</th><td class=\"mono\">{_e(v)}</td></tr>" for n, v in prop.context)
            + "</table>")
    out.append("</article>")
    return "\n".join(out)


def _words(trace: Trace) -> str:
    """The steps as numbered sentences; a run that repeats forever is two lists, the steps before its cycle
    and the cycle's (marked as in the trace table)."""
    items = [f"<li>{_e(s)}</li>" for s in Narrator(trace).sentences()]
    start = trace.cycle
    if start is None or start >= len(items):
        return "<ol>" + "".join(items) + "</ol>"
    stem = "<ol>" + "".join(items[:start]) + "</ol>" if start else ""
    return (f'{stem}<p class="cycle">&#x21bb; {_e(cycle_marks(trace)[start])}</p>'
            f'<ol class="in-cycle" start="{start + 1}">' + "".join(items[start:]) + "</ol>")


def _context_heading(trace: Trace | None) -> str:
    """What the state the violation's table shows is: final, or where a run that repeats forever goes round."""
    if trace is None or trace.cycle is None:
        return "Final state"
    n = len(trace.steps)
    if trace.cycle == n:
        return "The state the run stays in forever"
    return f"The state where the cycle starts (before step {trace.cycle + 1}, again after step {n})"


def _ending(lines: Sequence[str]) -> str:
    """What the last state means: its sentences as a paragraph, its `  - ` items (stuck threads) as a list."""
    items = [line.strip()[2:] for line in lines if line.strip().startswith("- ")]
    text = " ".join(line.strip() for line in lines if not line.strip().startswith("- "))
    return (f"<p>{_e(text)}</p>" if text else "") + (
        '<ul class="ending">' + "".join(f'<li class="mono">{_e(i)}</li>' for i in items) + "</ul>" if items else "")


def _figure(kind: str, dot_source: str, caption: str, dot: str | None) -> str:
    svg, why = render_svg(dot_source, dot)
    if svg is not None:
        return f'<figure class="{kind}">{svg}<figcaption>{_e(caption)}</figcaption></figure>'
    return (f'<figure class="{kind} nopicture"><p class="notice">No picture: {_e(why)}. '
            "The graph's DOT source follows (render it with <code>dot -Tsvg</code>).</p>"
            f"<details><summary>DOT source</summary><pre>{_e(dot_source)}</pre></details>"
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def spec_section(report: SpecReport, exp: ExplicitResult, index: int, dot: str | None, timing: bool = True) -> Section:
    """Everything the page says about one spec."""
    anchor = _anchor(f"spec{index}", report.name)
    s = report.stats
    out = [f'<section class="spec" id="{anchor}">', f"<h2>{_e(report.spec)}</h2>"]
    if report.about:
        out.append(f"<p>{_e(report.about)}</p>")
    facts = [("name", report.name), ("files", ", ".join(report.files)),
             ("bounds", ", ".join(f"{n}={v}" for n, v in report.bounds) or "none"),
             ("explored", f"{s.states:,} states, {s.transitions:,} transitions, depth {s.depth}"
                          + ("" if report.complete else f" (INCOMPLETE: {report.stop_reason})")),
             ("exit code", str(report.exit_code))]
    if timing:
        facts.append(("time", f"{s.seconds:.2f} s, peak memory {s.peak_memory_mb:.0f} MB"))
    out.append('<dl class="facts">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts) + "</dl>")
    out.append('<table class="properties"><thead><tr><th>Property</th><th>Kind</th><th>Verdict</th>'
               "<th>Where</th><th>What it says</th></tr></thead><tbody>")
    for prop in report.properties:
        name = _e(prop.name)
        if prop.status == "violated":
            name = f'<a href="#{_anchor(anchor, prop.name)}">{name}</a>'
        out.append(f"<tr><td>{name}</td><td>{_e(prop.kind)}</td><td class=\"{prop.status}\">"
                   f"{STATUS_WORDS[prop.status]}</td><td class=\"loc\">{_e(prop.location)}</td>"
                   f"<td>{_e(prop.about)}{_note(prop)}"
                   "</td></tr>")
    out.append("</tbody></table>")
    chart = waited_chart([report], f"{anchor}-waited")
    if chart:
        out.append(f'<h3>Slow steps waited through</h3><figure class="waited">{chart}'
                   f"<figcaption>{_e(CHART_CAPTION)}</figcaption></figure>")
    for prop in report.properties:
        if prop.status == "violated":
            out.append(_violation(report, prop, _anchor(anchor, prop.name)))
    if report.hangs:
        out.append(hangs_section(report))
    out.append("<h3>Lock order</h3>")
    g = lock_order_graph(report.lock_order)
    if g is None:
        out.append('<p class="notice">No lock-order analysis is available for this spec.</p>')
    elif g.number_of_nodes() == 0:
        out.append("<p>The spec declares no locks.</p>")
    else:
        cycles = sum(1 for _, _, d in g.edges(data=True) if d["cycle"])
        verdict = "Edges of a strong cycle (a potential deadlock) are red." if cycles else "No strong cycle."
        caption = (f"Lock classes of {report.name}: an edge A -> B means some thread takes B while holding A "
                   f"(labels: the modes). {verdict}")
        out.append(_figure("lockorder", lock_order_dot(g, report.name), caption, dot))
    out.append("<h3>State graph</h3>")
    shown = next((p for p in report.properties if p.trace is not None and p.trace.steps), None)
    path = _path_ids(exp, shown.trace if shown else None)
    if s.states >= STATE_GRAPH_LIMIT:
        out.append(f'<p class="info">{s.states:,} states: the state graph is drawn only below '
                   f"{STATE_GRAPH_LIMIT} states.</p>")
    else:
        caption = (f"All {s.states} states and their transitions (hover for details); double circles are initial "
                   "states, green ones final, pink ones deadlocked"
                   + (f"; the counterexample to {shown.name} is in red." if shown else "."))
        out.append(_figure("stategraph", state_graph_dot(exp, path), caption, dot))
    out.append(readable_graph(exp, path, shown.name if shown else "", dot))
    out.append("</section>")
    return Section(report, anchor, "\n".join(out))


def hangs_section(report: SpecReport) -> str:
    """The hidden hangs: each as its warning, with the run that shows it."""
    out = ["<h3>Hidden hangs: killable waits that can last with no warning</h3>"]
    for hang in report.hangs:
        out.append('<article class="hang"><pre class="warning">' + _e("\n".join(hang.lines)) + "</pre>")
        if hang.trace is not None and hang.trace.steps:
            out.append(f"<details><summary>{_e(trace_summary(hang.trace, 'The run that shows it'))}</summary>"
                       + trace_table(hang.trace) + "</details>")
        out.append("</article>")
    return "\n".join(out)


# ---------------------------------------------------------------- slow steps waited through (during:)

CHART_LABEL = 200    # the bars' labels, right-aligned before x = CHART_LABEL
CHART_BAR = 320      # an unbounded bar's length; finite bars end at least CHART_SPARE before it
CHART_SPARE = 40
CHART_VALUE = 190    # the value after each bar
CHART_FONT = 'font-family="system-ui, sans-serif" font-size="12"'
BARS = (("every wait", "#3563b8"), ("not behind a queued writer", "#8fb0e3"))


def waited_questions(report: SpecReport) -> list[tuple[PropertyResult, WaitedThrough]]:
    """The spec's waits_on_slow questions with `during:`, with their answers."""
    return [(p, p.waited) for p in report.properties if p.waited is not None]


def count_text(n: int | None, complete: bool) -> str:
    """`4`, `at least 4 (lower bound)` (a run cut short), or `unbounded`."""
    if n is None:
        return "unbounded"
    return str(n) if complete else f"at least {n} (lower bound)"


def _bar(y: int, label: str, colour: str, n: int | None, complete: bool, unit: float) -> list[str]:
    """One labelled bar at height y: a full-width arrow when unbounded, dashed when a lower bound."""
    x0, mid = CHART_LABEL, y + 7
    out = [f'<text x="{x0 - 8}" y="{mid + 4}" text-anchor="end">{_e(label)}</text>']
    if n is None:
        end = x0 + CHART_BAR
        out.append(f'<rect x="{x0}" y="{y}" width="{CHART_BAR - 12}" height="14" fill="{colour}"/>')
        out.append(f'<polygon points="{end - 12},{y - 2} {end},{mid} {end - 12},{y + 16}" fill="{colour}"/>')
    else:
        end = x0 + round(n * unit)
        dashed = "" if complete else ' stroke="#1d2330" stroke-dasharray="4 2"'
        if n:
            out.append(f'<rect x="{x0}" y="{y}" width="{end - x0}" height="14" fill="{colour}"{dashed}/>')
    weight = ' font-weight="700"' if n is None else ""
    out.append(f'<text x="{end + 6}" y="{mid + 4}"{weight}>{_e(count_text(n, complete))}</text>')
    return out


def waited_chart(reports: Sequence[SpecReport], chart_id: str) -> str:
    """The `during:` answers of `reports` (one version of a protocol each) as an inline SVG: per question
    two bars on one scale, every wait and not behind a queued writer; '' when none asks."""
    asked = [(r, waited_questions(r)) for r in reports]
    asked = [(r, qs) for r, qs in asked if qs]
    if not asked:
        return ""
    finite = [n for _, qs in asked for _, w in qs for n in (w.most, w.most_not_behind_queued_writer) if n is not None]
    unit = (CHART_BAR - CHART_SPARE) / max(finite + [1])
    body: list[str] = []
    words: list[str] = []
    y = 4
    for report, questions in asked:
        body.append(f'<text x="0" y="{y + 13}" font-weight="700">{_e(report.name)}</text>')
        y += 22
        for prop, w in questions:
            body.append(f'<text x="12" y="{y + 12}">{_e(prop.name)}, inside {_e(w.procedure)}()</text>')
            y += 20
            body.append(f'<line x1="{CHART_LABEL}" y1="{y - 3}" x2="{CHART_LABEL}" y2="{y + 37}" stroke="#8792a2"/>')
            for (label, colour), n in zip(BARS, (w.most, w.most_not_behind_queued_writer)):
                body.extend(_bar(y, label, colour, n, w.complete, unit))
                y += 20
            y += 6
            words.append(f"{report.name}, {prop.name} inside {w.procedure}(): every wait "
                         f"{count_text(w.most, w.complete)}, not behind a queued writer "
                         f"{count_text(w.most_not_behind_queued_writer, w.complete)}.")
    width = CHART_LABEL + CHART_BAR + CHART_VALUE
    return (f'<svg width="{width}" height="{y}" viewBox="0 0 {width} {y}" '
            f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" {CHART_FONT} fill="#1d2330">'
            f'<title id="{chart_id}-title">Slow steps other threads complete while a thread waits</title>'
            f'<desc id="{chart_id}-desc">{_e(" ".join(words))}</desc>'
            + "".join(body) + "</svg>")


CHART_CAPTION = ("The most slow steps (synchronize_rcu(), rcu_barrier(), slow: statements) other threads "
                 "complete while a thread of the question is blocked inside the procedure, over every explored "
                 "run; the second bar leaves out its waits behind a queued writer. One scale; an arrow: "
                 "unboundedly many (a cycle of states); a dashed bar: a lower bound (the run was cut short).")


def _steps_text(steps: Sequence[str]) -> str:
    """`synchronize_rcu() in holder() x2, ...`, in the order of the run."""
    counted: dict[str, int] = {}
    for step in steps:
        counted[step] = counted.get(step, 0) + 1
    return ", ".join(f"{s} x{n}" if n > 1 else s for s, n in counted.items()) or "none"


def waited_table(sections: Sequence[Section]) -> str:
    """The chart's numbers as a table, each version linked to its section, with the slow steps of a run
    that reaches the most."""
    rows = [f'<tr><td><a href="#{sec.anchor}">{_e(sec.report.name)}</a></td><td>{_e(p.name)}</td>'
            f'<td class="mono">{_e(w.procedure)}()</td><td class="num">{_e(count_text(w.most, w.complete))}</td>'
            f'<td class="num">{_e(count_text(w.most_not_behind_queued_writer, w.complete))}</td>'
            f'<td class="mono">{_e(_steps_text(w.steps))}</td></tr>'
            for sec in sections for p, w in waited_questions(sec.report)]
    return ('<table class="waited"><thead><tr><th>Version</th><th>Question</th><th>Inside</th><th>Every wait</th>'
            "<th>Not behind a queued writer</th><th>The slow steps of a run that reaches the most (unbounded: "
            "once round the cycle)</th></tr></thead><tbody>" + "\n".join(rows) + "</tbody></table>")


def waited_section(sections: Sequence[Section]) -> str:
    """The page's section comparing the versions' `during:` answers; '' when no spec asks."""
    svg = waited_chart([sec.report for sec in sections], "waited-chart")
    if not svg:
        return ""
    return ('<section id="waited"><h2>Slow steps waited through, per version</h2>'
            f'<figure class="waited">{svg}<figcaption>{_e(CHART_CAPTION)}</figcaption></figure>'
            + waited_table(sections) + "</section>")


SEVERITY = ("violated", "vacuous", "unknown", "reachable", "unreachable", "holds")   # summary row order
ONE_ROW_EACH = ("violated", "vacuous")   # the verdicts the summary lists one property a row; the others grouped


def summary_table(sections: Sequence[Section]) -> str:
    """One group of rows per spec, failing specs first (then those with violations, expected or not): a
    head row, a row per violated or vacuous property, then one row per other verdict naming its properties."""
    order = sorted(sections, key=lambda sec: (sec.report.exit_code == 0,
                                              not any(p.status == "violated" for p in sec.report.properties)))
    return ('<table class="summary"><thead><tr><th>Property</th><th>Kind</th><th>Verdict</th></tr></thead>'
            + "\n".join(_summary_group(sec) for sec in order) + "</table>")


def _summary_group(sec: Section) -> str:
    r = sec.report
    expect = "" if r.expectation is None else "; expect: met" if r.expectation.met else "; expect: NOT met"
    rows = [f'<tr class="spechead"><th colspan="3"><a href="#{sec.anchor}">{_e(r.spec)}</a> '
            f"<small>{r.stats.states:,} states{'' if r.complete else ', INCOMPLETE'}{expect}; exit "
            f"{r.exit_code}</small></th></tr>"]
    for status in SEVERITY:
        props = [p for p in r.properties if p.status == status]
        if status in ONE_ROW_EACH:
            for prop in props:
                name = _e(prop.name)
                if prop.status == "violated":
                    name = f'<a href="#{_anchor(sec.anchor, prop.name)}">{name}</a>'
                rows.append(f"<tr><td>{name}</td><td>{_e(prop.kind)}</td>"
                            f'<td class="{status}">{STATUS_WORDS[status]}</td></tr>')
        elif props:
            rows.append(f'<tr class="rest"><td colspan="2">{len(props)}: {_e(", ".join(p.name for p in props))}'
                        f'</td><td class="{status}">{STATUS_WORDS[status]}</td></tr>')
    return '<tbody class="specgroup">' + "\n".join(rows) + "</tbody>"


def page(sections: Sequence[Section], errors: Sequence[str], dot: str | None, exit_code: int) -> str:
    """The whole page."""
    violated = sum(1 for sec in sections for p in sec.report.properties if p.status == "violated")
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>netcheck report: {len(sections)} spec{'s' if len(sections) != 1 else ''}</title>",
             f"<style>{CSS}</style></head><body>", "<header><h1>netcheck report</h1>",
             f"<p>netcheck {_e(__version__)}: {len(sections)} spec{'s' if len(sections) != 1 else ''}, "
             f"{violated} violated propert{'ies' if violated != 1 else 'y'}, exit code {exit_code}.</p>"]
    if dot is None:
        parts.append('<p class="notice" id="graphviz">Graphviz is not installed (no <code>dot</code> program '
                     "found), so the lock-order and state graphs are not drawn: each is given as DOT source "
                     "instead. Install Graphviz (Debian: <code>apt-get install graphviz</code>) and run "
                     "<code>netcheck report</code> again to get the pictures.</p>")
    else:
        version = dot_version(dot)
        parts.append(f'<p class="info" id="graphviz">Pictures drawn with Graphviz dot'
                     f"{' ' + _e(version) if version else ''}, inline as SVG: this page needs no network.</p>")
    parts.append("</header>")
    if errors:
        parts.append('<section id="errors"><h2>Specs that do not load</h2>'
                     + "".join(f"<pre>{_e(e)}</pre>" for e in errors) + "</section>")
    parts.append('<section id="summary"><h2>Summary</h2>' + summary_table(sections) + "</section>")
    chart = waited_section(sections)
    if chart:
        parts.append(chart)
    parts.extend(sec.html for sec in sections)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
