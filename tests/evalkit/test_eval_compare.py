"""Paired comparison: differences, CIs, the right test, wins/losses, items that changed most."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from evalkit import Comparison, EvalError, compare, evaluate, write_comparison
from graders import Grader


def _run(grader: Grader, outputs: list[str], answers: list[str], out: Path | None = None):  # type: ignore[no-untyped-def]
    items = [{"id": f"q{i}", "answer": a} for i, a in enumerate(answers)]
    preds = [{"id": f"q{i}", "output_text": o} for i, o in enumerate(outputs)]
    return evaluate(grader, items, preds, out=out)


def test_pass_fail_runs_use_exact_mcnemar(exact: Grader) -> None:
    answers = ["y"] * 30
    a = _run(exact, ["y"] * 10 + ["n"] * 20, answers)
    # b fixes 12 of a's failures and breaks 2 of its passes.
    b = _run(exact, ["y"] * 8 + ["n"] * 2 + ["y"] * 12 + ["n"] * 8, answers)
    c = compare(a, b)
    assert (c.wins, c.losses, c.ties) == (12, 2, 16)
    assert c.test == "mcnemar"
    # Exact two-sided binomial: 2 * P(X <= 2 | n=14, p=1/2).
    assert c.p_value == pytest.approx(2 * (1 + 14 + 91) / 2**14)
    assert c.mean_diff == pytest.approx((20 - 10) / 30)
    assert c.ci_low < c.mean_diff < c.ci_high
    # by size of change, then by id in natural order: q8 and q9 (losses) come before q10
    assert [x["id"] for x in c.changed[:3]] == ["q8", "q9", "q10"] and len(c.changed) == 10
    assert [abs(x["diff"]) for x in c.changed] == [1.0] * 10


def test_continuous_runs_use_the_permutation_test(ranker: Grader) -> None:
    items = [{"id": i, "answer": "G"} for i in range(40)]
    first = [{"id": i, "output_text": '{"genes": ["x", "G"]}'} for i in range(40)]
    second = [
        {"id": i, "output_text": '{"genes": ["G"]}' if i % 4 else '{"genes": ["x", "y", "G"]}'} for i in range(40)
    ]
    c = compare(evaluate(ranker, items, first), evaluate(ranker, items, second))
    assert c.test == "permutation"
    assert c.mean_diff == pytest.approx((30 * 0.5 + 10 * (1 / 3 - 1 / 2)) / 40)
    assert c.p_value < 0.001
    assert (c.wins, c.losses, c.ties) == (30, 10, 0)
    # Largest |diff| first: the 30 items that went from 1/2 to 1.
    assert c.changed[0]["diff"] == pytest.approx(0.5)


def test_identical_runs_show_no_difference(exact: Grader) -> None:
    run = _run(exact, ["a", "b", "c"], ["a", "x", "c"])
    c = compare(run, run)
    assert c.mean_diff == 0.0 and c.p_value == 1.0 and c.ties == 3 and c.changed == []


def test_only_shared_items_are_paired(exact: Grader) -> None:
    a = evaluate(exact, [{"id": i, "answer": "a"} for i in range(5)], [{"id": i, "output_text": "a"} for i in range(5)])
    b = evaluate(
        exact, [{"id": i, "answer": "a"} for i in range(3, 9)], [{"id": i, "output_text": "b"} for i in range(3, 9)]
    )
    c = compare(a, b)
    assert (c.n, c.only_a, c.only_b) == (2, 3, 4)
    disjoint = evaluate(exact, [{"id": "z", "answer": "a"}], [{"id": "z", "output_text": "a"}])
    with pytest.raises(EvalError, match="share no scored item"):
        compare(a, disjoint)


def test_compare_run_directories_and_write_reports(exact: Grader, tmp_path: Path) -> None:
    _run(exact, ["y", "n", "y", "n"], ["y"] * 4, tmp_path / "base")
    _run(exact, ["y", "y", "y", "n"], ["y"] * 4, tmp_path / "tuned")
    c = compare(tmp_path / "base", tmp_path / "tuned")
    assert isinstance(c, Comparison) and (c.a, c.b) == ("base", "tuned")
    write_comparison(c, tmp_path / "cmp")
    assert sorted(p.name for p in (tmp_path / "cmp").iterdir()) == [
        "comparison.html",
        "comparison.json",
        "comparison.md",
    ]
    data = c.to_dict()
    assert data["wins"] == 1 and data["metrics"]["mean"]["diff"] == pytest.approx(0.25)
    assert not any(isinstance(v, float) and math.isnan(v) for v in data.values())
