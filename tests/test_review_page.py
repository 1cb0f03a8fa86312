"""The review page over HTTP, without a browser: who gets in (a valid link only), what a week
shows under each filter and search, and the headers that keep it to itself."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yarl
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.adapters.review import AccessLogWithoutQueries, add_review_routes
from bot.errors import StoreUnavailableError
from bot.review_links import ReviewLinks
from bot.service import AssistantService
from tests.fakes.core import REVIEW_LINKS, make_service
from tests.review_log import LOG, NOW, interaction, write_review_log

TA = "u_a11ce000000000000001"
QUESTIONS = {logged.key: logged.question for logged in LOG}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


Page = tuple[TestClient, AssistantService, Clock]


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[Page]:
    clock = Clock()
    service = make_service(tmp_path, clock=clock)
    write_review_log(service.store)  # type: ignore[arg-type]
    app = web.Application()
    add_review_routes(app, service)
    async with TestClient(TestServer(app)) as client:
        yield client, service, clock
    service.store.close()  # type: ignore[attr-defined]


def link(course: str = "ml", links: ReviewLinks = REVIEW_LINKS, now: datetime = NOW) -> str:
    """The path and query of a TA's link, as the server sees it."""
    return links.link(TA, course, now).url.removeprefix(links.base_url)


def questions_on(body: str) -> list[str]:
    shown = re.findall(r'<h2 class="question">(.*?)</h2>', body)
    return sorted(key for key, question in QUESTIONS.items() if question in shown)


async def test_a_valid_link_shows_the_week_with_everything_a_ta_grades_by(page: Page) -> None:
    client, _, _ = page
    response = await client.get(link())
    body = await response.text()

    assert response.status == 200
    assert questions_on(body) == sorted(QUESTIONS)
    assert 'href="https://youtu.be/mlvid000001?t=721"' in body  # a cited moment, to the second
    assert "Trechos recuperados (3)" in body and "score 0.800" in body
    assert "👍 2 · 👎 0" in body and "👍 1 · 👎 2" in body  # the students' votes
    assert "Juiz: 1/3" in body and "A Aula 3 (10:01) diz que o encoder" in body
    assert "Juiz: não julgada: sem base nas aulas" in body
    assert body.count('<form class="grade" method="post"') == len(LOG)


async def test_the_page_loads_nothing_from_elsewhere_and_leaks_no_referrer(page: Page) -> None:
    client, _, _ = page
    response = await client.get(link())
    body = await response.text()

    assert "<script" not in body and " src=" not in body
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    external = re.findall(r'<a href="(https?://[^"]+)"([^>]*)>', body)
    assert external and all('rel="noreferrer noopener"' in attrs for _, attrs in external)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("f=negativas", ["encoder", "taxa"]),
        ("f=ar_baixo", ["encoder", "taxa"]),
        ("f=abstencoes", ["prova"]),
        ("f=fallback", ["skip"]),
        ("f=escaladas", ["prova"]),
        ("f=sem_nota", sorted(QUESTIONS)),
        ("q=DROPOUT", ["dropout"]),
        ("q=encoder+canais", ["encoder"]),
        ("f=negativas&q=taxa", ["taxa"]),
        ("f=nenhum", sorted(QUESTIONS)),  # an unknown filter shows everything
    ],
)
async def test_filters_and_search_narrow_the_week(
    page: Page, query: str, expected: list[str]
) -> None:
    client, _, _ = page
    body = await (await client.get(f"{link()}&{query}")).text()
    assert questions_on(body) == expected


async def test_another_week_is_reached_by_its_monday(page: Page) -> None:
    client, _, _ = page
    body = await (await client.get(f"{link()}&semana=2026-11-25")).text()
    assert questions_on(body) == [] and "Nenhuma pergunta nesta semana." in body
    assert "Semana de 23/11/2026 a 29/11/2026" in body


def other_secret(course: str = "ml") -> str:
    return link(course, ReviewLinks(b"guessed", REVIEW_LINKS.base_url))


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(lambda: "/review/ml", id="no link"),
        pytest.param(lambda: "/review/ml?t=", id="empty token"),
        pytest.param(other_secret, id="forged"),
        pytest.param(lambda: link("bio").replace("/review/bio", "/review/ml"), id="other course"),
        pytest.param(lambda: link("ml").replace("/review/ml", "/review/bio"), id="to other course"),
        pytest.param(lambda: link(now=NOW - timedelta(hours=13)), id="expired"),
        pytest.param(lambda: link("nope"), id="unknown course"),
    ],
)
async def test_anything_but_a_valid_link_gets_403_and_nothing_shown(
    page: Page,
    path: Callable[[], str],
) -> None:
    client, _, _ = page
    response = await client.get(path())
    body = await response.text()
    assert response.status == 403
    assert questions_on(body) == [] and "/review" in body and "Acesso negado" in body


async def test_a_link_stops_working_when_it_expires(page: Page) -> None:
    client, _, clock = page
    valid = link()
    assert (await client.get(valid)).status == 200
    clock.now = NOW + timedelta(hours=12)
    assert (await client.get(valid)).status == 403


async def test_a_grade_needs_a_valid_link_and_a_c_or_i(page: Page) -> None:
    client, _, _ = page
    token = link().split("t=", 1)[1]
    forged = other_secret().split("t=", 1)[1]
    form = {"id": "01KDEMO0000000000000000001", "rotulo": "C", "ar": "3"}

    refused = await client.post("/review/ml/nota", data=form | {"t": forged})
    bad = await client.post("/review/ml/nota", data=form | {"t": token, "rotulo": "X"})
    bad_ar = await client.post("/review/ml/nota", data=form | {"t": token, "ar": "4"})

    assert refused.status == 403
    assert (bad.status, bad_ar.status) == (400, 400)


