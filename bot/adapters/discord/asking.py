"""Questions on Discord: a mention in a course channel (answered in a new thread), a
follow-up in a bot thread (no mention needed), a DM, and ``/ask``."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

import discord

from bot.adapters.common import sole_course
from bot.adapters.discord.answering import Answerer
from bot.adapters.discord.messaging import NO_PINGS, is_course_ta, place_of, role_ids
from bot.adapters.discord_render import (
    NO_COURSE_HERE,
    PLACEHOLDER,
    USAGE_HINT,
    dm_where_to_ask,
    is_ta,
    not_configured_note,
    question_echo,
    strip_bot_mention,
    thread_name,
)
from bot.courses import Course, Courses
from bot.models import Question
from bot.service import AssistantService

# A DM follow-up carries the turns of this last stretch as its history; older ones are
# another conversation.
DM_CONVERSATION = timedelta(minutes=30)

log = logging.getLogger(__name__)


class Asking:
    def __init__(
        self,
        client: discord.Client,
        service: AssistantService,
        courses: Courses,
        answerer: Answerer,
    ) -> None:
        self.client = client
        self.service = service
        self.courses = courses
        self.answerer = answerer

    # ------------------------------------------------------------ messages

    async def route(self, message: discord.Message) -> None:
        if message.guild is None:
            await self._direct_message(message)
            return
        channel = message.channel
        if isinstance(channel, discord.PartialMessageable):
            channel = await self.client.fetch_channel(channel.id)  # type: ignore[assignment]
        mentioned = self._mentions_me(message)
        if isinstance(channel, discord.Thread):
            await self._thread_message(message, channel, mentioned)
            return
        if not mentioned:
            return
        course = self.courses.for_discord(message.guild.id, channel.id)
        if course is None:
            await self._explain_unconfigured(message)
            return
        await self._answer_in_new_thread(message, course)

    def _mentions_me(self, message: discord.Message) -> bool:
        # Not user.mentioned_in(): that is also true for @everyone.
        me = self.client.user
        return me is not None and any(u.id == me.id for u in message.mentions)

    def _question_text(self, message: discord.Message) -> str:
        assert self.client.user is not None
        return strip_bot_mention(message.content, self.client.user.id)

    async def _answer_in_new_thread(self, message: discord.Message, course: Course) -> None:
        text = self._question_text(message)
        if not text:
            await message.reply(USAGE_HINT, allowed_mentions=NO_PINGS)
            return
        question = Question(
            course_id=course.id,
            text=text,
            platform="discord",
            channel=str(message.channel.id),
            asker=str(message.author.id),
            asked_by_ta=is_course_ta(message.author, course),
        )
        try:
            thread = await message.create_thread(name=thread_name(text))
        except discord.HTTPException:
            # E.g. no "Create Public Threads" permission: answer in the channel rather than not.
            log.warning("could not start a thread in channel %s", message.channel.id, exc_info=True)
            await self.answerer.answer_with_placeholder(message.channel, question, reply_to=message)
            return
        question = replace(question, thread=str(thread.id))
        await self.answerer.answer_with_placeholder(thread, question)

    async def _thread_message(
        self, message: discord.Message, thread: discord.Thread, mentioned: bool
    ) -> None:
        assert self.client.user is not None and message.guild is not None
        course = self.courses.for_discord(message.guild.id, thread.parent_id or 0)
        if course is None:
            return
        parent, thread_id = str(thread.parent_id), str(thread.id)
        asked_by_ta = is_course_ta(message.author, course)
        if mentioned:
            history = await self.service.thread_history("discord", parent, thread_id)
        else:
            if thread.owner_id != self.client.user.id:
                return
            follow_up = await self.service.unmentioned_follow_up(
                "discord", parent, thread_id, asker_is_ta=asked_by_ta
            )
            if follow_up is None:
                return
            history = follow_up
        text = self._question_text(message)
        if not text:
            return
        question = Question(
            course_id=course.id,
            text=text,
            platform="discord",
            channel=parent,
            thread=thread_id,
            asker=str(message.author.id),
            history=history,
            asked_by_ta=asked_by_ta,
        )
        await self.answerer.answer_with_placeholder(thread, question)

    async def _explain_unconfigured(self, message: discord.Message) -> None:
        """Only a TA (or someone who can manage channels) gets the setup note; others no noise."""
        assert message.guild is not None
        author = message.author
        roles = role_ids(author)
        here = self.courses.for_discord_guilds([message.guild.id])
        can_manage = isinstance(author, discord.Member) and author.guild_permissions.manage_channels
        if can_manage or any(is_ta(roles, c.discord.ta_role_ids) for c in here):
            note = not_configured_note(message.guild.id, message.channel.id)
            await message.reply(note, allowed_mentions=NO_PINGS)

    async def _direct_message(self, message: discord.Message) -> None:
        course, shared, member = await self._dm_course(message.author.id)
        if course is None:
            await message.channel.send(dm_where_to_ask(shared), allowed_mentions=NO_PINGS)
            return
        text = self._question_text(message)
        if not text:
            return
        # A DM has no threads: the DM channel is the thread, and its recent turns the history.
        dm = str(message.channel.id)
        history = await self.service.thread_history(
            "discord", dm, dm, within=DM_CONVERSATION, private=True
        )
        question = Question(
            course_id=course.id,
            text=text,
            platform="discord",
            channel=dm,
            thread=dm,
            asker=str(message.author.id),
            history=history,
            private=True,
            asked_by_ta=member is not None and is_course_ta(member, course),
        )
        await self.answerer.answer_with_placeholder(message.channel, question)

    async def _dm_course(
        self, user_id: int
    ) -> tuple[Course | None, list[Course], discord.Member | None]:
        """The one configured course whose guild the user shares with the bot, if exactly one,
        and the user as a member of that guild (their roles there say whether they are a TA)."""
        members: dict[int, discord.Member] = {}
        for guild_id in {c.discord.guild_id for c in self.courses if c.discord.guild_id}:
            guild = self.client.get_guild(guild_id)
            member = None if guild is None else await _member(guild, user_id)
            if member is not None:
                members[guild_id] = member
        shared = self.courses.for_discord_guilds(list(members))
        course = sole_course(shared)
        return course, shared, None if course is None else members[course.discord.guild_id]

    # ------------------------------------------------------------ /ask

    async def ask_command(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.defer(thinking=True)
        course, channel_id, thread = place_of(self.courses, interaction)
        if course is None:  # the commands are per guild, so this is an unconfigured channel
            await interaction.edit_original_response(
                content=NO_COURSE_HERE, allowed_mentions=NO_PINGS
            )
            return
        question = Question(
            course_id=course.id,
            text=text,
            platform="discord",
            channel=str(channel_id),
            asker=str(interaction.user.id),
            asked_by_ta=is_course_ta(interaction.user, course),
        )
        if thread is not None:  # no threads in threads: the reply itself becomes the answer
            history = await self.service.thread_history("discord", str(channel_id), str(thread.id))
            question = replace(question, thread=str(thread.id), history=history)
            await self._answer_in_reply(interaction, question, thread)
            return
        original = await interaction.edit_original_response(
            content=question_echo(text), allowed_mentions=NO_PINGS
        )
        try:
            new_thread = await original.create_thread(name=thread_name(text))
        except discord.HTTPException:
            log.warning("could not start a thread for /ask in %s", channel_id, exc_info=True)
            channel = interaction.channel
            assert isinstance(channel, discord.abc.Messageable)
            await self._answer_in_reply(interaction, question, channel)
            return
        question = replace(question, thread=str(new_thread.id))
        await self.answerer.answer_with_placeholder(new_thread, question)

    async def _answer_in_reply(
        self, interaction: discord.Interaction, question: Question, where: discord.abc.Messageable
    ) -> None:
        """The deferred /ask reply itself becomes the answer (inside a thread, or no thread)."""
        edit = interaction.edit_original_response
        async with self.service.restart.in_flight():  # a restart waits for the reply too
            placeholder = await edit(content=PLACEHOLDER, allowed_mentions=NO_PINGS)
            answer = await self.answerer.ask(question, edit)
            if answer is not None:
                await self.answerer.show_answer_or_say_so(
                    question, answer, edit, where, placeholder
                )


async def _member(guild: discord.Guild, user_id: int) -> discord.Member | None:
    # No members intent: ask Discord (one REST call per configured guild).
    member = guild.get_member(user_id)
    if member is not None:
        return member
    try:
        return await guild.fetch_member(user_id)
    except discord.NotFound:
        return None
    except discord.HTTPException:
        log.warning("could not check membership of %s in guild %s", user_id, guild.id)
        return None
