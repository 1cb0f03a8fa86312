"""The journal: what the database could not take (it was down, read-only or locked) kept on
local disk until it can: interactions, votes, TA grades and escalations.

``pending.jsonl`` holds one JSON object per line, in the order the entries were made; each
line is appended and fsynced under a lock file, so the processes sharing the data directory
(discord, slack, the worker) may all write to it. ``replay`` writes the entries to the
database in that order and removes them only after the database committed them. Writing is
idempotent (an interaction already stored, a vote event already counted, is recognised), so a
crash between the commit and the removal, or a reply lost after a commit, duplicates nothing;
a replay that fails stops and leaves the rest for the next one. One process replays at a
time. An entry the database refuses for good (``StoreError``: a constraint, a value out of
range) or that cannot be read is moved, verbatim, to ``rejected.jsonl`` and logged with the
reason: set aside, never lost.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.models import Interaction, TAGrade, Vote
from bot.ports import ReplayTarget
from bot.store import rows
from bot.store.records import StoreError

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


@dataclass(frozen=True)
class PendingInteraction:
    interaction: Interaction
    enqueue_judge: bool

    @property
    def interaction_id(self) -> str:
        return self.interaction.id

    def describe(self) -> str:
        return f"interaction {self.interaction.id}"

    def write(self, store: ReplayTarget) -> bool:
        return store.restore_interaction(self.interaction, enqueue_judge=self.enqueue_judge)


@dataclass(frozen=True)
class PendingVote:
    vote: Vote

    @property
    def interaction_id(self) -> str:
        return self.vote.interaction_id

    def describe(self) -> str:
        return f"a vote on interaction {self.vote.interaction_id}"

    def write(self, store: ReplayTarget) -> bool:
        return store.restore_vote(self.vote)


@dataclass(frozen=True)
class PendingGrade:
    grade: TAGrade

    @property
    def interaction_id(self) -> str:
        return self.grade.interaction_id

    def describe(self) -> str:
        return f"a TA grade on interaction {self.grade.interaction_id}"

    def write(self, store: ReplayTarget) -> bool:
        return store.restore_grade(self.grade)


@dataclass(frozen=True)
class PendingEscalation:
    interaction_id: str

    def describe(self) -> str:
        return f"the escalation of interaction {self.interaction_id}"

    def write(self, store: ReplayTarget) -> bool:
        store.mark_escalated(self.interaction_id)  # setting a flag: repeating it is harmless
        return True


Entry = PendingInteraction | PendingVote | PendingGrade | PendingEscalation


class JournalFormatError(ValueError):
    """A journal line this version cannot read; the message says what is wrong with it."""


@dataclass(frozen=True)
class ReplayReport:
    written: int = 0  # entries the database took now
    already: int = 0  # entries it held already (a commit whose removal or reply was lost)
    rejected: int = 0  # entries moved to rejected.jsonl
    left: int = 0  # entries still waiting
    error: str = ""  # why the replay stopped early: the database is still unreachable
    busy: bool = False  # another process (or thread) was replaying


class Journal:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "pending.jsonl"
        self.rejected_path = directory / "rejected.jsonl"
        self._lock_path = directory / ".lock"  # held briefly: one append or one rewrite
        self._replay_lock_path = directory / ".replay.lock"  # held for a whole replay

    def has_entries(self) -> bool:
        """Whether anything waits: one ``stat``, cheap enough to ask before every save."""
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def append(self, entry: Entry) -> None:
        """Add ``entry``, durably (fsynced) before this returns."""
        self.directory.mkdir(parents=True, exist_ok=True)
        line = encode(entry).encode() + b"\n"
        with _locked(self._lock_path):
            created = not self.path.exists()
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                if _ends_mid_line(fd):
                    line = b"\n" + line  # a crash tore the last line: keep ours apart from it
                _write_all(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                _fsync_directory(self.directory)

    def entries(self) -> list[Entry]:
        """The readable entries waiting, oldest first."""
        if not self.has_entries():
            return []
        with _locked(self._lock_path):
            lines = self._lines()
        return [entry for _, entry in _decoded(lines) if not isinstance(entry, JournalFormatError)]

    def interaction(self, interaction_id: str) -> Interaction | None:
        """The interaction as the journal holds it (escalated if an escalation of it waits)."""
        entries = self.entries()
        escalated = any(
            isinstance(e, PendingEscalation) and e.interaction_id == interaction_id for e in entries
        )
        for entry in entries:
            if isinstance(entry, PendingInteraction) and entry.interaction_id == interaction_id:
                found = entry.interaction
                return replace(found, escalated=True) if escalated else found
        return None

    def interactions(self) -> list[Interaction]:
        return [e.interaction for e in self.entries() if isinstance(e, PendingInteraction)]

    def thread_interactions(
        self, platform: str, channel: str, thread: str, since: datetime | None = None
    ) -> list[Interaction]:
        """The journal's share of ``SqlStore.thread_interactions``: same filter, same order."""
        return sorted(
            (
                i
                for i in self.interactions()
                if (i.platform, i.channel, i.thread) == (platform, channel, thread)
                and (since is None or i.created_at >= since)
            ),
            key=lambda i: (i.created_at, i.id),
        )

    def votes_for(self, interaction_id: str) -> list[Vote]:
        return [
            e.vote
            for e in self.entries()
            if isinstance(e, PendingVote) and e.interaction_id == interaction_id
        ]

    def replay(self, store: ReplayTarget) -> ReplayReport:
        """Write the waiting entries to ``store``, oldest first, and remove those it committed
        (or held already). Stops at the first failure other than a refusal, leaving that
        entry and the later ones for the next replay; never raises for a database failure."""
        if not self.has_entries():
            return ReplayReport()
        with _locked(self._replay_lock_path, wait=False) as held:
            if not held:
                return ReplayReport(busy=True)
            with _locked(self._lock_path):
                lines = self._lines()
            report, done, refused = _write_entries(lines, store)
            if refused:
                self._set_aside(refused)
            self._remove(done | set(refused))
        _log_replay(report)
        return report

    def _lines(self) -> list[str]:
        try:
            # A line torn inside a character must not stop the reading of the others.
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        return [line for line in text.splitlines() if line.strip()]

    def _set_aside(self, refused: dict[str, str]) -> None:
        for reason in refused.values():
            log.error("journal: set aside in %s: %s", self.rejected_path, reason)
        fd = os.open(self.rejected_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            _write_all(fd, "".join(line + "\n" for line in refused).encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def _remove(self, lines: set[str]) -> None:
        """Rewrite the journal without ``lines`` (entries appended meanwhile stay): a new file
        fsynced, then renamed over the old one, so a crash leaves one or the other whole."""
        if not lines:
            return
        with _locked(self._lock_path):
            kept = [line for line in self._lines() if line not in lines]
            if not kept:
                self.path.unlink(missing_ok=True)
            else:
                fresh = self.path.with_name(self.path.name + ".new")
                fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                try:
                    _write_all(fd, "".join(line + "\n" for line in kept).encode())
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(fresh, self.path)
            _fsync_directory(self.directory)


def _write_entries(
    lines: list[str], store: ReplayTarget
) -> tuple[ReplayReport, set[str], dict[str, str]]:
    """Write each line's entry in order: the report, the lines done, the lines refused (with
    why)."""
    done: set[str] = set()
    refused: dict[str, str] = {}
    written = already = 0
    error = ""
    for line, entry in _decoded(lines):
        if isinstance(entry, JournalFormatError):
            refused[line] = f"unreadable entry: {entry}"
            continue
        try:
            if entry.write(store):
                written += 1
            else:
                already += 1
        except StoreError as exc:
            refused[line] = f"the database refused {entry.describe()}: {exc}"
            continue
        except Exception as exc:  # unreachable, read-only, locked: try again later
            error = failure_summary(exc)
            break
        done.add(line)
    left = len(lines) - len(done) - len(refused)
    return ReplayReport(written, already, len(refused), left, error), done, refused


def _decoded(lines: Iterable[str]) -> Iterator[tuple[str, Entry | JournalFormatError]]:
    for line in lines:
        try:
            yield line, decode(line)
        except JournalFormatError as exc:
            yield line, exc


def _log_replay(report: ReplayReport) -> None:
    """What was written; a replay that could not finish is reported by its caller."""
    if report.written or report.already:
        log.info(
            "journal: %d entries written to the database (%d were there already), %d left",
            report.written,
            report.already,
            report.left,
        )


def failure_summary(exc: BaseException) -> str:
    """One line for the log: the error's type and the first line of its message."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


# -- the line format ----------------------------------------------------------------------


def encode(entry: Entry) -> str:
    """One journal line (without its newline). Interactions, votes and grades are stored as their
    table rows (``bot.store.rows``), so reading one back is the store's own conversion."""
    body: dict[str, Any]
    if isinstance(entry, PendingInteraction):
        interaction = entry.interaction
        body = {
            "kind": "interaction",
            "enqueue_judge": entry.enqueue_judge,
            "interaction": rows.interaction_row(interaction),
            "segments": rows.segment_rows(interaction),
            "citations": rows.citation_rows(interaction),
        }
    elif isinstance(entry, PendingVote):
        body = {"kind": "vote", "vote": rows.record_row(entry.vote)}
    elif isinstance(entry, PendingGrade):
        body = {"kind": "grade", "grade": rows.record_row(entry.grade)}
    else:
        body = {"kind": "escalation", "interaction_id": entry.interaction_id}
    return json.dumps({"v": FORMAT_VERSION, **body}, default=_iso, ensure_ascii=False)


def decode(line: str) -> Entry:
    """The entry of one journal line; ``JournalFormatError`` says why a line is unreadable."""
    try:
        data = json.loads(line)
        if data.get("v") != FORMAT_VERSION:
            raise JournalFormatError(
                f"format version {data.get('v')!r}; this version reads {FORMAT_VERSION}"
            )
        kind = data["kind"]
        if kind == "interaction":
            row = {**data["interaction"], "created_at": _time(data["interaction"]["created_at"])}
            interaction = rows.to_interaction(row, data["segments"], data["citations"])
            return PendingInteraction(interaction, bool(data["enqueue_judge"]))
        if kind == "vote":
            return PendingVote(rows.to_vote({**data["vote"], "at": _time(data["vote"]["at"])}))
        if kind == "grade":
            return PendingGrade(rows.to_grade({**data["grade"], "at": _time(data["grade"]["at"])}))
        if kind == "escalation":
            return PendingEscalation(str(data["interaction_id"]))
        raise JournalFormatError(f"unknown kind {kind!r}")
    except JournalFormatError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise JournalFormatError(f"{type(exc).__name__}: {exc} in {line[:80]!r}") from exc


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot journal a {type(value).__name__}")


def _time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"time without a time zone: {text!r}")
    return parsed


# -- files --------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(path: Path, *, wait: bool = True) -> Iterator[bool]:
    """An exclusive ``flock`` on ``path``: True when held; False at once, when ``wait`` is
    off and another holds it. A lock per open file, so threads of one process exclude each
    other too, and the kernel releases it if the process dies."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _ends_mid_line(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_directory(directory: Path) -> None:
    """Make a created, renamed or removed file's name durable, not only its content."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
