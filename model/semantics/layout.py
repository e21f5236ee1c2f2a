"""The state vector: which slot of the flat state tuple holds what.

A state is one flat tuple. Slots hold ints (pcs, ints, enum indices, element indices with -1 for null,
set bitmasks, lock owners), bools, or tuples (lists, rwsem wait queues).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from ..lang.spec import Spec
from ..lang.types import BoolT, IntT, ListT, RefT, SetT, Type, WaitQueueT

MAX_SLOTS = 20_000


class LayoutTooLarge(Exception):
    """The spec's state vector would be unreasonably large (huge per: maps or lock arrays)."""


class SlotKind(str, Enum):
    """What a slot of the state vector holds (a str, so it still compares equal to its value)."""

    PC = "pc"                      # a thread's program counter
    LOCAL = "local"                # a pooled local of a thread, of one sort (None while unused)
    SHARED = "shared"              # a shared variable, or one key of a per: map
    LOCK_OWNER = "lock_owner"      # a mutex's or spinlock's owner, an rwsem's writer (-1: none)
    LOCK_READERS = "lock_readers"  # an rwsem's read holds, READ_BITS per thread
    LOCK_QUEUE = "lock_queue"      # an rwsem's FIFO wait queue
    RCU_NEST = "rcu_nest"          # a thread's RCU read-side nesting depth
    GP_WAIT = "gp_wait"            # the readers a thread's synchronize_rcu() waits for (bitmask)
    #                                (with `var` an srcu lock: that SRCU domain's nesting and grace-period wait)
    GHOST_NEXT = "ghost_next"      # an RCU list's element deleted by list_del_rcu: its successor then (-1: the head)
    GHOST_READERS = "ghost_readers"  # the readers inside a read-side section since its deletion (bitmask)
    IRQS_OFF = "irqs_off"          # a thread's hardirqs disabled (1) or enabled (0)
    BH_DEPTH = "bh_depth"          # how deep a thread has disabled softirqs (spin_lock_bh)
    IRQ_FLAGS = "irq_flags"        # the irqs_off a spin_lock_irqsave of this spinlock instance saved

    def __str__(self) -> str:
        return self.value

    @property
    def is_lock(self) -> bool:
        """One of a lock instance's slots."""
        return self in (SlotKind.LOCK_OWNER, SlotKind.LOCK_READERS, SlotKind.LOCK_QUEUE)


@dataclass(frozen=True)
class Slot:
    name: str            # display name, e.g. init_count[net0, ops1] or creator(net0).rv
    kind: SlotKind
    type: Type | None
    thread: int = -1     # owning thread for pc/local/rcu slots
    var: str = ""        # shared variable or lock name
    key: tuple[int, ...] = ()
    sort: str = ""       # a local slot's value sort (local_sort): every local it holds has that sort


@dataclass
class Layout:
    slots: list[Slot] = field(default_factory=list)
    shared: dict[str, tuple[int, tuple[int, ...]]] = field(default_factory=dict)  # name -> (base, strides)
    locks: dict[str, tuple[int, int, tuple[int, ...]]] = field(default_factory=dict)  # name -> (base, width, strides)
    lock_kinds: dict[str, str] = field(default_factory=dict)
    pc: list[int] = field(default_factory=list)
    rcu_nest: list[int] = field(default_factory=list)
    gp_wait: list[int] = field(default_factory=list)
    srcu_nest: dict[str, list[int]] = field(default_factory=dict)   # SRCU domain -> each thread's nesting
    srcu_gp: dict[str, list[int]] = field(default_factory=dict)     # SRCU domain -> each thread's gp wait
    # an RCU list (a list_*_rcu statement names it) -> (first GHOST_NEXT slot, first GHOST_READERS slot, its
    # entity's size): one slot of each per element
    rcu_lists: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    irqs_off: list[int] = field(default_factory=list)    # per thread, when the spec disables hardirqs
    bh_depth: list[int] = field(default_factory=list)    # per thread, when the spec disables softirqs
    irq_flags: dict[int, int] = field(default_factory=dict)   # spinlock instance (owner slot) -> its saved flags

    def domain(self, name: str) -> tuple[list[int], list[int]]:
        """The nesting and grace-period slots per thread of RCU ('') or an SRCU domain."""
        return (self.srcu_nest[name], self.srcu_gp[name]) if name else (self.rcu_nest, self.gp_wait)

    def add(self, slot: Slot) -> int:
        if len(self.slots) >= MAX_SLOTS:
            raise LayoutTooLarge(f"the state needs more than {MAX_SLOTS:,} slots")
        self.slots.append(slot)
        return len(self.slots) - 1


