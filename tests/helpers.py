"""Paths and small utilities shared by the tests (importable: pytest puts tests/ on sys.path)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
EXAMPLES = ROOT / "docs" / "examples"
ABBA = (EXAMPLES / "bugs" / "abba.yaml").read_text()   # two threads, two mutexes, opposite orders
