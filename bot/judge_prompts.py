"""What the LLM judge sends Claude and how its reply is checked. Pure functions.

The prompts follow TruLens' ``relevance_with_cot_reasons`` (and its context-relevance and
groundedness siblings) on the 0-3 scale, so our scores read like the user's evaluation
report: "Criteria: ... Supporting Evidence: ... Score: 3". Instead of parsing that text we
force a tool call whose input carries the same three parts, and validate it here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.errors import VerdictValidationError
from bot.models import cot_reasoning

MIN_SCORE = 0
MAX_SCORE = 3
TOOL_NAME = "record_verdict"

VERDICT_TOOL: dict[str, Any] = {
    "name": TOOL_NAME,
    "description": (
        "Record your evaluation: the criteria you applied, the supporting evidence for your "
        f"score step by step, and the score from {MIN_SCORE} to {MAX_SCORE}."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "criteria": {
                "type": "string",
                "description": "The criteria for this evaluation.",
            },
            "supporting_evidence": {
                "type": "string",
                "description": (
                    "Your reasons for scoring based on the listed criteria, step by step, "
                    "tied back to the evaluation being completed."
                ),
            },
            "score": {
                "type": "integer",
                "minimum": MIN_SCORE,
                "maximum": MAX_SCORE,
                "description": "The score based on the given criteria.",
            },
        },
        "required": ["criteria", "supporting_evidence", "score"],
    },
}

TOOL_CHOICE: dict[str, Any] = {"type": "tool", "name": TOOL_NAME}


@dataclass(frozen=True)
class JudgeVerdict:
    score: int  # MIN_SCORE..MAX_SCORE
    criteria: str
    evidence: str

    @property
    def reasoning(self) -> str:
        return cot_reasoning(self.criteria, self.evidence, self.score)


@dataclass(frozen=True)
class JudgePrompt:
    system: str
    user: str


_OUTPUT_SPACE = (
    f"Respond only as a number from {MIN_SCORE} to {MAX_SCORE} where {MIN_SCORE} is the least "
    f"relevant and {MAX_SCORE} is the most relevant."
)

_ANSWER_RELEVANCE_CRITERIA = f"""\
- RESPONSE must be relevant to the entire PROMPT to get a maximum score of {MAX_SCORE}.
- RELEVANCE score should increase as the RESPONSE provides RELEVANT context to more parts \
of the PROMPT.
- RESPONSE that is RELEVANT to none of the PROMPT should get a minimum score of {MIN_SCORE}.
- RESPONSE that is RELEVANT and answers the entire PROMPT completely should get a score of \
{MAX_SCORE}.
- RESPONSE that confidently FALSE should get a score of {MIN_SCORE}.
- RESPONSE that is only seemingly RELEVANT should get a score of {MIN_SCORE}.
- Answers that intentionally do not answer the question, such as 'I don't know' and model \
refusals, should also be counted as the least RELEVANT and get a score of {MIN_SCORE}."""

_CONTEXT_RELEVANCE_CRITERIA = f"""\
- SEARCH RESULT that is IRRELEVANT to the USER QUERY should score {MIN_SCORE}.
- SEARCH RESULT that is RELEVANT to some of the USER QUERY should get an intermediate score.
- SEARCH RESULT that is RELEVANT to most of the USER QUERY should get a score closer to \
{MAX_SCORE}.
- SEARCH RESULT that is RELEVANT to the entirety of the USER QUERY should get a score of \
{MAX_SCORE}, which is the full mark.
- SEARCH RESULT must be relevant and helpful for answering the entire USER QUERY to get a \
score of {MAX_SCORE}."""

_GROUNDEDNESS_CRITERIA = f"""\
- Statements that are directly supported by the source should be considered grounded and \
should get a high score.
- Statements that are not directly supported by the source should be considered not \
grounded and should get a low score.
- Statements of doubt, that admissions of uncertainty or not knowing the answer are \
considered abstention, and should be counted as the most overlap and therefore get a max \
score of {MAX_SCORE}.
- Consider indirect or implicit evidence, or the context of the statement, to avoid \
penalizing potentially factual claims due to lack of explicit support.
- Be cautious of false positives; ensure that high scores are only given when there is \
clear supporting evidence."""

# TruLens asks for the chain of thought as text; we ask for it through the tool instead.
_COT_INSTRUCTION = (
    f"Answer by calling the {TOOL_NAME} tool with: criteria (the criteria for this "
    "evaluation), supporting_evidence (your reasons for scoring based on the listed criteria "
    "step by step, tied back to the evaluation being completed) and score (the score based "
    "on the given criteria)."
)


