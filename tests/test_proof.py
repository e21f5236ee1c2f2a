"""k-induction (checker/engine/kinduction.py) and PDR (checker/engine/pdr.py) against the explicit search.

- correct specs: the invariants, lock_discipline and runtime_safety are proved (`holds`), and a PDR
  invariant checks again with a plain solver (a wrong one does not);
- bug specs: never `holds` for the violated property; the violation is found at the explicit search's
  shortest length and its trace replays with the explicit semantics;
- an invariant that is true but not inductive at depth 1 gets a counterexample to induction;
- exit codes from the CLI: 0 (expect: met), 1 (violated), 2 (bad usage), 3 (unknown);
- deadlock freedom: abba's deadlock found at its explicit length; a proof of the form (no global deadlock, no
  wait cycle) is "holds" only when every run is finite, never on a livelock the explicit search finds stuck;
- generated specs: where an engine answers, the explicit search agrees.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from dataclasses import replace
from fractions import Fraction
from functools import partial
from pathlib import Path

import networkx as nx
import pytest
import z3
from click.testing import CliRunner
from netcheck.checker.analyses.proof import Unwritable, Writer, compile_condition, parse_back
from netcheck.checker.analyses.trace import describe_path
from netcheck.checker.cli import main
from netcheck.checker.engine import mining
from netcheck.checker.engine.bmc import BmcError
from netcheck.checker.engine.deadlocks import explicit_form, has_cycle, why_partial
from netcheck.checker.engine.explore import explore
from netcheck.checker.engine.kinduction import kinduction
from netcheck.checker.engine.lemmas import check_induction
from netcheck.checker.engine.limits import Limits
from netcheck.checker.engine.mining import SampleBlocker, affine_relations, mined_candidates, sample_states
from netcheck.checker.engine.paths import path_to
from netcheck.checker.engine.pdr import pdr, recheck
from netcheck.checker.engine.result import Path as EnginePath
from netcheck.checker.engine.symbolic import ProofResult, Symbolic
from netcheck.checker.engine.vocabulary import Status
from netcheck.checker.report import proof as report_proof
from netcheck.checker.report.build import build_proof_report
from netcheck.checker.report.proof import _written
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics import ir, smtlist
from netcheck.model.semantics.discipline import read_depth_bounds
from netcheck.model.semantics.locks import MAX_READ_DEPTH
from netcheck.model.semantics.program import locals_in_use
from netcheck.model.semantics.system import TransitionSystem
from spec_generator import generated_systems

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
BUGS = EXAMPLES / "bugs"
TWO_STEPS = ROOT / "tests" / "fixtures" / "proof" / "two_steps.yaml"
LOOPING = ROOT / "tests" / "fixtures" / "proof" / "looping_mutex.yaml"
# bug specs whose violated property the engines decide, quick for z3
BUG_SPECS = ["abba", "caller_must_hold", "invariant_null_index", "sleep_under_spinlock"]
DEADLOCK = "deadlock_free"


def system_of(path: Path) -> TransitionSystem:
    return TransitionSystem(load_spec(path))


def length(path: EnginePath) -> int:
    return len(path.labels) + (path.last is not None)


def explicit(system: TransitionSystem) -> tuple[dict[str, int], bool]:
    """The explicit search's shortest counterexample length per violated property, and completeness."""
    exp = explore(system, Limits(max_states=20_000), measure_memory=False)
    return {name: length(path_to(exp, f)) for name, f in exp.violations.items()}, exp.complete


def replays(result: ProofResult) -> None:
    for name, finding in result.violations.items():
        trace = describe_path(result.system, result.paths[name], finding.message)
        assert len(trace.steps) == length(result.paths[name])


@pytest.mark.parametrize("engine", ["kind", "pdr"])
def test_correct_small_specs_are_proved(engine: str) -> None:
    for path in (EXAMPLES / "steps.yaml", TWO_STEPS):
        system = system_of(path)
        result = kinduction(system, 4) if engine == "kind" else pdr(system)
        assert not result.violations
        assert {"lock_discipline", "runtime_safety", "deadlock_free"} <= result.proofs.keys()
        assert not result.deadlock_partial   # loop-free: the form proved is all of deadlock freedom
        report = build_proof_report(str(path), result)
        statuses = {p.name: p.status for p in report.properties}
        assert statuses["deadlock_free"] is Status.HOLDS and statuses["lock_order"] is Status.UNKNOWN
        assert all(statuses[p] is Status.HOLDS for p in result.proofs)
    assert "never_three" in pdr(system_of(TWO_STEPS)).proofs


