"""What the testing tools know about ``instructions``: scores are shares of constraints followed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import strategies as st

from graders._grader import Grader
from graders.testing._profiles import SCORE_TOLERANCE, KindProfile, LawFailure, add_profile

_CONSTRAINTS: tuple[dict[str, Any], ...] = (
    {"id": "punctuation:no_comma"},
    {"id": "length_constraints:number_words", "relation": "at least", "num_words": "{{item.n}}"},
    {"id": "keywords:existence", "keywords": ["answer"]},
    {"id": "detectable_format:number_bullet_lists", "num_bullets": 2},
    {"id": "startend:end_checker", "end_phrase": "Done."},
    {"id": "change_case:english_lowercase"},
)


@st.composite
def _specs(draw: st.DrawFn) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(_CONSTRAINTS), min_size=1, max_size=4, unique_by=lambda c: str(c["id"])))
    spec: dict[str, Any] = {"type": "instructions", "name": "ifeval", "constraints": chosen}
    for key, options in (("mode", ("strict", "loose")), ("scoring", ("fraction", "all"))):
        if draw(st.booleans()):
            spec[key] = draw(st.sampled_from(options))
    return spec


def _share_matches_verdicts(grader: Grader, item: Mapping[str, Any], draw: Callable[..., Any]) -> None:
    """The value is the share of constraints the details mark followed (or all-or-nothing)."""
    text = draw(st.sampled_from(["", "the answer is here. Done.", "* one\n* two\nDone.", "An Answer, Done."]))
    score = grader.grade(text, item)
    verdicts = score.details["constraints"]
    followed = sum(v["followed"] for v in verdicts)
    want = followed / len(verdicts) if grader.spec.scoring == "fraction" else float(followed == len(verdicts))
    if abs(score.value - want) > SCORE_TOLERANCE:
        raise LawFailure("share_followed", f"{followed}/{len(verdicts)} followed but scored {score.value}", text)


add_profile(
    "instructions",
    KindProfile(
        bounds=lambda g: (0.0, 1.0),
        specs=_specs,
        item_fields=lambda g: {"n": st.integers(0, 8)},
        laws=(_share_matches_verdicts,),
    ),
)
