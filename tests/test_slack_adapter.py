"""The Slack adapter end to end: the real bolt AsyncApp behind its aiohttp endpoint, signed
requests as Slack sends them, and the real AsyncWebClient talking to a loopback fake of the
Web API. Nothing sleeps: tests wait on recorded calls with short timeouts."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters import slack_render as render
from bot.adapters.slack import post_digest, run_http, run_socket_mode
from bot.adapters.slack.app import Patience
from bot.config import Settings
from bot.courses import Courses
from bot.errors import ConfigError, UnreachableError
from bot.models import Digest, DigestSection
from tests.fakes.core import (
    REVIEW_LINKS,
    FakeAnswerModel,
    WordOverlapRetriever,
    make_service,
    says,
)
from tests.fakes.slack_api import BOT_TOKEN, BOT_USER_ID, FakeSlackAPI, SlackSender
from tests.scenario_driver import eventually
from tests.slack_driver import (
    BIO,
    COURSES,
    GROUP_TA,
    ML,
    OTHER_STUDENT,
    SECRET,
    STUDENT,
    TA,
    USERGROUPS,
    Bot,
    interaction_id_of,
    shown,
    start_app,
)

PINGS = re.compile(r"<[!@]|@(channel|here|everyone)\b", re.IGNORECASE)


async def eventually_async(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within 5 s")
        await asyncio.sleep(0.01)


BotFactory = Callable[..., Awaitable[Bot]]


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackAPI]:
    async with FakeSlackAPI(usergroups=USERGROUPS) as fake:
        yield fake


@pytest.fixture
async def start_bot(tmp_path: Any, slack: FakeSlackAPI) -> AsyncIterator[BotFactory]:
    servers: list[TestServer] = []

    async def start(**options: Any) -> Bot:
        bot, server = await start_app(slack, tmp_path, **options)
        servers.append(server)
        return bot

    yield start
    for server in servers:
        await server.close()


@pytest.mark.parametrize("faas", [False, True], ids=["server", "process_before_response"])
async def test_mention_is_answered_in_its_thread_with_deep_links(
    start_bot: BotFactory, faas: bool
) -> None:
    bot = await start_bot(process_before_response=faas)
    ts = await bot.mention(ML, f"<@{BOT_USER_ID}> qual a camada de saída da U-Net?")
    answer = await bot.answer_in(ML, ts)
    placeholder = await bot.slack.wait_for(
        "chat.postMessage", lambda c: c.params.get("thread_ts") == ts
    )
    assert render.PLACEHOLDER in placeholder.params["text"]
    text = shown(answer)
    assert "<https://youtu.be/mlvid000001?t=721|Aula 3 · 12:01–14:31>" in text
    assert "gerada por IA a partir das aulas" in text
    interaction = await bot.service.interaction(interaction_id_of(answer))
    assert (interaction.platform, interaction.channel, interaction.thread) == ("slack", ML, ts)
    assert interaction.question == "qual a camada de saída da U-Net?"
    # 👍/👎 under the answer, and buttons carrying the interaction id
    buttons = next(b for b in answer["blocks"] if b["type"] == "actions")["elements"]
    assert {b["value"] for b in buttons} == {interaction.id}
    # the placeholder was edited while the answer streamed, then with the answer
    updates = bot.slack.calls_to("chat.update")
    assert len(updates) == 2 and "escrevendo" in shown(updates[0].params)


@pytest.mark.parametrize("faas", [False, True], ids=["server", "process_before_response"])
async def test_slash_ask_answers_under_an_echo_of_the_question(
    start_bot: BotFactory, faas: bool
) -> None:
    bot = await start_bot(process_before_response=faas)
    status, body = await bot.command("/ask", "o que é dropout?", STUDENT, ML)
    assert (status, body) == (200, "")
    echo = await bot.slack.wait_for("chat.postMessage", lambda c: "thread_ts" not in c.params)
    assert echo.params["channel"] == ML and "o que é dropout?" in shown(echo.params)
    echo_ts = bot.slack.messages[ML][0]["ts"]
    answer = await bot.answer_in(ML, echo_ts)
    assert "<https://youtu.be/mlvid000002?t=95|Aula 4 · 01:35–04:05>" in shown(answer)


async def test_empty_or_misplaced_ask_is_explained_at_once(start_bot: BotFactory) -> None:
    bot = await start_bot()
    status, body = await bot.command("/ask", "  ", STUDENT, ML)
    assert status == 200 and "Escreva a pergunta" in body
    status, body = await bot.command("/ask", "o que é dropout?", STUDENT, "CRANDOM")
    assert status == 200 and f"<#{ML}>" in body and f"<#{BIO}>" in body
    assert bot.slack.calls_to("chat.postMessage") == []


async def test_follow_up_in_a_bot_thread_is_answered_with_history(start_bot: BotFactory) -> None:
    bot = await start_bot()
    ts = await bot.mention(ML, f"<@{BOT_USER_ID}> qual a camada de saída da U-Net?")
    first = await bot.answer_in(ML, ts)
    # a reply in someone else's thread is not for the bot
    other = bot.slack.add_user_message(ML, OTHER_STUDENT, "alguém viu a aula?")
    await bot.sender.event(
        {
            "type": "message",
            "channel": ML,
            "channel_type": "channel",
            "user": STUDENT,
            "text": "eu vi",
            "ts": bot.slack.add_user_message(ML, STUDENT, "eu vi", other),
            "thread_ts": other,
        }
    )
    follow_ts = bot.slack.add_user_message(ML, STUDENT, "e o dropout?", ts)
    await bot.sender.event(
        {
            "type": "message",
            "channel": ML,
            "channel_type": "channel",
            "user": STUDENT,
            "text": "e o dropout?",
            "ts": follow_ts,
            "thread_ts": ts,
        }
    )
    second = await bot.answer_in(ML, ts, nth=2)
    assert "mlvid000002?t=95" in shown(second)
    assert [q.text for q in bot.model.calls] == ["qual a camada de saída da U-Net?", "e o dropout?"]
    history = bot.model.calls[1].history
    assert [t.role for t in history] == ["student", "assistant"]
    assert history[0].text == "qual a camada de saída da U-Net?"
    assert history[1].text.startswith("Segundo a aula:")
    assert interaction_id_of(first) != interaction_id_of(second)
    assert bot.slack.thread(ML, other) == []


async def test_reactions_are_votes_and_removing_one_retracts_it(start_bot: BotFactory) -> None:
    """The user's standing 👍/👎 is the vote: removing 👍 while 👎 stays leaves 👎."""
    bot = await start_bot()
    ts = await bot.mention(ML, f"<@{BOT_USER_ID}> o que é dropout?")
    answer = await bot.answer_in(ML, ts)
    interaction_id = interaction_id_of(answer)
    item = {"type": "message", "channel": ML, "ts": answer["ts"]}

    async def react(kind: str, user: str, reaction: str) -> None:
        change = bot.slack.react if kind == "reaction_added" else bot.slack.unreact
        change(ML, answer["ts"], user, reaction)
        event = {
            "type": kind,
            "user": user,
            "reaction": reaction,
            "item": item,
            "item_user": BOT_USER_ID,
            "event_ts": str(time.time()),
        }
        assert (await bot.sender.event(event))[0] == 200

    def votes() -> list[tuple[int, bool]]:
        return [(v.value, v.is_ta) for v in bot.service.store.votes_for(interaction_id)]

    await react("reaction_added", BOT_USER_ID, "+1")  # the bot's own reaction: not a vote
    await react("reaction_added", STUDENT, "+1::skin-tone-2")
    await eventually(lambda: votes() == [(1, False)])
    await react("reaction_added", GROUP_TA, "-1")  # a TA by usergroup
    await eventually(lambda: votes() == [(1, False), (-1, True)])
    await react("reaction_added", STUDENT, "thumbsdown")
    await eventually(lambda: len(votes()) == 3)
    await react("reaction_removed", STUDENT, "+1::skin-tone-2")
    await eventually(lambda: len(votes()) == 4)
    assert votes()[2:] == [(-1, False), (-1, False)]  # 👎 still stands
    await react("reaction_removed", STUDENT, "thumbsdown")
    await eventually(lambda: len(votes()) == 5)
    assert votes()[4] == (0, False)  # retracted
    tally = await bot.service.record_feedback(interaction_id, "slack", OTHER_STUDENT, 1)
    assert (tally.up, tally.down, tally.ta_vote, tally.annotation) == (1, 1, -1, "I")
    await react("reaction_added", STUDENT, "heart")  # not a vote
    assert bot.slack.calls_to("conversations.replies") == []  # answers posted here are known

    # another process (fresh memory) finds the interaction in the message metadata
    restarted = await start_bot(service=bot.service)
    event = {
        "type": "reaction_added",
        "user": OTHER_STUDENT,
        "reaction": "thumbsdown",
        "item": item,
        "item_user": BOT_USER_ID,
        "event_ts": str(time.time()),
    }
    await restarted.sender.event(event)
    await eventually(lambda: len(votes()) == 7)  # 6th: OTHER_STUDENT's direct vote above
    assert votes()[6] == (-1, False)
    read = bot.slack.calls_to("conversations.replies")[0].params
    assert (read["ts"], str(read["include_all_metadata"])) == (answer["ts"], "1")