@pytest.mark.parametrize("name", BUG_SPECS)
@pytest.mark.parametrize("engine", ["kind", "pdr"])
def test_bug_specs_are_violated_at_the_explicit_length_never_proved(engine: str, name: str) -> None:
    system = system_of(BUGS / f"{name}.yaml")
    expected, complete = explicit(system)
    assert complete and expected
    result = kinduction(system, max(expected.values())) if engine == "kind" else pdr(system)
    decided = {p: n for p, n in expected.items() if p in result.covered}
    assert decided
    assert {p: length(result.paths[p]) for p in result.violations} == decided
    assert not set(decided) & set(result.proofs)
    replays(result)


def test_a_non_inductive_invariant_gets_a_counterexample_to_induction() -> None:
    system = system_of(TWO_STEPS)
    result = kinduction(system, 1, sample=0)   # no facts read off reachable states: plain k-induction
    assert "never_three" not in result.proofs and "never_three" not in result.violations
    cti = result.ctis["never_three"]
    assert len(cti.states) == 2
    x = next(i for i, s in enumerate(system.layout.slots) if s.name == "x")
    assert cti.states[0][x] != 3 and cti.states[-1][x] == 3
    assert "induction step fails" in result.unknown["never_three"]
    assert "never_three" in kinduction(system, 4, sample=0).proofs


def test_a_base_case_cut_short_says_so_with_the_runs_timeout() -> None:
    """k-induction's base case runs on what Houdini leaves of the budget: on net_sem.yaml Houdini alone needs
    more than a second, so a 1 s run asks no induction step; each open property says why, and the timeout
    told is the run's, not the sliver the base case had."""
    result = kinduction(system_of(ROOT / "specs" / "net_sem.yaml"), 8, timeout=1)
    assert not result.proofs and not result.violations and not result.complete
    assert result.stop_reason == "timeout after 1 s"
    for name in ("init_exit_pairing", "exit_matches_init", "runtime_safety"):
        assert re.fullmatch(r"its base case \(bounded model checking\) (reached depth [0-7]|decided no depth) of 8 "
                            r"\(timeout after 1 s\), so no induction step was asked", result.unknown[name])


STEPS_TO_THREE = """netcheck: 1
name: steps_to_three
state:
  x: "int[0..3]"
  y: bool
procedures:
  run():
    - x = 1
    - x = 2
    - x = 3
    - y = true
threads:
  t: run()
properties:
  below_three:
    invariant: "x <= 2"
  flag_after_three:
    invariant: "not y or x == 3"
"""


def test_pdr_asks_alone_only_about_the_stop_on_properties(tmp_path: Path) -> None:
    """PDR asks every property together first (here a violation, so it settles nothing), then each alone;
    with --stop-on (prove PROPERTY) only those alone, so the time left is theirs, and the others are
    unknown, saying they were not looked for."""
    path = tmp_path / "steps.yaml"
    path.write_text(STEPS_TO_THREE)
    every = pdr(system_of(path), sample=0)
    assert every.violations.keys() == {"below_three"} and "flag_after_three" in every.proofs
    one = pdr(system_of(path), sample=0, stop_on=frozenset({"flag_after_three"}))
    assert "flag_after_three" in one.proofs and not one.violations
    assert one.unknown["below_three"].startswith("not looked for on its own")
    assert not one.complete and one.stop_reason == "asked only about the --stop-on properties"


def test_pdr_invariant_checks_again_and_a_wrong_one_does_not() -> None:
    system = system_of(TWO_STEPS)
    result = pdr(system)
    proof = result.proofs["never_three"]
    assert proof.invariant is not None and all(ok for _, ok in proof.checks)
    sy = Symbolic(system)
    sy.houdini()   # PDR's invariant is inductive together with the well-formedness facts
    s, t = sy.frame("a"), sy.frame("b")
    bad = sy.bad("never_three", s)
    assert all(ok for _, ok in recheck(sy, proof.invariant, bad, s, t))
    assert dict(recheck(sy, z3.BoolVal(True), bad, s, t))["implies the property"] is False
    x = next(i for i, sl in enumerate(sy.system.layout.slots) if sl.name == "x")
    assert dict(recheck(sy, sy.u.base[x] == 0, bad, s, t))["consecution"] is False


