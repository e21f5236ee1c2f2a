"""Hidden hangs (checker/analyses/hangs.py): killable waits that can last forever, or through unboundedly
many slow steps of the threads they wait for, which the hung-task detector never reports; on small specs
worked out by hand and on the looping versions of the three protocols."""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent

import pytest
from click.testing import CliRunner
from helpers import SPECS
from netcheck.checker.cli import main
from netcheck.checker.engine.explore import explore
from netcheck.checker.render.text import render_text
from netcheck.checker.report.build import build_report
from netcheck.model.semantics.system import TransitionSystem
from test_reference_agreement import load_text

# cleanup takes m and waits for a grace period under it, forever; the creator waits for m killably. Under
# strong fairness it gets m in the end, but before that the holder can complete any number of grace
# periods: a hidden hang. The same wait made plain is no hidden hang (khungtaskd sees it), but then a
# killed creator cannot leave it: returns_when_killed fails.
BEHIND_CLEANUP = """
    netcheck: 1
    locks: {m: mutex}
    procedures:
      cleanup():
        - while: true
          do:
            - mutex_lock: m
            - synchronize_rcu
            - mutex_unlock: m
      creator():
        - mutex_lock_killable: m
          on_fail: return
        - mutex_unlock: m
    threads:
      cleanup: {run: cleanup(), daemon: true}
      creator: creator()
    properties:
      creator_progress: {progress: creator, fairness: strong}
      killed_creator_returns: {returns_when_killed: creator, fairness: strong}
"""
PLAIN = BEHIND_CLEANUP.replace("""        - mutex_lock_killable: m
          on_fail: return""", """        - mutex_lock: m""")


def report_of(text: str):
    system = TransitionSystem(load_text(text))
    return build_report("spec.yaml", explore(system, measure_memory=False))


def test_a_killable_wait_behind_grace_periods_is_a_hidden_hang() -> None:
    report = report_of(BEHIND_CLEANUP)
    assert {p.name: p.status for p in report.properties}["creator_progress"] == "holds"
    assert len(report.hangs) == 1
    hang = report.hangs[0]
    assert hang.thread == "creator" and not hang.forever
    assert hang.steps and set(hang.steps) == {"synchronize_rcu() in cleanup()"}
    assert hang.trace is not None and hang.trace.cycle is not None and not hang.trace.cycle_fair
    text = render_text(report, timing=False)
    assert "WARNING: possible hidden hang" in text and "mutex_lock_killable(&m)" in text


def test_the_plain_wait_is_seen_by_the_detector_but_a_killed_creator_cannot_leave() -> None:
    report = report_of(PLAIN)
    assert report.hangs == ()
    statuses = {p.name: p.status for p in report.properties}
    assert statuses["killed_creator_returns"] == "violated"
    assert statuses["creator_progress"] == "holds"


def test_a_killable_wait_that_can_last_forever_under_weak_fairness() -> None:
    report = report_of(BEHIND_CLEANUP.replace("fairness: strong}", "fairness: weak}"))
    assert [h.forever for h in report.hangs] == [True]
    assert "can sleep forever on a weakly fair run" in report.hangs[0].summary


@pytest.mark.parametrize("version, hang", [("net_mutex", True), ("net_sem", True), ("pernet_ops_rwsem", False)])
def test_the_seed_story_in_the_looping_versions(version: str, hang: bool, tmp_path: Path) -> None:
    """Before the series ends, a creator sleeping killably for net_mutex can wait behind any number of
    grace periods of the threads that hold it, unseen; pernet_ops_rwsem.yaml has no such wait."""
    out = tmp_path / "r.json"
    result = CliRunner().invoke(main, ["verify", str(SPECS / "looping" / f"{version}_loop.yaml"),
                                       "--format", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    hangs = (data["specs"][0] if "specs" in data else data).get("hidden_hangs", [])
    assert bool(hangs) == hang
    if hang:
        assert hangs[0]["wait"].startswith("mutex_lock_killable(&net_mutex)") and not hangs[0]["forever"]


def test_the_html_report_shows_the_warning(tmp_path: Path) -> None:
    spec = tmp_path / "cleanup.yaml"
    spec.write_text(dedent(BEHIND_CLEANUP).lstrip())
    page = tmp_path / "r.html"
    CliRunner().invoke(main, ["report", str(spec), "-o", str(page)])
    html = page.read_text()
    assert "Hidden hangs: killable waits that can last with no warning" in html
    assert "WARNING: possible hidden hang" in html and "mutex_lock_killable(&amp;m)" in html