async def test_buttons_vote_and_call_a_human_once(start_bot: BotFactory) -> None:
    bot = await start_bot()
    ts = await bot.mention(ML, f"<@{BOT_USER_ID}> o que é dropout?")
    answer = await bot.answer_in(ML, ts)
    interaction_id = interaction_id_of(answer)

    async def click(action_id: str, user: str) -> None:
        url = bot.slack.response_url(f"{action_id}-{user}")
        status, _ = await bot.sender.block_action(action_id, interaction_id, user, ML, answer, url)
        assert status == 200

    await click(render.VOTE_DOWN_ACTION, STUDENT)
    await eventually(lambda: len(bot.service.store.votes_for(interaction_id)) == 1)
    [vote] = bot.service.store.votes_for(interaction_id)
    assert (vote.value, vote.is_ta) == (-1, False)
    thanks = await bot.slack.wait_for("chat.postEphemeral")
    assert thanks.params["user"] == STUDENT and thanks.params["thread_ts"] == ts

    await click(render.ESCALATE_ACTION, STUDENT)
    call = await bot.slack.wait_for(
        "chat.postMessage", lambda c: "<@UTA>" in c.params.get("text", "")
    )
    assert call.params["thread_ts"] == ts and "<!subteam^STAS>" in call.params["text"]
    assert (await bot.service.interaction(interaction_id)).escalated
    await click(render.ESCALATE_ACTION, OTHER_STUDENT)
    again = await bot.slack.wait_for(
        "chat.postEphemeral", lambda c: c.params["user"] == OTHER_STUDENT
    )
    assert again.params["text"] == render.ALREADY_ESCALATED
    tags = [
        c for c in bot.slack.calls_to("chat.postMessage") if "<@UTA>" in c.params.get("text", "")
    ]
    assert len(tags) == 1


