"""``rftkit train``: a local RFT job (GRPO or RLOO through TRL) from a JobConfig.

The run directory gets ``metrics.jsonl`` (one JSON line per step: ``train_reward_mean``, and
``valid_reward_mean`` / ``valid_top@k`` / per-component means / error counts on validation
steps), ``checkpoints/step-N`` (the best by ``valid_reward_mean``), ``report.md`` and
``reward_curve.svg``.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graders import Grader, MissingDependencyError, SpecError, compile_spec, load_spec
from rl_adapter._errors import DataFileError, DatasetMismatchError, JobConfigError
from rl_adapter._job._config import JobConfig
from rl_adapter._job._data import load_rows
from rl_adapter._job._validation import generate, score_predictions
from rl_adapter._reward import check_dataset
from rl_adapter._trl import trl_reward


@dataclass
class Prepared:
    """A job whose config, grader and data were all checked; no model is loaded yet."""

    job: JobConfig
    grader: Grader
    train_rows: list[dict[str, Any]]
    valid_rows: list[dict[str, Any]]
    output_dir: Path


@dataclass
class JobResult:
    """What a finished job reports: the run directory, the metric lines and the best step."""

    output_dir: Path
    metrics: list[dict[str, Any]]
    best: dict[str, Any] | None
    seconds: float
    reward_seconds: float

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (printed by ``rftkit train``)."""
        train = [m["train_reward_mean"] for m in self.metrics if m.get("train_reward_mean") is not None]
        return {
            "output_dir": str(self.output_dir),
            "steps": len(train),
            "train_reward_first": train[0] if train else None,
            "train_reward_last": train[-1] if train else None,
            "best_valid": self.best,
            "seconds": round(self.seconds, 2),
            "reward_share": round(self.reward_seconds / self.seconds, 4) if self.seconds else None,
        }


def prepare(job: JobConfig) -> Prepared:
    """Checks everything that can be checked before a model loads.

    Raises:
        JobConfigError: a bad value, an unreadable grader file, a model path that does not exist,
            a dataset lacking a field the grader reads.
        DataFileError: a bad line in a data file (file and line named).
    """
    grader = _grader(job)
    train_rows = _rows(job, job.training_file, "training_file")
    valid_rows = _rows(job, job.validation_file, "validation_file") if job.validation_file else []
    for rows, key in ((train_rows, "training_file"), (valid_rows, "validation_file")):
        if rows:
            try:
                check_dataset(grader, rows)
            except DatasetMismatchError as exc:
                raise JobConfigError(str(exc), (key,)) from None
    if job.model != "tiny" and not job.path(job.model).is_dir():
        where = str(job.path(job.model))
        raise JobConfigError(f"model directory {where!r} does not exist (or use \"tiny\")", ("model",))
    if job.sft_warmup is not None:
        sft_rows = _rows(job, job.sft_warmup.file, "sft_warmup.file") if job.sft_warmup.file else train_rows
        field_ = job.sft_warmup.completion_field
        if not any(field_ in row for row in sft_rows):
            raise JobConfigError(f"no row has the completion field {field_!r}", ("sft_warmup", "completion_field"))
    return Prepared(job, grader, train_rows, valid_rows, Path(job.output_dir or "runs/job"))


def _grader(job: JobConfig) -> Grader:
    try:
        if isinstance(job.grader, str):
            return load_spec(job.path(job.grader))
        return compile_spec(job.grader)
    except SpecError as exc:
        if isinstance(job.grader, str):
            raise JobConfigError(str(exc), ("grader",)) from None
        raise JobConfigError(exc.reason + exc.hint, ("grader", *exc.path)) from None
    except OSError as exc:
        raise JobConfigError(f"cannot read the grader spec: {exc}", ("grader",)) from None


def _rows(job: JobConfig, name: str | None, key: str) -> list[dict[str, Any]]:
    assert name is not None
    path = job.path(name)
    if not path.is_file():
        raise JobConfigError(f"file {str(path)!r} does not exist", tuple(key.split(".")))
    return load_rows(path)


def _import_rl() -> tuple[Any, Any]:
    try:
        import torch
        import trl
    except ImportError as exc:
        raise MissingDependencyError(exc.name or "trl", "rl", "rftkit train needs torch and trl") from None
    return torch, trl


def run_job(job: JobConfig, *, max_steps: int | None = None) -> JobResult:
    """Runs the RFT job: optional SFT warm-up, then GRPO/RLOO with periodic validation.

    Args:
        job: The validated job config.
        max_steps: Stop after this many steps (overrides the config's ``n_epochs``/``max_steps``).

    Returns:
        The JobResult (also written to the run directory).

    Raises:
        JobConfigError, DataFileError: before any model loads, when the config or data is bad.
        graders.MissingDependencyError: torch or trl is not installed (``pip install 'rftkit[rl]'``).
    """
    start = time.perf_counter()
    prep = prepare(job)
    torch, _ = _import_rl()
    try:
        with warnings.catch_warnings():
            for message in _THIRD_PARTY_WARNINGS:
                warnings.filterwarnings("ignore", message=message)
            return _run(job, prep, torch, start, max_steps)
    finally:
        prep.grader.close()


