"""verl's reward protocol: ``compute_score(data_source, solution_str, ground_truth, extra_info)``.

verl's reward managers call the function named by ``custom_reward_function.name`` in the file
``custom_reward_function.path`` once per response, by keyword, with the dataset row's
``data_source``, the decoded response, ``reward_model.ground_truth`` and ``extra_info``, plus any
``custom_reward_function.reward_kwargs``; it takes a float (or a dict with ``score``) back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graders import Grader, Sample
from rl_adapter._backend import RewardBackend, as_backend
from rl_adapter._reward import to_rewards

DEFAULT_GROUND_TRUTH_FIELD = "ground_truth"


def verl_item(data_source: Any, ground_truth: Any, extra_info: Any, ground_truth_field: str) -> dict[str, Any]:
    """The grader item for one verl row.

    ``extra_info``'s keys, then ``ground_truth``'s keys when it is an object, become item
    fields; ``ground_truth`` itself is stored under ``ground_truth_field`` and ``data_source``
    under ``data_source``.
    """
    item: dict[str, Any] = {}
    if isinstance(extra_info, Mapping):
        item.update(extra_info)
    if isinstance(ground_truth, Mapping):
        item.update(ground_truth)
    item[ground_truth_field] = ground_truth
    item["data_source"] = data_source
    return item


def verl_compute_score(
    grader: Grader | RewardBackend,
    *,
    ground_truth_field: str = DEFAULT_GROUND_TRUTH_FIELD,
    error_value: float = 0.0,
) -> Any:
    """Builds verl's ``compute_score`` over a grader.

    To hand it to verl, load it from a file: see ``rl_adapter/verl_reward.py``.

    Args:
        grader: A compiled grader or a reward backend.
        ground_truth_field: The item field ``ground_truth`` is stored under
            (``{{item.ground_truth}}`` by default; ``correct_answer`` for the gene example).
        error_value: The score of a response that could not be graded (or whose reference is
            unusable: verl has no "no reward" value).

    Returns:
        ``compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs)
        -> float``.
    """
    backend = as_backend(grader)

    def compute_score(
        data_source: Any, solution_str: str, ground_truth: Any, extra_info: Any = None, **kwargs: Any
    ) -> float:
        item = verl_item(data_source, ground_truth, extra_info, ground_truth_field)
        rewards, _, _ = to_rewards(backend.score([Sample(solution_str or "")], [item]), error_value)
        reward = rewards[0]
        return error_value if reward is None else float(reward)

    compute_score.__name__ = f"verl_{backend.name}"
    return compute_score
