"""SRCU domains on random specs (tests/spec_generator.py, `min_srcu=1`): read-side sections of one or two
domains (nested, sleeping inside, taking other locks), synchronize_srcu alone, under a sleeping lock (the
rtnl_link_unregister() deadlock when a reader takes that lock) or, rarely, inside its own domain's section.
The production explorer, the independent reference explorer (tests/reference_explorer.py) and the z3
relation must agree on them; the generated specs must really use SRCU, and some must break deadlock_free or
lock_order through it. The semantics on tiny specs are in tests/test_rcu_lists.py.
"""

from __future__ import annotations

import os
from collections import Counter

from netcheck.checker.analyses.lockorder import lock_order
from netcheck.checker.engine.explore import explore
from netcheck.model.lang.spec import Rcu, Spec
from netcheck.model.semantics.system import TransitionSystem
from spec_generator import BUG_PATTERNS
from test_reference_agreement import Observed, generated_specs_agree
from test_relation import generated_specs_agree_with_the_relation

EXAMPLES = int(os.environ.get("NETCHECK_HYPOTHESIS_EXAMPLES") or 25)
SRCU_SPECS = {**BUG_PATTERNS, "min_srcu": 1, "endless_local_loops": False, "max_budget": 6}
SRCU_OPS = ("srcu_read_lock", "srcu_read_unlock", "synchronize_srcu")


def srcu_findings(text: str, spec: Spec, found: Observed, seen: Counter) -> None:
    """Counts, in `seen`, the SRCU statements of a generated spec, and whether it breaks deadlock_free with a
    thread stuck in synchronize_srcu, or lock_order by a cycle through a domain."""
    seen["specs"] += 1
    ops = sum(line.lstrip(" -").startswith(f"{op}:") for line in text.splitlines() for op in SRCU_OPS)
    seen["statements"] += ops
    seen["specs using SRCU"] += ops > 0
    seen["lock_discipline"] += "lock_discipline" in found.violated
    if "synchronize_srcu:" not in text:
        return
    exp = explore(TransitionSystem(spec))
    domains = {lk.name for lk in spec.locks if lk.kind == "srcu"}
    if any(domains & set(cycle.locks) for cycle in lock_order(exp).cycles):
        seen["lock_order through a domain"] += 1
    if "deadlock_free" in found.violated and any(
            exp.stuck[i] >> tid & 1 and isinstance(getattr(node, "stmt", None), Rcu) and node.stmt.op == "synchronize_srcu"
            for i in exp.deadlocks for tid in range(len(exp.system.threads))
            for node in [exp.system.node_at(exp.store.states[i], tid)]):
        seen["deadlock_free: stuck in synchronize_srcu"] += 1


def test_random_srcu_specs_agree_with_the_reference() -> None:
    seen: Counter = Counter()
    compared = generated_specs_agree(SRCU_SPECS, EXAMPLES, lambda text, spec, found: srcu_findings(text, spec, found,
                                                                                                    seen))
    print(f"\n{compared} random SRCU specs compared: {dict(seen)}")
    assert compared >= 0.8 * EXAMPLES
    assert seen["specs using SRCU"] >= 0.7 * compared and seen["statements"] >= 3 * compared
    assert seen["lock_order through a domain"] >= 1 and seen["deadlock_free: stuck in synchronize_srcu"] >= 1


def test_random_srcu_specs_agree_with_the_relation() -> None:
    assert generated_specs_agree_with_the_relation(SRCU_SPECS, 5) > 0
