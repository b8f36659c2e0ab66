"""``length``: DAPO's soft overlong punishment, or a target length range; tokens or characters."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from graders._errors import MissingDependencyError
from graders._grader import Grader
from graders._registry import register
from graders._spec import BaseSpec
from graders._template import Template
from graders._types import Sample, Score

EXAMPLE: dict[str, Any] = {"type": "length", "name": "overlong", "max_len": 4096, "buffer": 512}


class LengthSpec(BaseSpec):
    """A length reward, for use inside ``multi`` next to a correctness grader.

    ``mode: "overlong"`` (the default) is DAPO's soft overlong punishment (Yu et al. 2025,
    arXiv:2503.14476): 0 up to ``max_len - buffer``, then falling linearly to -1 at
    ``max_len``, and -1 beyond. Value range: -1 to 0. ``mode: "range"`` scores 1 when the
    length lies within ``min_len`` to ``max_len`` (inclusive), else 0. Value range: 0 to 1.

    The length counts tokens of ``tokenizer`` (a Hugging Face tokenizer name or local path,
    loaded once with ``transformers``; special tokens are not counted) when given, else
    characters. ``details`` holds the length and the unit.
    """

    model_config = ConfigDict(
        json_schema_extra={"examples": [EXAMPLE], "x-value-range": {"overlong": [-1, 0], "range": [0, 1]}}
    )

    type: Literal["length"] = "length"
    input: str = "{{sample.output_text}}"
    mode: Literal["overlong", "range"] = "overlong"
    max_len: int = Field(gt=0)
    buffer: int | None = Field(default=None, gt=0)
    min_len: int | None = Field(default=None, ge=0)
    tokenizer: str | None = None

    @model_validator(mode="after")
    def _fields_of_the_mode(self) -> LengthSpec:
        if self.mode == "overlong":
            if self.buffer is None or self.buffer > self.max_len:
                raise ValueError("overlong mode needs 'buffer', at most max_len (DAPO: 4096 with max_len 20480)")
            if self.min_len is not None:
                raise ValueError("'min_len' belongs to mode 'range'")
        else:
            if self.buffer is not None:
                raise ValueError("'buffer' belongs to mode 'overlong'")
            if (self.min_len or 0) > self.max_len:
                raise ValueError("min_len is over max_len")
        return self


def overlong_penalty(length: int, max_len: int, buffer: int) -> float:
    """DAPO's soft overlong punishment: 0, then linear down to -1 over the last ``buffer`` units."""
    expected = max_len - buffer
    if length <= expected:
        return 0.0
    if length <= max_len:
        return (expected - length) / buffer
    return -1.0


@functools.cache
def _load_tokenizer(name: str) -> Callable[[str], int]:
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise MissingDependencyError("transformers", "rl", "the length kind's tokenizer") from None
    tokenizer = AutoTokenizer.from_pretrained(name)
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


class LengthGrader(Grader):
    """A ``length`` grader; ``count`` replaces the tokenizer (any ``str -> int``, e.g. a loaded tokenizer's)."""

    def __init__(self, spec: LengthSpec, *, count: Callable[[str], int] | None = None) -> None:
        self.input = Template.parse(spec.input, ("input",))
        super().__init__(spec, self.input.item_fields)
        self.mode, self.max_len, self.buffer, self.min_len = spec.mode, spec.max_len, spec.buffer, spec.min_len or 0
        self.unit = "tokens" if spec.tokenizer is not None or count is not None else "chars"
        self.tokenizer = spec.tokenizer
        self._count = count

    def count(self, text: str) -> int:
        if self._count is None:
            self._count = _load_tokenizer(self.tokenizer) if self.tokenizer is not None else len
        return self._count(text)

    def _grade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        length = self.count(self.input.render(sample, item))
        details = {"length": length, "unit": self.unit}
        if self.mode == "overlong":
            assert self.buffer is not None
            value = overlong_penalty(length, self.max_len, self.buffer)
            return Score(value, None, details)
        ok = self.min_len <= length <= self.max_len
        return Score(1.0 if ok else 0.0, ok, details)


@register(LengthSpec)
def compile_length(spec: LengthSpec) -> Grader:
    return LengthGrader(spec)
