"""Wait queues (model/lang/waitapi.py, model/semantics/waitqueues.py).

- the kernel's semantics on tiny specs: wait_event() never loses a wake-up, the open-coded loop with
  prepare_to_wait() first neither, the test-before-prepare pattern does (deadlock_free); a condition set
  without wake_up() leaves the sleeper asleep; killable and timed waits take on_fail: with the condition
  false; sleeping under a spinlock is a lock_discipline violation, a second queue a runtime_safety one;
- located diagnostics for misuse (NC217, NC209, NC207 with a hint);
- the production explorer, the independent reference explorer (tests/reference_explorer.py) and the z3
  relation agree on random specs that use wait queues (tests/spec_generator.py, `min_wait_queues=1`), and
  on random specs with the exclusive and interruptible waits too (`wait_variants`);
- exclusive waits: wake_up() wakes every non-exclusive sleeper and one exclusive one, wake_up_all() all;
  interruptible waits end on a signal as the killable ones do.
"""

from __future__ import annotations

import os

import pytest
from netcheck.model.lang.errors import SpecError
from netcheck.model.semantics.system import TransitionSystem
from spec_generator import BUG_PATTERNS
from test_reference_agreement import assert_agree, generated_specs_agree, load_text, production, reference
from test_relation import check_system, generated_specs_agree_with_the_relation

EXAMPLES = int(os.environ.get("NETCHECK_HYPOTHESIS_EXAMPLES") or 60)
VARIANT_EXAMPLES = int(os.environ.get("NETCHECK_HYPOTHESIS_EXAMPLES") or 25)
WAIT_SPECS = {**BUG_PATTERNS, "min_wait_queues": 1}
VARIANT_SPECS = {**WAIT_SPECS, "wait_variants": True}

HEAD = "netcheck: 1\nstate:\n  cond: {type: bool}\n  wq: {type: wait_queue_head_t}\n  other: {type: wait_queue_head_t}\n"


def spec(sleeper: str, waker: str = "    - cond = true\n    - wake_up: wq", extra: str = "") -> str:
    return (f"{HEAD}{extra}procedures:\n  sleeper():\n{sleeper}\n  waker():\n{waker}\n"
            "threads:\n  sleeper: sleeper()\n  waker: waker()\n")


def verdicts(text: str) -> frozenset[str]:
    """The violated properties, production and reference agreeing (and the relation on every state)."""
    s = load_text(text)
    prod, ref = production(s), reference(s)
    assert prod is not None and ref is not None
    assert_agree(s, prod, ref)
    check_system(TransitionSystem(s), samples=10**9)
    return prod.violated


OPEN_CODED = """    - while: true
      do:
        - prepare_to_wait: wq
        - if: cond
          then: [break]
        - schedule
    - finish_wait: wq"""
TEST_FIRST = """    - if: not cond
      then:
        - prepare_to_wait: wq
        - schedule
        - finish_wait: wq"""


@pytest.mark.parametrize(("sleeper", "waker", "violated"), [
    ("    - wait_event: wq, cond", "    - cond = true\n    - wake_up: wq", set()),
    ("    - wait_event: wq, cond", "    - cond = true\n    - wake_up_all: wq", set()),
    ("    - wait_event: wq, cond", "    - cond = true", {"deadlock_free"}),            # no wake_up()
    ("    - wait_event: wq, cond", "    - wake_up: wq\n    - cond = true", {"deadlock_free"}),   # woken too early
    (OPEN_CODED, "    - cond = true\n    - wake_up: wq", set()),
    (TEST_FIRST, "    - cond = true\n    - wake_up: wq", {"deadlock_free"}),            # the lost wake-up
    ("    - schedule", "    - cond = true", set()),                                     # running: no sleep
    # asleep with cond set and no wake_up: only a fatal signal ends it (stuck: signals never count)
    ("    - wait_event_killable: wq, cond\n      on_fail: return", "    - cond = true", {"deadlock_free"}),
    ("    - wait_event_timeout: wq, cond\n      on_fail: return", "    - cond = true", set()),   # times out
    ("    - wait_event_timeout: wq, cond\n      on_fail:\n        - assert: false\n          name: timed_out",
     "    - cond = true\n    - wake_up: wq", {"timed_out"}),
    ("    - prepare_to_wait: other\n    - wait_event: wq, cond", "    - cond = true\n    - wake_up: wq",
     {"runtime_safety"}),
    ("    - prepare_to_wait: wq\n    - finish_wait: other", "    - pass", {"runtime_safety"}),
    ("    - spin_lock: s\n    - wait_event: wq, cond\n    - spin_unlock: s", "    - cond = true\n    - wake_up: wq",
     {"lock_discipline"}),
    ("    - spin_lock: s\n    - prepare_to_wait: wq\n    - spin_unlock: s\n    - if: not cond\n      then: [schedule]\n"
     "    - finish_wait: wq",
     "    - cond = true\n    - wake_up: wq", set()),                                     # the classic unlock-then-sleep
    ("    - rcu_read_lock\n    - schedule\n    - rcu_read_unlock", "    - pass", {"lock_discipline"}),
])
def test_wait_queue_semantics(sleeper: str, waker: str, violated: set[str]) -> None:
    assert verdicts(spec(sleeper, waker, "locks:\n  s: spinlock\n")) == violated


