"""Liveness properties (checker/analyses/liveness.py, fairgraph.py): `eventually:`, `leads_to:`, `progress:`
and `returns_when_killed:` under weak and strong fairness, on small specs whose answers are worked out by
hand, on a shipped spec and its killable-to-plain mutant, and on generated specs against a second
computation (networkx's strongly connected components over a graph built by a search of its own).
Every lasso is replayed and checked: a real path, a cycle back to where it starts, the goal never
reached, and the fairness it claims."""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent

import networkx as nx
import pytest
from click.testing import CliRunner
from helpers import SPECS
from hypothesis import assume
from hypothesis import strategies as st
from netcheck.checker.analyses.latency import completes_slow_step
from netcheck.checker.analyses.liveness import wait_positions
from netcheck.checker.analyses.mutate import BASELINE, _check, apply, mutations
from netcheck.checker.cli import main
from netcheck.checker.engine.explore import explore
from netcheck.checker.engine.limits import Limits
from netcheck.checker.engine.vocabulary import Status
from netcheck.checker.render.text import render_text
from netcheck.checker.report.build import PropertyResult, build_report
from netcheck.model.lang.errors import SpecError
from netcheck.model.semantics.evaluate import EvalError
from netcheck.model.semantics.runtime import Violation
from netcheck.model.semantics.system import TransitionSystem
from netcheck.model.semantics.waits import waited_for
from spec_generator import BUG_PATTERNS, generated_systems, spec_dicts, to_yaml
from test_latency import TWO_UNDER_A_MUTEX
from test_reference_agreement import load_text

# a thread that takes and drops m forever, and one that wants m once. Weak fairness: the waiter is
# disabled whenever the hog holds m, so a run where the hog alone goes round (lock, unlock) is fair and
# the waiter never gets m. Strong fairness: the waiter is enabled again and again (each time m is free),
# so it must get m.
STARVING_MUTEX = """
    netcheck: 1
    locks: {m: mutex}
    state: {done: bool}
    procedures:
      hog():
        - while: true
          do:
            - mutex_lock: m
            - mutex_unlock: m
      waiter():
        - mutex_lock: m
        - done = true
        - mutex_unlock: m
    threads:
      hog: {run: hog(), daemon: true}
      waiter: waiter()
    properties:
      waiter_gets_m: {progress: waiter}
      waiter_gets_m_strong: {progress: waiter, fairness: strong}
      done_eventually: {eventually: done}
      done_eventually_strong: {eventually: done, fairness: strong}
"""

# the same hog as a writer of an rwsem, and a reader: the rwsem queue is FIFO, so once the reader has
# queued behind the hog's write hold, the hog's up_write grants it the lock before the hog can take it
# again; and a reader that finds s held can always queue (a step of its own). Weak fairness is enough.
FAIR_RWSEM_READER = """
    netcheck: 1
    locks: {s: rwsem}
    state: {done: bool}
    procedures:
      hog():
        - while: true
          do:
            - down_write: s
            - up_write: s
      reader():
        - down_read: s
        - done = true
        - up_read: s
    threads:
      hog: {run: hog(), daemon: true}
      reader: reader()
    properties:
      reader_gets_s: {progress: reader}
      done_eventually: {eventually: done}
"""

# wait_event() written wrongly: the sleeper tests the condition, then announces itself, then sleeps; the
# waker sets the condition and wakes only an announced sleeper. If the waker runs between the test and
# the announcement, the wake-up is lost and the sleeper sleeps forever: 4 steps (sleeper tests, waker
# sets and tests, sleeper announces), then nothing can step.
LOST_WAKE_UP = """
    netcheck: 1
    state: {cond: bool, sleeping: bool, woken: bool, awake: bool}
    procedures:
      sleeper():
        - if: not cond
          then:
            - sleeping = true
            - await: woken
        - awake = true
      waker():
        - cond = true
        - if: sleeping
          then: [woken = true]
    threads:
      sleeper: sleeper()
      waker: waker()
    options: {deadlock: false}
    properties:
      sleeper_wakes: {eventually: awake}
      cond_leads_to_awake:
        leads_to: {from: cond, to: awake}
"""

