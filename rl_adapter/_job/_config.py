"""The ``rftkit train`` job config, in either of two forms.

The hosted body of ``POST /v1/fine_tuning/jobs``, unchanged, with rftkit's extras (if any) in
one ``rftkit`` object::

    {"model": "tiny", "training_file": "train.jsonl", "validation_file": "valid.jsonl", "seed": 0,
     "method": {"type": "reinforcement", "reinforcement": {
         "grader": {...}, "hyperparameters": {"n_epochs": "auto", "eval_samples": 3}}},
     "rftkit": {"algorithm": "grpo", "hyperparameters": {"max_completion_length": 64}}}

or rftkit's flat format (``examples/tiny_rft/job.json``), where every hyperparameter, hosted or
not, sits in ``hyperparameters``::

    {"model": "tiny", "training_file": "train.jsonl", "validation_file": "valid.jsonl",
     "grader": "grader.json", "method": "grpo",
     "hyperparameters": {"batch_size": 16, "num_generations": 8, "learning_rate": 0.003}}

Relative paths are read relative to the config file. Validation is strict (unknown fields are
errors, with a did-you-mean and the JSON path) and happens before any model loads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from graders import did_you_mean
from rl_adapter._errors import JobConfigError

# The hosted service scales a base learning rate by ``learning_rate_multiplier``; TRL's own
# default for GRPO/RLOO is this base.
BASE_LEARNING_RATE = 1e-6
# Completions per prompt at ``compute_multiplier`` 1 (the GRPO group size): TRL's default.
BASE_GENERATIONS = 8

Auto = Literal["auto"]
# Bounds sit on the number, not on the union with "auto" (pydantic would compare "auto" >= 1).
PositiveInt = Annotated[int, Field(ge=1)]
PositiveFloat = Annotated[float, Field(gt=0)]
# The SDK's ReasoningEffort literal, plus "auto" (leave the chat template's default).
ReasoningEffort = Literal["auto", "default", "none", "minimal", "low", "medium", "high", "xhigh", "max"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HostedHyperparameters(_Strict):
    """The hosted service's RFT hyperparameters; each may be ``"auto"`` (see ``_auto``)."""

    n_epochs: PositiveInt | Auto = "auto"
    batch_size: PositiveInt | Auto = Field(default="auto", description="prompts per optimisation step")
    learning_rate_multiplier: PositiveFloat | Auto = Field(default="auto", description=f"times {BASE_LEARNING_RATE:g}")
    eval_interval: PositiveInt | Auto = Field(default="auto", description="steps between validation runs")
    eval_samples: PositiveInt | Auto = Field(default="auto", description="samples per validation datapoint")
    compute_multiplier: PositiveFloat | Auto = Field(default="auto", description="scales completions per prompt")
    reasoning_effort: ReasoningEffort = "auto"


class ExtraHyperparameters(_Strict):
    """rftkit's own training knobs, which the hosted service does not expose."""

    max_steps: int | None = Field(default=None, ge=1, description="stop after this many steps (wins over n_epochs)")
    num_generations: int | None = Field(
        default=None, ge=2, description=f"completions per prompt before compute_multiplier (default {BASE_GENERATIONS})"
    )
    learning_rate: float | None = Field(default=None, gt=0, description="an absolute rate instead of the multiplier")
    max_completion_length: int = Field(default=256, ge=1)
    temperature: float = Field(default=1.0, gt=0)
    beta: float | None = Field(default=None, ge=0, description="KL coefficient (default: TRL's, 0 for GRPO)")
    loss_type: str | None = None
    eval_greedy: bool | None = Field(
        default=None, description="greedy validation completions (default: when eval_samples is 1)"
    )
    keep_checkpoints: int = Field(default=3, ge=0, description="best checkpoints kept by valid_reward_mean")
    threads: int | None = Field(default=None, ge=1, description="CPU threads (default 1 on CPU: no stalls)")
    bf16: bool | None = Field(default=None, description="bf16 on CUDA (default: when the GPU supports it)")


