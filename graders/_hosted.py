"""rftkit's error kinds as the hosted graders API's error flags: the one table both sides read.

The hosted ``graders/run`` answer carries ``metadata.errors``: a boolean per flag plus three
nullable strings, and the hosted RFT job metrics count the same flags. ``HOSTED_ERROR_FLAGS``
maps every ``ErrorKind`` onto one flag (and, where the hosted API has
one, the string field that carries the detail). A kind not in the table (one added later, or
a reward service's own) counts as ``other_error``.

``truncated_observation_error`` is never set here: it belongs to the hosted trainer's
tool-calling rollouts, which rftkit's graders do not see. ``unresponsive_reward_error`` is set
by a caller whose deadline for a grading passed (``rftkit api``).

``hosted_run_response`` builds the whole ``graders/run`` answer from a Score.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from graders._details import sub_errors, sub_scores
from graders._errors import ErrorKind
from graders._types import Score

if TYPE_CHECKING:
    from graders._grader import Grader
    from graders._usage import Usage

# The boolean flags of the hosted ``metadata.errors``, in the API reference's order.
HOSTED_FLAGS: tuple[str, ...] = (
    "formula_parse_error",
    "invalid_variable_error",
    "model_grader_parse_error",
    "model_grader_refusal_error",
    "model_grader_server_error",
    "other_error",
    "python_grader_runtime_error",
    "python_grader_server_error",
    "sample_parse_error",
    "truncated_observation_error",
    "unresponsive_reward_error",
)
# The nullable strings beside them: ``*_details`` carry the error's message, ``*_type`` its kind.
HOSTED_DETAIL_FIELDS: tuple[str, ...] = (
    "model_grader_server_error_details",
    "python_grader_runtime_error_details",
    "python_grader_server_error_type",
)


class HostedFlag(NamedTuple):
    """Where one rftkit error kind goes in the hosted ``metadata.errors``."""

    flag: str
    """The boolean flag set for the kind."""
    detail_field: str | None = None
    """The nullable string field filled in with it (None where the hosted API has none)."""


_K = ErrorKind
HOSTED_ERROR_FLAGS: Mapping[ErrorKind, HostedFlag] = {
    _K.INVALID_VARIABLE_ERROR: HostedFlag("invalid_variable_error"),
    _K.SAMPLE_PARSE_ERROR: HostedFlag("sample_parse_error"),
    _K.FORMULA_PARSE_ERROR: HostedFlag("formula_parse_error"),
    # rftkit parses formulas at compile time (a bad one is a spec error), so at run time only
    # evaluating one can fail (division by zero, log of 0); the hosted API has one formula flag.
    _K.FORMULA_EVAL_ERROR: HostedFlag("formula_parse_error"),
    _K.OTHER_ERROR: HostedFlag("other_error"),
    _K.MODEL_GRADER_PARSE_ERROR: HostedFlag("model_grader_parse_error"),
    _K.MODEL_GRADER_REFUSAL_ERROR: HostedFlag("model_grader_refusal_error"),
    _K.MODEL_GRADER_SERVER_ERROR: HostedFlag("model_grader_server_error", "model_grader_server_error_details"),
    _K.PYTHON_GRADER_RUNTIME_ERROR: HostedFlag("python_grader_runtime_error", "python_grader_runtime_error_details"),
    # A grader that hangs is killed by the sandbox, as the hosted sandbox kills one past its
    # 2 minutes: a server-side failure, told apart from a crashed worker by the type.
    _K.PYTHON_GRADER_TIMEOUT: HostedFlag("python_grader_server_error", "python_grader_server_error_type"),
    _K.PYTHON_GRADER_SERVER_ERROR: HostedFlag("python_grader_server_error", "python_grader_server_error_type"),
    _K.UNRESPONSIVE_REWARD_ERROR: HostedFlag("unresponsive_reward_error"),
    # rftkit's own kinds, which the hosted API has no flag for.
    _K.REFERENCE_PARSE_ERROR: HostedFlag("other_error"),
    _K.INPUT_TOO_LONG: HostedFlag("other_error"),
    _K.MATH_TIMEOUT: HostedFlag("other_error"),
    _K.MATH_LIMIT: HostedFlag("other_error"),
    _K.NON_FINITE_VALUE: HostedFlag("other_error"),
    _K.REWARD_SERVICE_ERROR: HostedFlag("other_error"),
    _K.REWARD_SERVICE_TIMEOUT: HostedFlag("other_error"),
    _K.REWARD_BACKEND_ERROR: HostedFlag("other_error"),
    # code_tests: the sampled program failed, not a grader's code (python_grader_* would say that).
    _K.CODE_NOT_FOUND: HostedFlag("other_error"),
    _K.CODE_SYNTAX_ERROR: HostedFlag("other_error"),
    _K.CODE_RUNTIME_ERROR: HostedFlag("other_error"),
    _K.CODE_TIMEOUT: HostedFlag("other_error"),
}
_OTHER = HostedFlag("other_error")
_BY_NAME: dict[str, HostedFlag] = {str(kind): flag for kind, flag in HOSTED_ERROR_FLAGS.items()}


def hosted_flag(kind: str) -> HostedFlag:
    """The hosted flag an error kind counts as (``other_error`` for a kind not in the table)."""
    return _BY_NAME.get(kind, _OTHER)


def hosted_errors(score: Score) -> dict[str, Any]:
    """The hosted ``metadata.errors`` object for a Score: every flag, and the detail strings.

    A ``multi`` score sets the flag of every part that failed, not only of the first.

    Example:
        >>> hosted_errors(Score.failure("python_grader_timeout", "over 120 s"))["python_grader_server_error"]
        True
    """
    errors: dict[str, Any] = dict.fromkeys(HOSTED_FLAGS, False)
    errors.update(dict.fromkeys(HOSTED_DETAIL_FIELDS))
    found: list[tuple[str, str]] = []
    if score.error is not None:
        found.append((score.error.kind, score.error.message))
    for key, error in sub_errors(score).items():
        found.append((error.kind, f"{key}: {error.message}"))
    for kind, message in found:
        flag, field = hosted_flag(kind)
        errors[flag] = True
        if field is not None and errors[field] is None:
            errors[field] = kind if field.endswith("_type") else message
    return errors


def hosted_run_response(
    grader: Grader, score: Score, usage: Mapping[str, Usage], execution_time: float
) -> dict[str, Any]:
    """The hosted ``graders/run`` answer for one graded sample.

    Args:
        grader: The grader that graded it (its spec gives ``name`` and ``type``).
        score: Its Score.
        usage: Token usage per judge model (``ScoreBatch.usage``); empty when no judge ran.
        execution_time: Seconds the grading took.

    Returns:
        ``{reward, metadata: {name, type, execution_time, scores, token_usage,
        sampled_model_name, errors}, sub_rewards, model_grader_token_usage_per_model}``.
        ``scores`` and ``sub_rewards`` hold a ``multi`` grader's value per key (``scores``
        holds ``{name: reward}`` for the other kinds); ``token_usage`` is the total token
        count over every judge (None when none ran); ``sampled_model_name`` is the judge
        model (the first by name when several ran).
    """
    sub_rewards = sub_scores(score) if grader.spec.type == "multi" else {}
    models = sorted(usage)
    return {
        "reward": score.value,
        "metadata": {
            "name": grader.name,
            "type": grader.spec.type,
            "execution_time": execution_time,
            "scores": sub_rewards or {grader.name: score.value},
            "token_usage": sum(u.total_tokens for u in usage.values()) if usage else None,
            "sampled_model_name": models[0] if models else getattr(grader.spec, "model", None),
            "errors": hosted_errors(score),
        },
        "sub_rewards": sub_rewards,
        "model_grader_token_usage_per_model": {model: usage[model].to_dict() for model in models},
    }
