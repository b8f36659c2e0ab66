"""What the testing tools know about ``text_similarity``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

from graders._grader import Grader
from graders._kinds.text_similarity import TextSimilaritySpec
from graders._template import render_value
from graders.testing import _values as values
from graders.testing._profiles import (
    Expect,
    KindProfile,
    add_profile,
)
from graders.testing._slots import Slot

# Metrics that score a text against itself below 1 by design: METEOR's fragmentation penalty.
_SELF_BELOW_ONE = ("meteor",)
_SIMILARITY_FIX = (
    "a similarity metric pays for partial overlap; for short answers compare exactly (string_check `eq`), or "
    "pick a stricter `fuzzy_scorer` (`ratio`) and guard the length in a `multi`"
)


def _min_words(grader: Grader[TextSimilaritySpec]) -> int:
    """BLEU needs 4 tokens and ROUGE-n n tokens before a text can match itself at all."""
    metric = grader.spec.evaluation_metric
    if metric == "bleu":
        return 4
    if metric.startswith("rouge_") and metric[-1].isdigit():
        return int(metric[-1])
    return 1


def _text_similarity_answer(slot: Slot, item: Mapping[str, Any]) -> Any:
    """The reference itself, when the metric can score it against itself at all."""
    reference = slot.reference_value(item)
    if len(render_value(reference).split()) < _min_words(slot.grader):
        raise LookupError("too short a reference for this metric to reach its maximum")
    return reference


def _text_similarity_expect(grader: Grader[TextSimilaritySpec]) -> Expect:
    metric = grader.spec.evaluation_metric
    return (None if metric in _SELF_BELOW_ONE else 1.0, 0.0)


@st.composite
def _text_similarity_specs(draw: st.DrawFn) -> dict[str, Any]:
    metrics = ["fuzzy_match", "bleu", "gleu", "meteor", "rouge_1", "rouge_2", "rouge_3", "rouge_l"]
    metric = draw(st.sampled_from(metrics))  # cosine parses but needs an embeddings model
    spec: dict[str, Any] = {
        "type": "text_similarity", "name": "similar", "input": "{{sample.output_text}}",
        "reference": "{{item.answer}}", "evaluation_metric": metric,
    }
    if draw(st.booleans()):
        spec["pass_threshold"] = draw(st.sampled_from([0.5, 0.8, 0.9]))
    if metric == "fuzzy_match" and draw(st.booleans()):
        spec["fuzzy_scorer"] = draw(st.sampled_from(["WRatio", "QRatio", "ratio", "token_set_ratio"]))
    if metric.startswith("rouge") and draw(st.booleans()):
        spec["rouge_measure"] = draw(st.sampled_from(["fmeasure", "precision", "recall"]))
    if metric == "bleu" and draw(st.booleans()):
        spec["bleu_smoothing"] = draw(st.sampled_from(["none", "method1", "method4"]))
    return spec


add_profile(
    "text_similarity",
    KindProfile(
        answer=_text_similarity_answer,
        expect=_text_similarity_expect,
        reference_values=lambda grader: values.words(_min_words(grader), _min_words(grader) + 5),
        specs=_text_similarity_specs,
        fixes={name: _SIMILARITY_FIX for name in ("padded_list", "multiple_answers", "multiple_boxed", "format_only")},
    ),
)
