"""The fair-use rules of a course, applied against the state every process shares
(``Store.fairness``): the per-student rate limit, the daily token budget, and the repeated
questions answered from an earlier answer. Synchronous, like the store; the service calls it
from a worker thread and decides what a failure of it means (the question goes on)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.annotations import tally
from bot.courses import Course
from bot.limits import close_ones, day_start, differ_only_in_filler, question_key, vector_bytes
from bot.models import Interaction, Question, Refusal
from bot.outcome import outcome
from bot.ports import Store

BUDGET_NOTICE = "token_budget"
# Students ask in chat; the command line and the evaluation ask on purpose, question sets
# included, and are neither rate-limited nor given repeats. A course's TAs are not
# rate-limited either (``Question.asked_by_ta``).
CHAT_PLATFORMS = ("discord", "slack")
# How many of a course's recent questions a new one is compared with by embedding: at 1.5 KB
# a vector, a few hundred are read and compared in a few milliseconds.
SIMILAR_CANDIDATES = 300


@dataclass(frozen=True)
class Budget:
    """Where a course stands against its daily token budget."""

    limit: int
    spent: int
    notify: bool  # this caller is the one to tell the TAs today

    @property
    def exhausted(self) -> bool:
        return 0 < self.limit <= self.spent

    def tas_alert(self) -> str:
        return (
            f"orçamento diário de tokens da disciplina atingido ({self.spent} de {self.limit}); "
            "até o fim do dia as respostas são extrativas, sem IA"
        )


class FairUse:
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    def admit(self, course: Course, asker_ref: str, question: Question) -> float:
        """0 when the student may ask now; else the seconds to wait, the question kept as
        a refusal (a row, so a TA can see what was turned away and nothing is lost)."""
        if question.platform not in CHAT_PLATFORMS or question.asked_by_ta:
            return 0.0
        limits, now = course.limits, self._clock()
        took = self._store.fairness.take_token(
            course.id, asker_ref, limits.rate_per_minute / 60, limits.burst, now
        )
        if not took.allowed:
            refusal = Refusal(
                created_at=now,
                course_id=course.id,
                platform=question.platform,
                channel=question.channel,
                asker_ref=asker_ref,
                question=question.text,
                wait_s=took.wait_s,
            )
            self._store.fairness.record_refusal(refusal)
        return took.wait_s

    def budget(self, course: Course) -> Budget:
        """Today's spending (in the course's time zone); past the budget, whether this caller
        is the first of the day, in any process, and so tells the TAs."""
        limit = course.limits.daily_token_budget
        if limit <= 0:
            return Budget(0, 0, notify=False)
        now = self._clock()
        day, began = day_start(now, course.tz)
        spent = self._store.fairness.tokens_spent(course.id, began)
        if spent < limit:
            return Budget(limit, spent, notify=False)
        notify = self._store.fairness.claim_notice(course.id, BUDGET_NOTICE, day, now)
        return Budget(limit, spent, notify)

    def same_question(self, course: Course, question: Question) -> Interaction | None:
        """A recent answer to this very question (once normalised) that may be given again."""
        if not self._repeats_apply(course, question):
            return None
        fairness = self._store.fairness
        ids = fairness.same_questions(course.id, question_key(question.text), self._since(course))
        return self._first_reusable(ids, lambda _: True)

    def similar_question(
        self, course: Course, question: Question, vector: Sequence[float]
    ) -> Interaction | None:
        """A recent answer to a question whose embedding is this close to this one's and
        that differs from it only in filler words ("Alguém pode explicar: …", "… Obrigado!")."""
        if not vector or not self._repeats_apply(course, question):
            return None
        recent = self._store.fairness.recent_vectors(
            course.id, self._since(course), SIMILAR_CANDIDATES
        )
        close = close_ones(vector, recent, course.limits.repeat_similarity)
        return self._first_reusable(
            close, lambda e: differ_only_in_filler(question.text, e.question)
        )

    def remember(self, interaction: Interaction, vector: Sequence[float]) -> None:
        """Make a model-written answer findable by later repeats of its question."""
        self._store.fairness.save_question_key(
            interaction.id,
            interaction.course_id,
            interaction.created_at,
            question_key(interaction.question),
            vector_bytes(vector) if vector else None,
        )

    @staticmethod
    def _repeats_apply(course: Course, question: Question) -> bool:
        # A follow-up means something only after its thread's earlier turns: never a repeat.
        chat = question.platform in CHAT_PLATFORMS
        return chat and course.limits.repeat_answers and not question.history

    def _since(self, course: Course) -> datetime:
        return self._clock() - timedelta(hours=course.limits.repeat_window_hours)

    def _first_reusable(
        self, interaction_ids: Sequence[str], same: Callable[[Interaction], bool]
    ) -> Interaction | None:
        for interaction_id in interaction_ids:
            earlier = self._store.get_interaction(interaction_id)
            if earlier is not None and same(earlier) and reusable(earlier, self._store):
                return earlier
        return None


def reusable(earlier: Interaction, store: Store) -> bool:
    """An answer Claude wrote (not a fallback, an abstention or itself a repeat) that the
    votes have not marked incorrect."""
    if outcome(earlier) != "answered" or earlier.repeat_of:
        return False
    return tally(store.votes_for(earlier.id)).annotation != "I"
