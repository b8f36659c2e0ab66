"""The ``python`` kind: the hosted contract, the sandbox's limits, the pool, trusted mode."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import graders
from graders import PythonGrader, SandboxLimits, ScoreBatch, SpecError, compile_spec, from_function

CASES = (Path(__file__).parent / "python_cases.py").read_text()
TIMEOUT_S = 2.0
# Generous bound for "ended within the time limit": the limit, the pool's grace, a restart.
WITHIN_S = TIMEOUT_S + 2.0 + 10.0
CASES_SPEC = {"type": "python", "name": "cases", "source": CASES}
SECRET = "RFTKIT_TEST_SECRET_TOKEN"
RUNTIME, TIMEOUT, SERVER = "python_grader_runtime_error", "python_grader_timeout", "python_grader_server_error"


@pytest.fixture(scope="module")
def sandboxed() -> Iterator[PythonGrader]:
    os.environ[SECRET] = "sk-not-a-real-key"  # set before the workers start: they must not see it
    spec = {"type": "python", "name": "cases", "source": CASES, "image_tag": "2025-05-08"}
    grader = PythonGrader(spec, limits=SandboxLimits(timeout_s=TIMEOUT_S), workers=1)
    try:
        yield grader
    finally:
        grader.close()
        os.environ.pop(SECRET, None)


def grade_case(grader: PythonGrader, case: str, **item: object) -> graders.Score:
    """Grades one misbehaving case, then checks the pool still serves a good call."""
    start = time.monotonic()
    score = grader.grade('{"x": 1}', {"case": case, **item})
    assert time.monotonic() - start < WITHIN_S, f"{case} took too long"
    follow_up = grader.grade("next", {"case": "ok"})
    assert (follow_up.value, follow_up.error) == (1.0, None), f"pool broken after {case}: {follow_up}"
    return score


# --- the contract --------------------------------------------------------------------------


def test_sample_is_the_hosted_dict_and_item_the_row(sandboxed: PythonGrader) -> None:
    assert sandboxed.grade('{"x": 2}', {"case": "echo", "tags": ["a", "b"]}).value == 4.0
    assert sandboxed.grade("not json", {"case": "keys"}).value == 1.0


def test_image_tag_is_recorded_and_workers_start_lazily() -> None:
    with PythonGrader({"type": "python", "source": CASES, "image_tag": "alpha"}, workers=1) as grader:
        assert grader.isolation == {}  # compiled, nothing started
        score = grader.grade("x", {"case": "ok"})
        assert score.details["image_tag"] == "alpha"
        assert grader.isolation


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("nan", "nan"),
        ("huge_int", "too large"),
        ("huge_float", "beyond"),
        ("text", "not str"),
        ("sys_exit", "SystemExit"),
        ("missing_package", "No module named 'rftkit_no_such_package'"),
        ("no_such_case", "ValueError: unknown case"),
    ],
)
def test_bad_returns_and_exceptions_score_0_with_runtime_error(
    sandboxed: PythonGrader, case: str, fragment: str
) -> None:
    score = grade_case(sandboxed, case)
    assert score.value == 0.0 and score.error is not None
    assert score.error.kind == RUNTIME
    assert fragment in score.error.message


def test_runtime_error_carries_the_traceback_of_user_code(sandboxed: PythonGrader) -> None:
    score = grade_case(sandboxed, "no_such_case")
    assert 'File "<grader>"' in score.details["traceback"]
    assert "raise ValueError" in score.details["traceback"]


def test_packages_of_the_hosted_image_import(sandboxed: PythonGrader) -> None:
    assert grade_case(sandboxed, "numpy").value == 0.5


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("x = 1\n", "no top-level function 'grade'"),
        ("def grade(sample):\n    return 1.0\n", "two positional arguments"),
        ("def grade(sample, item, extra):\n    return 1.0\n", "two positional arguments"),
        ("async def grade(sample, item):\n    return 1.0\n", "not async"),
        ("class A:\n    def grade(self, sample, item):\n        return 1.0\n", "no top-level function"),
        ("def grade(sample, item)\n    return 1.0\n", "not valid Python"),
        ("# pad\n" * 50_000 + "def grade(s, i):\n    return 1.0\n", "over the 262144-byte limit"),
    ],
    ids=["no_grade", "one_arg", "three_args", "async", "method", "syntax_error", "too_large"],
)
def test_bad_source_is_a_spec_error_at_compile_time(source: str, reason: str) -> None:
    with pytest.raises(SpecError, match=reason) as info:
        compile_spec({"type": "python", "name": "p", "source": source})
    assert info.value.path == ("source",)


def test_compiling_never_runs_the_source(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    source = f"open({str(marker)!r}, 'w').close()\ndef grade(sample, item, *rest):\n    return 1.0\n"
    grader = compile_spec({"type": "python", "source": source})
    grader.close()
    assert not marker.exists()


# --- bad input: each ends in a defined error score, the pool keeps serving ------------------


def test_infinite_loop_times_out(sandboxed: PythonGrader) -> None:
    score = grade_case(sandboxed, "loop")
    assert score.error is not None and score.error.kind == TIMEOUT and score.value == 0.0


@pytest.mark.slow
def test_loop_that_swallows_the_interrupt_is_killed(sandboxed: PythonGrader) -> None:
    score = grade_case(sandboxed, "stubborn_loop")
    assert score.error is not None and score.error.kind == TIMEOUT
    assert "killed" in score.error.message


def test_fork_bomb_is_refused(sandboxed: PythonGrader) -> None:
    score = grade_case(sandboxed, "fork_bomb")
    assert score.error is not None and score.error.kind == RUNTIME
    assert "PermissionError" in score.error.message or "BlockingIOError" in score.error.message


def test_allocating_10_gb_is_a_memory_error(sandboxed: PythonGrader) -> None:
    score = grade_case(sandboxed, "memory")
    assert score.error is not None and score.error.kind == RUNTIME
    assert "MemoryError" in score.error.message


def test_the_callers_environment_is_invisible(sandboxed: PythonGrader) -> None:
    assert SECRET in os.environ
    score = grade_case(sandboxed, "environ")
    assert (score.value, score.error) == (0.0, None)


def test_attaching_to_another_process_is_refused(sandboxed: PythonGrader) -> None:
    score = grade_case(sandboxed, "ptrace")
    assert score.error is not None and score.error.kind == RUNTIME
    assert "Operation not permitted" in score.error.message or "No such process" in score.error.message


def test_the_working_directory_is_writable(sandboxed: PythonGrader) -> None:
    assert grade_case(sandboxed, "scratch").value == 1.0


def test_writing_outside_the_temp_dir(sandboxed: PythonGrader, tmp_path: Path) -> None:
    target = tmp_path / "escaped.txt"
    score = grade_case(sandboxed, "write", path=str(target))
    if sandboxed.isolation.get("read_only_fs"):
        assert score.error is not None and score.error.kind == RUNTIME
        assert "Read-only file system" in score.error.message
        assert not target.exists()
    else:  # the documented limit of the fallback: the user's own files are writable
        assert target.read_text() == "escaped"


def test_opening_a_socket_reaches_nothing(sandboxed: PythonGrader) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.2)
        score = grade_case(sandboxed, "socket", port=server.getsockname()[1])
        with pytest.raises(TimeoutError):
            server.accept()
    assert score.error is not None and score.error.kind == RUNTIME
    assert "Network is unreachable" in score.error.message or "disabled" in score.error.message


def test_os_exit_is_a_server_error(sandboxed: PythonGrader) -> None:
    score = grade_case(sandboxed, "os_exit")
    assert score.error is not None and score.error.kind == SERVER
    assert "status 3" in score.error.message


def test_megabytes_of_output_are_captured_and_bounded(sandboxed: PythonGrader) -> None:
    score = grade_case(sandboxed, "stdout")
    assert score.value == 0.5 and score.error is None
    assert score.details["stdout"].startswith("xxxx")
    assert len(score.details["stdout"]) < 1_200
    assert score.details["stderr"] == "warning\n"


def test_the_host_process_is_untouched(sandboxed: PythonGrader, tmp_path: Path) -> None:
    cwd, env, pid = os.getcwd(), dict(os.environ), os.getpid()
    for case in ("sys_exit", "os_exit", "write", "loop"):
        grade_case(sandboxed, case, path=str(tmp_path / "x"))
    assert (os.getcwd(), dict(os.environ), os.getpid()) == (cwd, env, pid)


def test_a_batch_with_a_crash_in_the_middle_grades_the_rest() -> None:
    with PythonGrader(CASES_SPEC, limits=SandboxLimits(timeout_s=TIMEOUT_S), workers=1) as grader:
        cases = ["ok", "os_exit", "ok", "loop", "nan", "ok"]
        scores = grader.grade_batch(["x"] * len(cases), [{"case": c} for c in cases])
    kinds = [None if s.error is None else s.error.kind for s in scores]
    assert kinds == [None, SERVER, None, TIMEOUT, RUNTIME, None]


def test_the_portable_fallback_still_guards_network_and_environment(tmp_path: Path) -> None:
    os.environ[SECRET] = "sk-not-a-real-key"
    try:
        limits = SandboxLimits(timeout_s=TIMEOUT_S, confine=False)
        with PythonGrader(CASES_SPEC, limits=limits, workers=1) as grader:
            environ = grader.grade("x", {"case": "environ"})
            sock = grader.grade("x", {"case": "socket", "port": 9})
            loop = grader.grade("x", {"case": "loop"})
            assert grader.isolation["socket_guard"] and not grader.isolation["network_namespace"]
    finally:
        os.environ.pop(SECRET, None)
    assert (environ.value, environ.error) == (0.0, None)
    assert sock.error is not None and "network access is disabled" in sock.error.message
    assert loop.error is not None and loop.error.kind == TIMEOUT


def test_python_grader_wants_a_python_spec() -> None:
    with pytest.raises(SpecError, match="needs a 'python' spec"):
        PythonGrader({"type": "string_check", "input": "a", "reference": "b", "operation": "eq"})
    with pytest.raises(SpecError, match="two positional"):
        PythonGrader({"type": "python", "source": "def grade(x):\n    return 1.0\n"})


@pytest.mark.parametrize("trusted", [False, True], ids=["sandboxed", "trusted"])
def test_a_source_that_fails_to_load_fails_every_call(trusted: bool) -> None:
    source = "import rftkit_no_such_package\ndef grade(sample, item):\n    return 1.0\n"
    with compile_spec({"type": "python", "source": source}, trusted=trusted) as grader:
        scores = grader.grade_batch(["a", "b"])
    for score in scores:
        assert score.error is not None and score.error.kind == RUNTIME
        assert "rftkit_no_such_package" in score.error.message


@pytest.mark.slow
def test_a_worker_retires_before_its_cpu_budget_runs_out_and_nothing_is_lost() -> None:
    # A worker retires once less than timeout + 1 s of its CPU budget is left: here after 0.5 s.
    limits = SandboxLimits(timeout_s=1.5, worker_cpu_s=3)
    with PythonGrader(CASES_SPEC, limits=limits, workers=1) as grader:
        scores = grader.grade_batch(["x"] * 10, [{"case": "spin"}] * 10)
    assert [s.error for s in scores] == [None] * 10
    assert len({s.value for s in scores}) >= 2  # graded by more than one worker, in turn


# --- the pool ------------------------------------------------------------------------------


def calls_by_worker(scores: list[graders.Score]) -> dict[int, list[int]]:
    """The "worker" case's scores: per worker, the call count its module object had reached."""
    assert all(s.error is None for s in scores)
    by_worker: dict[int, list[int]] = {}
    for s in scores:
        by_worker.setdefault(int(s.value), []).append(round((s.value % 1) * 1e6))
    return by_worker


