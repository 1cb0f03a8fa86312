"""Incremental ingest of a small course folder written by each test, with a counting fake
embedder (hashed bag of words), into a real LanceDB in a temporary folder."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_index import course_info

from retrieval.embed import TEXT_CONTEXT, embed_parts_as_text
from retrieval.errors import InputError, SettingsError
from retrieval.index import SegmentIndex
from retrieval.ingest import (
    IngestReport,
    choose_language,
    ingest_course,
    make_parts,
    parts_of,
)
from retrieval.models import Cue, Segment
from retrieval.segments import SegmentingSettings
from retrieval.transcripts import MAX_CHARS_PER_S, MAX_TEXT_BURST

SETTINGS = SegmentingSettings(window_s=150, stride_s=120, max_s=180)
CUE = "an optional id line then '00:00:01.000 --> 00:00:04.000'"


class CountingEmbedder:
    """Deterministic: each word adds 1 to one of 64 dimensions chosen by its hash."""

    def __init__(self, name: str = "fake-bow") -> None:
        self.name = name
        self.dim = 64
        self.passages: list[str] = []

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1
        out[:, 0] += 1e-3  # no zero vectors
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.passages.extend(texts)
        return self._embed(texts)

    def embed_parts(self, documents: Sequence[Sequence[str]]) -> list[np.ndarray]:
        return embed_parts_as_text(self.embed_passages, documents)


def vtt(*cues: tuple[float, float, str]) -> str:
    def clock(s: float) -> str:
        return f"{int(s) // 3600:02d}:{int(s) % 3600 // 60:02d}:{s % 60:06.3f}"

    blocks = [f"{clock(a)} --> {clock(b)}\n{text}" for a, b, text in cues]
    return "WEBVTT\n\n" + "\n\n".join(blocks) + "\n"


def write_course(root: Path, videos: dict[str, str], rows: dict[str, str] | None = None) -> Path:
    """``videos`` maps video_id -> transcript text (.vtt); ``rows`` overrides titles."""
    (root / "transcripts").mkdir(parents=True, exist_ok=True)
    for old in (root / "transcripts").iterdir():
        old.unlink()
    titles = rows or {video_id: f"Lesson {video_id}" for video_id in videos}
    lines = ["video_id,title,url"]
    lines += [f"{vid},{title},https://youtu.be/{vid}" for vid, title in titles.items()]
    (root / "videos.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for video_id, text in videos.items():
        (root / "transcripts" / f"{video_id}.vtt").write_text(text, encoding="utf-8")
    return root


LAYERS = vtt((0, 5, "Open the layers panel."), (5, 10, "Add a layer mask to hide pixels."))
CROP = vtt((0, 4, "Pick the crop tool."), (4, 9, "Drag the handles to straighten."))
BRUSH = vtt((0, 6, "Choose a soft round brush."), (200, 206, "Lower the brush opacity."))


@pytest.fixture
def index(tmp_path: Path) -> SegmentIndex:
    return SegmentIndex(str(tmp_path / "lancedb"))


def ingest(
    course: Path, index: SegmentIndex, embedder: CountingEmbedder, language: str | None = None
) -> IngestReport:
    return ingest_course(course, "c1", index, embedder, SETTINGS, language, progress=False)


def test_first_ingest_adds_every_video(tmp_path: Path, index: SegmentIndex) -> None:
    course = write_course(tmp_path / "course", {"v1": LAYERS, "v2": CROP, "v3": BRUSH})
    embedder = CountingEmbedder()

    report = ingest(course, index, embedder)

    assert report.added == ["v1", "v2", "v3"]
    assert (report.updated, report.unchanged, report.removed, report.skipped) == ([], [], [], [])
    assert report.segments == index.count("c1") == 4  # v3's cues are 200 s apart: 2 windows
    assert report.embedded == len(embedder.passages) == 6  # one vector per sentence
    assert report.language == "english"
    assert course_info(index, "c1").embedder == "fake-bow"
    texts = {s.text for s in index.all_segments("c1")}
    assert "Pick the crop tool. Drag the handles to straighten." in texts


def test_an_unchanged_course_costs_no_embedding(tmp_path: Path, index: SegmentIndex) -> None:
    course = write_course(tmp_path / "course", {"v1": LAYERS, "v2": CROP})
    ingest(course, index, CountingEmbedder())
    version = index._open().version
    again = CountingEmbedder()

    report = ingest(course, index, again)

    assert again.passages == []
    assert report.unchanged == ["v1", "v2"]
    assert (report.added, report.updated, report.removed) == ([], [], [])
    assert index._open().version == version  # nothing written either


def test_changed_videos_are_replaced_and_removed_ones_deleted(
    tmp_path: Path, index: SegmentIndex
) -> None:
    course = write_course(tmp_path / "course", {"v1": LAYERS, "v2": CROP, "v3": BRUSH})
    ingest(course, index, CountingEmbedder())
    edited = vtt((0, 5, "Open the layers panel."), (5, 10, "Use a vector mask instead."))
    write_course(course, {"v1": edited, "v2": CROP})
    embedder = CountingEmbedder()

    report = ingest(course, index, embedder)

    assert (report.updated, report.unchanged, report.removed) == (["v1"], ["v2"], ["v3"])
    # only v1's parts, each embedded with its neighbour
    both = "Open the layers panel. Use a vector mask instead."
    assert embedder.passages == [both, both]
    by_video = {s.video_id: s.text for s in index.all_segments("c1")}
    assert by_video == {
        "v1": "Open the layers panel. Use a vector mask instead.",
        "v2": "Pick the crop tool. Drag the handles to straighten.",
    }


def test_a_new_title_or_embedder_counts_as_a_change(tmp_path: Path, index: SegmentIndex) -> None:
    course = write_course(tmp_path / "course", {"v1": LAYERS, "v2": CROP})
    ingest(course, index, CountingEmbedder())
    write_course(course, {"v1": LAYERS, "v2": CROP}, rows={"v1": "Masks 101", "v2": "Lesson v2"})

    assert ingest(course, index, CountingEmbedder()).updated == ["v1"]
    assert index.all_segments("c1")[0].title == "Masks 101"
    report = ingest(course, index, CountingEmbedder("other-model"))
    assert report.updated == ["v1", "v2"]
    assert course_info(index, "c1").embedder == "other-model"


def test_a_bad_transcript_is_skipped_and_the_rest_ingested(
    tmp_path: Path, index: SegmentIndex
) -> None:
    broken = "WEBVTT\n\n00:00:01.000 --> 00:00:05.000\nThe cue before the mess.\n\nmess\n"
    course = write_course(tmp_path / "course", {"v1": LAYERS, "bad": broken, "v2": CROP})
    embedder = CountingEmbedder()

    report = ingest(course, index, embedder)

    assert report.added == ["v1", "v2"]
    assert [Path(error.path).name for error in report.skipped] == ["bad.vtt"]
    assert isinstance(report.skipped[0], InputError)
    assert "bad" not in index.video_hashes("c1")
    assert all(s.video_id != "bad" for s in index.all_segments("c1"))
    assert not any("mess" in text for text in embedder.passages)
    assert report.kept == []  # never indexed: nothing earlier to keep
    assert report.problem_lines() == [f"{course}/transcripts/bad.vtt:6: expected a cue: {CUE}"]
    assert report.summary().endswith("; 2 new, 0 changed, 0 unchanged, 0 removed, 1 skipped")


def test_a_video_that_breaks_later_keeps_its_last_good_version(
    tmp_path: Path, index: SegmentIndex
) -> None:
    course = write_course(tmp_path / "course", {"v1": LAYERS, "v2": CROP})
    ingest(course, index, CountingEmbedder())
    write_course(course, {"v1": "WEBVTT\n\nnot a cue at all\n", "v2": CROP})

    report = ingest(course, index, CountingEmbedder())

    assert [Path(error.path).name for error in report.skipped] == ["v1.vtt"]
    assert report.removed == []
    assert {s.video_id for s in index.all_segments("c1")} == {"v1", "v2"}
    assert report.kept == ["v1"]
    assert report.problem_lines() == [
        f"{course}/transcripts/v1.vtt:3: expected a cue: {CUE} (kept the version indexed earlier)"
    ]
    assert "1 skipped (1 kept the version indexed earlier)" in report.summary()


def test_a_video_without_transcript_is_reported(tmp_path: Path, index: SegmentIndex) -> None:
    course = write_course(tmp_path / "course", {"v1": LAYERS})
    write_course(course, {"v1": LAYERS}, rows={"v1": "Layers", "v9": "No captions yet"})

    report = ingest(course, index, CountingEmbedder())

    assert report.added == ["v1"]
    assert report.skipped == []
    assert ["v9" in str(problem) for problem in report.warnings] == [True]
    assert report.problem_lines(warnings=False) == []
    [line] = report.problem_lines()
    assert line.startswith(f"{course}/videos.csv:3: warning: video 'v9' has no transcript")
    assert report.summary().endswith(", 0 removed, 1 warning(s)")


def test_a_megabyte_cue_is_ingested_cut_to_its_duration_with_a_warning(
    tmp_path: Path, index: SegmentIndex
) -> None:
    megabyte = "palavra " * 131_072
    talk = vtt((0, 5, "Bom dia."), (5, 65, megabyte), (65, 70, "Voltando ao assunto."))
    course = write_course(tmp_path / "course", {"v1": talk})
    embedder = CountingEmbedder()

    report = ingest(course, index, embedder)

    assert report.added == ["v1"]
    assert [w.where for w in report.warnings] == [f"{course / 'transcripts' / 'v1.vtt'}:6"]
    allowed = MAX_TEXT_BURST + MAX_CHARS_PER_S * 70  # what 70 s of video may hold
    segments = index.all_segments("c1")
    assert sum(len(s.text) for s in segments) <= allowed
    # every part is embedded once with its neighbours either side
    assert sum(len(text) for text in embedder.passages) <= (2 * TEXT_CONTEXT + 1) * allowed
    assert report.embedded == len(embedder.passages)


def test_text_no_store_can_hold_is_cleaned_at_ingest(tmp_path: Path, index: SegmentIndex) -> None:
    dirty = vtt((0, 5, "Open\x00 the layers\x07 panel."), (5, 9, "Add a mask\x1b."))
    course = write_course(tmp_path / "course", {"v1": dirty}, rows={"v1": "Layers\x00 \x1b101"})

    report = ingest(course, index, CountingEmbedder())

    assert (report.added, report.skipped) == (["v1"], [])
    [segment] = index.all_segments("c1")
    assert (segment.title, segment.text) == ("Layers 101", "Open the layers panel. Add a mask.")


def test_language_is_detected_or_taken_as_given(tmp_path: Path, index: SegmentIndex) -> None:
    aula = vtt((0, 5, "Então a gente aprende que isso é uma rede neural."), (5, 9, "Né, tá."))
    course = write_course(tmp_path / "course", {"a1": aula})
    assert ingest(course, index, CountingEmbedder()).language == "portuguese"
    assert course_info(index, "c1").languages == ("portuguese",)
    report = ingest(course, index, CountingEmbedder(), language="English")
    assert (report.language, report.updated) == ("english", ["a1"])


def test_an_unchanged_course_gains_a_text_index_its_table_lacks(tmp_path: Path) -> None:
    aula = vtt((0, 5, "Então a gente aprende a retropropagação."), (5, 9, "Né, tá."))
    course = write_course(tmp_path / "course", {"a1": aula})
    ingest(course, SegmentIndex(str(tmp_path / "lancedb")), CountingEmbedder())
    SegmentIndex(str(tmp_path / "lancedb"))._open().drop_index("text_idx")  # an older table
    older = SegmentIndex(str(tmp_path / "lancedb"))
    assert not course_info(older, "c1").has_trigram_index

    report = ingest(course, older, CountingEmbedder())

    assert (report.unchanged, report.embedded) == (["a1"], 0)
    assert course_info(older, "c1").has_trigram_index


class FailingWrites(SegmentIndex):
    def replace_video(self, course_id: str, video_id: str, *args: Any, **kwargs: Any) -> None:
        if video_id == "v2":
            raise OSError("disk full")
        super().replace_video(course_id, video_id, *args, **kwargs)


def test_a_failed_write_fails_the_ingest_and_keeps_earlier_videos(tmp_path: Path) -> None:
    # Videos are written on a thread of their own while the next ones are embedded.
    course = write_course(tmp_path / "course", {"v1": LAYERS, "v2": CROP, "v3": BRUSH})
    index = FailingWrites(str(tmp_path / "lancedb"))

    with pytest.raises(OSError, match="disk full"):
        ingest(course, index, CountingEmbedder())

    assert {s.video_id for s in index.all_segments("c1")} <= {"v1", "v3"}
    assert "v1" in index.video_hashes("c1")


def test_choose_language_rejects_unknown_languages() -> None:
    with pytest.raises(SettingsError, match="language"):
        choose_language("klingon", [])


def test_a_missing_videos_csv_is_fatal(tmp_path: Path, index: SegmentIndex) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"videos\.csv"):
        ingest(tmp_path / "empty", index, CountingEmbedder())


def test_long_cues_are_cut_into_even_pieces_with_interpolated_times() -> None:
    words = " ".join(f"w{i}" for i in range(130))
    parts = make_parts([Cue(0.0, 130.0, words)], min_words=1, max_words=60)
    assert [len(p.text.split()) for p in parts] == [44, 44, 42]
    assert [(p.start_s, p.end_s) for p in parts] == [(0.0, 44.0), (44.0, 88.0), (88.0, 130.0)]
    assert " ".join(p.text for p in parts) == words


def test_short_cues_are_joined_but_not_across_a_pause() -> None:
    cues = [
        Cue(0, 1, "a b c"),
        Cue(1, 2, "d e f"),
        Cue(2, 3, "g h i"),
        Cue(3, 4, "j k"),
        Cue(20, 21, "after a pause"),
        Cue(21, 22, ""),
    ]
    parts = make_parts(cues, min_words=8, max_words=60)
    assert parts == [Cue(0, 3, "a b c d e f g h i"), Cue(3, 4, "j k"), Cue(20, 21, "after a pause")]


def test_a_segment_takes_the_parts_centred_in_it() -> None:
    parts = [Cue(0, 10, "a"), Cue(10, 30, "b"), Cue(30, 40, "c")]
    segment = Segment("s", "c", "v", "t", "u", 0.0, 18.0, "a b")
    assert parts_of(segment, parts) == [0]
    tiny = Segment("s", "c", "v", "t", "u", 12.0, 14.0, "b")
    assert parts_of(tiny, parts) == [1]  # no middle inside: the overlapping part
