"""The kernel lock and RCU APIs a spec may call: one table, and the questions the rest of the code asks of it.

Every module that needs to know what an operation does (which lock kind it takes, whether it acquires
or releases, waits, sleeps or may fail, which release undoes it) asks here, by operation name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .spec import LockOp, Spec


@dataclass(frozen=True)
class LockOpInfo:
    """One lock API operation.

    `mode` is what it takes or gives up: "mutex" (a mutex), "spin" (a spinlock), "read" or "write" (an
    rwsem). downgrade_write neither acquires nor releases in this table's sense: it `downgrades`. `irq` is
    what it does to the CPU's interrupt state besides: "irq" (an acquire disables hardirqs, a release
    enables them), "irqsave" (an acquire saves the hardirq state with the lock and disables them, the
    release restores what was saved) or "bh" (softirqs disabled one level deeper, and back).
    """

    name: str
    kind: str                   # the lock kind it needs: mutex, rwsem, spinlock, raw_spinlock
    mode: str                   # mutex, spin, read, write
    acquires: bool = False
    releases: bool = False
    killable: bool = False      # a fatal signal may end the wait (needs on_fail:)
    trylock: bool = False       # fails at once instead of waiting (needs on_fail:)
    downgrades: bool = False    # downgrade_write: the write hold becomes a read hold
    release: str | None = None  # the release that undoes this acquire
    weaker: str | None = None   # the same acquire in read mode (down_write -> down_read)
    plain: str | None = None    # the same acquire without the killable wait (mutex_lock_killable -> mutex_lock)
    irq: str = ""               # "", irq, irqsave, bh: the interrupt state it changes too

    @property
    def can_fail(self) -> bool:
        """A killable or trylock acquire: the spec must say what happens with on_fail:."""
        return self.killable or self.trylock

    @property
    def waits(self) -> bool:
        """An acquire that waits while the lock is held (every acquire but a trylock)."""
        return self.acquires and not self.trylock

    @property
    def sleeps(self) -> bool:
        """An acquire that sleeps while it waits: forbidden in atomic context (spinlocks spin instead)."""
        return self.waits and self.kind not in SPIN_KINDS

    @property
    def queues(self) -> bool:
        """An rwsem acquire that may wait in the lock's FIFO queue (a separate wake-up step)."""
        return self.waits and self.kind == "rwsem"

    @property
    def rw_mode(self) -> str:
        """read or write for an rwsem operation, '' for a mutex or spinlock."""
        return self.mode if self.kind == "rwsem" else ""


SPIN_KINDS = ("spinlock", "raw_spinlock")   # raw_spinlock_t: a spinlock that stays one under PREEMPT_RT


def _acquire(name: str, kind: str, mode: str, release: str, killable: bool = False, trylock: bool = False,
             weaker: str | None = None, plain: str | None = None, irq: str = "") -> LockOpInfo:
    return LockOpInfo(name, kind, mode, acquires=True, killable=killable, trylock=trylock, release=release,
                      weaker=weaker, plain=plain, irq=irq)


def _spin_api(prefix: str, kind: str) -> tuple[LockOpInfo, ...]:
    """spin_lock and its interrupt-disabling forms (include/linux/spinlock.h), for spinlock_t (prefix spin_)
    or raw_spinlock_t (raw_spin_)."""
    out: list[LockOpInfo] = []
    for suffix, unlock, irq in (("", "", ""), ("_irq", "_irq", "irq"), ("_irqsave", "_irqrestore", "irqsave"),
                                ("_bh", "_bh", "bh")):
        release = f"{prefix}unlock{unlock}"
        out.append(_acquire(f"{prefix}lock{suffix}", kind, "spin", release, irq=irq))
        if not suffix:
            out.append(_acquire(f"{prefix}trylock", kind, "spin", release, trylock=True))
        out.append(LockOpInfo(release, kind, "spin", releases=True, irq=irq))
    return tuple(out)


# In the order the statement forms are listed (and suggested) to spec authors.
_TABLE = (
    _acquire("mutex_lock", "mutex", "mutex", "mutex_unlock"),
    _acquire("mutex_lock_killable", "mutex", "mutex", "mutex_unlock", killable=True, plain="mutex_lock"),
    _acquire("mutex_trylock", "mutex", "mutex", "mutex_unlock", trylock=True),
    LockOpInfo("mutex_unlock", "mutex", "mutex", releases=True),
    _acquire("down_read", "rwsem", "read", "up_read"),
    _acquire("down_read_killable", "rwsem", "read", "up_read", killable=True, plain="down_read"),
    _acquire("down_read_trylock", "rwsem", "read", "up_read", trylock=True),
    LockOpInfo("up_read", "rwsem", "read", releases=True),
    _acquire("down_write", "rwsem", "write", "up_write", weaker="down_read"),
    _acquire("down_write_killable", "rwsem", "write", "up_write", killable=True, weaker="down_read_killable",
             plain="down_write"),
    _acquire("down_write_trylock", "rwsem", "write", "up_write", trylock=True, weaker="down_read_trylock"),
    LockOpInfo("up_write", "rwsem", "write", releases=True),
    LockOpInfo("downgrade_write", "rwsem", "write", downgrades=True),
    *_spin_api("spin_", "spinlock"),
    *_spin_api("raw_spin_", "raw_spinlock"),
)
LOCK_API: Mapping[str, LockOpInfo] = MappingProxyType({info.name: info for info in _TABLE})


