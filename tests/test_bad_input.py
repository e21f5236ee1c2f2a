"""Malformed specs through the CLI: each problem is one located diagnostic, exit 2, never a traceback.

Every case runs under both `netcheck check` and `netcheck verify` and asserts the exit code (2), the
diagnostic's `file:LINE:COL` and stable code, a `hint:` where one makes sense, and the absence of a
Python traceback. A SIGALRM guard turns a hang into a failure.
"""

from __future__ import annotations

import os
import re
import signal
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from netcheck.checker.cli import main

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ("check", "verify")
TIME_LIMIT = 30  # seconds per CLI run: loading must never hang

# A small valid spec. Line numbers matter: the worker's body statement is line 17 (text at col 7),
# and a property appended by prop() has its expression on line 23, col 17 (inside the quotes).
BASE = """\
netcheck: 1
name: t
entities:
  net: 2
locks:
  m: mutex
  sem: rwsem
state:
  count: {type: "int[0..3]"}
  flags: {type: bool, per: [net]}
  nets: {type: list<net>}
procedures:
  helper(net x) -> int[0..3]:
    - return 1
  worker(net n):
    - mutex_lock: m
    - count += 1
    - mutex_unlock: m
threads:
  w: {for: n in net, run: worker(n)}
"""
BODY_LINE = 17


def body(*stmts: str) -> str:
    """BASE with the worker's `count += 1` (line 17) replaced by `stmts`, one list item per line."""
    return BASE.replace("    - count += 1\n", "".join(f"    {s}\n" for s in stmts))


def prop(expr: str) -> str:
    """BASE plus one invariant whose (double-quoted) expression starts at line 23, col 17."""
    return BASE + f'properties:\n  p:\n    invariant: "{expr}"\n'


def edit(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new)


# ---------------------------------------------------------------- running and checking

DIAG = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): error\[(?P<code>NC\d{3})\]: (?P<message>.+)$")


@dataclass
class Diag:
    file: str
    line: int
    col: int
    code: str
    message: str
    hint: str


def diagnostics(output: str) -> list[Diag]:
    out: list[Diag] = []
    for text in output.splitlines():
        m = DIAG.match(text)
        if m:
            out.append(Diag(m["file"], int(m["line"]), int(m["col"]), m["code"], m["message"], ""))
        elif text.startswith("  hint: ") and out:
            out[-1].hint = text[len("  hint: "):]
    return out


@pytest.fixture(autouse=True)
def no_hang():
    def hang(signum, frame):
        raise TimeoutError(f"loading took longer than {TIME_LIMIT} s")
    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(TIME_LIMIT)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def assert_clean_exit(result: Result) -> str:
    """Exit 2 through sys.exit (not an exception escaping the command), and no traceback printed."""
    if not isinstance(result.exception, SystemExit):
        detail = "".join(traceback.format_exception(result.exception)) if result.exception else ""
        pytest.fail(f"not a clean exit ({result.exit_code}):\n{result.output}\n{detail}")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.output


def assert_rejected(result: Result, path: Path | str, line: int, col: int | None, code: str, *,
                    contains: str = "", count: int = 1) -> list[Diag]:
    """The run failed with error[code] at path:line:col (col None: any), with a hint, and with `count`
    diagnostics in all (one per problem: no follow-on errors)."""
    output = assert_clean_exit(result)
    found = diagnostics(output)
    where = [d for d in found if d.file == str(path) and d.line == line and (col is None or d.col == col)
             and d.code == code]
    assert where, f"expected {path}:{line}:{col if col is not None else '*'} error[{code}] in:\n{output}"
    d = where[0]
    if contains:
        assert contains in d.message + " " + d.hint, output
    assert d.hint, f"no hint for {code}:\n{output}"
    assert len(found) == count, f"expected {count} diagnostic(s), got {len(found)}:\n{output}"
    return found


# ---------------------------------------------------------------- YAML and file-level problems

