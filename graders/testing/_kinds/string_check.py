"""What the testing tools know about ``string_check``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import strategies as st

from graders._grader import Grader
from graders._kinds.string_check import StringCheckSpec
from graders.testing import _values as values
from graders.testing._profiles import (
    Expect,
    KindProfile,
    LawFailure,
    add_profile,
)

_CONTAINS_FIX = (
    "`like`/`ilike` pay any output that contains the reference; compare an extracted answer with `eq` "
    "(e.g. `{{sample.output_json.answer}}`) or guard the length in a `multi`"
)

def _string_check_expect(grader: Grader[StringCheckSpec]) -> Expect:
    return (0.0, 1.0) if grader.spec.operation == "ne" else (1.0, 0.0)


@st.composite
def _string_check_specs(draw: st.DrawFn) -> dict[str, Any]:
    inp, ref = draw(
        st.sampled_from(
            [
                ("{{sample.output_text}}", "{{item.answer}}"),
                ("{{ sample.output_json.answer }}", "{{item.answer}}"),
                ("{{sample.output_json.result.label}}", "{{item.expected.label}}"),
                ("Answer: {{sample.output_text}}", "Answer: {{item.answer}}"),
                ("{{sample.output_tools[0].function.name}}", "get_weather"),
            ]
        )
    )
    op = draw(st.sampled_from(["eq", "ne", "like", "ilike"]))
    return {"type": "string_check", "name": f"check_{op}", "input": inp, "reference": ref, "operation": op}


def _ilike_case_law(grader: Grader[StringCheckSpec], item: Mapping[str, Any], draw: Callable[..., Any]) -> None:
    """``ilike`` does not care about the case of ASCII letters in the output."""
    if grader.spec.operation != "ilike" or grader.spec.input != "{{sample.output_text}}":
        return
    text = draw(values.words(), label="output_text")
    for variant in (text.upper(), text.lower()):
        a, b = grader.grade(text, item).value, grader.grade(variant, item).value
        if a != b:
            raise LawFailure("ilike_ignores_case", f"{text!r} scored {a} but {variant!r} scored {b}", variant)


add_profile(
    "string_check",
    KindProfile(
        expect=_string_check_expect,
        laws=(_ilike_case_law,),
        specs=_string_check_specs,
        fixes={
            "padded_list": _CONTAINS_FIX,
            "multiple_answers": _CONTAINS_FIX,
            "multiple_boxed": _CONTAINS_FIX,
            "missing_fields": "the grader reads only some fields of the JSON output; check every field that matters",
        },
    ),
)
