"""The on-disk cache of model calls: SQLite, one row per request key.

Many writers are expected (an evaluation's workers, several processes sharing one cache
file), so the database runs in WAL mode (readers never block the writer) with a busy timeout
(a writer waits for another instead of failing), and each write is its own short transaction.
Only the response is stored, under a hash of the request; no credentials ever reach it.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# A writer blocked by another process's transaction waits this long before giving up.
BUSY_TIMEOUT_MS = 30_000
DEFAULT_CACHE_ENV = "RFTKIT_CACHE"
"""Environment variable naming the cache file; ``off`` (or ``0``, ``none``) turns caching off."""
# A response larger than this is answered but not stored: one huge reply must not grow the file
# by hundreds of megabytes (the client already refuses replies over 8 MiB on the wire).
MAX_ENTRY_CHARS = 8 * 1024 * 1024
# Keys per IN (...) query: below SQLite's default limit on bound parameters.
_CHUNK = 500
_OFF = frozenset({"off", "0", "none", "false", "no"})
# What a cache file that cannot be opened, read or written raises (a directory, a damaged file,
# a full disk, a lock held past the busy timeout).
_CACHE_FAILURES = (sqlite3.Error, OSError)
_log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL DEFAULT (julianday('now'))
)
"""


class Cache:
    """A SQLite cache of model responses, safe for concurrent threads and processes.

    Args:
        path: The database file; its folder is created when missing.

    Example:
        >>> cache = Cache(tmp_path / "calls.sqlite")        # doctest: +SKIP
        >>> client = ChatClient(cache=cache)                 # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._warned = False

    def _connection(self) -> sqlite3.Connection:
        # A connection must not cross a fork; reopen in the child.
        if self._conn is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
            try:
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute(_SCHEMA)
                conn.commit()
            except BaseException:
                conn.close()  # e.g. a file that is not a database
                raise
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored response for ``key``, or None."""
        try:
            with self._lock:
                row = self._connection().execute("SELECT response FROM calls WHERE key = ?", (key,)).fetchone()
        except _CACHE_FAILURES as exc:
            self._failed("read", exc)
            return None
        if row is None:
            return None
        try:
            value = json.loads(row[0])
        except ValueError:
            return None  # a damaged row is a miss; the next put replaces it
        return value if isinstance(value, dict) else None

    def get_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored responses for those of ``keys`` that are present."""
        rows: list[tuple[str, str]] = []
        try:
            with self._lock:
                conn = self._connection()
                for start in range(0, len(keys), _CHUNK):
                    chunk = list(keys[start : start + _CHUNK])
                    marks = ",".join("?" * len(chunk))
                    rows += conn.execute(f"SELECT key, response FROM calls WHERE key IN ({marks})", chunk).fetchall()
        except _CACHE_FAILURES as exc:
            self._failed("read", exc)
        found: dict[str, dict[str, Any]] = {}
        for key, text in rows:
            try:
                value = json.loads(text)
            except ValueError:
                continue
            if isinstance(value, dict):
                found[key] = value
        return found

    def put(self, key: str, model: str, response: dict[str, Any]) -> None:
        """Stores ``response`` under ``key`` (replacing an older one)."""
        text = json.dumps(response, ensure_ascii=False, separators=(",", ":"))
        if len(text) > MAX_ENTRY_CHARS:
            _log.warning("not caching a %d-character response from %s (limit %d)", len(text), model, MAX_ENTRY_CHARS)
            return
        try:
            with self._lock:
                conn = self._connection()
                with conn:
                    conn.execute(
                        "INSERT OR REPLACE INTO calls (key, model, response) VALUES (?, ?, ?)", (key, model, text)
                    )
        except _CACHE_FAILURES as exc:
            self._failed("write", exc)

    def _failed(self, what: str, exc: Exception) -> None:
        # The cache only saves calls: a cache that fails must not turn a paid answer into an error
        # score. A read that fails is a miss, a write is dropped, and the first failure is logged.
        if not self._warned:
            self._warned = True
            _log.warning("model-call cache %s: cannot %s it (%s); going on without it", self.path, what, exc)

    def __len__(self) -> int:
        with self._lock:
            return int(self._connection().execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    def clear(self) -> None:
        """Deletes every stored response."""
        with self._lock:
            conn = self._connection()
            with conn:
                conn.execute("DELETE FROM calls")

    def close(self) -> None:
        """Closes the database connection (it reopens on next use)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __repr__(self) -> str:
        return f"Cache({str(self.path)!r})"


def default_cache_path() -> Path | None:
    """Where model calls are cached unless told otherwise; None when caching is off.

    ``$RFTKIT_CACHE`` names the file (``off`` turns caching off); else
    ``$XDG_CACHE_HOME/rftkit/model_calls.sqlite`` (``~/.cache/rftkit/...``).
    """
    env = os.environ.get(DEFAULT_CACHE_ENV)
    if env is not None and env.strip():
        if env.strip().lower() in _OFF:
            return None
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rftkit" / "model_calls.sqlite"
