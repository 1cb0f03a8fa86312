"""The digest's figures, each with last week's beside it: questions, students, outcomes,
votes, 👍 share, Answer Relevance mean and the manual × automated agreement."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from bot.agreement import Agreement, agreement, annotation_pairs
from bot.annotations import current_votes
from bot.digest_week import DigestInput, Week
from bot.models import DigestSection
from bot.outcome import Outcome, outcome
from bot.versions import versions_in_use

NO_VALUE = "—"


@dataclass(frozen=True)
class WeekFigures:
    questions: int
    students: int
    outcomes: Counter[Outcome]
    escalated: int
    up: int
    down: int
    ar: tuple[float, ...]
    agreement: Agreement | None

    @property
    def up_share(self) -> float | None:
        voted = self.up + self.down
        return self.up / voted if voted else None

    @property
    def ar_mean(self) -> float | None:
        return sum(self.ar) / len(self.ar) if self.ar else None


def week_figures(week: Week, pass_score: int) -> WeekFigures:
    standing = [v for i in week.interactions for v in current_votes(week.votes_on(i)).values()]
    pairs = annotation_pairs(week.interactions, week.votes, week.judged, pass_score, week.grades)
    return WeekFigures(
        questions=len(week.interactions),
        students=len({i.asker_ref for i in week.interactions}),
        outcomes=Counter(outcome(i) for i in week.interactions),
        escalated=sum(i.escalated for i in week.interactions),
        up=sum(v.value > 0 for v in standing),
        down=sum(v.value < 0 for v in standing),
        ar=tuple(j.ar for j in week.judged.values()),
        agreement=agreement(pairs),
    )


def _ar(figures: WeekFigures) -> str:
    mean = figures.ar_mean
    return NO_VALUE if mean is None else f"{mean:.2f} em {len(figures.ar)} resposta(s)"


def _share(figures: WeekFigures) -> str:
    share = figures.up_share
    return NO_VALUE if share is None else f"{share:.0%}"


def _agreement(figures: WeekFigures) -> str:
    found = figures.agreement
    if found is None:
        return NO_VALUE
    return f"acurácia {found.accuracy:.2f}, kappa {found.kappa:.2f} em {found.n}"


# Each figure's name and how it reads; the summary sets this week's beside last week's.
FIGURES: tuple[tuple[str, Callable[[WeekFigures], str]], ...] = (
    ("Perguntas", lambda f: str(f.questions)),
    ("Estudantes distintos", lambda f: str(f.students)),
    ("Respondidas", lambda f: str(f.outcomes["answered"])),
    ("Sem resposta das aulas (abstenções)", lambda f: str(f.outcomes["abstained"])),
    ("Respostas extrativas (Claude indisponível)", lambda f: str(f.outcomes["fallback"])),
    ("Falhas", lambda f: str(f.outcomes["failed"])),
    ("Pedidos de ajuda a monitores", lambda f: str(f.escalated)),
    ("Votos", lambda f: f"👍 {f.up} · 👎 {f.down}"),
    ("Parcela de 👍", _share),
    ("Answer Relevance média", _ar),
    ("Concordância anotação manual × juiz", _agreement),
)


def title(data: DigestInput) -> str:
    last_day = (data.week.end - timedelta(days=1)).date()
    return f"Resumo semanal — {data.course.name} — {data.week.start:%d/%m} a {last_day:%d/%m/%Y}"


def summary(data: DigestInput) -> list[DigestSection]:
    """The title section: every figure, last week's beside it."""
    this = week_figures(data.week, data.pass_score)
    before = week_figures(data.previous, data.pass_score)
    lines = [f"{name}: {shown(this)} (semana anterior: {shown(before)})" for name, shown in FIGURES]
    used = versions_in_use(data.week.interactions)
    if len(used) == 1 and not versions_changed(data):
        lines.append(f"Versão da configuração: {used[0].label}")
    return [DigestSection(title(data), tuple(lines), level=1)]


def empty_week(data: DigestInput) -> list[DigestSection]:
    """The title section of a week without questions, which says so."""
    before = len(data.previous.interactions)
    lines = ("Nenhuma pergunta nesta semana.", f"Semana anterior: {before} pergunta(s).")
    return [DigestSection(title(data), lines, level=1)]


def versions_changed(data: DigestInput) -> bool:
    """More than one version this week, or another one than last week ended with."""
    used = versions_in_use(data.week.interactions)
    before = versions_in_use(data.previous.interactions)
    if len(used) > 1:
        return True
    return bool(used and before) and used[0].version != before[-1].version


def versions(data: DigestInput) -> list[DigestSection]:
    """The versions in use, when they changed in the week (``bot.versions``)."""
    if not versions_changed(data):
        return []
    before = versions_in_use(data.previous.interactions)
    zone = data.course.tz
    lines = [f"Semana anterior terminou com {before[-1].label}"] if before else []
    for used in versions_in_use(data.week.interactions):
        first, last = used.first.astimezone(zone), used.last.astimezone(zone)
        lines.append(
            f"{used.label}: {used.count} pergunta(s), de {first:%d/%m %H:%M} a {last:%d/%m %H:%M}"
        )
    return [DigestSection("Versões da configuração (mudaram nesta semana)", tuple(lines))]