# the fix: announce first (prepare_to_wait), then test the condition
NO_LOST_WAKE_UP = LOST_WAKE_UP.replace("""        - if: not cond
          then:
            - sleeping = true
            - await: woken""", """        - sleeping = true
        - if: not cond
          then:
            - await: woken""")

# test_latency's holder completes two grace periods under m; the creator blocks on m uninterruptibly: a
# killed creator waits through both (it can block before the first ends). Killable, it leaves at once.
KILLED_WAITER = TWO_UNDER_A_MUTEX + """
    properties:
      killed_waiter_returns: {returns_when_killed: creator}
      killed_waiter_returns_after_two: {returns_when_killed: creator, within: 2}
"""
KILLABLE_WAITER = KILLED_WAITER.replace("""      create():
        - mutex_lock: m""", """      create():
        - mutex_lock_killable: m
          on_fail: return""")


def run(text: str, **limits: int) -> tuple[TransitionSystem, dict[str, PropertyResult]]:
    system = TransitionSystem(load_text(text))
    exp = explore(system, Limits(**limits), measure_memory=False)
    report = build_report("spec.yaml", exp)
    return system, {p.name: p for p in report.properties}


def check_lasso(system: TransitionSystem, prop: PropertyResult) -> None:
    """The lasso is a real path; its cycle goes back to where it starts; under the fairness the message
    claims, every thread that stays enabled (weak) or is enabled somewhere (strong) on the cycle steps."""
    trace = prop.trace
    assert trace is not None and trace.cycle is not None
    assert trace.states[0] in system.initial_states
    for step, before, after in zip(trace.steps, trace.states, trace.states[1:]):
        assert system.actions[step.action].tid == step.tid
        assert system.fire(before, step.action)[step.choice] == after
    n = len(trace.steps)
    if trace.cycle == n:   # nothing can step at the end
        assert not system.expand(trace.states[-1])[0]
        return
    assert trace.states[-1] == trace.states[trace.cycle], "the cycle returns to its first state"
    cycle_states = trace.states[trace.cycle:-1]
    moved = {s.tid for s in trace.steps[trace.cycle:]}
    enabled = [{tid for tid, _, _, signal, _ in system.expand(s)[0] if not signal} for s in cycle_states]
    for tid in range(system.thread_count):
        if tid in moved:
            continue
        if "strongly fair" in prop.message:
            assert not any(tid in e for e in enabled), f"thread {tid} is enabled on the cycle and never steps"
        else:
            assert not all(tid in e for e in enabled), f"thread {tid} stays enabled and never steps"


def test_a_mutex_waiter_starves_under_weak_fairness_only() -> None:
    system, props = run(STARVING_MUTEX)
    assert props["waiter_gets_m"].status is Status.VIOLATED
    assert props["done_eventually"].status is Status.VIOLATED
    assert props["waiter_gets_m_strong"].status is Status.HOLDS
    assert props["done_eventually_strong"].status is Status.HOLDS
    starving = props["waiter_gets_m"]
    check_lasso(system, starving)
    trace = starving.trace
    assert trace is not None and trace.cycle is not None
    # the hog takes m (the waiter now blocks), then goes round: unlock, lock
    assert [s.statement for s in trace.steps] == ["mutex_lock(&m)", "mutex_unlock(&m)", "mutex_lock(&m)"]
    assert trace.cycle == 1 and {s.thread for s in trace.steps} == {"hog"}
    assert "waiter can wait at mutex_lock(&m)" in starving.message and "weakly fair" in starving.message
    check_lasso(system, props["done_eventually"])


def test_a_fifo_rwsem_reader_is_not_starved() -> None:
    _, props = run(FAIR_RWSEM_READER)
    assert props["reader_gets_s"].status is Status.HOLDS
    assert props["done_eventually"].status is Status.HOLDS
    assert props["reader_gets_s"].checked_states > 0


