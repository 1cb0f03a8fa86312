"""``python -m bot ingest``: (re)index the lectures of the courses in the COURSES_FILE, with
the bot's own settings (LANCEDB_URI, EMBEDDER), so the bot reads exactly what was built."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.app import build_retrieval, summarise_ingest
from bot.config import ConfigError, Settings
from bot.courses import load_courses


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "ingest", help="index the lectures of one course (--course) or of every course (--all)"
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--course", help="course id from the COURSES_FILE")
    which.add_argument("--all", action="store_true", help="every course with a course_dir")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run, one_shot=True)


def run(args: argparse.Namespace, settings: Settings) -> int:
    courses = load_courses(settings.courses_file)
    chosen = [c for c in courses if c.course_dir] if args.all else [courses.get(args.course)]
    if not chosen:
        raise ConfigError("no course in the COURSES_FILE has a course_dir to ingest")
    retrieval = build_retrieval(settings)
    skipped_any = False
    for course in chosen:
        report = retrieval.ingest(course, progress=not args.quiet)
        print(f"{course.id}: {summarise_ingest(report, max_warnings=None)}")
        skipped_any = skipped_any or bool(report.skipped)
    if skipped_any:
        print("some files were skipped (see above); the rest was indexed", file=sys.stderr)
    return 0
