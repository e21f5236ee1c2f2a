"""The diagnostic-code registry (model/lang/codes.py) is complete and exact, and the docs table is generated from it."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from netcheck.model.lang.codes import CODES, STAGES, codes_table

ROOT = Path(__file__).resolve().parent.parent
LITERAL = re.compile(r"""["'](NC\d{3})["']""")


def _used_codes() -> dict[str, list[str]]:
    """Every code literal in model/ and checker/ (outside the registry) -> where it stands."""
    out: dict[str, list[str]] = {}
    for path in sorted([*ROOT.glob("model/**/*.py"), *ROOT.glob("checker/**/*.py")]):
        if path.relative_to(ROOT).as_posix() == "model/lang/codes.py":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for code in LITERAL.findall(line):
                out.setdefault(code, []).append(f"{path.relative_to(ROOT)}:{n}")
    return out


def test_every_code_used_is_registered() -> None:
    unknown = {code: where for code, where in _used_codes().items() if code not in CODES}
    assert not unknown, f"codes missing from model/lang/codes.py: {unknown}"


def test_every_registered_code_is_used() -> None:
    used = _used_codes()
    assert [code for code in CODES if code not in used] == []


def test_registry_is_sorted_and_titled() -> None:
    assert list(CODES) == sorted(CODES)
    assert all(re.fullmatch(r"NC\d{3}", code) for code in CODES)
    assert all(title and title == title.strip() and "|" not in title for title in CODES.values())
    assert all(any(code.startswith(prefix) for prefix, _ in STAGES) for code in CODES)


def test_docs_table_is_generated_from_the_registry() -> None:
    spec = importlib.util.spec_from_file_location("codes_script", ROOT / "scripts" / "codes.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    text = script.DOC.read_text(encoding="utf-8")
    assert codes_table() in text
    assert script.render(text) == text, "docs/spec-language.md differs from model/lang/codes.py: run `make golden`"
