"""`make bench`: explore the shipped specs at default and larger bounds, with no reduction, with
`--reduce protected`, with symmetry and with both, each with states stored whole and some also as
fingerprints (`--store hash`; net=3: with symmetry only: the full search does not fit); at default bounds
the unreduced search also with the step memo off (model/semantics/memo.py: every step fired on every
state); print states, rates, memory. Then the three scenarios at default bounds and at net=3 through SPIN:
netcheck's time to verdict (`netcheck verify`, start-up included) against SPIN's whole pipeline
(`netcheck export --promela`, `spin -o2 -a`, `gcc -O2 -DSAFETY -DNOREDUCE`, `./pan`), each stage timed,
both state counts (equal: the export makes one SPIN state per netcheck state) and the ratio (at net=3
only the reduced and symmetric search: the full one does not fit). `python bench/bench.py spin` runs only the SPIN
comparison.

Each run happens in a fresh subprocess so that peak memory is that run's own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from netcheck.checker.engine.spin import CC_FLAGS, INSTALL_HINT, PAN_FLAGS, SPIN_FLAGS, available, run_spin
from netcheck.checker.engine.store import NATIVE_STORE

ROOT = Path(__file__).resolve().parent.parent
RUNS = [
    ("specs/net_mutex.yaml", {}),
    ("specs/net_sem.yaml", {}),
    ("specs/pernet_ops_rwsem.yaml", {}),
    ("specs/net_mutex.yaml", {"subsys": 2}),
    ("specs/net_sem.yaml", {"subsys": 2}),
    ("specs/pernet_ops_rwsem.yaml", {"subsys": 2}),
    ("specs/net_mutex.yaml", {"net": 3}),
    ("specs/net_sem.yaml", {"net": 3}),
    ("specs/pernet_ops_rwsem.yaml", {"net": 3}),
]
SPIN_RUNS = RUNS[:3] + RUNS[6:]   # default bounds, and net=3 (netcheck's unreduced search skipped there)
# (reduction, symmetry, store) per row; net=3 runs only the modes that fit
MODES = [("none", "off", "full"), ("none", "off", "hash"), ("protected", "off", "full"), ("none", "on", "full"),
         ("protected", "on", "full"), ("protected", "on", "hash")]
NET3_MODES = [("none", "on", "full"), ("protected", "on", "full"), ("protected", "on", "hash")]
# rows run with the step memo off too (default bounds only): what the memo saves
MEMO_OFF = [("none", "off", "full")]

CHILD = r"""
import json, resource, sys, time
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.discipline import Reduction
from netcheck.model.semantics.system import TransitionSystem
from netcheck.checker.engine.explore import explore
from netcheck.checker.engine.store import StoreKind
path, bounds, reduction, memo = sys.argv[1], json.loads(sys.argv[2]), Reduction(sys.argv[3]), sys.argv[6] == "on"
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
system = TransitionSystem(load_spec(path, bounds), reduction, sys.argv[4] == "on")
exp = explore(system, store=StoreKind(sys.argv[5]), memo=memo)
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"states": exp.state_count, "transitions": exp.transitions, "depth": exp.max_depth,
                  "seconds": seconds, "peak_mb": peak / 1024, "base_mb": base / 1024,
                  "violated": sorted(exp.violations)}))
