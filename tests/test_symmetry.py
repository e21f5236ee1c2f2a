"""Symmetry (model/semantics/symmetry.py, `verify --symmetry on`) against the full search: the same verdicts
and answers, the same final and deadlocked states and stuck threads up to renaming, every counterexample a
real execution of the semantics (replayed here) as short as the full search's; what breaks symmetry is
found and said; the assumption is checked during the search. On the shipped specs and bug specs (two
namespaces, no device module), the docs' examples and generated specs."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netcheck.checker.cli import main
from netcheck.checker.engine.explore import SymmetryCheck, explore
from netcheck.checker.engine.limits import Limits
from netcheck.checker.engine.store import Canonical
from netcheck.checker.engine.verdicts import InternalError
from netcheck.checker.report.build import build_report
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.discipline import Reduction
from netcheck.model.semantics.runtime import Violation
from netcheck.model.semantics.symmetry import Symmetry, _image, find_symmetry
from netcheck.model.semantics.system import TransitionSystem
from test_reference_agreement import load_text

ROOT = Path(__file__).resolve().parent.parent
VERSIONS = sorted((ROOT / "specs").glob("*.yaml")) + sorted((ROOT / "specs" / "bugs").glob("*.yaml"))
EXAMPLES_DIR = ROOT / "docs" / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.rglob("*.yaml"))


def classes(system: TransitionSystem, exp, sids) -> set[tuple[bytes, int]]:
    """(canonical state, its stuck threads renamed alike) of the states `sids`."""
    sym = system.symmetry if system.symmetry is not None else find_symmetry(system)
    canonical = Canonical.of(sym)
    out = set()
    for sid in sids:
        state, mask = exp.store.states[sid], exp.stuck.get(sid, 0)
        packed, _, k = canonical(state)
        tmap = sym.thread_maps[k]
        out.add((packed, sum(1 << tmap[t] for t in range(len(tmap)) if mask >> t & 1)))
    return out


def agree(spec, limits: Limits | None = None) -> tuple[int, int]:
    """The symmetric search of `spec` checked against the full one; (full states, symmetric states)."""
    full, sym = TransitionSystem(spec), TransitionSystem(spec, symmetry=True)
    a, b = explore(full, limits or Limits()), explore(sym, limits or Limits())
    if not (a.complete and b.complete):
        return 0, 0
    assert b.state_count <= a.state_count <= b.state_count * sym.symmetry.size
    ra, rb = build_report("spec.yaml", a, use_expect=False), build_report("spec.yaml", b, use_expect=False)
    assert all(p.status == "unknown" for p in rb.properties if p.kind.is_liveness) or not sym.symmetric
    assert [(p.name, p.status) for p in ra.properties if not p.kind.is_liveness or not sym.symmetric] == \
        [(p.name, p.status) for p in rb.properties if not p.kind.is_liveness or not sym.symmetric]
    assert classes(sym, a, a.finals) == classes(sym, b, b.finals)
    assert classes(sym, a, a.deadlocks) == classes(sym, b, b.deadlocks), "the same stuck threads, renamed"
    for pa, pb in zip(ra.properties, rb.properties):
        if pb.trace is not None and pa.trace is not None:
            replays(full, pb.trace, pb.name)
            assert len(pb.trace.steps) == len(pa.trace.steps), f"{pb.name}: as short as the full search's"
    return a.state_count, b.state_count


def replays(full: TransitionSystem, trace, prop: str) -> None:
    """Every step of the trace is a step of the semantics, and a violating last step breaks `prop` (a
    violation while computing the initial states has no steps)."""
    if not trace.states:
        return
    assert trace.states[0] in full.initial_states
    for i, step in enumerate(trace.steps):
        target = full.fire(trace.states[i], step.action)[step.choice]
        if i + 1 < len(trace.states):
            assert target == trace.states[i + 1]
        else:
            assert isinstance(target, Violation) and target.prop == prop


@pytest.mark.parametrize("path", VERSIONS, ids=[p.stem for p in VERSIONS])
def test_symmetric_and_full_search_agree_on_the_versions_and_their_bugs(path: Path) -> None:
    full, sym = agree(load_spec(path, {"device": 0}))
    assert full >= 1.9 * sym, "net is symmetric: about half the states (those the swap fixes count once)"


@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(ROOT / "docs" / "examples")) for p in EXAMPLES])
def test_symmetric_and_full_search_agree_on_the_examples(path: Path) -> None:
    agree(load_spec(path), Limits(max_states=100_000))


def test_symmetric_and_full_search_agree_on_generated_specs() -> None:
    """The general generator names elements everywhere (its specs are rarely symmetric); these are."""
    reduced: list[bool] = []

    @settings(max_examples=40, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(symmetric_specs())
    def check(text: str) -> None:
        system = TransitionSystem(load_text(text), symmetry=True)
        assert system.symmetry is not None and system.symmetry.entities == ("obj",), system.symmetry.describe()
        full, sym = agree(system.spec, Limits(max_states=20_000))
        reduced.append(sym < full)

    check()
    assert sum(reduced) >= 20, "symmetry saves states on the generated specs"


SIMPLE = ["refs[o] = refs[o] + 1 if refs[o] < 2 else 0", "seen = seen | {o}", "seen = seen - {o}", "last = o",
          "last = null", "flag = not flag"]
GUARDED = [("o in seen", "seen = seen - {o}"), ("o not in l", "list_add(l, o)"), ("o in l", "list_del(l, o)"),
           ("last == o", "refs[o] = 0"), ("last != null", "refs[last] = 1"), ("flag", "last = o")]
SECTIONS = [("mutex_lock: m[o]", "mutex_unlock: m[o]"), ("mutex_lock: g", "mutex_unlock: g"),
            ("down_read: s", "up_read: s"), ("down_write: s", "up_write: s")]
INVARIANTS = ["all(refs[x] <= 2 for x in obj)", "last == null or last in seen", "count(x in seen for x in obj) <= 1",
              "len(l) <= 2", "not flag or last != null"]


@st.composite
def statements(draw, depth: int = 0) -> list[str]:
    out: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["simple", "guarded", "section", "either", "walk"] if depth < 2 else ["simple"]))
        if kind == "simple":
            out.append(f"- {draw(st.sampled_from(SIMPLE))}")
        elif kind == "guarded":
            cond, stmt = draw(st.sampled_from(GUARDED))
            out += [f"- if: {cond}", f"  then: ['{stmt}']"]
        elif kind == "section":
            take, drop = draw(st.sampled_from(SECTIONS))
            out += [f"- {take}", *draw(statements(depth + 1)), f"- {drop}"]
        elif kind == "walk":
            out += ["- for_each: x in l", "  do:", *(f"    {line}" for line in
                                                   [f"- {draw(st.sampled_from(['refs[x] = 0', 'last = x']))}"])]
        else:
            out += ["- either:", "    one:", *(f"      {line}" for line in draw(statements(depth + 1))),
                    "    two:", *(f"      {line}" for line in draw(statements(depth + 1)))]
    return out


@st.composite
def symmetric_specs(draw) -> str:
    """Specs in which nothing tells the elements of `obj` apart: threads per element, state and locks
    per element, sets and lists of elements, and now and then an observer thread of its own."""
    size = draw(st.integers(2, 3))
    procs = {"use(obj o)": draw(statements())}
    threads = ["  user: {for: o in obj, run: use(o)}"]
    if draw(st.booleans()):
        procs["other(obj o)"] = draw(statements())
        threads.append("  other: {for: o in obj, run: other(o)}")
    if draw(st.booleans()):
        procs["watch()"] = ["- mutex_lock: g", "- for_each: x in l", "  do: ['refs[x] = 0']", "- mutex_unlock: g"]
        threads.append("  watcher: watch()")
    body = "\n".join(f"  {name}:\n    locals: {{x: 'obj?'}}\n    body:\n" + "\n".join(f"      {line}" for line in lines)
                     for name, lines in procs.items())
    invariants = draw(st.lists(st.sampled_from(INVARIANTS), max_size=2, unique=True))
    props = "".join(f"  i{k}: {{invariant: \"{inv}\"}}\n" for k, inv in enumerate(invariants))
    return (f"netcheck: 1\nentities: {{obj: {size}}}\nlocks:\n  m: {{kind: mutex, per: [obj]}}\n  g: mutex\n"
            f"  s: rwsem\nstate:\n  refs: {{type: \"int[0..2]\", per: [obj]}}\n  last: {{type: \"obj?\"}}\n"
            f"  seen: {{type: \"set<obj>\"}}\n  l: {{type: \"list<obj>\"}}\n  flag: {{type: bool}}\n"
            f"procedures:\n{body}\nthreads:\n" + "\n".join(threads) + "\n"
            + (f"properties:\n{props}" if props else ""))


def test_the_versions_are_symmetric_in_their_namespaces_and_say_why_not_in_their_ops() -> None:
    for name in ("net_mutex", "net_sem", "pernet_ops_rwsem"):
        sym = TransitionSystem(load_spec(ROOT / "specs" / f"{name}.yaml"), symmetry=True).symmetry
        assert sym is not None and sym.entities == ("net",) and sym.size == 2
        assert dict(sym.broken)["ops"].startswith("threads subsys_module run for some of its elements only")
        assert sym.thread_maps[1][:2] == (1, 0), "the two creators trade places"


BASE = """
netcheck: 1
entities: {obj: 2}
locks:
  m: {kind: mutex, per: [obj]}
