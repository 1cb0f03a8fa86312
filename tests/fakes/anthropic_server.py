"""A loopback fake of the Anthropic Messages API, for the real ``anthropic`` SDK.

An aiohttp server on 127.0.0.1 (random port) runs in its own thread with its own event
loop, so synchronous tests and async tests (whatever their loop) can both use it, and slow
replies (``delay_s``) never hold up other requests.

It speaks the wire format of ``POST /v1/messages`` as the SDK reads it: JSON replies, SSE
streams (``message_start``, ``content_block_start``, ``content_block_delta`` with
``text_delta`` / ``citations_delta`` / ``input_json_delta``, ``content_block_stop``,
``message_delta`` with usage, ``message_stop``), and error bodies
``{"type": "error", "error": {"type": ..., "message": ...}}`` with ``retry-after-ms`` so the
SDK's retries take a millisecond, and 200s the SDK cannot read (``Reply.fault``: the
connection dropped half way, an HTML page instead of JSON, a message of the wrong shape).
It checks what the real API would reject (missing ``x-api-key``, malformed search results,
a forced tool that was not offered) and records every request for assertions.

Replies come from a queue (``enqueue``), else from ``responder``; with neither, the request
gets a 400 naming what was missing, so a test that under-scripts fails loudly. The values
and reply builders live in ``anthropic_wire`` and are re-exported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import threading
import time
from collections import deque

from aiohttp import web

from tests.fakes.anthropic_wire import (
    ErrorReply,
    Fault,
    Json,
    RecordedRequest,
    Reply,
    Responder,
    Response,
    cited_reply,
    invalid,
    message_json,
    overloaded,
    rate_limited,
    refusal_reply,
    reply_body,
    request_problem,
    search_result_citation,
    server_error,
    stream_events,
    text_block,
    text_reply,
    tool_use_reply,
)


class FakeAnthropic:
    """``with FakeAnthropic() as api: client = AsyncAnthropic(api_key=api.api_key,
    base_url=api.base_url)``. Thread-safe: tests script it from any thread."""

    def __init__(self, api_key: str = "sk-ant-test-key") -> None:
        self.api_key = api_key
        self.responder: Responder | None = None
        self.requests: list[RecordedRequest] = []
        self.peak_in_flight = 0
        self._queue: deque[Response | Responder] = deque()
        self._lock = threading.Lock()
        self._in_flight = 0
        self._hold_until = 0
        self._hold_timeout_s = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._crowd: asyncio.Condition | None = None
        self._outage: ErrorReply | None = None
        self._outage_ends = float("inf")
        self.refused = 0  # requests answered with the outage's error
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def enqueue(self, *responses: Response | Responder) -> None:
        """Replies for the next requests, in order; a responder answers one request."""
        with self._lock:
            self._queue.extend(responses)

    def hold_until_concurrent(self, count: int, timeout_s: float = 10.0) -> None:
        """Hold every reply until ``count`` requests are in flight at once (or the time-out
        passes), so a test can show that requests are served concurrently."""
        self._hold_until, self._hold_timeout_s = count, timeout_s

    def fail_all(self, reply: ErrorReply, *, for_s: float | None = None) -> None:
        """An outage: every request gets ``reply`` (e.g. ``overloaded()``) until ``recover``
        is called or, with ``for_s``, until that many seconds have passed. Scripted replies
        wait in their queue meanwhile."""
        with self._lock:
            self._outage = reply
            self._outage_ends = float("inf") if for_s is None else time.monotonic() + for_s

    def recover(self) -> None:
        with self._lock:
            self._outage = None

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def __enter__(self) -> FakeAnthropic:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._serve, args=(sock, ready), name="fake-anthropic", daemon=True
        )
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake Anthropic server did not start within 10 s")

    def stop(self) -> None:
        if self._loop is None or self._thread is None or self._runner is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        asyncio.run_coroutine_threadsafe(_cancel_the_rest(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = self._thread = self._runner = None

    def _serve(self, sock: socket.socket, ready: threading.Event) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post("/v1/messages", self._messages)
        # Replies still held at stop (a long delay_s) are cut after a second, not a minute.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.SockSite(self._runner, sock).start())
        self._crowd = asyncio.Condition()
        ready.set()
        self._loop.run_forever()

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except json.JSONDecodeError as error:
            return _error(ErrorReply(400, "invalid_request_error", f"invalid JSON: {error}", None))
        recorded = RecordedRequest(
            request.method, request.path, {k.lower(): v for k, v in request.headers.items()}, body
        )
        with self._lock:
            self.requests.append(recorded)
        problem = self._check(recorded)
        if problem is not None:
            return _error(problem)
        response = self._next_response(recorded)
        self._arrive()
        try:
            await self._wait_for_crowd()
            if response.delay_s:
                await asyncio.sleep(response.delay_s)
            if isinstance(response, ErrorReply):
                return _error(response)
            if response.interrupted_by is not None and not recorded.stream:
                return _error(response.interrupted_by)
            message = message_json(response, recorded)
            return await _send(request, message, response, stream=recorded.stream)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _arrive(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)

    async def _wait_for_crowd(self) -> None:
        if not self._hold_until:
            return
        assert self._crowd is not None
        async with self._crowd:
            self._crowd.notify_all()
            # On time-out answer anyway: the test then sees peak_in_flight below its count.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._crowd.wait_for(lambda: self.peak_in_flight >= self._hold_until),
                    self._hold_timeout_s,
                )

    def _next_response(self, request: RecordedRequest) -> Response:
        with self._lock:
            if self._outage is not None and time.monotonic() < self._outage_ends:
                self.refused += 1
                return self._outage
            scripted = self._queue.popleft() if self._queue else self.responder
        if scripted is None:
            return ErrorReply(
                400,
                "invalid_request_error",
                f"fake Anthropic server: no reply scripted for request {len(self.requests)} "
                "(enqueue one or set .responder)",
                None,
            )
        return scripted(request) if callable(scripted) else scripted

    def _check(self, request: RecordedRequest) -> ErrorReply | None:
        if request.api_key != self.api_key:
            return ErrorReply(401, "authentication_error", "invalid x-api-key", None)
        if "anthropic-version" not in request.headers:
            return invalid("anthropic-version: header is required")
        problem = request_problem(request.body)
        return invalid(problem) if problem else None


async def _cancel_the_rest() -> None:
    """Handlers of replies the cleanup cut (their clients gone), so none outlives the loop."""
    rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in rest:
        task.cancel()
    await asyncio.gather(*rest, return_exceptions=True)


_request_ids = itertools.count(1)


def _request_id() -> dict[str, str]:
    return {"request-id": f"req_fake{next(_request_ids):08d}"}


def _error(reply: ErrorReply) -> web.Response:
    headers = _request_id()
    if reply.retry_after_ms is not None:
        headers["retry-after-ms"] = str(reply.retry_after_ms)
        headers["retry-after"] = str(max(1, -(-reply.retry_after_ms // 1000)))
    body = {
        "type": "error",
        "error": {"type": reply.error_type, "message": reply.message},
        "request_id": headers["request-id"],
    }
    return web.json_response(body, status=reply.status, headers=headers)


async def _send(
    request: web.Request, message: Json, reply: Reply, *, stream: bool
) -> web.StreamResponse:
    headers = _request_id()
    body = reply_body(message, reply, stream, headers["request-id"])
    if stream:
        headers |= {"content-type": "text/event-stream", "cache-control": "no-cache"}
    else:
        headers["content-type"] = "application/json"
    response = web.StreamResponse(headers=headers)
    if not stream:
        response.content_length = len(body)
    await response.prepare(request)
    if reply.fault is Fault.DROPPED:
        # Half the body, then the connection closes: a chunked stream without its last
        # chunk, or a JSON body shorter than its content-length.
        await response.write(body[: len(body) // 2])
        assert request.transport is not None
        request.transport.close()
        return response
    await response.write(body)
    await response.write_eof()
    return response


__all__ = [
    "ErrorReply",
    "FakeAnthropic",
    "Fault",
    "RecordedRequest",
    "Reply",
    "Responder",
    "Response",
    "cited_reply",
    "overloaded",
    "rate_limited",
    "refusal_reply",
    "request_problem",
    "search_result_citation",
    "server_error",
    "stream_events",
    "text_block",
    "text_reply",
    "tool_use_reply",
]
