"""``string_check``: exact and containment checks, as the hosted graders API defines them."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import ConfigDict

from graders._grader import Grader
from graders._registry import register
from graders._spec import BaseSpec
from graders._template import Template
from graders._types import MAX_DETAIL_CHARS, Sample, Score, clip

# A minimal spec of this kind: shown in the JSON Schema and used by the round-trip tests.
EXAMPLE: dict[str, Any] = {
    "type": "string_check",
    "name": "answer",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}


class StringCheckSpec(BaseSpec):
    """Compares ``input`` with ``reference`` (both templates); the score is 1 or 0.

    Operations, exactly as the hosted API documents them (no trimming, no Unicode
    normalisation, no ``%`` wildcards in ``like``):

    * ``eq``: input equals reference, case-sensitive;
    * ``ne``: input differs from reference, case-sensitive;
    * ``like``: input *contains* reference, case-sensitive;
    * ``ilike``: input contains reference, case-insensitive (``str.casefold``).
    """

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    type: Literal["string_check"] = "string_check"
    input: str
    reference: str
    operation: Literal["eq", "ne", "like", "ilike"]


class StringCheckGrader(Grader):
    def __init__(self, spec: StringCheckSpec) -> None:
        self.input = Template.parse(spec.input, ("input",))
        self.reference = Template.parse(spec.reference, ("reference",))
        super().__init__(spec, self.input.item_fields | self.reference.item_fields)
        self.check = _OPERATIONS[spec.operation]

    def _grade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        got = self.input.render(sample, item)
        ref = self.reference.render(sample, item)
        ok = self.check(got, ref)
        if len(got) > MAX_DETAIL_CHARS or len(ref) > MAX_DETAIL_CHARS:
            got, ref = clip(got), clip(ref)
        return Score(1.0 if ok else 0.0, ok, {"input": got, "reference": ref})


# operator's C functions where they fit: this check runs once per sample in a training loop.
_OPERATIONS: dict[str, Callable[[str, str], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "like": operator.contains,  # contains(got, ref) is `ref in got`
    "ilike": lambda got, ref: ref.casefold() in got.casefold(),
}


@register(StringCheckSpec, hosted=True)
def compile_string_check(spec: StringCheckSpec) -> Grader:
    return StringCheckGrader(spec)
