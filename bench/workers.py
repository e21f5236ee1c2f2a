"""`make bench` (second part): the search on Ray workers (`verify --workers N`) against the one-process
search in the same run, on net_sem.yaml at default bounds, subsys=2 and net=3 (net=3 with the reduction
and symmetry: the full search does not fit): seconds, the speed-up, the coordinator's and each worker's
peak memory. Each run happens in a fresh subprocess (its own local Ray cluster, whose start-up is left
out of the time: the search alone is timed), so that peak memory is that run's own. Both searches must
find the same states and the same violations; a difference fails the benchmark.

`python bench/workers.py [WORKERS...]` (default: 1 2).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = [
    ("specs/net_sem.yaml", {}, "none", "off"),
    ("specs/net_sem.yaml", {"subsys": 2}, "none", "off"),
    ("specs/net_sem.yaml", {"net": 3}, "protected", "on"),
]

CHILD = r"""
import json, resource, sys, time
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.discipline import Reduction
from netcheck.model.semantics.system import TransitionSystem
from netcheck.checker.engine.cluster import ClusterSpec, cluster
from netcheck.checker.engine.explore import explore
from netcheck.checker.report.build import report_observers
path, bounds, reduction, symmetry = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
workers = int(sys.argv[5])
system = TransitionSystem(load_spec(path, bounds), Reduction(reduction), symmetry == "on")

def run(count):
    started = time.perf_counter()
    exp = explore(system, observers=report_observers, workers=count, measure_memory=False)
    return exp, time.perf_counter() - started

if workers:
    with cluster(ClusterSpec(workers)) as count:
        exp, seconds = run(count)
else:
    exp, seconds = run(0)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"states": exp.state_count, "transitions": exp.transitions, "seconds": seconds, "peak_mb": peak,
                  "workers_mb": list(exp.worker_memory_mb), "violated": sorted(exp.violations)}))
"""


def measure(path: str, bounds: dict[str, int], reduction: str, symmetry: str, workers: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, path, json.dumps(bounds), reduction, symmetry, str(workers)],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    counts = [int(a) for a in sys.argv[1:]] or [1, 2]
    print("| spec | bounds | reduce, symmetry | workers | states | seconds | speed-up | states/s | "
          "coordinator MB | MB per worker |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---|")
    for path, bounds, reduction, symmetry in RUNS:
        shown = ",".join(f"{k}={v}" for k, v in bounds.items()) or "default"
        mode = f"{reduction}, {symmetry}"
        one = measure(path, bounds, reduction, symmetry, 0)
        print(f"| {Path(path).name} | {shown} | {mode} | one process | {one['states']:,} | {one['seconds']:.1f} | "
              f"1.00 | {one['states'] / one['seconds']:,.0f} | {one['peak_mb']:.0f} | |", flush=True)
        for workers in counts:
            r = measure(path, bounds, reduction, symmetry, workers)
            if (r["states"], r["transitions"], r["violated"]) != (one["states"], one["transitions"], one["violated"]):
                print(f"the search on {workers} workers differs from the one-process search: {r} against {one}")
                return 1
            per_worker = ", ".join(f"{m:.0f}" for m in r["workers_mb"])
            print(f"| {Path(path).name} | {shown} | {mode} | {workers} | {r['states']:,} | {r['seconds']:.1f} | "
                  f"{one['seconds'] / r['seconds']:.2f} | {r['states'] / r['seconds']:,.0f} | {r['peak_mb']:.0f} | "
                  f"{per_worker} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
