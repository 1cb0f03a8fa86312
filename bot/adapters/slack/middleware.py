"""Requests the app answers before its listeners: Slack's retries of an event it thinks we
missed (``X-Slack-Retry-Num``) are answered once; a malformed timestamp is refused."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
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


@web.middleware
async def refuse_malformed_timestamps(request: web.Request, handler: Handler) -> web.StreamResponse:
    """401, like any unverified request, when ``X-Slack-Request-Timestamp`` is not a number:
    bolt's signature check would fail on it with a 500. Slack itself never sends one."""
    stamp = request.headers.get("X-Slack-Request-Timestamp")
    if stamp is not None:
        try:
            int(stamp)
        except ValueError:
            return web.json_response({"error": "invalid request"}, status=401)
    return await handler(request)
