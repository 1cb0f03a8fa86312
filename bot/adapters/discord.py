"""The Discord adapter: turns mentions, DMs, ``/ask``, reactions and button clicks into service
calls and renders the answers natively. The only module that imports ``discord``.

One question, one public thread: a mention is answered in a thread started from the question,
``/ask`` in a thread started from the bot's own reply; in a bot thread, follow-ups need no
mention and carry the earlier turns. Every answer message carries its interaction id in the
"Preciso de um humano" button's custom_id and in the embed footer (see ``discord_render``),
so votes and escalations keep working after a restart without a table of our own.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import discord
from discord import app_commands

from bot.adapters.discord_render import (
    ESCALATION_ACK,
    HUMAN_BUTTON_LABEL,
    HUMAN_CUSTOM_ID_TEMPLATE,
    NO_COURSE_HERE,
    PLACEHOLDER,
    TA_ONLY,
    UNKNOWN_ANSWER,
    USAGE_HINT,
    VOTE_EMOJI,
    EmbedSpec,
    Throttle,
    answers_unasked_in_thread,
    course_for_ta_command,
    digest_chunks,
    dm_where_to_ask,
    escalated_thread_name,
    escalation_text,
    failure_text,
    human_custom_id,
    invalid_question_text,
    is_ta,
    not_configured_note,
    progress_text,
    question_echo,
    ref_from_custom_id,
    ref_from_footer,
    render_answer,
    strip_bot_mention,
    thread_name,
    vote_value,
)
from bot.config import Settings, require
from bot.courses import Course, Courses
from bot.errors import AskFailedError, BotError, InvalidQuestionError, UnknownInteractionError
from bot.models import Answer, Digest, Question
from bot.service import AssistantService

log = logging.getLogger(__name__)

# Answers echo student text and model output: they must never ping anyone.
NO_PINGS = discord.AllowedMentions.none()
REMEMBERED_ANSWERS = 4096  # message id -> ref, a cache; the message itself is the record

# The bot has no voice; without this, every client start logs two warnings about it.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False

EditMessage = Callable[..., Awaitable[Any]]


def bot_intents() -> discord.Intents:
    """Guild and DM messages with their content (follow-ups in threads need no mention) and
    reactions; no privileged member list (roles come with each event)."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.message_content = True
    intents.guild_reactions = True
    intents.dm_reactions = True
    return intents


class HumanButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=HUMAN_CUSTOM_ID_TEMPLATE
):
    """ "Preciso de um humano": works on any answer, also those posted before a restart."""

    def __init__(self, ref: str) -> None:
        super().__init__(
            discord.ui.Button(
                label=HUMAN_BUTTON_LABEL,
                emoji="🙋",
                style=discord.ButtonStyle.secondary,
                custom_id=human_custom_id(ref),
            )
        )
        self.ref = ref

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any, /
    ) -> HumanButton:
        return cls(match["ref"])

    async def callback(self, interaction: discord.Interaction) -> None:
        client = interaction.client
        if isinstance(client, CourseBot):
            await client.escalate(interaction, self.ref)


