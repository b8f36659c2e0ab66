"""The run directory: ``run.json`` (what is being run), ``scores.jsonl`` (written as it goes),
and the reports. A crashed run resumes from ``scores.jsonl``; shards of one run merge into one.

One evaluation at a time writes into a directory (``RunDir.locked``): two that shared one once
wrote 11,232 lines for 6,000 items. A resume repairs what a crash or such a run leaves behind:
a torn last line, a tail of NUL bytes (a crash before the file system wrote the data), lines
repeated for one item.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from evalkit._errors import RunDirError
from evalkit._result import ItemScores
from graders import iter_jsonl

RUN_FILE = "run.json"
SCORES_FILE = "scores.jsonl"
# Holds the pid of the evaluation writing into the directory, under an advisory lock; removed at the end.
LOCK_FILE = ".lock"
# Keys of run.json that must match for a run directory to be resumed (the rest may change):
# scores of another grader, data file or shard must never be mixed into one report.
RESUME_KEYS = ("grader", "items", "predictions", "sizes", "by", "shard")
log = logging.getLogger("evalkit")


class RunDir:
    """A run directory on disk."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @property
    def scores_path(self) -> Path:
        return self.path / SCORES_FILE

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Holds the directory for this evaluation; the lock goes with the process, even on ``kill -9``.

        Raises:
            RunDirError: another evaluation holds it (the message names its pid).
        """
        self.path.mkdir(parents=True, exist_ok=True)
        lock = self.path / LOCK_FILE
        fd = _acquire(lock)
        try:
            yield
        finally:
            if fd is not None:
                with contextlib.suppress(OSError):
                    lock.unlink()
                os.close(fd)  # releases the lock

    def start(self, config: dict[str, Any]) -> list[ItemScores]:
        """Creates the directory, or checks it holds the same run; returns the items already scored."""
        self.path.mkdir(parents=True, exist_ok=True)
        run_file = self.path / RUN_FILE
        done: list[ItemScores] = []
        if self.scores_path.exists():
            if run_file.exists():
                previous = _read_json(run_file)
                for key in RESUME_KEYS:
                    if previous.get(key) != config.get(key):
                        what = "file sizes (a file changed since)" if key == "sizes" else key
                        raise RunDirError(
                            f"{self.path} holds a run with different {what}; resume needs the same {key} "
                            "(use another --out, or delete the directory to start over)"
                        )
            done = _without_duplicates(self.scores_path, list(self.read_scores(repair=True)))
        run_file.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return done

    def read_scores(self, *, repair: bool = False) -> Iterator[ItemScores]:
        """Streams ``scores.jsonl``; with ``repair``, first drops a torn last line (a crash mid-write)."""
        path = self.scores_path
        if not path.exists():
            raise RunDirError(f"{self.path} is not a run directory: it has no {SCORES_FILE}")
        if repair:
            drop_nul_tail(path)
            drop_torn_tail(path)
        for lineno, row in iter_jsonl(path, error=_not_scores):
            try:
                yield ItemScores.from_dict(row)
            except (ValueError, KeyError, TypeError) as exc:
                raise _not_scores(str(exc)[:200], str(path), lineno) from None

    def config(self) -> dict[str, Any]:
        """``run.json`` (empty when absent)."""
        run_file = self.path / RUN_FILE
        return _read_json(run_file) if run_file.exists() else {}

    def open_scores(self) -> IO[str]:
        """``scores.jsonl`` opened for appending."""
        return self.scores_path.open("a", encoding="utf-8")


def _acquire(lock: Path) -> int | None:
    """An open descriptor holding ``lock`` exclusively (None where the OS has no ``flock``)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks, as before
        return None
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise RunDirError(
                f"{lock.parent} is in use by another evaluation (pid {holder}); wait for it to finish, "
                "or use another --out"
            ) from None
        try:
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)  # the holder finished and removed the file between our open and our lock: again
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _without_duplicates(path: Path, done: list[ItemScores]) -> list[ItemScores]:
    """The items of ``done`` once each; rewrites ``path`` when some were written twice (by two runs)."""
    seen: set[str] = set()
    unique = []
    for item in done:
        if item.id not in seen:
            seen.add(item.id)
            unique.append(item)
    if len(unique) == len(done):
        return done
    repaired = path.with_name(path.name + ".repair")
    with repaired.open("w", encoding="utf-8") as handle:
        for item in unique:
            write_line(handle, item)
    os.replace(repaired, path)
    log.warning(
        "%s: %d lines repeated an item already scored (two runs wrote into one directory); kept the first of each",
        path, len(done) - len(unique),
    )  # fmt: skip
    return unique


def drop_nul_tail(path: Path) -> None:
    """Truncates a JSONL file before its first NUL byte, back to the last complete line, and says so.

    A crash before the file system wrote the data leaves NUL bytes where the last lines were;
    a later resume appends after them. The items from there on are graded again.
    """
    with path.open("rb+") as handle:
        offset = last_line_end = 0
        while chunk := handle.read(1 << 20):
            nul = chunk.find(b"\0")
            newline = chunk.rfind(b"\n", 0, nul if nul >= 0 else len(chunk))
            if newline >= 0:
                last_line_end = offset + newline + 1
            if nul >= 0:
                cut = last_line_end
                break
            offset += len(chunk)
        else:
            return
        handle.truncate(cut)
    log.warning(
        "%s: NUL bytes after byte %d (a crash before the data reached the disk); truncated to the last "
        "good line, the items after it are graded again",
        path, cut,
    )  # fmt: skip


def drop_torn_tail(path: Path) -> None:
    """Truncates a JSONL file after its last newline: the torn line a kill mid-write leaves."""
    size = path.stat().st_size
    if size == 0:
        return
    with path.open("rb+") as handle:
        # Scan back from the end in blocks for the last newline: the file may be gigabytes.
        end = size
        block = 1 << 16
        while end > 0:
            start = max(0, end - block)
            handle.seek(start)
            chunk = handle.read(end - start)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                keep = start + cut + 1
                break
            end = start
        else:
            keep = 0
        if keep != size:
            handle.truncate(keep)


def _not_scores(reason: str, source: str, line: int | None) -> RunDirError:
    return RunDirError(f"{source}:{line}: not a scores line: {reason}" if line else f"{source}: {reason}")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RunDirError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise RunDirError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise RunDirError(f"{path} is not a JSON object")
    return data


def write_line(handle: IO[str], item: ItemScores) -> None:
    handle.write(json.dumps(item.to_dict(), ensure_ascii=False) + "\n")


def collect(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[ItemScores], dict[str, Any]]:
    """The items of several run directories (shards of one run), checked for overlapping ids."""
    items: list[ItemScores] = []
    seen: dict[str, RunDir] = {}
    config: dict[str, Any] = {}
    for path in paths:
        run = RunDir(path)
        config = config or run.config()
        for item in run.read_scores():
            if item.id in seen:
                if seen[item.id] is run:
                    raise RunDirError(
                        f"{run.scores_path}: item {item.id!r} is scored twice (two runs wrote into the directory); "
                        "rerun the evaluation with the same --out to repair it"
                    )
                where = f"{seen[item.id].path} and {run.path}"
                raise RunDirError(f"item {item.id!r} is in both {where}; shards must not overlap")
            seen[item.id] = run
            items.append(item)
    return items, config
