"""``python -m bot report --course ID``: export a course's interactions as the evaluation
report (``md``, the user's layout) or as records (``jsonl``, ``csv``).

Dates are days in the course's time zone: ``--since`` from its 00:00, ``--until`` through its
end (inclusive). A course not in COURSES_FILE is an error unless the log holds interactions
for it (e.g. an evaluation run's log, read with DATABASE_URL); its days are then UTC.
``--hide-urls`` hides every link, in the answers and the judge's reasoning too.

"Anotação manual" is a TA's grade when the answer has one, else the students' votes. The
judge's alignment with the TA grades is summed up on stderr; ``--alignment`` adds it whole
(figures, the worst disagreements with both reasonings, answers proposed for grading): at
the end of an ``md`` report, on stderr for the record formats.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from bot.agreement import agreement
from bot.alignment import Alignment, alignment_markdown
from bot.config import Settings
from bot.courses import load_courses
from bot.errors import ConfigError, UnknownCourseError
from bot.report import (
    FORMATS,
    HIDDEN_URL,
    ReportEntry,
    alignment_of,
    hide_links,
    load_entries,
    render,
)
from bot.store import SqlStore, open_store
from retrieval.cli_help import plain


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "report",
        help="export a course's interactions as the evaluation report",
        description=plain(__doc__),
    )
    parser.add_argument("--course", required=True, help="course id")
    parser.add_argument(
        "--since", type=_day, help="first day, YYYY-MM-DD (default: the first interaction)"
    )
    parser.add_argument(
        "--until", type=_day, help="last day, YYYY-MM-DD, inclusive (default: the last one)"
    )
    parser.add_argument(
        "--hide-urls",
        action="store_true",
        help=f"replace every link by its label, or by '{HIDDEN_URL}' when it has none",
    )
    parser.add_argument("--format", choices=FORMATS, default="md", help="output format")
    parser.add_argument("--out", type=Path, help="write to this file (default: stdout)")
    parser.add_argument("--start", type=int, default=1, help="number of the first question")
    parser.add_argument(
        "--pass-score",
        type=int,
        choices=range(4),
        default=None,
        help="lowest AR score (0-3) annotated C (default: JUDGE_PASS_SCORE)",
    )
    parser.add_argument(
        "--alignment",
        action="store_true",
        help="add the judge's alignment with the TA grades (md: at the end; else: on stderr)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the sample of ungraded answers proposed for grading (default: 0)",
    )
    parser.set_defaults(run=run)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a day as YYYY-MM-DD, got {text!r}") from None


def run(args: argparse.Namespace, settings: Settings) -> int:
    pass_score = settings.judge_pass_score if args.pass_score is None else args.pass_score
    store = open_store(settings.database_url)
    try:
        zone = _course_zone(settings, store, args.course)
        since = _midnight(args.since, zone) if args.since else None
        until = _midnight(args.until + timedelta(days=1), zone) if args.until else None
        if since and until and since >= until:
            raise ConfigError(f"--since {args.since} is after --until {args.until}")
        entries = load_entries(store, args.course, since, until, pass_score, args.start)
    finally:
        store.close()
    text = render(entries, args.format, hide_urls=args.hide_urls)
    alignment = alignment_of(entries, pass_score, args.seed)
    if not entries:
        print(f"no interactions for course {args.course!r} in that period", file=sys.stderr)
    else:
        print(agreement_summary(entries), file=sys.stderr)
        print(alignment_summary(alignment), file=sys.stderr)
    if args.alignment:
        section = alignment_markdown(alignment)
        section = hide_links(section) if args.hide_urls else section
        if args.format == "md":
            text += "\n" + section
        else:
            print(section, file=sys.stderr, end="")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {len(entries)} interaction(s) to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def agreement_summary(entries: Sequence[ReportEntry]) -> str:
    """Manual (TA grade, else votes) against automated (judge) annotations, for the TA reading
    the report."""
    result = agreement((e.manual, e.automated) for e in entries)
    if result is None:
        return "agreement: no interaction has both a manual and an automated annotation yet"
    m = result.confusion
    return (
        f"agreement on {result.n} interaction(s) with both annotations: "
        f"accuracy {result.accuracy:.2f}, Cohen's kappa {result.kappa:.2f}; "
        f"manual/automated C/C {m.cc}, C/I {m.ci}, I/C {m.ic}, I/I {m.ii}"
    )


def alignment_summary(alignment: Alignment) -> str:
    """The judge against the TA grades, in one line."""
    if alignment.graded == 0:
        return "alignment: no answer has a TA grade yet"
    binary = alignment.binary
    parts = [f"alignment with {alignment.graded} TA grade(s)"]
    if binary is not None:
        parts.append(
            f"C/I on {binary.n}: accuracy {binary.accuracy:.2f}, Cohen's kappa {binary.kappa:.2f}"
        )
    if alignment.scored:
        parts.append(
            f"0-3 on {alignment.scored}: weighted kappa {_figure(alignment.weighted_kappa)}, "
            f"Spearman {_figure(alignment.spearman)}"
        )
    return "; ".join(parts)


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _course_zone(settings: Settings, store: SqlStore, course_id: str) -> tzinfo:
    try:
        return load_courses(settings.courses_file).get(course_id).tz
    except UnknownCourseError:
        if store.list_interactions(course_id):
            return UTC  # logged but not configured: an evaluation run's course
        raise


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)