def wait_queue_slots(layout: Layout) -> tuple[int, ...]:
    """The slots of every wait queue instance (shared slots of type wait_queue_head_t), in slot order."""
    return tuple(i for i, s in enumerate(layout.slots) if s.kind == SlotKind.SHARED and isinstance(s.type, WaitQueueT))


def ghost_slots(layout: Layout) -> list[tuple[int, int]]:
    """(GHOST_NEXT slot, GHOST_READERS slot) of every element of every RCU list."""
    return [(nb + k, rb + k) for nb, rb, n in layout.rcu_lists.values() for k in range(n)]


def free_checks(layout: Layout, entity: str) -> tuple[list[int], list[tuple[str, int]]]:
    """What kfree of an `entity` element checks: the shared list slots of that entity (it must be on none),
    and (name, first GHOST_READERS slot) of its RCU lists (no reader may still reach it)."""
    lists = [i for i, s in enumerate(layout.slots) if s.kind == SlotKind.SHARED and isinstance(s.type, ListT)
             and s.type.entity == entity]
    ghosts = [(name, rb) for name, (_, rb, _) in layout.rcu_lists.items()
              if getattr(layout.slots[layout.shared[name][0]].type, "entity", "") == entity]
    return lists, ghosts


def local_sort(t: Type) -> str:
    """The sort of a local's values, which decides the pool its slot comes from: bool, int (ints, enum
    indices), ref<entity> (an element index, -1 for null), set<entity> (a bitmask that wide) or
    list<entity>. References and lists keep to one entity's slots, so that a slot's values can be
    permuted with that entity's elements (model/semantics/symmetry.py)."""
    if isinstance(t, BoolT):
        return "bool"
    if isinstance(t, SetT):
        return f"set<{t.entity}>"
    if isinstance(t, ListT):
        return f"list<{t.entity}>"
    if isinstance(t, RefT):
        return f"ref<{t.entity}>"
    return "int"


def sort_type(sort: str) -> Type:
    """The type a local slot's values have, read back from its sort (`local_sort`): an element reference
    (nullable), a set, a list, a bool, or an int."""
    kind, _, rest = sort.partition("<")
    entity = rest.rstrip(">")
    types: dict[str, Type] = {"ref": RefT(entity, True), "set": SetT(entity), "list": ListT(entity), "bool": BoolT()}
    return types.get(kind, IntT())


def value_type(slot: Slot) -> Type | None:
    """The type of a shared or local slot's values (None for the engine's own slots: owners, queues...)."""
    return sort_type(slot.sort) if slot.kind == SlotKind.LOCAL else slot.type


def strides(sizes: list[int]) -> tuple[int, ...]:
    out = []
    acc = 1
    for size in reversed(sizes):
        out.append(acc)
        acc *= size
    return tuple(reversed(out))


def key_names(spec: Spec, per: tuple[str, ...]) -> list[tuple[tuple[int, ...], str]]:
    """Every key of a per: domain with its display text, in index order."""
    keys: list[tuple[tuple[int, ...], str]] = [((), "")]
    for entity in per:
        elements = spec.entity(entity).elements
        keys = [(k + (i,), f"{t}, {el}" if t else el) for k, t in keys for i, el in enumerate(elements)]
    return keys


def shared_layout(spec: Spec, layout: Layout) -> None:
    """Slots for shared variables and locks, after the thread slots."""
    for var in spec.vars:
        sizes = [len(spec.entity(e).elements) for e in var.per]
        base = len(layout.slots)
        for key, text in key_names(spec, var.per):
            name = f"{var.name}[{text}]" if var.per else var.name
            layout.add(Slot(name, SlotKind.SHARED, var.type, var=var.name, key=key))
        layout.shared[var.name] = (base, strides(sizes))
    for lock in spec.locks:
        if lock.kind == "srcu":   # an SRCU domain: per-thread slots (model/semantics/system.py)
            continue
        sizes = [len(spec.entity(e).elements) for e in lock.per]
        width = 3 if lock.kind == "rwsem" else 1
        base = len(layout.slots)
        for key, text in key_names(spec, lock.per):
            name = f"{lock.name}[{text}]" if lock.per else lock.name
            if lock.kind == "rwsem":
                layout.add(Slot(name + ".writer", SlotKind.LOCK_OWNER, None, var=lock.name, key=key))
                layout.add(Slot(name + ".readers", SlotKind.LOCK_READERS, None, var=lock.name, key=key))
                layout.add(Slot(name + ".queue", SlotKind.LOCK_QUEUE, None, var=lock.name, key=key))
            else:
                layout.add(Slot(name + ".owner", SlotKind.LOCK_OWNER, None, var=lock.name, key=key))
        layout.locks[lock.name] = (base, width, tuple(s * width for s in strides(sizes)))
        layout.lock_kinds[lock.name] = lock.kind
