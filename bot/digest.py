"""The weekly digest for a course's TAs, in Portuguese: every figure beside last week's,
the content gaps and frequent questions, what to review, open requests for help, the most
cited lectures, how well the judge agrees with the manual annotations (a TA's grade, else the
students' votes) and with the TA grades alone (``bot.alignment``), and the versions in use.

``build_digest`` is pure: given the interactions, votes and judgements of the week and the
week before (``week_bounds`` gives the window), and optionally the course's embedder, it
returns a ``Digest``; ``digest_for_week`` reads them from the store first. The week runs
from Monday 00:00 to the next Monday 00:00 in the course's time zone. Each section is a
function of the week (``SECTIONS``); the figures, the gaps and the charts have modules of
their own (``bot.digest_figures``, ``bot.digest_gaps``, ``bot.digest_charts``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta

import numpy as np

from bot.agreement import agreement, annotation_pairs
from bot.alignment import ALIGNMENT_HEADING, alignment_lines, judge_alignment
from bot.courses import Course
from bot.digest_charts import outcomes_chart, questions_chart
from bot.digest_figures import empty_week, summary, versions
from bot.digest_gaps import content_gaps, frequent_questions, gap_reasons
from bot.digest_week import QUESTION_CHARS, DigestInput, EmbedQuestions, Section, Week, short
from bot.guardrails import flagged_section
from bot.models import Digest, DigestSection, Interaction, Judgement, TAGrade, Vote
from bot.outcome import answer_relevance, escalation_open, failed
from bot.ports import LogReads

log = logging.getLogger(__name__)

MAX_REVIEW_LINES = 15
MAX_VIDEOS = 5


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_bounds(course: Course, week_start: date) -> tuple[datetime, datetime]:
    """[start, end) of the course-local week beginning on the Monday of ``week_start``, as
    aware datetimes in the course's zone (DST-safe: each bound is its own local midnight)."""
    monday = monday_of(week_start)
    start = datetime.combine(monday, time(0), tzinfo=course.tz)
    end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=course.tz)
    return start, end


def current_week_start(course: Course, now: datetime) -> date:
    """The Monday of the course-local week that contains ``now``."""
    return monday_of(now.astimezone(course.tz).date())


def previous_week_start(course: Course, now: datetime) -> date:
    """The Monday of the course-local week before the one that contains ``now``."""
    return current_week_start(course, now) - timedelta(days=7)


def digest_for_week(
    store: LogReads,
    course: Course,
    week_start: date,
    pass_score: int,
    *,
    chart: bool = True,
    embed: EmbedQuestions | None = None,
) -> Digest:
    """Read the week's and the week before's interactions, votes and judgements and build
    the digest (blocking: call it through ``asyncio.to_thread``). The clock's weekly post,
    the service's preview and ``python -m bot digest`` all use it."""
    start, _ = week_bounds(course, monday_of(week_start) - timedelta(days=7))
    _, end = week_bounds(course, week_start)
    interactions = store.list_interactions(course.id, start, end)
    ids = [i.id for i in interactions]
    votes = store.votes_for_many(ids)
    judgements = answer_relevance(store.judgements_for_many(ids))
    grades = store.grades_for_many(ids)
    return build_digest(
        course,
        week_start,
        interactions,
        votes,
        judgements,
        pass_score,
        chart=chart,
        embed=embed,
        grades_by_id=grades,
    )


def build_digest(
    course: Course,
    week_start: date,
    interactions: Sequence[Interaction],
    votes_by_id: Mapping[str, Sequence[Vote]],
    judgements_by_id: Mapping[str, Judgement],
    pass_score: int,
    *,
    chart: bool = True,
    embed: EmbedQuestions | None = None,
    grades_by_id: Mapping[str, Sequence[TAGrade]] | None = None,
) -> Digest:
    """The digest of the week, with the week before beside it; other interactions are
    ignored. ``embed`` (the course's embedder) groups questions by topic. A TA's grade is an
    answer's manual annotation, over the students' votes."""
    start, end = week_bounds(course, week_start)
    before, _ = week_bounds(course, monday_of(week_start) - timedelta(days=7))
    logged = (interactions, votes_by_id, judgements_by_id, grades_by_id)
    week = Week.of(start, end, *logged)
    previous = Week.of(before, start, *logged)
    data = DigestInput(course, week, previous, pass_score, _embedded(week, embed))
    builders = SECTIONS if week.interactions else EMPTY_WEEK_SECTIONS
    sections = tuple(section for build in builders for section in build(data))
    with_charts = chart and bool(week.interactions)
    extra = outcomes_chart(data) if with_charts else None
    return Digest(
        course_id=course.id,
        week_start=start,
        sections=sections,
        chart_png=questions_chart(data) if with_charts else None,
        extra_charts=(extra,) if extra else (),
    )


def _embedded(week: Week, embed: EmbedQuestions | None) -> dict[str, np.ndarray]:
    """Each question's embedding; none when there is no embedder or it fails (the digest
    is still sent, its questions grouped by their text alone)."""
    if embed is None or not week.interactions:
        return {}
    try:
        vectors = embed([i.question for i in week.interactions])
    except Exception:
        log.warning("questions not embedded: the digest groups them by text", exc_info=True)
        return {}
    return {i.id: vector for i, vector in zip(week.interactions, vectors, strict=True)}


