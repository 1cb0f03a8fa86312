"""The core's values: plain frozen dataclasses, no platform or library types.

Adapters build a ``Question`` from a platform event and render an ``Answer``; the
service, the store and the judge speak only these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal

from retrieval.models import Hit, Segment

__all__ = [
    "ANSWER_RELEVANCE",
    "AR_GRADES",
    "CONTEXT_RELEVANCE",
    "GROUNDEDNESS",
    "JUDGE_JOB",
    "LABELS",
    "Answer",
    "Chart",
    "Citation",
    "Digest",
    "DigestSection",
    "Draft",
    "Erased",
    "Hit",
    "Interaction",
    "Judgement",
    "JudgementRecord",
    "Label",
    "Question",
    "Refusal",
    "RetrievedSegment",
    "Segment",
    "StageTimings",
    "TAGrade",
    "Turn",
    "Usage",
    "Vote",
    "cot_reasoning",
]

Platform = Literal["discord", "slack", "cli", "eval"]
VoteValue = Literal[1, -1, 0]  # 0 retracts the user's earlier vote
Label = Literal["C", "I"]  # an annotation: the answer is correct / incorrect
LABELS: tuple[Label, Label] = ("C", "I")
AR_GRADES: Final = range(4)  # an Answer Relevance score, the judge's or a TA's: 0-3

# What a judgement judges (``JudgementRecord.kind``) and the job kind that asks for them.
ANSWER_RELEVANCE: Final = "answer_relevance"
CONTEXT_RELEVANCE: Final = "context_relevance"  # one per retrieved segment: target = segment id
GROUNDEDNESS: Final = "groundedness"
JUDGE_JOB: Final = "judge"

JudgementStatus = Literal["ok", "failed"]


@dataclass(frozen=True)
class Turn:
    """An earlier message of the same thread: the student's or the bot's."""

    role: Literal["student", "assistant"]
    text: str


@dataclass(frozen=True)
class Question:
    course_id: str
    text: str
    platform: Platform = "cli"
    channel: str = ""
    thread: str = ""
    asker: str = ""  # the platform's raw user id; the service pseudonymises it before storing
    history: tuple[Turn, ...] = ()
    # A direct-message conversation: its channel id names a person, so it is stored as a
    # pseudonym (the adapter keeps the real one to reply).
    private: bool = False
    # What the guardrails raised (``bot.guardrails``), set by the service and told to the model.
    flags: tuple[str, ...] = ()
    # The adapter found the asker among the course's TAs (by role, user id or user group):
    # the rate limit is for students, and a TA tries the bot out before an exam.
    asked_by_ta: bool = False


@dataclass(frozen=True)
class Citation:
    """A place in a lecture the answer relies on; ``url`` opens the video at ``start_s``."""

    segment_id: str
    video_id: str
    title: str
    start_s: float
    end_s: float
    url: str


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Draft:
    """What an answer model returns, before it is logged."""

    text: str
    citations: tuple[Citation, ...] = ()
    abstained: bool = False
    fallback: bool = False
    model: str = ""
    usage: Usage = field(default_factory=Usage)
    error: str = ""  # why a fallback was used, for the log


@dataclass(frozen=True)
class StageTimings:
    embed_ms: float = 0.0
    search_ms: float = 0.0
    generate_ms: float = 0.0
    total_ms: float = 0.0


@dataclass(frozen=True)
class Answer:
    interaction_id: str
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    fallback: bool
    model: str = ""
    # Set when something broke on the way (the answer model failed): what the adapter tells
    # the course's TAs. The service decides; the adapters only render it.
    tas_alert: str = ""
    repeat_of: str = ""  # given from the answer of this earlier interaction: no model call


@dataclass(frozen=True)
class RetrievedSegment:
    """A hit as logged with an interaction: a snapshot, so reports survive re-ingests."""

    rank: int
    score: float
    segment: Segment
    cited: bool
    dense_score: float | None = None


@dataclass(frozen=True)
class Interaction:
    id: str
    created_at: datetime
    platform: str
    course_id: str
    channel: str
    thread: str
    asker_ref: str  # pseudonym, never the raw id
    question: str
    answer: str
    abstained: bool
    fallback: bool
    model: str
    usage: Usage
    timings: StageTimings
    error: str
    retrieved: tuple[RetrievedSegment, ...]
    citations: tuple[Citation, ...]
    escalated: bool = False
    flags: str = ""  # the guardrails' flags, comma-separated (``bot.guardrails``)
    version: str = ""  # what produced it (``bot.versions``); '' for rows from before it
    repeat_of: str = ""  # the interaction whose answer was given again (a repeated question)


@dataclass(frozen=True)
class Refusal:
    """A question the rate limit turned away: kept, as every question is, but not answered
    (nor judged, nor counted as an interaction: the student asks it again later)."""

    created_at: datetime
    course_id: str
    platform: str
    channel: str
    asker_ref: str
    question: str
    wait_s: float  # how long the student was told to wait


@dataclass(frozen=True)
class Judgement:
    """Answer Relevance with chain-of-thought, as the seed shows it."""

    interaction_id: str
    score: int  # 0-3
    criteria: str
    evidence: str
    model: str = ""

    @property
    def ar(self) -> float:
        return self.score / 3

    @property
    def reasoning(self) -> str:
        return cot_reasoning(self.criteria, self.evidence, self.score)


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


def cot_reasoning(criteria: str, evidence: str, score: int) -> str:
    """The judge's chain of thought as TruLens prints it (the report's "Raciocínio")."""
    return f"Criteria: {criteria} Supporting Evidence: {evidence} Score: {score}"


@dataclass(frozen=True)
class Vote:
    interaction_id: str
    user_ref: str
    value: VoteValue
    at: datetime
    is_ta: bool = False


@dataclass(frozen=True)
class TAGrade:
    """A TA's verdict on an answer (the report's "Anotação manual"), kept as an event like a
    vote: the latest grade of an interaction is the one that counts."""

    interaction_id: str
    grader_ref: str  # the TA's pseudonym, never the raw id
    label: Label
    at: datetime
    ar_grade: int | None = None  # the TA's own Answer Relevance score, 0-3, when given
    note: str = ""


@dataclass(frozen=True)
class DigestSection:
    """A heading and its lines; a line may hold Markdown links (``[label](url)``)."""

    heading: str
    lines: tuple[str, ...]
    level: int = 2  # 3: a part of the section before it (e.g. one topic of the content gaps)


@dataclass(frozen=True)
class Chart:
    name: str  # a file name's tail: ``perguntas`` gives ``<digest>-perguntas.png``
    title: str
    png: bytes


@dataclass(frozen=True)
class Digest:
    course_id: str
    week_start: datetime
    sections: tuple[DigestSection, ...]
    chart_png: bytes | None = None  # the chart the chat gets
    extra_charts: tuple[Chart, ...] = ()  # the ones only the files get (``python -m bot digest``)


@dataclass(frozen=True)
class Erased:
    """What an erasure deleted (a student forgotten, or the log past its retention)."""

    interactions: int = 0  # questions with their answers, segments and citations
    votes: int = 0
    judgements: int = 0
    jobs: int = 0
    journal_entries: int = 0

    def describe(self) -> str:
        """One line in the TAs' language."""
        return (
            f"apagados: {self.interactions} pergunta(s) com resposta, {self.votes} voto(s), "
            f"{self.judgements} avaliação(ões), {self.jobs} tarefa(s) do avaliador, "
            f"{self.journal_entries} registro(s) do diário"
        )
