"""The fair-use rules below the chat: the token bucket in the database (on SQLite and
PostgreSQL, with the time passed in), the model's queue, the daily token budget and repeated
questions found by embedding, through the service."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.courses import Courses, Limits
from bot.errors import RateLimitedError
from bot.limits import (
    close_ones,
    differ_only_in_filler,
    normalised,
    take_token,
    vector_bytes,
    wait_words,
)
from bot.model_queue import ModelQueue
from bot.models import Question
from bot.store import SqlStore, make_engine
from bot.store.schema import refusals
from retrieval.models import SearchResult
from tests.fakes.core import FIXTURE_COURSES, WordOverlapRetriever, make_service

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PER_MINUTE = 1 / 60


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# -- the bucket's arithmetic and its words ---------------------------------------------------


def test_the_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    assert take_token(0.0, 30, PER_MINUTE, 3) == take_token(0.5, 0, PER_MINUTE, 3)
    assert take_token(0.5, 0, PER_MINUTE, 3).wait_s == pytest.approx(30)
    assert take_token(2.5, 3600, PER_MINUTE, 3).tokens == 2  # capped at 3, then one taken
    assert take_token(0.2, -50, PER_MINUTE, 3).tokens == 0.2  # a clock gone back adds nothing


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0.2, "em 1 s"), (39.1, "em 40 s"), (60, "em 1 min"), (61, "em 2 min"), (7200, "em 2 h")],
)
def test_when_to_ask_again_is_rounded_up(seconds: float, words: str) -> None:
    assert wait_words(seconds) == words


# -- the bucket in the database, shared ------------------------------------------------------


def test_a_students_bucket_lets_a_burst_through_then_one_question_per_refill(
    store: SqlStore,
) -> None:
    def take(seconds: float, who: str = "u_1") -> float:
        return store.fairness.take_token("ml", who, PER_MINUTE, 2, at(seconds)).wait_s

    assert [take(0), take(1)] == [0, 0]
    assert take(2) == pytest.approx(58)  # the bucket had refilled 2 s' worth
    assert take(30) == pytest.approx(30)  # a refused question takes nothing
    assert take(60) == 0
    assert take(60, who="u_2") == 0  # another student's bucket is full
    assert take(60, who="u_2") == 0 and take(61, who="u_2") > 0


def test_a_process_whose_clock_lags_never_rewinds_the_bucket(store: SqlStore) -> None:
    fairness = store.fairness
    assert fairness.take_token("ml", "u_1", PER_MINUTE, 1, at(60)).allowed
    lagging = fairness.take_token("ml", "u_1", PER_MINUTE, 1, at(0))
    assert not lagging.allowed and lagging.wait_s == pytest.approx(60)
    assert fairness.take_token("ml", "u_1", PER_MINUTE, 1, at(120)).allowed


def test_two_processes_share_each_students_bucket_and_never_both_take_the_last_token(
    store: SqlStore,
) -> None:
    """Each thread has a store of its own (its own engine and pool), as a second process
    would; eight questions at the same instant against a burst of three."""
    url = store.db.engine.url.render_as_string(hide_password=False)
    others = [SqlStore(make_engine(url)) for _ in range(8)]
    allowed: list[bool] = []
    start = threading.Barrier(len(others))

    def ask(other: SqlStore) -> None:
        start.wait()
        took = other.fairness.take_token("ml", "u_1", PER_MINUTE, 3, T0)
        allowed.append(took.allowed)

    threads = [threading.Thread(target=ask, args=(other,)) for other in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for other in others:
        other.close()
    assert sorted(allowed) == [False] * 5 + [True] * 3
    assert not store.fairness.take_token("ml", "u_1", PER_MINUTE, 3, T0).allowed


def test_a_notice_is_claimed_once_a_day_per_course(store: SqlStore) -> None:
    claim = store.fairness.claim_notice
    day = date(2026, 12, 1)
    assert claim("ml", "token_budget", day, T0)
    assert not claim("ml", "token_budget", day, at(60))
    assert claim("bio", "token_budget", day, T0)
    assert claim("ml", "token_budget", date(2026, 12, 2), at(86400))


# -- the model's queue -----------------------------------------------------------------------


async def test_the_queue_serves_in_order_and_tells_each_waiter_its_place_as_it_moves() -> None:
    queue = ModelQueue(1)
    places: dict[str, list[int]] = {"b": [], "c": []}
    served: list[str] = []
    release = {name: asyncio.Event() for name in "abc"}

    async def hold(name: str) -> None:
        async def told(place: int) -> None:
            places[name].append(place)

        async with queue.slot(told):
            served.append(name)
            await release[name].wait()

    tasks = []
    for name in "abc":
        tasks.append(asyncio.create_task(hold(name)))
        await asyncio.sleep(0)  # each joins the line before the next
    assert served == ["a"] and places == {"b": [1], "c": [2]}
    release["a"].set()
    await _until(lambda: served == ["a", "b"] and places["c"] == [2, 1])
    release["b"].set()
    release["c"].set()
    await asyncio.gather(*tasks)
    assert served == ["a", "b", "c"] and places == {"b": [1], "c": [2, 1]}
    assert queue.waiting == 0


async def test_a_question_that_leaves_the_line_moves_those_behind_it_up() -> None:
    queue = ModelQueue(1)
    places: list[int] = []
    held = asyncio.Event()

    async def hold() -> None:
        async with queue.slot():
            await held.wait()

    async def told(place: int) -> None:
        places.append(place)

    async def wait_behind() -> None:
        async with queue.slot(told):
            pass

    first = asyncio.create_task(hold())
    await asyncio.sleep(0)
    leaving = asyncio.create_task(queue.slot().__aenter__())
    await asyncio.sleep(0)
    behind = asyncio.create_task(wait_behind())
    await _until(lambda: places == [2])
    leaving.cancel()  # e.g. the student's request timed out
    await _until(lambda: places == [2, 1])
    held.set()
    await asyncio.gather(first, behind)
    assert queue.waiting == 0


async def _until(check: object) -> None:
    for _ in range(1000):
        if callable(check) and check():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not met")


# -- through the service ---------------------------------------------------------------------


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def courses_with(**limits: Any) -> Courses:
    return Courses([replace(c, limits=Limits(**limits)) for c in FIXTURE_COURSES])


def chat(text: str, asker: str = "U1") -> Question:
    return Question("ml", text, "slack", "CML", "", asker)


async def test_a_refused_question_is_kept_with_the_wait_the_student_was_told(
    tmp_path: Path,
) -> None:
    clock = Clock(T0)
    service = make_service(tmp_path, courses_with(burst=1, rate_per_minute=1), clock=clock)
    await service.ask(chat("O que faz o dropout?"))
    with pytest.raises(RateLimitedError) as refused:
        await service.ask(chat("E o encoder da U-Net?"))
    assert refused.value.student_text.endswith("pergunte de novo em 1 min.")
    clock.now = at(60)
    await service.ask(chat("E o encoder da U-Net?"))
    with service.store.db.engine.connect() as conn:  # type: ignore[attr-defined]
        kept = conn.execute(sa.select(refusals)).one()
    assert (kept.question, kept.created_at, kept.wait_s) == ("E o encoder da U-Net?", T0, 60)
    assert "U1" not in kept.asker_ref  # a pseudonym


async def test_the_command_line_is_neither_rate_limited_nor_given_repeats(tmp_path: Path) -> None:
    service = make_service(tmp_path, courses_with(burst=1))
    for _ in range(3):
        answer = await service.ask(Question("ml", "O que faz o dropout?", "cli"))
        assert not answer.repeat_of


async def test_the_budget_is_per_day_in_the_courses_time_zone_and_told_once_a_day(
    tmp_path: Path,
) -> None:
    clock = Clock(datetime(2026, 12, 1, 13, 0, tzinfo=UTC))  # 10:00 in São Paulo
    service = make_service(tmp_path, courses_with(daily_token_budget=100), clock=clock)
    asked = [f"O que faz o dropout no treino? ({n})" for n in range(4)]
    first = await service.ask(chat(asked[0], "U1"))
    over = await service.ask(chat(asked[1], "U2"))
    still = await service.ask(chat(asked[2], "U3"))
    assert not first.fallback and over.fallback and still.fallback
    assert "orçamento diário de tokens" in over.tas_alert and not still.tas_alert
    clock.now = datetime(2026, 12, 2, 3, 30, tzinfo=UTC)  # 00:30 the next day there
    next_day = await service.ask(chat(asked[3], "U4"))
    assert not next_day.fallback


class VectorRetriever(WordOverlapRetriever):
    """Also embeds the question: a bag of its words, so word order does not matter."""

    async def search(self, course_id: str, text: str, k: int) -> SearchResult:
        found = await super().search(course_id, text, k)
        words = sorted(set(normalised(text).split()))
        vector = [float(n) if w in words else 0.0 for n, w in enumerate(VOCABULARY, 1)]
        return SearchResult(found.hits, found.embed_ms, found.search_ms, tuple(vector))


VOCABULARY = sorted(set(normalised("o que faz dropout durante treino e encoder da u net").split()))


async def test_a_question_asked_in_other_words_is_found_by_its_embedding(tmp_path: Path) -> None:
    service = make_service(tmp_path, courses_with(), retriever=VectorRetriever())
    first = await service.ask(chat("O que faz o dropout durante o treino?", "U1"))
    reordered = await service.ask(chat("Durante o treino, o dropout faz o quê?", "U2"))
    other = await service.ask(chat("O que faz o encoder da U-Net?", "U3"))

    assert reordered.repeat_of == first.interaction_id and reordered.text == first.text
    assert not other.repeat_of


def test_close_vectors_are_found_closest_first_and_other_sizes_skipped() -> None:
    candidates = [
        ("a", vector_bytes([1.0, 0.0])),
        ("b", vector_bytes([0.7, 0.7])),
        ("c", vector_bytes([1.0, 0.0, 0.0])),
        ("d", vector_bytes([0.6, 0.8])),
    ]
    assert close_ones([0.6, 0.8], candidates, 0.95) == ["d", "b"]
    assert close_ones([0.0, 1.0], candidates[2:3], 0.0) == []


@pytest.mark.parametrize(
    ("question", "other", "same"),
    [
        ("Alguém pode explicar: o que é dropout?", "O que é dropout?", True),
        ("O que é dropout? Obrigado!", "o que e DROPOUT", True),
        (
            "Qual a função da camada de entrada na U-Net?",
            "Qual a função da camada de saída na U-Net?",
            False,
        ),
        ("O que o lambda controla na regularização L1?", "O que o lambda controla na L2?", False),
        ("Por que o perceptron não aprende o XOR?", "Por que o perceptron aprende o XOR?", False),
    ],
)
def test_close_questions_are_the_same_only_when_they_differ_in_filler_words(
    question: str, other: str, same: bool
) -> None:
    assert differ_only_in_filler(question, other) is same


class SameVectorRetriever(WordOverlapRetriever):
    """Every question embedded alike: closeness alone would call them all the same."""

    async def search(self, course_id: str, text: str, k: int) -> SearchResult:
        found = await super().search(course_id, text, k)
        return SearchResult(found.hits, found.embed_ms, found.search_ms, (1.0, 0.0))


async def test_a_close_embedding_of_another_question_is_not_a_repeat(tmp_path: Path) -> None:
    service = make_service(tmp_path, courses_with(), retriever=SameVectorRetriever())
    first = await service.ask(chat("O que faz o encoder da U-Net?", "U1"))
    other = await service.ask(chat("O que faz o decoder da U-Net?", "U2"))
    polite = await service.ask(chat("Alguém pode explicar o que faz o encoder da U-Net?", "U3"))

    assert not other.repeat_of
    assert polite.repeat_of == first.interaction_id
