"""The evaluation report: every logged interaction with its retrieved segments, answer,
references, manual and automated annotations, in the user's own layout (``md``) or as
machine-friendly records (``jsonl``, ``csv``).

Decisions (the seed shows only a judged, annotated answer):
- "Pergunta N" numbers the report's interactions in time order from ``start`` (1 by default;
  the CLI's ``--start``), so the seed's "Pergunta 118" is ``start=118``.
- A segment's Score is its E5 (dense) similarity when known, as the seed's header says,
  else the score that ranked it; printed at full precision (``repr``).
- With ``hide_urls`` each cited video gives one ``- [Vídeo de referência oculto]()`` line,
  and every link in free text (question, answer, transcript, the judge's reasoning, errors)
  becomes its label — Markdown ``[label](url)``, Slack ``<url|label>`` — or ``oculto`` when it
  has none (a bare URL): answers cite the videos they use, and the fallback lists their links.
- "Anotação manual" is a TA's grade when the answer has one, else what the students' votes
  add up to (``bot.annotations.manual_annotation``); an empty annotation leaves the line as
  ``**Anotação manual**:``. The records also carry the TA's grade itself (``ta_*`` fields).
- Answer Relevance when there is no score: ``pendente`` (not judged yet), ``falha do juiz``
  (the judge gave no usable verdict; the reason goes to Raciocínio), or ``não avaliada
  (abstenção | resposta extrativa | falha)`` for interactions the judge skips by design.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from bot.alignment import Alignment, judge_alignment
from bot.annotations import (
    Label,
    VoteTally,
    automated_annotation,
    current_grade,
    manual_annotation,
    tally,
)
from bot.citations import citation_label, deep_link, format_hms
from bot.models import (
    CONTEXT_RELEVANCE,
    GROUNDEDNESS,
    Interaction,
    Judgement,
    JudgementRecord,
    RetrievedSegment,
    TAGrade,
    Vote,
)
from bot.outcome import JudgeStatus, current_judgement, current_record, current_scores, judge_status
from bot.ports import LogReads
from bot.store.columns import INTERACTION_COLUMNS

Format = Literal["md", "jsonl", "csv"]
FORMATS: tuple[Format, ...] = ("md", "jsonl", "csv")
HIDDEN_URL = "oculto"
HIDDEN_REFERENCE = "- [Vídeo de referência oculto]()"
_MARKDOWN_LINK = re.compile(r"!?\[([^\]\n]*)\]\(\s*[^)\s]*(?:\s+\"[^\"]*\")?\s*\)")
_ANGLE_LINK = re.compile(r"<[a-zA-Z][a-zA-Z0-9+.-]*:[^|>\s]+(?:\|([^>]*))?>")  # Slack, autolinks
_BARE_URL = re.compile(r"(?:\bhttps?://|\bwww\.)[^\s<>\"]*[^\s<>\".,;:!?')\]]")
_AR_TEXT = {
    "pending": "pendente",
    "judge_failed": "falha do juiz",
    "abstained": "não avaliada (abstenção)",
    "fallback": "não avaliada (resposta extrativa)",
    "failed": "não avaliada (falha)",
}


@dataclass(frozen=True)
class ReportEntry:
    number: int
    interaction: Interaction
    votes: VoteTally
    records: tuple[JudgementRecord, ...]
    pass_score: int
    grade: TAGrade | None = None  # the current TA grade

    @property
    def ar_record(self) -> JudgementRecord | None:
        return current_record(self.records)

    @property
    def judgement(self) -> Judgement | None:
        return current_judgement(self.records)

    @property
    def manual(self) -> Label | None:
        return manual_annotation(self.votes, self.grade)

    @property
    def automated(self) -> Label | None:
        return automated_annotation(self.judgement, self.pass_score)

    @property
    def ar_status(self) -> JudgeStatus:
        return judge_status(self.interaction, self.records)


def build_entries(
    interactions: Sequence[Interaction],
    votes_by_id: Mapping[str, Sequence[Vote]],
    records_by_id: Mapping[str, Sequence[JudgementRecord]],
    pass_score: int = 2,
    start: int = 1,
    grades_by_id: Mapping[str, Sequence[TAGrade]] | None = None,
) -> list[ReportEntry]:
    grades_by_id = grades_by_id or {}
    ordered = sorted(interactions, key=lambda i: (i.created_at, i.id))
    return [
        ReportEntry(
            number=start + n,
            interaction=i,
            votes=tally(votes_by_id.get(i.id, ())),
            records=tuple(records_by_id.get(i.id, ())),
            pass_score=pass_score,
            grade=current_grade(grades_by_id.get(i.id, ())),
        )
        for n, i in enumerate(ordered)
    ]


def load_entries(
    store: LogReads,
    course_id: str,
    since: datetime | None = None,
    until: datetime | None = None,
    pass_score: int = 2,
    start: int = 1,
) -> list[ReportEntry]:
    """The course's interactions in [since, until) with their votes, judge outcomes and TA
    grades, in four bulk reads."""
    interactions = store.list_interactions(course_id, since, until)
    ids = [i.id for i in interactions]
    return build_entries(
        interactions,
        store.votes_for_many(ids),
        store.judgements_for_many(ids),
        pass_score,
        start,
        store.grades_for_many(ids),
    )


def alignment_of(entries: Sequence[ReportEntry], pass_score: int, seed: int = 0) -> Alignment:
    """The judge against the TA grades of ``entries`` (``bot.alignment``)."""
    interactions = [e.interaction for e in entries]
    judged = {e.interaction.id: j for e in entries if (j := e.judgement) is not None}
    grades = {e.interaction.id: [e.grade] for e in entries if e.grade is not None}
    return judge_alignment(interactions, judged, grades, pass_score, seed=seed)


def hide_links(text: str) -> str:
    """``text`` with each link replaced by its label, or by ``oculto`` when it has none."""

    def label(match: re.Match[str]) -> str:
        return (match.group(1) or "").strip() or HIDDEN_URL

    text = _MARKDOWN_LINK.sub(label, text)
    text = _ANGLE_LINK.sub(label, text)
    return _BARE_URL.sub(HIDDEN_URL, text)


def _shown(text: str, hide_urls: bool) -> str:
    return hide_links(text) if hide_urls else text


# -- Markdown, in the seed's layout ---------------------------------------------------------


def render(entries: Sequence[ReportEntry], fmt: Format = "md", hide_urls: bool = False) -> str:
    renderers = {"md": render_markdown, "jsonl": render_jsonl, "csv": render_csv}
    return renderers[fmt](entries, hide_urls)


def render_markdown(entries: Sequence[ReportEntry], hide_urls: bool = False) -> str:
    return "\n".join(markdown_entry(e, hide_urls) for e in entries)


def markdown_entry(entry: ReportEntry, hide_urls: bool = False) -> str:
    interaction = entry.interaction
    question, answer = (_shown(t, hide_urls) for t in (interaction.question, interaction.answer))
    lines = [f"**Pergunta {entry.number}**: {question}", ""]
    lines.append("**Segmentos recuperados pelo E5**:")
    for retrieved in interaction.retrieved:
        lines += [*_segment_lines(retrieved, hide_urls), ""]
    lines += ["", f"**Resposta gerada pelo LLM**: {answer}", ""]
    lines += ["**Referências**:", *_reference_lines(interaction, hide_urls), ""]
    lines += [_field("Anotação manual", entry.manual or ""), ""]
    lines += [_field("Answer Relevance (AR)", _ar_text(entry)), ""]
    lines += [_field("Anotação automatizada", entry.automated or ""), ""]
    lines += [_field("Raciocínio (AR CoT)", _shown(_reasoning(entry), hide_urls)), "", "", "---"]
    return "\n".join(lines) + "\n"


def _field(name: str, value: str) -> str:
    return f"**{name}**: {value}".rstrip()


def shown_score(retrieved: RetrievedSegment) -> float:
    return retrieved.dense_score if retrieved.dense_score is not None else retrieved.score


def segment_url(retrieved: RetrievedSegment) -> str:
    return deep_link(retrieved.segment.url, retrieved.segment.start_s)


def _segment_lines(retrieved: RetrievedSegment, hide_urls: bool) -> list[str]:
    segment = retrieved.segment
    return [
        f"- *Corpus ID:* {segment.id}",
        f"- *Score:* {shown_score(retrieved)!r}",
        f"- *URL:* {HIDDEN_URL if hide_urls else segment_url(retrieved)}",
        f"- *Início:* {format_hms(segment.start_s)}",
        f"- *Fim:* {format_hms(segment.end_s)}",
        f"- *Transcrição:* {_shown(segment.text, hide_urls)}",
    ]


def _reference_lines(interaction: Interaction, hide_urls: bool) -> list[str]:
    if not interaction.citations:
        return ["- (nenhuma)"]
    if hide_urls:
        videos = dict.fromkeys(c.video_id for c in interaction.citations)
        return [HIDDEN_REFERENCE] * len(videos)
    return [f"- [{citation_label(c)}]({c.url})" for c in interaction.citations]


def _ar_text(entry: ReportEntry) -> str:
    judgement = entry.judgement
    if judgement is not None:
        return f"{judgement.ar:.2f}"
    return _AR_TEXT[entry.ar_status]


def _reasoning(entry: ReportEntry) -> str:
    judgement = entry.judgement
    if judgement is not None:
        return judgement.reasoning
    record = entry.ar_record
    if entry.ar_status == "judge_failed" and record is not None:
        return record.error
    return ""


# -- records: JSON Lines and CSV ------------------------------------------------------------


def entry_record(entry: ReportEntry, hide_urls: bool = False) -> dict[str, Any]:
    """Every field of an entry as plain JSON values; segments and citations nested."""
    interaction, judgement, record = entry.interaction, entry.judgement, entry.ar_record

    def shown(text: str) -> str:
        return _shown(text, hide_urls)

    grade = entry.grade
    context = current_scores(entry.records, CONTEXT_RELEVANCE)
    grounded = current_scores(entry.records, GROUNDEDNESS).get("")
    return {
        "number": entry.number,
        **_interaction_fields(interaction, shown),
        "segments": [
            {
                "rank": r.rank,
                "segment_id": r.segment.id,
                "video_id": r.segment.video_id,
                "title": r.segment.title,
                "url": "" if hide_urls else segment_url(r),
                "start_s": r.segment.start_s,
                "end_s": r.segment.end_s,
                "score": r.score,
                "dense_score": r.dense_score,
                "cited": r.cited,
                "context_relevance": context.get(r.segment.id),
                "text": shown(r.segment.text),
            }
            for r in interaction.retrieved
        ],
        "citations": [
            {
                "segment_id": c.segment_id,
                "video_id": c.video_id,
                "label": citation_label(c),
                "start_s": c.start_s,
                "end_s": c.end_s,
                "url": "" if hide_urls else c.url,
            }
            for c in interaction.citations
        ],
        "votes_up": entry.votes.up,
        "votes_down": entry.votes.down,
        "ta_vote": entry.votes.ta_vote,
        "manual_annotation": entry.manual,
        "ar_status": entry.ar_status,
        "ar_score": judgement.score if judgement else None,
        "ar": judgement.ar if judgement else None,
        "automated_annotation": entry.automated,
        "ar_criteria": shown(judgement.criteria) if judgement else None,
        "ar_evidence": shown(judgement.evidence) if judgement else None,
        "judge_model": record.model if record else None,
        "judge_error": shown(record.error) if record and record.status != "ok" else None,
        "groundedness": grounded,
        # Added after the first release: last, so the earlier columns keep their places.
        "ta_grade": grade.label if grade else None,
        "ta_ar_grade": grade.ar_grade if grade else None,
        "ta_note": shown(grade.note) if grade else None,
        "ta_grader": grade.grader_ref if grade else None,
        "ta_graded_at": grade.at.isoformat() if grade else None,
    }


def _interaction_fields(interaction: Interaction, shown: Callable[[str], str]) -> dict[str, Any]:
    """The interaction's own columns as JSON values: free text through ``shown``."""
    fields: dict[str, Any] = {}
    for column in INTERACTION_COLUMNS:
        value = column.value(interaction)
        if column.free_text:
            value = shown(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        fields[column.name] = value
    return fields


def render_jsonl(entries: Sequence[ReportEntry], hide_urls: bool = False) -> str:
    return "".join(
        json.dumps(entry_record(e, hide_urls), ensure_ascii=False) + "\n" for e in entries
    )


CSV_JOINER = ";"


def csv_row(entry: ReportEntry, hide_urls: bool = False) -> dict[str, Any]:
    """One flat row: lists (segments, citations) become ``;``-joined columns."""
    record = entry_record(entry, hide_urls)
    segments, citations = record.pop("segments"), record.pop("citations")
    record["segment_ids"] = CSV_JOINER.join(s["segment_id"] for s in segments)
    record["segment_scores"] = CSV_JOINER.join(repr(s["score"]) for s in segments)
    record["segment_dense_scores"] = CSV_JOINER.join(
        "" if s["dense_score"] is None else repr(s["dense_score"]) for s in segments
    )
    record["cited_segment_ids"] = CSV_JOINER.join(c["segment_id"] for c in citations)
    record["citation_urls"] = CSV_JOINER.join(c["url"] for c in citations)
    return record


def render_csv(entries: Sequence[ReportEntry], hide_urls: bool = False) -> str:
    rows = [csv_row(e, hide_urls) for e in entries]
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