def test_pdr_assumes_the_well_formedness_facts_and_proves_list_properties() -> None:
    """Spacer gets the Houdini-proved slot facts in its step clause: every state property of
    producer_consumer (sets of items, a list) is proved, as a fresh process runs it (Spacer's search
    depends on what z3 built before in the process)."""
    cmd = [sys.executable, "-m", "netcheck.checker.cli", "verify", "--engine", "pdr", "--timeout", "600",
           "--format", "json", str(EXAMPLES / "producer_consumer.yaml")]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    status = {p["name"]: p["status"] for p in json.loads(out.stdout)["properties"]}
    for name in ("consumed_were_produced", "queued_or_consumed", "everything_consumed", "lock_discipline",
                 "runtime_safety"):
        assert status[name] == "holds", (name, status)


def test_cli_exit_codes() -> None:
    run = CliRunner().invoke
    bug = str(BUGS / "caller_must_hold.yaml")
    assert run(main, ["verify", "--engine", "pdr", bug]).exit_code == 0   # expect: met
    out = run(main, ["verify", "--engine", "pdr", "--ignore-expect", bug])
    assert out.exit_code == 1 and "CPU0" in out.output
    out = run(main, ["verify", "--engine", "kind", "--depth", "3", "--no-timing", str(EXAMPLES / "steps.yaml")])
    assert out.exit_code == 3 and "holds       lock_discipline" in out.output
    assert run(main, ["verify", "--engine", "kind", bug]).exit_code == 2
    assert run(main, ["verify", "--engine", "pdr", "--depth", "3", bug]).exit_code == 2
    assert run(main, ["verify", "--engine", "pdr", "--reduce", "protected", bug]).exit_code == 2
    assert run(main, ["verify", "--engine", "pdr", str(ROOT / "no_such_spec.yaml")]).exit_code == 2


def no_form_state(system: TransitionSystem, result: ProofResult, expected: dict[str, int]) -> None:
    """A proof of the deadlock form: no state the explicit search reaches is of that form, and when every run
    is finite the explicit search finds no stuck thread at all."""
    if not result.deadlock_partial:
        assert DEADLOCK not in expected, f"{result.engine} proves deadlock freedom, which the explicit search violates"
    exp = explore(system, Limits(max_states=2_000), measure_memory=False)
    for sid in range(exp.store.expanded):
        assert not explicit_form(system, exp.store.states[sid])


