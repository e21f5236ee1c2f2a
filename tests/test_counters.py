"""refcount_t, atomic_t and completions (model/lang/counterapi.py, model/semantics/counters.py).

- the kernel's semantics, operation by operation, on tiny specs (the refcount_t warnings as runtime_safety,
  complete()/complete_all() and the waits, the killable and timed waits' on_fail: paths);
- located diagnostics for misuse (NC214, NC209, NC207 with a hint);
- the production explorer, the independent reference explorer (tests/reference_explorer.py) and the z3
  relation agree on random specs that use counters (tests/spec_generator.py, `min_counters=1`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from netcheck.checker.cli import main
from netcheck.model.lang.errors import SpecError
from netcheck.model.semantics.system import TransitionSystem
from spec_generator import BUG_PATTERNS
from test_reference_agreement import assert_agree, generated_specs_agree, load_text, production, reference
from test_relation import check_system, generated_specs_agree_with_the_relation

EXAMPLES = int(os.environ.get("NETCHECK_HYPOTHESIS_EXAMPLES") or 60)
COUNTER_SPECS = {**BUG_PATTERNS, "min_counters": 1}


def spec(state: str, body: str, extra: str = "", threads: str = "t: t()") -> str:
    return f"netcheck: 1\nstate:\n{state}\n{extra}procedures:\n  t():\n{body}\nthreads:\n  {threads}\n"


def verdicts(text: str) -> frozenset[str]:
    """The violated properties, production and reference agreeing (and the relation on sampled states)."""
    s = load_text(text)
    prod, ref = production(s), reference(s)
    assert prod is not None and ref is not None
    assert_agree(s, prod, ref)
    check_system(TransitionSystem(s), samples=50)
    return prod.violated


def _verify(text: str) -> str:
    """`netcheck verify` on the spec: its output."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_text(text, encoding="utf-8")
        return CliRunner().invoke(main, ["verify", str(path)]).output


# ---------------------------------------------------------------- refcount_t


@pytest.mark.parametrize(("init", "body", "violated", "message"), [
    (1, "    - refcount_inc: c", set(), ""),
    (0, "    - refcount_inc: c", {"runtime_safety"}, "addition on 0; use-after-free"),
    (2, "    - refcount_inc: c", {"runtime_safety"}, "leaves the declared refcount_t range"),
    (0, "    - refcount_dec: c", {"runtime_safety"}, "underflow; use-after-free"),
    (1, "    - refcount_dec: c", {"runtime_safety"}, "decrement hit 0; leaking memory"),
    (2, "    - refcount_dec: c", set(), ""),
    (0, "    - refcount_dec_and_test: c\n      on_fail: return", {"runtime_safety"}, "underflow"),
    (1, "    - refcount_dec_and_test: c\n      on_fail: return\n    - assert: c == 0\n      name: last", set(), ""),
    (2, "    - refcount_dec_and_test: c\n      on_fail: return\n    - assert: false\n      name: never", set(), ""),
    (0, "    - refcount_inc_not_zero: c\n      on_fail: return\n    - assert: false\n      name: never", set(), ""),
    (1, "    - refcount_inc_not_zero: c\n      on_fail: return\n    - assert: refcount_read(c) == 2\n      name: got",
     set(), ""),
    (0, "    - refcount_set: c, 3", {"runtime_safety"}, "value 3 leaves"),
])
def test_refcount_semantics(init: int, body: str, violated: set[str], message: str) -> None:
    text = spec(f"  c: {{type: \"refcount_t[0..2]\", init: {init}}}", body)
    found = verdicts(text)
    assert found == violated
    if message:
        result = _verify(text)
        assert message in result, result


def test_result_is_stored_in_a_local() -> None:
    text = spec("  c: {type: \"refcount_t[0..2]\", init: 1}",
                "    locals: {last: bool}\n    body:\n      - refcount_dec_and_test: c\n        result: last\n"
                "      - assert: last and c == 0\n        name: stored")
    assert verdicts(text) == frozenset()


# ---------------------------------------------------------------- atomic_t


def test_atomic_range_and_dec_and_test() -> None:
    body = ("    - atomic_dec_and_test: a\n      on_fail: return\n    - assert: atomic_read(a) == 0\n      name: zero\n"
            "    - atomic_dec: a")
    assert verdicts(spec("  a: {type: \"atomic_t[-1..1]\", init: 1}", body)) == frozenset()
    assert verdicts(spec("  a: {type: \"atomic_t[0..1]\", init: 1}", body)) == {"runtime_safety"}


# ---------------------------------------------------------------- completions


TWO_WAITERS = """netcheck: 1
state:
  done: {{type: completion}}
procedures:
  signaller():
    - {signal}: done
  waiter():
    - {wait}: done
      {on_fail}
threads:
  signaller: signaller()
  waiter: {{run: waiter(), count: 2}}
"""


