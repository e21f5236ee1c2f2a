"""Workqueues (model/lang/works.py): the calls' meaning, lockdep's work and workqueue maps in the lock-order
graph, the examples, located errors, and agreement of the compilations: the production explorer, the
independent reference explorer (tests/reference_explorer.py, which interprets the calls itself) and the z3
relation, on small specs and on random specs with workqueues (tests/spec_generator.py, `min_works=1`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from netcheck.checker.analyses.lockorder import lock_order
from netcheck.checker.engine.explore import explore
from netcheck.model.lang.errors import SpecError
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.system import TransitionSystem
from spec_generator import BUG_PATTERNS
from test_reference_agreement import generated_specs_agree
from test_wait_queues import verdicts as agreed  # production and reference agreeing, the relation on every state

WORK_SPECS = {**BUG_PATTERNS, "min_works": 1}
EXAMPLES = int(os.environ.get("NETCHECK_HYPOTHESIS_EXAMPLES") or 20)

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


# ---------------------------------------------------------------- the kernel's meaning, both explorers agreeing

TWO = """netcheck: 1
state:
  order: {type: "int[0..3]"}
  go: {type: bool, init: true}
workqueues:
  wq: {ordered: ORDERED}
works:
  a: {queue: wq, run: run_a}
  b: {queue: wq, run: run_b}
procedures:
  run_a():
    - order = 2 if order == 1 else 3
  run_b():
    - await: go
    - order = 1 if order == 0 else 3
"""


def two(body: str, ordered: bool = True, props: str = "") -> str:
    return TWO.replace("ORDERED", "true" if ordered else "false") + body + "threads:\n  t: {run: user()}\n" + props


QUEUE_BOTH = "  user():\n    - queue_work: wq, b\n    - queue_work: wq, a\n    - flush_workqueue: wq\n"


@pytest.mark.parametrize(("text", "violated"), [
    # an ordered queue runs b, then a (queue order): order goes 0 -> 1 -> 2 (a first: 3)
    (two(QUEUE_BOTH, props='properties:\n  fifo: {final: "order == 2"}\n'), set()),
    # an unbound queue runs them concurrently: either order
    (two(QUEUE_BOTH, False, props='properties:\n  fifo: {final: "order == 2"}\n'), {"fifo"}),
    # queue_work on a pending item does nothing and returns false (the ordered worker is busy with b)
    (two("  user():\n    locals: {q1: bool, q2: bool}\n    body:\n      - go = false\n      - queue_work: wq, b\n"
         "      - await: b == WORK_RUNNING\n      - queue_work: wq, a\n        result: q1\n"
         "      - queue_work: wq, a\n        result: q2\n      - assert: q1 and not q2\n        name: second\n"
         "      - go = true\n"), set()),
    # cancel_work_sync: a pending item is taken off (its procedure may never run), a running one waited for
    (two("  user():\n    locals: {was: bool}\n    body:\n      - queue_work: wq, a\n      - cancel_work_sync: a\n"
         "        result: was\n      - assert: a == WORK_IDLE and was == (order == 0)\n        name: idle\n",
         props='properties:\n  never_ran: {reachable: "order == 0 and running(user) == 0"}\n'),
     {"never_ran"}),
    # flush_work under a spinlock sleeps in atomic context
    (two("  user():\n    - spin_lock: s\n    - flush_work: a\n    - spin_unlock: s\n").replace(
        "workqueues:", "locks:\n  s: spinlock\nworkqueues:"), {"lock_discipline"}),
])
def test_semantics(text: str, violated: set[str]) -> None:
    assert agreed(text) == violated


def test_queue_work_while_cancel_waits_returns_false() -> None:
    """A canceler holds the pending bit while the run it found returns (b's run waits for `go`): queue_work
    then fails."""
    text = two("""  user():
    - go = false
    - queue_work: wq, b
    - cancel_work_sync: b
  other():
    locals: {q: bool}
    body:
      - await: b == WORK_CANCELING
      - queue_work: wq, b
        result: q
      - assert: not q
        name: refused
      - go = true
""").replace("threads:\n  t: {run: user()}\n", "threads:\n  t: {run: user()}\n  o: {run: other()}\n")
    assert agreed(text) == {"deadlock_free"}   # `other` waits forever when the cancel found a pending item


def test_random_workqueue_specs_agree_with_the_reference() -> None:
    assert generated_specs_agree(WORK_SPECS, EXAMPLES) >= 0.8 * EXAMPLES
