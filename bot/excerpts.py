"""The passage of a lecture moment a student reads in the extractive answer: whole
sentences around the ones that match the question best, "…" where something was left out.

A moment is a window cut from the transcript at cue times, so its first and last sentences
may be broken: they are left out whenever the window has a whole sentence. Completing them
would need the next window's text (an index read on the path that runs when something has
already failed) and would quote words beyond the span the citation shows.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from itertools import accumulate

from bot.sentences import is_final, sentence_spans

EXCERPT_CHARS = 300

# Words that match everywhere and so say nothing about which passage is relevant.
_STOPWORD_TEXT = """
    a o e as os um uma uns umas de do da dos das no na nos nas em por para pra com sem que
    qual quais quando como onde porque por que se ser sao esta este essa esse isso isto ao
    aos mais menos muito ja nao sim eu voce ele ela nos eles elas meu minha seu sua entre
    sobre tem ter foi era pode contra ate apos desde sob pelo pela pelos pelas num numa mas
    tambem entao aqui so bem gente tipo vai
    the an of to in on at for by with from and or not is are was were be been it this that
    these those what which who how why when where do does did can could i you he she we
    they my your his her its our their about into than then there against but also just so
    very
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
# A passage sharing this many words in a row with one quoted already would repeat it: two
# moments of one video can overlap, and an unpunctuated transcript is cut between words.
_REPEATED_RUN = 8

Span = tuple[int, int]  # word indices, end excluded


@dataclass(frozen=True)
class Excerpt:
    text: str  # as shown, with "…" marks
    words: str  # the lecture's words it quotes, unmarked: what a later excerpt must not repeat
    # The share of the moment's text before the quote: with the moment's span, about when
    # the quote is said (speech runs at a steady pace within a few minutes; see
    # benchmarks/README.md for how close that comes).
    position: float


def excerpt_for(
    text: str, question: str, max_chars: int = EXCERPT_CHARS, shown: Collection[str] = ()
) -> Excerpt | None:
    """About ``max_chars`` of ``text``, centred on the sentence sharing the question's
    rarest words; ``None`` when everything it could quote is already in ``shown``."""
    return _Passage(text.split(), question, max_chars, shown).best()


