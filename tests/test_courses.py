from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.courses import detect_language, read_course
from retrieval.errors import InputError
from retrieval.models import Video
from retrieval.segments import make_segments
from retrieval.transcripts import parse_transcript

ROOT = Path(__file__).resolve().parents[1]
SEED_COURSE = ROOT / "tests" / "data" / "seed_course"
DEMO_COURSE = ROOT / "bot" / "data" / "demo"
SHARED = ROOT / ".." / "shared" / "data"
VTT = "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nolá\n"


def make_course(tmp_path: Path, csv_text: str, transcripts: dict[str, str]) -> Path:
    (tmp_path / "videos.csv").write_text(csv_text, encoding="utf-8")
    folder = tmp_path / "transcripts"
    folder.mkdir()
    for name, text in transcripts.items():
        (folder / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_reads_videos_extra_columns_and_pairs_transcripts(tmp_path: Path) -> None:
    csv_text = (
        "video_id,title,url,week\n"
        'a1,"Aula 1, parte 1",https://youtu.be/aaaaaaaaaaa,1\n'
        "a2,Aula 2,https://youtu.be/bbbbbbbbbbb,2\n"
    )
    course = make_course(
        tmp_path, csv_text, {"a1.vtt": VTT, "a2.srt": "1\n00:00:01,000 --> 00:00:02,000\nx\n"}
    )
    files = read_course(course)
    assert files.videos["a1"] == Video(
        "a1", "Aula 1, parte 1", "https://youtu.be/aaaaaaaaaaa", {"week": "1"}
    )
    assert files.transcripts == {
        "a1": course / "transcripts" / "a1.vtt",
        "a2": course / "transcripts" / "a2.srt",
    }
    assert files.problems == []


def test_mismatches_are_collected_as_problems(tmp_path: Path) -> None:
    csv_text = 'video_id,title,url\na1,Aula 1,u1\n"a2","Aula\n2",u2\na3,Aula 3,u3\n'
    course = make_course(
        tmp_path, csv_text, {"a1.vtt": VTT, "a1.json": "[]", "typo.vtt": VTT, "notes.txt": "x"}
    )
    files = read_course(course)
    found = sorted((p.path.name, p.line, p.severity) for p in files.problems)
    assert found == [
        ("a1.vtt", None, "error"),  # a second transcript for a1 (files are taken in name order)
        ("notes.txt", None, "warning"),
        ("typo.vtt", None, "error"),  # no row in videos.csv
        ("videos.csv", 3, "warning"),  # a2 has no transcript; its row starts on line 3
        ("videos.csv", 5, "warning"),  # a3, after a row spanning two lines
    ]
    assert [p.path.name for p in files.errors] == ["a1.vtt", "typo.vtt"]
    assert str(files.errors[1]) == (
        f"{course / 'transcripts' / 'typo.vtt'}: no row for video_id 'typo' in videos.csv: "
        "add one or rename the file"
    )
    assert str(files.problems[-1]).startswith(f"warning: {course / 'videos.csv'}:5: video 'a3'")
    assert files.transcripts == {"a1": course / "transcripts" / "a1.json"}


@pytest.mark.parametrize(
    ("csv_text", "line", "words"),
    [
        ("video_id,name,url\na,b,c\n", 1, "missing column(s) title"),
        ("", 1, "missing column(s) video_id, title, url"),
        ("video_id,title,url\na,A,u\n,B,u\n", 3, "empty video_id"),
        (
            "video_id,title,url\na,A,u\nb,B,u\na,C,u\n",
            4,
            "duplicate video_id 'a' (first on line 2)",
        ),
        (
            "video_id,title,url\na,A,u\nb,Redes, parte 2,u\n",
            3,
            "4 fields but the header has 3; put a title or url that contains a comma in",
        ),
    ],
)
def test_bad_videos_csv_names_file_and_line(
    tmp_path: Path, csv_text: str, line: int, words: str
) -> None:
    course = make_course(tmp_path, csv_text, {})
    with pytest.raises(InputError) as caught:
        read_course(course)
    assert caught.value.path == course / "videos.csv"
    assert caught.value.line == line
    assert words in caught.value.message


def test_missing_videos_csv_and_transcripts_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        read_course(tmp_path)
    (tmp_path / "videos.csv").write_text("video_id,title,url\n", encoding="utf-8")
    assert [p.path.name for p in read_course(tmp_path).errors] == ["transcripts"]


def test_detect_language() -> None:
    assert (
        detect_language(["Então, o que é a camada de saída da rede? Ela tem três canais."])
        == "portuguese"
    )
    assert (
        detect_language(["Choose File, Save As, and then click the layer you want."]) == "english"
    )
    assert detect_language([]) == "english"


def read_questions(course_dir: Path) -> list[dict]:
    lines = (course_dir / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize("course_dir", [SEED_COURSE, DEMO_COURSE], ids=["seed", "demo"])
def test_fixture_courses_are_consistent(course_dir: Path) -> None:
    files = read_course(course_dir)
    assert files.problems == []
    cues = {video_id: parse_transcript(path) for video_id, path in files.transcripts.items()}
    assert detect_language(c.text for video in cues.values() for c in video) == "portuguese"
    questions = read_questions(course_dir)
    assert len({q["id"] for q in questions}) == len(questions)
    for question in questions:
        assert set(question) >= {"id", "question", "video_id", "start_s", "end_s", "answer"}
        video = cues[question["video_id"]]
        assert video[0].start_s <= question["start_s"] < question["end_s"] <= video[-1].end_s


def test_seed_course_has_the_seed_segments() -> None:
    files = read_course(SEED_COURSE)
    assert len(files.videos) == 10
    gold = read_questions(SEED_COURSE)[0]
    assert gold["video_id"] == "seed-7961"
    assert (gold["start_s"], gold["end_s"]) == (721.0, 888.0)
    (cue,) = parse_transcript(files.transcripts["seed-7961"])
    assert (cue.start_s, cue.end_s) == (721.0, 888.0)
    assert "convolução um por um" in cue.text
    segments = make_segments("seed", files.videos["seed-7961"], [cue])
    assert [(s.start_s, s.end_s) for s in segments] == [(721.0, 888.0)]


def test_demo_course_mixes_formats_and_answers_the_unet_question() -> None:
    files = read_course(DEMO_COURSE)
    assert {p.suffix for p in files.transcripts.values()} == {".srt", ".vtt", ".json"}
    for video_id, path in files.transcripts.items():
        cues = parse_transcript(path)
        assert 6 * 60 <= cues[-1].end_s <= 12 * 60, video_id
        assert all(2.5 <= c.end_s - c.start_s <= 8.5 for c in cues[:-1]), video_id
    unet = next(q for q in read_questions(DEMO_COURSE) if "camada de saída" in q["question"])
    assert unet["start_s"] > 5 * 60
    cues = parse_transcript(files.transcripts[unet["video_id"]])
    said = " ".join(c.text for c in cues if c.end_s > unet["start_s"] and c.start_s < unet["end_s"])
    assert "1x1" in said or "um por um" in said
    assert "softmax" in said.lower()


@pytest.mark.shared
def test_real_courses_read_cleanly() -> None:
    for name, language in (("pstuts", "english"), ("3b1b-ptbr", "portuguese")):
        course_dir = SHARED / name
        if not course_dir.is_dir():
            pytest.skip(f"{course_dir} is absent")
        files = read_course(course_dir)
        assert files.errors == []
        assert files.transcripts.keys() == files.videos.keys()
        sample = parse_transcript(next(iter(files.transcripts.values())))
        assert detect_language(c.text for c in sample) == language
