"""The small interfaces the service depends on. Real implementations live in
``bot.llm`` (Claude), ``bot.store`` (SQL) and ``retrieval``; tests register fakes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from bot.courses import Course
from bot.models import Draft, Hit, Interaction, Judgement, Question, Vote
from retrieval.models import SearchResult

if TYPE_CHECKING:
    from bot.store.records import JudgementRecord

# Called with the answer text so far, for adapters that show progress while Claude writes.
OnText = Callable[[str], Awaitable[None]]


class Retriever(Protocol):
    async def search(self, course_id: str, text: str, k: int) -> SearchResult: ...


class AnswerModel(Protocol):
    async def answer(
        self,
        question: Question,
        hits: Sequence[Hit],
        policy: str,
        on_text: OnText | None = None,
    ) -> Draft: ...


class Reindexer(Protocol):
    def reindex(self, course: Course) -> str: ...


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    ref: str  # what the job is about, e.g. an interaction id
    attempts: int


class Store(Protocol):
    """Synchronous; the async core calls it through ``asyncio.to_thread``."""

    def save_interaction(self, interaction: Interaction, *, enqueue_judge: bool = True) -> None: ...
    def restore_interaction(self, interaction: Interaction, *, enqueue_judge: bool) -> bool: ...
    def get_interaction(self, interaction_id: str) -> Interaction | None: ...
    def list_interactions(
        self, course_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[Interaction]: ...
    def mark_escalated(self, interaction_id: str) -> None: ...
    def save_vote(self, vote: Vote) -> None: ...
    def restore_vote(self, vote: Vote) -> bool: ...
    def votes_for(self, interaction_id: str) -> list[Vote]: ...
    def save_judgement(self, judgement: Judgement) -> None: ...
    def judgement_for(self, interaction_id: str) -> Judgement | None: ...
    def thread_interactions(
        self, platform: str, channel: str, thread: str, since: datetime | None = None
    ) -> list[Interaction]: ...
    def interactions_between(
        self, course_id: str, start: datetime, end: datetime
    ) -> list[Interaction]: ...
    def votes_for_many(self, interaction_ids: Iterable[str]) -> dict[str, list[Vote]]: ...
    def judgements_for_many(
        self, interaction_ids: Iterable[str]
    ) -> dict[str, list[JudgementRecord]]: ...
