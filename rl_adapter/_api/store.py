"""The state of ``rftkit api``'s files and fine-tuning jobs: one SQLite file under ``--workdir``.

Uploaded files live in ``files/<file id>``, each job's run directory in ``jobs/<job id>`` (the
records ``rftkit train`` writes there: ``job.json``, ``events.jsonl``, ``checkpoints.jsonl``).
The database holds what outlives a server: the file index, and each job's request, status and
place in the queue, so a restarted server finds its queue where it was.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rl_adapter._api.app import ApiContext

DB_FILE = "state.sqlite"
FILES_DIR = "files"
JOBS_DIR = "jobs"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY, filename TEXT NOT NULL, purpose TEXT NOT NULL, bytes INTEGER NOT NULL,
    created_at INTEGER NOT NULL, seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, seq INTEGER NOT NULL, status TEXT NOT NULL,
    object TEXT NOT NULL, config TEXT NOT NULL, local_model TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0
);
"""


@dataclass(frozen=True)
class FileRow:
    """One uploaded file."""

    id: str
    filename: str
    purpose: str
    bytes: int
    created_at: int

    def to_dict(self) -> dict[str, Any]:
        """The ``file`` object of the OpenAI API."""
        return {"id": self.id, "object": "file", "bytes": self.bytes, "created_at": self.created_at,
                "filename": self.filename, "purpose": self.purpose, "status": "processed",
                "expires_at": None, "status_details": None}


@dataclass(frozen=True)
class JobRow:
    """One fine-tuning job as the queue knows it.

    Attributes:
        object: The ``fine_tuning.job`` object as created (file ids, the hosted model name).
        config: The job in rftkit's flat format, with the stored files' paths (``parse_job``).
        local_model: What the hosted model name was mapped to (``tiny`` or a directory).
        attempts: Worker runs so far; a worker that dies (``kill -9``) leaves the job resumable.
    """

    id: str
    created_at: int
    status: str
    object: dict[str, Any]
    config: dict[str, Any]
    local_model: str
    attempts: int


class Store:
    """Files and jobs under ``workdir`` (thread-safe; one server process owns the database)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        (workdir / FILES_DIR).mkdir(parents=True, exist_ok=True)
        (workdir / JOBS_DIR).mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(workdir / DB_FILE, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    @contextmanager
    def _cursor(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            yield self._db.cursor()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- files ------------------------------------------------------------------------------

    def file_path(self, file_id: str) -> Path:
        return self.workdir / FILES_DIR / file_id

    def add_file(self, filename: str, purpose: str, content: bytes) -> FileRow:
        row = FileRow(f"file-{uuid.uuid4().hex[:24]}", filename, purpose, len(content), int(time.time()))
        self.file_path(row.id).write_bytes(content)
        with self._cursor() as cur:
            cur.execute("INSERT INTO files VALUES (?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM files))",
                        (row.id, row.filename, row.purpose, row.bytes, row.created_at))
        return row

    def file(self, file_id: str) -> FileRow | None:
        with self._cursor() as cur:
            found = cur.execute("SELECT id, filename, purpose, bytes, created_at FROM files WHERE id = ?",
                                (file_id,)).fetchone()
        return FileRow(*found) if found else None

    def files(self, purpose: str | None = None) -> list[FileRow]:
        """Every file, newest first."""
        with self._cursor() as cur:
            rows = cur.execute("SELECT id, filename, purpose, bytes, created_at FROM files "
                               "WHERE ? IS NULL OR purpose = ? ORDER BY seq DESC", (purpose, purpose)).fetchall()
        return [FileRow(*r) for r in rows]

    def delete_file(self, file_id: str) -> bool:
        with self._cursor() as cur:
            deleted = cur.execute("DELETE FROM files WHERE id = ?", (file_id,)).rowcount > 0
        self.file_path(file_id).unlink(missing_ok=True)
        return deleted

    # --- jobs -------------------------------------------------------------------------------

    def run_dir(self, job_id: str) -> Path:
        return self.workdir / JOBS_DIR / job_id

    def add_job(self, obj: dict[str, Any], config: dict[str, Any], local_model: str) -> None:
        with self._cursor() as cur:
            cur.execute("INSERT INTO jobs (id, created_at, seq, status, object, config, local_model) "
                        "VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs), ?, ?, ?, ?)",
                        (obj["id"], obj["created_at"], obj["status"], json.dumps(obj), json.dumps(config),
                         local_model))

    def job(self, job_id: str) -> JobRow | None:
        with self._cursor() as cur:
            found = cur.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job_row(found) if found else None

    def jobs(self) -> list[JobRow]:
        """Every job, newest first."""
        with self._cursor() as cur:
            rows = cur.execute(f"SELECT {_JOB_COLUMNS} FROM jobs ORDER BY seq DESC").fetchall()
        return [_job_row(r) for r in rows]

    def next_job(self) -> JobRow | None:
        """The job the worker should run next: one left running by a stopped server, else the oldest queued."""
        with self._cursor() as cur:
            found = cur.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status IN ('running', 'queued') "
                "ORDER BY status = 'running' DESC, seq ASC LIMIT 1"
            ).fetchone()
        return _job_row(found) if found else None

    def set_status(
        self, job_id: str, status: str, *, only_from: tuple[str, ...] = (), attempts: int | None = None
    ) -> bool:
        """Sets a job's status (only when its status is one of ``only_from``, if given); True if it changed."""
        query = "UPDATE jobs SET status = ?, attempts = COALESCE(?, attempts) WHERE id = ?"
        args: list[Any] = [status, attempts, job_id]
        if only_from:
            query += f" AND status IN ({', '.join('?' * len(only_from))})"
            args.extend(only_from)
        with self._cursor() as cur:
            return cur.execute(query, args).rowcount > 0


_JOB_COLUMNS = "id, created_at, status, object, config, local_model, attempts"


def _job_row(row: tuple[Any, ...]) -> JobRow:
    job_id, created_at, status, obj, config, local_model, attempts = row
    return JobRow(job_id, created_at, status, json.loads(obj), json.loads(config), local_model, attempts)


# The OpenAI API's list pages: ``limit`` defaults to 20 and goes up to 100 (10,000 for files).
DEFAULT_PAGE = 20
MAX_PAGE = 10_000


def page(items: list[dict[str, Any]], *, after: str | None, limit: int | None) -> dict[str, Any]:
    """A cursor page of ``items`` (already in list order): those after the one with id ``after``.

    Raises:
        ApiError: ``limit`` is out of range, or ``after`` names no item of the list.
    """
    from rl_adapter._api.errors import ApiError

    limit = DEFAULT_PAGE if limit is None else limit
    if not 1 <= limit <= MAX_PAGE:
        raise ApiError(400, f"limit must be between 1 and {MAX_PAGE}, not {limit}", param="limit")
    start = 0
    if after is not None:
        ids = [item["id"] for item in items]
        if after not in ids:
            raise ApiError(400, f"after: no item with id {after!r} in this list", param="after")
        start = ids.index(after) + 1
    chosen = items[start:start + limit]
    return {"object": "list", "data": chosen, "has_more": start + limit < len(items),
            "first_id": chosen[0]["id"] if chosen else None, "last_id": chosen[-1]["id"] if chosen else None}


def store_of(context: ApiContext) -> Store:
    """The server's one Store (opened on first use, closed with the server)."""

    def make() -> Store:
        store = Store(context.settings.workdir)
        context.on_close(store.close)
        return store

    return context.shared("store", make)
