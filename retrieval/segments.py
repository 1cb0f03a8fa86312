"""Cutting a video's cues into overlapping time windows: the segments we embed and cite.

The seed's report shows segments of about 2:45 starting every 2:00 (08:00–10:41, 10:01–12:47,
12:01–14:48); ``SegmentingSettings`` holds the defaults every command uses. A window starts at
a cue, takes every cue that *starts* less than ``window_s`` after it (so it ends with the last
such cue's end, usually a little past ``window_s``), then drops trailing cues while the span
exceeds ``max_s`` (a single cue longer than ``max_s`` is kept whole). The next window starts
at the first cue starting at or after ``start + stride_s``, or earlier, at the first cue the
window left out, so no cue is ever lost. The last window is the one that reaches the video's
last cue; a window wholly inside the previous one (possible only when ``max_s`` trims) is
dropped.

Segment ids are ``<video_id>@<start ms>-<end ms>`` (e.g. ``aula3@721000-888000``): readable
(where in which video), unique in a course (video ids are unique and windows of a video
differ in span), and stable when the same transcript is segmented again with the same
settings. A changed transcript that moves a window gets a new id, so an old id never
names a different passage; ingest re-writes a video's segments whenever its
``content_hash`` changes, which also covers an edit that keeps every time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace

from retrieval.errors import SettingsError
from retrieval.models import Cue, Segment, Video


@dataclass(frozen=True)
class SegmentingSettings:
    # 3:00 windows every 2:30 beat 2:30 every 2:00 in every search mode on pstuts dev
    # (benchmarks/retrieval_quality.py); segments stay at most 3:00 so a citation stays short.
    window_s: float = 180.0
    stride_s: float = 150.0
    max_s: float = 180.0

    def __post_init__(self) -> None:
        for name in ("window_s", "stride_s", "max_s"):
            if not getattr(self, name) > 0:
                raise SettingsError(name, f"must be > 0, got {getattr(self, name)!r}")
        if self.stride_s > self.window_s:
            message = f"{self.stride_s} is longer than window_s {self.window_s}: cues would be lost"
            raise SettingsError("stride_s", message)
        if self.window_s > self.max_s:
            raise SettingsError("max_s", f"{self.max_s} is shorter than window_s {self.window_s}")

    def fingerprint(self) -> str:
        """A stable text form, for ``content_hash``."""
        return f"window_s={self.window_s:g},stride_s={self.stride_s:g},max_s={self.max_s:g}"


def make_segments(
    course_id: str,
    video: Video,
    cues: Sequence[Cue],
    settings: SegmentingSettings = SegmentingSettings(),
) -> list[Segment]:
    """The segments of one video, in time order (see the module docstring for the layout)."""
    ordered = sorted(cues, key=lambda cue: cue.start_s)  # stable: parsers already sort
    segments: list[Segment] = []
    for first, last in window_bounds(ordered, settings):
        window = ordered[first : last + 1]
        start, end = window[0].start_s, max(cue.end_s for cue in window)
        segments.append(
            Segment(
                id=segment_id(video.video_id, start, end),
                course_id=course_id,
                video_id=video.video_id,
                title=video.title,
                url=video.url,
                start_s=start,
                end_s=end,
                text=" ".join(cue.text for cue in window),
            )
        )
    return _unique_ids(segments)


def window_bounds(cues: Sequence[Cue], settings: SegmentingSettings) -> list[tuple[int, int]]:
    """(first, last) cue indexes, inclusive, of each window over time-ordered ``cues``."""
    bounds: list[tuple[int, int]] = []
    first = 0
    while first < len(cues):
        last = _window_end(cues, first, settings)
        if not bounds or last > bounds[-1][1]:  # a window inside the previous one adds nothing
            bounds.append((first, last))
        if last == len(cues) - 1:
            break
        first = min(_stride_start(cues, first, settings.stride_s), last + 1)
    return bounds


def _window_end(cues: Sequence[Cue], first: int, settings: SegmentingSettings) -> int:
    start = cues[first].start_s
    last = first
    while last + 1 < len(cues) and cues[last + 1].start_s < start + settings.window_s:
        last += 1
    while last > first and _span(cues, first, last) > settings.max_s:
        last -= 1
    return last


def _span(cues: Sequence[Cue], first: int, last: int) -> float:
    return max(cue.end_s for cue in cues[first : last + 1]) - cues[first].start_s


def _stride_start(cues: Sequence[Cue], first: int, stride_s: float) -> int:
    target = cues[first].start_s + stride_s
    return next((i for i in range(first + 1, len(cues)) if cues[i].start_s >= target), len(cues))


def segment_id(video_id: str, start_s: float, end_s: float) -> str:
    return f"{video_id}@{round(start_s * 1000)}-{round(end_s * 1000)}"


def _unique_ids(segments: list[Segment]) -> list[Segment]:
    """Windows of zero-length cues can share a span: number the repeats (``#2``)."""
    seen: dict[str, int] = {}
    unique = []
    for segment in segments:
        count = seen.get(segment.id, 0) + 1
        seen[segment.id] = count
        if count > 1:
            segment = replace(segment, id=f"{segment.id}#{count}")
        unique.append(segment)
    return unique


def content_hash(*parts: bytes | str) -> str:
    """sha256 hex of the parts; each is length-prefixed so ("ab", "c") != ("a", "bc")."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()
