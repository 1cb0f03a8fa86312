"""A graceful restart: on SIGTERM no new question is taken (each is kept and its student asked to
ask again in a minute), the questions in flight finish within ``SHUTDOWN_GRACE_S`` or their
students are told, the judge's leases are given back, and the process exits 0.

The service's drain in-process; then the real processes: ``python -m bot run`` on Slack (HTTP
mode, against the loopback fakes of Slack and Claude) with 20 questions in flight, and
``python -m bot worker`` stopped while a judgement is in flight."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.adapters import slack_render
from bot.errors import RestartingError
from bot.judge import JudgeOptions, JudgeWorker
from bot.judge_prompts import JudgeVerdict
from bot.models import JUDGE_JOB, Hit, Question
from bot.service import INTERRUPTED_RESTARTING, REFUSED_RESTARTING
from bot.store import SqlStore, open_store
from bot.store.schema import interactions, jobs
from tests.fakes.anthropic_server import FakeAnthropic, RecordedRequest, Response, text_reply
from tests.fakes.core import cite_top, make_service
from tests.fakes.slack_api import BOT_TOKEN, BOT_USER_ID, FakeSlackAPI, SlackSender
from tests.scenario_driver import eventually
from tests.store_fixtures import InteractionFactory, enqueue_job, find_job

ROOT = Path(__file__).resolve().parents[1]
U_NET = "Qual a função da camada de saída da U-Net?"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


# ------------------------------------------------------------------ the service's drain


@dataclass
class HeldModel:
    """An answer model that answers once ``release`` is set; counts calls cut short."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    started: int = 0
    cancelled: int = 0

    async def answer(
        self, question: Question, hits: Sequence[Hit], policy: str, on_text: Any = None
    ) -> Any:
        self.started += 1
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return cite_top(question, hits)


def ml_question(text: str = U_NET, asker: str = "U1") -> Question:
    return Question("ml", text, "slack", "CML", "1.1", asker)


async def test_a_question_in_flight_finishes_within_the_grace_and_a_new_one_is_refused_and_kept(
    tmp_path: Path,
) -> None:
    model = HeldModel()
    service = make_service(tmp_path, answer_model=model)  # type: ignore[arg-type]
    asking = asyncio.create_task(service.ask(ml_question()))
    await eventually(lambda: model.started == 1)

    draining = asyncio.create_task(service.restart.drain(grace_s=30))
    await eventually(lambda: service.restart.stopping)
    with pytest.raises(RestartingError) as refused:
        await service.ask(ml_question(asker="U2"))
    model.release.set()
    answer = await asyncio.wait_for(asking, 10)
    drained = await asyncio.wait_for(draining, 10)

    assert not answer.fallback and answer.citations
    assert (drained.finished, drained.interrupted, drained.left) == (1, 0, 0)
    kept = service.store.get_interaction(refused.value.interaction_id)
    assert kept is not None and kept.error == REFUSED_RESTARTING and kept.answer == ""
    assert model.started == 1  # the refused question never reached the model


async def test_when_the_grace_ends_the_answer_is_cut_short_kept_and_the_student_told(
    tmp_path: Path,
) -> None:
    model = HeldModel()
    service = make_service(tmp_path, answer_model=model)  # type: ignore[arg-type]
    asking = asyncio.create_task(service.ask(ml_question()))
    await eventually(lambda: model.started == 1)

    drained = await asyncio.wait_for(service.restart.drain(grace_s=0.2), 10)

    with pytest.raises(RestartingError) as told:
        await asyncio.wait_for(asking, 10)
    assert (drained.interrupted, drained.left) == (1, 0) and model.cancelled == 1
    kept = service.store.get_interaction(told.value.interaction_id)
    assert kept is not None and kept.error == INTERRUPTED_RESTARTING and not kept.fallback
    assert find_job(service.store, JUDGE_JOB, kept.id) is None  # nothing to judge


# ------------------------------------------------------------------ leases and the worker


def test_released_leases_are_claimable_at_once_and_the_attempt_is_not_counted(
    store: SqlStore,
) -> None:
    enqueue_job(store, JUDGE_JOB, "i-mine")
    enqueue_job(store, JUDGE_JOB, "i-theirs")
    [mine] = store.jobs.claim_jobs(JUDGE_JOB, "stopping", limit=1, lease_s=300)
    [theirs] = store.jobs.claim_jobs(JUDGE_JOB, "other", limit=1, lease_s=300)

    assert store.jobs.release_leases("stopping") == 1

    [again] = store.jobs.claim_jobs(JUDGE_JOB, "next", limit=5, lease_s=300)
    assert (again.id, again.attempts) == (mine.id, 1)  # its first real attempt
    still = find_job(store, JUDGE_JOB, theirs.ref)
    assert still is not None and still.lease_owner == "other" and still.status == "running"
    assert store.jobs.release_leases("stopping") == 0


