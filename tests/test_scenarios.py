"""One list of scenarios, run against both platforms: the same product behaviour on Discord
and on Slack, each through its real chat library and a loopback fake of the platform, so
parity is tested, not hoped for. A scenario that passes on one platform and fails on the
other is a divergence of the product, to be fixed there."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yarl

from bot.annotations import VoteTally, tally
from bot.courses import Courses
from bot.model_queue import ModelQueue
from bot.models import Draft, Hit, Question, Turn
from bot.ports import OnText
from bot.pseudonym import pseudonymise
from bot.review_links import LinkRefused
from bot.service import REFUSED_RESTARTING
from bot.store import SqlStore
from bot.store.schema import refusals
from retrieval.models import SearchResult
from tests.discord_driver import DiscordDriver, open_harness
from tests.fakes.core import PSEUDONYM_SECRET, FakeAnswerModel, WordOverlapRetriever
from tests.fakes.slack_api import FakeSlackAPI
from tests.scenario_driver import PlatformDriver, eventually, links_in
from tests.slack_driver import USERGROUPS, SlackDriver, start_app

UNET = "Qual a função da camada de saída da U-Net?"
ENCODER = "E o encoder da U-Net, o que faz?"
UNET_LINK = "https://youtu.be/mlvid000001?t=721"  # the cited lecture moment, to the second
ENCODER_LINK = "https://youtu.be/mlvid000001?t=601"

Start = Callable[..., Awaitable[PlatformDriver]]


@pytest.fixture(params=["discord", "slack"])
async def start(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Start]:
    """``await start(model=..., retriever=...)``: the bot on the platform of the test's id."""
    async with contextlib.AsyncExitStack() as stack:

        async def on_discord(**fakes: Any) -> PlatformDriver:
            harness = await open_harness(tmp_path, monkeypatch, **fakes)
            stack.push_async_callback(harness.close)
            return DiscordDriver(harness)

        async def on_slack(**fakes: Any) -> PlatformDriver:
            slack = await stack.enter_async_context(FakeSlackAPI(usergroups=USERGROUPS))
            bot, server = await start_app(slack, tmp_path, **fakes)
            stack.callback(bot.service.store.close)  # type: ignore[attr-defined]
            stack.push_async_callback(server.close)
            return SlackDriver(bot)

        yield on_discord if request.param == "discord" else on_slack


def votes_on(platform: PlatformDriver, ref: str) -> VoteTally:
    return tally(platform.service.store.votes_for(ref))


async def test_a_question_is_answered_in_its_thread_with_links_to_the_second(start: Start) -> None:
    platform = await start()
    answer = await platform.ask("student", UNET)

    assert answer.thread == answer.question  # the thread hangs off the student's question
    assert UNET_LINK in answer.links
    assert "Segundo a aula: A camada de saída" in answer.text
    kept = await platform.service.interaction(answer.ref)
    assert (kept.platform, kept.thread, kept.question) == (platform.name, answer.thread, UNET)
    assert [c.url for c in kept.citations] == [UNET_LINK]


async def test_a_follow_up_in_the_thread_is_answered_there_with_the_earlier_turns(
    start: Start,
) -> None:
    platform = await start()
    first = await platform.ask("student", UNET)
    second = await platform.follow_up("student", first, ENCODER)

    assert second.thread == first.thread and second.ref != first.ref
    assert ENCODER_LINK in second.links
    asked = platform.model.calls[-1]
    assert asked.text == ENCODER
    assert [t.role for t in asked.history] == ["student", "assistant"]
    assert asked.history[0] == Turn("student", UNET)
    assert (await platform.service.interaction(second.ref)).thread == first.thread


async def test_a_ta_answering_in_the_thread_is_left_to_it(start: Start) -> None:
    platform = await start()
    first = await platform.ask("student", UNET)
    await platform.say("ta", first, "Veja também a aula 4.")
    await platform.follow_up("student", first, ENCODER)

    assert [q.text for q in platform.model.calls] == [UNET, ENCODER]


async def test_once_a_human_is_asked_for_the_bot_answers_in_the_thread_only_when_mentioned(
    start: Start,
) -> None:
    platform = await start()
    first = await platform.ask("student", UNET)
    await platform.escalate("student", first)
    await platform.say("student", first, "Alguém aí?")  # for the TAs now
    second = await platform.follow_up("student", first, ENCODER, mention=True)

    assert [q.text for q in platform.model.calls] == [UNET, ENCODER]
    assert second.thread == first.thread and ENCODER_LINK in second.links