YAML_CASES = [
    # text, line, col, code, message/hint fragment
    pytest.param("netcheck: 1\nname: t\n  entities: 3\n", 3, 11, "NC005", "mapping values", id="bad-indentation"),
    pytest.param("netcheck: 1\nthreads:\n  w:\n    run: x()\n   for: y\n", 5, 4, "NC005", "expected",
                 id="bad-dedent"),
    pytest.param('netcheck: 1\nname: "abc\nabout: x\n', 2, 7, "NC005", "quoted string", id="unclosed-quote"),
    pytest.param("netcheck: 1\nname: [a, b\n", 2, 7, "NC005", "[...] list", id="unclosed-bracket"),
    pytest.param("netcheck: 1\nthreads:\n\tw: {run: x()}\n", 3, 1, "NC005", "spaces", id="tab"),
    pytest.param("netcheck: 1\nname: a\x07b\n", 2, 8, "NC003", "U+0007", id="control-character"),
    pytest.param("", 1, 1, "NC004", "empty", id="empty-file"),
    pytest.param("# only a comment\n\n   # and another\n", 1, 1, "NC004", "empty", id="comment-only"),
    pytest.param("- netcheck: 1\n- name: t\n", 1, 1, "NC012", "not a list", id="top-level-list"),
    pytest.param("just a scalar\n", 1, 1, "NC012", "not str", id="top-level-scalar"),
    pytest.param("netcheck: 1\nname: a\n---\nname: b\n", 3, 1, "NC005", "more than one", id="two-documents"),
    pytest.param("netcheck: 1\nname: a\nname: b\n", 3, 1, "NC010", "first at line 2", id="duplicate-top-key"),
    pytest.param(edit("  sem: rwsem\n", "  sem: rwsem\n  m: rwsem\n"), 8, 3, "NC010", "duplicate key 'm'",
                 id="duplicate-nested-key"),
    pytest.param(edit("    - count += 1\n", "    - if: count == 0\n      then: []\n      then: [count += 1]\n"),
                 19, 7, "NC010", "duplicate key 'then'", id="duplicate-statement-key"),
    pytest.param("netcheck: 1\nname: !!python/object/apply:os.system ['true']\n", 2, 7, "NC007",
                 "python/object/apply", id="tag-python-object-apply"),
    pytest.param("netcheck: 1\nname: !!python/name:os.system\n", 2, 7, "NC007", "python/name", id="tag-python-name"),
    pytest.param("netcheck: 1\nname: !foo bar\n", 2, 7, "NC007", "'!foo'", id="tag-custom"),
    pytest.param("netcheck: 1\nname: !!binary aGVsbG8=\n", 2, 7, "NC007", "binary", id="tag-binary"),
    pytest.param("netcheck: 1\n<<: {name: t}\n", 2, 1, "NC006", "merge", id="merge-key"),
    pytest.param("netcheck: 1\nname: *nowhere\n", 2, 7, "NC006", "alias", id="alias"),
    pytest.param("netcheck: 1\nname: " + "[" * 5000 + "\n", 2, 70, "NC008", "deeper than 64", id="nesting-brackets"),
    pytest.param("netcheck: 1\nname: " + "{a: " * 5000 + "\n", 2, 259, "NC008", "deeper than 64",
                 id="nesting-mappings"),
    pytest.param("netcheck: 1\nlocks:\n  ? [a, b]\n  : mutex\n", 3, 5, "NC009", "plain names", id="complex-key"),
    pytest.param("netcheck: 1\nentities:\n  net: 012\n", 3, 8, "NC011", "octal", id="octal-integer"),
    pytest.param("netcheck: 1\nentities:\n  net: " + "9" * 5000 + "\n", 3, 8, "NC011", "decimal",
                 id="integer-5000-digits"),
]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("text, line, col, code, contains", YAML_CASES)
def test_yaml_problem(write_spec, command, text, line, col, code, contains):
    path = write_spec(text)
    assert_rejected(invoke(command, str(path)), path, line, col, code, contains=contains)


BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}' if prev else 'lol'] * 9)}]\n"
    for prev, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


@pytest.mark.parametrize("command", COMMANDS)
def test_billion_laughs(write_spec, command):
    """Nine anchors, each aliased nine times: one message per anchor, the aliases are never expanded."""
    path = write_spec("netcheck: 1\n" + BOMB)
    found = assert_rejected(invoke(command, str(path)), path, 2, 4, "NC006", contains="used by 9 aliases", count=9)
    assert [d.line for d in found] == list(range(2, 11))


@pytest.mark.parametrize("command", COMMANDS)
def test_all_yaml_problems_at_once(write_spec, command):
    path = write_spec("netcheck: 1\nname: a\nname: b\nlocks:\n  m: mutex\n  m: rwsem\nabout: !foo x\n")
    found = assert_rejected(invoke(command, str(path)), path, 3, 1, "NC010", count=3)
    assert [(d.line, d.col, d.code) for d in found] == [(3, 1, "NC010"), (6, 3, "NC010"), (7, 8, "NC007")]


@pytest.mark.parametrize("command", COMMANDS)
def test_not_utf8(tmp_path, command):
    path = tmp_path / "latin1.yaml"
    path.write_bytes('netcheck: 1\nname: t\nabout: "déjà vu, '.encode() + b'caf\xe9"\n')
    # The column counts characters, like YAML's: 'about: "déjà vu, caf' is 20 of them (22 bytes).
    assert_rejected(invoke(command, str(path)), path, 3, 21, "NC003", contains="0xe9")


@pytest.mark.parametrize("command", COMMANDS)
def test_huge_file(tmp_path, command):
    path = tmp_path / "huge.yaml"
    path.write_text("netcheck: 1\nname: t\n" + ("# padding " + "x" * 90 + "\n") * 11000)
    assert_rejected(invoke(command, str(path)), path, 1, 1, "NC002", contains="extends")


