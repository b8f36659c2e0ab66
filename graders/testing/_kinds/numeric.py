"""What the testing tools know about ``numeric``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import strategies as st

from graders._grader import Grader
from graders._kinds.numeric import NumericSpec
from graders.testing._profiles import (
    KindProfile,
    LawFailure,
    add_profile,
    default_slots,
)
from graders.testing._slots import Slot

# The pattern the generated ``regex``-mode specs use, so their answers can be written for them.
_NUMERIC_PATTERN = r"Answer: (?P<answer>\S+)"
_NUMERIC_FORMATS = {
    "auto": "{}",
    "last_number": "{}",
    "first_number": "{}",
    "gsm8k": "#### {}",
    "boxed": "\\boxed{{{}}}",
    "regex": "Answer: {}",
}
_ONE_PLACE_FIX = (
    "`auto`, `last_number` and `first_number` read a number from anywhere in the output; give the answer one "
    "fixed place (`extract: gsm8k` or `boxed`) and keep `partial_credit` low"
)


def _hedge_fix(grader: Grader[NumericSpec]) -> str:
    spec = grader.spec
    if spec.extract in ("first_number", "last_number"):
        return (
            f"`extract: {spec.extract}` reads a position, so 'RIGHT or WRONG' is paid in one order; use "
            "`extract: auto` (or gsm8k/boxed) with `hedging: refuse`, which pays nothing for several answers"
        )
    if spec.hedging == "allow":
        return "`hedging: allow` pays the first or last of several answers; remove it (the default refuses hedges)"
    return _ONE_PLACE_FIX


def _numeric_format(grader: Grader[NumericSpec], mode: str) -> str:
    if mode == "regex" and grader.spec.pattern != _NUMERIC_PATTERN:
        raise LookupError("cannot write an answer for a user's regex")
    return _NUMERIC_FORMATS[mode]


def _numeric_reference(slot: Slot, item: Mapping[str, Any]) -> tuple[str, str]:
    """The number the reference holds, as written and as the kind's exact value."""
    details = slot.grader.grade("", item)
    if details.error is not None:
        raise LookupError("the reference holds no number")
    return str(details.details["reference"]), str(details.details["reference_value"])


def _numeric_answer(slot: Slot, item: Mapping[str, Any]) -> Any:
    text, _ = _numeric_reference(slot, item)
    return _numeric_format(slot.grader, slot.grader.spec.extract).format(text)


def _number_variants(value: str) -> list[str]:
    """The same number written other ways: trailing zeros, thousands commas, Unicode minus,
    full-width digits."""
    out = [value + (".0" if "." not in value else "0")]
    digits = value.lstrip("-")
    if digits.isdigit() and len(digits) > 3:
        out.append(f"{int(value):,}")
    if value.startswith("-"):
        out.append("\u2212" + digits)
    out.append(value.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"}))
    return out


def _numeric_format_law(grader: Grader[NumericSpec], item: Mapping[str, Any], draw: Callable[..., Any]) -> None:
    """The same number written another way scores the same."""
    for slot in default_slots(grader):
        try:
            _, value = _numeric_reference(slot, item)
            template = _numeric_format(grader, grader.spec.extract)
        except LookupError:
            continue
        if "e" in value or "E" in value:
            continue
        variant = draw(st.sampled_from(_number_variants(value)), label="number written as")
        canonical, sample = slot.place(template.format(value)), slot.place(template.format(variant))
        if canonical is None or sample is None:
            continue
        base, got = grader.grade(canonical, item).value, grader.grade(sample, item).value
        if got != base:
            raise LawFailure("invariant_under_number_format", f"{value!r} scored {base} but {variant!r} {got}", sample)


def _numeric_references(grader: Grader[NumericSpec]) -> st.SearchStrategy[str]:
    mode = grader.spec.reference_extract
    written = st.one_of(
        st.integers(-10**6, 10**6).map(str),
        st.integers(1000, 10**7).map(lambda n: f"{n:,}"),
        st.decimals(-1000, 1000, places=2, allow_nan=False).map(str),
    )
    if mode == "regex":
        return written.map("Answer: {}".format)
    fmt = {"gsm8k": "We add them up.\n#### {}", "boxed": "so it is \\boxed{{{}}}"}.get(mode, "{}")
    return written.map(fmt.format)


@st.composite
def _numeric_specs(draw: st.DrawFn) -> dict[str, Any]:
    modes = ["auto", "gsm8k", "boxed", "last_number", "first_number", "regex"]
    spec: dict[str, Any] = {"type": "numeric", "name": "number", "reference": "{{item.answer}}"}
    if draw(st.booleans()):
        spec["input"] = "{{sample.output_text}}"
    spec["extract"] = draw(st.sampled_from(modes))
    spec["reference_extract"] = draw(st.sampled_from(modes))
    if "regex" in (spec["extract"], spec["reference_extract"]):
        spec["pattern"] = _NUMERIC_PATTERN
    for name, options in (
        ("abs_tol", [0.0, 0.01, 1.0]),
        ("rel_tol", [0.0, 1e-6]),
        ("percent", ["as_written", "fraction", "either"]),
        ("partial_credit", [0.0, 0.25]),
        ("hedging", ["refuse", "allow"]),
        ("decimal_comma", [True, False]),
        ("precision", [2, 6]),
    ):
        if draw(st.booleans()):
            spec[name] = draw(st.sampled_from(options))
    return spec


add_profile(
    "numeric",
    KindProfile(
        answer=_numeric_answer,
        reference_values=_numeric_references,
        laws=(_numeric_format_law,),
        specs=_numeric_specs,
        fixes={"multiple_answers": _hedge_fix, "multiple_boxed": _hedge_fix, "padded_list": _ONE_PLACE_FIX},
    ),
)
