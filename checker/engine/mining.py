"""Candidate invariants read off a sample of reachable states, for Houdini to keep or drop (symbolic.py).

A slot fact that every sampled state satisfies may be an invariant; z3 decides. Two kinds of candidate:
- **values**: slot j takes only the values the sample shows (`exits[net0, core0] in {0, 1}`);
- **implications**: whenever a control slot i (a program counter, a lock owner, a shared slot of at most
  four values) has value a, slot j takes only the values it takes with it in the sample
  (`creator[net0].pc == 12 -> net_mutex.owner in {0}`), kept only where that says more than the first kind.
A slot that is unused (None) in some of the states a candidate would read it in is left out of that
candidate: an unused slot holds any value in z3. The sample is the first states of a breadth-first
search, possibly of a bigger state space than it finishes (`sample_states`): Houdini drops every
candidate that is not inductive, so a candidate from an incomplete sample is never trusted, only tried.
"""

from __future__ import annotations

from collections.abc import Sequence

import z3
from netcheck.model.semantics.layout import SlotKind
from netcheck.model.semantics.system import TransitionSystem

from .explore import explore
from .limits import Limits
from .symbolic import Candidate, Frame, Symbolic

SAMPLE_STATES = 20_000     # the states a proof engine samples for candidates
MOST_VALUES = 64           # a candidate names at most this many values of a slot
CONTROL_VALUES = 4         # a shared slot with at most this many values is a control slot
MOST_CANDIDATES = 5_000    # values first, then implications by control slot, in slot order


def sample_states(system: TransitionSystem, count: int = SAMPLE_STATES) -> list[tuple]:
    """The first `count` states of a breadth-first search of `system` (all of them when it has fewer), each
    as it is, not a representative of its symmetry class."""
    if system.symmetric:
        system = TransitionSystem(system.spec)
    result = explore(system, Limits(max_states=count), measure_memory=False)
    return list(result.store.states)


def mined_candidates(sy: Symbolic, states: Sequence[tuple], most: int = MOST_CANDIDATES) -> list[Candidate]:
    """Value and implication candidates (module docstring) that every state of `states` satisfies."""
    if not states:
        return []
    slots = sy.system.layout.slots
    columns = list(zip(*states))
    values = [set(column) for column in columns]
    literal = sy.u.rel.pre.value
    out: list[Candidate] = []

    def one_of(j: int, seen: set) -> Candidate:
        ordered = sorted(seen, key=repr)
        lits = [literal(j, v) for v in ordered]
        return Candidate(j, f"{slots[j].name} in {{{', '.join(map(repr, ordered))}}}",
                         lambda s: z3.Or(*[s[j] == lit for lit in lits]))

    def usable(seen: set) -> bool:
        return None not in seen and len(seen) <= MOST_VALUES

    out += [one_of(j, seen) for j, seen in enumerate(values) if usable(seen) and len(seen) < _room(sy, j)]
    control = [i for i, slot in enumerate(slots)
               if None not in values[i] and (slot.kind in (SlotKind.PC, SlotKind.LOCK_OWNER) or
                                             (slot.kind == SlotKind.SHARED and len(values[i]) <= CONTROL_VALUES))]
    for i in control:
        if len(values[i]) < 2:
            continue
        for j in range(len(slots)):
            if j == i:
                continue
            with_: dict[object, set] = {}
            for a, b in set(zip(columns[i], columns[j])):
                with_.setdefault(a, set()).add(b)
            for a in sorted(with_, key=repr):
                seen = with_[a]
                if usable(seen) and len(seen) < len(values[j]):
                    out.append(_implication(sy, i, a, one_of(j, seen)))
        if len(out) >= most:
            break
    return out[:most]


def _implication(sy: Symbolic, i: int, a: object, then: Candidate) -> Candidate:
    when = sy.u.rel.pre.value(i, a)

    def fact(s: Frame) -> z3.BoolRef:
        return z3.Implies(s[i] == when, then.fact(s))
    return Candidate(then.slot, f"{sy.system.layout.slots[i].name} == {a!r} -> {then.text}", fact)


def _room(sy: Symbolic, j: int) -> int:
    """How many values slot j can hold at most, as far as a candidate needs to know (2 for a Boolean:
    naming both says nothing); a large number otherwise."""
    return 2 if sy.u.rel.pre.sort(j) == z3.BoolSort() else 1 << 30


__all__ = ["MOST_CANDIDATES", "SAMPLE_STATES", "mined_candidates", "sample_states"]
