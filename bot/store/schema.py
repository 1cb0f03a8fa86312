"""The current shape of the tables, for queries. Migrations create them (see migrations.py);
nothing calls ``metadata.create_all`` but the test that checks the two agree: it builds a
database from these definitions and compares it, as reflected, with a migrated one (columns,
types, keys, indexes, UNIQUE and CHECK constraints). So edit both together: add a migration,
then mirror it here."""

from __future__ import annotations

import sqlalchemy as sa

from bot.store.columns import INTERACTION_COLUMNS
from bot.store.sqltypes import UtcDateTime, id_type

metadata = sa.MetaData()

interactions = sa.Table(
    "interactions",
    metadata,
    *(column.sql_column() for column in INTERACTION_COLUMNS),
    sa.Index("ix_interactions_course_created", "course_id", "created_at"),
    sa.Index("ix_interactions_thread", "platform", "channel", "thread", "created_at"),  # m005
)

interaction_segments = sa.Table(
    "interaction_segments",
    metadata,
    sa.Column("interaction_id", sa.String(26), sa.ForeignKey("interactions.id"), primary_key=True),
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

citations = sa.Table(
    "citations",
    metadata,
    sa.Column("interaction_id", sa.String(26), sa.ForeignKey("interactions.id"), primary_key=True),
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
    metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("interaction_id", sa.String(26), sa.ForeignKey("interactions.id"), nullable=False),
    sa.Column("user_ref", sa.Text, nullable=False),
    sa.Column("value", sa.SmallInteger, nullable=False),
    sa.Column("is_ta", sa.Boolean, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.CheckConstraint("value IN (-1, 0, 1)", name="ck_votes_value"),
    sa.Index("ix_votes_interaction_at", "interaction_id", "at"),
)

judgements = sa.Table(
    "judgements",
    metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("interaction_id", sa.String(26), sa.ForeignKey("interactions.id"), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("criteria", sa.Text, nullable=False),
    sa.Column("evidence", sa.Text, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.CheckConstraint(
        "(status = 'ok' AND score IS NOT NULL) OR (status = 'failed' AND score IS NULL)",
        name="ck_judgements_status_score",
    ),
    sa.Index("ix_judgements_interaction_kind", "interaction_id", "kind"),
)

jobs = sa.Table(  # m002
    "jobs",
    metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("ref", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("lease_owner", sa.Text, nullable=True),
    sa.Column("lease_expires_at", UtcDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("kind", "ref", name="uq_jobs_kind_ref"),
    sa.CheckConstraint("status IN ('pending', 'running', 'done', 'failed')", name="ck_jobs_status"),
    sa.Index("ix_jobs_status_next_attempt", "status", "next_attempt_at"),
)

digests = sa.Table(  # m004
    "digests",
    metadata,
    sa.Column("course_id", sa.String(200), primary_key=True),
    sa.Column("week_start", UtcDateTime, primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("claimed_by", sa.Text, nullable=False),
    sa.Column("claimed_at", UtcDateTime, nullable=False),
    sa.Column("lease_expires_at", UtcDateTime, nullable=False),
    sa.Column("sent_at", UtcDateTime, nullable=True),
    sa.CheckConstraint("status IN ('claimed', 'sent')", name="ck_digests_status"),
)

ta_grades = sa.Table(  # m006
    "ta_grades",
    metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("interaction_id", sa.String(26), sa.ForeignKey("interactions.id"), nullable=False),
    sa.Column("grader_ref", sa.Text, nullable=False),
    sa.Column("label", sa.String(1), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("ar_grade", sa.SmallInteger, nullable=True),
    sa.Column("note", sa.Text, nullable=False),
    sa.CheckConstraint("label IN ('C', 'I')", name="ck_ta_grades_label"),
    sa.CheckConstraint(
        "ar_grade IS NULL OR (ar_grade >= 0 AND ar_grade <= 3)", name="ck_ta_grades_ar_grade"
    ),
    sa.Index("ix_ta_grades_interaction_at", "interaction_id", "at"),
)

rate_buckets = sa.Table(  # m009
    "rate_buckets",
    metadata,
    sa.Column("course_id", sa.String(200), primary_key=True),
    sa.Column("asker_ref", sa.Text, primary_key=True),
    sa.Column("tokens", sa.Float, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

refusals = sa.Table(  # m009
    "refusals",
    metadata,
    sa.Column("id", id_type(), primary_key=True, autoincrement=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("course_id", sa.String(200), nullable=False),
    sa.Column("platform", sa.String(32), nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("asker_ref", sa.Text, nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("wait_s", sa.Float, nullable=False),
    sa.Index("ix_refusals_course_created", "course_id", "created_at"),
)

course_notices = sa.Table(  # m009
    "course_notices",
    metadata,
    sa.Column("course_id", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(64), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

question_keys = sa.Table(  # m009
    "question_keys",
    metadata,
    sa.Column(
        "interaction_id",
        sa.String(26),
        sa.ForeignKey("interactions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("course_id", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("text_key", sa.String(64), nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=True),
    sa.Index("ix_question_keys_course_key", "course_id", "text_key"),
    sa.Index("ix_question_keys_course_created", "course_id", "created_at"),
)
