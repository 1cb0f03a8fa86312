"""A real AssistantService wired with fakes of our own ports, for adapter and service tests.

The retriever scores fixture segments by shared words (no model needed); the store is the
real SQL store on a temporary SQLite file; the answer model is scripted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.citations import citation_for
from bot.courses import Course, Courses, DiscordPlace, SlackPlace
from bot.errors import AnswerModelError
from bot.models import Draft, Hit, Question, Segment, Usage
from bot.ports import OnText
from bot.service import AssistantService, ServiceOptions, utcnow
from bot.store import Journal, open_store
from retrieval.models import SearchResult

_WORD = re.compile(r"\w+")


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text) if len(w) > 2}


def segment(course_id: str, video_id: str, n: int, start_s: float, text: str) -> Segment:
    return Segment(
        id=f"{video_id}@{int(start_s)}",
        course_id=course_id,
        video_id=video_id,
        title=f"Aula {n}",
        url=f"https://youtu.be/{video_id}",
        start_s=start_s,
        end_s=start_s + 150,
        text=text,
    )


# Two courses whose lectures share no words on the test questions' topics, so a leak shows.
FIXTURE_SEGMENTS: dict[str, list[Segment]] = {
    "ml": [
        segment(
            "ml",
            "mlvid000001",
            3,
            721,
            "A camada de saída da U-Net usa convolução 1x1 "
            "com três canais e ativação softmax para as três categorias.",
        ),
        segment(
            "ml",
            "mlvid000001",
            3,
            601,
            "O encoder da U-Net reduz a resolução espacial e "
            "dobra o número de canais; skip connections levam cópias ao decoder.",
        ),
        segment(
            "ml",
            "mlvid000002",
            4,
            95,
            "Dropout desativa neurônios aleatoriamente durante o treino para reduzir overfitting.",
        ),
    ],
    "bio": [
        segment(
            "bio",
            "biovid00001",
            1,
            30,
            "A mitocôndria produz ATP pela respiração celular; a camada interna tem cristas.",
        ),
        segment("bio", "biovid00001", 1, 180, "O ribossomo traduz o RNA mensageiro em proteína."),
    ],
}

FIXTURE_COURSES = Courses(
    [
        Course(
            id="ml",
            name="Aprendizado de Máquina",
            discord=DiscordPlace(
                guild_id=1001, channel_ids=(2001,), ta_role_ids=(3001,), ta_channel_id=2009
            ),
            slack=SlackPlace(channel_ids=("CML",), ta_user_ids=("UTA",), ta_channel_id="CMLTA"),
        ),
        Course(
            id="bio",
            name="Biologia Celular",
            discord=DiscordPlace(
                guild_id=1002, channel_ids=(2002,), ta_role_ids=(3002,), ta_channel_id=2019
            ),
            slack=SlackPlace(channel_ids=("CBIO",), ta_user_ids=("UTB",), ta_channel_id="CBIOTA"),
        ),
    ]
)


@dataclass
class WordOverlapRetriever:
    """Ranks a course's fixture segments by words shared with the question."""

    segments: dict[str, list[Segment]] = field(default_factory=lambda: FIXTURE_SEGMENTS)
    calls: list[tuple[str, str]] = field(default_factory=list)

    async def search(self, course_id: str, text: str, k: int) -> SearchResult:
        self.calls.append((course_id, text))
        asked = _words(text)
        scored = [
            (len(asked & _words(s.text)) / (len(asked) or 1), s)
            for s in self.segments.get(course_id, [])
        ]
        scored.sort(key=lambda pair: -pair[0])
        hits = tuple(
            Hit(segment=s, score=score, rank=i, dense_score=score)
            for i, (score, s) in enumerate(scored[:k], 1)
        )
        return SearchResult(hits=hits, embed_ms=1.0, search_ms=1.0)


Script = Callable[[Question, Sequence[Hit]], Draft]


def cite_top(question: Question, hits: Sequence[Hit]) -> Draft:
    """A grounded answer citing the top hit, the way Claude's citations come back."""
    if not hits or hits[0].score == 0:
        return Draft(text="As aulas não cobrem essa pergunta.", abstained=True, model="fake")
    top = hits[0].segment
    return Draft(
        text=f"Segundo a aula: {top.text}",
        citations=(citation_for(top),),
        model="fake",
        usage=Usage(input_tokens=100, output_tokens=20),
    )


@dataclass
class FakeAnswerModel:
    """Scripted answers; ``fail`` makes it behave like Claude down after retries."""

    script: Script = cite_top
    fail: bool = False
    calls: list[Question] = field(default_factory=list)

    async def answer(
        self,
        question: Question,
        hits: Sequence[Hit],
        policy: str,
        on_text: OnText | None = None,
    ) -> Draft:
        self.calls.append(question)
        if self.fail:
            raise AnswerModelError("529 overloaded_error after 3 attempts")
        draft = self.script(question, hits)
        if on_text is not None:
            await on_text(draft.text[: len(draft.text) // 2])
        return draft


def says(text: str) -> Script:
    """A script whose answer is ``text`` verbatim, citing the top hit (e.g. to test pings)."""

    def script(question: Question, hits: Sequence[Hit]) -> Draft:
        cited = (citation_for(hits[0].segment),) if hits else ()
        return Draft(text=text, citations=cited, model="fake")

    return script


def make_service(
    tmp_path: Path,
    courses: Courses = FIXTURE_COURSES,
    answer_model: FakeAnswerModel | None = None,
    retriever: WordOverlapRetriever | None = None,
    database_url: str | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> AssistantService:
    store = open_store(database_url or f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    return AssistantService(
        retriever=retriever or WordOverlapRetriever(),
        answer_model=answer_model if answer_model is not None else FakeAnswerModel(),
        store=store,
        journal=Journal(tmp_path / "journal"),
        courses=courses,
        pseudonym_secret="test-secret",
        options=ServiceOptions(k=10),
        clock=clock,
    )
