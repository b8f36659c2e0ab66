"""Hypothesis properties: scores in range, determinism, monotone ranks, key-order invariance."""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graders import compile_spec

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TEXT_SPECS = [
    {"type": "string_check", "input": "{{sample.output_text}}", "reference": "{{item.ref}}", "operation": op}
    for op in ("eq", "ne", "like", "ilike")
] + [
    {"type": "text_similarity", "input": "{{sample.output_text}}", "reference": "{{item.ref}}", "evaluation_metric": m}
    for m in ("fuzzy_match", "bleu", "gleu", "meteor", "rouge_1", "rouge_2", "rouge_l")
]
TEXT_GRADERS = [compile_spec(spec) for spec in TEXT_SPECS]
words = st.lists(st.sampled_from(["the", "cat", "dog", "sat", "mat", "on", "a", "Hound", "ran", "!"]), max_size=12)


@SETTINGS
@given(
    out=st.one_of(st.text(max_size=80), words.map(" ".join)), ref=st.one_of(st.text(max_size=80), words.map(" ".join))
)
def test_text_scores_in_range_and_deterministic(out: str, ref: str) -> None:
    for grader in TEXT_GRADERS:
        first = grader.grade(out, {"ref": ref})
        assert first.error is None, (grader.spec, first.error)
        assert 0.0 <= first.value <= 1.0 + 1e-12
        assert grader.grade(out, {"ref": ref}).to_dict() == first.to_dict()


@SETTINGS
@given(out=words.map(" ".join))
def test_identical_text_scores_highest(out: str) -> None:
    for grader in TEXT_GRADERS[4:]:
        same = grader.grade(out, {"ref": out}).value
        assert same >= grader.grade(out, {"ref": out + " extra words"}).value - 1e-12


GENES = st.lists(st.from_regex(r"[A-Z][A-Z0-9]{1,5}", fullmatch=True), min_size=2, max_size=30, unique=True)
DECAYS: list[dict[str, Any]] = [
    {"decay": "reciprocal"},
    {"decay": "table", "table": [1.0, 0.7, 0.5, 0.3]},
    {"decay": "linear", "k": 5},
    {"decay": "exponential", "base": 0.7},
    {"decay": "reciprocal", "cutoff": 3},
]
RANKERS = [
    compile_spec({"type": "list_rank", "input": "{{sample.output_json}}", "reference": "{{item.answer}}", **d})
    for d in DECAYS
]


@SETTINGS
@given(genes=GENES, data=st.data())
def test_list_rank_is_non_increasing_in_rank(genes: list[str], data: st.DataObject) -> None:
    target = genes[0]
    others = genes[1:]
    i = data.draw(st.integers(0, len(others)))
    j = data.draw(st.integers(i, len(others)))
    earlier = json.dumps(others[:i] + [target] + others[i:])
    later = json.dumps(others[:j] + [target] + others[j:])
    absent = json.dumps(others)
    for grader in RANKERS:
        a, b, c = (grader.grade(s, {"answer": target}) for s in (earlier, later, absent))
        assert a.details["rank"] == i + 1 and b.details["rank"] == j + 1
        assert 1.0 >= a.value >= b.value >= c.value == 0.0


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(-5, 5, allow_nan=False), st.text(max_size=6)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)
objects = st.dictionaries(st.sampled_from(["a", "b", "c", "d", "e"]), json_values, max_size=5)
FIELD_SPECS: list[dict[str, Any]] = [
    {},
    {"extra_fields": "ignore", "score": "recall"},
    {
        "fields": {
            "a": {"compare": "fuzzy", "threshold": 0.5, "weight": 2},
            "b": {"compare": "numeric", "abs_tol": 0.1},
            "c": {"compare": "set"},
            "d": {"compare": "ilike"},
        },
        "score": "precision",
    },
]
MATCHERS = [compile_spec({"type": "field_match", "reference": "{{item.expected}}", **s}) for s in FIELD_SPECS]


def _shuffled(obj: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    keys = list(obj)
    rng.shuffle(keys)
    return {k: obj[k] for k in keys}


@SETTINGS
@given(out=objects, ref=objects, seed=st.integers(0, 2**32 - 1))
def test_field_match_in_range_and_invariant_under_key_order(
    out: dict[str, Any], ref: dict[str, Any], seed: int
) -> None:
    rng = random.Random(seed)
    for grader in MATCHERS:
        score = grader.grade(json.dumps(out), {"expected": ref})
        assert score.error is None, score.error
        for key in ("precision", "recall", "f1"):
            assert 0.0 <= score.details[key] <= 1.0 + 1e-12
        again = grader.grade(json.dumps(_shuffled(out, rng)), {"expected": _shuffled(ref, rng)})
        assert again.value == score.value
        assert again.details["fields"] == score.details["fields"]


@SETTINGS
@given(ref=objects)
def test_field_match_output_equal_to_reference_scores_1(ref: dict[str, Any]) -> None:
    grader = MATCHERS[0]
    assert grader.grade(json.dumps(ref), {"expected": ref}).value == 1.0
