"""Bad input by fuzzing: generated and mutated specs through `netcheck check` and `netcheck verify`.

test_bad_input.py holds the hand-written table (one case per known class of bad input, with the exact
location and code). This file throws generated input at the same two commands and checks only the
contract every input must meet:

- a verdict: exit 0, 1 or 3 (`check`: 0) with the verdict line printed, or
- exit 2 with at least one `file:LINE:COL: error[NCnnn]` diagnostic, located in a file that was
  given (line and column at least 1, the line inside the file);
- never a Python traceback, an exception escaping the command, `internal error` or exit 4;
- never a hang (SIGALRM per command run) and never memory past a bound (a watchdog thread on the
  resident size in-process; RLIMIT_AS in the subprocess sample);
- `check` and `verify` agree on whether the spec is valid, and a subprocess run of the same input
  gives the in-process exit code.

The inputs (every one runs through both commands in-process with click's CliRunner, every
SUBPROCESS_EVERY-th also as a real process under a wall-clock and an address-space limit):

- random YAML documents: nested mappings/lists/scalars whose keys come from the spec vocabulary;
- structured documents: whole specs assembled from a small universe of names (often valid, so they
  reach the explorer), sometimes extending a shipped spec;
- expressions, types and statements made of real names, operators and garbage, placed into every
  position of a small valid spec that takes one;
- mutated copies of the shipped specs (specs/ and docs/examples/): text edits (deleted, duplicated,
  swapped and re-indented lines, swapped keys, wrong types, byte flips and insertions including
  invalid UTF-8, very long names, deep nesting, truncation), tree edits of the parsed YAML, and
  mutated parents under an unchanged child (extends:);
- generated valid specs (tests/spec_generator.py, with the patterns that once broke the engine) through
  every other command: `explain`, `slow`, `locks`, `report`, and `verify` in every output form.

Hypothesis runs derandomized: the same inputs every run. NETCHECK_FUZZ_EXAMPLES=N runs N examples
per fuzz test instead of the small defaults (the default file takes about a minute or two); the
last test prints the number of inputs tried (`pytest -s`, and the terminal summary).

Defects found by this file are fixed and kept as regression tests at the bottom; KNOWN_DEFECTS is where
a new, not yet fixed one would be recognised so that the fuzz run stays useful meanwhile.
"""

from __future__ import annotations

import contextlib
import copy
import faulthandler
import functools
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from helpers import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netcheck.checker.cli import main
from spec_generator import BUG_PATTERNS
from spec_generator import specs as generated_specs

# ---------------------------------------------------------------- budget and limits

SCALE = int(os.environ.get("NETCHECK_FUZZ_EXAMPLES", "0") or 0)


def examples(default: int) -> int:
    """max_examples for one fuzz test: the small default, or NETCHECK_FUZZ_EXAMPLES when set."""
    return SCALE if SCALE > 0 else default




def fuzz_settings(default: int) -> settings:
    """Derandomized (the same inputs every run), no deadline, no example database in the tree."""
    return settings(derandomize=True, deadline=None, max_examples=examples(default), database=None,
                    print_blob=False, suppress_health_check=list(HealthCheck))

VERIFY_ARGS = ("--max-states", "2000", "--timeout", "5")
TIME_LIMIT = 60.0            # seconds per in-process command run (loading is unbounded by --timeout)
RSS_LIMIT = 2 << 30          # bytes of resident memory the test process may reach while a command runs
SUBPROCESS_EVERY = 25        # every n-th input also runs as a real process
SUBPROCESS_AS_LIMIT = 2 << 30
SUBPROCESS_TIMEOUT = 120.0

DIAG = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): error\[NC\d{3}\]: \S", re.M)
# the summary line a verify exit code comes with (a spec with expect: says whether it was met)
VERDICT = {0: ("OK: ", "AS EXPECTED: "), 1: ("VIOLATED", "VACUOUS: ", "NOT AS EXPECTED"), 3: ("UNKNOWN",)}

STATS: Counter[str] = Counter()
STARTED = time.perf_counter()


# ---------------------------------------------------------------- the guards: time and memory

class Overrun(BaseException):
    """Raised into a command that runs too long or grows too big (a BaseException, so that the CLI's
    `except Exception` turning bugs into exit 4 cannot swallow it)."""


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class MemoryWatchdog:
    """Polls the resident size while armed; past RSS_LIMIT it interrupts the main thread (SIGUSR1)."""

    def __init__(self) -> None:
        self.armed = threading.Event()
        self.stop = threading.Event()
        self.tripped = 0
        self.peak = rss_bytes()
        self.thread = threading.Thread(target=self.run, name="fuzz-memory-watchdog", daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop.wait(0.02):
            if not self.armed.is_set():
                continue
            rss = rss_bytes()
            self.peak = max(self.peak, rss)
            if rss > RSS_LIMIT and not self.tripped:
                self.tripped = rss
                signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)


WATCHDOG: MemoryWatchdog | None = None


@contextlib.contextmanager
def guarded(limit: float = TIME_LIMIT) -> Iterator[None]:
    """Run the body under a wall-clock limit (SIGALRM) and the memory watchdog; a C-level hang that
    the signal cannot interrupt is ended by faulthandler (the run dies with a stack dump, not a hang)."""
    assert WATCHDOG is not None

    def alarm(signum, frame):
        raise Overrun(f"still running after {limit:.0f} s")

    def memory(signum, frame):
        raise Overrun(f"resident memory {WATCHDOG.tripped / 2**20:.0f} MB, over {RSS_LIMIT / 2**20:.0f} MB")

    old_alarm = signal.signal(signal.SIGALRM, alarm)
    old_usr1 = signal.signal(signal.SIGUSR1, memory)
    faulthandler.dump_traceback_later(limit * 3, exit=True)
    WATCHDOG.tripped = 0
    WATCHDOG.armed.set()
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        WATCHDOG.armed.clear()
        faulthandler.cancel_dump_traceback_later()
        signal.signal(signal.SIGALRM, old_alarm)
        signal.signal(signal.SIGUSR1, old_usr1)


# ---------------------------------------------------------------- running one input and judging it

@dataclass
class Input:
    """Files to write (relative path -> bytes) and the one to run."""

    kind: str
    files: dict[str, bytes]
    entry: str


# Defects this file found. An exit 4 is run again with NETCHECK_DEBUG=1, and a Python traceback that
# matches one of these is counted under its name instead of failing the fuzz run (so that the fuzz
# tests stay useful until the fix); each gets a regression test at the bottom.
KNOWN_DEFECTS: dict[str, re.Pattern[str]] = {
    # all fixed: rcu_read_unlock without rcu_read_lock, deep call chains, more than 128 threads,
    # unbounded state slots, unbounded inlining (see the regression tests at the bottom)
}


def line_count(data: bytes) -> int:
    """An upper bound on the lines a YAML reader can see in `data` (it also breaks at \\r, \\x85,
    U+2028, U+2029)."""
    text = data.decode("utf-8", errors="replace")
    return len(re.findall(r"\r\n|[\n\r\x85\u2028\u2029\x0b\x0c\x1c\x1d\x1e]", text)) + 1


def problem_with(command: str, code: int | None, out: str, files: dict[Path, bytes]) -> str | None:
    """What is wrong with this outcome of `netcheck COMMAND`, or None when it is acceptable."""
    if "Traceback (most recent call last)" in out:
        return "a Python traceback in the output"
    if code == 4 or "internal error" in out:
        return f"internal error (exit {code})"
    if code not in ((0, 2) if command == "check" else (0, 1, 2, 3)):
        return f"exit {code} is not an exit code of `netcheck {command}`"
    if code == 2:
        found = list(DIAG.finditer(out))
        if not found:
            return "exit 2 without a file:LINE:COL: error[NC...] diagnostic"
        for m in found:
            where = Path(os.path.normpath(m["file"]))
            if where not in files:
                return f"diagnostic located in {m['file']!r}, not a file of the spec"
            line, col = int(m["line"]), int(m["col"])
            if line < 1 or col < 1 or line > line_count(files[where]) + 1:
                return f"diagnostic at {m['file']}:{line}:{col} is outside the file"
        return None
    if command == "check":
        return None if ": ok (" in out else "exit 0 without 'ok (' from check"
    return None if any(v in out for v in VERDICT[code]) else f"exit {code} without its verdict line {VERDICT[code]!r}"


def known_defect(code: int | None, command: str, path: Path) -> str | None:
    """The name of the known defect behind an exit 4, found from the NETCHECK_DEBUG=1 traceback."""
    if code != 4:
        return None
    with guarded():
        _, _, escaped = invoke(command, path, debug=True)
    return next((name for name, pattern in KNOWN_DEFECTS.items() if pattern.search(escaped or "")), None)


def invoke(command: str, path: Path, *extra: str, debug: bool = False) -> tuple[int | None, str, str | None]:
    """(exit code, output, escaped exception) of one in-process run; Overrun propagates."""
    args = [command, *(VERIFY_ARGS if command == "verify" else ()), *extra, str(path)]
    result: Result = CliRunner().invoke(main, args, env={"NETCHECK_DEBUG": "1" if debug else None})
    escaped = None
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        escaped = "".join(traceback.format_exception(result.exception))
    return result.exit_code, result.output, escaped


def limit_memory() -> None:  # preexec_fn of the subprocess sample
    resource.setrlimit(resource.RLIMIT_AS, (SUBPROCESS_AS_LIMIT, SUBPROCESS_AS_LIMIT))


