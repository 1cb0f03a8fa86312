"""Manual and automated annotations ("C" correct / "I" incorrect), as the seed reports them.

Pure functions over stored values: the store keeps every vote and TA grade event; these
decide what they add up to. The manual annotation is a TA's grade when there is one (an
expert's verdict), else what the students' votes add up to: ``manual_annotation``, the one
place that decides it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.models import Judgement, Label, TAGrade, Vote

__all__ = [
    "Label",
    "VoteTally",
    "automated_annotation",
    "current_grade",
    "current_votes",
    "manual_annotation",
    "tally",
]


@dataclass(frozen=True)
class VoteTally:
    up: int
    down: int
    ta_vote: int  # the latest TA vote still standing: 1, -1, or 0 when none
    annotation: Label | None


def current_votes(events: Iterable[Vote]) -> dict[str, Vote]:
    """Each user's latest vote event; a retraction (value 0) removes the user's vote."""
    latest: dict[str, Vote] = {}
    for vote in sorted(events, key=lambda v: v.at):
        latest[vote.user_ref] = vote
    return {user: vote for user, vote in latest.items() if vote.value != 0}


def tally(events: Iterable[Vote]) -> VoteTally:
    """C when the net vote is positive, I when negative, none on a tie; a TA's vote decides."""
    standing = list(current_votes(events).values())
    up = sum(1 for v in standing if v.value > 0)
    down = sum(1 for v in standing if v.value < 0)
    ta_votes = sorted((v for v in standing if v.is_ta), key=lambda v: v.at)
    ta_vote = int(ta_votes[-1].value) if ta_votes else 0
    decider = ta_vote or (up - down)
    annotation: Label | None = "C" if decider > 0 else "I" if decider < 0 else None
    return VoteTally(up=up, down=down, ta_vote=ta_vote, annotation=annotation)


def current_grade(events: Iterable[TAGrade]) -> TAGrade | None:
    """The latest TA grade on an answer (whoever gave it), or None when it has none."""
    ordered = sorted(events, key=lambda g: g.at)
    return ordered[-1] if ordered else None


def manual_annotation(votes: VoteTally, grade: TAGrade | None) -> Label | None:
    """The report's "Anotação manual": the current TA grade (``current_grade``) when there is
    one, over whatever the students' votes add up to."""
    return grade.label if grade is not None else votes.annotation


def automated_annotation(judgement: Judgement | None, pass_score: int = 2) -> Label | None:
    """C when the judge scored the answer at least ``pass_score`` of 3."""
    if judgement is None:
        return None
    return "C" if judgement.score >= pass_score else "I"
