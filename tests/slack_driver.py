"""The Slack side of the scenario suite: the real bolt AsyncApp behind its aiohttp endpoint,
signed requests as Slack sends them, and the real AsyncWebClient talking to the loopback fake
of the Web API (tests/fakes/slack_api.py), in front of a real AssistantService.

``Bot`` sends events and commands (the adapter's own tests use it); ``SlackDriver`` puts it
behind the platform-neutral interface of ``tests.scenario_driver``."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters import slack_render as render
from bot.adapters.slack import build_app
from bot.config import Settings
from bot.courses import Courses
from bot.service import AssistantService
from tests.fakes.core import FIXTURE_COURSES, FakeAnswerModel, WordOverlapRetriever, make_service
from tests.fakes.slack_api import BOT_TOKEN, BOT_USER_ID, Call, FakeSlackAPI, SlackSender
from tests.scenario_driver import Role, Shown, Vote, eventually, links_in

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ML, BIO, ML_TA_CHANNEL = "CML", "CBIO", "CMLTA"
STUDENT, OTHER_STUDENT, TA, GROUP_TA = "U1", "U2", "UTA", "UGROUPTA"
USERGROUPS = {"STAS": [GROUP_TA]}  # the fake Slack's user groups: ml's TAs

COURSES = Courses(
    [
        replace(c, slack=replace(c.slack, ta_usergroup_id="STAS")) if c.id == "ml" else c
        for c in FIXTURE_COURSES
    ]
)


@dataclass
class Bot:
    slack: FakeSlackAPI
    sender: SlackSender
    service: AssistantService
    model: FakeAnswerModel
    retriever: WordOverlapRetriever

    async def mention(self, channel: str, text: str, thread_ts: str = "", **extra: Any) -> str:
        """A student's message mentioning the bot; returns its ts."""
        ts = self.slack.add_user_message(channel, extra.get("user", STUDENT), text, thread_ts)
        event = {"type": "app_mention", "user": STUDENT, "text": text, "ts": ts, "channel": channel}
        event |= {"thread_ts": thread_ts} if thread_ts else {}
        status, _ = await self.sender.event(event | extra)
        assert status == 200
        return ts

    async def answer_in(self, channel: str, thread_ts: str, nth: int = 1) -> dict[str, Any]:
        """The ``nth`` answer the bot finished in a thread (the updated placeholder with its
        👍/👎, the bot's last step, so no call is still in flight when the test ends)."""

        def finished() -> list[dict[str, Any]]:
            return [
                m
                for m in self.slack.thread(channel, thread_ts)
                if m.get("metadata") and self.slack.reaction_names(m) == ["+1", "-1"]
            ]

        await eventually(lambda: len(finished()) >= nth)
        return finished()[nth - 1]

    async def command(self, command: str, text: str, user: str, channel: str) -> tuple[int, str]:
        key = f"{command.strip('/')}-{user}-{time.monotonic_ns()}"
        return await self.sender.command(command, text, user, channel, self.slack.response_url(key))


async def start_app(
    slack: FakeSlackAPI,
    tmp_path: Path,
    *,
    model: FakeAnswerModel | None = None,
    courses: Courses = COURSES,
    retriever: WordOverlapRetriever | None = None,
    service: AssistantService | None = None,
    process_before_response: bool = False,
    token: str = BOT_TOKEN,
    signing_secret: str = SECRET,
) -> tuple[Bot, TestServer]:
    """The app serving signed requests on a loopback port, its client on the fake Web API."""
    model = model or FakeAnswerModel()
    retriever = retriever or WordOverlapRetriever()
    service = service or make_service(tmp_path, courses, answer_model=model, retriever=retriever)
    client = AsyncWebClient(token=token, base_url=slack.api_url, timeout=5)
    settings = Settings(slack_signing_secret=signing_secret, slack_bot_token=token)
    app = build_app(
        service, courses, settings, client=client, process_before_response=process_before_response
    )
    server = TestServer(app.web_app(), host="127.0.0.1")
    await server.start_server()
    sender = SlackSender(str(server.make_url("/slack/events")), signing_secret)
    return Bot(slack, sender, service, model, retriever), server


def shown(message: dict[str, Any]) -> str:
    """All text a message displays (blocks and the notification text)."""
    parts = [message.get("text", "")]
    for block in message.get("blocks", []):
        parts.append((block.get("text") or {}).get("text", ""))
        for element in block.get("elements", []):
            text = element.get("text")
            parts.append(text["text"] if isinstance(text, dict) else text or "")
    return "\n".join(parts)


def interaction_id_of(message: dict[str, Any]) -> str:
    ref = render.answer_ref(message)
    assert ref is not None, message
    return ref.interaction_id


_REF = re.compile(r"ref `(\w+)`")
USERS: dict[Role, str] = {"student": STUDENT, "classmate": OTHER_STUDENT, "ta": TA}
REACTIONS: dict[Vote, str] = {"up": "+1", "down": "-1"}


