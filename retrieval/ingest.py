"""Incremental ingest of a course folder into the segment index.

Each video gets a content hash of everything its rows depend on: the transcript bytes, the
video's row in videos.csv, the segmenting settings, the embedder and the language. A video
whose hash is already in the index costs nothing (no parsing beyond the language check, no
embedding); a changed one is replaced atomically; one that left the folder is removed; one
whose transcript cannot be read is skipped and reported while the rest goes on — and its
previously indexed version, if any, stays searchable (the report says so).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np
from tqdm import tqdm

from retrieval.courses import detect_language, read_course
from retrieval.embed import TEXT_CONTEXT, Embedder
from retrieval.errors import InputError, SettingsError
from retrieval.index import STEMMERS, SegmentIndex
from retrieval.models import Cue, Segment, Video
from retrieval.segments import SegmentingSettings, content_hash, make_segments
from retrieval.transcripts import parse_transcript

# Bump when what a row holds changes for the same inputs, so every video is re-ingested.
ROW_FORMAT = "4"
# Parts per embedding call (whole videos, at least one): enough for the engine to keep every
# core busy with windows of a similar length, few enough for the progress bar to move.
EMBED_BATCH = 256
PART_MIN_WORDS = 4  # pstuts: joining sentences up to 8 or 16 words lowered MRR@10
PART_MAX_WORDS = 60
PART_MAX_GAP_S = 5.0
KEPT_NOTE = "kept the version indexed earlier"


@dataclass(frozen=True)
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[InputError] = field(default_factory=list)  # files not ingested, and why
    warnings: list[InputError] = field(default_factory=list)  # e.g. a video with no transcript
    segments: int = 0  # the course's segments in the index after the ingest
    embedded: int = 0  # parts (about a sentence each) embedded by this ingest
    language: str = ""
    kept: list[str] = field(default_factory=list)  # skipped videos still indexed as before

    def summary(self) -> str:
        """The counts, in one line."""
        counts = [
            f"{len(self.added)} new",
            f"{len(self.updated)} changed",
            f"{len(self.unchanged)} unchanged",
            f"{len(self.removed)} removed",
        ]
        if self.skipped:
            kept = f" ({len(self.kept)} {KEPT_NOTE})" if self.kept else ""
            counts.append(f"{len(self.skipped)} skipped{kept}")
        if self.warnings:
            counts.append(f"{len(self.warnings)} warning(s)")
        return (
            f"{self.segments} segments in the index, {self.embedded} parts embedded now; "
            + ", ".join(counts)
        )

    def problem_lines(self, warnings: bool = True) -> list[str]:
        """One line per problem, ``file:line: message``: the skipped files, then the
        warnings (e.g. repaired timings) unless ``warnings`` is False."""
        lines = [f"{p.where}: {p.message}" for p in self.skipped]
        if warnings:
            lines += [f"{p.where}: warning: {p.message}" for p in self.warnings]
        return lines


def print_ingest_report(course_id: str, report: IngestReport, *, quiet: bool, out: TextIO) -> None:
    """What both ingest commands print: the summary line on ``out`` (not when quiet), then
    each problem on a line of its own on stderr (only the skipped files when quiet)."""
    if not quiet:
        print(f"course {course_id} ({report.language}): {report.summary()}", file=out, flush=True)
    for line in report.problem_lines(warnings=not quiet):
        print(line, file=sys.stderr)


@dataclass(frozen=True)
class _Parsed:
    video: Video
    cues: list[Cue]
    video_hash: str


def ingest_course(
    course_dir: Path,
    course_id: str,
    index: SegmentIndex,
    embedder: Embedder,
    settings: SegmentingSettings,
    language: str | None = None,
    progress: bool = True,
) -> IngestReport:
    """Bring the course's rows in the index in line with ``course_dir``.

    Raises InputError when videos.csv itself is unusable (nothing is changed then).
    """
    files = read_course(Path(course_dir))
    problems = list(files.problems)
    cues_by_video: dict[str, list[Cue]] = {}
    for video_id, path in files.transcripts.items():
        try:
            cues_by_video[video_id] = parse_transcript(path, warnings=problems)
        except InputError as error:
            problems.append(error)
    language = choose_language(language, cues_by_video.values())
    parsed = [
        _Parsed(
            video=files.videos[video_id],
            cues=cues,
            video_hash=video_hash(
                files.transcripts[video_id].read_bytes(),
                files.videos[video_id],
                settings,
                embedder.name,
                language,
            ),
        )
        for video_id, cues in cues_by_video.items()
    ]
    existing = index.video_hashes(course_id)
    kept = sorted(v for v in files.transcripts if v not in cues_by_video and v in existing)
    changed = [p for p in parsed if existing.get(p.video.video_id) != p.video_hash]
    changed_ids = {p.video.video_id for p in changed}
    removed = sorted(set(existing) - set(files.transcripts))

    embedded = _write_changed(course_id, changed, index, embedder, settings, language, progress)
    for video_id in removed:
        index.delete_video(course_id, video_id)
    if changed or removed:
        index.optimize()
    else:
        index.add_missing_indices()  # an unchanged course still gains a newer text index
    return IngestReport(
        added=sorted(changed_ids - set(existing)),
        updated=sorted(changed_ids & set(existing)),
        unchanged=sorted(p.video.video_id for p in parsed if p.video.video_id not in changed_ids),
        removed=removed,
        skipped=_note_kept(
            [p for p in problems if p.severity == "error"], {files.transcripts[v] for v in kept}
        ),
        warnings=[p for p in problems if p.severity == "warning"],
        segments=index.count(course_id),
        embedded=embedded,
        language=language,
        kept=kept,
    )


def _note_kept(errors: list[InputError], kept_files: set[Path]) -> list[InputError]:
    """Say, on the line of each unreadable transcript of an indexed video, that students
    still search the earlier version: fixing the file is what brings the new one in."""
    return [
        InputError(e.path, e.line, f"{e.message} ({KEPT_NOTE})", cue=e.cue)
        if e.path in kept_files
        else e
        for e in errors
    ]


def choose_language(asked: str | None, cue_lists: Iterable[Sequence[Cue]]) -> str:
    """The asked language, or the one detected from all the course's cues."""
    if asked is None:
        return detect_language(cue.text for cues in cue_lists for cue in cues)
    language = asked.strip().lower()
    if language not in STEMMERS:
        raise SettingsError("language", f"{asked!r} is not one of {', '.join(sorted(STEMMERS))}")
    return language