def review_reasons(
    interaction: Interaction,
    votes: Sequence[Vote],
    judgement: Judgement | None,
    pass_score: int,
) -> list[str]:
    """Why a TA should look at this interaction; empty when nothing stands out."""
    reasons = []
    if failed(interaction):
        reasons.append("falhou")
    if interaction.fallback:
        reasons.append("resposta extrativa")
    if interaction.escalated:
        reasons.append("pediu monitor")
    return reasons + gap_reasons(interaction, votes, judgement, pass_score)


def to_review(data: DigestInput) -> list[DigestSection]:
    week, lines = data.week, []
    for interaction in week.interactions:
        judgement = week.judged.get(interaction.id)
        votes = week.votes_on(interaction)
        reasons = review_reasons(interaction, votes, judgement, data.pass_score)
        if reasons:
            lines.append(
                f"“{short(interaction.question)}” — {'; '.join(reasons)} (id {interaction.id})"
            )
    if len(lines) > MAX_REVIEW_LINES:
        rest = len(lines) - MAX_REVIEW_LINES
        lines = [*lines[:MAX_REVIEW_LINES], f"… e mais {rest} (veja `python -m bot report`)"]
    return [DigestSection("Para revisar", tuple(lines) or ("Nada a revisar nesta semana.",))]


def open_escalations(data: DigestInput) -> list[DigestSection]:
    """Requests for a human, this week's and last week's, that no TA has closed yet."""
    lines = []
    for week in (data.previous, data.week):
        for interaction in week.interactions:
            if escalation_open(
                interaction, week.votes_on(interaction), week.grades_on(interaction)
            ):
                asked = interaction.created_at.astimezone(data.course.tz)
                lines.append(
                    f"“{short(interaction.question)}” — {asked:%d/%m %H:%M} (id {interaction.id})"
                )
    heading = "Pedidos de ajuda em aberto"
    return [DigestSection(heading, tuple(lines) or ("Nenhum pedido em aberto.",))]


def _open_escalations_if_any(data: DigestInput) -> list[DigestSection]:
    found = open_escalations(data)
    return found if found[0].lines != ("Nenhum pedido em aberto.",) else []


def most_cited(data: DigestInput) -> list[DigestSection]:
    titles: dict[str, str] = {}
    counts: Counter[str] = Counter()
    for interaction in data.week.interactions:
        for citation in interaction.citations:
            counts[citation.video_id] += 1
            titles.setdefault(citation.video_id, citation.title)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], titles[item[0]]))[:MAX_VIDEOS]
    lines = tuple(f"{titles[video]} — {n} citação(ões)" for video, n in ranked)
    return [DigestSection("Vídeos mais citados", lines or ("Nenhuma citação nesta semana.",))]


def agreement_section(data: DigestInput) -> list[DigestSection]:
    week = data.week
    pairs = annotation_pairs(
        week.interactions, week.votes, week.judged, data.pass_score, week.grades
    )
    result = agreement(pairs)
    heading = "Concordância anotação manual × automatizada"
    if result is None:
        return [DigestSection(heading, ("Nenhuma resposta com as duas anotações nesta semana.",))]
    m = result.confusion
    return [
        DigestSection(
            heading,
            (
                f"Respostas com as duas anotações: {result.n}",
                f"Acurácia: {result.accuracy:.2f} · kappa de Cohen: {result.kappa:.2f}",
                f"Manual C / automatizada C: {m.cc} · manual C / automatizada I: {m.ci}",
                f"Manual I / automatizada C: {m.ic} · manual I / automatizada I: {m.ii}",
            ),
        )
    ]


def alignment_section(data: DigestInput) -> list[DigestSection]:
    """The judge against the week's TA grades, and answers to grade next."""
    week = data.week
    found = judge_alignment(week.interactions, week.judged, week.grades, data.pass_score)
    return [DigestSection(ALIGNMENT_HEADING, alignment_lines(found, QUESTION_CHARS))]


def flagged(data: DigestInput) -> list[DigestSection]:
    """What the guardrails flagged this week (``bot.guardrails``)."""
    return [flagged_section(data.week.interactions)]


# The digest's sections, in order: each builds its part from the week (``DigestInput``).
# A new section is a function here and one entry in this tuple.
SECTIONS: tuple[Section, ...] = (
    summary,
    content_gaps,
    frequent_questions,
    to_review,
    open_escalations,
    most_cited,
    agreement_section,
    alignment_section,
    flagged,
    versions,
)
# A week without questions: a short digest that says so.
EMPTY_WEEK_SECTIONS: tuple[Section, ...] = (empty_week, _open_escalations_if_any)


def render_digest_markdown(digest: Digest) -> str:
    """The digest as Markdown: each section a heading of its level and a list."""
    blocks = []
    for section in digest.sections:
        body = "\n".join(f"- {line}" for line in section.lines)
        blocks.append(f"{'#' * section.level} {section.heading}\n\n{body}")
    return "\n\n".join(blocks) + "\n"
