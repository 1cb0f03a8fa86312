"""The retriever: embeds a question and searches one course's segments.

Synchronous, like the index and the embedder; the async core calls ``Retriever.search``
through ``asyncio.to_thread``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from retrieval.embed import Embedder
from retrieval.errors import CourseNotIndexedError, IndexMismatchError, RetrievalError
from retrieval.index import SegmentIndex
from retrieval.models import SEARCH_MODES, Hit, SearchMode


@dataclass(frozen=True)
class SearchResult:
    """Shaped like the bot's ``Retrieved`` port value, without importing the bot."""

    hits: tuple[Hit, ...]
    embed_ms: float
    search_ms: float


class Retriever:
    def __init__(
        self, index: SegmentIndex, embedder: Embedder, default_mode: SearchMode = "hybrid"
    ) -> None:
        _check_mode(default_mode)
        self.index = index
        self.embedder = embedder
        self.default_mode: SearchMode = default_mode

    def search(
        self, course_id: str, text: str, k: int = 10, mode: SearchMode | None = None
    ) -> SearchResult:
        """The course's ``k`` best segments for ``text``.

        Raises CourseNotIndexedError when the course has no segments and IndexMismatchError
        when its vectors came from another embedder than ours.
        """
        mode = mode or self.default_mode
        _check_mode(mode)
        self.check_course(course_id)
        started = time.perf_counter()
        # Full-text search needs no vector; skipping it saves the embedding (no cosine then).
        vector = None if mode == "fts" else self.embedder.embed_queries([text])[0]
        embedded = time.perf_counter()
        hits = self.index.search(course_id, text, vector, k, mode)
        searched = time.perf_counter()
        return SearchResult(
            hits=tuple(hits),
            embed_ms=(embedded - started) * 1000,
            search_ms=(searched - embedded) * 1000,
        )

    def check_course(self, course_id: str) -> None:
        built_with = self.index.embedder_for(course_id)
        if built_with is None:
            raise CourseNotIndexedError(course_id)
        if built_with != self.embedder.name:
            raise IndexMismatchError(built_with, self.embedder.name, course_id)


def _check_mode(mode: str) -> None:
    if mode not in SEARCH_MODES:
        raise RetrievalError(f"unknown search mode {mode!r}: use one of {', '.join(SEARCH_MODES)}")
