"""``kill -9`` mid-job, then ``rftkit train --resume --out DIR``: the job goes on from its last
checkpoint, no step is counted twice, and the events continue. SIGTERM stops at a checkpoint of
the step in flight; a job stopped after its last step's checkpoint trains no step past the total."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rl_adapter._api.worker import WORKER_INPUT, WORKER_LAUNCH
from rl_adapter._job._config import parse_job
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


def hosted_job(tmp_path: Path, eval_interval: int) -> Path:
    body = hosted_body(
        model="tiny",
        method={"type": "reinforcement", "reinforcement": {"grader": hosted_body()["method"]["reinforcement"]["grader"],
                                                           "hyperparameters": {"batch_size": 4,
                                                                               "eval_interval": eval_interval,
                                                                               "learning_rate_multiplier": 3000}}},
        rftkit={"tiny_model": SMALL_TINY, "hyperparameters": {"max_completion_length": 2, "num_generations": 2}},
    )
    return write(tmp_path, body, valid_rows=4)


def messages(out: Path) -> list[str]:
    return [json.loads(line)["message"] for line in (out / "events.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_sigterm_stops_at_a_checkpoint_of_the_step_in_flight(tmp_path: Path) -> None:
    # Validation every 5 steps; a stop between them keeps its steps instead of redoing them.
    path = hosted_job(tmp_path, eval_interval=5)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "rftkit", "train", "--config", str(path), "--out", str(out),
               "--max-steps", str(STEPS)]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while max(metrics_steps(out), default=-1) < 6:
        assert first.poll() is None and time.monotonic() < deadline, "the job did not reach step 6"
        time.sleep(0.02)
    first.terminate()
    stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 143, stderr[-2000:]
    resume_hint = f"rftkit train: stopped on SIGTERM; continue with: rftkit train --resume --out {out}"
    assert stderr.strip().splitlines()[-1] == resume_hint
    assert json.loads(stdout)["status"] == "running"
    stopped = max(metrics_steps(out))
    assert 6 < stopped < STEPS  # the signal came after step 6; the step in flight finished
    assert (out / "trainer" / f"checkpoint-{stopped}" / "trainer_state.json").is_file()
    assert messages(out)[-1] == f"Training stopped at step {stopped}; the job resumes from the checkpoint saved there"
    assert json.loads((out / "job.json").read_text())["status"] == "running"

    done = subprocess.run([sys.executable, "-m", "rftkit", "train", "--resume", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert metrics_steps(out) == list(range(STEPS + 1))
    assert f"Job resumed from the checkpoint of step {stopped}" in messages(out)
    assert json.loads((out / "job.json").read_text())["status"] == "succeeded"


@pytest.mark.slow
def test_a_job_stopped_after_its_last_checkpoint_only_finishes_on_resume(tmp_path: Path) -> None:
    steps = 4
    path = hosted_job(tmp_path, eval_interval=2)
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "rftkit", "train", "--config", str(path), "--out", str(out),
                           "--max-steps", str(steps)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    # The state of a kill -9 right after the trainer saved step 4's checkpoint: the job had not
    # saved its model nor said it finished.
    events = (out / "events.jsonl").read_text().splitlines()
    saved = f"Checkpoint created at step {steps}"
    last = max(i for i, line in enumerate(events) if json.loads(line)["message"] == saved)
    (out / "events.jsonl").write_text("".join(line + "\n" for line in events[: last + 1]))
    job = json.loads((out / "job.json").read_text())
    job.update(status="running", fine_tuned_model=None, finished_at=None)
    (out / "job.json").write_text(json.dumps(job))
    shutil.rmtree(out / "model")

    done = subprocess.run([sys.executable, "-m", "rftkit", "train", "--resume", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert metrics_steps(out) == list(range(steps + 1))  # no step past the total
    assert messages(out)[-3:] == [f"Job resumed from the checkpoint of step {steps}",
                                  f"New fine-tuned model created: {(out / 'model').resolve()}",
                                  "The job has successfully completed"]
    job = json.loads((out / "job.json").read_text())
    assert job["status"] == "succeeded" and (out / "model" / "config.json").is_file()
    kept = [json.loads(line)["step_number"] for line in (out / "checkpoints.jsonl").read_text().splitlines()]
    assert sorted(kept) == [2, 4]


@pytest.mark.slow
def test_a_pause_while_the_worker_starts_stops_it_at_its_first_checkpoint(tmp_path: Path) -> None:
    """The jobs API pauses a job with SIGTERM. One that lands while the worker still imports torch
    is kept until the job runs: the first step finishes and is checkpointed (it killed the worker)."""
    path = hosted_job(tmp_path, eval_interval=5)
    job = parse_job(json.loads(path.read_text()), base_dir=tmp_path)
    out = tmp_path / "run"
    out.mkdir()
    (out / WORKER_INPUT).write_text(json.dumps({"id": "ftjob-early-pause", "config": job.model_dump(mode="json"),
                                                "local_model": "tiny"}))
    worker = subprocess.Popen([sys.executable, "-c", WORKER_LAUNCH, str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(0.2)  # importing the worker's modules alone takes about a second
    worker.terminate()
    output, _ = worker.communicate(timeout=300)
    assert worker.returncode == 0, output[-3000:]
    assert metrics_steps(out) == [0, 1]
    assert messages(out)[-1] == "Training stopped at step 1; the job resumes from the checkpoint saved there"
    assert (out / "trainer" / "checkpoint-1" / "trainer_state.json").is_file()
    assert json.loads((out / "job.json").read_text())["status"] == "running"
