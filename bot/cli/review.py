"""``python -m bot review --port N``: serve the TAs' review page on its own.

The Slack app in HTTP mode serves the same page on SLACK_PORT; this command is for the other
deployments (Discord, Socket Mode). TAs reach it only through the signed links ``/review``
gives them in the chat, which point at REVIEW_BASE_URL: set it to this server's public
address. The links are checked with REVIEW_SECRET (or one derived from PSEUDONYM_SECRET),
so this process and the chat process must share those settings.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from bot.app import build_service, build_store
from bot.config import Settings, require
from bot.courses import load_courses
from retrieval.cli_help import plain


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "review", help="serve the TAs' review page on its own", description=plain(__doc__)
    )
    parser.add_argument("--port", type=int, default=8080, help="port to listen on")
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    require(settings, "PSEUDONYM_SECRET")
    courses = load_courses(settings.courses_file)
    asyncio.run(_serve(settings, courses, args.host, args.port))
    return 0


async def _serve(settings: Settings, courses: Any, host: str, port: int) -> None:
    from bot.adapters.review import serve_review

    store = build_store(settings)
    try:
        await serve_review(build_service(settings, courses, store=store), host, port)
    finally:
        store.close()
