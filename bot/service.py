"""The one core every adapter calls: ask, record feedback, escalate, grade an answer.

Async throughout; blocking work (embedding, SQL) runs in worker threads, and LanceDB is
searched through its async API, so a chat adapter's event loop is never stalled by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from bot.alignment import Alignment
from bot.annotations import VoteTally, tally
from bot.courses import Course, Courses
from bot.digest import current_week_start, digest_for_week, monday_of, week_bounds
from bot.digest_week import EmbedQuestions
from bot.errors import (
    AnswerModelError,
    AskFailedError,
    BotError,
    InvalidGradeError,
    InvalidQuestionError,
    RateLimitedError,
    RestartingError,
    StoreUnavailableError,
    UnknownInteractionError,
)
from bot.fair_use import FairUse
from bot.fallback import extractive_draft
from bot.guardrails import joined_flags, question_flags
from bot.ids import new_ulid
from bot.limits import rate_limited_text
from bot.model_queue import ModelQueue
from bot.models import (
    AR_GRADES,
    LABELS,
    Answer,
    Digest,
    Draft,
    Erased,
    Hit,
    Interaction,
    Label,
    Question,
    RetrievedSegment,
    StageTimings,
    TAGrade,
    Turn,
    Usage,
    Vote,
)
from bot.ports import AnswerModel, OnPlace, OnText, Reindexer, Retriever, Store
from bot.prompts import policy_with_assignments
from bot.pseudonym import (
    is_pseudonym,
    pseudonymise,
    pseudonymise_channel,
    pseudonymise_mentions,
)
from bot.report import alignment_of, load_entries
from bot.restart import AnswerInterrupted, Restart
from bot.review import ReviewWeek, read_review_week
from bot.review_links import IssuedLink, LinkRefused, ReviewAccess, ReviewLinks
from bot.store.journal import (
    Entry,
    Journal,
    PendingEscalation,
    PendingGrade,
    PendingInteraction,
    PendingVote,
    failure_summary,
)
from bot.ta_alerts import TaAlerts
from bot.versions import AnswerSetup
from retrieval.errors import RetrievalError
from retrieval.text import storable_text

log = logging.getLogger(__name__)

T = TypeVar("T")
A = TypeVar("A")

MAX_QUESTION_CHARS = 2000
MAX_NOTE_CHARS = 4000
REFUSED_RESTARTING = "refused: the bot was restarting; the student was asked to ask again"
INTERRUPTED_RESTARTING = (
    "interrupted: the bot restarted before the answer was ready; the student was asked to ask again"
)
REVIEW_NOT_SET_UP = (
    "A página de revisão não está configurada: defina REVIEW_BASE_URL (o endereço público do "
    "servidor que a serve) nas configurações do bot."
)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Escalation:
    """A request for a human on an interaction (now marked escalated)."""

    interaction: Interaction
    ping_tas: bool  # this request escalated it: tag the TAs; False: they were called already


@dataclass(frozen=True)
class ServiceOptions:
    k: int = 10
    judge_enabled: bool = True
    pass_score: int = 2  # the judge score (of 3) from which an answer counts as correct
    # Why there is no answer model, for the log and the fallback (e.g. no API key).
    no_model_reason: str = "ANTHROPIC_API_KEY is not set"
    # What produces the answers, for the version each interaction records; None: no version.
    setup: AnswerSetup | None = None
    answer_concurrency: int = 8  # answers the model writes at once; the rest wait in line


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
        review_links: ReviewLinks | None = None,
        clock: Callable[[], datetime] = utcnow,
        restart: Restart | None = None,
        embed_questions: EmbedQuestions | None = None,
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
        self.fair_use = FairUse(store, clock)
        self.ta_alerts = TaAlerts(clock)
        self.model_queue = ModelQueue(self.options.answer_concurrency)
        self.restart = restart or Restart()
        self.embed_questions = embed_questions  # groups the digest's questions by topic
        self.review_links = review_links

    async def ask(
        self,
        question: Question,
        on_text: OnText | None = None,
        on_place: OnPlace | None = None,
    ) -> Answer:
        """Answer from the course's lectures; the interaction is committed, or journaled when
        the database cannot take it, before returning. ``on_text`` hears the answer as the
        model writes it; ``on_place`` the question's place in line while it waits for the
        model.

        Raises ``InvalidQuestionError`` (nothing kept), ``RateLimitedError`` (the question
        kept as a refusal; its ``student_text`` says when to ask again), or
        ``AskFailedError`` whose ``interaction_id`` names the failure as it was kept and whose
        ``tas_alert`` the adapter tells the TAs; so every reference a student is shown names a
        kept row. While the bot restarts, ``RestartingError`` (a kept ``AskFailedError``): the
        question was refused, or cut short when the restart's grace ended."""
        async with self.restart.in_flight():
            return await self._ask(question, _Listeners(on_text, on_place))

    async def _ask(self, question: Question, listeners: _Listeners) -> Answer:
        course = self.courses.get(question.course_id)
        # Users it mentions are pseudonyms before it is searched, sent or stored.
        text = pseudonymise_mentions(self._secret, question.platform, _checked_text(question.text))
        flags = question_flags(text, (), course.assignments)
        question = replace(question, text=text, flags=flags)
        started = time.perf_counter()
        interaction_id = new_ulid()
        if self.restart.stopping:
            await self._keep_failure(interaction_id, question, course, started, REFUSED_RESTARTING)
            raise RestartingError(interaction_id, REFUSED_RESTARTING)
        await self._admit(question, course)
        earlier = await self._fair_use_or_none(self.fair_use.same_question, course, question)
        if earlier is not None:
            return await self._repeat(interaction_id, question, earlier, started)
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
            failure = await self._failed(
                interaction_id, question, course, started, exc, "retrieval"
            )
            raise failure from exc
        hits = tuple(retrieved.hits)
        question = self._flagged(interaction_id, question, course, hits)
        searched = StageTimings(  # total_ms: so far
            embed_ms=retrieved.embed_ms, search_ms=retrieved.search_ms, total_ms=_ms_since(started)
        )
        vector = retrieved.query_vector
        earlier = await self._fair_use_or_none(
            self.fair_use.similar_question, course, question, vector
        )
        if earlier is not None:
            return await self._repeat(interaction_id, question, earlier, started)
        try:
            answer, interaction = await self._answer(
                interaction_id, question, course, hits, listeners, searched
            )
        except AnswerInterrupted:
            log.warning("interaction %s: %s", interaction_id, INTERRUPTED_RESTARTING)
            cause = INTERRUPTED_RESTARTING
            await self._keep_failure(interaction_id, question, course, started, cause)
            raise RestartingError(interaction_id, cause) from None
        except Exception as exc:  # a bug: the student still gets a reference that is kept
            log.exception("answering interaction %s failed unexpectedly", interaction_id)
            failure = await self._failed(
                interaction_id, question, course, started, exc, "answering"
            )
            raise failure from exc
        if interaction.model and not interaction.fallback and not interaction.abstained:
            await self._fair_use_or_none(self._remember, interaction, question, vector)
        return answer

    async def _admit(self, question: Question, course: Course) -> None:
        """Past the student's rate limit: the question is kept as a refusal and the student
        told when to ask again. With the database out of reach the question goes on."""
        asker_ref = self.pseudonym(question.platform, question.asker)
        wait_s = await self._fair_use_or_none(self.fair_use.admit, course, asker_ref, question)
        if wait_s:
            raise RateLimitedError(rate_limited_text(wait_s), wait_s)

    async def _fair_use_or_none(self, rule: Callable[..., T], *args: object) -> T | None:
        """A fair-use rule's verdict; None, so the question is answered as usual, when the
        database it keeps its state in cannot be reached (a fair-use limit never costs an
        answer)."""
        try:
            return await asyncio.to_thread(rule, *args)
        except Exception as exc:
            log.warning("fair-use check %s skipped: %s", rule.__name__, failure_summary(exc))
            return None

    def _remember(
        self, interaction: Interaction, question: Question, vector: tuple[float, ...]
    ) -> None:
        if not question.history:  # a follow-up's answer depends on its thread
            self.fair_use.remember(interaction, vector)

    async def _repeat(
        self, interaction_id: str, question: Question, earlier: Interaction, started: float
    ) -> Answer:
        """The earlier answer again, at once and with its citations, logged as this question's
        own interaction linked to it (and judged against this question)."""
        draft = Draft(
            text=earlier.answer,
            citations=earlier.citations,
            model=earlier.model,
            usage=Usage(),  # no model call
        )
        timings = StageTimings(total_ms=_ms_since(started))
        course = self.courses.get(question.course_id)
        own = self._interaction(interaction_id, question, course, (), draft, timings)
        interaction = replace(own, retrieved=earlier.retrieved, repeat_of=earlier.id)
        await self._keep_interaction(interaction, self.options.judge_enabled)
        return Answer(
            interaction_id=interaction_id,
            text=draft.text,
            citations=draft.citations,
            abstained=False,
            fallback=False,
            model=draft.model,
            repeat_of=earlier.id,
        )

    async def _answer(
        self,
        interaction_id: str,
        question: Question,
        course: Course,
        hits: tuple[Hit, ...],
        listeners: _Listeners,
        searched: StageTimings,
    ) -> tuple[Answer, Interaction]:
        generate_started = time.perf_counter()
        draft, tas_alert = await self._draft(question, course, hits, listeners)
        generate_ms = _ms_since(generate_started)
        timings = replace(
            searched, generate_ms=generate_ms, total_ms=searched.total_ms + generate_ms
        )
        interaction = self._interaction(interaction_id, question, course, hits, draft, timings)
        judge = self.options.judge_enabled and not draft.fallback and not draft.abstained
        await self._keep_interaction(interaction, judge)
        answer = Answer(
            interaction_id=interaction_id,
            text=draft.text,
            citations=draft.citations,
            abstained=draft.abstained,
            fallback=draft.fallback,
            model=draft.model,
            tas_alert=tas_alert,
        )
        return answer, interaction

    async def _draft(
        self, question: Question, course: Course, hits: tuple[Hit, ...], listeners: _Listeners
    ) -> tuple[Draft, str]:
        """The draft, and what to tell the TAs about it: the TAs hear of a model that failed
        (``TaAlerts``: not of every failure in an outage) or of the day's token budget spent
        (once a day), not of a model left out on purpose (no key)."""
        if self.answer_model is None:
            no_model = extractive_draft(
                question, hits, self.options.no_model_reason, course.language
            )
            return no_model, ""
        budget = await self._fair_use_or_none(self.fair_use.budget, course)
        if budget is not None and budget.exhausted:
            reason = f"daily token budget spent ({budget.spent} of {budget.limit})"
            over = extractive_draft(question, hits, reason, course.language)
            return over, budget.tas_alert() if budget.notify else ""
        # Whatever goes wrong, the student still gets the lecture moments (replacing any text
        # streamed so far); the cause goes to the log and the row.
        try:
            shown = None if listeners.on_text is None else _never_raising(listeners.on_text)
            place = None if listeners.on_place is None else _never_raising(listeners.on_place)
            policy = policy_with_assignments(course.policy, course.assignments)
            # A question still waiting in line is cut by a restart too (it leaves the line).
            with self.restart.interruptible():
                async with self.model_queue.slot(place):
                    draft = await self.answer_model.answer(question, hits, policy, shown)
            return draft, ""
        except AnswerInterrupted:
            raise  # the restart's, not the model's: no fallback, the student asks again
        except AnswerModelError as exc:
            log.warning("answer model failed, using the extractive fallback: %s", exc.cause)
            reason = f"answer model failed: {exc.cause}"
        except Exception as exc:
            # Not a failure the port reports: a bug, or one its implementation did not foresee.
            log.exception("answer model raised unexpectedly, using the extractive fallback")
            reason = f"answer model failed unexpectedly: {type(exc).__name__}: {exc}"
        fallback = extractive_draft(question, hits, reason, course.language)
        return fallback, self.ta_alerts.pass_on(course.id, "answer model", fallback.error)

    def _flagged(
        self, interaction_id: str, question: Question, course: Course, hits: tuple[Hit, ...]
    ) -> Question:
        """The question with every flag the guardrails raise on it and its excerpts."""
        excerpts = [hit.segment.text for hit in hits]
        flags = question_flags(question.text, excerpts, course.assignments)
        if flags:
            log.warning("interaction %s flagged by the guardrails: %s", interaction_id, flags)
        return replace(question, flags=flags)

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
            channel=self._place(question.platform, question.channel, question.private),
            thread=self._place(question.platform, question.thread, question.private),
            asker_ref=self.pseudonym(question.platform, question.asker),
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
            flags=joined_flags(question.flags),
            version=self.options.setup.version(course.policy) if self.options.setup else "",
        )

    async def _failed(
        self,
        interaction_id: str,
        question: Question,
        course: Course,
        started: float,
        exc: Exception,
        stage: str,
    ) -> AskFailedError:
        """Keep the failure under ``interaction_id``; the error that names it."""
        cause = f"{type(exc).__name__}: {exc}"
        await self._keep_failure(interaction_id, question, course, started, cause)
        alert = self.ta_alerts.pass_on(course.id, stage, cause)
        message = f"{stage} failed: {exc}"
        return AskFailedError(interaction_id, message, tas_alert=alert, tas_told_lately=not alert)

    async def _keep_failure(
        self, interaction_id: str, question: Question, course: Course, started: float, cause: str
    ) -> None:
        """A question with no answer, kept under ``interaction_id`` with why."""
        failed = self._interaction(
            interaction_id,
            question,
            course,
            hits=(),
            draft=Draft(text="", error=cause),
            timings=StageTimings(total_ms=_ms_since(started)),
        )
        await self._keep_interaction(failed, enqueue_judge=False)

    async def _keep_interaction(self, interaction: Interaction, enqueue_judge: bool) -> None:
        entry = PendingInteraction(interaction, enqueue_judge)
        save = self.store.save_interaction
        await self._keep(entry, lambda: save(interaction, enqueue_judge=enqueue_judge))

    async def _keep(self, entry: Entry, write: Callable[[], T]) -> T | None:
        """``write`` to the database and its result, else ``entry`` to the journal and None.
        Never raises, so no answer or vote waits on the database coming back."""
        return await asyncio.to_thread(self._keep_now, entry, write)

    def _keep_now(self, entry: Entry, write: Callable[[], T]) -> T | None:
        try:
            if self.journal.has_entries():
                # Older entries go first (a vote after its answer); if they cannot, nor can this.
                failure = self.journal.replay(self.store).error
                if failure:
                    self._journal(entry, failure)
                    return None
            return write()
        except Exception as exc:
            self._journal(entry, failure_summary(exc))
            return None

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
            user_ref=self.pseudonym(platform, user_id),
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

    async def grade_answer(
        self,
        course_id: str,
        interaction_id: str,
        grader_ref: str,
        label: str,
        ar_grade: int | None = None,
        note: str = "",
    ) -> TAGrade:
        """A TA's verdict on an answer of ``course_id``: C or I (the manual annotation, over
        the students' votes), optionally an AR grade 0-3 and a note. ``grader_ref`` is the
        TA's pseudonym (``pseudonym``). Every grade is kept; the latest counts. A grade the
        database cannot write is journaled; one whose answer cannot even be read raises
        ``StoreUnavailableError`` (its course is unchecked). Raises ``InvalidGradeError`` for
        a bad value and ``UnknownInteractionError`` for an interaction not of that course."""
        grade = TAGrade(
            interaction_id=interaction_id,
            grader_ref=_checked_grader(grader_ref),
            label=_checked_label(label),
            at=self._clock(),
            ar_grade=_checked_ar_grade(ar_grade),
            note=_checked_note(note),
        )
        interaction = await self._interaction_or_raise(interaction_id)
        if interaction.course_id != course_id:  # a link for one course grades only that course
            raise UnknownInteractionError(interaction_id)
        await self._keep(PendingGrade(grade), lambda: self.store.save_grade(grade))
        return grade

    async def escalate(self, interaction_id: str) -> Escalation:
        """A student asked for a human. The TAs are called once per interaction: the
        escalation says whether this request is the one that calls them. The mark is journaled
        when the database cannot take it (StoreUnavailableError when it cannot even say which
        interaction that is)."""
        escalation = PendingEscalation(interaction_id)

        def mark() -> bool:
            return self.store.mark_escalated(interaction_id)

        try:
            interaction = await self._interaction_or_raise(interaction_id)
        except StoreUnavailableError:
            if not await asyncio.to_thread(self._escalation_waits, interaction_id):
                await self._keep(escalation, mark)
            raise
        if interaction.escalated:  # stored, or waiting in the journal: called already
            return Escalation(interaction, ping_tas=False)
        first = await self._keep(escalation, mark)  # None: journaled, so this request was first
        return Escalation(replace(interaction, escalated=True), ping_tas=first is not False)

    def _escalation_waits(self, interaction_id: str) -> bool:
        """Whether the journal holds an escalation of it that the database has not taken."""
        return interaction_id in self._waiting_escalations()

    def _waiting_escalations(self) -> set[str]:
        if not self.journal.has_entries():
            return set()
        entries = self.journal.entries()
        return {e.interaction_id for e in entries if isinstance(e, PendingEscalation)}

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
        if not found.escalated and self._escalation_waits(interaction_id):
            return replace(found, escalated=True)  # the mark waits in the journal
        return found

    async def thread_history(
        self,
        platform: str,
        channel: str,
        thread: str,
        within: timedelta | None = None,
        *,
        private: bool = False,
    ) -> tuple[Turn, ...]:
        """Earlier questions and answers of a bot thread; empty when the bot has none there.
        ``within``: only the turns of that last stretch of time (a DM has no threads, so its
        conversation is what was said lately). ``private``: a DM, stored under pseudonyms."""
        if not thread:
            return ()
        since = None if within is None else self._clock() - within
        channel = self._place(platform, channel, private)
        thread = self._place(platform, thread, private)
        earlier = await asyncio.to_thread(
            self._thread_interactions, platform, channel, thread, since
        )
        return _turns(earlier)

    async def unmentioned_follow_up(
        self, platform: str, channel: str, thread: str, *, asker_is_ta: bool
    ) -> tuple[Turn, ...] | None:
        """The earlier turns when a message in a thread that does not mention the bot is for
        it: a thread of the bot's, not a TA's message (a TA there is answering the student),
        and no human asked for in it (the TAs have it now). None: the bot keeps out. A
        message that mentions the bot is always answered."""
        if asker_is_ta or not thread:
            return None
        earlier = await asyncio.to_thread(
            self._thread_interactions, platform, channel, thread, None
        )
        if not earlier or any(i.escalated for i in earlier):
            return None
        return _turns(earlier)

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
        merged = sorted([*stored, *fresh], key=lambda i: (i.created_at, i.id))
        waiting = self._waiting_escalations()  # they count as much as stored ones
        return [replace(i, escalated=True) if i.id in waiting else i for i in merged]

    async def reindex(self, course_id: str) -> str:
        """Re-ingest a course's lectures (TA command); returns a one-line summary."""
        course = self.courses.get(course_id)
        if self.reindexer is None:
            raise BotError("reindexing is not available in this process")
        return await asyncio.to_thread(self.reindexer.reindex, course)

    async def forget(self, platform: str, user_id: str, course_id: str | None = None) -> Erased:
        """Delete everything kept of a student (their questions, answers, votes and judge
        jobs) in the database and the journal, in one course or all; safe to repeat. The
        TAs' chat command and ``python -m bot forget`` both come here."""
        if course_id is not None:
            self.courses.get(course_id)  # a typo is an error, not a silent "nothing deleted"
        ref = self.pseudonym(platform, user_id)
        erased = await asyncio.to_thread(self.store.forget, self.journal, ref, course_id)
        log.info("forgot student %s in %s: %s", ref, course_id or "every course", erased)
        return erased

    async def build_digest(self, course_id: str, week_start: date | None = None) -> Digest:
        """The TA digest of a week (default: the current one so far, in course time)."""
        course = self.courses.get(course_id)
        week = week_start or current_week_start(course, self._clock())
        return await asyncio.to_thread(
            functools.partial(
                digest_for_week,
                self.store,
                course,
                week,
                self.options.pass_score,
                embed=self.embed_questions,
            )
        )

    def review_link(self, course_id: str, platform: str, user_id: str) -> IssuedLink:
        """A TA's private link to the course's review page, valid for the set time (the
        adapter has checked that the user is one of the course's TAs, as for /digest)."""
        course = self.courses.get(course_id)
        if self.review_links is None or not self.review_links.base_url:
            raise BotError(REVIEW_NOT_SET_UP)
        ta_ref = self.pseudonym(platform, user_id)
        return self.review_links.link(ta_ref, course.id, self._clock())

    def review_access(self, token: str, course_id: str) -> ReviewAccess:
        """What a link's token grants on a course's page; ``LinkRefused`` when nothing."""
        if self.review_links is None:
            raise LinkRefused("this process has no review secret")
        if course_id not in self.courses.ids():
            raise LinkRefused(f"no course {course_id!r}")
        return self.review_links.check(token, course_id, self._clock())

    async def review_week(self, course_id: str, week_start: date | None = None) -> ReviewWeek:
        """The week's interactions as the review page lists them: the week holding the day
        ``week_start`` (default: this week)."""
        course = self.courses.get(course_id)
        week = monday_of(week_start) if week_start else current_week_start(course, self._clock())
        return await asyncio.to_thread(
            read_review_week, self.store, course, week, self.options.pass_score
        )

    async def judge_alignment(
        self, course_id: str, week_start: date | None = None, seed: int = 0
    ) -> Alignment:
        """The judge against the TA grades of a week's answers (default: the current week,
        in course time), with ungraded answers proposed for grading (sampled by ``seed``)."""
        course = self.courses.get(course_id)
        since, until = week_bounds(course, week_start or current_week_start(course, self._clock()))
        pass_score = self.options.pass_score

        def read() -> Alignment:
            entries = load_entries(self.store, course.id, since, until, pass_score)
            return alignment_of(entries, pass_score, seed)

        return await asyncio.to_thread(read)

    def pseudonym(self, platform: str, user_id: str) -> str:
        """How a person is named in the log: a student asking, a TA grading (see
        ``bot.pseudonym``)."""
        return pseudonymise(self._secret, platform, user_id)

    def _place(self, platform: str, place: str, private: bool) -> str:
        """A channel or thread id as stored: a DM's names a person, so its pseudonym."""
        return pseudonymise_channel(self._secret, platform, place) if private and place else place


