"""The fingerprint store (checker/engine/store.py, `verify --store hash`) against the full store: the same
search (state count, parent edges, depths, every edge, blocked masks, findings, stuck threads, finals),
the same report but for the store's own fields, and every released state replayed from its parent equal to
the state the full store keeps; with symmetry and the reduction too. A replay that misses its fingerprint
is an error, and the omission bound is the birthday bound. The native store (engine/_arena.c) against the
dict of packed states: the same ids on every value states hold, the same searches."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netcheck.checker.cli import main
from netcheck.checker.engine import store as store_module
from netcheck.checker.engine.bfs import search
from netcheck.checker.engine.explore import explore
from netcheck.checker.engine.limits import Limits
from netcheck.checker.engine.result import ExplicitResult
from netcheck.checker.engine.store import (
    NATIVE_STORE,
    Arena,
    ArenaStates,
    Canonical,
    Fingerprints,
    FingerprintStore,
    FingerprintTable,
    Image,
    ImageOrder,
    PackedIndex,
    PackedStates,
    Packer,
    StateStore,
    StoreKind,
    fingerprint,
    least_state,
    state_codec,
)
from netcheck.checker.render.json import report_object
from netcheck.checker.report.build import build_report
from netcheck.model.lang.parse import load_spec
from netcheck.model.semantics.discipline import Reduction
from netcheck.model.semantics.system import TransitionSystem
from spec_generator import generated_systems
from test_reference_agreement import load_text
from test_symmetry import symmetric_specs

ROOT = Path(__file__).resolve().parent.parent
VERSIONS = sorted((ROOT / "specs").glob("*.yaml")) + sorted((ROOT / "specs" / "bugs").glob("*.yaml"))
EXAMPLES = sorted((ROOT / "docs" / "examples").rglob("*.yaml"))
GRAPH = ("parent", "parent_action", "parent_choice", "depth", "first_edge", "edges_dst", "edges_action",
         "edges_choice", "signal_edges", "edges_perm", "blocked", "violating")


def same_search(system: TransitionSystem, limits: Limits | None = None) -> tuple[ExplicitResult, ExplicitResult]:
    """`system` explored with both stores, checked to be the same search; (full, hash)."""
    full = explore(system, limits)
    hashed = explore(system, limits, store=StoreKind.HASH)
    assert isinstance(hashed.store, FingerprintStore)
    assert len(hashed.store) == len(full.store) and hashed.transitions == full.transitions
    for name in GRAPH:
        assert getattr(hashed.store, name) == getattr(full.store, name), name
    assert (hashed.violations, hashed.witnesses, hashed.stuck, hashed.finals, hashed.complete) == \
        (full.violations, full.witnesses, full.stuck, full.finals, full.complete)
    assert hashed.executions == full.executions, "replays leave the run counts alone"
    assert list(hashed.store.states) == list(full.store.states), "iterating replays each state from its parent"
    rng = random.Random(len(full.store))
    for sid in rng.sample(range(len(full.store)), min(50, len(full.store))):
        assert hashed.store.states[sid] == full.store.states[sid]
        assert hashed.store.id_of(full.store.states[sid]) == sid
    a = report_object(build_report("spec.yaml", full, use_expect=False), timing=False)
    b = report_object(build_report("spec.yaml", hashed, use_expect=False), timing=False)
    assert (b.pop("store"), a.pop("store"), a.pop("omission_probability")) == ("hash", "full", 0.0)
    n = len(full.store)
    assert b.pop("omission_probability") == n * (n - 1) / 2 ** 65
    assert a == b, "the same report, counterexamples included"
    return full, hashed


@pytest.mark.parametrize("path", VERSIONS, ids=[p.stem for p in VERSIONS])
def test_the_versions_and_their_bugs_search_alike(path: Path) -> None:
    same_search(TransitionSystem(load_spec(path)), Limits(max_states=3_000))


@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(ROOT / "docs" / "examples")) for p in EXAMPLES])
def test_the_examples_search_alike(path: Path) -> None:
    same_search(TransitionSystem(load_spec(path)), Limits(max_states=5_000))


def test_generated_specs_search_alike() -> None:
    generated_systems(40)(lambda system: same_search(system, Limits(max_states=3_000)))()


def test_symmetric_generated_specs_search_alike() -> None:
    """Under symmetry a replayed step's outcome is stored as its canonical image."""
    @settings(max_examples=10, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(symmetric_specs())
    def check(text: str) -> None:
        same_search(TransitionSystem(load_text(text), symmetry=True), Limits(max_states=5_000))

    check()


def test_symmetry_and_the_reduction_search_alike() -> None:
    path = ROOT / "specs" / "bugs" / "rtnl_before_net_sem.yaml"
    same_search(TransitionSystem(load_spec(path), Reduction.PROTECTED, symmetry=True), Limits(max_states=5_000))


def test_a_replay_that_misses_its_fingerprint_is_an_error() -> None:
    system = TransitionSystem(load_spec(ROOT / "docs" / "examples" / "producer_consumer.yaml"))
    hashed = explore(system, store=StoreKind.HASH)
    store = hashed.store
    sid = next(s for s in range(len(store) - 1, 0, -1)
               if store.parent[s] >= 0 and store.depth[s] > 1 and s < store.expanded)
    assert store.states.packed[sid] is None, "an expanded state is released"
    wrong = next(a for a in range(len(system.actions)) if a != store.parent_action[sid])
    store.parent_action[sid] = wrong
    store.states.memo.clear()
    with pytest.raises(RuntimeError, match=f"state {sid}"):
        store.states[sid]   # noqa: B018


def test_verify_store_hash_says_so_and_refuses_what_needs_every_state(tmp_path: Path) -> None:
    spec = ROOT / "docs" / "examples" / "producer_consumer.yaml"
    runner = CliRunner()
    every = ["--reduce", "none", "--symmetry", "off"]   # all 72 states
    hashed = runner.invoke(main, ["verify", "--store", "hash", "--no-timing", *every, str(spec)])
    full = runner.invoke(main, ["verify", "--no-timing", *every, str(spec)])
    assert hashed.exit_code == full.exit_code == 0
    assert "store: 64-bit fingerprints; the probability that a collision hid a state is at most 1.4e-16" \
        in hashed.output and "store:" not in full.output
    data = json.loads(runner.invoke(main, ["verify", "--store", "hash", "--format", "json", *every, str(spec)]).output)
    assert data["store"] == "hash" and data["omission_probability"] == 72 * 71 / 2 ** 65
    for extra in (["--graph", str(tmp_path / "g.dot")], ["--engine", "bmc", "--depth", "2"]):
        refused = runner.invoke(main, ["verify", "--store", "hash", *extra, str(spec)])
        assert refused.exit_code == 2 and "--store hash" in refused.output


TABLES = [FingerprintTable, *([Fingerprints] if Fingerprints is not None else [])]


@pytest.mark.parametrize("table_type", TABLES, ids=lambda t: t.__name__)
def test_the_fingerprint_table_is_a_dict_of_fingerprints(table_type: type) -> None:
    """Against a dict, through several doublings, with keys that share their low bits (long probe runs): the
    Python table and the native one."""
    rng = random.Random(5)
    table, reference = table_type(capacity=8), {}
    keys = [rng.getrandbits(64) or 1 for _ in range(3_000)] + [(k << 20) | 7 for k in range(1, 500)]
    for n, key in enumerate(keys + keys[::3]):
        assert table.setdefault(key, n) == reference.setdefault(key, n)
    assert len(table) == len(reference) and table.mask + 1 >= len(reference) * 4 // 3
    for key in keys[:200]:
        assert table.get(key) == reference[key]
    assert table.get(12345) is None and fingerprint(b"") != 0


# -- the native store (engine/_arena.c) against the dict of packed states

needs_native = pytest.mark.skipif(not NATIVE_STORE, reason="the native store was not built here (no C compiler "
                                  "or Python headers at install)")


def _values(depth: int = 3) -> st.SearchStrategy[object]:
    """What states hold: ints of every size around the encoding's edges, bools, None, strings, bytes, tuples."""
    edges = st.sampled_from([0, 1, 95, 96, 127, 128, -1, -96, 2 ** 63 - 1, -2 ** 63, 2 ** 63, -2 ** 63 - 1])
    leaves = st.one_of(edges, st.integers(-300, 300), st.integers(), st.booleans(), st.none(), st.text(max_size=4),
                       st.binary(max_size=4))
    # runs of Nones and zeros (one byte per run, up to 33 items) next to what they must not swallow
    runs = st.lists(st.sampled_from([None, 0, None, 0, False, 1, -1]), max_size=80).map(tuple)
    return st.recursive(st.one_of(leaves, runs), lambda inner: st.lists(inner, max_size=20).map(tuple),
                        max_leaves=40)


@needs_native
@settings(max_examples=int(os.environ.get("NETCHECK_HYPOTHESIS_EXAMPLES") or 100), deadline=None, derandomize=True,
          database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.lists(_values(), max_size=6).map(tuple), min_size=1, max_size=30))
