"""Random runs of the explicit semantics, for the symbolic engines' questions a witness settles: a run that
ends in a final state shows that one is reachable (a proof of a final property then checks it on some state).

Runs are seeded, so the answer is the same every time; a run ends at a state with no step, at a violating
step (what follows it is not explored), or after `steps` steps.
"""

from __future__ import annotations

import random
import time

from netcheck.model.semantics.system import TransitionSystem

RUNS = 200
STEPS = 2_000


def reaches_final_state(system: TransitionSystem, deadline: float | None = None, runs: int = RUNS,
                        steps: int = STEPS, seed: int = 0) -> bool:
    """Whether one of `runs` random runs (each step drawn uniformly among the steps enabled) ends in a final
    state; False says only that none did."""
    rng = random.Random(seed)
    starts = system.initial_states
    with system.uncounted():   # the runs are no part of any search's coverage
        for _ in range(runs if starts else 0):
            state = rng.choice(starts)
            for _ in range(steps):
                edges, _ = system.expand(state)
                if not edges:
                    if all(system.quiescent(state, t.tid) for t in system.threads):
                        return True
                    break
                targets = [target for *_, target in edges if isinstance(target, tuple)]
                if len(targets) < len(edges) and rng.randrange(len(edges)) >= len(targets):
                    break   # the run took a violating step: nothing follows it
                state = rng.choice(targets)
            if deadline is not None and time.perf_counter() > deadline:
                break
    return False


__all__ = ["RUNS", "STEPS", "reaches_final_state"]
