"""The core service through its public methods, with our own fakes for the ports."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.errors import (
    AskFailedError,
    InvalidQuestionError,
    UnknownCourseError,
    UnknownInteractionError,
)
from bot.models import Question, Turn
from retrieval.models import SearchResult
from tests.fakes.core import FakeAnswerModel, WordOverlapRetriever, make_service, says


def ask(service, text: str, course: str = "ml", **fields):  # type: ignore[no-untyped-def]
    return asyncio.run(service.ask(Question(course_id=course, text=text, **fields)))


def test_answer_cites_the_lecture_second_and_is_logged(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    answer = ask(
        service,
        "Qual a função da camada de saída da U-Net?",
        platform="slack",
        channel="CML",
        thread="1.2",
        asker="U123",
    )
    assert not answer.fallback and not answer.abstained
    assert [c.url for c in answer.citations] == ["https://youtu.be/mlvid000001?t=721"]

    logged = service.store.get_interaction(answer.interaction_id)
    assert logged is not None
    assert logged.question == "Qual a função da camada de saída da U-Net?"
    assert logged.asker_ref.startswith("u_") and "U123" not in logged.asker_ref
    assert [r.rank for r in logged.retrieved] == [1, 2, 3]
    assert [r.cited for r in logged.retrieved] == [True, False, False]
    assert logged.usage.input_tokens == 100
    assert logged.timings.total_ms >= logged.timings.generate_ms >= 0


def test_same_student_same_pseudonym_other_platform_differs(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    a = ask(service, "U-Net saída", asker="U1", platform="slack")
    b = ask(service, "U-Net encoder", asker="U1", platform="slack")
    c = ask(service, "U-Net encoder", asker="U1", platform="discord")
    refs = [service.store.get_interaction(x.interaction_id).asker_ref for x in (a, b, c)]
    assert refs[0] == refs[1] != refs[2]


def test_course_isolation(tmp_path: Path) -> None:
    retriever = WordOverlapRetriever()
    service = make_service(tmp_path, retriever=retriever)
    answer = ask(service, "camada de saída", course="bio")
    assert retriever.calls == [("bio", "camada de saída")]
    assert all(c.video_id.startswith("bio") for c in answer.citations)


def test_claude_down_gives_labelled_extractive_answer(tmp_path: Path) -> None:
    service = make_service(tmp_path, answer_model=FakeAnswerModel(fail=True))
    answer = ask(service, "Qual a função da camada de saída da U-Net?")
    assert answer.fallback
    assert answer.citations and answer.citations[0].url.endswith("?t=721")
    logged = service.store.get_interaction(answer.interaction_id)
    assert "529" in logged.error


def test_no_key_answers_extractively(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    service.answer_model = None
    answer = ask(service, "dropout overfitting")
    assert answer.fallback
    assert "ANTHROPIC_API_KEY" in service.store.get_interaction(answer.interaction_id).error


def test_abstention_has_no_citations(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    answer = ask(service, "quem ganhou a copa de 1970?")
    assert answer.abstained and answer.citations == ()


def test_bad_questions_are_refused_before_anything_is_stored(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    with pytest.raises(InvalidQuestionError):
        ask(service, "   ")
    with pytest.raises(InvalidQuestionError, match="characters"):
        ask(service, "x" * 5000)
    with pytest.raises(UnknownCourseError):
        ask(service, "U-Net", course="chem")
    assert service.store.list_interactions("ml") == []


def test_a_question_with_control_characters_is_answered_and_stored_cleaned(
    tmp_path: Path, database_url: str
) -> None:
    # NUL (PostgreSQL rejects it), a lone surrogate (no encoder takes it), ESC, BEL and a
    # Windows line break, as a broken client might send them.
    dirty = "\x00Qual a função\ud800 da camada\x1b de saída\r\nda U-Net?\x07 "
    clean = "Qual a função da camada de saída\nda U-Net?"
    model = FakeAnswerModel(script=says("A saída\x00 usa softmax\ud800."))
    retriever = WordOverlapRetriever()
    service = make_service(
        tmp_path, answer_model=model, retriever=retriever, database_url=database_url
    )
    try:
        answer = ask(service, dirty)
        assert not answer.fallback and answer.citations
        assert retriever.calls == [("ml", clean)]
        assert [question.text for question in model.calls] == [clean]  # what Claude gets
        logged = service.store.get_interaction(answer.interaction_id)
        assert logged is not None
        assert (logged.question, logged.answer) == (clean, "A saída usa softmax.")
        with pytest.raises(InvalidQuestionError, match="empty"):
            ask(service, "\x00\x07\ud800 \x1b\r\n")
        assert len(service.store.list_interactions("ml")) == 1
    finally:
        service.store.close()


def test_retrieval_failure_is_logged_and_raised(tmp_path: Path) -> None:
    class Broken:
        async def search(self, course_id: str, text: str, k: int) -> SearchResult:
            raise RuntimeError("index unreachable")

    service = make_service(tmp_path)
    service.retriever = Broken()
    with pytest.raises(AskFailedError) as raised:
        ask(service, "U-Net")
    logged = service.store.get_interaction(raised.value.interaction_id)
    assert "index unreachable" in logged.error


def test_a_failed_save_still_answers_and_journals_the_interaction(tmp_path: Path) -> None:
    service = make_service(tmp_path)

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    service.store.save_interaction = refuse  # type: ignore[method-assign]
    answer = ask(service, "U-Net saída")
    assert answer.citations
    [entry] = service.journal.entries()
    assert entry.interaction_id == answer.interaction_id


def test_when_even_the_journal_fails_the_answer_still_goes_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = make_service(tmp_path)

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    service.store.save_interaction = refuse  # type: ignore[method-assign]
    service.journal.directory.write_text("a file where the journal's folder should be")
    answer = ask(service, "U-Net saída")
    assert answer.citations
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert answer.interaction_id in record.getMessage() and "is lost" in record.getMessage()
    assert record.exc_info is not None  # the journal's failure, with its traceback


def test_feedback_counts_each_user_once_and_retracts(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    answer = ask(service, "U-Net saída")
    run = asyncio.run
    assert run(service.record_feedback(answer.interaction_id, "slack", "U1", 1)).annotation == "C"
    assert run(service.record_feedback(answer.interaction_id, "slack", "U2", -1)).annotation is None
    tally = run(service.record_feedback(answer.interaction_id, "slack", "U3", -1))
    assert (tally.up, tally.down, tally.annotation) == (1, 2, "I")
    tally = run(service.record_feedback(answer.interaction_id, "slack", "U3", 0))
    assert (tally.up, tally.down, tally.annotation) == (1, 1, None)
    tally = run(service.record_feedback(answer.interaction_id, "slack", "TA", -1, is_ta=True))
    assert tally.annotation == "I"  # a TA's vote decides
    assert len(service.store.votes_for(answer.interaction_id)) == 5  # every event kept
    with pytest.raises(UnknownInteractionError):
        run(service.record_feedback("nope", "slack", "U1", 1))


def test_thread_history_and_escalation(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    first = ask(service, "U-Net saída", platform="discord", channel="2001", thread="77")
    assert asyncio.run(service.thread_history("discord", "2001", "78")) == ()
    history = asyncio.run(service.thread_history("discord", "2001", "77"))
    assert history[0] == Turn("student", "U-Net saída")
    assert history[1].role == "assistant"
    called = asyncio.run(service.escalate(first.interaction_id))
    again = asyncio.run(service.escalate(first.interaction_id))
    assert (called.ping_tas, again.ping_tas) == (True, False)  # the TAs are called once
    assert called.interaction.id == first.interaction_id and called.interaction.escalated
    assert service.store.get_interaction(first.interaction_id).escalated


def test_two_requests_for_a_human_at_once_call_the_tas_once(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    first = ask(service, "U-Net saída")

    async def both() -> list[bool]:
        clicks = [service.escalate(first.interaction_id) for _ in range(2)]
        return [e.ping_tas for e in await asyncio.gather(*clicks)]

    assert sorted(asyncio.run(both())) == [False, True]


def test_thread_history_within_a_window_keeps_only_the_recent_turns(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    now = [datetime(2026, 3, 2, 10, 0, tzinfo=UTC)]
    service._clock = lambda: now[0]
    ask(service, "U-Net saída", platform="discord", channel="d1", thread="d1")
    now[0] += timedelta(minutes=40)
    ask(service, "O que é dropout?", platform="discord", channel="d1", thread="d1")
    now[0] += timedelta(minutes=10)

    recent = asyncio.run(
        service.thread_history("discord", "d1", "d1", within=timedelta(minutes=30))
    )
    everything = asyncio.run(service.thread_history("discord", "d1", "d1"))

    assert [t.text for t in recent if t.role == "student"] == ["O que é dropout?"]
    assert [t.text for t in everything if t.role == "student"] == [
        "U-Net saída",
        "O que é dropout?",
    ]


def test_many_questions_at_once_are_served_concurrently(tmp_path: Path) -> None:
    service = make_service(tmp_path)

    async def burst() -> list[str]:
        answers = await asyncio.gather(
            *(service.ask(Question(course_id="ml", text=f"U-Net saída {n}")) for n in range(20))
        )
        return [a.interaction_id for a in answers]

    ids = asyncio.run(burst())
    assert len(set(ids)) == 20
    assert len(service.store.list_interactions("ml")) == 20
