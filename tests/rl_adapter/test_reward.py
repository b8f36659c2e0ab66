"""The framework-neutral reward half: every adapter maps a Score to the same reward."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from graders import ErrorKind, Sample, Score, ScoreError, to_reward
from rl_adapter import MockBackend, RewardBackend, openrlhf_rewards, trl_reward, verl_compute_score

# One Score per kind of outcome, chosen by the output text.
OUTCOMES: dict[str, Score] = {
    "right": Score(1.0, True),
    "half": Score(0.5),
    "unparsed": Score.failure(ErrorKind.SAMPLE_PARSE_ERROR, "not JSON"),
    "partial": Score(
        0.25,
        None,
        {"sub_scores": {"a": 0.5, "b": 0.0}, "sub_errors": {"b": {"kind": "sample_parse_error", "message": ""}}},
        ScoreError(ErrorKind.SAMPLE_PARSE_ERROR, "b: not JSON"),
    ),
    "no_reference": Score.failure(ErrorKind.REFERENCE_PARSE_ERROR, "empty"),
    "nan": Score(math.nan),
}
ERROR_VALUE = -1.0


def _backend() -> MockBackend:
    return MockBackend(lambda sample, item: OUTCOMES[sample.output_text])


def test_trl_verl_and_openrlhf_give_the_rewards_of_to_reward() -> None:
    names = list(OUTCOMES)
    expected = [to_reward(OUTCOMES[name], ERROR_VALUE) for name in names]
    assert expected == [1.0, 0.5, -1.0, 0.25, None, -1.0]
    trl = trl_reward(_backend(), error_value=ERROR_VALUE)(prompts=["q"] * len(names), completions=names)
    assert trl == expected
    # verl and OpenRLHF have no "no reward": an abstention gets the error value there.
    no_none = [ERROR_VALUE if r is None else r for r in expected]
    compute_score = verl_compute_score(_backend(), error_value=ERROR_VALUE)
    assert [compute_score("src", name, "gt")["score"] for name in names] == no_none
    openrlhf = openrlhf_rewards(_backend(), names, [""] * len(names), None, error_value=ERROR_VALUE)
    assert openrlhf["rewards"] == no_none


def test_the_trl_reward_counts_errors_by_kind_and_abstentions() -> None:
    reward = trl_reward(_backend(), error_value=ERROR_VALUE)
    reward(prompts=["q"] * len(OUTCOMES), completions=list(OUTCOMES))
    assert reward.stats["errors"] == {"sample_parse_error": 2, "non_finite_value": 1}
    assert reward.stats["abstained"] == 1


class _ScoreOnly:
    name = "sync"
    item_fields: frozenset[str] = frozenset()
    is_async = False

    def score(self, samples: Sequence[Sample], items: Sequence[Mapping[str, Any]]) -> list[Score]:
        return [Score(1.0) for _ in samples]


def test_a_backend_must_have_ascore() -> None:
    assert not isinstance(_ScoreOnly(), RewardBackend)
    with pytest.raises(TypeError, match="RewardBackend"):
        trl_reward(_ScoreOnly())  # type: ignore[arg-type]


def test_an_async_backend_is_awaited_through_ascore() -> None:
    backend = MockBackend(lambda sample, item: Score(0.5), is_async=True)
    out = trl_reward(backend)(prompts=["q"], completions=["a"])
    assert asyncio.run(out) == [0.5]
    assert len(backend.calls) == 1
