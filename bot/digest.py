"""The weekly digest for a course's TAs, in Portuguese: what was asked, what went wrong,
which lectures were cited, how well the judge agrees with the manual annotations (a TA's
grade, else the students' votes) and with the TA grades alone (``bot.alignment``).

``build_digest`` is pure: given the week's interactions, votes and judgements (``week_bounds``
gives the window) it returns a ``Digest``; ``digest_for_week`` reads them from the store
first. The week runs from Monday 00:00 to the next Monday 00:00 in the course's time zone.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta

from bot.agreement import Agreement, agreement, annotation_pairs
from bot.alignment import ALIGNMENT_HEADING, alignment_lines, judge_alignment
from bot.annotations import current_votes, tally
from bot.courses import Course
from bot.models import Digest, DigestSection, Interaction, Judgement, TAGrade, Vote
from bot.outcome import answer_relevance, failed
from bot.ports import LogReads

MAX_REVIEW_LINES = 15
MAX_VIDEOS = 5
QUESTION_CHARS = 140
WEEKDAYS = ("seg", "ter", "qua", "qui", "sex", "sáb", "dom")


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
    store: LogReads, course: Course, week_start: date, pass_score: int, *, chart: bool = True
) -> Digest:
    """Read the week's interactions, votes and judgements and build the digest (blocking:
    call it through ``asyncio.to_thread``). The clock's weekly post and the service's
    preview both use it."""
    start, end = week_bounds(course, week_start)
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
    grades_by_id: Mapping[str, Sequence[TAGrade]] | None = None,
) -> Digest:
    """The digest of the week; interactions outside it are ignored. A TA's grade is an
    answer's manual annotation, over the students' votes."""
    grades_by_id = grades_by_id or {}
    start, end = week_bounds(course, week_start)
    week = sorted(
        (i for i in interactions if start <= i.created_at < end), key=lambda i: i.created_at
    )
    judged = {i.id: judgements_by_id[i.id] for i in week if i.id in judgements_by_id}
    sections = (
        _summary(course, start, end, week, votes_by_id, judged),
        _to_review(week, votes_by_id, judged, pass_score),
        _most_cited(week),
        _agreement_section(
            agreement(annotation_pairs(week, votes_by_id, judged, pass_score, grades_by_id))
        ),
        _alignment_section(week, judged, grades_by_id, pass_score),
    )
    png = questions_per_day_png(course, start, week) if chart and week else None
    return Digest(course_id=course.id, week_start=start, sections=sections, chart_png=png)


def _summary(
    course: Course,
    start: datetime,
    end: datetime,
    week: Sequence[Interaction],
    votes_by_id: Mapping[str, Sequence[Vote]],
    judged: Mapping[str, Judgement],
) -> DigestSection:
    standing = [v for i in week for v in current_votes(votes_by_id.get(i.id, ())).values()]
    last_day = (end - timedelta(days=1)).date()
    ar = [j.ar for j in judged.values()]
    ar_text = f"{sum(ar) / len(ar):.2f} (em {len(ar)} respostas avaliadas)" if ar else "—"
    heading = f"Resumo semanal — {course.name} — {start:%d/%m} a {last_day:%d/%m/%Y}"
    return DigestSection(
        heading,
        (
            f"Perguntas: {len(week)}",
            f"Estudantes distintos: {len({i.asker_ref for i in week})}",
            f"Sem resposta das aulas (abstenções): {sum(i.abstained for i in week)}",
            f"Respostas extrativas (Claude indisponível): {sum(i.fallback for i in week)}",
            f"Falhas: {sum(failed(i) for i in week)}",
            f"Pedidos de ajuda a monitores: {sum(i.escalated for i in week)}",
            f"👍 {sum(v.value > 0 for v in standing)} · 👎 {sum(v.value < 0 for v in standing)}",
            f"Answer Relevance média: {ar_text}",
        ),
    )


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
    if interaction.abstained:
        reasons.append("sem resposta nas aulas")
    if interaction.fallback:
        reasons.append("resposta extrativa")
    if interaction.escalated:
        reasons.append("pediu monitor")
    down = tally(votes).down
    if down:
        reasons.append(f"👎 {down}")
    if judgement is not None and judgement.score < pass_score:
        reasons.append(f"AR {judgement.ar:.2f}")
    return reasons


def _to_review(
    week: Sequence[Interaction],
    votes_by_id: Mapping[str, Sequence[Vote]],
    judged: Mapping[str, Judgement],
    pass_score: int,
) -> DigestSection:
    lines = []
    for interaction in week:
        reasons = review_reasons(
            interaction, votes_by_id.get(interaction.id, ()), judged.get(interaction.id), pass_score
        )
        if reasons:
            lines.append(
                f"“{_short(interaction.question)}” — {'; '.join(reasons)} (id {interaction.id})"
            )
    if len(lines) > MAX_REVIEW_LINES:
        rest = len(lines) - MAX_REVIEW_LINES
        lines = [*lines[:MAX_REVIEW_LINES], f"… e mais {rest} (veja `python -m bot report`)"]
    return DigestSection("Para revisar", tuple(lines) or ("Nada a revisar nesta semana.",))


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= QUESTION_CHARS else flat[: QUESTION_CHARS - 1] + "…"


def _most_cited(week: Sequence[Interaction]) -> DigestSection:
    titles: dict[str, str] = {}
    counts: Counter[str] = Counter()
    for interaction in week:
        for citation in interaction.citations:
            counts[citation.video_id] += 1
            titles.setdefault(citation.video_id, citation.title)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], titles[item[0]]))[:MAX_VIDEOS]
    lines = tuple(f"{titles[video]} — {n} citação(ões)" for video, n in ranked)
    return DigestSection("Vídeos mais citados", lines or ("Nenhuma citação nesta semana.",))


def _agreement_section(result: Agreement | None) -> DigestSection:
    heading = "Concordância anotação manual × automatizada"
    if result is None:
        return DigestSection(heading, ("Nenhuma resposta com as duas anotações nesta semana.",))
    m = result.confusion
    return DigestSection(
        heading,
        (
            f"Respostas com as duas anotações: {result.n}",
            f"Acurácia: {result.accuracy:.2f} · kappa de Cohen: {result.kappa:.2f}",
            f"Manual C / automatizada C: {m.cc} · manual C / automatizada I: {m.ci}",
            f"Manual I / automatizada C: {m.ic} · manual I / automatizada I: {m.ii}",
        ),
    )


def _alignment_section(
    week: Sequence[Interaction],
    judged: Mapping[str, Judgement],
    grades_by_id: Mapping[str, Sequence[TAGrade]],
    pass_score: int,
) -> DigestSection:
    """The judge against the week's TA grades, and answers to grade next."""
    alignment = judge_alignment(week, judged, grades_by_id, pass_score)
    return DigestSection(ALIGNMENT_HEADING, alignment_lines(alignment, QUESTION_CHARS))


