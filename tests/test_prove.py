"""`netcheck prove` (checker/report/proof.py): invariants in spec syntax that parse back and are inductive,
violations with replayed traces, lemmas and their counterexamples to induction (reachable or not, by the
explicit search), located errors for bad lemmas, JSON."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import z3
from click.testing import CliRunner
from helpers import SLOW
from netcheck.checker.analyses.proof import (
    Unwritable,
    Writer,
    compile_condition,
    engine_text,
    parse_back,
    split_invariant,
)
from netcheck.checker.cli import main
from netcheck.checker.engine.explore import explore
from netcheck.checker.engine.lemmas import Check, check_induction, check_lemmas
from netcheck.checker.engine.limits import Limits
from netcheck.checker.engine.symbolic import Symbolic
from netcheck.checker.engine.vocabulary import CheckStatus, ProofStatus
from netcheck.checker.render.proof import property_text, prove_object, state_lines
from netcheck.checker.report.proof import (
    PropertyProof,
    ProveOptions,
    ProveReport,
    _Equivalence,
    compiled_lemmas,
    provable,
    prove,
    state_view,
)
from netcheck.model.lang.errors import SpecError
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics import smtlist
from netcheck.model.semantics.locks import reader_tids
from netcheck.model.semantics.places import thread_places
from netcheck.model.semantics.system import TransitionSystem

ROOT = Path(__file__).resolve().parent.parent
PROOFS = ROOT / "docs" / "examples" / "proofs"
CORRECT = PROOFS / "pernet_init_exit.yaml"
BUG = ROOT / "docs" / "examples" / "bugs" / "caller_must_hold.yaml"


def system_of(path: Path) -> TransitionSystem:
    return TransitionSystem(load_spec(path))


def run(*args: str) -> tuple[int, str]:
    out = CliRunner().invoke(main, ["prove", *args])
    return out.exit_code, out.output


def test_a_correct_spec_is_proved_with_an_invariant_that_parses_back_and_is_inductive() -> None:
    system = system_of(CORRECT)
    report = prove(str(CORRECT), system, provable(system), ProveOptions(timeout=20, depth=4))
    assert report.exit_code == 0
    sy = Symbolic(system)
    sy.houdini()
    # lock_discipline and runtime_safety are inductive by themselves (with the well-formedness facts)
    assert {p.name for p in report.properties if p.invariant} == {"exit_matches_init"}
    for p in report.properties:
        assert p.status == "proved" and p.engine == "pdr" and not p.unnamed
        assert all(c.status == "passed" for c in p.checks) and p.checks
        terms = [(t, compile_condition(sy.u.rel.pre, parse_back(system, t))) for t in p.invariant]
        assert check_induction(sy, p.name, terms).inductive   # independently of the report
        assert list(p.invariant) == sorted(p.invariant)


def test_the_invariant_uses_the_spec_names_and_places() -> None:
    code, out = run(str(CORRECT), "exit_matches_init")
    assert code == 0 and "PROVED by PDR" in out
    # which invariant Spacer finds varies with z3's state in the process; every one is written in the spec's
    # own names: its shared variables, locks and thread positions
    invariant = out.split("Inductive invariant", 1)[1].split("Checked again", 1)[0]
    conjuncts = [line.strip() for line in invariant.splitlines()[1:] if line.strip()]
    assert conjuncts and all(re.search(r"\b(inited|registered|exited|pernet_ops_mutex|registrar|cleanup)\b", c)
                             for c in conjuncts), conjuncts
    assert "implies the property   passed" in out


def test_a_bug_spec_is_violated_with_a_trace() -> None:
    code, out = run(str(BUG))
    assert code == 1 and "VIOLATED" in out and "CPU0" in out and "Shortest counterexample" in out


def test_a_non_inductive_lemma_shows_an_unreachable_cti() -> None:
    path = PROOFS / "first_lemma.yaml"
    system = system_of(path)
    report = prove(str(path), system, ["exit_matches_init"], ProveOptions(lemmas_only=True))
    assert report.exit_code == 3
    lemmas = report.properties[0].lemmas
    assert lemmas is not None and not lemmas.inductive and lemmas.cti is not None
    assert lemmas.cti.conjunct == "registered_inited" and lemmas.cti.reachable.startswith("unreachable")
    # the CTI's first state is indeed never visited by the explicit search
    first = lemmas.cti.states[0]
    assert ("registrar", "first_lemma.yaml:18", "registered = true") in first.positions
    exp = explore(system, Limits(), measure_memory=False)
    layout = [s.name for s in system.layout.slots]
    pc = system.threads[0].pcslot
    registering = [p for p, st in enumerate(system.threads[0].steps) if st is not None
                   and system.threads[0].nodes[p].stmt.text == "registered = true"]
    assert not any(s[pc] in registering and not s[layout.index("inited")] for s in exp.store.states)


def test_a_false_lemma_is_not_inductive(tmp_path: Path) -> None:
    code, out = run(str(PROOFS / "first_lemma.yaml"), "exit_matches_init", "--lemmas-only")
    assert code == 3 and "Counterexample to induction" in out
    spec = (PROOFS / "first_lemma.yaml").read_text().replace('"not registered or inited"', '"not registered"')
    tmp = tmp_path / "false_lemma.yaml"
    tmp.write_text(spec)
    code, out = run(str(tmp), "exit_matches_init", "--lemmas-only")
    assert code == 3 and "initiation             passed" in out
    assert "Its first state is reachable" in out or "Its first state is unreachable" in out


def test_strengthened_lemmas_prove_it() -> None:
    code, out = run(str(PROOFS / "lemmas.yaml"), "exit_matches_init", "--lemmas-only")
    assert code == 0 and "PROVED by the lemmas" in out and "consecution            passed" in out


# a lemma whose step needs the property: `copied` is preserved by `c = b` only where b implies a
NEEDS_THE_PROPERTY = """netcheck: 1
name: needs_the_property
state:
  a: bool
  b: bool
  c: bool
