"""Graders shared by the rl_adapter tests (string_check and multi: always on main)."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from graders import Grader, compile_spec

# verl and OpenRLHF live in `make`'s .venv-trainers (verl caps transformers below what TRL's tests
# need); `make test` runs these two modules there, after the rest of the suite in .venv.
collect_ignore = [] if importlib.util.find_spec("verl") else ["test_verl_real.py", "test_openrlhf_real.py"]

EXACT: dict[str, Any] = {
    "type": "string_check",
    "name": "exact",
    "operation": "eq",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
}
MULTI: dict[str, Any] = {
    "type": "multi",
    "name": "combo",
    "graders": {
        "exact": EXACT,
        "has": {**EXACT, "name": "has", "operation": "like", "reference": "{{item.keyword}}"},
    },
    "calculate_output": "0.5 * exact + 0.5 * has",
}


@pytest.fixture
def exact() -> Grader:
    return compile_spec(EXACT)


@pytest.fixture
def multi() -> Grader:
    return compile_spec(MULTI)
