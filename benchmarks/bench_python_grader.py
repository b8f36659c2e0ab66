"""Throughput of a trivial ``python`` grader: the sandbox pool against the same code in-process.

Baseline: the same source compiled with ``trusted=True`` (in this process, through the same
Grader API). Goal: the sandbox within 5x of it for batches of 256; and 2 workers against 1.
Also the price of per-call isolation (a fresh module and an emptied working directory for every
call, the default) against a pool that loads the source once per worker (``fresh_per_call=False``).
"""

from __future__ import annotations

import time

from graders import SandboxLimits, compile_spec
from graders._kinds.python import PythonGrader, PythonSpec

SOURCE = "def grade(sample, item):\n    return float(sample['output_text'].strip() == item['answer'])\n"
# About a millisecond of pure-Python work per call: enough that the workers, not the host, set the pace.
BUSY_SOURCE = (
    "def grade(sample, item):\n"
    "    work = sum(i * i for i in range(20000))\n"
    "    return float(sample['output_text'].strip() == item['answer']) + 0 * work\n"
)
BATCH = 256
ROUNDS = 10
# Best of several repetitions: on a shared machine the noise is all on the slow side.
REPEATS = 5


def _rate(grader: object, samples: list[str], items: list[dict], rounds: int = ROUNDS) -> float:
    grade_batch = grader.grade_batch  # type: ignore[attr-defined]
    grade_batch(samples, items)  # warm: workers started, source loaded
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(rounds):
            scores = grade_batch(samples, items)
        best = min(best, time.perf_counter() - start)
        assert sum(s.value for s in scores) == BATCH / 2
    return rounds * BATCH / best


def run() -> list[dict]:
    samples = ["Paris", "Rome"] * (BATCH // 2)
    items = [{"answer": "Paris"}] * BATCH
    spec = {"type": "python", "name": "exact", "source": SOURCE}
    in_process = _rate(compile_spec(spec, trusted=True), samples, items)
    rates, busy = {}, {}
    for workers in (1, 2):
        with PythonGrader(PythonSpec(type="python", name="exact", source=SOURCE), workers=workers) as grader:
            rates[workers] = _rate(grader, samples, items)
        if workers == 2:
            spec_once = PythonSpec(type="python", name="exact", source=SOURCE)
            with PythonGrader(spec_once, limits=SandboxLimits(fresh_per_call=False), workers=2) as grader:
                reused = _rate(grader, samples, items)
        with PythonGrader(PythonSpec(type="python", name="busy", source=BUSY_SOURCE), workers=workers) as grader:
            busy[workers] = _rate(grader, samples, items, rounds=1)
    return [
        {
            "name": "python grader: sandbox pool (2 workers) vs in-process, batches of 256",
            "figures": {
                "in_process_grades_per_s": round(in_process),
                "pool_1_worker_grades_per_s": round(rates[1]),
                "pool_2_workers_grades_per_s": round(rates[2]),
            },
            "baseline": "the same source compiled with trusted=True, graded in this process",
            "ratio": round(in_process / rates[2], 2),
            "goal": "<= 5 (sandbox overhead)",
        },
        {
            "name": "python grader: per-call isolation (fresh module and directory) vs one load per worker",
            "figures": {
                "fresh_per_call_grades_per_s": round(rates[2]),
                "load_once_grades_per_s": round(reused),
            },
            "baseline": "the same pool (2 workers) with fresh_per_call=False, as before issue 14",
            "ratio": round(reused / rates[2], 2),
            "goal": "none: the price of no state passing between samples",
        },
        {
            "name": "python grader (trivial): 2 workers vs 1",
            "figures": {"pool_1_worker_grades_per_s": round(rates[1]), "pool_2_workers_grades_per_s": round(rates[2])},
            "baseline": "the same pool with 1 worker",
            "ratio": round(rates[2] / rates[1], 2),
            "goal": "none: a trivial grader is bound by the caller's JSON work, not by the workers",
        },
        {
            "name": "python grader (~1 ms of work per call): 2 workers vs 1",
            "figures": {"pool_1_worker_grades_per_s": round(busy[1]), "pool_2_workers_grades_per_s": round(busy[2])},
            "baseline": "the same pool with 1 worker",
            "ratio": round(busy[2] / busy[1], 2),
            "goal": ">= 1.5 with 2 free cores",
        },
    ]
