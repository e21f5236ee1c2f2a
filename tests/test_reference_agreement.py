"""The production explorer against an independent, deliberately naive reference explorer.

tests/reference_explorer.py interprets the `Spec` directly (call stacks of frames, its own evaluator and
its own lock semantics written from docs/semantics.md); it shares nothing with the production engine but
the spec loader. The two must agree on every observable result: the number of reachable states and of
final states, the deadlocked states (as a multiset of where each thread stands: the file:line:col of its
statement, or finished), the verdict of every property, and the answer to every question (`reachable:`,
`waits_on_slow:`; in `Observed.violated` a question's name means "reached").

- `test_random_specs_agree`: Hypothesis-generated specs (tests/spec_generator.py), 150 by default,
  `NETCHECK_HYPOTHESIS_EXAMPLES=N` for more; derandomized, so every run checks the same specs;
  The generator also writes the patterns of the (fixed) known bugs; `NETCHECK_BUG_PATTERNS=0` leaves them out.
- `test_corner`: one small spec per semantic corner, with exact expected counts for both explorers
  (the smallest ones counted by hand, see the comments).
- `test_wake_order_grant`: the rwsem wake policy, checked on the grant step itself (it does not show
  in counts, see there).
- `test_net_mutex`, `test_docs_examples`, `test_shipped_specs` (slow: every spec at net=1),
  `test_pinned_counts_at_default_bounds` (slow: the three shipped specs in full): real specs.
- `test_known_bug`: production bugs found by this cross-check (all fixed), as minimal regression specs.
"""

from __future__ import annotations

import os
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import helpers
import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from netcheck.checker.analyses.waitfor import slow_chains
from netcheck.checker.engine.explore import explore
from netcheck.checker.engine.limits import Limits
from netcheck.model.lang.errors import SpecError
from netcheck.model.lang.parse import load_spec
from netcheck.model.lang.spec import Spec
from netcheck.model.semantics.evaluate import EvalError
from netcheck.model.semantics.system import TransitionSystem
from reference_explorer import Reference
from spec_generator import BUG_PATTERNS, specs
from test_specs import CORRECT

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("NETCHECK_HYPOTHESIS_EXAMPLES") or 150)
MAX_STATES = 5_000            # random specs larger than this are skipped (about 1 in 100)
SLOW = bool(os.environ.get("NETCHECK_SLOW"))
# The known bugs below are fixed, so the generator writes their patterns too (NETCHECK_BUG_PATTERNS=0
# leaves them out, to tell a new disagreement from an old one).
GENERATOR_FLAGS = None if os.environ.get("NETCHECK_BUG_PATTERNS") == "0" else BUG_PATTERNS


# ---------------------------------------------------------------- running both explorers


@dataclass(frozen=True)
class Observed:
    states: int
    deadlocks: int
    finals: int
    violated: frozenset[str]
    # the states with a stuck thread as a multiset: per thread, where it stands (file:line:col, None once
    # finished) and whether it is stuck
    deadlocked: Counter = field(default_factory=Counter, compare=False)

    def __str__(self) -> str:
        return (f"{self.states} states, {self.deadlocks} deadlocked, {self.finals} final, "
                f"violated: {', '.join(sorted(self.violated)) or 'none'}")


def load_text(text: str, bounds: dict[str, int] | None = None) -> Spec:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return load_spec(path, bounds)


def production(spec: Spec, max_states: int | None = None) -> Observed | None:
    """What the production engine finds; None when it stopped at max_states."""
    exp = explore(TransitionSystem(spec), Limits(max_states=max_states), measure_memory=False)
    if not exp.complete:
        return None
    system = exp.system
    deadlocked: Counter = Counter()
    for i in exp.deadlocks:
        nodes = [system.node_at(exp.store.states[i], tid) for tid in range(len(system.threads))]
        deadlocked[tuple((None if n is None else str(n.stmt.span), bool(exp.stuck[i] >> tid & 1))
                         for tid, n in enumerate(nodes))] += 1
    # questions: a reached `reachable:` condition is in (exp.violations | exp.witnesses); `waits_on_slow:` is answered after exploring
    slow = {p.name for p in spec.properties if p.kind == "waits_on_slow" and slow_chains(exp, p.target) is not None}
    return Observed(exp.state_count, len(exp.deadlocks), len(exp.finals), frozenset(exp.violations | exp.witnesses) | slow, deadlocked)


def reference(spec: Spec, max_states: int | None = None) -> Observed | None:
    res = Reference(spec).explore(max_states)
    if not res.complete:
        return None
    return Observed(res.states, res.deadlocks, res.finals, frozenset(res.violated), res.deadlocked)


def property_names(spec: Spec) -> list[str]:
    """Every property with a verdict: declared ones, asserts and the built-in ones."""
    names = [p.name for p in spec.properties] + [a.name for a in spec.asserts]
    if spec.options.deadlock:
        names.append("deadlock_free")
    return names + ["lock_discipline", "runtime_safety"]


