"""Batch fast paths and caches give exactly the Scores of the general per-sample path."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from graders_cases import load_cases
from hypothesis import given, settings
from hypothesis import strategies as st

from graders import Sample, Template, compile_spec
from graders._kinds import list_rank

LONG = "x" * 1_500  # past MAX_DETAIL_CHARS: details are clipped

# Samples of every shape a batch may hold: plain text, JSON text, mappings, Samples, a non-sample.
SAMPLES: list[Any] = [
    "Paris",
    "paris is nice",
    "",
    LONG,
    '{"name": "Ann", "city": "Paris"}',
    {"output_text": "Paris"},
    Sample.of("Paris"),
    42,
]
# Items with the field as text, as other JSON values, missing, and not a mapping at all.
ITEMS: list[Any] = [
    {"answer": "Paris", "nested": {"a": "Paris"}},
    {"answer": "PARIS", "nested": {"a": 3}},
    {"answer": 42, "nested": {}},
    {"answer": ["Paris"], "nested": {"a": None}},
    {"answer": LONG, "nested": {"a": LONG}},
    {"other": "Paris"},
    ["not", "a", "mapping"],
]
STRING_CHECK_SHAPES = [
    ("{{sample.output_text}}", "{{item.answer}}"),
    ("{{item.answer}}", "{{sample.output_text}}"),
    ("{{sample.output_text}}", "Paris"),
    ("City: {{sample.output_text}}!", "City: {{item.answer}}!"),
    ("{{sample.output_text}}", "{{item.nested.a}}"),
    ("{{sample.output_json.city}}", "{{item.answer}}"),  # reads output_json: no text fast path
]


def _pairs() -> tuple[list[Any], list[Any]]:
    samples = [s for s in SAMPLES for _ in ITEMS]
    items = [i for _ in SAMPLES for i in ITEMS]
    return samples, items


def _assert_batch_matches_grade(grader: Any, samples: list[Any], items: list[Any]) -> None:
    batch = grader.grade_batch(samples, items)
    one = [grader.grade(s, i) for s, i in zip(samples, items, strict=True)]
    assert batch == one
    assert [s.to_dict() for s in batch] == [s.to_dict() for s in one]


@pytest.mark.parametrize("operation", ["eq", "ne", "like", "ilike"])
@pytest.mark.parametrize(("input_", "reference"), STRING_CHECK_SHAPES)
def test_string_check_batch_equals_grade(operation: str, input_: str, reference: str) -> None:
    grader = compile_spec({"type": "string_check", "input": input_, "reference": reference, "operation": operation})
    samples, items = _pairs()
    _assert_batch_matches_grade(grader, samples, items)
    kinds = {s.error.kind for s in grader.grade_batch(samples, items) if s.error is not None}
    # The error cases were exercised, not skipped: a sample that is no sample, a missing field.
    assert "other_error" in kinds
    assert ("invalid_variable_error" in kinds) == ("item." in input_ + reference)


def test_string_check_batch_clips_long_strings_like_grade() -> None:
    grader = compile_spec({"type": "string_check", "input": "{{sample.output_text}}", "reference": "{{item.answer}}",
                           "operation": "eq"})  # fmt: skip
    score = grader.grade_batch([LONG], [{"answer": LONG}])[0]
    assert score.value == 1.0 and score.details["input"].endswith("[500 more characters]")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.text(max_size=8), st.one_of(st.text(max_size=8), st.integers(), st.none())), max_size=20),
    st.sampled_from(["eq", "ne", "like", "ilike"]),
)
def test_string_check_batch_equals_grade_on_any_text(rows: list[tuple[str, Any]], operation: str) -> None:
    grader = compile_spec({"type": "string_check", "input": "{{sample.output_text}}", "reference": "{{item.answer}}",
                           "operation": operation})  # fmt: skip
    _assert_batch_matches_grade(grader, [s for s, _ in rows], [{"answer": a} for _, a in rows])


@pytest.mark.parametrize("case", load_cases("test_template"))
def test_render_text_equals_render(case: dict[str, Any]) -> None:
    template = Template.parse(case["template"])
    sample = Sample.of(case.get("sample", ""))
    item = case.get("item", {})
    if template.render_text is None:  # reads a sample field other than output_text
        assert "{{sample.output_text" not in case["template"].replace(" ", "")
        return
    try:
        expected = template.render(sample, item)
    except Exception:  # noqa: BLE001 - then render_text must fail too
        with pytest.raises(Exception):  # noqa: B017, PT011
            template.render_text(sample.output_text, item)
        return
    assert template.render_text(sample.output_text, item) == expected


def test_list_rank_reference_cache_gives_the_same_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(list_rank, "MAX_CACHED_REFERENCES", 2)  # the cache also starts over here
    grader = compile_spec({"type": "list_rank", "input": "{{sample.output_json.genes}}",
                           "reference": "{{item.answer}}", "decay": "table", "table": [1.0, 0.5]})  # fmt: skip
    refs: list[Any] = ["TSC2", " tsc2 ", '["A", "TSC2"]', "", "[]", ["B", "TSC2"], 7, "TSC2", "B", "TSC2"]
    samples = [json.dumps({"genes": ["B", "TSC2", "7"]}), "not json"] * len(refs)
    items = [{"answer": r} for r in refs for _ in range(2)]
    _assert_batch_matches_grade(grader, samples, items)
    fresh = compile_spec(grader.spec.to_json())
    assert [fresh.grade(s, i) for s, i in zip(samples, items, strict=True)] == grader.grade_batch(samples, items)
    first, second = grader.grade_batch(samples[:1] * 2, items[:1] * 2)
    first.details["reference"].append("mutated")
    assert second.details["reference"] == ["tsc2"]  # each Score owns its details
    assert len(grader._reference_cache) <= 2


@pytest.mark.parametrize("fields", [None, {"a": {"compare": "fuzzy", "threshold": 0.5, "weight": 2},
                                           "b": {"compare": "numeric", "abs_tol": 0.5}, "c": {"compare": "set"},
                                           "x": {"weight": 3}}])  # fmt: skip
def test_field_match_batch_equals_grade(fields: dict[str, Any] | None) -> None:
    spec: dict[str, Any] = {"type": "field_match", "reference": "{{item.expected}}", "pass_threshold": 0.5}
    if fields is not None:
        spec["fields"] = fields
    grader = compile_spec(spec)
    outputs: list[Any] = [{"a": "Ann", "b": "3.2", "c": ["x", 1, True]}, {"a": 5, "x": 1, "y": 2}, {}, [1], "text",
                          {"a": "Ann", "b": 3, "c": "x", **{f"k{i}": i for i in range(60)}}]  # fmt: skip
    expected: list[Any] = [{"a": "Ann", "b": 3, "c": ["x", 1.0]}, {"a": "Anne"}, {}, "not an object"]
    samples = [json.dumps(o) if not isinstance(o, str) else o for o in outputs for _ in expected]
    items = [{"expected": e} for _ in outputs for e in expected]
    _assert_batch_matches_grade(grader, samples, items)


def test_sample_lists_are_made_once_and_settable() -> None:
    sample = Sample("x")
    assert sample.output_tools == [] and sample.choices == []
    sample.output_tools.append({"id": "1"})
    assert sample.output_tools == [{"id": "1"}]
    sample.choices = [{"message": {}}]
    assert sample.choices == [{"message": {}}]
    assert Sample("x", output_tools=[1], choices=[2]).to_dict()["output_tools"] == [1]


def test_multi_parts_path_equals_the_score_path() -> None:
    """grade() combines the children's (value, details, error) parts; agrade() their full Scores."""
    grader = compile_spec({
        "type": "multi", "calculate_output": "(a + 2 * b) / c",
        "graders": {
            "a": {"type": "string_check", "input": "{{sample.output_json.name}}", "reference": "{{item.name}}",
                  "operation": "ilike"},
            "b": {"type": "list_rank", "input": "{{sample.output_json.genes}}", "reference": "{{item.gene}}"},
            "c": {"type": "string_check", "input": "{{sample.output_json.c}}", "reference": "1", "operation": "eq"},
        },
    })  # fmt: skip
    samples = ['{"name": "Ann", "genes": ["X", "Y"], "c": "1"}', '{"name": "ann", "c": "0"}', "not json", "{}",
               '{"name": "Bob", "genes": ["Y"], "c": 1}']  # fmt: skip
    items: list[Any] = [{"name": "ann", "gene": "Y"}, {"name": "Ann", "gene": ""}, {"gene": "Y"}, {}]
    kinds = set()
    for sample in samples:
        for item in items:
            score = grader.grade(sample, item)
            assert score == asyncio.run(grader.agrade(sample, item))
            kinds.add(None if score.error is None else score.error.kind)
    assert {None, "formula_eval_error", "reference_parse_error", "invalid_variable_error"} <= kinds
