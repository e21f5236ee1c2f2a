"""Symbolic breadth-first search: the reachable states held as binary decision diagrams (CUDD, through the
`dd` package), one layer per depth, over the same transition relation bounded model checking unrolls
(engine/bmc.py's `Unrolling`).

BMC asks a SAT solver about every path of d steps; paths that meet at a state are never merged, and each
depth costs more than the one before (about 1.5 times on the net-namespace bug specs, which stop it near
17 steps). Here a depth costs one image of the set of states first reached at the depth before, whatever
the paths to them: the layers are the explicit search's, as sets.

- **States as bits, one relation per visible case** (engine/bddencoding.py): every integer slot a bit-vector
  of the width of its interval (engine/intervals.py's bounds of the first HORIZON frames); when a layer
  holds a state from which a step would leave a slot's interval, that layer is still exact but the next is
  not, so the search widens the slot and starts again (`bdd_search`). A state is one assignment, so the
  fixpoint counts the explicit search's states.
- **Layers.** Layer d is the states first reached after d steps. A property is violated at depth d when
  layer d meets its condition, or layer d - 1 meets "a step from here breaks it"; the depths are those of
  the explicit search's shortest counterexamples, and a counterexample is read back from the layers (a
  state of layer d, a predecessor of it in layer d - 1, ...), decoded into slot values and replayed with
  the explicit semantics (`bmc.replay`) before it is reported.
- **Fixpoint.** When a layer is empty, every reachable state has been seen: a property not violated holds
  (`BddResult.fixpoint`), as after the explicit search; stuck threads are decided then (engine/bddstuck.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import z3
from netcheck.model.semantics.system import TransitionSystem

from .bddencoding import BddUnavailable, Encoding, OutOfTime, cudd
from .bddstuck import stuck_sets
from .bitblast import Node
from .bmc import (
    HORIZON,
    BmcError,
    BmcResult,
    Goal,
    Option,
    Unrolling,
    begin,
    condition_parts,
    disjuncts,
    goals_of,
    replay,
)
from .finite import Untranslatable
from .intervals import Value, widened
from .limits import Interrupt
from .stuck import stuck_from
from .verdicts import InternalError

MOST_BITS = 32          # the widest integer slot (a wider one: the spec is not encoded)
MOST_REBUILDS = 64      # times the search may widen the bounds and start again


@dataclass
class BddResult(BmcResult):
    """A symbolic breadth-first search: BMC's findings, plus whether it reached a fixpoint (every reachable
    state seen), how many states each layer holds, the largest BDD (nodes) and how often the slot bounds
    were widened."""

    fixpoint: bool = False
    layers: list[int] = field(default_factory=list)
    states: int = 0
    peak_nodes: int = 0
    final_reachable: bool | None = None
    rebuilds: int = 0
    escaped: list[int] | None = None   # slots a step from a reached state would leave (the run is void)
    stuck_states: int | None = None    # at the fixpoint: the reachable states with a stuck thread
    stuck_mask: int = 0                # the stuck threads in the last state of deadlock_free's counterexample


def _bits(v: Value) -> int:
    if isinstance(v, list):
        return max((_bits(f) for f in v), default=0)
    if v is None:
        return 0
    return max(abs(v[0]), abs(v[1])).bit_length() + 1


def bdd_search(system: TransitionSystem, depth: int | None = None, timeout: float | None = None,
               fail_fast: bool = False, stop_on: frozenset[str] = frozenset()) -> BddResult:
    """The shortest violation (or witness) of every property bounded model checking decides, by layers of
    BDDs to `depth` steps (None: until the fixpoint); with `stop_on`, of those properties only. A spec it
    cannot encode: BmcError (BddUnavailable without dd)."""
    started = time.perf_counter()
    deadline = started + timeout if timeout else None
    cudd()
    system = system.unreduced()
    u = Unrolling(system, finite=True)
    horizon = HORIZON if depth is None else min(depth, HORIZON)
    slots = u.slot_bounds(horizon + 1)
    rebuilds = 0
    with Interrupt() as interrupt:
        while True:
            enc = None
            try:
                enc = Encoding(u, slots, deadline)
                result = _search(system, enc, depth, deadline, fail_fast, stop_on, interrupt)
            except Untranslatable as err:
                raise BmcError(f"the symbolic search cannot encode the spec: {err}") from None
            except OutOfTime:
                result = begin(BddResult(system, depth=depth if depth is not None else -1, complete=False,
                                         stop_reason=f"timeout after {timeout:g} s (building the BDDs)"))
                result.unknown.update({name: f"the BDDs were not built within {timeout:g} s"
                                       for name in result.covered if name not in result.violations})
                break
            finally:
                if enc is not None:
                    enc.close()
            result.rebuilds = rebuilds
            if result.escaped is None:
                break
            rebuilds += 1
            slots = list(slots)
            for i in result.escaped:
                slots[i] = widened(enc.outside[i])
                if _bits(slots[i]) > MOST_BITS or rebuilds > MOST_REBUILDS:
                    raise BmcError(f"{system.layout.slots[i].name} takes values beyond {MOST_BITS} bits, or its "
                                   "bounds kept growing: the symbolic search cannot encode it")
    if result.stop_reason == "timeout":
        result.stop_reason = f"timeout after {timeout:g} s"
    result.seconds = time.perf_counter() - started
    return result


def _search(system: TransitionSystem, enc: Encoding, depth: int | None, deadline: float | None, fail_fast: bool,
            stop_on: frozenset[str], interrupt: Interrupt) -> BddResult:
    """The layers of one encoding, until a fixpoint, `depth`, the goals are found or a layer holds a state
    from which a step leaves a slot's interval (`escaped`: those slots; the search goes no further)."""
    u, bdd = enc.u, enc.bdd
    result = begin(BddResult(system, depth=depth if depth is not None else -1))
    goals = {name: g for name, g in goals_of(u, deadlock_form=False).items() if name in result.covered}
    if stop_on:
        result.unknown.update({name: "not looked for: the search asks only about the --stop-on properties"
                               for name in goals if name not in stop_on and name not in result.violations})
        goals = {name: g for name, g in goals.items() if name in stop_on}
    # deadlock freedom is decided on every reachable state, at the fixpoint (bddstuck.py)
    stuck = next((g for g in goals.values() if g.kind == "stuck" and g.name not in result.violations), None)
    conditions = {}
    for name, g in goals.items():
        enc.check_time()
        if g is not stuck:
            conditions[name] = _conditions(enc, u, g)
    open_ = [name for name in conditions if name not in result.violations]
    layers = [enc.init]
    reached = enc.init
    result.layers.append(enc.count(enc.init))
    d = 0
    while True:
        began = time.perf_counter()
        for name in list(open_):
            here, by_step = conditions[name]
            hits = _meets(bdd, layers[d], here)
            if hits != bdd.false:
                _found(result, enc, layers, goals[name], d, hits, True)
                open_.remove(name)
                continue
            hits = _meets(bdd, layers[d - 1], by_step) if d > 0 else bdd.false
            if hits != bdd.false:
                _found(result, enc, layers, goals[name], d, hits, False)
                open_.remove(name)
        result.reached = d
        result.times.append(time.perf_counter() - began)
        if not open_ and stuck is None:
            break
        if (fail_fast and result.violations) or (stop_on and stop_on <= result.violations.keys()):
            result.complete = False   # the properties left open were not searched further
            result.stop_reason = ("stopped at the first violation" if fail_fast else
                                  "stopped at the --stop-on properties")
            break
        if d > 0 and layers[d] == bdd.false:
            result.fixpoint = True
            break
        if depth is not None and d >= depth:
            break
        if interrupt.raised or (deadline is not None and time.perf_counter() > deadline):
            result.complete = False
            result.stop_reason = "interrupted" if interrupt.raised else "timeout"
            break
        try:
            after, escaped = enc.image(layers[d]) if layers[d] != bdd.false else (bdd.false, set())
        except OutOfTime:   # inside the layer: layers 0 to d are complete, and what they found stands
            result.complete = False
            result.stop_reason = "timeout"
            break
        if escaped:   # layers 0 to d are exact; the next one is not: widen and search again
            result.escaped = sorted(escaped)
            return result
        layer = after & ~reached
        reached |= layer
        layers.append(layer)
        result.layers.append(enc.count(layer))
        result.peak_nodes = max(result.peak_nodes, len(reached), len(layer))
        d += 1
    result.states = enc.count(reached)
    if result.fixpoint:
        result.final_reachable = reached & enc.formula(u.final(u.base)) != bdd.false
    if stuck is not None:
        _stuck(result, enc, layers, reached, stuck, deadline, interrupt)
    return result