def differences(spec: Spec, prod: Observed, ref: Observed) -> list[str]:
    out = []
    for what in ("states", "deadlocks", "finals"):
        if getattr(prod, what) != getattr(ref, what):
            out.append(f"{what}: production {getattr(prod, what)}, reference {getattr(ref, what)}")
    if prod.deadlocked != ref.deadlocked:
        only_prod, only_ref = prod.deadlocked - ref.deadlocked, ref.deadlocked - prod.deadlocked
        out.append(f"deadlocked states (where the threads stand): production only {dict(only_prod)}, "
                   f"reference only {dict(only_ref)}")
    for name in property_names(spec):
        p, r = name in prod.violated, name in ref.violated
        if p != r:
            out.append(f"property {name}: production says {'violated' if p else 'holds'}, "
                       f"reference says {'violated' if r else 'holds'}")
    return out


def generated_specs_agree(world_flags: dict, examples: int,
                          observe: Callable[[str, Spec, Observed], None] | None = None) -> int:
    """Random specs drawn with `world_flags` (tests/spec_generator.py) explored by netcheck and by the
    reference explorer, which must agree; how many were compared. `observe` sees each compared spec (its text,
    the loaded spec and what both found)."""
    compared: list[int] = []

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None, print_blob=False,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(specs(world_flags))
    def check(text: str) -> None:
        note(text)
        s = load_text(text)
        prod = production(s, MAX_STATES)
        assume(prod is not None)
        assert prod is not None
        ref = reference(s, 4 * MAX_STATES)
        assert ref is not None
        assert_agree(s, prod, ref)
        compared.append(prod.states)
        if observe is not None:
            observe(text, s, prod)

    check()
    return len(compared)


def assert_agree(spec: Spec, prod: Observed, ref: Observed) -> None:
    diff = differences(spec, prod, ref)
    assert not diff, "the explorers disagree:\n  " + "\n  ".join(diff) + f"\nproduction: {prod}\nreference:  {ref}"


# ---------------------------------------------------------------- random specs


def test_random_specs_agree() -> None:
    compared: list[int] = []
    started = time.perf_counter()

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=False,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much])
    @given(specs(GENERATOR_FLAGS))
    def check(text: str) -> None:
        note(text)
        try:
            spec = load_text(text)
        except SpecError as err:
            raise AssertionError(f"the generator wrote a spec the loader refuses (fix tests/spec_generator.py):"
                                 f"\n{err}") from None
        prod = production(spec, MAX_STATES)
        assume(prod is not None)   # too big for a quick comparison
        assert prod is not None
        ref = reference(spec, 4 * MAX_STATES)
        assert ref is not None, f"the reference explores far more states than production ({prod.states})"
        assert_agree(spec, prod, ref)
        compared.append(prod.states)

    check()
    compared.sort()
    print(f"\ncompared {len(compared)} random specs in {time.perf_counter() - started:.1f} s; states: median "
          f"{compared[len(compared) // 2] if compared else 0}, max {compared[-1] if compared else 0}")
    # the generator must keep producing specs of a useful size, not only trivial or oversized ones
    assert len(compared) >= 0.9 * EXAMPLES
    assert sum(1 for n in compared if n >= 10) >= 0.5 * len(compared)


# ---------------------------------------------------------------- semantic corners, exact counts


@dataclass(frozen=True)
class Corner:
    name: str
    text: str
    states: int
    deadlocks: int
    finals: int
    violated: frozenset[str]


RCU_REPLACE = """
    netcheck: 1
    state:
      published: {type: bool, init: true}
      freed: {type: bool}
      used_after_free: {type: bool}
    procedures:
      reader():
        locals: {got: bool}
        body:
          - rcu_read_lock
          - got = published
          - if: got and freed
            then: [used_after_free = true]
          - rcu_read_unlock
      updater():
        - published = false
        - GRACE_PERIOD
        - freed = true
    threads:
      reader: reader()
      updater: updater()
    properties:
      no_use_after_free: {invariant: not used_after_free}
    """

BUSY_POLLER = textwrap.indent(helpers.BUSY_POLLER, " " * 8)  # at the corners' indentation
# The poller is a daemon that never rests: 6 states of its own (spin_lock, assignment, spin_unlock x polls
# 0 and 1, in a cycle), always able to step, so no state is terminal and none is final.

