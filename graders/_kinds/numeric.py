"""``numeric``: extract a number from the output and from the reference, compare with tolerance."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from graders._errors import ErrorKind, SpecError
from graders._grader import Grader, TemplateGrader
from graders._math.final import pick, strip_reasoning
from graders._math.numbers import Number
from graders._math.options import HEDGE_NOTE, AnswerOptions, rounded
from graders._registry import register
from graders._types import Sample, Score, clip

# Outputs longer than this are not read: a final answer never needs a megabyte of text, and
# every regex pass over it costs time inside the training loop.
MAX_INPUT_CHARS = 1_000_000

Mode = Literal["auto", "gsm8k", "boxed", "last_number", "first_number", "regex"]
# A minimal spec of this kind: shown in the JSON Schema and used by the round-trip tests.
EXAMPLE: dict[str, Any] = {
    "type": "numeric",
    "name": "gsm8k",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "extract": "auto",
    "reference_extract": "gsm8k",
}


class NumericSpec(AnswerOptions):
    """Reads one number from ``input`` and one from ``reference`` and compares them.

    Extraction modes (``extract`` for the input, ``reference_extract`` for the reference):

    * ``auto`` (default): the GSM8K ``#### N`` marker, else a final ``A: N`` / ``Answer: N``
      line, else the last ``\\boxed{...}``, else "the answer is N", else the last number;
    * ``gsm8k``: only the ``#### N`` marker or a final ``A: N`` line; as ``reference_extract``
      a reference that is a bare number (``72``, as verl's GSM8K preprocessing stores it) is read
      too;
    * ``boxed``: the first value inside the last ``\\boxed{...}``;
    * ``last_number`` / ``first_number``: the last / first number anywhere. These read a position
      by definition and are not guarded against hedges (``rftkit check`` flags them);
    * ``regex``: the last match of ``pattern``; its group ``answer`` (or its first group).

    Hedging (``hedging="refuse"``, the default): an output that commits to several different
    final answers scores 0 with ``details["hedge"]``: "18 or 25", "either 18 or 25", "18, or
    maybe 25", a list "18, 25" after the cue, two boxes with different values, ``#### 18`` then
    ``#### 25``. Restating one value ("18, i.e. 18.0") is no hedge. ``hedging="allow"`` reads
    the last box or marker and the first value after the cue.

    Unreduced values: a final answer that is plain arithmetic (``128/2``, ``3*6``, ``3 \\times 6``)
    is evaluated exactly; an ``=`` chain (``3*6 = 18``) counts by its last value.

    Reasoning traces: text up to the last ``</think>`` is dropped first (``reasoning_tags``).
    ``decimal_comma`` reads ``1000,99`` as 1000.99 (``1,000`` stays a thousand); ``precision``
    compares both values rounded to that many decimal places.

    Numbers: thousands commas (``1,000``; ``15{,}000``), signs, decimals, ``1.5e3``, currency
    symbols (``$``, ``\\$``, ``€``, ``£``, ``¥``, ``₹``), simple and mixed fractions (``3/4``,
    ``1 1/2``, ``\\frac{3}{4}``), units after the number (``18 dollars`` reads 18), Unicode minus
    signs and full-width digits. Words (``NaN``, ``inf``, ``twelve``) are not numbers.

    Percent: with ``percent="as_written"`` (default) ``60%`` reads as 60, so it matches a
    reference of ``60`` and not ``0.6``; ``"fraction"`` reads it as 0.6; ``"either"`` accepts
    both readings. Values are exact fractions: ``0.1 + 0.2`` style float error never fails a match.

    A number never falls through to a text comparison (``"25".endswith("5")`` is no match).
    The comparison passes when ``|input - reference| <= max(abs_tol, rel_tol * |reference|)``
    (both 0 by default: exact). An output without a number scores 0; one with a well-formed
    wrong number scores ``partial_credit`` (ReFT style, default 0). A reference without a
    number gives an error score of kind ``reference_parse_error`` (not scored).
    """

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    type: Literal["numeric"] = "numeric"
    input: str = "{{sample.output_text}}"
    reference: str
    extract: Mode = "auto"
    reference_extract: Mode = "auto"
    pattern: str | None = Field(default=None, description="Regex for the 'regex' modes, with a group named 'answer'.")
    abs_tol: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    rel_tol: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    percent: Literal["as_written", "fraction", "either"] = "as_written"
    partial_credit: float = Field(default=0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _pattern_needed(self) -> NumericSpec:
        uses_regex = "regex" in (self.extract, self.reference_extract)
        if uses_regex and self.pattern is None:
            raise ValueError("extract mode 'regex' needs a 'pattern' with a group named 'answer'")
        if not uses_regex and self.pattern is not None:
            raise ValueError("'pattern' is only read by extract mode 'regex'")
        return self


def _compile_pattern(pattern: str | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise SpecError(f"invalid regex: {exc}", ("pattern",)) from None
    if "answer" not in compiled.groupindex and compiled.groups == 0:
        raise SpecError("the regex needs a capture group (name it 'answer')", ("pattern",))
    return compiled


@functools.lru_cache(maxsize=4096)
def _reference(text: str, mode: str, pattern: re.Pattern[str] | None, decimal_comma: bool) -> Number | None:
    # a reference is read once: a GSM8K solution is graded against many samples
    return pick(text, mode, pattern, reference=True, decimal_comma=decimal_comma).number


def _readings(number: Number, percent: str) -> tuple[Fraction, ...]:
    if not number.percent or percent == "as_written":
        return (number.value,)
    if percent == "fraction":
        return (number.value / 100,)
    return (number.value, number.value / 100)


def _show(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.15g}"


class NumericGrader(TemplateGrader[NumericSpec]):
    def __init__(self, spec: NumericSpec) -> None:
        super().__init__(spec, spec.input, spec.reference)
        self.pattern = _compile_pattern(spec.pattern)
        self.mode = spec.extract
        self.reference_mode = spec.reference_extract
        self.abs_tol = Fraction(spec.abs_tol)
        self.rel_tol = Fraction(spec.rel_tol)
        self.percent = spec.percent
        self.partial_credit = spec.partial_credit
        self.refuse_hedges = spec.hedging == "refuse"
        self.reasoning_tags = spec.reasoning_tags
        self.decimal_comma = spec.decimal_comma
        self.precision = spec.precision

    def _grade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        ref_text = self.reference.render(sample, item)
        if len(ref_text) > MAX_INPUT_CHARS:
            return Score.failure(ErrorKind.REFERENCE_PARSE_ERROR, f"reference is over {MAX_INPUT_CHARS} characters")
        ref = _reference(ref_text, self.reference_mode, self.pattern, self.decimal_comma)
        if ref is None:
            no_number = "no number in the reference"
            return Score.failure(ErrorKind.REFERENCE_PARSE_ERROR, no_number, reference=clip(ref_text))
        details: dict[str, Any] = {"reference": ref.text, "reference_value": _show(ref.value)}
        text = self.input.render(sample, item)
        if len(text) > MAX_INPUT_CHARS:
            message = f"output is {len(text)} characters, over {MAX_INPUT_CHARS}"
            return Score.failure(ErrorKind.INPUT_TOO_LONG, message, **details)
        text = strip_reasoning(text, self.reasoning_tags)
        picked = pick(text, self.mode, self.pattern, decimal_comma=self.decimal_comma)
        got = picked.number
        if got is None:
            return Score(0.0, False, {"extracted": None, "extracted_value": None, **details})
        details = {"extracted": got.text, "extracted_value": _show(got.value), **details}
        if self.refuse_hedges and picked.hedged:
            values = [_show(n.value) for n in (got, *picked.others)]
            return Score(0.0, False, {**details, "hedge": HEDGE_NOTE, "answers": list(dict.fromkeys(values))})
        ok = any(
            self._close(value, target)
            for target in _readings(ref, self.percent)
            for value in _readings(got, self.percent)
        )
        return Score(1.0 if ok else self.partial_credit, ok, details)

    def _close(self, value: Fraction, target: Fraction) -> bool:
        if self.precision is not None:
            value, target = rounded(value, self.precision), rounded(target, self.precision)
        return abs(value - target) <= max(self.abs_tol, self.rel_tol * abs(target))


@register(NumericSpec)
def compile_numeric(spec: NumericSpec) -> Grader:
    return NumericGrader(spec)
