"""The step memo (model/semantics/memo.py) against firing every step on every state: the same state graph
edge for edge, the same blocked threads, verdicts, stuck threads and run counts (coverage), on every shipped
spec, bug spec and docs example (one namespace where the spec has them), the reduced and symmetric
searches, and generated specs; with every answer from the memo checked against the step's own
(`check_every=1`), so a footprint that misses a slot fails here. The check itself bites: footprints with
slots taken out are caught, and the native expander and the memo in Python agree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from netcheck.checker.engine.explore import explore
from netcheck.checker.engine.result import ExplicitResult
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.discipline import Reduction
from netcheck.model.semantics.footprint import footprints
from netcheck.model.semantics.memo import Expander, MemoError, StepMemo, remember
from netcheck.model.semantics.system import TransitionSystem
from spec_generator import generated_systems
from test_reduction import ROOT, SHIPPED, one_net

SPECS = [p for p in SHIPPED if "schema" not in p.parts]
EXAMPLES = int(os.environ.get("NETCHECK_MEMO_EXAMPLES") or 200)   # the slow tier runs thousands


def graph(result: ExplicitResult) -> tuple:
    """Everything a search decided, edge for edge."""
    st = result.store
    return (result.state_count, list(st.edges_dst), list(st.edges_action), list(st.edges_choice),
            list(st.signal_edges), list(st.blocked), list(st.parent), list(st.parent_action),
            sorted((name, f.state, f.message) for name, f in result.violations.items()),
            sorted((name, f.state) for name, f in result.witnesses.items()),
            sorted(result.stuck.items()), list(result.finals), result.executions, result.complete)


def remembered(system: TransitionSystem, check_every: int = 1, native: bool = True) -> TransitionSystem:
    """`system` expanding through a fresh memo that checks every `check_every`-th answer."""
    remember(system, check_every, native)
    return system


def compare(spec: object, reduction: Reduction = Reduction.NONE, symmetry: bool = False, native: bool = True) -> int:
    """The memo's search of `spec` against the plain one; the steps the memo answered."""
    plain = explore(TransitionSystem(spec, reduction, symmetry), memo=False)
    system = remembered(TransitionSystem(spec, reduction, symmetry), native=native)
    assert graph(explore(system)) == graph(plain)
    memo = system.memo
    if memo is None:   # no step has a footprint (the Promela translation covers none): nothing attached
        assert not any(fp for prints in footprints(system) for fp in prints)
        return 0
    assert isinstance(memo, StepMemo)
    return memo.native.answers if memo.native is not None else memo.answers


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_the_memo_changes_nothing_on_shipped_specs(path: Path) -> None:
    spec = load_spec(path, one_net(path))
    compare(spec)


@pytest.mark.parametrize("path", [p for p in SPECS if p.parent.name == "specs"], ids=lambda p: p.name)
def test_the_memo_changes_nothing_in_the_reduced_symmetric_search(path: Path) -> None:
    spec = load_spec(path, one_net(path))
    compare(spec, Reduction.PROTECTED, symmetry=True)


@generated_systems(EXAMPLES)
def test_the_memo_changes_nothing_on_generated_specs(system: TransitionSystem) -> None:
    compare(system.spec)


@generated_systems(20)
def test_the_memo_in_python_agrees_with_the_native_one(system: TransitionSystem) -> None:
    compare(system.spec, native=False)


def test_the_memo_answers_most_steps_of_the_flagship_spec() -> None:
    """On net_sem.yaml (one namespace) nearly every step firing is an answer from the memo."""
    spec = load_spec(ROOT / "specs" / "net_sem.yaml", {"net": 1})
    system = TransitionSystem(spec)
    explore(system)
    memo = system.memo
    assert isinstance(memo, StepMemo) and memo.native is not None
    assert memo.native.answers > 10 * memo.size > 0


@pytest.mark.parametrize("native", [True, False])
def test_a_footprint_missing_a_slot_is_an_internal_error(native: bool) -> None:
    """With the shared slots taken out of every footprint (only the threads' own program counters and locals
    kept), the answers are wrong somewhere, and the check says so rather than search on."""
    spec = load_spec(ROOT / "specs" / "net_sem.yaml", {"net": 1})
    system = TransitionSystem(spec)
    own = {t.tid: {t.pcslot, *t.local_slots} for t in system.threads}
    prints = footprints(system)
    cut = [[tuple(s for s in fp if s in own[tid]) if fp is not None else None for fp in per]
           for tid, per in enumerate(prints)]
    import netcheck.model.semantics.memo as memo_module
    original = memo_module.footprints
    memo_module.footprints = lambda _system: cut
    try:
        remembered(system, native=native)
    finally:
        memo_module.footprints = original
    with pytest.raises(MemoError, match="misses a slot"):
        explore(system)


def test_every_step_of_the_flagship_spec_has_a_footprint() -> None:
    """The Promela translation covers every step of the shipped protocols: none is fired on every state."""
    for name in ("net_mutex.yaml", "net_sem.yaml", "pernet_ops_rwsem.yaml"):
        system = TransitionSystem(load_spec(ROOT / "specs" / name, {"net": 1}))
        prints = footprints(system)
        for thread, per in zip(system.threads, prints):
            assert all((fp is not None) == (step is not None) for fp, step in zip(per, thread.steps)), thread.name


def test_the_native_expander_is_built_where_a_compiler_was() -> None:
    """The install compiles the expander wherever it compiles the state store."""
    from netcheck.checker.engine.store import NATIVE_STORE
    assert (Expander is not None) is NATIVE_STORE


def test_a_search_without_the_memo_detaches_one() -> None:
    """`explore(memo=False)` fires every step on every state even on a system a memo was attached to."""
    system = TransitionSystem(load_spec(ROOT / "specs" / "net_mutex.yaml", {"net": 1}))
    explore(system)
    assert isinstance(system.memo, StepMemo)
    explore(system, memo=False)
    assert system.memo is None
