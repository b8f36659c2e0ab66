"""Exceptions raised by evalkit.

A bad *model output* is never an exception here: the grader turns it into a Score with
``error`` set and evalkit counts it. Exceptions are for bad *input files* and misuse.

Exception tree::

    EvalError            root of everything evalkit raises
    ├── DatasetError     a dataset or predictions line is malformed; names file and line
    │   └── IdMismatchError  prediction ids and item ids do not match; gives counts and examples
    └── RunDirError      a run directory is missing, unreadable or holds another run
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from graders import DataFileError

# How many example ids an id-mismatch message shows: enough to spot a pattern, short enough to read.
MAX_EXAMPLE_IDS = 5


class EvalError(Exception):
    """Root of every exception evalkit raises.

    Attributes:
        exit_code: What ``rftkit`` exits with when the exception reaches it: 1, a run failed.
    """

    exit_code: ClassVar[int] = 1


class DatasetError(EvalError, DataFileError):
    """A dataset or predictions file (or in-memory row) is malformed (graders' ``DataFileError``
    with evalkit's root, so ``except EvalError`` catches it).

    Attributes:
        source: The file name (or ``"<items>"`` / ``"<predictions>"`` for in-memory rows).
        line: The 1-based line number (or row number), or None when the problem is not one line.
        reason: What was wrong.
        exit_code: 2, an input error.
    """

    exit_code: ClassVar[int] = 2


class IdMismatchError(DatasetError):
    """Predictions name ids that are not in the dataset, or items have no prediction.

    Attributes:
        unknown: Number of prediction ids that match no item.
        missing: Number of items with no prediction.
    """

    def __init__(self, source: str, unknown: Iterable[str], n_unknown: int, missing: Iterable[str], n_missing: int):
        self.unknown = n_unknown
        self.missing = n_missing
        parts = []
        if n_unknown:
            parts.append(f"{n_unknown} prediction id(s) match no item (e.g. {_examples(unknown)})")
        if n_missing:
            parts.append(f"{n_missing} item(s) have no prediction (e.g. {_examples(missing)})")
        super().__init__("; ".join(parts) + "; check that both files use the same 'id' field", source)


class RunDirError(EvalError):
    """A run directory cannot be used: missing files, or scores of a different run (an input error, exit 2)."""

    exit_code: ClassVar[int] = 2


def _examples(ids: Iterable[str]) -> str:
    out = []
    for value in ids:
        out.append(repr(value))
        if len(out) == MAX_EXAMPLE_IDS:
            break
    return ", ".join(out)
