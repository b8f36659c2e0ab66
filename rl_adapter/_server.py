"""``rftkit serve``: one grader as an HTTP reward service (FastAPI on uvicorn).

Endpoints:

* ``GET /health``: ``{"status": "ok", "grader", "type", "item_fields"}`` (no token needed, for
  load-balancer probes);
* ``POST /grade``: ``{"samples": [...], "items": [...]}`` -> ``{"scores": [Score.to_dict()...]}``,
  the generic batch endpoint (``HttpBackend`` speaks it); ``"details": false`` in the request
  leaves the evidence out of each Score but what a reward reads (``graders.without_evidence``);
* ``POST /get_reward``: OpenRLHF's remote reward protocol, ``{"query", "prompts", "labels"}`` ->
  ``{"rewards", "scores", "extra_logs"}``.

The service keeps no state between requests, so it scales out as replicas behind any load
balancer. Request bodies are size-limited, grading runs in worker threads under a concurrency
limit, uvicorn refuses connections past its own limit with 503, and SIGTERM drains in-flight
requests before exiting.
"""


import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from pydantic import BaseModel

from graders import Sample, Score, without_evidence
from rl_adapter._backend import RewardBackend
from rl_adapter._openrlhf import DEFAULT_LABEL_FIELD, openrlhf_rewards

# 64 MiB: a batch of 1024 long completions fits; a runaway client cannot exhaust memory.
MAX_BODY_BYTES = 64 * 1024 * 1024
# Batches graded at once: each holds a worker thread; more would only queue on the GIL.
MAX_CONCURRENT_BATCHES = 8
# Open connections past which uvicorn answers 503 instead of queueing without bound.
MAX_CONNECTIONS = 256
# On SIGTERM, in-flight batches get this long to finish before the process exits.
GRACEFUL_SHUTDOWN_S = 30
TOKEN_ENV = "RFTKIT_SERVE_TOKEN"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class OpenRLHFRequest(BaseModel):
    """``POST /get_reward``: what OpenRLHF's remote reward client posts."""

    query: list[str]
    prompts: list[str] | None = None
    labels: list[Any] | None = None


def _compact(score: Score) -> dict[str, Any]:
    """A Score without its evidence: value, error and the ``multi`` parts (what a reward needs)."""
    return without_evidence(score).to_dict()


def _grade_body(raw: bytes) -> dict[str, Any]:
    """``POST /grade``'s body: ``samples`` (strings or sample objects) and ``items`` (objects)."""
    from fastapi import HTTPException

    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise HTTPException(422, f"body is not JSON: {exc}") from None
    samples = body.get("samples") if isinstance(body, dict) else None
    if not isinstance(samples, list) or not all(isinstance(s, str | dict) for s in samples):
        raise HTTPException(422, "'samples' must be a list of strings or sample objects")
    items = body.get("items")
    if items is None:
        items = [{} for _ in samples]
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise HTTPException(422, "'items' must be a list of objects")
    if len(items) != len(samples):
        raise HTTPException(422, f"{len(samples)} samples but {len(items)} items")
    return {"samples": samples, "items": items, "details": body.get("details", True) is not False}


