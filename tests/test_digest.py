"""The weekly digest: counts, what to review, cited videos, agreement, the local week."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.courses import Course
from bot.digest import (
    build_digest,
    current_week_start,
    previous_week_start,
    questions_per_day,
    render_digest_markdown,
    week_bounds,
)
from bot.models import Citation, Interaction, Judgement, TAGrade, Vote
from tests.fakes.values import interaction

COURSE = Course(id="ml", name="Aprendizado de Máquina", timezone="America/Sao_Paulo")
SP = ZoneInfo("America/Sao_Paulo")
WEEK = date(2025, 3, 10)  # a Monday


def at_local(day: int, hour: int) -> datetime:
    return datetime(2025, 3, day, hour, tzinfo=SP).astimezone(UTC)


def citation(video: str, title: str) -> Citation:
    return Citation(f"{video}@0", video, title, 0, 10, f"https://youtu.be/{video}?t=0")


def week_fixture() -> tuple[list[Interaction], dict[str, list[Vote]], dict[str, Judgement]]:
    aula3, aula4 = citation("v3", "Aula 3"), citation("v4", "Aula 4")
    interactions = [
        interaction("good", at_local(10, 0), citations=(aula3, aula3, aula4)),  # Monday 00:00
        interaction("bad", at_local(11, 14), asker_ref="bob", citations=(aula3,)),
        interaction("abst", at_local(12, 9), asker_ref="bob", abstained=True, answer="não sei"),
        interaction("fb", at_local(13, 9), fallback=True, escalated=True, citations=(aula4,)),
        interaction("lowar", at_local(16, 23), asker_ref="carol", citations=(aula3,)),
        interaction("err", at_local(14, 8), answer="", error="RuntimeError: boom"),
        # Outside the week: Sunday 23:59 local before, and the next Monday 00:00 local.
        interaction("before", datetime(2025, 3, 9, 23, 59, tzinfo=SP).astimezone(UTC)),
        interaction("after", at_local(17, 0)),
    ]
    t = at_local(10, 12)
    votes = {
        "good": [Vote("good", "u1", 1, t), Vote("good", "u2", 1, t)],
        "bad": [Vote("bad", "u1", -1, t), Vote("bad", "u2", 1, t), Vote("bad", "u2", 0, t)],
        "lowar": [Vote("lowar", "ta", 1, t, is_ta=True)],
        "before": [Vote("before", "u1", -1, t)],
    }
    judgements = {
        "good": Judgement("good", 3, "c", "e"),
        "bad": Judgement("bad", 3, "c", "e"),
        "lowar": Judgement("lowar", 1, "c", "e"),
        "before": Judgement("before", 0, "c", "e"),
    }
    return interactions, votes, judgements


def section_lines(markdown: str, heading: str) -> list[str]:
    block = markdown.split(f" {heading}", 1)[1].split("\n## ", 1)[0]
    return [line[2:] for line in block.splitlines() if line.startswith("- ")]


def test_week_is_monday_to_monday_in_the_course_zone() -> None:
    start, end = week_bounds(COURSE, date(2025, 3, 13))  # a Thursday: its Monday is the 10th
    assert start == datetime(2025, 3, 10, 3, tzinfo=UTC)  # 00:00 in São Paulo (UTC-3)
    assert end - start == timedelta(days=7)
    now = datetime(2025, 3, 17, 2, 30, tzinfo=UTC)  # still Sunday 23:30 in São Paulo
    assert current_week_start(COURSE, now) == date(2025, 3, 10)
    assert previous_week_start(COURSE, now) == date(2025, 3, 3)


def test_week_bounds_follow_daylight_saving() -> None:
    berlin = Course(id="b", name="B", timezone="Europe/Berlin")
    start, end = week_bounds(berlin, date(2025, 3, 24))  # DST starts on Sunday the 30th
    assert start == datetime(2025, 3, 23, 23, tzinfo=UTC)
    assert end == datetime(2025, 3, 30, 22, tzinfo=UTC)


def test_digest_counts_and_review_list() -> None:
    interactions, votes, judgements = week_fixture()
    digest = build_digest(COURSE, WEEK, interactions, votes, judgements, 2, chart=False)
    text = render_digest_markdown(digest)
    assert digest.week_start == datetime(2025, 3, 10, tzinfo=SP)
    assert text.startswith("# Resumo semanal — Aprendizado de Máquina — 10/03 a 16/03/2025\n")
    assert section_lines(text, "Resumo semanal")[:8] == [
        "Perguntas: 6",
        "Estudantes distintos: 3",
        "Sem resposta das aulas (abstenções): 1",
        "Respostas extrativas (Claude indisponível): 1",
        "Falhas: 1",
        "Pedidos de ajuda a monitores: 1",
        "👍 3 · 👎 1",  # u2's 👍 on "bad" was retracted; the 'before' 👎 is last week's
        "Answer Relevance média: 0.78 (em 3 respostas avaliadas)",  # (1 + 1 + 1/3) / 3
    ]
    assert section_lines(text, "Para revisar") == [
        "“pergunta bad” — 👎 1 (id bad)",
        "“pergunta abst” — sem resposta nas aulas (id abst)",
        "“pergunta fb” — resposta extrativa; pediu monitor (id fb)",
        "“pergunta err” — falhou (id err)",
        "“pergunta lowar” — AR 0.33 (id lowar)",
    ]
    assert section_lines(text, "Vídeos mais citados") == [
        "Aula 3 — 4 citação(ões)",
        "Aula 4 — 2 citação(ões)",
    ]


def test_digest_agreement_section() -> None:
    interactions, votes, judgements = week_fixture()
    text = render_digest_markdown(
        build_digest(COURSE, WEEK, interactions, votes, judgements, 2, chart=False)
    )
    # Both annotations: good (C, C), bad (I, C), lowar (C by the TA, I): accuracy 1/3.
    # p_e = (2/3)(2/3) + (1/3)(1/3) = 5/9; kappa = (1/3 - 5/9) / (4/9) = -0.5.
    assert section_lines(text, "Concordância anotação manual × automatizada") == [
        "Respostas com as duas anotações: 3",
        "Acurácia: 0.33 · kappa de Cohen: -0.50",
        "Manual C / automatizada C: 1 · manual C / automatizada I: 1",
        "Manual I / automatizada C: 1 · manual I / automatizada I: 0",
    ]


def test_ta_grades_are_the_manual_annotation_in_the_agreement() -> None:
    interactions, votes, judgements = week_fixture()
    t = at_local(15, 10)
    grades = {  # the TA finds "bad" correct (its 👎 aside) and "lowar" wrong (their 👍 aside)
        "bad": [TAGrade("bad", "u_0123456789abcdef0123", "C", t)],
        "lowar": [TAGrade("lowar", "u_0123456789abcdef0123", "I", t)],
    }
    digest = build_digest(
        COURSE, WEEK, interactions, votes, judgements, 2, chart=False, grades_by_id=grades
    )
    text = render_digest_markdown(digest)
    # good (C, C), bad (C, C), lowar (I, I): p_o = 1, p_e = 5/9, kappa = 1.
    assert section_lines(text, "Concordância anotação manual")[:2] == [
        "Respostas com as duas anotações: 3",
        "Acurácia: 1.00 · kappa de Cohen: 1.00",
    ]
    # The judge against the TA alone: bad (C, judge 3: C), lowar (I, judge 1: I); "good" is
    # judged but ungraded, so it is proposed for grading.
    assert section_lines(text, "Alinhamento do juiz com as notas dos monitores") == [
        "Respostas avaliadas por monitores: 2",
        "C/I com o juiz (C a partir de 2/3), em 2: acurácia 1.00 · kappa de Cohen 1.00",
        "Monitor C / juiz C: 1 · monitor C / juiz I: 0 · monitor I / juiz C: 0 · "
        "monitor I / juiz I: 1",
        "Notas 0–3: nenhuma resposta com nota AR do monitor e do juiz.",
        "Propostas para avaliar (uma de cada nota do juiz por vez): good (juiz 3)",
    ]


def test_empty_week_says_so() -> None:
    digest = build_digest(COURSE, WEEK, [], {}, {}, 2)
    text = render_digest_markdown(digest)
    assert "- Perguntas: 0" in text
    assert "- Answer Relevance média: —" in text
    assert "- Nada a revisar nesta semana." in text
    assert "- Nenhuma citação nesta semana." in text
    assert "- Nenhuma resposta com as duas anotações nesta semana." in text
    assert digest.chart_png is None


def test_long_review_list_is_cut() -> None:
    many = [
        interaction(f"q{n:02d}", at_local(11, 10) + timedelta(minutes=n), abstained=True)
        for n in range(20)
    ]
    text = render_digest_markdown(build_digest(COURSE, WEEK, many, {}, {}, 2, chart=False))
    lines = section_lines(text, "Para revisar")
    assert len(lines) == 16
    assert lines[-1].startswith("… e mais 5")


def test_questions_per_day_and_chart() -> None:
    interactions, votes, judgements = week_fixture()
    start, _ = week_bounds(COURSE, WEEK)
    in_week = [i for i in interactions if i.id not in ("before", "after")]
    assert questions_per_day(COURSE, start, in_week) == [1, 1, 1, 1, 1, 0, 1]
    digest = build_digest(COURSE, WEEK, interactions, votes, judgements, 2)
    assert digest.chart_png is not None
    assert digest.chart_png.startswith(b"\x89PNG\r\n\x1a\n")
