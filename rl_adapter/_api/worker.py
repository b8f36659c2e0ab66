"""The jobs API's queue: one job at a time, each in its own worker process.

The server holds a ``JobQueue`` thread. It takes the next job from the Store (one a stopped
server left running first, then the oldest queued), writes what the worker needs into the job's
run directory and starts a worker process (``main`` here), which calls ``run_job``.
A job whose run directory already has ``job.json`` is resumed from its last checkpoint
(``run_job(resume=True)``), so a restarted server, a paused job and a worker killed with
``kill -9`` all continue where the trainer last saved. Pause and server shutdown send the worker
SIGTERM: it finishes the step in flight and saves a checkpoint there first (the hosted pause's
snapshot). A worker that dies is not a lost job: the job goes back in the queue to resume, up to
``MAX_ATTEMPTS`` runs in all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from rl_adapter._api.store import JobRow, Store
from rl_adapter._job._outputs import JOB_FILE, JobRecords
from rl_adapter._job._report import STEP_METRICS_FILE

# What the worker reads: the job id, its flat config and the local model.
WORKER_INPUT = "api_job.json"
WORKER_LOG = "worker.log"
WORKER_PID = "worker.pid"
# How often the queue looks at its worker when nothing wakes it.
POLL_S = 0.5
# Worker runs per job: a job whose worker dies this often (out of memory, a crash) fails.
MAX_ATTEMPTS = 3
# How long a stopping server waits for its worker to end after SIGTERM.
STOP_WAIT_S = 15.0
# How long a paused job's worker has to finish its step and save a checkpoint before it is killed
# (its job then resumes from the previous checkpoint).
PAUSE_WAIT_S = 300.0
FINISHED = ("succeeded", "failed", "cancelled")
# The purpose of the files the server writes: a job's results (as the hosted service names it).
RESULTS_PURPOSE = "fine-tune-results"


def read_run_job(run_dir: Path) -> dict[str, Any] | None:
    """The ``fine_tuning.job`` object the runner keeps in ``run_dir`` (None before the job first ran)."""
    path = run_dir / JOB_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except ValueError:  # cut off by a kill; os.replace makes this rare
        return None


def job_records(store: Store, row: JobRow) -> JobRecords:
    """The job's records, to add events from the server while no worker runs."""
    run_dir = store.run_dir(row.id)
    run_dir.mkdir(parents=True, exist_ok=True)
    return JobRecords(run_dir, read_run_job(run_dir) or dict(row.object))


