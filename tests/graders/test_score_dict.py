"""``Score.from_dict`` is the inverse of ``Score.to_dict``, for every kind's Scores."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from fake_judges import fair_judge
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graders
from graders import ErrorKind, Score, ScoreError, compile_spec
from graders.testing import FakeOpenAIServer, items_for, samples_for, specs

KINDS = sorted(graders.kinds())
JUDGES = {kind for kind in KINDS if "model" in graders.kinds()[kind].spec_model.model_fields}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
errors = st.none() | st.builds(ScoreError, st.sampled_from(list(ErrorKind)), st.text(max_size=40))
scores = st.builds(
    Score,
    st.floats(allow_nan=False, allow_infinity=False),
    st.none() | st.booleans(),
    st.dictionaries(st.text(max_size=8), json_values, max_size=5),
    errors,
)


def _through_json(score: Score) -> Score:
    return Score.from_dict(json.loads(json.dumps(score.to_dict(), allow_nan=False)))


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(scores)
def test_from_dict_inverts_to_dict(score: Score) -> None:
    assert Score.from_dict(score.to_dict()) == score
    back = _through_json(score)
    assert back == score
    assert back.error is None or back.error.kind is score.error.kind  # the member, not a bare str


def test_a_kind_from_outside_the_catalogue_survives_as_its_string() -> None:
    score = Score(0.0, None, {}, ScoreError("judge_timeout", "slow"))
    assert _through_json(score) == score


def test_a_non_finite_value_reads_back_as_nan() -> None:
    data = Score(math.inf).to_dict()
    assert data["value"] is None
    assert math.isnan(Score.from_dict(data).value)


@pytest.mark.parametrize(
    "data",
    [{"value": 1.0, "error": {"message": "no kind"}}, {"value": "high"}, {"value": 1.0, "error": "other_error"}],
    ids=["error-without-kind", "value-not-a-number", "error-not-an-object"],
)
def test_what_is_not_a_score_dict_raises(data: dict[str, Any]) -> None:
    with pytest.raises((KeyError, TypeError, ValueError)):
        Score.from_dict(data)


@pytest.fixture
def judge_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(fair_judge) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("RFTKIT_CACHE", "off")
        yield server


@pytest.mark.parametrize("kind", KINDS)
def test_every_kinds_scores_round_trip(kind: str, request: pytest.FixtureRequest) -> None:
    if kind in JUDGES:
        request.getfixturevalue("judge_server")
    seen_errors: set[str] = set()

    @settings(
        max_examples=3,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(specs(kind), st.data())
    def check(data: dict[str, Any], draw: st.DataObject) -> None:
        with compile_spec(data) as grader:
            item = draw.draw(items_for(grader), label="item")
            outputs = draw.draw(st.lists(samples_for(grader, item), min_size=8, max_size=8), label="outputs")
            items = [item] * len(outputs)
            # Two Scores with errors for every kind: a malformed sample, an item without fields.
            outputs += [{"output_text": "x", "choices": "not a list"}, {"output_text": "x"}]
            items += [item, {}]
            for score in grader.grade_batch(outputs, items):
                if score.error is not None:
                    seen_errors.add(score.error.kind)
                assert Score.from_dict(score.to_dict()) == score
                assert _through_json(score) == score

    check()
    assert ErrorKind.SAMPLE_PARSE_ERROR in seen_errors
