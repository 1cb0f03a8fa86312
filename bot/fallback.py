"""The answer a student gets when Claude is not there (no key, API down): the lecture
moments retrieval found, each with its label, deep link and the passage that best matches
the question. Pure; clearly labelled as not generated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.citations import citation_for, citation_label, format_clock
from bot.excerpts import Excerpt, excerpt_for
from bot.models import Draft, Hit, Question, Segment

FALLBACK_MODEL = "extractive"


@dataclass(frozen=True)
class _Texts:
    found: str
    nothing: str


_TEXTS = {
    "pt": _Texts(
        found=(
            "⚠️ Resposta automática, não gerada por IA: os momentos das aulas mais próximos "
            "da sua pergunta (confira se respondem; se não, pergunte a um monitor):"
        ),
        nothing=(
            "⚠️ Resposta automática, não gerada por IA: não encontrei nas aulas nenhum trecho "
            "sobre a sua pergunta. Tente reformulá-la ou pergunte a um monitor."
        ),
    ),
    "en": _Texts(
        found=(
            "⚠️ Automatic answer, not written by AI: the lecture moments closest to your "
            "question (check that they answer it; if not, ask a teaching assistant):"
        ),
        nothing=(
            "⚠️ Automatic answer, not written by AI: I found no lecture passage about your "
            "question. Try rephrasing it or ask a teaching assistant."
        ),
    ),
}


def extractive_draft(
    question: Question,
    hits: Sequence[Hit],
    reason: str,
    language: str,
    max_segments: int = 3,
) -> Draft:
    """A draft listing the top segments; ``abstained`` with a plain message when none."""
    texts = _TEXTS["en" if is_english(language) else "pt"]
    chosen = _distinct_segments(hits, max_segments)
    if not chosen:
        return Draft(
            text=texts.nothing,
            abstained=True,
            fallback=True,
            model=FALLBACK_MODEL,
            error=reason,
        )
    lines = [texts.found, ""]
    citations = []
    shown: list[str] = []  # moments of one video can overlap: no passage is quoted twice
    for number, hit in enumerate(chosen, start=1):
        citation = citation_for(hit.segment)
        citations.append(citation)
        link = f" — {citation.url}" if citation.url else ""
        lines.append(f"{number}. {citation_label(citation)}{link}")
        excerpt = excerpt_for(hit.segment.text, question.text, shown=shown)
        if excerpt:
            shown.append(excerpt.words)
            lines.append(f"   {_said_at(hit.segment, excerpt)}“{excerpt.text}”")
    return Draft(
        text="\n".join(lines),
        citations=tuple(citations),
        fallback=True,
        model=FALLBACK_MODEL,
        error=reason,
    )


def _said_at(segment: Segment, excerpt: Excerpt) -> str:
    """About when the quote is said, when it is not where the link starts: a moment runs up
    to four minutes, and the passage that answers may be minutes in."""
    if excerpt.position == 0:
        return ""
    at = segment.start_s + excerpt.position * (segment.end_s - segment.start_s)
    return f"≈ {format_clock(at)} "


def is_english(language: str) -> bool:
    """Course languages are free text ("english", "en-US", "português"); English or not."""
    return language.strip().lower().startswith(("en", "ingl"))


def _distinct_segments(hits: Sequence[Hit], limit: int) -> list[Hit]:
    seen: set[str] = set()
    chosen: list[Hit] = []
    for hit in sorted(hits, key=lambda h: h.rank):
        if hit.segment.id not in seen and len(chosen) < limit:
            seen.add(hit.segment.id)
            chosen.append(hit)
    return chosen