@dataclass
class HeldJudge:
    model: str = "judge-test"
    release: asyncio.Event = field(default_factory=asyncio.Event)
    asked: int = 0

    async def answer_relevance(self, question: str, answer: str) -> JudgeVerdict:
        self.asked += 1
        await self.release.wait()
        return JudgeVerdict(score=3, criteria="c", evidence="e")

    async def context_relevance(self, question: str, segment_text: str) -> JudgeVerdict:
        raise AssertionError("not enabled")

    async def groundedness(self, answer: str, cited_texts: Sequence[str]) -> JudgeVerdict:
        raise AssertionError("not enabled")


async def test_a_stopped_worker_finishes_the_job_in_hand_and_claims_no_other(
    sqlite_store: SqlStore, make_interaction: InteractionFactory
) -> None:
    first, second = make_interaction(), make_interaction()
    sqlite_store.save_interaction(first)
    judge = HeldJudge()
    worker = JudgeWorker(sqlite_store, judge, "w1", JudgeOptions(concurrency=1, poll_s=60))
    running = asyncio.create_task(worker.run())
    await eventually(lambda: judge.asked == 1)
    sqlite_store.save_interaction(second)  # due now, but the worker is stopping

    worker.stop()
    judge.release.set()
    await asyncio.wait_for(running, 10)  # without waiting out poll_s

    assert find_job(sqlite_store, JUDGE_JOB, first.id).status == "done"  # type: ignore[union-attr]
    assert find_job(sqlite_store, JUDGE_JOB, second.id).status == "pending"  # type: ignore[union-attr]
    assert judge.asked == 1


# ------------------------------------------------------------------ the real processes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def courses_toml(tmp_path: Path) -> Path:
    path = tmp_path / "courses.toml"
    path.write_text(
        '[[courses]]\nid = "ml"\nname = "Aprendizado de Máquina"\n\n'
        '[courses.slack]\nchannel_ids = ["CML"]\nta_user_ids = ["UTA"]\n'
        'ta_channel_id = "CMLTA"\n\n'
        "[courses.limits]\nburst = 100\n",  # one student asks all the questions at once
        encoding="utf-8",
    )
    return path


def bot_env(tmp_path: Path, api: FakeAnthropic, **settings: str) -> dict[str, str]:
    """A clean environment: only what the test sets, nothing of the machine's settings."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        "BOT_DATA_DIR": str(tmp_path / "var"),
        "PSEUDONYM_SECRET": "restart-test-secret",
        "ANTHROPIC_API_KEY": api.api_key,
        "ANTHROPIC_BASE_URL": api.base_url,
        "LLM_MAX_RETRIES": "0",
        "LLM_TIMEOUT_S": "600",
    } | settings


@dataclass
class BotProcess:
    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    async def stop(self, number: int = signal.SIGTERM, timeout_s: float = 60) -> tuple[int, float]:
        """Send ``number``; the exit status and the seconds it took."""
        sent = time.monotonic()
        self.process.send_signal(number)
        code = await asyncio.wait_for(self.process.wait(), timeout_s)
        return code, time.monotonic() - sent


@asynccontextmanager
async def bot_process(
    args: Sequence[str], env: dict[str, str], cwd: Path
) -> AsyncIterator[BotProcess]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    running = BotProcess(process)

    async def read() -> None:
        assert process.stderr is not None
        while line := await process.stderr.readline():
            running.lines.append(line.decode(errors="replace"))

    reader = asyncio.create_task(read())
    try:
        yield running
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await asyncio.wait_for(reader, 10)


def db_rows(tmp_path: Path, table: sa.Table) -> list[sa.Row[Any]]:
    store = open_store(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    try:
        with store.db.engine.connect() as conn:
            return list(conn.execute(sa.select(table)))
    finally:
        store.close()


SLOW, QUICK = "demorada", "rápida"
QUESTIONS = 20
GRACE_S = 4


def answers_by_speed(request: RecordedRequest) -> Response:
    """Answers of the quick questions come within the grace; the slow ones' never would."""
    slow = SLOW in request.last_user_text()
    return text_reply("A camada de saída usa convolução 1x1.", delay_s=600 if slow else 1.5)


