"""Pure conversions between the core's values and table rows (dicts / result rows).

Every row written goes through ``storable``: text no database can hold (NUL, lone
surrogates, control characters) is cleaned where it enters, and again here, the last line of
defence for what was made inside (Claude's answers, the judge's reasoning, error messages).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from typing import Any, cast

from bot.models import (
    Citation,
    Interaction,
    JudgementRecord,
    JudgementStatus,
    Label,
    RetrievedSegment,
    Segment,
    TAGrade,
    Vote,
    VoteValue,
)
from bot.store.columns import interaction_from, interaction_values
from retrieval.text import storable_text

Row = Mapping[Any, Any]  # sqlalchemy RowMapping or a plain dict


def storable(row: dict[str, Any]) -> dict[str, Any]:
    """The row with every text value cleaned of what a database cannot hold."""
    return {
        key: storable_text(value) if isinstance(value, str) else value for key, value in row.items()
    }


def interaction_row(interaction: Interaction) -> dict[str, Any]:
    return storable(interaction_values(interaction))


def segment_rows(interaction: Interaction) -> list[dict[str, Any]]:
    return [
        storable(
            {
                "interaction_id": interaction.id,
                "rank": hit.rank,
                "segment_id": hit.segment.id,
                "video_id": hit.segment.video_id,
                "title": hit.segment.title,
                "url": hit.segment.url,
                "start_s": hit.segment.start_s,
                "end_s": hit.segment.end_s,
                "text": hit.segment.text,
                "score": hit.score,
                "dense_score": hit.dense_score,
                "cited": hit.cited,
            }
        )
        for hit in interaction.retrieved
    ]


def citation_rows(interaction: Interaction) -> list[dict[str, Any]]:
    return [
        storable(
            {
                "interaction_id": interaction.id,
                "position": position,
                "segment_id": citation.segment_id,
                "video_id": citation.video_id,
                "title": citation.title,
                "start_s": citation.start_s,
                "end_s": citation.end_s,
                "url": citation.url,
            }
        )
        for position, citation in enumerate(interaction.citations)
    ]


def record_row(record: Vote | JudgementRecord | TAGrade) -> dict[str, Any]:
    """A record whose fields are its table's columns, as a row of that table."""
    return storable(asdict(record))


def to_retrieved(row: Row, course_id: str) -> RetrievedSegment:
    segment = Segment(
        id=row["segment_id"],
        course_id=course_id,  # a snapshot of one course's answer: the interaction's course
        video_id=row["video_id"],
        title=row["title"],
        url=row["url"],
        start_s=row["start_s"],
        end_s=row["end_s"],
        text=row["text"],
    )
    return RetrievedSegment(
        rank=row["rank"],
        score=row["score"],
        segment=segment,
        cited=bool(row["cited"]),
        dense_score=row["dense_score"],
    )


def to_citation(row: Row) -> Citation:
    return Citation(
        segment_id=row["segment_id"],
        video_id=row["video_id"],
        title=row["title"],
        start_s=row["start_s"],
        end_s=row["end_s"],
        url=row["url"],
    )


def to_interaction(row: Row, segments: Sequence[Row], citations: Sequence[Row]) -> Interaction:
    """The ``Interaction`` for its row and its segment and citation rows (in rank/position
    order)."""
    return interaction_from(
        row,
        retrieved=[to_retrieved(segment, row["course_id"]) for segment in segments],
        citations=[to_citation(citation) for citation in citations],
    )


def to_vote(row: Row) -> Vote:
    return Vote(
        interaction_id=row["interaction_id"],
        user_ref=row["user_ref"],
        value=cast(VoteValue, int(row["value"])),
        at=row["at"],
        is_ta=bool(row["is_ta"]),
    )


def to_grade(row: Row) -> TAGrade:
    return TAGrade(
        interaction_id=row["interaction_id"],
        grader_ref=row["grader_ref"],
        label=cast(Label, row["label"]),
        at=row["at"],
        ar_grade=None if row["ar_grade"] is None else int(row["ar_grade"]),
        note=row["note"],
    )


def to_judgement_record(row: Row) -> JudgementRecord:
    return JudgementRecord(
        interaction_id=row["interaction_id"],
        kind=row["kind"],
        target=row["target"],
        status=cast(JudgementStatus, row["status"]),
        score=row["score"],
        criteria=row["criteria"],
        evidence=row["evidence"],
        model=row["model"],
        error=row["error"],
        created_at=row["created_at"],
    )


def group_by_interaction(rows: Iterable[Row]) -> dict[str, list[Row]]:
    grouped: dict[str, list[Row]] = {}
    for row in rows:
        grouped.setdefault(row["interaction_id"], []).append(row)
    return grouped
