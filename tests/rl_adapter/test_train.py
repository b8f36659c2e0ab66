"""rftkit train: config errors before any model loads, and the tiny example learning end to end."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rftkit.cli import main as rftkit
from rl_adapter._errors import JobConfigError
from rl_adapter._job._config import parse_job

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tiny_rft"
# Training tests run the real trainer: they need the [rl] extra, which `make test` installs.
NEEDS_RL = "needs the [rl] extra: pip install torch==2.13.0 'rftkit[rl]'"


def write_job(tmp_path: Path, **changes: Any) -> Path:
    for name in ("train.jsonl", "valid.jsonl", "grader.json"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    job = json.loads((EXAMPLE / "job.json").read_text())
    for key, value in changes.items():
        if key == "hyperparameters":
            job["hyperparameters"].update(value)
        else:
            job[key] = value
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hyperparameters": {"batch_sise": 4}},
         r"unknown field 'batch_sise'; did you mean 'batch_size'\? .* at hyperparameters.batch_sise"),
        ({"method": "ppo"}, "at method"),
        ({"hyperparameters": {"num_generations": 1}}, "at hyperparameters.num_generations"),
        ({"hyperparameters": {"learning_rate_multiplier": 2.0}}, "learning_rate or learning_rate_multiplier, not both"),
        ({"grader": {"type": "list_rank", "name": "g", "input": "{{sample.output_text}}", "reference": "{{item.x}}",
                     "decay": "tabel"}}, "at grader.decay"),
        ({"grader": {"type": "string_check", "name": "g", "operation": "eq", "input": "{{sample.output_text}}",
                     "reference": "{{item.correct_answers}}"}},
         r"'correct_answers' \(did you mean 'correct_answer'\?\)"),
        ({"training_file": "missing.jsonl"}, "does not exist at training_file"),
        ({"model": "no/such/dir"}, "no model directory .* exists; map it to a local model with --model DIR or "
                                   "--model-alias no/such/dir=DIR at model"),
    ],
    ids=["typo", "method", "generations", "two-lrs", "grader-path", "column-mismatch", "no-file", "no-model"],
)
def test_bad_config_exits_2_with_the_json_path_before_any_model_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], changes: dict[str, Any], message: str
) -> None:
    path = write_job(tmp_path, **changes)
    assert rftkit(["train", "--config", str(path), "--check"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert re.search(message, err), err
    assert not (tmp_path / "runs").exists()


def test_a_bad_config_fails_without_importing_torch(tmp_path: Path) -> None:
    path = write_job(tmp_path, hyperparameters={"batch_sise": 4})
    code = (
        "import sys; from rftkit.cli import main; "
        f"code = main(['train', '--config', {str(path)!r}]); "
        "print(code, 'torch' in sys.modules, 'trl' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == ["2", "False", "False"]


def test_bad_data_line_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_job(tmp_path)
    with (tmp_path / "train.jsonl").open("a") as handle:
        handle.write('{"prompt": "case: s1 answer:", "correct_answer": "G1"\n')
    assert rftkit(["train", "--config", str(path), "--check"]) == 2
    assert "train.jsonl:514: not valid JSON" in capsys.readouterr().err


def test_check_passes_on_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert rftkit(["train", "--config", str(EXAMPLE / "job.json"), "--check"]) == 0
    assert "ok" in capsys.readouterr().out


def test_relative_paths_are_read_from_the_config_folder() -> None:
    job = parse_job({"model": "tiny", "training_file": "t.jsonl", "grader": "g.json"}, base_dir="/data/x")
    assert job.path(job.training_file) == Path("/data/x/t.jsonl")
    with pytest.raises(JobConfigError, match="missing required field at training_file"):
        parse_job({"model": "tiny", "grader": "g.json"})


@pytest.mark.slow
def test_tiny_example_learns_through_rftkit_train(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("trl", reason=NEEDS_RL)
    out = tmp_path / "run"
    code = rftkit(["train", "--config", str(EXAMPLE / "job.json"), "--output-dir", str(out)])
    assert code == 0, capsys.readouterr().err
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [m["train_reward_mean"] for m in lines if m.get("train_reward_mean") is not None]
    assert len(train) == 60
    first, last = sum(train[:6]) / 6, sum(train[-6:]) / 6
    assert last - first >= 0.3, (first, last)
    valid = [m for m in lines if "valid_reward_mean" in m]
    assert [m["step"] for m in valid] == [0, 20, 40, 60]
    assert valid[-1]["valid_reward_mean"] - valid[0]["valid_reward_mean"] >= 0.3
    assert "valid_top@1" in valid[-1] and valid[-1]["valid_errors"] == {}
    assert any(key.startswith("train/rewards/gene_rank/") for key in lines[-1])
    best = json.loads((out / "result.json").read_text())["best_valid"]
    assert Path(best["checkpoint"]).is_dir() and len(list((out / "checkpoints").iterdir())) == 1
    assert best["valid_reward_mean"] == max(m["valid_reward_mean"] for m in valid)
    report = (out / "report.md").read_text()
    assert "valid_reward_mean" in report and (out / "reward_curve.svg").read_text().count("<polyline") == 2


@pytest.mark.slow
def test_rloo_with_sft_warmup_and_a_grader_that_errs(tmp_path: Path) -> None:
    """RLOO (beta > 0 needs the model by path), SFT warm-up first, sampled validation, and a multi
    grader with a part that always errs: errors counted, parts logged, partial credit kept."""
    pytest.importorskip("trl", reason=NEEDS_RL)
    rows = [json.loads(line) for line in (EXAMPLE / "train.jsonl").read_text().splitlines()][:64]
    for row in rows:
        row["completion"] = row["correct_answer"]
    path = write_job(
        tmp_path,
        method="rloo",
        sft_warmup={"n_epochs": 4, "batch_size": 16, "learning_rate": 0.003},
        grader={"type": "multi", "name": "mix", "calculate_output": "0.5 * js + 0.5 * rank", "graders": {
            "js": {"type": "string_check", "name": "js", "operation": "eq",
                   "input": "{{sample.output_json.gene}}", "reference": "{{item.correct_answer}}"},
            "rank": json.loads((EXAMPLE / "grader.json").read_text()),
        }},
        hyperparameters={"max_steps": 2, "batch_size": 4, "num_generations": 4, "eval_interval": 1,
                         "beta": 0.05, "eval_greedy": False},
    )
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    valid = (EXAMPLE / "valid.jsonl").read_text().splitlines()[:8]
    (tmp_path / "valid.jsonl").write_text("\n".join(valid) + "\n")
    assert rftkit(["train", "--config", str(path), "--output-dir", str(tmp_path / "run")]) == 0
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert (tmp_path / "run" / "sft_model").is_dir()
    # Tiny-model output is never JSON: every sample is a counted sample_parse_error, no crash,
    # and the reward is the other part's partial credit.
    last = lines[-1]
    assert last["train/mix/errors/sample_parse_error"] == 16.0 and last["valid_errors"] == {"sample_parse_error": 8}
    assert last["train/mix/js"] == 0.0 and last["train_reward_mean"] == pytest.approx(0.5 * last["train/mix/rank"])
    assert last["valid/js"] == 0.0 and last["valid_reward_mean"] == pytest.approx(0.5 * last["valid/rank"])
    # The SFT warm-up taught the answer words: the rank part earns credit from the first validation on.
    assert lines[0]["step"] == 0 and lines[0]["valid/rank"] > 0.1
    assert max(line.get("train/mix/rank", 0.0) for line in lines) > 0


# Rows Arrow would alter (ints beside floats, objects with different keys, nulls, a mixed-type column).
INTACT_ROWS = [
    {"prompt": "case one", "n": 3, "expected": {"a": 1}, "mixed": "x", "maybe": None},
    {"prompt": "case two", "n": 2.5, "expected": {"b": [1, 2], "c": None}, "mixed": 5},
    {"prompt": "case three", "n": 10, "expected": {"a": 1, "d": {"e": 1.0}}, "mixed": [1, "two", None], "maybe": 1},
]
# 1.0 exactly when the item is the row as written: the types, the keys, the absent key.
INTACT_GRADER = {"type": "python", "name": "intact", "source": (
    "ROWS = " + repr({row["prompt"]: row for row in INTACT_ROWS}) + "\n"
    "def grade(sample, item):\n"
    "    row = ROWS[item['prompt']]\n"
    "    same = item == row and type(item['n']) is type(row['n']) and set(item['expected']) == set(row['expected'])\n"
    "    return 1.0 if same else 0.0\n"
)}


def test_items_reach_the_grader_intact_in_training_and_validation(tmp_path: Path) -> None:
    rows = INTACT_ROWS * 4
    for name in ("train.jsonl", "valid.jsonl"):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    job = {"model": "tiny", "tiny_model": {"hidden_size": 16, "intermediate_size": 16, "num_heads": 2,
                                           "num_kv_heads": 1},
           "training_file": "train.jsonl", "validation_file": "valid.jsonl", "grader": INTACT_GRADER,
           "hyperparameters": {"max_steps": 2, "batch_size": 4, "num_generations": 2, "eval_interval": 2,
                               "max_completion_length": 2}}
    (tmp_path / "job.json").write_text(json.dumps(job))
    assert rftkit(["train", "--config", str(tmp_path / "job.json"), "--output-dir", str(tmp_path / "run")]) == 0
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [m["train_reward_mean"] for m in lines if m["step"] > 0] == [1.0, 1.0]
    assert [m["valid_reward_mean"] for m in lines if "valid_reward_mean" in m] == [1.0, 1.0]
