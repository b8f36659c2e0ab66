"""The one catalogue of error kinds: ``graders.ErrorKind``."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from graders import ErrorKind, Score, compile_spec
from graders._sandbox import _worker

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("graders", "evalkit", "rl_adapter", "rftkit")
# The catalogue itself, and the sandbox worker: a script run in a fresh process that imports
# nothing from rftkit, so it spells the kinds it sends on the wire (checked below). And the
# hosted flag table, whose flag names are the hosted API's fields (many share a kind's spelling).
ALLOWED = {Path("graders/_errors.py"), Path("graders/_sandbox/_worker.py"), Path("graders/_hosted.py")}


def _kind_literals(path: Path) -> list[tuple[int, str]]:
    kinds = {kind.value for kind in ErrorKind}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in kinds
    ]


def test_no_module_spells_an_error_kind_outside_the_catalogue() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {value!r}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if path.relative_to(ROOT) not in ALLOWED
        for line, value in _kind_literals(path)
    ]
    assert found == []


def test_the_scan_finds_a_spelled_kind(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('KIND = "other_error"\nif kind == "sample_parse_error": pass\n', encoding="utf-8")
    assert _kind_literals(module) == [(1, "other_error"), (2, "sample_parse_error")]


def test_the_sandbox_worker_sends_catalogued_kinds() -> None:
    assert _worker.RUNTIME_ERROR == ErrorKind.PYTHON_GRADER_RUNTIME_ERROR
    assert _worker.TIMEOUT_ERROR == ErrorKind.PYTHON_GRADER_TIMEOUT
    assert _worker.SERVER_ERROR == ErrorKind.PYTHON_GRADER_SERVER_ERROR


def test_kinds_are_strings_in_json_and_comparisons() -> None:
    spec = {
        "type": "field_match",
        "name": "f",
        "input": "{{sample.output_json}}",
        "reference": "{{item.expected}}",
        "fields": {"a": {"compare": "exact"}},
    }
    score = compile_spec(spec).grade("not json", {"expected": {"a": 1}})
    assert score.error is not None
    assert score.error.kind is ErrorKind.SAMPLE_PARSE_ERROR
    assert score.error.kind == "sample_parse_error"
    assert json.loads(json.dumps(score.to_dict()))["error"]["kind"] == "sample_parse_error"
    assert f"{ErrorKind.OTHER_ERROR}" == "other_error"


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_every_kind_is_its_own_lowercase_name(kind: ErrorKind) -> None:
    # Members keep the name they are written to JSON with, so a reader of a run directory can
    # find the member from the text.
    assert kind.name.lower() == kind.value
    assert Score.failure(kind).error is not None
