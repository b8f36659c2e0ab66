"""examples/demo.py (what `make demo` runs) grades the shipped specs and prints the table."""

from __future__ import annotations

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