class SlackDriver:
    """The scenario interface on Slack: questions by mention in the course channel, votes
    by reaction, the "Preciso de um humano" button, slash commands."""

    name, ta_only, already_escalated = "slack", render.TA_ONLY, render.ALREADY_ESCALATED

    def __init__(self, bot: Bot) -> None:
        self.bot, self.slack = bot, bot.slack
        self.service, self.model = bot.service, bot.model

    async def ask(self, who: Role, text: str) -> Shown:
        ts = await self.bot.mention(ML, f"<@{BOT_USER_ID}> {text}", user=USERS[who])
        return self._shown(await self.bot.answer_in(ML, ts))

    async def follow_up(
        self, who: Role, earlier: Shown, text: str, *, mention: bool = False
    ) -> Shown:
        nth = 1 + sum(1 for m in self.slack.thread(ML, earlier.thread) if m.get("metadata"))
        if mention:
            mentioning = f"<@{BOT_USER_ID}> {text}"
            await self.bot.mention(ML, mentioning, earlier.thread, user=USERS[who])
        else:
            await self.say(who, earlier, text)
        return self._shown(await self.bot.answer_in(ML, earlier.thread, nth))

    async def say(self, who: Role, earlier: Shown, text: str) -> None:
        ts = self.slack.add_user_message(ML, USERS[who], text, earlier.thread)
        event = {"type": "message", "channel": ML, "channel_type": "channel", "text": text}
        status, _ = await self.bot.sender.event(
            event | {"user": USERS[who], "ts": ts, "thread_ts": earlier.thread}
        )
        assert status == 200

    async def ask_unanswered(self, who: Role, text: str, told: str = "Não consegui") -> Shown:
        ts = await self.bot.mention(ML, f"<@{BOT_USER_ID}> {text}", user=USERS[who])

        def told_in_its_thread(call: Call) -> bool:
            replied = self.slack.message(ML, call.params["ts"]).get("thread_ts") == ts
            return told in call.params.get("text", "") and replied

        update = await self.slack.wait_for("chat.update", told_in_its_thread)
        return self._shown(self.slack.message(ML, update.params["ts"]))

    async def vote(self, who: Role, answer: Shown, vote: Vote, *, added: bool = True) -> None:
        before = len(self.service.store.votes_for(answer.ref))
        change = self.slack.react if added else self.slack.unreact
        change(ML, answer.message, USERS[who], REACTIONS[vote])
        event = {
            "type": "reaction_added" if added else "reaction_removed",
            "user": USERS[who],
            "reaction": REACTIONS[vote],
            "item": {"type": "message", "channel": ML, "ts": answer.message},
            "item_user": BOT_USER_ID,
            "event_ts": str(time.time()),
        }
        assert (await self.bot.sender.event(event))[0] == 200
        await eventually(lambda: len(self.service.store.votes_for(answer.ref)) > before)

    async def escalate(self, who: Role, answer: Shown) -> str:
        user, seen = USERS[who], len(self.slack.calls)
        url = self.slack.response_url(f"escalate-{user}-{time.monotonic_ns()}")
        message = self.slack.message(ML, answer.message)
        await self.bot.sender.block_action(
            render.ESCALATE_ACTION, answer.ref, user, ML, message, url
        )

        def told() -> list[Call]:
            return [
                c
                for c in self.slack.calls[seen:]
                if (c.method == "chat.postEphemeral" and c.params.get("user") == user)
                or (c.method == "chat.postMessage" and c.params.get("thread_ts") == answer.thread)
            ]

        return shown((await eventually(told))[0].params)

    async def ta_command(self, who: Role, command: str, about: Role | None = None) -> str:
        user = USERS[who]
        text = f"<@{USERS[about]}|{about}>" if about else ""
        key = f"{command}-{user}-{time.monotonic_ns()}"
        url = self.slack.response_url(key)
        status, _ = await self.bot.sender.command(f"/{command}", text, user, ML, url)
        assert status == 200
        reply = await self.slack.wait_for("response_url", lambda c: c.params["key"] == key)
        assert reply.params["response_type"] == "ephemeral"
        return shown(reply.params)

    def user_id(self, who: Role) -> str:
        return USERS[who]

    def placeholder_texts(self) -> list[str]:
        return [c.params.get("text", "") for c in self.slack.calls_to("chat.update")]

    def ta_pings(self) -> list[str]:
        posts = self.slack.calls_to("chat.postMessage")
        return [c.params.get("thread_ts", "") for c in posts if f"<@{TA}>" in c.params["text"]]

    def ta_channel_posts(self) -> list[str]:
        posts = self.slack.calls_to("chat.postMessage")
        return [c.params.get("text", "") for c in posts if c.params["channel"] == ML_TA_CHANNEL]

    def _shown(self, message: dict[str, Any]) -> Shown:
        text = shown(message)
        found = _REF.search(text)
        answered = render.answer_ref(message)
        ref = answered.interaction_id if answered else found.group(1) if found else ""
        return Shown(
            ref=ref,
            text=text,
            links=links_in(text),
            thread=message["thread_ts"],
            question=message["thread_ts"],
            message=message["ts"],
        )
