"""Small core values for pure-function tests (agreement, digest, report)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from bot.models import Interaction, StageTimings, Usage


def interaction(
    interaction_id: str, created_at: datetime | None = None, **fields: object
) -> Interaction:
    """A logged interaction with plain defaults; ``fields`` override any of them."""
    base = Interaction(
        id=interaction_id,
        created_at=created_at or datetime(2025, 3, 10, 12, tzinfo=UTC),
        platform="discord",
        course_id="ml",
        channel="c",
        thread="t",
        asker_ref="alice",
        question=f"pergunta {interaction_id}",
        answer="resposta",
        abstained=False,
        fallback=False,
        model="m",
        usage=Usage(),
        timings=StageTimings(),
        error="",
        retrieved=(),
        citations=(),
    )
    return replace(base, **fields)  # type: ignore[arg-type]