# Deprecations that TRL itself triggers on every generation step; nothing a job can change.
_THIRD_PARTY_WARNINGS = (r"`is_gradient_checkpointing` is deprecated",)


def _run(job: JobConfig, prep: Prepared, torch: Any, start: float, max_steps: int | None) -> JobResult:
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(key, "1")  # a local job never reaches for the hub
    hp = job.hyperparameters
    cuda = torch.cuda.is_available()
    if not cuda:
        # More than one thread on a small CPU model gives multi-second stalls (see the TRL notes).
        torch.set_num_threads(hp.threads or 1)
    random.seed(hp.seed)
    torch.manual_seed(hp.seed)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    import datasets

    datasets.disable_progress_bars()
    out = prep.output_dir
    out.mkdir(parents=True, exist_ok=True)
    model_dir, tokenizer = _base_model(prep)
    if job.sft_warmup is not None:
        model_dir = _sft_warmup(prep, model_dir, tokenizer, cuda)
    metrics = _rl(prep, model_dir, tokenizer, cuda, max_steps)
    from rl_adapter._job._report import write_report

    best = metrics.best
    result = JobResult(out, metrics.lines, best, time.perf_counter() - start, metrics.reward.stats["seconds"])
    write_report(result, job)
    return result


def _base_model(prep: Prepared) -> tuple[str, Any]:
    """The model as a directory TRL can load by path (a tiny model is built and saved first)."""
    job = prep.job
    if job.model != "tiny":
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(job.path(job.model)), padding_side="left")
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        return str(job.path(job.model)), tokenizer
    from rl_adapter._job._config import TinyModel
    from rl_adapter._job._data import text_of
    from rl_adapter._job._tiny import build_tiny, words_of

    values: list[Any] = []
    for row in prep.train_rows + prep.valid_rows:
        values.append(text_of(row["prompt"]))
        values.extend(v for k, v in row.items() if k != "prompt")
    model, tokenizer = build_tiny(words_of(values), job.tiny_model or TinyModel(), job.hyperparameters.seed)
    # Saved and passed by path: TRL rebuilds a reference model from the path when beta > 0.
    model_dir = prep.output_dir / "base_model"
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    return str(model_dir), tokenizer


def _common_args(prep: Prepared, cuda: bool, lr: float, seed: int) -> dict[str, Any]:
    hp = prep.job.hyperparameters
    bf16 = bool(hp.bf16) if hp.bf16 is not None else False
    if cuda and hp.bf16 is None:
        import torch

        bf16 = torch.cuda.is_bf16_supported()
    args: dict[str, Any] = {
        "learning_rate": lr,
        "seed": seed,
        "use_cpu": not cuda,
        "bf16": bf16,
        "report_to": "none",
        "save_strategy": "no",
        "logging_steps": 1,
        "disable_tqdm": True,
        "lr_scheduler_type": "constant",
    }
    from trl import GRPOConfig

    # transformers 5 renamed gradient_checkpointing; off: it only slows small models down.
    if "activation_checkpointing" in GRPOConfig.__dataclass_fields__:
        args["activation_checkpointing"] = False
    else:
        args["gradient_checkpointing"] = False
    return args


def _sft_warmup(prep: Prepared, model_dir: str, tokenizer: Any, cuda: bool) -> str:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    job = prep.job
    warm = job.sft_warmup
    assert warm is not None
    rows = load_rows(job.path(warm.file)) if warm.file else prep.train_rows
    pairs = [
        {"prompt": r["prompt"], "completion": _joinable(r["prompt"], r[warm.completion_field])}
        for r in rows
        if isinstance(r.get(warm.completion_field), str)
    ]
    if not pairs:
        raise DataFileError(f"no row has a string {warm.completion_field!r} for the SFT warm-up")
    args = _common_args(prep, cuda, warm.learning_rate or job.hyperparameters.lr, job.hyperparameters.seed)
    args.update(
        output_dir=str(prep.output_dir / "sft"),
        num_train_epochs=warm.n_epochs,
        per_device_train_batch_size=warm.batch_size,
    )
    trainer = SFTTrainer(model=model_dir, args=SFTConfig(**args), train_dataset=Dataset.from_list(pairs),
                         processing_class=tokenizer)
    _quiet(trainer)
    trainer.train()
    target = prep.output_dir / "sft_model"
    trainer.save_model(str(target))
    tokenizer.save_pretrained(target)
    return str(target)


def _joinable(prompt: Any, completion: str) -> str:
    """The completion, with a space first where SFT would glue it onto a text prompt's last word."""
    if isinstance(prompt, str) and prompt and not prompt[-1].isspace() and completion[:1] not in ("", " ", "\n"):
        return " " + completion
    return completion


def _quiet(trainer: Any) -> None:
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # metrics.jsonl has every number; keep stdout for the summary


