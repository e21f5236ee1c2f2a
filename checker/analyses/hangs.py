"""Hidden hangs: killable waits that can last without the kernel ever saying so.

The hung-task detector (khungtaskd, kernel/hung_task.c) warns about a task that sleeps in
TASK_UNINTERRUPTIBLE for longer than hung_task_timeout_secs, but skips TASK_KILLABLE sleeps
(TASK_UNINTERRUPTIBLE | TASK_WAKEKILL): a creator blocked in mutex_lock_killable() behind cleanup_net()'s
synchronize_rcu() is the "20-30 seconds hangs of `unshare -n`" of the seed patch, and no report ever
names it. For each killable wait of a thread (an acquire a fatal signal can end), two questions on the
explored graph (liveness.py): can it last forever on a fair run, and can the threads it waits for
complete unboundedly many slow steps (grace periods) while it sits there? Either is a hidden hang,
reported the way lockdep words its warnings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from netcheck.model.lang.lockapi import LOCK_API
from netcheck.model.semantics import ir
from netcheck.model.semantics.system import TransitionSystem

from ..engine.result import ExplicitResult
from .fairgraph import FairGraph, Fairness
from .liveness import escape, slow_steps, wait_text
from .trace import Trace, describe_path


@dataclass(frozen=True)
class HiddenHang:
    """A killable wait of a thread that can last forever (on a fair run) or through unboundedly many slow
    steps of the threads it waits for, with the run that shows it (a lasso)."""

    thread: str           # the instance
    wait: str             # `mutex_lock_killable(&net_mutex) (spec.yaml:110, in copy_net_ns())`
    location: str         # file:line of the wait
    forever: bool         # True: it never ends on that fair run; False: unboundedly many slow steps
    fairness: Fairness
    steps: tuple[str, ...] = ()   # the slow steps completed round the cycle
    trace: Trace | None = None

    @property
    def summary(self) -> str:
        how = (f"can sleep forever on a {self.fairness}ly fair run" if self.forever else
               "can sleep through unboundedly many slow steps of the threads it waits for")
        return f"{self.thread} {how} in {self.wait}"

    @property
    def lines(self) -> list[str]:
        """The warning, worded like lockdep's."""
        how = "can sleep forever" if self.forever else "can sleep through unboundedly many slow steps"
        out = ["WARNING: possible hidden hang (a killable sleep the hung-task detector skips)",
               f"{self.thread} {how} at:", f"  {self.wait}"]
        if self.steps:
            out.append("while the threads it waits for complete, again and again:")
            out.extend(f"  {s}" for s in dict.fromkeys(self.steps))
        out.append("TASK_KILLABLE: khungtaskd reports only TASK_UNINTERRUPTIBLE sleeps without TASK_WAKEKILL, so no "
                   "'blocked for more than 120 seconds' warning will name this task")
        return out


def killable_waits(system: TransitionSystem, tid: int) -> list[int]:
    """The program points of a thread's killable waits: acquires a fatal signal can end, and their rwsem
    queue waits (whether or not the spec's options: let signals arrive, the kernel's sleep is killable)."""
    out = []
    for pc, node in enumerate(system.threads[tid].nodes):
        if isinstance(node, (ir.LockCall, ir.LockWait)) and node.op in LOCK_API and LOCK_API[node.op].killable:
            out.append(pc)
    return out


def hidden_hangs(exp: ExplicitResult, threads: Iterable[str], fairness: Fairness) -> tuple[HiddenHang, ...]:
    """The hidden hangs of the instances of the named `threads:` entries: one per thread declaration and
    wait statement (the first instance that shows it)."""
    system, g = exp.system, FairGraph.of(exp)
    states, blocked = exp.store.states, exp.blocked_masks()
    found: dict[tuple[str, int], HiddenHang] = {}
    wanted = set(threads)
    for t in (t for t in system.threads if t.decl in wanted):
        key = [s[t.pcslot] for s in states]
        for pc in killable_waits(system, t.tid):
            node = t.nodes[pc]
            site = (t.decl, id(node.stmt) if node.stmt is not None else pc)
            if site in found:
                continue
            inside = bytearray(g.n)
            for s in range(g.expanded):
                if key[s] == pc:
                    inside[s] = 1
            starts = [s for s in range(g.expanded) if inside[s] and blocked[s] >> t.tid & 1]
            if not starts:
                continue
            hang = _hang(exp, g, t.tid, inside, key, starts, fairness)
            if hang is not None:
                found[site] = hang
    return tuple(found.values())


def _hang(exp: ExplicitResult, g: FairGraph, tid: int, inside: bytearray, key: list[int], starts: list[int],
          fairness: Fairness) -> HiddenHang | None:
    system = exp.system
    thread = system.threads[tid]
    forever = escape(exp, g, "hidden_hang", inside, key, starts, fairness)
    if forever is not None:
        lasso, _ = forever
        steps: tuple[str, ...] = ()
    else:
        counted = slow_steps(exp, g, "hidden_hang", tid, inside, key, starts)
        if counted is None or counted[0] is not None:
            return None
        _, lasso, named = counted
        steps = tuple(named)
    state = lasso.path.states[lasso.awaiting]
    node = system.node_at(state, tid)
    location = node.stmt.span.short if node is not None and node.stmt is not None else ""
    trace = describe_path(system, lasso.path, violating=False)
    trace = replace(trace, cycle=lasso.cycle_start if lasso.cycle_start >= 0 else None, cycle_fair=lasso.fair)
    return HiddenHang(thread.name, wait_text(system, state, tid), location, forever is not None, fairness, steps,
                      trace)
