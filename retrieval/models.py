"""Plain values shared by every part of retrieval: no I/O, no library types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SearchMode = Literal["dense", "fts", "hybrid"]
SEARCH_MODES: tuple[SearchMode, ...] = ("dense", "fts", "hybrid")


@dataclass(frozen=True)
class Cue:
    """One timed line of a transcript, as the file gives it."""

    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class Video:
    """A row of a course's videos.csv; ``extra`` keeps the columns we do not use."""

    video_id: str
    title: str
    url: str
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Segment:
    """A time window of one video's transcript: the unit we retrieve and cite.

    ``id`` is stable across re-ingests of an unchanged video (the seed's "Corpus ID").
    """

    id: str
    course_id: str
    video_id: str
    title: str
    url: str
    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class Hit:
    """A retrieved segment. ``score`` orders the results in the mode used (the fused
    score in hybrid); ``dense_score`` is the cosine similarity to the question when known."""

    segment: Segment
    score: float
    rank: int
    dense_score: float | None = None


@dataclass(frozen=True)
class SearchResult:
    """A search's hits, and how long embedding the question and searching took."""

    hits: tuple[Hit, ...]
    embed_ms: float
    search_ms: float
    # The question's embedding, when the search made one (not in full-text mode): lets the
    # caller tell a question asked again in other words.
    query_vector: tuple[float, ...] = field(default=(), repr=False)
