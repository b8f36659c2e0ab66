"""A malformed sample is a graded outcome (a Score with error, value 0), never an exception."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from graders import Score, compile_spec, load_spec

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [load_spec(p) for p in sorted((ROOT / "specs").glob("*.json")) if p.name != "grader.schema.json"]
TEXT_METRICS = ["fuzzy_match", "bleu", "gleu", "meteor", "rouge_1", "rouge_l"]
TEXT = [
    compile_spec(
        {
            "type": "text_similarity",
            "input": "{{sample.output_text}}",
            "reference": "{{item.ref}}",
            "evaluation_metric": m,
        }
    )
    for m in TEXT_METRICS
]
FIELDS = compile_spec(
    {
        "type": "field_match",
        "reference": "{{item.expected}}",
        "fields": {"a": {"compare": "fuzzy"}, "b": {"compare": "set"}, "c": {"compare": "numeric"}},
    }
)
GRADERS = [*SHIPPED, *TEXT, FIELDS]
ITEM = {
    "correct_answer": "TSC2",
    "expected": {"a": "x", "b": [1], "c": 2, "name": "Ann"},
    "smiles": "CCO",
    "ref": "the cat sat",
}
HUGE = "gene " * 2_000_000  # 10 MB
DEEP = "[" * 100_000 + "]" * 100_000
BAD_SAMPLES: list[Any] = [
    pytest.param("", id="empty"),
    pytest.param("not json at all", id="not-json"),
    pytest.param('{"genes": ', id="truncated-json"),
    pytest.param('{"genes": 42, "a": {"x": 1}, "b": "s", "c": [1]}', id="wrong-types"),
    pytest.param('{"genes": {"TSC2": 1}}', id="object-instead-of-list"),
    pytest.param("[1, 2, 3]", id="json-array"),
    pytest.param("null", id="json-null"),
    pytest.param(HUGE, id="huge-10MB-text"),
    pytest.param(json.dumps({"genes": ["G"] * 1_000_000, "a": "x" * 5_000_000}), id="huge-json"),
    pytest.param(DEEP, id="deeply-nested-json"),
    pytest.param('{"a": ' * 50_000 + "1" + "}" * 50_000, id="deeply-nested-object"),
    pytest.param({"output_text": None, "output_json": None}, id="mapping-with-nulls"),
    pytest.param({"output_tools": "not a list"}, id="tools-not-a-list"),
    pytest.param({"output_tools": [{"function": None}]}, id="tool-without-function"),
    pytest.param(12345, id="not-a-sample-at-all"),
    pytest.param("\x00\ud800 \U0001f600", id="odd-unicode"),
]


@pytest.mark.parametrize("sample", BAD_SAMPLES)
def test_bad_sample_is_a_score_never_an_exception(sample: Any) -> None:
    for grader in GRADERS:
        score = grader.grade(sample, ITEM)
        assert isinstance(score, Score)
        assert score.error is not None or 0.0 <= score.value <= 1.0
        if score.error is not None:
            assert score.value == 0.0
            assert len(score.error.message) <= 1_000
        json.dumps(score.to_dict())  # always reportable


def test_huge_text_is_refused_by_text_similarity() -> None:
    score = TEXT[0].grade(HUGE, ITEM)
    assert score.error is not None and score.error.kind == "input_too_long"
    assert "50000-character limit" in score.error.message


def test_batch_keeps_going_past_bad_samples() -> None:
    grader = SHIPPED[[g.name for g in SHIPPED].index("gene_rank")]
    samples: list[Any] = ['{"genes": ["TSC2"]}', "nope", 7, '{"genes": ["X", "TSC2"]}']
    scores = grader.grade_batch(samples, [ITEM] * 4)
    assert [s.value for s in scores] == [1.0, 0.0, 0.0, 0.7]
    assert [s.error.kind if s.error else None for s in scores] == [None, "sample_parse_error", "other_error", None]


def test_batch_length_mismatch_is_a_usage_error() -> None:
    with pytest.raises(ValueError, match="2 samples but 1 items"):
        SHIPPED[0].grade_batch(["a", "b"], [ITEM])


@pytest.mark.parametrize(
    "sample",
    [{"choices": 5}, {"choices": {"message": {"content": "x"}}}, {"choices": [{"message": "x"}]},
     {"choices": [{"message": {"content": None, "tool_calls": "x"}}]}],
    ids=["int", "object", "message-not-object", "tool-calls-not-list"],
)
def test_malformed_choices_are_a_sample_parse_error(sample: dict[str, Any]) -> None:
    grader = compile_spec({"type": "string_check", "operation": "eq", "input": "{{sample.output_text}}",
                           "reference": "x"})
    for score in (grader.grade(sample), grader.grade_batch([sample])[0]):
        assert score.error is not None and score.error.kind == "sample_parse_error", score
