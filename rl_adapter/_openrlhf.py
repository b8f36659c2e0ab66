"""OpenRLHF's reward protocol: ``reward_func(queries, prompts, labels)`` and its HTTP twin.

OpenRLHF (``--remote_rm_url``) either loads a Python file and calls its module-level
``reward_func(queries, prompts, labels)`` on a batch, or POSTs ``{"query": [...], "prompts":
[...], "labels": [...]}`` to a URL and reads ``"rewards"`` (and ``"scores"``, ``"extra_logs"``)
from the JSON answer. ``queries`` are prompt + response as one decoded string (special tokens
kept), so the response is what follows the prompt, with trailing end-of-turn markers removed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from graders import Grader, Sample, sub_scores
from rl_adapter._backend import RewardBackend, as_backend
from rl_adapter._reward import component_means, to_rewards

# End-of-turn markers of common chat templates, left at the end of a decoded query.
END_MARKERS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "</s>", "<|end|>", "<eos>")
DEFAULT_LABEL_FIELD = "label"


def split_response(query: str, prompt: str) -> str:
    """The response part of an OpenRLHF query (prompt + response), end markers removed."""
    if prompt and query.startswith(prompt):
        response = query[len(prompt) :]
    elif prompt and prompt in query:
        response = query[query.index(prompt) + len(prompt) :]
    else:
        response = query
    stripped = True
    while stripped:
        stripped = False
        response = response.rstrip()
        for marker in END_MARKERS:
            if response.endswith(marker):
                response = response[: -len(marker)]
                stripped = True
    return response


def label_item(label: Any, prompt: str, label_field: str) -> dict[str, Any]:
    """The grader item for one OpenRLHF label.

    A label that is an object (or a string holding a JSON object) gives its keys as item
    fields; any label is also stored under ``label_field`` (``{{item.label}}`` by default).
    """
    item: dict[str, Any] = {}
    parsed = label
    if isinstance(label, str) and label.lstrip().startswith("{"):
        try:
            parsed = json.loads(label)
        except ValueError:
            parsed = label
    if isinstance(parsed, Mapping):
        item.update(parsed)
    item.setdefault(label_field, label)
    item.setdefault("prompt", prompt)
    return item


def openrlhf_rewards(
    backend: RewardBackend,
    queries: Sequence[str],
    prompts: Sequence[str],
    labels: Sequence[Any] | None,
    *,
    label_field: str = DEFAULT_LABEL_FIELD,
    error_value: float = 0.0,
) -> dict[str, Any]:
    """Grades an OpenRLHF batch; returns ``{"rewards", "scores", "extra_logs"}`` as lists.

    ``extra_logs`` holds per-sample ``grader_error`` (1.0 when the sample could not be graded)
    and each ``multi`` sub-score, which OpenRLHF averages into its logs. An abstention (the
    label is unusable) scores ``error_value``: OpenRLHF has no "no reward" value.
    """
    n = len(queries)
    labels = list(labels) if labels is not None else [None] * n
    if len(prompts) != n or len(labels) != n:
        raise ValueError(f"OpenRLHF batch has {n} queries, {len(prompts)} prompts and {len(labels)} labels")
    samples = [Sample(split_response(q, p)) for q, p in zip(queries, prompts, strict=True)]
    items = [label_item(label, p, label_field) for label, p in zip(labels, prompts, strict=True)]
    scores = backend.score(samples, items)
    rewards, _, _ = to_rewards(scores, error_value)
    values = [error_value if r is None else r for r in rewards]
    extra: dict[str, list[float]] = {"grader_error": [0.0 if s.error is None else 1.0 for s in scores]}
    for key in component_means(scores):
        extra[key] = [float(sub_scores(s).get(key, 0.0)) for s in scores]
    return {"rewards": values, "scores": values, "extra_logs": extra}


def openrlhf_reward_func(
    grader: Grader | RewardBackend, *, label_field: str = DEFAULT_LABEL_FIELD, error_value: float = 0.0
) -> Any:
    """Builds OpenRLHF's ``reward_func(queries, prompts, labels)`` over a grader.

    The function returns ``{"rewards": tensor, "scores": tensor, "extra_logs": {name: tensor}}``
    (torch tensors, as OpenRLHF expects). To hand it to OpenRLHF, load it from a file: see
    ``rl_adapter/openrlhf_reward.py``.

    Args:
        grader: A compiled grader or a reward backend.
        label_field: The item field the label is stored under (``{{item.label}}``).
        error_value: The reward of a sample that could not be graded.
    """
    backend = as_backend(grader)

    def reward_func(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any], **kwargs: Any) -> Any:
        import torch

        out = openrlhf_rewards(backend, queries, prompts, labels, label_field=label_field, error_value=error_value)
        return {
            "rewards": torch.tensor(out["rewards"], dtype=torch.float32),
            "scores": torch.tensor(out["scores"], dtype=torch.float32),
            "extra_logs": {k: torch.tensor(v, dtype=torch.float32) for k, v in out["extra_logs"].items()},
        }

    reward_func.__name__ = f"openrlhf_{backend.name}"
    return reward_func
