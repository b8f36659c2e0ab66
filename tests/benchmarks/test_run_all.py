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


def test_the_docs_quote_the_committed_results() -> None:
    """docs/benchmarks.md's table is the committed results.json (a full `make bench` rewrites both)."""
    run_all = runpy.run_path(str(RUN_ALL), run_name="run_all")
    root = RUN_ALL.parents[1]
    entries = json.loads((root / "benchmarks" / "results.json").read_text(encoding="utf-8"))["benchmarks"]
    page = (root / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert run_all["with_table"](page, entries) == page
    assert all(f"| {entry['name']} |" in page for entry in entries)


def test_a_full_run_rewrites_the_docs_table(tmp_path: Path) -> None:
    main = runpy.run_path(str(RUN_ALL), run_name="run_all")["main"]
    root = tmp_path / "benchmarks"
    root.mkdir()
    (root / "bench_a.py").write_text(BENCH % "a | b", encoding="utf-8")
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "benchmarks.md"
    marks = runpy.run_path(str(RUN_ALL), run_name="run_all")
    page.write_text(f"intro\n{marks['TABLE_START']}\nold\n{marks['TABLE_END']}\nnotes\n", encoding="utf-8")
    assert main([], root=root) == 0
    assert page.read_text(encoding="utf-8") == (
        f"intro\n{marks['TABLE_START']}\n| benchmark | ratio | against | goal |\n| --- | --- | --- | --- |\n"
        f"| a \\| b | 1 | b | g |\n{marks['TABLE_END']}\nnotes\n"
    )
    assert main(["bench_a"], root=root) == 0  # a partial run leaves the page alone
    assert "| a \\| b | 1 |" in page.read_text(encoding="utf-8")
