"""The bolt app: the bot's Web API client, every listener registered, and the two ways to
run it (HTTP endpoint or Socket Mode)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters import slack_render as render
from bot.adapters.common import AnswerCache
from bot.adapters.slack.answering import Answerer, AnswerRefs
from bot.adapters.slack.asking import Asking
from bot.adapters.slack.commands import TaCommands
from bot.adapters.slack.feedback import Feedback
from bot.adapters.slack.listeners import ack
from bot.adapters.slack.middleware import RetriedEvents
from bot.adapters.slack.tas import TaCheck
from bot.config import Settings, require
from bot.courses import Courses
from bot.service import AssistantService

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = (
    1.5  # chat.update is rate limited; a streaming answer updates at most this often
)
REMEMBERED_ANSWERS = 5000


def bot_client(settings: Settings) -> AsyncWebClient:
    """A Web API client for ``SLACK_BOT_TOKEN`` that waits out Slack's 429s (streaming edits
    can hit chat.update's rate limit) instead of failing the answer."""
    require(settings, "SLACK_BOT_TOKEN")
    client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value())
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    return client


class SlackAssistant:
    """The listeners: each acks at once and does its work in a bolt *lazy* listener, so it
    works in HTTP mode, Socket Mode and FaaS (``process_before_response=True``) alike."""

    def __init__(
        self,
        service: AssistantService,
        courses: Courses,
        *,
        progress_interval_s: float = PROGRESS_INTERVAL_S,
    ) -> None:
        self.service = service
        self.courses = courses
        answers: AnswerRefs = AnswerCache(REMEMBERED_ANSWERS)
        tas = TaCheck()
        self.retries = RetriedEvents()
        self.asking = Asking(courses, Answerer(service, answers, progress_interval_s))
        self.feedback = Feedback(service, courses, answers, tas)
        self.commands = TaCommands(service, courses, tas)

    def register(self, app: AsyncApp) -> None:
        asking, feedback, commands = self.asking, self.feedback, self.commands
        app.middleware(self.retries.drop_retried_events)
        app.event("app_mention")(ack=ack, lazy=[asking.on_mention])
        app.event("message")(ack=ack, lazy=[asking.on_message])
        app.event("reaction_added")(ack=ack, lazy=[feedback.on_reaction_added])
        app.event("reaction_removed")(ack=ack, lazy=[feedback.on_reaction_removed])
        app.command("/ask")(ack=asking.ack_ask, lazy=[asking.on_ask])
        app.command("/digest")(ack=ack, lazy=[commands.on_digest])
        app.command("/reindex")(ack=ack, lazy=[commands.on_reindex])
        app.action(render.VOTE_UP_ACTION)(ack=ack, lazy=[feedback.on_vote])
        app.action(render.VOTE_DOWN_ACTION)(ack=ack, lazy=[feedback.on_vote])
        app.action(render.ESCALATE_ACTION)(ack=ack, lazy=[feedback.on_escalate])


def build_app(
    service: AssistantService,
    courses: Courses,
    settings: Settings,
    *,
    client: AsyncWebClient | None = None,
    process_before_response: bool = False,
) -> AsyncApp:
    """The bolt app with every listener registered; ``client`` overrides the bot token's."""
    client = client or bot_client(settings)
    app = AsyncApp(
        name="course-assistant",
        client=client,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        process_before_response=process_before_response,
    )
    SlackAssistant(service, courses).register(app)
    return app


async def run_http(
    service: AssistantService,
    courses: Courses,
    settings: Settings,
    *,
    host: str = "0.0.0.0",
    path: str = "/slack/events",
    client: AsyncWebClient | None = None,
) -> None:
    """Serve the Events API / commands / interactivity URL on ``SLACK_PORT`` until cancelled.

    bolt verifies every request's signature with ``SLACK_SIGNING_SECRET`` (401 otherwise)."""
    require(settings, "SLACK_SIGNING_SECRET")
    app = build_app(service, courses, settings, client=client)
    runner = web.AppRunner(app.web_app(path=path, port=settings.slack_port))
    await runner.setup()
    await web.TCPSite(runner, host, settings.slack_port).start()
    log.info("slack: listening on http://%s:%d%s", host, settings.slack_port, path)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def run_socket_mode(
    service: AssistantService,
    courses: Courses,
    settings: Settings,
    *,
    client: AsyncWebClient | None = None,
) -> None:
    """Connect out to Slack over Socket Mode (no public URL needed) until cancelled."""
    require(settings, "SLACK_APP_TOKEN")
    app = build_app(service, courses, settings, client=client)
    handler = AsyncSocketModeHandler(app, settings.slack_app_token.get_secret_value())
    try:
        await handler.start_async()
    finally:
        await handler.close_async()
