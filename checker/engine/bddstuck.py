"""Stuck threads on BDDs: the explicit search's definition (engine/stuck.py), decided on the set of every
reachable state once the BDD layers reach their fixpoint (engine/bdd.py).

A thread is stuck in a state when it is blocked there (not finished, not an idle daemon, no non-signal step
enabled: deadlocks.py's `blocked_term`; and no thread's step breaks a property there, since what follows a
violation is unknown and the explicit search counts it as a way out for all), and no path of non-signal
steps leads to a state where it is not, or to a step of another thread that moves it on (an rwsem releaser
granting a waiter, inside its own step).
Per thread, over the reachable states B where it is blocked:

- the exits: the states of B with a non-signal step to a state where the thread is not blocked, or, at an
  rwsem wait, one that changes its position;
- the backward closure of the exits inside B (a pre-image per step case, conjoined with B first);
- stuck: B without the closure.

The pre-image of a set X under a case: the states before whose step, with the written slots' bits renamed
to their next bits in X, meets X (the ways and those next bits quantified). A state outside B (the thread
not blocked) is never stuck, so nothing outside B is computed.

This is the whole property, whether or not every run is finite: no state-local form is needed (deadlocks.py
explains why the other symbolic engines use one). The states counted equal the explicit search's
`deadlocked_states` on every spec the tests compare.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import z3

from .bitblast import Node
from .bmc import disjuncts
from .deadlocks import blocked_term

if TYPE_CHECKING:
    from .bddencoding import CaseImage, Encoding


def stuck_sets(enc: Encoding, reached: Node, check: Callable[[], None]) -> list[Node]:
    """Per thread, the states of `reached` (every reachable state, a fixpoint's) where it is stuck. `check`
    is called between BDD operations (a deadline)."""
    u, bdd = enc.u, enc.bdd
    steps = [case for case in enc.cases if not case.option.signal]
    # what follows a violating step is unknown: the explicit search counts every thread there as free (the
    # reachable ones, disjunct by disjunct: the union over every state is far larger)
    violating = bdd.false
    for part in disjuncts(u.violating_plain()):
        check()
        violating |= reached & enc.formula(part)
    out = []
    for t in u.system.threads:
        check()
        blocked = enc.formula(u.at(blocked_term(u.rel, t), u.base))
        inside = reached & blocked & ~violating
        if inside == bdd.false:
            out.append(bdd.false)
            continue
        pc = enc.pre[t.pcslot][0]
        woken = u.system.woken_positions(t.tid)
        moved = bdd.false
        if woken:   # at an rwsem wait, its position changed by the step
            differs = bdd.false
            for before, after in zip(pc, enc.post[t.pcslot]):
                differs |= bdd.apply("xor", bdd.var(before), bdd.var(after))
            moved = enc.formula(z3.Or(*[u.base[t.pcslot] == p for p in sorted(woken)])) & differs
        free = ~blocked | violating
        exits = bdd.false
        for case in steps:
            check()
            target = _renamed(enc, case, free)
            if moved != bdd.false and t.pcslot in case.written:
                target |= moved
            exits |= _before(enc, case, inside, target)
        can = exits
        frontier = exits
        while frontier != bdd.false:
            new = bdd.false
            left = inside & ~can
            for case in steps:
                check()
                new |= _before(enc, case, left, _renamed(enc, case, frontier))
            new &= ~can
            can |= new
            frontier = new
        out.append(inside & ~can)
    return out


def _renamed(enc: Encoding, case: CaseImage, states: Node) -> Node:
    """A set of states over the bits after the case's step: the written slots' bits renamed to their next bits."""
    return enc.bdd.let(case.unrename, states) if case.unrename else states


def _before(enc: Encoding, case: CaseImage, within: Node, target: Node) -> Node:
    """The states of `within` with a step of `case` to `target` (over the bits after the step)."""
    bdd = enc.bdd
    conj = within & case.taken
    if conj == bdd.false:
        return conj
    conj &= target
    for eq in case.equalities:
        if conj == bdd.false:
            return conj
        conj &= eq
    gone = [*case.rename, *(v for v in case.gone if v in enc.aux)]
    return bdd.exist(gone, conj) if conj != bdd.false else conj


__all__ = ["stuck_sets"]
