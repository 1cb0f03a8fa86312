"""How fast the judge worker works through a backlog of pending judgements.

    python benchmarks/judge_throughput.py [--jobs 500] [--delay 1.0] [--concurrency 4]

Target (issue): 500 pending judgements against a judge that takes 1 s each, at concurrency 4,
are done in about 500 x 1 / 4 = 125 s, not capped by a sweep interval (the clock's former
sweep of 8 jobs every 30 s judged at most 16 a minute: 500 took over half an hour).

Set-up: a temporary SQLite store holding ``--jobs`` answered interactions, each with its
pending judge job (as ``AssistantService.ask`` leaves them). The real ``JudgeWorker.run``
(the worker process's loop, default options but ``--concurrency``) judges them with a fake
judge that answers Answer Relevance after ``--delay`` seconds (``asyncio.sleep``: no CPU,
like waiting on Claude). The wall time runs from the start of ``run`` until the store shows
every job done; the store is polled every 0.1 s for that.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import Verdict, machine_note, print_summary
from bot.judge import JudgeOptions, JudgeWorker
from bot.judge_prompts import JudgeVerdict
from bot.store import SqlStore, open_store
from bot.store.schema import jobs
from tests.fakes.values import interaction

OLD_SWEEP_S, OLD_BATCH = 30.0, 8  # the clock's former judge sweep
TOLERANCE = 1.10  # what "about jobs x delay / concurrency" allows


class SlowJudge:
    """Answer Relevance 3 after ``delay_s``; counts the calls in flight."""

    model = "fake-judge"

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.in_flight = 0
        self.peak_in_flight = 0

    async def answer_relevance(self, question: str, answer: str) -> JudgeVerdict:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        return JudgeVerdict(3, "The answer addresses the question.", "It does.")

    async def context_relevance(self, question: str, segment_text: str) -> JudgeVerdict:
        raise AssertionError("the benchmark judges answer relevance only")

    async def groundedness(self, answer: str, cited_texts: Sequence[str]) -> JudgeVerdict:
        raise AssertionError("the benchmark judges answer relevance only")


def done_jobs(store: SqlStore) -> int:
    query = sa.select(sa.func.count()).select_from(jobs).where(jobs.c.status == "done")
    with store.db.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


async def judge_backlog(store: SqlStore, judge: SlowJudge, total: int, concurrency: int) -> float:
    """Seconds from the start of the worker's loop until every job is done."""
    worker = JudgeWorker(store, judge, "bench", JudgeOptions(concurrency=concurrency))
    started = time.perf_counter()
    running = asyncio.create_task(worker.run())
    try:
        while await asyncio.to_thread(done_jobs, store) < total:
            if running.done():
                running.result()  # the loop ended: say why
            await asyncio.sleep(0.1)
        return time.perf_counter() - started
    finally:
        running.cancel()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--delay", type=float, default=1.0, help="seconds per verdict")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)

    print(f"machine: {machine_note()}")
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{folder}/judge.db")
        try:
            for n in range(args.jobs):  # answered, each with its pending judge job
                store.save_interaction(interaction(f"01JBENCH{n:018d}"))
            judge = SlowJudge(args.delay)
            wall = asyncio.run(judge_backlog(store, judge, args.jobs, args.concurrency))
        finally:
            store.close()

    ideal = args.jobs * args.delay / args.concurrency
    old_cap = OLD_BATCH * 60 / OLD_SWEEP_S
    per_minute = args.jobs / wall * 60
    print(
        f"{args.jobs} judgements, {args.delay:g} s each, concurrency {args.concurrency}: "
        f"wall {wall:.1f} s (ideal {ideal:.1f} s), {per_minute:.1f} jobs/minute "
        f"(the former 30 s sweep of 8: at most {old_cap:.0f}/minute), "
        f"peak verdicts in flight {judge.peak_in_flight}"
    )
    print_summary(
        "judge throughput",
        [
            Verdict(
                f"about {ideal:.1f} s (<= {ideal * TOLERANCE:.1f} s)",
                f"{wall:.1f} s, {per_minute:.1f} jobs/minute",
                wall <= ideal * TOLERANCE,
            ),
            Verdict(
                f"{args.concurrency} verdicts in flight at most",
                f"{judge.peak_in_flight}",
                judge.peak_in_flight == args.concurrency,
            ),
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
