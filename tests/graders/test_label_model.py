"""label_model end to end: labels, parse errors, majority voting."""

from __future__ import annotations

from typing import Any

import judge_support
import pytest

from graders import compile_spec
from graders.testing.openai_server import FakeOpenAIServer

pytestmark = pytest.mark.usefixtures("isolated_settings")
label_spec = judge_support.label_spec


# --- label_model ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "label", "value"),
    [
        ({"steps": [], "result": "good"}, "good", 1.0),
        ({"steps": [], "result": "bad"}, "bad", 0.0),
        ({"result": " Good. "}, "good", 1.0),
        ("bad", "bad", 0.0),
        ('"good"', "good", 1.0),
    ],
)
def test_label_model_labels(server: FakeOpenAIServer, reply: Any, label: str, value: float) -> None:
    server.reply_fn = lambda request: reply
    with compile_spec(label_spec(server)) as grader:
        score = grader.grade("Paris")
    assert score.error is None and score.details["label"] == label
    assert score.value == value and score.passed is (value == 1.0)
    enum = server.chat_requests[0].body["response_format"]["json_schema"]["schema"]["properties"]["result"]["enum"]
    assert enum == ["good", "bad"]


@pytest.mark.parametrize("reply", [{"result": "excellent"}, {"result": 1}, "It is probably fine", ""])
def test_label_not_in_labels_is_a_parse_error(server: FakeOpenAIServer, reply: Any) -> None:
    server.reply_fn = lambda request: reply
    with compile_spec(label_spec(server)) as grader:
        score = grader.grade("Paris")
    assert score.error is not None and score.error.kind == "model_grader_parse_error"
    assert score.value == 0.0 and score.passed is None


def test_label_majority_and_ties(server: FakeOpenAIServer) -> None:
    server.script({"result": "bad"}, {"result": "good"}, {"result": "bad"})
    with compile_spec(label_spec(server, judge_samples=3)) as grader:
        score = grader.grade("x")
        assert score.details["label"] == "bad" and score.details["votes"] == {"bad": 2, "good": 1}
        assert score.details["agreement"] == pytest.approx(2 / 3)
    server.script({"result": "bad"}, {"result": "good"})
    with compile_spec(label_spec(server, judge_samples=2)) as grader:
        tie = grader.grade("y")
    assert tie.details["label"] == "good" and tie.value == 1.0  # a tie goes to the first label


def test_label_fallback_prompt_names_the_labels_as_json(server: FakeOpenAIServer) -> None:
    server.structured_output = False
    server.reply_fn = lambda request: "After thinking: bad"
    with compile_spec(label_spec(server)) as grader:
        score = grader.grade("Paris")
    assert score.error is not None and score.error.kind == "model_grader_parse_error"
    hint = server.chat_requests[-1].messages[-1]["content"]
    assert '"result": <one of "good", "bad">' in hint and "response_format" not in server.chat_requests[-1].body