CORNERS = [
    # ABBA next to the busy poller: the ABBA pair alone has 19 states (abba.yaml), one of them the
    # deadlock (ab holds a at lock b, ba holds b at lock a): 19 x 6 = 114 states, 6 with two stuck threads.
    Corner("abba_next_to_a_busy_poller", (helpers.EXAMPLES / "bugs" / "abba_busy_bystander.yaml").read_text(),
           114, 6, 0, frozenset({"deadlock_free"})),
    # A lost wake-up: the waiter waits for `ready` while holding m, which the waker needs to set it.
    # Without the poller, 8 states: (W0,K0) (W1,K0)* (W0,K1) (W0,K2,ready) (W0,Kd,ready) (W1,Kd,ready)
    # (W2,Kd,ready) (Wd,Kd,ready), where * has both stuck; with it, 8 x 6 = 48 states, 6 with stuck threads.
    Corner("lost_wakeup_next_to_a_busy_poller", """
        netcheck: 1
        locks: {m: mutex, stat_lock: spinlock}
        state:
          polls: {type: "int[0..1]"}
          ready: {type: bool}
        procedures:
          waiter():
            - mutex_lock: m
            - await: ready
            - mutex_unlock: m
          waker():
            - mutex_lock: m
            - ready = true
            - mutex_unlock: m""" + BUSY_POLLER + """
        threads:
          waiter: waiter()
          waker: waker()
          poller: {run: poller(), daemon: true}
        """, 48, 6, 0, frozenset({"deadlock_free"})),
    # A wait no remaining thread can satisfy: count only ever reaches 1, so the waiter is stuck from the
    # start, in all 2 (incrementer before, after) x 6 = 12 states.
    Corner("wait_nobody_can_satisfy_next_to_a_busy_poller", """
        netcheck: 1
        locks: {stat_lock: spinlock}
        state:
          polls: {type: "int[0..1]"}
          count: {type: "int[0..2]"}
        procedures:
          waiter():
            - await: count == 2
          incrementer():
            - count = count + 1""" + BUSY_POLLER + """
        threads:
          waiter: waiter()
          incrementer: incrementer()
          poller: {run: poller(), daemon: true}
        """, 12, 12, 0, frozenset({"deadlock_free"})),
    # Hand count: reader R0 R1 R1(queued) R2 R3 done x writer W0 W0(queued) W1 done; 17 reachable. Two
    # states have a stuck thread: (R1, W0 queued), where the writer is stuck (the reader can still step, but
    # only into the queue behind it), and (R1 queued, W0 queued), where both are.
    Corner("recursive_read_behind_queued_writer_deadlocks", """
        netcheck: 1
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
          reader: reader()
          writer: writer()
        """, 17, 2, 1, frozenset({"deadlock_free"})),
    # all_readers changes nothing here: the second down_read queues behind the writer either way.
    Corner("recursive_read_deadlocks_with_all_readers_too", """
        netcheck: 1
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
          reader: reader()
          writer: writer()
        options: {rwsem_wake: all_readers}
        """, 17, 2, 1, frozenset({"deadlock_free"})),
    # Hand count (H holder, T waiter; Tf: at on_fail's "interrupted = true", a visible write):
    # (H0,T0) (H1,T0) (H0,T1) (Hd,T0) (H1,Tq) (H0q,T1) (H0,Td) (Hd,T1) (H1,Tf) (H1,Td) (Hd,Td) (Hd,Tf)
    # (H1,Td,interrupted) (Hd,Td,interrupted) = 14. From (H1,Tq) the holder's up_write grants T and moves
    # it on inside the same step: T is never granted-but-waiting, and is interrupted only while queued.
    Corner("killable_wait_interrupted_only_while_queued", """
        netcheck: 1
        locks: {sem: rwsem}
        state:
          interrupted: {type: bool}
        procedures:
          holder():
            - down_write: sem
            - up_write: sem
          waiter():
            - down_read_killable: sem
              on_fail: ["interrupted = true", return]
            - up_read: sem
        threads:
          holder: holder()
          waiter: waiter()
        properties:
          never_interrupted: {final: not interrupted}
        """, 14, 0, 2, frozenset({"never_interrupted"})),
    # Hand count: (H0,W0) (H1,W0) (H0,W1) (H1,Wd) (H0,Wd) = 5. In (H1,W0) the waiter can only be
    # interrupted: a state where only signals can move is still a deadlock; so is (H1,Wd).
    Corner("only_signals_left_is_a_deadlock", """
        netcheck: 1
        locks: {m: mutex}
        state:
          never: {type: bool}
        procedures:
          holder():
            - mutex_lock: m
            - await: never
            - mutex_unlock: m
          waiter():
            - mutex_lock_killable: m
              on_fail: [return]
            - mutex_unlock: m
        threads:
          holder: holder()
          waiter: waiter()
        """, 5, 2, 0, frozenset({"deadlock_free"})),
    Corner("killable_mutex_and_rwsem_waits", """
        netcheck: 1
        locks: {m: mutex, sem: rwsem}
        state:
          done: {type: bool}
          interrupted: {type: "int[0..2]"}
        procedures:
          holder():
            - mutex_lock: m
            - down_write: sem
            - await: done
            - up_write: sem
            - mutex_unlock: m
          mutex_waiter():
            - mutex_lock_killable: m
              on_fail: ["interrupted += 1", return]
            - mutex_unlock: m
          rwsem_waiter():
            - down_read_killable: sem
              on_fail: ["interrupted += 1", return]
            - up_read: sem
          finisher():
            - done = true
        threads:
          holder: holder()
          mutex_waiter: mutex_waiter()
          rwsem_waiter: rwsem_waiter()
          finisher: finisher()
        properties:
          never_interrupted: {final: interrupted == 0}
        """, 150, 0, 3, frozenset({"never_interrupted"})),
    # Hand count (Tf: at on_fail's "failed = true", a visible write): (H0,T0) (H1,T0) (H0,T1) (Hd,T0)
    # (H1,Tf) (H0,Td) (Hd,T1) (Hd,Tf) (H1,Td,failed) (H1,Td) (Hd,Td) (Hd,Td,failed) = 12, two final.
    Corner("mutex_trylock_fails_on_a_held_mutex", """
        netcheck: 1
        locks: {m: mutex}
        state:
          failed: {type: bool}
        procedures:
          holder():
            - mutex_lock: m
            - mutex_unlock: m
          trier():
            - mutex_trylock: m
              on_fail: ["failed = true", return]
            - mutex_unlock: m
        threads:
          holder: holder()
          trier: trier()
        properties:
          never_fails: {final: not failed}
        """, 12, 0, 2, frozenset({"never_fails"})),
    # down_read_trylock fails behind a queued writer even when the lock is only read-held; a trylock
    # of a lock the thread already holds fails (it is not a self-deadlock).
    Corner("rwsem_trylocks", """
        netcheck: 1
        locks: {m: mutex, sem: rwsem}
        state:
          failed: {type: "int[0..3]"}
        procedures:
          mutex_user():
            - mutex_lock: m
            - mutex_unlock: m
          trier():
            - mutex_trylock: m
              on_fail: ["failed += 1", goto rw]
            - mutex_unlock: m
            - label: rw
            - down_write: sem
            - down_write_trylock: sem
              on_fail: ["failed += 1", goto out]
            - up_write: sem
            - label: out
            - up_write: sem
          reader():
            - down_read_trylock: sem
              on_fail: ["failed += 1", return]
            - up_read: sem
        threads:
          mutex_user: mutex_user()
          trier: trier()
          reader: reader()
        properties:
          self_trylock_always_fails: {final: failed >= 1}
          nothing_fails: {final: failed == 0}
        """, 118, 0, 3, frozenset({"nothing_fails"})),
    # Same reachable states under both wake policies (see test_wake_order_grant for why). 33 states have a
    # stuck thread (both engines; 9 of them total deadlocks): a thread at an await of write_locked(sem)
    # once the holder has finished and w cannot take the lock any more, r1 holding its read while waiting
    # for r2_in that r2 can no longer set, and w or r2 queued behind such a stuck reader.
    Corner("wake_order_head_run", """
        netcheck: 1
        locks: {sem: rwsem}
        state:
          r2_in: {type: bool}
        procedures:
          holder():
            - down_write: sem
            - up_write: sem
          r1():
            - await: "write_locked(sem)"
            - down_read: sem
            - await: r2_in
            - up_read: sem
          w():
            - await: "write_locked(sem)"
            - down_write: sem
            - up_write: sem
          r2():
            - await: "write_locked(sem)"
            - down_read: sem
            - r2_in = true
            - up_read: sem
        threads:
          holder: holder()
          r1: r1()
          w: w()
          r2: r2()
        options: {rwsem_wake: head_run}
        """, 125, 33, 1, frozenset({"deadlock_free"})),
    # Hand count: 2 settled initial states (inside helper(1) / helper(2), locals k, j differ), then one
    # state after the return (the callee's locals are dead), one final: 4, not 6.
    Corner("dead_locals_do_not_distinguish_states", """
        netcheck: 1
        state:
          v: {type: bool}
          done: {type: bool}
        procedures:
          helper(int[0..2] k):
            locals: {j: "int[0..2]"}
            body:
              - j = k
              - v = true
          main():
            - either:
                one: ["helper(1)"]
                two: ["helper(2)"]
            - done = true
        threads:
          t: main()
        """, 4, 0, 1, frozenset()),
    # Hand count: the either is settled into the initial states (x = 1 / x = 2), the visible write is the
    # only step; the finished thread keeps no locals: 2 + 1 states.
    Corner("finished_thread_keeps_no_locals", """
        netcheck: 1
        state:
          v: {type: bool}
        procedures:
          main():
            locals: {x: "int[0..2]"}
            body:
              - either:
                  a: [x = 1]
                  b: [x = 2]
              - v = true
        threads:
          t: main()
        """, 3, 0, 1, frozenset()),
    # Hand count: each thread has 5 statements, 2 visible: positions before step 1, before step 2,
    # finished: a 3 x 3 grid.
    Corner("local_statements_take_no_step", """
        netcheck: 1
        entities: {cpu: 2}
        state:
          a: {type: "int[0..3]", per: [cpu]}
        procedures:
          worker(cpu c):
            locals: {x: "int[0..3]"}
            body:
              - x = 1
              - a[c] = x
              - x = x + 1
              - if: x > 1
                then: [x = 0]
              - a[c] = 2
        threads:
          t: {for: c in cpu, run: worker(c)}
        """, 9, 0, 1, frozenset()),
    # Hand count: producer P0/Pd x worker at the idle await (A) or about to consume (C): (A,P0,F)
    # (A,Pd,T) (C,Pd,T) (A,Pd,F) = 4. A daemon resting at an idle await is quiescent: one final state.
    Corner("daemon_rests_at_idle_await", """
        netcheck: 1
        state:
          work: {type: bool}
        procedures:
          worker():
            - while: true
              do:
                - await: work
                  idle: true
                - work = false
          producer():
            - work = true
        threads:
          worker: {run: worker(), daemon: true}
          producer: producer()
        """, 4, 0, 1, frozenset()),
    # The same thread without daemon: true must finish: resting at the idle await is a deadlock.
    Corner("non_daemon_at_idle_await_is_deadlocked", """
        netcheck: 1
        state:
          work: {type: bool}
        procedures:
          worker():
            - while: true
              do:
                - await: work
                  idle: true
                - work = false
          producer():
            - work = true
        threads:
          worker: worker()
          producer: producer()
        """, 4, 1, 0, frozenset({"deadlock_free"})),
    # synchronize_rcu waits for the readers inside a read-side section when it starts (the one that may
    # have read the old pointer), not for later ones (they cannot see it): unpublish, wait, free is safe.
    Corner("synchronize_rcu_waits_for_preexisting_readers", RCU_REPLACE.replace("GRACE_PERIOD", "synchronize_rcu"),
           32, 0, 1, frozenset()),
    Corner("rcu_barrier_is_no_grace_period", RCU_REPLACE.replace("GRACE_PERIOD", "rcu_barrier"),
           36, 0, 2, frozenset({"no_use_after_free"})),
    # Sleeping in atomic context is a lock_discipline violation: an await under a spinlock, a mutex_lock
    # inside an RCU read-side section; a trylock under a spinlock is fine. Hand count for the first two:
    # S0 S1 (holding) x O0 Od = 4; the step from S1 is the violation (no state), and since a violation
    # counts as a move, no state is terminal: 0 deadlocked, 0 final. The third: S0..S3, done x O0, Od = 10.
    Corner("await_under_spinlock", """
        netcheck: 1
        locks: {s: spinlock}
        state:
          flag: {type: bool}
        procedures:
          spinner():
            - spin_lock: s
            - await: flag
            - spin_unlock: s
          other():
            - flag = true
        threads:
          spinner: spinner()
          other: other()
        """, 4, 0, 0, frozenset({"lock_discipline"})),
    Corner("mutex_lock_in_rcu_read_section", """
        netcheck: 1
        locks: {m: mutex}
        state:
          flag: {type: bool}
        procedures:
          reader():
            - rcu_read_lock
            - mutex_lock: m
            - mutex_unlock: m
            - rcu_read_unlock
          other():
            - flag = true
        threads:
          reader: reader()
          other: other()
        """, 4, 0, 0, frozenset({"lock_discipline"})),
    Corner("trylock_under_spinlock_is_fine", """
        netcheck: 1
        locks: {s: spinlock, m: mutex}
        state:
          flag: {type: bool}
        procedures:
          spinner():
            - spin_lock: s
            - mutex_trylock: m
              on_fail: [goto out]
            - mutex_unlock: m
            - label: out
            - spin_unlock: s
          other():
            - flag = true
        threads:
          spinner: spinner()
          other: other()
        """, 10, 0, 1, frozenset()),
]