def test_the_native_store_interns_what_pickle_tells_apart_and_decodes_it_back(states: list[tuple]) -> None:
    """Two states get one id exactly when their packings are equal (so True and 1 stay apart, as the
    packed store keeps them), ids follow first appearance, and decoding gives back the state, types and all."""
    arena, reference, packer = Arena(), {}, Packer()
    for state in states + states[::2]:
        sid = arena.intern(state)
        assert sid == reference.setdefault(packer(state), len(reference))
        assert arena.find(state) == sid and arena.encode(state) == arena.encoded(sid)
        back = arena[sid]
        assert back == state and packer(back) == packer(state), "decoded with the same types"
        encode, decode = state_codec()
        assert packer(decode(encode(state))) == packer(state), "the codec partition workers use"
    assert len(arena) == len(reference)
    assert arena.find(("never", "stored", 2 ** 70)) == -1


@needs_native
def test_the_native_store_refuses_what_it_cannot_encode() -> None:
    arena = Arena()
    for bad in ((1.5,), ([1],), ({1},), (object(),)):
        with pytest.raises(TypeError, match="cannot encode"):
            arena.intern(bad)
    deep: tuple = ()
    for _ in range(100):
        deep = (deep,)
    with pytest.raises(ValueError, match="too deeply"):
        arena.intern(deep)
    assert len(arena) == 0 and arena.intern((1,)) == 0, "a refused state leaves the store as it was"
    with pytest.raises(IndexError):
        arena[1]   # noqa: B018
    with pytest.raises(RuntimeError, match="not initialised"):
        Arena.__new__(Arena).intern((1,))


