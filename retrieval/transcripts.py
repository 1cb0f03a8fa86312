"""Transcript parsers: WebVTT, SRT, YouTube caption JSON and Whisper JSON, all to ``Cue``s.

Every parser returns cues in time order with normalised text. Overlaps (a cue starting
before the previous one ends, as in YouTube's rolling captions) are clipped: the previous
cue ends where the next starts. A cue starting before the previous cue *starts*
("backwards") is an error, as are unparsable times, an end before its start, and a file
with no cues.

Hand-timed captions have small slips, though: PsTuts has cues ending up to ~10 s before
they start and cues starting ~6 s before the previous one. Slips of at most ``MAX_SLIP_S``
are repaired (the end becomes the start; a backwards start is moved up to the previous
start) and reported as warnings; a bigger jump means a broken or wrong file and is an
error. ``strict=True`` turns every slip into an error.

A cue's text is bounded by its time: any stretch of a transcript may hold at most
``MAX_TEXT_BURST`` characters plus ``MAX_CHARS_PER_S`` a second. That is far above any
speech, so real transcripts are never touched, while a broken or hostile file (a one-minute
cue holding a megabyte) is cut with a warning (an error when strict) instead of becoming a
megabyte segment that ingest embeds part by part and every answer citing it sends to Claude
and stores: a video's text, and so its ingest, grows only with its duration.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from retrieval.errors import InputError
from retrieval.models import Cue
from retrieval.text import storable_text

TRANSCRIPT_SUFFIXES = (".vtt", ".srt", ".json")

_TIME = re.compile(r"^(?:(\d+):)?([0-5]?\d):([0-5]\d)(?:[.,](\d{1,3}))?$")
_TIMING_LINE = re.compile(r"^\s*(\S+)\s+-->\s+(\S+)(?:\s+.*)?$")
_TAG = re.compile(r"<[^>]*>")
_SPEAKER_MARK = re.compile(r"(^|\s)>>+\s*")  # ">> " marks a change of speaker in captions
_VTT_SKIPPED_BLOCKS = ("NOTE", "STYLE", "REGION")
# Far below a segment's stride (120 s), so a repaired cue still lands in the right segments.
MAX_SLIP_S = 15.0
# Speech runs at about 170 words, some 1,000 characters, a minute (17 a second): the bound is
# six times that; the burst covers captions that share one instant or lost their end time.
MAX_CHARS_PER_S = 100.0
MAX_TEXT_BURST = 2000


def parse_transcript(
    path: Path, *, strict: bool = False, warnings: list[InputError] | None = None
) -> list[Cue]:
    """Read one transcript file; the format comes from the extension (and, for JSON, its shape).

    Repaired timing slips and cut text are appended to ``warnings`` when given (severity
    "warning").
    """
    suffix = path.suffix.lower()
    if suffix not in TRANSCRIPT_SUFFIXES:
        raise InputError(
            path, None, f"unsupported transcript format {suffix!r}: use .vtt, .srt or .json"
        )
    text = read_utf8(path)
    if not text.strip():
        raise InputError(path, None, "the file is empty")
    builder = _CueBuilder(path, strict, warnings)
    if suffix == ".json":
        _parse_json(builder, text)
    else:
        _parse_timed_text(builder, text, vtt=suffix == ".vtt")
    cues = builder.bounded_cues()
    if not cues:
        raise InputError(path, None, "no cues found (is it really a transcript?)")
    return cues


def read_utf8(path: Path) -> str:
    """The file's text, decoded strictly as UTF-8 (a leading BOM is dropped)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, None, "file not found") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(path, line, "not UTF-8 (re-save it as UTF-8)") from None


def parse_timestamp(value: str) -> float | None:
    """``hh:mm:ss.mmm`` / ``mm:ss,mmm`` (and without millis) to seconds; None if malformed."""
    match = _TIME.match(value.strip())
    if match is None:
        return None
    hours, minutes, seconds, fraction = match.groups()
    millis = int((fraction or "0").ljust(3, "0"))
    whole_seconds = int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
    return (whole_seconds * 1000 + millis) / 1000  # exact to the millisecond, no 4.5600000001


def format_timestamp(seconds: float) -> str:
    """Seconds as ``hh:mm:ss.mmm``, the way error messages show times."""
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def clean_text(raw: str) -> str:
    """Drop markup (``<c>``, ``<v Name>``, inline timestamps), speaker marks, extra spaces and
    what no store can hold (NUL, control characters, lone surrogates)."""
    text = html.unescape(_TAG.sub(" ", raw))
    text = _SPEAKER_MARK.sub(r"\1", text)
    return " ".join(storable_text(text).split())


