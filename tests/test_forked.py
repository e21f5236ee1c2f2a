"""checker/report/forked.py: work in a child forked from the parent's state, for `prove`'s properties."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
import z3
from netcheck.checker.report.forked import ChildTraceback, forked
from netcheck.model.lang.errors import SpecError

KEPT: list[z3.ExprRef] = []   # terms a piece of work leaves behind, as z3's own caches do


def leaves_terms_behind(ask: Callable[[Any], Any]) -> int:
    """Makes terms that outlive it, then one more: the id z3 gives that one."""
    KEPT.extend(z3.Int(f"kept{len(KEPT) + i}") + i for i in range(50))
    return z3.Int(f"probe{len(KEPT)}").get_id()


def test_each_child_starts_from_the_parents_z3_state() -> None:
    """The terms one child leaves behind are not there for the next: the same work, the same z3 ids (in
    one process, the second run's ids differ)."""
    first, second = forked(leaves_terms_behind, print), forked(leaves_terms_behind, print)
    assert first == second and not KEPT
    assert leaves_terms_behind(print) != leaves_terms_behind(print)
    KEPT.clear()


def test_the_child_asks_the_parent() -> None:
    """A question is answered in the parent: what the answer changes there stays there."""
    asked: list[int] = []

    def answer(n: int) -> int:
        asked.append(n)
        return n * n

    assert forked(lambda ask: [ask(n) for n in (2, 3)] + [os.getpid()], answer)[:2] == [4, 9]
    assert asked == [2, 3]
    assert forked(lambda ask: os.getpid(), print) != os.getpid()


def raises_spec_error(ask: Callable[[Any], Any]) -> None:
    raise SpecError([])


def test_an_exception_is_raised_again_in_the_parent_with_the_childs_traceback() -> None:
    with pytest.raises(SpecError) as caught:
        forked(raises_spec_error, print)
    assert isinstance(caught.value.__cause__, ChildTraceback)
    assert "raises_spec_error" in str(caught.value.__cause__)


def unpicklable(ask: Callable[[Any], Any]) -> None:
    class Local(Exception):
        pass
    raise Local("no pickle for me")


def test_an_exception_that_does_not_pickle_comes_back_as_its_type_and_message() -> None:
    with pytest.raises(RuntimeError, match="Local: no pickle for me"):
        forked(unpicklable, print)


def test_a_child_that_dies_is_an_error_not_a_hang() -> None:
    with pytest.raises(RuntimeError, match="ended without a result .exit code 3"):
        forked(lambda ask: os._exit(3), print)


def test_a_child_forks_its_own_and_their_questions_reach_the_first_parent() -> None:
    """prove forks per property, then per engine: a grandchild's question is answered at the top."""
    def inner(ask: Callable[[Any], Any]) -> tuple[int, int]:
        return ask(5), os.getpid()

    def outer(ask: Callable[[Any], Any]) -> tuple[int, int, int]:
        asked, grandchild = forked(inner, ask)
        return asked, grandchild, os.getpid()

    asked, grandchild, child = forked(outer, lambda n: n + 1)
    assert asked == 6 and len({grandchild, child, os.getpid()}) == 3
