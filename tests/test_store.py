"""SqlStore on SQLite and PostgreSQL: the interaction log, votes and judgements."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from bot.models import CONTEXT_RELEVANCE, JUDGE_JOB, Interaction, Judgement, Vote
from bot.store import SqlStore, StoreError, current_votes
from bot.store.schema import citations, interaction_segments, interactions
from tests.store_fixtures import find_job, judgement_for

T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
InteractionFactory = Callable[..., Interaction]


def count_rows(store: SqlStore, table: sa.Table) -> int:
    with store.db.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_full_interaction_round_trips(
    store: SqlStore, make_interaction: InteractionFactory
) -> None:
    brasilia = timezone(timedelta(hours=-3))
    original = make_interaction(created_at=datetime(2025, 3, 10, 11, 30, 15, 123456, brasilia))

    store.save_interaction(original)
    loaded = store.get_interaction(original.id)

    assert loaded == original
    assert loaded is not None
    assert loaded.created_at.tzinfo == UTC and loaded.created_at.hour == 14
    assert loaded.retrieved[2].dense_score is None  # a missing dense score stays missing
    assert loaded.citations[0].url.endswith("?t=0")


def test_missing_interaction_is_none(store: SqlStore) -> None:
    assert store.get_interaction("01JNOTHERE000000000000000") is None


def test_saving_queues_a_judge_job_unless_told_not_to(
    store: SqlStore, make_interaction: InteractionFactory
) -> None:
    judged, unjudged = make_interaction(), make_interaction()
    store.save_interaction(judged)
    store.save_interaction(unjudged, enqueue_judge=False)

    job = find_job(store, JUDGE_JOB, judged.id)
    assert job is not None and job.status == "pending" and job.attempts == 0
    assert find_job(store, JUDGE_JOB, unjudged.id) is None


def test_a_failing_row_midway_leaves_nothing(
    store: SqlStore, make_interaction: InteractionFactory
) -> None:
    good = make_interaction()
    # Two retrieved segments with the same rank: the second segment row breaks the key,
    # after the interaction row and the first segment row were written.
    bad = make_interaction(segments=2)
    bad = replace(bad, retrieved=(bad.retrieved[0], replace(bad.retrieved[1], rank=0)))
    store.save_interaction(good)

    with pytest.raises(StoreError, match=bad.id):
        store.save_interaction(bad)

    assert store.get_interaction(bad.id) is None
    assert find_job(store, JUDGE_JOB, bad.id) is None
    assert count_rows(store, interactions) == 1
    assert count_rows(store, interaction_segments) == len(good.retrieved)
    assert count_rows(store, citations) == len(good.citations)


def test_saving_an_existing_id_again_is_refused_and_keeps_the_first(
    store: SqlStore, make_interaction: InteractionFactory
) -> None:
    first = make_interaction()
    store.save_interaction(first)

    with pytest.raises(StoreError, match="not saved"):
        store.save_interaction(replace(first, answer="something else"))

    assert store.get_interaction(first.id) == first


def test_interactions_are_listed_by_course_in_time_order_within_a_half_open_window(
    store: SqlStore, make_interaction: InteractionFactory
) -> None:
    times = [T0 + timedelta(days=d) for d in (2, 0, 1)]
    saved = {t: make_interaction(created_at=t) for t in times}
    for interaction in saved.values():
        store.save_interaction(interaction)
    store.save_interaction(make_interaction(course_id="other", created_at=T0))
    day = timedelta(days=1)

    listed = store.list_interactions("mc102")
    window = store.list_interactions("mc102", T0 + day, T0 + 2 * day)

    assert listed == [saved[T0], saved[T0 + day], saved[T0 + 2 * day]]
    assert [i.created_at for i in store.list_interactions("mc102", since=T0 + day)] == [
        T0 + day,
        T0 + 2 * day,
    ]
    assert [i.created_at for i in store.list_interactions("mc102", until=T0 + day)] == [T0]
    assert window == [saved[T0 + day]]
    assert store.list_interactions("nobody") == []


def test_a_threads_interactions_come_back_oldest_first(
    store: SqlStore, make_interaction: InteractionFactory
) -> None:
    later = make_interaction(thread="t-1", created_at=T0 + timedelta(minutes=5))
    earlier = make_interaction(thread="t-1", created_at=T0)
    for other in (
        make_interaction(thread="t-2"),
        make_interaction(thread="t-1", channel="elsewhere"),
        make_interaction(thread="t-1", platform="slack"),
    ):
        store.save_interaction(other)
    store.save_interaction(later)
    store.save_interaction(earlier)

    assert store.thread_interactions("discord", "duvidas", "t-1") == [earlier, later]
    assert store.thread_interactions("discord", "duvidas", "t-9") == []


def test_escalation_is_recorded(store: SqlStore, make_interaction: InteractionFactory) -> None:
    interaction = make_interaction()
    store.save_interaction(interaction)

    assert store.mark_escalated(interaction.id) is True  # this call escalated it
    assert store.mark_escalated(interaction.id) is False  # the TAs were called already

    loaded = store.get_interaction(interaction.id)
    assert loaded is not None and loaded.escalated
    with pytest.raises(StoreError, match="no such interaction"):
        store.mark_escalated("01JNOTHERE000000000000000")


def test_every_vote_event_is_kept_in_order(
    store: SqlStore, make_interaction: InteractionFactory
) -> None:
    interaction, quiet = make_interaction(), make_interaction()
    store.save_interaction(interaction)
    store.save_interaction(quiet)
    at = [T0 + timedelta(minutes=m) for m in range(4)]
    events = [
        Vote(interaction.id, "ana", 1, at[0]),
        Vote(interaction.id, "ta_bia", 1, at[1], is_ta=True),
        Vote(interaction.id, "ana", 0, at[2]),
        Vote(interaction.id, "ana", -1, at[3]),
    ]
    for event in reversed(events):  # stored order must not matter, time does
        store.save_vote(event)

    history = store.votes_for(interaction.id)
    many = store.votes_for_many([interaction.id, quiet.id])

    assert history == events
    assert many == {interaction.id: events, quiet.id: []}
    standing = current_votes(history)
    assert {user: vote.value for user, vote in standing.items()} == {"ana": -1, "ta_bia": 1}
    assert standing["ta_bia"].is_ta


def test_votes_must_name_an_interaction_and_a_valid_value(
    store: SqlStore, make_interaction: InteractionFactory
) -> None:
    interaction = make_interaction()
    store.save_interaction(interaction)

    with pytest.raises(StoreError, match="01JNOTHERE"):
        store.save_vote(Vote("01JNOTHERE000000000000000", "ana", 1, T0))
    with pytest.raises(StoreError, match=interaction.id):
        store.save_vote(Vote(interaction.id, "ana", 2, T0))  # type: ignore[arg-type]
    assert store.votes_for(interaction.id) == []


def test_a_retraction_removes_only_that_users_vote() -> None:
    history = [Vote("i", "ana", 1, T0), Vote("i", "bia", -1, T0), Vote("i", "ana", 0, T0)]

    assert current_votes(history) == {"bia": history[1]}


def test_latest_answer_relevance_wins_and_failures_never_count_as_scores(
    store: SqlStore, make_interaction: InteractionFactory
) -> None:
    interaction = make_interaction()
    store.save_interaction(interaction)
    first = Judgement(interaction.id, 1, "Relevant?", "Partly.", "judge-a")
    second = Judgement(interaction.id, 3, "Relevant?", "Fully.", "judge-b")

    assert judgement_for(store, interaction.id) is None
    store.save_judgement(first, at=T0)
    store.save_judgement(second, at=T0 + timedelta(minutes=1))
    store.save_judge_failure(
        interaction.id, "API overloaded", model="judge-c", at=T0 + timedelta(minutes=2)
    )

    assert judgement_for(store, interaction.id) == second
    records = store.judgements_for(interaction.id)
    assert [(r.status, r.score, r.error) for r in records] == [
        ("ok", 1.0, ""),
        ("ok", 3.0, ""),
        ("failed", None, "API overloaded"),
    ]
    assert records[2].model == "judge-c" and records[2].created_at == T0 + timedelta(minutes=2)


def test_other_judgement_kinds_are_kept_per_target(
    store: SqlStore, make_interaction: InteractionFactory
) -> None:
    interaction, other = make_interaction(), make_interaction()
    store.save_interaction(interaction)
    store.save_interaction(other)
    for hit in interaction.retrieved:
        relevance = Judgement(interaction.id, hit.rank, "Context relevant?", hit.segment.id)
        store.save_judgement(relevance, kind=CONTEXT_RELEVANCE, target=hit.segment.id)
    store.save_judge_failure(other.id, "unparseable output", kind=CONTEXT_RELEVANCE, target="s")

    second = interaction.retrieved[1].segment.id
    found = judgement_for(store, interaction.id, kind=CONTEXT_RELEVANCE, target=second)
    many = store.judgements_for_many([interaction.id, other.id, "01JNOTHERE000000000000000"])

    assert found is not None and found.score == 1 and found.evidence == second
    assert judgement_for(store, interaction.id) is None  # no answer relevance yet
    assert [r.target for r in many[interaction.id]] == [h.segment.id for h in interaction.retrieved]
    assert [r.status for r in many[other.id]] == ["failed"]
    assert many["01JNOTHERE000000000000000"] == []


def test_a_judgement_for_an_unknown_interaction_is_refused(store: SqlStore) -> None:
    with pytest.raises(StoreError, match="judgement on interaction 01JNOTHERE"):
        store.save_judgement(Judgement("01JNOTHERE000000000000000", 2, "c", "e"))


def test_naive_datetimes_are_refused_with_a_hint(
    store: SqlStore, make_interaction: InteractionFactory
) -> None:
    naive = make_interaction(created_at=datetime(2025, 3, 10, 12, 0))

    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        store.save_interaction(naive)


DIRTY = "a\x00b\ud800c\x1bd\r\ne"  # NUL, a lone surrogate, ESC and a Windows line break
CLEAN = "abcd\ne"


def test_text_no_database_can_hold_is_cleaned_in_every_row_written(
    store: SqlStore, make_interaction: InteractionFactory
) -> None:
    interaction = make_interaction(question=DIRTY, answer=DIRTY, error=DIRTY)
    hit = interaction.retrieved[0]
    dirty_hit = replace(hit, segment=replace(hit.segment, title=DIRTY, text=DIRTY))
    interaction = replace(interaction, retrieved=(dirty_hit, *interaction.retrieved[1:]))

    store.save_interaction(interaction)
    store.save_judgement(Judgement(interaction.id, 2, DIRTY, DIRTY, "judge"), at=T0)
    store.save_judge_failure(interaction.id, DIRTY, at=T0 + timedelta(minutes=1))
    [job] = store.jobs.claim_jobs(JUDGE_JOB, "w1", limit=1, lease_s=60)
    assert store.jobs.fail_job(job.id, "w1", DIRTY)

    loaded = store.get_interaction(interaction.id)
    assert loaded is not None
    assert (loaded.question, loaded.answer, loaded.error) == (CLEAN, CLEAN, CLEAN)
    assert (loaded.retrieved[0].segment.title, loaded.retrieved[0].segment.text) == (CLEAN, CLEAN)
    judged, failed = store.judgements_for(interaction.id)
    assert (judged.criteria, judged.evidence, failed.error) == (CLEAN, CLEAN, CLEAN)
    found = find_job(store, JUDGE_JOB, interaction.id)
    assert found is not None and found.last_error == CLEAN
