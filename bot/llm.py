"""Claude, through the official SDK: the answer model and the judge.

The only module that imports ``anthropic`` (and ``httpx2``, its HTTP client, only to name
the transport errors it passes on). Prompts (``bot.prompts``, ``bot.judge_prompts``)
and the reading of replies (``bot.drafts``) are pure and library-free; this module only
calls the API, reduces the SDK's message to plain values and turns every failure of a call
or of reading its reply (after the SDK's own retries) into ``AnswerModelError`` /
``JudgeError`` with a short cause.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, cast

import anthropic
import httpx2
from anthropic import AsyncAnthropic
from anthropic.types import Message

from bot.drafts import ReplyPart, draft_from_reply
from bot.errors import AnswerModelError, JudgeError, JudgeMalformedError, VerdictValidationError
from bot.judge_prompts import (
    TOOL_CHOICE,
    VERDICT_TOOL,
    JudgePrompt,
    JudgeVerdict,
    answer_relevance_prompt,
    context_relevance_prompt,
    groundedness_prompt,
    verdict_from_reply,
)
from bot.models import Draft, Hit, Question, Usage
from bot.ports import OnText
from bot.prompts import MAX_HISTORY_TURNS, build_messages, system_prompt, visible_text

log = logging.getLogger(__name__)


def make_client(
    api_key: str, base_url: str | None = None, max_retries: int = 2, timeout_s: float = 60
) -> AsyncAnthropic:
    """One client per process: it pools connections and retries 429/5xx/connection errors
    ``max_retries`` times, honouring the API's ``retry-after`` headers."""
    if not api_key.strip():
        raise ValueError(
            "ANTHROPIC_API_KEY is empty: set it in the environment or .env, or run without "
            "Claude (answers then use the extractive fallback)"
        )
    # An explicit key keeps the SDK from reading credentials or profiles elsewhere.
    return AsyncAnthropic(
        api_key=api_key, base_url=base_url, max_retries=max_retries, timeout=timeout_s
    )


_DROPPED = "the connection dropped before the reply was complete"


def describe_api_error(error: anthropic.APIError) -> tuple[str, int | None]:
    """``("529 overloaded_error: Overloaded", 529)``; connection errors have no status."""
    if isinstance(error, anthropic.APIStatusError):
        body = error.body if isinstance(error.body, dict) else {}
        detail = body.get("error")
        detail = detail if isinstance(detail, dict) else {}
        kind = detail.get("type", "error")
        message = detail.get("message") or error.message
        if error.status_code < 400:  # an SSE error event after a 200: the stream broke
            return f"{kind} in the middle of the stream: {message}", None
        return f"{error.status_code} {kind}: {message}", error.status_code
    if isinstance(error, anthropic.APITimeoutError):
        return "the request timed out", None
    if isinstance(error, anthropic.APIConnectionError):
        if isinstance(error.__cause__, httpx2.ReadError | httpx2.RemoteProtocolError):
            return _DROPPED, None  # it connected, then the server closed mid-reply
        return f"could not connect to the API: {error.message}", None
    return f"{type(error).__name__}: {error.message}", None


def describe_failure(error: Exception) -> tuple[str, int | None]:
    """A one-line cause for any failure of a call to Claude or of reading its reply, and
    the HTTP status when the API sent an error."""
    if isinstance(error, anthropic.APIError):
        return describe_api_error(error)
    # Once a stream has begun the SDK passes transport errors on unwrapped.
    if isinstance(error, httpx2.TimeoutException):
        return "the reply timed out in the middle of the stream", None
    if isinstance(error, httpx2.TransportError):
        return _DROPPED, None
    if isinstance(error, json.JSONDecodeError):
        return "the API answered with a body that is not JSON", None
    if isinstance(error, UnicodeEncodeError):
        bad = error.object[error.start : error.end]
        return f"the request holds text that UTF-8 cannot encode ({bad!r}: {error.reason})", None
    if isinstance(error, AssertionError):  # the SDK's check that a stream began a message
        return "the API's stream ended before a message began", None
    lines = str(error).splitlines()
    detail = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return f"the API's reply could not be read ({detail})", None


def reply_parts(message: Message) -> list[ReplyPart]:
    """The text blocks of a reply and the search results each one cites."""
    parts = []
    for block in message.content:
        if block.type != "text":
            continue
        cited = tuple(
            citation.search_result_index
            for citation in block.citations or ()
            if citation.type == "search_result_location"
        )
        parts.append(ReplyPart(block.text, cited))
    return parts