@pytest.mark.parametrize(("signal", "wait", "on_fail", "violated"), [
    ("complete_all", "wait_for_completion", "", set()),
    ("complete", "wait_for_completion", "", {"deadlock_free"}),
    ("complete", "wait_for_completion_killable", "on_fail: return", {"deadlock_free"}),   # stuck unless killed
    ("complete", "wait_for_completion_timeout", "on_fail: return", set()),                # gives up
    ("complete", "try_wait_for_completion", "on_fail: return", set()),
    ("reinit_completion", "wait_for_completion", "", {"deadlock_free"}),
])
def test_completion_semantics(signal: str, wait: str, on_fail: str, violated: set[str]) -> None:
    assert verdicts(TWO_WAITERS.format(signal=signal, wait=wait, on_fail=on_fail)) == violated


def test_complete_counts_and_complete_all_saturates() -> None:
    body = ("    - complete: d\n    - complete: d\n    - assert: d == 2\n      name: two\n    - complete_all: d\n"
            "    - wait_for_completion: d\n    - complete: d\n    - assert: d == 3\n      name: all_stays")
    assert verdicts(spec("  d: {type: completion}", body)) == frozenset()
    over = "    - complete: d\n    - complete: d\n    - complete: d"
    assert verdicts(spec("  d: {type: completion}", over)) == {"runtime_safety"}
    assert verdicts(spec("  d: {type: \"completion[3]\"}", over)) == frozenset()


def test_waiting_under_a_spinlock_is_a_discipline_violation() -> None:
    body = "    - spin_lock: s\n    - wait_for_completion: d\n    - spin_unlock: s"
    text = spec("  d: {type: completion, init: 1}", body, extra="locks: {s: spinlock}\n")
    assert verdicts(text) == {"lock_discipline"}


def test_killed_waiter_takes_on_fail() -> None:
    text = TWO_WAITERS.replace("count: 2", "count: 1").format(
        signal="init_completion", wait="wait_for_completion_killable", on_fail="on_fail: [\"killed = true\"]")
    text = text.replace("  done: {type: completion}", "  done: {type: completion}\n  killed: {type: bool}")
    text += "properties:\n  never_killed: {invariant: not killed}\n"
    assert verdicts(text) == {"never_killed", "deadlock_free"}
    assert verdicts(text + "options: {fatal_signals: false}\n") == {"deadlock_free"}


# ---------------------------------------------------------------- diagnostics


@pytest.mark.parametrize(("state", "body", "code", "hint"), [
    ("  c: {type: \"refcount_t[0..2]\"}", "    - c = 1", "NC214", "refcount_set"),
    ("  c: {type: \"int[0..2]\"}", "    - refcount_inc: c", "NC214", "refcount_t[0..3]"),
    ("  c: {type: completion}", "    - refcount_inc: c", "NC214", "refcount_t"),
    ("  c: {type: \"refcount_t[0..2]\"}", "    - refcount_inc_not_zero: c", "NC209", "result: ok"),
    ("  c: {type: completion}", "    - wait_for_completion_killable: c", "NC209", "on_fail"),
    ("  c: {type: completion}", "    - complete: c\n      on_fail: return", "NC104", ""),
    ("  c: {type: completion}", "    - complete(c)", "NC207", "- complete: c"),
    ("  c: {type: \"refcount_t[1..2]\"}", "    - refcount_inc: c", "NC108", "refcount_t[0..N]"),
    ("  c: {type: refcount_t}", "    - refcount_inc: c", "NC108", "refcount_t[0..3]"),
    ("  c: {type: \"refcount_t[0..2]\"}", "    - refcount_set: c", "NC214", "refcount_set: COUNTER, VALUE"),
])
def test_misuse_is_located(state: str, body: str, code: str, hint: str) -> None:
    with pytest.raises(SpecError) as info:
        load_text(spec(state, body))
    text = str(info.value) + " " + " ".join(d.hint for d in info.value.diagnostics)
    assert code in text and hint in text, text


def test_a_counter_local_is_refused() -> None:
    with pytest.raises(SpecError) as info:
        load_text(spec("  x: {type: bool}", "    locals: {c: \"refcount_t[0..2]\"}\n    body:\n      - x = true"))
    assert "NC214" in str(info.value)


# ---------------------------------------------------------------- random specs with counters


def test_random_counter_specs_agree_with_the_reference() -> None:
    assert generated_specs_agree(COUNTER_SPECS, EXAMPLES) >= 0.8 * EXAMPLES


def test_random_counter_specs_agree_with_the_relation() -> None:
    assert generated_specs_agree_with_the_relation(COUNTER_SPECS, max(10, EXAMPLES // 3)) > 0
