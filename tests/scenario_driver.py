"""What the scenario suite asks of a platform: one interface that the Discord and the Slack
drivers (tests/discord_driver.py, tests/slack_driver.py) both implement over their loopback
fakes, so every scenario runs, unchanged, against both."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from bot.service import AssistantService
from tests.fakes.core import FakeAnswerModel

Role = Literal["student", "classmate", "ta"]
Vote = Literal["up", "down"]

_URL = re.compile(r"https?://[^\s)|>]+")


@dataclass(frozen=True)
class Shown:
    """What the bot left in a thread, as the platform holds it."""

    ref: str  # the interaction id the message carries (its button, footer or failure text)
    text: str  # all the text it displays
    links: tuple[str, ...]  # every URL it links to
    thread: str  # the platform's id of the thread it is in
    question: str  # the platform's id of the student's message the thread answers
    message: str  # the platform's id of the message itself


class PlatformDriver(Protocol):
    name: str
    service: AssistantService
    model: FakeAnswerModel
    ta_only: str  # what a student is told when running a TA command
    already_escalated: str  # what a second request for a human is told

    async def ask(self, who: Role, text: str) -> Shown:
        """A question in the course channel; the answer once it is complete."""
        ...

    async def follow_up(
        self, who: Role, earlier: Shown, text: str, *, mention: bool = False
    ) -> Shown:
        """A reply in the thread of ``earlier``; the answer once complete."""
        ...

    async def say(self, who: Role, earlier: Shown, text: str) -> None:
        """A reply in the thread of ``earlier`` that mentions no one; waits for nothing."""
        ...

    async def ask_unanswered(self, who: Role, text: str, told: str = "Não consegui") -> Shown:
        """A question the bot cannot answer; what the student is shown instead (a text that
        contains ``told``)."""
        ...

    def placeholder_texts(self) -> list[str]:
        """Every text the bot's edits of its own messages showed, in order."""
        ...

    async def vote(self, who: Role, answer: Shown, vote: Vote, *, added: bool = True) -> None:
        """Add (or remove) a 👍/👎 on the answer; returns once the store has the event."""
        ...

    async def escalate(self, who: Role, answer: Shown) -> str:
        """Press "Preciso de um humano"; what the one who pressed is told."""
        ...

    async def ta_command(self, who: Role, command: str, about: Role | None = None) -> str:
        """Run a TA command (``digest``, ``review``; ``forget`` naming the student ``about``)
        in the course channel; the reply its user sees, which no one else sees (checked:
        every TA command answers privately)."""
        ...

    def user_id(self, who: Role) -> str:
        """The platform's id of the user playing ``who``."""
        ...

    def ta_pings(self) -> list[str]:
        """Where each message that pinged the course's TAs was posted (a thread's id)."""
        ...

    def ta_channel_posts(self) -> list[str]:
        """Every message posted in the course's TA channel."""
        ...


def links_in(text: str) -> tuple[str, ...]:
    return tuple(_URL.findall(text))


async def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll a condition (a row in the store, a recorded call) until it holds."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)
    return result
