"""The sandbox for ``python`` graders: warm worker processes that run untrusted grader code.

A python grader spec is a file someone sends you, and its ``source`` runs inside your training
loop. The pool runs it in separate worker processes, never in the caller's process, and each
worker confines itself as far as the platform allows before it loads the source. The threat
model (what is contained, what is not, and why) is ``docs/security.md``; in short:

* every platform: a separate process (``python -I``) without the caller's environment; a
  wall-clock and CPU limit per call; rlimits on memory (address space plus the working
  directory), file size, open files and core dumps; captured, bounded output; a fresh module
  and an emptied working directory for every call (``SandboxLimits.fresh_per_call``); a
  worker that times out, crashes, or leaves threads or processes behind is replaced; a source
  that fails to load is failed at once for every later call;
* Linux with user namespaces and seccomp (``_isolate``): no network, a read-only file system
  but the tmpfs working directory, a private ``/proc`` and IPC namespace, no capabilities,
  and a seccomp filter against new processes and programs, nested namespaces, AF_UNIX
  sockets, memfd and shared memory, io_uring and ptrace;
* where the caller may make a cgroup (``_cgroup``): hard caps on tasks and RAM, and a kill
  that reaches everything the worker started.

``PythonGrader.isolation`` reports what a worker got on this machine.
"""

from graders._sandbox._pool import SandboxLimits, SandboxPool, default_workers
from graders._sandbox._results import to_score
from graders._sandbox._worker import (
    MAX_ABS_VALUE,
    MAX_SOURCE_BYTES,
    RUNTIME_ERROR,
    SERVER_ERROR,
    TIMEOUT_ERROR,
    call_grade,
    check_value,
    load_source,
    runtime_error,
)

__all__ = [
    "MAX_ABS_VALUE",
    "MAX_SOURCE_BYTES",
    "RUNTIME_ERROR",
    "SERVER_ERROR",
    "TIMEOUT_ERROR",
    "SandboxLimits",
    "SandboxPool",
    "call_grade",
    "check_value",
    "default_workers",
    "load_source",
    "runtime_error",
    "to_score",
]
