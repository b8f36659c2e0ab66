"""``"auto"`` hyperparameters resolved from the data size, by rules a user can predict.

With ``N`` training rows:

* ``batch_size``: ``min(8, N)`` prompts per step;
* ``n_epochs``: enough passes to see about 1,000 rows, ``ceil(1000 / N)``, between 1 and 10;
* ``learning_rate_multiplier``: 1.0, times ``BASE_LEARNING_RATE`` (1e-6, TRL's GRPO default);
  an absolute ``learning_rate`` (rftkit's extra) wins over the multiplier;
* ``eval_interval``: about 10 validations per job, ``ceil(total_steps / 10)``;
* ``eval_samples``: 1 (one greedy completion per validation row; above 1 they are sampled at
  ``temperature``, and the validation reward is their mean);
* ``compute_multiplier``: 1.0; completions per prompt are ``round(num_generations *
  compute_multiplier)``, at least 2 (``num_generations`` defaults to 8);
* ``reasoning_effort``: the chat template's default (``resolve_thinking``).

``total_steps`` is ``max_steps`` when given, else ``n_epochs * ceil(N / batch_size)``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from rl_adapter._job._config import BASE_GENERATIONS, BASE_LEARNING_RATE, Hyperparameters

AUTO_BATCH_SIZE = 8
AUTO_EPOCH_ROWS = 1000  # rows an auto-length job sees: enough steps for a reward curve, cheap on CPU
AUTO_MAX_EPOCHS = 10
AUTO_VALIDATIONS = 10
# Efforts that switch a template's thinking off; any other explicit effort switches it on.
NO_THINKING = frozenset({"none", "minimal"})


@dataclass(frozen=True)
class Resolved:
    """The concrete hyperparameters a job runs with (recorded in ``job.json``)."""

    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float
    learning_rate: float
    eval_interval: int
    eval_samples: int
    compute_multiplier: float
    num_generations: int
    reasoning_effort: str
    eval_greedy: bool
    total_steps: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """The values as JSON."""
        return asdict(self)


def resolve(hp: Hyperparameters, n_train: int) -> Resolved:
    """Resolves every ``"auto"`` in ``hp`` for a training file of ``n_train`` rows."""
    batch = hp.batch_size if isinstance(hp.batch_size, int) else max(1, min(AUTO_BATCH_SIZE, n_train))
    epochs = (
        hp.n_epochs if isinstance(hp.n_epochs, int)
        else min(AUTO_MAX_EPOCHS, max(1, math.ceil(AUTO_EPOCH_ROWS / max(n_train, 1))))
    )
    total = hp.max_steps or epochs * math.ceil(n_train / batch)
    interval = hp.eval_interval if isinstance(hp.eval_interval, int) else max(1, math.ceil(total / AUTO_VALIDATIONS))
    samples = hp.eval_samples if isinstance(hp.eval_samples, int) else 1
    multiplier = 1.0 if hp.learning_rate_multiplier == "auto" else float(hp.learning_rate_multiplier)
    compute = 1.0 if hp.compute_multiplier == "auto" else float(hp.compute_multiplier)
    generations = max(2, round((hp.num_generations or BASE_GENERATIONS) * compute))
    return Resolved(
        n_epochs=epochs,
        batch_size=batch,
        learning_rate_multiplier=multiplier,
        learning_rate=hp.learning_rate or multiplier * BASE_LEARNING_RATE,
        eval_interval=interval,
        eval_samples=samples,
        compute_multiplier=compute,
        num_generations=generations,
        reasoning_effort=hp.reasoning_effort,
        eval_greedy=hp.eval_greedy if hp.eval_greedy is not None else samples == 1,
        total_steps=total,
        seed=hp.seed,
    )


def resolve_thinking(effort: str, chat_template: str | None) -> tuple[dict[str, Any], str]:
    """The chat-template keyword for ``reasoning_effort``, and what was done, for the job record.

    Templates with a thinking switch (Qwen3's ``enable_thinking``) get it: off for ``none`` and
    ``minimal``, on for any other explicit effort. ``auto``/``default`` leave the template's own
    default. Elsewhere the effort is accepted and reported as not applicable.
    """
    if effort in ("auto", "default"):
        return {}, "template default"
    if not chat_template or "enable_thinking" not in chat_template:
        return {}, "not applicable: the chat template has no thinking switch"
    on = effort not in NO_THINKING
    return {"enable_thinking": on}, f"enable_thinking={str(on).lower()}"