procedures:
  run():
    - a = true
    - b = true
    - c = b
threads:
  t: run()
properties:
  b_after_a:
    invariant: "not b or a"
lemmas:
  copied: "not c or a"
  setting_b: 'not at(t, "needs.yaml:10") or a'
"""


@pytest.mark.parametrize("spec", ["lemmas", "needs"])
def test_the_lemmas_questions_asked_once_give_the_same_answers(tmp_path: Path, spec: str) -> None:
    """engine/lemmas.py: `check_lemmas` asks the lemmas' own questions once for every property; where they
    all pass, a property's check reuses them and its answers are the same as asking everything again; where
    one needs the property (its step is preserved only where the property holds), the lemmas alone fail and
    each property asks everything (and is proved)."""
    if spec == "lemmas":
        path, prop = PROOFS / "lemmas.yaml", "exit_matches_init"
    else:
        path, prop = tmp_path / "needs.yaml", "b_after_a"
        path.write_text(NEEDS_THE_PROPERTY)
    system = system_of(path)
    sy = Symbolic(system)
    sy.houdini()
    lemmas = compiled_lemmas(system, sy)
    alone = check_lemmas(sy, lemmas)
    passed = all(c.status == "passed" for c in alone)
    assert passed == (spec == "lemmas")
    if passed:
        assert len(alone) == 2 * len(lemmas)
    else:
        assert alone[-1] == Check("consecution", "copied", CheckStatus.FAILED)
    shared, asked = check_induction(sy, prop, lemmas, lemmas=alone), check_induction(sy, prop, lemmas)
    assert shared.inductive and shared.checks == asked.checks and shared.cti is None
    # answers about other conjuncts are not taken: everything is asked
    assert check_induction(sy, prop, lemmas[:1], lemmas=alone) == check_induction(sy, prop, lemmas[:1])
    code, out = run(str(path), prop, "--lemmas-only")
    assert code == 0 and "PROVED by the lemmas" in out and f"consecution            passed ({len(lemmas) + 1} queries)" in out


def test_lemmas_never_change_verify() -> None:
    out = CliRunner().invoke(main, ["verify", "-q", "--no-timing", str(PROOFS / "first_lemma.yaml")])
    assert out.exit_code == 0


@pytest.mark.parametrize("lemma, code, message", [
    ('at(wurker, "x.yaml:3")', "NC306", "no thread instance 'wurker'"),
    ("at(registrar, 3)", "NC307", "a place is a quoted"),
    ("held_by(inited, registrar)", "NC303", "held_by() takes a lock first"),
    ("{a: 1}", "NC125", "a lemma is a condition"),
])
def test_bad_lemmas_give_located_errors(tmp_path: Path, lemma: str, code: str, message: str) -> None:
    spec = CORRECT.read_text() + f"\nlemmas:\n  bad: {lemma if lemma.startswith('{') else repr(lemma)}\n"
    path = tmp_path / "bad.yaml"
    path.write_text(spec)
    with pytest.raises(SpecError) as err:
        load_spec(path)
    text = str(err.value)
    assert code in text and message in text and f"{path}:" in text
    exit_code, _ = run(str(path))
    assert exit_code == 2


def test_a_place_that_is_no_statement_is_nc125(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(CORRECT.read_text() + "\nlemmas:\n  bad: 'at(registrar, \"bad.yaml:2\")'\n")
    code, out = run(str(path))
    assert code == 2


def test_at_is_only_for_lemmas(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(CORRECT.read_text() + "  p:\n    invariant: 'at(registrar, \"finished\")'\n")
    with pytest.raises(SpecError, match="only be used in lemmas"):
        load_spec(path)


def test_usage_errors() -> None:
    assert run(str(CORRECT), "no_such")[0] == 2
    assert run(str(CORRECT), "lock_order")[0] == 2
    assert run(str(ROOT / "no_such_spec.yaml"))[0] == 2


def test_engine_runs_pdr_or_k_induction_alone() -> None:
    """--engine kind: Houdini's invariant, and no word of PDR; --engine pdr: PDR's proof, or unknown with
    k-induction not tried (exclusive_accept: Spacer needs far more than a second)."""
    accept = str(ROOT / "docs" / "examples" / "exclusive_accept.yaml")
    code, out = run(accept, "all_accepted", "--engine", "kind")
    assert code == 0 and "PROVED by Houdini" in out and "PDR" not in out
    code, out = run(str(CORRECT), "exit_matches_init", "--engine", "pdr")
    assert code == 0 and "PROVED by PDR" in out
    code, out = run(accept, "all_accepted", "--engine", "pdr", "--time-per-property", "1")
    assert code == 3 and "k-induction: not tried (--engine pdr)" in out and "Houdini" not in out
    assert run(accept, "--engine", "bmc")[0] == 2


def test_json() -> None:
    code, out = run(str(PROOFS / "first_lemma.yaml"), "exit_matches_init", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["exit_code"] == 0
    prop = data["properties"][0]
    assert prop["status"] == "proved" and prop["invariant"] and prop["lemmas"]["inductive"] is False
    assert prop["lemmas"]["cti"]["fails"] == "registered_inited"
    assert {c["check"] for c in prop["checks"]} == {"initiation", "consecution", "implies the property"}
    assert prop["with_properties"] == []
    code, out = run(str(BUG), "--format", "json")
    data = json.loads(out)
    assert code == 1 and any(p["status"] == "violated" and p["violation"]["trace"] for p in data["properties"])


def test_other_properties_in_an_invariant_are_shown_by_name() -> None:
    """A Houdini invariant that needs other properties lists them by name after its conjuncts, counted with
    them, in text and JSON (test_proof.py: which ones, and that they check)."""
    checks = (Check("initiation", "x == 1", CheckStatus.PASSED), Check("consecution", "property q", CheckStatus.PASSED))
    proof = PropertyProof("p", ProofStatus.PROVED, "houdini", ("x == 1",), checks, with_properties=("q", "r"))
    text = "\n".join(property_text(proof))
    assert "Inductive invariant (3 conjuncts, with the property):\n    x == 1\n" in text
    assert "    and these other properties, as the spec states them" in text and text.count("\n    q\n    r") == 1
    one = "\n".join(property_text(PropertyProof("p", ProofStatus.PROVED, "houdini", (), checks, with_properties=("q",))))
    assert "(1 conjunct, with the property)" in one and "and this other property, as the spec states it" in one
    obj = prove_object(ProveReport("s.yaml", (), (), (proof,)))
    assert obj["properties"][0]["with_properties"] == ["q", "r"]


def test_a_cti_on_an_rwsem_spec_is_told(tmp_path: Path) -> None:
    """net_sem.yaml with one weak lemma: the CTI is shown (an ill-formed read count once sent the decoding of
    net_sem's row in its lock table into an endless loop that ate the machine's memory; the rwsem facts now
    keep such counts out of CTIs, and the row of one is still told)."""
    path = tmp_path / "weak.yaml"
    path.write_text(f"netcheck: 1\nextends: {ROOT / 'specs' / 'net_sem.yaml'}\nname: weak\nlemmas:\n"
                    "  pairing: 'all(exits[n, p] <= inits[n, p] and inits[n, p] <= 1 for n in net for p in ops)'\n")
    code, out = run(str(path), "init_exit_pairing", "--lemmas-only", "--bound", "net=1")
    assert code == 3 and "Counterexample to induction" in out and "consecution            failed: pairing" in out
    assert "    state 1:\n" in out and "    state 2:\n" in out, out
    system = TransitionSystem(load_spec(path, {"net": 1}))
    writer = next(i for i, slot in enumerate(system.layout.slots) if slot.name == "net_sem.writer")
    ill_formed = list(system.initial_states[0])
    ill_formed[writer], ill_formed[writer + 1] = 0, -26   # held for write, and a negative read count
    assert dict(state_view(system, tuple(ill_formed)).locks)["net_sem"] == "held for write by creator[net0]"
    assert reader_tids(-26) == [] and reader_tids(0b100001) == [0, 2]


def test_output_is_deterministic() -> None:
    """Same spec, same bytes, across processes (z3 seeded; conjuncts sorted)."""
    cmd = [sys.executable, "-m", "netcheck.checker.cli", "prove", str(CORRECT)]
    first, second = (subprocess.run(cmd, capture_output=True, text=True, check=False) for _ in range(2))
    assert first.returncode == 0 and first.stdout == second.stdout


@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason="slow: set NETCHECK_SLOW=1 (make test-slow)")
def test_a_property_is_proved_the_same_alone_or_after_another() -> None:
    """exclusive_accept.yaml's runtime_safety: PDR runs out of time (where Spacer had got to varies), then
    Houdini proves it. Each property, and each engine, runs in a child forked from the same state
    (report/forked.py), so the proof printed is the same alone, again, or after lock_discipline's (in one
    process, the z3 terms left by the search before changed it)."""
    spec = str(ROOT / "docs" / "examples" / "exclusive_accept.yaml")
    alone, again = (run(spec, "runtime_safety", "--format", "json") for _ in range(2))
    after = run(spec, "lock_discipline", "runtime_safety", "--format", "json")
    assert alone[0] == 0 and alone == again and after[0] == 0
    first = json.loads(alone[1])["properties"][0]
    assert first["status"] == "proved" and first["invariant"]
    assert json.loads(after[1])["properties"][1] == first


PRODUCER = ROOT / "docs" / "examples" / "producer_consumer.yaml"


def with_lemmas(tmp_path: Path, lemmas: dict[str, str]) -> Path:
    path = tmp_path / "pc.yaml"
    path.write_text(PRODUCER.read_text() + "lemmas:\n" + "".join(f"  {k}: {v!r}\n" for k, v in lemmas.items()))
    return path


def test_local_names_a_threads_local_variable_in_lemmas(tmp_path: Path) -> None:
    """local(THREAD, NAME): a producer's parameter is its own element while it runs (inductive); the
    worker's `x` is the queue's first item before it is taken off (true initially); a producer's parameter
    said to be another element is false initially; once the producer has finished, its parameter reads
    null."""
    lines = PRODUCER.read_text().splitlines()
    taken = next(n for n, line in enumerate(lines, 1) if "list_del(queue, x)" in line)
    path = with_lemmas(tmp_path, {
        "own_item": 'at(producer[item0], "finished") or local(producer[item0], i) == item0',
        "first_taken": f'not at(worker, "pc.yaml:{taken}") or index(queue, local(worker, x)) == 0',
        "wrong": 'at(producer[item1], "finished") or local(producer[item1], i) == item0',
        "outside": 'not at(producer[item0], "finished") or local(producer[item0], i) == null',
    })
    system = TransitionSystem(load_spec(path))
    sy = Symbolic(system)
    sy.houdini()
    terms = {lm.name: compile_condition(sy.u.rel.pre, lm.expr) for lm in system.spec.lemmas}
    own = check_induction(sy, "lock_discipline", [("own_item", terms["own_item"])])
    assert {(c.kind, c.status) for c in own.checks if c.conjunct == "own_item"} == {("initiation", "passed"),
                                                                                      ("consecution", "passed")}
    first = check_induction(sy, "lock_discipline", [("first_taken", terms["first_taken"])])
    assert [c.status for c in first.checks if c.conjunct == "first_taken" and c.kind == "initiation"] == ["passed"]
    outside = check_induction(sy, "lock_discipline", [("outside", terms["outside"])])   # unused: null
    assert all(c.status == "passed" for c in outside.checks if c.conjunct == "outside")
    wrong = check_induction(sy, "lock_discipline", [("wrong", terms["wrong"])])
    assert [c.status for c in wrong.checks if c.conjunct == "wrong" and c.kind == "initiation"] == ["failed"]


@pytest.mark.parametrize("lemma, code, message", [
    ("local(worker, nosuch)", "NC306", "no procedure has a local 'nosuch'"),
    ("local(worker)", "NC307", "local() takes a thread and a local variable's name"),
    ("local(wurker, x) == null", "NC306", "no thread instance 'wurker'"),
    ("local(producer[item0], x) == null", "NC125", "runs no procedure with a local 'x'"),
])
def test_bad_local_gives_a_located_error(tmp_path: Path, lemma: str, code: str, message: str) -> None:
    path = with_lemmas(tmp_path, {"bad": lemma})
    with pytest.raises(SpecError) as err:
        system = TransitionSystem(load_spec(path))
        compiled_lemmas(system, Symbolic(system))
    text = str(err.value)
    assert code in text and message in text and f"{path}:" in text
    assert run(str(path), "--lemmas-only")[0] == 2


def test_local_is_only_for_lemmas(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(PRODUCER.read_text().replace('"all(x in produced for x in consumed)"',
                                                 '"local(worker, x) == null"'))
    with pytest.raises(SpecError, match="unknown function 'local'"):
        load_spec(path)


def test_the_writer_names_list_items_set_members_and_locals() -> None:
    """Each slot formula PDR may return is written in spec syntax, and what the text compiles to is the
    same formula on every well-formed state (where the local is in use, for a local)."""
    system = TransitionSystem(load_spec(PRODUCER))
    sy = Symbolic(system)
    sy.houdini()
    slots = {sl.name: i for i, sl in enumerate(system.layout.slots)}
    base = sy.u.base
    queue, consumed, x = base[slots["queue"]], base[slots["consumed"]], base[slots["worker.local0"]]
    lines = PRODUCER.read_text().splitlines()
    taken = next(n for n, line in enumerate(lines, 1) if "list_del(queue, x)" in line)
    at_taken = compile_condition(sy.u.rel.pre, parse_back(system, f'at(worker, "producer_consumer.yaml:{taken}")'))
    cases = [
        (smtlist.length(queue) <= 1, "len(queue) <= 1", None),
        (smtlist.item(queue, 0) == 1, "index(queue, item1) == 0", None),
        (smtlist.item(queue, 1) == -1, "len(queue) <= 1", None),
        (z3.Extract(0, 0, consumed) == 1, "item0 in consumed", None),
        (consumed == 3, "consumed == {item0, item1}", None),
        (consumed == 0, "empty(consumed)", None),
        (z3.Implies(at_taken, x == 1), "local(worker, x) == item1", at_taken),
    ]
    writer = Writer(system, base)
    for formula, expected, where in cases:
        text = writer.write(formula if where is None else x == 1)
        assert expected in text, (text, expected)
        back = compile_condition(sy.u.rel.pre, parse_back(system, text))
        solver = z3.Solver()
        solver.add(sy.well_formed(base), *([where] if where is not None else []),
                   back != (formula if where is None else x == 1))
        assert solver.check() == z3.unsat, text


def test_a_conjunct_whose_text_says_less_is_shown_in_z3s_notation() -> None:
    """Facts over different local slots of one thread can read the same in spec syntax (the local in use,
    a pooled slot another local of the thread uses elsewhere): split_invariant keeps every one, and the
    text means the same as exactly one of them on the well-formed states, so prove shows the others in
    z3's notation rather than lose them."""
    path = ROOT / "docs" / "examples" / "pernet_callbacks.yaml"
    system = TransitionSystem(load_spec(path))
    sy = Symbolic(system)
    sy.houdini()
    thread = system.threads[0]
    writer, base = Writer(system, sy.u.base), sy.u.base
    by_text: dict[str, list[z3.BoolRef]] = {}
    for pc, step in enumerate(thread.steps):
        if step is None:
            continue
        for j in thread.local_slots:
            if base[j].sort() != z3.IntSort():
                continue
            fact = z3.Implies(base[thread.pcslot] == pc, base[j] == 0)
            try:
                by_text.setdefault(writer.write(fact), []).append(fact)
            except Unwritable:
                continue
    text, facts = next((t, fs) for t, fs in sorted(by_text.items()) if len(fs) > 1)
    written, unwritten = split_invariant(system, base, z3.And(*facts))
    assert [t for t, _ in written] == [text] * len(facts) and not unwritten
    term = compile_condition(sy.u.rel.pre, parse_back(system, text))
    same = _Equivalence(sy)
    assert sum(same(fact, term) for fact in facts) == 1
    assert engine_text(facts[0]).startswith("Implies(") and "s0:" not in engine_text(facts[0])


