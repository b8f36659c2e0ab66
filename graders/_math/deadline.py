"""Run a function with a deadline, without signals: a dedicated worker thread per process.

``signal.alarm`` (what Math-Verify uses) only works in the main thread, so it breaks graders
called from thread pools, asyncio executors and web servers. Here the work runs in one daemon
worker thread and the caller waits on a future with a timeout, from any thread.

Python cannot kill a thread from outside, but it can raise an exception inside one: an
overrunning job gets ``JobCancelled`` raised in its thread (``PyThreadState_SetAsyncExc``), which
ends pure-Python work such as sympy's within a few bytecodes, so an abandoned comparison stops
burning CPU at its deadline instead of running on for many seconds. A job stuck in one long C
call only sees it when the call returns; the callers bound that work (input size, nesting,
exponent sizes). The overrunning worker is abandoned and the next job gets a fresh one. At most
``MAX_ABANDONED`` overrunning workers may exist at once; past that every job times out at once
rather than pile up more busy threads.
"""

from __future__ import annotations

import ctypes
import os
import queue
import random
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

T = TypeVar("T")

# Busy abandoned workers allowed at once; each still holds a CPU share until its job ends.
MAX_ABANDONED = 4


class DeadlineExceeded(Exception):
    """The job did not finish in time (or too many earlier jobs are still overrunning)."""


class JobCancelled(BaseException):
    """Raised inside an overrunning job's thread to stop it (a BaseException: no ``except
    Exception`` in the job's code may swallow it)."""


class _Worker(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="rftkit-math-worker", daemon=True)
        self.abandoned = False
        self.current: Future[Any] | None = None  # the job running now
        self.jobs: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...], Future[Any]]] = queue.SimpleQueue()

    def run(self) -> None:
        global _abandoned
        try:
            self._serve()
        except JobCancelled:
            pass  # cancelled between jobs: it was abandoned anyway
        finally:
            if self.abandoned:
                with _lock:
                    _abandoned -= 1

    def _serve(self) -> None:
        while True:
            try:
                fn, args, future = self.jobs.get(timeout=_IDLE_EXIT_S if self.abandoned else None)
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            self.current = future
            try:
                future.set_result(fn(*args))
            except JobCancelled:
                future.set_exception(DeadlineExceeded("cancelled"))  # then serve what queued behind it
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                future.set_exception(exc)
            finally:
                self.current = None


# An abandoned worker waits this long for jobs queued behind the one that overran, then exits.
_IDLE_EXIT_S = 0.5

_lock = threading.Lock()
_worker: _Worker | None = None
_abandoned = 0


def _reset_after_fork() -> None:
    global _lock, _worker, _abandoned
    _lock = threading.Lock()
    _worker = None
    _abandoned = 0


os.register_at_fork(after_in_child=_reset_after_fork)


def run_with_deadline(fn: Callable[..., T], *args: Any, timeout: float) -> T:
    """``fn(*args)`` run in the worker thread; raises DeadlineExceeded after ``timeout`` seconds.

    Exceptions raised by ``fn`` reach the caller unchanged.
    """
    global _worker, _abandoned
    with _lock:
        if _abandoned >= MAX_ABANDONED:
            raise DeadlineExceeded(f"{_abandoned} earlier symbolic comparisons are still overrunning")
        if _worker is None or not _worker.is_alive():
            _worker = _Worker()
            _worker.start()
        worker = _worker
    future: Future[T] = Future()
    worker.jobs.put((fn, args, future))
    try:
        return future.result(timeout)
    except FutureTimeout:
        if not future.cancel():
            with _lock:
                if _worker is worker:
                    _worker = None
                    _abandoned += 1
                    worker.abandoned = True
            if not future.done():
                _cancel(worker, future)
        raise DeadlineExceeded(f"no result within {timeout} s") from None


def _cancel(worker: _Worker, future: Future[Any]) -> None:
    """Raises JobCancelled inside ``worker``'s thread until the job of ``future`` has stopped.

    The exception lands at the thread's next bytecode, which may be inside a destructor or a
    weakref callback, where Python swallows it; so it is sent again while that job still runs.
    The resends come at random intervals: at a fixed one, a job that loops through destructors at
    a steady pace can catch every resend inside a destructor (seen in CI: 100 of 100 swallowed).
    """
    _quiet_swallowed_cancels()
    jitter = random.Random()

    def reap() -> None:
        while worker.ident is not None and worker.is_alive() and worker.current is future:
            _raise_in(worker)
            time.sleep(_RESEND_S * jitter.uniform(0.2, 1.8))

    threading.Thread(target=reap, name="rftkit-math-reaper", daemon=True).start()


def _raise_in(worker: _Worker) -> None:
    if worker.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(worker.ident), ctypes.py_object(JobCancelled))


# A cancel that lands where Python swallows it is sent again this often, on average.
_RESEND_S = 0.05
_hook_installed = False


def _quiet_swallowed_cancels() -> None:
    """A JobCancelled that landed in a destructor is reported as 'unraisable'; it is ours and
    is sent again, so it is dropped there. Every other unraisable goes to the previous hook."""
    global _hook_installed
    with _lock:
        if _hook_installed:
            return
        _hook_installed = True
        previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, JobCancelled):
            previous(unraisable)

    sys.unraisablehook = hook
