"""``python -m bot``'s commands through ``main()``, as a TA would run them."""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.app import freeze_startup_heap, summarise_ingest
from retrieval.errors import InputError
from retrieval.ingest import IngestReport
from tests.fakes.anthropic_server import FakeAnthropic, cited_reply

DATA = Path(__file__).parent / "data"
ROOT = str(Path(__file__).resolve().parents[1])


@pytest.mark.parametrize(
    ("command", "named"),
    [
        (["discord"], ["DISCORD_TOKEN", "PSEUDONYM_SECRET"]),
        (["slack"], ["SLACK_BOT_TOKEN", "PSEUDONYM_SECRET", "SLACK_SIGNING_SECRET"]),
        (["run"], ["DISCORD_TOKEN or SLACK_BOT_TOKEN"]),
    ],
)
def test_a_missing_setting_fails_at_start_saying_what_to_set(
    command: list[str], named: list[str], in_tmp_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(command) == 2
    err = capsys.readouterr().err
    for name in named:
        assert name in err
    assert ".env" in err


def test_a_malformed_setting_names_it(
    in_tmp_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RETRIEVAL_K", "lots")
    assert main(["ask", "oi"]) == 2
    assert "RETRIEVAL_K" in capsys.readouterr().err


def _course_file(tmp_path: Path) -> Path:
    course_dir = tmp_path / "lectures"
    shutil.copytree(DATA / "eval_mini", course_dir)
    courses = tmp_path / "courses.toml"
    courses.write_text('[[courses]]\nid = "ml"\ncourse_dir = "lectures"\n', encoding="utf-8")
    return courses


@pytest.mark.slow
def test_ask_without_a_key_ingests_then_answers_extractively(
    in_tmp_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COURSES_FILE", str(_course_file(in_tmp_dir)))
    assert main(["ask", "Qual a função da camada de saída na U-Net?", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "https://youtu.be/unet0000001?t=721" in out
    assert "não gerada por IA" in out
    assert (in_tmp_dir / "var" / "bot.sqlite3").exists()

    # The second ask reuses the index (nothing re-embedded) and prints the whole Answer.
    assert main(["ask", "O que faz o dropout?", "--json", "--quiet"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["fallback"] is True
    assert answer["citations"][0]["video_id"] == "drop0000002"


@pytest.mark.slow
def test_ask_with_claude_cites_the_second(
    in_tmp_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COURSES_FILE", str(_course_file(in_tmp_dir)))
    with FakeAnthropic() as api:
        api.responder = cited_reply(("A saída usa convolução 1x1 com softmax.", [0]))
        monkeypatch.setenv("ANTHROPIC_API_KEY", api.api_key)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.base_url)
        assert main(["ask", "Qual a função da camada de saída na U-Net?", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "A saída usa convolução 1x1 com softmax." in out
    assert "Aula 3 — U-Net · 12:01" in out
    assert "https://youtu.be/unet0000001?t=721" in out
    assert "não gerada por IA" not in out


@pytest.mark.slow
def test_ingest_lists_problems_one_per_line_and_exits_1_when_a_file_is_skipped(
    in_tmp_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    courses = _course_file(in_tmp_dir)
    transcripts = in_tmp_dir / "lectures" / "transcripts"
    monkeypatch.setenv("COURSES_FILE", str(courses))
    assert main(["ingest", "--course", "ml", "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")  # quiet and nothing wrong: nothing to say

    (transcripts / "orphan.srt").write_text("1\n", encoding="utf-8")
    (transcripts / "unet0000001.srt").write_text("not a caption\n", encoding="utf-8")
    with (transcripts / "drop0000002.srt").open("a") as srt:
        srt.write("\n2\n00:01:45,000 --> 00:01:42,000\nUm caption que termina antes.\n")
    assert main(["ingest", "--course", "ml"]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("course ml (portuguese): 2 segments in the index, ")
    assert "1 changed, 0 unchanged, 0 removed, 2 skipped (1 kept the version" in out
    err = err.replace(f"{in_tmp_dir}/", "")
    problems = [line for line in err.splitlines() if line.startswith("lectures/")]
    assert problems == [
        "lectures/transcripts/orphan.srt: no row for video_id 'orphan' in videos.csv: add one "
        "or rename the file",
        "lectures/transcripts/unet0000001.srt:1: expected a cue: an optional id line then "
        "'00:00:01,000 --> 00:00:04,000' (kept the version indexed earlier)",
        "lectures/transcripts/drop0000002.srt:6: warning: end 00:01:42.000 is before start "
        "00:01:45.000 (repaired: the cue now ends where it starts)",
    ]
    assert err.endswith("error: 2 file(s) skipped (listed above): fix them and ingest again; "
                        "the rest was indexed\n")  # fmt: skip

    assert main(["ingest", "--all", "--quiet"]) == 1  # quiet: the skipped files only
    out, err = capsys.readouterr()
    assert out == "" and "warning" not in err
    err = err.replace(f"{in_tmp_dir}/", "")
    assert [line.split(":")[0] for line in err.splitlines()] == [
        "lectures/transcripts/orphan.srt",
        "lectures/transcripts/unet0000001.srt",
        "error",
    ]


@pytest.mark.slow
def test_ingest_quiet_in_a_real_process_prints_only_the_skipped_file(in_tmp_dir: Path) -> None:
    courses = _course_file(in_tmp_dir)
    (in_tmp_dir / "lectures" / "transcripts" / "orphan.srt").write_text("1\n", encoding="utf-8")
    env = {**os.environ, "COURSES_FILE": str(courses), "LOG_LEVEL": "INFO", "PYTHONPATH": ROOT}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "ingest", "--all", "--quiet"],
        cwd=in_tmp_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.replace(f"{in_tmp_dir}/", "").splitlines() == [
        "lectures/transcripts/orphan.srt: no row for video_id 'orphan' in videos.csv: add one "
        "or rename the file",
        "error: 1 file(s) skipped (listed above): fix them and ingest again; the rest was indexed",
    ]  # no log lines, no progress bar


def test_the_ingest_summary_lists_the_first_problems_for_a_chat_reply() -> None:
    warnings = [
        InputError(
            Path(f"t/v{n}.vtt"), n, "cue ends before it starts (repaired)", severity="warning"
        )
        for n in range(1, 6)
    ]
    report = IngestReport(added=["v1"], segments=4, warnings=warnings)

    line = summarise_ingest(report)
    assert line.startswith("4 segments in the index, 0 parts embedded now; 1 new,")
    assert ", 5 warning(s): t/v1.vtt:1: warning: cue ends" in line and "t/v3.vtt:3" in line
    assert "t/v4.vtt" not in line and line.endswith("; …")
    assert summarise_ingest(report, max_problems=0) == report.summary()


def test_report_for_an_unknown_course_is_an_error_naming_the_known_ones(
    in_tmp_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COURSES_FILE", str(_course_file(in_tmp_dir)))
    assert main(["report", "--course", "nope"]) == 2
    assert (
        capsys.readouterr().err
        == "error: unknown course 'nope': the courses are 'ml' (yours go in COURSES_FILE)\n"
    )
    assert main(["report", "--course", "ml"]) == 0  # known, nothing logged yet
    assert "no interactions for course 'ml'" in capsys.readouterr().err


def test_freezing_the_startup_heap_hides_it_from_later_collections() -> None:
    leftover = [[n] for n in range(1000)]  # start-up objects, still referenced
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() >= len(leftover)
    finally:
        gc.unfreeze()
