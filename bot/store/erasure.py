"""Erasing what the bot kept of a student (the LGPD's right to deletion) and what is older
than the retention period: one rule for the ``forget`` command, the TAs' chat command and
the clock's daily clean-up.

A student's data is their questions and answers (with the segments retrieved and the
citations), the judge's work on them (judgements, jobs), every vote on them, and every vote
they cast, in the database and in the journal (pending and set-aside entries alike). Each
erasure is idempotent: repeated, it deletes nothing more and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.models import Erased
from bot.ports import JournalRemoval
from bot.store.engine import Database
from bot.store.journal import Entry, PendingInteraction, PendingVote
from bot.store.schema import (
    citations,
    interaction_segments,
    interactions,
    jobs,
    judgements,
    question_keys,
    rate_buckets,
    refusals,
    votes,
)


def forget_student(
    db: Database, journal: JournalRemoval, asker_ref: str, course_id: str | None = None
) -> Erased:
    """Delete everything kept of the student ``asker_ref`` (a pseudonym), in one course or
    in all. The journal first, with its replay held, so nothing it holds of the student
    reaches the database after the database was cleaned."""
    in_course = sa.true() if course_id is None else interactions.c.course_id == course_id
    theirs = sa.select(interactions.c.id).where(interactions.c.asker_ref == asker_ref, in_course)
    with journal.replay_held():
        from_journal = journal.remove(_journal_rule(db, asker_ref, course_id))
        with db.writer.begin() as conn:
            course_ids = sa.select(interactions.c.id).where(in_course)
            cast = votes.c.user_ref == asker_ref
            own_votes = _count(
                conn,
                votes.delete().where(
                    cast
                    if course_id is None
                    else sa.and_(cast, votes.c.interaction_id.in_(course_ids))
                ),
            )
            erased = _delete_interactions(conn, theirs)
            _delete_fair_use(conn, asker_ref, course_id)
    return Erased(
        interactions=erased.interactions,
        votes=erased.votes + own_votes,
        judgements=erased.judgements,
        jobs=erased.jobs,
        journal_entries=from_journal,
    )


def forget_before(db: Database, cutoff: datetime) -> Erased:
    """Delete every interaction created before ``cutoff``, with all that hangs off it."""
    old = sa.select(interactions.c.id).where(interactions.c.created_at < cutoff)
    with db.writer.begin() as conn:
        conn.execute(refusals.delete().where(refusals.c.created_at < cutoff))
        return _delete_interactions(conn, old)


def _delete_fair_use(conn: Connection, asker_ref: str, course_id: str | None) -> None:
    """The student's questions the rate limit refused (their text) and their buckets."""
    for table in (refusals, rate_buckets):
        mine = table.c.asker_ref == asker_ref
        where = mine if course_id is None else sa.and_(mine, table.c.course_id == course_id)
        conn.execute(table.delete().where(where))


def _delete_interactions(conn: Connection, ids: sa.Select[tuple[str]]) -> Erased:
    """Delete the interactions whose ids ``ids`` selects, their rows in every table first."""
    counts = {
        "votes": _count(conn, votes.delete().where(votes.c.interaction_id.in_(ids))),
        "judgements": _count(conn, judgements.delete().where(judgements.c.interaction_id.in_(ids))),
        "jobs": _count(conn, jobs.delete().where(jobs.c.ref.in_(ids))),
    }
    conn.execute(
        interaction_segments.delete().where(interaction_segments.c.interaction_id.in_(ids))
    )
    conn.execute(citations.delete().where(citations.c.interaction_id.in_(ids)))
    conn.execute(question_keys.delete().where(question_keys.c.interaction_id.in_(ids)))
    deleted = _count(conn, interactions.delete().where(interactions.c.id.in_(ids)))
    return Erased(interactions=deleted, **counts)


def _count(conn: Connection, statement: sa.Delete) -> int:
    return int(conn.execute(statement).rowcount or 0)


def _journal_rule(
    db: Database, asker_ref: str, course_id: str | None
) -> Callable[[list[Entry]], set[int]]:
    """Which journal entries are the student's: their interactions, the escalations and
    votes on them, and the votes they cast (in the course: on its interactions)."""

    def doomed(entries: list[Entry]) -> set[int]:
        theirs = {
            e.interaction_id
            for e in entries
            if isinstance(e, PendingInteraction)
            and e.interaction.asker_ref == asker_ref
            and course_id in (None, e.interaction.course_id)
        }
        voted_on = {
            e.interaction_id
            for e in entries
            if isinstance(e, PendingVote) and e.vote.user_ref == asker_ref
        }
        in_course = voted_on if course_id is None else _of_course(db, entries, voted_on, course_id)
        return {
            position
            for position, e in enumerate(entries)
            if e.interaction_id in theirs
            or (
                isinstance(e, PendingVote)
                and e.vote.user_ref == asker_ref
                and e.interaction_id in in_course
            )
        }

    return doomed


def _of_course(db: Database, entries: list[Entry], ids: set[str], course_id: str) -> set[str]:
    """Those of ``ids`` whose interaction is in the course, by the journal or the database."""
    found = {
        e.interaction_id
        for e in entries
        if isinstance(e, PendingInteraction) and e.interaction.course_id == course_id
    }
    with db.engine.connect() as conn:
        query = sa.select(interactions.c.id).where(
            interactions.c.id.in_(sorted(ids)), interactions.c.course_id == course_id
        )
        found |= set(conn.execute(query).scalars())
    return found & ids
