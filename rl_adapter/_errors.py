"""Exceptions raised by rl_adapter.

Exceptions are for misuse caught before training (a dataset that lacks a column the grader
reads, a bad job config); a sample that cannot be graded never raises, it becomes an error
Score (its kind one of ``graders.ErrorKind``) and the reward function maps it to its
``error_value``.

Exception tree::

    RLAdapterError              root of everything rl_adapter raises
    ├── DatasetMismatchError    the dataset lacks item fields the grader's templates read
    ├── JobConfigError          an ``rftkit train`` job config is invalid; carries the JSON path
    ├── DataFileError           a training or validation file is unreadable; names file and line
    └── JobFailedError          a job stopped while training (its grader erred on every sample)
"""

from __future__ import annotations

from collections.abc import Sequence


class RLAdapterError(Exception):
    """Root of every exception the rl_adapter package raises."""


class DatasetMismatchError(RLAdapterError, ValueError):
    """The dataset lacks item fields that the grader's templates read.

    Training on it would give every sample an ``invalid_variable_error`` (reward 0), so this is
    raised at the first reward call, or earlier by ``check_dataset``.
    """


class JobConfigError(RLAdapterError, ValueError):
    """A job config is invalid.

    Attributes:
        path: JSON path of the offending field (empty for the whole config).
        reason: What was wrong, without the path.
    """

    def __init__(self, reason: str, path: Sequence[str | int] = ()) -> None:
        self.reason = reason
        self.path: tuple[str | int, ...] = tuple(path)
        where = format_path(self.path)
        super().__init__(f"{reason} at {where}" if where else reason)


class DataFileError(RLAdapterError, ValueError):
    """A training or validation file has a bad line; the message names the file and line."""


def format_path(path: Sequence[str | int]) -> str:
    """Formats a path tuple as ``hyperparameters.batch_size`` or ``grader.graders.a``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class JobFailedError(RLAdapterError):
    """A job stopped with an error while training (e.g. its grader erred on every sample)."""
