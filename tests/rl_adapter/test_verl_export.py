"""``rftkit export verl``: the command, its files and its one-line errors (verl itself: test_verl_real.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rftkit.cli import main

JOB = Path(__file__).parents[2] / "examples" / "tiny_rft" / "job.json"


def test_export_writes_data_grader_and_launch_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pyarrow.parquet as pq

    assert main(["export", "verl", str(JOB), str(tmp_path), "--algorithm", "ppo", "--model", "my/model"]) == 0
    launch = (tmp_path / "launch.sh").read_text()
    assert "algorithm.adv_estimator=gae" in launch and "critic.model.path=my/model" in launch
    assert "reward.custom_reward_function.path=" in launch and "\n    custom_reward_function" not in launch
    rows = [json.loads(line) for line in (JOB.parent / "train.jsonl").read_text().splitlines() if line.strip()]
    table = pq.read_table(tmp_path / "train.parquet").to_pylist()
    assert [json.loads(r["extra_info"]["rftkit_item"]) for r in table] == rows
    assert json.loads((tmp_path / "grader.json").read_text())["type"] == "list_rank"
    assert capsys.readouterr().out.splitlines()[-1].startswith("python3 -m verl.trainer.main_ppo ")


def test_a_missing_job_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "verl", str(tmp_path / "nope.json"), str(tmp_path / "out")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
