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
balancer. Its limits (token before body, body size and time, samples per request, idle
connections, work off the event loop, 422 for bad shapes) are ``rl_adapter._http_limits``'s,
shared with ``rftkit api``; ``docs/serve.md`` lists them. SIGTERM drains in-flight requests
before exiting.
"""


import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from graders import Sample, Score, without_evidence
from rl_adapter._backend import RewardBackend
from rl_adapter._http_limits import (
    LimitsMiddleware,
    RequestRejected,
    ServerLimits,
    WorkSlots,
    check_sample_count,
    install_handlers,
    make_uvicorn_server,
    parse_json_body,
    run_server,
)
from rl_adapter._openrlhf import DEFAULT_LABEL_FIELD, openrlhf_rewards

MAX_BODY_BYTES = ServerLimits.max_body_bytes
MAX_CONCURRENT_BATCHES = ServerLimits.max_concurrent
MAX_SAMPLES = ServerLimits.max_samples
TOKEN_ENV = "RFTKIT_SERVE_TOKEN"


def _compact(score: Score) -> dict[str, Any]:
    """A Score without its evidence: value, error and the ``multi`` parts (what a reward needs)."""
    return without_evidence(score).to_dict()


def _grade_body(raw: bytes, limits: ServerLimits) -> tuple[list[Sample], list[dict[str, Any]], bool]:
    """``POST /grade``'s body: ``samples`` (strings or sample objects) and ``items`` (objects).

    Parsed by hand, not through a pydantic model: at 1024 samples per call, model validation of the
    request and the response doubled the cost of grading itself.
    """
    body = parse_json_body(raw, limits)
    samples = body.get("samples") if isinstance(body, dict) else None
    if isinstance(samples, list):
        check_sample_count(len(samples), limits)  # first: the checks below walk every sample
    if not isinstance(samples, list) or not all(isinstance(s, str | dict) for s in samples):
        raise RequestRejected(422, "'samples' must be a list of strings or sample objects")
    items = body.get("items")
    if items is None:
        items = [{} for _ in samples]
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise RequestRejected(422, "'items' must be a list of objects")
    if len(items) != len(samples):
        raise RequestRejected(422, f"{len(samples)} samples but {len(items)} items")
    parsed = []
    for i, sample in enumerate(samples):
        try:
            parsed.append(Sample.of(sample))
        except Exception as exc:  # noqa: BLE001 - a malformed sample object is the request's fault: 422, not 500
            raise RequestRejected(422, f"samples[{i}]: {exc}") from None
    return parsed, items, body.get("details", True) is not False


def _openrlhf_body(raw: bytes, limits: ServerLimits) -> tuple[list[str], list[str], list[Any] | None]:
    """``POST /get_reward``'s body, as OpenRLHF's remote reward client posts it."""
    body = parse_json_body(raw, limits)
    if not isinstance(body, dict):
        raise RequestRejected(422, "body must be an object with 'query', 'prompts' and 'labels'")
    query = body.get("query")
    if isinstance(query, list):
        check_sample_count(len(query), limits)
    if not isinstance(query, list) or not all(isinstance(q, str) for q in query):
        raise RequestRejected(422, "'query' must be a list of strings")
    prompts = body.get("prompts")
    if prompts is None:
        prompts = [""] * len(query)
    if not isinstance(prompts, list) or not all(isinstance(p, str) for p in prompts):
        raise RequestRejected(422, "'prompts' must be a list of strings")
    labels = body.get("labels")
    if labels is not None and not isinstance(labels, list):
        raise RequestRejected(422, "'labels' must be a list")
    if len(prompts) != len(query) or (labels is not None and len(labels) != len(query)):
        raise RequestRejected(422, "query, prompts and labels must have the same length")
    return query, prompts, labels


def _scores_json(scores: Sequence[Score], details: bool) -> bytes:
    out = [score.to_dict() for score in scores] if details else [_compact(score) for score in scores]
    return json.dumps({"scores": out}, default=str).encode()


def create_app(
    backend: RewardBackend,
    *,
    token: str | None = None,
    limits: ServerLimits | None = None,
    max_body_bytes: int | None = None,
    max_concurrent: int | None = None,
    label_field: str = DEFAULT_LABEL_FIELD,
) -> Any:
    """Builds the ASGI app serving ``backend``.

    Args:
        backend: What grades (a ``GraderBackend`` for a spec).
        token: When set, ``/grade`` and ``/get_reward`` need ``Authorization: Bearer <token>``,
            checked before the body is read.
        limits: Body, sample, time and connection bounds (``ServerLimits()`` by default; see
            ``docs/serve.md``).
        max_body_bytes: Shorthand for ``limits.max_body_bytes``: larger bodies get 413.
        max_concurrent: Shorthand for ``limits.max_concurrent``: batches graded at the same time.
        label_field: The item field an OpenRLHF label is stored under.

    Returns:
        The app (a FastAPI instance wrapped in ``LimitsMiddleware``).
    """
    from fastapi import FastAPI, Request, Response

    limits = _with_overrides(limits, max_body_bytes=max_body_bytes, max_concurrent=max_concurrent)
    app = FastAPI(title="rftkit reward service", docs_url=None, redoc_url=None)
    install_handlers(app)
    slots = WorkSlots(limits.max_concurrent)
    ascore = getattr(backend, "ascore", None) if backend.is_async else None

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
    async def grade(request: Request) -> Response:
        raw = await request.body()
        if ascore is None:

            def run() -> bytes:
                samples, items, details = _grade_body(raw, limits)
                return _scores_json(backend.score(samples, items), details)

            payload = await slots.run(run)
        else:
            samples, items, details = await slots.run(lambda: _grade_body(raw, limits))
            scores = await slots.run_async(lambda: ascore(samples, items))
            payload = await slots.run(lambda: _scores_json(scores, details))
        return Response(payload, media_type="application/json")

    @app.post("/get_reward")
    async def get_reward(request: Request) -> Response:
        raw = await request.body()

        def run() -> bytes:
            query, prompts, labels = _openrlhf_body(raw, limits)
            answer = openrlhf_rewards(backend, query, prompts, labels, label_field=label_field)
            return json.dumps(answer, default=str).encode()

        return Response(await slots.run(run), media_type="application/json")

    return LimitsMiddleware(app, limits, token=token)


def _with_overrides(limits: ServerLimits | None, **overrides: int | None) -> ServerLimits:
    chosen = {name: value for name, value in overrides.items() if value is not None}
    return dataclasses.replace(limits or ServerLimits(), **chosen)


def serve(
    backend: RewardBackend,
    *,
    host: str = "127.0.0.1",
    port: int = 8900,
    log_level: str = "info",
    **options: Any,
) -> None:
    """Serves ``backend`` with uvicorn until SIGINT/SIGTERM, drains in-flight requests, closes it.

    ``options`` are ``create_app``'s (``token``, ``limits``, ``max_body_bytes``, ``max_concurrent``,
    ``label_field``).
    """
    server = make_server(backend, host=host, port=port, log_level=log_level, **options)
    try:
        run_server(server)
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()  # sandbox workers and judge clients go with the server


def make_server(backend: RewardBackend, *, host: str, port: int, log_level: str = "info", **options: Any) -> Any:
    """A configured ``uvicorn.Server`` (not started) for ``backend``; see ``create_app``."""
    limits = _with_overrides(
        options.pop("limits", None),
        max_body_bytes=options.pop("max_body_bytes", None),
        max_concurrent=options.pop("max_concurrent", None),
    )
    app = create_app(backend, limits=limits, **options)
    return make_uvicorn_server(app, host=host, port=port, limits=limits, log_level=log_level)
