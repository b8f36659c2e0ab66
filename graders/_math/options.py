"""Spec options that ``numeric`` and ``math`` share: hedging, reasoning traces, decimal commas,
precision. One base model, so both kinds spell and document them the same way."""

from __future__ import annotations

from fractions import Fraction
from typing import Literal

from pydantic import Field

from graders._spec import BaseSpec

HEDGE_NOTE = "the output commits to several different final answers (a hedge is not paid)"


class AnswerOptions(BaseSpec):
    """Options of the answer-reading kinds (``numeric``, ``math``)."""

    hedging: Literal["refuse", "allow"] = Field(
        default="refuse",
        description=(
            "'refuse' (default): an output that commits to several different final answers "
            "('18 or 25', two boxes with different values, '#### 18' then '#### 25', a list of "
            "candidates after 'the answer is') scores 0 with details['hedge']. 'allow': the last "
            "box or marker and the first value after the cue are read, as before."
        ),
    )
    reasoning_tags: tuple[str, str] | None = Field(
        default=("<think>", "</think>"),
        description=(
            "Opening and closing tags of a reasoning trace: only the text after the last closing tag "
            "is read (an opening tag that never closes leaves nothing after it). null reads everything."
        ),
    )
    decimal_comma: bool = Field(
        default=False,
        description=(
            "Read '1000,99' and '2,74' as decimals where the comma cannot be a thousands separator. "
            "'1,000' stays one thousand: with three digits after one comma both readings exist."
        ),
    )
    precision: int | None = Field(
        default=None,
        ge=0,
        le=15,
        description="Compare both values rounded to this many decimal places (half away from zero).",
    )


def rounded(value: Fraction, places: int) -> Fraction:
    """``value`` rounded to ``places`` decimals, half away from zero (0.125 -> 0.13)."""
    scale = 10**places
    magnitude = (abs(value) * scale + Fraction(1, 2)).__floor__()
    return Fraction(magnitude if value >= 0 else -magnitude, scale)
