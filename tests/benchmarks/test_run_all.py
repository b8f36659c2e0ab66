"""``benchmarks/run_all.py``: a partial run never rewrites the committed results.json."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

RUN_ALL = Path(__file__).resolve().parents[2] / "benchmarks" / "run_all.py"
BENCH = 'def run():\n    return [{"name": "%s", "figures": {}, "baseline": "b", "ratio": 1.0, "goal": "g"}]\n'


def test_a_partial_run_goes_to_its_own_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main = runpy.run_path(str(RUN_ALL), run_name="run_all")["main"]
    for name in ("bench_a", "bench_b"):
        (tmp_path / f"{name}.py").write_text(BENCH % name, encoding="utf-8")
    assert main([], root=tmp_path) == 0
    full = (tmp_path / "results.json").read_text(encoding="utf-8")
    assert [e["name"] for e in json.loads(full)["benchmarks"]] == ["bench_a", "bench_b"]

    assert main(["bench_b"], root=tmp_path) == 0
    assert (tmp_path / "results.json").read_text(encoding="utf-8") == full  # untouched
    partial = json.loads((tmp_path / "results.partial.json").read_text(encoding="utf-8"))
    assert [e["name"] for e in partial["benchmarks"]] == ["bench_b"]
    assert "a partial run" in capsys.readouterr().out

    assert main(["bench_c"], root=tmp_path) == 2  # a typo runs nothing and says what exists
    assert "no benchmark named bench_c (benchmarks: bench_a, bench_b)" in capsys.readouterr().err