async def test_thumbs_up_then_down_then_removed_each_change_the_tally(start: Start) -> None:
    platform = await start()
    answer = await platform.ask("student", UNET)

    await platform.vote("student", answer, "up")
    assert (votes_on(platform, answer.ref).up, votes_on(platform, answer.ref).down) == (1, 0)
    await platform.vote("student", answer, "down")  # both thumbs shown: the latest counts
    assert (votes_on(platform, answer.ref).up, votes_on(platform, answer.ref).down) == (0, 1)
    await platform.vote("student", answer, "down", added=False)  # 👍 still stands
    assert (votes_on(platform, answer.ref).up, votes_on(platform, answer.ref).down) == (1, 0)
    await platform.vote("student", answer, "up", added=False)  # nothing stands: withdrawn
    assert votes_on(platform, answer.ref) == VoteTally(up=0, down=0, ta_vote=0, annotation=None)
    events = platform.service.store.votes_for(answer.ref)
    assert [v.value for v in events] == [1, -1, 1, 0] and not any(v.is_ta for v in events)


async def test_a_tas_vote_decides_against_the_students(start: Start) -> None:
    platform = await start()
    answer = await platform.ask("student", UNET)

    await platform.vote("student", answer, "up")
    await platform.vote("classmate", answer, "up")
    assert votes_on(platform, answer.ref).annotation == "C"
    await platform.vote("ta", answer, "down")

    assert votes_on(platform, answer.ref) == VoteTally(up=2, down=1, ta_vote=-1, annotation="I")


async def test_asking_for_a_human_twice_pings_the_tas_once(start: Start) -> None:
    platform = await start()
    answer = await platform.ask("student", UNET)

    first = await platform.escalate("student", answer)
    again = await platform.escalate("classmate", answer)

    assert first != platform.already_escalated and again == platform.already_escalated
    assert platform.ta_pings() == [answer.thread]  # one ping, in the student's thread
    assert (await platform.service.interaction(answer.ref)).escalated


async def test_a_ta_command_from_a_student_is_refused(start: Start) -> None:
    platform = await start()
    assert await platform.ta_command("student", "digest") == platform.ta_only
    assert await platform.ta_command("ta", "digest") not in ("", platform.ta_only)


async def test_a_ta_forgets_a_student_and_a_student_cannot(start: Start) -> None:
    platform = await start()
    store = platform.service.store
    mine = await platform.ask("student", UNET)
    await platform.vote("student", mine, "up")
    theirs = await platform.ask("classmate", ENCODER)
    await platform.vote("student", theirs, "down")
    await platform.vote("classmate", theirs, "up")

    assert await platform.ta_command("student", "forget", about="classmate") == platform.ta_only
    told = await platform.ta_command("ta", "forget", about="student")
    assert (
        "apagados: 1 pergunta(s) com resposta, 2 voto(s), 0 avaliação(ões), "
        "1 tarefa(s) do avaliador, 0 registro(s) do diário"
    ) in told
    assert store.get_interaction(mine.ref) is None  # their question, its vote and judge job
    assert store.get_interaction(theirs.ref) is not None  # a classmate's stays, with their vote
    assert [v.value for v in store.votes_for(theirs.ref)] == [1]
    again = await platform.ta_command("ta", "forget", about="student")
    assert "apagados: 0 pergunta(s) com resposta, 0 voto(s)," in again


async def test_review_gives_a_ta_a_private_link_to_the_course_page_and_refuses_students(
    start: Start,
) -> None:
    platform = await start()
    assert await platform.ta_command("student", "review") == platform.ta_only

    told = await platform.ta_command("ta", "review")

    [link] = links_in(told)
    url = yarl.URL(link)
    assert (url.host, url.path) == ("revisao.test", "/review/ml")
    access = platform.service.review_access(url.query["t"], "ml")
    ta = pseudonymise(PSEUDONYM_SECRET, platform.name, platform.user_id("ta"))
    assert access.ta_ref == ta and platform.user_id("ta") not in link
    with pytest.raises(LinkRefused):
        platform.service.review_access(url.query["t"], "bio")


async def test_claude_failing_gives_the_fallback_with_links_and_tells_the_tas(
    start: Start,
) -> None:
    platform = await start(model=FakeAnswerModel(fail=True))
    answer = await platform.ask("student", UNET)

    assert "não gerada por IA" in answer.text and UNET_LINK in answer.links
    kept = await platform.service.interaction(answer.ref)
    assert kept.fallback and "529 overloaded_error" in kept.error
    [alert] = await eventually(platform.ta_channel_posts)
    assert answer.ref in alert and "529 overloaded_error" in alert


class BrokenRetriever(WordOverlapRetriever):
    async def search(self, course_id: str, text: str, k: int) -> SearchResult:
        raise OSError("lancedb directory is gone")


