"""The journal on its own: its line format, its files under crashes and concurrent writers,
and the store's idempotent writes a replay relies on."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.models import Interaction, Vote
from bot.store import JUDGE_JOB, Journal, SqlStore
from bot.store.journal import (
    PendingEscalation,
    PendingInteraction,
    PendingVote,
    decode,
    encode,
)
from tests.store_fixtures import InteractionFactory

AT = datetime(2025, 3, 10, 14, 31, 2, 654321, tzinfo=UTC)


def test_entries_read_back_as_they_were_written(make_interaction: InteractionFactory) -> None:
    interaction = make_interaction(question="Ação? \u00e7 \U0001f914", escalated=True)
    entries = [
        PendingInteraction(interaction, enqueue_judge=True),
        PendingVote(Vote(interaction.id, "u_1", -1, AT, is_ta=True)),
        PendingEscalation(interaction.id),
    ]
    for entry in entries:
        line = encode(entry)
        assert "\n" not in line and json.loads(line)["v"] == 1
        assert decode(line) == entry


def test_the_store_recognises_what_it_holds_already(
    store: SqlStore, make_interaction: InteractionFactory
) -> None:
    interaction = make_interaction()
    vote = Vote(interaction.id, "u_1", 1, AT)

    assert store.restore_interaction(interaction, enqueue_judge=True)
    assert store.restore_vote(vote)
    assert not store.restore_interaction(interaction, enqueue_judge=True)
    assert not store.restore_vote(vote)
    assert store.restore_vote(Vote(interaction.id, "u_1", 0, AT + timedelta(seconds=1)))

    assert store.get_interaction(interaction.id) == interaction
    assert [v.value for v in store.votes_for(interaction.id)] == [1, 0]
    job = store.find_job(JUDGE_JOB, interaction.id)
    assert job is not None and job.attempts == 0


def test_a_save_that_committed_before_its_reply_was_lost_is_not_written_again(
    store: SqlStore, make_interaction: InteractionFactory, tmp_path: Path
) -> None:
    interaction = make_interaction()
    store.save_interaction(interaction)  # committed; the caller saw an error and journaled it
    journal = Journal(tmp_path / "journal")
    journal.append(PendingInteraction(interaction, enqueue_judge=True))

    report = journal.replay(store)

    assert (report.written, report.already, report.left) == (0, 1, 0)
    assert len(store.list_interactions(interaction.course_id)) == 1
    assert not journal.has_entries()


def test_a_failed_replay_leaves_the_journal_as_it_was(
    make_interaction: InteractionFactory, tmp_path: Path
) -> None:
    journal = Journal(tmp_path / "journal")
    for _ in range(3):
        journal.append(PendingInteraction(make_interaction(), enqueue_judge=True))
    before = journal.path.read_bytes()

    report = journal.replay(Unreachable())

    assert (report.written, report.left) == (0, 3)
    assert report.error == "ConnectionRefusedError: connection refused"
    assert journal.path.read_bytes() == before


def test_what_the_database_refuses_or_nobody_can_read_is_set_aside_not_lost(
    sqlite_store: SqlStore, make_interaction: InteractionFactory, tmp_path: Path
) -> None:
    journal = Journal(tmp_path / "journal")
    orphan = PendingVote(Vote("01JNOSUCHINTERACTION000000", "u_1", 1, AT))
    journal.append(orphan)
    with journal.path.open("a") as file:
        file.write('{"v": 99, "kind": "interaction"}\n')
    good = make_interaction()
    journal.append(PendingInteraction(good, enqueue_judge=False))

    report = journal.replay(sqlite_store)

    assert (report.written, report.rejected, report.left) == (1, 2, 0)
    assert sqlite_store.get_interaction(good.id) == good
    set_aside = journal.rejected_path.read_text().splitlines()
    assert set_aside == [encode(orphan), '{"v": 99, "kind": "interaction"}']
    assert not journal.has_entries()


def test_a_line_torn_by_a_crash_does_not_swallow_the_next_entry(
    sqlite_store: SqlStore, make_interaction: InteractionFactory, tmp_path: Path
) -> None:
    journal = Journal(tmp_path / "journal")
    torn = encode(PendingInteraction(make_interaction(), enqueue_judge=True))[:40]
    journal.directory.mkdir()
    journal.path.write_text(torn)  # no newline: the write was cut short
    after = make_interaction()

    journal.append(PendingInteraction(after, enqueue_judge=True))

    assert journal.interaction(after.id) == after
    report = journal.replay(sqlite_store)
    assert (report.written, report.rejected) == (1, 1)
    assert journal.rejected_path.read_text() == torn + "\n"


def test_only_one_replay_at_a_time(make_interaction: InteractionFactory, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal")
    journal.append(PendingInteraction(make_interaction(), enqueue_judge=True))
    other = os.open(journal.directory / ".replay.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(other, fcntl.LOCK_EX)  # another process is replaying
        report = journal.replay(Unreachable())
    finally:
        os.close(other)
    assert report.busy and journal.has_entries()


def test_entries_appended_during_a_replay_are_kept_and_none_is_written_twice(
    sqlite_store: SqlStore, make_interaction: InteractionFactory, tmp_path: Path
) -> None:
    """Writers and replays at once, each with its own file handles as separate processes
    have (``flock`` excludes those within one process too)."""
    interactions = [make_interaction(segments=1) for _ in range(120)]
    writers_done = threading.Event()

    def append(interaction: Interaction) -> None:
        Journal(tmp_path / "journal").append(PendingInteraction(interaction, enqueue_judge=True))

    def replay_until_writers_are_done() -> None:
        while not writers_done.is_set():
            Journal(tmp_path / "journal").replay(sqlite_store)

    with ThreadPoolExecutor(max_workers=10) as pool:
        replays = [pool.submit(replay_until_writers_are_done) for _ in range(2)]
        list(pool.map(append, interactions))
        writers_done.set()
        for replay in replays:
            replay.result()
    Journal(tmp_path / "journal").replay(sqlite_store)

    stored = sqlite_store.list_interactions("mc102")
    assert sorted(i.id for i in stored) == sorted(i.id for i in interactions)
    assert not Journal(tmp_path / "journal").has_entries()
    assert not Journal(tmp_path / "journal").rejected_path.exists()


def test_an_empty_journal_costs_a_stat(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "not-yet")
    assert not journal.has_entries()
    assert journal.replay(Unreachable()).written == 0
    assert not journal.directory.exists()  # nothing is created until something is kept


class Unreachable:
    """A database that cannot be reached."""

    def restore_interaction(self, interaction: Interaction, *, enqueue_judge: bool) -> bool:
        raise ConnectionRefusedError("connection refused")

    def restore_vote(self, vote: Vote) -> bool:
        raise ConnectionRefusedError("connection refused")

    def mark_escalated(self, interaction_id: str) -> bool:
        raise ConnectionRefusedError("connection refused")
