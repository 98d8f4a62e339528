"""The one pool of worker processes: tasks handed out one at a time, each with a time limit; and `Beside`, one
piece of work run in a process of its own while the caller does another.

A task that overruns its limit, or whose worker dies, is reported and its worker replaced, so one file that
hangs or crashes a reader never stops the rest. Workers never outlive the process that started them: on Linux
the kernel kills them when it dies (PR_SET_PDEATHSIG), and everywhere a worker that finds its parent gone
exits by itself within WATCH seconds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing as mp
import os
import pickle
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

# Measured on the 2-core machine, 100 returns read and planned, medians of 3 interleaved runs: 1 worker
# 92 ms a return, 2 workers 53 ms, 4 workers 56 ms. Writing the plan (~70 ms) is most of the work, so a
# worker per core pays; more workers than cores do not. Capped at 4 to keep memory modest.
DEFAULT_JOBS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                          else os.cpu_count() or 1))
TIME_LIMIT = 60.0  # seconds per file: generous for a real return (tens of ms), short enough to notice
WATCH = 1.0  # seconds between a waiting worker's checks that its parent is still there

Handler = Callable[[Any, Any], Any]  # (task, state) -> result, run in the worker


class TaskFailed:
    """Sent back in place of a result when a handler raised: what went wrong, and the error itself when it can
    travel between processes (so an OSError such as a full disk can be reported by the main process)."""

    __slots__ = ("name", "error")

    def __init__(self, exc: Exception):
        self.name = type(exc).__name__
        try:
            pickle.dumps(exc)
            self.error: Exception | None = exc
        except Exception:
            self.error = None


def _context() -> Any:
    # fork: a worker starts in milliseconds and inherits the loaded spec; elsewhere, spawn.
    return mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (even by SIGKILL); elsewhere the watch does it."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def _child_started(parent: int) -> bool:
    """Set up a process the main one started (a worker, or the work `Beside` runs): it dies with its parent, and
    Ctrl-C and termination are the main process's to handle (it stops its children itself). False where the
    parent died before the death signal was asked for."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    return os.getppid() == parent


def _serve(conn: Connection, handler: Handler, state: Any, parent: int) -> None:
    if not _child_started(parent):
        return
    while True:
        try:
            while not conn.poll(WATCH):
                if os.getppid() != parent:
                    return
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            result = handler(task, state)
        except Exception as exc:  # never let one task take the worker down silently
            result = TaskFailed(exc)
        try:
            conn.send(result)
        except (BrokenPipeError, OSError):
            return


class _Worker:
    __slots__ = ("proc", "conn", "task", "started")

    def __init__(self, proc: Any, conn: Connection):
        self.proc, self.conn = proc, conn
        self.task: Any = None
        self.started = 0.0


class Pool:
    """`jobs` worker processes, each running `handler(task, state)` for one task at a time."""

    def __init__(self, jobs: int, handler: Handler, state: Any = None):
        self._ctx = _context()
        self._handler, self._state = handler, state
        self.workers: list[_Worker] = []
        try:
            for _ in range(max(1, jobs)):
                self.workers.append(self._spawn())
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=_serve, args=(child, self._handler, self._state, os.getpid()), daemon=True)
        proc.start()
        child.close()
        return _Worker(proc, parent)

    def _replace(self, w: _Worker) -> _Worker:
        """Stop a worker (stuck or dead) and start a fresh one in its place."""
        _stop(w)
        fresh = self._spawn()
        self.workers[self.workers.index(w)] = fresh
        return fresh

    def _dispatch(self, w: _Worker, task: Any) -> None:
        try:
            w.conn.send(task)
        except (BrokenPipeError, OSError):  # the worker died between tasks
            w = self._replace(w)
            w.conn.send(task)
        w.task, w.started = task, time.monotonic()

    def run(self, tasks: Iterable[Any], limit: float) -> Iterator[tuple[Any, Any, str]]:
        """Yield (task, result, failure) as tasks finish; failure is "", "timeout", "crash" or "error" (the result is
        then the TaskFailed)."""
        pending = iter(tasks)
        more = True
        while True:
            for w in list(self.workers):
                if more and w.task is None:
                    task = next(pending, None)
                    if task is None:
                        more = False
                    else:
                        self._dispatch(w, task)
            active = [w for w in self.workers if w.task is not None]
            if not active:
                return
            timeout = max(0.0, min(w.started + limit for w in active) - time.monotonic())
            ready = wait([w.conn for w in active], timeout)
            now = time.monotonic()
            for w in active:
                task, overrun = w.task, now - w.started > limit
                if w.conn in ready:
                    try:
                        result = w.conn.recv()
                    except (EOFError, OSError):  # the worker died on this task
                        self._replace(w)
                        yield task, None, "crash"
                        continue
                    w.task = None
                    if isinstance(result, TaskFailed):
                        yield task, result, "error"
                    else:
                        # Finished, but later than allowed: the same rule for every task, however busy the machine.
                        yield task, result, "timeout" if overrun else ""
                elif overrun:
                    self._replace(w)
                    yield task, None, "timeout"

    def close(self) -> None:
        """Stop every worker: asked first, killed if it does not go."""
        for w in self.workers:
            try:
                w.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for w in self.workers:
            _stop(w, grace=2.0)
        self.workers = []


def _stop(w: _Worker, grace: float = 0.0) -> None:
    if grace:
        w.proc.join(grace)
    if w.proc.is_alive():
        w.proc.kill()
    w.proc.join(5)
    w.conn.close()


class Beside:
    """`fn(*args)` run in a forked process of its own (which starts with the caller's memory: nothing is copied
    over) while the caller does other work on the other core; `wait()` gives what it returned, or raises what it
    raised. The process dies with its parent, as a worker does. Where processes cannot be forked, `fn` runs in
    `wait()` itself, after the caller's own work."""

    def __init__(self, fn: Callable[..., Any], *args: Any):
        self._fn, self._args = fn, args
        self._name = getattr(fn, "__name__", "it")
        self._child: _Worker | None = None
        self._inline = "fork" not in mp.get_all_start_methods()
        if not self._inline:
            ctx = mp.get_context("fork")
            conn, child_end = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_beside, args=(child_end, fn, args, os.getpid()), daemon=True)
            proc.start()
            child_end.close()
            self._child = _Worker(proc, conn)

    def wait(self) -> Any:
        if self._inline:
            return self._fn(*self._args)
        if self._child is None:
            raise RuntimeError(f"{self._name} was already waited for, or stopped")
        try:
            result = self._child.conn.recv()
        except (EOFError, OSError):
            raise RuntimeError(f"the process running {self._name} stopped before it finished") from None
        finally:
            self.close()
        if isinstance(result, TaskFailed):
            raise result.error or RuntimeError(f"{result.name} in {self._name}")
        return result

    def close(self) -> None:
        """Stop the process if it is still running (the caller failed and will not wait for it)."""
        if self._child is not None:
            _stop(self._child)
            self._child = None


def _beside(conn: Connection, fn: Callable[..., Any], args: tuple, parent: int) -> None:
    if not _child_started(parent):
        return
    try:
        result: Any = fn(*args)
    except Exception as exc:
        result = TaskFailed(exc)
    try:
        conn.send(result)
    except (BrokenPipeError, OSError):
        pass