class Hyperparameters(HostedHyperparameters, ExtraHyperparameters):
    """Every hyperparameter of a job (rftkit's flat job format), and ``seed``.

    ``batch_size`` counts prompts per step; each gets ``num_generations`` completions, so a step
    grades ``batch_size * num_generations``.
    """

    seed: int = 0

    @model_validator(mode="after")
    def _one_learning_rate(self) -> Hyperparameters:
        if self.learning_rate is not None and self.learning_rate_multiplier != "auto":
            raise ValueError("give learning_rate or learning_rate_multiplier, not both")
        return self


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


class Integration(BaseModel):
    """One entry of a hosted body's ``integrations``: ``{"type": "wandb", "wandb": {...}}``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: Literal["wandb"]


class JobConfig(_Strict):
    """One RFT job, in rftkit's flat format (a hosted body is translated into it).

    Attributes:
        model: A local model directory (``save_pretrained`` layout), ``"tiny"``, or a hosted
            model name mapped to a local directory (``resolve_model``).
        training_file: JSONL; each row has ``prompt`` (a string, or a message list) or
            ``messages``, and the reference fields the grader reads.
        validation_file: JSONL like the training file, scored every ``eval_interval`` steps.
        grader: The grader spec (an object) or the path of a spec JSON file.
        method: ``grpo`` or ``rloo``.
        response_format: A chat-style ``{"type": "json_schema", "json_schema": {...}}`` the
            completions must follow (see ``_format``).
        suffix, metadata: Recorded in ``job.json``, as the hosted service does.
        integrations: The hosted body's integrations (Weights & Biases), recorded in ``job.json``
            but not run: the job's numbers are in its run directory.
        output_dir: The run directory (default ``runs/<config file stem>``).
    """

    model: str
    tiny_model: TinyModel | None = None
    training_file: str
    validation_file: str | None = None
    grader: dict[str, Any] | str
    method: Literal["grpo", "rloo"] = "grpo"
    response_format: dict[str, Any] | None = None
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)
    sft_warmup: SFTWarmup | None = None
    suffix: str | None = Field(default=None, max_length=64)
    metadata: dict[str, str] | None = None
    integrations: list[Integration] | None = None
    output_dir: str | None = None
    base_dir: str = Field(default=".", description="relative paths are read from here (the config's folder)")

    def path(self, value: str) -> Path:
        """``value`` resolved against ``base_dir``."""
        p = Path(value)
        return p if p.is_absolute() else Path(self.base_dir) / p


class RftkitOptions(_Strict):
    """rftkit's extras to a hosted job body: everything the hosted service has no field for."""

    algorithm: Literal["grpo", "rloo"] = "grpo"
    tiny_model: TinyModel | None = None
    hyperparameters: ExtraHyperparameters = Field(default_factory=ExtraHyperparameters)
    sft_warmup: SFTWarmup | None = None
    output_dir: str | None = None


class Reinforcement(_Strict):
    """``method.reinforcement`` of a hosted body."""

    grader: dict[str, Any] | str
    response_format: dict[str, Any] | None = None
    hyperparameters: HostedHyperparameters = Field(default_factory=HostedHyperparameters)


class Method(_Strict):
    """``method`` of a hosted body: only reinforcement fine-tuning runs here."""

    type: Literal["reinforcement"]
    reinforcement: Reinforcement


class HostedJob(_Strict):
    """The body of the hosted ``POST /v1/fine_tuning/jobs``, plus rftkit's extras under ``rftkit``."""

    model: str
    training_file: str
    validation_file: str
    seed: int | None = None
    suffix: str | None = Field(default=None, max_length=64)
    metadata: dict[str, str] | None = None
    integrations: list[Integration] | None = None
    method: Method
    rftkit: RftkitOptions = Field(default_factory=RftkitOptions)

    def to_job(self, base_dir: str) -> JobConfig:
        """The same job in rftkit's flat format."""
        rl = self.method.reinforcement
        extras = self.rftkit
        hyper = {
            **rl.hyperparameters.model_dump(exclude_unset=True),
            **extras.hyperparameters.model_dump(exclude_unset=True),
        }
        if self.seed is not None:
            hyper["seed"] = self.seed
        return JobConfig.model_validate({
            "model": self.model, "training_file": self.training_file, "validation_file": self.validation_file,
            "grader": rl.grader, "method": extras.algorithm, "response_format": rl.response_format,
            "hyperparameters": hyper, "suffix": self.suffix, "metadata": self.metadata,
            "integrations": self.integrations,
            "tiny_model": extras.tiny_model, "sft_warmup": extras.sft_warmup, "output_dir": extras.output_dir,
            "base_dir": base_dir,
        })


