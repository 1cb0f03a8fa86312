"""Slack retries an event it thinks we missed (``X-Slack-Retry-Num``): answer it once."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.response import BoltResponse

log = logging.getLogger(__name__)

EVENT_MEMORY_S = 3600.0  # Slack retries for about an hour at most


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


class RetriedEvents:
    """The bolt middleware that acks a retried event without handling it again."""

    def __init__(self) -> None:
        self._events = Recent(EVENT_MEMORY_S)

    async def drop_retried_events(
        self, body: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        event_id = body.get("event_id")
        if isinstance(event_id, str) and not self._events.first_time(event_id):
            log.info("slack: event %s already handled; acking the retry", event_id)
            return BoltResponse(status=200, body="")
        await next()
        return None
