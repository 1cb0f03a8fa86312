"""One list of scenarios, run against both platforms: the same product behaviour on Discord
and on Slack, each through its real chat library and a loopback fake of the platform, so
parity is tested, not hoped for. A scenario that passes on one platform and fails on the
other is a divergence of the product, to be fixed there."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yarl

from bot.annotations import VoteTally, tally
from bot.models import Turn
from bot.pseudonym import pseudonymise
from bot.review_links import LinkRefused
from bot.service import REFUSED_RESTARTING
from bot.store import SqlStore
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