@pytest.mark.parametrize("corner", CORNERS, ids=[c.name for c in CORNERS])
def test_corner(corner: Corner) -> None:
    spec = load_text(corner.text)
    expected = Observed(corner.states, corner.deadlocks, corner.finals, corner.violated)
    ref = reference(spec)
    prod = production(spec)
    assert ref == expected, f"reference: {ref}\nexpected:  {expected}"
    assert prod == expected, f"production: {prod}\nexpected:   {expected}"
    assert prod.deadlocked == ref.deadlocked and sum(ref.deadlocked.values()) == corner.deadlocks


# ---------------------------------------------------------------- questions: exact answers


@dataclass(frozen=True)
class QuestionCorner:
    name: str
    text: str
    reached: frozenset[str]   # the questions answered "reachable"; every other one is unreachable


SLOW_HOLDER = """
    netcheck: 1
    locks: {m: mutex, a: mutex, s: rwsem}
    state:
      v: {type: bool}
    procedures:
      slow_work():
        - v = not v
      waiter():
        - mutex_lock: m
        - mutex_unlock: m
      %s
    threads:
      %s
    properties:
      %s
"""


def question_spec(procedures: str, threads: str, properties: str) -> str:
    indent = lambda text, n: textwrap.indent(textwrap.dedent(text).strip(), " " * n).lstrip()  # noqa: E731
    return textwrap.dedent(SLOW_HOLDER) % (indent(procedures, 2), indent(threads, 2), indent(properties, 2))


