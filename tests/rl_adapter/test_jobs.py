"""The hosted job body through ``rftkit train``: parsing, auto rules, bad input, outputs, early stop."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from rftkit.cli import main as rftkit
from rl_adapter._errors import JobConfigError
from rl_adapter._job._auto import resolve, resolve_thinking
from rl_adapter._job._config import Hyperparameters, parse_job

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tiny_rft"
GRADER = json.loads((EXAMPLE / "grader.json").read_text())
SMALL_TINY = {"hidden_size": 16, "intermediate_size": 32, "num_heads": 2, "num_kv_heads": 1}


def hosted_body(**changes: Any) -> dict[str, Any]:
    """A hosted POST /v1/fine_tuning/jobs body, as a user would send it."""
    body: dict[str, Any] = {
        "model": "o4-mini-2025-04-16", "training_file": "train.jsonl", "validation_file": "valid.jsonl",
        "seed": 7, "suffix": "genes", "metadata": {"team": "bio"},
        "method": {"type": "reinforcement", "reinforcement": {
            "grader": GRADER,
            "hyperparameters": {"n_epochs": "auto", "batch_size": "auto", "learning_rate_multiplier": "auto",
                                "eval_interval": "auto", "eval_samples": "auto", "compute_multiplier": "auto",
                                "reasoning_effort": "medium"}}},
    }
    body.update(changes)
    return body


def write(tmp_path: Path, body: dict[str, Any], *, valid_rows: int = 64) -> Path:
    shutil.copy(EXAMPLE / "train.jsonl", tmp_path / "train.jsonl")
    lines = (EXAMPLE / "valid.jsonl").read_text().splitlines()[:valid_rows]
    (tmp_path / "valid.jsonl").write_text("".join(line + "\n" for line in lines))
    path = tmp_path / "job.json"
    path.write_text(json.dumps(body))
    return path


def test_the_hosted_body_parses_unchanged_with_extras_in_one_place() -> None:
    body = hosted_body(rftkit={"algorithm": "rloo", "tiny_model": SMALL_TINY,
                               "hyperparameters": {"max_completion_length": 4, "num_generations": 4}})
    body["integrations"] = [{"type": "wandb", "wandb": {"project": "genes"}}]
    job = parse_job(body, base_dir="/data")
    assert job.method == "rloo" and job.suffix == "genes" and job.metadata == {"team": "bio"}
    assert [i.model_dump() for i in job.integrations or []] == body["integrations"]
    assert job.hyperparameters.seed == 7 and job.hyperparameters.reasoning_effort == "medium"
    assert job.hyperparameters.n_epochs == "auto" and job.hyperparameters.num_generations == 4
    assert job.grader == GRADER and job.path(job.training_file) == Path("/data/train.jsonl")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (hosted_body(method={"type": "reinforcement", "reinforcement": {"grader": GRADER, "hyperparameters": {
            "n_epoch": 2}}}),
         r"unknown field 'n_epoch'; did you mean 'n_epochs'\? .* at method.reinforcement.hyperparameters.n_epoch"),
        (hosted_body(method={"type": "reinforcement", "reinforcement": {"grader": GRADER, "hyperparameters": {
            "max_steps": 2}}}),
         r"rftkit's own hyperparameters go in rftkit.hyperparameters .* at method.reinforcement.hyperparameters"),
        (hosted_body(method={"type": "supervised", "reinforcement": {"grader": GRADER}}), "at method.type"),
        (hosted_body(method={"type": "reinforcement", "reinforcment": {"grader": GRADER}}),
         r"did you mean 'reinforcement'\? .* at method.reinforcment"),
        (hosted_body(sufix="x"), r"did you mean 'suffix'\? .* at sufix"),
        (hosted_body(integrations=[{"type": "mlflow"}]),
         r"should be 'wandb' \(got 'mlflow'\) at integrations\[0\].type"),
        (hosted_body(rftkit={"hyperparameters": {"tempreature": 0.5}}),
         r"did you mean 'temperature'\? .* at rftkit.hyperparameters.tempreature"),
        (hosted_body(method={"type": "reinforcement", "reinforcement": {"grader": GRADER, "hyperparameters": {
            "batch_size": 0}}}), "at method.reinforcement.hyperparameters.batch_size"),
        (hosted_body(method={"type": "reinforcement", "reinforcement": {"grader": GRADER, "hyperparameters": {
            "eval_samples": "many"}}}), "at method.reinforcement.hyperparameters.eval_samples"),
        (hosted_body(method={"type": "reinforcement", "reinforcement": {"grader": GRADER, "hyperparameters": {
            "learning_rate_multiplier": 2}}}, rftkit={"hyperparameters": {"learning_rate": 0.1}}),
         r"learning_rate or learning_rate_multiplier, not both .* at method.reinforcement.hyperparameters$"),
    ],
    ids=["hp-typo", "extra-in-hosted", "method-type", "reinforcement-typo", "top-typo", "integration-type",
         "extra-typo", "zero", "not-a-number", "two-lrs"],
)
def test_bad_bodies_name_the_json_path(body: dict[str, Any], message: str) -> None:
    with pytest.raises(JobConfigError, match=message):
        parse_job(body)


@pytest.mark.parametrize(
    ("n_train", "given", "expected"),
    [
        (513, {}, {"batch_size": 8, "n_epochs": 2, "total_steps": 130, "eval_interval": 13, "eval_samples": 1,
                   "learning_rate": 1e-6, "num_generations": 8, "eval_greedy": True}),
        (40, {}, {"batch_size": 8, "n_epochs": 10, "total_steps": 50, "eval_interval": 5}),
        (5, {}, {"batch_size": 5, "n_epochs": 10, "total_steps": 10, "eval_interval": 1}),
        (100_000, {}, {"batch_size": 8, "n_epochs": 1, "total_steps": 12_500, "eval_interval": 1250}),
        (513, {"batch_size": 16, "learning_rate_multiplier": 3.0, "compute_multiplier": 1.5, "eval_samples": 3},
         {"total_steps": 66, "learning_rate": 3e-6, "num_generations": 12, "eval_samples": 3, "eval_greedy": False}),
        (513, {"max_steps": 20, "compute_multiplier": 0.1}, {"total_steps": 20, "eval_interval": 2,
                                                              "num_generations": 2}),
    ],
    ids=["example", "small", "tiny", "large", "explicit", "max-steps"],
)
def test_auto_rules(n_train: int, given: dict[str, Any], expected: dict[str, Any]) -> None:
    resolved = resolve(Hyperparameters(**given), n_train).to_dict()
    assert {key: resolved[key] for key in expected} == pytest.approx(expected)


def test_reasoning_effort_uses_the_thinking_switch_where_the_template_has_one() -> None:
    qwen3 = "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>{% endif %}"
    assert resolve_thinking("high", qwen3) == ({"enable_thinking": True}, "enable_thinking=true")
    assert resolve_thinking("none", qwen3)[0] == {"enable_thinking": False}
    assert resolve_thinking("auto", qwen3)[0] == {}
    kwargs, applied = resolve_thinking("high", "{{ messages }}")
    assert kwargs == {} and applied.startswith("not applicable")


def test_an_unmapped_hosted_model_exits_2_saying_how_to_map_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, hosted_body())
    assert rftkit(["train", "--config", str(path), "--check"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--model-alias o4-mini-2025-04-16=DIR" in err and "--model DIR" in err
    assert rftkit(["train", "--config", str(path), "--check", "--model-alias", "o4-mini-2025-04-16=tiny"]) == 0
    assert rftkit(["train", "--config", str(path), "--check", "--model", "tiny"]) == 0


@pytest.mark.parametrize(
    ("valid", "message"),
    [
        ("", r"valid.jsonl: no rows"),
        ('{"prompt": "case: s1 answer:", "correct_answer": "G1"}\n{"prompt": "x"\n', r"valid.jsonl:2: not valid JSON"),
        ('{"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}], "correct_answer": 1}\n',
         r"valid.jsonl:1: the last prompt message must come from the user"),
        ('{"correct_answer": "G1"}\n', r"valid.jsonl:1: needs 'prompt'"),
    ],
    ids=["empty", "bad-json", "last-not-user", "no-prompt"],
)
def test_bad_validation_files_are_refused_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], valid: str, message: str
) -> None:
    path = write(tmp_path, hosted_body(model="tiny"))
    (tmp_path / "valid.jsonl").write_text(valid)
    assert rftkit(["train", "--config", str(path), "--check"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert re.search(message, err), err


@pytest.mark.slow
def test_a_hosted_job_writes_the_hosted_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Events, the 3 best checkpoints, job.json with a loadable model, evalkit runs per validation step."""
    body = hosted_body(
        method={"type": "reinforcement", "reinforcement": {
            "grader": {"type": "multi", "name": "mix", "calculate_output": "0.5 * rank + 0.5 * first", "graders": {
                "rank": GRADER,
                "first": {"type": "string_check", "name": "first", "operation": "like",
                          "input": "{{sample.output_text}}", "reference": "{{item.correct_answer}}"}}},
            "hyperparameters": {"batch_size": 8, "learning_rate_multiplier": 3000, "eval_interval": 1,
                                "eval_samples": 2, "reasoning_effort": "high"}}},
        rftkit={"tiny_model": SMALL_TINY, "hyperparameters": {"max_completion_length": 3, "num_generations": 4}},
        integrations=[{"type": "wandb", "wandb": {"project": "genes"}}],
    )
    path = write(tmp_path, body, valid_rows=16)
    out = tmp_path / "run"
    code = rftkit(["train", "--config", str(path), "--out", str(out), "--max-steps", "4", "--model", "tiny"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "step 4/4" in captured.err and "eta" in captured.err
    assert f"Integrations (wandb) are recorded but not run here: the job's metrics are in {out}" in captured.err

    job = json.loads((out / "job.json").read_text())
    assert job["object"] == "fine_tuning.job" and job["status"] == "succeeded" and job["error"] is None
    assert job["model"] == "o4-mini-2025-04-16" and job["suffix"] == "genes" and job["seed"] == 7
    assert job["created_at"] <= job["estimated_finish"] <= job["finished_at"] + 1  # updated until step 4
    assert job["integrations"] == body["integrations"]
    resolved = job["method"]["reinforcement"]["hyperparameters"]
    assert resolved["eval_samples"] == 2 and resolved["n_epochs"] == 2 and resolved["total_steps"] == 4
    assert job["rftkit"]["reasoning_effort"].startswith("not applicable")
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(job["fine_tuned_model"]).config.hidden_size == 16

    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert all(e["object"] == "fine_tuning.job.event" for e in events)
    assert len({e["id"] for e in events}) == len(events)
    metrics = [e for e in events if e["type"] == "metrics"]
    assert [e["data"]["step"] for e in metrics] == [0, 1, 2, 3, 4]
    last = metrics[-1]["data"]
    assert last["total_steps"] == 4
    assert {g["name"] for g in last["scores"]["graders"]} == {"rank", "first"}
    assert set(last["scores"]) == {"train_reward_mean", "valid_reward_mean", "graders"}
    assert set(last["timing"]["step"]) == {"sampling", "training", "eval", "full_iteration"}
    assert last["timing"]["step"]["full_iteration"] >= last["timing"]["step"]["sampling"] > 0
    assert "train_sample_parse_error_mean" in last["errors"]["graders"][0]
    samples = last["usage"]["samples"]  # 8 prompts x 4 generations, at most 3 tokens each
    assert samples["train_completion_tokens_count"] == round(samples["train_completion_tokens_mean"] * 32) > 0
    assert last["completion_tokens_mean"] == samples["train_completion_tokens_mean"] <= 3
    assert last["usage"]["graders"][0]["train_prompt_tokens_count"] == 0 and last["model_graders_token_usage"] == {}
    assert "full validation mean reward=" in metrics[-1]["message"]

    checkpoints = [json.loads(line) for line in (out / "checkpoints.jsonl").read_text().splitlines()]
    assert len(checkpoints) == 3 and all(c["object"] == "fine_tuning.job.checkpoint" for c in checkpoints)
    valid = {e["data"]["step"]: e["data"]["scores"]["valid_reward_mean"] for e in metrics if e["data"]["step"]}
    best3 = sorted(valid, key=lambda s: (-valid[s], s))[:3]
    assert sorted(c["step_number"] for c in checkpoints) == sorted(best3)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == sorted(f"step-{s}" for s in best3)
    assert all(Path(c["fine_tuned_model_checkpoint"]).is_dir() for c in checkpoints)

    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert all(line["valid_samples"] == 32 for line in lines)  # 16 rows x eval_samples 2
    with (out / "step_metrics.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["step"]) for row in rows] == [0, 1, 2, 3, 4]
    assert rows[0]["train_reward_mean"] == ""  # step 0 is the base model's validation
    valid = [line["valid_reward_mean"] for line in lines]
    assert [float(row["valid_reward_mean"]) for row in rows] == pytest.approx(valid)
    assert {"valid_top@1", "valid_pass@1", "valid_parse_error_mean", "loss"} <= set(rows[0])
    assert rftkit(["compare", str(out / "evals" / "step-0"), str(out / "evals" / "step-4"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_a_grader_that_errs_on_every_sample_stops_the_job(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = {"type": "python", "name": "broken", "source": "def grade(sample, item):\n    return 1 / 0\n"}
    body = hosted_body(
        model="tiny",
        method={"type": "reinforcement", "reinforcement": {"grader": broken, "hyperparameters": {
            "batch_size": 4, "eval_interval": 50}}},
        rftkit={"tiny_model": SMALL_TINY, "hyperparameters": {"max_completion_length": 2, "num_generations": 2}},
    )
    path = write(tmp_path, body, valid_rows=4)
    out = tmp_path / "run"
    assert rftkit(["train", "--config", str(path), "--out", str(out), "--max-steps", "20"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: grader 'broken' erred on every sample for 3 steps in a row"), err
    assert "python_grader_runtime_error 8 of 8" in err
    job = json.loads((out / "job.json").read_text())
    assert job["status"] == "failed" and job["error"]["code"] == "grader_error" and job["fine_tuned_model"] is None
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert max(e["data"]["step"] for e in events if e["type"] == "metrics") == 3
    assert events[-1]["level"] == "error"


JUDGE_USAGE = {"prompt_tokens": 40, "completion_tokens": 3, "total_tokens": 43,
               "prompt_tokens_details": {"cached_tokens": 8}}


@pytest.mark.slow
def test_metrics_events_count_the_judge_tokens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A score_model grader's tokens, per step, in training and validation (no cache: every call counts)."""
    from graders.client import ClientSettings, configure
    from graders.testing.openai_server import FakeOpenAIServer, Reply

    judge = {"type": "score_model", "name": "judge", "model": "judge-model", "range": [0, 1],
             "input": [{"role": "user", "content": "Answer {{sample.output_text}} for {{item.correct_answer}}"}]}
    body = hosted_body(
        model="tiny",
        method={"type": "reinforcement", "reinforcement": {"grader": judge, "hyperparameters": {
            "batch_size": 2, "eval_interval": 1, "eval_samples": 1}}},
        rftkit={"tiny_model": SMALL_TINY, "hyperparameters": {"max_completion_length": 2, "num_generations": 2}},
    )
    path = write(tmp_path, body, valid_rows=3)
    with FakeOpenAIServer(lambda request: Reply.json({"result": 0.5, "steps": []}, usage=JUDGE_USAGE)) as server:
        monkeypatch.setenv("OPENAI_API_KEY", "judge-key")
        old = configure(ClientSettings(base_url=server.url, cache=None))
        try:
            code = rftkit(["train", "--config", str(path), "--out", str(tmp_path / "run"), "--max-steps", "2"])
        finally:
            configure(old)
        calls = len(server.chat_requests)
    assert code == 0, capsys.readouterr().err
    events = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    metrics = [e["data"] for e in events if e["type"] == "metrics"]
    assert [m["step"] for m in metrics] == [0, 1, 2]
    assert calls == 3 + 2 * (4 + 3)  # validation at steps 0, 1, 2 (3 rows); 4 completions a step
    for data in metrics:
        (usage,) = data["usage"]["graders"]
        assert usage["name"] == "judge"
        assert (usage["valid_prompt_tokens_count"], usage["valid_completion_tokens_count"]) == (3 * 40, 3 * 3)
        assert (usage["valid_prompt_tokens_mean"], usage["valid_completion_tokens_mean"]) == (40, 3)
        per_model = data["model_graders_token_usage"]["judge-model"]
        assert (per_model["eval_prompt_tokens"], per_model["eval_cached_tokens"]) == (3 * 40, 3 * 8)
    for data in metrics[1:]:
        (usage,) = data["usage"]["graders"]
        assert (usage["train_prompt_tokens_count"], usage["train_prompt_tokens_mean"]) == (4 * 40, 40)
        assert usage["train_completion_tokens_count"] == 4 * 3
        per_model = data["model_graders_token_usage"]["judge-model"]
        assert per_model == {"train_prompt_tokens": 160, "train_completion_tokens": 12, "train_cached_tokens": 32,
                             "eval_prompt_tokens": 120, "eval_completion_tokens": 9, "eval_cached_tokens": 24}
    assert metrics[0]["usage"]["graders"][0]["train_prompt_tokens_count"] == 0  # step 0 trains nothing


def test_tools_and_the_thinking_switch_reach_the_chat_template() -> None:
    """Message rows are rendered by the model's chat template with their own tools (and the effort)."""
    from rl_adapter._job._data import render_prompts
    from rl_adapter._job._tiny import build_tokenizer

    tokenizer = build_tokenizer(["hi"])
    tokenizer.chat_template = (
        "{% for m in messages %}[{{ m.role }}] {{ m.content }} {% endfor %}"
        "{% if tools %}TOOLS {% for t in tools %}{{ t.function.name }} {% endfor %}{% endif %}"
        "{% if enable_thinking is defined and not enable_thinking %}NO-THINK {% endif %}"
        "{% if add_generation_prompt %}[assistant]{% endif %}"
    )
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    rows = [
        {"messages": [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "ref"}], "tools": [tool]},
        {"messages": [{"role": "user", "content": "q2"}]},
        {"prompt": "plain text"},
    ]
    rendered = render_prompts(rows, tokenizer, template_kwargs={"enable_thinking": False}, schema=None)
    assert rendered == ["[user] q1 TOOLS lookup NO-THINK [assistant]", "[user] q2 NO-THINK [assistant]",
                        "plain text"]
    with_schema = render_prompts(rows[1:2], tokenizer, template_kwargs={}, schema={"type": "object"})
    assert with_schema[0].startswith("[system] Answer with only a JSON object")