@pytest.mark.parametrize("command", COMMANDS)
def test_too_many_nodes(write_spec, command):
    path = write_spec("netcheck: 1\nname: [" + "a," * 200_001 + "a]\n")
    assert_rejected(invoke(command, str(path)), path, 2, None, "NC002", contains="split")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "directory"])
def test_not_a_regular_file(tmp_path, command, special):
    """Reading /dev/zero never ends and a FIFO blocks: refuse anything that is not a regular file."""
    if special == "directory":  # click refuses directories itself (dir_okay=False)
        (tmp_path / "dir.yaml").mkdir()
        assert_clean_exit(invoke(command, str(tmp_path / "dir.yaml")))
        return
    path = Path(special)
    if special == "fifo":
        path = tmp_path / "spec.yaml"
        os.mkfifo(path)
    assert_rejected(invoke(command, str(path)), path, 1, 1, "NC001", contains="not a regular file")


@pytest.mark.parametrize("command", COMMANDS)
def test_missing_file(tmp_path, command):
    path = tmp_path / "nosuch.yaml"
    assert_rejected(invoke(command, str(path)), path, 1, 1, "NC001", contains="no such spec file")


# ---------------------------------------------------------------- declarations

SPEC_CASES = [
    # spec text, line, col, code, fragment of message or hint
    pytest.param(edit("locks:", "lokcs:"), 5, 1, "NC104", "did you mean 'locks'?", id="unknown-top-key"),
    pytest.param(edit('count: {type: "int[0..3]"}', 'count: {tpye: "int[0..3]"}'), 9, 11, "NC104",
                 "did you mean 'type'?", id="unknown-state-key"),
    pytest.param(edit("run: worker(n)}", "run: worker(n), daemom: true}"), 20, 38, "NC104",
                 "did you mean 'daemon'?", id="unknown-thread-key"),
    pytest.param(edit("  worker(net n):\n    - mutex_lock: m\n", "  worker(net n):\n    lcoals: {}\n    body:\n"
                      "    - mutex_lock: m\n"), 16, 5, "NC104", "did you mean 'locals'?", id="unknown-procedure-key"),
    pytest.param(body("- mutex_lock: m", "  on_fial: return"), 18, 7, "NC104", "on_fail", id="unknown-statement-key"),
    pytest.param(body("- mutex_lokc: m"), 17, 7, "NC207", "did you mean 'mutex_lock'?", id="unknown-statement"),
    pytest.param(edit("  m: mutex", "  m: mutx"), 6, 6, "NC109", "did you mean 'mutex'?", id="unknown-lock-kind"),
    pytest.param(edit("  m: mutex", "  m: {per: [net]}"), 6, 6, "NC109", "kind:", id="lock-without-kind"),
    pytest.param(edit("netcheck: 1", "netcheck: 2"), 1, 11, "NC105", "netcheck: 1", id="language-version"),
    pytest.param(edit('"int[0..3]"', '"int[3..0]"'), 9, 17, "NC108", "LO must not exceed HI", id="type-empty-range"),
    pytest.param(edit('"int[0..3]"', '"int"'), 9, 17, "NC108", "int[0..3]", id="type-int-without-range"),
    pytest.param(edit("list<net>", "lst<net>"), 11, 16, "NC108", "list<ENTITY>", id="type-malformed"),
    pytest.param(edit("list<net>", "list<nett>"), 11, 16, "NC108", "entities", id="type-unknown-entity"),
    pytest.param(edit('"int[0..3]"', '"int[0..' + "9" * 900 + ']"'), 9, 17, "NC108", "keep ranges small",
                 id="type-900-digit-bound"),
    pytest.param(edit('"int[0..3]"', '"int[0..' + "9" * 5000 + ']"'), 9, 17, "NC108", "longer than 1000",
                 id="type-5000-characters"),
    pytest.param(edit("locks:", "types:\n  st: enum{a, a}\nlocks:"), 6, 7, "NC108", "distinct",
                 id="type-enum-duplicate"),
    pytest.param(edit("helper(net x)", "helper(nett x)"), 13, 3, "NC113", "types are", id="signature-bad-type"),
    pytest.param(edit("helper(net x)", "helper(net x, net x)"), 13, 3, "NC113", "appears twice",
                 id="signature-duplicate-parameter"),
    pytest.param(edit("  helper(net x) -> int[0..3]:\n", '  ? "helper' + " " * 20000 + '("\n  :\n'), 13, 5, "NC113",
                 "longer than", id="signature-20000-spaces"),
    pytest.param(edit('count: {type: "int[0..3]"}', 'count: {type: "int[0..3]", init: 7}'), 9, 36, "NC111",
                 "outside int[0..3]", id="init-out-of-range"),
    pytest.param(edit("nets: {type: list<net>}", "nets: {type: list<net>, init: [net0, net7]}"), 11, 40, "NC111",
                 "did you mean 'net1'?", id="init-unknown-element"),
    pytest.param(edit("nets: {type: list<net>}", "nets: {type: list<net>, init: [net0, net0]}"), 11, 40, "NC111",
                 "twice", id="init-duplicate-element"),
    pytest.param(edit("per: [net]}", "per: [net], init: {net0: 3}}"), 10, 48, "NC111", "true or false",
                 id="init-wrong-type"),
    pytest.param(edit("per: [net]}", "per: [net], init: {nett0: true}}"), 10, 42, "NC111", "net0, ops1",
                 id="init-bad-key"),
    pytest.param(edit("per: [net]}", "per: [nett]}"), 10, 29, "NC110", "did you mean 'net'?", id="per-unknown-entity"),
    pytest.param(edit("  nets: {type: list<net>}\n", "  nets: {type: list<net>}\n  m: {type: bool}\n"), 12, 3,
                 "NC103", "already used as lock", id="duplicate-name-state-lock"),
    pytest.param(edit("  sem: rwsem\n", "  sem: rwsem\n  net0: mutex\n"), 8, 3, "NC103", "already used as an element",
                 id="duplicate-name-lock-element"),
    pytest.param(edit("threads:", "  worker(net y):\n    - count += 1\nthreads:"), 19, 3, "NC103",
                 "another procedure", id="duplicate-procedure"),
    pytest.param(edit("  worker(net n):\n", "  worker(net n):\n    locals: {n: bool}\n    body:\n"), 16, 14, "NC103",
                 "declared twice", id="duplicate-local"),
    pytest.param(body("- label: a", "- label: a"), 18, 14, "NC201", "twice", id="duplicate-label"),
    pytest.param(edit("w: {for: n in net, run: worker(n)}", "w: {for: n in net}"), 20, 6, "NC115", "run:",
                 id="thread-without-run"),
    pytest.param(edit("threads:\n  w: {for: n in net, run: worker(n)}\n", "threads: {}\n"), 19, 10, "NC114",
                 "threads:", id="no-threads"),
    pytest.param(edit("for: n in net", "for: n in nett"), 20, 12, "NC115", "did you mean 'net'?",
                 id="thread-for-unknown-entity"),
    pytest.param(edit("for: n in net, run: worker(n)", "count: 99, run: worker(net0)"), 20, 14, "NC115", "count:",
                 id="thread-count-too-big"),
    pytest.param(edit("net: 2", "net: 17"), 4, 8, "NC106", "0 to 16", id="entity-bound-too-big"),
    pytest.param(BASE + "options: {deadlock: 5}\n", 21, 21, "NC101", "true", id="option-not-bool"),
    pytest.param(BASE + "properties:\n  p: {invariant: 'true', final: 'true'}\n", 22, 6, "NC118", "final:",
                 id="property-two-kinds"),
    pytest.param(BASE + "properties:\n  p: {invariant: [a]}\n", 22, 18, "NC101", "string", id="property-not-text"),
    pytest.param(BASE + "properties:\n  deadlock_free: {invariant: 'true'}\n", 22, 3, "NC103", "reserved",
                 id="property-builtin-name"),
]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("text, line, col, code, contains", SPEC_CASES)
def test_declaration_problem(write_spec, command, text, line, col, code, contains):
    path = write_spec(text)
    assert_rejected(invoke(command, str(path)), path, line, col, code, contains=contains)


