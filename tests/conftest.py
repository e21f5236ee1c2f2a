"""Shared fixtures: writing small specs to temporary files and running them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from netcheck.checker.engine.explore import explore
from netcheck.checker.engine.limits import Limits
from netcheck.checker.engine.result import ExplicitResult
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.system import TransitionSystem

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long-running tests (make test-slow)")


@pytest.fixture
def write_spec(tmp_path: Path):
    """write_spec(text, name='t.yaml') -> path of a spec file holding the dedented text."""

    def write(text: str, name: str = "t.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path
    return write


@pytest.fixture
def run_spec(write_spec):
    """run_spec(text, **limits) -> ExplicitResult of a spec given as text."""

    def run(text: str, bounds: dict[str, int] | None = None, **limits) -> ExplicitResult:
        path = write_spec(text)
        system = TransitionSystem(load_spec(path, bounds))
        return explore(system, Limits(**limits))
    return run
