"""Model judges: batch throughput against the ideal, and a cached re-run against the first run.

A fake OpenAI-compatible server (``graders.testing.openai_server``, in its own process so it
does not share the client's interpreter) answers every request after a fixed 100 ms. Grading
N items under a concurrency limit C can take no less than N x 0.1 / C seconds; the ratio
measured/ideal is the overhead of the whole judge path (rendering, the openai client, HTTP,
parsing, the cache). Then the same batch runs again with a fresh grader on the same cache
file: it must make no network call and take a small fraction of the first run.

``client_cpu_ms_per_item`` is this process's CPU per judged item: the ratio at high concurrency
is bounded by it (64 calls per 100 ms leave 1.6 ms each), and on a shared machine
``load_average_1min`` says how much of a core the run actually got.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LATENCY = 0.1
ROUNDS = 10  # N = ROUNDS x C: every run is ROUNDS latencies long at best
CONCURRENCY = (1, 16, 64)
CACHED_RERUN = (16, 64)  # batches run a second time, from the cache

SPEC: dict[str, Any] = {
    "type": "score_model",
    "name": "bench_judge",
    "model": "bench-judge",
    "input": [
        {"role": "system", "content": "Grade the answer against the reference; 0 to 1."},
        {"role": "user", "content": "Reference: {{item.reference}}\nAnswer: {{sample.output_text}}"},
    ],
}


def _start_server() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "graders.testing.openai_server", "--latency", str(LATENCY)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        proc.kill()
        raise RuntimeError(f"fake server did not start: {url!r}")
    return proc, url


def _batch(tag: str, n: int) -> tuple[list[str], list[dict[str, str]]]:
    return [f"answer {tag} {i}" for i in range(n)], [{"reference": f"reference {i}"} for i in range(n)]


def _cpu() -> float:
    return time.process_time()  # this process, every thread: the judge stack's CPU, not the server's


def _run(
    url: str, cache: Path, concurrency: int, samples: list[str], items: list[dict[str, str]]
) -> tuple[float, float]:
    from graders import compile_spec
    from graders.client import configure

    old = configure(max_concurrency=concurrency, cache=cache)
    try:
        with compile_spec({**SPEC, "base_url": url}) as grader:
            warm_samples, warm_items = _batch(f"warm{concurrency}-{time.monotonic()}", concurrency)
            grader.grade_batch(warm_samples, warm_items)  # opens the connections, imports openai
            start, cpu = time.perf_counter(), _cpu()
            scores = grader.grade_batch(samples, items)
            elapsed, cpu = time.perf_counter() - start, _cpu() - cpu
    finally:
        configure(old)
    errors = [s.error for s in scores if s.error is not None]
    if errors:
        raise RuntimeError(f"{len(errors)} judge calls failed, e.g. {errors[0]}")
    return elapsed, cpu


def run() -> list[dict[str, Any]]:
    proc, url = _start_server()
    entries = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for c in CONCURRENCY:
                n = ROUNDS * c
                samples, items = _batch(f"c{c}", n)
                cache = Path(tmp) / f"c{c}.sqlite"
                first, cpu = _run(url, cache, c, samples, items)
                ideal = n * LATENCY / c
                entries.append(
                    {
                        "name": f"score_model batch, concurrency {c}",
                        "figures": {
                            "items": n,
                            "concurrency": c,
                            "seconds": round(first, 3),
                            "ideal_seconds": round(ideal, 3),
                            "items_per_s": round(n / first, 1),
                            "client_cpu_ms_per_item": round(cpu / n * 1000, 3),
                            "load_average_1min": round(os.getloadavg()[0], 2),
                        },
                        "baseline": f"ideal: items x {LATENCY} s server latency / concurrency",
                        "ratio": round(first / ideal, 3),
                        "goal": "<= 1.2",
                    }
                )
                if c in CACHED_RERUN:
                    cached, _ = _run(url, cache, c, samples, items)
                    entries.append(
                        {
                            "name": f"score_model batch, cached re-run of {n} items",
                            "figures": {"items": n, "first_s": round(first, 3), "cached_s": round(cached, 4)},
                            "baseline": f"the first (uncached) run of the same {n} items at concurrency {c}",
                            "ratio": round(cached / first, 4),
                            "goal": "<= 0.02",
                        }
                    )
    finally:
        proc.kill()
        proc.wait()
    return entries


if __name__ == "__main__":
    for entry in run():
        print(entry)
