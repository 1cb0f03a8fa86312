from __future__ import annotations

from pathlib import Path

import pytest

from bot.courses import DEMO_COURSE_DIR, load_courses
from bot.errors import ConfigError, UnknownCourseError

GOOD = """
[[courses]]
id = "ml"
name = "Aprendizado de Máquina"
timezone = "America/Sao_Paulo"
course_dir = "lectures/ml"
policy = "Explique conceitos."

[courses.discord]
guild_id = 10
channel_ids = [11, "12"]
ta_role_ids = [13]

[courses.slack]
channel_ids = ["CML"]
ta_user_ids = ["UTA"]

[[courses]]
id = "bio"
[courses.discord]
guild_id = 20
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "courses.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_means_the_demo_course() -> None:
    courses = load_courses("")
    assert courses.ids() == ["demo"]
    assert courses.get("demo").course_dir == DEMO_COURSE_DIR


def test_channels_map_to_one_course(tmp_path: Path) -> None:
    courses = load_courses(write(tmp_path, GOOD))
    ml = courses.get("ml")
    assert ml.course_dir == tmp_path / "lectures/ml"
    assert courses.for_discord(10, 12) is ml
    assert courses.for_discord(10, 99) is None  # guild listed channels: others are not the course's
    assert courses.for_discord(20, 5).id == "bio"  # whole guild
    assert courses.for_discord(20, 11) is None  # ml's channel id seen from another guild
    assert courses.for_slack("CML") is ml
    assert courses.for_slack("COTHER") is None
    with pytest.raises(UnknownCourseError, match="'ml', 'bio'"):
        courses.get("chem")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[[courses]]\nname='x'\n", "id is required"),
        ("[[courses]]\nid='a'\ntimezone='Mars/Base'\n", "Mars/Base"),
        ("[[courses]]\nid='a'\n[courses.discord]\nguild_id='x'\n", "guild_id"),
        (
            GOOD.replace('channel_ids = ["CML"]', 'channel_ids = ["CML"]') + "\n[courses.slack]\n"
            "channel_ids=['CML']\n",
            "CML",
        ),
        ("courses = 3", "[[courses]]"),
        ("[[courses]\n", "not valid TOML"),
    ],
)
def test_bad_files_say_what_is_wrong(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("]", r"\]")):
        load_courses(write(tmp_path, text))


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_courses(tmp_path / "nope.toml")


def test_the_example_file_in_the_repository_loads() -> None:
    example = Path(__file__).parents[1] / "courses.example.toml"
    course = load_courses(example).get("ml2026")
    assert course.discord.ta_role_ids and course.slack.ta_channel_id
    assert "soluções" in course.policy
