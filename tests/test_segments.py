from __future__ import annotations

import itertools
import random
import statistics

import pytest

from retrieval.errors import SettingsError
from retrieval.models import Cue, Segment, Video
from retrieval.segments import SegmentingSettings, content_hash, make_segments, window_bounds

VIDEO = Video("aula3", "Aula 3 — U-Net", "https://youtu.be/abcdefghijk")
SETTINGS = SegmentingSettings(window_s=150, stride_s=120, max_s=180)  # the seed's layout


def cues_between(boundaries: list[float]) -> list[Cue]:
    """Back-to-back cues, one per pair of consecutive boundaries, with distinct texts."""
    return [Cue(a, b, f"c{i}") for i, (a, b) in enumerate(itertools.pairwise(boundaries))]


def random_cues(rng: random.Random, n: int, gaps: bool = True) -> list[Cue]:
    cues, t = [], rng.uniform(0, 30)
    for i in range(n):
        duration = rng.choice([rng.uniform(0.5, 8), rng.uniform(8, 30), rng.uniform(150, 260)])
        duration = duration if rng.random() < 0.97 else 0.0
        cues.append(Cue(t, t + duration, f"c{i}"))
        t += duration + (rng.uniform(0, 20) if gaps and rng.random() < 0.2 else 0)
    return cues


def test_seed_layout_is_reproduced() -> None:
    # cue boundaries chosen so windows land on the seed's 08:00–10:41, 10:01–12:47, 12:01–14:48
    boundaries = [480, 495, 510, 525, 540, 555, 570, 585, 601, 615, 628, 641, 655, 670, 685]
    boundaries += [700, 711, 721, 735, 750, 767, 781, 795, 810, 825, 840, 855, 870, 888]
    segments = make_segments("c", VIDEO, cues_between([float(b) for b in boundaries]), SETTINGS)
    assert [(s.start_s, s.end_s) for s in segments] == [(480, 641), (601, 767), (721, 888)]
    assert [s.id for s in segments] == [
        "aula3@480000-641000",
        "aula3@601000-767000",
        "aula3@721000-888000",
    ]


def test_whisper_like_cues_give_about_two_minutes_stride_and_two_forty_five_span() -> None:
    rng = random.Random(7)
    boundaries = list(itertools.accumulate(rng.uniform(15, 35) for _ in range(200)))
    segments = make_segments("c", VIDEO, cues_between(boundaries), SETTINGS)
    spans = [s.end_s - s.start_s for s in segments[:-1]]
    strides = [b.start_s - a.start_s for a, b in itertools.pairwise(segments)]
    assert 150 <= statistics.median(spans) <= 180
    assert 120 <= statistics.median(strides) <= 140


def test_regular_cues_give_exact_windows() -> None:
    cues = cues_between([10.0 * i for i in range(41)])  # 0..400 s in 10 s cues
    segments = make_segments("c", VIDEO, cues, SETTINGS)
    assert [(s.start_s, s.end_s) for s in segments] == [
        (0, 150),
        (120, 270),
        (240, 390),
        (360, 400),
    ]
    assert segments[0].text == " ".join(f"c{i}" for i in range(15))
    assert {(s.course_id, s.video_id, s.title, s.url) for s in segments} == {
        ("c", VIDEO.video_id, VIDEO.title, VIDEO.url)
    }


def test_a_short_video_is_one_segment_and_no_cues_none() -> None:
    cues = [Cue(0, 4, "oi"), Cue(4, 9, "turma")]
    assert [(s.start_s, s.end_s, s.text) for s in make_segments("c", VIDEO, cues, SETTINGS)] == [
        (0, 9, "oi turma")
    ]
    assert make_segments("c", VIDEO, [], SETTINGS) == []


def test_a_cue_longer_than_max_is_kept_whole() -> None:
    cues = [Cue(0, 10, "a"), Cue(10, 400, "long"), Cue(400, 405, "b")]
    segments = make_segments("c", VIDEO, cues, SETTINGS)
    assert [(s.start_s, s.end_s, s.text) for s in segments] == [
        (0, 10, "a"),
        (10, 400, "long"),
        (400, 405, "b"),
    ]


