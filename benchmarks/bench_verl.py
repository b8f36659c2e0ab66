"""verl's Ray reward loop with rftkit's ``compute_score`` against verl's built-in GSM8K scorer.

Both run through the same ``RewardLoopManager`` (``naive`` manager, 2 reward workers, local Ray)
on the same 512 GSM8K-style rows (a worked answer ending ``#### N``; half right, some with
thousands commas): verl's default scorer for ``data_source=openai/gsm8k`` (a regex on ``#### N``)
is the baseline; rftkit's is ``specs/gsm8k.json`` (numeric, with answer extraction) loaded from
``rl_adapter/verl_reward.py``. ``ratio`` = rftkit's rows/s over verl's rows/s (1.0: no cost).
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The helpers that build verl's config, a stand-in tokenizer and a rollout batch, shared with the tests.
sys.path.insert(0, str(ROOT / "tests" / "rl_adapter"))

# verl needs transformers < 5.11, so it lives in its own environment (the Makefile builds it).
VENV = ".venv-trainers"
N = 512
REPEATS = 3
WORKERS = 2


def _rows(rng: random.Random) -> tuple[list[dict[str, Any]], list[str]]:
    rows, responses = [], []
    for i in range(N):
        answer = rng.randint(1, 20000)
        given = answer if i % 2 == 0 else answer + rng.randint(1, 9)
        text = f"{given:,}" if i % 4 == 0 else str(given)
        rows.append({"data_source": "openai/gsm8k", "reward_model": {"ground_truth": str(answer)},
                     "extra_info": {"index": i}})
        responses.append(f"She has {rng.randint(1, 99)} apples and buys more . So the total is {text} .\n#### {text}")
    return rows, responses


def _rows_per_s(
    overrides: list[str], rows: list[dict[str, Any]], responses: list[str], tmp: Path
) -> tuple[float, float]:
    """Rows per second of the best of REPEATS batches, and the batch's mean reward (both scorers must agree)."""
    from transformers import AutoTokenizer
    from verl.experimental.reward_loop import RewardLoopManager
    from verl_support import compose, rewards_of, save_tokenizer, verl_batch

    tokenizer_dir = tmp / "tok"
    if not tokenizer_dir.exists():
        save_tokenizer(responses, tokenizer_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    config = compose([*overrides, f"actor_rollout_ref.model.path={tokenizer_dir}", f"reward.num_workers={WORKERS}"])
    loop = RewardLoopManager(config)
    batch = verl_batch(tokenizer, rows, responses)
    loop.compute_rm_score(batch[:8])  # warm the workers
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        output = loop.compute_rm_score(batch)
        best = min(best, time.perf_counter() - start)
    rewards = rewards_of(output, batch)
    import ray

    for worker in loop.reward_loop_workers:
        ray.kill(worker)
    return N / best, sum(rewards) / len(rewards)


def run() -> list[dict]:
    import ray

    import rl_adapter

    rows, responses = _rows(random.Random(0))
    reward_file = Path(rl_adapter.__file__).parent / "verl_reward.py"
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            builtin, builtin_mean = _rows_per_s([], rows, responses, Path(tmp))
            rftkit, rftkit_mean = _rows_per_s([
                f"reward.custom_reward_function.path={reward_file}",
                "reward.custom_reward_function.name=compute_score",
                f"+reward.custom_reward_function.reward_kwargs.grader={ROOT / 'specs' / 'gsm8k.json'}",
                "+reward.custom_reward_function.reward_kwargs.ground_truth_field=answer",
            ], rows, responses, Path(tmp))
    finally:
        ray.shutdown()
    return [{
        "name": "verl_reward_loop_gsm8k",
        "figures": {"rows": N, "reward_workers": WORKERS, "rftkit_rows_per_s": round(rftkit, 1),
                    "verl_builtin_rows_per_s": round(builtin, 1), "rftkit_mean_reward": round(rftkit_mean, 3),
                    "verl_builtin_mean_reward": round(builtin_mean, 3)},
        "baseline": "verl's built-in GSM8K scorer (verl.utils.reward_score.gsm8k) in the same Ray reward loop",
        "ratio": round(rftkit / builtin, 3),
        "goal": "rftkit's grader costs verl's reward loop no more than a few times its regex scorer",
    }]


if __name__ == "__main__":
    import json

    for entry in run():
        print(json.dumps(entry))
