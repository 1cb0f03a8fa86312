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

from bot.models import (
    JUDGE_JOB,
    Citation,
    Interaction,
    RetrievedSegment,
    Segment,
    StageTimings,
    Usage,
    Vote,
)
from bot.store import Journal, SqlStore
from bot.store.journal import (
    PendingEscalation,
    PendingInteraction,
    PendingVote,
    decode,
    encode,
)
from tests.fakes.values import interaction as an_interaction
from tests.store_fixtures import InteractionFactory, find_job

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


# A line as written before the columns had one definition: a journal written by an earlier
# version of the bot must still read back after the store's code changes.
EARLIER_LINE = (
    '{"v": 1, "kind": "interaction", "enqueue_judge": true, "interaction": {"id": '
    '"01JOLD0000000000000000000A", "created_at": "2025-03-03T09:00:00+00:00", "platform": '
    '"slack", "course_id": "mc102", "channel": "C1", "thread": "t1", "asker_ref": "u_1", '
    '"question": "O que é recursão?", "answer": "É quando...", "abstained": false, "fallback": '
    'false, "model": "claude", "input_tokens": 10, "output_tokens": 5, "embed_ms": 1.0, '
    '"search_ms": 2.0, "generate_ms": 3.0, "total_ms": 6.0, "error": "", "escalated": true}, '
    '"segments": [{"interaction_id": "01JOLD0000000000000000000A", "rank": 0, "segment_id": '
    '"seg-1", "video_id": "v1", "title": "Aula 1", "url": "https://youtu.be/v1", "start_s": '
    '0.0, "end_s": 30.0, "text": "texto", "score": 0.9, "dense_score": 0.8, "cited": true}], '
    '"citations": [{"interaction_id": "01JOLD0000000000000000000A", "position": 0, '
    '"segment_id": "seg-1", "video_id": "v1", "title": "Aula 1", "start_s": 0.0, "end_s": '
    '30.0, "url": "https://youtu.be/v1?t=0"}]}'
)


def test_a_line_an_earlier_version_wrote_reads_back() -> None:
    segment = Segment("seg-1", "mc102", "v1", "Aula 1", "https://youtu.be/v1", 0.0, 30.0, "texto")
    citation = Citation("seg-1", "v1", "Aula 1", 0.0, 30.0, "https://youtu.be/v1?t=0")
    expected = an_interaction(
        "01JOLD0000000000000000000A",
        datetime(2025, 3, 3, 9, 0, tzinfo=UTC),
        platform="slack",
        course_id="mc102",
        channel="C1",
        thread="t1",
        asker_ref="u_1",
        question="O que é recursão?",
        answer="É quando...",
        model="claude",
        usage=Usage(10, 5),
        timings=StageTimings(1.0, 2.0, 3.0, 6.0),
        retrieved=(RetrievedSegment(0, 0.9, segment, cited=True, dense_score=0.8),),
        citations=(citation,),
        escalated=True,
    )
    assert decode(EARLIER_LINE) == PendingInteraction(expected, enqueue_judge=True)
    # Written again, it gains the columns added since (no flag, no version, no repeat: '').
    earlier = json.loads(EARLIER_LINE)
    earlier["interaction"].update(flags="", version="", repeat_of="")
    assert json.loads(encode(decode(EARLIER_LINE))) == earlier


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
    job = find_job(store, JUDGE_JOB, interaction.id)
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
