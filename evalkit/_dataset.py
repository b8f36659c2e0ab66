"""Datasets and predictions: streaming JSONL with ids, checked before any grading, and their join.

An *item* is one dataset row (a mapping); its id is its ``id`` field, or else its 0-based
position among the file's rows (blank lines do not count; bad lines do, so skipping one never
shifts the ids after it). Ids are compared as strings, so ``7`` and ``"7"`` are the same id.

A *prediction* is a mapping ``{"id": ..., "output_text": ...}`` (or ``output_json``,
``output_tools``, ``choices``); several predictions may share an id (n samples for pass@k).

Files are read twice: a first streaming pass checks every line (a bad line raises
``DatasetError`` naming file and line, or is counted and skipped with ``skip_bad``) and collects
the ids, so mismatched ids fail before any grading; the second pass streams the rows to the
grader. Neither pass holds the rows in memory.
"""

from __future__ import annotations

import os
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit._errors import DatasetError, IdMismatchError
from graders import did_you_mean, iter_jsonl

Row = Mapping[str, Any]
PathLike = str | os.PathLike[str]
SAMPLE_FIELDS = ("output_text", "output_json", "output_tools", "choices")


def read_jsonl(path: PathLike, *, skip_bad: bool = False) -> Iterator[dict[str, Any]]:
    """Streams the JSON objects of a JSONL file, one per non-blank line.

    Args:
        path: The file.
        skip_bad: Skip lines that are not a JSON object instead of raising.

    Yields:
        Each line's object.

    Raises:
        DatasetError: A line is not a JSON object (names the file and the 1-based line).

    Example:
        >>> rows = list(read_jsonl("examples/data/gene_ranking/valid.jsonl"))  # doctest: +SKIP
    """
    for _, _, row in _lines(Path(path), skip_bad, None):
        yield row


def _lines(path: Path, skip_bad: bool, bad: list[int] | None) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """Yields (line number, row position, row); with ``skip_bad`` bad lines go to ``bad``, else raise."""
    skipped = (bad if bad is not None else []) if skip_bad else None
    rows = iter_jsonl(path, skipped=skipped, error=DatasetError, hint=" (use --skip-bad to skip bad lines)")
    for count, (lineno, row) in enumerate(rows):
        # A skipped line keeps its position, so skipping one never shifts the ids after it.
        yield lineno, count + len(skipped or ()), row