async def test_sigterm_with_20_questions_in_flight_answers_or_tells_each_and_exits_0(
    tmp_path: Path,
) -> None:
    port = free_port()
    async with FakeSlackAPI() as slack:
        with FakeAnthropic() as api:
            api.responder = answers_by_speed
            api.hold_until_concurrent(QUESTIONS, timeout_s=120)  # all 20 in flight at once
            env = bot_env(
                tmp_path,
                api,
                COURSES_FILE=str(courses_toml(tmp_path)),
                SLACK_BOT_TOKEN=BOT_TOKEN,
                SLACK_SIGNING_SECRET=SIGNING_SECRET,
                SLACK_PORT=str(port),
                SHUTDOWN_GRACE_S=str(GRACE_S),
                FAKE_SLACK_API_URL=slack.api_url,
                ANSWER_CONCURRENCY=str(QUESTIONS),  # all of them at Claude when the signal comes
            )
            args = ["-m", "tests.bot_with_fakes", "run"]
            async with bot_process(args, env, tmp_path) as bot:
                await eventually(lambda: bot.said("slack: listening"), timeout=120)
                sender = SlackSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET)
                asked = [
                    await mention(slack, sender, f"{SLOW if n % 2 else QUICK} {n}: {U_NET}")
                    for n in range(QUESTIONS)
                ]
                await eventually(lambda: api.peak_in_flight >= QUESTIONS, timeout=120)

                sent = time.monotonic()
                bot.process.send_signal(signal.SIGTERM)
                await eventually(lambda: bot.said("SIGTERM: taking no new questions"), 30)
                late = await mention(slack, sender, f"{QUICK} tarde: {U_NET}")
                code = await asyncio.wait_for(bot.process.wait(), 60)
                took = time.monotonic() - sent

    assert code == 0, "".join(bot.lines)
    assert took < GRACE_S + 8, f"stopped in {took:.1f} s"
    shown = {ts: final_text(slack, ts) for ts in [*asked, late]}
    restarting = slack_render.RESTARTING
    quick = [ts for n, ts in enumerate(asked) if n % 2 == 0]
    assert all("convolução 1x1" in shown[ts] for ts in quick), shown
    told = [ts for ts in asked if ts not in quick] + [late]
    assert all(shown[ts] == restarting for ts in told), shown
    assert slack.messages.get("CMLTA", []) == []  # a restart is no failure to alert about

    rows = db_rows(tmp_path, interactions)
    assert len(rows) == QUESTIONS + 1  # every question a row, the refused one too
    errors = sorted(row.error for row in rows)
    assert errors.count("") == len(quick)
    assert errors.count(INTERRUPTED_RESTARTING) == QUESTIONS - len(quick)
    assert errors.count(REFUSED_RESTARTING) == 1
    assert all(row.status != "running" for row in db_rows(tmp_path, jobs))
    print(f"\nSIGTERM with {QUESTIONS} in flight, grace {GRACE_S} s: exited 0 in {took:.2f} s")


async def mention(slack: FakeSlackAPI, sender: SlackSender, text: str) -> str:
    """A student's question mentioning the bot in the course channel; its ts (the thread)."""
    body = f"<@{BOT_USER_ID}> {text}"
    ts = slack.add_user_message("CML", "U1", body)
    event = {"type": "app_mention", "user": "U1", "text": body, "ts": ts, "channel": "CML"}
    status, _ = await sender.event(event)
    assert status == 200
    return ts


def final_text(slack: FakeSlackAPI, thread_ts: str) -> str:
    """What the bot's reply in the thread says now (the placeholder as last edited)."""
    [reply] = slack.thread("CML", thread_ts)
    return str(reply.get("text", ""))


async def test_sigterm_to_the_worker_mid_judgement_gives_its_lease_back_and_exits_0(
    tmp_path: Path, make_interaction: InteractionFactory
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    interaction = make_interaction()
    store.save_interaction(interaction)
    store.close()
    with FakeAnthropic() as api:
        api.responder = lambda request: text_reply("never sent", delay_s=600)
        env = bot_env(tmp_path, api, SHUTDOWN_GRACE_S="1")
        async with bot_process(["-m", "bot", "worker"], env, tmp_path) as worker:
            await eventually(lambda: len(api.requests) == 1, timeout=120)
            code, took = await worker.stop()

    assert code == 0, "".join(worker.lines)
    [job] = [row for row in db_rows(tmp_path, jobs) if row.ref == interaction.id]
    assert (job.status, job.attempts, job.lease_expires_at) == ("pending", 0, None)
    assert worker.said("1 judge job(s) given back")
    assert took < 1 + 8, f"stopped in {took:.1f} s"
    print(f"\nSIGTERM to the worker mid-judgement, grace 1 s: exited 0 in {took:.2f} s")