def test_a_lost_wake_up_never_wakes() -> None:
    system, props = run(LOST_WAKE_UP)
    lost = props["sleeper_wakes"]
    assert lost.status is Status.VIOLATED
    check_lasso(system, lost)
    trace = lost.trace
    assert trace is not None and trace.cycle == len(trace.steps) == 4, "then nothing can step"
    assert [s.thread for s in trace.steps] == ["sleeper", "waker", "waker", "sleeper"]
    assert "ends in a state where nothing can step" in lost.message
    assert props["cond_leads_to_awake"].status is Status.VIOLATED
    check_lasso(system, props["cond_leads_to_awake"])
    _, fixed = run(NO_LOST_WAKE_UP)
    assert fixed["sleeper_wakes"].status is Status.HOLDS
    assert fixed["cond_leads_to_awake"].status is Status.HOLDS


def test_a_killed_thread_waits_through_grace_periods_unless_its_wait_is_killable() -> None:
    system, props = run(KILLED_WAITER)
    stuck = props["killed_waiter_returns"]
    assert stuck.status is Status.VIOLATED
    assert "2 slow steps" in stuck.message and "not killable" in stuck.message
    assert stuck.trace is not None and stuck.trace.cycle is None, "the witness of a count is a finite run"
    assert props["killed_waiter_returns_after_two"].status is Status.HOLDS
    _, killable = run(KILLABLE_WAITER)
    assert killable["killed_waiter_returns"].status is Status.VACUOUS, "no wait a signal cannot end"


def test_leads_to_from_a_state_never_reached_is_vacuous() -> None:
    _, props = run(FAIR_RWSEM_READER.replace("      done_eventually: {eventually: done}",
                                             "      never: {leads_to: {from: \"done and not done\", to: done}}"))
    assert props["never"].status is Status.VACUOUS


def test_a_cut_short_run_says_unknown_but_keeps_a_violation() -> None:
    _, props = run(STARVING_MUTEX, max_states=3)
    assert props["waiter_gets_m_strong"].status is Status.UNKNOWN
    assert props["waiter_gets_m"].status in (Status.UNKNOWN, Status.VIOLATED)


def test_text_json_and_explain_show_the_cycle(tmp_path: Path) -> None:
    spec = tmp_path / "starve.yaml"
    spec.write_text(dedent(STARVING_MUTEX).lstrip())
    runner = CliRunner()
    text = runner.invoke(main, ["verify", str(spec)])
    assert text.exit_code == 1
    assert "==== cycle: from here the run repeats forever ====" in text.output
    assert "steps 2-3 repeat forever" in text.output
    out = tmp_path / "r.json"
    runner.invoke(main, ["verify", str(spec), "--format", "json", "-o", str(out)])
    data = json.loads(out.read_text())
    props = {p["name"]: p for p in (data["specs"][0] if "specs" in data else data)["properties"]}
    assert props["waiter_gets_m"]["trace_summary"]["cycle_start"] == 1
    assert props["waiter_gets_m"]["trace_summary"]["cycle_repeats_forever"] is True
    assert props["waiter_gets_m_strong"]["status"] == "holds"
    explained = runner.invoke(main, ["explain", str(spec), "waiter_gets_m"])
    assert "After step 3 the run is back in the state before step 2" in explained.output


def test_reduced_search_leaves_liveness_unknown(tmp_path: Path) -> None:
    spec = tmp_path / "starve.yaml"
    spec.write_text(dedent(STARVING_MUTEX).lstrip())
    result = CliRunner().invoke(main, ["verify", str(spec), "--reduce", "protected"])
    assert "liveness is decided on the full graph" in result.output and result.exit_code == 3


