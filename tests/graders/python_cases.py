"""Grader source for the sandbox tests: one ``grade`` that misbehaves as ``item["case"]`` says."""

import math
import os
import signal
import socket
import sys
import time

# Distinct per worker process. The sandbox runs this module afresh for every call, so the
# token lives where the module's own globals do not: on a module object of the process.
_PROCESS = sys.modules.setdefault("rftkit_test_process", type(sys)("rftkit_test_process"))
if not hasattr(_PROCESS, "token"):
    _PROCESS.token = int.from_bytes(os.urandom(3), "big")
WORKER = _PROCESS.token
CALLS = [0]  # counts the calls this module object served


def grade(sample, item):
    case = item.get("case", "ok")
    CALLS[0] += 1
    if case == "ok":
        return 1.0
    if case == "echo":
        return float(sample["output_json"]["x"]) + len(item["tags"])
    if case == "keys":
        return float(sorted(sample) == ["choices", "output_audio", "output_json", "output_text", "output_tools"])
    if case == "worker":
        return WORKER + CALLS[0] / 1e6
    if case == "spin":  # a tenth of a second of CPU
        end = time.process_time() + 0.1
        while time.process_time() < end:
            pass
        return WORKER
    if case == "loop":
        while True:
            pass
    if case == "stubborn_loop":  # swallows the worker's own interrupt: only a kill stops it
        while True:
            try:
                while True:
                    pass
            except BaseException:
                pass
    if case == "fork_bomb":  # bounded, so a machine without any process limit survives the test
        children = []
        for _ in range(200):
            pid = os.fork()
            if pid == 0:
                time.sleep(5)
                os._exit(0)
            children.append(pid)
        return 1.0
    if case == "memory":
        return float(len(bytearray(10 * 1024**3)))
    if case == "ptrace":  # attach to the parent process, as a debugger would
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.ptrace(16, os.getppid() or 1, None, None) != 0:  # PTRACE_ATTACH
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        return 1.0
    if case == "environ":
        found = any(key.startswith("RFTKIT_TEST_SECRET") for key in os.environ)
        for pid in os.listdir("/proc"):
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    found = found or b"RFTKIT_TEST_SECRET" in f.read()
            except OSError:
                pass
        return float(found)
    if case == "scratch":  # the working directory is the code's own
        with open("scratch.txt", "w") as f:
            f.write("ok")
        with open(os.path.join(os.environ["TMPDIR"], "scratch.txt")) as f:
            return float(f.read() == "ok")
    if case == "write":
        with open(item["path"], "w") as f:
            f.write("escaped")
        return 1.0
    if case == "socket":
        with socket.create_connection(("127.0.0.1", item["port"]), timeout=2):
            return 1.0
    if case == "sys_exit":
        sys.exit(0)
    if case == "os_exit":
        os._exit(3)
    if case == "nan":
        return math.nan
    if case == "huge_int":
        return 10**400
    if case == "huge_float":
        return 1e300
    if case == "text":
        return "1.0"
    if case == "stdout":
        print("x" * 5_000_000)
        sys.stderr.write("warning\n")
        os.write(1, b"y" * 5_000_000)
        return 0.5
    if case == "numpy":
        import numpy as np

        return float(np.mean(np.array([0.0, 1.0])))
    if case == "unix_socket":  # a socket file on the host (Docker's, a database's)
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(item["path"])
            s.sendall(b"escaped")
        return 1.0
    if case == "unix_datagram":  # a connected pair, pointed at a path by sendto
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        a.sendto(b"escaped", item["path"])
        return 1.0
    if case == "stream_pair":  # what asyncio and friends use: must keep working
        a, b = socket.socketpair()
        a.sendall(b"x")
        return float(b.recv(1) == b"x")
    if case in ("nested_userns", "memfd", "shm"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if case == "nested_userns":  # CLONE_NEWUSER | CLONE_NEWNET: every capability, inside
            ok = libc.unshare(0x10000000 | 0x40000000) == 0
        elif case == "memfd":  # memory that RLIMIT_AS does not count
            ok = libc.memfd_create(b"hoard", 0) >= 0
        else:  # shmget(IPC_PRIVATE, 1 MB, IPC_CREAT | 0600)
            ok = libc.shmget(0, 1 << 20, 0o1000 | 0o600) >= 0
        if not ok:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        with open("/proc/self/status") as f:
            return float(f.read().split("CapEff:")[1].split()[0] != "0000000000000000")
    if case == "leave":  # state a call leaves for the next one, everywhere it can
        import builtins

        with open("left.txt", "w") as f:
            f.write("from an earlier sample")
        os.makedirs("left_dir/sub")
        os.environ["RFTKIT_LEFT"] = "1"
        sys.path.append("/left")
        builtins.rftkit_left = True
        os.chdir("left_dir")
        signal.signal(signal.SIGALRM, signal.SIG_IGN)  # the worker's time limit, disarmed
        return 1.0
    if case == "look":  # how much of it this call sees
        import builtins

        home = os.environ["TMPDIR"]
        seen = [
            os.listdir(home) != [],
            "RFTKIT_LEFT" in os.environ,
            "/left" in sys.path,
            hasattr(builtins, "rftkit_left"),
            os.getcwd() != home,
        ]
        return float(sum(seen))
    if case in ("daemon_thread", "thread"):  # keeps burning CPU after grade returns
        import threading

        # iter(int, 1) never ends: int() is never 1.
        threading.Thread(target=lambda: [None for _ in iter(int, 1)], daemon=case == "daemon_thread").start()
        return WORKER
    if case == "daemon_process":  # double fork and setsid: out of the worker's process group
        pid = os.fork()
        if pid == 0:
            os.setsid()
            if os.fork() == 0:
                with open(item["path"], "w") as f:
                    f.write(str(os.getpid()))
                time.sleep(60)
            os._exit(0)
        os.waitpid(pid, 0)
        deadline = time.monotonic() + 10
        while not os.path.exists(item["path"]) and time.monotonic() < deadline:
            time.sleep(0.01)
        return 1.0
    if case == "hoard":  # holds as much RAM as it can, in files and in memory: how many MB
        chunk, held, kept = 8 << 20, 0, []
        try:
            with open("hoard.bin", "wb") as f:  # the working directory is a tmpfs: RAM
                while held < item["cap_mb"] << 20:
                    f.write(b"x" * chunk)
                    f.flush()
                    held += chunk
        except OSError:
            pass
        for _ in range(item["cap_mb"] // 8):
            try:
                kept.append(bytearray(chunk))
            except MemoryError:
                break
            held += chunk
        return float(held >> 20)
    if case == "many_threads":  # how many threads start (of at most 2,000 small ones)
        import threading

        threading.stack_size(64 * 1024)
        release, started = threading.Event(), []
        try:
            for _ in range(2000):
                thread = threading.Thread(target=release.wait, daemon=True)
                thread.start()
                started.append(thread)
        except RuntimeError:  # can't start new thread
            pass
        release.set()
        for thread in started:
            thread.join()
        return float(len(started))
    if case == "missing_package":
        import rftkit_no_such_package  # noqa: F401
    raise ValueError(f"unknown case {case!r}")
