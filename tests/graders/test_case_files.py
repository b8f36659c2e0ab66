"""The JSON case files beside the tests: one shape, unique ids, and defaults that cases override."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from graders_cases import with_defaults

CASE_FILES = sorted(Path(__file__).parent.glob("test_*.json"))


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.name)
def test_a_case_file_has_defaults_and_cases_with_unique_ids(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data) <= {"defaults", "cases"} and data["cases"]
    ids = [case["id"] for case in data["cases"]]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]


def test_a_case_names_only_what_differs_from_the_defaults() -> None:
    defaults = {"spec": {"type": "list_rank", "decay": "table", "table": [1.0, 0.7]}, "item": {"answer": "A"}}
    case = {"id": "linear", "spec": {"decay": "linear", "k": 3, "table": None}, "sample": "A"}
    assert with_defaults(case, defaults) == {
        "id": "linear",
        "spec": {"type": "list_rank", "decay": "linear", "k": 3},
        "item": {"answer": "A"},
        "sample": "A",
    }
    # null only removes a default field; a null the defaults do not set is the case's own value
    assert with_defaults({"id": "x", "item": {"answer": None, "other": None}}, defaults)["item"] == {"other": None}
    assert defaults["spec"]["decay"] == "table"  # the defaults are not changed