# --- WebVTT and SRT ---------------------------------------------------------------------


def _blocks(text: str) -> Iterator[tuple[int, list[str]]]:
    """Blank-line separated blocks as (1-based number of the first line, lines)."""
    block: list[str] = []
    first = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            if not block:
                first = number
            block.append(line.rstrip())
        elif block:
            yield first, block
            block = []
    if block:
        yield first, block


def _parse_timed_text(builder: _CueBuilder, text: str, *, vtt: bool) -> None:
    path = builder.path
    for first, lines in _cue_blocks(builder, _blocks(text)):
        if vtt and (lines[0].startswith("WEBVTT") or lines[0].startswith(_VTT_SKIPPED_BLOCKS)):
            continue
        timing = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing is None or timing > 1:
            expected = "00:00:01.000 --> 00:00:04.000" if vtt else "00:00:01,000 --> 00:00:04,000"
            raise InputError(path, first, f"expected a cue: an optional id line then '{expected}'")
        line_number = first + timing
        start, end = _parse_timing_line(path, line_number, lines[timing], vtt=vtt)
        builder.add(start, end, clean_text(" ".join(lines[timing + 1 :])), line=line_number)


def _cue_blocks(
    builder: _CueBuilder, blocks: Iterable[tuple[int, list[str]]]
) -> Iterator[tuple[int, list[str]]]:
    """The blocks, each cut before a later timing line: a hand-edited file that lost the
    blank line between two cues would otherwise read the second cue's number and timing as
    the first one's words, and lose its time. A cue number (SRT) goes with its timing line."""
    for first, lines in blocks:
        timings = [i for i, line in enumerate(lines) if _is_timing(line)]
        starts = [0]
        for timing in timings[1:]:
            start = timing - 1 if lines[timing - 1].strip().isdigit() else timing
            if start > starts[-1]:
                starts.append(start)
                builder.note_repair(
                    "no blank line before this cue", "read as a new cue", first + start
                )
        for begin, end in zip(starts, [*starts[1:], len(lines)], strict=True):
            yield first + begin, lines[begin:end]


def _is_timing(line: str) -> bool:
    match = _TIMING_LINE.match(line)
    return match is not None and all(parse_timestamp(value) is not None for value in match.groups())


def _parse_timing_line(
    path: Path, line_number: int, line: str, *, vtt: bool
) -> tuple[float, float]:
    match = _TIMING_LINE.match(line)
    if match is None:
        raise InputError(path, line_number, f"unparsable timing line {line.strip()!r}")
    times = []
    for value in match.groups():
        seconds = parse_timestamp(value)
        if seconds is None:
            layout = "hh:mm:ss.mmm" if vtt else "hh:mm:ss,mmm"
            raise InputError(path, line_number, f"unparsable time {value!r} (use {layout})")
        times.append(seconds)
    return times[0], times[1]


# --- JSON -------------------------------------------------------------------------------


def _parse_json(builder: _CueBuilder, text: str) -> None:
    path = builder.path
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, exc.lineno, f"invalid JSON: {exc.msg}") from None
    if isinstance(data, list):
        _cues_from_items(builder, data, _youtube_item)
    elif isinstance(data, dict) and isinstance(data.get("segments"), list):
        _cues_from_items(builder, data["segments"], _whisper_item)
    else:
        raise InputError(
            path,
            None,
            "unknown JSON shape: expected a YouTube caption list [{text, start, duration}, ...] "
            'or Whisper output {"segments": [{start, end, text}, ...]}',
        )


_Item = tuple[Any, Any, Any]  # start, end, text as found; checked by the caller


def _youtube_item(item: dict[str, Any]) -> _Item:
    start: Any = item.get("start")
    duration: Any = item.get("duration")
    end = start + duration if _is_number(start) and _is_number(duration) else duration
    return start, end, item.get("text")


def _whisper_item(item: dict[str, Any]) -> _Item:
    return item.get("start"), item.get("end"), item.get("text")


def _cues_from_items(
    builder: _CueBuilder, items: Iterable[Any], read: Callable[[dict[str, Any]], _Item]
) -> None:
    path = builder.path
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InputError(path, None, "expected an object", cue=index)
        start, end, text = read(item)
        for name, value in (("start", start), ("end/duration", end)):
            if not _is_number(value):
                raise InputError(
                    path, None, f"{name} is {value!r}, expected seconds >= 0", cue=index
                )
        if not isinstance(text, str):
            raise InputError(path, None, f"text is {text!r}, not a string", cue=index)
        builder.add(float(start), float(end), clean_text(text), cue=index)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _cut(text: str, size: int) -> str:
    """The whole words of ``text`` that fit in ``size`` characters (none if the first does
    not: a word of thousands of characters is not speech)."""
    if len(text) <= size:
        return text
    words_end = text.rfind(" ", 0, size + 1)
    return text[: max(words_end, 0)]


