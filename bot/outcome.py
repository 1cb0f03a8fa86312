"""An interaction's outcome and its judgements: the rules the judge worker, the report and the
digest all apply, written once.

- An interaction ends ``answered``, ``abstained`` (nothing in the lectures), ``fallback``
  (Claude unavailable: the extractive answer) or ``failed`` (no answer at all). Only an
  answered interaction is judged: the others would only drag relevance statistics down.
- The current judgement of a kind and target is its latest score; a judge failure counts only
  while there is no score, because a TA wants the answer's score and a later failed re-judging
  says nothing about the answer.

Records are read oldest first, as ``SqlStore.judgements_for`` returns them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from bot.annotations import current_grade, tally
from bot.models import (
    ANSWER_RELEVANCE,
    Interaction,
    Judgement,
    JudgementRecord,
    TAGrade,
    Vote,
)

Outcome = Literal["answered", "abstained", "fallback", "failed"]
# Where an interaction's Answer Relevance stands: scored, waiting, the judge failed, or
# not judged by design (the outcome says why).
JudgeStatus = Literal["ok", "pending", "judge_failed", "abstained", "fallback", "failed"]


def failed(interaction: Interaction) -> bool:
    """The ask failed: an error and no answer, not even the extractive fallback."""
    return bool(interaction.error) and not interaction.answer


def outcome(interaction: Interaction) -> Outcome:
    if interaction.abstained:
        return "abstained"
    if interaction.fallback:
        return "fallback"
    if failed(interaction):
        return "failed"
    return "answered"


def is_judged(interaction: Interaction) -> bool:
    return outcome(interaction) == "answered"


def current_record(
    records: Sequence[JudgementRecord], kind: str = ANSWER_RELEVANCE, target: str = ""
) -> JudgementRecord | None:
    """The judge's current word on (kind, target): the latest score, else the latest failure,
    else None (not judged yet)."""
    found = [r for r in records if r.kind == kind and r.target == target]
    scored = [r for r in found if r.status == "ok"]
    return (scored or found)[-1] if found else None


def current_judgement(
    records: Sequence[JudgementRecord], kind: str = ANSWER_RELEVANCE, target: str = ""
) -> Judgement | None:
    """The current score of (kind, target) as a ``Judgement``; None if there is none."""
    record = current_record(records, kind, target)
    return record.as_judgement() if record is not None and record.status == "ok" else None


def answer_relevance(
    records_by_id: Mapping[str, Sequence[JudgementRecord]],
) -> dict[str, Judgement]:
    """Each interaction's current Answer Relevance, for those that have one."""
    judged = {i: current_judgement(records) for i, records in records_by_id.items()}
    return {i: judgement for i, judgement in judged.items() if judgement is not None}


def current_scores(records: Sequence[JudgementRecord], kind: str) -> dict[str, float]:
    """The current score of each target of ``kind`` (e.g. context relevance per segment)."""
    targets = dict.fromkeys(r.target for r in records if r.kind == kind)
    current = {t: current_record(records, kind, t) for t in targets}
    return {t: r.score for t, r in current.items() if r is not None and r.score is not None}


def judge_status(interaction: Interaction, records: Sequence[JudgementRecord]) -> JudgeStatus:
    """Where the interaction's Answer Relevance stands."""
    ended = outcome(interaction)
    if ended != "answered":
        return ended
    record = current_record(records)
    if record is None:
        return "pending"
    return "ok" if record.status == "ok" else "judge_failed"


def escalation_open(
    interaction: Interaction, votes: Sequence[Vote], grades: Sequence[TAGrade] = ()
) -> bool:
    """A student asked for a human and no TA has given the answer a verdict yet: a TA's
    grade or standing 👍/👎 on it is what closes it."""
    verdict = tally(votes).ta_vote != 0 or current_grade(grades) is not None
    return interaction.escalated and not verdict
