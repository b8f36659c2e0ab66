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
from typing import ClassVar

import graders
from graders import format_path


class RLAdapterError(Exception):
    """Root of every exception the rl_adapter package raises.

    Attributes:
        exit_code: What ``rftkit`` exits with when the exception reaches it: 1, a run failed.
    """

    exit_code: ClassVar[int] = 1


class DatasetMismatchError(RLAdapterError, ValueError):
    """The dataset lacks item fields that the grader's templates read.

    Training on it would give every sample an ``invalid_variable_error`` (reward 0), so this is
    raised at the first reward call, or earlier by ``check_dataset``. An input error: exit 2.
    """

    exit_code: ClassVar[int] = 2


class JobConfigError(RLAdapterError, ValueError):
    """A job config is invalid.

    Attributes:
        path: JSON path of the offending field (empty for the whole config).
        reason: What was wrong, without the path.
        exit_code: 2, an input error.
    """

    exit_code: ClassVar[int] = 2

    def __init__(self, reason: str, path: Sequence[str | int] = ()) -> None:
        self.reason = reason
        self.path: tuple[str | int, ...] = tuple(path)
        where = format_path(self.path)
        super().__init__(f"{reason} at {where}" if where else reason)


class DataFileError(RLAdapterError, graders.DataFileError):
    """A training or validation file is unreadable or has a bad line; the message names the file and line (exit 2)."""

    exit_code: ClassVar[int] = 2


class JobFailedError(RLAdapterError):
    """A job stopped with an error while training (e.g. its grader erred on every sample)."""