def test_a_state_shows_the_locals_in_use() -> None:
    """A CTI's states show each thread's locals where its procedure runs: the worker's `x` after it took an
    item, in text and JSON; none for a finished thread."""
    system = TransitionSystem(load_spec(PRODUCER))
    states = explore(system, Limits()).store.states
    worker = next(t for t in system.threads if t.name == "worker")
    lines = PRODUCER.read_text().splitlines()
    taken = next(n for n, line in enumerate(lines, 1) if "list_del(queue, x)" in line)
    state = next(s for s in states if state_view(system, s).positions[worker.tid][1] ==
                 f"producer_consumer.yaml:{taken}")
    view = state_view(system, state)
    x = dict(view.locals[worker.tid])["x"]
    assert x in ("item0", "item1")
    assert f"[x = {x}]" in "\n".join(state_lines(view, ""))
    finished = next(s for s in states if all(p == "finished" for _, p, _ in state_view(system, s).positions[:2]))
    assert state_view(system, finished).locals[0] == ()


def test_a_thread_family_is_named_through_a_quantified_variable(tmp_path: Path) -> None:
    """`producer[i]` with i bound by all(): each element's own instance, the same conditions as the lemmas
    written once per instance; held_by() and at() of a family with no instance for an element are false
    there, local() of one is refused."""
    path = with_lemmas(tmp_path, {
        "each": 'all(at(producer[i], "finished") or local(producer[i], i) == i for i in item)',
        "one_by_one": ('(at(producer[item0], "finished") or local(producer[item0], i) == item0) and '
                       '(at(producer[item1], "finished") or local(producer[item1], i) == item1)'),
        "swapped": 'all(at(producer[i], "finished") or local(producer[i], i) != i for i in item)',
    })
    system = TransitionSystem(load_spec(path))
    sy = Symbolic(system)
    sy.houdini()
    terms = dict(compiled_lemmas(system, sy))
    solver = z3.Solver()
    assert solver.check(terms["each"] != terms["one_by_one"]) == z3.unsat   # the same condition
    each = check_induction(sy, "lock_discipline", [("each", terms["each"])])
    assert all(c.status == "passed" for c in each.checks if c.conjunct == "each")
    swapped = check_induction(sy, "lock_discipline", [("swapped", terms["swapped"])])
    assert [c.status for c in swapped.checks if c.conjunct == "swapped" and c.kind == "initiation"] == ["failed"]
    bad = with_lemmas(tmp_path, {"bad": "all(local(worker[i], x) == null for i in item)"})
    with pytest.raises(SpecError, match="no thread instance 'worker\\[...\\]'"):
        load_spec(bad)


