"""The one place rftkit talks to OpenAI-compatible chat-completions servers.

Model judges and evalkit's sampler both go through ``ChatClient``: the official ``openai``
client (imported on the first call, never at import time), endpoint and key from
``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` unless overridden, a concurrency limit, retries with
exponential backoff and jitter that honour ``Retry-After``, a per-attempt timeout and a total
retry budget, token accounting per model, and an on-disk SQLite cache keyed on the whole
request. The API key is read from the environment when the HTTP client is built and is never
logged, stored in the cache or put in an error message.

Every call runs on one private event loop in a daemon thread (``graders._aio``), so the same
client serves ``await client.complete(...)`` from any event loop and ``complete_sync`` from any
thread, including one whose own loop is running.

Example:
    >>> from graders.client import ChatClient, ChatRequest, Cache
    >>> client = ChatClient(base_url="http://127.0.0.1:8000/v1", cache=Cache("calls.sqlite"))  # doctest: +SKIP
    >>> reply = client.complete_sync(ChatRequest("my-model", [{"role": "user", "content": "Hi"}]))  # doctest: +SKIP
    >>> reply.text, reply.usage.total_tokens, reply.cached  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import os
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graders._aio import on_io_loop, run_on_io_loop, run_sync, submit
from graders._cache import Cache, default_cache_path
from graders._errors import GraderError
from graders._usage import ScoreBatch, Usage, UsageMeter, record_usage, track_usage

if TYPE_CHECKING:
    from openai import AsyncOpenAI

__all__ = [
    "Cache",
    "ChatClient",
    "ChatRequest",
    "Choice",
    "ClientSettings",
    "Completion",
    "DEFAULT",
    "ModelCallError",
    "ScoreBatch",
    "Usage",
    "UsageMeter",
    "configure",
    "default_cache_path",
    "settings",
    "shared_cache",
    "track_usage",
]

log = logging.getLogger("graders.client")

# A hosted API's lowest tiers allow a few hundred requests a minute; 8 in flight stays under
# that with judge-sized latencies, and a local vLLM/SGLang server wants more (raise it there).
DEFAULT_MAX_CONCURRENCY = 8
# Per attempt. Reasoning judges can think for a minute; a stuck connection must not hang a run.
DEFAULT_TIMEOUT = 120.0
# Retries after the first attempt, for 429/5xx/timeouts/connection errors.
DEFAULT_MAX_RETRIES = 6
# Total seconds one call may spend across attempts and sleeps before it is given up.
DEFAULT_RETRY_BUDGET = 600.0
# Backoff before retry k (1-based): uniform in [0.5, 1] x min(BACKOFF_CAP, base x 2^(k-1)).
DEFAULT_BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
# A Retry-After longer than this is not waited for: the call fails at once (rate_limited).
MAX_RETRY_AFTER = 120.0
# Bumped when the cache key's layout changes, so old rows can never be misread.
CACHE_KEY_VERSION = "rftkit-chat/1"
# Connections per underlying HTTP client: httpcore scans its whole pool on every request and
# response, so one pool of 64 connections costs ~1 ms of CPU per call; pools of 8 stay cheap.
POOL_SIZE = 8
_NO_KEY = "no-key-set"  # the openai client refuses to start without a key; local servers need none
_RETRYABLE_STATUS = frozenset({408, 409, 429})
_CACHE_HIT = Usage(calls=1, cache_hits=1)
_JSON: Any = {"headers": {"Content-Type": "application/json"}}
_MAX_ERROR_CHARS = 500


# --- requests and responses -------------------------------------------------------------


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


# --- settings --------------------------------------------------------------------------


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Any = _Default()
"""For ``ClientSettings.cache``: the default cache file (``default_cache_path()``)."""


@dataclass(frozen=True)
class ClientSettings:
    """Process-wide defaults for the clients graders build (see ``configure``).

    Attributes:
        base_url: Endpoint for every model grader in this run; beats a spec's ``base_url``.
            None: the spec's, else ``$OPENAI_BASE_URL``, else OpenAI's.
        api_key_env: Variable holding the key for every model grader in this run; beats a
            spec's ``api_key_env``. None: the spec's, else ``OPENAI_API_KEY``.
        max_concurrency: Calls in flight per client.
        timeout: Seconds per attempt.
        max_retries: Retries after the first attempt.
        retry_budget: Seconds one call may spend over all attempts.
        backoff_base: Seconds before the first retry when the server sends no Retry-After.
        cache: A cache file path, None for no cache, or DEFAULT for ``default_cache_path()``.
    """

    base_url: str | None = None
    api_key_env: str | None = None
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_budget: float = DEFAULT_RETRY_BUDGET
    backoff_base: float = DEFAULT_BACKOFF_BASE
    cache: str | os.PathLike[str] | None = DEFAULT

    def cache_path(self) -> Path | None:
        """The cache file these settings select, or None for no cache."""
        if self.cache is DEFAULT:
            return default_cache_path()
        return None if self.cache is None else Path(self.cache)


_settings = ClientSettings()
_shared_caches: dict[Path, Cache] = {}
_shared_lock = threading.Lock()


def settings() -> ClientSettings:
    """The current process-wide client settings."""
    return _settings


def configure(new: ClientSettings | None = None, **changes: Any) -> ClientSettings:
    """Sets process-wide defaults for the clients model graders build; returns the old ones.

    Takes effect for graders that have not made a call yet (clients are built on first use).
    ``configure(cache=None)`` is ``--no-cache``; ``configure(cache="run/calls.sqlite")`` picks
    the cache file; ``configure(old)`` restores settings returned earlier.

    Example:
        >>> old = configure(cache=None, max_concurrency=32, base_url="http://127.0.0.1:8000/v1")
        >>> _ = configure(old)
    """
    global _settings
    old = _settings
    base = new if new is not None else old
    _settings = dataclasses.replace(base, **changes) if changes else base
    return old


def shared_cache(path: str | os.PathLike[str]) -> Cache:
    """One Cache object per file in this process (so its clients share one connection)."""
    key = Path(path).expanduser().resolve()
    with _shared_lock:
        cache = _shared_caches.get(key)
        if cache is None:
            cache = _shared_caches[key] = Cache(key)
        return cache


# --- the client ------------------------------------------------------------------------


class ChatClient:
    """Async chat-completions client with a concurrency limit, retries, a cache and token counts.

    Args:
        base_url: The server's ``/v1`` URL; None reads ``$OPENAI_BASE_URL``, else OpenAI's.
        api_key_env: The environment variable holding the API key (read on first call; a
            missing key is sent as a placeholder, which local servers accept).
        max_concurrency: Requests in flight at once (retry sleeps do not hold a slot).
        timeout: Seconds per attempt; a slower attempt counts as a ``timeout`` and is retried.
        max_retries: Retries after the first attempt (429, 5xx, 408/409, timeouts, connection
            errors, malformed bodies); other 4xx fail at once.
        retry_budget: Seconds one call may spend over all its attempts and sleeps.
        backoff_base: Seconds before the first retry when the server sends no Retry-After.
        cache: A Cache (or a path to one) to read and store responses; None for no cache.

    Example:
        >>> async with ChatClient(base_url=url, cache=None) as client:       # doctest: +SKIP
        ...     reply = await client.complete(ChatRequest("m", messages, n=4, temperature=1.0))
        ...     reply.texts, client.usage["m"].total_tokens
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_budget: float = DEFAULT_RETRY_BUDGET,
        backoff_base: float = DEFAULT_BACKOFF_BASE,
        cache: Cache | str | os.PathLike[str] | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, not {max_concurrency}")
        if timeout <= 0 or retry_budget <= 0:
            raise ValueError("timeout and retry_budget must be positive")
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, not {max_retries}")
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip("/")
        self.api_key_env = api_key_env
        self.max_concurrency = max_concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_budget = retry_budget
        self.backoff_base = backoff_base
        self.cache: Cache | None = cache if isinstance(cache, Cache) or cache is None else shared_cache(cache)
        self._meter = UsageMeter()
        # Built on the I/O loop and used only there: HTTP clients, and the free request slots.
        self._shards: list[AsyncOpenAI] = []
        self._slots: asyncio.LifoQueue[int] | None = None
        self._raw_type: Any = None

    @classmethod
    def from_settings(cls, *, base_url: str | None = None, api_key_env: str | None = None) -> ChatClient:
        """A client for a grader: the run's ``configure()`` settings over the spec's own fields."""
        s = _settings
        path = s.cache_path()
        return cls(
            base_url=s.base_url or base_url,
            api_key_env=s.api_key_env or api_key_env or "OPENAI_API_KEY",
            max_concurrency=s.max_concurrency,
            timeout=s.timeout,
            max_retries=s.max_retries,
            retry_budget=s.retry_budget,
            backoff_base=s.backoff_base,
            cache=None if path is None else shared_cache(path),
        )

    @property
    def usage(self) -> dict[str, Usage]:
        """Usage per model over this client's lifetime (cache hits counted, at zero tokens)."""
        return self._meter.snapshot()

    async def complete(self, request: ChatRequest) -> Completion:
        """Sends one request (or answers it from the cache).

        Returns:
            The Completion; ``cached`` tells whether the network was used.

        Raises:
            ModelCallError: the call failed for good (retries and budget spent, or a 4xx).
        """
        hit = self.cached(request)
        if hit is not None:
            return hit
        completion = await run_on_io_loop(self._call(request))
        if self.cache is not None:
            self.cache.put(request.cache_key(self.base_url), request.model, completion.to_dict())
        self._record(request.model, dataclasses.replace(completion.usage, calls=1))
        return completion

    def cached(self, request: ChatRequest) -> Completion | None:
        """The cached answer to ``request`` (counted as a call and a cache hit), or None.

        Never touches the network; ``complete`` starts with it. Batch code can serve every hit
        synchronously this way and await only the misses.
        """
        if self.cache is None:
            return None
        hit = self.cache.get(request.cache_key(self.base_url))
        if hit is None:
            return None
        self._record(request.model, _CACHE_HIT)
        return Completion.from_dict(hit, cached=True)

    def cached_many(self, requests: Sequence[ChatRequest]) -> list[Completion | None]:
        """``cached`` for many requests at once (one database query per few hundred)."""
        if self.cache is None:
            return [None] * len(requests)
        keys = [request.cache_key(self.base_url) for request in requests]
        found = self.cache.get_many(keys)
        out: list[Completion | None] = []
        for request, key in zip(requests, keys, strict=True):
            hit = found.get(key)
            if hit is None:
                out.append(None)
            else:
                self._record(request.model, _CACHE_HIT)
                out.append(Completion.from_dict(hit, cached=True))
        return out

    def complete_sync(self, request: ChatRequest) -> Completion:
        """``complete`` for sync code; works inside a thread whose event loop is running."""
        return run_sync(self.complete(request))

    def _record(self, model: str, usage: Usage) -> None:
        self._meter.add(model, usage)
        record_usage(model, usage)

    # Everything below runs on the I/O loop.

    def _shard(self, slot: int) -> AsyncOpenAI:
        shards = self._shards
        if not shards:
            try:
                from openai import AsyncOpenAI
            except ImportError:  # pragma: no cover - openai is a core dependency
                from graders._errors import MissingDependencyError

                raise MissingDependencyError("openai", why="model graders talk to servers through it") from None
            import httpx2

            key = os.environ.get(self.api_key_env) or _NO_KEY
            count = -(-self.max_concurrency // POOL_SIZE)
            shards.extend(
                AsyncOpenAI(api_key=key, base_url=self.base_url, max_retries=0, timeout=self.timeout)
                for _ in range(count)
            )
            self._raw_type = httpx2.Response
        return shards[slot // POOL_SIZE]

    async def _call(self, request: ChatRequest) -> Completion:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry_budget
        if self._slots is None:
            self._slots = asyncio.LifoQueue(self.max_concurrency)
            for slot in reversed(range(self.max_concurrency)):
                self._slots.put_nowait(slot)
        slots = self._slots
        # Serialised once for every attempt; bytes also spare the openai client a deep copy.
        body = json.dumps(request.body(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        attempt = 0
        while True:
            attempt += 1
            slot = await slots.get()  # the concurrency limit: one slot per request in flight
            try:
                http = self._shard(slot)
                async with asyncio.timeout(self.timeout):
                    # The raw response, parsed here: the typed ``chat.completions.create``
                    # spends ~1 ms of CPU per call re-validating params and building
                    # pydantic objects, which caps a 64-way judge batch well below 640/s.
                    response = await http.post("/chat/completions", cast_to=self._raw_type, content=body, options=_JSON)
                    data = await response.aread()
                return _completion(_json_body(data), attempt)
            except Exception as exc:  # noqa: BLE001 - every failure is classified below
                error = _classify(exc, self, attempt)
            finally:
                slots.put_nowait(slot)
            if not error.retryable or attempt > self.max_retries:
                raise error
            delay = self._delay(attempt, error.retry_after)
            if delay is None or loop.time() + delay > deadline:
                raise ModelCallError(
                    error.kind,
                    f"{error.message} (retry budget of {self.retry_budget:g} s spent)",
                    status=error.status,
                    attempts=attempt,
                    retry_after=error.retry_after,
                )
            log.debug("retrying %s in %.2f s after %s (attempt %d)", request.model, delay, error.kind, attempt)
            await asyncio.sleep(delay)

    def _delay(self, attempt: int, retry_after: float | None) -> float | None:
        if retry_after is not None and retry_after > 0:
            return retry_after if retry_after <= MAX_RETRY_AFTER else None
        return min(BACKOFF_CAP, self.backoff_base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)

    async def aclose(self) -> None:
        """Closes the HTTP connections (the client reopens them if used again)."""
        if self._shards:
            await run_on_io_loop(self._close_http())

    async def _close_http(self) -> None:
        shards = list(self._shards)
        self._shards.clear()
        for http in shards:
            await http.close()

    def close(self) -> None:
        """Sync ``aclose``; safe from any thread (from the I/O loop it schedules the close)."""
        if not self._shards:
            return
        if on_io_loop():
            submit(self._close_http())
        else:
            run_sync(self._close_http())

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        # Names the variable, never its value.
        return f"<ChatClient {self.base_url} key from ${self.api_key_env} concurrency={self.max_concurrency}>"


def _json_body(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise ModelCallError("bad_response", f"body is not JSON ({exc}): {data[:200]!r}") from None


def _completion(raw: Any, attempts: int) -> Completion:
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


def _classify(exc: Exception, client: ChatClient, attempt: int) -> ModelCallError:
    import openai

    if isinstance(exc, ModelCallError):
        exc.attempts = attempt
        return exc
    if isinstance(exc, TimeoutError | openai.APITimeoutError):
        return ModelCallError("timeout", f"no answer within {client.timeout:g} s", attempts=attempt)
    if isinstance(exc, openai.APIConnectionError):
        return ModelCallError("connection_error", f"cannot reach {client.base_url}: {exc}", attempts=attempt)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retry_after = _retry_after(exc.response.headers)
        message = _status_message(exc, client)
        if status == 429:
            kind = "rate_limited"
        elif status >= 500 or status in _RETRYABLE_STATUS:
            kind = "server_error"
        else:
            kind = "rejected"
        return ModelCallError(kind, message, status=status, attempts=attempt, retry_after=retry_after)
    if isinstance(exc, openai.APIError | ValueError):
        # A 200 whose body is not a chat completion (truncated, not JSON): a glitch, retried.
        return ModelCallError("bad_response", f"{type(exc).__name__}: {exc}", attempts=attempt)
    return ModelCallError("rejected", f"{type(exc).__name__}: {exc}", attempts=attempt)


def _status_message(exc: Any, client: ChatClient) -> str:
    body = getattr(exc, "body", None)
    message = ""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        message = str(inner.get("message", "") if isinstance(inner, Mapping) else inner)
    message = message or str(getattr(exc, "message", "")) or type(exc).__name__
    if exc.status_code == 401:
        message += f" (check ${client.api_key_env})"
    return message


def _retry_after(headers: Mapping[str, str]) -> float | None:
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            continue
    value = headers.get("retry-after")
    if value:
        import email.utils
        import time

        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())
    return None