# ---------------------------------------------------------------- statements and procedures

STATEMENT_CASES = [
    pytest.param(body("- mutex_lock: mm"), 17, 19, "NC208", "did you mean 'm'?", id="lock-undefined"),
    pytest.param(body("- down_read: m"), 17, 18, "NC208", "mutex API", id="lock-wrong-kind-down-read"),
    pytest.param(body("- up_write: m"), 17, 17, "NC208", "mutex API", id="lock-wrong-kind-up-write"),
    pytest.param(body("- mutex_lock: sem"), 17, 19, "NC208", "rwsem API", id="lock-wrong-kind-mutex-on-rwsem"),
    pytest.param(body("- mutex_lock: count"), 17, 19, "NC208", "expected one of: m, sem", id="lock-not-a-lock"),
    pytest.param(body("- mutex_unlock: m", "- mutex_lock_killable: m"), 18, 7, "NC209", "on_fail:",
                 id="killable-without-on-fail"),
    pytest.param(body("- mutex_unlock: m", "- down_read_trylock: sem"), 18, 7, "NC209", "on_fail:",
                 id="trylock-without-on-fail"),
    pytest.param(body("- mutex_unlock: m", "- mutex_lock: m", "  on_fail: return"), 19, 7, "NC209", "remove on_fail",
                 id="on-fail-on-plain-lock"),
    pytest.param(body("- coutn += 1"), 17, 7, "NC306", "did you mean 'count'?", id="undefined-name"),
    pytest.param(body("- if: count == nets", "  then: [count += 1]"), 17, 11, "NC303", "list<net>",
                 id="compare-int-with-list"),
    pytest.param(body("- if: n in count", "  then: [count += 1]"), 17, 16, "NC303", "needs a set",
                 id="in-non-collection"),
    pytest.param(body("- if: count[n] == 1", "  then: [count += 1]"), 17, 11, "NC305", "per:", id="index-non-per"),
    pytest.param(body("- if: flags[n, n]", "  then: [count += 1]"), 17, 11, "NC305", "1 index(es)",
                 id="index-wrong-count"),
    pytest.param(body("- if: flags[count]", "  then: [count += 1]"), 17, 17, "NC303", "must be a net",
                 id="index-wrong-type"),
    pytest.param(body("- if: flags", "  then: [count += 1]"), 17, 11, "NC305", "flags[net]", id="index-missing"),
    pytest.param(body("- if: count", "  then: [count += 1]"), 17, 11, "NC303", "condition", id="if-not-bool"),
    pytest.param(body("- if: count == 1"), 17, 7, "NC207", "then:", id="if-without-then"),
    pytest.param(body("- count = nets"), 17, 15, "NC303", "list<net>", id="assign-wrong-type"),
    pytest.param(body("- net0 = n"), 17, 7, "NC204", "variable", id="assign-to-constant"),
    pytest.param(body("- count *= 2"), 17, 7, "NC311", "x = EXPR", id="assign-multiply"),
    pytest.param(body("- 5"), 17, 7, "NC311", "not a statement", id="bare-expression"),
    pytest.param(body("- list_add(count, n)"), 17, 16, "NC303", "list<ENTITY>", id="list-add-to-int"),
    pytest.param(body("- list_add(nets)"), 17, 7, "NC307", "list_add(L, x)", id="list-add-arity"),
    pytest.param(body("- for_each: x in count", "  do: []"), 17, 22, "NC210", "for_each: x in ENTITY",
                 id="for-each-over-int"),
    pytest.param(body("- call: helper(n, n)"), 17, 13, "NC117", "helper(x: net)", id="call-arity"),
    pytest.param(body("- count = helper()"), 17, 15, "NC117", "helper(x: net)", id="call-arity-no-args"),
    pytest.param(edit("run: worker(n)", "run: 'worker(n, n)'"), 20, 28, "NC117", "worker(n: net)",
                 id="thread-call-arity"),
    pytest.param(body("- count = helper(count)"), 17, 22, "NC117", "helper(x: net)", id="call-argument-type"),
    pytest.param(edit("run: worker(n)", "run: worker(count)"), 20, 34, "NC117", "worker(n: net)",
                 id="thread-argument-type"),
    pytest.param(body("- call: helpr(n)"), 17, 13, "NC116", "helper", id="undefined-procedure-call"),
    pytest.param(body("- helpr(n)"), 17, 7, "NC311", "did you mean 'helper'?", id="undefined-procedure-statement"),
    pytest.param(edit("w: {for: n in net, run: worker(n)}", "h: {run: helper(net0)}\n  w: {run: 'take(5)'}")
                 .replace("procedures:\n", "procedures:\n  take(int[0..3] v):\n    - count = v\n"), 23, 18, "NC117",
                 "from 0 to 3", id="thread-argument-out-of-range"),
    pytest.param(edit("run: worker(n)", "run: wrker(n)"), 20, 27, "NC116", "did you mean 'worker'?",
                 id="undefined-procedure-thread"),
    pytest.param(body("- call: worker(n)"), 17, 13, "NC212", "worker -> worker", id="recursion"),
    pytest.param(edit("    - return 1\n", "    - call: worker(x)\n    - return 1\n", body("- count = helper(n)")), 18,
                 15, "NC212", "helper -> worker -> helper", id="mutual-recursion"),
    pytest.param(body("- goto out", "- label: outt"), 17, 7, "NC201", "did you mean 'outt'?", id="goto-undefined"),
    pytest.param(body("- goto inner", "- while: count < 2", "  do:", "    - label: inner", "    - count += 1"), 17, 7,
                 "NC202", "out of loops", id="goto-into-loop"),
    pytest.param(body("- break"), 17, 7, "NC206", "do:", id="break-outside-loop"),
    pytest.param(body("- continue"), 17, 7, "NC206", "do:", id="continue-outside-loop"),
    pytest.param(body("- return 1"), 17, 7, "NC205", "-> TYPE", id="return-value-from-void"),
    pytest.param(body("- count = worker(n)"), 17, 15, "NC205", "-> TYPE", id="result-of-void"),
    pytest.param(edit("    - return 1\n", "    - return\n"), 14, 7, "NC205", "return VALUE", id="return-without-value"),
    pytest.param(edit("    - return 1\n", "    - return nets\n"), 14, 14, "NC303", "-> TYPE",
                 id="return-wrong-type"),
    pytest.param(edit("    - return 1\n", "    - if: x == net0\n      then: [return 1]\n"), 13, 3, "NC205",
                 "every path", id="return-missing-on-a-path"),
    pytest.param(edit("    - return 1\n", "    - count = 1\n"), 13, 3, "NC205", "every path", id="return-missing"),
    pytest.param(body("- either: [a]"), 17, 15, "NC211", "either:", id="either-not-mapping"),
    pytest.param(body("- [count += 1]"), 17, 7, "NC203", "then:", id="statement-is-a-list"),
]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("text, line, col, code, contains", STATEMENT_CASES)
def test_statement_problem(write_spec, command, text, line, col, code, contains):
    path = write_spec(text)
    assert_rejected(invoke(command, str(path)), path, line, col, code, contains=contains)