NESTED = """netcheck: 1
name: nested
entities: {item: 2}
locks: {m: mutex}
state: {seen: {type: set<item>}}
procedures:
  mark(item i):
    - mutex_lock: m
    - seen = seen | {i}
    - mutex_unlock: m
  outer(item i):
    - call: mark(i)
threads:
  t: {for: i in item, run: outer(i)}
properties:
  small:
    invariant: "len(seen) <= 2"
"""


def test_a_named_frame_local_and_parameter_facts(tmp_path: Path) -> None:
    """local(THREAD, PROC.NAME) reads that procedure's frame where an inner one hides the name; the proof
    engines' well-formedness facts say a parameter equals what its caller passed while the call runs, so a
    lemma about the outer frame's `i` while the thread stands inside mark() is inductive; a state shows the
    hidden local as PROC.NAME."""
    path = tmp_path / "nested.yaml"
    line = next(n for n, text in enumerate(NESTED.splitlines(), 1) if "seen = seen" in text)
    lemma = (f'all(not at(t[e], "nested.yaml:{line}") or (local(t[e], outer.i) == e and local(t[e], i) == e)'
             ' for e in item)')
    path.write_text(NESTED + f"lemmas:\n  where: '{lemma}'\n")
    system = TransitionSystem(load_spec(path))
    sy = Symbolic(system)
    sy.houdini()
    assert any("inside its call" in c.text for c in sy.well_formed_facts)
    assert check_induction(sy, "small", compiled_lemmas(system, sy)).inductive
    pc = thread_places(system.threads)["t[item0]"].pcs(f"nested.yaml:{line}")[0]
    inside = next(s for s in explore(system, Limits(), measure_memory=False).store.states
                  if s[system.threads[0].pcslot] == pc)
    shown = dict(state_view(system, inside).locals[0])
    assert shown.get("outer.i") == "item0" and shown.get("i") == "item0"