QUESTION_CORNERS = [
    QuestionCorner("mutex_owner_in_synchronize_rcu", question_spec("""
        holder():
          - mutex_lock: m
          - synchronize_rcu
          - mutex_unlock: m
        """, "h: holder()\nw: waiter()", "waiter_waits: {waits_on_slow: w}\nholder_waits: {waits_on_slow: h}"),
        frozenset({"waiter_waits"})),
    QuestionCorner("two_hops_to_a_slow_call", question_spec("""
        holder():
          - mutex_lock: m
          - call: slow_work
            slow: true
          - mutex_unlock: m
        middle():
          - mutex_lock: a
          - mutex_lock: m
          - mutex_unlock: m
          - mutex_unlock: a
        a_waiter():
          - mutex_lock: a
          - mutex_unlock: a
        """, "h: holder()\nmid: middle()\nw: a_waiter()", "q: {waits_on_slow: w}"), frozenset({"q"})),
    QuestionCorner("reader_behind_a_queued_writer", question_spec("""
        holder():
          - down_read: s
          - rcu_barrier
          - up_read: s
        writer():
          - down_write: s
          - up_write: s
        reader():
          - down_read: s
          - up_read: s
        """, "h: holder()\nw: writer()\nr: reader()", "reader_waits: {waits_on_slow: r}"),
        frozenset({"reader_waits"})),
    QuestionCorner("no_writer_no_wait", question_spec("""
        holder():
          - down_read: s
          - rcu_barrier
          - up_read: s
        reader():
          - down_read: s
          - up_read: s
        """, "h: holder()\nr: reader()", "reader_waits: {waits_on_slow: r}"), frozenset()),
    # a slow block counts while a thread stands inside it; a local-only one is never stood at
    QuestionCorner("slow_block_only_when_stood_in", question_spec("""
        shared_holder():
          - mutex_lock: m
          - if: "not v"
            then:
              - v = true
            slow: true
          - mutex_unlock: m
        local_holder():
          locals: {x: bool}
          body:
            - mutex_lock: a
            - if: "x"
              then:
                - x = false
              else:
                - x = true
              slow: true
            - mutex_unlock: a
        a_waiter():
          - mutex_lock: a
          - mutex_unlock: a
        """, "hs: shared_holder()\nhl: local_holder()\nw: waiter()\naw: a_waiter()",
        "behind_shared: {waits_on_slow: w}\nbehind_local: {waits_on_slow: aw}"), frozenset({"behind_shared"})),
    QuestionCorner("running_counts_callers_and_callees", question_spec("""
        outer():
          - call: slow_work
          - v = false
        """, "o: outer()\nb: {run: slow_work(), count: 2}", """
        two_inside: {reachable: "running(slow_work) >= 3"}
        nested: {reachable: "running(outer) == 1 and running(slow_work) == 3"}
        never_four: {reachable: "running(slow_work) >= 4"}
        both_done: {reachable: "running(outer) + running(slow_work) == 0"}
        """), frozenset({"two_inside", "nested", "both_done"})),
]


