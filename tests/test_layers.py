"""Imports run only downward. The package's own source is read with ``ast``: every import
counts, at module level, inside a function or under ``if TYPE_CHECKING``."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "retrieval")

# Top to bottom: a module may import its own layer and the layers below it. A module is in the
# layer of the longest name here that is it or a package holding it; any other module of
# `bot` is a value, the strictest place. `retrieval` imports nothing of `bot`.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("entry", ("bot.__main__", "bot.cli", "bot.app")),  # bot.app wires everything
    ("adapters", ("bot.adapters", "bot.adapters.review")),  # review: the page's HTTP handlers
    ("service", ("bot.service",)),
    (
        "use",
        (
            "bot.judge",
            "bot.report",
            "bot.digest",
            "bot.digest_week",
            "bot.digest_figures",
            "bot.digest_gaps",
            "bot.digest_charts",
            "bot.digest_render",
            "bot.review",
            "bot.scheduler",
            "bot.fair_use",
        ),
    ),
    ("store", ("bot.store", "bot.llm")),  # what the ports stand for: SQL, Claude
    ("outcome", ("bot.outcome",)),  # rules over values alone, so the store may apply them
    ("values", ("bot",)),  # models, ports, errors, ids, config, courses, pure helpers
)
# The one module that may import each of these libraries.
ONLY_IMPORTER = {
    "anthropic": "bot.llm",
    "lancedb": "retrieval.index",
    "apscheduler": "bot.scheduler",
}


# What a module must not load, even through other modules: the adapters load the service,
# which must not bring the clock (APScheduler) or the judge worker with it; what the report
# and the clock read of judgements is in bot.outcome, not in the worker.
NEVER_LOADS = {
    "bot.service": ("bot.scheduler", "bot.judge", "apscheduler"),
    "bot.report": ("bot.judge",),
    "bot.scheduler": ("bot.judge",),
    # The review page is served on its own too (python -m bot review): no chat library.
    "bot.adapters.review": ("discord", "slack_bolt", "slack_sdk"),
}


def is_platform_sdk(top: str) -> bool:
    """Discord's and Slack's libraries, for bot.adapters alone."""
    return top == "discord" or top.startswith("slack_")


@dataclass(frozen=True)
class Import:
    importer: str
    line: int
    target: str  # a module of ours, or a third-party module's top-level name


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def read_imports(root: Path) -> dict[str, list[Import]]:
    """Each module of ``PACKAGES`` under ``root`` with every import it makes."""
    files = {
        module_name(path, root): path
        for package in PACKAGES
        for path in sorted((root / package).rglob("*.py"))
    }
    return {name: list(_imports(name, path, set(files))) for name, path in files.items()}


def _imports(name: str, path: Path, ours: set[str]) -> Iterator[Import]:
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(name, is_package, node.level, node.module)
            # `from bot import service` imports the module bot.service
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in ours else base for a in node.names
            ]
        else:
            continue
        for target in targets:
            top = target.split(".")[0]
            yield Import(name, node.lineno, target if top in PACKAGES else top)


def _absolute(name: str, is_package: bool, level: int, module: str | None) -> str:
    if level == 0:
        return module or ""
    package = name.split(".") if is_package else name.split(".")[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, module] if module else base)


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer_of(module: str) -> int:
    """The index in ``LAYERS`` (0 is the top) of a module of `bot`."""
    best, found = -1, len(LAYERS) - 1
    for index, (_, names) in enumerate(LAYERS):
        for listed in names:
            if within(module, listed) and len(listed) > best:
                best, found = len(listed), index
    return found


def violations(root: Path) -> list[str]:
    """Every import of the package under ``root`` that breaks a rule above, one line each."""
    imports = read_imports(root)
    found = []
    for made in (i for module_imports in imports.values() for i in module_imports):
        where = f"{made.importer}:{made.line} imports {made.target}"
        if within(made.importer, "retrieval") and within(made.target, "bot"):
            found.append(f"{where}: retrieval imports nothing of bot")
        elif within(made.importer, "bot") and within(made.target, "bot"):
            found += _layer_violation(made, where)
        if is_platform_sdk(made.target) and not within(made.importer, "bot.adapters"):
            found.append(f"{where}: only bot.adapters talks to a chat platform")
    for library, only in ONLY_IMPORTER.items():
        importers = sorted({i.importer for m in imports.values() for i in m if i.target == library})
        if importers != [only]:
            found.append(f"{library} is imported by {importers or 'nothing'}, not {only} alone")
    for module, banned in NEVER_LOADS.items():
        chains = [_path(imports, module, b) for b in banned]
        found += [f"{module} loads {c[-1]} (through {' -> '.join(c)})" for c in chains if c]
    return found


def _layer_violation(made: Import, where: str) -> list[str]:
    own, theirs = layer_of(made.importer), layer_of(made.target)
    if theirs >= own:
        return []
    return [f"{where}: {LAYERS[own][0]} may not import {LAYERS[theirs][0]}, a layer above"]


def _path(imports: dict[str, list[Import]], start: str, goal: str) -> list[str]:
    """The chain of imports by which loading ``start`` loads ``goal``; empty if it does not.
    Loading a module loads its packages first (bot.store.journal runs bot/store/__init__)."""
    came_from: dict[str, str] = {start: ""}
    queue = [start]
    while queue:
        module = queue.pop(0)
        if module == goal:
            chain = [module]
            while came_from[chain[-1]]:
                chain.append(came_from[chain[-1]])
            return chain[::-1]
        for made in imports.get(module, []):
            parts = made.target.split(".")
            for size in range(1, len(parts) + 1):
                loaded = ".".join(parts[:size])
                if loaded not in came_from:
                    came_from[loaded] = module
                    queue.append(loaded)
    return []


def test_no_import_runs_back_up_a_layer() -> None:
    assert violations(ROOT) == []


def test_every_module_the_layers_name_exists() -> None:
    modules = set(read_imports(ROOT))
    listed = [name for _, names in LAYERS for name in names]
    assert [name for name in listed if name not in modules] == []


def test_the_checker_finds_planted_violations(tmp_path: Path) -> None:
    planted = {
        "bot/__init__.py": "",
        "bot/models.py": "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from bot.store import X\n",
        "bot/outcome.py": "from . import models\n",
        "bot/store/__init__.py": "X = 1\n",
        "bot/store/jobs.py": "def later():\n"
        "    from ..outcome import x\n"
        "    from .. import service\n",
        "bot/service.py": "import bot.digest\n",
        "bot/digest.py": "from bot.scheduler import y\n",
        "bot/scheduler.py": "import apscheduler.triggers\n",
        "bot/llm.py": "import anthropic\n",
        "bot/cli/__init__.py": "import discord\nimport botocore\n",
        "bot/adapters/__init__.py": "import slack_sdk\nfrom bot import app\n",
        "bot/app.py": "",
        "retrieval/__init__.py": "",
        "retrieval/index.py": "import lancedb\n"
        "from anthropic import types\n"
        "from bot.models import Hit\n",
    }
    for name, text in planted.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    assert sorted(violations(tmp_path)) == sorted(
        [
            "bot.models:3 imports bot.store: values may not import store, a layer above",
            "bot.store.jobs:3 imports bot.service: store may not import service, a layer above",
            "bot.adapters:2 imports bot.app: adapters may not import entry, a layer above",
            "bot.cli:1 imports discord: only bot.adapters talks to a chat platform",
            "retrieval.index:3 imports bot.models: retrieval imports nothing of bot",
            "anthropic is imported by ['bot.llm', 'retrieval.index'], not bot.llm alone",
            "bot.service loads bot.scheduler (through bot.service -> bot.digest -> bot.scheduler)",
            "bot.service loads apscheduler (through bot.service -> bot.digest -> bot.scheduler"
            " -> apscheduler)",
        ]
    )
