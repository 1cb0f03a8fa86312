"""Feedback on Discord answers: 👍/👎 reactions become votes, and "Preciso de um humano"
tags the course's TAs (or tells the TA channel when asked from a DM)."""

from __future__ import annotations

import logging

import discord

from bot.adapters.discord.answering import AnswerRefs
from bot.adapters.discord.messaging import role_ids
from bot.adapters.discord_render import (
    ALREADY_ESCALATED,
    ESCALATION_ACK,
    THUMBS_DOWN,
    THUMBS_UP,
    UNKNOWN_ANSWER,
    escalated_thread_name,
    escalation_text,
    is_ta,
    ref_from_custom_id,
    ref_from_footer,
    vote_value,
)
from bot.courses import Courses
from bot.errors import BotError, UnknownInteractionError
from bot.service import AssistantService

log = logging.getLogger(__name__)


class Feedback:
    def __init__(
        self,
        client: discord.Client,
        service: AssistantService,
        courses: Courses,
        refs: AnswerRefs,
    ) -> None:
        self.client = client
        self.service = service
        self.courses = courses
        self.refs = refs

    # ------------------------------------------------------------ votes

    async def on_reaction(self, payload: discord.RawReactionActionEvent, *, added: bool) -> None:
        value = vote_value(str(payload.emoji), added)
        me = self.client.user
        if value is None or me is None or payload.user_id == me.id:
            return
        if payload.message_author_id not in (None, me.id):
            return  # a reaction on someone else's message
        try:
            ref = await self._ref_of(payload.channel_id, payload.message_id)
            if ref is None:
                return
            if not added:
                value = await self._vote_still_shown(payload)
            is_ta = await self._reactor_is_ta(payload, value)
            await self.service.record_feedback(
                ref, "discord", str(payload.user_id), value, is_ta=is_ta
            )
        except UnknownInteractionError as exc:
            log.warning(
                "a vote on message %s names no known interaction: %s", payload.message_id, exc
            )
        except Exception:
            log.exception("could not record the vote on message %s", payload.message_id)

    async def _vote_still_shown(self, payload: discord.RawReactionActionEvent) -> int:
        """The user's vote after they removed one thumb: the other one if it still stands
        (👍 and 👎 both clicked, then 👍 removed: the vote is 👎), else none (0)."""
        removed = str(payload.emoji)
        other = THUMBS_DOWN if removed == THUMBS_UP else THUMBS_UP
        channel = self.client.get_partial_messageable(payload.channel_id)
        message = await channel.fetch_message(payload.message_id)
        reaction = next((r for r in message.reactions if str(r.emoji) == other), None)
        if reaction is not None:
            async for user in reaction.users():
                if user.id == payload.user_id:
                    return vote_value(other, True) or 0
        return 0

    async def _reactor_is_ta(self, payload: discord.RawReactionActionEvent, value: int) -> bool:
        if payload.guild_id is None or value == 0:
            return False  # DMs carry no roles, and a retraction needs none
        member: discord.Member | None = payload.member
        guild = self.client.get_guild(payload.guild_id)
        if member is None and guild is not None:  # a removal event carries no member
            member = await guild.fetch_member(payload.user_id)
        if member is None:
            return False
        roles = role_ids(member)
        here = self.courses.for_discord_guilds([payload.guild_id])
        return any(is_ta(roles, c.discord.ta_role_ids) for c in here)

    async def _ref_of(self, channel_id: int, message_id: int) -> str | None:
        """The interaction id written on an answer message (cached; else read back)."""
        if message_id in self.refs:
            return self.refs[message_id]
        message = await self.client.get_partial_messageable(channel_id).fetch_message(message_id)
        ref = None
        if self.client.user is not None and message.author.id == self.client.user.id:
            ref = _ref_on(message)
        self.refs.remember(message_id, ref)
        return ref

    # ------------------------------------------------------------ escalation

    async def escalate(self, interaction: discord.Interaction, ref: str) -> None:
        """Tag the TAs when the service says this request is the one that calls them."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            escalation = await self.service.escalate(ref)
            course = self.courses.get(escalation.interaction.course_id)
        except (UnknownInteractionError, BotError):
            log.warning("escalation of unknown interaction %s", ref, exc_info=True)
            await interaction.followup.send(UNKNOWN_ANSWER, ephemeral=True)
            return
        if not escalation.ping_tas:
            await interaction.followup.send(ALREADY_ESCALATED, ephemeral=True)
            return
        await interaction.followup.send(ESCALATION_ACK, ephemeral=True)
        roles = course.discord.ta_role_ids
        pings = discord.AllowedMentions(
            everyone=False,
            users=False,
            roles=[discord.Object(r) for r in roles],
            replied_user=False,
        )
        channel: discord.abc.Messageable | object = interaction.channel
        if interaction.guild_id is None and course.discord.ta_channel_id:
            # Roles cannot be pinged in a DM: tell the TA channel instead.
            channel = self.client.get_partial_messageable(course.discord.ta_channel_id)
        if isinstance(channel, discord.abc.Messageable):
            await channel.send(escalation_text(roles, ref), allowed_mentions=pings)
        if isinstance(channel, discord.Thread):
            await _mark_escalated(channel)


def _ref_on(message: discord.Message) -> str | None:
    for row in message.components:
        for child in getattr(row, "children", []):
            ref = ref_from_custom_id(getattr(child, "custom_id", None))
            if ref:
                return ref
    for embed in message.embeds:
        ref = ref_from_footer(embed.footer.text)
        if ref:
            return ref
    return None


async def _mark_escalated(thread: discord.Thread) -> None:
    try:
        await thread.edit(name=escalated_thread_name(thread.name))
    except discord.HTTPException:
        log.warning("could not mark thread %s as escalated", thread.id, exc_info=True)
