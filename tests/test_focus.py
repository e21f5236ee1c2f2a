"""Final-state counterexamples brought to the point (checker/analyses/focus.py): threads that change nothing
the property reads run last when the path still replays to the same final state, and the report draws
the steps up to the last step of a thread that matters, summarising the rest."""

from __future__ import annotations

from textwrap import dedent

from netcheck.checker.engine.explore import explore
from netcheck.checker.engine.limits import Limits
from netcheck.checker.render.json import report_object
from netcheck.checker.render.text import render_text
from netcheck.checker.report.build import build_report
from netcheck.model.semantics.system import TransitionSystem
from spec_generator import generated_systems
from test_reference_agreement import load_text

# a lost update between two bumpers, and a worker that never touches `count`: by the fewest thread switches
# the worker would run first, then both bumpers
LOST_UPDATE = """
    netcheck: 1
    name: lost_update
    locks: {m: mutex}
    state: {count: "int[0..3]", other: "int[0..5]"}
    procedures:
      bump():
        locals: {c: "int[0..3]"}
        body:
          - c = count
          - count = c + 1
      busy():
        body:
          - mutex_lock: m
          - other = other + 1
          - other = other + 1
          - other = other + 1
          - mutex_unlock: m
    threads:
      bumper: {run: bump(), count: 2}
      worker: {run: busy()}
    properties:
      counted:
        final: "count == 2"
"""

# the same, but the bumpers wait for the worker to finish: its steps cannot be moved to the end
WAITS_FOR_WORKER = LOST_UPDATE.replace("- c = count", "- await: other == 3\n          - c = count")


def report(text: str):
    system = TransitionSystem(load_text(dedent(text)))
    exp = explore(system, Limits())
    return system, exp, build_report("spec.yaml", exp)


def replays(system: TransitionSystem, trace) -> bool:
    """Every step of the trace, fired by its label from the state before it, gives the state after it."""
    return all(after in (target for target in system.fire(before, step.action))
               for step, before, after in zip(trace.steps, trace.states, trace.states[1:]))


def test_bystander_runs_last_and_is_summarised() -> None:
    system, exp, rep = report(LOST_UPDATE)
    prop = next(p for p in rep.properties if p.name == "counted")
    trace = prop.trace
    assert len(trace.steps) == exp.store.depth[exp.violations["counted"].state] == 9, "still a shortest path"
    assert replays(system, trace) and trace.states[-1] == exp.store.states[exp.violations["counted"].state]
    assert [s.thread for s in trace.steps[:4]] == ["bumper[0]", "bumper[1]", "bumper[1]", "bumper[0]"]
    assert trace.settled == 4 and {s.thread for s in trace.run_out} == {"worker"}
    text = render_text(rep, timing=False)
    assert "Then 5 more steps to the final state, by threads that change nothing counted reads:" in text
    assert "    worker: 5 steps (spec.yaml:13-17)" in text
    drawn = text.split("counted: VIOLATED")[1].split("Then 5 more steps")[0]
    assert "other = other + 1" not in drawn and "count = c + 1" in drawn
    assert report_object(rep, False, False)["properties"][0]["trace_summary"]["settled"] == 4


def test_a_bystander_the_others_need_stays_in_place() -> None:
    system, exp, rep = report(WAITS_FOR_WORKER)
    trace = next(p for p in rep.properties if p.name == "counted").trace
    assert replays(system, trace)
    assert trace.steps[0].thread == "worker", "the bumpers wait for it: moving it last would not replay"
    assert trace.settled is None, "nothing after the last bumper step to summarise"


def test_invariant_traces_are_never_cut() -> None:
    _, _, rep = report(LOST_UPDATE.replace('final: "count == 2"', 'invariant: "other < 2"'))
    trace = next(p for p in rep.properties if p.name == "counted").trace
    assert trace.settled is None and trace.run_out == ()


def test_focused_traces_of_generated_specs_replay_to_a_violating_final_state() -> None:
    focused: list[int] = []

    @generated_systems(200)
    def check(system: TransitionSystem) -> None:
        exp = explore(system, Limits(max_states=5_000))
        rep = build_report("spec.yaml", exp)
        for prop in rep.properties:
            if prop.kind != "final" or prop.trace is None:
                continue
            trace, found = prop.trace, exp.violations[prop.name]
            assert len(trace.steps) == exp.store.depth[found.state], "focusing keeps the path shortest"
            assert replays(system, trace)
            assert trace.states[-1] == exp.store.states[found.state], "the same violating final state"
            if trace.settled is not None:
                focused.append(len(trace.run_out))

    check()
    assert focused, "some generated final-state counterexample has a run-out to summarise"