async def test_a_question_in_course_b_cites_only_course_b(start_bot: BotFactory) -> None:
    bot = await start_bot()
    ts = await bot.mention(BIO, f"<@{BOT_USER_ID}> o que faz a camada de saída da mitocôndria?")
    answer = await bot.answer_in(BIO, ts)
    links = re.findall(r"<(https://[^|>]+)\|", shown(answer))
    assert links and all("biovid" in link for link in links)
    assert [course for course, _ in bot.retriever.calls] == ["bio"]


async def test_digest_is_for_tas_only(start_bot: BotFactory) -> None:
    bot = await start_bot()
    status, _ = await bot.command("/digest", "", STUDENT, "CMLTA")
    assert status == 200
    refused = await bot.slack.wait_for("response_url", lambda c: f"-{STUDENT}-" in c.params["key"])
    assert refused.params["text"] == render.TA_ONLY
    for ta in (TA, GROUP_TA):
        await bot.command("/digest", "", ta, "CMLTA")
        served = await bot.slack.wait_for(
            "response_url", lambda c, ta=ta: f"-{ta}-" in c.params["key"]
        )
        assert served.params["response_type"] == "ephemeral"
        assert served.params["blocks"][0]["type"] == "header"
        assert "Aprendizado de Máquina" in served.params["blocks"][0]["text"]["text"]


async def test_reindex_is_for_tas_only_and_failures_are_reported(start_bot: BotFactory) -> None:
    bot = await start_bot()
    await bot.command("/reindex", "", OTHER_STUDENT, ML)
    refused = await bot.slack.wait_for(
        "response_url", lambda c: f"-{OTHER_STUDENT}-" in c.params["key"]
    )
    assert refused.params["text"] == render.TA_ONLY
    await bot.command("/reindex", "ml", TA, BIO)  # the course can be named anywhere
    await eventually(
        lambda: (
            len([c for c in bot.slack.calls_to("response_url") if f"-{TA}-" in c.params["key"]])
            == 2
        )
    )
    started, finished = [c.params["text"] for c in bot.slack.calls_to("response_url")][1:]
    assert "Reindexando *Aprendizado de Máquina*" in started
    # make_service wires no reindexer: the TA is told that it failed, with no reference
    # (one is shown only when it names a stored interaction)
    assert finished.startswith(":warning: Não consegui responder agora. ")


