"""``python -m bot digest``: the files (Markdown, a self-contained HTML page, the PNG
charts), a week without questions, and ``--post`` on the Discord and Slack loopback fakes."""

from __future__ import annotations

import argparse
import asyncio
import base64
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from discord.http import Route
from slack_sdk.web.async_client import AsyncWebClient

import bot.adapters.slack.digest as slack_digest
from bot.cli import digest as digest_cli
from bot.config import Settings
from bot.digest_render import render_digest_html
from bot.models import Chart, Digest, DigestSection
from bot.store import open_store
from tests.discord_driver import ML_TA_CHANNEL, guilds
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.values import interaction
from tests.store_fixtures import digest_sent_at

COURSES_TOML = f"""
[[courses]]
id = "ml"
name = "Aprendizado de Máquina"
timezone = "America/Sao_Paulo"

[courses.discord]
guild_id = 1001
ta_channel_id = {ML_TA_CHANNEL}

[courses.slack]
ta_channel_id = "CMLTA"
"""
# 10:00 in São Paulo on Tuesday 11 and Wednesday 12 March 2025.
ASKED = (datetime(2025, 3, 11, 13, tzinfo=UTC), datetime(2025, 3, 12, 13, tzinfo=UTC))


def settings_for(tmp_path: Path, **tokens: str) -> Settings:
    courses = tmp_path / "courses.toml"
    courses.write_text(COURSES_TOML, encoding="utf-8")
    database_url = f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    store = open_store(database_url)
    try:
        for n, at in enumerate(ASKED):
            store.save_interaction(
                interaction(f"01JQ{n:022d}", at, question=f"O que é a aula {n}?")
            )
    finally:
        store.close()
    return Settings(courses_file=courses, database_url=database_url, **tokens)  # type: ignore[arg-type]


def run_cli(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    digest_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["digest", "--course", "ml", *argv])
    result: int = args.run(args, settings)
    return result


def test_the_files_are_markdown_a_page_that_needs_nothing_else_and_the_charts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path)
    assert run_cli(settings, "--week", "2025-03-13", "--out", str(tmp_path / "out")) == 0
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [
        "resumo-ml-2025-03-10-desfechos.png",
        "resumo-ml-2025-03-10-perguntas.png",
        "resumo-ml-2025-03-10.html",
        "resumo-ml-2025-03-10.md",
    ]
    markdown = (tmp_path / "out" / "resumo-ml-2025-03-10.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Resumo semanal — Aprendizado de Máquina — 10/03 a 16/03/2025\n")
    assert "- Perguntas: 2 (semana anterior: 0)\n" in markdown
    page = (tmp_path / "out" / "resumo-ml-2025-03-10.html").read_text(encoding="utf-8")
    assert (
        "<h2>Lacunas de conteúdo</h2>" in page
        and "<li>Perguntas: 2 (semana anterior: 0)</li>" in page
    )
    # Self-contained: no script, no stylesheet or image fetched from anywhere.
    assert "<script" not in page and "<link" not in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == 2 and all(s.startswith("data:image/png;base64,") for s in sources)
    chart = (tmp_path / "out" / "resumo-ml-2025-03-10-perguntas.png").read_bytes()
    assert base64.b64decode(sources[0].split(",", 1)[1]) == chart
    err = capsys.readouterr().err
    assert err.count("wrote ") == 4 and "no charts" not in err


def test_without_the_charts_extra_the_files_come_without_charts_and_a_note_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed

    assert run_cli(settings, "--week", "2025-03-13", "--out", str(tmp_path / "out")) == 0

    assert not list((tmp_path / "out").glob("*.png"))
    assert digest_cli.NO_CHARTS in capsys.readouterr().err


def test_a_week_without_questions_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path)
    assert run_cli(settings, "--week", "2025-03-17") == 0
    assert capsys.readouterr().out == (
        "# Resumo semanal — Aprendizado de Máquina — 17/03 a 23/03/2025\n\n"
        "- Nenhuma pergunta nesta semana.\n"
        "- Semana anterior: 2 pergunta(s).\n"
    )


def test_html_escapes_text_and_turns_links_into_anchors() -> None:
    line = "<b>x</b> & [Aula 3 · 01:00–02:00](https://youtu.be/v3?t=60&a=1) — para 2"
    digest = Digest(
        "ml",
        datetime(2025, 3, 10, tzinfo=UTC),
        (DigestSection("Título", (line,), level=1), DigestSection("Parte", (), level=3)),
        extra_charts=(Chart("desfechos", "Desfechos", b"\x89PNG"),),
    )
    page = render_digest_html(digest)
    assert (
        "<li>&lt;b&gt;x&lt;/b&gt; &amp; "
        '<a href="https://youtu.be/v3?t=60&amp;a=1">Aula 3 · 01:00–02:00</a> — para 2</li>'
    ) in page
    assert "<h3>Parte</h3>" in page and "<title>Título</title>" in page
    encoded = base64.b64encode(b"\x89PNG").decode()
    assert f'src="data:image/png;base64,{encoded}"' in page


def test_post_without_a_ta_channel_on_a_configured_platform_is_a_setup_error(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path)  # no token
    with pytest.raises(Exception, match="has no TA channel on a platform with a token"):
        run_cli(settings, "--post")


async def test_post_sends_the_digest_to_the_ta_channel_on_discord_and_slack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path, discord_token="fake-token", slack_bot_token="xoxb-fake")
    discord = FakeDiscord(guilds())
    await discord.start()
    monkeypatch.setattr(Route, "BASE", discord.api_base)
    try:
        async with FakeSlackAPI() as slack:

            def client(settings: Settings) -> AsyncWebClient:
                token = settings.slack_bot_token.get_secret_value()
                return AsyncWebClient(token=token, base_url=slack.api_url, timeout=5)

            monkeypatch.setattr(slack_digest, "bot_client", client)
            # The CLI runs its own event loop; the fakes serve on this one meanwhile.
            assert await asyncio.to_thread(run_cli, settings, "--week", "2025-03-10", "--post") == 0
            posted = await slack.wait_for("chat.postMessage")
            uploaded = await slack.wait_for("files.completeUploadExternal")
    finally:
        await discord.close()
    assert posted.params["channel"] == "CMLTA"
    assert "Perguntas: 2 (semana anterior: 0)" in str(posted.params.get("blocks", ""))
    assert uploaded.params["channel_id"] == "CMLTA"
    messages = discord.find("POST", rf"/channels/{ML_TA_CHANNEL}/messages")
    text = "".join(str(call.json.get("content", "")) for call in messages if call.json)
    assert "Perguntas: 2 (semana anterior: 0)" in text
    assert messages[-1].files == (("perguntas-ml.png", _any_png(messages[-1].files)),)
    # Recorded as sent: the clock will not post that week again.
    store = open_store(settings.database_url)
    try:
        monday = datetime(2025, 3, 10, tzinfo=ZoneInfo("America/Sao_Paulo"))
        assert digest_sent_at(store, "ml", monday) is not None
    finally:
        store.close()


def _any_png(files: Any) -> bytes:
    [(_, content)] = files
    assert content.startswith(b"\x89PNG\r\n\x1a\n")
    return bytes(content)