async def test_a_grade_is_kept_under_the_links_ta_and_shown_in_place(page: Page) -> None:
    client, service, _ = page
    token = link().split("t=", 1)[1]
    encoder = "01KDEMO0000000000000000002"
    form = {"t": token, "id": encoder, "rotulo": "I", "ar": "1", "comentario": "inverteu"}

    response = await client.post(
        "/review/ml/nota", data=form | {"f": "negativas"}, allow_redirects=False
    )

    assert response.status == 303
    back = yarl.URL(response.headers["Location"])
    assert (back.path, back.fragment) == ("/review/ml", f"i-{encoder}")
    assert dict(back.query) == {"t": token, "f": "negativas", "salvo": encoder}
    [grade] = service.store.grades_for(encoder)
    assert (grade.grader_ref, grade.label, grade.ar_grade, grade.note) == (TA, "I", 1, "inverteu")
    body = await (await client.get(response.headers["Location"])).text()
    assert "Nota salva." in body and '<b class="label-I">I</b> · AR 1 · “inverteu”' in body
    form_shown = body.split(f'id="i-{encoder}"', 1)[1].split("</form>", 1)[0]
    assert "value=I required checked" in form_shown and "<option value=1 selected>" in form_shown
    assert 'value="inverteu"' in form_shown and "Mudar a nota" in form_shown
    assert "encoder" not in questions_on(await (await client.get(f"{link()}&f=sem_nota")).text())


async def test_an_answer_of_another_course_cannot_be_graded_with_this_courses_link(
    page: Page,
) -> None:
    client, service, _ = page
    other = replace(interaction(9, LOG[0]), id="01KDEMOBIO0000000000000009", course_id="bio")
    service.store.save_interaction(other, enqueue_judge=False)
    token = link().split("t=", 1)[1]

    response = await client.post(
        "/review/ml/nota", data={"t": token, "id": other.id, "rotulo": "C"}
    )

    assert response.status == 404
    assert service.store.grades_for(other.id) == []


async def test_ungraded_answers_are_proposed_one_of_each_judge_score_each_linked(
    page: Page,
) -> None:
    client, _, _ = page
    body = await (await client.get(link())).text()

    proposed = re.findall(
        r'<li><a href="([^"]+)">([^<]*)</a> <span class=muted>\(juiz (\d)/3', body
    )

    judged = {logged.question: logged for logged in LOG if logged.score is not None}
    assert sorted(int(score) for _, _, score in proposed) == [0, 1, 2, 3]
    for href, question, score in proposed:
        target = yarl.URL(href.replace("&amp;", "&"))
        assert judged[question].score == int(score)
        assert target.fragment == f"i-{target.query['q']}"  # found by its id on its week
        found = await (await client.get(str(target.with_fragment(None)))).text()
        assert questions_on(found) == [judged[question].key]


async def test_an_answer_just_graded_stays_in_view_though_it_left_the_filter(page: Page) -> None:
    client, _, _ = page
    token = link().split("t=", 1)[1]
    taxa = "01KDEMO0000000000000000006"
    form = {"t": token, "id": taxa, "rotulo": "C", "f": "sem_nota"}

    back = await client.post("/review/ml/nota", data=form)

    body = await back.text()
    assert "taxa" in questions_on(body) and "Nota salva." in body
    assert "taxa" not in questions_on(await (await client.get(f"{link()}&f=sem_nota")).text())


async def test_the_access_log_names_the_page_but_never_the_links_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = make_service(tmp_path, clock=lambda: NOW)
    app = web.Application()
    add_review_routes(app, service)
    server = TestServer(app)
    await server.start_server(access_log_class=AccessLogWithoutQueries)
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    try:
        async with TestClient(server) as client:
            valid = link()
            assert (await client.get(valid)).status == 200
    finally:
        service.store.close()  # type: ignore[attr-defined]

    logged = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert any('"GET /review/ml" 200' in line for line in logged), logged
    token = valid.split("t=", 1)[1]
    assert not any(token in r.getMessage() for r in caplog.records)


async def test_what_students_wrote_is_shown_as_text_never_as_markup(page: Page) -> None:
    client, service, _ = page
    hostile = '<script>alert(1)</script><a href="https://evil.example">"oi"</a>'
    row = replace(interaction(8, LOG[0]), id="01KDEMOXSS0000000000000008", question=hostile)
    service.store.save_interaction(row, enqueue_judge=False)

    body = await (await client.get(f"{link()}&q=alert")).text()

    assert "<script>alert(1)</script>" not in body and "evil.example" in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;a href=&quot;https://evil.example" in body


async def test_a_database_failure_is_a_page_that_says_so(
    page: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, service, _ = page

    def down(*args: object, **kwargs: object) -> None:
        raise StoreUnavailableError("connection refused")

    monkeypatch.setattr(service.store, "list_interactions", down)
    monkeypatch.setattr(service.store, "get_interaction", down)
    token = link().split("t=", 1)[1]
    form = {"t": token, "id": "01KDEMO0000000000000000002", "rotulo": "C"}

    shown = await client.get(link())
    graded = await client.post("/review/ml/nota", data=form)

    assert (shown.status, graded.status) == (503, 503)
    assert "Não consegui ler o registro" in await shown.text()
    assert "Nada foi salvo" in await graded.text()
    assert service.journal.entries() == []  # the answer could not be read: the grade is not kept
