"""What the testing tools know about the shaping kinds ``format``, ``length`` and ``repetition``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import strategies as st

from graders._grader import Grader
from graders.testing._profiles import KindProfile, LawFailure, add_profile


@st.composite
def _format_specs(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        return {
            "type": "format",
            "name": "fmt",
            "tags": draw(st.sampled_from([["think"], ["think", "answer"]])),
            "then": draw(st.sampled_from(["text", "nothing"])),
        }
    return {
        "type": "format",
        "name": "fmt",
        "pattern": r".*\\boxed\{[^{}]+\}.*",
        "match": draw(st.sampled_from(["full", "search"])),
    }


@st.composite
def _length_specs(draw: st.DrawFn) -> dict[str, Any]:
    max_len = draw(st.integers(1, 200))
    if draw(st.booleans()):
        return {"type": "length", "name": "len", "max_len": max_len, "buffer": draw(st.integers(1, max_len))}
    return {
        "type": "length",
        "name": "len",
        "mode": "range",
        "min_len": draw(st.integers(0, max_len)),
        "max_len": max_len,
    }


@st.composite
def _repetition_specs(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "type": "repetition",
        "name": "rep",
        "n": draw(st.integers(1, 5)),
        "unit": draw(st.sampled_from(["words", "chars"])),
        "max_penalty": draw(st.sampled_from([-1.0, -0.5, 0.0])),
    }


def _longer_never_better(grader: Grader, item: Mapping[str, Any], draw: Callable[..., Any]) -> None:
    """Overlong: a longer output never scores more than a shorter one."""
    spec: Any = grader.spec
    if spec.mode != "overlong":
        return
    a, b = sorted(draw(st.lists(st.integers(0, 2 * spec.max_len), min_size=2, max_size=2)))
    short, long = grader.grade("x" * a, item).value, grader.grade("x" * b, item).value
    if long > short:
        raise LawFailure("longer_never_better", f"{b} chars scored {long} > {short} for {a}", "x" * b)


def _length_bounds(grader: Grader) -> tuple[float, float]:
    return (-1.0, 0.0) if grader.spec.mode == "overlong" else (0.0, 1.0)


add_profile("format", KindProfile(bounds=lambda g: (0.0, 1.0), expect=lambda g: (None, 0.0), specs=_format_specs))
add_profile("length", KindProfile(bounds=_length_bounds, specs=_length_specs, laws=(_longer_never_better,)))
add_profile(
    "repetition",
    KindProfile(bounds=lambda g: (g.spec.max_penalty, 0.0), expect=lambda g: (None, 0.0), specs=_repetition_specs),
)