async def test_an_unanswerable_question_shows_a_kept_reference_and_tells_the_tas(
    start: Start,
) -> None:
    platform = await start(retriever=BrokenRetriever())
    shown = await platform.ask_unanswered("student", UNET)

    assert shown.thread == shown.question and "Os monitores foram avisados" in shown.text
    kept = await platform.service.interaction(shown.ref)  # the reference names a kept row
    assert kept.error == "OSError: lancedb directory is gone"
    [alert] = platform.ta_channel_posts()
    assert shown.ref in alert and "lancedb directory is gone" in alert


async def test_with_the_index_down_the_tas_hear_once_and_every_student_that_they_know(
    start: Start,
) -> None:
    platform = await start(retriever=BrokenRetriever())
    first = await platform.ask_unanswered("student", UNET)
    later = [
        await platform.ask_unanswered("classmate", ENCODER),
        await platform.ask_unanswered("student", ENCODER),
    ]

    [alert] = platform.ta_channel_posts()  # posted before the first student was told
    assert first.ref in alert
    for shown in (first, *later):
        assert "Os monitores foram avisados" in shown.text
        kept = await platform.service.interaction(shown.ref)
        assert kept.error == "OSError: lancedb directory is gone"


def refuse_writes(store: SqlStore) -> Callable[[], None]:
    """SQLite refusing every write from now on, as a read-only database file does (see
    tests/test_outage.py); the function returned lets it write again."""
    read_only = threading.Event()
    read_only.set()

    def query_only(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.execute(f"PRAGMA query_only = {int(read_only.is_set())}")

    sa.event.listen(store.db.engine, "checkout", query_only)
    return read_only.clear


async def test_with_the_database_down_the_answer_is_given_and_kept(start: Start) -> None:
    platform = await start()
    store: SqlStore = platform.service.store  # type: ignore[assignment]
    writable = refuse_writes(store)
    answer = await platform.ask("student", UNET)

    assert UNET_LINK in answer.links and "Segundo a aula" in answer.text
    assert store.get_interaction(answer.ref) is None
    journaled = platform.service.journal.interaction(answer.ref)
    assert journaled is not None and journaled.thread == answer.thread

    writable()
    assert platform.service.journal.replay(store).written == 1
    assert store.get_interaction(answer.ref) == journaled


async def test_with_the_database_down_asking_for_a_human_twice_still_pings_once(
    start: Start,
) -> None:
    platform = await start()
    answer = await platform.ask("student", UNET)
    refuse_writes(platform.service.store)  # type: ignore[arg-type]

    await platform.escalate("student", answer)
    assert await platform.escalate("classmate", answer) == platform.already_escalated

    assert platform.ta_pings() == [answer.thread]
    assert (await platform.service.interaction(answer.ref)).escalated  # the journal knows


async def test_a_question_while_the_bot_restarts_is_kept_and_its_student_asked_to_ask_later(
    start: Start,
) -> None:
    platform = await start()
    drained = await platform.service.restart.drain(grace_s=30)  # nothing in flight: at once
    assert drained.finished == drained.interrupted == 0

    shown = await platform.ask_unanswered("student", UNET, told="reiniciando")

    assert "pergunte de novo em um minuto" in shown.text
    [kept] = platform.service.store.list_interactions("ml")
    assert kept.error == REFUSED_RESTARTING and kept.question == UNET
    assert platform.ta_channel_posts() == []  # a restart is no failure to alert about
    assert platform.model.calls == []


# -- fair use: rate limit, the model's queue, the daily token budget, repeated questions ------

DROPOUT = "O que o dropout faz durante o treino?"


def limit(platform: PlatformDriver, **limits: Any) -> None:
    """The ml course with these fair-use limits (the rest as the fixture has them)."""
    service = platform.service
    service.courses = Courses(
        [
            replace(c, limits=replace(c.limits, **limits)) if c.id == "ml" else c
            for c in service.courses
        ]
    )


def refused_questions(platform: PlatformDriver) -> list[str]:
    store: SqlStore = platform.service.store  # type: ignore[assignment]
    with store.db.engine.connect() as conn:
        return list(conn.execute(sa.select(refusals.c.question).order_by(refusals.c.id)).scalars())


async def test_a_student_past_the_rate_limit_is_told_when_to_ask_again_and_others_are_not(
    start: Start,
) -> None:
    platform = await start()
    limit(platform, burst=1, rate_per_minute=2)  # a question now, then one each 30 s
    await platform.ask("student", UNET)
    told = await platform.ask_unanswered("student", ENCODER, told="pergunte de novo")

    wait = re.search(r"pergunte de novo em (\d+) s\b", told.text)
    assert wait is not None and 20 <= int(wait.group(1)) <= 30, told.text  # 30 s less time taken
    assert refused_questions(platform) == [ENCODER]  # kept, though not answered
    other = await platform.ask("classmate", ENCODER)  # each student has a bucket of their own
    assert ENCODER_LINK in other.links
    assert [q.text for q in platform.model.calls] == [UNET, ENCODER]


async def test_a_ta_trying_the_bot_out_is_not_rate_limited(start: Start) -> None:
    platform = await start()
    limit(platform, burst=1, rate_per_minute=2)

    first = await platform.ask("ta", UNET)
    second = await platform.ask("ta", ENCODER)

    assert UNET_LINK in first.links and ENCODER_LINK in second.links
    assert refused_questions(platform) == []
    assert [q.asked_by_ta for q in platform.model.calls] == [True, True]


class GatedModel(FakeAnswerModel):
    """Claude writing each answer only once the test lets one through."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Semaphore(0)

    async def answer(
        self, question: Question, hits: Sequence[Hit], policy: str, on_text: OnText | None = None
    ) -> Draft:
        await self.gate.acquire()
        return await super().answer(question, hits, policy, on_text)


async def test_questions_waiting_for_the_model_show_their_place_in_line(start: Start) -> None:
    model = GatedModel()
    platform = await start(model=model)
    platform.service.model_queue = ModelQueue(1)  # one answer at a time
    asked = [
        asyncio.create_task(platform.ask(who, text))
        for who, text in (("student", UNET), ("classmate", ENCODER), ("ta", DROPOUT))
    ]

    def shown_places() -> set[str]:
        texts = " ".join(platform.placeholder_texts())
        return {place for place in ("1º na fila", "2º na fila") if f"você é o {place}" in texts}

    assert await eventually(lambda: shown_places() == {"1º na fila", "2º na fila"})
    for _ in asked:
        model.gate.release()
    answers = await asyncio.gather(*asked)
    assert sorted(q.text for q in model.calls) == sorted([UNET, ENCODER, DROPOUT])
    assert all("Segundo a aula" in a.text for a in answers)


async def test_past_the_daily_token_budget_answers_are_extractive_and_the_tas_told_once(
    start: Start,
) -> None:
    platform = await start()
    limit(platform, daily_token_budget=100)  # each fake answer spends 120 tokens
    first = await platform.ask("student", UNET)
    second = await platform.ask("classmate", ENCODER)
    third = await platform.ask("student", DROPOUT)

    assert "Segundo a aula" in first.text
    assert all("não gerada por IA" in a.text for a in (second, third))
    assert ENCODER_LINK in second.links  # the lecture moments all the same
    assert [q.text for q in platform.model.calls] == [UNET]
    kept = await platform.service.interaction(second.ref)
    assert kept.fallback and "daily token budget spent (120 of 100)" in kept.error
    [alert] = await eventually(platform.ta_channel_posts)
    assert "orçamento diário de tokens" in alert and second.ref in alert


UNET_AGAIN = "qual a FUNCAO da camada de saida da u net"  # the same, once normalised


async def test_a_repeated_question_gets_the_earlier_answer_at_once_marked_and_linked(
    start: Start,
) -> None:
    platform = await start()
    first = await platform.ask("student", UNET)
    again = await platform.ask("classmate", UNET_AGAIN)

    assert [q.text for q in platform.model.calls] == [UNET]  # no second model call
    assert "Segundo a aula: A camada de saída" in again.text and UNET_LINK in again.links
    assert "Mesma resposta dada há pouco" in again.text and first.ref in again.text
    kept = await platform.service.interaction(again.ref)
    assert (kept.repeat_of, kept.question, kept.usage.output_tokens) == (first.ref, UNET_AGAIN, 0)
    assert [c.url for c in kept.citations] == [UNET_LINK]


async def test_a_repeated_question_whose_answer_was_rated_down_goes_to_the_model(
    start: Start,
) -> None:
    platform = await start()
    first = await platform.ask("student", UNET)
    await platform.vote("student", first, "down")
    again = await platform.ask("classmate", UNET_AGAIN)

    assert [q.text for q in platform.model.calls] == [UNET, UNET_AGAIN]
    assert "Mesma resposta" not in again.text
    assert (await platform.service.interaction(again.ref)).repeat_of == ""


async def test_repeated_questions_go_to_the_model_when_the_course_turns_repeats_off(
    start: Start,
) -> None:
    platform = await start()
    limit(platform, repeat_answers=False)
    await platform.ask("student", UNET)
    await platform.ask("classmate", UNET_AGAIN)

    assert [q.text for q in platform.model.calls] == [UNET, UNET_AGAIN]
