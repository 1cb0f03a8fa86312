"""A job queue in the database: any number of worker processes claim jobs under a lease.

A claim sets status 'running', an owner and a lease expiry, and counts an attempt. A worker
that dies simply lets its lease expire and the job is claimed again; a worker whose lease was
lost cannot complete, retry or fail the job any more (those calls return False), so a result
is recorded once. PostgreSQL claims with ``FOR UPDATE SKIP LOCKED``; SQLite's claim is one
UPDATE in a transaction that took the write lock at BEGIN (IMMEDIATE).

The queue keeps no retry policy: the worker decides when a job is tried again and when it is
given up (``bot.judge``), so it can record why first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.ports import Job
from bot.store.engine import Database, insert_or_ignore
from bot.store.records import JobStatus
from bot.store.schema import jobs
from retrieval.text import storable_text


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


def _skip_locked_ids(where: sa.ColumnElement[bool], limit: int) -> Any:
    """Up to ``limit`` ids matching ``where``, locked for us and skipping rows other workers
    hold (PostgreSQL; SQLite renders no locking clause and relies on its write lock)."""
    query = sa.select(jobs.c.id).where(where).order_by(jobs.c.next_attempt_at, jobs.c.id)
    return query.limit(limit).with_for_update(skip_locked=True).scalar_subquery()


class JobQueue:
    """The queue of one database; ``SqlStore.jobs`` is the store's."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def claim_jobs(
        self,
        kind: str,
        worker_id: str,
        limit: int = 10,
        lease_s: float = 300.0,
        now: datetime | None = None,
    ) -> list[Job]:
        """Claim up to ``limit`` due jobs of ``kind``: pending ones whose time has come and
        running ones whose lease expired. Each claim counts an attempt, so a worker can tell
        a job whose earlier workers died (more attempts than it allows) and give it up."""
        now = _utc_now(now)
        expired = sa.and_(jobs.c.status == "running", jobs.c.lease_expires_at <= now)
        due = sa.and_(jobs.c.status == "pending", jobs.c.next_attempt_at <= now)
        with self._db.writer.begin() as conn:
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
        return self._end_attempt(job_id, worker_id, "done", "", None, now)

    def extend_lease(
        self, job_id: int, worker_id: str, lease_s: float, now: datetime | None = None
    ) -> bool:
        """Keep a long job: push the lease to now + ``lease_s`` if it is still held."""
        now = _utc_now(now)
        expires = now + timedelta(seconds=lease_s)
        return self._update_held(job_id, worker_id, now, lease_expires_at=expires)

    def retry_job(
        self,
        job_id: int,
        worker_id: str,
        error: str,
        next_attempt_at: datetime,
        now: datetime | None = None,
    ) -> bool:
        """This attempt failed; the job is due again at ``next_attempt_at``."""
        return self._end_attempt(job_id, worker_id, "pending", error, next_attempt_at, now)

    def fail_job(
        self, job_id: int, worker_id: str, error: str, now: datetime | None = None
    ) -> bool:
        """Give the job up (status 'failed'): it is never claimed again."""
        return self._end_attempt(job_id, worker_id, "failed", error, None, now)

    def release_leases(self, worker_id: str, now: datetime | None = None) -> int:
        """A worker stopping on purpose gives back every job it holds: each is claimable at
        once, and the abandoned attempt is not counted (it did not fail). How many."""
        now = _utc_now(now)
        held = sa.and_(
            jobs.c.status == "running",
            jobs.c.lease_owner == worker_id,
            jobs.c.lease_expires_at > now,
        )
        with self._db.writer.begin() as conn:
            released = conn.execute(
                sa.update(jobs)
                .where(held)
                .values(
                    status="pending",
                    lease_expires_at=None,
                    next_attempt_at=now,
                    attempts=jobs.c.attempts - 1,  # counted by the claim
                    updated_at=now,
                )
            )
            return int(released.rowcount)

    def _end_attempt(
        self,
        job_id: int,
        worker_id: str,
        status: JobStatus,
        error: str,
        next_attempt_at: datetime | None,
        now: datetime | None,
    ) -> bool:
        now = _utc_now(now)
        return self._update_held(
            job_id,
            worker_id,
            now,
            status=status,
            next_attempt_at=next_attempt_at or now,
            lease_expires_at=None,
            last_error=storable_text(error),  # e.g. a model's reply quoted
        )

    def _update_held(self, job_id: int, worker_id: str, now: datetime, **values: Any) -> bool:
        """Write ``values`` if ``worker_id`` still holds the job's lease; False (nothing
        written) if it lost it."""
        with self._db.writer.begin() as conn:
            result = conn.execute(
                sa.update(jobs)
                .where(self._held(job_id, worker_id, now))
                .values(**values, updated_at=now)
            )
            return result.rowcount == 1

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
