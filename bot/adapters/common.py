"""What both chat adapters decide and remember in the same way, with no chat library.

Only logic that is genuinely the same on Discord and Slack lives here: the one throttle of
the streaming progress edits, the bounded memory of which message answers which interaction,
the rule that a place with exactly one candidate course answers for that course, and the
text that hands a TA the review page's link.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

from bot.courses import Course
from bot.review_links import IssuedLink

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

log = logging.getLogger(__name__)


class Throttle:
    """Lets an action through at most once per ``interval_s`` (the first call always)."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval_s
        self._clock = clock
        self._last: float | None = None

    def ready(self) -> bool:
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            return False
        self._last = now
        return True


class Progress:
    """The answer growing while Claude writes: the service's ``on_text``, which gets every
    piece of text; ``show`` (the platform's message edit) gets the text so far at most once
    per ``interval_s`` (chat platforms rate-limit edits), with one edit in flight at a time
    so the stream never waits on the platform. A failed edit is logged: the answer follows.
    Before that, ``place`` is the service's ``on_place``: the question's place in line for
    the model, shown by ``show_place`` under the same limits."""

    def __init__(
        self,
        show: Callable[[str], Awaitable[object]],
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
        show_place: Callable[[int], Awaitable[object]] | None = None,
    ) -> None:
        self._show = show
        self._show_place = show_place
        self._throttle = Throttle(interval_s, clock)
        self._shown: object = ""
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, text_so_far: str) -> None:
        if text_so_far.strip():
            self._offer(text_so_far, lambda: self._show(text_so_far))

    async def place(self, position: int) -> None:
        if self._show_place is not None:
            show_place = self._show_place
            self._offer(position, lambda: show_place(position))

    def _offer(self, shown: object, edit: Callable[[], Awaitable[object]]) -> None:
        if shown == self._shown:
            return
        if self._task is not None and not self._task.done():
            return
        if self._throttle.ready():
            self._shown = shown
            self._task = asyncio.create_task(self._edit(edit))

    async def _edit(self, edit: Callable[[], Awaitable[object]]) -> None:
        try:
            await edit()
        except Exception:
            log.warning("could not show the answer's progress", exc_info=True)

    async def finish(self) -> None:
        """Wait for the last progress edit, so it never overwrites what is shown next."""
        if self._task is not None:
            await self._task


class AnswerCache(Generic[K, V]):
    """Message -> the interaction it answers, for the last ``capacity`` messages.

    A cache only: the answer message itself carries the interaction id, so a miss is read
    back from the platform (and a restart loses nothing)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[K, V] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __getitem__(self, key: K) -> V:
        return self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)

    def remember(self, key: K, value: V) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)


def split_text(text: str, limit: int, unbreakable: re.Pattern[str]) -> list[str]:
    """Chunks of at most ``limit`` characters, cut at a paragraph, line or word break and
    never inside a match of ``unbreakable`` (a link, an entity), except one that is longer
    than ``limit`` by itself, so the message still posts."""
    chunks = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _cut_point(rest, limit, unbreakable)
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return [chunk for chunk in chunks if chunk]


def _cut_point(text: str, limit: int, unbreakable: re.Pattern[str]) -> int:
    spans = [(m.start(), m.end()) for m in unbreakable.finditer(text) if m.start() < limit]

    def outside_spans(position: int) -> bool:
        return all(not (start < position < end) for start, end in spans)

    # Prefer the latest break in the second half of the window, the coarsest kind first.
    for separator in ("\n\n", "\n", " "):
        position = text.rfind(separator, 0, limit)
        while position >= limit // 2:
            if outside_spans(position):
                return position
            position = text.rfind(separator, 0, position)
    for start, end in spans:
        if start < limit < end and start > 0:
            return start  # move a span that straddles the limit to the next chunk
    return limit


def sole_course(candidates: Sequence[Course]) -> Course | None:
    """The course when there is exactly one to choose from; with none or several the bot
    cannot guess, and says where to ask instead."""
    return candidates[0] if len(candidates) == 1 else None


def review_link_text(course: Course, link: IssuedLink) -> str:
    """What a TA's ``/review`` answers, privately, on either platform (both link a bare URL)."""
    until = link.expires_at.astimezone(course.tz).strftime("%d/%m às %H:%M")
    return (
        f"🔗 Página de revisão de {course.name}: {link.url}\n"
        f"O link é só seu (não o compartilhe) e vale até {until}; depois, peça outro com /review."
    )