@pytest.mark.parametrize("corner", QUESTION_CORNERS, ids=[c.name for c in QUESTION_CORNERS])
def test_question_corner(corner: QuestionCorner) -> None:
    """Hand-answered `reachable:`/`waits_on_slow:` questions: both explorers give the expected answers."""
    spec = load_text(corner.text)
    questions = {p.name for p in spec.properties if p.kind in ("reachable", "waits_on_slow")}
    prod, ref = production(spec), reference(spec)
    assert prod is not None and ref is not None
    assert prod.violated & questions == corner.reached, f"production: {prod}"
    assert ref.violated & questions == corner.reached, f"reference: {ref}"
    assert_agree(spec, prod, ref)


# ---------------------------------------------------------------- the wake policy, on the grant step

WAKE_ORDER = """
    netcheck: 1
    locks: {sem: rwsem}
    procedures:
      holder():
        - down_write: sem
        - up_write: sem
      reader():
        - await: "write_locked(sem)"
        - down_read: sem
        - up_read: sem
      writer():
        - await: "write_locked(sem)"
        - down_write: sem
        - up_write: sem
    threads:
      holder: holder()
      r1: reader()
      w: writer()
      r2: reader()
    options: {rwsem_wake: POLICY}
    """
HOLDER, R1, W, R2 = 0, 1, 2, 3