def test_batches_fan_out_and_every_call_gets_a_fresh_module() -> None:
    with PythonGrader(CASES_SPEC, workers=2) as grader:
        by_worker = calls_by_worker(grader.grade_batch(["x"] * 200, [{"case": "worker"}] * 200))
    assert len(by_worker) == 2  # both workers graded
    assert all(calls == [1] * len(calls) for calls in by_worker.values())  # no call saw another's globals


def test_without_fresh_per_call_a_worker_loads_the_source_once() -> None:
    limits = SandboxLimits(fresh_per_call=False)
    with PythonGrader(CASES_SPEC, limits=limits, workers=1) as grader:
        by_worker = calls_by_worker(grader.grade_batch(["x"] * 20, [{"case": "worker"}] * 20))
    assert [sorted(calls) for calls in by_worker.values()] == [list(range(1, 21))]  # one module, counting up


def test_callers_on_several_threads_share_the_pool() -> None:
    results: dict[int, list[float]] = {}
    with PythonGrader(CASES_SPEC, workers=2) as grader:

        def work(n: int) -> None:
            scores = grader.grade_batch([json.dumps({"x": n})] * 20, [{"case": "echo", "tags": []}] * 20)
            results[n] = [s.value for s in scores]

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results == {n: [float(n)] * 20 for n in range(4)}