class _BodyLimit:
    """ASGI middleware: 413 for a body over ``limit`` bytes (declared or streamed)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", []):
            if key == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _reject(send, self.limit)
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
                    # Answer 413 now; the app then sees a disconnect and whatever it sends is dropped.
                    rejected = True
                    await _reject(send, self.limit)
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


async def _reject(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"request body over {limit} bytes"}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_app(
    backend: RewardBackend,
    *,
    token: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_concurrent: int = MAX_CONCURRENT_BATCHES,
    label_field: str = DEFAULT_LABEL_FIELD,
) -> Any:
    """Builds the ASGI app serving ``backend``.

    Args:
        backend: What grades (a ``GraderBackend`` for a spec).
        token: When set, ``/grade`` and ``/get_reward`` need ``Authorization: Bearer <token>``.
        max_body_bytes: Larger request bodies get 413.
        max_concurrent: Batches graded at the same time; more wait their turn.
        label_field: The item field an OpenRLHF label is stored under.

    Returns:
        The app (a FastAPI instance wrapped in the body-size middleware).
    """
    from fastapi import FastAPI, Header, HTTPException, Request, Response
    from starlette.concurrency import run_in_threadpool

    app = FastAPI(title="rftkit reward service", docs_url=None, redoc_url=None)
    app.state.limit = None  # the semaphore binds to the server's event loop on first use
    expected = f"Bearer {token}".encode() if token else None

    def authorize(authorization: str | None) -> None:
        if expected is None:
            return
        if authorization is None or not hmac.compare_digest(authorization.encode(), expected):
            raise HTTPException(status_code=401, detail="missing or wrong bearer token")

    async def run_limited(fn: Callable[[], Any], *, coroutine: bool = False) -> Any:
        if app.state.limit is None:
            app.state.limit = asyncio.Semaphore(max_concurrent)
        async with app.state.limit:
            if coroutine:
                return await fn()
            return await run_in_threadpool(fn)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        grader = getattr(backend, "grader", None)
        return {
            "status": "ok",
            "grader": backend.name,
            "type": getattr(getattr(grader, "spec", None), "type", None),
            "item_fields": sorted(backend.item_fields),
        }

    @app.post("/grade")
    async def grade(request: Request, authorization: str | None = Header(default=None)) -> Response:
        # Parsed by hand, not through a pydantic model: at 1024 samples per call, model
        # validation of the request and the response doubled the cost of grading itself.
        authorize(authorization)
        body = _grade_body(await request.body())
        samples = [Sample.of(s) for s in body["samples"]]
        items = body["items"]
        ascore = getattr(backend, "ascore", None)
        if backend.is_async and ascore is not None:
            scores: list[Score] = await run_limited(lambda: ascore(samples, items), coroutine=True)
        else:
            scores = await run_limited(lambda: backend.score(samples, items))
        out = [score.to_dict() for score in scores] if body["details"] else [_compact(score) for score in scores]
        payload = json.dumps({"scores": out}, default=str)
        return Response(payload, media_type="application/json")

    @app.post("/get_reward")
    async def get_reward(request: OpenRLHFRequest, authorization: str | None = Header(default=None)) -> Any:
        authorize(authorization)
        prompts = request.prompts if request.prompts is not None else [""] * len(request.query)
        labels = request.labels
        if len(prompts) != len(request.query) or (labels is not None and len(labels) != len(request.query)):
            raise HTTPException(422, "query, prompts and labels must have the same length")

        def run() -> Any:
            return openrlhf_rewards(backend, request.query, prompts, labels, label_field=label_field)

        return await run_limited(run)

    return _BodyLimit(app, max_body_bytes)


def serve(
    backend: RewardBackend,
    *,
    host: str = "127.0.0.1",
    port: int = 8900,
    token: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_concurrent: int = MAX_CONCURRENT_BATCHES,
    label_field: str = DEFAULT_LABEL_FIELD,
    log_level: str = "info",
) -> None:
    """Serves ``backend`` with uvicorn until SIGINT/SIGTERM, drains in-flight requests, closes it."""
    server = make_server(
        backend,
        host=host,
        port=port,
        token=token,
        max_body_bytes=max_body_bytes,
        max_concurrent=max_concurrent,
        label_field=label_field,
        log_level=log_level,
    )
    try:
        server.run()
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()  # sandbox workers and judge clients go with the server


def make_server(backend: RewardBackend, *, host: str, port: int, log_level: str = "info", **options: Any) -> Any:
    """A configured ``uvicorn.Server`` (not started) for ``backend``; see ``create_app``."""
    import uvicorn

    config = uvicorn.Config(
        create_app(backend, **options),
        host=host,
        port=port,
        log_level=log_level,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        access_log=False,  # per-request lines would dominate the logs of a training run
    )
    return uvicorn.Server(config)

