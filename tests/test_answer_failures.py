"""No question lost when the answer model fails: the student gets the extractive fallback
(never half a streamed answer), the row is stored with the cause and a warning is logged.

End to end: the real ``AsyncAnthropic`` client -> ``ClaudeAnswerModel`` ->
``AssistantService.ask``, against the loopback fake API's fault modes, streamed (as the
chat adapters always ask) and not.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import pytest
from anthropic import AsyncAnthropic

from bot.llm import ClaudeAnswerModel, make_client
from bot.models import Answer, Draft, Hit, Question, Turn
from bot.service import AssistantService
from tests.fakes.anthropic_server import FakeAnthropic, Fault, Reply, text_block
from tests.fakes.core import FakeAnswerModel, make_service

MODEL = "claude-test-answer"
QUESTION = Question(course_id="ml", text="Qual a função da camada de saída da U-Net?")
# Long enough that half a streamed reply already carries some of its text.
LONG_ANSWER = (
    "Segundo a aula 3, a camada de saída da U-Net aplica uma convolução 1x1 que reduz os "
    "canais ao número de classes, seguida de softmax, para dar a cada pixel uma categoria."
)
RETRIES = 1
UNREADABLE = "the API's reply could not be read ("

# (fault, streamed) -> the cause the row and the log name, and how many requests the SDK
# made: it retries a dropped connection before the reply has begun, and nothing else here.
CASES = {
    (Fault.DROPPED, True): ("the connection dropped before the reply was complete", 1),
    (Fault.DROPPED, False): ("the connection dropped before the reply was complete", 1 + RETRIES),
    (Fault.NOT_JSON, True): ("the API's stream ended before a message began", 1),
    (Fault.NOT_JSON, False): ("the API answered with a body that is not JSON", 1),
    (Fault.WRONG_SHAPE, True): (UNREADABLE, 1),
    (Fault.WRONG_SHAPE, False): (UNREADABLE, 1),
}
STREAMED = pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "not-streamed"])


@pytest.fixture
def api() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
async def client(api: FakeAnthropic) -> AsyncIterator[AsyncAnthropic]:
    client = make_client(api.api_key, base_url=api.base_url, max_retries=RETRIES)
    yield client
    await client.close()


@pytest.fixture
def service(tmp_path: Path, client: AsyncAnthropic) -> Iterator[AssistantService]:
    service = make_service(tmp_path)
    service.answer_model = ClaudeAnswerModel(client, MODEL)
    yield service


async def ask(
    service: AssistantService, question: Question, streamed: bool
) -> tuple[Answer, list[str]]:
    """The answer, and the text shown to the student while it streamed."""
    seen: list[str] = []

    async def on_text(text: str) -> None:
        seen.append(text)

    return await service.ask(question, on_text if streamed else None), seen


def assert_fallback_logged(
    service: AssistantService, answer: Answer, cause: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert answer.fallback and answer.model == "extractive"
    assert answer.citations and answer.citations[0].url.endswith("?t=721")
    row = service.store.get_interaction(answer.interaction_id)
    assert row is not None and row.fallback
    assert row.answer == answer.text
    assert row.error.startswith(f"answer model failed: {cause}")
    assert "\n" not in row.error
    assert answer.tas_alert == row.error  # the service decides that the TAs are told
    [warning] = [r for r in caplog.records if r.name == "bot.service"]
    assert warning.levelno == logging.WARNING
    assert cause in warning.getMessage()


@STREAMED
@pytest.mark.parametrize("fault", list(Fault), ids=[f.value for f in Fault])
async def test_an_unreadable_reply_gives_the_fallback_and_a_logged_row(
    api: FakeAnthropic,
    service: AssistantService,
    caplog: pytest.LogCaptureFixture,
    fault: Fault,
    streamed: bool,
) -> None:
    cause, attempts = CASES[fault, streamed]
    api.responder = lambda request: Reply(content=(text_block(LONG_ANSWER),), fault=fault)
    with caplog.at_level(logging.WARNING, logger="bot.service"):
        answer, _ = await ask(service, QUESTION, streamed)

    assert_fallback_logged(service, answer, cause, caplog)
    assert [r.stream for r in api.requests] == [streamed] * attempts


async def test_text_streamed_before_the_connection_dropped_is_replaced_by_the_fallback(
    api: FakeAnthropic, service: AssistantService
) -> None:
    api.enqueue(Reply(content=(text_block(LONG_ANSWER),), fault=Fault.DROPPED))
    answer, seen = await ask(service, QUESTION, streamed=True)

    assert seen and LONG_ANSWER.startswith(seen[-1]) and seen[-1] != LONG_ANSWER
    assert answer.fallback and seen[-1] not in answer.text


@STREAMED
async def test_text_the_sdk_cannot_encode_gives_the_fallback_and_a_logged_row(
    api: FakeAnthropic,
    service: AssistantService,
    caplog: pytest.LogCaptureFixture,
    streamed: bool,
) -> None:
    # A lone surrogate (as a broken client can send) in the thread's earlier turn: the SDK
    # fails to encode the request, so nothing reaches the API.
    earlier = (Turn("student", "O que é a U-Net? \ud800"), Turn("assistant", "Uma rede."))
    question = Question(course_id="ml", text=QUESTION.text, history=earlier)
    with caplog.at_level(logging.WARNING, logger="bot.service"):
        answer, _ = await ask(service, question, streamed)

    cause = "the request holds text that UTF-8 cannot encode ('\\ud800': surrogates not allowed)"
    assert_fallback_logged(service, answer, cause, caplog)
    assert api.requests == []


async def test_a_progress_display_that_fails_costs_the_answer_nothing(
    api: FakeAnthropic, service: AssistantService, caplog: pytest.LogCaptureFixture
) -> None:
    api.enqueue(Reply(content=(text_block(LONG_ANSWER),)))
    shown: list[str] = []

    async def refused_edit(text: str) -> None:
        shown.append(text)
        raise RuntimeError("the platform refused the edit")

    with caplog.at_level(logging.WARNING, logger="bot.service"):
        answer = await service.ask(QUESTION, on_text=refused_edit)

    assert answer.text == LONG_ANSWER and not answer.fallback and not answer.tas_alert
    assert len(shown) > 1  # every piece is offered: how often to show it is the adapter's call
    assert "progress failed" in caplog.records[0].getMessage()


def _buggy(question: Question, hits: Sequence[Hit]) -> Draft:
    raise KeyError("citations")


async def test_an_unexpected_exception_from_the_model_still_gives_the_fallback(
    service: AssistantService, caplog: pytest.LogCaptureFixture
) -> None:
    # A model implementation with a bug raises something other than AnswerModelError.
    service.answer_model = FakeAnswerModel(script=_buggy)
    with caplog.at_level(logging.WARNING, logger="bot.service"):
        answer, _ = await ask(service, QUESTION, streamed=True)

    assert answer.fallback
    row = service.store.get_interaction(answer.interaction_id)
    assert row is not None and row.fallback
    assert row.error == "answer model failed unexpectedly: KeyError: 'citations'"
    [logged] = [r for r in caplog.records if r.name == "bot.service"]
    assert logged.levelno == logging.ERROR and logged.exc_info is not None


async def test_cancelling_a_question_is_never_turned_into_a_fallback(
    api: FakeAnthropic, service: AssistantService
) -> None:
    api.enqueue(Reply(content=(text_block(LONG_ANSWER),), delay_s=1))
    asking = asyncio.create_task(ask(service, QUESTION, streamed=True))
    deadline = time.monotonic() + 10
    while not api.requests and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert api.requests, "the request never reached the fake API"
    asking.cancel()

    with pytest.raises(asyncio.CancelledError):
        await asking