@needs_native
def test_decoding_bytes_that_are_no_encoding_raises_instead_of_reading_past_them() -> None:
    """Partition workers decode what other processes sent: corrupt bytes are a ValueError, never a read past
    the end, and nesting cannot run the decoder's recursion deeper than a state can be."""
    encode, decode = state_codec()
    good = encode((1, None, None, (True, 300, 2 ** 70, "x", b"y")))
    assert decode(good) == (1, None, None, (True, 300, 2 ** 70, "x", b"y"))
    for bad in (b"", good[:-1], good + b"\x00", b"\xff", b"\x81" * 100 + b"\x00", b"\xa5", b"\x81\xa5",
                b"\x90\xff\xff\xff\xff\x0f", b"\xf1\x7f", b"\xf0\x80"):
        with pytest.raises(ValueError, match="corrupt"):
            decode(bad)
    pickles = state_codec(native=False)
    assert isinstance(pickles[0], Packer) and pickles[1](pickles[0]((1, None))) == (1, None)


@needs_native
@settings(max_examples=int(os.environ.get("NETCHECK_HYPOTHESIS_EXAMPLES") or 100), deadline=None, derandomize=True,
          database=None)
@given(st.data())
def test_the_native_image_order_picks_what_comparing_key_tuples_picks(data: st.DataObject) -> None:
    """`ImageOrder.least` (native) against the key tuples compared in Python: the same least rows, in
    order, on ints of every size, booleans (True == 1), nested tuples and rows that read a slot twice."""
    width = data.draw(st.integers(0, 6))
    size = data.draw(st.integers(max(1, width), 12))
    rows = data.draw(st.lists(st.lists(st.integers(0, size - 1), min_size=width, max_size=width), min_size=1,
                              max_size=8))
    # the slots compared at one key position hold one kind of value, as a permutation's images of one slot
    # do (ints and tuples do not order together)
    value = data.draw(st.sampled_from([st.one_of(st.integers(-2, 3), st.integers(), st.booleans()),
                                       st.tuples(st.integers(0, 2), st.booleans())]))
    for _ in range(5):
        state = tuple(data.draw(value) for _ in range(size))
        keys = [tuple(state[i] for i in row) for row in rows]
        low = min(keys)
        assert ImageOrder(rows).least(state) == [k for k, key in enumerate(keys) if key == low]


@needs_native
def test_the_native_image_order_refuses_what_python_refuses() -> None:
    order = ImageOrder([[0, 1], [1, 0]])
    with pytest.raises(TypeError):
        order.least((None, 1))   # None and an int do not order, as in Python
    with pytest.raises(TypeError, match="every slot"):
        order.least((1,))
    with pytest.raises(ValueError, match="same length"):
        ImageOrder([[0, 1], [1]])
    with pytest.raises(ValueError, match="at least one row"):
        ImageOrder([])
    assert ImageOrder([[]] * 3).least((5,)) == [0, 1, 2], "no key: every image ties"


