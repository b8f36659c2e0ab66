"""The sandbox worker, and the ``grade(sample, item) -> float`` contract shared with trusted mode.

The pool runs this file as a script (``python -I _worker.py``) in a fresh process with a
minimal environment; it imports nothing from rftkit, so user code finds no rftkit state. The
worker confines itself (``_isolate``), says hello, loads the user source once and says whether
that worked, then serves batches: for each request it grades every (sample, item) pair in
turn (by default in a fresh module, putting back what the call changed) and streams one
reply per pair, so the pool can hold each pair to its own deadline. A call that leaves
threads or processes behind ends the worker after its reply; the pool starts another.

Wire format, both ways: a 4-byte big-endian length, then that many bytes of UTF-8 JSON.
The worker's own stdin/stdout carry the protocol on private descriptors; fds 0-2 point at
/dev/null, and user code's ``sys.stdout`` / ``sys.stderr`` are bounded in-memory captures.
"""

from __future__ import annotations

import builtins
import json
import linecache
import math
import numbers
import os
import resource
import shutil
import signal
import struct
import sys
import traceback
from collections.abc import Callable
from types import CodeType
from typing import Any

# Error kinds: the hosted API's names for python graders.
RUNTIME_ERROR = "python_grader_runtime_error"
TIMEOUT_ERROR = "python_grader_timeout"
SERVER_ERROR = "python_grader_server_error"

# The hosted API caps python grader source at 256 kB.
MAX_SOURCE_BYTES = 256 * 1024
# A reward this large is a bug, and would swamp any advantage normalisation in an RL step.
MAX_ABS_VALUE = 1e9
# Evidence, not a second copy: captured output and tracebacks are cut to this many characters.
MAX_CAPTURE_CHARS = 4_000
MAX_TRACEBACK_CHARS = 4_000
# Exit status of a worker that stops itself (before its CPU budget runs out, or after a call
# that left threads behind); the pool replaces it and re-sends what it did not grade.
RETIRE_EXIT = 75
SOURCE_FILENAME = "<grader>"


class GradeTimeout(BaseException):
    """Raised inside user code when its wall-clock or CPU-time limit is reached."""


def load_source(source: str) -> Callable[[Any, Any], Any]:
    """Runs ``source`` as a module and returns its ``grade`` function."""
    return run_module(compile_source(source))


def compile_source(source: str) -> CodeType:
    """The source's code object, with its lines where tracebacks find them."""
    code = compile(source, SOURCE_FILENAME, "exec")
    linecache.cache[SOURCE_FILENAME] = (len(source), None, source.splitlines(True), SOURCE_FILENAME)
    return code


def run_module(code: CodeType) -> Callable[[Any, Any], Any]:
    """Runs the source's code as a new module (fresh globals); its ``grade`` function."""
    namespace: dict[str, Any] = {"__name__": "grader", "__file__": SOURCE_FILENAME}
    exec(code, namespace)  # noqa: S102 - running user code is this module's job
    grade = namespace.get("grade")
    if not callable(grade):
        raise TypeError("the source defines no callable grade(sample, item)")
    return grade


def check_value(value: Any) -> float:
    """The contract's return value: a real number, finite, at most MAX_ABS_VALUE in size.

    Raises:
        TypeError: ``value`` is not a real number (a str, None, a list, ...).
        ValueError: ``value`` is NaN, infinite, or too large.
    """
    if not isinstance(value, numbers.Real):
        raise TypeError(f"grade() must return a float, not {type(value).__name__}")
    try:
        out = float(value)
    except OverflowError:
        raise ValueError("grade() returned a number too large for a float") from None
    if not math.isfinite(out):
        raise ValueError(f"grade() returned {out}, not a finite float")
    if abs(out) > MAX_ABS_VALUE:
        raise ValueError(f"grade() returned {out:g}, beyond the +-{MAX_ABS_VALUE:g} limit")
    return out


def call_grade(fn: Callable[[Any, Any], Any], sample: Any, item: Any) -> dict[str, Any]:
    """Calls ``fn(sample, item)`` under the contract.

    Returns:
        ``{"value": float}``, or ``{"error": kind, "message": str, "traceback": str}`` when
        ``fn`` raised or returned something other than a valid float.
    """
    try:
        value = fn(sample, item)
    except GradeTimeout:
        raise
    except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are user errors too
        return runtime_error(exc, exc.__traceback__.tb_next if exc.__traceback__ else None)
    try:
        return {"value": check_value(value)}
    except (TypeError, ValueError) as exc:
        return {"error": RUNTIME_ERROR, "message": str(exc), "traceback": ""}


