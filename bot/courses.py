"""Courses and the chat channels they own, read from a TOML file (``COURSES_FILE``).

With no file, the bot knows only the built-in ``demo`` course. A channel belongs to at
most one course, so a question can never retrieve another course's lectures.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config import did_you_mean
from bot.errors import ConfigError, UnknownCourseError
from bot.guardrails import Assignment
from bot.prompts import DEFAULT_POLICY
from retrieval.index_rows import STEMMERS

DEMO_COURSE_DIR = Path(__file__).parent / "data" / "demo"
# The languages the full-text index can stem: a course's lectures are searched in its own.
LANGUAGES = tuple(STEMMERS)
DEFAULT_LANGUAGE = "portuguese"


@dataclass(frozen=True)
class DiscordPlace:
    guild_id: int = 0
    channel_ids: tuple[int, ...] = ()  # empty: every channel of the guild
    ta_role_ids: tuple[int, ...] = ()
    ta_channel_id: int = 0


@dataclass(frozen=True)
class SlackPlace:
    channel_ids: tuple[str, ...] = ()
    ta_user_ids: tuple[str, ...] = ()
    ta_usergroup_id: str = ""
    ta_channel_id: str = ""


@dataclass(frozen=True)
class Limits:
    """Fair use in a course (``[courses.limits]``); every key may be left out."""

    # Each student's token bucket: questions in a row, and questions regained per minute.
    burst: int = 5
    rate_per_minute: float = 2.0
    daily_token_budget: int = 0  # LLM tokens a day for the course's answers; 0: no budget
    repeat_answers: bool = True  # answer a recent, not rated-down repeat from its answer
    repeat_window_hours: float = 24.0
    repeat_similarity: float = 0.97  # cosine of the question embeddings that counts as same


@dataclass(frozen=True)
class Course:
    id: str
    name: str
    language: str = DEFAULT_LANGUAGE  # the FTS stemmer and the fallback's wording
    timezone: str = "America/Sao_Paulo"
    policy: str = DEFAULT_POLICY
    course_dir: Path | None = None  # where /reindex reads lectures from
    discord: DiscordPlace = field(default_factory=DiscordPlace)
    slack: SlackPlace = field(default_factory=SlackPlace)
    # Graded work: a question asking for its solution gets conceptual help and a flag.
    assignments: tuple[Assignment, ...] = ()
    limits: Limits = field(default_factory=Limits)
    source: Path | None = None  # the courses file that defines it, for messages

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def lectures_dir(self) -> Path:
        """``course_dir``, checked before an ingest reads it, so that a mistake there is told
        as a mistake in the courses file rather than as a missing ``videos.csv``."""
        if self.course_dir is None:
            raise ConfigError(
                f"course {self.id!r} has no course_dir in {self.source or 'the COURSES_FILE'}"
            )
        origin = f" (from {self.source})" if self.source else ""
        if not self.course_dir.is_dir():
            raise ConfigError(
                f"course {self.id!r}: course_dir '{self.course_dir}'{origin} is not a folder"
            )
        if not (self.course_dir / "videos.csv").is_file():
            raise ConfigError(
                f"course {self.id!r}: course_dir '{self.course_dir}'{origin} has no videos.csv"
            )
        return self.course_dir


# The keys a courses file may use: every field but the one the loader fills in.
_COURSE_KEYS = tuple(f.name for f in fields(Course) if f.name != "source")
_DISCORD_KEYS = tuple(f.name for f in fields(DiscordPlace))
_SLACK_KEYS = tuple(f.name for f in fields(SlackPlace))
_ASSIGNMENT_KEYS = tuple(f.name for f in fields(Assignment))
_LIMITS_KEYS = tuple(f.name for f in fields(Limits))


DEMO_COURSE = Course(
    id="demo",
    name="Demo — Aprendizado de Máquina",
    course_dir=DEMO_COURSE_DIR,
)


class Courses:
    """Looks courses up by id or by the chat place a message came from."""

    def __init__(self, courses: list[Course]) -> None:
        self._by_id = {c.id: c for c in courses}
        self._by_discord_channel: dict[int, Course] = {}
        self._by_discord_guild: dict[int, Course] = {}
        self._by_slack_channel: dict[str, Course] = {}
        for course in courses:
            self._index(course)

    def _index(self, course: Course) -> None:
        if course.discord.guild_id and not course.discord.channel_ids:
            self._claim(self._by_discord_guild, course.discord.guild_id, course, "Discord guild")
        for channel in course.discord.channel_ids:
            self._claim(self._by_discord_channel, channel, course, "Discord channel")
        for slack_channel in course.slack.channel_ids:
            self._claim(self._by_slack_channel, slack_channel, course, "Slack channel")

    @staticmethod
    def _claim(table: dict[Any, Course], key: object, course: Course, what: str) -> None:
        if key in table and table[key].id != course.id:
            raise ConfigError(
                f"{what} {key} is given to both {table[key].id!r} and {course.id!r}; "
                "a channel can belong to one course only"
            )
        table[key] = course

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_id.values())

    def ids(self) -> list[str]:
        return list(self._by_id)

    def get(self, course_id: str) -> Course:
        try:
            return self._by_id[course_id]
        except KeyError:
            raise UnknownCourseError(course_id, self.ids()) from None

    def for_discord(self, guild_id: int | None, channel_id: int) -> Course | None:
        course = self._by_discord_channel.get(channel_id)
        if course is None and guild_id is not None:
            course = self._by_discord_guild.get(guild_id)
        if (
            course is not None
            and guild_id is not None
            and course.discord.guild_id
            not in (
                0,
                guild_id,
            )
        ):
            return None  # a channel id copied into the wrong guild's course
        return course

    def for_discord_guilds(self, guild_ids: list[int]) -> list[Course]:
        wanted = set(guild_ids)
        return [c for c in self._by_id.values() if c.discord.guild_id in wanted]

    def for_slack(self, channel_id: str) -> Course | None:
        return self._by_slack_channel.get(channel_id)

    def with_slack_channels(self) -> list[Course]:
        return [c for c in self._by_id.values() if c.slack.channel_ids]


def load_courses(path: str | Path | None) -> Courses:
    """The courses in the TOML file at ``path``; any key it does not know is an error, since
    an ignored key silently changes who gets what (a misspelt ``channel_ids`` would give the
    course every channel of its server)."""
    if not path:
        return Courses([DEMO_COURSE])
    file = Path(path).expanduser().absolute()
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"COURSES_FILE {file} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    _check_keys(data, ("courses",), f"{file}")
    entries = data.get("courses")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{file}: expected at least one [[courses]] table")
    courses: dict[str, Course] = {}
    for position, entry in enumerate(entries, 1):
        course = _course(file, position, entry)
        if course.id in courses:
            raise ConfigError(
                f"{file}: course {course.id!r} is defined twice; "
                "each course needs its own id (its index and log are keyed by it)"
            )
        courses[course.id] = course
    return Courses(list(courses.values()))


def _course(file: Path, position: int, entry: object) -> Course:
    where = f"{file}: [[courses]] #{position}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a table of course settings")
    course_id = _text(entry, "id", where, required=True)
    where = f"{file}: course {course_id!r}"
    _check_keys(entry, _COURSE_KEYS, where)
    timezone = _text(entry, "timezone", where) or "America/Sao_Paulo"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}: timezone {timezone!r} is not an IANA time zone") from None
    course_dir = _text(entry, "course_dir", where)
    if course_id == "demo" and not course_dir:
        course_dir = str(DEMO_COURSE_DIR)
    return Course(
        id=course_id,
        name=_text(entry, "name", where) or course_id,
        language=_language(entry, where),
        timezone=timezone,
        policy=_text(entry, "policy", where) or DEFAULT_POLICY,
        course_dir=(file.parent / Path(course_dir).expanduser()) if course_dir else None,
        discord=_discord(_table(entry, "discord", where), f"{where} [courses.discord]"),
        slack=_slack(_table(entry, "slack", where), f"{where} [courses.slack]"),
        assignments=_assignments(entry, where),
        limits=_limits(_table(entry, "limits", where), f"{where} [courses.limits]"),
        source=file,
    )


def _check_keys(raw: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in raw:
        if key not in known:
            hint = did_you_mean(key, known) or f" (valid keys: {', '.join(known)})"
            raise ConfigError(f"{where}: unknown key {key!r}{hint}")


def _table(entry: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = entry.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {key} must be a table ([courses.{key}])")
    return value


def _language(entry: dict[str, Any], where: str) -> str:
    language = (_text(entry, "language", where) or DEFAULT_LANGUAGE).lower()
    if language not in LANGUAGES:
        raise ConfigError(
            f"{where}: language {language!r} is not one of {', '.join(LANGUAGES)}"
            + did_you_mean(language, LANGUAGES)
        )
    return language


def _discord(raw: dict[str, Any], where: str) -> DiscordPlace:
    _check_keys(raw, _DISCORD_KEYS, where)
    return DiscordPlace(
        guild_id=_int(raw, "guild_id", where),
        channel_ids=_ints(raw, "channel_ids", where),
        ta_role_ids=_ints(raw, "ta_role_ids", where),
        ta_channel_id=_int(raw, "ta_channel_id", where),
    )


def _slack(raw: dict[str, Any], where: str) -> SlackPlace:
    _check_keys(raw, _SLACK_KEYS, where)
    return SlackPlace(
        channel_ids=_texts(raw, "channel_ids", where),
        ta_user_ids=_texts(raw, "ta_user_ids", where),
        ta_usergroup_id=_text(raw, "ta_usergroup_id", where),
        ta_channel_id=_text(raw, "ta_channel_id", where),
    )


def _assignments(entry: dict[str, Any], where: str) -> tuple[Assignment, ...]:
    """``[[courses.assignments]]`` tables: ``name`` (required) and ``due`` (a date)."""
    raw = entry.get("assignments", [])
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise ConfigError(f"{where}: assignments must be [[courses.assignments]] tables")
    found = []
    for position, item in enumerate(raw, 1):
        place = f"{where} [[courses.assignments]] #{position}"
        _check_keys(item, _ASSIGNMENT_KEYS, place)
        found.append(
            Assignment(name=_text(item, "name", place, required=True), due=_due(item, place))
        )
    return tuple(found)


def _due(raw: dict[str, Any], where: str) -> date | None:
    value = raw.get("due")
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value  # a TOML date (a TOML date-time is a datetime: refused below)
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"{where}: due must be a date such as 2026-12-10, got {value!r}")


def _limits(raw: dict[str, Any], where: str) -> Limits:
    _check_keys(raw, _LIMITS_KEYS, where)
    default = Limits()
    return Limits(
        burst=int(_number(raw, "burst", where, default.burst, low=1, whole=True)),
        rate_per_minute=_number(raw, "rate_per_minute", where, default.rate_per_minute, low=0.01),
        daily_token_budget=int(
            _number(raw, "daily_token_budget", where, default.daily_token_budget, whole=True)
        ),
        repeat_answers=_flag(raw, "repeat_answers", where, default.repeat_answers),
        repeat_window_hours=_number(
            raw, "repeat_window_hours", where, default.repeat_window_hours, low=0.01
        ),
        repeat_similarity=_number(
            raw, "repeat_similarity", where, default.repeat_similarity, low=0.5, high=1.0
        ),
    )


def _number(
    raw: dict[str, Any],
    key: str,
    where: str,
    default: float,
    *,
    low: float = 0,
    high: float | None = None,
    whole: bool = False,
) -> float:
    value = raw.get(key, default)
    kind = "a whole number" if whole else "a number"
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (whole and not isinstance(value, int))
    ):
        raise ConfigError(f"{where}: {key} must be {kind}, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ConfigError(f"{where}: {key} must be {bound}, got {value!r}")
    return float(value)


def _flag(raw: dict[str, Any], key: str, where: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {key} must be true or false, got {value!r}")
    return value


def _text(raw: dict[str, Any], key: str, where: str, required: bool = False) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key} must be a string")
    if required and not value.strip():
        raise ConfigError(f"{where}: {key} is required")
    return value.strip()


def _int(raw: dict[str, Any], key: str, where: str) -> int:
    value = raw.get(key, 0)
    if isinstance(value, str) and value.isdigit():
        return int(value)  # Discord ids are often pasted as strings
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{where}: {key} must be a number (a Discord id)")
    return value


def _ints(raw: dict[str, Any], key: str, where: str) -> tuple[int, ...]:
    values = raw.get(key, [])
    if not isinstance(values, list):
        raise ConfigError(f"{where}: {key} must be a list")
    return tuple(_int({key: v}, key, where) for v in values)


def _texts(raw: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    values = raw.get(key, [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{where}: {key} must be a list of strings")
    return tuple(v.strip() for v in values)