@needs_native
def test_the_representative_is_the_same_with_and_without_native_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """Canonical's first step (the images least by program counters and plain slots) in native code and
    in Python: the same representative, permutation and packing on states of net_sem.yaml at net=3."""
    system = TransitionSystem(load_spec(ROOT / "specs" / "net_sem.yaml", {"net": 3}), symmetry=True)
    assert system.symmetry is not None and system.symmetry.size == 6
    native = Canonical.of(system.symmetry)
    assert any(isinstance(image, Image) for image in native.images)
    monkeypatch.setattr(store_module, "ImageOrder", None)
    monkeypatch.setattr(store_module, "Image", None)
    monkeypatch.setattr(store_module, "_pick_least", store_module._least_state)
    python = Canonical.of(system.symmetry)
    exp = explore(TransitionSystem(system.spec), Limits(max_states=3000), measure_memory=False)
    tied = 0
    for state in exp.store.states:
        assert native(state) == python(state)
        tied += len(native.ties(state)) > 1
        for native_image, image in zip(native.images, system.symmetry.images):
            assert native_image(state) == image(state)
    assert tied, "some states need the last key"


@needs_native
@settings(max_examples=int(os.environ.get("NETCHECK_HYPOTHESIS_EXAMPLES") or 100), deadline=None, derandomize=True,
          database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.lists(_values(), max_size=5).map(tuple), min_size=1, max_size=6))
def test_the_native_order_of_states_is_the_python_one(states: list[tuple]) -> None:
    """`least_state` (native) against `_order_key` on every kind of value a state holds, True and 1 apart;
    the first of equal least states wins."""
    keys = [store_module._order_key(s) for s in states]
    assert least_state(states) == keys.index(min(keys)) == store_module._least_state(states)
    assert least_state([(1,), (True,)]) == 1 and least_state([(None, 5), (0,)]) == 0
    assert least_state([(1, 2), (1,)]) == 1, "a tuple before the longer ones it begins"


def same_stores(system: TransitionSystem, limits: Limits | None = None) -> None:
    """`system` searched into the native store and into the dict of packed states: the same search."""
    results = []
    for native in (True, False):
        result = ExplicitResult(system, store=StateStore(system.thread_count, native=native))
        search(system, result, limits or Limits())
        results.append(result)
    native, packed = results
    assert isinstance(native.store.states, ArenaStates) and isinstance(packed.store.states, PackedStates)
    for name in GRAPH:
        assert getattr(native.store, name) == getattr(packed.store, name), name
    assert list(native.store.states) == list(packed.store.states)
    assert (native.violations, native.witnesses, native.finals, native.complete) == \
        (packed.violations, packed.witnesses, packed.finals, packed.complete)
    for sid in random.Random(7).sample(range(len(packed.store)), min(50, len(packed.store))):
        assert native.store.id_of(packed.store.states[sid]) == sid


@needs_native
@pytest.mark.parametrize("path", VERSIONS[:3], ids=[p.stem for p in VERSIONS[:3]])
def test_the_native_and_packed_stores_search_the_versions_alike(path: Path) -> None:
    same_stores(TransitionSystem(load_spec(path), Reduction.NONE), Limits(max_states=20_000))


@needs_native
def test_the_native_and_packed_stores_search_generated_specs_alike() -> None:
    generated_systems(30)(lambda system: same_stores(system, Limits(max_states=3_000)))()


@pytest.mark.parametrize("native", [True, False], ids=["native", "dict"])
def test_the_packed_index_is_a_dict_of_packings(native: bool) -> None:
    """A partitioned search's worker: packings -> the coordinator's ids, against a dict, through several
    doublings of the native table, with keys that share prefixes and the empty key."""
    if native and not NATIVE_STORE:
        pytest.skip("the native store was not built here")
    index, reference = PackedIndex(), {}
    if not native:
        index.arena = None
    rng = random.Random(3)
    keys = [b""] + [rng.randbytes(rng.randrange(1, 40)) for _ in range(6_000)] + [b"\x80\x02" + bytes(k) for k in range(300)]
    for n, key in enumerate(keys + keys[::4]):
        sid = 10 ** 6 + 7 * n
        assert index.setdefault(key, sid) == reference.setdefault(key, sid)
    assert len(index) == len(reference)
    for key in keys[:500]:
        assert index.get(key) == reference[key]
    assert index.get(b"never stored") is None and index.get(b"never stored", -1) == -1


@needs_native
def test_a_raw_arena_stores_bytes_as_they_are() -> None:
    arena = Arena(raw=True)
    assert arena.intern(b"\x01\x02") == 0 and arena.intern(b"") == 1 and arena.intern(b"\x01\x02") == 0
    assert arena[0] == b"\x01\x02" and arena[1] == b"" and arena.find(b"\x01") == -1
    with pytest.raises(TypeError, match="raw Arena stores bytes"):
        arena.intern((1, 2))
    with pytest.raises(TypeError, match="encodes nothing"):
        arena.encode((1,))
    with pytest.raises(TypeError):
        Arena(True)   # keyword only
