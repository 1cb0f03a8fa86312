"""The retriever: embeds a question and searches one course's segments, and returns the best
distinct moments (``retrieval.moments``).

Async, on the caller's event loop: the index's queries are LanceDB's async API, and only
the embedding (15-40 ms of CPU a question) runs in a thread pool of the retriever's own,
so the loop keeps serving while a question is embedded.
"""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor
from weakref import WeakKeyDictionary

from retrieval.embed import Embedder
from retrieval.errors import CourseNotIndexedError, IndexMismatchError, RetrievalError
from retrieval.index import SegmentIndex
from retrieval.models import SEARCH_MODES, SearchMode, SearchResult
from retrieval.moments import distinct_moments


class Retriever:
    def __init__(
        self,
        index: SegmentIndex,
        embedder: Embedder,
        default_mode: SearchMode = "hybrid",
        searches_at_once: int | None = None,
    ) -> None:
        _check_mode(default_mode)
        self.index = index
        self.embedder = embedder
        self.default_mode: SearchMode = default_mode
        # One search per core at a time, each embedding on a thread of its own: a burst of
        # questions neither oversubscribes the CPU nor queues the store's and the HTTP
        # client's short jobs behind it in asyncio's default pool. Unbounded, 100 questions
        # at once sent 300 LanceDB queries together, and their results, arriving together,
        # kept the loop from its other work for up to 1 s (benchmarks/concurrent_questions.py).
        self.searches_at_once = searches_at_once or os.cpu_count() or 2
        self._embedding = ThreadPoolExecutor(
            max_workers=self.searches_at_once, thread_name_prefix="embedding"
        )
        # A semaphore belongs to the loop that first waits on it: one per loop, so the
        # command line and tests may run one loop after another.
        self._slots: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._slots = WeakKeyDictionary()

    async def search(
        self, course_id: str, text: str, k: int = 10, mode: SearchMode | None = None
    ) -> SearchResult:
        """The course's ``k`` best segments for ``text``.

        Raises CourseNotIndexedError when the course has no segments and IndexMismatchError
        when its vectors came from another embedder than ours.
        """
        mode = mode or self.default_mode
        _check_mode(mode)
        await self.check_course(course_id)
        async with self._slot():
            return await self._search(course_id, text, k, mode)

    async def _search(self, course_id: str, text: str, k: int, mode: SearchMode) -> SearchResult:
        started = time.perf_counter()
        # Full-text search needs no vector; skipping it saves the embedding (no cosine then).
        vector = None
        if mode != "fts":
            loop = asyncio.get_running_loop()
            vectors = await loop.run_in_executor(
                self._embedding, self.embedder.embed_queries, [text]
            )
            vector = vectors[0]
        embedded = time.perf_counter()
        # Twice the windows asked for: merging overlapping ones into moments shortens the list.
        windows = await self.index.search(course_id, text, vector, 2 * k, mode)
        searched = time.perf_counter()
        return SearchResult(
            hits=tuple(distinct_moments(windows)[:k]),
            embed_ms=(embedded - started) * 1000,
            search_ms=(searched - embedded) * 1000,
            query_vector=() if vector is None else tuple(vector.tolist()),
        )

    async def check_course(self, course_id: str) -> None:
        built_with = (await self.index.course_info(course_id)).embedder
        if built_with is None:
            raise CourseNotIndexedError(course_id)
        if built_with != self.embedder.name:
            raise IndexMismatchError(built_with, self.embedder.name, course_id)

    def _slot(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        slot = self._slots.get(loop)
        if slot is None:
            slot = self._slots[loop] = asyncio.Semaphore(self.searches_at_once)
        return slot

    def close(self) -> None:
        self._embedding.shutdown(wait=False, cancel_futures=True)


def _check_mode(mode: str) -> None:
    if mode not in SEARCH_MODES:
        raise RetrievalError(f"unknown search mode {mode!r}: use one of {', '.join(SEARCH_MODES)}")
