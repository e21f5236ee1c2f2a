"""Linux lock semantics as pure updates of lock slots in a state list.

mutex/spinlock: one slot, the owner thread or -1. Waiters are not queued: when the lock is free any
waiter (or a newcomer) may take it, the kernel's optimistic spinning and non-FIFO wake-up included.

rwsem: three slots: the writer (-1 if none), the read holds (2 bits of count per thread), and the FIFO
wait queue as a tuple of `tid * 2 + is_writer`. A reader takes the lock at once only when no writer
holds it and nobody waits; otherwise it queues, behind any queued writer. Releases hand the lock to
the head of the queue: a writer, or the run of readers at the head (3.10/4.x rwsem-xadd,
`head_run`) or every queued reader (phase-fair >= 5.x, `all_readers`).
"""

from __future__ import annotations

from collections.abc import Sequence

READ_BITS = 2
READ_MASK = (1 << READ_BITS) - 1
MAX_READ_DEPTH = READ_MASK


def read_depth(readers: int, tid: int) -> int:
    return readers >> (READ_BITS * tid) & READ_MASK


def reader_tids(readers: int) -> list[int]:
    """The threads holding a read (none for a negative count, which only an ill-formed state has: a
    counterexample to induction's, where no fact bounds it)."""
    out, tid = [], 0
    while readers > 0:
        if readers & READ_MASK:
            out.append(tid)
        readers >>= READ_BITS
        tid += 1
    return out


def rw_read_now(s: Sequence, b: int) -> bool:
    """A down_read succeeds at once: no writer holds the lock and nobody waits."""
    return s[b] == -1 and not s[b + 2]


def rw_write_now(s: Sequence, b: int) -> bool:
    return s[b] == -1 and s[b + 1] == 0 and not s[b + 2]


def rw_grant(l: list, b: int, all_readers: bool) -> list[int]:
    """Hand a free (or read-held) rwsem to the head of its queue, as the kernel's wake-up does.

    Returns the threads granted the lock (they were waiting and may now run on).
    """
    queue = l[b + 2]
    if not queue or l[b] != -1:
        return []
    head = queue[0]
    if head & 1:
        if l[b + 1] == 0:
            l[b] = head >> 1
            l[b + 2] = queue[1:]
            return [head >> 1]
        return []
    readers = l[b + 1]
    rest = []
    granted = []
    taking = True
    for w in queue:
        if w & 1:
            rest.append(w)
            if not all_readers:
                taking = False
        elif taking:
            readers += 1 << (READ_BITS * (w >> 1))
            granted.append(w >> 1)
        else:
            rest.append(w)
    l[b + 1] = readers
    l[b + 2] = tuple(rest)
    return granted


def rw_dequeue(l: list, b: int, entry: int) -> None:
    """A waiter leaves the queue (the entry is in it)."""
    queue = list(l[b + 2])
    queue.remove(entry)
    l[b + 2] = tuple(queue)