def is_hosted(data: Any) -> bool:
    """True for a hosted job body (``method`` is an object), False for rftkit's flat format."""
    return isinstance(data, dict) and isinstance(data.get("method"), dict)


def parse_job(data: Any, base_dir: str | Path = ".") -> JobConfig:
    """Validates job JSON (a hosted body or rftkit's flat format) into a JobConfig.

    Raises:
        JobConfigError: the config is invalid; the message names the JSON path.
    """
    if not isinstance(data, dict):
        raise JobConfigError(f"a job config must be a JSON object, not {type(data).__name__}")
    if is_hosted(data):
        try:
            hosted = HostedJob.model_validate(data)
        except ValidationError as exc:
            raise _translate(exc, _HOSTED_MODELS) from None
        try:
            return hosted.to_job(str(base_dir))
        except ValidationError as exc:
            # Only the combined hyperparameters can fail here; name them where the body has them.
            error = _translate(exc, _FLAT_MODELS)
            raise JobConfigError(error.reason, ("method", "reinforcement", *error.path)) from None
    try:
        return JobConfig.model_validate({"base_dir": str(base_dir), **data})
    except ValidationError as exc:
        raise _translate(exc, _FLAT_MODELS) from None


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


# The model behind each object of a config, by its path (list indexes left out): for did-you-mean.
_FLAT_MODELS: dict[tuple[str, ...], type[BaseModel]] = {
    (): JobConfig,
    ("hyperparameters",): Hyperparameters,
    ("sft_warmup",): SFTWarmup,
    ("tiny_model",): TinyModel,
}
_HOSTED_MODELS: dict[tuple[str, ...], type[BaseModel]] = {
    (): HostedJob,
    ("method",): Method,
    ("method", "reinforcement"): Reinforcement,
    ("method", "reinforcement", "hyperparameters"): HostedHyperparameters,
    ("rftkit",): RftkitOptions,
    ("rftkit", "hyperparameters"): ExtraHyperparameters,
    ("rftkit", "sft_warmup"): SFTWarmup,
    ("rftkit", "tiny_model"): TinyModel,
}


def _translate(exc: ValidationError, models: dict[tuple[str, ...], type[BaseModel]]) -> JobConfigError:
    errors = exc.errors(include_url=False)
    # A misspelt field is both unknown and (its right name) missing: the did-you-mean says more.
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    path = tuple(p for p in error["loc"] if isinstance(p, str | int))
    # A union member name ("str", "dict[str,any]", "literal['auto']") is not part of the input's path.
    path = tuple(
        p for p in path
        if not (isinstance(p, str) and ("[" in p or p in {"str", "dict", "int", "float", "bool"}))
    )
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = tuple(str(p) for p in path[:-1] if isinstance(p, str))
        model = models.get(parent, models[()])
        valid = sorted(f for f in model.model_fields if f != "base_dir")
        name = str(path[-1])
        hint = did_you_mean(name, valid)
        if not hint and models is _HOSTED_MODELS and name in ExtraHyperparameters.model_fields:
            hint = "; rftkit's own hyperparameters go in rftkit.hyperparameters"
        return JobConfigError(f"unknown field {name!r}{hint} (valid: {', '.join(valid)})", path)
    if kind == "missing":
        return JobConfigError("missing required field", path)
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    got = repr(error.get("input"))
    got = got if len(got) <= 80 else got[:77] + "..."
    return JobConfigError(f"{message[:1].lower()}{message[1:]} (got {got})", path)
