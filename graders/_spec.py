"""The base of every spec model, and the message models shared by the model-judge kinds."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class BaseSpec(BaseModel):
    """Fields every grader spec has. Each kind subclasses it with ``type: Literal["kind"]``.

    Unknown fields are rejected (a typo must not silently fall back to a default), and a
    spec dumps back to the JSON it was read from (``model_dump(exclude_unset=True)``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: str
    name: str = Field(default="grader", description="A name for the grader, used in reports and logs.")

    def to_json(self) -> dict[str, Any]:
        """The spec as the JSON it was written in (unset defaults left out)."""
        return self.model_dump(mode="json", exclude_unset=True, by_alias=True)


Role = Literal["system", "developer", "user", "assistant"]


class InputText(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["input_text", "output_text"]
    text: str


class InputImage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["input_image"]
    image_url: str
    detail: Literal["low", "high", "auto"] | None = None


class InputAudio(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["input_audio"]
    data: str
    format: Literal["mp3", "wav"]


ContentPart = InputText | InputImage | InputAudio


class Message(BaseModel):
    """One templated message of a model judge's prompt (hosted API shape)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    role: Role
    content: str | ContentPart | list[ContentPart]
    type: Literal["message"] | None = None


class SamplingParams(BaseModel):
    """Sampling parameters of a model judge, with the hosted API's spellings."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    seed: int | None = None
    top_p: float | None = None
    temperature: float | None = None
    max_completions_tokens: int | None = Field(default=None, ge=1)
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None
