"""What every ``rftkit`` subcommand shares: its argument parser, its usage error, and the one
place where an exception becomes one line on stderr and an exit code.

An exit code belongs to the exception (click's ``ClickException.exit_code``): each rftkit
exception class sets ``exit_code`` (2 for a usage or input error, 1 for a run that failed), and
no command maps errors to codes itself.
"""

from __future__ import annotations

import argparse
import errno
from typing import Any, ClassVar

# Exit codes, as in click and argparse.
EXIT_FAILED = 1
"""The run failed (a server down, a property that does not hold, ...)."""
EXIT_USAGE = 2
"""A usage or input error: a bad argument, spec, config or data line, a missing file."""


class UsageError(Exception):
    """A bad command line: one line on stderr, exit 2."""

    exit_code: ClassVar[int] = EXIT_USAGE


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser for ``rftkit COMMAND`` whose errors raise UsageError instead of exiting."""

    def __init__(self, command: str, description: str = "") -> None:
        super().__init__(prog=f"rftkit {command}", description=description)

    def error(self, message: str) -> Any:  # one line, exit 2, no usage dump
        raise UsageError(f"{self.prog}: {message}")


def exit_code_of(exc: BaseException) -> int | None:
    """The exit code ``exc`` carries, or None for an exception that is a bug (it keeps its traceback).

    A file that cannot be opened is an input error wherever it happens (spec, data, config, a
    directory given where a file belongs), so an ``OSError`` that names a file is one too.
    """
    code = getattr(type(exc), "exit_code", None)
    if isinstance(code, int):
        return code
    if isinstance(exc, OSError):
        return EXIT_USAGE if exc.filename is not None else EXIT_FAILED
    return None


def error_line(exc: BaseException) -> str:
    """``exc`` as the one line a command prints: an OSError names its file, without the errno."""
    if isinstance(exc, OSError) and exc.filename is not None:
        reason = exc.strerror or (errno.errorcode.get(exc.errno, "") if exc.errno else "") or str(exc)
        where = f"{exc.filename} -> {exc.filename2}" if exc.filename2 is not None else str(exc.filename)
        return f"{where}: {reason[:1].lower()}{reason[1:]}"
    return " ".join(str(exc).split()) or type(exc).__name__
