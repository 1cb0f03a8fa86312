"""``python -m bot evaluate --compare``: two versions side by side on one question set."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli.evaluate_versions import render_comparison, version_figures
from bot.config import Settings
from bot.models import JudgementRecord, RetrievedSegment, Segment
from bot.report import build_entries
from retrieval.evaluate import GoldQuestion
from tests.fakes.values import interaction
from tests.test_report import _evaluate

T0 = datetime(2025, 3, 10, 12, tzinfo=UTC)
Q1, Q2, Q3 = "O que é dropout?", "O que é uma U-Net?", "Sem gabarito?"
GOLD = {
    Q1: GoldQuestion("q1", Q1, "v1", 10.0, 20.0),
    Q2: GoldQuestion("q2", Q2, "v2", 0.0, 30.0),
    Q3: None,
}


def retrieved(*places: tuple[str, float]) -> tuple[RetrievedSegment, ...]:
    """Segments at these (video, start) places, ranked in the given order, 10 s long."""
    return tuple(
        RetrievedSegment(
            rank, 1.0 / rank, Segment(f"{v}@{s}", "ml", v, v, "", s, s + 10, "t"), False
        )
        for rank, (v, s) in enumerate(places, 1)
    )


def record(interaction_id: str, score: float) -> JudgementRecord:
    return JudgementRecord(
        interaction_id, "answer_relevance", "", "ok", score, "c", "e", "j", "", T0
    )


def test_each_version_counts_its_latest_answer_to_each_question_of_the_set() -> None:
    log = [
        # Version a: Q1 twice (the first one missed, judged 1; the latest hit at rank 2,
        # judged 3), Q2 abstained with a hit at rank 1, Q3 (no gold) judged 2.
        interaction("a1", T0, version="a", question=Q1, retrieved=retrieved(("v9", 0))),
        interaction(
            "a2",
            T0 + timedelta(1),
            version="a",
            question=Q1,
            retrieved=retrieved(("v1", 40), ("v1", 15)),
        ),
        interaction(
            "a3", T0, version="a", question=Q2, abstained=True, retrieved=retrieved(("v2", 5))
        ),
        interaction("a4", T0, version="a", question=Q3),
        interaction("a5", T0, version="a", question="Outra pergunta"),  # not in the set
        # Version b: Q1 only, an extractive answer that retrieved nothing.
        interaction("b1", T0, version="b", question=Q1, fallback=True),
    ]
    records = {"a1": [record("a1", 1)], "a2": [record("a2", 3)], "a4": [record("a4", 2)]}
    entries = build_entries(log, {}, records)

    a = version_figures(entries, GOLD, "a")
    b = version_figures(entries, GOLD, "b")
    assert (a.questions, a.abstentions, a.fallbacks, a.ar_scores, a.ranks) == (
        3,
        1,
        0,
        (3, 2),
        (2, 1),
    )
    assert (b.questions, b.fallbacks, b.ar_scores, b.ranks) == (1, 1, (), (None,))
    assert render_comparison(a, b, [1, 5]).splitlines() == [
        "## Versões lado a lado",
        "",
        "| | a | b |",
        "|---|---|---|",
        "| Perguntas | 3 | 1 |",
        "| Answer Relevance média | 0.83 (em 2) | — |",  # (3 + 2) / 2 / 3
        "| Abstenções | 1 | 0 |",
        "| Respostas extrativas | 0 | 1 |",
        "| Falhas | 0 | 0 |",
        "| Recuperação: acerto @1 | 0.50 (em 2) | 0.00 (em 1) |",  # Q2 at 1; Q1 at 2
        "| Recuperação: acerto @5 | 1.00 (em 2) | 0.00 (em 1) |",
    ]


@pytest.mark.slow
def test_evaluate_names_its_version_and_sets_an_earlier_one_beside_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    assert _evaluate(cache, tmp_path / "r5.md", Settings(), "-k", "5", "--quiet") == 0
    first = re.findall(r"^- Versão: (\w+)$", capsys.readouterr().out, re.MULTILINE)
    assert len(first) == 1
    options = ("-k", "1", "--compare", first[0], "--quiet")
    assert _evaluate(cache, tmp_path / "r1.md", Settings(), *options) == 0
    out = capsys.readouterr().out
    [second] = re.findall(r"^- Versão: (\w+)$", out, re.MULTILINE)
    assert second != first[0]  # k is part of the version
    table = out.split("## Versões lado a lado\n\n", 1)[1].splitlines()
    assert table[0] == f"| | {second} | {first[0]} |"
    assert "| Perguntas | 3 | 3 |" in table
    assert "| Respostas extrativas | 3 | 3 |" in table  # no key: extractive answers
    missing = ("-k", "1", "--compare", "nothere", "--quiet")
    assert _evaluate(cache, tmp_path / "r1.md", Settings(), *missing) == 0
    assert "A versão nothere não está no registro" in capsys.readouterr().out
