"""The ``rftkit train`` job config: an RFT job in the hosted service's terms, as JSON.

Example (``examples/tiny_rft/job.json``)::

    {"model": "tiny", "training_file": "train.jsonl", "validation_file": "valid.jsonl",
     "grader": "grader.json", "method": "grpo",
     "hyperparameters": {"n_epochs": 1, "batch_size": 16, "num_generations": 8,
                         "learning_rate": 0.003, "eval_interval": 20, "seed": 0}}

Relative paths are read relative to the config file. Validation is strict (unknown fields are
errors, with a did-you-mean) and happens before any model loads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from graders import did_you_mean
from rl_adapter._errors import JobConfigError

# The hosted service scales a base learning rate by ``learning_rate_multiplier``; TRL's own
# default for GRPO/RLOO is this base.
BASE_LEARNING_RATE = 1e-6


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hyperparameters(_Strict):
    """Training hyperparameters. ``batch_size`` counts prompts per step (each gets
    ``num_generations`` completions, so a step grades ``batch_size * num_generations``)."""

    n_epochs: int = Field(default=1, ge=1)
    max_steps: int | None = Field(default=None, ge=1, description="stop after this many steps (wins over n_epochs)")
    batch_size: int = Field(default=8, ge=1, description="prompts per optimisation step")
    num_generations: int = Field(default=8, ge=2, description="completions per prompt (the GRPO group)")
    learning_rate: float | None = Field(default=None, gt=0)
    learning_rate_multiplier: float | None = Field(default=None, gt=0)
    max_completion_length: int = Field(default=256, ge=1)
    temperature: float = Field(default=1.0, gt=0)
    beta: float | None = Field(default=None, ge=0, description="KL coefficient (default: TRL's, 0 for GRPO)")
    loss_type: str | None = None
    eval_interval: int = Field(default=10, ge=1, description="steps between validation runs")
    eval_samples: int | None = Field(default=None, ge=1, description="validation rows scored (default all)")
    eval_greedy: bool = Field(default=True, description="greedy validation completions (else sampled)")
    keep_checkpoints: int = Field(default=1, ge=0, description="best checkpoints kept by valid_reward_mean")
    seed: int = 0
    threads: int | None = Field(default=None, ge=1, description="CPU threads (default 1 on CPU: no stalls)")
    bf16: bool | None = Field(default=None, description="bf16 on CUDA (default: when the GPU supports it)")

    @model_validator(mode="after")
    def _one_learning_rate(self) -> Hyperparameters:
        if self.learning_rate is not None and self.learning_rate_multiplier is not None:
            raise ValueError("give learning_rate or learning_rate_multiplier, not both")
        return self

    @property
    def lr(self) -> float:
        """The learning rate: ``learning_rate``, else the multiplier times BASE_LEARNING_RATE."""
        if self.learning_rate is not None:
            return self.learning_rate
        return (self.learning_rate_multiplier or 1.0) * BASE_LEARNING_RATE


class SFTWarmup(_Strict):
    """ReFT-style warm-up: a few epochs of supervised fine-tuning before RL.

    Rows of ``file`` (default: the training file) need the prompt and ``completion_field``
    (the reasoning + answer to imitate).
    """

    n_epochs: int = Field(default=1, ge=1)
    learning_rate: float | None = Field(default=None, gt=0)
    batch_size: int = Field(default=8, ge=1)
    completion_field: str = "completion"
    file: str | None = None


class TinyModel(_Strict):
    """The size of a ``"model": "tiny"`` model: a random-init Qwen2 with a word-level tokenizer
    built from the data's words (for offline examples, tests and GPU smoke runs)."""

    hidden_size: int = Field(default=64, ge=8)
    intermediate_size: int = Field(default=128, ge=8)
    num_layers: int = Field(default=2, ge=1)
    num_heads: int = Field(default=4, ge=1)
    num_kv_heads: int = Field(default=2, ge=1)

    @model_validator(mode="after")
    def _heads_divide(self) -> TinyModel:
        if self.hidden_size % self.num_heads or self.num_heads % self.num_kv_heads:
            raise ValueError("hidden_size must be a multiple of num_heads, and num_heads of num_kv_heads")
        return self


class JobConfig(_Strict):
    """One RFT job.

    Attributes:
        model: A local model directory (``save_pretrained`` layout), or ``"tiny"``.
        training_file: JSONL; each row has ``prompt`` (a string, or a message list) or
            ``messages``, and the reference fields the grader reads.
        validation_file: JSONL like the training file, scored every ``eval_interval`` steps.
        grader: The grader spec (an object) or the path of a spec JSON file.
        method: ``grpo`` or ``rloo``.
        output_dir: The run directory (default ``runs/<config file stem>``).
    """

    model: str
    tiny_model: TinyModel | None = None
    training_file: str
    validation_file: str | None = None
    grader: dict[str, Any] | str
    method: Literal["grpo", "rloo"] = "grpo"
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)
    sft_warmup: SFTWarmup | None = None
    output_dir: str | None = None
    base_dir: str = Field(default=".", description="relative paths are read from here (the config's folder)")

    def path(self, value: str) -> Path:
        """``value`` resolved against ``base_dir``."""
        p = Path(value)
        return p if p.is_absolute() else Path(self.base_dir) / p


def parse_job(data: Any, base_dir: str | Path = ".") -> JobConfig:
    """Validates job JSON into a JobConfig.

    Raises:
        JobConfigError: the config is invalid; the message names the JSON path.
    """
    if not isinstance(data, dict):
        raise JobConfigError(f"a job config must be a JSON object, not {type(data).__name__}")
    data = {"base_dir": str(base_dir), **data}
    try:
        return JobConfig.model_validate(data)
    except ValidationError as exc:
        raise _translate(exc) from None


def load_job(path: str | Path) -> JobConfig:
    """Reads and validates a job config file (relative paths in it are relative to the file)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise JobConfigError(f"{path} is not valid JSON: {exc}") from None
    config = parse_job(data, base_dir=path.parent)
    if config.output_dir is None:
        config = config.model_copy(update={"output_dir": str(Path("runs") / path.stem)})
    return config


_MODELS: dict[str, type[BaseModel]] = {
    "": JobConfig,
    "hyperparameters": Hyperparameters,
    "sft_warmup": SFTWarmup,
    "tiny_model": TinyModel,
}


def _translate(exc: ValidationError) -> JobConfigError:
    error = exc.errors(include_url=False)[0]
    path = tuple(p for p in error["loc"] if isinstance(p, str | int))
    # A union member name ("str", "dict[str,any]") is not part of the input's path.
    path = tuple(p for p in path if not (isinstance(p, str) and ("[" in p or p in {"str", "dict"})))
    kind = error["type"]
    if kind == "extra_forbidden":
        model = _MODELS.get(str(path[0]) if len(path) > 1 else "", JobConfig)
        valid = sorted(f for f in model.model_fields if f != "base_dir")
        hint = did_you_mean(str(path[-1]), valid)
        return JobConfigError(f"unknown field {str(path[-1])!r}{hint} (valid: {', '.join(valid)})", path)
    if kind == "missing":
        return JobConfigError("missing required field", path)
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    got = repr(error.get("input"))
    got = got if len(got) <= 80 else got[:77] + "..."
    return JobConfigError(f"{message[:1].lower()}{message[1:]} (got {got})", path)