def check_properties(cues: list[Cue], segments: list[Segment], s: SegmentingSettings) -> None:
    bounds = window_bounds(cues, s)
    assert len(bounds) == len(segments)
    # every cue is in some segment, and the last segment reaches the end
    covered = set().union(*(range(first, last + 1) for first, last in bounds))
    assert covered == set(range(len(cues)))
    assert segments[-1].end_s == max(c.end_s for c in cues[bounds[-1][0] :])
    for (first, last), segment in zip(bounds, segments, strict=True):
        assert segment.text == " ".join(c.text for c in cues[first : last + 1])
        span = segment.end_s - segment.start_s
        assert span <= s.max_s or first == last
        assert all(c.start_s < segment.start_s + s.window_s for c in cues[first : last + 1])
    for (a_first, a_last), (b_first, b_last) in itertools.pairwise(bounds):
        assert b_first > a_first and b_last > a_last  # ordered, never contained
        stride_start = next(
            (
                i
                for i in range(a_first + 1, len(cues))
                if cues[i].start_s >= cues[a_first].start_s + s.stride_s
            ),
            len(cues),
        )
        assert min(stride_start, a_last + 1) <= b_first <= a_last + 1  # stride kept, no gap
    assert len({seg.id for seg in segments}) == len(segments)


@pytest.mark.parametrize("seed", range(40))
def test_properties_on_random_cues(seed: int) -> None:
    rng = random.Random(seed)
    cues = random_cues(rng, rng.randint(1, 150), gaps=seed % 2 == 0)
    stride, window, longest = sorted(rng.sample([30, 60, 90, 120, 150, 180, 240], 3))
    settings = SegmentingSettings(window_s=window, stride_s=stride, max_s=longest)
    segments = make_segments("c", VIDEO, cues, settings)
    check_properties(cues, segments, settings)


def test_zero_length_cues_at_one_instant_still_get_unique_ids() -> None:
    cues = [Cue(5, 5, "a"), Cue(5, 5, "b"), Cue(5, 200, "c"), Cue(200, 201, "d")]
    segments = make_segments("c", VIDEO, cues, SegmentingSettings(window_s=1, stride_s=1, max_s=1))
    ids = [s.id for s in segments]
    assert len(set(ids)) == len(ids)
    assert ids[0] == "aula3@5000-5000"


def test_ids_are_stable_and_follow_the_windows() -> None:
    cues = cues_between([10.0 * i for i in range(41)])
    first = make_segments("c", VIDEO, cues, SETTINGS)
    assert [s.id for s in make_segments("c", VIDEO, list(cues), SETTINGS)] == [s.id for s in first]
    shifted = [Cue(c.start_s + 1, c.end_s + 1, c.text) for c in cues]
    assert not {s.id for s in make_segments("c", VIDEO, shifted, SETTINGS)} & {s.id for s in first}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"window_s": 0}, "window_s"),
        ({"stride_s": -1}, "stride_s"),
        ({"stride_s": 200}, "stride_s"),
        ({"max_s": 100}, "max_s"),
        ({"max_s": float("nan")}, "max_s"),
    ],
)
def test_settings_are_validated_and_errors_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(SettingsError) as caught:
        SegmentingSettings(**kwargs)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_content_hash() -> None:
    h = content_hash(b"WEBVTT", "aula3,Aula 3,https://youtu.be/x", SETTINGS.fingerprint())
    assert len(h) == 64 and int(h, 16) >= 0
    assert h == content_hash(b"WEBVTT", "aula3,Aula 3,https://youtu.be/x", SETTINGS.fingerprint())
    assert content_hash("ab", "c") != content_hash("a", "bc")
    assert content_hash("é") == content_hash("é".encode())
    assert SegmentingSettings(150, 100, 180).fingerprint() != SETTINGS.fingerprint()
