"""The job queue and digest claims on SQLite and PostgreSQL: leases, retries, concurrency."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.backoff import backoff_delay
from bot.ports import Job
from bot.store import SqlStore
from tests.store_fixtures import digest_sent_at, enqueue_job, find_job, job_by_id

T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
WEEK = datetime(2025, 3, 10, tzinfo=UTC)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run_together(count: int, work: Callable[[int], object]) -> list[object]:
    """Run ``work(i)`` in ``count`` threads released at the same moment; results by i."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # re-raised below, in the test's thread
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def test_enqueue_is_idempotent(store: SqlStore) -> None:
    assert enqueue_job(store, "judge", "i1", at=T0) is True
    assert enqueue_job(store, "judge", "i1", at=T0) is False
    assert enqueue_job(store, "reindex", "i1", at=T0) is True

    claimed = store.jobs.claim_jobs("judge", "w1", limit=10, lease_s=60, now=s(1))
    assert [(job.kind, job.ref, job.attempts) for job in claimed] == [("judge", "i1", 1)]


def test_only_due_jobs_are_claimed_up_to_the_limit_and_not_twice(store: SqlStore) -> None:
    for i in range(3):
        enqueue_job(store, "judge", f"due{i}", at=s(i))
    enqueue_job(store, "judge", "later", at=s(3600))

    first = store.jobs.claim_jobs("judge", "w1", limit=2, lease_s=60, now=s(10))
    second = store.jobs.claim_jobs("judge", "w2", limit=10, lease_s=60, now=s(11))
    third = store.jobs.claim_jobs("judge", "w3", limit=10, lease_s=60, now=s(12))

    assert [job.ref for job in first] == ["due0", "due1"]  # oldest first
    assert [job.ref for job in second] == ["due2"]
    assert third == []
    record = job_by_id(store, first[0].id)
    assert record is not None
    assert (record.status, record.lease_owner, record.lease_expires_at) == ("running", "w1", s(70))


def test_an_expired_lease_is_claimed_again_and_the_old_worker_cannot_complete(
    store: SqlStore,
) -> None:
    enqueue_job(store, "judge", "i1", at=T0)
    [job] = store.jobs.claim_jobs("judge", "dead", limit=1, lease_s=60, now=s(0))

    assert store.jobs.claim_jobs("judge", "w2", limit=1, lease_s=60, now=s(59)) == []
    [again] = store.jobs.claim_jobs("judge", "w2", limit=1, lease_s=60, now=s(60))

    assert again == Job(job.id, "judge", "i1", attempts=2)
    assert store.jobs.complete_job(job.id, "dead", now=s(61)) is False
    assert store.jobs.complete_job(job.id, "w2", now=s(61)) is True
    assert store.jobs.complete_job(job.id, "w2", now=s(62)) is False  # done once
    record = job_by_id(store, job.id)
    assert record is not None and record.status == "done"
    assert store.jobs.claim_jobs("judge", "w3", limit=1, lease_s=60, now=s(10_000)) == []


def test_completing_after_the_lease_expired_fails_even_if_nobody_took_it(store: SqlStore) -> None:
    enqueue_job(store, "judge", "i1", at=T0)
    [job] = store.jobs.claim_jobs("judge", "slow", limit=1, lease_s=60, now=s(0))

    assert store.jobs.complete_job(job.id, "slow", now=s(60)) is False
    record = job_by_id(store, job.id)
    assert record is not None and record.status == "running"


def test_a_lease_can_be_extended_by_its_holder_only(store: SqlStore) -> None:
    enqueue_job(store, "judge", "i1", at=T0)
    [job] = store.jobs.claim_jobs("judge", "w1", limit=1, lease_s=60, now=s(0))

    assert store.jobs.extend_lease(job.id, "w2", lease_s=300, now=s(30)) is False
    assert store.jobs.extend_lease(job.id, "w1", lease_s=300, now=s(30)) is True
    assert store.jobs.claim_jobs("judge", "w2", limit=1, lease_s=60, now=s(200)) == []
    assert store.jobs.complete_job(job.id, "w1", now=s(320)) is True


def test_retry_waits_for_the_given_time_and_keeps_the_error(store: SqlStore) -> None:
    enqueue_job(store, "judge", "i1", at=T0)
    [job] = store.jobs.claim_jobs("judge", "w1", limit=1, lease_s=60, now=s(0))

    assert store.jobs.retry_job(job.id, "w2", "not mine", s(100), now=s(1)) is False
    assert store.jobs.retry_job(job.id, "w1", "429 rate limited", s(100), now=s(1)) is True

    record = job_by_id(store, job.id)
    assert record is not None
    assert (record.status, record.last_error, record.next_attempt_at) == (
        "pending",
        "429 rate limited",
        s(100),
    )
    assert store.jobs.claim_jobs("judge", "w1", limit=1, lease_s=60, now=s(99)) == []
    assert [j.attempts for j in store.jobs.claim_jobs("judge", "w1", 1, 60, now=s(100))] == [2]


