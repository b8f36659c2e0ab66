"""Model-judge specs: spec errors with JSON paths, hosted round trip, the example specs, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import judge_support
import pytest

from graders import SpecError, compile_spec, load_spec
from graders.testing.openai_server import FakeOpenAIServer, RecordedRequest

pytestmark = pytest.mark.usefixtures("isolated_settings")
score_spec = judge_support.score_spec
label_spec = judge_support.label_spec


# --- specs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "path", "why"),
    [
        ({"model": None}, "model", "missing required field"),
        ({"model": ""}, "model", "at least 1 character"),
        ({"labels": []}, "labels", "at least 1 item"),
        ({"passing_labels": ["good", "god"]}, "passing_labels[1]", "did you mean 'good'"),
        ({"labels": ["good", "bad", "good"]}, "labels[2]", "listed twice"),
        ({"judge_samples": 0}, "judge_samples", "greater than or equal to 1"),
        ({"structured_output": "sometimes"}, "structured_output", "boolean"),
    ],
)
def test_label_spec_errors(server: FakeOpenAIServer, change: dict[str, Any], path: str, why: str) -> None:
    spec = {k: v for k, v in {**label_spec(server), **change}.items() if v is not None}
    with pytest.raises(SpecError) as info:
        compile_spec(spec)
    assert f"at {path}" in str(info.value) and why in str(info.value)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"range": [1, 0]}, "range"),
        ({"range": [1, 1]}, "range"),
        ({"aggregate": "majority"}, "aggregate"),
        ({"input": []}, "input"),
        ({"input": [{"role": "user", "content": "{{item.}}"}]}, "input[0].content"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_text", "text": "{{smaple.x}}"}]}]},
            "input[0].content[0].text",
        ),
        ({"sampling_params": {"max_completion_tokens": 5}}, "sampling_params.max_completion_tokens"),
    ],
)
def test_score_spec_errors(server: FakeOpenAIServer, change: dict[str, Any], path: str) -> None:
    with pytest.raises(SpecError) as info:
        compile_spec(score_spec(server, **change))
    assert f"at {path}" in str(info.value)


def test_spec_error_inside_multi_names_the_full_path(server: FakeOpenAIServer) -> None:
    spec = {
        "type": "multi",
        "graders": {"verdict": label_spec(server, passing_labels=["great"])},
        "calculate_output": "verdict",
    }
    with pytest.raises(SpecError, match=r"at graders\.verdict\.passing_labels\[0\]"):
        compile_spec(spec)


def test_hosted_specs_round_trip_unchanged() -> None:
    hosted = {
        "type": "score_model",
        "name": "model_grader_1",
        "model": "gpt-4.1-2025-04-14",
        "input": [{"role": "user", "content": "Grade {{sample.output_text}} against {{item.reference_answer}}."}],
        "range": [0, 1],
        "sampling_params": {"temperature": 0, "seed": 42, "max_completions_tokens": 32768},
        "pass_threshold": 0.75,
    }
    label = {
        "type": "label_model",
        "name": "l",
        "model": "gpt-4o-mini",
        "input": [{"role": "developer", "content": "Label it", "type": "message"}],
        "labels": ["yes", "no"],
        "passing_labels": ["yes"],
    }
    for spec in (hosted, label):
        with compile_spec(spec) as grader:
            assert json.loads(json.dumps(grader.spec.to_json())) == json.loads(json.dumps(spec))


def test_openai_is_imported_only_when_a_judge_runs(server: FakeOpenAIServer) -> None:
    code = f"""
import sys, graders
g = graders.compile_spec({json.dumps(score_spec(server))})
print('openai' in sys.modules)
g.grade('x', {{'reference': 'y'}})
print('openai' in sys.modules)
g.close()
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["False", "True"]


# --- the example specs -------------------------------------------------------------------------

SPECS = Path(__file__).resolve().parents[2] / "specs"


@pytest.mark.parametrize(("name", "expected"), [("judge_qa.json", [1.0, 0.25]), ("judge_multi.json", [1.0, 0.2])])
def test_example_specs_grade_against_any_server(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, name: str, expected: list[float]
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)  # the specs name no server: the environment does

    def judge(request: RecordedRequest) -> dict[str, Any]:
        student = request.messages[-1]["content"].split("Student answer: ", 1)[1]
        return {
            "steps": [{"description": "compare", "conclusion": student}],
            "result": 1.0 if "Au" in student else 0.25,
        }

    server.reply_fn = judge
    item = {"question": "What is the chemical symbol for gold?", "reference_answer": "Au"}
    with load_spec(SPECS / name) as grader:
        scores = grader.grade_batch(["Au, from Latin aurum.", "Ag"], [item, item])
    assert [round(s.value, 6) for s in scores] == expected
    assert all(s.error is None for s in scores)
    assert grader.item_fields == frozenset({"question", "reference_answer"})


def test_cli_grade_with_cache_options(
    server: FakeOpenAIServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from graders.cli import main

    server.reply_fn = lambda request: {"steps": [], "result": 0.5}
    args = ["--sample", "Au", "--item", '{"question": "q", "reference_answer": "Au"}', "--base-url", server.url]
    cache = tmp_path / "cli.sqlite"
    assert main("grade", [str(SPECS / "judge_qa.json"), *args, "--cache", str(cache)]) == 0
    assert json.loads(capsys.readouterr().out)["value"] == 0.5
    assert main("grade", [str(SPECS / "judge_qa.json"), *args, "--cache", str(cache)]) == 0
    assert json.loads(capsys.readouterr().out)["details"]["cached"] is True
    assert main("grade", [str(SPECS / "judge_qa.json"), *args, "--no-cache"]) == 0
    assert json.loads(capsys.readouterr().out)["details"]["cached"] is False
    assert len(server.chat_requests) == 2 and cache.exists()