def _content_terms(text: str) -> set[str]:
    """Content words, accent- and case-folded, crudely stemmed so "camadas" meets "camada"."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    words = "".join(c if c.isalnum() else " " for c in plain).split()
    return {word[:5] for word in words if len(word) > 2 and word not in _STOPWORDS}


class _Passage:
    """One moment's words, its sentences, and how much each matches the question."""

    def __init__(self, words: list[str], question: str, max_chars: int, shown: Collection[str]):
        self.words = words
        self.word_terms = [_content_terms(word) for word in words]  # a span's are their union
        self.ends = list(accumulate(len(word) + 1 for word in words))  # with one space after
        self.max_chars = max_chars
        self.shown = shown
        self.shown_runs = {run for earlier in shown for run in _runs(earlier.split())}
        sentences = sentence_spans(words)
        whole = [s for s in sentences if self._whole(s, sentences)]
        # An unpunctuated transcript is one long broken "sentence": then words are the unit.
        self.sentences = whole or sentences
        self.starting_at = {sentence[0]: sentence for sentence in self.sentences}
        self.ending_at = {sentence[1]: sentence for sentence in self.sentences}
        self.punctuated = len(sentences) > 1
        self.weights = self._weights(_content_terms(question), sentences)

    def best(self) -> Excerpt | None:
        candidates = [c for c in self._candidates() if not self._repeats(c)]
        if not candidates:
            return None
        grown = {c: self._grow(c) for c in candidates}

        def rank(core: Span) -> tuple[float, float, bool, float, int]:
            # The rarest question words in the core sentence, then in the passage around
            # it; a whole sentence over a piece of one; the matches nearest the piece's
            # middle; the earlier place, which is nearer where the citation's link starts.
            whole = core in self.sentences
            centred = 0.0 if whole else -self._off_centre(core)
            return self._score(core), self._score(grown[core]), whole, centred, -core[0]

        return self._render(grown[max(candidates, key=rank)])

    def _whole(self, sentence: Span, sentences: list[Span]) -> bool:
        """The window's first sentence may begin, and its last one end, mid-sentence."""
        start, end = sentence
        if start == 0 and self.words[0][:1].islower():
            return False
        return end < len(self.words) or is_final(self.words[-1]) or len(sentences) == 1

    def _weights(self, wanted: set[str], sentences: list[Span]) -> dict[str, float]:
        """Each question word found here, weighted by how few sentences hold it (idf): in a
        lecture on the U-Net, "U-Net" says less about where the answer is than "função", and
        a word in every sentence says nothing. Two words of the lecture's topic together must
        not outweigh the one word the question is about ("poda" in a lecture on decision
        trees)."""
        holding = [self._terms((s, e)) for s, e in sentences]
        counts = {term: sum(term in terms for terms in holding) for term in wanted}
        if len(sentences) == 1:  # an unpunctuated transcript: every word counts alike
            return {t: 1.0 for t, n in counts.items() if n}
        return {t: math.log(len(sentences) / n) for t, n in counts.items() if n}

    def _candidates(self) -> list[Span]:
        """Each sentence, and for one longer than the room overlapping pieces of it."""
        spans = []
        for start, end in self.sentences:
            if self._length((start, end)) <= self.max_chars:
                spans.append((start, end))
                continue
            step = max(1, self._fitting(start, end) // 4)
            spans.extend((i, i + self._fitting(i, end)) for i in range(start, end, step))
        return spans

    def _grow(self, core: Span) -> Span:
        """Add neighbouring sentences not shown yet while they fit, the next one first (an
        explanation tends to follow the words that match), then the one before, in turn.
        A piece of a sentence longer than the room grows by words, within that sentence."""
        sentence = next(s for s in self.sentences if s[0] <= core[0] and core[1] <= s[1])
        span = core
        grown = True
        while grown:
            grown = False
            for after in (True, False):
                if core == sentence:
                    step = self.starting_at.get(span[1]) if after else self.ending_at.get(span[0])
                    wider = _union(span, step) if step else None
                    added = step  # a short sentence may be inside an earlier quote
                else:
                    wider = (span[0], span[1] + 1) if after else (span[0] - 1, span[1])
                    inside = sentence[0] <= wider[0] and wider[1] <= sentence[1]
                    wider = wider if inside else None
                    added = wider  # a word alone is quoted somewhere: judge the piece
                if wider and added and self._fits(wider) and not self._repeats(added):
                    span, grown = wider, True
        return span

    def _render(self, span: Span) -> Excerpt:
        start, end = span
        quoted = " ".join(self.words[start:end])
        shown = quoted[: self.max_chars]  # only a single word longer than the room is cut
        before = self._cut_before(start)
        after = self._cut_after(end) or len(shown) < len(quoted)
        # Sentences left out show as "… "; a sentence cut through as "…" against its words.
        between_sentences = start > 0 and any(start == s[0] for s in self.sentences)
        prefix = ("… " if between_sentences else "…") if before else ""
        whole_end = end < len(self.words) and any(end == s[1] for s in self.sentences)
        suffix = (" …" if whole_end and shown == quoted else "…") if after else ""
        before_quote = self._length((0, start)) + 1 if start else 0
        position = before_quote / self._length((0, len(self.words)))
        return Excerpt(text=f"{prefix}{shown}{suffix}", words=quoted, position=position)

    def _cut_before(self, start: int) -> bool:
        return start > 0 or (self.punctuated and self.words[0][:1].islower())

    def _cut_after(self, end: int) -> bool:
        return end < len(self.words) or (self.punctuated and not is_final(self.words[-1]))

    def _score(self, span: Span) -> float:
        return sum(self.weights.get(term, 0.0) for term in self._terms(span))

    def _terms(self, span: Span) -> set[str]:
        return set().union(*self.word_terms[span[0] : span[1]])

    def _off_centre(self, span: Span) -> float:
        start, end = span
        inside = [i for i in range(start, end) if self.word_terms[i] & self.weights.keys()]
        return abs(sum(inside) / len(inside) - (start + end - 1) / 2) if inside else 0.0

    def _repeats(self, span: Span) -> bool:
        """Whether ``span`` was quoted already, whole or by a long enough run of words."""
        if not self.shown:
            return False
        words = self.words[span[0] : span[1]]
        if len(words) < _REPEATED_RUN:
            return any(" ".join(words) in earlier for earlier in self.shown)
        return not self.shown_runs.isdisjoint(_runs(words))

    def _fits(self, span: Span) -> bool:
        return self._length(span) <= self.max_chars

    def _length(self, span: Span) -> int:
        """The characters of ``span``'s words joined by spaces."""
        start, end = span
        if end <= start:
            return 0
        return self.ends[end - 1] - (self.ends[start - 1] if start else 0) - 1

    def _fitting(self, start: int, end: int) -> int:
        """How many words from ``start`` (at least one, at most to ``end``) fit the room."""
        count = 1
        while start + count < end and self._length((start, start + count + 1)) <= self.max_chars:
            count += 1
        return count


def _union(a: Span, b: Span) -> Span:
    return min(a[0], b[0]), max(a[1], b[1])


def _runs(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + _REPEATED_RUN]) for i in range(len(words) - _REPEATED_RUN + 1)}
