"""The Grader API shared by every kind: batch and async forms agree with grade()."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from graders import Grader, Sample, ScoreBatch, Template, TemplateGrader, compile_spec, load_spec

ROOT = Path(__file__).resolve().parents[2]
GENE_RANK = ROOT / "specs" / "gene_rank.json"
SAMPLES: list[Any] = ['{"genes": ["A", "TSC2"]}', "oops", Sample.of('{"genes": ["TSC2"]}'), {"output_text": "[]"}]
ITEMS = [{"correct_answer": "TSC2"}] * len(SAMPLES)


def test_batch_and_async_agree_with_grade() -> None:
    with load_spec(GENE_RANK) as grader:
        assert isinstance(grader, Grader) and not grader.is_async
        one = [grader.grade(s, i).to_dict() for s, i in zip(SAMPLES, ITEMS, strict=True)]
        assert [s.to_dict() for s in grader.grade_batch(SAMPLES, ITEMS)] == one
        assert [asyncio.run(grader.agrade(s, i)).to_dict() for s, i in zip(SAMPLES, ITEMS, strict=True)] == one
        assert [s.to_dict() for s in asyncio.run(grader.agrade_batch(SAMPLES, ITEMS))] == one
    assert [d["value"] for d in one] == [0.7, 0.0, 1.0, 0.0]


def test_items_default_to_empty_rows() -> None:
    grader = load_spec(GENE_RANK)
    scores = grader.grade_batch(['{"genes": ["TSC2"]}'])
    assert scores[0].error is not None and scores[0].error.kind == "invalid_variable_error"
    assert grader.item_fields == {"correct_answer"}


def test_async_batch_length_mismatch_is_a_usage_error() -> None:
    with pytest.raises(ValueError, match="2 samples but 1 items"):
        asyncio.run(load_spec(GENE_RANK).agrade_batch(["a", "b"], ITEMS[:1]))


PYTHON = {"type": "python", "name": "py", "source": "def grade(sample, item):\n    return 0.5\n"}
EXACT = {"type": "string_check", "name": "x", "operation": "eq", "input": "{{sample.output_text}}",
         "reference": "{{item.answer}}"}  # fmt: skip


@pytest.mark.parametrize(
    "spec",
    [EXACT, {"type": "multi", "name": "m", "graders": {"x": EXACT}, "calculate_output": "x"}, PYTHON],
    ids=["string_check", "multi", "python"],
)
def test_grade_batch_and_agrade_batch_return_a_score_batch(spec: dict[str, Any]) -> None:
    with compile_spec(spec, trusted=True) as grader:
        batch = grader.grade_batch(["a", "b"], [{"answer": "a"}] * 2)
        abatch = asyncio.run(grader.agrade_batch(["a", "b"], [{"answer": "a"}] * 2))
    for scores in (batch, abatch):
        assert type(scores) is ScoreBatch
        assert scores.usage == {}  # these kinds call no model
    assert batch == abatch


def test_template_kinds_compile_their_two_templates_once() -> None:
    grader = compile_spec({**EXACT, "input": "{{sample.output_json.a}}", "reference": "{{item.answer.b}}"})
    assert isinstance(grader, TemplateGrader)
    assert isinstance(grader.input, Template) and isinstance(grader.reference, Template)
    assert grader.item_fields == {"answer"}
    assert grader.spec.operation == "eq"  # the spec keeps its kind's type (Grader[StringCheckSpec])
