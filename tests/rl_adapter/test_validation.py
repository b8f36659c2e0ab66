"""Validation summaries through evalkit: rewards as the trainer sees them, top@k, parts, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from graders import compile_spec
from rl_adapter._errors import JobConfigError
from rl_adapter._job._format import ConformingGrader, schema_of, with_instruction
from rl_adapter._job._validation import score_predictions

RANK = {"type": "list_rank", "name": "rank", "input": "{{sample.output_text}}",
        "reference": "{{item.correct_answer}}", "decay": "table", "table": [1.0, 0.7, 0.4, 0.1]}


@pytest.mark.parametrize(
    "ids",
    [None, ["x", "y", "z"], ["x", "x", "z"], ["x", None, "z"], [1.5, 2.5, 3.5], [{"n": 1}, {"n": 2}, {"n": 3}]],
    ids=["none", "unique", "repeated", "mixed", "floats", "objects"],  # evalkit takes only str and int ids
)
def test_items_are_matched_to_predictions_by_position_whatever_their_ids(ids: list[object] | None) -> None:
    items = [{"correct_answer": g} for g in ("G1", "G2", "G3")]
    if ids is not None:
        items = [{**item, "id": i} if i is not None else item for item, i in zip(items, ids, strict=True)]
    out = score_predictions(compile_spec(RANK), items, [["G1"], ["G5\nG2"], ["G9"]])
    assert out["valid_reward_mean"] == pytest.approx((1.0 + 0.7 + 0.0) / 3)
    assert out["valid_top@1"] == pytest.approx(1 / 3) and out["valid_top@3"] == pytest.approx(2 / 3)
    assert out["valid_n"] == 3 and out["valid_errors"] == {}


def test_multi_parts_and_errors() -> None:
    spec = {"type": "multi", "name": "mix", "calculate_output": "0.5 * js + 0.5 * rank", "graders": {
        "js": {"type": "string_check", "name": "js", "operation": "eq",
               "input": "{{sample.output_json.gene}}", "reference": "{{item.correct_answer}}"},
        "rank": RANK}}
    items = [{"correct_answer": "G1"}, {"correct_answer": "G2"}]
    out = score_predictions(compile_spec(spec), items, [['{"gene": "G1"}'], ["G2"]])
    # The second output is not JSON: its js part errs (counted) and the rank part's credit stays.
    assert out["valid_errors"] == {"sample_parse_error": 1}
    assert out["valid/js"] == 0.5 and out["valid/rank"] == 0.5
    assert out["valid_reward_mean"] == pytest.approx((0.5 * 1 + 0.5 * 0) / 2 + (0.5 * 0 + 0.5 * 1.0) / 2)


def test_several_samples_per_row_give_the_mean_pass_at_k_and_an_evalkit_run(tmp_path: Path) -> None:
    """eval_samples has the hosted meaning: samples per validation row, the reward their mean."""
    items = [{"correct_answer": "G1"}, {"correct_answer": "G2"}]
    out = score_predictions(compile_spec(RANK), items, [["G1", "G9", "G1"], ["G9", "G9", "G9"]],
                            out=tmp_path / "step-5")
    assert out["valid_reward_mean"] == pytest.approx((2 / 3 + 0) / 2)
    assert out["valid_samples"] == 6 and out["valid_n"] == 2
    assert out["valid_pass@1"] == pytest.approx((2 / 3 + 0) / 2) and out["valid_pass@3"] == pytest.approx(0.5)
    assert (tmp_path / "step-5" / "run.json").is_file() and (tmp_path / "step-5" / "scores.jsonl").is_file()


def test_response_format_nonconforming_output_is_a_sample_parse_error() -> None:
    schema = {"type": "object", "properties": {"gene": {"type": "string"}}, "required": ["gene"],
              "additionalProperties": False}
    grader = ConformingGrader(compile_spec({"type": "string_check", "name": "g", "operation": "eq",
                                            "input": "{{sample.output_json.gene}}",
                                            "reference": "{{item.correct_answer}}"}), schema)
    item = {"correct_answer": "G1"}
    assert grader.grade('{"gene": "G1"}', item).value == 1.0
    for output in ("G1", '{"gene": 1}', '{"gene": "G1", "why": "x"}'):
        score = grader.grade(output, item)
        assert score.error is not None and score.error.kind == "sample_parse_error", output
    with pytest.raises(JobConfigError, match="response_format.json_schema"):
        schema_of({"type": "json_schema", "json_schema": {"name": "x"}})
    assert schema_of({"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}) == schema


def test_the_schema_goes_into_the_prompt() -> None:
    schema = {"type": "object"}
    assert with_instruction("Q?", schema).startswith("Q?\n\nAnswer with only a JSON object")
    messages = with_instruction([{"role": "user", "content": "Q?"}], schema)
    assert messages[0]["role"] == "system" and '{"type": "object"}' in messages[0]["content"]
    merged = with_instruction([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q?"}], schema)
    assert len(merged) == 2 and merged[0]["content"].startswith("Be brief.\n\nAnswer")
