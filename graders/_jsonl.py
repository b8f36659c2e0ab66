"""The one JSONL reader: JSON objects, one per non-blank line; a bad line names file and line.

evalkit's datasets and predictions, ``rftkit check``'s items and ``rftkit train``'s rows all read
through it, each raising its own package's error type.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from graders._errors import GraderError

# A reason quoted from a JSON parse error is cut here: the line itself may be megabytes long.
MAX_REASON_CHARS = 200


class DataFileError(GraderError, ValueError):
    """A data file cannot be opened, or has a line that is not a JSON object (an input error, exit 2).

    Attributes:
        reason: What was wrong.
        source: The file name.
        line: The 1-based line number, or None when the problem is not one line.
    """

    exit_code: ClassVar[int] = 2

    def __init__(self, reason: str, source: str = "", line: int | None = None) -> None:
        self.reason = reason
        self.source = source
        self.line = line
        where = f"{source}:{line}: " if line is not None else (f"{source}: " if source else "")
        super().__init__(f"{where}{reason}")


def iter_jsonl(
    path: str | os.PathLike[str],
    *,
    skipped: list[int] | None = None,
    error: Callable[[str, str, int | None], Exception] = DataFileError,
    hint: str = "",
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Streams ``(line number, object)`` for each non-blank line of a JSONL file.

    Args:
        path: The file.
        skipped: Where to append the line numbers of bad lines instead of raising (``--skip-bad``).
        error: Builds the exception for a bad line or an unreadable file from
            ``(reason, file name, line number or None)``: each package raises its own type.
        hint: Added to the reason of a bad line (``" (use --skip-bad to skip bad lines)"``).

    Raises:
        DataFileError: (or what ``error`` builds) the file cannot be opened, or a line is not
            a JSON object and ``skipped`` is None.

    Example:
        >>> rows = [row for _, row in iter_jsonl("examples/check/qa.jsonl")]  # doctest: +SKIP
    """
    try:
        handle = Path(path).open("rb")  # bytes, so a line that is not UTF-8 is reported with its number
    except OSError as exc:
        raise error(f"cannot open: {_lower(exc.strerror or str(exc))}", str(path), None) from None
    with handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except ValueError as exc:  # also UnicodeDecodeError
                reason = f"not valid JSON: {str(exc)[:MAX_REASON_CHARS]}"
            else:
                if isinstance(row, dict):
                    yield number, row
                    continue
                reason = f"expected a JSON object, got {type(row).__name__}"
            if skipped is None:
                raise error(reason + hint, str(path), number)
            skipped.append(number)


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]