def run_subprocess(path: Path, *args: str, timeout: float = SUBPROCESS_TIMEOUT,
                   as_limit: Callable[[], None] = limit_memory) -> tuple[int | None, str]:
    """(exit code, stdout+stderr) of `netcheck verify ARGS PATH` as a process; None on timeout."""
    command = [sys.executable, "-m", "netcheck.checker.cli", *args, str(path)]
    try:
        proc = subprocess.run(command, cwd=path.parent, capture_output=True, timeout=timeout,
                              preexec_fn=as_limit, env={**os.environ, "PYTHONHASHSEED": "0"})
    except subprocess.TimeoutExpired as err:
        out = (err.stdout or b"") + (err.stderr or b"")
        return None, out.decode("utf-8", "replace") + f"\n[killed after {timeout:.0f} s]"
    return proc.returncode, (proc.stdout + proc.stderr).decode("utf-8", "replace")


def check_input(spec: Input) -> None:
    """Write the input, run both commands in-process (and maybe as a process); fail on a bad outcome."""
    with contextlib.suppress(Collected):
        _check_input(spec)


def _check_input(spec: Input) -> None:
    STATS["inputs"] += 1
    STATS[f"inputs: {spec.kind}"] += 1
    number = STATS["inputs"]
    work = Path(tempfile.mkdtemp(prefix=f"in{number}-", dir=WORKDIR))
    try:
        files = {}
        for rel, data in spec.files.items():
            target = work / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            files[Path(os.path.normpath(target))] = data
        path = work / spec.entry
        codes = {}
        for command in ("check", "verify"):
            started = time.perf_counter()
            try:
                with guarded():
                    code, out, escaped = invoke(command, path)
            except Overrun as err:
                code, out, escaped = None, "", None
                failure = f"`netcheck {command}` {err}"
                if "memory" in str(err):
                    STATS["memory overruns"] += 1
                raise AssertionError(report(spec, failure, out)) from None
            STATS[f"seconds: {command}"] += time.perf_counter() - started  # type: ignore[assignment]
            if escaped:
                raise AssertionError(report(spec, f"`netcheck {command}` raised", escaped))
            name = known_defect(code, command, path)
            if name:
                STATS[f"known defect: {name}"] += 1
                return
            trouble = problem_with(command, code, out, files)
            if trouble:
                raise AssertionError(report(spec, f"`netcheck {command}`: {trouble}", out))
            STATS[f"exit {code}: {command}"] += 1
            STATS[f"{spec.kind}: {command} exit {code}"] += 1
            codes[command] = code
        if (codes["check"] == 2) != (codes["verify"] == 2):
            raise AssertionError(report(spec, f"check exits {codes['check']} but verify exits {codes['verify']}",
                                        ""))
        if number % SUBPROCESS_EVERY == 0:
            STATS["subprocess runs"] += 1
            started = time.perf_counter()
            code, out = run_subprocess(path, "verify", *VERIFY_ARGS)
            STATS["seconds: subprocess"] += time.perf_counter() - started  # type: ignore[assignment]
            if code is None:
                raise AssertionError(report(spec, "the subprocess hung", out))
            if known_defect(code, "verify", path):
                return
            trouble = problem_with("verify", code, out, files)
            if trouble is None and code != codes["verify"] and 3 not in (code, codes["verify"]):
                trouble = f"exit {code} as a process but {codes['verify']} in-process"
            if trouble:
                raise AssertionError(report(spec, f"subprocess verify (RLIMIT_AS 2 GB): {trouble}", out))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(spec: Input, failure: str, out: str) -> str:
    """A failure message that reproduces the input: the entry file's bytes and the other files.

    With NETCHECK_FUZZ_COLLECT=FILE (long campaigns) the message is appended to FILE and counted, and the
    run goes on to the next input; test_zz_fuzz_summary then fails if anything was collected."""
    shown = spec.files[spec.entry]
    others = sorted(k for k in spec.files if k != spec.entry)
    message = (f"{failure}\ninput kind {spec.kind}; entry {spec.entry} ({len(shown)} bytes); other files "
               f"{others}\n--- entry (repr) ---\n{shown[:4000]!r}\n--- output ---\n{out[-4000:]}")
    if COLLECT:
        STATS["failures collected"] += 1
        with open(COLLECT, "a", encoding="utf-8") as f:
            f.write(f"=== failure {STATS['failures collected']} (input {STATS['inputs']})\n{message}\n")
        if spec.entry in spec.files:
            Path(f"{COLLECT}.{STATS['failures collected']}.yaml").write_bytes(shown)
        raise Collected()
    return message


class Collected(Exception):
    """A failure written to NETCHECK_FUZZ_COLLECT; the input counts as done."""


COLLECT = os.environ.get("NETCHECK_FUZZ_COLLECT", "")


# ---------------------------------------------------------------- shared fixtures

WORKDIR: Path = Path(tempfile.gettempdir())


@pytest.fixture(scope="module", autouse=True)
def fuzz_environment(tmp_path_factory):
    global WORKDIR, WATCHDOG
    WORKDIR = tmp_path_factory.mktemp("fuzz")
    WATCHDOG = MemoryWatchdog()
    yield
    WATCHDOG.stop.set()


# ---------------------------------------------------------------- vocabulary

TOP_KEYS = ["netcheck", "name", "about", "extends", "entities", "types", "locks", "state", "procedures",
            "threads", "properties", "options"]
DECL_KEYS = ["type", "init", "per", "kind", "for", "run", "count", "daemon", "about", "invariant", "final",
             "reachable", "waits_on_slow", "locals", "body", "deadlock", "fatal_signals", "rwsem_wake"]
LOCK_STMTS = ["mutex_lock", "mutex_lock_killable", "mutex_trylock", "mutex_unlock", "down_read",
              "down_read_killable", "down_read_trylock", "up_read", "down_write", "down_write_killable",
              "down_write_trylock", "up_write", "downgrade_write", "spin_lock", "spin_trylock", "spin_unlock"]
COUNTER_STMTS = ["refcount_set", "refcount_inc", "refcount_inc_not_zero", "refcount_dec", "refcount_dec_and_test",
                 "atomic_set", "atomic_inc", "atomic_dec", "atomic_dec_and_test", "init_completion", "complete",
                 "complete_all", "wait_for_completion", "wait_for_completion_killable", "wait_for_completion_timeout",
                 "try_wait_for_completion"]
WAIT_STMTS = ["wait_event", "wait_event_killable", "wait_event_timeout", "wake_up", "wake_up_all", "prepare_to_wait",
              "finish_wait", "schedule"]
STMT_KEYS = [*LOCK_STMTS, *COUNTER_STMTS, *WAIT_STMTS, "on_fail", "if", "then", "else", "while", "do", "either", "list_for_each_entry",
             "list_for_each_entry_reverse", "list_for_each_entry_continue_reverse", "for_each", "await", "idle",
             "assert", "name", "about", "call", "result", "label", "goto", "return", "slow", "rcu_read_lock",
             "rcu_read_unlock", "synchronize_rcu", "rcu_barrier", "pass", "break", "continue"]
SPEC_NAMES = ["net", "ops", "core", "subsys", "device", "net0", "net1", "core0", "subsys0", "device0",
              "net_mutex", "rtnl_mutex", "net_sem", "pernet_ops_rwsem", "pernet_list", "first_device",
              "net_namespace_list", "cleanup_list", "inits", "exits", "freed", "link_ops", "link_devs",
              "setup_net", "cleanup_net", "copy_net_ns", "ops_init", "rtnl_lock", "creator", "netns_wq",
              "n", "o", "err", "rv", "pos"]
VALUES = ["mutex", "rwsem", "spinlock", "bool", "int[0..2]", "int[-12..0]", "list<ops>", "list<net>",
          "set<net>", "ops?", "net?", "enum{a, b}", "head_run", "all_readers", "true", "false", "null", "1",
          "0", "-1", "16", "17", "x in net", "n in net", "creator(n)", "setup_net(net n) -> int[-12..0]",
          "return -ENOMEM", "goto out_undo", "err = -ENOMEM", "list_add_tail(pernet_list, o)",
          "refcount_t[0..2]", "atomic_t[-1..1]", "completion", "completion[2]", "refcount_t", "count[n], 1",
          "wait_queue_head_t", "wq, x", "wq[n], done", "wq", "schedule"]

# The universe of the small specs below: every name an expression or statement may use.
U_ENTITIES = ["net", "ops", "core", "subsys"]
U_ELEMENTS = ["net0", "net1", "net2", "core0", "subsys0", "subsys1"]
U_LOCKS = ["m", "sem", "sp"]
U_STATE = ["c", "flags", "lst", "s", "cur", "hits"]
U_LOCALS = ["x", "y", "err", "i", "n", "o"]
U_PROCS = ["p0", "p1", "p2", "p3", "helper", "worker"]
U_NAMES = U_ENTITIES + U_ELEMENTS + U_LOCKS + U_STATE + U_LOCALS + ["null", "true", "false", "ENOMEM", "EINTR"]
FUNCS = ["all", "any", "count", "sum", "len", "empty", "first", "last", "next", "prev", "index", "before",
         "locked", "read_locked", "write_locked", "running", "list_add", "list_del", "eval", "open",
         "__import__", "getattr", "max", "helper", "p1"]
BINOPS = ["+", "-", "|", "&", "==", "!=", "<", "<=", ">", ">=", "in", "not in", "and", "or", "is", "is not",
          "**", "*", "/", "//", "%", "<<", ">>", "^", "@", ":=", "=", "+=", ".", ",", ":", "if", "for"]
UNOPS = ["not", "-", "+", "~", "lambda:", "await", "yield", "*", "**"]
GARBAGE = ["(", ")", "[", "]", "{", "}", ",", ":", ": ", ".", "..", "'", '"', "#", " #", "\\", "`", "$", "@",
           "?", "!", "&", "*", "|", ">", "%", "\t", "\n", "\r", "\x00", "\x07", "\x7f", "\x85", "\u00a0",
           "\u200b", "\u202e", "\u2028", "\ufeff", "é", "∀", "𝓍", "ﬁ", "٣", "__class__", "__", ";", "\\n",
           "...", "1e9", "0x1f", "9" * 30, "x" * 300, "---", "- ", "? ", "!!python/name:os.system", "*a", "&a"]
