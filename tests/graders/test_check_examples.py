"""Acceptance: ``rftkit check`` on every example spec, on shipped data, and the documented finding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_judges import fair_judge
from hypothesis import given, settings

from graders import load_spec
from graders.testing import FakeOpenAIServer, items_for
from rftkit.cli import main

ROOT = Path(__file__).parents[2]
GENES = ROOT / "examples/data/gene_ranking/valid.jsonl"
NAIVE = ROOT / "examples/check/gene_rank_naive.json"
# Shipped rows for the example specs; a spec not listed is checked on rows generated from it.
DATA = {
    "gene_rank.json": GENES,
    "gene_rank_naive.json": GENES,
    "gsm8k.json": ROOT / "examples/data/gsm8k/test.jsonl",
    "math.json": ROOT / "examples/data/math500/test.jsonl",
    "extraction_f1.json": ROOT / "examples/check/extraction.jsonl",
}
EXAMPLE_SPECS = sorted(p for p in (ROOT / "specs").glob("*.json") if p.name != "grader.schema.json")
# Example specs may show a weakness on purpose; docs/testing-graders.md documents each.
EXPECTED_FINDINGS = {"gene_rank_naive.json": ["padded_list"]}


def _generated_rows(spec: Path, tmp_path: Path, n: int = 40) -> Path:
    rows: list[dict[str, object]] = []
    with load_spec(spec) as grader:

        @settings(max_examples=n, database=None, derandomize=True, deadline=None)
        @given(items_for(grader))
        def collect(item: dict[str, object]) -> None:
            rows.append(item)

        collect()
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("spec", [*EXAMPLE_SPECS, NAIVE], ids=lambda p: p.name)
def test_check_runs_on_every_example_spec(
    spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = DATA.get(spec.name) or _generated_rows(spec, tmp_path)
    expected = EXPECTED_FINDINGS.get(spec.name, [])
    args = ["check", str(spec), "--data", str(data), "--limit", "60", "--max-examples", "40", "--json"]
    # model judges answer from a scripted judge on a local server (real HTTP through the openai client)
    with FakeOpenAIServer(fair_judge) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("RFTKIT_CACHE", "off")
        code = main(args)
    report = json.loads(capsys.readouterr().out)
    assert report["properties"]["ok"], report["properties"].get("failure")
    assert report["flagged"] == expected, [p for p in report["probes"] if p["flagged"]]
    assert code == (1 if expected else 0)


def test_extraction_example_pays_no_subset_of_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With `name` at weight 2, the name alone earned 57% of the reference's score (f1 pays a correct subset)."""
    spec = json.loads((ROOT / "specs/extraction_f1.json").read_text())
    rows = str(DATA["extraction_f1.json"])
    assert main(["check", str(ROOT / "specs/extraction_f1.json"), "--data", rows, "--max-examples", "20"]) == 0
    assert "no findings" in capsys.readouterr().out
    spec["fields"]["name"]["weight"] = 2
    heavy = tmp_path / "heavy_name.json"
    heavy.write_text(json.dumps(spec))
    assert main(["check", str(heavy), "--data", rows, "--max-examples", "20"]) == 1
    assert "json_missing_fields   0.571" in capsys.readouterr().out


def test_the_readme_finding_and_its_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(NAIVE), "--data", str(GENES), "--max-examples", "20"]) == 1
    out = capsys.readouterr().out
    assert "padded_list           1.000     1.000   1.00   0.50   200  FLAGGED" in out
    assert "fix: set `max_items` on list_rank" in out
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps({**json.loads(NAIVE.read_text()), "max_items": 20}))
    assert main(["check", str(fixed), "--data", str(GENES), "--max-examples", "20"]) == 0
    assert "no findings" in capsys.readouterr().out
    shipped = ROOT / "specs/gene_rank.json"
    assert json.loads(shipped.read_text())["max_items"] == 20
    assert main(["check", str(shipped), "--data", str(GENES), "--max-examples", "20"]) == 0
