"""Confines the worker process before it loads user code (Linux; stdlib and ctypes only).

Runs inside the worker, never in the caller. Each step is best effort and reports whether it
took effect, so the threat model in ``graders._sandbox`` can say what a given machine got:

1. rlimits: address space (``memory_mb`` less the tmpfs working directory, which is RAM too),
   CPU time, file size, open files, no core dumps (process count as a fallback);
2. ``unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC)``:
   no network interfaces but a down loopback, a private mount table in which every mount is
   remounted read-only and the working directory is a fresh size-capped tmpfs, a PID
   namespace whose fresh ``/proc`` shows only the sandbox's own process, and System V IPC
   objects of its own (the host's shared memory out of reach);
3. a seccomp filter (``_DENIED`` says what and why): no new processes or programs (``clone``
   only with ``CLONE_THREAD`` and no namespace flag), which bounds fork bombs even where
   ``RLIMIT_NPROC`` does not apply (it never applies to root); no nested namespaces; no
   memory outside RLIMIT_AS (memfd, System V shared memory); no AF_UNIX sockets, so a
   socket file on the host is out of reach; no other process's memory;
4. every capability dropped and ``no_new_privs`` set;
5. where namespaces are unavailable, a socket-level guard (``socket.socket`` refuses to be
   created). That guard is a speed bump, not a wall: code that imports ``_socket`` passes it.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import signal
import socket
import sys
from typing import Any

_CLONE_NEWNS = 0x00020000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000
_CLONE_THREAD = 0x00010000
# Every namespace flag clone accepts (NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET).
_CLONE_NAMESPACES = 0x7E020000
_AF_UNIX, _SOCK_STREAM, _SOCK_SEQPACKET = 1, 1, 5
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_PR_SET_PDEATHSIG, _PR_SET_SECCOMP, _PR_SET_CHILD_SUBREAPER, _PR_SET_NO_NEW_PRIVS = 1, 22, 36, 38
_SECCOMP_MODE_FILTER = 2
_RET_ALLOW, _RET_ERRNO, _RET_KILL = 0x7FFF0000, 0x00050000, 0x80000000
_EPERM, _ENOSYS = 1, 38
# Descriptors open at once: every pipe and socket pair holds kernel buffers outside RLIMIT_AS.
MAX_OPEN_FILES = 256
# Files in the working directory at once: the worker empties it after every call, in time.
MAX_FILES = 10_000
# Per architecture: the audit arch, then syscall numbers by name; aarch64 has no fork/vfork.
_SYSCALLS: dict[str, tuple[int, dict[str, int]]] = {
    "x86_64": (
        0xC000003E,
        {
            "clone": 56, "clone3": 435, "fork": 57, "vfork": 58, "execve": 59, "execveat": 322,
            "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
            "unshare": 272, "setns": 308, "socket": 41, "socketpair": 53,
            "memfd_create": 319, "memfd_secret": 447, "shmget": 29, "msgget": 68,
            "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
            "userfaultfd": 323, "bpf": 321,
        },
    ),
    "aarch64": (
        0xC00000B7,
        {
            "clone": 220, "clone3": 435, "execve": 221, "execveat": 281,
            "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271,
            "unshare": 97, "setns": 268, "socket": 198, "socketpair": 199,
            "memfd_create": 279, "memfd_secret": 447, "shmget": 194, "msgget": 186,
            "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
            "userfaultfd": 282, "bpf": 280,
        },
    ),
}  # fmt: skip
# Refused outright (EPERM), each for a reason the threat model names:
_DENIED = (
    # new processes and programs: no fork bombs, no escape from the Python-level guards
    "fork", "vfork", "execve", "execveat",
    # another process's memory (the caller's, where no PID namespace hides it)
    "ptrace", "process_vm_readv", "process_vm_writev",
    # a nested user namespace would hold every capability again (netfilter, mounts)
    "unshare", "setns",
    # memory that RLIMIT_AS does not count and that outlives a call
    "memfd_create", "memfd_secret", "shmget", "msgget",
    # io_uring opens sockets and connects without the syscalls this filter checks
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    # classic kernel exploitation primitives no grader needs
    "userfaultfd", "bpf",
)  # fmt: skip


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def workdir_mb(limits: dict[str, Any]) -> int:
    """The size of the tmpfs working directory: ``disk_mb``, at most half of ``memory_mb``.

    A tmpfs is RAM that RLIMIT_AS does not count, so its size comes out of the memory limit.
    """
    return max(1, min(int(limits["disk_mb"]), int(limits["memory_mb"]) // 2))


def set_limits(limits: dict[str, Any]) -> dict[str, bool]:
    """Sets the rlimits; returns which ones took effect."""
    done: dict[str, bool] = {}
    mib = 1024 * 1024
    wanted = {
        "RLIMIT_AS": (limits["memory_mb"] - workdir_mb(limits)) * mib,
        "RLIMIT_FSIZE": limits["file_mb"] * mib,
        "RLIMIT_CORE": 0,
        "RLIMIT_CPU": limits["worker_cpu_s"],
        "RLIMIT_NOFILE": MAX_OPEN_FILES,
    }
    for name, value in wanted.items():
        which = getattr(resource, name, None)
        if which is None:
            done[name.lower()] = False
            continue
        try:
            _, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(which, (value, value))
            done[name.lower()] = True
        except (OSError, ValueError):
            done[name.lower()] = False
    # A write past RLIMIT_FSIZE then fails with EFBIG (an exception in user code) instead of
    # killing the worker with SIGXFSZ.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    return done


def limit_processes(count: int, own_user_namespace: bool) -> bool:
    """RLIMIT_NPROC on threads and processes together; whether it applies (never to root).

    In a user namespace of its own the limit counts only the sandbox's tasks. Outside one it
    counts every task of the user, so it is set to what the user runs now plus ``count``: a
    bare ``count`` could stop the worker from starting a thread.
    """
    try:
        limit = count if own_user_namespace else _user_tasks() + count
        resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))
    except (OSError, ValueError):
        return False
    return os.getuid() != 0


def _user_tasks() -> int:
    uid, tasks = os.getuid(), 0
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if pid.isdigit():
            try:
                if os.stat(f"/proc/{pid}").st_uid == uid:
                    tasks += len(os.listdir(f"/proc/{pid}/task"))
            except OSError:
                pass  # gone meanwhile
    return tasks


def enter_namespaces(workdir: str, disk_mb: int) -> dict[str, bool]:
    """Unshares user, network, mount and PID namespaces and locks the file system down.

    Returns what took effect. The caller must fork next: only the child lives in the new PID
    namespace (as its PID 1).
    """
    names = ("user_namespace", "network_namespace", "ipc_namespace", "read_only_fs", "pid_namespace")
    done = dict.fromkeys(names, False)
    if not sys.platform.startswith("linux"):
        return done
    libc = _libc()
    uid, gid = os.getuid(), os.getgid()
    flags = _CLONE_NEWUSER | _CLONE_NEWNET | _CLONE_NEWNS | _CLONE_NEWPID | _CLONE_NEWIPC
    if libc.unshare(flags) != 0:
        return done
    done.update(user_namespace=True, network_namespace=True, pid_namespace=True, ipc_namespace=True)
    try:
        # Map our own ids so files in the tmpfs get an owner (unmapped ids give EOVERFLOW).
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
        with open("/proc/self/uid_map", "w") as f:
            f.write(f"{uid} {uid} 1")
        with open("/proc/self/gid_map", "w") as f:
            f.write(f"{gid} {gid} 1")
    except OSError:
        pass
    if libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        return done
    size = f"size={disk_mb}m,nr_inodes={MAX_FILES},mode=0700".encode()
    if libc.mount(b"tmpfs", workdir.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, size) != 0:
        return done
    failed = 0
    for mount_point in _mount_points():
        if mount_point == workdir:
            continue
        try:
            kept = os.statvfs(mount_point).f_flag & (_MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
        except OSError:
            continue  # covered by a later mount
        # Flags a less privileged namespace may not clear must be kept, or the remount fails.
        if libc.mount(None, mount_point.encode(), None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | kept, None) != 0:
            failed += 1
    done["read_only_fs"] = failed == 0
    return done


def _mount_points() -> list[str]:
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
        points = [line.split()[4].replace("\\040", " ") for line in f if len(line.split()) > 4]
    return points


def inside_pid_namespace() -> dict[str, bool]:
    """In the forked PID 1: dies with the worker, gets a /proc showing only the sandbox."""
    libc = _libc()
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    flags = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    fresh_proc = libc.mount(b"proc", b"/proc", b"proc", flags, None) == 0
    return {"private_proc": fresh_proc}


def drop_privileges() -> dict[str, bool]:
    """Drops every capability, sets no_new_privs and installs the seccomp filter."""
    libc = _libc()
    done = {"no_capabilities": False, "seccomp": False}
    if not sys.platform.startswith("linux"):
        return done
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    done["no_capabilities"] = (
        libc.capget(ctypes.byref(header), data) == 0 and libc.capset(ctypes.byref(header), (_CapData * 2)()) == 0
    )
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return done
    program = _seccomp_program()
    if program is None:
        return done
    filters = (_SockFilter * len(program))(*(_SockFilter(*ins) for ins in program))
    prog = _SockFprog(len(program), filters)
    done["seccomp"] = libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) == 0
    return done


def _seccomp_program() -> list[tuple[int, int, int, int]] | None:
    """The filter, as classic BPF: (code, jt, jf, k) per instruction."""
    entry = _SYSCALLS.get(platform.machine())
    if entry is None:
        return None
    arch, nrs = entry
    ld_w_abs, jeq_k, jset_k, jge_k, and_k, ret_k = 0x20, 0x15, 0x45, 0x35, 0x54, 0x06
    arg0, arg1 = 16, 24  # low 32 bits of seccomp_data.args[0] and args[1] (little-endian)
    allow, deny = (ret_k, 0, 0, _RET_ALLOW), (ret_k, 0, 0, _RET_ERRNO | _EPERM)
    prog: list[tuple[int, int, int, int]] = [
        (ld_w_abs, 0, 0, 4),  # seccomp_data.arch
        (jeq_k, 1, 0, arch),
        (ret_k, 0, 0, _RET_KILL),  # another ABI (i386 via int 0x80) could dodge the filter
        (ld_w_abs, 0, 0, 0),  # seccomp_data.nr
        (jge_k, 0, 1, 0x40000000),  # x32 syscall numbers
        (ret_k, 0, 0, _RET_KILL),
    ]

    def when(name: str, *body: tuple[int, int, int, int]) -> None:
        # Runs body (which must end in a return) for this syscall; others skip past it.
        if name in nrs:
            prog.extend([(jeq_k, 0, len(body), nrs[name]), *body])

    for name in _DENIED:
        when(name, deny)
    # clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc fall back to clone.
    when("clone3", (ret_k, 0, 0, _RET_ERRNO | _ENOSYS))
    # A thread, never a process, and never in a new namespace.
    when("clone", (ld_w_abs, 0, 0, arg0), (jset_k, 1, 0, _CLONE_THREAD), deny,
         (jset_k, 0, 1, _CLONE_NAMESPACES), deny, allow)  # fmt: skip
    # connect() takes its address in memory a filter cannot read, and a path socket (Docker's,
    # a database's) is reachable from any network namespace: no AF_UNIX socket is made at all.
    when("socket", (ld_w_abs, 0, 0, arg0), (jeq_k, 0, 1, _AF_UNIX), deny, allow)
    # A connected stream pair cannot be pointed elsewhere; a datagram one can (sendto a path).
    when("socketpair", (ld_w_abs, 0, 0, arg1), (and_k, 0, 0, 0xF),
         (jeq_k, 2, 0, _SOCK_STREAM), (jeq_k, 1, 0, _SOCK_SEQPACKET), deny, allow)  # fmt: skip
    prog.append(allow)
    return prog


def adopt_orphans() -> bool:
    """Where no PID namespace holds user code's processes: orphans become the worker's children.

    A process that double-forks and calls ``setsid`` leaves the worker's process group; as a
    subreaper, the worker still finds it among its descendants (``kill_descendants``).
    """
    if not sys.platform.startswith("linux"):
        return False
    return bool(_libc().prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)


def kill_descendants(pid: int) -> None:
    """SIGKILLs every process below ``pid`` (Linux /proc), until none is left or 10 rounds."""
    for _ in range(10):
        found = _descendants(pid)
        if not found:
            return
        for child in found:
            try:
                os.kill(child, signal.SIGKILL)
            except OSError:
                pass  # gone meanwhile


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields start after the last ")".
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], list(children.get(pid, ()))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, ()))
    return found


def guard_sockets() -> None:
    """Fallback where no network namespace could be made: refuse to create sockets."""

    class _NoSocket(socket.socket):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise PermissionError("network access is disabled in the python grader sandbox")

    socket.socket = _NoSocket  # type: ignore[misc]
    socket.create_connection = _refuse
    socket.socketpair = _refuse


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise PermissionError("network access is disabled in the python grader sandbox")
