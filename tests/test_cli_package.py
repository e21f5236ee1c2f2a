"""The CLI package's contracts: one error boundary under every command, options declared once, commands
that never import the package, an exploration cache handed in as click's context object, and the shared
vocabulary (property kinds, statuses, exit-code precedence)."""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.machinery
import json
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner
from helpers import ABBA, ROOT, SPECS
from netcheck import _compiled as compiled
from netcheck.checker.analyses import graph_export, state_graph
from netcheck.checker.analyses import mutate as mutate_mod
from netcheck.checker.cli import main, options
from netcheck.checker.cli import run as run_mod
from netcheck.checker.cli.run import ExplorationCache, verify_one
from netcheck.checker.engine.limits import Limits
from netcheck.checker.engine.store import NATIVE_STORE
from netcheck.checker.engine.verdicts import InternalError
from netcheck.checker.engine.vocabulary import (
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_VIOLATED,
    PropertyKind,
    Status,
    worst_exit_code,
)
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.system import TransitionSystem

CLI = ROOT / "checker" / "cli"
EXPLORE = "netcheck.checker.engine.explore.explore"   # the commands import it when they run
BROKEN = "netcheck: 1\nname: broken\nthreads: {t: nosuch()}\n"


def invoke(*args: str, obj: object = None):
    return CliRunner().invoke(main, list(args), obj=obj)


# ---------------------------------------------------------------- the error boundary


def _boom(error: BaseException):
    def fail(*args: object, **kwargs: object):
        raise error
    return fail


@pytest.mark.parametrize("command", ["locks", "slow", "explain", "verify"])
def test_a_bug_in_any_command_is_an_internal_error(write_spec, monkeypatch, command: str) -> None:
    monkeypatch.delenv("NETCHECK_DEBUG", raising=False)
    monkeypatch.setattr(EXPLORE, _boom(RuntimeError("injected")))
    result = invoke(command, str(write_spec(ABBA)))
    assert result.exit_code == 4, result.output
    assert "netcheck: internal error: RuntimeError: injected (a bug in netcheck" in result.output
    assert "Traceback" not in result.output


def test_netcheck_debug_lets_the_traceback_through(write_spec, monkeypatch) -> None:
    monkeypatch.setenv("NETCHECK_DEBUG", "1")
    monkeypatch.setattr(EXPLORE, _boom(RuntimeError("injected")))
    result = invoke("locks", str(write_spec(ABBA)))
    assert isinstance(result.exception, RuntimeError) and result.exit_code not in (0, 4)


def test_internal_error_says_what_disagreed(write_spec, monkeypatch) -> None:
    monkeypatch.setattr(EXPLORE, _boom(InternalError("z3 says True")))
    result = invoke("locks", str(write_spec(ABBA)))
    assert result.exit_code == 4 and "netcheck: internal error: z3 says True\n" in result.output


def test_interrupt_exits_130(write_spec, monkeypatch) -> None:
    monkeypatch.setattr(EXPLORE, _boom(KeyboardInterrupt()))
    result = invoke("locks", str(write_spec(ABBA)))
    assert result.exit_code == 130 and "netcheck: interrupted" in result.output


def test_an_interrupted_run_says_exit_130_and_exits_130(write_spec, monkeypatch) -> None:
    """Ctrl-C during the search: the partial report's summary names the exit code the command exits with."""
    from netcheck.checker.engine import explore as explore_mod
    real = explore_mod.explore

    def interrupted(*args: object, **kwargs: object):
        result = real(*args, **kwargs)   # type: ignore[arg-type]
        result.complete, result.stop_reason = False, "interrupted"
        return result
    monkeypatch.setattr(EXPLORE, interrupted)
    result = invoke("verify", "-q", "--ignore-expect", str(write_spec(ABBA)))
    assert result.exit_code == 130 and "(exit 130)" in result.output and "(exit 3)" not in result.output, result.output
    assert "netcheck: interrupted; the result above is partial" in result.output


@pytest.mark.parametrize("command", ["locks", "slow", "mutate", "explain", "check", "verify", "hunt"])
def test_an_invalid_spec_exits_2_under_every_command(write_spec, command: str) -> None:
    result = invoke(command, str(write_spec(BROKEN)))
    assert result.exit_code == 2, result.output
    assert "nosuch" in result.output and "Traceback" not in result.output


# ---------------------------------------------------------------- check, options


def test_check_prints_no_timing_unless_asked(write_spec) -> None:
    path = str(write_spec(ABBA))
    plain = invoke("check", path)
    assert plain.exit_code == 0 and re.fullmatch(r".*: ok \(\d+ threads, \d+ state slots, \d+ properties\)\n",
                                                 plain.output)
    timed = invoke("check", "--timing", path)
    assert timed.exit_code == 0 and re.fullmatch(r".*: ok \(.*properties, \d+\.\d\d s\)\n", timed.output)


