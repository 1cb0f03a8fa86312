"""``python -m bot ask "question"``: one question end to end from the terminal.

On first use it ingests the course's lectures (the built-in demo course by default), so a
fresh install answers with no configuration and no tokens.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from dataclasses import asdict
from typing import Any

from bot.app import Retrieval, build_retrieval, build_service, summarise_ingest
from bot.citations import citation_label
from bot.config import Settings
from bot.courses import Course, load_courses
from bot.models import Answer, Question
from retrieval.cli_help import plain
from retrieval.errors import CourseNotIndexedError

DEFAULT_COURSE = "demo"


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "ask", help="ask a question from the terminal", description=plain(__doc__)
    )
    parser.add_argument("question", help='e.g. "Qual a função da camada de saída na U-Net?"')
    parser.add_argument(
        "--course",
        help=f"course id (default: {DEFAULT_COURSE}, or the only course in COURSES_FILE)",
    )
    parser.add_argument("--json", action="store_true", help="print the whole Answer as JSON")
    parser.add_argument("--quiet", action="store_true", help="no ingest progress or summary")
    parser.set_defaults(run=run, one_shot=True)


def run(args: argparse.Namespace, settings: Settings) -> int:
    courses = load_courses(settings.courses_file)
    course = courses.get(args.course or _default_course(courses.ids()))
    retrieval = build_retrieval(settings)
    # The database first: a DATABASE_URL mistake is told before minutes of indexing.
    service = build_service(settings, courses, retrieval=retrieval, allow_local_secret=True)
    _ensure_ingested(retrieval, course, quiet=args.quiet)
    question = Question(
        course_id=course.id, text=args.question, platform="cli", asker=getpass.getuser()
    )
    answer = asyncio.run(service.ask(question))
    print(json.dumps(asdict(answer), ensure_ascii=False, indent=2) if args.json else render(answer))
    return 0


def _default_course(ids: list[str]) -> str:
    if DEFAULT_COURSE in ids or len(ids) != 1:
        return DEFAULT_COURSE
    return ids[0]


def _ensure_ingested(retrieval: Retrieval, course: Course, quiet: bool) -> None:
    """Bring the course's index up to date when we know where its lectures are.

    Unchanged lectures cost a hash each, so this is cheap after the first run.
    """
    if course.course_dir is None:
        # Indexed elsewhere, with `python -m retrieval ingest`: say so now if it was not.
        if retrieval.index.count(course.id) == 0:
            raise CourseNotIndexedError(course.id)
        return
    first = retrieval.index.count(course.id) == 0
    if first and not quiet:
        print(f"Indexing the {course.id!r} lectures (first use)…", file=sys.stderr)
    report = retrieval.ingest(course, progress=first and not quiet)
    if report.embedded and not quiet:
        print(f"Indexed: {summarise_ingest(report)}", file=sys.stderr)


def render(answer: Answer) -> str:
    lines = [answer.text.strip(), ""]
    if answer.citations:
        lines.append("Fontes:")
        for n, citation in enumerate(answer.citations, 1):
            lines.append(f"  [{n}] {citation_label(citation)}")
            lines.append(f"      {citation.url}")
        lines.append("")
    if answer.fallback:
        lines.append(
            "(resposta extrativa, não gerada por IA: sem ANTHROPIC_API_KEY ou Claude "
            "indisponível; a causa fica no log da interação)"
        )
    lines.append(f"ref {answer.interaction_id}")
    return "\n".join(lines)
