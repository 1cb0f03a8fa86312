"""How long the review page takes to serve as a course's log grows: the page reads the shown
week (its interactions, and the judge's alignment over them), so its time should follow the
week, not the log.

A temporary SQLite store holds ``--weeks`` weeks of ``--per-week`` questions each (the fixed
test week of tests/review_log.py repeated: 3 retrieved segments, votes, judge scores, and a TA
grade on one answer in three); the page is served on a loopback port and fetched ``--runs``
times for the current week, then a grade is posted (answered by a redirect) as many times.

    python benchmarks/review_page.py --weeks 1 15 30 --per-week 100 --runs 9
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import aiohttp
from aiohttp import web

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.adapters.review import add_review_routes  # noqa: E402
from bot.models import Judgement, TAGrade, Vote  # noqa: E402
from tests.fakes.core import REVIEW_LINKS, make_service  # noqa: E402
from tests.review_log import LOG, NOW, interaction  # noqa: E402

TA = "u_b0b00000000000000001"


def fill(store: object, weeks: int, per_week: int) -> str:
    """The log; returns an id of this week's to grade."""
    save = store.save_interaction  # type: ignore[attr-defined]
    spacing = timedelta(days=7) / per_week
    latest = ""
    for n in range(weeks * per_week):
        logged = LOG[n % len(LOG)]
        row = replace(interaction(n % len(LOG) + 1, logged), id=f"01KBENCH{n:018d}")
        row = replace(row, created_at=NOW - timedelta(hours=1) - spacing * n)
        save(row, enqueue_judge=False)
        latest = latest or row.id
        at = row.created_at + timedelta(minutes=5)
        if logged.score is not None:
            store.save_judgement(Judgement(row.id, logged.score, "c", "e"), at=at)  # type: ignore[attr-defined]
        for voter, value in enumerate(logged.votes):
            store.save_vote(Vote(row.id, f"u_{voter:020x}", value, at))  # type: ignore[arg-type,attr-defined]
        if n % 3 == 0:
            store.save_grade(TAGrade(row.id, TA, "C", at, ar_grade=2))  # type: ignore[attr-defined]
    return latest


async def measure(weeks: int, per_week: int, runs: int) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as folder:
        service = make_service(Path(folder), clock=lambda: NOW)
        to_grade = fill(service.store, weeks, per_week)
        app = web.Application()
        add_review_routes(app, service)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        url = REVIEW_LINKS.link(TA, "ml", NOW).url.replace(REVIEW_LINKS.base_url, base)
        token = url.split("t=", 1)[1]
        gets, posts, size = [], [], 0
        try:
            async with aiohttp.ClientSession() as client:
                for _ in range(runs):
                    started = time.perf_counter()
                    async with client.get(url) as page:
                        size = len(await page.read())
                        assert page.status == 200
                    gets.append((time.perf_counter() - started) * 1000)
                    form = {"t": token, "id": to_grade, "rotulo": "I", "ar": "1"}
                    started = time.perf_counter()
                    async with client.post(
                        f"{base}/review/ml/nota", data=form, allow_redirects=False
                    ) as graded:
                        assert graded.status == 303
                    posts.append((time.perf_counter() - started) * 1000)
        finally:
            await runner.cleanup()
            service.store.close()  # type: ignore[attr-defined]
        return statistics.median(gets), statistics.median(posts), size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, nargs="+", default=[1, 15, 30])
    parser.add_argument("--per-week", type=int, default=100)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| log | GET page p50 | POST grade p50 | page size |")
    print("|---|---|---|---|")
    for weeks in args.weeks:
        get_ms, post_ms, size = asyncio.run(measure(weeks, args.per_week, args.runs))
        log = f"{weeks} weeks x {args.per_week} ({weeks * args.per_week} questions)"
        print(f"| {log} | {get_ms:.0f} ms | {post_ms:.1f} ms | {size / 1000:.0f} kB |")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
