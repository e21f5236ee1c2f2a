"""Linux lock semantics on small hand-written specs: what must be reachable, what must not be."""

from __future__ import annotations

from helpers import ABBA
from netcheck.model.semantics.locks import read_depth, rw_dequeue, rw_grant, rw_read_now, rw_write_now

HEADER = """
netcheck: 1
name: t
"""


def violated(exp) -> set[str]:
    return set(exp.violations | exp.witnesses)


def test_mutex_excludes_and_counts_exactly(run_spec) -> None:
    exp = run_spec(HEADER + """
locks: {m: mutex}
state: {inside: "int[0..2]"}
procedures:
  worker():
    - mutex_lock: m
    - inside += 1
    - inside -= 1
    - mutex_unlock: m
threads:
  w: {count: 2, run: worker()}
properties:
  exclusive: {invariant: "inside <= 1"}
""")
    assert exp.complete and violated(exp) == set()
    # Each thread is at the lock, at one of 3 statements holding it, or done. Mutual exclusion leaves:
    # both outside ({at lock, done}^2 = 4) + one holding (3 positions x 2 threads x 2 outside) = 16.
    assert exp.state_count == 16
    assert not exp.deadlocks and len(exp.finals) == 1


def test_without_the_mutex_updates_are_lost(run_spec) -> None:
    exp = run_spec(HEADER + """
state: {count: "int[0..2]"}
procedures:
  worker():
    locals: {tmp: "int[0..2]"}
    body:
      - tmp = count
      - count = tmp + 1
threads:
  w: {count: 2, run: worker()}
properties:
  both_counted: {final: "count == 2"}
""")
    assert "both_counted" in violated(exp)


def test_readers_share_writers_exclude(run_spec) -> None:
    exp = run_spec(HEADER + """
locks: {sem: rwsem}
state: {readers: "int[0..2]", writers: "int[0..1]"}
procedures:
  reader():
    - down_read: sem
    - readers += 1
    - readers -= 1
    - up_read: sem
  writer():
    - down_write: sem
    - writers += 1
    - writers -= 1
    - up_write: sem
threads:
  r: {count: 2, run: reader()}
  w: {run: writer()}
properties:
  never_two_readers: {invariant: "readers < 2"}
  writer_alone: {invariant: "writers == 0 or readers == 0"}
""")
    assert violated(exp) == {"never_two_readers"}   # readers run together ...
    assert not exp.deadlocks                         # ... and the writer is never in with them


def test_second_down_read_behind_a_queued_writer_deadlocks(run_spec) -> None:
    exp = run_spec(HEADER + """
locks: {sem: rwsem}
procedures:
  reader():
    - down_read: sem
    - down_read: sem
    - up_read: sem
    - up_read: sem
  writer():
    - down_write: sem
    - up_write: sem
threads:
  r: reader()
  w: writer()
""")
    assert violated(exp) == {"deadlock_free"}
    # the writer is stuck as soon as it queues behind the first read hold, one step before the reader
    # queues behind it (the total deadlock)
    assert len(exp.deadlocks) == 2
    system = exp.system
    base = system.layout.locks["sem"][0]
    first, total = (exp.store.states[i] for i in exp.deadlocks)
    assert exp.stuck[exp.deadlocks[0]] == 0b10 and first[base + 2] == (1 * 2 + 1,)
    assert exp.stuck[exp.deadlocks[1]] == 0b11
    assert total[base] == -1 and total[base + 2] == (1 * 2 + 1, 0 * 2)  # queue: writer, then the reader


def test_recursive_read_without_a_writer_is_fine(run_spec) -> None:
    exp = run_spec(HEADER + """
locks: {sem: rwsem}
procedures:
  reader():
    - down_read: sem
    - down_read: sem
    - up_read: sem
    - up_read: sem
threads:
  r: {count: 2, run: reader()}
""")
    assert violated(exp) == set()


def test_reader_queues_behind_a_waiting_writer_even_when_read_held() -> None:
    # slots: writer, read holds (2 bits per thread), FIFO queue of tid*2 + is_writer
    held_by_reader_0 = [-1, 1, ()]
    assert rw_read_now(held_by_reader_0, 0)                  # readers share ...
    writer_1_waiting = [-1, 1, (1 * 2 + 1,)]
    assert not rw_read_now(writer_1_waiting, 0)              # ... until a writer queues
    assert not rw_write_now(held_by_reader_0, 0)


def queue(*entries: tuple[int, str]) -> tuple[int, ...]:
    return tuple(tid * 2 + (mode == "W") for tid, mode in entries)


def test_release_hands_over_to_the_head_writer() -> None:
    lock = [-1, 0, queue((1, "W"), (2, "R"))]
    assert rw_grant(lock, 0, all_readers=False) == [1]
    assert lock == [1, 0, queue((2, "R"))]


def test_release_wakes_the_run_of_readers_at_the_head() -> None:
    lock = [-1, 0, queue((1, "R"), (2, "R"), (3, "W"), (4, "R"))]
    assert rw_grant(lock, 0, all_readers=False) == [1, 2]
    assert lock[1] == (1 << 2) + (1 << 4) and lock[2] == queue((3, "W"), (4, "R"))


def test_phase_fair_release_wakes_every_queued_reader() -> None:
    lock = [-1, 0, queue((1, "R"), (3, "W"), (4, "R"))]
    assert rw_grant(lock, 0, all_readers=True) == [1, 4]
    assert lock[2] == queue((3, "W"))


def test_interrupted_head_writer_lets_readers_in() -> None:
    lock = [-1, 1, queue((1, "W"), (2, "R"))]    # thread 0 reads; writer 1 waits; reader 2 behind it
    rw_dequeue(lock, 0, 1 * 2 + 1)            # a fatal signal ends the writer's wait
    assert rw_grant(lock, 0, all_readers=False) == [2]
    assert read_depth(lock[1], 2) == 1 and lock[2] == ()


