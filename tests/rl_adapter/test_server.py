"""rftkit serve over real HTTP on 127.0.0.1: /health, /grade, OpenRLHF's /get_reward, limits, auth,
HttpBackend against a service that is down or slow, graceful shutdown of the real CLI process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from graders import Grader, Sample, Score, compile_spec
from rl_adapter import GraderBackend, HttpBackend, MockBackend, RewardBackend, trl_reward
from rl_adapter._server import make_server

# Generous bound for "did not hang"; a healthy call takes milliseconds.
HANG_S = 20


@contextmanager
def running(backend: RewardBackend, **options: Any) -> Iterator[str]:
    """Serves ``backend`` with uvicorn in a thread on a free 127.0.0.1 port; yields the base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = make_server(backend, host="127.0.0.1", port=port, log_level="warning", **options)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + HANG_S
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(HANG_S)
        sock.close()


def test_health_and_grade(exact: Grader) -> None:
    with running(GraderBackend(exact)) as url:
        health = httpx.get(f"{url}/health").json()
        assert health == {"status": "ok", "grader": "exact", "type": "string_check", "item_fields": ["answer"]}
        body = {"samples": ["4", {"output_text": "5"}, "x"], "items": [{"answer": "4"}, {"answer": "4"}, {}]}
        scores = httpx.post(f"{url}/grade", json=body).json()["scores"]
    assert [s["value"] for s in scores] == [1.0, 0.0, 0.0]
    assert scores[0]["details"]["input"] == "4"
    assert scores[2]["error"]["kind"] == "invalid_variable_error"


def test_openrlhf_remote_reward_protocol(exact: Grader) -> None:
    queries = ["<|user|>2+2?<|assistant|>4<|im_end|>", "<|user|>2+2?<|assistant|>5<|im_end|>"]
    prompts = ["<|user|>2+2?<|assistant|>"] * 2
    with running(GraderBackend(exact), label_field="answer") as url:
        # Exactly what OpenRLHF's remote reward client posts.
        answer = httpx.post(f"{url}/get_reward", json={"query": queries, "prompts": prompts, "labels": ["4", "4"]})
    body = answer.json()
    assert body["rewards"] == [1.0, 0.0] and body["scores"] == [1.0, 0.0]
    assert body["extra_logs"]["grader_error"] == [0.0, 0.0]


def test_bad_requests_get_4xx(exact: Grader) -> None:
    with running(GraderBackend(exact), max_body_bytes=1000) as url:
        assert httpx.post(f"{url}/grade", json={"samples": ["a"], "items": []}).status_code == 422
        assert httpx.post(f"{url}/grade", json={"samples": "a"}).status_code == 422
        too_big = httpx.post(f"{url}/grade", json={"samples": ["x" * 2000]})
        assert too_big.status_code == 413 and "over 1000 bytes" in too_big.text
        chunks = (b'{"samples": ["' + b"x" * 600, b"x" * 600 + b'"]}')
        streamed = httpx.post(f"{url}/grade", content=iter(chunks), headers={"content-type": "application/json"})
        assert streamed.status_code == 413


def test_bearer_token(exact: Grader) -> None:
    with running(GraderBackend(exact), token="s3cret") as url:
        assert httpx.get(f"{url}/health").status_code == 200
        assert httpx.post(f"{url}/grade", json={"samples": ["4"]}).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert httpx.post(f"{url}/grade", json={"samples": ["4"]}, headers=wrong).status_code == 401
        with HttpBackend(url, token="s3cret") as backend:
            ok = backend.score([Sample("4")], [{"answer": "4"}])
        assert ok[0].value == 1.0 and ok[0].error is None


def test_trl_reward_through_the_server_matches_in_process(multi: Grader) -> None:
    completions = ["cat", "a cat", "dog", ""]
    columns = {"answer": ["cat"] * 4, "keyword": ["cat"] * 4}
    local = trl_reward(multi)(prompts=["q"] * 4, completions=completions, **columns)
    with running(GraderBackend(multi)) as url:
        with HttpBackend(url) as backend:
            assert backend.item_fields == frozenset({"answer", "keyword"})
            remote = trl_reward(backend)(prompts=["q"] * 4, completions=completions, **columns)
    assert remote == local == [1.0, 0.5, 0.0, 0.0]