class _Recorder:
    """TrainerCallback pieces: validation every eval_interval steps, metrics.jsonl, best checkpoints."""

    def __init__(self, prep: Prepared, tokenizer: Any, reward: Any) -> None:
        self.prep = prep
        self.tokenizer = tokenizer
        self.reward = reward
        self.lines: list[dict[str, Any]] = []
        self.pending: dict[str, Any] = {}
        self.best: dict[str, Any] | None = None
        self.kept: list[tuple[float, int, Path]] = []
        hp = prep.job.hyperparameters
        self.valid_rows = prep.valid_rows[: hp.eval_samples] if hp.eval_samples else prep.valid_rows
        self.path = prep.output_dir / "metrics.jsonl"
        self.path.write_text("")
        self.last_eval_step = -1

    def validate(self, model: Any, step: int) -> None:
        if not self.valid_rows:
            return
        hp = self.prep.job.hyperparameters
        started = time.perf_counter()
        predictions = generate(
            model,
            self.tokenizer,
            [r["prompt"] for r in self.valid_rows],
            max_new_tokens=hp.max_completion_length,
            greedy=hp.eval_greedy,
            temperature=hp.temperature,
        )
        summary = score_predictions(self.prep.grader, self.valid_rows, predictions)
        summary["valid_seconds"] = round(time.perf_counter() - started, 3)
        self.pending.update(summary)
        self.last_eval_step = step
        value = summary["valid_reward_mean"]
        shown = "n/a" if value is None else f"{value:.3f}"
        print(f"step {step}: valid_reward_mean {shown}", file=sys.stderr, flush=True)
        if value is not None:
            self._keep(model, step, value)

    def _keep(self, model: Any, step: int, value: float) -> None:
        if self.best is None or value > self.best["valid_reward_mean"]:
            self.best = {"step": step, "valid_reward_mean": value}
        keep = self.prep.job.hyperparameters.keep_checkpoints
        if keep == 0 or (len(self.kept) >= keep and value <= min(v for v, _, _ in self.kept)):
            return
        target = self.prep.output_dir / "checkpoints" / f"step-{step}"
        model.save_pretrained(target)
        self.tokenizer.save_pretrained(target)
        self.kept.append((value, step, target))
        self.kept.sort(key=lambda entry: (-entry[0], entry[1]))
        for _, _, path in self.kept[keep:]:
            shutil.rmtree(path, ignore_errors=True)
        del self.kept[keep:]
        if self.best is not None:
            self.best["checkpoint"] = str(self.kept[0][2])

    def write(self, step: int, logs: dict[str, Any]) -> None:
        name = self.reward.__name__
        line: dict[str, Any] = {"step": step}
        reward = logs.get("reward")
        line["train_reward_mean"] = reward if isinstance(reward, int | float) and math.isfinite(reward) else None
        for key, value in logs.items():
            if key.startswith((f"{name}/", "rewards/")):
                line[f"train/{key}"] = value
            elif key in ("loss", "reward_std", "entropy", "step_time", "learning_rate"):
                line[key] = value
        line.update(self.pending)
        self.pending = {}
        self.lines.append(line)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, default=str) + "\n")


@dataclass
class _RunMetrics:
    lines: list[dict[str, Any]]
    best: dict[str, Any] | None
    reward: Any


def _rl(prep: Prepared, model_dir: str, tokenizer: Any, cuda: bool, max_steps: int | None) -> _RunMetrics:
    from datasets import Dataset
    from transformers import TrainerCallback

    job = prep.job
    hp = job.hyperparameters
    reward = trl_reward(prep.grader)
    recorder = _Recorder(prep, tokenizer, reward)

    class Callback(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
            recorder.validate(model, 0)
            if recorder.pending:
                recorder.write(0, {})

        def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
            step = state.global_step
            if step % hp.eval_interval == 0 or step >= state.max_steps:
                recorder.validate(model, step)

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if logs and "reward" in logs:
                recorder.write(state.global_step, dict(logs))

    args = _common_args(prep, cuda, hp.lr, hp.seed)
    args.update(
        output_dir=str(prep.output_dir / "trainer"),
        per_device_train_batch_size=hp.batch_size * hp.num_generations,
        num_generations=hp.num_generations,
        max_completion_length=hp.max_completion_length,
        temperature=hp.temperature,
        num_train_epochs=hp.n_epochs,
        remove_unused_columns=False,
    )
    steps = max_steps or hp.max_steps
    if steps:
        args["max_steps"] = steps
    if hp.beta is not None:
        args["beta"] = hp.beta
    if hp.loss_type is not None:
        args["loss_type"] = hp.loss_type
    dataset = Dataset.from_list(prep.train_rows)
    trainer: Any
    if job.method == "grpo":
        from trl import GRPOConfig, GRPOTrainer

        trainer = GRPOTrainer(
            model=model_dir, reward_funcs=[reward], args=GRPOConfig(**args), train_dataset=dataset,
            processing_class=tokenizer, callbacks=[Callback()],
        )
    else:
        from trl import RLOOConfig, RLOOTrainer

        trainer = RLOOTrainer(
            model=model_dir, reward_funcs=[reward], args=RLOOConfig(**args), train_dataset=dataset,
            processing_class=tokenizer, callbacks=[Callback()],
        )
    _quiet(trainer)
    trainer.train()
    return _RunMetrics(recorder.lines, recorder.best, reward)
