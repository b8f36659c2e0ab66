"""verl loads this file by path; it grades with the rftkit grader named by its reward kwargs.

verl config (Hydra overrides; verl 0.9 reads ``reward.custom_reward_function``, and silently
ignores a top-level ``custom_reward_function``)::

    reward.custom_reward_function.path=$(python -c "import rl_adapter.verl_reward as m; print(m.__file__)")
    reward.custom_reward_function.name=compute_score          # compute_score_async for judge graders
    +reward.custom_reward_function.reward_kwargs.grader=$PWD/specs/gsm8k.json   # or RFTKIT_GRADER=...
    +reward.custom_reward_function.reward_kwargs.ground_truth_field=answer      # or RFTKIT_REFERENCE_FIELD=...

``+reward.custom_reward_function.reward_kwargs.url=http://host:8900`` (or ``RFTKIT_REWARD_URL``)
instead of a spec grades through ``rftkit serve``. See docs/trainers.md.
"""

from __future__ import annotations

from typing import Any

# verl's ``remote`` manager pickles these functions into Ray workers by value, this file not being
# importable there; everything they use lives in importable modules, pickled by reference.
from rl_adapter._verl import VerlResult, configured_scorer

__all__ = ["compute_score", "compute_score_async"]


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
) -> VerlResult:
    """verl's ``compute_score``: ``{"score": reward, "error", "abstained", "error/<kind>", **sub_scores}``.

    The keyword-only arguments come from ``reward.custom_reward_function.reward_kwargs`` and
    fall back to ``RFTKIT_GRADER``, ``RFTKIT_REWARD_URL`` and ``RFTKIT_REFERENCE_FIELD``.
    """
    scorer = configured_scorer(grader, url, ground_truth_field, error_value)
    return scorer(data_source, solution_str, ground_truth, extra_info)


async def compute_score_async(
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
) -> VerlResult:
    """``compute_score`` as a coroutine: verl's ``naive`` manager awaits it (judge graders wait on I/O)."""
    scorer = configured_scorer(grader, url, ground_truth_field, error_value)
    return await scorer.ascore(data_source, solution_str, ground_truth, extra_info)
