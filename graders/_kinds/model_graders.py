"""``score_model`` and ``label_model``: LLM judges with the hosted graders API's fields, run
against any OpenAI-compatible server.

The hosted fields (``model``, ``input``, ``range``, ``sampling_params``, ``pass_threshold``,
``labels``, ``passing_labels``) mean what they mean there. rftkit adds optional fields, unset
by default so a hosted spec dumps back unchanged: ``base_url`` and ``api_key_env`` (which
server, which key variable), ``judge_samples`` (ask the judge several times and aggregate),
``aggregate`` and ``structured_output``. Connection, cache and retry settings for a whole run
come from ``graders.client.configure``; see ``graders._llm.judge`` for how a call is made.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import ConfigDict, Field

from graders._errors import SpecError, did_you_mean
from graders._grader import Grader
from graders._llm.judge import STEPS_SCHEMA, JudgeGrader, Outcome
from graders._llm.judge_parse import Parsed, to_label, to_number
from graders._registry import register
from graders._spec import BaseSpec, Message, SamplingParams
from graders._types import Score

# Asking one judge more often than this per sample is a cost accident, not a reliability gain.
MAX_JUDGE_SAMPLES = 16

# Minimal specs of these kinds: shown in the JSON Schema and used by the round-trip tests.
SCORE_EXAMPLE: dict[str, Any] = {
    "type": "score_model",
    "name": "judge",
    "model": "gpt-4.1-mini-2025-04-14",
    "input": [
        {"role": "system", "content": "Score the answer from 0 to 1 against the reference."},
        {"role": "user", "content": "Reference: {{item.answer}}\nAnswer: {{sample.output_text}}"},
    ],
    "range": [0.0, 1.0],
    "sampling_params": {"temperature": 0, "seed": 42},
    "pass_threshold": 0.75,
}
LABEL_EXAMPLE: dict[str, Any] = {
    "type": "label_model",
    "name": "polite",
    "model": "gpt-4o-mini-2024-07-18",
    "input": [{"role": "user", "content": "Is this reply polite? {{sample.output_text}}"}],
    "labels": ["polite", "rude"],
    "passing_labels": ["polite"],
}


class JudgeSpec(BaseSpec):
    """Fields both model judges have."""

    model: str = Field(min_length=1, description="The judge model's name on the server.")
    input: list[Message] = Field(min_length=1, description="The judge's prompt; templates allowed.")
    sampling_params: SamplingParams | None = None
    base_url: str | None = Field(
        default=None,
        description="rftkit: the server's /v1 URL (default: $OPENAI_BASE_URL, else OpenAI).",
    )
    api_key_env: str | None = Field(
        default=None,
        description="rftkit: the environment variable holding the API key (default: OPENAI_API_KEY).",
    )
    judge_samples: int | None = Field(
        default=None,
        ge=1,
        le=MAX_JUDGE_SAMPLES,
        description="rftkit: ask the judge this many times per sample and aggregate (default 1).",
    )
    structured_output: bool | None = Field(
        default=None,
        description=(
            "rftkit: send a JSON-schema response_format (true), never (false), or try it and fall back "
            "to asking in the prompt when the server rejects it (unset)."
        ),
    )


class ScoreModelSpec(JudgeSpec):
    """A model judge that returns a number (``result``), clamped to ``range``.

    The judge answers ``{"steps": [{"description", "conclusion"}], "result": number}``;
    ``result`` is clamped to ``range`` (default ``[0, 1]``) and the Score's ``passed`` is
    ``value >= pass_threshold`` when a threshold is set. A reply without a finite number
    is a ``model_grader_parse_error`` (value 0), as on the hosted API.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [SCORE_EXAMPLE]})

    type: Literal["score_model"] = "score_model"
    range: tuple[float, float] | None = None
    pass_threshold: float | None = None
    aggregate: Literal["mean", "median"] | None = Field(
        default=None,
        description="rftkit: how judge_samples results combine (default mean).",
    )


