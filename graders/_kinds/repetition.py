"""``repetition``: a penalty for repeated n-grams (a degenerate, looping generation scores lowest)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import ConfigDict, Field

from graders._grader import Grader
from graders._registry import register
from graders._spec import BaseSpec
from graders._template import Template
from graders._types import Sample, Score

_WORD = re.compile(r"\S+")

EXAMPLE: dict[str, Any] = {"type": "repetition", "name": "no_loops", "n": 3, "max_penalty": -1.0}


class RepetitionSpec(BaseSpec):
    """``max_penalty`` times the share of repeated ``n``-grams, for use inside ``multi``.

    The share is ``1 - distinct n-grams / all n-grams`` over words (whitespace-separated,
    lower-cased; ``unit: "chars"``: characters), as in open-r1's repetition penalty. An output
    with fewer than ``n`` units scores 0 (nothing repeats). Value range: ``max_penalty`` (at
    least -1) to 0.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE], "x-value-range": [-1, 0]})

    type: Literal["repetition"] = "repetition"
    input: str = "{{sample.output_text}}"
    n: int = Field(default=3, ge=1, le=64)
    unit: Literal["words", "chars"] = "words"
    max_penalty: float = Field(default=-1.0, ge=-1.0, le=0.0)


def repeated_share(units: list[str], n: int) -> float:
    """1 - distinct n-grams / n-grams (0 when there are fewer than ``n`` units)."""
    total = len(units) - n + 1
    if total <= 0:
        return 0.0
    distinct = len({tuple(units[i : i + n]) for i in range(total)})
    return 1.0 - distinct / total


class RepetitionGrader(Grader):
    def __init__(self, spec: RepetitionSpec) -> None:
        self.input = Template.parse(spec.input, ("input",))
        super().__init__(spec, self.input.item_fields)
        self.n, self.words, self.max_penalty = spec.n, spec.unit == "words", spec.max_penalty

    def _grade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        text = self.input.render(sample, item)
        units = _WORD.findall(text.lower()) if self.words else list(text)
        share = repeated_share(units, self.n)
        value = self.max_penalty * share if share else 0.0
        return Score(value, None, {"repeated_share": share, "ngrams": max(0, len(units) - self.n + 1)})


@register(RepetitionSpec)
def compile_repetition(spec: RepetitionSpec) -> Grader:
    return RepetitionGrader(spec)
