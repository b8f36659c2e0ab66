"""Metrics: mean/CI, pass rate, top@k from ranks, pass@k, maj@k, errors vs abstentions, groups."""

from __future__ import annotations

import pytest

import evalkit._metrics
from evalkit import ItemScores, ScoreColumns, compute_metrics, evaluate, register_metric
from graders import Grader, Score, ScoreError, compile_spec


def _item(i: int, *scores: Score) -> ItemScores:
    return ItemScores(str(i), list(scores))


def test_top_at_k_from_ranks(ranker: Grader) -> None:
    items = [{"id": i, "answer": "G"} for i in range(5)]
    lists = [["G"], ["x", "G"], ["x", "y", "z", "w", "v", "G"], ["x"], None]
    preds = [
        {"id": i, "output_text": "not json" if lst is None else f'{{"genes": {lst!r}}}'.replace("'", '"')}
        for i, lst in enumerate(lists)
    ]
    metrics = evaluate(ranker, items, preds, k=(1, 2, 5)).metrics
    assert metrics["top@1"] == pytest.approx(1 / 5)
    assert metrics["top@2"] == pytest.approx(2 / 5)
    assert metrics["top@5"] == pytest.approx(2 / 5)
    assert metrics["top@max"] == pytest.approx(3 / 5)
    assert metrics["mean"] == pytest.approx((1 + 1 / 2 + 1 / 6) / 5)
    # The output that is not JSON is an error counted as "not found", not left out.
    assert metrics["error_rate"] == pytest.approx(1 / 5)
    assert metrics["error_rate/sample_parse_error"] == pytest.approx(1 / 5)
    assert metrics["n"] == 5


def test_rank_inside_multi_is_found() -> None:
    grader = compile_spec(
        {
            "type": "multi",
            "name": "m",
            "calculate_output": "0.5 * r + 0.5 * e",
            "graders": {
                "e": {
                    "type": "string_check",
                    "name": "e",
                    "operation": "eq",
                    "input": "{{sample.output_text}}",
                    "reference": "{{item.answer}}",
                },
                "r": {
                    "type": "list_rank",
                    "name": "r",
                    "input": "{{sample.output_json.genes}}",
                    "reference": "{{item.answer}}",
                },
            },
        }
    )
    preds = [{"id": 0, "output_text": '{"genes": ["a", "G"]}'}, {"id": 1, "output_text": '{"genes": ["G"]}'}]
    metrics = evaluate(grader, [{"answer": "G"}, {"answer": "G"}], preds, k=(1,)).metrics
    assert metrics["top@1"] == 0.5 and metrics["top@max"] == 1.0


def test_no_rank_metrics_without_ranks(exact: Grader) -> None:
    metrics = evaluate(exact, [{"answer": "a"}], [{"id": 0, "output_text": "a"}]).metrics
    assert not [m for m in metrics if m.startswith("top@")]
    assert metrics["pass_rate"] == 1.0


def test_abstention_is_not_scored_zero(ranker: Grader) -> None:
    items = [{"answer": "G"}, {"answer": "G"}, {"answer": ""}]  # the last reference is unusable
    preds = [{"id": i, "output_text": '{"genes": ["G"]}' if i == 0 else '{"genes": []}'} for i in range(3)]
    metrics = evaluate(ranker, items, preds).metrics
    assert metrics["mean"] == 0.5  # over the two scored items, not 1/3
    assert metrics["n"] == 2 and metrics["n_items"] == 3
    assert metrics["not_scored"] == 1 and metrics["not_scored_rate"] == pytest.approx(1 / 3)
    assert metrics["error_rate"] == 0.0


def test_pass_at_k_and_maj_at_k_with_several_samples(exact: Grader) -> None:
    items = [{"id": "a", "answer": "4"}, {"id": "b", "answer": "7"}]
    outputs = {"a": ["4", "5", "4", "4"], "b": ["1", "1", "7", "2"]}
    preds = [{"id": i, "output_text": o} for i, outs in outputs.items() for o in outs]
    metrics = evaluate(exact, items, preds, k=(1, 2, 10)).metrics
    assert metrics["pass@1"] == pytest.approx((3 / 4 + 1 / 4) / 2)
    assert metrics["pass@2"] == pytest.approx((1.0 + (1 - 3 / 6)) / 2)
    assert metrics["pass@4"] == 1.0  # k = n is always reported; 10 > n is not
    assert "pass@10" not in metrics
    # maj@k over the first k samples: a -> "4" (right) at k=1, 2 and 4; b -> "1" (wrong).
    assert metrics["maj@1"] == 0.5 and metrics["maj@4"] == 0.5
    assert metrics["mean"] == pytest.approx((3 / 4 + 1 / 4) / 2)
    assert metrics["n_samples"] == 8


