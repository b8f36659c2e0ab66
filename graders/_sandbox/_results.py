"""Worker results (untrusted JSON) into Scores."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from graders._errors import ErrorKind
from graders._sandbox._worker import MAX_ABS_VALUE
from graders._types import MAX_DETAIL_CHARS, Score, clip

# The kinds a worker may report; anything else it sends is the sandbox failing.
_KINDS = {
    kind.value: kind
    for kind in (
        ErrorKind.PYTHON_GRADER_RUNTIME_ERROR,
        ErrorKind.PYTHON_GRADER_TIMEOUT,
        ErrorKind.PYTHON_GRADER_SERVER_ERROR,
    )
}


def to_score(result: Mapping[str, Any], extra: Mapping[str, Any]) -> Score:
    """One result of ``call_grade`` (or of a worker) as a Score.

    A worker runs user code, so its results are checked again here: a value must be a finite
    number within the limit, an error kind one of the python grader kinds, every string clipped.
    """
    details: dict[str, Any] = dict(extra)
    for key in ("stdout", "stderr"):
        text = result.get(key)
        if isinstance(text, str) and text:
            details[key] = clip(text)
    kind = result.get("error")
    if kind is None:
        value = result.get("value")
        if isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(value) and abs(value) <= MAX_ABS_VALUE:
                return Score(float(value), None, details)
        invalid = f"the sandbox worker sent an invalid value: {clip(repr(value))}"
        return Score.failure(ErrorKind.PYTHON_GRADER_SERVER_ERROR, invalid, **details)
    tb = result.get("traceback")
    if isinstance(tb, str) and tb:
        # The end of a traceback says what went wrong; keep that part.
        details["traceback"] = tb if len(tb) <= MAX_DETAIL_CHARS else "..." + tb[-MAX_DETAIL_CHARS:]
    message = result.get("message")
    known = _KINDS.get(kind) if isinstance(kind, str) else None
    text = clip(message) if isinstance(message, str) else ""
    return Score.failure(known or ErrorKind.PYTHON_GRADER_SERVER_ERROR, text, **details)