def test_the_queue_retries_and_fails_only_when_told(store: SqlStore) -> None:
    """The worker owns the retry policy: however many attempts a job has had, the queue
    retries it when told to and fails it only when told to."""
    enqueue_job(store, "judge", "i1", at=T0)
    now = T0
    for attempt in range(1, 11):
        [job] = store.jobs.claim_jobs("judge", "w1", limit=1, lease_s=60, now=now)
        assert job.attempts == attempt
        assert store.jobs.retry_job(job.id, "w1", f"boom {attempt}", now + timedelta(hours=1), now)
        now += timedelta(hours=1)
    record = job_by_id(store, job.id)
    assert record is not None and (record.status, record.attempts) == ("pending", 10)

    [job] = store.jobs.claim_jobs("judge", "w1", limit=1, lease_s=60, now=now)
    assert store.jobs.fail_job(job.id, "w2", "not mine", now=now) is False
    assert store.jobs.fail_job(job.id, "w1", "gave up", now=now) is True
    record = job_by_id(store, job.id)
    assert record is not None and (record.status, record.last_error) == ("failed", "gave up")
    assert (
        store.jobs.claim_jobs("judge", "w1", limit=1, lease_s=60, now=now + timedelta(days=9)) == []
    )


def test_a_job_whose_workers_keep_dying_is_claimed_again_with_its_attempts(
    store: SqlStore,
) -> None:
    """The worker is told how many workers died on the job (it gives it up, saying why)."""
    enqueue_job(store, "judge", "poison", at=T0)
    for n in range(3):
        [job] = store.jobs.claim_jobs("judge", f"w{n}", limit=1, lease_s=60, now=s(60 * n))
    assert job.attempts == 3
    record = find_job(store, "judge", "poison")
    assert record is not None and record.status == "running" and record.lease_owner == "w2"


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_delay(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert backoff_delay(50) == timedelta(hours=1)


def test_concurrent_workers_never_claim_the_same_job(store: SqlStore) -> None:
    total = 60
    for i in range(total):
        enqueue_job(store, "judge", f"i{i}", at=T0)

    def drain(worker: int) -> list[int]:
        mine: list[int] = []
        while batch := store.jobs.claim_jobs("judge", f"w{worker}", limit=3, lease_s=600, now=s(1)):
            mine.extend(job.id for job in batch)
        return mine

    claims = run_together(4, drain)

    claimed = [job_id for ids in claims for job_id in ids]  # type: ignore[attr-defined]
    assert len(claimed) == total
    assert len(set(claimed)) == total


def test_a_digest_is_claimed_by_one_worker_and_sent_once(store: SqlStore) -> None:
    assert store.digests.claim_digest("mc102", WEEK, "clock-a", now=s(0)) is True
    assert store.digests.claim_digest("mc102", WEEK, "clock-b", now=s(1)) is False
    assert store.digests.claim_digest("mc102", WEEK, "clock-a", now=s(2)) is True  # it holds it
    assert store.digests.claim_digest("mc103", WEEK, "clock-b", now=s(2)) is True  # another course

    assert store.digests.mark_digest_sent("mc102", WEEK, "clock-b", now=s(3)) is False
    assert store.digests.mark_digest_sent("mc102", WEEK, "clock-a", now=s(3)) is True

    assert digest_sent_at(store, "mc102", WEEK) == s(3)
    assert store.digests.claim_digest("mc102", WEEK, "clock-b", now=s(10**7)) is False
    assert store.digests.claim_digest("mc102", WEEK, "clock-a", now=s(10**7)) is False


def test_a_lapsed_or_released_digest_claim_can_be_taken(store: SqlStore) -> None:
    assert store.digests.claim_digest("mc102", WEEK, "dead", lease_s=60, now=s(0)) is True
    assert store.digests.claim_digest("mc102", WEEK, "clock-b", now=s(59)) is False
    assert store.digests.claim_digest("mc102", WEEK, "clock-b", now=s(60)) is True
    assert store.digests.mark_digest_sent("mc102", WEEK, "dead", now=s(61)) is False

    assert store.digests.release_digest("mc102", WEEK, "clock-b") is True
    assert digest_sent_at(store, "mc102", WEEK) is None
    assert store.digests.claim_digest("mc102", WEEK, "clock-c", now=s(62)) is True


def test_concurrent_digest_claims_have_one_winner(store: SqlStore) -> None:
    def claim(worker: int) -> bool:
        return store.digests.claim_digest("mc102", WEEK, f"clock-{worker}", now=s(0))

    assert sorted(run_together(4, claim)) == [False, False, False, True]  # type: ignore[type-var]
