"""Helpers for the graders tests: data-driven cases kept in JSON beside each test file.

A case is ``{"id", "spec", "sample", "item", "value", "passed"?, "error"?, "details"?, "tol"?}``:
grade ``sample`` against ``item`` with ``spec``; ``value`` is compared within ``tol`` (default
1e-9), ``error`` is the expected error kind (or null), ``details`` a subset of the Score's details.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from graders import compile_spec

HERE = Path(__file__).parent


def load_cases(name: str) -> list[Any]:
    """The cases in ``NAME.json`` beside the tests, as pytest params with readable ids."""
    cases = json.loads((HERE / f"{name}.json").read_text(encoding="utf-8"))
    return [pytest.param(case, id=case["id"]) for case in cases]


def check_case(case: dict[str, Any]) -> None:
    """Grades one case and asserts value, passed, error kind and the listed details."""
    grader = compile_spec(case["spec"])
    score = grader.grade(case["sample"], case.get("item", {}))
    error = None if score.error is None else score.error.kind
    assert error == case.get("error"), score.error
    assert score.value == pytest.approx(case["value"], abs=case.get("tol", 1e-9)), score.to_dict()
    if "passed" in case:
        assert score.passed is case["passed"]
    for key, expected in case.get("details", {}).items():
        assert score.details[key] == expected, (key, score.details)
