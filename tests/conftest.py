from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import setting_names

pytest_plugins = ["store_fixtures"]

# Every setting the bot reads, so a developer's own environment never leaks into a test.
_SETTING_NAMES = setting_names()


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in _SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from an empty folder: no .env, and var/ lands in tmp_path."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
