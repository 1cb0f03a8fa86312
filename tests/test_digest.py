"""The weekly digest on a fixed log of two weeks: every figure beside last week's, the
content gaps and frequent questions (hand-made embeddings), what to review, open requests
for help, the versions, the local week. Expected values are worked out in the comments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from bot.courses import Course
from bot.digest import (
    build_digest,
    current_week_start,
    previous_week_start,
    render_digest_markdown,
    week_bounds,
)
from bot.digest_charts import questions_per_day
from bot.digest_week import Week
from bot.models import (
    Citation,
    Interaction,
    Judgement,
    RetrievedSegment,
    Segment,
    TAGrade,
    Vote,
)
from tests.fakes.values import interaction

COURSE = Course(id="ml", name="Aprendizado de Máquina", timezone="America/Sao_Paulo")
SP = ZoneInfo("America/Sao_Paulo")
WEEK = date(2025, 3, 10)  # a Monday

# Questions of three topics. Cosines: A1·A2 = A1·A3 = 0.96, A2·A3 = 0.96² - 0.28² = 0.8432;
# B1·B2 = 0.96; across topics at most 0.28.
A1, A2, A3 = "O que é dropout?", "Para que serve o dropout?", "Dropout evita overfitting?"
B1, B2 = "Qual a função da camada de saída da U-Net?", "O que faz a última camada da U-Net?"
C1 = "Quando é a prova?"
VECTORS = {
    A1: (1.0, 0.0, 0.0),
    A2: (0.96, 0.28, 0.0),
    A3: (0.96, -0.28, 0.0),
    B1: (0.0, 1.0, 0.0),
    B2: (0.0, 0.96, 0.28),
    C1: (0.0, 0.0, 1.0),
}


def embed(texts: Sequence[str]) -> np.ndarray:
    return np.array([VECTORS.get(t, (0.6, 0.0, 0.8)) for t in texts], dtype=np.float32)


def at_local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=SP).astimezone(UTC)


def segment(video: str, title: str, start: float) -> Segment:
    return Segment(f"{video}@{start:g}", "ml", video, title, f"https://youtu.be/{video}", start,
                   start + 60, "texto")  # fmt: skip


S1, S2, S3 = segment("v3", "Aula 3", 0), segment("v3", "Aula 3", 60), segment("v4", "Aula 4", 30)


def hits(*segments: Segment) -> tuple[RetrievedSegment, ...]:
    return tuple(RetrievedSegment(n, 1.0 / n, s, False) for n, s in enumerate(segments, 1))


def citation(video: str, title: str) -> Citation:
    return Citation(f"{video}@0", video, title, 0, 10, f"https://youtu.be/{video}?t=0")


def log() -> tuple[list[Interaction], dict[str, list[Vote]], dict[str, Judgement]]:
    aula3, aula4 = citation("v3", "Aula 3"), citation("v4", "Aula 4")
    this_week = [
        interaction("a1", at_local(10, 9), question=A1, answer="resposta a1", version="v1",
                    retrieved=hits(S1, S2), citations=(aula3, aula3, aula4)),
        interaction("a2", at_local(11, 14), question=A2, asker_ref="bob", version="v1",
                    retrieved=hits(S2), citations=(aula3,)),
        interaction("a3", at_local(12, 9), question=A3, asker_ref="bob", version="v1",
                    abstained=True, answer="não sei", retrieved=hits(S1, S2)),
        interaction("b1", at_local(13, 9), question=B1, asker_ref="carol", version="v2",
                    fallback=True, escalated=True, retrieved=hits(S3), citations=(aula4,)),
        interaction("b2", at_local(14, 8), question=B2, asker_ref="dave", version="v2",
                    answer="resposta b2", escalated=True, retrieved=hits(S1, S3)),
        interaction("c1", at_local(16, 23), question=C1, version="v2", answer="",
                    error="RuntimeError: boom"),
    ]  # fmt: skip
    last_week = [
        interaction("p1", at_local(4, 10), version="v1"),
        interaction("p2", at_local(6, 10), asker_ref="erin", version="v1", abstained=True,
                    escalated=True),
        interaction("p3", at_local(9, 23, 59), asker_ref="frank", version="v1"),  # Sunday 23:59
    ]  # fmt: skip
    outside = [
        interaction("old", at_local(2, 12), version="v0"),  # the week before last
        interaction("after", at_local(17, 0), version="v2"),  # next Monday 00:00
    ]
    t = at_local(16, 12)
    votes = {
        "a1": [Vote("a1", "u1", 1, t), Vote("a1", "u2", 1, t), Vote("a1", "u3", -1, t)],
        "a2": [Vote("a2", "u1", 1, t), Vote("a2", "u1", -1, t + timedelta(1))],  # changed mind
        "b2": [Vote("b2", "ta", 1, t, is_ta=True)],  # a TA's verdict closes its escalation
        "p1": [Vote("p1", "u1", -1, t)],
        "p3": [Vote("p3", "u2", 1, t), Vote("p3", "u4", -1, t), Vote("p3", "u4", 0, t)],
        "old": [Vote("old", "u1", -1, t)],
    }
    judgements = {
        "a1": Judgement("a1", 3, "c", "e"),
        "a2": Judgement("a2", 1, "c", "e"),
        "b2": Judgement("b2", 1, "c", "e"),
        "p1": Judgement("p1", 0, "c", "e"),
        "p3": Judgement("p3", 3, "c", "e"),
        "old": Judgement("old", 0, "c", "e"),
    }
    return this_week + last_week + outside, votes, judgements


def digest_text(**options: object) -> str:
    interactions, votes, judgements = log()
    digest = build_digest(COURSE, WEEK, interactions, votes, judgements, 2, chart=False,
                          **options)  # type: ignore[arg-type]  # fmt: skip
    return render_digest_markdown(digest)


def section_lines(markdown: str, heading: str) -> list[str]:
    block = markdown.split(f"# {heading}\n", 1)[1].split("\n#", 1)[0]
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


def test_every_figure_with_last_week_beside_it() -> None:
    text = digest_text(embed=embed)
    assert text.startswith("# Resumo semanal — Aprendizado de Máquina — 10/03 a 16/03/2025\n")
    assert section_lines(text, "Resumo semanal — Aprendizado de Máquina — 10/03 a 16/03/2025") == [
        "Perguntas: 6 (semana anterior: 3)",  # 'old' and 'after' are in neither week
        "Estudantes distintos: 4 (semana anterior: 3)",  # alice bob carol dave | alice erin frank
        "Respondidas: 3 (semana anterior: 2)",  # a1 a2 b2 | p1 p3
        "Sem resposta das aulas (abstenções): 1 (semana anterior: 1)",  # a3 | p2
        "Respostas extrativas (Claude indisponível): 1 (semana anterior: 0)",  # b1
        "Falhas: 1 (semana anterior: 0)",  # c1
        "Pedidos de ajuda a monitores: 2 (semana anterior: 1)",  # b1 b2 | p2
        # a1 👍👍👎, a2 👎 (the 👍 changed), b2 the TA's 👍 | p1 👎, p3 👍 (u4's 👎 retracted)
        "Votos: 👍 3 · 👎 2 (semana anterior: 👍 1 · 👎 1)",
        "Parcela de 👍: 60% (semana anterior: 50%)",  # 3/5 | 1/2
        # (3 + 1 + 1) / 3 / 3 = 5/9 | (0 + 3) / 2 / 3
        "Answer Relevance média: 0.56 em 3 resposta(s) (semana anterior: 0.50 em 2 resposta(s))",
        # manual/automated: a1 C/C, a2 I/I, b2 C/I (the TA decides): p_o 2/3,
        # p_e = 2/3·1/3 + 1/3·2/3 = 4/9, kappa = (2/9)/(5/9) = 0.4 | p1 I/I, p3 C/C: kappa 1
        "Concordância anotação manual × juiz: acurácia 0.67, kappa 0.40 em 3 "
        "(semana anterior: acurácia 1.00, kappa 1.00 em 2)",
    ]


def test_content_gaps_are_grouped_by_topic_with_their_lecture_moments() -> None:
    text = digest_text(embed=embed)
    # Gaps: a1 (👎), a2 (👎, AR 1/3), a3 (abstained), b2 (AR 1/3); not b1 (extractive only)
    # nor c1 (failed). Average linkage: a1+a2 at 0.96, then a3 at (0.96 + 0.8432)/2 = 0.9016
    # >= 0.90; b2 alone. a1 is the most central (0.96 on average against 0.9016).
    assert section_lines(text, "Lacunas de conteúdo") == [
        "4 pergunta(s) sem resposta nas aulas, com 👎 ou nota baixa, em 2 tema(s): "
        "o que gravar ou explicar a seguir"
    ]
    assert section_lines(text, f"Tema 1: “{A1}” — 3 pergunta(s)") == [
        f"“{A1}” — 👎 1 (id a1)",
        f"“{A2}” — 👎 1; AR 0.33 (id a2)",
        f"“{A3}” — sem resposta nas aulas (id a3)",
        # S2 was retrieved for all three, S1 for a1 and a3
        "Trecho recuperado: [Aula 3 · 01:00–02:00](https://youtu.be/v3?t=60) — para 3 pergunta(s)",
        "Trecho recuperado: [Aula 3 · 00:00–01:00](https://youtu.be/v3?t=0) — para 2 pergunta(s)",
    ]
    assert section_lines(text, f"Tema 2: “{B2}” — 1 pergunta(s)") == [
        f"“{B2}” — AR 0.33 (id b2)",
        "Trecho recuperado: [Aula 3 · 00:00–01:00](https://youtu.be/v3?t=0) — para 1 pergunta(s)",
        "Trecho recuperado: [Aula 4 · 00:30–01:30](https://youtu.be/v4?t=30) — para 1 pergunta(s)",
    ]
    assert "\n### Tema 2:" in text and "\n### Tema 3" not in text


def test_frequent_questions_with_the_best_rated_answer() -> None:
    text = digest_text(embed=embed)
    # All six: {a1 a2 a3} and {b1 b2} (0.96), c1 alone. Best rated in A: a1 (net +1) over
    # a2 (net -1); a3 abstained. In B: b2 (the TA's 👍); b1 was extractive.
    assert section_lines(text, "Perguntas frequentes (candidatas a FAQ)") == [
        "2 tema(s) perguntado(s) mais de uma vez"
    ]
    assert section_lines(text, f"“{A1}” — 3 pergunta(s)") == [
        "Melhor resposta (👍 2 · 👎 1, id a1): “resposta a1”"
    ]
    assert section_lines(text, f"“{B1}” — 2 pergunta(s)") == [
        "Melhor resposta (👍 1 · 👎 0, id b2): “resposta b2”"
    ]


def test_without_an_embedder_only_the_same_text_is_grouped() -> None:
    interactions, votes, judgements = log()
    again = interaction("a1bis", at_local(15, 10), question="  o que é DROPOUT? ", answer="r")
    digest = build_digest(COURSE, WEEK, [*interactions, again], votes, judgements, 2, chart=False)
    text = render_digest_markdown(digest)
    # a1 and a1bis share a topic now, but a1bis is no gap: still a1, a2, a3, b2 apart
    assert "em 4 tema(s)" in section_lines(text, "Lacunas de conteúdo")[0]
    assert section_lines(text, "Perguntas frequentes (candidatas a FAQ)") == [
        "1 tema(s) perguntado(s) mais de uma vez"
    ]
    assert section_lines(text, f"“{A1}” — 2 pergunta(s)") == [
        "Melhor resposta (👍 2 · 👎 1, id a1): “resposta a1”"
    ]


def test_a_failing_embedder_still_gives_the_digest() -> None:
    def broken(texts: Sequence[str]) -> np.ndarray:
        raise RuntimeError("no model")

    text = digest_text(embed=broken)  # grouped by text: a1, a2, a3 and b2 apart
    assert section_lines(text, "Lacunas de conteúdo")[0].startswith("4 pergunta(s)")
    assert "em 4 tema(s)" in section_lines(text, "Lacunas de conteúdo")[0]


def test_review_list_open_requests_and_versions() -> None:
    text = digest_text(embed=embed)
    assert section_lines(text, "Para revisar") == [
        "“O que é dropout?” — 👎 1 (id a1)",
        "“Para que serve o dropout?” — 👎 1; AR 0.33 (id a2)",
        "“Dropout evita overfitting?” — sem resposta nas aulas (id a3)",
        f"“{B1}” — resposta extrativa; pediu monitor (id b1)",
        f"“{B2}” — pediu monitor; AR 0.33 (id b2)",
        "“Quando é a prova?” — falhou (id c1)",
    ]
    # p2 (last week) and b1 wait for a TA; b2 has the TA's verdict.
    assert section_lines(text, "Pedidos de ajuda em aberto") == [
        "“pergunta p2” — 06/03 10:00 (id p2)",
        f"“{B1}” — 13/03 09:00 (id b1)",
    ]
    assert section_lines(text, "Versões da configuração (mudaram nesta semana)") == [
        "Semana anterior terminou com v1",
        "v1: 3 pergunta(s), de 10/03 09:00 a 12/03 09:00",
        "v2: 3 pergunta(s), de 13/03 09:00 a 16/03 23:00",
    ]
    assert section_lines(text, "Vídeos mais citados") == [
        "Aula 3 — 3 citação(ões)",
        "Aula 4 — 2 citação(ões)",
    ]
    assert section_lines(text, "Concordância anotação manual × automatizada")[:2] == [
        "Respostas com as duas anotações: 3",
        "Acurácia: 0.67 · kappa de Cohen: 0.40",
    ]


def test_ta_grades_are_the_manual_annotation_align_the_judge_and_close_requests() -> None:
    interactions, votes, judgements = log()
    t, ta = at_local(16, 20), "u_0123456789abcdef0123"
    grades = {  # b2: the TA's grade (I) over the TA's earlier 👍; p2: last week's request
        "a1": [TAGrade("a1", ta, "C", t)],
        "b2": [TAGrade("b2", ta, "I", t)],
        "p2": [TAGrade("p2", ta, "I", t)],
    }
    digest = build_digest(
        COURSE, WEEK, interactions, votes, judgements, 2, chart=False, grades_by_id=grades
    )
    text = render_digest_markdown(digest)
    # a1 (C, C), a2 (I by its 👎, I), b2 (I, I): p_o = 1, p_e = 1/3·1/3 + 2/3·2/3 = 5/9, kappa 1.
    assert section_lines(text, "Concordância anotação manual × automatizada")[:2] == [
        "Respostas com as duas anotações: 3",
        "Acurácia: 1.00 · kappa de Cohen: 1.00",
    ]
    # The judge against the TA grades alone: a1 (C, 3: C), b2 (I, 1: I); a2 is judged but
    # ungraded, so it is proposed for grading.
    assert section_lines(text, "Alinhamento do juiz com as notas dos monitores") == [
        "Respostas avaliadas por monitores: 2",
        "C/I com o juiz (C a partir de 2/3), em 2: acurácia 1.00 · kappa de Cohen 1.00",
        "Monitor C / juiz C: 1 · monitor C / juiz I: 0 · monitor I / juiz C: 0 · "
        "monitor I / juiz I: 1",
        "Notas 0–3: nenhuma resposta com nota AR do monitor e do juiz.",
        "Propostas para avaliar (uma de cada nota do juiz por vez): a2 (juiz 1)",
    ]
    # A TA's grade closes a request for help as a TA's vote does: only b1 waits now.
    assert section_lines(text, "Pedidos de ajuda em aberto") == [f"“{B1}” — 13/03 09:00 (id b1)"]


def test_one_version_all_along_is_one_summary_line() -> None:
    interactions, votes, judgements = log()
    same = [i for i in interactions if i.version == "v1"]
    text = render_digest_markdown(
        build_digest(COURSE, WEEK, same, votes, judgements, 2, chart=False)
    )
    assert "- Versão da configuração: v1\n" in text
    assert "Versões da configuração" not in text


def test_an_empty_week_says_so_in_a_short_digest() -> None:
    interactions, votes, judgements = log()
    last_week_only = [i for i in interactions if i.id.startswith("p")]
    digest = build_digest(COURSE, WEEK, last_week_only, votes, judgements, 2)
    assert render_digest_markdown(digest) == (
        "# Resumo semanal — Aprendizado de Máquina — 10/03 a 16/03/2025\n\n"
        "- Nenhuma pergunta nesta semana.\n"
        "- Semana anterior: 3 pergunta(s).\n\n"
        "## Pedidos de ajuda em aberto\n\n"
        "- “pergunta p2” — 06/03 10:00 (id p2)\n"
    )
    assert digest.chart_png is None and digest.extra_charts == ()
    nothing = build_digest(COURSE, WEEK, [], {}, {}, 2)
    assert [s.heading for s in nothing.sections] == [
        "Resumo semanal — Aprendizado de Máquina — 10/03 a 16/03/2025"
    ]


def test_long_review_list_is_cut() -> None:
    many = [
        interaction(f"q{n:02d}", at_local(11, 10) + timedelta(minutes=n), abstained=True)
        for n in range(20)
    ]
    text = render_digest_markdown(build_digest(COURSE, WEEK, many, {}, {}, 2, chart=False))
    lines = section_lines(text, "Para revisar")
    assert len(lines) == 16
    assert lines[-1].startswith("… e mais 5")


def test_questions_per_day_and_charts() -> None:
    interactions, votes, judgements = log()
    this_start, end = week_bounds(COURSE, WEEK)
    last_start, _ = week_bounds(COURSE, WEEK - timedelta(days=7))
    this = Week.of(this_start, end, interactions, votes, judgements)
    before = Week.of(last_start, this_start, interactions, votes, judgements)
    assert questions_per_day(COURSE, this) == [1, 1, 1, 1, 1, 0, 1]
    assert questions_per_day(COURSE, before) == [0, 1, 0, 1, 0, 0, 1]  # Tue, Thu, Sun 23:59
    digest = build_digest(COURSE, WEEK, interactions, votes, judgements, 2)
    assert digest.chart_png is not None
    assert digest.chart_png.startswith(b"\x89PNG\r\n\x1a\n")
    [outcomes] = digest.extra_charts
    assert outcomes.name == "desfechos" and outcomes.png.startswith(b"\x89PNG\r\n\x1a\n")
