"""A cgroup per sandbox worker, where this process may make one (Linux, cgroup v2 or v1).

rlimits miss what the kernel counts elsewhere: RLIMIT_NPROC never applies to root, and
RLIMIT_AS counts neither tmpfs pages nor kernel buffers. A cgroup does: ``pids.max`` caps the
worker's threads and processes together, ``memory.max`` every page charged to it (its tmpfs
included), and its member list reaches every process the worker started, whatever session
it moved to. Making one needs write access to the caller's own cgroup (root in most
containers, a delegated systemd unit); where that is missing the pool goes without, and the
worker's ``isolation`` report says so.
"""

from __future__ import annotations

import os
import signal
import time

from graders._sandbox._leftovers import owned_prefix, owner_gone

_PREFIX = "rftkit-"
# How long remove() waits for killed members to leave before giving up on the directory.
_REMOVE_WAIT_S = 2.0


class WorkerCgroup:
    """The cgroup directories (one for v2, one per controller for v1) of one worker."""

    def __init__(self, dirs: list[str]) -> None:
        self.dirs = dirs

    @classmethod
    def create(cls, memory_mb: int, tasks: int) -> WorkerCgroup | None:
        """A new cgroup capping memory and tasks, or None where none can be made here."""
        name = f"{owned_prefix(_PREFIX)}{time.monotonic_ns()}"
        pids, memory = ("pids.max", str(tasks)), (str(memory_mb << 20))
        files = {"": [pids, ("memory.max", memory)], "pids": [pids], "memory": [("memory.limit_in_bytes", memory)]}
        dirs = []
        for controller, parent in _parents().items():
            if controller == "":
                # Only where the caller's cgroup may delegate (a namespace's root): else a no-op.
                _write(os.path.join(parent, "cgroup.subtree_control"), "+pids +memory")
            path = os.path.join(parent, name)
            try:
                os.mkdir(path)
            except OSError:
                continue
            dirs.append(path)
            for file, value in files[controller]:
                _write(os.path.join(path, file), value)
        group = cls(dirs)
        if not group.limits_applied(tasks):
            group.remove()
            return None
        return group

    def limits_applied(self, tasks: int) -> bool:
        return any(_read(os.path.join(d, "pids.max")) == str(tasks) for d in self.dirs)

    def add(self, pid: int) -> bool:
        """Moves ``pid`` in (before it runs user code); whether that worked everywhere."""
        return all(_write(os.path.join(d, "cgroup.procs"), str(pid)) for d in self.dirs)

    def kill(self) -> None:
        """SIGKILLs every member, wherever it moved in the process tree."""
        for d in self.dirs:
            if _write(os.path.join(d, "cgroup.kill"), "1"):
                continue
            for _ in range(10):
                members = [int(p) for p in (_read(os.path.join(d, "cgroup.procs")) or "").split()]
                if not members:
                    break
                for pid in members:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass

    def remove(self) -> None:
        """Kills the members and removes the directories."""
        self.kill()
        deadline = time.monotonic() + _REMOVE_WAIT_S
        for d in self.dirs:
            while True:
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:  # members still exiting
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.01)
        self.dirs = []


def sweep_stale_cgroups() -> None:
    """Removes empty cgroups left by a process that died without cleaning up."""
    for parent in _parents().values():
        try:
            names = os.listdir(parent)
        except OSError:
            continue
        for name in names:
            if owner_gone(name, _PREFIX):
                try:
                    os.rmdir(os.path.join(parent, name))
                except OSError:
                    pass


def _parents() -> dict[str, str]:
    """Where this process's own cgroups are: "" for v2, else per v1 controller we use."""
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as f:
            own = [line.rstrip("\n").split(":", 2) for line in f if line.count(":") >= 2]
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            mounts = [line.split() for line in f]
    except OSError:
        return {}
    found: dict[str, str] = {}
    for fields in mounts:
        if "-" not in fields:
            continue
        dash = fields.index("-")
        fstype, options = fields[dash + 1], fields[-1].split(",")
        root, point = fields[3], fields[4]
        for _, controllers, path in own:
            names = controllers.split(",") if controllers else []
            if fstype == "cgroup2" and not controllers:
                key = ""
            elif fstype == "cgroup" and (used := [c for c in ("pids", "memory") if c in names and c in options]):
                key = used[0] if len(used) == 1 else "pids"
            else:
                continue
            if path == root or path.startswith(root.rstrip("/") + "/"):
                found.setdefault(key, os.path.join(point, path[len(root.rstrip("/")) :].lstrip("/")))
    if any(key in found for key in ("pids", "memory")):
        found.pop("", None)  # a hybrid layout: the v1 controllers are the ones that work
    return found


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return None


def _write(path: str, value: str) -> bool:
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(value)
        return True
    except OSError:
        return False
