"""A course directory on disk: ``videos.csv`` plus ``transcripts/<video_id>.<vtt|srt|json>``.

``read_course`` only lists and checks files; parsing transcripts is ``transcripts.py``'s job.
Hard errors in ``videos.csv`` are raised; mismatches between the rows and the transcript
files are collected in ``CourseFiles.problems`` so an ingest can report them all at once.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.errors import InputError
from retrieval.models import Video
from retrieval.text import storable_text
from retrieval.transcripts import TRANSCRIPT_SUFFIXES, read_utf8

REQUIRED_COLUMNS = ("video_id", "title", "url")


@dataclass(frozen=True)
class CourseFiles:
    videos: dict[str, Video]
    transcripts: dict[str, Path]  # video_id -> transcript file
    problems: list[InputError] = field(default_factory=list)

    @property
    def errors(self) -> list[InputError]:
        return [p for p in self.problems if p.severity == "error"]


def read_course(course_dir: Path) -> CourseFiles:
    """Read ``videos.csv`` and pair its rows with the files in ``transcripts/``."""
    csv_path = course_dir / "videos.csv"
    videos, row_lines = read_videos(csv_path)
    transcripts, problems = _find_transcripts(course_dir / "transcripts", videos)
    for video_id in videos:
        if video_id not in transcripts:
            message = (
                f"video {video_id!r} has no transcript "
                f"(add transcripts/{video_id}.vtt, .srt or .json); it will not be searchable"
            )
            problems.append(InputError(csv_path, row_lines[video_id], message, severity="warning"))
    return CourseFiles(videos=videos, transcripts=transcripts, problems=problems)


def read_videos(csv_path: Path) -> tuple[dict[str, Video], dict[str, int]]:
    """The rows of ``videos.csv`` by video_id, and the line each row starts on."""
    reader = csv.DictReader(io.StringIO(read_utf8(csv_path), newline=""))
    columns = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        found = ",".join(columns) or "nothing"
        message = (
            f"missing column(s) {', '.join(missing)}: the header must be "
            f"{','.join(REQUIRED_COLUMNS)} (found {found})"
        )
        raise InputError(csv_path, 1, message)
    videos: dict[str, Video] = {}
    lines: dict[str, int] = {}
    line = reader.line_num
    for raw in reader:
        if None in raw:  # DictReader files the fields beyond the header under None
            message = (
                f"{len(columns) + len(raw[None])} fields but the header has {len(columns)}; "
                "put a title or url that contains a comma in double quotes"
            )
            raise InputError(csv_path, line + 1, message)
        row = {
            (key or "").strip(): storable_text(value or "").strip() for key, value in raw.items()
        }
        video_id = row.pop("video_id")
        if not video_id:
            raise InputError(csv_path, line + 1, "empty video_id")
        if video_id in lines:
            message = f"duplicate video_id {video_id!r} (first on line {lines[video_id]})"
            raise InputError(csv_path, line + 1, message)
        videos[video_id] = Video(video_id, row.pop("title"), row.pop("url"), extra=row)
        lines[video_id] = line + 1
        line = reader.line_num  # a quoted field may span lines: the next row starts after it
    return videos, lines


def _find_transcripts(
    folder: Path, videos: dict[str, Video]
) -> tuple[dict[str, Path], list[InputError]]:
    transcripts: dict[str, Path] = {}
    problems: list[InputError] = []
    if not folder.is_dir():
        problems.append(InputError(folder, None, "no transcripts/ folder next to videos.csv"))
        return transcripts, problems
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.suffix.lower() not in TRANSCRIPT_SUFFIXES:
            message = "not a transcript (.vtt, .srt or .json): ignored"
            problems.append(InputError(path, None, message, severity="warning"))
        elif path.stem not in videos:
            message = f"no row for video_id {path.stem!r} in videos.csv: add one or rename the file"
            problems.append(InputError(path, None, message))
        elif path.stem in transcripts:
            message = f"a second transcript for {path.stem!r} (also {transcripts[path.stem].name})"
            problems.append(InputError(path, None, message))
        else:
            transcripts[path.stem] = path
    return transcripts, problems


# --- language -----------------------------------------------------------------------------

# Disjoint lists: words that are stopwords in both ("as", "do", "no") would only add noise.
_PORTUGUESE_WORDS = (
    "de que não uma um para com os da dos das na nos nas se por mais ao é então também "
    "isso esse essa este esta ele ela eu você vocês mas como muito já aqui né tá"
)
_ENGLISH_WORDS = (
    "the of and to is in that it you for this with on are be have not at your we can "
    "was what there so an by from or they if will just"
)
_PORTUGUESE = frozenset(_PORTUGUESE_WORDS.split())
_ENGLISH = frozenset(_ENGLISH_WORDS.split())
_WORD = re.compile(r"[^\W\d_]+")


def detect_language(texts: Iterable[str]) -> str:
    """ "portuguese" or "english" (LanceDB FTS stemmer names), by counting stopwords.

    Ties, including no text at all, give "english".
    """
    portuguese = english = 0
    for text in texts:
        for word in _WORD.findall(text.lower()):
            portuguese += word in _PORTUGUESE
            english += word in _ENGLISH
    return "portuguese" if portuguese > english else "english"
