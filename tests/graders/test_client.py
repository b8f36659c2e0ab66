"""graders.client against a real HTTP server on 127.0.0.1, through the real openai client."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import judge_support
import pytest

from graders.client import (
    Cache,
    CallLimitReached,
    ChatClient,
    ChatRequest,
    ClientSettings,
    ModelCallError,
    Usage,
    configure,
    limit_calls,
    settings,
    track_usage,
)
from graders.testing.openai_server import FakeOpenAIServer, Reply

pytestmark = pytest.mark.usefixtures("isolated_settings")

HI = [{"role": "user", "content": "Hi"}]
FAST = {"backoff_base": 0.01, "timeout": 5.0}


def _numbered(model: str, i: int) -> ChatRequest:
    return ChatRequest(model, [{"role": "user", "content": str(i)}])


def test_request_body_choices_and_usage(server: FakeOpenAIServer) -> None:
    server.reply_fn = lambda request: f"echo: {request.prompt}"
    request = ChatRequest(
        "judge-1", HI, n=3, temperature=0.5, top_p=0.9, seed=7, max_completion_tokens=50, reasoning_effort="low"
    )
    with ChatClient(base_url=server.url, **FAST) as client:
        reply = client.complete_sync(request)
    assert reply.texts == ["echo: Hi"] * 3 and reply.text == "echo: Hi"
    assert not reply.cached and reply.attempts == 1 and reply.refusal is None
    assert server.chat_requests[0].headers["content-type"] == "application/json"
    body = server.chat_requests[0].body
    assert body == {
        "model": "judge-1",
        "messages": HI,
        "n": 3,
        "temperature": 0.5,
        "top_p": 0.9,
        "seed": 7,
        "max_completion_tokens": 50,
        "reasoning_effort": "low",
    }
    assert reply.usage.prompt_tokens == 1 and reply.usage.completion_tokens == 3 * 3
    assert client.usage == {"judge-1": Usage(1, 9, 10, 0, calls=1, cache_hits=0)}


def test_unset_sampling_params_are_not_sent(server: FakeOpenAIServer) -> None:
    with ChatClient(base_url=server.url) as client:
        client.complete_sync(ChatRequest("m", HI))
    assert server.chat_requests[0].body == {"model": "m", "messages": HI}


def test_refusal_is_reported(server: FakeOpenAIServer) -> None:
    server.script(Reply.refused("no"))
    with ChatClient(base_url=server.url) as client:
        reply = client.complete_sync(ChatRequest("m", HI))
    assert reply.refusal == "no" and reply.text == ""


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(Reply.error(500), id="500"),
        pytest.param(Reply.error(503), id="503"),
        pytest.param(Reply.error(429), id="429-no-retry-after"),
        pytest.param(Reply.truncated("{}"), id="truncated-body"),
        pytest.param(Reply.raw("<html>bad gateway</html>"), id="non-json-body"),
        pytest.param(Reply.raw('{"id": "x"}'), id="json-but-not-a-completion"),
    ],
)
def test_transient_faults_are_retried(server: FakeOpenAIServer, fault: Reply) -> None:
    server.script(fault, fault)
    server.reply_fn = lambda request: "fine"
    with ChatClient(base_url=server.url, max_retries=3, **FAST) as client:
        reply = client.complete_sync(ChatRequest("m", HI))
    assert reply.text == "fine" and reply.attempts == 3
    assert len(server.chat_requests) == 3


def test_gives_up_after_max_retries_with_the_last_error(server: FakeOpenAIServer) -> None:
    server.reply_fn = lambda request: Reply.error(502, "upstream down")
    with ChatClient(base_url=server.url, max_retries=2, **FAST) as client:
        with pytest.raises(ModelCallError) as info:
            client.complete_sync(ChatRequest("m", HI))
    error = info.value
    assert (error.kind, error.status, error.attempts) == ("server_error", 502, 3)
    assert "upstream down" in str(error) and "after 3 attempts" in str(error)
    assert len(server.chat_requests) == 3


def test_client_errors_are_not_retried(server: FakeOpenAIServer) -> None:
    server.script(Reply.error(400, "unknown parameter"))
    with ChatClient(base_url=server.url, max_retries=5, **FAST) as client:
        with pytest.raises(ModelCallError) as info:
            client.complete_sync(ChatRequest("m", HI))
    assert (info.value.kind, info.value.status, info.value.attempts) == ("rejected", 400, 1)
    assert len(server.chat_requests) == 1


def test_retry_after_seconds_is_honoured(server: FakeOpenAIServer) -> None:
    server.script(Reply.error(429, retry_after=1))
    with ChatClient(base_url=server.url, max_retries=2, backoff_base=0.0001) as client:
        start = time.monotonic()
        reply = client.complete_sync(ChatRequest("m", HI))
        elapsed = time.monotonic() - start
    first, second = server.chat_requests
    assert reply.attempts == 2
    assert second.received - first.received >= 0.95
    assert elapsed < 10  # generous: "did not hang"


def test_retry_after_ms_is_honoured(server: FakeOpenAIServer) -> None:
    server.script(Reply.error(429, retry_after_ms=300), Reply.error(503, retry_after_ms=300))
    with ChatClient(base_url=server.url, max_retries=3, backoff_base=0.0001) as client:
        client.complete_sync(ChatRequest("m", HI))
    times = [r.received for r in server.chat_requests]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.29 and times[2] - times[1] >= 0.29


def test_retry_after_past_the_limit_fails_at_once(server: FakeOpenAIServer) -> None:
    server.script(Reply.error(429, retry_after=3600))
    with ChatClient(base_url=server.url, max_retries=5, **FAST) as client:
        with pytest.raises(ModelCallError) as info:
            client.complete_sync(ChatRequest("m", HI))
    assert info.value.kind == "rate_limited" and info.value.retry_after == 3600
    assert "retry budget" in str(info.value)
    assert len(server.chat_requests) == 1


def test_retry_budget_bounds_the_total_time(server: FakeOpenAIServer) -> None:
    server.reply_fn = lambda request: Reply.error(500)
    with ChatClient(base_url=server.url, max_retries=50, backoff_base=0.2, retry_budget=1.0) as client:
        start = time.monotonic()
        with pytest.raises(ModelCallError) as info:
            client.complete_sync(ChatRequest("m", HI))
    assert time.monotonic() - start < 1.5
    assert 2 <= info.value.attempts < 50 and "retry budget of 1 s spent" in str(info.value)


def test_slow_answer_times_out_and_is_retried(server: FakeOpenAIServer) -> None:
    server.script(Reply.slow(3.0, "late"))
    server.reply_fn = lambda request: "on time"
    with ChatClient(base_url=server.url, timeout=0.3, max_retries=1, backoff_base=0.01) as client:
        start = time.monotonic()
        reply = client.complete_sync(ChatRequest("m", HI))
    assert reply.text == "on time" and reply.attempts == 2
    assert time.monotonic() - start < 2.5


def test_timeout_every_time_is_an_error(server: FakeOpenAIServer) -> None:
    server.reply_fn = lambda request: Reply.slow(3.0)
    with ChatClient(base_url=server.url, timeout=0.2, max_retries=1, backoff_base=0.01) as client:
        with pytest.raises(ModelCallError) as info:
            client.complete_sync(ChatRequest("m", HI))
    assert info.value.kind == "timeout" and info.value.attempts == 2


def test_unreachable_server_is_a_connection_error() -> None:
    with FakeOpenAIServer() as gone:
        url = gone.url
    with ChatClient(base_url=url, max_retries=1, **FAST) as client:
        with pytest.raises(ModelCallError) as info:
            client.complete_sync(ChatRequest("m", HI))
    assert info.value.kind == "connection_error" and info.value.attempts == 2


def test_a_dead_server_fails_the_rest_of_a_judge_batch_at_once(caplog: pytest.LogCaptureFixture) -> None:
    from graders import ErrorKind, compile_spec

    with FakeOpenAIServer() as gone:
        url = gone.url  # nothing listens here any more
    judge = compile_spec(judge_support.score_spec(gone))
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="graders.client"):
        scores = judge.grade_batch([str(i) for i in range(64)], [{"reference": "x"}] * 64)
    elapsed = time.monotonic() - started
    judge.close()
    assert {s.error.kind if s.error else None for s in scores} == {ErrorKind.MODEL_GRADER_SERVER_ERROR}
    assert all("connection_error" in s.error.message for s in scores if s.error)
    # The default retry schedule alone sleeps at least 15.75 s per call (0.25 + 0.5 + ... + 8).
    assert elapsed < 10, elapsed
    opened = [r for r in caplog.records if "attempts in a row got no answer" in r.getMessage()]
    assert len(opened) == 1 and url in opened[0].getMessage()


def test_a_server_that_never_answers_fails_the_rest_of_a_batch_at_once(caplog: pytest.LogCaptureFixture) -> None:
    from graders import ErrorKind, compile_spec

    # Accepts connections (the kernel's backlog does) and never reads or answers: a hung server.
    with socket.create_server(("127.0.0.1", 0), backlog=128) as hung:
        url = f"http://127.0.0.1:{hung.getsockname()[1]}/v1"
        configure(timeout=0.3, max_concurrency=8)
        judge = compile_spec({"type": "score_model", "model": "m", "input": judge_support.RUBRIC, "base_url": url})
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="graders.client"):
            scores = judge.grade_batch([str(i) for i in range(64)], [{"reference": "x"}] * 64)
        elapsed = time.monotonic() - started
        judge.close()
    assert {s.error.kind if s.error else None for s in scores} == {ErrorKind.MODEL_GRADER_SERVER_ERROR}
    # Without the breaker: 8 waves of 8 calls, each 7 attempts of 0.3 s plus 15.75 s of backoff at least.
    assert elapsed < 10, elapsed
    assert sum("attempts in a row got no answer" in r.getMessage() for r in caplog.records) == 1


def test_the_breaker_lets_calls_through_again_after_its_cooldown(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import graders._llm.breaker

    monkeypatch.setattr(graders._llm.breaker, "DEFAULT_COOLDOWN_S", 0.3)
    server.stop()  # down for a while ...

    async def batch(client: ChatClient) -> list[Any]:
        return await asyncio.gather(*(client.complete(_numbered("m", i)) for i in range(16)), return_exceptions=True)

    with caplog.at_level(logging.WARNING, logger="graders.client"):
        with ChatClient(base_url=server.url, max_retries=0, **FAST) as client:
            down = asyncio.run(batch(client))
            assert all(isinstance(e, ModelCallError) and e.kind == "connection_error" for e in down)
            assert any(e.attempts == 0 for e in down)  # refused by the open breaker, never sent
            server.start()  # ... and back, on the same port
            time.sleep(0.4)
            up = asyncio.run(batch(client))
    assert all(not isinstance(c, BaseException) and c.text for c in up)
    assert any("answers again" in r.getMessage() for r in caplog.records)


KEY = "sk-test-0123456789abcdef"


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply.error(401, f"Incorrect API key provided: {KEY}"), id="error-echoes-the-key"),
        pytest.param(Reply.error(400, f"headers: {{'Authorization': 'Bearer {KEY}'}}"), id="error-echoes-headers"),
        pytest.param(Reply.error(400, "rejected Authorization: Bearer someone-elses-token"), id="other-bearer"),
        pytest.param(Reply.text(f"you sent Authorization: Bearer {KEY}"), id="completion-echoes-the-key"),
    ],
)
def test_keys_echoed_by_a_server_are_kept_out_of_scores_cache_and_logs(
    server: FakeOpenAIServer,
    reply: Reply,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    isolated_settings: Path,
) -> None:
    from graders import compile_spec

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    server.reply_fn = lambda request: reply
    judge = compile_spec(judge_support.score_spec(server))
    with caplog.at_level(logging.DEBUG):
        score = judge.grade("4", {"reference": "4"})
    judge.close()
    assert server.chat_requests[0].headers["authorization"] == f"Bearer {KEY}"  # the key was sent ...
    assert score.error is not None  # ... every reply above fails the grade, and quotes the server
    stored = json.dumps(score.to_dict()) + caplog.text
    stored += isolated_settings.read_text("latin-1") if isolated_settings.exists() else ""
    assert KEY not in stored and "someone-elses-token" not in stored
    assert "[redacted]" in json.dumps(score.to_dict())


def test_an_oversized_reply_is_an_error_and_never_cached(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, isolated_settings: Path
) -> None:
    import graders.client

    monkeypatch.setattr(graders.client, "MAX_REPLY_BYTES", 100_000)
    server.reply_fn = lambda request: Reply.text("x" * (1_000_000 if request.prompt == "Hi" else 10))
    with ChatClient(base_url=server.url, max_retries=0, cache=Cache(isolated_settings), **FAST) as client:
        with pytest.raises(ModelCallError) as info:
            client.complete_sync(ChatRequest("m", HI))
        small = client.complete_sync(ChatRequest("m", [{"role": "user", "content": "again"}]))  # still works after
    assert info.value.kind == "bad_response" and "100000 byte limit" in info.value.message
    assert small.text == "x" * 10
    assert isolated_settings.stat().st_size < 500_000


def test_concurrency_is_bounded(server: FakeOpenAIServer) -> None:
    server.latency = 0.05

    async def many(client: ChatClient) -> None:
        await asyncio.gather(*(client.complete(_numbered("m", i)) for i in range(24)))

    with ChatClient(base_url=server.url, max_concurrency=4) as client:
        asyncio.run(many(client))
    assert len(server.chat_requests) == 24
    assert server.max_in_flight == 4


def test_retry_sleeps_do_not_hold_a_concurrency_slot(server: FakeOpenAIServer) -> None:
    # One request waits out a Retry-After while the only slot serves the other.
    server.script(Reply.error(429, retry_after=1))
    server.reply_fn = lambda request: "ok"

    async def both(client: ChatClient) -> None:
        first = asyncio.ensure_future(client.complete(ChatRequest("m", [{"role": "user", "content": "a"}])))
        await asyncio.sleep(0.2)
        start = time.monotonic()
        await client.complete(ChatRequest("m", [{"role": "user", "content": "b"}]))
        assert time.monotonic() - start < 0.7
        await first

    with ChatClient(base_url=server.url, max_concurrency=1, **FAST) as client:
        asyncio.run(both(client))


def test_cache_hit_makes_no_network_call(server: FakeOpenAIServer, tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c.sqlite")
    request = ChatRequest("m", HI, temperature=0.0)
    with ChatClient(base_url=server.url, cache=cache) as client:
        first = client.complete_sync(request)
        second = client.complete_sync(request)
    assert not first.cached and second.cached and second.attempts == 0
    assert second.texts == first.texts and second.usage == first.usage
    assert len(server.chat_requests) == 1
    assert client.usage["m"].calls == 2 and client.usage["m"].cache_hits == 1
    assert client.usage["m"].total_tokens == first.usage.total_tokens  # a hit costs nothing
    # A fresh client and a fresh connection to the same file still hit.
    with ChatClient(base_url=server.url, cache=Cache(tmp_path / "c.sqlite")) as again:
        assert again.complete_sync(request).cached
    assert len(server.chat_requests) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"model": "other"},
        {"messages": [{"role": "user", "content": "Hi!"}]},
        {"temperature": 0.1},
        {"n": 2},
        {"seed": 1},
        {"response_format": {"type": "json_object"}},
        {"version": "grader-v2"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_cache_key_covers_the_whole_request(server: FakeOpenAIServer, tmp_path: Path, change: dict) -> None:
    base = ChatRequest("m", HI, temperature=0.0)
    with ChatClient(base_url=server.url, cache=Cache(tmp_path / "c.sqlite")) as client:
        client.complete_sync(base)
        assert not client.complete_sync(base.replace(**change)).cached
    assert len(server.chat_requests) == 2


def test_cache_is_per_endpoint(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c.sqlite")
    with FakeOpenAIServer(lambda r: "one") as one, FakeOpenAIServer(lambda r: "two") as two:
        with ChatClient(base_url=one.url, cache=cache) as a, ChatClient(base_url=two.url, cache=cache) as b:
            assert a.complete_sync(ChatRequest("m", HI)).text == "one"
            assert b.complete_sync(ChatRequest("m", HI)).text == "two"


@pytest.mark.parametrize("kind", ["directory", "not-a-database"])
def test_an_unusable_cache_file_never_costs_the_answer(
    server: FakeOpenAIServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    path = tmp_path / "c.sqlite"
    if kind == "directory":
        path.mkdir()
    else:
        path.write_bytes(b"this is not a database" * 100)
    with ChatClient(base_url=server.url, cache=Cache(path)) as client:
        for _ in range(2):
            completion = client.complete_sync(ChatRequest("m", HI))
            assert completion.text and not completion.cached
        assert client.cached_many([ChatRequest("m", HI)]) == [None]
    assert len(server.chat_requests) == 2
    assert sum("going on without it" in r.getMessage() for r in caplog.records) == 1  # logged once


def test_failed_calls_are_not_cached(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.script(Reply.error(400))
    with ChatClient(base_url=server.url, cache=Cache(tmp_path / "c.sqlite")) as client:
        with pytest.raises(ModelCallError):
            client.complete_sync(ChatRequest("m", HI))
        assert not client.complete_sync(ChatRequest("m", HI)).cached


_WRITER = """
import sys
from graders.client import Cache
cache = Cache(sys.argv[1])
for i in range(150):
    cache.put(f"{sys.argv[2]}-{i}", "m", {"choices": [{"text": str(i)}]})
    assert cache.get(f"{sys.argv[2]}-{i}") is not None
