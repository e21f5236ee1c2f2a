"""The lock API table (model/lang/lockapi.py) is consistent with itself and is the one the statement forms use."""

from __future__ import annotations

from netcheck.model.lang.lockapi import LOCK_API, RCU_API, acquire_modes, lock_ops, mutex_wait_modes
from netcheck.model.lang.parse import LOCK_KINDS
from netcheck.model.lang.statements import MAPPING_FORMS

MODES = {"mutex": ("mutex",), "spinlock": ("spin",), "raw_spinlock": ("spin",), "rwsem": ("read", "write")}


def test_every_operation_is_a_statement_form() -> None:
    assert set(LOCK_API) | set(RCU_API) <= set(MAPPING_FORMS)


def test_kinds_and_modes_agree() -> None:
    for name, info in LOCK_API.items():
        assert info.name == name
        assert info.kind in LOCK_KINDS and info.mode in MODES[info.kind], name
        assert not (info.acquires and info.releases), name
        assert info.can_fail == (info.killable or info.trylock)
        assert not (info.killable and info.trylock), name


def test_each_acquire_has_its_release() -> None:
    for name, info in LOCK_API.items():
        if not info.acquires:
            assert info.release is None and info.weaker is None and info.plain is None, name
            continue
        release = LOCK_API[info.release or ""]
        assert release.releases and (release.kind, release.mode) == (info.kind, info.mode), name


def test_weaker_and_plain_variants() -> None:
    for name, info in LOCK_API.items():
        if info.weaker:
            weaker = LOCK_API[info.weaker]
            assert info.mode == "write" and weaker.acquires and weaker.mode == "read", name
            assert (weaker.killable, weaker.trylock) == (info.killable, info.trylock), name
        if info.plain:
            plain = LOCK_API[info.plain]
            assert info.killable and plain.waits and not plain.can_fail and plain.mode == info.mode, name
        assert bool(info.plain) == info.killable, name


def test_derived_views() -> None:
    assert lock_ops("sleeps") == ("mutex_lock", "mutex_lock_killable", "down_read", "down_read_killable",
                                  "down_write", "down_write_killable")
    assert lock_ops("queues") == ("down_read", "down_read_killable", "down_write", "down_write_killable")
    spins = [f"{prefix}lock{suffix}" for prefix in ("spin_", "raw_spin_") for suffix in ("", "_irq", "_irqsave", "_bh")]
    assert mutex_wait_modes() == {"mutex_lock": "mutex", "mutex_lock_killable": "mutex", **dict.fromkeys(spins, "spin")}
    assert acquire_modes(waiting_only=True) == {**mutex_wait_modes(), "down_read": "read",
                                                "down_read_killable": "read", "down_write": "write",
                                                "down_write_killable": "write"}
    assert set(acquire_modes()) == set(lock_ops("acquires"))
    assert [n for n, i in RCU_API.items() if i.reader and not i.srcu] == ["rcu_read_lock", "rcu_read_unlock"]
    assert [n for n, i in RCU_API.items() if i.waits and not i.srcu] == ["synchronize_rcu", "rcu_barrier"]
    assert [n for n, i in RCU_API.items() if i.srcu] == ["srcu_read_lock", "srcu_read_unlock", "synchronize_srcu"]
