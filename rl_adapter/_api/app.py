"""The ``rftkit api`` app: route modules mounted under ``/v1``, behind a token and size guard.

Every answer that is not a success is an OpenAI-shaped error (``rl_adapter._api.errors``),
including 404 for a path no route module serves, so the official client raises its usual
exceptions. The guard answers 401 (missing or wrong token) and 413 (body over the limit)
before the app reads a byte of the body.
"""

from __future__ import annotations

import asyncio
import hmac
import importlib
import ipaddress
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rl_adapter._api.errors import ApiError

# The route modules of a default server; each has ``routes(ctx: ApiContext) -> APIRouter``.
ROUTE_MODULES: tuple[str, ...] = ("rl_adapter._api.graders",)
# A hosted python grader's source is at most 256 kB; a run body is that plus one sample and
# one item. 16 MiB leaves room for long items and refuses a runaway client.
MAX_BODY_BYTES = 16 * 1024 * 1024
# Requests graded at once; each holds a worker thread or a judge call. More wait their turn.
MAX_CONCURRENT = 8
# One grading may take this long before the answer is an unresponsive_reward_error: the hosted
# python limit (2 minutes) plus time to start a sandbox worker.
GRADE_TIMEOUT_S = 150.0
# Open connections past which uvicorn answers 503 instead of queueing without bound.
MAX_CONNECTIONS = 256

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class ApiSettings:
    """How an ``rftkit api`` server runs.

    Attributes:
        workdir: Where route modules keep state (the judge cache, uploaded files, jobs).
        token: When set, every request needs ``Authorization: Bearer <token>`` (the client's
            ``api_key``). Required to bind outside loopback.
        max_body_bytes: Larger request bodies get 413.
        max_concurrent: Gradings at the same time; more wait their turn.
        grade_timeout_s: Seconds one grading may take before it is answered as unresponsive.
    """

    workdir: Path = Path("rftkit-api")
    token: str | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    max_concurrent: int = MAX_CONCURRENT
    grade_timeout_s: float = GRADE_TIMEOUT_S

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1 or self.max_concurrent < 1 or not self.grade_timeout_s > 0:
            raise ValueError("max_body_bytes, max_concurrent and grade_timeout_s must be positive")


@dataclass
class ApiContext:
    """What route modules share: the settings, the concurrency limit, things to close at exit."""

    settings: ApiSettings
    _limit: asyncio.Semaphore | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)

    async def limited(self, work: Callable[[], Awaitable[Any]]) -> Any:
        """Runs ``work()`` under the server's concurrency limit."""
        if self._limit is None:  # created here: a semaphore binds to the server's event loop
            self._limit = asyncio.Semaphore(self.settings.max_concurrent)
        async with self._limit:
            return await work()

    def on_close(self, closer: Callable[[], None]) -> None:
        """Registers something to release when the server stops (worker pools, clients)."""
        self._closers.append(closer)

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_app(settings: ApiSettings, route_modules: Sequence[str] = ROUTE_MODULES) -> Any:
    """Builds the ASGI app: each route module's router under ``/v1``, errors in OpenAI's shape.

    Args:
        settings: Token, limits and working directory.
        route_modules: Modules with ``routes(ctx) -> APIRouter`` (default ``ROUTE_MODULES``).

    Returns:
        The app, wrapped in the token and body-size guard. ``app.context`` is the ApiContext
        (``app.context.close()`` releases what the routes hold).
    """
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException
    from starlette.responses import Response

    context = ApiContext(settings)
    app = FastAPI(title="rftkit api", docs_url=None, redoc_url=None, openapi_url=None)
    for name in route_modules:
        app.include_router(importlib.import_module(name).routes(context), prefix="/v1")

    def answer(error: ApiError) -> Response:
        return Response(error.encode(), status_code=error.status, media_type="application/json")

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return answer(exc)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
        message = str(exc.detail)
        if exc.status_code == 404:
            message = f"no route {request.method} {request.url.path} on this server (rftkit api)"
        return answer(ApiError(exc.status_code, message, type=kind))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first: Mapping[str, Any] = exc.errors()[0] if exc.errors() else {}
        param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        return answer(ApiError(400, f"{first.get('msg', 'invalid request')} at {param}", param=param))

    guarded = _Guard(app, settings.token, settings.max_body_bytes)
    guarded.context = context
    return guarded


class _Guard:
    """ASGI middleware: 401 on a missing or wrong bearer token, 413 on a body over ``limit``.

    Both are decided from the headers where they can be, so a client that is refused never
    has its body read; a body that streams past the limit is cut off at the limit.
    """

    context: ApiContext

    def __init__(self, app: ASGIApp, token: str | None, limit: int) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode() if token else None
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        if self.expected is not None and not hmac.compare_digest(headers.get(b"authorization", b""), self.expected):
            error = ApiError(401, "missing or wrong API key (Authorization: Bearer <token>)", code="invalid_api_key")
            await _send_error(send, error)
            return
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await _send_error(send, self._too_large())
            return
        seen = 0
        rejected = False

        async def limited_receive() -> Message:
            nonlocal seen, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    rejected = True
                    await _send_error(send, self._too_large())
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

    def _too_large(self) -> ApiError:
        return ApiError(413, f"request body over {self.limit} bytes", code="request_too_large")


async def _send_error(send: Send, error: ApiError) -> None:
    body = error.encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if error.status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def make_server(settings: ApiSettings, *, host: str, port: int, log_level: str = "info") -> Any:
    """A configured ``uvicorn.Server`` (not started) for ``create_app(settings)``.

    Raises:
        ValueError: ``host`` is not a loopback address and no token is set.
    """
    import uvicorn

    if settings.token is None and not is_loopback(host):
        raise ValueError(f"binding {host} (outside loopback) needs --token: anyone who reaches it could run code")
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_graceful_shutdown=30,
        access_log=False,
    )
    server = uvicorn.Server(config)
    server.context = app.context  # type: ignore[attr-defined]  # what cli closes after run()
    return server
