"""One meaning of an interaction's outcome and of its current judgement, for every reader."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.models import (
    ANSWER_RELEVANCE,
    CONTEXT_RELEVANCE,
    Judgement,
    JudgementRecord,
    JudgementStatus,
)
from bot.outcome import (
    answer_relevance,
    current_judgement,
    current_record,
    current_scores,
    is_judged,
    judge_status,
    outcome,
)
from tests.store_fixtures import InteractionFactory

T0 = datetime(2025, 3, 10, 12, tzinfo=UTC)


def record(
    status: JudgementStatus,
    score: float | None = None,
    minute: int = 0,
    kind: str = ANSWER_RELEVANCE,
    target: str = "",
) -> JudgementRecord:
    error = "" if status == "ok" else "the judge gave no usable verdict"
    at = T0 + timedelta(minutes=minute)
    return JudgementRecord("i1", kind, target, status, score, "c", "e", "j", error, at)


def test_outcomes_and_which_are_judged(make_interaction: InteractionFactory) -> None:
    cases = {
        "answered": make_interaction(),
        "abstained": make_interaction(abstained=True),
        "fallback": make_interaction(fallback=True, error="Claude is down"),
        "failed": make_interaction(answer="", error="retrieval failed"),
    }
    assert {name: outcome(i) for name, i in cases.items()} == {n: n for n in cases}
    assert [name for name, i in cases.items() if is_judged(i)] == ["answered"]


def test_a_later_judge_failure_never_hides_a_score() -> None:
    scored, later_failure = record("ok", 2.0, minute=0), record("failed", minute=5)

    assert current_record([scored, later_failure]) == scored
    assert current_judgement([scored, later_failure]) == Judgement("i1", 2, "c", "e", "j")


def test_the_latest_score_wins_and_a_lone_failure_is_no_score() -> None:
    first, second = record("ok", 1.0, minute=0), record("ok", 3.0, minute=1)
    failure = record("failed", minute=2)

    assert current_judgement([first, second, failure]) == Judgement("i1", 3, "c", "e", "j")
    assert current_record([failure]) == failure
    assert current_judgement([failure]) is None
    assert current_judgement([]) is None


def test_kinds_and_targets_are_apart() -> None:
    records = [
        record("ok", 1.0, kind=CONTEXT_RELEVANCE, target="s1"),
        record("ok", 2.0, minute=1, kind=CONTEXT_RELEVANCE, target="s1"),
        record("failed", minute=2, kind=CONTEXT_RELEVANCE, target="s1"),
        record("failed", kind=CONTEXT_RELEVANCE, target="s2"),
    ]
    assert current_scores(records, CONTEXT_RELEVANCE) == {"s1": 2.0}
    assert current_judgement(records) is None  # no answer relevance among them
    assert answer_relevance({"i1": records, "i2": [record("ok", 3.0)]}) == {
        "i2": Judgement("i1", 3, "c", "e", "j")
    }


def test_judge_status(make_interaction: InteractionFactory) -> None:
    answered = make_interaction()
    assert judge_status(answered, []) == "pending"
    assert judge_status(answered, [record("failed")]) == "judge_failed"
    assert judge_status(answered, [record("ok", 3.0), record("failed", minute=1)]) == "ok"
    assert judge_status(make_interaction(abstained=True), [record("ok", 3.0)]) == "abstained"
    assert judge_status(make_interaction(answer="", error="boom"), []) == "failed"
