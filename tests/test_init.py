"""`netcheck init NAME`: a commented spec skeleton that loads, validates against the schema and verifies
clean as written, whose properties can fail, and that never overwrites a file."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from netcheck.checker.cli import main
from netcheck.checker.engine.vocabulary import EXIT_OK, EXIT_USAGE, EXIT_VIOLATED
from netcheck.model.lang.parse import load_spec
from netcheck.model.lang.schema import spec_schema


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_init_then_verify_exits_0(in_tmp: Path) -> None:
    code, out, _ = run("init", "my_lock")
    assert code == EXIT_OK and out == "wrote my_lock.yaml; check it with: netcheck verify my_lock.yaml\n"
    spec = load_spec(in_tmp / "my_lock.yaml")
    assert spec.name == "my_lock" and len(spec.locks) == 2 and len(spec.vars) == 2
    assert [t.name for t in spec.threads] == ["first", "second"]
    assert [p.kind for p in spec.properties] == ["invariant", "final", "reachable"]
    code, out, _ = run("verify", "--no-timing", "my_lock.yaml")
    assert code == EXIT_OK and "OK: all 6 properties hold" in out and "unreachable both_inside" in out


def test_the_skeleton_is_commented_and_fits_the_schema(in_tmp: Path) -> None:
    run("init", "commented.yml")
    text = (in_tmp / "commented.yml").read_text(encoding="utf-8")
    assert sum(1 for line in text.splitlines() if "#" in line) >= 10
    assert list(jsonschema.Draft202012Validator(spec_schema()).iter_errors(yaml.safe_load(text))) == []


def test_the_skeleton_properties_can_fail(in_tmp: Path) -> None:
    """Without its locks the skeleton loses an update and lets both threads in: its checks are real."""
    run("init", "unlocked")
    path = in_tmp / "unlocked.yaml"
    path.write_text("".join(line for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
                            if "- mutex_" not in line), encoding="utf-8")
    code, out, _ = run("verify", "--no-timing", "--explore-all", str(path))
    assert code == EXIT_VIOLATED
    assert "VIOLATED    one_writer" in out and "VIOLATED    both_counted" in out and "REACHABLE   both_inside" in out


def test_init_never_overwrites(in_tmp: Path) -> None:
    (in_tmp / "taken.yaml").write_text("mine\n", encoding="utf-8")
    code, out, err = run("init", "taken")
    assert code == EXIT_USAGE and out == ""
    assert err == "netcheck: error: taken.yaml already exists\n  hint: choose another NAME, or remove the file first\n"
    assert (in_tmp / "taken.yaml").read_text(encoding="utf-8") == "mine\n"


def test_init_into_a_missing_folder_is_a_usage_error(in_tmp: Path) -> None:
    code, _, err = run("init", "no/such/dir/spec")
    assert code == EXIT_USAGE and err.startswith("netcheck: error: cannot write no/such/dir/spec.yaml: ")
    assert "Traceback" not in err and not (in_tmp / "no").exists()
