"""The ``rftkit api`` app: route modules mounted under ``/v1``, behind the shared server limits.

Every answer that is not a success is an OpenAI-shaped error (``rl_adapter._api.errors``),
including 404 for a path no route module serves and the refusals of the limits middleware
(``rl_adapter._http_limits``: 401 for a missing or wrong token before the body is read, 413
for a body over the limit, 408 for one that does not arrive, 503 past the pending work), so
the official client raises its usual exceptions.
"""

from __future__ import annotations

import contextlib
import importlib
import ipaddress
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rl_adapter._api.errors import ApiError
from rl_adapter._http_limits import LimitsMiddleware, ServerLimits, WorkSlots, make_uvicorn_server

# The route modules of a default server; each has ``routes(ctx: ApiContext) -> APIRouter``.
ROUTE_MODULES: tuple[str, ...] = ("rl_adapter._api.graders", "rl_adapter._api.files", "rl_adapter._api.jobs",
                                  "rl_adapter._api.models")
# The hosted API's limits where it has them: a python grader's source is at most 256 kB, so a
# run body is that plus one sample and one item; 16 MiB leaves room for long items.
DEFAULT_LIMITS = ServerLimits(max_body_bytes=16 * 1024 * 1024)
# One grading may take this long before the answer is an unresponsive_reward_error: the hosted
# python limit (2 minutes) plus time to start a sandbox worker.
GRADE_TIMEOUT_S = 150.0
# How long api_server() waits for the server to start.
START_TIMEOUT_S = 60.0
_CODES = {401: "invalid_api_key", 408: "request_timeout", 413: "request_too_large", 503: "server_busy"}


@dataclass(frozen=True)
class ApiSettings:
    """How an ``rftkit api`` server runs.

    Attributes:
        workdir: Where route modules keep state (the judge cache, uploaded files, jobs).
        token: When set, every request needs ``Authorization: Bearer <token>`` (the client's
            ``api_key``). Required to bind outside loopback.
        limits: Body size and time, concurrency, connections (``rl_adapter._http_limits``).
        grade_timeout_s: Seconds one grading may take before it is answered as unresponsive.
        model_aliases: Hosted model names mapped to local models (``--model-alias NAME=LOCAL``)
            for fine-tuning jobs.
    """

    workdir: Path = Path("rftkit-api")
    token: str | None = None
    limits: ServerLimits = DEFAULT_LIMITS
    grade_timeout_s: float = GRADE_TIMEOUT_S
    model_aliases: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.grade_timeout_s > 0:
            raise ValueError(f"grade_timeout_s must be positive, not {self.grade_timeout_s}")
        if self.limits.max_body_bytes < 1 or self.limits.max_concurrent < 1:
            raise ValueError("max_body_bytes and max_concurrent must be positive")


@dataclass
class ApiContext:
    """What route modules share: the settings, the work slots, things to close at exit."""

    settings: ApiSettings
    slots: WorkSlots = field(init=False)
    _closers: list[Callable[[], None]] = field(default_factory=list)
    _shared: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.slots = WorkSlots(self.settings.limits.max_concurrent)

    async def limited(self, work: Callable[[], Awaitable[Any]]) -> Any:
        """Awaits ``work()`` once one of the server's work slots is free."""
        return await self.slots.run_async(work)

    def on_close(self, closer: Callable[[], None]) -> None:
        """Registers something to release when the server stops (worker pools, clients)."""
        self._closers.append(closer)

    def shared(self, name: str, make: Callable[[], Any]) -> Any:
        """One object per server that several route modules use (the files and jobs store)."""
        if name not in self._shared:
            self._shared[name] = make()
        return self._shared[name]

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


def openai_error_body(status: int, message: str) -> dict[str, Any]:
    """A refusal of the limits middleware in OpenAI's error shape."""
    return ApiError(status, message, code=_CODES.get(status)).body()


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

    guarded = LimitsMiddleware(
        app, settings.limits, token=settings.token, open_paths=frozenset(), error_body=openai_error_body
    )
    guarded.context = context  # type: ignore[attr-defined]  # what the server closes when it stops
    return guarded


def make_server(settings: ApiSettings, *, host: str, port: int, log_level: str = "info") -> Any:
    """A configured ``uvicorn.Server`` (not started) for ``create_app(settings)``.

    ``server.context.close()`` after ``server.run()`` releases what the routes hold.

    Raises:
        ValueError: ``host`` is not a loopback address and no token is set.
    """
    if settings.token is None and not is_loopback(host):
        raise ValueError(f"binding {host} (outside loopback) needs a token: anyone who reaches it could run code")
    app = create_app(settings)
    server = make_uvicorn_server(app, host=host, port=port, limits=settings.limits, log_level=log_level)
    server.context = app.context
    return server


@contextlib.contextmanager
def api_server(settings: ApiSettings | None = None, *, port: int = 0, log_level: str = "warning") -> Iterator[str]:
    """Runs ``rftkit api`` on 127.0.0.1 in a background thread; yields its base URL (``.../v1``).

    For notebooks, tests and scripts that want the hosted API's graders endpoints without a
    separate process. ``port=0`` picks a free port.

    Example:
        >>> import openai
        >>> with api_server() as base_url:                                   # doctest: +SKIP
        ...     client = openai.OpenAI(base_url=base_url, api_key="unused")
    """
    settings = settings or ApiSettings()
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    server = make_server(settings, host="127.0.0.1", port=sock.getsockname()[1], log_level=log_level)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="rftkit-api")
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("rftkit api did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT_S)
        server.context.close()
        sock.close()
