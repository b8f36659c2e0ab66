"""The base of every spec model, and the message models shared by the model-judge kinds."""

from __future__ import annotations

import functools
import importlib.util
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# Where the installed openai SDK declares its reasoning effort values (read without importing
# the package: ``import openai`` costs about a second, and graders must import cheaply).
_REASONING_EFFORT_FILE = ("types", "shared", "reasoning_effort.py")


class BaseSpec(BaseModel):
    """Fields every grader spec has. Each kind subclasses it with ``type: Literal["kind"]``.

    Unknown fields are rejected (a typo must not silently fall back to a default), and a
    spec dumps back to the JSON it was read from (``model_dump(exclude_unset=True)``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: str
    name: str = Field(default="grader", description="A name for the grader, used in reports and logs.")
    id: str | None = Field(
        default=None,
        description=(
            "The id the hosted evals API assigns to a testing-criteria entry; accepted so a criterion "
            "copied from an eval compiles, and not used."
        ),
    )

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


class AudioData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    data: str = Field(description="Base64 audio; templates allowed.")
    format: Literal["mp3", "wav"]


class InputAudio(BaseModel):
    """An audio part, in the API's shape: ``{"type": "input_audio", "input_audio": {"data", "format"}}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["input_audio"]
    input_audio: AudioData


ContentPart = InputText | InputImage | InputAudio


class Message(BaseModel):
    """One templated message of a model judge's prompt (hosted API shape).

    ``content`` is a string, one part, or a list of parts in which a plain string is a text part.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    role: Role
    content: str | ContentPart | list[str | ContentPart]
    type: Literal["message"] | None = None


@functools.cache
def reasoning_efforts() -> tuple[str, ...]:
    """The ``reasoning_effort`` values the installed ``openai`` SDK's ``ReasoningEffort`` type lists."""
    found = importlib.util.find_spec("openai")
    locations = list(found.submodule_search_locations or []) if found is not None else []
    path = Path(locations[0], *_REASONING_EFFORT_FILE) if locations else None
    loader = importlib.util.spec_from_file_location("_rftkit_sdk_reasoning_effort", path) if path else None
    if loader is not None and loader.loader is not None and path is not None and path.is_file():
        module = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(module)  # the SDK's own file; it imports only typing
        effort = module.ReasoningEffort
    else:  # a layout this reader does not know: import the SDK after all
        from openai.types.shared import ReasoningEffort as effort
    values: list[str] = []
    pending = [effort]
    while pending:  # Optional[Literal[...]] nests the Literal inside a Union
        for arg in typing.get_args(pending.pop()):
            if isinstance(arg, str):
                values.append(arg)
            elif arg is not type(None):
                pending.append(arg)
    return tuple(values)


def _check_reasoning_effort(value: str | None) -> str | None:
    if value is not None and value not in reasoning_efforts():
        from graders._errors import did_you_mean

        known = ", ".join(repr(v) for v in reasoning_efforts())
        raise ValueError(f"invalid value {value!r}; expected one of {known}{did_you_mean(value, reasoning_efforts())}")
    return value


class _ReasoningEffortSchema:
    """JSON Schema of ``reasoning_effort``: the SDK's values, read when a schema is asked for."""

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        return {"anyOf": [{"enum": list(reasoning_efforts()), "type": "string"}, {"type": "null"}]}


ReasoningEffort = Annotated[str | None, AfterValidator(_check_reasoning_effort), _ReasoningEffortSchema]


class SamplingParams(BaseModel):
    """Sampling parameters of a model judge, with the hosted API's spellings.

    ``temperature``, ``top_p`` and ``max_completions_tokens`` left out are sent as the hosted
    judge's defaults (1.0, 1.0, 4096), so any server samples the way the hosted one did; set one
    to ``null`` to send nothing and leave it to the server.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    seed: int | None = None
    top_p: float | None = None
    temperature: float | None = None
    max_completions_tokens: int | None = Field(default=None, ge=1)
    reasoning_effort: ReasoningEffort = None
