"""SegmentIndex against a real LanceDB in a temporary folder, with hand-made vectors."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from retrieval.errors import RetrievalError
from retrieval.index import (
    CourseInfo,
    SegmentIndex,
    ann_partitions,
    hnsw_ef,
    sql_literal,
    use_ann,
)
from retrieval.models import Hit, SearchMode, Segment

DIM = 8


def unit(*weights: float) -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[: len(weights)] = weights
    return vector / np.linalg.norm(vector)


def seg(course: str, video: str, n: int, text: str, start: float = 0.0) -> Segment:
    return Segment(
        id=f"{video}@{n}",
        course_id=course,
        video_id=video,
        title=f"Title {video}",
        url=f"https://youtu.be/{video}",
        start_s=start,
        end_s=start + 60.0,
        text=text,
    )


def put(
    index: SegmentIndex,
    segments: list[Segment],
    vectors: list[np.ndarray],
    *,
    content_hash: str = "h1",
    embedder: str = "fake",
    language: str = "english",
) -> None:
    first = segments[0]
    index.replace_video(
        first.course_id,
        first.video_id,
        content_hash,
        segments,
        np.stack(vectors),
        embedder,
        language,
    )


def search(
    index: SegmentIndex, course: str, text: str, vector: np.ndarray | None, k: int, mode: SearchMode
) -> list[Hit]:
    """One search on an event loop of its own, as the command line runs it."""
    return asyncio.run(index.search(course, text, vector, k, mode))


def course_info(index: SegmentIndex, course: str) -> CourseInfo:
    return asyncio.run(index.course_info(course))


async def hybrid_lists(
    index: SegmentIndex, course: str, text: str, vector: np.ndarray, pool: int
) -> list[list[dict[str, Any]]]:
    """The three lists a hybrid search fuses, before the fusion."""
    table = await index._async_table()
    info = await index.course_info(course)
    return await index._ranked_lists(table, course, info, text, vector, pool, "hybrid")


@pytest.fixture
def index(tmp_path: Path) -> SegmentIndex:
    return SegmentIndex(str(tmp_path / "lancedb"))


def test_round_trip_keeps_every_field(index: SegmentIndex) -> None:
    a = [seg("c1", "v1", 0, "layers panel basics"), seg("c1", "v1", 1, "masks", start=60)]
    put(index, a, [unit(1), unit(0, 1)], content_hash="hash-v1")
    put(index, [seg("c1", "v2", 0, "brushes")], [unit(0, 0, 1)], content_hash="hash-v2")

    assert index.count("c1") == 3
    assert index.video_hashes("c1") == {"v1": "hash-v1", "v2": "hash-v2"}
    assert index.all_segments("c1") == [*a, seg("c1", "v2", 0, "brushes")]
    info = course_info(index, "c1")
    assert (info.rows, info.embedder, info.languages) == (3, "fake", ("english",))
    assert index.vectors("c1")["v1@1"].tolist() == [pytest.approx(unit(0, 1))]


def test_an_index_with_no_table_answers_empty(index: SegmentIndex) -> None:
    assert index.count("c1") == 0
    assert course_info(index, "c1").embedder is None
    assert index.video_hashes("c1") == {}
    assert search(index, "c1", "anything", unit(1), 5, "hybrid") == []


@pytest.mark.parametrize("mode", ["dense", "fts", "hybrid"])
def test_a_course_never_sees_another_courses_segments(index: SegmentIndex, mode: str) -> None:
    text = "crop the image with the crop tool"
    put(index, [seg("course-a", "v1", 0, text)], [unit(1)])
    put(index, [seg("o'brien", "v1", 0, text)], [unit(1)])  # a quote must not break filters
    put(index, [seg("course-b", "v1", n, text) for n in range(5)], [unit(1)] * 5)

    hits = search(index, "course-a", "crop tool", unit(1), 10, mode)  # type: ignore[arg-type]
    assert [hit.segment.course_id for hit in hits] == ["course-a"]
    hits = search(index, "o'brien", "crop tool", unit(1), 10, mode)  # type: ignore[arg-type]
    assert [hit.segment.course_id for hit in hits] == ["o'brien"]


@pytest.mark.parametrize("mode", ["dense", "fts", "hybrid"])
def test_the_course_filter_applies_before_the_top_k_is_cut(index: SegmentIndex, mode: str) -> None:
    # Another course holds many better matches: filtering after taking the top k would
    # leave nothing for this course.
    put(index, [seg("other", "v1", n, "crop crop crop tool") for n in range(20)], [unit(1)] * 20)
    put(index, [seg("mine", "v1", 0, "then crop it")], [unit(1, 2)])

    hits = search(index, "mine", "crop tool", unit(1), 1, mode)  # type: ignore[arg-type]

    assert [hit.segment.id for hit in hits] == ["v1@0"]
    assert hits[0].segment.course_id == "mine"


def test_dense_ranks_by_cosine(index: SegmentIndex) -> None:
    segments = [seg("c1", "v1", n, f"text {n}", start=60 * n) for n in range(3)]
    put(index, segments, [unit(1, 0), unit(1, 1), unit(0, 1)])

    hits = search(index, "c1", "ignored", unit(1, 0.2), 3, "dense")

    assert [hit.segment.id for hit in hits] == ["v1@0", "v1@1", "v1@2"]
    assert [hit.rank for hit in hits] == [1, 2, 3]
    expected = [float(unit(1, 0.2) @ v) for v in (unit(1, 0), unit(1, 1), unit(0, 1))]
    assert [hit.score for hit in hits] == pytest.approx(expected, abs=1e-5)
    assert [hit.dense_score for hit in hits] == pytest.approx(expected, abs=1e-5)


def test_a_segment_scores_by_its_best_part(index: SegmentIndex) -> None:
    segments = [seg("c1", "v1", 0, "two parts"), seg("c1", "v1", 1, "one part", start=60)]
    parts = [np.stack([unit(1), unit(0, 0, 1)]), unit(1, 1)]
    index.replace_video("c1", "v1", "h", segments, parts, "fake", "english")

    hits = search(index, "c1", "", unit(0, 0, 1), 2, "dense")

    assert [hit.segment.id for hit in hits] == ["v1@0", "v1@1"]
    assert [hit.score for hit in hits] == pytest.approx([1.0, 0.0], abs=1e-5)
    assert index.vectors("c1")["v1@0"].shape == (2, DIM)
    with pytest.raises(RetrievalError, match="at least one vector"):
        index.replace_video("c1", "v1", "h", segments[:1], [np.zeros((0, DIM))], "f", "english")


def test_fts_stems_english_and_carries_cosine_when_known(index: SegmentIndex) -> None:
    segments = [
        seg("c1", "v1", 0, "The runner was running across the field"),
        seg("c1", "v1", 1, "Choose a brush size", start=60),
    ]
    put(index, segments, [unit(1), unit(0, 1)])

    hits = search(index, "c1", "how do I run?", unit(1), 5, "fts")
    assert [hit.segment.id for hit in hits] == ["v1@0"]
    assert hits[0].score > 0
    assert hits[0].dense_score == pytest.approx(1.0, abs=1e-5)
    assert search(index, "c1", "how do I run?", None, 5, "fts")[0].dense_score is None


async def test_part_level_fts_ranks_a_segment_by_its_best_part(index: SegmentIndex) -> None:
    segments = [
        seg("c1", "v1", 0, "crop crop crop layers"),
        seg("c1", "v1", 1, "a long talk about layers; crop", start=60),
    ]
    parts = [["crop crop crop layers"], ["a long talk about layers", "crop tool"]]
    index.replace_video("c1", "v1", "h", segments, [unit(1), unit(1)], "f", "english", parts)

    lists = await hybrid_lists(index, "c1", "crop tool", unit(1), 5)

    assert len(lists) == 3  # dense, BM25 of segments, BM25 of parts
    assert [row["id"] for row in lists[2]] == ["v1@1", "v1@0"]  # "crop tool" is a part of v1@1
    with pytest.raises(RetrievalError, match="part text lists"):
        index.replace_video("c1", "v1", "h", segments, [unit(1)] * 2, "f", "english", [["x"]])


async def test_a_portuguese_course_fuses_trigrams_that_bridge_an_english_term(
    index: SegmentIndex,
) -> None:
    segments = [
        seg("pt", "v1", 0, "a retropropagação calcula o gradiente"),
        seg("pt", "v1", 1, "o modelo prevê a próxima palavra", start=60),
    ]
    put(index, segments, [unit(1), unit(1)], language="portuguese")
    put(index, [seg("en", "v1", 0, "backpropagation computes it")], [unit(1)])

    pt_lists = await hybrid_lists(index, "pt", "o que é backpropagation?", unit(1), 5)
    en_lists = await hybrid_lists(index, "en", "backprop", unit(1), 5)

    assert [row["id"] for row in pt_lists[1]] == []  # no word of the question is in the course
    assert pt_lists[2][0]["id"] == "v1@0"  # "pro", "opa", "pag", "aga", …
    assert en_lists[2] == []  # an English course keeps BM25 of parts' words: no "backprop"


async def test_a_table_made_before_the_trigrams_gets_them_at_its_first_write(
    tmp_path: Path,
) -> None:
    index = SegmentIndex(str(tmp_path / "lancedb"))
    put(index, [seg("pt", "v1", 0, "retropropagação")], [unit(1)], language="portuguese")
    index._open().drop_index("text_idx")  # as a table made by the version before
    older = SegmentIndex(str(tmp_path / "lancedb"))
    assert not (await older.course_info("pt")).has_trigram_index

    fallback = await hybrid_lists(older, "pt", "backpropagation", unit(1), 5)
    put(older, [seg("pt", "v2", 0, "gradiente")], [unit(1)], language="portuguese")

    assert fallback[2] == []  # parts' words, which do not bridge the term
    assert (await older.course_info("pt")).has_trigram_index
    lists = await hybrid_lists(older, "pt", "backpropagation", unit(1), 5)
    assert [row["id"] for row in lists[2]] == ["v1@0"]


async def test_a_portuguese_course_finds_a_window_by_its_videos_title(
    index: SegmentIndex,
) -> None:
    title = "O que a retropropagação está fazendo?"
    backprop = replace(seg("pt", "bp", 0, "a regra da cadeia ajusta os pesos"), title=title)
    put(index, [backprop], [unit(1)], language="portuguese")
    gpt = seg("pt", "gpt", 0, "o modelo prevê a próxima palavra")
    put(index, [gpt], [unit(1)], language="portuguese")
    put(index, [replace(seg("en", "v1", 0, "choose the tool"), title="Crop a photo")], [unit(1)])

    portuguese = await hybrid_lists(index, "pt", "retropropagação?", unit(1), 5)
    english = await hybrid_lists(index, "en", "crop", unit(1), 5)

    assert [row["id"] for row in portuguese[1]] == ["bp@0"]  # the title's words, stemmed
    assert english[1] == []  # an English course searches its text alone
    assert index.all_segments("pt")[0].text == "a regra da cadeia ajusta os pesos"  # as shown


def test_text_no_store_can_hold_is_cleaned_in_every_row_written(index: SegmentIndex) -> None:
    dirty = Segment("v1@0", "c1", "v1", "Lay\x00ers\ud800", "u\x07", 0.0, 60.0, "crop\x00 tool")
    parts = [["crop\ud800 tool\x1b"]]
    index.replace_video("c1", "v1", "h", [dirty], [unit(1)], "f", "english", parts)

    [found] = index.all_segments("c1")
    assert (found.title, found.url, found.text) == ("Layers", "u", "crop tool")
    stored = index._open().to_arrow()
    assert stored.column("parts_english").to_pylist() == [["crop tool"]]
    assert stored.column("text_english").to_pylist() == ["crop tool"]


def test_a_hit_only_the_part_search_found_is_fetched_whole(tmp_path: Path) -> None:
    index = SegmentIndex(str(tmp_path / "lancedb"), candidates=2)
    text = "a long talk about many other things and then the crop tool"
    segments = [
        seg("c1", "v1", 0, "crop crop tool tool"),
        seg("c1", "v1", 1, "crop crop tool tool", start=60),
        seg("c1", "v1", 2, text, start=120),
    ]
    parts = [["crop crop tool tool"]] * 2 + [["a long talk about many other things", "crop tool"]]
    vectors = [unit(1), unit(1, 0.1), unit(0, 1)]
    index.replace_video("c1", "v1", "h", segments, vectors, "f", "english", parts)
    lists = asyncio.run(hybrid_lists(index, "c1", "crop tool", unit(1), 2))
    assert all("v1@2" not in [row["id"] for row in found] for found in lists[:2])

    hits = search(index, "c1", "crop tool", unit(1), 3, "hybrid")

    assert [hit.segment.id for hit in hits][-1] == "v1@2"
    assert hits[-1].segment == segments[2]
    assert hits[-1].dense_score == pytest.approx(0.0, abs=1e-6)


def test_each_course_is_searched_with_its_own_languages_stemmer(index: SegmentIndex) -> None:
    put(index, [seg("pt", "v1", 0, "aprendendo gradientes")], [unit(1)], language="portuguese")
    put(index, [seg("en", "v1", 0, "aprendendo gradientes")], [unit(1)], language="english")

    # The Portuguese stemmer maps "aprender" and "aprendendo" to one stem; English does not.
    assert [h.segment.course_id for h in search(index, "pt", "aprender", None, 5, "fts")] == ["pt"]
    assert search(index, "en", "aprender", None, 5, "fts") == []


def test_hybrid_fuses_both_lists_with_rrf(index: SegmentIndex) -> None:
    segments = [
        seg("c1", "v1", 0, "layer masks hide pixels"),  # the only word match
        seg("c1", "v1", 1, "something unrelated", start=60),
        seg("c1", "v1", 2, "another unrelated passage", start=120),
    ]
    # Dense order for the query unit(1): v1@1 (cos 1), v1@0 (cos .45), v1@2 (cos 0).
    put(index, segments, [unit(0.5, 1), unit(1), unit(0, 0, 1)])
    index.rrf_k, index.fusion_weights = 30, (1.5, 1.0, 1.0)

    hits = search(index, "c1", "masks", unit(1), 3, "hybrid")

    assert [hit.segment.id for hit in hits] == ["v1@0", "v1@1", "v1@2"]
    # v1@0 is first in both full-text lists (segments, parts) and second in the dense one.
    assert [hit.score for hit in hits] == pytest.approx([2 / 31 + 1.5 / 32, 1.5 / 31, 1.5 / 33])
    assert [hit.rank for hit in hits] == [1, 2, 3]
    assert [hit.dense_score for hit in hits] == pytest.approx([0.4472136, 1.0, 0.0], abs=1e-5)


def test_replace_video_swaps_the_whole_video_and_nothing_else(index: SegmentIndex) -> None:
    put(index, [seg("c1", "v1", n, f"old {n}") for n in range(3)], [unit(1)] * 3)
    put(index, [seg("c1", "v2", 0, "other video")], [unit(1)])

    put(index, [seg("c1", "v1", 7, "new text")], [unit(0, 1)], content_hash="h2")

    ids = sorted(s.id for s in index.all_segments("c1"))
    assert ids == ["v1@7", "v2@0"]
    assert index.video_hashes("c1") == {"v1": "h2", "v2": "h1"}


def test_a_failing_replace_leaves_the_old_video_whole(index: SegmentIndex) -> None:
    put(index, [seg("c1", "v1", n, f"old {n}") for n in range(2)], [unit(1)] * 2)

    wrong_dim = np.ones((2, DIM + 1), dtype=np.float32)
    new = [seg("c1", "v1", n, "new") for n in (5, 6)]
    with pytest.raises(RetrievalError, match="dimensional"):
        index.replace_video("c1", "v1", "h2", new, wrong_dim, "fake", "english")
    with pytest.raises(RetrievalError, match="vectors"):
        index.replace_video("c1", "v1", "h2", new, np.ones((1, DIM), np.float32), "fake", "english")
    with pytest.raises(RetrievalError, match="language"):
        index.replace_video("c1", "v1", "h2", new, np.ones((2, DIM), np.float32), "fake", "klingon")

    assert sorted(s.id for s in index.all_segments("c1")) == ["v1@0", "v1@1"]


def test_delete_video(index: SegmentIndex) -> None:
    put(index, [seg("c1", "v1", 0, "a")], [unit(1)])
    put(index, [seg("c1", "v2", 0, "b")], [unit(1)])
    index.delete_video("c1", "v1")
    assert index.video_hashes("c1") == {"v2": "h1"}


def test_the_embedder_shows_a_half_migrated_course(index: SegmentIndex) -> None:
    put(index, [seg("c1", "v1", 0, "a")], [unit(1)], embedder="model-a")
    put(index, [seg("c1", "v2", 0, "b")], [unit(1)], embedder="model-b")
    assert course_info(index, "c1").embedder == "model-a + model-b"


def test_a_reader_sees_later_writes_without_reopening(tmp_path: Path) -> None:
    uri = str(tmp_path / "lancedb")
    reader = SegmentIndex(uri)  # opened before the table even exists
    writer = SegmentIndex(uri)
    assert reader.count("c1") == 0

    put(writer, [seg("c1", "v1", 0, "first version")], [unit(1)])
    assert [h.segment.text for h in search(reader, "c1", "version", unit(1), 5, "hybrid")] == [
        "first version"
    ]

    put(writer, [seg("c1", "v1", 1, "second version")], [unit(1)], content_hash="h2")
    assert [h.segment.text for h in search(reader, "c1", "version", unit(1), 5, "dense")] == [
        "second version"
    ]
    assert reader.video_hashes("c1") == {"v1": "h2"}


def test_optimize_keeps_results(index: SegmentIndex) -> None:
    put(index, [seg("c1", "v1", 0, "clone stamp tool")], [unit(1)])
    put(index, [seg("c1", "v2", 0, "healing brush")], [unit(0, 1)])
    index.optimize()
    assert [h.segment.id for h in search(index, "c1", "healing", None, 5, "fts")] == ["v2@0"]
    assert [h.segment.id for h in search(index, "c1", "x", unit(0, 1), 1, "dense")] == ["v2@0"]


def test_an_ann_index_is_built_past_the_threshold_and_finds_the_nearest(tmp_path: Path) -> None:
    index = SegmentIndex(str(tmp_path / "lancedb"), ann_threshold=300)
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(300, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    segments = [seg("c1", "v1", n, f"text {n}", start=n) for n in range(300)]
    put(index, segments, list(vectors))
    assert not index.has_ann_index()

    index.optimize()

    assert index.has_ann_index()
    hits = search(index, "c1", "", vectors[42], 1, "dense")
    assert hits[0].segment.id == "v1@42"


def test_use_ann_only_for_large_courses_with_an_index() -> None:
    assert use_ann(course_rows=200_000, threshold=100_000, has_ann_index=True)
    assert not use_ann(course_rows=500, threshold=100_000, has_ann_index=True)
    assert not use_ann(course_rows=200_000, threshold=100_000, has_ann_index=False)


def test_ann_partitions_and_sql_literal() -> None:
    assert ann_partitions(10_000) == 100
    assert ann_partitions(0) == 1
    assert hnsw_ef(10) == hnsw_ef(50) == 1000  # the floor covers hybrid's candidate pool
    assert hnsw_ef(100) == 2000
    assert sql_literal("o'brien") == "'o''brien'"


@pytest.mark.parametrize("mode", ["dense", "fts", "hybrid"])
def test_searches_leave_no_lance_warnings_on_stderr(
    index: SegmentIndex, mode: str, capfd: pytest.CaptureFixture[str]
) -> None:
    # A bot logs to stderr: a warning per query (e.g. an unnamed _score column) would flood it.
    put(index, [seg("c1", "v1", 0, "crop the image")], [unit(1)])
    capfd.readouterr()

    assert search(index, "c1", "crop", unit(1), 5, mode)  # type: ignore[arg-type]

    assert "WARN" not in capfd.readouterr().err
