"""``specs/gsm8k.json`` and ``specs/math.json`` on real-output-style pairs generated from the
shipped data (``real_outputs.py``): every category, the verdict known by construction."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from real_outputs import gsm8k_pairs, math500_pairs  # noqa: E402

from graders import load_spec  # noqa: E402

ROOT = Path(__file__).parents[2]
MATH_CATEGORIES = {
    "cue_inline_math", "cue_display_math", "cue_paren_math", "cue_double_dollar", "minerva_sentence",
    "think_trace", "sentence_final", "unit_textbf", "unit_textnormal", "unit_mbox", "unreduced_product",
    "unreduced_fraction", "several_boxes", "labelled_tuple", "matrix_bmatrix", "matrix_array", "matrix_scalar",
    "inequality_for_interval", "solution_reference", "hedge_or", "hedge_two_boxes",
}  # fmt: skip


@pytest.mark.parametrize(("name", "spec"), [("gsm8k", "gsm8k.json"), ("math500", "math.json")])
def test_every_generated_pair_gets_its_verdict(name: str, spec: str) -> None:
    pairs = gsm8k_pairs() if name == "gsm8k" else math500_pairs()
    grader = load_spec(ROOT / "specs" / spec)
    scores = grader.grade_batch([p[1] for p in pairs], [{"answer": p[2]} for p in pairs])
    graded = list(zip(pairs, scores, strict=True))
    wrong = Counter(cat for (cat, *_, expected), score in graded if score.passed is not expected)
    assert wrong == Counter()
    hedges = [s for (cat, *_), s in graded if cat.startswith("hedge")]
    assert hedges and all(s.value == 0.0 and "hedge" in s.details for s in hedges)
    if name == "math500":
        assert MATH_CATEGORIES <= {cat for cat, *_ in pairs}
    assert len(pairs) > 10_000
