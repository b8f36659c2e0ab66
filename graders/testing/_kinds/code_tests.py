"""What the testing tools know about ``code_tests``: programs whose share of passed cases is known."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import strategies as st

from graders._errors import ErrorKind
from graders._grader import Grader
from graders.testing._profiles import SCORE_TOLERANCE, KindProfile, LawFailure, add_profile

# Tests of ``f`` (doubling); the right and wrong programs below are written for them.
_TESTS = (
    "assert f(2) == 4\n",
    "assert f(0) == 0\nassert f(-3) == -6\n",
    "for i in range(5):\n    assert f(i) == 2 * i\n",
)
_RIGHT = "Here is f:\n```python\ndef f(x):\n    return 2 * x\n```"
_WRONG = "```python\ndef f(x):\n    return x + 3\n```"


@st.composite
def _specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "code_tests", "name": "code", "timeout_s": 5}
    if draw(st.booleans()):
        spec["tests"] = "{{item.tests}}"
    else:
        spec["cases"] = "{{item.cases}}"
        for key, options in (("scoring", ("fraction", "all")), ("compare", ("rstrip", "exact"))):
            if draw(st.booleans()):
                spec[key] = draw(st.sampled_from(options))
    return spec


_case = st.tuples(st.integers(-99, 99), st.integers(-99, 99)).map(
    lambda ab: {"input": f"{ab[0]} {ab[1]}\n", "output": f"{ab[0] + ab[1]}\n"}
)


def _items(grader: Grader) -> Mapping[str, st.SearchStrategy[Any]]:
    if grader.spec.tests is not None:
        return {"tests": st.sampled_from(_TESTS)}
    return {"cases": st.lists(_case, min_size=1, max_size=4, unique_by=lambda c: c["input"])}


def _lookup_program(cases: list[dict[str, str]], k: int) -> str:
    """A program right on the first k cases' inputs and wrong (prints nothing useful) on the rest."""
    table = {c["input"]: c["output"] for c in cases[:k]}
    return f"import sys\nprint({table!r}.get(sys.stdin.read(), 'no idea'), end='')\n"


def _monotone_in_cases_passed(grader: Grader, item: Mapping[str, Any], draw: Callable[..., Any]) -> None:
    """Passing more cases never scores less; fraction scores k/n, all-or-nothing [k == n]."""
    spec: Any = grader.spec
    if spec.tests is not None:
        right, wrong = grader.grade(_RIGHT, item), grader.grade(_WRONG, item)
        if right.value != 1.0 or wrong.value != 0.0:
            raise LawFailure("right_program", f"right program {right.value}, wrong {wrong.value}", _RIGHT)
        return
    cases = item["cases"]
    n = len(cases)
    programs = [_lookup_program(cases, k) for k in range(n + 1)]
    scores = grader.grade_batch(programs, [item] * (n + 1))
    if any(s.error is not None and s.error.kind == ErrorKind.CODE_TIMEOUT for s in scores):
        return  # a busy machine, not a wrong grade
    for k, score in enumerate(scores):
        want = k / n if spec.scoring == "fraction" else float(k == n)
        if abs(score.value - want) > SCORE_TOLERANCE:
            raise LawFailure(
                "monotone_in_cases", f"{k} of {n} cases right scored {score.value}, not {want}", programs[k]
            )


add_profile(
    "code_tests",
    KindProfile(
        bounds=lambda g: (0.0, 1.0),
        expect=lambda g: (None, 0.0),
        specs=_specs,
        item_fields=_items,
        laws=(_monotone_in_cases_passed,),
        tolerated_errors=frozenset({ErrorKind.CODE_TIMEOUT}),
    ),
)
