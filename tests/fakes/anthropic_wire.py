"""The Messages API's wire format, for the fake server in ``anthropic_server``: recorded
requests, scripted replies, what the real API would reject, and the JSON / SSE events it
sends. No I/O here; field names follow the installed SDK's ``anthropic.types``
(``search_result_block_param``, ``citations_search_result_location``,
``raw_content_block_delta_event``, ``citations_delta``).
"""

from __future__ import annotations

import enum
import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Json

    @property
    def api_key(self) -> str | None:
        """The key the client sent: ``x-api-key``, or (SDK 2.x) ``Authorization: Bearer``."""
        if "x-api-key" in self.headers:
            return self.headers["x-api-key"]
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return token if scheme.lower() == "bearer" and token else None

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    def search_results(self) -> list[Json]:
        """Every ``search_result`` block, in the order the API numbers them
        (``search_result_index``): across messages, then within each."""
        found: list[Json] = []
        for message in self.body.get("messages", []):
            content = message.get("content")
            if isinstance(content, list):
                found.extend(b for b in content if b.get("type") == "search_result")
        return found

    def last_user_text(self) -> str:
        """The text blocks of the last user message, joined."""
        for message in reversed(self.body.get("messages", [])):
            if message.get("role") == "user":
                content = message["content"]
                if isinstance(content, str):
                    return content
                return "\n".join(b["text"] for b in content if b.get("type") == "text")
        return ""


class Fault(enum.Enum):
    """A 200 that the SDK cannot turn into a message: failures that are not API errors."""

    # The connection closes half way through the body (a proxy restart, a network drop).
    DROPPED = "dropped"
    # An HTML page instead of the message, under the content type the SDK asked for.
    NOT_JSON = "not_json"
    # Well-formed JSON / events, but the message's content is null.
    WRONG_SHAPE = "wrong_shape"


NOT_JSON_PAGE = "<html><head><title>Gateway</title></head><body>Please wait…</body></html>\n"


@dataclass(frozen=True)
class Reply:
    """A message from Claude: ``content`` holds content blocks exactly as the API sends them."""

    content: tuple[Json, ...]
    stop_reason: str = "end_turn"
    stop_details: Json | None = None
    model: str | None = None  # None: echo the request's model
    input_tokens: int | None = None  # None: about a token per 4 characters of the request
    output_tokens: int | None = None  # None: about a token per 4 characters of the reply
    delay_s: float = 0.0
    chunk_chars: int = 16  # text per text_delta when streamed
    # Streamed: about half the events, then this error as an SSE ``error`` event (the API
    # can fail mid-stream, after the 200). Not streamed: this error instead of the message.
    interrupted_by: ErrorReply | None = None
    fault: Fault | None = None  # a 200 whose body cannot be read: see ``reply_body``


@dataclass(frozen=True)
class ErrorReply:
    status: int
    error_type: str
    message: str
    retry_after_ms: int | None = 1
    delay_s: float = 0.0


Response = Reply | ErrorReply
Responder = Callable[[RecordedRequest], Response]


# -- building replies ---------------------------------------------------------------------


def text_block(text: str, citations: Sequence[Json] = ()) -> Json:
    block: Json = {"type": "text", "text": text}
    if citations:
        block["citations"] = list(citations)
    return block


def search_result_citation(
    search_result_index: int,
    source: str,
    title: str | None,
    cited_text: str,
    start_block_index: int = 0,
    end_block_index: int = 1,
) -> Json:
    """A ``search_result_location`` citation (``end_block_index`` is exclusive)."""
    return {
        "type": "search_result_location",
        "source": source,
        "title": title,
        "cited_text": cited_text,
        "search_result_index": search_result_index,
        "start_block_index": start_block_index,
        "end_block_index": end_block_index,
    }


def text_reply(*texts: str, **options: Any) -> Reply:
    return Reply(content=tuple(text_block(text) for text in texts), **options)


