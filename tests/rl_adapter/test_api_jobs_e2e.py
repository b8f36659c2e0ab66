"""A hosted client script against ``rftkit api`` as a subprocess, training the tiny model on CPU:
upload, create, cancel of a queued job, pause and resume, a server restart mid-queue (the running
job resumes from its checkpoint, the queued one stays queued), ``kill -9`` of a worker (the job
resumes), then poll until succeeded, events and checkpoints."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.rl_adapter.test_jobs import EXAMPLE, SMALL_TINY, hosted_body

STEPS = 20
EVAL_INTERVAL = 2
START_S = 90
JOB_S = 300  # a worker imports torch and trl, then trains 20 tiny steps (a busy 2-core machine)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "rftkit", "api", "--port", str(port), "--workdir", str(workdir),
               "--model-alias", "o4-mini-2025-04-16=tiny", "--log-level", "warning"]
    with (workdir.parent / "server.log").open("ab") as log:
        # A process group of its own, as a shell gives a foreground command (Ctrl-C reaches the group).
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + START_S
    while True:
        assert process.poll() is None, (workdir.parent / "server.log").read_text()[-3000:]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, f"http://127.0.0.1:{port}/v1"
        except OSError:
            assert time.monotonic() < deadline, "rftkit api did not start"
            time.sleep(0.2)


def wait_for(what: str, condition: Callable[[], bool], workdir: Path) -> None:
    deadline = time.monotonic() + JOB_S
    while not condition():
        if time.monotonic() > deadline:
            logs = "\n".join(p.read_text()[-1500:] for p in workdir.glob("jobs/*/worker.log"))
            raise AssertionError(f"timed out waiting for {what}\n{logs}")
        time.sleep(0.1)


def metrics_steps(client: openai.OpenAI, job_id: str) -> list[int]:
    events = list(client.fine_tuning.jobs.list_events(job_id, limit=1000))
    return [e.data["step"] for e in reversed(events) if e.type == "metrics"]


def body(train: str, valid: str) -> dict[str, Any]:
    grader = hosted_body()["method"]["reinforcement"]["grader"]
    return hosted_body(
        training_file=train, validation_file=valid,
        method={"type": "reinforcement", "reinforcement": {"grader": grader, "hyperparameters": {
            "batch_size": 4, "eval_interval": EVAL_INTERVAL, "learning_rate_multiplier": 3000}}},
        rftkit={"tiny_model": SMALL_TINY,
                "hyperparameters": {"max_steps": STEPS, "max_completion_length": 2, "num_generations": 2}},
    )


def create(client: openai.OpenAI, train: str, valid: str) -> Any:
    fields = body(train, valid)
    # rftkit's extras are no parameter of the SDK's create: they go in the body as extra_body.
    extras = {"rftkit": fields.pop("rftkit")}
    return client.fine_tuning.jobs.create(**fields, extra_body=extras)


@pytest.mark.slow
def test_jobs_api_queue_restart_kill_and_records(tmp_path: Path) -> None:
    workdir = tmp_path / "api"
    workdir.mkdir()
    server, url = start_server(workdir)
    try:
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=60)
        train_bytes = (EXAMPLE / "train.jsonl").read_bytes()
        train = client.files.create(file=("train.jsonl", train_bytes), purpose="fine-tune")
        valid_lines = (EXAMPLE / "valid.jsonl").read_text().splitlines()[:4]
        valid = client.files.create(file=("valid.jsonl", "\n".join(valid_lines).encode()), purpose="fine-tune")
        first = create(client, train.id, valid.id)
        second = create(client, train.id, valid.id)
        third = create(client, train.id, valid.id)
        assert second.status == third.status == "queued"
        assert client.fine_tuning.jobs.cancel(second.id).status == "cancelled"
        assert client.fine_tuning.jobs.pause(third.id).status == "paused"
        with pytest.raises(openai.BadRequestError, match="only when queued or running"):
            client.fine_tuning.jobs.pause(third.id)
        assert client.fine_tuning.jobs.resume(third.id).status == "queued"
        assert [j.id for j in client.fine_tuning.jobs.list()] == [third.id, second.id, first.id]
        assert [j.id for j in client.fine_tuning.jobs.list(limit=1, after=third.id).data] == [second.id]

        # Restart mid-queue: once the first job has a checkpoint, stop the server.
        wait_for("a checkpoint of the first job", lambda: max(metrics_steps(client, first.id), default=-1)
                 > EVAL_INTERVAL, workdir)
        assert client.fine_tuning.jobs.retrieve(first.id).status == "running"
        assert client.fine_tuning.jobs.retrieve(third.id).status == "queued"
        client.close()
    finally:
        server.terminate()
        server.wait(60)
    server, url = start_server(workdir)
    try:
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=60)
        assert client.fine_tuning.jobs.retrieve(third.id).status == "queued"
        assert client.fine_tuning.jobs.retrieve(second.id).status == "cancelled"
        # The first job resumed in a new worker; pausing it stops that worker and frees the queue.
        wait_for("the first job to resume", lambda: client.fine_tuning.jobs.retrieve(first.id).status == "running",
                 workdir)
        assert client.fine_tuning.jobs.pause(first.id).status == "paused"
        wait_for("the third job to start", lambda: client.fine_tuning.jobs.retrieve(third.id).status == "running",
                 workdir)
        assert client.fine_tuning.jobs.resume(first.id).status == "queued"

        # kill -9 of the third job's worker once it has a checkpoint: the job is resumable, not lost.
        wait_for("the third job's checkpoint", lambda: max(metrics_steps(client, third.id), default=-1)
                 > EVAL_INTERVAL, workdir)
        os.kill(int((workdir / "jobs" / third.id / "worker.pid").read_text()), signal.SIGKILL)
        wait_for("both jobs to finish", lambda: all(
            client.fine_tuning.jobs.retrieve(j).status in ("succeeded", "failed") for j in (first.id, third.id)),
            workdir)

        for job_id in (first.id, third.id):
            job = client.fine_tuning.jobs.retrieve(job_id)
            assert job.status == "succeeded", job.error
            assert job.fine_tuned_model is not None and Path(job.fine_tuned_model).is_dir()
            assert job.training_file == train.id and job.model == "o4-mini-2025-04-16"
            steps = metrics_steps(client, job_id)
            assert steps == list(range(STEPS + 1))  # each step once across the restarts, in order
            (results,) = job.result_files  # the hosted script's way to the per-step numbers
            assert client.files.retrieve(results).purpose == "fine-tune-results"
            table = client.files.content(results).text.splitlines()
            assert table[0].startswith("step,train_reward_mean,valid_reward_mean,")
            assert [int(row.split(",")[0]) for row in table[1:]] == list(range(STEPS + 1))
            events = list(client.fine_tuning.jobs.list_events(job_id, limit=1000))
            assert len({e.id for e in events}) == len(events)
            assert any(e.message.startswith("Job resumed from the checkpoint of step") for e in events)
            newest = client.fine_tuning.jobs.list_events(job_id, limit=3)
            assert [e.id for e in newest.data] == [e.id for e in events[:3]] and newest.has_more
            assert newest.data[0].message == "The job has successfully completed"
            older = client.fine_tuning.jobs.list_events(job_id, limit=3, after=newest.data[-1].id)
            assert [e.id for e in older.data] == [e.id for e in events[3:6]]
            checkpoints = list(client.fine_tuning.jobs.checkpoints.list(job_id))
            assert len(checkpoints) == 3 and all(c.fine_tuning_job_id == job_id for c in checkpoints)
            assert all(Path(c.fine_tuned_model_checkpoint).is_dir() for c in checkpoints)
            assert all(c.step_number % EVAL_INTERVAL == 0 for c in checkpoints)
        third_events = [e.message for e in client.fine_tuning.jobs.list_events(third.id, limit=1000)]
        assert any(m.startswith("The worker stopped (exit code -9)") for m in third_events)
        first_events = [e.message for e in client.fine_tuning.jobs.list_events(first.id, limit=1000)]
        assert "Job paused" in first_events and "Job queued to resume from its last checkpoint" in first_events
        # The server's shutdown let the first job's worker checkpoint the step in flight (SIGTERM), and
        # the restarted server resumed it from there.
        stopped = [int(m.split()[4].rstrip(";")) for m in first_events if m.startswith("Training stopped at step ")]
        assert stopped, first_events
        assert all(f"Job resumed from the checkpoint of step {step}" in first_events for step in stopped)
        assert not (workdir / "jobs" / second.id / "worker.log").exists()  # the cancelled job never ran
        client.close()
    finally:
        server.terminate()
        server.wait(60)


@pytest.mark.slow
def test_ctrl_c_of_rftkit_api_checkpoints_the_running_job(tmp_path: Path) -> None:
    """A terminal's Ctrl-C (SIGINT to the server's process group) stops the server; the job's worker,
    in a session of its own, is stopped by the server at a checkpoint of its step, not killed mid-step."""
    workdir = tmp_path / "api"
    workdir.mkdir()
    server, url = start_server(workdir)
    try:
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=60)
        train = client.files.create(file=("train.jsonl", (EXAMPLE / "train.jsonl").read_bytes()), purpose="fine-tune")
        valid_lines = (EXAMPLE / "valid.jsonl").read_text().splitlines()[:4]
        valid = client.files.create(file=("valid.jsonl", "\n".join(valid_lines).encode()), purpose="fine-tune")
        job = create(client, train.id, valid.id)
        wait_for("the job to train", lambda: max(metrics_steps(client, job.id), default=-1) > EVAL_INTERVAL, workdir)
        client.close()
        os.killpg(os.getpgid(server.pid), signal.SIGINT)
        assert server.wait(60) in (0, 130)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(60)
    run = workdir / "jobs" / job.id
    events = [json.loads(line)["message"] for line in (run / "events.jsonl").read_text().splitlines()]
    assert events[-1].startswith("Training stopped at step "), events[-3:]
    assert json.loads((run / "job.json").read_text())["status"] == "running"  # resumable
