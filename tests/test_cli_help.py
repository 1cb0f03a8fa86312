"""Every command of both command lines (``python -m bot``, ``python -m retrieval``) explains
itself: a description, no reST markup, defaults shown, and one spelling per option."""

from __future__ import annotations

import argparse
import re
from collections import defaultdict

import pytest

import retrieval.__main__ as retrieval_cli
from bot.__main__ import build_parser

FLAGS = (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse._HelpAction)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(commands.choices)


COMMANDS = {
    **{f"bot {name}": p for name, p in subcommands(build_parser()).items()},
    **{f"retrieval {name}": p for name, p in subcommands(retrieval_cli._parser()).items()},
}


def option_help(page: str) -> dict[str, str]:
    """Each option's help text on a rendered page, by its first option string."""
    blocks = re.findall(r"^  (-.*?)(?=^  \S|\Z)", page.split("\noptions:\n", 1)[1], re.M | re.S)
    return {block.split()[0].rstrip(","): " ".join(block.split()) for block in blocks}


def test_both_command_lines_are_walked() -> None:
    assert {"bot ask", "bot ingest", "bot report", "bot evaluate", "bot run"} <= set(COMMANDS)
    assert {"retrieval ingest", "retrieval search", "retrieval eval"} <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_has_a_description_no_markup_and_shows_defaults(name: str) -> None:
    parser = COMMANDS[name]
    page = parser.format_help()
    assert parser.description, f"{name}: no description"
    assert parser.description.split()[0] in page
    assert "``" not in page
    helps = option_help(page)
    chosen = [a for g in parser._mutually_exclusive_groups if g.required for a in g._group_actions]
    for action in parser._actions:
        needed = action.required or action in chosen  # e.g. ingest's --course or --all
        if not action.option_strings or isinstance(action, FLAGS) or needed:
            continue
        text = helps[action.option_strings[0]]
        assert "default" in text, f"{name} {action.option_strings[0]}: no default shown"
        if action.default is not None:
            assert f"(default: {action.default})" in text


def test_options_are_spelled_the_same_in_every_command() -> None:
    spellings: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for parser in COMMANDS.values():
        for action in parser._actions:
            if action.option_strings:
                spellings[action.dest].add(tuple(sorted(action.option_strings)))
    differing = {dest: names for dest, names in spellings.items() if len(names) > 1}
    assert differing == {}
    assert spellings["k"] == {("--k", "-k")}
    assert spellings["cache_dir"] == {("--cache-dir",)}


def test_the_top_level_help_has_no_markup() -> None:
    for parser in (build_parser(), retrieval_cli._parser()):
        page = parser.format_help()
        assert "``" not in page and parser.description