async def test_an_answer_full_of_pings_pings_no_one(start_bot: BotFactory) -> None:
    llm_text = "@everyone <!channel> <!here> @here <@U999> <!subteam^S1|@tas> veja a aula"
    bot = await start_bot(model=FakeAnswerModel(script=says(llm_text)))
    ts = await bot.mention(ML, f"<@{BOT_USER_ID}> o que é dropout?")
    answer = await bot.answer_in(ML, ts)
    for call in bot.slack.calls_to("chat.update") + bot.slack.calls_to("chat.postMessage"):
        assert not PINGS.search(shown(call.params)), call.params
    assert "&lt;!channel&gt;" in shown(answer) and "@\u2060everyone" in shown(answer)
    assert not any(call.params.get("link_names") for call in bot.slack.calls)


async def test_llm_down_posts_the_labelled_fallback(start_bot: BotFactory) -> None:
    bot = await start_bot(model=FakeAnswerModel(fail=True))
    ts = await bot.mention(ML, f"<@{BOT_USER_ID}> qual a camada de saída da U-Net?")
    answer = await bot.answer_in(ML, ts)
    assert "não gerada por IA" in shown(answer)
    assert "<https://youtu.be/mlvid000001?t=721|Aula 3 · 12:01–14:31>" in shown(answer)
    assert (await bot.service.interaction(interaction_id_of(answer))).fallback


class BrokenRetriever(WordOverlapRetriever):
    async def search(self, course_id: str, text: str, k: int) -> Any:
        raise OSError("lancedb directory is gone")


async def test_a_failure_tells_the_student_and_the_tas(start_bot: BotFactory) -> None:
    bot = await start_bot(retriever=BrokenRetriever())
    ts = await bot.mention(ML, f"<@{BOT_USER_ID}> o que é dropout?")
    told = await bot.slack.wait_for("chat.update", lambda c: "Não consegui" in c.params["text"])
    ref = re.search(r"ref `(\w+)`", told.params["text"])
    assert ref and "Os monitores foram avisados" in told.params["text"]
    assert (await bot.service.interaction(ref.group(1))).error.startswith("OSError")
    alert = await bot.slack.wait_for("chat.postMessage", lambda c: c.params["channel"] == "CMLTA")
    assert ref.group(1) in alert.params["text"] and f"<#{ML}>" in alert.params["text"]
    assert bot.slack.thread(ML, ts)[0]["ts"] == told.params["ts"]


async def test_an_answer_slack_refuses_is_reported_under_the_kept_interactions_ref(
    start_bot: BotFactory,
) -> None:
    bot = await start_bot()
    bot.slack.fail("chat.update", "msg_too_long", times=2)  # the progress edit, the answer
    await bot.mention(ML, f"<@{BOT_USER_ID}> o que é dropout?")
    told = await bot.slack.wait_for("chat.update", lambda c: "Não consegui" in c.params["text"])
    ref = re.search(r"ref `(\w+)`", told.params["text"])
    assert ref, told.params["text"]
    kept = await bot.service.interaction(ref.group(1))  # the row the student's ref names
    assert kept.answer.startswith("Segundo a aula:") and not kept.error


@pytest.mark.parametrize("forgery", ["wrong secret", "stale", "unsigned"])
async def test_unverified_requests_are_refused(start_bot: BotFactory, forgery: str) -> None:
    bot = await start_bot()
    body = b'{"type": "event_callback", "event_id": "Ev1", "event": {"type": "app_mention"}}'
    kwargs: dict[str, Any] = {
        "wrong secret": {"secret": "not-the-secret"},
        "stale": {"timestamp": int(time.time()) - 6 * 60},
        "unsigned": {"signed": False},
    }[forgery]
    status, _ = await bot.sender.post(body, "application/json", **kwargs)
    assert status == 401
    assert bot.slack.calls == []


async def test_a_retried_event_is_answered_once(start_bot: BotFactory) -> None:
    bot = await start_bot()
    ts = bot.slack.add_user_message(ML, STUDENT, f"<@{BOT_USER_ID}> o que é dropout?")
    event = {
        "type": "app_mention",
        "user": STUDENT,
        "text": f"<@{BOT_USER_ID}> o que é dropout?",
        "ts": ts,
        "channel": ML,
    }
    assert (await bot.sender.event(event, event_id="Ev0RETRY"))[0] == 200
    assert (await bot.sender.event(event, event_id="Ev0RETRY", retry=1))[0] == 200
    await bot.answer_in(ML, ts)
    assert len(bot.model.calls) == 1
    assert (
        len([c for c in bot.slack.calls_to("chat.postMessage") if c.params.get("thread_ts") == ts])
        == 1
    )