KILLABLE = HEADER + """
locks: {m: mutex}
state: {failed: bool, got: bool, hold: bool}
procedures:
  holder():
    - mutex_lock: m
    - await: HOLD
    - mutex_unlock: m
  waiter():
    - mutex_lock_killable: m
      on_fail: [failed = true, return]
    - got = true
    - mutex_unlock: m
threads:
  h: holder()
  w: waiter()
properties:
  never_fails: {invariant: "not failed"}
"""


def test_killable_wait_can_be_interrupted_while_waiting(run_spec) -> None:
    exp = run_spec(KILLABLE.replace("HOLD", "true"))
    assert "never_fails" in violated(exp)


def test_killable_without_contention_never_fails(run_spec) -> None:
    exp = run_spec(KILLABLE.replace("    - mutex_lock: m\n    - await: HOLD\n    - mutex_unlock: m\n",
                                    "    - hold = true\n"))
    assert violated(exp) == set()


def test_only_signals_left_is_a_deadlock(run_spec) -> None:
    exp = run_spec(KILLABLE.replace("HOLD", "false"))
    # the holder never lets go; the waiter could only be killed: that is a hung task, a deadlock
    assert "deadlock_free" in violated(exp)


def test_trylock_fails_when_held(run_spec) -> None:
    exp = run_spec(HEADER + """
locks: {m: mutex}
state: {busy: bool}
procedures:
  a():
    - mutex_lock: m
    - mutex_unlock: m
  b():
    - mutex_trylock: m
      on_fail: [busy = true, return]
    - mutex_unlock: m
threads:
  a: a()
  b: b()
properties:
  never_busy: {invariant: "not busy"}
""")
    assert violated(exp) == {"never_busy"}


def test_lock_discipline_errors(run_spec) -> None:
    cases = {
        "    - mutex_lock: m\n    - mutex_lock: m\n": "already held",
        "    - mutex_unlock: m\n": "does not hold",
        "    - mutex_lock: m\n": "finished while holding m",
        "    - up_read: s\n": "does not hold it for read",
        "    - down_read: s\n    - down_write: s\n": "self-deadlock",
        "    - spin_lock: sp\n    - mutex_lock: m\n": "while holding a spinlock",
        "    - rcu_read_lock\n    - synchronize_rcu\n": "inside an RCU read-side",
    }
    for body, message in cases.items():
        exp = run_spec(HEADER + "locks: {m: mutex, s: rwsem, sp: spinlock}\nprocedures:\n  p():\n" + body +
                       "threads:\n  t: p()\n")
        assert "lock_discipline" in (exp.violations | exp.witnesses), body
        assert message in (exp.violations | exp.witnesses)["lock_discipline"].message, (body, (exp.violations | exp.witnesses)["lock_discipline"].message)


def test_abba_deadlock(run_spec) -> None:
    exp = run_spec(ABBA)
    assert violated(exp) == {"deadlock_free"}
    assert len(exp.deadlocks) == 1


def test_synchronize_rcu_waits_for_readers_that_started_before(run_spec) -> None:
    exp = run_spec(HEADER + """
state: {published: bool, reader_saw: bool, freed: bool, use_after_free: bool}
procedures:
  reader():
    - rcu_read_lock
    - reader_saw = published
    - use_after_free = reader_saw and freed
    - rcu_read_unlock
  updater():
    - published = true
    - published = false
    - synchronize_rcu
    - freed = true
threads:
  r: reader()
  u: updater()
properties:
  no_use_after_free: {invariant: "not use_after_free"}
""")
    assert violated(exp) == set()


def test_idle_daemon_is_not_a_deadlock(run_spec) -> None:
    exp = run_spec(HEADER + """
state: {work: "int[0..2]", done: "int[0..2]"}
procedures:
  producer():
    - work += 1
  worker():
    - while: true
      do:
        - await: work > 0
          idle: true
        - "work, done = work - 1, done + 1"
threads:
  p: {count: 2, run: producer()}
  w: {run: worker(), daemon: true}
properties:
  all_done: {final: "done == 2"}
""")
    assert violated(exp) == set()
    assert exp.finals and not exp.deadlocks


def test_sleeping_in_atomic_context_is_a_discipline_error(run_spec) -> None:
    for body in ("    - spin_lock: s\n    - await: f\n    - spin_unlock: s\n",
                 "    - rcu_read_lock\n    - mutex_lock: m\n    - mutex_unlock: m\n    - rcu_read_unlock\n"):
        exp = run_spec(HEADER + "locks: {s: spinlock, m: mutex}\nstate: {f: {type: bool, init: true}}\n"
                       "procedures:\n  p():\n" + body + "threads:\n  t: p()\n")
        assert "lock_discipline" in (exp.violations | exp.witnesses), body


def test_trylock_of_a_held_rwsem_just_fails(run_spec) -> None:
    exp = run_spec(HEADER + """
locks: {r: rwsem}
state: {failed: bool}
procedures:
  p():
    - down_write: r
    - down_read_trylock: r
      on_fail: [failed = true]
    - up_write: r
threads:
  t: p()
properties:
  never: {invariant: "not failed"}
""")
    assert set(exp.violations | exp.witnesses) == {"never"}


def test_idle_await_only_rests_a_daemon(run_spec) -> None:
    spec = HEADER + """
state: {flag: bool}
procedures:
  p():
    - await: flag
      idle: true
threads:
  t: {run: p(), daemon: DAEMON}
"""
    assert "deadlock_free" in run_spec(spec.replace("DAEMON", "false")).violations
    assert run_spec(spec.replace("DAEMON", "true")).violations == {}
