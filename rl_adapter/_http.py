"""``HttpBackend``: a reward backend that grades through a remote ``rftkit serve``.

A service that is down, slow or broken never stops training: every sample of the failed
request scores as an error (``reward_service_error`` / ``reward_service_timeout``), which the
reward functions count and map to their ``error_value``. ``timeout`` is a total deadline for
the whole request: a server that drips its answer a byte at a time is cut off at it too.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from graders import ErrorKind, Sample, Score
from graders.client import redact

# A training step waits on this at most once per reward call; long enough for 1024 samples of
# a slow grader, short enough that a hung service costs one step, not the run.
DEFAULT_TIMEOUT_S = 60.0
# /health is a cheap call made once to learn the grader's item fields.
HEALTH_TIMEOUT_S = 5.0
# No shipped grader scores outside [-1e6, 1e6]; a larger value (1e308 from a broken or hostile
# service) would swamp the advantage normalisation of a whole batch, so it is an error instead.
MAX_ABS_REWARD = 1e6

T = TypeVar("T")


class HttpBackend:
    """Grades by POSTing batches to an ``rftkit serve`` ``/grade`` endpoint.

    Args:
        url: The server's base URL (``http://127.0.0.1:8900``).
        token: The bearer token the server expects, if it was started with one.
        timeout: Seconds to wait for one batch before scoring it as ``reward_service_timeout``.
        details: Ask for each Score's full ``details`` (the evidence); by default only the
            value, the error and ``multi`` sub-scores come back, which is all a reward needs.

    Example:
        >>> reward = trl_reward(HttpBackend("http://127.0.0.1:8900"))  # doctest: +SKIP
    """

    is_async = False

    def __init__(
        self, url: str, *, token: str | None = None, timeout: float = DEFAULT_TIMEOUT_S, details: bool = False
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.details = details
        self.name = "remote"
        self._item_fields: frozenset[str] | None = None
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0
        self._lock = threading.Lock()

    @property
    def item_fields(self) -> frozenset[str]:
        """The served grader's item fields, read once from ``/health`` (empty if unreachable)."""
        if self._item_fields is None:
            fields: frozenset[str] = frozenset()
            try:
                response = self._request("GET", "/health", None, HEALTH_TIMEOUT_S)
                body = response.json()
                fields = frozenset(body.get("item_fields") or ())
                self.name = str(body.get("grader") or self.name)
            except Exception:  # noqa: BLE001 - an unreachable service is reported per batch instead
                return frozenset()
            self._item_fields = fields
        return self._item_fields

    def _request(self, method: str, path: str, body: bytes | None, timeout: float) -> Any:
        """One request, bounded in total by ``timeout`` (httpx's own timeouts bound each read only)."""
        import httpx

        loop, client = self._loop_and_client()
        headers = {"Content-Type": "application/json"} if body is not None else {}

        async def call() -> Any:
            return await client.request(method, f"{self.url}{path}", content=body, headers=headers)

        async def bounded() -> Any:
            try:
                return await asyncio.wait_for(call(), timeout)
            except TimeoutError:
                raise httpx.TimeoutException(f"no complete answer within {timeout:g} s") from None

        return _run(loop, bounded)

    def _loop_and_client(self) -> tuple[asyncio.AbstractEventLoop, Any]:
        """One event loop thread and one pooled async client per process, made on first use."""
        with self._lock:
            if self._client is None or self._pid != os.getpid():  # a forked child cannot use the parent's thread
                import socket

                import httpx

                loop = asyncio.new_event_loop()
                threading.Thread(target=_serve_loop, args=(loop,), name="rftkit-http-backend", daemon=True).start()
                headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
                # Without TCP_NODELAY, a request body sent after its headers waits on the peer's
                # delayed ACK: tens of milliseconds per batch, more than grading 1024 samples.
                nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
                transport = httpx.AsyncHTTPTransport(socket_options=nodelay)
                self._client = httpx.AsyncClient(headers=headers, timeout=self.timeout, transport=transport)
                self._loop, self._pid = loop, os.getpid()
            assert self._loop is not None
            return self._loop, self._client

    def score(self, samples: Sequence[Sample], items: Sequence[Mapping[str, Any]]) -> list[Score]:
        """POSTs the batch to ``/grade``; any failure scores every sample of it as an error."""
        import httpx

        n = len(samples)
        if not n:
            return []
        # Only the fields the grader reads travel: a long prompt would otherwise dominate the request.
        fields = self._item_fields
        if fields:
            items = [{k: v for k, v in item.items() if k in fields} for item in items]
        payload = {"samples": [_sample_json(s) for s in samples], "items": list(items), "details": self.details}
        try:
            body = json.dumps(payload, default=str, allow_nan=False).encode()
            response = self._request("POST", "/grade", body, self.timeout)
        except httpx.TimeoutException:
            return _failed(ErrorKind.REWARD_SERVICE_TIMEOUT, f"no answer from {self.url} within {self.timeout:g} s", n)
        except (httpx.HTTPError, ValueError) as exc:
            return _failed(ErrorKind.REWARD_SERVICE_ERROR, f"{type(exc).__name__}: {self._quoted(str(exc))}", n)
        if response.status_code != 200:
            said = self._quoted(response.text)
            return _failed(ErrorKind.REWARD_SERVICE_ERROR, f"HTTP {response.status_code}: {said}", n)
        try:
            scores = [Score.from_dict(s) for s in response.json()["scores"]]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # AttributeError: a score not an object
            return _failed(ErrorKind.REWARD_SERVICE_ERROR, f"malformed answer: {self._quoted(str(exc))}", n)
        if len(scores) != len(samples):
            return _failed(ErrorKind.REWARD_SERVICE_ERROR, f"{len(scores)} scores for {len(samples)} samples", n)
        return [_checked(score) for score in scores]

    async def ascore(self, samples: Sequence[Sample], items: Sequence[Mapping[str, Any]]) -> list[Score]:
        """Async ``score``: the request waits in a worker thread, not on the event loop."""
        return await asyncio.to_thread(self.score, samples, items)

    def _quoted(self, text: str) -> str:
        """What the service said, short, and without our token should it echo it."""
        return redact(text[:1000], [self.token])[:200]

    def close(self) -> None:
        """Closes the HTTP client and stops its event loop thread; idempotent."""
        with self._lock:
            client, loop, self._client, self._loop = self._client, self._loop, None, None
        if client is None or loop is None or self._pid != os.getpid():
            return
        try:
            _run(loop, client.aclose)
        finally:
            loop.call_soon_threadsafe(loop.stop)

    def __enter__(self) -> HttpBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.url, self.token, self.timeout, self.details))

    def __repr__(self) -> str:
        return f"HttpBackend({self.url!r})"


def _rebuild(url: str, token: str | None, timeout: float, details: bool) -> HttpBackend:
    return HttpBackend(url, token=token, timeout=timeout, details=details)


def _sample_json(sample: Sample) -> str | dict[str, Any]:
    if not sample.output_tools:
        return sample.output_text
    return {"output_text": sample.output_text, "output_tools": sample.output_tools}


def _serve_loop(loop: asyncio.AbstractEventLoop) -> None:
    try:
        loop.run_forever()
    finally:
        loop.close()


def _run(loop: asyncio.AbstractEventLoop, fn: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await fn()

    return asyncio.run_coroutine_threadsafe(main(), loop).result()


def _checked(score: Score) -> Score:
    """The score, or an error when its value is not a reward a trainer can use (inf, nan, 1e308)."""
    if score.error is None and not (math.isfinite(score.value) and abs(score.value) <= MAX_ABS_REWARD):
        return Score.failure(ErrorKind.REWARD_SERVICE_ERROR, f"the service answered an unusable reward {score.value!r}")
    return score


def _failed(kind: ErrorKind, message: str, n: int) -> list[Score]:
    return [Score.failure(kind, message) for _ in range(n)]
