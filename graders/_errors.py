"""Exceptions raised by graders, and the error kinds a Score can carry.

Exceptions are for bad *specs* (and misuse of the API); a bad *sample* never raises, it becomes
a Score whose ``error`` names one of the kinds below.

Exception tree::

    GraderError                 root of everything graders raises
    ├── SpecError               a spec is invalid; carries the JSON path of the offending field
    └── MissingDependencyError  an optional dependency is not installed; says what to install
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

# Error kinds a Score can carry. The first group keeps the hosted graders API's names.
INVALID_VARIABLE_ERROR = "invalid_variable_error"
SAMPLE_PARSE_ERROR = "sample_parse_error"
FORMULA_PARSE_ERROR = "formula_parse_error"
OTHER_ERROR = "other_error"
MODEL_GRADER_PARSE_ERROR = "model_grader_parse_error"
MODEL_GRADER_REFUSAL_ERROR = "model_grader_refusal_error"
MODEL_GRADER_SERVER_ERROR = "model_grader_server_error"
# rftkit's own kinds.
FORMULA_EVAL_ERROR = "formula_eval_error"
REFERENCE_PARSE_ERROR = "reference_parse_error"
INPUT_TOO_LONG = "input_too_long"
# A grading that did not finish within its caller's deadline (the hosted API's name).
UNRESPONSIVE_REWARD_ERROR = "unresponsive_reward_error"

# Kinds that mean "could not be scored because the *reference* is unusable": the sample is
# neither right nor wrong, so evaluations leave it out and RL trainers get None (no gradient).
ABSTENTION_KINDS = frozenset({REFERENCE_PARSE_ERROR})


class GraderError(Exception):
    """Root of every exception the graders package raises."""


class SpecError(GraderError, ValueError):
    """A grader spec is invalid.

    Attributes:
        path: JSON path of the offending field, as a tuple of keys and list indices,
            relative to the spec being compiled (empty for the spec itself).
        reason: What was wrong, without the path.
        hint: What is valid or what to do (``"; did you mean 'numeric'? (known: ...)"``),
            printed after the path.
    """

    def __init__(self, reason: str, path: Sequence[str | int] = (), hint: str = "") -> None:
        self.reason = reason
        self.path: tuple[str | int, ...] = tuple(path)
        self.hint = hint
        super().__init__(self._format())

    def _format(self) -> str:
        where = format_path(self.path)
        return f"{self.reason} at {where}{self.hint}" if where else f"{self.reason}{self.hint}"

    def within(self, *prefix: str | int) -> SpecError:
        """Returns the same error with ``prefix`` put in front of its path."""
        return SpecError(self.reason, (*prefix, *self.path), self.hint)

    def __reduce__(self) -> tuple[type[SpecError], tuple[str, tuple[str | int, ...], str]]:
        return (SpecError, (self.reason, self.path, self.hint))


class MissingDependencyError(GraderError, ImportError):
    """An optional dependency needed by a grader kind is not installed."""

    def __init__(self, package: str, extra: str | None = None, why: str = "") -> None:
        install = f"pip install 'rftkit[{extra}]'" if extra else f"pip install {package}"
        what = f" ({why})" if why else ""
        super().__init__(f"{package} is not installed{what}; install it with: {install}")


def format_path(path: Iterable[str | int]) -> str:
    """Formats a path tuple as ``graders.answer.input[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Returns ``"; did you mean 'x'?"`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
