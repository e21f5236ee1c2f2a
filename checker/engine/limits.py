"""When a search stops before the end: resource limits, stop rules, Ctrl-C, and progress reports."""

from __future__ import annotations

import ctypes
import gc
import resource
import signal
import sys
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Container
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

# the stop reasons of a search the user asked to end at violations (--fail-fast, --stop-on), not at a limit;
# the third when a --stop-on name is a `reachable:` question, which is reached, never violated
STOPPED_AT_VIOLATION = ("stopped at the first violation", "stopped: every --stop-on property is violated",
                        "stopped: every --stop-on property is violated or, a question, reached")


def stop_on_reason(stop_on: frozenset[str], violated: Container[str]) -> str:
    """Why a search that met every --stop-on name stopped: the names not in `violated` are questions."""
    return STOPPED_AT_VIOLATION[1] if all(p in violated for p in stop_on) else STOPPED_AT_VIOLATION[2]


@dataclass(frozen=True)
class Limits:
    max_states: int | None = None
    max_depth: int | None = None
    timeout: float | None = None
    fail_fast: bool = False   # stop at the first violation (it is still the shortest for its property)
    max_memory_mb: float | None = None
    stop_on: frozenset[str] = frozenset()  # stop once all these properties are violated


@dataclass(frozen=True)
class ProgressInfo:
    """What a progress callback sees: totals so far and the sizes of the BFS levels around the one being
    expanded."""

    states: int
    depth: int
    seconds: float
    level: int          # states at the depth being expanded
    previous_level: int  # states one level above
    next_level: int = 0  # states found so far one level below
    memory_mb: float = 0.0   # peak resident memory so far

    def remaining(self) -> int | None:
        """An estimate of the states still to be found, when the levels shrink (None while they do not):
        the next levels taken to shrink by the same factor as the last two did, a geometric series."""
        if self.previous_level < 100 or self.level >= 0.98 * self.previous_level:
            return None
        shrink = self.level / self.previous_level
        return max(0, round(self.level * shrink / (1 - shrink)) - self.next_level)


Progress = Callable[[ProgressInfo], None]


STATUS = Path("/proc/self/status")


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB: since the last `restart_peak_rss` where Linux keeps
    it (VmHWM), else since the process started (ru_maxrss: KiB on Linux, bytes on macOS)."""
    try:
        status = STATUS.read_bytes()
        start = status.index(b"VmHWM:") + 6
        return int(status[start:status.index(b"kB", start)]) / 2**10
    except (OSError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (2**20 if sys.platform == "darwin" else 2**10)


def release_freed_memory() -> bool:
    """Collect garbage and hand the C heap's free pages back to the system (glibc's malloc_trim), so that a
    process serving one search after another starts the next from what it still holds. False where there
    is no malloc_trim (another C library)."""
    gc.collect()
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return False
    trim(0)
    return True


def restart_peak_rss() -> bool:
    """Measure the peak resident memory afresh from now (a worker process serving its next search), where
    Linux allows it (/proc/self/clear_refs); False where the peak stays the process's lifetime peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def level_size(depth: array, level: int) -> int:
    """States at one BFS level: the depth array is sorted, since states are numbered in BFS order."""
    return bisect_right(depth, level) - bisect_left(depth, level)


class Interrupt:
    """Turns SIGINT into a flag the search loop polls, so that the partial result stays consistent."""

    def __init__(self) -> None:
        self.raised = False
        self.previous: Callable[[int, FrameType | None], Any] | int | None = None

    def __enter__(self) -> Interrupt:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self.handle)
        return self

    def handle(self, signum: int, frame: object) -> None:
        self.raised = True

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