@pytest.mark.parametrize("snippet, code", [
    ("bad: {eventually: done, fairness: sometimes}", "NC123"),
    ("bad: {invariant: done, fairness: weak}", "NC123"),
    ("bad: {returns_when_killed: waiter, within: -1}", "NC123"),
    ("bad: {progress: waiter, during: waiter}", "NC122"),
    ("bad: {progress: nobody}", "NC119"),
    ("bad: {leads_to: {from: done}}", "NC101"),
    ("bad: {eventually: done, leads_to: {from: done, to: done}}", "NC118"),
])
def test_bad_liveness_properties_are_reported(snippet: str, code: str) -> None:
    text = STARVING_MUTEX.replace("      waiter_gets_m: {progress: waiter}", "      " + snippet)
    with pytest.raises(SpecError) as err:
        load_text(text)
    assert code in str(err.value)


def test_net_sem_creators_return_when_killed_and_its_mutant_does_not() -> None:
    """The mutation `netcheck mutate` calls unkillable (mutex_lock_killable -> mutex_lock in copy_net_ns())
    survives every safety property; returns_when_killed catches it: a killed creator then waits in
    mutex_lock(net_mutex) while cleanup_net(), holding it, completes synchronize_rcu()."""
    base = f"""
        netcheck: 1
        extends: {SPECS / 'net_sem.yaml'}
        properties:
          creators_progress: {{progress: creator}}
          killed_creators_return: {{returns_when_killed: creator}}
    """
    mutant = base + """
        procedures:
          copy_net_ns(net n) -> int[-12..0]:
            locals: {rv: "int[-12..0]"}
            body:
              - down_read_killable: net_sem
                on_fail: return -EINTR
              - mutex_lock: net_mutex
              - rv = setup_net(n)
              - mutex_unlock: net_mutex
              - up_read: net_sem
              - return rv
    """
    bounds = {"subsys": 0, "device": 0}
    for text, killed in ((base, Status.HOLDS), (mutant, Status.VIOLATED)):
        system = TransitionSystem(load_text(text, bounds))
        report = build_report("spec.yaml", explore(system, measure_memory=False))
        props = {p.name: p for p in report.properties}
        assert props["creators_progress"].status is Status.HOLDS
        assert props["killed_creators_return"].status is killed
    assert "mutex_lock(&net_mutex)" in props["killed_creators_return"].message
    assert "synchronize_rcu() in cleanup_net()" in props["killed_creators_return"].message
    assert "mutex_lock(&net_mutex)" in render_text(report, timing=False)


# -- a second computation on generated specs


def graph_of(system: TransitionSystem) -> tuple[nx.MultiDiGraph, dict[tuple, set[int]], dict[tuple, int],
                                                set[tuple], list[tuple]]:
    """A breadth-first search of its own: the graph (edges keyed by thread), each state's enabled threads
    (a step that is not a fatal signal), its blocked mask, the states where nothing can step, the initial
    states; None when a step violates a property (liveness is then judged without it)."""
    g = nx.MultiDiGraph()
    enabled: dict[tuple, set[int]] = {}
    blocked: dict[tuple, int] = {}
    terminal: set[tuple] = set()
    todo = list(dict.fromkeys(system.initial_states))
    g.add_nodes_from(todo)
    while todo:
        s = todo.pop()
        steps, mask = system.expand(s)
        blocked[s] = mask
        enabled[s] = {tid for tid, _, _, signal, target in steps if not signal}
        if not steps:
            terminal.add(s)
        for tid, _, _, _, target in steps:
            if isinstance(target, Violation):
                continue
            if target not in g:
                g.add_node(target)
                todo.append(target)
            g.add_edge(s, target, tid=tid)
    return g, enabled, blocked, terminal, list(dict.fromkeys(system.initial_states))


def fair_parts(g: nx.MultiDiGraph, nodes: set, enabled: dict, strong: bool) -> set:
    """The states of `g[nodes]` that lie in a part a fair run can go round forever."""
    out: set = set()
    sub = g.subgraph(nodes)
    for comp in nx.strongly_connected_components(sub):
        edges = [(u, v, d) for u, v, d in sub.subgraph(comp).edges(data=True)]
        if not edges:
            continue
        moved = {d["tid"] for _, _, d in edges}
        threads = set().union(*(enabled[s] for s in comp))
        if not strong:
            always = set.intersection(*(enabled[s] for s in comp))
            if always <= moved:
                out |= comp
            continue
        offending = threads - moved
        if not offending:
            out |= comp
            continue
        rest = {s for s in comp if not enabled[s] & offending}
        out |= fair_parts(g, rest, enabled, strong)
    return out


