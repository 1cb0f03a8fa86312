"""The state of the fair-use rules (``bot.limits``), in the database so that every process
shares it: each student's token bucket, the questions it turned away, the once-a-day notices
to the TAs, the keys a repeated question is found by, and the tokens a course spent today."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from bot.limits import Take, take_token
from bot.models import Refusal
from bot.store.engine import Database, insert_or_ignore
from bot.store.schema import course_notices, interactions, question_keys, rate_buckets, refusals


class FairUseLedger:
    """``SqlStore.fairness``: shares the store's database (and pool)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def take_token(
        self, course_id: str, asker_ref: str, rate_per_s: float, burst: float, now: datetime
    ) -> Take:
        """One question's token from the student's bucket (full at first). The row is locked
        for the read-and-write (FOR UPDATE on PostgreSQL; SQLite's write lock is taken at
        BEGIN), so two processes taking at once never both spend the last token."""
        key = sa.and_(rate_buckets.c.course_id == course_id, rate_buckets.c.asker_ref == asker_ref)
        with self._db.writer.begin() as conn:
            fresh = {"course_id": course_id, "asker_ref": asker_ref, "tokens": burst}
            insert_or_ignore(
                conn, rate_buckets, {**fresh, "updated_at": now}, ["course_id", "asker_ref"]
            )
            tokens, updated_at = conn.execute(
                sa.select(rate_buckets.c.tokens, rate_buckets.c.updated_at)
                .where(key)
                .with_for_update()
            ).one()
            took = take_token(tokens, (now - updated_at).total_seconds(), rate_per_s, burst)
            latest = max(now, updated_at)  # a process whose clock lags never rewinds the bucket
            conn.execute(
                sa.update(rate_buckets).where(key).values(tokens=took.tokens, updated_at=latest)
            )
        return took

    def record_refusal(self, refusal: Refusal) -> None:
        with self._db.writer.begin() as conn:
            conn.execute(sa.insert(refusals).values(**refusal.__dict__))

    def tokens_spent(self, course_id: str, since: datetime) -> int:
        """The LLM tokens (in and out) of the course's answers logged from ``since`` on."""
        spent = sa.func.coalesce(
            sa.func.sum(interactions.c.input_tokens + interactions.c.output_tokens), 0
        )
        query = sa.select(spent).where(
            interactions.c.course_id == course_id, interactions.c.created_at >= since
        )
        with self._db.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def claim_notice(self, course_id: str, kind: str, day: date, now: datetime) -> bool:
        """True for the one caller (of any process) that should send this day's notice."""
        row = {"course_id": course_id, "kind": kind, "day": day.isoformat(), "created_at": now}
        with self._db.writer.begin() as conn:
            return insert_or_ignore(conn, course_notices, row, ["course_id", "kind", "day"])

    def save_question_key(
        self,
        interaction_id: str,
        course_id: str,
        created_at: datetime,
        text_key: str,
        vector: bytes | None,
    ) -> None:
        row = {
            "interaction_id": interaction_id,
            "course_id": course_id,
            "created_at": created_at,
            "text_key": text_key,
            "vector": vector,
        }
        with self._db.writer.begin() as conn:
            conn.execute(sa.insert(question_keys).values(**row))

    def same_questions(self, course_id: str, text_key: str, since: datetime) -> list[str]:
        """The interactions asked with this key since ``since``, newest first."""
        query = (
            sa.select(question_keys.c.interaction_id)
            .where(
                question_keys.c.course_id == course_id,
                question_keys.c.text_key == text_key,
                question_keys.c.created_at >= since,
            )
            .order_by(question_keys.c.created_at.desc())
        )
        with self._db.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def recent_vectors(
        self, course_id: str, since: datetime, limit: int
    ) -> list[tuple[str, bytes]]:
        """The newest ``limit`` question vectors of the course since ``since``."""
        query = (
            sa.select(question_keys.c.interaction_id, question_keys.c.vector)
            .where(
                question_keys.c.course_id == course_id,
                question_keys.c.created_at >= since,
                question_keys.c.vector.is_not(None),
            )
            .order_by(question_keys.c.created_at.desc())
            .limit(limit)
        )
        with self._db.engine.connect() as conn:
            return [(row[0], bytes(row[1])) for row in conn.execute(query)]
