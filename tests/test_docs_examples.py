"""The examples in docs/ are real: every correct one verifies, every bug is caught."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from helpers import ROOT
from netcheck.checker.cli import main

EXAMPLES = ROOT / "docs" / "examples"
GOOD = sorted(p.name for p in EXAMPLES.glob("*.yaml"))
BAD = sorted(p.name for p in (EXAMPLES / "bugs").glob("*.yaml"))


@pytest.mark.parametrize("name", GOOD)
def test_example_verifies(name: str) -> None:
    result = CliRunner().invoke(main, ["verify", "-q", str(EXAMPLES / name)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("name", BAD)
def test_bug_example_is_caught(name: str) -> None:
    """Each bug example says which properties catch it (expect:): exactly those are violated."""
    result = CliRunner().invoke(main, ["verify", "-q", str(EXAMPLES / "bugs" / name)])
    assert result.exit_code == 0 and "AS EXPECTED: violated: " in result.output, result.output
    plain = CliRunner().invoke(main, ["verify", "-q", "--ignore-expect", str(EXAMPLES / "bugs" / name)])
    assert plain.exit_code == 1 and ("VIOLATED: " in plain.output or "VACUOUS: " in plain.output), plain.output
