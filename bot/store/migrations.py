"""Versioned schema migrations, applied in order at open and recorded in ``_migrations``.

Rules (as in simonw/llm): a released migration is never edited; to fix one, add another.
Each migration builds its tables from its own definitions, never from ``schema.py`` (which
describes the newest shape and changes over time). Each runs in its own transaction, under
PostgreSQL's advisory lock or SQLite's write lock, so two processes starting at once apply
each migration exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.store.engine import connected, writer

Migration = Callable[[Connection], None]
MIGRATIONS: list[Migration] = []

# Any fixed 64-bit number; it names "this project's migrations" among advisory locks.
_PG_LOCK_KEY = 0x636F7572_73654D47

_migrations = sa.Table(
    "_migrations",
    sa.MetaData(),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


def migrate(engine: sa.Engine, *, until: str | None = None) -> list[str]:
    """Apply every pending migration (or those up to and including ``until``); return the
    names applied by this call."""
    names = [fn.__name__ for fn in MIGRATIONS]
    if until is not None and until not in names:
        raise ValueError(f"unknown migration {until!r}; known: {', '.join(names)}")
    wanted = MIGRATIONS[: names.index(until) + 1] if until else MIGRATIONS
    if {fn.__name__ for fn in wanted} <= applied_migrations(engine):
        return []
    done: list[str] = []
    for fn in wanted:
        with writer(engine).begin() as conn:
            _lock(conn)
            _migrations.create(conn, checkfirst=True)
            if fn.__name__ in _applied(conn):
                continue
            fn(conn)
            conn.execute(_migrations.insert().values(name=fn.__name__, applied_at=_now(conn)))
            done.append(fn.__name__)
    return done


def applied_migrations(engine: sa.Engine) -> set[str]:
    # The first connection a process opens: a database it cannot reach fails here, clearly.
    with connected(engine) as conn:
        if not sa.inspect(conn).has_table("_migrations"):
            return set()
        return _applied(conn)


def _applied(conn: Connection) -> set[str]:
    return set(conn.execute(sa.select(_migrations.c.name)).scalars())


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    # SQLite: the transaction began IMMEDIATE, which already excludes other writers.


def _now(conn: Connection) -> datetime:
    now = datetime.now(UTC)
    return now.replace(tzinfo=None) if conn.dialect.name == "sqlite" else now


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _serial() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


@migration
def m001_initial(conn: Connection) -> None:
    meta = sa.MetaData()
    interactions = sa.Table(
        "interactions",
        meta,
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("course_id", sa.String(200), nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("thread", sa.Text, nullable=False),
        sa.Column("asker_ref", sa.Text, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("abstained", sa.Boolean, nullable=False),
        sa.Column("fallback", sa.Boolean, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("input_tokens", sa.Integer, nullable=False),
        sa.Column("output_tokens", sa.Integer, nullable=False),
        sa.Column("embed_ms", sa.Float, nullable=False),
        sa.Column("search_ms", sa.Float, nullable=False),
        sa.Column("generate_ms", sa.Float, nullable=False),
        sa.Column("total_ms", sa.Float, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
    )
    sa.Index("ix_interactions_course_created", interactions.c.course_id, interactions.c.created_at)
    sa.Table(
        "interaction_segments",
        meta,
        sa.Column(
            "interaction_id", sa.String(26), sa.ForeignKey("interactions.id"), primary_key=True
        ),
        sa.Column("rank", sa.Integer, primary_key=True),
        sa.Column("segment_id", sa.Text, nullable=False),
        sa.Column("video_id", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("start_s", sa.Float, nullable=False),
        sa.Column("end_s", sa.Float, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("dense_score", sa.Float, nullable=True),
        sa.Column("cited", sa.Boolean, nullable=False),
    )
    sa.Table(
        "citations",
        meta,
        sa.Column(
            "interaction_id", sa.String(26), sa.ForeignKey("interactions.id"), primary_key=True
        ),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("segment_id", sa.Text, nullable=False),
        sa.Column("video_id", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("start_s", sa.Float, nullable=False),
        sa.Column("end_s", sa.Float, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
    )
    votes = sa.Table(
        "votes",
        meta,
        sa.Column("id", _serial(), primary_key=True, autoincrement=True),
        sa.Column(
            "interaction_id", sa.String(26), sa.ForeignKey("interactions.id"), nullable=False
        ),
        sa.Column("user_ref", sa.Text, nullable=False),
        sa.Column("value", sa.SmallInteger, nullable=False),
        sa.Column("is_ta", sa.Boolean, nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.CheckConstraint("value IN (-1, 0, 1)", name="ck_votes_value"),
    )
    sa.Index("ix_votes_interaction_at", votes.c.interaction_id, votes.c.at)
    judgements = sa.Table(
        "judgements",
        meta,
        sa.Column("id", _serial(), primary_key=True, autoincrement=True),
        sa.Column(
            "interaction_id", sa.String(26), sa.ForeignKey("interactions.id"), nullable=False
        ),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("criteria", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        # A failed judge call is a status with an error, never a score.
        sa.CheckConstraint(
            "(status = 'ok' AND score IS NOT NULL) OR (status = 'failed' AND score IS NULL)",
            name="ck_judgements_status_score",
        ),
    )
    sa.Index("ix_judgements_interaction_kind", judgements.c.interaction_id, judgements.c.kind)
    meta.create_all(conn, checkfirst=False)


@migration
def m002_jobs(conn: Connection) -> None:
    meta = sa.MetaData()
    jobs = sa.Table(
        "jobs",
        meta,
        sa.Column("id", _serial(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("ref", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", _utc(), nullable=False),
        sa.Column("lease_owner", sa.Text, nullable=True),
        sa.Column("lease_expires_at", _utc(), nullable=True),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.UniqueConstraint("kind", "ref", name="uq_jobs_kind_ref"),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done', 'failed')", name="ck_jobs_status"
        ),
    )
    sa.Index("ix_jobs_status_next_attempt", jobs.c.status, jobs.c.next_attempt_at)
    meta.create_all(conn, checkfirst=False)
    # Interactions logged before this migration had no judge job: queue them now.
    conn.execute(
        sa.text(
            "INSERT INTO jobs (kind, ref, status, attempts, next_attempt_at, last_error,"
            " created_at, updated_at)"
            " SELECT 'judge', i.id, 'pending', 0, :now, '', :now, :now FROM interactions i"
            " WHERE NOT EXISTS (SELECT 1 FROM judgements j WHERE j.interaction_id = i.id"
            " AND j.kind = 'answer_relevance' AND j.status = 'ok')"
        ).bindparams(sa.bindparam("now", _now(conn), type_=_utc()))
    )


@migration
def m003_interactions_escalated(conn: Connection) -> None:
    conn.execute(
        sa.text("ALTER TABLE interactions ADD COLUMN escalated BOOLEAN NOT NULL DEFAULT FALSE")
    )


@migration
def m004_digests(conn: Connection) -> None:
    meta = sa.MetaData()
    sa.Table(
        "digests",
        meta,
        sa.Column("course_id", sa.String(200), primary_key=True),
        sa.Column("week_start", _utc(), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("claimed_by", sa.Text, nullable=False),
        sa.Column("claimed_at", _utc(), nullable=False),
        sa.Column("lease_expires_at", _utc(), nullable=False),
        sa.Column("sent_at", _utc(), nullable=True),
        sa.CheckConstraint("status IN ('claimed', 'sent')", name="ck_digests_status"),
    )
    meta.create_all(conn, checkfirst=False)


@migration
def m005_interactions_thread_index(conn: Connection) -> None:
    # A follow-up in a thread reads the thread's earlier turns: keep that lookup indexed.
    conn.execute(
        sa.text(
            "CREATE INDEX ix_interactions_thread"
            " ON interactions (platform, channel, thread, created_at)"
        )
    )


@migration
def m006_ta_grades(conn: Connection) -> None:
    # A TA's C/I (and optional 0-3 score) on an answer: events, like votes; the latest counts.
    meta = sa.MetaData()
    sa.Table("interactions", meta, sa.Column("id", sa.String(26), primary_key=True))  # its key
    grades = sa.Table(
        "ta_grades",
        meta,
        sa.Column("id", _serial(), primary_key=True, autoincrement=True),
        sa.Column(
            "interaction_id", sa.String(26), sa.ForeignKey("interactions.id"), nullable=False
        ),
        sa.Column("grader_ref", sa.Text, nullable=False),
        sa.Column("label", sa.String(1), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("ar_grade", sa.SmallInteger, nullable=True),
        sa.Column("note", sa.Text, nullable=False),
        sa.CheckConstraint("label IN ('C', 'I')", name="ck_ta_grades_label"),
        sa.CheckConstraint(
            "ar_grade IS NULL OR (ar_grade >= 0 AND ar_grade <= 3)", name="ck_ta_grades_ar_grade"
        ),
    )
    sa.Index("ix_ta_grades_interaction_at", grades.c.interaction_id, grades.c.at)
    grades.create(conn, checkfirst=False)  # only it: the stub above names an existing table


@migration
def m007_interactions_flags(conn: Connection) -> None:
    # What the guardrails raised on each question (injection attempt, graded solution asked).
    conn.execute(sa.text("ALTER TABLE interactions ADD COLUMN flags TEXT NOT NULL DEFAULT ''"))


@migration
def m008_interactions_version(conn: Connection) -> None:
    # The version of what produced each answer (bot.versions); older rows have none.
    conn.execute(sa.text("ALTER TABLE interactions ADD COLUMN version TEXT NOT NULL DEFAULT ''"))


@migration
def m009_fair_use(conn: Connection) -> None:
    # A repeated question's interaction names the one whose answer it was given.
    conn.execute(sa.text("ALTER TABLE interactions ADD COLUMN repeat_of TEXT NOT NULL DEFAULT ''"))
    meta = sa.MetaData()
    sa.Table("interactions", meta, sa.Column("id", sa.String(26), primary_key=True))
    sa.Table(  # each student's token bucket per course, shared by every process
        "rate_buckets",
        meta,
        sa.Column("course_id", sa.String(200), primary_key=True),
        sa.Column("asker_ref", sa.Text, primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
    )
    refusals = sa.Table(  # questions turned away by the rate limit: asked, not answered
        "refusals",
        meta,
        sa.Column("id", _serial(), primary_key=True, autoincrement=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("course_id", sa.String(200), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("asker_ref", sa.Text, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("wait_s", sa.Float, nullable=False),
    )
    sa.Index("ix_refusals_course_created", refusals.c.course_id, refusals.c.created_at)
    sa.Table(  # a notice the TAs get once a day per course (e.g. the token budget spent)
        "course_notices",
        meta,
        sa.Column("course_id", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(64), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("created_at", _utc(), nullable=False),
    )
    keys = sa.Table(  # what a later question is compared with to find a repeat
        "question_keys",
        meta,
        sa.Column(
            "interaction_id",
            sa.String(26),
            sa.ForeignKey("interactions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("course_id", sa.String(200), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("text_key", sa.String(64), nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=True),
    )
    sa.Index("ix_question_keys_course_key", keys.c.course_id, keys.c.text_key)
    sa.Index("ix_question_keys_course_created", keys.c.course_id, keys.c.created_at)
    for table in ("rate_buckets", "refusals", "course_notices", "question_keys"):
        meta.tables[table].create(conn, checkfirst=False)
