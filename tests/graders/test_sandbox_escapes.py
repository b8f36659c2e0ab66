"""The sandbox against the ways out that issue 14 found: host sockets, nested namespaces, memory.

Each case runs real attack code (``python_cases.py``) in a real worker and checks, from the
host, that nothing got through. Where this kernel lacks seccomp or user namespaces the worker
reports so (``isolation``) and the test says why it cannot apply.
"""

from __future__ import annotations

import platform
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from graders import PythonGrader, SandboxLimits

CASES_SPEC = {"type": "python", "name": "cases", "source": (Path(__file__).parent / "python_cases.py").read_text()}
RUNTIME = "python_grader_runtime_error"


@pytest.fixture(scope="module")
def grader() -> Iterator[PythonGrader]:
    with PythonGrader(CASES_SPEC, limits=SandboxLimits(timeout_s=5.0), workers=1) as g:
        g.grade("x", {"case": "ok"})
        yield g


def kernel_has_seccomp() -> bool:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return False
    return "Seccomp:" in status and platform.machine() in ("x86_64", "aarch64")


def needs(grader: PythonGrader, feature: str) -> None:
    # Skips only where the kernel lacks the feature; a worker that failed to use it fails.
    if feature == "seccomp" and not kernel_has_seccomp():
        pytest.skip("this kernel or architecture has no seccomp filter for the sandbox")
    assert grader.isolation.get(feature), f"the worker got no {feature}: {grader.isolation}"


def refused(grader: PythonGrader, case: str, **item: object) -> str:
    score = grader.grade("x", {"case": case, **item})
    assert score.error is not None and score.error.kind == RUNTIME, score
    follow_up = grader.grade("x", {"case": "ok"})
    assert (follow_up.value, follow_up.error) == (1.0, None), f"pool broken after {case}"
    return score.error.message


def short_socket_path(tmp_path: Path) -> str:
    # AF_UNIX paths are limited to 107 bytes; pytest's tmp_path can be longer.
    path = tmp_path / "s.sock"
    return str(path) if len(str(path)) < 100 else str(Path("/tmp") / f"rftkit-test-{id(tmp_path)}.sock")


def test_a_socket_file_on_the_host_is_unreachable(grader: PythonGrader, tmp_path: Path) -> None:
    needs(grader, "seccomp")
    path = short_socket_path(tmp_path)
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(path)
        server.listen()
        server.settimeout(0.2)
        message = refused(grader, "unix_socket", path=path)
        with pytest.raises(TimeoutError):
            server.accept()
    Path(path).unlink()
    assert "Operation not permitted" in message


def test_a_datagram_pair_cannot_send_to_a_socket_file(grader: PythonGrader, tmp_path: Path) -> None:
    needs(grader, "seccomp")
    path = short_socket_path(tmp_path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        server.settimeout(0.2)
        message = refused(grader, "unix_datagram", path=path)
        with pytest.raises(TimeoutError):
            server.recv(100)
    Path(path).unlink()
    assert "Operation not permitted" in message


def test_a_connected_stream_pair_still_works(grader: PythonGrader) -> None:
    assert grader.grade("x", {"case": "stream_pair"}).value == 1.0


def test_a_nested_user_namespace_is_refused(grader: PythonGrader) -> None:
    needs(grader, "seccomp")
    assert "Operation not permitted" in refused(grader, "nested_userns")


@pytest.mark.parametrize("case", ["memfd", "shm"])
def test_memory_outside_the_address_space_limit_is_refused(grader: PythonGrader, case: str) -> None:
    needs(grader, "seccomp")
    assert "Operation not permitted" in refused(grader, case)


def test_files_in_the_working_directory_count_against_the_memory_limit() -> None:
    # Issue 14 held 430 MB with memory_mb=256: a full 256 MB tmpfs on top of the address space.
    limits = SandboxLimits(timeout_s=20.0, memory_mb=256)
    with PythonGrader(CASES_SPEC, limits=limits, workers=1) as g:
        held = g.grade("x", {"case": "hoard", "cap_mb": 1024})
        assert g.isolation.get("read_only_fs"), f"no tmpfs working directory here: {g.isolation}"
    assert held.error is None, held
    assert 0 < held.value <= 256
