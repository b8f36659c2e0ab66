"""Sampling predictions from an OpenAI-compatible server: concurrent, saved as they arrive, resumable.

Every call goes through ``graders.client.ChatClient`` (the one module that talks to model
servers: concurrency limit, retries with backoff and Retry-After, timeouts, token accounting).
Each sample is appended to the predictions file the moment it arrives, so a run killed halfway
and restarted asks only for what is missing: an item with 2 of its 4 samples saved gets 2 more.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from collections import Counter
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from evalkit._dataset import PathLike, Row, item_source, read_jsonl, shard_of
from evalkit._errors import DatasetError, EvalError
from evalkit._progress import Progress
from evalkit._rundir import drop_torn_tail
from graders import Sample, Template

# Requests queued per concurrency slot: enough to keep every slot busy, few enough that a
# million-item dataset never becomes a million pending tasks.
QUEUE_PER_SLOT = 4
DEFAULT_CONCURRENCY = 16
# Failed items quoted in the error message.
MAX_FAILURES_SHOWN = 3
# A server that answers with fewer choices than ``n`` is asked again this many times per item.
MAX_ROUNDS = 8


@dataclass
class SampleStats:
    """What one ``sample`` call did.

    Attributes:
        path: The predictions file.
        saved: Samples written by this call.
        reused: Samples that were already in the file (a resumed run).
        items: Items that needed samples in this call.
        failures: ``(item id, error)`` for items whose request failed for good.
        usage: Tokens used, per model (``graders.client.Usage`` as a dict).
        skipped: Line numbers of the bad dataset lines skipped with ``skip_bad``.
    """

    path: Path
    saved: int = 0
    reused: int = 0
    items: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    skipped: list[int] = field(default_factory=list)


def sample(
    items: PathLike | Iterable[Row],
    out: PathLike,
    *,
    model: str,
    base_url: str | None = None,
    n: int = 1,
    prompt: str | None = None,
    system: str | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    max_tokens: int | None = None,
    seed: int | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    api_key_env: str = "OPENAI_API_KEY",
    skip_bad: bool = False,
    progress: bool = False,
    shard: tuple[int, int] | None = None,
) -> SampleStats:
    """Samples ``n`` completions per item and appends them to the predictions file ``out``.

    Args:
        items: The dataset (JSONL path or iterable of mappings).
        out: The predictions JSONL: lines ``{"id", "output_text", "sample"}`` (plus ``refusal``
            when the model refused). Samples already there are kept and not requested again.
        model: The model name the server knows.
        base_url: The server's ``/v1`` URL (default ``$OPENAI_BASE_URL``, else OpenAI's).
        n: Samples per item.
        prompt: A template (``"Solve: {{item.question}}"``) for the user message; without it
            each item must have a ``messages`` list (chat messages).
        system: A system message put before the messages.
        temperature, top_p, max_tokens, seed: Sampling parameters (None: the server's default).
        concurrency: Requests in flight.
        api_key_env: The environment variable holding the API key (local servers need none).
        skip_bad: Skip malformed dataset lines instead of raising.
        progress: Draw a progress bar on stderr.
        shard: ``(index, count)``: sample only the items of that shard (``evalkit.shard_of``), as
            ``evaluate(..., shard=...)`` grades them.

    Returns:
        SampleStats.

    Raises:
        DatasetError: A malformed line, or an item without messages (before any request).
        EvalError: Some requests failed for good; what arrived is saved, and rerunning the same
            call asks only for the missing samples.
        SpecError: ``prompt`` is not a valid template.
    """
    from graders.client import ChatClient

    if n < 1:
        raise EvalError(f"n must be at least 1, got {n}")
    source = item_source(items, skip_bad=skip_bad)
    template = None if prompt is None else Template.parse(prompt, ("prompt",))
    path = Path(out)
    have = _saved(path)
    stats = SampleStats(path, reused=sum(min(c, n) for c in have.values()), skipped=source.skipped)
    # Every prompt is built before the first request: a bad item fails the run up front.
    needed: list[tuple[str, list[dict[str, Any]], int]] = []
    for item_id, row in source.rows():
        if shard is not None and shard_of(item_id, shard[1]) != shard[0]:
            continue
        missing = n - have.get(item_id, 0)
        if missing > 0:
            needed.append((item_id, _messages(row, item_id, template, system, source.name), missing))
    stats.items = len(needed)
    if not needed:
        return stats
    params = {"temperature": temperature, "top_p": top_p, "seed": seed, "max_completion_tokens": max_tokens}
    path.parent.mkdir(parents=True, exist_ok=True)
    client = ChatClient(base_url=base_url, api_key_env=api_key_env, max_concurrency=concurrency, cache=None)
    bar = Progress(len(needed), enabled=progress, label="sampling")
    with path.open("a", encoding="utf-8") as handle:
        _run(_sample_all(client, model, params, needed, have, handle, stats, bar, concurrency))
    bar.close()
    stats.usage = {name: usage.to_dict() for name, usage in client.usage.items()}
    if stats.failures:
        shown = "; ".join(f"{item_id!r}: {error}" for item_id, error in stats.failures[:MAX_FAILURES_SHOWN])
        raise EvalError(
            f"{len(stats.failures)} of {stats.items} items could not be sampled ({shown}); "
            f"{stats.saved} samples were saved to {path}; rerun the same command to request only the missing ones"
        )
    return stats


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Runs the sampling loop; from inside a running event loop (a notebook), on a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result()


def _saved(path: Path) -> Counter[str]:
    """Samples per id already in the predictions file (a torn last line is dropped first)."""
    counts: Counter[str] = Counter()
    if not path.exists():
        return counts
    drop_torn_tail(path)
    for row in read_jsonl(path):
        if "id" in row:
            counts[str(row["id"])] += 1
    return counts


def _messages(
    row: Row, item_id: str, template: Template | None, system: str | None, source: str
) -> list[dict[str, Any]]:
    if template is not None:
        try:
            messages = [{"role": "user", "content": template.render(Sample(""), row)}]
        except Exception as exc:  # noqa: BLE001 - a template problem on one item, reported with its id
            raise DatasetError(f"item {item_id!r}: the prompt template failed: {exc}", source) from None
    else:
        given = row.get("messages")
        if not isinstance(given, list) or not all(isinstance(m, Mapping) and "role" in m for m in given) or not given:
            raise DatasetError(
                f"item {item_id!r} has no 'messages' list of chat messages; give a prompt template "
                "(--prompt 'Solve: {{item.question}}')",
                source,
            )
        messages = [dict(m) for m in given]
    if system:
        messages.insert(0, {"role": "system", "content": system})
    return messages


async def _sample_all(
    client: Any,
    model: str,
    params: dict[str, Any],
    needed: list[tuple[str, list[dict[str, Any]], int]],
    have: Mapping[str, int],
    handle: IO[str],
    stats: SampleStats,
    bar: Progress,
    concurrency: int,
) -> None:
    async with client:
        pending: set[asyncio.Task[None]] = set()
        for item_id, messages, missing in needed:
            task = asyncio.create_task(
                _one(client, model, params, item_id, messages, missing, have.get(item_id, 0), handle, stats)
            )
            pending.add(task)
            if len(pending) >= concurrency * QUEUE_PER_SLOT:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                bar.update(len(done))
        if pending:
            for next_done in asyncio.as_completed(pending):
                await next_done
                bar.update(1)


async def _one(
    client: Any,
    model: str,
    params: dict[str, Any],
    item_id: str,
    messages: list[dict[str, Any]],
    missing: int,
    offset: int,
    handle: IO[str],
    stats: SampleStats,
) -> None:
    from graders.client import ChatRequest, ModelCallError

    index = offset
    for _ in range(MAX_ROUNDS):
        if missing <= 0:
            return
        # ``version`` keeps repeated requests for the same item distinct (a cache never
        # answers sample 3 with sample 1's reply).
        request = ChatRequest(model, messages, n=missing, version=f"evalkit-sample/{index}", **params)
        try:
            completion = await client.complete(request)
        except ModelCallError as exc:
            stats.failures.append((item_id, str(exc)))
            return
        for choice in completion.choices[:missing]:
            line: dict[str, Any] = {"id": item_id, "output_text": choice.text or "", "sample": index}
            if choice.refusal is not None:
                line["refusal"] = choice.refusal
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            index += 1
            missing -= 1
            stats.saved += 1
        handle.flush()
    if missing > 0:
        stats.failures.append((item_id, f"the server sent too few choices ({missing} missing after {MAX_ROUNDS} asks)"))
