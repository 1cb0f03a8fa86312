"""``SqlStore``: the interaction log, votes and judgements in SQL, holding the job queue
(``store.jobs``, ``jobs.py``) and the digest claims (``store.digests``, ``digests.py``) as
parts that share its database.

Synchronous, like its ports (``bot.ports``); the async core calls it through
``asyncio.to_thread``. Reads for reports load whole sets in a fixed number of queries (never
one per interaction).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.models import (
    ANSWER_RELEVANCE,
    JUDGE_JOB,
    Erased,
    Interaction,
    Judgement,
    JudgementRecord,
    TAGrade,
    Vote,
)
from bot.ports import DigestStore, JournalRemoval, JudgeStore, Store
from bot.store import rows
from bot.store.digests import DigestLedger
from bot.store.engine import Database, insert_or_ignore, make_engine
from bot.store.erasure import forget_before, forget_student
from bot.store.fairness import FairUseLedger
from bot.store.jobs import JobQueue, enqueue
from bot.store.migrations import migrate
from bot.store.records import StoreError
from bot.store.schema import (
    citations,
    interaction_segments,
    interactions,
    judgements,
    ta_grades,
    votes,
)

T = TypeVar("T")

_IN_CHUNK = 500  # ids per IN (...) list: far below SQLite's and PostgreSQL's parameter limits


def open_store(url: str) -> SqlStore:
    """Open (creating if needed) the database at ``url`` and bring its schema up to date."""
    engine = make_engine(url)
    migrate(engine)
    return SqlStore(engine)


class SqlStore:
    """The interaction log, votes and judgements; and, sharing its database, the job queue
    (``jobs``) and the digest claims (``digests``)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.db = Database(engine)
        self.jobs = JobQueue(self.db)
        self.digests = DigestLedger(self.db)
        self.fairness = FairUseLedger(self.db)

    def close(self) -> None:
        self.db.close()

    # -- interactions ---------------------------------------------------------------------

    def save_interaction(self, interaction: Interaction, *, enqueue_judge: bool = True) -> None:
        """Write the interaction, its retrieved segments, its citations and (optionally) its
        judge job in one transaction: all of it or none of it."""
        self._write_interaction(interaction, enqueue_judge, unless_stored=False)

    def restore_interaction(self, interaction: Interaction, *, enqueue_judge: bool) -> bool:
        """``save_interaction`` for the journal's replay, safe to repeat: False, writing
        nothing, when the interaction is stored already (its first save committed but the
        reply was lost, or a replay committed it and stopped before clearing the journal)."""
        return self._write_interaction(interaction, enqueue_judge, unless_stored=True)

    def _write_interaction(
        self, interaction: Interaction, enqueue_judge: bool, *, unless_stored: bool
    ) -> bool:
        what = f"interaction {interaction.id} was not saved (nothing was written)"
        check = "Check that its id is new and its retrieved ranks are distinct."
        with _refused(what, check), self.db.writer.begin() as conn:
            row = rows.interaction_row(interaction)
            if not unless_stored:
                conn.execute(sa.insert(interactions), [row])
            elif not insert_or_ignore(conn, interactions, row, ["id"]):
                return False
            segment_rows = rows.segment_rows(interaction)
            citation_rows = rows.citation_rows(interaction)
            if segment_rows:
                conn.execute(sa.insert(interaction_segments), segment_rows)
            if citation_rows:
                conn.execute(sa.insert(citations), citation_rows)
            if enqueue_judge:
                enqueue(conn, JUDGE_JOB, interaction.id, datetime.now(UTC))
        return True

    def get_interaction(self, interaction_id: str) -> Interaction | None:
        with self.db.engine.connect() as conn:
            found = self._load(conn, interactions.c.id == interaction_id)
        return found[0] if found else None

    def list_interactions(
        self, course_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[Interaction]:
        """A course's interactions with ``since <= created_at < until``, oldest first."""
        where = [interactions.c.course_id == course_id]
        if since is not None:
            where.append(interactions.c.created_at >= since)
        if until is not None:
            where.append(interactions.c.created_at < until)
        with self.db.engine.connect() as conn:
            return self._load(conn, sa.and_(*where))

    def thread_interactions(
        self, platform: str, channel: str, thread: str, since: datetime | None = None
    ) -> list[Interaction]:
        """The interactions of one platform thread, oldest first (a follow-up's history);
        only those from ``since`` on when given."""
        where = sa.and_(
            interactions.c.platform == platform,
            interactions.c.channel == channel,
            interactions.c.thread == thread,
            sa.true() if since is None else interactions.c.created_at >= since,
        )
        with self.db.engine.connect() as conn:
            return self._load(conn, where)

    def mark_escalated(self, interaction_id: str) -> bool:
        """True when this call escalated the interaction, False when it already was: one
        conditional UPDATE, so of two clicks at once exactly one gets True."""
        with self.db.writer.begin() as conn:
            result = conn.execute(
                sa.update(interactions)
                .where(interactions.c.id == interaction_id, sa.not_(interactions.c.escalated))
                .values(escalated=True)
            )
            if result.rowcount == 1:
                return True
            known = conn.execute(
                sa.select(interactions.c.id).where(interactions.c.id == interaction_id)
            ).first()
        if known is None:
            raise StoreError(f"cannot escalate interaction {interaction_id}: no such interaction")
        return False

    # -- erasure --------------------------------------------------------------------------

    def forget(
        self, journal: JournalRemoval, asker_ref: str, course_id: str | None = None
    ) -> Erased:
        """Delete everything kept of a student, here and in ``journal`` (``erasure.py``)."""
        return forget_student(self.db, journal, asker_ref, course_id)

    def forget_before(self, cutoff: datetime) -> Erased:
        """Delete the interactions created before ``cutoff`` (the retention period's end)."""
        return forget_before(self.db, cutoff)

    # -- votes ----------------------------------------------------------------------------

    def save_vote(self, vote: Vote) -> None:
        """Append a vote event; history is kept (value 0 records a retraction)."""
        self._insert_for_interaction(votes, rows.record_row(vote), vote.interaction_id, "vote")

    def restore_vote(self, vote: Vote) -> bool:
        """``save_vote`` for the journal's replay, safe to repeat: False, writing nothing,
        when this very vote event (same user, value and time) is stored already."""
        return self._insert_unless_stored(votes, rows.record_row(vote), vote.interaction_id, "vote")

    def votes_for(self, interaction_id: str) -> list[Vote]:
        """Every vote event on the interaction, in time order (see ``current_votes``)."""
        return self.votes_for_many([interaction_id])[interaction_id]

    def votes_for_many(self, interaction_ids: Iterable[str]) -> dict[str, list[Vote]]:
        order = (votes.c.at, votes.c.id)
        return self._by_interaction(votes, interaction_ids, order, rows.to_vote)

    # -- TA grades -------------------------------------------------------------------------

    def save_grade(self, grade: TAGrade) -> None:
        """Append a TA's grade event; earlier grades are kept (the latest counts)."""
        self._insert_for_interaction(
            ta_grades, rows.record_row(grade), grade.interaction_id, "grade"
        )

    def restore_grade(self, grade: TAGrade) -> bool:
        """``save_grade`` for the journal's replay, safe to repeat: False, writing nothing,
        when this very grade event is stored already."""
        row = rows.record_row(grade)
        return self._insert_unless_stored(ta_grades, row, grade.interaction_id, "grade")

    def grades_for(self, interaction_id: str) -> list[TAGrade]:
        """Every grade event on the interaction, in time order (see ``current_grade``)."""
        return self.grades_for_many([interaction_id])[interaction_id]

    def grades_for_many(self, interaction_ids: Iterable[str]) -> dict[str, list[TAGrade]]:
        order = (ta_grades.c.at, ta_grades.c.id)
        return self._by_interaction(ta_grades, interaction_ids, order, rows.to_grade)

    # -- judgements -----------------------------------------------------------------------

    def save_judgement(
        self,
        judgement: Judgement,
        *,
        kind: str = ANSWER_RELEVANCE,
        target: str = "",
        at: datetime | None = None,
    ) -> None:
        self.record_judgement(
            JudgementRecord(
                interaction_id=judgement.interaction_id,
                kind=kind,
                target=target,
                status="ok",
                score=float(judgement.score),
                criteria=judgement.criteria,
                evidence=judgement.evidence,
                model=judgement.model,
                error="",
                created_at=at or datetime.now(UTC),
            )
        )

    def save_judge_failure(
        self,
        interaction_id: str,
        error: str,
        *,
        kind: str = ANSWER_RELEVANCE,
        target: str = "",
        model: str = "",
        at: datetime | None = None,
    ) -> None:
        """Record that the judge could not score (bad output, API down): no score is stored."""
        self.record_judgement(
            JudgementRecord(
                interaction_id=interaction_id,
                kind=kind,
                target=target,
                status="failed",
                score=None,
                criteria="",
                evidence="",
                model=model,
                error=error,
                created_at=at or datetime.now(UTC),
            )
        )

    def record_judgement(self, record: JudgementRecord) -> None:
        """Store any judge outcome: any kind, any target, a float score or a failure."""
        row = rows.record_row(record)
        self._insert_for_interaction(judgements, row, record.interaction_id, "judgement")

    def judgements_for(self, interaction_id: str) -> list[JudgementRecord]:
        """Every judge outcome on the interaction (all kinds, failures too), oldest first."""
        return self.judgements_for_many([interaction_id])[interaction_id]

    def judgements_for_many(
        self, interaction_ids: Iterable[str]
    ) -> dict[str, list[JudgementRecord]]:
        order = (judgements.c.created_at, judgements.c.id)
        return self._by_interaction(judgements, interaction_ids, order, rows.to_judgement_record)

    # -- helpers --------------------------------------------------------------------------

    def _by_interaction(
        self,
        table: sa.Table,
        interaction_ids: Iterable[str],
        order: Sequence[sa.ColumnElement[Any]],
        convert: Callable[[rows.Row], T],
    ) -> dict[str, list[T]]:
        """Each asked interaction id (once, in the order asked) with its rows of ``table``
        converted, in ``order``; an empty list for ids without rows."""
        ids = list(dict.fromkeys(interaction_ids))
        with self.db.engine.connect() as conn:
            grouped = rows.group_by_interaction(_rows_for_ids(conn, table, ids, order))
        return {id_: [convert(row) for row in grouped.get(id_, [])] for id_ in ids}

    def _insert_for_interaction(
        self, table: sa.Table, row: dict[str, Any], interaction_id: str, what: str
    ) -> None:
        refused = f"{what} on interaction {interaction_id} was not saved"
        with _refused(refused, _EXISTS), self.db.writer.begin() as conn:
            conn.execute(sa.insert(table), [row])

    def _insert_unless_stored(
        self, table: sa.Table, row: dict[str, Any], interaction_id: str, what: str
    ) -> bool:
        """Insert ``row`` unless an identical one (every column but the id) is stored: an
        event replayed from the journal is written once."""
        same = sa.select(table.c.id).where(
            *(
                table.c[name].is_(None) if value is None else table.c[name] == value
                for name, value in row.items()
            )
        )
        refused = f"{what} on interaction {interaction_id} was not saved"
        with _refused(refused, _EXISTS), self.db.writer.begin() as conn:
            if conn.execute(same.limit(1)).first() is not None:
                return False
            conn.execute(sa.insert(table), [row])
        return True

    def _load(self, conn: Connection, where: sa.ColumnElement[bool]) -> list[Interaction]:
        """Interactions matching ``where`` with their segments and citations: three queries."""
        found = (
            conn.execute(
                sa.select(interactions)
                .where(where)
                .order_by(interactions.c.created_at, interactions.c.id)
            )
            .mappings()
            .all()
        )
        ids = [row["id"] for row in found]
        segments = rows.group_by_interaction(
            _rows_for_ids(conn, interaction_segments, ids, (interaction_segments.c.rank,))
        )
        cited = rows.group_by_interaction(
            _rows_for_ids(conn, citations, ids, (citations.c.position,))
        )
        return [
            rows.to_interaction(row, segments.get(row["id"], []), cited.get(row["id"], []))
            for row in found
        ]


_EXISTS = "Check that the interaction exists and the values are in range."


@contextlib.contextmanager
def _refused(what: str, check: str) -> Iterator[None]:
    """A write the database refuses for its values (a constraint, a value out of range) as a
    ``StoreError`` saying what to check: trying again would not help."""
    try:
        yield
    except (sa.exc.IntegrityError, sa.exc.DataError) as exc:
        raise StoreError(f"{what}: {exc.orig}. {check}") from exc


def _rows_for_ids(
    conn: Connection, table: sa.Table, ids: Sequence[str], order: Sequence[sa.ColumnElement[Any]]
) -> Iterator[rows.Row]:
    """Rows of ``table`` whose interaction_id is in ``ids``, ordered within each interaction."""
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        query = sa.select(table).where(table.c.interaction_id.in_(chunk)).order_by(*order)
        yield from conn.execute(query).mappings()


if TYPE_CHECKING:  # mypy flags any drift from the ports its users see
    _for_the_service: type[Store] = SqlStore
    _for_the_judge_worker: type[JudgeStore] = SqlStore
    _for_the_clock: type[DigestStore] = SqlStore
