"""Thread names that are also words of the output (`e`, `r`, `wr`, `held`, `writer`, `CPU0`, ...) appear where a
thread is named and nowhere else, in every rendering of a counterexample: the CPU-column text, `--trace
steps`, JSON, `netcheck explain` and the HTML report."""

from __future__ import annotations

import json
import re
from string import Template

import pytest
from click.testing import CliRunner
from netcheck.checker import cli

# two threads taking two mutexes in opposite orders: $ab takes a then b, $ba takes b then a
ABBA = Template("""\
netcheck: 1
name: abba_names
entities: {cpu: [$element]}
locks: {a: mutex, b: mutex}
procedures:
  path_ab():
    - mutex_lock: a
    - mutex_lock: b
    - mutex_unlock: b
    - mutex_unlock: a
  path_ba():
    - mutex_lock: b
    - mutex_lock: a
    - mutex_unlock: a
    - mutex_unlock: b
threads:
  $ab: $run_ab
  $ba: path_ba()
""")

# $first holds sem for read until $late has set `ready`; $writer queues behind $first, and $late, a reader,
# behind the queued writer; when the writer is done, $late holds sem for read: the invariant fails
RWSEM = Template("""\
netcheck: 1
name: rwsem_names
locks: {sem: rwsem}
state: {w: "int[0..2]", h: bool, ready: bool}
procedures:
  first_reader():
    - down_read: sem
    - h = true
    - await: ready
    - up_read: sem
  write_side():
    - await: h
    - down_write: sem
    - w = 1
    - up_write: sem
    - w = 2
  late_reader():
    - await: h
    - ready = true
    - down_read: sem
    - up_read: sem
threads:
  $first: first_reader()
  $writer: write_side()
  $late: late_reader()
properties:
  reader_after_writer:
    invariant: "not (read_locked(sem) and w == 2)"
""")

# two instances of one rwsem per dev: the waiter queues on the second while the first is free
PER_ENTITY = Template("""\
netcheck: 1
name: per_entity
entities: {dev: [d0, d1]}
locks: {sem: {kind: rwsem, per: [dev]}}
procedures:
  hold(dev x):
    - down_write: "sem[x]"
    - synchronize_rcu
    - up_write: "sem[x]"
  wait(dev x):
    - down_read: "sem[x]"
    - up_read: "sem[x]"
threads:
  holder: hold(d1)
  waiter: wait(d1)
properties:
  waiter_behind_grace_period: {waits_on_slow: waiter}
""")

# (a-then-b thread, b-then-a thread, the element of a `for:` a-then-b thread or '' for a plain one)
ABBA_CASES = [("held", "e", ""), ("wr", "d", ""), ("CPU0", "CPU1", ""), ("by", "wanted", ""), ("held", "e", "CPU1")]
RWSEM_NAMES = [{"first": "e", "writer": "writer", "late": "r"}, {"first": "CPU1", "writer": "held", "late": "wr"},
               {"first": "read", "writer": "queue", "late": "CPU0"}]


@pytest.fixture
def spec(tmp_path, monkeypatch):
    """spec(template, names) -> `t.yaml`, written to the current directory (a fresh temporary one)."""
    monkeypatch.chdir(tmp_path)

    def write(template: Template, names: dict[str, str]) -> str:
        (tmp_path / "t.yaml").write_text(template.substitute(names))
        return "t.yaml"
    return write


def run(*args: str) -> str:
    result = CliRunner().invoke(cli.main, list(args))
    assert result.exit_code == 1, result.output
    return result.output


def abba(spec, case: tuple[str, str, str]) -> tuple[str, str, str]:
    """The ABBA spec of a case, and the instance names of its a-then-b and b-then-a threads."""
    ab, ba, element = case
    run_ab = "{for: c in cpu, run: path_ab()}" if element else "path_ab()"
    path = spec(ABBA, {"ab": ab, "ba": ba, "element": element or "c0", "run_ab": run_ab})
    return path, f"{ab}[{element}]" if element else ab, ba


def lines(text: str) -> list[str]:
    """The lines of the text with runs of blanks made one space: what a reader sees of the CPU columns."""
    return [" ".join(line.split()) for line in text.splitlines()]


def block(text: str, first: str, last: str) -> list[str]:
    """The lines from the one equal to `first` to the next equal to `last`, both included."""
    out = lines(text)
    start = out.index(first)
    return out[start:out.index(last, start) + 1]


# ---------------------------------------------------------------- ABBA


