"""The job runner's overhead beyond TRL's own step, on the tiny example job (CPU).

``rftkit train`` wraps TRL's GRPO step with its records (the metrics line, the ``metrics`` event,
the progress line), checkpoint bookkeeping (the kept best checkpoints and the trainer's resumable
checkpoint at each validation step) and validation graded through evalkit (an evalkit run per
validation step). The runner times each part of its own work inside the job (``JobResult.profile``);
the overhead share is their sum over the training loop's wall time. Validation's *generation*
(the model sampling the validation completions) is reported apart: it is model compute that any
validation costs, not bookkeeping.

Cross-check in the same process: a plain TRL ``GRPOTrainer`` on the same saved model and data,
same steps, no callbacks, no validation; ``(job loop - validation generation) / plain loop``.

The reward share is the grader's time (inside TRL's reward call) over the training loop.

``python benchmarks/bench_jobs.py [STEPS]`` prints the entries; ``run_all.py`` collects them.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rl_adapter._job._config import load_job  # noqa: E402
from rl_adapter._job._train import run_job  # noqa: E402

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "tiny_rft" / "job.json"
STEPS = 40
EVAL_INTERVAL = 10
OVERHEAD_PARTS = ("records", "checkpoints", "evalkit", "trainer_checkpoint")


def _plain_trl(model_dir: str, job: Any, resolved: Any, steps: int, out: Path) -> float:
    """The same GRPO steps with TRL alone: the baseline of the cross-check."""
    from datasets import Dataset
    from transformers import PreTrainedTokenizerFast
    from trl import GRPOConfig, GRPOTrainer

    from graders import load_spec
    from rl_adapter import trl_reward
    from rl_adapter._job._data import load_rows

    rows = load_rows(job.path(job.training_file))
    tokenizer = PreTrainedTokenizerFast.from_pretrained(model_dir, padding_side="left")
    hp = job.hyperparameters
    args = GRPOConfig(
        output_dir=str(out), per_device_train_batch_size=resolved["batch_size"] * resolved["num_generations"],
        num_generations=resolved["num_generations"], max_completion_length=hp.max_completion_length,
        learning_rate=resolved["learning_rate"], max_steps=steps, use_cpu=True, report_to="none",
        save_strategy="no", logging_steps=1, disable_tqdm=True, activation_checkpointing=False,
        lr_scheduler_type="constant", seed=resolved["seed"],
    )
    dataset = Dataset.from_list([{"prompt": r["prompt"], "correct_answer": r["correct_answer"]} for r in rows])
    trainer = GRPOTrainer(model=model_dir, reward_funcs=[trl_reward(load_spec(job.path(str(job.grader))))],
                          args=args, train_dataset=dataset, processing_class=tokenizer)
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    began = time.perf_counter()
    trainer.train()
    return time.perf_counter() - began


def run(steps: int = STEPS) -> list[dict[str, Any]]:
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated")
    job = load_job(EXAMPLE)
    hyper = job.hyperparameters.model_copy(update={"eval_interval": EVAL_INTERVAL, "keep_checkpoints": 3})
    job = job.model_copy(update={"hyperparameters": hyper})
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        result = run_job(job, out_dir=out, max_steps=steps)
        profile = result.profile or {}
        loop = profile["train_loop"]
        overhead = sum(profile.get(part, 0.0) for part in OVERHEAD_PARTS)
        resolved = json.loads((out / "job.json").read_text())["method"]["reinforcement"]["hyperparameters"]
        plain = _plain_trl(str(out / "base_model"), job, resolved, steps, Path(tmp) / "plain")
    generation = profile.get("validation_generation", 0.0)
    figures = {
        "steps": steps,
        "validations": steps // EVAL_INTERVAL + 1,
        "step_seconds": round(loop / steps, 4),
        **{f"{part}_seconds": round(profile.get(part, 0.0), 4) for part in OVERHEAD_PARTS},
        "overhead_share": round(overhead / loop, 4),
        "validation_generation_share": round(generation / loop, 4),
        "reward_share": round(profile.get("reward", 0.0) / loop, 4),
        "sampling_share": round(profile.get("sampling", 0.0) / loop, 4),
        "plain_trl_loop_seconds": round(plain, 3),
        "job_loop_seconds": round(loop, 3),
        "job_loop_minus_generation_over_plain_trl": round((loop - generation) / plain, 3),
    }
    return [
        {
            "name": "rftkit train: runner overhead beyond TRL's step (tiny job, CPU)",
            "figures": figures,
            "baseline": "the training loop's wall time (the runner times its own parts inside it)",
            "ratio": figures["overhead_share"],
            "goal": "records + checkpoint bookkeeping + evalkit validation <= 5% of step time",
        },
        {
            "name": "rftkit train: reward share of a step (tiny job, list_rank grader)",
            "figures": {"reward_share": figures["reward_share"], "step_seconds": figures["step_seconds"]},
            "baseline": "the training loop's wall time",
            "ratio": figures["reward_share"],
            "goal": "grading is a small part of a GRPO step",
        },
    ]


if __name__ == "__main__":
    for entry in run(int(sys.argv[1]) if len(sys.argv) > 1 else STEPS):
        print(json.dumps(entry))
