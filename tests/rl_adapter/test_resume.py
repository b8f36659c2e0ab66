"""``kill -9`` mid-job, then ``rftkit train --resume --out DIR``: the job goes on from its last
checkpoint, no step is counted twice, and the events continue."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.rl_adapter.test_jobs import SMALL_TINY, hosted_body, write

STEPS = 12
KILL_AFTER_STEP = 5  # the trainer checkpoint of step 4 is on disk once step 5 is logged


def metrics_steps(out: Path) -> list[int]:
    events = out / "events.jsonl"
    if not events.is_file():
        return []
    steps = []
    for line in events.read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:  # a line being written
            continue
        if event["type"] == "metrics":
            steps.append(event["data"]["step"])
    return steps


@pytest.mark.slow
def test_kill_9_then_resume_counts_every_step_once(tmp_path: Path) -> None:
    body = hosted_body(
        model="tiny",
        method={"type": "reinforcement", "reinforcement": {"grader": hosted_body()["method"]["reinforcement"]["grader"],
                                                           "hyperparameters": {"batch_size": 4, "eval_interval": 2,
                                                                               "learning_rate_multiplier": 3000}}},
        rftkit={"tiny_model": SMALL_TINY, "hyperparameters": {"max_completion_length": 2, "num_generations": 2}},
    )
    path = write(tmp_path, body, valid_rows=4)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "rftkit", "train", "--config", str(path), "--out", str(out),
               "--max-steps", str(STEPS)]
    with (tmp_path / "first.log").open("w") as log:
        first = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while max(metrics_steps(out), default=-1) < KILL_AFTER_STEP:
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the job did not reach the kill step"
            time.sleep(0.02)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    before = metrics_steps(out)
    assert max(before) < STEPS, "killed too late to test a resume"
    assert json.loads((out / "job.json").read_text())["status"] == "running"  # resumable, not lost

    done = subprocess.run([sys.executable, "-m", "rftkit", "train", "--resume", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert metrics_steps(out) == list(range(STEPS + 1))  # each step once, in order
    assert len({e["id"] for e in events}) == len(events)
    resumed = [e for e in events if e["message"].startswith("Job resumed from the checkpoint of step")]
    assert len(resumed) == 1
    step = resumed[0]["data"]["step"]
    assert step % 2 == 0 and KILL_AFTER_STEP - 1 <= step <= max(before)
    job = json.loads((out / "job.json").read_text())
    assert job["status"] == "succeeded" and Path(job["fine_tuned_model"]).is_dir()
    lines = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert lines == list(range(STEPS + 1))
    checkpoints = [json.loads(line) for line in (out / "checkpoints.jsonl").read_text().splitlines()]
    assert len(checkpoints) == 3 and all(Path(c["fine_tuned_model_checkpoint"]).is_dir() for c in checkpoints)
    assert len(list((out / "checkpoints").iterdir())) == 3
    assert sorted(int(p.name.removeprefix("step-")) for p in (out / "evals").iterdir()) == list(range(0, STEPS + 1, 2))