def test_shared_options_have_one_declaration() -> None:
    seen: dict[str, dict[str, tuple]] = {}
    for name, command in main.commands.items():
        for param in command.params:
            if param.name is None or (name, param.name) == ("mutate", "max_states"):   # a per-mutant cap
                continue
            described = (tuple(param.opts), getattr(param, "help", None), repr(param.type))
            seen.setdefault(param.name, {})[name] = described
    for option in ("bounds", "max_states", "max_depth", "timeout", "no_timing"):
        assert len(seen[option]) >= 2 and len(set(seen[option].values())) == 1, (option, seen[option])
    assert set(seen["fmt"]) == {"verify", "locks", "slow", "overtakes", "mutate", "diff", "conform", "skeleton",
                                "prove", "hunt"}


def test_commands_never_import_the_package() -> None:
    for path in sorted(CLI.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if path.name not in ("__init__.py", "__main__.py") and isinstance(node, ast.ImportFrom):
                imported = "." * node.level + (node.module or "")
                assert imported not in (".", "netcheck.checker.cli"), f"{path.name} imports the cli package"


HEAVY = ("z3", "networkx", "yaml", "importlib.metadata", "concurrent.futures.process", "netcheck.model.lang.parse",
         "netcheck.model.semantics.system", "netcheck.checker.engine.explore", "netcheck.checker.analyses.lockorder",
         "netcheck.checker.report.build", "netcheck.checker.render.text")


def test_start_up_leaves_the_checker_out() -> None:
    """Loading the command line (every command's --help, usage errors) imports neither z3 nor networkx nor
    the parser, engine, analyses or renderers: the commands import them when they run."""
    code = "import sys, netcheck.checker.cli; print(' '.join(sorted(sys.modules)))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split())
    assert "netcheck.checker.cli.verify" in loaded and sorted(set(HEAVY) & loaded) == []


def test_the_version_is_read_when_asked_for() -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and re.fullmatch(r"netcheck, version \S+\nstate store: (native|packed .*)\n"
                                                  r"engine: (\d+ compiled modules.*|plain Python .*)\n", result.output)
    assert ("state store: native" in result.output) is NATIVE_STORE
    used, stale = compiled.status()
    assert (f"engine: {used} compiled modules" in result.output) is bool(used)


def test_the_compiled_modules_are_the_ones_the_makefile_rebuilds_for() -> None:
    """setup.py compiles what the Makefile's install rule depends on, so that `make test` rebuilds them."""
    setup = ast.parse((ROOT / "setup.py").read_text())
    listed = next(node.value for node in setup.body if isinstance(node, ast.Assign) and node.targets[0].id == "COMPILED")
    sources = [ast.literal_eval(v) for v in listed.values]
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    assert re.search(r"^COMPILED := (.*)$", makefile, re.M).group(1).split() == sources


def _fake_compiled_package(root, monkeypatch):
    """A package `pkg` with a "compiled" module built from its source (fresh) and one whose source changed
    since (stale), each with a source that says where it came from."""
    package = root / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    for name in ("fresh", "stale"):
        (package / f"{name}.py").write_text(f"WHERE = 'source of {name}'\n")
        (package / f"{name}{suffix}").write_bytes(b"not a loadable module")
    (package / "_compiled.json").write_text(json.dumps({
        "fresh": hashlib.sha256((package / "fresh.py").read_bytes()).hexdigest(),
        "stale": hashlib.sha256(b"what the source was when it was built").hexdigest()}))
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.setattr(compiled, "_FINDER", compiled._SourceFirst())
    monkeypatch.setattr(compiled, "_COMPILED", {})
    for name in ("pkg", "pkg.stale", "pkg.fresh"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return package


def test_a_compiled_module_whose_source_changed_runs_from_its_source(tmp_path, monkeypatch) -> None:
    """A package whose compiled module is older than its source imports the source (an edited checkout not
    yet rebuilt); one built from the same source imports the compiled module."""
    package = _fake_compiled_package(tmp_path, monkeypatch)
    monkeypatch.delenv("NETCHECK_PURE", raising=False)
    compiled.prefer_fresh("pkg", [str(package)])
    assert importlib.import_module("pkg.stale").WHERE == "source of stale"
    with pytest.raises(ImportError):   # the "compiled" fresh module is found first, as Python always does
        importlib.import_module("pkg.fresh")
    assert compiled.status() == (1, 1)
    for name in ("pkg", "pkg.stale", "pkg.fresh"):
        sys.modules.pop(name, None)


def test_netcheck_pure_runs_every_source(tmp_path, monkeypatch) -> None:
    package = _fake_compiled_package(tmp_path, monkeypatch)
    monkeypatch.setenv("NETCHECK_PURE", "1")
    compiled.prefer_fresh("pkg", [str(package)])
    assert [importlib.import_module(f"pkg.{name}").WHERE for name in ("fresh", "stale")] == \
        ["source of fresh", "source of stale"]
    assert compiled.status() == (0, 2)
    for name in ("pkg", "pkg.stale", "pkg.fresh"):
        sys.modules.pop(name, None)


def test_the_option_lists_kept_at_start_up_match_the_modules_they_stand_for() -> None:
    """The graph suffixes, mutation kinds and the mutant cap the options show without importing the
    analyses are theirs."""
    assert options.GRAPH_SUFFIXES == graph_export.FORMATS and options.GRAPH_VIEWS == state_graph.VIEWS
    assert options.MUTATION_KINDS == mutate_mod.KINDS and options.MUTANT_MAX_STATES == mutate_mod.DEFAULT_MAX_STATES


# ---------------------------------------------------------------- the exploration cache


def test_the_cache_is_handed_in_as_the_context_object(write_spec) -> None:
    path = str(write_spec(ABBA))
    cache = ExplorationCache()
    # explain explores without the reduction and symmetry (it counts every reachable state)
    first = invoke("verify", "--no-timing", "--explore-all", "--reduce", "none", "--symmetry", "off", path, obj=cache)
    assert len(cache) == 1
    again = verify_one(path, {}, Limits(), None, False, cache=cache)
    assert again is verify_one(path, {}, Limits(), None, False, cache=cache)
    explained = invoke("explain", path, obj=cache)
    assert len(cache) == 1 and first.exit_code == explained.exit_code == EXIT_OK   # expect: met
    assert invoke("verify", "--no-timing", "--explore-all", "--reduce", "none", "--symmetry", "off",
                  path).output == first.output
    cache.clear()
    assert len(cache) == 0


def test_a_graph_is_never_taken_from_the_cache(write_spec, tmp_path) -> None:
    cache = ExplorationCache()
    out = tmp_path / "g.dot"
    result = invoke("verify", "--graph", str(out), str(write_spec(ABBA)), obj=cache)
    assert result.exit_code == EXIT_OK and out.exists() and len(cache) == 0


def test_no_cache_outside_a_command() -> None:
    assert run_mod.shared_cache() is None


# ---------------------------------------------------------------- vocabulary


def test_every_property_kind_of_the_shipped_specs_is_in_the_enum() -> None:
    kinds = set()
    for path in sorted(SPECS.glob("*.yaml"))[:6]:
        system = TransitionSystem(load_spec(path))
        kinds |= {p.kind for p in system.property_kinds()}
    assert kinds <= {k.value for k in PropertyKind}
    assert {k.value for k in PropertyKind if k.is_question} == {"reachable", "waits_on_slow"}
    liveness = {"eventually", "leads_to", "progress", "returns_when_killed"}
    assert {k.value for k in PropertyKind if k.is_liveness} == liveness
    assert {k.value for k in PropertyKind if k.has_site} == {"invariant", "final", "assert"} | liveness


def test_golden_json_uses_the_vocabulary() -> None:
    data = json.loads((ROOT / "tests" / "golden" / "net_sem.json").read_text(encoding="utf-8"))
    for prop in data["properties"]:
        assert PropertyKind(prop["kind"]) == prop["kind"] and Status(prop["status"]) == prop["status"]


def test_members_read_as_their_values() -> None:
    assert f"{PropertyKind.LOCK_ORDER}" == str(PropertyKind.LOCK_ORDER) == "lock_order"
    assert f"{Status.HOLDS:<8}|" == "holds   |"
    assert json.dumps({"kind": PropertyKind.FINAL, "status": Status.VACUOUS}) == '{"kind": "final", "status": "vacuous"}'
    assert {"holds": 1}[Status.HOLDS] == 1 and Status.UNKNOWN in ("unknown",)


def test_status_exit_codes_and_their_precedence() -> None:
    assert {s.value: s.exit_code for s in Status} == {"holds": 0, "violated": 1, "vacuous": 1, "unknown": 3,
                                                      "reachable": 0, "unreachable": 0, "bounded": 3}
    assert [s.value for s in Status if s.fails] == ["violated", "vacuous"]
    assert worst_exit_code([]) == EXIT_OK
    assert worst_exit_code([EXIT_INCOMPLETE, EXIT_OK]) == EXIT_INCOMPLETE
    assert worst_exit_code([EXIT_INCOMPLETE, EXIT_USAGE]) == EXIT_USAGE
    assert worst_exit_code(iter([EXIT_USAGE, EXIT_VIOLATED, EXIT_INCOMPLETE])) == EXIT_VIOLATED