def _turns(earlier: list[Interaction]) -> tuple[Turn, ...]:
    turns: list[Turn] = []
    for row in earlier:
        turns.append(Turn("student", row.question))
        if row.answer:
            turns.append(Turn("assistant", row.answer))
    return tuple(turns)


@dataclass(frozen=True)
class _Listeners:
    """What the adapter shows while the answer is on its way."""

    on_text: OnText | None
    on_place: OnPlace | None


def _never_raising(show: Callable[[A], Awaitable[None]]) -> Callable[[A], Awaitable[None]]:
    """The adapter's progress display, whose failure (a refused edit) must never cost the
    answer: logged, and the answer goes on."""

    async def shown(progress: A) -> None:
        try:
            await show(progress)
        except Exception:
            log.warning("showing the answer's progress failed; the answer continues", exc_info=True)

    return shown


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


def _checked_grader(grader_ref: str) -> str:
    if not is_pseudonym(grader_ref):
        raise InvalidGradeError("the grader must be a TA's pseudonym, never a platform's user id")
    return grader_ref


def _checked_label(label: str) -> Label:
    for known in LABELS:
        if label == known:
            return known
    raise InvalidGradeError(f"a grade is 'C' (correct) or 'I' (incorrect), not {label!r}")


def _checked_ar_grade(ar_grade: int | None) -> int | None:
    if ar_grade is None:
        return None
    if isinstance(ar_grade, bool) or not isinstance(ar_grade, int) or ar_grade not in AR_GRADES:
        raise InvalidGradeError(f"an AR grade is a whole number from 0 to 3, not {ar_grade!r}")
    return ar_grade


def _checked_note(note: str) -> str:
    cleaned = storable_text(note).strip()
    if len(cleaned) > MAX_NOTE_CHARS:
        raise InvalidGradeError(
            f"the note is {len(cleaned)} characters long; keep it under {MAX_NOTE_CHARS}"
        )
    return cleaned


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
