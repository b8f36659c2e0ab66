"""What the testing tools know about ``multi``: children combined through the formula."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import strategies as st

from graders._details import sub_scores
from graders._errors import ErrorKind
from graders._grader import Grader
from graders._kinds.multi import MultiGrader
from graders._registry import kinds
from graders.testing._profiles import (
    SCORE_TOLERANCE,
    Bounds,
    Expect,
    KindProfile,
    LawFailure,
    add_profile,
    bounds_of,
    close,
    expectations,
    slots_of,
)
from graders.testing._slots import Slot
from graders.testing._strategies import compiles, samples_for, specs

# A multi formula is probed at this many points per variable to find its bounds.
_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
_MAX_GRID_VARIABLES = 4
_LEAF_KINDS_FOR_MULTI = ("string_check", "list_rank", "text_similarity", "field_match", "numeric")


def _multi_formula_law(grader: Grader, item: Mapping[str, Any], draw: Callable[..., Any]) -> None:
    """The multi value is the formula of its sub-scores and lies within the formula's bounds."""
    sample = draw(samples_for(grader, item), label="sample")
    score = grader.grade(sample, item)
    subs = sub_scores(score)
    if score.abstained or (score.error is not None and score.error.kind == ErrorKind.FORMULA_EVAL_ERROR):
        return  # an abstaining child makes the multi abstain; a math error in the formula is an error
    if not subs:
        raise LawFailure("multi_formula", "details has no sub_scores", sample)
    expected = _multi(grader).formula.evaluate(subs)
    if not close(score.value, expected):
        raise LawFailure("multi_formula", f"value {score.value} but the formula of {subs} is {expected}", sample)
    bounds = bounds_of(grader)
    if bounds is not None and not bounds[0] - SCORE_TOLERANCE <= score.value <= bounds[1] + SCORE_TOLERANCE:
        raise LawFailure("multi_bounds", f"value {score.value} outside the formula's bounds {bounds}", sample)


def multi_slots(grader: Grader) -> list[Slot]:
    return [slot for child in _children(grader).values() for slot in slots_of(child)]


def multi_bounds(grader: Grader) -> Bounds | None:
    children = _children(grader)
    child_bounds = [bounds_of(child) for child in children.values()]
    if any(b is None for b in child_bounds) or len(children) > _MAX_GRID_VARIABLES:
        return None
    axes = [[lo + t * (hi - lo) for t in _GRID] for lo, hi in child_bounds]  # type: ignore[misc]
    # errors enter the formula as 0, so 0 is a value each child can take too
    axes = [sorted({*axis, 0.0}) for axis in axes]
    results = [_formula(grader, dict(zip(children, point, strict=True))) for point in itertools.product(*axes)]
    finite = [r for r in results if r is not None]
    return (min(finite), max(finite)) if finite else None


def multi_expect(grader: Grader) -> Expect:
    children = _children(grader)
    expected = [expectations(child) for child in children.values()]
    out: list[float | None] = []
    for which in (0, 1):
        got = [e[which] for e in expected]
        out.append(None if any(g is None for g in got) else _formula(grader, dict(zip(children, got, strict=True))))
    return (out[0], out[1])


def _multi(grader: Grader) -> MultiGrader:
    if not isinstance(grader, MultiGrader):
        raise TypeError(f"the multi profile got a {grader.spec.type} grader")
    return grader


def _children(grader: Grader) -> dict[str, Grader]:
    return dict(_multi(grader).children)


def _formula(grader: Grader, variables: Mapping[str, Any]) -> float | None:
    try:
        value = float(_multi(grader).formula.evaluate(dict(variables)))
    except (ArithmeticError, ValueError, TypeError):
        return None
    return value if math.isfinite(value) else None


@st.composite
def _multi_specs(draw: st.DrawFn) -> dict[str, Any]:
    leaves = [k for k in _LEAF_KINDS_FOR_MULTI if k in kinds()]
    n = draw(st.integers(1, 3))
    keys = ["a", "b", "c"][:n]
    children = {}
    for key in keys:
        child = draw(specs(draw(st.sampled_from(leaves))).filter(compiles))
        children[key] = child
    weights = [draw(st.integers(1, 9)) for _ in keys]
    total = sum(weights)
    formulas = [
        " + ".join(f"{w / total:.4g} * {k}" for w, k in zip(weights, keys, strict=True)),
        f"({' + '.join(keys)}) / {n}",
        f"min({', '.join(keys)})",
        f"max({', '.join(keys)})",
        " * ".join(keys),
    ]
    formula = draw(st.sampled_from(formulas))
    return {"type": "multi", "name": "combined", "graders": children, "calculate_output": formula}


add_profile(
    "multi",
    KindProfile(
        slots=multi_slots,
        bounds=multi_bounds,
        expect=multi_expect,
        laws=(_multi_formula_law,),
        specs=_multi_specs,
    ),
)