def test_pass_rate_counts_errors_as_failures() -> None:
    items = [_item(0, Score(1.0, True)), _item(1, Score.failure("judge_timeout", "slow")), _item(2, Score(0.0, False))]
    metrics = compute_metrics(items)
    assert metrics["pass_rate"] == pytest.approx(1 / 3)
    assert metrics["error_rate/judge_timeout"] == pytest.approx(1 / 3)


def test_every_sample_abstaining_leaves_item_unscored() -> None:
    abstain = Score(0.0, None, {}, ScoreError("reference_parse_error", "bad"))
    metrics = compute_metrics([_item(0, abstain, abstain), _item(1, Score(0.25))])
    assert metrics["n"] == 1 and metrics["mean"] == 0.25 and metrics["not_scored"] == 2


def test_breakdown_by_field(exact: Grader) -> None:
    items = [{"answer": "x", "subject": s} for s in ["alg", "alg", "geo", "geo", "geo"]] + [{"answer": "x"}]
    preds = [{"id": i, "output_text": o} for i, o in enumerate(["x", "y", "x", "x", "x", "x"])]
    result = evaluate(exact, items, preds, by="subject")
    groups = result.groups["subject"]
    assert list(groups) == ["(missing)", "alg", "geo"]
    assert groups["alg"]["mean"] == 0.5 and groups["alg"]["n"] == 2
    assert groups["geo"]["mean"] == 1.0 and groups["(missing)"]["n"] == 1


def test_metrics_are_deterministic(exact: Grader) -> None:
    items = [{"answer": str(i % 3)} for i in range(50)]
    preds = [{"id": i, "output_text": str(i % 2)} for i in range(50)]
    assert evaluate(exact, items, preds).metrics == evaluate(exact, items, preds).metrics


def test_maj_at_k_votes_on_numeric_values_not_their_spelling() -> None:
    grader = compile_spec(
        {"type": "numeric", "name": "n", "input": "{{sample.output_text}}", "reference": "{{item.answer}}"}
    )
    # 1,800 and 1800.0 are one answer (the right one); 1700 is written once.
    preds = [{"id": 0, "output_text": f"The answer is {o}"} for o in ("1700", "1,800", "1800.0")]
    metrics = evaluate(grader, [{"answer": "1800"}], preds, k=(3,)).metrics
    assert metrics["maj@3"] == 1.0


@pytest.fixture
def no_user_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evalkit._metrics, "_user_metrics", [])


def perfect_share(columns: ScoreColumns) -> dict[str, float]:
    """A user's metric: the share of items whose every scored sample got full credit."""
    return {"perfect": float((columns.values >= 1.0).mean()) if len(columns.values) else 0.0}


@pytest.mark.usefixtures("no_user_metrics")
def test_a_registered_metric_joins_every_evaluation(exact: Grader) -> None:
    assert register_metric(perfect_share) is perfect_share
    items = [{"answer": "x", "subject": s} for s in ["alg", "alg", "geo"]]
    preds = [{"id": i, "output_text": o} for i, o in enumerate(["x", "y", "x"])]
    result = evaluate(exact, items, preds, by="subject")
    assert result.metrics["perfect"] == pytest.approx(2 / 3)
    assert list(result.metrics)[-1] == "perfect"  # after the built-in ones
    assert result.groups["subject"]["alg"]["perfect"] == 0.5
    register_metric(perfect_share)  # registering twice adds it once
    assert compute_metrics([_item(0, Score(1.0))])["perfect"] == 1.0


@pytest.mark.usefixtures("no_user_metrics")
def test_a_metric_may_not_overwrite_another() -> None:
    register_metric(lambda columns: {"mean": 0.0})
    with pytest.raises(ValueError, match="already given"):
        compute_metrics([_item(0, Score(1.0))])


def test_pass_and_maj_at_k_appear_only_when_every_item_has_several_samples() -> None:
    right, wrong = Score(1.0, True, {"answer": "4"}), Score(0.0, False, {"answer": "5"})
    several = compute_metrics([_item(0, right, wrong), _item(1, wrong, wrong)], k=(1, 5))
    assert several["pass@1"] == 0.25 and several["pass@2"] == 0.5 and "pass@5" not in several
    assert several["maj@1"] == 0.5
    mixed = compute_metrics([_item(0, right, wrong), _item(1, wrong)], k=(1,))
    assert not [key for key in mixed if key.startswith(("pass@", "maj@"))]
    no_answers = compute_metrics([_item(0, Score(1.0), Score(0.0)), _item(1, Score(0.0), Score(0.0))], k=(1,))
    assert "pass@1" in no_answers and "maj@1" not in no_answers
