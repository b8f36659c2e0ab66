"""The values that cross the wire: a chat request (and its cache key), the completion that
answers it, and the error of a call that failed for good. ``graders.client`` re-exports them."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graders._errors import GraderError
from graders._usage import Usage

# Bumped when the cache key's layout changes, so old rows can never be misread.
CACHE_KEY_VERSION = "rftkit-chat/1"
_MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class ChatRequest:
    """One chat-completions request; everything in it (and the endpoint) forms the cache key.

    Args:
        model: The model name the server knows.
        messages: Chat messages (``{"role": ..., "content": ...}``), content as a string or a
            list of chat content parts.
        n: Completions to sample.
        temperature, top_p, seed, max_completion_tokens, reasoning_effort: Sampling parameters;
            None leaves the server's default (and is not sent).
        response_format: A chat ``response_format`` (``{"type": "json_schema", ...}``) or None.
        extra_body: Further fields sent as they are (server-specific options).
        version: Not sent; folded into the cache key (a grader's version, a replica index), so
            a change there never reads a stale cached response.
    """

    model: str
    messages: Sequence[Mapping[str, Any]]
    n: int = 1
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    max_completion_tokens: int | None = None
    reasoning_effort: str | None = None
    response_format: Mapping[str, Any] | None = None
    extra_body: Mapping[str, Any] | None = None
    version: str = ""

    def body(self) -> dict[str, Any]:
        """The JSON body sent to ``/chat/completions`` (unset parameters left out)."""
        body = self._body_without_format()
        if self.response_format is not None:
            body["response_format"] = dict(self.response_format)
        return body

    def _body_without_format(self) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": [dict(m) for m in self.messages]}
        if self.n != 1:
            body["n"] = self.n
        for name in ("temperature", "top_p", "seed", "max_completion_tokens", "reasoning_effort"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        if self.extra_body:
            body.update(self.extra_body)
        return body

    def cache_key(self, endpoint: str) -> str:
        """A hash of the endpoint, the body and ``version`` (hex SHA-256)."""
        body = json.dumps(self._body_without_format(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        text = "\n".join(
            (CACHE_KEY_VERSION, endpoint.rstrip("/"), self.version, _canonical(self.response_format), body)
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def replace(self, **changes: Any) -> ChatRequest:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


_canonical_memo: dict[int, tuple[Any, str]] = {}


def _canonical(value: Mapping[str, Any] | None) -> str:
    """Canonical JSON of a response_format, memoised by identity: a judge sends the same
    (never mutated) schema object with every request, and re-serialising it dominated the
    cost of a cache lookup."""
    if value is None:
        return "null"
    memo = _canonical_memo.get(id(value))
    if memo is not None and memo[0] is value:
        return memo[1]
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    if len(_canonical_memo) >= 256:
        _canonical_memo.clear()
    _canonical_memo[id(value)] = (value, text)  # holding the object keeps its id from being reused
    return text


@dataclass(frozen=True, slots=True)
class Choice:
    """One sampled completion: its text, the model's refusal (if it refused) and why it stopped."""

    text: str | None
    refusal: str | None = None
    finish_reason: str | None = None


@dataclass(frozen=True)
class Completion:
    """A server's answer to a ChatRequest.

    Attributes:
        choices: One Choice per sampled completion (``n`` of them when the server honours ``n``).
        model: The model name the server reported.
        usage: Tokens the server billed for this answer (for a cache hit: what the original
            call cost; the hit itself is accounted at zero tokens).
        cached: True when the answer came from the on-disk cache (no network call).
        attempts: HTTP attempts the call took (0 for a cache hit).
    """

    choices: tuple[Choice, ...]
    model: str = ""
    usage: Usage = field(default_factory=Usage)
    cached: bool = False
    attempts: int = 1

    @property
    def text(self) -> str:
        """The first choice's text ("" when there is none)."""
        return (self.choices[0].text or "") if self.choices else ""

    @property
    def refusal(self) -> str | None:
        """The first choice's refusal, if the model refused."""
        return self.choices[0].refusal if self.choices else None

    @property
    def texts(self) -> list[str]:
        """Every choice's text."""
        return [c.text or "" for c in self.choices]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what the cache stores)."""
        return {
            "choices": [{"text": c.text, "refusal": c.refusal, "finish_reason": c.finish_reason} for c in self.choices],
            "model": self.model,
            "usage": self.usage.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, cached: bool = False) -> Completion:
        choices = tuple(
            Choice(c.get("text"), c.get("refusal"), c.get("finish_reason")) for c in data.get("choices") or ()
        )
        usage = Usage.from_dict(data.get("usage") or {})
        return cls(choices, str(data.get("model") or ""), usage, cached, 0 if cached else 1)


class ModelCallError(GraderError):
    """A model call failed for good (after any retries).

    Attributes:
        kind: ``timeout``, ``rate_limited``, ``server_error`` (5xx), ``connection_error``,
            ``bad_response`` (a body that is not a chat completion) or ``rejected`` (a 4xx the
            server will not change its mind about: bad request, unknown model, bad key).
        status: The HTTP status, when there was one.
        attempts: HTTP attempts made.
        retry_after: The server's Retry-After in seconds, when it sent one.
    """

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        attempts: int = 1,
        retry_after: float | None = None,
    ) -> None:
        self.kind = kind
        self.message = message[:_MAX_ERROR_CHARS]
        self.status = status
        self.attempts = attempts
        self.retry_after = retry_after
        super().__init__(kind, self.message)

    def __str__(self) -> str:
        return self._format()

    @property
    def retryable(self) -> bool:
        return self.kind != "rejected"

    def _format(self) -> str:
        status = f" (HTTP {self.status})" if self.status is not None else ""
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        return f"{self.kind}{status}{tries}: {self.message}"

    def details(self) -> dict[str, Any]:
        """JSON-ready fields for a Score's ``details``."""
        return {"reason": self.kind, "status": self.status, "attempts": self.attempts}


def json_body(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise ModelCallError("bad_response", f"body is not JSON ({exc}): {data[:200]!r}") from None


def completion_from_json(raw: Any, attempts: int) -> Completion:
    raw_choices = raw.get("choices") if isinstance(raw, dict) else None
    if not isinstance(raw_choices, list) or not all(isinstance(c, dict) for c in raw_choices):
        raise ModelCallError("bad_response", f"not a chat completion: {str(raw)[:200]!r}", attempts=attempts)
    choices = []
    for choice in sorted(raw_choices, key=lambda c: c.get("index") or 0):
        message = choice.get("message")
        if not isinstance(message, dict):
            message = {}
        content, refusal = message.get("content"), message.get("refusal")
        choices.append(
            Choice(
                content if isinstance(content, str) else None,
                refusal if isinstance(refusal, str) else None,
                choice.get("finish_reason"),
            )
        )
    usage = Usage()
    raw_usage = raw.get("usage")
    if isinstance(raw_usage, dict):
        details = raw_usage.get("prompt_tokens_details")
        usage = Usage(
            _int(raw_usage.get("prompt_tokens")),
            _int(raw_usage.get("completion_tokens")),
            _int(raw_usage.get("total_tokens")),
            _int(details.get("cached_tokens") if isinstance(details, dict) else 0),
        )
    return Completion(tuple(choices), str(raw.get("model") or ""), usage, False, attempts)


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
