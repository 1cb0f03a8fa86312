"""The digest's charts as PNG bytes: questions per day and outcomes, this week beside last
week. matplotlib is optional (the ``charts`` extra): without it there are no charts."""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.courses import Course
from bot.digest_figures import week_figures
from bot.digest_week import DigestInput, Week
from bot.models import Chart

if TYPE_CHECKING:
    from matplotlib.figure import Figure

WEEKDAYS = ("seg", "ter", "qua", "qui", "sex", "sáb", "dom")
OUTCOMES = (
    ("answered", "respondidas"),
    ("abstained", "abstenções"),
    ("fallback", "extrativas"),
    ("failed", "falhas"),
)
THIS_WEEK, LAST_WEEK = "#4C72B0", "#B8C4D6"


def questions_per_day(course: Course, week: Week) -> list[int]:
    """Seven counts, Monday first, by the course-local day of each question."""
    counts = [0] * 7
    first_day = week.start.astimezone(course.tz).date()
    for interaction in week.interactions:
        local_day = interaction.created_at.astimezone(course.tz).date()
        counts[(local_day - first_day).days] += 1
    return counts


def questions_chart(data: DigestInput) -> bytes | None:
    """Questions per day, this week's bars beside last week's; None without matplotlib."""
    days = [(data.week.start + timedelta(days=n)).date() for n in range(7)]
    labels = [f"{WEEKDAYS[n]}\n{day:%d/%m}" for n, day in enumerate(days)]
    this = questions_per_day(data.course, data.week)
    before = questions_per_day(data.course, data.previous)
    return _paired_bars(f"Perguntas por dia — {data.course.name}", labels, this, before)


def outcomes_chart(data: DigestInput) -> Chart | None:
    """How the questions ended, this week beside last week; None without matplotlib."""
    this = week_figures(data.week, data.pass_score).outcomes
    before = week_figures(data.previous, data.pass_score).outcomes
    title = f"Desfecho das perguntas — {data.course.name}"
    png = _paired_bars(
        title,
        [label for _, label in OUTCOMES],
        [this[kind] for kind, _ in OUTCOMES],  # type: ignore[index]
        [before[kind] for kind, _ in OUTCOMES],  # type: ignore[index]
    )
    return None if png is None else Chart("desfechos", title, png)


def _paired_bars(
    title: str, labels: Sequence[str], this: Sequence[int], before: Sequence[int]
) -> bytes | None:
    figure = _figure()
    if figure is None:
        return None
    from matplotlib.ticker import MaxNLocator

    axes = figure.subplots()
    places = range(len(labels))
    axes.bar([p - 0.2 for p in places], before, width=0.4, color=LAST_WEEK, label="semana anterior")
    axes.bar([p + 0.2 for p in places], this, width=0.4, color=THIS_WEEK, label="esta semana")
    axes.set_xticks(list(places), list(labels))
    axes.set_title(title)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylim(0, max(1, *this, *before) * 1.35)  # headroom: the legend never hides a bar
    axes.legend(frameon=False, loc="upper right", ncols=2)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def charts_installed() -> bool:
    """Whether the ``charts`` extra (matplotlib) is there to draw them."""
    return importlib.util.find_spec("matplotlib") is not None


def _figure() -> Figure | None:
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display on a server
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure(figsize=(6, 3), dpi=100)
