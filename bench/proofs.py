"""The symbolic engines on every shipped spec, next to the explicit search (`make bench-proofs`).

Per spec, one at a time, each engine in a process of its own (its time and peak memory its own, a timeout
killing it):
- the explicit search: states, seconds, and per violated property the length of a shortest counterexample;
- a spec with violations (a bug spec): BMC to the length of the longest shortest counterexample among the
  properties it decides, and whether it finds each at exactly the explicit length; when that run misses the
  property violated first, BMC again asked about that property alone (`--stop-on`, a smaller question per
  depth) to its explicit length;
- a spec without: k-induction to depth K and PDR, and which of the properties they decide they prove;
- both: the BDD search (engine/bdd.py) to its fixpoint (whose state count must equal the explicit search's;
  stuck threads are decided there), or until the timeout, keeping what it found by then.

Writes a Markdown table (docs/results.md takes it) and one JSON object per run to bench/proofs.jsonl (a
BMC run's with its seconds per depth, `times`).
Usage: python bench/proofs.py [--timeout S] [--depth K] [--engines bmc,kind,pdr,bdd] [--out FILE] [SPEC ...]
(--first-timeout S: the budget of the run about one property, by default the --timeout)
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
SPECS = [*sorted((ROOT / "specs").glob("*.yaml")), *sorted((ROOT / "specs" / "bugs").glob("*.yaml")),
         *sorted(EXAMPLES.glob("*.yaml")), *sorted((EXAMPLES / "bugs").glob("*.yaml")),
         EXAMPLES / "proofs" / "pernet_init_exit.yaml"]


def one(spec: str, engine: str, depth: int, timeout: float, bounds: str = "", prop: str = "") -> dict:
    """Run in this process (the child): one engine on one spec, as a JSON-able summary (`prop`: BMC asks
    about that property alone)."""
    from netcheck.checker.cli.run import parse_bounds
    from netcheck.checker.engine.bdd import bdd_search
    from netcheck.checker.engine.bmc import BmcError, bmc, covered
    from netcheck.checker.engine.explore import explore
    from netcheck.checker.engine.kinduction import kinduction
    from netcheck.checker.engine.limits import Limits, peak_rss_mb
    from netcheck.checker.engine.paths import path_to
    from netcheck.checker.engine.pdr import pdr
    from netcheck.model.lang.parse import load_spec
    from netcheck.model.semantics.system import TransitionSystem

    system = TransitionSystem(load_spec(Path(spec), parse_bounds((bounds,)) if bounds else None))
    began, cpu_began = time.perf_counter(), cpu()
    out: dict = {"spec": str(Path(spec).relative_to(ROOT)), "engine": engine, "bounds": bounds, "stop_on": prop}
    if engine == "explicit":
        exp = explore(system, Limits(timeout=timeout), measure_memory=False)
        decided = [name for name, why in covered(system).items() if not why]
        out.update(states=exp.state_count, complete=exp.complete,
                   lengths={name: len(p.labels) + (p.last is not None)
                            for name, f in exp.violations.items() if name in decided for p in [path_to(exp, f)]},
                   undecided=sorted(name for name in exp.violations if name not in decided))
    else:
        try:
            if engine == "bmc":
                result = bmc(system, depth, timeout, stop_on=frozenset({prop}) if prop else frozenset())
            elif engine == "bdd":   # to the depth of the deepest violation, or (0) to the fixpoint
                result = bdd_search(system, depth or None, timeout)
            elif engine == "kind":
                result = kinduction(system, depth, timeout)
            else:
                result = pdr(system, timeout)
        except BmcError as err:
            out.update(error=str(err), seconds=round(time.perf_counter() - began, 2), memory_mb=round(peak_rss_mb()))
            return out
        out.update(depth=depth, reached=result.reached, covered=list(result.covered),
                   lengths={name: len(result.paths[name].labels) + (result.paths[name].last is not None)
                            for name in result.violations},
                   proofs={name: p.size if p.engine == "pdr" else p.k
                           for name, p in getattr(result, "proofs", {}).items()},
                   unknown={name: why for name, why in result.unknown.items() if name in result.covered},
                   times=[round(t, 1) for t in getattr(result, "times", [])],
                   fixpoint=getattr(result, "fixpoint", False), states=getattr(result, "states", 0))
    out.update(seconds=round(time.perf_counter() - began, 2), cpu=round(cpu() - cpu_began, 2),
               memory_mb=round(peak_rss_mb()))
    return out


def cpu() -> float:
    """CPU seconds of this process (the machine may be shared: wall-clock timeouts then cut runs short)."""
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_utime


def run(spec: Path, engine: str, depth: int, timeout: float, bounds: str = "", prop: str = "") -> dict:
    """One engine on one spec in a child process, killed after the timeout (and a grace period)."""
    began = time.perf_counter()
    args = [sys.executable, __file__, "--child", engine, "--depth", str(depth), "--timeout", str(timeout),
            "--bounds", bounds, "--prop", prop, str(spec)]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 30, check=False)
    except subprocess.TimeoutExpired:
        return {"spec": str(spec.relative_to(ROOT)), "engine": engine, "bounds": bounds, "stop_on": prop,
                "error": f"killed after {timeout + 30:g} s", "seconds": round(time.perf_counter() - began, 1)}
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        return {"spec": str(spec.relative_to(ROOT)), "engine": engine, "bounds": bounds, "stop_on": prop,
                "error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1],
                "seconds": round(time.perf_counter() - began, 1)}
    return json.loads(lines[-1])


def reason(why: str) -> str:
    """A short tag for why a property stayed open."""
    if "induction step fails" in why:
        return "CTI"
    if "canceled" in why or "timeout" in why:
        return "z3 timeout"
    return why[:60]


def decided_below(row: dict, prop: str) -> int:
    """The depth below which a BMC run shows `prop` unbroken: the one z3 could not decide it at, else one past
    the deepest depth the run decided."""
    found = re.search(r"could not decide at depth (\d+)", row["unknown"].get(prop, ""))
    return int(found.group(1)) if found else row["reached"] + 1


def verdict(row: dict, explicit: dict) -> str:
    """What a symbolic run shows, compared with the explicit search."""
    if "error" in row:
        return f"error: {row['error'][:80]}"
    covered = set(row["covered"])
    expected = {p: n for p, n in explicit.get("lengths", {}).items()
                if p in covered and row.get("stop_on", "") in ("", p)}
    if row["engine"] in ("bmc", "bdd"):
        found = row["lengths"]
        same = all(found.get(p) == n for p, n in expected.items())
        parts = [f"{p} at {found[p]}" for p in sorted(found)]
        missing = [p for p in expected if p not in found]
        why = "; ".join(sorted({reason(row["unknown"][p]) for p in missing if p in row["unknown"]}))
        text = (f"{row['stop_on']} alone: " if row.get("stop_on") else "") + (", ".join(parts) or "nothing found")
        if missing:
            shortest = min(decided_below(row, p) for p in missing)
            notes = [*([why] if why else []), f"none shorter than {shortest}"]
            text += f"; not found: {', '.join(missing)} ({'; '.join(notes)})"
        if expected:
            text += " = explicit" if same and not missing else ""
        if row.get("fixpoint"):
            n = explicit.get("states")
            text += f"; fixpoint, {row['states']} states ({'as explicit' if row['states'] == n else f'explicit: {n}'})"
        return text
    proved = sorted(row["proofs"])
    violated = sorted(row["lengths"])
    opened = sorted(p for p in covered if p not in proved and p not in violated)
    text = f"proved {len(proved)}/{len(covered)}"
    if violated:
        text += f", violated {', '.join(violated)}"
    if opened:
        reasons = sorted({reason(row["unknown"].get(p, "")) for p in opened} - {""})
        text += f"; open: {', '.join(opened)}" + (f" ({'; '.join(reasons)})" if reasons else "")
    return text


def line_of(row: dict, explicit: dict) -> str:
    """One table row: a symbolic run next to the explicit search of the same spec."""
    shown = "error" if "error" in explicit else \
        f"{explicit['states']}{'' if explicit['complete'] else ' (stopped)'}, {explicit['seconds']}"
    depth = row.get("depth", "-") if row["engine"] != "pdr" else "-"
    depth = "fixpoint" if row["engine"] == "bdd" and not depth else depth
    return (f"| {row['spec']} | {shown} | {row['engine']} | {depth} | {row.get('seconds', '')}, {row.get('cpu', '')} "
            f"| {row.get('memory_mb', '')} | {verdict(row, explicit)} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", default="")
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--bounds", default="")
    ap.add_argument("--prop", default="", help="(a child) BMC asks about this property alone")
    ap.add_argument("--first-timeout", type=float, default=0.0,
                    help="the budget of BMC about the property violated first (default: --timeout)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "proofs.jsonl"))
    ap.add_argument("--table", default="", help="print the table of a log written before, and run nothing")
    ap.add_argument("--engines", default="bmc,kind,pdr,bdd", help="the symbolic engines to run (comma-separated)")
    ap.add_argument("specs", nargs="*")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(one(args.specs[0], args.child, args.depth, args.timeout, args.bounds, args.prop)))
        return
    if args.table:   # the table again from a log
        explicit: dict = {}
        with open(args.table, encoding="utf-8") as log:
            for line in log:
                row = json.loads(line)
                if row["engine"] == "explicit":
                    explicit = row
                    continue
                print(line_of(row, explicit))
        return
    specs = [Path(s).resolve() for s in args.specs] or SPECS
    print("| spec | explicit (states, s) | engine | depth | time (s, CPU s) | memory (MiB) | result |")
    print("|---|---|---|---|---|---|---|")
    with open(args.out, "w", encoding="utf-8") as log:
        for spec in specs:
            explicit = run(spec, "explicit", 0, args.timeout, args.bounds)
            log.write(json.dumps(explicit) + "\n")
            shown = "error" if "error" in explicit else f"{explicit['states']}, {explicit['seconds']}"
            lengths = explicit.get("lengths", {})
            if lengths:
                # the BDD search to its fixpoint: stuck threads are decided there (and nothing stops it early)
                plans = [("bmc", max(lengths.values()), ""), ("bdd", 0, "")]
            elif explicit.get("undecided") or "error" in explicit:
                name = str(spec.relative_to(ROOT))
                what = explicit.get("error") or f"violates only {', '.join(explicit['undecided'])}"
                print(f"| {name} | {shown} | - | - | - | - | {what} |", flush=True)
                continue
            else:
                plans = [("kind", args.depth, ""), ("pdr", 0, ""), ("bdd", 0, "")]
            engines = set(args.engines.split(","))
            for engine, depth, prop in plans:
                if engine not in engines:
                    continue
                budget = (args.first_timeout or args.timeout) if prop else args.timeout
                row = run(spec, engine, depth, budget, args.bounds, prop)
                log.write(json.dumps(row) + "\n")
                log.flush()
                print(line_of(row, explicit), flush=True)
                first = min(lengths, key=lambda p: (lengths[p], p)) if engine == "bmc" and lengths else ""
                if not prop and first and first in row.get("covered", ()) and first not in row.get("lengths", {}):
                    plans.append(("bmc", lengths[first], first))   # missed: asked again about it alone


if __name__ == "__main__":
    main()