# --- ordering, clipping and the text bound ---------------------------------------------


class _CueBuilder:
    """Collects cues, checking order, clipping overlaps, repairing small slips and bounding
    the text."""

    def __init__(self, path: Path, strict: bool, warnings: list[InputError] | None) -> None:
        self.path = path
        self.strict = strict
        self.warnings = warnings
        self.cues: list[Cue] = []
        self.places: list[tuple[int | None, int | None]] = []  # (line, cue) of each cue

    def add(
        self,
        start: float,
        end: float,
        text: str,
        *,
        line: int | None = None,
        cue: int | None = None,
    ) -> None:
        if end < start:
            message = f"end {format_timestamp(end)} is before start {format_timestamp(start)}"
            self._slip(start - end, message, "the cue now ends where it starts", line, cue)
            end = start
        if not text:
            return  # an empty cue carries nothing to search; its order does not matter
        if self.cues:
            previous = self.cues[-1]
            if start < previous.start_s:
                message = (
                    f"cue starts at {format_timestamp(start)}, before the previous cue's start "
                    f"{format_timestamp(previous.start_s)}: cues must be in time order"
                )
                self._slip(
                    previous.start_s - start, message, "moved to the previous start", line, cue
                )
                start, end = previous.start_s, max(end, previous.start_s)
            if start < previous.end_s:
                self.cues[-1] = Cue(previous.start_s, start, previous.text)
        self.cues.append(Cue(start, end, text))
        self.places.append((line, cue))

    def bounded_cues(self) -> list[Cue]:
        """The cues, their text cut where a stretch of the transcript holds more than
        ``MAX_TEXT_BURST`` characters plus ``MAX_CHARS_PER_S`` a second.

        An allowance fills with time (at most to the burst while nothing is said) and each
        cue spends its characters (plus the space that joins it to the next): so any run of
        cues, and so any segment, holds at most the burst plus the rate times its span.
        """
        bounded: list[Cue] = []
        cuts: list[tuple[int, int, int]] = []  # (index, characters, kept) of each cut cue
        allowance = float(MAX_TEXT_BURST)
        previous_end = 0.0
        for index, cue in enumerate(self.cues):  # in time order, overlaps clipped
            gap = max(0.0, cue.start_s - previous_end)
            allowance = min(MAX_TEXT_BURST, allowance + MAX_CHARS_PER_S * gap)
            allowance += MAX_CHARS_PER_S * (cue.end_s - cue.start_s)
            previous_end = cue.end_s
            text = cue.text
            if len(text) + 1 > allowance:
                text = _cut(text, math.floor(allowance) - 1)
                cuts.append((index, len(cue.text), len(text)))
            if text:
                allowance -= len(text) + 1
                bounded.append(Cue(cue.start_s, cue.end_s, text))
        if cuts:
            self._report_cuts(cuts)
        return bounded

    def _report_cuts(self, cuts: list[tuple[int, int, int]]) -> None:
        """One note for the file, at its first cut cue: a broken file may have thousands."""
        index, characters, kept = cuts[0]
        cue = self.cues[index]
        message = (
            f"the cue holds {characters:,} characters in {cue.end_s - cue.start_s:.1f} s, far "
            f"more than anyone says (a transcript may hold {MAX_TEXT_BURST:,} characters plus "
            f"{MAX_CHARS_PER_S:g} a second)"
        )
        repair = f"kept its first {kept:,} characters" if kept else "dropped it"
        if len(cuts) > 1:
            repair += f"; {len(cuts) - 1:,} later cue(s) cut as well"
        self._repair(message, repair, *self.places[index])

    def note_repair(self, message: str, repair: str, line: int) -> None:
        self._repair(message, repair, line, None)

    def _slip(
        self, size: float, message: str, repair: str, line: int | None, cue: int | None
    ) -> None:
        """Raise for a slip too big to repair; else repair it (see ``_repair``)."""
        if size > MAX_SLIP_S:
            raise InputError(self.path, line, message, cue=cue)
        self._repair(message, repair, line, cue)

    def _repair(self, message: str, repair: str, line: int | None, cue: int | None) -> None:
        """Note a repair as a warning, or raise the problem as an error when strict."""
        if self.strict:
            raise InputError(self.path, line, message, cue=cue)
        if self.warnings is not None:
            note = f"{message} (repaired: {repair})"
            self.warnings.append(InputError(self.path, line, note, cue=cue, severity="warning"))
