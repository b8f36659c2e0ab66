"""The host side of the sandbox: a pool of warm worker processes and the limits they run under."""

from __future__ import annotations

import json
import math
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from graders._sandbox._cgroup import WorkerCgroup, sweep_stale_cgroups
from graders._sandbox._isolate import kill_descendants
from graders._sandbox._leftovers import WORKDIR_PREFIX, owned_prefix, sweep_stale_workdirs
from graders._sandbox._worker import RETIRE_EXIT, SERVER_ERROR, TIMEOUT_ERROR

WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
# Starting Python and loading the source may take a while on a busy machine (numpy, sympy).
START_TIMEOUT_S = 60.0
# The pool's own deadline for a reply is the worker's limit plus this: the worker interrupts
# slow user code itself, and the pool kills it only when that fails.
GRACE_S = 2.0
# A reply is a float, a short message and two bounded captures; anything larger is a broken
# or hostile worker.
MAX_REPLY_BYTES = 1 << 20
# How long close() waits for a worker to exit after its stdin closes, before killing it.
CLOSE_WAIT_S = 1.0
# Pairs per round-trip: enough to amortise the pipe round-trip, few enough to spread a batch.
MAX_CHUNK = 64
# Libraries that start one thread per core would oversubscribe a pool of one-core workers.
_ENV = {"LANG": "C.UTF-8", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def default_workers() -> int:
    """One worker per core the process may use, at most 8."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, 8))


@dataclass(frozen=True)
class SandboxLimits:
    """What one python grader call may use. Defaults follow the hosted sandbox where it says.

    Attributes:
        timeout_s: Wall-clock seconds per ``grade`` call (and for loading the source).
        memory_mb: RAM a worker may hold (hosted: 2 GB): its address space and its tmpfs
            working directory together.
        disk_mb: Size of the worker's private tmpfs working directory, where available; at
            most half of ``memory_mb``, and taken out of it (the address space gets the rest).
        file_mb: Largest file user code may write (RLIMIT_FSIZE).
        worker_cpu_s: CPU seconds a worker may use over its life; it retires before running out.
        max_processes: Threads and processes a worker may run at once: a cgroup's
            ``pids.max`` where the caller may make one (root in most containers), else
            RLIMIT_NPROC, which never applies to root (inside the worker's user namespace it
            counts the sandbox's own tasks; without one, what the user runs already plus
            this, and only where seccomp does not already refuse new processes).
        confine: Use Linux namespaces and seccomp where available. False leaves only the
            portable fallback (rlimits, minimal environment, socket guard): for platforms
            where they misbehave, and to test that fallback.
        fresh_per_call: Run the source afresh for every call (new module globals) in an
            emptied working directory, with ``os.environ``, ``sys.path``, builtins and the
            current directory put back after it: one sample's call never sees another's
            state. False loads the source once per worker and keeps its globals and files
            between the calls that worker serves: faster where module-level code is
            expensive, but calls can then leak state to each other.
    """

    timeout_s: float = 10.0
    memory_mb: int = 2048
    disk_mb: int = 256
    file_mb: int = 64
    worker_cpu_s: int = 3600
    max_processes: int = 64
    confine: bool = True
    fresh_per_call: bool = True


RETIRED = "retired"


class _WorkerDied(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class _SourceFailed(_WorkerDied):
    """The source failed to load (raised, timed out, killed its worker): it will again."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__(str(result.get("error", SERVER_ERROR)), str(result.get("message", "")))
        self.result = result


class _Worker:
    """One worker process and its pipes."""

    def __init__(self, source: str, limits: SandboxLimits) -> None:
        self.limits = limits
        self.workdir = tempfile.mkdtemp(prefix=owned_prefix(WORKDIR_PREFIX))
        env = dict(_ENV, PATH=os.defpath, HOME=self.workdir, TMPDIR=self.workdir)
        self.cgroup = WorkerCgroup.create(limits.memory_mb, limits.max_processes) if limits.confine else None
        try:
            self.proc = self._spawn(env)
        except OSError as exc:
            shutil.rmtree(self.workdir, ignore_errors=True)
            if self.cgroup is not None:
                self.cgroup.remove()
            raise _WorkerDied(SERVER_ERROR, f"cannot start a worker process: {exc}") from None
        # In before it reads its configuration, so before any user code runs.
        if self.cgroup is not None and not self.cgroup.add(self.proc.pid):
            self.cgroup.remove()
            self.cgroup = None
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.wfd = self.proc.stdin.fileno()
        self.rfd = self.proc.stdout.fileno()
        os.set_blocking(self.wfd, False)
        # poll, not select: select fails on descriptors past 1024, common in a big trainer process.
        self.readable, self.writable = select.poll(), select.poll()
        self.readable.register(self.rfd, select.POLLIN)
        self.writable.register(self.wfd, select.POLLOUT)
        self.buffer = bytearray()
        self.pos = 0  # start of the unread part of buffer
        self.outbox = bytearray()
        self.isolation: dict[str, bool] = {}
        config = json.dumps({"source": source, "limits": asdict(limits)}).encode()
        try:
            self._write(config, time.monotonic() + START_TIMEOUT_S)
            report = self.recv(time.monotonic() + START_TIMEOUT_S).get("hello")
            self.isolation = {str(k): bool(v) for k, v in report.items()} if isinstance(report, dict) else {}
            self.isolation["cgroup"] = self.cgroup is not None
            self._loaded(time.monotonic() + limits.timeout_s + GRACE_S)
        except BaseException:
            self.stop(kill=True)
            raise

    def _loaded(self, deadline: float) -> None:
        """Waits for the worker to load the source; raises _SourceFailed where it did not."""
        try:
            reply = self.recv(deadline)
        except _WorkerDied as exc:
            why = "ran past the time limit" if exc.kind == TIMEOUT_ERROR else "stopped its worker"
            raise _SourceFailed({"error": exc.kind, "message": f"loading the source {why}: {exc.message}"}) from None
        if reply.get("loaded") is not True:
            failure = reply.get("failure")
            raise _SourceFailed(failure if isinstance(failure, dict) else {"error": SERVER_ERROR})

    def _spawn(self, env: dict[str, str]) -> subprocess.Popen[bytes]:
        # No preexec_fn: it is unsafe when the caller has threads (TRL, asyncio executors).
        return subprocess.Popen(
            [sys.executable, "-I", str(WORKER_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=self.workdir,
            env=env,
            close_fds=True,
            start_new_session=True,  # its own process group, killed as one
        )

    def queue_batch(self, pairs: Sequence[bytes]) -> None:
        """Queues a request; ``flush`` sends it as the worker reads (never blocking)."""
        body = b'{"batch": [' + b",".join(pairs) + b"]}"
        self.outbox += struct.pack(">I", len(body)) + body

    def flush(self) -> bool:
        """Writes what the pipe takes of the queued requests; True once all are sent."""
        try:
            while self.outbox:
                del self.outbox[: os.write(self.wfd, self.outbox)]
        except BlockingIOError:
            return False
        except BrokenPipeError:
            raise self._died() from None
        return True

    def _write(self, body: bytes, deadline: float) -> None:
        data = memoryview(struct.pack(">I", len(body)) + body)
        while data:
            wait = deadline - time.monotonic()
            if wait <= 0:
                raise _WorkerDied(TIMEOUT_ERROR, "the sandbox worker stopped reading its requests")
            if self.writable.poll(math.ceil(wait * 1000)):
                try:
                    data = data[os.write(self.wfd, data) :]
                except BlockingIOError:
                    continue
                except BrokenPipeError:
                    raise self._died() from None

    def recv(self, deadline: float) -> dict[str, Any]:
        """The next reply, waiting until ``deadline`` at most."""
        while True:
            reply = self._take()
            if reply is not None:
                return reply
            wait = deadline - time.monotonic()
            if wait <= 0:
                raise _WorkerDied(TIMEOUT_ERROR, "the sandbox worker did not answer in time")
            if self.readable.poll(math.ceil(wait * 1000)):
                self._fill()

    def read_replies(self) -> list[dict[str, Any]]:
        """Reads what the pipe holds (call when poll says it is readable); the complete replies."""
        self._fill()
        replies = []
        while (reply := self._take()) is not None:
            replies.append(reply)
        return replies

    def _fill(self) -> None:
        try:
            chunk = os.read(self.rfd, 1 << 20)
        except OSError as exc:  # closed under us by close() on another thread
            raise _WorkerDied(SERVER_ERROR, f"the sandbox worker's pipe failed: {exc}") from None
        if not chunk:
            raise self._died()
        if self.pos:
            del self.buffer[: self.pos]
            self.pos = 0
        self.buffer += chunk

    def _take(self) -> dict[str, Any] | None:
        """The next complete reply in the buffer, if there is one."""
        start = self.pos
        if len(self.buffer) - start < 4:
            return None
        size = struct.unpack_from(">I", self.buffer, start)[0]
        if size > MAX_REPLY_BYTES:
            raise _WorkerDied(SERVER_ERROR, f"the sandbox worker sent a {size}-byte reply")
        if len(self.buffer) - start - 4 < size:
            return None
        self.pos = start + 4 + size
        try:
            reply = json.loads(self.buffer[start + 4 : self.pos])
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            raise _WorkerDied(SERVER_ERROR, "the sandbox worker sent a malformed reply")
        return reply

    def _died(self) -> _WorkerDied:
        try:
            code = self.proc.wait(CLOSE_WAIT_S)
        except subprocess.TimeoutExpired:
            return _WorkerDied(SERVER_ERROR, "the sandbox worker closed its pipe")
        if code == RETIRE_EXIT:
            return _WorkerDied(RETIRED, "the worker used up its CPU budget")
        # The worker's reaper reports PID 1's death by signal N as status 128 + N.
        signum = -code if code < 0 else code - 128 if code > 128 else 0
        why = f"was killed by {_signal_name(signum)}" if signum else f"exited with status {code}"
        return _WorkerDied(
            SERVER_ERROR, f"the sandbox worker {why} (os._exit, a crash or a resource limit in user code)"
        )

    def stop(self, kill: bool = False) -> None:
        if self.proc.returncode is None:
            if not self.isolation.get("pid_namespace"):
                # Processes user code started, even in a session of their own (setsid), die
                # first: the worker holds them as a subreaper only while it lives.
                kill_descendants(self.proc.pid)
            if not kill:
                try:
                    self.proc.stdin.close()  # type: ignore[union-attr]
                    self.proc.wait(CLOSE_WAIT_S)
                except (OSError, subprocess.TimeoutExpired):
                    kill = True
            if kill or self.proc.returncode is None:
                if self.cgroup is not None:
                    self.cgroup.kill()
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        if self.cgroup is not None:
            self.cgroup.remove()  # and with it anything the worker left running
        shutil.rmtree(self.workdir, ignore_errors=True)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class SandboxPool:
    """Warm workers that run one user source, started on first use.

    Each worker loads the source once (to warm its imports and find a broken source early),
    runs it afresh for each call unless ``fresh_per_call`` is off, and grades many (sample,
    item) pairs; a source that fails to load fails every later call at once. A batch is cut
    into chunks, one round-trip each; the calling thread sends chunks to as many workers as
    it can get and reads their replies as they come (one thread, so no GIL hand-offs). Each
    pair is held to its own deadline: a worker that times out, crashes or breaks the protocol
    is killed, the pair it was on gets an error result, and the rest of its chunk goes back
    in the queue for a fresh worker. Thread-safe: callers on several threads share the pool.

    Args:
        source: Python source defining ``grade(sample, item)``.
        limits: The per-call limits.
        workers: How many worker processes at most (default: one per core, at most 8).
    """

    def __init__(self, source: str, limits: SandboxLimits | None = None, workers: int | None = None) -> None:
        self.source = source
        self.limits = limits or SandboxLimits()
        self.size = max(1, workers or default_workers())
        self.isolation: dict[str, bool] = {}
        # The result every call gets once the source failed to load: it would fail again, and
        # a source that hangs at import would otherwise cost a worker start per call.
        self.failure: dict[str, Any] | None = None
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Condition()
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._started = 0
        self._swept = False
        self._closed = False
        self._pid = os.getpid()
        self._finalizer = weakref.finalize(self, _shutdown, self._all, self._lock)

    def run(self, payloads: Sequence[bytes]) -> list[dict[str, Any]]:
        """Grades JSON-encoded ``[sample, item]`` pairs; one result dict per pair, in order."""
        n = len(payloads)
        if n == 0:
            return []
        if self.failure is not None:
            return [dict(self.failure) for _ in payloads]
        if self._pid != os.getpid():
            # A forked child (a DataLoader worker, say) must not talk to its parent's workers:
            # the replies would interleave. Forget them (they are the parent's) and start afresh.
            self._finalizer.detach()
            self._reset()
        size = max(1, min(MAX_CHUNK, math.ceil(n / self.size)))
        results: list[dict[str, Any] | None] = [None] * n
        pending = [list(range(i, min(i + size, n))) for i in range(0, n, size)]
        _Batch(self, payloads, results, pending, size).run()
        return [r if r is not None else _closed_result() for r in results]

    def acquire(self, block: bool) -> _Worker | None:
        """An idle worker, a newly started one while the pool has room, or None.

        Blocks for a worker when ``block`` is true; returns None at once otherwise, and always
        once the pool is closed.

        Raises:
            _WorkerDied: a new worker failed to start.
        """
        with self._lock:
            while True:
                if self._closed:
                    return None
                if self.failure is not None:  # another caller's batch found the source broken
                    raise _SourceFailed(self.failure)
                if self._idle:
                    return self._idle.pop()
                if self._started < self.size:
                    self._started += 1
                    sweep, self._swept = not self._swept, True
                    break
                if not block:
                    return None
                self._lock.wait()
        if sweep:
            sweep_stale_workdirs()
            sweep_stale_cgroups()
        try:
            worker = _Worker(self.source, self.limits)
        except BaseException as exc:
            with self._lock:
                self._started -= 1
                if isinstance(exc, _SourceFailed):
                    self.failure = exc.result
                self._lock.notify()
            raise
        with self._lock:
            self._all.add(worker)
            self.isolation = worker.isolation
        return worker

    def release(self, worker: _Worker, healthy: bool) -> None:
        """Returns a worker to the pool, or stops it (unhealthy, or the pool closed)."""
        with self._lock:
            if healthy and not self._closed:
                self._idle.append(worker)
                self._lock.notify()
                return
        worker.stop(kill=not healthy)
        with self._lock:
            self._all.discard(worker)
            self._started -= 1
            self._lock.notify()

    def close(self) -> None:
        """Stops every worker; idempotent. Calls in flight get a server error."""
        with self._lock:
            self._closed = True
            self._idle.clear()
            self._lock.notify_all()
        self._finalizer()


class _Batch:
    """One ``run`` call: an event loop over the workers the calling thread holds.

    Each worker keeps up to two chunks in flight, so it grades the next chunk while this
    thread encodes and decodes; requests are written only as fast as the worker reads them,
    so neither side ever blocks on a full pipe.
    """

    def __init__(
        self,
        pool: SandboxPool,
        payloads: Sequence[bytes],
        results: list[dict[str, Any] | None],
        pending: list[list[int]],
        chunk: int,
    ) -> None:
        self.pool, self.payloads, self.results, self.pending = pool, payloads, results, pending
        self.chunk = chunk
        self.held: dict[int, _Worker] = {}  # by read descriptor
        self.writing: dict[int, int] = {}  # write descriptor -> read descriptor, while requests wait
        self.todo: dict[int, list[int]] = {}  # indices each held worker still owes, in order
        self.deadline: dict[int, float] = {}  # when the oldest owed reply is overdue
        self.poller = select.poll()
        self.patience = pool.limits.timeout_s + GRACE_S

    def run(self) -> None:
        try:
            while self.pending or any(self.todo.values()):
                self._dispatch()
                if not any(self.todo.values()):
                    return  # the pool closed, or no worker could start: the rest has results or none
                self._wait()
        finally:
            for fd in list(self.held):
                self._drop(fd, healthy=not self.todo.get(fd))

    def _dispatch(self) -> None:
        """Tops up the workers held, then gets more workers while chunks wait."""
        for fd in list(self.held):
            while self.pending and fd in self.held and len(self.todo[fd]) < self.chunk:
                self._send(fd, self.pending.pop(0))
        while self.pending:
            try:
                worker = self.pool.acquire(block=not self.held)
            except _WorkerDied as exc:
                if self.held:
                    return  # the workers held will take the rest
                # A worker that cannot start will not start for the next pair either.
                failed = (
                    exc.result
                    if isinstance(exc, _SourceFailed)
                    else {"error": exc.kind, "message": f"starting the sandbox failed: {exc.message}"}
                )
                for chunk in self.pending:
                    for i in chunk:
                        self.results[i] = dict(failed)
                self.pending.clear()
                return
            if worker is None:
                return
            self.held[worker.rfd] = worker
            self.todo[worker.rfd] = []
            self.poller.register(worker.rfd, select.POLLIN)
            self._send(worker.rfd, self.pending.pop(0))

    def _send(self, fd: int, chunk: list[int]) -> None:
        worker = self.held[fd]
        if not self.todo[fd]:
            self.deadline[fd] = time.monotonic() + self.patience
        self.todo[fd].extend(chunk)
        worker.queue_batch([self.payloads[i] for i in chunk])
        self._flush(fd)

    def _flush(self, fd: int) -> None:
        worker = self.held[fd]
        try:
            done = worker.flush()
        except _WorkerDied as exc:
            self._failed(fd, exc)
            return
        if done and worker.wfd in self.writing:
            del self.writing[worker.wfd]
            self.poller.unregister(worker.wfd)
        elif not done and worker.wfd not in self.writing:
            self.writing[worker.wfd] = fd
            self.poller.register(worker.wfd, select.POLLOUT)

    def _wait(self) -> None:
        now = time.monotonic()
        limit = self.pool.limits.timeout_s
        for fd in [fd for fd, due in self.deadline.items() if due <= now]:
            self._failed(
                fd, _WorkerDied(TIMEOUT_ERROR, f"grade() ran past the {limit:g} s limit; its worker was killed")
            )
        if not self.deadline:
            return
        wait = max(0.0, min(self.deadline.values()) - time.monotonic())
        for fd, _ in self.poller.poll(math.ceil(wait * 1000)):
            if fd in self.writing:
                self._flush(self.writing[fd])
            elif fd in self.held:
                self._read(fd)

    def _read(self, fd: int) -> None:
        try:
            replies = self.held[fd].read_replies()
        except _WorkerDied as exc:
            self._failed(fd, exc)
            return
        owed = self.todo[fd]
        if len(replies) > len(owed):
            self._failed(fd, _WorkerDied(SERVER_ERROR, "the sandbox worker sent more replies than asked"))
            return
        for i, reply in zip(owed, replies, strict=False):
            self.results[i] = reply
        del owed[: len(replies)]
        if not owed:
            del self.deadline[fd]
        elif replies:
            self.deadline[fd] = time.monotonic() + self.patience

    def _failed(self, fd: int, exc: _WorkerDied) -> None:
        """The worker on ``fd`` is done for: blame its current pair, requeue the rest."""
        owed = self.todo.pop(fd, [])
        self.deadline.pop(fd, None)
        if owed and exc.kind != RETIRED:
            self.results[owed.pop(0)] = {"error": exc.kind, "message": exc.message}
        if owed:
            self.pending.insert(0, owed)
        self._drop(fd, healthy=False)

    def _drop(self, fd: int, healthy: bool) -> None:
        worker = self.held.pop(fd)
        self.todo.pop(fd, None)
        self.poller.unregister(fd)
        if worker.wfd in self.writing:
            del self.writing[worker.wfd]
            self.poller.unregister(worker.wfd)
        self.pool.release(worker, healthy)


def _closed_result() -> dict[str, Any]:
    return {"error": SERVER_ERROR, "message": "the python grader was closed"}


def _shutdown(workers: set[_Worker], lock: threading.Condition) -> None:
    # Runs on close() and, through weakref.finalize, at interpreter exit.
    with lock:
        todo = list(workers)
        workers.clear()
    for worker in todo:
        worker.stop()
