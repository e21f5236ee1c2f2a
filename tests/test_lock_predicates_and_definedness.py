"""held(), held_read(), held_write() (held by the current thread), and partial operations: an expression that
applies one outside its domain is a runtime_safety violation located at the property, never a false property
and never an internal error."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from helpers import EXAMPLES
from netcheck.checker.cli import main
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.system import TransitionSystem

CALLER = EXAMPLES / "bugs" / "caller_must_hold.yaml"


def verify(path) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["verify", "--ignore-expect", "--format", "json", str(path)])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, {p["name"]: p for p in json.loads(result.output)["properties"]}


def test_held_catches_a_caller_without_the_lock_that_locked_misses(write_spec) -> None:
    """The intruder calls account() while another thread holds m: held(m) is false, locked(m) true."""
    code, props = verify(CALLER)
    assert code == 1 and props["caller_holds_m"]["status"] == "violated"
    assert props["runtime_safety"]["status"] == "holds" and props["lock_discipline"]["status"] == "holds"
    code, props = verify(write_spec(CALLER.read_text().replace('"held(m)"', '"locked(m)"')))
    assert code == 0 and props["caller_holds_m"]["status"] == "holds"


RWSEM = """
netcheck: 1
name: modes
locks: {sem: rwsem, m: mutex}
procedures:
  reader():
    - assert: "not held(sem) and not held_read(sem) and not held_write(sem)"
      name: before_read
    - down_read: sem
    - assert: "held(sem) and held_read(sem) and not held_write(sem)"
      name: reading
    - up_read: sem
    - assert: "not held(sem)"
      name: after_read
  writer():
    - down_write: sem
    - assert: "held(sem) and held_write(sem) and not held_read(sem)"
      name: writing
    - downgrade_write: sem
    - assert: "held(sem) and held_read(sem) and not held_write(sem)"
      name: downgraded
    - up_read: sem
  locker():
    - assert: "not held(m)"
      name: before_lock
    - mutex_lock: m
    - assert: "held(m)"
      name: locked
    - mutex_unlock: m
    - if: held(m)
      then: [assert: "false"]
threads:
  reader: {count: 2, run: reader()}
  writer: writer()
  locker: {count: 2, run: locker()}
"""


def test_held_follows_the_thread_and_the_mode(write_spec) -> None:
    """Each thread sees its own holds only: other readers, the writer and the other locker never count."""
    code, props = verify(write_spec(RWSEM))
    assert code == 0, {n: p["status"] for n, p in props.items()}
    code, props = verify(write_spec(RWSEM.replace('"not held(sem)"\n', '"held_read(sem)"\n')))
    assert code == 1 and props["after_read"]["status"] == "violated"


def test_held_makes_its_statement_visible(write_spec) -> None:
    """A condition that reads lock state is a step of its own (semantics.md section 1), as with locked()."""
    system = TransitionSystem(load_spec(write_spec(RWSEM)))
    nodes = [n for t in system.threads for n in t.nodes if n.stmt is not None and "held" in n.stmt.text]
    assert nodes and all(n.visible for n in nodes)


@pytest.mark.parametrize("kind", ["invariant", "final", "reachable"])
@pytest.mark.parametrize("fn", ["held", "held_read", "held_write"])
def test_held_needs_a_current_thread(write_spec, kind: str, fn: str) -> None:
    path = write_spec(f"""
        netcheck: 1
        name: t
        locks: {{sem: rwsem}}
        procedures:
          w(): []
        threads: {{w: w()}}
        properties:
          p: {{{kind}: "{fn}(sem) or true"}}
        """)
    result = CliRunner().invoke(main, ["verify", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "t.yaml:8:" in result.output and "NC307" in result.output and f"{fn}() asks about the current thread" \
        in result.output and "locked()" in result.output


@pytest.mark.parametrize("fn", ["held_read", "held_write"])
def test_held_modes_need_an_rwsem(write_spec, fn: str) -> None:
    path = write_spec(f"""
        netcheck: 1
        name: t
        locks: {{m: mutex}}
        procedures:
          w():
            - assert: "{fn}(m)"
        threads: {{w: w()}}
        """)
    result = CliRunner().invoke(main, ["verify", str(path)])
    assert result.exit_code == 2 and "t.yaml:6:" in result.output and f"{fn}() takes an rwsem" in result.output
    assert "write held(m)" in result.output


@pytest.mark.parametrize("name, where, error", [
    ("invariant_null_index.yaml", "invariant current_is_busy (", "index is null"),
    ("invariant_next_off_list.yaml", "invariant node1_follows_node0 (", "next(): element is not on the list"),
])
def test_partial_operation_in_an_invariant_is_runtime_safety(name: str, where: str, error: str) -> None:
    path = EXAMPLES / "bugs" / name
    code, props = verify(path)
    assert code == 1 and props["runtime_safety"]["status"] == "violated"
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "invariant:" in text)
    message = props["runtime_safety"]["message"]
    assert message.startswith(where) and f"{name}:{line}:" in message and message.endswith(error)
    assert all(p["status"] == "holds" for n, p in props.items() if n != "runtime_safety")


PARTIAL = """
netcheck: 1
name: partial
entities: {node: 2}
state:
  l: {type: list<node>, init: [node0]}
  cur: {type: "node?", init: node0}
  busy: {type: bool, per: [node], init: true}
procedures:
  drop():
    - list_del(l, node0)
    - cur = null
threads:
  t: drop()
properties:
  PROPERTY
"""


@pytest.mark.parametrize("prop, expected", [
    ('p: {invariant: "cur == null or busy[cur]"}', "holds"),                 # guarded: never evaluated at null
    ('p: {invariant: "busy[cur] if cur != null else true"}', "holds"),
    ('p: {invariant: "all(busy[x] for x in node) and (cur == null or cur not in l or next(l, cur) == null)"}', "holds"),
    ('p: {final: "next(l, node0) == null"}', "runtime_safety"),
    ('p: {final: "busy[cur]"}', "runtime_safety"),
    ('p: {reachable: "busy[cur] and cur == null"}', "runtime_safety"),  # never reached, never defined
    ('p: {invariant: "any(busy[x] for x in node) or busy[cur]"}', "holds"),  # or stops at the first true
    ('p: {invariant: "not busy[cur] or true"}', "runtime_safety"),          # evaluated left to right
])
def test_definedness_follows_evaluation_order(write_spec, prop: str, expected: str) -> None:
    """Only the operands an expression evaluates must be defined: `and`, `or`, `if`, all/any stop early."""
    code, props = verify(write_spec(PARTIAL.replace("PROPERTY", prop)))
    violated = {n for n, p in props.items() if p["status"] == "violated"}
    assert violated == (set() if expected == "holds" else {"runtime_safety"}), props
    assert props["p"]["status"] in ("holds", "unreachable")


@pytest.mark.parametrize("fn", ["locked", "held"])
def test_lock_chosen_by_if_is_refused(write_spec, fn: str) -> None:
    """A lock is not a value: `locked(a if c else b)` is a located load error, not an internal error."""
    path = write_spec(f"""
        netcheck: 1
        name: t
        locks: {{a: mutex, b: mutex}}
        state: {{c: bool}}
        procedures:
          w():
            - assert: "{fn}(a if c else b)"
        threads: {{w: w()}}
        """)
    result = CliRunner().invoke(main, ["verify", str(path)])
    assert result.exit_code == 2 and "t.yaml:7:" in result.output and "NC303" in result.output
    assert "locked(a) if C else locked(b)" in result.output
