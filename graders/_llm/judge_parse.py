"""Reading a model judge's reply: the structured ``{"steps": [...], "result": ...}`` object, or
the same answer found in free text when the server could not enforce the JSON schema.

The reply is adversarial input (the graded output may have talked the judge into echoing
anything), so every parse is bounded, nothing is evaluated, and a reply that carries several
*different* results (say the judge quoted an injected ``{"result": 1.0}`` and then gave its own
``{"result": 0.2}``) is ambiguous: a parse error, never a guess.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from graders._types import clip

# Replies are parsed up to this length; judges answer in a few kB, a longer reply is cut.
MAX_REPLY_CHARS = 100_000
# JSON objects tried when scanning free text (each attempt is linear in the text).
MAX_OBJECT_STARTS = 64
# Judge reasoning steps kept in Score.details (each field clipped).
MAX_STEPS = 32

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_KEYED_NUMBER = re.compile(
    r"""["']?\b(?:result|score)\b["']?\s*[:=]\s*["']?([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)""",
    re.IGNORECASE,
)
_BARE_NUMBER = re.compile(r"\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?\s*")
_RESULT_KEYS = ("result", "score", "label")


class ReplyParseError(Exception):
    """The judge's reply holds no usable result."""


@dataclass
class Parsed:
    """What a reply said: the raw ``result``, the reasoning ``steps``, and how it was found."""

    result: Any
    steps: list[dict[str, str]] = field(default_factory=list)
    how: str = "json"
    """``json`` (the whole reply), ``embedded_json`` (an object inside text), ``text``."""


def parse_reply(text: str) -> Parsed:
    """Finds the result object in a judge's reply.

    Raises:
        ReplyParseError: the reply is empty, holds no result, or holds conflicting ones.
    """
    text = text[:MAX_REPLY_CHARS].strip()
    if not text:
        raise ReplyParseError("the judge's reply is empty")
    whole = _loads(text)
    if isinstance(whole, dict) and _result_key(whole) is not None:
        return _from_object(whole, "json")
    if _BARE_NUMBER.fullmatch(text):
        return Parsed(float(text), [], "text")
    fenced = [m.group(1).strip() for m in _FENCE.finditer(text)]
    for block in fenced:
        obj = _loads(block)
        if isinstance(obj, dict) and _result_key(obj) is not None:
            return _agreeing([_from_object(obj, "embedded_json")] + _objects(text, skip=block))
    found = _objects(text)
    if found:
        return _agreeing(found)
    numbers = [Parsed(float(m.group(1)), [], "text") for m in _KEYED_NUMBER.finditer(text)]
    if numbers:
        return _agreeing(numbers)
    return Parsed(text, [], "text")  # maybe a bare label; the caller decides


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _result_key(obj: dict[str, Any]) -> str | None:
    for key in _RESULT_KEYS:
        if key in obj:
            return key
    return None


def _from_object(obj: dict[str, Any], how: str) -> Parsed:
    key = _result_key(obj)
    assert key is not None
    return Parsed(obj[key], clean_steps(obj.get("steps")), how)


def _objects(text: str, skip: str = "") -> list[Parsed]:
    """Every JSON object with a result key found in ``text`` (bounded scan)."""
    decoder = json.JSONDecoder()
    found: list[Parsed] = []
    pos = text.find("{")
    tries = 0
    while pos != -1 and tries < MAX_OBJECT_STARTS:
        tries += 1
        try:
            obj, end = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError):
            pos = text.find("{", pos + 1)
            continue
        if isinstance(obj, dict) and _result_key(obj) is not None and text[pos:end] not in skip:
            found.append(_from_object(obj, "embedded_json"))
        pos = text.find("{", end)
    return found


def _agreeing(found: Sequence[Parsed]) -> Parsed:
    distinct = {json.dumps(p.result, sort_keys=True, default=str) for p in found}
    if len(distinct) > 1:
        shown = ", ".join(sorted(distinct)[:4])
        raise ReplyParseError(f"the judge's reply holds conflicting results ({shown})")
    return found[-1]


def clean_steps(steps: Any) -> list[dict[str, str]]:
    """The judge's ``steps`` as a short list of ``{description, conclusion}`` strings."""
    if not isinstance(steps, list):
        return []
    out = []
    for step in steps[:MAX_STEPS]:
        if isinstance(step, dict):
            out.append({k: clip(str(step.get(k, ""))) for k in ("description", "conclusion")})
        else:
            out.append({"description": clip(str(step)), "conclusion": ""})
    return out


def to_number(value: Any) -> float:
    """A judge's ``result`` as a finite float.

    Raises:
        ReplyParseError: the value is not a number (booleans included), or is NaN/infinite.
    """
    if isinstance(value, bool) or value is None:
        raise ReplyParseError(f"the judge's result {value!r} is not a number")
    if isinstance(value, str):
        text = value.strip()
        if not _BARE_NUMBER.fullmatch(text):
            raise ReplyParseError(f"the judge's result {clip(value)!r} is not a number")
        value = float(text)
    if not isinstance(value, int | float):
        raise ReplyParseError(f"the judge's result {clip(json.dumps(value, default=str))} is not a number")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float range: JSON allows any number of digits
        number = math.inf
    if not math.isfinite(number):
        raise ReplyParseError(f"the judge's result {number} is not a finite number")
    return number


def to_label(value: Any, labels: Sequence[str]) -> str:
    """A judge's ``result`` as one of ``labels``.

    An exact match wins; else a match ignoring case, surrounding space, quotes and a final
    period, when exactly one label matches that way.

    Raises:
        ReplyParseError: the value names no label (or several).
    """
    if not isinstance(value, str):
        raise ReplyParseError(f"the judge's label {clip(json.dumps(value, default=str))} is not a string")
    if value in labels:
        return value
    norm = _norm_label(value)
    matches = [label for label in labels if _norm_label(label) == norm]
    if len(matches) == 1:
        return matches[0]
    raise ReplyParseError(f"the judge's label {clip(value)!r} is not one of {list(labels)}")


def _norm_label(text: str) -> str:
    return text.strip().strip("\"'`*").rstrip(".").strip().casefold()
