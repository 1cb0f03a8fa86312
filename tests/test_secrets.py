"""No secret leaves the bot: the API key, the chat tokens, the signing secret, the pseudonym
secret and the database password are set to known values, the bot is run through every path
(answers, every fault of the Claude fake, a retrieval failure, votes, a request for a human,
the TA commands, the judge worker, setup errors) with LOG_LEVEL=DEBUG, and every log line,
every stored row of every table, the journal, every message posted to the chat platform and
every request sent to Claude are searched for them."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.app import build_judge_worker
from bot.config import Settings
from bot.courses import Courses
from bot.llm import ClaudeAnswerModel, make_client
from bot.service import AssistantService
from retrieval.models import SearchResult
from tests.discord_driver import DiscordDriver, open_harness
from tests.fakes.anthropic_server import (
    ErrorReply,
    FakeAnthropic,
    Fault,
    Reply,
    cited_reply,
    overloaded,
    text_block,
)
from tests.fakes.core import WordOverlapRetriever, make_service
from tests.fakes.slack_api import FakeSlackAPI
from tests.scenario_driver import PlatformDriver
from tests.slack_driver import COURSES, USERGROUPS, SlackDriver, start_app

ROOT = Path(__file__).resolve().parents[1]
SECRETS = {
    "ANTHROPIC_API_KEY": "sk-ant-api03-SECRETKEY0a1b2c3d4e5f",
    "DISCORD_TOKEN": "MTk4NjIyNDgzNDcxOTI1MjQ4.SECRET.discordtoken9z8y",
    "SLACK_BOT_TOKEN": "xoxb-SECRET-bot-token-7x6w5v",
    "SLACK_APP_TOKEN": "xapp-1-SECRET-app-token-5v4u3t",
    "SLACK_SIGNING_SECRET": "SECRETsigning3t2s1r0q",
    "PSEUDONYM_SECRET": "SECRETpseudonym1r0q9p8o",
}
DB_PASSWORD = "SECRETdbpassword9o8i7u"
QUESTION = "Qual a função da camada de saída da U-Net?"


def leaks(text: str) -> list[str]:
    return [name for name, value in {**SECRETS, "db": DB_PASSWORD}.items() if value in text]


def with_password(url: str) -> str:
    """PostgreSQL's URL with the known password (the test server trusts, so any is taken)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return url
    return parsed.set(password=DB_PASSWORD).render_as_string(hide_password=False)


class BrokenRetriever(WordOverlapRetriever):
    async def search(self, course_id: str, text: str, k: int) -> SearchResult:
        raise OSError("lancedb directory is gone")


@pytest.fixture
def api() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key=SECRETS["ANTHROPIC_API_KEY"]) as server:
        yield server


@pytest.fixture
async def service(
    tmp_path: Path, api: FakeAnthropic, database_url: str
) -> AsyncIterator[AssistantService]:
    service = make_service(
        tmp_path,
        COURSES,
        database_url=with_password(database_url),
        pseudonym_secret=SECRETS["PSEUDONYM_SECRET"],
    )
    client = make_client(SECRETS["ANTHROPIC_API_KEY"], base_url=api.base_url, max_retries=1)
    service.answer_model = ClaudeAnswerModel(client, "claude-test")
    yield service
    await client.close()


@contextlib.asynccontextmanager
async def on_platform(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: AssistantService
) -> AsyncIterator[tuple[PlatformDriver, list[str]]]:
    """The bot on a platform with the secret tokens; the driver and, read at the end, what
    it sent the platform."""
    if name == "discord":
        harness = await open_harness(
            tmp_path, monkeypatch, service=service, token=SECRETS["DISCORD_TOKEN"]
        )
        sent: list[str] = []
        try:
            yield DiscordDriver(harness), sent
        finally:
            sent += [f"{c.method} {c.path} {c.json}" for c in harness.fake.calls]
            await harness.close()
        return
    async with FakeSlackAPI(usergroups=USERGROUPS) as slack:
        bot, server = await start_app(
            slack,
            tmp_path,
            service=service,
            token=SECRETS["SLACK_BOT_TOKEN"],
            signing_secret=SECRETS["SLACK_SIGNING_SECRET"],
        )
        sent = []
        try:
            yield SlackDriver(bot), sent
        finally:
            sent += [f"{c.method} {c.params}" for c in slack.calls]
            await server.close()
            service.store.close()  # type: ignore[attr-defined]


