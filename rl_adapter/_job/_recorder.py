"""What a running job records at each step: validation, metrics, events, kept checkpoints, progress.

The trainer callback in ``_train`` calls ``Recorder`` at the start, at the end of each step (the
validation, every ``eval_interval`` steps) and when TRL logs a step's numbers (the metrics line,
the ``metrics`` event, the progress line, the stop on a grader that errs on every sample).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graders import ErrorKind, Grader
from graders.client import Usage
from rl_adapter._job._outputs import REPORTED_FLAGS, JobRecords, hosted_flag, read_jsonl
from rl_adapter._job._validation import generate, score_predictions

if TYPE_CHECKING:
    from rl_adapter._job._auto import Resolved

METRICS_FILE = "metrics.jsonl"
EVALS_DIR = "evals"
CHECKPOINTS_DIR = "checkpoints"
# Steps in a row in which every sample errs on the grader's side before the job stops: one bad
# step can be a judge server restarting; three are a broken grader, and training would learn from zeros.
ERROR_STOP_STEPS = 3
# Kinds that say the *model's* output was bad, not the grader: a new model may fail them all.
MODEL_SIDE_ERRORS = frozenset({ErrorKind.SAMPLE_PARSE_ERROR, ErrorKind.INPUT_TOO_LONG})


@dataclass
class StepClock:
    """Wall time of the phases of the current step (the hosted ``timing.step``)."""

    begin: float = 0.0
    sampling: float = 0.0
    eval: float = 0.0
    full: float | None = None


@dataclass
class Recorder:
    """Records one job's steps into its run directory (see the module docstring)."""

    grader: Grader
    records: JobRecords
    resolved: Resolved
    out: Path
    tokenizer: Any
    reward: Any
    valid_items: list[dict[str, Any]]
    valid_prompts: list[str]
    max_completion_length: int
    temperature: float
    keep: int
    lines: list[dict[str, Any]] = field(default_factory=list)
    pending: dict[str, Any] = field(default_factory=dict)
    clock: StepClock = field(default_factory=StepClock)
    total_steps: int = 0
    failure: str | None = None
    trained_tokens: int | None = None
    # Completions, errors by kind and judge tokens by model counted up to the last step recorded.
    _seen: tuple[int, Counter[str], dict[str, Usage]] = (0, Counter(), {})
    _error_steps: int = 0
    _started: float = field(default_factory=time.perf_counter)
    _first_step: int = 0
    # Seconds of the runner's own work, by part (records, checkpoints, evalkit, validation_generation):
    # what bench_jobs reports as the overhead beyond TRL's step.
    profile: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    _to_keep: tuple[int, float | None] | None = None

    def __post_init__(self) -> None:
        self.lines = read_jsonl(self.out / METRICS_FILE)

    # -- resume ---------------------------------------------------------------------------------
    def rewind(self, step: int) -> None:
        """Forgets everything recorded after ``step``: those steps run again."""
        for checkpoint in self.records.rewind(step):
            shutil.rmtree(checkpoint["fine_tuned_model_checkpoint"], ignore_errors=True)
        self.lines = [line for line in self.lines if line.get("step", 0) <= step]
        (self.out / METRICS_FILE).write_text("".join(json.dumps(line) + "\n" for line in self.lines))
        for run in (self.out / EVALS_DIR).glob("step-*"):
            if int(run.name.removeprefix("step-")) > step:
                shutil.rmtree(run, ignore_errors=True)
        self._first_step = step

    def resume_from(self, step: int, checkpoint: Path | None) -> None:
        """Rewinds to ``step`` and settles the keep decision of its checkpoint.

        A job stopped after the trainer saved a validation step's checkpoint but before it was
        weighed for keeping (``keep_saved``) weighs it now; one already weighed is weighed the
        same way again, as nothing after it is left.
        """
        self.rewind(step)
        line = next((line for line in self.lines if line.get("step") == step), None)
        if checkpoint is None or step == 0 or line is None or "valid_reward_mean" not in line:
            return
        if all(c["step_number"] != step for c in self.records.checkpoints):
            self._to_keep = (step, line["valid_reward_mean"])
            self.keep_saved(checkpoint)

    def start(self, total_steps: int, reward_stats: dict[str, Any]) -> None:
        """Called when training (re)starts."""
        self.total_steps = total_steps
        self._started = time.perf_counter()
        self._seen = (reward_stats["completions"], Counter(reward_stats["errors"]), dict(reward_stats["usage"]))

    # -- validation -----------------------------------------------------------------------------
    def validate(self, model: Any, step: int) -> None:
        """Samples ``eval_samples`` completions per validation row and grades them (an evalkit run)."""
        if not self.valid_items:
            return
        started = time.perf_counter()
        predictions = generate(
            model, self.tokenizer, self.valid_prompts, max_new_tokens=self.max_completion_length,
            greedy=self.resolved.eval_greedy, temperature=self.temperature, samples=self.resolved.eval_samples,
        )
        generated = time.perf_counter()
        self.profile["validation_generation"] += generated - started
        run = self.out / EVALS_DIR / f"step-{step}"
        summary = score_predictions(self.grader, self.valid_items, predictions, out=run)
        self.clock.eval = time.perf_counter() - started
        self.profile["evalkit"] += time.perf_counter() - generated
        summary["valid_seconds"] = round(self.clock.eval, 3)
        self.pending.update(summary)
        if step > 0:  # step 0 is the base model, not a checkpoint of this job
            self._to_keep = (step, summary["valid_reward_mean"])

    def keep_saved(self, saved: Path) -> None:
        """After the trainer saved its checkpoint of a validation step: keep the model if among the best.

        The kept model's files are hard links to the trainer checkpoint's (no second save), so
        they stay when the trainer rotates its checkpoint away.
        """
        if self._to_keep is None:
            return
        step, value = self._to_keep
        self._to_keep = None
        if value is None:
            return
        began = time.perf_counter()
        kept = [c for c in self.records.checkpoints if c["step_number"] != step]
        worst = min((c["metrics"]["valid_reward_mean"] for c in kept), default=math.inf)
        if self.keep > 0 and (len(kept) < self.keep or value > worst):
            target = self.out / CHECKPOINTS_DIR / f"step-{step}"
            _link_model(saved, target)
            kept.append(self.records.checkpoint(step, target.resolve(), {"valid_reward_mean": value}))
            kept.sort(key=lambda c: (-c["metrics"]["valid_reward_mean"], c["step_number"]))
            for dropped in kept[self.keep :]:
                shutil.rmtree(dropped["fine_tuned_model_checkpoint"], ignore_errors=True)
            self.records.save_checkpoints(kept[: self.keep])
            self.records.event(f"Checkpoint created at step {step}", step=step)
        self.profile["checkpoints"] += time.perf_counter() - began

    @property
    def best(self) -> dict[str, Any] | None:
        """The kept checkpoint with the best ``valid_reward_mean``."""
        if not self.records.checkpoints:
            return None
        top = max(self.records.checkpoints, key=lambda c: (c["metrics"]["valid_reward_mean"], -c["step_number"]))
        return {"step": top["step_number"], "valid_reward_mean": top["metrics"]["valid_reward_mean"],
                "checkpoint": top["fine_tuned_model_checkpoint"]}

    # -- one step's numbers ---------------------------------------------------------------------
    def write(self, step: int, logs: dict[str, Any], reward_stats: dict[str, Any]) -> bool:
        """Records a step's numbers; returns True when the job must stop (``failure`` says why)."""
        began = time.perf_counter()
        line = self._line(step, logs)
        errors, completions, usage = self._since(reward_stats)
        self._check_errors(errors, completions)
        if isinstance(logs.get("num_tokens"), int | float):
            self.trained_tokens = int(logs["num_tokens"])
        self.lines.append(line)
        with (self.out / METRICS_FILE).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, default=str) + "\n")
        data = self._metrics_data(step, line, logs, errors, completions, usage)
        self.records.event(_message(step, self.total_steps, line), step=step, kind="metrics", data=data)
        self._progress(step, line)
        self.clock = StepClock()
        self.profile["records"] += time.perf_counter() - began
        return self.failure is not None

    def _line(self, step: int, logs: dict[str, Any]) -> dict[str, Any]:
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
        return line

    def _since(self, stats: dict[str, Any]) -> tuple[Counter[str], int, dict[str, Usage]]:
        """This step's errors by kind, completions graded, and judge tokens by model."""
        seen_completions, seen_errors, seen_usage = self._seen
        errors = Counter(stats["errors"])
        errors.subtract(seen_errors)
        usage = {model: total - seen_usage.get(model, Usage()) for model, total in stats["usage"].items()}
        self._seen = (stats["completions"], Counter(stats["errors"]), dict(stats["usage"]))
        return +errors, stats["completions"] - seen_completions, {m: u for m, u in usage.items() if u.calls}

    def _check_errors(self, errors: Counter[str], completions: int) -> None:
        grader_side = sum(n for kind, n in errors.items() if kind not in MODEL_SIDE_ERRORS)
        self._error_steps = self._error_steps + 1 if completions and grader_side >= completions else 0
        if self._error_steps >= ERROR_STOP_STEPS:
            kinds = ", ".join(f"{kind} {n}" for kind, n in errors.most_common())
            self.failure = (
                f"grader {self.grader.name!r} erred on every sample for {ERROR_STOP_STEPS} steps in a row "
                f"(last step: {kinds} of {completions}); the job stopped instead of training on zeros. "
                "Grade one row with `rftkit grade` to see the error"
            )

    def _metrics_data(
        self, step: int, line: dict[str, Any], logs: dict[str, Any], errors: Counter[str], completions: int,
        usage: dict[str, Usage],
    ) -> dict[str, Any]:
        train, valid = line.get("train_reward_mean"), line.get("valid_reward_mean")
        scores: dict[str, Any] = {"train_reward_mean": train}
        if "valid_reward_mean" in line:
            scores["valid_reward_mean"] = valid
        parts = _parts(self.grader)
        if parts:
            name = self.reward.__name__
            scores["graders"] = [
                {"name": key, "type": kind, "train_reward_mean": line.get(f"train/{name}/{key}"),
                 **({"valid_reward_mean": line.get(f"valid/{key}")} if "valid_reward_mean" in line else {})}
                for key, kind in parts
            ]
        flags: Counter[str] = Counter()
        for kind, n in errors.items():
            flags[hosted_flag(kind)] += n
        grader_errors: dict[str, Any] = {"name": self.grader.name}
        for flag in sorted(set(flags) | set(REPORTED_FLAGS)):
            grader_errors[f"train_{flag}_mean"] = flags[flag] / completions if completions else 0.0
            grader_errors[f"train_{flag}_count"] = flags[flag]
        validated = "valid_reward_mean" in line
        samples = line.get("valid_samples") or 0
        if validated:
            valid_flags: Counter[str] = Counter()
            for kind, n in (line.get("valid_errors") or {}).items():
                valid_flags[hosted_flag(kind)] += n
            for flag in sorted(set(valid_flags) | set(REPORTED_FLAGS)):
                grader_errors[f"valid_{flag}_mean"] = valid_flags[flag] / samples if samples else 0.0
                grader_errors[f"valid_{flag}_count"] = valid_flags[flag]
        # Judge tokens: ``_mean`` per graded sample, ``_count`` the step's total (as errors count samples).
        valid_usage = {model: Usage.from_dict(u) for model, u in (line.get("valid_usage") or {}).items()}
        grader_usage: dict[str, Any] = {"name": self.grader.name}
        splits = [("train", usage, completions)] + ([("valid", valid_usage, samples)] if validated else [])
        for split, per_model, n in splits:
            for kind in ("prompt", "completion"):
                total = sum(getattr(u, f"{kind}_tokens") for u in per_model.values())
                grader_usage[f"{split}_{kind}_tokens_mean"] = total / n if n else 0.0
                grader_usage[f"{split}_{kind}_tokens_count"] = total
        mean_length = logs.get("completions/mean_length")
        clock = self.clock
        full = clock.full if clock.full is not None else 0.0
        data: dict[str, Any] = {
            "total_steps": self.total_steps,
            "train_mean_reward": train,
            "completion_tokens_mean": mean_length,
            "scores": scores,
            "errors": {"graders": [grader_errors]},
            "usage": {
                "samples": {
                    "train_completion_tokens_mean": mean_length,
                    "train_completion_tokens_count": round(mean_length * completions)
                    if isinstance(mean_length, int | float) else None,
                },
                "graders": [grader_usage],
            },
            "model_graders_token_usage": _per_model(usage, valid_usage),
            "timing": {"step": {
                "sampling": round(clock.sampling, 4),
                "training": round(max(0.0, full - clock.sampling - clock.eval), 4),
                "eval": round(clock.eval, 4),
                "full_iteration": round(full, 4),
            }, "graders": [{"name": self.grader.name, "train_execution_latency_mean":
                            (self.reward.stats["seconds"] / max(self.reward.stats["completions"], 1))}]},
        }
        if validated:
            data["full_valid_mean_reward"] = valid
            data["full_valid_mean_parse_error"] = line.get("valid_parse_error_mean")
            data["rftkit"] = {k: v for k, v in line.items() if k.startswith(("valid_top@", "valid_pass@"))}
        return data

    def _progress(self, step: int, line: dict[str, Any]) -> None:
        done = step - self._first_step
        elapsed = time.perf_counter() - self._started
        eta = elapsed / done * (self.total_steps - step) if done > 0 else 0.0
        train, valid = line.get("train_reward_mean"), line.get("valid_reward_mean")
        shown = f"step {step}/{self.total_steps}  train {_fmt(train)}"
        if "valid_reward_mean" in line:
            shown += f"  valid {_fmt(valid)}"
        print(f"{shown}  eta {int(eta) // 60}:{int(eta) % 60:02d}", file=sys.stderr, flush=True)
        if done > 0 and "valid_reward_mean" in line:  # job.json is rewritten at validation steps only
            self.records.save_job(estimated_finish=int(time.time() + eta))


