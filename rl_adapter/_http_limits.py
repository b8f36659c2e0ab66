"""The limits every rftkit HTTP server applies (``rftkit serve``, ``rftkit api``): one place, one set of rules.

A server built on this module gets, with no code of its own:

* a bearer token checked before any byte of the body is read (401), with some paths left open
  (``/health``, for load-balancer probes);
* request bodies bounded in size (413, declared or streamed) and in time (408: the whole body must
  arrive within ``body_timeout_s``, so a client dripping one byte a second cannot hold a slot);
* connections that must send their request headers within ``header_timeout_s`` and that are
  closed after ``keep_alive_s`` idle, so idle sockets cannot lock anyone out; past
  ``max_connections``, idle connections are closed first, and an idle connection never counts
  against the work limit;
* a work limit (``max_concurrent`` requests computing at once, ``max_pending`` more waiting, 503
  past that) that leaves the open paths alone: ``/health`` answers while the server is saturated;
* JSON bodies parsed off the event loop with a depth limit (422, not a RecursionError and a 500),
  and a cap on the number of samples per request (413).

Use ``LimitsMiddleware`` around the ASGI app, ``WorkSlots.run`` for any parsing or CPU work,
``parse_json_body`` for request bodies, and ``make_uvicorn_server`` to run it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import signal
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from itertools import repeat
from typing import Any, TypeVar

T = TypeVar("T")
_CONTAINERS = (dict, list)

ErrorBody = Callable[[int, str], Any]
"""Builds the JSON body of a refusal from its status and message (a server's own error shape)."""


def detail_body(status: int, detail: str) -> dict[str, Any]:
    """The default refusal body: ``{"detail": ...}`` (FastAPI's shape)."""
    return {"detail": detail}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class ServerLimits:
    """The bounds of one HTTP server; every field is documented in ``docs/serve.md``.

    Attributes:
        max_body_bytes: Larger request bodies get 413. 64 MiB holds 1024 completions of 64 KB.
        max_samples: More samples (or OpenRLHF queries) in one request get 413. Grading memory is
            proportional to it; 4096 is four times the largest batch TRL or OpenRLHF sends.
        max_json_depth: Bodies nested deeper get 422; real requests nest a handful of levels.
        max_concurrent: Requests computing (parsing, grading) at once; each holds a worker thread.
        max_pending: Requests waiting for a computing slot; past that, new ones get 503.
        header_timeout_s: A connection must send a request's headers within this, or it is closed.
        body_timeout_s: The whole body must arrive within this after the headers, or 408.
        keep_alive_s: An idle keep-alive connection is closed after this.
        max_connections: Open connections past which the idle ones are closed to make room.
        graceful_shutdown_s: On SIGTERM, in-flight requests get this long to finish.
    """

    max_body_bytes: int = 64 * 1024 * 1024
    max_samples: int = 4096
    max_json_depth: int = 64
    max_concurrent: int = 8
    max_pending: int = 64
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    keep_alive_s: float = 5.0
    max_connections: int = 1024
    graceful_shutdown_s: float = 30.0


class RequestRejected(Exception):
    """A request the server refuses, with its HTTP status; ``install_handlers`` turns it into a JSON answer."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def parse_json_body(raw: bytes, limits: ServerLimits) -> Any:
    """Parses a request body; raises ``RequestRejected`` (422) for bad or too deeply nested JSON.

    Run it off the event loop (``WorkSlots.run``): a large body takes long enough to stall ``/health``.
    """
    try:
        body = json.loads(raw)
    except RecursionError:
        raise RequestRejected(422, f"body is nested deeper than {limits.max_json_depth} levels") from None
    except ValueError as exc:
        raise RequestRejected(422, f"body is not JSON: {exc}") from None
    if isinstance(body, _CONTAINERS) and json_depth(body, limits.max_json_depth + 1) > limits.max_json_depth:
        # Shallower than the parser's own limit, but deep enough to overflow whatever walks it next.
        raise RequestRejected(422, f"body is nested deeper than {limits.max_json_depth} levels")
    return body


def json_depth(value: Any, stop: int) -> int:
    """Nesting depth of parsed JSON, counted without recursion and no further than ``stop``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest >= stop:
            return deepest
        children = node.values() if isinstance(node, dict) else node
        # A list of three million strings is skipped at C speed: only containers are walked.
        if any(map(isinstance, children, repeat(_CONTAINERS))):
            stack.extend((child, depth + 1) for child in children if isinstance(child, _CONTAINERS))
    return deepest


def check_sample_count(n: int, limits: ServerLimits) -> None:
    """413 when a request carries more samples than ``limits.max_samples``."""
    if n > limits.max_samples:
        raise RequestRejected(413, f"{n} samples in one request; the limit is {limits.max_samples}, split the batch")


class WorkSlots:
    """At most ``max_concurrent`` requests compute at once, in worker threads, off the event loop."""

    def __init__(self, max_concurrent: int) -> None:
        self.max_concurrent = max_concurrent
        self._semaphore: asyncio.Semaphore | None = None  # binds to the server's loop on first use

    def _slots(self) -> asyncio.Semaphore:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.max_concurrent)
        return self._semaphore

    async def run(self, fn: Callable[[], T]) -> T:
        """Runs ``fn`` in a worker thread once a slot is free."""
        from starlette.concurrency import run_in_threadpool

        async with self._slots():
            return await run_in_threadpool(fn)

    async def run_async(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Awaits ``fn()`` once a slot is free (for work that waits on I/O rather than the CPU)."""
        async with self._slots():
            return await fn()


class LimitsMiddleware:
    """ASGI middleware: token before body (401), body size (413) and time (408), pending work (503).

    Args:
        app: The ASGI app to guard.
        limits: The bounds.
        token: When set, every path but ``open_paths`` needs ``Authorization: Bearer <token>``.
        open_paths: Paths that need no token and never count against the work limit.
        error_body: The body of a refusal (default ``{"detail": ...}``; ``rftkit api`` sends
            OpenAI's error shape).
    """

    def __init__(
        self,
        app: ASGIApp,
        limits: ServerLimits,
        *,
        token: str | None = None,
        open_paths: frozenset[str] = frozenset({"/health"}),
        error_body: ErrorBody = detail_body,
    ) -> None:
        self.app = app
        self.error_body = error_body
        self.limits = limits
        self.open_paths = open_paths
        self._expected = f"Bearer {token}".encode() if token else None
        self._active = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        if self._expected is not None:
            given = headers.get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                await send_json(send, 401, "missing or wrong bearer token", close=True, body=self.error_body)
                return
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limits.max_body_bytes:
            too_large = f"request body over {self.limits.max_body_bytes} bytes"
            await send_json(send, 413, too_large, close=True, body=self.error_body)
            return
        if self._active >= self.limits.max_concurrent + self.limits.max_pending:
            await send_json(send, 503, "server busy: too many requests in flight, retry later", close=True,
                            body=self.error_body)  # fmt: skip
            return
        self._active += 1
        try:
            await self._guarded(scope, receive, send)
        finally:
            self._active -= 1

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limits.max_body_bytes
        deadline = time.monotonic() + self.limits.body_timeout_s
        seen = 0
        rejected = False

        async def limited_receive() -> Message:
            nonlocal seen, rejected
            if rejected:
                return {"type": "http.disconnect"}
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0.001))
            except TimeoutError:
                rejected = True
                await send_json(send, 408, f"request body not received within {self.limits.body_timeout_s:g} s",
                                close=True, body=self.error_body)  # fmt: skip
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Answer now; the app then sees a disconnect and whatever it sends is dropped.
                    rejected = True
                    await send_json(send, 413, f"request body over {limit} bytes", close=True, body=self.error_body)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not rejected:
                await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not rejected:
                raise


async def send_json(
    send: Send, status: int, detail: str, *, close: bool = False, body: ErrorBody = detail_body
) -> None:
    """Sends a whole JSON answer (``body(status, detail)``, by default ``{"detail": ...}``); ``close``
    ends the connection (its body may be unread)."""
    payload = json.dumps(body(status, detail)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def install_handlers(app: Any) -> None:
    """Makes a FastAPI/Starlette ``app`` answer ``RequestRejected`` with its status, and deep JSON with 422."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    async def rejected(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestRejected)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    async def too_deep(request: Request, exc: Exception) -> JSONResponse:
        # A body parsed by the framework itself (a pydantic-typed route) can still nest too deeply.
        return JSONResponse({"detail": "request nested too deeply"}, status_code=422)

    app.add_exception_handler(RequestRejected, rejected)
    app.add_exception_handler(RecursionError, too_deep)


def make_uvicorn_server(app: ASGIApp, *, host: str, port: int, limits: ServerLimits, log_level: str = "info") -> Any:
    """A configured ``uvicorn.Server`` (not started) that enforces the connection limits of ``limits``."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        http=_guarded_protocol(limits),
        # No limit_concurrency: uvicorn counts idle connections in it, so 256 idle sockets answered
        # every request, /health included, with 503. LimitsMiddleware counts requests instead.
        limit_concurrency=None,
        timeout_keep_alive=max(1, round(limits.keep_alive_s)),
        timeout_graceful_shutdown=round(limits.graceful_shutdown_s),
        access_log=False,  # per-request lines would dominate the logs of a training run
    )
    return uvicorn.Server(config)


def run_server(server: Any) -> None:
    """``server.run()`` that returns after SIGTERM as after SIGINT, so the caller's cleanup runs.

    uvicorn shuts down on SIGTERM and then raises the signal again under the handler it found; the
    default handler would end the process before the caller's ``finally`` stopped the jobs API's
    worker or the sandbox workers. Outside the main thread uvicorn handles no signals: plain run.
    """
    if threading.current_thread() is not threading.main_thread():
        server.run()
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)


def _guarded_protocol(limits: ServerLimits) -> type:
    """uvicorn's h11 protocol plus a header-read timeout and idle-first eviction past ``max_connections``."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None
        _armed_cycle: Any = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm_header_timer()
            if len(self.connections) > limits.max_connections:
                _make_room(self, limits.max_connections)

        def connection_lost(self, exc: Exception | None) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_header_timer()

        def _arm_header_timer(self) -> None:
            # uvicorn's keep-alive timer stops at the first byte of a new request, so a client
            # sending one header byte at a time would hold the connection forever without this.
            if self._header_timer is not None:
                self._header_timer.cancel()
            self._armed_cycle = self.cycle
            self._header_timer = self.loop.call_later(limits.header_timeout_s, self._headers_overdue)

        def _headers_overdue(self) -> None:
            self._header_timer = None
            # No request started since the timer was armed (a pipelined one may have started as it was).
            if self.cycle is self._armed_cycle and self.is_idle() and not self.transport.is_closing():
                self.transport.close()

        def is_idle(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

    return GuardedH11Protocol


def _make_room(newest: Any, max_connections: int) -> None:
    """Closes idle connections until at most ``max_connections`` remain open."""
    excess = sum(not c.transport.is_closing() for c in newest.connections) - max_connections
    for connection in list(newest.connections):
        if excess <= 0:
            return
        if connection is not newest and connection.is_idle() and not connection.transport.is_closing():
            connection.transport.close()
            excess -= 1
    if excess > 0:
        newest.transport.close()  # every other connection is busy: this one waits its turn elsewhere
