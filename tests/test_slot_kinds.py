"""State-vector slots carry a SlotKind, and running(PROC) is a Running expression node, on the shipped specs."""

from __future__ import annotations

from pathlib import Path

from netcheck.model.lang.expr import Call, Running, walk
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.layout import SlotKind
from netcheck.model.semantics.system import TransitionSystem

ROOT = Path(__file__).resolve().parent.parent


def test_every_slot_has_a_slot_kind() -> None:
    system = TransitionSystem(load_spec(ROOT / "specs" / "net_sem.yaml"))
    kinds = {slot.kind for slot in system.layout.slots}
    assert all(isinstance(k, SlotKind) for k in kinds)
    assert {SlotKind.PC, SlotKind.SHARED, SlotKind.LOCK_OWNER, SlotKind.LOCK_READERS, SlotKind.LOCK_QUEUE,
            SlotKind.LOCAL} <= kinds
    assert SlotKind.LOCK_QUEUE == "lock_queue" and str(SlotKind.LOCK_QUEUE) == "lock_queue"
    assert f"{SlotKind.PC}" == "pc"
    assert [k for k in SlotKind if k.is_lock] == [SlotKind.LOCK_OWNER, SlotKind.LOCK_READERS, SlotKind.LOCK_QUEUE]
    assert [system.layout.slots[i].kind for i in system.layout.pc] == [SlotKind.PC] * len(system.threads)


def test_running_is_its_own_node(write_spec) -> None:
    spec = load_spec(write_spec("""
        netcheck: 1
        name: running_node
        locks: {m: {kind: mutex}}
        state: {n: {type: "int[0..2]", init: 0}}
        procedures:
          bump():
            - mutex_lock: m
            - n += 1
            - mutex_unlock: m
        threads:
          a: bump()
          b: bump()
        properties:
          both: {reachable: "running(bump) == 2"}
    """))
    expr = next(p for p in spec.properties if p.name == "both").expr
    nodes = list(walk(expr))
    assert [x.proc for x in nodes if isinstance(x, Running)] == ["bump"]
    assert not any(isinstance(x, Call) for x in nodes)
    system = TransitionSystem(spec)
    assert set(system.layout.pc) <= system.mentioned_slots(expr)