def _stuck(result: BddResult, enc: Encoding, layers: list[Node], reached: Node, goal: Goal, deadline: float | None,
           interrupt: Interrupt) -> None:
    """Deadlock freedom at the fixpoint: the first layer with a stuck thread (bddstuck.py), its path read back,
    replayed and the stuck threads checked again by the explicit semantics from the last state (engine/
    stuck.py's `stuck_from`; beyond its state budget, the replay is the check). Unknown without a fixpoint."""
    if not result.fixpoint:
        result.unknown[goal.name] = ("a stuck thread is decided on every reachable state: the search stopped "
                                     f"after {max(result.reached, 0)} steps, before its fixpoint")
        return

    def check() -> None:
        if interrupt.raised or (deadline is not None and time.perf_counter() > deadline):
            raise OutOfTime

    try:
        per_thread = stuck_sets(enc, reached, check)
    except OutOfTime:
        result.unknown[goal.name] = ("interrupted" if interrupt.raised else "the time ran out") + \
            " while the stuck threads were computed at the fixpoint"
        return
    bdd = enc.bdd
    anywhere = bdd.false
    for states in per_thread:
        anywhere |= states
    result.stuck_states = enc.count(anywhere)
    d = next((d for d, layer in enumerate(layers) if layer & anywhere != bdd.false), None)
    if d is None:
        return
    cube = bdd.cube(_found(result, enc, layers, goal, d, layers[d] & anywhere, True))
    mask = sum(1 << t for t, states in enumerate(per_thread) if cube & states != bdd.false)
    last = result.paths[goal.name].states[-1]
    system = enc.u.system
    with system.uncounted():
        confirmed = stuck_from(system, last, mask)
    if confirmed is False:
        raise InternalError("symbolic search: a thread the BDDs find stuck steps again in the explicit semantics")
    result.stuck_mask = mask


