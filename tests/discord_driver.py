"""The Discord side of the scenario suite: the real discord.py client logged in to the loopback
fake of Discord's gateway and REST API (tests/fakes/discord_server.py), talking to a real
AssistantService over fixture lectures (tests/fakes/core.py).

``Harness`` drives the fake by gateway events and REST calls (the adapter's own tests use it);
``DiscordDriver`` puts it behind the platform-neutral interface of ``tests.scenario_driver``."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.adapters import discord_render as render
from bot.adapters.discord import CourseBot
from bot.config import Settings
from bot.service import AssistantService
from tests.fakes.core import FIXTURE_COURSES, FakeAnswerModel, WordOverlapRetriever, make_service
from tests.fakes.discord_server import FakeDiscord, FakeGuild, FakeMember, Json
from tests.scenario_driver import Role, Shown, Vote, eventually, links_in

ML_GUILD, BIO_GUILD = 1001, 1002
ML_CHANNEL, BIO_CHANNEL, ML_UNCONFIGURED, ML_TA_CHANNEL = 2001, 2002, 2003, 2009
ML_TA_ROLE = 3001

STUDENT = FakeMember(5001, "aluna")
TA = FakeMember(5002, "monitora", roles=(ML_TA_ROLE,))
BIO_STUDENT = FakeMember(5003, "biologa")
BOTH_COURSES = FakeMember(5004, "dupla")
CLASSMATE = FakeMember(5005, "colega")

NO_PINGS: dict[str, list[int]] = {"parse": []}
EPHEMERAL = 64  # a message flag: only the one who ran the command sees it
SETTINGS = Settings(discord_token="fake-token")


def guilds() -> list[FakeGuild]:
    return [
        FakeGuild(
            ML_GUILD,
            "Aprendizado de Máquina",
            (ML_CHANNEL, ML_UNCONFIGURED, ML_TA_CHANNEL),
            role_ids=(ML_TA_ROLE,),
            members=[STUDENT, TA, BOTH_COURSES, CLASSMATE],
        ),
        FakeGuild(
            BIO_GUILD,
            "Biologia",
            (BIO_CHANNEL,),
            role_ids=(3002,),
            members=[BIO_STUDENT, BOTH_COURSES],
        ),
    ]


@dataclass
class Harness:
    fake: FakeDiscord
    service: AssistantService
    model: FakeAnswerModel
    bot: CourseBot | None = None
    task: asyncio.Task[None] | None = None
    answers: list[str] = field(default_factory=list)
    token: str = "fake-token"

    async def start_bot(self) -> None:
        self.bot = CourseBot(
            self.service,
            FIXTURE_COURSES,
            Settings(discord_token=self.token),
            progress_interval_s=0.0,
            guild_ready_timeout=0.05,  # discord.py waits this long after the last GUILD_CREATE
        )
        self.task = asyncio.create_task(self.bot.start(self.token))
        ready = asyncio.create_task(self.bot.wait_until_ready())
        done, _ = await asyncio.wait(
            {self.task, ready}, timeout=5, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            if self.task in done:
                self.task.result()  # raises the start-up error
            raise AssertionError("the bot did not become ready against the fake gateway")

    async def stop_bot(self) -> None:
        if self.bot is not None:
            await self.bot.close()
        if self.task is not None:
            await asyncio.wait_for(self.task, 5)

    async def close(self) -> None:
        await self.stop_bot()
        await self.fake.close()
        self.service.store.close()  # type: ignore[attr-defined]

    async def send(self, event: str, data: Json) -> None:
        await self.fake.dispatch(event, data)

    async def mention(self, who: FakeMember, channel: int, text: str) -> Json:
        message = self.fake.user_message(who, channel, text, mention_bot=True)
        await self.send("MESSAGE_CREATE", message)
        return message

    async def answered(self, count: int = 1) -> list[Json]:
        """The answer messages (final state), once ``count`` of them carry both vote reactions."""
        puts = await self.fake.wait_for(
            "PUT", r"/channels/\d+/messages/\d+/reactions/.+/@me", count=2 * count
        )
        message_ids = [int(c.path.split("/")[4]) for c in puts][::2]
        return [self.fake.messages[m] for m in message_ids]


async def open_harness(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    model: FakeAnswerModel | None = None,
    retriever: WordOverlapRetriever | None = None,
    service: AssistantService | None = None,
    token: str = "fake-token",
) -> Harness:
    """A fake Discord, a service (default: on a fresh SQLite file), and the bot connected to
    both with ``token``."""
    fake = FakeDiscord(guilds())
    await fake.start()
    # Both REST (http.py and the interaction webhooks) and the gateway go to the fake.
    monkeypatch.setattr(Route, "BASE", fake.api_base)
    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url))
    model = model or FakeAnswerModel()
    service = service or make_service(tmp_path, answer_model=model, retriever=retriever)
    harness = Harness(fake, service, model, token=token)
    await harness.start_bot()
    return harness


def footer_ref(message: Json) -> str:
    ref = render.ref_from_footer(message["embeds"][0]["footer"]["text"])
    assert ref is not None
    return ref


def displayed(message: Json) -> str:
    """All text a message displays: its content and its embeds."""
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts.append((embed.get("footer") or {}).get("text") or "")
    return "\n".join(parts)


_REF = re.compile(r"ref `(\w+)`")
MEMBERS: dict[Role, FakeMember] = {"student": STUDENT, "classmate": CLASSMATE, "ta": TA}
EMOJI: dict[Vote, str] = {"up": render.THUMBS_UP, "down": render.THUMBS_DOWN}


class DiscordDriver:
    """The scenario interface on Discord: questions by mention in the course channel,
    votes by reaction, the "Preciso de um humano" button, slash commands."""

    name, ta_only, already_escalated = "discord", render.TA_ONLY, render.ALREADY_ESCALATED

    def __init__(self, harness: Harness) -> None:
        self.h = harness
        self.service, self.model = harness.service, harness.model
        self._answers = 0  # answers so far: the next one is complete with twice as many 👍/👎

    async def ask(self, who: Role, text: str) -> Shown:
        question = await self.h.mention(MEMBERS[who], ML_CHANNEL, text)
        return self._shown(await self._next_answer(), str(question["id"]))

    async def follow_up(
        self, who: Role, earlier: Shown, text: str, *, mention: bool = False
    ) -> Shown:
        if mention:
            await self.h.mention(MEMBERS[who], int(earlier.thread), text)
        else:
            await self.say(who, earlier, text)
        return self._shown(await self._next_answer(), earlier.question)

    async def say(self, who: Role, earlier: Shown, text: str) -> None:
        reply = self.h.fake.user_message(MEMBERS[who], int(earlier.thread), text)
        await self.h.send("MESSAGE_CREATE", reply)

    async def ask_unanswered(self, who: Role, text: str, told: str = "Não consegui") -> Shown:
        question = await self.h.mention(MEMBERS[who], ML_CHANNEL, text)
        thread = question["id"]  # a thread started from a message has its id
        [edit] = await self.h.fake.wait_for(
            "PATCH",
            rf"/channels/{thread}/messages/\d+",
            where=lambda c: told in (c.json.get("content") or ""),
        )
        return self._shown(self.h.fake.messages[int(edit.path.split("/")[4])], thread)

    def placeholder_texts(self) -> list[str]:
        edits = self.h.fake.find("PATCH", r"/channels/\d+/messages/\d+")
        return [c.json.get("content") or "" for c in edits]

    async def vote(self, who: Role, answer: Shown, vote: Vote, *, added: bool = True) -> None:
        before = len(self.service.store.votes_for(answer.ref))
        event = self.h.fake.reaction(MEMBERS[who], int(answer.message), EMOJI[vote], added=added)
        await self.h.send(*event)
        await eventually(lambda: len(self.service.store.votes_for(answer.ref)) > before)

    async def escalate(self, who: Role, answer: Shown) -> str:
        click = self.h.fake.button_click(
            MEMBERS[who], int(answer.message), render.human_custom_id(answer.ref)
        )
        await self.h.send("INTERACTION_CREATE", click)
        [told] = await self.h.fake.wait_for("POST", rf"/webhooks/\d+/{click['token']}")
        return str(told.json["content"])

    async def ta_command(self, who: Role, command: str, about: Role | None = None) -> str:
        options = {"estudante": f"<@{MEMBERS[about].user_id}>"} if about else None
        sent = self.h.fake.slash_command(MEMBERS[who], ML_CHANNEL, command, options)
        await self.h.send("INTERACTION_CREATE", sent)
        [first] = await self.h.fake.wait_for("POST", rf"/interactions/{sent['id']}/.+/callback")
        if first.json["type"] == 4:  # answered at once: a refusal, or a /review link
            assert first.json["data"]["flags"] & EPHEMERAL
            return str(first.json["data"]["content"])
        [reply] = await self.h.fake.wait_for("POST", rf"/webhooks/\d+/{sent['token']}")
        assert reply.json["flags"] & EPHEMERAL
        return str(reply.json["content"])

    def user_id(self, who: Role) -> str:
        return str(MEMBERS[who].user_id)

    def ta_pings(self) -> list[str]:
        pings = [c for c in self._posts() if f"<@&{ML_TA_ROLE}>" in c.json["content"]]
        return [c.path.split("/")[2] for c in pings]

    def ta_channel_posts(self) -> list[str]:
        return [c.json["content"] for c in self._posts(rf"/channels/{ML_TA_CHANNEL}/messages")]

    def _posts(self, pattern: str = r"/channels/\d+/messages") -> list[Any]:
        return self.h.fake.find("POST", pattern)

    async def _next_answer(self) -> Json:
        self._answers += 1
        return (await self.h.answered(self._answers))[-1]

    def _shown(self, message: Json, question: str) -> Shown:
        text = displayed(message)
        found = _REF.search(text)
        ref = footer_ref(message) if message.get("embeds") else found.group(1) if found else ""
        return Shown(
            ref=ref,
            text=text,
            links=links_in(text),
            thread=str(message["channel_id"]),
            question=question,
            message=str(message["id"]),
        )
