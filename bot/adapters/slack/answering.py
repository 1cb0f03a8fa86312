"""One answer on Slack: a placeholder at once, progress while Claude writes, then the answer
with its feedback buttons and 👍/👎 (or why not, with the TAs told of a failure).

Where the answer's interaction id lives: in the answer message's ``metadata``
(``event_type=course_assistant_answer``, payload ``{interaction_id, course_id}``) and in the
feedback buttons' values; ``Answerer.answers`` remembers the messages this process posted.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters import slack_render as render
from bot.adapters.common import AnswerCache, Throttle
from bot.courses import Course
from bot.errors import AskFailedError, InvalidQuestionError
from bot.ids import new_ulid
from bot.models import Answer, Question, Turn
from bot.service import AssistantService

log = logging.getLogger(__name__)

# (channel, ts) -> the interaction that message answers; a cache, the message is the record.
AnswerRefs = AnswerCache[tuple[str, str], render.AnswerRef]


class Progress:
    """``on_text`` for the service: edits the placeholder as the answer streams, throttled."""

    def __init__(self, client: AsyncWebClient, channel: str, ts: str, interval_s: float) -> None:
        self._client, self._channel, self._ts = client, channel, ts
        self._throttle = Throttle(interval_s)

    async def __call__(self, text_so_far: str) -> None:
        if not text_so_far.strip() or not self._throttle.ready():
            return
        try:
            await self._client.chat_update(
                channel=self._channel, ts=self._ts, **render.progress_message(text_so_far).kwargs()
            )
        except SlackApiError as exc:  # cosmetic: the final update still comes
            log.warning("slack: progress update failed: %s", exc.response.get("error"))


class Answerer:
    def __init__(
        self, service: AssistantService, answers: AnswerRefs, progress_interval_s: float
    ) -> None:
        self.service = service
        self.answers = answers
        self._progress_interval_s = progress_interval_s

    async def history(self, channel: str, thread: str) -> tuple[Turn, ...]:
        return await self.service.thread_history("slack", channel, thread)

    async def answer(
        self,
        client: AsyncWebClient,
        course: Course,
        channel: str,
        thread: str,
        user: str,
        text: str,
        history: tuple[Turn, ...] | None,
    ) -> None:
        """Placeholder at once, progress while Claude writes, then the answer (or why not).

        ``history=None`` reads the thread's earlier turns here, where a failure is shown."""
        try:
            posted = await client.chat_postMessage(
                channel=channel, thread_ts=thread, **render.placeholder_message().kwargs()
            )
        except SlackApiError:
            log.exception(
                "slack: cannot post in %s (thread %s); is the bot a member?", channel, thread
            )
            return
        reply_ts = str(posted["ts"])
        progress = Progress(client, channel, reply_ts, self._progress_interval_s)
        try:
            if history is None:
                history = await self.history(channel, thread)
            question = Question(course.id, text, "slack", channel, thread, user, history)
            answer = await self.service.ask(question, on_text=progress)
            await self._post_answer(client, course, channel, thread, reply_ts, answer)
        except InvalidQuestionError as exc:
            notice = render.notice(render.invalid_question(str(exc)))
            await replace_placeholder(client, channel, thread, reply_ts, notice)
        except AskFailedError as exc:
            await self._failed(client, course, channel, thread, reply_ts, exc.interaction_id, exc)
        except Exception as exc:
            await self._failed(client, course, channel, thread, reply_ts, new_ulid(), exc)

    async def _post_answer(
        self,
        client: AsyncWebClient,
        course: Course,
        channel: str,
        thread: str,
        reply_ts: str,
        answer: Answer,
    ) -> None:
        ref = render.AnswerRef(answer.interaction_id, course.id)
        metadata = render.answer_metadata(ref.interaction_id, ref.course_id)
        first, *rest = render.answer_messages(answer)
        await client.chat_update(channel=channel, ts=reply_ts, metadata=metadata, **first.kwargs())
        self.answers.remember((channel, reply_ts), ref)
        for more in rest:
            posted = await client.chat_postMessage(
                channel=channel, thread_ts=thread, metadata=metadata, **more.kwargs()
            )
            self.answers.remember((channel, str(posted["ts"])), ref)
        for name in ("+1", "-1"):  # the vote affordance students already know
            try:
                await client.reactions_add(channel=channel, timestamp=reply_ts, name=name)
            except SlackApiError as exc:
                log.warning(
                    "slack: could not add :%s: to %s: %s", name, reply_ts, exc.response.get("error")
                )

    async def _failed(
        self,
        client: AsyncWebClient,
        course: Course,
        channel: str,
        thread: str,
        reply_ts: str,
        ref: str,
        exc: BaseException,
    ) -> None:
        log.error("slack: could not answer in %s (ref %s)", channel, ref, exc_info=exc)
        tas_told = await _tell_tas(client, course, render.failure_report(ref, channel, exc))
        failure = render.failure_message(ref, tas_told)
        await replace_placeholder(client, channel, thread, reply_ts, failure)


async def _tell_tas(client: AsyncWebClient, course: Course, text: str) -> bool:
    if not course.slack.ta_channel_id:
        return False
    try:
        await client.chat_postMessage(channel=course.slack.ta_channel_id, text=text)
    except SlackApiError as exc:
        log.error("slack: could not tell the TAs in %s: %s", course.slack.ta_channel_id, exc)
        return False
    return True


async def replace_placeholder(
    client: AsyncWebClient, channel: str, thread: str, ts: str, message: render.SlackMessage
) -> None:
    """Show ``message`` instead of the placeholder; post it anew if the edit is refused."""
    try:
        await client.chat_update(channel=channel, ts=ts, **message.kwargs())
    except SlackApiError:
        log.exception("slack: could not edit %s in %s; posting instead", ts, channel)
        try:
            await client.chat_postMessage(channel=channel, thread_ts=thread, **message.kwargs())
        except SlackApiError:
            log.exception("slack: could not tell the student in %s", channel)
