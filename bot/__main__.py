"""``python -m bot``: ask from the terminal, run the chat adapters and the worker, export
reports."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from bot.config import load_settings
from bot.errors import BotError
from bot.store import StoreError
from retrieval.cli_help import Commands, HelpFormatter
from retrieval.errors import RetrievalError

log = logging.getLogger(__name__)

# What a wrong setting, file or environment raises; anything else is a bug and keeps its
# traceback.
SETUP_ERRORS = (BotError, RetrievalError, StoreError)


def build_parser() -> argparse.ArgumentParser:
    from bot.cli import ask, digest, evaluate, forget, ingest, report, review, serve

    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Course assistant: answers students from lecture videos, citing the second.",
        formatter_class=HelpFormatter,
    )
    commands = Commands(parser)
    ask.add_parser(commands)
    ingest.add_parser(commands)
    report.add_parser(commands)
    digest.add_parser(commands)
    evaluate.add_parser(commands)
    forget.add_parser(commands)
    serve.add_parsers(commands)
    review.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        level = getattr(logging, settings.log_level.upper(), logging.INFO)
        if getattr(args, "one_shot", False):
            level = max(level, logging.WARNING)  # a terminal answer, not a service log
        logging.basicConfig(
            level=level,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        result: int = args.run(args, settings)
        return result
    except SETUP_ERRORS as error:
        return _fail(error)
    except KeyboardInterrupt:
        return 130


def _fail(error: Exception) -> int:
    """One ``error:`` line saying what to do, exit status 2; the traceback only at
    LOG_LEVEL=DEBUG, where it helps whoever reports the problem."""
    log.debug("the error below, with its traceback", exc_info=error)
    print("error: " + " ".join(str(error).split()), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
