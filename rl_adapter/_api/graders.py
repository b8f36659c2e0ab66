"""``POST /v1/fine_tuning/alpha/graders/validate`` and ``/run``, as the hosted graders API.

* ``validate`` takes ``{grader}`` and echoes it when it compiles; otherwise 400 with rftkit's
  message (the JSON path inside the grader) and ``param`` set to that path.
* ``run`` takes ``{grader, model_sample, item}`` (or the older ``reference_answer`` in place of
  ``item``, seen by templates as ``{{item.reference_answer}}``) and answers the hosted
  response: ``reward``, ``metadata`` with every error flag, ``sub_rewards`` and
  ``model_grader_token_usage_per_model``. A sample that cannot be graded (a crashing or hanging
  python grader, a judge that fails) is a 200 with reward 0 and its flag set, never a 500.

Graders are compiled once per distinct spec and kept (least recently used first out), so the
python sandbox's workers and the judges' HTTP clients stay warm between calls, as a script
that calls ``run`` in a loop expects. Model graders reach the server that
``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` (or the spec's ``base_url`` / ``api_key_env``) name,
through ``graders.client`` with its retries and a cache in the server's working directory.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request, Response

from graders import (
    ErrorKind,
    Grader,
    Sample,
    Score,
    ScoreBatch,
    SpecError,
    compile_spec,
    format_path,
    hosted_run_response,
)
from rl_adapter._api.app import ApiContext
from rl_adapter._api.errors import ApiError
from rl_adapter._http_limits import RequestRejected, ServerLimits, parse_json_body

# Distinct grader specs kept compiled; each python one holds warm sandbox workers.
MAX_COMPILED = 16
# Bodies smaller than this are parsed on the event loop: a thread hand-off costs more than they do.
PARSE_ON_LOOP_BYTES = 64 * 1024
# The older run body's field, exposed to templates under this item key.
REFERENCE_ANSWER = "reference_answer"


class CompiledGraders:
    """Compiled graders by spec, least recently used dropped (and closed) past ``size``."""

    def __init__(self, size: int = MAX_COMPILED) -> None:
        self.size = size
        self._graders: OrderedDict[str, Grader] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, spec: Any) -> Grader:
        """The compiled grader for ``spec`` (spec JSON), compiled on first use.

        Raises:
            ApiError: 400 when the spec is not a JSON object or does not compile.
        """
        key = json.dumps(spec, sort_keys=True, ensure_ascii=False)
        with self._lock:
            grader = self._graders.get(key)
            if grader is not None:
                self._graders.move_to_end(key)
                return grader
        grader = compile_grader(spec)
        evicted: list[Grader] = []
        with self._lock:
            self._graders[key] = grader
            while len(self._graders) > self.size:
                evicted.append(self._graders.popitem(last=False)[1])
        for old in evicted:
            old.close()
        return grader

    def close(self) -> None:
        with self._lock:
            graders, self._graders = list(self._graders.values()), OrderedDict()
        for grader in graders:
            grader.close()


def compile_grader(spec: Any) -> Grader:
    """Compiles ``spec``; a bad one is a 400 whose ``param`` is its JSON path in the request."""
    if not isinstance(spec, Mapping):
        raise ApiError(400, f"'grader' must be an object, not {_json_type(spec)}", param="grader")
    try:
        return compile_spec(spec)
    except SpecError as exc:
        param = format_path(("grader", *exc.path))
        raise ApiError(400, f"invalid grader: {exc}", param=param, code="invalid_grader") from None


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


async def _body(request: Request, limits: ServerLimits) -> dict[str, Any]:
    raw = await request.body()
    try:
        if len(raw) < PARSE_ON_LOOP_BYTES:
            body = parse_json_body(raw, limits)
        else:  # parsing megabytes on the event loop would hold up every other request
            body = await asyncio.to_thread(parse_json_body, raw, limits)
    except RequestRejected as exc:
        raise ApiError(400, f"the request body is not usable JSON: {exc.detail}") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"the request body must be a JSON object, not {_json_type(body)}")
    if "grader" not in body:
        raise ApiError(400, "missing required parameter: 'grader'", param="grader", code="missing_required_parameter")
    return body


def _run_inputs(body: Mapping[str, Any]) -> tuple[Sample, dict[str, Any]]:
    model_sample = body.get("model_sample")
    if model_sample is None:
        raise ApiError(400, "missing required parameter: 'model_sample'", param="model_sample")
    if not isinstance(model_sample, str):
        raise ApiError(400, f"'model_sample' must be a string, not {_json_type(model_sample)}", param="model_sample")
    item = body.get("item")
    if item is None:
        item = {}
    if not isinstance(item, dict):
        raise ApiError(400, f"'item' must be an object, not {_json_type(item)}", param="item")
    if REFERENCE_ANSWER in body:
        item = {REFERENCE_ANSWER: body[REFERENCE_ANSWER], **item}
    return Sample(model_sample), item


async def _grade(grader: Grader, sample: Sample, item: dict[str, Any], timeout_s: float) -> ScoreBatch:
    if grader.is_async:
        work = grader.agrade_batch([sample], [item])
    else:
        work = asyncio.to_thread(grader.grade_batch, [sample], [item])
    try:
        scores = await asyncio.wait_for(work, timeout_s)
    except TimeoutError:
        message = f"grading took over {timeout_s:g} s (the server's limit)"
        return ScoreBatch([Score.failure(ErrorKind.UNRESPONSIVE_REWARD_ERROR, message)])
    return scores if isinstance(scores, ScoreBatch) else ScoreBatch(scores)


def _json(body: dict[str, Any]) -> Response:
    # Plain JSON already: FastAPI's jsonable_encoder walk would only cost time on every call.
    return Response(json.dumps(body), media_type="application/json")


def routes(ctx: ApiContext) -> APIRouter:
    """The graders router; mounted under ``/v1`` by ``create_app``."""
    router = APIRouter()
    compiled = CompiledGraders()
    ctx.on_close(compiled.close)

    @router.post("/fine_tuning/alpha/graders/validate")
    async def validate(request: Request) -> Response:
        body = await _body(request, ctx.settings.limits)
        compiled.get(body["grader"])
        return _json({"grader": body["grader"]})

    @router.post("/fine_tuning/alpha/graders/run")
    async def run(request: Request) -> Response:
        body = await _body(request, ctx.settings.limits)
        sample, item = _run_inputs(body)
        grader = compiled.get(body["grader"])
        start = time.perf_counter()
        scores = await ctx.limited(lambda: _grade(grader, sample, item, ctx.settings.grade_timeout_s))
        return _json(hosted_run_response(grader, scores[0], scores.usage, time.perf_counter() - start))

    return router
