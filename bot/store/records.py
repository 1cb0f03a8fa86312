"""Values the store returns beyond ``bot.models``, and its errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from bot.models import Judgement

ANSWER_RELEVANCE: Final = "answer_relevance"
CONTEXT_RELEVANCE: Final = "context_relevance"  # one per retrieved segment: target = segment id
GROUNDEDNESS: Final = "groundedness"
JUDGE_JOB: Final = "judge"

JobStatus = Literal["pending", "running", "done", "failed"]
JudgementStatus = Literal["ok", "failed"]


class StoreError(Exception):
    """A write the database refused; the message names the record and what to check."""


@dataclass(frozen=True)
class JudgementRecord:
    """One judge outcome as stored: a score (status 'ok') or a failure (status 'failed',
    ``score`` None, ``error`` says why). ``target`` is '' or, e.g., a segment id."""

    interaction_id: str
    kind: str
    target: str
    status: JudgementStatus
    score: float | None
    criteria: str
    evidence: str
    model: str
    error: str
    created_at: datetime

    def as_judgement(self) -> Judgement:
        if self.score is None:
            raise ValueError(f"judgement of {self.interaction_id} failed ({self.error}): no score")
        return Judgement(
            self.interaction_id, round(self.score), self.criteria, self.evidence, self.model
        )


@dataclass(frozen=True)
class JobRecord:
    """A row of the job queue, for inspection (workers get ``bot.ports.Job`` from a claim)."""

    id: int
    kind: str
    ref: str
    status: JobStatus
    attempts: int
    next_attempt_at: datetime
    lease_owner: str | None
    lease_expires_at: datetime | None
    last_error: str
    created_at: datetime
    updated_at: datetime
