"""A job queue in the database: any number of worker processes claim jobs under a lease.

A claim sets status 'running', an owner and a lease expiry, and counts an attempt. A worker
that dies simply lets its lease expire and the job is claimed again; a worker whose lease was
lost cannot complete, retry or fail the job any more (those calls return False), so a result
is recorded once. PostgreSQL claims with ``FOR UPDATE SKIP LOCKED``; SQLite's claim is one
UPDATE in a transaction that took the write lock at BEGIN (IMMEDIATE).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.ports import Job
from bot.store.engine import Database, insert_or_ignore
from bot.store.records import JobRecord, JobStatus
from bot.store.schema import jobs
from retrieval.text import storable_text

DEFAULT_MAX_ATTEMPTS = 5


def backoff_delay(attempts: int, base_s: float = 30.0, cap_s: float = 3600.0) -> timedelta:
    """How long to wait before the next try after ``attempts`` failed ones: doubling, capped."""
    return timedelta(seconds=min(cap_s, base_s * 2 ** max(0, attempts - 1)))


def enqueue(conn: Connection, kind: str, ref: str, at: datetime) -> bool:
    """Queue (kind, ref) inside the caller's transaction; False if it was already queued."""
    values = {
        "kind": kind,
        "ref": ref,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": at,
        "last_error": "",
        "created_at": at,
        "updated_at": at,
    }
    return insert_or_ignore(conn, jobs, values, ["kind", "ref"])


def _utc_now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _skip_locked_ids(where: sa.ColumnElement[bool], limit: int | None = None) -> Any:
    """Ids matching ``where``, locked for us and skipping rows other workers hold (PostgreSQL;
    SQLite renders no locking clause and relies on its write lock)."""
    query = sa.select(jobs.c.id).where(where).order_by(jobs.c.next_attempt_at, jobs.c.id)
    if limit is not None:
        query = query.limit(limit)
    return query.with_for_update(skip_locked=True).scalar_subquery()


