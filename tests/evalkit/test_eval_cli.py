"""``rftkit eval`` / ``compare`` driven in-process: exit codes, one-line errors, tables, run dirs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rftkit.cli import main

ROOT = Path(__file__).resolve().parents[2]
GENES = ROOT / "examples" / "data" / "gene_ranking"
SPEC = str(ROOT / "specs" / "gene_rank.json")


def _eval(*args: str) -> list[str]:
    return ["eval", "--grader", SPEC, "--data", str(GENES / "valid.jsonl"), "--quiet", *args]


def test_eval_prints_table_and_writes_run_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "genes"
    preds = str(GENES / "baseline_predictions_valid.jsonl")
    assert main(_eval("--predictions", preds, "--k", "1,5,20", "--out", str(out))) == 0
    stdout = capsys.readouterr().out
    assert "top@1            0.5675" in stdout and "top@20           0.8175" in stdout
    assert f"wrote {out / 'report.html'}" in stdout
    report = json.loads((out / "report.json").read_text())
    assert round(report["metrics"]["top@5"], 3) == 0.742


def test_json_output_and_breakdown(tmp_path: Path, write_jsonl: Any, capsys: pytest.CaptureFixture[str]) -> None:
    items = write_jsonl(tmp_path / "i.jsonl", [{"correct_answer": "G", "split": "ab"[i % 2]} for i in range(6)])
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": i, "output_text": '{"genes": ["G"]}'} for i in range(6)])
    code = main(
        ["eval", "--grader", SPEC, "--data", str(items), "--predictions", str(preds), "--by", "split", "--json"]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["metrics"]["top@1"] == 1.0 and data["groups"]["split"]["a"]["n"] == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval", "--data", "x.jsonl"], "--grader and --data are required"),
        (["eval", "--grader", SPEC, "--data", "x.jsonl"], "give --predictions FILE, or --model"),
        (["eval", "--grader", SPEC, "--data", "x", "--predictions", "y", "--k", "0,5"], "expected positive integers"),
        (["eval", "--grader", SPEC, "--data", "x", "--predictions", "y", "--shard", "4/4"], "shard index must be"),
        (["compare", "only-one"], "the following arguments are required: RUN_B"),
        (["sample", "--data", "x.jsonl", "--out", "p.jsonl"], "rftkit sample: --model is required"),
        (["eval", "--grader", SPEC, "--data", "x", "--model", "m"], "sampling needs --out"),
    ],
    ids=["no-grader", "no-predictions", "bad-k", "bad-shard", "compare-one-run", "sample-no-model", "sample-no-out"],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_bad_spec_and_bad_line_exit_2(tmp_path: Path, write_jsonl: Any, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "bad.json"
    spec.write_text(json.dumps({"type": "list_rank", "name": "r", "input": "{{sample.output_text}}"}))
    items = write_jsonl(tmp_path / "i.jsonl", [{"answer": "G"}, "{oops"])
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": 0, "output_text": "G"}])
    assert main(["eval", "--grader", str(spec), "--data", str(items), "--predictions", str(preds)]) == 2
    assert "reference" in capsys.readouterr().err
    assert main(["eval", "--grader", SPEC, "--data", str(items), "--predictions", str(preds)]) == 2
    err = capsys.readouterr().err
    assert f"{items}:2: not valid JSON" in err and err.count("\n") == 1


def test_compare_runs_and_missing_run(tmp_path: Path, write_jsonl: Any, capsys: pytest.CaptureFixture[str]) -> None:
    items = write_jsonl(tmp_path / "i.jsonl", [{"correct_answer": "G"} for _ in range(8)])
    for name, first in (("base", 4), ("tuned", 7)):
        rows = [{"id": i, "output_text": '{"genes": ["G"]}' if i < first else '{"genes": []}'} for i in range(8)]
        preds = write_jsonl(tmp_path / f"{name}.jsonl", rows)
        assert (
            main(
                [
                    "eval",
                    "--grader",
                    SPEC,
                    "--data",
                    str(items),
                    "--predictions",
                    str(preds),
                    "--out",
                    str(tmp_path / name),
                    "--quiet",
                ]
            )
            == 0
        )
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "base"), str(tmp_path / "tuned"), "--out", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    assert "tuned - base on 8 paired items" in out and "wins / losses / ties: 3 / 0 / 5" in out
    assert (tmp_path / "cmp" / "comparison.html").exists()
    assert main(["compare", str(tmp_path / "base"), str(tmp_path / "nowhere")]) == 2  # a missing input: exit 2
    assert "has no scores.jsonl" in capsys.readouterr().err


def test_shard_then_merge(tmp_path: Path, write_jsonl: Any, capsys: pytest.CaptureFixture[str]) -> None:
    preds = str(GENES / "baseline_predictions_valid.jsonl")
    for i in range(2):
        assert main(_eval("--predictions", preds, "--shard", f"{i}/2", "--out", str(tmp_path / f"s{i}"))) == 0
    assert main(["eval", "--merge", str(tmp_path / "s0"), str(tmp_path / "s1"), "--out", str(tmp_path / "all")]) == 0
    assert "top@1            0.5675" in capsys.readouterr().out


def test_baseline_comparison_goes_into_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    preds = str(GENES / "baseline_predictions_valid.jsonl")
    assert main(_eval("--predictions", preds, "--out", str(tmp_path / "a"))) == 0
    assert main(_eval("--predictions", preds, "--out", str(tmp_path / "b"), "--baseline", str(tmp_path / "a"))) == 0
    assert "b - a on 252 paired items" in capsys.readouterr().out
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    assert report["comparison"]["mean_diff"] == 0.0
    assert "Comparison with a" in (tmp_path / "b" / "report.html").read_text()


def test_a_merge_that_misses_a_shard_is_an_error_unless_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    preds = str(GENES / "baseline_predictions_valid.jsonl")
    assert main(_eval("--predictions", preds, "--shard", "0/2", "--out", str(tmp_path / "s0"))) == 0
    capsys.readouterr()
    merge = ["eval", "--merge", str(tmp_path / "s0"), "--out", str(tmp_path / "all")]
    assert main(merge) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "of 252 items" in err and "(shard 1/2 missing)" in err
    assert "--allow-partial" in err and not (tmp_path / "all").exists()
    assert main([*merge, "--allow-partial"]) == 0
    captured = capsys.readouterr()
    assert "warning: a partial merge: the merged runs cover" in captured.err and "of 252 items" in captured.err
    assert "partial" in json.loads((tmp_path / "all" / "run.json").read_text())


def test_by_a_field_no_item_has_is_an_error_naming_the_fields(
    tmp_path: Path, write_jsonl: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    items = write_jsonl(tmp_path / "i.jsonl", [{"correct_answer": "G", "split": "a"}, {"correct_answer": "G"}])
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": i, "output_text": '{"genes": ["G"]}'} for i in range(2)])
    argv = ["eval", "--grader", SPEC, "--data", str(items), "--predictions", str(preds), "--quiet"]
    assert main([*argv, "--by", "splt"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(items) in err
    assert "no item has the field 'splt'" in err and "did you mean 'split'?" in err
    assert "(fields: correct_answer, split)" in err
    assert main([*argv, "--by", "split"]) == 0  # a field some items lack is a real breakdown: "(missing)"


def test_skip_bad_says_how_many_lines_it_skipped(
    tmp_path: Path, write_jsonl: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    items = write_jsonl(tmp_path / "i.jsonl", [{"correct_answer": "G"}, "{not json", {"correct_answer": "G"}, "[1]"])
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": i, "output_text": '{"genes": ["G"]}'} for i in (0, 2)])
    argv = ["eval", "--grader", SPEC, "--data", str(items), "--predictions", str(preds), "--quiet", "--skip-bad"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert f"skipped 2 bad lines of {items} (line 2, 4)" in err
