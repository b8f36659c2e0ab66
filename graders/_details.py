"""What other packages read from a Score: typed accessors for ``details``, and the RL reward.

``details`` is free-form evidence, but a few of its keys are a contract: evaluation metrics read
list_rank's rank and each sample's answer, reward functions read ``multi``'s sub-scores and
sub-errors. Writers (the kinds) and readers (evalkit, rl_adapter) both go through the names
and functions here, so no reader spells a key and a renamed key cannot silently change a reward.
The key strings themselves are part of the serialised Score (run directories, the HTTP reward
service), so tests pin them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar, overload

from graders._errors import ErrorKind
from graders._types import Score, ScoreError

SUB_SCORES = "sub_scores"
"""``multi``: each child's value by its key (what the formula read)."""
SUB_DETAILS = "sub_details"
"""``multi``: each child's details by its key."""
SUB_ERRORS = "sub_errors"
"""``multi``: the error of each child that could not grade, by its key (absent when none)."""
RANK = "rank"
"""``list_rank``: the 1-based position of the first reference in the output list (None: absent)."""
# details keys that hold a sample's final answer, for majority voting; first present wins. A
# normalised value comes before the text it was read from (numeric: "1,800" and "1800.0" are one vote).
ANSWER_KEYS = ("answer", "extracted_value", "extracted", "extracted_answer", "prediction", "parsed", "input")

_T = TypeVar("_T")


def sub_scores(score: Score) -> dict[str, float]:
    """A ``multi`` Score's child values by key (empty for other kinds)."""
    subs = score.details.get(SUB_SCORES)
    return dict(subs) if isinstance(subs, Mapping) else {}


def sub_errors(score: Score) -> dict[str, ScoreError]:
    """A ``multi`` Score's child errors by key (empty when every child graded, or for other kinds)."""
    errors = score.details.get(SUB_ERRORS)
    if not isinstance(errors, Mapping):
        return {}
    # A Score read back from JSON is untrusted: an entry that is not an error is skipped.
    return {
        key: ScoreError.from_dict(error)
        for key, error in errors.items()
        if isinstance(error, Mapping) and isinstance(error.get("kind"), str)
    }


@overload
def rank_of(score: Score) -> int | None: ...


@overload
def rank_of(score: Score, default: _T) -> int | None | _T: ...


def rank_of(score: Score, default: Any = None) -> Any:
    """The rank a ranking grader recorded: an int, or None when the reference is not in the list.

    Inside a ``multi``, the first child that records one. ``default`` when no grader recorded a
    rank (pass a sentinel to tell "not ranked" from "reference absent").

    Example:
        >>> rank_of(Score(0.5, None, {"rank": 2}))
        2
    """
    details = score.details
    if RANK in details:
        return details[RANK]
    subs = details.get(SUB_DETAILS)
    if isinstance(subs, Mapping):
        for sub in subs.values():
            if isinstance(sub, Mapping) and RANK in sub:
                return sub[RANK]
    return default


def answer_of(score: Score) -> str | None:
    """The sample's final answer from ``details`` (as a string), for majority voting; None when absent."""
    for source in _detail_dicts(score.details):
        for key in ANSWER_KEYS:
            value = source.get(key)
            if value is not None:
                return value if isinstance(value, str) else repr(value)
    return None


def _detail_dicts(details: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield details
    subs = details.get(SUB_DETAILS)
    if isinstance(subs, Mapping):
        yield from (sub for sub in subs.values() if isinstance(sub, Mapping))


def to_reward(score: Score, error_value: float = 0.0) -> float | None:
    """The RL reward of a Score: what every trainer adapter and the reward service hand on.

    * an abstention (the *reference* is unusable, ``score.abstained``): None, no gradient;
    * an error: ``error_value``, except a ``multi`` Score whose children erred but whose formula
      still computed: it keeps that partial credit;
    * a value that is NaN or infinite: ``error_value``;
    * otherwise the value.

    Example:
        >>> to_reward(Score.failure(ErrorKind.SAMPLE_PARSE_ERROR), error_value=-1.0)
        -1.0
    """
    error = score.error
    if error is not None:
        if score.abstained:
            return None
        if error.kind == ErrorKind.FORMULA_EVAL_ERROR or SUB_ERRORS not in score.details:
            return error_value
    value = score.value
    return value if math.isfinite(value) else error_value


def without_evidence(score: Score) -> Score:
    """The Score with only what ``to_reward`` and component logs read: a smaller answer to send."""
    details = score.details
    kept = {key: details[key] for key in (SUB_SCORES, SUB_ERRORS) if key in details}
    return Score(score.value, score.passed, kept, score.error)