def cited_reply(*parts: str | tuple[str, Sequence[int]], **options: Any) -> Responder:
    """A responder answering with text blocks citing the request's search results by index,
    filled in from the request as the real API does. An index the request does not have
    still yields a citation (with a made-up source), to test that callers drop it."""

    def respond(request: RecordedRequest) -> Response:
        results = request.search_results()
        blocks = []
        for part in parts:
            text, indices = (part, ()) if isinstance(part, str) else part
            citations = [_citation_from(results, index) for index in indices]
            blocks.append(text_block(text, citations))
        return Reply(content=tuple(blocks), **options)

    return respond


def tool_use_reply(name: str, tool_input: Json, **options: Any) -> Reply:
    block = {"type": "tool_use", "id": f"toolu_fake{next(_ids):06d}", "name": name}
    return Reply(content=({**block, "input": tool_input},), stop_reason="tool_use", **options)


def refusal_reply(text: str = "") -> Reply:
    content = (text_block(text),) if text else ()
    details = {"type": "refusal", "category": None, "explanation": None}
    return Reply(content=content, stop_reason="refusal", stop_details=details)


def rate_limited(retry_after_ms: int | None = 1) -> ErrorReply:
    return ErrorReply(
        429, "rate_limit_error", "Number of requests has exceeded your rate limit", retry_after_ms
    )


def overloaded(retry_after_ms: int | None = 1) -> ErrorReply:
    return ErrorReply(529, "overloaded_error", "Overloaded", retry_after_ms)


def server_error(retry_after_ms: int | None = 1) -> ErrorReply:
    return ErrorReply(500, "api_error", "Internal server error", retry_after_ms)


def _citation_from(results: list[Json], index: int) -> Json:
    if 0 <= index < len(results):
        result = results[index]
        cited = "".join(block.get("text", "") for block in result.get("content", [])[:1])
        return search_result_citation(index, result["source"], result["title"], cited)
    return search_result_citation(index, "https://example.invalid/none", None, "")


_ids = itertools.count(1)


