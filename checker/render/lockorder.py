"""The lock-order analysis in lockdep's layout (text) and as JSON."""

from __future__ import annotations

from netcheck.model.lang.spec import KnownCycle

from ..analyses.irqsafety import IrqConflict, Usage
from ..analyses.lockorder import (
    SHARED_MODES,
    Cycle,
    Dependency,
    LockOrder,
    Site,
    Waived,
    dep_kind,
    gate_text,
    mode_suffix,
)


def _lock_call(mode: str, lock: str) -> str:
    return f"{'rlock' if mode in SHARED_MODES else 'lock'}({lock});"


def scenario(cycle: Cycle) -> list[str]:
    """lockdep's "Possible unsafe locking scenario": one column per CPU, ending in *** DEADLOCK ***."""
    width = 32
    if cycle.recursive and cycle.deps[0].held_mode in SHARED_MODES and cycle.deps[0].kind == "SN":
        # a non-recursive reader again: it deadlocks once a writer queues between the two read acquisitions
        dep = cycle.deps[0]
        cpus = 2
        rows = [(0, _lock_call(dep.held_mode, dep.held)), (1, f"lock({dep.held});"),
                (0, _lock_call(dep.acquired_mode, dep.acquired))]
    elif cycle.recursive:
        dep = cycle.deps[0]
        cpus = 1
        rows = [(0, _lock_call(dep.held_mode, dep.held)), (0, _lock_call(dep.acquired_mode, dep.acquired))]
    else:
        cpus = len(cycle.deps)
        rows = [(i, _lock_call(d.held_mode, d.held)) for i, d in enumerate(cycle.deps)]
        rows += [(i, _lock_call(d.acquired_mode, d.acquired)) for i, d in reversed(list(enumerate(cycle.deps)))]
    out = [" Possible unsafe locking scenario:", ""]
    out.append("       " + "".join(f"CPU{i}".ljust(width) for i in range(cpus)).rstrip())
    out.append("       " + "".join("----".ljust(width) for _ in range(cpus)).rstrip())
    out.extend(("  " if cpu == 0 else " " * (7 + width * cpu)) + text for cpu, text in rows)
    out += ["", " *** DEADLOCK ***"]
    if cycle.recursive and cpus == 1:
        out += ["", " May be due to missing lock nesting notation"]
    return out


def render_dependency(dep: Dependency, indent: str = "    ") -> list[str]:
    who = ", ".join(dep.threads)
    return [f"{indent}{dep.held}{mode_suffix(dep.held_mode)} --> {dep.acquired}{mode_suffix(dep.acquired_mode)}"
            f"  [{dep.kind}]{'  ' + who if who else ''}",
            f"{indent}    held at     {dep.held_site}",
            f"{indent}    acquired at {dep.acquired_site}"]


def render_cycle(cycle: Cycle) -> list[str]:
    """One strong cycle in lockdep's layout: the warning, the chain, each edge's sites, the scenario."""
    if cycle.recursive:
        dep = cycle.deps[0]
        title = "WARNING: possible recursive locking detected"
        head = [f"{dep.threads[0] if dep.threads else 'a task'} is trying to acquire lock:",
                f" ({dep.acquired}){{{dep.acquired_mode}}}, at: {dep.acquired_site}", "",
                "but task is already holding lock:",
                f" ({dep.held}){{{dep.held_mode}}}, at: {dep.held_site}"]
    else:
        title = "WARNING: possible circular locking dependency detected"
        head = ["Chain exists of:", f"  {cycle.chain}", "", "the dependencies (kind, who, where):"]
        for dep in cycle.deps:
            head.extend(render_dependency(dep, "  "))
    bar = "=" * len(title)
    out = [bar, title, "-" * len(title), *head, "", "other info that might help us debug this:", ""]
    out.extend(scenario(cycle))
    if cycle.gate:
        out += ["", f" {gate_text(cycle)}",
                " (lockdep would still report it: if the order is intended, declare it with its reason,",
                f"  known_cycles: [{{locks: [{', '.join(cycle.locks)}], reason: \"...\"}}])"]
    return out


def _usage_line(u: Usage) -> str:
    return f"{u.lock} {{{u.usage}}} taken at {u.site}" + (f"  ({', '.join(u.threads)})" if u.threads else "")


def irq_scenario(conflict: IrqConflict) -> list[str]:
    """lockdep's "Possible (interrupt) unsafe locking scenario" of an interrupt-safety conflict."""
    width, safe, unsafe = 32, conflict.chain[0], conflict.chain[-1]
    disable = "local_irq_disable();" if conflict.irq == "HARDIRQ" else "local_bh_disable();"
    if conflict.inconsistent:
        out = [" Possible unsafe locking scenario:", "", "       CPU0", "       ----", f"  lock({safe});"]
    else:
        out = [" Possible interrupt unsafe locking scenario:", "",
               "       " + "CPU0".ljust(width) + "CPU1", "       " + "----".ljust(width) + "----",
               f"  lock({unsafe});", *[" " * (7 + width) + line for line in
                                       (disable, f"lock({safe});", f"lock({unsafe});")]]
    return [*out, "  <Interrupt>", f"    lock({safe});", "", " *** DEADLOCK ***"]


