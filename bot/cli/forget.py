"""``python -m bot forget --platform P --user ID [--course C]``: delete everything kept of a
student (the LGPD's right to deletion): their questions and answers, the votes on them and
the votes they cast, the judge's work on them, in the database and in the journal. Prints
what it deleted; run again, it deletes nothing more.

``--user`` is the platform's user id (Discord: the number in "Copy User ID"; Slack: the
U... id in the member's profile). The TAs' ``/forget`` chat command does the same.
"""

from __future__ import annotations

import argparse
from typing import Any

from bot.app import build_journal, build_store, pseudonym_secret
from bot.config import Settings
from bot.courses import load_courses
from bot.pseudonym import pseudonymise
from retrieval.cli_help import plain


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "forget", help="delete everything kept of a student", description=plain(__doc__)
    )
    parser.add_argument("--platform", required=True, choices=("discord", "slack"))
    parser.add_argument("--user", required=True, help="the student's user id on the platform")
    parser.add_argument("--course", help="only this course (default: every course)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.course:
        load_courses(settings.courses_file).get(args.course)  # a typo is an error
    secret = pseudonym_secret(settings, allow_local=True)
    asker_ref = pseudonymise(secret, args.platform, args.user.strip())
    store = build_store(settings)
    try:
        erased = store.forget(build_journal(settings), asker_ref, args.course)
    finally:
        store.close()
    where = f"course {args.course}" if args.course else "every course"
    print(f"{args.platform} user {args.user} ({asker_ref}), {where}: {erased.describe()}")
    return 0