async def test_a_channel_without_course_gets_one_quiet_note(start_bot: BotFactory) -> None:
    bot = await start_bot()
    for _ in range(2):
        await bot.mention("CRANDOM", f"<@{BOT_USER_ID}> oi?")
    note = await bot.slack.wait_for("chat.postEphemeral")
    assert note.params["user"] == STUDENT and "COURSES_FILE" in note.params["text"]
    await bot.mention(ML, f"<@{BOT_USER_ID}> o que é dropout?")
    await bot.answer_in(ML, bot.slack.messages[ML][0]["ts"])
    assert len(bot.slack.calls_to("chat.postEphemeral")) == 1
    assert bot.model.calls[0].course_id == "ml" and len(bot.model.calls) == 1


async def test_direct_messages_need_a_single_course(start_bot: BotFactory, tmp_path: Any) -> None:
    dm_event = {
        "type": "message",
        "channel": "D1",
        "channel_type": "im",
        "user": STUDENT,
        "text": "o que é dropout?",
    }
    two = await start_bot()
    await two.sender.event(dm_event | {"ts": two.slack.add_user_message("D1", STUDENT, "x")})
    where = await two.slack.wait_for("chat.postMessage", lambda c: c.params["channel"] == "D1")
    assert f"<#{ML}>" in where.params["text"] and two.model.calls == []

    only_ml = Courses([COURSES.get("ml")])
    one = await start_bot(courses=only_ml, service=make_service(tmp_path / "one", only_ml))
    ts = one.slack.add_user_message("D1", STUDENT, "o que é dropout?")
    await one.sender.event(dm_event | {"ts": ts})
    answer = await one.answer_in("D1", ts)
    assert "mlvid000002?t=95" in shown(answer)
    kept = await one.service.interaction(interaction_id_of(answer))
    # The DM channel's id names the student: it is kept as a pseudonym, never as is.
    assert kept.channel.startswith("c_") and "D1" not in (kept.channel, kept.thread)


async def test_a_ta_of_the_user_group_asking_in_a_direct_message_is_known_as_a_ta(
    start_bot: BotFactory, tmp_path: Any
) -> None:
    only_ml = Courses([COURSES.get("ml")])
    bot = await start_bot(courses=only_ml, service=make_service(tmp_path, only_ml))
    for user, dm, text in ((GROUP_TA, "D1", "o que é dropout?"), (STUDENT, "D2", "e o encoder?")):
        ts = bot.slack.add_user_message(dm, user, text)
        event = {"type": "message", "channel": dm, "channel_type": "im", "user": user}
        await bot.sender.event(event | {"text": text, "ts": ts})
        await bot.answer_in(dm, ts)

    model: FakeAnswerModel = bot.service.answer_model  # type: ignore[assignment]
    assert [q.asked_by_ta for q in model.calls] == [True, False]


async def test_post_digest_sends_text_and_chart_to_the_ta_channel(slack: FakeSlackAPI) -> None:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url, timeout=5)
    digest = Digest(
        "ml",
        datetime(2026, 3, 2),
        (DigestSection("Perguntas", ("12 perguntas",)),),
        chart_png=b"\x89PNG fake chart",
    )
    ts = await post_digest(client, COURSES.get("ml"), digest)
    posted = slack.message("CMLTA", ts)
    assert "12 perguntas" in shown(posted)
    complete = await slack.wait_for("files.completeUploadExternal")
    assert complete.params["channel_id"] == "CMLTA"
    [upload] = slack.uploads.values()
    assert upload.content == b"\x89PNG fake chart" and upload.filename.endswith(".png")


