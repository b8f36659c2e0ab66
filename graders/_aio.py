"""One private event loop in a daemon thread: where every model-server call runs.

Model calls always run on this loop, whichever thread or event loop asked for them. So the
HTTP connection pool, the concurrency limit and the retry sleeps live on one loop that never
closes under them; sync callers (``Grader.grade`` inside a notebook's or TRL's running loop)
block only their own thread while the work happens here; and no loop-bound object (an
``asyncio.Semaphore``, an HTTP client) ever crosses loops. After ``fork`` the child starts a
fresh loop of its own (threads do not survive a fork).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_pid = 0


def io_loop() -> asyncio.AbstractEventLoop:
    """The process's I/O loop, started on first use."""
    global _loop, _thread, _pid
    loop = _loop
    if loop is not None and _pid == os.getpid():
        return loop
    with _lock:
        if _loop is None or _pid != os.getpid():
            new_loop = asyncio.new_event_loop()
            thread = threading.Thread(target=_serve, args=(new_loop,), name="rftkit-io", daemon=True)
            thread.start()
            _loop, _thread, _pid = new_loop, thread, os.getpid()
        return _loop


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    loop.run_forever()


def on_io_loop() -> bool:
    """True when called from code running on the I/O loop's thread."""
    return _thread is not None and threading.current_thread() is _thread and _pid == os.getpid()


def submit(coro: Coroutine[Any, Any, T]) -> Future[T]:
    """Schedules ``coro`` on the I/O loop; returns a thread-safe future of its result."""
    return asyncio.run_coroutine_threadsafe(coro, io_loop())


async def run_on_io_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Awaits ``coro`` on the I/O loop from any event loop (cancelling one cancels the other)."""
    if on_io_loop():
        return await coro
    return await asyncio.wrap_future(submit(coro))


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Runs ``coro`` on the I/O loop and blocks this thread until it is done.

    Safe to call from inside a running event loop (that loop's thread waits; the work runs on
    the I/O loop's thread). Calling it *from* the I/O loop would deadlock, so that raises.
    """
    if on_io_loop():
        coro.close()
        raise RuntimeError("run_sync called from the rftkit I/O loop; await the coroutine instead")
    return submit(coro).result()
