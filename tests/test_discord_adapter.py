"""The Discord adapter end to end: the real discord.py client logs in to a loopback fake of
Discord's gateway and REST API (tests/fakes/discord_server.py) and talks to a real
AssistantService over fixture lectures (tests/fakes/core.py). Each test dispatches gateway
events and checks the REST calls the bot made."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from discord.http import Route

from bot.adapters.discord import bot_intents, post_digest
from bot.adapters.discord_render import (
    LABEL_FALLBACK,
    PLACEHOLDER,
    TA_ONLY,
    digest_chunks,
)
from bot.models import Digest, DigestSection, Turn
from retrieval.models import SearchResult
from tests.discord_driver import (
    BIO_CHANNEL,
    BIO_GUILD,
    BIO_STUDENT,
    BOTH_COURSES,
    ML_CHANNEL,
    ML_GUILD,
    ML_TA_CHANNEL,
    ML_TA_ROLE,
    ML_UNCONFIGURED,
    NO_PINGS,
    SETTINGS,
    STUDENT,
    TA,
    Harness,
    footer_ref,
    guilds,
    open_harness,
)
from tests.fakes.core import FIXTURE_COURSES, FakeAnswerModel, WordOverlapRetriever, says
from tests.fakes.discord_server import FakeDiscord, Json, RecordedCall
from tests.scenario_driver import eventually

UNET_QUESTION = "Qual a função da camada de saída da U-Net?"


@pytest.fixture
async def start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[..., Awaitable[Harness]]]:
    harnesses: list[Harness] = []

    async def start_harness(
        model: FakeAnswerModel | None = None, retriever: WordOverlapRetriever | None = None
    ) -> Harness:
        harness = await open_harness(tmp_path, monkeypatch, model, retriever)
        harnesses.append(harness)
        return harness

    yield start_harness
    for harness in harnesses:
        await harness.close()


def bot_writes(fake: FakeDiscord) -> list[RecordedCall]:
    """Every message the bot posted or edited, in channels and through interaction webhooks."""
    channel = fake.find("POST", r"/channels/\d+/messages") + fake.find(
        "PATCH", r"/channels/\d+/messages/\d+"
    )
    hooks = fake.find("PATCH", r"/webhooks/.+") + fake.find("POST", r"/webhooks/.+")
    return channel + hooks


async def test_client_identifies_with_the_intents_it_needs_and_compression(
    start: Callable[..., Awaitable[Harness]],
) -> None:
    h = await start()
    assert h.fake.identify is not None
    assert h.fake.identify["intents"] == bot_intents().value
    assert h.fake.compression in ("zlib-stream", "zstd-stream")  # discord.py asks; the fake obliges
    registered = h.fake.find("PUT", r"/applications/\d+/guilds/\d+/commands")
    assert sorted(c.path.split("/")[4] for c in registered) == [str(ML_GUILD), str(BIO_GUILD)]
    names = sorted(cmd["name"] for cmd in registered[0].json)
    assert names == ["ask", "digest", "forget", "reindex", "review"]


async def test_mention_is_answered_in_a_thread_with_lecture_links_and_vote_reactions(
    start: Callable[..., Awaitable[Harness]],
) -> None:
    h = await start()
    question = await h.mention(STUDENT, ML_CHANNEL, UNET_QUESTION)
    [answer] = await h.answered()

    [thread_call] = h.fake.find(
        "POST", rf"/channels/{ML_CHANNEL}/messages/{question['id']}/threads"
    )
    assert thread_call.json["name"] == UNET_QUESTION
    thread_id = question["id"]  # a thread started from a message has the message's id
    assert answer["channel_id"] == thread_id and answer["author"]["id"] == str(h.fake.bot.user_id)

    [placeholder] = h.fake.find("POST", rf"/channels/{thread_id}/messages")
    assert placeholder.json["content"] == PLACEHOLDER
    edits = h.fake.find("PATCH", rf"/channels/{thread_id}/messages/{answer['id']}")
    assert edits[0].json["content"].endswith("▌"), "the answer is shown while it streams"
    assert edits[-1].json["content"].startswith("Segundo a aula: A camada de saída")

    embed = answer["embeds"][0]
    assert "[Aula 3 · 12:01–14:31](https://youtu.be/mlvid000001?t=721)" in embed["description"]
    ref = footer_ref(answer)
    assert answer["components"][0]["components"][0]["custom_id"] == f"human:{ref}"
    reactions = h.fake.find("PUT", rf"/channels/{thread_id}/messages/{answer['id']}/reactions/.+")
    assert [c.path.split("/")[6] for c in reactions] == ["👍", "👎"]

    logged = await h.service.interaction(ref)
    assert (logged.course_id, logged.channel, logged.thread) == ("ml", str(ML_CHANNEL), thread_id)
    # The fake echoes the bot's own 👍/👎 over the gateway; they are not votes.
    await asyncio.sleep(0.05)
    assert h.service.store.votes_for(ref) == []


async def test_follow_up_in_the_bot_thread_is_answered_with_the_earlier_turns(
    start: Callable[..., Awaitable[Harness]],
) -> None:
    h = await start()
    question = await h.mention(STUDENT, ML_CHANNEL, UNET_QUESTION)
    [first] = await h.answered()
    thread_id = int(question["id"])

    # A TA writing in the thread is answering the student: the bot keeps out of it.
    await h.send("MESSAGE_CREATE", h.fake.user_message(TA, thread_id, "Veja também a aula 4."))
    follow_up = h.fake.user_message(STUDENT, thread_id, "E o encoder da U-Net, o que faz?")
    await h.send("MESSAGE_CREATE", follow_up)
    _, second = await h.answered(2)
    assert [q.text for q in h.model.calls] == [UNET_QUESTION, "E o encoder da U-Net, o que faz?"]

    assert second["channel_id"] == str(thread_id)
    assert len(h.fake.find("POST", r"/channels/\d+/messages/\d+/threads")) == 1
    asked = h.model.calls[-1]
    assert asked.text == "E o encoder da U-Net, o que faz?"
    assert asked.history == (
        Turn("student", UNET_QUESTION),
        Turn("assistant", first["content"]),
    )
    assert (await h.service.interaction(footer_ref(second))).thread == str(thread_id)


async def test_slash_ask_defers_at_once_then_answers_in_a_thread_from_its_reply(
    start: Callable[..., Awaitable[Harness]],
) -> None:
    h = await start()
    command = h.fake.slash_command(STUDENT, ML_CHANNEL, "ask", {"question": UNET_QUESTION})
    await h.send("INTERACTION_CREATE", command)
    [answer] = await h.answered()

    token = command["token"]
    [first] = h.fake.find("POST", rf"/interactions/{command['id']}/{token}/callback")
    assert first.json["type"] == 5  # deferred ("thinking…"), before any other work
    assert h.fake.calls.index(first) == min(
        h.fake.calls.index(c) for c in h.fake.calls if token in c.path
    )
    [echo] = h.fake.find("PATCH", rf"/webhooks/{h.fake.application_id}/{token}/messages/@original")
    assert UNET_QUESTION in echo.json["content"]
    original_id = command["original"]["id"]
    [thread_call] = h.fake.find("POST", rf"/channels/{ML_CHANNEL}/messages/{original_id}/threads")
    assert h.fake.calls.index(echo) < h.fake.calls.index(thread_call)
    assert answer["channel_id"] == original_id
    assert "https://youtu.be/mlvid000001?t=721" in answer["embeds"][0]["description"]


async def test_slash_ask_knows_a_ta_by_their_role(start: Callable[..., Awaitable[Harness]]) -> None:
    h = await start()
    for answered, (member, text) in enumerate([(TA, UNET_QUESTION), (STUDENT, "E o dropout?")], 1):
        command = h.fake.slash_command(member, ML_CHANNEL, "ask", {"question": text})
        await h.send("INTERACTION_CREATE", command)
        await h.answered(answered)

    assert [q.asked_by_ta for q in h.model.calls] == [True, False]


async def test_slash_ask_inside_a_bot_thread_answers_in_its_reply_with_the_history(
    start: Callable[..., Awaitable[Harness]],
) -> None:
    h = await start()
    question = await h.mention(STUDENT, ML_CHANNEL, UNET_QUESTION)
    [first] = await h.answered()
    thread_id = int(question["id"])
    command = h.fake.slash_command(STUDENT, thread_id, "ask", {"question": "E o dropout?"})
    await h.send("INTERACTION_CREATE", command)
    _, second = await h.answered(2)

    assert second["id"] == command["original"]["id"] and second["channel_id"] == str(thread_id)
    assert len(h.fake.find("POST", r"/channels/\d+/messages/\d+/threads")) == 1
    assert h.model.calls[-1].history == (
        Turn("student", UNET_QUESTION),
        Turn("assistant", first["content"]),
    )
    assert "https://youtu.be/mlvid000002?t=95" in second["embeds"][0]["description"]


async def test_without_thread_permission_the_answer_replies_in_the_channel(
    start: Callable[..., Awaitable[Harness]],
) -> None:
    h = await start()
    h.fake.refuse_threads = True
    question = await h.mention(STUDENT, ML_CHANNEL, UNET_QUESTION)
    [answer] = await h.answered()
    assert answer["channel_id"] == str(ML_CHANNEL)
    [placeholder] = h.fake.find("POST", rf"/channels/{ML_CHANNEL}/messages")
    assert placeholder.json["message_reference"]["message_id"] == int(question["id"])
    assert placeholder.json["allowed_mentions"] == NO_PINGS  # replied_user defaults to false
    assert (await h.service.interaction(footer_ref(answer))).thread == ""


async def _answer_to_vote_on(h: Harness) -> tuple[Json, str, int]:
    """The bot's answer to a student's mention, its interaction ref and its message id."""
    await h.mention(STUDENT, ML_CHANNEL, UNET_QUESTION)
    [answer] = await h.answered()
    return answer, footer_ref(answer), int(answer["id"])


async def test_votes_are_stored_and_a_removed_reaction_retracts_even_after_a_restart(
    start: Callable[..., Awaitable[Harness]],
) -> None:
    h = await start()
    answer, ref, message_id = await _answer_to_vote_on(h)
    votes = h.service.store.votes_for

    await h.send(*h.fake.reaction(STUDENT, message_id, "👍"))
    await h.send(*h.fake.reaction(TA, message_id, "👎"))
    await eventually(lambda: len(votes(ref)) == 2)
    by_user = {v.is_ta: v.value for v in votes(ref)}
    assert by_user == {False: 1, True: -1}

    # A new process knows nothing of the message: it reads the ref back from Discord.
    await h.stop_bot()
    await h.start_bot()
    await h.send(*h.fake.reaction(STUDENT, message_id, "👍", added=False))
    await eventually(lambda: len(votes(ref)) == 3)
    assert [v.value for v in votes(ref)][-1] == 0
    assert h.fake.find("GET", rf"/channels/{answer['channel_id']}/messages/{message_id}")
    tally = await h.service.record_feedback(ref, "discord", str(BIO_STUDENT.user_id), 0)
    assert (tally.up, tally.down, tally.annotation) == (0, 1, "I")


async def test_removing_one_thumb_leaves_the_other_as_the_vote(
    start: Callable[..., Awaitable[Harness]],
) -> None:
    h = await start()
    _, ref, message_id = await _answer_to_vote_on(h)
    votes = h.service.store.votes_for
    for user in (STUDENT, TA):
        await h.send(*h.fake.reaction(user, message_id, "👍"))
        await h.send(*h.fake.reaction(user, message_id, "👎"))
    await eventually(lambda: len(votes(ref)) == 4)

    # The student takes back 👍 while 👎 stands; the TA takes back 👎 while 👍 stands.
    await h.send(*h.fake.reaction(STUDENT, message_id, "👍", added=False))
    await eventually(lambda: len(votes(ref)) == 5)
    await h.send(*h.fake.reaction(TA, message_id, "👎", added=False))
    await eventually(lambda: len(votes(ref)) == 6)

    student_vote, ta_vote = votes(ref)[-2:]
    assert (student_vote.value, student_vote.is_ta) == (-1, False)
    assert (ta_vote.value, ta_vote.is_ta) == (1, True)  # the TA's roles were looked up
    tally = await h.service.record_feedback(ref, "discord", str(BIO_STUDENT.user_id), 0)
    assert (tally.up, tally.down) == (1, 1)

    # Both thumbs gone: the vote is withdrawn.
    await h.send(*h.fake.reaction(STUDENT, message_id, "👎", added=False))
    await eventually(lambda: len(votes(ref)) == 7)
    assert votes(ref)[-1].value == 0


async def test_reactions_on_other_messages_and_other_emoji_are_not_votes(
    start: Callable[..., Awaitable[Harness]],
) -> None:
    h = await start()
    question = await h.mention(STUDENT, ML_CHANNEL, UNET_QUESTION)
    [answer] = await h.answered()
    await h.send(*h.fake.reaction(TA, int(question["id"]), "👍"))  # the student's message
    await h.send(*h.fake.reaction(STUDENT, int(answer["id"]), "🎉"))
    await h.send(*h.fake.reaction(STUDENT, int(answer["id"]), "👍"))
    await eventually(lambda: h.service.store.votes_for(footer_ref(answer)))
    await asyncio.sleep(0.05)
    assert [v.value for v in h.service.store.votes_for(footer_ref(answer))] == [1]


async def test_each_channel_gets_only_its_own_course(
    start: Callable[..., Awaitable[Harness]],
) -> None:
    retriever = WordOverlapRetriever()
    h = await start(retriever=retriever)
    await h.mention(BIO_STUDENT, BIO_CHANNEL, "O que a mitocôndria produz?")
    [bio] = await h.answered()
    assert retriever.calls[-1][0] == "bio"
    assert "https://youtu.be/biovid00001?t=30" in bio["embeds"][0]["description"]

    await h.mention(BIO_STUDENT, BIO_CHANNEL, UNET_QUESTION)  # an ML question in the bio channel
    _, other = await h.answered(2)
    assert retriever.calls[-1] == ("bio", UNET_QUESTION)
    assert (await h.service.interaction(footer_ref(other))).course_id == "bio"
    assert all("mlvid" not in str(c.json) for c in bot_writes(h.fake))


async def test_unconfigured_channel_is_ignored_but_a_ta_is_told_how_to_configure_it(
    start: Callable[..., Awaitable[Harness]],
) -> None:
    h = await start()
    await h.mention(STUDENT, ML_UNCONFIGURED, UNET_QUESTION)
    await h.mention(TA, ML_UNCONFIGURED, UNET_QUESTION)
    [note] = await h.fake.wait_for("POST", rf"/channels/{ML_UNCONFIGURED}/messages")
    assert str(ML_UNCONFIGURED) in note.json["content"] and "COURSES_FILE" in note.json["content"]
    await asyncio.sleep(0.05)
    assert len(h.fake.find("POST", rf"/channels/{ML_UNCONFIGURED}/messages")) == 1
    assert h.model.calls == []


async def test_digest_and_reindex_are_refused_to_a_student_and_run_for_a_ta(
    start: Callable[..., Awaitable[Harness]],
) -> None:
    h = await start()
    await h.mention(STUDENT, ML_CHANNEL, UNET_QUESTION)
    await h.answered()

    refused = h.fake.slash_command(STUDENT, ML_CHANNEL, "digest")
    await h.send("INTERACTION_CREATE", refused)
    [refusal] = await h.fake.wait_for("POST", rf"/interactions/{refused['id']}/.+/callback")
    assert refusal.json["type"] == 4 and refusal.json["data"]["content"] == TA_ONLY
    assert refusal.json["data"]["flags"] & 64  # ephemeral

    allowed = h.fake.slash_command(TA, ML_TA_CHANNEL, "digest")  # the TA channel maps to ml
    await h.send("INTERACTION_CREATE", allowed)
    [deferred] = await h.fake.wait_for("POST", rf"/interactions/{allowed['id']}/.+/callback")
    assert deferred.json == {"type": 5, "data": {"flags": 64}}
    expected = await h.service.build_digest("ml")
    chunks = digest_chunks(expected)
    previews = await h.fake.wait_for(
        "POST", rf"/webhooks/\d+/{allowed['token']}", count=len(chunks)
    )
    assert [p.json["content"] for p in previews] == chunks
    assert all(p.json["flags"] & 64 for p in previews)
    if expected.chart_png:  # matplotlib is optional
        assert previews[-1].files[0][1].startswith(b"\x89PNG")

    student_reindex = h.fake.slash_command(STUDENT, ML_CHANNEL, "reindex")
    await h.send("INTERACTION_CREATE", student_reindex)
    [no] = await h.fake.wait_for("POST", rf"/interactions/{student_reindex['id']}/.+/callback")
    assert no.json["data"]["content"] == TA_ONLY
    ta_reindex = h.fake.slash_command(TA, ML_CHANNEL, "reindex")
    await h.send("INTERACTION_CREATE", ta_reindex)
    [result] = await h.fake.wait_for("POST", rf"/webhooks/\d+/{ta_reindex['token']}")
    assert result.json["flags"] & 64 and result.json["content"]


async def test_everyone_in_an_answer_pings_no_one(
    start: Callable[..., Awaitable[Harness]],
) -> None:
    h = await start(FakeAnswerModel(script=says("@everyone a U-Net usa softmax <@&3001>")))
    await h.mention(STUDENT, ML_CHANNEL, UNET_QUESTION)
    [answer] = await h.answered()
    assert answer["content"].startswith("@everyone")
    writes = bot_writes(h.fake)
    assert writes and all(c.json["allowed_mentions"] == NO_PINGS for c in writes)


async def test_a_long_answer_is_split_and_its_last_part_carries_links_button_and_votes(
    start: Callable[..., Awaitable[Harness]],
) -> None:
    long_text = " ".join(f"frase{i} sobre a U-Net." for i in range(300))  # ~7,000 characters
    h = await start(FakeAnswerModel(script=says(long_text)))
    question = await h.mention(STUDENT, ML_CHANNEL, UNET_QUESTION)
    [last] = await h.answered()
    parts = list(h.fake.posted(int(question["id"])))
    assert len(parts) == 4 and parts[-1] is last
    assert all(len(p["content"]) <= 2000 for p in parts)
    assert " ".join(p["content"] for p in parts) == long_text
    assert [bool(p["embeds"]) for p in parts] == [False, False, False, True]
    assert last["components"][0]["components"][0]["custom_id"] == f"human:{footer_ref(last)}"


async def test_a_failing_llm_gives_a_labelled_fallback_with_the_lecture_links(
    start: Callable[..., Awaitable[Harness]],
) -> None:
    h = await start(FakeAnswerModel(fail=True))
    await h.mention(STUDENT, ML_CHANNEL, UNET_QUESTION)
    [answer] = await h.answered()
    assert answer["content"].startswith("⚠️ Resposta automática, não gerada por IA")
    assert LABEL_FALLBACK in answer["embeds"][0]["footer"]["text"]
    assert "https://youtu.be/mlvid000001?t=721" in answer["embeds"][0]["description"]
    assert (await h.service.interaction(footer_ref(answer))).fallback


class BrokenRetriever(WordOverlapRetriever):
    async def search(self, course_id: str, text: str, k: int) -> SearchResult:
        raise OSError("lancedb directory is gone")


async def test_a_failure_tells_the_student_with_the_reference_and_posts_no_votes(
    start: Callable[..., Awaitable[Harness]],
) -> None:
    h = await start(retriever=BrokenRetriever())
    question = await h.mention(STUDENT, ML_CHANNEL, UNET_QUESTION)
    thread = question["id"]
    edit = await h.fake.wait_for("PATCH", rf"/channels/{thread}/messages/\d+")
    assert edit[-1].json["content"].startswith("😕 Não consegui responder agora")
    ref = edit[-1].json["content"].split("ref `")[1].rstrip("`)")
    assert (await h.service.interaction(ref)).error.startswith("OSError")
    assert not h.fake.find("PUT", r"/channels/.+/reactions/.+")


async def test_need_a_human_marks_the_interaction_and_pings_only_the_ta_role(
    start: Callable[..., Awaitable[Harness]],
) -> None:
    h = await start()
    await h.mention(STUDENT, ML_CHANNEL, UNET_QUESTION)
    [answer] = await h.answered()
    ref = footer_ref(answer)
    click = h.fake.button_click(STUDENT, int(answer["id"]), f"human:{ref}")
    await h.send("INTERACTION_CREATE", click)
    [ping] = await h.fake.wait_for(
        "POST",
        rf"/channels/{answer['channel_id']}/messages",
        where=lambda c: "<@&" in c.json["content"],
    )
    assert f"<@&{ML_TA_ROLE}>" in ping.json["content"]
    assert ping.json["allowed_mentions"] == {"parse": [], "roles": [ML_TA_ROLE]}
    [ack] = h.fake.find("POST", rf"/interactions/{click['id']}/.+/callback")
    assert ack.json["data"]["flags"] & 64
    assert (await h.service.interaction(ref)).escalated

    # The thread is marked for the TAs, and the bot answers there only when mentioned.
    thread = int(answer["channel_id"])
    [rename] = await h.fake.wait_for("PATCH", rf"/channels/{thread}")
    assert rename.json["name"] == f"🙋 {UNET_QUESTION}"
    await h.send("MESSAGE_CREATE", h.fake.user_message(STUDENT, thread, "Alguém aí?"))
    await h.mention(STUDENT, thread, "E o encoder?")
    await h.answered(2)
    assert [q.text for q in h.model.calls] == [UNET_QUESTION, "E o encoder?"]


async def test_direct_messages_use_the_one_shared_course_or_explain_where_to_ask(
    start: Callable[..., Awaitable[Harness]],
) -> None:
    h = await start()
    dm = h.fake.dm_channel(BIO_STUDENT)
    await h.send(
        "MESSAGE_CREATE", h.fake.user_message(BIO_STUDENT, dm, "O ribossomo traduz o quê?")
    )
    [answer] = await h.answered()
    assert answer["channel_id"] == str(dm)
    assert (await h.service.interaction(footer_ref(answer))).course_id == "bio"
    # A follow-up in the DM carries the conversation so far.
    await h.send("MESSAGE_CREATE", h.fake.user_message(BIO_STUDENT, dm, "E o RNA mensageiro?"))
    _, second = await h.answered(2)
    assert h.model.calls[-1].history == (
        Turn("student", "O ribossomo traduz o quê?"),
        Turn("assistant", answer["content"]),
    )
    kept = await h.service.interaction(footer_ref(second))
    # The DM channel's id names the student: it is kept as a pseudonym, never as is.
    assert kept.thread == kept.channel and kept.channel.startswith("c_")
    assert str(dm) not in (kept.channel, kept.thread)

    both = h.fake.dm_channel(BOTH_COURSES)
    await h.send("MESSAGE_CREATE", h.fake.user_message(BOTH_COURSES, both, "O que é dropout?"))
    [explained] = await h.fake.wait_for("POST", rf"/channels/{both}/messages")
    assert "mais de uma disciplina" in explained.json["content"]
    assert len(h.model.calls) == 2


async def test_a_ta_asking_in_a_direct_message_is_known_by_their_roles_in_the_course_guild(
    start: Callable[..., Awaitable[Harness]],
) -> None:
    h = await start()
    asked = [(TA, "O que é dropout?"), (STUDENT, "E o encoder da U-Net?")]
    for answered, (member, text) in enumerate(asked, start=1):
        dm = h.fake.dm_channel(member)
        await h.send("MESSAGE_CREATE", h.fake.user_message(member, dm, text))
        await h.answered(answered)

    assert [(q.course_id, q.asked_by_ta) for q in h.model.calls] == [("ml", True), ("ml", False)]


async def test_post_digest_uses_rest_only_with_the_chart_attached(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeDiscord(guilds())
    await fake.start()
    monkeypatch.setattr(Route, "BASE", fake.api_base)
    try:
        section = DigestSection("Resumo da semana", tuple(f"linha {i} " * 20 for i in range(30)))
        digest = Digest("ml", datetime(2025, 3, 3, tzinfo=UTC), (section,), b"\x89PNG chart")
        await post_digest(SETTINGS, FIXTURE_COURSES.get("ml"), digest)
    finally:
        await fake.close()
    posts = fake.find("POST", rf"/channels/{ML_TA_CHANNEL}/messages")
    assert len(posts) >= 2 and all(len(c.json["content"]) <= 2000 for c in posts)
    assert posts[-1].files == (("perguntas-ml.png", b"\x89PNG chart"),)
    assert fake.identify is None  # no gateway session