@pytest.mark.parametrize("case", ABBA_CASES, ids="-".join)
def test_abba_cpu_columns(spec, case) -> None:
    path, ab, ba = abba(spec, case)
    out = run("verify", "--no-timing", path)
    assert block(out, f"CPU0 {ba} CPU1 {ab}", "[b] held by CPU0; wanted by CPU1") == [
        f"CPU0 {ba} CPU1 {ab}",
        f"{'-' * len('CPU0 ' + ba)} {'-' * len('CPU1 ' + ab)}",
        "path_ba():",
        "mutex_lock(&b) t.yaml:12",
        "[b] held by CPU0",
        "path_ab():",
        "mutex_lock(&a) t.yaml:7",
        "[a] held by CPU1; wanted by CPU0",
        "[b] held by CPU0; wanted by CPU1",
    ]
    assert block(out, "Final state:", f"b = held by {ba}; wanted by {ab}") == [
        "Final state:", f"a = held by {ab}; wanted by {ba}", f"b = held by {ba}; wanted by {ab}"]


@pytest.mark.parametrize("case", ABBA_CASES, ids="-".join)
def test_abba_steps_and_json(spec, case) -> None:
    path, ab, ba = abba(spec, case)
    out = run("verify", "--no-timing", "--trace", "steps", path)
    assert block(out, f"1. CPU0 {ba} t.yaml:12 mutex_lock(&b)", f"[b] held by {ba}; wanted by {ab}") == [
        f"1. CPU0 {ba} t.yaml:12 mutex_lock(&b)",
        f"[b] held by {ba}",
        f"2. CPU1 {ab} t.yaml:7 mutex_lock(&a)",
        f"[a] held by {ab}; wanted by {ba}",
        f"[b] held by {ba}; wanted by {ab}",
    ]
    data = json.loads(run("verify", "--no-timing", "--format", "json", path))
    deadlock = next(p for p in data["properties"] if p["name"] == "deadlock_free")
    assert [(s["thread"], s["note"], s["locks"]) for s in deadlock["trace"]] == [
        (ba, None, [{"lock": "b", "old": "free", "new": f"held by {ba}"}]),
        (ab, None, [{"lock": "a", "old": "free", "new": f"held by {ab}; wanted by {ba}"},
                    {"lock": "b", "old": f"held by {ba}", "new": f"held by {ba}; wanted by {ab}"}]),
    ]
    assert deadlock["final_state"] == {"a": f"held by {ab}; wanted by {ba}", "b": f"held by {ba}; wanted by {ab}"}


@pytest.mark.parametrize("case", ABBA_CASES, ids="-".join)
def test_abba_explained(spec, case) -> None:
    path, ab, ba = abba(spec, case)
    out = run("explain", path, "deadlock_free")
    assert block(out, f"1. CPU0 ({ba}), in path_ba(), takes b (t.yaml:12).",
                 f"2. CPU1 ({ab}), in path_ab(), takes a while CPU0 ({ba}) waits for it (t.yaml:7).") == [
        f"1. CPU0 ({ba}), in path_ba(), takes b (t.yaml:12).",
        f"2. CPU1 ({ab}), in path_ab(), takes a while CPU0 ({ba}) waits for it (t.yaml:7).",
    ]


# ---------------------------------------------------------------- rwsem waits and an invariant


@pytest.mark.parametrize("names", RWSEM_NAMES, ids=lambda n: "-".join(n.values()))
def test_rwsem_cpu_columns(spec, names) -> None:
    out = run("verify", "--no-timing", spec(RWSEM, names))
    first, writer, late = names["first"], names["writer"], names["late"]
    assert f"CPU0 {first} CPU1 {writer} CPU2 {late}" in lines(out)
    assert block(out, "first_reader():", "w: 1 -> 2") == [
        "first_reader():",
        "down_read(&sem) t.yaml:7",
        "[sem] held for read by CPU0",
        "h = true t.yaml:8",
        "h: false -> true",
        "write_side():",
        "wait_event(h) t.yaml:12",
        "down_write(&sem) t.yaml:13",
        "-> sleeps: held for read by CPU0",
        "[sem] held for read by CPU0; queue:",
        "CPU1 (write)",
        "late_reader():",
        "wait_event(h) t.yaml:18",
        "ready = true t.yaml:19",
        "ready: false -> true",
        "down_read(&sem) t.yaml:20",
        "-> sleeps: a writer is queued (CPU1):",
        "readers wait behind it",
        "[sem] held for read by CPU0; queue:",
        "CPU1 (write), CPU2 (read)",
        "wait_event(ready) t.yaml:9",
        "up_read(&sem) t.yaml:10",
        "[sem] held for write by CPU1; queue:",
        "CPU2 (read)",
        "w = 1 t.yaml:14",
        "w: 0 -> 1",
        "up_write(&sem) t.yaml:15",
        "[sem] held for read by CPU2",
        "w = 2 t.yaml:16",
        "w: 1 -> 2",
    ]


