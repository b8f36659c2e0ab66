"""The sandbox for ``python`` graders: warm worker processes that run untrusted grader code.

A python grader spec is a file someone sends you, and its ``source`` runs inside your training
loop. The pool runs it in separate worker processes, never in the caller's process, and
confines each worker as far as the platform allows without privileges. This is a threat
model, not a promise.

What every platform gets:

* a separate process per worker (``python -I``), started without the caller's environment
  variables (only ``PATH``, ``HOME``, ``TMPDIR``, ``LANG`` and thread-count variables are set),
  in a fresh temporary working directory, removed when the worker stops;
* a wall-clock limit per call (the worker interrupts user code; if that fails the pool kills
  the worker), rlimits on address space, CPU time, file size and core dumps;
* stdout and stderr of user code captured and cut to a few kB (``details``); fd-level writes
  go to /dev/null;
* a worker that times out, crashes or exceeds its memory is killed (with its process group)
  and replaced; the call gets ``python_grader_timeout`` or ``python_grader_server_error`` and
  the rest of the batch goes to a fresh worker.

What Linux adds where unprivileged user namespaces and seccomp are allowed (most desktop and CI
kernels; not inside some container runtimes). ``PythonGrader.isolation`` reports what a
worker got:

* a network namespace: no network at all, not even loopback to the caller's servers;
* a mount namespace in which every mount is read-only, except the working directory, a
  fresh size-capped tmpfs: user code cannot write outside it;
* a PID namespace with a fresh ``/proc``: the caller's processes (and their environment
  variables in ``/proc/PID/environ``) are out of sight;
* seccomp refusing new processes (no fork bombs, no subprocesses; threads are allowed) and
  ``ptrace`` / ``process_vm_readv`` / ``process_vm_writev``;
* every capability dropped, ``no_new_privs`` set.

What is *not* isolated: user code can read every file the caller's user can read (datasets,
``~/.ssh``, credentials files), use CPU and memory up to the limits, and see the machine's
hardware. Where namespaces are unavailable, the network is only guarded by ``socket.socket``
refusing to be created (code that imports ``_socket`` passes), files outside the working
directory can be written wherever the user may write, ``/proc`` shows the caller's processes
(and, without seccomp, a debugger-style attach to them is up to the kernel's ptrace policy),
and without seccomp, fork bombs are bounded by ``RLIMIT_NPROC`` only (never for root). Run
graders you do not trust on a machine or container that holds nothing you need to protect.
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
