"""A fake OpenAI-compatible chat-completions server, over real HTTP on 127.0.0.1.

For tests and benchmarks of anything that calls a model: it speaks enough of the protocol for
the official ``openai`` client (``POST /v1/chat/completions``, ``GET /v1/models``), answers from
a script (a function of the request, plus a queue of one-off replies), waits a configurable
latency, injects faults (HTTP errors with ``Retry-After``, slow answers, truncated or non-JSON
bodies, refusals, servers that reject structured output), and logs every request.

It is a small HTTP/1.1 server on asyncio in a daemon thread (no framework): light enough that
a benchmark at 64 concurrent requests measures the client, not the server, and low-level
enough to send a body shorter than its ``Content-Length``.

Example:
    >>> with FakeOpenAIServer(lambda request: '{"result": 1.0, "steps": []}', latency=0.1) as server:
    ...     ...  # point a client at server.url
    ...     server.requests[0].messages  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

__all__ = ["FakeOpenAIServer", "RecordedRequest", "Reply"]

# A request head or body past these sizes is answered 413: the fake serves tests, not uploads.
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 32 * 1024 * 1024
# How long start() waits for the socket to be bound before giving up.
START_TIMEOUT = 10.0


@dataclass
class Reply:
    """What the server answers to one request.

    Attributes:
        content: The assistant message text of every choice (the same for each of ``n``).
        contents: One text per choice (overrides ``content``; its length sets the choice count).
        refusal: A refusal: the message gets ``refusal`` set and ``content`` null.
        status: HTTP status; anything but 200 sends an OpenAI-style error body.
        message: The error message for a non-200 status.
        headers: Extra response headers (``Retry-After``, ...).
        body: A raw body sent instead of the completion JSON (bytes or str, or a dict sent as
            JSON): for non-JSON and malformed answers.
        delay: Seconds to wait before answering; None uses the server's ``latency``.
        truncate: Send half the body under the full ``Content-Length``, then hang up.
        finish_reason: The choices' ``finish_reason``.
        usage: The ``usage`` object; None computes one (about 4 characters a token).
    """

    content: str | None = None
    contents: list[str | None] | None = None
    refusal: str | None = None
    status: int = 200
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | str | Mapping[str, Any] | None = None
    delay: float | None = None
    truncate: bool = False
    finish_reason: str = "stop"
    usage: Mapping[str, Any] | None = None

    @classmethod
    def text(cls, content: str, **kw: Any) -> Reply:
        """A completion whose message is ``content``."""
        return cls(content=content, **kw)

    @classmethod
    def json(cls, obj: Any, **kw: Any) -> Reply:
        """A completion whose message is ``obj`` as JSON text."""
        return cls(content=json.dumps(obj), **kw)

    @classmethod
    def refused(cls, reason: str = "I can't help with that.", **kw: Any) -> Reply:
        """A completion where the model refused."""
        return cls(refusal=reason, **kw)

    @classmethod
    def error(
        cls,
        status: int,
        message: str = "",
        *,
        retry_after: float | None = None,
        retry_after_ms: float | None = None,
        **kw: Any,
    ) -> Reply:
        """An HTTP error with an OpenAI-style body, optionally with Retry-After(-ms)."""
        headers = dict(kw.pop("headers", {}))
        if retry_after is not None:
            headers["Retry-After"] = f"{retry_after:g}"
        if retry_after_ms is not None:
            headers["retry-after-ms"] = f"{retry_after_ms:g}"
        return cls(status=status, message=message or HTTPStatus(status).phrase, headers=headers, **kw)

    @classmethod
    def raw(cls, body: bytes | str, **kw: Any) -> Reply:
        """A 200 whose body is ``body`` as it is (e.g. not JSON)."""
        return cls(body=body, **kw)

    @classmethod
    def truncated(cls, content: str = "", **kw: Any) -> Reply:
        """A completion cut off halfway through its body (the connection then closes)."""
        return cls(content=content, truncate=True, **kw)

    @classmethod
    def slow(cls, delay: float, content: str = "", **kw: Any) -> Reply:
        """A completion sent after ``delay`` seconds."""
        return cls(content=content, delay=delay, **kw)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received.

    Attributes:
        method, path: The request line.
        headers: Header names lower-cased (``authorization`` included: a test may check the
            key a client sent).
        body: The JSON body (None when absent or not JSON).
        received: ``time.monotonic()`` when the request arrived.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    received: float

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or []) if isinstance(self.body, dict) else []

    @property
    def prompt(self) -> str:
        """Every message's text content joined by newlines (handy for scripted replies)."""
        out = []
        for message in self.messages:
            content = message.get("content")
            if isinstance(content, str):
                out.append(content)
            elif isinstance(content, list):
                out.extend(str(part.get("text", "")) for part in content if isinstance(part, dict))
        return "\n".join(out)


