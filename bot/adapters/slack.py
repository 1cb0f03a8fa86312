"""The Slack adapter: Slack events in, ``Question``s to the service, Block Kit answers out.

The only module that imports ``slack_bolt``/``slack_sdk``; what the messages look like is
decided in ``bot.adapters.slack_render`` (pure). Every listener acks at once and does its
work in a bolt *lazy* listener, so it works in HTTP mode, Socket Mode and FaaS
(``process_before_response=True``) alike.

Where the answer's interaction id lives: in the answer message's ``metadata``
(``event_type=course_assistant_answer``, payload ``{interaction_id, course_id}``) and in the
feedback buttons' values. A reaction finds it from a small in-process cache of the answers
this process posted, else by reading the message back with ``conversations.replies``
(``include_all_metadata``), so votes still count after a restart with no table of our own.

Bot scopes: app_mentions:read, chat:write, commands, reactions:read, reactions:write,
channels:history, groups:history, im:history, usergroups:read, files:write. Events:
app_mention, message.channels, message.groups, message.im, reaction_added, reaction_removed.
Slash commands: /ask, /digest, /reindex. Interactivity on (same request URL).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters import slack_render as render
from bot.config import Settings, require
from bot.courses import Course, Courses
from bot.errors import AskFailedError, BotError, ConfigError, InvalidQuestionError
from bot.ids import new_ulid
from bot.models import Answer, Digest, Question, Turn
from bot.service import AssistantService

log = logging.getLogger(__name__)

Payload = dict[str, Any]
PROGRESS_INTERVAL_S = (
    1.5  # chat.update is rate limited; a streaming answer updates at most this often
)
TA_GROUP_TTL_S = 300.0
EVENT_MEMORY_S = 3600.0  # Slack retries for about an hour at most
NOTE_EVERY_S = 600.0  # the "this channel has no course" note, per user and channel
REMEMBERED_ANSWERS = 5000


def bot_client(settings: Settings) -> AsyncWebClient:
    """A Web API client for ``SLACK_BOT_TOKEN`` that waits out Slack's 429s (streaming edits
    can hit chat.update's rate limit) instead of failing the answer."""
    require(settings, "SLACK_BOT_TOKEN")
    client = AsyncWebClient(token=settings.slack_bot_token.reveal())
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    return client


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
        signing_secret=settings.slack_signing_secret.reveal(),
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
    handler = AsyncSocketModeHandler(app, settings.slack_app_token.reveal())
    try:
        await handler.start_async()
    finally:
        await handler.close_async()


async def post_digest(client: AsyncWebClient, course: Course, digest: Digest) -> str:
    """Post the weekly digest (and its chart) in the course's TA channel; returns the ts."""
    channel = course.slack.ta_channel_id
    if not channel:
        raise ConfigError(
            f"course {course.id!r} has no Slack ta_channel_id; set it under [courses.slack] "
            "in the COURSES_FILE to receive the digest"
        )
    first_ts = ""
    for message in render.digest_messages(course.name, digest):
        posted = await client.chat_postMessage(channel=channel, **message.kwargs())
        first_ts = first_ts or str(posted["ts"])
    if digest.chart_png:
        week = digest.week_start.strftime("%Y-%m-%d")
        await client.files_upload_v2(
            channel=channel,
            content=digest.chart_png,
            filename=f"resumo-{course.id}-{week}.png",
            title=f"Resumo semanal · {course.name} · {week}",
        )
    return first_ts


async def post_digest_with_token(settings: Settings, course: Course, digest: Digest) -> str:
    """``post_digest`` for the scheduler process, which has settings but no client."""
    return await post_digest(bot_client(settings), course, digest)


# --- routing decisions (pure) ----------------------------------------------------------------


def dm_course(courses: Courses) -> Course | None:
    """A DM can be answered only when the workspace has exactly one course."""
    slack_courses = courses.with_slack_channels()
    return slack_courses[0] if len(slack_courses) == 1 else None


def command_course(courses: Courses, channel: str, text: str) -> Course | None:
    """The course a TA command is about: named in its text, else the channel's (course or
    TA channel), else the workspace's only course."""
    named = text.split()[0] if text.split() else ""
    if named:
        return next((c for c in courses if c.id == named), None)
    by_channel = courses.for_slack(channel) or next(
        (c for c in courses if c.slack.ta_channel_id == channel), None
    )
    return by_channel or dm_course(courses)


def slack_channels(courses: Courses) -> list[str]:
    return [ch for course in courses.with_slack_channels() for ch in course.slack.channel_ids]