def render_digest_markdown(digest: Digest) -> str:
    """The digest as Markdown: the first section is the title, the rest are lists."""
    blocks = []
    for position, section in enumerate(digest.sections):
        marker = "#" if position == 0 else "##"
        body = "\n".join(f"- {line}" for line in section.lines)
        blocks.append(f"{marker} {section.heading}\n\n{body}")
    return "\n\n".join(blocks) + "\n"


def questions_per_day(course: Course, start: datetime, week: Sequence[Interaction]) -> list[int]:
    """Seven counts, Monday first, by the course-local day of each question."""
    counts = [0] * 7
    for interaction in week:
        local_day = interaction.created_at.astimezone(course.tz).date()
        counts[(local_day - start.date()).days] += 1
    return counts


def questions_per_day_png(
    course: Course, start: datetime, week: Sequence[Interaction]
) -> bytes | None:
    """A bar chart of questions per day, or None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display on a server
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return None
    counts = questions_per_day(course, start, week)
    days = [(start + timedelta(days=n)).date() for n in range(7)]
    labels = [f"{WEEKDAYS[n]}\n{day:%d/%m}" for n, day in enumerate(days)]
    figure = Figure(figsize=(6, 3), dpi=100)
    axes = figure.subplots()
    axes.bar(labels, counts, color="#4C72B0")
    axes.set_title(f"Perguntas por dia — {course.name}")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