def _conditions(enc: Encoding, u: Unrolling, goal: Goal) -> tuple[list[Node], list[Node]]:
    """A goal's condition on a state (reached there) and on the state before a step that reaches it, each as
    the BDDs of its disjuncts: runtime_safety's is the union of every way a property can be undefined or an
    assert broken, whose BDD is far larger than a layer's intersection with each of them."""
    here: list[Node] = []
    by_step: list[Node] = []
    for frame, term in condition_parts(u, goal, 1, u.base):
        parts = disjuncts(term)
        (here if frame == 1 else by_step).extend(enc.formula(part) for part in parts)
    return here, by_step


def _meets(bdd: Any, states: Node, parts: list[Node]) -> Node:
    """The states of `states` that meet some of `parts` (false when none does)."""
    hits = bdd.false
    for part in parts:
        hits |= states & part
    return hits


def _found(result: BddResult, enc: Encoding, layers: list[Node], goal: Goal, d: int, hits: Node,
           in_state: bool) -> dict[str, bool]:
    """A path to the goal read back from the layers, replayed and recorded (bmc.replay); its last state's bits."""
    last = d if in_state else d - 1
    state = end = enc.pick(hits)
    moves: list[tuple[Option, list[z3.ExprRef]]] = []
    for f in range(last, 0, -1):
        option, before = enc.predecessor(state, layers[f - 1])
        moves.append((option, enc.values(state)))
        state = before
    moves.reverse()
    replay(result, enc.u, enc.values(state), moves, goal, in_state)
    return end


__all__ = ["BddResult", "BddUnavailable", "Encoding", "bdd_search"]