def runtime_error(exc: BaseException, tb: Any) -> dict[str, Any]:
    """The result for ``exc`` raised by user code: kind, message and the traceback's tail."""
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    if len(text) > MAX_TRACEBACK_CHARS:
        text = "..." + text[-MAX_TRACEBACK_CHARS:]
    message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return {"error": RUNTIME_ERROR, "message": message[:500], "traceback": text}


class _Capture:
    """A bounded text sink for user code's sys.stdout / sys.stderr."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.kept = 0
        self.dropped = 0

    def write(self, text: str) -> int:
        text = str(text)
        room = MAX_CAPTURE_CHARS - self.kept
        if room > 0:
            self.parts.append(text[:room])
            self.kept += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def take(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += f"... [{self.dropped} more characters]"
        self.parts, self.kept, self.dropped = [], 0, 0
        return text


# --- the worker process ------------------------------------------------------------------------


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _recv(fd: int) -> Any:
    header = _read_exact(fd, 4)
    if header is None:
        return None
    body = _read_exact(fd, struct.unpack(">I", header)[0])
    return None if body is None else json.loads(body)


def _send(fd: int, message: Any) -> None:
    body = json.dumps(message, allow_nan=False).encode()
    data = struct.pack(">I", len(body)) + body
    while data:
        data = data[os.write(fd, data) :]


def _cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


_armed = [False]  # whether a limit signal may interrupt: only while user code runs


def _on_limit(signum: int, frame: Any) -> None:
    # A late SIGALRM, or SIGXCPU (repeated every second past the soft limit), must not
    # interrupt the worker's own code between calls.
    if _armed[0]:
        _armed[0] = False
        raise GradeTimeout


class _Worker:
    def __init__(self, rfd: int, wfd: int, config: dict[str, Any], workdir: str) -> None:
        self.rfd, self.wfd = rfd, wfd
        self.workdir = workdir
        self.timeout = float(config["limits"]["timeout_s"])
        self.cpu_budget = float(config["limits"]["worker_cpu_s"])
        self.fresh = bool(config["limits"].get("fresh_per_call", True))
        self.stdout, self.stderr = _Capture(), _Capture()
        self.code: CodeType | None = None
        self.fn: Callable[[Any, Any], Any] | None = None
        self.baseline: _State | None = None
        self.reason_to_retire = ""

    def _arm(self) -> None:
        soft = math.ceil(_cpu_used() + self.timeout) + 1
        try:
            resource.setrlimit(resource.RLIMIT_CPU, (soft, int(self.cpu_budget)))
        except (OSError, ValueError):
            pass
        _armed[0] = True
        signal.setitimer(signal.ITIMER_REAL, self.timeout)

    def _disarm(self) -> None:
        _armed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)

    def load(self, source: str) -> dict[str, Any] | None:
        """Loads the source once (imports warm, failures found early); the failure, if any."""
        sys.stdout, sys.stderr = self.stdout, self.stderr
        self._arm()
        try:
            self.code = compile_source(source)
            self.fn = run_module(self.code)
        except GradeTimeout:
            return {"error": TIMEOUT_ERROR, "message": f"loading the source ran past {self.timeout:g} s"}
        except BaseException as exc:  # noqa: BLE001 - a broken module is graded, not fatal
            return runtime_error(exc, exc.__traceback__)
        finally:
            self._disarm()
        self.baseline = _State()
        return None

    def grade(self, sample: Any, item: Any) -> dict[str, Any]:
        assert self.code is not None and self.fn is not None
        self._arm()
        try:
            # A fresh module per call: one sample's globals never reach the next sample.
            fn = run_module(self.code) if self.fresh else self.fn
            result = call_grade(fn, sample, item)
        except GradeTimeout:
            result = {"error": TIMEOUT_ERROR, "message": f"grade() ran past the {self.timeout:g} s limit"}
        except BaseException as exc:  # noqa: BLE001 - the module failed this time
            result = runtime_error(exc, exc.__traceback__)
        finally:
            self._disarm()
        for key, capture in (("stdout", self.stdout), ("stderr", self.stderr)):
            text = capture.take()
            if text:
                result[key] = text
        self.reason_to_retire = self._tidy()
        return result

    def _tidy(self) -> str:
        """Undoes what a call left behind; why the worker must go, where it cannot."""
        if _threads() > 1:
            return "grade() left threads running"
        if _has_children():
            return "grade() left processes running"
        if not self.fresh or self.baseline is None:
            return ""
        self.baseline.restore(self.stdout, self.stderr)
        if not _empty_dir(self.workdir):
            return "grade() left files the worker could not remove"
        return ""

    def serve(self) -> int:
        while True:
            request = _recv(self.rfd)
            if request is None:
                return 0
            for sample, item in request["batch"]:
                if self.cpu_budget - _cpu_used() < self.timeout + 1:
                    return RETIRE_EXIT
                _send(self.wfd, self.grade(sample, item))
                if self.reason_to_retire:
                    # The pool re-sends the rest of the batch to a fresh worker.
                    return RETIRE_EXIT


class _State:
    """What a call may change in the worker's process, to put back after it."""

    def __init__(self) -> None:
        self.cwd = os.getcwd()
        # os.environ's own bytes mapping: comparing the str view decodes every entry.
        self.environ = dict(_environ_data())
        self.path = list(sys.path)
        self.names = dict(vars(builtins))
        self.recursion_limit = sys.getrecursionlimit()

    def restore(self, stdout: _Capture, stderr: _Capture) -> None:
        sys.stdout, sys.stderr = stdout, stderr
        # The limit handlers: without them the next call could only be stopped by a kill.
        for signum in (signal.SIGALRM, signal.SIGXCPU):
            if signal.getsignal(signum) is not _on_limit:
                signal.signal(signum, _on_limit)
        if sys.getrecursionlimit() != self.recursion_limit:
            sys.setrecursionlimit(self.recursion_limit)
        if sys.path != self.path:
            sys.path[:] = self.path
        if _environ_data() != self.environ:
            os.environ.clear()
            os.environ.update({os.fsdecode(k): os.fsdecode(v) for k, v in self.environ.items()})
        names = vars(builtins)
        if names != self.names:
            names.clear()
            names.update(self.names)
        try:
            if os.getcwd() == self.cwd:
                return
        except OSError:
            pass  # the directory was removed under it
        os.makedirs(self.cwd, mode=0o700, exist_ok=True)
        os.chdir(self.cwd)


