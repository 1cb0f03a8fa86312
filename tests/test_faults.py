"""Faults while the bot runs, each ending with the bot answering again and nothing lost:
Claude overloaded (529) for a while, the judge worker's process killed mid-judgement, the
lecture index missing or damaged. (The database cut through a proxy: tests/test_outage.py;
SIGTERM with questions in flight: tests/test_restart.py.)"""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from test_ingest import CountingEmbedder, vtt, write_course

from bot.judge import JudgeOptions, JudgeWorker
from bot.llm import ClaudeAnswerModel, ClaudeJudge, make_client
from bot.models import JUDGE_JOB, Question
from bot.service import AssistantService, ServiceOptions
from bot.store import Journal, SqlStore, open_store
from retrieval.index import SegmentIndex
from retrieval.ingest import ingest_course
from retrieval.search import Retriever
from retrieval.segments import SegmentingSettings
from tests.fakes.anthropic_server import (
    FakeAnthropic,
    RecordedRequest,
    Response,
    overloaded,
    text_reply,
)
from tests.fakes.core import FIXTURE_COURSES, WordOverlapRetriever
from tests.fakes.slack_api import FakeSlackAPI
from tests.scenario_driver import eventually
from tests.slack_driver import COURSES, SlackDriver, start_app
from tests.store_fixtures import InteractionFactory, find_job
from tests.test_judge_worker import by_kind
from tests.test_restart import bot_env, bot_process

U_NET = "Qual a função da camada de saída da U-Net?"
ANSWER = "A camada de saída usa convolução 1x1."


def answer_or_verdict(request: RecordedRequest) -> Response:
    """The judge's forced tool call gets a verdict; a question gets an answer."""
    return by_kind(request) if "tool_choice" in request.body else text_reply(ANSWER)


@pytest.fixture
def api() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        server.responder = answer_or_verdict
        yield server


# ------------------------------------------------------------------ Claude overloaded


def claude_service(store: SqlStore, api: FakeAnthropic, tmp_path: Path) -> AssistantService:
    client = make_client(api.api_key, base_url=api.base_url, max_retries=2, timeout_s=10)
    return AssistantService(
        retriever=WordOverlapRetriever(),
        answer_model=ClaudeAnswerModel(client, model="claude-answer-test"),
        store=store,
        journal=Journal(tmp_path / "journal"),
        courses=FIXTURE_COURSES,
        pseudonym_secret="test-secret",
        options=ServiceOptions(k=5),
    )


async def test_claude_overloaded_for_a_while_gives_fallbacks_then_answers_and_the_judge_retries(
    sqlite_store: SqlStore, api: FakeAnthropic, tmp_path: Path
) -> None:
    service = claude_service(sqlite_store, api, tmp_path)
    client = make_client(api.api_key, base_url=api.base_url, max_retries=2, timeout_s=10)
    judge = ClaudeJudge(client, model="claude-judge-test", max_attempts=2)
    worker = JudgeWorker(sqlite_store, judge, "w1", JudgeOptions(backoff_base_s=30))
    question = Question("ml", U_NET)
    before = await service.ask(question)

    outage_s = 2.0
    api.fail_all(overloaded(), for_s=outage_s)
    outage_ends = time.monotonic() + outage_s
    assert await worker.drain() == 1  # the judge meets the outage too
    during = [await service.ask(question)]
    while during[-1].fallback:  # students keep asking: each gets the lecture moments
        await asyncio.sleep(0.1)  # pacing of the questions, not a wait for the outcome
        during.append(await service.ask(question))
        assert time.monotonic() < outage_ends + 30, "no normal answer 30 s after the outage"
    recovered_after = time.monotonic() - outage_ends

    *fallbacks, after = during
    assert fallbacks and all(a.citations for a in fallbacks)  # the moments, with their links
    told, *held_back = fallbacks  # the TAs hear of the outage once (bot.ta_alerts)
    assert "529 overloaded_error" in told.tas_alert and all(not a.tas_alert for a in held_back)
    assert not after.fallback and after.text.startswith(ANSWER) and after.tas_alert == ""
    assert recovered_after < 1.0, f"first normal answer {recovered_after:.2f} s after the end"
    kept = [sqlite_store.get_interaction(a.interaction_id) for a in fallbacks]
    assert all(k is not None and "529 overloaded_error" in k.error for k in kept)

    # The judge's job waits out its backoff, then is judged once; fallbacks are not judged.
    job = find_job(sqlite_store, JUDGE_JOB, before.interaction_id)
    assert job is not None and job.status == "pending" and "529" in job.last_error
    assert await worker.drain() == 1  # only the answer given after the outage is due now
    later = job.next_attempt_at + timedelta(seconds=1)
    assert await worker.drain(now=later) == 1
    for answered in (before, after):
        assert len(sqlite_store.judgements_for(answered.interaction_id)) == 1
    assert all(find_job(sqlite_store, JUDGE_JOB, a.interaction_id) is None for a in fallbacks)
    shown = f"{len(fallbacks)} fallbacks, a normal answer {recovered_after:.2f} s after it"
    print(f"\n529 for {outage_s:.0f} s: {shown}")


# ------------------------------------------------------------------ the worker killed