class JobQueue:
    """Runs the Store's jobs one at a time in worker processes (a daemon thread of the server)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._current: tuple[str, subprocess.Popen[bytes]] | None = None
        self._kill_at: float | None = None  # a paused worker is killed if still running then
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """Starts the queue thread if needed and has it look for work now."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True, name="rftkit-jobs")
                self._thread.start()
        self._wake.set()

    def stop_job(self, job_id: str, *, snapshot: bool = False) -> bool:
        """Stops the worker of ``job_id`` if it is the one running; True if it was.

        With ``snapshot`` (pause) the worker gets SIGTERM: it finishes the step in flight, saves a
        checkpoint there and exits, and the queue starts the next job once it has. Otherwise
        (cancel) it is killed at once.
        """
        with self._lock:
            if self._current is None or self._current[0] != job_id:
                return False
            process = self._current[1]
            if snapshot:
                process.terminate()
                self._kill_at = time.monotonic() + PAUSE_WAIT_S
                return True
            process.kill()
            process.wait()
            self._current = None
            self._kill_at = None
        self._wake.set()
        return True

    def close(self) -> None:
        """Stops the thread and the worker; the job stays ``running`` and resumes at the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(STOP_WAIT_S)
        with self._lock:
            if self._current is not None:
                process = self._current[1]
                process.terminate()
                try:
                    process.wait(STOP_WAIT_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                self._current = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception as exc:  # the queue must outlive one bad job; the job records say why
                print(f"rftkit api: job queue: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            self._wake.wait(POLL_S)
            self._wake.clear()

    def _tick(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            if self._current is not None:
                job_id, process = self._current
                code = process.poll()
                if code is None:
                    if self._kill_at is not None and time.monotonic() > self._kill_at:
                        process.kill()  # the next tick sees it gone
                    return
                self._current = None
                self._kill_at = None
                self._finished(job_id, code)
            row = self.store.next_job()
            if row is None:
                return
            if row.attempts >= MAX_ATTEMPTS:
                self._fail(row, f"the worker stopped {row.attempts} times; see {WORKER_LOG} in the run directory")
                return
            self.store.set_status(row.id, "running", attempts=row.attempts + 1)
            self._current = (row.id, self._spawn(row))

    def _spawn(self, row: JobRow) -> subprocess.Popen[bytes]:
        run_dir = self.store.run_dir(row.id)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / WORKER_INPUT).write_text(json.dumps({"id": row.id, "config": row.config,
                                                        "local_model": row.local_model}))
        with (run_dir / WORKER_LOG).open("ab") as log:
            # Its own session: a terminal's Ctrl-C reaches the server only, which then stops the
            # worker with SIGTERM at a checkpoint instead of the worker dying of it mid-step.
            process = subprocess.Popen([sys.executable, "-c", WORKER_LAUNCH, str(run_dir)],
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        (run_dir / WORKER_PID).write_text(str(process.pid))
        return process

    def _finished(self, job_id: str, code: int) -> None:
        row = self.store.job(job_id)
        if row is None:
            return
        run = read_run_job(self.store.run_dir(job_id)) or {}
        if run.get("status") in ("succeeded", "failed"):
            # Also a job paused (or paused and resumed) while its last step ran: it did finish.
            finishable = ("running", "paused", "queued")
            if row.status in finishable and run["status"] == "succeeded":
                self._publish_results(row)  # before the status: a client that sees succeeded finds the file
            self.store.set_status(job_id, run["status"], only_from=finishable)
        elif row.status != "running":
            return  # cancelled or paused meanwhile: the API recorded it
        elif row.attempts >= MAX_ATTEMPTS:
            self._fail(row, f"the worker stopped (exit code {code}) {row.attempts} times")
        else:
            # A worker killed mid-job (kill -9, out of memory): resumable from its last checkpoint.
            self.store.set_status(job_id, "queued", only_from=("running",))
            job_records(self.store, row).event(
                f"The worker stopped (exit code {code}); the job is queued to resume from its last checkpoint",
                step=resume_step(self.store.run_dir(job_id)), level="warn")

    def _publish_results(self, row: JobRow) -> None:
        """The run's ``step_metrics.csv`` as a ``fine-tune-results`` file, named in ``result_files``."""
        path = self.store.run_dir(row.id) / STEP_METRICS_FILE
        if path.is_file():
            stored = self.store.add_file(STEP_METRICS_FILE, RESULTS_PURPOSE, path.read_bytes())
            job_records(self.store, row).save_job(result_files=[stored.id])

    def _fail(self, row: JobRow, message: str) -> None:
        self.store.set_status(row.id, "failed")
        records = job_records(self.store, row)
        records.save_job(status="failed", finished_at=int(time.time()),
                         error={"code": "worker_error", "message": message, "param": None})
        records.event(f"Job failed: {message}", step=resume_step(self.store.run_dir(row.id)), level="error")


def resume_step(run_dir: Path) -> int:
    """The step a resumed job starts from (its last trainer checkpoint; 0 before the first).

    Events the server adds for a stopped job carry this step: a resumed run drops the events of
    the steps after it, which it does again.
    """
    from rl_adapter._job._train import checkpoint_step, last_trainer_checkpoint

    checkpoint = last_trainer_checkpoint(run_dir)
    return checkpoint_step(checkpoint) if checkpoint is not None else 0


def _watch_parent() -> None:
    """Ends this worker when the server that started it is gone (its parent changes)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(3)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


# The worker's entry: SIGTERM is caught before any import, so a pause that lands while torch
# loads becomes a stop request (honoured at the first step's end) instead of killing the worker.
WORKER_LAUNCH = ("import signal, sys, threading; stop = threading.Event(); "
                 "signal.signal(signal.SIGTERM, lambda signum, frame: stop.set()); "
                 "from rl_adapter._api.worker import main; sys.exit(main(sys.argv[1], stop))")


def main(run_dir: str, stop: threading.Event | None = None) -> int:
    """The worker process: runs (or resumes) the job whose input is in ``run_dir``.

    ``stop``: set by a SIGTERM that arrived before this function ran.
    """
    from rl_adapter._job._config import parse_job
    from rl_adapter._job._train import run_job, stop_on_sigterm

    _watch_parent()
    out = Path(run_dir)
    spec = json.loads((out / WORKER_INPUT).read_text(encoding="utf-8"))
    job = parse_job(spec["config"])
    # Pause and server shutdown send SIGTERM: the step in flight finishes and is checkpointed.
    try:
        with stop_on_sigterm(stop) as stop:
            run_job(job, out_dir=out, resume=(out / JOB_FILE).is_file(), model=spec["local_model"],
                    job_id=spec["id"], stop=stop)
    except Exception as exc:  # job.json already says failed, with the error
        print(f"job failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
