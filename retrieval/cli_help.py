"""How both command lines (``python -m retrieval`` and ``python -m bot``) show their help, so
every command's page reads the same way: a description, then options with their defaults."""

from __future__ import annotations

import argparse
import re
import textwrap
from typing import Any

_PARAGRAPHS = re.compile(r"\n\s*\n")


class HelpFormatter(argparse.HelpFormatter):
    """Descriptions are filled paragraph by paragraph, and a paragraph with indented lines (an
    example) is kept as written; an option with a default value says what it is.

    Unlike ``ArgumentDefaultsHelpFormatter``, flags (default False) and options whose default
    is None are left as written: their help says in words what happens without them.
    """

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for paragraph in _PARAGRAPHS.split(text.strip()):
            if any(line.startswith((" ", "\t")) for line in paragraph.splitlines()):
                paragraphs.append(textwrap.indent(paragraph, indent))
            else:
                paragraphs.append(
                    textwrap.fill(
                        " ".join(paragraph.split()),
                        width,
                        initial_indent=indent,
                        subsequent_indent=indent,
                    )
                )
        return "\n\n".join(paragraphs)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        shown = action.default not in (None, False, argparse.SUPPRESS)
        if shown and action.option_strings and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


def plain(docstring: str | None) -> str:
    """A docstring as help text: without reST's double-backtick literal markup."""
    return (docstring or "").replace("``", "").strip()


class Commands:
    """A parser's subcommands. Each one's help page opens with its description (its one-line
    summary when it has none) and shows defaults, whichever module adds it."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self._commands = parser.add_subparsers(dest="command", required=True)

    def add_parser(self, name: str, *, help: str, **kwargs: Any) -> argparse.ArgumentParser:
        kwargs.setdefault("description", help)
        kwargs.setdefault("formatter_class", HelpFormatter)
        parser: argparse.ArgumentParser = self._commands.add_parser(name, help=help, **kwargs)
        return parser
