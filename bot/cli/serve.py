"""The long-running processes: the chat adapters, the periodic worker, or all in one.

``Procfile`` runs ``discord``, ``slack`` and ``worker`` apart; ``run`` puts the configured
adapters, the judge worker and the digest clock in one process for a small course.
Chat adapters are imported only here, when their process starts.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
from collections.abc import Awaitable
from contextlib import ExitStack
from typing import Any

from bot.app import (
    Retrieval,
    build_journal,
    build_judge_worker,
    build_retrieval,
    build_service,
    build_store,
    freeze_startup_heap,
)
from bot.cli.stopping import Serving, serve_until_stopped
from bot.config import ConfigError, Settings, require
from bot.courses import Course, Courses, load_courses
from bot.judge import JudgeWorker
from bot.models import Digest
from bot.scheduler import build_scheduler, default_worker_id
from bot.store import Journal, SqlStore

log = logging.getLogger(__name__)


def add_parsers(commands: Any) -> None:
    discord = commands.add_parser("discord", help="run the Discord bot")
    discord.set_defaults(run=lambda args, settings: _serve(settings, discord=True))
    slack = commands.add_parser(
        "slack", help="run the Slack app (Socket Mode with SLACK_APP_TOKEN, else HTTP)"
    )
    slack.set_defaults(run=lambda args, settings: _serve(settings, slack=True))
    worker = commands.add_parser("worker", help="run the judge worker and the weekly digests")
    worker.set_defaults(run=lambda args, settings: _serve(settings, worker=True))
    run = commands.add_parser(
        "run", help="one process: every configured adapter, the judge worker and the digests"
    )
    run.set_defaults(run=_run_all)


def _run_all(args: argparse.Namespace, settings: Settings) -> int:
    discord = bool(settings.discord_token)
    slack = bool(settings.slack_bot_token)
    if not (discord or slack):
        raise ConfigError(
            "missing setting: DISCORD_TOKEN or SLACK_BOT_TOKEN — `run` needs at least one chat "
            "platform (see .env.example)"
        )
    return _serve(settings, discord=discord, slack=slack, worker=True)


def _serve(
    settings: Settings, *, discord: bool = False, slack: bool = False, worker: bool = False
) -> int:
    _require_settings(settings, discord=discord, slack=slack)
    courses = load_courses(settings.courses_file)
    asyncio.run(_main(settings, courses, discord=discord, slack=slack, worker=worker))
    return 0


def _require_settings(settings: Settings, *, discord: bool, slack: bool) -> None:
    """Every missing setting the chosen adapters need, named in one error."""
    needed = ["PSEUDONYM_SECRET"] if (discord or slack) else []
    needed += ["DISCORD_TOKEN"] if discord else []
    needed += ["SLACK_BOT_TOKEN"] if slack else []
    no_slack_mode = slack and not (settings.slack_app_token or settings.slack_signing_secret)
    if no_slack_mode:
        needed.append("SLACK_SIGNING_SECRET")
    try:
        require(settings, *needed)
    except ConfigError as missing:
        if not no_slack_mode:
            raise
        raise ConfigError(
            f"{missing}. Slack runs in Socket Mode with SLACK_APP_TOKEN (an app-level token, "
            "no public URL needed) or in HTTP mode with SLACK_SIGNING_SECRET: set one of them"
        ) from None


async def _main(
    settings: Settings, courses: Courses, *, discord: bool, slack: bool, worker: bool
) -> None:
    with ExitStack() as opened:  # closed in reverse, also when the start fails half-way
        store = build_store(settings)
        opened.callback(store.close)
        journal = build_journal(settings)
        chats: list[Awaitable[None]] = []
        service = None
        if discord or slack:
            retrieval = await _loaded_retrieval(settings)
            service = build_service(
                settings, courses, retrieval=retrieval, store=store, journal=journal
            )
            opened.callback(retrieval.retriever.close)
            if discord:
                from bot.adapters.discord import run_discord

                chats.append(run_discord(settings, service, courses))
            if slack:
                chats.append(_run_slack(settings, service, courses))
        scheduler = _scheduler(settings, courses, store, journal, worker=worker)
        scheduler.start()
        opened.callback(scheduler.shutdown, wait=False)
        judge = _judge_worker(settings, store) if worker else None
        if worker:
            log.info("worker: judging, journal replays and weekly digests scheduled")
        freeze_startup_heap()
        serving = Serving(chats, service, judge, store, journal, settings.shutdown_grace_s)
        await serve_until_stopped(serving)


async def _loaded_retrieval(settings: Settings) -> Retrieval:
    """The retrieval parts with the embedding model loaded now, so a model that cannot be
    loaded stops the start with its error instead of failing every question."""
    retrieval = build_retrieval(settings)
    await asyncio.to_thread(lambda: retrieval.embedder.dim)
    return retrieval


async def _run_slack(settings: Settings, service: Any, courses: Courses) -> None:
    from bot.adapters.slack import run_http, run_socket_mode

    if settings.slack_app_token:
        await run_socket_mode(service, courses, settings)
    else:
        await run_http(service, courses, settings)


def _scheduler(
    settings: Settings, courses: Courses, store: SqlStore, journal: Journal, *, worker: bool
) -> Any:
    """The worker's jobs; a chat process only replays the journal (its data directory may
    be its own), so what it journaled reaches the database even if no one asks again."""
    replay = functools.partial(journal.replay, store)
    if not worker:
        return build_scheduler(settings=settings, store=store, courses=(), journal_replay=replay)
    return build_scheduler(
        settings=settings,
        store=store,
        courses=digest_courses(settings, courses),
        poster=ChatDigestPoster(settings),
        journal_replay=replay,
    )


def _judge_worker(settings: Settings, store: SqlStore) -> JudgeWorker | None:
    """The judge worker, or None (and a warning) when the judge is off."""
    judge_worker = build_judge_worker(settings, store, default_worker_id())
    if judge_worker is None:
        log.warning(
            "the judge is off (no ANTHROPIC_API_KEY or JUDGE_ENABLED=false): "
            "interactions stay pending until it runs"
        )
    return judge_worker


def digest_courses(settings: Settings, courses: Courses) -> list[Course]:
    """Courses with a TA channel on a platform we have a token for; the others get no
    digest job (one would be claimed and marked sent without reaching anyone)."""
    chosen = []
    for course in courses:
        on_discord = bool(settings.discord_token) and bool(course.discord.ta_channel_id)
        on_slack = bool(settings.slack_bot_token) and bool(course.slack.ta_channel_id)
        if on_discord or on_slack:
            chosen.append(course)
        else:
            log.info("no weekly digest for %s: no TA channel on a configured platform", course.id)
    return chosen


class ChatDigestPoster:
    """Posts a digest to every platform where the course has a TA channel."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def post(self, course: Course, digest: Digest) -> None:
        if self.settings.discord_token and course.discord.ta_channel_id:
            from bot.adapters.discord import post_digest as post_to_discord

            await post_to_discord(self.settings, course, digest)
        if self.settings.slack_bot_token and course.slack.ta_channel_id:
            from bot.adapters.slack import post_digest_with_token

            await post_digest_with_token(self.settings, course, digest)