def video_hash(
    transcript: bytes,
    video: Video,
    settings: SegmentingSettings,
    embedder_name: str,
    language: str,
) -> str:
    """Everything a video's rows depend on; equal hashes mean nothing to redo."""
    return content_hash(
        ROW_FORMAT,
        transcript,
        video.video_id,
        video.title,
        video.url,
        settings.fingerprint(),
        f"parts:{PART_MIN_WORDS},{PART_MAX_WORDS},{PART_MAX_GAP_S:g},{TEXT_CONTEXT}",
        embedder_name,
        language,
    )


def make_parts(
    cues: Sequence[Cue], min_words: int = PART_MIN_WORDS, max_words: int = PART_MAX_WORDS
) -> list[Cue]:
    """About-a-sentence pieces of a transcript, the units that get a vector.

    Cues longer than ``max_words`` (a Whisper paragraph) are cut into even pieces with
    times interpolated by word position; consecutive short cues (rolling captions) are
    joined until a piece has ``min_words``, but never across a pause of more than
    ``PART_MAX_GAP_S``.
    """
    parts: list[Cue] = []
    pending: list[Cue] = []
    for piece in (piece for cue in cues for piece in _split(cue, max_words)):
        if pending and piece.start_s - pending[-1].end_s > PART_MAX_GAP_S:
            parts.append(_join(pending))  # a pause: the talk has moved on
            pending = []
        pending.append(piece)
        if sum(len(p.text.split()) for p in pending) >= min_words:
            parts.append(_join(pending))
            pending = []
    if pending:
        parts.append(_join(pending))
    return parts


def parts_of(segment: Segment, parts: Sequence[Cue]) -> list[int]:
    """Indexes of the parts whose middle lies in the segment (else those overlapping it)."""
    inside = [
        i
        for i, p in enumerate(parts)
        if segment.start_s <= (p.start_s + p.end_s) / 2 <= segment.end_s
    ]
    if inside:
        return inside
    return [
        i for i, p in enumerate(parts) if p.start_s < segment.end_s and p.end_s > segment.start_s
    ]


