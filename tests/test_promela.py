"""SPIN cross-checks netcheck: `netcheck export --promela` compiles a spec's IR and lock rules to Promela,
one SPIN step per netcheck step, and SPIN (spin -o2 -a, cc -DSAFETY -DNOREDUCE, pan) must store exactly
netcheck's states and reach the same verdicts. The C compiler runs without optimisation here (the state
space does not depend on it; bench/bench.py times -O2). Skipped where spin or gcc is missing.

Verdicts: pan stops at its first error, which must be a property netcheck finds violated (an assertion
names it; an invalid end state is deadlock_free); a spec netcheck finds clean must be clean for SPIN.
SPIN's deadlocks are terminal states only, so a thread stuck while another keeps stepping (netcheck's
stuck-thread analysis) has no SPIN counterpart: such a spec must have no terminal deadlock state.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import EXAMPLES as DOC_EXAMPLES
from helpers import SLOW_MARKS, SPECS, expected_violations
from hypothesis import assume
from netcheck.checker.cli import main
from netcheck.checker.engine.explore import explore
from netcheck.checker.engine.limits import Limits
from netcheck.checker.engine.result import ExplicitResult
from netcheck.checker.engine.spin import available, parse_pan, run_spin
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.promela import PromelaError, export_promela, extra_states
from netcheck.model.semantics.system import TransitionSystem
from spec_generator import generated_systems

EXAMPLES = int(os.environ.get("NETCHECK_PROMELA_EXAMPLES") or 10)   # generated specs through SPIN
needs_spin = pytest.mark.skipif(not available(), reason="spin or gcc is not installed")
MAIN = ("net_mutex.yaml", "net_sem.yaml", "pernet_ops_rwsem.yaml")
CLEAN_EXAMPLES = sorted(DOC_EXAMPLES.glob("*.yaml"))
BUG_EXAMPLES = sorted((DOC_EXAMPLES / "bugs").glob("*.yaml"))
HEAVY_BUGS = ("recursive_read_in_init.yaml", "rtnl_before_net_sem.yaml", "register_takes_read.yaml")   # 5-10 s each
BUGS = [pytest.param(p, marks=SLOW_MARKS if p.name in HEAVY_BUGS else (), id=p.name)
        for p in sorted((SPECS / "bugs").glob("*.yaml"))]


def spin_of(system: TransitionSystem, tmp_path: Path):
    return run_spin(export_promela(system), optimise="-O0", workdir=tmp_path)


def terminal_deadlock(exp: ExplicitResult) -> bool:
    """Some reachable state has no step at all while a thread is neither finished nor idle."""
    store = exp.store
    finals = set(exp.finals)
    return any(not len(store.edge_range(sid)) and sid not in finals for sid in exp.deadlocks)


def assert_same(system: TransitionSystem, exp: ExplicitResult, tmp_path: Path) -> None:
    """SPIN's verdict agrees with netcheck's; with no violation, the state counts are equal too."""
    spin = spin_of(system, tmp_path)
    violated = set(exp.violations) - {"lock_order"}
    if not violated:
        assert (spin.errors, spin.error) == (0, "")
        assert spin.complete
        assert spin.states == exp.state_count + extra_states(system)
        return
    if spin.error == "deadlock":
        assert "deadlock_free" in violated
    elif spin.error:
        assert spin.error in violated
    else:   # only a deadlock SPIN cannot see: threads stuck while another keeps stepping
        assert violated == {"deadlock_free"} and not terminal_deadlock(exp)


@needs_spin
@pytest.mark.parametrize("name", MAIN)
def test_main_specs_small_bounds(name: str, tmp_path: Path) -> None:
    system = TransitionSystem(load_spec(SPECS / name, {"net": 1}))
    exp = explore(system, measure_memory=False)
    assert exp.complete and exp.state_count > 5_000
    assert_same(system, exp, tmp_path)


@needs_spin
@pytest.mark.parametrize("name", [pytest.param(n, marks=SLOW_MARKS) for n in MAIN])
def test_main_specs_default_bounds(name: str, tmp_path: Path) -> None:
    system = TransitionSystem(load_spec(SPECS / name))
    exp = explore(system, measure_memory=False)
    assert_same(system, exp, tmp_path)


@needs_spin
@pytest.mark.parametrize("path", CLEAN_EXAMPLES + BUG_EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_examples(path: Path, tmp_path: Path) -> None:
    system = TransitionSystem(load_spec(path))
    assert_same(system, explore(system, measure_memory=False), tmp_path)


@needs_spin
@pytest.mark.parametrize("path", BUGS)
def test_bug_specs(path: Path, tmp_path: Path) -> None:
    """Each shipped bug: SPIN's first error is one netcheck reports (netcheck stopping once every expected
    violation is found, as verify does)."""
    system = TransitionSystem(load_spec(path))
    exp = explore(system, Limits(stop_on=frozenset(expected_violations(path))), measure_memory=False)
    spin = spin_of(system, tmp_path)
    assert spin.errors == 1
    assert (spin.error if spin.error != "deadlock" else "deadlock_free") in exp.violations


def test_export_is_deterministic() -> None:
    system = TransitionSystem(load_spec(SPECS / "net_sem.yaml", {"net": 1}))
    text = export_promela(system)
    assert text == export_promela(TransitionSystem(load_spec(SPECS / "net_sem.yaml", {"net": 1})))
    # one global per slot, initialised to the initial state; every visible step an option of the loop
    assert text.count("\nint v") + text.count("\nshort v") == len(system.layout.slots)
    assert text.count("\nshort v") > len(system.layout.slots) // 2   # most slots fit 16 bits
    options = sum(1 for t in system.threads for s in t.steps if s is not None)
    assert text.count("    :: (") >= options


@needs_spin
def test_several_initial_states(write_spec, tmp_path: Path) -> None:
    """An `either` before the first visible step: netcheck has two initial states, SPIN one more state
    (the one before its first step chooses)."""
    path = write_spec("""
        netcheck: 1
        name: branching_start
        state: {x: "int[0..1]"}
        procedures:
          p():
            locals: {y: "int[0..1]"}
            body:
              - either:
                  one: [y = 1]
                  zero: []
              - x = y
        threads: {t: p()}
    """)
    system = TransitionSystem(load_spec(path))
    assert len(system.initial_states) == 2 and extra_states(system) == 1
    exp = explore(system, measure_memory=False)
    assert_same(system, exp, tmp_path)


def test_untranslatable_is_refused(write_spec) -> None:
    path = write_spec("""
        netcheck: 1
        name: wide
        state: {x: "int[999999000..1000000000]"}
        procedures:
          p():
            - x = x + 1
        threads: {t: p()}
    """)
    with pytest.raises(PromelaError, match="int range"):
        export_promela(TransitionSystem(load_spec(path)))
    result = CliRunner().invoke(main, ["export", "--promela", str(path)])
    assert result.exit_code == 2
    assert "cannot export to Promela: the int range" in result.output


def test_cli_writes_the_model(tmp_path: Path) -> None:
    out = tmp_path / "m.pml"
    result = CliRunner().invoke(main, ["export", "--promela", str(DOC_EXAMPLES / "steps.yaml"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("/* steps: generated by netcheck export --promela")
    assert CliRunner().invoke(main, ["export", str(DOC_EXAMPLES / "steps.yaml")]).exit_code == 2


def test_parse_pan() -> None:
    out = ("pan:1: assertion violated (V_exit_matches_init||(v1==0)) (at depth 12)\n"
           "State-vector 28 byte, depth reached 12, errors: 1\n      85 states, stored\n"
           "     120 transitions (= stored+matched)\n")
    assert parse_pan(out) == (85, 120, 1, "exit_matches_init", False)


@needs_spin
def test_generated_specs(tmp_path: Path) -> None:
    """Random specs (tests/spec_generator.py, bug patterns included): the same verdicts, and the same state
    count where nothing is violated."""
    checked: list[int] = []
    refused: list[str] = []

    @generated_systems(EXAMPLES)
    def check(system: TransitionSystem) -> None:
        exp = explore(system, Limits(max_states=3_000), measure_memory=False)
        assume(exp.complete)
        try:
            export_promela(system)
        except PromelaError as err:
            refused.append(str(err))
            return
        assert_same(system, exp, tmp_path)
        checked.append(exp.state_count)

    check()
    assert len(checked) >= EXAMPLES // 2, refused
