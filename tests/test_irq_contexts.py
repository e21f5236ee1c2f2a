"""Interrupt contexts and the spinlock irq/bh forms (model/semantics/contexts.py, checker/analyses/irqsafety.py).

- the kernel's semantics on tiny specs: the self-deadlock of an interrupt taking a lock its CPU holds with
  interrupts enabled, fixed by spin_lock_irqsave / _irq (and by _bh for a softirq); sleeping in irq
  context or with hardirqs or softirqs disabled; the interrupt state a thread finishes with; the flags
  spin_lock_irqsave keeps with the lock;
- lockdep's interrupt-safety rules in `netcheck locks` (inconsistent usage, irq-safe -> irq-unsafe chains);
- located diagnostics for misuse (NC130, NC131, NC132, NC230, NC208);
- the production explorer, the reference explorer (tests/reference_explorer.py) and the z3 relation agree
  on random specs with irq-context threads (tests/spec_generator.py, `contexts=True`), and the symmetric
  search on a spec whose interrupts are bound per element.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from netcheck.checker.cli import main
from netcheck.model.lang.errors import SpecError
from spec_generator import BUG_PATTERNS
from test_reference_agreement import generated_specs_agree, load_text
from test_relation import generated_specs_agree_with_the_relation
from test_symmetry import agree
from test_wait_queues import verdicts  # production, reference and the relation on every state, agreeing

EXAMPLES = int(os.environ.get("NETCHECK_HYPOTHESIS_EXAMPLES") or 30)
CONTEXT_SPECS = {**BUG_PATTERNS, "contexts": True}


def spec(task: str, handler: str, context: str = "hardirq", extra: str = "") -> str:
    """A task and an interrupt handler that interrupts its CPU, sharing spinlock l (and m, a mutex)."""
    return (f"netcheck: 1\nlocks:\n  l: spinlock\n  m: mutex\n  r: raw_spinlock\n{extra}procedures:\n"
            f"  task():\n{task}\n  handler():\n{handler}\nthreads:\n  task: task()\n"
            f"  irq: {{run: handler(), context: {context}, interrupts: task}}\n")


def run(command: str, text: str, *args: str) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_text(text, encoding="utf-8")
        result = CliRunner().invoke(main, [command, str(path), *args])
        return result.exit_code, result.output


LOCKED = "    - spin_lock{}: l\n    - pass\n    - spin_unlock{}: l"


@pytest.mark.parametrize(("task", "handler", "context", "violated"), [
    (LOCKED.format("", ""), LOCKED.format("", ""), "hardirq", {"deadlock_free"}),      # the classic self-deadlock
    (LOCKED.format("_irqsave", "_irqrestore"), LOCKED.format("", ""), "hardirq", set()),
    (LOCKED.format("_irq", "_irq"), LOCKED.format("_irqsave", "_irqrestore"), "hardirq", set()),
    (LOCKED.format("_bh", "_bh"), LOCKED.format("", ""), "hardirq", {"deadlock_free"}),   # bh keeps hardirqs on
    (LOCKED.format("_bh", "_bh"), LOCKED.format("", ""), "softirq", set()),
    (LOCKED.format("", ""), LOCKED.format("", ""), "softirq", {"deadlock_free"}),
    (LOCKED.format("_irq", "_irq"), LOCKED.format("", ""), "softirq", set()),   # no softirq without hardirqs
    ("    - raw_spin_lock_irq: r\n    - raw_spin_unlock_irq: r", "    - raw_spin_lock: r\n    - raw_spin_unlock: r",
     "hardirq", set()),
    # sleeping: in irq context, with hardirqs or softirqs disabled
    ("    - pass", "    - mutex_lock: m\n    - mutex_unlock: m", "hardirq", {"lock_discipline"}),
    ("    - pass", "    - synchronize_rcu", "softirq", {"lock_discipline"}),
    (LOCKED.format("_irq", "_irq").replace("    - pass", "    - spin_unlock: l\n    - mutex_lock: m\n"
                                                         "    - mutex_unlock: m\n    - spin_lock: l"),
     "    - pass", "hardirq", {"lock_discipline"}),
    # the interrupt state at the end: a task with hardirqs off, a handler that enabled them
    ("    - spin_lock_irqsave: l\n    - spin_unlock: l", "    - pass", "hardirq", {"lock_discipline"}),
    ("    - pass", LOCKED.format("_irq", "_irq"), "hardirq", {"lock_discipline"}),
    # the kernel's local_bh_enable() warning: softirqs enabled with hardirqs off
    ("    - spin_lock_irq: l\n    - spin_lock_bh: m2\n    - spin_unlock_bh: m2\n    - spin_unlock_irq: l", "    - pass",
     "hardirq", {"lock_discipline"}),
])
def test_context_semantics(task: str, handler: str, context: str, violated: set[str]) -> None:
    extra = "  m2: {kind: spinlock}\n" if "m2" in task else ""
    text = spec(task, handler, context).replace("  r: raw_spinlock\n", f"  r: raw_spinlock\n{extra}")
    assert verdicts(text) == violated


def test_irqrestore_restores_what_the_acquire_of_that_lock_saved() -> None:
    """Releasing two irqsave locks out of order enables hardirqs while the second is still held (the interrupt
    taking it then deadlocks), and the last restore disables them again for good (the task finishes with
    hardirqs off): the flags travel with the lock, as the kernel's code passes them."""
    nested = ("    - spin_lock_irqsave: l\n    - spin_lock_irqsave: k\n    - spin_unlock_irqrestore: {}\n"
              "    - pass\n    - spin_unlock_irqrestore: {}")
    extra = "  k: spinlock\n"
    handler = "    - spin_lock: k\n    - spin_unlock: k"
    lifo = spec(nested.format("k", "l"), handler).replace("  m: mutex\n", f"  m: mutex\n{extra}")
    swapped = spec(nested.format("l", "k"), handler).replace("  m: mutex\n", f"  m: mutex\n{extra}")
    assert verdicts(lifo) == set()
    assert verdicts(swapped) == {"deadlock_free", "lock_discipline"}


