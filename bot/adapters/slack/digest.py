"""The weekly digest on Slack: posted in the course's TA channel, with its chart."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters import slack_render as render
from bot.adapters.slack.app import bot_client
from bot.config import Settings
from bot.courses import Course
from bot.errors import ConfigError
from bot.models import Digest


async def post_digest(client: AsyncWebClient, course: Course, digest: Digest) -> str:
    """Post the weekly digest (and its chart) in the course's TA channel; returns the ts."""
    channel = course.slack.ta_channel_id
    if not channel:
        raise ConfigError(
            f"course {course.id!r} has no Slack ta_channel_id; set it under [courses.slack] "
            "in the COURSES_FILE to receive the digest"
        )
    first_ts = ""
    for message in render.digest_messages(course.name, digest):
        posted = await client.chat_postMessage(channel=channel, **message.kwargs())
        first_ts = first_ts or str(posted["ts"])
    if digest.chart_png:
        week = digest.week_start.strftime("%Y-%m-%d")
        await client.files_upload_v2(
            channel=channel,
            content=digest.chart_png,
            filename=f"resumo-{course.id}-{week}.png",
            title=f"Resumo semanal · {course.name} · {week}",
        )
    return first_ts


async def post_digest_with_token(settings: Settings, course: Course, digest: Digest) -> str:
    """``post_digest`` for the scheduler process, which has settings but no client."""
    return await post_digest(bot_client(settings), course, digest)
