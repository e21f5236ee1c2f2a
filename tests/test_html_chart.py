"""The HTML report's chart of slow steps waited through (waits_on_slow with `during:`), one group of bars per
version, and how the page shows a liveness counterexample (a lasso), on small specs worked out by hand, the
three versions without modules and the looping specs."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from textwrap import dedent

import pytest
from click.testing import CliRunner
from helpers import SPECS
from netcheck.checker.cli import main
from netcheck.checker.render import html as html_report
from test_latency import BEHIND_A_QUEUED_WRITER, TWO_UNDER_A_MUTEX
from test_liveness import STARVING_MUTEX

QUESTION = "properties:\n  creator_waits: {waits_on_slow: creator, during: create}\n"

class Tags(HTMLParser):
    """The page's start tags, to count."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, str]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs).get("class") or ""))

    def count(self, tag: str, cls: str = "") -> int:
        return sum(1 for t, c in self.tags if t == tag and (not cls or cls in c.split()))


@pytest.fixture(autouse=True)
def no_graphviz(monkeypatch) -> None:
    """The chart is drawn by hand, not by Graphviz: without it, the page's only SVG is the chart's."""
    monkeypatch.setattr(html_report, "find_dot", lambda: None)


def report(tmp_path: Path, *args: str) -> str:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", "--no-timing", *args, "-o", str(out)])
    assert result.exit_code in (0, 1), result.output
    return out.read_text()


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def section(html: str) -> str:
    """The page's chart section."""
    start = html.index('<section id="waited">')
    return html[start:html.index("</section>", start)]


