"""The ``numeric`` kind: extraction modes, number formats, tolerance, abstention, real GSM8K labels."""

from __future__ import annotations

import json
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graders import SpecError, compile_spec, load_spec

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
CASES = json.loads((HERE / "numeric_cases.json").read_text())
GSM8K = ROOT / "examples" / "data" / "gsm8k"
RUNS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
# Generous "did not hang" bound for one pathological output (typical: a few milliseconds).
HANG_BOUND_S = 10.0


def numeric(**spec: Any) -> Any:
    return compile_spec({"type": "numeric", "reference": "{{item.answer}}", **spec})


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case: dict[str, Any]) -> None:
    score = numeric(**case.get("spec", {})).grade(case["output"], {"answer": case["reference"]})
    assert score.error is None
    assert score.passed is case["passed"]
    assert score.value == case.get("value", 1.0 if case["passed"] else 0.0)
    assert "reference_value" in score.details and "extracted_value" in score.details
    if "extracted" in case:
        assert score.details["extracted"] == case["extracted"]
    assert ("hedge" in score.details) is case.get("hedge", False)


def test_details_hold_both_values() -> None:
    score = numeric().grade("#### 1,024", {"answer": "1024.0"})
    assert score.details == {
        "extracted": "1,024",
        "extracted_value": "1024",
        "reference": "1024.0",
        "reference_value": "1024",
    }


@pytest.mark.parametrize("reference", ["", "no number here", "NaN", "#### ?"])
def test_reference_without_number_abstains(reference: str) -> None:
    score = numeric().grade("#### 5", {"answer": reference})
    assert score.error is not None and score.error.kind == "reference_parse_error"
    assert score.abstained and score.value == 0.0 and score.passed is None


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"extract": "regex"}, "pattern"),
        ({"pattern": "(?P<answer>\\d+)"}, "pattern"),
        ({"extract": "regex", "pattern": "([unclosed"}, "pattern"),
        ({"extract": "regex", "pattern": "no group"}, "pattern"),
        ({"abs_tol": -1}, "abs_tol"),
        ({"partial_credit": 2}, "partial_credit"),
        ({"extract": "boxd"}, "extract"),
    ],
)
def test_bad_spec_names_the_field(spec: dict[str, Any], path: str) -> None:
    with pytest.raises(SpecError) as info:
        numeric(**spec)
    assert path in str(info.value)


def test_regex_first_group_without_name() -> None:
    g = numeric(extract="regex", pattern=r"=\s*(\d+)")
    assert g.grade("a = 3, b = 4", {"answer": "4"}).passed is True


def test_spec_round_trips() -> None:
    spec = {"type": "numeric", "name": "n", "reference": "{{item.answer}}", "rel_tol": 0.01, "percent": "either"}
    assert compile_spec(spec).spec.to_json() == spec


# Bad input: each gives a Score (an error or a correct value) in bounded time.
BAD_INPUTS = {
    "empty": ("", None),
    "ten_mb_of_digits": ("7" * 10_000_000, "input_too_long"),
    "just_under_the_limit_of_digits": ("7" * 999_999, None),
    "frac_nested_10000_deep": ("\\frac{" * 10_000 + "1" + "}{2}" * 10_000, None),
    "unbalanced_braces": ("\\boxed{\\frac{1}{2}", None),
    "nan_and_inf": ("nan inf -inf Infinity", None),
    "many_signs": ("-" * 100_000 + "5", None),
    "long_digit_runs_with_commas": ("1," * 200_000, None),
    "open_boxes": ("\\boxed{" * 100_000, None),
    "open_math_delimiters": ("\\(" * 100_000 + "$a" * 100_000, None),
    "answer_markers": ("#### " * 100_000 + "A: x\n" * 100_000, None),
    "many_fractions": ("1/2 " * 100_000 + "\\frac{1}{2} " * 50_000, None),
    # the new answer readers (expressions, hedges, = chains) on what an attacker would write
    "box_with_a_long_run_of_spaces": ("\\boxed{1" + " " * 20_000 + "}", None),
    "long_sum_after_the_cue": ("The answer is " + "1 + ( " * 3_000, None),
    "long_equals_chain": ("The answer is " + "1 = " * 5_000, None),
    "long_or_chain": ("The answer is " + "1 or " * 5_000, None),
    "many_hedged_boxes": ("\\boxed{1} or \\boxed{2} " * 5_000, None),
    "dollar_sums": ("The answer is " + "$1 + " * 3_000, None),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_gives_bounded_score(name: str) -> None:
    output, error = BAD_INPUTS[name]
    start = time.perf_counter()
    score = numeric().grade(output, {"answer": "5"})
    assert time.perf_counter() - start < HANG_BOUND_S
    assert (score.error.kind if score.error else None) == error
    assert score.value in (0.0, 1.0)


def test_unicode_minus_and_fullwidth_are_numbers() -> None:
    g = numeric()
    assert g.grade("\u2212\uff14\uff12", {"answer": "-42"}).passed is True
    assert g.grade("#### \u22120.5", {"answer": "-1/2"}).passed is True


def load_gsm8k() -> list[tuple[int, str, str, bool, dict[str, Any]]]:
    tests = [json.loads(line) for line in (GSM8K / "test.jsonl").read_text().splitlines()]
    rows = [json.loads(line) for line in (GSM8K / "example_model_solutions.jsonl").read_text().splitlines()]
    assert len(tests) == len(rows) == 1319
    out = []
    for i, (row, test) in enumerate(zip(rows, tests, strict=True)):
        assert row["question"] == test["question"]
        for run in RUNS:
            out.append((i, run, row[run]["solution"], row[run]["is_correct"], test))
    return out


def test_gsm8k_spec_agrees_with_the_labels() -> None:
    """specs/gsm8k.json against the 4 x 1319 labelled GPT-3 completions (reference: test.jsonl)."""
    grader = load_spec(ROOT / "specs" / "gsm8k.json")
    expected = json.loads((HERE / "gsm8k_disagreements.json").read_text())["disagreements"]
    disagreements = []
    graded = load_gsm8k()
    for i, run, solution, label, item in graded:
        score = grader.grade(solution, item)
        assert score.error is None
        if score.passed is not label:
            disagreements.append({"line": i + 1, "run": run, "label": label, "extracted": score.details["extracted"]})
    assert len(graded) == 5276
    assert [{k: d[k] for k in ("line", "run", "label", "extracted")} for d in expected] == disagreements
    assert 1 - len(disagreements) / len(graded) >= 0.995


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.integers(-(10**12), 10**12), st.integers(-(10**12), 10**12), st.booleans())
def test_integers_pass_exactly_when_equal(a: int, b: int, commas: bool) -> None:
    written = f"{a:,}" if commas else str(a)
    score = numeric().grade(f"so the total is\n#### {written}", {"answer": str(b)})
    assert score.passed is (a == b)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.fractions(min_value=-1000, max_value=1000, max_denominator=1000))
def test_fractions_and_their_decimals(value: Fraction) -> None:
    fraction = f"{value.numerator}/{value.denominator}" if value.denominator != 1 else str(value.numerator)
    g = numeric(rel_tol=1e-9)
    assert g.grade(f"The answer is {fraction}", {"answer": f"{float(value):.15g}"}).passed is True
    assert g.grade(f"The answer is {fraction}", {"answer": f"{float(value) + 1:.15g}"}).passed is False
