"""The judge: pure prompt building and verdict validation, then ClaudeJudge through the
real AsyncAnthropic client against the loopback fake API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from bot.errors import JudgeError, JudgeMalformedError, VerdictValidationError
from bot.judge_prompts import (
    TOOL_NAME,
    VERDICT_TOOL,
    JudgeVerdict,
    answer_relevance_prompt,
    context_relevance_prompt,
    groundedness_prompt,
    parse_verdict,
    verdict_from_reply,
)
from bot.llm import ClaudeJudge, make_client
from tests.fakes.anthropic_server import (
    FakeAnthropic,
    Fault,
    overloaded,
    refusal_reply,
    text_reply,
    tool_use_reply,
)

QUESTION = "Qual a função da camada de saída na rede U-Net?"
ANSWER = "A camada de saída usa convolução 1x1 para reduzir os canais a três, com softmax."
GOOD: dict[str, Any] = {
    "criteria": "The RESPONSE must be relevant to the entire PROMPT for a maximum score of 3.",
    "supporting_evidence": "The RESPONSE explains the output layer: 1x1 convolution, softmax.",
    "score": 3,
}

# -- pure: prompts and validation ---------------------------------------------------------


def test_answer_relevance_prompt_follows_trulens() -> None:
    prompt = answer_relevance_prompt(QUESTION, ANSWER)

    assert prompt.system.startswith(
        "You are a RELEVANCE grader; providing the relevance of the given RESPONSE to the "
        "given PROMPT.\nRespond only as a number from 0 to 3 where 0 is the least relevant "
        "and 3 is the most relevant."
    )
    assert "must be relevant to the entire PROMPT to get a maximum score of 3" in prompt.system
    assert "'I don't know' and model refusals" in prompt.system
    assert prompt.user.startswith(f"PROMPT: {QUESTION}\n\nRESPONSE: {ANSWER}\n\n")
    assert TOOL_NAME in prompt.user


def test_context_relevance_and_groundedness_prompts_carry_their_inputs() -> None:
    context = context_relevance_prompt(QUESTION, "trecho da aula")
    grounded = groundedness_prompt(ANSWER, ["primeiro trecho", "  ", "segundo trecho"])

    assert "SEARCH RESULT" in context.system
    assert context.user.startswith(f"USER QUERY: {QUESTION}\nSEARCH RESULT: trecho da aula")
    assert grounded.system.startswith("You are an INFORMATION OVERLAP classifier")
    assert grounded.user.startswith("SOURCE: primeiro trecho\n\nsegundo trecho\n\nStatement: ")
    assert "NOTHING FOUND" in grounded.user


def test_the_verdict_tool_schema_requires_the_three_parts() -> None:
    schema = VERDICT_TOOL["input_schema"]
    assert VERDICT_TOOL["name"] == TOOL_NAME
    assert schema["required"] == ["criteria", "supporting_evidence", "score"]
    assert schema["properties"]["score"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 3,
        "description": "The score based on the given criteria.",
    }


def test_parse_verdict_reads_a_good_input() -> None:
    verdict = parse_verdict(GOOD)

    assert verdict == JudgeVerdict(3, GOOD["criteria"], GOOD["supporting_evidence"])
    assert verdict.reasoning == (
        f"Criteria: {GOOD['criteria']} Supporting Evidence: {GOOD['supporting_evidence']} Score: 3"
    )


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"score": 4}, "score", "outside 0-3"),
        ({"score": -1}, "score", "outside 0-3"),
        ({"score": "3"}, "score", "integer"),
        ({"score": 2.5}, "score", "integer"),
        ({"score": True}, "score", "integer"),
        ({"criteria": 7}, "criteria", "string"),
        ({"supporting_evidence": "  "}, "supporting_evidence", "empty"),
    ],
)
def test_parse_verdict_names_the_bad_field(change: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(VerdictValidationError) as raised:
        parse_verdict({**GOOD, **change})
    assert raised.value.field == field
    assert words in str(raised.value)


@pytest.mark.parametrize("missing", ["criteria", "supporting_evidence", "score"])
def test_parse_verdict_names_a_missing_field(missing: str) -> None:
    tool_input = {k: v for k, v in GOOD.items() if k != missing}
    with pytest.raises(VerdictValidationError, match=f"^{missing}: missing$"):
        parse_verdict(tool_input)


def test_verdict_from_reply_finds_the_tool_call_among_blocks() -> None:
    blocks: list[dict[str, Any]] = [
        {"type": "text", "text": "Let me grade."},
        {"type": "tool_use", "id": "t1", "name": TOOL_NAME, "input": GOOD},
    ]
    assert verdict_from_reply("tool_use", blocks).score == 3


@pytest.mark.parametrize(
    ("stop_reason", "blocks", "field", "words"),
    [
        ("end_turn", [{"type": "text", "text": "Score: 3"}], "content", "'Score: 3'"),
        ("end_turn", [{"type": "text", "text": ""}], "content", "an empty reply"),
        ("end_turn", [], "content", "an empty reply"),
        ("refusal", [], "stop_reason", "refused"),
        ("tool_use", [{"type": "tool_use", "name": TOOL_NAME, "input": []}], "input", "object"),
    ],
)
def test_verdict_from_reply_says_why_there_is_no_verdict(
    stop_reason: str, blocks: list[dict[str, Any]], field: str, words: str
) -> None:
    with pytest.raises(VerdictValidationError) as raised:
        verdict_from_reply(stop_reason, blocks)
    assert raised.value.field == field
    assert words in str(raised.value)


# -- ClaudeJudge against the fake API --------------------------------------------------------


@pytest.fixture
def api() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
async def judge(api: FakeAnthropic) -> AsyncIterator[ClaudeJudge]:
    client = make_client(api.api_key, base_url=api.base_url, max_retries=2)
    yield ClaudeJudge(client, "claude-test-judge", max_attempts=3)
    await client.close()


async def test_a_well_formed_verdict_is_returned(api: FakeAnthropic, judge: ClaudeJudge) -> None:
    api.enqueue(tool_use_reply(TOOL_NAME, GOOD))
    verdict = await judge.answer_relevance(QUESTION, ANSWER)

    assert verdict == parse_verdict(GOOD)
    [request] = api.requests
    body = request.body
    assert request.api_key == api.api_key
    assert body["model"] == "claude-test-judge"
    assert body["tool_choice"] == {"type": "tool", "name": TOOL_NAME}
    assert body["tools"] == [VERDICT_TOOL]
    assert body["system"] == answer_relevance_prompt(QUESTION, ANSWER).system
    assert body["messages"] == [
        {"role": "user", "content": answer_relevance_prompt(QUESTION, ANSWER).user}
    ]


async def test_context_relevance_and_groundedness_send_their_prompts(
    api: FakeAnthropic, judge: ClaudeJudge
) -> None:
    api.enqueue(tool_use_reply(TOOL_NAME, {**GOOD, "score": 2}))
    api.enqueue(tool_use_reply(TOOL_NAME, {**GOOD, "score": 1}))
    context = await judge.context_relevance(QUESTION, "trecho")
    grounded = await judge.groundedness(ANSWER, ["trecho citado"])

    assert (context.score, grounded.score) == (2, 1)
    first, second = (r.body["messages"][0]["content"] for r in api.requests)
    assert first == context_relevance_prompt(QUESTION, "trecho").user
    assert second == groundedness_prompt(ANSWER, ["trecho citado"]).user


async def test_malformed_replies_are_asked_again(api: FakeAnthropic, judge: ClaudeJudge) -> None:
    api.enqueue(
        text_reply("Criteria: ... Score: 3"),
        tool_use_reply(TOOL_NAME, {**GOOD, "score": 5}),
        tool_use_reply(TOOL_NAME, GOOD),
    )
    verdict = await judge.answer_relevance(QUESTION, ANSWER)

    assert verdict.score == 3
    assert len(api.requests) == 3


async def test_malformed_forever_raises_with_every_problem(
    api: FakeAnthropic, judge: ClaudeJudge
) -> None:
    api.enqueue(
        text_reply("3"),
        tool_use_reply(TOOL_NAME, {**GOOD, "score": "três"}),
        refusal_reply(),
        tool_use_reply(TOOL_NAME, GOOD),  # a fourth attempt is never made
    )
    with pytest.raises(JudgeMalformedError) as raised:
        await judge.answer_relevance(QUESTION, ANSWER)

    problems = raised.value.problems
    assert len(problems) == 3 and api.pending == 1
    assert problems[0].startswith("attempt 1: content: no record_verdict tool call")
    assert problems[1].startswith("attempt 2: score: expected an integer")
    assert problems[2] == "attempt 3: stop_reason: Claude refused to grade (refusal)"


async def test_an_overload_storm_raises_judge_error_not_malformed(
    api: FakeAnthropic, judge: ClaudeJudge
) -> None:
    api.responder = lambda request: overloaded()
    with pytest.raises(JudgeError) as raised:
        await judge.answer_relevance(QUESTION, ANSWER)

    assert not isinstance(raised.value, JudgeMalformedError)
    assert raised.value.status == 529
    assert len(api.requests) == 3  # the SDK's two retries, then no further attempts


@pytest.mark.parametrize(
    ("fault", "cause"),
    [
        (Fault.NOT_JSON, "the API answered with a body that is not JSON"),
        (Fault.WRONG_SHAPE, "the API's reply could not be read (TypeError: "),
    ],
    ids=["not-json", "wrong-shape"],
)
async def test_an_unreadable_reply_raises_judge_error_so_the_job_is_retried(
    api: FakeAnthropic, judge: ClaudeJudge, fault: Fault, cause: str
) -> None:
    api.responder = lambda request: tool_use_reply(TOOL_NAME, GOOD, fault=fault)
    with pytest.raises(JudgeError) as raised:
        await judge.answer_relevance(QUESTION, ANSWER)

    assert not isinstance(raised.value, JudgeMalformedError)
    assert raised.value.cause.startswith(cause) and raised.value.status is None
    assert len(api.requests) == 1  # neither the SDK nor the judge asks again at once


async def test_max_attempts_must_be_positive() -> None:
    client = make_client("sk-ant-x")
    with pytest.raises(ValueError, match="max_attempts"):
        ClaudeJudge(client, "m", max_attempts=0)
    await client.close()
