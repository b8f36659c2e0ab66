"""Hedging: ``numeric`` and ``math`` pay nothing for several different final answers, and
``rftkit check`` flags a spec that does pay them (right answer first, or last)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from graders import compile_spec, load_spec
from graders.testing import run_probes
from rftkit.cli import main

ROOT = Path(__file__).parents[2]
GSM8K = ROOT / "examples/data/gsm8k/test.jsonl"
MATH500 = ROOT / "examples/data/math500/test.jsonl"
HEDGE_PROBES = ("multiple_answers", "multiple_boxed")


def _numeric(**spec: Any) -> dict[str, Any]:
    return {"type": "numeric", "name": "n", "reference": "{{item.answer}}", "reference_extract": "gsm8k", **spec}


def _check(tmp_path: Path, spec: dict[str, Any], data: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    code = main(["check", str(path), "--data", str(data), "--limit", "40", "--max-examples", "0", "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("extract", ["first_number", "last_number"])
def test_check_flags_a_positional_numeric_spec(
    extract: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _check(tmp_path, _numeric(extract=extract), GSM8K, capsys)
    assert code == 1
    assert set(HEDGE_PROBES) <= set(report["flagged"])
    by_name = {p["probe"]: p for p in report["probes"]}
    assert by_name["multiple_answers"]["ratio"] == 1.0  # one order is always paid
    assert f"`extract: {extract}` reads a position" in by_name["multiple_answers"]["fix"]


def test_check_flags_hedging_allowed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _check(tmp_path, _numeric(hedging="allow"), GSM8K, capsys)
    assert code == 1 and set(HEDGE_PROBES) <= set(report["flagged"])
    assert "hedging: allow" in {p["probe"]: p for p in report["probes"]}["multiple_boxed"]["fix"]


@pytest.mark.parametrize(("spec", "data"), [("gsm8k.json", GSM8K), ("math.json", MATH500)])
def test_shipped_specs_pay_no_hedge(spec: str, data: Path) -> None:
    rows = [json.loads(line) for line in data.read_text().splitlines()[:40]]
    results = {r.probe: r for r in run_probes(json.loads((ROOT / "specs" / spec).read_text()), rows)}
    for name in HEDGE_PROBES:
        assert results[name].items > 30 and not results[name].flagged
    assert results["multiple_boxed"].earned == 0.0


def test_every_hedge_form_on_gsm8k_rows_earns_nothing() -> None:
    """The issue's forms, the right value first and last, on the first 200 GSM8K test rows."""
    grader = load_spec(ROOT / "specs/gsm8k.json")
    rows = [json.loads(line) for line in GSM8K.read_text().splitlines()[:200]]
    forms = [
        "The answer is {0} or {1}.",
        "It is either {0} or {1}.",
        "Answer: {0}, or maybe {1}",
        "So \\boxed{{{0}}}. Or \\boxed{{{1}}}.",
        "#### {0}\nLet me check again.\n#### {1}",
        "The answer is {0}, {1}, {1}0.",
    ]
    paid = []
    for row in rows:
        right = row["answer"].rsplit("####", 1)[1].strip().replace(",", "")
        wrong = str(int(right) + 7)
        for form in forms:
            for pair in ((right, wrong), (wrong, right)):
                score = grader.grade(form.format(*pair), row)
                if score.value != 0.0 or "hedge" not in score.details:
                    paid.append(form.format(*pair))
    assert paid == []


@pytest.mark.parametrize(
    "output",
    ["The answer is 18, i.e. 18.0", "3*6 = 18\n#### 18", "The answer is 3*6 = 18.", "\\boxed{18} so \\boxed{18}"],
)
def test_restating_or_computing_the_value_is_no_hedge(output: str) -> None:
    score = compile_spec(_numeric(extract="auto")).grade(output, {"answer": "#### 18"})
    assert score.passed is True and "hedge" not in score.details


def test_a_bare_number_reference_is_read_in_gsm8k_mode() -> None:
    """verl's GSM8K preprocessing stores the ground truth as "72"; the recipe must not give 0."""
    grader = load_spec(ROOT / "specs/gsm8k.json")
    assert grader.grade("She has 72.\n#### 72", {"answer": "72"}).passed is True
    assert grader.grade("#### 72", {"answer": "1,200"}).passed is False
    score = grader.grade("#### 72", {"answer": "no number here"})
    assert score.error is not None and score.error.message == "no number in the reference"
