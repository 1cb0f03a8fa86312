"""``python -m bot ingest``: (re)index the lectures of the courses in the COURSES_FILE, with
the bot's own settings (LANCEDB_URI, EMBEDDER), so the bot reads exactly what was built.

Prints one summary line per course, then each problem on a line of its own on stderr
(``file:line: message``). A file that cannot be read is skipped and the rest is indexed;
when that file's video was indexed before, students keep searching that earlier version.
Exit status 1 when any file was skipped, so a script or CI notices.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.app import build_retrieval
from bot.config import ConfigError, Settings
from bot.courses import load_courses
from retrieval.cli_help import plain
from retrieval.ingest import print_ingest_report


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "ingest",
        help="index the lectures of one course (--course) or of every course (--all)",
        description=plain(__doc__),
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--course", help="course id from the COURSES_FILE")
    which.add_argument("--all", action="store_true", help="every course with a course_dir")
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="print only the files skipped: no progress bar, summary or warnings",
    )
    parser.set_defaults(run=run, one_shot=True)


def run(args: argparse.Namespace, settings: Settings) -> int:
    courses = load_courses(settings.courses_file)
    chosen = [c for c in courses if c.course_dir] if args.all else [courses.get(args.course)]
    if not chosen:
        raise ConfigError("no course in the COURSES_FILE has a course_dir to ingest")
    retrieval = build_retrieval(settings)
    skipped = 0
    for course in chosen:
        report = retrieval.ingest(course, progress=not args.quiet)
        print_ingest_report(course.id, report, quiet=args.quiet, out=sys.stdout)
        skipped += len(report.skipped)
    if skipped:
        print(
            f"error: {skipped} file(s) skipped (listed above): fix them and ingest again; "
            "the rest was indexed",
            file=sys.stderr,
        )
        return 1
    return 0
