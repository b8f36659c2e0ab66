"""Helpers for the graders tests: data-driven cases kept in JSON beside each test file.

A case file is ``{"defaults": {...}, "cases": [...]}``. A case is ``{"id", "spec", "sample",
"item", "value", "passed"?, "error"?, "details"?, "tol"?}``: grade ``sample`` against ``item``
with ``spec``; ``value`` is compared within ``tol`` (default 1e-9), ``error`` is the expected
error kind (or null), ``details`` a subset of the Score's details.

``defaults`` holds what most cases share, so a case names only what makes it different: a case
key missing is taken from ``defaults``, and a case's ``spec`` or ``item`` is laid over the
default one field by field, where ``null`` removes a default field (``{"table": null}``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from graders import compile_spec

HERE = Path(__file__).parent


def load_cases(name: str) -> list[Any]:
    """The cases in ``NAME.json`` beside the tests, defaults applied, as pytest params with readable ids."""
    data = json.loads((HERE / f"{name}.json").read_text(encoding="utf-8"))
    defaults = data.get("defaults", {})
    return [pytest.param(with_defaults(case, defaults), id=case["id"]) for case in data["cases"]]


def with_defaults(case: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """``case`` completed from ``defaults``: objects merged field by field, ``null`` dropping a default."""
    out = {**defaults, **case}
    for key, value in case.items():
        default = defaults.get(key)
        if isinstance(value, dict) and isinstance(default, dict):
            merged = {**default, **value}
            out[key] = {field: v for field, v in merged.items() if not (v is None and field in default)}
    return out


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
