"""A fixed week of the fixture course ``ml`` as the review page shows it: answered, abstained,
fallback and escalated questions, students' votes and the judge's scores. The review page's
tests and its README screenshot (docs/review_page_screenshot.py) read the same log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.citations import citation_for
from bot.models import Interaction, Judgement, RetrievedSegment, StageTimings, Usage, Vote
from bot.store import SqlStore
from tests.fakes.core import FIXTURE_SEGMENTS

# Thursday of the week the log is in; the week starts on Monday 30 Nov in the course's zone.
NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
UNET_OUTPUT, ENCODER, DROPOUT = FIXTURE_SEGMENTS["ml"]


@dataclass(frozen=True)
class Logged:
    """One interaction of the log with what students and the judge said of it."""

    key: str
    question: str
    answer: str
    cited: tuple[int, ...] = ()  # indexes into the retrieved segments
    score: int | None = None  # the judge's, 0-3
    reasoning: tuple[str, str] = ("", "")  # criteria, evidence
    votes: tuple[int, ...] = ()  # one value per student
    abstained: bool = False
    fallback: bool = False
    escalated: bool = False


LOG = (
    Logged(
        "saida",
        "Qual a função da camada de saída da U-Net?",
        "A camada de saída usa uma convolução 1x1 com três canais e softmax, uma probabilidade "
        "por categoria para cada pixel [Aula 3 · 12:01–14:31].",
        cited=(0,),
        score=3,
        reasoning=(
            "A resposta explica a função da camada de saída como a aula.",
            "Cita a convolução 1x1, os três canais e o softmax da Aula 3.",
        ),
        votes=(1, 1),
    ),
    Logged(
        "encoder",
        "O que o encoder da U-Net faz com os canais?",
        "O encoder aumenta a resolução e reduz os canais pela metade a cada etapa.",
        cited=(1,),
        score=1,
        reasoning=(
            "A resposta inverte o que a aula diz sobre resolução e canais.",
            "A Aula 3 (10:01) diz que o encoder reduz a resolução e dobra os canais.",
        ),
        votes=(-1,),
    ),
    Logged(
        "dropout",
        "Como o dropout reduz o overfitting?",
        "Desativando neurônios ao acaso durante o treino, a rede não depende de nenhum deles "
        "em particular [Aula 4 · 01:35–04:05].",
        cited=(2,),
        score=2,
        reasoning=("Responde à pergunta, sem detalhar.", "Segue a Aula 4 em 01:35."),
    ),
    Logged(
        "prova",
        "Quando sai a nota da prova 2?",
        "As aulas não cobrem essa pergunta.",
        abstained=True,
        escalated=True,
    ),
    Logged(
        "skip",
        "Para que servem as skip connections?",
        "Trechos das aulas mais próximos da pergunta: Aula 3 · 10:01–12:31 — skip connections "
        "levam cópias ao decoder.",
        fallback=True,
    ),
    Logged(
        "taxa",
        "Qual taxa de aprendizado usar no trabalho final?",
        "Use 0,1 em todos os casos.",
        cited=(0,),
        score=0,
        reasoning=(
            "A resposta não tem base nas aulas citadas.",
            "Nenhum trecho recuperado fala de taxa de aprendizado.",
        ),
        votes=(-1, -1, 1),
    ),
)


def interaction(n: int, logged: Logged) -> Interaction:
    segments = (UNET_OUTPUT, ENCODER, DROPOUT) if not logged.abstained else ()
    retrieved = tuple(
        RetrievedSegment(rank, round(0.9 - rank / 10, 3), s, cited=rank - 1 in logged.cited)
        for rank, s in enumerate(segments, 1)
    )
    return Interaction(
        id=f"01KDEMO{n:019d}",
        created_at=NOW - timedelta(days=2, hours=3) + timedelta(hours=7 * n),
        platform="discord" if n % 2 else "slack",
        course_id="ml",
        channel="duvidas",
        thread=f"thread-{n}",
        asker_ref=f"u_{n:020x}",
        question=logged.question,
        answer=logged.answer,
        abstained=logged.abstained,
        fallback=logged.fallback,
        model="" if logged.fallback else "claude-sonnet-5-5",
        usage=Usage(900, 80),
        timings=StageTimings(12.0, 20.0, 1500.0, 1532.0),
        error="answer model failed: 529 overloaded_error" if logged.fallback else "",
        retrieved=retrieved,
        citations=tuple(citation_for(segments[i]) for i in logged.cited),
    )


def write_review_log(store: SqlStore) -> dict[str, str]:
    """Store the log; each entry's key -> its interaction id."""
    ids = {}
    for n, logged in enumerate(LOG, 1):
        row = interaction(n, logged)
        store.save_interaction(row, enqueue_judge=False)
        ids[logged.key] = row.id
        at = row.created_at + timedelta(minutes=5)
        if logged.score is not None:
            criteria, evidence = logged.reasoning
            judged = Judgement(row.id, logged.score, criteria, evidence, "claude-haiku-5-5")
            store.save_judgement(judged, at=at)
        for voter, value in enumerate(logged.votes):
            store.save_vote(Vote(row.id, f"u_student{voter:012d}", value, at))  # type: ignore[arg-type]
        if logged.escalated:
            store.mark_escalated(row.id)
    return ids