def test_partial_credit_through_the_compact_answer_matches_in_process() -> None:
    # The JSON child cannot read plain text (sample_parse_error), the text child still scores:
    # the multi keeps its formula's partial credit in-process, and must over HTTP too, where
    # the answer leaves out the evidence.
    check = {"type": "string_check", "reference": "{{item.answer}}"}
    grader = compile_spec(
        {
            "type": "multi",
            "name": "parts",
            "graders": {
                "text": {**check, "name": "text", "operation": "like", "input": "{{sample.output_text}}"},
                "json": {**check, "name": "json", "operation": "eq", "input": "{{sample.output_json.answer}}"},
            },
            "calculate_output": "0.5 * text + 0.5 * json",
        }
    )
    completions = ["the answer is cat", '{"answer": "cat"}', "dog"]
    columns = {"answer": ["cat"] * 3}
    local = trl_reward(grader, error_value=-1.0)(prompts=["q"] * 3, completions=completions, **columns)
    with running(GraderBackend(grader)) as url, HttpBackend(url) as backend:
        remote = trl_reward(backend, error_value=-1.0)(prompts=["q"] * 3, completions=completions, **columns)
    assert remote == local == [0.5, 1.0, 0.0]


def test_the_http_backend_scores_asynchronously_too(exact: Grader) -> None:
    with running(GraderBackend(exact)) as url, HttpBackend(url) as backend:
        assert isinstance(backend, RewardBackend)
        scores = asyncio.run(backend.ascore([Sample("4"), Sample("5")], [{"answer": "4"}] * 2))
    assert [s.value for s in scores] == [1.0, 0.0]


def test_a_service_that_is_down_scores_errors_and_training_goes_on() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with HttpBackend(f"http://127.0.0.1:{port}", timeout=2) as backend:
        reward = trl_reward(backend)
        started = time.monotonic()
        rewards = reward(prompts=["q", "q"], completions=["a", "b"], log_metric=lambda n, v: None)
    assert rewards == [0.0, 0.0] and time.monotonic() - started < HANG_S
    assert reward.stats["errors"] == {"reward_service_error": 2}


def test_a_slow_service_times_out_as_errors() -> None:
    def slow(sample: Sample, item: Mapping[str, Any]) -> Score:
        time.sleep(1.5)
        return Score(1.0)

    with running(MockBackend(slow)) as url:
        with HttpBackend(url, timeout=0.3) as backend:
            reward = trl_reward(backend)
            started = time.monotonic()
            rewards = reward(prompts=["q"], completions=["a"])
        assert rewards == [0.0] and time.monotonic() - started < 1.2
    assert reward.stats["errors"] == {"reward_service_timeout": 1}


def test_concurrent_batches_are_all_answered(exact: Grader) -> None:
    results: list[list[float]] = []
    with running(GraderBackend(exact), max_concurrent=2) as url:
        backend = HttpBackend(url)

        def work(i: int) -> None:  # one shared client, as trainer threads would share it
            scores = backend.score([Sample(str(i))] * 50, [{"answer": str(i)}] * 50)
            results.append([s.value for s in scores])

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(HANG_S)
        backend.close()
    assert len(results) == 8 and all(r == [1.0] * 50 for r in results)


def test_rftkit_serve_process_answers_and_shuts_down_gracefully(tmp_path: Path, exact: Grader) -> None:
    spec = tmp_path / "exact.json"
    spec.write_text(json.dumps(exact.spec.to_json()))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "RFTKIT_SERVE_TOKEN": "tok-123", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rftkit", "serve", str(spec), "--port", str(port), "--log-level", "info"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + HANG_S
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "rftkit serve did not come up"
            time.sleep(0.1)
        headers = {"Authorization": "Bearer tok-123"}
        answer = httpx.post(f"http://127.0.0.1:{port}/grade", json={"samples": ["4"], "items": [{"answer": "4"}]},
                            headers=headers)
        assert answer.json()["scores"][0]["value"] == 1.0
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=HANG_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    # uvicorn drains and re-raises SIGTERM; rftkit then closes the backend (sandbox workers, judge
    # clients) and exits 0 instead of dying of the signal before its cleanup.
    assert proc.returncode == 0, err[-2000:]
    assert "Shutting down" in err and "Finished server process" in err and "tok-123" not in err


