"""field_match: per-field comparisons and weighted precision / recall / F1."""

from __future__ import annotations

import json
from typing import Any

import pytest
from graders_cases import check_case, load_cases

from graders import SpecError, compile_spec


@pytest.mark.parametrize("case", load_cases("test_field_match"))
def test_documented_semantics(case: dict[str, Any]) -> None:
    check_case(case)


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        pytest.param({"compare": "exact", "threshold": 0.5}, ("fields", "a", "threshold"), id="threshold-not-fuzzy"),
        pytest.param({"compare": "fuzzy", "abs_tol": 1}, ("fields", "a", "abs_tol"), id="abs-tol-not-numeric"),
        pytest.param({"compare": "set", "rel_tol": 0.1}, ("fields", "a", "rel_tol"), id="rel-tol-not-numeric"),
    ],
)
def test_option_for_another_comparison_is_a_spec_error(rule: dict[str, Any], path: tuple[str, ...]) -> None:
    with pytest.raises(SpecError) as info:
        compile_spec({"type": "field_match", "reference": "{{item.e}}", "fields": {"a": rule}})
    assert info.value.path == path


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        pytest.param({"compare": "fuzz"}, "invalid value 'fuzz' at fields.a.compare", id="unknown-compare"),
        pytest.param({"weight": 0}, "at fields.a.weight", id="zero-weight"),
        pytest.param({"compare": "fuzzy", "threshold": 2}, "at fields.a.threshold", id="threshold-over-1"),
        pytest.param({"wieght": 2}, "unknown field 'wieght' at fields.a.wieght", id="misspelt-option"),
    ],
)
def test_bad_rule_names_its_path(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message.replace(".", r"\.")):
        compile_spec({"type": "field_match", "reference": "{{item.e}}", "fields": {"a": rule}})


def test_many_extra_keys_are_counted_but_listed_briefly() -> None:
    grader = compile_spec({"type": "field_match", "reference": "{{item.e}}"})
    output = {"a": 1, **{f"k{i}": i for i in range(500)}}
    score = grader.grade(json.dumps(output), {"e": {"a": 1}})
    assert score.details["precision"] == 1 / 501
    assert len(score.details["extra"]) == 50 and score.details["extra_count"] == 500


def test_an_integer_beyond_float_range_is_a_wrong_number_not_an_error() -> None:
    grader = compile_spec({"type": "field_match", "reference": "{{item.expected}}",
                           "fields": {"n": {"compare": "numeric"}, "m": {"compare": "numeric"}}})
    huge = "1" + "0" * 400  # valid JSON; float() of it overflows
    score = grader.grade('{"n": ' + huge + ', "m": 2}', {"expected": {"n": 1, "m": 2}})
    assert score.error is None and score.details["fields"] == {"n": 0.0, "m": 1.0}
    score = grader.grade('{"n": 1, "m": 2}', {"expected": {"n": int(huge), "m": 2}})
    assert score.error is None and score.details["fields"] == {"n": 0.0, "m": 1.0}
