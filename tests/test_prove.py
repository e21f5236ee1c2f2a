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
from click.testing import CliRunner
from netcheck.checker.analyses.proof import compile_condition, parse_back
from netcheck.checker.cli import main
from netcheck.checker.engine.explore import explore
from netcheck.checker.engine.lemmas import check_induction
from netcheck.checker.engine.limits import Limits
from netcheck.checker.engine.symbolic import Symbolic
from netcheck.checker.report.proof import ProveOptions, provable, prove
from netcheck.model.lang.errors import SpecError
from netcheck.model.lang.parse import load_spec
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
    for p in report.properties:
        assert p.status == "proved" and p.engine == "pdr" and p.invariant
        assert all(c.status == "passed" for c in p.checks)
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
    assert run(str(CORRECT), "deadlock_free")[0] == 2
    assert run(str(ROOT / "no_such_spec.yaml"))[0] == 2


def test_json() -> None:
    code, out = run(str(PROOFS / "first_lemma.yaml"), "exit_matches_init", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["exit_code"] == 0
    prop = data["properties"][0]
    assert prop["status"] == "proved" and prop["invariant"] and prop["lemmas"]["inductive"] is False
    assert prop["lemmas"]["cti"]["fails"] == "registered_inited"
    assert {c["check"] for c in prop["checks"]} == {"initiation", "consecution", "implies the property"}
    code, out = run(str(BUG), "--format", "json")
    data = json.loads(out)
    assert code == 1 and any(p["status"] == "violated" and p["violation"]["trace"] for p in data["properties"])


def test_output_is_deterministic() -> None:
    """Same spec, same bytes, across processes (z3 seeded; conjuncts sorted)."""
    cmd = [sys.executable, "-m", "netcheck.checker.cli", "prove", str(CORRECT)]
    first, second = (subprocess.run(cmd, capture_output=True, text=True, check=False) for _ in range(2))
    assert first.returncode == 0 and first.stdout == second.stdout