# ---------------------------------------------------------------- the expression security boundary

SECURITY_EXPRESSIONS = [
    # expression (in a property at line 23; its text starts at col 17), col, code, fragment
    pytest.param("count.__class__ == 1", 22, "NC302", ".__class__", id="attribute-dunder"),
    pytest.param("nets.append == 1", 21, "NC302", ".append", id="attribute"),
    pytest.param("__builtins__ == 1", 17, "NC302", "dunder", id="dunder-name"),
    pytest.param("__import__('os') == 0", 17, "NC302", "dunder", id="dunder-call"),
    pytest.param("__import__('os').system('true') == 0", 17, "NC307", "built-in functions", id="import-system"),
    pytest.param("eval('1') == 1", 17, "NC307", "unknown function 'eval'", id="eval"),
    pytest.param("exec('x = 1')", 17, "NC307", "unknown function 'exec'", id="exec"),
    pytest.param("open('/etc/passwd') == 1", 17, "NC307", "unknown function 'open'", id="open"),
    pytest.param("getattr(count, 'real') == 1", 17, "NC307", "unknown function 'getattr'", id="getattr"),
    pytest.param("(lambda: 1)() == 1", 17, "NC307", "built-in functions", id="lambda-called"),
    pytest.param("lambda: true", 17, "NC302", "lambda", id="lambda"),
    pytest.param("all([flags[n] for n in net])", 17, "NC307", "comprehensions", id="list-comprehension-in-all"),
    pytest.param("len([n for n in net]) == 2", 21, "NC302", "list comprehension", id="list-comprehension"),
    pytest.param("len({n for n in net}) == 2", 21, "NC302", "set comprehension", id="set-comprehension"),
    pytest.param("len({n: 1 for n in net}) == 2", 21, "NC302", "dict comprehension", id="dict-comprehension"),
    pytest.param("(flags[n] for n in net)", 17, "NC302", "generator expression", id="bare-generator"),
    pytest.param("len(n for n in net) == 2", 20, "NC302", "generator expression", id="generator-in-len"),
    pytest.param("count == 2 ** 100000000", 26, "NC302", "**", id="huge-power"),
    pytest.param("count == 9 ** 9 ** 9 ** 9", 26, "NC302", "**", id="power-tower"),
    pytest.param("count == 'abc'", 26, "NC302", "str constants", id="string-constant"),
    pytest.param("'a' * 1000000000 == count", 17, "NC302", "'*'", id="string-repetition"),
    pytest.param("count == b'x'", 26, "NC302", "bytes", id="bytes-constant"),
    pytest.param("count == f'{count}'", 26, "NC302", "f-string", id="f-string"),
    pytest.param("(x := 1) == 1", 18, "NC302", ":=", id="walrus"),
    pytest.param("count == 99999999999999999999", 26, "NC304", "too large", id="huge-integer"),
    pytest.param("count == " + "9" * 5000, 17, "NC309", "longer than", id="integer-5000-digits"),
    pytest.param("(" * 300 + "true" + ")" * 300, 217, "NC310", "parenthes", id="nested-parentheses"),
    pytest.param("not " * 300 + "true", 17, "NC309", "parts", id="nested-not"),
    pytest.param("count == " + "-" * 1500 + "1", 17, "NC309", "parts", id="nested-minus"),
    pytest.param("[" * 5000 + "]" * 5000, 17, "NC309", "longer than", id="nested-lists-long"),
    pytest.param("all(" * 60 + "true" + " for n in net)" * 60, 17, "NC309", "parts", id="nested-quantifiers"),
]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("expr, col, code, contains", SECURITY_EXPRESSIONS)
def test_expression_refused(write_spec, command, expr, col, code, contains):
    path = write_spec(prop(expr))
    assert_rejected(invoke(command, str(path)), path, 23, col, code, contains=contains)


