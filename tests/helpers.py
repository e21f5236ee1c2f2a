"""Paths and small utilities shared by the tests (importable: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from netcheck.model.lang.parse import load_spec

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
EXAMPLES = ROOT / "docs" / "examples"
# the slow tier (`make test-slow`): marked slow, and skipped unless NETCHECK_SLOW is set
SLOW = bool(os.environ.get("NETCHECK_SLOW"))
SLOW_MARKS = (pytest.mark.slow, pytest.mark.skipif(not SLOW, reason="slow: set NETCHECK_SLOW=1 (make test-slow)"))
ABBA = (EXAMPLES / "bugs" / "abba.yaml").read_text()   # two threads, two mutexes, opposite orders
# a daemon that never rests: polls a counter under its own spinlock for ever, always able to step (6 states
# of its own: spin_lock, assignment, spin_unlock, times polls 0 and 1); needs `stat_lock: spinlock` and
# `polls: int[0..1]`; a `procedures:` entry at two spaces
BUSY_POLLER = """
  poller():
    - while: true
      do:
        - spin_lock: stat_lock
        - polls = 1 - polls
        - spin_unlock: stat_lock
"""


def expected_violations(path: Path) -> tuple[str, ...]:
    """The properties a bug spec's `expect:` says it violates (every shipped bug spec has one)."""
    expect = load_spec(path).expect
    assert expect is not None and expect.violated, f"{path.name} must say which properties catch it (expect:)"
    return expect.violated