class Recent:
    """Keys seen within ``ttl_s``: Slack's retried events, notes already given."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s, self._clock = ttl_s, clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_time(self, key: str) -> bool:
        now = self._clock()
        while self._seen and next(iter(self._seen.values())) < now - self._ttl_s:
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True


# --- the listeners ------------------------------------------------------------------------

P = ParamSpec("P")


def _logged(listener: Callable[P, Awaitable[None]]) -> Callable[P, Awaitable[None]]:
    """Log a listener's unexpected failure with its traceback (bolt would only print the
    message); the listeners tell the student themselves wherever they can."""

    @functools.wraps(listener)
    async def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            await listener(*args, **kwargs)
        except Exception:
            log.exception("slack: %s failed", listener.__name__)

    return run


async def _ack(ack: AsyncAck) -> None:
    await ack()


class SlackAssistant:
    """Listeners: each turns a payload into a service call and renders the result."""

    def __init__(
        self,
        service: AssistantService,
        courses: Courses,
        *,
        progress_interval_s: float = PROGRESS_INTERVAL_S,
    ) -> None:
        self.service = service
        self.courses = courses
        self._progress_interval_s = progress_interval_s
        self._events = Recent(EVENT_MEMORY_S)
        self._notes = Recent(NOTE_EVERY_S)
        self._answers: OrderedDict[tuple[str, str], render.AnswerRef] = OrderedDict()
        self._ta_groups: dict[str, tuple[float, frozenset[str]]] = {}

    def register(self, app: AsyncApp) -> None:
        app.middleware(self._drop_retried_events)
        app.event("app_mention")(ack=_ack, lazy=[self.on_mention])
        app.event("message")(ack=_ack, lazy=[self.on_message])
        app.event("reaction_added")(ack=_ack, lazy=[self.on_reaction_added])
        app.event("reaction_removed")(ack=_ack, lazy=[self.on_reaction_removed])
        app.command("/ask")(ack=self.ack_ask, lazy=[self.on_ask])
        app.command("/digest")(ack=_ack, lazy=[self.on_digest])
        app.command("/reindex")(ack=_ack, lazy=[self.on_reindex])
        app.action(render.VOTE_UP_ACTION)(ack=_ack, lazy=[self.on_vote])
        app.action(render.VOTE_DOWN_ACTION)(ack=_ack, lazy=[self.on_vote])
        app.action(render.ESCALATE_ACTION)(ack=_ack, lazy=[self.on_escalate])

    async def _drop_retried_events(
        self, body: Payload, next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        """Slack resends an event it thinks we missed (X-Slack-Retry-Num); answer it once."""
        event_id = body.get("event_id")
        if isinstance(event_id, str) and not self._events.first_time(event_id):
            log.info("slack: event %s already handled; acking the retry", event_id)
            return BoltResponse(status=200, body="")
        await next()
        return None

    # --- asking ---------------------------------------------------------------------------

    @_logged
    async def on_mention(
        self, event: Payload, client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        channel, user, bot = (
            event.get("channel", ""),
            event.get("user", ""),
            context.bot_user_id or "",
        )
        if not user or user == bot:
            return
        course = self.courses.for_slack(channel)
        if course is None:
            if self._notes.first_time(f"{channel}:{user}"):
                note = render.unconfigured_channel_note(channel)
                await client.chat_postEphemeral(channel=channel, user=user, text=note)
            return
        thread = event.get("thread_ts") or event["ts"]
        text = render.question_text(event.get("text", ""), bot)
        if not text:
            await client.chat_postMessage(
                channel=channel, thread_ts=thread, text=render.MENTION_HELP
            )
            return
        history = None if event.get("thread_ts") else ()  # None: read the thread's history
        await self._answer(client, course, channel, thread, user, text, history)

    @_logged
    async def on_message(
        self, event: Payload, client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        bot, user = context.bot_user_id or "", event.get("user", "")
        if event.get("subtype") or event.get("bot_id") or not user or user == bot:
            return  # edits, joins, bots (ourselves included)
        channel, ts, raw = event.get("channel", ""), event.get("ts", ""), event.get("text", "")
        thread = event.get("thread_ts") or ""
        in_thread = bool(thread) and thread != ts
        text = render.question_text(raw, bot)
        if event.get("channel_type") == "im":
            await self._direct_message(client, channel, thread if in_thread else ts, user, text)
            return
        if not in_thread or render.mentions(raw, bot) or not text:
            return  # top-level chatter is not for us; a mention is answered by on_mention
        course = self.courses.for_slack(channel)
        if course is None:
            return
        history = await self._history(channel, thread)
        if history:  # only the bot's own threads
            await self._answer(client, course, channel, thread, user, text, history)

    async def _direct_message(
        self, client: AsyncWebClient, channel: str, thread: str, user: str, text: str
    ) -> None:
        course = dm_course(self.courses)
        if course is None:
            note = render.ask_where_note(slack_channels(self.courses))
            await client.chat_postMessage(channel=channel, thread_ts=thread, text=note)
            return
        if text:
            await self._answer(client, course, channel, thread, user, text, None)

    def _ask_route(self, command: Payload) -> Course | str:
        """The course a ``/ask`` goes to, or the note to show instead."""
        if not command.get("text", "").strip():
            return render.ASK_HELP
        channel = command.get("channel_id", "")
        course = self.courses.for_slack(channel)
        if course is None and channel.startswith("D"):
            course = dm_course(self.courses)
        return course or render.ask_where_note(slack_channels(self.courses))

    async def ack_ask(self, ack: AsyncAck, command: Payload) -> None:
        route = self._ask_route(command)
        await (ack(text=route) if isinstance(route, str) else ack())

    @_logged
    async def on_ask(self, command: Payload, client: AsyncWebClient, respond: AsyncRespond) -> None:
        course = self._ask_route(command)
        if isinstance(course, str):
            return  # the ack already said why
        channel, user = command["channel_id"], command["user_id"]
        text = render.question_text(command.get("text", ""), "")
        try:  # a slash command leaves no message to thread under: post the question first
            echo = await client.chat_postMessage(
                channel=channel, **render.question_echo(user, text).kwargs()
            )
        except SlackApiError as exc:
            log.warning("slack: cannot post in %s: %s", channel, exc.response.get("error"))
            await respond(text=render.CANNOT_POST, response_type="ephemeral")
            return
        await self._answer(client, course, channel, str(echo["ts"]), user, text, ())

    async def _history(self, channel: str, thread: str) -> tuple[Turn, ...]:
        return await self.service.thread_history("slack", channel, thread)

    async def _answer(
        self,
        client: AsyncWebClient,
        course: Course,
        channel: str,
        thread: str,
        user: str,
        text: str,
        history: tuple[Turn, ...] | None,
    ) -> None:
        """Placeholder at once, progress while Claude writes, then the answer (or why not).

        ``history=None`` reads the thread's earlier turns here, where a failure is shown."""
        try:
            posted = await client.chat_postMessage(
                channel=channel, thread_ts=thread, **render.placeholder_message().kwargs()
            )
        except SlackApiError:
            log.exception(
                "slack: cannot post in %s (thread %s); is the bot a member?", channel, thread
            )
            return
        reply_ts = str(posted["ts"])
        progress = _Progress(client, channel, reply_ts, self._progress_interval_s)
        try:
            if history is None:
                history = await self._history(channel, thread)
            question = Question(course.id, text, "slack", channel, thread, user, history)
            answer = await self.service.ask(question, on_text=progress)
            await self._post_answer(client, course, channel, thread, reply_ts, answer)
        except InvalidQuestionError as exc:
            notice = render.notice(render.invalid_question(str(exc)))
            await _replace(client, channel, thread, reply_ts, notice)
        except AskFailedError as exc:
            await self._failed(client, course, channel, thread, reply_ts, exc.interaction_id, exc)
        except Exception as exc:
            await self._failed(client, course, channel, thread, reply_ts, new_ulid(), exc)

    async def _post_answer(
        self,
        client: AsyncWebClient,
        course: Course,
        channel: str,
        thread: str,
        reply_ts: str,
        answer: Answer,
    ) -> None:
        ref = render.AnswerRef(answer.interaction_id, course.id)
        metadata = render.answer_metadata(ref.interaction_id, ref.course_id)
        first, *rest = render.answer_messages(answer)
        await client.chat_update(channel=channel, ts=reply_ts, metadata=metadata, **first.kwargs())
        self._remember(channel, reply_ts, ref)
        for more in rest:
            posted = await client.chat_postMessage(
                channel=channel, thread_ts=thread, metadata=metadata, **more.kwargs()
            )
            self._remember(channel, str(posted["ts"]), ref)
        for name in ("+1", "-1"):  # the vote affordance students already know
            try:
                await client.reactions_add(channel=channel, timestamp=reply_ts, name=name)
            except SlackApiError as exc:
                log.warning(
                    "slack: could not add :%s: to %s: %s", name, reply_ts, exc.response.get("error")
                )

    async def _failed(
        self,
        client: AsyncWebClient,
        course: Course,
        channel: str,
        thread: str,
        reply_ts: str,
        ref: str,
        exc: BaseException,
    ) -> None:
        log.error("slack: could not answer in %s (ref %s)", channel, ref, exc_info=exc)
        tas_told = await self._tell_tas(client, course, render.failure_report(ref, channel, exc))
        await _replace(client, channel, thread, reply_ts, render.failure_message(ref, tas_told))

    async def _tell_tas(self, client: AsyncWebClient, course: Course, text: str) -> bool:
        if not course.slack.ta_channel_id:
            return False
        try:
            await client.chat_postMessage(channel=course.slack.ta_channel_id, text=text)
        except SlackApiError as exc:
            log.error("slack: could not tell the TAs in %s: %s", course.slack.ta_channel_id, exc)
            return False
        return True

    def _remember(self, channel: str, ts: str, ref: render.AnswerRef) -> None:
        self._answers[(channel, ts)] = ref
        while len(self._answers) > REMEMBERED_ANSWERS:
            self._answers.popitem(last=False)

    # --- feedback -------------------------------------------------------------------------

    @_logged
    async def on_reaction_added(
        self, event: Payload, client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await self._reaction(event, client, context.bot_user_id or "", added=True)

    @_logged
    async def on_reaction_removed(
        self, event: Payload, client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await self._reaction(event, client, context.bot_user_id or "", added=False)

    async def _reaction(
        self, event: Payload, client: AsyncWebClient, bot: str, *, added: bool
    ) -> None:
        value = render.vote_value(event.get("reaction", ""))
        user, item = event.get("user", ""), event.get("item") or {}
        if value is None or not user or user == bot or item.get("type") != "message":
            return
        if event.get("item_user") not in (None, bot):
            return  # a reaction on someone else's message
        ref = await self._answer_ref(client, item.get("channel", ""), item.get("ts", ""))
        if ref is None:
            return
        if not added:
            value = await self._standing_vote(client, item.get("channel", ""), item["ts"], user)
        try:
            course = self.courses.get(ref.course_id)
            is_ta = await self._is_ta(client, course, user)
            await self.service.record_feedback(ref.interaction_id, "slack", user, value, is_ta)
        except BotError:
            log.exception("slack: could not record the reaction on %s", ref.interaction_id)

    async def _standing_vote(self, client: AsyncWebClient, channel: str, ts: str, user: str) -> int:
        """After a removal: the user's 👍/👎 still on the message (0 when none), so removing
        👍 while 👎 stays keeps the 👎."""
        try:
            found = await client.reactions_get(channel=channel, timestamp=ts, full=True)
        except SlackApiError as exc:
            log.warning("slack: cannot read reactions of %s: %s", ts, exc.response.get("error"))
            return 0
        return render.standing_vote((found.get("message") or {}).get("reactions") or [], user)

    async def _answer_ref(
        self, client: AsyncWebClient, channel: str, ts: str
    ) -> render.AnswerRef | None:
        if (channel, ts) in self._answers:
            return self._answers[(channel, ts)]
        try:
            found = await client.conversations_replies(
                channel=channel,
                ts=ts,
                oldest=ts,
                latest=ts,
                inclusive=True,
                include_all_metadata=True,
                limit=10,
            )
        except SlackApiError as exc:
            log.warning(
                "slack: cannot read message %s in %s: %s", ts, channel, exc.response.get("error")
            )
            return None
        message = next((m for m in found.get("messages") or [] if m.get("ts") == ts), None)
        ref = render.answer_ref(message) if message else None
        if ref is not None:
            self._remember(channel, ts, ref)
        return ref

    @_logged
    async def on_vote(self, body: Payload, action: Payload, client: AsyncWebClient) -> None:
        channel, user, thread = _where(body)
        value = 1 if action.get("action_id") == render.VOTE_UP_ACTION else -1
        try:
            interaction = await self.service.interaction(action.get("value", ""))
            is_ta = await self._is_ta(client, self.courses.get(interaction.course_id), user)
            await self.service.record_feedback(interaction.id, "slack", user, value, is_ta)
            text = render.THANKS_FOR_VOTE
        except Exception as exc:
            text = self._logged_failure(exc, "recording a vote")
        await client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread, text=text)

    @_logged
    async def on_escalate(self, body: Payload, action: Payload, client: AsyncWebClient) -> None:
        channel, user, thread = _where(body)
        try:
            before = await self.service.escalate(action.get("value", ""))
            if before.escalated:
                await client.chat_postEphemeral(
                    channel=channel, user=user, thread_ts=thread, text=render.ALREADY_ESCALATED
                )
                return
            course = self.courses.get(before.course_id)
            tag = render.escalation_message(
                course.slack.ta_user_ids, course.slack.ta_usergroup_id, user
            )
            await client.chat_postMessage(channel=channel, thread_ts=thread, **tag.kwargs())
        except Exception as exc:
            text = self._logged_failure(exc, "calling the TAs")
            await client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread, text=text)

    async def _is_ta(self, client: AsyncWebClient, course: Course, user: str) -> bool:
        if user in course.slack.ta_user_ids:
            return True
        group = course.slack.ta_usergroup_id
        if not group:
            return False
        expires, members = self._ta_groups.get(group, (0.0, frozenset()))
        if expires < time.monotonic():
            try:
                listed = await client.usergroups_users_list(usergroup=group)
            except SlackApiError as exc:
                log.warning("slack: cannot list usergroup %s: %s", group, exc.response.get("error"))
                return False  # fail closed: TA powers need a positive answer
            members = frozenset(listed.get("users") or [])
            self._ta_groups[group] = (time.monotonic() + TA_GROUP_TTL_S, members)
        return user in members

    # --- TA commands ----------------------------------------------------------------------

    async def _ta_course(
        self, command: Payload, client: AsyncWebClient, respond: AsyncRespond
    ) -> Course | None:
        course = command_course(
            self.courses, command.get("channel_id", ""), command.get("text", "")
        )
        if course is None:
            known = ", ".join(self.courses.ids())
            await respond(
                text=f"Diga qual disciplina: `{command.get('command')} <id>` ({known}).",
                response_type="ephemeral",
            )
            return None
        if not await self._is_ta(client, course, command.get("user_id", "")):
            await respond(text=render.TA_ONLY, response_type="ephemeral")
            return None
        return course

    @_logged
    async def on_digest(
        self, command: Payload, client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        course = await self._ta_course(command, client, respond)
        if course is None:
            return
        try:
            digest = await self.service.build_digest(course.id)
        except Exception as exc:
            await respond(
                text=self._logged_failure(exc, "building the digest"), response_type="ephemeral"
            )
            return
        for message in render.digest_messages(course.name, digest):
            await respond(response_type="ephemeral", **message.kwargs())

    @_logged
    async def on_reindex(
        self, command: Payload, client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        course = await self._ta_course(command, client, respond)
        if course is None:
            return
        await respond(
            text=f"Reindexando *{render.neutralise(course.name)}*; aviso quando terminar.",
            response_type="ephemeral",
        )
        try:
            summary = await self.service.reindex(course.id)
            text = f":white_check_mark: {render.neutralise(summary)}"
        except Exception as exc:
            text = self._logged_failure(exc, "reindexing")
        await respond(text=text, response_type="ephemeral")

    @staticmethod
    def _logged_failure(exc: BaseException, doing: str) -> str:
        ref = exc.interaction_id if isinstance(exc, AskFailedError) else new_ulid()
        log.error("slack: failed %s (ref %s)", doing, ref, exc_info=exc)
        return render.failure_message(ref, tas_told=False).text


class _Progress:
    """``on_text`` for the service: edits the placeholder as the answer streams, throttled."""

    def __init__(self, client: AsyncWebClient, channel: str, ts: str, interval_s: float) -> None:
        self._client, self._channel, self._ts, self._interval_s = client, channel, ts, interval_s
        self._last = float("-inf")

    async def __call__(self, text_so_far: str) -> None:
        now = time.monotonic()
        if now - self._last < self._interval_s or not text_so_far.strip():
            return
        self._last = now
        try:
            await self._client.chat_update(
                channel=self._channel, ts=self._ts, **render.progress_message(text_so_far).kwargs()
            )
        except SlackApiError as exc:  # cosmetic: the final update still comes
            log.warning("slack: progress update failed: %s", exc.response.get("error"))


async def _replace(
    client: AsyncWebClient, channel: str, thread: str, ts: str, message: render.SlackMessage
) -> None:
    """Show ``message`` instead of the placeholder; post it anew if the edit is refused."""
    try:
        await client.chat_update(channel=channel, ts=ts, **message.kwargs())
    except SlackApiError:
        log.exception("slack: could not edit %s in %s; posting instead", ts, channel)
        try:
            await client.chat_postMessage(channel=channel, thread_ts=thread, **message.kwargs())
        except SlackApiError:
            log.exception("slack: could not tell the student in %s", channel)


def _where(body: Payload) -> tuple[str, str, str]:
    """(channel, user, thread ts) of a button click on an answer."""
    message = body.get("message") or {}
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id", "")
    thread = message.get("thread_ts") or container.get("thread_ts") or message.get("ts", "")
    return channel, (body.get("user") or {}).get("id", ""), thread
