"""Feedback on Slack answers: 👍/👎 reactions and buttons become votes, "Preciso de um
humano" tags the course's TAs. A reaction finds its interaction in the answers this process
posted, else reads the message's metadata back (``conversations.replies``), so votes still
count after a restart with no table of our own."""

from __future__ import annotations

import logging

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters import slack_render as render
from bot.adapters.slack.answering import AnswerRefs
from bot.adapters.slack.listeners import Payload, logged, logged_failure
from bot.adapters.slack.tas import TaCheck
from bot.courses import Courses
from bot.errors import BotError
from bot.service import AssistantService

log = logging.getLogger(__name__)


class Feedback:
    def __init__(
        self, service: AssistantService, courses: Courses, answers: AnswerRefs, tas: TaCheck
    ) -> None:
        self.service = service
        self.courses = courses
        self.answers = answers
        self.tas = tas

    # --- reactions ------------------------------------------------------------------------

    @logged
    async def on_reaction_added(
        self, event: Payload, client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await self._reaction(event, client, context.bot_user_id or "", added=True)

    @logged
    async def on_reaction_removed(
        self, event: Payload, client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await self._reaction(event, client, context.bot_user_id or "", added=False)

    async def _reaction(
        self, event: Payload, client: AsyncWebClient, bot: str, *, added: bool
    ) -> None:
        value = render.vote_value(event.get("reaction", ""))
        user, item = event.get("user", ""), event.get("item") or {}
        if value is None or not user or user == bot or item.get("type") != "message":
            return
        if event.get("item_user") not in (None, bot):
            return  # a reaction on someone else's message
        ref = await self._answer_ref(client, item.get("channel", ""), item.get("ts", ""))
        if ref is None:
            return
        if not added:
            value = await self._standing_vote(client, item.get("channel", ""), item["ts"], user)
        try:
            course = self.courses.get(ref.course_id)
            is_ta = await self.tas.is_ta(client, course, user)
            await self.service.record_feedback(ref.interaction_id, "slack", user, value, is_ta)
        except BotError:
            log.exception("slack: could not record the reaction on %s", ref.interaction_id)

    async def _standing_vote(self, client: AsyncWebClient, channel: str, ts: str, user: str) -> int:
        """After a removal: the user's 👍/👎 still on the message (0 when none), so removing
        👍 while 👎 stays keeps the 👎."""
        try:
            found = await client.reactions_get(channel=channel, timestamp=ts, full=True)
        except SlackApiError as exc:
            log.warning("slack: cannot read reactions of %s: %s", ts, exc.response.get("error"))
            return 0
        return render.standing_vote((found.get("message") or {}).get("reactions") or [], user)

    async def _answer_ref(
        self, client: AsyncWebClient, channel: str, ts: str
    ) -> render.AnswerRef | None:
        if (channel, ts) in self.answers:
            return self.answers[(channel, ts)]
        try:
            found = await client.conversations_replies(
                channel=channel,
                ts=ts,
                oldest=ts,
                latest=ts,
                inclusive=True,
                include_all_metadata=True,
                limit=10,
            )
        except SlackApiError as exc:
            log.warning(
                "slack: cannot read message %s in %s: %s", ts, channel, exc.response.get("error")
            )
            return None
        message = next((m for m in found.get("messages") or [] if m.get("ts") == ts), None)
        ref = render.answer_ref(message) if message else None
        if ref is not None:
            self.answers.remember((channel, ts), ref)
        return ref

    # --- buttons --------------------------------------------------------------------------

    @logged
    async def on_vote(self, body: Payload, action: Payload, client: AsyncWebClient) -> None:
        channel, user, thread = _where(body)
        value = 1 if action.get("action_id") == render.VOTE_UP_ACTION else -1
        try:
            interaction = await self.service.interaction(action.get("value", ""))
            is_ta = await self.tas.is_ta(client, self.courses.get(interaction.course_id), user)
            await self.service.record_feedback(interaction.id, "slack", user, value, is_ta)
            text = render.THANKS_FOR_VOTE
        except Exception as exc:
            text = logged_failure(exc, "recording a vote")
        await client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread, text=text)

    @logged
    async def on_escalate(self, body: Payload, action: Payload, client: AsyncWebClient) -> None:
        channel, user, thread = _where(body)
        try:
            escalation = await self.service.escalate(action.get("value", ""))
            if not escalation.ping_tas:
                await client.chat_postEphemeral(
                    channel=channel, user=user, thread_ts=thread, text=render.ALREADY_ESCALATED
                )
                return
            course = self.courses.get(escalation.interaction.course_id)
            tag = render.escalation_message(
                course.slack.ta_user_ids, course.slack.ta_usergroup_id, user
            )
            await client.chat_postMessage(channel=channel, thread_ts=thread, **tag.kwargs())
        except Exception as exc:
            text = logged_failure(exc, "calling the TAs")
            await client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread, text=text)


def _where(body: Payload) -> tuple[str, str, str]:
    """(channel, user, thread ts) of a button click on an answer."""
    message = body.get("message") or {}
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id", "")
    thread = message.get("thread_ts") or container.get("thread_ts") or message.get("ts", "")
    return channel, (body.get("user") or {}).get("id", ""), thread
