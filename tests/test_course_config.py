from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.courses import DEMO_COURSE_DIR, Limits, load_courses
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
    assert [(a.name, a.due) for a in course.assignments] == [
        ("Lista 3", date(2026, 12, 10)),
        ("Projeto final", None),
    ]
    assert course.limits == Limits()  # the example spells out the defaults


ONE_COURSE = "[[courses]]\nid = 'ml'\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            ONE_COURSE + "[courses.discord]\nguild_id = 1\nchanel_ids = [2]\n",
            "course 'ml' [courses.discord]: unknown key 'chanel_ids' (did you mean channel_ids?)",
        ),
        (
            ONE_COURSE + "langauge = 'english'\n",
            "course 'ml': unknown key 'langauge' (did you mean language?)",
        ),
        (
            ONE_COURSE + "[courses.discrod]\nguild_id = 1\n",
            "course 'ml': unknown key 'discrod' (did you mean discord?)",
        ),
        (
            ONE_COURSE + "[courses.slack]\nta_usergroup = 'S1'\n",
            "course 'ml' [courses.slack]: unknown key 'ta_usergroup' "
            "(did you mean ta_usergroup_id?)",
        ),
        ("[[course]]\nid = 'ml'\n", "unknown key 'course' (did you mean courses?)"),
        (
            ONE_COURSE + "colour = 'red'\n",
            "course 'ml': unknown key 'colour' (valid keys: id, name, language, timezone, "
            "policy, course_dir, discord, slack, assignments, limits)",
        ),
        (
            ONE_COURSE + "[courses.limits]\nrate_per_minut = 2\n",
            "course 'ml' [courses.limits]: unknown key 'rate_per_minut' "
            "(did you mean rate_per_minute?)",
        ),
        (
            ONE_COURSE + "[courses.limits]\nburst = 0\n",
            "course 'ml' [courses.limits]: burst must be at least 1, got 0",
        ),
        (
            ONE_COURSE + "[courses.limits]\nburst = 2.5\n",
            "course 'ml' [courses.limits]: burst must be a whole number, got 2.5",
        ),
        (
            ONE_COURSE + "[courses.limits]\ndaily_token_budget = '1000'\n",
            "course 'ml' [courses.limits]: daily_token_budget must be a whole number, got '1000'",
        ),
        (
            ONE_COURSE + "[courses.limits]\nrepeat_answers = 'no'\n",
            "course 'ml' [courses.limits]: repeat_answers must be true or false, got 'no'",
        ),
        (
            ONE_COURSE + "[courses.limits]\nrepeat_similarity = 1.5\n",
            "course 'ml' [courses.limits]: repeat_similarity must be between 0.5 and 1.0, got 1.5",
        ),
        (ONE_COURSE + "source = 'x'\n", "course 'ml': unknown key 'source'"),
        (ONE_COURSE + "discord = 5\n", "course 'ml': discord must be a table"),
        ("courses = [1]\n", "[[courses]] #1: expected a table of course settings"),
        (
            ONE_COURSE + "[[courses.assignments]]\nname = 'Lista 1'\nnmae = 'x'\n",
            "course 'ml' [[courses.assignments]] #1: unknown key 'nmae' (did you mean name?)",
        ),
        (
            ONE_COURSE + "[[courses.assignments]]\ndue = 2026-12-10\n",
            "course 'ml' [[courses.assignments]] #1: name is required",
        ),
        (
            ONE_COURSE + "[[courses.assignments]]\nname = 'Lista 1'\ndue = '10/12/2026'\n",
            "course 'ml' [[courses.assignments]] #1: due must be a date such as 2026-12-10",
        ),
        (ONE_COURSE + "assignments = ['Lista 1']\n", "course 'ml': assignments must be"),
        (
            ONE_COURSE + "[[courses]]\nid = 'bio'\n[[courses]]\nid = 'ml'\n",
            "course 'ml' is defined twice",
        ),
        (
            ONE_COURSE + "language = 'portugese'\n",
            "course 'ml': language 'portugese' is not one of english, portuguese "
            "(did you mean portuguese?)",
        ),
    ],
)
def test_a_mistake_is_an_error_naming_the_file_the_course_and_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    file = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_courses(file)
    assert str(raised.value).startswith(f"{file}: {message}")


def test_limits_have_defaults_and_take_the_files_values(tmp_path: Path) -> None:
    assert load_courses(write(tmp_path, ONE_COURSE)).get("ml").limits == Limits()
    text = (
        ONE_COURSE + "[courses.limits]\nburst = 3\nrate_per_minute = 0.5\nrepeat_answers = false\n"
    )
    limits = load_courses(write(tmp_path, text)).get("ml").limits
    assert (limits.burst, limits.rate_per_minute, limits.repeat_answers) == (3, 0.5, False)
    assert limits.daily_token_budget == Limits().daily_token_budget


def test_language_is_read_in_any_case(tmp_path: Path) -> None:
    courses = load_courses(write(tmp_path, ONE_COURSE + "language = 'English'\n"))
    assert courses.get("ml").language == "english"


def test_course_dir_is_taken_from_the_courses_files_folder_whatever_the_current_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "elsewhere").mkdir()
    write(tmp_path / "conf", ONE_COURSE + "course_dir = 'lectures/ml'\n")
    monkeypatch.chdir(tmp_path)
    course = load_courses("conf/courses.toml").get("ml")
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert course.course_dir == tmp_path / "conf" / "lectures" / "ml"
    assert course.source == tmp_path / "conf" / "courses.toml"


def test_a_course_dir_without_videos_csv_is_told_as_a_courses_file_mistake(
    tmp_path: Path,
) -> None:
    file = write(tmp_path, ONE_COURSE + "course_dir = 'lecturs'\n[[courses]]\nid = 'bio'\n")
    courses = load_courses(file)
    with pytest.raises(ConfigError) as raised:
        courses.get("ml").lectures_dir()
    assert str(raised.value) == (
        f"course 'ml': course_dir '{tmp_path / 'lecturs'}' (from {file}) is not a folder"
    )
    with pytest.raises(ConfigError, match=f"course 'bio' has no course_dir in {file}"):
        courses.get("bio").lectures_dir()
    (tmp_path / "lecturs").mkdir()
    with pytest.raises(ConfigError, match=r"lecturs' .* has no videos\.csv"):
        courses.get("ml").lectures_dir()
    (tmp_path / "lecturs" / "videos.csv").write_text("video_id,title,url\n", encoding="utf-8")
    assert courses.get("ml").lectures_dir() == tmp_path / "lecturs"


def test_ingest_from_a_subfolder_names_the_course_dir_typo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".env").write_text("COURSES_FILE=conf/courses.toml\n", encoding="utf-8")
    (tmp_path / "conf").mkdir()
    file = write(tmp_path / "conf", ONE_COURSE + "course_dir = 'lecturs'\n")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert main(["ingest", "--course", "ml", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    lectures = tmp_path / "conf" / "lecturs"
    assert f"course 'ml': course_dir '{lectures}' (from {file}) is not a folder" in err
    assert not (tmp_path / "sub" / "var").exists()
