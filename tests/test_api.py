"""The Python API (`import netcheck`, docs/python-api.md): load and verify give what the command gives,
bad input raises the documented exceptions, and importing it loads none of the checker."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import netcheck
import pytest
from click.testing import CliRunner
from helpers import EXAMPLES, ROOT
from netcheck.checker.cli import main
from netcheck.checker.report.build import SpecReport
from netcheck.model.lang.spec import Spec

ABBA = EXAMPLES / "bugs" / "abba.yaml"
QUEUE = EXAMPLES / "producer_consumer.yaml"
DOC = ROOT / "docs" / "python-api.md"


def cli_json(*args: str) -> dict:
    result = CliRunner().invoke(main, ["verify", "--format", "json", "--no-timing", *args])
    return {"exit": result.exit_code, **json.loads(result.output)}


def verdicts(report: SpecReport) -> list[tuple[str, str]]:
    return [(p.name, p.status.value) for p in report.properties]


def test_load_returns_the_spec_with_its_bounds() -> None:
    spec = netcheck.load(QUEUE, bounds={"item": 1})
    assert isinstance(spec, Spec) and spec.name == "producer_consumer" and spec.bounds == (("item", 1),)
    assert netcheck.load(str(QUEUE)).bounds == (("item", 2),)


@pytest.mark.parametrize("path,args", [(QUEUE, ()), (ABBA, ()), (ABBA, ("--explore-all",)),
                                       (ABBA, ("--ignore-expect",))])
def test_verify_gives_what_the_command_gives(path: Path, args: tuple[str, ...]) -> None:
    report = netcheck.verify(path, explore_all="--explore-all" in args, use_expect="--ignore-expect" not in args)
    shown = cli_json(*args, str(path))
    assert isinstance(report, SpecReport) and report.exit_code == shown["exit"] == shown["exit_code"]
    assert verdicts(report) == [(p["name"], p["status"]) for p in shown["properties"]]
    assert (report.complete, report.stats.states) == (shown["complete"], shown["stats"]["states"])


def test_verify_of_a_loaded_spec_is_verify_of_its_path() -> None:
    by_path = netcheck.verify(QUEUE, {"item": 1})
    loaded = netcheck.verify(netcheck.load(QUEUE, {"item": 1}))
    assert verdicts(loaded) == verdicts(by_path) and loaded.stats.states == by_path.stats.states
    assert by_path.stats.states < netcheck.verify(QUEUE).stats.states   # the bound was applied


def test_verify_stops_early_unless_told_to_explore_all() -> None:
    early, full = netcheck.verify(ABBA), netcheck.verify(ABBA, explore_all=True)
    assert early.exit_code == full.exit_code == 0 and not early.complete and full.complete
    assert dict(verdicts(early))["lock_discipline"] == "unknown" and dict(verdicts(full))["lock_discipline"] == "holds"


def test_limits_cut_a_run_short() -> None:
    report = netcheck.verify(QUEUE, max_states=5)
    assert not report.complete and report.exit_code == 3 and "max states 5" in report.stop_reason


def test_render_is_the_command_output() -> None:
    report = netcheck.verify(QUEUE)
    assert json.loads(netcheck.render(report, "json"))["properties"] == cli_json(str(QUEUE))["properties"]
    assert netcheck.render(report).rstrip().endswith("(exit 0)")
    with pytest.raises(ValueError, match="format must be one of json, junit, sarif, text"):
        netcheck.render(report, "html")


def test_an_invalid_spec_raises_spec_error_at_file_line_col(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("netcheck: 1\nlocks: {a: semaphore}\nthreads: {}\n", encoding="utf-8")
    for call in (netcheck.load, netcheck.verify):
        with pytest.raises(netcheck.SpecError) as err:
            call(bad)
        first = err.value.diagnostics[0]
        assert isinstance(first, netcheck.Diagnostic) and (first.span.line, first.span.col, first.code) == (2, 12, "NC109")
        assert str(err.value).startswith(f"{bad}:2:12: error[NC109]: unknown lock kind 'semaphore'\n  hint: ")


@pytest.mark.parametrize("bounds,code", [({"nothing": 1}, "NC107"), ({"item": 99}, "NC106")])
def test_bad_bounds_are_spec_errors(bounds: dict[str, int], code: str) -> None:
    with pytest.raises(netcheck.SpecError) as err:
        netcheck.verify(QUEUE, bounds)
    assert [d.code for d in err.value.diagnostics] == [code]
    assert re.match(rf"{re.escape(str(QUEUE))}:\d+:\d+: error\[{code}\]", str(err.value))


def test_a_missing_file_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(netcheck.SpecError, match=r":1:1: error\[NC001\]: no such spec file"):
        netcheck.load(tmp_path / "absent.yaml")


@pytest.mark.parametrize("call,error,message", [
    (lambda: netcheck.load(42), TypeError, "a spec is a path"),  # type: ignore[arg-type]
    (lambda: netcheck.verify(QUEUE, {"item": "2"}), TypeError, "bounds is a mapping"),  # type: ignore[dict-item]
    (lambda: netcheck.verify(QUEUE, {"item": True}), TypeError, "bounds is a mapping"),
    (lambda: netcheck.verify(netcheck.load(QUEUE), {"item": 1}), TypeError, "bounds go with a path"),
    (lambda: netcheck.verify(QUEUE, max_states=0), ValueError, "max_states must be a positive whole number"),
    (lambda: netcheck.verify(QUEUE, max_depth=2.5), ValueError, "max_depth must be a positive whole number"),
    (lambda: netcheck.verify(QUEUE, timeout=-1), ValueError, "timeout must be a positive number"),
])
def test_bad_arguments_raise_type_or_value_errors(call, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call()


def test_importing_netcheck_loads_none_of_the_checker() -> None:
    code = "import sys, netcheck; print(' '.join(sorted(sys.modules)))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split())
    heavy = {"z3", "networkx", "yaml", "click", "importlib.metadata", "netcheck.model.lang.parse",
             "netcheck.checker.cli", "netcheck.checker.engine.explore", "netcheck.checker.report.build"}
    assert "netcheck" in loaded and sorted(heavy & loaded) == []


def test_the_public_names_are_the_documented_ones() -> None:
    stated = re.search(r"Public, and kept compatible across releases: (.*?) with the", DOC.read_text(encoding="utf-8"),
                       re.S)
    assert stated is not None
    documented = re.findall(r"`netcheck\.(\w+)`", stated.group(1))
    assert sorted(documented) == sorted([*netcheck.__all__, "__version__"])
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", netcheck.__version__)
