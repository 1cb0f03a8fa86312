"""The review page's week: each interaction with what a TA grades it by (the students' votes,
the judge's score and reasoning, an earlier grade), and the filters the page offers.

``read_review_week`` reads the week once (blocking: call it through ``asyncio.to_thread``);
everything else is pure, so the filters are tested without a database or a browser.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal, get_args

from bot.annotations import VoteTally, current_grade, tally
from bot.courses import Course
from bot.digest import week_bounds
from bot.models import Interaction, Judgement, JudgementRecord, TAGrade, Vote
from bot.outcome import JudgeStatus, current_judgement, judge_status
from bot.ports import LogReads

# What the page can narrow the week to; the labels are the page's.
Filter = Literal[
    "todas", "negativas", "ar_baixo", "abstencoes", "fallback", "escaladas", "sem_nota"
]
FILTERS: tuple[Filter, ...] = get_args(Filter)


@dataclass(frozen=True)
class ReviewItem:
    interaction: Interaction
    votes: VoteTally
    judgement: Judgement | None  # the judge's current Answer Relevance
    judge_status: JudgeStatus
    grade: TAGrade | None  # the current TA grade, the manual annotation

    @property
    def graded(self) -> bool:
        return self.grade is not None

    def matches(self, chosen: Filter, pass_score: int) -> bool:
        """Whether the item is in the filter ``chosen``: a 👎 standing, a judge score under
        the pass score, abstained, the extractive fallback, escalated, not graded by a TA."""
        if chosen == "negativas":
            return self.votes.down > 0
        if chosen == "ar_baixo":
            return self.judgement is not None and self.judgement.score < pass_score
        if chosen == "abstencoes":
            return self.interaction.abstained
        if chosen == "fallback":
            return self.interaction.fallback
        if chosen == "escaladas":
            return self.interaction.escalated
        if chosen == "sem_nota":
            return not self.graded
        return True

    def mentions(self, query: str) -> bool:
        """A case- and accent-sensitive-free enough search: the words of ``query``, each in
        the question, the answer or the id."""
        haystack = " ".join((self.interaction.question, self.interaction.answer)).casefold()
        words = query.casefold().split()
        return all(w in haystack or w == self.interaction.id.casefold() for w in words)


@dataclass(frozen=True)
class ReviewWeek:
    course: Course
    week_start: date
    items: tuple[ReviewItem, ...]  # newest first
    pass_score: int

    def shown(self, chosen: Filter, query: str = "", keep: str = "") -> list[ReviewItem]:
        """The items in the filter and the search, and the one whose id is ``keep`` (just
        graded: it stays in view to confirm, even when the grade took it out of the filter)."""
        return [
            i
            for i in self.items
            if i.interaction.id == keep
            or (i.matches(chosen, self.pass_score) and i.mentions(query))
        ]

    def counts(self) -> dict[Filter, int]:
        return {f: sum(1 for i in self.items if i.matches(f, self.pass_score)) for f in FILTERS}


def review_items(
    interactions: Sequence[Interaction],
    votes_by_id: Mapping[str, Sequence[Vote]],
    judgements_by_id: Mapping[str, Sequence[JudgementRecord]],
    grades_by_id: Mapping[str, Sequence[TAGrade]],
) -> tuple[ReviewItem, ...]:
    """Each interaction with its votes, judge outcome and TA grade, newest first."""
    items = [
        ReviewItem(
            interaction=i,
            votes=tally(votes_by_id.get(i.id, ())),
            judgement=current_judgement(judgements_by_id.get(i.id, ())),
            judge_status=judge_status(i, judgements_by_id.get(i.id, ())),
            grade=current_grade(grades_by_id.get(i.id, ())),
        )
        for i in interactions
    ]
    return tuple(sorted(items, key=lambda r: (r.interaction.created_at, r.interaction.id))[::-1])


def read_review_week(
    store: LogReads, course: Course, week_start: date, pass_score: int
) -> ReviewWeek:
    start, end = week_bounds(course, week_start)
    interactions = store.list_interactions(course.id, start, end)
    ids = [i.id for i in interactions]
    items = review_items(
        interactions,
        store.votes_for_many(ids),
        store.judgements_for_many(ids),
        store.grades_for_many(ids),
    )
    return ReviewWeek(course, week_start, items, pass_score)
