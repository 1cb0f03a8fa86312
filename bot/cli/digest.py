"""``python -m bot digest --course ID``: the weekly digest of a course as files, or posted.

``--week`` is any day of the week wanted (default: the last whole week, in the course's
time zone: the one the clock posts on Mondays). Without ``--out`` the Markdown goes to
stdout; with it, DIR gets ``resumo-<course>-<monday>.md``, the same as a self-contained
HTML page (inline CSS, the charts embedded: it opens offline and needs no JavaScript) and
the PNG charts beside them (with the ``charts`` extra installed). ``--post`` sends it to the
course's TA channel on each platform it has one and a token for, as the clock does, and
records the week as sent: the clock will not post it again (a week the clock sent already
is posted again when asked by hand).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.cli.report import parse_day
from bot.cli.serve import ChatDigestPoster, digest_courses
from bot.config import Settings
from bot.courses import Course, Courses, load_courses
from bot.digest import digest_for_week, previous_week_start, render_digest_markdown
from bot.digest_charts import charts_installed
from bot.digest_render import write_digest
from bot.errors import ConfigError
from bot.models import Digest
from bot.scheduler import default_worker_id
from bot.store import SqlStore, open_store
from retrieval.cli_help import plain
from retrieval.embed import make_embedder

NO_CHARTS = "note: no charts: the charts extra is not installed (pip install '.[charts]')"


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "digest",
        help="write a course's weekly digest (Markdown, HTML, charts) or post it to the TAs",
        description=plain(__doc__),
    )
    parser.add_argument("--course", required=True, help="course id")
    parser.add_argument(
        "--week",
        type=parse_day,
        help="a day of the week, YYYY-MM-DD (default: the last whole week)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="folder for the .md, .html and .png files (default: the Markdown on stdout)",
    )
    parser.add_argument("--post", action="store_true", help="post it to the course's TA channel")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    courses = load_courses(settings.courses_file)
    course = courses.get(args.course)
    if args.post and not digest_courses(settings, Courses([course])):
        raise ConfigError(
            f"--post: course {course.id!r} has no TA channel on a platform with a token; set "
            "ta_channel_id under [courses.discord] or [courses.slack] in the COURSES_FILE and "
            "DISCORD_TOKEN or SLACK_BOT_TOKEN"
        )
    week = args.week or previous_week_start(course, datetime.now(UTC))
    store = open_store(settings.database_url)
    try:
        embed = make_embedder(settings.embedder).embed_queries
        digest = digest_for_week(store, course, week, settings.judge_pass_score, embed=embed)
        if args.out:
            files = write_digest(digest, args.out)
            for path in (files.markdown, files.html, *files.charts):
                print(f"wrote {path}", file=sys.stderr)
            if not charts_installed():
                print(NO_CHARTS, file=sys.stderr)
        elif not args.post:
            sys.stdout.write(render_digest_markdown(digest))
        if args.post:
            _post(settings, store, course, digest)
    finally:
        store.close()
    return 0


def _post(settings: Settings, store: SqlStore, course: Course, digest: Digest) -> None:
    """To the course's TA channels, then the week recorded as sent: the clock, which posts a
    week once, will not post this one again."""
    asyncio.run(ChatDigestPoster(settings).post(course, digest))
    by = f"{default_worker_id()} (by hand)"
    store.digests.mark_posted_by_hand(course.id, digest.week_start, by)
    week = digest.week_start.date()
    print(f"posted the digest of {course.id} for the week of {week}", file=sys.stderr)