def escapes(g: nx.MultiDiGraph, inside: set, key: dict | None, enabled: dict, terminal: set, starts: list,
            strong: bool) -> bool:
    """Can a fair run from a start stay inside forever (edges only between states of equal key)?"""
    sub = nx.MultiDiGraph()
    sub.add_nodes_from(inside)
    sub.add_edges_from((u, v, d) for u, v, d in g.edges(data=True)
                       if u in inside and v in inside and (key is None or key[u] == key[v]))
    seeds = (terminal & inside) | fair_parts(sub, set(inside), enabled, strong)
    bad = set(seeds)
    for s in seeds:
        bad |= nx.ancestors(sub, s)
    return any(s in bad for s in starts)


def most_slow_steps(system: TransitionSystem, g: nx.MultiDiGraph, inside: set, key: dict, blocked: dict,
                    tid: int) -> float:
    """The most slow steps the threads `tid` waits for complete while it is blocked in `inside`."""
    def weight(u: tuple, v: tuple, mover: int) -> int:
        return int(mover != tid and bool(blocked[u] >> tid & 1) and completes_slow_step(system, u, v, mover)
                   and mover in waited_for(system, u, tid))
    dg = nx.DiGraph()
    dg.add_nodes_from(inside)
    for u, v, d in g.edges(data=True):
        if u in inside and v in inside and key[u] == key[v]:
            w = weight(u, v, d["tid"])
            if not dg.has_edge(u, v) or dg[u][v]["w"] < w:
                dg.add_edge(u, v, w=w)
    cond = nx.condensation(dg)
    members = cond.graph["mapping"]
    if any(d["w"] and members[u] == members[v] for u, v, d in dg.edges(data=True)):
        return float("inf")   # a cycle through a completion
    heaviest: dict = {}
    for u, v, d in dg.edges(data=True):
        heaviest[members[u], members[v]] = max(heaviest.get((members[u], members[v]), 0), d["w"])
    longest: dict = {}
    for c in reversed(list(nx.topological_sort(cond))):
        longest[c] = max((heaviest[c, x] + longest[x] for x in cond.successors(c)), default=0)
    starts = [s for s in inside if blocked[s] >> tid & 1]
    return max((longest[members[s]] for s in starts), default=0)


def conditions(spec: dict) -> list[str]:
    """Boolean conditions to ask about: the generated invariants and finals, and running() counts."""
    out = [v for p in spec.get("properties", {}).values() for k, v in p.items() if k in ("invariant", "final")]
    procs = [name.split("(")[0] for name in spec.get("procedures", {})]
    out += [f"running({p}) == 0" for p in procs[:2]] + [f"running({p}) >= 1" for p in procs[:2]]
    return out


HOG_OPS = {"mutex": ("mutex_lock", "mutex_unlock"), "spinlock": ("spin_lock", "spin_unlock"),
           "rwsem": ("down_write", "up_write")}


def with_hog(spec: dict, draw: st.DrawFn) -> dict:
    """Often, a daemon that takes and drops one of the spec's locks forever: cycles, and contention."""
    simple = [(name, kind if isinstance(kind, str) else kind.get("kind")) for name, kind in spec["locks"].items()
              if isinstance(kind, str) or "per" not in kind]
    if not simple or not draw(st.booleans()):
        return spec
    lock, kind = draw(st.sampled_from(simple))
    take, drop = HOG_OPS[kind]
    if kind == "rwsem" and draw(st.booleans()):
        take, drop = "down_read", "up_read"
    hog = [{"while": "true", "do": [{take: lock}, {drop: lock}]}]
    return {**spec, "procedures": {**spec["procedures"], "hog()": hog},
            "threads": {**spec["threads"], "hog": {"run": "hog()", "daemon": True}}}