ERRNO = ["ENOMEM", "EINTR", "EPERM", "ENOENT", "EIO", "EAGAIN", "EBUSY", "EEXIST", "EINVAL", "ENOSPC"]

identifiers = st.sampled_from([*U_NAMES, *SPEC_NAMES, *U_PROCS, "x" * 200, "_", "a1", "None", "True"])
garbage = st.sampled_from(GARBAGE) | st.text(max_size=6)


# ---------------------------------------------------------------- strategies: expressions, types

def _insert(text: str, at: int, piece: str) -> str:
    at %= len(text) + 1
    return text[:at] + piece + text[at:]


@functools.cache
def expression_core(pool: tuple[str, ...]) -> st.SearchStrategy[str]:
    atoms = st.one_of(
        st.sampled_from(pool), st.sampled_from(pool),
        st.integers(-4, 5).map(str),
        st.sampled_from(["0", "-1", "16", "1048576", "1048577", "-1048577", "99999999999999999999", "2 ** 10",
                         "0x10", "1_0", "1.5", "1e3", "'s'", '"t"', "b'x'", "f'{c}'", "None", "True", "False",
                         "-ENOMEM", *ERRNO, "...", "[]", "{}", "()", "set()"]),
        garbage,
    )

    def extend(inner):
        return st.one_of(
            st.tuples(inner, st.sampled_from(BINOPS), inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
            st.tuples(st.sampled_from(UNOPS), inner).map(lambda t: f"{t[0]} {t[1]}"),
            inner.map(lambda e: f"({e})"),
            st.tuples(st.sampled_from(FUNCS), st.lists(inner, max_size=3)).map(
                lambda t: f"{t[0]}({', '.join(t[1])})"),
            st.tuples(st.sampled_from(U_STATE + ["hits", "flags", "lst"]), st.lists(inner, min_size=1, max_size=3))
            .map(lambda t: f"{t[0]}[{', '.join(t[1])}]"),
            st.tuples(st.sampled_from(["all", "any", "count", "sum"]), inner, st.sampled_from(["a", "b", "q", "n", "c"]),
                      st.sampled_from(U_ENTITIES + ["lst", "s", "c"]) | inner, st.none() | inner).map(
                lambda t: f"{t[0]}({t[1]} for {t[2]} in {t[3]}" + (f" if {t[4]}" if t[4] else "") + ")"),
            st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} if {t[1]} else {t[2]}"),
            st.lists(inner, max_size=3).map(lambda xs: "{" + ", ".join(xs) + "}"),
            st.lists(inner, max_size=3).map(lambda xs: "(" + ", ".join(xs) + ")"),
            st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
            st.tuples(inner, inner).map(lambda t: t[0] + t[1]),
        )

    return st.recursive(atoms, extend, max_leaves=14)


@st.composite
def expressions(draw, names: tuple[str, ...] = tuple(U_NAMES)) -> str:
    """An expression string: mostly grammatical, made of real names, with operators and garbage."""
    text = draw(expression_core(names))
    for _ in range(draw(st.integers(0, 2))):
        text = _insert(text, draw(st.integers(0, 10_000)), draw(garbage))
    if draw(st.integers(0, 9)) == 0:
        text = draw(st.sampled_from(["not " * 200 + "true", "(" * 100 + "c" + ")" * 100, "c + " * 300 + "1",
                                     "all(" * 12 + "true" + " for n in net)" * 12, "x" * 3000, "c == " + "9" * 600,
                                     "-" * 500 + "1 == c", "count(n in s for n in net for o in ops for a in net "
                                     "for b in net for q in net)"]))
    return text


@st.composite
def type_strings(draw) -> str:
    atom = st.sampled_from(["bool", "int", "net", "ops", "core", "subsys", "count3", "phase", "nett", "c", "m",
                            "int[0..3]", "int[-12..0]", "int[0..0]", "int[3..0]", "int[0..1048576]",
                            "int[-99999999999..9]", "int[0..]", "int[..]", "int[a..b]", "enum{a, b}",
                            "enum{}", "enum{a, a}", "enum{net0}", "enum{" + ", ".join(f"v{i}" for i in
                                                                                    range(120)) + "}"])

    def extend(inner):
        return st.one_of(inner.map(lambda t: f"list<{t}>"), inner.map(lambda t: f"set<{t}>"),
                         inner.map(lambda t: f"{t}?"), st.tuples(inner, inner).map(lambda t: f"map<{t[0]}, {t[1]}>"),
                         st.tuples(inner, garbage).map(lambda t: t[0] + t[1]))

    text = draw(st.recursive(atom, extend, max_leaves=4))
    if draw(st.booleans()):
        text = _insert(text, draw(st.integers(0, 100)), draw(garbage))
    return text


EXPRESSIONS = expressions()


# Well-typed pieces over the universe of HOLE_BASE and clean_specs(): entities net (net0, net1) and
# ops (core0, subsys0); locks m (mutex), sem (rwsem), sp (spinlock); state c int[0..3], flags bool
# per net, hits int[0..2] per [net, ops], lst list<net>, s set<net>, cur net?. In statements (scope
# "stmt") also the parameter n and the locals y (net?) and err (int[-12..0]).

@functools.cache
def typed_ints(scope: str) -> st.SearchStrategy[str]:
    atoms = ["c", "0", "1", "2", "3", "-1", "len(lst)", "len(s)", "index(lst, net0)", "hits[net0, core0]",
             "count(q in s for q in net)", "sum(hits[q, core0] for q in net)", "-ENOMEM"]
    if scope == "stmt":
        atoms += ["err", "hits[n, subsys0]", "index(lst, n)"]
    return st.recursive(st.sampled_from(atoms), lambda i: st.tuples(i, st.sampled_from(["+", "-"]), i).map(
        lambda t: f"{t[0]} {t[1]} {t[2]}"), max_leaves=3)


@functools.cache
def typed_bools(scope: str) -> st.SearchStrategy[str]:
    nets = ["net0", "net1"] + (["n"] if scope == "stmt" else [])
    maybe = ["cur", "null", "first(lst)", "last(lst)", "next(lst, cur)"] + (["y"] if scope == "stmt" else [])
    sets = ["s", "{net0}", "{net0, net1}", "s | {net1}", "s - {net0}", "lst", "net"]
    ints = typed_ints(scope)
    atoms = st.one_of(
        st.sampled_from(["true", "false", "locked(m)", "read_locked(sem)", "write_locked(sem)", "locked(sp)",
                         "empty(lst)", "empty(s)", "flags[net0]", "before(lst, net0, net1)", "all(flags[q] for q in net)",
                         "any(q in s for q in lst)", "all(hits[q, o] <= 1 for q in net for o in ops if q in s)",
                         "cur in lst", "c in (0, 2)"] + (["flags[n]", "n in s", "y == null"] if scope == "stmt" else [])
                        + (["running(p1) >= 2", "running(p2) == 0"] if scope == "prop" else [])),
        st.tuples(ints, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), ints).map(lambda t: " ".join(t)),
        st.tuples(st.sampled_from(nets + maybe), st.sampled_from(["==", "!=", "is", "is not"]),
                  st.sampled_from(nets + maybe)).map(lambda t: " ".join(t)),
        st.tuples(st.sampled_from(nets), st.sampled_from(["in", "not in"]), st.sampled_from(sets)).map(
            lambda t: " ".join(t)),
    )

    def extend(inner):
        return st.one_of(inner.map(lambda b: f"not {b}"), inner.map(lambda b: f"({b})"),
                         st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: " ".join(t)),
                         st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} if {t[1]} else {t[2]}"),
                         st.tuples(inner, st.sampled_from(["qa", "qb", "qc"])).map(
                             lambda t: f"all({t[0]} or {t[1]} == net0 for {t[1]} in net)"))

    return st.recursive(atoms, extend, max_leaves=5)


LOCK_PAIRS = [("mutex_lock", "mutex_unlock", "m"), ("down_read", "up_read", "sem"),
              ("down_write", "up_write", "sem"), ("spin_lock", "spin_unlock", "sp")]
CLEAN_SIMPLE = ["c = 1", "c = 0", "c += 1", "c -= 1", "flags[n] = true", "flags[n] = not flags[n]",
                "list_add_tail(lst, n)", "list_add(lst, n)", "list_del(lst, n)", "s = s | {n}", "s = s - {n}",
                "y = first(lst)", "y = next(lst, y)", "err = -ENOMEM", "err = p2()", "c = helper(n)", "pass",
                "rcu_read_lock", "rcu_read_unlock", "synchronize_rcu", "rcu_barrier", "p0", "return", "cur = y",
                "hits[n, core0] += 1", "s, c = s | {n}, c + 1"]


