"""Rewards inside the RL loop: their share of GRPO step time, and reward-function throughput.

* ``rewards_share_of_grpo_step``: the tiny example (``examples/tiny_rft/job.json``, list_rank)
  trained for 60 steps; seconds inside the reward function over seconds of training steps.
* ``reward_throughput_<kind>``: one ``trl_reward`` call on 1024 completions, in-process, against
  a hand-written reward function doing the same job (the baseline).
* ``serve_overhead_<kind>``: the same 1024 completions graded through an ``rftkit serve`` process
  (uvicorn on 127.0.0.1, ``HttpBackend``) against in-process ``trl_reward``.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from graders import compile_spec, kinds
from rl_adapter import HttpBackend, trl_reward

ROOT = Path(__file__).resolve().parents[1]
N = 1024
# Best of several calls: the shared 2-core CI box adds noise of its own, never speed.
REPEATS = 9
GENES = [f"GENE{i}" for i in range(200)]

LIST_RANK = {
    "type": "list_rank", "name": "gene_rank", "input": "{{sample.output_json.genes}}",
    "reference": "{{item.correct_answer}}", "decay": "table", "table": [1.0, 0.7, 0.4, 0.1],
}
MULTI = {
    "type": "multi", "name": "rank_and_format",
    "graders": {
        "rank": LIST_RANK,
        "first": {"type": "string_check", "name": "first", "operation": "eq",
                  "input": "{{sample.output_json.genes[0]}}", "reference": "{{item.correct_answer}}"},
    },
    "calculate_output": "0.8 * rank + 0.2 * first",
}
NUMERIC = {"type": "numeric", "name": "answer", "input": "{{sample.output_text}}", "reference": "{{item.answer}}"}


def _gene_batch(rng: random.Random) -> tuple[list[str], dict[str, list[Any]]]:
    completions, answers = [], []
    for _ in range(N):
        genes = rng.sample(GENES, 5)
        answer = rng.choice(genes) if rng.random() < 0.7 else rng.choice(GENES)
        completions.append(json.dumps({"genes": genes}))
        answers.append(answer)
    return completions, {"correct_answer": answers}


def _numeric_batch(rng: random.Random) -> tuple[list[str], dict[str, list[Any]]]:
    values = [rng.randint(1, 1000) for _ in range(N)]
    completions = [f"The total is {v:,} apples.\n#### {v if rng.random() < 0.6 else v + 1}" for v in values]
    return completions, {"answer": [str(v) for v in values]}


def _baseline_list_rank(completions: list[str], correct_answer: list[str], **_: Any) -> list[float]:
    table = (1.0, 0.7, 0.4, 0.1)
    out = []
    for text, answer in zip(completions, correct_answer, strict=True):
        try:
            genes = json.loads(text)["genes"]
        except (ValueError, KeyError, TypeError):
            out.append(0.0)
            continue
        seen: list[str] = []
        for gene in genes:
            g = str(gene).strip().casefold()
            if g not in seen:
                seen.append(g)
        rank = seen.index(answer.casefold()) if answer.casefold() in seen else None
        out.append(table[rank] if rank is not None and rank < len(table) else 0.0)
    return out


def _baseline_multi(completions: list[str], correct_answer: list[str], **kw: Any) -> list[float]:
    ranks = _baseline_list_rank(completions, correct_answer)
    firsts = []
    for text, answer in zip(completions, correct_answer, strict=True):
        try:
            firsts.append(1.0 if json.loads(text)["genes"][0] == answer else 0.0)
        except (ValueError, KeyError, TypeError, IndexError):
            firsts.append(0.0)
    return [0.8 * r + 0.2 * f for r, f in zip(ranks, firsts, strict=True)]


def _baseline_numeric(completions: list[str], answer: list[str], **_: Any) -> list[float]:
    out = []
    for text, ref in zip(completions, answer, strict=True):
        tail = text.rsplit("####", 1)[-1].strip().replace(",", "")
        try:
            out.append(1.0 if abs(float(tail) - float(ref)) < 1e-9 else 0.0)
        except ValueError:
            out.append(0.0)
    return out


def _best(fn: Callable[[], Any]) -> float:
    fn()  # warm-up
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


class _Server:
    """A real ``rftkit serve`` process on 127.0.0.1, as users run it (its own process and GIL)."""

    def __init__(self, spec: dict[str, Any], tmp: Path) -> None:
        path = tmp / "spec.json"
        path.write_text(json.dumps(spec))
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        self.url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "rftkit", "serve", str(path), "--port", str(port), "--log-level", "warning"]
        self.proc = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)

    def __enter__(self) -> str:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/health").status_code == 200:
                    return self.url
            except httpx.TransportError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("rftkit serve did not start") from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def _throughput(kind: str, spec: dict[str, Any], batch: Any, baseline: Callable[..., list[float]]) -> list[dict]:
    completions, columns = batch
    prompts = ["q"] * N
    grader = compile_spec(spec)
    reward = trl_reward(grader)
    expected = baseline(completions, **columns)
    got = reward(prompts=prompts, completions=completions, **columns)
    mismatches = sum(1 for a, b in zip(got, expected, strict=True) if a is None or abs(a - b) > 1e-9)
    t_ours = _best(lambda: reward(prompts=prompts, completions=completions, **columns))
    t_base = _best(lambda: baseline(completions, **columns))
    entries = [{
        "name": f"reward_throughput_{kind}",
        "figures": {"completions_per_s": round(N / t_ours), "baseline_completions_per_s": round(N / t_base),
                    "ms_per_1024": round(1000 * t_ours, 2), "mismatches_vs_baseline": mismatches},
        "baseline": "a hand-written Python reward function doing the same scoring, same process",
        "ratio": round(t_ours / t_base, 2),
        "goal": "well under 1 % of a GRPO step (a step of 1024 completions takes seconds)",
    }]
    with tempfile.TemporaryDirectory() as tmp, _Server(spec, Path(tmp)) as url, HttpBackend(url) as backend:
        remote = trl_reward(backend)
        assert remote(prompts=prompts, completions=completions, **columns) == got
        t_http = _best(lambda: remote(prompts=prompts, completions=completions, **columns))
    entries.append({
        "name": f"serve_overhead_{kind}",
        "figures": {"ms_per_1024_http": round(1000 * t_http, 2), "ms_per_1024_in_process": round(1000 * t_ours, 2)},
        "baseline": "the same trl_reward in-process",
        "ratio": round(t_http / t_ours, 2),
        "goal": "<= 2x in-process",
    })
    return entries


def _step_share() -> dict[str, Any]:
    from rl_adapter._job._config import load_job
    from rl_adapter._job._train import run_job

    job = load_job(ROOT / "examples" / "tiny_rft" / "job.json")
    with tempfile.TemporaryDirectory() as tmp:
        result = run_job(job.model_copy(update={"output_dir": tmp}))
    step_seconds = sum(m.get("step_time", 0.0) for m in result.metrics)
    share = result.reward_seconds / step_seconds
    return {
        "name": "rewards_share_of_grpo_step",
        "figures": {"reward_seconds": round(result.reward_seconds, 4), "step_seconds": round(step_seconds, 3),
                    "steps": sum(1 for m in result.metrics if m.get("train_reward_mean") is not None),
                    "completions_per_step": 128, "share_percent": round(100 * share, 3)},
        "baseline": "the GRPO training steps of the same run (TRL's step_time)",
        "ratio": round(share, 5),
        "goal": "<= 0.02 (2 % of step time)",
    }


def run() -> list[dict]:
    rng = random.Random(0)
    entries: list[dict] = []
    entries += _throughput("list_rank", LIST_RANK, _gene_batch(rng), _baseline_list_rank)
    entries += _throughput("multi", MULTI, _gene_batch(rng), _baseline_multi)
    if "numeric" in kinds():
        entries += _throughput("numeric", NUMERIC, _numeric_batch(rng), _baseline_numeric)
    entries.append(_step_share())
    return entries


if __name__ == "__main__":
    for entry in run():
        print(json.dumps(entry))
