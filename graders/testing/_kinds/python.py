"""What the testing tools know about ``python`` graders (little: their range is the code's)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from graders._errors import ErrorKind
from graders.testing import _values as values
from graders.testing._profiles import (
    KindProfile,
    add_profile,
)

_PYTHON_SOURCES = (
    "def grade(sample, item):\n    return 1.0 if sample['output_text'].strip() == str(item['answer']) else 0.0\n",
    "def grade(sample, item):\n"
    "    from rapidfuzz import fuzz, utils\n"
    "    return fuzz.ratio(sample['output_text'], str(item['answer']), processor=utils.default_process) / 100\n",
    "def grade(sample, item):\n"
    "    out = sample.get('output_json') or {}\n"
    "    return float(isinstance(out, dict) and out.get('answer') == item['answer'])\n",
)


@st.composite
def _python_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "python", "name": "code", "source": draw(st.sampled_from(_PYTHON_SOURCES))}
    if draw(st.booleans()):
        spec["image_tag"] = "2025-05-08"
    return spec


# A python grader returns any float; nothing but finiteness can be promised for it.
# The generated sources read ``item["answer"]``; a user's grader may read anything.
add_profile(
    "python",
    KindProfile(
        bounds=lambda g: None,
        expect=lambda g: (None, None),
        specs=_python_specs,
        item_fields=lambda g: {"answer": values.words(1, 2)},
        tolerated_errors=frozenset({ErrorKind.PYTHON_GRADER_TIMEOUT}),
    ),
)