def _environ_data() -> Any:
    return getattr(os.environ, "_data", os.environ)


def _threads() -> int:
    try:
        # A task directory links to "." and ".." and one entry per thread: one stat, no listing.
        count = os.stat("/proc/self/task").st_nlink - 2
        return count if count >= 1 else len(os.listdir("/proc/self/task"))
    except OSError:
        import threading

        return threading.active_count()


def _has_children() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)  # any child, running or ended: the call forked
        return True
    except ChildProcessError:
        return False


def _empty_dir(path: str) -> bool:
    """Removes everything in ``path``; whether that worked."""
    try:
        with os.scandir(path) as entries:
            names = [entry.name for entry in entries]
    except OSError:
        return False
    for name in names:
        target = os.path.join(path, name)
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target, ignore_errors=True)
        else:
            try:
                os.unlink(target)
            except OSError:
                pass
    try:
        return not os.listdir(path)
    except OSError:
        return False


def main() -> int:
    # Keep the protocol on private descriptors; user code writing to fd 1 cannot corrupt it.
    rfd, wfd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    config = _recv(rfd)
    if config is None:
        return 0
    limits = config["limits"]
    workdir = os.getcwd()
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    import _isolate  # type: ignore[import-not-found]

    sys.path.remove(here)
    report: dict[str, bool] = {}
    report.update(_isolate.set_limits(limits))
    confine = bool(limits.get("confine", True))
    if confine:
        report.update(_isolate.enter_namespaces(workdir, _isolate.workdir_mb(limits)))
    else:
        report.update(network_namespace=False, pid_namespace=False)
    if report["pid_namespace"]:
        child = os.fork()
        if child:
            # The parent stays outside as a reaper; only PID 1 inside keeps the protocol fds.
            os.close(rfd)
            os.close(wfd)
            _, status = os.waitpid(child, 0)
            code = os.waitstatus_to_exitcode(status)
            return code if code >= 0 else 128 - code
        report.update(_isolate.inside_pid_namespace())
    os.chdir(workdir)
    if confine:
        report.update(_isolate.drop_privileges())
    if report.get("user_namespace") or not report.get("seccomp"):
        report["rlimit_nproc"] = _isolate.limit_processes(limits["max_processes"], bool(report.get("user_namespace")))
    if not report["network_namespace"]:
        _isolate.guard_sockets()
        report["socket_guard"] = True
    if not report["pid_namespace"]:
        report["subreaper"] = _isolate.adopt_orphans()
    signal.signal(signal.SIGALRM, _on_limit)
    signal.signal(signal.SIGXCPU, _on_limit)
    # Hello first: the pool then holds loading the source to the call's time limit, not to
    # the slower allowance for starting Python.
    _send(wfd, {"hello": report})
    worker = _Worker(rfd, wfd, config, workdir)
    failure = worker.load(config["source"])
    _send(wfd, {"loaded": failure is None} if failure is None else {"loaded": False, "failure": failure})
    try:
        return 0 if failure is not None else worker.serve()
    finally:
        if not report["pid_namespace"]:
            # Nothing user code started may outlive the worker (a PID namespace sees to that).
            _isolate.kill_descendants(os.getpid())


if __name__ == "__main__":
    # os._exit: a normal exit would wait for every thread user code left that is not a daemon.
    os._exit(main())
