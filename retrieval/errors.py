"""The exceptions retrieval raises; each message names the file, line or field and what to do."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning"]


class RetrievalError(Exception):
    """Base of every error retrieval raises on purpose."""


class InputError(RetrievalError):
    """A course file that cannot be used as it is: names the file and, when known, the line.

    ``cue`` is the 0-based item index for JSON transcripts (which have no useful line).
    ``severity`` is "warning" for problems that do not stop an ingest (a video with no
    transcript); such errors are collected in ``CourseFiles.problems``, not raised.
    """

    def __init__(
        self,
        path: Path,
        line: int | None,
        message: str,
        *,
        cue: int | None = None,
        severity: Severity = "error",
    ) -> None:
        super().__init__(path, line, message)
        self.path = path
        self.line = line
        self.message = message
        self.cue = cue
        self.severity: Severity = severity

    @property
    def where(self) -> str:
        """``file:line`` or ``file: cue N``, the prefix of the message."""
        if self.line is not None:
            return f"{self.path}:{self.line}"
        if self.cue is not None:
            return f"{self.path}: cue {self.cue}"
        return str(self.path)

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{prefix}{self.where}: {self.message}"


class SettingsError(RetrievalError, ValueError):
    """A setting out of range; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(field, message)
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class IndexUnavailableError(RetrievalError):
    """The index cannot be read: its directory is missing or its files are damaged."""

    def __init__(self, uri: str, cause: str) -> None:
        super().__init__(uri, cause)
        self.uri = uri
        self.cause = cause

    def __str__(self) -> str:
        return (
            f"the lecture index at {self.uri} cannot be read ({self.cause}): put the directory "
            "back or rebuild it with `python -m bot ingest --all`; questions fail until then, "
            "and the bot uses the index again as soon as it can be read"
        )


class IndexMismatchError(RetrievalError):
    """The index was built with another embedder than the one asked for now."""

    def __init__(self, built_with: str, asked_with: str, course_id: str = "<course>") -> None:
        super().__init__(built_with, asked_with, course_id)
        self.built_with = built_with
        self.asked_with = asked_with
        self.course_id = course_id

    def __str__(self) -> str:
        return (
            f"the index of course {self.course_id!r} was built with embedder {self.built_with!r} "
            f"but {self.asked_with!r} was asked for: vectors from different models cannot be "
            f"compared. Re-ingest with `python -m retrieval ingest <course_dir> --course "
            f"{self.course_id} --embedder {self.asked_with}` or set EMBEDDER={self.built_with}."
        )


class CourseNotIndexedError(RetrievalError):
    """A search for a course that has never been ingested."""

    def __init__(self, course_id: str) -> None:
        super().__init__(course_id)
        self.course_id = course_id

    def __str__(self) -> str:
        return (
            f"course {self.course_id!r} has no index yet: run "
            f"`python -m retrieval ingest <course_dir> --course {self.course_id}` first."
        )
