"""``score_model`` and ``label_model``: LLM judges, with the hosted graders API's fields.

The specs parse and validate here; grading arrives with the model-grader client.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from graders._errors import SpecError
from graders._grader import Grader
from graders._registry import register
from graders._spec import BaseSpec, Message, SamplingParams


class ScoreModelSpec(BaseSpec):
    """A model judge that returns a number, clamped to ``range``."""

    type: Literal["score_model"] = "score_model"
    model: str = Field(min_length=1)
    input: list[Message] = Field(min_length=1)
    range: tuple[float, float] | None = None
    sampling_params: SamplingParams | None = None
    pass_threshold: float | None = None


class LabelModelSpec(BaseSpec):
    """A model judge that picks one of ``labels``; passing labels score 1."""

    type: Literal["label_model"] = "label_model"
    model: str = Field(min_length=1)
    input: list[Message] = Field(min_length=1)
    labels: list[str] = Field(min_length=1)
    passing_labels: list[str] = Field(min_length=1)


@register(ScoreModelSpec, hosted=True)
def compile_score_model(spec: ScoreModelSpec) -> Grader:
    raise SpecError("grading with 'score_model' is not available yet in this version of rftkit", ("type",))


@register(LabelModelSpec, hosted=True)
def compile_label_model(spec: LabelModelSpec) -> Grader:
    raise SpecError("grading with 'label_model' is not available yet in this version of rftkit", ("type",))
