"""A graceful restart, as the service sees it: stop taking questions, give those in flight a
grace period to finish, then interrupt the ones still waiting on the answer model so their
students are told at once instead of never.

The service counts a question in flight for the whole of ``ask``; an adapter also counts
its own handling (the reply being posted) with ``in_flight()``, so a drain ends only once
every student has seen something. Only the answer model's call is interrupted
(``interruptible``): a row being written is never cut half way.

No ``asyncio.Event`` lives longer than one ``drain``: a service may serve several event
loops one after another (the tests, ``python -m bot ask``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any


class AnswerInterrupted(Exception):  # an event, not an error: the grace ended
    """The restart's grace ended while this question waited on the answer model."""


@dataclass(frozen=True)
class Drained:
    """How a drain ended: ``finished`` questions ended by themselves within the grace,
    ``interrupted`` were cut short (their students told), ``left`` were still running when
    the drain gave up waiting."""

    finished: int
    interrupted: int
    left: int
    seconds: float


class Restart:
    def __init__(self) -> None:
        self._count = 0
        self._stopping = False
        self._interrupting = False
        self._drafting: set[asyncio.Task[object]] = set()
        self._cut: set[asyncio.Task[object]] = set()
        self._idle: asyncio.Event | None = None  # made by drain(), in its loop

    @property
    def stopping(self) -> bool:
        """True once a drain began: new questions are refused."""
        return self._stopping

    @property
    def count(self) -> int:
        return self._count

    @contextlib.asynccontextmanager
    async def in_flight(self) -> AsyncIterator[None]:
        """Count what runs inside as a question in flight (nested uses count once each)."""
        self._count += 1
        try:
            yield
        finally:
            self._count -= 1
            if self._count == 0 and self._idle is not None:
                self._idle.set()

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """Run the answer model's call inside: when the grace ends it is cancelled and
        ``AnswerInterrupted`` raised instead (also at once, when the grace already ended)."""
        if self._interrupting:
            raise AnswerInterrupted
        task = asyncio.current_task()
        if task is None:
            yield
            return
        self._drafting.add(task)
        try:
            yield
        except asyncio.CancelledError:
            if task not in self._cut:
                raise  # cancelled by someone else: not ours to absorb
            task.uncancel()
            raise AnswerInterrupted from None
        finally:
            self._drafting.discard(task)
            self._cut.discard(task)

    async def drain(self, grace_s: float, settle_s: float = 5.0) -> Drained:
        """Refuse new questions; wait up to ``grace_s`` for those in flight, then interrupt
        the ones still drafting and wait up to ``settle_s`` for their students to be told."""
        started = time.monotonic()
        self._stopping = True
        self._idle = asyncio.Event()
        if self._count == 0:
            self._idle.set()
        at_start = self._count
        if await _within(self._idle.wait(), grace_s):
            return Drained(at_start, 0, 0, time.monotonic() - started)
        self._interrupting = True
        running = self._count
        cut = len(self._drafting)
        for task in self._drafting:
            self._cut.add(task)
            task.cancel()
        await _within(self._idle.wait(), settle_s)
        finished = at_start - running
        return Drained(finished, cut, self._count, time.monotonic() - started)


async def _within(waiting: Coroutine[Any, Any, object], timeout_s: float) -> bool:
    """Whether ``waiting`` finished within ``timeout_s``."""
    try:
        await asyncio.wait_for(waiting, max(timeout_s, 0.0))
    except TimeoutError:
        return False
    return True
