"""What the testing tools know about ``list_rank``."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import strategies as st

from graders._grader import Grader
from graders._kinds.list_rank import ListRankSpec
from graders.testing import _values as values
from graders.testing._profiles import (
    Bounds,
    Expect,
    KindProfile,
    LawFailure,
    add_profile,
    answers_of,
)
from graders.testing._slots import Slot


def _list_rank_answer(slot: Slot, item: Mapping[str, Any]) -> Any:
    reference = slot.reference_value(item)
    if isinstance(reference, str) and reference.lstrip().startswith("["):
        try:
            reference = json.loads(reference)
        except ValueError:
            pass
    if isinstance(reference, list):
        firsts = [r for r in reference if isinstance(r, str | int | float) and not isinstance(r, bool)]
        return firsts[:1]
    return [reference]


def _list_rank_scores(grader: Grader[ListRankSpec]) -> list[float]:
    spec = grader.spec
    if spec.decay == "table":
        return list(spec.table or [0.0])
    return [1.0]


def _list_rank_bounds(grader: Grader) -> Bounds:
    scores = _list_rank_scores(grader)
    return (min(0.0, *scores), max(1.0, *scores))


def _list_rank_expect(grader: Grader) -> Expect:
    return (_list_rank_scores(grader)[0], 0.0)


def _non_increasing_in_rank(grader: Grader, item: Mapping[str, Any], draw: Callable[..., Any]) -> None:
    """Moving the right answer down the list never raises the score."""
    for slot, answer in answers_of(grader, item, _list_rank_answer):
        if not answer:
            continue
        right = str(answer[0])
        others = draw(st.lists(values.symbols(), max_size=6, unique=True), label="other entries")
        others = [o for o in others if o.casefold() != right.casefold()]
        previous: tuple[float, Any] | None = None
        for rank in range(len(others) + 1):
            sample = slot.place([*others[:rank], right, *others[rank:]])
            if sample is None:
                return
            value = grader.grade(sample, item).value
            if previous is not None and value > previous[0] + 1e-12:
                raise LawFailure(
                    "non_increasing_in_rank", f"rank {rank + 1} scored {value}, more than rank {rank}'s {previous[0]}",
                    sample,
                )
            previous = (value, sample)


@st.composite
def _list_rank_specs(draw: st.DrawFn) -> dict[str, Any]:
    inp = draw(st.sampled_from(["{{sample.output_json.genes}}", "{{sample.output_text}}"]))
    spec: dict[str, Any] = {"type": "list_rank", "name": "rank", "input": inp, "reference": "{{item.correct_answer}}"}
    decay = draw(st.sampled_from(["table", "linear", "exponential", "reciprocal"]))
    spec["decay"] = decay
    if decay == "table":
        spec["table"] = sorted(draw(st.lists(st.floats(0, 1), min_size=1, max_size=5)), reverse=True)
    elif decay == "linear":
        spec["k"] = draw(st.integers(1, 10))
    elif decay == "exponential":
        spec["base"] = draw(st.floats(0.05, 0.95))
    for name, strategy in (("max_items", st.integers(1, 30)), ("cutoff", st.integers(1, 30))):
        if draw(st.booleans()):
            spec[name] = draw(strategy)
    if draw(st.booleans()):
        spec["case_sensitive"] = draw(st.booleans())
    return spec


add_profile(
    "list_rank",
    KindProfile(
        answer=_list_rank_answer,
        bounds=_list_rank_bounds,
        expect=_list_rank_expect,
        reference_values=lambda grader: values.symbols(),
        laws=(_non_increasing_in_rank,),
        specs=_list_rank_specs,
        fixes={
            "padded_list": "set `max_items` on list_rank (e.g. 20): a list with more distinct entries than that "
            "scores 0, so listing every candidate stops paying",
        },
    ),
)
