"""The weekly digest on Discord: its chart as an attachment, and posting it over REST only."""

from __future__ import annotations

import io

import discord

from bot.adapters.discord.messaging import NO_PINGS
from bot.adapters.discord_render import digest_chunks
from bot.config import Settings, require
from bot.courses import Course
from bot.errors import BotError
from bot.models import Digest


def chart_file(digest: Digest) -> discord.File:
    assert digest.chart_png is not None
    return discord.File(io.BytesIO(digest.chart_png), filename=f"perguntas-{digest.course_id}.png")


async def post_digest(settings: Settings, course: Course, digest: Digest) -> None:
    """Post a digest to the course's TA channel over REST only (no gateway): for the
    scheduler process, which must not hold a second gateway session."""
    require(settings, "DISCORD_TOKEN")
    if not course.discord.ta_channel_id:
        raise BotError(
            f"course {course.id!r} has no [discord] ta_channel_id in the COURSES_FILE; "
            "set it to the channel where TAs get the weekly digest"
        )
    # No gateway session is opened; the intent only keeps discord.py from warning about it.
    client = discord.Client(intents=discord.Intents(guilds=True), allowed_mentions=NO_PINGS)
    async with client:
        await client.login(settings.discord_token.get_secret_value())
        channel = client.get_partial_messageable(course.discord.ta_channel_id)
        chunks = digest_chunks(digest)
        for position, chunk in enumerate(chunks, 1):
            if position == len(chunks) and digest.chart_png:
                await channel.send(chunk, file=chart_file(digest), allowed_mentions=NO_PINGS)
            else:
                await channel.send(chunk, allowed_mentions=NO_PINGS)