def render_conflict(conflict: IrqConflict) -> list[str]:
    """An interrupt-safety conflict in lockdep's layout: the warning, the usages (and the chain), the scenario."""
    title = conflict.title
    chain = ["Chain exists of:", f"  {' --> '.join(conflict.chain)}", "", "the dependencies (kind, who, where):"]
    head = [conflict.message + "."] if conflict.inconsistent else chain
    for dep in conflict.deps:
        head.extend(render_dependency(dep, "  "))
    head += ["", _usage_line(conflict.safe), _usage_line(conflict.unsafe)]
    return ["=" * len(title), title, "-" * len(title), *head, "", "other info that might help us debug this:", "",
            *irq_scenario(conflict)]


def waiver_lines(order: LockOrder, indent: str = "  ") -> list[str]:
    """The known cycles: each waived one with its reason (and gate), then the stale waivers."""
    out: list[str] = []
    for w in order.waived:
        gated = f"; {gate_text(w.cycle)}" if w.cycle.gate else ""
        out.append(f"{indent}known cycle (waived at {w.known.span.short}): {w.cycle.chain}{gated}")
        out.append(f"{indent}    reason: {w.known.reason}")
    for k in order.stale:
        out.append(f"{indent}STALE WAIVER at {k.span.short}: no strong cycle through {', '.join(k.locks)} "
                   "(remove it, or fix its lock classes)")
    return out


def render_graph(order: LockOrder, indent: str = "  ") -> list[str]:
    """Every dependency, grouped by edge (classes and modes), then by where the first lock was taken."""
    out: list[str] = []
    if not order.deps:
        out.append(f"{indent}no lock is ever taken while another is held")
    edges: dict[tuple[str, str, str, str], dict[Site, list[Dependency]]] = {}
    for dep in order.deps:
        key = (dep.held, dep.held_mode, dep.acquired, dep.acquired_mode)
        edges.setdefault(key, {}).setdefault(dep.held_site, []).append(dep)
    for (a, am, b, bm), by_site in sorted(edges.items()):
        out.append(f"{indent}{a}{mode_suffix(am)} --> {b}{mode_suffix(bm)}  [{dep_kind(am, bm)}]")
        for site, deps in sorted(by_site.items()):
            out.append(f"{indent}    {a} held at {site}")
            for dep in deps:
                out.append(f"{indent}      {b} taken at {dep.acquired_site}  ({', '.join(dep.threads)})")
    return out


def summary(order: LockOrder) -> str:
    n = len(order.irq)
    irq = f"; {n} interrupt-safety conflict{'s' if n != 1 else ''} (lockdep would warn)" if n else ""
    return _cycles_summary(order) + irq


def _cycles_summary(order: LockOrder) -> str:
    edges = len({(d.held, d.held_mode, d.acquired, d.acquired_mode) for d in order.deps})
    head = (f"{len(order.classes)} lock class{'es' if len(order.classes) != 1 else ''}, {edges} "
            f"edge{'s' if edges != 1 else ''} ({len(order.deps)} dependenc{'ies' if len(order.deps) != 1 else 'y'})")
    known = f", {len(order.waived)} known cycle{'s' if len(order.waived) != 1 else ''} waived" if order.waived else ""
    stale = f", {len(order.stale)} stale waiver{'s' if len(order.stale) != 1 else ''}" if order.stale else ""
    if order.cycles:
        n = len(order.cycles) + order.more_cycles
        gated = sum(1 for c in order.cycles if c.gate)
        never = f", {gated} never reached" if gated else ""
        return f"{head}: {n} strong cycle{'s' if n != 1 else ''} (potential deadlock{never}){known}{stale}"
    if not order.complete:
        return f"{head}: no strong cycle in the states explored (exploration incomplete){known}"
    if order.waived:
        n = len(order.waived)
        return f"{head}: no strong cycle besides {n} known one{'s' if n != 1 else ''} (waived){stale}"
    return f"{head}: no strong cycle{stale}"


def edge_lines(order: LockOrder, indent: str = "    ") -> list[str]:
    """One line per (held, mode, acquired, mode) edge, with the functions holding the first lock."""
    grouped: dict[tuple[str, str, str, str], set[str]] = {}
    for d in order.deps:
        key = (d.held, d.held_mode, d.acquired, d.acquired_mode)
        grouped.setdefault(key, set()).add(d.held_site.context or d.held_site.function)
    return [f"{indent}{a}{mode_suffix(am)} --> {b}{mode_suffix(bm)}  [{dep_kind(am, bm)}]  held in "
            + ", ".join(f"{f}()" for f in sorted(fs)) for (a, am, b, bm), fs in sorted(grouped.items())]


