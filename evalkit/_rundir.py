"""The run directory: ``run.json`` (what is being run), ``scores.jsonl`` (written as it goes),
and the reports. A crashed run resumes from ``scores.jsonl``; shards of one run merge into one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from evalkit._errors import RunDirError
from evalkit._result import ItemScores
from graders import iter_jsonl

RUN_FILE = "run.json"
SCORES_FILE = "scores.jsonl"
REPORT_FILE = "report.json"
# Keys of run.json that must match for a run directory to be resumed (the rest may change):
# scores of another grader, data file or shard must never be mixed into one report.
RESUME_KEYS = ("grader", "items", "predictions", "sizes", "by", "shard")


class RunDir:
    """A run directory on disk."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @property
    def scores_path(self) -> Path:
        return self.path / SCORES_FILE

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
            done = list(self.read_scores(repair=True))
        run_file.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return done

    def read_scores(self, *, repair: bool = False) -> Iterator[ItemScores]:
        """Streams ``scores.jsonl``; with ``repair``, first drops a torn last line (a crash mid-write)."""
        path = self.scores_path
        if not path.exists():
            raise RunDirError(f"{self.path} is not a run directory: it has no {SCORES_FILE}")
        if repair:
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
    seen: dict[str, Path] = {}
    config: dict[str, Any] = {}
    for path in paths:
        run = RunDir(path)
        config = config or run.config()
        for item in run.read_scores():
            if item.id in seen:
                where = f"{seen[item.id]} and {run.path}"
                raise RunDirError(f"item {item.id!r} is in both {where}; shards must not overlap")
            seen[item.id] = run.path
            items.append(item)
    return items, config
