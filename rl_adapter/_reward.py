"""The framework-neutral half of every reward adapter (TRL, verl, OpenRLHF, the reward service).

Scores become rewards through ``graders.to_reward`` (abstention, error value, partial credit),
counted and logged the same way everywhere; a dataset is checked for the item fields the
grader reads before any training step. The adapters (``_trl``, ``_verl``, ``_openrlhf``) only
translate their trainer's call convention into samples and items.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from graders import ErrorKind, Grader, Score, did_you_mean, sub_scores, to_reward
from rl_adapter._backend import RewardBackend, as_backend
from rl_adapter._errors import DatasetMismatchError
from rl_adapter._lossless import ITEM_COLUMN, PROMPT_FIELD, decode_item


def to_rewards(scores: Sequence[Score], error_value: float) -> tuple[list[float | None], Counter[str], int]:
    """Maps Scores to rewards with ``graders.to_reward``: abstention -> None, error -> ``error_value``.

    Returns the rewards, the error counts by kind and the number of abstentions.
    """
    rewards = [to_reward(score, error_value) for score in scores]
    errors: Counter[str] = Counter()
    abstained = 0
    for score in scores:
        if score.error is None:
            if not math.isfinite(score.value):
                errors[ErrorKind.NON_FINITE_VALUE] += 1
        elif score.abstained:
            abstained += 1
        else:
            errors[score.error.kind] += 1
    return rewards, errors, abstained


def component_means(scores: Sequence[Score]) -> dict[str, float]:
    """Mean of each ``multi`` sub-score over the batch (empty for graders without parts)."""
    sums: dict[str, float] = {}
    counts: Counter[str] = Counter()
    for score in scores:
        for key, value in sub_scores(score).items():
            if isinstance(value, int | float) and math.isfinite(value):
                sums[key] = sums.get(key, 0.0) + float(value)
                counts[key] += 1
    return {key: sums[key] / counts[key] for key in sorted(sums)}


def missing_fields(needed: Iterable[str], columns: Iterable[str]) -> list[str]:
    """The item fields in ``needed`` that no column provides (the prompt always is)."""
    have = set(columns) | {PROMPT_FIELD}
    return sorted(set(needed) - have)


def mismatch_message(name: str, missing: list[str], columns: Iterable[str]) -> str:
    """The DatasetMismatchError message: the missing fields, the closest columns, what to do."""
    cols = sorted(set(columns))
    hints = [f"{field!r}{did_you_mean(field, cols, ' (did you mean {!r}?)')}" for field in missing]
    return (
        f"grader {name!r} reads item field{'s' if len(missing) > 1 else ''} {', '.join(hints)} "
        f"that the dataset does not have (columns: {', '.join(cols) or 'none'}); rename the column or fix the "
        "grader's templates, or every sample would score as invalid_variable_error"
    )


def check_dataset(grader: Grader | RewardBackend, dataset: Any) -> None:
    """Checks that a dataset has every item field the grader's templates read.

    Args:
        grader: A compiled grader or a reward backend (its ``item_fields`` are checked).
        dataset: A ``datasets.Dataset`` (its ``column_names``), a list of row mappings (the
            union of their keys), or an iterable of column names.

    Raises:
        DatasetMismatchError: a field is missing; the message names it, the columns there are,
            and the closest column (``ground_truths`` for ``ground_truth``).

    Example:
        >>> check_dataset(grader, [{"prompt": "2+2?", "answer": "4"}])   # doctest: +SKIP
    """
    backend = as_backend(grader)
    columns = _columns_of(dataset)
    missing = missing_fields(backend.item_fields, columns)
    if missing:
        raise DatasetMismatchError(mismatch_message(backend.name, missing, columns))


def _columns_of(dataset: Any) -> set[str]:
    names = getattr(dataset, "column_names", None)
    if names is not None:
        if ITEM_COLUMN in names:  # a trl_dataset: the fields are the rows' own keys
            return {key for value in dataset[ITEM_COLUMN] for key in decode_item(value)}
        return set(names)
    columns: set[str] = set()
    for entry in dataset:
        if isinstance(entry, Mapping):
            columns |= set(entry)
        else:
            columns.add(str(entry))
    return columns