FED = ROOT / "tests" / "fixtures" / "proof" / "fed_daemon.yaml"


def test_deadlock_freedom_is_proved_when_named() -> None:
    """prove deadlock_free: the state-local form (no global deadlock, no wait cycle), which is all of it
    here, since the daemon turns only when a submitter feeds it; not among the properties proved by
    default."""
    code, out = run(str(FED), "deadlock_free")
    assert code == 0 and "deadlock_free: PROVED" in out and "every run is finite" in out
    system = system_of(FED)
    assert "deadlock_free" not in provable(system)


def test_deadlock_freedom_stays_unknown_where_a_run_may_not_end(tmp_path: Path) -> None:
    """The daemon takes one item per turn: its turns are not shown to need a submitter's step, so whatever
    proves the form (the invariant PDR finds depends on what z3 ran before in the process), deadlock
    freedom stays unknown (exit 3)."""
    path = tmp_path / "one.yaml"
    path.write_text(FED.read_text().replace("      - batch, queue = queue, []\n",
                                            "      - batch = [first(queue)]\n      - list_del(queue, first(queue))\n"))
    system = system_of(path)
    sy = Symbolic(system)
    sy.houdini()
    assert "worker may run forever" in sy.deadlock_partial({"deadlock_free"})
    code, out = run(str(path), "deadlock_free")
    assert code == 3 and "deadlock_free: UNKNOWN" in out


