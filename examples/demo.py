"""``make demo``: grade and evaluate shipped, real data; write HTML reports (no API key, no GPU).

0. A few single outputs graded by the example specs in specs/, as a table: what each kind does.
1. Gene ranking: real published rare-disease cases (phenopacket-store, BSD-3; see
   examples/data/gene_ranking/README.md) and the predictions of a non-neural baseline ranker
   shipped with them, graded by specs/gene_rank.json (a ``list_rank`` grader). The top@1/5/20
   printed here must equal the figures published in that README.
2. GSM8K: the real completions of four models in examples/data/gsm8k/example_model_solutions.jsonl
   (MIT; see its README), graded by specs/gsm8k.json (a ``numeric`` grader); each model's accuracy
   is set against its ``is_correct`` labels, and the largest model is compared with the smallest
   item by item (paired test).

Usage: python examples/demo.py [--out runs/demo]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from evalkit import compare, evaluate, read_jsonl, write_reports  # noqa: E402
from graders import load_spec  # noqa: E402

GENES = ROOT / "examples" / "data" / "gene_ranking"
GSM8K = ROOT / "examples" / "data" / "gsm8k"
PUBLISHED = {"valid": (0.567, 0.742, 0.817), "test": (0.546, 0.741, 0.805)}
MODELS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")

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


def _sex(case_report: str) -> str:
    """The patient's recorded sex, from the first words of the case report (a breakdown field)."""
    for sex in ("male", "female"):
        if case_report.startswith(f"A {sex} "):
            return sex
    return "unreported"


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "runs" / "demo"), help="where the run directories go")
    out = Path(parser.parse_args(list(argv)).out)
    grading_table()
    genes(out)
    gsm8k(out)
    return 0


def _fresh(run: Path) -> Path:
    """The demo owns its run directories and rewrites them on every run.

    Resuming them would fail after a shipped spec was edited (evalkit refuses to mix scores of
    two graders in one run directory). Only a directory that holds a run is removed.
    """
    if (run / "run.json").is_file() or (run / "scores.jsonl").is_file():
        shutil.rmtree(run)
    return run


def grading_table() -> None:
    """Part 0: single outputs graded by each example spec."""
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


def genes(out: Path) -> None:
    for split in ("valid", "test"):
        items = [dict(row, sex=_sex(row["case_report"])) for row in read_jsonl(GENES / f"{split}.jsonl")]
        result = evaluate(
            ROOT / "specs" / "gene_rank.json",
            items,
            GENES / f"baseline_predictions_{split}.jsonl",
            k=(1, 5, 20),
            by="sex",
            out=_fresh(out / f"gene_ranking_{split}"),
            progress=True,
        )
        m = result.metrics
        print(f"\n=== gene ranking, {split} split: baseline ranker graded by specs/gene_rank.json\n")
        print(result.table())
        ours = tuple(round(m[f"top@{k}"], 3) for k in (1, 5, 20))
        verdict = "matches" if ours == PUBLISHED[split] else "DIFFERS FROM"
        print(f"\ntop@1/5/20 = {ours}: {verdict} the data README's published {PUBLISHED[split]}")
        print(f"report: {out / f'gene_ranking_{split}' / 'report.html'}")


def gsm8k(out: Path) -> None:
    items = list(read_jsonl(GSM8K / "test.jsonl"))
    solutions = list(read_jsonl(GSM8K / "example_model_solutions.jsonl"))  # line i answers test item i
    print("\n=== GSM8K test: four models' real completions graded by specs/gsm8k.json\n")
    rows = [["model", "accuracy", "95% CI", "labels say"]]
    results = {}
    for model in MODELS:
        predictions = [{"id": i, "output_text": row[model]["solution"]} for i, row in enumerate(solutions)]
        result = evaluate(ROOT / "specs" / "gsm8k.json", items, predictions, out=_fresh(out / f"gsm8k_{model}"))
        results[model] = result
        m = result.metrics
        labels = sum(row[model]["is_correct"] for row in solutions) / len(solutions)
        rows.append([model, f"{m['mean']:.4f}", f"{m['ci_low']:.3f} to {m['ci_high']:.3f}", f"{labels:.4f}"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    small, large = MODELS[0], MODELS[-1]
    comparison = compare(results[small], results[large], names=(small, large))
    write_reports(results[large], out / f"gsm8k_{large}", comparison)
    print()
    print(comparison.table())
    print(f"report with the comparison: {out / f'gsm8k_{large}' / 'report.html'}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
