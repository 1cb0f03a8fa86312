"""Where a lecture's text divides into sentences, in Portuguese and English, so an excerpt
can be cut between them and never inside what the lecturer was saying.

Speech transcripts are punctuated by whoever (or whatever) wrote them, so the rules lean
towards not splitting: a full stop or an ellipsis ends a sentence only before a capital or
a digit ("etc. e tal" and a hesitating "e aí... a gente" go on), never after a known
abbreviation ("Dr. Silva", "p. ex.") or initials ("e.g.", "U.S."); a decimal ("0,5",
"0.5") has no space after its mark and so never splits. A question or exclamation mark
always ends one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Written with their full stop in running text; compared case-folded, without the stop.
_ABBREVIATION_TEXT = """
    sr sra srta dr dra drs dras prof profa profs exmo exma ilmo ilma
    p pp pg pág págs pag cap caps fig figs ex eq eqs obs aprox vol vols núm num nº tel
    av ltda cia séc
    mr mrs ms jr st vs cf al approx dept inc corp
"""
_ABBREVIATIONS = frozenset(_ABBREVIATION_TEXT.split())
_INITIALS = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")  # e.g, i.e, U.S, a.C (last stop removed)
_CLOSERS = "\"'”’»)]"
_OPENERS = "\"'“‘«([¿¡-–—"


def sentence_spans(words: Sequence[str]) -> list[tuple[int, int]]:
    """The sentences of a text split into ``words``, each as a ``(start, end)`` span of
    word indices; together they cover every word, in order."""
    spans = []
    start = 0
    for i in range(len(words) - 1):
        if ends_sentence(words[i], words[i + 1]):
            spans.append((start, i + 1))
            start = i + 1
    if words:
        spans.append((start, len(words)))
    return spans


def ends_sentence(word: str, following: str) -> bool:
    """Whether a sentence ends with ``word`` when ``following`` comes next."""
    bare = word.rstrip(_CLOSERS)
    if bare.endswith(("?", "!")):
        return True
    if not bare.endswith((".", "…")) or not _opens_sentence(following):
        return False
    if bare.endswith(("…", "..")):
        return True
    # A lone capital is not taken for a name's initial: in a lecture "formato de U." or
    # "a matriz W." end sentences far more often than "J. Doe" is said.
    stem = bare[:-1]
    return stem.casefold() not in _ABBREVIATIONS and not _INITIALS.fullmatch(stem)


def is_final(word: str) -> bool:
    """Whether ``word`` can close a text's last sentence (it carries the closing mark)."""
    return word.rstrip(_CLOSERS).endswith((".", "!", "?", "…"))


def _opens_sentence(word: str) -> bool:
    first = word.lstrip(_OPENERS)[:1]
    return first.isupper() or first.isdigit()