# What a trainer checkpoint holds besides the model: resume state, not part of a kept model.
_TRAINER_STATE_FILES = frozenset({"optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json",
                                  "training_args.bin", "scaler.pt"})


def _link_model(saved: Path, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for path in saved.iterdir():
        if path.is_file() and path.name not in _TRAINER_STATE_FILES:
            try:
                os.link(path, target / path.name)
            except OSError:  # another filesystem, or no hard links there
                shutil.copy2(path, target / path.name)


def _per_model(train: dict[str, Usage], valid: dict[str, Usage]) -> dict[str, dict[str, int]]:
    """The hosted ``model_graders_token_usage``: each judge model's tokens this step, train and eval."""
    table: dict[str, dict[str, int]] = {}
    for split, per_model in (("train", train), ("eval", valid)):
        for model, usage in per_model.items():
            row = table.setdefault(model, {f"{s}_{k}_tokens": 0 for s in ("train", "eval")
                                          for k in ("prompt", "completion", "cached")})
            for kind in ("prompt", "completion", "cached"):
                row[f"{split}_{kind}_tokens"] += getattr(usage, f"{kind}_tokens")
    return table


def _parts(grader: Grader) -> list[tuple[str, str]]:
    """A multi grader's parts as (key, type), for the per-grader scores."""
    graders = getattr(grader.spec, "graders", None)
    if not isinstance(graders, dict):
        return []
    return [(key, str(getattr(spec, "type", ""))) for key, spec in graders.items()]


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _message(step: int, total: int, line: dict[str, Any]) -> str:
    """The hosted service's wording of a metrics event."""
    text = f"Step {step}/{total}, train mean reward={_fmt(line.get('train_reward_mean'))}"
    if "valid_reward_mean" in line:
        text += f", full validation mean reward={_fmt(line.get('valid_reward_mean'))}"
        text += f", full validation mean parse error={line.get('valid_parse_error_mean') or 0.0:.2f}"
    return text
