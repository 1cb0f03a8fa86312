"""Distinct moments: overlapping or adjacent windows of one video become one moment."""

from __future__ import annotations

from retrieval.models import Hit, Segment
from retrieval.moments import distinct_moments

CUES = {start: f"frase{start}" for start in range(0, 1200, 30)}  # one cue every 30 s


def window(video: str, start: int, end: int) -> Segment:
    text = " ".join(words for at, words in CUES.items() if start <= at < end)
    return Segment(f"{video}@{start * 1000}-{end * 1000}", "c", video, video, "u", start, end, text)


def hits(*segments: Segment) -> list[Hit]:
    return [Hit(s, score=1.0 / rank, rank=rank) for rank, s in enumerate(segments, start=1)]


def spans(moments: list[Hit]) -> list[tuple[str, float, float]]:
    return [(m.segment.video_id, m.segment.start_s, m.segment.end_s) for m in moments]


def test_overlapping_windows_of_one_video_become_their_union() -> None:
    moments = distinct_moments(hits(window("a", 90, 210), window("a", 0, 120)))
    assert spans(moments) == [("a", 0, 210)]
    (moment,) = moments
    assert moment.segment.text.split() == [f"frase{t}" for t in range(0, 210, 30)]
    assert moment.segment.id == "a@0-210000"
    assert (moment.rank, moment.score) == (1, 1.0)


def test_adjacent_windows_merge_but_distant_ones_and_other_videos_do_not() -> None:
    moments = distinct_moments(
        hits(
            window("a", 0, 120), window("b", 120, 240), window("a", 120, 240), window("a", 600, 720)
        )
    )
    assert spans(moments) == [("a", 0, 240), ("b", 120, 240), ("a", 600, 720)]
    assert [m.rank for m in moments] == [1, 2, 3]


def test_a_moment_never_grows_past_the_bound() -> None:
    chain = [window("a", start, start + 180) for start in range(0, 900, 150)]
    moments = distinct_moments(hits(*chain), max_span_s=240)
    assert all(m.segment.end_s - m.segment.start_s <= 240 for m in moments)
    assert len(moments) == len(chain)  # each window overlaps the next, but two span 330 s
    assert distinct_moments(hits(*chain), max_span_s=330)[0].segment.end_s == 330


def test_a_window_inside_another_adds_nothing() -> None:
    (moment,) = distinct_moments(hits(window("a", 60, 120), window("a", 0, 180)))
    assert spans([moment]) == [("a", 0, 180)]
    assert moment.segment.text == window("a", 0, 180).text


def test_order_follows_the_best_rank_of_each_moment() -> None:
    moments = distinct_moments(
        hits(window("b", 0, 120), window("a", 0, 120), window("b", 90, 210), window("a", 90, 210))
    )
    assert [m.segment.video_id for m in moments] == ["b", "a"]
    assert [m.score for m in moments] == [1.0, 0.5]