def mention_event(channel: str, ts: str) -> dict[str, Any]:
    text = f"<@{BOT_USER_ID}> o que é dropout?"
    return {"type": "app_mention", "user": STUDENT, "text": text, "ts": ts, "channel": channel}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_run_http_serves_verified_requests(slack: FakeSlackAPI, tmp_path: Any) -> None:
    port = free_port()
    settings = Settings(slack_signing_secret=SECRET, slack_port=port)
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url, timeout=5)
    service = make_service(tmp_path, COURSES)
    task = asyncio.create_task(
        run_http(service, COURSES, settings, host="127.0.0.1", client=client)
    )
    sender = SlackSender(f"http://127.0.0.1:{port}/slack/events", SECRET)

    async def listening() -> bool:
        try:
            return (await sender.post(b"{}", "application/json", signed=False))[0] == 401
        except OSError:
            return False

    try:
        await eventually_async(listening)
        # A timestamp that is not a number is unverified too (bolt alone answered 500).
        forged = {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=" + "0" * 64}
        status, _ = await sender.post(b"{}", "application/json", signed=False, headers=forged)
        assert status == 401
        assert slack.calls == []
        ts = slack.add_user_message(ML, STUDENT, "o que é dropout?")
        assert (await sender.event(mention_event(ML, ts)))[0] == 200
        await slack.wait_for("chat.update", lambda c: bool(c.params.get("metadata")))
        # The review page is served beside the events, behind its signed links.
        issued = REVIEW_LINKS.link("u_a11ce000000000000001", "ml", datetime.now(UTC))
        page = issued.url.replace(REVIEW_LINKS.base_url, f"http://127.0.0.1:{port}")
        async with aiohttp.ClientSession() as browser:
            async with browser.get(page) as shown:
                assert shown.status == 200 and "o que é dropout?" in await shown.text()
            async with browser.get(page.replace("/review/ml", "/review/bio")) as refused:
                assert refused.status == 403
        # The port is taken now: a second server says which setting to change.
        with pytest.raises(ConfigError, match=rf"127.0.0.1:{port} .*SLACK_PORT"):
            await run_http(service, COURSES, settings, host="127.0.0.1", client=client)
    finally:
        await stop(task)
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        await run_http(service, COURSES, Settings(), client=client)


async def test_socket_mode_receives_events_and_acks_them(
    slack: FakeSlackAPI, tmp_path: Any
) -> None:
    settings = Settings(slack_app_token="xapp-1-fake")
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url, timeout=5)
    service = make_service(tmp_path, COURSES)
    task = asyncio.create_task(run_socket_mode(service, COURSES, settings, client=client))
    try:
        await eventually(lambda: bool(slack.sockets))
        ts = slack.add_user_message(ML, STUDENT, "o que é dropout?")
        body = SlackSender("", "").event_body(mention_event(ML, ts))
        envelope_id = await slack.push("events_api", body)
        await eventually(lambda: {"envelope_id": envelope_id} in slack.socket_acks)
        answer = await slack.wait_for("chat.update", lambda c: bool(c.params.get("metadata")))
        assert "mlvid000002?t=95" in shown(answer.params)
    finally:
        await stop(task)
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        await run_socket_mode(service, COURSES, Settings(), client=client)


async def test_socket_mode_gives_up_after_its_patience_when_slack_is_out_of_reach(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}/api/"
    # No SDK retries of its own: each attempt is one refused connection.
    client = AsyncWebClient(token=BOT_TOKEN, base_url=unreachable, retry_handlers=[])
    settings = Settings(slack_app_token="xapp-1-fake")
    patience = Patience(first_wait_s=0.01, longest_wait_s=0.04, give_up_after_s=0.3)
    caplog.set_level(logging.WARNING)

    with pytest.raises(UnreachableError, match="cannot reach Slack for Socket Mode") as caught:
        await run_socket_mode(
            make_service(tmp_path, COURSES), COURSES, settings, client=client, patience=patience
        )

    warnings = [r for r in caplog.records if r.name == "bot.adapters.slack.app"]
    waits = [r.args[2] for r in warnings]  # type: ignore[index]
    assert waits[:4] == [0.01, 0.02, 0.04, 0.04]  # doubling, then capped
    assert sum(waits) <= 0.3 and len(waits) >= 5
    assert all(r.levelno == logging.WARNING and not r.exc_info for r in warnings)
    assert f"after {len(waits) + 1} attempt(s)" in str(caught.value)


async def test_socket_mode_with_a_refused_app_token_fails_at_once(
    slack: FakeSlackAPI, tmp_path: Any
) -> None:
    slack.fail("apps.connections.open", "invalid_auth")
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url, timeout=5)
    settings = Settings(slack_app_token="xapp-1-revoked")
    with pytest.raises(ConfigError, match=r"Slack refused SLACK_APP_TOKEN \(invalid_auth\)"):
        await run_socket_mode(make_service(tmp_path, COURSES), COURSES, settings, client=client)
    assert len(slack.calls_to("apps.connections.open")) == 1