def _split(cue: Cue, max_words: int) -> list[Cue]:
    words = cue.text.split()
    if len(words) <= max_words:
        return [cue] if words else []
    pieces = math.ceil(len(words) / max_words)
    size = math.ceil(len(words) / pieces)
    duration = cue.end_s - cue.start_s
    out = []
    for first in range(0, len(words), size):
        last = min(first + size, len(words))
        out.append(
            Cue(
                start_s=cue.start_s + duration * first / len(words),
                end_s=cue.start_s + duration * last / len(words),
                text=" ".join(words[first:last]),
            )
        )
    return out


def _join(cues: Sequence[Cue]) -> Cue:
    return Cue(cues[0].start_s, cues[-1].end_s, " ".join(c.text for c in cues))


@dataclass(frozen=True)
class _Plan:
    item: _Parsed
    segments: list[Segment]
    parts: list[Cue]  # what gets a vector: the parts, then segments with no part embedded whole
    documents: list[list[str]]  # the texts of ``parts``, as the embedder reads them


def _plan(course_id: str, item: _Parsed, settings: SegmentingSettings) -> _Plan:
    segments = make_segments(course_id, item.video, item.cues, settings)
    parts = make_parts(item.cues)
    # A segment with no part of its own (only empty cues) is embedded whole, alone.
    wholes = [Cue(s.start_s, s.end_s, s.text) for s in segments if not parts_of(s, parts)]
    documents = ([[p.text for p in parts]] if parts else []) + [[w.text] for w in wholes]
    return _Plan(item, segments, parts + wholes, documents)


def _write_changed(
    course_id: str,
    changed: Sequence[_Parsed],
    index: SegmentIndex,
    embedder: Embedder,
    settings: SegmentingSettings,
    language: str,
    progress: bool,
) -> int:
    """Segment, embed and write each changed video; the number of parts embedded.

    A group's videos are written on a thread of their own while the next group is
    embedded: the embedder keeps every core busy, and the writes (serial, in video order)
    would otherwise leave the cores idle between groups."""
    plans = [_plan(course_id, item, settings) for item in changed]
    total = sum(len(plan.parts) for plan in plans)
    shown = progress and total > 0  # no empty bar when nothing changed
    writes: list[Future[None]] = []
    with (
        tqdm(total=total, disable=not shown, unit="part", desc=f"embedding {course_id}") as bar,
        ThreadPoolExecutor(1, thread_name_prefix="ingest-write") as writer,
    ):
        for group in _embedding_calls(plans):
            _raise_failed_write(writes)  # stop embedding once a write has failed
            vectors = iter(embedder.embed_parts([d for plan in group for d in plan.documents]))
            for plan in group:
                rows = [np.zeros((0, embedder.dim), np.float32)]
                rows += [next(vectors) for _ in plan.documents]
                part_vectors = np.concatenate(rows)
                writes.append(
                    writer.submit(
                        _write_video, course_id, plan, part_vectors, index, embedder, language
                    )
                )
            bar.update(sum(len(plan.parts) for plan in group))
        for write in writes:
            write.result()
    return total


def _raise_failed_write(writes: Sequence[Future[None]]) -> None:
    for write in writes:
        if write.done():
            write.result()


def _embedding_calls(plans: list[_Plan]) -> list[list[_Plan]]:
    """Consecutive videos in groups of about EMBED_BATCH parts (a longer video alone)."""
    groups: list[list[_Plan]] = []
    size = EMBED_BATCH
    for plan in plans:
        if size + len(plan.parts) > EMBED_BATCH:
            groups.append([])
            size = 0
        groups[-1].append(plan)
        size += len(plan.parts)
    return groups


def _write_video(
    course_id: str,
    plan: _Plan,
    part_vectors: np.ndarray,
    index: SegmentIndex,
    embedder: Embedder,
    language: str,
) -> None:
    members = [parts_of(segment, plan.parts) for segment in plan.segments]
    index.replace_video(
        course_id,
        plan.item.video.video_id,
        plan.item.video_hash,
        plan.segments,
        [part_vectors[ids] for ids in members],
        embedder.name,
        language,
        part_texts=[[plan.parts[i].text for i in ids] for ids in members],
    )
