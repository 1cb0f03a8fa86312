"""The clock: a digest is posted once however many processes try; the jobs are scheduled
in each course's time zone."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings
from bot.courses import Course
from bot.models import Digest, Judgement, Vote
from bot.scheduler import build_scheduler, send_weekly_digest
from bot.store import SqlStore
from tests.store_fixtures import InteractionFactory, digest_sent_at

SP = ZoneInfo("America/Sao_Paulo")
COURSE = Course(id="mc102", name="Algoritmos", timezone="America/Sao_Paulo")
TOKYO = Course(id="jp", name="Tokyo", timezone="Asia/Tokyo")
# Monday 17 March 2025, 09:00 in São Paulo: the digest of 10–16 March is due.
DUE = datetime(2025, 3, 17, 9, tzinfo=SP)


@dataclass
class FakePoster:
    posted: list[tuple[str, Digest]] = field(default_factory=list)
    fail: bool = False

    async def post(self, course: Course, digest: Digest) -> None:
        await asyncio.sleep(0)  # let a competing process interleave
        if self.fail:
            raise ConnectionError("chat platform unreachable")
        self.posted.append((course.id, digest))


async def test_digest_of_the_week_that_ended_has_its_data(
    store: SqlStore, make_interaction: InteractionFactory
) -> None:
    inside = make_interaction(created_at=datetime(2025, 3, 12, 10, tzinfo=UTC))
    outside = make_interaction(created_at=datetime(2025, 3, 17, 10, tzinfo=UTC))
    for interaction in (inside, outside):
        store.save_interaction(interaction)
    store.save_vote(Vote(inside.id, "u1", -1, DUE))
    store.save_judgement(Judgement(inside.id, 1, "c", "e"))
    poster = FakePoster()
    assert await send_weekly_digest(store, COURSE, poster, "p1", 2, now=DUE)
    [(course_id, digest)] = poster.posted
    assert course_id == "mc102"
    assert digest.week_start == datetime(2025, 3, 10, tzinfo=SP)
    lines = {line for section in digest.sections for line in section.lines}
    assert "Perguntas: 1 (semana anterior: 0)" in lines
    assert "Answer Relevance média: 0.33 em 1 resposta(s) (semana anterior: —)" in lines
    assert f"“{inside.question}” — 👎 1; AR 0.33 (id {inside.id})" in lines


async def test_two_processes_post_the_digest_once(store: SqlStore) -> None:
    poster = FakePoster()
    sent = await asyncio.gather(
        send_weekly_digest(store, COURSE, poster, "process-a", 2, now=DUE),
        send_weekly_digest(store, COURSE, poster, "process-b", 2, now=DUE),
    )
    assert sorted(sent) == [False, True]
    assert len(poster.posted) == 1
    # Later the same day (a restart, a second clock): still nothing more.
    again = await send_weekly_digest(
        store, COURSE, poster, "process-c", 2, now=DUE + timedelta(hours=3)
    )
    assert again is False
    assert len(poster.posted) == 1
    start = datetime(2025, 3, 10, tzinfo=SP)
    assert digest_sent_at(store, "mc102", start) is not None


async def test_failed_post_releases_the_claim_for_the_next_try(store: SqlStore) -> None:
    poster = FakePoster(fail=True)
    with pytest.raises(ConnectionError):
        await send_weekly_digest(store, COURSE, poster, "p1", 2, now=DUE)
    poster.fail = False
    assert await send_weekly_digest(store, COURSE, poster, "p2", 2, now=DUE)
    assert len(poster.posted) == 1


async def test_a_week_posted_by_hand_is_not_posted_again_by_the_clock(store: SqlStore) -> None:
    start = datetime(2025, 3, 10, tzinfo=SP)
    store.digests.mark_posted_by_hand("mc102", start, "laptop:1 (by hand)")
    poster = FakePoster()

    assert await send_weekly_digest(store, COURSE, poster, "p1", 2, now=DUE) is False
    assert poster.posted == [] and digest_sent_at(store, "mc102", start) is not None


async def test_posted_by_hand_while_the_clock_holds_the_claim_counts_as_sent(
    store: SqlStore,
) -> None:
    start = datetime(2025, 3, 10, tzinfo=SP)
    assert store.digests.claim_digest("mc102", start, "p1")  # the clock is building it

    store.digests.mark_posted_by_hand("mc102", start, "laptop:1 (by hand)", now=DUE)

    assert digest_sent_at(store, "mc102", start) == DUE
    assert not store.digests.claim_digest("mc102", start, "p2")


async def test_a_week_the_clock_sent_keeps_its_time_when_posted_again_by_hand(
    store: SqlStore,
) -> None:
    start = datetime(2025, 3, 10, tzinfo=SP)
    assert await send_weekly_digest(store, COURSE, FakePoster(), "p1", 2, now=DUE)
    sent = digest_sent_at(store, "mc102", start)

    store.digests.mark_posted_by_hand("mc102", start, "laptop:1 (by hand)", now=DUE + timedelta(1))

    assert sent is not None and digest_sent_at(store, "mc102", start) == sent


async def test_next_week_is_a_new_digest(store: SqlStore) -> None:
    poster = FakePoster()
    assert await send_weekly_digest(store, COURSE, poster, "p1", 2, now=DUE)
    assert await send_weekly_digest(store, COURSE, poster, "p1", 2, now=DUE + timedelta(days=7))
    weeks = [digest.week_start.date().isoformat() for _, digest in poster.posted]
    assert weeks == ["2025-03-10", "2025-03-17"]


def test_digest_jobs_fire_at_the_configured_local_time(sqlite_store: SqlStore) -> None:
    settings = Settings(digest_day="mon", digest_hour=9)
    scheduler = build_scheduler(
        settings=settings,
        store=sqlite_store,
        courses=[COURSE, TOKYO],
        poster=FakePoster(),
        worker_id="w",
    )
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"digest:mc102", "digest:jp"}
    after = datetime(2025, 3, 12, tzinfo=UTC)
    fire_sp = jobs["digest:mc102"].trigger.get_next_fire_time(None, after)
    fire_jp = jobs["digest:jp"].trigger.get_next_fire_time(None, after)
    assert fire_sp == datetime(2025, 3, 17, 9, tzinfo=SP)
    assert fire_jp.astimezone(UTC) == datetime(2025, 3, 17, 0, tzinfo=UTC)  # 09:00 in Tokyo
    assert jobs["digest:mc102"].coalesce and jobs["digest:mc102"].max_instances == 1
    assert jobs["digest:mc102"].misfire_grace_time == 12 * 3600
    assert not scheduler.running