def answer_relevance_prompt(question: str, answer: str) -> JudgePrompt:
    """Answer Relevance: does the RESPONSE answer the student's PROMPT?"""
    system = (
        "You are a RELEVANCE grader; providing the relevance of the given RESPONSE to the "
        f"given PROMPT.\n{_OUTPUT_SPACE}\n\nCriteria for evaluating relevance:\n"
        f"{_ANSWER_RELEVANCE_CRITERIA}\n\nA few additional scoring guidelines:\n\n"
        "- Long RESPONSES should score equally well as short RESPONSES.\n\n- Never elaborate."
    )
    user = f"PROMPT: {question}\n\nRESPONSE: {answer}\n\n{_COT_INSTRUCTION}"
    return JudgePrompt(system, user)


def context_relevance_prompt(question: str, segment_text: str) -> JudgePrompt:
    """Context Relevance: does a retrieved SEARCH RESULT help answer the USER QUERY?"""
    system = (
        "You are a RELEVANCE grader; providing the relevance of the given USER QUERY to the "
        f"given SEARCH RESULT.\n{_OUTPUT_SPACE}\n\nCriteria for evaluating relevance:\n"
        f"{_CONTEXT_RELEVANCE_CRITERIA}\n\nA few additional scoring guidelines:\n\n"
        "- Long SEARCH RESULT should score equally well as short SEARCH RESULT.\n\n"
        "- Never elaborate."
    )
    user = f"USER QUERY: {question}\nSEARCH RESULT: {segment_text}\n\n{_COT_INSTRUCTION}"
    return JudgePrompt(system, user)


def groundedness_prompt(answer: str, cited_texts: Sequence[str]) -> JudgePrompt:
    """Groundedness: is the answer's every statement supported by the cited excerpts?"""
    system = (
        "You are an INFORMATION OVERLAP classifier; providing the overlap of information "
        "(entailment or groundedness) between the source and statement.\n\n"
        f"Respond only as a number from {MIN_SCORE} to {MAX_SCORE} where {MIN_SCORE} is no "
        f"information overlap and {MAX_SCORE} is all information is overlapping.\n\n"
        "You should score the groundedness of the statement based on the following "
        f"criteria:\n{_GROUNDEDNESS_CRITERIA}\n\nNever elaborate."
    )
    source = "\n\n".join(text.strip() for text in cited_texts if text.strip()) or "(none)"
    user = (
        f"SOURCE: {source}\n\nStatement: {answer}\n\n{_COT_INSTRUCTION} In "
        "supporting_evidence, for every statement sentence, identify the location in the "
        "source where the information matches the statement; if nothing matches, say "
        "NOTHING FOUND; for an abstention, say ABSTENTION."
    )
    return JudgePrompt(system, user)


def parse_verdict(tool_input: Mapping[str, object]) -> JudgeVerdict:
    """A verdict from the tool's input; raises ``VerdictValidationError`` naming the field."""
    criteria = _required_text(tool_input, "criteria")
    evidence = _required_text(tool_input, "supporting_evidence")
    if "score" not in tool_input:
        raise VerdictValidationError("score", "missing")
    score = tool_input["score"]
    # bool is an int in Python, never a score; a float such as 2.5 is not on the scale.
    if isinstance(score, bool) or not isinstance(score, int):
        raise VerdictValidationError(
            "score", f"expected an integer {MIN_SCORE}-{MAX_SCORE}, got {score!r}"
        )
    if not MIN_SCORE <= score <= MAX_SCORE:
        raise VerdictValidationError("score", f"{score} is outside {MIN_SCORE}-{MAX_SCORE}")
    return JudgeVerdict(score=score, criteria=criteria, evidence=evidence)


def verdict_from_reply(
    stop_reason: str | None, blocks: Sequence[Mapping[str, object]]
) -> JudgeVerdict:
    """The verdict in a whole reply (content blocks as plain dicts), or a
    ``VerdictValidationError`` saying why there is none."""
    if stop_reason == "refusal":
        raise VerdictValidationError("stop_reason", "Claude refused to grade (refusal)")
    for block in blocks:
        if block.get("type") == "tool_use" and block.get("name") == TOOL_NAME:
            tool_input = block.get("input")
            if not isinstance(tool_input, Mapping):
                raise VerdictValidationError("input", f"expected an object, got {tool_input!r}")
            return parse_verdict(tool_input)
    texts = [str(block.get("text", "")) for block in blocks if block.get("type") == "text"]
    said = " ".join(text.strip() for text in texts).strip()
    found = f"text {said[:80]!r}" if said else "an empty reply"
    raise VerdictValidationError("content", f"no {TOOL_NAME} tool call, got {found}")


def _required_text(tool_input: Mapping[str, object], field: str) -> str:
    if field not in tool_input:
        raise VerdictValidationError(field, "missing")
    value = tool_input[field]
    if not isinstance(value, str):
        raise VerdictValidationError(field, f"expected a string, got {type(value).__name__}")
    if not value.strip():
        raise VerdictValidationError(field, "empty")
    return value.strip()