@functools.cache
def clean_statements() -> st.SearchStrategy[object]:
    """Statements for the body of p1(net n) that load (runtime errors and misused locks are fine:
    they are verdicts)."""
    bools, ints = typed_bools("stmt"), typed_ints("stmt")
    simple = st.one_of(
        st.sampled_from(CLEAN_SIMPLE),
        ints.map(lambda i: f"c = {i}"), bools.map(lambda b: f"flags[n] = {b}"),
        st.sampled_from(LOCK_PAIRS).flatmap(lambda p: st.sampled_from([{p[0]: p[2]}, {p[1]: p[2]}])),
        st.sampled_from([{"mutex_lock_killable": "m", "on_fail": "return"},
                         {"down_read_killable": "sem", "on_fail": ["err = -EINTR", "return"]},
                         {"down_write_trylock": "sem", "on_fail": "return"}, {"mutex_trylock": "m", "on_fail": []},
                         {"spin_trylock": "sp", "on_fail": "return"}, {"downgrade_write": "sem"},
                         {"down_write_killable": "sem", "on_fail": "pass"}]),
    )

    def extend(inner):
        body = st.lists(inner, max_size=4)
        return st.one_of(
            st.sampled_from(LOCK_PAIRS).flatmap(lambda p: body.map(lambda b: [{p[0]: p[2]}, *b, {p[1]: p[2]}])),
            st.tuples(bools, body, st.none() | body).map(
                lambda t: {"if": t[0], "then": t[1], **({"else": t[2]} if t[2] is not None else {})}),
            st.tuples(bools, body).map(lambda t: {"while": t[0], "do": [*t[1], "break"]}),
            st.tuples(bools, body).map(lambda t: {"while": t[0], "do": t[1]}),
            st.tuples(body, body).map(lambda t: {"either": {"works": t[0], "fails": t[1]}}),
            st.tuples(st.sampled_from(["for_each: z in net", "for_each: z in s", "list_for_each_entry: y in lst",
                                       "list_for_each_entry_reverse: y in lst"]), body).map(
                lambda t: {t[0].split(": ")[0]: t[0].split(": ")[1], "do": t[1]}),
            st.tuples(bools, st.sampled_from([None, True, False])).map(
                lambda t: {"await": t[0], **({"idle": t[1]} if t[1] is not None else {})}),
            bools.map(lambda b: {"assert": b}),
            st.tuples(inner, st.sampled_from([True, False])).map(
                lambda t: {**t[0], "slow": t[1]} if isinstance(t[0], dict) else t[0]),
        )

    # a statement is a string, a mapping, or (from a lock pair) a list to splice into the body
    return st.recursive(simple, extend, max_leaves=8)


def splice(body: list) -> list:
    """Flatten the lists that lock pairs produce into the statement list around them."""
    out: list = []
    for stmt in body:
        if isinstance(stmt, list):
            out.extend(splice(stmt))
        elif isinstance(stmt, dict):
            out.append({k: splice(v) if isinstance(v, list) else
                        {b: splice(x) if isinstance(x, list) else x for b, x in v.items()} if k == "either" else v
                        for k, v in stmt.items()})
        else:
            out.append(stmt)
    return out


@st.composite
def clean_specs(draw) -> dict:
    """A spec over the universe above that usually loads, so that it reaches the explorer."""
    stmts = clean_statements()
    p2_body = [{"down_read": "sem"}, {"up_read": "sem"}, "return 0"]
    if draw(st.booleans()):
        p2_body.insert(0, {"if": draw(typed_bools("prop").filter(lambda b: "running" not in b)),
                           "then": ["return -ENOMEM"]})
    threads: dict = {"t": {"for": "n in net", "run": "p1(n)"}}
    if draw(st.booleans()):
        threads["u"] = {"run": draw(st.sampled_from(["p1(net0)", "p1(net1)", "p2()", "p0()"])),
                        "count": draw(st.integers(0, 2))}
    if draw(st.booleans()):
        threads["d"] = {"run": "w()", "daemon": True}
    spec = {
        "netcheck": 1, "name": "clean",
        "entities": {"net": draw(st.integers(2, 3)), "ops": {"core": 1, "subsys": draw(st.integers(1, 2))}},
        "locks": {"m": "mutex", "sem": "rwsem", "sp": "spinlock"},
        "state": {"c": {"type": "int[0..3]"}, "flags": {"type": "bool", "per": ["net"]},
                  "hits": {"type": "int[0..2]", "per": ["net", "ops"]}, "lst": {"type": "list<net>"},
                  "s": {"type": "set<net>"}, "cur": {"type": "net?"}},
        "procedures": {
            "p0()": splice(draw(st.lists(st.sampled_from(["c = 1", "c += 1", "pass", {"mutex_lock": "m"},
                                                          {"mutex_unlock": "m"}, "synchronize_rcu"]), max_size=3))),
            "helper(net x) -> int[0..3]": ["return 1"],
            "p2() -> int[-12..0]": p2_body,
            "p1(net n)": {"locals": {"y": "net?", "err": "int[-12..0]"},
                          "body": splice(draw(st.lists(stmts, min_size=1, max_size=6)))},
            "w()": [{"while": "true", "do": [{"await": draw(typed_bools("prop").filter(lambda b: "running" not in b)),
                                              "idle": True}, "c = 0"]}],
        },
        "threads": threads,
    }
    props = {}
    for i in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["invariant", "final", "reachable", "waits_on_slow"]))
        props[f"prop{i}"] = {kind: "t" if kind == "waits_on_slow" else draw(typed_bools("prop"))}
    if props:
        spec["properties"] = props
    if draw(st.integers(0, 3)) == 0:
        spec["options"] = {"deadlock": draw(st.booleans()), "fatal_signals": draw(st.booleans()),
                           "rwsem_wake": draw(st.sampled_from(["head_run", "all_readers"]))}
    return spec

# ---------------------------------------------------------------- strategies: statements and specs

LIST_STMTS = ["c = 1", "c += 1", "c -= 1", "flags[n] = true", "hits[n, o] += 1", "list_add_tail(lst, n)",
              "list_add(lst, net0)", "list_del(lst, n)", "list_add_before(lst, net1, cur)", "s = s | {n}",
              "s -= {n}", "cur = first(lst)", "cur = next(lst, cur)", "c, cur = 2, null", "return", "return 0",
              "return -ENOMEM", "break", "continue", "goto out", "pass", "p1(n)", "call p1", "err = p2()",
              "x = helper(n)", "rcu_read_lock", "rcu_read_unlock", "synchronize_rcu", "rcu_barrier()", "p0",
              "c = c"]


@functools.cache
def statements(expr):
    """A recursive strategy of statements (strings and statement mappings) whose bodies nest."""
    lock_target = st.sampled_from(U_LOCKS + ["m[n]", "sem[net0]", "nosuch", "c"]) | expr
    simple = st.one_of(st.sampled_from(LIST_STMTS), expr.map(lambda e: f"c = {e}"), expr,
                       st.tuples(st.sampled_from(LOCK_STMTS), lock_target).map(lambda t: {t[0]: t[1]}),
                       st.sampled_from([{"label": "out"}, {"goto": "out"}, {"return": None}, {"return": "-EINTR"},
                                        {"rcu_read_lock": None}, {"synchronize_rcu": None}, {"pass": None}]))

    def extend(inner):
        body = st.lists(inner, max_size=4) | inner
        return st.one_of(
            st.tuples(st.sampled_from(LOCK_STMTS), lock_target, st.none() | body).map(
                lambda t: {t[0]: t[1], **({"on_fail": t[2]} if t[2] is not None else {})}),
            st.tuples(expr, body, st.none() | body).map(
                lambda t: {"if": t[0], "then": t[1], **({"else": t[2]} if t[2] is not None else {})}),
            st.tuples(expr, body).map(lambda t: {"while": t[0], "do": t[1]}),
            st.dictionaries(st.sampled_from(["works", "fails", "a", "b", "then", "do"]), body, max_size=3)
            .map(lambda d: {"either": d}),
            st.tuples(st.sampled_from(["list_for_each_entry", "list_for_each_entry_reverse",
                                       "list_for_each_entry_continue_reverse", "for_each"]),
                      st.sampled_from(["x in lst", "o in ops", "n in s", "cur in lst", "y in net", "x in c"]) | expr,
                      body).map(lambda t: {t[0]: t[1], "do": t[2]}),
            st.tuples(expr, st.sampled_from([None, True, False, "yes", 3])).map(
                lambda t: {"await": t[0], **({"idle": t[1]} if t[1] is not None else {})}),
            st.tuples(expr, st.none() | st.sampled_from(["a1", "p", "deadlock_free", "c"])).map(
                lambda t: {"assert": t[0], **({"name": t[1]} if t[1] else {})}),
            st.tuples(st.sampled_from(["p1(n)", "p2()", "helper(net0)", "worker(n)", "p1", "nosuch()"]) | expr,
                      st.none() | st.sampled_from(["c", "err", "x", "flags[n]"])).map(
                lambda t: {"call": t[0], **({"result": t[1]} if t[1] else {})}),
            st.tuples(inner, st.sampled_from(STMT_KEYS), st.sampled_from([True, None, "x", 1]) | body).map(
                lambda t: {**t[0], t[1]: t[2]} if isinstance(t[0], dict) else {t[1]: t[2]}),
        )

    return st.recursive(simple, extend, max_leaves=10)


SIGNATURES = {
    "p0": ["p0()", "p0"],
    "p1": ["p1(net n)", "p1(net n, ops o)", "p1(nett n)", "p1(net n, net n)", "p1(n: net)", "p1(int[0..3] v)"],
    "p2": ["p2() -> int[-12..0]", "p2 -> int[-12..0]", "p2() -> bool", "p2() ->", "p2() -> int"],
    "p3": ["p3(net n)", "p3(net? n)", "p3(set<net> q)"],
    "helper": ["helper(net x) -> int[0..3]", "helper(x: net) -> int[0..3]"],
    "worker": ["worker(net n)", "worker(net n, ops o)", "worker()"],
}


