"""The TA commands on Slack: ``/digest`` (a preview of this week's digest), ``/review`` (a
private link to the review page), ``/reindex`` and ``/forget @student`` (delete a student's
data); every reply is ephemeral."""

from __future__ import annotations

import re

from slack_bolt.async_app import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters import slack_render as render
from bot.adapters.common import review_link_text
from bot.adapters.slack.listeners import Payload, logged, logged_failure
from bot.adapters.slack.routing import command_course
from bot.adapters.slack.tas import TaCheck
from bot.courses import Course, Courses
from bot.errors import BotError
from bot.service import AssistantService

# The student a /forget names: Slack sends a mention as <@U123> or <@U123|name>.
_STUDENT = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")


class TaCommands:
    def __init__(self, service: AssistantService, courses: Courses, tas: TaCheck) -> None:
        self.service = service
        self.courses = courses
        self.tas = tas

    async def _ta_course(
        self, command: Payload, client: AsyncWebClient, respond: AsyncRespond
    ) -> Course | None:
        text = _STUDENT.sub("", command.get("text", ""))  # what is left may name the course
        course = command_course(self.courses, command.get("channel_id", ""), text)
        if course is None:
            known = ", ".join(self.courses.ids())
            await respond(
                text=f"Diga qual disciplina: `{command.get('command')} <id>` ({known}).",
                response_type="ephemeral",
            )
            return None
        if not await self.tas.is_ta(client, course, command.get("user_id", "")):
            await respond(text=render.TA_ONLY, response_type="ephemeral")
            return None
        return course

    @logged
    async def on_digest(
        self, command: Payload, client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        course = await self._ta_course(command, client, respond)
        if course is None:
            return
        try:
            digest = await self.service.build_digest(course.id)
        except Exception as exc:
            await respond(
                text=logged_failure(exc, "building the digest"), response_type="ephemeral"
            )
            return
        for message in render.digest_messages(course.name, digest):
            await respond(response_type="ephemeral", **message.kwargs())

    @logged
    async def on_review(
        self, command: Payload, client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        course = await self._ta_course(command, client, respond)
        if course is None:
            return
        try:
            link = self.service.review_link(course.id, "slack", command.get("user_id", ""))
        except BotError as exc:
            await respond(text=f":warning: {exc}", response_type="ephemeral")
            return
        await respond(text=review_link_text(course, link), response_type="ephemeral")

    @logged
    async def on_reindex(
        self, command: Payload, client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        course = await self._ta_course(command, client, respond)
        if course is None:
            return
        await respond(
            text=f"Reindexando *{render.neutralise(course.name)}*; aviso quando terminar.",
            response_type="ephemeral",
        )
        try:
            summary = await self.service.reindex(course.id)
            text = f":white_check_mark: {render.neutralise(summary)}"
        except Exception as exc:
            text = logged_failure(exc, "reindexing")
        await respond(text=text, response_type="ephemeral")

    @logged
    async def on_forget(
        self, command: Payload, client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        course = await self._ta_course(command, client, respond)
        if course is None:
            return
        named = _STUDENT.search(command.get("text", ""))
        if named is None:
            await respond(text=render.FORGET_HELP, response_type="ephemeral")
            return
        try:
            erased = await self.service.forget("slack", named.group(1), course.id)
            text = render.forgotten_text(course, erased)
        except Exception as exc:
            text = logged_failure(exc, "forgetting a student")
        await respond(text=text, response_type="ephemeral")