NET_MUTEX_LEMMAS = ROOT / "specs" / "proofs" / "net_mutex_lemmas.yaml"


def test_the_net_mutex_lemmas_prove_the_headline_properties() -> None:
    """specs/proofs/net_mutex_lemmas.yaml (docs/results.md: at net=5): with one namespace, the lemmas
    prove init_exit_pairing, exit_matches_init and deadlock freedom with no search."""
    code, out = run(str(NET_MUTEX_LEMMAS), "init_exit_pairing", "exit_matches_init", "deadlock_free",
                    "--lemmas-only", "--bound", "net=1")
    assert code == 0, out
    assert out.count("PROVED by the lemmas") == 3 and "every run is finite" in out


def test_the_net_sem_lemmas_prove_the_headline_properties() -> None:
    """specs/proofs/net_sem_lemmas.yaml, the seed patch's protocol (docs/proofs.md: to net=3): with one
    namespace, the lemmas prove init_exit_pairing, exit_matches_init and deadlock freedom with no search,
    rwsem semantics included (its read side, its queue, who it is handed to)."""
    code, out = run(str(ROOT / "specs" / "proofs" / "net_sem_lemmas.yaml"), "init_exit_pairing",
                    "exit_matches_init", "deadlock_free", "--lemmas-only", "--bound", "net=1")
    assert code == 0, out
    assert out.count("PROVED by the lemmas") == 3 and "every run is finite" in out


