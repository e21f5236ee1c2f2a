"""Work run in a forked child process, so that each piece starts from the parent's z3 state as it is now.

z3's answers depend on the terms a process made before (the ids of its ASTs order its choices: which
unsat core, which model, how far Houdini's second pass gets), so a proof found after another property's
search can differ from the one found alone. `prove` runs each property in a child forked from the same
parent state: `prove SPEC` and `prove SPEC PROPERTY` then print the same proof of PROPERTY.

The child may ask the parent questions (`ask`), answered there, so that what the parent computes once
(an explicit search of the reachable states) serves every child. Its result and its exceptions come back
pickled: an exception is raised again in the parent, the child's traceback as its cause. Ctrl-C is the
parent's: it ends the child and exits 130 as any command does; on Linux a child also ends with its parent
(PR_SET_PDEATHSIG), so no search outlives the command. Where `fork` is not a start method (Windows), the
work runs in this process.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

T = TypeVar("T")
Ask = Callable[[Any], Any]


class ChildTraceback(Exception):
    """Where the child raised what the parent raises again (its formatted traceback)."""


def forked(work: Callable[[Ask], T], answer: Ask) -> T:
    """`work(ask)` in a forked child, where `ask(question)` returns `answer(question)` computed in this
    process; its result, or its exception raised here."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return work(answer)
    context = multiprocessing.get_context("fork")
    here, there = context.Pipe(duplex=True)
    sys.stdout.flush()
    sys.stderr.flush()
    gc.collect()   # garbage freed when the collector happens to run would free z3 terms, changing z3's state
    child = context.Process(target=_child, args=(work, there, os.getpid()))   # not a daemon: it may fork its own
    child.start()
    there.close()
    previous = _interruptible()
    try:
        while True:
            try:
                kind, value = here.recv()
            except EOFError:
                child.join()
                raise RuntimeError(f"a forked child process ended without a result (exit code {child.exitcode})"
                                   ) from None
            if kind == "ask":
                here.send(answer(value))
            elif kind == "done":
                return value
            else:
                exc, where = value
                raise exc from ChildTraceback(where)
    except BaseException:
        if child.is_alive():
            child.terminate()
        raise
    finally:
        child.join()
        here.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


_in_child = False   # set in a forked child: Ctrl-C is its parent's, never its own


def _interruptible() -> Any:
    """In the command's own process (main thread), Ctrl-C raises KeyboardInterrupt while a child works, even
    when the process was started with SIGINT ignored (a background job): the previous handler, to restore."""
    if _in_child or threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, signal.default_int_handler)


def _child(work: Callable[[Ask], Any], conn: Connection, parent: int) -> None:
    """The child's side: Ctrl-C is the parent's to handle (it ends the child), and the child ends with its
    parent (Linux), so that no search outlives the command."""
    global _in_child
    _in_child = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _end_with_parent(parent)

    def ask(question: Any) -> Any:
        conn.send(("ask", question))
        return conn.recv()

    try:
        try:
            conn.send(("done", work(ask)))
        except BaseException as exc:  # noqa: BLE001 - every exception goes back to the parent, raised there
            _send_exception(conn, exc)
        conn.close()
    except OSError:   # the parent is gone: nobody to tell
        pass


def _send_exception(conn: Connection, exc: BaseException) -> None:
    where = "".join(traceback.format_exception(exc))
    try:
        conn.send(("raise", (exc, where)))
    except (pickle.PicklingError, TypeError, AttributeError):   # an exception that does not pickle: type, message
        conn.send(("raise", (RuntimeError(f"{type(exc).__name__}: {exc}"), where)))


PR_SET_PDEATHSIG = 1   # prctl(2)


def _end_with_parent(parent: int) -> None:
    """Have the kernel kill this process when its parent ends (Linux's PR_SET_PDEATHSIG); elsewhere nothing."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:   # it ended before the request was made
        os._exit(1)


__all__ = ["ChildTraceback", "forked"]