@st.composite
def structured_specs(draw) -> dict:
    """A whole spec built from the universe above; with luck (and often) a valid one."""
    expr = EXPRESSIONS
    stmts = statements(expr)
    spec: dict = {"netcheck": draw(st.sampled_from([1, 1, 1, 1, 2, "1", None, [1]]))}
    if draw(st.booleans()):
        spec["name"] = draw(identifiers)
    n_net = draw(st.sampled_from([0, 1, 2, 2, 3, 16, 17, -1, "two", None]))
    entities: dict = {"net": n_net}
    if draw(st.booleans()):
        entities["ops"] = {"core": draw(st.integers(0, 2)), "subsys": draw(st.sampled_from([0, 1, 2, [], ["a", "b"]]))}
    spec["entities"] = entities
    if draw(st.booleans()):
        spec["types"] = {"count3": draw(type_strings()), "phase": "enum{idle, live, gone}"}
    spec["locks"] = draw(st.dictionaries(st.sampled_from(U_LOCKS + ["net0", "c"]),
                                         st.sampled_from(["mutex", "rwsem", "spinlock", "mutx", None,
                                                          {"kind": "mutex", "per": ["net"]},
                                                          {"kind": "rwsem", "per": ["net", "ops"]},
                                                          {"per": ["net"]}]), max_size=3))
    state = {}
    for var, default in (("c", "int[0..3]"), ("flags", "bool"), ("lst", "list<net>"), ("s", "set<net>"),
                         ("cur", "net?"), ("hits", "int[0..2]")):
        if draw(st.integers(0, 5)) == 0:
            continue
        decl: dict = {"type": draw(st.sampled_from([default] * 4) | type_strings())}
        if var in ("flags", "hits") and draw(st.integers(0, 4)):
            decl["per"] = ["net"] if var == "flags" else draw(st.sampled_from([["net", "ops"], ["net", "net"],
                                                                               ["nett"], "net", ["net"] * 3]))
        if draw(st.integers(0, 3)) == 0:
            decl["init"] = draw(st.sampled_from([0, 1, 7, True, [], ["net0"], ["net0", "net0"], {"net0": True},
                                                 "net0", None, -1]))
        state[var] = decl
    spec["state"] = state
    procedures = {}
    for proc in draw(st.lists(st.sampled_from(list(SIGNATURES)), min_size=1, max_size=4, unique=True)):
        signature = draw(st.sampled_from(SIGNATURES[proc]))
        body = draw(st.lists(stmts, max_size=6))
        if draw(st.integers(0, 2)) == 0:
            procedures[signature] = {"locals": draw(st.dictionaries(st.sampled_from(U_LOCALS),
                                                                    st.sampled_from(["net?", "int[-12..0]", "bool",
                                                                                     "ops?", "list<net>"])
                                                                    | type_strings(), max_size=3)),
                                     "body": body}
        else:
            procedures[signature] = body
    spec["procedures"] = procedures
    threads = {}
    for i in range(draw(st.integers(0, 3))):
        proc = draw(st.sampled_from(list(SIGNATURES)))
        thread: dict = {}
        if draw(st.booleans()):
            thread["for"] = draw(st.sampled_from(["n in net", "o in ops", "o in subsys", "n in nett", "n in c"]))
            thread["run"] = draw(st.sampled_from([f"{proc}(n)", f"{proc}(o)", f"{proc}()", f"{proc}(n, o)"]))
        else:
            thread["run"] = draw(st.sampled_from([f"{proc}()", f"{proc}(net0)", f"{proc}(net0, core0)"]) | expr)
            if draw(st.booleans()):
                thread["count"] = draw(st.sampled_from([0, 1, 2, 3, 16, 17, -1, "2"]))
        if draw(st.integers(0, 3)) == 0:
            thread["daemon"] = draw(st.sampled_from([True, False, "yes", 1]))
        threads[f"t{i}"] = draw(st.sampled_from([thread, thread, thread, thread["run"]]))
    spec["threads"] = threads
    if draw(st.booleans()):
        spec["properties"] = draw(st.dictionaries(
            st.sampled_from(["p", "q", "r", "deadlock_free", "c"]),
            st.tuples(st.sampled_from(["invariant", "final", "reachable", "waits_on_slow"]), expr).map(
                lambda t: {t[0]: t[1]}), max_size=3))
    if draw(st.integers(0, 3)) == 0:
        spec["options"] = draw(st.dictionaries(st.sampled_from(["deadlock", "fatal_signals", "rwsem_wake", "nope"]),
                                               st.sampled_from([True, False, "head_run", "all_readers", None, 5]),
                                               max_size=3))
    if draw(st.integers(0, 4)) == 0:   # extend a shipped spec: the sections override its entries
        spec["extends"] = draw(st.sampled_from(["net_mutex.yaml", "net_sem.yaml", "pernet_ops_rwsem.yaml",
                                                "bugs/register_takes_read.yaml", "nosuch.yaml", "fuzz.yaml"]))
        for section in ("entities", "locks", "state", "threads"):
            if draw(st.booleans()):
                spec.pop(section, None)
    # drop or scramble a few top-level entries
    for key in draw(st.lists(st.sampled_from(list(spec)), max_size=2)):
        spec.pop(key, None)
    return spec


scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(),
                    st.sampled_from(VALUES + SPEC_NAMES + TOP_KEYS + STMT_KEYS), expressions(tuple(SPEC_NAMES)),
                    st.text(max_size=20))
keys = st.one_of(st.sampled_from(TOP_KEYS), st.sampled_from(DECL_KEYS), st.sampled_from(STMT_KEYS),
                 st.sampled_from(SPEC_NAMES + U_PROCS),
                 st.sampled_from([s for v in SIGNATURES.values() for s in v]), st.text(max_size=8),
                 st.integers(-3, 3), st.none(), st.booleans())
trees = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=5),
                     max_leaves=30)


@st.composite
def random_documents(draw) -> object:
    """Random nested YAML, usually under a top-level mapping keyed by the spec's own sections."""
    shape = draw(st.integers(0, 4))
    if shape == 0:
        return draw(trees)
    doc = draw(st.dictionaries(st.sampled_from(TOP_KEYS), trees, max_size=8))
    if shape >= 2:
        doc = {"netcheck": 1, **doc}
        doc["netcheck"] = 1
    if shape >= 3:
        doc["threads"] = draw(st.dictionaries(st.sampled_from(["a", "b", "creator"]), trees, min_size=1, max_size=2))
        doc["procedures"] = draw(st.dictionaries(keys, st.lists(trees | statements(EXPRESSIONS), max_size=4),
                                                 max_size=3))
    return doc


class NoAliases(yaml.SafeDumper):
    """Dumps a shared object twice instead of as an anchor and aliases (which specs may not use)."""

    def ignore_aliases(self, data) -> bool:
        return True


@st.composite
def dumped(draw, documents) -> bytes:
    """A document as YAML text, in one of several styles, sometimes with a few text edits on top."""
    doc = draw(documents)
    text = yaml.dump(doc, Dumper=NoAliases, default_flow_style=draw(st.sampled_from([False, None, True])),
                          allow_unicode=draw(st.booleans()), sort_keys=False,
                          width=draw(st.sampled_from([80, 30, 4096])), indent=draw(st.sampled_from([2, 2, 4, 7])),
                          explicit_start=draw(st.integers(0, 9)) == 0)
    data = text.encode("utf-8")
    if draw(st.integers(0, 3)) == 0:
        data = draw(text_mutations(data, max_ops=2))
    return data


# ---------------------------------------------------------------- strategies: mutating shipped specs

def shipped_tree(top: Path) -> dict[str, bytes]:
    return {str(p.relative_to(top)): p.read_bytes() for p in sorted(top.rglob("*.yaml"))}


SHIPPED_SPECS = shipped_tree(ROOT / "specs")
SHIPPED_EXAMPLES = shipped_tree(ROOT / "docs" / "examples")
PARENTS = {"net_mutex.yaml": ["net_sem.yaml", "pernet_ops_rwsem.yaml", "bugs/setup_undo_exits_all.yaml"],
           "net_sem.yaml": ["pernet_ops_rwsem.yaml", "bugs/register_takes_read.yaml", "bugs/rtnl_before_net_sem.yaml"],
           "pernet_ops_rwsem.yaml": ["bugs/recursive_read_in_init.yaml"]}
INVALID_BYTES = [b"\xff", b"\xfe", b"\xc3", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82",
                 b"\xef\xbb\xbf", b"\x00", b"\x07", b"\x1b[31m", b"\r", b"\r\n", b"\t", b"\x0b", b"\x85",
                 b"\xe2\x80\xa8", b"\xc2\x85", b"\xf0\x9f\x92\xa9", b"\x7f", b"'", b'"', b"{", b"[", b"]", b"}",
                 b": ", b"- ", b"#", b"&a ", b"*a", b"!!str ", b"!x ", b"? ", b"|", b">", b"%YAML 1.1\n", b"---\n",
                 b"...\n", b"<<: ", b"\\", b"@", b"`"]
KEY_LINE = re.compile(rb"^(\s*(?:- )?)([^\s:#][^:#]*?):(\s|$)")
IDENT = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
WRONG_VALUES = [b"[a, b]", b"{x: 1}", b"[]", b"{}", b"null", b"~", b"", b"- a", b"[[[[1]]]]", b"{a: {b: {c: 1}}}",
                b"true", b"3.5", b".nan", b"-7", b"99999999999999999999", b"'quoted'", b'"x\\ty"', b"|\n  block",
                b">\n  folded", b"!!binary aGk=", b"0o17", b"0x1F", b"1e400", b"yes", b"on"]


