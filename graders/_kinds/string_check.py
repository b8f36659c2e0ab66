"""``string_check``: exact and containment checks, as the hosted graders API defines them."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from pydantic import ConfigDict

from graders._grader import Grader, SampleLike, TemplateGrader
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


class StringCheckGrader(TemplateGrader[StringCheckSpec]):
    def __init__(self, spec: StringCheckSpec) -> None:
        super().__init__(spec, spec.input, spec.reference)
        self.check = _OPERATIONS[spec.operation]

    def _grade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        value, details, _ = self._grade_parts(sample, item)
        return Score(value, value == 1.0, details, None)

    def _grade_parts(self, sample: Sample, item: Mapping[str, Any]) -> tuple[float, dict[str, Any], None]:
        got = self.input.render(sample, item)
        ref = self.reference.render(sample, item)
        ok = self.check(got, ref)
        if len(got) > MAX_DETAIL_CHARS or len(ref) > MAX_DETAIL_CHARS:
            got, ref = clip(got), clip(ref)
        return 1.0 if ok else 0.0, {"input": got, "reference": ref}, None

    def _grade_rows(self, samples: Sequence[SampleLike], items: Sequence[Mapping[str, Any]]) -> list[Score]:
        # Templates that read only the output text (the common shape) grade a plain string
        # without building a Sample; anything else, or any failure, goes through grade().
        render_in, render_ref = self.input.render_text, self.reference.render_text
        if render_in is None or render_ref is None:
            return super()._grade_rows(samples, items)
        key = _item_key(self.reference)
        text = self.input.variable
        if key is not None and text is not None and text.namespace == "sample" and text.steps == ("output_text",):
            return self._text_against_item(samples, items, key)
        check = self.check
        grade = self.grade
        out: list[Score] = []
        append = out.append
        for sample, item in zip(samples, items, strict=True):
            if sample.__class__ is str:
                try:
                    got = render_in(sample, item)
                    ref = render_ref(sample, item)
                    ok = check(got, ref)
                except Exception:  # noqa: BLE001 - grade() below builds the error Score
                    append(grade(sample, item))
                    continue
                if len(got) <= MAX_DETAIL_CHARS and len(ref) <= MAX_DETAIL_CHARS:
                    append(Score(1.0 if ok else 0.0, ok, {"input": got, "reference": ref}, None))
                    continue
            append(grade(sample, item))
        return out

    def _text_against_item(
        self, samples: Sequence[SampleLike], items: Sequence[Mapping[str, Any]], key: str
    ) -> list[Score]:
        # The most common spec ({{sample.output_text}} against {{item.KEY}}) with both lookups inline.
        check = self.check
        grade = self.grade
        new = object.__new__
        out: list[Score] = []
        append = out.append
        for sample, item in zip(samples, items, strict=True):
            if sample.__class__ is str and len(sample) <= MAX_DETAIL_CHARS:
                try:
                    ref = item[key]
                except Exception:  # noqa: BLE001 - grade() below builds the error Score
                    ref = None
                if ref.__class__ is str and len(ref) <= MAX_DETAIL_CHARS:
                    ok = check(sample, ref)
                    # Score's four fields set directly: a fifth of this loop's time goes to the
                    # dataclass __init__ call otherwise. test_fast_paths compares with grade().
                    score = new(Score)
                    score.value = 1.0 if ok else 0.0
                    score.passed = ok
                    score.details = {"input": sample, "reference": ref}
                    score.error = None
                    append(score)
                    continue
            append(grade(sample, item))
        return out


def _item_key(template: Template) -> str | None:
    """KEY when ``template`` is exactly ``{{item.KEY}}``."""
    variable = template.variable
    if variable is None or variable.namespace != "item" or len(variable.steps) != 1:
        return None
    step = variable.steps[0]
    return step if isinstance(step, str) else None


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
