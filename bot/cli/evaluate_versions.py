"""Two versions of the setup (``bot.versions``) side by side on one question set: AR mean,
abstentions and retrieval hits, from the evaluation's private log, where every run stays.

Each version counts its latest answer to each question of the set, so a version run twice
is counted once; a question's hit is read from the segments that answer retrieved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.report import ReportEntry
from retrieval.evaluate import GoldQuestion, first_hit_rank

NO_VALUE = "—"


@dataclass(frozen=True)
class VersionFigures:
    version: str
    questions: int
    abstentions: int
    fallbacks: int
    failures: int
    ar_scores: tuple[int, ...]
    ranks: tuple[int | None, ...]  # first-hit rank per answered question with a gold span

    @property
    def ar_mean(self) -> float | None:
        return sum(self.ar_scores) / len(self.ar_scores) / 3 if self.ar_scores else None

    def hit_rate(self, k: int) -> float | None:
        if not self.ranks:
            return None
        return sum(1 for r in self.ranks if r is not None and r <= k) / len(self.ranks)


def version_figures(
    entries: Sequence[ReportEntry], gold_by_text: dict[str, GoldQuestion | None], version: str
) -> VersionFigures:
    """The figures of ``version`` on the questions of ``gold_by_text`` (question text -> its
    gold span, or None), from entries in time order."""
    latest: dict[str, ReportEntry] = {}
    for entry in entries:
        text = entry.interaction.question.strip()
        if entry.interaction.version == version and text in gold_by_text:
            latest[text] = entry
    chosen = list(latest.values())
    ranks = []
    for text, entry in latest.items():
        gold = gold_by_text[text]
        if gold is not None:
            ranks.append(first_hit_rank([r.segment for r in entry.interaction.retrieved], gold))
    statuses = [e.ar_status for e in chosen]
    return VersionFigures(
        version=version,
        questions=len(chosen),
        abstentions=statuses.count("abstained"),
        fallbacks=statuses.count("fallback"),
        failures=statuses.count("failed"),
        ar_scores=tuple(e.judgement.score for e in chosen if e.judgement is not None),
        ranks=tuple(ranks),
    )


def render_comparison(first: VersionFigures, second: VersionFigures, ks: Sequence[int]) -> str:
    """A Markdown table: one row per figure, one column per version."""

    def ar(figures: VersionFigures) -> str:
        mean = figures.ar_mean
        return NO_VALUE if mean is None else f"{mean:.2f} (em {len(figures.ar_scores)})"

    def hits(k: int) -> Callable[[VersionFigures], str]:
        def rate(figures: VersionFigures) -> str:
            value = figures.hit_rate(k)
            return NO_VALUE if value is None else f"{value:.2f} (em {len(figures.ranks)})"

        return rate

    rows: list[tuple[str, Callable[[VersionFigures], str]]] = [
        ("Perguntas", lambda f: str(f.questions)),
        ("Answer Relevance média", ar),
        ("Abstenções", lambda f: str(f.abstentions)),
        ("Respostas extrativas", lambda f: str(f.fallbacks)),
        ("Falhas", lambda f: str(f.failures)),
        *((f"Recuperação: acerto @{k}", hits(k)) for k in ks),
    ]
    lines = [
        "## Versões lado a lado",
        "",
        f"| | {first.version or '(sem versão)'} | {second.version or '(sem versão)'} |",
        "|---|---|---|",
        *(f"| {name} | {shown(first)} | {shown(second)} |" for name, shown in rows),
    ]
    return "\n".join(lines) + "\n"
