"""Run a function with a deadline, without signals: a dedicated worker thread per process.

``signal.alarm`` (what Math-Verify uses) only works in the main thread, so it breaks graders
called from thread pools, asyncio executors and web servers. Here the work runs in one daemon
worker thread and the caller waits on a future with a timeout, from any thread.

Python cannot kill a thread: a job that overruns keeps its thread busy until it ends. So the
callers bound the work itself (input size, nesting, exponent sizes) and the deadline is the
backstop: the overrunning worker is abandoned (it exits once its queue is drained) and the next
job gets a fresh one. At most ``MAX_ABANDONED`` overrunning workers may exist at once; past that
every job times out at once rather than pile up more busy threads.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

T = TypeVar("T")

# Busy abandoned workers allowed at once; each still holds a CPU share until its job ends.
MAX_ABANDONED = 4


class DeadlineExceeded(Exception):
    """The job did not finish in time (or too many earlier jobs are still overrunning)."""


class _Worker(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="rftkit-math-worker", daemon=True)
        self.jobs: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...], Future[Any]]] = queue.SimpleQueue()

    def run(self) -> None:
        global _abandoned
        while True:
            try:
                fn, args, future = self.jobs.get(timeout=_IDLE_EXIT_S if self is not _worker else None)
            except queue.Empty:
                with _lock:
                    _abandoned -= 1
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                future.set_exception(exc)


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
                    worker.jobs.put((_noop, (), Future()))  # wakes it to notice it was abandoned
        raise DeadlineExceeded(f"no result within {timeout} s") from None


def _noop() -> None:
    return None
