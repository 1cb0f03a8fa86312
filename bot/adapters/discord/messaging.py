"""Small pieces every part of the Discord adapter uses: no pings, who is a TA, where an
interaction happened."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.adapters.discord_render import is_ta
from bot.courses import Course, Courses

# Answers echo student text and model output: they must never ping anyone.
NO_PINGS = discord.AllowedMentions.none()

EditMessage = Callable[..., Awaitable[Any]]


def role_ids(user: discord.User | discord.Member) -> list[int]:
    """A member's role ids (a DM's author is a plain User, with none)."""
    return [role.id for role in user.roles] if isinstance(user, discord.Member) else []


def is_course_ta(user: discord.User | discord.Member, course: Course) -> bool:
    """Whether ``user`` holds one of the course's TA roles (a plain User holds none)."""
    return is_ta(role_ids(user), course.discord.ta_role_ids)


def place_of(
    courses: Courses, interaction: discord.Interaction
) -> tuple[Course | None, int, discord.Thread | None]:
    """The course of where the interaction happened (a thread counts as its parent)."""
    channel = interaction.channel
    thread = channel if isinstance(channel, discord.Thread) else None
    channel_id = (thread.parent_id or 0) if thread else (interaction.channel_id or 0)
    if interaction.guild_id is None:
        return None, channel_id, None
    return courses.for_discord(interaction.guild_id, channel_id), channel_id, thread