def norm_id(value: Any, source: str, line: int | None) -> str:
    """An item or prediction id as a string; ints and strings only (a float id is ambiguous)."""
    kind = type(value)
    if kind is str:
        return value
    if kind is int:
        return str(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(int(value))
    raise DatasetError(f"'id' must be a string or an integer, got {type(value).__name__} {value!r}", source, line)


def shard_of(item_id: str, count: int) -> int:
    """The shard (0 .. count-1) an id belongs to: stable across runs, processes and machines."""
    return zlib.crc32(item_id.encode("utf-8")) % count


@dataclass
class ItemSource:
    """Items ready to stream: ``rows()`` yields (id, row); ``ids`` is known when pre-scanned."""

    name: str
    rows: Callable[[], Iterator[tuple[str, Row]]]
    ids: list[str] | None
    skipped: list[int]
    """Line numbers of bad lines skipped with ``skip_bad``."""


@dataclass
class PredictionSource:
    """Predictions ready to stream: ``rows()`` yields (id, row); ``counts`` per id when pre-scanned."""

    name: str
    rows: Callable[[], Iterator[tuple[str, Row]]]
    counts: Counter[str] | None
    skipped: list[int]


def item_source(items: PathLike | Iterable[Row], *, skip_bad: bool = False) -> ItemSource:
    """Prepares items from a JSONL path, a sequence of mappings or any iterable of mappings."""
    if isinstance(items, (str, os.PathLike)):
        path = Path(items)
        bad: list[int] = []
        ids: list[str] = []
        seen: dict[str, int] = {}
        for lineno, position, row in _lines(path, skip_bad, bad):
            item_id = _item_id(row, position, str(path), lineno)
            first = seen.setdefault(item_id, lineno)
            if first != lineno:
                raise DatasetError(f"duplicate id {item_id!r} (first at line {first})", str(path), lineno)
            ids.append(item_id)

        def file_rows() -> Iterator[tuple[str, Row]]:
            for lineno, position, row in _lines(path, True, None):
                yield _item_id(row, position, str(path), lineno), row

        return ItemSource(str(path), file_rows, ids, bad)
    memory: Iterable[Row] = items  # narrowed here; lambdas below do not keep the narrowing
    if isinstance(memory, Sequence):
        rows = list(_memory_items(memory))
        return ItemSource("<items>", lambda: iter(rows), [i for i, _ in rows], [])
    return ItemSource("<items>", lambda: _memory_items(memory), None, [])


def _memory_items(items: Iterable[Row]) -> Iterator[tuple[str, Row]]:
    seen: set[str] = set()
    for position, row in enumerate(items):
        if type(row) is not dict and not isinstance(row, Mapping):  # the ABC check is slow; dicts skip it
            raise DatasetError(f"an item must be a mapping, got {type(row).__name__}", "<items>", position + 1)
        item_id = _item_id(row, position, "<items>", position + 1)
        if item_id in seen:
            raise DatasetError(f"duplicate id {item_id!r}", "<items>", position + 1)
        seen.add(item_id)
        yield item_id, row


def _item_id(row: Row, position: int, source: str, line: int) -> str:
    value = row.get("id")
    return str(position) if value is None else norm_id(value, source, line)


def prediction_source(predictions: PathLike | Iterable[Row], *, skip_bad: bool = False) -> PredictionSource:
    """Prepares predictions from a JSONL path, a sequence of mappings or any iterable of mappings."""
    if isinstance(predictions, (str, os.PathLike)):
        path = Path(predictions)
        bad: list[int] = []
        counts: Counter[str] = Counter()
        for lineno, _, row in _lines(path, skip_bad, bad):
            counts[_prediction_id(row, str(path), lineno)] += 1

        def file_rows() -> Iterator[tuple[str, Row]]:
            for lineno, _, row in _lines(path, True, None):
                yield _prediction_id(row, str(path), lineno), row

        return PredictionSource(str(path), file_rows, counts, bad)
    memory: Iterable[Row] = predictions  # see item_source
    if isinstance(memory, Sequence):
        rows = list(_memory_predictions(memory))
        return PredictionSource("<predictions>", lambda: iter(rows), Counter(i for i, _ in rows), [])
    return PredictionSource("<predictions>", lambda: _memory_predictions(memory), None, [])


def _memory_predictions(predictions: Iterable[Row]) -> Iterator[tuple[str, Row]]:
    for position, row in enumerate(predictions):
        if type(row) is not dict and not isinstance(row, Mapping):
            reason = f"a prediction must be a mapping, got {type(row).__name__}"
            raise DatasetError(reason, "<predictions>", position + 1)
        yield _prediction_id(row, "<predictions>", position + 1), row


def _prediction_id(row: Row, source: str, line: int) -> str:
    if "id" not in row:
        raise DatasetError("prediction has no 'id' (the id of the item it answers)", source, line)
    if "output_text" not in row and not any(key in row for key in SAMPLE_FIELDS):
        raise DatasetError(f"prediction has none of {', '.join(SAMPLE_FIELDS)}", source, line)
    return norm_id(row["id"], source, line)


def check_ids(items: ItemSource, predictions: PredictionSource, shard: tuple[int, int] | None = None) -> None:
    """Raises IdMismatchError when both id sets are known and differ (within ``shard``, if given).

    A shard's predictions may be all of them or only the shard's own (sampled per shard).
    """
    if items.ids is None or predictions.counts is None:
        return
    known = set(items.ids)
    unknown = [i for i in predictions.counts if i not in known]
    ids = items.ids if shard is None else [i for i in items.ids if shard_of(i, shard[1]) == shard[0]]
    missing = [i for i in ids if i not in predictions.counts]
    if unknown or missing:
        raise IdMismatchError(predictions.name, unknown, len(unknown), missing, len(missing))


def check_fields(items: ItemSource, fields: Sequence[str]) -> None:
    """Raises DatasetError when no item has one of ``fields``: a misspelt ``--by`` field would
    otherwise give one silent "(missing)" group. Reads rows only until each field was seen once.
    """
    wanted = [field for field in fields if field]
    if not wanted or items.ids is None:  # a one-shot iterable cannot be read twice
        return
    seen: set[str] = set()
    for _, row in items.rows():
        seen.update(row.keys())
        wanted = [field for field in wanted if field not in seen]
        if not wanted:
            return
    if seen:
        absent = wanted[0]
        raise DatasetError(
            f"no item has the field {absent!r} to break the metrics down by{did_you_mean(absent, seen)} "
            f"(fields: {', '.join(sorted(seen))})",
            items.name,
        )


def join(
    items: Iterable[tuple[str, Row]],
    predictions: Iterable[tuple[str, Row]],
    counts: Mapping[str, int] | None,
    source: str,
) -> Iterator[tuple[str, Row, list[Row]]]:
    """Pairs each item with its predictions, streaming both.

    When predictions come in item order (the usual case) nothing is buffered; predictions that
    arrive early wait in a buffer until their item comes. Without ``counts`` an item's
    predictions must be consecutive. Raises IdMismatchError at the end when ids were left over.
    """
    pending: dict[str, list[Row]] = {}
    missing: list[str] = []
    n_missing = 0
    stream = iter(predictions)
    upcoming = next(stream, None)
    for item_id, item in items:
        got = pending.pop(item_id, [])
        want = None if counts is None else counts.get(item_id, 0)
        while upcoming is not None and (want is None or len(got) < want):
            pred_id, row = upcoming
            if pred_id == item_id:
                got.append(row)
            elif want is None and got:
                break
            else:
                pending.setdefault(pred_id, []).append(row)
            upcoming = next(stream, None)
        if not got:
            n_missing += 1
            if len(missing) < 5:
                missing.append(item_id)
            continue
        yield item_id, item, got
    if upcoming is not None:
        pending.setdefault(upcoming[0], []).append(upcoming[1])
    for pred_id, row in stream:
        pending.setdefault(pred_id, []).append(row)
    if pending or n_missing:
        raise IdMismatchError(source, list(pending), len(pending), missing, n_missing)