def test_the_pernet_ops_rwsem_lemmas_prove_the_headline_properties() -> None:
    """specs/proofs/pernet_ops_rwsem_lemmas.yaml, the end of the upstream series (no net_mutex: setups and
    cleanups in parallel inside pernet_ops_rwsem's read side, net_rwsem for the namespace list; docs/proofs.md
    to net=2): with one namespace, the lemmas prove init_exit_pairing, exit_matches_init and deadlock
    freedom with no search."""
    code, out = run(str(ROOT / "specs" / "proofs" / "pernet_ops_rwsem_lemmas.yaml"), "init_exit_pairing",
                    "exit_matches_init", "deadlock_free", "--lemmas-only", "--bound", "net=1")
    assert code == 0, out
    assert out.count("PROVED by the lemmas") == 3 and "every run is finite" in out


def test_a_state_naming_no_thread_is_still_told() -> None:
    """A counterexample to induction is any state the facts allow: an rwsem queue entry or a lock owner of
    no thread (a well-formedness fact Houdini dropped) is shown as such, never a crash."""
    system = system_of(ROOT / "specs" / "net_sem.yaml")
    state = list(system.initial_states[0])
    writer = next(i for i, slot in enumerate(system.layout.slots) if slot.name == "net_sem.writer")
    state[writer], state[writer + 2] = 41, (2 * 57 + 1,)
    rows = dict(state_view(system, tuple(state)).locks)
    assert "no thread (#41)" in rows["net_sem"] and "no thread (#57)" in rows["net_sem"]


