"""Patch-sized `extends:` (model/lang/edits.py): edit one statement of an inherited procedure. Each edit
form, the errors (located, NC022), and the shipped bug specs written with edits against copies of the
procedures they change: the same states, transitions and verdicts."""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent, indent

import pytest
from click.testing import CliRunner
from helpers import SPECS
from netcheck.checker.cli import main
from netcheck.checker.engine.explore import explore
from netcheck.model.lang.errors import SpecError
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.system import TransitionSystem

BASE = """
    netcheck: 1
    name: base
    locks: {m: mutex}
    state: {x: "int[0..5]", y: "int[0..5]"}
    procedures:
      work():
        locals: {t: "int[0..5]"}
        body:
          - mutex_lock: m
          - x = x + 1
          - if: x > 1
            then:
              - y = 1
          - either:
              left: [y = 2]
              right: [y = 3]
          - label: done
          - mutex_unlock: m
    threads:
      worker: work()
"""


def child(tmp_path: Path, edits: str, extra: str = "") -> Path:
    (tmp_path / "base.yaml").write_text(dedent(BASE).lstrip())
    path = tmp_path / "child.yaml"
    path.write_text("netcheck: 1\nextends: base.yaml\nprocedures:\n  work:\n" + extra + "    edit:\n"
                    + indent(dedent(edits), "      "))
    return path


def body(path: Path) -> list[str]:
    """The edited procedure's statements, flattened, as the spec dataclasses print them."""
    out: list[str] = []

    def walk(stmts) -> None:
        for s in stmts:
            out.append(s.text)
            for attr in ("then", "els", "body", "on_fail"):
                nested = getattr(s, attr, None)
                if isinstance(nested, tuple):
                    walk(nested)
            for _, branch in getattr(s, "branches", ()) or ():
                walk(branch)
    walk(load_spec(path).procedure("work").body)
    return out


def test_insert_after_and_before(tmp_path: Path) -> None:
    path = child(tmp_path, """\
      - after: "x = x + 1"
        insert: [y = 4]
      - before: {label: done}
        insert: [x = 0]
    """)
    texts = body(path)
    assert texts.index("y = 4") == texts.index("x = x + 1") + 1
    assert texts.index("x = 0") + 1 == next(i for i, t in enumerate(texts) if "done" in t)


def test_replace_delete_and_wrap_reach_nested_blocks(tmp_path: Path) -> None:
    path = child(tmp_path, """\
      - replace: "y = 1"
        with: [y = 5]
      - delete: "y = 3"
      - wrap: "x = x + 1"
        before: [y = 0]
        after: [y = 1]
    """)
    texts = body(path)
    assert "y = 5" in texts and "y = 3" not in texts
    i = texts.index("x = x + 1")
    assert texts[i - 1:i + 2] == ["y = 0", "x = x + 1", "y = 1"]


def test_locals_are_added_and_statements_keep_their_files(tmp_path: Path) -> None:
    path = child(tmp_path, """\
      - after: "x = x + 1"
        insert: [u = x]
    """, extra="    locals: {u: \"int[0..5]\"}\n")
    spec = load_spec(path)
    work = spec.procedure("work")
    assert "u" in dict(work.locals) and "t" in dict(work.locals)
    spans = {s.text: s.span for s in work.body}
    assert spans["u = x"].file.endswith("child.yaml")
    assert spans["x = x + 1"].file.endswith("base.yaml")
    assert explore(TransitionSystem(spec)).complete


@pytest.mark.parametrize("edits, message", [
    ('- delete: "z = 1"\n', "has no statement 'z = 1'"),
    ('- delete: "mutex_lock: nothing"\n', "has no statement"),
    ('- after: "x = x + 1"\n', "needs insert:"),
    ('- after: "x = x + 1"\n  with: [y = 1]\n', "unknown key 'with'"),
    ('- replace: "x = x + 1"\n  delete: "y = 1"\n', "exactly one of"),
    ("- 3\n", "an edit is a mapping"),
])
def test_bad_edits_are_located(tmp_path: Path, edits: str, message: str) -> None:
    path = child(tmp_path, edits)
    with pytest.raises(SpecError) as err:
        load_spec(path)
    d = err.value.diagnostics[0]
    assert d.code == "NC022" and message in d.message and d.span.file.endswith("child.yaml") and d.span.line >= 5


def test_a_statement_written_twice_is_ambiguous(tmp_path: Path) -> None:
    path = child(tmp_path, '- after: "y = 2"\n  insert: [x = 1]\n')
    (tmp_path / "base.yaml").write_text(dedent(BASE).lstrip().replace("right: [y = 3]", "right: [y = 2]"))
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert "has 2 statements 'y = 2'" in err.value.diagnostics[0].message


def test_editing_a_procedure_the_parent_lacks(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(dedent(BASE).lstrip())
    path = tmp_path / "child.yaml"
    path.write_text("netcheck: 1\nextends: base.yaml\nprocedures:\n  other:\n    edit:\n      - delete: x\n")
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert err.value.diagnostics[0].code == "NC022" and "the parent does not have" in err.value.diagnostics[0].message


def test_a_bug_spec_with_edits_explores_what_its_copy_did(tmp_path: Path) -> None:
    """setup_undo_exits_all.yaml as a one-statement edit, against the copied procedure it replaced."""
    copied = tmp_path / "copied.yaml"
    copied.write_text(f"""netcheck: 1
extends: {SPECS / 'net_mutex.yaml'}
procedures:
  setup_net(net n) -> int[-12..0]:
    locals: {{err: "int[-12..0]", o: "ops?"}}
    body:
      - list_for_each_entry: o in pernet_list
        do:
          - err = ops_init(o, n)
          - if: err < 0
            then: [goto out_undo]
      - call: rtnl_lock
      - list_add_tail(net_namespace_list, n)
      - call: rtnl_unlock
      - return 0
      - label: out_undo
      - list_for_each_entry_reverse: o in pernet_list
        do:
          - call: teardown_exit(o, n)
      - rcu_barrier
      - return err
""")
    bounds = {"net": 1}
    a = explore(TransitionSystem(load_spec(copied, bounds)))
    b = explore(TransitionSystem(load_spec(SPECS / "bugs" / "setup_undo_exits_all.yaml", bounds)))
    assert (a.state_count, a.transitions, sorted(a.violations)) == (b.state_count, b.transitions, sorted(b.violations))
    assert "init_exit_pairing" in b.violations


def test_netcheck_diff_shows_the_edit(tmp_path: Path) -> None:
    """The override a bug spec makes, statement by statement, where each is written."""
    result = CliRunner().invoke(main, ["diff", str(SPECS / "net_sem.yaml"),
                                       str(SPECS / "bugs" / "register_takes_read.yaml"), "--bound", "net=1",
                                       "--format", "json"])
    assert result.exit_code == 1, result.output   # a regression
    code = json.loads(result.output)["code"]
    assert [c["procedure"] for c in code] == ["register_pernet_subsys"] and code[0]["change"] == "changed"
    lines = code[0]["lines"]
    assert lines[0].startswith("- down_write(&net_sem)  (") and lines[0].endswith("specs/net_sem.yaml:62)")
    assert lines[1].startswith("+ down_read(&net_sem)  (") and "register_takes_read.yaml:14" in lines[1]