@pytest.mark.parametrize(("policy", "still_waiting"), [("head_run", [W, R2]), ("all_readers", [W])])
def test_wake_order_grant(policy: str, still_waiting: list[int]) -> None:
    """From "holder about to up_write, queue r1, w, r2", the release grants r1 (head_run) or r1 and r2
    (all_readers); the granted readers move on inside the releasing step.

    This is not visible in state counts: the wait queue cannot be read by expressions and arrival order
    is free, so whatever configuration one policy produces at a grant, the other reaches through another
    arrival order (r2 arriving before w, or after the grant). The two policies reach the same states in
    every spec tried (the corners above, and 221 random specs with an rwsem); they differ only in the
    transition relation, so it is checked here directly, in both engines."""
    spec = load_text(WAKE_ORDER.replace("POLICY", policy))
    # the states with a stuck thread: the holder has finished and w is still at its await (nobody can
    # write-lock sem again: every thread at the await is stuck), or w has finished and a reader is still at
    # its await; 23 (tests/ check this rule on the reference's state list), 7 of them total deadlocks
    assert production(spec) == reference(spec) == Observed(113, 23, 1, frozenset({"deadlock_free"}))

    # production: find the state through its public queries (node_at, expand)
    system = TransitionSystem(spec)
    exp = explore(system, measure_memory=False)
    queue_slot = next(i for i, s in enumerate(system.layout.slots) if s.kind == "lock_queue")
    start = [s for s in exp.store.states if s[queue_slot] == (R1 * 2, W * 2 + 1, R2 * 2)
             and system.node_at(s, HOLDER) is not None and system.node_at(s, HOLDER).stmt.text == "up_write(&sem)"]
    assert len(start) == 1
    after = [r for tid, _, _, _, r in system.expand(start[0])[0] if tid == HOLDER]
    assert len(after) == 1
    waiting = [t for t in (R1, W, R2) if system.node_at(after[0], t).kind == "lockwait"]
    assert waiting == still_waiting

    # reference
    ref = Reference(spec)
    states = ref.explore(keep_states=True).state_list
    start_ref = [w for w in states if ref.at(w, HOLDER) == "up_write(&sem)"
                 and w["locks"]["sem"][()]["queue"] == [(R1, False), (W, True), (R2, False)]]
    assert len(start_ref) == 1
    after_ref = ref.fire(start_ref[0], HOLDER)
    assert len(after_ref) == 1
    assert [t for t in (R1, W, R2) if ref.waiting(after_ref[0], t)] == still_waiting

    # the stuck-thread count above, by the rule that says which states have one
    def at_await(w: dict, tid: int) -> bool:
        return ref.at(w, tid).startswith("wait_event")
    by_rule = [w for w in states if w["threads"][HOLDER] is None and (
        at_await(w, W) or (w["threads"][W] is None and (at_await(w, R1) or at_await(w, R2))))]
    assert len(by_rule) == 23


# ---------------------------------------------------------------- real specs


def compare_file(path: Path, bounds: dict[str, int] | None = None, limit: int | None = None) -> Observed:
    try:
        spec = load_spec(path, bounds)
    except SpecError as err:  # a spec being edited: not this test's business
        pytest.skip(f"{path.name} does not load: {err}")
    prod = production(spec, limit)
    if prod is None:
        pytest.skip(f"{path.name} has over {limit} states")
    ref = reference(spec)
    assert ref is not None
    assert_agree(spec, prod, ref)
    return prod


def test_net_mutex() -> None:
    """The flagship spec with one namespace (--bound net=1): a few thousand states, a few seconds."""
    started = time.perf_counter()
    observed = compare_file(ROOT / "specs" / "net_mutex.yaml", {"net": 1})
    assert observed.states > 1000 and observed.finals > 0
    assert time.perf_counter() - started < 60


DOC_EXAMPLES = sorted((ROOT / "docs" / "examples").rglob("*.yaml"))


@pytest.mark.parametrize("path", DOC_EXAMPLES, ids=[str(p.relative_to(ROOT / "docs" / "examples")) for p in DOC_EXAMPLES])
def test_docs_examples(path: Path) -> None:
    compare_file(path, limit=5_000)  # tour.yaml (90,099 states, a minute in the reference) is left out


SHIPPED = sorted((ROOT / "specs").rglob("*.yaml"))


@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason="slow: set NETCHECK_SLOW=1 (make test-slow)")
@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(ROOT / "specs")) for p in SHIPPED])
def test_shipped_specs(path: Path) -> None:
    """Every shipped spec and bug spec with --bound net=1 (5,000 to 25,000 states; 5-25 s each)."""
    try:
        load_spec(path, {"net": 1})
        bounds: dict[str, int] | None = {"net": 1}
    except SpecError:
        bounds = None   # no counted net entity (or the spec does not load: compare_file skips it)
    compare_file(path, bounds, limit=100_000)


PINNED = [(name, states) for name, states, _depth in CORRECT]


@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason="slow: set NETCHECK_SLOW=1 (make test-slow)")
@pytest.mark.parametrize(("name", "states"), PINNED, ids=[name for name, _ in PINNED])
def test_pinned_counts_at_default_bounds(name: str, states: int) -> None:
    """The three shipped specs at their default bounds: the reference explorer finds the state count
    test_specs.py pins, and agrees with production on everything else (docs/results.md has the times)."""
    started = time.perf_counter()
    observed = compare_file(ROOT / "specs" / name)
    assert observed.states == states
    print(f"\n{name}: both explorers: {observed} ({time.perf_counter() - started:.0f} s)")


# ---------------------------------------------------------------- production bugs found by this check


