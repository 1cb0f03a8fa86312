"""Questions on Slack: a mention in a course channel, a reply in a bot thread (no mention
needed), a DM, and ``/ask`` (whose ack says at once when it cannot be answered)."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters import slack_render as render
from bot.adapters.slack.answering import Answerer
from bot.adapters.slack.listeners import Payload, logged
from bot.adapters.slack.middleware import Recent
from bot.adapters.slack.routing import dm_course, slack_channels
from bot.adapters.slack.tas import TaCheck
from bot.courses import Course, Courses

log = logging.getLogger(__name__)

NOTE_EVERY_S = 600.0  # the "this channel has no course" note, per user and channel


class Asking:
    def __init__(self, courses: Courses, answerer: Answerer, tas: TaCheck) -> None:
        self.courses = courses
        self.answerer = answerer
        self.tas = tas
        self._notes = Recent(NOTE_EVERY_S)

    @logged
    async def on_mention(
        self, event: Payload, client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        channel, user, bot = (
            event.get("channel", ""),
            event.get("user", ""),
            context.bot_user_id or "",
        )
        if not user or user == bot:
            return
        course = self.courses.for_slack(channel)
        if course is None:
            if self._notes.first_time(f"{channel}:{user}"):
                note = render.unconfigured_channel_note(channel)
                await client.chat_postEphemeral(channel=channel, user=user, text=note)
            return
        thread = event.get("thread_ts") or event["ts"]
        text = render.question_text(event.get("text", ""), bot)
        if not text:
            await client.chat_postMessage(
                channel=channel, thread_ts=thread, text=render.MENTION_HELP
            )
            return
        history = None if event.get("thread_ts") else ()  # None: read the thread's history
        await self.answerer.answer(client, course, channel, thread, user, text, history)

    @logged
    async def on_message(
        self, event: Payload, client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        bot, user = context.bot_user_id or "", event.get("user", "")
        if event.get("subtype") or event.get("bot_id") or not user or user == bot:
            return  # edits, joins, bots (ourselves included)
        channel, ts, raw = event.get("channel", ""), event.get("ts", ""), event.get("text", "")
        thread = event.get("thread_ts") or ""
        in_thread = bool(thread) and thread != ts
        text = render.question_text(raw, bot)
        if event.get("channel_type") == "im":
            await self._direct_message(client, channel, thread if in_thread else ts, user, text)
            return
        if not in_thread or render.mentions(raw, bot) or not text:
            return  # top-level chatter is not for us; a mention is answered by on_mention
        course = self.courses.for_slack(channel)
        if course is None:
            return
        is_ta = await self.tas.is_ta(client, course, user)
        history = await self.answerer.service.unmentioned_follow_up(
            "slack", channel, thread, asker_is_ta=is_ta
        )
        if history is not None:
            await self.answerer.answer(client, course, channel, thread, user, text, history)

    async def _direct_message(
        self, client: AsyncWebClient, channel: str, thread: str, user: str, text: str
    ) -> None:
        course = dm_course(self.courses)
        if course is None:
            note = render.ask_where_note(slack_channels(self.courses))
            await client.chat_postMessage(channel=channel, thread_ts=thread, text=note)
            return
        if text:
            await self.answerer.answer(client, course, channel, thread, user, text, None)

    def _ask_route(self, command: Payload) -> Course | str:
        """The course a ``/ask`` goes to, or the note to show instead."""
        if not command.get("text", "").strip():
            return render.ASK_HELP
        channel = command.get("channel_id", "")
        course = self.courses.for_slack(channel)
        if course is None and channel.startswith("D"):
            course = dm_course(self.courses)
        return course or render.ask_where_note(slack_channels(self.courses))

    async def ack_ask(self, ack: AsyncAck, command: Payload) -> None:
        route = self._ask_route(command)
        await (ack(text=route) if isinstance(route, str) else ack())

    @logged
    async def on_ask(self, command: Payload, client: AsyncWebClient, respond: AsyncRespond) -> None:
        course = self._ask_route(command)
        if isinstance(course, str):
            return  # the ack already said why
        channel, user = command["channel_id"], command["user_id"]
        text = render.question_text(command.get("text", ""), "")
        try:  # a slash command leaves no message to thread under: post the question first
            echo = await client.chat_postMessage(
                channel=channel, **render.question_echo(user, text).kwargs()
            )
        except SlackApiError as exc:
            log.warning("slack: cannot post in %s: %s", channel, exc.response.get("error"))
            await respond(text=render.CANNOT_POST, response_type="ephemeral")
            return
        await self.answerer.answer(client, course, channel, str(echo["ts"]), user, text, ())
