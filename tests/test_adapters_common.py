from __future__ import annotations

import asyncio
import logging
import subprocess
import sys

import pytest

from bot.adapters.common import AnswerCache, Progress, Throttle, sole_course
from bot.courses import Course


def test_sole_course_only_when_exactly_one() -> None:
    ml, bio = Course(id="ml", name="ML"), Course(id="bio", name="Bio")
    assert sole_course([ml]) is ml
    assert sole_course([]) is None
    assert sole_course([ml, bio]) is None


def test_answer_cache_forgets_the_oldest_first() -> None:
    cache: AnswerCache[str, str] = AnswerCache(capacity=2)
    cache.remember("m1", "i1")
    cache.remember("m2", "i2")
    cache.remember("m1", "i1")  # seen again: now the newest
    cache.remember("m3", "i3")
    assert "m2" not in cache
    assert (cache["m1"], cache["m3"], len(cache)) == ("i1", "i3", 2)


def test_throttle_lets_one_through_per_interval() -> None:
    now = [0.0]
    throttle = Throttle(1.0, clock=lambda: now[0])
    assert throttle.ready()
    now[0] = 0.5
    assert not throttle.ready()
    now[0] = 1.6
    assert throttle.ready()


async def test_progress_shows_at_most_one_edit_per_interval_and_one_at_a_time() -> None:
    now = [0.0]
    shown: list[str] = []
    release = asyncio.Event()

    async def edit(text: str) -> None:
        shown.append(text)
        await release.wait()  # the platform is slow to answer this edit

    progress = Progress(edit, interval_s=1.0, clock=lambda: now[0])
    await progress("   ")  # nothing to show yet
    await progress("A camada")
    await asyncio.sleep(0)
    now[0] = 5.0
    await progress("A camada de saída")  # the first edit is still in flight: skipped
    release.set()
    await progress.finish()
    await progress("A camada de saída usa")  # the edit is done, 5 s have passed: shown
    now[0] = 5.5
    await progress("A camada de saída usa softmax")  # 0.5 s after: too soon
    await progress.finish()

    assert shown == ["A camada", "A camada de saída usa"]


async def test_the_place_in_line_and_then_the_text_share_the_same_edits() -> None:
    now = [0.0]
    shown: list[str] = []

    async def edit(text: str) -> None:
        shown.append(text)

    async def place(position: int) -> None:
        shown.append(f"{position}º na fila")

    progress = Progress(edit, interval_s=1.0, clock=lambda: now[0], show_place=place)
    await progress.place(3)
    await progress.finish()
    await progress.place(2)  # too soon after the last edit
    now[0] = 2.0
    await progress.place(1)
    await progress.finish()
    await progress.place(1)  # shown already
    now[0] = 4.0
    await progress("A camada")
    await progress.finish()

    assert shown == ["3º na fila", "1º na fila", "A camada"]


async def test_progress_that_the_platform_refuses_is_logged_and_the_answer_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def refused(text: str) -> None:
        raise RuntimeError("rate limited")

    progress = Progress(refused, interval_s=0.0)
    with caplog.at_level(logging.WARNING, logger="bot.adapters.common"):
        await progress("A camada de saída")
        await progress.finish()

    assert "could not show the answer's progress" in caplog.records[0].getMessage()


def test_pure_adapter_modules_import_no_chat_library() -> None:
    code = (
        "import sys, bot.adapters.common, bot.adapters.discord_render, bot.adapters.slack_render;"
        "bad = [m for m in ('discord', 'slack_bolt', 'slack_sdk') if m in sys.modules];"
        "print(*bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_only_adapters_import_chat_libraries_and_one_module_imports_anthropic() -> None:
    from pathlib import Path

    root = Path(__file__).parents[1]
    offenders = []
    for path in [*root.glob("bot/**/*.py"), *root.glob("retrieval/**/*.py")]:
        text = path.read_text(encoding="utf-8")
        relative = path.relative_to(root).as_posix()
        for library, allowed in (
            ("discord", "bot/adapters/discord/"),
            ("slack_bolt", "bot/adapters/slack/"),
            ("slack_sdk", "bot/adapters/slack/"),
            ("anthropic", "bot/llm.py"),
            ("lancedb", "retrieval/index.py"),
        ):
            imports = f"import {library}" in text or f"from {library}" in text
            if imports and not relative.startswith(allowed):
                offenders.append(f"{relative} imports {library}")
        if relative.startswith("retrieval/") and ("from bot" in text or "import bot" in text):
            offenders.append(f"{relative} imports bot")
    assert offenders == []
