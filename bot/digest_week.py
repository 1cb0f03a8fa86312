"""What a digest is built from: the week's log and the week before it, as plain values.

Every section of the digest is a function of a ``DigestInput`` (``bot.digest.SECTIONS``),
so a new section reads what it needs from here and adds one entry there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from bot.courses import Course
from bot.models import DigestSection, Interaction, Judgement, TAGrade, Vote

# Embeds question texts (the course's embedder, ``Embedder.embed_queries``).
EmbedQuestions = Callable[[Sequence[str]], np.ndarray]
QUESTION_CHARS = 140
_LINK = re.compile(r"\[([^\]\n]*)\]\((https?://[^)\s]+)\)")


@dataclass(frozen=True)
class Week:
    """[start, end) of a course-local week and what was logged in it, oldest first."""

    start: datetime
    end: datetime
    interactions: tuple[Interaction, ...]
    votes: Mapping[str, Sequence[Vote]]
    judged: Mapping[str, Judgement]
    grades: Mapping[str, Sequence[TAGrade]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        start: datetime,
        end: datetime,
        interactions: Sequence[Interaction],
        votes_by_id: Mapping[str, Sequence[Vote]],
        judgements_by_id: Mapping[str, Judgement],
        grades_by_id: Mapping[str, Sequence[TAGrade]] | None = None,
    ) -> Week:
        """The week's share of a log that may hold other weeks too."""
        inside = sorted(
            (i for i in interactions if start <= i.created_at < end),
            key=lambda i: (i.created_at, i.id),
        )
        ids = {i.id for i in inside}
        return cls(
            start,
            end,
            tuple(inside),
            {i: v for i, v in votes_by_id.items() if i in ids},
            {i: j for i, j in judgements_by_id.items() if i in ids},
            {i: g for i, g in (grades_by_id or {}).items() if i in ids},
        )

    def votes_on(self, interaction: Interaction) -> Sequence[Vote]:
        return self.votes.get(interaction.id, ())

    def grades_on(self, interaction: Interaction) -> Sequence[TAGrade]:
        return self.grades.get(interaction.id, ())


@dataclass(frozen=True)
class DigestInput:
    course: Course
    week: Week
    previous: Week
    pass_score: int
    # The embedding of each of the week's questions, by interaction id; empty when no
    # embedder was given (the questions are then not grouped by topic).
    vectors: Mapping[str, np.ndarray] = field(default_factory=dict)


Section = Callable[[DigestInput], Sequence[DigestSection]]


def short(text: str) -> str:
    """A question on one line, cut to ``QUESTION_CHARS``."""
    flat = " ".join(text.split())
    return flat if len(flat) <= QUESTION_CHARS else flat[: QUESTION_CHARS - 1] + "…"


def split_links(line: str) -> list[tuple[str, str]]:
    """A digest line as (text, url) pieces: its Markdown links with their url, the text
    around them with ''. Each renderer (HTML, Slack) turns links into its own."""
    pieces, last = [], 0
    for match in _LINK.finditer(line):
        if match.start() > last:
            pieces.append((line[last : match.start()], ""))
        pieces.append((match.group(1), match.group(2)))
        last = match.end()
    if last < len(line):
        pieces.append((line[last:], ""))
    return pieces
