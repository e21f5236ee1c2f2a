"""Counterexamples fit the terminal: `verify --width N` (on a terminal, its width) narrows the CPU
columns and wraps their cells; when even the narrowest columns do not fit, the steps are listed in
order instead. Without a width (output not on a terminal) the layout is the fixed one the goldens pin."""

from __future__ import annotations

from pathlib import Path

import netcheck
import pytest
from click.testing import CliRunner
from netcheck.checker.cli import main
from netcheck.checker.cli.run import ExplorationCache
from netcheck.checker.render.text import COLUMN, MIN_COLUMN, cpu_table

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "bugs" / "register_takes_read.yaml"   # traces of 2 and 3 threads


@pytest.fixture(scope="module")
def traces() -> list:
    report = netcheck.verify(SPEC)
    found = [p.trace for p in report.properties if p.trace is not None and p.trace.steps]
    assert {len(t.threads) for t in found} >= {2, 3}
    return found


@pytest.mark.parametrize("width", [60, 72, 80, 100, 132])
def test_cpu_columns_fit_the_width_or_give_way_to_a_list(traces: list, width: int) -> None:
    for trace in traces:
        table = cpu_table(trace, width)
        narrowest = 2 + (MIN_COLUMN + 3) * len(trace.threads) - 3
        if table is None:
            assert narrowest > width   # only when even the narrowest columns do not fit
            continue
        assert max(len(line) for line in table) <= width
        unfitted = cpu_table(trace)
        assert unfitted is not None
        if max(len(line) for line in unfitted) <= width:
            assert table == unfitted   # what already fits is left as it is


def test_without_a_width_the_layout_is_the_fixed_one(traces: list) -> None:
    widest = max(len(line) for trace in traces for line in cpu_table(trace) or [])
    assert widest > 80 and widest <= 2 + (COLUMN + 3) * max(len(t.threads) for t in traces)


def test_verify_width_on_the_command_line() -> None:
    explored = ExplorationCache()   # the width changes the rendering only: one exploration for the three runs
    narrow = CliRunner().invoke(main, ["verify", "--width", "60", str(SPEC)], obj=explored)
    assert "3 threads do not fit in 60 columns side by side: the steps in order" in narrow.output
    assert "   1. CPU0" in narrow.output
    wide = CliRunner().invoke(main, ["verify", "--width", "100", str(SPEC)], obj=explored)
    plain = CliRunner().invoke(main, ["verify", str(SPEC)], obj=explored)
    assert narrow.exit_code == wide.exit_code == plain.exit_code == 0
    trace_lines = [line for line in wide.output.splitlines() if line.startswith("  CPU")]
    assert trace_lines and all(len(line) <= 100 for line in trace_lines)
    assert "do not fit" not in wide.output and wide.output != plain.output
    assert CliRunner().invoke(main, ["verify", "--width", "20", str(SPEC)]).exit_code == 2
