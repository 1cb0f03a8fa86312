"""One answer on Slack: a placeholder at once, progress while Claude writes, then the answer
with its feedback buttons and 👍/👎 (or why not); the TAs told when the service says so.

Where the answer's interaction id lives: in the answer message's ``metadata``
(``event_type=course_assistant_answer``, payload ``{interaction_id, course_id}``) and in the
feedback buttons' values; ``Answerer.answers`` remembers the messages this process posted.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters import slack_render as render
from bot.adapters.common import AnswerCache, Progress
from bot.adapters.slack.tas import TaCheck
from bot.courses import Course
from bot.errors import (
    AskFailedError,
    InvalidQuestionError,
    QuestionRefusedError,
    RestartingError,
)
from bot.models import Answer, Question, Turn
from bot.service import AssistantService

log = logging.getLogger(__name__)

# (channel, ts) -> the interaction that message answers; a cache, the message is the record.
AnswerRefs = AnswerCache[tuple[str, str], render.AnswerRef]


class Answerer:
    def __init__(
        self,
        service: AssistantService,
        answers: AnswerRefs,
        progress_interval_s: float,
        tas: TaCheck,
    ) -> None:
        self.service = service
        self.answers = answers
        self._progress_interval_s = progress_interval_s
        self.tas = tas

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

        ``history=None``: read the thread's earlier turns here."""
        async with self.service.restart.in_flight():  # a restart waits for the reply too
            await self._answer(client, course, channel, thread, user, text, history)

    async def _answer(
        self,
        client: AsyncWebClient,
        course: Course,
        channel: str,
        thread: str,
        user: str,
        text: str,
        history: tuple[Turn, ...] | None,
    ) -> None:
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

        async def show(text_so_far: str) -> None:
            message = render.progress_message(text_so_far)
            await client.chat_update(channel=channel, ts=reply_ts, **message.kwargs())

        async def show_place(place: int) -> None:
            message = render.place_message(place)
            await client.chat_update(channel=channel, ts=reply_ts, **message.kwargs())

        progress = Progress(show, self._progress_interval_s, show_place=show_place)
        private = channel.startswith("D")  # Slack's direct-message channels
        if history is None:
            history = await self.service.thread_history("slack", channel, thread, private=private)
        asked_by_ta = await self.tas.is_ta(client, course, user)
        question = Question(
            course.id,
            text,
            "slack",
            channel,
            thread,
            user,
            history,
            private=private,
            asked_by_ta=asked_by_ta,
        )
        outcome = await self._ask(client, course, question, progress)
        await progress.finish()
        if isinstance(outcome, render.SlackMessage):
            await replace_placeholder(client, channel, thread, reply_ts, outcome)
            return
        await self._post_answer(client, course, channel, thread, reply_ts, outcome)
        alert = outcome.tas_alert
        await _tell_tas(client, course, outcome.interaction_id, channel, alert, answered=True)

    async def _ask(
        self, client: AsyncWebClient, course: Course, question: Question, progress: Progress
    ) -> Answer | render.SlackMessage:
        """The service's answer, or what to tell the student instead (the TAs told when the
        service says so)."""
        try:
            return await self.service.ask(question, on_text=progress, on_place=progress.place)
        except InvalidQuestionError as exc:
            return render.notice(render.invalid_question(str(exc)))
        except RestartingError:
            return render.notice(render.RESTARTING)
        except QuestionRefusedError as exc:
            return render.notice(f":hourglass: {render.escape(exc.student_text)}")
        except AskFailedError as exc:
            log.error("slack: could not answer in %s: %s", question.channel, exc)
            ref, alert = exc.interaction_id, exc.tas_alert
            lately = exc.tas_told_lately
            told = await _tell_tas(client, course, ref, question.channel, alert, told_lately=lately)
            return render.failure_message(ref, told)
        except Exception:
            log.exception("slack: could not answer in %s", question.channel)
            return render.failure_message(None, tas_told=False)  # nothing kept: no reference

    async def _post_answer(
        self,
        client: AsyncWebClient,
        course: Course,
        channel: str,
        thread: str,
        reply_ts: str,
        answer: Answer,
    ) -> None:
        """The answer and its 👍/👎; Slack refusing it, the failure under the answer's own
        reference (the interaction is kept: the TAs can find it)."""
        ref = render.AnswerRef(answer.interaction_id, course.id)
        metadata = render.answer_metadata(ref.interaction_id, ref.course_id)
        first, *rest = render.answer_messages(answer)
        try:
            await client.chat_update(
                channel=channel, ts=reply_ts, metadata=metadata, **first.kwargs()
            )
            self.answers.remember((channel, reply_ts), ref)
            for more in rest:
                posted = await client.chat_postMessage(
                    channel=channel, thread_ts=thread, metadata=metadata, **more.kwargs()
                )
                self.answers.remember((channel, str(posted["ts"])), ref)
        except SlackApiError:
            log.exception("slack: could not post the answer of %s", answer.interaction_id)
            failure = render.failure_message(answer.interaction_id, tas_told=False)
            await replace_placeholder(client, channel, thread, reply_ts, failure)
            return
        for name in ("+1", "-1"):  # the vote affordance students already know
            try:
                await client.reactions_add(channel=channel, timestamp=reply_ts, name=name)
            except SlackApiError as exc:
                log.warning(
                    "slack: could not add :%s: to %s: %s", name, reply_ts, exc.response.get("error")
                )


async def _tell_tas(
    client: AsyncWebClient,
    course: Course,
    ref: str,
    channel: str,
    alert: str,
    *,
    answered: bool = False,
    told_lately: bool = False,
) -> bool:
    """Post ``alert`` (if any) in the course's TA channel, pinging no one; whether the TAs
    know: it was posted, or (``told_lately``) one like it was a few minutes ago."""
    if not alert or not course.slack.ta_channel_id:
        return bool(course.slack.ta_channel_id) and told_lately
    text = render.ta_alert_text(ref, channel, alert, answered=answered)
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
