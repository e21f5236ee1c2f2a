"""Callbacks as values (model/lang/callbacks.py): `callbacks:` tables bound per element, `o.slot(args)` calls
through an element, `o.slot` tests.

- a call through an element explores exactly the states of the same calls written by hand as an `if` over
  the elements (the switch is local, like an `if` on a local);
- an unset slot or a null element is a runtime_safety violation (a call through a NULL pointer); `if: o.slot`
  guards it;
- `extends:` adds an element with its callbacks, or rebinds one slot, without touching the callers; `edit:`
  of a bound procedure changes what the call runs;
- recursion through callbacks is refused as any recursion is (NC212); every load error is located, with a
  hint (NC135, NC136, NC240, and NC107, NC116, NC117, NC205 as for plain calls);
- symmetry tells apart elements that bind different procedures, and keeps those that bind the same;
- the production explorer, the reference explorer (tests/reference_explorer.py) and the z3 relation agree on
  random specs with callbacks (tests/spec_generator.py, `callbacks=True`).
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from netcheck.checker.engine.explore import explore
from netcheck.model.lang.errors import SpecError
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.symmetry import find_symmetry
from netcheck.model.semantics.system import TransitionSystem
from spec_generator import BUG_PATTERNS
from test_bad_input import assert_rejected, invoke
from test_reference_agreement import assert_agree, generated_specs_agree, load_text, production, reference
from test_relation import check_system, generated_specs_agree_with_the_relation

EXAMPLES = int(os.environ.get("NETCHECK_HYPOTHESIS_EXAMPLES") or 60) // 2
CALLBACK_SPECS = {**BUG_PATTERNS, "callbacks": True}

# Line numbers matter for the located errors below: the callbacks: table is lines 10-16, the procedures
# 18-29, and the statement t() runs per ops is line 34.
SPEC = """\
netcheck: 1
entities:
  net: 1
  ops: {core: 1, device: 1}
locks:
  rtnl: mutex
state:
  inits: {type: "int[0..2]", per: [net, ops]}
  up: {type: "ops?"}
callbacks:
  ops:
    slots:
      init: "(net n) -> int[-12..0]"
      exit: "(net n)"
    bind:
      ops: {init: core_init}
      device: {init: device_init, exit: device_exit}
procedures:
  core_init(net n) -> int[-12..0]:
    - return 0
  device_init(net n) -> int[-12..0]:
    - mutex_lock: rtnl
    - inits[n, device0] += 1
    - mutex_unlock: rtnl
    - return 0
  device_exit(net n):
    - mutex_lock: rtnl
    - mutex_unlock: rtnl
  t(net n):
    locals: {err: "int[-12..0]", p: "ops?"}
    body:
      - for_each: o in ops
        do:
          - STATEMENT
threads:
  t: {for: n in net, run: t(n)}
