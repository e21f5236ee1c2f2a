"""A swarm of randomised depth-first searches (engine/hunt.py), as SPIN's swarm verification runs many
small, differently configured searches instead of one large one: each member has a seed of its own, derived
from the hunt's seed, and members differ in how often they restart, how deep their first run goes and how
large their table is.

One member runs in this process; more run as Ray actors (engine/cluster.py), each compiling the spec itself
(the `Spec` pickles) and hunting in slices of at most SLICE seconds, so that the driver hears from each one
about once a second (new findings and coverage, never a message per state), can end the hunt once its goal
is met, and keeps what was found when Ctrl-C ends it early.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from hashlib import blake2b
from typing import Any

from netcheck.model.lang.spec import Spec
from netcheck.model.semantics.discipline import Reduction
from netcheck.model.semantics.system import TransitionSystem

from .hunt import (
    MIN_TABLE_BITS,
    RESTART_STATES,
    TABLE_BITS,
    Goal,
    HuntConfig,
    HuntCoverage,
    Hunter,
    HuntFinding,
    HuntSlice,
)
from .limits import Interrupt

SLICE = 1.0   # seconds a member hunts between two reports to the driver
# the members' variations, by member index (SPIN's swarm varies the same knobs): the states of the shortest
# runs before a restart (None: one run) and the depth of the first run (None: the depth limit), then table
# bits fewer than asked, by the member's index over the profiles
PROFILES = ((RESTART_STATES, None), (10 * RESTART_STATES, None), (None, 64), (None, None))
SMALLER_TABLES = (0, 1, 2)


def member_seed(seed: int, index: int) -> int:
    """Member `index`'s seed: a 48-bit hash of the hunt's seed and the index (member 0 of every swarm with the
    same seed is the same search, the one a single worker runs). 48 bits: exact in any JSON reader."""
    return int.from_bytes(blake2b(f"{seed}/{index}".encode(), digest_size=6).digest(), "little")


def member_configs(seed: int, workers: int, depth_limit: int, table_bits: int = TABLE_BITS,
                   max_states: int | None = None) -> list[HuntConfig]:
    """The configuration of each member of a swarm of `workers`."""
    configs = []
    for i in range(workers):
        restart, first_depth = PROFILES[i % len(PROFILES)]
        bits = max(MIN_TABLE_BITS, table_bits - SMALLER_TABLES[i // len(PROFILES) % len(SMALLER_TABLES)])
        configs.append(HuntConfig(member_seed(seed, i), depth_limit, bits, max_states, first_depth, restart))
    return configs


@dataclass(frozen=True)
class SwarmResult:
    """What every member found (member index, finding; several per property), each member's coverage,
    the hunting time, the setup time (compiling, starting actors) and why the hunt ended."""

    configs: tuple[HuntConfig, ...]
    findings: tuple[tuple[int, HuntFinding], ...]
    coverage: tuple[HuntCoverage, ...]
    seconds: float
    setup_seconds: float
    stop_reason: str

    def first(self) -> dict[str, tuple[int, HuntFinding]]:
        """Per property, the finding made first (in the finder's hunting time; ties: the lower member)."""
        out: dict[str, tuple[int, HuntFinding]] = {}
        for member, finding in sorted(self.findings, key=lambda f: (f[1].seconds, f[0])):
            out.setdefault(finding.prop, (member, finding))
        return out


# the stop reasons: the time is up, the goal met, every member done, a member's run stored every state it
# reached (the others would only search the same states again), Ctrl-C
TIME_UP, GOAL_MET, ENDED, EXHAUSTED, INTERRUPTED = "time", "goal", "ended", "exhausted", "interrupted"


class RemoteMember:
    """A member as a Ray actor: the spec compiled in its own process, then hunted slice by slice."""

    def __init__(self, spec: Spec, reduction: str, symmetric: bool, config: HuntConfig):
        self.hunter = Hunter(TransitionSystem(spec, Reduction(reduction), symmetric), config)

    def ready(self) -> bool:
        return True

    def run(self, seconds: float | None, goal: Goal) -> HuntSlice:
        return self.hunter.run(seconds, goal)


class _Tally:
    """The driver's bookkeeping: findings and coverage so far, the time left, the member goal."""

    def __init__(self, configs: Sequence[HuntConfig], seconds: float, goal: Goal):
        self.configs, self.budget, self.goal = tuple(configs), seconds, goal
        self.findings: list[tuple[int, HuntFinding]] = []
        self.coverage = [HuntCoverage(table_bits=c.table_bits, depth_limit=c.first_depth or c.depth_limit)
                         for c in configs]
        self.started = time.perf_counter()
        self.reason = ""

    def add(self, member: int, piece: HuntSlice) -> bool:
        """A member's slice taken in; whether that member goes on hunting."""
        self.findings.extend((member, f) for f in piece.findings)
        self.coverage[member] = piece.coverage
        if self.goal.met({f.prop for _, f in self.findings}):
            self.reason = GOAL_MET
        elif piece.coverage.exhausted:
            self.reason = EXHAUSTED
        return not piece.done and not self.reason

    def next_slice(self) -> float:
        """The length of a member's next slice (0: the time is up)."""
        left = self.budget - (time.perf_counter() - self.started)
        if left <= 0 and not self.reason:
            self.reason = TIME_UP
        return max(0.0, min(SLICE, left))

    def member_goal(self) -> Goal:
        """What a member may stop its slice for: the first violation, or the goal's properties not yet found."""
        found = {f.prop for _, f in self.findings}
        return self.goal if self.goal.first else Goal(props=self.goal.props - found)

    def result(self, setup: float) -> SwarmResult:
        findings = tuple(sorted(self.findings, key=lambda f: (f[0], f[1].seconds, f[1].prop)))
        return SwarmResult(self.configs, findings, tuple(self.coverage), round(time.perf_counter() - self.started, 3),
                           round(setup, 3), self.reason or ENDED)


def hunt_here(system: TransitionSystem, config: HuntConfig, seconds: float, goal: Goal) -> SwarmResult:
    """A swarm of one, in this process (no Ray): its member's slices run one after the other."""
    started = time.perf_counter()
    hunter = Hunter(system, config)
    tally = _Tally([config], seconds, goal)
    setup = time.perf_counter() - started
    with Interrupt() as interrupt:
        going = True
        while going:
            length = tally.next_slice()
            if not length:
                break
            going = tally.add(0, hunter.run(length, tally.member_goal(), lambda: interrupt.raised))
            if interrupt.raised:
                tally.reason = INTERRUPTED
                going = False
    return tally.result(setup)


def hunt_on_ray(ray: Any, system: TransitionSystem, configs: Sequence[HuntConfig], seconds: float,
                goal: Goal) -> SwarmResult:
    """A swarm of Ray actors (Ray already started or joined: engine/cluster.py), one per configuration."""
    started = time.perf_counter()
    actor = ray.remote(num_cpus=1, max_restarts=0)(RemoteMember)
    spec, reduction = system.spec, system.reduction.value
    members = [actor.remote(spec, reduction, system.symmetric, c) for c in configs]
    tally = _Tally(configs, seconds, goal)
    try:
        ray.get([m.ready.remote() for m in members])
        setup = time.perf_counter() - started
        tally.started = time.perf_counter()
        with Interrupt() as interrupt:
            _drive(ray, members, tally, lambda: interrupt.raised)
    finally:
        for m in members:
            ray.kill(m)
    return tally.result(setup)


def _drive(ray: Any, members: Sequence[Any], tally: _Tally, interrupted: Callable[[], bool]) -> None:
    """Hand each member slices until the time is up, the goal is met, every member is done or Ctrl-C; the
    slices under way then are waited for (each ends within SLICE seconds) and kept."""
    length = tally.next_slice()
    pending = {m.run.remote(length, tally.member_goal()): i for i, m in enumerate(members)} if length else {}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.2)
        if interrupted() and not tally.reason:
            tally.reason = INTERRUPTED
        for ref in ready:
            member = pending.pop(ref)
            going = tally.add(member, ray.get(ref))
            length = tally.next_slice() if going else 0.0
            if going and length and not tally.reason:
                pending[members[member].run.remote(length, tally.member_goal())] = member
