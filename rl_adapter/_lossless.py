"""Dataset rows carried to the grader exactly as written, through Arrow-backed datasets.

``datasets.Dataset.from_list`` stores rows as Arrow columns, and Arrow changes free-form values:
a column of ints and floats becomes floats (``{{item.n}}`` renders ``3.0``, not ``3``), objects
with different keys all gain every key as ``None`` (``field_match`` counts them as fields), and a
column mixing types raises ``ArrowTypeError``. So each row travels as one JSON string column,
which Arrow keeps byte for byte, beside the ``prompt`` column TRL needs; the reward decodes it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# The column holding each row as JSON; ``trl_reward`` reads the item from it when present.
ITEM_COLUMN = "rftkit_item"
# The dataset's prompt reaches the function as ``prompts``; graders see it as ``item.prompt``.
PROMPT_FIELD = "prompt"


def prompt_of(row: Mapping[str, Any]) -> Any:
    """The prompt of a row: its ``prompt``, else its ``messages`` less a final assistant turn.

    The hosted layout may end ``messages`` with the reference answer; the prompt is what precedes it.
    """
    if PROMPT_FIELD in row:
        return row[PROMPT_FIELD]
    messages = row.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[-1], Mapping):
        if messages[-1].get("role") == "assistant":
            return messages[:-1]
    return messages


def grading_item(row: Mapping[str, Any]) -> dict[str, Any]:
    """The item a grader sees for a row: the row as written, plus ``prompt`` when it has none."""
    item = dict(row)
    if PROMPT_FIELD not in item:
        item[PROMPT_FIELD] = prompt_of(row)
    return item


def encode_item(row: Mapping[str, Any]) -> str:
    """One row as the JSON string stored in ``ITEM_COLUMN``."""
    try:
        return json.dumps(row, ensure_ascii=False, allow_nan=True)
    except TypeError as exc:
        raise TypeError(f"a dataset row must be JSON data to reach the grader intact: {exc}") from None


def decode_item(value: str) -> dict[str, Any]:
    """The item (``grading_item``) stored in one ``ITEM_COLUMN`` value."""
    row = json.loads(value)
    if not isinstance(row, dict):
        raise TypeError(f"{ITEM_COLUMN} must hold a JSON object per row, not {type(row).__name__}")
    return grading_item(row)


def trl_dataset(rows: Iterable[Mapping[str, Any]], *, prompts: Sequence[Any] | None = None) -> Any:
    """A ``datasets.Dataset`` for TRL that carries every row to the grader unchanged.

    Use it instead of ``Dataset.from_list(rows)``: the dataset has the ``prompt`` column TRL
    generates from and an ``rftkit_item`` column with each row as JSON; ``trl_reward`` grades
    against the decoded row, so ints stay ints, absent keys stay absent and mixed-type fields work.

    Args:
        rows: The rows (JSON data). The prompt is a row's ``prompt``, else its ``messages``
            less a final assistant turn (the hosted layout).
        prompts: The prompts TRL sees instead (e.g. text already rendered by a chat template),
            one per row; the items keep their own fields.

    Returns:
        A ``datasets.Dataset`` with the columns ``prompt`` and ``rftkit_item``.

    Raises:
        TypeError: a row holds a value that is not JSON data.

    Example:
        >>> ds = trl_dataset([{"prompt": "2+2?", "n": 4}, {"prompt": "1.5*2?", "n": 3.0}])  # doctest: +SKIP
        >>> GRPOTrainer(..., reward_funcs=[trl_reward(grader)], train_dataset=ds)         # doctest: +SKIP
    """
    from datasets import Dataset

    rows = list(rows)
    if prompts is None:
        prompts = [prompt_of(row) for row in rows]
    elif len(prompts) != len(rows):
        raise ValueError(f"{len(prompts)} prompts for {len(rows)} rows")
    return Dataset.from_dict({PROMPT_FIELD: list(prompts), ITEM_COLUMN: [encode_item(row) for row in rows]})
