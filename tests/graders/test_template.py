"""Templates: paths, rendering of non-string values as JSON, grade-time and compile-time errors."""

from __future__ import annotations

from typing import Any

import pytest
from graders_cases import load_cases

from graders import Sample, SpecError, Template, compile_spec


@pytest.mark.parametrize("case", load_cases("test_template"))
def test_rendering(case: dict[str, Any]) -> None:
    """Each template is also graded through string_check, so errors are checked as Scores."""
    sample, item = case.get("sample", ""), case.get("item", {})
    grader = compile_spec({"type": "string_check", "input": case["template"], "reference": "", "operation": "like"})
    score = grader.grade(sample, item)
    if "error" in case:
        assert score.error is not None and score.error.kind == case["error"]
        assert score.value == 0.0
        return
    assert score.error is None
    template = Template.parse(case["template"])
    assert template.render(Sample.of(sample), item) == case["rendered"]
    if "resolved" in case:
        assert template.resolve(Sample.of(sample), item) == case["resolved"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        pytest.param("{{items.answer}}", "names namespace 'items'; did you mean 'item'?", id="bad-namespace"),
        pytest.param("{{reference.answer}}", "names namespace 'reference'", id="other-namespace"),
        pytest.param("{{sample.output}}", "unknown sample field 'output'", id="unknown-sample-field"),
        pytest.param("{{sample}}", "must name a sample field", id="bare-sample"),
        pytest.param("{{}}", "empty or malformed template variable", id="empty"),
        pytest.param("{{item.a b}}", "cannot parse template", id="space-in-path"),
        pytest.param("{{item.answer", "unclosed '{{'", id="unclosed"),
        pytest.param("{{item.xs[one]}}", "cannot parse template", id="bad-index"),
    ],
)
def test_bad_template_is_a_spec_error_at_its_field(source: str, message: str) -> None:
    spec = {"type": "string_check", "input": "{{sample.output_text}}", "reference": source, "operation": "eq"}
    with pytest.raises(SpecError) as info:
        compile_spec(spec)
    assert info.value.path == ("reference",)
    assert message in str(info.value)


def test_item_fields_lists_top_level_item_fields() -> None:
    spec = {
        "type": "string_check",
        "input": "{{item.a.b}} {{sample.output_text}}",
        "reference": "{{item.c[0]}}",
        "operation": "eq",
    }
    assert compile_spec(spec).item_fields == {"a", "c"}


def test_missing_variable_message_suggests_the_field() -> None:
    grader = compile_spec({"type": "string_check", "input": "{{item.answer}}", "reference": "", "operation": "eq"})
    score = grader.grade("x", {"answr": 1})
    assert score.error is not None and "did you mean 'answr'?" in score.error.message