class JobQueue:
    """The queue of one database; ``SqlStore.jobs`` is the store's."""

    def __init__(self, db: Database, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        self._db = db
        self.max_attempts = max_attempts

    def enqueue_job(self, kind: str, ref: str, *, at: datetime | None = None) -> bool:
        """Queue a job once: True if new, False if (kind, ref) was already queued (any status)."""
        with self._db.writer.begin() as conn:
            return enqueue(conn, kind, ref, _utc_now(at))

    def claim_jobs(
        self,
        kind: str,
        worker_id: str,
        limit: int = 10,
        lease_s: float = 300.0,
        now: datetime | None = None,
    ) -> list[Job]:
        """Claim up to ``limit`` due jobs of ``kind``: pending ones whose time has come and
        running ones whose lease expired. Each claim counts an attempt."""
        now = _utc_now(now)
        expired = sa.and_(jobs.c.status == "running", jobs.c.lease_expires_at <= now)
        due = sa.and_(jobs.c.status == "pending", jobs.c.next_attempt_at <= now)
        with self._db.writer.begin() as conn:
            # A job whose worker keeps dying mid-way would otherwise be claimed forever.
            worn_out = sa.and_(jobs.c.kind == kind, expired, jobs.c.attempts >= self.max_attempts)
            conn.execute(
                sa.update(jobs)
                .where(jobs.c.id.in_(_skip_locked_ids(worn_out)))
                .values(
                    status="failed",
                    lease_expires_at=None,
                    updated_at=now,
                    last_error=f"gave up: the lease expired on attempt {self.max_attempts}",
                )
            )
            claimable = sa.and_(jobs.c.kind == kind, sa.or_(due, expired))
            rows = conn.execute(
                sa.update(jobs)
                .where(jobs.c.id.in_(_skip_locked_ids(claimable, limit)))
                .values(
                    status="running",
                    lease_owner=worker_id,
                    lease_expires_at=now + timedelta(seconds=lease_s),
                    attempts=jobs.c.attempts + 1,
                    updated_at=now,
                )
                .returning(jobs.c.id, jobs.c.kind, jobs.c.ref, jobs.c.attempts)
            ).all()
        return sorted((Job(row.id, row.kind, row.ref, row.attempts) for row in rows), key=_id)

    def complete_job(self, job_id: int, worker_id: str, now: datetime | None = None) -> bool:
        """Mark the job done if ``worker_id`` still holds its lease; False if the lease was lost
        (expired or taken by another worker), in which case the result must not be kept."""
        now = _utc_now(now)
        with self._db.writer.begin() as conn:
            result = conn.execute(
                sa.update(jobs)
                .where(self._held(job_id, worker_id, now))
                .values(status="done", lease_expires_at=None, last_error="", updated_at=now)
            )
            return result.rowcount == 1

    def extend_lease(
        self, job_id: int, worker_id: str, lease_s: float, now: datetime | None = None
    ) -> bool:
        """Keep a long job: push the lease to now + ``lease_s`` if it is still held."""
        now = _utc_now(now)
        with self._db.writer.begin() as conn:
            result = conn.execute(
                sa.update(jobs)
                .where(self._held(job_id, worker_id, now))
                .values(lease_expires_at=now + timedelta(seconds=lease_s), updated_at=now)
            )
            return result.rowcount == 1

    def retry_job(
        self,
        job_id: int,
        worker_id: str,
        error: str,
        next_attempt_at: datetime,
        now: datetime | None = None,
    ) -> bool:
        """This attempt failed; try again at ``next_attempt_at`` (e.g. a rate limit's hint),
        or give up (status 'failed') once ``max_attempts`` attempts were made."""
        return self._end_attempt(job_id, worker_id, error, now, lambda _: next_attempt_at)

    def fail_job(
        self,
        job_id: int,
        worker_id: str,
        error: str,
        *,
        permanent: bool = False,
        now: datetime | None = None,
    ) -> bool:
        """This attempt failed: retry after ``backoff_delay``, or give up once ``max_attempts``
        attempts were made (at once when ``permanent``, e.g. the interaction is gone)."""
        now = _utc_now(now)
        return self._end_attempt(
            job_id,
            worker_id,
            error,
            now,
            lambda attempts: None if permanent else now + backoff_delay(attempts),
        )

    def get_job(self, job_id: int) -> JobRecord | None:
        return self._find(jobs.c.id == job_id)

    def find_job(self, kind: str, ref: str) -> JobRecord | None:
        return self._find(sa.and_(jobs.c.kind == kind, jobs.c.ref == ref))

    def _find(self, where: sa.ColumnElement[bool]) -> JobRecord | None:
        with self._db.engine.connect() as conn:
            row = conn.execute(sa.select(jobs).where(where)).mappings().first()
        if row is None:
            return None
        return JobRecord(**{**row, "status": cast(JobStatus, row["status"])})

    def _end_attempt(
        self,
        job_id: int,
        worker_id: str,
        error: str,
        now: datetime | None,
        next_attempt: Callable[[int], datetime | None],
    ) -> bool:
        now = _utc_now(now)
        with self._db.writer.begin() as conn:
            attempts = conn.execute(
                sa.select(jobs.c.attempts)
                .where(self._held(job_id, worker_id, now))
                .with_for_update()
            ).scalar_one_or_none()
            if attempts is None:
                return False
            when = next_attempt(attempts) if attempts < self.max_attempts else None
            conn.execute(
                sa.update(jobs)
                .where(jobs.c.id == job_id)
                .values(
                    status="failed" if when is None else "pending",
                    next_attempt_at=when or now,
                    lease_expires_at=None,
                    last_error=storable_text(error),  # e.g. a model's reply quoted
                    updated_at=now,
                )
            )
            return True

    @staticmethod
    def _held(job_id: int, worker_id: str, now: datetime) -> sa.ColumnElement[bool]:
        return sa.and_(
            jobs.c.id == job_id,
            jobs.c.status == "running",
            jobs.c.lease_owner == worker_id,
            jobs.c.lease_expires_at > now,
        )


def _id(job: Job) -> int:
    return job.id
