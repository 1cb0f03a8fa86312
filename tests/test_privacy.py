"""Student privacy: no raw platform id is stored (mentions, DM channels), a student can be
forgotten everywhere (database on SQLite and PostgreSQL, journal, ``python -m bot forget``),
and interactions past RETENTION_DAYS are deleted by the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.config import Settings
from bot.models import JUDGE_JOB, Erased, Judgement, Question, Vote
from bot.pseudonym import pseudonymise
from bot.scheduler import RETENTION_JOB_ID, build_scheduler, forget_old_interactions
from bot.store import Journal, SqlStore, open_store
from bot.store.journal import PendingEscalation, PendingInteraction, PendingVote, encode
from tests.fakes.core import FakeAnswerModel, make_service
from tests.store_fixtures import InteractionFactory, find_job

STUDENT, CLASSMATE = "u_student", "u_classmate"
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def vote(interaction_id: str, user_ref: str, value: int = 1) -> Vote:
    return Vote(interaction_id, user_ref, value, NOW)  # type: ignore[arg-type]


def seed(store: SqlStore, make_interaction: InteractionFactory) -> dict[str, str]:
    """The student's questions in two courses and a classmate's, each voted on by both, one
    judged, all with their judge job."""
    made = {
        "mine_ml": make_interaction(course_id="ml", asker_ref=STUDENT),
        "mine_bio": make_interaction(course_id="bio", asker_ref=STUDENT),
        "theirs_ml": make_interaction(course_id="ml", asker_ref=CLASSMATE),
        "theirs_bio": make_interaction(course_id="bio", asker_ref=CLASSMATE),
    }
    for interaction in made.values():
        store.save_interaction(interaction)
        store.save_vote(vote(interaction.id, STUDENT))
        store.save_vote(vote(interaction.id, CLASSMATE, -1))
    store.save_judgement(Judgement(made["mine_ml"].id, 3, "c", "e"))
    return {name: interaction.id for name, interaction in made.items()}


def test_forgetting_a_student_in_one_course_deletes_their_rows_and_votes_there_only(
    store: SqlStore, make_interaction: InteractionFactory, tmp_path: Path
) -> None:
    ids = seed(store, make_interaction)
    journal = Journal(tmp_path / "journal")

    erased = store.forget(journal, STUDENT, "ml")

    # mine_ml with its 2 votes, judgement and job; the student's vote on theirs_ml.
    assert erased == Erased(interactions=1, votes=3, judgements=1, jobs=1)
    assert store.get_interaction(ids["mine_ml"]) is None
    assert find_job(store, JUDGE_JOB, ids["mine_ml"]) is None
    assert [v.user_ref for v in store.votes_for(ids["theirs_ml"])] == [CLASSMATE]
    assert store.get_interaction(ids["mine_bio"]) is not None  # another course: kept
    assert len(store.votes_for(ids["theirs_bio"])) == 2
    assert store.forget(journal, STUDENT, "ml") == Erased()  # idempotent


def test_forgetting_a_student_everywhere(
    store: SqlStore, make_interaction: InteractionFactory, tmp_path: Path
) -> None:
    ids = seed(store, make_interaction)
    erased = store.forget(Journal(tmp_path / "journal"), STUDENT)

    assert erased == Erased(interactions=2, votes=6, judgements=1, jobs=2)
    assert {i.asker_ref for c in ("ml", "bio") for i in store.list_interactions(c)} == {CLASSMATE}
    for name in ("theirs_ml", "theirs_bio"):
        assert [v.user_ref for v in store.votes_for(ids[name])] == [CLASSMATE]


def test_forgetting_reaches_the_journal_waiting_and_set_aside(
    sqlite_store: SqlStore, make_interaction: InteractionFactory, tmp_path: Path
) -> None:
    journal = Journal(tmp_path / "journal")
    mine = make_interaction(course_id="ml", asker_ref=STUDENT)
    theirs = make_interaction(course_id="ml", asker_ref=CLASSMATE)
    elsewhere = make_interaction(course_id="bio", asker_ref=CLASSMATE)
    for entry in (
        PendingInteraction(mine, enqueue_judge=True),
        PendingInteraction(theirs, enqueue_judge=True),
        PendingInteraction(elsewhere, enqueue_judge=True),
        PendingVote(vote(mine.id, CLASSMATE)),  # on their question: goes with it
        PendingEscalation(mine.id),
        PendingVote(vote(theirs.id, STUDENT)),  # theirs, in the course: goes
        PendingVote(vote(elsewhere.id, STUDENT)),  # theirs, in another course: stays
    ):
        journal.append(entry)
    set_aside = PendingInteraction(make_interaction(course_id="ml", asker_ref=STUDENT), True)
    journal.rejected_path.write_text(encode(set_aside) + "\n", encoding="utf-8")

    erased = sqlite_store.forget(journal, STUDENT, "ml")

    assert erased.journal_entries == 5
    left = journal.entries()
    assert [type(e).__name__ for e in left] == ["PendingInteraction"] * 2 + ["PendingVote"]
    assert {e.interaction_id for e in left} == {theirs.id, elsewhere.id}
    assert not journal.rejected_path.exists()
    assert sqlite_store.forget(journal, STUDENT, "ml") == Erased()


async def test_retention_deletes_what_is_older_than_the_period(
    store: SqlStore, make_interaction: InteractionFactory
) -> None:
    old = make_interaction(course_id="ml", created_at=NOW - timedelta(days=31))
    recent = make_interaction(course_id="ml", created_at=NOW - timedelta(days=29))
    for interaction in (old, recent):
        store.save_interaction(interaction)
        store.save_vote(vote(interaction.id, STUDENT))
    store.save_judgement(Judgement(old.id, 2, "c", "e"))

    erased = await forget_old_interactions(store, 30, now=NOW)

    assert erased == Erased(interactions=1, votes=1, judgements=1, jobs=1)
    assert [i.id for i in store.list_interactions("ml")] == [recent.id]
    assert await forget_old_interactions(store, 30, now=NOW) == Erased()


def test_the_clock_runs_the_retention_clean_up_only_when_a_period_is_set(
    sqlite_store: SqlStore,
) -> None:
    kept = build_scheduler(
        settings=Settings(), store=sqlite_store, courses=(), retention=sqlite_store
    )
    assert kept.get_job(RETENTION_JOB_ID) is None  # default: keep everything
    settings = Settings(retention_days=180)
    cleaned = build_scheduler(
        settings=settings, store=sqlite_store, courses=(), retention=sqlite_store
    )
    job = cleaned.get_job(RETENTION_JOB_ID)
    assert job is not None and job.args == (sqlite_store, 180)


def test_forget_command_prints_what_it_deleted_and_is_idempotent(
    in_tmp_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make_interaction: InteractionFactory,
) -> None:
    url = f"sqlite:///{in_tmp_dir / 'bot.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("PSEUDONYM_SECRET", "s3cret")
    ref = pseudonymise("s3cret", "slack", "U0STUDENT")
    store = open_store(url)
    store.save_interaction(make_interaction(course_id="demo", asker_ref=ref))
    store.close()

    assert main(["forget", "--platform", "slack", "--user", "U0STUDENT"]) == 0
    assert "apagados: 1 pergunta(s) com resposta, 0 voto(s), 0 avaliação(ões), 1 tarefa(s)" in (
        capsys.readouterr().out
    )
    assert main(["forget", "--platform", "slack", "--user", "U0STUDENT", "--course", "demo"]) == 0
    assert "apagados: 0 pergunta(s) com resposta, 0 voto(s)" in capsys.readouterr().out
    assert main(["forget", "--platform", "slack", "--user", "U0STUDENT", "--course", "dmeo"]) == 2
    assert "dmeo" in capsys.readouterr().err


async def test_mentioned_users_are_pseudonyms_before_the_model_and_the_store(
    tmp_path: Path,
) -> None:
    model = FakeAnswerModel()
    service = make_service(tmp_path, answer_model=model)
    text = "O <@5003> e o <@!123> disseram, como <@U999|joana> e <@U42>, que a U-Net tem encoder"
    answer = await service.ask(Question("ml", text, platform="slack", asker="U1"))

    stored = service.store.get_interaction(answer.interaction_id)
    assert stored is not None
    for raw in ("5003", "123", "U999", "joana", "U42"):
        assert raw not in stored.question and raw not in model.calls[0].text
    joana = "@" + pseudonymise("test-secret", "slack", "U999")
    assert joana in stored.question and stored.question == model.calls[0].text
    service.store.close()  # type: ignore[attr-defined]


async def test_a_dm_channel_is_stored_as_a_pseudonym_and_its_history_still_found(
    tmp_path: Path,
) -> None:
    service = make_service(tmp_path)
    dm = Question(
        "ml", "O que faz o encoder da U-Net?", "slack", "D0DM", "111.1", "U1", private=True
    )
    first = await service.ask(dm)
    stored = service.store.get_interaction(first.interaction_id)
    assert stored is not None and "D0DM" not in stored.channel and "111.1" not in stored.thread
    history = await service.thread_history("slack", "D0DM", "111.1", private=True)
    assert [turn.role for turn in history] == ["student", "assistant"]
    service.store.close()  # type: ignore[attr-defined]