@dataclass(frozen=True)
class NestedOpInfo:
    """A lockdep nesting annotation of an acquire: `mutex_lock_nested(lock, subclass)` runs exactly as
    `plain` (mutex_lock); the subclass only puts this acquisition in lock class "lock/subclass" of the
    lock-order graph (Documentation/locking/lockdep-design.rst, "Exception: Nested data dependencies")."""

    name: str
    plain: str                  # the operation it runs as

    @property
    def info(self) -> LockOpInfo:
        return LOCK_API[self.plain]


# The kernel's _nested acquires (include/linux/mutex.h, rwsem.h, spinlock.h), in the order of the table above.
NESTED_API: Mapping[str, NestedOpInfo] = MappingProxyType({info.name: info for info in (
    NestedOpInfo("mutex_lock_nested", "mutex_lock"),
    NestedOpInfo("mutex_lock_killable_nested", "mutex_lock_killable"),
    NestedOpInfo("down_read_nested", "down_read"),
    NestedOpInfo("down_write_nested", "down_write"),
    NestedOpInfo("down_write_killable_nested", "down_write_killable"),
    NestedOpInfo("spin_lock_nested", "spin_lock"),
)})
MAX_SUBCLASS = 7                # lockdep has MAX_LOCKDEP_SUBCLASSES (8) subclasses: 0 to 7
SUBCLASS_CONSTANTS: Mapping[str, int] = MappingProxyType({"SINGLE_DEPTH_NESTING": 1})


@dataclass(frozen=True)
class RcuOpInfo:
    """One RCU operation: a read-side section boundary, or a wait for a grace period or for callbacks.
    The SRCU operations name their domain, an srcu lock (`srcu_read_lock: D`)."""

    name: str
    reader: bool = False        # rcu_read_lock / rcu_read_unlock (srcu_read_lock / srcu_read_unlock)
    waits: bool = False         # waits for the readers or callbacks before it (a slow step)
    srcu: bool = False          # an SRCU operation on the domain it names (include/linux/srcu.h)


RCU_API: Mapping[str, RcuOpInfo] = MappingProxyType({info.name: info for info in (
    RcuOpInfo("rcu_read_lock", reader=True),
    RcuOpInfo("rcu_read_unlock", reader=True),
    RcuOpInfo("synchronize_rcu", waits=True),
    RcuOpInfo("rcu_barrier", waits=True),
    RcuOpInfo("srcu_read_lock", reader=True, srcu=True),
    RcuOpInfo("srcu_read_unlock", reader=True, srcu=True),
    RcuOpInfo("synchronize_srcu", waits=True, srcu=True),
)})
# The RCU list API (include/linux/rculist.h): statement -> the plain list statement it edits the list as
# (list_del_rcu also keeps the element's successor for the readers on it: docs/semantics.md section 7.3).
RCU_LIST_OPS: Mapping[str, str] = MappingProxyType({
    "list_add_rcu": "list_add", "list_add_tail_rcu": "list_add_tail", "list_del_rcu": "list_del"})
SRCU_KIND = "srcu"              # the lock kind of an srcu_struct: an SRCU domain, not a lock


def lock_op(name: str) -> LockOpInfo | None:
    """The lock operation of that name, or None (not a lock API call)."""
    return LOCK_API.get(name)


def lock_ops(where: str = "") -> tuple[str, ...]:
    """The names of the lock operations with the given property (acquires, waits, ...), table order."""
    return tuple(name for name, info in LOCK_API.items() if not where or getattr(info, where))


def acquire_modes(waiting_only: bool = False) -> dict[str, str]:
    """Acquiring operation -> the mode it takes (mutex, spin, read, write); only waiting ones if asked."""
    return {name: info.mode for name, info in LOCK_API.items()
            if info.acquires and (info.waits or not waiting_only)}


def mutex_wait_modes() -> dict[str, str]:
    """Acquires that wait on a mutex or spinlock while it is held (no queue) -> mutex or spin."""
    return {name: info.mode for name, info in LOCK_API.items() if info.waits and not info.queues}


def lock_wrappers(spec: Spec) -> dict[str, LockOp]:
    """Procedures whose whole body is one lock operation (rtnl_lock(), rtnl_unlock()) -> that operation."""
    return {p.name: stmt for p in spec.procedures
            if not p.params and len(p.body) == 1 and isinstance(stmt := p.body[0], LockOp)}
