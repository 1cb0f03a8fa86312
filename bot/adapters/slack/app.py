"""The bolt app: the bot's Web API client, every listener registered, and the two ways to
run it (HTTP endpoint or Socket Mode)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters import slack_render as render
from bot.adapters.common import AnswerCache
from bot.adapters.review import AccessLogWithoutQueries, add_review_routes
from bot.adapters.slack.answering import Answerer, AnswerRefs
from bot.adapters.slack.asking import Asking
from bot.adapters.slack.commands import TaCommands
from bot.adapters.slack.feedback import Feedback
from bot.adapters.slack.listeners import ack
from bot.adapters.slack.middleware import RetriedEvents, refuse_malformed_timestamps
from bot.adapters.slack.tas import TaCheck
from bot.backoff import backoff_delay
from bot.config import ConfigError, Settings, require
from bot.courses import Courses
from bot.errors import UnreachableError
from bot.service import AssistantService

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = (
    1.5  # chat.update is rate limited; a streaming answer updates at most this often
)
REMEMBERED_ANSWERS = 5000


@dataclass(frozen=True)
class Patience:
    """How long Socket Mode keeps trying to reach Slack at start: waits that double from
    ``first_wait_s`` up to ``longest_wait_s``, until ``give_up_after_s`` have passed."""

    first_wait_s: float = 1.0
    longest_wait_s: float = 30.0
    give_up_after_s: float = 120.0

    def wait_s(self, attempt: int) -> float:
        return backoff_delay(attempt, self.first_wait_s, self.longest_wait_s).total_seconds()


SOCKET_MODE_PATIENCE = Patience()


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
        answerer = Answerer(service, answers, progress_interval_s, tas)
        self.asking = Asking(courses, answerer, tas)
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
        app.command("/review")(ack=ack, lazy=[commands.on_review])
        app.command("/reindex")(ack=ack, lazy=[commands.on_reindex])
        app.command("/forget")(ack=ack, lazy=[commands.on_forget])
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
    """Serve the Events API / commands / interactivity URL on ``SLACK_PORT`` until cancelled,
    and the review page beside it (``/review/<course>``, behind its signed links).

    bolt verifies every request's signature with ``SLACK_SIGNING_SECRET`` (401 otherwise)."""
    require(settings, "SLACK_SIGNING_SECRET")
    app = build_app(service, courses, settings, client=client)
    web_app = app.web_app(path=path, port=settings.slack_port)
    web_app.middlewares.append(refuse_malformed_timestamps)
    add_review_routes(web_app, service)
    runner = web.AppRunner(web_app, access_log_class=AccessLogWithoutQueries)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, settings.slack_port).start()
        except OSError as error:
            raise ConfigError(
                f"cannot listen on {host}:{settings.slack_port} for Slack's requests "
                f"({error.strerror or error}): set SLACK_PORT to a free port"
            ) from error
        log.info(
            "slack: listening on http://%s:%d%s (and the review page on /review/<course>)",
            host,
            settings.slack_port,
            path,
        )
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def run_socket_mode(
    service: AssistantService,
    courses: Courses,
    settings: Settings,
    *,
    client: AsyncWebClient | None = None,
    patience: Patience | None = None,
) -> None:
    """Connect out to Slack over Socket Mode (no public URL needed) until cancelled.

    While Slack cannot be reached at start, it tries again after waits that double (one
    warning each) and gives up with an ``UnreachableError`` after ``patience`` (default
    ``SOCKET_MODE_PATIENCE``); a refused SLACK_APP_TOKEN is a ``ConfigError`` at once.
    Once connected, the SDK reconnects by itself."""
    require(settings, "SLACK_APP_TOKEN")
    app = build_app(service, courses, settings, client=client)
    handler = AsyncSocketModeHandler(app, settings.slack_app_token.get_secret_value())
    try:
        await _connect(handler.client, patience or SOCKET_MODE_PATIENCE)
        log.info("slack: connected in Socket Mode")
        await asyncio.Event().wait()
    finally:
        await handler.close_async()


async def _connect(client: SocketModeClient, patience: Patience) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + patience.give_up_after_s
    attempt = 0
    while True:
        attempt += 1
        try:
            # The SDK's own connect() would retry this forever, a traceback each time.
            opened = await client.web_client.apps_connections_open(app_token=client.app_token)
            break
        except SlackApiError as error:
            raise ConfigError(
                f"Slack refused SLACK_APP_TOKEN ({error.response.get('error')}): give an "
                "app-level token (xapp-...) with the connections:write scope, from the app's "
                "Basic Information page"
            ) from error
        except (aiohttp.ClientError, OSError) as error:
            wait_s = patience.wait_s(attempt)
            if loop.time() + wait_s > deadline:
                raise UnreachableError(
                    f"cannot reach Slack for Socket Mode after {attempt} attempt(s) over "
                    f"{loop.time() - started:.1f} s ({error}): check this machine's internet "
                    "access, DNS, firewall and HTTPS_PROXY"
                ) from error
            log.warning(
                "slack: cannot reach Slack (%s); attempt %d, trying again in %.1f s",
                error,
                attempt,
                wait_s,
            )
            await asyncio.sleep(wait_s)
    client.wss_uri = opened["url"]
    try:
        # Rare: Slack answered but its websocket cannot be opened (a proxy that blocks wss).
        await asyncio.wait_for(client.connect(), patience.give_up_after_s)
    except TimeoutError as error:
        raise UnreachableError(
            f"cannot open Slack's Socket Mode websocket in {patience.give_up_after_s:.0f} s: "
            "check that the firewall or HTTPS_PROXY lets wss:// connections through"
        ) from error