def test_killable_wait_with_the_condition_true_succeeds() -> None:
    """A fatal signal while the condition already holds (set without wake_up) ends the wait with success."""
    text = spec("    - wait_event_killable: wq, cond\n      on_fail:\n        - assert: false\n          name: failed",
                "    - cond = true")
    assert verdicts(text) == {"failed", "deadlock_free"}    # killed before cond = true: on_fail:
    late = spec("    - wait_event_killable: wq, cond\n      on_fail:\n        - assert: false\n          name: failed",
                "    - cond = true", "options:\n  fatal_signals: false\n")
    assert verdicts(late) == {"deadlock_free"}   # no signal: asleep forever (cond set without wake_up)


def test_a_sleeper_is_shown_by_name() -> None:
    system = TransitionSystem(load_text(spec("    - wait_event: wq, cond", "    - pass")))
    s = system.initial_states[0]
    step = system.threads[0].steps[s[system.threads[0].pcslot]]
    after = step.fire(s)
    wq = system.layout.shared["wq"][0]
    assert after and after[0][wq] == 1 and system.slot_text(wq, after[0][wq]) == "{sleeper}"


@pytest.mark.parametrize(("state", "body", "code", "says"), [
    ("  wq: {type: wait_queue_head_t}", "    - x = wq", "NC217", "is a wait queue, not a value"),
    ("  wq: {type: wait_queue_head_t}", "    - await: wq", "NC217", "is a wait queue, not a value"),
    ("  wq: {type: bool}", "    - wake_up: wq", "NC217", "wake_up takes a wait queue"),
    ("  wq: {type: wait_queue_head_t}", "    - wait_event: wq", "NC217", "takes 2 argument(s)"),
    ("  wq: {type: wait_queue_head_t}", "    - wait_event_killable: wq, x", "NC209", "fatal signal"),
    ("  wq: {type: wait_queue_head_t}", "    - wait_event_timeout: wq, x", "NC209", "a timeout"),
    ("  wq: {type: wait_queue_head_t, init: 1}", "    - pass", "NC217", "starts empty"),
    ("  wq: {type: wait_queue_head_t}", "    - wake_up(&wq)", "NC207", "a wait-queue operation is a mapping"),
    ("  wq: {type: wait_queue_head_t}", "    - wait_event: wq, wq", "NC217", "is a wait queue, not a value"),
])
def test_misuse_is_located(state: str, body: str, code: str, says: str) -> None:
    text = f"netcheck: 1\nstate:\n  x: {{type: bool}}\n{state}\nprocedures:\n  t():\n{body}\nthreads:\n  t: t()\n"
    with pytest.raises(SpecError) as info:
        load_text(text)
    d = info.value.diagnostics[0]
    assert d.code == code and says in d.message + d.hint and d.span.line > 0


def test_a_wait_queue_local_is_refused() -> None:
    text = ("netcheck: 1\nprocedures:\n  t():\n    locals:\n      q: wait_queue_head_t\n    body:\n      - pass\n"
            "threads:\n  t: t()\n")
    with pytest.raises(SpecError) as info:
        load_text(text)
    assert info.value.diagnostics[0].code == "NC217"


# ---------------------------------------------------------------- random specs with wait queues


def test_random_wait_queue_specs_agree_with_the_reference() -> None:
    assert generated_specs_agree(WAIT_SPECS, EXAMPLES) >= 0.8 * EXAMPLES


