"""The TA commands on Discord, ``/digest`` (a preview of this week's digest), ``/review`` (a
private link to the review page), ``/reindex`` and ``/forget`` (delete a student's data);
refusals and results are ephemeral. Also what any failed command says."""

from __future__ import annotations

import logging
import re
from typing import Any

import discord
from discord import app_commands

from bot.adapters.common import review_link_text
from bot.adapters.discord.digest import chart_file
from bot.adapters.discord.messaging import NO_PINGS, is_course_ta, place_of
from bot.adapters.discord_render import (
    NO_COURSE_HERE,
    TA_ONLY,
    course_for_ta_command,
    digest_chunks,
    failure_text,
    forgotten_text,
)
from bot.courses import Course, Courses
from bot.errors import BotError
from bot.service import AssistantService

log = logging.getLogger(__name__)

# The student a /forget names: a mention (the client turns "@name" into it) or a bare id.
_STUDENT = re.compile(r"^\s*(?:<@!?(\d+)>|(\d+))\s*$")
FORGET_HELP = "Diga qual estudante: `/forget estudante:@nome` (ou o id do usuário)."


class TaCommands:
    def __init__(self, service: AssistantService, courses: Courses) -> None:
        self.service = service
        self.courses = courses

    async def digest_command(self, interaction: discord.Interaction) -> None:
        course = await self._ta_course(interaction)
        if course is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            digest = await self.service.build_digest(course.id)
        except Exception:
            log.exception("could not build the digest preview of %s", course.id)
            await interaction.followup.send(failure_text(None), ephemeral=True)
            return
        chunks = digest_chunks(digest)
        for position, chunk in enumerate(chunks, 1):
            extra: dict[str, Any] = {}
            if position == len(chunks) and digest.chart_png:
                extra["file"] = chart_file(digest)
            await interaction.followup.send(
                chunk, ephemeral=True, allowed_mentions=NO_PINGS, **extra
            )

    async def review_command(self, interaction: discord.Interaction) -> None:
        course = await self._ta_course(interaction)
        if course is None:
            return
        try:
            link = self.service.review_link(course.id, "discord", str(interaction.user.id))
        except BotError as exc:
            await interaction.response.send_message(f"⚠️ {exc}", ephemeral=True)
            return
        await interaction.response.send_message(
            review_link_text(course, link), ephemeral=True, allowed_mentions=NO_PINGS
        )

    async def reindex_command(self, interaction: discord.Interaction) -> None:
        course = await self._ta_course(interaction)
        if course is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            summary = await self.service.reindex(course.id)
        except BotError as exc:
            await interaction.followup.send(f"⚠️ {exc}", ephemeral=True)
            return
        except Exception:
            log.exception("reindexing %s failed", course.id)
            await interaction.followup.send(failure_text(None), ephemeral=True)
            return
        await interaction.followup.send(f"✅ {summary}", ephemeral=True, allowed_mentions=NO_PINGS)

    async def forget_command(self, interaction: discord.Interaction, student: str) -> None:
        course = await self._ta_course(interaction)
        if course is None:
            return
        named = _STUDENT.match(student)
        if named is None:
            await interaction.response.send_message(FORGET_HELP, ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            erased = await self.service.forget(
                "discord", named.group(1) or named.group(2), course.id
            )
        except Exception:
            log.exception("forgetting a student of %s failed", course.id)
            await interaction.followup.send(failure_text(None), ephemeral=True)
            return
        await interaction.followup.send(
            forgotten_text(course, erased), ephemeral=True, allowed_mentions=NO_PINGS
        )

    async def _ta_course(self, interaction: discord.Interaction) -> Course | None:
        """The course a TA command is for, checked here by role; refusals are ephemeral."""
        course, channel_id, _ = place_of(self.courses, interaction)
        guild_id = interaction.guild_id
        here = self.courses.for_discord_guilds([guild_id]) if guild_id else []
        course = course_for_ta_command(here, course, channel_id)
        if course is None:
            await interaction.response.send_message(NO_COURSE_HERE, ephemeral=True)
            return None
        if not is_course_ta(interaction.user, course):
            await interaction.response.send_message(TA_ONLY, ephemeral=True)
            return None
        return course


async def report_command_error(
    interaction: discord.Interaction, error: app_commands.AppCommandError
) -> None:
    """Any command's unexpected failure: logged, and the user told (ephemerally)."""
    log.error("command %s failed", interaction.command and interaction.command.name, exc_info=error)
    try:
        if interaction.response.is_done():
            await interaction.followup.send(failure_text(None), ephemeral=True)
        else:
            await interaction.response.send_message(failure_text(None), ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell the user that the command failed")