def test_agrade_batch_keeps_the_event_loop_running() -> None:
    async def main(grader: PythonGrader) -> tuple[list[float], int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        scores = await grader.agrade_batch(["x"] * 3, [{"case": "ok"}, {"case": "loop"}, {"case": "ok"}])
        task.cancel()
        assert isinstance(scores, ScoreBatch) and scores.usage == {}  # like every grader's agrade_batch
        return [s.value for s in scores], ticks

    with PythonGrader(CASES_SPEC, limits=SandboxLimits(timeout_s=1.0), workers=1) as grader:
        values, ticks = asyncio.run(main(grader))
    assert values == [1.0, 0.0, 1.0]
    assert ticks > 10  # the loop ran while the pool waited out the timeout


def test_a_grader_pickles_as_its_settings() -> None:
    limits = SandboxLimits(timeout_s=TIMEOUT_S)
    with PythonGrader(CASES_SPEC, limits=limits, workers=1) as grader:
        grader.grade("x", {"case": "ok"})  # running workers do not travel
        copy = pickle.loads(pickle.dumps(grader))
    with copy:
        assert copy.pool is not None and copy.pool.limits == limits and copy.pool.size == 1
        assert copy.grade('{"x": 1}', {"case": "echo", "tags": []}).value == 1.0
    fn_copy = pickle.loads(pickle.dumps(from_function(exact)))
    assert fn_copy.grade("a", {"answer": "a"}).value == 1.0 and fn_copy.pool is None


def test_a_forked_child_starts_its_own_workers() -> None:
    with PythonGrader(CASES_SPEC, limits=SandboxLimits(timeout_s=TIMEOUT_S), workers=1) as grader:
        parent_worker = int(grader.grade("x", {"case": "worker"}).value)
        with warnings.catch_warnings():  # 3.12+ warns when forking a process that has threads
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child must not talk to its parent's worker
            code = 1
            try:
                code = 0 if int(grader.grade("x", {"case": "worker"}).value) != parent_worker else 3
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert int(grader.grade("x", {"case": "worker"}).value) == parent_worker


def test_close_stops_the_workers_and_later_calls_get_an_error() -> None:
    grader = PythonGrader(CASES_SPEC, workers=2)
    grader.grade_batch(["x"] * 8, [{"case": "ok"}] * 8)
    assert grader.pool is not None
    procs = [w.proc for w in grader.pool._all]
    workdirs = [Path(w.workdir) for w in grader.pool._all]
    assert len(procs) == 2 and all(d.is_dir() for d in workdirs)
    grader.close()
    assert all(p.poll() is not None for p in procs)
    assert not any(d.exists() for d in workdirs)  # temporary working directories removed
    score = grader.grade("x", {"case": "ok"})
    assert score.error is not None and score.error.kind == SERVER
    grader.close()  # idempotent


def test_workers_are_stopped_at_interpreter_exit(tmp_path: Path) -> None:
    script = (
        "import json, sys\n"
        "from graders import PythonGrader\n"
        "g = PythonGrader({'type': 'python', 'source': 'def grade(s, i):\\n    return 1.0\\n'}, workers=2)\n"
        "assert [s.value for s in g.grade_batch(['x'] * 4)] == [1.0] * 4\n"
        "print(json.dumps([[w.proc.pid, w.workdir] for w in g.pool._all]))\n"
    )  # no close(): the interpreter's exit must stop the workers
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    workers = json.loads(out.stdout)
    assert len(workers) == 2
    for pid, workdir in workers:
        assert not Path(workdir).exists()
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


# --- trusted mode --------------------------------------------------------------------------


def test_trusted_mode_runs_in_process_with_the_same_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    source = "import os\ndef grade(sample, item):\n    return float(item['key'] in os.environ)\n"
    monkeypatch.setenv("RFTKIT_TRUSTED_VISIBLE", "1")
    trusted = compile_spec({"type": "python", "source": source}, trusted=True)
    assert trusted.grade("x", {"key": "RFTKIT_TRUSTED_VISIBLE"}).value == 1.0  # in this process: it sees the env
    bad = compile_spec({"type": "python", "source": "def grade(s, i):\n    return float('nan')\n"}, trusted=True)
    score = bad.grade("x")
    assert score.error is not None and score.error.kind == RUNTIME


def exact(sample: dict, item: dict) -> float:
    return float(sample["output_text"] == item["answer"])


def test_from_function_grades_in_process_and_composes_in_multi() -> None:
    fn_grader = from_function(exact, name="exact_fn")
    assert fn_grader.name == "exact_fn"
    assert fn_grader.grade("Paris", {"answer": "Paris"}).value == 1.0
    assert "def exact(" in fn_grader.spec.source  # the spec carries the function's own source
    broken = from_function(lambda sample, item: 1 / 0).grade("x")
    assert broken.error is not None and broken.error.kind == RUNTIME
    assert "ZeroDivisionError" in broken.error.message
    multi = compile_spec(
        {
            "type": "multi",
            "graders": {
                "fn": fn_grader,
                "contains": {
                    "type": "string_check",
                    "input": "{{sample.output_text}}",
                    "reference": "ar",
                    "operation": "like",
                },
            },
            "calculate_output": "0.5 * fn + 0.5 * contains",
        }
    )
    assert multi.grade("Paris", {"answer": "Paris"}).value == 1.0
    assert multi.grade("Parma", {"answer": "Paris"}).value == 0.5


def test_the_function_source_round_trips_as_a_sandboxed_spec() -> None:
    spec = from_function(exact).spec.to_json()
    with compile_spec(spec) as grader:
        assert grader.grade("Rome", {"answer": "Rome"}).value == 1.0


def test_f1_example_spec() -> None:
    path = Path(__file__).parents[2] / "specs" / "python_f1.json"
    with graders.load_spec(path) as grader:
        scores = grader.grade_batch(
            ['{"pairs": [["a", 1], ["b", 2], ["b", 2]]}', '{"pairs": []}', "not json"],
            [{"pairs": [["a", 1], ["b", 2]]}] * 3,
        )
    assert [round(s.value, 4) for s in scores] == [0.8, 0.0, 0.0]
    assert scores[2].error is None