async def test_a_worker_killed_mid_judgement_is_resumed_once_its_lease_expires_judged_once(
    tmp_path: Path, make_interaction: InteractionFactory
) -> None:
    url = f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    store = open_store(url)
    interaction = make_interaction()
    store.save_interaction(interaction)
    with FakeAnthropic() as held:
        held.responder = lambda request: text_reply("never sent", delay_s=600)
        env = bot_env(tmp_path, held)
        async with bot_process(["-m", "bot", "worker"], env, tmp_path) as worker:
            await eventually(lambda: len(held.requests) == 1, timeout=120)  # mid-judgement
            claimed = find_job(store, JUDGE_JOB, interaction.id)
            assert claimed is not None and claimed.status == "running"
            assert claimed.lease_owner == f"{socket.gethostname()}:{worker.process.pid}"
            worker.process.send_signal(signal.SIGKILL)
            assert await asyncio.wait_for(worker.process.wait(), 30) == -signal.SIGKILL

    with FakeAnthropic() as api:
        api.responder = answer_or_verdict
        client = make_client(api.api_key, base_url=api.base_url, max_retries=1, timeout_s=10)
        judge = ClaudeJudge(client, model="claude-judge-test", max_attempts=2)
        restarted = JudgeWorker(store, judge, "restarted", JudgeOptions())
        assert await restarted.drain() == 0  # the dead worker's lease still holds it
        expired = claimed.lease_expires_at + timedelta(seconds=1)
        assert await restarted.drain(now=expired) == 1
        assert await restarted.drain(now=expired) == 0

    [judgement] = store.judgements_for(interaction.id)
    assert judgement.status == "ok" and judgement.score == 3
    job = find_job(store, JUDGE_JOB, interaction.id)
    assert job is not None and (job.status, job.attempts) == ("done", 2)
    store.close()


# ------------------------------------------------------------------ the index gone


@pytest.fixture
async def indexed(tmp_path: Path, sqlite_url: str) -> AsyncIterator[tuple[SlackDriver, Path]]:
    """The Slack app in front of a service that searches a real LanceDB index of course
    ``ml`` (a fake embedder), with a scripted answer model."""
    lectures = write_course(
        tmp_path / "lectures",
        {
            "mlvid000001": vtt(
                (0, 6, "A camada de saída da U-Net usa convolução 1x1 com softmax."),
                (6, 12, "Dropout desativa neurônios para reduzir overfitting."),
            )
        },
    )
    uri = tmp_path / "lancedb"
    embedder = CountingEmbedder()
    index = SegmentIndex(str(uri))
    ingest_course(lectures, "ml", index, embedder, SegmentingSettings(), progress=False)
    retriever = Retriever(index, embedder)
    service = AssistantService(
        retriever=retriever,
        answer_model=None,  # the extractive answer: the index is what is tested here
        store=open_store(sqlite_url),
        journal=Journal(tmp_path / "journal"),
        courses=COURSES,
        pseudonym_secret="test-secret",
    )
    async with FakeSlackAPI() as slack:
        bot, server = await start_app(slack, tmp_path, service=service)
        try:
            yield SlackDriver(bot), uri
        finally:
            await server.close()
            retriever.close()


def damage(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            path.write_bytes(b"\0garbage\0")


@pytest.mark.parametrize("fault", ["missing", "damaged"])
async def test_the_index_missing_or_damaged_tells_the_student_and_the_tas_and_recovers(
    indexed: tuple[SlackDriver, Path], tmp_path: Path, fault: str
) -> None:
    driver, uri = indexed
    first = await driver.ask("student", U_NET)
    saved = shutil.copytree(uri, tmp_path / "saved")
    if fault == "missing":
        shutil.rmtree(uri)
    else:
        damage(uri)

    failed = await driver.ask_unanswered("student", U_NET)

    assert (
        "Não consegui responder agora" in failed.text and "monitores foram avisados" in failed.text
    )
    kept = driver.service.store.get_interaction(failed.ref)
    assert kept is not None and "IndexUnavailableError" in kept.error
    [alert] = driver.ta_channel_posts()
    assert failed.ref in alert and "cannot be read" in alert and str(uri) in alert
    assert "/.cargo/" not in alert  # the library's source location is noise for a person

    shutil.rmtree(uri, ignore_errors=True)
    shutil.copytree(saved, uri)  # put back (a re-ingest does the same: tested below)
    again = await driver.ask("student", U_NET)
    assert again.links and again.links[0] == first.links[0]


async def test_an_index_rebuilt_by_another_process_is_used_without_a_restart(
    indexed: tuple[SlackDriver, Path], tmp_path: Path
) -> None:
    driver, uri = indexed
    shutil.rmtree(uri)
    await driver.ask_unanswered("student", U_NET)

    lectures = tmp_path / "lectures"  # `python -m bot ingest` elsewhere: a fresh index handle
    ingest_course(
        lectures,
        "ml",
        SegmentIndex(str(uri)),
        CountingEmbedder(),
        SegmentingSettings(),
        progress=False,
    )

    again = await driver.ask("student", U_NET)
    assert again.links and "youtu.be/mlvid000001" in again.links[0]