@pytest.mark.parametrize("names", RWSEM_NAMES, ids=lambda n: "-".join(n.values()))
def test_rwsem_steps_and_json(spec, names) -> None:
    path = spec(RWSEM, names)
    first, writer, late = names["first"], names["writer"], names["late"]
    out = lines(run("verify", "--no-timing", "--trace", "steps", path))
    assert f"4. CPU1 {writer} t.yaml:13 down_write(&sem) -> sleeps: held for read by {first}" in out
    assert f"[sem] held for read by {first}; queue: {writer} (write)" in out
    assert (f"7. CPU2 {late} t.yaml:20 down_read(&sem) -> sleeps: a writer is queued ({writer}): readers wait "
            "behind it") in out
    assert f"[sem] held for read by {first}; queue: {writer} (write), {late} (read)" in out
    assert f"[sem] held for write by {writer}; queue: {late} (read)" in out
    data = json.loads(run("verify", "--no-timing", "--format", "json", path))
    trace = next(p for p in data["properties"] if p["name"] == "reader_after_writer")["trace"]
    assert [(s["thread"], s["note"]) for s in trace if s["note"]] == [
        (writer, f"sleeps: held for read by {first}"),
        (late, f"sleeps: a writer is queued ({writer}): readers wait behind it")]
    assert [row["new"] for s in trace for row in s["locks"]] == [
        f"held for read by {first}", f"held for read by {first}; queue: {writer} (write)",
        f"held for read by {first}; queue: {writer} (write), {late} (read)",
        f"held for write by {writer}; queue: {late} (read)", f"held for read by {late}"]


@pytest.mark.parametrize("names", RWSEM_NAMES, ids=lambda n: "-".join(n.values()))
def test_rwsem_explained(spec, names) -> None:
    out = run("explain", spec(RWSEM, names), "reader_after_writer")
    first, writer, late = names["first"], names["writer"], names["late"]
    text = " ".join(lines(out))
    assert f"CPU0 is {first}, CPU1 is {writer}, CPU2 is {late}." in text
    assert (f"4. It then tries to take sem for writing but has to sleep: held for read by CPU0 ({first}) "
            "(t.yaml:13).") in text
    assert (f"7. It then tries to take sem for reading but has to sleep: a writer is queued (CPU1 ({writer})): "
            "readers wait behind it (t.yaml:20).") in text


def test_html_report_shows_threads_as_elements(spec, tmp_path) -> None:
    names = RWSEM_NAMES[0]
    first, writer, late = names["first"], names["writer"], names["late"]
    result = CliRunner().invoke(cli.main, ["report", "--no-timing", spec(RWSEM, names), "-o", "x.html"])
    assert result.exit_code == 1, result.output
    page = (tmp_path / "x.html").read_text()
    table = page[page.index('<table class="trace">'):page.index("</table>", page.index('<table class="trace">'))]

    def thread(label: str, title: str) -> str:
        return f'<span class="thread" title="{title}">{label}</span>'
    assert f"&rarr; sleeps: held for read by {thread(first, 'CPU0')}</div>" in table
    assert (f"&rarr; sleeps: a writer is queued ({thread(writer, 'CPU1')}): readers wait behind it</div>"
            in table)
    assert (f"[sem] held for read by {thread('CPU0', first)}; queue: {thread('CPU1', writer)} (write), "
            f"{thread('CPU2', late)} (read)</li>") in table
    text = re.sub(r"<[^>]+>", "", table)
    assert "held for write by CPU1; queue: CPU2 (read)" in text
    assert f"to sleep: a writer is queued (CPU1 ({writer})): readers wait behind it" in page


def test_indexed_rwsem_names_the_holder_of_the_instance_it_waits_for(spec) -> None:
    """A wait on `sem[x]` says who holds that instance, not the first one."""
    result = CliRunner().invoke(cli.main, ["verify", "--no-timing", "--trace", "steps", spec(PER_ENTITY, {})])
    out = result.output
    assert result.exit_code == 0, out   # a question answered, nothing violated
    # the witness: the holder takes sem[d1] and enters synchronize_rcu(); the waiter queues behind it
    assert "3. CPU1 waiter t.yaml:11 down_read(&sem[x]) -> sleeps: held for write by holder" in lines(out)