"""


def test_cache_takes_concurrent_writers_from_several_processes(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    Cache(path).put("warm", "m", {})  # create the schema once, as the first run would
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(path), f"p{n}"], stderr=subprocess.PIPE, text=True)
        for n in range(3)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    assert len(Cache(path)) == 1 + 3 * 150


def test_cache_journal_is_wal(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c.sqlite")
    cache.put("k", "m", {"a": 1})
    import sqlite3

    with sqlite3.connect(tmp_path / "c.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert cache.get("k") == {"a": 1} and cache.get("nope") is None
    cache.clear()
    assert len(cache) == 0


def test_key_is_sent_but_never_logged_cached_or_shown(
    server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-test-5ecret-do-not-leak-0123456789"
    monkeypatch.setenv("JUDGE_KEY", secret)
    server.api_key = secret
    server.script(Reply.error(500), Reply.error(429, retry_after_ms=10))
    caplog.set_level(logging.DEBUG)
    with ChatClient(base_url=server.url, api_key_env="JUDGE_KEY", cache=Cache(tmp_path / "c.sqlite"), **FAST) as client:
        reply = client.complete_sync(ChatRequest("m", HI))
        shown = repr(client)
    assert reply.attempts == 3  # retried (and logged) with the key accepted
    assert server.chat_requests[-1].headers["authorization"] == f"Bearer {secret}"
    assert "retrying" in caplog.text
    assert secret not in caplog.text and secret not in shown and "JUDGE_KEY" in shown
    for file in tmp_path.iterdir():
        assert secret.encode() not in file.read_bytes(), file.name


def test_wrong_key_names_the_variable_not_the_key(server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGE_KEY", "sk-wrong-key-value")
    server.api_key = "sk-right"
    with ChatClient(base_url=server.url, api_key_env="JUDGE_KEY", **FAST) as client:
        with pytest.raises(ModelCallError) as info:
            client.complete_sync(ChatRequest("m", HI))
    assert info.value.kind == "rejected" and info.value.status == 401
    assert "$JUDGE_KEY" in str(info.value) and "sk-wrong-key-value" not in str(info.value)


def test_environment_endpoint_and_settings(server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    assert ChatClient().base_url == server.url
    assert ChatClient(base_url="http://elsewhere/v1/").base_url == "http://elsewhere/v1"
    configure(max_concurrency=3, cache=None)
    client = ChatClient.from_settings(base_url="http://spec/v1", api_key_env="SPEC_KEY")
    assert (client.base_url, client.api_key_env, client.max_concurrency, client.cache) == (
        "http://spec/v1",
        "SPEC_KEY",
        3,
        None,
    )
    configure(base_url=server.url, api_key_env="RUN_KEY")  # a run's settings beat the spec's
    client = ChatClient.from_settings(base_url="http://spec/v1", api_key_env="SPEC_KEY")
    assert (client.base_url, client.api_key_env) == (server.url, "RUN_KEY")
    assert configure(ClientSettings()).base_url == server.url


@pytest.mark.parametrize("bad", [{"max_concurrency": 0}, {"timeout": -1}, {"retry_budget": float("nan")},
                                 {"max_retries": -1}], ids=lambda bad: next(iter(bad)))
def test_configure_rejects_bad_limits_at_once(bad: dict[str, Any]) -> None:
    before = settings()
    with pytest.raises(ValueError, match="must be"):
        configure(**bad)
    assert settings() is before  # nothing changed


def test_default_cache_follows_the_environment(isolated_settings: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = ChatClient.from_settings()
    assert client.cache is not None and client.cache.path == isolated_settings.resolve()
    monkeypatch.setenv("RFTKIT_CACHE", "off")
    assert ChatClient.from_settings().cache is None


def test_sync_call_inside_a_running_event_loop(server: FakeOpenAIServer) -> None:
    async def notebook_cell(client: ChatClient) -> str:
        return client.complete_sync(ChatRequest("m", HI)).text  # a sync API called from async code

    server.reply_fn = lambda request: "from inside"
    with ChatClient(base_url=server.url) as client:
        assert asyncio.run(notebook_cell(client)) == "from inside"


def test_client_is_usable_from_successive_event_loops(server: FakeOpenAIServer) -> None:
    with ChatClient(base_url=server.url) as client:
        for _ in range(3):
            assert asyncio.run(client.complete(ChatRequest("m", HI))).text


def test_track_usage_keeps_concurrent_batches_apart(server: FakeOpenAIServer) -> None:
    async def batch(client: ChatClient, model: str, count: int) -> dict[str, Usage]:
        with track_usage() as meter:
            await asyncio.gather(*(client.complete(_numbered(model, i)) for i in range(count)))
        return meter.snapshot()

    async def both(client: ChatClient) -> tuple[dict[str, Usage], dict[str, Usage]]:
        return await asyncio.gather(batch(client, "a", 3), batch(client, "b", 5))  # type: ignore[return-value]

    with ChatClient(base_url=server.url) as client:
        first, second = asyncio.run(both(client))
    assert list(first) == ["a"] and first["a"].calls == 3
    assert list(second) == ["b"] and second["b"].calls == 5
    assert second["b"].prompt_tokens == 5


def test_invalid_client_settings_raise() -> None:
    with pytest.raises(ValueError, match="max_concurrency"):
        ChatClient(max_concurrency=0)
    with pytest.raises(ValueError, match="max_retries"):
        ChatClient(max_retries=-1)


def test_importing_the_client_does_not_import_openai() -> None:
    code = "import sys, graders, graders.client; print('openai' in sys.modules, 'httpx2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_client_and_cache_work_in_a_forked_child(server: FakeOpenAIServer, tmp_path: Path) -> None:
    # Trainers fork workers after the grader has been used in the parent.
    server.reply_fn = lambda request: f"to {request.prompt}"
    client = ChatClient(base_url=server.url, cache=Cache(tmp_path / "c.sqlite"))
    assert client.complete_sync(ChatRequest("m", HI)).text == "to Hi"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: "process is multi-threaded"
        pid = os.fork()
    if pid == 0:  # the child: report through the exit code only
        try:
            fresh = client.complete_sync(_numbered("m", 7))
            hit = client.complete_sync(ChatRequest("m", HI))
            os._exit(0 if fresh.text == "to 7" and not fresh.cached and hit.cached else 1)
        except BaseException:
            os._exit(2)
    deadline = time.monotonic() + 30
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung")
    assert os.waitstatus_to_exitcode(done[1]) == 0
    assert client.complete_sync(_numbered("m", 7)).cached  # the child's answer reached the shared cache
    client.close()


def test_limit_calls_stops_the_call_past_the_limit_and_cached_replies_are_free(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    with ChatClient(base_url=server.url, cache=Cache(tmp_path / "c.sqlite"), **FAST) as client:
        client.complete_sync(_numbered("m", 0))
        with limit_calls(2) as calls:
            client.complete_sync(_numbered("m", 0))  # a cache hit: free
            client.complete_sync(_numbered("m", 1))
            client.complete_sync(_numbered("m", 2))
            with pytest.raises(CallLimitReached, match="the limit of 2 model calls was reached"):
                client.complete_sync(_numbered("m", 3))
        assert calls.sent == 2 and len(server.chat_requests) == 3
        client.complete_sync(_numbered("m", 3))  # the limit ends with its block
    assert len(server.chat_requests) == 4
