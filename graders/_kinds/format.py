"""``format``: the output has the required shape (a regex, or tagged blocks such as ``<think>``); 1 or 0."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from graders._errors import ErrorKind, SpecError
from graders._grader import Grader
from graders._registry import register
from graders._spec import BaseSpec
from graders._template import Template
from graders._types import Sample, Score

# Past this the output is not matched: a user's regex on a runaway generation could take long.
MAX_INPUT_CHARS = 100_000
_TAG = re.compile(r"[A-Za-z][\w.-]*")

EXAMPLE: dict[str, Any] = {"type": "format", "name": "think_format", "tags": ["think"]}


class FormatSpec(BaseSpec):
    """1 when ``input`` has the required format, else 0: a shaping reward, for use inside ``multi``.

    * ``pattern``: a Python regex that must match the whole output (``match: "search"``: anywhere).
    * ``tags``: blocks ``<tag>...</tag>`` that must come in this order, each exactly once, each
      holding something other than whitespace, with only whitespace between them. ``then:
      "text"`` (the default) requires a non-blank answer after the last block (``<think>...</think>``
      then the answer); ``"nothing"`` forbids text after it (``<think>`` then ``<answer>`` blocks).

    An empty block (``<think></think>``) or a missing answer does not count as the format: the
    format alone, with nothing in it, must not earn the reward. Value range: 0 to 1.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE], "x-value-range": [0, 1]})

    type: Literal["format"] = "format"
    input: str = "{{sample.output_text}}"
    pattern: str | None = None
    match: Literal["full", "search"] = "full"
    tags: list[str] | None = Field(default=None, min_length=1)
    then: Literal["text", "nothing"] = "text"

    @model_validator(mode="after")
    def _one_of_pattern_or_tags(self) -> FormatSpec:
        if (self.pattern is None) == (self.tags is None):
            raise ValueError("give exactly one of 'pattern' (a regex) or 'tags' (e.g. [\"think\"])")
        return self


class FormatGrader(Grader):
    def __init__(self, spec: FormatSpec) -> None:
        self.input = Template.parse(spec.input, ("input",))
        super().__init__(spec, self.input.item_fields)
        self.tags = tuple(spec.tags or ())
        self.then = spec.then
        for i, tag in enumerate(self.tags):
            if not _TAG.fullmatch(tag):
                raise SpecError(f"{tag!r} is not a tag name", ("tags", i), " (letters, digits, _ . -)")
        self.find: Callable[[str], Any] = self._tagged
        if spec.pattern is not None:
            try:
                regex = re.compile(spec.pattern, re.DOTALL)
            except re.error as exc:
                raise SpecError(f"pattern is not a valid regex: {exc}", ("pattern",)) from None
            self.find = regex.search if spec.match == "search" else regex.fullmatch

    def _tagged(self, text: str) -> bool:
        # A scan, not a regex: "non-blank content between tags" as a regex backtracks quadratically.
        markers = [m for t in self.tags for m in (f"<{t}>", f"</{t}>")]
        pos = 0
        for tag in self.tags:
            opening, closing = f"<{tag}>", f"</{tag}>"
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if not text.startswith(opening, pos):
                return False
            end = text.find(closing, pos + len(opening))
            content = text[pos + len(opening) : end]
            if end < 0 or not content.strip() or opening in content:
                return False
            pos = end + len(closing)
        tail = text[pos:]
        if any(m in tail for m in markers):
            return False
        return bool(tail.strip()) == (self.then == "text")

    def _grade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        text = self.input.render(sample, item)
        if len(text) > MAX_INPUT_CHARS:
            return Score.failure(
                ErrorKind.INPUT_TOO_LONG, f"the output is {len(text)} characters, over {MAX_INPUT_CHARS}"
            )
        found = self.find(text)
        ok = found is not None and found is not False
        return Score(1.0 if ok else 0.0, ok, {"matched": ok})


@register(FormatSpec)
def compile_format(spec: FormatSpec) -> Grader:
    return FormatGrader(spec)
