"""``multi``: several graders combined by a formula over their scores, as in the hosted API."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field

from graders._errors import FORMULA_EVAL_ERROR
from graders._formula import Formula
from graders._grader import Grader, error_score
from graders._registry import compile_child, register
from graders._spec import BaseSpec
from graders._types import Sample, Score, ScoreError

if TYPE_CHECKING:
    GraderSpec = BaseSpec


# A minimal spec of this kind: shown in the JSON Schema and used by the round-trip tests.
EXAMPLE: dict[str, Any] = {
    "type": "multi",
    "name": "tool_call",
    "calculate_output": "0.5*function_name + 0.5*arguments",
    "graders": {
        "function_name": {
            "type": "string_check",
            "name": "function_name",
            "operation": "eq",
            "input": "{{sample.output_tools[0].function.name}}",
            "reference": "get_acceptors",
        },
        "arguments": {
            "type": "string_check",
            "name": "arguments",
            "operation": "eq",
            "input": "{{sample.output_tools[0].function.arguments}}",
            "reference": '{"smiles": "{{item.smiles}}"}',
        },
    },
}


class MultiSpec(BaseSpec):
    """Runs every grader in ``graders`` and combines their values with ``calculate_output``.

    ``graders`` is an object keyed by variable name; the formula refers to those keys (not to
    the sub-graders' ``name``). See ``graders._formula`` for the formula language.

    When a sub-grader cannot grade the sample (its score has ``error``), its value enters the
    formula as 0 and the multi score carries that error (the first one, in key order), so the
    error is counted while the other parts still give their partial credit. When a sub-grader
    abstains (its reference is unusable), the multi grader abstains too. Nesting ``multi``
    inside ``multi`` is allowed (the hosted API forbids it; rftkit has no reason to).
    """

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    type: Literal["multi"] = "multi"
    graders: dict[str, GraderSpec] = Field(min_length=1)
    calculate_output: str


class MultiGrader(Grader):
    def __init__(self, spec: MultiSpec) -> None:
        self.children = {key: compile_child(child, "graders", key) for key, child in spec.graders.items()}
        self.formula = Formula.parse(spec.calculate_output, list(self.children))
        fields: set[str] = set()
        for child in self.children.values():
            fields |= child.item_fields
        super().__init__(spec, fields)
        self.is_async = any(child.is_async for child in self.children.values())
        self._child_list = list(self.children.values())
        # Positions of the formula's variables among the children, for positional evaluation.
        self._keys = list(self.children)
        self._formula_args = [self._keys.index(name) for name in self.formula.variables]

    def _grade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        # The children's _grade directly (the sample is already a Sample): one call less per child.
        scores = []
        for child in self._child_list:
            try:
                scores.append(child._grade(sample, item))
            except Exception as exc:  # noqa: BLE001 - as in Grader.grade
                scores.append(error_score(exc))
        return self._combine(scores)

    async def _agrade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        scores = await asyncio.gather(*(child.agrade(sample, item) for child in self.children.values()))
        return self._combine(list(scores))

    def _combine(self, scores: list[Score]) -> Score:
        values: dict[str, float] = {}
        sub_details: dict[str, Any] = {}
        sub_errors: dict[str, Any] = {}
        error: ScoreError | None = None
        abstention: ScoreError | None = None
        for key, score in zip(self._keys, scores, strict=True):
            values[key] = score.value
            sub_details[key] = score.details
            if score.error is not None:
                sub_errors[key] = score.error.to_dict()
                if score.abstained:
                    abstention = abstention or score.error
                elif error is None:
                    error = ScoreError(score.error.kind, f"{key}: {score.error.message}")
        details: dict[str, Any] = {"sub_scores": values, "sub_details": sub_details}
        if sub_errors:
            details["sub_errors"] = sub_errors
        if abstention is not None:
            return Score(0.0, None, details, abstention)
        try:
            value = self.formula.evaluate_args(*[scores[i].value for i in self._formula_args])
        except (ArithmeticError, ValueError) as exc:
            return Score(0.0, None, details, ScoreError(FORMULA_EVAL_ERROR, f"{self.formula.source!r}: {exc}"))
        if not math.isfinite(value):
            return Score(0.0, None, details, ScoreError(FORMULA_EVAL_ERROR, f"{self.formula.source!r} gave {value}"))
        return Score(value, None, details, error)

    def close(self) -> None:
        for child in self.children.values():
            child.close()


@register(MultiSpec, hosted=True)
def compile_multi(spec: MultiSpec) -> Grader:
    return MultiGrader(spec)
