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
_ENDS_SENTENCE = re.compile(r"[.!?…][\"'”»)]*$")
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
    shown: set[str] = set()  # overlapping windows can hold the same best passage
    for number, hit in enumerate(chosen, start=1):
        citation = citation_for(hit.segment)
        citations.append(citation)
        link = f" — {citation.url}" if citation.url else ""
        lines.append(f"{number}. {citation_label(citation)}{link}")
        excerpt, core = _excerpt(hit.segment.text, question.text, EXCERPT_CHARS, shown)
        shown.add(core)
        lines.append(f"   “{excerpt}”")
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
    """About ``max_chars`` of ``text`` around the sentence that shares most words with
    ``question``: whole sentences where the text has them, whole words always; "…" marks
    where it was cut."""
    return _excerpt(text, question, max_chars, set())[0]


def _excerpt(text: str, question: str, max_chars: int, shown: set[str]) -> tuple[str, str]:
    """The excerpt, and the passage it is centred on; a passage in ``shown`` is passed over
    while another one matches."""
    words = text.split()
    if not words:
        return "", ""
    sentences = _sentence_spans(text)
    wanted = _terms(question)
    matching = [i for i, word in enumerate(words) if _terms(word) & wanted]

    def rank(span: tuple[int, int]) -> tuple[bool, int, float, int]:
        # A passage not shown yet; the most distinct shared words; then the matches nearest
        # the middle, so the excerpt reads around them; then the earlier passage.
        start, end = span
        found = wanted & _terms(" ".join(words[start:end]))
        inside = [i for i in matching if start <= i < end]
        off_centre = abs(sum(inside) / len(inside) - (start + end) / 2) if inside else 0.0
        fresh = " ".join(words[start:end]) not in shown
        return fresh, len(found), -off_centre, -start

    core = max(_candidate_spans(sentences, words, max_chars), key=rank)
    start, end = _grow(core, sentences, words, max_chars)
    excerpt = " ".join(words[start:end])
    cut_short = len(excerpt) > max_chars  # a single word longer than the room
    if cut_short:
        excerpt = excerpt[:max_chars]
    # A window is cut from the lecture at cue times, so its text may begin or end inside a
    # sentence: that shows as "…" too, unless the transcript has no punctuation at all.
    punctuated = len(sentences) > 1
    starts_inside = punctuated and start == 0 and excerpt[:1].islower()
    ends_inside = punctuated and end == len(words) and not _ENDS_SENTENCE.search(excerpt)
    prefix = "…" if start > 0 or starts_inside else ""
    suffix = "…" if cut_short or end < len(words) or ends_inside else ""
    return f"{prefix}{excerpt}{suffix}", " ".join(words[core[0] : core[1]])


def _distinct_segments(hits: Sequence[Hit], limit: int) -> list[Hit]:
    seen: set[str] = set()
    chosen: list[Hit] = []
    for hit in sorted(hits, key=lambda h: h.rank):
        if hit.segment.id not in seen and len(chosen) < limit:
            seen.add(hit.segment.id)
            chosen.append(hit)
    return chosen


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    """Each sentence as a span of word indices (speech transcripts often have no punctuation
    at all: then the whole text is one sentence)."""
    spans = []
    start = 0
    for sentence in _SENTENCE_END.split(text.strip()):
        count = len(sentence.split())
        spans.append((start, start + count))
        start += count
    return spans


def _candidate_spans(
    sentences: list[tuple[int, int]], words: list[str], max_chars: int
) -> list[tuple[int, int]]:
    """The passages to centre on: each sentence, and for a sentence longer than the excerpt
    overlapping windows of it."""
    spans = []
    for start, end in sentences:
        if _length(words, start, end) <= max_chars:
            spans.append((start, end))
            continue
        step = max(1, _words_fitting(words, start, max_chars) // 4)
        spans.extend(
            (i, min(i + _words_fitting(words, i, max_chars), end)) for i in range(start, end, step)
        )
    return spans


def _grow(
    core: tuple[int, int], sentences: list[tuple[int, int]], words: list[str], max_chars: int
) -> tuple[int, int]:
    """Add whole neighbouring sentences while the excerpt fits, the next one first (an
    explanation tends to follow the words that match), then the one before, alternately;
    inside a sentence longer than the room, add words the same way."""
    start, end = core
    if core in sentences:
        steps = [s for s in sentences if _whole(s, words)]
    else:
        steps = [(i, i + 1) for i in range(len(words))]
    starting_at = {step[0]: step for step in steps}
    ending_at = {step[1]: step for step in steps}
    grown = True
    while grown:
        grown = False
        for step in (starting_at.get(end), ending_at.get(start)):
            if step and _length(words, min(start, step[0]), max(end, step[1])) <= max_chars:
                start, end = min(start, step[0]), max(end, step[1])
                grown = True
    return start, end


def _whole(sentence: tuple[int, int], words: list[str]) -> bool:
    """Whether a sentence of the window is complete: the window's first one may start, and
    its last one end, in the middle of what the lecturer said."""
    start, end = sentence
    starts = start > 0 or not words[0][:1].islower()
    ends = end < len(words) or bool(_ENDS_SENTENCE.search(words[end - 1]))
    return starts and ends


def _length(words: list[str], start: int, end: int) -> int:
    return len(" ".join(words[start:end]))


def _words_fitting(words: list[str], start: int, max_chars: int) -> int:
    count = 1
    while start + count < len(words) and _length(words, start, start + count + 1) <= max_chars:
        count += 1
    return count


def _terms(text: str) -> set[str]:
    """Content words, accent- and case-folded, crudely stemmed so "camadas" meets "camada"."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return {word[:5] for word in _WORD.findall(plain) if len(word) > 2 and word not in _STOPWORDS}
