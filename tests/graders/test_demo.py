"""examples/demo.py (what `make demo` runs) grades the shipped specs and prints the table."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.py"


def test_demo_prints_the_scores(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    module = runpy.run_path(str(DEMO), run_name="demo")
    assert module["main"](["--out", str(tmp_path)]) == 0  # the evaluation part writes run directories
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["spec", "sample", "value"]
    rows = {" ".join(line.split()[:4]): line for line in lines[2:]}
    assert "0.700" in rows["gene_rank right gene second"]
    assert "too_long" in rows["gene_rank padded with 30"]
    assert "sample_parse_error" in rows["gene_rank not JSON 0.000"]
    assert "0.500" in rows["tool_call right name, other"]


def test_demo_rewrites_its_run_directories_after_a_spec_was_edited(tmp_path: Path) -> None:
    module = runpy.run_path(str(DEMO), run_name="demo")
    module["genes"](tmp_path)
    run_json = tmp_path / "gene_ranking_valid" / "run.json"
    config = json.loads(run_json.read_text(encoding="utf-8"))
    config["grader"]["decay"] = "reciprocal"  # what the run holds after an edit of specs/gene_rank.json
    run_json.write_text(json.dumps(config), encoding="utf-8")
    module["genes"](tmp_path)  # a resume would raise RunDirError: "holds a run with different grader"
    assert json.loads(run_json.read_text(encoding="utf-8"))["grader"] != config["grader"]