def answer_view(ref: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(HumanButton(ref))
    return view


def to_embed(spec: EmbedSpec) -> discord.Embed:
    embed = discord.Embed(
        title=spec.title or None, description=spec.description or None, color=spec.color
    )
    embed.set_footer(text=spec.footer)
    return embed


class _Progress:
    """Shows the answer growing while Claude streams: at most one edit in flight, throttled."""

    def __init__(self, edit: EditMessage, throttle: Throttle) -> None:
        self._edit = edit
        self._throttle = throttle
        self._task: asyncio.Task[None] | None = None

    async def update(self, text_so_far: str) -> None:
        if self._task is not None and not self._task.done():
            return
        if self._throttle.ready():
            self._task = asyncio.create_task(self._show(progress_text(text_so_far)))

    async def _show(self, text: str) -> None:
        try:
            await self._edit(content=text, allowed_mentions=NO_PINGS)
        except discord.HTTPException:
            log.warning("could not show the answer's progress", exc_info=True)

    async def finish(self) -> None:
        """Wait for the last progress edit, so the final answer is never overwritten by it."""
        if self._task is not None:
            await self._task


class CourseBot(discord.Client):
    def __init__(
        self,
        service: AssistantService,
        courses: Courses,
        settings: Settings,
        *,
        progress_interval_s: float = 1.0,
        **client_options: Any,
    ) -> None:
        """``client_options`` go to ``discord.Client`` (e.g. ``proxy``, ``guild_ready_timeout``)."""
        super().__init__(intents=bot_intents(), allowed_mentions=NO_PINGS, **client_options)
        self.service = service
        self.courses = courses
        self.settings = settings
        self.progress_interval_s = progress_interval_s
        self.tree = app_commands.CommandTree(self)
        self._refs: OrderedDict[int, str | None] = OrderedDict()
        self._add_commands()

    # ------------------------------------------------------------ start-up

    def _add_commands(self) -> None:
        @app_commands.command(name="ask", description="Pergunte sobre as aulas da disciplina")
        @app_commands.describe(question="Sua pergunta")
        async def ask(interaction: discord.Interaction, question: str) -> None:
            await self.ask_command(interaction, question)

        @app_commands.command(name="digest", description="Monitores: prévia do resumo da semana")
        async def digest(interaction: discord.Interaction) -> None:
            await self.digest_command(interaction)

        @app_commands.command(name="reindex", description="Monitores: reindexar as aulas")
        async def reindex(interaction: discord.Interaction) -> None:
            await self.reindex_command(interaction)

        commands: tuple[app_commands.Command[Any, Any, None], ...] = (ask, digest, reindex)
        for command in commands:
            self.tree.add_command(command)
        self.tree.error(self._on_command_error)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(HumanButton)
        # Guild commands update at once; global ones can take an hour to appear.
        for guild_id in sorted({c.discord.guild_id for c in self.courses if c.discord.guild_id}):
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            try:
                await self.tree.sync(guild=guild)
            except discord.HTTPException as exc:
                log.error(
                    "could not register /ask, /digest, /reindex in guild %s (%s); invite the bot "
                    "there with the applications.commands scope",
                    guild_id,
                    exc,
                )

    # ------------------------------------------------------------ messages

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or self.user is None:
            return
        try:
            await self._route(message)
        except Exception:
            log.exception(
                "could not handle message %s in channel %s", message.id, message.channel.id
            )

    async def _route(self, message: discord.Message) -> None:
        if message.guild is None:
            await self._direct_message(message)
            return
        channel = message.channel
        if isinstance(channel, discord.PartialMessageable):
            channel = await self.fetch_channel(channel.id)  # type: ignore[assignment]
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
        return self.user is not None and any(u.id == self.user.id for u in message.mentions)

    def _question_text(self, message: discord.Message) -> str:
        assert self.user is not None
        return strip_bot_mention(message.content, self.user.id)

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
        )
        try:
            thread = await message.create_thread(name=thread_name(text))
        except discord.HTTPException:
            # E.g. no "Create Public Threads" permission: answer in the channel rather than not.
            log.warning("could not start a thread in channel %s", message.channel.id, exc_info=True)
            await self._answer_with_placeholder(message.channel, question, reply_to=message)
            return
        await self._answer_with_placeholder(thread, replace(question, thread=str(thread.id)))

    async def _thread_message(
        self, message: discord.Message, thread: discord.Thread, mentioned: bool
    ) -> None:
        assert self.user is not None and message.guild is not None
        course = self.courses.for_discord(message.guild.id, thread.parent_id or 0)
        if course is None:
            return
        author_is_ta = is_ta(_role_ids(message.author), course.discord.ta_role_ids)
        unasked = thread.owner_id == self.user.id and answers_unasked_in_thread(
            thread.name, author_is_ta
        )
        if not (mentioned or unasked):
            return
        history = await self.service.thread_history(
            "discord", str(thread.parent_id), str(thread.id)
        )
        if not history and not mentioned:
            return  # a thread the bot started for something else
        text = self._question_text(message)
        if not text:
            return
        question = Question(
            course_id=course.id,
            text=text,
            platform="discord",
            channel=str(thread.parent_id),
            thread=str(thread.id),
            asker=str(message.author.id),
            history=history,
        )
        await self._answer_with_placeholder(thread, question)

    async def _explain_unconfigured(self, message: discord.Message) -> None:
        """Only a TA (or someone who can manage channels) gets the setup note; others no noise."""
        assert message.guild is not None
        author = message.author
        roles = _role_ids(author)
        here = self.courses.for_discord_guilds([message.guild.id])
        can_manage = isinstance(author, discord.Member) and author.guild_permissions.manage_channels
        if can_manage or any(is_ta(roles, c.discord.ta_role_ids) for c in here):
            note = not_configured_note(message.guild.id, message.channel.id)
            await message.reply(note, allowed_mentions=NO_PINGS)

    async def _direct_message(self, message: discord.Message) -> None:
        course, shared = await self._dm_course(message.author.id)
        if course is None:
            await message.channel.send(dm_where_to_ask(shared), allowed_mentions=NO_PINGS)
            return
        text = self._question_text(message)
        if not text:
            return
        question = Question(
            course_id=course.id,
            text=text,
            platform="discord",
            channel=str(message.channel.id),
            asker=str(message.author.id),
        )
        await self._answer_with_placeholder(message.channel, question)

    async def _dm_course(self, user_id: int) -> tuple[Course | None, list[Course]]:
        """The one configured course whose guild the user shares with the bot, if exactly one."""
        mutual = []
        for guild_id in {c.discord.guild_id for c in self.courses if c.discord.guild_id}:
            guild = self.get_guild(guild_id)
            if guild is not None and await self._is_member(guild, user_id):
                mutual.append(guild_id)
        shared = self.courses.for_discord_guilds(mutual)
        return (shared[0] if len(shared) == 1 else None), shared

    @staticmethod
    async def _is_member(guild: discord.Guild, user_id: int) -> bool:
        # No members intent: ask Discord (one REST call per configured guild).
        if guild.get_member(user_id) is not None:
            return True
        try:
            await guild.fetch_member(user_id)
        except discord.NotFound:
            return False
        except discord.HTTPException:
            log.warning("could not check membership of %s in guild %s", user_id, guild.id)
            return False
        return True

    # ------------------------------------------------------------ answering

    async def _answer_with_placeholder(
        self,
        target: discord.abc.Messageable,
        question: Question,
        reply_to: discord.Message | None = None,
    ) -> None:
        extra: dict[str, Any] = {"reference": reply_to} if reply_to is not None else {}
        placeholder = await target.send(PLACEHOLDER, allowed_mentions=NO_PINGS, **extra)
        answer = await self._ask(question, placeholder.edit)
        if answer is not None:
            await self._show_answer_or_say_so(answer, placeholder.edit, target, placeholder)

    async def _show_answer_or_say_so(
        self,
        answer: Answer,
        edit_first: EditMessage,
        target: discord.abc.Messageable,
        first: discord.Message,
    ) -> None:
        try:
            await self._show_answer(answer, edit_first, target, first)
        except discord.HTTPException:
            log.exception("could not post the answer of interaction %s", answer.interaction_id)
            await edit_first(content=failure_text(answer.interaction_id), allowed_mentions=NO_PINGS)

    async def _ask(self, question: Question, edit: EditMessage) -> Answer | None:
        """The service's answer, or None after telling the student what went wrong."""
        progress = _Progress(edit, Throttle(self.progress_interval_s))
        problem: str
        try:
            answer = await self.service.ask(question, on_text=progress.update)
        except InvalidQuestionError as exc:
            problem = invalid_question_text(str(exc))
        except AskFailedError as exc:
            log.error("could not answer: %s", exc)
            problem = failure_text(exc.interaction_id)
        except Exception:
            log.exception("ask failed for a question in course %s", question.course_id)
            problem = failure_text(None)
        else:
            await progress.finish()
            return answer
        await progress.finish()
        await edit(content=problem, embed=None, allowed_mentions=NO_PINGS)
        return None

    async def _show_answer(
        self,
        answer: Answer,
        edit_first: EditMessage,
        target: discord.abc.Messageable,
        first: discord.Message,
    ) -> None:
        """The first chunk replaces the placeholder; the last carries citations, button, votes."""
        rendered = render_answer(answer)
        embed, view = to_embed(rendered.embed), answer_view(rendered.ref)
        chunks = rendered.chunks
        if len(chunks) == 1:
            last = (
                await edit_first(
                    content=chunks[0], embed=embed, view=view, allowed_mentions=NO_PINGS
                )
                or first
            )
        else:
            await edit_first(content=chunks[0], allowed_mentions=NO_PINGS)
            for chunk in chunks[1:-1]:
                await target.send(chunk, allowed_mentions=NO_PINGS)
            last = await target.send(chunks[-1], embed=embed, view=view, allowed_mentions=NO_PINGS)
        self._remember(last.id, rendered.ref)
        await _add_vote_reactions(last)

    def _remember(self, message_id: int, ref: str | None) -> None:
        self._refs[message_id] = ref
        self._refs.move_to_end(message_id)
        while len(self._refs) > REMEMBERED_ANSWERS:
            self._refs.popitem(last=False)

    # ------------------------------------------------------------ /ask

    async def ask_command(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.defer(thinking=True)
        course, channel_id, thread = self._place_of(interaction)
        if course is None:  # the commands are per guild, so this is an unconfigured channel
            await self._reply_original(interaction, NO_COURSE_HERE)
            return
        question = Question(
            course_id=course.id,
            text=text,
            platform="discord",
            channel=str(channel_id),
            asker=str(interaction.user.id),
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
        await self._answer_with_placeholder(new_thread, question)

    def _place_of(
        self, interaction: discord.Interaction
    ) -> tuple[Course | None, int, discord.Thread | None]:
        """The course of where the interaction happened (a thread counts as its parent)."""
        channel = interaction.channel
        thread = channel if isinstance(channel, discord.Thread) else None
        channel_id = (thread.parent_id or 0) if thread else (interaction.channel_id or 0)
        if interaction.guild_id is None:
            return None, channel_id, None
        return self.courses.for_discord(interaction.guild_id, channel_id), channel_id, thread

    async def _answer_in_reply(
        self, interaction: discord.Interaction, question: Question, where: discord.abc.Messageable
    ) -> None:
        """The deferred /ask reply itself becomes the answer (inside a thread, or no thread)."""
        edit = interaction.edit_original_response
        placeholder = await edit(content=PLACEHOLDER, allowed_mentions=NO_PINGS)
        answer = await self._ask(question, edit)
        if answer is not None:
            await self._show_answer_or_say_so(answer, edit, where, placeholder)

    async def _reply_original(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.edit_original_response(content=text, allowed_mentions=NO_PINGS)

    # ------------------------------------------------------------ feedback

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self._on_reaction(payload, added=True)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self._on_reaction(payload, added=False)

    async def _on_reaction(self, payload: discord.RawReactionActionEvent, *, added: bool) -> None:
        value = vote_value(str(payload.emoji), added)
        if value is None or self.user is None or payload.user_id == self.user.id:
            return
        if payload.message_author_id not in (None, self.user.id):
            return  # a reaction on someone else's message
        try:
            ref = await self._ref_of(payload.channel_id, payload.message_id)
            if ref is None:
                return
            await self.service.record_feedback(
                ref, "discord", str(payload.user_id), value, is_ta=self._reactor_is_ta(payload)
            )
        except UnknownInteractionError as exc:
            log.warning(
                "a vote on message %s names no known interaction: %s", payload.message_id, exc
            )
        except Exception:
            log.exception("could not record the vote on message %s", payload.message_id)

    def _reactor_is_ta(self, payload: discord.RawReactionActionEvent) -> bool:
        if payload.member is None or payload.guild_id is None:
            return False  # removals and DMs carry no roles; a retraction needs none
        roles = [r.id for r in payload.member.roles]
        here = self.courses.for_discord_guilds([payload.guild_id])
        return any(is_ta(roles, c.discord.ta_role_ids) for c in here)

    async def _ref_of(self, channel_id: int, message_id: int) -> str | None:
        """The interaction id written on an answer message (cached; else read back)."""
        if message_id in self._refs:
            return self._refs[message_id]
        message = await self.get_partial_messageable(channel_id).fetch_message(message_id)
        ref = None
        if self.user is not None and message.author.id == self.user.id:
            ref = _ref_on(message)
        self._remember(message_id, ref)
        return ref

    async def escalate(self, interaction: discord.Interaction, ref: str) -> None:
        await interaction.response.send_message(ESCALATION_ACK, ephemeral=True)
        try:
            record = await self.service.escalate(ref)
            course = self.courses.get(record.course_id)
        except (UnknownInteractionError, BotError):
            log.warning("escalation of unknown interaction %s", ref, exc_info=True)
            await interaction.followup.send(UNKNOWN_ANSWER, ephemeral=True)
            return
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
            channel = self.get_partial_messageable(course.discord.ta_channel_id)
        if isinstance(channel, discord.abc.Messageable):
            await channel.send(escalation_text(roles, ref), allowed_mentions=pings)
        if isinstance(channel, discord.Thread):
            await _mark_escalated(channel)

    # ------------------------------------------------------------ TA commands

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

    async def _ta_course(self, interaction: discord.Interaction) -> Course | None:
        """The course a TA command is for, checked here by role; refusals are ephemeral."""
        course, channel_id, _ = self._place_of(interaction)
        guild_id = interaction.guild_id
        here = self.courses.for_discord_guilds([guild_id]) if guild_id else []
        course = course_for_ta_command(here, course, channel_id)
        roles = _role_ids(interaction.user)
        if course is None:
            await interaction.response.send_message(NO_COURSE_HERE, ephemeral=True)
            return None
        if not is_ta(roles, course.discord.ta_role_ids):
            await interaction.response.send_message(TA_ONLY, ephemeral=True)
            return None
        return course

    async def _on_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        log.error(
            "command %s failed", interaction.command and interaction.command.name, exc_info=error
        )
        try:
            if interaction.response.is_done():
                await interaction.followup.send(failure_text(None), ephemeral=True)
            else:
                await interaction.response.send_message(failure_text(None), ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell the user that the command failed")


def _role_ids(user: discord.User | discord.Member) -> list[int]:
    """A member's role ids (a DM's author is a plain User, with none)."""
    return [role.id for role in user.roles] if isinstance(user, discord.Member) else []


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


async def _add_vote_reactions(message: discord.Message) -> None:
    # The answer is already shown: a failure here must not replace it with an error.
    try:
        for emoji in VOTE_EMOJI:
            await message.add_reaction(emoji)
    except discord.HTTPException:
        log.warning("could not add the vote reactions to message %s", message.id, exc_info=True)


async def _mark_escalated(thread: discord.Thread) -> None:
    try:
        await thread.edit(name=escalated_thread_name(thread.name))
    except discord.HTTPException:
        log.warning("could not mark thread %s as escalated", thread.id, exc_info=True)


def chart_file(digest: Digest) -> discord.File:
    assert digest.chart_png is not None
    return discord.File(io.BytesIO(digest.chart_png), filename=f"perguntas-{digest.course_id}.png")


async def run_discord(settings: Settings, service: AssistantService, courses: Courses) -> None:
    """Run the bot until it is closed (Ctrl-C or the process stops)."""
    require(settings, "DISCORD_TOKEN")
    async with CourseBot(service, courses, settings) as bot:
        await bot.start(settings.discord_token.reveal())


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
        await client.login(settings.discord_token.reveal())
        channel = client.get_partial_messageable(course.discord.ta_channel_id)
        chunks = digest_chunks(digest)
        for position, chunk in enumerate(chunks, 1):
            if position == len(chunks) and digest.chart_png:
                await channel.send(chunk, file=chart_file(digest), allowed_mentions=NO_PINGS)
            else:
                await channel.send(chunk, allowed_mentions=NO_PINGS)
