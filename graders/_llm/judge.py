"""What ``score_model`` and ``label_model`` share: templated prompts, the call to the judge
(structured output with a fallback), sampling the judge several times, and error scores.

A judge grader renders its ``input`` messages, asks the server for the hosted API's result
object through a JSON-schema ``response_format``, and parses the reply. Servers that reject
``response_format`` (HTTP 400/422 while it was sent) are asked again without it, with the
expected shape appended to the last message as plain instructions, and the grader remembers
not to send it again; the reply is then parsed tolerantly (``graders._llm.judge_parse``).
"""

from __future__ import annotations

import abc
import asyncio
import logging
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from graders._errors import ErrorKind
from graders._grader import Grader, SampleLike, error_score
from graders._llm.judge_parse import Parsed, ReplyParseError, parse_reply
from graders._spec import InputAudio, InputImage, InputText, Message, SamplingParams
from graders._template import Template
from graders._types import Sample, Score, clip
from graders._usage import ScoreBatch, track_usage

if TYPE_CHECKING:
    from graders._kinds.model_graders import JudgeSpec
    from graders.client import ChatClient, ChatRequest, Completion

log = logging.getLogger("graders.judge")

# Bumped when the request a judge sends changes shape, so cached replies to old prompts are
# not reused (the cache key holds it).
JUDGE_VERSION = "1"
# Statuses with which servers reject a response_format they do not support.
_FORMAT_REJECTED = frozenset({400, 422})
# The hosted judge's sampling when a spec leaves these out (spec spelling -> value). Sent, so a
# server with other defaults (vLLM's max_tokens of 16, a low default temperature) samples alike.
HOSTED_SAMPLING_DEFAULTS: dict[str, Any] = {"temperature": 1.0, "top_p": 1.0, "max_completions_tokens": 4096}

STEPS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"description": {"type": "string"}, "conclusion": {"type": "string"}},
        "required": ["description", "conclusion"],
        "additionalProperties": False,
    },
}


class Outcome:
    """One judge sample: the parsed reply (or the error Score it became) and its details."""

    __slots__ = ("parsed", "error", "details")

    def __init__(self, parsed: Parsed | None, error: Score | None, details: dict[str, Any]) -> None:
        self.parsed = parsed
        self.error = error
        self.details = details


JudgeSpecT = TypeVar("JudgeSpecT", bound="JudgeSpec")


