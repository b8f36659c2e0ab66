"""What the testing tools know about the model judges, ``score_model`` and ``label_model``."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from graders._grader import Grader
from graders._kinds.model_graders import LabelModelSpec, ScoreModelSpec
from graders._template import Template
from graders.testing._profiles import (
    Bounds,
    KindProfile,
    add_profile,
)
from graders.testing._slots import Slot

# Item fields a judge's prompt most likely holds the reference answer in, best first.
_REFERENCE_NAMES = ("reference", "reference_answer", "correct_answer", "answer", "expected", "ideal", "ground_truth")
_CONTENT_FREE = (
    "the judge pays for an answer without content; say in the rubric that an empty or content-free answer "
    "scores 0, and add a cheap non-empty check in a `multi`"
)
_HEDGING = (
    "the judge pays for hedging; say in the rubric that listing several candidates earns no credit beyond the "
    "worst of them (as specs/judge_qa.json does), and check the judge on labelled examples"
)
_JUDGE_FIX = {
    "empty": _CONTENT_FREE,
    "whitespace": _CONTENT_FREE,
    "format_only": _CONTENT_FREE,
    "padded_list": _HEDGING,
    "multiple_answers": _HEDGING,
    "multiple_boxed": _HEDGING,
    "over_long": "the judge pays more for padding; tell it to ignore length, and cap the length in a `multi`",
    "repeated": "the judge pays more for repetition; tell it to ignore length, and cap the length in a `multi`",
}


def _judge_slots(grader: Grader[ScoreModelSpec] | Grader[LabelModelSpec]) -> list[Slot]:
    """A judge has no reference template; aim at the item field its prompt shows as the answer."""
    texts = [m.content for m in grader.spec.input if isinstance(m.content, str)]
    templates = [Template.parse(text) for text in texts]
    if not any("{{" in t.source and "sample.output_text" in t.source for t in templates):
        return []
    fields = set().union(*(t.item_fields for t in templates))
    for name in _REFERENCE_NAMES:
        if name in fields:
            return [Slot(grader, Template.parse("{{sample.output_text}}"), Template.parse(f"{{{{item.{name}}}}}"))]
    return []


def _score_model_bounds(grader: Grader[ScoreModelSpec]) -> Bounds:
    low, high = grader.spec.range or (0.0, 1.0)
    return (min(low, 0.0), max(high, 0.0))  # an error score is 0, whatever the range


_JUDGE_MESSAGES = [
    {"role": "system", "content": "Grade the answer against the reference. Reply with a score."},
    {"role": "user", "content": "Reference: {{item.answer}}\nAnswer: {{sample.output_text}}"},
]


@st.composite
def _score_model_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "score_model", "name": "judge", "model": "judge-model", "input": _JUDGE_MESSAGES}
    if draw(st.booleans()):
        low = draw(st.integers(-2, 1))
        spec["range"] = [float(low), float(low + draw(st.integers(1, 3)))]
    if draw(st.booleans()):
        spec["sampling_params"] = {"temperature": 0.0, "seed": draw(st.integers(0, 100))}
    if draw(st.booleans()):
        spec["pass_threshold"] = draw(st.sampled_from([0.5, 0.75]))
    return spec


@st.composite
def _label_model_specs(draw: st.DrawFn) -> dict[str, Any]:
    labels = draw(st.lists(st.sampled_from(["correct", "partial", "wrong", "unsure"]), min_size=1, unique=True))
    passing = draw(st.lists(st.sampled_from(labels), min_size=1, unique=True))
    return {
        "type": "label_model", "name": "labeler", "model": "judge-model", "input": _JUDGE_MESSAGES,
        "labels": labels, "passing_labels": passing,
    }


add_profile(
    "score_model",
    KindProfile(slots=_judge_slots, bounds=_score_model_bounds, expect=lambda g: (None, None),
                specs=_score_model_specs, fixes=_JUDGE_FIX, judge=True),
)
add_profile(
    "label_model",
    KindProfile(slots=_judge_slots, expect=lambda g: (None, None), specs=_label_model_specs, fixes=_JUDGE_FIX,
                judge=True),
)
