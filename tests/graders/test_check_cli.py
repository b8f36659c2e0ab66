"""``rftkit check``: driven in-process through ``rftkit.cli.main``; exit codes and output."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from graders.testing import FakeOpenAIServer, Reply
from rftkit.cli import main

GENES = [f"GENE{i}" for i in range(30)]
NAIVE = {"type": "list_rank", "name": "gene_rank", "input": "{{sample.output_json.genes}}",
         "reference": "{{item.correct_answer}}"}


def _write(tmp_path: Path, spec: dict[str, Any], rows: list[Any] | str) -> tuple[str, str]:
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    data = tmp_path / "valid.jsonl"
    text = rows if isinstance(rows, str) else "".join(json.dumps(r) + "\n" for r in rows)
    data.write_text(text, encoding="utf-8", errors="surrogateescape")  # lone surrogates: bytes that are not UTF-8
    return str(spec_path), str(data)


def _rows() -> list[dict[str, Any]]:
    return [{"case_report": f"patient {i}", "correct_answer": gene} for i, gene in enumerate(GENES)]


def test_a_naive_gene_grader_is_flagged_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec, data = _write(tmp_path, NAIVE, _rows())
    assert main(["check", spec, "--data", data, "--max-examples", "30"]) == 1
    out = capsys.readouterr().out
    assert "properties: ok (30 hypothesis examples" in out
    padded = next(line for line in out.splitlines() if line.startswith("padded_list "))
    assert padded.split()[1:6] == ["1.000", "1.000", "1.00", "0.50", "30"] and padded.endswith("FLAGGED")
    assert "fix: set `max_items` on list_rank" in out
    assert out.rstrip().endswith("1 finding (threshold 0.5 of the reference's score)")


def test_the_fixed_grader_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec, data = _write(tmp_path, {**NAIVE, "max_items": 20}, _rows())
    assert main(["check", spec, "--data", data, "--max-examples", "30"]) == 0
    out = capsys.readouterr().out
    assert "FLAGGED" not in out and "no findings" in out


def test_json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec, data = _write(tmp_path, NAIVE, _rows())
    assert main(["check", spec, "--data", data, "--max-examples", "0", "--json", "--limit", "10"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["items"] == 10 and report["flagged"] == ["padded_list"]
    assert report["properties"] == {"ok": True, "examples": 0}
    by_name = {p["probe"]: p for p in report["probes"]}
    assert by_name["empty"]["earned"] == 0.0 and by_name["empty"]["reference"] == 1.0


def test_rows_missing_a_field_are_noted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec, data = _write(tmp_path, {**NAIVE, "max_items": 20}, [*_rows(), {"case_report": "no answer"}])
    assert main(["check", spec, "--data", data, "--max-examples", "10"]) == 0
    assert "note: 1 of 31 rows lack fields the spec reads (row 31 lacks correct_answer)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("spec", "rows", "args", "message"),
    [
        (NAIVE, '{"correct_answer": "A"}\n{not json\n', [], "valid.jsonl:2: not valid JSON"),
        (NAIVE, '["a list"]\n', [], "valid.jsonl:1: expected a JSON object, got list"),
        (NAIVE, "\n\n", [], "valid.jsonl: no rows"),
        ({**NAIVE, "decay": "linear"}, _rows(), [], "decay 'linear' needs the field 'k'"),
        ({**NAIVE, "type": "list_rnk"}, _rows(), [], "did you mean 'list_rank'?"),
        (NAIVE, _rows(), ["--limit", "0"], "--limit must be >= 1"),
        (NAIVE, _rows(), ["--threshold", "x"], "invalid float value"),
        (NAIVE, _rows(), ["--threshold", "nan"], "--threshold >= 0"),
        (NAIVE, '{"correct_answer": "ok"}\n{"correct_answer": "caf\udce9"}\n', [], "valid.jsonl:2: not valid JSON"),
    ],
    ids=["bad-line", "not-an-object", "empty-data", "spec-error", "unknown-kind", "bad-limit", "bad-threshold",
         "nan-threshold", "not-utf8"],
)
def test_usage_spec_and_data_errors_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: dict[str, Any], rows: Any, args: list[str], message: str
) -> None:
    spec_path, data = _write(tmp_path, spec, rows)
    assert main(["check", spec_path, "--data", data, *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err and captured.err.count("\n") == 1


def test_missing_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec, data = _write(tmp_path, NAIVE, _rows())
    assert main(["check", spec, "--data", str(tmp_path / "nope.jsonl")]) == 2
    assert main(["check", str(tmp_path / "nope.json"), "--data", data]) == 2
    assert main(["check", spec]) == 2
    assert "the following arguments are required: --data" in capsys.readouterr().err


# --- the pytest plugin --------------------------------------------------------------------------


def test_the_pytest_plugin_imports_nothing_heavy() -> None:
    code = "import sys, rftkit.pytest_plugin; print(sorted(m for m in ('graders', 'hypothesis', 'pydantic') " \
           "if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"]["pytest11"] == {"rftkit": "rftkit.pytest_plugin"}


pytest_plugins = ["pytester"]


def test_the_grader_properties_fixture(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # load the plugin by name only, whether or not this install registered its entry point
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(
        test_user=textwrap.dedent(
            """
            import pytest
            from graders.testing import GraderPropertyError

            EXACT = {"type": "string_check", "name": "exact", "operation": "eq",
                     "input": "{{sample.output_text}}", "reference": "{{item.answer}}"}

            def test_good(grader_properties):
                grader_properties(EXACT, items=[{"answer": "Paris"}], max_examples=20)

            def test_from_a_file(grader_properties, tmp_path):
                import json
                path = tmp_path / "spec.json"
                path.write_text(json.dumps(EXACT))
                grader_properties(str(path), max_examples=10)

            def test_bad(grader_properties):
                rank = {"type": "list_rank", "name": "r", "input": "{{sample.output_text}}",
                        "reference": "{{item.answer}}", "decay": "table", "table": [0.5, 0.9]}
                with pytest.raises(GraderPropertyError, match="non_increasing_in_rank"):
                    grader_properties(rank, max_examples=50, derandomize=True)
            """
        )
    )
    result = pytester.runpytest("-p", "rftkit.pytest_plugin", "-q")
    result.assert_outcomes(passed=3)


def test_references_that_cannot_be_graded_fail_the_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the reference field holds objects, so no answer can be ranked: nothing would be measured
    rows = [{"correct_answer": {"gene": gene}} for gene in GENES]
    spec, data = _write(tmp_path, {**NAIVE, "max_items": 20}, rows)
    assert main(["check", spec, "--data", data, "--max-examples", "5"]) == 1
    out = capsys.readouterr().out
    assert "note: 30 of 30 reference answers could not be graded (reference_parse_error x30)" in out


def test_a_grader_paying_for_nothing_reports_an_infinite_ratio(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ne = {"type": "string_check", "name": "differs", "operation": "ne", "input": "{{sample.output_text}}",
          "reference": "{{item.correct_answer}}"}
    spec, data = _write(tmp_path, ne, _rows())
    assert main(["check", spec, "--data", data, "--max-examples", "0"]) == 1
    out = capsys.readouterr().out
    empty = next(line for line in out.splitlines() if line.startswith("empty "))
    assert empty.split()[1:4] == ["1.000", "0.000", "inf"]
    assert "empty (an empty output) earns 1.000 where the reference answer earns 0.000" in out
    assert main(["check", spec, "--data", data, "--max-examples", "0", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["probes"][0]["ratio"] is None and report["probes"][0]["flagged"]


def test_a_judge_that_pays_for_anything_is_flagged_everywhere(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(__file__).parents[2]
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("RFTKIT_CACHE", "off")
    with FakeOpenAIServer() as server:  # its default reply: {"result": 1.0} to every request
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        code = main(["check", str(root / "specs/judge_qa.json"), "--data", str(root / "examples/check/qa.jsonl"),
                     "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["properties"] == {"ok": True, "examples": 20}  # fewer for a paid judge
    assert report["flagged"] == ["empty", "whitespace", "padded_list", "format_only", "multiple_answers",
                                 "multiple_boxed", "prompt_injection"]
    fixes = {p["probe"]: p["fix"] for p in report["probes"]}
    assert "content-free answer scores 0" in fixes["empty"] and "fence the output" in fixes["prompt_injection"]


def test_a_judge_server_that_cannot_grade_stops_the_check_at_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # e.g. a wrong model name: without the early stop, every property example and probe would call it
    root = Path(__file__).parents[2]
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("RFTKIT_CACHE", "off")
    with FakeOpenAIServer(lambda request: Reply.error(404)) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        code = main(["check", str(root / "specs/judge_qa.json"), "--data", str(root / "examples/check/qa.jsonl")])
        calls = len(server.chat_requests)
    captured = capsys.readouterr()
    assert code == 1 and captured.out == "" and calls == 1
    errors = [line for line in captured.err.splitlines() if not line.startswith("rftkit check: ")]  # progress
    assert len(errors) == 1 and errors[0].startswith("error: the judge cannot grade the first reference answer: ")


def test_a_judge_check_says_what_it_will_cost_shows_progress_and_stops_at_max_calls(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(__file__).parents[2]
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("RFTKIT_CACHE", "off")
    argv = ["check", str(root / "specs/judge_qa.json"), "--data", str(root / "examples/check/qa.jsonl")]
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        assert main([*argv, "--max-examples", "2"]) == 1  # flagged, as above
        full = len(server.chat_requests)
        err = capsys.readouterr().err.splitlines()
        assert err[0].startswith("rftkit check: ") and "calls a model judge: about " in err[0]
        estimate = int(err[0].split("about ")[1].split()[0])
        assert full <= estimate <= 3 * full  # an estimate, on the side of caution
        assert "rftkit check: probe prompt_injection (" in "\n".join(err)
        assert err[-1] == f"rftkit check: done ({full} model calls)"

        assert main([*argv, "--max-examples", "2", "--max-calls", "17"]) == 1
        assert len(server.chat_requests) - full == 17  # the cap is real: call 18 was never sent
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("error: rftkit check stopped before it was done: 17 model calls reached --max-calls 17")
    assert not any(line.startswith("error:") for line in err[:-1])
