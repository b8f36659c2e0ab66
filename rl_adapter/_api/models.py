"""``/v1/models`` and ``/v1/chat/completions``: the models the server's jobs made, sampled.

A hosted script ends by trying what it trained: ``client.chat.completions.create(
model=job.fine_tuned_model, ...)``, or with a checkpoint's ``fine_tuned_model_checkpoint``. Both
are model ids here: every succeeded job's model and every kept checkpoint of any job. The prompt
goes through the model's chat template as in training (a ``response_format`` adds the same
schema instruction, and ``reasoning_effort`` the same thinking switch; the job's own effort when
the request has none), and is sampled with transformers on this machine, one request at a time.
Only models this server's jobs wrote can be loaded: an id is never read as an arbitrary path.
"""

# No ``from __future__ import annotations``: FastAPI reads the handlers' annotations (Request).
import asyncio
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rl_adapter._api.app import ApiContext
from rl_adapter._api.errors import ApiError, json_body
from rl_adapter._api.jobs import view
from rl_adapter._api.store import Store, page, store_of
from rl_adapter._errors import JobConfigError
from rl_adapter._job._outputs import CHECKPOINTS_FILE, read_jsonl
from rl_adapter._job._validation import sampling_options

# Request fields of the chat completions API that are honoured.
_SAMPLING = {"model", "messages", "n", "max_tokens", "max_completion_tokens", "temperature", "top_p", "seed",
             "response_format", "reasoning_effort", "stream"}
# Fields that change nothing about the answer here: accepted and not used.
_IGNORED = {"user", "metadata", "store", "service_tier"}
_ROLES = ("system", "developer", "user", "assistant")
# Upper bounds of one request, so that one call cannot hold the server for hours.
MAX_N = 64
MAX_NEW_TOKENS = 4096


@dataclass(frozen=True)
class LocalModel:
    """A model a job of this server wrote, under the id the API shows for it."""

    id: str
    path: Path
    created: int
    tiny: bool  # built from ``tiny``: its tokenizer is loaded as saved
    max_new_tokens: int  # the job's max_completion_length: a request's default
    reasoning_effort: str  # the job's: a request's default


def job_models(store: Store) -> list[LocalModel]:
    """Every succeeded job's model and every kept checkpoint, newest job first."""
    models = []
    for row in store.jobs():
        job = view(store, row)
        hyper = row.config["hyperparameters"]
        trained_as = (row.local_model == "tiny", int(hyper["max_completion_length"]), str(hyper["reasoning_effort"]))
        final = job.get("fine_tuned_model")
        if row.status == "succeeded" and final:
            models.append(LocalModel(final, Path(final), int(job.get("finished_at") or job["created_at"]), *trained_as))
        for checkpoint in read_jsonl(store.run_dir(row.id) / CHECKPOINTS_FILE):
            path = checkpoint["fine_tuned_model_checkpoint"]
            if Path(path).is_dir():
                models.append(LocalModel(path, Path(path), int(checkpoint["created_at"]), *trained_as))
    return models


def _model_object(model: LocalModel) -> dict[str, Any]:
    return {"id": model.id, "object": "model", "created": model.created, "owned_by": "rftkit"}


def routes(context: ApiContext) -> Any:
    """The models list and retrieve, and chat completions from those models."""
    from fastapi import APIRouter, Request

    router = APIRouter()
    sampler = _Sampler()
    context.on_close(sampler.close)

    def find(model_id: Any, param: str) -> LocalModel:
        for model in job_models(store_of(context)):
            if model.id == model_id:
                return model
        raise ApiError(404, f"The model {model_id!r} does not exist: use a fine_tuned_model or a "
                            "fine_tuned_model_checkpoint of this server's jobs (GET /v1/models lists them)",
                       param=param, code="model_not_found")

    @router.get("/models")
    def list_models(after: str | None = None, limit: int | None = None) -> dict[str, Any]:
        return page([_model_object(m) for m in job_models(store_of(context))], after=after, limit=limit)

    @router.get("/models/{model_id:path}")
    def retrieve(model_id: str) -> dict[str, Any]:
        return _model_object(find(model_id, "model"))

    @router.post("/chat/completions")
    async def chat(request: Request) -> dict[str, Any]:
        body = await json_body(request)
        ask = parse_chat_request(body)
        model = find(ask.model, "model")
        return await context.limited(lambda: asyncio.to_thread(sampler.complete, model, ask))

    return router


@dataclass(frozen=True)
class ChatRequest:
    """A checked chat completions request."""

    model: str
    messages: list[dict[str, str]]
    n: int
    max_new_tokens: int | None
    temperature: float
    top_p: float
    seed: int | None
    schema: dict[str, Any] | None
    reasoning_effort: str | None


def parse_chat_request(body: Any) -> ChatRequest:
    """Checks a chat completions body.

    Raises:
        ApiError: 400 naming the field at fault (unknown, unsupported or out of range).
    """
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    for key in body:
        if key not in _SAMPLING and key not in _IGNORED:
            raise ApiError(400, f"{key} is not supported by rftkit api (supported: {', '.join(sorted(_SAMPLING))})",
                           param=key)
    if body.get("stream"):
        raise ApiError(400, "stream is not supported by rftkit api: ask without stream", param="stream")
    if not isinstance(body.get("model"), str):
        raise ApiError(400, "model must be a string: a fine_tuned_model of this server's jobs", param="model")
    messages = _messages(body.get("messages"))
    n = _number(body, "n", int, 1, 1, MAX_N)
    key = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
    new_tokens = _number(body, key, int, None, 1, MAX_NEW_TOKENS)
    temperature = _number(body, "temperature", float, 1.0, 0.0, 2.0)
    top_p = _number(body, "top_p", float, 1.0, 0.0, 1.0)
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ApiError(400, "seed must be an integer", param="seed")
    effort = body.get("reasoning_effort")
    if effort is not None and not isinstance(effort, str):
        raise ApiError(400, "reasoning_effort must be a string", param="reasoning_effort")
    return ChatRequest(body["model"], messages, n, new_tokens, temperature, top_p, seed,
                       _schema(body.get("response_format")), effort)