def report_section(order: LockOrder) -> list[str]:
    """The verify section: the edges in one line each, then each cycle in lockdep's layout."""
    out = [f"  {summary(order)}"]
    out.extend(edge_lines(order))
    waivers = waiver_lines(order, "    ")
    if waivers:
        out += ["", *waivers]
    for cycle in order.cycles:
        out.append("")
        out.extend("  " + line if line else "" for line in render_cycle(cycle))
    if order.more_cycles:
        out += ["", f"  ... and {order.more_cycles} more strong cycles"]
    for conflict in order.irq:
        out.append("")
        out.extend("  " + line if line else "" for line in render_conflict(conflict))
    return out


def site_json(site: Site) -> dict:
    return {"location": site.location or None, "function": site.function or None, "statement": site.statement,
            "stack": list(site.stack)}


def dependency_json(dep: Dependency) -> dict:
    return {"held": dep.held, "held_mode": dep.held_mode, "acquired": dep.acquired,
            "acquired_mode": dep.acquired_mode, "kind": dep.kind, "held_site": site_json(dep.held_site),
            "acquired_site": site_json(dep.acquired_site), "threads": list(dep.threads)}


def cycle_json(cycle: Cycle) -> dict:
    """A cycle; `gate` lists the lock instances held at every acquisition on it (never reached when
    non-empty)."""
    return {"chain": cycle.chain, "locks": list(cycle.locks), "recursive": cycle.recursive,
            "gate": list(cycle.gate), "never_reached": bool(cycle.gate),
            "dependencies": [dependency_json(d) for d in cycle.deps]}


def usage_json(u: Usage) -> dict:
    return {"lock": u.lock, "usage": u.usage, "site": site_json(u.site), "threads": list(u.threads)}


def conflict_json(conflict: IrqConflict) -> dict:
    """An interrupt-safety conflict: `inconsistent` (one class, both usages) or an irq-safe -> irq-unsafe
    chain with its dependencies."""
    return {"irq": conflict.irq.lower(), "inconsistent": conflict.inconsistent, "message": conflict.message,
            "chain": list(conflict.chain), "safe": usage_json(conflict.safe), "unsafe": usage_json(conflict.unsafe),
            "dependencies": [dependency_json(d) for d in conflict.deps]}


def known_json(known: KnownCycle) -> dict:
    return {"locks": list(known.locks), "reason": known.reason, "location": known.span.short}


def waived_json(waived: Waived) -> dict:
    return {**cycle_json(waived.cycle), "waiver": known_json(waived.known)}


def to_json(order: LockOrder) -> dict:
    return {"status": order.status, "classes": list(order.classes),
            "dependencies": [dependency_json(d) for d in order.deps],
            "cycles": [cycle_json(c) for c in order.cycles],
            "more_cycles": order.more_cycles,
            "known_cycles": [waived_json(w) for w in order.waived],
            "stale_waivers": [known_json(k) for k in order.stale],
            "irq_conflicts": [conflict_json(c) for c in order.irq]}


def _dot_id(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(order: LockOrder, title: str) -> str:
    """The lock-order graph in Graphviz DOT: a node per lock class, an edge per (held, acquired) pair of
    classes and modes labelled with its lockdep kind and the procedures holding the first lock; the
    edges of strong cycles in red."""
    on_cycle = {(d.held, d.held_mode, d.acquired, d.acquired_mode) for c in order.cycles for d in c.deps}
    edges: dict[tuple[str, str, str, str], set[str]] = {}
    for dep in order.deps:
        key = (dep.held, dep.held_mode, dep.acquired, dep.acquired_mode)
        edges.setdefault(key, set()).add(f"{dep.held_site.context or dep.held_site.function}()")
    lines = [f"digraph {_dot_id('lock order')} {{", f"  label={_dot_id(title)};", "  labelloc=t;",
             "  node [shape=box];"]
    lines += [f"  {_dot_id(c)};" for c in order.classes]
    for (a, am, b, bm), held_in in sorted(edges.items()):
        modes = f" {mode_suffix(am)} -> {mode_suffix(bm)}" if mode_suffix(am) or mode_suffix(bm) else ""
        label = f"[{dep_kind(am, bm)}]{modes}\n" + ", ".join(sorted(held_in))
        red = ", color=red, fontcolor=red, penwidth=2" if (a, am, b, bm) in on_cycle else ""
        lines.append(f"  {_dot_id(a)} -> {_dot_id(b)} [label={_dot_id(label)}{red}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