def facts_hold_on_the_reachable_states(system: TransitionSystem, most: int = 300) -> int:
    """A local slot is unused (None) exactly where `locals_in_use` says, in every state the explicit search
    reaches (up to 100,000), and every well-formedness fact Houdini keeps holds in `most` of them, evenly
    spaced; the number of facts."""
    sy = Symbolic(system)
    facts = sy.houdini()
    states = explore(sy.system, Limits(max_states=100_000)).store.states
    in_use = {t.tid: locals_in_use(t.nodes) for t in sy.system.threads}
    for state in states:
        for t in sy.system.threads:
            pc = state[t.pcslot]
            used = in_use[t.tid][pc] if pc < len(in_use[t.tid]) else frozenset()   # finished: none
            assert all((state[j] is None) == (j not in used) for j in t.local_slots), (t.name, state)
    pre = sy.u.rel.pre
    for sid in range(0, len(states), max(1, len(states) // most)):
        state = states[sid]
        frame = [pre.value(i, v if v is not None else () if smtlist.is_list(pre.sort(i)) else 0)
                 for i, v in enumerate(state)]
        for fact in facts:
            assert z3.is_true(z3.simplify(fact.fact(frame))), (fact.text, state)
    return len(facts)


def frame_of(pre: object, state: tuple) -> list:
    """A state as z3 literals (an unused slot as any value of its sort)."""
    return [pre.value(i, v if v is not None else () if smtlist.is_list(pre.sort(i)) else 0)   # type: ignore[attr-defined]
            for i, v in enumerate(state)]


@pytest.mark.parametrize(("path", "size"), [(EXAMPLES / "rcu_net_list.yaml", 200),
                                            (EXAMPLES / "producer_consumer.yaml", 30)], ids=["rcu_net_list", "pc"])
def test_facts_read_off_a_sample_hold_on_it_and_those_houdini_keeps_on_every_reachable_state(path: Path,
                                                                                           size: int) -> None:
    """mining.py: every candidate holds on the sample it was read from; from a sample of the first states
    (not all of them), Houdini keeps only facts that hold on every reachable state, and drops some that do
    not."""
    sy = Symbolic(system_of(path))
    sample = sample_states(sy.system, size)
    candidates = mined_candidates(sy, sample)
    assert any("->" in c.text for c in candidates) and any("->" not in c.text for c in candidates)
    pre = sy.u.rel.pre
    for state in sample[:: max(1, len(sample) // 50)]:
        frame = frame_of(pre, state)
        assert all(z3.is_true(z3.simplify(c.fact(frame))) for c in candidates)
    kept = [c for c in sy.houdini(extra=candidates) if c in candidates]
    states = explore(sy.system, Limits(max_states=100_000), measure_memory=False).store.states
    assert len(states) > len(sample) and 0 < len(kept) < len(candidates)
    for state in states[:: max(1, len(states) // 300)]:
        frame = frame_of(pre, state)
        for c in kept:
            assert z3.is_true(z3.simplify(c.fact(frame))), (c.text, state)


def _rank(rows: list[list[int]]) -> int:
    """The rank of an integer matrix, by exact elimination over the rationals."""
    m = [[Fraction(x) for x in row] for row in rows]
    rank = 0
    for col in range(len(m[0]) if m else 0):
        pivot = next((r for r in range(rank, len(m)) if m[r][col]), None)
        if pivot is None:
            continue
        m[rank], m[pivot] = m[pivot], m[rank]
        for r in range(len(m)):
            if r != rank and m[r][col]:
                f = m[r][col] / m[rank][col]
                m[r] = [a - f * b for a, b in zip(m[r], m[rank])]
        rank += 1
    return rank


def test_affine_relations_are_the_null_space_of_the_rows() -> None:
    """mining.affine_relations: points on the plane z = x + 2y - 1 give that equation (primitive, sign fixed);
    on random integer matrices every vector returned annihilates every row, the vectors are independent, and
    there are as many as the null space's dimension (columns less the rank)."""
    rows = [[x, y, x + 2 * y - 1, 1] for x in range(3) for y in range(-2, 2)]
    assert affine_relations(rows) == [[1, 2, -1, -1]]
    assert affine_relations([[5, 1], [5, 1]]) == [[1, -5]]     # a column that never changes: x == 5
    assert affine_relations([]) == []
    rng = random.Random(7)
    for _ in range(200):
        width = rng.randint(1, 7)
        basis = [[rng.randint(-3, 3) for _ in range(width)] for _ in range(rng.randint(0, width))]
        rows = [[sum(rng.randint(-2, 2) * b[k] for b in basis) for k in range(width)] + [1]
                for _ in range(rng.randint(1, 12))]
        found = affine_relations(rows)
        assert all(sum(c * x for c, x in zip(v, row)) == 0 for v in found for row in rows)
        assert len(found) == width + 1 - _rank(rows)
        assert _rank(found) == len(found) if found else True


@pytest.mark.parametrize("name", ["exclusive_accept", "rwsem_config", "producer_consumer"])
def test_affine_equalities_are_written_in_spec_syntax_with_their_meaning(name: str) -> None:
    """mining.py's affine equalities, written as `prove` writes them (conditional terms, a program counter's
    values as one at()), parse back, and the parsed condition agrees with the fact on every reachable
    state; a few of them are written at all (a wait queue's members have no spec syntax)."""
    system = system_of(EXAMPLES / f"{name}.yaml")
    sy = Symbolic(system)
    states = explore(sy.system, Limits(max_states=20_000), measure_memory=False).store.states
    affine = [c for c in mined_candidates(sy, states) if c.slot == -1]
    writer, pre = Writer(sy.system, sy.u.base), sy.u.rel.pre
    written = []
    for c in affine:
        try:
            written.append((c, compile_condition(pre, parse_back(sy.system, writer.write(c.fact(sy.u.base))))))
        except Unwritable:
            continue
    assert affine and written
    for state in states[:: max(1, len(states) // 200)]:
        frame = frame_of(pre, state)
        values = list(zip(sy.u.base, frame))
        for c, back in written:
            assert z3.is_true(z3.simplify(c.fact(frame))), c.text
            assert z3.is_true(z3.simplify(z3.substitute(back, *values))), (c.text, writer.write(c.fact(sy.u.base)))


def test_affine_equalities_prove_what_the_one_slot_facts_do_not() -> None:
    """exclusive_accept.yaml: the one-slot facts read off reachable states, without clauses learned by
    blocking states, do not prove `all_accepted` (a counterexample to induction); with the affine equalities (a connection's count is the queue plus the
    accepted ones) Houdini's invariant proves it and runtime_safety, which the explicit search says hold."""
    path = EXAMPLES / "exclusive_accept.yaml"
    wanted = {"all_accepted", "runtime_safety"}
    most_features = mining.MOST_FEATURES
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mining, "MOST_BLOCKED", 0)   # no clauses learned either: they would prove it too
        patch.setattr(mining, "MOST_FEATURES", 0)
        assert not wanted & kinduction(system_of(path), 4).proofs.keys()
        patch.setattr(mining, "MOST_FEATURES", most_features)
        result = kinduction(system_of(path), 4)
    assert wanted <= result.proofs.keys() and all(result.proofs[p].engine == "houdini" for p in wanted)
    violated, complete = explicit(system_of(path))
    assert complete and not wanted & set(violated)


def test_a_blocked_state_is_ruled_out_and_every_sampled_state_kept() -> None:
    """mining.py `SampleBlocker`: for a reachable state past the sample, and for one no search reaches, the
    clause rules the state out and holds on every sampled state; a sampled state is not blocked."""
    sy = Symbolic(system_of(EXAMPLES / "rcu_callbacks.yaml"))
    sample = sample_states(sy.system, 300)
    states = explore(sy.system, Limits(max_states=100_000), measure_memory=False).store.states
    sampled = set(sample)
    later = [st for st in states if st not in sampled]
    assert later
    pre, block = sy.u.rel.pre, SampleBlocker(sy, sample)
    s = sy.frame("b")

    def model_of(state: tuple) -> z3.ModelRef:
        solver = z3.Solver()
        solver.add(*[x == v for x, v in zip(s, frame_of(pre, state))])
        assert solver.check() == z3.sat
        return solver.model()

    assert block(model_of(sample[-1]), s) is None
    unreachable = list(sample[-1])
    unreachable[[slot.name for slot in sy.system.layout.slots].index("frees")] = 3   # one callback counts
    for state in (later[0], later[-1], tuple(unreachable)):
        clause = block(model_of(state), s)
        assert clause is not None and clause.text.startswith("not (")
        assert z3.is_false(z3.simplify(clause.fact(frame_of(pre, state))))
        assert all(z3.is_true(z3.simplify(clause.fact(frame_of(pre, st)))) for st in sample)


def test_clauses_learned_where_the_sample_lacks_a_state_prove_what_the_sampled_facts_do_not() -> None:
    """rcu_callbacks.yaml: the facts read off reachable states do not prove runtime_safety (a reader on a
    namespace whose callback has queued); with the clauses Houdini learns from each state that breaks the
    property or a learned clause and that no sampled state covers, it is proved, by an invariant that checks
    again, and the explicit search says it holds."""
    path = EXAMPLES / "rcu_callbacks.yaml"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mining, "MOST_BLOCKED", 0)
        assert "runtime_safety" not in kinduction(system_of(path), 1).proofs
    result = kinduction(system_of(path), 1)
    proof = result.proofs["runtime_safety"]
    assert proof.engine == "houdini" and proof.invariant is not None
    sy = Symbolic(system_of(path))
    sy.houdini()
    assert check_induction(sy, "runtime_safety", [("houdini", proof.invariant)]).inductive
    violated, complete = explicit(system_of(path))
    assert complete and "runtime_safety" not in violated
    # prove shows it: the conjuncts spec syntax can write, and those over the RCU machinery in z3's notation,
    # the two checked again together
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(report_proof, "SHRINK_CHECKS", 2)   # the checks of a shrink are the slow part here
        shown = _written(sy.system, sy, "runtime_safety", proof.invariant, "houdini")
    assert not isinstance(shown, str) and shown.status == "proved" and shown.invariant and shown.unnamed
    assert shown.checks and all(c.status == "passed" for c in shown.checks)
    assert any("gp_waits_for" in c or "deleted_" in c for c in shown.unnamed)


def test_facts_from_reachable_states_prove_what_k_induction_alone_does_not() -> None:
    """producer_consumer.yaml: plain k-induction to depth 4 does not prove runtime_safety (a counterexample to
    induction; lock_discipline it proves with the lock-owner facts); with the facts Houdini keeps from a
    sample of reachable states, both are proved by an inductive invariant, as the explicit search says
    they hold."""
    path = EXAMPLES / "producer_consumer.yaml"
    wanted = {"lock_discipline", "runtime_safety"}
    assert "runtime_safety" not in kinduction(system_of(path), 4, sample=0).proofs
    result = kinduction(system_of(path), 4)
    assert wanted <= result.proofs.keys() and all(result.proofs[p].engine == "houdini" for p in wanted)
    assert not set(explicit(system_of(path))[0]) & result.proofs.keys()
    statuses = {p.name: p for p in build_proof_report(str(path), result).properties}
    assert all(statuses[p].status is Status.HOLDS and "inductive invariant" in statuses[p].message for p in wanted)


def test_each_houdini_proof_is_an_inductive_invariant_with_the_properties_it_needs() -> None:
    """producer_consumer.yaml: Houdini keeps several properties in one inductive set, and the step of one
    may need another. Each property's invariant (the facts kept), with the other properties kept
    (`with_others`) where the facts alone are not enough, checks again as inductive with that property
    (engine/lemmas.py), as prove's written invariant must; everything_consumed needs the others, and prove
    shows them by name."""
    path = EXAMPLES / "producer_consumer.yaml"
    result = kinduction(system_of(path), 1)
    houdini = {p: proof for p, proof in result.proofs.items() if proof.engine == "houdini"}
    assert "everything_consumed" in houdini and len(houdini) >= 3
    sy = Symbolic(system_of(path))
    sy.houdini()
    needs = set()
    for p, proof in houdini.items():
        assert proof.invariant is not None
        if not check_induction(sy, p, [("facts", proof.invariant)]).inductive:
            needs.add(p)
            names = [q for q, _ in proof.with_others]
            assert names and p not in names and set(names) <= set(houdini), (p, names)
            assert check_induction(sy, p, [("facts", proof.invariant), *proof.with_others]).inductive, p
    assert "everything_consumed" in needs
    # prove shows those it needs by name, as conjuncts checked with the rest, not written out
    proof = houdini["everything_consumed"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(report_proof, "SHRINK_CHECKS", 2)   # the checks of a shrink are the slow part here
        shown = _written(sy.system, sy, "everything_consumed", proof.invariant, "houdini", proof.with_others)
    assert not isinstance(shown, str) and shown.status == "proved", shown
    assert shown.with_properties and set(shown.with_properties) <= {q for q, _ in proof.with_others}
    assert all(c.status == "passed" for c in shown.checks)
    assert {f"property {q}" for q in shown.with_properties} <= {c.conjunct for c in shown.checks}
    assert not any(" in produced" in c and " in consumed" in c for c in (*shown.invariant, *shown.unnamed))


@pytest.mark.parametrize("path", [EXAMPLES / "producer_consumer.yaml", EXAMPLES / "lists.yaml",
                                  ROOT / "specs" / "net_mutex.yaml", BUGS / "caller_must_hold.yaml"],
                         ids=lambda p: p.name)
def test_the_well_formedness_facts_hold_on_every_reachable_state(path: Path) -> None:
    """Houdini's facts (local references and lists where in use among them) are true of reachable states:
    an unsound fact would let every z3 engine prove what is false."""
    system = TransitionSystem(load_spec(path))
    assert facts_hold_on_the_reachable_states(system) >= len(system.threads)


@pytest.mark.parametrize("path", [EXAMPLES / "lock_api.yaml", EXAMPLES / "fair_rwsem_reader.yaml",
                                  BUGS / "rwsem_recursive_read.yaml", BUGS / "killable_leaks_lock.yaml"],
                         ids=lambda p: p.name)
def test_an_rwsems_shape_is_kept_and_holds_on_every_reachable_state(path: Path) -> None:
    """An rwsem's read holds in range, its queue's shape, each thread queued only where it sleeps on it and
    granted it where it sleeps no more, no more reads held than its program takes (discipline.py
    `read_depth_bounds`), and waiters only while someone holds it: Houdini keeps every such fact (they are
    inductive together; before, a step from an ill-formed state overflowed the queue and the read holds,
    and none was kept), and each is true of the reachable states (recursive reads, killable waits that
    leave the queue included)."""
    system = TransitionSystem(load_spec(path))
    sy = Symbolic(system)
    queues = [slot.name for slot in system.layout.slots if slot.kind == "lock_queue"]
    assert queues
    candidates = [c.text for c in sy.candidates() if any(q in c.text for q in queues) or ".readers" in c.text
                  or ".writer" in c.text or "read holds of" in c.text]
    kept = {c.text for c in sy.houdini()}
    assert candidates and set(candidates) <= kept, set(candidates) - kept
    assert facts_hold_on_the_reachable_states(system) >= len(candidates)


def test_read_depth_bounds_count_the_reads_a_program_takes() -> None:
    """discipline.py `read_depth_bounds`: rwsem_config.yaml's reader takes config_sem once (at most 1 held),
    rwsem_recursive_read.yaml's a second time inside the first (2 inside read_hi()), the updater never
    (0 everywhere); a loop that keeps taking it is past any bound."""
    def most(path: Path, name: str) -> int:
        system = TransitionSystem(load_spec(path))
        t = next(t for t in system.threads if t.name.startswith(name))
        entry = system.initial_states[0][t.pcslot]
        return max(read_depth_bounds(t.nodes, entry, "config_sem", MAX_READ_DEPTH).values())
    assert most(EXAMPLES / "rwsem_config.yaml", "reader") == 1
    assert most(BUGS / "rwsem_recursive_read.yaml", "reader") == 2
    assert most(EXAMPLES / "rwsem_config.yaml", "updater") == 0
    reader = next(t for t in TransitionSystem(load_spec(EXAMPLES / "rwsem_config.yaml")).threads
                  if t.name.startswith("reader"))
    take = next(n for n in reader.nodes if isinstance(n, ir.LockCall) and n.op == "down_read")
    loop = [replace(take, next=0, wait=-1)]   # takes it again and again
    assert read_depth_bounds(loop, 0, "config_sem", MAX_READ_DEPTH) == {0: MAX_READ_DEPTH + 1}


def test_the_well_formedness_facts_hold_on_generated_specs() -> None:
    @generated_systems(10)
    def check(system: TransitionSystem) -> None:
        facts_hold_on_the_reachable_states(system, most=100)
    check()


def test_engines_agree_with_the_explicit_search_on_generated_specs() -> None:
    compared: list[int] = []

    @generated_systems(4)
    def check(system: TransitionSystem) -> None:
        expected, complete = explicit(system)
        if not complete:
            return
        for engine in ("kind", "pdr"):
            try:
                result = kinduction(system, 3, timeout=2) if engine == "kind" else pdr(system, timeout=2)
            except BmcError:
                return
            for name in result.proofs:
                if name == DEADLOCK:
                    no_form_state(system, result, expected)
                    continue
                assert name not in expected, f"{engine} proves {name}, which the explicit search violates"
            for name in result.violations:
                assert name in expected
                if name == DEADLOCK:   # the explicit search may see a thread stuck before the form shows it
                    assert length(result.paths[name]) >= expected[name]
                else:
                    assert length(result.paths[name]) == expected[name]
            replays(result)
            compared.append(len(result.proofs) + len(result.violations))

    check()
    assert sum(compared) > 0


@pytest.mark.parametrize("engine", ["kind", "pdr"])
def test_a_livelock_proves_the_deadlock_form_but_never_deadlock_freedom(engine: str) -> None:
    """looping_mutex.yaml: `waiter` awaits a flag nobody sets while `spinner` loops forever. The explicit
    search finds it stuck; the engines prove the form (no global deadlock, no wait cycle) and say why that is
    not deadlock freedom here (a loop), leaving deadlock_free unknown, never holds."""
    system = system_of(LOOPING)
    expected, complete = explicit(system)
    assert complete and DEADLOCK in expected
    result = kinduction(system, 3) if engine == "kind" else pdr(system)
    assert DEADLOCK in result.proofs
    assert result.deadlock_partial == "thread spinner may run forever: a loop of it may not end"
    no_form_state(system, result, {})
    found = next(p for p in build_proof_report(str(LOOPING), result).properties if p.name == DEADLOCK)
    assert found.status is Status.UNKNOWN and "not a proof of deadlock freedom" in found.message


# shipped specs (and bug specs whose violations only the explicit search decides) on which PDR, or k-induction
# to depth 4, proves every property it decides within seconds (the others: bench/proofs.py, docs/results.md);
# k-induction's with the affine equalities read off reachable states (mining.py)
PDR_PROVES = ["steps", "completion_handshake", "coverage", "bugs/gated_abba", "bugs/irq_inversion",
              "bugs/starving_mutex_waiter"]
KIND_PROVES = ["coverage", "double_lock_nested", "refcount_get_net", "bugs/final_never_checked", "bugs/irq_inversion",
               "pernet_callbacks"]   # exclusive_accept, producer_consumer, rcu_callbacks: the tests above


@pytest.mark.parametrize(("engine", "name"), [("pdr", n) for n in PDR_PROVES] + [("kind", n) for n in KIND_PROVES])
def test_the_engines_prove_what_the_explicit_search_says_holds(engine: str, name: str) -> None:
    system = system_of(EXAMPLES / f"{name}.yaml")
    expected, complete = explicit(system)
    result = pdr(system) if engine == "pdr" else kinduction(system, 4)
    assert complete and not set(expected) & set(result.covered)
    assert set(result.proofs) == set(result.covered)   # deadlock freedom in its form (a daemon: only that)
    assert all(ok for proof in result.proofs.values() for _, ok in proof.checks)
    no_form_state(system, result, expected)


FED = ROOT / "tests" / "fixtures" / "proof" / "fed_daemon.yaml"


def state_graph_is_acyclic(system: TransitionSystem) -> bool:
    """Every run is finite: the explicit search's state graph (complete) has no cycle."""
    exp = explore(system, Limits(max_states=20_000), measure_memory=False)
    assert exp.complete
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(exp.store)))
    graph.add_edges_from((a, b) for a, b, _, _ in exp.store.edges())
    return nx.is_directed_acyclic_graph(graph)


@pytest.mark.parametrize("change, why", [
    (None, ""),
    (("batch, queue = queue, []", "batch = queue"), "passes no step that makes its idle wait's condition false"),
    (("          - done = done | {x}", "          - list_add_tail(queue, x)"),
     "a daemon's step may make the condition of its idle wait true"),
    (("idle: true", "idle: false"), "a loop of it passes no idle wait"),
])
def test_a_daemon_runs_finitely_only_when_fed(tmp_path: Path, change: tuple[str, str] | None, why: str) -> None:
    """fed_daemon.yaml: the daemon empties the queue each turn and only the submitters fill it, so every run
    ends (the explicit search's graph has no cycle). Taking the queue without emptying it, refilling it
    itself, or a wait that is not idle: not shown (the first loops forever indeed)."""
    text = FED.read_text()
    if change is not None:
        assert change[0] in text
        text = text.replace(*change)
    path = tmp_path / "fed.yaml"
    path.write_text(text)
    system = system_of(path)
    sy = Symbolic(system)
    sy.houdini()
    got = why_partial(system, sy.finite)
    if not why:
        assert got == "" and state_graph_is_acyclic(system)
    else:
        assert why in got and "worker" in got
    if change is not None and change[1] == "batch = queue":
        assert not state_graph_is_acyclic(system)


def test_a_loop_over_a_list_another_thread_changes_is_not_shown_to_end(tmp_path: Path) -> None:
    """A walk over a shared list that a concurrent thread edits (no lock) may not end; under the lock that
    all writers take, it does."""
    text = """netcheck: 1
name: walk
entities: {item: 2}
locks: {m: mutex}
state:
  l: {type: list<item>, init: [item0]}
  seen: {type: set<item>}
procedures:
  walker():
    - ENTER
    - list_for_each_entry: x in l
      do:
        - seen = seen | {x}
    - LEAVE
  adder():
    - mutex_lock: m
    - list_add_tail(l, item1)
    - mutex_unlock: m
threads:
  walker: {run: walker()}
  adder: {run: adder()}
"""
    for locked, why in ((False, "thread walker may run forever: a loop of it may not end"), (True, "")):
        path = tmp_path / "walk.yaml"
        path.write_text(text.replace("ENTER", "mutex_lock: m").replace("LEAVE", "mutex_unlock: m") if locked else
                        text.replace("    - ENTER\n", "").replace("    - LEAVE\n", ""))
        system = system_of(path)
        sy = Symbolic(system)
        sy.houdini()
        assert why_partial(system, sy.finite) == why


def test_finite_runs_are_claimed_only_where_the_state_graph_has_no_cycle() -> None:
    """On generated specs (daemons, loops, waits): where `finite` shows every run finite, the explicit
    search's complete state graph is acyclic."""
    claimed: list[bool] = []

    @generated_systems(25)
    def check(system: TransitionSystem) -> None:
        exp = explore(system, Limits(max_states=20_000), measure_memory=False)
        if not exp.complete:
            return
        try:
            sy = Symbolic(system, 2000)
        except BmcError:
            return
        sy.houdini(2000)
        if why_partial(system, partial(sy.finite, timeout_ms=2000)) == "":
            assert state_graph_is_acyclic(system)
            claimed.append(any(has_cycle(t.nodes) for t in system.threads))
    check()
    assert claimed and any(claimed)   # shown, and shown for specs with loops