state:
  refs: {type: "int[0..2]", per: [obj]}
  last: {type: "obj?"}
  seen: {type: "set<obj>"}
procedures:
  use(obj o):
    body:
      - mutex_lock: m[o]
      - refs[o] = refs[o] + 1
      - last = o
      - seen = seen | {o}
      - mutex_unlock: m[o]
threads:
  user: {for: o in obj, run: use(o)}
"""


@pytest.mark.parametrize(("change", "why"), [
    ("", ""),
    ("      - last = obj0\n", "names one of its elements"),
    ("      - if: o in {obj1}\n        then: [last = o]\n", "names one of its elements"),
    ("      - for_each: x in seen\n        do: [last = x]\n", "walks a set of its elements in index order"),
])
def test_what_tells_elements_apart_is_found_and_said(change: str, why: str) -> None:
    text = dedent(BASE).replace("      - mutex_unlock: m[o]\n", change + "      - mutex_unlock: m[o]\n")
    sym = TransitionSystem(load_text(text), symmetry=True).symmetry
    assert sym is not None
    if not why:
        assert sym.entities == ("obj",) and sym.size == 2 and not sym.broken
    else:
        assert sym.entities == () and why in dict(sym.broken)["obj"]


def test_threads_for_some_elements_a_property_and_an_asymmetric_start_break_symmetry() -> None:
    def broken(text: str) -> str:
        return dict(TransitionSystem(load_text(text), symmetry=True).symmetry.broken)["obj"]
    base = dedent(BASE)
    some = base.replace("entities: {obj: 2}", "entities:\n  obj: {ga: 1, gb: 1}").replace("o in obj", "o in ga")
    assert "threads user run for some of its elements only" in broken(some)
    named = base + "properties:\n  p: {invariant: last != gb0}\n".replace("gb0", "obj0")
    assert broken(named) == "property p names one of its elements"
    start = base.replace('  refs: {type: "int[0..2]", per: [obj]}\n',
                         '  refs:\n    type: int[0..2]\n    per: [obj]\n    init: {obj0: 0, obj1: 1}\n')
    assert broken(start) == "the initial state tells its elements apart"


def test_a_wrong_symmetry_is_caught_during_the_search() -> None:
    """Force the swap of obj0 and obj1 on a spec that tells them apart: the sampled check of the
    assumption ends the run as an internal error, never with a verdict."""
    text = dedent(BASE).replace("      - mutex_unlock: m[o]\n", "      - if: o == obj0\n        then: ['refs[o] = 2']\n"
                                "      - mutex_unlock: m[o]\n")
    system = TransitionSystem(load_text(text))
    swap = {"obj": (1, 0)}
    tmap = (1, 0)
    per = {v.name: v.per for v in system.spec.vars} | {lk.name: lk.per for lk in system.spec.locks}
    image = _image(system.layout.slots, system.threads, swap, tmap, per)
    system.symmetry = Symmetry(("obj",), (), ((0, 1), tmap), (lambda s: s, image))
    SymmetryCheck.CHECK_EVERY, every = 1, SymmetryCheck.CHECK_EVERY
    try:
        with pytest.raises(InternalError, match="does not hold"):
            explore(system)
    finally:
        SymmetryCheck.CHECK_EVERY = every


def test_verify_symmetry_on_says_what_it_used_and_refuses_what_needs_every_state(tmp_path: Path) -> None:
    spec = ROOT / "docs" / "examples" / "producer_consumer.yaml"
    runner = CliRunner()
    on = runner.invoke(main, ["verify", "--symmetry", "on", "--reduce", "none", str(spec)])
    off = runner.invoke(main, ["verify", "--symmetry", "off", "--reduce", "none", str(spec)])
    auto = runner.invoke(main, ["verify", "--reduce", "none", str(spec)])   # the default: on, where it applies
    assert on.exit_code == off.exit_code == auto.exit_code == 0
    assert "symmetry: item (2 permutations)" in on.output and "symmetry" not in off.output
    assert "explored 37 states" in on.output and "explored 72 states" in off.output
    assert "symmetry: item (2 permutations)" in auto.output and "explored 37 states" in auto.output
    # where nothing is symmetric, the default says nothing about it; --symmetry on says why
    steps = ROOT / "docs" / "examples" / "tour.yaml"
    assert "symmetry" not in runner.invoke(main, ["verify", str(steps)]).output
    assert "symmetry: none; not cpu" in runner.invoke(main, ["verify", "--symmetry", "on", str(steps)]).output
    data = runner.invoke(main, ["verify", "--symmetry", "on", "--format", "json", str(spec)])
    assert '"symmetry": "item (2 permutations)"' in data.output
    for extra in (["--graph", str(tmp_path / "g.dot")], ["--engine", "bmc", "--depth", "2"]):
        refused = runner.invoke(main, ["verify", "--symmetry", "on", *extra, str(spec)])
        assert refused.exit_code == 2 and "--symmetry on" in refused.output


@pytest.mark.parametrize("name", ["net_sem", "rtnl_before_net_sem", "copy_net_ns_leaks_read", "setup_undo_exits_all"])
def test_symmetry_and_the_reduction_together_agree_with_the_full_search(name: str) -> None:
    """Both at once: classes of reduced states. Same verdicts, the same final classes, counterexamples that
    unfold and replay in the full semantics."""
    path = next(p for p in VERSIONS if p.stem == name)
    spec = load_spec(path, {"device": 0})
    full, both = TransitionSystem(spec), TransitionSystem(spec, Reduction.PROTECTED, symmetry=True)
    a, b = explore(full), explore(both)
    assert b.state_count * 2 < a.state_count
    ra, rb = build_report("spec.yaml", a, use_expect=False), build_report("spec.yaml", b, use_expect=False)
    assert [(p.name, p.status) for p in ra.properties] == [(p.name, p.status) for p in rb.properties]
    assert classes(both, a, a.finals) == classes(both, b, b.finals)
    for prop in rb.properties:
        if prop.trace is not None:
            replays(full, prop.trace, prop.name)


def test_a_symmetric_counterexample_names_its_stored_states() -> None:
    """A renamed trace passes through images of stored states: each is found (through its canonical image),
    so that a report can highlight the trace in the graph."""
    system = TransitionSystem(load_spec(EXAMPLES_DIR / "bugs" / "consumer_peeks_unlocked.yaml"), symmetry=True)
    exp = explore(system)
    trace = next(p.trace for p in build_report("spec.yaml", exp, use_expect=False).properties if p.trace is not None)
    ids = exp.ids_of(trace.states)
    assert len(ids) == len(trace.states) and ids[0] == 0
    assert any(exp.store.id_of(s) is None for s in trace.states), "some of its states are not themselves stored"


@pytest.mark.parametrize("name", ["net_sem", "pernet_ops_rwsem"])
def test_every_image_of_a_state_has_the_same_representative_at_three_namespaces(name: str) -> None:
    """The representative (the least image by program counters, the other plain slots, then the order of
    states) is one of the state's images, and the same for each of them: all six permutations at net=3, on
    states of the full search (the agreement tests above have only the one swap at net=2)."""
    system = TransitionSystem(load_spec(ROOT / "specs" / f"{name}.yaml", {"net": 3}), symmetry=True)
    sym = system.symmetry
    assert sym is not None and sym.size == 6
    canonical = Canonical.of(sym)
    exp = explore(TransitionSystem(system.spec), Limits(max_states=4000), measure_memory=False)
    states = [exp.store.states[sid] for sid in range(0, exp.state_count, 7)]
    fixed_by_some_swap = 0
    for state in states:
        packed, rep, k = canonical(state)
        assert rep == sym.images[k](state), "the representative is the image its permutation gives"
        images = [image(state) for image in sym.images]
        fixed_by_some_swap += len(set(images)) < len(images)
        for other in images:
            assert canonical(other)[:2] == (packed, rep)
    assert fixed_by_some_swap, "some states are fixed by a swap (images that tie all the way)"
