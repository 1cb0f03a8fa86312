"""Who sends each weekly digest: one row per (course, week), claimed before sending.

Two clock processes may both decide a digest is due; only the one whose claim succeeds sends
it. A claim is a lease: if its process dies before marking the digest sent, another process
may claim it once the lease expires (so a digest is late rather than lost; a process that
sent and then died before ``mark_digest_sent`` is the one case that can send twice). A
digest a TA posts by hand is recorded as sent too (``mark_posted_by_hand``), so the clock
does not post that week again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bot.store.engine import Database, insert_or_ignore
from bot.store.schema import digests

DEFAULT_DIGEST_LEASE_S = 3600.0


class DigestLedger:
    """The digest claims of one database; ``SqlStore.digests`` is the store's."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def claim_digest(
        self,
        course_id: str,
        week_start: datetime,
        worker_id: str,
        *,
        lease_s: float = DEFAULT_DIGEST_LEASE_S,
        now: datetime | None = None,
    ) -> bool:
        """True if ``worker_id`` may send this digest now: nobody claimed it, its claim lapsed,
        or ``worker_id`` already holds it. False once it was sent or while another holds it."""
        now = now or datetime.now(UTC)
        expires = now + timedelta(seconds=lease_s)
        claim = {"claimed_by": worker_id, "claimed_at": now, "lease_expires_at": expires}
        with self._db.writer.begin() as conn:
            row = {"course_id": course_id, "week_start": week_start, "status": "claimed", **claim}
            if insert_or_ignore(conn, digests, row, ["course_id", "week_start"]):
                return True
            result = conn.execute(
                sa.update(digests)
                .where(
                    self._key(course_id, week_start),
                    digests.c.status == "claimed",
                    sa.or_(digests.c.lease_expires_at <= now, digests.c.claimed_by == worker_id),
                )
                .values(**claim)
            )
            return result.rowcount == 1

    def mark_digest_sent(
        self, course_id: str, week_start: datetime, worker_id: str, *, now: datetime | None = None
    ) -> bool:
        """Record that ``worker_id`` sent it; False if its claim was taken over meanwhile.
        An expired claim still counts: the digest was sent, so it must never go again."""
        with self._db.writer.begin() as conn:
            result = conn.execute(
                sa.update(digests)
                .where(
                    self._key(course_id, week_start),
                    digests.c.status == "claimed",
                    digests.c.claimed_by == worker_id,
                )
                .values(status="sent", sent_at=now or datetime.now(UTC))
            )
            return result.rowcount == 1

    def mark_posted_by_hand(
        self, course_id: str, week_start: datetime, by: str, *, now: datetime | None = None
    ) -> None:
        """Record a digest posted outside the clock (``python -m bot digest --post``) as sent,
        whoever held its claim: the clock must not post the week again. An earlier send keeps
        its time."""
        now = now or datetime.now(UTC)
        sent = {"status": "sent", "claimed_by": by, "claimed_at": now, "lease_expires_at": now}
        with self._db.writer.begin() as conn:
            row = {"course_id": course_id, "week_start": week_start, **sent, "sent_at": now}
            if insert_or_ignore(conn, digests, row, ["course_id", "week_start"]):
                return
            conn.execute(
                sa.update(digests)
                .where(self._key(course_id, week_start), digests.c.status == "claimed")
                .values(**sent, sent_at=now)
            )

    def release_digest(self, course_id: str, week_start: datetime, worker_id: str) -> bool:
        """Give the claim up after a failed send, so the next tick may try at once."""
        with self._db.writer.begin() as conn:
            result = conn.execute(
                sa.delete(digests).where(
                    self._key(course_id, week_start),
                    digests.c.status == "claimed",
                    digests.c.claimed_by == worker_id,
                )
            )
            return result.rowcount == 1

    @staticmethod
    def _key(course_id: str, week_start: datetime) -> sa.ColumnElement[bool]:
        return sa.and_(digests.c.course_id == course_id, digests.c.week_start == week_start)
