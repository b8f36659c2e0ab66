"""The host side of the sandbox: a pool of warm worker processes and the limits they run under."""

from __future__ import annotations

import json
import math
import os
import queue
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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
        memory_mb: Address-space limit of a worker (hosted: 2 GB RAM).
        disk_mb: Size of the worker's private tmpfs working directory, where available.
        file_mb: Largest file user code may write (RLIMIT_FSIZE).
        worker_cpu_s: CPU seconds a worker may use over its life; it retires before running out.
        max_processes: RLIMIT_NPROC, applied only where the seccomp filter is unavailable.
        confine: Use Linux namespaces and seccomp where available. False leaves only the
            portable fallback (rlimits, minimal environment, socket guard): for platforms
            where they misbehave, and to test that fallback.
    """

    timeout_s: float = 10.0
    memory_mb: int = 2048
    disk_mb: int = 256
    file_mb: int = 64
    worker_cpu_s: int = 3600
    max_processes: int = 64
    confine: bool = True


RETIRED = "retired"


class _WorkerDied(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class _Worker:
    """One worker process and its pipes."""

    def __init__(self, source: str, limits: SandboxLimits) -> None:
        self.limits = limits
        self.workdir = tempfile.mkdtemp(prefix="rftkit-python-")
        env = dict(_ENV, PATH=os.defpath, HOME=self.workdir, TMPDIR=self.workdir)
        try:
            self.proc = self._spawn(env)
        except OSError as exc:
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise _WorkerDied(SERVER_ERROR, f"cannot start a worker process: {exc}") from None
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
        self.isolation: dict[str, bool] = {}
        config = json.dumps({"source": source, "limits": asdict(limits)}).encode()
        try:
            self._write(config, time.monotonic() + START_TIMEOUT_S)
            hello = self.recv(time.monotonic() + START_TIMEOUT_S + limits.timeout_s)
        except BaseException:
            self.stop(kill=True)
            raise
        report = hello.get("hello")
        self.isolation = {str(k): bool(v) for k, v in report.items()} if isinstance(report, dict) else {}

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

    def send_batch(self, pairs: Sequence[bytes]) -> None:
        body = b'{"batch": [' + b",".join(pairs) + b"]}"
        self._write(body, time.monotonic() + self.limits.timeout_s + GRACE_S)

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
        while True:
            reply = self._take()
            if reply is not None:
                return reply
            wait = deadline - time.monotonic()
            if wait <= 0:
                limit = self.limits.timeout_s
                raise _WorkerDied(TIMEOUT_ERROR, f"grade() ran past the {limit:g} s limit; its worker was killed")
            if self.readable.poll(math.ceil(wait * 1000)):
                chunk = os.read(self.rfd, 1 << 20)
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

    def next_reply(self) -> dict[str, Any]:
        return self.recv(time.monotonic() + self.limits.timeout_s + GRACE_S)

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
            if not kill:
                try:
                    self.proc.stdin.close()  # type: ignore[union-attr]
                    self.proc.wait(CLOSE_WAIT_S)
                except (OSError, subprocess.TimeoutExpired):
                    kill = True
            if kill or self.proc.returncode is None:
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
        shutil.rmtree(self.workdir, ignore_errors=True)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class SandboxPool:
    """Warm workers that run one user source, started on first use.

    Each worker loads the source once and grades many (sample, item) pairs; a batch is cut
    into chunks that go to the workers in parallel. A worker that times out, crashes or
    breaks the protocol is killed, the pair it was on gets an error result, and the rest of
    its chunk goes to a fresh worker. Thread-safe: callers on several threads share the pool.

    Args:
        source: Python source defining ``grade(sample, item)``.
        limits: The per-call limits.
        workers: How many worker processes at most (default: one per core, at most 8).
    """

    def __init__(self, source: str, limits: SandboxLimits | None = None, workers: int | None = None) -> None:
        self.source = source
        self.limits = limits or SandboxLimits()
        self.size = max(1, workers or default_workers())
        self._lock = threading.Lock()
        self._idle: queue.SimpleQueue[_Worker | None] = queue.SimpleQueue()
        self._all: set[_Worker] = set()
        self._started = 0
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False
        self.isolation: dict[str, bool] = {}
        self._pid = os.getpid()
        self._finalizer = weakref.finalize(self, _shutdown, self._all, self._lock)

    def _after_fork(self) -> None:
        # A forked child (a DataLoader worker, say) must not share its parent's workers: the
        # replies would interleave. Forget them (they belong to the parent) and start afresh.
        self._finalizer.detach()
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._idle = queue.SimpleQueue()
        self._all = set()
        self._started = 0
        self._executor = None
        self._finalizer = weakref.finalize(self, _shutdown, self._all, self._lock)

    def run(self, payloads: Sequence[bytes]) -> list[dict[str, Any]]:
        """Grades JSON-encoded ``[sample, item]`` pairs; one result dict per pair, in order."""
        n = len(payloads)
        if n == 0:
            return []
        if self._pid != os.getpid():
            self._after_fork()
        if self.size == 1 or n == 1:
            return self._run_chunk(payloads)
        chunk = max(1, min(MAX_CHUNK, math.ceil(n / self.size)))
        chunks = [payloads[i : i + chunk] for i in range(0, n, chunk)]
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.size - 1, thread_name_prefix="rftkit-python")
            executor = self._executor
        # The calling thread grades the first chunk itself: one thread hand-off fewer.
        futures = [executor.submit(self._run_chunk, part) for part in chunks[1:]]
        out = self._run_chunk(chunks[0])
        for future in futures:
            out.extend(future.result())
        return out

    def _run_chunk(self, payloads: Sequence[bytes]) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        while len(results) < len(payloads):
            try:
                worker = self._acquire()
            except _WorkerDied as exc:
                # A worker that cannot start will not start for the next pair either.
                failed = {"error": exc.kind, "message": f"starting the sandbox failed: {exc.message}"}
                results.extend(dict(failed) for _ in payloads[len(results) :])
                break
            if worker is None:
                closed = {"error": SERVER_ERROR, "message": "the python grader was closed"}
                results.extend(dict(closed) for _ in payloads[len(results) :])
                break
            healthy = True
            try:
                worker.send_batch(payloads[len(results) :])
                while len(results) < len(payloads):
                    results.append(worker.next_reply())
            except _WorkerDied as exc:
                healthy = False
                if exc.kind != RETIRED:
                    results.append({"error": exc.kind, "message": exc.message})
            finally:
                self._release(worker, healthy)
        return results

    def _acquire(self) -> _Worker | None:
        while True:
            with self._lock:
                if self._closed:
                    return None
                start = self._started < self.size
                if start:
                    self._started += 1
            if start:
                try:
                    worker = _Worker(self.source, self.limits)
                except BaseException:
                    with self._lock:
                        self._started -= 1
                    self._idle.put(None)
                    raise
                with self._lock:
                    self._all.add(worker)
                    self.isolation = worker.isolation
                return worker
            idle = self._idle.get()
            if idle is not None:
                return idle
            # None: a slot was freed (or the pool closed); loop to start a replacement.

    def _release(self, worker: _Worker, healthy: bool) -> None:
        if healthy and not self._closed:
            self._idle.put(worker)
            return
        worker.stop(kill=not healthy)
        with self._lock:
            self._all.discard(worker)
            self._started -= 1
        self._idle.put(None)

    def close(self) -> None:
        """Stops every worker; idempotent. Calls in flight get a server error."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        for _ in range(self.size):
            self._idle.put(None)
        if executor is not None:
            executor.shutdown(wait=False)
        self._finalizer()


def _shutdown(workers: set[_Worker], lock: threading.Lock) -> None:
    # Runs on close() and, through weakref.finalize, at interpreter exit.
    with lock:
        todo = list(workers)
        workers.clear()
    for worker in todo:
        worker.stop()
