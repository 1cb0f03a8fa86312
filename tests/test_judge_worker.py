"""The judge worker against the real ClaudeJudge and SDK, talking to the fake Messages API."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.judge import JudgeOptions, JudgeWorker, retry_delay
from bot.judge_prompts import TOOL_NAME
from bot.llm import ClaudeJudge, make_client
from bot.models import (
    ANSWER_RELEVANCE,
    CONTEXT_RELEVANCE,
    GROUNDEDNESS,
    JUDGE_JOB,
    Judgement,
    JudgementRecord,
)
from bot.store import SqlStore, open_store
from tests.fakes.anthropic_server import (
    FakeAnthropic,
    RecordedRequest,
    Reply,
    overloaded,
    text_reply,
    tool_use_reply,
)
from tests.store_fixtures import InteractionFactory, enqueue_job, find_job, judgement_for

CRITERIA = "The RESPONSE must be relevant to the entire PROMPT."
EVIDENCE = "The RESPONSE explains the output layer."
LEASE_S = 60.0


def verdict(score: int, **options: object) -> Reply:
    tool_input = {"criteria": CRITERIA, "supporting_evidence": EVIDENCE, "score": score}
    return tool_use_reply(TOOL_NAME, tool_input, **options)


def by_kind(request: RecordedRequest) -> Reply:
    """AR 3, context relevance 1, groundedness 2: each kind recognisable in the store."""
    system = str(request.body.get("system", ""))
    if "INFORMATION OVERLAP" in system:
        return verdict(2)
    if "USER QUERY" in system:
        return verdict(1)
    return verdict(3)


@pytest.fixture
def api() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


def claude_judge(api: FakeAnthropic) -> ClaudeJudge:
    client = make_client(api.api_key, base_url=api.base_url, max_retries=1, timeout_s=10)
    return ClaudeJudge(client, model="claude-judge-test", max_attempts=2)


def worker(store: SqlStore, api: FakeAnthropic, name: str = "w1", **options: object) -> JudgeWorker:
    settings = JudgeOptions(lease_s=LEASE_S, backoff_base_s=30, backoff_cap_s=600, **options)  # type: ignore[arg-type]
    return JudgeWorker(store, claude_judge(api), name, settings, rng=random.Random(7))


def records(
    store: SqlStore, interaction_id: str, kind: str = ANSWER_RELEVANCE
) -> list[JudgementRecord]:
    return [r for r in store.judgements_for(interaction_id) if r.kind == kind]


def job_status(store: SqlStore, interaction_id: str) -> str:
    job = find_job(store, JUDGE_JOB, interaction_id)
    assert job is not None
    return job.status


async def test_well_formed_verdict_is_saved_once(
    sqlite_store: SqlStore, api: FakeAnthropic, make_interaction: InteractionFactory
) -> None:
    interaction = make_interaction()
    sqlite_store.save_interaction(interaction)
    api.responder = by_kind
    judge_worker = worker(sqlite_store, api)

    assert await judge_worker.drain() == 1
    assert judgement_for(sqlite_store, interaction.id) == Judgement(
        interaction.id, 3, CRITERIA, EVIDENCE, "claude-judge-test"
    )
    assert job_status(sqlite_store, interaction.id) == "done"
    body = api.requests[0].body
    assert body["tool_choice"] == {"type": "tool", "name": TOOL_NAME}
    assert interaction.question in api.requests[0].last_user_text()
    assert await judge_worker.drain() == 0
    assert len(api.requests) == 1


async def test_malformed_reply_is_a_recorded_failure_never_a_score(
    sqlite_store: SqlStore, api: FakeAnthropic, make_interaction: InteractionFactory
) -> None:
    interaction = make_interaction()
    sqlite_store.save_interaction(interaction)
    api.enqueue(text_reply("Score: 3"), verdict(7))  # prose, then a score off the scale

    assert await worker(sqlite_store, api).drain() == 1
    [failure] = records(sqlite_store, interaction.id)
    assert failure.status == "failed" and failure.score is None
    assert "no record_verdict tool call" in failure.error and "outside 0-3" in failure.error
    assert judgement_for(sqlite_store, interaction.id) is None
    assert job_status(sqlite_store, interaction.id) == "done"
    assert len(api.requests) == 2


async def test_overload_storm_retries_later_with_backoff_not_failed(
    sqlite_store: SqlStore, api: FakeAnthropic, make_interaction: InteractionFactory
) -> None:
    interaction = make_interaction()
    sqlite_store.save_interaction(interaction)
    api.responder = lambda request: overloaded()
    now = datetime.now(UTC)
    judge_worker = worker(sqlite_store, api)

    assert await judge_worker.drain(now) == 1
    job = find_job(sqlite_store, JUDGE_JOB, interaction.id)
    assert job is not None
    assert (job.status, job.attempts) == ("pending", 1)
    assert "529 overloaded_error" in job.last_error
    assert now + timedelta(seconds=15) <= job.next_attempt_at <= now + timedelta(seconds=30)
    assert records(sqlite_store, interaction.id) == []
    assert len(api.requests) == 2  # the SDK's own retry, then the job waits

    assert await judge_worker.drain(now + timedelta(seconds=1)) == 0  # not due yet
    api.responder = by_kind
    assert await judge_worker.drain(job.next_attempt_at) == 1
    assert judgement_for(sqlite_store, interaction.id) is not None
    assert job_status(sqlite_store, interaction.id) == "done"


async def test_gives_up_after_max_attempts_and_records_why(
    sqlite_store: SqlStore, api: FakeAnthropic, make_interaction: InteractionFactory
) -> None:
    interaction = make_interaction()
    sqlite_store.save_interaction(interaction)
    api.responder = lambda request: overloaded()
    judge_worker = worker(sqlite_store, api, max_attempts=2)
    now = datetime.now(UTC)
    await judge_worker.drain(now)
    await judge_worker.drain(now + timedelta(hours=1))
    assert job_status(sqlite_store, interaction.id) == "failed"
    [failure] = records(sqlite_store, interaction.id)
    assert failure.status == "failed" and failure.error.startswith("gave up after 2 attempt(s)")


async def test_killed_between_claim_and_save_is_judged_once_by_another_worker(
    sqlite_store: SqlStore, api: FakeAnthropic, make_interaction: InteractionFactory
) -> None:
    interaction = make_interaction()
    sqlite_store.save_interaction(interaction)
    # The first worker waits on Claude (the fake's teardown waits out the delay: keep it short)
    api.enqueue(verdict(0, delay_s=1.0))
    first = asyncio.create_task(worker(sqlite_store, api, "doomed").drain())
    while not api.requests:
        await asyncio.sleep(0.01)
    first.cancel()  # ... and is killed holding the lease
    with pytest.raises(asyncio.CancelledError):
        await first
    assert job_status(sqlite_store, interaction.id) == "running"

    api.responder = by_kind
    second = worker(sqlite_store, api, "heir")
    assert await second.drain() == 0  # the lease still holds
    later = datetime.now(UTC) + timedelta(seconds=LEASE_S + 1)
    assert await second.drain(later) == 1
    [judged] = records(sqlite_store, interaction.id)
    assert judged.score == 3.0
    assert job_status(sqlite_store, interaction.id) == "done"


async def test_slow_worker_that_lost_its_lease_drops_its_verdict(
    sqlite_store: SqlStore, api: FakeAnthropic, make_interaction: InteractionFactory
) -> None:
    interaction = make_interaction()
    sqlite_store.save_interaction(interaction)
    api.enqueue(verdict(0, delay_s=0.5), verdict(3))
    slow = asyncio.create_task(worker(sqlite_store, api, "slow").drain())
    while not api.requests:
        await asyncio.sleep(0.01)
    later = datetime.now(UTC) + timedelta(seconds=LEASE_S + 1)
    assert await worker(sqlite_store, api, "fast").drain(later) == 1
    assert await slow == 1
    [judged] = records(sqlite_store, interaction.id)
    assert judged.score == 3.0  # the fast worker's; the slow one's 0 was dropped


async def test_crash_after_save_is_completed_without_asking_again(
    sqlite_store: SqlStore, api: FakeAnthropic, make_interaction: InteractionFactory
) -> None:
    interaction = make_interaction()
    sqlite_store.save_interaction(interaction)
    assert len(sqlite_store.jobs.claim_jobs(JUDGE_JOB, "crashed", limit=1, lease_s=LEASE_S)) == 1
    sqlite_store.save_judgement(Judgement(interaction.id, 2, CRITERIA, EVIDENCE))
    later = datetime.now(UTC) + timedelta(seconds=LEASE_S + 1)
    assert await worker(sqlite_store, api, "heir").drain(later) == 1
    assert api.requests == []
    assert len(records(sqlite_store, interaction.id)) == 1
    assert job_status(sqlite_store, interaction.id) == "done"


async def test_abstentions_and_fallbacks_are_not_judged(
    sqlite_store: SqlStore, api: FakeAnthropic, make_interaction: InteractionFactory
) -> None:
    skipped = [make_interaction(abstained=True), make_interaction(fallback=True)]
    for interaction in skipped:
        sqlite_store.save_interaction(interaction)
    enqueue_job(sqlite_store, JUDGE_JOB, "01JNOSUCHINTERACTION000000")
    assert await worker(sqlite_store, api).drain() == 3
    assert api.requests == []
    for interaction in skipped:
        assert sqlite_store.judgements_for(interaction.id) == []
        assert job_status(sqlite_store, interaction.id) == "done"
    missing = find_job(sqlite_store, JUDGE_JOB, "01JNOSUCHINTERACTION000000")
    assert missing is not None and missing.status == "failed"


async def test_context_relevance_and_groundedness_with_bounded_concurrency(
    sqlite_store: SqlStore, api: FakeAnthropic, make_interaction: InteractionFactory
) -> None:
    interactions = [make_interaction(segments=3) for _ in range(3)]
    for interaction in interactions:
        sqlite_store.save_interaction(interaction)
    api.responder = by_kind
    api.hold_until_concurrent(2, timeout_s=5)
    judge_worker = worker(
        sqlite_store, api, context_relevance=True, groundedness=True, concurrency=2
    )
    assert await judge_worker.drain() == 3
    assert api.peak_in_flight == 2  # concurrent, and never more than allowed
    assert len(api.requests) == 3 * (1 + 3 + 1)
    first = interactions[0]
    context = {r.target: r.score for r in records(sqlite_store, first.id, CONTEXT_RELEVANCE)}
    assert context == {r.segment.id: 1.0 for r in first.retrieved}
    [grounded] = records(sqlite_store, first.id, GROUNDEDNESS)
    assert grounded.score == 2.0
    cited = [r.segment.text for r in first.retrieved if r.cited]
    grounded_prompts = [q for q in api.requests if "INFORMATION OVERLAP" in q.body["system"]]
    assert any(cited[0] in q.last_user_text() for q in grounded_prompts)


async def test_run_judges_what_arrives_while_it_waits(
    sqlite_store: SqlStore, api: FakeAnthropic, make_interaction: InteractionFactory
) -> None:
    api.responder = by_kind
    running = asyncio.create_task(worker(sqlite_store, api, poll_s=0.01).run())
    try:
        interaction = make_interaction()
        sqlite_store.save_interaction(interaction)  # after the first drain found nothing
        async with asyncio.timeout(5):
            while job_status(sqlite_store, interaction.id) != "done":
                await asyncio.sleep(0.02)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert judgement_for(sqlite_store, interaction.id) is not None


def test_retry_delay_doubles_caps_and_jitters() -> None:
    assert retry_delay(1, 30, 600, jitter=1.0) == 30
    assert retry_delay(3, 30, 600, jitter=1.0) == 120
    assert retry_delay(10, 30, 600, jitter=1.0) == 600
    assert retry_delay(3, 30, 600, jitter=0.0) == 60


@pytest.mark.postgres
async def test_two_workers_on_postgres_never_judge_the_same_interaction_twice(
    postgres_url: str, api: FakeAnthropic, make_interaction: InteractionFactory
) -> None:
    first_store, second_store = open_store(postgres_url), open_store(postgres_url)
    try:
        interactions = [make_interaction() for _ in range(12)]
        for interaction in interactions:
            first_store.save_interaction(interaction)
        api.responder = lambda request: verdict(3, delay_s=0.02)
        workers = [
            worker(first_store, api, "a", concurrency=3),
            worker(second_store, api, "b", concurrency=3),
        ]
        claimed = [0, 0]
        while True:
            counts = await asyncio.gather(*(w.drain() for w in workers))
            claimed = [total + n for total, n in zip(claimed, counts, strict=True)]
            if sum(counts) == 0:
                break
        assert sum(claimed) == 12 and min(claimed) > 0  # both worked, side by side
        assert len(api.requests) == 12
        judged = first_store.judgements_for_many(i.id for i in interactions)
        assert all(len(found) == 1 for found in judged.values())
    finally:
        first_store.close()
        second_store.close()
