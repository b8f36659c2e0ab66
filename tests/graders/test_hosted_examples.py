"""Conformance with the hosted graders API's published examples: each case in
``hosted_examples.json`` (written from the public docs, cookbook and SDK; sources in
docs/api.md) compiles or fails as expected, and scores what was published where a score was.

The table in docs/api.md is rendered from what this test measures; regenerate it with
``python tests/graders/test_hosted_examples.py`` and paste it between the markers.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

from graders import SpecError, compile_spec

HERE = Path(__file__).resolve().parent
DOC = HERE.parents[1] / "docs" / "api.md"
START, END = "<!-- conformance:start -->", "<!-- conformance:end -->"
# Published scores are rounded (0.7556, 0.82258): equal within half a unit of a 5th decimal.
TOLERANCE = 6e-5
JUDGE_KINDS = ("score_model", "label_model")


def load_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((HERE / "hosted_examples.json").read_text())["cases"]
    by_id = {case["id"]: case for case in cases}
    for case in cases:
        if "same_spec_as" in case:
            case["spec"] = by_id[case["same_spec_as"]]["spec"]
    return cases


CASES = load_cases()


def measure(case: dict[str, Any]) -> dict[str, Any]:
    """Compiles the case's spec and grades its sample: ``{compiles, error, score}``."""
    try:
        grader = compile_spec(case["spec"], trusted=True)  # our own transcriptions of published code
    except SpecError as exc:
        return {"compiles": False, "error": str(exc), "score": None}
    with grader:
        score = grader.grade(case["sample"], case["item"]) if "sample" in case else None
    if score is not None:
        assert score.error is None, score.error
    return {"compiles": True, "error": None, "score": None if score is None else score.value}


def _calls_a_judge(spec: Any) -> bool:
    text = json.dumps(spec)
    return any(f'"type": "{kind}"' in text for kind in JUDGE_KINDS)


def same_score(case: dict[str, Any], measured: dict[str, Any]) -> str:
    value = measured["score"]
    if "published" in case:
        ok = value is not None and math.isclose(value, case["published"], abs_tol=TOLERANCE)
        return f"{'yes' if ok else 'NO'}: {value:.5g} (published {case['published']:g})"
    if "published_max" in case:
        ok = value is not None and value <= case["published_max"]
        return f"{'yes' if ok else 'NO'}: {value:.5g} (published: at most {case['published_max']:g})"
    if not measured["compiles"]:
        return "-"
    return "depends on the judge" if _calls_a_judge(case["spec"]) else "no published score"


def render() -> str:
    """The conformance table of docs/api.md, from what ``measure`` finds now."""
    rows = ["| example | source | compiles | same score |", "| --- | --- | --- | --- |"]
    for case in CASES:
        measured = measure(case)
        compiles = "yes" if measured["compiles"] else f"no: `{measured['error']}`"
        rows.append(f"| {case['id']} | {case['source']} | {compiles} | {same_score(case, measured)} |")
    return "\n".join(rows)


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_published_example(case: dict[str, Any]) -> None:
    measured = measure(case)
    if "error" in case:
        assert not measured["compiles"], "a published example that the hosted API rejects must be rejected"
        assert case["error"] in measured["error"]
        return
    assert measured["compiles"], measured["error"]
    assert not same_score(case, measured).startswith("NO")


def test_the_table_in_docs_is_what_this_test_measures() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index(START) + len(START) : text.index(END)].strip()
    assert table == render(), "run: python tests/graders/test_hosted_examples.py, paste it into docs/api.md"


if __name__ == "__main__":
    sys.stdout.write(render() + "\n")
