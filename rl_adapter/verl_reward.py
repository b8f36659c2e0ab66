"""verl loads this file by path; it grades with the rftkit grader named by the environment.

verl config (Hydra overrides)::

    custom_reward_function.path=$(python -c "import rl_adapter.verl_reward as m; print(m.__file__)")
    custom_reward_function.name=compute_score
    +custom_reward_function.reward_kwargs.grader=specs/gsm8k.json        # or RFTKIT_GRADER=...
    +custom_reward_function.reward_kwargs.ground_truth_field=answer      # or RFTKIT_REFERENCE_FIELD=...

``RFTKIT_REWARD_URL=http://host:8900`` instead of a spec grades through ``rftkit serve``.
"""

from __future__ import annotations

from typing import Any

from rl_adapter._env import backend_from_env, reference_field
from rl_adapter._verl import DEFAULT_GROUND_TRUTH_FIELD, verl_compute_score

__all__ = ["compute_score"]


def compute_score(
    data_source: Any,
    solution_str: str,
    ground_truth: Any,
    extra_info: Any = None,
    *,
    grader: str | None = None,
    url: str | None = None,
    ground_truth_field: str | None = None,
    error_value: float = 0.0,
    **kwargs: Any,
) -> float:
    """verl's ``compute_score``: the rftkit grader's reward for one response.

    The keyword-only arguments come from ``custom_reward_function.reward_kwargs`` and fall back
    to ``RFTKIT_GRADER``, ``RFTKIT_REWARD_URL`` and ``RFTKIT_REFERENCE_FIELD``.
    """
    backend = backend_from_env(grader, url)
    field = ground_truth_field or reference_field(DEFAULT_GROUND_TRUTH_FIELD)
    score_fn = verl_compute_score(backend, ground_truth_field=field, error_value=error_value)
    result: float = score_fn(data_source, solution_str, ground_truth, extra_info)
    return result