ReplyFn = Callable[[RecordedRequest], "Reply | str | Mapping[str, Any]"]


class FakeOpenAIServer:
    """A scripted chat-completions server on 127.0.0.1 (use as a context manager).

    Args:
        reply: Answers a request: returns a Reply, a str (the message text) or a dict (sent
            as the message's JSON text). Default: ``{"result": 1.0, "steps": []}``.
        latency: Seconds every answer waits (a Reply's ``delay`` overrides it).
        structured_output: False makes the server reject ``response_format`` of type
            ``json_schema`` with a 400, as servers without structured output do.
        api_key: When set, requests without ``Authorization: Bearer <api_key>`` get a 401.
        port: 0 picks a free port.

    Attributes:
        url: The base URL to give a client (``http://127.0.0.1:PORT/v1``).
        requests: Every request received so far, in arrival order.
        max_in_flight: The most chat requests it was answering at once.
    """

    def __init__(
        self,
        reply: ReplyFn | None = None,
        *,
        latency: float = 0.0,
        structured_output: bool = True,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.reply_fn: ReplyFn = reply or (lambda request: {"result": 1.0, "steps": []})
        self.latency = latency
        self.structured_output = structured_output
        self.api_key = api_key
        self.host = host
        self.port = port
        self.max_in_flight = 0
        self._in_flight = 0
        self._script: deque[Reply | str | Mapping[str, Any]] = deque()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The requests to ``/v1/chat/completions``."""
        return [r for r in self.requests if r.path.rstrip("/").endswith("/chat/completions")]

    def script(self, *replies: Reply | str | Mapping[str, Any]) -> None:
        """Queues one-off replies, used in order before the reply function (fault injection)."""
        with self._lock:
            self._script.extend(replies)

    def reset(self) -> None:
        """Forgets logged requests, queued replies and the in-flight maximum."""
        with self._lock:
            self._requests.clear()
            self._script.clear()
            self.max_in_flight = self._in_flight

    # --- lifecycle ---

    def start(self) -> FakeOpenAIServer:
        """Starts serving in a daemon thread; returns once the port is bound."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._handle, self.host, self.port, backlog=1024)
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # noqa: BLE001 - reported to start()'s caller
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name="fake-openai-server", daemon=True)
        self._thread.start()
        if not ready.wait(START_TIMEOUT) or failure:
            self._thread = None
            raise RuntimeError(f"fake OpenAI server did not start: {failure[0] if failure else 'timeout'}")
        return self

    def stop(self) -> None:
        """Stops serving and closes every open connection."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(START_TIMEOUT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(START_TIMEOUT)
        self._loop = self._thread = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- HTTP ---

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False  # the client closed a kept-alive connection
        if len(head) > MAX_HEAD_BYTES:
            await self._send(writer, 413, {"error": {"message": "request head too large"}}, {})
            return False
        lines = head.decode("latin-1").split("\r\n")
        method, path, _version = (lines[0].split(" ", 2) + ["", ""])[:3]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        if length > MAX_BODY_BYTES:
            await self._send(writer, 413, {"error": {"message": "request body too large"}}, {})
            return False
        raw = await reader.readexactly(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = RecordedRequest(method, path, headers, body, time.monotonic())
        with self._lock:
            self._requests.append(request)
        keep_alive = headers.get("connection", "").lower() != "close"
        route = path.split("?", 1)[0].rstrip("/")
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            await self._send(writer, 401, _error_body("Incorrect API key provided", "invalid_api_key"), {})
        elif method == "GET" and route.endswith("/models"):
            await self._send(writer, 200, {"object": "list", "data": [{"id": "fake", "object": "model"}]}, {})
        elif method == "POST" and route.endswith("/chat/completions"):
            return await self._chat(request, writer) and keep_alive
        else:
            await self._send(writer, 404, _error_body(f"no route {method} {path}", "not_found"), {})
        return keep_alive

    async def _chat(self, request: RecordedRequest, writer: asyncio.StreamWriter) -> bool:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            reply = self._next_reply(request)
            delay = self.latency if reply.delay is None else reply.delay
            if delay > 0:
                await asyncio.sleep(delay)
        finally:
            with self._lock:
                self._in_flight -= 1
        if reply.status != 200:
            await self._send(writer, reply.status, _error_body(reply.message, "fake_error"), reply.headers)
            return True
        payload: Any = reply.body if reply.body is not None else _completion(request, reply)
        return await self._send(writer, 200, payload, reply.headers, truncate=reply.truncate)

    def _next_reply(self, request: RecordedRequest) -> Reply:
        body = request.body if isinstance(request.body, dict) else {}
        response_format = body.get("response_format")
        if (
            not self.structured_output
            and isinstance(response_format, dict)
            and response_format.get("type") == "json_schema"
        ):
            return Reply.error(400, "response_format of type 'json_schema' is not supported by this model")
        with self._lock:
            scripted = self._script.popleft() if self._script else None
        try:
            answer = scripted if scripted is not None else self.reply_fn(request)
        except Exception as exc:  # noqa: BLE001 - a broken script is a 500, as a real server's bug would be
            return Reply.error(500, f"reply function raised {type(exc).__name__}: {exc}")
        if isinstance(answer, Reply):
            return answer
        if isinstance(answer, str):
            return Reply(content=answer)
        return Reply(content=json.dumps(answer))

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        payload: Any,
        headers: Mapping[str, str],
        *,
        truncate: bool = False,
    ) -> bool:
        if isinstance(payload, bytes):
            data = payload
        elif isinstance(payload, str):
            data = payload.encode("utf-8")
        else:
            data = json.dumps(payload).encode("utf-8")
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        lines = [f"HTTP/1.1 {status} {phrase}", "Content-Type: application/json", f"Content-Length: {len(data)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if truncate:
            lines.append("Connection: close")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        writer.write(data[: len(data) // 2] if truncate else data)
        await writer.drain()
        return not truncate


def _error_body(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _tokens(text: str | None) -> int:
    return len(text) // 4 + 1 if text else 0


def _completion(request: RecordedRequest, reply: Reply) -> dict[str, Any]:
    body = request.body if isinstance(request.body, dict) else {}
    n = int(body.get("n") or 1)
    contents: list[str | None]
    if reply.contents is not None:
        contents = list(reply.contents)
    elif reply.refusal is not None:
        contents = [None] * n
    else:
        contents = [reply.content if reply.content is not None else ""] * n
    choices: list[dict[str, Any]] = [
        {
            "index": i,
            "message": {"role": "assistant", "content": text, "refusal": reply.refusal},
            "finish_reason": reply.finish_reason,
            "logprobs": None,
        }
        for i, text in enumerate(contents)
    ]
    usage = dict(reply.usage) if reply.usage is not None else None
    if usage is None:
        prompt = _tokens(request.prompt)
        completion = sum(_tokens(text or reply.refusal) for text in contents)
        usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    return {
        "id": f"chatcmpl-fake-{len(choices)}-{int(time.monotonic() * 1e6)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(body.get("model") or "fake"),
        "choices": choices,
        "usage": usage,
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m graders.testing.openai_server``: serve until interrupted, printing the URL.

    Every chat request gets ``--reply`` (default: a score_model result of 1.0) after
    ``--latency`` seconds. For trying a spec end to end, and for benchmarks that want the
    server in its own process.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m graders.testing.openai_server", description=main.__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--reply", default='{"steps": [], "result": 1.0}', help="the message text of every answer")
    args = parser.parse_args(argv)
    reply = args.reply
    with FakeOpenAIServer(lambda request: reply, latency=args.latency, port=args.port) as server:
        print(server.url, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
