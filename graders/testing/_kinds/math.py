"""What the testing tools know about ``math``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import strategies as st

from graders._errors import ErrorKind
from graders._grader import Grader
from graders._kinds.math import MathSpec
from graders.testing._profiles import (
    KindProfile,
    LawFailure,
    add_profile,
    answers_of,
    identity_answer,
)


def _math_references(grader: Grader) -> st.SearchStrategy[str]:
    small = st.integers(1, 50)
    return st.one_of(
        st.integers(-1000, 1000).map(str),
        st.tuples(small, small).map(lambda ab: f"\\frac{{{ab[0]}}}{{{ab[1] + 1}}}"),
        st.tuples(small, st.sampled_from([2, 3, 5, 7])).map(lambda ab: f"{ab[0]}\\sqrt{{{ab[1]}}}"),
        st.tuples(small, small).map(lambda ab: f"({ab[0]}, {ab[1]})"),
        small.map(lambda a: f"{a}\\pi"),
    )


def _math_boxed_law(grader: Grader[MathSpec], item: Mapping[str, Any], draw: Callable[..., Any]) -> None:
    """The reference inside ``\\boxed{}`` at the end of a worked answer scores as the bare reference."""
    if grader.spec.extract != "auto":
        return
    for slot, answer in answers_of(grader, item, identity_answer):
        if not isinstance(answer, str) or "\\boxed" in answer:
            continue
        bare, boxed = slot.place(answer), slot.place(f"We simplify step by step. The answer is \\boxed{{{answer}}}.")
        if bare is None or boxed is None:
            continue
        a, b = grader.grade(bare, item), grader.grade(boxed, item)
        if a.error is None and b.error is None and a.value != b.value:
            raise LawFailure("boxed_answer_counts", f"bare {a.value}, boxed {b.value}", boxed)


@st.composite
def _math_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "math", "name": "math", "reference": "{{item.answer}}"}
    if draw(st.booleans()):
        spec["input"] = "{{sample.output_text}}"
    if draw(st.booleans()):
        spec["extract"] = draw(st.sampled_from(["auto", "none"]))
    for name, options in (("hedging", ["refuse", "allow"]), ("relations", ["bounds", "separate"]), ("precision", [6])):
        if draw(st.booleans()):
            spec[name] = draw(st.sampled_from(options))
    return spec


add_profile(
    "math",
    KindProfile(
        reference_values=_math_references,
        laws=(_math_boxed_law,),
        specs=_math_specs,
        fixes={
            "multiple_boxed": "several \\boxed{} answers earn credit; remove `hedging: allow` (the default refuses)",
            "multiple_answers": "'RIGHT or WRONG' earns credit; remove `hedging: allow` (the default refuses hedges)",
        },
        tolerated_errors=frozenset({ErrorKind.MATH_TIMEOUT}),
    ),
)