def test_random_wait_queue_specs_agree_with_the_relation() -> None:
    assert generated_specs_agree_with_the_relation(WAIT_SPECS, max(10, EXAMPLES // 3)) > 0


# ---------------------------------------------------------------- exclusive and interruptible waits

TWO_SLEEPERS = "threads:\n  sleeper: sleeper()\n  waker: waker()\n"


def two_sleepers(sleeper: str, waker: str) -> str:
    """Two instances of the sleeper (`count: 2`) and one waker."""
    return spec(sleeper, waker).replace("  sleeper: sleeper()\n", "  sleeper: {run: sleeper(), count: 2}\n")


@pytest.mark.parametrize(("sleeper", "waker", "violated"), [
    # exclusive sleepers: wake_up() wakes one of them (the other sleeps on: stuck), wake_up_all() both
    ("    - wait_event_idle_exclusive: wq, cond", "    - cond = true\n    - wake_up: wq", {"deadlock_free"}),
    ("    - wait_event_idle_exclusive: wq, cond", "    - cond = true\n    - wake_up_all: wq", set()),
    ("    - wait_event_idle_exclusive: wq, cond", "    - cond = true\n    - wake_up: wq\n    - wake_up: wq", set()),
    ("    - wait_event: wq, cond", "    - cond = true\n    - wake_up: wq", set()),   # non-exclusive: all woken
    (OPEN_CODED.replace("prepare_to_wait:", "prepare_to_wait_exclusive:"), "    - cond = true\n    - wake_up: wq",
     {"deadlock_free"}),
    # interruptible: a signal ends the wait at on_fail: with the condition false
    ("    - wait_event_interruptible: wq, cond\n      on_fail:\n        - assert: false\n          name: interrupted",
     "    - cond = true\n    - wake_up_all: wq", {"interrupted"}),
    ("    - wait_event_interruptible_exclusive: wq, cond\n      on_fail: return", "    - cond = true\n    - wake_up: wq",
     {"deadlock_free"}),
])
def test_exclusive_and_interruptible_waits(sleeper: str, waker: str, violated: set[str]) -> None:
    assert verdicts(two_sleepers(sleeper, waker)) == violated


def test_wake_up_wakes_each_exclusive_sleeper_in_some_run() -> None:
    """Which exclusive sleeper wake_up() wakes is left open (one outcome each): both orders are reachable."""
    sleeper = "    - wait_event_idle_exclusive: wq, cond\n    - woken = woken + 1 if woken < 2 else woken"
    text = two_sleepers(sleeper, "    - cond = true\n    - wake_up: wq").replace(
        "  cond: {type: bool}\n", "  cond: {type: bool}\n  woken: {type: \"int[0..2]\"}\n")
    system = TransitionSystem(load_text(text))
    wq = system.layout.shared["wq"][0]
    both = system.initial_states[0]
    for tid in (0, 1):   # both sleepers join the queue
        both = system.threads[tid].steps[both[system.threads[tid].pcslot]].fire(both)[0]
    assert system.slot_text(wq, both[wq]) == "{sleeper[0] (exclusive), sleeper[1] (exclusive)}"
    waker = system.threads[2]
    after = waker.steps[both[waker.pcslot]].fire(both)[0]          # cond = true
    woken = waker.steps[after[waker.pcslot]].fire(after)           # wake_up: two outcomes
    assert sorted(system.slot_text(wq, s[wq]) for s in woken) == ["{sleeper[0] (exclusive)}",
                                                                    "{sleeper[1] (exclusive)}"]


@pytest.mark.parametrize(("body", "code", "says"), [
    ("    - wait_event_interruptible: wq, x", "NC209", "a signal"),
    ("    - wait_event_interruptible_exclusive: wq, x", "NC209", "a signal"),
    ("    - prepare_to_wait_exclusive: x", "NC217", "takes a wait queue"),
])
def test_variant_misuse_is_located(body: str, code: str, says: str) -> None:
    text = f"netcheck: 1\nstate:\n  x: {{type: bool}}\n  wq: {{type: wait_queue_head_t}}\nprocedures:\n  t():\n{body}\n" \
        "threads:\n  t: t()\n"
    with pytest.raises(SpecError) as info:
        load_text(text)
    d = info.value.diagnostics[0]
    assert d.code == code and says in d.message + d.hint


def test_random_specs_with_exclusive_and_interruptible_waits_agree() -> None:
    assert generated_specs_agree(VARIANT_SPECS, VARIANT_EXAMPLES) >= 0.8 * VARIANT_EXAMPLES
    assert generated_specs_agree_with_the_relation(VARIANT_SPECS, 6) > 0