def table_rows(html: str) -> list[list[str]]:
    """The chart's table: one list of cell texts per question."""
    body = section(html).split('<table class="waited">')[1]
    return [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(<td.*?)</tr>", body)]


def test_hand_worked_answers_are_the_bars(tmp_path) -> None:
    """Two grace periods under a mutex: 2 and 2; behind a queued writer: 2, and 0 not counting it. One
    scale: 2 is the longest finite bar (280 px), 0 draws no bar, only its label."""
    two = write(tmp_path, "two.yaml", dedent(TWO_UNDER_A_MUTEX) + QUESTION)
    queued = write(tmp_path, "queued.yaml", dedent(BEHIND_A_QUEUED_WRITER) + QUESTION)
    html = report(tmp_path, two, queued)
    rows = table_rows(html)
    assert [r[:5] for r in rows] == [["two", "creator_waits", "create()", "2", "2"],
                                     ["queued", "creator_waits", "create()", "2", "0"]]
    assert rows[0][5] == "synchronize_rcu() in holder() x2"
    chart = section(html)
    assert chart.count('<rect x="200"') == 3 and chart.count('width="280"') == 3 and "<polygon" not in chart
    assert ("every wait 2, not behind a queued writer 2. queued, creator_waits inside create(): every wait 2, "
            "not behind a queued writer 0.") in chart
    assert html.index('id="summary"') < html.index('id="waited"') < html.index('<section class="spec"')
    dom = Tags(html)
    assert dom.count("figure", "waited") == 3   # the page's chart, and one in each spec's section
    assert dom.count("svg") == 3 and dom.count("title") == 4 and dom.count("desc") == 3


def test_the_three_versions_without_modules(tmp_path) -> None:
    """net_mutex, net_sem, pernet_ops_rwsem, each extended by the question: 1, 1 and 0 (docs/analyses.md)."""
    paths = []
    for name in ("net_mutex", "net_sem", "pernet_ops_rwsem"):
        paths.append(write(tmp_path, f"{name}.yaml", f"netcheck: 1\nextends: {SPECS / name}.yaml\nname: {name}\n"
                           "properties:\n  creator_waits: {waits_on_slow: creator, during: copy_net_ns}\n"))
    html = report(tmp_path, "--bound", "subsys=0", "--bound", "device=0", *paths)
    assert [r[:5] for r in table_rows(html)] == [
        ["net_mutex", "creator_waits", "copy_net_ns()", "1", "1"],
        ["net_sem", "creator_waits", "copy_net_ns()", "1", "1"],
        ["pernet_ops_rwsem", "creator_waits", "copy_net_ns()", "0", "0"]]
    assert "pernet_ops_rwsem, creator_waits inside copy_net_ns(): every wait 0, not behind a queued writer 0." \
        in section(html)


def test_unbounded_is_a_full_bar_with_an_arrow(tmp_path) -> None:
    """net_mutex_loop.yaml: a creator blocked in copy_net_ns() waits through unboundedly many slow steps."""
    html = report(tmp_path, str(SPECS / "looping" / "net_mutex_loop.yaml"))
    assert [r[:5] for r in table_rows(html)] == [
        ["net_mutex_loop", "creator_waits_on_grace_period", "copy_net_ns()", "unbounded", "unbounded"]]
    chart = section(html)
    assert chart.count('<rect x="200" y="') == 2 and chart.count('width="308"') == 2 and chart.count("<polygon") == 2
    assert chart.count('font-weight="700">unbounded</text>') == 2
    assert "every wait unbounded, not behind a queued writer unbounded." in chart


def test_a_lower_bound_is_labelled(tmp_path) -> None:
    """A run cut short (6 states) has seen one of the two grace periods: at least 1, a dashed bar."""
    two = write(tmp_path, "two.yaml", dedent(TWO_UNDER_A_MUTEX) + QUESTION)
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", "--no-timing", "--max-states", "6", two, "-o", str(out)])
    assert result.exit_code == 3, result.output
    html = out.read_text()
    assert [r[3:5] for r in table_rows(html)] == [["at least 1 (lower bound)", "at least 1 (lower bound)"]]
    assert section(html).count('stroke-dasharray="4 2"') == 2


def test_no_question_with_during_no_chart(tmp_path) -> None:
    html = report(tmp_path, write(tmp_path, "two.yaml", dedent(TWO_UNDER_A_MUTEX)))
    assert 'id="waited"' not in html and "Slow steps waited through" not in html and "<svg" not in html


def test_the_page_is_one_file_and_the_same_each_time(tmp_path) -> None:
    two = write(tmp_path, "two.yaml", dedent(TWO_UNDER_A_MUTEX) + QUESTION)
    first = report(tmp_path, two, str(SPECS / "looping" / "net_mutex_loop.yaml"))
    assert report(tmp_path, two, str(SPECS / "looping" / "net_mutex_loop.yaml")) == first
    assert not re.search(r"<(script|link|iframe|img|object|embed)\b|\bsrc=|url\(|@import|https?:", first)


def test_a_lasso_reads_as_a_cycle(tmp_path) -> None:
    """A mutex waiter starved under weak fairness (tests/test_liveness.py): the table and the sentences mark
    the steps that repeat, and the lock table is the state where the cycle starts, not a final state."""
    html = report(tmp_path, write(tmp_path, "starving.yaml", dedent(STARVING_MUTEX)))
    dom = Tags(html)
    assert dom.count("article", "violation") == 2   # waiter_gets_m and done_eventually, each a lasso
    assert dom.count("tr", "cycle") == 4 and dom.count("tr", "in-cycle") == 4 and dom.count("ol", "in-cycle") == 2
    words = html[html.index("The counterexample in words"):html.index("</details>")]
    assert re.search(r'<ol><li>[^<]*takes m[^<]*</li></ol><p class="cycle">&#x21bb; cycle: from here the run '
                     r'repeats forever</p><ol class="in-cycle" start="2"><li>It then releases m[^<]*</li><li>'
                     r"It then takes m", words)
    assert "steps 2 to 3 can repeat forever. So waiter_gets_m is violated" in words
    assert "<h4>The state where the cycle starts (before step 2, again after step 3)</h4>" in html
    assert "Final state" not in html and "held by hog; wanted by waiter" in html


def test_a_looping_spec_with_liveness_that_holds(tmp_path) -> None:
    """net_sem_loop.yaml without the device module: its liveness properties hold (no violation on the page;
    the one run that repeats is its hidden hang's), and its creators wait through unboundedly many slow
    steps; pernet_ops_rwsem_loop.yaml's through none."""
    loops = SPECS / "looping"
    html = report(tmp_path, "--bound", "device=0", str(loops / "net_sem_loop.yaml"),
                  str(loops / "pernet_ops_rwsem_loop.yaml"))
    assert 'class="violation"' not in html and "creators_progress" in html
    assert html.count('<tr class="cycle">') == 2 and html.count("possible hidden hang") == 1
    assert [r[3:5] for r in table_rows(html)] == [["unbounded", "unbounded"], ["0", "0"]]
