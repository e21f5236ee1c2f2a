"""RCU callbacks: call_rcu, kfree_rcu and rcu_barrier (model/lang/rcucallbacks.py; docs/semantics.md 7.4).

- the kernel's semantics on tiny specs, production and the reference explorer agreeing (and the z3 relation on
  every state): a callback runs after a grace period that started at the call, so a reader inside then has
  left; a reader that enters later does not delay it (a callback racing with a newer reader is found); it
  runs in softirq context (a sleep in it breaks lock_discipline); a double call_rcu, a null object, kfree_rcu
  before the unlink break runtime_safety; a callback may queue itself again; rcu_barrier waits for them all;
- located diagnostics for misuse (NC250, NC251, NC140, NC116);
- the symmetric search agrees with the full one when callback threads are bound to symmetric elements;
- production, the reference explorer and the z3 relation agree on random specs with call_rcu
  (tests/spec_generator.py, `call_rcu=True`).
"""

from __future__ import annotations

import os

import pytest
from netcheck.checker.analyses.lockorder import lock_order
from netcheck.checker.engine.explore import explore
from netcheck.checker.engine.limits import Limits
from netcheck.model.lang.errors import SpecError
from netcheck.model.semantics.system import TransitionSystem
from spec_generator import BUG_PATTERNS
from test_reference_agreement import assert_agree, generated_specs_agree, load_text, production, reference
from test_relation import check_system, generated_specs_agree_with_the_relation
from test_symmetry import agree

EXAMPLES = int(os.environ.get("NETCHECK_HYPOTHESIS_EXAMPLES") or 20)
CALL_RCU_SPECS = {**BUG_PATTERNS, "call_rcu": True}

HEAD = """netcheck: 1
entities: {e: 2}
locks: {m: mutex, s: spinlock}
state:
  l: {type: list<e>, init: [e0, e1]}
  p: {type: "e?", init: e0}
  freed: {type: set<e>}
  bad: {type: bool}
"""
WALK = """    - rcu_read_lock
    - list_for_each_entry_rcu: x in l
      do: [pass]
    - rcu_read_unlock"""
DEREF = """    locals: {x: "e?"}
    body:
      - rcu_read_lock
      - x = p                       # rcu_dereference(p)
      - if: x != null and x in freed
        then: [bad = true]          # a use of freed memory
      - rcu_read_unlock"""
FREE_CB = "  free_cb(e o):\n    - kfree: o\n    - freed = freed | {o}\n"


def verdicts(text: str, relation_samples: int = 5) -> frozenset[str]:
    """The violated properties, production and reference agreeing (and the relation on sampled states)."""
    s = load_text(text)
    prod, ref = production(s), reference(s)
    assert prod is not None and ref is not None
    assert_agree(s, prod, ref)
    check_system(TransitionSystem(s), samples=relation_samples)
    return prod.violated


def spec(reader: str, writer: str, extra: str = FREE_CB, props: str = "") -> str:
    reader_proc = f"  reader():\n{reader}\n" if reader.startswith("    locals") else f"  reader():\n{reader}\n"
    return (f"{HEAD}procedures:\n{reader_proc}  writer():\n{writer}\n{extra}"
            f"threads:\n  reader: reader()\n  writer: writer()\n{props}")


NO_BAD = "properties:\n  no_uaf: {invariant: not bad}\n"


@pytest.mark.parametrize(("reader", "writer", "extra", "violated"), [
    # unlinked with list_del_rcu, freed by the callback: the reader on it has left by then
    (WALK, "    - list_del_rcu(l, e1)\n    - call_rcu: free_cb(e1)", FREE_CB, set()),
    (WALK, "    - list_del_rcu(l, e1)\n    - kfree_rcu: e1", FREE_CB, set()),
    (WALK, "    - list_del_rcu(l, e1)\n    - kfree: e1", FREE_CB, {"runtime_safety"}),       # no grace period
    (WALK, "    - kfree_rcu: e1\n    - list_del_rcu(l, e1)", FREE_CB, {"runtime_safety"}),   # freed while on l
    (WALK, "    - p = null\n    - kfree_rcu: p", FREE_CB, set()),                          # kfree_rcu(NULL)
    (WALK, "    - p = null\n    - call_rcu: free_cb(p)", FREE_CB, {"runtime_safety"}),     # a NULL rcu_head
    (WALK, "    - list_del_rcu(l, e1)\n    - call_rcu: free_cb(e1)\n    - call_rcu: free_cb(e1)", FREE_CB,
     {"runtime_safety"}),                                                               # double call_rcu
    (WALK, "    - call_rcu: again", "  again():\n    - if: not bad\n      then:\n        - bad = true\n"
     "        - call_rcu: again\n", set()),                                             # a callback re-posts itself
    (WALK, "    - call_rcu: cb", "  cb():\n    - mutex_lock: m\n    - mutex_unlock: m\n", {"lock_discipline"}),
    (WALK, "    - call_rcu: cb", "  cb():\n    - rcu_barrier\n", {"lock_discipline"}),     # sleeps in softirq
    (WALK, "    - call_rcu: cb", "  cb():\n    - spin_lock: s\n    - bad = true\n    - spin_unlock: s\n", set()),
])
def test_semantics(reader: str, writer: str, extra: str, violated: set[str]) -> None:
    assert verdicts(spec(reader, writer, extra)) == violated


