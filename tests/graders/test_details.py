"""The details other packages read (multi's parts, list_rank's rank, the answer) and the RL reward."""

from __future__ import annotations

import math
from typing import Any

import pytest

from graders import (
    ErrorKind,
    Grader,
    Score,
    ScoreError,
    answer_of,
    compile_spec,
    rank_of,
    sub_errors,
    sub_scores,
    to_reward,
    without_evidence,
)
from graders._kinds import multi as multi_module

RANKED: dict[str, Any] = {
    "type": "list_rank",
    "name": "genes",
    "input": "{{sample.output_json.genes}}",
    "reference": "{{item.gene}}",
}
WORD: dict[str, Any] = {
    "type": "string_check",
    "name": "word",
    "operation": "like",
    "input": "{{sample.output_text}}",
    "reference": "{{item.word}}",
}
PARTS: dict[str, Any] = {
    "type": "multi",
    "name": "parts",
    "graders": {"genes": RANKED, "word": WORD},
    "calculate_output": "0.5 * genes + 0.5 * word",
}
ITEM = {"gene": "TP53", "word": "TP53"}
# The JSON child cannot read plain text; the text child still scores: partial credit 0.5.
PARTIAL = "TP53 is my answer"


@pytest.fixture
def parts() -> Grader:
    return compile_spec(PARTS)


def test_rank_of_reads_list_ranks_rank() -> None:
    grader = compile_spec(RANKED)
    assert rank_of(grader.grade('{"genes": ["BRCA1", "TP53"]}', ITEM)) == 2
    assert rank_of(grader.grade('{"genes": ["BRCA1"]}', ITEM), "unranked") is None  # absent from the list


def test_rank_of_finds_a_childs_rank_inside_multi(parts: Grader) -> None:
    assert rank_of(parts.grade('{"genes": ["TP53"]}', ITEM)) == 1


def test_rank_of_gives_the_default_for_a_grader_without_ranks() -> None:
    score = compile_spec(WORD).grade("TP53", ITEM)
    not_ranked = object()
    assert rank_of(score, not_ranked) is not_ranked
    assert rank_of(score) is None


def test_sub_scores_and_sub_errors_read_multis_parts(parts: Grader) -> None:
    whole = parts.grade('{"genes": ["TP53"]}', ITEM)
    assert sub_scores(whole) == {"genes": 1.0, "word": 1.0}
    assert sub_errors(whole) == {}
    partial = parts.grade(PARTIAL, ITEM)
    assert sub_scores(partial) == {"genes": 0.0, "word": 1.0}
    errors = sub_errors(partial)
    assert list(errors) == ["genes"]
    assert isinstance(errors["genes"], ScoreError)
    assert errors["genes"].kind is ErrorKind.SAMPLE_PARSE_ERROR


def test_accessors_of_other_kinds_are_empty() -> None:
    score = compile_spec(WORD).grade("TP53", ITEM)
    assert sub_scores(score) == {}
    assert sub_errors(score) == {}


def test_the_keys_are_pinned_in_the_serialised_score(parts: Grader) -> None:
    # Run directories and the HTTP reward service carry these names: renaming one breaks old
    # runs and other versions' clients, so it must be a deliberate change of this test.
    details = parts.grade(PARTIAL, ITEM).to_dict()["details"]
    assert set(details) == {"sub_scores", "sub_details", "sub_errors"}
    assert details["sub_details"]["genes"] == {}  # a parse error leaves no evidence
    ranked = compile_spec(RANKED).grade('{"genes": ["TP53"]}', ITEM).to_dict()["details"]
    assert ranked["rank"] == 1


def test_answer_of_reads_the_extracted_answer() -> None:
    numeric = compile_spec(
        {"type": "numeric", "name": "n", "input": "{{sample.output_text}}", "reference": "{{item.answer}}"}
    )
    # The normalised value, so "1,800" and "1800.0" are one vote in a majority.
    votes = {answer_of(numeric.grade(text, {"answer": "1800"})) for text in ("so 1,800 in all", "1800.0")}
    assert votes == {"1800"}
    assert answer_of(Score(0.0)) is None


def _multi_contract(score: Score) -> None:
    """What the reward functions rely on for a multi Score with a failed part."""
    assert score.error is not None
    assert sub_errors(score), "the failed part is not reported"
    assert to_reward(score, error_value=-1.0) == pytest.approx(0.5)


def test_a_multi_with_a_failed_part_keeps_its_partial_credit(parts: Grader) -> None:
    _multi_contract(parts.grade(PARTIAL, ITEM))


def test_renaming_the_sub_errors_key_breaks_the_contract_test(
    parts: Grader, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rename on the writer's side alone (the reader keeps the old name) would make every
    # partial credit an error reward in training; the contract test above catches it.
    monkeypatch.setattr(multi_module, "SUB_ERRORS", "child_errors")
    renamed = compile_spec(PARTS).grade(PARTIAL, ITEM)
    assert "child_errors" in renamed.details
    with pytest.raises(AssertionError):
        _multi_contract(renamed)


@pytest.mark.parametrize(
    ("score", "reward"),
    [
        (Score(0.75), 0.75),
        (Score(1.0, True, {}, None), 1.0),
        (Score.failure(ErrorKind.SAMPLE_PARSE_ERROR, "not JSON"), -1.0),
        (Score.failure(ErrorKind.REFERENCE_PARSE_ERROR, "no reference"), None),
        (Score(0.0, None, {"sub_errors": {}}, ScoreError(ErrorKind.FORMULA_EVAL_ERROR, "1/0")), -1.0),
        (Score(math.nan), -1.0),
        (Score(math.inf), -1.0),
    ],
    ids=["value", "passed", "error", "abstention", "formula-error", "nan", "inf"],
)
def test_to_reward(score: Score, reward: float | None) -> None:
    assert to_reward(score, error_value=-1.0) == reward


def test_without_evidence_keeps_what_the_reward_reads(parts: Grader) -> None:
    for output in (PARTIAL, '{"genes": ["TP53"]}', "nothing"):
        score = parts.grade(output, ITEM)
        small = without_evidence(score)
        assert "sub_details" not in small.details
        assert sub_scores(small) == sub_scores(score)
        assert to_reward(small, -1.0) == to_reward(score, -1.0)
