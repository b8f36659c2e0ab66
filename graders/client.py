"""The one place rftkit talks to OpenAI-compatible chat-completions servers.

Model judges and evalkit's sampler both go through ``ChatClient``: the official ``openai``
client (imported on the first call, never at import time), endpoint and key from
``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` unless overridden, a concurrency limit, retries with
exponential backoff and jitter that honour ``Retry-After``, a per-attempt timeout and a total
retry budget, a circuit breaker that fails the rest of a batch at once when the server is
unreachable or never answers (``graders._llm.breaker``), token accounting per model, and an on-disk SQLite cache
keyed on the whole request. The API key is read from the environment when the HTTP client is built and is never
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
import json
import logging
import os
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graders._aio import on_io_loop, run_on_io_loop, run_sync, submit
from graders._llm.breaker import CircuitBreaker
from graders._llm.cache import Cache, default_cache_path
from graders._llm.chat import ChatRequest, Choice, Completion, ModelCallError, completion_from_json, json_body
from graders._llm.redact import redact
from graders._usage import (
    CallLimit,
    CallLimitReached,
    ScoreBatch,
    Usage,
    UsageMeter,
    limit_calls,
    record_usage,
    spend_call,
    track_usage,
)

if TYPE_CHECKING:
    from openai import AsyncOpenAI

__all__ = [
    "Cache",
    "CallLimit",
    "CallLimitReached",
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
    "limit_calls",
    "redact",
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
# Connections per underlying HTTP client: httpcore scans its whole pool on every request and
# response, so one pool of 64 connections costs ~1 ms of CPU per call; pools of 8 stay cheap.
POOL_SIZE = 8
# A judge reply is a few kilobytes; one over this is an error and is never cached (a 200 MB reply
# once made a 310 MB cache file). 8 MiB still holds n=16 completions of 100k characters each.
MAX_REPLY_BYTES = 8 * 1024 * 1024
_NO_KEY = "no-key-set"  # the openai client refuses to start without a key; local servers need none
_RETRYABLE_STATUS = frozenset({408, 409, 429})
# Attempt failures that count towards the circuit breaker: the server was not there to answer.
_UNANSWERED = frozenset({"connection_error", "timeout"})
_CACHE_HIT = Usage(calls=1, cache_hits=1)
# "stream": the openai client hands back the response unread, so its size can be capped while reading.
_JSON: Any = {"headers": {"Content-Type": "application/json", "X-Stainless-Raw-Response": "stream"}}


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

    def __post_init__(self) -> None:
        # Checked here, so `configure(max_concurrency=0)` fails at once, not as an error score per sample.
        _check_limits(self.max_concurrency, self.timeout, self.max_retries, self.retry_budget)

    def cache_path(self) -> Path | None:
        """The cache file these settings select, or None for no cache."""
        if self.cache is DEFAULT:
            return default_cache_path()
        return None if self.cache is None else Path(self.cache)


def _check_limits(max_concurrency: int, timeout: float, max_retries: int, retry_budget: float) -> None:
    if max_concurrency < 1:
        raise ValueError(f"max_concurrency must be at least 1, not {max_concurrency}")
    if not (timeout > 0 and retry_budget > 0):  # NaN too
        raise ValueError("timeout and retry_budget must be positive")
    if max_retries < 0:
        raise ValueError(f"max_retries must be 0 or more, not {max_retries}")


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
        _check_limits(max_concurrency, timeout, max_retries, retry_budget)
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
        self._pid = os.getpid()
        self._raw_type: Any = None
        self._breaker = CircuitBreaker(self.base_url)

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
        spend_call()  # a limit_calls block stops here, before the call is paid for
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
        hits: dict[str, int] = {}
        for request, key in zip(requests, keys, strict=True):
            hit = found.get(key)
            if hit is None:
                out.append(None)
            else:
                hits[request.model] = hits.get(request.model, 0) + 1
                out.append(Completion.from_dict(hit, cached=True))
        for model, count in hits.items():
            self._record(model, Usage(calls=count, cache_hits=count))
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
        if self._pid != os.getpid():
            # A forked child: the parent's connections and slots belong to the parent's loop.
            self._shards, self._slots, self._pid = [], None, os.getpid()
            self._breaker = CircuitBreaker(self.base_url)
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
            refusal = self._breaker.refusal(loop.time())
            if refusal is not None:
                slots.put_nowait(slot)
                raise ModelCallError("connection_error", refusal, attempts=attempt - 1)
            try:
                http = self._shard(slot)
                async with asyncio.timeout(self.timeout):
                    # The raw response, parsed here: the typed ``chat.completions.create``
                    # spends ~1 ms of CPU per call re-validating params and building
                    # pydantic objects, which caps a 64-way judge batch well below 640/s.
                    response = await http.post("/chat/completions", cast_to=self._raw_type, content=body, options=_JSON)
                    data = await _read_capped(response)
                self._breaker.record(False, loop.time())
                return completion_from_json(json_body(self._redacted_body(data)), attempt)
            except Exception as exc:  # noqa: BLE001 - every failure is classified below
                error = self._redacted_error(_classify(exc, self, attempt))
            finally:
                slots.put_nowait(slot)
            self._breaker.record(error.kind in _UNANSWERED, loop.time())
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

    def _secrets(self) -> list[str | None]:
        return [os.environ.get(self.api_key_env)]

    def _redacted_error(self, error: ModelCallError) -> ModelCallError:
        """The error with the API key and any Authorization value taken out of its message."""
        message = redact(error.message, self._secrets())
        if message == error.message:
            return error
        return ModelCallError(
            error.kind, message, status=error.status, attempts=error.attempts, retry_after=error.retry_after
        )

    def _redacted_body(self, data: bytes) -> bytes:
        """A reply that echoes the key or an Authorization value, with it taken out (before it is cached)."""
        key = os.environ.get(self.api_key_env)
        if (key and key.encode() in data) or b"uthorization" in data or b"earer " in data:
            return redact(data.decode("utf-8", "replace"), [key]).encode()
        return data

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


async def _read_capped(response: Any) -> bytes:
    """The reply's body, or ``bad_response`` once it passes ``MAX_REPLY_BYTES``; closes the response."""
    limit = MAX_REPLY_BYTES
    try:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise ModelCallError("bad_response", f"reply of {int(declared)} bytes is over the {limit} byte limit")
        parts, size = [], 0
        async for part in response.aiter_bytes():
            size += len(part)
            if size > limit:
                raise ModelCallError("bad_response", f"reply over the {limit} byte limit")
            parts.append(part)
        return b"".join(parts)
    finally:
        await response.aclose()


def _classify(exc: Exception, client: ChatClient, attempt: int) -> ModelCallError:
    import httpx2
    import openai

    if isinstance(exc, ModelCallError):
        exc.attempts = attempt
        return exc
    if isinstance(exc, TimeoutError | openai.APITimeoutError):
        return ModelCallError("timeout", f"no answer within {client.timeout:g} s", attempts=attempt)
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError | ConnectionError):
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
