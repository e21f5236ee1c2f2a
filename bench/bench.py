"""`make bench`: explore the shipped specs at default and larger bounds; print states, rates, memory.

Each run happens in a fresh subprocess so that peak memory is that run's own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = [
    ("specs/net_mutex.yaml", {}),
    ("specs/net_sem.yaml", {}),
    ("specs/pernet_ops_rwsem.yaml", {}),
    ("specs/net_mutex.yaml", {"subsys": 2}),
    ("specs/net_sem.yaml", {"subsys": 2}),
    ("specs/pernet_ops_rwsem.yaml", {"subsys": 2}),
]

CHILD = r"""
import json, resource, sys, time
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.system import TransitionSystem
from netcheck.checker.engine.explore import explore
path, bounds = sys.argv[1], json.loads(sys.argv[2])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
system = TransitionSystem(load_spec(path, bounds))
exp = explore(system)
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"states": exp.state_count, "transitions": exp.transitions, "depth": exp.max_depth,
                  "seconds": seconds, "peak_mb": peak / 1024, "base_mb": base / 1024,
                  "violated": sorted(exp.violations)}))
"""


def main() -> int:
    header = (f"{'spec':<30} {'bounds':<12} {'states':>10} {'transitions':>12} {'depth':>6} {'seconds':>8} "
              f"{'states/s':>9} {'peak MB':>8} {'B/state':>8}")
    print(header)
    print("-" * len(header))
    for path, bounds in RUNS:
        out = subprocess.run([sys.executable, "-c", CHILD, path, json.dumps(bounds)], cwd=ROOT,
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout)
        per_state = (r["peak_mb"] - r["base_mb"]) * 2**20 / max(1, r["states"])
        shown = ",".join(f"{k}={v}" for k, v in bounds.items()) or "default"
        print(f"{Path(path).name:<30} {shown:<12} {r['states']:>10,} {r['transitions']:>12,} {r['depth']:>6} "
              f"{r['seconds']:>8.2f} {r['states'] / r['seconds']:>9,.0f} {r['peak_mb']:>8.0f} {per_state:>8.0f}"
              + (f"  violated: {', '.join(r['violated'])}" if r["violated"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