SECURITY_STATEMENTS = [
    # statement (worker body, line 17, text at col 7), col, code, fragment
    pytest.param("- import os", 7, "NC311", "import", id="import"),
    pytest.param("- 'exec(\"print(1)\")'", 8, "NC311", "unknown statement 'exec", id="exec-statement"),
    pytest.param("- count.__class__ = 1", 12, "NC302", ".__class__", id="assign-attribute"),
    pytest.param("- 'count = __import__(\"os\")'", 16, "NC302", "dunder", id="assign-import"),
    pytest.param("- del count", 7, "NC311", "del", id="del"),
    pytest.param("- 'count += 1; count += 1'", 8, "NC311", "one statement", id="two-statements"),
    pytest.param("- call: \"__import__('os')\"", 14, "NC116", "undefined procedure", id="call-import"),
    pytest.param("- call: 'worker(('", 21, "NC310", "never closed", id="call-syntax-error"),
    pytest.param("- call: 'worker(" + "-" * 1500 + "n)'", 14, "NC309", "parts", id="call-nested-argument"),
    pytest.param("- call: 'worker(" + "n+" * 3000 + "n)'", 14, "NC309", "longer than", id="call-long-argument"),
]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("stmt, col, code, contains", SECURITY_STATEMENTS)
def test_statement_refused(write_spec, command, stmt, col, code, contains):
    path = write_spec(body(stmt))
    assert_rejected(invoke(command, str(path)), path, BODY_LINE, col, code, contains=contains)


