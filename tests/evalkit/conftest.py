"""Shared fixtures for the evalkit tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from graders import Grader, compile_spec


def _write_jsonl(path: Path, rows: Iterable[Mapping[str, Any] | str]) -> Path:
    """Writes rows (mappings as JSON, strings verbatim) one per line."""
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def write_jsonl() -> Callable[[Path, Iterable[Mapping[str, Any] | str]], Path]:
    """``write_jsonl(path, rows)``: rows (mappings as JSON, strings verbatim), one per line."""
    return _write_jsonl


@pytest.fixture
def exact() -> Grader:
    return compile_spec(
        {
            "type": "string_check",
            "name": "exact",
            "operation": "eq",
            "input": "{{sample.output_text}}",
            "reference": "{{item.answer}}",
        }
    )


@pytest.fixture
def ranker() -> Grader:
    return compile_spec(
        {
            "type": "list_rank",
            "name": "rank",
            "input": "{{sample.output_json.genes}}",
            "reference": "{{item.answer}}",
            "decay": "reciprocal",
        }
    )
