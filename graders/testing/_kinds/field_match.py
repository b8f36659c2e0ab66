"""What the testing tools know about ``field_match``."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import strategies as st

from graders._grader import Grader
from graders._kinds.field_match import FieldMatchSpec
from graders.testing import _values as values
from graders.testing._profiles import (
    KindProfile,
    LawFailure,
    add_profile,
    answers_of,
)
from graders.testing._slots import Slot

_FIELD_VALUES: dict[str, Callable[[], st.SearchStrategy[Any]]] = {
    "exact": lambda: st.one_of(values.words(1, 2), st.integers(-100, 100), st.booleans()),
    "ilike": lambda: values.words(1, 3),
    "fuzzy": lambda: values.words(1, 4),
    "numeric": lambda: values.numbers(),
    "set": lambda: st.lists(values.symbols(), min_size=1, max_size=4, unique=True),
}


def _field_match_answer(slot: Slot, item: Mapping[str, Any]) -> Any:
    reference = slot.reference_value(item)
    if isinstance(reference, str):
        try:
            return json.loads(reference)
        except ValueError:
            return reference
    return reference


def _field_match_references(grader: Grader[FieldMatchSpec]) -> st.SearchStrategy[Any]:
    rules = grader.spec.fields
    if not rules:
        return values.flat_objects()
    fixed = {name: _FIELD_VALUES[rule.compare]() for name, rule in rules.items()}
    return st.fixed_dictionaries(fixed)


def _key_order_law(grader: Grader, item: Mapping[str, Any], draw: Callable[..., Any]) -> None:
    """The order of the keys in the output object does not change the score."""
    for slot, answer in answers_of(grader, item, _field_match_answer):
        if not isinstance(answer, dict) or len(answer) < 2:
            continue
        changed = draw(values.near_misses(answer), label="output object")
        for obj in (answer, changed):
            if not isinstance(obj, dict):
                continue
            keys = draw(st.permutations(list(obj)), label="key order")
            first, second = slot.place(obj), slot.place({k: obj[k] for k in keys})
            if first is None or second is None:
                continue
            a, b = grader.grade(first, item), grader.grade(second, item)
            if a.value != b.value or a.details.get("fields") != b.details.get("fields"):
                raise LawFailure("invariant_under_key_order", f"{a.value} in one key order, {b.value} in another",
                                 second)


@st.composite
def _field_match_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "field_match", "name": "fields", "reference": "{{item.expected}}"}
    if draw(st.booleans()):
        spec["input"] = "{{sample.output_json}}"
    if draw(st.booleans()):
        names = draw(st.lists(st.sampled_from(["name", "email", "age", "skills", "city"]), min_size=1, unique=True))
        fields: dict[str, Any] = {}
        for name in names:
            rule: dict[str, Any] = {"compare": draw(st.sampled_from(sorted(_FIELD_VALUES)))}
            if rule["compare"] == "fuzzy" and draw(st.booleans()):
                rule["threshold"] = draw(st.sampled_from([0.5, 0.8]))
            if rule["compare"] == "numeric" and draw(st.booleans()):
                rule["abs_tol"] = draw(st.sampled_from([0.0, 0.5]))
            if draw(st.booleans()):
                rule["weight"] = draw(st.sampled_from([0.5, 2.0]))
            fields[name] = rule
        spec["fields"] = fields
    for name, options in (("score", ["f1", "precision", "recall"]), ("extra_fields", ["penalize", "ignore"])):
        if draw(st.booleans()):
            spec[name] = draw(st.sampled_from(options))
    if draw(st.booleans()):
        spec["pass_threshold"] = 0.8
    return spec


def _missing_fields_fix(grader: Grader) -> str:
    score = getattr(grader.spec, "score", "f1")
    if score == "precision":
        return "`score: precision` does not count missing fields; use `f1` (the default) or `recall`"
    if score == "f1":
        return ("`f1` still pays a correct subset of the fields (its precision is 1); use `score: recall`, or "
                "weights under which the fields that matter carry the score")
    return "the fields kept carry most of the weight; weigh every required field so that dropping it costs"


def _moved_fields_fix(grader: Grader) -> str | None:
    if getattr(grader.spec, "extra_fields", None) == "ignore":
        return "`extra_fields: ignore` lets extra keys cost nothing; use `penalize`"
    return None


add_profile(
    "field_match",
    KindProfile(
        answer=_field_match_answer,
        reference_values=_field_match_references,
        laws=(_key_order_law,),
        specs=_field_match_specs,
        fixes={"json_missing_fields": _missing_fields_fix, "json_moved_fields": _moved_fields_fix},
    ),
)
