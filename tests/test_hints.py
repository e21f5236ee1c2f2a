"""Mistakes users make, answered with the right hint: kernel calls netcheck does not model (a near name
would suggest the wrong primitive), lock calls written the way netcheck prints them, and bounds a spec pins."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import SPECS
from netcheck.checker.cli import main
from netcheck.model.lang.errors import SpecError
from netcheck.model.lang.parse import load_spec
from test_reference_agreement import load_text

SPEC = """
    netcheck: 1
    locks: {m: mutex, l: spinlock}
    state: {x: "int[0..3]"}
    procedures:
      p():
        - STATEMENT
    threads:
      t: p()
"""


def diagnostic(statement: str):
    with pytest.raises(SpecError) as err:
        load_text(SPEC.replace("STATEMENT", statement))
    return err.value.diagnostics[0]


@pytest.mark.parametrize("statement, says", [
    ("local_irq_save(flags)", "'spin_lock_irqsave: L'"),
    ("local_bh_disable: x", "'spin_lock_bh: L'"),
    ("msleep(10)", "time is not modelled"),
    ("mutex_lock_interruptible: m", "'mutex_lock_killable: M' with on_fail: is the nearest"),
])
def test_unmodelled_kernel_calls_say_what_to_write(statement: str, says: str) -> None:
    d = diagnostic(statement)
    assert d.code == "NC207" and says in d.hint and "did you mean" not in d.hint


@pytest.mark.parametrize("statement, hint", [
    ("call_rcu(&n->rcu, free_net)", "write '- call_rcu: free_net(n)'"),
    ("kfree_rcu(n, rcu)", "write '- kfree_rcu: n'"),
])
def test_an_rcu_callback_written_the_c_way(statement: str, hint: str) -> None:
    d = diagnostic(statement)
    assert d.code == "NC207" and "is a mapping statement" in d.message and d.hint.startswith(hint)


def test_an_srcu_call_on_something_else_says_how_to_declare_the_domain() -> None:
    d = diagnostic("synchronize_srcu: s")
    assert d.code == "NC219" and "'s' is not an srcu lock" in d.message and "'NAME: srcu'" in d.hint


@pytest.mark.parametrize("statement, hint", [
    ("mutex_lock(&m)", "write it as '- mutex_lock: m'"),
    ("mutex_lock_killable(&m)", "write it as '- mutex_lock_killable: m' with on_fail:"),
    ("spin_unlock(&l)", "write it as '- spin_unlock: l'"),
    ("spin_lock_irqsave(&l, flags)", "write it as '- spin_lock_irqsave: l'"),
])
def test_a_lock_call_written_as_printed(statement: str, hint: str) -> None:
    d = diagnostic(statement)
    assert d.code == "NC207" and "a lock operation is a mapping statement" in d.message and d.hint == hint


def test_a_counter_call_written_the_c_way() -> None:
    d = diagnostic("refcount_inc_not_zero(&count)")
    assert d.code == "NC207" and "a counter operation is a mapping statement" in d.message
    assert d.hint == "write it as '- refcount_inc_not_zero: count' with on_fail: or result:"


def test_a_procedure_named_like_a_kernel_call_is_still_callable() -> None:
    spec = load_text(SPEC.replace("      p():\n        - STATEMENT",
                                  "      complete():\n        - x = 1\n      p():\n        - complete"))
    assert spec.procedure("p").body


def test_a_pinned_bound_is_refused_with_its_reason(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["verify", str(SPECS / "net_sem.yaml"), "--bound", "device=2"])
    assert result.exit_code == 2
    assert "--bound device=2: the spec pins device at most 1: link_ops, link_unregistered and link_devs" \
        in result.output
    assert dict(load_spec(SPECS / "net_sem.yaml", {"device": 0}).bounds)["device"] == 0, "fewer is allowed"
    child = tmp_path / "two_devices.yaml"
    child.write_text(f"netcheck: 1\nextends: {SPECS / 'net_mutex.yaml'}\npinned: {{device: null}}\n")
    assert dict(load_spec(child, {"device": 2}).bounds)["device"] == 2, "a child unpins it"


def test_pinning_an_unknown_bound(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as err:
        load_text(SPEC.replace("STATEMENT", "x = 1") + '    pinned: {cpu: "why"}\n')
    assert err.value.diagnostics[0].code == "NC107"