def every_row(service: AssistantService) -> list[str]:
    engine = service.store.db.engine  # type: ignore[attr-defined]
    rows = []
    with engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            rows += [
                f"{table}: {tuple(row)}"
                for row in conn.execute(sa.text(f'SELECT * FROM "{table}"'))
            ]
    return rows


@pytest.mark.parametrize("platform", ["discord", "slack"])
async def test_no_secret_in_any_log_line_row_or_message_on_any_path(
    platform: str,
    api: FakeAnthropic,
    service: AssistantService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # LOG_LEVEL=DEBUG: every library's debug lines too
    api.responder = cited_reply(("Segundo a aula, a saída usa softmax.", [0]))
    # Each fails one streamed answer (the SDK retries only the 529, once).
    failures: list[tuple[Reply | ErrorReply, ...]] = [
        *((Reply(content=(text_block("x" * 400),), fault=fault),) for fault in Fault),
        (overloaded(), overloaded()),
        (ErrorReply(401, "authentication_error", "invalid x-api-key", None),),
        (ErrorReply(400, "invalid_request_error", "prompt is too long", None),),
    ]
    # Every failure path asks the same question again: no repeat answer, no rate limit.
    service.courses = Courses(
        [
            replace(c, limits=replace(c.limits, repeat_answers=False, burst=100))
            for c in service.courses
        ]
    )
    async with on_platform(platform, tmp_path, monkeypatch, service) as (bot, sent):
        answer = await bot.ask("student", QUESTION)
        await bot.vote("student", answer, "up")
        await bot.escalate("student", answer)
        for replies in failures:
            api.enqueue(*replies)
            fallback = await bot.ask("student", QUESTION)
            assert "não gerada por IA" in fallback.text and api.pending == 0
        await bot.ta_command("ta", "digest")
        await bot.ta_command("student", "digest")
        service.retriever = BrokenRetriever()
        await bot.ask_unanswered("classmate", QUESTION)
        settings = Settings(
            anthropic_api_key=SECRETS["ANTHROPIC_API_KEY"],
            anthropic_base_url=api.base_url,
            llm_max_retries=0,
        )
        worker = build_judge_worker(settings, service.store, "worker-1")  # type: ignore[arg-type]
        assert worker is not None
        await worker.drain()  # the fake answers the judge in prose: judge failures, logged
        await bot.ta_command("ta", "forget", about="classmate")
        rows = every_row(service)

    logged = [logging.Formatter().format(record) for record in caplog.records]
    journal = [p.read_text() for p in (tmp_path / "journal").glob("*") if p.is_file()]
    claude = [str(request.body) for request in api.requests]
    assert len(api.requests) >= 10 and len(rows) > 20 and len(logged) > 50  # it all ran
    assert any("Traceback" in line for line in logged)  # failures logged in full
    for where, texts in {
        "log": logged,
        "rows": rows,
        "journal": journal,
        "platform": sent,
        "claude": claude,
    }.items():
        found = {(name, text[:200]) for text in texts for name in leaks(text)}
        assert not found, f"secrets in the {where}: {sorted(found)}"


def run_bot(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "HOME": str(tmp_path),
        "LOG_LEVEL": "DEBUG",
        **SECRETS,
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (  # the database refuses the connection
            ("report", "--course", "demo"),
            {"DATABASE_URL": f"postgresql://bot:{DB_PASSWORD}@127.0.0.1:1/bot"},
        ),
        (  # a driver that does not exist
            ("forget", "--platform", "slack", "--user", "U1"),
            {"DATABASE_URL": f"postgresql+nosuchdriver://bot:{DB_PASSWORD}@db/bot"},
        ),
        (  # a setting with a wrong value next to the secrets
            ("slack",),
            {"RETRIEVAL_K": "lots", "DATABASE_URL": f"postgresql://u:{DB_PASSWORD}@h/d"},
        ),
    ],
    ids=["database-unreachable", "database-driver", "bad-setting"],
)
def test_no_secret_in_a_setup_error(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str]
) -> None:
    ran = run_bot(tmp_path, *args, **env)

    assert ran.returncode == 2 and "error:" in ran.stderr, ran.stderr
    assert not leaks(ran.stdout + ran.stderr), ran.stderr
