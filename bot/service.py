"""The one core every adapter calls: ask, record feedback, escalate.

Async throughout; blocking work (embedding, SQL) runs in worker threads, and LanceDB is
searched through its async API, so a chat adapter's event loop is never stalled by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from bot.annotations import VoteTally, tally
from bot.courses import Course, Courses
from bot.digest import current_week_start
from bot.errors import (
    AnswerModelError,
    AskFailedError,
    BotError,
    InvalidQuestionError,
    StoreUnavailableError,
    UnknownInteractionError,
)
from bot.fallback import extractive_draft
from bot.ids import new_ulid
from bot.models import (
    Answer,
    Digest,
    Draft,
    Hit,
    Interaction,
    Question,
    RetrievedSegment,
    StageTimings,
    Turn,
    Vote,
)
from bot.ports import AnswerModel, OnText, Reindexer, Retriever, Store
from bot.pseudonym import pseudonymise
from bot.scheduler import digest_for_week
from bot.store.journal import (
    Entry,
    Journal,
    PendingEscalation,
    PendingInteraction,
    PendingVote,
    failure_summary,
)
from retrieval.errors import RetrievalError
from retrieval.text import storable_text

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ServiceOptions:
    k: int = 10
    judge_enabled: bool = True
    pass_score: int = 2  # the judge score (of 3) from which an answer counts as correct
    # Why there is no answer model, for the log and the fallback (e.g. no API key).
    no_model_reason: str = "ANTHROPIC_API_KEY is not set"


class AssistantService:
    def __init__(
        self,
        *,
        retriever: Retriever,
        answer_model: AnswerModel | None,
        store: Store,
        journal: Journal,
        courses: Courses,
        pseudonym_secret: str,
        options: ServiceOptions | None = None,
        reindexer: Reindexer | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.retriever = retriever
        self.answer_model = answer_model
        self.store = store
        self.journal = journal
        self.courses = courses
        self._secret = pseudonym_secret
        self.options = options or ServiceOptions()
        self._clock = clock
        self.reindexer = reindexer

    async def ask(self, question: Question, on_text: OnText | None = None) -> Answer:
        """Answer from the course's lectures; the interaction is committed, or journaled when
        the database cannot take it, before returning."""
        course = self.courses.get(question.course_id)
        text = _checked_text(question.text)
        question = replace(question, text=text)
        started = time.perf_counter()
        interaction_id = new_ulid()
        try:
            retrieved = await self.retriever.search(course.id, text, self.options.k)
        except Exception as exc:
            # A course not indexed yet is a setup step, told in one line; anything else may
            # be a bug and keeps its traceback.
            setup_step = isinstance(exc, RetrievalError)
            log.error(
                "retrieval failed for interaction %s: %s",
                interaction_id,
                exc,
                exc_info=None if setup_step else exc,
            )
            await self._save_failure(interaction_id, question, course, started, exc)
            raise AskFailedError(interaction_id, f"retrieval failed: {exc}") from exc
        hits = tuple(retrieved.hits)
        generate_started = time.perf_counter()
        draft = await self._draft(question, course, hits, on_text)
        generate_ms = _ms_since(generate_started)
        timings = StageTimings(
            embed_ms=retrieved.embed_ms,
            search_ms=retrieved.search_ms,
            generate_ms=generate_ms,
            total_ms=_ms_since(started),
        )
        interaction = self._interaction(interaction_id, question, course, hits, draft, timings)
        judge = self.options.judge_enabled and not draft.fallback and not draft.abstained
        await self._keep_interaction(interaction, judge)
        return Answer(
            interaction_id=interaction_id,
            text=draft.text,
            citations=draft.citations,
            abstained=draft.abstained,
            fallback=draft.fallback,
            model=draft.model,
        )

    async def _draft(
        self, question: Question, course: Course, hits: tuple[Hit, ...], on_text: OnText | None
    ) -> Draft:
        if self.answer_model is None:
            return extractive_draft(question, hits, self.options.no_model_reason, course.language)
        # Whatever goes wrong, the student still gets the lecture moments (replacing any text
        # streamed so far); the cause goes to the log and the row.
        try:
            return await self.answer_model.answer(question, hits, course.policy, on_text)
        except AnswerModelError as exc:
            log.warning("answer model failed, using the extractive fallback: %s", exc.cause)
            reason = f"answer model failed: {exc.cause}"
        except Exception as exc:
            # Not a failure the port reports: a bug, or one its implementation did not foresee.
            log.exception("answer model raised unexpectedly, using the extractive fallback")
            reason = f"answer model failed unexpectedly: {type(exc).__name__}: {exc}"
        return extractive_draft(question, hits, reason, course.language)

    def _interaction(
        self,
        interaction_id: str,
        question: Question,
        course: Course,
        hits: tuple[Hit, ...],
        draft: Draft,
        timings: StageTimings,
    ) -> Interaction:
        cited = {c.segment_id for c in draft.citations}
        return Interaction(
            id=interaction_id,
            created_at=self._clock(),
            platform=question.platform,
            course_id=course.id,
            channel=question.channel,
            thread=question.thread,
            asker_ref=self._pseudonym(question.platform, question.asker),
            question=question.text.strip(),
            answer=draft.text,
            abstained=draft.abstained,
            fallback=draft.fallback,
            model=draft.model,
            usage=draft.usage,
            timings=timings,
            error=draft.error,
            retrieved=tuple(
                RetrievedSegment(
                    rank=h.rank,
                    score=h.score,
                    segment=h.segment,
                    cited=h.segment.id in cited,
                    dense_score=h.dense_score,
                )
                for h in hits
            ),
            citations=draft.citations,
        )

    async def _save_failure(
        self,
        interaction_id: str,
        question: Question,
        course: Course,
        started: float,
        exc: Exception,
    ) -> None:
        failed = self._interaction(
            interaction_id,
            question,
            course,
            hits=(),
            draft=Draft(text="", error=f"{type(exc).__name__}: {exc}"),
            timings=StageTimings(total_ms=_ms_since(started)),
        )
        await self._keep_interaction(failed, enqueue_judge=False)

    async def _keep_interaction(self, interaction: Interaction, enqueue_judge: bool) -> None:
        entry = PendingInteraction(interaction, enqueue_judge)
        save = self.store.save_interaction
        await self._keep(entry, lambda: save(interaction, enqueue_judge=enqueue_judge))

    async def _keep(self, entry: Entry, write: Callable[[], object]) -> None:
        """``write`` to the database, else ``entry`` to the journal. Never raises, so no
        answer or vote waits on the database coming back."""
        await asyncio.to_thread(self._keep_now, entry, write)

    def _keep_now(self, entry: Entry, write: Callable[[], object]) -> None:
        try:
            if self.journal.has_entries():
                # Older entries go first (a vote after its answer); if they cannot, nor can this.
                failure = self.journal.replay(self.store).error
                if failure:
                    self._journal(entry, failure)
                    return
            write()
        except Exception as exc:
            self._journal(entry, failure_summary(exc))

    def _journal(self, entry: Entry, cause: str) -> None:
        try:
            self.journal.append(entry)
        except Exception:
            log.exception(
                "%s is lost: neither the database (%s) nor the journal %s could take it",
                entry.describe(),
                cause,
                self.journal.path,
            )
            return
        log.error(
            "%s was not saved to the database (%s): journaled in %s until the database takes it",
            entry.describe(),
            cause,
            self.journal.path,
        )

    async def record_feedback(
        self, interaction_id: str, platform: str, user_id: str, value: int, is_ta: bool = False
    ) -> VoteTally:
        """A 👍 (1), 👎 (-1) or a retraction (0). Every event is kept; each user counts once.
        With the database unreachable the vote is journaled, and the tally counts the votes
        this process can see."""
        if value not in (1, -1, 0):
            raise ValueError(f"a vote is 1, -1 or 0, not {value!r}")
        with contextlib.suppress(StoreUnavailableError):  # kept all the same, checked on replay
            await self._interaction_or_raise(interaction_id)
        vote = Vote(
            interaction_id=interaction_id,
            user_ref=self._pseudonym(platform, user_id),
            value=value,  # type: ignore[arg-type]
            at=self._clock(),
            is_ta=is_ta,
        )
        await self._keep(PendingVote(vote), lambda: self.store.save_vote(vote))
        return tally(await asyncio.to_thread(self._votes_for, interaction_id))

    def _votes_for(self, interaction_id: str) -> list[Vote]:
        try:
            stored = self.store.votes_for(interaction_id)
        except Exception as exc:
            log.warning("votes on %s not read: %s", interaction_id, failure_summary(exc))
            stored = []
        return stored + self.journal.votes_for(interaction_id)

    async def escalate(self, interaction_id: str) -> Interaction:
        """Mark that a student asked for a human; the adapter tags the course's TAs. The mark
        is journaled when the database cannot take it (StoreUnavailableError when it cannot
        even say which interaction that is)."""
        escalation = PendingEscalation(interaction_id)

        def mark() -> None:
            self.store.mark_escalated(interaction_id)

        try:
            interaction = await self._interaction_or_raise(interaction_id)
        except StoreUnavailableError:
            await self._keep(escalation, mark)
            raise
        await self._keep(escalation, mark)
        return interaction

    async def interaction(self, interaction_id: str) -> Interaction:
        return await self._interaction_or_raise(interaction_id)

    async def _interaction_or_raise(self, interaction_id: str) -> Interaction:
        return await asyncio.to_thread(self._lookup, interaction_id)

    def _lookup(self, interaction_id: str) -> Interaction:
        """From the database, else from the journal (an answer given while it was down)."""
        try:
            found = self.store.get_interaction(interaction_id)
        except Exception as exc:
            found = self.journal.interaction(interaction_id)
            if found is None:
                raise StoreUnavailableError(failure_summary(exc)) from exc
        if found is None:
            found = self.journal.interaction(interaction_id)
        if found is None:
            raise UnknownInteractionError(interaction_id)
        return found

    async def thread_history(
        self, platform: str, channel: str, thread: str, within: timedelta | None = None
    ) -> tuple[Turn, ...]:
        """Earlier questions and answers of a bot thread; empty when the bot has none there.
        ``within``: only the turns of that last stretch of time (a DM has no threads, so its
        conversation is what was said lately)."""
        if not thread:
            return ()
        since = None if within is None else self._clock() - within
        earlier = await asyncio.to_thread(
            self._thread_interactions, platform, channel, thread, since
        )
        turns: list[Turn] = []
        for row in earlier:
            turns.append(Turn("student", row.question))
            if row.answer:
                turns.append(Turn("assistant", row.answer))
        return tuple(turns)

    def _thread_interactions(
        self, platform: str, channel: str, thread: str, since: datetime | None
    ) -> list[Interaction]:
        """The database's and the journal's; the journal's alone when the database cannot be
        read, so a follow-up is still answered."""
        try:
            stored = self.store.thread_interactions(platform, channel, thread, since)
        except Exception as exc:
            log.warning("thread %s read from the journal only: %s", thread, failure_summary(exc))
            stored = []
        if not self.journal.has_entries():
            return stored
        known = {i.id for i in stored}
        pending = self.journal.thread_interactions(platform, channel, thread, since)
        fresh = [i for i in pending if i.id not in known]
        return sorted([*stored, *fresh], key=lambda i: (i.created_at, i.id)) if fresh else stored

    async def reindex(self, course_id: str) -> str:
        """Re-ingest a course's lectures (TA command); returns a one-line summary."""
        course = self.courses.get(course_id)
        if self.reindexer is None:
            raise BotError("reindexing is not available in this process")
        return await asyncio.to_thread(self.reindexer.reindex, course)

    async def build_digest(self, course_id: str, week_start: date | None = None) -> Digest:
        """The TA digest of a week (default: the current one so far, in course time)."""
        course = self.courses.get(course_id)
        week = week_start or current_week_start(course, self._clock())
        return await asyncio.to_thread(
            digest_for_week, self.store, course, week, self.options.pass_score
        )

    def _pseudonym(self, platform: str, user_id: str) -> str:
        return pseudonymise(self._secret, platform, user_id)


def _checked_text(text: str) -> str:
    """The question as it is searched, sent and stored: cleaned of what no store or API can
    hold (so a question of nothing but control characters is empty), stripped, bounded."""
    stripped = storable_text(text).strip()
    if not stripped:
        raise InvalidQuestionError("the question is empty")
    if len(stripped) > MAX_QUESTION_CHARS:
        raise InvalidQuestionError(
            f"the question is {len(stripped)} characters long; keep it under {MAX_QUESTION_CHARS}"
        )
    return stripped


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
