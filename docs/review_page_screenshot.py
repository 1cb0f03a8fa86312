"""Take the README's screenshot of the review page (docs/review-page.png) from the fixed
week of tests/review_log.py, in the headless Chromium the browser tests use.

    python docs/review_page_screenshot.py [--out docs/review-page.png]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.adapters.review import add_review_routes  # noqa: E402
from tests.fakes.core import REVIEW_LINKS, make_service  # noqa: E402
from tests.review_log import NOW, write_review_log  # noqa: E402

TA = "u_b0b00000000000000001"
# A TA has graded three answers, so the alignment figures have something to show.
GRADES = (
    ("saida", "C", 3, ""),
    ("encoder", "I", 1, "Inverteu resolução e canais."),
    ("taxa", "C", 2, "A aula 6 recomenda 0,1 para este trabalho."),
)


async def serve_and_shoot(out: Path, chromium: str) -> None:
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory() as folder:
        service = make_service(Path(folder), clock=lambda: NOW)
        ids = write_review_log(service.store)  # type: ignore[arg-type]
        for key, label, ar, note in GRADES:
            await service.grade_answer("ml", ids[key], TA, label, ar, note)
        app = web.Application()
        add_review_routes(app, service)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = REVIEW_LINKS.link(TA, "ml", NOW).url.replace(
            REVIEW_LINKS.base_url, f"http://127.0.0.1:{port}"
        )
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=chromium)
                page = await browser.new_page(viewport={"width": 1000, "height": 1500})
                await page.goto(url)
                await page.locator("#alinhamento details").first.evaluate("d => d.open = true")
                await page.screenshot(path=str(out), full_page=False)
                await browser.close()
        finally:
            await runner.cleanup()
            service.store.close()  # type: ignore[attr-defined]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "review-page.png")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("error: no chromium on PATH (apt-get install chromium)", file=sys.stderr)
        return 2
    asyncio.run(serve_and_shoot(args.out, chromium))
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
