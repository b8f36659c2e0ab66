"""`rftkit validate | grade | schema`, driven in-process through rftkit.cli.main."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graders import json_schema
from rftkit.cli import main

ROOT = Path(__file__).resolve().parents[2]
GENE_RANK = str(ROOT / "specs" / "gene_rank.json")


def test_validate_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", GENE_RANK, str(ROOT / "specs" / "tool_call.json")]) == 0
    out = capsys.readouterr().out
    assert "gene_rank.json: ok" in out and "tool_call.json: ok" in out


def test_validate_every_shipped_spec_skipping_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    paths = sorted(str(p) for p in (ROOT / "specs").glob("*.json"))
    assert main(["validate", *paths]) == 0
    out = capsys.readouterr().out
    assert "grader.schema.json: skipped" in out
    assert out.count(": ok") == len(paths) - 1


def test_validate_bad_spec_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    spec = {"type": "multi", "graders": {"answer": {"type": "list_rnk"}}, "calculate_output": "answer"}
    bad.write_text(json.dumps(spec), encoding="utf-8")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "unknown grader type 'list_rnk' at graders.answer.type; did you mean 'list_rank'?" in err


@pytest.mark.parametrize("formula", ["a^" * 500 + "a", "a+" * 1000 + "a"], ids=["power-chain", "sum-chain"])
def test_validate_long_formula_is_one_line_exit_2(
    formula: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = {"type": "multi", "graders": {"a": {"type": "string_check", "input": "x", "reference": "x",
                                               "operation": "eq"}}, "calculate_output": formula}  # fmt: skip
    bad = tmp_path / "long.json"
    bad.write_text(json.dumps(spec), encoding="utf-8")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "formula_parse_error" in err
    assert len(err) < 500


def test_validate_missing_file_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "no/such/spec.json"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_unreadable_specs_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes(b'{"type": "string_check", "name": "caf\xe9"}')
    for argv in (["validate", str(latin1)], ["grade", str(latin1), "--sample", "x"],
                 ["grade", str(tmp_path / "nope.json"), "--sample", "x"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, argv
    main(["validate", str(latin1)])
    assert "latin1.json is not valid JSON" in capsys.readouterr().err


def test_grade_prints_the_score(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["grade", GENE_RANK, "--item", '{"correct_answer":"TSC2"}', "--sample", '{"genes":["TSC1","TSC2"]}'])
    assert code == 0
    score = json.loads(capsys.readouterr().out)
    assert score["value"] == 0.7 and score["error"] is None and score["details"]["rank"] == 2


def test_grade_bad_output_is_a_score_not_a_failure(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grade", GENE_RANK, "--item", '{"correct_answer":"TSC2"}', "--sample", "TSC2 I think"]) == 0
    score = json.loads(capsys.readouterr().out)
    assert score["value"] == 0.0 and score["error"]["kind"] == "sample_parse_error"


def test_grade_sample_object_with_tools(capsys: pytest.CaptureFixture[str]) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "get_acceptors", "arguments": '{"smiles": "CCO"}'}}
    sample = json.dumps({"output_tools": [call]})
    assert (
        main(["grade", str(ROOT / "specs" / "tool_call.json"), "--item", '{"smiles": "CCO"}', "--sample", sample]) == 0
    )
    assert json.loads(capsys.readouterr().out)["value"] == 1.0


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["grade", GENE_RANK, "--item", "[1]", "--sample", "x"], id="item-not-object"),
        pytest.param(["grade", GENE_RANK, "--item", "{", "--sample", "x"], id="item-not-json"),
        pytest.param(["grade", GENE_RANK], id="no-sample"),
        pytest.param(["validate"], id="no-spec"),
        pytest.param(["valdate", GENE_RANK], id="unknown-command"),
    ],
)
def test_usage_errors_exit_2_with_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err


def test_schema_prints_the_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json_schema()


def test_rftkit_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    captured = capsys.readouterr()
    assert "commands:" in captured.out and captured.err == ""
    assert main([]) == 2  # a usage error: the usage goes to stderr, stdout stays clean
    captured = capsys.readouterr()
    assert "commands:" in captured.err and captured.out == ""


@pytest.mark.parametrize("item", [None, '{"other": 1}'], ids=["no-item", "item-without-the-field"])
def test_grade_warns_when_the_item_lacks_fields_the_spec_reads(
    item: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["grade", GENE_RANK, "--sample", '{"genes": ["TSC2"]}', *(["--item", item] if item else [])]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["error"]["kind"] == "invalid_variable_error"
    assert captured.err.count("\n") == 1
    assert "warning:" in captured.err and "reads item field correct_answer" in captured.err
    assert main(["grade", GENE_RANK, "--sample", '{"genes": ["TSC2"]}', "--item", '{"correct_answer": "TSC2"}']) == 0
    assert capsys.readouterr().err == ""
