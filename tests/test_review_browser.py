"""The review page in a real browser: headless Chromium from the system's packages, driven by
Playwright (it may not download browsers of its own). A TA opens the signed link, filters,
searches, grades an answer with the form, and sees the grade stored and the judge's
alignment figures move; a forged link gets a 403 that shows nothing.

Skipped, saying why, where no ``chromium`` is installed (.ci/run installs it) or Playwright
is missing (it is in the ``dev`` extra)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.adapters.review import add_review_routes
from bot.review_links import ReviewLinks
from bot.service import AssistantService
from tests.fakes.core import REVIEW_LINKS, make_service
from tests.review_log import LOG, NOW, write_review_log

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH: apt-get install chromium (.ci/run does)"
)
async_api = pytest.importorskip(
    "playwright.async_api", reason="Playwright is not installed: pip install -e '.[dev]'"
)

TA = "u_a11ce000000000000001"
ENCODER, TAXA = "01KDEMO0000000000000000002", "01KDEMO0000000000000000006"


class Site:
    def __init__(self, service: AssistantService, base: str) -> None:
        self.service, self.base = service, base

    def link(self, links: ReviewLinks = REVIEW_LINKS) -> str:
        return links.link(TA, "ml", NOW).url.replace(links.base_url, self.base)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    """The review page on a loopback port, over the fixed week of tests/review_log.py."""
    service = make_service(tmp_path, clock=lambda: NOW)
    write_review_log(service.store)  # type: ignore[arg-type]
    app = web.Application()
    add_review_routes(app, service)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield Site(service, f"http://127.0.0.1:{port}")
    finally:
        await runner.cleanup()
        service.store.close()  # type: ignore[attr-defined]


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with async_api.async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


async def questions(page: Any) -> list[str]:
    return sorted(await page.locator("article h2.question").all_inner_texts())


async def figures(page: Any) -> dict[str, str]:
    """The judge's alignment figures the page shows, by name."""
    marked = page.locator("#alinhamento [data-figure]")
    names = [await marked.nth(n).get_attribute("data-figure") for n in range(await marked.count())]
    values = [await marked.nth(n).get_attribute("data-value") for n in range(len(names))]
    return dict(zip(names, values, strict=True))


async def grade(page: Any, interaction_id: str, label: str, ar: str, note: str) -> None:
    """Fill in and send an answer's grade form, as a TA does; returns once the page is back."""
    item = page.locator(f"#i-{interaction_id}")
    await item.locator(f"input[name=rotulo][value={label}]").check()
    await item.locator("select[name=ar]").select_option(ar)
    await item.locator("input[name=comentario]").fill(note)
    await item.locator("button", has_text="Salvar nota").click()
    await page.wait_for_selector(f"#i-{interaction_id} .saved")


async def test_a_ta_filters_searches_and_grades_an_answer_in_the_browser(
    site: Site, browser: Any
) -> None:
    page = await browser.new_page()
    page.set_default_timeout(10_000)  # a missing element fails in seconds, not half a minute
    opened = await page.goto(site.link())
    assert opened.status == 200
    assert len(await questions(page)) == len(LOG)
    assert await figures(page) == {"graded": "0"}

    await page.click("a[data-filter=negativas]")
    assert await questions(page) == sorted([LOG[1].question, LOG[5].question])
    await page.fill("input[name=q]", "encoder")
    await page.click("form.search button")
    assert await questions(page) == [LOG[1].question]  # the search kept the 👎 filter

    await grade(page, ENCODER, "I", "1", "Inverteu resolução e canais.")

    [stored] = site.service.store.grades_for(ENCODER)  # type: ignore[attr-defined]
    assert (stored.grader_ref, stored.label, stored.ar_grade) == (TA, "I", 1)
    assert stored.note == "Inverteu resolução e canais."
    assert "I · AR 1" in await page.locator(f"#i-{ENCODER} .graded").inner_text()
    assert "f=negativas" in page.url and "q=encoder" in page.url  # back where they were
    # The judge gave it 1/3 too: one graded answer, the judge agrees.
    assert await figures(page) == {
        "graded": "1",
        **{"binary_n": "1", "accuracy": "1.00", "kappa": "1.00"},
        **{"scored": "1", "weighted_kappa": "1.00", "spearman": "—"},
    }

    await page.click("a[data-filter=sem_nota]")
    await page.fill("input[name=q]", "")
    await page.click("form.search button")
    ungraded = sorted(logged.question for logged in LOG if logged.key != "encoder")
    assert await questions(page) == ungraded
    await grade(page, TAXA, "C", "2", "Vale para o trabalho final.")  # the judge said 0/3

    assert await figures(page) == {
        "graded": "2",
        **{"binary_n": "2", "accuracy": "0.50", "kappa": "0.00"},
        **{"scored": "2", "weighted_kappa": "-0.33", "spearman": "-1.00"},
    }
    assert await page.locator("#alinhamento summary").first.inner_text() == (
        "Maiores divergências (1)"
    )


async def test_a_forged_link_gets_403_and_nothing_shown_in_the_browser(
    site: Site, browser: Any
) -> None:
    page = await browser.new_page()
    forged = site.link(ReviewLinks(b"guessed", REVIEW_LINKS.base_url))

    response = await page.goto(forged)

    assert response.status == 403
    text = await page.inner_text("body")
    assert "Acesso negado" in text
    assert not any(logged.question in text for logged in LOG)
