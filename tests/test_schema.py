"""The JSON Schema of the spec format (model/lang/schema.py): the published file is the generated one,
every shipped spec validates against it, and what it refuses the parser refuses too."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from helpers import EXAMPLES, ROOT, SPECS
from netcheck.checker.cli import main
from netcheck.model.lang.errors import SpecError
from netcheck.model.lang.lockapi import LOCK_API, RCU_API
from netcheck.model.lang.parse import TOP_KEYS, load_spec
from netcheck.model.lang.schema import schema_text, spec_schema
from netcheck.model.lang.statements import MAPPING_FORMS

PUBLISHED = ROOT / "schema" / "netcheck-spec.schema.json"
SHIPPED = sorted([*SPECS.rglob("*.yaml"), *EXAMPLES.rglob("*.yaml")])
VALIDATOR = jsonschema.Draft202012Validator(spec_schema())
GOOD = """\
netcheck: 1
locks: {a: mutex}
procedures:
  p():
    - mutex_lock: a
    - mutex_unlock: a
threads: {t: p()}
"""


def errors(tree: object) -> list[str]:
    return [e.message for e in VALIDATOR.iter_errors(tree)]


def test_the_published_schema_is_the_generated_one() -> None:
    assert PUBLISHED.read_text(encoding="utf-8") == schema_text(), "run `make schema`"


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(json.loads(PUBLISHED.read_text(encoding="utf-8")))


def test_the_command_prints_and_writes_the_schema(tmp_path: Path) -> None:
    printed = CliRunner().invoke(main, ["schema"])
    written = CliRunner().invoke(main, ["schema", "-o", str(tmp_path / "s.json")])
    assert printed.exit_code == written.exit_code == 0
    assert printed.output == (tmp_path / "s.json").read_text(encoding="utf-8") == schema_text()


def test_the_schema_covers_the_parser_tables() -> None:
    schema = spec_schema()
    assert list(schema["properties"]) == list(TOP_KEYS)
    forms = [next(iter(branch["required"])) for branch in schema["$defs"]["statement"]["anyOf"][1:]]
    assert forms == list(MAPPING_FORMS) and set(LOCK_API) | set(RCU_API) <= set(forms)


def test_every_shipped_spec_is_checked() -> None:
    assert len(SHIPPED) >= 30 and any(p.parent.name == "bugs" for p in SHIPPED)


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(ROOT)) for p in SHIPPED])
def test_every_shipped_spec_validates(path: Path) -> None:
    assert errors(yaml.safe_load(path.read_text(encoding="utf-8"))) == []


# Each a change to GOOD that the parser refuses (with this code): the schema must refuse it too.
REFUSED = {
    "unknown top-level key": ("lockz: {}\n", "NC104"),
    "unknown lock kind": ("locks: {a: semaphore}\n", "NC109"),
    "unknown lock key": ("locks: {a: {kind: mutex, pre: []}}\n", "NC104"),
    "two statement forms": ("procedures:\n  p():\n    - {mutex_lock: a, mutex_unlock: a}\n", "NC207"),
    "misspelt statement": ("procedures:\n  p():\n    - mutex_lok: a\n", "NC207"),
    "key of another form": ("procedures:\n  p():\n    - {mutex_lock: a, do: []}\n", "NC104"),
    "two property kinds": ("properties: {x: {invariant: 'true', final: 'true'}}\n", "NC118"),
    "property without kind": ("properties: {x: {about: nothing}}\n", "NC118"),
    "option not a flag": ("options: {deadlock: maybe}\n", "NC101"),
    "unknown rwsem wake": ("options: {rwsem_wake: fifo}\n", "NC101"),
    "bad expect": ("expect: fine\n", "NC120"),
    "thread count": ("threads: {t: {run: p(), count: 17}}\n", "NC115"),
    "thread key": ("threads: {t: {run: p(), cout: 2}}\n", "NC104"),
    "procedure key": ("procedures:\n  p():\n    bdy: []\n", "NC104"),
    "version": ("netcheck: 2\n", "NC105"),
}


@pytest.mark.parametrize("change", list(REFUSED))
def test_what_the_schema_refuses_the_parser_refuses(change: str, write_spec) -> None:
    text, code = REFUSED[change]
    tree = {**yaml.safe_load(GOOD), **yaml.safe_load(text)}
    assert errors(tree), f"the schema accepts: {change}"
    with pytest.raises(SpecError) as err:
        load_spec(write_spec(yaml.safe_dump(tree, sort_keys=False)))
    assert code in {d.code for d in err.value.diagnostics}, str(err.value)


def test_the_good_spec_passes_both(write_spec) -> None:
    assert errors(yaml.safe_load(GOOD)) == [] and load_spec(write_spec(GOOD)).threads
