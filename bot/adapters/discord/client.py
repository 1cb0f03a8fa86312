"""The Discord client: intents, the slash commands, start-up, and the gateway events handed
to the parts that handle them (asking, feedback, TA commands)."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import discord
from discord import app_commands

from bot.adapters.common import AnswerCache
from bot.adapters.discord.answering import REMEMBERED_ANSWERS, Answerer
from bot.adapters.discord.asking import Asking
from bot.adapters.discord.commands import TaCommands, report_command_error
from bot.adapters.discord.feedback import Feedback
from bot.adapters.discord.messaging import NO_PINGS
from bot.adapters.discord.views import HumanButton
from bot.config import ConfigError, Settings, require
from bot.courses import Courses
from bot.errors import UnreachableError
from bot.service import AssistantService

log = logging.getLogger(__name__)

# The bot has no voice; without this, every client start logs two warnings about it.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False


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
        self.tree = app_commands.CommandTree(self)
        refs: AnswerCache[int, str | None] = AnswerCache(REMEMBERED_ANSWERS)
        answerer = Answerer(self, service, refs, progress_interval_s)
        self.asking = Asking(self, service, courses, answerer)
        self.feedback = Feedback(self, service, courses, refs)
        self.ta_commands = TaCommands(service, courses)
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

        @app_commands.command(
            name="review", description="Monitores: link para a página de revisão das respostas"
        )
        async def review(interaction: discord.Interaction) -> None:
            await self.review_command(interaction)

        @app_commands.command(name="reindex", description="Monitores: reindexar as aulas")
        async def reindex(interaction: discord.Interaction) -> None:
            await self.reindex_command(interaction)

        @app_commands.command(
            name="forget", description="Monitores: apagar os dados de um estudante"
        )
        @app_commands.describe(estudante="@estudante (ou o id do usuário)")
        async def forget(interaction: discord.Interaction, estudante: str) -> None:
            await self.ta_commands.forget_command(interaction, estudante)

        commands: tuple[app_commands.Command[Any, Any, None], ...] = (
            ask,
            digest,
            review,
            reindex,
            forget,
        )
        for command in commands:
            self.tree.add_command(command)
        self.tree.error(report_command_error)

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
                    "could not register /ask, /digest, /review, /reindex, /forget in guild %s "
                    "(%s); "
                    "invite the bot there with the applications.commands scope",
                    guild_id,
                    exc,
                )

    # ------------------------------------------------------------ events and commands

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or self.user is None:
            return
        try:
            await self.asking.route(message)
        except Exception:
            log.exception(
                "could not handle message %s in channel %s", message.id, message.channel.id
            )

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.feedback.on_reaction(payload, added=True)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self.feedback.on_reaction(payload, added=False)

    async def escalate(self, interaction: discord.Interaction, ref: str) -> None:
        """A click on "Preciso de um humano" (see ``views.HumanButton``)."""
        await self.feedback.escalate(interaction, ref)

    async def ask_command(self, interaction: discord.Interaction, text: str) -> None:
        await self.asking.ask_command(interaction, text)

    async def digest_command(self, interaction: discord.Interaction) -> None:
        await self.ta_commands.digest_command(interaction)

    async def review_command(self, interaction: discord.Interaction) -> None:
        await self.ta_commands.review_command(interaction)

    async def reindex_command(self, interaction: discord.Interaction) -> None:
        await self.ta_commands.reindex_command(interaction)


async def run_discord(settings: Settings, service: AssistantService, courses: Courses) -> None:
    """Run the bot until it is closed (Ctrl-C or the process stops). A refused token, a
    privileged intent not turned on, or Discord out of reach at start end it with an error
    that says what to do; once connected, discord.py reconnects by itself."""
    require(settings, "DISCORD_TOKEN")
    async with CourseBot(service, courses, settings) as bot:
        await _log_in(bot, settings.discord_token.get_secret_value())
        try:
            await bot.connect()
        except discord.PrivilegedIntentsRequired as error:
            raise ConfigError(
                "Discord refused the Message Content intent: turn on Message Content Intent in "
                "the Developer Portal (your application, Bot, Privileged Gateway Intents)"
            ) from error


async def _log_in(bot: CourseBot, token: str) -> None:
    try:
        await bot.login(token)
    except discord.LoginFailure as error:
        raise ConfigError(
            "Discord refused DISCORD_TOKEN: copy the bot's token from the Developer Portal "
            "(your application, Bot, Reset Token)"
        ) from error
    except (aiohttp.ClientError, OSError, discord.DiscordServerError) as error:
        raise UnreachableError(
            f"cannot reach Discord ({error}): check this machine's internet access, DNS and "
            "firewall, or https://discordstatus.com"
        ) from error
