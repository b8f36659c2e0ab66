"""Acceptance on GSM8K: each of the 4 model runs in example_model_solutions.jsonl, graded by
specs/gsm8k.json through evalkit, has the accuracy its is_correct labels give (to within the
grader disagreements the numeric tests list), and a paired comparison of two runs agrees with
the labels item by item."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit import compare, evaluate, read_jsonl

ROOT = Path(__file__).resolve().parents[2]
GSM8K = ROOT / "examples" / "data" / "gsm8k"
RUNS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
pytestmark = pytest.mark.slow


def _disagreements() -> dict[str, int]:
    data = json.loads((ROOT / "tests" / "graders" / "gsm8k_disagreements.json").read_text())
    counts: dict[str, int] = {}
    for entry in data["disagreements"]:
        counts[entry["run"]] = counts.get(entry["run"], 0) + 1
    return counts


def test_per_model_accuracy_matches_labels() -> None:
    solutions = list(read_jsonl(GSM8K / "example_model_solutions.jsonl"))
    items = list(read_jsonl(GSM8K / "test.jsonl"))
    allowed = _disagreements()
    results = {}
    for run in RUNS:
        predictions = [{"id": i, "output_text": row[run]["solution"]} for i, row in enumerate(solutions)]
        results[run] = evaluate(ROOT / "specs" / "gsm8k.json", items, predictions)
        labels = sum(row[run]["is_correct"] for row in solutions)
        correct = round(results[run].metrics["mean"] * len(items))
        assert abs(correct - labels) <= allowed.get(run, 0), (run, correct, labels)
        assert results[run].metrics["n"] == 1319
    # The paired comparison counts exactly the items where only one run's label is true.
    c = compare(results["6b_finetuning"], results["175b_verification"])
    wins = sum(r["175b_verification"]["is_correct"] and not r["6b_finetuning"]["is_correct"] for r in solutions)
    losses = sum(r["6b_finetuning"]["is_correct"] and not r["175b_verification"]["is_correct"] for r in solutions)
    if not allowed:
        assert (c.wins, c.losses) == (wins, losses)
    assert c.test == "mcnemar" and c.p_value < 1e-6
