"""The core values every part shares: Sample (what the model produced) and Score (the grade)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graders._errors import ABSTENTION_KINDS, ErrorKind

# json.loads on adversarial text: bound the size so a grader never spends seconds on one sample.
MAX_JSON_CHARS = 20_000_000
# Strings copied into Score.details are clipped: evidence, not a second copy of a 10 MB output.
MAX_DETAIL_CHARS = 1_000

Item = Mapping[str, Any]
"""One dataset row: a plain mapping of reference fields."""

_UNPARSED: Any = object()


def clip(text: str) -> str:
    """``text`` cut to MAX_DETAIL_CHARS for ``Score.details``, marking the cut."""
    if len(text) <= MAX_DETAIL_CHARS:
        return text
    return f"{text[:MAX_DETAIL_CHARS]}... [{len(text) - MAX_DETAIL_CHARS} more characters]"


class SampleParseError(Exception):
    """Raised inside graders when ``output_json`` is needed but the output is not JSON, or when a
    sample mapping is malformed (``choices`` that are not a chat-completions list)."""


class Sample:
    """What the model produced for one item.

    Build one from a string (the output text) or a mapping with ``output_text``,
    ``output_json``, ``output_tools``, ``choices``; ``Sample.of`` accepts all of these.
    ``output_json`` is parsed lazily from ``output_text``; a parse failure raises
    ``SampleParseError``, which every grader turns into a Score with ``sample_parse_error``.

    Example:
        >>> Sample.of('{"genes": ["TSC2"]}').output_json
        {'genes': ['TSC2']}
    """

    # output_tools and choices are made on first use: most samples are plain text, and two empty
    # lists per sample are two more objects for the allocator and the GC in every training step.
    __slots__ = ("output_text", "_tools", "_choices", "output_audio", "_json", "_json_error")

    def __init__(
        self,
        output_text: str = "",
        *,
        output_json: Any = _UNPARSED,
        output_tools: list[Any] | None = None,
        choices: list[Any] | None = None,
        output_audio: Any = None,
    ) -> None:
        self.output_text = output_text
        self._tools = output_tools
        self._choices = choices
        self.output_audio = output_audio
        self._json = output_json
        self._json_error: str | None = None

    @classmethod
    def of(cls, value: Sample | str | Mapping[str, Any]) -> Sample:
        """Coerces a string, a mapping or a Sample into a Sample."""
        if isinstance(value, Sample):
            return value
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, Mapping):
            return cls._from_mapping(value)
        raise TypeError(f"a sample must be a str, a mapping or a Sample, not {type(value).__name__}")

    @classmethod
    def _from_mapping(cls, value: Mapping[str, Any]) -> Sample:
        choices = value.get("choices") or None
        text = value.get("output_text")
        tools = value.get("output_tools")
        message: Any = {}
        if choices is not None and not isinstance(choices, list):
            raise SampleParseError(f"choices must be a list, not {type(choices).__name__}")
        if choices and isinstance(choices[0], Mapping):
            message = choices[0].get("message") or {}
            if not isinstance(message, Mapping):
                raise SampleParseError(f"choices[0].message must be an object, not {type(message).__name__}")
        if text is None:
            text = message.get("content")
        if tools is None and message.get("tool_calls"):
            if not isinstance(message["tool_calls"], list):
                raise SampleParseError("choices[0].message.tool_calls must be a list")
            tools = list(message["tool_calls"])
        output_json = value.get("output_json", _UNPARSED)
        if text is None:
            text = "" if output_json is _UNPARSED else json.dumps(output_json, ensure_ascii=False)
        if not isinstance(text, str):
            text = json.dumps(text, ensure_ascii=False)
        return cls(
            text,
            output_json=output_json,
            output_tools=tools,
            choices=choices,
            output_audio=value.get("output_audio"),
        )

    @property
    def output_tools(self) -> list[Any]:
        """The tool calls the model made (an empty list when none)."""
        tools = self._tools
        if tools is None:
            tools = self._tools = []
        return tools

    @output_tools.setter
    def output_tools(self, value: list[Any]) -> None:
        self._tools = value

    @property
    def choices(self) -> list[Any]:
        """The raw chat-completion choices, when the sample came from one (else an empty list)."""
        choices = self._choices
        if choices is None:
            choices = self._choices = []
        return choices

    @choices.setter
    def choices(self, value: list[Any]) -> None:
        self._choices = value

    @property
    def output_json(self) -> Any:
        """The output parsed as JSON; raises SampleParseError when it is not JSON."""
        if self._json is _UNPARSED:
            self._json = self._parse_json()
        if self._json_error is not None:
            raise SampleParseError(self._json_error)
        return self._json

    def _parse_json(self) -> Any:
        text = self.output_text
        if len(text) > MAX_JSON_CHARS:
            self._json_error = f"output_text is {len(text)} characters, over the {MAX_JSON_CHARS} limit"
            return None
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as exc:
            self._json_error = f"output_text is not valid JSON: {str(exc)[:200]}"
            return None

    def to_dict(self) -> dict[str, Any]:
        """The sample in the hosted API's shape (``output_json`` is None when not JSON)."""
        try:
            output_json = self.output_json
        except SampleParseError:
            output_json = None
        return {
            "output_text": self.output_text,
            "output_json": output_json,
            "output_tools": self.output_tools,
            "choices": self.choices,
            "output_audio": self.output_audio,
        }

    def __repr__(self) -> str:
        return f"Sample(output_text={self.output_text[:60]!r})"