def test_the_arrival_is_a_step_and_the_interrupted_thread_waits_for_the_handler() -> None:
    code, out = run("verify", spec(LOCKED.format("", ""), LOCKED.format("", "")))
    assert code == 1
    assert "hardirq arrives on task's CPU" in out
    assert "irq waits for l held by task" in out


# ---------------------------------------------------------------- lockdep's interrupt-safety rules


def test_inconsistent_usage_is_reported_by_locks() -> None:
    code, out = run("locks", spec(LOCKED.format("", ""), LOCKED.format("", "")))
    assert code == 1
    assert "inconsistent {IN-HARDIRQ-W} -> {HARDIRQ-ON-W} usage of l" in out
    assert "<Interrupt>" in out and "*** DEADLOCK ***" in out
    code, out = run("locks", spec(LOCKED.format("_irqsave", "_irqrestore"), LOCKED.format("", "")))
    assert code == 0, out


def test_irq_safe_to_irq_unsafe_order_is_reported_without_the_deadlock() -> None:
    """b is taken in hardirq context (irq-safe), a with hardirqs on elsewhere (irq-unsafe), and a under b:
    lockdep's chain, found on a spec where the interrupt runs on a CPU of its own (no deadlock reached)."""
    text = ("netcheck: 1\nlocks:\n  a: spinlock\n  b: spinlock\nprocedures:\n"
            "  one():\n    - spin_lock_irq: b\n    - spin_lock: a\n    - spin_unlock: a\n    - spin_unlock_irq: b\n"
            "  two():\n    - spin_lock_bh: a\n    - spin_unlock_bh: a\n"
            "  handler():\n    - spin_lock: b\n    - spin_unlock: b\n"
            "threads:\n  one: one()\n  two: two()\n  irq: {run: handler(), context: hardirq}\n")
    assert verdicts(text) == set()   # every state is fine: only lockdep's rule fails
    code, out = run("locks", text, "--format", "json")
    assert code == 1
    [conflict] = json.loads(out)["irq_conflicts"]
    assert (conflict["irq"], conflict["chain"], conflict["inconsistent"]) == ("hardirq", ["b", "a"], False)
    assert conflict["safe"]["usage"] == "IN-HARDIRQ-W" and conflict["unsafe"]["usage"] == "HARDIRQ-ON-W"
    code, out = run("verify", text)
    assert code == 1 and "HARDIRQ-safe -> HARDIRQ-unsafe lock order: b --> a" in out
    # softirqs: the same with a softirq and spin_lock_bh (a taken with softirqs enabled by one, under b)
    soft = text.replace("spin_lock_irq: b", "spin_lock_bh: b").replace("spin_unlock_irq: b", "spin_unlock_bh: b") \
        .replace("spin_lock_bh: a\n    - spin_unlock_bh: a", "spin_lock: a\n    - spin_unlock: a") \
        .replace("context: hardirq", "context: softirq")
    code, out = run("locks", soft, "--format", "json")
    assert code == 1 and [c["irq"] for c in json.loads(out)["irq_conflicts"]] == ["softirq"]