def _messages(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise ApiError(400, "messages must be a non-empty list of messages", param="messages")
    out = []
    for i, message in enumerate(value):
        where = f"messages.{i}"
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise ApiError(400, f"each message needs a role, one of {', '.join(_ROLES)}", param=f"{where}.role")
        content = message.get("content")
        if isinstance(content, list):  # content parts: only text parts can be read here
            if not all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
                       for p in content):
                raise ApiError(400, "only text content parts are supported", param=f"{where}.content")
            content = "".join(p["text"] for p in content)
        if not isinstance(content, str):
            raise ApiError(400, "content must be a string or a list of text parts", param=f"{where}.content")
        out.append({"role": message["role"], "content": content})
    if out[-1]["role"] != "user":
        raise ApiError(400, "the last message must come from the user", param=f"messages.{len(out) - 1}.role")
    return out


def _number(body: Mapping[str, Any], key: str, kind: type, default: Any, low: float, high: float) -> Any:
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not isinstance(value, int)):
        raise ApiError(400, f"{key} must be {'an integer' if kind is int else 'a number'}", param=key)
    if not low <= value <= high:
        raise ApiError(400, f"{key} must be between {low:g} and {high:g}, not {value}", param=key)
    return kind(value)


def _schema(response_format: Any) -> dict[str, Any] | None:
    from rl_adapter._job._format import schema_of

    if response_format is None or (isinstance(response_format, dict) and response_format.get("type") == "text"):
        return None
    if not isinstance(response_format, dict):
        raise ApiError(400, "response_format must be an object", param="response_format")
    try:
        return schema_of(response_format)
    except JobConfigError as exc:
        tail = exc.path[3:]  # schema_of names the job body's method.reinforcement.response_format
        raise ApiError(400, str(exc), param=".".join(["response_format", *map(str, tail)])) from None


class _Sampler:
    """Loads one model at a time (the last one asked for) and samples from it, one request at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: tuple[Path, Any, Any] | None = None

    def close(self) -> None:
        with self._lock:
            self._loaded = None

    def _load(self, model: LocalModel) -> tuple[Any, Any]:
        from transformers import AutoModelForCausalLM

        from rl_adapter._job._train import load_tokenizer

        if self._loaded is None or self._loaded[0] != model.path:
            self._loaded = None  # free the previous model before loading the next
            self._loaded = (model.path, AutoModelForCausalLM.from_pretrained(model.path),
                            load_tokenizer(model.path, tiny=model.tiny))
        return self._loaded[1], self._loaded[2]

    def complete(self, model: LocalModel, ask: ChatRequest) -> dict[str, Any]:
        """A ``chat.completion`` object for ``ask``, sampled from ``model``."""
        from rl_adapter._job._auto import resolve_thinking
        from rl_adapter._job._data import render_prompts

        new_tokens = ask.max_new_tokens or model.max_new_tokens
        with self._lock:
            lm, tokenizer = self._load(model)
            thinking, _ = resolve_thinking(ask.reasoning_effort or model.reasoning_effort,
                                           getattr(tokenizer, "chat_template", None))
            prompt = render_prompts([{"messages": ask.messages}], tokenizer, template_kwargs=thinking,
                                    schema=ask.schema)[0]
            prompt_tokens, samples = _sample(lm, tokenizer, prompt, ask, new_tokens)
        choices = [{"index": i, "message": {"role": "assistant", "content": text, "refusal": None},
                    "finish_reason": "stop" if ended else "length", "logprobs": None}
                   for i, (text, _, ended) in enumerate(samples)]
        completion_tokens = sum(count for _, count, _ in samples)
        return {"id": f"chatcmpl-{secrets.token_hex(12)}", "object": "chat.completion", "created": int(time.time()),
                "model": model.id, "choices": choices,
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens}}


def _sample(lm: Any, tokenizer: Any, prompt: str, ask: ChatRequest,
            new_tokens: int) -> tuple[int, list[tuple[str, int, bool]]]:
    """The prompt's token count, and ``ask.n`` samples: (text, completion tokens, ended by EOS)."""
    import torch

    enc = tokenizer([prompt], return_tensors="pt", add_special_tokens=False)
    options = sampling_options(greedy=ask.temperature == 0, temperature=ask.temperature, top_p=ask.top_p)
    if ask.seed is not None:
        torch.manual_seed(ask.seed)
    with torch.no_grad():
        generated = lm.generate(**enc, max_new_tokens=new_tokens, num_return_sequences=ask.n,
                                pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, **options)
    stops = {tokenizer.eos_token_id, tokenizer.pad_token_id} - {None}
    samples = []
    for row in generated[:, enc["input_ids"].shape[1]:].tolist():
        end = next((i for i, token in enumerate(row) if token in stops), None)
        kept = row if end is None else row[:end]
        samples.append((tokenizer.decode(kept, skip_special_tokens=True), len(kept) + (end is not None),
                        end is not None))
    return int(enc["input_ids"].shape[1]), samples