def with_liveness(spec: dict, draw: st.DrawFn) -> dict:
    spec = with_hog(spec, draw)
    conds = conditions(spec)
    assume(conds)
    props: dict = {}
    fairness = draw(st.sampled_from(["weak", "strong"]))
    props["ev"] = {"eventually": draw(st.sampled_from(conds)), "fairness": fairness}
    props["lt"] = {"leads_to": {"from": draw(st.sampled_from(conds)), "to": draw(st.sampled_from(conds))},
                   "fairness": fairness}
    for name in spec["threads"]:
        props[f"prog_{name}"] = {"progress": name, "fairness": fairness}
        props[f"kill_{name}"] = {"returns_when_killed": name, "fairness": fairness}
    return {**spec, "properties": props}


@st.composite
def liveness_specs(draw: st.DrawFn) -> str:
    return to_yaml(with_liveness(draw(spec_dicts(BUG_PATTERNS)), draw))


@generated_systems(100, liveness_specs())
def test_generated_specs_agree_with_a_second_computation(system: TransitionSystem) -> None:
    exp = explore(system, Limits(max_states=3_000), measure_memory=False)
    assume(exp.complete)
    report = build_report("spec.yaml", exp)
    g, enabled, blocked, terminal, initial = graph_of(system)
    assert g.number_of_nodes() == exp.state_count
    fairness = {p.name: p.fairness for p in system.spec.properties}
    for prop in report.properties:
        if not prop.kind.is_liveness or prop.status is Status.UNKNOWN:
            continue
        strong = fairness[prop.name] == "strong"
        expected = _expected(system, prop, g, enabled, blocked, terminal, initial, strong)
        if expected is None:
            continue
        got = prop.status is Status.VIOLATED
        assert got == expected, f"{prop.name}: {prop.status} ({prop.message}), the second computation says " \
                                f"{'violated' if expected else 'holds'}"
        if got and prop.trace is not None and prop.trace.cycle is not None:
            check_lasso(system, prop)


def _expected(system: TransitionSystem, prop: PropertyResult, g: nx.MultiDiGraph, enabled: dict, blocked: dict,
              terminal: set, initial: list, strong: bool) -> bool | None:
    """Violated or not by the second computation (None: a condition does not evaluate somewhere)."""
    if prop.name in system.goals:
        source, goal = system.goals[prop.name]
        try:
            inside = {s for s in g if not goal.fn(s)}   # type: ignore[operator]
            starts = initial if source is None else [s for s in inside if source.fn(s)]   # type: ignore[operator]
        except EvalError:
            return None
        return escapes(g, inside, None, enabled, terminal, [s for s in starts if s in inside], strong)
    decl = next(p for p in system.spec.properties if p.name == prop.name)
    violated = False
    for t in (t for t in system.threads if t.decl == decl.target):
        killed = decl.kind == "returns_when_killed"
        positions = wait_positions(system, t.tid, killable=not killed)
        key = {s: s[t.pcslot] for s in g}
        inside = {s for s in g if key[s] in positions}
        starts = [s for s in inside if blocked[s] >> t.tid & 1]
        if escapes(g, inside, key, enabled, terminal, starts, strong):
            violated = True
        elif killed and most_slow_steps(system, g, inside, key, blocked, t.tid) > decl.within:
            violated = True
    return violated


def test_mutate_judges_an_unkillable_mutant_by_the_killable_waits_promise() -> None:
    """The spec's killable wait promises that a killed creator leaves at once; its plain mutant keeps a
    killed creator waiting while the holder completes two grace periods. No safety property can tell."""
    spec = load_text(KILLABLE_WAITER.split("    properties:")[0])
    mutant = next(m for m in mutations(spec) if m.kind == "unkillable")
    result = _check(apply(spec, mutant), mutant, 100_000)
    assert (result.status, result.caught_by) == ("caught", ("returns_when_killed (implied by the killable wait)",))
    assert "2 slow steps" in result.message
    assert _check(spec, BASELINE, 100_000).status == "survived"