# ---------------------------------------------------------------- misuse, located


@pytest.mark.parametrize(("change", "code", "says"), [
    ("context: hardirq, interrupts: task", "", ""),
    ("context: nmi, interrupts: task", "NC130", "context: takes process, softirq, hardirq"),
    ("interrupts: task", "NC131", "is for a thread in softirq or hardirq context"),
    ("context: hardirq, interrupts: tsk", "NC131", "'tsk' is not a threads: entry"),
    ("context: hardirq, interrupts: irq", "NC131", "runs in hardirq context"),
    ("context: hardirq, interrupts: pair", "NC131", "do not pair up"),
    ("context: softirq, daemon: true", "NC132", "cannot be a daemon"),
])
def test_context_misuse_is_located(change: str, code: str, says: str) -> None:
    text = ("netcheck: 1\nprocedures:\n  t():\n    - pass\nthreads:\n  task: t()\n  pair: {run: t(), count: 2}\n"
            f"  irq: {{run: t(), {change}}}\n")
    if not code:
        load_text(text)
        return
    with pytest.raises(SpecError) as info:
        load_text(text)
    d = info.value.diagnostics[0]
    assert d.code == code and says in d.message and d.span.line > 0


@pytest.mark.parametrize(("body", "code", "says"), [
    ("    - spin_lock_irqsave: l, flags", "NC230", "the flags travel with the lock"),
    ("    - raw_spin_lock: l", "NC208", "needs a raw_spinlock"),
    ("    - spin_lock_irq: r", "NC208", "needs a spinlock"),
])
def test_lock_misuse_is_located(body: str, code: str, says: str) -> None:
    with pytest.raises(SpecError) as info:
        load_text(spec(body, "    - pass"))
    d = info.value.diagnostics[0]
    assert d.code == code and says in d.message and d.span.line > 0


# ---------------------------------------------------------------- random specs, symmetry


def test_random_context_specs_agree_with_the_reference() -> None:
    assert generated_specs_agree(CONTEXT_SPECS, EXAMPLES) >= 0.8 * EXAMPLES


def test_random_context_specs_agree_with_the_relation() -> None:
    assert generated_specs_agree_with_the_relation(CONTEXT_SPECS, max(5, EXAMPLES // 3)) > 0


def test_interrupts_bound_per_element_are_symmetric() -> None:
    per_device = ("netcheck: 1\nentities: {dev: 2}\nlocks: {lk: {kind: spinlock, per: [dev]}}\n"
                  "state: {n: {type: 'int[0..2]', per: [dev]}}\nprocedures:\n"
                  "  'xmit(d: dev)': [{spin_lock_irqsave: 'lk[d]'}, 'n[d] += 1', {spin_unlock_irqrestore: 'lk[d]'}]\n"
                  "  'rx(d: dev)': [{spin_lock: 'lk[d]'}, 'n[d] += 1', {spin_unlock: 'lk[d]'}]\n"
                  "threads:\n  xmit: {for: d in dev, run: xmit(d)}\n"
                  "  rx: {for: d in dev, run: rx(d), context: hardirq, interrupts: xmit}\n")
    full, symmetric = agree(load_text(per_device))
    assert symmetric < full
