"""The limits of rftkit's HTTP servers (rl_adapter._http_limits) against a real uvicorn on 127.0.0.1:
idle and dripping connections, health while saturated, samples per request, deep JSON, bad shapes,
the token before the body."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from test_server import HANG_S, running

from graders import Grader, Sample, Score
from rl_adapter import GraderBackend, MockBackend, ServerLimits

# Short limits, so a test waits on a timeout for about a second, not the production ten.
QUICK = ServerLimits(header_timeout_s=0.5, body_timeout_s=1.0, keep_alive_s=1.0)


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _connect(url: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", _port(url)), timeout=HANG_S)
    return sock


def _closed_by_server(sock: socket.socket) -> bool:
    """Waits (bounded) for the server to close ``sock``; True when it did."""
    sock.settimeout(HANG_S)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _raw_request(url: str, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Sends ``head`` (+ ``body``) on a fresh socket and reads the whole answer; returns (status, body)."""
    with _connect(url) as sock:
        sock.sendall(head + body)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    answer = b"".join(chunks)
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2]


def test_idle_connections_do_not_lock_out_health_or_grading(exact: Grader) -> None:
    # 300 connections that never send a byte: past the old 256-connection limit that answered 503.
    with running(GraderBackend(exact), limits=QUICK) as url, ExitStack() as stack:
        idle = [stack.enter_context(_connect(url)) for _ in range(300)]
        assert httpx.get(f"{url}/health", timeout=HANG_S).status_code == 200
        graded = httpx.post(f"{url}/grade", json={"samples": ["4"], "items": [{"answer": "4"}]}, timeout=HANG_S)
        assert graded.status_code == 200 and graded.json()["scores"][0]["value"] == 1.0
        # ... and the server drops them once the header timeout passes.
        assert all(_closed_by_server(sock) for sock in idle[:5])


def test_a_client_dripping_its_headers_is_cut_off(exact: Grader) -> None:
    with running(GraderBackend(exact), limits=QUICK) as url, _connect(url) as sock:
        sock.sendall(b"POST /grade HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        closed = False
        # uvicorn's keep-alive timer stops at the first byte, so only a header deadline ends this.
        while time.monotonic() - started < 10 * QUICK.header_timeout_s:
            try:
                sock.sendall(b"X")
            except OSError:
                closed = True
                break
            time.sleep(0.1)
        assert closed or _closed_by_server(sock)


def test_a_client_dripping_its_body_gets_408(exact: Grader) -> None:
    with running(GraderBackend(exact), limits=QUICK) as url, _connect(url) as sock:
        sock.sendall(b"POST /grade HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        sock.settimeout(HANG_S)
        answer = b""
        for _ in range(20):  # one byte every 0.1 s would take 10 s for the body
            try:
                sock.sendall(b" ")
            except OSError:
                break
            time.sleep(0.1)
            try:
                sock.setblocking(False)
                answer += sock.recv(4096)
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)
            if answer:
                break
        assert answer.startswith(b"HTTP/1.1 408"), answer[:100]


def test_health_answers_while_every_grading_slot_is_busy() -> None:
    grading, release = threading.Event(), threading.Event()

    def blocked(sample: Sample, item: Mapping[str, Any]) -> Score:
        grading.set()
        release.wait(HANG_S)
        return Score(1.0)

    statuses: list[int] = []
    with running(MockBackend(blocked), limits=ServerLimits(max_concurrent=1, max_pending=0)) as url:

        def post() -> None:
            statuses.append(httpx.post(f"{url}/grade", json={"samples": ["a"]}, timeout=HANG_S).status_code)

        first = threading.Thread(target=post)
        first.start()
        assert grading.wait(HANG_S)
        second = httpx.post(f"{url}/grade", json={"samples": ["a"]}, timeout=HANG_S)
        health = httpx.get(f"{url}/health", timeout=HANG_S)
        release.set()
        first.join(HANG_S)
    assert second.status_code == 503 and "busy" in second.text
    assert health.status_code == 200 and statuses == [200]


def test_samples_per_request_are_capped_with_413(exact: Grader) -> None:
    with running(GraderBackend(exact)) as url:
        # 3 bytes a sample: a small body that used to cost gigabytes once parsed and graded.
        many = b'{"samples": [' + b",".join([b'""'] * (ServerLimits.max_samples + 1)) + b"]}"
        answer = httpx.post(f"{url}/grade", content=many, headers={"content-type": "application/json"})
        assert answer.status_code == 413 and "limit is 4096" in answer.text
        queries = {"query": [""] * (ServerLimits.max_samples + 1)}
        assert httpx.post(f"{url}/get_reward", json=queries).status_code == 413
        at_limit = httpx.post(f"{url}/grade", json={"samples": ["4"] * ServerLimits.max_samples}, timeout=HANG_S)
        assert at_limit.status_code == 200 and len(at_limit.json()["scores"]) == ServerLimits.max_samples


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deeper-than-the-parser"),
        pytest.param(b'{"samples": ["a"], "items": [' + b'{"a": ' * 200 + b"1" + b"}" * 200 + b"]}", id="deep-item"),
        pytest.param(b'{"samples": [{"choices": 7}]}', id="choices-not-a-list"),
        pytest.param(b'{"samples": [{"choices": [{"message": 3}]}]}', id="message-not-an-object"),
        pytest.param(b'{"samples": 7}', id="samples-not-a-list"),
        pytest.param(b"[1, 2]", id="not-an-object"),
        pytest.param(b"\xff\xfe", id="not-json"),
    ],
)
@pytest.mark.parametrize("path", ["/grade", "/get_reward"])
def test_bad_bodies_get_422_not_500(exact: Grader, path: str, body: bytes) -> None:
    if path == "/get_reward" and b"samples" in body:
        body = body.replace(b'"samples"', b'"query"')
    errors: list[logging.LogRecord] = []
    with running(GraderBackend(exact)) as url:
        # uvicorn configured its loggers when the server was made: listen on its error logger now.
        handler = _Collect(errors)
        logging.getLogger("uvicorn.error").addHandler(handler)
        try:
            answer = httpx.post(f"{url}{path}", content=body, headers={"content-type": "application/json"})
        finally:
            logging.getLogger("uvicorn.error").removeHandler(handler)
    assert answer.status_code == 422, answer.text
    assert not [r.getMessage() for r in errors if r.levelno >= logging.ERROR or r.exc_info]


