"""The judge worker's own retry policy and its draining of a backlog, with a fake judge in
the process (the worker against the real SDK is ``test_judge_worker``)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.errors import JudgeError
from bot.judge import JudgeOptions, JudgeWorker
from bot.judge_prompts import JudgeVerdict
from bot.models import JUDGE_JOB, Interaction, JudgementRecord
from bot.outcome import judge_status
from bot.store import SqlStore
from tests.store_fixtures import InteractionFactory, find_job

LEASE_S = 60.0
OVERLOADED = JudgeError("529 overloaded_error: Overloaded", 529)


@dataclass
class FakeVerdicts:
    """Answer relevance 3 for every question, or ``error`` raised when set; the questions
    in ``held`` wait for ``release``."""

    model: str = "fake-judge"
    error: Exception | None = None
    held: set[str] = field(default_factory=set)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    answered: list[str] = field(default_factory=list)
    in_flight: int = 0
    peak_in_flight: int = 0

    async def answer_relevance(self, question: str, answer: str) -> JudgeVerdict:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)  # let the other jobs in flight run
            if question in self.held:
                await self.release.wait()
            if self.error is not None:
                raise self.error
            self.answered.append(question)
            return JudgeVerdict(3, "criteria", "evidence")
        finally:
            self.in_flight -= 1

    async def context_relevance(self, question: str, segment_text: str) -> JudgeVerdict:
        raise AssertionError("not enabled in these tests")

    async def groundedness(self, answer: str, cited_texts: Sequence[str]) -> JudgeVerdict:
        raise AssertionError("not enabled in these tests")


def worker(store: SqlStore, judge: FakeVerdicts, **options: object) -> JudgeWorker:
    settings = JudgeOptions(lease_s=LEASE_S, backoff_base_s=30, backoff_cap_s=600, **options)  # type: ignore[arg-type]
    return JudgeWorker(store, judge, "w1", settings, rng=random.Random(7))


def given_up(store: SqlStore, interaction: Interaction) -> JudgementRecord:
    """The judge failure recorded for an interaction whose job was given up; the report then
    says "falha do juiz"."""
    job = find_job(store, JUDGE_JOB, interaction.id)
    assert job is not None and job.status == "failed"
    [failure] = store.judgements_for(interaction.id)
    assert judge_status(interaction, [failure]) == "judge_failed"
    return failure


async def test_the_worker_alone_decides_when_a_job_is_given_up(
    sqlite_store: SqlStore, make_interaction: InteractionFactory
) -> None:
    """Seven attempts allowed, more than the queue once allowed by itself (five): the job
    waits through six failures, and on the seventh the worker records why it gives up, so
    the report says "falha do juiz", never "pendente" for a job no one will finish."""
    interaction = make_interaction()
    sqlite_store.save_interaction(interaction)
    judge_worker = worker(sqlite_store, FakeVerdicts(error=OVERLOADED), max_attempts=7)
    now = datetime.now(UTC)
    for attempt in range(1, 8):
        assert await judge_worker.drain(now) == 1
        job = find_job(sqlite_store, JUDGE_JOB, interaction.id)
        assert job is not None and job.attempts == attempt
        if attempt < 7:
            assert job.status == "pending"
            assert sqlite_store.judgements_for(interaction.id) == []
            now = job.next_attempt_at
    failure = given_up(sqlite_store, interaction)
    assert failure.error.startswith("gave up after 7 attempt(s): the judge could not reach")


async def test_a_bug_on_the_last_attempt_is_recorded_as_a_judge_failure(
    sqlite_store: SqlStore, make_interaction: InteractionFactory
) -> None:
    interaction = make_interaction()
    sqlite_store.save_interaction(interaction)
    judge = FakeVerdicts(error=RuntimeError("a bug in the judge"))

    assert await worker(sqlite_store, judge, max_attempts=1).drain() == 1

    failure = given_up(sqlite_store, interaction)
    assert failure.error == "gave up after 1 attempt(s): RuntimeError: a bug in the judge"


async def test_a_job_its_workers_kept_dying_on_is_given_up_without_asking_again(
    sqlite_store: SqlStore, make_interaction: InteractionFactory
) -> None:
    interaction = make_interaction()
    sqlite_store.save_interaction(interaction)
    now = datetime.now(UTC)
    for _ in range(2):  # two workers claim it and die holding the lease
        assert len(sqlite_store.jobs.claim_jobs(JUDGE_JOB, "dies", 1, LEASE_S, now)) == 1
        now += timedelta(seconds=LEASE_S + 1)
    judge = FakeVerdicts()

    assert await worker(sqlite_store, judge, max_attempts=2).drain(now) == 1

    assert judge.answered == []
    assert "lease expired" in given_up(sqlite_store, interaction).error


async def test_a_slow_job_does_not_hold_back_the_rest_of_the_backlog(
    sqlite_store: SqlStore, make_interaction: InteractionFactory
) -> None:
    """Two at a time: while the first job waits on the judge, the other slot works through
    the ten behind it; a batch (of 8, say) that waited for its slowest job would stall."""
    slow, *others = [make_interaction() for _ in range(11)]
    for interaction in (slow, *others):
        sqlite_store.save_interaction(interaction)
    judge = FakeVerdicts(held={slow.question})
    draining = asyncio.create_task(worker(sqlite_store, judge, concurrency=2).drain())

    async with asyncio.timeout(10):
        while len(judge.answered) < len(others):
            await asyncio.sleep(0.01)
    assert sorted(judge.answered) == sorted(i.question for i in others)
    assert sqlite_store.judgements_for(slow.id) == []
    judge.release.set()

    assert await asyncio.wait_for(draining, timeout=10) == 11
    assert judge.peak_in_flight == 2
    assert all(len(sqlite_store.judgements_for(i.id)) == 1 for i in (slow, *others))
