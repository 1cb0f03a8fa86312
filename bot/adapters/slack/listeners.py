"""What every Slack listener shares: the immediate ack, logging an unexpected failure, and
the failure message a student or TA sees."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec

from slack_bolt.async_app import AsyncAck

from bot.adapters import slack_render as render

log = logging.getLogger(__name__)

Payload = dict[str, Any]
P = ParamSpec("P")


def logged(listener: Callable[P, Awaitable[None]]) -> Callable[P, Awaitable[None]]:
    """Log a listener's unexpected failure with its traceback (bolt would only print the
    message); the listeners tell the student themselves wherever they can.

    The wrapper keeps the listener's name and signature: bolt passes arguments by name and
    finds lazy listeners by name."""

    @functools.wraps(listener)
    async def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            await listener(*args, **kwargs)
        except Exception:
            log.exception("slack: %s failed", listener.__name__)

    return run


async def ack(ack: AsyncAck) -> None:
    await ack()


def logged_failure(exc: BaseException, doing: str) -> str:
    """Log the failure and return the message to show. It names no reference: one that
    matches no stored interaction would only mislead whoever looks it up."""
    log.error("slack: failed %s", doing, exc_info=exc)
    return render.failure_message(None, tas_told=False).text