def usage_of(message: Message) -> Usage:
    usage = message.usage
    # Cached prompt tokens are input tokens too: the API counts them apart.
    cached = (usage.cache_creation_input_tokens or 0) + (usage.cache_read_input_tokens or 0)
    return Usage(input_tokens=usage.input_tokens + cached, output_tokens=usage.output_tokens)


class ClaudeAnswerModel:
    """The ``AnswerModel`` port on Claude: lecture segments in as search results, citations
    back as ``Citation`` values. No temperature: the Messages API version the SDK speaks
    (anthropic 2.x) has no sampling parameters.
    """

    def __init__(
        self,
        client: AsyncAnthropic,
        model: str,
        max_tokens: int = 1024,
        *,
        max_history_turns: int = MAX_HISTORY_TURNS,
    ) -> None:
        self._client = client
        self.model = model
        self._max_tokens = max_tokens
        self._max_history_turns = max_history_turns

    async def answer(
        self,
        question: Question,
        hits: Sequence[Hit],
        policy: str,
        on_text: OnText | None = None,
    ) -> Draft:
        request: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self._max_tokens,
            "system": system_prompt(policy),
            "messages": build_messages(question, hits, self._max_history_turns),
        }
        # Any failure, of the call or of reading what came back, is the model's failure: the
        # service answers with the fallback. CancelledError is no Exception and goes through.
        try:
            if on_text is None:
                message = await self._client.messages.create(**request)
            else:
                message = await self._stream(request, on_text)
            draft, dropped = draft_from_reply(
                reply_parts(message),
                hits,
                model=message.model,
                usage=usage_of(message),
                stop_reason=message.stop_reason,
            )
        except Exception as error:
            cause, status = describe_failure(error)
            raise AnswerModelError(cause, status) from error
        if dropped:
            log.warning(
                "Claude cited search result(s) %s but only %d were sent; dropped them",
                list(dropped),
                len(hits),
            )
        return draft

    async def _stream(self, request: dict[str, Any], on_text: OnText) -> Message:
        """Every piece of text as it comes: how often to show it is the adapter's concern
        (chat platforms rate-limit edits, each differently)."""
        so_far = ""
        async with self._client.messages.stream(**request) as stream:
            async for event in stream:
                if event.type == "text":
                    so_far += event.text
                    await on_text(visible_text(so_far))
            return cast(Message, await stream.get_final_message())


class ClaudeJudge:
    """LLM-as-judge verdicts (TruLens-style, 0-3) through a forced tool call.

    A reply without a valid verdict is asked again up to ``max_attempts`` times, then
    ``JudgeMalformedError``; any other failure (after the SDK's retries) raises
    ``JudgeError``, so the worker tries the job again later.
    """

    def __init__(
        self,
        client: AsyncAnthropic,
        model: str,
        max_attempts: int = 3,
        *,
        max_tokens: int = 1024,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self._client = client
        self.model = model
        self._max_attempts = max_attempts
        self._max_tokens = max_tokens

    async def answer_relevance(self, question: str, answer: str) -> JudgeVerdict:
        return await self._verdict(answer_relevance_prompt(question, answer))

    async def context_relevance(self, question: str, segment_text: str) -> JudgeVerdict:
        return await self._verdict(context_relevance_prompt(question, segment_text))

    async def groundedness(self, answer: str, cited_texts: Sequence[str]) -> JudgeVerdict:
        return await self._verdict(groundedness_prompt(answer, cited_texts))

    async def _verdict(self, prompt: JudgePrompt) -> JudgeVerdict:
        problems: list[str] = []
        for attempt in range(1, self._max_attempts + 1):
            stop_reason, blocks = await self._ask(prompt)
            try:
                return verdict_from_reply(stop_reason, blocks)
            except VerdictValidationError as error:
                problems.append(f"attempt {attempt}: {error}")
                log.info("judge reply unusable (attempt %d): %s", attempt, error)
        raise JudgeMalformedError(tuple(problems))

    async def _ask(self, prompt: JudgePrompt) -> tuple[str | None, list[dict[str, object]]]:
        """The reply's stop reason and content blocks as plain dicts."""
        request: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self._max_tokens,
            "system": prompt.system,
            "messages": [{"role": "user", "content": prompt.user}],
            "tools": [VERDICT_TOOL],
            "tool_choice": TOOL_CHOICE,
        }
        try:
            message = cast(Message, await self._client.messages.create(**request))
            return message.stop_reason, [block.to_dict() for block in message.content]
        except Exception as error:
            cause, status = describe_failure(error)
            raise JudgeError(cause, status) from error