@dataclass(frozen=True)
class KnownBug:
    name: str
    text: str
    reference: Observed      # what the reference (the documented semantics) finds
    reason: str
    raises: type[BaseException] = AssertionError   # how production failed before the fix


KNOWN_BUGS = [
    KnownBug("nonnull_ref_local_in_called_procedure", """
        netcheck: 1
        entities: {net: 1}
        procedures:
          helper():
            locals: {x: net}
            body:
              - x = net0
          main():
            - call: helper
        threads:
          t: main()
        """, Observed(1, 0, 1, frozenset()),
        "a called procedure's non-nullable ref local is range-checked against its null default at the call "
        "(runtime_safety 'null stored in a net', 0 states), though spec-language.md section 8 says such a "
        "local starts as null; the same local in a thread's own procedure is not checked"),
    KnownBug("null_lock_index_crashes", """
        netcheck: 1
        entities: {net: 1}
        locks:
          m: {kind: mutex, per: [net]}
        procedures:
          main():
            locals: {x: "net?"}
            body:
              - mutex_lock: m[x]
              - mutex_unlock: m[x]
        threads:
          t: main()
        """, Observed(1, 0, 0, frozenset({"runtime_safety"})),
        "lock steps compute a lock index without catching EvalError: a null index crashes explore() "
        "('index is null') instead of reporting runtime_safety", EvalError),
    KnownBug("rwsem_wait_reevaluates_lock_index", """
        netcheck: 1
        entities: {net: 2}
        locks:
          r: {kind: rwsem, per: [net]}
        state:
          cur: {type: net, init: net0}
        procedures:
          holder():
            - down_write: r[net0]
            - cur = net1
            - up_write: r[net0]
          waiter():
            - down_read: r[cur]
        threads:
          holder: holder()
          waiter: waiter()
        options: {deadlock: false}
        """, Observed(6, 0, 0, frozenset({"lock_discipline"})),
        "an rwsem wait re-evaluates the lock index (r[cur]) at every wait step: after cur changes, the "
        "waiter leaves its wait while still queued on r[net0]; the later grant then moves a finished "
        "thread and explore() crashes with IndexError in runtime.wake()", IndexError),
    KnownBug("fourth_read_hold_granted_from_the_queue_overflows", """
        netcheck: 1
        locks: {r: rwsem}
        procedures:
          reader():
            - down_read: r
            - down_read: r
            - down_read: r
            - down_read: r
            - up_read: r
            - up_read: r
            - up_read: r
            - up_read: r
          writer():
            - down_write_killable: r
              on_fail: [return]
            - up_write: r
        threads:
          reader: reader()
          writer: writer()
        """, Observed(15, 4, 0, frozenset({"deadlock_free", "lock_discipline"})),
        "read depth is checked only when down_read succeeds at once: a 4th down_read queued behind a writer "
        "is granted later by rw_grant() without the check, the 2-bit count overflows into the next thread's "
        "bits, and the writer (interrupted, never a reader) is reported finishing with r held for read; "
        "the reference reports the 4th down_read itself (16 vs 15 states, 3 vs 2 deadlocks). Stuck "
        "threads, by hand: the writer queued behind 1 or 2 read holds, with the reader before or after "
        "queueing its next down_read behind it: 4 states (not with 3 holds: the 4th down_read is a violation)"),
    KnownBug("violating_signal_exit_is_no_way_out", """
        netcheck: 1
        locks: {r: rwsem}
        procedures:
          reader():
            - down_read: r
            - down_read_killable: r
              on_fail: [return]
            - up_read: r
            - up_read: r
          writer():
            - down_write: r
            - up_write: r
        threads:
          reader: reader()
          writer: writer()
        options: {deadlock: false}
        """, Observed(17, 2, 1, frozenset({"lock_discipline"})),
        "the engine seam made any violating transition clear the state's blocked mask, a fatal signal's "
        "exit included: the reader queued behind the writer, whose only step is the signal exit that "
        "returns holding r (a lock_discipline violation), was no longer stuck, nor the writer waiting "
        "for it (0 stuck states instead of 2). A signal exit is never a way out, violating or not. By "
        "hand: the writer queued behind the read hold is stuck, before and after the reader queues "
        "its down_read_killable behind it (the reader stuck too): 2 states"),
]


@pytest.mark.parametrize("bug", KNOWN_BUGS, ids=[b.name for b in KNOWN_BUGS])
def test_reference_on_known_bug_spec(bug: KnownBug) -> None:
    assert reference(load_text(bug.text)) == bug.reference


@pytest.mark.parametrize("bug", KNOWN_BUGS, ids=[b.name for b in KNOWN_BUGS])
def test_known_bug(bug: KnownBug) -> None:
    """Regression tests for production bugs this cross-check found (all fixed): production must agree
    with the reference on each minimal spec."""
    spec = load_text(bug.text)
    prod, ref = production(spec), reference(spec)
    assert prod is not None and ref == bug.reference
    assert_agree(spec, prod, ref)