def request_problem(body: Json) -> str | None:
    """What the real API would reject in a request body, as ``field: problem``."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or max_tokens < 1:
        return "max_tokens: must be a positive integer"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    for number, message in enumerate(messages):
        problem = _message_problem(message)
        if problem:
            return f"messages.{number}.{problem}"
    return _tools_problem(body)


def _message_problem(message: Json) -> str | None:
    if message.get("role") not in ("user", "assistant"):
        return f"role: must be user or assistant, got {message.get('role')!r}"
    content = message.get("content")
    if isinstance(content, str):
        return None if content else "content: must not be empty"
    if not isinstance(content, list) or not content:
        return "content: must be a non-empty string or list"
    for number, block in enumerate(content):
        problem = _block_problem(block)
        if problem:
            return f"content.{number}.{problem}"
    return None


def _block_problem(block: Json) -> str | None:
    kind = block.get("type")
    if kind == "text":
        text = block.get("text")
        return None if isinstance(text, str) and text else "text: must be a non-empty string"
    if kind == "search_result":
        for name in ("source", "title"):
            if not isinstance(block.get(name), str):
                return f"{name}: Field required"
        content = block.get("content")
        if not isinstance(content, list) or not content:
            return "content: must be a non-empty list of text blocks"
        if any(b.get("type") != "text" or not b.get("text") for b in content):
            return "content: every block must be a non-empty text block"
        citations = block.get("citations", {})
        if not isinstance(citations, dict) or not isinstance(citations.get("enabled", False), bool):
            return 'citations: must be {"enabled": bool}'
    return None


def _tools_problem(body: Json) -> str | None:
    tools = body.get("tools", [])
    names = {tool.get("name") for tool in tools}
    for number, tool in enumerate(tools):
        if not isinstance(tool.get("input_schema"), dict):
            return f"tools.{number}.input_schema: Field required"
    choice = body.get("tool_choice")
    if choice is None:
        return None
    if choice.get("type") not in ("auto", "any", "tool", "none"):
        return f"tool_choice.type: unknown {choice.get('type')!r}"
    if choice["type"] == "tool" and choice.get("name") not in names:
        return f"tool_choice.name: no tool named {choice.get('name')!r} was offered"
    return None


def invalid(message: str) -> ErrorReply:
    return ErrorReply(400, "invalid_request_error", message, None)


def message_json(reply: Reply, request: RecordedRequest) -> Json:
    reply_chars = sum(len(json.dumps(block)) for block in reply.content)
    return {
        "id": f"msg_fake{next(_ids):06d}",
        "type": "message",
        "role": "assistant",
        "model": reply.model or request.body.get("model", "claude-fake"),
        "content": [dict(block) for block in reply.content],
        "stop_reason": reply.stop_reason,
        "stop_sequence": None,
        "stop_details": reply.stop_details,
        "usage": {
            "input_tokens": reply.input_tokens
            if reply.input_tokens is not None
            else max(1, len(json.dumps(request.body)) // 4),
            "output_tokens": reply.output_tokens
            if reply.output_tokens is not None
            else max(1, reply_chars // 4),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def stream_events(message: Json, chunk_chars: int = 16) -> Iterator[Json]:
    """The SSE events the API sends for ``message``, in order."""
    start = {**message, "content": [], "stop_reason": None, "stop_details": None}
    start["usage"] = {**message["usage"], "output_tokens": 1}
    yield {"type": "message_start", "message": start}
    yield {"type": "ping"}
    for index, block in enumerate(message["content"]):
        yield from _block_events(index, block, chunk_chars)
    delta = {
        "stop_reason": message["stop_reason"],
        "stop_sequence": None,
        "stop_details": message["stop_details"],
    }
    yield {
        "type": "message_delta",
        "delta": delta,
        "usage": {"output_tokens": message["usage"]["output_tokens"]},
    }
    yield {"type": "message_stop"}


def _block_events(index: int, block: Json, chunk_chars: int) -> Iterator[Json]:
    if block["type"] == "text":
        yield {
            "type": "content_block_start",
            "index": index,
            "content_block": {"type": "text", "text": ""},
        }
        text = block["text"]
        for at in range(0, len(text), chunk_chars):
            delta = {"type": "text_delta", "text": text[at : at + chunk_chars]}
            yield {"type": "content_block_delta", "index": index, "delta": delta}
        for citation in block.get("citations") or ():
            delta = {"type": "citations_delta", "citation": citation}
            yield {"type": "content_block_delta", "index": index, "delta": delta}
    elif block["type"] == "tool_use":
        opening = {**block, "input": {}}
        yield {"type": "content_block_start", "index": index, "content_block": opening}
        partial = json.dumps(block["input"])
        for at in range(0, len(partial), chunk_chars):
            delta = {"type": "input_json_delta", "partial_json": partial[at : at + chunk_chars]}
            yield {"type": "content_block_delta", "index": index, "delta": delta}
    else:
        yield {"type": "content_block_start", "index": index, "content_block": block}
    yield {"type": "content_block_stop", "index": index}


def reply_body(message: Json, reply: Reply, stream: bool, request_id: str) -> bytes:
    """The body of a 200 answering with ``message``: JSON, or SSE events when streamed, with
    ``reply.interrupted_by`` / ``reply.fault`` applied (a dropped connection is the server's
    part: it sends only the first half of this body)."""
    if reply.fault is Fault.NOT_JSON:
        return NOT_JSON_PAGE.encode()
    if not stream:
        return json.dumps(_shaped(message, reply)).encode()
    events = list(stream_events(message, reply.chunk_chars))
    events[0] = {**events[0], "message": _shaped(events[0]["message"], reply)}
    if reply.interrupted_by is not None:
        failure = reply.interrupted_by
        error = {"type": failure.error_type, "message": failure.message}
        events = [
            *events[: max(2, len(events) // 2)],
            {"type": "error", "error": error, "request_id": request_id},
        ]
    return "".join(_sse(event) for event in events).encode()


def _shaped(message: Json, reply: Reply) -> Json:
    return {**message, "content": None} if reply.fault is Fault.WRONG_SHAPE else message


def _sse(event: Json) -> str:
    return f"event: {event['type']}\ndata: {json.dumps(event, ensure_ascii=False)}\n\n"
