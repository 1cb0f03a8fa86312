"""The small interfaces the core depends on: the service, the judge worker, the report and
the clock. Real implementations live in ``bot.llm`` (Claude), ``bot.store`` (SQL) and
``retrieval``; tests register fakes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from bot.courses import Course
from bot.limits import Take
from bot.models import (
    Draft,
    Erased,
    Hit,
    Interaction,
    JudgementRecord,
    Question,
    Refusal,
    TAGrade,
    Vote,
)
from retrieval.models import SearchResult

# Called with the answer text so far, for adapters that show progress while Claude writes.
OnText = Callable[[str], Awaitable[None]]
# Called with a question's place in the queue for the answer model (1: next), as it moves.
OnPlace = Callable[[int], Awaitable[None]]


class Retriever(Protocol):
    async def search(self, course_id: str, text: str, k: int) -> SearchResult: ...


class AnswerModel(Protocol):
    async def answer(
        self,
        question: Question,
        hits: Sequence[Hit],
        policy: str,
        on_text: OnText | None = None,
    ) -> Draft: ...


class Reindexer(Protocol):
    def reindex(self, course: Course) -> str: ...


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    ref: str  # what the job is about, e.g. an interaction id
    attempts: int


# -- the store, as each of its users sees it -------------------------------------------------
# ``bot.store.SqlStore`` is all of them (``sql_store.py`` has mypy check it). Each user's
# protocol names what that user calls, composed from the smaller ones, never restated.


class InteractionLookup(Protocol):
    def get_interaction(self, interaction_id: str) -> Interaction | None: ...


class ReplayTarget(Protocol):
    """The idempotent writes the journal's replay makes (``bot.store.journal``)."""

    def restore_interaction(self, interaction: Interaction, *, enqueue_judge: bool) -> bool: ...
    def restore_vote(self, vote: Vote) -> bool: ...
    def restore_grade(self, grade: TAGrade) -> bool: ...
    def mark_escalated(self, interaction_id: str) -> bool: ...


class LogReads(Protocol):
    """The bulk reads a report or a digest is built from."""

    def list_interactions(
        self, course_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[Interaction]: ...
    def votes_for_many(self, interaction_ids: Iterable[str]) -> dict[str, list[Vote]]: ...
    def grades_for_many(self, interaction_ids: Iterable[str]) -> dict[str, list[TAGrade]]: ...
    def judgements_for_many(
        self, interaction_ids: Iterable[str]
    ) -> dict[str, list[JudgementRecord]]: ...


class JournalRemoval(Protocol):
    """What erasing a student needs of the journal (``bot.store.journal.Journal``): its
    replay held still, and entries removed by a rule over them."""

    def replay_held(self) -> AbstractContextManager[None]: ...
    def remove(self, doomed: Callable[[list[Any]], set[int]]) -> int: ...


class Forgetting(Protocol):
    """Erasing a student (``bot.store.erasure``): the database's rows and the journal's."""

    def forget(
        self, journal: JournalRemoval, asker_ref: str, course_id: str | None = None
    ) -> Erased: ...


class FairUse(Protocol):
    """The fair-use rules' shared state (``bot.store.fairness``): token buckets, refused
    questions, once-a-day notices, tokens spent, the keys repeated questions are found by."""

    def take_token(
        self, course_id: str, asker_ref: str, rate_per_s: float, burst: float, now: datetime
    ) -> Take: ...
    def record_refusal(self, refusal: Refusal) -> None: ...
    def tokens_spent(self, course_id: str, since: datetime) -> int: ...
    def claim_notice(self, course_id: str, kind: str, day: date, now: datetime) -> bool: ...
    def save_question_key(
        self,
        interaction_id: str,
        course_id: str,
        created_at: datetime,
        text_key: str,
        vector: bytes | None,
    ) -> None: ...
    def same_questions(self, course_id: str, text_key: str, since: datetime) -> list[str]: ...
    def recent_vectors(
        self, course_id: str, since: datetime, limit: int
    ) -> list[tuple[str, bytes]]: ...


class Store(InteractionLookup, ReplayTarget, LogReads, Forgetting, Protocol):
    """What the service calls. Synchronous; the async core calls it through
    ``asyncio.to_thread``. It hands itself to the journal's replay (``ReplayTarget``) and
    reads a digest's week for its preview (``LogReads``)."""

    @property
    def fairness(self) -> FairUse: ...

    def save_interaction(self, interaction: Interaction, *, enqueue_judge: bool = True) -> None: ...
    def thread_interactions(
        self, platform: str, channel: str, thread: str, since: datetime | None = None
    ) -> list[Interaction]: ...
    def save_vote(self, vote: Vote) -> None: ...
    def votes_for(self, interaction_id: str) -> list[Vote]: ...
    def save_grade(self, grade: TAGrade) -> None: ...


class JobLeases(Protocol):
    """The job queue as a worker uses it: claim jobs, keep their leases, end them."""

    def claim_jobs(
        self, kind: str, worker_id: str, limit: int, lease_s: float, now: datetime | None = None
    ) -> list[Job]: ...
    def extend_lease(
        self, job_id: int, worker_id: str, lease_s: float, now: datetime | None = None
    ) -> bool: ...
    def complete_job(self, job_id: int, worker_id: str, now: datetime | None = None) -> bool: ...
    def retry_job(
        self,
        job_id: int,
        worker_id: str,
        error: str,
        next_attempt_at: datetime,
        now: datetime | None = None,
    ) -> bool: ...
    def fail_job(
        self, job_id: int, worker_id: str, error: str, now: datetime | None = None
    ) -> bool: ...


class JudgeStore(InteractionLookup, Protocol):
    """What the judge worker calls: its jobs, the interaction, its judge outcomes."""

    @property
    def jobs(self) -> JobLeases: ...
    def judgements_for(self, interaction_id: str) -> list[JudgementRecord]: ...
    def record_judgement(self, record: JudgementRecord) -> None: ...


class DigestClaims(Protocol):
    """The claims that keep a weekly digest from being sent twice."""

    def claim_digest(self, course_id: str, week_start: datetime, worker_id: str) -> bool: ...
    def mark_digest_sent(self, course_id: str, week_start: datetime, worker_id: str) -> bool: ...
    def release_digest(self, course_id: str, week_start: datetime, worker_id: str) -> bool: ...


class DigestStore(LogReads, Protocol):
    """What the clock calls to send a digest: its claims, then the week's reads."""

    @property
    def digests(self) -> DigestClaims: ...