class LabelModelSpec(JudgeSpec):
    """A model judge that picks one of ``labels``; a label in ``passing_labels`` scores 1, else 0.

    With ``judge_samples`` the majority label wins; a tie goes to the label listed first in
    ``labels``.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [LABEL_EXAMPLE]})

    type: Literal["label_model"] = "label_model"
    labels: list[str] = Field(min_length=1)
    passing_labels: list[str] = Field(min_length=1)


class ScoreModelGrader(JudgeGrader[ScoreModelSpec]):
    result_schema = {
        "type": "object",
        # steps first: a judge that writes its reasoning before the number judges better.
        "properties": {"steps": STEPS_SCHEMA, "result": {"type": "number"}},
        "required": ["steps", "result"],
        "additionalProperties": False,
    }
    format_hint = (
        'Reply with only a JSON object of this shape: {"steps": [{"description": "...", "conclusion": "..."}], '
        '"result": <number>}'
    )

    def __init__(self, spec: ScoreModelSpec) -> None:
        low, high = spec.range if spec.range is not None else (0.0, 1.0)
        if not low < high:
            raise SpecError(f"range [{low:g}, {high:g}] is empty", ("range",), "; write [low, high] with low < high")
        super().__init__(spec)
        self.low, self.high = low, high
        self.pass_threshold = spec.pass_threshold
        self.aggregate = spec.aggregate or "mean"

    def check(self, parsed: Parsed) -> None:
        parsed.result = to_number(parsed.result)

    def _score(self, outcomes: Sequence[Outcome]) -> Score:
        raw = [float(o.parsed.result) for o in outcomes if o.parsed is not None]
        values = [min(self.high, max(self.low, r)) for r in raw]
        first = outcomes[0]
        assert first.parsed is not None
        details = {**first.details, "steps": first.parsed.steps}
        if len(values) == 1:
            value = values[0]
            if raw[0] != value:
                details["raw_result"] = raw[0]
        else:
            value = statistics.fmean(values) if self.aggregate == "mean" else statistics.median(values)
            details["samples"] = values
            details["spread"] = {"min": min(values), "max": max(values), "stdev": statistics.pstdev(values)}
            details["cached"] = all(o.details.get("cached") for o in outcomes)
        details["result"] = value
        passed = None if self.pass_threshold is None else value >= self.pass_threshold
        return Score(value, passed, details)


class LabelModelGrader(JudgeGrader[LabelModelSpec]):
    def __init__(self, spec: LabelModelSpec) -> None:
        labels = list(spec.labels)
        for j, label in enumerate(labels):
            if label in labels[:j]:
                raise SpecError(f"label {label!r} is listed twice", ("labels", j))
        for j, label in enumerate(spec.passing_labels):
            if label not in labels:
                hint = did_you_mean(label, labels) + f" (labels: {', '.join(map(repr, labels))})"
                raise SpecError(f"passing label {label!r} is not one of labels", ("passing_labels", j), hint)
        self.labels = labels
        self.passing = frozenset(spec.passing_labels)
        self.result_schema = {
            "type": "object",
            "properties": {"steps": STEPS_SCHEMA, "result": {"type": "string", "enum": labels}},
            "required": ["steps", "result"],
            "additionalProperties": False,
        }
        self.format_hint = (
            'Reply with only a JSON object of this shape: {"steps": [{"description": "...", "conclusion": "..."}], '
            f'"result": <one of {", ".join(map(json.dumps, labels))}>}}'
        )
        super().__init__(spec)

    def check(self, parsed: Parsed) -> None:
        parsed.result = to_label(parsed.result, self.labels)

    def _score(self, outcomes: Sequence[Outcome]) -> Score:
        votes = Counter(str(o.parsed.result) for o in outcomes if o.parsed is not None)
        top = max(votes.values())
        label = next(lab for lab in self.labels if votes.get(lab) == top)  # ties: first in labels
        first = outcomes[0]
        assert first.parsed is not None
        details = {**first.details, "steps": first.parsed.steps, "label": label}
        if len(outcomes) > 1:
            details["votes"] = dict(votes)
            details["agreement"] = top / sum(votes.values())
            details["cached"] = all(o.details.get("cached") for o in outcomes)
        passed = label in self.passing
        return Score(1.0 if passed else 0.0, passed, details)


@register(ScoreModelSpec, hosted=True)
def compile_score_model(spec: ScoreModelSpec) -> Grader:
    return ScoreModelGrader(spec)


@register(LabelModelSpec, hosted=True)
def compile_label_model(spec: LabelModelSpec) -> Grader:
    return LabelModelGrader(spec)