_KINDS: dict[str, ErrorKind] = {kind.value: kind for kind in ErrorKind}


@dataclass(frozen=True, slots=True)
class ScoreError:
    """Why a sample could not be graded: a machine-readable ``kind`` and a short message.

    ``kind`` is an ``ErrorKind`` member (a str); a custom reward backend may set its own string.
    """

    kind: str
    message: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoreError:
        """The inverse of ``to_dict``; a catalogued kind reads back as its ``ErrorKind`` member."""
        kind = str(data["kind"])
        return cls(_KINDS.get(kind, kind), str(data.get("message", "")))


@dataclass(slots=True)
class Score:
    """The grade of one sample.

    Attributes:
        value: The reward; 0 to 1 for most kinds (a ``score_model`` range or a ``multi``
            formula may go outside it).
        passed: Whether the sample passed, where a threshold or pass label applies; else None.
        details: The evidence: extracted answer, normalised reference, rank, sub-scores, ...
        error: Set when the sample could not be graded; ``value`` is then 0 (or what a
            ``multi`` formula made of the other parts).
    """

    value: float
    passed: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)
    error: ScoreError | None = None

    @classmethod
    def failure(cls, kind: ErrorKind, message: str = "", **details: Any) -> Score:
        """A Score for a sample that could not be graded: value 0 with ``error`` set."""
        return cls(0.0, None, details, ScoreError(kind, message))

    @property
    def abstained(self) -> bool:
        """True when the *reference* was unusable, so the sample is neither right nor wrong."""
        return self.error is not None and self.error.kind in ABSTENTION_KINDS

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: value, passed, details, error (None or {kind, message})."""
        value = self.value
        return {
            "value": value if math.isfinite(value) else None,
            "passed": self.passed,
            "details": self.details,
            "error": None if self.error is None else self.error.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Score:
        """The inverse of ``to_dict``: ``Score.from_dict(score.to_dict()) == score``.

        A value written as null (``to_dict`` writes a NaN or infinite value so) reads back as
        NaN; missing keys read as their defaults. Every reader of a serialised Score (run
        directories, the HTTP reward service) goes through here.

        Raises:
            KeyError, TypeError, ValueError: ``data`` is not a Score's dict (an error without
                ``kind``, a value that is not a number).

        Example:
            >>> Score.from_dict({"value": 1.0, "passed": True, "details": {"rank": 1}, "error": None})
            Score(value=1.0, passed=True, details={'rank': 1}, error=None)
        """
        value = data.get("value")
        error = data.get("error")
        return cls(
            math.nan if value is None else float(value),
            data.get("passed"),
            dict(data.get("details") or {}),
            None if error is None else ScoreError.from_dict(error),
        )
