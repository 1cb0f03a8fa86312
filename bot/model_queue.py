"""The answer model's concurrency limit, as a first-come-first-served queue that tells each
waiting question its place as the queue moves (the service passes it on to the adapter)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from bot.ports import OnPlace


class _Waiter:
    def __init__(self) -> None:
        self.moved = asyncio.Event()
        self.served = False


class ModelQueue:
    """At most ``capacity`` holders at once; the others wait in arrival order. ``on_place``
    hears the place when a question starts waiting and each time it moves up."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self._free = capacity
        self._waiting: list[_Waiter] = []

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @contextlib.asynccontextmanager
    async def slot(self, on_place: OnPlace | None = None) -> AsyncIterator[None]:
        if self._free > 0 and not self._waiting:
            self._free -= 1
        else:
            await self._wait(on_place)
        try:
            yield
        finally:
            self._release()

    async def _wait(self, on_place: OnPlace | None) -> None:
        waiter = _Waiter()
        self._waiting.append(waiter)
        try:
            while not waiter.served:
                if on_place is not None:
                    await on_place(self._waiting.index(waiter) + 1)
                if not waiter.served:
                    await waiter.moved.wait()
                    waiter.moved.clear()
        except BaseException:
            # Cancelled while waiting: leave the line, or pass on the slot it was just given.
            if waiter.served:
                self._release()
            else:
                self._waiting.remove(waiter)
                self._tell_all_they_moved()
            raise

    def _release(self) -> None:
        if not self._waiting:
            self._free += 1
            return
        first = self._waiting.pop(0)
        first.served = True  # the slot passes straight on: nobody can cut in
        first.moved.set()
        self._tell_all_they_moved()

    def _tell_all_they_moved(self) -> None:
        for waiter in self._waiting:
            waiter.moved.set()
