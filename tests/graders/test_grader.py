"""The Grader API shared by every kind: batch and async forms agree with grade()."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from graders import Grader, Sample, load_spec

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