class JudgeGrader(Grader[JudgeSpecT], abc.ABC):
    """Base of the model-judge graders; subclasses turn parsed replies into a Score."""

    is_async = True
    result_schema: dict[str, Any]
    format_hint: str

    def __init__(self, spec: JudgeSpecT) -> None:
        self.messages = [_compile_message(m, ("input", i)) for i, m in enumerate(spec.input)]
        fields: set[str] = set()
        for _role, parts in self.messages:
            for part in parts:
                for template in part.templates():
                    fields |= template.item_fields
        super().__init__(spec, fields)
        self.model = spec.model
        self.samples = spec.judge_samples or 1
        self._params = sampling_request_params(spec.sampling_params)
        # None: try structured output and fall back; True: require it; False: never send it.
        self.structured: bool | None = spec.structured_output
        self._response_format = {
            "type": "json_schema",
            "json_schema": {"name": f"{spec.type}_result", "strict": True, "schema": self.result_schema},
        }
        self._client: ChatClient | None = None
        self._owns_client = False
        self._client_lock = threading.Lock()
        self._base_url = spec.base_url
        self._api_key_env = spec.api_key_env

    # --- the client ---

    @property
    def client(self) -> ChatClient:
        """The ChatClient this grader calls, built on first use from ``graders.client.configure``
        settings and the spec's ``base_url`` / ``api_key_env``."""
        with self._client_lock:
            if self._client is None:
                from graders.client import ChatClient

                self._client = ChatClient.from_settings(base_url=self._base_url, api_key_env=self._api_key_env)
                self._owns_client = True
            return self._client

    def use_client(self, client: ChatClient) -> None:
        """Makes the grader call through ``client`` (shared limits, cache and usage; not closed by it)."""
        with self._client_lock:
            if self._owns_client and self._client is not None:
                self._client.close()
            self._client, self._owns_client = client, False

    def close(self) -> None:
        with self._client_lock:
            client, owned = self._client, self._owns_client
            self._client, self._owns_client = None, False
        if client is not None and owned:
            client.close()

    # --- grading ---

    def _grade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        return self.grade(sample, item)  # the base runs agrade on the I/O loop

    async def _agrade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        messages = self.render(sample, item)
        client = self.client
        if self.samples == 1:
            return self._combine([await self._sample(client, messages, 0)])
        return self._combine(await asyncio.gather(*(self._sample(client, messages, i) for i in range(self.samples))))

    async def agrade_batch(
        self, samples: Sequence[SampleLike], items: Sequence[Mapping[str, Any]] | None = None
    ) -> ScoreBatch:
        """Grades a batch concurrently; answers already in the cache are graded at once, without
        waiting on the event loop, and only the misses are sent (under the concurrency limit)."""
        if items is None:
            items = [{}] * len(samples)
        elif len(items) != len(samples):
            raise ValueError(f"agrade_batch got {len(samples)} samples but {len(items)} items")
        scores: list[Score | None] = [None] * len(samples)
        with track_usage() as meter:
            if self.samples == 1 and self.client.cache is not None:
                self._grade_cached(samples, items, scores)
            misses = [k for k, score in enumerate(scores) if score is None]
            graded = await asyncio.gather(*(self.agrade(samples[k], items[k]) for k in misses))
            for k, score in zip(misses, graded, strict=True):
                scores[k] = score
        return ScoreBatch([s for s in scores if s is not None], meter.snapshot())

    def _grade_cached(
        self, samples: Sequence[SampleLike], items: Sequence[Mapping[str, Any]], scores: list[Score | None]
    ) -> None:
        """Fills ``scores[k]`` for every sample whose judge reply is already in the cache."""
        structured = self.structured is not False
        requests: list[tuple[int, ChatRequest]] = []
        for k, (sample, item) in enumerate(zip(samples, items, strict=True)):
            try:
                requests.append((k, self.request(self.render(Sample.of(sample), item), 0, structured=structured)))
            except Exception as exc:  # noqa: BLE001 - as Grader.grade: a bad sample is a graded outcome
                scores[k] = error_score(exc)
        hits = self.client.cached_many([request for _, request in requests])
        for (k, _), completion in zip(requests, hits, strict=True):
            if completion is not None:
                scores[k] = self._combine([self._read(completion, structured)])

    def _combine(self, outcomes: Sequence[Outcome]) -> Score:
        ok = [o for o in outcomes if o.parsed is not None]
        errors = [o.error.error.to_dict() for o in outcomes if o.error is not None and o.error.error is not None]
        if not ok:
            first = outcomes[0].error
            assert first is not None
            if len(outcomes) > 1:
                first.details["sample_errors"] = errors
            return first
        score = self._score(ok)
        if errors:
            score.details["sample_errors"] = errors
        return score

    def render(self, sample: Sample, item: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The chat messages for one sample (the spec's templates filled in)."""
        out = []
        for role, parts in self.messages:
            if len(parts) == 1 and isinstance(parts[0], _TextPart) and parts[0].plain:
                content: Any = parts[0].text.render(sample, item)
            else:
                content = [part.render(sample, item) for part in parts]
            out.append({"role": role, "content": content})
        return out

    def request(self, messages: list[dict[str, Any]], index: int = 0, *, structured: bool = True) -> ChatRequest:
        """The ChatRequest for judge sample ``index`` (0-based)."""
        from graders.client import ChatRequest

        params = dict(self._params)
        if index and params.get("seed") is not None:
            params["seed"] += index  # the same seed would give the same answer n times
        version = f"{self.spec.type}/{JUDGE_VERSION}" + (f"#{index}" if index else "")
        if not structured:
            messages = _with_hint(messages, self.format_hint)
        return ChatRequest(
            self.model,
            messages,
            response_format=self._response_format if structured else None,
            version=version,
            **params,
        )

    async def _sample(self, client: ChatClient, messages: list[dict[str, Any]], index: int) -> Outcome:
        from graders.client import ModelCallError

        structured = self.structured is not False
        try:
            try:
                completion = await client.complete(self.request(messages, index, structured=structured))
            except ModelCallError as exc:
                if not (structured and self.structured is None and exc.status in _FORMAT_REJECTED):
                    raise
                log.info("%s: the server rejected response_format (%s); asking in the prompt", self.name, exc.message)
                self.structured = structured = False
                completion = await client.complete(self.request(messages, index, structured=False))
        except ModelCallError as exc:
            error = Score.failure(ErrorKind.MODEL_GRADER_SERVER_ERROR, str(exc), model=self.model, **exc.details())
            return Outcome(None, error, {})
        return self._read(completion, structured)

    def _read(self, completion: Completion, structured: bool) -> Outcome:
        details: dict[str, Any] = {"model": self.model, "cached": completion.cached, "structured_output": structured}
        choice = completion.choices[0] if completion.choices else None
        if choice is not None and (choice.refusal or choice.finish_reason == "content_filter"):
            reason = clip(choice.refusal or "the server's content filter stopped the reply")
            refused = Score.failure(ErrorKind.MODEL_GRADER_REFUSAL_ERROR, reason, refusal=reason, **details)
            return Outcome(None, refused, details)
        text = completion.text
        try:
            parsed = parse_reply(text)
            self.check(parsed)
        except ReplyParseError as exc:
            message = str(exc)
            if choice is not None and choice.finish_reason == "length":
                message += " (the reply was cut at max_completions_tokens)"
            unparsed = Score.failure(ErrorKind.MODEL_GRADER_PARSE_ERROR, message, reply=clip(text), **details)
            return Outcome(None, unparsed, details)
        details["parse"] = parsed.how
        return Outcome(parsed, None, details)

    @abc.abstractmethod
    def check(self, parsed: Parsed) -> None:
        """Validates and normalises ``parsed.result`` in place; raises ReplyParseError."""

    @abc.abstractmethod
    def _score(self, outcomes: Sequence[Outcome]) -> Score:
        """The Score of one sample from the judge's replies (several when it is sampled n times)."""


def sampling_request_params(params: SamplingParams | None) -> dict[str, Any]:
    """The chat request's sampling parameters for a spec's ``sampling_params``.

    A field left out gets the hosted default (``HOSTED_SAMPLING_DEFAULTS``); a field set to
    ``null`` is not sent, leaving it to the server. A whole ``sampling_params: null`` (what an
    SDK object's ``model_dump()`` writes when it is unset) counts as left out.
    """
    given = params.model_fields_set if params is not None else set()
    values: dict[str, Any] = {}
    for name in ("temperature", "top_p", "seed", "max_completions_tokens", "reasoning_effort"):
        if name in given:
            values[name] = getattr(params, name)
        else:
            values[name] = HOSTED_SAMPLING_DEFAULTS.get(name)
    values["max_completion_tokens"] = values.pop("max_completions_tokens")  # the chat API's spelling
    return values


def _with_hint(messages: list[dict[str, Any]], hint: str) -> list[dict[str, Any]]:
    """The messages with the answer format appended to the last user message (or as a new one)."""
    out = [dict(m) for m in messages]
    last = out[-1] if out else None
    if last is not None and last["role"] == "user":
        if isinstance(last["content"], str):
            last["content"] = f"{last['content']}\n\n{hint}"
        else:
            last["content"] = [*last["content"], {"type": "text", "text": hint}]
    else:
        out.append({"role": "user", "content": hint})
    return out


# --- compiled messages ---------------------------------------------------------------------


class _TextPart:
    __slots__ = ("text", "plain")

    def __init__(self, text: Template, plain: bool) -> None:
        self.text = text
        self.plain = plain  # the spec wrote a bare string (sent as a string, not a part list)

    def templates(self) -> list[Template]:
        return [self.text]

    def render(self, sample: Sample, item: Mapping[str, Any]) -> dict[str, Any]:
        return {"type": "text", "text": self.text.render(sample, item)}


class _ImagePart:
    __slots__ = ("url", "detail")

    def __init__(self, url: Template, detail: str | None) -> None:
        self.url = url
        self.detail = detail

    def templates(self) -> list[Template]:
        return [self.url]

    def render(self, sample: Sample, item: Mapping[str, Any]) -> dict[str, Any]:
        image: dict[str, Any] = {"url": self.url.render(sample, item)}
        if self.detail is not None:
            image["detail"] = self.detail
        return {"type": "image_url", "image_url": image}


class _AudioPart:
    __slots__ = ("data", "format")

    def __init__(self, data: Template, fmt: str) -> None:
        self.data = data
        self.format = fmt

    def templates(self) -> list[Template]:
        return [self.data]

    def render(self, sample: Sample, item: Mapping[str, Any]) -> dict[str, Any]:
        return {"type": "input_audio", "input_audio": {"data": self.data.render(sample, item), "format": self.format}}


_Part = _TextPart | _ImagePart | _AudioPart


def _compile_message(message: Message, path: tuple[str | int, ...]) -> tuple[str, list[_Part]]:
    content = message.content
    if isinstance(content, str):
        return message.role, [_TextPart(Template.parse(content, (*path, "content")), plain=True)]
    if isinstance(content, list):
        return message.role, [_compile_part(part, (*path, "content", j)) for j, part in enumerate(content)]
    return message.role, [_compile_part(content, (*path, "content"))]


def _compile_part(part: str | InputText | InputImage | InputAudio, path: tuple[str | int, ...]) -> _Part:
    if isinstance(part, str):  # a plain string in a content list is a text part, as the SDK allows
        return _TextPart(Template.parse(part, path), plain=False)
    if isinstance(part, InputText):
        return _TextPart(Template.parse(part.text, (*path, "text")), plain=False)
    if isinstance(part, InputImage):
        return _ImagePart(Template.parse(part.image_url, (*path, "image_url")), part.detail)
    audio = part.input_audio
    return _AudioPart(Template.parse(audio.data, (*path, "input_audio", "data")), audio.format)
