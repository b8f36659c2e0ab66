"""Exceptions raised by graders, and the error kinds a Score can carry.

Exceptions are for bad *specs* (and misuse of the API); a bad *sample* never raises, it becomes
a Score whose ``error`` names one of the kinds below.

Exception tree::

    GraderError                 root of everything graders raises
    ├── SpecError               a spec is invalid; carries the JSON path of the offending field
    ├── DataFileError           a JSONL file is unreadable or has a bad line; names file and line
                                (in ``_jsonl``; evalkit's and rl_adapter's data errors subclass it)
    └── MissingDependencyError  an optional dependency is not installed; says what to install
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import ClassVar


class ErrorKind(StrEnum):
    """Why a sample could not be graded: the ``kind`` of a ``ScoreError``.

    The one catalogue of error kinds: every module that sets or reads a kind uses these
    members, so a renamed kind breaks a type check rather than a training run. Members are
    strings, so ``kind == "sample_parse_error"`` and JSON output work unchanged. The first
    group keeps the hosted graders API's names.
    """

    INVALID_VARIABLE_ERROR = "invalid_variable_error"
    """A template read an item or sample field that is not there."""
    SAMPLE_PARSE_ERROR = "sample_parse_error"
    """The output is not what the grader reads (not JSON, not a list, ...)."""
    FORMULA_PARSE_ERROR = "formula_parse_error"
    """A ``multi`` formula does not parse (a spec error; named in its message)."""
    OTHER_ERROR = "other_error"
    """An exception raised while grading one sample."""
    MODEL_GRADER_PARSE_ERROR = "model_grader_parse_error"
    """A judge model's reply holds no usable score or label."""
    MODEL_GRADER_REFUSAL_ERROR = "model_grader_refusal_error"
    """A judge model refused to grade."""
    MODEL_GRADER_SERVER_ERROR = "model_grader_server_error"
    """The judge model's server failed after the retries."""
    PYTHON_GRADER_RUNTIME_ERROR = "python_grader_runtime_error"
    """A python grader's code raised, or returned something that is not a number."""
    PYTHON_GRADER_TIMEOUT = "python_grader_timeout"
    """A python grader's code ran past its time limit."""
    PYTHON_GRADER_SERVER_ERROR = "python_grader_server_error"
    """The python grader's sandbox worker failed (crash, memory limit, broken pipe)."""
    # rftkit's own kinds.
    FORMULA_EVAL_ERROR = "formula_eval_error"
    """A ``multi`` formula raised or gave a value that is not finite."""
    REFERENCE_PARSE_ERROR = "reference_parse_error"
    """The reference is unusable: an abstention, not a wrong answer."""
    INPUT_TOO_LONG = "input_too_long"
    """The output is over the kind's size limit, so it is not parsed."""
    MATH_TIMEOUT = "math_timeout"
    """A ``math`` comparison ran past its time limit."""
    MATH_LIMIT = "math_limit"
    """A ``math`` answer is too large to compare safely (size, exponent, nesting)."""
    REWARD_SERVICE_ERROR = "reward_service_error"
    """The HTTP reward service could not be reached or answered with an error."""
    REWARD_SERVICE_TIMEOUT = "reward_service_timeout"
    """The HTTP reward service did not answer within the client's timeout."""
    REWARD_BACKEND_ERROR = "reward_backend_error"
    """A reward backend raised instead of returning Scores (a bug in a custom backend)."""
    NON_FINITE_VALUE = "non_finite_value"
    """A Score without an error whose value is NaN or infinite; a reward function scores it as an error."""
    CODE_NOT_FOUND = "code_not_found"
    """A ``code_tests`` output holds no code (empty, or an empty fenced block)."""
    CODE_SYNTAX_ERROR = "code_syntax_error"
    """A ``code_tests`` program does not compile."""
    CODE_RUNTIME_ERROR = "code_runtime_error"
    """A ``code_tests`` program raised (other than a failed assert), exited early or crashed its worker."""
    CODE_TIMEOUT = "code_timeout"
    """A ``code_tests`` program ran past its per-case time limit."""
    UNRESPONSIVE_REWARD_ERROR = "unresponsive_reward_error"
    """A grading did not finish within its caller's deadline (``rftkit api``; the hosted API's name)."""


# Kinds that mean "could not be scored because the *reference* is unusable": the sample is
# neither right nor wrong, so evaluations leave it out and RL trainers get None (no gradient).
ABSTENTION_KINDS = frozenset({ErrorKind.REFERENCE_PARSE_ERROR})


class GraderError(Exception):
    """Root of every exception the graders package raises.

    Attributes:
        exit_code: What ``rftkit`` exits with when the exception reaches it: 1, a run failed.
    """

    exit_code: ClassVar[int] = 1


class SpecError(GraderError, ValueError):
    """A grader spec is invalid.

    Attributes:
        path: JSON path of the offending field, as a tuple of keys and list indices,
            relative to the spec being compiled (empty for the spec itself).
        reason: What was wrong, without the path.
        hint: What is valid or what to do (``"; did you mean 'numeric'? (known: ...)"``),
            printed after the path.
        exit_code: 2, an input error.
    """

    exit_code: ClassVar[int] = 2

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


def did_you_mean(word: str, choices: Iterable[str], template: str = "; did you mean {!r}?") -> str:
    """Returns ``"; did you mean 'x'?"`` (or ``template`` filled) for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return template.format(close[0]) if close else ""
