"""The clock: the journal's replay every few seconds and, per course, the weekly digest.
(The judge worker keeps its own pace: ``bot.judge``.)

APScheduler 3 (``AsyncIOScheduler``) in the process's event loop. Each course's digest runs
at ``DIGEST_DAY``/``DIGEST_HOUR`` in the course's own time zone, covers the week that just
ended, and is posted only after ``store.digests.claim_digest`` succeeded: two clock processes
(or a restart) never send the same digest twice. ``build_scheduler`` does not start it: the
caller (``python -m bot worker``/``run``) starts it in its running loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.config import Settings
from bot.courses import Course
from bot.digest import digest_for_week, previous_week_start, week_bounds
from bot.digest_week import EmbedQuestions
from bot.models import Digest, Erased
from bot.ports import DigestStore
from bot.store.journal import ReplayReport

log = logging.getLogger(__name__)

JOURNAL_JOB_ID = "journal-replay"
RETENTION_JOB_ID = "retention"
# The daily clean-up of interactions past RETENTION_DAYS: a quiet hour, and at start.
RETENTION_HOUR_UTC = 6
# A clock process down at digest time still sends when it is back within this window;
# later than that the week's digest is stale and is skipped.
DIGEST_MISFIRE_GRACE_S = 12 * 3600
# Every job: one run at a time; runs missed while busy or down collapse into one.
_ONE_AT_A_TIME: dict[str, Any] = {"coalesce": True, "max_instances": 1}


class DigestPoster(Protocol):
    """Posts a digest to a course's TA channel (the chat adapters implement it)."""

    async def post(self, course: Course, digest: Digest) -> None: ...


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def send_weekly_digest(
    store: DigestStore,
    course: Course,
    poster: DigestPoster,
    worker_id: str,
    pass_score: int,
    now: datetime | None = None,
    embed: EmbedQuestions | None = None,
) -> bool:
    """Post the digest of the week before ``now`` (course time) unless another process has
    claimed or sent it; True if this call posted it. A failed post gives the claim back so
    the next attempt may send it."""
    now = now or datetime.now(UTC)
    week = previous_week_start(course, now)
    start, _ = week_bounds(course, week)
    claimed = await asyncio.to_thread(store.digests.claim_digest, course.id, start, worker_id)
    if not claimed:
        log.info("digest of %s for the week of %s: sent or claimed elsewhere", course.id, week)
        return False
    try:
        digest = await asyncio.to_thread(
            functools.partial(digest_for_week, store, course, week, pass_score, embed=embed)
        )
        await poster.post(course, digest)
    except BaseException:
        await asyncio.to_thread(store.digests.release_digest, course.id, start, worker_id)
        raise
    if not await asyncio.to_thread(store.digests.mark_digest_sent, course.id, start, worker_id):
        log.warning("digest of %s for %s was posted but its claim had lapsed", course.id, week)
    log.info("posted the digest of %s for the week of %s", course.id, week)
    return True


async def _digest_job(
    store: DigestStore,
    course: Course,
    poster: DigestPoster,
    worker_id: str,
    pass_score: int,
    embed: EmbedQuestions | None,
) -> None:
    try:
        await send_weekly_digest(store, course, poster, worker_id, pass_score, embed=embed)
    except Exception:
        log.exception("the weekly digest of %s failed; it is retried on the next run", course.id)


async def _journal_job(replay: Callable[[], ReplayReport]) -> None:
    try:
        report = await asyncio.to_thread(replay)
    except Exception:
        log.exception("journal replay failed")
        return
    if report.error:
        log.warning(
            "journal: %d entries wait for the database, still unreachable: %s",
            report.left,
            report.error,
        )


class OldInteractions(Protocol):
    """The store as the retention clean-up sees it."""

    def forget_before(self, cutoff: datetime) -> Erased: ...


async def forget_old_interactions(
    store: OldInteractions, days: int, now: datetime | None = None
) -> Erased:
    """Delete the interactions created more than ``days`` days before ``now``."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    erased = await asyncio.to_thread(store.forget_before, cutoff)
    if erased.interactions:
        log.info("retention: interactions before %s deleted: %s", cutoff.date(), erased)
    return erased


async def _retention_job(store: OldInteractions, days: int) -> None:
    try:
        await forget_old_interactions(store, days)
    except Exception:
        log.exception("the retention clean-up failed; it runs again tomorrow")


def digest_trigger(course: Course, settings: Settings) -> CronTrigger:
    return CronTrigger(
        day_of_week=settings.digest_day, hour=settings.digest_hour, minute=0, timezone=course.tz
    )


def build_scheduler(
    *,
    settings: Settings,
    store: DigestStore,
    courses: Iterable[Course],
    poster: DigestPoster | None = None,
    journal_replay: Callable[[], ReplayReport] | None = None,
    journal_interval_s: float = 30.0,
    worker_id: str | None = None,
    retention: OldInteractions | None = None,
    embed: EmbedQuestions | None = None,
) -> AsyncIOScheduler:
    """A scheduler (not started) with the replay of the journal into the database (when
    given), a weekly digest per course (when a poster is given; ``embed``, the course's
    embedder, groups its questions by topic) and, with ``retention`` and RETENTION_DAYS set,
    the daily deletion of older interactions (now, then daily)."""
    worker_id = worker_id or default_worker_id()
    scheduler = AsyncIOScheduler(timezone=UTC)
    if retention is not None and settings.retention_days:
        scheduler.add_job(
            _retention_job,
            CronTrigger(hour=RETENTION_HOUR_UTC, minute=0, timezone=UTC),
            args=(retention, settings.retention_days),
            id=RETENTION_JOB_ID,
            name="retention clean-up",
            next_run_time=datetime.now(UTC),
            misfire_grace_time=DIGEST_MISFIRE_GRACE_S,
            **_ONE_AT_A_TIME,
        )
    if journal_replay is not None:
        _every(
            scheduler,
            journal_interval_s,
            _journal_job,
            journal_replay,
            JOURNAL_JOB_ID,
            "journal replay",
        )
    if poster is not None:
        for course in courses:
            scheduler.add_job(
                _digest_job,
                digest_trigger(course, settings),
                args=(store, course, poster, worker_id, settings.judge_pass_score, embed),
                id=f"digest:{course.id}",
                name=f"weekly digest of {course.id}",
                misfire_grace_time=DIGEST_MISFIRE_GRACE_S,
                **_ONE_AT_A_TIME,
            )
    return scheduler


def _every(
    scheduler: AsyncIOScheduler,
    interval_s: float,
    job: Callable[[Any], Awaitable[None]],
    argument: object,
    job_id: str,
    name: str,
) -> None:
    """``job(argument)`` every ``interval_s``."""
    scheduler.add_job(
        job,
        IntervalTrigger(seconds=interval_s),
        args=(argument,),
        id=job_id,
        name=name,
        misfire_grace_time=max(1, int(interval_s)),
        **_ONE_AT_A_TIME,
    )