def test_rftkit_serve_warns_when_labels_would_miss_the_grader(
    tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    import rl_adapter._server
    from rl_adapter.cli import main

    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"type": "string_check", "name": "s", "operation": "eq",
                                "input": "{{sample.output_text}}", "reference": "{{item.answer}}"}))  # fmt: skip
    served: list[Any] = []
    monkeypatch.setattr(rl_adapter._server, "serve", lambda backend, **options: served.append(options))
    assert main("serve", [str(spec)]) == 0
    assert "pass --label-field answer" in capsys.readouterr().err
    assert main("serve", [str(spec), "--label-field", "answer"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert [options["label_field"] for options in served] == ["label", "answer"]


def test_a_malformed_service_answer_scores_errors() -> None:
    """A proxy or another service answering /grade with the wrong shapes is an error Score, not an exception."""
    import http.server

    answers = [b'{"scores": [1]}', b'{"scores": [{"value": 1, "error": "boom"}]}', b'{"scores": 3}']

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            self.rfile.read(int(self.headers["Content-Length"]))
            body = answers.pop(0)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with HttpBackend(f"http://127.0.0.1:{server.server_address[1]}", timeout=HANG_S) as backend:
            for _ in range(3):
                (score,) = backend.score([Sample("a")], [{}])
                assert score.error is not None and score.error.kind == "reward_service_error"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def dripping_server(head: bytes, drip_every_s: float = 0.2) -> Iterator[str]:
    """A server that answers every request with ``head`` and then one more byte every ``drip_every_s``,
    forever: each read arrives well inside any per-read timeout, the answer never completes."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip(conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(head)
                while not stop.wait(drip_every_s):
                    conn.sendall(b"x")
            except OSError:
                pass  # the client gave up: that is the point

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=drip, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nX-Slow: ", id="dripping-headers"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{", id="dripping-body"),
    ],
)
def test_the_timeout_is_a_total_deadline_against_a_dripping_server(head: bytes) -> None:
    with dripping_server(head) as url, HttpBackend(url, timeout=1.0) as backend:
        started = time.monotonic()
        scores = backend.score([Sample("a"), Sample("b")], [{}, {}])
        elapsed = time.monotonic() - started
    # One byte every 0.2 s never trips a per-read timeout of 1 s: only a total deadline ends the call.
    assert [s.error.kind if s.error else None for s in scores] == ["reward_service_timeout"] * 2
    assert elapsed < 5.0


def test_absurd_rewards_from_the_service_are_errors() -> None:
    import http.server

    answer = b'{"scores": [{"value": 1e308}, {"value": Infinity}, {"value": NaN}, {"value": -2e6}, {"value": 0.5}]}'

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with HttpBackend(f"http://127.0.0.1:{server.server_address[1]}", timeout=HANG_S) as backend:
            scores = backend.score([Sample("a")] * 5, [{}] * 5)
    finally:
        server.shutdown()
        server.server_close()
    assert [s.error.kind if s.error else None for s in scores] == ["reward_service_error"] * 4 + [None]
    assert scores[0].value == 0.0 and "1e+308" in scores[0].error.message  # type: ignore[union-attr]
    assert scores[4].value == 0.5


def test_a_service_echoing_the_token_does_not_leak_it_into_scores() -> None:
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            self.rfile.read(int(self.headers["Content-Length"]))
            body = f"proxy error, you sent {self.headers['Authorization']}".encode()
            self.send_response(502)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with HttpBackend(url, token="tok-0123456789", timeout=HANG_S) as backend:
            (score,) = backend.score([Sample("a")], [{}])
    finally:
        server.shutdown()
        server.server_close()
    assert score.error is not None and "HTTP 502: proxy error" in score.error.message
    assert "tok-0123456789" not in score.error.message and "[redacted]" in score.error.message
