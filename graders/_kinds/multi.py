"""``multi``: several graders combined by a formula over their scores, as in the hosted API."""

from __future__ import annotations

import asyncio
import math
import operator
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field, field_validator

from graders._details import SUB_DETAILS, SUB_ERRORS, SUB_SCORES
from graders._errors import ABSTENTION_KINDS, ErrorKind
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

    @field_validator("graders", mode="before")
    @classmethod
    def _keyed_by_variable(cls, value: Any) -> Any:
        # Two shapes published for the hosted API that it rejects: a list (the API reference's
        # example) and one bare grader (the openai SDK's MultiGrader type since 1.83).
        wanted = "not an object of graders keyed by the formula's variable names"
        if isinstance(value, list):
            raise ValueError(f"graders is a list, {wanted}")
        if isinstance(value, Mapping) and isinstance(value.get("type"), str):
            raise ValueError(f"graders is a single grader (type {value['type']!r}), {wanted}")
        return value


class MultiGrader(Grader[MultiSpec]):
    def __init__(self, spec: MultiSpec) -> None:
        self.children = {key: compile_child(child, "graders", key) for key, child in spec.graders.items()}
        self.formula = Formula.parse(spec.calculate_output, list(self.children))
        fields: set[str] = set()
        for child in self.children.values():
            fields |= child.item_fields
        super().__init__(spec, fields)
        self.is_async = any(child.is_async for child in self.children.values())
        # (key, child._grade_parts) pairs: the per-sample loop needs no child Score objects.
        self._parts = [(key, child._grade_parts) for key, child in self.children.items()]
        # The formula's arguments from the values dict in one C call (itemgetter of one key gives
        # the bare value, of none a TypeError, so those shapes get a tuple-returning lambda).
        variables = self.formula.variables
        self._arguments: Callable[[dict[str, float]], tuple[float, ...]]
        if len(variables) > 1:
            self._arguments = operator.itemgetter(*variables)
        else:
            self._arguments = lambda values: tuple(values[name] for name in variables)

    def _grade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        values: dict[str, float] = {}
        sub_details: dict[str, Any] = {}
        errors: list[tuple[str, ScoreError]] | None = None
        for key, parts in self._parts:
            try:
                value, details, error = parts(sample, item)
            except Exception as exc:  # noqa: BLE001 - as in Grader.grade
                failed = error_score(exc)
                value, details, error = failed.value, failed.details, failed.error
            values[key] = value
            sub_details[key] = details
            if error is not None:
                if errors is None:
                    errors = []
                errors.append((key, error))
        return self._combine(values, sub_details, errors)

    async def _agrade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        scores = await asyncio.gather(*(child.agrade(sample, item) for child in self.children.values()))
        values = {key: score.value for key, score in zip(self.children, scores, strict=True)}
        sub_details = {key: score.details for key, score in zip(self.children, scores, strict=True)}
        errors = [(key, s.error) for key, s in zip(self.children, scores, strict=True) if s.error is not None]
        return self._combine(values, sub_details, errors)

    def _combine(
        self, values: dict[str, float], sub_details: dict[str, Any], errors: list[tuple[str, ScoreError]] | None
    ) -> Score:
        details: dict[str, Any] = {SUB_SCORES: values, SUB_DETAILS: sub_details}
        error: ScoreError | None = None
        if errors:
            details[SUB_ERRORS] = {key: e.to_dict() for key, e in errors}
            abstentions = [e for _, e in errors if e.kind in ABSTENTION_KINDS]
            if abstentions:
                return Score(0.0, None, details, abstentions[0])
            key, first = errors[0]
            error = ScoreError(first.kind, f"{key}: {first.message}")
        try:
            value = self.formula.evaluate_args(*self._arguments(values))
        except (ArithmeticError, ValueError) as exc:
            failed = ScoreError(ErrorKind.FORMULA_EVAL_ERROR, f"{self.formula.source!r}: {exc}")
            return Score(0.0, None, details, failed)
        if not math.isfinite(value):
            failed = ScoreError(ErrorKind.FORMULA_EVAL_ERROR, f"{self.formula.source!r} gave {value}")
            return Score(0.0, None, details, failed)
        return Score(value, None, details, error)

    def close(self) -> None:
        for child in self.children.values():
            child.close()


@register(MultiSpec, hosted=True)
def compile_multi(spec: MultiSpec) -> Grader:
    return MultiGrader(spec)