@st.composite
def text_mutations(draw, data: bytes, max_ops: int = 4) -> bytes:
    """1..max_ops edits of the text of a spec."""
    for _ in range(draw(st.integers(1, max_ops))):
        lines = data.split(b"\n")
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        j = draw(st.integers(0, max(0, len(lines) - 1)))
        op = draw(st.sampled_from(["delete", "duplicate", "swap_lines", "indent", "swap_keys", "rename_key",
                                   "wrong_type", "replace_ident", "number", "flip", "insert", "delete_bytes",
                                   "truncate", "long_name", "deep_nesting", "deep_block", "duplicate_block"]))
        STATS[f"mutation: {op}"] += 1
        if op == "delete":
            del lines[i:i + draw(st.integers(1, 3))]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap_lines":
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "indent":
            delta = draw(st.sampled_from([-4, -2, -1, 1, 2, 4]))
            lines[i] = b" " * delta + lines[i] if delta > 0 else lines[i][-delta:] if lines[i][:-delta].isspace() \
                else lines[i]
        elif op == "swap_keys":
            a, b = KEY_LINE.match(lines[i]), KEY_LINE.match(lines[j])
            if a and b:
                lines[i] = a.group(1) + b.group(2) + lines[i][a.end(2):]
                lines[j] = b.group(1) + a.group(2) + lines[j][b.end(2):]
        elif op == "rename_key":
            a = KEY_LINE.match(lines[i])
            if a:
                new = draw(st.sampled_from(TOP_KEYS + DECL_KEYS + STMT_KEYS + SPEC_NAMES)).encode()
                lines[i] = a.group(1) + new + lines[i][a.end(2):]
        elif op == "wrong_type":
            a = KEY_LINE.match(lines[i])
            value = draw(st.sampled_from(WRONG_VALUES))
            if a:
                lines[i] = lines[i][:a.end(2)] + b": " + value
            elif lines[i].lstrip().startswith(b"- "):
                lines[i] = lines[i][:lines[i].index(b"- ") + 2] + value
        elif op == "replace_ident":
            found = list(IDENT.finditer(lines[i]))
            if found:
                m = found[draw(st.integers(0, len(found) - 1))]
                new = draw(st.sampled_from(SPEC_NAMES + STMT_KEYS + LOCK_STMTS + VALUES + ERRNO)).encode()
                lines[i] = lines[i][:m.start()] + new + lines[i][m.end():]
        elif op == "number":
            found = list(re.finditer(rb"\d+", lines[i]))
            if found:
                m = found[draw(st.integers(0, len(found) - 1))]
                new = draw(st.sampled_from([b"0", b"1", b"3", b"16", b"17", b"31", b"-1", b"99999", b"9" * 40]))
                lines[i] = lines[i][:m.start()] + new + lines[i][m.end():]
        elif op == "long_name":
            # rename an identifier everywhere it occurs (keeps a valid spec valid, with a huge name)
            found = list(IDENT.finditer(lines[i]))
            if found:
                old = found[draw(st.integers(0, len(found) - 1))].group()
                if old not in (b"netcheck",):
                    new = old + b"_" + b"x" * draw(st.sampled_from([100, 1000, 5000, 60_000]))
                    data = re.sub(rb"\b" + re.escape(old) + rb"\b", new, b"\n".join(lines))
                    lines = data.split(b"\n")
        elif op == "deep_nesting":
            depth = draw(st.sampled_from([10, 40, 63, 64, 65, 200, 3000]))
            open_, close = draw(st.sampled_from([(b"[", b"]"), (b"{a: ", b"}"), (b"[{a: ", b"}]")]))
            a = KEY_LINE.match(lines[i])
            if a:
                lines[i] = lines[i][:a.end(2)] + b": " + open_ * depth + b"x" + close * depth
        elif op == "deep_block":
            # nested if/then statements, `depth` levels, inserted as one statement
            depth = draw(st.sampled_from([5, 15, 20, 31, 32, 40]))
            indent = len(lines[i]) - len(lines[i].lstrip(b" "))
            block = []
            for d in range(depth):
                pad = b" " * (indent + 4 * d)
                block += [pad + b"- if: true", pad + b"  then:"]
            block.append(b" " * (indent + 4 * depth) + b"- pass")
            lines[i:i] = block
        elif op == "duplicate_block":
            k = draw(st.integers(2, 30))
            lines[j:j] = lines[i:i + k]
        data = b"\n".join(lines)
        if op == "flip" and data:
            pos = draw(st.integers(0, len(data) - 1))
            data = data[:pos] + bytes([data[pos] ^ (1 << draw(st.integers(0, 7)))]) + data[pos + 1:]
        elif op == "insert":
            pos = draw(st.integers(0, len(data)))
            data = data[:pos] + draw(st.sampled_from(INVALID_BYTES) | st.binary(min_size=1, max_size=4)) + data[pos:]
        elif op == "delete_bytes" and data:
            pos = draw(st.integers(0, len(data) - 1))
            data = data[:pos] + data[pos + draw(st.integers(1, 40)):]
        elif op == "truncate":
            data = data[:draw(st.integers(0, len(data)))]
    return data


def _paths(tree) -> list[tuple]:
    """Every path to a node of a parsed YAML tree (keys and list indexes), the root first."""
    out: list[tuple] = [()]
    stack: list[tuple[tuple, object]] = [((), tree)]
    while stack:
        path, node = stack.pop()
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in children:
            out.append((*path, k))
            stack.append(((*path, k), v))
    return out


@st.composite
def tree_mutations(draw, data: bytes) -> bytes:
    """1..3 edits of the parsed YAML tree (delete, swap, rename, retype, move, wrap), dumped again."""
    tree = yaml.safe_load(data)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(tree)
        path = draw(st.sampled_from(paths))
        if not path:
            continue
        parent = tree
        for k in path[:-1]:
            parent = parent[k]
        key = path[-1]
        op = draw(st.sampled_from(["delete", "swap_values", "rename", "retype", "copy_elsewhere", "wrap",
                                   "null"]))
        STATS[f"tree mutation: {op}"] += 1
        if op == "delete":
            del parent[key]
        elif op == "swap_values":
            other = draw(st.sampled_from(paths))
            try:
                holder = tree
                for k in other[:-1]:
                    holder = holder[k]
                if other and other[:len(path)] != path and path[:len(other)] != other:
                    parent[key], holder[other[-1]] = holder[other[-1]], parent[key]
            except (KeyError, IndexError, TypeError):
                pass
        elif op == "rename" and isinstance(parent, dict):
            new = draw(st.sampled_from(TOP_KEYS + DECL_KEYS + STMT_KEYS + SPEC_NAMES + [1, None, True]))
            if new not in parent:
                parent[new] = parent.pop(key)
        elif op == "retype":
            value = parent[key]
            parent[key] = draw(st.sampled_from(
                [[value], {"x": value}, [value, copy.deepcopy(value)], str(value), 7, None, True, [], {}, -1.5]))
        elif op == "copy_elsewhere":
            target = draw(st.sampled_from(paths))
            holder = tree
            for k in target:
                holder = holder[k]
            if isinstance(holder, dict):
                holder[draw(st.sampled_from(TOP_KEYS + STMT_KEYS + ["copy"]))] = copy.deepcopy(parent[key])
            elif isinstance(holder, list):
                holder.append(copy.deepcopy(parent[key]))
        elif op == "wrap":
            value = parent[key]
            for _ in range(draw(st.sampled_from([1, 3, 30, 70]))):
                value = [value]
            parent[key] = value
        elif op == "null":
            parent[key] = None
    try:
        text = yaml.dump(tree, Dumper=NoAliases, sort_keys=False, default_flow_style=draw(st.sampled_from([False, None])),
                              allow_unicode=True)
    except (yaml.YAMLError, RecursionError):
        return data
    return text.encode("utf-8")


@st.composite
def mutated_shipped(draw) -> Input:
    """A shipped spec (or the parent of one) edited: the tree it lives in is written unchanged around it."""
    tree_name, tree = draw(st.sampled_from([("specs", SHIPPED_SPECS), ("examples", SHIPPED_EXAMPLES)]))
    target = draw(st.sampled_from(sorted(tree)))
    data = tree[target]
    how = draw(st.sampled_from(["text", "text", "tree"]))
    new = draw(tree_mutations(data)) if how == "tree" else draw(text_mutations(data))
    entry = target
    if tree_name == "specs" and target in PARENTS and draw(st.integers(0, 3)) == 0:
        entry = draw(st.sampled_from(PARENTS[target]))     # run the unchanged child of a mutated parent
        how += " parent"
    return Input(f"mutated {how}", {**tree, target: new}, entry)


# ---------------------------------------------------------------- the small spec with holes

HOLE_BASE = """\
netcheck: 1
name: holes
entities:
  net: 2
  ops: {core: 1, subsys: 1}
types:
  count3: "int[0..3]"
locks:
  m: mutex
  sem: rwsem
  sp: spinlock
state:
  c: {type: count3}
  flags: {type: bool, per: [net]}
  hits: {type: "int[0..2]", per: [net, ops]}
  lst: {type: list<net>}
  s: {type: set<net>}
  cur: {type: "net?"}
  TYPE_HOLE
procedures:
  PROC_HOLE
  helper(net x) -> int[0..3]:
    - return 1
  p1(net n):
    locals: {y: "net?", err: "int[-12..0]"LOCAL_HOLE}
    body:
      - mutex_lock: m
      - list_add_tail(lst, n)
      - STMT_HOLE
      - mutex_unlock: m
  p2() -> int[-12..0]:
    - down_read: sem
    - up_read: sem
    - return 0
  worker(net n):
    - call: p1(n)
    - c = helper(n)
threads:
  w: {for: n in net, run: worker(n)}
  THREAD_HOLE
properties:
  PROP_HOLE
"""


def quoted(text: str, style: str) -> str:
    """`text` as a YAML scalar: double-quoted (JSON escapes), single-quoted, or plain (may break YAML)."""
    if style == "double":
        return json.dumps(text, ensure_ascii=False)
    if style == "single":
        return "'" + text.replace("'", "''") + "'"
    return text


