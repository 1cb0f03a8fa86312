"""The Discord adapter: turns mentions, DMs, ``/ask``, reactions and button clicks into service
calls and renders the answers natively. Only this package imports ``discord``; what the
messages say is decided in ``bot.adapters.discord_render`` (pure).

One question, one public thread: a mention is answered in a thread started from the question,
``/ask`` in a thread started from the bot's own reply; in a bot thread, follow-ups need no
mention and carry the earlier turns. Every answer message carries its interaction id in the
"Preciso de um humano" button's custom_id and in the embed footer (see ``discord_render``),
so votes and escalations keep working after a restart without a table of our own.

Modules: ``client`` (the ``discord.Client`` subclass, start-up, event wiring), ``asking``
(mentions, follow-ups, DMs, ``/ask``), ``answering`` (placeholder, progress, the answer),
``feedback`` (votes, escalation), ``commands`` (TA commands), ``digest`` (REST-only digest
posting), ``views`` (embed and button), ``messaging`` (no pings, roles, places).
"""

from __future__ import annotations

from bot.adapters.discord.client import CourseBot, bot_intents, run_discord
from bot.adapters.discord.digest import post_digest

__all__ = ["CourseBot", "bot_intents", "post_digest", "run_discord"]
