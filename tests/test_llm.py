"""ClaudeAnswerModel through the real AsyncAnthropic client against the loopback fake API."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.errors import AnswerModelError
from bot.llm import ClaudeAnswerModel, make_client
from bot.models import Hit, Question, Segment, Turn
from bot.prompts import ABSTAIN_MARKER
from tests.fakes.anthropic_server import (
    ErrorReply,
    FakeAnthropic,
    Reply,
    cited_reply,
    overloaded,
    rate_limited,
    refusal_reply,
    server_error,
    text_block,
    text_reply,
)

MODEL = "claude-test-answer"
POLICY = "Explique conceitos; nunca entregue soluções de trabalhos avaliados."


def make_hit(rank: int, video: str, n: int, start_s: float, end_s: float, text: str) -> Hit:
    segment = Segment(
        id=f"{video}@{int(start_s)}",
        course_id="ml",
        video_id=video,
        title=f"Aula {n}",
        url=f"https://youtu.be/{video}",
        start_s=start_s,
        end_s=end_s,
        text=text,
    )
    return Hit(segment=segment, score=1.0 - rank / 10, rank=rank)


HITS = (
    make_hit(1, "unet0000001", 3, 721.4, 888.0, "A camada de saída usa convolução 1x1 e softmax."),
    make_hit(2, "unet0000001", 3, 601.0, 767.0, "O encoder reduz a resolução e dobra os canais."),
    make_hit(3, "drop0000002", 4, 95.0, 240.0, "Dropout desativa neurônios durante o treino."),
)
QUESTION = Question(course_id="ml", text="Qual a função da camada de saída na U-Net?")


@pytest.fixture
def api() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
async def model(api: FakeAnthropic) -> AsyncIterator[ClaudeAnswerModel]:
    client = make_client(api.api_key, base_url=api.base_url, max_retries=2)
    yield ClaudeAnswerModel(client, MODEL, max_tokens=700)
    await client.close()


async def test_segments_are_sent_as_search_results_with_citations(
    api: FakeAnthropic, model: ClaudeAnswerModel
) -> None:
    api.enqueue(text_reply("A camada de saída tem três canais."))
    await model.answer(QUESTION, HITS, POLICY)

    [request] = api.requests
    assert request.api_key == api.api_key
    assert request.body["model"] == MODEL
    assert request.body["max_tokens"] == 700
    assert "temperature" not in request.body  # not a parameter of this API version
    assert POLICY in request.body["system"]
    assert ABSTAIN_MARKER in request.body["system"]
    [message] = request.body["messages"]
    assert message["role"] == "user"
    *results, question = message["content"]
    assert [r["source"] for r in results] == [
        "https://youtu.be/unet0000001?t=721",
        "https://youtu.be/unet0000001?t=601",
        "https://youtu.be/drop0000002?t=95",
    ]
    assert results[0] == {
        "type": "search_result",
        "source": "https://youtu.be/unet0000001?t=721",
        "title": "Aula 3 · 12:01–14:48",
        "content": [{"type": "text", "text": HITS[0].segment.text}],
        "citations": {"enabled": True},
    }
    assert question["type"] == "text"
    assert question["text"].endswith(f"<question>\n{QUESTION.text}\n</question>")


async def test_citations_map_back_to_the_cited_segments_in_order(
    api: FakeAnthropic, model: ClaudeAnswerModel
) -> None:
    api.enqueue(
        cited_reply(
            "Segundo a aula, ",
            ("a saída usa convolução 1x1", [0]),
            (" depois do encoder", [1, 0]),
            input_tokens=321,
            output_tokens=45,
            model="claude-served-model",
        )
    )
    draft = await model.answer(QUESTION, HITS, POLICY)

    assert draft.text == "Segundo a aula, a saída usa convolução 1x1 depois do encoder"
    assert [c.segment_id for c in draft.citations] == ["unet0000001@721", "unet0000001@601"]
    assert draft.citations[0].url == "https://youtu.be/unet0000001?t=721"
    assert draft.citations[0].title == "Aula 3"
    assert not draft.abstained and not draft.fallback
    assert draft.model == "claude-served-model"
    assert (draft.usage.input_tokens, draft.usage.output_tokens) == (321, 45)


async def test_a_citation_of_a_result_never_sent_is_dropped_and_logged(
    api: FakeAnthropic, model: ClaudeAnswerModel, caplog: pytest.LogCaptureFixture
) -> None:
    api.enqueue(cited_reply(("Dropout reduz overfitting", [7, 2])))
    with caplog.at_level(logging.WARNING, logger="bot.llm"):
        draft = await model.answer(QUESTION, HITS, POLICY)

    assert [c.segment_id for c in draft.citations] == ["drop0000002@95"]
    assert "[7]" in caplog.text


async def test_the_abstention_marker_is_detected_and_never_shown(
    api: FakeAnthropic, model: ClaudeAnswerModel
) -> None:
    api.enqueue(cited_reply((f"{ABSTAIN_MARKER} As aulas não tratam disso.", [0])))
    draft = await model.answer(QUESTION, HITS, POLICY)

    assert draft.abstained
    assert draft.citations == ()
    assert draft.text == "As aulas não tratam disso."


async def test_a_refusal_is_an_abstention_with_the_reason_logged(
    api: FakeAnthropic, model: ClaudeAnswerModel
) -> None:
    api.enqueue(refusal_reply())
    draft = await model.answer(QUESTION, HITS, POLICY)

    assert draft.abstained and draft.text
    assert "refusal" in draft.error


async def test_thread_history_becomes_earlier_turns(
    api: FakeAnthropic, model: ClaudeAnswerModel
) -> None:
    question = Question(
        course_id="ml",
        text="E no decoder?",
        history=(
            Turn("student", "O que é a U-Net?"),
            Turn("assistant", "Uma rede encoder-decoder para segmentação."),
        ),
    )
    api.enqueue(text_reply("O decoder espelha o encoder."))
    await model.answer(question, HITS[:1], POLICY)

    messages = api.requests[0].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"] == [{"type": "text", "text": "O que é a U-Net?"}]
    assert messages[1]["content"][0]["text"] == "Uma rede encoder-decoder para segmentação."
    assert messages[2]["content"][0]["type"] == "search_result"
    assert messages[2]["content"][-1]["text"].endswith("E no decoder?\n</question>")


async def test_streaming_assembles_text_and_citations_and_reports_progress(
    api: FakeAnthropic,
) -> None:
    client = make_client(api.api_key, base_url=api.base_url)
    model = ClaudeAnswerModel(client, MODEL)
    seen: list[str] = []

    async def on_text(text: str) -> None:
        seen.append(text)

    answer = ("A camada de saída usa convolução 1x1", " com softmax para três classes.")
    api.enqueue(cited_reply((answer[0], [0]), (answer[1], [2, 0])))
    draft = await model.answer(QUESTION, HITS, POLICY, on_text=on_text)
    await client.close()

    assert api.requests[0].stream
    assert draft.text == "".join(answer)
    assert [c.segment_id for c in draft.citations] == ["unet0000001@721", "drop0000002@95"]
    assert len(seen) > 2  # the fake streams 16 characters per text_delta
    assert seen[-1] == draft.text
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(seen))


async def test_streaming_never_shows_the_marker(api: FakeAnthropic) -> None:
    client = make_client(api.api_key, base_url=api.base_url)
    model = ClaudeAnswerModel(client, MODEL)
    seen: list[str] = []

    async def on_text(text: str) -> None:
        seen.append(text)

    api.enqueue(text_reply(f"{ABSTAIN_MARKER} Isso não aparece nas aulas."))
    draft = await model.answer(QUESTION, HITS, POLICY, on_text=on_text)
    await client.close()

    assert draft.abstained and draft.text == "Isso não aparece nas aulas."
    assert seen and not any("NOT_IN" in text or text.startswith("[") for text in seen)


async def test_an_error_in_the_middle_of_a_stream_raises_answer_model_error(
    api: FakeAnthropic,
) -> None:
    client = make_client(api.api_key, base_url=api.base_url)
    model = ClaudeAnswerModel(client, MODEL)
    seen: list[str] = []

    async def on_text(text: str) -> None:
        seen.append(text)

    long_answer = "A camada de saída usa convolução 1x1 com softmax para três classes."
    api.enqueue(Reply(content=(text_block(long_answer),), interrupted_by=overloaded()))
    with pytest.raises(AnswerModelError) as raised:
        await model.answer(QUESTION, HITS, POLICY, on_text=on_text)
    await client.close()

    assert raised.value.cause == "overloaded_error in the middle of the stream: Overloaded"
    assert seen and long_answer.startswith(seen[-1]) and seen[-1] != long_answer
    assert len(api.requests) == 1  # the SDK retries only before the stream has started


@pytest.mark.parametrize("failure", [rate_limited, overloaded, server_error])
async def test_transient_errors_are_retried_by_the_sdk(
    api: FakeAnthropic, model: ClaudeAnswerModel, failure: object
) -> None:
    assert callable(failure)
    api.enqueue(failure(), failure(), cited_reply(("ok", [0])))
    draft = await model.answer(QUESTION, HITS, POLICY)

    assert draft.text == "ok"
    assert [r.headers["x-stainless-retry-count"] for r in api.requests] == ["0", "1", "2"]


async def test_retries_exhausted_raise_answer_model_error(
    api: FakeAnthropic, model: ClaudeAnswerModel
) -> None:
    api.enqueue(overloaded(), overloaded(), overloaded(), text_reply("never reached"))
    with pytest.raises(AnswerModelError) as raised:
        await model.answer(QUESTION, HITS, POLICY)

    assert raised.value.status == 529
    assert raised.value.cause == "529 overloaded_error: Overloaded"
    assert len(api.requests) == 3 and api.pending == 1


async def test_a_rejected_request_is_not_retried(
    api: FakeAnthropic, model: ClaudeAnswerModel
) -> None:
    api.enqueue(ErrorReply(400, "invalid_request_error", "messages: bad", None))
    with pytest.raises(AnswerModelError) as raised:
        await model.answer(QUESTION, HITS, POLICY)

    assert raised.value.status == 400 and "messages: bad" in raised.value.cause
    assert len(api.requests) == 1


async def test_an_unreachable_api_raises_answer_model_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client("sk-ant-x", base_url=f"http://127.0.0.1:{port}", max_retries=0)
    with pytest.raises(AnswerModelError) as raised:
        await ClaudeAnswerModel(client, MODEL).answer(QUESTION, HITS, POLICY)
    await client.close()

    assert raised.value.status is None
    assert "connect" in raised.value.cause


async def test_a_question_the_sdk_cannot_encode_raises_answer_model_error(
    api: FakeAnthropic, model: ClaudeAnswerModel
) -> None:
    question = Question(course_id="ml", text="O que é isto? \ud800")
    with pytest.raises(AnswerModelError) as raised:
        await model.answer(question, HITS, POLICY)

    assert raised.value.status is None
    assert raised.value.cause == (
        "the request holds text that UTF-8 cannot encode ('\\ud800': surrogates not allowed)"
    )
    assert api.requests == []


async def test_a_hundred_slow_answers_are_served_concurrently(api: FakeAnthropic) -> None:
    api.hold_until_concurrent(100, timeout_s=20)
    api.responder = cited_reply(("resposta", [0]), delay_s=0.05)
    client = make_client(api.api_key, base_url=api.base_url)
    model = ClaudeAnswerModel(client, MODEL)
    questions = [Question(course_id="ml", text=f"pergunta {n}") for n in range(100)]

    drafts = await asyncio.gather(*(model.answer(q, HITS, POLICY) for q in questions))
    await client.close()

    assert api.peak_in_flight == 100
    assert all(d.citations[0].segment_id == "unet0000001@721" for d in drafts)
    sent = sorted(r.last_user_text().rsplit("\n", 2)[-2] for r in api.requests)
    assert sent == sorted(q.text for q in questions)


def test_make_client_refuses_an_empty_key() -> None:
    with pytest.raises(ValueError, match="ANTHROPIC_API_KEY"):
        make_client("  ")


def test_the_fake_rejects_a_request_without_a_key_like_the_api(api: FakeAnthropic) -> None:
    """Synchronous use of the fake: plain urllib, no event loop."""
    body = json.dumps({"model": MODEL, "max_tokens": 5, "messages": []}).encode()
    request = urllib.request.Request(
        f"{api.base_url}/v1/messages", data=body, headers={"content-type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)

    assert raised.value.code == 401
    error = json.loads(raised.value.read())
    assert error["type"] == "error" and error["error"]["type"] == "authentication_error"