@pytest.mark.parametrize("command", COMMANDS)
def test_thread_argument_refused(write_spec, command):
    path = write_spec(edit("run: worker(n)", "run: \"worker(__import__('os'))\""))
    assert_rejected(invoke(command, str(path)), path, 20, 35, "NC302", contains="dunder")


@pytest.mark.parametrize("command", COMMANDS)
def test_no_python_warnings(write_spec, command):
    """`1in nets` makes Python's parser warn on stderr; the user sees the spec error only."""
    path = write_spec(prop("count == 1in nets"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert_rejected(invoke(command, str(path)), path, 23, 26, "NC303")
    assert not [w for w in caught if issubclass(w.category, SyntaxWarning)]


@pytest.mark.parametrize("command", COMMANDS)
def test_loading_never_executes_code(tmp_path, write_spec, command):
    canary = tmp_path / "CANARY"
    path = write_spec(
        BASE.replace("name: t", f"name: !!python/object/apply:os.system ['touch {canary}']")
        + f"properties:\n  p: {{invariant: \"__import__('os').system('touch {canary}') == 0\"}}\n")
    assert_clean_exit(invoke(command, str(path)))
    assert not canary.exists()
    path = write_spec(prop(f"__import__('os').system('touch {canary}') == 0"))
    assert_rejected(invoke(command, str(path)), path, 23, 17, "NC307")
    assert not canary.exists()


# ---------------------------------------------------------------- extends:

@pytest.mark.parametrize("command", COMMANDS)
def test_extends_missing_file(write_spec, command):
    path = write_spec("netcheck: 1\nextends: nosuch.yaml\nname: child\n")
    assert_rejected(invoke(command, str(path)), path, 2, 10, "NC021", contains="relative to")


@pytest.mark.parametrize("command", COMMANDS)
def test_extends_cycle(write_spec, command):
    a = write_spec("netcheck: 1\nextends: b.yaml\nname: a\n", "a.yaml")
    b = write_spec("netcheck: 1\nname: b\nextends: a.yaml\n", "b.yaml")
    found = assert_rejected(invoke(command, str(a)), b, 3, 10, "NC020", contains="remove one")
    assert f"{a} -> {b} -> {a}" in found[0].message


@pytest.mark.parametrize("command", COMMANDS)
def test_extends_itself(write_spec, command):
    path = write_spec("netcheck: 1\nextends: t.yaml\n")
    assert_rejected(invoke(command, str(path)), path, 2, 10, "NC020")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("target, fragment", [
    ("/dev/zero", "not a regular file"),
    ('"a\\0b.yaml"', "cannot be resolved"),
    ("[base.yaml]", "takes a file name"),
], ids=["device", "nul-in-name", "not-text"])
def test_extends_bad_target(write_spec, command, target, fragment):
    path = write_spec(f"netcheck: 1\nextends: {target}\nname: child\n")
    assert_rejected(invoke(command, str(path)), path, 2, 10, "NC021", contains=fragment)


@pytest.mark.parametrize("command", COMMANDS)
def test_extends_errors_located_in_each_file(write_spec, command):
    base = write_spec(BASE.replace("  m: mutex", "  m: mutx"), "base.yaml")
    child = write_spec("netcheck: 1\nextends: base.yaml\nname: child\nstate:\n  extra: {type: nope}\n", "child.yaml")
    found = assert_rejected(invoke(command, str(child)), base, 6, 6, "NC109", count=2)
    assert (found[1].file, found[1].line, found[1].col, found[1].code) == (str(child), 5, 17, "NC108")


@pytest.mark.parametrize("command", COMMANDS)
def test_extends_parent_syntax_error(write_spec, command):
    parent = write_spec("netcheck: 1\nname: [\n", "parent.yaml")
    child = write_spec("netcheck: 1\nextends: parent.yaml\n", "child.yaml")
    assert_rejected(invoke(command, str(child)), parent, 3, 1, "NC005", contains="unclosed")


# ---------------------------------------------------------------- --bound

@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("bound, fragment", [
    ("nosuch=2", "expected one of: net"),
    ("nett=2", "did you mean 'net'?"),
], ids=["unknown", "misspelt"])
def test_bound_unknown_name(write_spec, command, bound, fragment):
    path = write_spec(BASE)
    # Located at the entities: section, where the names --bound can set are declared.
    assert_rejected(invoke(command, "--bound", bound, str(path)), path, 3, 1, "NC107", contains=fragment)


@pytest.mark.parametrize("command", COMMANDS)
def test_bound_out_of_range(write_spec, command):
    path = write_spec(BASE)
    assert_rejected(invoke(command, "--bound", "net=99", str(path)), path, 4, 8, "NC106", contains="0 to 16")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("bound", ["net", "net:2", "net=x", "=2", "net=-1", "2=net"])
def test_bound_syntax(write_spec, command, bound):
    path = write_spec(BASE)
    output = assert_clean_exit(invoke(command, "--bound", bound, str(path)))
    assert "--bound" in output and "NAME=N" in output


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("bound", ["net=²", "net=" + "9" * 5000], ids=["superscript", "5000-digits"])
def test_bound_number_int_rejects(write_spec, command, bound):
    path = write_spec(BASE)
    assert_clean_exit(invoke(command, "--bound", bound, str(path)))


# ---------------------------------------------------------------- all errors at once, one per problem

@pytest.mark.parametrize("command", COMMANDS)
def test_all_problems_reported_at_once(write_spec, command):
    text = edit("locks:", "lokcs:")                                       # line 5
    text = edit("  nets: {type: list<net>}\n", "  nets: {type: list<net>}\n  bad: {type: nope}\n", text)  # 12
    text = edit("    - count += 1\n", "    - coutn += 1\n    - break\n", text)  # lines 18 and 19
    text += "properties:\n  p: {invariant: 'count == nets'}\n"             # line 24
    path = write_spec(text)
    found = assert_rejected(invoke(command, str(path)), path, 5, 1, "NC104", count=5)
    assert [(d.line, d.code) for d in found] == [(5, "NC104"), (12, "NC108"), (18, "NC306"), (19, "NC206"),
                                                 (24, "NC303")]


FOLLOW_ON_CASES = [
    # one refused declaration, used several times: exactly one diagnostic, at the declaration
    pytest.param(edit("  m: mutex", "  m: mutx"), 6, 6, "NC109", id="unknown-lock-kind"),
    pytest.param(edit("locks:", "lokcs:"), 5, 1, "NC104", id="misspelt-locks-section"),
    pytest.param(edit('count: {type: "int[0..3]"}', 'count: {type: "int[0..]"}'), 9, 17, "NC108", id="bad-state-type"),
    pytest.param(edit('count: {type: "int[0..3]"}', 'count: {tpye: "int[0..3]"}'), 9, 11, "NC104",
                 id="misspelt-type-key"),
    pytest.param(edit("worker(net n):", "worker(nett n):"), 15, 3, "NC113", id="bad-signature"),
    pytest.param(edit("  worker(net n):\n    - mutex_lock: m\n    - count += 1\n    - mutex_unlock: m\n",
                      "  worker(net n):\n    body: {a: 1}\n"), 16, 11, "NC101", id="body-not-a-list"),
]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("text, line, col, code", FOLLOW_ON_CASES)
def test_no_follow_on_errors(write_spec, command, text, line, col, code):
    path = write_spec(text)
    assert_rejected(invoke(command, str(path)), path, line, col, code, count=1)


# ---------------------------------------------------------------- the shipped specs still load

def test_shipped_specs_load(monkeypatch):
    """`netcheck check specs/*.yaml specs/bugs/*.yaml` still prints ok for each."""
    monkeypatch.chdir(ROOT)
    specs = sorted(str(p) for p in [*Path("specs").glob("*.yaml"), *Path("specs/bugs").glob("*.yaml")])
    assert specs
    result = invoke("check", *specs)
    assert result.exit_code == 0, result.output
    for spec in specs:
        assert re.search(rf"^{re.escape(spec)}: ok \(", result.output, re.M), result.output
