from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Secret, load_settings, require, settings_from


def test_defaults_need_nothing() -> None:
    settings = settings_from({})
    assert settings.retrieval_k == 10
    assert not settings.anthropic_api_key
    assert settings.database_url.startswith("sqlite:///")


def test_env_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("RETRIEVAL_K=5\nANSWER_MODEL=from-file\n")
    settings = load_settings({"ANSWER_MODEL": "from-env"}, env_file)
    assert settings.retrieval_k == 5
    assert settings.answer_model == "from-env"


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"RETRIEVAL_K": "ten"}, "RETRIEVAL_K"),
        ({"RETRIEVAL_K": "0"}, "RETRIEVAL_K"),
        ({"LLM_TIMEOUT_S": "0"}, "LLM_TIMEOUT_S"),
        ({"JUDGE_ENABLED": "maybe"}, "JUDGE_ENABLED"),
        ({"SEARCH_MODE": "magic"}, "SEARCH_MODE"),
    ],
)
def test_bad_values_name_the_setting(values: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        settings_from(values)


def test_missing_required_settings_are_all_named() -> None:
    settings = settings_from({"DISCORD_TOKEN": "x"})
    with pytest.raises(ConfigError) as raised:
        require(settings, "DISCORD_TOKEN", "PSEUDONYM_SECRET", "SLACK_BOT_TOKEN")
    message = str(raised.value)
    assert "PSEUDONYM_SECRET" in message and "SLACK_BOT_TOKEN" in message
    assert "DISCORD_TOKEN" not in message.split(":", 1)[1].split("—")[0]


def test_secrets_never_print() -> None:
    settings = settings_from({"ANTHROPIC_API_KEY": "sk-ant-very-secret"})
    assert "very-secret" not in repr(settings)
    assert "very-secret" not in str(settings.anthropic_api_key)
    assert settings.anthropic_api_key.reveal() == "sk-ant-very-secret"
    assert Secret("a") == Secret("a")
