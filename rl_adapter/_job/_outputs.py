"""The hosted service's job records in a run directory: ``job.json``, ``events.jsonl``, ``checkpoints.jsonl``.

* ``job.json``: the ``fine_tuning.job`` object (status, resolved hyperparameters,
  ``fine_tuned_model``, ``error``, timestamps), rewritten at each change of status;
* ``events.jsonl``: one ``fine_tuning.job.event`` per line, message events and ``type: "metrics"``
  events, appended as they happen; each carries ``data.step``, so a resumed job drops the events
  of the steps it does again;
* ``checkpoints.jsonl``: one ``fine_tuning.job.checkpoint`` per kept checkpoint, rewritten when
  the kept set changes.

These are the objects the ``openai`` SDK reads from ``/v1/fine_tuning/jobs``; ``rftkit api``
serves them from here.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import graders
from graders import ErrorKind, iter_jsonl

JOB_FILE = "job.json"
EVENTS_FILE = "events.jsonl"
CHECKPOINTS_FILE = "checkpoints.jsonl"
# The flags every metrics event reports, errors or not (the hosted service's usual three).
REPORTED_FLAGS = (ErrorKind.INVALID_VARIABLE_ERROR, ErrorKind.OTHER_ERROR, ErrorKind.SAMPLE_PARSE_ERROR)


def hosted_flag(kind: str) -> str:
    """The hosted error flag an error kind is counted under (graders' one table of them)."""
    return graders.hosted_flag(kind).flag


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a record file; a line cut off by a kill is dropped."""
    if not path.is_file():
        return []
    return [row for _, row in iter_jsonl(path, skipped=[])]


def _sequence(event: Mapping[str, Any]) -> int:
    tail = str(event.get("id", "")).rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class JobRecords:
    """Writes one job's records into ``out``.

    Args:
        out: The run directory.
        job: The ``fine_tuning.job`` object so far (``id`` and the request fields).
    """

    def __init__(self, out: Path, job: dict[str, Any]) -> None:
        self.out = out
        self.job = job
        self._events: list[dict[str, Any]] = []
        self._next = 1
        self._size = -1  # of events.jsonl as this object last left it
        self._reload()
        self.checkpoints = read_jsonl(out / CHECKPOINTS_FILE)

    def _reload(self) -> None:
        """Reads the events again if another process (the jobs API beside its worker) added some."""
        path = self.out / EVENTS_FILE
        size = path.stat().st_size if path.is_file() else 0
        if size == self._size:
            return
        self._events = read_jsonl(path)
        # Numbers continue after a resume, past dropped events too: an id a client saw is never reused.
        self._next = max(self._next, 1 + max((_sequence(e) for e in self._events), default=0))
        self._size = size

    @staticmethod
    def new_job_id() -> str:
        """A fresh ``ftjob-`` id."""
        return f"ftjob-{uuid.uuid4().hex[:24]}"

    def save_job(self, **changes: Any) -> None:
        """Updates the job object and rewrites ``job.json``."""
        self.job.update(changes)
        _write_atomic(self.out / JOB_FILE, json.dumps(self.job, indent=2) + "\n")

    def event(self, message: str, *, step: int, level: str = "info", kind: str = "message",
              data: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Appends one ``fine_tuning.job.event`` (``data.step`` is always set).

        The server and a job's worker both append (a pause is recorded while the worker finishes
        its step): under an exclusive lock, each first reads what the other added, so ids stay unique.
        """
        with (self.out / EVENTS_FILE).open("a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            self._reload()
            event = self._new_event(message, step=step, level=level, kind=kind, data=data)
            handle.write(json.dumps(event, default=str) + "\n")
            handle.flush()
            self._size = handle.tell()
        self._events.append(event)
        return event

    def _new_event(self, message: str, *, step: int, level: str, kind: str,
                   data: Mapping[str, Any] | None) -> dict[str, Any]:
        event = {
            "object": "fine_tuning.job.event",
            "id": f"ftevent-{self.job['id'].removeprefix('ftjob-')}-{self._next:06d}",
            "created_at": int(time.time()),
            "level": level,
            "message": message,
            "type": kind,
            "data": {"step": step, **(data or {})},
        }
        self._next += 1
        return event

    def checkpoint(self, step: int, model_dir: Path, metrics: Mapping[str, Any]) -> dict[str, Any]:
        """A ``fine_tuning.job.checkpoint`` object for a checkpoint of ``step``."""
        return {
            "object": "fine_tuning.job.checkpoint",
            "id": f"ftckpt-{self.job['id'].removeprefix('ftjob-')}-{step:06d}",
            "created_at": int(time.time()),
            "fine_tuned_model_checkpoint": str(model_dir),
            "fine_tuning_job_id": self.job["id"],
            "metrics": {"step": step, **metrics},
            "step_number": step,
        }

    def save_checkpoints(self, kept: Iterable[dict[str, Any]]) -> None:
        """Rewrites ``checkpoints.jsonl`` with the kept checkpoints, newest step first (as the API lists them)."""
        self.checkpoints = sorted(kept, key=lambda c: -int(c["step_number"]))
        _write_atomic(self.out / CHECKPOINTS_FILE, "".join(json.dumps(c) + "\n" for c in self.checkpoints))

    def rewind(self, step: int) -> list[dict[str, Any]]:
        """Forgets every event and checkpoint after ``step`` (a resumed job does those steps again).

        Returns the checkpoints dropped (their model directories are the caller's to delete).
        """
        self._reload()
        self._events = [e for e in self._events if int(e.get("data", {}).get("step", 0)) <= step]
        _write_atomic(self.out / EVENTS_FILE, "".join(json.dumps(e, default=str) + "\n" for e in self._events))
        self._size = (self.out / EVENTS_FILE).stat().st_size
        dropped = [c for c in self.checkpoints if int(c["step_number"]) > step]
        self.save_checkpoints(c for c in self.checkpoints if int(c["step_number"]) <= step)
        return dropped

    @property
    def events(self) -> list[dict[str, Any]]:
        """The events so far, oldest first."""
        return list(self._events)


def job_object(job_id: str, request: Mapping[str, Any], hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
    """A new ``fine_tuning.job`` object (status ``validating_files``) for a job request."""
    method = {"type": "reinforcement", "reinforcement": {
        "grader": request.get("grader"),
        "response_format": request.get("response_format"),
        "hyperparameters": dict(hyperparameters),
    }}
    return {
        "object": "fine_tuning.job",
        "id": job_id,
        "created_at": int(time.time()),
        "model": request["model"],
        "organization_id": "local",
        "seed": hyperparameters.get("seed", 0),
        "status": "validating_files",
        "training_file": request["training_file"],
        "validation_file": request.get("validation_file"),
        "hyperparameters": {k: hyperparameters[k] for k in ("n_epochs", "batch_size", "learning_rate_multiplier")},
        "method": method,
        "metadata": request.get("metadata"),
        "suffix": request.get("suffix"),
        "fine_tuned_model": None,
        "finished_at": None,
        "trained_tokens": None,
        "result_files": [],
        "error": None,
        "estimated_finish": None,
        "integrations": request.get("integrations") or [],
    }