class _Collect(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


def test_the_token_is_checked_before_the_body_is_read(exact: Grader) -> None:
    with running(GraderBackend(exact), token="s3cret") as url:
        for path in ("/grade", "/get_reward"):
            # A body that is not even JSON still gets 401, not 422: nothing of it was parsed.
            wrong = httpx.post(f"{url}{path}", content=b"{{{", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
        # A body announced but never sent: the answer comes at once, without waiting for it.
        head = b"POST /get_reward HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"
        status, detail = _raw_request(url, head)
        assert status == 401 and json.loads(detail) == {"detail": "missing or wrong bearer token"}
        ok = httpx.post(f"{url}/get_reward", json={"query": ["4"], "labels": ["4"]},
                        headers={"Authorization": "Bearer s3cret"})  # fmt: skip
        assert ok.status_code == 200


def test_past_max_connections_idle_ones_are_closed_first(exact: Grader) -> None:
    limits = ServerLimits(max_connections=10)
    with running(GraderBackend(exact), limits=limits) as url, ExitStack() as stack:
        idle = [stack.enter_context(_connect(url)) for _ in range(30)]
        assert httpx.get(f"{url}/health", timeout=HANG_S).status_code == 200
        # The oldest idle connections made room for the newer ones.
        assert _closed_by_server(idle[0])


def test_rftkit_serve_passes_its_limits_on(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import rl_adapter._server
    from rl_adapter.cli import main

    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"type": "string_check", "name": "s", "operation": "eq",
                                "input": "{{sample.output_text}}", "reference": "x"}))  # fmt: skip
    served: list[Any] = []
    monkeypatch.setattr(rl_adapter._server, "serve", lambda backend, **options: served.append(options))
    assert main("serve", [str(spec), "--max-samples", "7", "--max-body-bytes", "1000"]) == 0
    limits = served[0]["limits"]
    assert (limits.max_samples, limits.max_body_bytes, limits.max_concurrent) == (7, 1000, ServerLimits.max_concurrent)
