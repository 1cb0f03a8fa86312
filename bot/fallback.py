"""The answer a student gets when Claude is not there (no key, API down): the lecture
moments retrieval found, each with its label, deep link and the passage that best matches
the question. Pure; clearly labelled as not generated.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from bot.citations import citation_for, citation_label
from bot.models import Draft, Hit, Question

EXCERPT_CHARS = 200
FALLBACK_MODEL = "extractive"


@dataclass(frozen=True)
class _Texts:
    found: str
    nothing: str


_TEXTS = {
    "pt": _Texts(
        found=(
            "⚠️ Resposta automática, não gerada por IA: estes momentos das aulas tratam da "
            "sua pergunta:"
        ),
        nothing=(
            "⚠️ Resposta automática, não gerada por IA: não encontrei nas aulas nenhum trecho "
            "sobre a sua pergunta. Tente reformulá-la ou pergunte a um monitor."
        ),
    ),
    "en": _Texts(
        found=("⚠️ Automatic answer, not written by AI: these lecture moments cover your question:"),
        nothing=(
            "⚠️ Automatic answer, not written by AI: I found no lecture passage about your "
            "question. Try rephrasing it or ask a teaching assistant."
        ),
    ),
}

# Words that match everywhere and so say nothing about which passage is relevant.
_STOPWORD_TEXT = """
    a o e as os um uma uns umas de do da dos das no na nos nas em por para pra com sem que
    qual quais quando como onde porque por que se ser sao esta este essa esse isso isto ao
    aos mais menos muito ja nao sim eu voce ele ela nos eles elas meu minha seu sua entre
    sobre tem ter foi era pode
    the an of to in on at for by with from and or not is are was were be been it this that
    these those what which who how why when where do does did can could i you he she we
    they my your his her its our their about into than then there
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_WORD = re.compile(r"\w+")


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
    for number, hit in enumerate(chosen, start=1):
        citation = citation_for(hit.segment)
        citations.append(citation)
        link = f" — {citation.url}" if citation.url else ""
        lines.append(f"{number}. {citation_label(citation)}{link}")
        lines.append(f"   “{best_excerpt(hit.segment.text, question.text)}”")
    return Draft(
        text="\n".join(lines),
        citations=tuple(citations),
        fallback=True,
        model=FALLBACK_MODEL,
        error=reason,
    )


def is_english(language: str) -> bool:
    """Course languages are free text ("english", "en-US", "português"); English or not."""
    return language.strip().lower().startswith(("en", "ingl"))


def best_excerpt(text: str, question: str, max_chars: int = EXCERPT_CHARS) -> str:
    """The passage of ``text`` sharing most words with ``question``, about ``max_chars``
    long, cut at word boundaries; "…" marks where it was cut."""
    words = text.split()
    if not words:
        return ""
    wanted = _terms(question)
    matching = [i for i, word in enumerate(words) if _terms(word) & wanted]

    def rank(span: tuple[int, int]) -> tuple[int, float, int]:
        # Most distinct shared words; then the matches nearest the middle, so the excerpt
        # reads around them; then the earlier passage.
        start, end = span
        found = wanted & _terms(" ".join(words[start:end]))
        inside = [i for i in matching if start <= i < end]
        off_centre = abs(sum(inside) / len(inside) - (start + end) / 2) if inside else 0.0
        return len(found), -off_centre, -start

    start, end = _grow(max(_candidate_spans(text, words, max_chars), key=rank), words, max_chars)
    excerpt = " ".join(words[start:end])
    cut_short = len(excerpt) > max_chars  # a single word longer than the room
    if cut_short:
        excerpt = _cut_at_word(excerpt, max_chars)
    prefix = "…" if start > 0 else ""
    suffix = "…" if cut_short or end < len(words) else ""
    return f"{prefix}{excerpt}{suffix}"


def _distinct_segments(hits: Sequence[Hit], limit: int) -> list[Hit]:
    seen: set[str] = set()
    chosen: list[Hit] = []
    for hit in sorted(hits, key=lambda h: h.rank):
        if hit.segment.id not in seen and len(chosen) < limit:
            seen.add(hit.segment.id)
            chosen.append(hit)
    return chosen


def _candidate_spans(text: str, words: list[str], max_chars: int) -> list[tuple[int, int]]:
    """Word spans to choose from: the sentences, and for a sentence longer than the excerpt
    (speech transcripts often have no punctuation at all) overlapping windows of it."""
    spans = []
    start = 0
    for sentence in _SENTENCE_END.split(text.strip()):
        count = len(sentence.split())
        spans.extend(_windows(start, start + count, words, max_chars))
        start += count
    return spans or [(0, len(words))]


def _windows(start: int, end: int, words: list[str], max_chars: int) -> list[tuple[int, int]]:
    if _length(words, start, end) <= max_chars:
        return [(start, end)]
    size = _words_fitting(words, start, max_chars)
    step = max(1, size // 4)
    return [(i, min(i + size, end)) for i in range(start, end, step) if i < end]


def _grow(span: tuple[int, int], words: list[str], max_chars: int) -> tuple[int, int]:
    """Add the following words while the excerpt still fits: the chosen sentence is often
    shorter than the room we have."""
    start, end = span
    while end < len(words) and _length(words, start, end + 1) <= max_chars:
        end += 1
    return start, end


def _length(words: list[str], start: int, end: int) -> int:
    return len(" ".join(words[start:end]))


def _words_fitting(words: list[str], start: int, max_chars: int) -> int:
    count = 1
    while start + count < len(words) and _length(words, start, start + count + 1) <= max_chars:
        count += 1
    return count


def _cut_at_word(text: str, max_chars: int) -> str:
    cut = text[:max_chars]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:")


def _terms(text: str) -> set[str]:
    """Content words, accent- and case-folded, crudely stemmed so "camadas" meets "camada"."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return {word[:5] for word in _WORD.findall(plain) if len(word) > 2 and word not in _STOPWORDS}
