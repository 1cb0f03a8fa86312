"""The database down never costs the student the answer, nor the record: end to end through
``AssistantService`` and the real ``SqlStore``, with SQLite refusing writes and PostgreSQL cut
off behind a proxy. What could not be saved is journaled and written, once, when the database
is back: on the next save, or by the worker's replay."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.config import Settings
from bot.errors import StoreUnavailableError
from bot.judge import JudgeOptions, JudgeWorker
from bot.models import JUDGE_JOB, Answer, Question, Turn
from bot.scheduler import JOURNAL_JOB_ID, build_scheduler
from bot.service import AssistantService, ServiceOptions
from bot.store import Journal, SqlStore, open_store
from bot.store.journal import PendingEscalation, PendingInteraction, PendingVote
from tests.fakes.core import FIXTURE_COURSES, FakeAnswerModel, WordOverlapRetriever
from tests.store_fixtures import find_job
from tests.tcp_proxy import TcpProxy
from tests.test_restart import HeldJudge, HeldModel

U_NET = "Qual a função da camada de saída da U-Net?"


@dataclass
class Outage:
    store: SqlStore
    down: Callable[[], None]
    up: Callable[[], None]


@pytest.fixture
def sqlite_outage(sqlite_url: str) -> Iterator[Outage]:
    """SQLite refusing every write. The tests run as root, whom file permissions do not stop,
    so SQLite itself refuses: ``PRAGMA query_only`` on each connection the pool hands out
    fails every write with SQLITE_READONLY ("attempt to write a readonly database"), the
    error of a read-only file. Reads still work, as they do on a read-only file."""
    store = open_store(sqlite_url)
    read_only = threading.Event()

    def query_only(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.execute(f"PRAGMA query_only = {int(read_only.is_set())}")

    sa.event.listen(store.db.engine, "checkout", query_only)
    try:
        yield Outage(store, down=read_only.set, up=read_only.clear)
    finally:
        store.close()


@pytest.fixture
def postgres_outage(postgres_url: str) -> Iterator[Outage]:
    """PostgreSQL reached through a proxy that the test cuts: open connections drop, new
    ones are closed at once. Nothing can be read or written."""
    server = sa.make_url(postgres_url)
    with TcpProxy(server.host or "127.0.0.1", server.port or 5432) as proxy:
        proxied = server.set(host="127.0.0.1", port=proxy.port)
        store = open_store(proxied.render_as_string(hide_password=False))
        try:
            yield Outage(store, down=proxy.cut, up=proxy.restore)
        finally:
            store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def outage(request: pytest.FixtureRequest) -> Outage:
    found: Outage = request.getfixturevalue(f"{request.param}_outage")
    return found


def service_on(store: SqlStore, tmp_path: Path, answer_model: Any = None) -> AssistantService:
    return AssistantService(
        retriever=WordOverlapRetriever(),
        answer_model=answer_model or FakeAnswerModel(),
        store=store,
        journal=Journal(tmp_path / "journal"),
        courses=FIXTURE_COURSES,
        pseudonym_secret="test-secret",
        # Ten questions at once all reach the model: the tests hold them there.
        options=ServiceOptions(k=10, answer_concurrency=10),
    )


def ask(service: AssistantService, text: str, **fields: Any) -> Answer:
    return asyncio.run(service.ask(Question(course_id="ml", text=text, **fields)))


def test_an_answer_given_while_the_database_is_down_is_journaled_then_saved_once_on_the_next_save(
    outage: Outage, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = service_on(outage.store, tmp_path)
    outage.down()
    with caplog.at_level(logging.ERROR, logger="bot.service"):
        answer = ask(service, U_NET)
        abstained = ask(service, "quem ganhou a copa de 1970?")

    assert not answer.fallback and answer.citations[0].url.endswith("?t=721")
    assert abstained.abstained
    journaled = service.journal.entries()
    assert [(e.interaction.id, e.enqueue_judge) for e in journaled] == [  # type: ignore[union-attr]
        (answer.interaction_id, True),
        (abstained.interaction_id, False),
    ]
    first = caplog.records[0]
    assert answer.interaction_id in first.getMessage() and "journaled" in first.getMessage()
    assert all(r.exc_info is None for r in caplog.records)  # one line each, no traceback

    outage.up()
    later = ask(service, "O que é dropout?")

    stored = outage.store.list_interactions("ml")
    assert sorted(i.id for i in stored) == sorted(
        [answer.interaction_id, abstained.interaction_id, later.interaction_id]
    )
    assert outage.store.get_interaction(answer.interaction_id) == journaled[0].interaction  # type: ignore[union-attr]
    assert find_job(outage.store, JUDGE_JOB, answer.interaction_id) is not None
    assert find_job(outage.store, JUDGE_JOB, abstained.interaction_id) is None  # as it would be
    assert not service.journal.has_entries()


async def test_the_worker_replays_the_journal_once_the_database_is_back(
    outage: Outage, tmp_path: Path
) -> None:
    service = service_on(outage.store, tmp_path)
    outage.down()
    answer = await service.ask(Question(course_id="ml", text=U_NET))
    outage.up()

    worker_journal = Journal(tmp_path / "journal")  # the worker process's view of the directory
    scheduler = build_scheduler(
        settings=Settings(),
        store=outage.store,
        courses=[],
        journal_replay=functools.partial(worker_journal.replay, outage.store),
        journal_interval_s=0.05,
    )
    assert [job.id for job in scheduler.get_jobs()] == [JOURNAL_JOB_ID]
    scheduler.start()
    try:
        await until(lambda: not worker_journal.has_entries())
    finally:
        scheduler.shutdown(wait=False)

    assert [i.id for i in outage.store.list_interactions("ml")] == [answer.interaction_id]
    job = find_job(outage.store, JUDGE_JOB, answer.interaction_id)
    assert job is not None and job.status == "pending"


def test_a_vote_and_an_escalation_on_a_journaled_answer_are_kept_and_replayed_after_it(
    outage: Outage, tmp_path: Path
) -> None:
    service = service_on(outage.store, tmp_path)
    run = asyncio.run
    outage.down()
    answer = ask(service, U_NET, platform="slack", channel="CML", thread="1.2")
    ref = answer.interaction_id

    tally = run(service.record_feedback(ref, "slack", "U1", 1))
    escalated = run(service.escalate(ref))
    again = run(service.escalate(ref))
    history = run(service.thread_history("slack", "CML", "1.2"))

    assert (tally.up, tally.down) == (1, 0)
    assert (escalated.interaction.id, escalated.interaction.course_id) == (ref, "ml")
    assert (escalated.ping_tas, again.ping_tas) == (True, False)  # the journal remembers
    assert run(service.interaction(ref)).escalated  # the journal knows of the escalation
    assert history[0] == Turn("student", U_NET)  # a follow-up still has its context
    assert [type(e) for e in service.journal.entries()] == [
        PendingInteraction,
        PendingVote,
        PendingEscalation,  # once: the second request found it waiting
    ]

    outage.up()
    report = service.journal.replay(outage.store)

    assert (report.written, report.left, report.rejected) == (3, 0, 0)
    stored = outage.store.get_interaction(ref)
    assert stored is not None and stored.escalated
    assert [v.value for v in outage.store.votes_for(ref)] == [1]


def test_two_requests_for_a_human_while_sqlite_refuses_writes_call_the_tas_once(
    sqlite_outage: Outage, tmp_path: Path
) -> None:
    service = service_on(sqlite_outage.store, tmp_path)
    ref = ask(service, U_NET).interaction_id
    sqlite_outage.down()  # the row can be read, not marked: the mark is journaled

    assert [asyncio.run(service.escalate(ref)).ping_tas for _ in range(2)] == [True, False]

    sqlite_outage.up()
    assert service.journal.replay(sqlite_outage.store).written == 1
    assert getattr(sqlite_outage.store.get_interaction(ref), "escalated", False)


def test_a_vote_on_a_stored_answer_while_the_database_is_down_is_kept(
    outage: Outage, tmp_path: Path
) -> None:
    service = service_on(outage.store, tmp_path)
    answer = ask(service, U_NET)
    outage.down()

    tally = asyncio.run(service.record_feedback(answer.interaction_id, "discord", "U1", -1))

    assert (tally.up, tally.down, tally.annotation) == (0, 1, "I")
    outage.up()
    ask(service, "O que é dropout?")  # the next save replays the journal first
    assert [v.value for v in outage.store.votes_for(answer.interaction_id)] == [-1]
    assert not service.journal.has_entries()


def test_a_ta_grade_the_database_cannot_write_is_journaled_then_saved_once(
    sqlite_outage: Outage, tmp_path: Path
) -> None:
    service = service_on(sqlite_outage.store, tmp_path)
    answer = ask(service, U_NET)
    ta = service.pseudonym("slack", "U_TA")
    sqlite_outage.down()  # the answer's course can be read, the grade not written

    grade = asyncio.run(service.grade_answer("ml", answer.interaction_id, ta, "I", 1, "vaga"))

    assert [e.grade for e in service.journal.entries()] == [grade]  # type: ignore[union-attr]
    sqlite_outage.up()
    assert service.journal.replay(sqlite_outage.store).written == 1
    assert sqlite_outage.store.grades_for(answer.interaction_id) == [grade]
    assert not service.journal.has_entries()


@pytest.mark.postgres
def test_a_ta_grade_on_an_answer_the_database_cannot_read_is_refused_not_kept(
    postgres_outage: Outage, tmp_path: Path
) -> None:
    service = service_on(postgres_outage.store, tmp_path)
    answer = ask(service, U_NET)
    ta = service.pseudonym("slack", "U_TA")
    postgres_outage.down()

    # Whether the answer is of the TA's course cannot be checked: the TA is told to retry.
    with pytest.raises(StoreUnavailableError, match="cannot be read right now"):
        asyncio.run(service.grade_answer("ml", answer.interaction_id, ta, "C"))
    assert not service.journal.has_entries()


@pytest.mark.postgres
def test_escalating_a_stored_answer_the_database_cannot_read_says_so_and_keeps_the_mark(
    postgres_outage: Outage, tmp_path: Path
) -> None:
    service = service_on(postgres_outage.store, tmp_path)
    answer = ask(service, U_NET)
    postgres_outage.down()

    with pytest.raises(StoreUnavailableError, match="cannot be read right now"):
        asyncio.run(service.escalate(answer.interaction_id))

    postgres_outage.up()
    assert service.journal.replay(postgres_outage.store).written == 1
    stored = postgres_outage.store.get_interaction(answer.interaction_id)
    assert stored is not None and stored.escalated


def test_a_crash_between_the_commit_and_the_journal_removal_writes_nothing_twice(
    outage: Outage, tmp_path: Path
) -> None:
    service = service_on(outage.store, tmp_path)
    outage.down()
    answer = ask(service, U_NET)
    asyncio.run(service.record_feedback(answer.interaction_id, "slack", "U1", 1))
    outage.up()
    before_removal = service.journal.path.read_bytes()

    first = service.journal.replay(outage.store)
    # The replaying process died after the commits, before removing the entries.
    service.journal.path.write_bytes(before_removal)
    second = service.journal.replay(outage.store)

    assert (first.written, first.already) == (2, 0)
    assert (second.written, second.already, second.left) == (0, 2, 0)
    assert [i.id for i in outage.store.list_interactions("ml")] == [answer.interaction_id]
    assert len(outage.store.votes_for(answer.interaction_id)) == 1
    assert find_job(outage.store, JUDGE_JOB, answer.interaction_id) is not None
    assert not service.journal.has_entries()


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.02)


@pytest.mark.postgres
async def test_a_cut_in_the_middle_of_a_run_loses_no_question_and_judges_each_once(
    postgres_outage: Outage, tmp_path: Path
) -> None:
    """Thirty questions in three waves of ten at once: stored; answered while the proxy is
    cut (the database gone mid-answer); after it is restored. The judge worker runs
    through it all."""
    store = postgres_outage.store
    model, judge = HeldModel(), HeldJudge()
    judge.release.set()
    service = service_on(store, tmp_path, model)
    worker = JudgeWorker(store, judge, "w1", JudgeOptions())

    def wave(first: int) -> list[asyncio.Task[Answer]]:
        asked = (Question("ml", f"{U_NET} ({n})", asker=f"U{n}") for n in range(first, first + 10))
        return [asyncio.create_task(service.ask(question)) for question in asked]

    model.release.set()
    answers = await asyncio.gather(*wave(0))
    model.release.clear()
    in_flight = wave(10)
    await until(lambda: model.started == 20)  # all ten at the model
    postgres_outage.down()
    model.release.set()
    answers += await asyncio.gather(*in_flight)
    assert len(service.journal.entries()) == 10
    with pytest.raises(sa.exc.DBAPIError):
        await worker.drain()  # the worker meets the cut too, and tries again later
    postgres_outage.up()
    answers += await asyncio.gather(*wave(20))
    assert await worker.drain() == 30

    assert all(a.text and not a.fallback for a in answers)
    ids = sorted(a.interaction_id for a in answers)
    assert sorted(i.id for i in store.list_interactions("ml")) == ids
    assert not service.journal.has_entries()
    assert all(len(store.judgements_for(i)) == 1 for i in ids)
    assert judge.asked == 30