"""
LINE = 34


def spec(*statements: str, text: str = SPEC) -> str:
    return text.replace("- STATEMENT\n", "".join(f"- {s}\n{' ' * 10}" for s in statements).rstrip(" "))


def verdicts(text: str) -> tuple[frozenset[str], int]:
    """The violated properties and the state count, production and reference agreeing (and the relation on
    sampled states)."""
    s = load_text(text)
    prod, ref = production(s), reference(s)
    assert prod is not None and ref is not None
    assert_agree(s, prod, ref)
    check_system(TransitionSystem(s), samples=30)
    return prod.violated, prod.states


def violation(text: str, prop: str = "runtime_safety") -> str:
    exp = explore(TransitionSystem(load_text(text)))
    return exp.violations[prop].message


# ---------------------------------------------------------------- semantics


def test_a_call_through_an_element_is_the_hand_written_switch() -> None:
    through = spec("err = o.init(n)", "if: o.exit\n            then: [o.exit(n)]")
    by_hand = spec("if: o in device\n            then: [err = device_init(n)]\n            else: [err = core_init(n)]",
                   "if: o in device\n            then: [device_exit(n)]")
    assert verdicts(through) == verdicts(by_hand)
    assert verdicts(through)[0] == frozenset()


@pytest.mark.parametrize("statement", ["call: o.init(n)\n            result: err", "o.init(n)", "call: o.init(n)",
                                       "err = core0.init(n)", "if: device0.exit\n            then: [device0.exit(n)]"])
def test_every_form_of_the_call(statement: str) -> None:
    assert verdicts(spec(statement))[0] == frozenset()


def test_an_unset_slot_is_a_call_through_a_null_pointer() -> None:
    text = spec("o.exit(n)")
    assert verdicts(text)[0] == {"runtime_safety"}
    assert violation(text) == "o.exit(n): ops core0 has no exit (a call through a NULL function pointer)"


def test_a_null_element_is_a_null_pointer_too() -> None:
    text = spec("p = up", "p.init(n)")
    assert verdicts(text)[0] == {"runtime_safety"}
    assert violation(text) == "p.init(n): 'p' is null"
    assert verdicts(spec("p = up", "if: p.init\n            then: [p.init(n)]"))[0] == frozenset()


def test_the_slot_test_is_a_bool_in_properties_too() -> None:
    text = spec("up = o") + "properties:\n  set:\n    invariant: \"up == null or up.init\"\n"
    assert verdicts(text)[0] == frozenset()
    unset = text.replace("up.init", "up.exit")
    assert verdicts(unset)[0] == {"set"}


# ---------------------------------------------------------------- extends: and edit:


def child(tmp_path: Path, body: str) -> Path:
    (tmp_path / "base.yaml").write_text(spec("if: o.init\n            then: [err = o.init(n)]",
                                             "if: o.exit\n            then: [o.exit(n)]"))
    path = tmp_path / "child.yaml"
    path.write_text("netcheck: 1\nextends: base.yaml\n" + textwrap.dedent(body))
    return path


def test_a_child_adds_an_element_with_its_callbacks(tmp_path: Path) -> None:
    path = child(tmp_path, """\
        entities:
          ops: {core: 1, device: 1, extra: [mod_x]}
        callbacks:
          ops:
            bind:
              mod_x: {exit: x_exit}
        procedures:
          x_exit(net n):
            - up = mod_x
        properties:
          x_exited:
            final: "up == mod_x"
        """)
    s = load_spec(path)
    table = s.callbacks[0]
    assert table.bindings == (("core_init", ""), ("device_init", "device_exit"), ("core_init", "x_exit"))
    assert production(s).violated == frozenset()   # type: ignore[union-attr]


def test_a_child_rebinds_one_slot_and_keeps_the_others(tmp_path: Path) -> None:
    path = child(tmp_path, """\
        callbacks:
          ops:
            bind:
              device: {exit: null}
              core: {exit: device_exit}
        """)
    table = load_spec(path).callbacks[0]
    assert table.bindings == (("core_init", "device_exit"), ("device_init", ""))


def test_a_child_deletes_a_slot_only_when_nothing_uses_it(tmp_path: Path) -> None:
    path = child(tmp_path, "callbacks:\n  ops:\n    slots:\n      exit: null\n")
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert {d.code for d in err.value.diagnostics} == {"NC135", "NC240"}


def test_edit_of_a_bound_procedure_changes_what_the_call_runs(tmp_path: Path) -> None:
    path = child(tmp_path, """\
        procedures:
          device_exit:
            edit:
              - delete: "mutex_unlock: rtnl"
        """)
    assert production(load_spec(path)).violated == {"lock_discipline"}   # type: ignore[union-attr]


def test_edit_names_a_call_through_an_element_as_written(tmp_path: Path) -> None:
    path = child(tmp_path, """\
        procedures:
          t:
            edit:
              - replace: "if: o.exit"
                with: [o.exit(n)]
        """)
    assert production(load_spec(path)).violated == {"runtime_safety"}   # type: ignore[union-attr]


# ---------------------------------------------------------------- symmetry


def test_symmetry_tells_apart_elements_with_different_callbacks() -> None:
    text = """\
        netcheck: 1
        entities: {net: 1, ops: 2}
        state: {hits: {type: "int[0..2]", per: [ops]}}
        callbacks:
          ops:
            slots: {init: "(ops me)"}
            bind: {ops: {init: count}}
        procedures:
          count(ops me):
            - hits[me] += 1
          t(ops o):
            - o.init(o)
        threads:
          t: {for: o in ops, run: t(o)}
        """
    same = find_symmetry(TransitionSystem(load_text(textwrap.dedent(text))))
    assert same.entities == ("ops",)
    differ = textwrap.dedent(text).replace("bind: {ops: {init: count}}", "bind: {ops: {init: count}, ops1: {init: other}}")
    differ = differ.replace("  t(ops o):", "  other(ops me):\n    - hits[me] += 2\n  t(ops o):")
    sym = find_symmetry(TransitionSystem(load_text(differ)))
    assert sym.entities == ()
    assert dict(sym.broken)["ops"] == "its elements bind different callbacks (init: count for ops0, other for ops1)"


# ---------------------------------------------------------------- located errors


def declare(old: str, new: str) -> str:
    text = spec("err = o.init(n)", "if: o.exit\n            then: [o.exit(n)]")
    assert old in text, old
    return text.replace(old, new)


ERRORS = [
    pytest.param(spec("o.inti(n)"), LINE, 13, "NC240", "did you mean 'init'", id="unknown-slot"),
    pytest.param(spec("if: o.inti\n            then: []"), LINE, 17, "NC240", "did you mean 'init'",
                 id="unknown-slot-in-a-test"),
    pytest.param(spec("n.init(n)"), LINE, 13, "NC240", "callbacks:", id="no-callbacks-for-the-entity"),
    pytest.param(spec("if: n.init\n            then: []"), LINE, 17, "NC240", "net has no callbacks:",
                 id="no-callbacks-in-a-test"),
    pytest.param(spec("up.init(n)"), LINE, 13, "NC240", "copy it to a local", id="shared-element"),
    pytest.param(spec("o.init()"), LINE, 13, "NC117", "slot ops.init(net n)", id="argument-count"),
    pytest.param(spec("o.init(o)"), LINE, 20, "NC117", "is net, got ops", id="argument-type"),
    pytest.param(spec("call: o.exit(n)\n            result: err"), LINE, 19, "NC205", "returns no value",
                 id="result-of-a-void-slot"),
    pytest.param(declare("device_exit(net n):\n    - mutex_lock: rtnl",
                         "device_exit(net n):\n    - device0.exit(n)\n    - mutex_lock: rtnl"), 27, 7, "NC212",
                 "device_exit -> device_exit", id="recursion-through-a-callback"),
    pytest.param(declare("      device: {init", "      devices: {init"), 17, 7, "NC135", "did you mean 'device'",
                 id="bind-unknown-element"),
    pytest.param(declare("{init: core_init}", "{inti: core_init}"), 16, 13, "NC135", "did you mean 'init'",
                 id="bind-unknown-slot"),
    pytest.param(declare("{init: core_init}", "{init: core_int}"), 16, 19, "NC116", "did you mean 'core_init'",
                 id="bind-undefined-procedure"),
    pytest.param(declare("{init: core_init}", "{init: device_exit}"), 16, 19, "NC136",
                 "device_exit(net n) does not fit ops.init: (net n) -> int[-12..0]", id="bind-wrong-signature"),
    pytest.param(declare('exit: "(net n)"', 'exit: "net n"'), 14, 13, "NC135", "(PARAMS) -> TYPE",
                 id="slot-without-parentheses"),
    pytest.param(declare('exit: "(net n)"', 'exit: "(nett n)"'), 14, 13, "NC135", "nett", id="slot-bad-type"),
    pytest.param(declare("callbacks:\n  ops:", "callbacks:\n  opz:"), 11, 3, "NC107", "did you mean 'ops'",
                 id="unknown-entity"),
    pytest.param(declare("    bind:", "    bnd:"), 15, 5, "NC104", "did you mean 'bind'", id="unknown-table-key"),
]


@pytest.mark.parametrize("text, line, col, code, contains", ERRORS)
def test_located_errors(write_spec, text: str, line: int, col: int, code: str, contains: str) -> None:
    path = write_spec(text)
    assert_rejected(invoke("check", str(path)), path, line, col, code, contains=contains)


# ---------------------------------------------------------------- random specs


def test_random_callback_specs_agree_with_the_reference() -> None:
    assert generated_specs_agree(CALLBACK_SPECS, EXAMPLES) >= 0.8 * EXAMPLES


def test_random_callback_specs_agree_with_the_relation() -> None:
    assert generated_specs_agree_with_the_relation(CALLBACK_SPECS, max(5, EXAMPLES // 4)) > 0
