"""RCU lists, kfree and SRCU domains (model/lang/lockapi.py RCU_API and RCU_LIST_OPS; docs/semantics.md 7.3).

- the kernel's semantics on tiny specs: a reader on an element list_del_rcu() takes off goes on to the
  successor it had (through a chain of deleted ones); a plain list_del under an RCU walker is list
  corruption; a walk outside rcu_read_lock() breaks lock_discipline; kfree or reuse before a grace period
  that started after the deletion is a use-after-free (runtime_safety), after synchronize_rcu() it is clean;
  synchronize_srcu() waits for the domain's earlier readers only, and inside its own section deadlocks;
- located diagnostics for misuse (NC218, NC219, NC126, NC207 with a hint);
- the production explorer, the independent reference explorer (tests/reference_explorer.py) and the z3
  relation agree on random specs with an RCU list (tests/spec_generator.py, `min_rcu_lists=1`); on random
  specs with SRCU domains in tests/test_srcu.py (`min_srcu=1`).
"""

from __future__ import annotations

import os

import pytest
from netcheck.model.lang.errors import SpecError
from spec_generator import BUG_PATTERNS
from test_reference_agreement import generated_specs_agree, load_text
from test_relation import generated_specs_agree_with_the_relation
from test_wait_queues import verdicts  # production and reference agreeing, the relation on every state

EXAMPLES = int(os.environ.get("NETCHECK_HYPOTHESIS_EXAMPLES") or 30)
RCU_SPECS = {**BUG_PATTERNS, "min_rcu_lists": 1}

HEAD = """netcheck: 1
entities: {e: 3}
locks: {m: mutex, d: srcu}
state:
  l: {type: list<e>, init: [e0, e1, e2]}
  seen: {type: set<e>}
"""
WALK = """    - rcu_read_lock
    - list_for_each_entry_rcu: x in l
      do:
        - seen = seen | {x}
    - rcu_read_unlock"""


def spec(reader: str, writer: str) -> str:
    return (f"{HEAD}procedures:\n  reader():\n{reader}\n  writer():\n{writer}\n"
            "threads:\n  reader: reader()\n  writer: writer()\n")


@pytest.mark.parametrize(("reader", "writer", "violated"), [
    (WALK, "    - list_del_rcu(l, e1)\n    - list_del_rcu(l, e2)\n    - synchronize_rcu\n    - kfree: e1\n"
           "    - kfree: e2", set()),                                         # a chain of deleted elements
    (WALK, "    - list_del(l, e1)", {"runtime_safety"}),                       # a plain list_del: corruption
    (WALK, "    - list_del_rcu(l, e1)\n    - kfree: e1", {"runtime_safety"}),   # no grace period
    (WALK, "    - list_del_rcu(l, e1)\n    - list_add_rcu(l, e1)", {"runtime_safety"}),   # reused too early
    (WALK, "    - list_del_rcu(l, e1)\n    - synchronize_rcu\n    - list_add_tail_rcu(l, e1)", set()),
    (WALK, "    - kfree: e1", {"runtime_safety"}),                             # still on the list
    ("    - list_for_each_entry_rcu: x in l\n      do: [pass]", "    - pass", {"lock_discipline"}),
    ("    - srcu_read_lock: d\n    - mutex_lock: m\n    - mutex_unlock: m\n    - srcu_read_unlock: d",
     "    - mutex_lock: m\n    - synchronize_srcu: d\n    - mutex_unlock: m", {"deadlock_free"}),
    ("    - srcu_read_lock: d\n    - mutex_lock: m\n    - mutex_unlock: m\n    - srcu_read_unlock: d",
     "    - synchronize_srcu: d\n    - mutex_lock: m\n    - mutex_unlock: m", set()),
    ("    - srcu_read_lock: d\n    - synchronize_srcu: d\n    - srcu_read_unlock: d", "    - pass", {"lock_discipline"}),
    ("    - rcu_read_lock\n    - synchronize_srcu: d\n    - rcu_read_unlock", "    - pass", {"lock_discipline"}),
    ("    - srcu_read_lock: d", "    - pass", {"lock_discipline"}),           # finished inside the section
])
def test_semantics(reader: str, writer: str, violated: set[str]) -> None:
    assert verdicts(spec(reader, writer)) == violated


def test_a_reader_on_a_deleted_element_sees_its_successor() -> None:
    """A reader standing on e1 (spinning there until e2 is gone: the writer deletes e1, then e2) goes on to
    e2, deleted too, as rculist.h's ->next chain leads it: whoever visits e1 visits e2."""
    reader = """    - rcu_read_lock
    - list_for_each_entry_rcu: x in l
      do:
        - seen = seen | {x}
        - if: x == e1
          then:
            - while: e2 in l
              do: [pass]
    - rcu_read_unlock"""
    text = spec(reader, "    - list_del_rcu(l, e1)\n    - list_del_rcu(l, e2)") + \
        'properties:\n  chain: {final: "e1 not in seen or e2 in seen"}\n  stood_on_e1: {reachable: "e1 in seen"}\n'
    assert verdicts(text) == {"stood_on_e1"}   # the question is answered (reached); `chain` holds


@pytest.mark.parametrize(("statement", "code"), [
    ("    - list_del_rcu(seen_list[e0], e1)", "NC218"),
    ("    - kfree: seen", "NC218"),
    ("    - srcu_read_lock: m", "NC219"),
    ("    - srcu_read_lock", "NC219"),
    ("    - assert: locked(d)", "NC219"),
    ("    - kfree(e1)", "NC207"),
])
def test_misuse_is_located(statement: str, code: str) -> None:
    text = spec("    - pass", statement).replace("state:\n", "state:\n  seen_list: {type: list<e>, per: [e]}\n")
    with pytest.raises(SpecError) as err:
        load_text(text)
    assert [d.code for d in err.value.diagnostics] == [code]


def test_srcu_lock_with_per_is_refused() -> None:
    with pytest.raises(SpecError) as err:
        load_text(spec("    - pass", "    - pass").replace("d: srcu", "d: {kind: srcu, per: [e]}"))
    assert [d.code for d in err.value.diagnostics] == ["NC126"]


def test_random_rcu_list_specs_agree_with_the_reference() -> None:
    assert generated_specs_agree(RCU_SPECS, EXAMPLES) >= 0.8 * EXAMPLES


def test_random_rcu_list_specs_agree_with_the_relation() -> None:
    assert generated_specs_agree_with_the_relation(RCU_SPECS, max(5, EXAMPLES // 4)) > 0