@st.composite
def holed_specs(draw) -> bytes:
    """HOLE_BASE with generated text in one or two of the places that take an expression, a statement, a
    type or a signature (the others filled with something valid)."""
    holes = {"TYPE_HOLE": "", "LOCAL_HOLE": "", "STMT_HOLE": "c += 1", "THREAD_HOLE": "", "PROC_HOLE": "p0():\n    - pass",
             "PROP_HOLE": 'p: {invariant: "c <= 3"}'}
    expr = EXPRESSIONS
    for _ in range(draw(st.integers(1, 2))):
        where = draw(st.sampled_from(["invariant", "final", "reachable", "if", "while", "await", "assert", "assign",
                                      "stmt", "lock", "call", "run", "for_each", "thread_for", "type", "local",
                                      "signature", "init", "return", "statements"]))
        STATS[f"hole: {where}"] += 1
        style = draw(st.sampled_from(["double", "double", "single", "plain"]))
        scope = "prop" if where in ("invariant", "final", "reachable", "run", "thread_for") else "stmt"
        fitting = typed_ints(scope) if where in ("assign", "return") else typed_bools(scope)
        e = draw(st.one_of(expr, fitting, fitting))
        q = quoted(e, style)
        if where in ("invariant", "final", "reachable"):
            holes["PROP_HOLE"] = f"p: {{{where}: {q}}}"
        elif where in ("if", "while", "await", "assert"):
            extra = {"if": "then: [pass]", "while": "do: [break]", "await": "idle: false",
                     "assert": "name: a1"}[where]
            holes["STMT_HOLE"] = f"{where}: {q}\n        {extra}"
        elif where == "assign":
            holes["STMT_HOLE"] = quoted(f"{draw(st.sampled_from(['c', 'c', 'c', 'flags[n]', 'cur', 'y', 'err', 's']))} "
                                        f"{draw(st.sampled_from(['=', '+=', '-=', '|=']))} {e}", style)
        elif where == "stmt":
            holes["STMT_HOLE"] = q
        elif where == "lock":
            holes["STMT_HOLE"] = f"{draw(st.sampled_from(LOCK_STMTS))}: {q}\n        on_fail: return"
        elif where == "call":
            holes["STMT_HOLE"] = f"call: {quoted(draw(st.sampled_from(['helper', 'p1', 'p2'])) + '(' + e + ')', style)}"
        elif where == "run":
            holes["THREAD_HOLE"] = f"t: {{run: {quoted('p1(' + e + ')', style)}}}"
        elif where == "for_each":
            holes["STMT_HOLE"] = f"for_each: {quoted('q in ' + e, style)}\n        do: [pass]"
        elif where == "thread_for":
            holes["THREAD_HOLE"] = f"t: {{for: {quoted('n in ' + e, style)}, run: p1(n)}}"
        elif where in ("type", "local"):
            t = quoted(draw(type_strings()), style)
            if where == "type":
                holes["TYPE_HOLE"] = f"v: {{type: {t}}}"
            else:
                holes["LOCAL_HOLE"] = f", z: {t}"
        elif where == "signature":
            sig = draw(st.sampled_from([f"p3({draw(type_strings())} a, {e})", f"p3(a: {draw(type_strings())})",
                                        f"p3() -> {draw(type_strings())}", f"{e}()", f"p0({e})", e]))
            holes["PROC_HOLE"] = f"{quoted(sig, style)}:\n    - pass"
        elif where == "init":
            holes["TYPE_HOLE"] = f"v: {{type: {quoted(draw(type_strings()), 'double')}, init: {q}}}"
        elif where == "return":
            holes["STMT_HOLE"] = f"return: {q}"
        else:  # a generated statement list, dumped as YAML in the body's place
            body = draw(st.lists(statements(expr), min_size=1, max_size=4))
            text = yaml.dump(body, Dumper=NoAliases, default_flow_style=True, allow_unicode=True, width=10**6).strip()
            holes["STMT_HOLE"] = f"call: p0\n      - if: true\n        then: {text}"
            holes["TYPE_HOLE"] = ""
    text = HOLE_BASE
    for hole, filling in holes.items():
        text = text.replace(hole, filling)
    return text.encode("utf-8", errors="surrogatepass")


# ---------------------------------------------------------------- the fuzz tests

def test_the_oracle_accepts_the_shipped_specs():
    """The harness itself: unmodified shipped specs pass the contract (and memory stays bounded)."""
    for name in ("net_sem.yaml", "bugs/register_takes_read.yaml"):
        check_input(Input("shipped", dict(SHIPPED_SPECS), name))
    check_input(Input("shipped", dict(SHIPPED_EXAMPLES), "tour.yaml"))


@fuzz_settings(110)
@given(data=dumped(random_documents()))
def test_fuzz_random_documents(data: bytes) -> None:
    """Random nested YAML keyed by the spec vocabulary, next to the shipped specs (for extends:)."""
    check_input(Input("random document", {**SHIPPED_SPECS, "fuzz.yaml": data}, "fuzz.yaml"))


@fuzz_settings(80)
@given(data=dumped(structured_specs() | clean_specs()))
def test_fuzz_structured_specs(data: bytes) -> None:
    """Whole specs over a small universe of names: half of them from well-typed pieces, which mostly
    load and reach the explorer (with a text edit on top a quarter of the time)."""
    check_input(Input("structured spec", {**SHIPPED_SPECS, "fuzz.yaml": data}, "fuzz.yaml"))


@fuzz_settings(110)
@given(data=holed_specs())
def test_fuzz_expressions_in_place(data: bytes) -> None:
    """Generated expressions, statements, types and signatures in every place of a small spec."""
    check_input(Input("expression in place", {"holes.yaml": data}, "holes.yaml"))


@fuzz_settings(40)
@given(spec=mutated_shipped())
def test_fuzz_mutated_shipped_specs(spec: Input) -> None:
    """Edited copies of specs/ and docs/examples/ (or their parents), with the rest of the tree."""
    check_input(spec)


# Every command besides check/verify, and verify's other output forms, on generated *valid* specs (with
# the patterns that once broke the engine: null lock keys, lock keys read from shared state, ...).
OTHER_COMMANDS = [["explain"], ["slow"], ["locks"], ["report", "-o", "{dir}/report.html"],
                  ["verify", "--format", "json"], ["verify", "--format", "sarif"], ["verify", "--format", "junit"],
                  ["verify", "--trace", "steps"]]


@fuzz_settings(15)
@given(text=generated_specs(BUG_PATTERNS))
def test_fuzz_every_command_on_generated_specs(text: str) -> None:
    """No traceback, no internal error, an exit code the command has (0, 1 or 3), within the limits."""
    STATS["inputs"] += 1
    STATS["inputs: generated spec, every command"] += 1
    every_command(text)


@fuzz_settings(10)
@given(text=generated_specs({**BUG_PATTERNS, "min_counters": 1}))
def test_fuzz_every_command_on_generated_counter_specs(text: str) -> None:
    """The same on specs with refcount_t, atomic_t and completion operations."""
    STATS["inputs"] += 1
    STATS["inputs: generated spec with counters, every command"] += 1
    every_command(text)


@fuzz_settings(10)
@given(text=generated_specs({**BUG_PATTERNS, "min_wait_queues": 1, "wait_variants": True}))
def test_fuzz_every_command_on_generated_wait_queue_specs(text: str) -> None:
    """The same on specs with wait queues (the wait_event family, exclusive and interruptible waits too,
    wake-ups, the open-coded loop)."""
    STATS["inputs"] += 1
    STATS["inputs: generated spec with wait queues, every command"] += 1
    every_command(text)


@fuzz_settings(5)
@given(text=generated_specs({**BUG_PATTERNS, "min_rcu_lists": 1}))
def test_fuzz_every_command_on_generated_rcu_list_specs(text: str) -> None:
    """The same on specs with an RCU list (list_*_rcu, list_for_each_entry_rcu, synchronize_rcu, kfree)."""
    STATS["inputs"] += 1
    STATS["inputs: generated spec with RCU lists, every command"] += 1
    every_command(text)


@fuzz_settings(5)
@given(text=generated_specs({**BUG_PATTERNS, "min_works": 1}))
def test_fuzz_every_command_on_generated_workqueue_specs(text: str) -> None:
    """The same on specs with workqueues (queue_work, flush_work, cancel_work_sync, flush_workqueue; ordered
    and unbound queues, their worker threads)."""
    STATS["inputs"] += 1
    STATS["inputs: generated spec with workqueues, every command"] += 1
    every_command(text)


@fuzz_settings(6)
@given(text=generated_specs({**BUG_PATTERNS, "callbacks": True}))
def test_fuzz_every_command_on_generated_callback_specs(text: str) -> None:
    """The same on specs with callbacks: tables and calls through elements (some of them NULL calls)."""
    STATS["inputs"] += 1
    STATS["inputs: generated spec with callbacks, every command"] += 1
    every_command(text)


@fuzz_settings(6)
@given(text=generated_specs({**BUG_PATTERNS, "contexts": True}))
def test_fuzz_every_command_on_generated_context_specs(text: str) -> None:
    """The same on specs with hardirq and softirq threads and the spinlock irq/bh forms."""
    STATS["inputs"] += 1
    STATS["inputs: generated spec with interrupt contexts, every command"] += 1
    every_command(text)


@fuzz_settings(5)
@given(text=generated_specs({**BUG_PATTERNS, "call_rcu": True}))
def test_fuzz_every_command_on_generated_call_rcu_specs(text: str) -> None:
    """The same on specs with RCU callbacks (call_rcu, kfree_rcu, rcu_barrier; double calls, null objects)."""
    STATS["inputs"] += 1
    STATS["inputs: generated spec with call_rcu, every command"] += 1
    every_command(text)


@fuzz_settings(5)
@given(text=generated_specs({**BUG_PATTERNS, "min_srcu": 1}))
def test_fuzz_every_command_on_generated_srcu_specs(text: str) -> None:
    """The same on specs with SRCU domains (srcu_read_lock/unlock sections, synchronize_srcu, under a lock too)."""
    STATS["inputs"] += 1
    STATS["inputs: generated spec with SRCU, every command"] += 1
    every_command(text)