"""


def timed(cmd: list[str]) -> tuple[str, float]:
    started = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if out.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr}")
    return out.stdout, seconds


def spin_comparison() -> None:
    """netcheck verify against SPIN's pipeline on the same scenarios, measured in this one run."""
    print()
    print(f"SPIN comparison: spin {' '.join(SPIN_FLAGS)} -a, gcc -O2 {' '.join(CC_FLAGS)}, pan {' '.join(PAN_FLAGS)}")
    if not available():
        print(f"  skipped: {INSTALL_HINT}")
        return
    header = (f"{'spec':<24} {'netcheck':>9} {'states':>9} {'export':>7} {'spin -a':>8} {'gcc':>7} {'pan':>7} "
              f"{'SPIN':>7} {'states':>9} {'equal':>5} {'SPIN/netcheck':>13} {'pan/netcheck':>12} "
              f"{'reduced+sym':>11} {'states':>9} {'netcheck/SPIN':>13}")
    print(header)
    print("-" * len(header))
    cli = [sys.executable, "-m", "netcheck.checker.cli"]
    for path, bounds in SPIN_RUNS:
        bound_args = [arg for name, value in bounds.items() for arg in ("--bound", f"{name}={value}")]
        name = Path(path).name + "".join(f" {k}={v}" for k, v in bounds.items())
        full = not bounds   # net=3: the unreduced search does not fit
        if full:
            out, verify = timed([*cli, "verify", path, "--reduce", "none", "--symmetry", "off", "--format", "json"])
            states = json.loads(out)["stats"]["states"]
        out, both = timed([*cli, "verify", path, *bound_args, "--reduce", "protected", "--symmetry", "on",
                           "--format", "json"])
        both_states = json.loads(out)["stats"]["states"]
        with tempfile.TemporaryDirectory(prefix="netcheck-bench-") as tmp:
            model = Path(tmp) / "model.pml"
            _, export = timed([*cli, "export", "--promela", path, *bound_args, "-o", str(model)])
            spin = run_spin(model.read_text(encoding="utf-8"), optimise="-O2", workdir=Path(tmp) / "spin")
        total = export + spin.total
        verdict = "" if not spin.error else f"  SPIN: {spin.error}"
        mine = (f"{verify:>8.2f}s {states:>9,}" if full else f"{'-':>9} {'-':>9}")
        equal = ("yes" if spin.states == states else "NO") if full else "-"
        ratios = (f"{total / verify:>12.2f}x {spin.search / verify:>11.2f}x" if full else f"{'-':>13} {'-':>12}")
        print(f"{name:<24} {mine} {export:>6.2f}s {spin.generate:>7.2f}s "
              f"{spin.compile:>6.2f}s {spin.search:>6.2f}s {total:>6.2f}s {spin.states:>9,} "
              f"{equal:>5} {ratios} {both:>10.2f}s {both_states:>9,} {both / total:>12.2f}x{verdict}")
    print("netcheck: verify --reduce none --symmetry off end to end (start-up, exploration, report); SPIN: export\n"
          "+ spin -a + gcc + pan; reduced+sym: verify --reduce protected --symmetry on (what verify does by\n"
          "default on these specs), and its time over SPIN's pipeline")


def main() -> int:
    if sys.argv[1:] == ["spin"]:
        spin_comparison()
        return 0
    print("full store:", "native (engine/_arena.c)" if NATIVE_STORE else "packed states in a dict (no native store)")
    header = (f"{'spec':<26} {'bounds':<10} {'reduce':<10} {'symmetry':<8} {'store':<5} {'memo':<4} {'states':>10} "
              f"{'transitions':>12} "
              f"{'depth':>6} {'seconds':>8} {'states/s':>9} {'peak MB':>8} {'B/state':>8}")
    print(header)
    print("-" * len(header))
    for path, bounds in RUNS:
        modes = [(*mode, "on") for mode in (NET3_MODES if bounds.get("net") == 3 else MODES)]
        if not bounds:
            modes[1:1] = [(*mode, "off") for mode in MEMO_OFF]
        for reduction, symmetry, store, memo in modes:
            out = subprocess.run([sys.executable, "-c", CHILD, path, json.dumps(bounds), reduction, symmetry, store,
                                  memo], cwd=ROOT, capture_output=True, text=True, check=True)
            r = json.loads(out.stdout)
            per_state = (r["peak_mb"] - r["base_mb"]) * 2**20 / max(1, r["states"])
            shown = ",".join(f"{k}={v}" for k, v in bounds.items()) or "default"
            print(f"{Path(path).name:<26} {shown:<10} {reduction:<10} {symmetry:<8} {store:<5} {memo:<4} "
                  f"{r['states']:>10,} {r['transitions']:>12,} "
                  f"{r['depth']:>6} {r['seconds']:>8.2f} {r['states'] / r['seconds']:>9,.0f} {r['peak_mb']:>8.0f} "
                  f"{per_state:>8.0f}" + (f"  violated: {', '.join(r['violated'])}" if r["violated"] else ""))
    spin_comparison()
    return 0


if __name__ == "__main__":
    sys.exit(main())