def test_the_callback_waits_for_the_readers_inside_at_the_call_only() -> None:
    """Unpublished first, then call_rcu: a reader that read p before is waited for, one that starts later
    sees null. call_rcu before the unpublish: a reader that starts after the call may still read p, and the
    callback does not wait for it: the use-after-free is found (were newer readers waited for, it would hide)."""
    right = "    - p = null                    # rcu_assign_pointer(p, NULL)\n    - call_rcu: free_p(e0)"
    wrong = "    - call_rcu: free_p(e0)\n    - p = null"
    free_p = "  free_p(e o):\n    - freed = freed | {o}\n"
    assert verdicts(spec(DEREF, right, free_p, NO_BAD)) == set()
    assert verdicts(spec(DEREF, wrong, free_p, NO_BAD)) == {"no_uaf"}


def test_rcu_barrier_waits_for_every_callback_queued() -> None:
    done = "properties:\n  ran: {invariant: \"not bad or e1 in freed\"}\n"
    writer = "    - list_del_rcu(l, e1)\n    - call_rcu: free_cb(e1)\n    - rcu_barrier\n    - bad = true"
    assert verdicts(spec(WALK, writer, props=done)) == set()
    assert verdicts(spec(WALK, writer.replace("    - rcu_barrier\n", ""), props=done)) == {"ran"}


def test_rcu_barrier_under_a_lock_the_callback_takes() -> None:
    """The callback spins on s, held across rcu_barrier(): the sleep under a spinlock, and a lock-order cycle
    through the callback's map."""
    extra = "  cb():\n    - spin_lock_bh: s\n    - spin_unlock_bh: s\n"
    writer = "    - call_rcu: cb\n    - spin_lock_bh: s\n    - rcu_barrier\n    - spin_unlock_bh: s"
    text = spec(WALK, writer, extra)
    assert verdicts(text) == {"lock_discipline"}
    order = lock_order(explore(TransitionSystem(load_text(text)), Limits(), measure_memory=False))
    assert [c.locks for c in order.cycles] == [("(rcu_callback)cb", "s")]


@pytest.mark.parametrize(("take", "conflicts"), [("spin_lock", 1), ("spin_lock_bh", 0)])
def test_a_callback_takes_its_locks_in_softirq_context(take: str, conflicts: int) -> None:
    """lockdep's rule: a lock the callback takes (IN-SOFTIRQ-W) taken elsewhere with softirqs enabled
    (SOFTIRQ-ON-W) is an inconsistent usage, even where no run deadlocks (the callback runs on a CPU of its
    own here); spin_lock_bh() in process context is the fix."""
    extra = "  cb():\n    - spin_lock: s\n    - spin_unlock: s\n"
    writer = f"    - call_rcu: cb\n    - {take}: s\n    - {take.replace('lock', 'unlock')}: s"
    order = lock_order(explore(TransitionSystem(load_text(spec(WALK, writer, extra))), Limits(), measure_memory=False))
    assert len(order.irq) == conflicts and all("SOFTIRQ" in c.message for c in order.irq)


@pytest.mark.parametrize(("statement", "extra", "code"), [
    ("    - call_rcu: nothing(e0)", "", "NC116"),
    ("    - call_rcu: cb(e0)", "  cb(e o) -> int[0..1]:\n    - return 0\n", "NC250"),   # a result
    ("    - call_rcu: cb(e0)", "  cb(e o, e q):\n    - pass\n", "NC250"),              # two parameters
    ("    - call_rcu: cb(bad)", "  cb(e o):\n    - pass\n", "NC250"),                  # not an e
    ("    - call_rcu: cb", "  cb(e o):\n    - pass\n", "NC250"),                       # no object
    ("    - call_rcu: cb(e0)", "  cb():\n    - pass\n", "NC250"),                      # a static head
    ("    - kfree_rcu: bad", "", "NC251"),
    ("    - call_rcu: cb", "  cb():\n    - pass\n  cb_rcu_cb():\n    - pass\n", "NC140"),   # its thread's name
])
def test_misuse_is_located(statement: str, extra: str, code: str) -> None:
    with pytest.raises(SpecError) as err:
        load_text(spec(WALK, statement, extra))
    assert [d.code for d in err.value.diagnostics] == [code]


def test_callback_threads_permute_with_their_elements() -> None:
    text = """netcheck: 1
entities: {e: 2}
state:
  live: {type: set<e>, init: [e0, e1]}
  freed: {type: set<e>}
procedures:
  reader():
    - rcu_read_lock
    - rcu_read_unlock
  free_cb(e o):
    - freed = freed | {o}
  cleanup(e n):
    - live = live - {n}
    - call_rcu: free_cb(n)
    - kfree_rcu: n
threads:
  reader: reader()
  cleanup: {for: n in e, run: cleanup(n)}
"""
    full, symmetric = agree(load_text(text))
    assert symmetric < full


def test_random_call_rcu_specs_agree_with_the_reference() -> None:
    assert generated_specs_agree(CALL_RCU_SPECS, EXAMPLES) >= 0.7 * EXAMPLES


def test_random_call_rcu_specs_agree_with_the_relation() -> None:
    assert generated_specs_agree_with_the_relation(CALL_RCU_SPECS, max(4, EXAMPLES // 5)) > 0
