"""evalkit's overhead over the grader itself, and its memory, on 1,000,000 synthetic items.

A ``list_rank`` grader scores 20-gene JSON lists (the target at ranks 1..20 or absent). The baseline is the grader's own
``grade_batch`` over the same rows in chunks, keeping its scores (what a hand-written loop
does); evalkit's ``evaluate`` streams the same rows through its id join, batching, per-item
scores and every metric. Both consume the same row generators, in the same process.

Memory: tracemalloc peaks of both at a smaller size, and evaluate's peak minus what its result
holds at the end (the per-item scores), at two sizes: streaming means that difference does not
grow with the number of items.

``python benchmarks/bench_evalkit.py [N]`` prints the entries; ``run_all.py`` collects them.
"""

from __future__ import annotations

import gc
import json
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evalkit import evaluate  # noqa: E402
from graders import Grader, compile_spec  # noqa: E402

ITEMS = 1_000_000
# Memory is traced at these sizes (tracemalloc slows Python down ~2x, so not at 1M).
MEMORY_SIZES = (50_000, 200_000)
CHUNK = 512
REPEATS = 2
SPEC = {
    "type": "list_rank",
    "name": "bench",
    "input": "{{sample.output_json.genes}}",
    "reference": "{{item.answer}}",
    "decay": "reciprocal",
}


TARGET = "TSC2"
# 25 distinct outputs: the target at rank 1..20, or absent (5 of 25). Drawing rows from a pool
# keeps row generation negligible, so the timings compare grading against evalkit, not json.dumps.
_POOL = []
for _rank in range(25):
    _genes = [f"G{_rank * 20 + j}" for j in range(20)]
    if _rank < 20:
        _genes[_rank] = TARGET
    _POOL.append(json.dumps({"genes": _genes}))


def _items(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield {"id": i, "answer": TARGET}


def _predictions(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield {"id": i, "output_text": _POOL[i % 25]}


def _baseline(grader: Grader, n: int) -> list[Any]:
    scores: list[Any] = []
    items, preds = _items(n), _predictions(n)
    while True:
        chunk_items = [item for _, item in zip(range(CHUNK), items, strict=False)]
        if not chunk_items:
            return scores
        chunk_preds = [next(preds) for _ in chunk_items]
        scores.extend(grader.grade_batch(chunk_preds, chunk_items))


def _evalkit(grader: Grader, n: int) -> Any:
    return evaluate(grader, _items(n), _predictions(n), k=(1, 5, 20))


def _timed(fn: Any, *args: Any) -> float:
    """CPU seconds of one call: the machine may be shared, and both sides run on one thread."""
    gc.collect()
    start = time.process_time()
    out = fn(*args)
    elapsed = time.process_time() - start
    if hasattr(out, "metrics"):
        assert out.metrics["n"] == args[1] and abs(out.metrics["top@1"] - 1 / 25) < 1e-9, out.metrics
    del out
    return elapsed


def _traced(fn: Any, *args: Any) -> tuple[int, int]:
    """(peak bytes during fn, bytes still held by its result at the end)."""
    gc.collect()
    tracemalloc.start()
    out = fn(*args)
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del out
    return peak, held


def run(n: int = ITEMS) -> list[dict[str, Any]]:
    grader = compile_spec(SPEC)
    # Interleaved and repeated; the best of each side is its cost without interference.
    base_s = eval_s = float("inf")
    for _ in range(REPEATS):
        base_s = min(base_s, _timed(_baseline, grader, n))
        eval_s = min(eval_s, _timed(_evalkit, grader, n))
    entries = [
        {
            "name": "evalkit.evaluate overhead (list_rank, in memory)",
            "figures": {
                "items": n,
                "evaluate_items_per_s": round(n / eval_s),
                "grade_batch_items_per_s": round(n / base_s),
                "evaluate_s": round(eval_s, 2),
                "grade_batch_s": round(base_s, 2),
                "timing": f"CPU seconds, best of {REPEATS} interleaved runs",
            },
            "baseline": "the same grader's grade_batch over the same rows in chunks of 512, keeping the scores",
            "ratio": round(eval_s / base_s, 3),
            "goal": "<= 1.5 (evaluate time / grade_batch time)",
        }
    ]
    small, large = MEMORY_SIZES
    peaks = {}
    for size in (small, large):
        peaks[size] = (_traced(_evalkit, grader, size), _traced(_baseline, grader, size))
    (e_peak_s, e_held_s), _ = peaks[small]
    (e_peak_l, e_held_l), (b_peak_l, _) = peaks[large]
    entries.append(
        {
            "name": "evalkit.evaluate memory (tracemalloc)",
            "figures": {
                f"evaluate_peak_MB_at_{large}": round(e_peak_l / 1e6, 1),
                f"grade_batch_peak_MB_at_{large}": round(b_peak_l / 1e6, 1),
                "per_item_scores_bytes_per_item": round(e_held_l / large),
                f"peak_minus_scores_MB_at_{small}": round((e_peak_s - e_held_s) / 1e6, 1),
                f"peak_minus_scores_MB_at_{large}": round((e_peak_l - e_held_l) / 1e6, 1),
                f"transient_bytes_per_item_at_{small}": round((e_peak_s - e_held_s) / small),
                f"transient_bytes_per_item_at_{large}": round((e_peak_l - e_held_l) / large),
            },
            "baseline": f"grade_batch keeping its scores, {large} items",
            "ratio": round(e_peak_l / b_peak_l, 3),
            "goal": "no rows held: beyond the per-item scores, only per-item bookkeeping (bytes/item flat in n)",
        }
    )
    return entries


if __name__ == "__main__":
    for entry in run(int(sys.argv[1]) if len(sys.argv) > 1 else ITEMS):
        print(json.dumps(entry))