FAIR_READER = ROOT / "docs" / "examples" / "fair_rwsem_reader.yaml"


def test_rwsem_read_holds_and_queue_places_in_lemmas(tmp_path: Path) -> None:
    """read_held_by(RWSEM, THREAD) and queued(RWSEM, THREAD): true lemmas hold on every reachable state, a
    false one fails on one; on a mutex they are refused with a located error."""
    lines = FAIR_READER.read_text().splitlines()
    read_at = next(n for n, line in enumerate(lines, 1) if "done = true" in line)
    wait_at = next(n for n, line in enumerate(lines, 1) if "down_read: s" in line)
    path = tmp_path / "frr.yaml"
    path.write_text(FAIR_READER.read_text() + "lemmas:\n" + "".join(f"  {k}: {v!r}\n" for k, v in {
        "reading": f'not at(reader, "frr.yaml:{read_at}") or read_held_by(s, reader)',
        "waiting": f'not at(reader, "frr.yaml:{wait_at}#2") or queued(s, reader) or read_held_by(s, reader)',
        "never_queued": "not queued(s, reader)",
    }.items()))
    system = TransitionSystem(load_spec(path))
    sy = Symbolic(system)
    terms = dict(compiled_lemmas(system, sy))
    pre = sy.u.rel.pre
    states = explore(system, Limits(), measure_memory=False).store.states

    def holds(term: z3.BoolRef, state: tuple) -> bool:
        pairs = [(pre.slot(i), pre.value(i, v) if v is not None else pre.unused(i)) for i, v in enumerate(state)]
        return z3.is_true(z3.simplify(z3.substitute(term, *pairs)))
    assert all(holds(terms["reading"], s) and holds(terms["waiting"], s) for s in states)
    assert not all(holds(terms["never_queued"], s) for s in states)
    bad = tmp_path / "bad.yaml"
    bad.write_text((PROOFS / "lemmas.yaml").read_text() + "  bad: 'read_held_by(pernet_ops_mutex, cleanup)'\n")
    with pytest.raises(SpecError, match="read_held_by\\(\\) takes an rwsem"):
        load_spec(bad)
