"""Grades a few model outputs with the example specs in specs/ and prints the scores as a table.

Run with ``make demo`` or ``python examples/demo.py``; no API key, no GPU, no network.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from graders import load_spec  # noqa: E402

TOOL_ITEM = {"smiles": "CCO"}


def _call(name: str, arguments: str) -> dict[str, Any]:
    return {"output_tools": [{"id": "c1", "type": "function", "function": {"name": name, "arguments": arguments}}]}


CASES: list[tuple[str, str, Any, dict[str, Any]]] = [
    ("gene_rank", "right gene first", '{"genes": ["TSC2", "TSC1", "PKD1"]}', {"correct_answer": "TSC2"}),
    ("gene_rank", "right gene second", '{"genes": ["TSC1", "TSC2"]}', {"correct_answer": "TSC2"}),
    ("gene_rank", "right gene absent", '{"genes": ["NF1", "NF2"]}', {"correct_answer": "TSC2"}),
    ("gene_rank", "padded with 30 guesses", json.dumps({"genes": [f"G{i}" for i in range(29)] + ["TSC2"]}),
     {"correct_answer": "TSC2"}),
    ("gene_rank", "not JSON", "I think it is TSC2.", {"correct_answer": "TSC2"}),
    ("extraction_f1", "all fields right", '{"name": "Ann Lee", "email": "ANN@EXAMPLE.ORG", "age": 41, '
     '"skills": ["sql", "python"]}', {"expected": {"name": "Ann Lee", "email": "ann@example.org", "age": 41,
                                                    "skills": ["python", "sql"]}}),
    ("extraction_f1", "typo, one skill, extra", '{"name": "Anne Lee", "age": 41.3, "skills": ["python"], '
     '"notes": "x"}', {"expected": {"name": "Ann Lee", "email": "ann@example.org", "age": 41,
                                    "skills": ["python", "sql"]}}),
    ("tool_call", "right call", _call("get_acceptors", '{"smiles": "CCO"}'), TOOL_ITEM),
    ("tool_call", "right name, other args", _call("get_acceptors", '{"smiles": "CCN"}'), TOOL_ITEM),
    ("tool_call", "no tool call", "Let me think about it.", TOOL_ITEM),
]  # fmt: skip


def _summary(details: dict[str, Any]) -> str:
    if "rank" in details:
        return f"rank={details['rank']} of {details['list_length']}" + (" too_long" if details.get("too_long") else "")
    if "f1" in details:
        return f"P={details['precision']:.2f} R={details['recall']:.2f}"
    if "sub_scores" in details:
        return " ".join(f"{k}={v:g}" for k, v in details["sub_scores"].items())
    return ""


def main() -> int:
    paths = [path for path in sorted((ROOT / "specs").glob("*.json")) if "schema" not in path.name]
    graders = {path.stem: load_spec(path) for path in paths}
    rows = [("spec", "sample", "value", "passed", "error", "details")]
    for spec, label, sample, item in CASES:
        score = graders[spec].grade(sample, item)
        error = score.error.kind if score.error else ""
        passed = "" if score.passed is None else str(score.passed).lower()
        rows.append((spec, label, f"{score.value:.3f}", passed, error, _summary(score.details)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * width for width in widths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
