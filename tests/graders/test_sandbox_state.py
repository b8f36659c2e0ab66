"""What one call leaves behind (globals, files, threads, a source that fails) never reaches the next."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from graders import PythonGrader, SandboxLimits

CASES_SPEC = {"type": "python", "name": "cases", "source": (Path(__file__).parent / "python_cases.py").read_text()}
RUNTIME, TIMEOUT, SERVER = "python_grader_runtime_error", "python_grader_timeout", "python_grader_server_error"


@pytest.fixture(scope="module")
def grader() -> Iterator[PythonGrader]:
    with PythonGrader(CASES_SPEC, limits=SandboxLimits(timeout_s=5.0), workers=1) as g:
        yield g


def test_files_environment_path_builtins_and_cwd_are_put_back(grader: PythonGrader) -> None:
    scores = grader.grade_batch(["x"] * 3, [{"case": "leave"}, {"case": "look"}, {"case": "look"}])
    assert [s.value for s in scores] == [1.0, 0.0, 0.0]
    assert grader.grade("x", {"case": "look"}).value == 0.0  # and across batches


def test_a_call_cannot_disarm_the_time_limit_of_the_next() -> None:
    with PythonGrader(CASES_SPEC, limits=SandboxLimits(timeout_s=1.0), workers=1) as grader:
        scores = grader.grade_batch(["x"] * 3, [{"case": "worker"}, {"case": "leave"}, {"case": "loop"}])
        after = grader.grade("x", {"case": "worker"})
    assert scores[2].error is not None and scores[2].error.kind == TIMEOUT
    assert "killed" not in scores[2].error.message  # interrupted by the worker, not killed
    assert int(after.value) == int(scores[0].value)  # the same worker went on


def test_a_worker_left_with_threads_is_replaced(grader: PythonGrader) -> None:
    first = grader.grade("x", {"case": "daemon_thread"})
    assert first.error is None
    assert grader.pool is not None
    after = grader.grade("x", {"case": "worker"})
    assert int(after.value) != int(first.value)  # a fresh worker graded the next call
    assert len(grader.pool._all) == 1  # and the old one is gone, its thread with it


@pytest.mark.parametrize("thread", ["daemon_thread", "thread"])
def test_a_batch_goes_on_after_a_call_that_leaves_threads(grader: PythonGrader, thread: str) -> None:
    # A thread that is not a daemon would hold a worker that exits the usual way forever.
    cases = ["worker", thread, "worker", "worker"]
    scores = grader.grade_batch(["x"] * 4, [{"case": c} for c in cases])
    assert [s.error for s in scores] == [None] * 4
    tokens = [int(s.value) for s in scores]
    assert tokens[0] == tokens[1] != tokens[2] == tokens[3]


HANGS = "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass\n"
CRASHES = "import os\nos._exit(4)\n"
RAISES = "raise RuntimeError('broken at import')\n"


@pytest.mark.parametrize(
    ("module_code", "kind", "fragment"),
    [(HANGS, TIMEOUT, "loading the source"), (CRASHES, SERVER, "status 4"), (RAISES, RUNTIME, "broken at import")],
    ids=["hangs", "crashes", "raises"],
)
def test_a_source_that_fails_to_load_is_failed_once_then_at_once(module_code: str, kind: str, fragment: str) -> None:
    source = module_code + "def grade(sample, item):\n    return 1.0\n"
    with PythonGrader({"type": "python", "source": source}, limits=SandboxLimits(timeout_s=1.0), workers=1) as g:
        first = g.grade("x")
        assert g.pool is not None and g.pool.failure is not None  # remembered
        later = g.grade_batch(["x"] * 50)
        assert not g.pool._all and g.pool._started == 0  # no worker was started for them
    for score in [first, *later]:
        assert score.error is not None and score.error.kind == kind, score
        assert fragment in score.error.message


def test_the_number_of_threads_is_bounded() -> None:
    # Issue 14 started 2,000 threads freely. The bound is a cgroup (where the caller may make
    # one) or RLIMIT_NPROC (which the kernel never applies to root).
    limits = SandboxLimits(timeout_s=20.0, max_processes=32)
    with PythonGrader(CASES_SPEC, limits=limits, workers=1) as g:
        started = g.grade("x", {"case": "many_threads"})
        bounded_by = [k for k in ("cgroup", "rlimit_nproc") if g.isolation.get(k)]
    if not bounded_by:
        pytest.skip(f"root without a writable cgroup: nothing here can bound threads ({g.isolation})")
    assert started.error is None, started
    assert started.value < 32
