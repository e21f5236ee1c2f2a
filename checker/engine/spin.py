"""SPIN as a second engine: a Promela model (model/semantics/promela.py) through `spin -a`, the C compiler
and `./pan`, each stage timed; pan's state count and first error parsed from its output."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SPIN_FLAGS = ("-o2",)                  # no dead-variable elimination: a write nothing reads still makes a new state
PAN_FLAGS = ("-m1000000", "-w24")      # no depth limit in practice, a hash table for millions of states
CC_FLAGS = ("-DSAFETY", "-DNOREDUCE")  # safety only, no partial-order reduction: every state is stored
INSTALL_HINT = "SPIN and a C compiler are needed: apt-get install spin gcc (or https://spinroot.com)"


class SpinError(Exception):
    """A stage of the pipeline failed (its output says why)."""


@dataclass(frozen=True)
class SpinResult:
    """What pan reported, and how long each stage took (seconds)."""

    states: int
    transitions: int
    errors: int
    error: str            # the first error: the property an assertion names, "deadlock" (invalid end state), or ''
    complete: bool        # pan explored everything (no depth limit hit, not stopped at an error)
    generate: float       # spin -a
    compile: float        # cc
    search: float         # ./pan

    @property
    def total(self) -> float:
        return self.generate + self.compile + self.search


def available(cc: str = "gcc") -> bool:
    return shutil.which("spin") is not None and shutil.which(cc) is not None


def _run(cmd: list[str], cwd: Path) -> tuple[str, float]:
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    out = done.stdout + done.stderr
    if done.returncode != 0 and not cmd[0].endswith("pan"):
        raise SpinError(f"{' '.join(cmd)} failed:\n{out[-2000:]}")
    return out, seconds


def parse_pan(out: str) -> tuple[int, int, int, str, bool]:
    """(states stored, transitions, errors, first error, complete) from pan's report."""
    def number(pattern: str) -> int:
        found = re.search(pattern, out)
        if found is None:
            raise SpinError(f"pan's output has no {pattern!r}:\n{out[-2000:]}")
        return int(found.group(1))
    states = number(r"(\d+) states, stored")
    transitions = number(r"(\d+) transitions \(")
    errors = number(r"errors: (\d+)")
    error = ""
    if (found := re.search(r"assertion violated \(*V_(\w+)", out)) is not None:
        error = found.group(1)
    elif "invalid end state" in out.split("Full statespace")[0]:
        error = "deadlock"
    elif errors:
        error = "other: " + out.split("\n", 2)[1]
    complete = errors == 0 and "max search depth too small" not in out
    return states, transitions, errors, error, complete


def run_spin(model: str, optimise: str = "-O2", cc: str = "gcc", workdir: Path | None = None) -> SpinResult:
    """The whole pipeline on a Promela text, in `workdir` (a temporary directory when None)."""
    with tempfile.TemporaryDirectory(prefix="netcheck-spin-") as tmp:
        where = workdir or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        (where / "model.pml").write_text(model, encoding="utf-8")
        _, generate = _run(["spin", *SPIN_FLAGS, "-a", "model.pml"], where)
        _, compile_ = _run([cc, optimise, *CC_FLAGS, "-o", "pan", "pan.c"], where)
        out, search = _run(["./pan", *PAN_FLAGS], where)
    states, transitions, errors, error, complete = parse_pan(out)
    return SpinResult(states, transitions, errors, error, complete, generate, compile_, search)


__all__ = ["CC_FLAGS", "INSTALL_HINT", "PAN_FLAGS", "SPIN_FLAGS", "SpinError", "SpinResult", "available", "parse_pan",
           "run_spin"]