def every_command(text: str) -> None:
    """Every command of OTHER_COMMANDS on the spec: no traceback, no internal error, a documented exit code."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_text(text)
        for command in OTHER_COMMANDS:
            args = [a.replace("{dir}", tmp) for a in command]
            with guarded():
                result = CliRunner().invoke(main, [*args, "--max-states", "5000", str(path)]
                                            if args[0] == "verify" else [*args, str(path)])
            escaped = None if result.exception is None or isinstance(result.exception, SystemExit) else \
                "".join(traceback.format_exception(result.exception))
            assert escaped is None, f"netcheck {' '.join(args)}:\n{escaped}\n{text}"
            assert "internal error" not in result.output, f"netcheck {' '.join(args)}: {result.output}\n{text}"
            assert result.exit_code in (0, 1, 3), f"netcheck {' '.join(args)}: exit {result.exit_code}\n" \
                                                  f"{result.output[-2000:]}\n{text}"


# ---------------------------------------------------------------- regressions: defects fuzzing found

def chain_spec(n: int, calls: int = 1) -> str:
    """Procedures p0..p(n-1), each calling the one below it `calls` times; one thread runs the top."""
    lines = ["netcheck: 1", "name: chain", "state:", '  c: {type: "int[0..3]"}', "procedures:", "  p0():",
             "    - c = 1"]
    for i in range(1, n):
        lines += [f"  p{i}():"] + [f"    - call: p{i - 1}"] * calls
    return "\n".join([*lines, "threads:", f"  w: {{run: p{n - 1}()}}"]) + "\n"


def threads_spec(instances: int) -> str:
    lines = ["netcheck: 1", "name: many", "state:", "  c: {type: bool}", "procedures:", "  w():", "    - c = true",
             "threads:"]
    for i in range(0, instances, 16):
        lines.append(f"  t{i // 16}: {{run: w(), count: {min(16, instances - i)}}}")
    return "\n".join(lines) + "\n"


PER6_SPEC = """\
netcheck: 1
name: slots
entities:
  net: 16
state:
  x: {type: bool, per: [net, net, net, net, net, net]}
procedures:
  w():
    - x[net0, net0, net0, net0, net0, net0] = true
threads:
  w: {run: w()}
"""


def assert_contract(tmp_path: Path, text: str, command: str, *extra: str) -> None:
    """One in-process run of `netcheck COMMAND EXTRA spec` meets the fuzz tests' contract."""
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with guarded():
        code, out, escaped = invoke(command, path, *extra)
    assert escaped is None, escaped
    assert problem_with(command, code, out, {path: text.encode()}) is None, out[-2000:]


EMPTY_DOMAIN_SPEC = """\
netcheck: 1
name: empty
entities:
  net: 0
procedures:
  w():
    - pass
threads:
  w: {run: w()}
properties:
  p: {invariant: "all(true for n in net)"}
"""


@pytest.mark.parametrize("spec", ["minimal", "net_mutex --bound net=0"])
def test_regression_quantifier_over_empty_domain(tmp_path, spec):
    """Found by test_fuzz_structured_specs (a spec extending net_mutex.yaml with `net: 0`): z3's
    translation of a quantifier over an empty domain raised KeyError (exit 4); fixed in smt.py."""
    if spec == "minimal":
        assert_contract(tmp_path, EMPTY_DOMAIN_SPEC, "verify")
    else:
        assert_contract(tmp_path, SHIPPED_SPECS["net_mutex.yaml"].decode(), "verify", "--bound", "net=0")


RCU_UNLOCK_ALONE = """\
netcheck: 1
name: t
procedures:
  w():
    - rcu_read_unlock
threads:
  w: {run: w()}
"""
RCU_UNLOCK_SPECS = {
    # rcu_read_unlock outside a read-side section, in specs that never call rcu_read_lock: no RCU
    # slots are allocated, and the unlock reads and decrements slot -1 of the state, whatever that is.
    "last slot a dead thread's local (exit 4)": """\
netcheck: 1
name: t
procedures:
  w():
    - rcu_read_unlock
  v():
    locals: {x: bool}
    body:
      - x = true
threads:
  w: {run: w()}
  v: {run: v()}
""",
    "last slot its own pc (exit 0, the unlock unnoticed)": RCU_UNLOCK_ALONE,
    "last slot another thread's pc (a spurious deadlock)": RCU_UNLOCK_ALONE.replace("run: w()", "run: w(), count: 2"),
}


@pytest.mark.parametrize("case", list(RCU_UNLOCK_SPECS))
def test_regression_rcu_read_unlock_without_rcu_read_lock(tmp_path, case):
    path = tmp_path / "spec.yaml"
    path.write_text(RCU_UNLOCK_SPECS[case])
    result = CliRunner().invoke(main, ["verify", "--format", "json", str(path)])
    assert result.exit_code == 1, result.output
    status = {p["name"]: (p["status"], p["message"]) for p in json.loads(result.stdout)["properties"]}
    assert status["lock_discipline"] == ("violated", "rcu_read_unlock(): not inside an RCU read-side critical "
                                         "section"), status
    assert status["deadlock_free"][0] == "holds", status


def test_a_100_deep_call_chain_loads(tmp_path):
    """The control: 100 nested calls inline (the limit depends on the stack depth of the caller)."""
    assert_contract(tmp_path, chain_spec(100), "check")


@pytest.mark.parametrize("command", ["check", "verify"])
def test_regression_deep_call_chain(tmp_path, command):
    assert_contract(tmp_path, chain_spec(300), command)


def test_regression_129_thread_instances(tmp_path):
    assert_contract(tmp_path, threads_spec(129), "verify")


def test_128_thread_instances_work(tmp_path):
    """The control for the test above."""
    assert_contract(tmp_path, threads_spec(128), "verify")


def assert_bounded(tmp_path: Path, text: str, seconds: float, memory: int) -> None:
    """`netcheck check` as a process ends in `seconds` under RLIMIT_AS `memory` with an accepted outcome."""
    path = tmp_path / "spec.yaml"
    path.write_text(text)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    code, out = run_subprocess(path, "check", timeout=seconds, as_limit=limit)
    assert code is not None, f"no answer within {seconds} s"
    assert problem_with("check", code, out, {path: text.encode()}) is None, out[-2000:]


def test_regression_state_slots_unbounded(tmp_path):
    assert_bounded(tmp_path, PER6_SPEC, seconds=30, memory=1 << 30)


def test_regression_inlining_blowup(tmp_path):
    assert_bounded(tmp_path, chain_spec(22, calls=2), seconds=10, memory=1 << 29)


# ---------------------------------------------------------------- the count for the closing note

class _Summary:
    def __init__(self, line: str) -> None:
        self.line = line

    def pytest_terminal_summary(self, terminalreporter) -> None:
        terminalreporter.write_line(self.line)


def test_zz_fuzz_summary(request):
    """Reports how many inputs the fuzz tests tried (printed with -s and in the terminal summary)."""
    seconds = time.perf_counter() - STARTED
    kinds = ", ".join(f"{k[len('inputs: '):]} {v}" for k, v in sorted(STATS.items()) if k.startswith("inputs: "))
    exits = ", ".join(f"{k} x{v}" for k, v in sorted(STATS.items()) if k.startswith("exit "))
    known = ", ".join(f"{k[len('known defect: '):]} x{v}" for k, v in STATS.items() if k.startswith("known defect"))
    peak = WATCHDOG.peak / 2**20 if WATCHDOG else 0
    line = (f"netcheck fuzz: {STATS['inputs']} inputs in {seconds:.0f} s ({kinds}); {exits}; "
            f"{STATS['subprocess runs']} also as a process; peak RSS {peak:.0f} MB; "
            f"{STATS['failures collected']} failures collected"
            + (f"; known defects met: {known}" if known else ""))
    print("\n" + line)
    if os.environ.get("NETCHECK_FUZZ_STATS"):
        Path(os.environ["NETCHECK_FUZZ_STATS"]).write_text(
            line + "\n" + "\n".join(f"{k}: {v:.0f}" if isinstance(v, float) else f"{k}: {v}"
                                    for k, v in sorted(STATS.items())) + "\n")
    request.config.pluginmanager.register(_Summary(line), "netcheck-fuzz-summary")
    assert not STATS["failures collected"], f"{STATS['failures collected']} failing inputs written to {COLLECT}"


ENDLESS_LOCAL_LOOP = """\
netcheck: 1
name: endless
state:
  v: {type: bool}
procedures:
  w():
    locals: {x: bool}
    body:
      - v = true
      - either:
          spins:
            - while: "not x"
              do: []
          goes_on:
            - x = true
      - v = false
threads:
  w: w()
"""


@pytest.mark.parametrize("command", ["verify", "explain"])
def test_regression_endless_local_loop_in_a_counterexample(tmp_path, command):
    """Building the trace of a step whose local computation never ends replayed it without the explorer's
    statement budget, and hung (found by test_fuzz_structured_specs: `verify` still running after 60 s)."""
    path = tmp_path / "spec.yaml"
    path.write_text(ENDLESS_LOCAL_LOOP)
    with guarded(limit=30):
        result = CliRunner().invoke(main, [command, str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "local computation does not terminate" in result.output
    assert result.exit_code == 1


def test_regression_no_exploration_outlives_its_command():
    """A module-level cache of fewest-switch trace searches kept every exploration alive (about 2.7 MB per
    in-process `verify` of net_sem.yaml with a counterexample): a long fuzz run passed its memory bound."""
    import gc

    from netcheck.checker.engine.result import ExplicitResult

    def alive() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if isinstance(o, ExplicitResult))

    before = alive()
    for _ in range(2):
        result = CliRunner().invoke(main, ["verify", "--max-states", "2000", str(ROOT / "specs" / "net_sem.yaml")])
        assert result.exit_code == 3, result.output
        result = CliRunner().invoke(main, ["explain", str(ROOT / "docs" / "examples" / "bugs" / "abba.yaml")])
        assert "VIOLATED" in result.output
    del result   # its exc_info (the SystemExit's traceback) still refers to the last command's frames
    assert alive() <= before
