"""``response_format``: the JSON schema a job's completions must follow.

The hosted service enforces it by guided decoding. rftkit's job runner generates with
``transformers`` (TRL's default backend), which has no guided decoding, so here the schema goes
into the prompt (a system message, or a paragraph after a text prompt), and a completion that is
not JSON or does not follow the schema is graded ``sample_parse_error`` before the grader runs:
the model learns the format from the reward instead of having it imposed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from graders import ErrorKind, Grader, Sample, Score
from rl_adapter._errors import JobConfigError

INSTRUCTION = "Answer with only a JSON object that follows this JSON schema:"
ENFORCEMENT = "prompt"  # what applies with the transformers backend: "prompt" (no guided decoding)


def schema_of(response_format: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON schema in a chat-style ``{"type": "json_schema", "json_schema": {"schema": ...}}``.

    Raises:
        JobConfigError: the object is not of that shape, or the schema is not a valid JSON schema.
    """
    where = ("method", "reinforcement", "response_format")
    if response_format.get("type") != "json_schema":
        raise JobConfigError(f"type must be 'json_schema' (got {response_format.get('type')!r})", (*where, "type"))
    inner = response_format.get("json_schema")
    if not isinstance(inner, Mapping) or not isinstance(inner.get("schema"), Mapping):
        raise JobConfigError("json_schema.schema must be a JSON schema object", (*where, "json_schema"))
    schema = dict(inner["schema"])
    validator = _validator_class(schema)
    try:
        validator.check_schema(schema)
    except Exception as exc:  # noqa: BLE001 - jsonschema's SchemaError: a bad user schema
        raise JobConfigError(f"not a valid JSON schema: {str(exc).splitlines()[0]}",
                             (*where, "json_schema", "schema")) from None
    return schema


def _validator_class(schema: Mapping[str, Any]) -> Any:
    try:
        import jsonschema  # type: ignore[import-untyped]
    except ImportError:
        from graders import MissingDependencyError

        raise MissingDependencyError("jsonschema", "rl", "response_format needs jsonschema") from None
    return jsonschema.validators.validator_for(schema)


def with_instruction(prompt: Any, schema: Mapping[str, Any]) -> Any:
    """The prompt with the schema instruction: a system message first, or a paragraph after text."""
    text = f"{INSTRUCTION}\n{json.dumps(schema, sort_keys=True)}"
    if isinstance(prompt, str):
        return f"{prompt}\n\n{text}"
    messages = [dict(m) for m in prompt]
    if messages and messages[0].get("role") in ("system", "developer") and isinstance(messages[0].get("content"), str):
        messages[0]["content"] = f"{messages[0]['content']}\n\n{text}"
        return messages
    return [{"role": "system", "content": text}, *messages]


class ConformingGrader(Grader):
    """A grader that first checks a completion against the schema (``sample_parse_error`` if not)."""

    def __init__(self, inner: Grader, schema: Mapping[str, Any]) -> None:
        super().__init__(inner.spec, inner.item_fields)
        self.inner = inner
        self.is_async = inner.is_async
        self._validator = _validator_class(schema)(schema)

    def _violation(self, sample: Sample) -> Score | None:
        try:
            value = json.loads(sample.output_text)
        except (ValueError, RecursionError) as exc:
            why = f"output is not JSON (response_format): {str(exc)[:200]}"
            return Score.failure(ErrorKind.SAMPLE_PARSE_ERROR, why)
        error = next(iter(self._validator.iter_errors(value)), None)
        if error is not None:
            why = f"output does not follow response_format: {error.message[:200]}"
            return Score.failure(ErrorKind.SAMPLE_PARSE_ERROR, why)
        return None

    def _grade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        return self._violation(sample) or self.inner.grade(sample, item)

    async def _agrade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        return self._violation(sample) or await self.inner.agrade(sample, item)

    def close(self) -> None:
        self.inner.close()
